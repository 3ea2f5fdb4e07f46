//! The typed query of the admin reports (sign-in attempts, the audit log): a time range
//! and the attempts' filters.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use utoipa::IntoParams;
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};

use super::error::ApiError;
use super::query::ApiQuery;
use crate::domain::ids::UserId;
use crate::services::security::LoginOutcome;
use crate::services::security_admin::{AttemptFilter, TimeRange};

/// The default reporting window.
const DEFAULT_RANGE_DAYS: i64 = 30;

/// A date or an RFC 3339 time.
fn date_or_time() -> utoipa::openapi::schema::Schema {
    let string = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    AnyOfBuilder::new()
        .item(string(KnownFormat::Date))
        .item(string(KnownFormat::DateTime))
        .build()
        .into()
}

/// `?from&to` of a report, both inclusive.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportRange {
    /// Start, inclusive (a date means its first instant); default 30 days before `to`.
    #[param(schema_with = date_or_time)]
    from: Option<String>,
    /// End, inclusive (a date means its last instant); default now.
    #[param(schema_with = date_or_time)]
    to: Option<String>,
}

/// An RFC 3339 time, or a date (the start of the day for `from`, its end for `to`).
fn parse_time(field: &str, text: &str, end_of_day: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid_field(
            field,
            format!("`{field}` must be a date (YYYY-MM-DD) or an RFC 3339 time."),
        )
    })?;
    let time = if end_of_day {
        NaiveTime::from_hms_milli_opt(23, 59, 59, 999)
    } else {
        Some(NaiveTime::MIN)
    };
    Ok(date.and_time(time.unwrap_or(NaiveTime::MIN)).and_utc())
}

impl ReportRange {
    fn range(&self, now: DateTime<Utc>) -> Result<TimeRange, ApiError> {
        let to = self
            .to
            .as_deref()
            .map(|t| parse_time("to", t, true))
            .transpose()?
            .unwrap_or(now);
        let from = self
            .from
            .as_deref()
            .map(|t| parse_time("from", t, false))
            .transpose()?
            .unwrap_or(to - Duration::days(DEFAULT_RANGE_DAYS));
        if from > to {
            return Err(ApiError::invalid_field(
                "from",
                "`from` must not be after `to`.",
            ));
        }
        Ok(TimeRange { from, to })
    }
}

/// The checked range of a report; the defaults count back from the service's clock.
pub struct Range(pub TimeRange);

impl<S> FromRequestParts<S> for Range
where
    S: Send + Sync,
    std::sync::Arc<dyn crate::ports::Clock>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(range) = ApiQuery::<ReportRange>::from_request_parts(parts, state).await?;
        let clock = std::sync::Arc::<dyn crate::ports::Clock>::from_ref(state);
        range.range(clock.now()).map(Range)
    }
}

/// `?outcome&user_id` of the sign-in attempts.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptParams {
    #[param(value_type = Option<LoginOutcome>, nullable = false)]
    outcome: Option<String>,
    #[param(value_type = Option<String>, format = "uuid", nullable = false)]
    user_id: Option<String>,
}

/// The checked filter of the sign-in attempts.
pub struct Attempts(pub AttemptFilter);

impl<S: Send + Sync> FromRequestParts<S> for Attempts {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(params) = ApiQuery::<AttemptParams>::from_request_parts(parts, state).await?;
        let outcome = params
            .outcome
            .as_deref()
            .map(|o| {
                let text: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
                    o.into_deserializer();
                LoginOutcome::deserialize(text)
                    .map_err(|_| ApiError::invalid_field("outcome", "Unknown outcome."))
            })
            .transpose()?;
        let user_id = params
            .user_id
            .as_deref()
            .map(|u| {
                UserId::parse(u).ok_or_else(|| ApiError::invalid_field("user_id", "Not a user id."))
            })
            .transpose()?;
        Ok(Self(AttemptFilter { outcome, user_id }))
    }
}
