//! Which customers `GET /v1/customers` lists, in which order, read from the tenant's
//! analytics snapshot. The orders themselves are computed once per decoded snapshot
//! ([`CustomerOrder`](crate::services::customer_order::CustomerOrder)); a request walks
//! one and keeps the rows that pass its segment and dimension filters.

use std::collections::HashMap;

use crate::domain::metrics::{Filter, Mrr, RfmSegment, customer_passes, day_of};
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
    /// Only customers of this RFM segment.
    pub segment: Option<RfmSegment>,
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
                .is_none_or(|s| row.segment.as_deref() == Some(s.as_str()));
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
    find_customer_index(snapshot, id).and_then(|i| snapshot.customers.get(i))
}

/// The index in `snapshot.customers` of the customer with this processor id.
pub fn find_customer_index(snapshot: &Snapshot, id: &str) -> Option<usize> {
    snapshot.customers.iter().position(|row| row.id == id)
}

/// One point of a customer's MRR history: its MRR in `currency` from the end of `day`
/// (UTC days since 1970-01-01) on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MrrPoint {
    pub day: u32,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    pub mrr: Mrr,
}

/// The MRR history of the customer at `row` (an index into `snapshot.customers`), read
/// from the snapshot's facts: a point for each UTC day at whose end its MRR in one of
/// its currencies differs from the day before (the new value, summed over its plans;
/// `0` when it churned), in day then currency order, up to the day the snapshot was
/// built (changes scheduled after it, such as a cancellation at the period end, are
/// left out). A customer with no MRR ever has none.
pub fn mrr_history(snapshot: &Snapshot, row: usize) -> Vec<MrrPoint> {
    let facts = &snapshot.facts;
    let Some(customer) = snapshot.order.dims.get(row).copied().flatten() else {
        return Vec::new();
    };
    let through = day_of(snapshot.built_at.timestamp());
    // Changes are sorted by customer, then day, currency and plan (checked on load).
    let start = facts.changes.partition_point(|c| c.customer < customer);
    let end = facts.changes.partition_point(|c| c.customer <= customer);
    let changes = facts.changes.get(start..end).unwrap_or_default();
    let mut slices: HashMap<(u16, u32), Mrr> = HashMap::new();
    let mut totals: HashMap<u16, Mrr> = HashMap::new();
    let mut points = Vec::new();
    for same_day in changes
        .iter()
        .take_while(|c| c.at_day <= through)
        .collect::<Vec<_>>()
        .chunk_by(|a, b| a.at_day == b.at_day && a.currency == b.currency)
    {
        let Some(head) = same_day.first() else {
            continue;
        };
        for change in same_day {
            slices.insert((change.currency, change.plan), change.value);
        }
        let total: Mrr = slices
            .iter()
            .filter(|((currency, _), _)| *currency == head.currency)
            .map(|(_, mrr)| *mrr)
            .sum();
        let before = totals.insert(head.currency, total).unwrap_or_default();
        if total == before {
            continue;
        }
        if let Some(currency) = facts.currencies.get(usize::from(head.currency)) {
            points.push(MrrPoint {
                day: head.at_day,
                currency: currency.clone(),
                mrr: total,
            });
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metrics::{CustomerDims, CustomerFacts, Facts, MrrChange};
    use crate::services::customer_order::CustomerOrder;

    const DAY: i64 = 86_400;

    fn change(customer: u32, at_day: u32, plan: u32, currency: u16, minor: i64) -> MrrChange {
        MrrChange {
            customer,
            at_day,
            plan,
            currency,
            value: Mrr::from_minor(minor),
        }
    }

    fn row(id: &str) -> CustomerRow {
        CustomerRow {
            id: id.to_owned(),
            integration: "int".to_owned(),
            email: None,
            currency: None,
            mrr: 0,
            reporting_mrr: 0,
            lifetime_revenue: 0,
            loyalty_score: None,
            segment: None,
            payment_failure_risk: false,
            churn_risk: 0,
        }
    }

    /// Two customers' facts; the snapshot built at the end of day 100.
    fn snapshot(changes: Vec<MrrChange>) -> Snapshot {
        let customer = |id: &str| CustomerFacts {
            id: id.to_owned(),
            dims: CustomerDims {
                integration: Some("int".to_owned()),
                ..CustomerDims::default()
            },
        };
        let mut facts = Facts {
            currencies: vec!["eur".to_owned(), "usd".to_owned()],
            plans: vec!["basic".to_owned(), "pro".to_owned()],
            customers: vec![customer("cus_a"), customer("cus_b")],
            changes,
            ..Facts::default()
        };
        facts.sort();
        facts.check().unwrap();
        // Rows in another order than the facts' customers.
        let customers = vec![row("cus_b"), row("cus_a")];
        let order = CustomerOrder::of(&customers, &facts);
        Snapshot {
            built_at: chrono::DateTime::from_timestamp(100 * DAY + 3_600, 0).unwrap(),
            reporting_currency: "eur".to_owned(),
            facts,
            customers,
            segments: Vec::new(),
            payment_failure_risks: Vec::new(),
            order,
        }
    }

    fn points(snapshot: &Snapshot, id: &str) -> Vec<(u32, String, i64)> {
        let index = find_customer_index(snapshot, id).unwrap();
        mrr_history(snapshot, index)
            .into_iter()
            .map(|p| (p.day, p.currency, p.mrr.to_minor()))
            .collect()
    }

    #[test]
    fn the_history_has_a_point_per_day_and_currency_whose_total_changed() {
        let snapshot = snapshot(vec![
            // cus_a: basic from day 10, switches to pro at the same price on day 20
            // (no point), upgrades on day 30, adds usd on day 40, churns eur on day 50,
            // and a cancellation scheduled after the build (day 120) is not shown.
            change(0, 10, 0, 0, 2_900),
            change(0, 20, 0, 0, 0),
            change(0, 20, 1, 0, 2_900),
            change(0, 30, 1, 0, 5_900),
            change(0, 40, 0, 1, 1_000),
            change(0, 50, 1, 0, 0),
            change(0, 120, 0, 1, 0),
            // cus_b: another customer's changes never show in cus_a's history.
            change(1, 15, 0, 0, 100),
        ]);
        let eur = |day: u32, mrr: i64| (day, "eur".to_owned(), mrr);
        assert_eq!(
            points(&snapshot, "cus_a"),
            [
                eur(10, 2_900),
                eur(30, 5_900),
                (40, "usd".to_owned(), 1_000),
                eur(50, 0),
            ]
        );
        assert_eq!(points(&snapshot, "cus_b"), [eur(15, 100)]);
    }

    #[test]
    fn a_customer_with_no_change_or_no_facts_has_no_history() {
        let mut snapshot = snapshot(vec![change(1, 15, 0, 0, 100)]);
        assert_eq!(points(&snapshot, "cus_a"), []);
        snapshot.customers.push(row("cus_elsewhere"));
        snapshot.order = CustomerOrder::of(&snapshot.customers, &snapshot.facts);
        assert_eq!(points(&snapshot, "cus_elsewhere"), []);
        assert_eq!(mrr_history(&snapshot, 99), []);
    }

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
