//! A fake Paddle Billing API: real HTTP (axum on 127.0.0.1:0) serving Paddle-shaped
//! JSON from a small generated account ([`scenario`]), so the Paddle adapter and the
//! oauth/ingest functions are tested over the wire, unmodified. Point Tally at it with
//! [`FakePaddle::config_vars`] (both the live and the sandbox base).
//!
//! What it does like Paddle's API reference says: `{data, meta: {request_id,
//! pagination: {per_page, next, has_more, estimated_total}}}` list envelopes,
//! `per_page` (default 50, at most 200), `after=<id>` cursors in the order asked
//! (`order_by=id[ASC|DESC]`, transactions also `created_at[DESC]`), the filters the
//! adapter uses (`status`, `id`, `customer_id`, `action`, `from`), `include=address` on
//! transactions, `GET /<entity>/<id>` as `{data}`, 404 `not_found` for unknown ids and
//! for an events cursor older than it keeps, bearer auth (401 otherwise), and 429
//! `too_many_requests` with `Retry-After`.
//!
//! For tests: fault injection, a request counter per path, mutations that emit the
//! events Paddle would, and card last4s and names that must never reach Tally's data.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::oneshot;

mod scenario;

pub use scenario::{
    ANNUAL_SUB, CANCELING_SUB, CHARGEBACK_TXN, DISCOUNTED_SUB, MONTHLY_SUB, MRR_CENTS,
    PAUSED_MRR_CENTS, REFUNDED_TXN,
};

/// The sandbox API key the fake accepts.
pub const FAKE_PADDLE_KEY: &str = "pdl_sdbx_apikey_01fake0tally0sandbox0key0000";
/// The notification destination's secret key.
pub const FAKE_NOTIFICATION_SECRET: &str = "pdl_ntfset_01fake0tally0destination0secret";
/// Values that must never be stored: a card's last4 and the cardholder's name.
pub const SENSITIVE_LAST4: &str = "4242";
pub const SENSITIVE_NAME: &str = "Cardholder Secretname";

/// The running fake. Dropping it stops the server.
pub struct FakePaddle {
    pub base_url: String,
    state: Arc<Mutex<FakeState>>,
    _shutdown: oneshot::Sender<()>,
}

#[derive(Default)]
struct FakeState {
    /// Every entity by its Paddle id.
    objects: HashMap<String, Value>,
    /// Listed entities (`customers`, `subscriptions`...): ids, oldest first.
    lists: HashMap<&'static str, Vec<String>>,
    /// A customer's addresses.
    addresses: HashMap<String, Vec<Value>>,
    /// Oldest first.
    events: Vec<Value>,
    event_seq: u64,
    /// Events before this one were forgotten (Paddle keeps 90 days).
    first_kept_event: u64,
    entity_seq: u64,
    valid_keys: HashSet<String>,
    faults: VecDeque<u16>,
    requests: HashMap<String, usize>,
    /// The most entities a page holds, whatever `per_page` asks (Paddle's 200, or less
    /// to make a small account take several pages).
    page_limit: usize,
    /// Paths the key lacks the read permission for (403 `forbidden`).
    forbidden: HashSet<String>,
}

