//! The webhook signature scheme Stripe and Paddle share: a header of `key=value` pairs
//! holding a Unix timestamp and one or more hex HMAC-SHA256 signatures over
//! `"{timestamp}{joiner}{raw body}"`, keyed with the destination's secret. Several
//! signatures appear while a secret is being rotated; any one matching is enough. The
//! timestamp bounds replays. The providers differ only in spelling ([`Scheme`]).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How one provider spells the scheme.
pub struct Scheme {
    /// Between the header's pairs (Stripe `,`, Paddle `;`).
    pub separator: char,
    /// The timestamp's key (Stripe `t`, Paddle `ts`).
    pub timestamp: &'static str,
    /// The accepted signatures' key (Stripe `v1`, Paddle `h1`); other keys are ignored.
    pub signature: &'static str,
    /// Between the timestamp and the body in the signed payload (Stripe `.`, Paddle `:`).
    pub joiner: &'static [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the signature header is malformed")]
    MalformedHeader,
    #[error("the signature header has no signature of the accepted scheme")]
    NoSignature,
    #[error("no signature matches the payload")]
    Mismatch,
    #[error("the signature timestamp is outside the tolerance")]
    OutsideTolerance,
}

impl Scheme {
    /// Verifies one delivery at time `now` (Unix seconds): a signature must match
    /// (compared in constant time) and the timestamp must be within `tolerance_secs`
    /// of `now` either way (a future timestamp is as suspect as an old one).
    pub fn verify(
        &self,
        secret: &[u8],
        header: &str,
        body: &[u8],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<(), WebhookError> {
        let mut timestamp: Option<&str> = None;
        let mut signatures: Vec<Vec<u8>> = Vec::new();
        for part in header.split(self.separator) {
            let (key, value) = part
                .trim()
                .split_once('=')
                .ok_or(WebhookError::MalformedHeader)?;
            if key == self.timestamp {
                if timestamp.replace(value).is_some() {
                    return Err(WebhookError::MalformedHeader);
                }
            } else if key == self.signature {
                // One that is not hex cannot match; skipping it keeps the others usable.
                signatures.extend(hex::decode(value).ok());
            }
        }
        let timestamp = timestamp.ok_or(WebhookError::MalformedHeader)?;
        let at: i64 = timestamp
            .parse()
            .map_err(|_| WebhookError::MalformedHeader)?;
        if signatures.is_empty() {
            return Err(WebhookError::NoSignature);
        }
        let matches = signatures.iter().any(|signature| {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
                return false;
            };
            mac.update(timestamp.as_bytes());
            mac.update(self.joiner);
            mac.update(body);
            mac.verify_slice(signature).is_ok()
        });
        if !matches {
            return Err(WebhookError::Mismatch);
        }
        if now.abs_diff(at) > tolerance_secs.max(0).unsigned_abs() {
            return Err(WebhookError::OutsideTolerance);
        }
        Ok(())
    }
}
