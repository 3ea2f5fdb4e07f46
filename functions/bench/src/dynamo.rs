//! `bench dynamo`: what a tenant's hourly sync would cost on DynamoDB, and how long it
//! would take there.
//!
//! For each tenant size, the demo generator's dataset (seed 42, [`MONTHS`] months, as
//! `serve --demo` syncs but with more customers) is served by a connector that behaves
//! like a processor whose data changes ([`ChangingDemo`]). The real services sync it on
//! the embedded store wrapped in the DynamoDB model ([`ModelStore`]): a first sync, a
//! pass where nothing changed, and a pass where 1 % of the customers changed (each one's
//! customer record and subscriptions, reported through the change feed). Each pass is
//! `Ingestion::sync_integration`, the rebuild of the analytics that follows it included.
//!
//! Printed per pass: DynamoDB calls, items, write and read request units, the
//! simulated DynamoDB time (per-call latency and per-partition throughput: see
//! `dynamo_model.rs`), the time this machine took (sealing, SQLite, the engine), the
//! peak resident memory of the pass, and the cost at on-demand prices, with a month of
//! hourly passes (730) for the repeated ones.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use secrecy::SecretString;
use tally::adapters::demo::{DemoConnector, DemoDataset, DemoParams, generate};
use tally::config::Config;
use tally::domain::billing::{BillingRecord, ObjectKind};
use tally::domain::ids::{IntegrationId, TenantId};
use tally::ports::{Change, ChangesPage, Connector, ConnectorError, ListPage, SystemClock};
use tally::services::Services;
use tally::services::accounts::SignupRequest;

use crate::dynamo_model::{
    MULTI_ITEM_LATENCY, ModelStore, Op, PARTITION_RRU_PER_SEC, PARTITION_WRU_PER_SEC,
    SINGLE_ITEM_LATENCY, Usage,
};
use crate::report::{Table, count, duration, mib, peak_memory};

/// The tenants the issue sizes: 2,000, 20,000 and 100,000 customers.
pub const DEFAULT_CUSTOMERS: [usize; 3] = [2_000, 20_000, 100_000];
/// `--quick`: one small tenant, a smoke test that also runs in a debug build.
pub const QUICK_CUSTOMERS: [usize; 1] = [300];
/// Guards against a typo asking for more memory than the machine has.
pub const MAX_CUSTOMERS: usize = 200_000;
/// The demo connector's window (`serve --demo` syncs 24 months too).
const MONTHS: u32 = 24;
const SEED: u64 = 42;
/// The share of customers the third pass changes, in percent.
const CHANGED_PERCENT: usize = 1;
/// Changes per page of the change feed (Stripe's events list: 100).
const CHANGES_PAGE: usize = 100;

/// On-demand prices in eu-central-1 (Frankfurt), Standard table class, USD: $0.7625 per
/// million write request units and $0.1525 per million read request units. These are
/// the Frankfurt list prices ($1.525 and $0.305) halved by AWS's on-demand price cut of
/// 1 November 2024 (us-east-1 went from $1.25 / $0.25 to $0.625 / $0.125); they were not
/// read from the AWS price list on this machine: check
/// <https://aws.amazon.com/dynamodb/pricing/on-demand/> before quoting a cost. Storage
/// ($0.306 per GB-month there) is not counted: it does not depend on the passes.
const USD_PER_MILLION_WRU: f64 = 0.7625;
const USD_PER_MILLION_RRU: f64 = 0.1525;
const PRICES: &str = "eu-central-1 on-demand (Standard table class): $0.7625 per million WRU, \
$0.1525 per million RRU (list prices since the 1 Nov 2024 on-demand cut; storage not counted)";
/// Hourly passes in a month (365 × 24 / 12).
const PASSES_PER_MONTH: f64 = 730.0;

const EMAIL: &str = "bench@tally.local";
const PASSWORD: &str = "Bench-Tally-42-Horse";

pub struct Args {
    pub customers: Vec<usize>,
}

/// The three passes of a tenant.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    First,
    NoChange,
    Changed,
}

impl Pass {
    const ALL: [Pass; 3] = [Pass::First, Pass::NoChange, Pass::Changed];

