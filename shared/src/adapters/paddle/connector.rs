//! [`PaddleConnector`]: the [`Connector`] port over Paddle Billing's API, read-only.
//!
//! Listings use Paddle's cursor pagination: `GET /<entity>?per_page=200&order_by=id[ASC]`
//! and then `after=<last id>`, while `meta.pagination.has_more` (Paddle's own
//! `meta.pagination.next` link is built the same way). Every status is asked for, so
//! canceled subscriptions and archived customers are listed too.
//!
//! * Customers' city and country live on their addresses, which Paddle lists per
//!   customer only. Rather than one request per customer, each page of customers is
//!   followed by `GET /transactions?customer_id=<the page's ids>&include=address`,
//!   newest first, and each customer takes the address of its newest transaction (at
//!   most [`ADDRESS_PAGES`] pages: a customer without a recent transaction keeps no
//!   place until an `address.*` event re-reads it). A single customer re-read by id
//!   reads its own newest address.
//! * Subscriptions' discounts name a discount entity: its terms are read once per
//!   sync for all the page's discounts at once (`GET /discounts?id=…`).
//! * Transactions are read twice, as invoices and as charges (one per payment attempt).
//! * Adjustments are listed with `action=refund,chargeback`.
//! * Payment methods: Paddle lists saved payment methods per customer only; the card
//!   facts Tally keeps (type, brand, expiry) come with each transaction's payments, so
//!   the payment-method pass reads nothing and charges carry the card.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use super::client::{PaddleClient, PaddleError};
use super::events;
use super::parse::{self, Discount, Place, decode};
use crate::domain::billing::{BillingRecord, ObjectKind};
use crate::ports::{ChangesPage, Connector, ConnectorError, ListPage};

/// Entities per page: Paddle's maximum for most lists.
const PAGE_SIZE: &str = "200";
/// Pages of a customer page's transactions read for their addresses.
const ADDRESS_PAGES: usize = 3;

/// The Paddle adapter of the connector port, for one API key.
#[derive(Debug)]
pub struct PaddleConnector {
    client: PaddleClient,
    discounts: Mutex<HashMap<String, Discount>>,
}

/// A Paddle id as Tally will put it in a request: `[A-Za-z0-9_]`, 1..=64.
pub(super) fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn checked_id(id: &str) -> Result<&str, ConnectorError> {
    if is_valid_id(id) {
        Ok(id)
    } else {
        Err(ConnectorError::Malformed("not a Paddle id".into()))
    }
}

fn malformed(err: parse::ParseError) -> ConnectorError {
    ConnectorError::Malformed(err.to_string())
}

/// A list response: `data` and `meta.pagination.has_more`.
pub(super) fn list_envelope(page: Value, what: &str) -> Result<(Vec<Value>, bool), ConnectorError> {
    let has_more = page
        .pointer("/meta/pagination/has_more")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Value::Object(mut map) = page else {
        return Err(ConnectorError::Malformed(format!("{what}: not a list")));
    };
    match map.remove("data") {
        Some(Value::Array(data)) => Ok((data, has_more)),
        _ => Err(ConnectorError::Malformed(format!(
            "{what}: list without data"
        ))),
    }
}

fn id_of(object: &Value) -> Option<&str> {
    object
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| is_valid_id(id))
}

/// Where a kind is listed, with which filters.
fn listing(kind: ObjectKind) -> Option<(&'static str, &'static [(&'static str, &'static str)])> {
    Some(match kind {
        ObjectKind::Customer => ("/customers", &[("status", "active,archived")]),
        ObjectKind::PaymentMethod => return None,
        ObjectKind::Subscription => (
            "/subscriptions",
            &[("status", "active,canceled,past_due,paused,trialing")],
        ),
        ObjectKind::Invoice | ObjectKind::Charge => ("/transactions", &[]),
        ObjectKind::Refund => ("/adjustments", &[("action", "refund,chargeback")]),
    })
}

#[derive(Deserialize)]
struct WithAddress {
    customer_id: Option<String>,
    address: Option<Place>,
}

impl PaddleConnector {
    pub fn new(client: PaddleClient) -> Self {
        Self {
            client,
            discounts: Mutex::new(HashMap::new()),
        }
    }

    pub fn client(&self) -> &PaddleClient {
        &self.client
    }

