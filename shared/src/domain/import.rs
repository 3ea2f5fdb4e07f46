//! The Import API's rows (a `custom` integration, docs/api.md "Import API"): what a
//! caller posts for a billing system Tally has no connector for, checked field by field,
//! and the record ids derived from the caller's external ids.
//!
//! A row arrives as JSON (an object per row) or as a CSV record under a header row; both
//! are read through [`Row`], so a field means the same and fails the same in either.
//! A bad row is reported with its field and a code, never with its value (a value may be
//! an e-mail address); the other rows go on.
//!
//! Record ids: the caller's external ids are up to 255 printable characters without
//! `#`, stored ids are `[A-Za-z0-9_-]` ([`crate::repos::billing::valid_provider_id`]).
//! [`record_id`] maps one to the other injectively: letters, digits and `-` stay, every
//! other byte becomes `_` and two upper-case hex digits, and an id still too long after
//! that becomes `_h` and its SHA-256 (no escape starts `_h`, so neither form can meet the
//! other). Suffixes Tally adds to an id (`_r2` for a subscription's second run, `_p3`
//! for a billed period) start `_` and a lower-case letter, which no escape does either.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::billing::Interval;

mod staged;
mod timeline;
pub use staged::{
    CHUNK_BYTES, CHUNK_ROWS, CellsRow, ImportRun, MAX_RECORD_BYTES, MAX_RESUMES, MAX_RUN_ERRORS,
    RunError, RunStatus, StagedChunk, StagedRow,
};
pub use timeline::{
    LoggedEvent, SequenceError, SubscriptionLog, check_sequence, subscription_records,
};

/// Rows per JSON request.
pub const MAX_BATCH_ROWS: usize = 1_000;
/// Events kept per subscription (its log is one sealed item: DynamoDB's 400 KB bound).
pub const MAX_EVENTS_PER_SUBSCRIPTION: usize = 1_000;
/// The longest record id [`record_id`] gives, leaving room for Tally's suffixes.
const MAX_RECORD_ID: usize = 200;

/// What one import request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Customers,
    Plans,
    SubscriptionEvents,
    Payments,
    Refunds,
}

impl ImportKind {
    pub const ALL: [ImportKind; 5] = [
        ImportKind::Customers,
        ImportKind::Plans,
        ImportKind::SubscriptionEvents,
        ImportKind::Payments,
        ImportKind::Refunds,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Customers => "customers",
            ImportKind::Plans => "plans",
            ImportKind::SubscriptionEvents => "subscription_events",
            ImportKind::Payments => "payments",
            ImportKind::Refunds => "refunds",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The fields a row of this kind may have (CSV header names, JSON keys).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            ImportKind::Customers => &["external_id", "email", "country", "city", "created_at"],
            ImportKind::Plans => &[
                "external_id",
                "name",
                "amount",
                "currency",
                "interval",
                "interval_count",
            ],
            ImportKind::SubscriptionEvents => &[
                "external_id",
                "customer",
                "subscription",
                "type",
                "at",
                "plan",
                "quantity",
            ],
            ImportKind::Payments => &[
                "external_id",
                "customer",
                "amount",
                "currency",
                "status",
                "at",
                "payment_method_type",
                "card_brand",
            ],
            ImportKind::Refunds => &["external_id", "payment", "amount", "at"],
        }
    }
}

/// One field of a row as it arrived: JSON keeps its types, CSV has text only.
#[derive(Clone, Copy, Debug)]
pub enum Raw<'a> {
    Text(&'a str),
    Int(i64),
    /// JSON `null`, an empty CSV cell, or an absent field.
    Absent,
    /// Any other JSON value (a float, a boolean, an object...).
    Other,
}

impl<'a> Raw<'a> {
    pub fn of_json(value: &'a serde_json::Value) -> Self {
        match value {
            serde_json::Value::String(text) => Raw::Text(text),
            serde_json::Value::Number(n) => n.as_i64().map_or(Raw::Other, Raw::Int),
            serde_json::Value::Null => Raw::Absent,
            _ => Raw::Other,
        }
    }
    pub fn of_cell(cell: &'a str) -> Self {
        if cell.is_empty() {
            Raw::Absent
        } else {
            Raw::Text(cell)
        }
    }
}

