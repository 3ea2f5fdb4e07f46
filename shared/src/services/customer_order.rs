//! The customer list's orders, computed once per decoded snapshot instead of on every
//! request: `GET /v1/customers` then walks a ready order and filters, which keeps a
//! 100,000-customer page well inside the query API's latency goal.

use std::collections::HashMap;

use crate::domain::metrics::Facts;
use crate::services::analytics::CustomerRow;

/// Row indices in each sort order, and each row's customer in the facts.
#[derive(Clone, Debug, Default)]
pub struct CustomerOrder {
    /// MRR in the reporting currency, descending; then id.
    pub by_mrr: Vec<u32>,
    /// Lifetime revenue, descending; then id.
    pub by_ltv: Vec<u32>,
    /// Loyalty score, descending (scored before unscored); then id.
    pub by_loyalty: Vec<u32>,
    /// Per row: the index of its customer in `facts.customers` (its dimensions).
    pub dims: Vec<Option<u32>>,
}

impl CustomerOrder {
    pub fn of(rows: &[CustomerRow], facts: &Facts) -> CustomerOrder {
        let sorted = |compare: &dyn Fn(&CustomerRow, &CustomerRow) -> std::cmp::Ordering| {
            let mut order: Vec<u32> = (0..rows.len())
                .filter_map(|i| u32::try_from(i).ok())
                .collect();
            order.sort_by(
                |a, b| match (rows.get(*a as usize), rows.get(*b as usize)) {
                    (Some(a), Some(b)) => compare(a, b).then_with(|| a.id.cmp(&b.id)),
                    _ => std::cmp::Ordering::Equal,
                },
            );
            order
        };
        let index: HashMap<(&str, &str), u32> = facts
            .customers
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let integration = c.dims.integration.as_deref().unwrap_or_default();
                u32::try_from(i)
                    .ok()
                    .map(|i| ((integration, c.id.as_str()), i))
            })
            .collect();
        CustomerOrder {
            by_mrr: sorted(&|a, b| b.reporting_mrr.cmp(&a.reporting_mrr)),
            by_ltv: sorted(&|a, b| b.lifetime_revenue.cmp(&a.lifetime_revenue)),
            by_loyalty: sorted(&|a, b| b.loyalty_score.cmp(&a.loyalty_score)),
            dims: rows
                .iter()
                .map(|r| index.get(&(r.integration.as_str(), r.id.as_str())).copied())
                .collect(),
        }
    }
}
