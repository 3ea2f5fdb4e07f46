//! Rows checked field by field, ids mapped, and event logs turned into the timeline the
//! engine computes MRR from (ChartMogul's event model: new, expansion, churn,
//! reactivation).

use serde_json::{Value, json};

use super::*;
use crate::domain::billing::{BillingRecord, InvoiceRecord, SubscriptionStatus};
use crate::domain::metrics::{MrrPolicy, subscription_timeline};

fn row(kind: ImportKind, value: Value) -> Result<ImportRow, FieldError> {
    match value {
        Value::Object(map) => parse_row(kind, &map),
        _ => panic!("a row is an object"),
    }
}

fn field_of(result: Result<ImportRow, FieldError>) -> (String, &'static str) {
    let error = result.expect_err("the row is refused");
    (error.field, error.code)
}

#[test]
fn a_plan_row_is_read_and_its_bad_fields_are_named() {
    let good = json!({"external_id": "pro", "name": "Pro", "amount": 4900,
        "currency": "EUR", "interval": "month", "interval_count": 1});
    let Ok(ImportRow::Plan(plan)) = row(ImportKind::Plans, good.clone()) else {
        panic!("a good plan row");
    };
    assert_eq!(plan.currency, "eur");
    let mut bad = good.clone();
    bad["currency"] = json!("euro");
    assert_eq!(
        field_of(row(ImportKind::Plans, bad)),
        ("currency".into(), "invalid")
    );
    let mut bad = good.clone();
    bad["amount"] = json!(-1);
    assert_eq!(field_of(row(ImportKind::Plans, bad)).0, "amount");
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("name");
    assert_eq!(
        field_of(row(ImportKind::Plans, bad)),
        ("name".into(), "required")
    );
    let mut bad = good;
    bad["colour"] = json!("red");
    assert_eq!(
        field_of(row(ImportKind::Plans, bad)),
        ("colour".into(), "unknown_field")
    );
}

#[test]
fn an_error_never_echoes_the_value() {
    let secret = "someone@example.com-not-an-address@";
    let result = row(
        ImportKind::Customers,
        json!({"external_id": "c1", "email": "a b@x", "created_at": secret}),
    );
    let error = result.expect_err("refused");
    assert!(!error.message.contains(secret));
}

#[test]
fn times_are_rfc_3339_or_unix_seconds_and_events_need_their_plan() {
    let event = |at: Value, plan: Option<&str>| {
        let mut value = json!({"external_id": "e1", "customer": "c1", "subscription": "s1",
            "type": "start", "at": at, "quantity": 1});
        if let Some(plan) = plan {
            value["plan"] = json!(plan);
        }
        row(ImportKind::SubscriptionEvents, value)
    };
    let Ok(ImportRow::Event(a)) = event(json!("2026-01-01T00:00:00Z"), Some("pro")) else {
        panic!("RFC 3339");
    };
    let Ok(ImportRow::Event(b)) = event(json!(1_767_225_600), Some("pro")) else {
        panic!("Unix seconds");
    };
    assert_eq!(a.at, b.at);
    assert_eq!(
        field_of(event(json!(1_767_225_600_000i64), Some("pro"))).0,
        "at"
    );
    assert_eq!(
        field_of(event(json!(1_767_225_600), None)),
        ("plan".into(), "required")
    );
}

#[test]
fn record_ids_keep_simple_ids_and_escape_the_rest_injectively() {
    assert_eq!(record_id("cus-42"), "cus-42");
    assert_eq!(record_id("a_b"), "a_5Fb");
    assert_eq!(record_id("a b/é"), "a_20b_2F_C3_A9");
    assert_ne!(record_id("a_b"), record_id("a b"));
    let long = "ü".repeat(100);
    let hashed = record_id(&long);
    assert!(hashed.starts_with("_h") && hashed.len() == 66);
    for id in [record_id("x y"), hashed, record_id("plain")] {
        assert!(crate::repos::billing::valid_provider_id(&format!(
            "{id}_r2_p10_l"
        )));
    }
}

const DAY: i64 = 86_400;
const T0: i64 = 1_767_225_600; // 2026-01-01

fn plan(id: &str, amount: i64) -> PlanRow {
    PlanRow {
        external_id: id.into(),
        name: id.into(),
        amount,
        currency: "usd".into(),
        interval: Interval::Month,
        interval_count: 1,
    }
}

