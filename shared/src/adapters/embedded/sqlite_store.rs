//! `SqliteStore`: the Store port over one SQLite file, `<data-dir>/tally.db`.
//!
//! One `items (pk, sk, version, attrs)` table, `WITHOUT ROWID` so rows are clustered by
//! (pk, sk) like a DynamoDB partition. The connection sits behind a mutex and every
//! call runs on tokio's blocking pool, so SQLite never stalls the async workers.
//!
//! Deleting must really delete (a promise to customers): `secure_delete` overwrites
//! freed content with zeros, and [`SqliteStore::compact`] moves the WAL into the main
//! file, truncates it and VACUUMs, so that no copy of deleted items stays on disk.
//! The file is created 0600 before SQLite opens it; SQLite gives its `-wal` and `-shm`
//! files the same mode.
//!
//! Batch writes run as one SQLite transaction per [`BATCH_CHUNK`] items: a single
//! commit for thousands of rows, crash-safe per chunk, and short enough that other
//! requests waiting for the connection are not held up for long.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::Connection;

use super::EmbeddedError;
use super::private_files::touch_private;
use super::sqlite_rows::{self, SCHEMA, backend};
use crate::ports::store::{validate_item, validate_key};
use crate::ports::{Condition, Item, Key, Page, Query, Store, StoreError, WriteOp};

pub const DATABASE_FILE: &str = "tally.db";

/// Items per transaction of a batch write.
const BATCH_CHUNK: usize = 2000;

/// The Store port over a local SQLite file.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    table_name: String,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens `<data_dir>/tally.db`, creating the file (0600) and its table if missing.
    /// `table_name` plays the DynamoDB table name's part in sealed values.
    pub fn open(data_dir: &Path, table_name: &str) -> Result<Self, EmbeddedError> {
        let path = data_dir.join(DATABASE_FILE);
        touch_private(&path)?;
        let database_error = |error| EmbeddedError::Database {
            path: path.clone(),
            message: backend(error).to_string(),
        };
        let conn = Connection::open(&path).map_err(database_error)?;
        configure(&conn).map_err(|error| EmbeddedError::Database {
            path: path.clone(),
            message: error.to_string(),
        })?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            table_name: table_name.to_owned(),
            path,
        })
    }

    /// The database file (its WAL is beside it, with `-wal` appended).
    pub fn database_path(&self) -> &Path {
        &self.path
    }

    /// Leaves no trace of deleted items on disk: checkpoints the WAL into the main file
    /// and truncates it, VACUUMs (rewriting the file without free pages), and
    /// checkpoints again. Slow on a big database: run it after big deletions (tenant
    /// erasure, the sweep), not per request.
    pub async fn compact(&self) -> Result<(), StoreError> {
        self.run(|conn| {
            checkpoint(conn)?;
            conn.execute_batch("VACUUM").map_err(backend)?;
            checkpoint(conn)
        })
        .await
    }

    /// Runs `work` on the connection on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while the lock was held dropped any open transaction, which rolls
            // it back: the connection is consistent even when the lock is poisoned.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        })
        .await
        .map_err(|_| StoreError::Backend("the store task did not finish".into()))?
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
    let journal: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(backend)?;
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "journal mode {journal} instead of WAL"
        )));
    }
    conn.execute_batch(
        "PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(backend)?;
    // Deletion is a promise: refuse to run if this SQLite build ignored the pragma.
    let secure_delete: i64 = conn
        .query_row("PRAGMA secure_delete", [], |row| row.get(0))
        .map_err(backend)?;
    if secure_delete != 1 {
        return Err(StoreError::Backend(
            "secure_delete could not be enabled".into(),
        ));
    }
    conn.execute_batch(SCHEMA).map_err(backend)
}

