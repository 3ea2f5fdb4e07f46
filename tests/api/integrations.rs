//! The oauth function and ingestion, against the fake Stripe (a real HTTP server).

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tally::domain::billing::{BillingRecord, ObjectKind, SubscriptionStatus};
use tally::domain::ids::{IntegrationId, TenantId};
use tally::ports::SecretName;
use tally_tests::fake_stripe::{
    FAKE_ACCOUNT, FAKE_API_KEY, FAKE_APP_SECRET_KEY, FAKE_CLIENT_ID, FakeStripe,
    SENSITIVE_CARD_NUMBER, SENSITIVE_FINGERPRINT, Scenario,
};

use crate::helpers::{
    TestApp, contains_bytes, cookie_pair, entity_of, error_code, ingest_workers, spawn_app_with,
};

const WEBHOOK_SECRET: &str = "whsec_test_tally";

/// An app whose Stripe URLs point at a fresh fake, with the OAuth app configured.
pub(crate) async fn app_with_fake(customers: usize) -> (TestApp, FakeStripe) {
    app_with_scenario(Scenario::new(customers)).await
}

/// The same with a scenario of the caller's.
pub(crate) async fn app_with_scenario(scenario: Scenario) -> (TestApp, FakeStripe) {
    app_with_scenario_and(scenario, &[]).await
}

/// The same, with more configuration.
pub(crate) async fn app_with_scenario_and(
    scenario: Scenario,
    extra: &[(&str, &str)],
) -> (TestApp, FakeStripe) {
    let fake = FakeStripe::start(scenario).await;
    let mut vars = fake.config_vars();
    vars.push(("TALLY_STRIPE_CLIENT_ID".into(), FAKE_CLIENT_ID.into()));
    vars.push(("TALLY_STRIPE_RETRY_BASE_MS".into(), "1".into()));
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let secrets = &app.services.adapters.secrets;
    for (name, value) in [
        ("tally/system/stripe-app-secret", FAKE_APP_SECRET_KEY),
        ("tally/system/stripe-webhook-secret", WEBHOOK_SECRET),
    ] {
        secrets
            .put(
                &SecretName::parse(name).unwrap(),
                &SecretString::from(value.to_owned()),
            )
            .await
            .unwrap();
    }
    (app, fake)
}

pub(crate) async fn connect_key(app: &TestApp, token: &str) -> String {
    let response = app
        .post(
            "/v1/integrations",
            Some(token),
            json!({ "provider": "stripe", "api_key": FAKE_API_KEY }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["provider"], "stripe");
    body["id"].as_str().unwrap().to_owned()
}

/// Runs the OAuth install end to end (connect, the merchant approves, callback) and
/// returns the new integration's id.
pub(crate) async fn connect_oauth(app: &TestApp, fake: &FakeStripe, token: &str) -> String {
    let started = app
        .post("/v1/integrations/stripe/connect", Some(token), json!({}))
        .await;
    let cookie = cookie_pair(&started, "__Host-");
    let state: Value = started.json().await.unwrap();
    let callback = format!(
        "/v1/oauth/stripe/callback?code={}&state={}",
        fake.issue_code(),
        state["state"].as_str().unwrap()
    );
    let response = app.get_with_cookie(&callback, cookie.as_deref()).await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    location.rsplit('=').next().unwrap().to_owned()
}

pub(crate) fn ids(tenant: &str, integration: &str) -> (TenantId, IntegrationId) {
    (
        TenantId::parse(tenant).unwrap(),
        IntegrationId::parse(integration).unwrap(),
    )
}

async fn records(
    app: &TestApp,
    tenant: &str,
    integration: &str,
    kind: ObjectKind,
) -> Vec<BillingRecord> {
    let (t, i) = ids(tenant, integration);
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
async fn a_secret_key_is_refused_with_instructions_for_a_restricted_one() {
    let (app, _fake) = app_with_fake(6).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let response = app
        .post(
            "/v1/integrations",
            Some(&token),
            json!({ "provider": "stripe", "api_key": "sk_live_51Nsecret" }),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "key_not_restricted");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("restricted key")
    );
    assert!(!body.to_string().contains("sk_live_51Nsecret"));
    let wrong = app
        .post(
            "/v1/integrations",
            Some(&token),
            json!({ "provider": "stripe", "api_key": "rk_test_unknown" }),
        )
        .await;
    assert_eq!(error_code(wrong).await, "invalid_api_key");
    let provider = app
        .post(
            "/v1/integrations",
            Some(&token),
            json!({ "provider": "paypal", "api_key": FAKE_API_KEY }),
        )
        .await;
    assert_eq!(provider.status(), 400);
}

#[tokio::test]
async fn an_unreachable_stripe_is_a_502_and_nothing_is_saved() {
    // A loopback port with nothing listening: every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(&[
        ("TALLY_STRIPE_API_BASE", &base),
        ("TALLY_STRIPE_RETRY_BASE_MS", "1"),
    ])
    .await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let response = app
        .post(
            "/v1/integrations",
            Some(&token),
            json!({ "provider": "stripe", "api_key": FAKE_API_KEY }),
        )
        .await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "provider_unavailable");
    assert!(!body.to_string().contains(FAKE_API_KEY));
    let list: Value = app
        .get("/v1/integrations", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]), "no integration was created");
    assert!(app.events_of("SyncRequested").is_empty());
}

