//! Password storage: argon2id in PHC strings.
//!
//! Parameters are OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1): memory-hard
//! enough that GPU guessing is expensive, cheap enough for a 128 MB Lambda. They are
//! written into every PHC string, so [`verify`] keeps working for old hashes if they are
//! ever raised. The salt is 16 bytes from the OS random source, fresh for every hash.
//!
//! [`verify_dummy`] exists for sign-in: an unknown e-mail must cost the same argon2 work
//! as a wrong password, or response times tell an attacker which addresses have accounts.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::crypto::random_bytes;

/// argon2 memory cost in KiB (19 MiB).
const M_COST_KIB: u32 = 19_456;
/// argon2 passes over memory.
const T_COST: u32 = 2;
/// argon2 lanes: one, as OWASP's minimum assumes and a 1-vCPU function has.
const P_COST: u32 = 1;
const SALT_LEN: usize = 16;

/// Checked at compile time: invalid parameters fail the build, not a sign-up.
const PARAMS: Params = match Params::new(M_COST_KIB, T_COST, P_COST, None) {
    Ok(params) => params,
    Err(_) => panic!("argon2 parameters out of range"),
};

/// Hashing failed inside argon2 (in practice only when memory cannot be had).
/// Carries the library's error kind, which never contains the password.
#[derive(Debug, thiserror::Error)]
#[error("the password could not be hashed")]
pub struct PasswordHashError(#[source] argon2::password_hash::Error);

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) for `password`.
pub fn hash(password: &str) -> Result<String, PasswordHashError> {
    let salt = random_bytes::<SALT_LEN>();
    argon2id()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|phc| phc.to_string())
        .map_err(PasswordHashError)
}

/// Whether `password` matches the PHC string `phc`, using the parameters stored in it.
/// A malformed or unsupported PHC string is simply a non-match. The comparison of the
/// outputs is constant-time (the `password-hash` crate's `Output` equality). An empty
/// `phc` (an invited user who has not set a password yet) costs a dummy verification,
/// so that such an account answers as slowly as any other.
pub fn verify(phc: &str, password: &str) -> bool {
    if phc.is_empty() {
        verify_dummy(password);
        return false;
    }
    argon2id().verify_password(password.as_bytes(), phc).is_ok()
}

/// A PHC string at exactly [`PARAMS`], for sign-ins that must cost one verification but
/// have no account to verify against. Its salt and output are random bytes, drawn once
/// and written here: no password is known to produce that output, and none needs to be,
/// since an unknown address is refused whatever the comparison says. Being a constant,
/// it costs nothing at start-up (computing it there put one argon2 hash, ~30 ms, on
/// every cold start of `auth`), and the first unknown address after a cold start costs
/// exactly what every later one does. A test holds its parameters to [`PARAMS`].
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$uqp0vVqULm78pBsVns4uBg$USSYaPNadwk2iudi/t23XJb+PV2D+uIp8l0edFZgAq0";

/// Spends the time of one [`verify`] and discards the outcome: the sign-in path for an
/// e-mail that has no account.
pub fn verify_dummy(password: &str) {
    let _ = std::hint::black_box(argon2id().verify_password(password.as_bytes(), DUMMY_PHC));
}

/// Whether `candidate` matches any of the PHC strings in `history` (previous passwords).
pub fn reused(history: &[String], candidate: &str) -> bool {
    history.iter().any(|phc| verify(phc, candidate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHash;
    use std::sync::LazyLock;
    use std::time::Instant;

    const SAMPLE_PASSWORD: &str = "Correct horse battery staple 9!";

    /// One hash shared by the tests: each argon2 run costs tens of milliseconds.
    static SAMPLE: LazyLock<String> = LazyLock::new(|| hash(SAMPLE_PASSWORD).unwrap());

    fn param(phc: &PasswordHash, name: &str) -> u32 {
        phc.params.get_decimal(name).unwrap()
    }

    #[test]
    fn a_password_verifies_against_its_own_hash() {
        assert!(verify(&SAMPLE, SAMPLE_PASSWORD));
    }

    #[test]
    fn a_wrong_password_does_not_verify() {
        assert!(!verify(&SAMPLE, "Correct horse battery staple 8!"));
        assert!(!verify(&SAMPLE, ""));
    }

    #[test]
    fn hashes_use_argon2id_with_at_least_the_owasp_minimum() {
        let phc = PasswordHash::new(&SAMPLE).unwrap();
        assert_eq!(phc.algorithm.as_str(), "argon2id");
        assert_eq!(phc.version, Some(19));
        assert!(param(&phc, "m") >= 19_456);
        assert!(param(&phc, "t") >= 2);
        assert_eq!(param(&phc, "p"), 1);
        assert_eq!(phc.salt.unwrap().len(), SALT_LEN);
        assert_eq!(phc.hash.unwrap().len(), 32);
        assert!(!SAMPLE.contains(SAMPLE_PASSWORD));
    }

    #[test]
    fn each_hash_has_its_own_salt() {
        let again = hash(SAMPLE_PASSWORD).unwrap();
        assert_ne!(*SAMPLE, again);
        let salt = |phc: &str| PasswordHash::new(phc).unwrap().salt.unwrap().to_string();
        assert_ne!(salt(&SAMPLE), salt(&again));
    }

    #[test]
    fn a_malformed_phc_string_never_verifies_and_never_panics() {
        let truncated = &SAMPLE[..SAMPLE.len() - 5];
        let without_output = SAMPLE.rsplit_once('$').unwrap().0;
        for phc in [
            "",
            "$",
            "not a hash",
            "$argon2id$v=19$m=19456,t=2,p=1$$",
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHRzYWx0$aGFzaA",
            "$argon2id$v=99$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$bcrypt$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            truncated,
            without_output,
        ] {
            assert!(!verify(phc, SAMPLE_PASSWORD), "{phc:?}");
        }
    }

    #[test]
    fn a_password_in_the_history_counts_as_reused() {
        let history = vec!["garbage".to_owned(), SAMPLE.clone()];
        assert!(reused(&history, SAMPLE_PASSWORD));
        assert!(!reused(&history, "A different password 1!"));
        assert!(!reused(&[], SAMPLE_PASSWORD));
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let (dummy, real) = (
            PasswordHash::new(DUMMY_PHC).unwrap(),
            PasswordHash::new(&SAMPLE).unwrap(),
        );
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.salt.unwrap().len(), real.salt.unwrap().len());
        assert_eq!(dummy.hash.unwrap().len(), real.hash.unwrap().len());
        // A well-formed string: the verification runs argon2 in full rather than
        // failing at parsing (which would answer an unknown address fast).
        assert_eq!(
            argon2id().verify_password(SAMPLE_PASSWORD.as_bytes(), DUMMY_PHC),
            Err(argon2::password_hash::Error::PasswordInvalid)
        );
        verify_dummy(SAMPLE_PASSWORD);
    }

    #[test]
    fn the_error_message_says_nothing_about_the_password() {
        let error = PasswordHashError(argon2::password_hash::Error::OutOfMemory);
        assert_eq!(error.to_string(), "the password could not be hashed");
    }

    /// `cargo test -p tally -- --ignored --nocapture hashing::tests::timing`
    #[test]
    #[ignore = "prints timings; run by hand"]
    fn timing_of_one_hash_and_one_verify() {
        let started = Instant::now();
        let phc = hash(SAMPLE_PASSWORD).unwrap();
        let hashed = started.elapsed();
        let started = Instant::now();
        assert!(verify(&phc, SAMPLE_PASSWORD));
        eprintln!("hash: {hashed:?}, verify: {:?}", started.elapsed());
    }
}