    /// The newest known address of each of `customers`, from their transactions.
    async fn places(&self, customers: &[&str]) -> Result<HashMap<String, Place>, ConnectorError> {
        let mut places = HashMap::new();
        if customers.is_empty() {
            return Ok(places);
        }
        let ids = customers.join(",");
        let mut after: Option<String> = None;
        for _ in 0..ADDRESS_PAGES {
            let mut params = vec![
                ("customer_id", ids.as_str()),
                ("include", "address"),
                ("order_by", "created_at[DESC]"),
                ("per_page", PAGE_SIZE),
            ];
            if let Some(after) = after.as_deref() {
                params.push(("after", after));
            }
            let page = self.client.get("/transactions", &params).await?;
            let (data, has_more) = list_envelope(page, "transactions")?;
            for transaction in &data {
                let Ok(found) = decode::<WithAddress>("transaction", transaction) else {
                    continue;
                };
                if let (Some(customer), Some(place)) = (found.customer_id, found.address) {
                    places.entry(customer).or_insert(place);
                }
            }
            if !has_more || places.len() >= customers.len() {
                break;
            }
            after = data.last().and_then(id_of).map(str::to_owned);
            if after.is_none() {
                break;
            }
        }
        Ok(places)
    }

    /// The newest address of one customer.
    async fn place_of(&self, customer: &str) -> Result<Option<Place>, ConnectorError> {
        let path = format!("/customers/{}/addresses", checked_id(customer)?);
        let page = self
            .client
            .get(&path, &[("order_by", "id[DESC]"), ("per_page", "1")])
            .await?;
        let (data, _) = list_envelope(page, "addresses")?;
        Ok(data
            .first()
            .and_then(|a| decode::<Place>("address", a).ok()))
    }

