//! Incremental analytics: a pass publishes only what changed, and what it publishes
//! answers exactly as a full rebuild does.

use serde_json::{Value, json};
use tally::repos::registry::Entity;
use tally_tests::counting_store::CountingStore;
use tally_tests::fake_stripe::{FakeStripe, Scenario};

use crate::helpers::{TestApp, TestUser, entity_of, spawn_app_with};
use crate::integrations::{app_with_scenario, connect_key, ids, snapshot_version};

/// What a user sees of the analytics: every query the snapshot answers.
const VIEWS: &[&str] = &[
    "/v1/metrics/summary",
    "/v1/metrics/mrr?interval=month&from=2024-01-01&to=2026-12-31",
    "/v1/metrics/mrr?interval=month&from=2024-01-01&to=2026-12-31&group_by=plan",
    "/v1/metrics/customers?interval=month&from=2024-01-01&to=2026-12-31",
    "/v1/metrics/arpu?group_by=country",
    "/v1/customers?limit=200",
    "/v1/customers?limit=200&sort=ltv",
    "/v1/customers?limit=200&sort=loyalty",
    "/v1/segments",
    "/v1/dimensions",
    "/v1/insights/payment-failure-risk?limit=200",
];

/// The answers to [`VIEWS`] and to each listed customer's profile, with the
/// integration's id replaced by a placeholder (two tenants' integrations differ).
pub(crate) async fn answers(app: &TestApp, token: &str, integration: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for view in VIEWS {
        out.push((view.to_string(), get(app, token, view, integration).await));
    }
    let customers = out[5].1["data"].as_array().cloned().unwrap_or_default();
    for customer in customers {
        let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
        let body = get(app, token, &path, integration).await;
        out.push((path, body));
    }
    out
}

async fn get(app: &TestApp, token: &str, path: &str, integration: &str) -> Value {
    let response = app.get(path, token).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text.replace(integration, "INTEGRATION")).unwrap()
}

/// A tenant connected to `fake` and synced once (a full sync).
pub(crate) async fn synced_tenant(app: &TestApp) -> (TestUser, String, String) {
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let id = connect_key(app, &token).await;
    app.sync_now(&admin, &id).await;
    (admin, token, id)
}

/// A small deterministic generator (xorshift64*): the same seed, the same script.
pub(crate) struct Script(pub(crate) u64);

impl Script {
    pub(crate) fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % below
    }
}

/// One change at the processor, chosen by `script`: a quantity change, a cancellation
/// at period end, an immediate cancellation, a deleted customer, or a renewal of the
/// lifecycle subscriptions (new invoices and charges).
pub(crate) fn change(
    fake: &FakeStripe,
    script: &mut Script,
    customers: u64,
    deleted: &mut Vec<u64>,
) {
    let i = script.next(customers);
    let subscription = format!("sub_T{i:06}");
    match script.next(5) {
        0 => {
            let quantity = 1 + script.next(6);
            fake.update_subscription(&subscription, |s| {
                s["items"]["data"][0]["quantity"] = json!(quantity)
            });
        }
        1 => fake.update_subscription(&subscription, |s| s["cancel_at_period_end"] = json!(true)),
        2 => fake.update_subscription(&subscription, |s| {
            let at = s["created"].as_i64().unwrap_or(0) + 40 * 86_400;
            s["status"] = json!("canceled");
            s["canceled_at"] = json!(at);
            s["ended_at"] = json!(at);
        }),
        3 if !deleted.contains(&i) && i >= 6 => {
            fake.delete_customer(&format!("cus_T{i:06}"));
            deleted.push(i);
        }
        _ => fake.advance_lifecycle(),
    }
}

#[tokio::test]
async fn after_any_series_of_changes_incremental_passes_answer_as_a_full_rebuild() {
    const CUSTOMERS: u64 = 24;
    for seed in [0x9e37_79b9_7f4a_7c15_u64, 0x2545_f491, 7] {
        let (app, fake) =
            app_with_scenario(Scenario::new(CUSTOMERS as usize).with_lifecycle()).await;
        app.clock
            .freeze_at(chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap());
        let (admin, token, id) = synced_tenant(&app).await;
        let mut script = Script(seed);
        let mut deleted = Vec::new();
        for step in 0..4 {
            for _ in 0..=script.next(3) {
                change(&fake, &mut script, CUSTOMERS, &mut deleted);
            }
            // The tenant that follows the changes: one incremental pass.
            app.clock.advance(chrono::Duration::minutes(5));
            app.sync_now(&admin, &id).await;
            let incremental = answers(&app, &token, &id).await;
            // A tenant that reads the same account from scratch: a full sync and a
            // snapshot built with nothing published before it.
            let (_, fresh_token, fresh_id) = synced_tenant(&app).await;
            let full = answers(&app, &fresh_token, &fresh_id).await;
            assert_eq!(incremental.len(), full.len(), "seed {seed:#x} step {step}");
            for ((path, a), (_, b)) in incremental.iter().zip(&full) {
                assert_eq!(a, b, "seed {seed:#x} step {step}: {path} differs");
            }
        }
    }
}

