//! The lifecycle promises: disconnect and sweep, account closure, an
//! interrupted sweep finished by the next one.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};
use tally::domain::ids::TenantId;
use tally::ports::store::query_all;
use tally::ports::{Key, Query, SecretName, SortKeys};
use tally::repos::EntityKey;
use tally::repos::registry::{Closure, ENTITIES, Entity, Scope, exported_sections};
use tally::repos::tenancy::ReceiptKey;
use tally_tests::failing_store::FailingStore;
use tally_tests::fake_stripe::{FAKE_API_KEY, FakeStripe, Scenario};

use crate::helpers::{
    TestApp, contains_bytes, entity_of, error_code, spawn_app, spawn_app_on_moto, spawn_app_with,
};

async fn app_with_stripe() -> (TestApp, FakeStripe) {
    let fake = FakeStripe::start(Scenario::new(12)).await;
    let vars = fake.config_vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    (spawn_app_with(&vars).await, fake)
}

pub(crate) async fn partition(app: &TestApp, tenant: &str) -> Vec<tally::ports::Item> {
    let store = app.services.adapters.store.as_ref();
    query_all(store, Query::new(format!("TENANT#{tenant}"), SortKeys::All))
        .await
        .unwrap()
}

/// Connects the fake with its restricted key and syncs; returns the integration id.
async fn connected(app: &TestApp, token: &str, tenant: &str) -> String {
    let body: Value = app
        .post(
            "/v1/integrations",
            Some(token),
            json!({ "provider": "stripe", "api_key": FAKE_API_KEY }),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    let (t, i) = (
        TenantId::parse(tenant).unwrap(),
        tally::domain::ids::IntegrationId::parse(&id).unwrap(),
    );
    app.services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_disconnected_integration_is_gone_after_the_sweep() {
    let (app, _fake) = app_with_stripe().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connected(&app, &token, &admin.tenant_id).await;
    let owned =
        |items: &[tally::ports::Item]| items.iter().filter(|i| i.key.sk.contains(&id)).count();
    assert!(owned(&partition(&app, &admin.tenant_id).await) > 12);

    let response = app.delete(&format!("/v1/integrations/{id}"), &token).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let deadline =
        chrono::DateTime::parse_from_rfc3339(body["data_deleted_by"].as_str().unwrap()).unwrap();
    use tally::ports::Clock;
    let hours = (deadline.with_timezone(&chrono::Utc) - app.clock.now()).num_minutes();
    assert!(
        (23 * 60..=24 * 60).contains(&hours),
        "deadline in 24 h, was {hours} min"
    );
    let name = SecretName::integration(&admin.tenant_id, &id).unwrap();
    assert!(
        app.services
            .adapters
            .secrets
            .get(&name)
            .await
            .unwrap()
            .is_none(),
        "the secret goes at once"
    );
    let list: Value = app
        .get("/v1/integrations", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["status"], "disconnected");
    assert_eq!(
        app.post(
            &format!("/v1/integrations/{id}/sync"),
            Some(&token),
            json!({})
        )
        .await
        .status(),
        404,
        "no more syncs"
    );

    app.clock.advance(Duration::hours(25));
    let report = app.services.tenancy.sweep().await.unwrap();
    assert_eq!(report.integrations_purged, 1);
    let left = partition(&app, &admin.tenant_id).await;
    assert_eq!(owned(&left), 0, "no item of the integration remains");
    let token = app.login(&admin).await;
    let log: Value = app
        .get("/v1/security/audit-log", &token)
        .await
        .json()
        .await
        .unwrap();
    let entry = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["action"]
                .as_str()
                .unwrap()
                .starts_with("IntegrationDataDeleted")
        })
        .unwrap();
    assert!(
        entry["action"].as_str().unwrap().contains("items="),
        "counts, not contents: {entry}"
    );
    assert_eq!(
        app.services
            .tenancy
            .sweep()
            .await
            .unwrap()
            .integrations_purged,
        0,
        "idempotent"
    );
}

