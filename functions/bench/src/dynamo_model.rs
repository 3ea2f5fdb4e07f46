//! A DynamoDB cost and time model around any [`Store`]: every call is passed on to the
//! wrapped store (the embedded SQLite one in the bench) and counted as the DynamoDB
//! adapter (`shared/src/adapters/aws/dynamodb.rs`) would make it, with DynamoDB's
//! rounding rules, on a simulated clock. Nothing sleeps.
//!
//! # Capacity (on-demand request units)
//!
//! - **Item size**: the sum of the attribute names' and values' lengths, as DynamoDB
//!   sizes them: `pk`, `sk` and `version` included (the adapter stores the key and the
//!   version as attributes of those names), strings by their UTF-8 bytes, binaries by
//!   their raw bytes (not base64), numbers as 1 byte per two significant digits plus 1.
//!   This is DynamoDB's own published approximation; no index adds to it (the table has
//!   none).
//! - **Writes**: 1 WRU per started KB (1,024 bytes) per item, at least 1. A put or an
//!   update is charged on the larger of the item before and after; a delete on the item
//!   deleted (1 when absent). A write whose condition fails is still charged (on the
//!   existing item, at least 1). `TransactWriteItems` charges each write twice, a
//!   condition check included; the adapter drops checks that have no condition and
//!   makes no call when nothing is left. `BatchWriteItem` charges each item once.
//! - **Reads**: the adapter reads strongly consistently (`consistent_read(true)` on
//!   `GetItem` and `Query`), so 1 RRU per started 4 KB ([`Consistency::Strong`]);
//!   eventually consistent reads would cost half, transactional reads twice (the
//!   adapter makes neither). A `GetItem` of a missing item costs 1 RRU. A `Query` is
//!   charged on the summed size of the items it read, rounded up to 4 KB, at least 1
//!   RRU per call; the adapter asks for one item more than the page to know whether
//!   another page exists, which is counted (at the page's average size), and a result
//!   over 1 MB takes one `Query` call per started MB (DynamoDB pages at 1 MB).
//!
//! # Time
//!
//! Each call takes a fixed latency ([`SINGLE_ITEM_LATENCY`] for `GetItem`, `PutItem`,
//! `DeleteItem`, `UpdateItem`; [`MULTI_ITEM_LATENCY`] for `Query`,
//! `TransactWriteItems` and `BatchWriteItem`). Each partition key serves at most
//! [`PARTITION_WRU_PER_SEC`] and [`PARTITION_RRU_PER_SEC`] (DynamoDB's per-partition
//! limits, no burst credit): a call's units occupy its partitions for `units / limit`
//! seconds, and a call to a partition still busy waits until it is free. A call starts,
//! in simulated time, when the last call that had *finished* (in real time) before it
//! began had finished: calls made one after another add up, calls in flight together
//! overlap. The simulated time is DynamoDB's share of a pass only: the CPU time of
//! sealing and of the engine is not in it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tally::ports::store::{Attr, Condition, Item, Key, Page, Query, Store, StoreError, WriteOp};

/// Latency of a call that reads or writes one item.
pub const SINGLE_ITEM_LATENCY: Duration = Duration::from_millis(5);
/// Latency of a `Query` page, a `TransactWriteItems` or a `BatchWriteItem`.
pub const MULTI_ITEM_LATENCY: Duration = Duration::from_millis(10);
/// Write units one partition serves per second.
pub const PARTITION_WRU_PER_SEC: f64 = 1_000.0;
/// Read units one partition serves per second.
pub const PARTITION_RRU_PER_SEC: f64 = 3_000.0;
/// Items per `BatchWriteItem` call (DynamoDB's limit).
pub const BATCH_WRITE_ITEMS: usize = 25;

const WRITE_UNIT_BYTES: u64 = 1_024;
const READ_UNIT_BYTES: u64 = 4 * 1_024;
/// A `Query` returns at most this much per call.
const QUERY_PAGE_BYTES: u64 = 1_024 * 1_024;

/// How reads are made (the DynamoDB adapter's are strongly consistent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// 1 RRU per started 4 KB.
    Strong,
    /// Half as much.
    #[allow(dead_code)]
    Eventual,
}

