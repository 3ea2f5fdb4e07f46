//! What the demo merchant sells and where its customers are: plans and prices per
//! currency, countries with their cities, currency and VAT, card brands and coupons.
//! Fixed tables, so that the dataset reads like one coherent business.

use crate::domain::billing::{CouponDuration, Interval, PriceTerms, UsageType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Currency {
    Eur,
    Usd,
    Gbp,
}

impl Currency {
    pub(super) fn code(self) -> &'static str {
        match self {
            Currency::Eur => "eur",
            Currency::Usd => "usd",
            Currency::Gbp => "gbp",
        }
    }

    fn column(self) -> usize {
        match self {
            Currency::Eur => 0,
            Currency::Usd => 1,
            Currency::Gbp => 2,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Tier {
    Free,
    Starter,
    Growth,
    Scale,
    /// The metered add-on, outside the plan ladder.
    AddOn,
}

/// One price of the catalogue (a plan on a billing cadence).
pub(super) struct Plan {
    /// The stem of the price id: `price_demo_<key>_<currency>`.
    pub key: &'static str,
    pub product: &'static str,
    pub nickname: &'static str,
    pub tier: Tier,
    pub interval: Interval,
    pub interval_count: u32,
    pub usage: UsageType,
    /// Billed per seat (quantity > 1 is common).
    pub per_seat: bool,
    /// No longer sold: kept by the customers who signed up before the price rise.
    pub legacy: bool,
    /// Per unit, minor units, in eur, usd, gbp.
    pub unit_amounts: [i64; 3],
}

impl Plan {
    pub(super) fn unit_amount(&self, currency: Currency) -> i64 {
        self.unit_amounts[currency.column()]
    }

    /// The processor-shaped terms of this plan in `currency`.
    pub(super) fn terms(&self, currency: Currency) -> PriceTerms {
        PriceTerms {
            id: format!("price_demo_{}_{}", self.key, currency.code()),
            product: Some(self.product.to_owned()),
            nickname: Some(self.nickname.to_owned()),
            currency: currency.code().to_owned(),
            unit_amount: Some(self.unit_amount(currency)),
            interval: Some(self.interval),
            interval_count: self.interval_count,
            usage_type: self.usage,
            unit_amount_micros: None,
            transform_quantity: None,
            tiers_mode: None,
            tiers: Vec::new(),
        }
    }
}

/// Indexes into [`PLANS`].
pub(super) type PlanId = usize;
pub(super) const FREE: PlanId = 0;
pub(super) const STARTER_MONTHLY_LEGACY: PlanId = 1;
pub(super) const STARTER_MONTHLY: PlanId = 2;
pub(super) const STARTER_ANNUAL: PlanId = 3;
pub(super) const STARTER_WEEKLY: PlanId = 4;
pub(super) const GROWTH_MONTHLY: PlanId = 5;
pub(super) const GROWTH_ANNUAL: PlanId = 6;
pub(super) const GROWTH_QUARTERLY: PlanId = 7;
pub(super) const SCALE_MONTHLY: PlanId = 8;
pub(super) const SCALE_ANNUAL: PlanId = 9;
pub(super) const API_REQUESTS: PlanId = 10;

const fn plan(
    key: &'static str,
    product: &'static str,
    nickname: &'static str,
    tier: Tier,
    cadence: (Interval, u32),
    per_seat: bool,
    unit_amounts: [i64; 3],
) -> Plan {
    Plan {
        key,
        product,
        nickname,
        tier,
        interval: cadence.0,
        interval_count: cadence.1,
        usage: UsageType::Licensed,
        per_seat,
        legacy: false,
        unit_amounts,
    }
}

const MONTHLY: (Interval, u32) = (Interval::Month, 1);
const ANNUAL: (Interval, u32) = (Interval::Year, 1);

#[rustfmt::skip]
pub(super) const PLANS: [Plan; 11] = [
    plan("free", "prod_demo_free", "Free", Tier::Free, MONTHLY, false, [0, 0, 0]),
    Plan {
        legacy: true,
        ..plan("starter_monthly_2023", "prod_demo_starter", "Starter monthly (2023 price)",
            Tier::Starter, MONTHLY, false, [1900, 1900, 1600])
    },
    plan("starter_monthly", "prod_demo_starter", "Starter monthly", Tier::Starter, MONTHLY,
        false, [2900, 2900, 2500]),
    plan("starter_annual", "prod_demo_starter", "Starter annual", Tier::Starter, ANNUAL,
        false, [29000, 29000, 25000]),
    plan("starter_weekly", "prod_demo_starter", "Starter weekly", Tier::Starter,
        (Interval::Week, 1), false, [900, 900, 800]),
    plan("growth_monthly", "prod_demo_growth", "Growth monthly", Tier::Growth, MONTHLY, true,
        [4900, 4900, 4200]),
    plan("growth_annual", "prod_demo_growth", "Growth annual", Tier::Growth, ANNUAL, true,
        [49000, 49000, 42000]),
    plan("growth_quarterly", "prod_demo_growth", "Growth quarterly", Tier::Growth,
        (Interval::Month, 3), true, [13500, 13500, 11500]),
    plan("scale_monthly", "prod_demo_scale", "Scale monthly", Tier::Scale, MONTHLY, true,
        [9900, 9900, 8500]),
    plan("scale_annual", "prod_demo_scale", "Scale annual", Tier::Scale, ANNUAL, true,
        [99000, 99000, 85000]),
    Plan {
        usage: UsageType::Metered,
        // Per 1,000 API requests, billed in arrears.
        ..plan("api_requests", "prod_demo_api", "API requests (per 1,000)", Tier::AddOn,
            MONTHLY, false, [50, 50, 40])
    },
];

/// What new subscriptions choose (the weekly and quarterly cadences are rare).
pub(super) const PAID_PLAN_MIX: [(PlanId, u32); 8] = [
    (STARTER_MONTHLY, 34),
    (STARTER_ANNUAL, 8),
    (STARTER_WEEKLY, 3),
    (GROWTH_MONTHLY, 25),
    (GROWTH_ANNUAL, 7),
    (GROWTH_QUARTERLY, 5),
    (SCALE_MONTHLY, 13),
    (SCALE_ANNUAL, 5),
];

/// The plan one tier up (`step` 1) or down (`step` -1) on the same cadence, if sold.
pub(super) fn neighbour(plan: PlanId, step: i8) -> Option<PlanId> {
    let current = PLANS.get(plan)?;
    let wanted = match (current.tier, step) {
        (Tier::Starter, 1) => Tier::Growth,
        (Tier::Growth, 1) => Tier::Scale,
        (Tier::Scale, -1) => Tier::Growth,
        (Tier::Growth, -1) => Tier::Starter,
        _ => return None,
    };
    PLANS.iter().position(|candidate| {
        candidate.tier == wanted
            && !candidate.legacy
            && candidate.interval == current.interval
            && candidate.interval_count == current.interval_count
    })
}

pub(super) struct Country {
    pub code: &'static str,
    pub currency: Currency,
    /// Standard VAT rate in basis points, charged as the invoice's tax.
    pub vat_bp: i64,
    /// Direct debit (SEPA) is offered.
    pub sepa: bool,
    pub cities: &'static [&'static str],
}

const fn country(
    code: &'static str,
    currency: Currency,
    vat_bp: i64,
    sepa: bool,
    cities: &'static [&'static str],
) -> Country {
    Country {
        code,
        currency,
        vat_bp,
        sepa,
        cities,
    }
}

/// Where customers are, with their share of sign-ups.
#[rustfmt::skip]
pub(super) const COUNTRIES: [(Country, u32); 15] = [
    (country("DE", Currency::Eur, 1900, true, &["Berlin", "Munich", "Hamburg", "Cologne", "Frankfurt"]), 17),
    (country("FR", Currency::Eur, 2000, true, &["Paris", "Lyon", "Marseille", "Toulouse"]), 10),
    (country("NL", Currency::Eur, 2100, true, &["Amsterdam", "Rotterdam", "Utrecht"]), 6),
    (country("ES", Currency::Eur, 2100, true, &["Madrid", "Barcelona", "Valencia"]), 5),
    (country("IT", Currency::Eur, 2200, true, &["Milan", "Rome", "Turin"]), 4),
    (country("AT", Currency::Eur, 2000, true, &["Vienna", "Graz"]), 3),
    (country("BE", Currency::Eur, 2100, true, &["Brussels", "Antwerp"]), 2),
    (country("IE", Currency::Eur, 2300, true, &["Dublin", "Cork"]), 2),
    (country("SE", Currency::Eur, 2500, true, &["Stockholm", "Gothenburg"]), 2),
    (country("US", Currency::Usd, 0, false, &["New York", "Austin", "San Francisco", "Seattle", "Chicago", "Boston"]), 24),
    (country("CA", Currency::Usd, 0, false, &["Toronto", "Vancouver", "Montreal"]), 4),
    (country("AU", Currency::Usd, 0, false, &["Sydney", "Melbourne"]), 2),
    (country("JP", Currency::Usd, 0, false, &["Tokyo", "Osaka"]), 1),
    (country("GB", Currency::Gbp, 2000, false, &["London", "Manchester", "Edinburgh", "Bristol"]), 14),
    (country("CH", Currency::Eur, 0, false, &["Zurich", "Geneva"]), 2),
];

/// Lower-case, as processors report payment-method brands.
pub(super) const CARD_BRANDS: [(&str, u32); 3] = [("visa", 55), ("mastercard", 35), ("amex", 10)];
pub(super) const CARD_FUNDING: [(&str, u32); 3] = [("credit", 60), ("debit", 35), ("prepaid", 5)];

/// Why a charge failed, by share of failures that are not an expired card.
pub(super) const DECLINES: [(&str, u32); 4] = [
    ("card_declined", 50),
    ("insufficient_funds", 35),
    ("processing_error", 5),
    ("incorrect_cvc", 10),
];

pub(super) struct Coupon {
    pub id: &'static str,
    pub percent_off_bp: Option<u32>,
    /// Per invoice, in the subscription's currency.
    pub amount_off: Option<i64>,
    pub duration: CouponDuration,
    pub duration_in_months: Option<u32>,
}

#[rustfmt::skip]
pub(super) const COUPONS: [(Coupon, u32); 4] = [
    (Coupon { id: "demo_partner_20", percent_off_bp: Some(2000), amount_off: None,
        duration: CouponDuration::Forever, duration_in_months: None }, 30),
    (Coupon { id: "demo_loyalty_5", percent_off_bp: None, amount_off: Some(500),
        duration: CouponDuration::Forever, duration_in_months: None }, 15),
    (Coupon { id: "demo_welcome_50", percent_off_bp: Some(5000), amount_off: None,
        duration: CouponDuration::Once, duration_in_months: None }, 30),
    (Coupon { id: "demo_launch_25_3m", percent_off_bp: Some(2500), amount_off: None,
        duration: CouponDuration::Repeating, duration_in_months: Some(3) }, 25),
];
