//! A fake Stripe API: real HTTP (axum on 127.0.0.1:0) serving Stripe-shaped JSON from
//! a generated [`Scenario`], so that the Stripe adapter and the oauth/ingest functions
//! are tested over the wire, unmodified. Point Tally at it with
//! [`FakeStripe::config_vars`]. Parts: `scenario` (the generated account), `api` (the
//! read API), `oauth` (Stripe Apps OAuth).
//!
//! What it does like Stripe: list envelopes (`object`, `url`, `has_more`, `data`),
//! newest first, `limit` (default 10, at most 100), `starting_after`/`ending_before`,
//! subscriptions without `status` leaving canceled ones out, `expand[]` (nested paths,
//! `data.` prefix on lists, at most four levels), discounts as ids unless expanded,
//! prices' `tiers` and coupons' `applies_to`/`currency_options` only when expanded
//! (the shape customers of [`Scenario::with_shapes`] use them), invoice lines as ids of
//! prices and only the first 10 lines embedded, payment methods listed per customer
//! only, `/v1/events` with `created[gte]`, 404 `resource_missing` for unknown ids and
//! cursors, bearer auth (401 otherwise), and Stripe Apps OAuth: install redirect,
//! code exchange and rotating refresh at `/v1/oauth/token` (HTTP Basic with the app's
//! secret key), `/v1/oauth/deauthorize`.
//!
//! For tests: fault injection ([`FakeStripe::fail_next`]), a request counter per path,
//! mutations that also emit events, and a synthetic card carrying a full number, last4
//! "4242" and a fingerprint — values that must never reach Tally's data.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::oneshot;

mod api;
mod lifecycle;
mod oauth;
mod scenario;
mod shape_catalogue;
mod shapes;

pub use shapes::{SHAPES, Shape};

pub use lifecycle::{COLLECTION_PAUSED, UPGRADED};

/// The restricted key a scenario's API accepts.
pub const FAKE_API_KEY: &str = "rk_test_fakeTally";
/// The Stripe App's own secret key and client id (OAuth).
pub const FAKE_APP_SECRET_KEY: &str = "sk_test_fakeApp";
pub const FAKE_CLIENT_ID: &str = "ca_fakeTally";
/// The merchant account the OAuth install is for.
pub const FAKE_ACCOUNT: &str = "acct_fakeMerchant";
/// The synthetic card's values that must never be stored.
pub const SENSITIVE_CARD_NUMBER: &str = "4242424242424242";
pub const SENSITIVE_LAST4: &str = "4242";
pub const SENSITIVE_FINGERPRINT: &str = "fp_SENSITIVE";

/// What the fake account holds. Customer 1's subscription is canceled, customer 2's
/// trialing, customer 3's carries a `forever` 20 % coupon, customer 4's charge failed,
/// customer 5's invoice has 12 lines, customer 0 has the sensitive card and a refund.
#[derive(Clone, Debug)]
pub struct Scenario {
    customers: usize,
    /// Adds the lifecycle shapes of `lifecycle.rs` (four more customers).
    lifecycle: bool,
    /// Adds the customers of every discount level and pricing model.
    shapes: bool,
}

impl Scenario {
    /// `customers` customers (at least 6, so every special case exists), each with a
    /// payment method, a subscription, an invoice and a charge.
    pub fn new(customers: usize) -> Self {
        Self {
            customers: customers.max(6),
            lifecycle: false,
            shapes: false,
        }
    }

    /// Adds a mid-period upgrade, a paused annual plan, a paused monthly one and a
    /// paused collection (see `fake_stripe/lifecycle.rs`).
    pub fn with_lifecycle(mut self) -> Self {
        self.lifecycle = true;
        self
    }

    /// Adds the customers of every discount level and pricing model
    /// ([`SHAPES`]), each with a hand-computed MRR.
    pub fn with_shapes(mut self) -> Self {
        self.shapes = true;
        self
    }
}

