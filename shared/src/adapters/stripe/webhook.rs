//! Stripe webhook signatures. A delivery carries `Stripe-Signature: t=<unix
//! seconds>,v1=<hex HMAC-SHA256>[,v1=…]`; the MAC is over `"{t}.{raw body}"` keyed
//! with the endpoint's signing secret. Several `v1` entries appear while a secret is
//! being rolled; any one matching is enough. The timestamp bounds replays.
//!
//! Webhooks are only signals: a verified one queues a sync, it is never
//! trusted as data.

use crate::adapters::webhook_signature::Scheme;
pub use crate::adapters::webhook_signature::WebhookError;

/// Stripe's spelling of the shared scheme: `SIGNATURE.verify(secret, header, body,
/// now, tolerance_secs)` — a `v1` must match and `t` be within the tolerance.
pub const SIGNATURE: Scheme = Scheme {
    separator: ',',
    timestamp: "t",
    signature: "v1",
    joiner: b".",
};

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

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
        assert_eq!(SIGNATURE.verify(SECRET, &header, BODY, 1100, 300), Ok(()));
    }

    #[test]
    fn any_one_of_several_v1_signatures_may_match() {
        let header = format!(
            "t=1000,v1={},v1={},v0=abc",
            sign(b"whsec_old", 1000, BODY),
            sign(SECRET, 1000, BODY)
        );
        assert_eq!(SIGNATURE.verify(SECRET, &header, BODY, 1000, 300), Ok(()));
    }

    #[test]
    fn a_changed_body_or_wrong_secret_is_refused() {
        let header = format!("t=1000,v1={}", sign(SECRET, 1000, BODY));
        let tampered = br#"{"id":"evt_1","type":"customer.deleted"}"#;
        assert_eq!(
            SIGNATURE.verify(SECRET, &header, tampered, 1000, 300),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            SIGNATURE.verify(b"whsec_other", &header, BODY, 1000, 300),
            Err(WebhookError::Mismatch)
        );
    }

    #[test]
    fn a_signature_outside_the_tolerance_is_refused() {
        let header = format!("t=1000,v1={}", sign(SECRET, 1000, BODY));
        assert_eq!(
            SIGNATURE.verify(SECRET, &header, BODY, 1301, 300),
            Err(WebhookError::OutsideTolerance)
        );
        assert_eq!(
            SIGNATURE.verify(SECRET, &header, BODY, 699, 300),
            Err(WebhookError::OutsideTolerance)
        );
        assert_eq!(SIGNATURE.verify(SECRET, &header, BODY, 1300, 300), Ok(()));
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
                SIGNATURE.verify(SECRET, &header, BODY, 1000, 300),
                Err(WebhookError::MalformedHeader),
                "{header}"
            );
        }
        assert_eq!(
            SIGNATURE.verify(SECRET, "t=1000,v0=ab", BODY, 1000, 300),
            Err(WebhookError::NoSignature)
        );
    }
}