#[tokio::test]
async fn a_closed_account_is_refused_at_once_and_erased_by_the_sweep() {
    let (app, _fake) = app_with_stripe().await;
    let admin = app
        .signup_as("closing.owner@example.com", "Closing Soon GmbH")
        .await;
    let token = app.login(&admin).await;
    let (viewer, viewer_token) = app.user_with_role(&token, "viewer").await;
    let id = connected(&app, &token, &admin.tenant_id).await;
    app.post(
        "/v1/password/reset-request",
        None,
        json!({ "email": admin.email }),
    )
    .await;

    let wrong = app
        .request(
            reqwest::Method::DELETE,
            "/v1/account",
            Some(&token),
            Some(json!({ "password": admin.password, "confirm": "Closing Soon" })),
        )
        .await;
    assert_eq!(wrong.status(), 400);
    let bad_password = app
        .request(
            reqwest::Method::DELETE,
            "/v1/account",
            Some(&token),
            Some(json!({ "password": "Nope-Nope-1234", "confirm": "Closing Soon GmbH" })),
        )
        .await;
    assert_eq!(error_code(bad_password).await, "invalid_credentials");
    let viewer_try = app
        .request(
            reqwest::Method::DELETE,
            "/v1/account",
            Some(&viewer_token),
            Some(json!({ "password": viewer.password, "confirm": "Closing Soon GmbH" })),
        )
        .await;
    assert_eq!(viewer_try.status(), 403);

    let response = app
        .request(
            reqwest::Method::DELETE,
            "/v1/account",
            Some(&token),
            Some(json!({ "password": admin.password, "confirm": "Closing Soon GmbH" })),
        )
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert!(body["deleted_by"].is_string());

    // At once: no session, no sign-in, no key, no secret, no events.
    assert_eq!(app.get("/v1/me", &token).await.status(), 401);
    assert_eq!(app.get("/v1/me", &viewer_token).await.status(), 401);
    assert_eq!(
        app.try_login(&admin.email, &admin.password).await.status(),
        401
    );
    assert_eq!(
        app.try_login(&viewer.email, &viewer.password)
            .await
            .status(),
        401
    );
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let store = app.services.adapters.store.clone();
    assert!(
        store
            .get(&Key::new(tenant.partition(), "KEY"))
            .await
            .unwrap()
            .is_none(),
        "crypto-shredded"
    );
    assert!(app.services.tenant_keys.data_key(&tenant).await.is_err());
    assert!(
        app.services
            .adapters
            .secrets
            .get(&SecretName::integration(&admin.tenant_id, &id).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !app.events()
            .iter()
            .any(|e| e["tenant_id"] == admin.tenant_id.as_str()),
        "the tenant's events are gone"
    );

    app.clock.advance(Duration::days(31));
    let report = app.services.tenancy.sweep().await.unwrap();
    assert_eq!(report.tenants_erased, 1);
    assert!(
        partition(&app, &admin.tenant_id).await.is_empty(),
        "no item of the tenant remains"
    );
    let receipt = store
        .get(&ReceiptKey::of(&tenant).key())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !receipt.key.pk.contains(&admin.tenant_id),
        "the receipt keeps a hash, not the id"
    );

    // And nothing of it in the raw files.
    let data = app.data_dir.path().join("data");
    let compacting = tally::adapters::embedded::SqliteStore::open(&data, "tally").unwrap();
    compacting.compact().await.unwrap();
    let raw = app.raw_data();
    for needle in [
        admin.tenant_id.as_str(),
        "Closing Soon GmbH",
        admin.email.as_str(),
        viewer.email.as_str(),
    ] {
        assert!(
            !contains_bytes(&raw, needle.as_bytes()),
            "{needle} remains on disk"
        );
    }
}

