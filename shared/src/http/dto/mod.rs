//! The wire: every JSON body the API reads or writes, as a type carrying its OpenAPI
//! schema (docs/api.md).
//!
//! Handlers translate between these types and the values of the use cases (the `From`
//! impls here), so the contract lives in one place: a service or domain type cannot
//! change a reply without a compile error here, and `openapi.yaml` is generated from
//! these same types, so the document cannot drift from what is served.
//!
//! Conventions the types follow: a field that is always sent is `required` even when it
//! may be `null` (`#[schema(required = true)]` on an `Option`); a field that is left out
//! when empty is neither required nor nullable.

pub mod account;
pub mod admin;
pub mod admin_tables;
pub mod analytics;
pub mod auth;
pub mod cohort_tables;
pub mod cohorts;
pub mod customers;
pub mod digest;
pub mod error;
pub mod forecast;
pub mod integrations;
pub mod metrics;
pub mod segments;
pub mod series_table;
pub mod summary_table;
pub mod support;
pub mod tables;

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::ids::{
    EntryId, ExportId, GrantId, IntegrationId, OperatorId, SegmentId, SessionId, TenantId, UserId,
};

/// Every id of the API is a canonical lower-case UUID: one `Uuid` schema for them all.
fn uuid_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uuid".to_owned())))
        .into()
}

macro_rules! uuid_ids {
    ($($id:ty),* $(,)?) => {
        $(
            impl PartialSchema for $id {
                fn schema() -> RefOr<Schema> {
                    uuid_schema()
                }
            }
            impl ToSchema for $id {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed("Uuid")
                }
            }
        )*
    };
}

uuid_ids!(
    TenantId,
    UserId,
    SessionId,
    EntryId,
    IntegrationId,
    ExportId,
    OperatorId,
    GrantId,
    SegmentId
);

/// A list reply: one page of `data` and the cursor of the next (API conventions).
macro_rules! list_reply {
    ($(#[$doc:meta])* $name:ident of $item:ty) => {
        $(#[$doc])*
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            /// The cursor of the next page; null on the last.
            #[schema(required = true)]
            pub next_cursor: Option<String>,
        }
    };
}
pub(crate) use list_reply;

/// Unix seconds as an RFC 3339 UTC string, whole seconds (`None` if out of range).
pub fn rfc3339(at: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// An id in a path, parsed: a canonical lower-case UUID of the right kind, or the
/// route answers 404 (an id that does not parse names nothing, docs/api.md).
pub struct PathId<T>(pub T);

/// The ids a path can carry.
pub trait ParseId: Sized {
    fn parse_id(text: &str) -> Option<Self>;
}

macro_rules! path_ids {
    ($($id:ty),* $(,)?) => {
        $(
            impl ParseId for $id {
                fn parse_id(text: &str) -> Option<Self> {
                    <$id>::parse(text)
                }
            }
        )*
    };
}

path_ids!(
    SessionId,
    UserId,
    EntryId,
    IntegrationId,
    ExportId,
    GrantId,
    SegmentId
);

impl<S: Send + Sync, T: ParseId> axum::extract::FromRequestParts<S> for PathId<T> {
    type Rejection = super::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, super::ApiError> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| super::ApiError::NotFound)?;
        T::parse_id(&text)
            .map(PathId)
            .ok_or(super::ApiError::NotFound)
    }
}

impl<T> utoipa::IntoParams for PathId<T> {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        vec![
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(utoipa::openapi::Required::True)
                .description(Some(
                    "A canonical lower-case UUID; anything else is `not_found`.",
                ))
                .schema(Some(uuid_schema()))
                .build(),
        ]
    }
}
