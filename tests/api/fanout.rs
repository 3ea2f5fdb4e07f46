//! Scheduled work fanned out: the planners list what is due and each sync or deletion
//! runs as a job of its own, on a bounded pool locally (what `local ingest`, `local
//! sweep` and `serve` run) and as its own invocation in AWS (the functions' handlers,
//! fed the events the planners publish). One tenant whose Stripe answers 500s, or
//! never answers, holds up nobody else's sync or deletion.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};
use tally::domain::ids::{IntegrationId, TenantId};
use tally::domain::schedule::{HOUR_SECS, sync_offset};
use tally::local::JobPool;
use tally::services::accounts::SignupRequest;
use tally::services::integrations::IntegrationStatus;
use tally::services::jobs::{INTEGRATION_PURGE_DUE, Workers};
use tally::services::scheduled::PlanScope;
use tally_tests::fake_stripe::{FakeStripe, KeyFault, Scenario};

use crate::helpers::{GOOD_PASSWORD, TestApp, ingest_workers, spawn_app_with};

/// A connected account whose API answers 500 to everything.
const DOWN_KEY: &str = "rk_test_fakeAccountDown";
/// A connected account whose API never answers.
const STUCK_KEY: &str = "rk_test_fakeAccountStuck";

async fn app_with(fake: &FakeStripe, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = fake.config_vars();
    vars.push(("TALLY_STRIPE_RETRY_BASE_MS".into(), "1".into()));
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_with(&vars).await
}

/// A tenant with an integration on the fake Stripe through `key` (working while it
/// connects); its admin's token.
async fn stripe_tenant(app: &TestApp, fake: &FakeStripe, key: &str) -> (TenantId, String, String) {
    fake.add_api_key(key);
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let body = json!({ "provider": "stripe", "api_key": key });
    let response = app.post("/v1/integrations", Some(&token), body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    (TenantId::parse(&admin.tenant_id).unwrap(), id, token)
}

/// `n` tenants, each with a demo integration of one customer: signed up through the
/// service from addresses of their own (the per-address sign-up budget is not what
/// this tests), a few at a time.
async fn small_tenants(app: &TestApp, n: usize) -> Vec<(TenantId, IntegrationId)> {
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let created = futures::future::join_all(chunk.iter().map(|&i| async move {
            let ip = IpAddr::from([10, 21, (i / 250) as u8, (i % 250 + 1) as u8]);
            let request = SignupRequest {
                company: format!("Small {i} GmbH"),
                email: format!("small-{i}@example.com"),
                password: SecretString::from(GOOD_PASSWORD),
                ip,
            };
            let (tenant, _) = app.services.identity.signup(request).await.unwrap();
            let integration = app
                .services
                .integrations
                .connect_demo_of(&tenant, i as u64, Some(1))
                .await
                .unwrap();
            (tenant, integration)
        }))
        .await;
        out.extend(created);
    }
    out
}

async fn integration(
    app: &TestApp,
    tenant: &TenantId,
    id: &str,
) -> tally::repos::integrations::StoredIntegration {
    let id = IntegrationId::parse(id).unwrap();
    app.services
        .common
        .repos
        .integrations
        .get(tenant, &id)
        .await
        .unwrap()
        .expect("the integration exists")
}