#[tokio::test]
async fn a_pass_that_changed_one_customer_writes_that_customers_share_and_not_the_tenants() {
    let (app, fake) = app_with_scenario(Scenario::new(120)).await;
    let (admin, token, id) = synced_tenant(&app).await;
    let (t, i) = ids(&admin.tenant_id, &id);
    let built = snapshot_version(&app, &t).await;

    fake.update_subscription("sub_T000040", |s| {
        s["items"]["data"][0]["quantity"] = json!(4)
    });
    let counting = std::sync::Arc::new(CountingStore::new(app.services.adapters.store.clone()));
    let services = app.services_on(counting.clone());
    app.clock.advance(chrono::Duration::minutes(5));
    let report = services
        .ingestion
        .sync_integration(&t, &i)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.written, 1, "one subscription re-fetched");
    assert!(snapshot_version(&app, &t).await > built, "published");

    let written: Vec<Entity> = counting.written().iter().map(entity_of).collect();
    let count = |entity: Entity| written.iter().filter(|e| **e == entity).count();
    assert_eq!(
        count(Entity::CustomerProfile),
        1,
        "its profile only: {written:?}"
    );
    // Its part is replaced (one written, one deleted); RFM scores of a few other
    // customers may move with it, but not the tenant's hundred and twenty.
    assert!(
        count(Entity::SnapshotPart) <= 8,
        "a few parts, not all of them: {written:?}"
    );
    assert!(
        written.len() <= 30,
        "the pass writes what changed, not the tenant: {written:?}"
    );
    // And it reads that customer's records and parts, not the tenant's (a full
    // rebuild reads every one of the 120 customers' records: over 600 items).
    let read = counting.items_read();
    assert!(read <= 40, "the pass reads what changed: {read} items");

    // And the change shows.
    let customer: Value = app
        .get("/v1/customers/cus_T000040", &token)
        .await
        .json()
        .await
        .unwrap();
    let listed: Value = app
        .get("/v1/customers?limit=200", &token)
        .await
        .json()
        .await
        .unwrap();
    let row = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "cus_T000040")
        .unwrap()
        .clone();
    assert_eq!(customer["mrr"], row["mrr"], "profile and row agree");
    // Four seats of the €29 monthly plan.
    assert_eq!(customer["mrr"], 11600, "the profile shows the new quantity");
}

/// The keys of a tenant's stored snapshot parts.
async fn part_keys(app: &TestApp, tenant: &str) -> Vec<String> {
    let tenant = tally::domain::ids::TenantId::parse(tenant).unwrap();
    let query = tally::ports::Query::new(
        tenant.partition(),
        tally::ports::SortKeys::prefix("ANALYTICS#PART#"),
    );
    tally::ports::store::query_all(app.services.adapters.store.as_ref(), query)
        .await
        .unwrap()
        .into_iter()
        .map(|item| item.key.sk)
        .collect()
}

#[tokio::test]
async fn a_pass_stopped_at_any_write_is_finished_by_the_next_and_leaves_nothing_behind() {
    use tally_tests::failing_store::FailingStore;

    let (app, fake) = app_with_scenario(Scenario::new(40)).await;
    app.clock
        .freeze_at(chrono::DateTime::from_timestamp(1_780_012_800, 0).unwrap());
    let mut stopped_with_unpublished_parts = 0;
    let mut stop_after = 1;
    loop {
        let (admin, token, id) = synced_tenant(&app).await;
        let (t, i) = ids(&admin.tenant_id, &id);
        let published = snapshot_version(&app, &t).await;
        // (Signed in again below: sessions idle out while the clock moves.)
        let stored = part_keys(&app, &admin.tenant_id).await.len();
        for c in 6..18 {
            fake.update_subscription(&format!("sub_T{c:06}"), |s| {
                s["items"]["data"][0]["quantity"] = json!(2 + stop_after)
            });
        }
        // The pass, on a store that fails every write after the first `stop_after`, as
        // a process killed there would stop (batches are written one item at a time).
        let failing =
            FailingStore::after_transactions(app.services.adapters.store.clone(), stop_after);
        let services = app.services_on(std::sync::Arc::new(failing));
        let finished = services.ingestion.sync_integration(&t, &i).await.is_ok();
        // Whatever it wrote, the API answers from one whole snapshot.
        answers(&app, &token, &id).await;
        if snapshot_version(&app, &t).await == published
            && part_keys(&app, &admin.tenant_id).await.len() > stored
        {
            stopped_with_unpublished_parts += 1;
        }

        // The next pass, after the stopped one's lease, finishes it. (A pass that got
        // as far as saving its sync holds no lease, and leaves the next one nothing to
        // do: both tenants are then compared as of the same time.)
        if !finished {
            app.clock.advance(chrono::Duration::minutes(16));
        }
        app.sync_now(&admin, &id).await;
        let token = app.login(&admin).await;
        let (_, fresh_token, fresh_id) = synced_tenant(&app).await;
        let (after, full) = (
            answers(&app, &token, &id).await,
            answers(&app, &fresh_token, &fresh_id).await,
        );
        for ((path, a), (_, b)) in after.iter().zip(&full) {
            assert_eq!(a, b, "stopped after {stop_after} writes: {path} differs");
        }
        let mut published: Vec<String> = app
            .services
            .analytics
            .published_parts(&t)
            .await
            .unwrap()
            .into_iter()
            .map(|id| format!("ANALYTICS#PART#{id}"))
            .collect();
        published.sort();
        assert_eq!(
            part_keys(&app, &admin.tenant_id).await,
            published,
            "stopped after {stop_after} writes: the stored parts are the manifest's, none \
             left over, none missing"
        );
        if finished {
            break;
        }
        stop_after += 3;
    }
    assert!(
        stopped_with_unpublished_parts > 0,
        "some stop fell between storing new parts and publishing them"
    );
}

