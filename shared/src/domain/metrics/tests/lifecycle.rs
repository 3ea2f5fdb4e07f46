//! Subscription lifecycles: trials, past_due and unpaid, cancellation, invoice history.
//! Expectations are [start, new, expansion, contraction, churn, reactivation, end] per
//! month, in cents.

use crate::domain::billing::{Interval, SubscriptionStatus, UsageType};
use crate::domain::metrics::{
    Metric, MetricValue, MrrPolicy, UnpaidChurnFrom, facts_from_records, metric_series, mrr_series,
    subscription_timeline,
};

use super::fixtures::*;

const BASIC: i64 = usd(50);

fn basic() -> crate::domain::billing::PriceTerms {
    monthly_price("basic", BASIC)
}

/// A monthly basic subscription from 2024-01-01 with `invoices` (statuses per month).
fn monthly_sub(id: &str, status: SubscriptionStatus, invoice_statuses: &[&str]) -> Dataset {
    let mut data = Dataset::default();
    let customer = format!("cus_{id}");
    data.customers.push(customer_record(&customer));
    data.subscriptions.push(subscription(
        id,
        &customer,
        status,
        ts(2024, 1, 1),
        vec![item("si", basic(), 1)],
    ));
    for (k, status) in invoice_statuses.iter().enumerate() {
        data.invoices.extend(monthly_invoices(
            id,
            "si",
            &basic(),
            1,
            add_month((2024, 1), k as u32),
            1,
            status,
        ));
    }
    data
}

fn customer_record(id: &str) -> crate::domain::billing::CustomerRecord {
    customer(id, Some("US"))
}

const ZERO: [i64; 7] = [0; 7];
const HELD: [i64; 7] = [BASIC, 0, 0, 0, 0, 0, BASIC];
const NEW: [i64; 7] = [0, BASIC, 0, 0, 0, 0, BASIC];
const CHURN: [i64; 7] = [BASIC, 0, 0, 0, BASIC, 0, 0];

#[test]
fn trial_contributes_zero_then_new_at_conversion() {
    let mut data = Dataset::default();
    data.customers.push(customer_record("cus_t"));
    let mut sub = subscription(
        "sub_t",
        "cus_t",
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![item("si", basic(), 1)],
    );
    sub.trial_start = Some(ts(2024, 1, 1));
    sub.trial_end = Some(ts(2024, 1, 15));
    data.subscriptions.push(sub);
    // Stripe bills the trial as a $0 line of the real price: it must not count.
    let mut trial_line = line("sub_t", "si", &basic(), 1, ts(2024, 1, 1), ts(2024, 1, 15));
    trial_line.amount = 0;
    data.invoices
        .push(invoice("sub_t", "paid", vec![trial_line]));
    for (from, to) in [
        ((2024, 1, 15), (2024, 2, 15)),
        ((2024, 2, 15), (2024, 3, 15)),
        ((2024, 3, 15), (2024, 4, 15)),
    ] {
        let (f, t) = (ts(from.0, from.1, from.2), ts(to.0, to.1, to.2));
        data.invoices.push(invoice(
            "sub_t",
            "paid",
            vec![line("sub_t", "si", &basic(), 1, f, t)],
        ));
    }
    // A second trial, canceled when it ended, never paid.
    data.customers.push(customer_record("cus_u"));
    let mut lapsed = subscription(
        "sub_u",
        "cus_u",
        SubscriptionStatus::Canceled,
        ts(2024, 2, 1),
        vec![item("si_u", basic(), 1)],
    );
    lapsed.trial_start = Some(ts(2024, 2, 1));
    lapsed.trial_end = Some(ts(2024, 2, 15));
    lapsed.ended_at = Some(ts(2024, 2, 15));
    data.subscriptions.push(lapsed);

    let facts = data.facts();
    let series = mrr_series(&facts, &monthly_usd(date(2024, 1, 1), date(2024, 4, 30))).unwrap();
    assert_eq!(minors(&series), vec![NEW, HELD, HELD, HELD]);
    assert_eq!(series.points[0].new_customers, 1);
    let timeline = subscription_timeline(
        &data.subscriptions[0],
        &data.invoices.iter().collect::<Vec<_>>(),
        None,
        &MrrPolicy::default(),
    );
    assert_eq!(timeline.mrr_at(ts(2024, 1, 14)).to_minor(), 0);
    assert_eq!(timeline.mrr_at(ts(2024, 1, 15)).to_minor(), BASIC);

    let conversion = metric_series(
        &facts,
        Metric::TrialConversion,
        &monthly_usd(date(2024, 1, 1), date(2024, 2, 29)),
    )
    .unwrap();
    assert_eq!(conversion.series[0].value, MetricValue::Ratio(Some(1.0)));
    assert_eq!(
        (conversion.series[0].count, conversion.series[0].converted),
        (Some(1), Some(1))
    );
    assert_eq!(conversion.series[1].value, MetricValue::Ratio(Some(0.0)));
    assert_eq!(
        (conversion.series[1].count, conversion.series[1].converted),
        (Some(1), Some(0))
    );
}

