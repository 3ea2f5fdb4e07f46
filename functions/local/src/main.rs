//! `local`: Tally on a laptop. Every router on one port, embedded adapters, one data
//! directory, and the scheduled passes in-process.
//!
//! `cargo run -p local -- serve [--addr 127.0.0.1:8080] [--data-dir .tally] [--demo [--customers N] [--paddle-customers M]]`
//! `cargo run -p local -- ingest [--data-dir .tally] [--at <RFC 3339>]`
//! `cargo run -p local -- sweep [--data-dir .tally] [--at <RFC 3339>]`
//! `cargo run -p local -- fx-refresh [--data-dir .tally]`
//! `cargo run -p local -- operator create --email <e-mail> [--data-dir .tally | --aws]`
//! `cargo run -p local -- operator unlock|disable --email <e-mail> [--data-dir .tally | --aws]`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use tally::config::Config;
use tally::local::{
    Application, DEMO_EMAIL, JobPool, create_demo, open_services, start_workers, sweep_and_compact,
};
use tally::ports::{ShiftedClock, SystemClock};
use tally::services::jobs::Workers;

#[derive(Parser)]
#[command(
    name = "local",
    version,
    about = "Tally's local server and scheduled passes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every router on one address with the embedded adapters.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        #[arg(long, default_value = ".tally")]
        data_dir: PathBuf,
        /// Create a demo tenant with two generated sources — a Stripe-shaped one of
        /// 2,000 customers over 24 months unless `--customers` says otherwise, and a
        /// Paddle-shaped one of a quarter as many unless `--paddle-customers` says
        /// otherwise (0: none) — sync them, and print its sign-in.
        #[arg(long)]
        demo: bool,
        /// The demo dataset's customers (about 15 billing records each), 1 to 1,000,000.
        #[arg(long, requires = "demo", default_value_t = 2_000,
              value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        customers: u32,
        /// The Paddle-shaped second source's customers (default: a quarter of
        /// `--customers`; 0 leaves it out).
        #[arg(long, requires = "demo",
              value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
        paddle_customers: Option<u32>,
    },
    /// Plan a sync of every connected integration, run them on the worker pool
    /// (`TALLY_JOB_WORKERS` at once, each within `TALLY_JOB_TIMEOUT_MS`), then exit.
    Ingest {
        #[arg(long, default_value = ".tally")]
        data_dir: PathBuf,
        /// Ingest as if it were this time (RFC 3339), e.g. to take over the lease of a
        /// sync whose process died (a lease lasts 15 minutes).
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Plan the sweep, run each deletion due on the worker pool, compact the store,
    /// then exit.
    Sweep {
        #[arg(long, default_value = ".tally")]
        data_dir: PathBuf,
        /// Sweep as if it were this time (RFC 3339), e.g. to check a deadline.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Send the weekly digest of every tenant with data for the last complete ISO week
    /// (as Monday's schedule does; a week already sent is not sent again), then exit.
    /// The e-mails are `WeeklyDigest` lines of `<data-dir>/events.jsonl`.
    Digest {
        #[arg(long, default_value = ".tally")]
        data_dir: PathBuf,
        /// Run as if it were this time (RFC 3339): the week before it is sent.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Fetch the ECB's reference rates (TALLY_ECB_DAILY_URL) into the store, then exit.
    FxRefresh {
        #[arg(long, default_value = ".tally")]
        data_dir: PathBuf,
    },
    /// Staff accounts (operators): never made through the public API.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator with TOTP. The password is read from TALLY_OPERATOR_PASSWORD
    /// (or, if unset, the first line of standard input); the TOTP secret is printed once.
    Create {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: OperatorStore,
    },
    /// Clear an operator's failed sign-ins after a lockout.
    Unlock {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: OperatorStore,
    },
    /// Disable an operator: its sessions end with their next request, it cannot sign
    /// in, and no grant can name it.
    Disable {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        store: OperatorStore,
    },
}

/// Which store an operator command writes to.
#[derive(clap::Args)]
struct OperatorStore {
    #[arg(long, default_value = ".tally")]
    data_dir: PathBuf,
    /// The deployed stack's store instead (TALLY_TABLE, TALLY_KMS_KEY_ID,
    /// TALLY_EVENT_BUS and AWS credentials from the environment).
    #[arg(long)]
    aws: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = Config::from_env().context("configuration")?;
    match Cli::parse().command {
        Command::Serve {
            addr,
            data_dir,
            demo,
            customers,
            paddle_customers,
        } => {
            let namespace = config.metrics_namespace.clone();
            let app = Application::build(config, &data_dir, addr, Arc::new(SystemClock)).await?;
            metrics_to(&namespace, &data_dir);
            let bound = app.local_addr();
            if demo {
                let paddle = paddle_customers.unwrap_or(customers / 4);
                match create_demo(
                    &app.services,
                    Some(customers as usize),
                    Some(paddle as usize),
                )
                .await?
                {
                    Some(created) => {
                        println!(
                            "Demo tenant created.\n  e-mail:   {}\n  password: {}\nSyncing its data (a Stripe-shaped source of {customers} customers and a Paddle-shaped one of {paddle}, about {} records)...",
                            created.email,
                            created.password.expose_secret(),
                            u64::from(customers + paddle) * 15
                        );
                        let started = std::time::Instant::now();
                        let written = created.sync(&app.services).await?;
                        println!(
                            "Demo tenant ready ({} records synced in {:.1} s).\nOpen the dashboard at http://{bound}/ and sign in as {} with the password above.",
                            written,
                            started.elapsed().as_secs_f64(),
                            created.email
                        );
                    }
                    None => println!(
                        "Demo tenant already in {}: open the dashboard at http://{bound}/ and sign in as {} with the password printed when it was created.",
                        data_dir.display(),
                        DEMO_EMAIL
                    ),
                }
            }
            start_workers(app.services.clone(), &app.events, app.store.clone());
            tracing::info!(data_dir = %data_dir.display(), "Tally is listening on http://{bound} (the dashboard is at /)");
            app.serve_until(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        }
        Command::Ingest { data_dir, at } => {
            let namespace = config.metrics_namespace.clone();
            let local = open_services(config, &data_dir, clock_at(at)).await?;
            metrics_to(&namespace, &data_dir);
            let started = std::time::Instant::now();
            let pass = pool(&local.services).ingest_pass().await?;
            println!(
                "{} integrations synced, {} failed, {} skipped; {} records written in {:.1} s",
                pass.synced,
                pass.failed,
                pass.skipped,
                pass.records_written,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Sweep { data_dir, at } => {
            let namespace = config.metrics_namespace.clone();
            let local = open_services(config, &data_dir, clock_at(at)).await?;
            metrics_to(&namespace, &data_dir);
            let report = sweep_and_compact(&pool(&local.services), &local.store).await?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Digest { data_dir, at } => {
            let namespace = config.metrics_namespace.clone();
            let local = open_services(config, &data_dir, clock_at(at)).await?;
            metrics_to(&namespace, &data_dir);
            let reports = pool(&local.services).digest_pass().await?;
            println!("{}", serde_json::to_string(&reports)?);
        }
        Command::Operator { command } => operator(config, command).await?,
        Command::FxRefresh { data_dir } => {
            let namespace = config.metrics_namespace.clone();
            let local = open_services(config, &data_dir, Arc::new(SystemClock)).await?;
            metrics_to(&namespace, &data_dir);
            let refresh = local.services.analytics.refresh_ecb_rates().await?;
            println!("{}", serde_json::to_string(&refresh)?);
        }
    }
    // What the planners recorded outside a job (their gauges) joins the file too.
    tally::telemetry::flush();
    Ok(())
}

/// The local sink of the metrics Lambda writes to CloudWatch:
/// `<data-dir>/metrics.jsonl`, one EMF document per line (installed once the data
/// directory exists, with its own mode).
fn metrics_to(namespace: &str, data_dir: &std::path::Path) {
    let sink = tally::telemetry::Sink::File(data_dir.join("metrics.jsonl"));
    if let Err(err) = tally::telemetry::init(namespace, "local", sink) {
        tracing::warn!(error = %err, "metrics are off");
    }
}

/// `operator create` and `operator unlock`, on the local data dir or the AWS store.
async fn operator(config: Config, command: OperatorCommand) -> anyhow::Result<()> {
    let (email, store) = match &command {
        OperatorCommand::Create { email, store }
        | OperatorCommand::Unlock { email, store }
        | OperatorCommand::Disable { email, store } => (email.clone(), store),
    };
    let services = if store.aws {
        let (adapters, config) = tally::lambda::aws_adapters("local")
            .await
            .context("the AWS configuration")?;
        tally::services::Services::new(adapters, config)
    } else {
        open_services(config, &store.data_dir, Arc::new(SystemClock))
            .await?
            .services
    };
    match command {
        OperatorCommand::Create { .. } => {
            let password = match std::env::var("TALLY_OPERATOR_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let created = services
                .identity
                .create_operator(&email, secrecy::SecretString::from(password))
                .await
                .map_err(|e| anyhow::anyhow!("the operator was not created: {e}"))?;
            println!(
                "Operator created.\n  id:          {}\n  TOTP secret: {}\n  otpauth URI: {}\nAdd the secret to the operator's authenticator app now: it is not shown again.",
                created.id,
                created.totp_secret.expose_secret(),
                created.otpauth_uri.expose_secret()
            );
        }
        OperatorCommand::Unlock { .. } => {
            services
                .identity
                .unlock_operator(&email)
                .await
                .map_err(|e| anyhow::anyhow!("the operator was not unlocked: {e}"))?;
            println!("Operator sign-ins unlocked.");
        }
        OperatorCommand::Disable { .. } => {
            services
                .identity
                .disable_operator(&email)
                .await
                .map_err(|e| anyhow::anyhow!("the operator was not disabled: {e}"))?;
            println!("Operator disabled.");
        }
    }
    Ok(())
}

/// The worker pool the one-shot commands run their jobs on, as `serve` does.
fn pool(services: &tally::services::Services) -> Arc<JobPool> {
    JobPool::new(Workers::all(services), services.config.job_workers)
}

/// The system clock, or one that reads `at` now and moves on from there (`--at`).
fn clock_at(at: Option<chrono::DateTime<chrono::Utc>>) -> Arc<dyn tally::ports::Clock> {
    match at {
        Some(at) => Arc::new(ShiftedClock::starting_at(at)),
        None => Arc::new(SystemClock),
    }
}
