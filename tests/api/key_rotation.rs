//! Issue 17, finding 10: a tenant's data key is rotatable. After
//! `POST /v1/security/rotate-keys` new writes are sealed under the new key, reads open
//! items of either key, the re-seal job (the sweep function's) moves every item to the
//! new key and then destroys the old one — after which an item sealed before the
//! rotation does not open any more. On the embedded adapters and on the AWS adapters
//! (moto).

use serde_json::{Value, json};
use tally::domain::ids::TenantId;
use tally::ports::store::query_all;
use tally::ports::{Item, Key, Query, SortKeys};
use tally::repos::shards::every_partition;
use tally::repos::vault::{KeyState, open_bytes, open_with_ring, sealed_generation};
use tally::services::jobs::{self, Job, JobReport, ResealJob, Workers};
use tally_tests::fake_stripe::{FAKE_API_KEY, FakeStripe, Scenario};

use crate::helpers::{TestApp, error_code, spawn_app_on_moto, spawn_app_with};

/// The plain keys are cached one second: the job waits that out before it decides.
const CACHE: (&str, &str) = ("TALLY_DATA_KEY_CACHE_SECS", "1");
/// Two customers to a shard: the fake's six spread the bulk items over three shard
/// partitions, which the re-seal must cover too.
const SHARDS: (&str, &str) = ("TALLY_SHARD_CUSTOMERS", "2");

/// Every item of the tenant's partitions: its own and its shards'.
async fn partition(app: &TestApp, tenant: &TenantId) -> Vec<Item> {
    let store = app.services.adapters.store.as_ref();
    let mut items = Vec::new();
    for pk in every_partition(tenant) {
        items.extend(
            query_all(store, Query::new(pk, SortKeys::All))
                .await
                .unwrap(),
        );
    }
    items
}

/// The generations the tenant's sealed items are under, with how many each.
async fn sealed_generations(app: &TestApp, tenant: &TenantId) -> Vec<(u32, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for item in partition(app, tenant).await {
        if let Some(generation) = sealed_generation(&item) {
            *counts.entry(generation).or_insert(0) += 1;
        }
    }
    counts.into_iter().collect()
}

/// What the API shows of the tenant's data, for comparing before and after.
async fn visible_data(app: &TestApp, token: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        "/v1/me",
        "/v1/users",
        "/v1/security/ip-allowlist",
        "/v1/security/policy",
        "/v1/integrations",
        "/v1/customers?limit=200",
        "/v1/metrics/summary",
        "/v1/metrics/mrr",
        "/v1/segments",
    ] {
        let response = app.get(path, token).await;
        assert_eq!(response.status(), 200, "GET {path}");
        let mut body: Value = response.json().await.unwrap();
        // The integration's sync times move with the clock, not with the key.
        if let Some(list) = body["data"].as_array_mut() {
            for entry in list {
                if let Some(entry) = entry.as_object_mut() {
                    entry.remove("last_sync_at");
                }
            }
        }
        seen.push(json!({ "path": path, "body": body }));
    }
    seen
}

