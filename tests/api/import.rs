//! The Import API: a custom integration's customers, plans, subscription events,
//! payments and refunds, as JSON batches and CSV files, against the spawned app. A CSV
//! file is queued (202); the tests run its job as the ingest function would on the
//! `ImportRequested` event, then read the run back.

use std::io::Write;
use std::time::Instant;

use chrono::Duration;
use reqwest::Response;
use serde_json::{Value, json};
use tally::domain::ids::{ImportId, IntegrationId, TenantId};
use tally::ports::store::query_all;
use tally::ports::{Clock, Query, SortKeys};
use tally::services::jobs::{self, Job, JobReport, Workers};

use crate::helpers::{TestApp, error_code, spawn_app};

const DAY: i64 = 86_400;

/// A tenant with a custom integration: app, admin token, integration id.
async fn tenant_with_custom() -> (TestApp, String, String, String) {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = create_custom(&app, &token).await;
    (app, token, id, admin.tenant_id)
}

async fn create_custom(app: &TestApp, token: &str) -> String {
    let response = app
        .post(
            "/v1/integrations/custom",
            Some(token),
            json!({ "name": "Chargebee export" }),
        )
        .await;
    assert_eq!(response.status(), 201, "POST /v1/integrations/custom");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["provider"], "custom");
    assert_eq!(body["name"], "Chargebee export");
    body["id"].as_str().unwrap().to_owned()
}

async fn post_rows(app: &TestApp, token: &str, id: &str, kind: &str, rows: Value) -> Response {
    app.post(
        &format!("/v1/integrations/{id}/import/{kind}"),
        Some(token),
        json!({ "data": rows }),
    )
    .await
}

async fn import_json(app: &TestApp, token: &str, id: &str, kind: &str, rows: Value) -> Value {
    let response = post_rows(app, token, id, kind, rows).await;
    assert_eq!(response.status(), 200, "import {kind}");
    response.json().await.unwrap()
}

async fn post_csv(
    app: &TestApp,
    token: &str,
    id: &str,
    kind: &str,
    body: Vec<u8>,
    gzip: bool,
) -> Response {
    let mut request = reqwest::Client::new()
        .post(format!(
            "{}/v1/integrations/{id}/import/{kind}",
            app.address
        ))
        .bearer_auth(token)
        .header("content-type", "text/csv");
    if gzip {
        request = request.header("content-encoding", "gzip");
    }
    request.body(body).send().await.unwrap()
}

/// Posts a CSV file: 202 and the queued import's id.
async fn queue_csv(
    app: &TestApp,
    token: &str,
    id: &str,
    kind: &str,
    body: Vec<u8>,
    gzip: bool,
) -> String {
    let response = post_csv(app, token, id, kind, body, gzip).await;
    assert_eq!(response.status(), 202, "CSV import {kind}");
    let queued: Value = response.json().await.unwrap();
    assert_eq!(queued["status"], "queued", "{queued}");
    queued["id"].as_str().unwrap().to_owned()
}

/// Runs the import job as the ingest function would: from the last `ImportRequested`
/// event for `import`, as EventBridge delivers it.
async fn run_job(app: &TestApp, import: &str) -> JobReport {
    let detail = app
        .events_of("ImportRequested")
        .into_iter()
        .rfind(|e| e["import_id"] == import)
        .expect("the import was requested on the bus");
    let envelope = json!({ "source": "tally", "detail-type": "ImportRequested", "detail": detail });
    let job = Job::from_payload(envelope).expect("an import job");
    jobs::run(&Workers::all(&app.services), job)
        .await
        .expect("the import job runs")
}

/// `GET /v1/integrations/{id}/imports/{import}`.
async fn get_run(app: &TestApp, token: &str, id: &str, import: &str) -> Value {
    let response = app
        .get(&format!("/v1/integrations/{id}/imports/{import}"), token)
        .await;
    assert_eq!(response.status(), 200, "GET the import");
    response.json().await.unwrap()
}

