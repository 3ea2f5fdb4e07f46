//! The Store port: one table of items keyed by (partition key, sort key).
//!
//! Everything Tally persists goes through this trait. It is deliberately the subset of
//! DynamoDB that the product needs, so that the embedded adapter (SQLite) and the AWS
//! adapter (one DynamoDB table) can both implement it exactly and one conformance suite
//! can hold them to the same behaviour:
//!
//! * `get` one item;
//! * `put` with a condition (none, "absent", or "version matches");
//! * `query` one partition, by sort-key prefix or inclusive range, forward or reverse,
//!   with a limit and an opaque cursor (`next_cursor` is `Some` only when more items
//!   exist);
//! * `delete` with a condition;
//! * `increment` a numeric attribute atomically (counters that must not lose updates
//!   under concurrency: failed logins, rate limits);
//! * `transact`: up to [`MAX_TRANSACTION_OPS`] writes that all happen or none do;
//! * `batch_put` / `batch_delete`: any number of unconditional writes, not atomic, for
//!   bulk data that is rewritten whole and so needs no atomicity (billing records,
//!   customer profiles, snapshot chunks): cheaper and faster than transactions (one
//!   write unit per item instead of two, calls in parallel), and safe to retry.
//!
//! Items carry plain attributes (status, expiry, counters) and the sealed business data
//! as a binary attribute; the store never sees plaintext business data.

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The most writes one [`Store::transact`] call may carry (DynamoDB's limit).
pub const MAX_TRANSACTION_OPS: usize = 100;

/// Attribute names reserved by the adapters for the key and the version.
pub const RESERVED_ATTRIBUTES: [&str; 3] = ["pk", "sk", "version"];

/// The primary key of an item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// A plain (unsealed) attribute value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attr {
    S(String),
    N(i64),
    B(Vec<u8>),
}

impl Attr {
    pub fn as_s(&self) -> Option<&str> {
        match self {
            Attr::S(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_n(&self) -> Option<i64> {
        match self {
            Attr::N(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_b(&self) -> Option<&[u8]> {
        match self {
            Attr::B(b) => Some(b),
            _ => None,
        }
    }
}

/// One stored item. `version` is maintained by the caller: conditional writes compare it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub key: Key,
    pub version: u64,
    pub attrs: BTreeMap<String, Attr>,
}

impl Item {
    pub fn new(key: Key) -> Self {
        Self {
            key,
            version: 1,
            attrs: BTreeMap::new(),
        }
    }
    pub fn with(mut self, name: &str, value: Attr) -> Self {
        self.attrs.insert(name.to_owned(), value);
        self
    }
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }
    pub fn s(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(Attr::as_s)
    }
    pub fn n(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).and_then(Attr::as_n)
    }
    pub fn b(&self, name: &str) -> Option<&[u8]> {
        self.attrs.get(name).and_then(Attr::as_b)
    }
}

/// A write condition, checked atomically with the write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Condition {
    /// Write unconditionally.
    #[default]
    None,
    /// The item must not exist.
    Absent,
    /// The item must exist (any version).
    Exists,
    /// The item must exist with exactly this version.
    VersionIs(u64),
}

/// Which sort keys of a partition a query reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKeys {
    /// Every item of the partition.
    All,
    /// Sort keys starting with this prefix.
    Prefix(String),
    /// Sort keys `from <= sk <= to` (inclusive, byte order).
    Between { from: String, to: String },
}

impl SortKeys {
    pub fn prefix(p: impl Into<String>) -> Self {
        SortKeys::Prefix(p.into())
    }
    pub fn between(from: impl Into<String>, to: impl Into<String>) -> Self {
        SortKeys::Between {
            from: from.into(),
            to: to.into(),
        }
    }
    /// Whether a sort key falls in this selection.
    pub fn contains(&self, sk: &str) -> bool {
        match self {
            SortKeys::All => true,
            SortKeys::Prefix(p) => sk.starts_with(p.as_str()),
            SortKeys::Between { from, to } => sk >= from.as_str() && sk <= to.as_str(),
        }
    }
}

/// A query of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub pk: String,
    pub sort: SortKeys,
    /// Highest sort key first when true.
    pub reverse: bool,
    /// At most this many items (clamped to 1..=1000 by the adapters).
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl Query {
    pub fn new(pk: impl Into<String>, sort: SortKeys) -> Self {
        Self {
            pk: pk.into(),
            sort,
            reverse: false,
            limit: 100,
            cursor: None,
        }
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    pub fn reverse(mut self) -> Self {
        self.reverse = true;
        self
    }
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
    /// The limit the adapters apply.
    pub fn effective_limit(&self) -> usize {
        self.limit.clamp(1, 1000)
    }
}

/// An opaque position in a query: the sort key of the last item returned. Clients see
/// it only as a base64url string; a string that does not decode, or a position outside
/// the query's sort-key selection, is refused with [`StoreError::InvalidCursor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    last_sk: String,
}

impl Cursor {
    pub fn after_sort_key(sk: impl Into<String>) -> Self {
        Self { last_sk: sk.into() }
    }
    pub fn last_sort_key(&self) -> &str {
        &self.last_sk
    }
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.last_sk.as_bytes())
    }
    pub fn decode(text: &str) -> Result<Self, StoreError> {
        if text.is_empty() || text.len() > 2048 {
            return Err(StoreError::InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| StoreError::InvalidCursor)?;
        let last_sk = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
        Ok(Self { last_sk })
    }
    /// Checks the cursor lies within the query's selection (a forged cursor must not
    /// move a query outside what it asked for).
    pub fn check(&self, sort: &SortKeys) -> Result<(), StoreError> {
        if sort.contains(&self.last_sk) {
            Ok(())
        } else {
            Err(StoreError::InvalidCursor)
        }
    }
}

