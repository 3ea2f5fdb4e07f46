//! Traces: a `tracing` layer that sends the spans of a sampled Lambda invocation to the
//! X-Ray daemon as subsegments of the function's segment, over the daemon's UDP
//! protocol (a JSON header line, then one segment document per datagram).
//!
//! With active tracing, Lambda starts the trace (or continues API Gateway's), records
//! the function's own segment, runs the daemon beside the function
//! (`AWS_XRAY_DAEMON_ADDRESS`) and hands each invocation its trace header
//! (`Root=…;Parent=…;Sampled=…`), which `lambda_runtime` puts on its invocation span
//! (`xrayTraceId`) and in `_X_AMZN_TRACE_ID`. Every span this layer sees below that is
//! one subsegment, parented on the span above it or, at the top, on the function's
//! segment:
//! * the invocation span and Tally's own spans (`request` with its route, `job` with
//!   its name, the engine's phases `engine.*`);
//! * the AWS SDK's operation spans (`DynamoDB.Query`, `KMS.Decrypt`, …: the SDK names
//!   them and gives them `rpc.service`/`rpc.method`), as `aws` subsegments named by
//!   service with their operation, the form X-Ray's service map draws as a node.
//!
//! Only span names, the route template and the job's name are sent — never a field's
//! value otherwise: spans carry tenant ids and paths, which a trace does not need.

use std::net::{SocketAddr, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterFn, Filtered, filter_fn};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The span `lambda_runtime` opens around each invocation.
const INVOCATION_SPAN: &str = "Lambda runtime invoke";
/// The daemon protocol's header, before every document.
const HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";
/// Fields sent along as annotations (indexed in X-Ray, usable in filter expressions).
const ANNOTATED: [&str; 2] = ["route", "job"];

/// An invocation's trace, from its header.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TraceHeader {
    root: String,
    parent: String,
    sampled: bool,
}

impl TraceHeader {
    /// `Root=1-…;Parent=…;Sampled=1` (any order, other keys ignored); `None` without a
    /// root or a parent.
    fn parse(header: &str) -> Option<Self> {
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for pair in header.split(';') {
            match pair.trim().split_once('=') {
                Some(("Root", value)) => root = Some(value.to_owned()),
                Some(("Parent", value)) => parent = Some(value.to_owned()),
                Some(("Sampled", value)) => sampled = value == "1",
                _ => {}
            }
        }
        Some(Self {
            root: root.filter(|r| r.starts_with("1-"))?,
            parent: parent.filter(|p| p.len() == 16)?,
            sampled,
        })
    }
}

/// What the layer keeps of a span while it is open.
struct Open {
    /// This span's subsegment id.
    id: String,
    /// The trace it belongs to, `None` when it is not sampled (or there is none).
    trace: Option<TraceHeader>,
    /// The subsegment (or the function's segment) it hangs from.
    parent: String,
    name: String,
    aws_operation: Option<String>,
    annotations: Map<String, Value>,
    start: f64,
}

#[derive(Default)]
struct Fields {
    trace_header: Option<String>,
    service: Option<String>,
    operation: Option<String>,
    annotations: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "xrayTraceId" => self.trace_header = Some(value.to_owned()),
            "rpc.service" => self.service = Some(value.to_owned()),
            "rpc.method" => self.operation = Some(value.to_owned()),
            name if ANNOTATED.contains(&name) => {
                self.annotations
                    .insert(name.to_owned(), Value::String(value.to_owned()));
            }
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "xrayTraceId" || ANNOTATED.contains(&field.name()) {
            let text = format!("{value:?}");
            self.record_str(field, text.trim_matches('"'));
        }
    }
}

/// The layer: spans to the daemon at `daemon`.
pub struct XrayLayer {
    socket: UdpSocket,
    daemon: SocketAddr,
}

/// Which spans become subsegments (see the module's documentation).
fn traced(meta: &Metadata<'_>) -> bool {
    meta.is_span()
        && (meta.target().starts_with("tally")
            || meta.name() == INVOCATION_SPAN
            || meta.fields().field("rpc.service").is_some())
}