type Shared = Arc<Mutex<FakeState>>;

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// RFC 3339 for a Unix time, as Paddle writes it.
pub fn rfc3339(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl FakePaddle {
    pub async fn start() -> FakePaddle {
        let mut state = FakeState::default();
        state.valid_keys.insert(FAKE_PADDLE_KEY.to_owned());
        state.page_limit = 200;
        scenario::generate(&mut state, now());
        let state = Arc::new(Mutex::new(state));
        let app = Router::new().fallback(api).with_state(state.clone());
        let (address, tx) = crate::serve_on_loopback(app, "the fake Paddle").await;
        FakePaddle {
            base_url: format!("http://{address}"),
            state,
            _shutdown: tx,
        }
    }

    /// The environment that points Tally's Paddle URLs (live and sandbox) here.
    pub fn config_vars(&self) -> Vec<(String, String)> {
        vec![
            ("TALLY_PADDLE_API_BASE".into(), self.base_url.clone()),
            (
                "TALLY_PADDLE_SANDBOX_API_BASE".into(),
                self.base_url.clone(),
            ),
            ("TALLY_PADDLE_READS_PER_SECOND".into(), "1000".into()),
        ]
    }

    /// Answers the next `n` requests with `status` (429 with `Retry-After: 0`).
    pub fn fail_next(&self, n: usize, status: u16) {
        lock(&self.state)
            .faults
            .extend(std::iter::repeat_n(status, n));
    }

    /// From now on, no page holds more than `n` entities.
    pub fn limit_pages_to(&self, n: usize) {
        lock(&self.state).page_limit = n.max(1);
    }

    /// From now on, the key lacks the read permission for `path` (Paddle answers 403
    /// `forbidden`).
    pub fn forbid(&self, path: &str) {
        lock(&self.state).forbidden.insert(path.to_owned());
    }

    /// Requests received for `path` (no query), failed ones included.
    pub fn requests_to(&self, path: &str) -> usize {
        lock(&self.state).requests.get(path).copied().unwrap_or(0)
    }

    /// The API key stops working (the merchant revoked it).
    pub fn revoke_key(&self) {
        lock(&self.state).valid_keys.remove(FAKE_PADDLE_KEY);
    }

    /// Changes an entity and records an event of `event_type` with it as it now is.
    pub fn update(&self, id: &str, event_type: &str, change: impl FnOnce(&mut Value)) {
        let mut state = lock(&self.state);
        let object = state.objects.get_mut(id).expect("a known entity");
        change(object);
        object["updated_at"] = json!(rfc3339(now()));
        let snapshot = object.clone();
        state.emit(event_type, snapshot);
    }

    /// Pauses a subscription now, as `POST /subscriptions/{id}/pause` with
    /// `effective_from: immediately` does: status `paused`, `paused_at`, and
    /// `subscription.paused`.
    pub fn pause(&self, subscription: &str) {
        self.update(subscription, "subscription.paused", |s| {
            s["status"] = json!("paused");
            s["paused_at"] = json!(rfc3339(now()));
            s["current_billing_period"] = Value::Null;
            s["next_billed_at"] = Value::Null;
        });
    }

    /// Records an approved adjustment (`refund` or `chargeback`) of a whole transaction,
    /// with `adjustment.created`; its id.
    pub fn adjust(&self, transaction: &str, action: &str) -> String {
        let mut state = lock(&self.state);
        let id = state.next_id("adj");
        let txn = state
            .objects
            .get(transaction)
            .expect("a known transaction")
            .clone();
        let total = txn["details"]["totals"]["grand_total"].clone();
        let adjustment = json!({"id": id, "action": action, "type": "full",
            "transaction_id": transaction, "subscription_id": txn["subscription_id"],
            "customer_id": txn["customer_id"], "reason": "Customer asked: Secret reason",
            "credit_applied_to_balance": null, "currency_code": txn["currency_code"],
            "status": "approved", "items": [],
            "totals": {"subtotal": total, "tax": "0", "total": total, "fee": "0", "earnings": "0",
                "currency_code": txn["currency_code"]},
            "payout_totals": null, "tax_rates_used": [],
            "created_at": rfc3339(now()), "updated_at": rfc3339(now())});
        state.add("adjustments", adjustment.clone());
        state.emit("adjustment.created", adjustment);
        id
    }

    /// Forgets every event so far, as 90 days of retention would.
    pub fn expire_events(&self) {
        let mut state = lock(&self.state);
        state.first_kept_event = state.event_seq + 1;
        state.events.clear();
    }

    /// A notification as Paddle delivers it for the newest event, signed with `secret`
    /// at `ts`: the body and the `Paddle-Signature` header.
    pub fn notification(&self, secret: &str, ts: i64) -> (String, String) {
        let state = lock(&self.state);
        let event = state.events.last().cloned().unwrap_or_else(|| {
            json!({"event_id": "evt_00000000000000000000000000", "event_type": "customer.created",
                "occurred_at": rfc3339(ts), "data": {}})
        });
        let mut body = event;
        body["notification_id"] = json!(format!("ntf_{:026}", state.event_seq));
        let body = body.to_string();
        (body.clone(), sign(secret, ts, &body))
    }
}

/// `Paddle-Signature` for a body: `ts=…;h1=<HMAC-SHA256 of "ts:body">`.
pub fn sign(secret: &str, ts: i64, body: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length works");
    mac.update(format!("{ts}:{body}").as_bytes());
    format!("ts={ts};h1={}", hex::encode(mac.finalize().into_bytes()))
}

impl FakeState {
    fn next_id(&mut self, prefix: &str) -> String {
        self.entity_seq += 1;
        format!("{prefix}_01t{:023}", self.entity_seq)
    }

    fn emit(&mut self, event_type: &str, data: Value) {
        self.event_seq += 1;
        self.events.push(json!({
            "event_id": format!("evt_01t{:023}", self.event_seq),
            "event_type": event_type, "occurred_at": rfc3339(now()), "data": data,
        }));
    }

    fn add(&mut self, list: &'static str, object: Value) {
        let id = object["id"].as_str().expect("entities have ids").to_owned();
        self.lists.entry(list).or_default().push(id.clone());
        self.objects.insert(id, object);
    }
}

fn paddle_error(status: StatusCode, error_type: &str, code: &str) -> Response {
    let body = json!({"error": {"type": error_type, "code": code,
        "detail": "An error from the fake Paddle.",
        "documentation_url": format!("https://developer.paddle.com/v1/errors/shared/{code}")},
        "meta": {"request_id": "00000000-0000-0000-0000-000000000000"}});
    (status, Json(body)).into_response()
}

fn not_found() -> Response {
    paddle_error(StatusCode::NOT_FOUND, "request_error", "not_found")
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn list_of(query: &[(String, String)], name: &str) -> Option<Vec<String>> {
    param(query, name).map(|v| v.split(',').map(str::to_owned).collect())
}

async fn api(
    State(state): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let mut s = lock(&state);
    *s.requests.entry(uri.path().to_owned()).or_default() += 1;
    if let Some(status) = s.faults.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = paddle_error(status, "api_error", "internal_error");
        if status == StatusCode::TOO_MANY_REQUESTS {
            response = paddle_error(status, "request_error", "too_many_requests");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, "0".parse().expect("a header value"));
        }
        return response;
    }
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|b| b.strip_prefix("Bearer "))
        .is_some_and(|key| s.valid_keys.contains(key));
    if !authorized {
        return paddle_error(
            StatusCode::UNAUTHORIZED,
            "request_error",
            "authentication_malformed",
        );
    }
    if s.forbidden.contains(uri.path()) {
        return paddle_error(StatusCode::FORBIDDEN, "request_error", "forbidden");
    }
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["events"] => events(&s, &query),
        ["customers", id, "addresses"] => {
            let addresses = s.addresses.get(*id).cloned().unwrap_or_default();
            let mut newest_first = addresses;
            newest_first.reverse();
            page(newest_first, &query, s.page_limit)
        }
        [list @ ("customers" | "subscriptions" | "transactions" | "adjustments" | "discounts")] => {
            listing(&mut s, list, &query)
        }
        ["customers" | "subscriptions" | "transactions", id] => match s.objects.get(*id) {
            Some(object) => {
                Json(json!({"data": object, "meta": {"request_id": "r"}})).into_response()
            }
            None => not_found(),
        },
        _ => not_found(),
    }
}