#[tokio::test]
async fn concurrent_closures_close_once_and_the_others_are_refused_cleanly() {
    let app = spawn_app().await;
    let admin = app
        .signup_as("closing-twice@example.com", "Twice GmbH")
        .await;
    let tokens = [
        app.login(&admin).await,
        app.login(&admin).await,
        app.login(&admin).await,
    ];
    let body = json!({ "password": admin.password, "confirm": "Twice GmbH" });
    let replies = futures::future::join_all(tokens.iter().map(|token| {
        app.request(
            reqwest::Method::DELETE,
            "/v1/account",
            Some(token),
            Some(body.clone()),
        )
    }))
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "exactly one closure: {statuses:?}"
    );
    // The others lost the race: their session ended (401) or the tenant changed under
    // them (409 concurrent_update); never a 500.
    assert!(
        statuses.iter().all(|s| matches!(s, 202 | 401 | 409)),
        "{statuses:?}"
    );
    assert_eq!(
        app.try_login(&admin.email, &admin.password).await.status(),
        401
    );
}

#[tokio::test]
async fn a_sweep_killed_half_way_is_finished_by_the_next_one() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let id = app
        .services
        .integrations
        .connect_demo(&tenant, 3)
        .await
        .unwrap();
    app.services
        .ingestion
        .sync_integration(&tenant, &id)
        .await
        .unwrap();
    let token = app.login(&admin).await;
    assert_eq!(
        app.delete(&format!("/v1/integrations/{id}"), &token)
            .await
            .status(),
        202
    );
    let before = partition(&app, &admin.tenant_id)
        .await
        .iter()
        .filter(|i| i.key.sk.contains(id.as_str()))
        .count();
    assert!(before > 1000);

    // A sweep whose store dies after five writes: it stops with an error...
    let crashing = app.services_on(Arc::new(FailingStore::after_transactions(
        app.services.adapters.store.clone(),
        5,
    )));
    assert!(crashing.tenancy.sweep().await.is_err());
    let after_crash = partition(&app, &admin.tenant_id)
        .await
        .iter()
        .filter(|i| i.key.sk.contains(id.as_str()))
        .count();
    assert!(
        after_crash < before && after_crash > 0,
        "interrupted part-way: {after_crash} of {before} left"
    );
    // ...nothing of it became visible again...
    let list: Value = app
        .get("/v1/integrations", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["status"], "disconnected");
    // ...and the next sweep finishes the job.
    let report = app.services.tenancy.sweep().await.unwrap();
    assert_eq!(report.integrations_purged, 1);
    assert_eq!(
        partition(&app, &admin.tenant_id)
            .await
            .iter()
            .filter(|i| i.key.sk.contains(id.as_str()))
            .count(),
        0
    );
}

