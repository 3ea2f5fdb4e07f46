//! The generator's frame: ids, the sign-up curve, customers with their place and
//! wallet, and the loop that gives each customer one subscription after another
//! (a reactivation is a new subscription months after the last one ended).

use crate::domain::billing::CustomerRecord;

use super::calendar::{DAY, HOUR, add_months};
use super::catalogue::{
    COUNTRIES, Currency, PAID_PLAN_MIX, PlanId, STARTER_MONTHLY, STARTER_MONTHLY_LEGACY,
};
use super::dice::Dice;
use super::lifecycle::{Ending, Entry};
use super::wallet::Method;
use super::{DemoDataset, DemoParams, DemoShape};

/// One customer rarely has more than a few subscriptions in a row.
const MAX_SUBSCRIPTIONS_PER_CUSTOMER: usize = 4;

/// Generates the dataset `params` name: the same params give the same records.
pub fn generate(params: DemoParams) -> DemoDataset {
    let mut generator = Generator::new(&params);
    let sign_ups = generator.sign_up_times(params.customers);
    for (index, joined) in sign_ups.into_iter().enumerate() {
        generator.customer(index + 1, joined);
    }
    generator.out
}

#[derive(Clone, Copy)]
pub(super) enum IdKind {
    Customer,
    PaymentMethod,
    Subscription,
    SubscriptionItem,
    Invoice,
    InvoiceLine,
    Charge,
    Refund,
}

impl IdKind {
    fn prefix(self, shape: DemoShape) -> &'static str {
        if shape == DemoShape::Paddle {
            // Paddle Billing's id prefixes: customers `ctm_`, payment methods `paymtd_`,
            // subscriptions `sub_`, transactions `txn_` with items `txnitm_`, adjustments
            // `adj_`. Paddle has no charge object (payments are attempts on a
            // transaction): `pay_` names one here.
            return match self {
                IdKind::Customer => "ctm",
                IdKind::PaymentMethod => "paymtd",
                IdKind::Subscription => "sub",
                IdKind::SubscriptionItem => "subitm",
                IdKind::Invoice => "txn",
                IdKind::InvoiceLine => "txnitm",
                IdKind::Charge => "pay",
                IdKind::Refund => "adj",
            };
        }
        match self {
            IdKind::Customer => "cus",
            IdKind::PaymentMethod => "pm",
            IdKind::Subscription => "sub",
            IdKind::SubscriptionItem => "si",
            IdKind::Invoice => "in",
            IdKind::InvoiceLine => "il",
            IdKind::Charge => "ch",
            IdKind::Refund => "re",
        }
    }
}

pub(super) struct Generator {
    pub(super) dice: Dice,
    /// The dataset's "now": nothing is created, paid or canceled after it.
    pub(super) end: i64,
    /// Starter monthly sign-ups before this get the grandfathered 2023 price.
    pub(super) price_rise_at: i64,
    /// From this time on, grandfathered subscriptions may move to the current price.
    pub(super) migration_from: i64,
    /// [`DemoParams::change_factor`].
    pub(super) change_factor: f64,
    window_start: i64,
    shape: DemoShape,
    next_number: [u64; 8],
    pub(super) out: DemoDataset,
}

/// A customer's country (ISO code), city, currency, VAT rate and whether direct debit
/// is offered there.
struct Place {
    country: Option<&'static str>,
    city: Option<&'static str>,
    currency: Currency,
    vat_bp: i64,
    sepa: bool,
}

/// A customer while their history is generated.
pub(super) struct CustomerState {
    pub(super) id: String,
    pub(super) created: i64,
    pub(super) currency: Currency,
    pub(super) vat_bp: i64,
    /// The issuing country of their cards.
    pub(super) card_country: Option<&'static str>,
    pub(super) pays_by_sepa: bool,
    pub(super) methods: Vec<Method>,
    pub(super) default_method: Option<usize>,
    /// Some invoice of theirs was paid (so a later comeback is a reactivation).
    pub(super) has_paid: bool,
}

impl Generator {
    fn new(params: &DemoParams) -> Self {
        let months = i64::from(params.months.max(1));
        let window_start = add_months(params.end, -months);
        Generator {
            dice: Dice::seeded(params.seed),
            end: params.end,
            price_rise_at: add_months(window_start, months / 2),
            migration_from: add_months(window_start, months / 2 + 3),
            change_factor: f64::from(params.change_factor.max(1)),
            window_start,
            shape: params.shape,
            next_number: [0; 8],
            out: DemoDataset::default(),
        }
    }

    /// A fresh id: prefix, `demo`, then a zero-padded counter, so ids sort by creation.
    pub(super) fn new_id(&mut self, kind: IdKind) -> String {
        let counter = &mut self.next_number[kind as usize];
        *counter += 1;
        format!("{}_demo{:08}", kind.prefix(self.shape), counter)
    }

