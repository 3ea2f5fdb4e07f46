//! `bench`: the figures of issue 6's "Speed" section, printed as a table.
//!
//! 1. The engine on one thread: `facts_from_records` once, then monthly MRR + movements
//!    over 5 years and the summary on about 1,000,000 `MrrChange`s (goal: under 1 s).
//! 2. The local server over loopback, on a tenant of 100,000 customers: p50/p99 of the
//!    three query routes the issue names (goal: p50 under 50 ms), p50/p95 of issue 18's
//!    cohort and forecast routes (goal: p50 under 100 ms; the engine part times the two
//!    computations alone too), the snapshot's size and its cold load.
//!
//! The demo generator's customers change MRR under twice each in 5 years (a sign-up,
//! maybe an upgrade, a churn), so 100,000 of them make ~170,000 changes, and 1,000,000
//! take ~600,000 customers — whose records at once would need ~13 GB. So the engine
//! part adds further generated datasets (other seeds, as other integrations of the same
//! tenant) one at a time, keeping only their facts, until the target is reached; the
//! server part serves the first dataset, whose records the snapshot build needs whole.
//!
//! ```sh
//! cargo run --release -p bench                      # the issue's figures
//! cargo run --release -p bench -- --quick           # a smoke test (5,000 customers)
//! cargo run --release -p bench -- --customers 20000 --changes 200000 --requests 50
//! ```
//!
//! Figures are only meaningful from a release build; a debug build is for smoke tests.
//!
//! ## `load`: concurrent sign-ins and queries
//!
//! `bench load` serves the demo tenant on a loopback port in a temporary data directory
//! (the demo connector's dataset: seed 42, 2,000 customers over 24 months; synced as
//! `serve --demo` does, or with `--quick` published straight to a snapshot, as above),
//! invites analysts into it, and then for a bounded time and request count runs, at once:
//!
//! - login workers: `POST /v1/sessions` with the right password, each token checked on
//!   `GET /v1/me`;
//! - query workers, each with its own session: `GET /v1/metrics/summary`,
//!   `/v1/metrics/mrr`, `/v1/metrics/mrr_movements` and `/v1/customers?sort=mrr`;
//! - lockout probes: for a fresh account, 5 wrong passwords in parallel, then the right
//!   one, which must answer 423 `password_reset_required` (no failure lost to a race).
//!
//! Sign-ins are limited to 20 a minute per client address, and the server takes the
//! socket peer as that address: each simulated client connects from its own loopback
//! address (127.1.x.y) and sends at most 15 auth requests in the whole run. It prints
//! count, errors, throughput, p50/p99/max per operation, then PASS/FAIL lines for the
//! checks (lockout holds, every sign-in gave a working token, every query answered 200,
//! no 5xx, no 429, the sign-in log holds every attempt) and exits non-zero if one
//! fails. Its `--quick` run takes under 10 s in a debug build, so tests and CI can run it.
//!
//! ```sh
//! cargo run -p bench -- load --quick                 # 5 s, 4 + 4 workers
//! cargo run --release -p bench -- load --seconds 60 --concurrency 8
//! ```
//!
//! ## `pass`: one local pass, and the embedded store's share of it
//!
//! `bench pass` runs, per tenant size (2,000, 20,000 and 100,000 customers), a first
//! sync, a pass with no change and one where 1 % of the customers changed, each as
//! `local ingest` runs it (the planner, then the syncs on the worker pool), with every
//! call of the SQLite store timed (`pass.rs`): the pass's time, the store's, the rest.
//!
//! ```sh
//! cargo run --release -p bench -- pass                            # 2,000, 20,000, 100,000
//! cargo run -p bench -- pass --quick                              # 300 customers
//! ```
//!
//! ## `dynamo`: what a sync pass costs on DynamoDB
//!
//! `bench dynamo` syncs demo tenants of 2,000, 20,000 and 100,000 customers through the
//! real services on the embedded store wrapped in a DynamoDB cost and time model
//! (`dynamo_model.rs`: calls, items, request units with DynamoDB's rounding, simulated
//! latency and per-partition throughput): a first sync, a pass with no change and a
//! pass where 1 % of the customers changed. It prints, per pass, calls, WRU, RRU, the
//! simulated DynamoDB time, this machine's time, peak memory and the cost at
//! eu-central-1 on-demand prices, by the month for hourly passes (`dynamo.rs`).
//!
//! ```sh
//! cargo run --release -p bench -- dynamo                          # 2,000, 20,000, 100,000
//! cargo run --release -p bench -- dynamo --customers 2000,20000
//! cargo run -p bench -- dynamo --quick                            # 300 customers
//! ```

mod dynamo;
mod dynamo_model;
mod engine;
mod load;
mod merge;
mod paging;
mod pass;
mod rebuild;
mod report;
mod server;

use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::report::{Report, count};

