//! The EventBus port on EventBridge: one `PutEvents` entry per event on Tally's bus,
//! with source [`EVENT_SOURCE`], the event type as detail-type (what rules match on)
//! and [`Event::to_json`] as detail, so a consumer reads the event back with
//! [`Event::from_json`].
//!
//! `PutEvents` answers 200 even when an entry is refused; its `FailedEntryCount` is
//! what says so, and such an event is a failure here, not a silent loss.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::describe;
use crate::ports::events::{EVENT_SOURCE, Event, EventBus, EventError};

/// The EventBus on one EventBridge bus (name or ARN).
#[derive(Clone, Debug)]
pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus_name: &str) -> Self {
        Self {
            client,
            bus_name: bus_name.to_owned(),
        }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, event: &Event) -> Result<(), EventError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(EVENT_SOURCE)
            .detail_type(&event.event_type)
            .detail(event.to_json().to_string())
            .time(DateTime::from_secs(event.at.timestamp()))
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| EventError::Backend(format!("EventBridge PutEvents: {}", describe(&e))))?;
        if out.failed_entry_count > 0 {
            // The error code says why (too large, throttled, ...); the message is left
            // out, as it may quote the entry.
            let code = out
                .entries()
                .iter()
                .find_map(|e| e.error_code())
                .unwrap_or("unknown");
            return Err(EventError::Backend(format!(
                "EventBridge PutEvents refused the event: {code}"
            )));
        }
        Ok(())
    }

    /// The project's bus has no archive (infra/template.yaml): a delivered event is
    /// kept nowhere, so there is nothing to forget.
    async fn forget_tenant(&self, _tenant_id: &str) -> Result<u64, EventError> {
        Ok(0)
    }
}