#[test]
fn past_due_keeps_counting() {
    let data = monthly_sub(
        "sub_pd",
        SubscriptionStatus::PastDue,
        &["paid", "paid", "open"],
    );
    let series = mrr_series(
        &data.facts(),
        &monthly_usd(date(2024, 1, 1), date(2024, 5, 31)),
    )
    .unwrap();
    assert_eq!(minors(&series), vec![NEW, HELD, HELD, HELD, HELD]);
}

#[test]
fn unpaid_churns_from_the_first_unpaid_invoice() {
    let data = monthly_sub(
        "sub_up",
        SubscriptionStatus::Unpaid,
        &["paid", "paid", "uncollectible", "uncollectible"],
    );
    let range = monthly_usd(date(2024, 1, 1), date(2024, 5, 31));
    let series = mrr_series(&data.facts(), &range).unwrap();
    // Stopped paying for March: churned on March 1.
    assert_eq!(minors(&series), vec![NEW, HELD, CHURN, ZERO, ZERO]);
    assert_eq!(series.points[2].churned_customers, 1);
    assert_eq!(series.points[2].customers, 0);

    // The other policy: from the current period start (April).
    let mut later = data.clone();
    later.subscriptions[0].items[0].current_period_start = Some(ts(2024, 4, 1));
    let policy = MrrPolicy {
        unpaid_churn_from: UnpaidChurnFrom::CurrentPeriodStart,
        ..MrrPolicy::default()
    };
    let facts = facts_from_records(&[later.data()], &policy);
    let series = mrr_series(&facts, &range).unwrap();
    assert_eq!(minors(&series), vec![NEW, HELD, HELD, CHURN, ZERO]);
}

/// Stripe support, "Impact of Subscription Cancellations on MRR in Billing": "If you
/// cancel a subscription using cancel_at_period_end, the subscription will no longer
/// count towards your MRR after the time of the API call, not at the end of the
/// period". Requested on 2024-03-10 (`canceled_at`): churn in March, whether the
/// record is still active or has since ended; counting until the period ends (April 1)
/// is the other policy.
#[test]
fn cancel_at_period_end_churns_when_it_is_requested() {
    let mut data = monthly_sub(
        "sub_c",
        SubscriptionStatus::Active,
        &["paid", "paid", "paid"],
    );
    let sub = &mut data.subscriptions[0];
    sub.cancel_at_period_end = true;
    sub.canceled_at = Some(ts(2024, 3, 10));
    sub.items[0].current_period_end = Some(ts(2024, 4, 1));
    let range = monthly_usd(date(2024, 1, 1), date(2024, 5, 31));
    let series = mrr_series(&data.facts(), &range).unwrap();
    assert_eq!(minors(&series), vec![NEW, HELD, CHURN, ZERO, ZERO]);

    // Once it has ended, the canceled record says the same.
    let mut ended = monthly_sub(
        "sub_e",
        SubscriptionStatus::Canceled,
        &["paid", "paid", "paid"],
    );
    ended.subscriptions[0].canceled_at = Some(ts(2024, 3, 10));
    ended.subscriptions[0].ended_at = Some(ts(2024, 4, 1));
    let series = mrr_series(&ended.facts(), &range).unwrap();
    assert_eq!(minors(&series), vec![NEW, HELD, CHURN, ZERO, ZERO]);

    // Counting until the period ends instead (a policy choice): April.
    let policy = MrrPolicy {
        count_until_period_end_when_cancel_at_period_end: true,
        ..MrrPolicy::default()
    };
    for records in [&data, &ended] {
        let facts = facts_from_records(&[records.data()], &policy);
        let series = mrr_series(&facts, &range).unwrap();
        assert_eq!(minors(&series), vec![NEW, HELD, HELD, CHURN, ZERO]);
    }
}

