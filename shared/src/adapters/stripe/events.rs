//! The change feed: Stripe's `/v1/events`, which keeps 30 days of events, newest
//! first. The cursor is the id of the newest event already handled.
//!
//! With a cursor, `ending_before=<cursor>` returns the (up to 100) events right after
//! it, still newest first, and `has_more` says whether newer ones follow (docs: "How
//! pagination works" — with `ending_before` the pages run toward the present). They
//! are handed over oldest first, and the new cursor is the newest of the page. An
//! unknown cursor (older than Stripe keeps, or never valid) is answered
//! `resource_missing`: [`ConnectorError::CursorExpired`], i.e. run a full sync.
//!
//! Without a cursor the answer is "now": the newest event's id. An account with no
//! event at all has no id to give, so the cursor becomes `since:<unix seconds>` (a
//! few minutes early, for clock skew): the next call reads events created from then
//! on with `created[gte]`. Re-reading an event is harmless, upserts are idempotent.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use super::client::{StripeClient, StripeError};
use super::parse::decode;
use super::references::is_valid_id;
use crate::domain::billing::ObjectKind;
use crate::ports::{Change, ChangesPage, ConnectorError};

const PAGE_SIZE: usize = 100;
const SINCE_PREFIX: &str = "since:";
/// How far before "now" a `since:` cursor starts (clock skew with Stripe).
const SKEW_MARGIN_SECS: i64 = 300;
/// A `since:` cursor reads back at most this many pages before asking for a full sync.
const MAX_SINCE_PAGES: usize = 20;

#[derive(Deserialize)]
struct EventList {
    data: Vec<Event>,
    has_more: bool,
}

/// An event, reading of its object only the id and kind: the object is re-fetched.
#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: EventObject,
}

#[derive(Deserialize)]
struct EventObject {
    id: Option<String>,
    object: Option<String>,
    /// On a discount: whose it is (a subscription's, else the customer's own).
    customer: Option<Value>,
    subscription: Option<Value>,
}

pub(super) async fn changes_since(
    client: &StripeClient,
    cursor: Option<&str>,
) -> Result<ChangesPage, ConnectorError> {
    match cursor {
        None => current_cursor(client).await,
        Some(cursor) => match cursor.strip_prefix(SINCE_PREFIX) {
            Some(since) => changes_since_time(client, cursor, since).await,
            None => changes_after_event(client, cursor).await,
        },
    }
}

async fn list_events(
    client: &StripeClient,
    params: &[(&str, &str)],
) -> Result<EventList, StripeError> {
    let page = client.get("/v1/events", params).await?;
    decode::<EventList>("event list", &page).map_err(|e| StripeError::Malformed(e.to_string()))
}

async fn current_cursor(client: &StripeClient) -> Result<ChangesPage, ConnectorError> {
    let page = list_events(client, &[("limit", "1")]).await?;
    let cursor = match page.data.first() {
        Some(newest) => newest.id.clone(),
        None => format!("{SINCE_PREFIX}{}", unix_now() - SKEW_MARGIN_SECS),
    };
    Ok(ChangesPage {
        changes: Vec::new(),
        cursor: Some(cursor),
        has_more: false,
    })
}

async fn changes_after_event(
    client: &StripeClient,
    cursor: &str,
) -> Result<ChangesPage, ConnectorError> {
    if !is_valid_id(cursor) {
        return Err(ConnectorError::CursorExpired);
    }
    let limit = PAGE_SIZE.to_string();
    let params = [("limit", limit.as_str()), ("ending_before", cursor)];
    let page = match list_events(client, &params).await {
        Ok(page) => page,
        Err(StripeError::NotFound { .. }) => return Err(ConnectorError::CursorExpired),
        Err(other) => return Err(other.into()),
    };
    let newest = page.data.first().map(|e| e.id.clone());
    Ok(ChangesPage {
        changes: changes(page.data.into_iter().rev()),
        cursor: Some(newest.unwrap_or_else(|| cursor.to_owned())),
        has_more: page.has_more,
    })
}

async fn changes_since_time(
    client: &StripeClient,
    cursor: &str,
    since: &str,
) -> Result<ChangesPage, ConnectorError> {
    let since: i64 = since.parse().map_err(|_| ConnectorError::CursorExpired)?;
    let since = since.to_string();
    let limit = PAGE_SIZE.to_string();
    // Newest first, back to `since`: collect it all (it is short, or the account
    // would have had an event id for a cursor), then hand it over oldest first.
    let mut newest_first: Vec<Event> = Vec::new();
    for _ in 0..MAX_SINCE_PAGES {
        let after = newest_first.last().map(|e| e.id.clone());
        let mut params = vec![("limit", limit.as_str()), ("created[gte]", since.as_str())];
        if let Some(after) = after.as_deref() {
            params.push(("starting_after", after));
        }
        let page = list_events(client, &params).await?;
        newest_first.extend(page.data);
        if !page.has_more {
            let mut oldest_first = newest_first;
            oldest_first.reverse();
            let has_more = oldest_first.len() > PAGE_SIZE;
            oldest_first.truncate(PAGE_SIZE);
            let cursor = oldest_first
                .last()
                .map(|e| e.id.clone())
                .unwrap_or_else(|| cursor.to_owned());
            return Ok(ChangesPage {
                changes: changes(oldest_first.into_iter()),
                cursor: Some(cursor),
                has_more,
            });
        }
    }
    Err(ConnectorError::CursorExpired)
}

