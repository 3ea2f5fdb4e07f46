//! `bench rebuild`: the peak memory of a full analytics rebuild (issue 15, item 5: a
//! tenant of 100,000 customers and 1,000,000 MRR changes within the ingest function's
//! 4,096 MB).
//!
//! The parent generates the demo dataset (its customers changing plan or seats
//! `--change-factor` times as often as the default, so that 100,000 customers make about
//! 1,000,000 changes), stores its records in an embedded data directory as a sync
//! would, and drops them. Then, for each bucket size, it runs `bench rebuild-child`: a
//! fresh process that opens that data directory, runs one full rebuild
//! (`rebuild_analytics`) and reports its own peak resident memory (`VmHWM`), which is
//! what the Lambda function would need for it. A bucket of 1,000,000 customers holds
//! every record decoded at once, as the rebuild did before buckets.
//!
//! ```sh
//! cargo run --release -p bench -- rebuild                    # 100,000 customers
//! cargo run -p bench -- rebuild --quick                      # 2,000 customers
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use secrecy::SecretString;
use tally::adapters::demo::{DemoParams, generate};
use tally::config::Config;
use tally::domain::billing::BillingRecord;
use tally::domain::ids::TenantId;
use tally::domain::metrics::{MrrPolicy, facts_from_records};
use tally::ports::SystemClock;
use tally::services::Services;
use tally::services::accounts::SignupRequest;

use crate::dynamo::{midnight_today, record_count};
use crate::report::{Table, count, duration};

const SEED: u64 = 42;
/// Five years of history, and plan and seat changes 25 times as likely as the default
/// demo's (mostly at a renewal): about ten MRR changes a customer.
const MONTHS: u32 = 60;
pub const CHANGE_FACTOR: u32 = 25;

pub struct Args {
    pub customers: usize,
    pub change_factor: u32,
}

pub fn main(args: Args) -> Result<()> {
    let build = if cfg!(debug_assertions) {
        "debug build: a smoke test, not a measurement"
    } else {
        "release build"
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let temp = tempfile::tempdir().context("a temporary directory")?;
    let data = temp.path().join("data");
    let (tenant, records, changes) = runtime.block_on(prepare(&data, &args))?;
    drop(runtime);
    let mut table = Table::new(&[
        "customers (records, MRR changes)",
        "bucket",
        "full rebuild",
        "peak memory",
    ]);
    // A twentieth of the tenant (the default's 5,000 at 100,000), a fifth, and all.
    let buckets = [
        (args.customers / 20).max(1),
        (args.customers / 5).max(1),
        1_000_000,
    ];
    for bucket in buckets {
        // Each rebuild is a tenant's first (nothing published yet): on a copy.
        let run = temp.path().join("run");
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&data)
            .arg(&run)
            .status()
            .context("copying the data directory")?;
        if !copied.success() {
            bail!("copying the data directory failed");
        }
        let exe = std::env::current_exe().context("the bench's own path")?;
        let output = Command::new(exe)
            .args(["rebuild-child", &run.to_string_lossy(), tenant.as_str()])
            .env("TALLY_REBUILD_BUCKET_CUSTOMERS", bucket.to_string())
            .output()
            .context("running the rebuild")?;
        if !output.status.success() {
            bail!(
                "the rebuild with buckets of {bucket} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::fs::remove_dir_all(&run).context("removing the copy")?;
        let report = String::from_utf8_lossy(&output.stdout);
        let mut fields = report.split_whitespace();
        let millis: u64 = fields.next().unwrap_or("0").parse().unwrap_or(0);
        let peak_kib: u64 = fields.next().unwrap_or("0").parse().unwrap_or(0);
        eprintln!(
            "  buckets of {}: {} ms, peak {} MiB",
            count(bucket),
            millis,
            peak_kib / 1024
        );
        table.row(vec![
            format!(
                "{} ({}, {})",
                count(args.customers),
                count(records),
                count(changes)
            ),
            if bucket >= args.customers {
                format!("{} (all at once)", count(bucket))
            } else {
                count(bucket)
            },
            duration(std::time::Duration::from_millis(millis)),
            format!("{} MiB", count((peak_kib / 1024) as usize)),
        ]);
    }
    table.print(&format!(
        "Tally bench: peak memory of one full rebuild, its own process, embedded store ({build})"
    ));
    Ok(())
}

/// A data directory holding one tenant's demo records, as a sync stores them.
async fn prepare(data: &Path, args: &Args) -> Result<(TenantId, usize, usize)> {
    let started = Instant::now();
    let dataset = generate(DemoParams {
        seed: SEED,
        customers: args.customers,
        months: MONTHS,
        end: midnight_today(),
        change_factor: args.change_factor,
        shape: Default::default(),
    });
    let records = record_count(&dataset);
    let changes = facts_from_records(&[dataset.for_integration("bench")], &MrrPolicy::default())
        .changes
        .len();
    eprintln!(
        "  {} customers, {} records, {} MRR changes, generated in {}",
        count(args.customers),
        count(records),
        count(changes),
        duration(started.elapsed())
    );
    let services = services(data)?;
    services.guard.ensure_lookup_pepper().await?;
    let (tenant, _) = services
        .identity
        .signup(SignupRequest {
            company: "Bench GmbH".into(),
            email: "rebuild@tally.local".into(),
            password: SecretString::from("Bench-Tally-42-Horse"),
            ip: IpAddr::from(Ipv4Addr::LOCALHOST),
        })
        .await?;
    let integration = services.integrations.connect_demo(&tenant, SEED).await?;
    let set = dataset.records;
    let all = set
        .customers
        .into_iter()
        .map(BillingRecord::Customer)
        .chain(
            set.subscriptions
                .into_iter()
                .map(BillingRecord::Subscription),
        )
        .chain(
            set.payment_methods
                .into_iter()
                .map(BillingRecord::PaymentMethod),
        )
        .chain(set.invoices.into_iter().map(BillingRecord::Invoice))
        .chain(set.charges.into_iter().map(BillingRecord::Charge))
        .chain(set.refunds.into_iter().map(BillingRecord::Refund));
    let mut batch = Vec::with_capacity(10_000);
    let billing = &services.common.repos.billing_records;
    for record in all {
        batch.push(record);
        if batch.len() == 10_000 {
            billing
                .upsert(&tenant, &integration, std::mem::take(&mut batch))
                .await?;
        }
    }
    billing.upsert(&tenant, &integration, batch).await?;
    eprintln!("  stored in {}", duration(started.elapsed()));
    Ok((tenant, records, changes))
}

fn services(data: &Path) -> Result<Arc<Services>> {
    let config = Config::from_env().context("the configuration")?;
    let opened = tally::adapters::embedded::open(data, &config.table, Arc::new(SystemClock))
        .context("opening the data directory")?;
    Ok(Services::new(opened.adapters, config))
}

/// `bench rebuild-child DATA TENANT`: one full rebuild; prints its milliseconds and
/// the process's peak resident memory in KiB.
pub fn child(data: &str, tenant: &str) -> Result<()> {
    let tenant = TenantId::parse(tenant).context("a tenant id")?;
    let runtime = tokio::runtime::Runtime::new()?;
    let services = services(Path::new(data))?;
    let started = Instant::now();
    runtime.block_on(services.analytics.rebuild_analytics(&tenant))?;
    let millis = started.elapsed().as_millis();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    println!("{millis} {peak_kib}");
    Ok(())
}