fn checkpoint(conn: &Connection) -> Result<(), StoreError> {
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
        .map_err(backend)?;
    if busy == 0 {
        Ok(())
    } else {
        Err(StoreError::Backend(
            "the WAL checkpoint was blocked by another connection".into(),
        ))
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn table_name(&self) -> &str {
        &self.table_name
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.run(move |conn| sqlite_rows::get(conn, &key)).await
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.run(move |conn| sqlite_rows::put(conn, &item, condition))
            .await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        let key = key.clone();
        self.run(move |conn| sqlite_rows::delete(conn, &key, condition))
            .await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.run(move |conn| sqlite_rows::query(conn, &query)).await
    }

    async fn increment(
        &self,
        key: &Key,
        attr: &str,
        by: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        let (key, attr) = (key.clone(), attr.to_owned());
        self.run(move |conn| sqlite_rows::increment(conn, &key, &attr, by, expires_at))
            .await
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.run(move |conn| sqlite_rows::transact(conn, &ops))
            .await
    }

    /// Every item is checked before the first chunk is written, so an invalid item
    /// writes nothing; a failure after that leaves the chunks already committed.
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        for item in &items {
            validate_item(item)?;
        }
        let mut rest = items;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(BATCH_CHUNK));
            let chunk = std::mem::replace(&mut rest, tail);
            self.run(move |conn| sqlite_rows::put_all(conn, &chunk))
                .await?;
        }
        Ok(())
    }

    async fn batch_delete(&self, keys: Vec<Key>) -> Result<(), StoreError> {
        for key in &keys {
            validate_key(key)?;
        }
        for chunk in keys.chunks(BATCH_CHUNK) {
            let chunk = chunk.to_vec();
            self.run(move |conn| sqlite_rows::delete_all(conn, &chunk))
                .await?;
        }
        Ok(())
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        self.run(move |conn| sqlite_rows::purge_expired(conn, now))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::sqlite_rows::prefix_end;
    use super::*;
    use crate::adapters::embedded::attr_codec::{decode_attrs, encode_attrs};
    use crate::ports::Attr;

    fn file_contains(path: &Path, needle: &[u8]) -> bool {
        let bytes = std::fs::read(path).unwrap_or_default();
        bytes.windows(needle.len()).any(|window| window == needle)
    }

    #[tokio::test]
    async fn deleted_content_does_not_remain_in_the_files_after_compact() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), "tally").unwrap();
        let canary = b"CANARY-deleted-customer-record";
        for i in 0..50 {
            let item = Item::new(Key::new("TENANT#gone", format!("CUST#{i:03}")))
                .with("data", Attr::B(canary.repeat(20)))
                .with("note", Attr::S(String::from_utf8(canary.to_vec()).unwrap()));
            store.put(item, Condition::None).await.unwrap();
        }
        let kept = Item::new(Key::new("TENANT#kept", "CUST#1")).with("n", Attr::N(7));
        store.put(kept.clone(), Condition::None).await.unwrap();
        for i in 0..50 {
            let key = Key::new("TENANT#gone", format!("CUST#{i:03}"));
            store.delete(&key, Condition::Exists).await.unwrap();
        }
        store.compact().await.unwrap();

        let wal = PathBuf::from(format!("{}-wal", store.database_path().display()));
        assert!(!file_contains(store.database_path(), canary));
        assert!(!file_contains(&wal, canary));
        assert_eq!(store.get(&kept.key).await.unwrap(), Some(kept));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_database_and_its_wal_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), "tally").unwrap();
        store
            .put(Item::new(Key::new("p", "s")), Condition::None)
            .await
            .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let path = format!("{}{suffix}", store.database_path().display());
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{path}");
        }
    }

    #[test]
    fn attributes_round_trip_through_their_stored_form() {
        let attrs = BTreeMap::from([
            ("s".to_owned(), Attr::S("é \"quoted\" \u{0}".into())),
            ("n".to_owned(), Attr::N(i64::MIN)),
            ("b".to_owned(), Attr::B(vec![0, 255, 1, 254])),
            ("empty".to_owned(), Attr::B(Vec::new())),
        ]);
        assert_eq!(decode_attrs(&encode_attrs(&attrs).unwrap()).unwrap(), attrs);
    }

    #[test]
    fn an_undecodable_stored_form_is_reported_without_quoting_it() {
        let error = decode_attrs(r#"{"x":{"Q":"private-value"}}"#).unwrap_err();
        assert!(matches!(error, StoreError::Backend(_)));
        assert!(!error.to_string().contains("private-value"));
    }

    #[test]
    fn the_end_of_a_prefix_range_is_the_next_code_point() {
        assert_eq!(prefix_end("CUST#"), Some("CUST$".into()));
        assert_eq!(prefix_end("a\u{D7FF}"), Some("a\u{E000}".into()));
        assert_eq!(prefix_end("ab\u{10FFFF}"), Some("ac".into()));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }
}
