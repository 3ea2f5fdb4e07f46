//! Stripe webhook signatures. A delivery carries `Stripe-Signature: t=<unix
//! seconds>,v1=<hex HMAC-SHA256>[,v1=…]`; the MAC is over `"{t}.{raw body}"` keyed
//! with the endpoint's signing secret. Several `v1` entries appear while a secret is
//! being rolled; any one matching is enough. The timestamp bounds replays.
//!
//! Webhooks are only signals: a verified one queues a sync, it is never
//! trusted as data.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the Stripe-Signature header is malformed")]
    MalformedHeader,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("no signature matches the payload")]
    Mismatch,
    #[error("the signature timestamp is outside the tolerance")]
    OutsideTolerance,
}

/// Verifies one delivery at time `now` (Unix seconds): a `v1` signature must match
/// (compared in constant time) and `t` must be within `tolerance_secs` of `now`
/// either way (a future timestamp is as suspect as an old one).
pub fn verify_webhook(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), WebhookError> {
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(WebhookError::MalformedHeader)?;
        match key {
            "t" if timestamp.is_none() => timestamp = Some(value),
            "t" => return Err(WebhookError::MalformedHeader),
            // A v1 that is not hex cannot match; skipping it keeps the others usable.
            "v1" => signatures.extend(hex::decode(value).ok()),
            // v0 (test mode, legacy) and future schemes are not accepted.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::MalformedHeader)?;
    let t: i64 = timestamp
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
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    });
    if !matches {
        return Err(WebhookError::Mismatch);
    }
    if now.abs_diff(t) > tolerance_secs.max(0).unsigned_abs() {
        return Err(WebhookError::OutsideTolerance);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.updated"}"#;

    fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn a_fresh_correct_signature_is_accepted() {
        let header = format!("t=1000,v1={}", sign(SECRET, 1000, BODY));
        assert_eq!(verify_webhook(SECRET, &header, BODY, 1100, 300), Ok(()));
    }

    #[test]
    fn any_one_of_several_v1_signatures_may_match() {
        let header = format!(
            "t=1000,v1={},v1={},v0=abc",
            sign(b"whsec_old", 1000, BODY),
            sign(SECRET, 1000, BODY)
        );
        assert_eq!(verify_webhook(SECRET, &header, BODY, 1000, 300), Ok(()));
    }

    #[test]
    fn a_changed_body_or_wrong_secret_is_refused() {
        let header = format!("t=1000,v1={}", sign(SECRET, 1000, BODY));
        let tampered = br#"{"id":"evt_1","type":"customer.deleted"}"#;
        assert_eq!(
            verify_webhook(SECRET, &header, tampered, 1000, 300),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            verify_webhook(b"whsec_other", &header, BODY, 1000, 300),
            Err(WebhookError::Mismatch)
        );
    }

    #[test]
    fn a_signature_outside_the_tolerance_is_refused() {
        let header = format!("t=1000,v1={}", sign(SECRET, 1000, BODY));
        assert_eq!(
            verify_webhook(SECRET, &header, BODY, 1301, 300),
            Err(WebhookError::OutsideTolerance)
        );
        assert_eq!(
            verify_webhook(SECRET, &header, BODY, 699, 300),
            Err(WebhookError::OutsideTolerance)
        );
        assert_eq!(verify_webhook(SECRET, &header, BODY, 1300, 300), Ok(()));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let v1 = sign(SECRET, 1000, BODY);
        for header in [
            String::new(),
            format!("v1={v1}"),
            format!("t=abc,v1={v1}"),
            format!("t=1000,t=1000,v1={v1}"),
            "garbage".to_owned(),
        ] {
            assert_eq!(
                verify_webhook(SECRET, &header, BODY, 1000, 300),
                Err(WebhookError::MalformedHeader),
                "{header}"
            );
        }
        assert_eq!(
            verify_webhook(SECRET, "t=1000,v0=ab", BODY, 1000, 300),
            Err(WebhookError::NoSignature)
        );
    }
}