#[tokio::test]
async fn on_the_aws_adapters_a_closed_tenant_leaves_no_item_key_or_secret_after_the_sweep() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let vars = fake.config_vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_on_moto(&vars).await;
    let admin = app
        .signup_as(
            &format!("aws-{}@example.com", uuid::Uuid::new_v4().simple()),
            "On AWS Ltd",
        )
        .await;
    let token = app.login(&admin).await;
    let id = connected(&app, &token, &admin.tenant_id).await;
    assert!(
        partition(&app, &admin.tenant_id).await.len() > 20,
        "synced into DynamoDB, sealed"
    );
    let secret = SecretName::integration(&admin.tenant_id, &id).unwrap();
    assert!(
        app.services
            .adapters
            .secrets
            .get(&secret)
            .await
            .unwrap()
            .is_some()
    );

    let response = app
        .request(
            reqwest::Method::DELETE,
            "/v1/account",
            Some(&token),
            Some(json!({ "password": admin.password, "confirm": "On AWS Ltd" })),
        )
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        app.try_login(&admin.email, &admin.password).await.status(),
        401
    );
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    assert!(
        app.services
            .adapters
            .store
            .get(&Key::new(tenant.partition(), "KEY"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.services
            .adapters
            .secrets
            .get(&secret)
            .await
            .unwrap()
            .is_none(),
        "force-deleted in Secrets Manager"
    );

    app.clock.advance(Duration::days(31));
    app.services.tenancy.sweep().await.unwrap();
    assert!(
        partition(&app, &admin.tenant_id).await.is_empty(),
        "no item of the tenant in the table"
    );
    let listed = query_all(
        app.services.adapters.store.as_ref(),
        Query::new("INTEGRATIONS", SortKeys::prefix(admin.tenant_id.as_str())),
    )
    .await
    .unwrap();
    assert!(listed.is_empty());
}

/// Every (pk, sk) of the embedded store's file, read beside the running app.
fn stored_keys(app: &TestApp) -> Vec<Key> {
    let path = app.data_dir.path().join("data").join("tally.db");
    let db = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let mut statement = db.prepare("SELECT pk, sk FROM items").unwrap();
    statement
        .query_map([], |row| {
            Ok(Key::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn every_stored_item_is_a_registered_entity_and_a_closed_tenant_leaves_none_of_its_own() {
    let (app, _fake) = app_with_stripe().await;
    let admin = app
        .signup_as("registry.owner@example.com", "Registry Walk GmbH")
        .await;
    let token = app.login(&admin).await;
    let (viewer, _) = app.user_with_role(&token, "viewer").await;
    connected(&app, &token, &admin.tenant_id).await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    app.post(
        "/v1/security/ip-allowlist",
        Some(&token),
        json!({ "cidr": "127.0.0.0/8", "note": "office" }),
    )
    .await;
    let rates = json!({ "base": "eur", "rates": { "kzt": 520.5 } });
    assert_eq!(
        app.put("/v1/settings/fx-rates", &token, rates)
            .await
            .status(),
        200
    );
    app.services
        .analytics
        .set_reporting_currency(&tenant, "eur")
        .await
        .unwrap();
    let segment = json!({ "name": "Berliners", "filters": { "city": "Berlin" } });
    assert_eq!(
        app.post("/v1/segments/custom", Some(&token), segment)
            .await
            .status(),
        201
    );
    let export: Value = app
        .post("/v1/exports", Some(&token), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let export = tally::domain::ids::ExportId::parse(export["id"].as_str().unwrap()).unwrap();
    app.services
        .tenancy
        .build_export(&tenant, &export)
        .await
        .unwrap();
    app.try_login(&viewer.email, "Wrong-Password-123").await;
    app.post(
        "/v1/password/reset-request",
        None,
        json!({ "email": admin.email }),
    )
    .await;
    // Support access: an operator (global), its session, and a grant (the tenant's).
    let operator = crate::support::create_operator(&app).await;
    crate::support::operator_login(&app, &operator).await;
    let granted = crate::support::grant(&app, &token, &operator.id, 1).await;
    assert_eq!(granted.status(), 201);

    // The weekly digest's record (sent before a Slack webhook is set: nothing is
    // posted), then the Slack setting.
    let digest = tally::services::jobs::Job::SendDigest(tally::services::jobs::DigestJob {
        tenant_id: tenant.clone(),
        week_start: None,
    });
    let workers = tally::services::jobs::Workers::all(&app.services);
    tally::services::jobs::run(&workers, digest).await.unwrap();
    let webhook = json!({ "url": "https://hooks.slack.com/services/T0/B0/registrywalk" });
    assert_eq!(
        app.put("/v1/settings/slack-webhook", &token, webhook)
            .await
            .status(),
        200
    );

    // An import source with a plan and a subscription's event log.
    let custom = app
        .post("/v1/integrations/custom", Some(&token), json!({}))
        .await;
    assert_eq!(custom.status(), 201);
    let custom: Value = custom.json().await.unwrap();
    let custom = custom["id"].as_str().unwrap();
    let t0 = 1_735_689_600_i64;
    let rows = [
        (
            "customers",
            json!([{"external_id": "c1", "created_at": t0}]),
        ),
        (
            "plans",
            json!([{"external_id": "p1", "name": "Basic", "amount": 1000,
            "currency": "eur", "interval": "month", "interval_count": 1}]),
        ),
        (
            "subscription_events",
            json!([{"external_id": "e1", "customer": "c1",
            "subscription": "s1", "type": "start", "at": t0, "plan": "p1", "quantity": 1}]),
        ),
    ];
    for (kind, data) in rows {
        let path = format!("/v1/integrations/{custom}/import/{kind}");
        let reply = app.post(&path, Some(&token), json!({ "data": data })).await;
        assert_eq!(reply.status(), 200, "{path}");
    }
    // A CSV upload, queued: its run and its staged chunk.
    let queued = reqwest::Client::new()
        .post(format!(
            "{}/v1/integrations/{custom}/import/customers",
            app.address
        ))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body("external_id,created_at\nc2,1735689600\n")
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);

    // Every item in the file is an item of exactly one registered entity.
    let before = stored_keys(&app);
    let kinds: BTreeSet<Entity> = before.iter().map(entity_of).collect();
    let tenant_partition = tenant.partition();
    for entity in ENTITIES
        .into_iter()
        .filter(|e| e.spec().scope == Scope::Tenant)
        .filter(|e| !matches!(e, Entity::BillingRecord(_)))
    {
        assert!(kinds.contains(&entity), "the walk made no {entity:?}");
    }
    assert!(
        before
            .iter()
            .any(|k| matches!(entity_of(k), Entity::BillingRecord(_))),
        "the walk synced no record"
    );

    let response = app
        .request(
            reqwest::Method::DELETE,
            "/v1/account",
            Some(&token),
            Some(json!({ "password": admin.password, "confirm": "Registry Walk GmbH" })),
        )
        .await;
    assert_eq!(response.status(), 202);
    app.clock.advance(Duration::days(31));
    app.services.tenancy.sweep().await.unwrap();

    // Nothing of the tenant's own; of global items, only those about no tenant and
    // those kept for a stated reason (the erasure receipt). The system pseudo-tenant's
    // partition is no tenant's: its key seals the operators' records and it holds
    // sign-in attempts that matched no user (operators' among them).
    let system_partition = TenantId::system().partition();
    for key in stored_keys(&app) {
        if key.pk == system_partition {
            continue;
        }
        let entity = entity_of(&key);
        assert_ne!(key.pk, tenant_partition, "{entity:?} remains");
        assert!(
            matches!(
                entity.spec().closure,
                Closure::NoTenant | Closure::KeptBecause(_)
            ),
            "{entity:?} remains after the closure: {key:?}"
        );
        assert!(!key.pk.contains(tenant.as_str()) && !key.sk.contains(tenant.as_str()));
    }
}

#[tokio::test]
async fn the_export_document_has_exactly_the_sections_the_registry_marks_exported() {
    let (app, _fake) = app_with_stripe().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    connected(&app, &token, &admin.tenant_id).await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let export: Value = app
        .post("/v1/exports", Some(&token), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let id = export["id"].as_str().unwrap().to_owned();
    let export = tally::domain::ids::ExportId::parse(&id).unwrap();
    app.services
        .tenancy
        .build_export(&tenant, &export)
        .await
        .unwrap();
    let mut sections = BTreeSet::new();
    let mut page = 0;
    loop {
        let body: Value = app
            .get(&format!("/v1/exports/{id}?page={page}"), &token)
            .await
            .json()
            .await
            .unwrap();
        let document = body["document"].as_object().unwrap();
        sections.extend(document.keys().cloned());
        match body["next_page"].as_u64() {
            Some(next) => page = next,
            None => break,
        }
    }
    let mut expected: BTreeSet<String> = exported_sections()
        .into_iter()
        .map(|s| s.name().to_owned())
        .collect();
    // Derived from the exported records, not a stored entity of its own.
    expected.insert("metrics_summary".into());
    assert_eq!(sections, expected);
}