#[test]
fn metered_and_free_prices_contribute_zero() {
    let mut metered = monthly_price("usage", usd(1));
    metered.usage_type = UsageType::Metered;
    let free = monthly_price("free", 0);
    let sub = subscription(
        "sub_m",
        "cus_m",
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![item("si_u", metered, 1_000), item("si_f", free, 1)],
    );
    let default = subscription_timeline(&sub, &[], None, &MrrPolicy::default());
    assert!(default.segments.is_empty());
    let counting_usage = MrrPolicy {
        exclude_metered: false,
        ..MrrPolicy::default()
    };
    let timeline = subscription_timeline(&sub, &[], None, &counting_usage);
    assert_eq!(timeline.mrr_at(ts(2024, 2, 1)).to_minor(), usd(1_000));
}

/// A void invoice was never owed (Stripe's invoice `status` reference), and a
/// proration charge voided with it dates nothing: a voided pro invoice for February
/// and a voided proration line for it leave the basic plan as it was.
#[test]
fn void_invoices_and_their_proration_lines_are_ignored() {
    let pro = monthly_price("pro", usd(125));
    let mut data = monthly_sub(
        "sub_v",
        SubscriptionStatus::Active,
        &["paid", "paid", "paid"],
    );
    let mut proration = line("sub_v", "si", &pro, 1, ts(2024, 2, 10), ts(2024, 3, 1));
    proration.proration = true;
    data.invoices.push(invoice(
        "sub_v_void",
        "void",
        vec![
            line("sub_v", "si", &pro, 1, ts(2024, 2, 1), ts(2024, 3, 1)),
            proration,
        ],
    ));
    let series = mrr_series(
        &data.facts(),
        &monthly_usd(date(2024, 1, 1), date(2024, 3, 31)),
    )
    .unwrap();
    assert_eq!(minors(&series), vec![NEW, HELD, HELD]);
}

#[test]
fn weekly_quarterly_and_yearly_subscriptions_in_one_series() {
    let mut data = Dataset::default();
    let plans = [
        ("sub_w", price("weekly", usd(1_000), Interval::Week, 1)),
        ("sub_q", price("quarterly", usd(300), Interval::Month, 3)),
        ("sub_y", price("yearly", usd(12_000), Interval::Year, 1)),
    ];
    for (id, price) in plans {
        let customer = format!("cus_{id}");
        data.customers.push(customer_record(&customer));
        data.subscriptions.push(subscription(
            id,
            &customer,
            SubscriptionStatus::Active,
            ts(2024, 1, 1),
            vec![item("si", price, 1)],
        ));
    }
    let series = mrr_series(
        &data.facts(),
        &monthly_usd(date(2024, 1, 1), date(2024, 1, 31)),
    )
    .unwrap();
    // $4,333.333… + $100.00 + $1,000.00, summed in micro-cents, then rounded: $5,433.33.
    let point = &series.points[0];
    assert_eq!(
        point.mrr.micros(),
        433_333_333_333 + 10_000_000_000 + 100_000_000_000
    );
    assert_eq!(point.mrr.to_minor(), 543_333);
    assert_eq!(point.new_customers, 3);
}