/// A row's fields by name.
pub trait Row {
    fn field(&self, name: &str) -> Raw<'_>;
    /// The first field the row has that its kind does not know, if any.
    fn unknown_field(&self, known: &[&str]) -> Option<String>;
}

impl Row for serde_json::Map<String, serde_json::Value> {
    fn field(&self, name: &str) -> Raw<'_> {
        self.get(name).map_or(Raw::Absent, Raw::of_json)
    }
    fn unknown_field(&self, known: &[&str]) -> Option<String> {
        self.keys()
            .find(|k| !known.contains(&k.as_str()))
            // A key is the caller's text: cut, and kept printable, before it is echoed.
            .map(|k| k.chars().filter(|c| !c.is_control()).take(64).collect())
    }
}

/// Why a row was refused: the field at fault and a code, never the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
    fn required(field: &str) -> Self {
        Self::new(field, "required", format!("`{field}` is required."))
    }
    fn invalid(field: &str, expected: &str) -> Self {
        Self::new(field, "invalid", format!("`{field}` must be {expected}."))
    }
}

/// A customer row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRow {
    pub external_id: String,
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2, upper-case.
    pub country: Option<String>,
    pub city: Option<String>,
    pub created_at: i64,
}

/// A plan row: a recurring price. Stored per custom integration; events name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRow {
    pub external_id: String,
    pub name: String,
    /// Per unit and interval, minor units.
    pub amount: i64,
    /// ISO 4217, lower-case.
    pub currency: String,
    pub interval: Interval,
    pub interval_count: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Start,
    Reactivate,
    Change,
    Cancel,
}

impl EventType {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "start" => Some(Self::Start),
            "change" => Some(Self::Change),
            "cancel" => Some(Self::Cancel),
            "reactivate" => Some(Self::Reactivate),
            _ => None,
        }
    }
    /// Whether the event puts a plan in force (and so needs one).
    pub fn sets_plan(self) -> bool {
        self != Self::Cancel
    }
}

/// A subscription event row, as posted: `plan` names a plan row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub external_id: String,
    pub customer: String,
    pub subscription: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub at: i64,
    pub plan: Option<String>,
    pub quantity: Option<u64>,
}

/// A payment row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRow {
    pub external_id: String,
    pub customer: String,
    pub amount: i64,
    pub currency: String,
    /// `succeeded` or `failed`.
    pub status: String,
    pub at: i64,
    pub payment_method_type: Option<String>,
    pub card_brand: Option<String>,
}

/// A refund row: part or all of a payment given back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRow {
    pub external_id: String,
    pub payment: String,
    pub amount: i64,
    pub at: i64,
}

/// A row of any kind, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportRow {
    Customer(CustomerRow),
    Plan(PlanRow),
    Event(EventRow),
    Payment(PaymentRow),
    Refund(RefundRow),
}

impl ImportRow {
    pub fn external_id(&self) -> &str {
        match self {
            ImportRow::Customer(r) => &r.external_id,
            ImportRow::Plan(r) => &r.external_id,
            ImportRow::Event(r) => &r.external_id,
            ImportRow::Payment(r) => &r.external_id,
            ImportRow::Refund(r) => &r.external_id,
        }
    }
}

