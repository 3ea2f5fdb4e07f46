//! Stripe's lifecycle, rule by rule, to the cent: changes dated at their proration
//! lines (or the first period billed at the new terms), and paused subscriptions.
//! Expectations are [start, new, expansion, contraction, churn, reactivation, end].

use crate::domain::billing::{InvoiceRecord, SubscriptionStatus};
use crate::domain::metrics::{MrrPolicy, facts_from_records, mrr_series, subscription_timeline};

use super::fixtures::*;

const BASIC: i64 = usd(50);
const PRO: i64 = usd(125);

/// A monthly $50 subscription from 2024-01-01, invoiced (paid) for `months` months.
fn monthly(id: &str, status: SubscriptionStatus, months: u32) -> Dataset {
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
    data.invoices.extend(monthly_invoices(
        id,
        "si",
        &basic,
        1,
        (2024, 1),
        months,
        "paid",
    ));
    data
}

fn months(data: &Dataset, policy: &MrrPolicy, to: (i32, u32, u32)) -> Vec<[i64; 7]> {
    let facts = facts_from_records(&[data.data()], policy);
    let range = monthly_usd(date(2024, 1, 1), date(to.0, to.1, to.2));
    minors(&mrr_series(&facts, &range).unwrap())
}

fn all_invoices(data: &Dataset) -> Vec<&InvoiceRecord> {
    data.invoices.iter().collect()
}

/// Stripe's "Prorations" guide (docs.stripe.com/billing/subscriptions/prorations): a
/// mid-period upgrade bills a credit for the unused time on the old price and a charge
/// for the remaining time on the new one, both from the change. The upgrade on
/// 2024-03-15 from $50 to $125 is March's expansion of $75, on March 15, and a renewal
/// billed later leaves January to March as they were.
#[test]
fn a_mid_period_upgrade_is_dated_at_its_proration_lines_and_stays_there() {
    let pro = monthly_price("pro", PRO);
    let mut data = monthly("sub_up", SubscriptionStatus::Active, 3);
    data.subscriptions[0].items[0].price = pro.clone();
    let basic = monthly_price("basic", BASIC);
    let mut credit = line("sub_up", "si", &basic, 1, ts(2024, 3, 15), ts(2024, 4, 1));
    credit.amount = -1_371;
    credit.proration = true;
    let mut charge = line("sub_up", "si", &pro, 1, ts(2024, 3, 15), ts(2024, 4, 1));
    charge.amount = 6_855;
    charge.proration = true;
    data.invoices
        .push(invoice("sub_up", "paid", vec![credit, charge]));

    let timeline = subscription_timeline(
        &data.subscriptions[0],
        &all_invoices(&data),
        None,
        &MrrPolicy::default(),
    );
    assert_eq!(timeline.mrr_at(ts(2024, 3, 15) - 1).to_minor(), BASIC);
    assert_eq!(timeline.mrr_at(ts(2024, 3, 15)).to_minor(), PRO);
    let policy = MrrPolicy::default();
    let before = months(&data, &policy, (2024, 4, 30));
    assert_eq!(
        before,
        vec![
            [0, BASIC, 0, 0, 0, 0, BASIC],
            [BASIC, 0, 0, 0, 0, 0, BASIC],
            [BASIC, 0, PRO - BASIC, 0, 0, 0, PRO],
            [PRO, 0, 0, 0, 0, 0, PRO],
        ]
    );
    data.invoices.extend(monthly_invoices(
        "sub_up",
        "si",
        &pro,
        1,
        (2024, 4),
        1,
        "paid",
    ));
    assert_eq!(months(&data, &policy, (2024, 4, 30)), before);
}

/// The rule for a change with no proration evidence (Stripe's
/// `proration_behavior=none`): it is dated at the first period billed at the new
/// terms. Two seats instead of one, seen before April's invoice: expansion on April 1,
/// and the same once April is billed.
#[test]
fn a_change_without_proration_is_dated_at_the_first_period_billed_at_it() {
    let mut data = monthly("sub_q", SubscriptionStatus::Active, 3);
    data.subscriptions[0].items[0].quantity = 2;
    let policy = MrrPolicy::default();
    let expected = vec![
        [0, BASIC, 0, 0, 0, 0, BASIC],
        [BASIC, 0, 0, 0, 0, 0, BASIC],
        [BASIC, 0, 0, 0, 0, 0, BASIC],
        [BASIC, 0, BASIC, 0, 0, 0, 2 * BASIC],
    ];
    assert_eq!(months(&data, &policy, (2024, 4, 30)), expected);
    let basic = monthly_price("basic", BASIC);
    data.invoices.extend(monthly_invoices(
        "sub_q",
        "si",
        &basic,
        2,
        (2024, 4),
        1,
        "paid",
    ));
    assert_eq!(months(&data, &policy, (2024, 4, 30)), expected);
}

