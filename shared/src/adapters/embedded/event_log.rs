//! `LocalEventBus`: EventBridge's stand-in — an append-only JSON-lines log plus an
//! in-process broadcast channel.
//!
//! Each published event becomes one line of `<data-dir>/events.jsonl` (0600), in the
//! same flat form EventBridge carries as its detail ([`Event::to_json`]). The log is
//! the local mailbox: a developer (or an end-to-end test) reads the password-reset link
//! there. In-process listeners — the local server's stand-ins for event-driven
//! functions — [`subscribe`](LocalEventBus::subscribe) to the channel instead.
//!
//! A line is written whole with one `write` to a file opened in append mode, under a
//! mutex, so lines never interleave; it reaches the OS before `publish` returns.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::EmbeddedError;
use super::private_files::private_options;
use crate::ports::{Event, EventBus, EventError};

pub const EVENTS_FILE: &str = "events.jsonl";

/// How many events a slow subscriber may fall behind before it misses some.
const CHANNEL_CAPACITY: usize = 1024;

/// Events to a JSON-lines file and an in-process channel.
#[derive(Clone)]
pub struct LocalEventBus {
    log: Arc<Mutex<File>>,
    path: PathBuf,
    sender: broadcast::Sender<Event>,
}

impl LocalEventBus {
    /// Opens `<data_dir>/events.jsonl` for appending, creating it (0600) if missing.
    pub fn open(data_dir: &Path) -> Result<Self, EmbeddedError> {
        let path = data_dir.join(EVENTS_FILE);
        let log = private_options()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|error| EmbeddedError::io("open the event log", &path, error))?;
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        Ok(Self {
            log: Arc::new(Mutex::new(log)),
            path,
            sender,
        })
    }

    /// Every event published from now on. Publishing does not wait for subscribers;
    /// one that falls more than 1024 events behind gets `RecvError::Lagged`.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// The JSON-lines log.
    pub fn log_path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl EventBus for LocalEventBus {
    async fn publish(&self, event: &Event) -> Result<(), EventError> {
        let mut line = serde_json::to_vec(&event.to_json())
            .map_err(|_| EventError::Backend("the event does not serialize".into()))?;
        line.push(b'\n');
        let log = Arc::clone(&self.log);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            // The file handle stays usable whatever a panicking writer left behind.
            let mut file = log.lock().unwrap_or_else(PoisonError::into_inner);
            file.write_all(&line)
                .and_then(|()| file.flush())
                .map_err(|error| {
                    EventError::Backend(format!("cannot append to {}: {error}", path.display()))
                })
        })
        .await
        .map_err(|_| EventError::Backend("the event log task did not finish".into()))??;
        // No subscriber is not an error: the log has the event.
        let _ = self.sender.send(event.clone());
        Ok(())
    }

    /// Rewrites the log without the tenant's lines (a temporary file renamed over it,
    /// under the writers' lock), then appends to the new file.
    async fn forget_tenant(&self, tenant_id: &str) -> Result<u64, EventError> {
        let log = Arc::clone(&self.log);
        let path = self.path.clone();
        let tenant = tenant_id.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut file = log.lock().unwrap_or_else(PoisonError::into_inner);
            let fail =
                |what: &str| EventError::Backend(format!("cannot {what} {}", path.display()));
            let text = std::fs::read_to_string(&path).map_err(|_| fail("read"))?;
            let mut kept = String::with_capacity(text.len());
            let mut removed = 0u64;
            for line in text.lines() {
                let owner = serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|v| {
                        v.get("tenant_id")
                            .and_then(|t| t.as_str())
                            .map(str::to_owned)
                    });
                if owner.as_deref() == Some(tenant.as_str()) {
                    removed += 1;
                } else {
                    kept.push_str(line);
                    kept.push('\n');
                }
            }
            let temp = path.with_extension("jsonl.tmp");
            {
                let mut out = private_options()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&temp)
                    .map_err(|_| fail("rewrite"))?;
                out.write_all(kept.as_bytes())
                    .and_then(|()| out.sync_all())
                    .map_err(|_| fail("rewrite"))?;
            }
            std::fs::rename(&temp, &path).map_err(|_| fail("replace"))?;
            *file = private_options()
                .append(true)
                .open(&path)
                .map_err(|_| fail("reopen"))?;
            Ok(removed)
        })
        .await
        .map_err(|_| EventError::Backend("the event log task did not finish".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{Clock, SystemClock};

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_published_event_is_logged_as_one_line_and_broadcast() {
        let dir = tempfile::tempdir().unwrap();
        let bus = LocalEventBus::open(dir.path()).unwrap();
        let mut subscriber = bus.subscribe();
        let event = Event::new("PasswordResetRequested", SystemClock.now())
            .tenant("t1")
            .field("token", "reset-token");
        bus.publish(&event).await.unwrap();
        assert_eq!(lines(bus.log_path()), vec![event.to_json()]);
        assert_eq!(subscriber.recv().await.unwrap(), event);
    }

    #[tokio::test]
    async fn publishing_with_no_subscriber_succeeds_and_reopening_appends() {
        let dir = tempfile::tempdir().unwrap();
        let first = Event::new("A", SystemClock.now());
        LocalEventBus::open(dir.path())
            .unwrap()
            .publish(&first)
            .await
            .unwrap();
        let second = Event::new("B", SystemClock.now());
        let bus = LocalEventBus::open(dir.path()).unwrap();
        bus.publish(&second).await.unwrap();
        assert_eq!(
            lines(bus.log_path()),
            vec![first.to_json(), second.to_json()]
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_event_log_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bus = LocalEventBus::open(dir.path()).unwrap();
        let mode = std::fs::metadata(bus.log_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
