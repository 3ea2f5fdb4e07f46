//! MRR and movements as a series: the query, its resolution into a walk, the points.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::MetricsError;
use super::calendar::{Periods, SeriesInterval, date_of_day, day_of_date};
use super::dimensions::{
    CustomerDims, Dimension, Filter, UNKNOWN_KEY, customer_passes, key_passes,
};
use super::facts::Facts;
use super::fx::{ConversionFactor, FxSource};
use super::money::Mrr;
use super::movements::Accumulator;
use super::slice::CustomerMask;
use super::walk::{GroupBy, WalkSpec, walk};

/// Which money a series is in.
#[derive(Clone, Debug)]
pub enum CurrencyMode {
    /// Only MRR in this currency, unconverted ("series per currency").
    Native(String),
    /// Every currency converted into `to`, each movement on its own day.
    Converted { to: String, rates: FxSource },
}

impl CurrencyMode {
    pub fn code(&self) -> String {
        match self {
            CurrencyMode::Native(code) | CurrencyMode::Converted { to: code, .. } => {
                code.to_ascii_lowercase()
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct SeriesQuery {
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    pub interval: SeriesInterval,
    pub currency: CurrencyMode,
    /// ANDed.
    pub filters: Vec<Filter>,
    /// Only these customers (a segment's), besides the filters; payments without a
    /// customer are then left out.
    pub customers: Option<CustomerMask>,
    pub group_by: Option<Dimension>,
}

/// One period. Amounts are fixed point ([`Mrr`]); contraction and churn are positive
/// magnitudes; `start_mrr + net == mrr` exactly, and `net = new + expansion +
/// reactivation − contraction − churn + plan_switch` (plan_switch is 0 except by plan).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub period_start: NaiveDate,
    /// Last day of the period (inclusive; the query's `to` for a partial last period).
    pub period_end: NaiveDate,
    pub start_mrr: Mrr,
    /// MRR at the end of the period.
    pub mrr: Mrr,
    pub new: Mrr,
    pub expansion: Mrr,
    pub contraction: Mrr,
    pub churn: Mrr,
    pub reactivation: Mrr,
    pub plan_switch: Mrr,
    pub net: Mrr,
    pub start_customers: i64,
    /// Paying units at the end of the period.
    pub customers: i64,
    pub new_customers: u64,
    pub reactivated_customers: u64,
    /// Customers paying at the period start and not at its end.
    pub churned_customers: u64,
    /// Movements by count in the period (see [`super::movements::Effect`]): days a unit
    /// went up, down, or to 0. Absent from points stored before they were counted.
    #[serde(default)]
    pub expansions: u64,
    #[serde(default)]
    pub contractions: u64,
    #[serde(default)]
    pub churns: u64,
    /// Net change of the units paying at the period start (NRR numerator − start MRR).
    pub start_cohort_net: Mrr,
    /// Decreases of those units (GRR).
    pub start_cohort_loss: Mrr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSeries {
    pub key: String,
    pub points: Vec<Point>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub interval: SeriesInterval,
    pub currency: String,
    pub points: Vec<Point>,
    /// With `group_by`: one series per key (groups with no MRR at all are left out),
    /// sorted by key.
    pub groups: Option<Vec<GroupSeries>>,
    /// Currencies that could not be converted (no rate): left out of the series and
    /// listed here with their own MRR at the end of the range, never dropped silently.
    pub unconverted: Vec<Unconverted>,
}

/// A currency left out of a converted series, with its native MRR.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unconverted {
    pub currency: String,
    pub mrr: Mrr,
}

/// MRR and movements per period (and per group). Facts are assumed checked
/// ([`Facts::check`]) — unchecked facts never panic, but unsorted ones give wrong sums.
pub fn mrr_series(facts: &Facts, query: &SeriesQuery) -> Result<Series, MetricsError> {
    let periods = Periods::new(
        day_of_date(query.from),
        day_of_date(query.to),
        query.interval,
    )?;
    let plan = Selection::resolve(facts, query)?;
    let spec = WalkSpec {
        periods: &periods,
        customer_ok: &plan.customer_ok,
        conversion: &plan.conversion,
        plan_ok: plan.plan_ok.as_deref(),
        group_by: match (query.group_by, plan.group_index.as_deref()) {
            (Some(Dimension::Plan), Some(index)) => GroupBy::Plan(index),
            (Some(Dimension::Currency), Some(index)) => GroupBy::Currency(index),
            (Some(_), Some(index)) => GroupBy::Customer(index),
            _ => GroupBy::None,
        },
        group_count: plan.group_keys.len(),
    };
    let result = walk(facts, &spec);
    let groups = query.group_by.map(|_| {
        let mut groups: Vec<GroupSeries> = plan
            .group_keys
            .iter()
            .zip(&result.groups)
            .filter(|(_, acc)| !acc.is_empty())
            .map(|(key, acc)| GroupSeries {
                key: key.clone(),
                points: points(acc, &periods),
            })
            .collect();
        groups.sort_by(|a, b| a.key.cmp(&b.key));
        groups
    });
    Ok(Series {
        interval: query.interval,
        currency: query.currency.code(),
        points: points(&result.total, &periods),
        groups,
        unconverted: unconverted_mrr(facts, &plan, periods.last_day),
    })
}

/// The native MRR, at the end of `last_day`, of each currency the selection could not
/// convert (customer filters applied).
pub(crate) fn unconverted_mrr(facts: &Facts, plan: &Selection, last_day: u32) -> Vec<Unconverted> {
    if plan.unconverted.is_empty() {
        return Vec::new();
    }
    let native = facts.native_mrr_by_currency(last_day, |c| {
        plan.unconverted.contains(&c.currency)
            && plan.customer_ok.get(c.customer as usize) == Some(&true)
            && plan
                .plan_ok
                .as_ref()
                .is_none_or(|ok| ok.get(c.plan as usize) == Some(&true))
    });
    plan.unconverted
        .iter()
        .map(|&currency| Unconverted {
            currency: facts
                .currencies
                .get(usize::from(currency))
                .cloned()
                .unwrap_or_default(),
            mrr: native
                .get(usize::from(currency))
                .copied()
                .unwrap_or_default(),
        })
        .collect()
}

/// Turns accumulated effects into points: each period starts where the last ended.
pub(crate) fn points(acc: &Accumulator, periods: &Periods) -> Vec<Point> {
    let mut mrr = acc.start_mrr;
    let mut customers = acc.start_customers;
    let mut out = Vec::with_capacity(acc.periods.len());
    for (index, (effect, start)) in acc.periods.iter().zip(&periods.starts).enumerate() {
        let net = effect.net();
        let point = Point {
            period_start: date_of_day(*start),
            period_end: date_of_day(periods.end_of(index)),
            start_mrr: Mrr(mrr),
            mrr: Mrr(mrr + net),
            new: Mrr(effect.new),
            expansion: Mrr(effect.expansion),
            contraction: Mrr(effect.contraction),
            churn: Mrr(effect.churn),
            reactivation: Mrr(effect.reactivation),
            plan_switch: Mrr(effect.plan_switch),
            net: Mrr(net),
            start_customers: customers,
            customers: customers + effect.customers_delta,
            new_customers: effect.new_customers,
            reactivated_customers: effect.reactivated_customers,
            churned_customers: u64::try_from(effect.churned_customers).unwrap_or(0),
            expansions: effect.expansions,
            contractions: effect.contractions,
            churns: effect.churns,
            start_cohort_net: Mrr(effect.cohort_net),
            start_cohort_loss: Mrr(effect.cohort_loss),
        };
        mrr += net;
        customers += effect.customers_delta;
        out.push(point);
    }
    out
}

/// A query resolved against the facts' dictionaries.
pub(crate) struct Selection {
    pub customer_ok: Vec<bool>,
    pub conversion: Conversions,
    /// Currencies of the facts that pass the filters but have no rate.
    pub unconverted: Vec<u16>,
    pub plan_ok: Option<Vec<bool>>,
    /// Group index per customer, currency or plan (by the grouping dimension).
    pub group_index: Option<Vec<u32>>,
    pub group_keys: Vec<String>,
    /// For payments without a customer: whether they pass the filters (as a customer
    /// with no known dimension) and their group when grouping by a customer dimension.
    pub anonymous_ok: bool,
    pub anonymous_group: Option<u32>,
}

impl Selection {
    pub fn resolve(facts: &Facts, query: &SeriesQuery) -> Result<Selection, MetricsError> {
        let filters = &query.filters;
        let in_mask = |index: usize| query.customers.as_ref().is_none_or(|m| m.contains(index));
        let customer_ok: Vec<bool> = facts
            .customers
            .iter()
            .enumerate()
            .map(|(index, customer)| in_mask(index) && customer_passes(&customer.dims, filters))
            .collect();
        let last_day = day_of_date(query.to);
        let (conversion, unconverted) =
            Conversions::resolve(facts, &query.currency, filters, last_day)?;
        let plan_ok = filters
            .iter()
            .any(|f| f.dimension == Dimension::Plan)
            .then(|| {
                let passes = |plan: &String| key_passes(Dimension::Plan, plan, filters);
                facts.plans.iter().map(passes).collect()
            });
        let mut keys = KeyTable::default();
        let anonymous_ok =
            query.customers.is_none() && customer_passes(&CustomerDims::default(), filters);
        let anonymous_group = query
            .group_by
            .filter(|dimension| dimension.is_customer_level())
            .map(|_| keys.index(UNKNOWN_KEY));
        let group_index = query.group_by.map(|dimension| match dimension {
            Dimension::Plan => facts.plans.iter().map(|p| keys.index(p)).collect(),
            Dimension::Currency => facts.currencies.iter().map(|c| keys.index(c)).collect(),
            customer_level => facts
                .customers
                .iter()
                .map(|c| keys.index(c.dims.key(customer_level)))
                .collect(),
        });
        Ok(Selection {
            customer_ok,
            conversion,
            unconverted,
            plan_ok,
            group_index,
            group_keys: keys.keys,
            anonymous_ok,
            anonymous_group,
        })
    }
}

/// How each currency of the facts converts on each day of the walk: `None` when the
/// currency is not in the series (filtered out, or no rate).
pub(crate) struct Conversions {
    first_day: u32,
    by_currency: Vec<Option<DayFactors>>,
}

enum DayFactors {
    Fixed(ConversionFactor),
    /// One factor per day from `first_day` (days past the end use the last).
    Daily(Vec<ConversionFactor>),
}

impl Conversions {
    /// Resolves the mode against the facts' currencies. The target currency must be
    /// convertible (else `MissingFxRate`); a source currency without a rate is left
    /// out and returned in the second list.
    pub(crate) fn resolve(
        facts: &Facts,
        mode: &CurrencyMode,
        filters: &[Filter],
        last_day: u32,
    ) -> Result<(Conversions, Vec<u16>), MetricsError> {
        let first_day = first_fact_day(facts).min(last_day);
        let mut unconverted = Vec::new();
        let mut by_currency = Vec::with_capacity(facts.currencies.len());
        if let CurrencyMode::Converted { to, rates } = mode {
            rates.validate()?;
            rates
                .per_anchor(to, last_day)
                .ok_or_else(|| MetricsError::MissingFxRate(to.to_ascii_lowercase()))?;
        }
        for (index, currency) in facts.currencies.iter().enumerate() {
            if !key_passes(Dimension::Currency, currency, filters) {
                by_currency.push(None);
                continue;
            }
            let factors = match mode {
                CurrencyMode::Native(code) => currency
                    .eq_ignore_ascii_case(code)
                    .then_some(DayFactors::Fixed(ConversionFactor::IDENTITY)),
                CurrencyMode::Converted { to, rates } => {
                    let factors = daily_factors(rates, currency, to, first_day, last_day);
                    if factors.is_none() {
                        unconverted.extend(u16::try_from(index).ok());
                    }
                    factors
                }
            };
            by_currency.push(factors);
        }
        Ok((
            Conversions {
                first_day,
                by_currency,
            },
            unconverted,
        ))
    }

    /// The factor of `currency` on `day`, if the currency is in the series.
    pub fn factor(&self, currency: u16, day: u32) -> Option<ConversionFactor> {
        match self.by_currency.get(usize::from(currency))?.as_ref()? {
            DayFactors::Fixed(factor) => Some(*factor),
            DayFactors::Daily(days) => {
                let offset = day.saturating_sub(self.first_day) as usize;
                days.get(offset).or(days.last()).copied()
            }
        }
    }
}

/// The earliest day any fact is dated.
fn first_fact_day(facts: &Facts) -> u32 {
    let changes = facts.changes.iter().map(|c| c.at_day);
    let payments = facts.payments.iter().map(|p| p.at_day);
    changes.chain(payments).min().unwrap_or(u32::MAX)
}

/// The factors from `from` into `to` for each day of `first..=last`; `None` when some
/// day has no rate for `from` (the whole currency is then left unconverted).
fn daily_factors(
    rates: &FxSource,
    from: &str,
    to: &str,
    first: u32,
    last: u32,
) -> Option<DayFactors> {
    if from.eq_ignore_ascii_case(to) {
        return Some(DayFactors::Fixed(ConversionFactor::IDENTITY));
    }
    let mut days = Vec::with_capacity((last - first + 1) as usize);
    for day in first..=last {
        let from_rate = rates.per_anchor(from, day)?;
        let to_rate = rates.per_anchor(to, day)?;
        days.push(ConversionFactor::between(from, from_rate, to, to_rate));
    }
    let constant = days.windows(2).all(|pair| pair[0] == pair[1]);
    match (constant, days.first().copied()) {
        (true, Some(factor)) => Some(DayFactors::Fixed(factor)),
        _ => Some(DayFactors::Daily(days)),
    }
}

#[derive(Default)]
struct KeyTable {
    keys: Vec<String>,
    index: HashMap<String, u32>,
}

impl KeyTable {
    fn index(&mut self, key: &str) -> u32 {
        if let Some(index) = self.index.get(key) {
            return *index;
        }
        let index = self.keys.len() as u32;
        self.keys.push(key.to_owned());
        self.index.insert(key.to_owned(), index);
        index
    }
}
