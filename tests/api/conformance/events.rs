//! The EventBus conformance suite: what is published can be observed, whole.
//!
//! Each adapter's factory returns the bus and an observer of its own kind (see
//! `tally_tests::EventObserver`). Delivery may lag (a queue behind EventBridge), so the
//! cases ask the observer again until the events they published arrive or 10 s pass.

use std::time::Duration;

use serde_json::{Value, json};
use tally::ports::{Clock, Event, EventBus, SystemClock};
use tally_tests::{EventObserver, Subject};

/// Instantiates the suite: `events_conformance!(adapter_name, factory_expression)`,
/// the factory yielding `(tally_tests::Subject<dyn EventBus>, impl EventObserver)`.
macro_rules! events_conformance {
    ($adapter:ident, $factory:expr) => {
        mod $adapter {
            conformance_cases!($factory;
                publishing_an_event_succeeds,
                a_published_event_is_observed_with_its_type_tenant_and_fields,
                an_event_without_a_tenant_is_observed_without_one,
                every_published_event_is_observed_exactly_once,
            );
        }
    };
}

type Fixture<O> = (Subject<dyn EventBus>, O);

const DELIVERY_DEADLINE: Duration = Duration::from_secs(10);

/// The observed events with these ids, once all have arrived (or the deadline passed).
async fn observe(observer: &impl EventObserver, ids: &[&str]) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + DELIVERY_DEADLINE;
    loop {
        let ours: Vec<Value> = observer
            .published()
            .await
            .into_iter()
            .filter(|event| ids.iter().any(|id| event["id"] == *id))
            .collect();
        let complete = ids
            .iter()
            .all(|id| ours.iter().any(|event| event["id"] == *id));
        if complete || tokio::time::Instant::now() >= deadline {
            return ours;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn event(event_type: &str) -> Event {
    Event::new(event_type, SystemClock.now())
}

async fn publishing_an_event_succeeds(fixture: &Fixture<impl EventObserver>) {
    let (bus, _) = fixture;
    bus.publish(&event("SyncRequested").tenant("t-1"))
        .await
        .unwrap();
}

async fn a_published_event_is_observed_with_its_type_tenant_and_fields(
    fixture: &Fixture<impl EventObserver>,
) {
    let (bus, observer) = fixture;
    let published = event("PasswordResetRequested")
        .tenant("t-1")
        .field("email", "owner@example.com")
        .field("token", "reset-token-1")
        .field("attempt", 2)
        .field("nested", json!({"ok": true, "list": [1, "two"]}));
    bus.publish(&published).await.unwrap();

    let observed = observe(observer, &[&published.id]).await;
    assert_eq!(observed, [published.to_json()]);
    let seen = &observed[0];
    assert_eq!(seen["type"], "PasswordResetRequested");
    assert_eq!(seen["tenant_id"], "t-1");
    assert_eq!(seen["token"], "reset-token-1");
    let read_back = Event::from_json(seen).unwrap();
    assert_eq!(read_back.event_type, published.event_type);
    assert_eq!(read_back.fields, published.fields);
}

async fn an_event_without_a_tenant_is_observed_without_one(fixture: &Fixture<impl EventObserver>) {
    let (bus, observer) = fixture;
    let published = event("SweepFinished").field("deleted", 3);
    bus.publish(&published).await.unwrap();
    let observed = observe(observer, &[&published.id]).await;
    assert_eq!(observed, [published.to_json()]);
    assert!(observed[0].get("tenant_id").is_none());
}

async fn every_published_event_is_observed_exactly_once(fixture: &Fixture<impl EventObserver>) {
    let (bus, observer) = fixture;
    let events: Vec<Event> = (0..5)
        .map(|i| event("SyncRequested").tenant("t-1").field("sequence", i))
        .collect();
    for published in &events {
        bus.publish(published).await.unwrap();
    }
    let ids: Vec<&str> = events
        .iter()
        .map(|published| published.id.as_str())
        .collect();
    let observed = observe(observer, &ids).await;
    assert_eq!(observed.len(), 5, "{observed:?}");
    for published in &events {
        let copies = observed
            .iter()
            .filter(|seen| seen["id"] == published.id.as_str())
            .count();
        assert_eq!(copies, 1, "{}", published.id);
    }
}

events_conformance!(embedded, tally_tests::embedded::events_in_the_log());
events_conformance!(
    embedded_subscriber,
    tally_tests::embedded::events_to_a_subscriber()
);
events_conformance!(eventbridge, tally_tests::moto::events_to_a_queue());
