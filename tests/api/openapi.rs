//! The OpenAPI document is generated from the code (`tally::http::openapi`); these tests
//! hold it to the route table and to its committed copy:
//!
//! - `openapi.yaml` at the repository root is exactly what the code generates. Run
//!   `UPDATE_OPENAPI=1 cargo test -p tally-tests --test api openapi` to rewrite it.
//! - The document served at `GET /openapi.json` has exactly the routes of the route
//!   table (so exactly what the routers serve: `template.rs` checks the table against
//!   the app), and each operation documents its success, its 401 when it needs a
//!   session, and the body errors when it takes a body.
//! - `GET /docs` is a reference page that loads nothing from anywhere.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::spawn_app;
use crate::routes::{self, Needs};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");

#[derive(Debug, Default)]
struct Operation {
    /// Upper case, as `reqwest::Method` prints it.
    method: String,
    path: String,
    /// `security: []`: no session needed.
    public: bool,
    has_body: bool,
    statuses: BTreeSet<String>,
}

/// The operations of a document, path by path.
fn operations(doc: &Value) -> Vec<Operation> {
    let paths = doc["paths"].as_object().expect("the document has paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for (method, op) in item.iter().filter(|(k, _)| METHODS.contains(&k.as_str())) {
            operations.push(Operation {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                public: op.get("security") == Some(&Value::Array(Vec::new())),
                has_body: op.get("requestBody").is_some(),
                statuses: op["responses"]
                    .as_object()
                    .map(|r| r.keys().cloned().collect())
                    .unwrap_or_default(),
            });
        }
    }
    operations
}

/// The document as the local server serves it.
async fn served_document() -> Value {
    let app = spawn_app().await;
    let response = app.request(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("the document is JSON")
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = tally::http::openapi::yaml().expect("the document serializes");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &generated).expect("openapi.yaml is writable");
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.yaml differs from what the code generates: run \
         `UPDATE_OPENAPI=1 cargo test -p tally-tests --test api openapi` and commit it"
    );
}

#[tokio::test]
async fn the_document_has_exactly_the_routes_of_the_table() {
    let operations = operations(&served_document().await);
    let seen: BTreeSet<(String, String)> = operations
        .iter()
        .map(|op| (op.method.clone(), op.path.clone()))
        .collect();
    assert_eq!(
        seen.len(),
        operations.len(),
        "an operation is documented twice"
    );
    let table: BTreeSet<(String, String)> = routes::all()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = table.difference(&seen).collect();
    let extra: Vec<_> = seen.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes missing from the document: {missing:?}; documented but not routes: {extra:?}"
    );
}

#[tokio::test]
async fn every_operation_documents_its_success_auth_and_body_errors() {
    let needs: BTreeMap<(String, &str), Needs> = routes::all()
        .iter()
        .map(|r| ((r.method.to_string(), r.path), r.needs))
        .collect();
    let mut problems = Vec::new();
    for op in operations(&served_document().await) {
        let name = format!("{} {}", op.method, op.path);
        // A success is a 2xx; the OAuth callback's only success is its 302 redirect.
        let succeeds = op.statuses.iter().any(|s| s.starts_with('2') || s == "302");
        if !succeeds {
            problems.push(format!("{name}: no 2xx (or redirect) response"));
        }
        let Some(&need) = needs.get(&(op.method.clone(), op.path.as_str())) else {
            continue; // reported by the parity test
        };
        let public = need == Needs::Nothing;
        if op.public != public {
            problems.push(format!(
                "{name}: `security: []` is {} but the route table says {need:?}",
                if op.public { "set" } else { "missing" }
            ));
        }
        if !public && !op.statuses.contains("401") {
            problems.push(format!("{name}: needs a session but documents no 401"));
        }
        if op.has_body {
            for status in ["400", "413"] {
                if !op.statuses.contains(status) {
                    problems.push(format!("{name}: takes a body but documents no {status}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every `$ref` of a value, wherever it is.
fn references<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target);
            }
            map.values().for_each(|v| references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_in_the_document_resolves() {
    let doc = served_document().await;
    let mut targets = Vec::new();
    references(&doc, &mut targets);
    let dangling: BTreeSet<&str> = targets
        .into_iter()
        .filter(|target| {
            let pointer = target.strip_prefix('#').unwrap_or(target);
            doc.pointer(pointer).is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
}

#[test]
fn the_reader_finds_operations_security_bodies_and_statuses() {
    let doc = serde_json::json!({
        "paths": {
            "/v1/a/{id}": {
                "parameters": [{"name": "id", "in": "path"}],
                "get": {"security": [], "responses": {"200": {}, "404": {}}},
                "delete": {"requestBody": {}, "responses": {"204": {}}},
            },
            "/v1/b": {"post": {"security": [{"bearer": []}, {}], "responses": {"201": {}}}},
        }
    });
    let ops = operations(&doc);
    assert_eq!(ops.len(), 3);
    let get = ops.iter().find(|o| o.method == "GET").unwrap();
    assert!(get.public && !get.has_body);
    assert_eq!(
        get.statuses.iter().map(String::as_str).collect::<Vec<_>>(),
        ["200", "404"]
    );
    let delete = ops.iter().find(|o| o.method == "DELETE").unwrap();
    assert!(!delete.public && delete.has_body);
    let post = ops.iter().find(|o| o.method == "POST").unwrap();
    assert!(!post.public, "a session is optional there, not absent");
}

#[tokio::test]
async fn the_reference_page_is_served_without_any_script() {
    let app = spawn_app().await;
    let response = app.request(Method::GET, "/docs", None, None).await;
    assert_eq!(response.status(), 200);
    let policy = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    let html = response.text().await.unwrap();
    assert!(html.contains("createSession") && !html.contains("<script"));
}
