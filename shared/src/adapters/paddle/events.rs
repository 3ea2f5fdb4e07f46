//! The change feed: Paddle's event stream, `GET /events`, which keeps 90 days of
//! events. Event ids sort in time order, so `order_by=id[ASC]&after=<cursor>` reads the
//! events after the cursor oldest first, up to 200 a page, and `has_more` says whether
//! more follow. The cursor is the id of the newest event handled. A cursor older than
//! Paddle keeps is answered 404 `not_found`: [`ConnectorError::CursorExpired`], i.e.
//! run a full sync.
//!
//! Without a cursor the answer is "now": the newest event's id
//! (`order_by=id[DESC]&per_page=1`). An account with no event at all has no id to give,
//! so the cursor becomes `since:<unix seconds>` (a few minutes early, for clock skew):
//! the next call reads the events from then on with `from=<RFC 3339>`. Re-reading an
//! event is harmless, upserts are idempotent.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat};
use serde::Deserialize;
use serde_json::Value;

use super::client::{PaddleClient, PaddleError};
use super::connector::{is_valid_id, list_envelope};
use super::parse::{decode, seconds};
use crate::domain::billing::ObjectKind;
use crate::ports::{Change, ChangesPage, ConnectorError};

const PAGE_SIZE: &str = "200";
const SINCE_PREFIX: &str = "since:";
/// How far before "now" a `since:` cursor starts (clock skew with Paddle).
const SKEW_MARGIN_SECS: i64 = 300;

/// An event, reading of its entity only the ids that say what to re-read.
#[derive(Deserialize)]
struct Event {
    event_id: String,
    event_type: String,
    occurred_at: String,
    data: EventEntity,
}

#[derive(Deserialize)]
struct EventEntity {
    id: Option<String>,
    customer_id: Option<String>,
}

pub(super) async fn changes_since(
    client: &PaddleClient,
    cursor: Option<&str>,
) -> Result<ChangesPage, ConnectorError> {
    let Some(cursor) = cursor else {
        return current_cursor(client).await;
    };
    let from;
    let mut params = vec![("order_by", "id[ASC]"), ("per_page", PAGE_SIZE)];
    match cursor.strip_prefix(SINCE_PREFIX) {
        Some(since) => {
            let since: i64 = since.parse().map_err(|_| ConnectorError::CursorExpired)?;
            from = DateTime::from_timestamp(since, 0)
                .ok_or(ConnectorError::CursorExpired)?
                .to_rfc3339_opts(SecondsFormat::Secs, true);
            params.push(("from", from.as_str()));
        }
        None if is_valid_id(cursor) => params.push(("after", cursor)),
        None => return Err(ConnectorError::CursorExpired),
    }
    let page = match client.get("/events", &params).await {
        Ok(page) => page,
        Err(PaddleError::NotFound) => return Err(ConnectorError::CursorExpired),
        Err(other) => return Err(other.into()),
    };
    let (data, has_more) = list_envelope(page, "events")?;
    let events = decode_events(&data)?;
    let newest = events.last().map(|e| e.event_id.clone());
    Ok(ChangesPage {
        changes: changes(&events)?,
        cursor: Some(newest.unwrap_or_else(|| cursor.to_owned())),
        has_more,
    })
}

fn decode_events(data: &[Value]) -> Result<Vec<Event>, ConnectorError> {
    data.iter()
        .map(|value| {
            let event: Event =
                decode("event", value).map_err(|e| ConnectorError::Malformed(e.to_string()))?;
            if !is_valid_id(&event.event_id) {
                return Err(ConnectorError::Malformed("an event id out of shape".into()));
            }
            Ok(event)
        })
        .collect()
}

async fn current_cursor(client: &PaddleClient) -> Result<ChangesPage, ConnectorError> {
    let page = client
        .get("/events", &[("order_by", "id[DESC]"), ("per_page", "1")])
        .await?;
    let (data, _) = list_envelope(page, "events")?;
    let events = decode_events(&data)?;
    let cursor = match events.first() {
        Some(newest) => newest.event_id.clone(),
        None => format!(
            "{SINCE_PREFIX}{}",
            chrono::Utc::now().timestamp() - SKEW_MARGIN_SECS
        ),
    };
    Ok(ChangesPage {
        changes: Vec::new(),
        cursor: Some(cursor),
        has_more: false,
    })
}

