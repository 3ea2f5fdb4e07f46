//! Authenticated encryption of stored values (docs/design.md §3).
//!
//! Every business attribute is sealed with AES-256-GCM under its tenant's data key, with
//! a fresh random 96-bit nonce, and with associated data that binds the value to where
//! it is stored: table, partition key and sort key. A sealed value copied to another
//! item or another tenant therefore fails to open, as does any changed byte.
//!
//! Sealed format: `0x01 | nonce (12 bytes) | ciphertext | tag (16 bytes)` under a
//! tenant's first data key (generation 0); after a key rotation (issue 17, finding 10)
//! `0x02 | generation (u32, big-endian) | nonce | ciphertext | tag` under the key of that
//! generation, the generation bound into the associated data too. A reader learns from
//! the value alone which of the tenant's keys opens it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;
const GENERATION_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A plain 256-bit data key. Lives in memory only: zeroized on drop, never printed.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }
    /// Takes a key from a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(Self::from_bytes(array))
    }
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_bytes(random_bytes::<32>())
    }
    /// The raw key, for key-wrapping adapters only.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(redacted)")
    }
}

/// Where a sealed value is stored; bound into its associated data.
#[derive(Clone, Copy, Debug)]
pub struct SealedAt<'a> {
    pub table: &'a str,
    pub pk: &'a str,
    pub sk: &'a str,
}

impl SealedAt<'_> {
    fn associated_data(&self) -> Vec<u8> {
        length_prefixed(b"tally-item-v1", &[self.table, self.pk, self.sk])
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// Tampered, truncated, sealed for another place, or under another key.
    #[error("the sealed value does not open")]
    DoesNotOpen,
}

/// Seals `plaintext` for the item at `at` under a tenant's first key (generation 0).
pub fn seal(key: &DataKey, at: SealedAt<'_>, plaintext: &[u8]) -> Vec<u8> {
    encrypt(key, &at.associated_data(), plaintext)
}

/// Seals `plaintext` for the item at `at` under the key of `generation`; generation 0
/// is [`seal`]'s format, so values of tenants that never rotated are unchanged.
pub fn seal_generation(
    key: &DataKey,
    generation: u32,
    at: SealedAt<'_>,
    plaintext: &[u8],
) -> Vec<u8> {
    if generation == 0 {
        return seal(key, at, plaintext);
    }
    let header = generation_header(generation);
    let mut aad = at.associated_data();
    aad.extend_from_slice(&header);
    let inner = encrypt(key, &aad, plaintext);
    let mut out = Vec::with_capacity(inner.len() + GENERATION_LEN);
    out.extend_from_slice(&header);
    // `inner` starts with its own format byte: replaced by the generation header.
    out.extend_from_slice(&inner[1..]);
    out
}

/// `0x02 | generation`: the start of a value sealed under a later key.
fn generation_header(generation: u32) -> Vec<u8> {
    let mut header = vec![FORMAT_V2];
    header.extend_from_slice(&generation.to_be_bytes());
    header
}

/// Which generation of the tenant's keys sealed `sealed`; `None` for bytes of no
/// known format.
pub fn sealed_generation(sealed: &[u8]) -> Option<u32> {
    match *sealed.first()? {
        FORMAT_V1 => Some(0),
        FORMAT_V2 => {
            let bytes: [u8; GENERATION_LEN] = sealed.get(1..1 + GENERATION_LEN)?.try_into().ok()?;
            Some(u32::from_be_bytes(bytes))
        }
        _ => None,
    }
}

/// Opens a value sealed by [`seal`] or [`seal_generation`] for the same item, under
/// the key of the generation it names (the caller picks it by [`sealed_generation`]).
pub fn open(
    key: &DataKey,
    at: SealedAt<'_>,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    match sealed.first() {
        Some(&FORMAT_V2) => {
            let header = sealed
                .get(..1 + GENERATION_LEN)
                .ok_or(SealError::DoesNotOpen)?;
            let mut aad = at.associated_data();
            aad.extend_from_slice(header);
            let mut inner = vec![FORMAT_V1];
            inner.extend_from_slice(&sealed[1 + GENERATION_LEN..]);
            decrypt(key, &aad, &inner)
        }
        _ => decrypt(key, &at.associated_data(), sealed),
    }
}

/// AES-256-GCM with a random nonce and caller-chosen associated data.
pub fn encrypt(key: &DataKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.expose_bytes().into());
    let nonce_bytes = random_bytes::<NONCE_LEN>();
    let nonce = Nonce::from(nonce_bytes);
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encrypts any input under 64 GiB; request bodies are capped at 64 KiB");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ciphertext);
    out
}

/// Opens what [`encrypt`] produced under the same key and associated data.
pub fn decrypt(key: &DataKey, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != FORMAT_V1 {
        return Err(SealError::DoesNotOpen);
    }
    let (nonce_bytes, ciphertext) = sealed[1..].split_at(NONCE_LEN);
    let nonce_array: [u8; NONCE_LEN] =
        nonce_bytes.try_into().map_err(|_| SealError::DoesNotOpen)?;
    let cipher = Aes256Gcm::new(key.expose_bytes().into());
    cipher
        .decrypt(
            &Nonce::from(nonce_array),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| SealError::DoesNotOpen)
}

