//! `bench pass`: what one local ingest pass costs, and how much of it is the embedded
//! store's (issue 21: the store should add under 20 % to a 100,000-customer pass's time
//! outside it).
//!
//! For each tenant size it generates the demo dataset, connects it as a demo
//! integration whose data can change (`dynamo::ChangingDemo`), and runs three passes
//! as `local ingest` runs them (the planner, then each sync as a job on the worker
//! pool): a first sync, a pass with no change, a pass where 1 % of the customers
//! changed. The SQLite store is wrapped in a stopwatch that adds up the wall time during
//! which a store call is in flight (an incremental pass reads records 32 at a time:
//! overlapping calls count once): the rest of the pass's time is outside the store
//! (the connector, sealing, the analytics).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use secrecy::SecretString;
use tally::adapters::demo::{DemoParams, generate};
use tally::config::Config;
use tally::local::JobPool;
use tally::ports::{
    Condition, Connector, Item, Key, Page, Query, Store, StoreError, SystemClock, WriteOp,
};
use tally::services::Services;
use tally::services::accounts::SignupRequest;
use tally::services::jobs::Workers;

use crate::dynamo::{ChangingDemo, midnight_today, record_count};
use crate::report::{Table, count, duration};

const SEED: u64 = 42;
const MONTHS: u32 = 24;

/// A store that times the calls it passes on: the wall time during which at least one
/// call is in flight (calls made concurrently, such as an incremental pass's point
/// reads, count once).
struct Stopwatch {
    inner: Arc<dyn Store>,
    busy: Mutex<Busy>,
    calls: AtomicU64,
}

#[derive(Default)]
struct Busy {
    in_flight: u32,
    since: Option<Instant>,
    total: Duration,
}

impl Stopwatch {
    fn busy(&self) -> std::sync::MutexGuard<'_, Busy> {
        self.busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn time<T>(&self, call: impl Future<Output = T>) -> T {
        {
            let mut busy = self.busy();
            if busy.in_flight == 0 {
                busy.since = Some(Instant::now());
            }
            busy.in_flight += 1;
        }
        let out = call.await;
        {
            let mut busy = self.busy();
            busy.in_flight = busy.in_flight.saturating_sub(1);
            if busy.in_flight == 0
                && let Some(since) = busy.since.take()
            {
                busy.total += since.elapsed();
            }
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        out
    }

    /// The time and calls since the last take (between passes: nothing in flight).
    fn take(&self) -> (Duration, u64) {
        (
            std::mem::take(&mut self.busy().total),
            self.calls.swap(0, Ordering::Relaxed),
        )
    }
}

#[async_trait]
impl Store for Stopwatch {
    fn table_name(&self) -> &str {
        self.inner.table_name()
    }
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.time(self.inner.get(key)).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.time(self.inner.put(item, condition)).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.time(self.inner.delete(key, condition)).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.time(self.inner.query(query)).await
    }
    async fn increment(
        &self,
        key: &Key,
        attr: &str,
        by: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.time(self.inner.increment(key, attr, by, expires_at))
            .await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.time(self.inner.transact(ops)).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        self.time(self.inner.batch_put(items)).await
    }
    async fn batch_delete(&self, keys: Vec<Key>) -> Result<(), StoreError> {
        self.time(self.inner.batch_delete(keys)).await
    }
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        self.time(self.inner.purge_expired(now)).await
    }
}

pub fn main(customers: Vec<usize>) -> Result<()> {
    let build = if cfg!(debug_assertions) {
        "debug build: a smoke test, not a measurement"
    } else {
        "release build"
    };
    eprintln!("bench pass: one local ingest pass, the store's share ({build})");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("the tokio runtime")?;
    let mut table = Table::new(&[
        "customers (records)",
        "pass",
        "pass time",
        "in the store (calls)",
        "outside the store",
        "store ÷ outside",
    ]);
    for size in customers {
        for row in runtime.block_on(tenant(size))? {
            table.row(row);
        }
    }
    table.print(&format!(
        "Tally bench: one local ingest pass (planner + jobs on the pool), embedded store timed ({build})"
    ));
    Ok(())
}

async fn tenant(customers: usize) -> Result<Vec<Vec<String>>> {
    let dataset = generate(DemoParams {
        seed: SEED,
        customers,
        months: MONTHS,
        end: midnight_today(),
        ..DemoParams::default()
    });
    let records = record_count(&dataset);
    eprintln!(
        "  {} customers, {} records",
        count(customers),
        count(records)
    );
    let connector = Arc::new(ChangingDemo::new(dataset));
    let temp = tempfile::tempdir().context("a temporary directory")?;
    let config = Config::from_vars(|_| None).context("the default configuration")?;
    let opened = tally::adapters::embedded::open(
        &temp.path().join("data"),
        &config.table,
        Arc::new(SystemClock),
    )
    .context("opening the data directory")?;
    let stopwatch = Arc::new(Stopwatch {
        inner: opened.adapters.store.clone(),
        busy: Mutex::new(Busy::default()),
        calls: AtomicU64::new(0),
    });
    let mut adapters = opened.adapters.clone();
    adapters.store = stopwatch.clone();
    let services = Services::new(adapters, config);
    services.guard.ensure_lookup_pepper().await?;
    let (tenant, _) = services
        .identity
        .signup(SignupRequest {
            company: "Bench GmbH".into(),
            email: "pass@tally.local".into(),
            password: SecretString::from("Bench-Tally-42-Horse"),
            ip: IpAddr::from(Ipv4Addr::LOCALHOST),
        })
        .await?;
    services.integrations.connect_demo(&tenant, SEED).await?;
    let shared: Arc<dyn Connector> = connector.clone();
    if !services
        .integrations
        .override_demo_connectors(Arc::new(move |_, _| Some(shared.clone())))
    {
        bail!("the demo connector was already overridden");
    }
    let pool = JobPool::new(Workers::all(&services), services.config.job_workers);
    let mut rows = Vec::new();
    for pass in ["first sync", "no change", "1 % changed"] {
        if pass == "1 % changed" {
            connector.change_customers(1);
        }
        stopwatch.take();
        let started = Instant::now();
        let done = pool.ingest_pass().await?;
        let took = started.elapsed();
        let (in_store, calls) = stopwatch.take();
        if done.synced != 1 {
            bail!("the {pass} pass synced {} integrations, not 1", done.synced);
        }
        let outside = took.saturating_sub(in_store);
        let share = in_store.as_secs_f64() / outside.as_secs_f64().max(1e-9) * 100.0;
        eprintln!(
            "    {pass}: {} ({} in the store, {} calls)",
            duration(took),
            duration(in_store),
            count(calls as usize)
        );
        rows.push(vec![
            format!("{} ({})", count(customers), count(records)),
            pass.to_owned(),
            duration(took),
            format!("{} ({})", duration(in_store), count(calls as usize)),
            duration(outside),
            format!("{share:.0} %"),
        ]);
    }
    Ok(rows)
}