fn event(id: &str, kind: EventType, at: i64, plan: Option<PlanRow>, quantity: u64) -> LoggedEvent {
    LoggedEvent {
        external_id: id.into(),
        kind,
        at,
        quantity: plan.as_ref().map(|_| quantity),
        plan,
    }
}

/// The MRR (minor units) of the log's records at `at`, as the engine computes it.
fn mrr_at(records: &[BillingRecord], at: i64) -> i64 {
    let invoices: Vec<&InvoiceRecord> = records
        .iter()
        .filter_map(|r| match r {
            BillingRecord::Invoice(i) => Some(i),
            _ => None,
        })
        .collect();
    records
        .iter()
        .filter_map(|r| match r {
            BillingRecord::Subscription(s) => Some(s),
            _ => None,
        })
        .map(|sub| {
            subscription_timeline(sub, &invoices, None, &MrrPolicy::default())
                .mrr_at(at)
                .to_minor()
        })
        .sum()
}

#[test]
fn a_change_and_a_cancel_move_mrr_when_they_happened() {
    let log = SubscriptionLog {
        subscription: "s1".into(),
        customer: "c1".into(),
        events: vec![
            // Listed out of order: the log is ordered by time.
            event("e3", EventType::Cancel, T0 + 60 * DAY, None, 0),
            event("e1", EventType::Start, T0, Some(plan("basic", 1000)), 1),
            event(
                "e2",
                EventType::Change,
                T0 + 30 * DAY,
                Some(plan("pro", 2500)),
                2,
            ),
        ],
    };
    let records = subscription_records(&log).expect("a valid log");
    assert_eq!(mrr_at(&records, T0 + DAY), 1000);
    assert_eq!(mrr_at(&records, T0 + 31 * DAY), 5000);
    assert_eq!(mrr_at(&records, T0 + 61 * DAY), 0);
    let Some(BillingRecord::Subscription(sub)) = records.last() else {
        panic!("the subscription comes last");
    };
    assert_eq!(sub.status, SubscriptionStatus::Canceled);
    assert_eq!(sub.canceled_at, Some(T0 + 60 * DAY));
}

#[test]
fn a_reactivation_is_a_second_run_and_an_open_run_counts_until_now() {
    let log = SubscriptionLog {
        subscription: "s1".into(),
        customer: "c1".into(),
        events: vec![
            event("e1", EventType::Start, T0, Some(plan("basic", 1000)), 1),
            event("e2", EventType::Cancel, T0 + 10 * DAY, None, 0),
            event(
                "e3",
                EventType::Reactivate,
                T0 + 20 * DAY,
                Some(plan("basic", 1000)),
                3,
            ),
        ],
    };
    let records = subscription_records(&log).expect("a valid log");
    let ids: Vec<&str> = records
        .iter()
        .filter(|r| matches!(r, BillingRecord::Subscription(_)))
        .map(BillingRecord::id)
        .collect();
    assert_eq!(ids, ["s1", "s1_r2"]);
    assert_eq!(mrr_at(&records, T0 + 15 * DAY), 0);
    assert_eq!(mrr_at(&records, T0 + 400 * DAY), 3000);
}

#[test]
fn events_out_of_sequence_are_named() {
    let log = |events| SubscriptionLog {
        subscription: "s1".into(),
        customer: "c1".into(),
        events,
    };
    let change_first = log(vec![event(
        "e1",
        EventType::Change,
        T0,
        Some(plan("p", 1)),
        1,
    )]);
    assert_eq!(
        check_sequence(&change_first).map_err(|e| e.event),
        Err("e1".into())
    );
    let twice = log(vec![
        event("e1", EventType::Start, T0, Some(plan("p", 1)), 1),
        event("e2", EventType::Start, T0 + DAY, Some(plan("p", 1)), 1),
    ]);
    assert_eq!(
        check_sequence(&twice).map_err(|e| e.event),
        Err("e2".into())
    );
    let mut other = plan("q", 1);
    other.currency = "eur".into();
    let currencies = log(vec![
        event("e1", EventType::Start, T0, Some(plan("p", 1)), 1),
        event("e2", EventType::Change, T0 + DAY, Some(other), 1),
    ]);
    assert!(check_sequence(&currencies).is_err());
}
