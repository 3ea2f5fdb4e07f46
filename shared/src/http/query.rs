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

/// One page of a list a route holds whole, in its stable order (a user's sessions, the
/// allowlist, a snapshot's customers). The cursor carries the key of the last item
/// served, so a page follows that item wherever it now stands; a forged or stale cursor
/// naming no item is a 400, never a silently empty or shifted page.
pub fn page_in_memory<T>(
    items: Vec<T>,
    params: &ListParams,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = params.limit()?;
    let start = match params.cursor()? {
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
    let more = items.len().saturating_sub(start) > limit;
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = if more {
        page.last()
            .map(|item| Cursor::after_sort_key(key(item)).encode())
    } else {
        None
    };
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(limit: Option<&str>, cursor: Option<String>) -> ListParams {
        ListParams {
            limit: limit.map(str::to_owned),
            cursor,
        }
    }

    #[test]
    fn pages_follow_the_last_item_and_end_without_a_cursor() {
        let items: Vec<u32> = (1..=5).collect();
        let key = |n: &u32| n.to_string();
        let (first, next) = page_in_memory(items.clone(), &params(Some("2"), None), key).unwrap();
        assert_eq!(first, vec![1, 2]);
        let (second, next) = page_in_memory(items.clone(), &params(Some("2"), next), key).unwrap();
        assert_eq!(second, vec![3, 4]);
        let (last, next) = page_in_memory(items.clone(), &params(Some("2"), next), key).unwrap();
        assert_eq!((last, next), (vec![5], None));
        let (exact, next) = page_in_memory(items, &params(Some("5"), None), key).unwrap();
        assert_eq!((exact.len(), next), (5, None));
    }

    #[test]
    fn forged_cursors_and_bad_limits_are_refused() {
        let items: Vec<u32> = (1..=3).collect();
        let key = |n: &u32| n.to_string();
        let forged = Some(Cursor::after_sort_key("99").encode());
        for bad in [
            params(None, forged),
            params(None, Some("%%%".into())),
            params(Some("0"), None),
            params(Some("201"), None),
            params(Some("-1"), None),
            params(Some("99999999999999999999999"), None),
        ] {
            assert!(page_in_memory(items.clone(), &bad, key).is_err());
        }
    }
}
