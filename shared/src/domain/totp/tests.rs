use super::*;

/// The RFC 4226 / RFC 6238 SHA-1 seed.
fn rfc_seed() -> TotpSecret {
    TotpSecret::from_bytes(*b"12345678901234567890")
}

#[test]
fn rfc_6238_appendix_b_sha1_vectors() {
    let secret = rfc_seed();
    for (time, code) in [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ] {
        assert_eq!(
            code_for_step(&secret, time / 30, 8).as_deref(),
            Some(code),
            "t={time}"
        );
        assert_eq!(
            verify_with_digits(&secret, code, time, 8),
            Some(time / 30),
            "t={time}"
        );
    }
}

#[test]
fn rfc_4226_appendix_d_vectors() {
    let secret = rfc_seed();
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, code) in expected.iter().enumerate() {
        let counter = counter as u64;
        assert_eq!(
            code_for_step(&secret, counter, 6).as_deref(),
            Some(*code),
            "counter {counter}"
        );
        assert_eq!(
            verify(&secret, code, counter * 30 + 15),
            Some(counter),
            "counter {counter}"
        );
    }
}

#[test]
fn a_code_is_accepted_one_step_either_side_and_returns_its_step() {
    let secret = TotpSecret::generate();
    let now = 1_700_000_015;
    let step = now / 30;
    let code = code_at(&secret, now);
    assert_eq!(verify(&secret, &code, now), Some(step));
    assert_eq!(verify(&secret, &code, now + 30), Some(step), "a step late");
    assert_eq!(verify(&secret, &code, now - 30), Some(step), "a step early");
}

#[test]
fn a_code_two_steps_away_is_refused() {
    let secret = rfc_seed();
    // RFC 4226's codes for counters 0..=6 are all distinct, so only step 3 matches.
    let code = code_for_step(&secret, 3, 6).unwrap();
    assert_eq!(code, "969429");
    assert_eq!(verify(&secret, &code, 5 * 30), None, "two steps late");
    assert_eq!(verify(&secret, &code, 30), None, "two steps early");
    assert_eq!(verify(&secret, &code, 4 * 30 + 29), Some(3));
}

#[test]
fn the_returned_step_lets_the_caller_refuse_reuse() {
    let secret = TotpSecret::generate();
    let now = 1_700_000_000;
    let first = verify(&secret, &code_at(&secret, now), now).unwrap();
    // The same code a few seconds later matches the same step: the caller refuses it.
    let again = verify(&secret, &code_at(&secret, now), now + 5).unwrap();
    assert!(again <= first);
    // The next step's code matches a later step: accepted.
    let next = verify(&secret, &code_at(&secret, now + 30), now + 30).unwrap();
    assert!(next > first);
}

#[test]
fn codes_that_are_not_six_ascii_digits_are_refused() {
    let secret = rfc_seed();
    let now = 15; // step 0: "755224"
    assert_eq!(verify(&secret, "755224", now), Some(0));
    for bad in [
        "",
        "75522",
        "7552240",
        " 755224",
        "755224 ",
        "+55224",
        "75522a",
        "７５５２２４",
        "755-224",
    ] {
        assert_eq!(verify(&secret, bad, now), None, "{bad:?}");
    }
}

#[test]
fn verification_survives_the_ends_of_time() {
    let secret = rfc_seed();
    assert_eq!(verify(&secret, "755224", 0), Some(0));
    assert_eq!(verify(&secret, "000000", u64::MAX), None);
}

#[test]
fn a_secret_round_trips_through_base32() {
    let secret = TotpSecret::generate();
    let text = secret.to_base32();
    assert_eq!(text.len(), 32);
    assert!(
        text.chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
    );
    let back = TotpSecret::from_base32(&text).unwrap();
    assert_eq!(back.expose_bytes(), secret.expose_bytes());
    assert_eq!(rfc_seed().to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

#[test]
fn a_secret_of_the_wrong_length_or_alphabet_is_refused() {
    assert_eq!(
        TotpSecret::from_base32("GEZDGNBVGY3TQOJQ").err(),
        Some(TotpSecretError::Invalid)
    );
    assert_eq!(
        TotpSecret::from_base32("not base32!").err(),
        Some(TotpSecretError::Invalid)
    );
    assert_eq!(
        TotpSecret::from_base32("").err(),
        Some(TotpSecretError::Invalid)
    );
}

#[test]
fn two_generated_secrets_differ() {
    assert_ne!(
        TotpSecret::generate().expose_bytes(),
        TotpSecret::generate().expose_bytes()
    );
}

#[test]
fn a_secret_never_debug_prints() {
    let secret = rfc_seed();
    assert_eq!(format!("{secret:?}"), "TotpSecret(redacted)");
}

#[test]
fn the_otpauth_uri_names_issuer_account_and_secret() {
    let secret = rfc_seed();
    let uri = otpauth_uri(&secret, ISSUER, "jane@example.com");
    assert!(
        uri.starts_with("otpauth://totp/Tally:jane%40example.com?"),
        "{uri}"
    );
    assert!(
        uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
        "{uri}"
    );
    assert!(uri.contains("issuer=Tally"), "{uri}");
    // Defaults (SHA1, 6 digits, 30 s) are implied; apps read absent as default.
    assert!(
        !uri.contains("algorithm=") || uri.contains("algorithm=SHA1"),
        "{uri}"
    );
    let parsed = Totp::from_url(&uri).unwrap();
    assert_eq!(
        (parsed.digits(), parsed.step(), parsed.algorithm()),
        (6, 30, Algorithm::SHA1)
    );
}

#[test]
fn the_otpauth_uri_survives_a_colon_in_the_account() {
    let uri = otpauth_uri(&rfc_seed(), ISSUER, "odd:name@example.com");
    assert!(
        uri.starts_with("otpauth://totp/Tally:odd_name%40example.com?"),
        "{uri}"
    );
    let uri = otpauth_uri(&rfc_seed(), ISSUER, "");
    assert!(
        uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
        "{uri}"
    );
}