#[tokio::test]
async fn a_restricted_key_syncs_everything_and_the_key_lives_only_in_the_secret_store() {
    let (app, _fake) = app_with_fake(30).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_key(&app, &token).await;
    assert_eq!(
        app.events_of("SyncRequested").len(),
        1,
        "connecting queues a first sync"
    );
    let pass = app.services.ingestion.ingest_pass().await.unwrap();
    assert_eq!(pass.synced, 1);
    assert_eq!(
        records(&app, &admin.tenant_id, &id, ObjectKind::Customer)
            .await
            .len(),
        30
    );
    let subscriptions = records(&app, &admin.tenant_id, &id, ObjectKind::Subscription).await;
    assert!(subscriptions.iter().any(|r| matches!(r, BillingRecord::Subscription(s) if s.status == SubscriptionStatus::Canceled)), "status=all brings canceled subscriptions");
    let info = integration(&app, &token, &id).await;
    assert_eq!(info["status"], "connected");
    assert!(info["last_sync_at"].is_string());

    let raw = app.raw_data();
    assert!(
        !contains_bytes(&raw, FAKE_API_KEY.as_bytes()),
        "the key is sealed in the secrets file only"
    );
    let (t, i) = ids(&admin.tenant_id, &id);
    let name = SecretName::integration(t.as_str(), i.as_str()).unwrap();
    assert!(
        app.services
            .adapters
            .secrets
            .get(&name)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        !app.events()
            .iter()
            .any(|e| e.to_string().contains(FAKE_API_KEY))
    );
}

