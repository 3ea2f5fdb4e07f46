//! Which customers `GET /v1/customers` lists, in which order, read from the tenant's
//! analytics snapshot. The orders themselves are computed once per decoded snapshot
//! ([`CustomerOrder`](crate::services::customer_order::CustomerOrder)); a request walks
//! one and keeps the rows that pass its segment and dimension filters.

use crate::domain::metrics::{Filter, customer_passes};
use crate::services::analytics::{CustomerRow, Snapshot};

/// The order of the customer list, descending; ties by id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CustomerSort {
    /// All the customer's MRR in the reporting currency.
    #[default]
    Mrr,
    /// Lifetime revenue.
    Ltv,
    /// RFM score (scored customers before unscored ones).
    Loyalty,
}

impl CustomerSort {
    pub const ALL: [CustomerSort; 3] =
        [CustomerSort::Mrr, CustomerSort::Ltv, CustomerSort::Loyalty];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|sort| sort.as_str() == text)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerSort::Mrr => "mrr",
            CustomerSort::Ltv => "ltv",
            CustomerSort::Loyalty => "loyalty",
        }
    }
}

/// What a customer list asks for.
#[derive(Clone, Debug, Default)]
pub struct CustomerSelection {
    /// Only customers of this RFM segment; a segment no customer has matches none.
    pub segment: Option<String>,
    pub sort: CustomerSort,
    /// Customer-level dimension filters, ANDed.
    pub filters: Vec<Filter>,
}

/// The snapshot's customers that pass `selection`, in its order.
pub fn select_customers<'a>(
    snapshot: &'a Snapshot,
    selection: &CustomerSelection,
) -> Vec<&'a CustomerRow> {
    let order = match selection.sort {
        CustomerSort::Mrr => &snapshot.order.by_mrr,
        CustomerSort::Ltv => &snapshot.order.by_ltv,
        CustomerSort::Loyalty => &snapshot.order.by_loyalty,
    };
    let facts = &snapshot.facts;
    order
        .iter()
        .filter_map(|index| {
            let row = snapshot.customers.get(*index as usize)?;
            let segment_ok = selection
                .segment
                .as_deref()
                .is_none_or(|s| row.segment.as_deref() == Some(s));
            let dims = || {
                let customer = snapshot
                    .order
                    .dims
                    .get(*index as usize)
                    .copied()
                    .flatten()?;
                facts.customers.get(customer as usize).map(|c| &c.dims)
            };
            let filters_ok = selection.filters.is_empty()
                || dims().is_some_and(|d| customer_passes(d, &selection.filters));
            (segment_ok && filters_ok).then_some(row)
        })
        .collect()
}

/// The row of the customer with this processor id, if the snapshot has one.
pub fn find_customer<'a>(snapshot: &'a Snapshot, id: &str) -> Option<&'a CustomerRow> {
    snapshot.customers.iter().find(|row| row.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_parse_from_their_names_only() {
        for sort in CustomerSort::ALL {
            assert_eq!(CustomerSort::parse(sort.as_str()), Some(sort));
        }
        assert_eq!(CustomerSort::parse("MRR"), None);
        assert_eq!(CustomerSort::parse("revenue"), None);
        assert_eq!(CustomerSort::default(), CustomerSort::Mrr);
    }
}
