//! A small deterministic generator of billing records for property-style tests: random
//! plans, quantities, upgrades, trials, coupons, invoice statuses, cancellations,
//! two currencies (sometimes within one customer).

use crate::domain::billing::{
    CouponDuration, Interval, PriceTerms, SubscriptionItemRecord, SubscriptionStatus,
};
use crate::domain::metrics::calendar::{civil, day_of_civil};

use super::fixtures::*;

/// xorshift64*: enough randomness for test data, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const DAY: i64 = 86_400;

fn catalog(currency: &str) -> Vec<PriceTerms> {
    vec![
        price_in("basic", currency, 1_000, Interval::Month, 1),
        price_in("pro", currency, 2_500, Interval::Month, 1),
        price_in("team", currency, 900, Interval::Month, 1),
        price_in("annual", currency, 12_000, Interval::Year, 1),
        price_in("weekly", currency, 700, Interval::Week, 1),
        price_in("quarter", currency, 2_700, Interval::Month, 3),
    ]
}

/// The end of a billing period starting at `start`.
fn period_end(start: i64, price: &PriceTerms) -> i64 {
    let count = i64::from(price.interval_count.max(1));
    let months = |n: i64| {
        let day = (start.div_euclid(DAY)) as u32;
        let (y, m, d) = civil(day);
        let index = y * 12 + i64::from(m) - 1 + n;
        let next = day_of_civil(
            index.div_euclid(12),
            (index.rem_euclid(12) + 1) as u32,
            d.min(28),
        );
        i64::from(next) * DAY + start.rem_euclid(DAY)
    };
    match price.interval {
        Some(Interval::Day) => start + count * DAY,
        Some(Interval::Week) => start + 7 * count * DAY,
        Some(Interval::Year) => months(12 * count),
        _ => months(count),
    }
}

fn items(rng: &mut Rng, prices: &[PriceTerms], sub: &str) -> Vec<SubscriptionItemRecord> {
    let mut chosen = vec![item(
        &format!("{sub}_a"),
        rng.pick(prices).clone(),
        1 + rng.below(5),
    )];
    if rng.chance(20) {
        chosen.push(item(
            &format!("{sub}_b"),
            rng.pick(prices).clone(),
            1 + rng.below(3),
        ));
    }
    chosen
}

/// A dataset from a seed: 4–11 customers with 1–2 subscriptions each.
pub fn generate(seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let mut data = Dataset::default();
    let customers = 4 + rng.below(8);
    for c in 0..customers {
        let id = format!("cus_{c}");
        let mut record = customer(&id, *rng.pick(&[Some("US"), Some("FR"), Some("DE"), None]));
        if rng.chance(70) {
            let brand = *rng.pick(&["visa", "mastercard", "amex"]);
            let pm = payment_method(
                &format!("pm_{c}"),
                &id,
                card(brand, 1 + rng.below(12) as u32, 2024 + rng.below(4) as u32),
            );
            record.default_payment_method = Some(pm.id.clone());
            data.payment_methods.push(pm);
        }
        data.customers.push(record);
        let home = *rng.pick(&["usd", "usd", "eur"]);
        for s in 0..1 + rng.below(2) {
            let currency = if rng.chance(10) {
                if home == "usd" { "eur" } else { "usd" }
            } else {
                home
            };
            generate_subscription(&mut rng, &mut data, &id, &format!("sub_{c}_{s}"), currency);
        }
    }
    data
}

fn generate_subscription(
    rng: &mut Rng,
    data: &mut Dataset,
    customer: &str,
    id: &str,
    currency: &str,
) {
    let prices = catalog(currency);
    let start = ts(2023, 1, 1) + rng.below(730) as i64 * DAY + rng.below(DAY as u64) as i64;
    let mut current = items(rng, &prices, id);
    let mut sub = subscription(
        id,
        customer,
        SubscriptionStatus::Active,
        start,
        current.clone(),
    );
    let mut period_start = start;
    if rng.chance(20) {
        sub.trial_start = Some(start);
        sub.trial_end = Some(start + 14 * DAY);
        let mut trial = line(
            id,
            &current[0].id,
            &current[0].price,
            current[0].quantity,
            start,
            start + 14 * DAY,
        );
        trial.amount = 0;
        data.invoices.push(invoice(id, "paid", vec![trial]));
        period_start = start + 14 * DAY;
    }
    let periods = 1 + rng.below(12);
    let mut last_end = period_start;
    for _ in 0..periods {
        if rng.chance(25) {
            current = items(rng, &prices, id);
        }
        let end = period_end(period_start, &current[0].price);
        let lines = current
            .iter()
            .map(|i| line(id, &i.id, &i.price, i.quantity, period_start, end))
            .collect();
        let status = *rng.pick(&[
            "paid",
            "paid",
            "paid",
            "paid",
            "paid",
            "paid",
            "open",
            "uncollectible",
            "void",
        ]);
        let mut bill = invoice(id, status, lines);
        bill.id = format!("in_{id}_{period_start}");
        data.invoices.push(bill);
        last_end = end;
        period_start = end;
    }
    let last_start = period_start.min(last_end);
    if rng.chance(20) {
        current = items(rng, &prices, id);
    }
    for item in &mut current {
        item.current_period_end = Some(last_end);
    }
    sub.items = current;
    sub.status = *rng.pick(&[
        SubscriptionStatus::Active,
        SubscriptionStatus::Active,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::Paused,
        SubscriptionStatus::IncompleteExpired,
    ]);
    if sub.status == SubscriptionStatus::Canceled {
        let ended = last_start - rng.below(20) as i64 * DAY;
        sub.ended_at = Some(ended.max(start));
        sub.canceled_at = sub.ended_at;
    }
    if matches!(
        sub.status,
        SubscriptionStatus::Active | SubscriptionStatus::PastDue
    ) && rng.chance(15)
    {
        sub.cancel_at_period_end = true;
    }
    if rng.chance(15) {
        sub.discounts.push(coupon(
            CouponDuration::Forever,
            Some(1_000 + rng.below(4_000) as u32),
            None,
        ));
    }
    if rng.chance(10) {
        let mut off = coupon(
            CouponDuration::Forever,
            None,
            Some(100 + rng.below(3_000) as i64),
        );
        off.currency = Some(currency.to_owned());
        off.start = Some(start + rng.below(200) as i64 * DAY);
        sub.discounts.push(off);
    }
    if rng.chance(10) {
        sub.discounts
            .push(coupon(CouponDuration::Once, Some(5_000), None));
    }
    data.subscriptions.push(sub);
    if rng.chance(60) {
        let charge_id = format!("ch_{id}");
        let mut paid = charge(
            &charge_id,
            customer,
            1_000 + rng.below(5_000) as i64,
            "succeeded",
            start + DAY,
        );
        paid.currency = currency.to_owned();
        data.charges.push(paid);
        if rng.chance(30) {
            let mut back = refund(&format!("re_{id}"), &charge_id, 500, start + 3 * DAY);
            back.currency = currency.to_owned();
            data.refunds.push(back);
        }
    }
    if rng.chance(30) {
        let mut failed = charge(
            &format!("ch_f_{id}"),
            customer,
            2_000,
            "failed",
            start + 40 * DAY,
        );
        failed.currency = currency.to_owned();
        data.charges.push(failed);
    }
}
