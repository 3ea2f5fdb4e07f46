//! CSV downloads of the `query` function's series and lists and of the admin's users and
//! audit log (issue 18, item 6; docs/api.md, "CSV downloads").
//!
//! A CSV reply is a projection of exactly the DTO the role gets as JSON: a handler
//! builds its reply as before (viewers' suppression applied, no customer data for
//! them), and [`Negotiated`] serves that same value as JSON or as CSV. So what a role
//! may see carries over to the download by construction; there is no second query.
//!
//! Each downloadable DTO says how it is a table by implementing [`ToCsv`]: a header row
//! and typed [`Cell`]s. Typed, because the DTO knows which of its integers are money:
//! a [`Cell::Money`] is written in major units as an exact decimal
//! (`domain::metrics::major_units`: JPY without decimals, EUR with 2, BHD with 3; no
//! float), each row carrying its currency in a column of its own; a ratio is a decimal
//! number, a null an empty field. The `csv` crate does the RFC 4180 quoting.
//!
//! Formula injection (OWASP, "CSV Injection"): a spreadsheet runs a field starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return as a formula. Text we do not write
//! ourselves (customer ids, e-mails, plan and country names: [`Cell::Text`]) gets a
//! leading `'` when it starts so; numbers are written by us and stay numbers (a
//! negative amount is `-19.99`, not a formula).
//!
//! A list reply (`next_cursor`) keeps the JSON paging (`limit` up to 200, `cursor`): the
//! next page's URL is the `Link: <…>; rel="next"` header (RFC 8288), the same request
//! with `cursor` set. A file is named `tally-<route>-<date>.csv` from the path (e.g.
//! `tally-metrics-mrr-2026-12-03.csv`): no tenant or personal datum in a file name.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use super::error::ApiError;
use super::negotiate::{Format, ReplyFormat};
use crate::domain::metrics::major_units;

/// The media type of a CSV reply (RFC 4180 §3, with its optional `header` parameter).
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8; header=present";

/// One field of a CSV row.
#[derive(Clone)]
pub enum Cell<'a> {
    /// Text from the data (ids, e-mails, names): neutralised against formula injection.
    Text(Cow<'a, str>),
    /// A count or another whole number.
    Whole(i64),
    /// Money in minor units of `currency`, written in major units.
    Money {
        minor: i64,
        currency: &'a str,
    },
    /// A ratio; `None` (no base) is an empty field.
    Ratio(Option<f64>),
    Date(NaiveDate),
    Time(DateTime<Utc>),
    Bool(bool),
    Empty,
}

impl<'a> Cell<'a> {
    pub fn text(text: &'a str) -> Self {
        Self::Text(Cow::Borrowed(text))
    }
    pub fn opt_text(text: Option<&'a str>) -> Self {
        text.map_or(Self::Empty, Self::text)
    }
    pub fn money(minor: i64, currency: &'a str) -> Self {
        Self::Money { minor, currency }
    }
    pub fn opt_money(minor: Option<i64>, currency: &'a str) -> Self {
        minor.map_or(Self::Empty, |minor| Self::money(minor, currency))
    }
    pub fn opt_whole(value: Option<impl Into<i64>>) -> Self {
        value.map_or(Self::Empty, |v| Self::Whole(v.into()))
    }

    fn render(&self) -> Cow<'_, str> {
        match self {
            Self::Text(text) => neutralised(text),
            Self::Whole(n) => n.to_string().into(),
            Self::Money { minor, currency } => major_units(*minor, currency).into(),
            // Rust writes an f64 in the shortest form that reads back as the same value,
            // never in exponent notation: a number any spreadsheet reads.
            Self::Ratio(Some(r)) if r.is_finite() => r.to_string().into(),
            Self::Ratio(_) | Self::Empty => "".into(),
            Self::Date(d) => d.to_string().into(),
            // As serde writes it in the JSON reply (sub-seconds when there are any).
            Self::Time(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true).into(),
            Self::Bool(b) => if *b { "true" } else { "false" }.into(),
        }
    }
}

