//! The typed query of the `query` function's routes (docs/api.md, "query function"):
//! `from`, `to`, `as_of`, `interval`, `currency`, `filter[<dimension>]=<value>`
//! (repeatable), `segment`, `group_by`, and the customer list's `sort`, `limit`, `cursor`.
//!
//! Each parameter is its own extractor, so a handler's signature says what it reads and
//! in which order a bad value is reported; every one is checked before the snapshot is
//! read (bad input is a 400 even before a first sync). Parameters a route does not know
//! are ignored, and a parameter given twice is read from its first value.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use chrono::{Datelike, Months, NaiveDate};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::query::{PageRequest, QueryPairs};
use crate::domain::metrics::{CohortInterval, Compare, Dimension, Filter, Metric, SeriesInterval};
use crate::services::analytics_query::Currency;
use crate::services::custom_segments::{SegmentRef, SegmentSlice};
use crate::services::customer_query::{CustomerSelection, CustomerSort};

/// A date, or a whole RFC 3339 time standing for its UTC date; nothing else (a date
/// followed by garbage is refused, not truncated).
fn date(pairs: &QueryPairs, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    pairs
        .first(name)
        .map(|text| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .or_else(|| {
                    chrono::DateTime::parse_from_rfc3339(text)
                        .ok()
                        .map(|at| at.with_timezone(&chrono::Utc).date_naive())
                })
                .ok_or_else(|| {
                    ApiError::invalid_field(name, format!("`{name}` must be a date (YYYY-MM-DD)."))
                })
        })
        .transpose()
}

fn filters(pairs: &QueryPairs) -> Result<Vec<Filter>, ApiError> {
    pairs
        .all()
        .filter_map(|(key, value)| {
            let dimension = key.strip_prefix("filter[")?.strip_suffix(']')?;
            if value.is_empty() {
                // An empty value would match nothing: a client's slip, said plainly.
                return Some(Err(ApiError::invalid_field(
                    "filter",
                    format!("`filter[{dimension}]` needs a value."),
                )));
            }
            Some(Filter::parse(dimension, value).map_err(ApiError::from))
        })
        .collect()
}

/// Implements the extractor by reading the query pairs.
macro_rules! from_pairs {
    ($type:ty, |$pairs:ident| $parse:expr) => {
        impl<S: Send + Sync> FromRequestParts<S> for $type {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
                let $pairs = QueryPairs::of(parts);
                $parse
            }
        }
    };
}

// `filter[<dimension>]=<value>`: one value per dimension, compared case-insensitively.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FilterValues)]
#[allow(dead_code)] // Documents the parameter; `Filters` reads it.
pub struct FilterSchema {
    #[schema(nullable = false, min_length = 1)]
    country: Option<String>,
    #[schema(nullable = false, min_length = 1)]
    city: Option<String>,
    #[schema(nullable = false, min_length = 1)]
    card_brand: Option<String>,
    #[schema(nullable = false, min_length = 1)]
    card_funding: Option<String>,
    #[schema(nullable = false, min_length = 1)]
    payment_method: Option<String>,
    #[schema(nullable = false, min_length = 1)]
    plan: Option<String>,
    #[schema(nullable = false, min_length = 1)]
    currency: Option<String>,
    #[schema(nullable = false, min_length = 1)]
    integration: Option<String>,
}

/// The dimension filters of a query, ANDed.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filters {
    /// `filter[<dimension>]=<value>`, case-insensitive, ANDed (repeatable). An unknown
    /// dimension is 400 `unknown_dimension`, an empty value 400 `invalid_request`;
    /// `filter[city]` is refused (403) for viewers.
    #[param(value_type = Option<FilterSchema>, inline, nullable = false, style = DeepObject, explode)]
    pub filter: Vec<Filter>,
}

from_pairs!(Filters, |pairs| Ok(Self {
    filter: filters(&pairs)?
}));

/// `?segment=`: an RFM segment or a custom segment, on every metric and list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Segment {
    /// An RFM segment (champions, loyal, at_risk, cant_lose, hibernating, new) or the id
    /// of one of the tenant's custom segments (`/v1/segments/custom`): only its
    /// customers. A custom segment's filters are ANDed with `filter[...]`; another
    /// tenant's or a deleted id is 404 `not_found`; any other value is 400.
    #[param(value_type = Option<String>, nullable = false)]
    pub segment: Option<SegmentRef>,
}

