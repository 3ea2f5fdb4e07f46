//! Builders for billing records in tests: small, explicit, hand-checkable.

use chrono::NaiveDate;

use crate::domain::billing::{
    CardFacts, ChargeRecord, CouponDuration, CustomerRecord, DiscountRecord, Interval,
    InvoiceLineRecord, InvoiceRecord, PaymentMethodRecord, PriceTerms, RefundRecord,
    SubscriptionItemRecord, SubscriptionRecord, SubscriptionStatus, UsageType,
};
use crate::domain::metrics::{
    BillingData, CurrencyMode, Facts, MrrPolicy, SeriesInterval, SeriesQuery, day_of_date,
    facts_from_records,
};

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Midnight UTC of a date, Unix seconds.
pub fn ts(y: i32, m: u32, d: u32) -> i64 {
    i64::from(day_of_date(date(y, m, d))) * 86_400
}

/// A licensed price in usd whose plan name is its id.
pub fn price(id: &str, amount: i64, interval: Interval, count: u32) -> PriceTerms {
    price_in(id, "usd", amount, interval, count)
}

pub fn price_in(
    id: &str,
    currency: &str,
    amount: i64,
    interval: Interval,
    count: u32,
) -> PriceTerms {
    PriceTerms {
        id: id.to_owned(),
        product: None,
        nickname: None,
        currency: currency.to_owned(),
        unit_amount: Some(amount),
        interval: Some(interval),
        interval_count: count,
        usage_type: UsageType::Licensed,
        unit_amount_micros: None,
        transform_quantity: None,
        tiers_mode: None,
        tiers: Vec::new(),
    }
}

pub fn monthly_price(id: &str, amount: i64) -> PriceTerms {
    price(id, amount, Interval::Month, 1)
}

pub fn item(id: &str, price: PriceTerms, quantity: u64) -> SubscriptionItemRecord {
    SubscriptionItemRecord {
        id: id.to_owned(),
        price,
        quantity,
        current_period_start: None,
        current_period_end: None,
        discounts: Vec::new(),
    }
}

pub fn subscription(
    id: &str,
    customer: &str,
    status: SubscriptionStatus,
    start: i64,
    items: Vec<SubscriptionItemRecord>,
) -> SubscriptionRecord {
    let currency = items
        .first()
        .map(|i| i.price.currency.clone())
        .unwrap_or_else(|| "usd".to_owned());
    SubscriptionRecord {
        id: id.to_owned(),
        customer: customer.to_owned(),
        status,
        created: start,
        start_date: Some(start),
        currency,
        items,
        discounts: Vec::new(),
        trial_start: None,
        trial_end: None,
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        ended_at: None,
        default_payment_method: None,
        pause_collection: None,
        paused_at: None,
    }
}

pub fn coupon(
    duration: CouponDuration,
    percent_bp: Option<u32>,
    amount_off: Option<i64>,
) -> DiscountRecord {
    DiscountRecord {
        coupon_id: "co".to_owned(),
        percent_off_bp: percent_bp,
        amount_off,
        currency: amount_off.map(|_| "usd".to_owned()),
        duration,
        duration_in_months: None,
        start: None,
        end: None,
        applies_to_products: Vec::new(),
        amount_off_by_currency: Default::default(),
        promotion_code: None,
    }
}

pub fn line(
    sub: &str,
    item: &str,
    price: &PriceTerms,
    quantity: u64,
    from: i64,
    to: i64,
) -> InvoiceLineRecord {
    InvoiceLineRecord {
        id: format!("il_{sub}_{item}_{from}"),
        subscription: Some(sub.to_owned()),
        subscription_item: Some(item.to_owned()),
        price: Some(price.clone()),
        quantity: Some(quantity),
        amount: price.unit_amount.unwrap_or(0) * quantity as i64,
        currency: price.currency.clone(),
        period_start: Some(from),
        period_end: Some(to),
        proration: false,
    }
}

pub fn invoice(sub: &str, status: &str, lines: Vec<InvoiceLineRecord>) -> InvoiceRecord {
    let created = lines
        .iter()
        .filter_map(|l| l.period_start)
        .min()
        .unwrap_or(0);
    let total: i64 = lines.iter().map(|l| l.amount).sum();
    InvoiceRecord {
        id: format!("in_{sub}_{created}"),
        customer: None,
        subscription: Some(sub.to_owned()),
        status: Some(status.to_owned()),
        currency: lines
            .first()
            .map(|l| l.currency.clone())
            .unwrap_or_default(),
        amount_due: total,
        amount_paid: if status == "paid" { total } else { 0 },
        total,
        tax: 0,
        created,
        period_start: None,
        period_end: None,
        paid_at: None,
        billing_reason: None,
        lines,
    }
}

