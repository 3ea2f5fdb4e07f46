//! Part 2: the local server on the generated tenant — what a client sees, HTTP included.
//!
//! The tenant's snapshot is published straight from the generated records
//! ([`publish_dataset_snapshot`]) instead of syncing millions of records through the
//! store first: the queries read only the snapshot, so how it got there does not change
//! what they cost. Everything stays on loopback, in a temporary data directory.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use secrecy::SecretString;
use serde_json::{Value, json};
use tally::config::Config;
use tally::domain::ids::TenantId;
use tally::domain::metrics::BillingData;
use tally::local::open_services;
use tally::ports::SystemClock;
use tally::services::Services;
use tally::services::accounts::SignupRequest;
use tokio::sync::oneshot;

use crate::engine::five_years_before;
use crate::report::{Report, count, duration, goal, mib, percentile};

const EMAIL: &str = "bench@tally.local";
/// Meets the default password policy; the tenant lives only as long as the run.
const PASSWORD: &str = "Bench-Tally-42-Horse";
/// Untimed requests before the timed ones: the first pays for loading the snapshot.
const WARM_UPS: usize = 2;
/// However many requests were asked for, one endpoint gets at most this long.
const ENDPOINT_BUDGET: Duration = Duration::from_secs(120);
/// The latency goal of issue 6.
const LATENCY_GOAL: Duration = Duration::from_millis(50);
/// The latency goal of issue 18 for the cohort and forecast routes.
const ANALYSIS_GOAL: Duration = Duration::from_millis(100);

/// A served app; the server stops when this is dropped.
pub struct Served {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    _stop: oneshot::Sender<()>,
}

/// Serves `services` on a free loopback port, as the local server does (the socket
/// peer becomes the client address).
pub async fn serve(services: Arc<Services>) -> Result<Served> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("binding a loopback port")?;
    let addr = listener.local_addr()?;
    let app = tally::http::local_app(&services).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(err) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            eprintln!("the server stopped: {err}");
        }
    });
    Ok(Served {
        base: format!("http://{addr}"),
        _stop: stop,
    })
}

/// The services of a (new or existing) data directory, with the default configuration.
pub async fn open(data_dir: &Path) -> Result<Arc<Services>> {
    let config = Config::from_vars(|_| None).context("the default configuration")?;
    let local = open_services(config, data_dir, Arc::new(SystemClock))
        .await
        .context("opening the data directory")?;
    Ok(local.services)
}

pub async fn run(
    data: BillingData<'_>,
    today: NaiveDate,
    requests: usize,
    section: &str,
    report: &mut Report,
) -> Result<()> {
    let temp = tempfile::tempdir().context("a temporary directory")?;
    let data_dir = temp.path().join("data");
    let services = open(&data_dir).await?;
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

    let started = Instant::now();
    publish_dataset_snapshot(&services, &tenant, data)
        .await
        .context("publishing the snapshot")?;
    report.row(
        "Snapshot",
        "build + seal + store (facts, rows, RFM, risks; no profiles)",
        duration(started.elapsed()),
        None,
    );
    // Publishing does not fill the cache: this first read is a cold load (pointer,
    // every chunk unsealed, decoded and checked) without HTTP around it.
    let started = Instant::now();
    let snapshot = services
        .analytics
        .snapshot(&tenant)
        .await?
        .context("the snapshot is not there")?;
    report.row(
        "Snapshot",
        "cold load: Services::snapshot (read, unseal, decode, check)",
        duration(started.elapsed()),
        None,
    );
    let encoded = postcard::to_stdvec(&*snapshot)
        .context("encoding the snapshot")?
        .len();
    report.row(
        "Snapshot",
        "encoded size (the loaded snapshot in postcard, uncompressed)",
        format!(
            "{} ({} customer rows)",
            mib(encoded as u64),
            count(snapshot.customers.len())
        ),
        None,
    );
    drop(snapshot);
    report.row(
        "Snapshot",
        "data directory on disk",
        mib(dir_size(&data_dir)),
        None,
    );

    let client = client(None)?;
    let served = serve(services.clone()).await?;
    let token = sign_in(&client, &served.base, EMAIL, PASSWORD).await?;

    let from = five_years_before(today);
    let endpoints = [
        format!("/v1/metrics/mrr_movements?from={from}&interval=month"),
        "/v1/metrics/summary".to_owned(),
        "/v1/customers?sort=mrr".to_owned(),
    ];
    for path in &endpoints {
        let times = timed(&client, &served.base, path, &token, requests).await?;
        let p50 = percentile(&times, 50);
        report.row(
            section,
            &format!("GET {path}"),
            format!(
                "p50 {}, p99 {} ({} requests)",
                duration(p50),
                duration(percentile(&times, 99)),
                times.len()
            ),
            Some(format!("p50 {}", goal(p50, LATENCY_GOAL))),
        );
    }
    // Issue 18: the cohort triangles (5 years of monthly cohorts) and the forecast.
    let analyses = [
        format!("/v1/metrics/cohorts?from={from}&interval=month"),
        "/v1/metrics/forecast".to_owned(),
    ];
    for path in &analyses {
        let times = timed(&client, &served.base, path, &token, requests).await?;
        let p50 = percentile(&times, 50);
        report.row(
            section,
            &format!("GET {path}"),
            format!(
                "p50 {}, p95 {} ({} requests)",
                duration(p50),
                duration(percentile(&times, 95)),
                times.len()
            ),
            Some(format!("p50 {}", goal(p50, ANALYSIS_GOAL))),
        );
    }
    drop(served);

    // Cold: a second process's view of the same data directory — nothing cached, so
    // the first request reads the pointer and every chunk, unseals and decodes them.
    let fresh = open(&data_dir).await?;
    let served = serve(fresh).await?;
    let url = format!("{}/v1/metrics/summary", served.base);
    let cold = get(&client, &url, &token).await?;
    let warm = get(&client, &url, &token).await?;
    report.row(
        section,
        "cold load: first GET /v1/metrics/summary on a fresh Services",
        format!("{} (the next one: {})", duration(cold), duration(warm)),
        None,
    );
    drop(served);
    Ok(())
}