/// A tenant with users, an allowlist entry, a synced integration (billing records,
/// profiles, snapshot chunks and parts) and its audit log; returns the admin's token.
async fn populated(app: &TestApp, company: &str) -> (TenantId, String) {
    let admin = app
        .signup_as(
            &format!("rotate-{}@example.com", uuid::Uuid::new_v4().simple()),
            company,
        )
        .await;
    let token = app.login(&admin).await;
    let (_analyst, _) = app.user_with_role(&token, "analyst").await;
    let response = app
        .post(
            "/v1/security/ip-allowlist",
            Some(&token),
            json!({ "cidr": "127.0.0.0/8", "note": "loopback" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = app
        .post(
            "/v1/integrations",
            Some(&token),
            json!({ "provider": "stripe", "api_key": FAKE_API_KEY }),
        )
        .await
        .json()
        .await
        .unwrap();
    let integration = created["id"].as_str().unwrap().to_owned();
    app.sync_now(&admin, &integration).await;
    (TenantId::parse(&admin.tenant_id).unwrap(), token)
}

async fn key_state(app: &TestApp, tenant: &TenantId) -> KeyState {
    app.services.tenant_keys.state(tenant).await.unwrap()
}

/// The stored key item's attribute names.
async fn key_item_attributes(app: &TestApp, tenant: &TenantId) -> Vec<String> {
    let item = app
        .services
        .adapters
        .store
        .get(&Key::new(tenant.partition(), "KEY"))
        .await
        .unwrap()
        .expect("the key item");
    item.attrs.keys().cloned().collect()
}

/// The whole walk, on whichever adapters `app` runs; `job` is the re-seal job the
/// rotation asked for (read from the bus where the adapters allow).
async fn rotation_walk(app: &TestApp, tenant: &TenantId, token: &str, job: impl Fn() -> Job) {
    let before = visible_data(app, token).await;
    let sealed_before = partition(app, tenant).await;
    let sealed_count = sealed_before
        .iter()
        .filter(|i| sealed_generation(i).is_some())
        .count();
    assert!(
        sealed_count > 20,
        "a tenant with data: {sealed_count} sealed items"
    );
    assert_eq!(
        sealed_generations(app, tenant).await,
        vec![(0, sealed_count)]
    );

    let response = app
        .post("/v1/security/rotate-keys", Some(token), json!({}))
        .await;
    assert_eq!(response.status(), 202);
    let rotated: Value = response.json().await.unwrap();
    assert_eq!(rotated["generation"], 1);
    assert_eq!(rotated["retired_generation"], 0);
    assert_eq!(
        key_state(app, tenant).await,
        KeyState {
            generation: 1,
            retired: Some(0)
        }
    );

    // While the old key still re-seals, another rotation is refused.
    let again = app
        .post("/v1/security/rotate-keys", Some(token), json!({}))
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_code(again).await, "rotation_in_progress");

    // Nothing moved yet, and everything reads the same; a write now is sealed under
    // the new key.
    assert_eq!(visible_data(app, token).await, before);
    let response = app
        .put(
            "/v1/security/policy",
            token,
            json!({ "preset": "default", "require_mfa": false, "min_group_size": 6 }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let generations = sealed_generations(app, tenant).await;
    assert!(generations.iter().any(|(g, _)| *g == 1), "{generations:?}");
    let response = app
        .put(
            "/v1/security/policy",
            token,
            json!({ "preset": "default", "require_mfa": false, "min_group_size": 5 }),
        )
        .await;
    assert_eq!(response.status(), 200);

    // The job: every item under the new key, then the old key destroyed.
    let workers = Workers::all(&app.services);
    let report = jobs::run(&workers, job()).await.expect("the re-seal job");
    let JobReport::Resealed(report) = report else {
        panic!("a re-seal report");
    };
    assert_eq!(report.destroyed_generation, Some(0));
    assert!(report.resealed as usize >= sealed_count - 1, "{report:?}");
    let after = sealed_generations(app, tenant).await;
    assert_eq!(after.len(), 1, "one generation left: {after:?}");
    assert_eq!(after[0].0, 1);
    assert_eq!(
        key_state(app, tenant).await,
        KeyState {
            generation: 1,
            retired: None
        }
    );
    let attributes = key_item_attributes(app, tenant).await;
    assert!(
        attributes.iter().all(|a| !a.starts_with("retired")),
        "the old wrapped key is gone: {attributes:?}"
    );
    assert_eq!(visible_data(app, token).await, before);

    // An item sealed before the rotation does not open under what is left.
    let ring = app.services.tenant_keys.fresh_ring(tenant).await.unwrap();
    let table = app.services.adapters.store.table_name().to_owned();
    let old_items: Vec<&Item> = sealed_before
        .iter()
        .filter(|i| sealed_generation(i).is_some())
        .collect();
    for item in &old_items {
        assert!(
            open_with_ring(&table, &ring, item).is_err(),
            "{:?} still opens",
            item.key
        );
        assert!(open_bytes(&table, &ring.current, item).is_err());
    }
    // The same item as it is stored now opens.
    let now_stored = app
        .services
        .adapters
        .store
        .get(&old_items[0].key)
        .await
        .unwrap()
        .unwrap();
    assert!(open_with_ring(&table, &ring, &now_stored).is_ok());

    // The rotation and the destruction are in the tenant's audit log.
    let audit: Value = app
        .get("/v1/security/audit-log", token)
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"DataKeyRotated:generation=1"),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a.starts_with("DataKeyDestroyed:")),
        "{actions:?}"
    );

    // A job delivered twice does nothing; the next rotation is accepted.
    let JobReport::Resealed(twice) = jobs::run(&workers, job()).await.unwrap() else {
        panic!("a re-seal report");
    };
    assert_eq!(twice.destroyed_generation, None);
    let response = app
        .post("/v1/security/rotate-keys", Some(token), json!({}))
        .await;
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn a_rotated_key_reseals_every_item_and_the_old_key_is_destroyed() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let mut vars = fake.config_vars();
    for (name, value) in [CACHE, SHARDS] {
        vars.push((name.to_owned(), value.to_owned()));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let (tenant, token) = populated(&app, "Rotating GmbH").await;
    let events = || {
        app.events_of("TenantResealDue")
            .iter()
            .map(|e| {
                Job::from_event(&tally::ports::Event::from_json(e).unwrap())
                    .unwrap()
                    .unwrap()
            })
            .next()
            .expect("the rotation asked for the re-seal job")
    };
    rotation_walk(&app, &tenant, &token, events).await;
}

#[tokio::test]
async fn on_the_aws_adapters_a_rotated_key_reseals_every_item_and_the_old_key_is_destroyed() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let mut vars = fake.config_vars();
    for (name, value) in [CACHE, SHARDS] {
        vars.push((name.to_owned(), value.to_owned()));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_on_moto(&vars).await;
    let (tenant, token) = populated(&app, "Rotating on AWS Ltd").await;
    // On AWS the event goes to EventBridge, out of the test's reach: the job it carries.
    let job = || {
        Job::ResealTenant(ResealJob {
            tenant_id: tenant.clone(),
        })
    };
    rotation_walk(&app, &tenant, &token, job).await;
}

/// A store that, when `target` is read, first lets a sync rewrite that record (what
/// `rewrite` does): the rewrite lands between the re-seal's read of the item and its
/// conditional write back.
struct RewriteOnRead {
    inner: std::sync::Arc<dyn tally::ports::Store>,
    target: Key,
    rewrite: std::sync::Mutex<Option<futures::future::BoxFuture<'static, ()>>>,
}

#[async_trait::async_trait]
impl tally::ports::Store for RewriteOnRead {
    fn table_name(&self) -> &str {
        self.inner.table_name()
    }
    async fn get(&self, key: &Key) -> Result<Option<Item>, tally::ports::StoreError> {
        let read = self.inner.get(key).await;
        if *key == self.target {
            let rewrite = self.rewrite.lock().unwrap().take();
            if let Some(rewrite) = rewrite {
                rewrite.await;
            }
        }
        read
    }
    async fn put(
        &self,
        item: Item,
        condition: tally::ports::Condition,
    ) -> Result<(), tally::ports::StoreError> {
        self.inner.put(item, condition).await
    }
    async fn delete(
        &self,
        key: &Key,
        condition: tally::ports::Condition,
    ) -> Result<(), tally::ports::StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<tally::ports::Page, tally::ports::StoreError> {
        self.inner.query(query).await
    }
    async fn increment(
        &self,
        key: &Key,
        attr: &str,
        by: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, tally::ports::StoreError> {
        self.inner.increment(key, attr, by, expires_at).await
    }
    async fn transact(
        &self,
        ops: Vec<tally::ports::WriteOp>,
    ) -> Result<(), tally::ports::StoreError> {
        self.inner.transact(ops).await
    }
    async fn purge_expired(&self, now: i64) -> Result<u64, tally::ports::StoreError> {
        self.inner.purge_expired(now).await
    }
}

/// A sync that rewrites a record while the re-seal holds its old copy (read, not yet
/// written back) wins: the re-seal's write is refused and counted as remaining, and the
/// record keeps the sync's content, instead of the older copy coming back re-sealed.
#[tokio::test]
async fn a_record_rewritten_while_the_reseal_holds_it_keeps_the_rewrite() {
    use tally::domain::billing::{BillingRecord, ObjectKind};
    use tally::domain::ids::IntegrationId;
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let mut vars = fake.config_vars();
    vars.push((CACHE.0.to_owned(), CACHE.1.to_owned()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let (tenant, token) = populated(&app, "Racing GmbH").await;
    let integrations: Value = app
        .get("/v1/integrations", &token)
        .await
        .json()
        .await
        .unwrap();
    let integration =
        IntegrationId::parse(integrations["data"][0]["id"].as_str().unwrap()).unwrap();
    let records = app.services.common.repos.billing_records.clone();
    let customer = records
        .all(&tenant, &integration, ObjectKind::Customer)
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("a synced customer");
    let BillingRecord::Customer(mut rewritten) = customer.clone() else {
        panic!("a customer record");
    };
    rewritten.city = Some("Rewritten City".into());
    let rewritten = BillingRecord::Customer(rewritten);
    let target = partition(&app, &tenant)
        .await
        .into_iter()
        .map(|item| item.key)
        .find(|key| key.sk.ends_with(&format!("#{}", customer.id())) && key.sk.starts_with("CUST#"))
        .expect("the customer's item");

    let response = app
        .post("/v1/security/rotate-keys", Some(&token), json!({}))
        .await;
    assert_eq!(response.status(), 202);
    let rewrite = {
        let (records, tenant, integration, record) = (
            records.clone(),
            tenant.clone(),
            integration.clone(),
            rewritten.clone(),
        );
        Box::pin(async move {
            records
                .upsert(&tenant, &integration, vec![record])
                .await
                .expect("the sync's rewrite");
        }) as futures::future::BoxFuture<'static, ()>
    };
    let racing = std::sync::Arc::new(RewriteOnRead {
        inner: app.services.adapters.store.clone(),
        target,
        rewrite: std::sync::Mutex::new(Some(rewrite)),
    });
    let services = app.services_on(racing);
    let pass = services.common.repos.reseal.pass(&tenant).await.unwrap();
    assert_eq!(
        pass.remaining, 1,
        "the re-seal's write of the rewritten record is refused"
    );
    let stored = records
        .get(&tenant, &integration, ObjectKind::Customer, customer.id())
        .await
        .unwrap();
    assert_eq!(stored, Some(rewritten), "the sync's rewrite stands");
}
