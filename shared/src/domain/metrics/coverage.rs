//! How many customers a slice covers: what k-anonymity for viewers is judged on (a
//! filter or a group of fewer than k customers would single one out).
//!
//! A customer is in a slice when it passes the customer-level filters and, for `plan`
//! and `currency` (which belong to a customer's MRR and payments rather than to the
//! customer), has at least one plan or currency that passes. Grouped by `plan` or
//! `currency`, a customer counts in each of its keys that pass.

use std::collections::{BTreeMap, BTreeSet};

use super::dimensions::{Dimension, Filter, customer_passes, key_passes};
use super::facts::Facts;
use super::slice::Slice;

/// The customers a slice covers, in all and per group key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub total: usize,
    pub groups: BTreeMap<String, usize>,
}

pub fn coverage(facts: &Facts, filters: &[Filter], group_by: Option<Dimension>) -> Coverage {
    slice_coverage(facts, &Slice::from(filters.to_vec()), group_by)
}

/// The same for a slice with a segment's mask: only the mask's customers count.
pub fn slice_coverage(facts: &Facts, slice: &Slice, group_by: Option<Dimension>) -> Coverage {
    let filters = slice.filters.as_slice();
    let count = facts.customers.len();
    let mut plans: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); count];
    let mut currencies: Vec<BTreeSet<u16>> = vec![BTreeSet::new(); count];
    let mut add_currency = |customer: u32, currency: u16| {
        if let Some(set) = currencies.get_mut(customer as usize) {
            set.insert(currency);
        }
    };
    for change in &facts.changes {
        if let Some(set) = plans.get_mut(change.customer as usize) {
            set.insert(change.plan);
        }
        add_currency(change.customer, change.currency);
    }
    for payment in &facts.payments {
        add_currency(payment.customer, payment.currency);
    }
    for trial in &facts.trials {
        add_currency(trial.customer, trial.currency);
    }
    for span in &facts.subscribers {
        add_currency(span.customer, span.currency);
    }
    let mut out = Coverage::default();
    for (index, customer) in facts.customers.iter().enumerate() {
        if !slice.holds(index) || !customer_passes(&customer.dims, filters) {
            continue;
        }
        let plan_keys = passing(
            Dimension::Plan,
            plans[index]
                .iter()
                .filter_map(|p| facts.plans.get(*p as usize)),
            filters,
        );
        let currency_keys = passing(
            Dimension::Currency,
            currencies[index]
                .iter()
                .filter_map(|c| facts.currencies.get(usize::from(*c))),
            filters,
        );
        let filtered = |dimension: Dimension, keys: &BTreeSet<String>| {
            filters.iter().any(|f| f.dimension == dimension) && keys.is_empty()
        };
        if filtered(Dimension::Plan, &plan_keys) || filtered(Dimension::Currency, &currency_keys) {
            continue;
        }
        out.total += 1;
        let keys = match group_by {
            None => BTreeSet::new(),
            Some(Dimension::Plan) => plan_keys,
            Some(Dimension::Currency) => currency_keys,
            Some(dimension) => BTreeSet::from([customer.dims.key(dimension).to_owned()]),
        };
        for key in keys {
            *out.groups.entry(key).or_default() += 1;
        }
    }
    out
}

/// The keys of `dimension` among `keys` that pass the filters on that dimension.
fn passing<'a>(
    dimension: Dimension,
    keys: impl Iterator<Item = &'a String>,
    filters: &[Filter],
) -> BTreeSet<String> {
    keys.filter(|key| key_passes(dimension, key, filters))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metrics::dimensions::CustomerDims;
    use crate::domain::metrics::facts::{CustomerFacts, MrrChange};
    use crate::domain::metrics::money::Mrr;

    fn customer(id: &str, country: &str) -> CustomerFacts {
        CustomerFacts {
            id: id.to_owned(),
            dims: CustomerDims {
                country: Some(country.to_owned()),
                ..CustomerDims::default()
            },
        }
    }

    #[test]
    fn a_slice_counts_each_customer_once_and_plans_per_customer() {
        let mut facts = Facts {
            currencies: vec!["eur".into(), "usd".into()],
            plans: vec!["basic".into(), "pro".into()],
            customers: vec![
                customer("a", "DE"),
                customer("b", "DE"),
                customer("c", "FR"),
            ],
            ..Facts::default()
        };
        for (customer, plan, currency) in [(0, 0, 0), (0, 1, 1), (1, 0, 0), (2, 1, 0)] {
            facts.changes.push(MrrChange {
                customer,
                at_day: 20_000,
                plan,
                currency,
                value: Mrr::ZERO,
            });
        }
        let all = coverage(&facts, &[], Some(Dimension::Country));
        assert_eq!(all.total, 3);
        assert_eq!(all.groups["DE"], 2);
        assert_eq!(all.groups["FR"], 1);
        let by_plan = coverage(&facts, &[], Some(Dimension::Plan));
        assert_eq!(by_plan.groups["basic"], 2);
        assert_eq!(by_plan.groups["pro"], 2);
        let usd = Filter::parse("currency", "USD").unwrap();
        assert_eq!(coverage(&facts, &[usd], None).total, 1);
        let de = Filter::parse("country", "de").unwrap();
        let pro = Filter::parse("plan", "pro").unwrap();
        assert_eq!(coverage(&facts, &[de, pro], None).total, 1);
    }
}
