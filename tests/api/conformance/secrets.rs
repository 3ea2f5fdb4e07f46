//! The SecretStore conformance suite: put, get and delete of named secrets.

use secrecy::{ExposeSecret, SecretString};
use tally::ports::{SecretError, SecretName, SecretStore};
use tally_tests::Subject;

/// Instantiates the suite: `secrets_conformance!(adapter_name, factory_expression)`,
/// the factory yielding a fresh `tally_tests::Subject<dyn SecretStore>`.
macro_rules! secrets_conformance {
    ($adapter:ident, $factory:expr) => {
        mod $adapter {
            conformance_cases!($factory;
                a_stored_secret_reads_back,
                storing_a_secret_again_overwrites_its_value,
                getting_a_missing_secret_returns_none,
                a_deleted_secret_is_gone_and_deleting_it_again_succeeds,
                secrets_of_different_names_are_independent,
                names_outside_the_tally_prefix_are_refused,
                a_tenant_s_slack_webhook_is_apart_from_its_integrations,
            );
        }
    };
}

type Fixture = Subject<dyn SecretStore>;

/// `tally/<a tenant no other test uses>/<integration>`.
fn name(integration: &str) -> SecretName {
    SecretName::integration(&super::unique("t"), integration).unwrap()
}

async fn value_of(secrets: &Fixture, name: &SecretName) -> Option<String> {
    let value = secrets.get(name).await.unwrap();
    value.map(|secret| secret.expose_secret().to_owned())
}

async fn a_stored_secret_reads_back(secrets: &Fixture) {
    let name = name("stripe");
    let value = "sk_live_51Hé\n{\"refresh_token\":\"rt-1\"}".repeat(50);
    secrets
        .put(&name, &SecretString::from(value.as_str()))
        .await
        .unwrap();
    assert_eq!(value_of(secrets, &name).await, Some(value));
}

async fn storing_a_secret_again_overwrites_its_value(secrets: &Fixture) {
    let name = name("stripe");
    secrets.put(&name, &"first".into()).await.unwrap();
    secrets.put(&name, &"second".into()).await.unwrap();
    assert_eq!(value_of(secrets, &name).await.as_deref(), Some("second"));
}

async fn getting_a_missing_secret_returns_none(secrets: &Fixture) {
    assert_eq!(value_of(secrets, &name("never-stored")).await, None);
}

async fn a_deleted_secret_is_gone_and_deleting_it_again_succeeds(secrets: &Fixture) {
    let name = name("stripe");
    secrets.put(&name, &"token".into()).await.unwrap();
    secrets.delete(&name).await.unwrap();
    assert_eq!(value_of(secrets, &name).await, None);
    secrets.delete(&name).await.unwrap();
    secrets.put(&name, &"again".into()).await.unwrap();
    assert_eq!(value_of(secrets, &name).await.as_deref(), Some("again"));
}

async fn secrets_of_different_names_are_independent(secrets: &Fixture) {
    let (one, two) = (name("stripe"), name("paddle"));
    secrets.put(&one, &"one".into()).await.unwrap();
    secrets.put(&two, &"two".into()).await.unwrap();
    secrets.put(&two, &"two, again".into()).await.unwrap();
    assert_eq!(value_of(secrets, &one).await.as_deref(), Some("one"));
    secrets.delete(&one).await.unwrap();
    assert_eq!(value_of(secrets, &one).await, None);
    assert_eq!(value_of(secrets, &two).await.as_deref(), Some("two, again"));
}

/// `tally/<tenant>/slack-webhook` (the weekly digest's URL) beside the tenant's
/// integrations' secrets: stored, replaced and deleted on its own.
async fn a_tenant_s_slack_webhook_is_apart_from_its_integrations(secrets: &Fixture) {
    let tenant = super::unique("t");
    let slack = SecretName::slack_webhook(&tenant).unwrap();
    assert_eq!(slack.as_str(), format!("tally/{tenant}/slack-webhook"));
    let integration = SecretName::integration(&tenant, "stripe").unwrap();
    let url = "https://hooks.slack.com/services/T0/B0/abc";
    secrets.put(&integration, &"token".into()).await.unwrap();
    secrets.put(&slack, &url.into()).await.unwrap();
    assert_eq!(value_of(secrets, &slack).await.as_deref(), Some(url));
    secrets
        .put(&slack, &"https://hooks.slack.com/services/T0/B0/def".into())
        .await
        .unwrap();
    secrets.delete(&slack).await.unwrap();
    assert_eq!(value_of(secrets, &slack).await, None);
    assert_eq!(
        value_of(secrets, &integration).await.as_deref(),
        Some("token")
    );
    secrets.delete(&integration).await.unwrap();
}

async fn names_outside_the_tally_prefix_are_refused(_secrets: &Fixture) {
    let outside = [
        "stripe",
        "tally",
        "tally/",
        "other/tally/x",
        "tally/../x",
        "tally/a b",
    ];
    for text in outside {
        let refused = SecretName::parse(text);
        assert!(
            matches!(refused, Err(SecretError::InvalidName(_))),
            "{text:?}"
        );
    }
    assert!(SecretName::parse("tally/tenant-1/integ_2.v-3").is_ok());
}

secrets_conformance!(embedded, tally_tests::embedded::secrets());
secrets_conformance!(secrets_manager, tally_tests::moto::secrets());
