//! The Paddle Billing connector end to end, against the fake Paddle (a real HTTP
//! server in Paddle's shapes): connecting with a read-only API key, the backfill with
//! Paddle's cursor pagination and its hand-computed MRR, incremental syncs from the
//! event stream (a change, a pause, a refund, a chargeback), `Paddle-Signature`
//! webhooks, a revoked key, a throttled API, and disconnecting with the 24 h deletion.

use std::time::Duration;

use serde_json::{Value, json};
use tally::domain::billing::{BillingRecord, ObjectKind};
use tally::ports::{Clock, SecretName};
use tally_tests::fake_paddle::{
    ANNUAL_SUB, CANCELING_SUB, CHARGEBACK_TXN, FAKE_NOTIFICATION_SECRET, FAKE_PADDLE_KEY,
    FakePaddle, MONTHLY_SUB, MRR_CENTS, PAUSED_MRR_CENTS, REFUNDED_TXN, SENSITIVE_LAST4,
    SENSITIVE_NAME, rfc3339, sign,
};

use crate::helpers::{TestApp, TestUser, contains_bytes, error_code, spawn_app_with};
use crate::integrations::ids;

/// An app whose Paddle URLs point at a fresh fake.
async fn app_with_paddle(extra: &[(&str, &str)]) -> (TestApp, FakePaddle) {
    let fake = FakePaddle::start().await;
    let mut vars = fake.config_vars();
    vars.push(("TALLY_PADDLE_RETRY_BASE_MS".into(), "1".into()));
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    (spawn_app_with(&vars).await, fake)
}

