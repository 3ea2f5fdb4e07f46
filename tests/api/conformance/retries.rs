//! The AWS adapters under throttling: DynamoStore and KmsKeyService, built on Tally's
//! own SDK configuration, reach moto through `tally_tests::throttling_proxy`, which
//! answers the first requests of an operation with the service's throttling error
//! without forwarding them. The SDK's standard retries must carry the call through,
//! and the proxy's counters show the write reached the table exactly once; beyond the
//! retry budget the adapter reports a backend error and nothing is written.
//!
//! Transactions also carry DynamoDB's idempotency token (`ClientRequestToken`), which
//! the SDK fills in once per call, before the request is built, so that every retry of
//! a call resends it. The proxy shows it on the wire. moto ignores the token (a resent
//! transaction is applied again), so the "ambiguous failure" case stops at what the
//! client does: it resends the same request, token included.
//!
//! Batch writes (`BatchWriteItem`) are retried twice over: a request refused whole
//! (throttled) by the SDK, and the writes DynamoDB returns as `UnprocessedItems` by the
//! adapter, with backoff. The request bodies the proxy kept show which writes reached
//! moto: each exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tally::adapters::aws::{BatchRetry, DynamoStore, KmsKeyService};
use tally::ports::{
    Attr, Condition, EncryptionContext, Item, Key, KeyError, KeyService, Store, StoreError, WriteOp,
};
use tally_tests::moto;
use tally_tests::throttling_proxy::{
    Counts, DYNAMODB_BATCH_WRITE_ITEM, DYNAMODB_PUT_ITEM, DYNAMODB_TRANSACT_WRITE_ITEMS,
    DYNAMODB_UPDATE_ITEM, Fault, KMS_DECRYPT, KMS_GENERATE_DATA_KEY, ThrottlingProxy,
};

/// DynamoDB's two throttling answers: request rate, and provisioned capacity.
const DYNAMODB_THROTTLES: [Fault; 2] = [
    Fault::DynamoDbThrottling,
    Fault::DynamoDbProvisionedThroughputExceeded,
];

/// Throttled twice, then forwarded: the call's third (last standard) attempt passes.
const THROTTLED_TWICE: Counts = Counts {
    throttled: 2,
    forwarded: 1,
    failed_after_forwarding: 0,
};

/// A fresh moto table, a proxy in front of moto, the table's store through the proxy,
/// and the same table's store straight on moto (to seed and to check, unthrottled).
struct ProxiedTable {
    proxy: ThrottlingProxy,
    through_proxy: DynamoStore,
    direct: DynamoStore,
}

impl ProxiedTable {
    async fn new() -> Self {
        let direct = moto::fresh_table().await;
        let proxy = ThrottlingProxy::start().await;
        let client = aws_sdk_dynamodb::Client::new(&proxy.sdk_config().await);
        let through_proxy = DynamoStore::new(client, direct.table_name());
        Self {
            proxy,
            through_proxy,
            direct,
        }
    }
}

/// How many attempts the DynamoDB and KMS clients make per call under Tally's
/// configuration.
async fn max_attempts(proxy: &ThrottlingProxy) -> (u32, u32) {
    let config = proxy.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config)
        .config()
        .retry_config()
        .map(|r| r.max_attempts());
    let kms = aws_sdk_kms::Client::new(&config)
        .config()
        .retry_config()
        .map(|r| r.max_attempts());
    (
        dynamodb.expect("DynamoDB's client has a retry configuration"),
        kms.expect("KMS's client has a retry configuration"),
    )
}

fn item(pk: &str, sk: &str, value: i64) -> Item {
    Item::new(Key::new(pk, sk))
        .with("name", Attr::S(sk.to_owned()))
        .with("value", Attr::N(value))
}

fn puts(items: &[Item], condition: Condition) -> Vec<WriteOp> {
    items
        .iter()
        .map(|item| WriteOp::Put {
            item: item.clone(),
            condition,
        })
        .collect()
}