/// The issue's tenant: 100,000 customers ...
const DEFAULT_CUSTOMERS: usize = 100_000;
/// ... and 1,000,000 subscription changes for the engine.
const DEFAULT_CHANGES: usize = 1_000_000;
const QUICK_CUSTOMERS: usize = 5_000;
const QUICK_CHANGES: usize = 25_000;
const DEFAULT_REQUESTS: usize = 30;
/// The demo dataset's seed (as `serve --demo`); further datasets take the next ones.
const SEED: u64 = 42;
/// Guards against a typo asking for hours of work or more memory than a laptop has
/// (~22 KB of records per customer).
const MAX_CUSTOMERS: usize = 300_000;
const MAX_CHANGES: usize = 20_000_000;
const MAX_REQUESTS: usize = 10_000;

const USAGE: &str = "usage: bench [--quick] [--customers N] [--changes N] [--requests N]
       bench load [--quick] [--seconds N] [--concurrency N] [--requests N]
       bench dynamo [--quick] [--customers N,N,...]
       bench paging [--quick]
       bench pass [--quick] [--customers N,N,...]
  --customers N  customers of the tenant the server part serves (default 100,000)
  --changes N    MrrChanges the engine part is timed on, at least (default 1,000,000)
  --quick        5,000 customers and 25,000 changes: a smoke test, not a measurement
  --requests N   timed requests per endpoint, after 2 warm-ups (default 30)
load: concurrent sign-ins and metric queries against the demo tenant (2,000 customers)
  --seconds N      how long the load runs, at most (default 20; --quick: 5)
  --concurrency N  login workers, and as many query workers (default 4)
  --requests N     requests in all, at most (default 20,000; --quick: 2,000)
  --quick          5 s, the dataset published without a sync: a smoke test (debug too)
dynamo: DynamoDB calls, request units, simulated time and cost of sync passes
  --customers N,N  the tenants' sizes (default 2,000,20,000,100,000)
  --quick          one tenant of 300 customers: a smoke test (debug too)
paging: one page of the embedded store at positions 0, 100,000 and 1,000,000
  --quick          positions 0, 1,000 and 10,000: a smoke test (debug too)
pass: one local ingest pass (planner + jobs), the time in the embedded store vs outside
  --customers N,N  the tenants' sizes (default 2,000,20,000,100,000)
  --quick          one tenant of 300 customers: a smoke test (debug too)
rebuild: peak memory of one full analytics rebuild, per bucket size, in a process of its own
  --customers N      the tenant's customers (default 100,000)
  --change-factor F  plan and seat changes F times the demo's (default 25: ~10 a customer)
  --quick            2,000 customers: a smoke test (debug too)";

struct Args {
    customers: usize,
    changes: usize,
    requests: usize,
}

/// The next word as a number from 1 to `max` (`_` separators allowed).
fn number(words: &mut impl Iterator<Item = String>, name: &str, max: usize) -> Result<usize> {
    let text = words
        .next()
        .with_context(|| format!("{name} needs a number"))?;
    let n: usize = text
        .replace('_', "")
        .parse()
        .with_context(|| format!("{name}: `{text}` is not a number"))?;
    if n == 0 || n > max {
        bail!("{name} must be from 1 to {max}");
    }
    Ok(n)
}

fn help() -> ! {
    println!("{USAGE}");
    std::process::exit(0);
}