/// `label` then each part as a 4-byte big-endian length and its bytes: no two
/// different part lists encode alike.
pub fn length_prefixed(label: &[u8], parts: &[&str]) -> Vec<u8> {
    let mut out = label.to_vec();
    for part in parts {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Hex HMAC-SHA256 of `data` under `key`: the keyed hash behind global lookups, so a
/// leaked table does not reveal which e-mails or addresses it indexes.
pub fn keyed_hash(key: &[u8], data: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether two byte strings are equal, in a time that depends on their lengths only
/// (for comparing a secret a client sent against the one expected).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS random source failing is not recoverable: refusing to run beats weak keys.
    if getrandom::fill(&mut bytes).is_err() {
        panic!("the operating system's random source is unavailable");
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"state-1", b"state-1"));
        assert!(!constant_time_eq(b"state-1", b"state-2"));
        assert!(!constant_time_eq(b"state", b"state-1"));
        assert!(constant_time_eq(b"", b""));
    }

    fn at<'a>(pk: &'a str, sk: &'a str) -> SealedAt<'a> {
        SealedAt {
            table: "tally",
            pk,
            sk,
        }
    }

    #[test]
    fn a_sealed_value_opens_where_it_was_sealed() {
        let key = DataKey::generate();
        let sealed = seal(&key, at("TENANT#a", "CUST#1"), b"jane@example.com");
        let opened = open(&key, at("TENANT#a", "CUST#1"), &sealed).unwrap();
        assert_eq!(opened.as_slice(), b"jane@example.com");
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let key = DataKey::generate();
        let one = seal(&key, at("TENANT#a", "CUST#1"), b"same");
        let two = seal(&key, at("TENANT#a", "CUST#1"), b"same");
        assert_ne!(one, two, "a fresh nonce per seal");
        assert_ne!(one[1..13], two[1..13]);
    }

    #[test]
    fn every_tampered_byte_fails_to_open() {
        let key = DataKey::generate();
        let sealed = seal(&key, at("TENANT#a", "CUST#1"), b"jane@example.com");
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert_eq!(
                open(&key, at("TENANT#a", "CUST#1"), &tampered),
                Err(SealError::DoesNotOpen),
                "byte {i}"
            );
        }
        assert!(open(&key, at("TENANT#a", "CUST#1"), &sealed[..sealed.len() - 1]).is_err());
    }

    #[test]
    fn a_value_copied_to_another_item_table_or_tenant_does_not_open() {
        let key = DataKey::generate();
        let sealed = seal(&key, at("TENANT#a", "CUST#1"), b"jane@example.com");
        assert!(open(&key, at("TENANT#a", "CUST#2"), &sealed).is_err());
        assert!(open(&key, at("TENANT#b", "CUST#1"), &sealed).is_err());
        let other_table = SealedAt {
            table: "other",
            pk: "TENANT#a",
            sk: "CUST#1",
        };
        assert!(open(&key, other_table, &sealed).is_err());
        assert!(open(&DataKey::generate(), at("TENANT#a", "CUST#1"), &sealed).is_err());
    }

    #[test]
    fn key_boundaries_cannot_be_shifted_between_parts() {
        let key = DataKey::generate();
        let sealed = seal(&key, at("TENANT#ab", "c"), b"x");
        assert!(open(&key, at("TENANT#a", "bc"), &sealed).is_err());
    }

    #[test]
    fn a_value_sealed_under_a_later_generation_names_it_and_opens_only_under_that_key() {
        let old = DataKey::generate();
        let new = DataKey::generate();
        let legacy = seal(&old, at("TENANT#a", "CUST#1"), b"x");
        assert_eq!(sealed_generation(&legacy), Some(0));
        assert_eq!(
            seal_generation(&old, 0, at("TENANT#a", "CUST#1"), b"x")[0],
            1
        );
        let sealed = seal_generation(&new, 7, at("TENANT#a", "CUST#1"), b"jane");
        assert_eq!(sealed_generation(&sealed), Some(7));
        let opened = open(&new, at("TENANT#a", "CUST#1"), &sealed).unwrap();
        assert_eq!(opened.as_slice(), b"jane");
        assert!(open(&old, at("TENANT#a", "CUST#1"), &sealed).is_err());
        assert!(open(&new, at("TENANT#a", "CUST#2"), &sealed).is_err());
        // The generation is bound: naming another one does not open.
        let mut renamed = sealed.clone();
        renamed[4] ^= 1;
        assert_eq!(sealed_generation(&renamed), Some(6));
        assert!(open(&new, at("TENANT#a", "CUST#1"), &renamed).is_err());
        assert_eq!(sealed_generation(&[9, 0]), None);
        assert_eq!(sealed_generation(&[2, 0]), None);
        assert!(open(&new, at("TENANT#a", "CUST#1"), &[2, 0, 0]).is_err());
    }

    #[test]
    fn a_data_key_never_prints_its_bytes() {
        let key = DataKey::from_bytes([0xAB; 32]);
        let printed = format!("{key:?}");
        assert_eq!(printed, "DataKey(redacted)");
        assert!(!printed.to_lowercase().contains("ab"));
    }
}
