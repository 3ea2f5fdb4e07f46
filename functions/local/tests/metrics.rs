//! The local metrics sink: `<data-dir>/metrics.jsonl` holds the same Embedded Metric
//! Format documents a Lambda function writes to CloudWatch, so an operator can read the
//! numbers the template's alarms watch on a laptop. After a sign-in, a sync and a sweep
//! each shows its metrics, with the dimensions the alarms name.

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::{Http, Server, demo_password, path, run_to_end};

/// Every EMF document of the file.
fn documents(dir: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// The documents that carry `metric`, checked against the EMF specification's shape
/// (CloudWatch "Embedded metric format specification": `_aws.CloudWatchMetrics[]` with
/// `Namespace`, `Dimensions` as lists of names, `Metrics` with `Name`/`Unit`; each
/// dimension and metric a top-level member).
fn with_metric<'a>(docs: &'a [Value], metric: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|doc| {
            let directive = &doc["_aws"]["CloudWatchMetrics"][0];
            let named = directive["Metrics"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["Name"] == metric));
            if named {
                assert_eq!(directive["Namespace"], "Tally", "{doc}");
                assert!(doc["_aws"]["Timestamp"].is_u64(), "{doc}");
                let dimensions = directive["Dimensions"][0]
                    .as_array()
                    .expect("a dimension set");
                for name in dimensions {
                    let name = name.as_str().expect("a dimension name");
                    assert!(
                        doc[name].is_string(),
                        "dimension {name} has its value: {doc}"
                    );
                }
                assert_eq!(doc["Function"], "local", "{doc}");
                assert!(!doc[metric].is_null(), "{metric} has a value: {doc}");
            }
            named
        })
        .collect()
}

/// The largest value of `metric` in `docs` (a value or an array of values).
fn max_value(docs: &[&Value], metric: &str) -> f64 {
    docs.iter()
        .flat_map(|doc| match &doc[metric] {
            Value::Array(values) => values.iter().filter_map(Value::as_f64).collect(),
            value => value.as_f64().into_iter().collect::<Vec<_>>(),
        })
        .fold(f64::MIN, f64::max)
}

#[test]
fn a_sign_in_a_sync_and_a_sweep_leave_their_metrics_in_the_local_sink() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path();
    let http = Http::new();

    // A demo tenant (its first sync), a sign-in that succeeds and one that does not.
    let (server, lines) = Server::spawn(
        data,
        "serve --demo",
        &["--demo", "--customers", "30", "--paddle-customers", "0"],
    );
    let password = demo_password(&lines.join("\n"));
    let session = http.sign_in(&server, &password);
    let (status, _) = http.call(
        Method::POST,
        &session.url("/v1/sessions"),
        None,
        Some(json!({ "email": tally::local::DEMO_EMAIL, "password": "not the password" })),
    );
    assert_eq!(status, 401);
    let integrations = http.get(&session, "/v1/integrations");
    let integration = integrations["data"][0]["id"]
        .as_str()
        .expect("the demo integration")
        .to_owned();
    drop(server);

    let docs = documents(data);
    let sign_ins = with_metric(&docs, "SignIns");
    let outcomes: Vec<&str> = sign_ins
        .iter()
        .filter_map(|d| d["Outcome"].as_str())
        .collect();
    assert!(
        outcomes.contains(&"success") && outcomes.contains(&"rejected"),
        "{outcomes:?}"
    );
    let requests = with_metric(&docs, "Requests");
    assert!(
        requests
            .iter()
            .any(|d| d["Route"] == "POST /v1/sessions" && d["StatusClass"] == "4xx"),
        "the refused sign-in's route and class"
    );
    assert!(
        requests
            .iter()
            .any(|d| d["Route"] == "GET /v1/integrations" && d["StatusClass"] == "2xx"),
    );
    assert!(!with_metric(&docs, "ApiRequests").is_empty());
    assert!(!with_metric(&docs, "ApiLatency").is_empty());
    assert!(!with_metric(&docs, "RequestLatency").is_empty());
    let syncs = with_metric(&docs, "SyncDuration");
    assert!(
        syncs
            .iter()
            .any(|d| d["Integration"] == integration.as_str() && d["Provider"] == "demo"),
        "the demo sync, by integration: {syncs:?}"
    );
    let written = with_metric(&docs, "SyncRecordsWritten");
    assert!(
        max_value(&written, "SyncRecordsWritten") > 100.0,
        "{written:?}"
    );
    assert!(max_value(&with_metric(&docs, "SnapshotSize"), "SnapshotSize") > 0.0);
    assert!(!with_metric(&docs, "SnapshotRebuildTime").is_empty());

    // The sync planner reports each integration's time since its last sync.
    run_to_end("ingest", &["ingest", "--data-dir", path(data)]);
    let docs = documents(data);
    let ages = with_metric(&docs, "SyncAge");
    assert!(
        ages.iter()
            .any(|d| d["Integration"] == integration.as_str()),
        "{ages:?}"
    );
    assert!(!with_metric(&docs, "MaxSyncAge").is_empty());
    let jobs = with_metric(&docs, "JobDuration");
    assert!(jobs.iter().any(|d| d["Job"] == "sync"), "{jobs:?}");

    // Disconnected, then swept a day and an hour later: the planner saw a deletion
    // pending for 25 hours (past the alarm's 20), and the purge removed items.
    let (server, _) = Server::spawn(data, "serve (again)", &[]);
    let session = http.sign_in(&server, &password);
    let (status, body) = http.call(
        Method::DELETE,
        &session.url(&format!("/v1/integrations/{integration}")),
        Some(&session.token),
        None,
    );
    assert!(status < 300, "disconnect: {status} {body}");
    drop(server);
    let at = (Utc::now() + chrono::Duration::hours(25)).to_rfc3339();
    run_to_end("sweep", &["sweep", "--data-dir", path(data), "--at", &at]);
    let docs = documents(data);
    let pending = with_metric(&docs, "OldestPendingDeletionAge");
    let oldest = max_value(&pending, "OldestPendingDeletionAge");
    assert!(
        (25.0 * 3600.0 - 120.0..=25.0 * 3600.0 + 600.0).contains(&oldest),
        "{oldest}"
    );
    assert!(!with_metric(&docs, "OldestClosureAge").is_empty());
    let deleted = with_metric(&docs, "SweepDeletedItems");
    assert!(
        deleted.iter().any(|d| d["Kind"] == "integration"),
        "the purge's items: {deleted:?}"
    );

    // Routes are templates, and nothing personal is in the file.
    let text = std::fs::read_to_string(data.join("metrics.jsonl")).expect("the sink");
    assert!(!text.contains(tally::local::DEMO_EMAIL));
    for doc in with_metric(&docs, "Requests") {
        let route = doc["Route"].as_str().unwrap_or_default();
        assert!(!route.contains(&integration), "a route with an id: {route}");
    }
}