/// Events (oldest first) as changes, one per object: the latest event of an object
/// stands for all of them, since the object is re-fetched whole anyway.
fn changes(events: impl Iterator<Item = Event>) -> Vec<Change> {
    let all: Vec<Change> = events.filter_map(change).collect();
    let mut seen = HashSet::new();
    let mut latest_first: Vec<Change> = all
        .into_iter()
        .rev()
        .filter(|c| seen.insert((c.kind, c.id.clone())))
        .collect();
    latest_first.reverse();
    latest_first
}

/// The change an event stands for, by the kind of its object (`data.object.object`):
/// `customer.*`, `customer.subscription.*`, `invoice.*`, `charge.*`,
/// `charge.refund.*`/`refund.*` and `payment_method.*` carry the object Tally keeps;
/// `customer.discount.*` re-fetch the subscription or customer the discount is on
/// (its terms live there); others (`charge.dispute.*`, `invoiceitem.*`...) carry
/// something else and are skipped.
fn change(event: Event) -> Option<Change> {
    if event.data.object.object.as_deref() == Some("discount") {
        return discount_change(event);
    }
    let kind = match event.data.object.object.as_deref()? {
        "customer" => ObjectKind::Customer,
        "subscription" => ObjectKind::Subscription,
        "invoice" => ObjectKind::Invoice,
        "charge" => ObjectKind::Charge,
        "refund" => ObjectKind::Refund,
        "payment_method" => ObjectKind::PaymentMethod,
        _ => return None,
    };
    let id = event.data.object.id.filter(|id| is_valid_id(id))?;
    // `customer.subscription.deleted` means canceled: the subscription lives on
    // (status `canceled`) and is churn history — re-fetch it, never erase it.
    let deleted = event.event_type.ends_with(".deleted") && kind != ObjectKind::Subscription;
    Some(Change {
        kind,
        id,
        at: event.created,
        deleted,
    })
}

/// A discount created, changed or deleted: never a deletion of what it is on.
fn discount_change(event: Event) -> Option<Change> {
    let id_of = |value: Option<Value>| match value? {
        Value::String(id) => Some(id),
        Value::Object(object) => object.get("id")?.as_str().map(str::to_owned),
        _ => None,
    };
    let object = event.data.object;
    let (kind, id) = match (id_of(object.subscription), id_of(object.customer)) {
        (Some(sub), _) => (ObjectKind::Subscription, sub),
        (None, Some(customer)) => (ObjectKind::Customer, customer),
        (None, None) => return None,
    };
    Some(Change {
        kind,
        id: Some(id).filter(|id| is_valid_id(id))?,
        at: event.created,
        deleted: false,
    })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str, kind: &str, object: &str, object_id: &str, created: i64) -> Event {
        // The second discount is a customer's own: removing it re-reads the customer.
        let customer = (object_id == "di_2").then_some("cus_9");
        serde_json::from_value(json!({
            "id": id, "type": kind, "created": created,
            "data": {"object": {"id": object_id, "object": object, "last4": "4242",
                "customer": customer, "subscription": null}}
        }))
        .unwrap()
    }

    #[test]
    fn events_map_to_the_kinds_they_carry() {
        let events = vec![
            event("evt_1", "customer.updated", "customer", "cus_1", 1),
            event(
                "evt_2",
                "customer.subscription.deleted",
                "subscription",
                "sub_1",
                2,
            ),
            event("evt_3", "charge.refund.updated", "refund", "re_1", 3),
            event("evt_4", "customer.discount.created", "discount", "di_1", 4),
            event("evt_5", "customer.deleted", "customer", "cus_2", 5),
            event("evt_6", "invoice.upcoming", "invoice", "", 6),
            event(
                "evt_7",
                "payment_method.attached",
                "payment_method",
                "pm_1",
                7,
            ),
            event("evt_8", "customer.discount.deleted", "discount", "di_2", 8),
        ];
        let got: Vec<(ObjectKind, String, bool)> = changes(events.into_iter())
            .into_iter()
            .map(|c| (c.kind, c.id, c.deleted))
            .collect();
        assert_eq!(
            got,
            vec![
                (ObjectKind::Customer, "cus_1".into(), false),
                (ObjectKind::Subscription, "sub_1".into(), false),
                (ObjectKind::Refund, "re_1".into(), false),
                (ObjectKind::Customer, "cus_2".into(), true),
                (ObjectKind::PaymentMethod, "pm_1".into(), false),
                (ObjectKind::Customer, "cus_9".into(), false),
            ]
        );
    }

    #[test]
    fn an_object_changed_twice_is_one_change_at_its_latest() {
        let events = vec![
            event("evt_1", "customer.updated", "customer", "cus_1", 1),
            event("evt_2", "invoice.paid", "invoice", "in_1", 2),
            event("evt_3", "customer.deleted", "customer", "cus_1", 3),
        ];
        let got = changes(events.into_iter());
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].id.as_str(), got[1].id.as_str()), ("in_1", "cus_1"));
        assert!(got[1].deleted && got[1].at == 3);
    }
}