/// Posts a CSV file, runs its job, and reads the finished run back.
async fn import_csv(app: &TestApp, token: &str, id: &str, kind: &str, text: &str) -> Value {
    let import = queue_csv(app, token, id, kind, text.as_bytes().to_vec(), false).await;
    run_job(app, &import).await;
    let run = get_run(app, token, id, &import).await;
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["kind"], kind, "{run}");
    assert!(run["finished_at"].is_string(), "{run}");
    run
}

/// The staged chunks of the tenant's imports still stored.
async fn staged_chunks(app: &TestApp, tenant: &str) -> usize {
    let store = app.services.adapters.store.as_ref();
    let query = Query::new(format!("TENANT#{tenant}"), SortKeys::prefix("IMPCHUNK#"));
    query_all(store, query).await.unwrap().len()
}

async fn summary(app: &TestApp, token: &str) -> Value {
    let response = app.get("/v1/metrics/summary", token).await;
    assert_eq!(response.status(), 200, "summary");
    response.json().await.unwrap()
}

/// The dataset, as (kind, rows): two customers; `sub-1` starts on Basic × 2 and
/// changes to Pro × 2, `sub-2` starts yearly and is canceled; payments and a refund.
/// MRR now: Pro 3,000 × 2 = 6,000 (sub-2 is gone); one paying customer.
fn dataset(now: i64) -> Vec<(&'static str, Value)> {
    let t0 = now - 120 * DAY;
    vec![
        (
            "customers",
            json!([
                {"external_id": "cust 1", "email": "ana@example.com", "country": "DE", "city": "Berlin", "created_at": t0},
                {"external_id": "cust-2", "email": "bo@example.com", "country": "us", "created_at": "2025-01-01T00:00:00Z"},
            ]),
        ),
        (
            "plans",
            json!([
                {"external_id": "basic", "name": "Basic", "amount": 1000, "currency": "USD", "interval": "month", "interval_count": 1},
                {"external_id": "pro", "name": "Pro", "amount": 3000, "currency": "USD", "interval": "month", "interval_count": 1},
                {"external_id": "yearly", "name": "Yearly", "amount": 120000, "currency": "USD", "interval": "year", "interval_count": 1},
            ]),
        ),
        (
            "subscription_events",
            json!([
                // Listed out of order: the log is ordered by time.
                {"external_id": "ev-2", "customer": "cust 1", "subscription": "sub-1", "type": "change", "at": t0 + 40 * DAY, "plan": "pro", "quantity": 2},
                {"external_id": "ev-1", "customer": "cust 1", "subscription": "sub-1", "type": "start", "at": t0, "plan": "basic", "quantity": 2},
                {"external_id": "ev-3", "customer": "cust-2", "subscription": "sub-2", "type": "start", "at": t0 + 10 * DAY, "plan": "yearly", "quantity": 1},
                {"external_id": "ev-4", "customer": "cust-2", "subscription": "sub-2", "type": "cancel", "at": t0 + 70 * DAY},
            ]),
        ),
        (
            "payments",
            json!([
                {"external_id": "pay-1", "customer": "cust 1", "amount": 2000, "currency": "usd", "status": "succeeded", "at": t0, "payment_method_type": "card", "card_brand": "visa"},
                {"external_id": "pay-2", "customer": "cust-2", "amount": 120000, "currency": "usd", "status": "succeeded", "at": t0 + 10 * DAY},
            ]),
        ),
        (
            "refunds",
            json!([
                {"external_id": "ref-1", "payment": "pay-2", "amount": 60000, "at": t0 + 70 * DAY},
            ]),
        ),
    ]
}