fn listing(s: &mut FakeState, list: &str, query: &[(String, String)]) -> Response {
    let ids = s.lists.get(list).cloned().unwrap_or_default();
    let mut objects: Vec<Value> = ids
        .iter()
        .filter_map(|id| s.objects.get(id).cloned())
        .collect();
    let filters = [
        ("id", "id"),
        ("status", "status"),
        ("customer_id", "customer_id"),
        ("action", "action"),
    ];
    for (name, field) in filters {
        if let Some(allowed) = list_of(query, name) {
            objects.retain(|o| {
                o[field]
                    .as_str()
                    .is_some_and(|v| allowed.iter().any(|a| a == v))
            });
        }
    }
    match param(query, "order_by") {
        Some("id[DESC]") => objects.reverse(),
        Some("created_at[DESC]") => {
            objects.sort_by(|a, b| b["created_at"].as_str().cmp(&a["created_at"].as_str()))
        }
        _ => {}
    }
    if list == "transactions" && param(query, "include") == Some("address") {
        for object in &mut objects {
            let customer = object["customer_id"].as_str().unwrap_or_default();
            let address_id = object["address_id"].as_str().unwrap_or_default();
            let address = s
                .addresses
                .get(customer)
                .and_then(|all| all.iter().find(|a| a["id"] == address_id))
                .cloned();
            object["address"] = address.unwrap_or(Value::Null);
        }
    }
    page(objects, query, s.page_limit)
}

/// One page of `objects` (already in the order asked) after `after`.
fn page(objects: Vec<Value>, query: &[(String, String)], limit: usize) -> Response {
    let per_page = param(query, "per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, limit);
    let start = match param(query, "after") {
        Some(after) => match objects.iter().position(|o| o["id"] == after) {
            Some(at) => at + 1,
            None => return not_found(),
        },
        None => 0,
    };
    let total = objects.len();
    let data: Vec<Value> = objects.into_iter().skip(start).take(per_page).collect();
    let has_more = start + data.len() < total;
    let next = data
        .last()
        .and_then(|o| o["id"].as_str())
        .map(|id| format!("/?after={id}"));
    Json(json!({"data": data, "meta": {"request_id": "r",
        "pagination": {"per_page": per_page, "next": next, "has_more": has_more, "estimated_total": total}}}))
    .into_response()
}

fn events(s: &FakeState, query: &[(String, String)]) -> Response {
    let mut events = s.events.clone();
    if let Some(from) = param(query, "from") {
        events.retain(|e| e["occurred_at"].as_str().is_some_and(|at| at >= from));
    }
    let descending = param(query, "order_by") == Some("id[DESC]");
    if descending {
        events.reverse();
    }
    let per_page = param(query, "per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, s.page_limit);
    let start = match param(query, "after") {
        Some(after) => {
            let seq = after
                .strip_prefix("evt_01t")
                .and_then(|n| n.parse::<u64>().ok());
            match seq {
                // Older than kept: Paddle answers not_found.
                Some(seq) if seq + 1 < s.first_kept_event => return not_found(),
                Some(seq) => events
                    .iter()
                    .position(|e| {
                        e["event_id"]
                            .as_str()
                            .and_then(|id| id.strip_prefix("evt_01t"))
                            .and_then(|n| n.parse::<u64>().ok())
                            .is_some_and(|n| n > seq)
                    })
                    .unwrap_or(events.len()),
                None => return not_found(),
            }
        }
        None => 0,
    };
    let total = events.len();
    let data: Vec<Value> = events.into_iter().skip(start).take(per_page).collect();
    let has_more = start + data.len() < total;
    Json(json!({"data": data, "meta": {"request_id": "r",
        "pagination": {"per_page": per_page, "next": null, "has_more": has_more, "estimated_total": total}}}))
    .into_response()
}
