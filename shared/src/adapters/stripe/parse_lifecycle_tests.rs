//! The lifecycle fields of a subscription against Stripe's fixture for API 2026-07-29:
//! `pause_collection` and the pause time in `status_details`.

use serde_json::{Value, json};

use super::parse;
use super::parse_tests::fixture;
use crate::domain::billing::{PauseBehavior, PauseCollection, SubscriptionStatus};

/// Stripe's subscription reference: `pause_collection` is `{behavior, resumes_at}`
/// while collection is paused, else null; the fixture pauses with
/// `mark_uncollectible` and no resume time.
#[test]
fn pause_collection_is_kept_with_its_behavior_and_resume_time() {
    let s = parse::subscription(&fixture("subscription")).unwrap();
    assert_eq!(
        s.pause_collection,
        Some(PauseCollection {
            behavior: PauseBehavior::MarkUncollectible,
            resumes_at: None,
        })
    );
    let mut sub = fixture("subscription");
    sub["pause_collection"] = json!({"behavior": "void", "resumes_at": 1_900_000_000});
    let s = parse::subscription(&sub).unwrap();
    assert_eq!(
        s.pause_collection.map(|p| (p.behavior, p.resumes_at)),
        Some((PauseBehavior::Void, Some(1_900_000_000)))
    );
    sub["pause_collection"] = Value::Null;
    assert_eq!(parse::subscription(&sub).unwrap().pause_collection, None);
    sub["pause_collection"] = json!({"behavior": "shred_invoices", "resumes_at": null});
    assert!(parse::subscription(&sub).is_err());
}

/// Stripe's subscription reference: a paused subscription's
/// `status_details.paused.transitioned_at` is when it entered `paused`; the fixture
/// (an active subscription) has none.
#[test]
fn the_pause_time_is_read_from_status_details() {
    assert_eq!(
        parse::subscription(&fixture("subscription"))
            .unwrap()
            .paused_at,
        None
    );
    let mut sub = fixture("subscription");
    sub["status"] = json!("paused");
    sub["status_details"] =
        json!({"paused": {"type": "subscription", "transitioned_at": 1_750_000_000}});
    let s = parse::subscription(&sub).unwrap();
    assert_eq!(
        (s.status, s.paused_at),
        (SubscriptionStatus::Paused, Some(1_750_000_000))
    );
}
