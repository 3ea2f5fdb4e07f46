//! A Store that passes everything through and records what it was asked: for tests
//! that pin what a use case costs (how many calls, which items it writes).

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tally::ports::{Condition, Item, Key, Page, Query, Store, StoreError, WriteOp};

/// One call the store received: its operation, the keys it wrote (empty for reads)
/// and how many items it returned (reads).
#[derive(Clone, Debug)]
pub struct Call {
    pub op: &'static str,
    pub written: Vec<Key>,
    pub read: usize,
}

pub struct CountingStore {
    inner: Arc<dyn Store>,
    calls: Mutex<Vec<Call>>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Forgets the calls recorded so far.
    pub fn clear(&self) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many items every read so far returned.
    pub fn items_read(&self) -> usize {
        self.calls().iter().map(|c| c.read).sum()
    }

    /// Every key written so far (puts, deletes, increments, transactions, batches).
    pub fn written(&self) -> Vec<Key> {
        self.calls().into_iter().flat_map(|c| c.written).collect()
    }

    fn note(&self, op: &'static str, written: Vec<Key>) {
        self.note_read(op, written, 0);
    }

    fn note_read(&self, op: &'static str, written: Vec<Key>, read: usize) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Call { op, written, read });
    }
}

#[async_trait]
impl Store for CountingStore {
    fn table_name(&self) -> &str {
        self.inner.table_name()
    }
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let found = self.inner.get(key).await?;
        self.note_read("get", Vec::new(), usize::from(found.is_some()));
        Ok(found)
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.note("put", vec![item.key.clone()]);
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.note("delete", vec![key.clone()]);
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let page = self.inner.query(query).await?;
        self.note_read("query", Vec::new(), page.items.len());
        Ok(page)
    }
    async fn increment(
        &self,
        key: &Key,
        attr: &str,
        by: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.note("increment", vec![key.clone()]);
        self.inner.increment(key, attr, by, expires_at).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let written = ops
            .iter()
            .filter(|op| !matches!(op, WriteOp::Check { .. }))
            .map(|op| op.key().clone())
            .collect();
        self.note("transact", written);
        self.inner.transact(ops).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        self.note("batch_put", items.iter().map(|i| i.key.clone()).collect());
        self.inner.batch_put(items).await
    }
    async fn batch_delete(&self, keys: Vec<Key>) -> Result<(), StoreError> {
        self.note("batch_delete", keys.clone());
        self.inner.batch_delete(keys).await
    }
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        self.note("purge_expired", Vec::new());
        self.inner.purge_expired(now).await
    }
}