/// The `ClientRequestToken` of a TransactWriteItems request body.
fn client_request_token(body: &[u8]) -> Option<String> {
    let request: Value = serde_json::from_slice(body).expect("a JSON request body");
    request["ClientRequestToken"].as_str().map(str::to_owned)
}

/// Whether a store call failed as a backend error carrying this error code.
fn is_throttling<T>(result: &Result<T, StoreError>, code: &str) -> bool {
    matches!(result, Err(StoreError::Backend(message)) if message.contains(code))
}

/// A KmsKeyService through the proxy, on a new key (created through the proxy too).
async fn proxied_kms_key(proxy: &ThrottlingProxy) -> KmsKeyService {
    let client = aws_sdk_kms::Client::new(&proxy.sdk_config().await);
    let created = client
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
        .description("tally retry test key")
        .send()
        .await
        .expect("moto creates the key");
    let key_id = created
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .expect("a created key has an id");
    KmsKeyService::new(client, &key_id)
}

/// A conditional put whose first attempts were throttled (never reached the table) is
/// retried, applied once, and not mistaken for a failed condition on the retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_conditional_put_is_retried_and_applied_once() {
    for fault in DYNAMODB_THROTTLES {
        let table = ProxiedTable::new().await;
        let stored = item(&super::unique("TENANT#"), "USER#1", 42);
        table.proxy.fail(DYNAMODB_PUT_ITEM, fault, 2);

        let put = table
            .through_proxy
            .put(stored.clone(), Condition::Absent)
            .await;

        assert!(put.is_ok(), "{fault:?}: {put:?}");
        assert_eq!(
            table.proxy.counts(DYNAMODB_PUT_ITEM),
            THROTTLED_TWICE,
            "{fault:?}"
        );
        assert_eq!(
            table.direct.get(&stored.key).await.unwrap(),
            Some(stored),
            "{fault:?}"
        );
    }
}

/// An atomic increment whose first attempts were throttled adds its amount once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_increment_adds_exactly_once() {
    for fault in DYNAMODB_THROTTLES {
        let table = ProxiedTable::new().await;
        let key = Key::new(super::unique("TENANT#"), "COUNTER#requests");
        let seeded = table.direct.increment(&key, "count", 1, None).await;
        assert_eq!(seeded.unwrap(), 1, "{fault:?}");
        table.proxy.fail(DYNAMODB_UPDATE_ITEM, fault, 2);

        let counted = table.through_proxy.increment(&key, "count", 1, None).await;

        assert_eq!(counted.unwrap(), 2, "{fault:?}");
        assert_eq!(
            table.proxy.counts(DYNAMODB_UPDATE_ITEM),
            THROTTLED_TWICE,
            "{fault:?}"
        );
        let stored = table.direct.get(&key).await.unwrap().expect("the counter");
        assert_eq!(stored.n("count"), Some(2), "{fault:?}");
    }
}

/// A transaction whose first attempts were throttled is sent to the table once, and
/// each of its writes applies: its conditional puts do not fail on the retry, and its
/// conditioned delete finds the item it removes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_transaction_writes_each_item_once() {
    for fault in DYNAMODB_THROTTLES {
        let table = ProxiedTable::new().await;
        let pk = super::unique("TENANT#");
        let old = item(&pk, "OLD", 0);
        table
            .direct
            .put(old.clone(), Condition::Absent)
            .await
            .unwrap();
        let new = [item(&pk, "A", 1), item(&pk, "B", 2), item(&pk, "C", 3)];
        let mut ops = puts(&new, Condition::Absent);
        ops.push(WriteOp::Delete {
            key: old.key.clone(),
            condition: Condition::Exists,
        });
        table.proxy.fail(DYNAMODB_TRANSACT_WRITE_ITEMS, fault, 2);

        let applied = table.through_proxy.transact(ops).await;

        assert!(applied.is_ok(), "{fault:?}: {applied:?}");
        assert_eq!(
            table.proxy.counts(DYNAMODB_TRANSACT_WRITE_ITEMS),
            THROTTLED_TWICE,
            "{fault:?}"
        );
        for written in new {
            let key = written.key.clone();
            let stored = table.direct.get(&key).await.unwrap();
            assert_eq!(stored, Some(written), "{fault:?}");
        }
        assert_eq!(table.direct.get(&old.key).await.unwrap(), None, "{fault:?}");
    }
}