type Filter = FilterFn<fn(&Metadata<'_>) -> bool>;

/// The layer for this process: present when `AWS_XRAY_DAEMON_ADDRESS` names a daemon
/// (Lambda sets it when active tracing is on), absent otherwise (the local server).
pub fn layer_from_env<S>() -> Option<Filtered<XrayLayer, Filter, S>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let address = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
    let daemon = daemon_address(&address)?;
    layer(daemon)
}

/// The layer sending to `daemon`; `None` if no UDP socket can be opened.
pub fn layer<S>(daemon: SocketAddr) -> Option<Filtered<XrayLayer, Filter, S>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let local: SocketAddr = if daemon.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(local).ok()?;
    socket.set_nonblocking(true).ok()?;
    Some(XrayLayer { socket, daemon }.with_filter(filter_fn(traced as fn(&Metadata<'_>) -> bool)))
}

/// `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `tcp:host:port udp:host:port`.
fn daemon_address(value: &str) -> Option<SocketAddr> {
    value
        .split_whitespace()
        .find_map(|part| match part.split_once(':') {
            Some(("udp", rest)) => rest.parse().ok(),
            Some(("tcp", _)) => None,
            _ => part.parse().ok(),
        })
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A new subsegment id: 16 hex digits.
fn new_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: a clock-derived id still tells this span from its siblings.
        bytes = now().to_bits().to_be_bytes();
    }
    hex::encode(bytes)
}

/// X-Ray allows letters, digits, white space and `_ . : / % & # = + \ - @` in a name,
/// up to 200 characters.
fn segment_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() || "_.:/%&#=+\\-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect()
}

impl<S> Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let above = span.parent().and_then(|parent| {
            parent
                .extensions()
                .get::<Open>()
                .map(|open| (open.trace.clone(), open.id.clone()))
        });
        let (trace, parent) = match above {
            Some((trace, parent)) => (trace, parent),
            None => {
                let header = fields
                    .trace_header
                    .clone()
                    .or_else(|| std::env::var("_X_AMZN_TRACE_ID").ok());
                match header.as_deref().and_then(TraceHeader::parse) {
                    Some(trace) => {
                        let parent = trace.parent.clone();
                        (Some(trace), parent)
                    }
                    None => (None, String::new()),
                }
            }
        };
        let trace = trace.filter(|t| t.sampled);
        let meta = attrs.metadata();
        let (name, aws_operation) = match (fields.service, fields.operation) {
            (Some(service), operation) => (service, operation),
            (None, _) => (meta.name().to_owned(), None),
        };
        span.extensions_mut().insert(Open {
            id: new_id(),
            trace,
            parent,
            name: segment_name(&name),
            aws_operation,
            annotations: fields.annotations,
            start: now(),
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        let Some(trace) = &open.trace else {
            return;
        };
        let mut document = json!({
            "type": "subsegment",
            "id": open.id,
            "trace_id": trace.root,
            "parent_id": open.parent,
            "name": open.name,
            "start_time": open.start,
            "end_time": now().max(open.start),
        });
        if let Some(operation) = open.aws_operation {
            document["namespace"] = json!("aws");
            document["aws"] = json!({ "operation": operation });
        }
        if !open.annotations.is_empty() {
            document["annotations"] = Value::Object(open.annotations);
        }
        let datagram = format!("{HEADER}{document}");
        // Fire and forget: a trace is never worth slowing or failing the work.
        let _ = self.socket.send_to(datagram.as_bytes(), self.daemon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tracing_subscriber::layer::SubscriberExt;

    fn receive_all(socket: &UdpSocket) -> Vec<Value> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = socket.recv(&mut buf) {
            let text = std::str::from_utf8(&buf[..n]).expect("utf-8");
            let (header, body) = text.split_once('\n').expect("a header line");
            assert_eq!(format!("{header}\n"), HEADER);
            out.push(serde_json::from_str(body).expect("a JSON document"));
        }
        out
    }

    fn daemon() -> UdpSocket {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        socket
    }

    const HEADER_SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    /// The shape of X-Ray's segment documents (AWS X-Ray developer guide, "AWS X-Ray
    /// segment documents": subsegments sent separately carry `type`, `trace_id` and
    /// `parent_id`; AWS calls have `namespace: aws` and `aws.operation`).
    #[test]
    fn a_sampled_invocation_sends_a_subsegment_per_span_parented_on_the_one_above() {
        let daemon = daemon();
        let address = daemon.local_addr().expect("address");
        let subscriber = tracing_subscriber::registry().with(layer(address).expect("a socket"));
        tracing::subscriber::with_default(subscriber, || {
            let invocation = tracing::info_span!(
                "Lambda runtime invoke",
                requestId = "r-1",
                xrayTraceId = HEADER_SAMPLED
            );
            let _invocation = invocation.enter();
            let request = tracing::info_span!(target: "tally::http", "request", route = "GET /v1/customers/{id}", tenant_id = "t-secret");
            let _request = request.enter();
            {
                let call = tracing::debug_span!(
                    "DynamoDB.Query",
                    "rpc.service" = "DynamoDB",
                    "rpc.method" = "Query",
                    "rpc.system" = "aws-api"
                );
                let _call = call.enter();
                // An SDK-internal span in between is not a subsegment of its own.
                let _internal =
                    tracing::debug_span!(target: "aws_smithy_runtime", "try_attempt").entered();
            }
        });
        let documents = receive_all(&daemon);
        assert_eq!(documents.len(), 3, "{documents:?}");
        let by_name = |name: &str| {
            documents
                .iter()
                .find(|d| d["name"] == name)
                .unwrap_or_else(|| panic!("no {name} in {documents:?}"))
        };
        let invocation = by_name("Lambda runtime invoke");
        let request = by_name("request");
        let call = by_name("DynamoDB");
        for d in &documents {
            assert_eq!(d["type"], "subsegment");
            assert_eq!(d["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
            assert_eq!(d["id"].as_str().map(str::len), Some(16));
            assert!(d["start_time"].as_f64() <= d["end_time"].as_f64());
        }
        assert_eq!(invocation["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(request["parent_id"], invocation["id"]);
        assert_eq!(call["parent_id"], request["id"]);
        assert_eq!(call["namespace"], "aws");
        assert_eq!(call["aws"]["operation"], "Query");
        assert_eq!(request["annotations"]["route"], "GET /v1/customers/{id}");
        // Field values other than the route and job never leave the process.
        let all = serde_json::to_string(&documents).expect("json");
        assert!(!all.contains("t-secret") && !all.contains("r-1"), "{all}");
    }

    #[test]
    fn an_unsampled_or_untraced_invocation_sends_nothing() {
        let daemon = daemon();
        let address = daemon.local_addr().expect("address");
        let subscriber = tracing_subscriber::registry().with(layer(address).expect("a socket"));
        tracing::subscriber::with_default(subscriber, || {
            let unsampled = HEADER_SAMPLED.replace("Sampled=1", "Sampled=0");
            let _a = tracing::info_span!("Lambda runtime invoke", xrayTraceId = unsampled.as_str())
                .entered();
            let _b = tracing::info_span!(target: "tally::engine", "engine.compute").entered();
        });
        assert!(receive_all(&daemon).is_empty());
    }

    #[test]
    fn headers_and_daemon_addresses_parse_as_lambda_gives_them() {
        let header = TraceHeader::parse(HEADER_SAMPLED).expect("parses");
        assert_eq!(header.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(header.parent, "53995c3f42cd8ad8");
        assert!(header.sampled);
        assert_eq!(
            TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793"),
            None
        );
        assert_eq!(
            daemon_address("169.254.79.129:2000"),
            Some("169.254.79.129:2000".parse().expect("addr"))
        );
        assert_eq!(
            daemon_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001"),
            Some("127.0.0.2:2001".parse().expect("addr"))
        );
        assert_eq!(daemon_address("not an address"), None);
        assert_eq!(segment_name("GET /v1/x/{id}"), "GET /v1/x/_id_");
    }
}