/// How the API answers one restricted key's requests, whatever other keys get: one
/// connected account down or stuck while the others work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFault {
    /// Every request answers this status.
    Status(u16),
    /// No request is ever answered.
    Hang,
}

/// The running fake. Dropping it stops the server.
pub struct FakeStripe {
    pub base_url: String,
    state: Arc<Mutex<FakeState>>,
    _shutdown: oneshot::Sender<()>,
}

#[derive(Default)]
struct FakeState {
    /// Every object by id (customers, payment methods, prices, coupons, discounts...).
    objects: HashMap<String, Value>,
    /// Listed resources (`customers`...): ids, newest first.
    lists: HashMap<&'static str, Vec<String>>,
    /// Every line of every invoice (the invoice embeds only the first 10).
    lines: HashMap<String, Vec<Value>>,
    /// Oldest first.
    events: Vec<Value>,
    event_seq: u64,
    valid_tokens: HashSet<String>,
    oauth_codes: HashSet<String>,
    oauth_access_tokens: HashSet<String>,
    refresh_token: Option<String>,
    token_seq: u64,
    faults: VecDeque<u16>,
    /// Restricted keys that answer otherwise than the scenario (see [`KeyFault`]).
    key_faults: HashMap<String, KeyFault>,
    requests: HashMap<String, usize>,
    stripe_version: Option<String>,
}

type Shared = Arc<Mutex<FakeState>>;

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeStripe {
    pub async fn start(scenario: Scenario) -> FakeStripe {
        let mut state = FakeState::default();
        state.valid_tokens.insert(FAKE_API_KEY.to_owned());
        scenario::generate(
            &mut state,
            scenario.customers,
            scenario.lifecycle,
            scenario.shapes,
        );
        let first = state.objects["cus_T000000"].clone();
        state.emit("customer.created", first);
        let state = Arc::new(Mutex::new(state));
        let app = Router::new()
            .route("/oauth/v2/authorize", get(oauth::authorize))
            .route("/v1/oauth/token", post(oauth::token))
            .route("/v1/oauth/deauthorize", post(oauth::deauthorize))
            .fallback(api::api_get)
            .with_state(state.clone());
        let (address, tx) = crate::serve_on_loopback(app, "the fake Stripe").await;
        FakeStripe {
            base_url: format!("http://{address}"),
            state,
            _shutdown: tx,
        }
    }

    /// The environment that points Tally's Stripe URLs here.
    pub fn config_vars(&self) -> Vec<(String, String)> {
        vec![
            ("TALLY_STRIPE_API_BASE".into(), self.base_url.clone()),
            (
                "TALLY_STRIPE_OAUTH_AUTHORIZE_URL".into(),
                format!("{}/oauth/v2/authorize", self.base_url),
            ),
            (
                "TALLY_STRIPE_OAUTH_TOKEN_URL".into(),
                format!("{}/v1/oauth/token", self.base_url),
            ),
        ]
    }

    /// Answers the next `n` requests with `status` (429 comes with `Retry-After: 0`).
    pub fn fail_next(&self, n: usize, status: u16) {
        lock(&self.state)
            .faults
            .extend(std::iter::repeat_n(status, n));
    }

    /// Another restricted key for the scenario's account, working until
    /// [`FakeStripe::break_key`].
    pub fn add_api_key(&self, key: &str) {
        lock(&self.state).valid_tokens.insert(key.to_owned());
    }

    /// From now on, every request made with `key` gets `fault`.
    pub fn break_key(&self, key: &str, fault: KeyFault) {
        lock(&self.state).key_faults.insert(key.to_owned(), fault);
    }

    /// Requests received for `path` (no query), failed ones included.
    pub fn requests_to(&self, path: &str) -> usize {
        lock(&self.state).requests.get(path).copied().unwrap_or(0)
    }

    /// The `Stripe-Version` header of the last API request.
    pub fn last_stripe_version(&self) -> Option<String> {
        lock(&self.state).stripe_version.clone()
    }

    /// The restricted key stops working (the merchant deleted it).
    pub fn revoke_api_key(&self) {
        lock(&self.state).valid_tokens.remove(FAKE_API_KEY);
    }

    /// A code as if the merchant had just approved the install.
    pub fn issue_code(&self) -> String {
        lock(&self.state).issue_code()
    }

    /// Changes a subscription and records `customer.subscription.updated`.
    pub fn update_subscription(&self, id: &str, change: impl FnOnce(&mut Value)) {
        let mut state = lock(&self.state);
        let object = state.objects.get_mut(id).expect("a known subscription");
        change(object);
        let snapshot = object.clone();
        state.emit("customer.subscription.updated", snapshot);
    }

    /// Records an event of `event_type` about the object `id` as it is now.
    pub fn add_event(&self, event_type: &str, id: &str) {
        let mut state = lock(&self.state);
        let snapshot = state.objects.get(id).expect("a known object").clone();
        state.emit(event_type, snapshot);
    }

    /// Deletes a customer the way Stripe does: a stub remains, plus `customer.deleted`.
    pub fn delete_customer(&self, id: &str) {
        let mut state = lock(&self.state);
        let old = state.objects.insert(
            id.to_owned(),
            json!({"id": id, "object": "customer", "deleted": true}),
        );
        if let Some(list) = state.lists.get_mut("customers") {
            list.retain(|c| c != id);
        }
        state.emit("customer.deleted", old.expect("a known customer"));
    }

    /// Bills the next period of the lifecycle subscriptions that still bill, as a
    /// renewal would, with its events (see `fake_stripe/lifecycle.rs`).
    pub fn advance_lifecycle(&self) {
        lifecycle::advance(&mut lock(&self.state));
    }

    /// Forgets every event, as 30 days of retention would.
    pub fn expire_events(&self) {
        lock(&self.state).events.clear();
    }
}

