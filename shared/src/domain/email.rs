//! E-mail addresses.
//!
//! An [`Email`] can only be built by [`Email::parse`], so every value of the type is
//! trimmed, lower-cased and plausibly deliverable. The rules are deliberately stricter
//! than RFC 5322: quoted local parts, comments and address lists are legal there but
//! are how header-injection and look-alike tricks get in, and no real user needs them.
//!
//! An address is personal data: `Debug` never prints it (so a `{:?}` in a log line or a
//! panic message cannot leak it), and the global sign-in lookup key is a keyed hash of
//! it ([`lookup_hash`]), never the address itself.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// RFC 5321's limit on a forward path, the whole address.
const MAX_ADDRESS_BYTES: usize = 254;
/// RFC 5321's limit on the local part.
const MAX_LOCAL_PART_BYTES: usize = 64;
/// Characters that delimit, quote or list addresses in mail headers.
const FORBIDDEN: &[char] = &['<', '>', '"', ',', ';'];

/// Why a text is not an accepted e-mail address. Messages never repeat the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the e-mail address is empty")]
    Empty,
    #[error("the e-mail address is longer than 254 bytes")]
    TooLong,
    #[error("the e-mail address must contain exactly one @")]
    NotExactlyOneAt,
    #[error("the part of the e-mail address before the @ is empty or longer than 64 bytes")]
    InvalidLocalPart,
    #[error("the domain of the e-mail address is not valid")]
    InvalidDomain,
    #[error(
        "the e-mail address contains a space, a control or invisible character, or one of < > \" , ;"
    )]
    ForbiddenCharacter,
}

