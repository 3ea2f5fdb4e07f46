//! Which discounts reduce a subscription's MRR, where, and in what order.
//!
//! Stripe (docs "Flexible coupons and promotion codes"; API reference of the
//! subscription's `discounts`, the subscription item's `discounts` and the customer's
//! `discount`) has three levels:
//! * item discounts reduce their item only, and apply first;
//! * subscription discounts (`discounts[]`) then apply in order, each to the amount
//!   left after the previous ones (two 10 % coupons take 19 %, not 20 %);
//! * the customer's discount applies to a subscription that has no discount of its own.
//!
//! A coupon with `applies_to.products` reduces only the items of those products. An
//! amount off is in the coupon's currency (else its `currency_options` amount for the
//! subscription's currency); in any other currency it does not apply. It is taken
//! off once per billing period, so it is normalized to a month like the price, and a
//! subscription-level amount is spread over the eligible items in proportion. Nothing
//! goes below 0. Which durations count is the policy's (`forever_coupons_only`).

use crate::domain::billing::{CouponDuration, DiscountRecord, Interval, SubscriptionRecord};

use super::money::{Mrr, less_percent, monthly, reduce_proportionally};
use super::policy::MrrPolicy;

/// One coupon's terms while its discount lasts.
struct Coupon<'a> {
    from: i64,
    to: Option<i64>,
    percent_off_bp: Option<u32>,
    /// Per billing period, in the subscription's currency.
    amount_off: Option<i64>,
    products: &'a [String],
}

impl Coupon<'_> {
    fn applies_at(&self, at: i64) -> bool {
        self.from <= at && self.to.is_none_or(|to| at < to)
    }
    fn covers(&self, product: Option<&str>) -> bool {
        self.products.is_empty()
            || product.is_some_and(|product| self.products.iter().any(|p| p == product))
    }
}

/// What one item is worth at an instant, before and after its discounts.
pub(crate) struct Priced<'a> {
    pub key: &'a str,
    pub product: Option<&'a str>,
    pub billing: (Interval, u32),
    pub value: Mrr,
}

/// A subscription's discounts at every level, ready to apply at any instant.
pub(crate) struct Discounts<'a> {
    items: Vec<(&'a str, Vec<Coupon<'a>>)>,
    subscription: Vec<Coupon<'a>>,
    /// When the subscription has a discount of its own (counted or not): the customer's
    /// discount does not apply then.
    own: Vec<(i64, Option<i64>)>,
    customer: Option<Coupon<'a>>,
}

fn counted(discount: &DiscountRecord, policy: &MrrPolicy) -> bool {
    match discount.duration {
        CouponDuration::Forever => true,
        CouponDuration::Repeating => !policy.forever_coupons_only,
        CouponDuration::Once => false,
    }
}

fn window(discount: &DiscountRecord) -> (i64, Option<i64>) {
    (discount.start.unwrap_or(i64::MIN), discount.end)
}

/// The amount off in `currency`: the coupon's own if it is in that currency (or names
/// none), else its `currency_options` entry, else nothing.
fn amount_off_in(discount: &DiscountRecord, currency: &str) -> Option<i64> {
    let own = discount.amount_off.filter(|_| {
        discount
            .currency
            .as_deref()
            .is_none_or(|own| own.eq_ignore_ascii_case(currency))
    });
    own.or_else(|| {
        discount
            .amount_off_by_currency
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(currency))
            .map(|(_, amount)| *amount)
    })
}

fn coupon<'a>(discount: &'a DiscountRecord, currency: &str) -> Coupon<'a> {
    let (from, to) = window(discount);
    Coupon {
        from,
        to,
        percent_off_bp: discount.percent_off_bp,
        amount_off: amount_off_in(discount, currency),
        products: &discount.applies_to_products,
    }
}

impl<'a> Discounts<'a> {
    pub fn new(
        sub: &'a SubscriptionRecord,
        customer_discount: Option<&'a DiscountRecord>,
        policy: &MrrPolicy,
    ) -> Self {
        let currency = sub.currency.as_str();
        let counted_coupons = |discounts: &'a [DiscountRecord]| -> Vec<Coupon<'a>> {
            discounts
                .iter()
                .filter(|d| counted(d, policy))
                .map(|d| coupon(d, currency))
                .collect()
        };
        Discounts {
            items: sub
                .items
                .iter()
                .filter(|item| !item.discounts.is_empty())
                .map(|item| (item.id.as_str(), counted_coupons(&item.discounts)))
                .collect(),
            subscription: counted_coupons(&sub.discounts),
            own: sub.discounts.iter().map(window).collect(),
            customer: customer_discount
                .filter(|d| counted(d, policy))
                .map(|d| coupon(d, currency)),
        }
    }

    /// Nothing to apply: most subscriptions, which then skip the per-item work.
    pub fn is_empty(&self) -> bool {
        self.subscription.is_empty()
            && self.customer.is_none()
            && self.items.iter().all(|(_, coupons)| coupons.is_empty())
    }

    /// Every instant at which a discount starts or ends.
    pub fn breaks(&self) -> impl Iterator<Item = i64> + '_ {
        let coupons = self
            .items
            .iter()
            .flat_map(|(_, coupons)| coupons)
            .chain(&self.subscription)
            .chain(&self.customer)
            .flat_map(|c| [Some(c.from), c.to]);
        let own = self.own.iter().flat_map(|(from, to)| [Some(*from), *to]);
        coupons.chain(own).flatten().filter(|at| *at != i64::MIN)
    }

    /// Applies the discounts in force at `at` to the items' values.
    pub fn apply(&self, at: i64, items: &mut [Priced<'_>]) {
        for item in items.iter_mut() {
            let Some((_, coupons)) = self.items.iter().find(|(key, _)| *key == item.key) else {
                continue;
            };
            for coupon in coupons.iter().filter(|c| c.applies_at(at)) {
                reduce(coupon, std::slice::from_mut(item));
            }
        }
        let has_own = self
            .own
            .iter()
            .any(|(from, to)| *from <= at && to.is_none_or(|to| at < to));
        let level: Vec<&Coupon<'_>> = if has_own {
            self.subscription.iter().collect()
        } else {
            self.customer.iter().collect()
        };
        for coupon in level.into_iter().filter(|c| c.applies_at(at)) {
            reduce(coupon, items);
        }
    }
}

/// One coupon over the items it covers: a percentage off each, then an amount off their
/// total, spread in proportion.
fn reduce(coupon: &Coupon<'_>, items: &mut [Priced<'_>]) {
    let mut eligible: Vec<&mut Priced<'_>> = items
        .iter_mut()
        .filter(|item| coupon.covers(item.product))
        .collect();
    if let Some(percent) = coupon.percent_off_bp {
        for item in eligible.iter_mut() {
            item.value = less_percent(item.value, percent);
        }
    }
    let Some(off) = coupon.amount_off else {
        return;
    };
    let Some((interval, count)) = eligible.first().map(|item| item.billing) else {
        return;
    };
    let mut values: Vec<Mrr> = eligible.iter().map(|item| item.value).collect();
    reduce_proportionally(&mut values, monthly(i128::from(off), interval, count));
    for (item, value) in eligible.iter_mut().zip(values) {
        item.value = value;
    }
}
