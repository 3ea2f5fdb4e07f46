//! Paddle webhook signatures. A delivery carries `Paddle-Signature: ts=<unix
//! seconds>;h1=<hex HMAC-SHA256>`; the MAC is over `"{ts}:{raw body}"` keyed with the
//! notification destination's secret key (`pdl_ntfset_…`). While a secret is being
//! rotated Paddle sends one `h1` per secret; any one matching is enough. Paddle's SDKs
//! refuse a timestamp more than 5 seconds away, which bounds replays.
//!
//! Webhooks are only signals: a verified one queues a sync, it is never trusted as
//! data.

use crate::adapters::webhook_signature::Scheme;
pub use crate::adapters::webhook_signature::WebhookError;

/// Paddle's documented tolerance between the signature's time and now.
pub const TOLERANCE_SECS: i64 = 5;

/// Paddle's spelling of the shared scheme: `SIGNATURE.verify(secret, header, body,
/// now, tolerance_secs)` — a `h1` must match and `ts` be within the tolerance.
pub const SIGNATURE: Scheme = Scheme {
    separator: ';',
    timestamp: "ts",
    signature: "h1",
    joiner: b":",
};

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    const SECRET: &[u8] = b"pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_6h3qd3uFSi9YCD3OLYAShQI90XTI5vEI";
    const BODY: &[u8] =
        br#"{"event_id":"evt_01","event_type":"subscription.updated","notification_id":"ntf_01"}"#;

    fn sign(secret: &[u8], ts: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{ts}:").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn a_fresh_correct_signature_is_accepted_and_any_h1_may_match() {
        // The header format of Paddle's "Verify webhook signatures" guide.
        let header = format!("ts=1671552777;h1={}", sign(SECRET, 1671552777, BODY));
        assert_eq!(
            SIGNATURE.verify(SECRET, &header, BODY, 1671552780, 5),
            Ok(())
        );
        let rotating = format!(
            "ts=1671552777;h1={};h1={}",
            sign(b"pdl_ntfset_old", 1671552777, BODY),
            sign(SECRET, 1671552777, BODY)
        );
        assert_eq!(
            SIGNATURE.verify(SECRET, &rotating, BODY, 1671552777, 5),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_a_wrong_secret_or_a_stale_time_is_refused() {
        let header = format!("ts=1000;h1={}", sign(SECRET, 1000, BODY));
        assert_eq!(
            SIGNATURE.verify(SECRET, &header, b"{}", 1000, 5),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            SIGNATURE.verify(b"pdl_ntfset_other", &header, BODY, 1000, 5),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            SIGNATURE.verify(SECRET, &header, BODY, 1006, 5),
            Err(WebhookError::OutsideTolerance)
        );
        assert_eq!(
            SIGNATURE.verify(SECRET, &header, BODY, 994, 5),
            Err(WebhookError::OutsideTolerance)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let h1 = sign(SECRET, 1000, BODY);
        for header in [
            String::new(),
            format!("h1={h1}"),
            format!("ts=abc;h1={h1}"),
            format!("ts=1000;ts=1000;h1={h1}"),
            format!("t=1000,v1={h1}"),
        ] {
            assert_eq!(
                SIGNATURE.verify(SECRET, &header, BODY, 1000, 5),
                Err(WebhookError::MalformedHeader),
                "{header}"
            );
        }
        assert_eq!(
            SIGNATURE.verify(SECRET, "ts=1000;h2=ab", BODY, 1000, 5),
            Err(WebhookError::NoSignature)
        );
    }
}