/// Every attempt of one `transact` call is the same request, carrying the same
/// `ClientRequestToken`; the next call carries a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_of_a_transaction_carries_the_same_client_request_token() {
    let table = ProxiedTable::new().await;
    let pk = super::unique("TENANT#");
    let first = [item(&pk, "A", 1), item(&pk, "B", 2)];
    table
        .proxy
        .fail(DYNAMODB_TRANSACT_WRITE_ITEMS, Fault::DynamoDbThrottling, 2);
    table
        .through_proxy
        .transact(puts(&first, Condition::Absent))
        .await
        .unwrap();
    let second = [item(&pk, "C", 3), item(&pk, "D", 4)];
    table
        .through_proxy
        .transact(puts(&second, Condition::Absent))
        .await
        .unwrap();

    let bodies = table.proxy.bodies(DYNAMODB_TRANSACT_WRITE_ITEMS);
    assert_eq!(
        bodies.len(),
        4,
        "three attempts of the first call, one of the second"
    );
    assert!(
        bodies[..3].iter().all(|body| body == &bodies[0]),
        "every attempt of a call sends the same request"
    );
    let token = client_request_token(&bodies[0]).expect("a ClientRequestToken");
    assert!(!token.is_empty());
    let next = client_request_token(&bodies[3]).expect("a ClientRequestToken");
    assert_ne!(next, token, "each call has its own token");
}

/// The ambiguous failure: the transaction reached the table, but the client was told
/// of an internal error (HTTP 500). The SDK retries it, resending the very request and
/// its `ClientRequestToken`, by which DynamoDB answers a resend of an applied
/// transaction (within ten minutes) without applying it again. moto ignores the token
/// and would apply the resend, so this case writes unconditional puts and asserts only
/// on the retry and the token, not on the server's deduplication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_failing_after_it_was_applied_is_resent_with_the_same_token() {
    let table = ProxiedTable::new().await;
    let pk = super::unique("TENANT#");
    let written = [item(&pk, "A", 1), item(&pk, "B", 2)];
    table.proxy.fail(
        DYNAMODB_TRANSACT_WRITE_ITEMS,
        Fault::DynamoDbInternalErrorAfterForwarding,
        1,
    );

    let applied = table
        .through_proxy
        .transact(puts(&written, Condition::None))
        .await;

    assert!(applied.is_ok(), "{applied:?}");
    assert_eq!(
        table.proxy.counts(DYNAMODB_TRANSACT_WRITE_ITEMS),
        Counts {
            throttled: 0,
            forwarded: 2,
            failed_after_forwarding: 1,
        }
    );
    let bodies = table.proxy.bodies(DYNAMODB_TRANSACT_WRITE_ITEMS);
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1], bodies[0], "the retry resends the same request");
    assert!(client_request_token(&bodies[0]).is_some_and(|t| !t.is_empty()));
    for item in written {
        let key = item.key.clone();
        assert_eq!(table.direct.get(&key).await.unwrap(), Some(item));
    }
}

