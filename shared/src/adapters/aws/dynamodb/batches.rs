//! `batch_put` and `batch_delete` on `BatchWriteItem`.
//!
//! A call is cut into requests of at most [`MAX_BATCH_WRITES`] writes (DynamoDB's limit;
//! 25 items of at most 400 KB stay under its 16 MB per request) and at most
//! [`MAX_IN_FLIGHT`] requests run at once: enough to hide the round trip, few enough
//! not to flood one partition or the Lambda's connections.
//!
//! Two kinds of retry, each for its own failure:
//!
//! * a request refused as a whole (throttling, a 5xx) is retried by the SDK's standard
//!   retries, exactly like every other call of the adapter;
//! * a request DynamoDB accepted but did not finish returns the writes it skipped as
//!   `UnprocessedItems` (a hot partition, mostly). Those are resent, and only those,
//!   after an exponential backoff with full jitter (AWS's advice, so parallel writers
//!   do not retry in lockstep), up to [`BatchRetry::attempts`] requests in all; then
//!   the call fails with how many writes were left, never what they were.
//!
//! Every write is unconditional, so sending one twice (a retry after an ambiguous
//! failure) leaves the same item: the calls are idempotent.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use tokio::task::JoinSet;

use super::backend;
use super::expressions::{item_map, key_map};
use crate::ports::store::{Item, Key, StoreError};

/// DynamoDB's limit of writes per `BatchWriteItem` request.
pub(super) const MAX_BATCH_WRITES: usize = 25;
/// Requests of one call in flight at once.
pub(super) const MAX_IN_FLIGHT: usize = 4;

/// How unprocessed writes are retried: `attempts` requests in all for one batch, the
/// n-th retry after a random delay of up to `base * 2^(n-1)`, capped at `cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchRetry {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for BatchRetry {
    /// Eight requests, the last retry at most 2 s later: about 5 s of waiting at worst
    /// (2.6 s on average) before a batch gives up, which lets a throttled partition
    /// recover without holding an ingest pass for long (a failed pass resumes later).
    fn default() -> Self {
        Self {
            attempts: 8,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(2),
        }
    }
}

impl BatchRetry {
    /// The delay before retry number `retry` (1 for the first): full jitter.
    fn delay(&self, retry: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
            .min(self.cap);
        let ceiling_micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        // Without randomness the full delay is still a correct (if less spread) backoff.
        let random = getrandom::u64().unwrap_or(u64::MAX);
        Duration::from_micros(random % ceiling_micros.saturating_add(1))
    }
}

/// The requests of a `batch_put`: one per key, the last item given for it (DynamoDB
/// refuses a request naming one key twice, and the port promises last-wins).
pub(super) fn put_requests(items: Vec<Item>) -> Result<Vec<WriteRequest>, StoreError> {
    let mut last: HashMap<Key, usize> = HashMap::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        last.insert(item.key.clone(), index);
    }
    items
        .into_iter()
        .enumerate()
        .filter(|(index, item)| last.get(&item.key) == Some(index))
        .map(|(_, item)| {
            let put = PutRequest::builder()
                .set_item(Some(item_map(&item)))
                .build();
            put.map(|put| WriteRequest::builder().put_request(put).build())
        })
        .collect::<Result<_, _>>()
        .map_err(build_error)
}

/// The requests of a `batch_delete`: one per distinct key.
pub(super) fn delete_requests(keys: Vec<Key>) -> Result<Vec<WriteRequest>, StoreError> {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.into_iter()
        .filter(|key| seen.insert(key.clone()))
        .map(|key| {
            let delete = DeleteRequest::builder()
                .set_key(Some(key_map(&key)))
                .build();
            delete.map(|delete| WriteRequest::builder().delete_request(delete).build())
        })
        .collect::<Result<_, _>>()
        .map_err(build_error)
}

/// The builders above fail only on a missing item or key, which they always set.
fn build_error<E>(_: E) -> StoreError {
    StoreError::Invalid("batch write could not be built".into())
}

