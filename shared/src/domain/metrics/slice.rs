//! The customers a query is about: dimension filters, ANDed, and optionally a mask of
//! customers (an RFM segment, whose membership is not a dimension but a score the
//! snapshot computed). Every metric reads its customers through one [`Slice`], so a
//! segment restricts a series, the summary and the k-anonymity coverage alike.

use super::dimensions::Filter;

/// Which of the facts' customers (by index in `Facts::customers`) a segment holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerMask(Vec<bool>);

impl CustomerMask {
    /// A mask of `count` customers holding those at `members` (indices out of range are
    /// ignored).
    pub fn of(count: usize, members: impl IntoIterator<Item = usize>) -> Self {
        let mut mask = vec![false; count];
        for index in members {
            if let Some(slot) = mask.get_mut(index) {
                *slot = true;
            }
        }
        Self(mask)
    }

    /// Whether the customer at `index` is in the mask.
    pub fn contains(&self, index: usize) -> bool {
        self.0.get(index).copied().unwrap_or(false)
    }
}

/// The filters and, for a segment of customers, its mask. A payment with no customer
/// is in a slice with a mask only if the filters let it through and there is no mask.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Slice {
    /// ANDed; two values for one dimension match nothing.
    pub filters: Vec<Filter>,
    pub customers: Option<CustomerMask>,
}

impl Slice {
    /// Whether the customer at `index` passes the mask (always, without one).
    pub fn holds(&self, index: usize) -> bool {
        self.customers.as_ref().is_none_or(|m| m.contains(index))
    }
}

impl From<Vec<Filter>> for Slice {
    fn from(filters: Vec<Filter>) -> Self {
        Self {
            filters,
            customers: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metrics::{
        CurrencyMode, CustomerDims, CustomerFacts, EventMetric, Facts, Mrr, MrrChange, NO_CUSTOMER,
        PaymentFact, PaymentKind, SeriesInterval, SeriesQuery, date_of_day, event_series,
        mrr_series, slice_coverage,
    };

    /// Three customers paying 10.00, 25.00 and 40.00 a month (MRR as Stripe Billing
    /// defines it: the monthly amount of active subscriptions), and failed payments of
    /// 5.00 by the first, 7.00 by the second and 11.00 by nobody known.
    fn facts() -> Facts {
        let customer = |id: &str| CustomerFacts {
            id: id.to_owned(),
            dims: CustomerDims::default(),
        };
        let change = |customer: u32, minor: i64| MrrChange {
            customer,
            at_day: 20_000,
            plan: 0,
            currency: 0,
            value: Mrr::from_minor(minor),
        };
        let failed = |customer: u32, amount: i64| PaymentFact {
            customer,
            at_day: 20_010,
            currency: 0,
            kind: PaymentKind::Failed,
            amount,
        };
        let mut facts = Facts {
            currencies: vec!["eur".to_owned()],
            plans: vec!["basic".to_owned()],
            customers: vec![customer("a"), customer("b"), customer("c")],
            changes: vec![change(0, 1_000), change(1, 2_500), change(2, 4_000)],
            payments: vec![failed(0, 500), failed(1, 700), failed(NO_CUSTOMER, 1_100)],
            ..Facts::default()
        };
        facts.sort();
        facts.check().unwrap();
        facts
    }

    fn query(customers: Option<CustomerMask>) -> SeriesQuery {
        SeriesQuery {
            from: date_of_day(19_990),
            to: date_of_day(20_020),
            interval: SeriesInterval::Month,
            currency: CurrencyMode::Native("eur".to_owned()),
            filters: Vec::new(),
            customers,
            group_by: None,
        }
    }

    #[test]
    fn a_mask_restricts_mrr_payments_and_coverage_to_its_customers() {
        let facts = facts();
        let mask = || Some(CustomerMask::of(3, [0, 2]));
        let end = |q: &SeriesQuery| {
            let series = mrr_series(&facts, q).unwrap();
            let last = series.points.last().unwrap().clone();
            (last.mrr.to_minor(), last.customers)
        };
        assert_eq!(end(&query(None)), (7_500, 3));
        // a and c: 10.00 + 40.00.
        assert_eq!(end(&query(mask())), (5_000, 2));
        let failed = |q: &SeriesQuery| {
            let series = event_series(&facts, EventMetric::FailedPayments, q).unwrap();
            let total: i64 = series.points.iter().map(|p| p.amount.to_minor()).sum();
            let count: u64 = series.points.iter().map(|p| p.count).sum();
            (count, total)
        };
        // Everyone's, the anonymous one included: 5.00 + 7.00 + 11.00.
        assert_eq!(failed(&query(None)), (3, 2_300));
        // Only a's: b is outside, and a payment of nobody known is in no segment.
        assert_eq!(failed(&query(mask())), (1, 500));
        let slice = Slice {
            filters: Vec::new(),
            customers: mask(),
        };
        assert_eq!(slice_coverage(&facts, &slice, None).total, 2);
    }

    #[test]
    fn a_mask_holds_its_members_only_and_no_mask_holds_everyone() {
        let mask = CustomerMask::of(3, [0, 2, 7]);
        assert!(mask.contains(0) && !mask.contains(1) && mask.contains(2));
        assert!(!mask.contains(7), "out of range is outside");
        let masked = Slice {
            filters: Vec::new(),
            customers: Some(mask),
        };
        assert!(!masked.holds(1));
        assert!(Slice::default().holds(1));
    }
}
