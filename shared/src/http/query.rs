//! Query-string extraction in the API's error shape, and the list conventions of API.md:
//! `?limit=` (default 50, at most 200) and `?cursor=`, replies `{data, next_cursor}`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::ports::Cursor;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

/// The query string deserialized as `T`; errors name the parameter, never echo it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_pairs(query));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|err| {
                let field = err.path().to_string();
                let text = err.inner().to_string();
                let field = match text.strip_prefix("missing field `") {
                    Some(rest) => rest.split('`').next().unwrap_or_default().to_owned(),
                    None if field == "." => "query".to_owned(),
                    None => field,
                };
                ApiError::invalid_field(
                    &field,
                    format!("Query parameter `{field}` is missing or invalid."),
                )
            })
    }
}

fn form_urlencoded_pairs(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// `?limit&cursor` of a list route.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl ListParams {
    /// The limit, checked: 1 to 200, default 50.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match &self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid_field(
                    "limit",
                    "`limit` must be a whole number from 1 to 200.",
                )),
            },
        }
    }
    /// The decoded cursor, if any.
    pub fn cursor(&self) -> Result<Option<Cursor>, ApiError> {
        self.cursor
            .as_deref()
            .map(|c| {
                Cursor::decode(c)
                    .map_err(|_| ApiError::invalid_field("cursor", "The cursor is not valid."))
            })
            .transpose()
    }
}