    /// Reads the terms of the discounts not known yet.
    async fn learn_discounts(&self, subscriptions: &[Value]) -> Result<(), ConnectorError> {
        let wanted: Vec<String> = {
            let known = self.known_discounts()?;
            let mut ids: Vec<String> = subscriptions
                .iter()
                .filter_map(parse::subscription_discount_id)
                .filter(|id| is_valid_id(id) && !known.contains_key(id))
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        for chunk in wanted.chunks(50) {
            let ids = chunk.join(",");
            let params = [
                ("id", ids.as_str()),
                ("status", "active,archived,expired,used"),
                ("per_page", PAGE_SIZE),
            ];
            let page = self.client.get("/discounts", &params).await?;
            let (data, _) = list_envelope(page, "discounts")?;
            let mut known = self.known_discounts()?;
            for value in &data {
                let discount: Discount = decode("discount", value).map_err(malformed)?;
                known.insert(discount.id.clone(), discount);
            }
        }
        Ok(())
    }

    fn known_discounts(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, Discount>>, ConnectorError> {
        self.discounts
            .lock()
            .map_err(|_| ConnectorError::Malformed("the discount cache is poisoned".into()))
    }

    async fn subscriptions(&self, data: &[Value]) -> Result<Vec<BillingRecord>, ConnectorError> {
        self.learn_discounts(data).await?;
        let known = self.known_discounts()?;
        data.iter()
            .map(|value| {
                parse::subscription(value, &known)
                    .map(BillingRecord::Subscription)
                    .map_err(malformed)
            })
            .collect()
    }

    async fn customers(&self, data: &[Value]) -> Result<Vec<BillingRecord>, ConnectorError> {
        let ids: Vec<&str> = data.iter().filter_map(id_of).collect();
        let places = self.places(&ids).await?;
        data.iter()
            .map(|value| {
                let place = id_of(value).and_then(|id| places.get(id));
                parse::customer(value, place)
                    .map(BillingRecord::Customer)
                    .map_err(malformed)
            })
            .collect()
    }

    /// Records of `kind` from one page of its list.
    async fn records(
        &self,
        kind: ObjectKind,
        data: &[Value],
    ) -> Result<Vec<BillingRecord>, ConnectorError> {
        match kind {
            ObjectKind::Customer => self.customers(data).await,
            ObjectKind::Subscription => self.subscriptions(data).await,
            ObjectKind::PaymentMethod => Ok(Vec::new()),
            ObjectKind::Invoice => data
                .iter()
                .map(|v| {
                    parse::invoice(v)
                        .map(BillingRecord::Invoice)
                        .map_err(malformed)
                })
                .collect(),
            ObjectKind::Charge => {
                let mut out = Vec::new();
                for value in data {
                    let charges = parse::charges(value).map_err(malformed)?;
                    out.extend(charges.into_iter().map(BillingRecord::Charge));
                }
                Ok(out)
            }
            ObjectKind::Refund => {
                let mut out = Vec::new();
                for value in data {
                    if let Some(refund) = parse::refund(value).map_err(malformed)? {
                        out.push(BillingRecord::Refund(refund));
                    }
                }
                Ok(out)
            }
        }
    }

    /// One entity by id (`data` of `GET /<entity>/<id>`); `None` on 404.
    async fn entity(&self, path: &str, id: &str) -> Result<Option<Value>, ConnectorError> {
        let path = format!("{path}/{}", checked_id(id)?);
        match self.client.get(&path, &[]).await {
            Ok(mut body) => match body.get_mut("data").map(Value::take) {
                Some(data @ Value::Object(_)) => Ok(Some(data)),
                _ => Err(ConnectorError::Malformed(format!(
                    "{path}: an entity without data"
                ))),
            },
            Err(PaddleError::NotFound) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }
}

#[async_trait]
impl Connector for PaddleConnector {
    async fn list(
        &self,
        kind: ObjectKind,
        starting_after: Option<&str>,
    ) -> Result<ListPage, ConnectorError> {
        let Some((path, filters)) = listing(kind) else {
            return Ok(ListPage {
                records: Vec::new(),
                next: None,
            });
        };
        let mut params: Vec<(&str, &str)> = vec![("per_page", PAGE_SIZE), ("order_by", "id[ASC]")];
        params.extend_from_slice(filters);
        if let Some(after) = starting_after {
            params.push(("after", checked_id(after)?));
        }
        let (data, has_more) = list_envelope(self.client.get(path, &params).await?, path)?;
        let next = if has_more {
            Some(
                data.last()
                    .and_then(id_of)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        ConnectorError::Malformed(format!("{path}: has_more without a last id"))
                    })?,
            )
        } else {
            None
        };
        let records = self.records(kind, &data).await?;
        Ok(ListPage { records, next })
    }

    async fn changes_since(&self, cursor: Option<&str>) -> Result<ChangesPage, ConnectorError> {
        events::changes_since(&self.client, cursor).await
    }

    /// Paddle deletes nothing it bills (customers and discounts are archived), so
    /// `None` means an id Paddle does not know.
    async fn fetch(
        &self,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<BillingRecord>, ConnectorError> {
        match kind {
            ObjectKind::Customer => {
                let Some(value) = self.entity("/customers", id).await? else {
                    return Ok(None);
                };
                let place = self.place_of(id).await?;
                parse::customer(&value, place.as_ref())
                    .map(|c| Some(BillingRecord::Customer(c)))
                    .map_err(malformed)
            }
            ObjectKind::PaymentMethod => Ok(None),
            ObjectKind::Subscription => match self.entity("/subscriptions", id).await? {
                Some(value) => Ok(self.subscriptions(&[value]).await?.pop()),
                None => Ok(None),
            },
            ObjectKind::Invoice => match self.entity("/transactions", id).await? {
                Some(value) => parse::invoice(&value)
                    .map(|i| Some(BillingRecord::Invoice(i)))
                    .map_err(malformed),
                None => Ok(None),
            },
            ObjectKind::Charge => {
                // A charge is read through its transaction: by the transaction's id
                // (the captured attempt), else the newest attempt.
                let Some(value) = self.entity("/transactions", id).await? else {
                    return Ok(None);
                };
                let mut charges = parse::charges(&value).map_err(malformed)?;
                let exact = charges.iter().position(|c| c.id == id);
                let charge = match exact {
                    Some(at) => Some(charges.swap_remove(at)),
                    None => charges.pop(),
                };
                Ok(charge.map(BillingRecord::Charge))
            }
            ObjectKind::Refund => {
                let params = [("id", checked_id(id)?)];
                let (data, _) = list_envelope(
                    self.client.get("/adjustments", &params).await?,
                    "adjustments",
                )?;
                match data.first() {
                    Some(value) => Ok(parse::refund(value)
                        .map_err(malformed)?
                        .map(BillingRecord::Refund)),
                    None => Ok(None),
                }
            }
        }
    }
}
