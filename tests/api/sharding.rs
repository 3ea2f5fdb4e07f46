//! Write sharding (`repos::shards`): a tenant whose bulk items are spread over several
//! partition keys answers every query exactly as one kept in a single partition, through
//! incremental passes, and its export, sweep and closure reach every shard.

use serde_json::{Value, json};
use tally::domain::billing::ObjectKind;
use tally::domain::ids::TenantId;
use tally::ports::store::query_all;
use tally::ports::{Item, Query, SortKeys};
use tally::repos::registry::Entity;
use tally_tests::fake_stripe::Scenario;

use crate::exports::{built_export, pages, section};
use crate::helpers::{TestApp, entity_of};
use crate::incremental::{Script, answers, change, synced_tenant};
use crate::integrations::app_with_scenario_and;

const CUSTOMERS: u64 = 24;

/// Every item of each of the tenant's 16 possible partitions, shard 0 first.
async fn by_partition(app: &TestApp, tenant: &TenantId) -> Vec<Vec<Item>> {
    let store = app.services.adapters.store.as_ref();
    let mut out = Vec::new();
    for shard in 0..16u16 {
        let pk = match shard {
            0 => tenant.partition(),
            s => format!("{}#S{s:02}", tenant.partition()),
        };
        out.push(
            query_all(store, Query::new(pk, SortKeys::All))
                .await
                .unwrap(),
        );
    }
    out
}

/// What one layout showed: the answers after each pass, then those of a fresh full
/// sync of the same account, and the export's record sections.
struct Run {
    passes: Vec<Vec<(String, Value)>>,
    exported: Vec<(String, usize)>,
}

async fn run(customers_per_shard: u64) -> Run {
    let (app, fake) = app_with_scenario_and(
        Scenario::new(CUSTOMERS as usize).with_lifecycle(),
        &[("TALLY_SHARD_CUSTOMERS", &customers_per_shard.to_string())],
    )
    .await;
    app.clock
        .freeze_at(chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap());
    let (admin, token, id) = synced_tenant(&app).await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();

    // The layout: customers in the tenant's own partition, the bulk spread over the
    // shards the customer count asks for.
    let partitions = by_partition(&app, &tenant).await;
    let customers = partitions[0]
        .iter()
        .filter(|i| entity_of(&i.key) == Entity::BillingRecord(ObjectKind::Customer))
        .count() as u64;
    assert!(customers >= CUSTOMERS, "{customers} customers");
    let expected = customers.div_ceil(customers_per_shard).min(16) as usize;
    let used = partitions.iter().filter(|items| !items.is_empty()).count();
    assert_eq!(used, expected, "partitions holding items");
    for (shard, items) in partitions.iter().enumerate() {
        for item in items {
            let entity = entity_of(&item.key);
            if shard > 0 {
                assert!(
                    matches!(
                        entity,
                        Entity::BillingRecord(_) | Entity::CustomerProfile | Entity::SnapshotPart
                    ) && entity != Entity::BillingRecord(ObjectKind::Customer),
                    "{entity:?} in shard {shard}"
                );
            }
        }
    }

    let mut passes = vec![answers(&app, &token, &id).await];
    let mut script = Script(0x5eed_cafe);
    let mut deleted = Vec::new();
    for _ in 0..3 {
        for _ in 0..=script.next(3) {
            change(&fake, &mut script, CUSTOMERS, &mut deleted);
        }
        app.clock.advance(chrono::Duration::minutes(5));
        app.sync_now(&admin, &id).await;
        passes.push(answers(&app, &token, &id).await);
    }
    // The same account read from scratch by another tenant (of the same layout).
    let (_, fresh_token, fresh_id) = synced_tenant(&app).await;
    passes.push(answers(&app, &fresh_token, &fresh_id).await);

    // The export walks every shard: each record section as long as the layout's own.
    let export = built_export(&app, &admin, &token).await;
    let pages = pages(&app, &token, &export).await;
    let exported = [
        "customers",
        "subscriptions",
        "invoices",
        "payments",
        "refunds",
        "payment_methods",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), section(&pages, name).len()))
    .collect();

    // The sweep of the disconnected integration empties every shard of its items...
    let response = app.delete(&format!("/v1/integrations/{id}"), &token).await;
    assert_eq!(response.status(), 202);
    app.clock.advance(chrono::Duration::hours(25));
    assert_eq!(
        app.services
            .tenancy
            .sweep()
            .await
            .unwrap()
            .integrations_purged,
        1
    );
    for (shard, items) in by_partition(&app, &tenant).await.iter().enumerate() {
        let left: Vec<_> = items.iter().filter(|i| i.key.sk.contains(&id)).collect();
        assert!(
            left.is_empty(),
            "shard {shard} keeps {} items of the integration",
            left.len()
        );
    }
    // ...and the closure erases every partition of the tenant.
    let token = app.login(&admin).await;
    let response = app
        .request(
            reqwest::Method::DELETE,
            "/v1/account",
            Some(&token),
            Some(json!({ "password": admin.password, "confirm": "Acme GmbH" })),
        )
        .await;
    assert_eq!(response.status(), 202);
    app.clock.advance(chrono::Duration::days(31));
    app.services.tenancy.sweep().await.unwrap();
    for (shard, items) in by_partition(&app, &tenant).await.iter().enumerate() {
        assert!(
            items.is_empty(),
            "shard {shard} keeps {} items after closure",
            items.len()
        );
    }
    Run { passes, exported }
}

