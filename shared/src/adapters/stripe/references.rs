//! What a Stripe listing leaves out, filled in before parsing: the rest of an embedded
//! list (an invoice's `lines`, a subscription's `items`) when Stripe sent only its
//! first page, and the prices that invoice lines name by id only. Also the checks on
//! ids and list envelopes that come back from Stripe — outside input, even there.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::client::{StripeClient, StripeError};
use super::parse::{self, PriceBook};
use crate::domain::billing::PriceTerms;
use crate::ports::ConnectorError;

/// Bounds the paging of one embedded list (100 pages × 100 = 10,000 lines).
const MAX_EMBEDDED_PAGES: usize = 100;

/// A Stripe object id as Tally will put it in a request path: `[A-Za-z0-9_]`, 1..=255.
pub(super) fn is_valid_id(id: &str) -> bool {
    (1..=255).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(super) fn checked_id(id: &str) -> Result<&str, ConnectorError> {
    if is_valid_id(id) {
        Ok(id)
    } else {
        Err(ConnectorError::Malformed("not a Stripe object id".into()))
    }
}

/// A list envelope's `data` and `has_more`.
pub(super) fn envelope(page: Value, what: &str) -> Result<(Vec<Value>, bool), ConnectorError> {
    let Value::Object(mut map) = page else {
        return Err(ConnectorError::Malformed(format!(
            "{what}: not a list object"
        )));
    };
    let has_more = map
        .get("has_more")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match map.remove("data") {
        Some(Value::Array(data)) => Ok((data, has_more)),
        _ => Err(ConnectorError::Malformed(format!(
            "{what}: list without data"
        ))),
    }
}

fn id_field(object: &Value) -> Option<&str> {
    object
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| is_valid_id(id))
}

/// The id of the last object of a page: the `starting_after` of the next one.
pub(super) fn last_id(data: &[Value], what: &str) -> Result<String, ConnectorError> {
    data.last()
        .and_then(id_field)
        .map(str::to_owned)
        .ok_or_else(|| ConnectorError::Malformed(format!("{what}: has_more without a last id")))
}

/// Reads the rest of `object[field]` when it is a list with `has_more`, following the
/// list's own `url` (e.g. `/v1/invoices/in_1/lines`) with the `expand` paths the first
/// page had, and stores it as one full page.
pub(super) async fn complete_embedded_list(
    client: &StripeClient,
    object: &mut Value,
    field: &str,
    expand: &[&str],
) -> Result<(), ConnectorError> {
    let Some(list) = object.get_mut(field) else {
        return Ok(());
    };
    if !list
        .get("has_more")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Ok(());
    }
    let (path, mut params) = list_location(list.get("url").and_then(Value::as_str))?;
    let mut data = match list.get_mut("data").map(Value::take) {
        Some(Value::Array(data)) => data,
        _ => {
            return Err(ConnectorError::Malformed(format!(
                "{field}: list without data"
            )));
        }
    };
    params.push(("limit".to_owned(), "100".to_owned()));
    params.extend(
        expand
            .iter()
            .map(|e| ("expand[]".to_owned(), (*e).to_owned())),
    );
    for _ in 0..MAX_EMBEDDED_PAGES {
        let after = last_id(&data, field)?;
        let mut query: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        query.push(("starting_after", &after));
        let (page, has_more) = envelope(client.get(&path, &query).await?, field)?;
        data.extend(page);
        if !has_more {
            list["data"] = Value::Array(data);
            list["has_more"] = Value::Bool(false);
            return Ok(());
        }
    }
    Err(ConnectorError::Malformed(format!(
        "{field}: more pages than expected"
    )))
}

/// The path and query of an embedded list's `url`, refused unless it is a plain
/// `/v1/…` path on the API (never another host).
fn list_location(url: Option<&str>) -> Result<(String, Vec<(String, String)>), ConnectorError> {
    let bad = || ConnectorError::Malformed("an embedded list with an unexpected url".into());
    let url = url.filter(|u| u.starts_with("/v1/")).ok_or_else(bad)?;
    let parsed = reqwest::Url::parse(&format!("https://api.invalid{url}")).map_err(|_| bad())?;
    let path = parsed.path().to_owned();
    let path_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_'));
    if !path_ok || !path.starts_with("/v1/") || parsed.host_str() != Some("api.invalid") {
        return Err(bad());
    }
    let params = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok((path, params))
}

/// Prices by id, learnt from subscriptions and looked up for invoice lines: a handful
/// of distinct prices serve thousands of lines, so each is fetched once.
#[derive(Debug, Default)]
pub(super) struct PriceCache {
    known: Mutex<PriceBook>,
}

impl PriceCache {
    fn book(&self) -> std::sync::MutexGuard<'_, PriceBook> {
        // A panic elsewhere while holding the lock leaves a usable map.
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn learn(&self, terms: impl IntoIterator<Item = PriceTerms>) {
        let mut book = self.book();
        for t in terms {
            book.insert(t.id.clone(), t);
        }
    }

    /// The terms of `ids`, fetching the unknown ones (`GET /v1/prices/{id}`, tiers
    /// expanded); a price Stripe no longer has is simply absent from the result.
    pub(super) async fn resolve(
        &self,
        client: &StripeClient,
        ids: &[String],
    ) -> Result<PriceBook, ConnectorError> {
        let missing: Vec<&String> = {
            let book = self.book();
            ids.iter().filter(|id| !book.contains_key(*id)).collect()
        };
        for id in missing {
            let path = format!("/v1/prices/{}", checked_id(id)?);
            match client.get(&path, &[("expand[]", "tiers")]).await {
                Ok(value) => self.learn([parse::price(&value)?]),
                Err(StripeError::NotFound { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        let book = self.book();
        Ok(ids
            .iter()
            .filter_map(|id| book.get(id).map(|t| (id.clone(), t.clone())))
            .collect::<HashMap<_, _>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_list_urls_stay_on_the_api() {
        let (path, params) =
            list_location(Some("/v1/subscription_items?subscription=sub_1")).unwrap();
        assert_eq!(path, "/v1/subscription_items");
        assert_eq!(
            params,
            vec![("subscription".to_owned(), "sub_1".to_owned())]
        );
        for bad in [
            "https://evil.example/v1/x",
            "//evil.example/v1/x",
            "/v2/x",
            "/v1/../x",
            "/v1/a%2F",
        ] {
            assert!(list_location(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_checked_before_they_reach_a_path() {
        assert!(is_valid_id("cus_Q1a2B3"));
        for bad in ["", "cus/1", "cus_1?x=1", "../x", "cus 1"] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }
}
