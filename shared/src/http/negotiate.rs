//! Content negotiation of the downloadable replies, in one place: every series and list
//! of the `query` function, and the admin's users and audit log, is served as JSON (the
//! default) or as CSV (issue 18, item 6).
//!
//! The choice, in order:
//! 1. `?format=json|csv` when given: an explicit choice in the URL wins over `Accept`
//!    (a browser following a download link sends `Accept: text/html,…,*/*;q=0.8`).
//!    Another value is 400 `invalid_request` naming `format`.
//! 2. Else the `Accept` header, read as RFC 9110 §12.5.1 says: each media range with
//!    its `q` weight (default 1), and for each of `application/json` and `text/csv` the
//!    weight of the most specific range that matches it (`text/csv` over `text/*` over
//!    `*/*`). The higher weight wins; a tie goes to JSON (the API's default). When
//!    both weigh 0 (`Accept: text/html`, or `application/json;q=0`) the route has no
//!    representation the client takes: 406 `not_acceptable` in the error shape, as
//!    §15.5.7 allows, rather than a JSON body the client said it cannot use. A range
//!    that does not parse is ignored; no `Accept` at all means `*/*`.
//!
//! The extractor also keeps what the CSV reply needs besides its body: the route's name
//! for the file name, the request's URI for a list's `Link: rel="next"`, and today's
//! date (from the app's clock, so tests with a moved clock name the file for their day).

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri, header};
use chrono::NaiveDate;
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::query::QueryPairs;
use crate::ports::Clock;
use crate::services::error::ErrorCode;

/// A representation a downloadable route serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[schema(as = ReplyFormatName)]
#[schema(rename_all = "snake_case")]
pub enum Format {
    Json,
    /// RFC 4180, with a header row; money in major units with its currency in a column.
    Csv,
}

/// The negotiated representation of a reply, with what a CSV reply needs to be named.
#[derive(Clone, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReplyFormat {
    /// `json` (default) or `csv`. Wins over `Accept` (`application/json`, `text/csv`,
    /// with `q` weights).
    #[param(value_type = Option<Format>, inline, nullable = false)]
    pub format: Format,
    #[param(ignore)]
    pub(crate) uri: Uri,
    #[param(ignore)]
    pub(crate) today: NaiveDate,
}

impl<S> FromRequestParts<S> for ReplyFormat
where
    S: Send + Sync,
    Arc<dyn Clock>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let pairs = QueryPairs::of(parts);
        let format = match pairs.first("format") {
            Some(text) => parse_format(text)?,
            None => from_accept(&parts.headers)?,
        };
        let clock = Arc::<dyn Clock>::from_ref(state);
        Ok(Self {
            format,
            uri: parts.uri.clone(),
            today: clock.now().date_naive(),
        })
    }
}

fn parse_format(text: &str) -> Result<Format, ApiError> {
    // Exactly the document's enum: `CSV` is refused like any other value.
    match text {
        "json" => Ok(Format::Json),
        "csv" => Ok(Format::Csv),
        // Named without the client's value: a message never echoes input.
        _ => Err(ApiError::invalid_field(
            "format",
            "`format` must be json or csv.",
        )),
    }
}

/// The representation `Accept` prefers (module doc, rule 2).
fn from_accept(headers: &HeaderMap) -> Result<Format, ApiError> {
    let ranges: Vec<(mime::Mime, f32)> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(media_range)
        .collect();
    if ranges.is_empty() {
        return Ok(Format::Json);
    }
    let json = weight(&ranges, "application", "json");
    let csv = weight(&ranges, "text", "csv");
    if json <= 0.0 && csv <= 0.0 {
        Err(ApiError::rejected(ErrorCode::NotAcceptable))
    } else if csv > json {
        Ok(Format::Csv)
    } else {
        Ok(Format::Json)
    }
}

/// One media range with its weight; `None` when it does not parse or its `q` is not a
/// number from 0 to 1.
fn media_range(text: &str) -> Option<(mime::Mime, f32)> {
    let range: mime::Mime = text.trim().parse().ok()?;
    let q = match range.get_param("q") {
        None => 1.0,
        Some(q) => q
            .as_str()
            .parse::<f32>()
            .ok()
            .filter(|q| (0.0..=1.0).contains(q))?,
    };
    Some((range, q))
}

/// The weight of the most specific range matching `kind/subtype`; 0 when none does.
fn weight(ranges: &[(mime::Mime, f32)], kind: &str, subtype: &str) -> f32 {
    ranges
        .iter()
        .filter_map(|(range, q)| {
            let kind_matches = range.type_() == mime::STAR || range.type_() == kind;
            let subtype_matches = range.subtype() == mime::STAR || range.subtype() == subtype;
            let specificity = match (range.type_() == mime::STAR, range.subtype() == mime::STAR) {
                (true, _) => 0,
                (false, true) => 1,
                (false, false) => 2,
            };
            (kind_matches && subtype_matches).then_some((specificity, *q))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map_or(0.0, |(_, q)| q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn negotiated(accept: &str) -> Result<Format, String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        from_accept(&headers).map_err(|e| e.error_code().parts().1.to_owned())
    }

    #[test]
    fn accept_is_read_as_weighted_media_ranges() {
        assert_eq!(negotiated("text/csv"), Ok(Format::Csv));
        assert_eq!(negotiated("text/*"), Ok(Format::Csv));
        assert_eq!(negotiated("application/json"), Ok(Format::Json));
        assert_eq!(negotiated("*/*"), Ok(Format::Json));
        // A browser's: JSON through */*, nothing better for CSV: the default.
        assert_eq!(
            negotiated("text/html,application/xhtml+xml,*/*;q=0.8"),
            Ok(Format::Json)
        );
        assert_eq!(negotiated("text/csv, */*;q=0.1"), Ok(Format::Csv));
        assert_eq!(
            negotiated("application/json;q=0.5, text/csv;q=0.9"),
            Ok(Format::Csv)
        );
        // A tie goes to JSON.
        assert_eq!(negotiated("text/csv, application/json"), Ok(Format::Json));
        // The most specific range rules: text/csv;q=0 refuses CSV despite text/*.
        assert_eq!(
            negotiated("text/*, text/csv;q=0, application/json;q=0.1"),
            Ok(Format::Json)
        );
        assert_eq!(negotiated("TEXT/CSV"), Ok(Format::Csv));
    }

    #[test]
    fn an_accept_allowing_neither_json_nor_csv_is_not_acceptable() {
        assert_eq!(negotiated("text/html"), Err("not_acceptable".to_owned()));
        assert_eq!(
            negotiated("application/json;q=0"),
            Err("not_acceptable".to_owned())
        );
        // Nothing parses: as if no Accept had been sent.
        assert_eq!(negotiated("garbage;;;"), Ok(Format::Json));
    }

    #[test]
    fn format_names_json_or_csv_and_nothing_else() {
        assert_eq!(parse_format("csv").ok(), Some(Format::Csv));
        assert_eq!(parse_format("json").ok(), Some(Format::Json));
        assert!(parse_format("JSON").is_err());
        let err = parse_format("xml").unwrap_err();
        assert_eq!(err.error_code().parts().1, "invalid_request");
    }
}