/// Connects the fake's key with its notification secret; the integration's id.
async fn connect(app: &TestApp, token: &str) -> String {
    let response = app
        .post(
            "/v1/integrations",
            Some(token),
            json!({"provider": "paddle", "api_key": FAKE_PADDLE_KEY,
                "webhook_secret": FAKE_NOTIFICATION_SECRET}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["provider"], "paddle");
    assert_eq!(body["status"], "connected");
    body["id"].as_str().unwrap().to_owned()
}

/// Signs up, connects and runs the first (full) sync.
async fn synced(app: &TestApp) -> (TestUser, String, String) {
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect(app, &token).await;
    let report = sync(app, &admin, &id).await;
    assert!(report.full, "the first sync is a backfill");
    (admin, token, id)
}

async fn sync(app: &TestApp, admin: &TestUser, id: &str) -> tally::services::ingestion::SyncReport {
    let (t, i) = ids(&admin.tenant_id, id);
    app.services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .expect("the sync runs")
        .expect("the sync was not skipped")
}

async fn mrr(app: &TestApp, token: &str) -> i64 {
    let response = app.get("/v1/metrics/summary?currency=usd", token).await;
    assert_eq!(response.status(), 200);
    let summary: Value = response.json().await.unwrap();
    summary["mrr"]
        .as_i64()
        .unwrap_or_else(|| panic!("an MRR: {summary}"))
}

async fn records(
    app: &TestApp,
    admin: &TestUser,
    id: &str,
    kind: ObjectKind,
) -> Vec<BillingRecord> {
    let (t, i) = ids(&admin.tenant_id, id);
    app.services
        .ingestion
        .integration_records(&t, &i, kind)
        .await
        .unwrap()
}

async fn integration(app: &TestApp, token: &str, id: &str) -> Value {
    let list: Value = app
        .get("/v1/integrations", token)
        .await
        .json()
        .await
        .unwrap();
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn the_backfill_gives_the_hand_computed_mrr_and_keeps_only_minimized_data() {
    let (app, fake) = app_with_paddle(&[]).await;
    let (admin, token, id) = synced(&app).await;
    assert_eq!(mrr(&app, &token).await, MRR_CENTS);

    let customers = records(&app, &admin, &id, ObjectKind::Customer).await;
    assert_eq!(customers.len(), 6);
    let places: Vec<(Option<String>, Option<String>)> = customers
        .iter()
        .filter_map(|r| match r {
            BillingRecord::Customer(c) => Some((c.city.clone(), c.country.clone())),
            _ => None,
        })
        .collect();
    assert!(places.contains(&(Some("Berlin".into()), Some("DE".into()))));
    // The trialing customer has no transaction: its place comes with a later re-read.
    assert_eq!(places.iter().filter(|p| p.1.is_some()).count(), 5);
    // Addresses were read a page of customers at a time, never one request each.
    assert_eq!(
        fake.requests_to("/customers/ctm_01tscenario000000000000/addresses"),
        0
    );

    let charges = records(&app, &admin, &id, ObjectKind::Charge).await;
    assert_eq!(charges.len(), 5);
    assert!(charges.iter().all(|r| matches!(r, BillingRecord::Charge(c)
        if c.status == "succeeded" && c.card.as_ref().is_some_and(|k| k.brand.is_some() && k.exp_year == Some(2030)))));
    let invoices = records(&app, &admin, &id, ObjectKind::Invoice).await;
    assert!(
        invoices
            .iter()
            .all(|r| matches!(r, BillingRecord::Invoice(i)
        if i.lines.len() == 1 && i.lines[0].period_start.is_some()))
    );

    let info = integration(&app, &token, &id).await;
    assert_eq!(info["status"], "connected");
    assert!(info["last_sync_at"].is_string());
    // The integration dimension and the export show it like a Stripe one.
    let profile: Value = app
        .get("/v1/customers/ctm_01tscenario000000000001", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["dimensions"]["integration"], id.as_str());
    assert_eq!(profile["dimensions"]["country"], "FR");
    assert_eq!(profile["mrr_by_currency"]["usd"], 6_000, "two annual seats");
    let export = crate::exports::built_export(&app, &admin, &token).await;
    let pages = crate::exports::pages(&app, &token, &export).await;
    let integrations = crate::exports::section(&pages, "integrations");
    assert!(
        integrations
            .iter()
            .any(|i| i["id"] == id.as_str() && i["provider"] == "paddle"),
        "{integrations:?}"
    );
    let raw = app.raw_data();
    for sensitive in [
        FAKE_PADDLE_KEY,
        FAKE_NOTIFICATION_SECRET,
        SENSITIVE_NAME,
        "Secret Street",
        "Secretname",
    ] {
        assert!(
            !contains_bytes(&raw, sensitive.as_bytes()),
            "{sensitive} on disk"
        );
    }
    let stored = serde_json::to_string(&charges).unwrap();
    assert!(!stored.contains(SENSITIVE_LAST4), "no last4 in a record");
    assert!(
        !app.events()
            .iter()
            .any(|e| e.to_string().contains(FAKE_PADDLE_KEY))
    );
}

#[tokio::test]
async fn changes_come_from_the_event_stream_and_a_pause_drops_the_mrr() {
    let (app, fake) = app_with_paddle(&[]).await;
    let (admin, token, id) = synced(&app).await;

    // The canceling subscription is canceled now instead of at its period's end.
    fake.update(CANCELING_SUB, "subscription.canceled", |s| {
        s["status"] = json!("canceled");
        s["canceled_at"] = json!(rfc3339(chrono::Utc::now().timestamp()));
        s["scheduled_change"] = Value::Null;
        s["current_billing_period"] = Value::Null;
    });
    let listed_before = fake.requests_to("/subscriptions");
    let report = sync(&app, &admin, &id).await;
    assert!(!report.full, "the second sync reads the event stream");
    assert_eq!(report.written, 1);
    assert_eq!(
        fake.requests_to("/subscriptions"),
        listed_before,
        "no listing again"
    );
    assert!(fake.requests_to(&format!("/subscriptions/{CANCELING_SUB}")) >= 1);
    assert_eq!(mrr(&app, &token).await, MRR_CENTS - 3_000);

    fake.pause(MONTHLY_SUB);
    let report = sync(&app, &admin, &id).await;
    assert!(!report.full);
    assert_eq!(mrr(&app, &token).await, PAUSED_MRR_CENTS - 3_000);
    let paused = records(&app, &admin, &id, ObjectKind::Subscription).await;
    assert!(
        paused
            .iter()
            .any(|r| matches!(r, BillingRecord::Subscription(s)
        if s.id == MONTHLY_SUB && s.paused_at.is_some()))
    );

    // Nothing new: nothing written, the cursor kept.
    assert_eq!(sync(&app, &admin, &id).await.written, 0);

    // Events older than Paddle keeps: a full sync again.
    fake.update(ANNUAL_SUB, "subscription.updated", |s| {
        s["items"][0]["quantity"] = json!(1)
    });
    fake.expire_events();
    fake.update(ANNUAL_SUB, "subscription.updated", |s| {
        s["items"][0]["quantity"] = json!(3)
    });
    let (t, i) = ids(&admin.tenant_id, &id);
    let report = app.services.ingestion.sync_integration(&t, &i).await;
    let report = report.unwrap_or_else(|e| panic!("{e:?}")).unwrap();
    assert!(report.full, "an expired cursor falls back to a backfill");
}

#[tokio::test]
async fn the_backfill_and_the_event_stream_follow_paddles_cursor_pages() {
    let (app, fake) = app_with_paddle(&[]).await;
    fake.limit_pages_to(2);
    let (admin, token, id) = synced(&app).await;
    // Six customers, two a page: three pages, each after the last id of the one before.
    assert_eq!(
        fake.requests_to("/customers"),
        3 + 1,
        "three pages and the key check"
    );
    assert_eq!(
        records(&app, &admin, &id, ObjectKind::Customer).await.len(),
        6
    );
    assert_eq!(
        records(&app, &admin, &id, ObjectKind::Subscription)
            .await
            .len(),
        6
    );
    assert_eq!(mrr(&app, &token).await, MRR_CENTS);

    // Five changes, two events a page: the sync reads on until `has_more` is false.
    for quantity in 2..=6 {
        fake.update(ANNUAL_SUB, "subscription.updated", |s| {
            s["items"][0]["quantity"] = json!(quantity)
        });
    }
    let report = sync(&app, &admin, &id).await;
    assert!(!report.full);
    let annual = records(&app, &admin, &id, ObjectKind::Subscription).await;
    assert!(
        annual
            .iter()
            .any(|r| matches!(r, BillingRecord::Subscription(s)
        if s.id == ANNUAL_SUB && s.items[0].quantity == 6))
    );
}

#[tokio::test]
async fn a_refund_and_a_chargeback_appear_in_refunds() {
    let (app, fake) = app_with_paddle(&[]).await;
    let (admin, token, id) = synced(&app).await;
    let refund = fake.adjust(REFUNDED_TXN, "refund");
    let chargeback = fake.adjust(CHARGEBACK_TXN, "chargeback");
    let report = sync(&app, &admin, &id).await;
    assert!(!report.full);
    let refunds = records(&app, &admin, &id, ObjectKind::Refund).await;
    let mut seen: Vec<(String, Option<String>, i64)> = refunds
        .iter()
        .filter_map(|r| match r {
            BillingRecord::Refund(r) => Some((r.id.clone(), r.charge.clone(), r.amount)),
            _ => None,
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        (refund, Some(REFUNDED_TXN.to_owned()), 3_000),
        (chargeback, Some(CHARGEBACK_TXN.to_owned()), 72_000),
    ];
    expected.sort();
    assert_eq!(seen, expected);

    let response = app.get("/v1/metrics/refunds?currency=usd", &token).await;
    assert_eq!(response.status(), 200);
    let series: Value = response.json().await.unwrap();
    let points = series["series"].as_array().cloned().unwrap_or_default();
    let count: i64 = points.iter().filter_map(|p| p["count"].as_i64()).sum();
    let amount: i64 = points.iter().filter_map(|p| p["amount"].as_i64()).sum();
    assert_eq!((count, amount), (2, 75_000), "{series}");
}

#[tokio::test]
async fn a_signed_notification_queues_one_sync_and_anything_else_is_refused_alike() {
    let (app, fake) = app_with_paddle(&[]).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect(&app, &token).await;
    let queued = app.events_of("SyncRequested").len();
    let post = |path: String, body: String, signature: Option<String>| {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", app.address))
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("paddle-signature", signature);
        }
        request.send()
    };
    let path = format!("/v1/webhooks/paddle/{id}");
    let now = app.clock.now().timestamp();
    let (body, signature) = fake.notification(FAKE_NOTIFICATION_SECRET, now);
    let ok = post(path.clone(), body.clone(), Some(signature.clone()))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(app.events_of("SyncRequested").len(), queued + 1);
    let again = post(path.clone(), body.clone(), Some(signature))
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "a redelivery is accepted");
    assert_eq!(
        app.events_of("SyncRequested").len(),
        queued + 1,
        "and ignored"
    );

    let refusals = [
        (
            path.clone(),
            sign("pdl_ntfset_01another0destination0secret", now, &body),
        ),
        (
            path.clone(),
            sign(FAKE_NOTIFICATION_SECRET, now, "{\"event_id\":\"evt_x\"}"),
        ),
        (
            path.clone(),
            sign(FAKE_NOTIFICATION_SECRET, now - 30, &body),
        ),
        (path.clone(), "garbage".to_owned()),
        (
            format!("/v1/webhooks/paddle/{}", uuid::Uuid::new_v4()),
            sign(FAKE_NOTIFICATION_SECRET, now, &body),
        ),
        (
            "/v1/webhooks/paddle/not-an-id".to_owned(),
            sign(FAKE_NOTIFICATION_SECRET, now, &body),
        ),
    ];
    for (path, signature) in refusals {
        let refused = post(path.clone(), body.clone(), Some(signature))
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{path}");
        assert_eq!(error_code(refused).await, "invalid_signature", "{path}");
    }
    let unsigned = post(path.clone(), body.clone(), None).await.unwrap();
    assert_eq!(error_code(unsigned).await, "invalid_signature");
    let huge = "x".repeat(70 * 1024);
    let too_large = post(path, huge, Some("ts=1;h1=00".into())).await.unwrap();
    assert_eq!(too_large.status(), 413);
    assert_eq!(app.events_of("SyncRequested").len(), queued + 1);
}

#[tokio::test]
async fn the_notification_secret_can_be_given_once_the_integration_exists() {
    // Paddle's notification destination needs the webhook URL, which names the
    // integration: the usual order is connect, make the destination, then give its secret.
    let (app, fake) = app_with_paddle(&[]).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let response = app
        .post(
            "/v1/integrations",
            Some(&token),
            json!({"provider": "paddle", "api_key": FAKE_PADDLE_KEY}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hook = format!("{}/v1/webhooks/paddle/{id}", app.address);
    let now = app.clock.now().timestamp();
    let (body, signature) = fake.notification(FAKE_NOTIFICATION_SECRET, now);
    let deliver = || {
        reqwest::Client::new()
            .post(&hook)
            .header("content-type", "application/json")
            .header("paddle-signature", signature.clone())
            .body(body.clone())
            .send()
    };
    let queued = app.events_of("SyncRequested").len();
    let refused = deliver().await.unwrap();
    assert_eq!(
        error_code(refused).await,
        "invalid_signature",
        "no secret yet"
    );

    let path = format!("/v1/integrations/{id}/webhook-secret");
    let put = async |path: String, secret: &str| {
        app.put(&path, &token, json!({"webhook_secret": secret}))
            .await
    };
    let bad = put(path.clone(), "whsec_not_paddles").await;
    assert_eq!(bad.status(), 400);
    let set = put(path.clone(), FAKE_NOTIFICATION_SECRET).await;
    assert_eq!(set.status(), 204);
    assert_eq!(deliver().await.unwrap().status(), 200);
    assert_eq!(app.events_of("SyncRequested").len(), queued + 1);
    // The key is kept: the next sync still reads Paddle.
    let report = sync(&app, &admin, &id).await;
    assert!(report.written > 0);

    // Only Paddle integrations take one; unknown ids are not found.
    let (tenant, _) = ids(&admin.tenant_id, &id);
    let demo = app
        .services
        .integrations
        .connect_demo_of(&tenant, 1, Some(1))
        .await
        .unwrap();
    let other = put(
        format!("/v1/integrations/{}/webhook-secret", demo.as_str()),
        FAKE_NOTIFICATION_SECRET,
    )
    .await;
    assert_eq!(other.status(), 409);
    assert_eq!(error_code(other).await, "not_paddle_integration");
    let unknown = put(
        format!("/v1/integrations/{}/webhook-secret", uuid::Uuid::new_v4()),
        FAKE_NOTIFICATION_SECRET,
    )
    .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_revoked_key_marks_the_integration_in_error() {
    let (app, fake) = app_with_paddle(&[]).await;
    let (_admin, token, id) = synced(&app).await;
    fake.revoke_key();
    let pass = app.services.ingestion.ingest_pass().await.unwrap();
    assert_eq!(pass.failed, 1);
    let info = integration(&app, &token, &id).await;
    assert_eq!(info["status"], "error");
    assert_eq!(info["last_error"], "credentials_refused");
}

#[tokio::test]
async fn a_429_is_retried_after_paddles_retry_after_not_the_backoff() {
    // A backoff of a minute would outlast the test: only `Retry-After: 0` lets the
    // sync finish in time.
    let (app, fake) = app_with_paddle(&[("TALLY_PADDLE_RETRY_BASE_MS", "60000")]).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect(&app, &token).await;
    fake.fail_next(1, 429);
    let report = tokio::time::timeout(Duration::from_secs(20), sync(&app, &admin, &id))
        .await
        .expect("the retry waited Retry-After, not the backoff");
    assert!(report.full);
    assert_eq!(mrr(&app, &token).await, MRR_CENTS);
}

#[tokio::test]
async fn keys_paddle_refuses_or_that_are_not_paddle_keys_are_invalid() {
    let (app, _fake) = app_with_paddle(&[]).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    for (key, secret) in [
        ("pdl_sdbx_apikey_01unknown0key0the0fake0refuses", None),
        ("rk_test_notapaddlekey", None),
        ("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678901234567890", None),
        (FAKE_PADDLE_KEY, Some("whsec_notpaddle")),
    ] {
        let mut body = json!({"provider": "paddle", "api_key": key});
        if let Some(secret) = secret {
            body["webhook_secret"] = json!(secret);
        }
        let response = app.post("/v1/integrations", Some(&token), body).await;
        assert_eq!(response.status(), 400, "{key}");
        let text = response.text().await.unwrap();
        assert!(!text.contains(key), "the key is never echoed");
        let expected = if secret.is_some() {
            "invalid_request"
        } else {
            "invalid_api_key"
        };
        assert!(text.contains(expected), "{key}: {text}");
    }
    let list: Value = app
        .get("/v1/integrations", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["data"].as_array().map(Vec::len),
        Some(0),
        "nothing saved"
    );
}

#[tokio::test]
async fn disconnecting_revokes_at_once_and_the_sweep_deletes_the_data() {
    let (app, fake) = app_with_paddle(&[]).await;
    let (admin, token, id) = synced(&app).await;
    let owned =
        |items: &[tally::ports::Item]| items.iter().filter(|i| i.key.sk.contains(&id)).count();
    assert!(owned(&crate::lifecycle::partition(&app, &admin.tenant_id).await) > 10);

    let response = app.delete(&format!("/v1/integrations/{id}"), &token).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert!(body["data_deleted_by"].is_string());
    assert_eq!(
        integration(&app, &token, &id).await["status"],
        "disconnected"
    );
    let name = SecretName::integration(&admin.tenant_id, &id).unwrap();
    assert!(
        app.services
            .adapters
            .secrets
            .get(&name)
            .await
            .unwrap()
            .is_none()
    );
    // Its webhooks are refused from now on.
    let now = app.clock.now().timestamp();
    let (body, signature) = fake.notification(FAKE_NOTIFICATION_SECRET, now);
    let queued = app.events_of("SyncRequested").len();
    let refused = reqwest::Client::new()
        .post(format!("{}/v1/webhooks/paddle/{id}", app.address))
        .header("paddle-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(app.events_of("SyncRequested").len(), queued);

    app.clock.advance(chrono::Duration::hours(25));
    let report = app.services.tenancy.sweep().await.unwrap();
    assert_eq!(report.integrations_purged, 1);
    let left = crate::lifecycle::partition(&app, &admin.tenant_id).await;
    assert_eq!(owned(&left), 0, "no item of the integration remains");
}

#[tokio::test]
async fn a_key_without_a_read_permission_the_sync_needs_is_refused_or_flagged() {
    let (app, fake) = app_with_paddle(&[]).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    fake.forbid("/adjustments");
    let body = json!({"provider": "paddle", "api_key": FAKE_PADDLE_KEY});
    let refused = app.post("/v1/integrations", Some(&token), body).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "invalid_api_key");

    // A permission taken away after connecting: the sync stops and says why.
    let (app, fake) = app_with_paddle(&[]).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect(&app, &token).await;
    fake.forbid("/transactions");
    let pass = app.services.ingestion.ingest_pass().await.unwrap();
    assert_eq!(pass.failed, 1);
    let info = integration(&app, &token, &id).await;
    assert_eq!(info["status"], "error");
    assert_eq!(info["last_error"], "permission_missing");
}
