//! An HTTP proxy in front of moto that throttles chosen AWS operations, so that the
//! AWS adapters' retries are tested over the wire, unmodified.
//!
//! Requests are told apart by their `X-Amz-Target` header (DynamoDB and KMS speak the
//! AWS JSON protocol: one POST to `/` per call, the operation in that header). For a
//! target given a [`Fault`] the first N requests are answered by the proxy itself with
//! the service's own error response and never reach moto; every other request is
//! forwarded as it came (method, path, query, headers, body) and moto's response is
//! returned as it went. Per target the proxy counts what it answered itself and what it
//! forwarded, and keeps every request body (to read e.g. a `ClientRequestToken`).
//!
//! For `BatchWriteItem` two faults imitate a throttled partition, which DynamoDB
//! reports not as an error but by returning writes as `UnprocessedItems`: the proxy
//! either forwards only the first half of each table's writes and returns the rest as
//! unprocessed, or forwards nothing and returns them all.
//!
//! Point an SDK client at it with [`ThrottlingProxy::sdk_config`]. Dropping the proxy
//! stops it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_config::SdkConfig;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::oneshot;

/// DynamoDB targets (API version 2012-08-10).
pub const DYNAMODB_PUT_ITEM: &str = "DynamoDB_20120810.PutItem";
pub const DYNAMODB_UPDATE_ITEM: &str = "DynamoDB_20120810.UpdateItem";
pub const DYNAMODB_TRANSACT_WRITE_ITEMS: &str = "DynamoDB_20120810.TransactWriteItems";
pub const DYNAMODB_BATCH_WRITE_ITEM: &str = "DynamoDB_20120810.BatchWriteItem";
/// KMS targets.
pub const KMS_GENERATE_DATA_KEY: &str = "TrentService.GenerateDataKey";
pub const KMS_DECRYPT: &str = "TrentService.Decrypt";

/// How the proxy fails a request of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// DynamoDB's `ThrottlingException` (HTTP 400), without forwarding: the request
    /// never reaches the table.
    DynamoDbThrottling,
    /// DynamoDB's `ProvisionedThroughputExceededException` (HTTP 400), without
    /// forwarding.
    DynamoDbProvisionedThroughputExceeded,
    /// KMS's `ThrottlingException` (HTTP 400), without forwarding.
    KmsThrottling,
    /// The ambiguous failure: the request IS forwarded (moto applies it), then the
    /// client is answered with DynamoDB's `InternalServerError` (HTTP 500) instead of
    /// moto's response, as when a response is lost after the write.
    DynamoDbInternalErrorAfterForwarding,
    /// For `BatchWriteItem`: the first half (rounded up) of each table's writes is
    /// forwarded (moto applies them), the other half is returned to the client as
    /// `UnprocessedItems`. Counted as forwarded.
    DynamoDbUnprocessedHalf,
    /// For `BatchWriteItem`: nothing is forwarded and every write is returned as
    /// `UnprocessedItems`. Counted as throttled.
    DynamoDbUnprocessedAll,
}

impl Fault {
    /// True for the faults answered without forwarding.
    fn blocks(self) -> bool {
        !matches!(
            self,
            Fault::DynamoDbInternalErrorAfterForwarding | Fault::DynamoDbUnprocessedHalf
        )
    }

    /// The service's response, as the service sends it, to a request not forwarded.
    fn response(self, request: &Bytes) -> Response {
        let (status, content_type, body) = match self {
            Fault::DynamoDbThrottling => (
                StatusCode::BAD_REQUEST,
                "application/x-amz-json-1.0",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
            ),
            Fault::DynamoDbProvisionedThroughputExceeded => (
                StatusCode::BAD_REQUEST,
                "application/x-amz-json-1.0",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."}"#,
            ),
            Fault::KmsThrottling => (
                StatusCode::BAD_REQUEST,
                "application/x-amz-json-1.1",
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            ),
            Fault::DynamoDbInternalErrorAfterForwarding => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/x-amz-json-1.0",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#,
            ),
            Fault::DynamoDbUnprocessedHalf | Fault::DynamoDbUnprocessedAll => {
                let (_, unprocessed) = split_batch(request, |_| 0);
                return json_response(
                    StatusCode::OK,
                    &serde_json::json!({ "UnprocessedItems": unprocessed }),
                );
            }
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        (
            status,
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (HeaderName::from_static("x-amzn-requestid"), request_id),
            ],
            body,
        )
            .into_response()
    }
}