impl FakeState {
    fn emit(&mut self, event_type: &str, object: Value) {
        self.event_seq += 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.events.push(json!({
            "id": format!("evt_T{:06}", self.event_seq), "object": "event",
            "api_version": "2026-07-29", "created": now, "type": event_type,
            "data": {"object": object}, "livemode": false, "pending_webhooks": 0,
            "request": {"id": null, "idempotency_key": null}
        }));
    }

    fn issue_code(&mut self) -> String {
        self.token_seq += 1;
        let code = format!("ac_T{:06}", self.token_seq);
        self.oauth_codes.insert(code.clone());
        code
    }

    fn add(&mut self, list: &'static str, object: Value) {
        let id = object["id"].as_str().expect("objects have ids").to_owned();
        self.lists.entry(list).or_default().push(id.clone());
        self.objects.insert(id, object);
    }
}

fn stripe_error(
    status: StatusCode,
    error_type: &str,
    code: Option<&str>,
    param: Option<&str>,
) -> Response {
    let body = json!({"error": {"type": error_type, "code": code, "param": param,
        "message": "An error from the fake Stripe."}});
    (status, Json(body)).into_response()
}

/// Counts the request and answers it with an injected fault, if one is queued or its
/// key is broken (a hanging key's request never gets past here).
async fn begin(state: &Shared, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    let key_fault = {
        let mut s = lock(state);
        *s.requests.entry(uri.path().to_owned()).or_default() += 1;
        if let Some(version) = headers.get("stripe-version").and_then(|v| v.to_str().ok()) {
            s.stripe_version = Some(version.to_owned());
        }
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|b| b.strip_prefix("Bearer "))
            .and_then(|key| s.key_faults.get(key).copied())
    };
    match key_fault {
        Some(KeyFault::Hang) => std::future::pending::<()>().await,
        Some(KeyFault::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Some(stripe_error(status, "api_error", None, None));
        }
        None => {}
    }
    let mut s = lock(state);
    let status = s.faults.pop_front()?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = stripe_error(status, "api_error", None, None);
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, "0".parse().expect("a header value"));
    }
    Some(response)
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
