//! Each customer's MRR on one day in one currency, converted exactly as the series
//! convert it (each change once, on its day): what customer lists sort and sum by, so a
//! list's total is the series' MRR.

use super::MetricsError;
use super::facts::Facts;
use super::money::Mrr;
use super::series::{Conversions, CurrencyMode};
use super::walk::{Slice, convert_day};

/// Per customer (indexed like [`Facts::customers`]): its MRR at the end of `day`.
/// Currencies without a rate add nothing (the series list them as unconverted).
pub fn customer_mrr(
    facts: &Facts,
    mode: &CurrencyMode,
    day: u32,
) -> Result<Vec<Mrr>, MetricsError> {
    let (conversion, _) = Conversions::resolve(facts, mode, &[], day)?;
    let mut out = vec![Mrr::ZERO; facts.customers.len()];
    let mut slices: Vec<Slice> = Vec::new();
    let mut converted = Vec::new();
    let mut raises = Vec::new();
    for run in facts.changes.chunk_by(|a, b| a.customer == b.customer) {
        slices.clear();
        let Some(customer) = run.first().map(|c| c.customer as usize) else {
            continue;
        };
        let until = run.partition_point(|c| c.at_day <= day);
        for same_day in run
            .get(..until)
            .unwrap_or_default()
            .chunk_by(|a, b| a.at_day == b.at_day && a.currency == b.currency)
        {
            let Some(head) = same_day.first() else {
                continue;
            };
            if let Some(factor) = conversion.factor(head.currency, head.at_day) {
                convert_day(
                    &mut slices,
                    same_day,
                    factor,
                    &mut converted,
                    &mut raises,
                    |_, _| {},
                );
            }
        }
        if let Some(total) = out.get_mut(customer) {
            *total = Mrr(slices.iter().map(|s| s.value).sum());
        }
    }
    Ok(out)
}
