//! The EventBus port: domain events (e-mails to send, syncs requested, security events)
//! leave the process here. In AWS they go to EventBridge; locally to an in-process
//! channel and a JSON-lines log, `<data-dir>/events.jsonl`, which stands in for the
//! mailbox (a `PasswordResetRequested` line carries its token as the e-mail would).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The `source` of every event Tally publishes.
pub const EVENT_SOURCE: &str = "tally";

/// One domain event: its type (EventBridge's detail-type), and its fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: String,
    pub at: DateTime<Utc>,
    pub event_type: String,
    pub tenant_id: Option<String>,
    pub fields: Map<String, Value>,
}

impl Event {
    pub fn new(event_type: &str, at: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            at,
            event_type: event_type.to_owned(),
            tenant_id: None,
            fields: Map::new(),
        }
    }
    pub fn tenant(mut self, tenant_id: &str) -> Self {
        self.tenant_id = Some(tenant_id.to_owned());
        self
    }
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }

    /// The event as one flat JSON object: `type`, `id`, `at`, `tenant_id` and its
    /// fields. This is the EventBridge detail and the line of `events.jsonl`.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("type".into(), self.event_type.clone().into());
        obj.insert("id".into(), self.id.clone().into());
        obj.insert(
            "at".into(),
            self.at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .into(),
        );
        if let Some(t) = &self.tenant_id {
            obj.insert("tenant_id".into(), t.clone().into());
        }
        for (k, v) in &self.fields {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(obj)
    }

    /// Reads an event back from [`Event::to_json`]'s form.
    pub fn from_json(value: &Value) -> Option<Self> {
        let obj = value.as_object()?;
        let event_type = obj.get("type")?.as_str()?.to_owned();
        let id = obj.get("id")?.as_str()?.to_owned();
        let at = DateTime::parse_from_rfc3339(obj.get("at")?.as_str()?)
            .ok()?
            .with_timezone(&Utc);
        let tenant_id = obj
            .get("tenant_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let fields = obj
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "type" | "id" | "at" | "tenant_id"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Some(Self {
            id,
            at,
            event_type,
            tenant_id,
            fields,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event bus failure: {0}")]
    Backend(String),
}

#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, event: &Event) -> Result<(), EventError>;

    /// Deletes whatever the bus keeps of a tenant's events (account closure) and
    /// returns how many. A bus that keeps nothing once delivered (EventBridge without
    /// an archive, as the template configures it) returns 0.
    async fn forget_tenant(&self, tenant_id: &str) -> Result<u64, EventError>;
}