/// A `BatchWriteItem` request split per table: the request with the first `keep(n)` of
/// each table's `n` writes, and the rest as an `UnprocessedItems` map.
fn split_batch(body: &Bytes, keep: impl Fn(usize) -> usize) -> (Value, Value) {
    let mut request: Value = serde_json::from_slice(body).expect("a JSON BatchWriteItem request");
    let mut unprocessed = serde_json::Map::new();
    if let Some(tables) = request["RequestItems"].as_object_mut() {
        for (table, writes) in tables.iter_mut() {
            let Some(writes) = writes.as_array_mut() else {
                continue;
            };
            let rest = writes.split_off(keep(writes.len()).min(writes.len()));
            if !rest.is_empty() {
                unprocessed.insert(table.clone(), Value::Array(rest));
            }
        }
        tables.retain(|_, writes| writes.as_array().is_some_and(|w| !w.is_empty()));
    }
    (request, Value::Object(unprocessed))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                "application/x-amz-json-1.0".to_owned(),
            ),
            (HeaderName::from_static("x-amzn-requestid"), request_id),
        ],
        body.to_string(),
    )
        .into_response()
}

/// What the proxy did with the requests of one target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Answered by the proxy with a fault, never forwarded.
    pub throttled: u32,
    /// Forwarded to moto (whatever the client was then told).
    pub forwarded: u32,
    /// Forwarded, and then answered with a 500 instead of moto's response.
    pub failed_after_forwarding: u32,
}

#[derive(Default)]
struct TargetState {
    /// The fault to inject and how many more requests it applies to.
    fault: Option<(Fault, u32)>,
    counts: Counts,
    bodies: Vec<Bytes>,
}

type Targets = Arc<Mutex<HashMap<String, TargetState>>>;

fn lock(targets: &Targets) -> MutexGuard<'_, HashMap<String, TargetState>> {
    // A test that panicked while holding the lock leaves plain counters behind.
    targets
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    targets: Targets,
}

/// The running proxy. Dropping it stops the server.
pub struct ThrottlingProxy {
    url: String,
    targets: Targets,
    _shutdown: oneshot::Sender<()>,
}

impl ThrottlingProxy {
    /// A proxy on 127.0.0.1 (a free port) in front of moto (`TALLY_TEST_MOTO_ENDPOINT`).
    pub async fn start() -> ThrottlingProxy {
        let moto = crate::moto::sdk_config().await;
        let endpoint = moto
            .endpoint_url()
            .expect("moto's configuration names its endpoint");
        Self::in_front_of(endpoint).await
    }

    /// A proxy on 127.0.0.1 (a free port) in front of `upstream` (a base URL).
    pub async fn in_front_of(upstream: &str) -> ThrottlingProxy {
        let targets = Targets::default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a reqwest client");
        let proxy = Arc::new(Proxy {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client,
            targets: targets.clone(),
        });
        let app = Router::new().fallback(handle).with_state(proxy);
        let (address, tx) = crate::serve_on_loopback(app, "the throttling proxy").await;
        ThrottlingProxy {
            url: format!("http://{address}"),
            targets,
            _shutdown: tx,
        }
    }

    /// The proxy's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Fails the next `times` requests of `target` with `fault` (replacing any fault
    /// still pending for it); `u32::MAX` for every request.
    pub fn fail(&self, target: &str, fault: Fault, times: u32) {
        lock(&self.targets)
            .entry(target.to_owned())
            .or_default()
            .fault = Some((fault, times));
    }

    /// What the proxy did so far with the requests of `target`.
    pub fn counts(&self, target: &str) -> Counts {
        lock(&self.targets)
            .get(target)
            .map(|t| t.counts)
            .unwrap_or_default()
    }

