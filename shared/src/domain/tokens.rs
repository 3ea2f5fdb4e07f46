//! Bearer tokens and recovery codes.
//!
//! Session, reset, invite and change tokens are 256 random bits from the OS source:
//! unguessable, so they need no slow hash — only a SHA-256 of each is stored
//! ([`token_hash`]), and a copy of the table yields nothing that can be presented.
//!
//! Recovery codes are typed by people, so they are shorter (60 bits) and use an
//! alphabet without look-alikes; they are normalised before hashing so that case,
//! dashes and spaces do not matter.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::domain::crypto::random_bytes;

/// How many recovery codes a user gets when enabling two-factor sign-in.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Digits 2–9 and letters without I and O: no 0/O or 1/I/l to confuse.
/// 32 symbols, so each carries 5 bits and a random byte masked to 5 bits is unbiased.
const RECOVERY_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Three groups of four: 12 symbols × 5 bits = 60 bits.
const RECOVERY_GROUPS: usize = 3;
const RECOVERY_GROUP_LEN: usize = 4;

/// A fresh 256-bit bearer token, base64url without padding (43 characters).
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// What is stored for a token: its SHA-256, lower-case hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Ten fresh recovery codes, each like `K7QM-2XHD-94TP`. Shown once, stored hashed
/// with [`recovery_code_hash`].
pub fn recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODE_COUNT).map(|_| recovery_code()).collect()
}

fn recovery_code() -> String {
    let bytes = random_bytes::<{ RECOVERY_GROUPS * RECOVERY_GROUP_LEN }>();
    let symbols: Vec<char> = bytes
        .iter()
        .map(|byte| char::from(RECOVERY_ALPHABET[usize::from(byte & 0x1f)]))
        .collect();
    symbols
        .chunks(RECOVERY_GROUP_LEN)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The canonical form of a recovery code as a person may type it: upper-case, with
/// dashes and whitespace removed. This, not the typed text, is what gets hashed.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

/// What was stored for a recovery code before issue 17: [`token_hash`] of its
/// normalised form. Still accepted for codes issued then (they cannot be hashed again
/// without the codes themselves); new codes are stored with [`keyed_recovery_code_hash`].
pub fn recovery_code_hash(code: &str) -> String {
    token_hash(&normalize_recovery_code(code))
}

/// The label a tenant's recovery-code key is derived under from its data key.
const RECOVERY_KEY_LABEL: &[u8] = b"tally/recovery-codes/v1";

/// What is stored for a recovery code: an HMAC-SHA256 of its normalised form under a
/// key derived from the tenant's data key (`key` is that data key). A copy of the table
/// alone does not let anyone test guesses against it, and a shredded tenant's codes
/// cannot be tested at all. Marked `hmac:` so that older bare hashes are told apart.
pub fn keyed_recovery_code_hash(data_key: &[u8], code: &str) -> String {
    keyed_recovery_code_hash_with(&recovery_code_key(data_key), code)
}

/// The recovery-code key derived from a data key (hex): one way, so it can be kept
/// after that data key is rotated and destroyed without keeping the key itself.
pub fn recovery_code_key(data_key: &[u8]) -> String {
    crate::domain::crypto::keyed_hash(data_key, RECOVERY_KEY_LABEL)
}

/// [`keyed_recovery_code_hash`] under a recovery-code key already derived.
pub fn keyed_recovery_code_hash_with(recovery_key: &str, code: &str) -> String {
    let mac = crate::domain::crypto::keyed_hash(
        recovery_key.as_bytes(),
        normalize_recovery_code(code).as_bytes(),
    );
    format!("hmac:{mac}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_token_carries_256_random_bits_in_base64url() {
        let token = new_token();
        assert_eq!(token.len(), 43);
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
    }

    #[test]
    fn tokens_do_not_repeat() {
        let tokens: HashSet<String> = (0..1000).map(|_| new_token()).collect();
        assert_eq!(tokens.len(), 1000);
    }

    #[test]
    fn the_token_hash_is_hex_sha256() {
        // FIPS 180-2 example: SHA-256("abc").
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = new_token();
        assert_eq!(token_hash(&token), token_hash(&token));
        assert_ne!(token_hash(&token), token_hash(&new_token()));
        assert!(!token_hash(&token).contains(&token));
    }

    #[test]
    fn ten_recovery_codes_of_three_groups_of_four() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), 10);
        for code in &codes {
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 3, "{code}");
            assert!(groups.iter().all(|g| g.len() == 4), "{code}");
        }
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10);
    }

    #[test]
    fn recovery_codes_avoid_look_alike_characters() {
        let all: String = (0..20).flat_map(|_| recovery_codes()).collect();
        assert!(!all.contains(['0', 'O', '1', 'I', 'l', 'o']), "{all}");
        assert!(
            all.chars()
                .all(|c| c == '-' || RECOVERY_ALPHABET.contains(&(c as u8)))
        );
    }

    #[test]
    fn recovery_codes_carry_at_least_60_bits() {
        let alphabet_bits = (RECOVERY_ALPHABET.len() as f64).log2();
        let symbols = RECOVERY_GROUPS * RECOVERY_GROUP_LEN;
        assert!(alphabet_bits * symbols as f64 >= 60.0);
        assert_eq!(RECOVERY_ALPHABET.iter().collect::<HashSet<_>>().len(), 32);
        // Every symbol of the alphabet shows up: the mask reaches all 32.
        let all: String = (0..50).flat_map(|_| recovery_codes()).collect();
        assert!(
            RECOVERY_ALPHABET
                .iter()
                .all(|s| all.contains(char::from(*s)))
        );
    }

    #[test]
    fn a_recovery_code_is_recognised_whatever_its_case_dashes_or_spaces() {
        let code = "K7QM-2XHD-94TP";
        assert_eq!(normalize_recovery_code(code), "K7QM2XHD94TP");
        for typed in [
            "k7qm-2xhd-94tp",
            "K7QM2XHD94TP",
            " k7qm 2xhd 94tp ",
            "K7QM-2XHD 94tp\n",
        ] {
            assert_eq!(normalize_recovery_code(typed), "K7QM2XHD94TP", "{typed:?}");
            assert_eq!(
                recovery_code_hash(typed),
                recovery_code_hash(code),
                "{typed:?}"
            );
        }
        assert_eq!(recovery_code_hash(code), token_hash("K7QM2XHD94TP"));
        let keyed = keyed_recovery_code_hash(&[7; 32], code);
        assert!(keyed.starts_with("hmac:"));
        assert_eq!(keyed, keyed_recovery_code_hash(&[7; 32], "k7qm 2xhd 94tp"));
        assert_ne!(
            keyed,
            keyed_recovery_code_hash(&[8; 32], code),
            "per tenant"
        );
        assert!(!keyed.contains(&recovery_code_hash(code)));
        assert_ne!(
            recovery_code_hash("K7QM-2XHD-94TQ"),
            recovery_code_hash(code)
        );
    }
}