/// Events (oldest first) as changes, one per object at its latest event: the object
/// is re-read whole anyway.
fn changes(events: &[Event]) -> Result<Vec<Change>, ConnectorError> {
    let mut all = Vec::new();
    for event in events {
        let at =
            seconds(&event.occurred_at).map_err(|e| ConnectorError::Malformed(e.to_string()))?;
        for (kind, id) in objects(event) {
            all.push(Change {
                kind,
                id,
                at,
                deleted: false,
            });
        }
    }
    let mut seen = HashSet::new();
    let mut latest_first: Vec<Change> = all
        .into_iter()
        .rev()
        .filter(|c| seen.insert((c.kind, c.id.clone())))
        .collect();
    latest_first.reverse();
    Ok(latest_first)
}

/// What an event makes Tally re-read, by its type's entity: `customer.*` the customer,
/// `address.*` the customer it belongs to, `subscription.*` the subscription,
/// `transaction.*` the invoice and the charge it stands for, `adjustment.*` the
/// refund. Paddle deletes none of these (it archives), so no change is a deletion.
/// Others (`product.*`, `price.*`, `discount.*`, `payout.*`...) carry nothing Tally
/// keeps on its own: a changed price or discount reaches a subscription at its next
/// change or the next full sync.
fn objects(event: &Event) -> Vec<(ObjectKind, String)> {
    let entity = event.event_type.split('.').next().unwrap_or_default();
    let id = event.data.id.clone().filter(|id| is_valid_id(id));
    match (entity, id) {
        ("customer", Some(id)) => vec![(ObjectKind::Customer, id)],
        ("address", _) => match event.data.customer_id.clone() {
            Some(customer) if is_valid_id(&customer) => vec![(ObjectKind::Customer, customer)],
            _ => Vec::new(),
        },
        ("subscription", Some(id)) => vec![(ObjectKind::Subscription, id)],
        ("transaction", Some(id)) => {
            vec![(ObjectKind::Invoice, id.clone()), (ObjectKind::Charge, id)]
        }
        ("adjustment", Some(id)) => vec![(ObjectKind::Refund, id)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str, kind: &str, data: Value) -> Value {
        json!({"event_id": id, "event_type": kind, "occurred_at": "2024-04-12T10:18:49.621022Z",
            "data": data, "notification_id": null})
    }

    #[test]
    fn events_map_to_the_records_they_change() {
        // Payloads in the shape of Paddle's "Webhooks > Event types" examples.
        let events = decode_events(&[
            event(
                "evt_01",
                "customer.updated",
                json!({"id": "ctm_1", "email": "x@example.com"}),
            ),
            event(
                "evt_02",
                "address.created",
                json!({"id": "add_1", "customer_id": "ctm_2"}),
            ),
            event("evt_03", "subscription.paused", json!({"id": "sub_1"})),
            event("evt_04", "transaction.completed", json!({"id": "txn_1"})),
            event("evt_05", "adjustment.created", json!({"id": "adj_1"})),
            event("evt_06", "product.updated", json!({"id": "pro_1"})),
            event("evt_07", "subscription.updated", json!({"id": "sub_1"})),
        ])
        .unwrap();
        let got: Vec<(ObjectKind, String)> = changes(&events)
            .unwrap()
            .into_iter()
            .map(|c| (c.kind, c.id))
            .collect();
        assert_eq!(
            got,
            vec![
                (ObjectKind::Customer, "ctm_1".into()),
                (ObjectKind::Customer, "ctm_2".into()),
                (ObjectKind::Invoice, "txn_1".into()),
                (ObjectKind::Charge, "txn_1".into()),
                (ObjectKind::Refund, "adj_1".into()),
                (ObjectKind::Subscription, "sub_1".into()),
            ]
        );
    }
}