impl Consistency {
    /// Read units in halves, so an eventually consistent read of 4 KB (0.5) stays exact.
    fn half_units(self, bytes: u64) -> u64 {
        let units = bytes.div_ceil(READ_UNIT_BYTES).max(1);
        match self {
            Consistency::Strong => units * 2,
            Consistency::Eventual => units,
        }
    }
}

/// The DynamoDB API calls the adapter makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    GetItem,
    PutItem,
    DeleteItem,
    UpdateItem,
    Query,
    TransactWriteItems,
    BatchWriteItem,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::GetItem => "GetItem",
            Op::PutItem => "PutItem",
            Op::DeleteItem => "DeleteItem",
            Op::UpdateItem => "UpdateItem",
            Op::Query => "Query",
            Op::TransactWriteItems => "TransactWriteItems",
            Op::BatchWriteItem => "BatchWriteItem",
        }
    }
}

/// What one kind of call added up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub calls: u64,
    /// Items read, written or deleted (a query's extra look-ahead item included).
    pub items: u64,
    pub wru: u64,
    /// Read units in halves (see [`Counts::rru`]).
    pub rru_halves: u64,
}

impl Counts {
    pub fn rru(&self) -> f64 {
        self.rru_halves as f64 / 2.0
    }

    fn add(&mut self, other: &Counts) {
        self.calls += other.calls;
        self.items += other.items;
        self.wru += other.wru;
        self.rru_halves += other.rru_halves;
    }
}

/// What the store was asked since the last [`ModelStore::take`].
#[derive(Clone, Debug, Default)]
pub struct Usage {
    pub by_op: BTreeMap<Op, Counts>,
    /// Simulated DynamoDB time: latencies plus waits for busy partitions.
    pub simulated: Duration,
    /// The part of `simulated` spent waiting for a partition's throughput.
    pub throttled: Duration,
}

impl Usage {
    pub fn total(&self) -> Counts {
        let mut total = Counts::default();
        for counts in self.by_op.values() {
            total.add(counts);
        }
        total
    }
}

/// The units one call puts on one partition key.
#[derive(Default)]
struct Load {
    wru: u64,
    rru_halves: u64,
}

/// One call, as charged.
struct Charge {
    op: Op,
    calls: u64,
    items: u64,
    latency: Duration,
    /// By partition key.
    loads: HashMap<String, Load>,
}

impl Charge {
    fn new(op: Op, calls: u64, items: u64, latency: Duration) -> Self {
        Charge {
            op,
            calls,
            items,
            latency,
            loads: HashMap::new(),
        }
    }

    fn write(mut self, pk: &str, wru: u64) -> Self {
        self.loads.entry(pk.to_owned()).or_default().wru += wru;
        self
    }

    fn read(mut self, pk: &str, rru_halves: u64) -> Self {
        self.loads.entry(pk.to_owned()).or_default().rru_halves += rru_halves;
        self
    }
}

/// When a partition's write and read capacity are next free, in simulated seconds.
#[derive(Default)]
struct Partition {
    writes_free_at: f64,
    reads_free_at: f64,
}

#[derive(Default)]
struct State {
    usage: Usage,
    /// Simulated time (seconds) by which every call finished so far had finished.
    frontier: f64,
    throttled: f64,
    partitions: HashMap<String, Partition>,
}

/// The wrapper: a [`Store`] that counts and times what it passes on.
pub struct ModelStore {
    inner: Arc<dyn Store>,
    consistency: Consistency,
    state: Mutex<State>,
}