/// Text a spreadsheet would run as a formula, with a leading `'` (OWASP's advice);
/// any other text as it is.
pub fn neutralised(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// A reply that can be downloaded as a table.
pub trait ToCsv {
    /// The route's columns, in order; every row has as many cells.
    fn header(&self) -> Vec<&'static str>;
    /// The rows, in the order of the JSON reply.
    fn rows(&self) -> Vec<Vec<Cell<'_>>>;
    /// A list's cursor of the next page (its JSON `next_cursor`).
    fn next_cursor(&self) -> Option<&str> {
        None
    }
}

/// The table as RFC 4180 text: header row, then the rows, CRLF line ends.
pub fn to_csv(table: &impl ToCsv) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    out.write_record(table.header())?;
    for row in table.rows() {
        out.write_record(row.iter().map(|cell| cell.render().into_owned()))?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// A reply served as the client negotiated ([`ReplyFormat`]): the DTO as JSON, or the
/// same DTO as CSV.
pub struct Negotiated<T> {
    how: ReplyFormat,
    body: T,
}

impl ReplyFormat {
    /// Serves `body` in the negotiated representation.
    pub fn reply<T>(self, body: T) -> Negotiated<T> {
        Negotiated { how: self, body }
    }

    /// `tally-<route>-<date>.csv`: the path's segments after `/v1/`, joined by `-`, of
    /// the characters a route name has (the path was matched by a route already).
    fn file_name(&self) -> String {
        let route: String = self
            .uri
            .path()
            .trim_start_matches("/v1/")
            .trim_matches('/')
            .chars()
            .map(|c| if c == '/' { '-' } else { c })
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        format!("tally-{route}-{}.csv", self.today)
    }

    /// The same request with `cursor` set to the next page's.
    fn next_page(&self, cursor: &str) -> String {
        let query = self.uri.query().unwrap_or_default();
        let mut next = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if key != "cursor" {
                next.append_pair(&key, &value);
            }
        }
        next.append_pair("cursor", cursor);
        format!("{}?{}", self.uri.path(), next.finish())
    }
}

impl<T: Serialize + ToCsv> IntoResponse for Negotiated<T> {
    fn into_response(self) -> Response {
        let Negotiated { how, body } = self;
        let mut response = match how.format {
            Format::Json => Json(&body).into_response(),
            Format::Csv => match to_csv(&body) {
                Ok(bytes) => {
                    let mut response = bytes.into_response();
                    let headers = response.headers_mut();
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(CSV_CONTENT_TYPE),
                    );
                    let disposition = format!("attachment; filename=\"{}\"", how.file_name());
                    if let Ok(value) = HeaderValue::from_str(&disposition) {
                        headers.insert(header::CONTENT_DISPOSITION, value);
                    }
                    let link = body
                        .next_cursor()
                        .map(|cursor| format!("<{}>; rel=\"next\"", how.next_page(cursor)));
                    if let Some(value) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
                        headers.insert(header::LINK, value);
                    }
                    response
                }
                Err(err) => return ApiError::internal(err).into_response(),
            },
        };
        // The representation depends on `Accept`: caches must key on it.
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Table(Vec<Vec<Cell<'static>>>);

    impl ToCsv for Table {
        fn header(&self) -> Vec<&'static str> {
            vec!["name", "amount", "currency", "ratio"]
        }
        fn rows(&self) -> Vec<Vec<Cell<'_>>> {
            self.0
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|c| match c {
                            Cell::Text(t) => Cell::Text(Cow::Borrowed(t.as_ref())),
                            Cell::Money { minor, currency } => Cell::money(*minor, currency),
                            Cell::Ratio(r) => Cell::Ratio(*r),
                            _ => Cell::Empty,
                        })
                        .collect()
                })
                .collect()
        }
    }

    /// OWASP "CSV Injection": fields beginning with `=`, `+`, `-`, `@`, tab or carriage
    /// return are prefixed with a single quote.
    #[test]
    fn text_that_a_spreadsheet_would_run_is_neutralised_and_numbers_are_not() {
        for formula in ["=1+1", "+49 30", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralised(formula), format!("'{formula}"));
        }
        assert_eq!(neutralised("cus_123"), "cus_123");
        assert_eq!(neutralised(""), "");
        assert_eq!(Cell::money(-1999, "eur").render(), "-19.99");
        assert_eq!(Cell::Whole(-3).render(), "-3");
        assert_eq!(Cell::Ratio(Some(-0.25)).render(), "-0.25");
        assert_eq!(Cell::Ratio(None).render(), "");
    }

    #[test]
    fn a_table_is_rfc_4180_with_a_header_row() {
        let table = Table(vec![
            vec![
                Cell::text("Pro, \"annual\"\nplan"),
                Cell::money(500, "jpy"),
                Cell::text("jpy"),
                Cell::Ratio(Some(0.125)),
            ],
            vec![
                Cell::text("=cmd"),
                Cell::money(-1234, "bhd"),
                Cell::text("bhd"),
                Cell::Ratio(None),
            ],
        ]);
        let text = String::from_utf8(to_csv(&table).unwrap()).unwrap();
        assert_eq!(
            text,
            "name,amount,currency,ratio\r\n\
             \"Pro, \"\"annual\"\"\nplan\",500,jpy,0.125\r\n\
             '=cmd,-1.234,bhd,\r\n"
        );
    }
}
