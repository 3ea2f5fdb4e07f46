//! Tenant data export: `POST /v1/exports`, the job (`build_export`, run here directly as
//! the worker would on `ExportRequested`), and `GET /v1/exports/{id}?page=N`. Who may
//! read an export and for how long is tested here; what an export holds in `contents`.

mod contents;

use secrecy::SecretString;
use serde_json::{Value, json};
use tally::domain::ids::{ExportId, IntegrationId, TenantId};
use tally::ports::SecretName;
use tally::services::ServiceError;
use tally_tests::fake_stripe::{
    FAKE_API_KEY, FAKE_APP_SECRET_KEY, FAKE_CLIENT_ID, FakeStripe, Scenario,
};

use crate::helpers::{TestApp, TestUser, error_code, spawn_app, spawn_app_with};

async fn app_with_fake(customers: usize) -> (TestApp, FakeStripe) {
    let fake = FakeStripe::start(Scenario::new(customers)).await;
    let mut vars = fake.config_vars();
    vars.push(("TALLY_STRIPE_CLIENT_ID".into(), FAKE_CLIENT_ID.into()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let name = SecretName::parse("tally/system/stripe-app-secret").unwrap();
    let secret = SecretString::from(FAKE_APP_SECRET_KEY.to_owned());
    app.services
        .adapters
        .secrets
        .put(&name, &secret)
        .await
        .unwrap();
    (app, fake)
}

fn tenant_of(user: &TestUser) -> TenantId {
    TenantId::parse(&user.tenant_id).unwrap()
}

/// Connects the fake Stripe account with its restricted key and syncs it.
async fn connect_stripe(app: &TestApp, user: &TestUser, token: &str) -> IntegrationId {
    let body = json!({ "provider": "stripe", "api_key": FAKE_API_KEY });
    let response = app.post("/v1/integrations", Some(token), body).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let id = IntegrationId::parse(body["id"].as_str().unwrap()).unwrap();
    app.services
        .ingestion
        .sync_integration(&tenant_of(user), &id)
        .await
        .unwrap();
    id
}

/// `POST /v1/exports`, then the job; returns the export's id.
pub(crate) async fn built_export(app: &TestApp, user: &TestUser, token: &str) -> String {
    let response = app.post("/v1/exports", Some(token), json!({})).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    let export = ExportId::parse(&id).unwrap();
    app.services
        .tenancy
        .build_export(&tenant_of(user), &export)
        .await
        .unwrap();
    id
}

/// Every page of a ready export, following `next_page`.
pub(crate) async fn pages(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(0);
    while let Some(page) = next {
        let response = app
            .get(&format!("/v1/exports/{id}?page={page}"), token)
            .await;
        assert_eq!(response.status(), 200, "page {page}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["page"], page);
        next = body["next_page"].as_u64();
        out.push(body);
    }
    assert_eq!(out[0]["pages"], out.len());
    out
}

/// A section's records across every page, in order.
pub(crate) fn section<'a>(pages: &'a [Value], name: &str) -> Vec<&'a Value> {
    let lists = pages.iter().filter_map(|p| p["document"][name].as_array());
    lists.flatten().collect()
}

#[tokio::test]
async fn a_second_export_within_a_minute_is_rate_limited() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    // Held still, so the 59 s below are 59 s however slow the machine is.
    app.clock.freeze_at(chrono::Utc::now());
    let first = app.post("/v1/exports", Some(&token), json!({})).await;
    assert_eq!(first.status(), 202);
    let body: Value = first.json().await.unwrap();
    // Until the job has run, the export is pending and has no document.
    let pending: Value = app
        .get(
            &format!("/v1/exports/{}", body["id"].as_str().unwrap()),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending["status"], "pending");
    assert!(pending["document"].is_null());

    app.clock.advance(chrono::Duration::seconds(59));
    let second = app.post("/v1/exports", Some(&token), json!({})).await;
    assert_eq!(second.status(), 429);
    let retry_after: u64 = second.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1, "the rest of the 60 s window");
    assert_eq!(error_code(second).await, "rate_limited");

    app.clock.advance(chrono::Duration::seconds(2));
    let third = app.post("/v1/exports", Some(&token), json!({})).await;
    assert_eq!(third.status(), 202);
}

#[tokio::test]
async fn another_tenants_or_an_unknown_export_is_not_found() {
    let app = spawn_app().await;
    let a = app.signup_as("a@example.com", "Tenant A").await;
    let a_token = app.login(&a).await;
    let b = app.signup_as("b@example.com", "Tenant B").await;
    let b_token = app.login(&b).await;
    let b_export = built_export(&app, &b, &b_token).await;
    assert_eq!(pages(&app, &b_token, &b_export).await.len(), 1);

    for path in [
        format!("/v1/exports/{b_export}"),
        format!("/v1/exports/{b_export}?page=0"),
        format!("/v1/exports/{}", ExportId::generate()),
        "/v1/exports/not-an-id".to_owned(),
    ] {
        let response = app.get(&path, &a_token).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let past_the_end = format!("/v1/exports/{b_export}?page=1");
    assert_eq!(app.get(&past_the_end, &b_token).await.status(), 404);
    // A's own export holds nothing of B's.
    let a_export = built_export(&app, &a, &a_token).await;
    let raw = pages(&app, &a_token, &a_export).await[0].to_string();
    assert!(!raw.contains("b@example.com") && !raw.contains(&b.tenant_id));
}

#[tokio::test]
async fn an_export_is_gone_after_seven_days() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = built_export(&app, &admin, &token).await;
    // Sessions end long before: sign in again on each side of the expiry.
    app.clock
        .advance(chrono::Duration::days(7) - chrono::Duration::seconds(5));
    let token = app.login(&admin).await;
    assert_eq!(
        app.get(&format!("/v1/exports/{id}"), &token).await.status(),
        200
    );
    app.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(
        app.get(&format!("/v1/exports/{id}"), &token).await.status(),
        404
    );
    let export = ExportId::parse(&id).unwrap();
    let rebuilt = app
        .services
        .tenancy
        .build_export(&tenant_of(&admin), &export)
        .await;
    assert!(matches!(rebuilt, Err(ServiceError::NotFound)));
}

#[tokio::test]
async fn only_admins_may_export() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let response = app.post("/v1/exports", Some(&analyst), json!({})).await;
    assert_eq!(response.status(), 403);
}