impl ModelStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        ModelStore {
            inner,
            consistency: Consistency::Strong,
            state: Mutex::new(State::default()),
        }
    }

    /// The usage since the last call, and a fresh start: counters at zero, the clock at
    /// zero and every partition idle (passes are an hour apart).
    pub fn take(&self) -> Usage {
        let mut state = self.lock();
        let mut usage = std::mem::take(&mut state.usage);
        usage.simulated = Duration::from_secs_f64(state.frontier);
        usage.throttled = Duration::from_secs_f64(state.throttled);
        *state = State::default();
        usage
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while counting leaves the counters as they were: still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The simulated start of a call beginning now.
    fn begin(&self) -> f64 {
        self.lock().frontier
    }

    /// Counts a finished call that began at `start`, and moves the clock.
    fn finish(&self, start: f64, charge: Charge) {
        let mut state = self.lock();
        let mut served_from = start;
        let mut total = Counts {
            calls: charge.calls,
            items: charge.items,
            ..Counts::default()
        };
        for (pk, load) in &charge.loads {
            total.wru += load.wru;
            total.rru_halves += load.rru_halves;
            let partition = state.partitions.entry(pk.clone()).or_default();
            if load.wru > 0 {
                let from = start.max(partition.writes_free_at);
                served_from = served_from.max(from);
                partition.writes_free_at = from + load.wru as f64 / PARTITION_WRU_PER_SEC;
            }
            if load.rru_halves > 0 {
                let from = start.max(partition.reads_free_at);
                served_from = served_from.max(from);
                partition.reads_free_at =
                    from + load.rru_halves as f64 / 2.0 / PARTITION_RRU_PER_SEC;
            }
        }
        let end = served_from + charge.latency.as_secs_f64() * charge.calls as f64;
        state.throttled += served_from - start;
        state.frontier = state.frontier.max(end);
        state.usage.by_op.entry(charge.op).or_default().add(&total);
    }

    /// The size of the stored item at `key` (0 when absent), read from the wrapped store
    /// without being counted: DynamoDB knows it without a read of ours.
    async fn stored_size(&self, key: &Key) -> Result<u64, StoreError> {
        Ok(self.inner.get(key).await?.as_ref().map_or(0, item_size))
    }

    /// Counts a `BatchWriteItem` sequence: `writes` are (partition key, item size
    /// before, item size after) per item, sent in calls of 25 one after another.
    pub fn batch_written(&self, start: f64, writes: &[(String, u64, u64)]) {
        if writes.is_empty() {
            return;
        }
        let calls = writes.len().div_ceil(BATCH_WRITE_ITEMS) as u64;
        let mut charge = Charge::new(
            Op::BatchWriteItem,
            calls,
            writes.len() as u64,
            MULTI_ITEM_LATENCY,
        );
        for (pk, before, after) in writes {
            charge = charge.write(pk, write_units(*before.max(after)));
        }
        self.finish(start, charge);
    }
}

/// DynamoDB's size of an item as the adapter stores it (see the module's notes).
pub fn item_size(item: &Item) -> u64 {
    let key = &item.key;
    let mut size = ("pk".len() + key.pk.len() + "sk".len() + key.sk.len() + "version".len()) as u64
        + number_size(u128::from(item.version));
    for (name, value) in &item.attrs {
        size += name.len() as u64
            + match value {
                Attr::S(s) => s.len() as u64,
                Attr::N(n) => number_size(u128::from(n.unsigned_abs())),
                Attr::B(b) => b.len() as u64,
            };
    }
    size
}

/// 1 byte per two significant digits (trailing zeros trimmed), plus 1.
fn number_size(n: u128) -> u64 {
    let digits = n.to_string();
    let significant = digits.trim_end_matches('0').len().max(1) as u64;
    significant.div_ceil(2) + 1
}

/// Write units of a standard write of an item of `bytes`: 1 per started KB, at least 1.
pub fn write_units(bytes: u64) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1)
}