#[tokio::test]
async fn a_sync_survives_a_429_and_a_500_and_a_second_sync_changes_nothing() {
    let (app, fake) = app_with_fake(250).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_key(&app, &token).await;
    fake.fail_next(1, 429);
    fake.fail_next(1, 500);
    let (t, i) = ids(&admin.tenant_id, &id);
    let report = app
        .services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap()
        .unwrap();
    assert!(report.full);
    let customers = records(&app, &admin.tenant_id, &id, ObjectKind::Customer).await;
    assert_eq!(
        customers.len(),
        250,
        "three pages of customers, none lost or doubled"
    );
    let before: Vec<Vec<BillingRecord>> =
        futures::future::join_all(ObjectKind::ALL.map(|k| records(&app, &admin.tenant_id, &id, k)))
            .await;

    let second = app
        .services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap()
        .unwrap();
    assert!(!second.full, "the second sync reads the change feed");
    assert_eq!(second.written, 0);
    let after: Vec<Vec<BillingRecord>> =
        futures::future::join_all(ObjectKind::ALL.map(|k| records(&app, &admin.tenant_id, &id, k)))
            .await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn changes_since_the_cursor_are_fetched_and_an_expired_cursor_means_a_full_sync() {
    let (app, fake) = app_with_fake(8).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_key(&app, &token).await;
    let (t, i) = ids(&admin.tenant_id, &id);
    app.services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap();

    let subscription =
        match &records(&app, &admin.tenant_id, &id, ObjectKind::Subscription).await[0] {
            BillingRecord::Subscription(s) => s.id.clone(),
            _ => unreachable!(),
        };
    fake.update_subscription(&subscription, |s| s["cancel_at_period_end"] = json!(true));
    let report = app
        .services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap()
        .unwrap();
    assert!(!report.full);
    assert_eq!(report.written, 1);
    let updated = records(&app, &admin.tenant_id, &id, ObjectKind::Subscription).await;
    assert!(updated.iter().any(|r| matches!(r, BillingRecord::Subscription(s) if s.id == subscription && s.cancel_at_period_end)));

    fake.expire_events();
    let report = app
        .services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap()
        .unwrap();
    assert!(report.full, "an unknown cursor falls back to a full sync");
}

#[tokio::test]
async fn a_revoked_key_marks_the_integration_in_error_and_the_schedule_leaves_it() {
    let (app, fake) = app_with_fake(6).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_key(&app, &token).await;
    fake.revoke_api_key();
    let pass = app.services.ingestion.ingest_pass().await.unwrap();
    assert_eq!(pass.failed, 1);
    let info = integration(&app, &token, &id).await;
    assert_eq!(info["status"], "error");
    assert_eq!(info["last_error"], "credentials_refused");
    let before = fake.requests_to("/v1/customers");
    let pass = app.services.ingestion.ingest_pass().await.unwrap();
    assert_eq!(pass.synced + pass.failed, 0);
    assert_eq!(
        fake.requests_to("/v1/customers"),
        before,
        "no more calls with a refused key"
    );
}

#[tokio::test]
async fn oauth_connects_end_to_end_and_a_state_works_once() {
    let (app, fake) = app_with_fake(6).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let response = app
        .post("/v1/integrations/stripe/connect", Some(&token), json!({}))
        .await;
    assert_eq!(response.status(), 200);
    let cookie = cookie_pair(&response, "__Host-");
    let body: Value = response.json().await.unwrap();
    let state = body["state"].as_str().unwrap().to_owned();
    let url = body["authorize_url"].as_str().unwrap();
    assert!(
        url.starts_with(&fake.base_url) && url.contains(FAKE_CLIENT_ID) && url.contains(&state),
        "{url}"
    );

    let code = fake.issue_code();
    let callback = format!("/v1/oauth/stripe/callback?code={code}&state={state}");
    let response = app.get_with_cookie(&callback, cookie.as_deref()).await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:8080/?connected="),
        "{location}"
    );
    let id = location.rsplit('=').next().unwrap().to_owned();

    let replay = app.get_with_cookie(&callback, cookie.as_deref()).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(error_code(replay).await, "invalid_state");
    let forged = app
        .request(
            reqwest::Method::GET,
            &format!(
                "/v1/oauth/stripe/callback?code={}&state=forged",
                fake.issue_code()
            ),
            None,
            None,
        )
        .await;
    assert_eq!(error_code(forged).await, "invalid_state");

    // An expired state is refused too.
    let late = app
        .post("/v1/integrations/stripe/connect", Some(&token), json!({}))
        .await;
    let late_cookie = cookie_pair(&late, "__Host-");
    let late: Value = late.json().await.unwrap();
    app.clock.advance(chrono::Duration::minutes(11));
    let token = app.login(&admin).await;
    let expired = app
        .get_with_cookie(
            &format!(
                "/v1/oauth/stripe/callback?code={}&state={}",
                fake.issue_code(),
                late["state"].as_str().unwrap()
            ),
            late_cookie.as_deref(),
        )
        .await;
    assert_eq!(error_code(expired).await, "invalid_state");

    let (t, i) = ids(&admin.tenant_id, &id);
    app.services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap();
    assert_eq!(integration(&app, &token, &id).await["status"], "connected");
    assert_eq!(
        records(&app, &admin.tenant_id, &id, ObjectKind::Customer)
            .await
            .len(),
        6
    );
    let secret = app
        .services
        .adapters
        .secrets
        .get(&SecretName::integration(t.as_str(), i.as_str()).unwrap())
        .await
        .unwrap()
        .unwrap();
    let stored: Value = serde_json::from_str(secret.expose_secret()).unwrap();
    assert_eq!(stored["kind"], "oauth");
    let raw = app.raw_data();
    let tokens: Value = serde_json::from_str(stored["tokens"].as_str().unwrap()).unwrap();
    for field in ["access_token", "refresh_token"] {
        let value = tokens[field].as_str().unwrap();
        assert!(
            !contains_bytes(&raw, value.as_bytes()),
            "{field} found in plain in the data dir"
        );
    }
}

