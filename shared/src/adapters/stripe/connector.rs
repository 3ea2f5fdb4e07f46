//! [`StripeConnector`]: the [`Connector`] port over Stripe's API, read-only.
//!
//! Listings are `GET /v1/<resource>?limit=100[&starting_after=…]`, newest first, with
//! `next` the last object's id while `has_more`. Subscriptions add `status=all` (Stripe
//! leaves canceled ones out otherwise) and expand their discounts (subscription and
//! item level), whose coupons are then read once each, expansions included
//! ([`super::coupons`]); tiered prices are read by id with their tiers. Invoices come with their lines; lines past the embedded first page are read
//! from the lines' own list, and the prices they name by id are looked up once each.
//!
//! Payment methods: today's API lists them per customer only (`GET /v1/payment_methods`
//! without `customer` returns Treasury payment methods). Rather than one request per
//! customer, the payment-method pass lists customers with
//! `expand[]=data.invoice_settings.default_payment_method` and yields each customer's
//! default payment method — the one renewals charge, which is what expiry risk needs.
//! Its `next` cursor is therefore a customer id. Other attached payment methods arrive
//! through `payment_method.*` events and [`Connector::fetch`].

use async_trait::async_trait;
use serde_json::Value;

use super::client::{StripeClient, StripeError};
use super::coupons::CouponCache;
use super::events;
use super::parse::{self, PriceBook};
use super::references::{PriceCache, checked_id, complete_embedded_list, envelope, last_id};
use crate::domain::billing::{BillingRecord, ObjectKind, PriceTerms};
use crate::ports::{ChangesPage, Connector, ConnectorError, ListPage};

/// Objects per listing page: Stripe's maximum.
const PAGE_SIZE: &str = "100";

/// The Stripe adapter of the connector port, for one credential.
#[derive(Debug)]
pub struct StripeConnector {
    client: StripeClient,
    prices: PriceCache,
    coupons: CouponCache,
}

impl StripeConnector {
    pub fn new(client: StripeClient) -> Self {
        Self {
            client,
            prices: PriceCache::default(),
            coupons: CouponCache::default(),
        }
    }

    pub fn client(&self) -> &StripeClient {
        &self.client
    }

    /// One object of `kind` as Stripe returned it, completed and parsed.
    async fn record(
        &self,
        kind: ObjectKind,
        mut value: Value,
    ) -> Result<BillingRecord, ConnectorError> {
        let mut prices = PriceBook::new();
        match kind {
            ObjectKind::Subscription => {
                // Item discounts are expanded on later pages too.
                let expand = ["data.discounts"];
                complete_embedded_list(&self.client, &mut value, "items", &expand).await?;
            }
            ObjectKind::Invoice => {
                complete_embedded_list(&self.client, &mut value, "lines", &[]).await?;
                let ids = parse::invoice_price_ids(&value)?;
                prices = self.prices.resolve(&self.client, &ids).await?;
            }
            _ => {}
        }
        self.coupons.inline(&self.client, kind, &mut value).await?;
        let mut record = parse::record(kind, &value, &prices)?;
        if let BillingRecord::Subscription(s) = &mut record {
            // Tiers come only when the price itself is expanded, which is one level
            // too deep from a subscription listing: read such prices by id.
            let tierless: Vec<String> = s
                .items
                .iter()
                .filter(|item| lacks_tiers(&item.price))
                .map(|item| item.price.id.clone())
                .collect();
            if !tierless.is_empty() {
                let book = self.prices.resolve(&self.client, &tierless).await?;
                for item in s.items.iter_mut().filter(|item| lacks_tiers(&item.price)) {
                    if let Some(terms) = book.get(&item.price.id) {
                        item.price = terms.clone();
                    }
                }
            }
            let complete = s.items.iter().filter(|item| !lacks_tiers(&item.price));
            self.prices.learn(complete.map(|i| i.price.clone()));
        }
        Ok(record)
    }
}

/// A tiered price read without its tiers.
fn lacks_tiers(price: &PriceTerms) -> bool {
    price.tiers_mode.is_some() && price.tiers.is_empty()
}

/// Where a kind is listed, and with which extra parameters.
fn listing(kind: ObjectKind) -> (&'static str, &'static [(&'static str, &'static str)]) {
    match kind {
        ObjectKind::Customer => ("/v1/customers", &[]),
        ObjectKind::PaymentMethod => (
            "/v1/customers",
            &[("expand[]", "data.invoice_settings.default_payment_method")],
        ),
        ObjectKind::Subscription => (
            "/v1/subscriptions",
            &[
                ("status", "all"),
                ("expand[]", "data.discounts"),
                ("expand[]", "data.items.data.discounts"),
            ],
        ),
        ObjectKind::Invoice => ("/v1/invoices", &[]),
        ObjectKind::Charge => ("/v1/charges", &[]),
        ObjectKind::Refund => ("/v1/refunds", &[]),
    }
}

/// Where one object of a kind is read, and with which expansions.
fn object_path(kind: ObjectKind) -> (&'static str, &'static [(&'static str, &'static str)]) {
    match kind {
        ObjectKind::Customer => ("/v1/customers", &[]),
        ObjectKind::PaymentMethod => ("/v1/payment_methods", &[]),
        ObjectKind::Subscription => (
            "/v1/subscriptions",
            &[
                ("expand[]", "discounts"),
                ("expand[]", "items.data.discounts"),
            ],
        ),
        ObjectKind::Invoice => ("/v1/invoices", &[]),
        ObjectKind::Charge => ("/v1/charges", &[]),
        ObjectKind::Refund => ("/v1/refunds", &[]),
    }
}

#[async_trait]
impl Connector for StripeConnector {
    async fn list(
        &self,
        kind: ObjectKind,
        starting_after: Option<&str>,
    ) -> Result<ListPage, ConnectorError> {
        let (path, extra) = listing(kind);
        let mut params: Vec<(&str, &str)> = vec![("limit", PAGE_SIZE)];
        params.extend_from_slice(extra);
        if let Some(after) = starting_after {
            params.push(("starting_after", checked_id(after)?));
        }
        let (data, has_more) = envelope(self.client.get(path, &params).await?, kind.as_str())?;
        let next = if has_more {
            Some(last_id(&data, kind.as_str())?)
        } else {
            None
        };
        let mut records = Vec::with_capacity(data.len());
        for object in data {
            let object = if kind == ObjectKind::PaymentMethod {
                // The customer's expanded default payment method, if it has one.
                match object.pointer("/invoice_settings/default_payment_method") {
                    Some(pm @ Value::Object(_)) => pm.clone(),
                    _ => continue,
                }
            } else {
                object
            };
            records.push(self.record(kind, object).await?);
        }
        Ok(ListPage { records, next })
    }

    async fn changes_since(&self, cursor: Option<&str>) -> Result<ChangesPage, ConnectorError> {
        events::changes_since(&self.client, cursor).await
    }

    /// `None` when Stripe answers 404. A deleted customer still answers (with
    /// `"deleted": true` and nothing else): it comes back as a record with
    /// `deleted: true` — the signal to erase what Tally holds of it.
    async fn fetch(
        &self,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<BillingRecord>, ConnectorError> {
        let (path, params) = object_path(kind);
        let path = format!("{path}/{}", checked_id(id)?);
        match self.client.get(&path, params).await {
            Ok(value) => self.record(kind, value).await.map(Some),
            Err(StripeError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }
}