#[async_trait]
impl Store for ModelStore {
    fn table_name(&self) -> &str {
        self.inner.table_name()
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let start = self.begin();
        let found = self.inner.get(key).await?;
        let size = found.as_ref().map_or(0, item_size);
        let charge = Charge::new(
            Op::GetItem,
            1,
            u64::from(found.is_some()),
            SINGLE_ITEM_LATENCY,
        )
        .read(&key.pk, self.consistency.half_units(size));
        self.finish(start, charge);
        Ok(found)
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        let before = self.stored_size(&item.key).await?;
        let after = item_size(&item);
        let pk = item.key.pk.clone();
        let start = self.begin();
        let result = self.inner.put(item, condition).await;
        let charged = match &result {
            Ok(()) => before.max(after),
            // Charged on the item that stayed.
            Err(StoreError::ConditionFailed) => before,
            Err(_) => return result,
        };
        let charge =
            Charge::new(Op::PutItem, 1, 1, SINGLE_ITEM_LATENCY).write(&pk, write_units(charged));
        self.finish(start, charge);
        result
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        let before = self.stored_size(key).await?;
        let start = self.begin();
        let result = self.inner.delete(key, condition).await;
        if matches!(result, Ok(()) | Err(StoreError::ConditionFailed)) {
            let charge = Charge::new(Op::DeleteItem, 1, 1, SINGLE_ITEM_LATENCY)
                .write(&key.pk, write_units(before));
            self.finish(start, charge);
        }
        result
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let pk = query.pk.clone();
        let start = self.begin();
        let page = self.inner.query(query).await?;
        let returned: u64 = page.items.iter().map(item_size).sum();
        let mut read_items = page.items.len() as u64;
        let mut bytes = returned;
        if page.next_cursor.is_some() && read_items > 0 {
            // The look-ahead item the adapter reads to know that a next page exists.
            bytes += returned / read_items;
            read_items += 1;
        }
        let calls = bytes.div_ceil(QUERY_PAGE_BYTES).max(1);
        let half_units = self
            .consistency
            .half_units(bytes)
            .max(self.consistency.half_units(0) * calls);
        let charge =
            Charge::new(Op::Query, calls, read_items, MULTI_ITEM_LATENCY).read(&pk, half_units);
        self.finish(start, charge);
        Ok(page)
    }

    async fn increment(
        &self,
        key: &Key,
        attr: &str,
        by: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        let before = self.stored_size(key).await?;
        let start = self.begin();
        let value = self.inner.increment(key, attr, by, expires_at).await?;
        let after = self.stored_size(key).await?;
        let charge = Charge::new(Op::UpdateItem, 1, 1, SINGLE_ITEM_LATENCY)
            .write(&key.pk, write_units(before.max(after)));
        self.finish(start, charge);
        Ok(value)
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(items.len());
        for item in &items {
            let before = self.stored_size(&item.key).await?;
            writes.push((item.key.pk.clone(), before, item_size(item)));
        }
        let start = self.begin();
        self.inner.batch_put(items).await?;
        self.batch_written(start, &writes);
        Ok(())
    }

    async fn batch_delete(&self, keys: Vec<Key>) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(keys.len());
        for key in &keys {
            writes.push((key.pk.clone(), self.stored_size(key).await?, 0));
        }
        let start = self.begin();
        self.inner.batch_delete(keys).await?;
        self.batch_written(start, &writes);
        Ok(())
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        // What each write will be charged on, known before the transaction changes it.
        let mut charged = Vec::with_capacity(ops.len());
        for op in &ops {
            let before = self.stored_size(op.key()).await?;
            let bytes = match op {
                WriteOp::Put { item, .. } => before.max(item_size(item)),
                WriteOp::Delete { .. } => before,
                // The adapter sends no check without a condition.
                WriteOp::Check {
                    condition: Condition::None,
                    ..
                } => continue,
                WriteOp::Check { .. } => before,
            };
            charged.push((op.key().pk.clone(), bytes));
        }
        let start = self.begin();
        let result = self.inner.transact(ops).await;
        if charged.is_empty() || !matches!(result, Ok(()) | Err(StoreError::ConditionFailed)) {
            return result;
        }
        let mut charge = Charge::new(
            Op::TransactWriteItems,
            1,
            charged.len() as u64,
            MULTI_ITEM_LATENCY,
        );
        for (pk, bytes) in &charged {
            charge = charge.write(pk, 2 * write_units(*bytes));
        }
        self.finish(start, charge);
        result
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        // DynamoDB's TTL deletes expired items for free and the adapter makes no call;
        // the embedded store's sweep is passed on uncounted.
        self.inner.purge_expired(now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that keeps items in memory (enough for the model: no conditions).
    #[derive(Default)]
    struct Memory(Mutex<BTreeMap<Key, Item>>);

    impl Memory {
        fn items(&self) -> MutexGuard<'_, BTreeMap<Key, Item>> {
            self.0.lock().unwrap()
        }
    }