    /// Sign-up times, oldest first: half spread evenly, half weighted towards the end
    /// (density 2t), so monthly sign-ups grow about threefold over the window.
    fn sign_up_times(&mut self, count: usize) -> Vec<i64> {
        let span = (self.end - self.window_start).max(1) as f64;
        let mut times: Vec<i64> = (0..count)
            .map(|_| {
                let uniform = self.dice.unit();
                let share = if self.dice.chance(0.5) {
                    uniform
                } else {
                    uniform.sqrt()
                };
                (self.window_start + (share * span) as i64).min(self.end)
            })
            .collect();
        times.sort_unstable();
        times
    }

    fn customer(&mut self, number: usize, joined: i64) {
        let id = self.new_id(IdKind::Customer);
        let place = self.place();
        // Mostly issued where the customer is; some cards come from abroad.
        let card_country = if self.dice.chance(0.05) || place.country.is_none() {
            self.dice.pick(&["US", "DE", "GB", "FR", "NL"]).copied()
        } else {
            place.country
        };
        let mut customer = CustomerState {
            id,
            created: joined,
            currency: place.currency,
            vat_bp: place.vat_bp,
            card_country,
            pays_by_sepa: place.sepa && self.dice.chance(0.2),
            methods: Vec::new(),
            default_method: None,
            has_paid: false,
        };
        self.subscriptions_of(&mut customer);
        let default_payment_method = customer
            .default_method
            .and_then(|index| customer.methods.get(index))
            .map(|method| method.id.clone());
        self.out.customers.push(CustomerRecord {
            id: customer.id,
            created: joined,
            // The two shapes' customers are different people.
            email: Some(match self.shape {
                DemoShape::Stripe => format!("customer{number:04}@demo.tally.invalid"),
                DemoShape::Paddle => format!("buyer{number:04}@demo.tally.invalid"),
            }),
            city: place.city.map(str::to_owned),
            country: place.country.map(str::to_owned),
            default_payment_method,
            deleted: false,
            discount: None,
        });
    }

    /// Where a customer is. A few gave no address, or a country without a city (the
    /// "unknown" slices of the dimensions); they pay in eur, usd or gbp, without VAT.
    fn place(&mut self) -> Place {
        let unknown = |currency| Place {
            country: None,
            city: None,
            currency,
            vat_bp: 0,
            sepa: false,
        };
        if self.dice.chance(0.03) {
            let currencies = [
                (Currency::Eur, 50),
                (Currency::Usd, 35),
                (Currency::Gbp, 15),
            ];
            let currency = self
                .dice
                .weighted(&currencies)
                .copied()
                .unwrap_or(Currency::Usd);
            return unknown(currency);
        }
        let Some(country) = self.dice.weighted(&COUNTRIES) else {
            return unknown(Currency::Usd);
        };
        let city = if self.dice.chance(0.04) {
            None
        } else {
            self.dice.pick(country.cities).copied()
        };
        Place {
            country: Some(country.code),
            city,
            currency: country.currency,
            vat_bp: country.vat_bp,
            sepa: country.sepa,
        }
    }

    /// First a free plan, a trial or a paid plan; then, with some luck, comebacks.
    fn subscriptions_of(&mut self, customer: &mut CustomerState) {
        if self.dice.chance(0.04) {
            self.out.events.customers_never_subscribed += 1;
            return;
        }
        let mut start = (customer.created + self.dice.between(60, HOUR)).min(self.end);
        let mut entry = self.first_entry(start);
        for _ in 0..MAX_SUBSCRIPTIONS_PER_CUSTOMER {
            let Some(ended) = self.subscription(customer, start, entry) else {
                return;
            };
            let (comes_back, months_away) = match ended.how {
                Ending::Canceled if customer.has_paid => (0.18, (2, 12)),
                Ending::Canceled => (0.08, (1, 6)),
                Ending::DunningFailed => (0.2, (1, 6)),
                Ending::TrialExpired => (0.1, (1, 6)),
                Ending::Incomplete => (0.4, (0, 0)),
            };
            if !self.dice.chance(comes_back) {
                return;
            }
            let months = self.dice.between(months_away.0, months_away.1);
            start = add_months(ended.at, months) + self.dice.between(HOUR, 20 * DAY);
            if start > self.end {
                return;
            }
            entry = Entry::Paid {
                plan: self.choose_plan(start),
            };
        }
    }

    fn first_entry(&mut self, at: i64) -> Entry {
        let roll = self.dice.count(0, 99);
        if roll < 15 {
            Entry::Free
        } else if roll < 50 {
            Entry::Trial {
                plan: self.choose_plan(at),
                converts: self.dice.chance(0.55),
            }
        } else {
            Entry::Paid {
                plan: self.choose_plan(at),
            }
        }
    }

    /// A plan for a new subscription at `at` (Starter monthly at its price of the day).
    pub(super) fn choose_plan(&mut self, at: i64) -> PlanId {
        let plan = self
            .dice
            .weighted(&PAID_PLAN_MIX)
            .copied()
            .unwrap_or(STARTER_MONTHLY);
        if plan == STARTER_MONTHLY && at < self.price_rise_at {
            STARTER_MONTHLY_LEGACY
        } else {
            plan
        }
    }
}
