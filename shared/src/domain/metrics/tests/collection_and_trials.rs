//! Paused collection, statuses that never count, scheduled cancellations, trial
//! conversion on a paid first invoice, and the spans a subscription counts in; to the
//! cent. Expectations are [start, new, expansion, contraction, churn, reactivation,
//! end] per month.

use crate::domain::billing::{
    InvoiceRecord, PauseBehavior, PauseCollection, SubscriptionStatus, UsageType,
};
use crate::domain::metrics::{
    MrrPolicy, PausedCollection, day_of_date, facts_from_records, mrr_series, subscription_timeline,
};

use super::fixtures::*;

const BASIC: i64 = usd(50);
const HELD: [i64; 7] = [BASIC, 0, 0, 0, 0, 0, BASIC];

/// A monthly $50 subscription from 2024-01-01 with one invoice per month, by status.
fn monthly(id: &str, status: SubscriptionStatus, invoices: &[&str]) -> Dataset {
    let mut data = Dataset::default();
    let customer_id = format!("cus_{id}");
    data.customers.push(customer(&customer_id, Some("US")));
    let basic = monthly_price("basic", BASIC);
    data.subscriptions.push(subscription(
        id,
        &customer_id,
        status,
        ts(2024, 1, 1),
        vec![item("si", basic.clone(), 1)],
    ));
    for (k, status) in invoices.iter().enumerate() {
        data.invoices.extend(monthly_invoices(
            id,
            "si",
            &basic,
            1,
            add_month((2024, 1), k as u32),
            1,
            status,
        ));
    }
    data
}

fn months(data: &Dataset, policy: &MrrPolicy, to: (i32, u32, u32)) -> Vec<[i64; 7]> {
    let facts = facts_from_records(&[data.data()], policy);
    let range = monthly_usd(date(2024, 1, 1), date(to.0, to.1, to.2));
    minors(&mrr_series(&facts, &range).unwrap())
}

fn invoices(data: &Dataset) -> Vec<&InvoiceRecord> {
    data.invoices.iter().collect()
}

fn day(y: i32, m: u32, d: u32) -> u32 {
    day_of_date(date(y, m, d))
}

/// Stripe's "Pause payment collection" guide: the subscription stays `active` and
/// invoices are still generated, but nothing is collected. By default (the policy's
/// `paused_collection: not_recurring`) that is not recurring revenue: paid for January
/// and February, March's invoice marked uncollectible, resuming on May 1: churn in
/// March, reactivation in May. Counting it (`recurring`) keeps $50 throughout.
#[test]
fn a_paused_collection_is_not_recurring_revenue_until_it_resumes() {
    let mut data = monthly(
        "sub_pc",
        SubscriptionStatus::Active,
        &["paid", "paid", "uncollectible", "uncollectible"],
    );
    data.subscriptions[0].pause_collection = Some(PauseCollection {
        behavior: PauseBehavior::MarkUncollectible,
        resumes_at: Some(ts(2024, 5, 1)),
    });
    let got = months(&data, &MrrPolicy::default(), (2024, 5, 31));
    assert_eq!(
        got,
        vec![
            [0, BASIC, 0, 0, 0, 0, BASIC],
            HELD,
            [BASIC, 0, 0, 0, BASIC, 0, 0],
            [0; 7],
            [0, 0, 0, 0, 0, BASIC, BASIC],
        ]
    );
    let counting = MrrPolicy {
        paused_collection: PausedCollection::Recurring,
        ..MrrPolicy::default()
    };
    let got = months(&data, &counting, (2024, 5, 31));
    assert!(got[1..].iter().all(|m| *m == HELD));
}

/// Stripe's `status` reference: `incomplete` until the first invoice is paid, and
/// `incomplete_expired` once it was not (the invoice is voided); the Billing analytics
/// glossary counts only active and past_due. Neither ever counts, even with an open
/// first invoice.
#[test]
fn incomplete_subscriptions_never_count() {
    for (status, invoice) in [
        (SubscriptionStatus::Incomplete, "open"),
        (SubscriptionStatus::IncompleteExpired, "void"),
    ] {
        let data = monthly("sub_i", status, &[invoice]);
        let timeline = subscription_timeline(
            &data.subscriptions[0],
            &invoices(&data),
            None,
            &MrrPolicy::default(),
        );
        assert!(timeline.segments.is_empty(), "{status:?}");
        assert!(timeline.counted.is_empty(), "{status:?}");
    }
}

