//! Issue 17, finding 9: rate limits key an IPv6 client by its /64 (one host holds a
//! whole /64), the webhook signing secret is read once per warm process rather than on
//! every unauthenticated call, and an oversized webhook body gets the API's error shape.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use secrecy::SecretString;
use tally::ports::{SecretError, SecretName, SecretStore};
use tally::services::sessions::LoginRequest;
use tally::services::{ServiceError, Services};

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn ipv6_clients_of_one_64_share_one_rate_limit() {
    use chrono::{DurationRound, TimeDelta, Utc};
    let app = spawn_app().await;
    let minute = Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap();
    app.clock.freeze_at(minute + TimeDelta::seconds(1));
    let mut limited = false;
    for i in 0..21u32 {
        // A different address of 2001:db8:1:2::/64 each time.
        let ip: IpAddr = format!("2001:db8:1:2:{:x}::{:x}", i + 1, i * 7 + 3)
            .parse()
            .unwrap();
        let attempt = LoginRequest {
            email: format!("nobody-{i}@example.com"),
            password: SecretString::from("Some-Guess-123!".to_owned()),
            totp_code: None,
            recovery_code: None,
            ip,
        };
        if let Err(ServiceError::RateLimited { .. }) = app.services.identity.login(attempt).await {
            limited = true;
        }
    }
    assert!(
        limited,
        "21 sign-ins from one /64 in a minute are rate limited"
    );
    // Another /64 has its own budget.
    let other = LoginRequest {
        email: "nobody@example.com".to_owned(),
        password: SecretString::from("Some-Guess-123!".to_owned()),
        totp_code: None,
        recovery_code: None,
        ip: "2001:db8:1:3::1".parse().unwrap(),
    };
    assert!(matches!(
        app.services.identity.login(other).await,
        Err(ServiceError::InvalidCredentials)
    ));
}

/// A SecretStore that counts the reads of one secret.
struct CountingSecrets {
    inner: Arc<dyn SecretStore>,
    name: &'static str,
    reads: AtomicUsize,
}

#[async_trait]
impl SecretStore for CountingSecrets {
    async fn put(&self, name: &SecretName, value: &SecretString) -> Result<(), SecretError> {
        self.inner.put(name, value).await
    }
    async fn get(&self, name: &SecretName) -> Result<Option<SecretString>, SecretError> {
        if name.as_str() == self.name {
            self.reads.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get(name).await
    }
    async fn delete(&self, name: &SecretName) -> Result<(), SecretError> {
        self.inner.delete(name).await
    }
}

#[tokio::test]
async fn the_webhook_signing_secret_is_read_once_per_process() {
    const NAME: &str = "tally/system/stripe-webhook-secret";
    let app = spawn_app().await;
    let mut adapters = app.services.adapters.clone();
    adapters
        .secrets
        .put(
            &SecretName::parse(NAME).unwrap(),
            &SecretString::from("whsec_test_tally".to_owned()),
        )
        .await
        .unwrap();
    let counting = Arc::new(CountingSecrets {
        inner: adapters.secrets.clone(),
        name: NAME,
        reads: AtomicUsize::new(0),
    });
    adapters.secrets = counting.clone();
    let services = Services::new(adapters, (*app.services.config).clone());
    for _ in 0..5 {
        let outcome = services
            .integrations
            .stripe_webhook("t=1,v1=00", br#"{"id":"evt_1","type":"x"}"#)
            .await;
        assert!(outcome.is_err(), "a forged signature is refused");
    }
    assert_eq!(counting.reads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_oversized_webhook_body_gets_the_error_shape() {
    let app = spawn_app().await;
    let body = format!(r#"{{"id":"evt_1","pad":"{}"}}"#, "x".repeat(70 * 1024));
    let response = reqwest::Client::new()
        .post(format!("{}/v1/webhooks/stripe", app.address))
        .header("content-type", "application/json")
        .header("stripe-signature", "t=1,v1=00")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
}