#[tokio::test]
async fn no_card_number_last4_or_fingerprint_reaches_the_data_files() {
    let (app, _fake) = app_with_fake(8).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_key(&app, &token).await;
    let (t, i) = ids(&admin.tenant_id, &id);
    app.services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap();
    let all: Vec<BillingRecord> =
        futures::future::join_all(ObjectKind::ALL.map(|k| records(&app, &admin.tenant_id, &id, k)))
            .await
            .into_iter()
            .flatten()
            .collect();
    let text = serde_json::to_string(&all).unwrap();
    for sensitive in [
        SENSITIVE_CARD_NUMBER,
        SENSITIVE_FINGERPRINT,
        "\"last4\"",
        "4242",
    ] {
        assert!(!text.contains(sensitive), "{sensitive} kept in a record");
    }
    let raw = app.raw_data();
    for sensitive in [SENSITIVE_CARD_NUMBER, SENSITIVE_FINGERPRINT] {
        assert!(
            !contains_bytes(&raw, sensitive.as_bytes()),
            "{sensitive} on disk"
        );
    }
}

fn sign(body: &str, at: i64) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{at}.{body}").as_bytes());
    format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn webhook(app: &TestApp, body: &str, signature: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/webhooks/stripe", app.address))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_webhook_only_queues_a_sync_once_and_deauthorization_disconnects() {
    let (app, fake) = app_with_fake(6).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_oauth(&app, &fake, &token).await;
    let queued = app.events_of("SyncRequested").len();

    use tally::ports::Clock;
    let now = app.clock.now().timestamp();
    let body =
        json!({ "id": "evt_1", "type": "customer.updated", "account": FAKE_ACCOUNT }).to_string();
    assert_eq!(webhook(&app, &body, &sign(&body, now)).await.status(), 200);
    assert_eq!(app.events_of("SyncRequested").len(), queued + 1);
    assert_eq!(
        webhook(&app, &body, &sign(&body, now)).await.status(),
        200,
        "a redelivery is accepted"
    );
    assert_eq!(
        app.events_of("SyncRequested").len(),
        queued + 1,
        "and ignored"
    );

    let bad = webhook(&app, &body, &sign("{\"tampered\":true}", now)).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(error_code(bad).await, "invalid_signature");
    let stale = webhook(&app, &body, &sign(&body, now - 301)).await;
    assert_eq!(error_code(stale).await, "invalid_signature");

    let body = json!({ "id": "evt_2", "type": "account.application.deauthorized", "account": FAKE_ACCOUNT }).to_string();
    assert_eq!(webhook(&app, &body, &sign(&body, now)).await.status(), 200);
    assert_eq!(
        integration(&app, &token, &id).await["status"],
        "disconnected"
    );
}

