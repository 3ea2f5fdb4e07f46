//! Query-string extraction in the API's error shape, and the list conventions
//! (docs/api.md, "Conventions"): `?limit=` (default 50, at most 200) and `?cursor=`,
//! replies `{data, next_cursor}`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

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
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
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

/// The query string as the analytics routes read it: every pair in order (a
/// `filter[<dimension>]` may repeat), and the first value of any other parameter.
/// Parameters a route does not know are ignored.
pub struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    pub fn of(parts: &Parts) -> Self {
        let raw = parts.uri.query().unwrap_or_default();
        Self(
            form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// `?limit&cursor` as they arrive.
#[derive(Debug, Default, Deserialize)]
struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
}

/// One page of a list: `?limit` (1 to 200, default 50) and `?cursor`, checked.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageRequest {
    /// Page size.
    #[param(value_type = Option<u32>, required = false, nullable = false, minimum = 1, maximum = 200, default = 50)]
    pub limit: usize,
    /// The `next_cursor` of the previous page; a forged cursor is 400 `invalid_request`.
    #[param(value_type = Option<String>, nullable = false)]
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// Checks the two parameters, the limit first.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::invalid_field(
                        "limit",
                        "`limit` must be a whole number from 1 to 200.",
                    ));
                }
            },
        };
        let cursor = cursor
            .map(|c| {
                Cursor::decode(c)
                    .map_err(|_| ApiError::invalid_field("cursor", "The cursor is not valid."))
            })
            .transpose()?;
        Ok(Self { limit, cursor })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(list) = ApiQuery::<ListParams>::from_request_parts(parts, state).await?;
        Self::parse(list.limit.as_deref(), list.cursor.as_deref())
    }
}

/// One page of a list a route holds whole, in its stable order (a user's sessions, the
/// allowlist, a snapshot's customers). The cursor carries the key of the last item
/// served, so a page follows that item wherever it now stands; a forged or stale cursor
/// naming no item is a 400, never a silently empty or shifted page.
pub fn page_in_memory<T>(
    items: Vec<T>,
    page: &PageRequest,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match &page.cursor {
        None => 0,
        Some(cursor) => {
            let last = cursor.last_sort_key();
            items
                .iter()
                .position(|item| key(item) == last)
                .map(|at| at + 1)
                .ok_or_else(|| ApiError::invalid_field("cursor", "The cursor is not valid."))?
        }
    };
    let more = items.len().saturating_sub(start) > page.limit;
    let served: Vec<T> = items.into_iter().skip(start).take(page.limit).collect();
    let next = if more {
        served
            .last()
            .map(|item| Cursor::after_sort_key(key(item)).encode())
    } else {
        None
    };
    Ok((served, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_of(
        items: Vec<u32>,
        limit: Option<&str>,
        cursor: Option<String>,
    ) -> Result<(Vec<u32>, Option<String>), ApiError> {
        let page = PageRequest::parse(limit, cursor.as_deref())?;
        page_in_memory(items, &page, |n: &u32| n.to_string())
    }

    #[test]
    fn pages_follow_the_last_item_and_end_without_a_cursor() {
        let items: Vec<u32> = (1..=5).collect();
        let (first, next) = page_of(items.clone(), Some("2"), None).unwrap();
        assert_eq!(first, vec![1, 2]);
        let (second, next) = page_of(items.clone(), Some("2"), next).unwrap();
        assert_eq!(second, vec![3, 4]);
        let (last, next) = page_of(items.clone(), Some("2"), next).unwrap();
        assert_eq!((last, next), (vec![5], None));
        let (exact, next) = page_of(items, Some("5"), None).unwrap();
        assert_eq!((exact.len(), next), (5, None));
    }

    #[test]
    fn forged_cursors_and_bad_limits_are_refused() {
        let items: Vec<u32> = (1..=3).collect();
        let forged = Some(Cursor::after_sort_key("99").encode());
        for (limit, cursor) in [
            (None, forged),
            (None, Some("%%%".to_owned())),
            (Some("0"), None),
            (Some("201"), None),
            (Some("-1"), None),
            (Some("99999999999999999999999"), None),
        ] {
            assert!(page_of(items.clone(), limit, cursor).is_err());
        }
    }

    #[test]
    fn repeated_filters_are_kept_and_other_parameters_take_their_first_value() {
        let request = axum::http::Request::builder()
            .uri("/x?filter%5Bplan%5D=a&sort=ltv&filter%5Bplan%5D=b&sort=mrr")
            .body(())
            .unwrap();
        let (parts, _) = request.into_parts();
        let pairs = QueryPairs::of(&parts);
        assert_eq!(pairs.first("sort"), Some("ltv"));
        let filters: Vec<_> = pairs.all().filter(|(k, _)| *k == "filter[plan]").collect();
        assert_eq!(filters.len(), 2);
    }
}
