//! The demo dataset behind the [`Connector`] port: listed in pages of 100 in id
//! order, fetched by id, and static (no changes after the first listing).

use async_trait::async_trait;

use crate::domain::billing::{BillingRecord, ObjectKind};
use crate::ports::connector::{ChangesPage, Connector, ConnectorError, ListPage};

use super::{DemoDataset, DemoParams, generate};

/// Records per page, as Stripe's maximum `limit`.
const PAGE_SIZE: usize = 100;

/// The cursor of a demo integration: nothing ever changes after it.
const CURSOR: &str = "demo:0";

/// A connector over one generated dataset. Generation happens once, in `new`; share
/// the connector behind an `Arc`.
pub struct DemoConnector {
    dataset: DemoDataset,
}

impl DemoConnector {
    pub fn new(params: DemoParams) -> Self {
        Self::from_dataset(generate(params))
    }

    /// Wraps an existing dataset (sorted by id here, for paging and lookups).
    pub fn from_dataset(mut dataset: DemoDataset) -> Self {
        dataset.customers.sort_by(|a, b| a.id.cmp(&b.id));
        dataset.payment_methods.sort_by(|a, b| a.id.cmp(&b.id));
        dataset.subscriptions.sort_by(|a, b| a.id.cmp(&b.id));
        dataset.invoices.sort_by(|a, b| a.id.cmp(&b.id));
        dataset.charges.sort_by(|a, b| a.id.cmp(&b.id));
        dataset.refunds.sort_by(|a, b| a.id.cmp(&b.id));
        DemoConnector { dataset }
    }

    pub fn dataset(&self) -> &DemoDataset {
        &self.dataset
    }

    /// How many records of `kind` a full listing returns.
    pub fn count(&self, kind: ObjectKind) -> usize {
        let data = &self.dataset;
        match kind {
            ObjectKind::Customer => data.customers.len(),
            ObjectKind::PaymentMethod => data.payment_methods.len(),
            ObjectKind::Subscription => data.subscriptions.len(),
            ObjectKind::Invoice => data.invoices.len(),
            ObjectKind::Charge => data.charges.len(),
            ObjectKind::Refund => data.refunds.len(),
        }
    }
}

/// The page of `records` (sorted by id) after `starting_after`. An unknown id starts
/// where it would sort, so a record deleted between two pages skips nothing.
fn page<T: Clone>(
    records: &[T],
    id: fn(&T) -> &str,
    wrap: fn(T) -> BillingRecord,
    starting_after: Option<&str>,
) -> ListPage {
    let from = match starting_after {
        None => 0,
        Some(after) => match records.binary_search_by(|record| id(record).cmp(after)) {
            Ok(found) => found + 1,
            Err(insert_at) => insert_at,
        },
    };
    let slice = records.get(from..).unwrap_or_default();
    let taken = &slice[..slice.len().min(PAGE_SIZE)];
    let next = if slice.len() > PAGE_SIZE {
        taken.last().map(|record| id(record).to_owned())
    } else {
        None
    };
    ListPage {
        records: taken.iter().cloned().map(wrap).collect(),
        next,
    }
}

fn find<T: Clone>(
    records: &[T],
    id: fn(&T) -> &str,
    wrap: fn(T) -> BillingRecord,
    wanted: &str,
) -> Option<BillingRecord> {
    let index = records
        .binary_search_by(|record| id(record).cmp(wanted))
        .ok()?;
    records.get(index).cloned().map(wrap)
}

#[async_trait]
impl Connector for DemoConnector {
    async fn list(
        &self,
        kind: ObjectKind,
        starting_after: Option<&str>,
    ) -> Result<ListPage, ConnectorError> {
        let data = &self.dataset;
        Ok(match kind {
            ObjectKind::Customer => page(
                &data.customers,
                |r| &r.id,
                BillingRecord::Customer,
                starting_after,
            ),
            ObjectKind::PaymentMethod => page(
                &data.payment_methods,
                |r| &r.id,
                BillingRecord::PaymentMethod,
                starting_after,
            ),
            ObjectKind::Subscription => page(
                &data.subscriptions,
                |r| &r.id,
                BillingRecord::Subscription,
                starting_after,
            ),
            ObjectKind::Invoice => page(
                &data.invoices,
                |r| &r.id,
                BillingRecord::Invoice,
                starting_after,
            ),
            ObjectKind::Charge => page(
                &data.charges,
                |r| &r.id,
                BillingRecord::Charge,
                starting_after,
            ),
            ObjectKind::Refund => page(
                &data.refunds,
                |r| &r.id,
                BillingRecord::Refund,
                starting_after,
            ),
        })
    }

    async fn changes_since(&self, _cursor: Option<&str>) -> Result<ChangesPage, ConnectorError> {
        // The demo is static: the first sync lists everything, later ones find nothing.
        Ok(ChangesPage {
            changes: Vec::new(),
            cursor: Some(CURSOR.to_owned()),
            has_more: false,
        })
    }

    async fn fetch(
        &self,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<BillingRecord>, ConnectorError> {
        let data = &self.dataset;
        Ok(match kind {
            ObjectKind::Customer => find(&data.customers, |r| &r.id, BillingRecord::Customer, id),
            ObjectKind::PaymentMethod => find(
                &data.payment_methods,
                |r| &r.id,
                BillingRecord::PaymentMethod,
                id,
            ),
            ObjectKind::Subscription => find(
                &data.subscriptions,
                |r| &r.id,
                BillingRecord::Subscription,
                id,
            ),
            ObjectKind::Invoice => find(&data.invoices, |r| &r.id, BillingRecord::Invoice, id),
            ObjectKind::Charge => find(&data.charges, |r| &r.id, BillingRecord::Charge, id),
            ObjectKind::Refund => find(&data.refunds, |r| &r.id, BillingRecord::Refund, id),
        })
    }
}
