//! The billing records of one integration, and an index that groups them by customer.

use std::collections::{HashMap, HashSet};

use crate::domain::billing::{
    BillingRecord, CardFacts, ChargeRecord, CustomerRecord, DiscountRecord, InvoiceRecord,
    ObjectKind, PaymentMethodRecord, RefundRecord, SubscriptionRecord,
};

use super::dimensions::CustomerDims;

/// All records of one integration, as the engine reads them.
#[derive(Clone, Copy, Debug, Default)]
pub struct BillingData<'a> {
    /// The integration id: the `integration` dimension of its customers.
    pub integration: &'a str,
    pub customers: &'a [CustomerRecord],
    pub subscriptions: &'a [SubscriptionRecord],
    pub invoices: &'a [InvoiceRecord],
    pub charges: &'a [ChargeRecord],
    pub refunds: &'a [RefundRecord],
    pub payment_methods: &'a [PaymentMethodRecord],
}

/// All records of one integration, owned and grouped by kind: what a sync stored, what
/// the demo generator makes, what a test builds. [`RecordSet::for_integration`] lends them to the
/// engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordSet {
    pub customers: Vec<CustomerRecord>,
    pub payment_methods: Vec<PaymentMethodRecord>,
    pub subscriptions: Vec<SubscriptionRecord>,
    pub invoices: Vec<InvoiceRecord>,
    pub charges: Vec<ChargeRecord>,
    pub refunds: Vec<RefundRecord>,
}

impl RecordSet {
    /// Files a record under its kind.
    pub fn push(&mut self, record: BillingRecord) {
        match record {
            BillingRecord::Customer(r) => self.customers.push(r),
            BillingRecord::PaymentMethod(r) => self.payment_methods.push(r),
            BillingRecord::Subscription(r) => self.subscriptions.push(r),
            BillingRecord::Invoice(r) => self.invoices.push(r),
            BillingRecord::Charge(r) => self.charges.push(r),
            BillingRecord::Refund(r) => self.refunds.push(r),
        }
    }

    /// The records as the engine reads them, attributed to `integration`.
    pub fn for_integration<'a>(&'a self, integration: &'a str) -> BillingData<'a> {
        BillingData {
            integration,
            customers: &self.customers,
            subscriptions: &self.subscriptions,
            invoices: &self.invoices,
            charges: &self.charges,
            refunds: &self.refunds,
            payment_methods: &self.payment_methods,
        }
    }
}

impl FromIterator<BillingRecord> for RecordSet {
    fn from_iter<I: IntoIterator<Item = BillingRecord>>(records: I) -> Self {
        let mut set = Self::default();
        for record in records {
            set.push(record);
        }
        set
    }
}

impl Extend<BillingRecord> for RecordSet {
    fn extend<I: IntoIterator<Item = BillingRecord>>(&mut self, records: I) {
        for record in records {
            self.push(record);
        }
    }
}

/// The records grouped for per-customer work. Built in one pass; lookups by id.
pub(crate) struct RecordIndex<'a> {
    pub data: BillingData<'a>,
    /// Every customer: those with a record, then those only referenced, in first-seen order.
    pub customer_ids: Vec<&'a str>,
    pub customers: HashMap<&'a str, &'a CustomerRecord>,
    pub subscriptions: HashMap<&'a str, Vec<&'a SubscriptionRecord>>,
    pub invoices: HashMap<&'a str, Vec<&'a InvoiceRecord>>,
    /// Per customer, oldest first.
    pub charges: HashMap<&'a str, Vec<&'a ChargeRecord>>,
    pub charges_without_customer: Vec<&'a ChargeRecord>,
    pub refunds: HashMap<&'a str, Vec<&'a RefundRecord>>,
    pub payment_methods: HashMap<&'a str, &'a PaymentMethodRecord>,
}

