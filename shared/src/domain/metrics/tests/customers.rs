//! Profiles, RFM scores and segments, payment-failure risk, churn risk.

use crate::domain::billing::SubscriptionStatus;
use crate::domain::metrics::{
    CurrencyMode, Loyalty, MrrPolicy, RfmSegment, churn_risks, customer_profiles,
    payment_failure_risks, rfm_scores, segments,
};

use super::fixtures::*;

const AS_OF: (i32, u32, u32) = (2024, 7, 1);

fn as_of() -> i64 {
    ts(AS_OF.0, AS_OF.1, AS_OF.2)
}

/// Six paying customers and one who never paid, with hand-computed scores:
/// recency (days), frequency, monetary (cents) →
/// c1 16, 12, 120,000 · c2 21, 6, 25,000 (a refund) · c3 270, 10, 500,000 ·
/// c4 122, 2, 2,000 · c5 11, 1, 10,000 (first payment 11 days ago) · c6 182, 8, 12,000.
fn loyalty_data() -> Dataset {
    let mut data = Dataset::default();
    let mut pay = |customer: &str, amount: i64, dates: Vec<(i32, u32, u32)>| {
        data.customers
            .push(super::fixtures::customer(customer, Some("US")));
        for (k, (y, m, d)) in dates.into_iter().enumerate() {
            data.charges.push(charge(
                &format!("ch_{customer}_{k}"),
                customer,
                amount,
                "succeeded",
                ts(y, m, d),
            ));
        }
    };
    pay(
        "c1",
        10_000,
        (0..12)
            .map(|k| {
                let (y, m) = add_month((2023, 7), k);
                (y, m, 15)
            })
            .collect(),
    );
    pay("c2", 5_000, (1..=6).map(|m| (2024, m, 10)).collect());
    pay("c3", 50_000, (1..=10).map(|m| (2023, m, 5)).collect());
    pay("c4", 1_000, vec![(2024, 2, 1), (2024, 3, 1)]);
    pay("c5", 10_000, vec![(2024, 6, 20)]);
    pay(
        "c6",
        1_500,
        (0..8)
            .map(|k| {
                let (y, m) = add_month((2023, 6), k);
                (y, m, 1)
            })
            .collect(),
    );
    data.customers.push(customer("c7", None));
    data.refunds
        .push(refund("re_1", "ch_c2_0", 5_000, ts(2024, 1, 20)));
    data.subscriptions.push(subscription(
        "sub_c1",
        "c1",
        SubscriptionStatus::Active,
        ts(2023, 7, 15),
        vec![item("si", monthly_price("basic", 10_000), 1)],
    ));
    data
}

#[test]
fn profiles_carry_lifetime_revenue_and_payments() {
    let data = loyalty_data();
    let profiles = customer_profiles(&data.data(), &MrrPolicy::default(), as_of());
    let c2 = profiles.iter().find(|p| p.id == "c2").unwrap();
    assert_eq!(c2.lifetime_revenue, 25_000);
    assert_eq!(c2.successful_payments, 6);
    assert_eq!(c2.first_payment_at, Some(ts(2024, 1, 10)));
    assert_eq!(c2.last_payment_at, Some(ts(2024, 6, 10)));
    assert_eq!(c2.payments.len(), 6);
    assert_eq!(c2.payments[5].amount_refunded, 5_000);
    let c1 = profiles.iter().find(|p| p.id == "c1").unwrap();
    assert_eq!(c1.mrr.to_minor(), 10_000);
    assert_eq!(c1.currency.as_deref(), Some("usd"));
    assert_eq!(c1.plans, vec!["basic".to_owned()]);
    assert_eq!(c1.dims.country.as_deref(), Some("US"));
    let c7 = profiles.iter().find(|p| p.id == "c7").unwrap();
    assert_eq!((c7.lifetime_revenue, c7.first_payment_at), (0, None));
}

#[test]
fn rfm_scores_and_segments_on_a_small_set() {
    let data = loyalty_data();
    let profiles = customer_profiles(&data.data(), &MrrPolicy::default(), as_of());
    let usd_only = CurrencyMode::Native("usd".to_owned());
    let scores = rfm_scores(&profiles, as_of(), &usd_only).unwrap();
    let by_id = |id: &str| -> &Loyalty { scores.iter().find(|l| l.customer == id).unwrap() };
    let expected = [
        ("c1", 16, "454", RfmSegment::Champions),
        ("c2", 21, "323", RfmSegment::Loyal),
        ("c3", 270, "145", RfmSegment::CantLose),
        ("c4", 122, "211", RfmSegment::Hibernating),
        ("c5", 11, "511", RfmSegment::New),
        ("c6", 182, "132", RfmSegment::AtRisk),
    ];
    for (id, recency, score, segment) in expected {
        let loyalty = by_id(id);
        assert_eq!(
            (
                loyalty.recency_days,
                loyalty.score.as_str(),
                loyalty.segment
            ),
            (recency, score, segment),
            "{id}"
        );
    }
    assert_eq!(scores.len(), 6, "c7 never paid: no score");
    assert_eq!(by_id("c2").monetary.to_minor(), 25_000);
    let summary = segments(&profiles, &scores, &usd_only, as_of()).unwrap();
    assert!(summary.iter().all(|s| s.customers == 1));
    let champions = summary
        .iter()
        .find(|s| s.name == RfmSegment::Champions)
        .unwrap();
    assert_eq!(champions.mrr.to_minor(), 10_000);
}

