use super::*;
use PasswordRule::*;

const DEFAULT: PasswordPolicy = PasswordPolicy {
    preset: PolicyPreset::Default,
};
const NIST: PasswordPolicy = PasswordPolicy {
    preset: PolicyPreset::Nist,
};

#[test]
fn a_password_meeting_every_rule_is_accepted() {
    assert_eq!(DEFAULT.check("Tr0ub4dor&3-horse"), Ok(()));
    assert_eq!(NIST.check("purple monkey dishwasher"), Ok(()));
}

#[test]
fn a_password_breaking_every_rule_lists_every_rule() {
    // Too short and too long exclude each other, and no common password lacks every
    // character class, so these three between them show each rule listed with others.
    assert_eq!(
        DEFAULT.check(""),
        Err(vec![
            TooShort { min: 12 },
            NeedsUppercase,
            NeedsLowercase,
            NeedsDigit,
            NeedsSymbol
        ])
    );
    assert_eq!(
        DEFAULT.check("password"),
        Err(vec![
            TooShort { min: 12 },
            NeedsUppercase,
            NeedsDigit,
            NeedsSymbol,
            Common
        ])
    );
    let too_long = "a".repeat(129);
    assert_eq!(
        DEFAULT.check(&too_long),
        Err(vec![
            TooLong { max: 128 },
            NeedsUppercase,
            NeedsDigit,
            NeedsSymbol
        ])
    );
}

#[test]
fn each_composition_rule_is_reported_alone() {
    assert_eq!(DEFAULT.check("lowercase-only-1"), Err(vec![NeedsUppercase]));
    assert_eq!(DEFAULT.check("UPPERCASE-ONLY-1"), Err(vec![NeedsLowercase]));
    assert_eq!(DEFAULT.check("No-Digits-Here!"), Err(vec![NeedsDigit]));
    assert_eq!(DEFAULT.check("NoSymbolsHere12"), Err(vec![NeedsSymbol]));
}

#[test]
fn the_default_preset_asks_for_twelve_characters() {
    assert_eq!(
        DEFAULT.check("Abcdefgh1!x"),
        Err(vec![TooShort { min: 12 }])
    );
    assert_eq!(DEFAULT.check("Abcdefgh1!xy"), Ok(()));
}

#[test]
fn at_most_128_characters_under_every_preset() {
    for policy in [DEFAULT, NIST] {
        let longest = format!("Aa1!{}", "x".repeat(124));
        assert_eq!(policy.check(&longest), Ok(()));
        let too_long = format!("{longest}y");
        assert_eq!(policy.check(&too_long), Err(vec![TooLong { max: 128 }]));
    }
}

#[test]
fn length_counts_characters_not_bytes() {
    // Thirteen characters (17 bytes): long enough.
    let accented = "Éléphant-été1";
    assert!(accented.len() > 12);
    assert_eq!(DEFAULT.check(accented), Ok(()));
    // Eleven characters of two bytes each: too short even though it is 22 bytes.
    assert_eq!(
        DEFAULT.check("Ééééééééé1!"),
        Err(vec![TooShort { min: 12 }])
    );
    // 128 four-byte characters fit the maximum.
    let emoji = format!("Aa1{}", "🔑".repeat(125));
    assert_eq!(NIST.check(&emoji), Ok(()));
}

#[test]
fn character_classes_are_unicode_aware() {
    // Greek upper and lower, an Arabic-Indic digit, a non-ASCII symbol.
    assert_eq!(DEFAULT.check("ΑΒΓδεζηθ٣§xx"), Ok(()));
}

#[test]
fn spaces_are_allowed_but_are_not_a_symbol() {
    assert_eq!(DEFAULT.check("Purple Monkey 12"), Err(vec![NeedsSymbol]));
    assert_eq!(DEFAULT.check("Purple Monkey 12!"), Ok(()));
}

#[test]
fn a_common_password_is_refused_whatever_its_case() {
    assert!(is_common("password1"));
    assert!(is_common("PassWord1"));
    assert!(is_common("QWERTYUIOP"));
    assert!(!is_common("not in any list, surely"));
    assert_eq!(NIST.check("1QAZ2WSX3EDC4RFV"), Err(vec![Common]));
    assert_eq!(NIST.check("1qaz2wsx3edc4rfv"), Err(vec![Common]));
}

