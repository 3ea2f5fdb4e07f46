//! Time-based one-time passwords (RFC 6238) for two-factor sign-in.
//!
//! Fixed to what every authenticator app supports: HMAC-SHA-1, 6 digits, 30-second
//! steps. One step of clock drift either way is accepted (RFC 6238 §5.2's advice), no
//! more: each extra step widens the window a stolen code stays good for.
//!
//! [`verify`] returns the time step the code matched. The caller stores it and refuses
//! any later code whose step is not greater, which is what makes each code single-use
//! (RFC 6238 §5.2) — this module has no state, so it cannot do that part itself.

use std::fmt;

use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

use crate::domain::crypto::random_bytes;

/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "Tally";
/// 160 bits, RFC 4226 §4's recommended secret length.
pub const SECRET_LEN: usize = 20;
const DIGITS: u8 = 6;
const STEP_SECONDS: u64 = 30;
const SKEW_STEPS: u64 = 1;

/// A user's shared TOTP secret. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<[u8; SECRET_LEN]>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpSecretError {
    #[error("the TOTP secret is not 20 bytes of base32")]
    Invalid,
}

impl TotpSecret {
    /// A fresh secret from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_bytes(random_bytes::<SECRET_LEN>())
    }

    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The raw secret, for sealing under the tenant key.
    pub fn expose_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// RFC 4648 base32, upper-case, unpadded: what authenticator apps accept typed in.
    pub fn to_base32(&self) -> String {
        Secret::from(*self.0).to_base32()
    }

    pub fn from_base32(text: &str) -> Result<Self, TotpSecretError> {
        let secret = Secret::try_from_base32(text).map_err(|_| TotpSecretError::Invalid)?;
        let bytes: [u8; SECRET_LEN] = secret
            .as_ref()
            .try_into()
            .map_err(|_| TotpSecretError::Invalid)?;
        Ok(Self::from_bytes(bytes))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(redacted)")
    }
}

/// The `otpauth://totp/...` URI an authenticator app imports (usually as a QR code).
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    // The Key URI format reserves ':' to separate issuer from account, so it may appear
    // in neither; it only matters for display in the app, so swap it rather than fail.
    let issuer = issuer.replace(':', "_");
    let mut account = account.replace(':', "_");
    if account.is_empty() {
        account = "account".to_owned();
    }
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECONDS)
        .with_secret(Secret::from(*secret.0))
        .with_issuer((!issuer.is_empty()).then_some(issuer))
        .with_account_name(account)
        .build()
        .and_then(|totp| totp.to_url())
        // Unreachable with the values above; a bare URI still works in every app.
        .unwrap_or_else(|_| format!("otpauth://totp/{ISSUER}?secret={}", secret.to_base32()))
}

/// The time step a code matched, if `code` is the 6-digit code for the step holding
/// `unix_time` or the step either side of it. Anything but exactly six ASCII digits
/// is refused.
pub fn verify(secret: &TotpSecret, code: &str, unix_time: u64) -> Option<u64> {
    verify_with_digits(secret, code, unix_time, DIGITS)
}

/// The code for the step holding `unix_time`: what an authenticator app shows then.
/// For tests and demo data; the server never needs to show a code.
pub fn code_at(secret: &TotpSecret, unix_time: u64) -> String {
    code_for_step(secret, unix_time / STEP_SECONDS, DIGITS).unwrap_or_default()
}

fn verify_with_digits(secret: &TotpSecret, code: &str, unix_time: u64, digits: u8) -> Option<u64> {
    if code.len() != usize::from(digits) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = single_step_totp(secret, digits)?;
    let current = unix_time / STEP_SECONDS;
    let mut matched = None;
    // Every step of the window is computed and compared (the comparison inside
    // `Totp::check` is constant-time), so timing does not tell which step matched. If
    // two steps share a code, the later one is returned: it makes reuse refusal stricter.
    for step in current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS) {
        let Some(at) = step.checked_mul(STEP_SECONDS) else {
            continue;
        };
        if totp.check(code, at).is_some() {
            matched = Some(step);
        }
    }
    matched
}

fn code_for_step(secret: &TotpSecret, step: u64, digits: u8) -> Option<String> {
    let totp = single_step_totp(secret, digits)?;
    Some(totp.generate(step.checked_mul(STEP_SECONDS)?).to_string())
}

/// A TOTP that accepts exactly the step asked about; the window is walked above.
fn single_step_totp(secret: &TotpSecret, digits: u8) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_skew(0)
        .with_step_duration(STEP_SECONDS)
        .with_secret(Secret::from(*secret.0))
        .build()
        .ok()
}

#[cfg(test)]
mod tests;