/// Stripe's subscription reference: `cancel_at` is a scheduled cancellation at a
/// given time. With no request time on the record (`canceled_at`), a $50 plan set to
/// cancel on 2024-03-20 churns then.
#[test]
fn a_scheduled_cancel_at_stops_counting_when_it_takes_effect() {
    let mut data = monthly("sub_ca", SubscriptionStatus::Active, &["paid"; 3]);
    data.subscriptions[0].cancel_at = Some(ts(2024, 3, 20));
    let timeline = subscription_timeline(
        &data.subscriptions[0],
        &invoices(&data),
        None,
        &MrrPolicy::default(),
    );
    assert_eq!(timeline.mrr_at(ts(2024, 3, 20) - 1).to_minor(), BASIC);
    assert_eq!(timeline.mrr_at(ts(2024, 3, 20)).to_minor(), 0);
    assert_eq!(
        timeline.counted,
        vec![(ts(2024, 1, 1), Some(ts(2024, 3, 20)))]
    );
}

/// A trial from 2024-01-01 to 01-15, then the first invoice in `status`.
fn trial(status: SubscriptionStatus, first_invoice: Option<(&str, Option<i64>)>) -> Dataset {
    let mut data = monthly("sub_tr", status, &[]);
    let sub = &mut data.subscriptions[0];
    sub.trial_start = Some(ts(2024, 1, 1));
    sub.trial_end = Some(ts(2024, 1, 15));
    let basic = monthly_price("basic", BASIC);
    if let Some((status, paid_at)) = first_invoice {
        let lines = vec![line(
            "sub_tr",
            "si",
            &basic,
            1,
            ts(2024, 1, 15),
            ts(2024, 2, 15),
        )];
        let mut first = invoice("sub_tr", status, lines);
        first.paid_at = paid_at;
        data.invoices.push(first);
    }
    data
}

/// Stripe support, "Calculating trial conversion rate in Billing": "A trial converts
/// when the full trial period has ended, the subscription has not been canceled, and
/// the first invoice has been paid"; the rate counts trials ended "either by conversion
/// or cancellation". Open first invoice: undecided; paid on 01-20: converted that day;
/// uncollectible, or an unpaid subscription: ended unconverted at the trial's end.
#[test]
fn a_trial_converts_only_once_its_first_invoice_is_paid() {
    let undecided = trial(SubscriptionStatus::PastDue, Some(("open", None)));
    assert!(undecided.facts().trials.is_empty());

    let paid = trial(
        SubscriptionStatus::Active,
        Some(("paid", Some(ts(2024, 1, 20)))),
    );
    let facts = paid.facts();
    assert_eq!(facts.trials.len(), 1);
    assert!(facts.trials[0].converted);
    assert_eq!(facts.trials[0].ended_day, day(2024, 1, 20));

    for lost in [
        trial(SubscriptionStatus::Active, Some(("uncollectible", None))),
        trial(SubscriptionStatus::Unpaid, Some(("open", None))),
        trial(SubscriptionStatus::Canceled, None),
    ] {
        let facts = lost.facts();
        assert_eq!(facts.trials.len(), 1);
        assert!(!facts.trials[0].converted);
        assert_eq!(facts.trials[0].ended_day, day(2024, 1, 15));
    }
}

/// Stripe's Billing analytics glossary counts subscribers whose subscriptions are
/// active or past_due, and leaves metered (usage-based) products out of MRR: a
/// subscriber on a metered price only counts from its start, with an MRR of 0; a trial
/// counts from its end.
#[test]
fn a_metered_only_subscriber_counts_with_no_mrr_and_a_trial_from_its_end() {
    let mut metered = monthly_price("usage", 1);
    metered.usage_type = UsageType::Metered;
    let sub = subscription(
        "sub_m",
        "cus_m",
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![item("si", metered, 0)],
    );
    let timeline = subscription_timeline(&sub, &[], None, &MrrPolicy::default());
    assert!(timeline.segments.is_empty());
    assert_eq!(timeline.counted, vec![(ts(2024, 1, 1), None)]);

    let data = trial(
        SubscriptionStatus::Active,
        Some(("paid", Some(ts(2024, 1, 15)))),
    );
    let timeline = subscription_timeline(
        &data.subscriptions[0],
        &invoices(&data),
        None,
        &MrrPolicy::default(),
    );
    assert_eq!(timeline.counted, vec![(ts(2024, 1, 15), None)]);
    assert_eq!(timeline.mrr_at(ts(2024, 1, 15)).to_minor(), BASIC);
}
