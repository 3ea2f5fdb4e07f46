//! AWS adapters under test, against a local moto server (`scripts/test` starts one and
//! sets `TALLY_TEST_MOTO_ENDPOINT`).
//!
//! Every factory makes its own resources with unique names (a table, a key, a bus and
//! its queue) so that tests run in parallel on one server without cleanup: the server
//! lives only as long as the test run. Each factory also builds its own SDK clients,
//! because every `#[tokio::test]` has its own runtime and a connection pool must not
//! outlive the runtime it was made on.
//!
//! EventBridge deliveries are observed the way a consumer would see them: a rule on the
//! fresh bus matches Tally's source and targets a fresh SQS queue. (No Lambda targets:
//! moto's `PutEvents` fails once a rule with one exists.)

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use tally::adapters::aws::{DynamoStore, EventBridgeBus, KmsKeyService, SecretsManagerStore};
use tally::ports::events::EVENT_SOURCE;
use tally::ports::{EventBus, KeyService, SecretStore, Store};
use tokio::sync::Mutex;

use crate::{EventObserver, Subject};

/// The variable naming the moto server's endpoint.
pub const ENDPOINT_VARIABLE: &str = "TALLY_TEST_MOTO_ENDPOINT";

fn endpoint() -> String {
    match std::env::var(ENDPOINT_VARIABLE) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "AWS adapter tests need a moto server: run scripts/test, or start \
             `moto_server -H 127.0.0.1 -p PORT` and set {ENDPOINT_VARIABLE}"
        ),
    }
}

/// The SDK configuration for moto: its endpoint, eu-central-1, dummy credentials.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-central-1"))
        .http_client(tally::adapters::aws::http_client())
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A DynamoStore on a new table, `tally-test-<uuid>`, keyed as the template keys it.
pub async fn fresh_table() -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = unique("tally-test-");
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("an attribute definition")
    };
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .expect("a key schema element")
    };
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("moto creates the table");
    DynamoStore::new(client, &table)
}

/// A KmsKeyService on a new symmetric key.
pub async fn fresh_kms_key() -> KmsKeyService {
    let client = aws_sdk_kms::Client::new(&sdk_config().await);
    let created = client
        .create_key()
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .description("tally test key")
        .send()
        .await
        .expect("moto creates the key");
    let key_id = created
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .expect("a created key has an id");
    KmsKeyService::new(client, &key_id)
}

/// The SecretsManagerStore of the moto account. Secret names are shared by all tests:
/// use unique ones.
pub async fn secrets_manager() -> SecretsManagerStore {
    SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&sdk_config().await))
}

/// An EventBridgeBus on a new bus, and an observer of what the bus delivers.
pub async fn fresh_event_bus() -> (EventBridgeBus, QueueObserver) {
    let config = sdk_config().await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bus_name = unique("tally-test-");
    events
        .create_event_bus()
        .name(&bus_name)
        .send()
        .await
        .expect("moto creates the bus");
    let queue_url = sqs
        .create_queue()
        .queue_name(&bus_name)
        .send()
        .await
        .expect("moto creates the queue")
        .queue_url
        .expect("a created queue has a URL");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("moto describes the queue")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("a queue has an ARN");
    let rule = "tally-events-to-queue";
    events
        .put_rule()
        .name(rule)
        .event_bus_name(&bus_name)
        .event_pattern(serde_json::json!({ "source": [EVENT_SOURCE] }).to_string())
        .send()
        .await
        .expect("moto creates the rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(queue_arn)
        .build()
        .expect("a target");
    let added = events
        .put_targets()
        .rule(rule)
        .event_bus_name(&bus_name)
        .targets(target)
        .send()
        .await
        .expect("moto adds the target");
    assert_eq!(added.failed_entry_count, 0, "the queue target is accepted");
    let bus = EventBridgeBus::new(events, &bus_name);
    let observer = QueueObserver {
        sqs,
        queue_url,
        seen: Mutex::new(Vec::new()),
    };
    (bus, observer)
}

/// Reads the queue a rule of the bus feeds, and keeps what it has read.
pub struct QueueObserver {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    seen: Mutex<Vec<Value>>,
}

impl EventObserver for QueueObserver {
    /// Each delivery's `detail`, after checking the envelope carries Tally's source and
    /// the event's type as its detail-type (what rules in the template match on).
    async fn published(&self) -> Vec<Value> {
        let mut seen = self.seen.lock().await;
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("moto's queue can be read");
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                let body = message.body().expect("a delivery has a body");
                let envelope: Value = serde_json::from_str(body).expect("a delivery is JSON");
                assert_eq!(envelope["source"], EVENT_SOURCE, "the event's source");
                let detail = envelope["detail"].clone();
                assert_eq!(envelope["detail-type"], detail["type"], "the detail-type");
                seen.push(detail);
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("moto deletes a read message");
                }
            }
        }
        seen.clone()
    }
}

/// Factories in the shape of the conformance suites: fresh adapters as [`Subject`]s.
pub async fn store() -> Subject<dyn Store> {
    Subject::new(Arc::new(fresh_table().await), ())
}

pub async fn keys() -> Subject<dyn KeyService> {
    Subject::new(Arc::new(fresh_kms_key().await), ())
}

pub async fn secrets() -> Subject<dyn SecretStore> {
    Subject::new(Arc::new(secrets_manager().await), ())
}

pub async fn events_to_a_queue() -> (Subject<dyn EventBus>, QueueObserver) {
    let (bus, observer) = fresh_event_bus().await;
    (Subject::new(Arc::new(bus), ()), observer)
}
