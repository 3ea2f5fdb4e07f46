//! A Store that passes everything through to a real one until it has committed a set
//! number of transactions, then fails every write as a crash would: for tests that
//! interrupt a job half-way and check the next run finishes it.
//!
//! Batch writes are left to the port's defaults, one `put` or `delete` at a time, so
//! each of their items spends one write and a crash can fall in the middle of a batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use tally::ports::{Condition, Item, Key, Page, Query, Store, StoreError, WriteOp};

pub struct FailingStore {
    inner: Arc<dyn Store>,
    transactions_left: AtomicUsize,
}

impl FailingStore {
    pub fn after_transactions(inner: Arc<dyn Store>, n: usize) -> Self {
        Self {
            inner,
            transactions_left: AtomicUsize::new(n),
        }
    }

    fn spend(&self) -> Result<(), StoreError> {
        let left = self.transactions_left.load(Ordering::SeqCst);
        if left == 0 {
            return Err(StoreError::Backend("injected crash".into()));
        }
        self.transactions_left.store(left - 1, Ordering::SeqCst);
        Ok(())
    }
}

#[async_trait]
impl Store for FailingStore {
    fn table_name(&self) -> &str {
        self.inner.table_name()
    }
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.spend()?;
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.spend()?;
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn increment(
        &self,
        key: &Key,
        attr: &str,
        by: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.spend()?;
        self.inner.increment(key, attr, by, expires_at).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.spend()?;
        self.inner.transact(ops).await
    }
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        self.spend()?;
        self.inner.purge_expired(now).await
    }
}
