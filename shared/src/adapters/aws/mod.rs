//! AWS adapters: the ports on DynamoDB (one table), KMS, Secrets Manager and
//! EventBridge.
//!
//! A function builds one [`SdkConfig`] per cold start ([`sdk_config`]) and one set of
//! clients from it ([`adapters`]); the clients pool connections and are cheap to share.
//! The SDK crates are linked without their default HTTPS client (rustls on aws-lc-rs,
//! next to the legacy hyper 0.14 stack): [`http_client`] is the SDK's own hyper 1 client
//! with rustls on ring, the TLS stack reqwest already brings for Stripe, Paddle, the ECB
//! and Slack, so every binary links one TLS library and one crypto provider.
//! Retries stay the SDK's standard mode (three attempts with jittered backoff), which
//! already retries throttling and transient 5xx errors, so no adapter retries on its own.
//!
//! Errors: every adapter turns an SDK failure into its port's error through
//! [`describe`], which keeps the error code and the service's message and nothing else
//! (no request, no item, no secret). Adapters classify failures by that code.

mod dynamodb;
mod eventbridge;
mod kms;
mod secrets_manager;

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
// Every SDK crate re-exports the same smithy error types; DynamoDB's path is as good
// as any and spares a direct dependency on the smithy runtime crate.
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

pub use dynamodb::{BatchRetry, DynamoStore};
pub use eventbridge::EventBridgeBus;
pub use kms::KmsKeyService;
pub use secrets_manager::SecretsManagerStore;

use crate::adapters::Adapters;
use crate::ports::Clock;

/// Where Tally runs unless the environment says otherwise (GDPR: data stays in the EU).
pub const DEFAULT_REGION: &str = "eu-central-1";

/// The SDK configuration: region from `AWS_REGION` (set by Lambda) or
/// [`DEFAULT_REGION`], credentials from the default chain (the function's role), and,
/// for tests against a local server, an endpoint override.
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let region = std::env::var("AWS_REGION")
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    // `behavior-version-latest` keeps the standard retry mode: throttling is retried.
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .http_client(http_client());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// The HTTP client of every SDK client and of the credential providers: what the SDK's
/// `default-https-client` feature builds (hyper 1, the SDK's timeouts and sleep, proxy
/// settings from the environment, plain http for a local endpoint such as moto), with
/// rustls on ring instead of aws-lc-rs. Every `SdkConfig` must be given it: without the
/// default feature the SDK has no client of its own.
pub fn http_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, runtime_components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .proxy_config(ProxyConfig::from_env());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = runtime_components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.build()
    })
}

/// The AWS adapters on one configuration, each client built once.
pub fn adapters(
    sdk: &SdkConfig,
    table: &str,
    kms_key_id: &str,
    event_bus: &str,
    clock: Arc<dyn Clock>,
) -> Adapters {
    Adapters {
        store: Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table)),
        keys: Arc::new(KmsKeyService::new(
            aws_sdk_kms::Client::new(sdk),
            kms_key_id,
        )),
        secrets: Arc::new(SecretsManagerStore::new(
            aws_sdk_secretsmanager::Client::new(sdk),
        )),
        events: Arc::new(EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(sdk),
            event_bus,
        )),
        clock,
    }
}

/// An SDK failure as "code: message" for a service error, or the kind of failure
/// otherwise. Never the request or response bodies: they may hold items or secrets.
pub(crate) fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(_) => format!(
            "{}: {}",
            err.code().unwrap_or("UnknownError"),
            err.message().unwrap_or("no message")
        ),
        SdkError::TimeoutError(_) => "the request timed out".to_owned(),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            "the connection timed out".to_owned()
        }
        SdkError::DispatchFailure(failure) if failure.is_io() => {
            "the service could not be reached".to_owned()
        }
        SdkError::DispatchFailure(_) => "the request could not be sent".to_owned(),
        SdkError::ResponseError(_) => "the response could not be read".to_owned(),
        SdkError::ConstructionFailure(_) => "the request could not be built".to_owned(),
        _ => "unclassified SDK failure".to_owned(),
    }
}

/// The service's error code, for classifying a failure.
pub(crate) fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.code()
}