/// GenerateDataKey and Decrypt, each throttled twice, are retried, and the data key
/// opens to the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_kms_calls_are_retried_and_the_data_key_round_trips() {
    let proxy = ThrottlingProxy::start().await;
    let keys = proxied_kms_key(&proxy).await;
    let context = EncryptionContext::tenant(&super::unique("tenant-"));
    proxy.fail(KMS_GENERATE_DATA_KEY, Fault::KmsThrottling, 2);
    proxy.fail(KMS_DECRYPT, Fault::KmsThrottling, 2);

    let (plain, wrapped) = keys.generate_data_key(&context).await.unwrap();
    let opened = keys.decrypt_data_key(&wrapped, &context).await.unwrap();

    assert_eq!(opened.expose_bytes(), plain.expose_bytes());
    assert_eq!(proxy.counts(KMS_GENERATE_DATA_KEY), THROTTLED_TWICE);
    assert_eq!(proxy.counts(KMS_DECRYPT), THROTTLED_TWICE);
}

/// Throttled on every attempt, each write gives up after the SDK's last attempt with a
/// backend error naming the throttling (not a failed condition, not a panic), and
/// nothing reached the table; a KMS call likewise fails as a backend error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_beyond_the_retry_budget_is_an_error_and_writes_nothing() {
    let table = ProxiedTable::new().await;
    let (dynamodb_attempts, kms_attempts) = max_attempts(&table.proxy).await;
    assert!(
        dynamodb_attempts > 1 && kms_attempts > 1,
        "the SDK retries at all"
    );
    let gave_up = |attempts| Counts {
        throttled: attempts,
        forwarded: 0,
        failed_after_forwarding: 0,
    };
    let pk = super::unique("TENANT#");

    let put = item(&pk, "PUT", 1);
    table
        .proxy
        .fail(DYNAMODB_PUT_ITEM, Fault::DynamoDbThrottling, u32::MAX);
    let refused = table
        .through_proxy
        .put(put.clone(), Condition::Absent)
        .await;
    assert!(
        is_throttling(&refused, "ThrottlingException"),
        "{refused:?}"
    );
    assert_eq!(
        table.proxy.counts(DYNAMODB_PUT_ITEM),
        gave_up(dynamodb_attempts)
    );
    assert_eq!(table.direct.get(&put.key).await.unwrap(), None);

    let counter = Key::new(pk.as_str(), "COUNTER");
    table.proxy.fail(
        DYNAMODB_UPDATE_ITEM,
        Fault::DynamoDbProvisionedThroughputExceeded,
        u32::MAX,
    );
    let refused = table
        .through_proxy
        .increment(&counter, "count", 1, None)
        .await;
    assert!(
        is_throttling(&refused, "ProvisionedThroughputExceededException"),
        "{refused:?}"
    );
    assert_eq!(
        table.proxy.counts(DYNAMODB_UPDATE_ITEM),
        gave_up(dynamodb_attempts)
    );
    assert_eq!(table.direct.get(&counter).await.unwrap(), None);

    let transaction = [item(&pk, "A", 1), item(&pk, "B", 2)];
    table.proxy.fail(
        DYNAMODB_TRANSACT_WRITE_ITEMS,
        Fault::DynamoDbThrottling,
        u32::MAX,
    );
    let refused = table
        .through_proxy
        .transact(puts(&transaction, Condition::Absent))
        .await;
    assert!(
        is_throttling(&refused, "ThrottlingException"),
        "{refused:?}"
    );
    assert_eq!(
        table.proxy.counts(DYNAMODB_TRANSACT_WRITE_ITEMS),
        gave_up(dynamodb_attempts)
    );
    for item in &transaction {
        assert_eq!(table.direct.get(&item.key).await.unwrap(), None);
    }

    let keys = proxied_kms_key(&table.proxy).await;
    table
        .proxy
        .fail(KMS_GENERATE_DATA_KEY, Fault::KmsThrottling, u32::MAX);
    let context = EncryptionContext::tenant(&super::unique("tenant-"));
    let refused = keys.generate_data_key(&context).await;
    assert!(
        matches!(&refused, Err(KeyError::Backend(message)) if message.contains("ThrottlingException")),
        "{:?}",
        refused.as_ref().map(|_| "a data key")
    );
    assert_eq!(
        table.proxy.counts(KMS_GENERATE_DATA_KEY),
        gave_up(kms_attempts)
    );
}

