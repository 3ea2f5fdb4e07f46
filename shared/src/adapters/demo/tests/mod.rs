//! The demo dataset's promises: deterministic, realistic in size and shape, internally
//! consistent, listable page by page, and free of card numbers and names.

mod backtest;
mod consistency;
mod movements;
mod statuses;

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Instant;

use crate::domain::billing::{ObjectKind, SubscriptionStatus};
use crate::ports::connector::Connector;

use super::calendar::add_months;
use super::wallet::card_expiry;
use super::{DemoConnector, DemoDataset, DemoParams, DemoShape, generate};

/// The default dataset, generated once for all tests of this module.
fn default_dataset() -> &'static DemoDataset {
    static DATASET: OnceLock<DemoDataset> = OnceLock::new();
    DATASET.get_or_init(|| generate(DemoParams::default()))
}

#[test]
fn the_same_seed_gives_the_same_dataset() {
    let params = DemoParams {
        customers: 300,
        ..DemoParams::default()
    };
    let first = generate(params);
    assert_eq!(first, generate(params));
    assert!(!first.invoices.is_empty());
    let other_seed = generate(DemoParams { seed: 7, ..params });
    assert_ne!(first, other_seed);
}

#[test]
fn a_paddle_shaped_dataset_carries_paddles_ids_and_the_same_business() {
    let stripe = DemoParams {
        customers: 200,
        ..DemoParams::default()
    };
    let paddle = DemoParams {
        shape: DemoShape::Paddle,
        ..stripe
    };
    let (s, p) = (generate(stripe), generate(paddle));
    // Paddle Billing's id prefixes (its API reference: ctm_, sub_, txn_, adj_, paymtd_).
    let prefixed = |ids: Vec<&str>, prefix: &str| ids.iter().all(|id| id.starts_with(prefix));
    assert!(prefixed(
        p.customers.iter().map(|c| c.id.as_str()).collect(),
        "ctm_"
    ));
    assert!(prefixed(
        p.subscriptions.iter().map(|c| c.id.as_str()).collect(),
        "sub_"
    ));
    assert!(prefixed(
        p.invoices.iter().map(|c| c.id.as_str()).collect(),
        "txn_"
    ));
    assert!(prefixed(
        p.refunds.iter().map(|c| c.id.as_str()).collect(),
        "adj_"
    ));
    assert!(prefixed(
        p.payment_methods.iter().map(|c| c.id.as_str()).collect(),
        "paymtd_"
    ));
    assert!(prefixed(
        s.customers.iter().map(|c| c.id.as_str()).collect(),
        "cus_"
    ));
    // Only the ids (and so the people) differ: the same seed tells the same story.
    assert_eq!(s.events, p.events);
    assert_eq!(s.invoices.len(), p.invoices.len());
    let paid = |d: &DemoDataset| d.invoices.iter().map(|i| i.amount_paid).sum::<i64>();
    assert_eq!(paid(&s), paid(&p));
    assert_ne!(s.customers[0].email, p.customers[0].email);
}

#[test]
fn about_two_thousand_customers_join_over_twenty_four_months() {
    let params = DemoParams::default();
    let data = default_dataset();
    assert_eq!(data.customers.len(), 2_000);
    let window_start = add_months(params.end, -24);
    assert!(
        data.customers
            .iter()
            .all(|c| (window_start..=params.end).contains(&c.created))
    );
    // Growing sign-ups: the last six months bring far more than the first six, and
    // every quarter brings some.
    let joined_between = |from: i64, to: i64| {
        data.customers
            .iter()
            .filter(|c| (from..to).contains(&c.created))
            .count()
    };
    let first_half_year = joined_between(window_start, add_months(window_start, 6));
    let last_half_year = joined_between(add_months(params.end, -6), params.end + 1);
    assert!(
        last_half_year > first_half_year * 2,
        "{first_half_year} then {last_half_year}"
    );
    for quarter in 0..8 {
        let from = add_months(window_start, quarter * 3);
        assert!(
            joined_between(from, add_months(from, 3)) > 50,
            "quarter {quarter}"
        );
    }
}