#[tokio::test]
async fn a_sync_request_is_queued_as_an_event_for_the_ingest_function() {
    let (app, _fake) = app_with_fake(6).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_key(&app, &token).await;
    let response = app
        .post(
            &format!("/v1/integrations/{id}/sync"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let event = app.events_of("SyncRequested").pop().unwrap();
    assert_eq!(event["integration_id"], id.as_str());
    assert_eq!(event["tenant_id"], admin.tenant_id.as_str());
    let unknown = app
        .post(
            &format!("/v1/integrations/{}/sync", uuid::Uuid::new_v4()),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn the_ingest_function_syncs_the_integration_a_sync_requested_event_names() {
    let (app, _fake) = app_with_fake(6).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_key(&app, &token).await;
    // The envelope EventBridge delivers for the event the route published.
    let published = app.events_of("SyncRequested").pop().unwrap();
    let envelope = json!({
        "version": "0", "id": "e1", "source": "tally", "detail-type": "SyncRequested",
        "account": "123456789012", "region": "eu-central-1", "time": "2026-11-23T10:00:00Z",
        "resources": [], "detail": published,
    });
    let reply = tally::lambda::handle_ingest_event(&ingest_workers(&app), envelope)
        .await
        .unwrap();
    assert_eq!(reply["synced"], true);
    assert_eq!(
        records(&app, &admin.tenant_id, &id, ObjectKind::Customer)
            .await
            .len(),
        6
    );
    // A scheduled event runs the planner: in the window after the one that holds the
    // tenant's offset in the hour, it asks for the integration's sync again.
    let tenant = tally::domain::ids::TenantId::parse(&admin.tenant_id).unwrap();
    let offset = tally::domain::schedule::sync_offset(&tenant);
    let hour = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 23, 10, 0, 0).unwrap();
    app.clock
        .freeze_at(hour + chrono::Duration::seconds(i64::from(offset) + 300));
    let scheduled =
        json!({ "detail-type": "Scheduled Event", "source": "aws.events", "detail": {} });
    let plan = tally::lambda::handle_ingest_event(&ingest_workers(&app), scheduled)
        .await
        .unwrap();
    assert_eq!(plan["planned"], 1);
    assert_eq!(app.events_of("SyncRequested").len(), 2);
    let bad = json!({ "detail-type": "SyncRequested", "detail": { "tenant_id": "../x" } });
    assert!(
        tally::lambda::handle_ingest_event(&ingest_workers(&app), bad)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_and_the_rotated_refresh_token_stored() {
    let (app, fake) = app_with_fake(6).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_oauth(&app, &fake, &token).await;
    let (t, i) = ids(&admin.tenant_id, &id);
    let name = SecretName::integration(t.as_str(), i.as_str()).unwrap();
    let stored = |secret: SecretString| -> Value {
        let outer: Value = serde_json::from_str(secret.expose_secret()).unwrap();
        serde_json::from_str(outer["tokens"].as_str().unwrap()).unwrap()
    };
    let before = stored(
        app.services
            .adapters
            .secrets
            .get(&name)
            .await
            .unwrap()
            .unwrap(),
    );
    let exchanges = fake.requests_to("/v1/oauth/token");

    app.clock.advance(chrono::Duration::hours(2));
    app.services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        fake.requests_to("/v1/oauth/token"),
        exchanges + 1,
        "one refresh"
    );
    let after = stored(
        app.services
            .adapters
            .secrets
            .get(&name)
            .await
            .unwrap()
            .unwrap(),
    );
    assert_ne!(
        after["refresh_token"], before["refresh_token"],
        "the rotated refresh token is kept"
    );
    assert_ne!(after["access_token"], before["access_token"]);
}

/// The published snapshot's version (the time it was built, in microseconds).
pub(crate) async fn snapshot_version(app: &TestApp, tenant: &TenantId) -> i64 {
    app.services
        .common
        .repos
        .snapshots
        .pointer(tenant)
        .await
        .unwrap()
        .expect("a published snapshot")
        .version
}

#[tokio::test]
async fn a_pass_with_nothing_new_writes_only_its_own_bookkeeping_and_rebuilds_nothing() {
    use tally::repos::registry::Entity;
    use tally_tests::counting_store::CountingStore;

    let (app, fake) = app_with_fake(30).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_key(&app, &token).await;
    let (t, i) = ids(&admin.tenant_id, &id);
    app.sync_now(&admin, &id).await;
    let built = snapshot_version(&app, &t).await;

    // The same pass again, on a store that records what it is asked.
    let counting = std::sync::Arc::new(CountingStore::new(app.services.adapters.store.clone()));
    let services = app.services_on(counting.clone());
    let report = services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap()
        .unwrap();
    assert!(!report.full);
    assert_eq!((report.written, report.deleted), (0, 0));
    let written: Vec<Entity> = counting.written().iter().map(entity_of).collect();
    assert!(
        written
            .iter()
            .all(|e| matches!(e, Entity::Integration | Entity::IntegrationIndex)),
        "only the integration's lease and status are written: {written:?}"
    );
    let calls = counting.calls();
    assert!(
        calls.len() <= 10,
        "a no-change pass costs at most 10 store calls, not the tenant's size: {calls:?}"
    );
    assert!(
        calls.iter().all(|c| c.op != "query"),
        "nothing is listed: {calls:?}"
    );
    assert_eq!(snapshot_version(&app, &t).await, built, "no rebuild");

    // A change is published by the next pass.
    let subscription =
        match &records(&app, &admin.tenant_id, &id, ObjectKind::Subscription).await[0] {
            BillingRecord::Subscription(s) => s.id.clone(),
            _ => unreachable!(),
        };
    fake.update_subscription(&subscription, |s| s["cancel_at_period_end"] = json!(true));
    let report = app
        .services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.written, 1);
    let rebuilt = snapshot_version(&app, &t).await;
    assert!(rebuilt > built, "a pass that changed a record rebuilds");

    // The first pass of a new day rebuilds even without a change: RFM recency,
    // card-expiry risk and "as of today" figures depend on the date.
    app.sync_now(&admin, &id).await;
    assert_eq!(snapshot_version(&app, &t).await, rebuilt);
    app.clock.advance(chrono::Duration::days(1));
    app.sync_now(&admin, &id).await;
    assert!(snapshot_version(&app, &t).await > rebuilt);
}
