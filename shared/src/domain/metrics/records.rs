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
    pub by_customer: HashMap<String, Vec<(ObjectKind, &'a str)>>,
    pub unowned: Vec<(ObjectKind, &'a str)>,
}

impl<'a> RecordGroups<'a> {
    pub fn of(data: &BillingData<'a>) -> Self {
        let mut groups = RecordGroups::default();
        let mut file = |owners: Vec<String>, kind: ObjectKind, id: &'a str| {
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
        let mut index = OwnerIndex::default();
        for customer in data.customers {
            file(index.customer(customer), ObjectKind::Customer, &customer.id);
        }
        for sub in data.subscriptions {
            file(index.subscription(sub), ObjectKind::Subscription, &sub.id);
        }
        for pm in data.payment_methods {
            file(index.payment_method(pm), ObjectKind::PaymentMethod, &pm.id);
        }
        for invoice in data.invoices {
            file(index.invoice(invoice), ObjectKind::Invoice, &invoice.id);
        }
        index.expect_refunds(data.refunds);
        for charge in data.charges {
            file(index.charge(charge), ObjectKind::Charge, &charge.id);
        }
        for refund in data.refunds {
            file(index.refund(refund), ObjectKind::Refund, &refund.id);
        }
        groups
    }
}

/// The owners of records read one at a time, kind by kind, without holding the
/// records: what [`RecordGroups`] follows, for a pass that streams a tenant's records
/// into per-customer buckets. It keeps only the relations a later kind needs: each
/// subscription's customer, the payment methods customers and subscriptions name, and
/// the customer of each charge a refund names.
///
/// Kinds must be given in this order: customers, subscriptions, payment methods,
/// invoices, then [`Self::expect_refunds`] with every refund, charges, refunds.
#[derive(Debug, Default)]
pub struct OwnerIndex {
    subscription_owner: HashMap<String, String>,
    method_users: HashMap<String, Vec<String>>,
    /// The charges refunds name, and their customers once read.
    refunded: HashMap<String, Option<String>>,
}

impl OwnerIndex {
    pub fn customer(&mut self, customer: &CustomerRecord) -> Vec<String> {
        self.uses_method(customer.default_payment_method.as_deref(), &customer.id);
        vec![customer.id.clone()]
    }

    pub fn subscription(&mut self, sub: &SubscriptionRecord) -> Vec<String> {
        self.uses_method(sub.default_payment_method.as_deref(), &sub.customer);
        self.subscription_owner
            .insert(sub.id.clone(), sub.customer.clone());
        vec![sub.customer.clone()]
    }

    pub fn payment_method(&self, pm: &PaymentMethodRecord) -> Vec<String> {
        let mut owners = self
            .method_users
            .get(pm.id.as_str())
            .cloned()
            .unwrap_or_default();
        if let Some(customer) = pm.customer.as_deref() {
            add_owner(&mut owners, customer);
        }
        owners
    }

    pub fn invoice(&self, invoice: &InvoiceRecord) -> Vec<String> {
        let mut owners: Vec<String> = invoice.customer.iter().cloned().collect();
        let subs = invoice
            .subscription
            .iter()
            .chain(invoice.lines.iter().filter_map(|l| l.subscription.as_ref()));
        for customer in subs.filter_map(|sub| self.subscription_owner.get(sub.as_str())) {
            add_owner(&mut owners, customer);
        }
        owners
    }

    /// Notes the charges these refunds name (before the charges are read).
    pub fn expect_refunds<'r>(&mut self, refunds: impl IntoIterator<Item = &'r RefundRecord>) {
        for charge in refunds.into_iter().filter_map(|r| r.charge.as_ref()) {
            self.refunded.insert(charge.clone(), None);
        }
    }

    pub fn charge(&mut self, charge: &ChargeRecord) -> Vec<String> {
        if let Some(owner) = self.refunded.get_mut(charge.id.as_str()) {
            owner.clone_from(&charge.customer);
        }
        charge.customer.iter().cloned().collect()
    }

    pub fn refund(&self, refund: &RefundRecord) -> Vec<String> {
        refund
            .charge
            .as_deref()
            .and_then(|charge| self.refunded.get(charge).cloned().flatten())
            .into_iter()
            .collect()
    }

    fn uses_method(&mut self, pm: Option<&str>, customer: &str) {
        if let Some(pm) = pm {
            add_owner(
                self.method_users.entry(pm.to_owned()).or_default(),
                customer,
            );
        }
    }
}

/// Adds `owner` to a record's owners, once.
fn add_owner(owners: &mut Vec<String>, owner: &str) {
    if !owners.iter().any(|o| o == owner) {
        owners.push(owner.to_owned());
    }
}