    fn name(self) -> String {
        match self {
            Pass::First => "first sync".to_owned(),
            Pass::NoChange => "no change".to_owned(),
            Pass::Changed => format!("{CHANGED_PERCENT} % changed"),
        }
    }
}

/// One pass, measured.
struct Measured {
    customers: usize,
    records: usize,
    pass: Pass,
    usage: Usage,
    /// What this machine took for the pass.
    local: Duration,
    /// Peak resident memory during the pass (the whole run's when it cannot be reset).
    peak: Option<u64>,
    /// Records the sync wrote and deleted.
    written: u64,
}

impl Measured {
    fn cost(&self) -> f64 {
        let total = self.usage.total();
        total.wru as f64 * USD_PER_MILLION_WRU / 1e6 + total.rru() * USD_PER_MILLION_RRU / 1e6
    }
}

pub fn main(args: Args) -> Result<()> {
    let build = if cfg!(debug_assertions) {
        "debug build: a smoke test, not a measurement"
    } else {
        "release build"
    };
    eprintln!(
        "bench dynamo: tenants of {} customers ({build})",
        args.customers
            .iter()
            .map(|c| count(*c))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("the tokio runtime")?;
    let started = Instant::now();
    let mut measured = Vec::new();
    let mut baselines = Vec::new();
    for &customers in &args.customers {
        let (baseline, passes) = runtime.block_on(tenant(customers))?;
        baselines.push((customers, baseline));
        measured.extend(passes);
    }
    print(&measured, &baselines, build, started.elapsed());
    Ok(())
}

/// Syncs one generated tenant three times; the resident memory before the first pass
/// (the dataset the connector holds) and the passes.
async fn tenant(customers: usize) -> Result<(Option<u64>, Vec<Measured>)> {
    let generating = Instant::now();
    let end = midnight_today();
    let dataset = generate(DemoParams {
        seed: SEED,
        customers,
        months: MONTHS,
        end,
        ..DemoParams::default()
    });
    let records = record_count(&dataset);
    eprintln!(
        "  {} customers: {} records generated in {}",
        count(customers),
        count(records),
        duration(generating.elapsed())
    );
    let connector = Arc::new(ChangingDemo::new(dataset));
    let temp = tempfile::tempdir().context("a temporary directory")?;
    let (services, model) = open(&temp.path().join("data")).await?;
    let (tenant, _) = services
        .identity
        .signup(SignupRequest {
            company: "Bench GmbH".into(),
            email: EMAIL.into(),
            password: SecretString::from(PASSWORD),
            ip: IpAddr::from(Ipv4Addr::LOCALHOST),
        })
        .await
        .context("signing up the bench tenant")?;
    let integration = services
        .integrations
        .connect_demo(&tenant, SEED)
        .await
        .context("connecting the demo")?;
    let shared: Arc<dyn Connector> = connector.clone();
    if !services
        .integrations
        .override_demo_connectors(Arc::new(move |_, _| Some(shared.clone())))
    {
        bail!("the demo connector was already overridden");
    }
    let baseline = current_memory();
    let mut passes = Vec::new();
    for pass in Pass::ALL {
        if pass == Pass::Changed {
            let changed = connector.change_customers(CHANGED_PERCENT);
            eprintln!("    {} customers changed", count(changed));
        }
        passes.push(
            run_pass(
                &services,
                &model,
                &tenant,
                &integration,
                customers,
                records,
                pass,
            )
            .await?,
        );
    }
    Ok((baseline, passes))
}

async fn run_pass(
    services: &Services,
    model: &ModelStore,
    tenant: &TenantId,
    integration: &IntegrationId,
    customers: usize,
    records: usize,
    pass: Pass,
) -> Result<Measured> {
    // Whatever happened before (sign-up, connecting) is not this pass's.
    model.take();
    let reset = reset_peak_memory();
    let started = Instant::now();
    let report = services
        .ingestion
        .sync_integration(tenant, integration)
        .await
        .with_context(|| format!("the {} pass", pass.name()))?
        .context("the sync did not run (lease held or disconnected)")?;
    let local = started.elapsed();
    let usage = model.take();
    let measured = Measured {
        customers,
        records,
        pass,
        usage,
        local,
        peak: peak_memory().filter(|_| reset),
        written: report.written + report.deleted,
    };
    let total = measured.usage.total();
    eprintln!(
        "    {}: {} calls, {} WRU, {} RRU, {} simulated, {} here",
        pass.name(),
        count(total.calls as usize),
        count(total.wru as usize),
        units(total.rru()),
        duration(measured.usage.simulated),
        duration(local)
    );
    Ok(measured)
}

/// The services of a new data directory on the embedded adapters, the store wrapped in
/// the DynamoDB model (as `tally::local::open_services` builds them, store aside).
async fn open(data_dir: &Path) -> Result<(Arc<Services>, Arc<ModelStore>)> {
    let config = Config::from_vars(|_| None).context("the default configuration")?;
    let opened = tally::adapters::embedded::open(data_dir, &config.table, Arc::new(SystemClock))
        .context("opening the data directory")?;
    let model = Arc::new(ModelStore::new(opened.adapters.store.clone()));
    let mut adapters = opened.adapters.clone();
    adapters.store = model.clone();
    let services = Services::new(adapters, config);
    services
        .guard
        .ensure_lookup_pepper()
        .await
        .context("the lookup pepper")?;
    Ok((services, model))
}

fn print(measured: &[Measured], baselines: &[(usize, Option<u64>)], build: &str, took: Duration) {
    println!("# Tally bench: DynamoDB cost and time of a sync pass ({build})");
    println!();
    println!(
        "Demo tenants (seed {SEED}, {MONTHS} months), synced by the real services on the \
         embedded store behind a DynamoDB model. Prices: {PRICES}. Time: {} per single-item \
         call, {} per Query page, TransactWriteItems or BatchWriteItem; {} WRU/s and {} RRU/s \
         per partition key. Reads strongly consistent (as the adapter makes them).",
        duration(SINGLE_ITEM_LATENCY),
        duration(MULTI_ITEM_LATENCY),
        count(PARTITION_WRU_PER_SEC as usize),
        count(PARTITION_RRU_PER_SEC as usize),
    );
    let mut table = Table::new(&[
        "customers (records)",
        "pass",
        "calls",
        "items",
        "WRU",
        "RRU",
        "DynamoDB time (simulated)",
        "time here",
        "peak RSS",
        "cost",
        "per month, hourly",
    ]);
    for m in measured {
        let total = m.usage.total();
        let monthly = match m.pass {
            Pass::First => "(once)".to_owned(),
            _ => dollars(m.cost() * PASSES_PER_MONTH),
        };
        table.row(vec![
            format!("{} ({})", count(m.customers), count(m.records)),
            m.pass.name(),
            count(total.calls as usize),
            count(total.items as usize),
            count(total.wru as usize),
            units(total.rru()),
            simulated(&m.usage),
            duration(m.local),
            m.peak.map_or_else(|| "n/a".to_owned(), mib),
            dollars(m.cost()),
            monthly,
        ]);
    }
    table.print("DynamoDB per pass (each followed by the rebuild it triggers, if any)");

    let mut by_op = Table::new(&[
        "customers",
        "pass",
        "operation",
        "calls",
        "items",
        "WRU",
        "RRU",
    ]);
    for m in measured {
        for (op, counts) in &m.usage.by_op {
            by_op.row(vec![
                count(m.customers),
                m.pass.name(),
                op_name(*op),
                count(counts.calls as usize),
                count(counts.items as usize),
                count(counts.wru as usize),
                units(counts.rru()),
            ]);
        }
    }
    by_op.print("By operation");

    println!();
    for m in measured.iter().filter(|m| m.pass == Pass::First) {
        let baseline = baselines
            .iter()
            .find(|(c, _)| *c == m.customers)
            .and_then(|(_, b)| *b);
        println!(
            "- {} customers: the sync wrote {} records; {} resident before the first pass \
             (the generated dataset, which the fake processor holds: in the peaks too)",
            count(m.customers),
            count(m.written as usize),
            baseline.map_or_else(|| "n/a".to_owned(), mib),
        );
    }
    println!(
        "- cores available: {}; the whole run: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        duration(took)
    );
}

fn op_name(op: Op) -> String {
    op.name().to_owned()
}

/// The simulated time, with the share spent waiting for a busy partition.
fn simulated(usage: &Usage) -> String {
    if usage.throttled.is_zero() {
        clock(usage.simulated)
    } else {
        format!(
            "{} ({} throttled)",
            clock(usage.simulated),
            clock(usage.throttled)
        )
    }
}

/// Minutes and hours past 100 s, [`duration`] below.
fn clock(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 100.0 {
        duration(d)
    } else if secs < 3_600.0 {
        format!("{:.1} min", secs / 60.0)
    } else {
        format!("{:.2} h", secs / 3_600.0)
    }
}

/// Request units: whole with separators, a half shown when there is one.
fn units(rru: f64) -> String {
    let whole = count(rru.trunc() as usize);
    if rru.fract() > 0.0 {
        format!("{whole}.5")
    } else {
        whole
    }
}

fn dollars(usd: f64) -> String {
    if usd < 0.01 {
        format!("${usd:.5}")
    } else {
        format!("${usd:.2}")
    }
}

pub(crate) fn record_count(dataset: &DemoDataset) -> usize {
    dataset.customers.len()
        + dataset.payment_methods.len()
        + dataset.subscriptions.len()
        + dataset.invoices.len()
        + dataset.charges.len()
        + dataset.refunds.len()
}

/// Today at 00:00 UTC, as `connect_demo` ends its dataset.
pub(crate) fn midnight_today() -> i64 {
    chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
}

/// Restarts the peak resident memory (`VmHWM`) from the current one (Linux ≥ 4.0);
/// `false` when the kernel does not allow it.
fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The current resident memory (`VmRSS`), Linux only.
fn current_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The demo dataset as a processor whose data changes: the full listing and fetches are
/// the demo connector's, and [`ChangingDemo::change_customers`] makes a share of the
/// customers change (their customer record and subscriptions get new values), which the
/// change feed then reports, 100 changes a page, after the cursor of the previous round.
///
/// Cursors: `bench:<round>` once a round's changes are read, `bench:<round>:<offset>`
/// in the middle of one.
pub struct ChangingDemo {
    demo: DemoConnector,
    round: Mutex<Round>,
}

#[derive(Default)]
struct Round {
    number: u64,
    changes: Vec<Change>,
    changed: HashMap<(ObjectKind, String), BillingRecord>,
}

impl ChangingDemo {
    pub fn new(dataset: DemoDataset) -> Self {
        ChangingDemo {
            demo: DemoConnector::from_dataset(dataset),
            round: Mutex::new(Round::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Round> {
        self.round
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a new round in which `percent` % of the customers (every n-th by id)
    /// changed: a new e-mail address, and each of their subscriptions flips
    /// `cancel_at_period_end`. Returns how many customers changed.
    pub fn change_customers(&self, percent: usize) -> usize {
        let data = self.demo.dataset();
        let step = (100 / percent.clamp(1, 100)).max(1);
        let mut round = self.lock();
        let number = round.number + 1;
        let at = chrono::Utc::now().timestamp();
        let chosen: Vec<_> = data.customers.iter().step_by(step).collect();
        let mut changes = Vec::new();
        let mut changed = HashMap::new();
        let mut add = |record: BillingRecord| {
            let key = (record.kind(), record.id().to_owned());
            changes.push(Change {
                kind: key.0,
                id: key.1.clone(),
                at,
                deleted: false,
            });
            changed.insert(key, record);
        };
        let chosen_ids: std::collections::HashSet<&str> =
            chosen.iter().map(|c| c.id.as_str()).collect();
        for customer in &chosen {
            let mut customer = (*customer).clone();
            customer.email = Some(format!("changed-{number}-{}@example.com", customer.id));
            add(BillingRecord::Customer(customer));
        }
        for subscription in &data.subscriptions {
            if chosen_ids.contains(subscription.customer.as_str()) {
                let mut subscription = subscription.clone();
                subscription.cancel_at_period_end = !subscription.cancel_at_period_end;
                add(BillingRecord::Subscription(subscription));
            }
        }
        *round = Round {
            number,
            changes,
            changed,
        };
        chosen.len()
    }
}

#[async_trait]
impl Connector for ChangingDemo {
    async fn list(
        &self,
        kind: ObjectKind,
        starting_after: Option<&str>,
    ) -> Result<ListPage, ConnectorError> {
        self.demo.list(kind, starting_after).await
    }

    async fn changes_since(&self, cursor: Option<&str>) -> Result<ChangesPage, ConnectorError> {
        let round = self.lock();
        let current = format!("bench:{}", round.number);
        let offset = match cursor {
            // "Now": everything so far is in the listing that follows.
            None => round.changes.len(),
            Some(cursor) => {
                let mut parts = cursor.strip_prefix("bench:").unwrap_or("").split(':');
                let number: u64 = parts
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| ConnectorError::Malformed(format!("cursor {cursor}")))?;
                let offset: Option<usize> = parts.next().and_then(|n| n.parse().ok());
                match (number < round.number, offset) {
                    (true, _) => 0,
                    (false, Some(offset)) => offset,
                    (false, None) => round.changes.len(),
                }
            }
        };
        let page: Vec<Change> = round
            .changes
            .iter()
            .skip(offset)
            .take(CHANGES_PAGE)
            .cloned()
            .collect();
        let next = offset + page.len();
        let has_more = next < round.changes.len();
        let cursor = if has_more {
            format!("{current}:{next}")
        } else {
            current
        };
        Ok(ChangesPage {
            changes: page,
            cursor: Some(cursor),
            has_more,
        })
    }

    async fn fetch(
        &self,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<BillingRecord>, ConnectorError> {
        let changed = self.lock().changed.get(&(kind, id.to_owned())).cloned();
        match changed {
            Some(record) => Ok(Some(record)),
            None => self.demo.fetch(kind, id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ChangingDemo {
        ChangingDemo::new(generate(DemoParams {
            customers: 250,
            ..DemoParams::default()
        }))
    }

    #[tokio::test]
    async fn the_change_feed_reports_each_round_once_in_pages() {
        let demo = small();
        let start = demo.changes_since(None).await.unwrap();
        assert!(start.changes.is_empty());
        let cursor = start.cursor.unwrap();
        let again = demo.changes_since(Some(&cursor)).await.unwrap();
        assert!(again.changes.is_empty() && !again.has_more);

        let customers = demo.change_customers(CHANGED_PERCENT);
        assert_eq!(customers, 3);
        let mut seen = Vec::new();
        let mut cursor = cursor;
        loop {
            let page = demo.changes_since(Some(&cursor)).await.unwrap();
            assert!(page.changes.len() <= CHANGES_PAGE);
            seen.extend(page.changes);
            cursor = page.cursor.unwrap();
            if !page.has_more {
                break;
            }
        }
        assert!(seen.len() >= customers);
        // The changed records come back changed.
        let first = &seen[0];
        let fresh = demo.fetch(first.kind, &first.id).await.unwrap().unwrap();
        let BillingRecord::Customer(customer) = fresh else {
            panic!("customers come first");
        };
        assert!(customer.email.unwrap().starts_with("changed-1-"));
        // Read once: nothing more after the round's cursor.
        let after = demo.changes_since(Some(&cursor)).await.unwrap();
        assert!(after.changes.is_empty());
    }

    /// The whole command on a tiny tenant, through the real services: the first sync
    /// writes every record, the no-change pass writes none, the changed pass the
    /// changed ones; each pass is counted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tiny_tenant_goes_through_the_three_passes() {
        let (_, passes) = tenant(60).await.unwrap();
        assert_eq!(passes.len(), 3);
        let [first, unchanged, changed] = &passes[..] else {
            panic!("three passes");
        };
        assert_eq!(first.written as usize, first.records);
        assert_eq!(unchanged.written, 0);
        assert!(changed.written > 0);
        for pass in &passes {
            let total = pass.usage.total();
            assert!(total.calls > 0 && total.wru > 0 && total.rru() > 0.0);
            assert!(pass.usage.simulated > Duration::ZERO);
            assert!(pass.cost() > 0.0);
        }
        assert!(first.usage.total().wru > unchanged.usage.total().wru);
    }
}