#[tokio::test]
async fn two_hundred_tenants_sync_in_one_pass_but_the_broken_two_whose_failures_are_recorded() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    // A real timeout, short: the stuck account's sync never ends on its own. Not
    // shorter: a healthy sync of a debug build, four at once on two cores, took up to
    // ~200 ms here.
    let app = app_with(
        &fake,
        &[("TALLY_JOB_TIMEOUT_MS", "2000"), ("TALLY_JOB_WORKERS", "4")],
    )
    .await;
    let (down_tenant, down, _) = stripe_tenant(&app, &fake, DOWN_KEY).await;
    let (_, stuck, stuck_token) = stripe_tenant(&app, &fake, STUCK_KEY).await;
    fake.break_key(DOWN_KEY, KeyFault::Status(500));
    fake.break_key(STUCK_KEY, KeyFault::Hang);
    let small = small_tenants(&app, 198).await;

    // What `local ingest` runs: the planner, then every sync on the pool.
    let pool = JobPool::new(Workers::all(&app.services), app.services.config.job_workers);
    let pass = pool.ingest_pass().await.unwrap();
    assert_eq!(
        (pass.synced, pass.failed, pass.skipped),
        (198, 2, 0),
        "{pass:?}"
    );

    for (tenant, id) in &small {
        let synced = integration(&app, tenant, id.as_str()).await;
        assert_eq!(synced.status, IntegrationStatus::Connected);
        assert!(synced.record.last_sync_at.is_some() && synced.record.last_error.is_none());
    }
    let down = integration(&app, &down_tenant, &down).await;
    assert_eq!(
        down.record.last_error.as_deref(),
        Some("provider_unavailable")
    );
    assert_eq!(down.status, IntegrationStatus::Connected);
    // The stuck one was stopped at its timeout, its lease released: the next pass
    // tries it again at once, and its admin sees why it has no data.
    let list: Value = app
        .get("/v1/integrations", &stuck_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["id"], stuck.as_str());
    assert_eq!(list["data"][0]["status"], "connected");
    assert_eq!(list["data"][0]["last_error"], "sync_timed_out");
}

#[tokio::test]
async fn a_deletion_is_not_held_up_by_a_sync_that_hangs() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    // One sync at a time, and a timeout far beyond this test.
    let app = app_with(
        &fake,
        &[
            ("TALLY_JOB_TIMEOUT_MS", "600000"),
            ("TALLY_JOB_WORKERS", "1"),
        ],
    )
    .await;
    let _stuck = stripe_tenant(&app, &fake, STUCK_KEY).await;
    fake.break_key(STUCK_KEY, KeyFault::Hang);
    let leaving = app.signup().await;
    let token = app.login(&leaving).await;
    let tenant = TenantId::parse(&leaving.tenant_id).unwrap();
    let id = app
        .services
        .integrations
        .connect_demo_of(&tenant, 3, Some(1))
        .await
        .unwrap();
    app.sync_now(&leaving, id.as_str()).await;
    let response = app.delete(&format!("/v1/integrations/{id}"), &token).await;
    assert_eq!(response.status(), 202);

    let pool = JobPool::new(Workers::all(&app.services), app.services.config.job_workers);
    let syncs = pool.plan_syncs(PlanScope::All).await.unwrap();
    assert_eq!(
        syncs.len(),
        1,
        "the stuck account's sync holds the only sync worker"
    );
    // A bound, not a sleep: the deletion finishes while the sync still hangs.
    let swept = tokio::time::timeout(Duration::from_secs(60), pool.sweep_pass())
        .await
        .expect("the sweep is not held up")
        .unwrap();
    assert_eq!(swept.integrations_purged, 1);
    assert!(swept.integration_items_deleted > 0);
    assert!(!syncs[0].is_finished(), "the sync still hangs");
    assert!(
        app.services
            .common
            .repos
            .integrations
            .get(&tenant, &id)
            .await
            .unwrap()
            .is_none()
    );
    for sync in syncs {
        sync.abort();
    }
}