/// `count` items of a fresh partition, `ITEM#000`...
fn numbered(count: usize) -> Vec<Item> {
    let pk = super::unique("TENANT#");
    (0..count)
        .map(|i| item(&pk, &format!("ITEM#{i:03}"), i as i64))
        .collect()
}

/// The sort keys of the puts of a BatchWriteItem request body, in order.
fn batch_sort_keys(body: &[u8]) -> Vec<String> {
    let request: Value = serde_json::from_slice(body).expect("a JSON request body");
    let tables = request["RequestItems"].as_object().expect("RequestItems");
    tables
        .values()
        .flat_map(|writes| writes.as_array().cloned().unwrap_or_default())
        .map(|write| {
            write["PutRequest"]["Item"]["sk"]["S"]
                .as_str()
                .expect("a put with a sort key")
                .to_owned()
        })
        .collect()
}

/// How often each sort key reached moto, from the bodies of every BatchWriteItem
/// request in order: the first `faulted` were answered by the proxy and forwarded
/// `forwarded_of(n)` of their `n` writes; the others were forwarded whole.
fn writes_reaching_the_table(
    bodies: &[axum::body::Bytes],
    faulted: usize,
    forwarded_of: impl Fn(usize) -> usize,
) -> BTreeMap<String, u32> {
    let mut reached = BTreeMap::new();
    for (n, body) in bodies.iter().enumerate() {
        let keys = batch_sort_keys(body);
        let sent = if n < faulted {
            forwarded_of(keys.len())
        } else {
            keys.len()
        };
        for key in keys.into_iter().take(sent) {
            *reached.entry(key).or_insert(0) += 1;
        }
    }
    reached
}

/// Each of `items` reached the table once, and reads back as written.
async fn each_written_once(table: &ProxiedTable, items: &[Item], reached: &BTreeMap<String, u32>) {
    let expected: BTreeMap<String, u32> = items.iter().map(|i| (i.key.sk.clone(), 1)).collect();
    assert_eq!(reached, &expected);
    for written in items {
        let stored = table.direct.get(&written.key).await.unwrap();
        assert_eq!(stored.as_ref(), Some(written));
    }
}

/// Sixty items take three BatchWriteItem requests (25, 25, 10). Two throttled answers
/// are retried by the SDK, and every item reaches the table once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_batch_write_is_retried_and_writes_each_item_once() {
    for fault in DYNAMODB_THROTTLES {
        let table = ProxiedTable::new().await;
        let items = numbered(60);
        table.proxy.fail(DYNAMODB_BATCH_WRITE_ITEM, fault, 2);

        let written = table.through_proxy.batch_put(items.clone()).await;

        assert!(written.is_ok(), "{fault:?}: {written:?}");
        assert_eq!(
            table.proxy.counts(DYNAMODB_BATCH_WRITE_ITEM),
            Counts {
                throttled: 2,
                forwarded: 3,
                failed_after_forwarding: 0,
            },
            "{fault:?}"
        );
        let bodies = table.proxy.bodies(DYNAMODB_BATCH_WRITE_ITEM);
        let reached = writes_reaching_the_table(&bodies, 2, |_| 0);
        each_written_once(&table, &items, &reached).await;
    }
}

/// DynamoDB returns part of a batch as `UnprocessedItems`: the adapter resends those,
/// and only those, until all have landed. Each of the three requests is half processed
/// once, so three more requests carry the other halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprocessed_items_are_resent_until_every_item_has_landed_once() {
    let table = ProxiedTable::new().await;
    let items = numbered(60);
    table
        .proxy
        .fail(DYNAMODB_BATCH_WRITE_ITEM, Fault::DynamoDbUnprocessedHalf, 3);

    let written = table.through_proxy.batch_put(items.clone()).await;

    assert!(written.is_ok(), "{written:?}");
    assert_eq!(
        table.proxy.counts(DYNAMODB_BATCH_WRITE_ITEM),
        Counts {
            throttled: 0,
            forwarded: 6,
            failed_after_forwarding: 0,
        }
    );
    let bodies = table.proxy.bodies(DYNAMODB_BATCH_WRITE_ITEM);
    let reached = writes_reaching_the_table(&bodies, 3, |n| n - n / 2);
    each_written_once(&table, &items, &reached).await;
}

