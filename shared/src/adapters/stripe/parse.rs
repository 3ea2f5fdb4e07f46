//! Stripe JSON into Tally's minimized billing records (docs/design.md §4 "data
//! minimization"). Pure functions, no I/O.
//!
//! Each object is read through a private serde struct that names only the fields Tally
//! keeps (`parse_billing`, `parse_invoice`, `parse_payments`): whatever else Stripe
//! sends — card numbers, last4, fingerprints, CVC checks, addresses beyond city and
//! country, names, phones, metadata — is skipped by the deserializer and never lands
//! in a value Tally holds. Both of Stripe's forms of a reference are accepted: an id
//! (`"cus_123"`) and the expanded object (`{"id": "cus_123", ...}`).
//!
//! A shape error names the object kind and the JSON path only, never a value: values
//! are the merchant's customers' data.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::billing::{BillingRecord, ObjectKind, PriceTerms};
use crate::ports::ConnectorError;

pub use super::parse_billing::{customer, subscription};
pub use super::parse_invoice::{invoice, invoice_price_ids};
pub use super::parse_payments::{charge, payment_method, refund};
pub use super::parse_price::price;

/// Prices already known by id: invoice lines name their price by id only (today's
/// API cannot expand it from an invoice listing: too deep), so the connector looks
/// each distinct price up once and hands the book to [`invoice`].
pub type PriceBook = HashMap<String, PriceTerms>;

/// A Stripe object that does not have the documented shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stripe {object}: unexpected shape at `{path}`")]
pub struct ParseError {
    /// The kind of object being read (`customer`, `invoice`...).
    pub object: &'static str,
    /// Where in the object: a JSON path of field names and indices, never a value.
    pub path: String,
}

impl ParseError {
    pub(super) fn at(object: &'static str, path: impl Into<String>) -> Self {
        Self {
            object,
            path: path.into(),
        }
    }
}

impl From<ParseError> for ConnectorError {
    fn from(err: ParseError) -> Self {
        ConnectorError::Malformed(err.to_string())
    }
}

/// Reads `value` as `T`, reporting a failure by path only (serde's own messages can
/// quote the offending value).
pub(super) fn decode<'a, T: Deserialize<'a>>(
    object: &'static str,
    value: &'a Value,
) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(value)
        .map_err(|err| ParseError::at(object, err.path().to_string()))
}

/// One object of `kind` as a record. Invoices read their lines' prices from `prices`.
pub fn record(
    kind: ObjectKind,
    value: &Value,
    prices: &PriceBook,
) -> Result<BillingRecord, ParseError> {
    Ok(match kind {
        ObjectKind::Customer => BillingRecord::Customer(customer(value)?),
        ObjectKind::PaymentMethod => BillingRecord::PaymentMethod(payment_method(value)?),
        ObjectKind::Subscription => BillingRecord::Subscription(subscription(value)?),
        ObjectKind::Invoice => BillingRecord::Invoice(invoice(value, prices)?),
        ObjectKind::Charge => BillingRecord::Charge(charge(value)?),
        ObjectKind::Refund => BillingRecord::Refund(refund(value)?),
    })
}

/// A reference Stripe sends as an id or, when expanded, as the object: only the id
/// is read either way.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum IdOrObject {
    Id(String),
    Object { id: String },
}

impl IdOrObject {
    pub(super) fn into_id(self) -> String {
        match self {
            IdOrObject::Id(id) | IdOrObject::Object { id } => id,
        }
    }
}

/// An expandable reference whose object Tally needs (a price, a coupon).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Expandable<T> {
    Id(String),
    Object(T),
}

/// Stripe's list envelope (also embedded: `items`, `lines`).
#[derive(Deserialize)]
pub(super) struct List<T> {
    pub(super) data: Vec<T>,
}

pub(super) fn id_of(reference: Option<IdOrObject>) -> Option<String> {
    reference.map(IdOrObject::into_id)
}

/// Empty strings are absent values (Stripe sends `""` for some cleared fields).
pub(super) fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// ISO 3166-1 alpha-2, upper-case.
pub(super) fn country_code(text: Option<String>) -> Option<String> {
    non_empty(text).map(|c| c.trim().to_ascii_uppercase())
}