fn parse_args(mut words: impl Iterator<Item = String>) -> Result<Args> {
    let mut args = Args {
        customers: DEFAULT_CUSTOMERS,
        changes: DEFAULT_CHANGES,
        requests: DEFAULT_REQUESTS,
    };
    while let Some(word) = words.next() {
        match word.as_str() {
            "--quick" => {
                args.customers = QUICK_CUSTOMERS;
                args.changes = QUICK_CHANGES;
            }
            "--customers" => args.customers = number(&mut words, "--customers", MAX_CUSTOMERS)?,
            "--changes" => args.changes = number(&mut words, "--changes", MAX_CHANGES)?,
            "--requests" => args.requests = number(&mut words, "--requests", MAX_REQUESTS)?,
            "-h" | "--help" => help(),
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    Ok(args)
}

/// `load`'s arguments. `--quick` sets the short defaults; explicit values win whatever
/// their order.
fn parse_load_args(mut words: impl Iterator<Item = String>) -> Result<load::Args> {
    let (mut quick, mut seconds, mut concurrency, mut requests) = (false, None, None, None);
    while let Some(word) = words.next() {
        match word.as_str() {
            "--quick" => quick = true,
            "--seconds" => seconds = Some(number(&mut words, "--seconds", load::MAX_SECONDS)?),
            "--concurrency" => {
                concurrency = Some(number(&mut words, "--concurrency", load::MAX_CONCURRENCY)?)
            }
            "--requests" => requests = Some(number(&mut words, "--requests", load::MAX_REQUESTS)?),
            "-h" | "--help" => help(),
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    let defaults = if quick {
        load::Args::QUICK
    } else {
        load::Args::DEFAULT
    };
    Ok(load::Args {
        seconds: seconds.unwrap_or(defaults.seconds),
        concurrency: concurrency.unwrap_or(defaults.concurrency),
        requests: requests.unwrap_or(defaults.requests),
        sync: defaults.sync,
    })
}

/// `dynamo`'s arguments: `--customers` wins over `--quick` whatever their order.
fn parse_dynamo_args(mut words: impl Iterator<Item = String>) -> Result<dynamo::Args> {
    let (mut quick, mut customers) = (false, None);
    while let Some(word) = words.next() {
        match word.as_str() {
            "--quick" => quick = true,
            "--customers" => {
                let text = words.next().context("--customers needs numbers")?;
                let sizes = text
                    .split(',')
                    .map(|n| {
                        number(
                            &mut std::iter::once(n.to_owned()),
                            "--customers",
                            dynamo::MAX_CUSTOMERS,
                        )
                    })
                    .collect::<Result<Vec<_>>>()?;
                customers = Some(sizes);
            }
            "-h" | "--help" => help(),
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    let defaults = if quick {
        dynamo::QUICK_CUSTOMERS.to_vec()
    } else {
        dynamo::DEFAULT_CUSTOMERS.to_vec()
    };
    Ok(dynamo::Args {
        customers: customers.unwrap_or(defaults),
    })
}

fn main() -> Result<()> {
    let mut words = std::env::args().skip(1).peekable();
    match words.peek().map(String::as_str) {
        Some("load") => {
            words.next();
            return load::main(parse_load_args(words)?);
        }
        Some("dynamo") => {
            words.next();
            return dynamo::main(parse_dynamo_args(words)?);
        }
        Some("pass") => {
            words.next();
            return pass::main(parse_dynamo_args(words)?.customers);
        }
        Some("rebuild") => {
            words.next();
            let mut args = rebuild::Args {
                customers: 100_000,
                change_factor: rebuild::CHANGE_FACTOR,
            };
            while let Some(word) = words.next() {
                match word.as_str() {
                    "--quick" => args.customers = 2_000,
                    "--customers" => {
                        args.customers = number(&mut words, "--customers", MAX_CUSTOMERS)?
                    }
                    "--change-factor" => {
                        args.change_factor = number(&mut words, "--change-factor", 100)? as u32
                    }
                    "-h" | "--help" => help(),
                    other => bail!("unknown argument `{other}`\n{USAGE}"),
                }
            }
            return rebuild::main(args);
        }
        Some("rebuild-child") => {
            words.next();
            let (Some(data), Some(tenant)) = (words.next(), words.next()) else {
                bail!("usage: bench rebuild-child DATA_DIR TENANT_ID");
            };
            return rebuild::child(&data, &tenant);
        }
        Some("paging") => {
            words.next();
            let mut quick = false;
            for word in words {
                match word.as_str() {
                    "--quick" => quick = true,
                    "-h" | "--help" => help(),
                    other => bail!("unknown argument `{other}`\n{USAGE}"),
                }
            }
            return paging::main(quick);
        }
        _ => {}
    }
    let args = parse_args(words)?;
    let build = if cfg!(debug_assertions) {
        "debug build: a smoke test, not a measurement"
    } else {
        "release build"
    };
    eprintln!(
        "bench: {} customers, ≥{} changes, {} months ({build})",
        count(args.customers),
        count(args.changes),
        engine::MONTHS
    );
    let started = Instant::now();
    // The data ends now, so the server's default ranges (which end today) cover it.
    let now = chrono::Utc::now();
    let mut report = Report::default();
    let generating = Instant::now();
    let dataset = engine::dataset(args.customers, SEED, now);
    report.row(
        "Dataset",
        &format!(
            "demo generator, seed {SEED}, {} months (the served tenant)",
            engine::MONTHS
        ),
        engine::describe(&dataset, generating.elapsed()),
        None,
    );
    let first = dataset.for_integration(engine::INTEGRATION);

    // The engine runs on this thread before any runtime exists: one core, no I/O.
    let facts = engine::run(first, SEED, args.changes, now, &mut report)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("the tokio runtime")?;
    let heading = format!(
        "Local server (loopback; tenant of {} customers, {} MrrChanges)",
        count(dataset.customers.len()),
        count(facts.first_changes)
    );
    runtime.block_on(server::run(
        first,
        now.date_naive(),
        args.requests,
        &heading,
        &mut report,
    ))?;
    report.process(started);

    println!(
        "# Tally bench: engine on {} MrrChanges ({} customers), server on {} customers ({build})",
        count(facts.changes),
        count(facts.customers),
        count(dataset.customers.len()),
    );
    report.print();
    Ok(())
}