/// A batch that reached the table but whose answer was lost (HTTP 500) is resent by the
/// SDK as it was; its writes are unconditional, so the resend leaves the same items.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_write_failing_after_it_was_applied_is_resent_harmlessly() {
    let table = ProxiedTable::new().await;
    let items = numbered(60);
    table.proxy.fail(
        DYNAMODB_BATCH_WRITE_ITEM,
        Fault::DynamoDbInternalErrorAfterForwarding,
        1,
    );

    let written = table.through_proxy.batch_put(items.clone()).await;

    assert!(written.is_ok(), "{written:?}");
    assert_eq!(
        table.proxy.counts(DYNAMODB_BATCH_WRITE_ITEM),
        Counts {
            throttled: 0,
            forwarded: 4,
            failed_after_forwarding: 1,
        }
    );
    let bodies = table.proxy.bodies(DYNAMODB_BATCH_WRITE_ITEM);
    assert_eq!(bodies[1..].iter().filter(|b| **b == bodies[0]).count(), 1);
    for item in &items {
        let stored = table.direct.get(&item.key).await.unwrap();
        assert_eq!(stored.as_ref(), Some(item));
    }
}

/// Writes still unprocessed after the adapter's last attempt, or throttled beyond the
/// SDK's, fail the call with a backend error that says how many writes were not done
/// and names no item; here nothing reached the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_writes_beyond_their_retries_fail_naming_how_many_writes_were_left() {
    let table = ProxiedTable::new().await;
    let (dynamodb_attempts, _) = max_attempts(&table.proxy).await;
    let quick = BatchRetry {
        attempts: 3,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
    };
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&table.proxy.sdk_config().await),
        table.direct.table_name(),
    )
    .with_batch_retry(quick);
    // Thirty items: two requests (25 and 5), both in flight at once.
    let items = numbered(30);

    table.proxy.fail(
        DYNAMODB_BATCH_WRITE_ITEM,
        Fault::DynamoDbUnprocessedAll,
        u32::MAX,
    );
    let refused = store.batch_put(items.clone()).await;
    let Err(StoreError::Backend(message)) = &refused else {
        panic!("a backend error: {refused:?}");
    };
    assert!(
        message.contains("unprocessed after 3 requests"),
        "{message}"
    );
    assert!(message.contains("30 of 30"), "{message}");
    assert!(
        !message.contains("ITEM#"),
        "no item in the error: {message}"
    );
    assert_eq!(
        table.proxy.counts(DYNAMODB_BATCH_WRITE_ITEM).throttled,
        2 * 3,
        "three requests for each of the two batches"
    );

    table.proxy.fail(
        DYNAMODB_BATCH_WRITE_ITEM,
        Fault::DynamoDbThrottling,
        u32::MAX,
    );
    let before = table.proxy.counts(DYNAMODB_BATCH_WRITE_ITEM).throttled;
    let refused = store.batch_put(items.clone()).await;
    assert!(
        is_throttling(&refused, "ThrottlingException"),
        "{refused:?}"
    );
    assert!(
        matches!(&refused, Err(StoreError::Backend(m)) if m.contains("30 of 30")),
        "{refused:?}"
    );
    assert_eq!(
        table.proxy.counts(DYNAMODB_BATCH_WRITE_ITEM).throttled - before,
        2 * dynamodb_attempts,
        "the SDK's attempts for each of the two batches"
    );
    for item in &items {
        assert_eq!(table.direct.get(&item.key).await.unwrap(), None);
    }
}
