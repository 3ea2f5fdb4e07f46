//! Appending one integration's facts to a tenant's, as if `facts_from_records` had been
//! given both sources at once: customers are appended (indices offset), currencies and
//! plans are matched by name. The engine's own merge (sealed chunks) is not public; this
//! one only has to be right for facts that each came from `facts_from_records`.
//!
//! Why the bench needs it: the demo generator's customers change MRR under twice each
//! over 5 years, so ~1,000,000 changes take ~600,000 customers, and their records at
//! once would need ~13 GB. Built one batch at a time, only the facts stay.

use std::collections::HashMap;

use anyhow::{Context, Result};
use tally::domain::metrics::{Facts, NO_CUSTOMER};

/// Appends `more` to `into`. `into` must be sorted again afterwards ([`Facts::sort`]).
pub fn append(into: &mut Facts, more: Facts) -> Result<()> {
    let offset = u32::try_from(into.customers.len()).context("too many customers")?;
    let currencies = index_map(&mut into.currencies, more.currencies)
        .into_iter()
        .map(|i| u16::try_from(i).context("too many currencies"))
        .collect::<Result<Vec<u16>>>()?;
    let plans = index_map(&mut into.plans, more.plans)
        .into_iter()
        .map(|i| u32::try_from(i).context("too many plans"))
        .collect::<Result<Vec<u32>>>()?;
    // Indices come from `facts_from_records`, so they are in range; a lookup that fails
    // anyway is reported rather than trusted.
    let currency = |c: u16| {
        currencies
            .get(usize::from(c))
            .copied()
            .context("a currency index is out of range")
    };
    let customer = |c: u32| -> Result<u32> {
        if c == NO_CUSTOMER {
            return Ok(NO_CUSTOMER);
        }
        c.checked_add(offset).context("too many customers")
    };
    into.customers.extend(more.customers);
    for mut change in more.changes {
        change.customer = customer(change.customer)?;
        change.currency = currency(change.currency)?;
        change.plan = *plans
            .get(change.plan as usize)
            .context("a plan index is out of range")?;
        into.changes.push(change);
    }
    for mut payment in more.payments {
        payment.customer = customer(payment.customer)?;
        payment.currency = currency(payment.currency)?;
        into.payments.push(payment);
    }
    for mut trial in more.trials {
        trial.customer = customer(trial.customer)?;
        trial.currency = currency(trial.currency)?;
        into.trials.push(trial);
    }
    Ok(())
}

/// For each name of `more`, its index in `names` (appended when new).
fn index_map(names: &mut Vec<String>, more: Vec<String>) -> Vec<usize> {
    let mut known: HashMap<String, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), i))
        .collect();
    more.into_iter()
        .map(|name| {
            *known.entry(name.clone()).or_insert_with(|| {
                names.push(name);
                names.len() - 1
            })
        })
        .collect()
}