    #[async_trait]
    impl Store for Memory {
        fn table_name(&self) -> &str {
            "test"
        }
        async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
            Ok(self.items().get(key).cloned())
        }
        async fn put(&self, item: Item, _: Condition) -> Result<(), StoreError> {
            self.items().insert(item.key.clone(), item);
            Ok(())
        }
        async fn delete(&self, key: &Key, _: Condition) -> Result<(), StoreError> {
            self.items().remove(key);
            Ok(())
        }
        async fn query(&self, query: Query) -> Result<Page, StoreError> {
            let items: Vec<Item> = self
                .items()
                .values()
                .filter(|i| i.key.pk == query.pk && query.sort.contains(&i.key.sk))
                .cloned()
                .collect();
            Ok(Page {
                items,
                next_cursor: None,
            })
        }
        async fn increment(
            &self,
            key: &Key,
            attr: &str,
            by: i64,
            _: Option<i64>,
        ) -> Result<i64, StoreError> {
            let mut items = self.items();
            let item = items
                .entry(key.clone())
                .or_insert_with(|| Item::new(key.clone()));
            let value = item.n(attr).unwrap_or(0) + by;
            item.attrs.insert(attr.to_owned(), Attr::N(value));
            Ok(value)
        }
        async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
            for op in ops {
                match op {
                    WriteOp::Put { item, .. } => self.put(item, Condition::None).await?,
                    WriteOp::Delete { key, .. } => self.delete(&key, Condition::None).await?,
                    WriteOp::Check { .. } => {}
                }
            }
            Ok(())
        }
        async fn purge_expired(&self, _: i64) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    /// An item of exactly `size` bytes as DynamoDB counts them.
    fn item_of(pk: &str, sk: &str, size: u64) -> Item {
        let bare = item_size(&Item::new(Key::new(pk, sk)).with("b", Attr::B(Vec::new())));
        let item = Item::new(Key::new(pk, sk)).with("b", Attr::B(vec![0; (size - bare) as usize]));
        assert_eq!(item_size(&item), size);
        item
    }

    /// Equal to the microsecond (the clock adds up floating-point seconds).
    fn assert_close(got: Duration, want: Duration) {
        assert!(
            got.abs_diff(want) < Duration::from_micros(1),
            "{got:?} != {want:?}"
        );
    }

    fn model() -> ModelStore {
        ModelStore::new(Arc::new(Memory::default()))
    }

    #[test]
    fn sizes_count_names_and_values_as_dynamodb_does() {
        // pk(2)+"T"(1) + sk(2)+"A"(1) + version(7)+1 (1 digit: 2 bytes)
        let bare = Item::new(Key::new("T", "A"));
        assert_eq!(item_size(&bare), 2 + 1 + 2 + 1 + 7 + 2);
        let item = bare
            .clone()
            .with("name", Attr::S("héllo".into()))
            .with("n", Attr::N(12_300))
            .with("blob", Attr::B(vec![1, 2, 3]));
        // "héllo" is 6 bytes; 12300 has 3 significant digits: 2 + 1 bytes.
        assert_eq!(item_size(&item), item_size(&bare) + 4 + 6 + 1 + 3 + 4 + 3);
        assert_eq!(number_size(0), 2);
        assert_eq!(number_size(1_000_000), 2);
        assert_eq!(number_size(123_456), 4);
    }

    #[tokio::test]
    async fn writes_are_charged_per_started_kilobyte_on_the_larger_item() {
        let store = model();
        store
            .put(item_of("T", "a", 1_024), Condition::None)
            .await
            .unwrap();
        store
            .put(item_of("T", "b", 1_025), Condition::None)
            .await
            .unwrap();
        // Replacing a 1,025-byte item with a small one: charged on the larger, 2.
        store
            .put(item_of("T", "b", 100), Condition::None)
            .await
            .unwrap();
        store
            .delete(&Key::new("T", "a"), Condition::None)
            .await
            .unwrap();
        // Deleting what is not there: at least 1.
        store
            .delete(&Key::new("T", "zz"), Condition::None)
            .await
            .unwrap();
        let usage = store.take();
        assert_eq!(usage.by_op[&Op::PutItem].wru, 1 + 2 + 2);
        assert_eq!(usage.by_op[&Op::PutItem].calls, 3);
        assert_eq!(usage.by_op[&Op::DeleteItem].wru, 1 + 1);
        // Five single-item calls one after another, no partition busy: 25 ms.
        assert_close(usage.simulated, SINGLE_ITEM_LATENCY * 5);
        assert_eq!(usage.throttled, Duration::ZERO);
    }

    #[tokio::test]
    async fn transactions_cost_twice_and_skip_unconditional_checks() {
        let store = model();
        let ops = vec![
            WriteOp::Put {
                item: item_of("T", "a", 3_000),
                condition: Condition::None,
            },
            WriteOp::Check {
                key: Key::new("T", "b"),
                condition: Condition::None,
            },
            WriteOp::Check {
                key: Key::new("T", "c"),
                condition: Condition::Absent,
            },
        ];
        store.transact(ops).await.unwrap();
        let only_free_checks = vec![WriteOp::Check {
            key: Key::new("T", "b"),
            condition: Condition::None,
        }];
        store.transact(only_free_checks).await.unwrap();
        let usage = store.take();
        let counts = usage.by_op[&Op::TransactWriteItems];
        assert_eq!(counts.calls, 1);
        assert_eq!(counts.items, 2);
        assert_eq!(counts.wru, 2 * 3 + 2);
    }

    #[tokio::test]
    async fn reads_round_the_sum_up_to_4_kb_strongly_consistent() {
        let store = model();
        for sk in ["a", "b", "c"] {
            store
                .put(item_of("T", sk, 1_500), Condition::None)
                .await
                .unwrap();
        }
        store.take();
        let page = store
            .query(Query::new("T", tally::ports::SortKeys::All))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 3);
        // 4,500 bytes: 2 RRU (not 3, as item by item).
        store.get(&Key::new("T", "a")).await.unwrap();
        store.get(&Key::new("T", "missing")).await.unwrap();
        let usage = store.take();
        assert_eq!(usage.by_op[&Op::Query].rru(), 2.0);
        assert_eq!(usage.by_op[&Op::GetItem].rru(), 2.0);
        assert_eq!(usage.by_op[&Op::GetItem].items, 1);
        assert_eq!(Consistency::Eventual.half_units(4_096), 1);
    }

    #[tokio::test]
    async fn a_partition_serves_1000_write_units_a_second() {
        let store = model();
        // 50 transactions of 100 items of 1 KB: 200 WRU each, 10,000 in all, on one
        // partition key: 10 s of its write capacity, whatever the latency.
        for batch in 0..50 {
            let ops = (0..100)
                .map(|i| WriteOp::Put {
                    item: item_of("T", &format!("{batch:02}-{i:03}"), 1_000),
                    condition: Condition::None,
                })
                .collect();
            store.transact(ops).await.unwrap();
        }
        let usage = store.take();
        assert_eq!(usage.total().wru, 10_000);
        let secs = usage.simulated.as_secs_f64();
        assert!((9.8..10.1).contains(&secs), "{secs}");
        assert!(usage.throttled > Duration::from_secs(9));
        // Spread over 50 partition keys, the same writes take only the latencies.
        for batch in 0..50 {
            let ops = (0..100)
                .map(|i| WriteOp::Put {
                    item: item_of(&format!("T{batch}"), &format!("{i:03}"), 1_000),
                    condition: Condition::None,
                })
                .collect();
            store.transact(ops).await.unwrap();
        }
        let usage = store.take();
        assert_close(usage.simulated, MULTI_ITEM_LATENCY * 50);
    }

    #[test]
    fn batch_writes_are_charged_once_per_item_in_calls_of_25() {
        let store = model();
        let writes: Vec<(String, u64, u64)> = (0..60).map(|_| ("T".to_owned(), 0, 1_500)).collect();
        store.batch_written(0.0, &writes);
        let usage = store.take();
        let counts = usage.by_op[&Op::BatchWriteItem];
        assert_eq!(counts.calls, 3);
        assert_eq!(counts.items, 60);
        assert_eq!(counts.wru, 120);
    }
}