#[tokio::test]
async fn a_sharded_tenant_answers_as_one_in_a_single_partition_and_is_erased_from_every_shard() {
    // Some 24 customers, one shard per 3: eight partitions or more.
    let sharded = run(3).await;
    let single = run(1_000_000).await;
    assert_eq!(sharded.passes.len(), single.passes.len());
    for (pass, (a, b)) in sharded.passes.iter().zip(&single.passes).enumerate() {
        assert_eq!(a.len(), b.len(), "pass {pass}");
        for ((path, x), (_, y)) in a.iter().zip(b) {
            assert_eq!(x, y, "pass {pass}: {path} differs");
        }
    }
    // Incremental passes on shards end where a full sync does.
    let (last, fresh) = (&sharded.passes[3], &sharded.passes[4]);
    for ((path, x), (_, y)) in last.iter().zip(fresh) {
        assert_eq!(x, y, "{path}: incremental and full differ");
    }
    assert_eq!(sharded.exported, single.exported);
    assert!(
        sharded.exported.iter().all(|(_, n)| *n > 0),
        "{:?}",
        sharded.exported
    );
}

/// A tenant synced before sharding (its tenant item records no layout) is recorded with
/// one shard by its next incremental pass, so later reads find the layout cached rather
/// than reading the tenant item each time.
#[tokio::test]
async fn a_tenant_synced_before_sharding_is_recorded_with_one_shard_by_its_next_pass() {
    let (app, _fake) = app_with_scenario_and(Scenario::new(6), &[]).await;
    let (admin, _token, id) = synced_tenant(&app).await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let store = app.services.adapters.store.clone();
    let key = tally::ports::Key::new(tenant.partition(), "TENANT");
    let recorded = |item: &Item| item.n("shards");
    let mut item = store.get(&key).await.unwrap().expect("the tenant item");
    assert_eq!(
        recorded(&item),
        Some(1),
        "the first full sync records the layout"
    );
    // As before sharding: no layout recorded.
    item.attrs.remove("shards");
    let version = item.version;
    let item = item.with_version(version + 1);
    store
        .put(item, tally::ports::Condition::VersionIs(version))
        .await
        .unwrap();
    // A process that has not seen the tenant yet (this one has its layout cached).
    let fresh = app.services_on(store.clone());
    let integration = tally::domain::ids::IntegrationId::parse(&id).unwrap();
    let report = fresh
        .ingestion
        .sync_integration(&tenant, &integration)
        .await
        .unwrap();
    assert!(!report.expect("a pass").full, "an incremental pass");
    let item = store.get(&key).await.unwrap().expect("the tenant item");
    assert_eq!(recorded(&item), Some(1));
}