/// Reads and checks one row of `kind`: the row, or the first field at fault.
pub fn parse_row(kind: ImportKind, row: &dyn Row) -> Result<ImportRow, FieldError> {
    if let Some(field) = row.unknown_field(kind.fields()) {
        return Err(FieldError::new(
            &field,
            "unknown_field",
            format!("`{field}` is not a field of {}.", kind.as_str()),
        ));
    }
    let f = Fields(row);
    let external_id = f.external_id("external_id")?;
    Ok(match kind {
        ImportKind::Customers => ImportRow::Customer(CustomerRow {
            external_id,
            email: f.optional("email", email)?,
            country: f.optional("country", country)?,
            city: f.optional("city", city)?,
            created_at: f.time("created_at")?,
        }),
        ImportKind::Plans => ImportRow::Plan(PlanRow {
            external_id,
            name: f.required("name", |t| {
                text_of(t, 1, 120).ok_or("1 to 120 printable characters")
            })?,
            amount: f.amount("amount")?,
            currency: f.required("currency", currency)?,
            interval: f.required("interval", interval)?,
            interval_count: f.required_int(
                "interval_count",
                |n| u32::try_from(n).ok().filter(|n| (1..=365).contains(n)),
                "an integer from 1 to 365",
            )?,
        }),
        ImportKind::SubscriptionEvents => {
            let kind = f.required("type", |t| {
                EventType::parse(t).ok_or("one of start, change, cancel, reactivate")
            })?;
            let event = EventRow {
                external_id,
                customer: f.external_id("customer")?,
                subscription: f.external_id("subscription")?,
                kind,
                at: f.time("at")?,
                plan: match f.0.field("plan") {
                    Raw::Absent => None,
                    _ => Some(f.external_id("plan")?),
                },
                quantity: f.optional_int(
                    "quantity",
                    |n| {
                        u64::try_from(n)
                            .ok()
                            .filter(|n| (1..=1_000_000).contains(n))
                    },
                    "an integer from 1 to 1,000,000",
                )?,
            };
            if kind.sets_plan() {
                if event.plan.is_none() {
                    return Err(FieldError::required("plan"));
                }
                if event.quantity.is_none() {
                    return Err(FieldError::required("quantity"));
                }
            }
            ImportRow::Event(event)
        }
        ImportKind::Payments => ImportRow::Payment(PaymentRow {
            external_id,
            customer: f.external_id("customer")?,
            amount: f.amount("amount")?,
            currency: f.required("currency", currency)?,
            status: f.required("status", |t| match t {
                "succeeded" | "failed" => Ok(t.to_owned()),
                _ => Err("succeeded or failed"),
            })?,
            at: f.time("at")?,
            payment_method_type: f.optional("payment_method_type", token)?,
            card_brand: f.optional("card_brand", token)?,
        }),
        ImportKind::Refunds => ImportRow::Refund(RefundRow {
            external_id,
            payment: f.external_id("payment")?,
            amount: f.amount("amount")?,
            at: f.time("at")?,
        }),
    })
}

/// The checks of one row's fields.
struct Fields<'a>(&'a dyn Row);