    /// The body of every request of `target` so far, failed or forwarded, in order.
    pub fn bodies(&self, target: &str) -> Vec<Bytes> {
        lock(&self.targets)
            .get(target)
            .map(|t| t.bodies.clone())
            .unwrap_or_default()
    }

    /// The SDK configuration to reach moto through the proxy: Tally's own
    /// (`tally::adapters::aws::sdk_config`, so its retry behaviour is the one under
    /// test) with the proxy as endpoint and moto's region and credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        let moto = crate::moto::sdk_config().await;
        let mut builder = tally::adapters::aws::sdk_config(Some(&self.url))
            .await
            .to_builder();
        builder.set_region(moto.region().cloned());
        builder.set_credentials_provider(moto.credentials_provider());
        builder.build()
    }
}

/// What the proxy does with a request of `target`: the fault to answer with, if any.
/// Records the body and counts the request.
fn admit(targets: &Targets, target: &str, body: &Bytes) -> Option<Fault> {
    let mut targets = lock(targets);
    let state = targets.entry(target.to_owned()).or_default();
    state.bodies.push(body.clone());
    let fault = match &mut state.fault {
        Some((fault, remaining)) if *remaining > 0 => {
            *remaining -= 1;
            Some(*fault)
        }
        _ => None,
    };
    match fault {
        Some(fault) if fault.blocks() => state.counts.throttled += 1,
        Some(Fault::DynamoDbUnprocessedHalf) => state.counts.forwarded += 1,
        Some(_) => {
            state.counts.forwarded += 1;
            state.counts.failed_after_forwarding += 1;
        }
        None => state.counts.forwarded += 1,
    }
    fault
}

/// Headers that belong to one connection, or that the HTTP stack sets itself.
fn is_hop_header(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::HOST,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
}

fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    headers
        .iter()
        .filter(|(name, _)| !is_hop_header(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

fn bad_gateway(what: &str, err: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        format!("throttling proxy: {what}: {err}"),
    )
        .into_response()
}

async fn handle(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(err) => return bad_gateway("reading the request", err),
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let fault = admit(&proxy.targets, target, &body);
    if let Some(fault) = fault.filter(|f| f.blocks()) {
        return fault.response(&body);
    }
    if fault == Some(Fault::DynamoDbUnprocessedHalf) {
        return forward_half_of_a_batch(&proxy, parts, &body).await;
    }

    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let forwarded = proxy
        .client
        .request(parts.method, format!("{}{path}", proxy.upstream))
        .headers(end_to_end(&parts.headers))
        .body(body)
        .send()
        .await;
    let upstream = match forwarded {
        Ok(response) => response,
        Err(err) => return bad_gateway("forwarding", err),
    };
    let status = upstream.status();
    let headers = end_to_end(upstream.headers());
    let body = match upstream.bytes().await {
        Ok(body) => body,
        Err(err) => return bad_gateway("reading the response", err),
    };
    if let Some(fault) = fault {
        // Applied upstream; the client hears of a failure.
        return fault.response(&body);
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// [`Fault::DynamoDbUnprocessedHalf`]: forwards the first half of each table's writes
/// and answers with moto's response plus the other half as `UnprocessedItems`.
async fn forward_half_of_a_batch(
    proxy: &Proxy,
    parts: axum::http::request::Parts,
    body: &Bytes,
) -> Response {
    let (forwarded, unprocessed) = split_batch(body, |n| n - n / 2);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let upstream = proxy
        .client
        .request(parts.method, format!("{}{path}", proxy.upstream))
        .headers(end_to_end(&parts.headers))
        .body(forwarded.to_string())
        .send()
        .await;
    let upstream = match upstream {
        Ok(response) if response.status().is_success() => response,
        Ok(response) => return bad_gateway("moto refused the half batch", response.status()),
        Err(err) => return bad_gateway("forwarding", err),
    };
    let mut answer: Value = match upstream.json().await {
        Ok(answer) => answer,
        Err(err) => return bad_gateway("reading the response", err),
    };
    answer["UnprocessedItems"] = unprocessed;
    // A fresh response: moto's headers (its CRC32 of the body among them) would not
    // match the rewritten body.
    json_response(StatusCode::OK, &answer)
}