/// Sends every request, [`MAX_BATCH_WRITES`] to a call and [`MAX_IN_FLIGHT`] calls at
/// once. On the first failure no further call starts; those in flight finish, and the
/// error says how many writes are not known to be done.
pub(super) async fn write_all(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
    retry: BatchRetry,
) -> Result<(), StoreError> {
    let total = requests.len();
    let mut batches = Vec::with_capacity(total.div_ceil(MAX_BATCH_WRITES));
    let mut rest = requests;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(MAX_BATCH_WRITES));
        batches.push(std::mem::replace(&mut rest, tail));
    }
    let mut pending = batches.into_iter();
    let mut in_flight = JoinSet::new();
    let mut failure: Option<(usize, StoreError)> = None;
    loop {
        while failure.is_none() && in_flight.len() < MAX_IN_FLIGHT {
            let Some(batch) = pending.next() else { break };
            in_flight.spawn(write_batch(client.clone(), table.to_owned(), batch, retry));
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let outcome = joined.unwrap_or_else(|_| {
            // A panicked or cancelled task: nothing says how far it got.
            Err((
                MAX_BATCH_WRITES,
                StoreError::Backend("a BatchWriteItem task did not finish".into()),
            ))
        });
        if let Err((left, error)) = outcome {
            let (so_far, first) = failure.take().unwrap_or((0, error));
            failure = Some((so_far + left, first));
        }
    }
    match failure {
        None => Ok(()),
        Some((left, error)) => {
            let unsent: usize = pending.map(|batch| batch.len()).sum();
            let cause = match error {
                StoreError::Backend(message) => message,
                other => other.to_string(),
            };
            Err(StoreError::Backend(format!(
                "{cause} ({} of {total} batched writes not done)",
                left + unsent
            )))
        }
    }
}

/// One `BatchWriteItem` request and its unprocessed writes' retries. On failure, how
/// many of its writes are not known to be done, and why.
async fn write_batch(
    client: Client,
    table: String,
    mut requests: Vec<WriteRequest>,
    retry: BatchRetry,
) -> Result<(), (usize, StoreError)> {
    for attempt in 0..retry.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(retry.delay(attempt)).await;
        }
        let out = client
            .batch_write_item()
            .request_items(table.as_str(), requests.clone())
            .send()
            .await
            .map_err(|e| (requests.len(), backend("BatchWriteItem", &e)))?;
        requests = out
            .unprocessed_items
            .and_then(|mut unprocessed| unprocessed.remove(&table))
            .unwrap_or_default();
        if requests.is_empty() {
            return Ok(());
        }
    }
    Err((
        requests.len(),
        StoreError::Backend(format!(
            "DynamoDB BatchWriteItem: {} writes still unprocessed after {} requests",
            requests.len(),
            retry.attempts.max(1)
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::Attr;

    #[test]
    fn the_backoff_stays_under_its_doubling_ceiling_and_the_cap() {
        let retry = BatchRetry::default();
        for _ in 0..100 {
            assert!(retry.delay(1) <= Duration::from_millis(50));
            assert!(retry.delay(3) <= Duration::from_millis(200));
            assert!(retry.delay(40) <= Duration::from_secs(2));
        }
    }

    #[test]
    fn of_duplicate_keys_only_the_last_item_or_one_delete_is_sent() {
        let item = |sk: &str, n| Item::new(Key::new("p", sk)).with("n", Attr::N(n));
        let requests = put_requests(vec![item("a", 1), item("b", 2), item("a", 3)]).unwrap();
        let written: Vec<_> = requests
            .iter()
            .filter_map(|r| r.put_request())
            .map(|p| (p.item()["sk"].clone(), p.item()["n"].clone()))
            .collect();
        assert_eq!(written.len(), 2);
        assert_eq!(
            written[0].1,
            aws_sdk_dynamodb::types::AttributeValue::N("2".into())
        );
        assert_eq!(
            written[1].1,
            aws_sdk_dynamodb::types::AttributeValue::N("3".into())
        );
        let deletes = delete_requests(vec![Key::new("p", "a"), Key::new("p", "a")]).unwrap();
        assert_eq!(deletes.len(), 1);
    }
}