/// A normalised (trimmed, lower-case) e-mail address.
/// Unicode format characters that print as nothing: bidirectional overrides and
/// isolates, zero-width spaces and joiners, the byte-order mark, the soft hyphen. In an
/// address they only serve to make two different addresses look alike (or to reorder
/// how one is displayed in a user list), so they are refused.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, EmailError> {
        // Lower-casing first: the limits apply to what is stored, and a few
        // characters change their UTF-8 length when lower-cased.
        let address = text.trim().to_lowercase();
        if address.is_empty() {
            return Err(EmailError::Empty);
        }
        if address.len() > MAX_ADDRESS_BYTES {
            return Err(EmailError::TooLong);
        }
        if address.chars().any(|c| {
            c.is_whitespace() || c.is_control() || is_invisible(c) || FORBIDDEN.contains(&c)
        }) {
            return Err(EmailError::ForbiddenCharacter);
        }
        let mut parts = address.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::NotExactlyOneAt);
        };
        if local.is_empty() || local.len() > MAX_LOCAL_PART_BYTES {
            return Err(EmailError::InvalidLocalPart);
        }
        // At least two labels and none empty: rejects `a@localhost`, `a@.com`,
        // `a@example.` and `a@example..com`.
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(EmailError::InvalidDomain);
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(redacted)")
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// The keyed hash behind the global lookup key `EMAIL#<hash>`: hex HMAC-SHA256 of the
/// normalised address under a server-side pepper. Without the pepper, a copy of the
/// table cannot be searched for a known address, nor the addresses guessed back.
pub fn lookup_hash(pepper: &[u8], email: &Email) -> String {
    // HMAC takes a key of any length (long keys are hashed first): this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(pepper) else {
        unreachable!("HMAC accepts a key of any length")
    };
    mac.update(email.as_str().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_trimmed_and_lower_cased() {
        let email = Email::parse("  Jane.Doe+Tally@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "jane.doe+tally@example.com");
        assert_eq!(email.to_string(), "jane.doe+tally@example.com");
    }

    #[test]
    fn lower_casing_is_unicode_aware() {
        let email = Email::parse("ÉLODIE@EXAMPLE.FR").unwrap();
        assert_eq!(email.as_str(), "élodie@example.fr");
    }

    #[test]
    fn an_empty_or_blank_address_is_refused() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse(" \t "), Err(EmailError::Empty));
    }

    #[test]
    fn an_address_must_have_exactly_one_at() {
        assert_eq!(
            Email::parse("jane.example.com"),
            Err(EmailError::NotExactlyOneAt)
        );
        assert_eq!(
            Email::parse("jane@doe@example.com"),
            Err(EmailError::NotExactlyOneAt)
        );
    }

    #[test]
    fn the_local_part_must_be_present_and_at_most_64_bytes() {
        assert_eq!(
            Email::parse("@example.com"),
            Err(EmailError::InvalidLocalPart)
        );
        let longest = format!("{}@example.com", "a".repeat(64));
        assert!(Email::parse(&longest).is_ok());
        let too_long = format!("{}@example.com", "a".repeat(65));
        assert_eq!(Email::parse(&too_long), Err(EmailError::InvalidLocalPart));
    }

    #[test]
    fn the_whole_address_is_at_most_254_bytes() {
        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63)
        );
        let fits = format!("{}@{domain}", "a".repeat(254 - 1 - domain.len()));
        assert_eq!(fits.len(), 254);
        assert!(Email::parse(&fits).is_ok());
        let too_long = format!("a{fits}");
        assert_eq!(Email::parse(&too_long), Err(EmailError::TooLong));
    }

    #[test]
    fn the_domain_needs_a_dot_and_no_empty_labels() {
        for bad in [
            "a@localhost",
            "a@",
            "a@.com",
            "a@example.",
            "a@example..com",
            "a@.",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::InvalidDomain), "{bad}");
        }
        assert!(Email::parse("a@mail.example.co.uk").is_ok());
    }

    #[test]
    fn whitespace_controls_and_header_delimiters_are_refused() {
        for bad in [
            "jane doe@example.com",
            "jane\u{0}@example.com",
            "jane@exa\tmple.com",
            "jane\u{00a0}x@example.com",
            "<jane@example.com>",
            "\"jane\"@example.com",
            "jane@example.com,eve@example.com",
            "jane@example.com;eve@example.com",
            "jane@example.com\r\nBcc: eve@example.com",
            "jane\u{202e}moc.elpmaxe@example.com",
            "ja\u{200b}ne@example.com",
            "jane@exam\u{200d}ple.com",
            "\u{feff}jane@example.com",
            "jane\u{2066}@example.com",
            "ja\u{00ad}ne@example.com",
        ] {
            assert_eq!(
                Email::parse(bad),
                Err(EmailError::ForbiddenCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_address() {
        let email = Email::parse("jane@example.com").unwrap();
        assert_eq!(format!("{email:?}"), "Email(redacted)");
        assert_eq!(format!("{:?}", Some(&email)), "Some(Email(redacted))");
    }

    #[test]
    fn error_messages_never_repeat_the_input() {
        let input = "secret.person@@example.com";
        let message = Email::parse(input).unwrap_err().to_string();
        assert!(!message.contains("secret.person"), "{message}");
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let email = Email::parse("jane@example.com").unwrap();
        let json = serde_json::to_string(&email).unwrap();
        assert_eq!(json, "\"jane@example.com\"");
        assert_eq!(serde_json::from_str::<Email>(&json).unwrap(), email);
        assert!(serde_json::from_str::<Email>("\"not an address\"").is_err());
        let normalised: Email = serde_json::from_str("\"JANE@example.com\"").unwrap();
        assert_eq!(normalised, email);
    }

    #[test]
    fn the_lookup_hash_is_keyed_and_ignores_case() {
        let lower = Email::parse("jane@example.com").unwrap();
        let upper = Email::parse("JANE@EXAMPLE.COM").unwrap();
        let hash = lookup_hash(b"pepper-one", &lower);
        assert_eq!(hash, lookup_hash(b"pepper-one", &upper));
        assert_eq!(hash.len(), 64);
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(hash, lookup_hash(b"pepper-two", &lower));
        let other = Email::parse("john@example.com").unwrap();
        assert_ne!(hash, lookup_hash(b"pepper-one", &other));
        assert!(!hash.contains("jane"));
    }

    #[test]
    fn the_lookup_hash_is_hex_hmac_sha256_of_the_normalised_address() {
        // Computed independently: Python's hmac.new(b"pepper", b"jane@example.com", sha256).
        let email = Email::parse(" Jane@Example.com").unwrap();
        assert_eq!(
            lookup_hash(b"pepper", &email),
            "1c5ece9926f32bef590b87b49319d5e7d6e8b7dbae3b7426e430de74a20134c0"
        );
    }
}
