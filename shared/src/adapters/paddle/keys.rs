//! Paddle API keys. Paddle Billing documents the key format `pdl_live_apikey_…` (live)
//! and `pdl_sdbx_apikey_…` (sandbox): the prefix says which API a key belongs to.
//! Client-side tokens (`live_…`, `test_…`) and legacy unprefixed keys are not
//! accepted: the first read nothing, the second say nothing about their environment.
//!
//! Whether a key can write cannot be read from Paddle's API: a key's permissions are
//! shown only in the dashboard, and the only way to learn one from the API would be to
//! send a write, which Tally never does. So the check here proves that every read the
//! sync needs is allowed, and the README lists the read permissions to pick.

use super::client::{PaddleClient, PaddleError};
use crate::ports::ConnectorError;

/// The API a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyEnvironment {
    Live,
    Sandbox,
}

/// The environment of `key` by its documented prefix; `None` when it is not a Paddle
/// API key. The key is never echoed.
pub fn key_environment(key: &str) -> Option<KeyEnvironment> {
    let key = key.trim();
    let (environment, rest) = if let Some(rest) = key.strip_prefix("pdl_live_apikey_") {
        (KeyEnvironment::Live, rest)
    } else if let Some(rest) = key.strip_prefix("pdl_sdbx_apikey_") {
        (KeyEnvironment::Sandbox, rest)
    } else {
        return None;
    };
    let well_formed = (16..=256).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    well_formed.then_some(environment)
}

/// The collections a sync reads: one page of one entity each proves the key has the
/// matching `.read` permission (Paddle answers 403 `forbidden` otherwise).
const READS: [&str; 6] = [
    "/customers",
    "/subscriptions",
    "/transactions",
    "/adjustments",
    "/discounts",
    "/events",
];

/// Checks that Paddle accepts the key for every read the sync makes.
pub async fn check_key(client: &PaddleClient) -> Result<(), ConnectorError> {
    for path in READS {
        match client.get(path, &[("per_page", "1")]).await {
            Ok(_) => {}
            Err(PaddleError::Unauthorized) => return Err(ConnectorError::Unauthorized),
            Err(PaddleError::Forbidden) => return Err(ConnectorError::Forbidden),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_names_the_environment() {
        // The formats of Paddle's "API keys" page.
        let live = "pdl_live_apikey_01gtgztp8fhg4yg0eb4z0m0ap2_mEa7pvaBy1cdxgnV5jDLbC_AIW";
        let sandbox = "pdl_sdbx_apikey_01gtgztp8fhg4yg0eb4z0m0ap2_mEa7pvaBy1cdxgnV5jDLbC_AIW";
        assert_eq!(key_environment(live), Some(KeyEnvironment::Live));
        assert_eq!(key_environment(sandbox), Some(KeyEnvironment::Sandbox));
        for other in [
            "",
            "pdl_live_apikey_",
            "pdl_live_apikey_short",
            "test_7d279f61a3499fed520f7cd8c08",
            "rk_test_abcdefghijklmnopqrstuvwxyz",
            "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678901234567890",
            "pdl_live_apikey_01gtgztp8fhg4yg0eb4z0m0ap2 space",
        ] {
            assert_eq!(key_environment(other), None, "{other}");
        }
    }
}