/// The same dataset as CSV files, one per kind.
fn dataset_csv(now: i64) -> Vec<(&'static str, String)> {
    dataset(now)
        .into_iter()
        .map(|(kind, rows)| {
            let rows = rows.as_array().unwrap();
            let mut fields: Vec<String> = Vec::new();
            for row in rows {
                for key in row.as_object().unwrap().keys() {
                    if !fields.contains(key) {
                        fields.push(key.clone());
                    }
                }
            }
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(&fields).unwrap();
            for row in rows {
                let cells: Vec<String> = fields
                    .iter()
                    .map(|f| match &row[f] {
                        Value::Null => String::new(),
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                writer.write_record(&cells).unwrap();
            }
            (
                kind,
                String::from_utf8(writer.into_inner().unwrap()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_json_import_shows_its_mrr_and_reposting_it_changes_nothing() {
    let (app, token, id, _) = tenant_with_custom().await;
    let now = app.clock.now().timestamp();
    for (kind, rows) in dataset(now) {
        let count = rows.as_array().unwrap().len();
        let reply = import_json(&app, &token, &id, kind, rows).await;
        assert_eq!(reply["received"], count, "{kind}: {reply}");
        assert_eq!(reply["written"], count, "{kind}: {reply}");
        assert_eq!(reply["errors"], json!([]), "{kind}: {reply}");
    }
    let first = summary(&app, &token).await;
    assert_eq!(first["currency"], "usd", "{first}");
    assert_eq!(
        first["mrr"], 6000,
        "Pro 3,000 × 2; the yearly plan was canceled: {first}"
    );
    assert_eq!(first["customers"], 1, "{first}");

    for (kind, rows) in dataset(now) {
        let count = rows.as_array().unwrap().len();
        let reply = import_json(&app, &token, &id, kind, rows).await;
        assert_eq!(reply["written"], 0, "{kind}: {reply}");
        assert_eq!(reply["unchanged"], count, "{kind}: {reply}");
    }
    assert_eq!(
        summary(&app, &token).await,
        first,
        "re-posting changes nothing"
    );

    // The integration is listed like any other.
    let list: Value = app
        .get("/v1/integrations", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["provider"], "custom");
    assert_eq!(list["data"][0]["status"], "connected");
}

#[tokio::test]
async fn a_later_batch_extends_a_subscription_and_moves_the_figures() {
    let (app, token, id, _) = tenant_with_custom().await;
    let now = app.clock.now().timestamp();
    for (kind, rows) in dataset(now) {
        import_json(&app, &token, &id, kind, rows).await;
    }
    // The canceled subscription comes back on Basic × 1: a second run.
    let reply = import_json(
        &app,
        &token,
        &id,
        "subscription_events",
        json!([{"external_id": "ev-5", "customer": "cust-2", "subscription": "sub-2",
            "type": "reactivate", "at": now - 5 * DAY, "plan": "basic", "quantity": 1}]),
    )
    .await;
    assert_eq!(reply["written"], 1, "{reply}");
    let after = summary(&app, &token).await;
    assert_eq!(after["mrr"], 7000, "{after}");
    assert_eq!(after["customers"], 2, "{after}");
}

#[tokio::test]
async fn a_bad_row_is_refused_alone_with_its_index_and_field() {
    let (app, token, id, _) = tenant_with_custom().await;
    let now = app.clock.now().timestamp();
    let data = dataset(now);
    import_json(&app, &token, &id, "customers", data[0].1.clone()).await;

    let reply = import_json(
        &app,
        &token,
        &id,
        "plans",
        json!([
            {"external_id": "basic", "name": "Basic", "amount": 1000, "currency": "USD", "interval": "month", "interval_count": 1},
            {"external_id": "odd", "name": "Odd", "amount": 1000, "currency": "dollars", "interval": "month", "interval_count": 1},
            {"external_id": "nameless", "amount": 1000, "currency": "USD", "interval": "month", "interval_count": 1},
            "not an object",
        ]),
    )
    .await;
    assert_eq!(reply["written"], 1, "{reply}");
    assert_eq!(reply["failed"], 3, "{reply}");
    let errors = reply["errors"].as_array().unwrap();
    let named: Vec<(u64, &str, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["field"].as_str().unwrap(),
                e["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (1, "currency", "invalid"),
            (2, "name", "required"),
            (3, "row", "invalid")
        ]
    );

    let reply = import_json(
        &app,
        &token,
        &id,
        "subscription_events",
        json!([
            {"external_id": "e1", "customer": "cust 1", "subscription": "s1", "type": "start", "at": now - 10 * DAY, "plan": "basic", "quantity": 1},
            {"external_id": "e2", "customer": "cust 1", "subscription": "s2", "type": "start", "at": now - 10 * DAY, "plan": "gold", "quantity": 1},
            {"external_id": "e3", "customer": "nobody", "subscription": "s3", "type": "start", "at": now - 10 * DAY, "plan": "basic", "quantity": 1},
            {"external_id": "e4", "customer": "cust 1", "subscription": "s1", "type": "reactivate", "at": now - 5 * DAY, "plan": "basic", "quantity": 1},
        ]),
    )
    .await;
    let named: Vec<(u64, &str, &str)> = reply["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["field"].as_str().unwrap(),
                e["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (1, "plan", "unknown_plan"),
            (2, "customer", "unknown_customer"),
            (3, "type", "out_of_sequence")
        ],
        "{reply}"
    );
    assert_eq!(reply["written"], 1, "{reply}");
    assert_eq!(summary(&app, &token).await["mrr"], 1000);

    // The refusal never echoes the value sent.
    let reply = import_json(
        &app,
        &token,
        &id,
        "customers",
        json!([{"external_id": "c9", "email": "not-an-address secret-value", "created_at": now}]),
    )
    .await;
    assert_eq!(reply["errors"][0]["field"], "email");
    assert!(!reply.to_string().contains("secret-value"), "{reply}");
}

#[tokio::test]
async fn a_batch_over_1000_rows_or_not_an_object_is_refused_whole() {
    let (app, token, id, _) = tenant_with_custom().await;
    let rows: Vec<Value> = (0..1001)
        .map(|n| json!({"external_id": format!("c{n}"), "created_at": 1_700_000_000}))
        .collect();
    let response = post_rows(&app, &token, &id, "customers", json!(rows)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_request");
    let response = app
        .post(
            &format!("/v1/integrations/{id}/import/customers"),
            Some(&token),
            json!([{"external_id": "c1"}]),
        )
        .await;
    assert_eq!(response.status(), 400);
    let response = post_rows(&app, &token, &id, "invoices", json!([])).await;
    assert_eq!(response.status(), 404, "an unknown kind");
    // Nothing was written.
    let response = post_rows(&app, &token, &id, "customers", json!([])).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn analysts_import_and_viewers_may_not() {
    let (app, token, id, _) = tenant_with_custom().await;
    let (_, viewer) = app.user_with_role(&token, "viewer").await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let rows = json!([{"external_id": "c1", "created_at": 1_700_000_000}]);
    let response = post_rows(&app, &viewer, &id, "customers", rows.clone()).await;
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "forbidden");
    let response = post_rows(&app, &analyst, &id, "customers", rows).await;
    assert_eq!(response.status(), 200);
    // Creating a custom integration is an admin's.
    let response = app
        .post("/v1/integrations/custom", Some(&analyst), json!({}))
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_processor_integration_takes_no_import_and_a_custom_one_no_sync() {
    let (app, token, custom, tenant) = tenant_with_custom().await;
    let tenant = TenantId::parse(&tenant).unwrap();
    let demo = app
        .services
        .integrations
        .connect_demo(&tenant, 7)
        .await
        .unwrap()
        .to_string();
    let rows = json!([{"external_id": "c1", "created_at": 1_700_000_000}]);
    let response = post_rows(&app, &token, &demo, "customers", rows.clone()).await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "not_custom_integration");
    let unknown = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
    let response = post_rows(&app, &token, unknown, "customers", rows).await;
    assert_eq!(response.status(), 404);

    let response = app
        .post(
            &format!("/v1/integrations/{custom}/sync"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "import_only");
    // A scheduled sync passes it by: nothing to pull, nothing recorded as failed.
    let custom = tally::domain::ids::IntegrationId::parse(&custom).unwrap();
    let synced = app
        .services
        .ingestion
        .sync_integration(&tenant, &custom)
        .await
        .unwrap();
    assert_eq!(synced, None);
    let list: Value = app
        .get("/v1/integrations", &token)
        .await
        .json()
        .await
        .unwrap();
    let listed = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["provider"] == "custom")
        .unwrap();
    assert_eq!(listed["status"], "connected", "{list}");
    assert!(listed.get("last_error").is_none(), "{list}");
}

#[tokio::test]
async fn the_same_data_as_csv_gives_the_same_figures() {
    let (app, token, id, _) = tenant_with_custom().await;
    let now = app.clock.now().timestamp();
    for (kind, text) in dataset_csv(now) {
        let run = import_csv(&app, &token, &id, kind, &text).await;
        assert_eq!(run["errors"], json!([]), "{kind}: {run}");
        assert_eq!(run["failed_rows"], 0, "{kind}: {run}");
        assert!(run["written"].as_u64().unwrap() > 0, "{kind}: {run}");
        assert_eq!(run["written"], run["rows"], "{kind}: {run}");
    }
    let from_csv = summary(&app, &token).await;
    assert_eq!(from_csv["mrr"], 6000, "{from_csv}");
    assert_eq!(from_csv["customers"], 1, "{from_csv}");
    // The same files again write nothing.
    for (kind, text) in dataset_csv(now) {
        let run = import_csv(&app, &token, &id, kind, &text).await;
        assert_eq!(run["written"], 0, "{kind}: {run}");
        assert_eq!(run["unchanged"], run["rows"], "{kind}: {run}");
    }
    // The same rows as JSON are already there.
    for (kind, rows) in dataset(now) {
        let reply = import_json(&app, &token, &id, kind, rows).await;
        assert_eq!(reply["written"], 0, "{kind}: {reply}");
    }
    assert_eq!(summary(&app, &token).await["mrr"], 6000);
}

#[tokio::test]
async fn a_job_run_twice_or_resumed_counts_each_row_once() {
    let (app, token, id, tenant) = tenant_with_custom().await;
    let mut text = String::from("external_id,country,created_at\n");
    for n in 0..2_500 {
        text.push_str(&format!("c{n},DE,{}\n", 1_700_000_000 + n));
    }
    // A repeated id in a later chunk than its first row: refused after a resume too.
    text.push_str("c7,FR,1700000000\n");
    let import = queue_csv(&app, &token, &id, "customers", text.into_bytes(), false).await;
    assert_eq!(staged_chunks(&app, &tenant).await, 3, "cut at 1,000 rows");
    let queued = get_run(&app, &token, &id, &import).await;
    assert_eq!(
        (&queued["status"], &queued["rows"], &queued["written"]),
        (&json!("queued"), &json!(2_501), &json!(0))
    );

    // A job whose time runs out takes one chunk, saves, and asks for itself again.
    let tenant_id = TenantId::parse(&tenant).unwrap();
    let integration = IntegrationId::parse(&id).unwrap();
    let import_id = ImportId::parse(&import).unwrap();
    let integrations = &app.services.integrations;
    let paused = integrations
        .run_import(
            &tenant_id,
            &integration,
            &import_id,
            std::time::Duration::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(paused.map(|s| s.as_str()), Some("queued"));
    let part = get_run(&app, &token, &id, &import).await;
    assert_eq!(
        (&part["status"], &part["written"]),
        (&json!("queued"), &json!(1_000)),
        "{part}"
    );
    assert_eq!(app.events_of("ImportRequested").len(), 2, "asked for again");

    // The next delivery resumes at the second chunk.
    run_job(&app, &import).await;
    let done = get_run(&app, &token, &id, &import).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["written"], 2_500, "{done}");
    assert_eq!(done["unchanged"], 0, "{done}");
    assert_eq!(done["failed_rows"], 1, "{done}");
    assert_eq!(
        (
            &done["errors"][0]["index"],
            &done["errors"][0]["line"],
            &done["errors"][0]["code"]
        ),
        (&json!(2_500), &json!(2_502), &json!("duplicate_in_batch")),
        "{done}"
    );
    assert_eq!(
        staged_chunks(&app, &tenant).await,
        0,
        "the chunks are deleted"
    );

    // Delivered again: the run is done, and nothing is counted twice.
    match run_job(&app, &import).await {
        JobReport::Import { status, .. } => assert_eq!(status, Some("done")),
        other => panic!("{other:?}"),
    }
    assert_eq!(get_run(&app, &token, &id, &import).await, done);
}

#[tokio::test]
async fn a_bad_csv_row_is_reported_with_its_line_and_field() {
    let (app, token, id, _) = tenant_with_custom().await;
    let text = "external_id,country,created_at\n\
        c1,DE,2026-01-01T00:00:00Z\n\
        c2,Germany,2026-01-01T00:00:00Z\n\
        c3,FR\n\
        c4,,1767225600\n";
    let reply = import_csv(&app, &token, &id, "customers", text).await;
    assert_eq!(reply["rows"], 4, "{reply}");
    assert_eq!(reply["written"], 2, "{reply}");
    assert_eq!(reply["failed_rows"], 2, "{reply}");
    let errors = reply["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{reply}");
    assert_eq!(
        (&errors[0]["index"], &errors[0]["line"], &errors[0]["field"]),
        (&json!(1), &json!(3), &json!("country"))
    );
    assert_eq!(
        (&errors[1]["line"], &errors[1]["field"]),
        (&json!(4), &json!("row"))
    );

    // A header naming an unknown field refuses the file before anything is written.
    let response = post_csv(
        &app,
        &token,
        &id,
        "customers",
        b"external_id,colour\nc9,red\n".to_vec(),
        false,
    )
    .await;
    assert_eq!(response.status(), 400);
    let response = post_csv(
        &app,
        &token,
        &id,
        "customers",
        b"external_id\nc9\n".to_vec(),
        true,
    )
    .await;
    assert_eq!(response.status(), 400, "not gzip though it says so");
    assert!(
        app.events_of("ImportRequested").len() == 1,
        "only the good file was queued"
    );

    // Another tenant's import, or an unknown one, is not found.
    let other = app.signup().await;
    let other_token = app.login(&other).await;
    let import = app.events_of("ImportRequested")[0]["import_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .get(
            &format!("/v1/integrations/{id}/imports/{import}"),
            &other_token,
        )
        .await;
    assert_eq!(response.status(), 404);
    let unknown = ImportId::generate();
    let response = app
        .get(&format!("/v1/integrations/{id}/imports/{unknown}"), &token)
        .await;
    assert_eq!(response.status(), 404);
}

/// Issue 19: a 100,000-row file. 100,000 payments of 300 customers: the rows are many,
/// the snapshot small, so the test measures the upload and the import.
#[tokio::test]
async fn a_100k_row_gzip_csv_is_queued_at_once_and_imported_by_its_job() {
    let (app, token, id, tenant) = tenant_with_custom().await;
    let customers: Value = (0..300)
        .map(|n| json!({"external_id": format!("c{n}"), "created_at": 1_700_000_000}))
        .collect();
    import_json(&app, &token, &id, "customers", customers).await;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    writeln!(gzip, "external_id,customer,amount,currency,status,at").unwrap();
    for n in 0..100_000 {
        writeln!(
            gzip,
            "p{n},c{},{},usd,succeeded,{}",
            n % 300,
            1_000 + n % 7,
            1_700_000_000 + n
        )
        .unwrap();
    }
    let body = gzip.finish().unwrap();
    assert!(
        body.len() < 6 * 1024 * 1024,
        "fits API Gateway's payload limit"
    );
    let started = Instant::now();
    let import = queue_csv(&app, &token, &id, "payments", body, true).await;
    let queued_in = started.elapsed();
    // The request staged the file and returned before a row was imported.
    let queued = get_run(&app, &token, &id, &import).await;
    assert_eq!(
        (&queued["status"], &queued["rows"], &queued["written"]),
        (&json!("queued"), &json!(100_000), &json!(0)),
        "{queued}"
    );
    let chunks = staged_chunks(&app, &tenant).await;
    assert_eq!(chunks, 100, "cut at 1,000 rows");

    run_job(&app, &import).await;
    let run = get_run(&app, &token, &id, &import).await;
    eprintln!(
        "100,000 CSV rows: queued in {queued_in:?}, imported by the job in {:?} in all",
        started.elapsed()
    );
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["written"], 100_000, "{run}");
    assert_eq!(run["failed_rows"], 0, "{run}");
    assert_eq!(staged_chunks(&app, &tenant).await, 0);
}

#[tokio::test]
async fn a_disconnected_custom_integration_is_deleted_like_stripes() {
    let (app, token, id, tenant) = tenant_with_custom().await;
    let now = app.clock.now().timestamp();
    for (kind, rows) in dataset(now) {
        import_json(&app, &token, &id, kind, rows).await;
    }
    let store = app.services.adapters.store.as_ref();
    let owned =
        |items: &[tally::ports::Item]| items.iter().filter(|i| i.key.sk.contains(&id)).count();
    let items = query_all(store, Query::new(format!("TENANT#{tenant}"), SortKeys::All))
        .await
        .unwrap();
    assert!(owned(&items) >= 8, "customers, plans, logs, payments...");

    let response = app.delete(&format!("/v1/integrations/{id}"), &token).await;
    assert_eq!(response.status(), 202);
    let hidden = app.get("/v1/metrics/summary", &token).await;
    if hidden.status() == 200 {
        let body: Value = hidden.json().await.unwrap();
        assert_eq!(body["mrr"], 0, "hidden at once: {body}");
    } else {
        assert_eq!(hidden.status(), 409, "no data left");
    }
    let rows = json!([{"external_id": "c1", "created_at": 1_700_000_000}]);
    let response = post_rows(&app, &token, &id, "customers", rows).await;
    assert_eq!(response.status(), 404, "no more imports");

    app.clock.advance(Duration::hours(25));
    let report = app.services.tenancy.sweep().await.unwrap();
    assert_eq!(report.integrations_purged, 1);
    let mut left = 0;
    let tenant = TenantId::parse(&tenant).unwrap();
    for pk in tally::repos::shards::every_partition(&tenant) {
        let items = query_all(store, Query::new(pk, SortKeys::All))
            .await
            .unwrap();
        left += owned(&items);
    }
    assert_eq!(left, 0, "no item of the integration remains");
}

#[tokio::test]
async fn an_import_job_stopped_by_its_timeout_is_asked_for_again_and_finishes() {
    let (app, token, id, _) = tenant_with_custom().await;
    let text = "external_id,created_at\nc1,1700000000\nc2,1700000000\n";
    let import = queue_csv(
        &app,
        &token,
        &id,
        "customers",
        text.as_bytes().to_vec(),
        false,
    )
    .await;
    let detail = app.events_of("ImportRequested").pop().unwrap();
    let envelope = json!({ "source": "tally", "detail-type": "ImportRequested", "detail": detail });
    let job = Job::from_payload(envelope).unwrap();
    // Stopped at its first wait, as Lambda's deadline would stop a long one.
    let hurried = Workers {
        timeout: std::time::Duration::ZERO,
        ..Workers::all(&app.services)
    };
    match jobs::run(&hurried, job).await.unwrap() {
        JobReport::Import { status, .. } => assert_eq!(status, Some("queued")),
        other => panic!("{other:?}"),
    }
    assert_eq!(app.events_of("ImportRequested").len(), 2, "asked for again");
    run_job(&app, &import).await;
    let run = get_run(&app, &token, &id, &import).await;
    assert_eq!(
        (&run["status"], &run["written"]),
        (&json!("done"), &json!(2)),
        "{run}"
    );
}