#[test]
fn the_nist_preset_drops_composition_but_keeps_the_blocklist() {
    assert!(!NIST.requires_composition());
    assert_eq!(NIST.check("all lower case words"), Ok(()));
    assert_eq!(NIST.check("123456789987654321"), Err(vec![Common]));
    assert_eq!(NIST.check("short"), Err(vec![TooShort { min: 15 }]));
    assert_eq!(
        NIST.check("fourteen chars"),
        Err(vec![TooShort { min: 15 }])
    );
}

#[test]
fn the_blocklist_has_at_least_ten_thousand_entries() {
    assert!(
        COMMON_PASSWORDS.len() >= 10_000,
        "{}",
        COMMON_PASSWORDS.len()
    );
    // The source note is a comment, not an entry; entries are stored lower-cased.
    assert!(
        COMMON_PASSWORDS
            .iter()
            .all(|p| !p.starts_with('#') && *p == p.to_lowercase())
    );
    assert!(COMMON_PASSWORDS_TXT.starts_with("# source: "));
    let first = COMMON_PASSWORDS_TXT.lines().find(|l| !l.starts_with('#'));
    assert_eq!(first, Some("123456"), "most common first");
}

#[test]
fn presets_differ_in_length_composition_and_expiry() {
    assert_eq!((DEFAULT.min_length(), NIST.min_length()), (12, 15));
    assert_eq!((DEFAULT.max_length(), NIST.max_length()), (128, 128));
    assert!(DEFAULT.requires_composition());
    assert_eq!(DEFAULT.expires_after(), Some(chrono::Duration::days(180)));
    assert_eq!(NIST.expires_after(), None);
    assert_eq!((DEFAULT.history_depth(), NIST.history_depth()), (5, 5));
    assert_eq!(PasswordPolicy::default(), DEFAULT);
}

#[test]
fn a_default_password_expires_180_days_after_it_was_set() {
    let set_at = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let expected = chrono::DateTime::parse_from_rfc3339("2026-06-30T00:00:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(DEFAULT.expires_at(set_at), Some(expected));
    assert_eq!(NIST.expires_at(set_at), None);
}

#[test]
fn presets_serialize_in_lower_case() {
    assert_eq!(
        serde_json::to_string(&PolicyPreset::Default).unwrap(),
        "\"default\""
    );
    assert_eq!(
        serde_json::to_string(&PolicyPreset::Nist).unwrap(),
        "\"nist\""
    );
    assert_eq!(
        serde_json::from_str::<PolicyPreset>("\"nist\"").unwrap(),
        PolicyPreset::Nist
    );
    assert!(serde_json::from_str::<PolicyPreset>("\"NIST\"").is_err());
    let policy: PasswordPolicy = serde_json::from_str(r#"{"preset":"default"}"#).unwrap();
    assert_eq!(policy, DEFAULT);
}

#[test]
fn every_rule_has_a_snake_case_code_and_a_message() {
    let rules = [
        TooShort { min: 12 },
        TooLong { max: 128 },
        NeedsUppercase,
        NeedsLowercase,
        NeedsDigit,
        NeedsSymbol,
        Common,
    ];
    let codes: Vec<_> = rules.iter().map(PasswordRule::code).collect();
    assert_eq!(
        codes,
        [
            "too_short",
            "too_long",
            "needs_uppercase",
            "needs_lowercase",
            "needs_digit",
            "needs_symbol",
            "common"
        ]
    );
    assert!(rules.iter().all(|r| !r.message().is_empty()));
    assert!(TooShort { min: 12 }.message().contains("12"));
    assert!(TooLong { max: 128 }.message().contains("128"));
}

#[test]
fn an_accepted_password_is_wrapped_and_never_debug_printed() {
    let secret = "Tr0ub4dor&3-horse";
    let accepted = DEFAULT.accept(SecretString::from(secret)).unwrap();
    assert_eq!(accepted.expose_secret(), secret);
    assert_eq!(format!("{accepted:?}"), "NewPassword(redacted)");
    let refused = DEFAULT.accept(SecretString::from("password")).unwrap_err();
    assert!(refused.contains(&Common));
    assert!(!format!("{refused:?}").contains("password"));
}