from_pairs!(Segment, |pairs| Ok(Self {
    segment: pairs
        .first("segment")
        .map(|text| {
            SegmentRef::parse(text).ok_or_else(|| {
                ApiError::invalid_field(
                    "segment",
                    "`segment` must be an RFM segment (champions, loyal, at_risk, cant_lose, \
                     hibernating, new) or a custom segment's id.",
                )
            })
        })
        .transpose()?,
}));

/// `?group_by=<dimension>`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupBy {
    /// One series per value of this dimension. `city` is refused (403) for viewers.
    #[param(value_type = Option<Dimension>, nullable = false)]
    pub group_by: Option<Dimension>,
}

from_pairs!(GroupBy, |pairs| Ok(Self {
    group_by: pairs.first("group_by").map(str::parse).transpose()?,
}));

/// The intervals, a month by default.
fn interval_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    match <SeriesInterval as utoipa::PartialSchema>::schema() {
        RefOr::T(Schema::Object(mut object)) => {
            object.description = None;
            object.default = Some("month".into());
            Schema::Object(object)
        }
        RefOr::T(other) => other,
        RefOr::Ref(_) => Schema::default(),
    }
}

/// `?interval=`, a month by default.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Interval {
    #[param(schema_with = interval_schema, required = false)]
    pub interval: SeriesInterval,
}

from_pairs!(Interval, |pairs| Ok(Self {
    interval: pairs
        .first("interval")
        .map(str::parse::<SeriesInterval>)
        .transpose()?
        .unwrap_or(SeriesInterval::Month),
}));

/// `?interval=` of the cohorts: month (default) or quarter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CohortPeriod {
    /// The cohorts' period: customers are grouped by the month (or quarter) of their
    /// first payment, and retention is measured at the end of each later one.
    #[param(value_type = Option<CohortInterval>, nullable = false)]
    pub interval: CohortInterval,
}

from_pairs!(CohortPeriod, |pairs| Ok(Self {
    interval: match pairs.first("interval") {
        None => CohortInterval::default(),
        Some(text) => CohortInterval::parse(text).ok_or_else(|| {
            ApiError::invalid_field("interval", "`interval` must be month or quarter.")
        })?,
    },
}));

/// An integer parameter within `range`, or its default when absent.
fn bounded(
    pairs: &QueryPairs,
    name: &str,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
) -> Result<u32, ApiError> {
    match pairs.first(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|value| range.contains(value))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    name,
                    format!(
                        "`{name}` must be a whole number from {} to {}.",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

/// `?months&trailing` of the forecast.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForecastSpan {
    /// Months forecast, 1 to 36 (default 12).
    #[param(minimum = 1, maximum = 36, default = 12, required = false)]
    pub months: u32,
    /// Complete months the rates are measured over, 3 to 24 (default 6).
    #[param(minimum = 3, maximum = 24, default = 6, required = false)]
    pub trailing: u32,
}

from_pairs!(ForecastSpan, |pairs| Ok(Self {
    months: bounded(&pairs, "months", 1..=36, 12)?,
    trailing: bounded(&pairs, "trailing", 3..=24, 6)?,
}));

/// `?from&to`, days. The defaults depend on today, which the handler knows.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DateRange {
    /// First day; default the first day of the month eleven months before `to`.
    #[param(nullable = false)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive; default today.
    #[param(nullable = false)]
    pub to: Option<NaiveDate>,
}

impl DateRange {
    /// The range with its defaults: `to` today, `from` the first day of the month eleven
    /// months before `to` (a year of whole months by default).
    pub fn or_default(self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        let to = self.to.unwrap_or(today);
        let default_from = to
            .checked_sub_months(Months::new(11))
            .and_then(|d| d.with_day(1))
            .unwrap_or(to);
        (self.from.unwrap_or(default_from), to)
    }
}

from_pairs!(DateRange, |pairs| {
    let to = date(&pairs, "to")?;
    let from = date(&pairs, "from")?;
    Ok(Self { from, to })
});

/// `?as_of=`, a day.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// The day (default today).
    #[param(nullable = false)]
    pub as_of: Option<NaiveDate>,
}

from_pairs!(AsOf, |pairs| Ok(Self {
    as_of: date(&pairs, "as_of")?,
}));