impl<'a> RecordIndex<'a> {
    pub fn new(data: BillingData<'a>) -> RecordIndex<'a> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut customer_ids = Vec::new();
        let mut note = |id: &'a str| {
            if seen.insert(id) {
                customer_ids.push(id);
            }
        };
        let mut customers = HashMap::new();
        for customer in data.customers {
            customers.insert(customer.id.as_str(), customer);
            note(&customer.id);
        }
        let mut subscriptions: HashMap<&str, Vec<&SubscriptionRecord>> = HashMap::new();
        for sub in data.subscriptions {
            note(&sub.customer);
            subscriptions.entry(&sub.customer).or_default().push(sub);
        }
        let mut charges: HashMap<&str, Vec<&ChargeRecord>> = HashMap::new();
        let mut charges_without_customer = Vec::new();
        for charge in data.charges {
            match charge.customer.as_deref() {
                Some(customer) => {
                    note(customer);
                    charges.entry(customer).or_default().push(charge);
                }
                None => charges_without_customer.push(charge),
            }
        }
        for list in charges.values_mut() {
            list.sort_by_key(|charge| (charge.created, charge.id.as_str()));
        }
        RecordIndex {
            data,
            customer_ids,
            customers,
            subscriptions,
            invoices: invoices_by_subscription(data.invoices),
            charges,
            charges_without_customer,
            refunds: refunds_by_charge(data.refunds),
            payment_methods: data
                .payment_methods
                .iter()
                .map(|pm| (pm.id.as_str(), pm))
                .collect(),
        }
    }

    pub fn subscriptions_of(&self, customer: &str) -> &[&'a SubscriptionRecord] {
        self.subscriptions
            .get(customer)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
    /// The customer's own discount (`customer.discount`), if any.
    pub fn discount_of(&self, customer: &str) -> Option<&'a DiscountRecord> {
        self.customers
            .get(customer)
            .and_then(|record| record.discount.as_ref())
    }
    pub fn invoices_of(&self, subscription: &str) -> &[&'a InvoiceRecord] {
        self.invoices
            .get(subscription)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
    pub fn charges_of(&self, customer: &str) -> &[&'a ChargeRecord] {
        self.charges
            .get(customer)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
    pub fn refunds_of(&self, charge: &str) -> &[&'a RefundRecord] {
        self.refunds
            .get(charge)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The payment method on file: the customer's default, else the default of their
    /// most recently created subscription that has one.
    pub fn payment_method_on_file(&self, customer: &str) -> Option<&'a PaymentMethodRecord> {
        let from_customer = self
            .customers
            .get(customer)
            .and_then(|record| record.default_payment_method.as_deref());
        let from_subscription = self
            .subscriptions_of(customer)
            .iter()
            .filter(|sub| sub.default_payment_method.is_some())
            .max_by_key(|sub| sub.created)
            .and_then(|sub| sub.default_payment_method.as_deref());
        from_customer
            .and_then(|id| self.payment_methods.get(id))
            .or_else(|| from_subscription.and_then(|id| self.payment_methods.get(id)))
            .copied()
    }

    /// The customer's dimension values (see [`CustomerDims`] for the card's source).
    pub fn dims_of(&self, customer: &str) -> CustomerDims {
        let record = self.customers.get(customer);
        let (method, card): (Option<&str>, Option<&CardFacts>) =
            match self.payment_method_on_file(customer) {
                Some(pm) => (Some(pm.method_type.as_str()), pm.card.as_ref()),
                None => self
                    .charges_of(customer)
                    .iter()
                    .rev()
                    .find(|charge| charge.payment_method_type.is_some() || charge.card.is_some())
                    .map(|charge| (charge.payment_method_type.as_deref(), charge.card.as_ref()))
                    .unwrap_or((None, None)),
            };
        CustomerDims {
            country: record
                .and_then(|r| r.country.as_ref())
                .map(|c| c.to_ascii_uppercase()),
            city: record.and_then(|r| r.city.clone()),
            card_brand: card
                .and_then(|c| c.brand.as_ref())
                .map(|b| b.to_ascii_lowercase()),
            card_funding: card
                .and_then(|c| c.funding.as_ref())
                .map(|f| f.to_ascii_lowercase()),
            payment_method: method.or(card.map(|_| "card")).map(str::to_owned),
            integration: Some(self.data.integration.to_owned()),
        }
    }
}

/// Invoices per subscription: by the invoice's own subscription, or (when it has none)
/// by the subscriptions its lines name.
fn invoices_by_subscription(invoices: &[InvoiceRecord]) -> HashMap<&str, Vec<&InvoiceRecord>> {
    let mut by_subscription: HashMap<&str, Vec<&InvoiceRecord>> = HashMap::new();
    for invoice in invoices {
        let mut subscriptions: Vec<&str> = invoice.subscription.as_deref().into_iter().collect();
        for line in &invoice.lines {
            if let Some(sub) = line.subscription.as_deref()
                && !subscriptions.contains(&sub)
            {
                subscriptions.push(sub);
            }
        }
        for sub in subscriptions {
            by_subscription.entry(sub).or_default().push(invoice);
        }
    }
    by_subscription
}

fn refunds_by_charge(refunds: &[RefundRecord]) -> HashMap<&str, Vec<&RefundRecord>> {
    let mut by_charge: HashMap<&str, Vec<&RefundRecord>> = HashMap::new();
    for refund in refunds {
        if let Some(charge) = refund.charge.as_deref() {
            by_charge.entry(charge).or_default().push(refund);
        }
    }
    by_charge
}

/// Whether a refund moved (or is moving) money back: pending or succeeded.
pub(crate) fn refund_counts(refund: &RefundRecord) -> bool {
    matches!(
        refund.status.as_deref(),
        None | Some("succeeded") | Some("pending")
    )
}

/// The amount refunded on a charge: its refund records, or the charge's own
/// `amount_refunded` when the records were not synced (whichever is larger).
pub(crate) fn refunded_amount(charge: &ChargeRecord, refunds: &[&RefundRecord]) -> i64 {
    let recorded: i64 = refunds
        .iter()
        .filter(|refund| refund_counts(refund))
        .map(|refund| refund.amount)
        .sum();
    recorded.max(charge.amount_refunded)
}

/// Which customers' figures each record feeds: the relations the engine follows
/// ([`RecordIndex`]), read the other way round. A record belongs to every customer it
/// is used for, and to none (`unowned`) when it names no customer the engine knows of
/// (a charge without a customer, and its refunds).
///
/// A customer's figures are a function of its group alone: recomputing only the
/// customers whose records changed, from only their groups, gives what a full build
/// gives for them. Groups are disjoint at a processor that keeps its objects' owners
/// fixed (Stripe: a subscription's, invoice's and charge's customer never change); a
/// record in two groups ties them, and the caller recomputes them together or all.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecordGroups<'a> {
    pub by_customer: HashMap<&'a str, Vec<(ObjectKind, &'a str)>>,
    pub unowned: Vec<(ObjectKind, &'a str)>,
}