#[tokio::test]
async fn listing_pages_through_every_record_once() {
    let connector = DemoConnector::from_dataset(default_dataset().clone());
    for kind in ObjectKind::ALL {
        let mut seen = HashSet::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = connector.list(kind, after.as_deref()).await.expect("list");
            pages += 1;
            assert!(page.records.len() <= 100);
            for record in &page.records {
                assert_eq!(record.kind(), kind);
                assert!(
                    seen.insert(record.id().to_owned()),
                    "{} listed twice",
                    record.id()
                );
            }
            match page.next {
                Some(next) => {
                    assert_eq!(page.records.len(), 100, "only the last page is short");
                    assert_eq!(Some(next.as_str()), page.records.last().map(|r| r.id()));
                    after = Some(next);
                }
                None => break,
            }
        }
        assert_eq!(seen.len(), connector.count(kind), "{kind:?}");
        assert!(
            !seen.is_empty() && pages >= seen.len().div_ceil(100),
            "{kind:?}"
        );
        let some_id = seen.iter().next().cloned().unwrap_or_default();
        let fetched = connector.fetch(kind, &some_id).await.expect("fetch");
        assert_eq!(fetched.map(|record| record.id().to_owned()), Some(some_id));
        assert_eq!(
            connector.fetch(kind, "cus_unknown").await.expect("fetch"),
            None
        );
    }
    let canceled = connector
        .dataset()
        .subscriptions
        .iter()
        .any(|s| s.status == SubscriptionStatus::Canceled);
    assert!(canceled, "canceled subscriptions are listed too");
    let first = connector.changes_since(None).await.expect("changes");
    assert!(first.changes.is_empty() && !first.has_more);
    assert_eq!(first.cursor.as_deref(), Some("demo:0"));
    let later = connector
        .changes_since(Some("demo:0"))
        .await
        .expect("changes");
    assert_eq!(later, first);
}

#[test]
fn no_record_carries_card_numbers_or_names() {
    let data = default_dataset();
    let mut everything = Vec::new();
    for value in [
        serde_json::to_value(&data.customers),
        serde_json::to_value(&data.payment_methods),
        serde_json::to_value(&data.subscriptions),
        serde_json::to_value(&data.invoices),
        serde_json::to_value(&data.charges),
        serde_json::to_value(&data.refunds),
    ] {
        everything.push(value.expect("serializable"));
    }
    let mut keys = HashSet::new();
    let mut strings = Vec::new();
    for value in &everything {
        walk(value, &mut keys, &mut strings);
    }
    for forbidden in [
        "last4",
        "name",
        "number",
        "fingerprint",
        "cvc_check",
        "iban",
        "address",
    ] {
        assert!(
            !keys.contains(forbidden),
            "a record has a `{forbidden}` field"
        );
    }
    // No string looks like a card number (12 or more digits in a row).
    for text in strings {
        let mut run = 0;
        for c in text.chars() {
            run = if c.is_ascii_digit() { run + 1 } else { 0 };
            assert!(run < 12, "{text} looks like a card number");
        }
    }
    assert!(data.customers.iter().all(|c| {
        c.email
            .as_deref()
            .is_some_and(|e| e.ends_with("@demo.tally.invalid"))
    }));
}

fn walk<'a>(value: &'a serde_json::Value, keys: &mut HashSet<&'a str>, strings: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                keys.insert(key);
                walk(inner, keys, strings);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| walk(item, keys, strings)),
        serde_json::Value::String(text) => strings.push(text),
        _ => {}
    }
}

#[test]
fn some_cards_expire_before_the_next_renewal() {
    let data = default_dataset();
    let end = DemoParams::default().end;
    let expiry_of_method = |id: &str| {
        data.payment_methods
            .iter()
            .find(|pm| pm.id == id)
            .and_then(|pm| pm.card.as_ref())
            .map(card_expiry)
    };
    // Still working today, no longer at the next renewal: a payment-failure risk.
    let at_risk = data
        .subscriptions
        .iter()
        .filter(|s| matches!(s.status, SubscriptionStatus::Active | SubscriptionStatus::PastDue))
        .filter(|s| !s.cancel_at_period_end)
        .filter(|s| {
            let renewal = s.items.first().and_then(|item| item.current_period_end);
            let expiry = s.default_payment_method.as_deref().and_then(expiry_of_method);
            matches!((renewal, expiry), (Some(renewal), Some(expiry)) if expiry > end && expiry <= renewal)
        })
        .count();
    assert!(at_risk >= 5, "{at_risk} subscriptions at risk");
}

/// Generation time and sizes: `cargo test -p tally --release demo_generation_figures
/// -- --ignored --nocapture`.
#[test]
#[ignore = "prints figures; slow in debug builds"]
fn demo_generation_figures() {
    for params in [
        DemoParams::default(),
        DemoParams {
            customers: 100_000,
            months: 60,
            ..DemoParams::default()
        },
    ] {
        let started = Instant::now();
        let data = generate(params);
        let elapsed = started.elapsed();
        let lines: usize = data.invoices.iter().map(|i| i.lines.len()).sum();
        println!(
            "{} customers over {} months: {:.2?}; customers {}, payment methods {}, \
             subscriptions {}, invoices {} ({} lines), charges {}, refunds {}",
            params.customers,
            params.months,
            elapsed,
            data.customers.len(),
            data.payment_methods.len(),
            data.subscriptions.len(),
            data.invoices.len(),
            lines,
            data.charges.len(),
            data.refunds.len(),
        );
        println!("{:#?}", data.events);
        let mut statuses = std::collections::BTreeMap::new();
        for s in &data.subscriptions {
            *statuses.entry(format!("{:?}", s.status)).or_insert(0) += 1;
        }
        println!("subscription statuses: {statuses:?}");
    }
}