/// `?compare=previous|year`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompareTo {
    /// Adds to each point its counterpart in an earlier range and the change to it:
    /// `previous` (the range just before, of as many periods) or `year` (the same
    /// periods a year earlier; 52 weeks for weeks). The summary compares with a month
    /// or a year before `as_of`.
    #[param(value_type = Option<Compare>, nullable = false)]
    pub compare: Option<Compare>,
}

from_pairs!(CompareTo, |pairs| Ok(Self {
    compare: pairs
        .first("compare")
        .map(|text| {
            text.parse::<Compare>().map_err(|()| {
                ApiError::invalid_field("compare", "`compare` must be previous or year.")
            })
        })
        .transpose()?,
}));

/// `?currency=`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestedCurrency {
    /// The currency of the reply (ISO 4217, any case). Every currency's amounts are
    /// converted into it, each movement at the ECB euro reference rate of its own day
    /// (the tenant's stored rates for currencies the ECB does not publish); a currency
    /// with no rate is listed under `unconverted`. Default: the tenant's reporting
    /// currency (`/v1/settings/reporting-currency`). With `filter[currency]=X` and
    /// `currency=X`, a reply is X's own, unconverted series.
    #[param(value_type = Option<String>, nullable = false, pattern = "^[A-Za-z]{3}$")]
    pub currency: Option<Currency>,
}

from_pairs!(RequestedCurrency, |pairs| Ok(Self {
    currency: pairs
        .first("currency")
        .map(|text| {
            Currency::parse(text).ok_or_else(|| {
                ApiError::invalid_field(
                    "currency",
                    "`currency` must be an ISO 4217 code such as eur.",
                )
            })
        })
        .transpose()?,
}));

/// The metric of `/v1/metrics/{name}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MetricName {
    pub name: Metric,
}

impl<S: Send + Sync> FromRequestParts<S> for MetricName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        Ok(Self {
            name: name.parse()?,
        })
    }
}

/// The customer list's query: a page, filters and a sort (its segment is [`Segment`]).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// Descending; default `mrr`.
    #[param(value_type = Option<CustomerSortName>, inline, nullable = false)]
    pub sort: CustomerSort,
    #[param(ignore)]
    pub page: PageRequest,
    #[param(ignore)]
    pub filters: Vec<Filter>,
}

impl CustomerListQuery {
    /// The selection of the resolved slice (the filters given with the segment's).
    pub fn selection(self, slice: SegmentSlice) -> (PageRequest, CustomerSelection) {
        let selection = CustomerSelection {
            segment: slice.rfm,
            sort: self.sort,
            filters: slice.filters,
        };
        (self.page, selection)
    }
}

// The names `CustomerSort::parse` reads (a test below holds the two together).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // Documents `sort`; `CustomerSort::parse` reads it.
pub enum CustomerSortName {
    Mrr,
    Ltv,
    Loyalty,
}

from_pairs!(CustomerListQuery, |pairs| {
    let page = PageRequest::parse(pairs.first("limit"), pairs.first("cursor"))?;
    let filters = filters(&pairs)?;
    let sort = match pairs.first("sort") {
        None => CustomerSort::default(),
        Some(text) => CustomerSort::parse(text).ok_or_else(|| {
            ApiError::invalid_field("sort", "`sort` must be mrr, ltv or loyalty.")
        })?,
    };
    Ok(Self {
        sort,
        page,
        filters,
    })
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_defaults_to_a_year_of_whole_months_ending_today() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let open = DateRange {
            from: None,
            to: None,
        };
        assert_eq!(open.or_default(today), (day(2026, 1, 1), today));
        let to = DateRange {
            from: None,
            to: Some(day(2025, 3, 15)),
        };
        assert_eq!(to.or_default(today), (day(2024, 4, 1), day(2025, 3, 15)));
        let both = DateRange {
            from: Some(day(2025, 1, 1)),
            to: Some(day(2025, 2, 1)),
        };
        assert_eq!(both.or_default(today), (day(2025, 1, 1), day(2025, 2, 1)));
    }

    #[test]
    fn the_sort_names_documented_are_the_sorts_parsed() {
        let documented =
            serde_json::to_value(<CustomerSortName as utoipa::PartialSchema>::schema()).unwrap();
        let names: Vec<&str> = CustomerSort::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(documented["enum"], serde_json::to_value(names).unwrap());
    }
}