#[tokio::test]
async fn the_planner_asks_for_a_tenant_s_sync_in_its_window_and_a_sync_delivered_twice_is_harmless()
{
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let app = app_with(&fake, &[]).await;
    let admin = app.signup().await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let id = app
        .services
        .integrations
        .connect_demo_of(&tenant, 5, Some(2))
        .await
        .unwrap();
    let offset = i64::from(sync_offset(&tenant));
    let hour = Utc.with_ymd_and_hms(2026, 12, 2, 15, 0, 0).unwrap();
    let workers = ingest_workers(&app);
    let planned_for_us = |app: &TestApp| {
        app.events_of("SyncRequested")
            .into_iter()
            .filter(|e| e["integration_id"] == id.as_str())
            .collect::<Vec<_>>()
    };

    // Half an hour off the tenant's offset: not asked for.
    let elsewhere = (offset + i64::from(HOUR_SECS) / 2) % i64::from(HOUR_SECS);
    app.clock
        .freeze_at(hour + chrono::Duration::seconds(elsewhere));
    let reply = tally::lambda::handle_ingest_event(&workers, json!({"job": "plan_syncs"}))
        .await
        .unwrap();
    assert_eq!(reply["planned"], 0);
    assert!(planned_for_us(&app).is_empty());

    // At the offset itself, not yet: the run of the window after asks for it, once.
    app.clock
        .freeze_at(hour + chrono::Duration::seconds(offset));
    let reply = tally::lambda::handle_ingest_event(&workers, json!({"job": "plan_syncs"}))
        .await
        .unwrap();
    assert_eq!(reply["planned"], 0);
    app.clock
        .freeze_at(hour + chrono::Duration::seconds(offset + 300));
    let reply = tally::lambda::handle_ingest_event(&workers, json!({"job": "plan_syncs"}))
        .await
        .unwrap();
    assert_eq!(reply["planned"], 1);
    let events = planned_for_us(&app);
    assert_eq!(events.len(), 1);

    // EventBridge delivers it (twice: at-least-once); the second copy finds nothing new.
    let envelope = json!({"source": "tally", "detail-type": "SyncRequested", "detail": events[0]});
    let first = tally::lambda::handle_ingest_event(&workers, envelope.clone())
        .await
        .unwrap();
    assert_eq!(first["synced"], true);
    assert!(first["report"]["written"].as_u64().unwrap() > 0);
    let again = tally::lambda::handle_ingest_event(&workers, envelope)
        .await
        .unwrap();
    assert_eq!(again["synced"], true);
    assert_eq!(again["report"]["written"], 0, "{again}");
}

#[tokio::test]
async fn the_sweep_planner_publishes_each_deletion_for_the_sweep_function_alone() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let app = app_with(&fake, &[]).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let id = app
        .services
        .integrations
        .connect_demo_of(&tenant, 9, Some(1))
        .await
        .unwrap();
    app.sync_now(&admin, id.as_str()).await;
    assert_eq!(
        app.delete(&format!("/v1/integrations/{id}"), &token)
            .await
            .status(),
        202
    );
    let sweep =
        tally::lambda::sweep_workers(&app.services.adapters, (*app.services.config).clone());
    let reply = tally::lambda::handle_sweep_event(&sweep, json!({"job": "plan_sweep"}))
        .await
        .unwrap();
    // The integration's purge and the expired items' (no tenant is closed).
    assert_eq!(reply["planned"], 2);
    let due = app.events_of(INTEGRATION_PURGE_DUE);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0]["integration_id"], id.as_str());
    let envelope =
        json!({"source": "tally", "detail-type": INTEGRATION_PURGE_DUE, "detail": due[0]});

    // Not the ingest function's to run: its role may not delete this.
    assert!(
        tally::lambda::handle_ingest_event(&ingest_workers(&app), envelope.clone())
            .await
            .is_err()
    );
    let first = tally::lambda::handle_sweep_event(&sweep, envelope.clone())
        .await
        .unwrap();
    assert_eq!(first["integrations_purged"], 1);
    assert!(first["integration_items_deleted"].as_u64().unwrap() > 0);
    // Delivered twice: nothing is left to delete, nothing is audited again.
    let again = tally::lambda::handle_sweep_event(&sweep, envelope)
        .await
        .unwrap();
    assert_eq!(again["integrations_purged"], 0);
    assert_eq!(again["integration_items_deleted"], 0);
}