/// Stripe's subscription `status` reference: "A paused subscription doesn't generate
/// invoices"; the Billing analytics glossary counts only active and past_due; the
/// subscription object's `status_details.paused.transitioned_at` is "when the
/// subscription status transitioned to paused". An annual $1,200 plan paid on
/// 2024-01-01 and paused on 2024-11-15 keeps its $100 for every month before and
/// churns on November 15; with no pause time on the record, when the paid year ends,
/// never before.
#[test]
fn a_paused_annual_plan_keeps_its_paid_months_and_stops_when_paused() {
    let mut data = Dataset::default();
    data.customers.push(customer("cus_y", Some("US")));
    let annual = price(
        "annual",
        usd(1_200),
        crate::domain::billing::Interval::Year,
        1,
    );
    data.subscriptions.push(subscription(
        "sub_y",
        "cus_y",
        SubscriptionStatus::Paused,
        ts(2024, 1, 1),
        vec![item("si", annual.clone(), 1)],
    ));
    data.invoices.push(invoice(
        "sub_y",
        "paid",
        vec![line(
            "sub_y",
            "si",
            &annual,
            1,
            ts(2024, 1, 1),
            ts(2025, 1, 1),
        )],
    ));
    let held = [usd(100), 0, 0, 0, 0, 0, usd(100)];
    let churn = [usd(100), 0, 0, 0, usd(100), 0, 0];
    let got = months(&data, &MrrPolicy::default(), (2025, 1, 31));
    assert_eq!(got[0], [0, usd(100), 0, 0, 0, 0, usd(100)]);
    assert!(got[1..12].iter().all(|m| *m == held));
    assert_eq!(got[12], churn);

    data.subscriptions[0].paused_at = Some(ts(2024, 11, 15));
    let got = months(&data, &MrrPolicy::default(), (2025, 1, 31));
    assert!(got[1..10].iter().all(|m| *m == held));
    assert_eq!(got[10], churn);
    assert!(got[11..].iter().all(|m| *m == [0; 7]));
}

/// Same source: a monthly plan paid for January to March and then paused churns on
/// April 1, when its last paid period ends (not in March, as when a paused record
/// stopped counting at its last period's start).
#[test]
fn a_paused_monthly_plan_churns_when_its_last_paid_period_ends() {
    let data = monthly("sub_p", SubscriptionStatus::Paused, 3);
    let got = months(&data, &MrrPolicy::default(), (2024, 4, 30));
    assert_eq!(got[2], [BASIC, 0, 0, 0, 0, 0, BASIC]);
    assert_eq!(got[3], [BASIC, 0, 0, 0, BASIC, 0, 0]);
}

/// Stripe's `status` reference: "A subscription can only enter a paused status when a
/// trial ends without a payment method". Its $0 trial line is all it was billed: it
/// never counts, and its trial ended unconverted.
#[test]
fn a_trial_that_ended_without_a_payment_method_never_counts() {
    let mut data = Dataset::default();
    data.customers.push(customer("cus_t", Some("US")));
    let basic = monthly_price("basic", BASIC);
    let mut sub = subscription(
        "sub_t",
        "cus_t",
        SubscriptionStatus::Paused,
        ts(2024, 1, 1),
        vec![item("si", basic.clone(), 1)],
    );
    sub.trial_start = Some(ts(2024, 1, 1));
    sub.trial_end = Some(ts(2024, 1, 15));
    data.subscriptions.push(sub);
    let mut trial = line("sub_t", "si", &basic, 1, ts(2024, 1, 1), ts(2024, 1, 15));
    trial.amount = 0;
    data.invoices.push(invoice("sub_t", "paid", vec![trial]));
    let timeline = subscription_timeline(
        &data.subscriptions[0],
        &all_invoices(&data),
        None,
        &MrrPolicy::default(),
    );
    assert!(timeline.segments.is_empty());
    assert!(timeline.counted.is_empty());
    let facts = data.facts();
    assert_eq!(facts.trials.len(), 1);
    assert!(!facts.trials[0].converted);
    assert_eq!(facts.trials[0].ended_day, day(2024, 1, 15));
}

fn day(y: i32, m: u32, d: u32) -> u32 {
    crate::domain::metrics::day_of_date(date(y, m, d))
}