/// `requests` timed GETs of `path` after [`WARM_UPS`] untimed ones (within
/// [`ENDPOINT_BUDGET`]), sorted.
async fn timed(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    requests: usize,
) -> Result<Vec<Duration>> {
    let url = format!("{base}{path}");
    for _ in 0..WARM_UPS {
        get(client, &url, token).await?;
    }
    let mut times = Vec::with_capacity(requests);
    let budget = Instant::now();
    while times.len() < requests && budget.elapsed() < ENDPOINT_BUDGET {
        times.push(get(client, &url, token).await?);
    }
    times.sort();
    Ok(times)
}

/// A client for the loopback server; its connections come from `local` when given
/// (any 127.0.0.0/8 address on Linux), so the server sees that client address.
pub fn client(local: Option<IpAddr>) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        // Loopback only: never through a proxy the environment may name.
        .no_proxy()
        .local_address(local)
        .timeout(Duration::from_secs(60))
        .build()
        .context("building an HTTP client")
}

/// `POST /v1/sessions`; the bearer token.
pub async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Result<String> {
    let response = client
        .post(format!("{base}/v1/sessions"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .with_context(|| format!("signing in as {email}"))?;
    let status = response.status();
    let body: Value = response.json().await.context("the sign-in reply")?;
    match body["token"].as_str() {
        Some(token) if status.is_success() => Ok(token.to_owned()),
        _ => bail!("sign-in as {email} failed ({status}): {body}"),
    }
}

/// One request, timed until its whole body has arrived.
async fn get(client: &reqwest::Client, url: &str, token: &str) -> Result<Duration> {
    let started = Instant::now();
    let response = client.get(url).bearer_auth(token).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let elapsed = started.elapsed();
    if !status.is_success() {
        bail!(
            "GET {url}: {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
    }
    Ok(elapsed)
}

/// The bytes of the directory's files (SQLite's WAL included).
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Builds and publishes the tenant's snapshot from records held in memory instead of
/// the tenant's stored records, which the bench would otherwise first sync through the
/// store: queries read only the snapshot, so how it was filled does not change what
/// they cost. Customer profiles are not stored (100,000 sealed items would dominate the
/// run), so `GET /v1/customers/{id}` finds none for these customers.
pub async fn publish_dataset_snapshot(
    services: &Services,
    tenant: &TenantId,
    data: BillingData<'_>,
) -> Result<()> {
    let mut computed = services.analytics.compute(&[data])?;
    computed.profiles.clear();
    services
        .analytics
        .publish_snapshot(tenant, &computed)
        .await?;
    Ok(())
}