/// One invoice per calendar month for one item: `months` of (year, month) starts.
pub fn monthly_invoices(
    sub: &str,
    item: &str,
    price: &PriceTerms,
    quantity: u64,
    first: (i32, u32),
    months: u32,
    status: &str,
) -> Vec<InvoiceRecord> {
    (0..months)
        .map(|k| {
            let (y, m) = add_month(first, k);
            let (ny, nm) = add_month(first, k + 1);
            invoice(
                sub,
                status,
                vec![line(sub, item, price, quantity, ts(y, m, 1), ts(ny, nm, 1))],
            )
        })
        .collect()
}

pub fn add_month((y, m): (i32, u32), k: u32) -> (i32, u32) {
    let index = y * 12 + m as i32 - 1 + k as i32;
    (index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
}

pub fn customer(id: &str, country: Option<&str>) -> CustomerRecord {
    CustomerRecord {
        id: id.to_owned(),
        created: 0,
        email: Some(format!("{id}@example.com")),
        city: None,
        country: country.map(str::to_owned),
        default_payment_method: None,
        deleted: false,
        discount: None,
    }
}

pub fn card(brand: &str, exp_month: u32, exp_year: u32) -> CardFacts {
    CardFacts {
        brand: Some(brand.to_owned()),
        funding: Some("credit".to_owned()),
        exp_month: Some(exp_month),
        exp_year: Some(exp_year),
        country: None,
    }
}

pub fn payment_method(id: &str, customer: &str, card: CardFacts) -> PaymentMethodRecord {
    PaymentMethodRecord {
        id: id.to_owned(),
        customer: Some(customer.to_owned()),
        method_type: "card".to_owned(),
        card: Some(card),
        created: 0,
    }
}

pub fn charge(id: &str, customer: &str, amount: i64, status: &str, at: i64) -> ChargeRecord {
    ChargeRecord {
        id: id.to_owned(),
        customer: Some(customer.to_owned()),
        invoice: None,
        amount,
        amount_refunded: 0,
        currency: "usd".to_owned(),
        status: status.to_owned(),
        created: at,
        failure_code: None,
        payment_method: None,
        payment_method_type: Some("card".to_owned()),
        card: None,
    }
}

pub fn refund(id: &str, charge: &str, amount: i64, at: i64) -> RefundRecord {
    RefundRecord {
        id: id.to_owned(),
        charge: Some(charge.to_owned()),
        amount,
        currency: "usd".to_owned(),
        status: Some("succeeded".to_owned()),
        created: at,
    }
}

/// Owned records of one integration: the one record set every caller uses.
pub type Dataset = crate::domain::metrics::RecordSet;

/// What the tests ask of a dataset: its records as integration `int_1`, and its facts.
pub trait DatasetExt {
    fn data(&self) -> BillingData<'_>;
    fn facts(&self) -> Facts;
}

impl DatasetExt for Dataset {
    fn data(&self) -> BillingData<'_> {
        self.for_integration("int_1")
    }
    fn facts(&self) -> Facts {
        let facts = facts_from_records(&[DatasetExt::data(self)], &MrrPolicy::default());
        facts.check().expect("facts are consistent");
        facts
    }
}

pub fn query(
    from: NaiveDate,
    to: NaiveDate,
    interval: SeriesInterval,
    currency: &str,
) -> SeriesQuery {
    SeriesQuery {
        from,
        to,
        interval,
        currency: CurrencyMode::Native(currency.to_owned()),
        filters: Vec::new(),
        customers: None,
        group_by: None,
    }
}

pub fn monthly_usd(from: NaiveDate, to: NaiveDate) -> SeriesQuery {
    query(from, to, SeriesInterval::Month, "usd")
}

/// Dollars and cents → minor units, for readable expectations.
pub const fn usd(dollars: i64) -> i64 {
    dollars * 100
}

/// A point in minor units: [start, new, expansion, contraction, churn, reactivation, end].
pub fn minor(point: &crate::domain::metrics::Point) -> [i64; 7] {
    [
        point.start_mrr.to_minor(),
        point.new.to_minor(),
        point.expansion.to_minor(),
        point.contraction.to_minor(),
        point.churn.to_minor(),
        point.reactivation.to_minor(),
        point.mrr.to_minor(),
    ]
}

/// Every point of a series in minor units.
pub fn minors(series: &crate::domain::metrics::Series) -> Vec<[i64; 7]> {
    series.points.iter().map(minor).collect()
}