impl<'a> RecordGroups<'a> {
    pub fn of(data: &BillingData<'a>) -> Self {
        let mut groups = RecordGroups::default();
        let file =
            |groups: &mut RecordGroups<'a>, owners: &[&'a str], kind: ObjectKind, id: &'a str| {
                if owners.is_empty() {
                    groups.unowned.push((kind, id));
                }
                for owner in owners {
                    groups
                        .by_customer
                        .entry(owner)
                        .or_default()
                        .push((kind, id));
                }
            };
        let sub_owner: HashMap<&str, &str> = data
            .subscriptions
            .iter()
            .map(|sub| (sub.id.as_str(), sub.customer.as_str()))
            .collect();
        let charge_owner: HashMap<&str, Option<&str>> = data
            .charges
            .iter()
            .map(|charge| (charge.id.as_str(), charge.customer.as_deref()))
            .collect();
        let mut pm_owners: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut refer = |pm: Option<&'a str>, customer: &'a str| {
            if let Some(pm) = pm {
                add_owner(pm_owners.entry(pm).or_default(), customer);
            }
        };
        for customer in data.customers {
            refer(customer.default_payment_method.as_deref(), &customer.id);
            file(
                &mut groups,
                &[&customer.id],
                ObjectKind::Customer,
                &customer.id,
            );
        }
        for sub in data.subscriptions {
            refer(sub.default_payment_method.as_deref(), &sub.customer);
            file(
                &mut groups,
                &[&sub.customer],
                ObjectKind::Subscription,
                &sub.id,
            );
        }
        for pm in data.payment_methods {
            let mut owners = pm_owners.get(pm.id.as_str()).cloned().unwrap_or_default();
            if let Some(customer) = pm.customer.as_deref() {
                add_owner(&mut owners, customer);
            }
            file(&mut groups, &owners, ObjectKind::PaymentMethod, &pm.id);
        }
        for invoice in data.invoices {
            let mut owners: Vec<&str> = invoice.customer.as_deref().into_iter().collect();
            let subs = invoice
                .subscription
                .iter()
                .chain(invoice.lines.iter().filter_map(|l| l.subscription.as_ref()));
            for customer in subs.filter_map(|sub| sub_owner.get(sub.as_str())) {
                add_owner(&mut owners, customer);
            }
            file(&mut groups, &owners, ObjectKind::Invoice, &invoice.id);
        }
        for charge in data.charges {
            let owners: Vec<&str> = charge.customer.as_deref().into_iter().collect();
            file(&mut groups, &owners, ObjectKind::Charge, &charge.id);
        }
        for refund in data.refunds {
            let owners: Vec<&str> = refund
                .charge
                .as_deref()
                .and_then(|charge| charge_owner.get(charge).copied().flatten())
                .into_iter()
                .collect();
            file(&mut groups, &owners, ObjectKind::Refund, &refund.id);
        }
        groups
    }
}

/// Adds `owner` to a record's owners, once.
fn add_owner<'a>(owners: &mut Vec<&'a str>, owner: &'a str) {
    if !owners.contains(&owner) {
        owners.push(owner);
    }
}