/// cA's card expires in July, before its August 15 renewal: at risk. cB used a renewed
/// card after its last charge on the old one; cC's card lasts; cD will not renew; cE's
/// card is valid through August.
#[test]
fn payment_failure_risk_flags_expiring_cards_but_not_renewed_ones() {
    let mut data = Dataset::default();
    let cases = [
        ("cA", 7, 2024, false),
        ("cB", 7, 2024, false),
        ("cC", 12, 2025, false),
        ("cD", 7, 2024, true),
        ("cE", 8, 2024, false),
    ];
    for (id, month, year, cancelling) in cases {
        let mut record = customer(id, Some("US"));
        let pm = payment_method(&format!("pm_{id}"), id, card("visa", month, year));
        record.default_payment_method = Some(pm.id.clone());
        data.payment_methods.push(pm);
        data.customers.push(record);
        let mut basic = item("si", monthly_price("basic", 10_000), 1);
        basic.current_period_end = Some(ts(2024, 8, 15));
        let mut sub = subscription(
            &format!("sub_{id}"),
            id,
            SubscriptionStatus::Active,
            ts(2024, 1, 15),
            vec![basic],
        );
        sub.cancel_at_period_end = cancelling;
        data.subscriptions.push(sub);
        let mut paid = charge(
            &format!("ch_{id}"),
            id,
            10_000,
            "succeeded",
            ts(2024, 6, 15),
        );
        paid.card = Some(card("visa", month, year));
        data.charges.push(paid);
    }
    let mut renewed = charge("ch_cB_new", "cB", 10_000, "succeeded", ts(2024, 6, 20));
    renewed.card = Some(card("visa", 9, 2027));
    data.charges.push(renewed);

    let risks = payment_failure_risks(&data.data(), &MrrPolicy::default(), as_of());
    assert_eq!(risks.len(), 1, "{risks:?}");
    let risk = &risks[0];
    assert_eq!(risk.customer, "cA");
    assert_eq!(risk.renews_at, ts(2024, 8, 15));
    assert_eq!((risk.card_expires.month, risk.card_expires.year), (7, 2024));
    assert_eq!(risk.card_expires.expires_at, ts(2024, 8, 1));
    assert_eq!(risk.mrr_at_risk.to_minor(), 10_000);
    assert_eq!(risk.subscriptions, vec!["sub_cA".to_owned()]);
}

#[test]
fn churn_risk_scores_its_listed_factors() {
    let team = monthly_price("team", 900);
    let mut data = Dataset::default();
    data.customers.push(customer("cX", None));
    let mut seats = item("si_x", team.clone(), 3);
    seats.current_period_end = Some(ts(2024, 8, 1));
    let mut sub = subscription(
        "sub_x",
        "cX",
        SubscriptionStatus::Active,
        ts(2024, 4, 1),
        vec![seats],
    );
    sub.cancel_at_period_end = true;
    data.subscriptions.push(sub);
    data.invoices.extend(monthly_invoices(
        "sub_x",
        "si_x",
        &team,
        5,
        (2024, 4),
        2,
        "paid",
    ));
    data.invoices.extend(monthly_invoices(
        "sub_x",
        "si_x",
        &team,
        3,
        (2024, 6),
        1,
        "paid",
    ));
    data.charges
        .push(charge("ch_fail", "cX", 2_700, "failed", ts(2024, 6, 20)));
    data.customers.push(customer("cY", None));
    data.subscriptions.push(subscription(
        "sub_y",
        "cY",
        SubscriptionStatus::Active,
        ts(2024, 1, 1),
        vec![item("si_y", team, 1)],
    ));

    let risks = churn_risks(&data.data(), &MrrPolicy::default(), as_of());
    let x = risks.iter().find(|r| r.customer == "cX").unwrap();
    let points: Vec<(&str, u32)> = x
        .factors
        .iter()
        .map(|f| (f.name.as_str(), f.points))
        .collect();
    assert_eq!(
        points,
        vec![
            ("pending_cancellation", 40),
            ("failed_payments_90d", 15),
            ("downgrade_90d", 20),
            ("falling_seats", 10)
        ]
    );
    assert_eq!(x.score, 85);
    assert_eq!(x.factors[3].observed, 2, "5 seats then, 3 now");
    let y = risks.iter().find(|r| r.customer == "cY").unwrap();
    assert_eq!(y.score, 0);
    assert_eq!(y.factors.len(), 4);
}

/// Profiles stored before churn factors were kept open with none (`#[serde(default)]`).
#[test]
fn a_stored_profile_without_churn_factors_still_opens() {
    let data = loyalty_data();
    let mut profile = customer_profiles(&data.data(), &MrrPolicy::default(), as_of())
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("a profile"));
    profile.churn_factors = Vec::new();
    let mut json = serde_json::to_value(&profile).unwrap();
    json.as_object_mut().unwrap().remove("churn_factors");
    let opened: crate::domain::metrics::CustomerProfile = serde_json::from_value(json).unwrap();
    assert_eq!(opened, profile);
}
