//! Embedded adapters under test: each factory opens its adapter in a fresh temporary
//! data directory, which the returned [`Subject`] keeps until the test ends.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tally::adapters::embedded::{LocalEventBus, LocalKeyService, SealedFileSecrets, SqliteStore};
use tally::ports::{Event, EventBus, KeyService, SecretStore, Store};
use tempfile::TempDir;
use tokio::sync::broadcast;

use crate::{EventObserver, Subject};

/// The table name the embedded store binds into sealed values during tests.
pub const TEST_TABLE: &str = "tally-test";

fn data_dir() -> TempDir {
    tempfile::tempdir().expect("a temporary data directory")
}

pub async fn store() -> Subject<dyn Store> {
    let dir = data_dir();
    let store = SqliteStore::open(dir.path(), TEST_TABLE).expect("the store opens");
    Subject::new(Arc::new(store), dir)
}

pub async fn keys() -> Subject<dyn KeyService> {
    let dir = data_dir();
    let keys = LocalKeyService::open(dir.path()).expect("the key service opens");
    Subject::new(Arc::new(keys), dir)
}

pub async fn secrets() -> Subject<dyn SecretStore> {
    let dir = data_dir();
    let secrets = SealedFileSecrets::open(dir.path()).expect("the secret store opens");
    Subject::new(Arc::new(secrets), dir)
}

/// The event bus, observed through its JSON-lines log (the local mailbox).
pub async fn events_in_the_log() -> (Subject<dyn EventBus>, LogObserver) {
    let dir = data_dir();
    let bus = LocalEventBus::open(dir.path()).expect("the event bus opens");
    let observer = LogObserver {
        path: bus.log_path().to_owned(),
    };
    (Subject::new(Arc::new(bus), dir), observer)
}

/// The event bus, observed by an in-process subscriber of its channel.
pub async fn events_to_a_subscriber() -> (Subject<dyn EventBus>, SubscriberObserver) {
    let dir = data_dir();
    let bus = LocalEventBus::open(dir.path()).expect("the event bus opens");
    let observer = SubscriberObserver {
        receiver: Mutex::new(bus.subscribe()),
        seen: Mutex::new(Vec::new()),
    };
    (Subject::new(Arc::new(bus), dir), observer)
}

/// Reads `events.jsonl`, one event per line.
pub struct LogObserver {
    path: PathBuf,
}

impl EventObserver for LogObserver {
    async fn published(&self) -> Vec<serde_json::Value> {
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .expect("the event log is readable");
        text.lines()
            .map(|line| serde_json::from_str(line).expect("each line of the log is JSON"))
            .collect()
    }
}

/// Collects what a broadcast subscriber has received.
pub struct SubscriberObserver {
    receiver: Mutex<broadcast::Receiver<Event>>,
    seen: Mutex<Vec<serde_json::Value>>,
}

impl EventObserver for SubscriberObserver {
    async fn published(&self) -> Vec<serde_json::Value> {
        let mut receiver = self.receiver.lock().expect("observer lock");
        let mut seen = self.seen.lock().expect("observer lock");
        while let Ok(event) = receiver.try_recv() {
            seen.push(event.to_json());
        }
        seen.clone()
    }
}
