//! `openapi.yaml` documents exactly the route table (so exactly what the routers serve:
//! `template.rs` checks the table against the app), and each operation documents its
//! success, its 401 when it needs a session, and the body errors when it takes a body.
//!
//! The document is ours and laid out predictably, so it is read line by line rather than
//! with a YAML parser. The layout rule (also stated at the top of `openapi.yaml`):
//! - `paths:` and every other top-level key start at column 0;
//! - a path is a key indented by exactly 2 spaces (`  /v1/...:`);
//! - an operation is a method key indented by exactly 4 spaces (`    get:`); any other
//!   key at that depth (a path-level `parameters:`) is not an operation;
//! - inside an operation, `security: []`, `requestBody:` and `responses:` are indented
//!   by 6 spaces, and each response status by 8 spaces (`        '200':`);
//! - indentation is spaces only.

use std::collections::{BTreeMap, BTreeSet};

use crate::routes::{self, Needs};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

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

fn document() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
        .expect("openapi.yaml is readable at the repository root")
}

/// The operations under `paths:`, in document order.
fn operations(text: &str) -> Vec<Operation> {
    let mut operations: Vec<Operation> = Vec::new();
    let mut in_paths = false;
    let mut path: Option<String> = None;
    let mut in_operation = false;
    let mut in_responses = false;
    for (number, raw) in text.lines().enumerate() {
        assert!(
            !raw.contains('\t'),
            "openapi.yaml line {}: tabs are not allowed",
            number + 1
        );
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if indent == 0 {
            in_paths = trimmed == "paths:";
            path = None;
            in_operation = false;
            in_responses = false;
            continue;
        }
        if !in_paths {
            continue;
        }
        match indent {
            2 => {
                let key = trimmed
                    .strip_suffix(':')
                    .filter(|k| k.starts_with('/'))
                    .unwrap_or_else(|| {
                        panic!("openapi.yaml line {}: expected a path key", number + 1)
                    });
                path = Some(key.to_owned());
                in_operation = false;
                in_responses = false;
            }
            4 => {
                let key = trimmed.strip_suffix(':').unwrap_or(trimmed);
                in_responses = false;
                in_operation = METHODS.contains(&key);
                if in_operation {
                    let path = path.clone().unwrap_or_else(|| {
                        panic!("openapi.yaml line {}: method outside a path", number + 1)
                    });
                    operations.push(Operation {
                        method: key.to_ascii_uppercase(),
                        path,
                        ..Operation::default()
                    });
                }
            }
            6 if in_operation => {
                let operation = operations.last_mut().expect("an operation is open");
                in_responses = trimmed == "responses:";
                if trimmed == "security: []" {
                    operation.public = true;
                }
                if trimmed == "requestBody:" {
                    operation.has_body = true;
                }
            }
            8 if in_operation && in_responses => {
                let status = trimmed
                    .strip_suffix(':')
                    .map(|k| k.trim_matches(|c| c == '\'' || c == '"'))
                    .filter(|k| k.len() == 3 && k.bytes().all(|b| b.is_ascii_digit()))
                    .unwrap_or_else(|| {
                        panic!(
                            "openapi.yaml line {}: expected a quoted status code",
                            number + 1
                        )
                    });
                let operation = operations.last_mut().expect("an operation is open");
                operation.statuses.insert(status.to_owned());
            }
            _ => {}
        }
    }
    operations
}

#[test]
fn the_document_has_exactly_the_routes_of_the_table() {
    let operations = operations(&document());
    let mut seen = BTreeSet::new();
    let duplicates: Vec<_> = operations
        .iter()
        .map(|op| (op.method.clone(), op.path.clone()))
        .filter(|key| !seen.insert(key.clone()))
        .collect();
    assert!(
        duplicates.is_empty(),
        "operations documented twice: {duplicates:?}"
    );
    let table: BTreeSet<(String, String)> = routes::all()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = table.difference(&seen).collect();
    let extra: Vec<_> = seen.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes missing from openapi.yaml: {missing:?}; documented but not routes: {extra:?}"
    );
}

#[test]
fn every_operation_documents_its_success_auth_and_body_errors() {
    let needs: BTreeMap<(String, &str), Needs> = routes::all()
        .iter()
        .map(|r| ((r.method.to_string(), r.path), r.needs))
        .collect();
    let mut problems = Vec::new();
    for op in operations(&document()) {
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

#[test]
fn the_line_reader_follows_the_layout_rule() {
    let text = "\
openapi: 3.1.0
paths:
  /v1/a/{id}:
    parameters:
      - $ref: '#/components/parameters/UuidId'
    get:
      security: []
      parameters:
        - name: x
      responses:
        '200':
          description: ok
        # a comment
        '404':
          $ref: '#/components/responses/NotFound'
    delete:
      requestBody:
        required: true
      responses:
        '204':
          description: gone
components:
  responses:
    NotFound:
      description: no
";
    let ops = operations(text);
    assert_eq!(ops.len(), 2);
    assert_eq!(
        (ops[0].method.as_str(), ops[0].path.as_str()),
        ("GET", "/v1/a/{id}")
    );
    assert!(ops[0].public && !ops[0].has_body);
    assert_eq!(
        ops[0]
            .statuses
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["200", "404"]
    );
    assert_eq!(ops[1].method, "DELETE");
    assert!(!ops[1].public && ops[1].has_body);
    assert_eq!(
        ops[1]
            .statuses
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["204"]
    );
}
