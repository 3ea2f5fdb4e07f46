//! `local`: Tally on a laptop. Every router on one port, embedded adapters, one data
//! directory. `cargo run -p local -- serve [--addr 127.0.0.1:8080] [--data-dir .tally]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tally::config::Config;
use tally::local::Application;
use tally::ports::SystemClock;

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
    },
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
        Command::Serve { addr, data_dir } => {
            let app = Application::build(config, &data_dir, addr, Arc::new(SystemClock)).await?;
            let bound = app.local_addr();
            tracing::info!(data_dir = %data_dir.display(), "Tally is listening on http://{bound}");
            app.serve_until(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        }
    }
    Ok(())
}
