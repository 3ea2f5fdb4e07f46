//! Restricted keys: the other read-only way in. A merchant pastes a key; its prefix
//! says what it is (Stripe documents `rk_` restricted, `sk_` secret, `pk_`
//! publishable, each `live_` or `test_`), and one cheap read proves it works. Full
//! secret keys are refused (docs/design.md §4): they can write and move money.

use super::client::StripeClient;
use crate::ports::ConnectorError;

/// What a pasted Stripe key is, by its documented prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `rk_live_…`/`rk_test_…`: permissions chosen by the merchant — what Tally accepts.
    Restricted,
    /// `sk_…`: full read-write access — refused (docs/design.md §4).
    Secret,
    /// `pk_…`: cannot read anything useful.
    Publishable,
    Unknown,
}

/// Classifies `key` (surrounding whitespace ignored) without ever echoing it.
pub fn key_kind(key: &str) -> KeyKind {
    let key = key.trim();
    let well_formed = |rest: &str| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let kinds = [
        ("rk_", KeyKind::Restricted),
        ("sk_", KeyKind::Secret),
        ("pk_", KeyKind::Publishable),
    ];
    for (prefix, kind) in kinds {
        if let Some(rest) = key.strip_prefix(prefix) {
            let rest = rest
                .strip_prefix("live_")
                .or_else(|| rest.strip_prefix("test_"));
            return match rest {
                Some(rest) if well_formed(rest) => kind,
                _ => KeyKind::Unknown,
            };
        }
    }
    KeyKind::Unknown
}

/// One cheap read proving the credential works: `GET /v1/customers?limit=1`.
pub async fn check_key(client: &StripeClient) -> Result<(), ConnectorError> {
    client
        .get("/v1/customers", &[("limit", "1")])
        .await
        .map(drop)
        .map_err(ConnectorError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_classified_by_prefix() {
        assert_eq!(key_kind("rk_live_abc123"), KeyKind::Restricted);
        assert_eq!(key_kind(" rk_test_abc123\n"), KeyKind::Restricted);
        assert_eq!(key_kind("sk_live_abc123"), KeyKind::Secret);
        assert_eq!(key_kind("sk_test_abc123"), KeyKind::Secret);
        assert_eq!(key_kind("pk_test_abc123"), KeyKind::Publishable);
        for odd in [
            "",
            "rk_",
            "rk_live_",
            "rk_prod_abc",
            "rk_live_a b",
            "whsec_x",
            "abc",
        ] {
            assert_eq!(key_kind(odd), KeyKind::Unknown, "{odd:?}");
        }
    }
}