impl Fields<'_> {
    fn text(&self, name: &str) -> Result<Option<&str>, FieldError> {
        match self.0.field(name) {
            Raw::Text(t) => Ok(Some(t)),
            Raw::Absent => Ok(None),
            Raw::Int(_) | Raw::Other => Err(FieldError::invalid(name, "a string")),
        }
    }

    fn required<T>(
        &self,
        name: &str,
        check: impl Fn(&str) -> Result<T, &'static str>,
    ) -> Result<T, FieldError> {
        let text = self.text(name)?.ok_or_else(|| FieldError::required(name))?;
        check(text).map_err(|expected| FieldError::invalid(name, expected))
    }

    fn optional<T>(
        &self,
        name: &str,
        check: impl Fn(&str) -> Result<T, &'static str>,
    ) -> Result<Option<T>, FieldError> {
        match self.text(name)? {
            None => Ok(None),
            Some(text) => check(text)
                .map(Some)
                .map_err(|expected| FieldError::invalid(name, expected)),
        }
    }

    fn external_id(&self, name: &str) -> Result<String, FieldError> {
        self.required(name, |t| {
            valid_external_id(t)
                .then(|| t.to_owned())
                .ok_or("1 to 255 printable characters without `#`")
        })
    }

    /// An integer: a JSON number, or its decimal text (CSV).
    fn int(&self, name: &str) -> Result<Option<i64>, FieldError> {
        match self.0.field(name) {
            Raw::Int(n) => Ok(Some(n)),
            Raw::Text(t) => t
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| FieldError::invalid(name, "an integer")),
            Raw::Absent => Ok(None),
            Raw::Other => Err(FieldError::invalid(name, "an integer")),
        }
    }

    fn optional_int<T>(
        &self,
        name: &str,
        check: impl Fn(i64) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, FieldError> {
        match self.int(name)? {
            None => Ok(None),
            Some(n) => check(n)
                .map(Some)
                .ok_or_else(|| FieldError::invalid(name, expected)),
        }
    }

    fn required_int<T>(
        &self,
        name: &str,
        check: impl Fn(i64) -> Option<T>,
        expected: &str,
    ) -> Result<T, FieldError> {
        self.optional_int(name, check, expected)?
            .ok_or_else(|| FieldError::required(name))
    }

    /// Minor units, 0 or more (up to a trillion: beyond any one payment or price).
    fn amount(&self, name: &str) -> Result<i64, FieldError> {
        self.required_int(
            name,
            |n| (0..=1_000_000_000_000).contains(&n).then_some(n),
            "an integer amount in minor units, 0 or more",
        )
    }

    /// RFC 3339 text or Unix seconds (a number, or its text).
    fn time(&self, name: &str) -> Result<i64, FieldError> {
        const EXPECTED: &str = "an RFC 3339 time or Unix seconds, from 1970 to 2100";
        let seconds = match self.0.field(name) {
            Raw::Int(n) => n,
            Raw::Text(t) => match t.trim().parse::<i64>() {
                Ok(n) => n,
                Err(_) => chrono::DateTime::parse_from_rfc3339(t.trim())
                    .map_err(|_| FieldError::invalid(name, EXPECTED))?
                    .timestamp(),
            },
            Raw::Absent => return Err(FieldError::required(name)),
            Raw::Other => return Err(FieldError::invalid(name, EXPECTED)),
        };
        // Up to 2100-01-01: a millisecond time sent as seconds is refused, not misread.
        (0..=4_102_444_800)
            .contains(&seconds)
            .then_some(seconds)
            .ok_or_else(|| FieldError::invalid(name, EXPECTED))
    }
}

/// An external id as the caller may send it: 1 to 255 printable characters, no `#`.
pub fn valid_external_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.chars().all(|c| !c.is_control() && c != '#')
}

/// The stored record id of an external id (see the module's notes).
pub fn record_id(external_id: &str) -> String {
    let mut id = String::with_capacity(external_id.len());
    for byte in external_id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            id.push(char::from(byte));
        } else {
            id.push_str(&format!("_{byte:02X}"));
        }
    }
    if id.len() > MAX_RECORD_ID {
        return format!("_h{}", hex::encode(Sha256::digest(external_id.as_bytes())));
    }
    id
}

/// Printable text of `min..=max` characters, trimmed.
fn text_of(text: &str, min: usize, max: usize) -> Option<String> {
    let text = text.trim();
    let count = text.chars().count();
    ((min..=max).contains(&count) && !text.chars().any(char::is_control)).then(|| text.to_owned())
}

fn email(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    match text.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && text.len() <= 254
                && !text.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(text.to_owned())
        }
        _ => Err("an e-mail address"),
    }
}

fn country(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    (text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| text.to_ascii_uppercase())
        .ok_or("an ISO 3166-1 alpha-2 country code (e.g. DE)")
}

fn city(text: &str) -> Result<String, &'static str> {
    text_of(text, 1, 100).ok_or("1 to 100 printable characters")
}

fn currency(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    (text.len() == 3 && text.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| text.to_ascii_lowercase())
        .ok_or("an ISO 4217 currency code (e.g. EUR)")
}

fn interval(text: &str) -> Result<Interval, &'static str> {
    match text.trim() {
        "day" => Ok(Interval::Day),
        "week" => Ok(Interval::Week),
        "month" => Ok(Interval::Month),
        "year" => Ok(Interval::Year),
        _ => Err("one of day, week, month, year"),
    }
}

/// A lower-case word such as `card` or `visa`.
fn token(text: &str) -> Result<String, &'static str> {
    let text = text.trim().to_ascii_lowercase();
    (!text.is_empty()
        && text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
    .then_some(text)
    .ok_or("1 to 32 of a-z, 0-9 and _")
}

#[cfg(test)]
mod tests;