/// One page of a query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Item>,
    /// `Some` exactly when more items match after this page.
    pub next_cursor: Option<Cursor>,
}

/// One write of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    /// Writes nothing; the transaction fails unless the condition holds.
    Check {
        key: Key,
        condition: Condition,
    },
}

impl WriteOp {
    pub fn key(&self) -> &Key {
        match self {
            WriteOp::Put { item, .. } => &item.key,
            WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => key,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write's condition did not hold (for a transaction: any one of them); nothing
    /// was written.
    #[error("the write's condition did not hold")]
    ConditionFailed,
    #[error("the cursor is not valid for this query")]
    InvalidCursor,
    /// The request itself is not acceptable (too many ops, two ops on one key, a
    /// reserved attribute name...). A programming error, never bad user input.
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// The backend failed or could not be reached; the write may be retried.
    #[error("store backend failure: {0}")]
    Backend(String),
}

/// Checks a key: DynamoDB refuses empty key values.
pub fn validate_key(key: &Key) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::Invalid("empty key".into()));
    }
    Ok(())
}

/// Checks what every adapter must refuse before touching its backend.
pub fn validate_item(item: &Item) -> Result<(), StoreError> {
    validate_key(&item.key)?;
    for name in item.attrs.keys() {
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name || RESERVED_ATTRIBUTES.contains(&name.as_str()) {
            return Err(StoreError::Invalid(format!("attribute name {name:?}")));
        }
    }
    Ok(())
}

/// Checks a transaction's shape: 1..=100 ops, each key at most once, valid items.
pub fn validate_transaction(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::Invalid(format!(
            "a transaction takes 1 to {MAX_TRANSACTION_OPS} writes, not {}",
            ops.len()
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for op in ops {
        if !seen.insert(op.key()) {
            return Err(StoreError::Invalid("two writes to one key".into()));
        }
        if let WriteOp::Put { item, .. } = op {
            validate_item(item)?;
        }
    }
    Ok(())
}

#[async_trait]
pub trait Store: Send + Sync {
    /// The table's name; bound into every sealed value's associated data.
    fn table_name(&self) -> &str;

    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError>;

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError>;

    async fn query(&self, query: Query) -> Result<Page, StoreError>;

    /// Adds `by` to the numeric attribute `attr` (a missing item or attribute counts
    /// as 0), sets `expires_at` when given, and returns the new value. Atomic: two
    /// concurrent increments of 1 always yield two distinct results.
    async fn increment(
        &self,
        key: &Key,
        attr: &str,
        by: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError>;

    /// All the writes, or none of them.
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;

    /// Writes every item unconditionally, in batches the adapter chooses. Not atomic:
    /// on success every item is written; on failure some may be. Idempotent to retry.
    ///
    /// Every item is checked as [`Store::put`] checks it before anything is written,
    /// so an invalid item fails the call with `put`'s error and writes nothing. When
    /// one key appears more than once, the last item given for it wins.
    ///
    /// The default writes one `put` after another, for wrappers that only pass calls
    /// on; the adapters override it with real batches.
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        for item in &items {
            validate_item(item)?;
        }
        for item in items {
            self.put(item, Condition::None).await?;
        }
        Ok(())
    }

    /// Deletes every key unconditionally (missing keys are fine). Same contract as
    /// [`Store::batch_put`]: not atomic, idempotent to retry, keys checked first.
    async fn batch_delete(&self, keys: Vec<Key>) -> Result<(), StoreError> {
        for key in &keys {
            validate_key(key)?;
        }
        for key in &keys {
            self.delete(key, Condition::None).await?;
        }
        Ok(())
    }

    /// Deletes every item whose plain `expires_at` (Unix seconds) is at or before
    /// `now`, and returns how many. Backends with their own TTL (DynamoDB's, on
    /// `expires_at`, set in the template) delete such items themselves and return 0.
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;
}

/// The pages of a query, one `Store::query` each, following the cursor: for selections
/// read a page at a time, so that only one page is held at once.
pub struct Pages<'a> {
    store: &'a dyn Store,
    next: Option<Query>,
}

impl<'a> Pages<'a> {
    pub fn new(store: &'a dyn Store, query: Query) -> Self {
        Self {
            store,
            next: Some(query),
        }
    }

    /// The next page's items; `None` after the last page.
    pub async fn next(&mut self) -> Result<Option<Vec<Item>>, StoreError> {
        let Some(query) = self.next.take() else {
            return Ok(None);
        };
        let page = self.store.query(query.clone()).await?;
        self.next = page.next_cursor.map(|cursor| query.after(Some(cursor)));
        Ok(Some(page.items))
    }
}

/// Every item a query selects, following the cursor page after page (for selections
/// known to be small: a tenant's users, allowlist, sessions of one user...).
pub async fn query_all(store: &dyn Store, query: Query) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut pages = Pages::new(store, query);
    while let Some(page) = pages.next().await? {
        items.extend(page);
    }
    Ok(items)
}
