//! The fake's read API: `GET /v1/<resource>` listings (filtered, paginated and
//! expanded as Stripe does), `GET /v1/<resource>/<id>`, and an invoice's lines. Every
//! request needs a valid bearer token.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{FakeState, Shared, begin, lock, param, stripe_error};

fn missing(param: Option<&str>) -> Response {
    stripe_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("resource_missing"),
        param,
    )
}

pub(super) async fn api_get(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(fault) = begin(&state, &uri, &headers).await {
        return fault;
    }
    let s = lock(&state);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let authorized = bearer
        .and_then(|b| b.strip_prefix("Bearer "))
        .is_some_and(|token| s.valid_tokens.contains(token));
    if !authorized {
        return stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            None,
        );
    }
    if method != Method::GET {
        return stripe_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            None,
            None,
        );
    }
    let segments: Vec<&str> = uri.path().trim_start_matches("/v1/").split('/').collect();
    let expansions: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "expand[]")
        .map(|(_, v)| v.as_str())
        .collect();
    // Stripe: "Expansions have a maximum depth of four levels".
    if expansions
        .iter()
        .any(|e| e.split('.').count() > MAX_EXPAND_DEPTH)
    {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            Some("expand"),
        );
    }
    match segments.as_slice() {
        [resource] => {
            let items = s.listing(resource, &query);
            let Some(items) = items else {
                return missing(None);
            };
            let paths: Vec<&str> = expansions
                .iter()
                .filter_map(|e| e.strip_prefix("data."))
                .collect();
            match paginate(items, &query, uri.path()) {
                Ok(mut page) => {
                    for path in paths {
                        s.expand(&mut page["data"], path);
                    }
                    hide_unrequested(&mut page, &expansions);
                    Json(page).into_response()
                }
                Err(response) => *response,
            }
        }
        ["invoices", id, "lines"] => match s.lines.get(*id) {
            Some(lines) => paginate(lines.clone(), &query, uri.path())
                .map_or_else(|r| *r, |p| Json(p).into_response()),
            None => missing(Some("id")),
        },
        [resource, id] => {
            let wanted = resource.trim_end_matches('s');
            match s.objects.get(*id) {
                Some(object) if object["object"] == wanted => {
                    let mut object = object.clone();
                    for path in &expansions {
                        s.expand(&mut object, path);
                    }
                    hide_unrequested(&mut object, &expansions);
                    Json(object).into_response()
                }
                _ => missing(Some("id")),
            }
        }
        _ => missing(None),
    }
}

/// Stripe's limit on `expand[]` paths, in segments (`data.` included).
const MAX_EXPAND_DEPTH: usize = 4;

/// Fields Stripe includes only when asked (`expand[]=tiers`...), by object kind.
const INCLUDABLE: [(&str, &str); 3] = [
    ("price", "tiers"),
    ("coupon", "applies_to"),
    ("coupon", "currency_options"),
];

/// Removes, anywhere in a response, the includable fields no expansion asked for (an
/// expansion asks for a field when its last segment names it).
fn hide_unrequested(value: &mut Value, expansions: &[&str]) {
    match value {
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| hide_unrequested(item, expansions)),
        Value::Object(map) => {
            let kind = map
                .get("object")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            for (object, field) in INCLUDABLE {
                let asked = expansions
                    .iter()
                    .any(|e| e.rsplit('.').next() == Some(field));
                if kind == object && !asked {
                    map.remove(field);
                }
            }
            map.values_mut()
                .for_each(|child| hide_unrequested(child, expansions));
        }
        _ => {}
    }
}

impl FakeState {
    /// A resource's objects, filtered as Stripe filters them, newest first.
    fn listing(&self, resource: &str, query: &[(String, String)]) -> Option<Vec<Value>> {
        if resource == "events" {
            let since = param(query, "created[gte]").and_then(|t| t.parse::<i64>().ok());
            let events = self.events.iter().rev();
            return Some(
                events
                    .filter(|e| since.is_none_or(|t| e["created"].as_i64().unwrap_or(0) >= t))
                    .cloned()
                    .collect(),
            );
        }
        let ids = self.lists.get(resource)?;
        let objects = ids.iter().filter_map(|id| self.objects.get(id));
        let status = param(query, "status");
        let customer = param(query, "customer");
        Some(match resource {
            // Without `customer`, Stripe lists Treasury payment methods: none here.
            "payment_methods" => objects
                .filter(|pm| customer.is_some_and(|c| pm["customer"] == c))
                .cloned()
                .collect(),
            "subscriptions" => objects
                .filter(|sub| match status {
                    None => sub["status"] != "canceled",
                    Some("all") => true,
                    Some(wanted) => sub["status"] == wanted,
                })
                .cloned()
                .collect(),
            _ => objects.cloned().collect(),
        })
    }

    /// Replaces ids along `path` (dot-separated) by their objects, like `expand[]`.
    fn expand(&self, value: &mut Value, path: &str) {
        let segments: Vec<&str> = path.split('.').collect();
        self.expand_along(value, &segments);
    }

    fn expand_along(&self, value: &mut Value, segments: &[&str]) {
        let Some((first, rest)) = segments.split_first() else {
            return;
        };
        match value {
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| self.expand_along(item, segments)),
            Value::Object(map) => {
                if let Some(field) = map.get_mut(*first) {
                    self.expand_in_place(field);
                    self.expand_along(field, rest);
                }
            }
            _ => {}
        }
    }

    fn expand_in_place(&self, field: &mut Value) {
        match field {
            Value::String(id) => {
                if let Some(object) = self.objects.get(id.as_str()) {
                    *field = object.clone();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.expand_in_place(item)),
            _ => {}
        }
    }
}

/// One page of `items` (newest first) per `limit`, `starting_after`, `ending_before`.
// The error is boxed: a `Response` is large, and errors are the rare path.
fn paginate(
    items: Vec<Value>,
    query: &[(String, String)],
    url: &str,
) -> Result<Value, Box<Response>> {
    let limit = match param(query, "limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return Err(Box::new(stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("parameter_invalid_integer"),
                Some("limit"),
            )));
        }
    };
    let position = |name: &str| -> Result<Option<usize>, Box<Response>> {
        match param(query, name) {
            None => Ok(None),
            Some(id) => items
                .iter()
                .position(|o| o["id"] == id)
                .map(Some)
                .ok_or_else(|| Box::new(missing(Some(name)))),
        }
    };
    let (page, has_more): (&[Value], bool) = if let Some(at) = position("starting_after")? {
        let rest = &items[at + 1..];
        (&rest[..rest.len().min(limit)], rest.len() > limit)
    } else if let Some(at) = position("ending_before")? {
        let start = at.saturating_sub(limit);
        (&items[start..at], start > 0)
    } else {
        (&items[..items.len().min(limit)], items.len() > limit)
    };
    Ok(json!({"object": "list", "url": url, "has_more": has_more, "data": page}))
}