#[tokio::test]
async fn a_warm_process_reloads_only_the_parts_a_pass_changed() {
    let (app, fake) = app_with_scenario(Scenario::new(120)).await;
    let (admin, _, id) = synced_tenant(&app).await;
    let (t, i) = ids(&admin.tenant_id, &id);
    // One process (one `Services`) that queries, syncs, and queries again.
    let counting = std::sync::Arc::new(CountingStore::new(app.services.adapters.store.clone()));
    let services = app.services_on(counting.clone());
    let cold = services.analytics.snapshot(&t).await.unwrap().unwrap();
    assert!(
        counting.calls().iter().any(|c| c.op == "query"),
        "a cold load lists the parts"
    );

    fake.update_subscription("sub_T000040", |s| {
        s["items"]["data"][0]["quantity"] = json!(4)
    });
    app.clock.advance(chrono::Duration::minutes(5));
    services.ingestion.sync_integration(&t, &i).await.unwrap();
    counting.clear();
    let warm = services.analytics.snapshot(&t).await.unwrap().unwrap();
    let calls = counting.calls();
    assert!(
        calls.iter().all(|c| c.op == "get"),
        "the new version's few parts are read by id, nothing is listed: {:?}",
        calls.iter().map(|c| c.op).collect::<Vec<_>>()
    );
    assert!(
        calls.len() <= 12,
        "a few reads, not one per part: {}",
        calls.len()
    );
    let row = |s: &tally::services::analytics::Snapshot| {
        s.customers
            .iter()
            .find(|r| r.id == "cus_T000040")
            .map(|r| r.mrr)
    };
    assert_eq!(row(&cold), Some(2900));
    assert_eq!(row(&warm), Some(11600), "the reload shows the change");
    assert_eq!(warm.customers.len(), cold.customers.len());
}

/// A full rebuild streams the records into buckets of customers and computes one
/// bucket at a time (`services::rebuild`). On the demo dataset (every kind of record:
/// refunds, payment methods that several objects name, invoices of several
/// subscriptions), a tenant rebuilt in buckets of 7 customers answers every view and
/// every profile exactly as one rebuilt in a single bucket, and rebuilding it again
/// with nothing changed writes no part and no profile.
#[tokio::test]
async fn a_rebuild_in_small_buckets_answers_as_one_built_at_once() {
    let mut results = Vec::new();
    for bucket in ["7", "1000000"] {
        let app = spawn_app_with(&[("TALLY_REBUILD_BUCKET_CUSTOMERS", bucket)]).await;
        app.clock
            .freeze_at(chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap());
        let admin = app.signup().await;
        let token = app.login(&admin).await;
        let tenant = tally::domain::ids::TenantId::parse(&admin.tenant_id).unwrap();
        let id = app
            .services
            .integrations
            .connect_demo_of(&tenant, 11, Some(300))
            .await
            .unwrap();
        app.services
            .ingestion
            .sync_integration(&tenant, &id)
            .await
            .unwrap();
        let analytics = &app.services.analytics;
        let parts = analytics.published_parts(&tenant).await.unwrap();
        assert!(parts.len() > 40, "{} parts", parts.len());

        let counting = std::sync::Arc::new(CountingStore::new(app.services.adapters.store.clone()));
        let services = app.services_on(counting.clone());
        services.analytics.rebuild_analytics(&tenant).await.unwrap();
        assert_eq!(analytics.published_parts(&tenant).await.unwrap(), parts);
        let written: Vec<Entity> = counting
            .written()
            .iter()
            .map(entity_of)
            .filter(|e| matches!(e, Entity::SnapshotPart | Entity::CustomerProfile))
            .collect();
        assert!(written.is_empty(), "bucket {bucket}: rewrote {written:?}");
        results.push(answers(&app, &token, id.as_str()).await);
    }
    let (buckets, whole) = (&results[0], &results[1]);
    assert_eq!(buckets.len(), whole.len());
    assert!(
        buckets.len() > 200,
        "every listed customer's profile is compared"
    );
    for ((path, a), (_, b)) in buckets.iter().zip(whole) {
        // A page's cursor names the integration (encoded): the rest must be equal.
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(page) = v.as_object_mut() {
                page.remove("next_cursor");
            }
            v
        };
        assert!(strip(a) == strip(b), "{path} differs");
    }
}
