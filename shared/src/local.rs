//! The local server: every function's router on one `axum::serve`, on the embedded
//! adapters, in one data directory. `Application::build` binds the port (0 for a free
//! one) so tests spawn isolated apps and speak HTTP to them (tests/api/helpers.rs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::adapters::embedded::{self, EmbeddedError, LocalEventBus, SqliteStore};
use crate::config::Config;
use crate::domain::schedule::PLAN_EVERY_SECS;
use crate::http;
use crate::ports::Clock;
use crate::services::Services;
use crate::services::error::ErrorChain;
use crate::services::jobs::{self, Job, JobReport, Workers};
use crate::services::scheduled::PlanScope;

pub mod pool;
pub use pool::JobPool;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("cannot prepare the data directory: {0}")]
    Prepare(crate::services::ServiceError),
}

/// The product, running on a laptop.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pub services: Arc<Services>,
    pub events: Arc<LocalEventBus>,
    pub store: Arc<SqliteStore>,
    pub data_dir: PathBuf,
}

/// The embedded adapters of a data directory and the services on them.
pub struct LocalServices {
    pub services: Arc<Services>,
    pub events: Arc<LocalEventBus>,
    /// The SQLite store again, for what only it offers: compaction after deletions.
    pub store: Arc<SqliteStore>,
}

/// Opens (creating if new: keys, lookup pepper and all) the data directory and builds
/// the services.
pub async fn open_services(
    config: Config,
    data_dir: &Path,
    clock: Arc<dyn Clock>,
) -> Result<LocalServices, LocalError> {
    let opened = embedded::open(data_dir, &config.table, clock)?;
    let services = Services::new(opened.adapters, config);
    services
        .guard
        .ensure_lookup_pepper()
        .await
        .map_err(LocalError::Prepare)?;
    Ok(LocalServices {
        services,
        events: opened.events,
        store: opened.store,
    })
}

impl Application {
    pub async fn build(
        config: Config,
        data_dir: &Path,
        addr: SocketAddr,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LocalError> {
        let local = open_services(config, data_dir, clock).await?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| LocalError::Bind { addr, source })?;
        let router = http::local_app(&local.services);
        Ok(Self {
            listener,
            router,
            services: local.services,
            events: local.events,
            store: local.store,
            data_dir: data_dir.to_owned(),
        })
    }

    /// The address actually bound (the port is chosen by the OS when asked for 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` resolves. The socket peer becomes the client address.
    pub async fn serve_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), LocalError> {
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(LocalError::Serve)
    }
}

/// How often `serve` runs the sweep's planner (the Lambda schedule is hourly too).
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// How often `serve` fetches the ECB's reference rates (the Lambda schedule is daily).
pub const FX_REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The local stand-ins for EventBridge's rules and schedules, on a [`JobPool`]: jobs
/// (requested syncs, exports) start as their events arrive, as the `ingest` function's
/// invocations do; from an hour after start, the sync planner runs at the start of each
/// 5-minute window of the hour and starts the syncs of the tenants whose offset has
/// just come; the sweep's planner runs hourly and starts one job per deletion (then a
/// compaction); the digest's planner runs on Mondays at 07:00 UTC and starts one
/// digest per tenant; the ECB's rates are fetched at start and then daily. They stop with the
/// runtime. A failed job was logged by `jobs::run`.
pub fn start_workers(services: Arc<Services>, events: &LocalEventBus, store: Arc<SqliteStore>) {
    let pool = JobPool::new(Workers::all(&services), services.config.job_workers);
    let fx = services.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(FX_REFRESH_EVERY);
        loop {
            every.tick().await;
            refresh_fx_rates(&fx).await;
        }
    });
    let mut requests = events.subscribe();
    let on_request = pool.clone();
    tokio::spawn(async move {
        loop {
            match requests.recv().await {
                Ok(event) => match Job::from_event(&event) {
                    Ok(Some(job)) => {
                        on_request.spawn(job);
                    }
                    Ok(None) => {}
                    Err(err) => {
                        tracing::warn!(error = %ErrorChain(&err), "a job event was not understood")
                    }
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "jobs were dropped; the planner will catch up");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let planner = pool.clone();
    let clock = services.adapters.clock.clone();
    tokio::spawn(async move {
        // Like the sweep, from an hour after start: a server started to look at its
        // data does not begin syncing under its user (the faults tests rely on it).
        tokio::time::sleep(SWEEP_EVERY).await;
        loop {
            tokio::time::sleep(until_next_window(clock.now())).await;
            let now = clock.now();
            match planner.plan_syncs(PlanScope::window_at(now)).await {
                Ok(started) => tracing::info!(syncs = started.len(), "syncs planned"),
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "the sync planner failed")
                }
            }
        }
    });
    let digests = pool.clone();
    let digest_clock = services.adapters.clock.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(until_next_digest(digest_clock.now())).await;
            match digests.plan_digests().await {
                Ok(started) => tracing::info!(digests = started.len(), "digests planned"),
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "the digest planner failed")
                }
            }
        }
    });
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            let swept = match pool.plan_sweep().await {
                Ok(started) => pool::wait_all(started).await.iter().all(Result::is_ok),
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "the sweep's planner failed");
                    false
                }
            };
            if swept && let Err(err) = store.compact().await {
                tracing::warn!(error = %ErrorChain(&err), "compaction after the sweep failed");
            }
        }
    });
}

/// From `now` to the next Monday 07:00 UTC, the digest's schedule (infra/template.yaml).
fn until_next_digest(now: chrono::DateTime<chrono::Utc>) -> std::time::Duration {
    use chrono::{Datelike, Duration, TimeZone};
    let monday = crate::domain::digest::week_of(now.date_naive());
    let this_week = monday
        .and_hms_opt(DIGEST_HOUR_UTC, 0, 0)
        .map(|at| chrono::Utc.from_utc_datetime(&at));
    let next = match this_week {
        Some(at) if at > now => at,
        Some(at) => at + Duration::days(7),
        None => now + Duration::days(7),
    };
    debug_assert_eq!(next.weekday(), chrono::Weekday::Mon);
    (next - now)
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(3600))
}

/// The hour (UTC) of Monday at which the weekly digest goes out.
pub const DIGEST_HOUR_UTC: u32 = 7;

/// From `now` to a second after the next planner window starts.
fn until_next_window(now: chrono::DateTime<chrono::Utc>) -> std::time::Duration {
    use chrono::Timelike;
    let into = (now.minute() * 60 + now.second()) % PLAN_EVERY_SECS;
    std::time::Duration::from_secs(u64::from(PLAN_EVERY_SECS - into) + 1)
}

/// The demo tenant's sign-in, printed once when `serve --demo` creates it.
pub struct DemoLogin {
    pub email: String,
    /// `None` when the tenant already existed (its password was printed back then).
    pub password: Option<secrecy::SecretString>,
    pub records: u64,
}

/// A demo tenant just created, its first sync still to run.
pub struct NewDemo {
    pub email: String,
    pub password: secrecy::SecretString,
    pub tenant: crate::domain::ids::TenantId,
    /// The Stripe-shaped demo integration, then the Paddle-shaped one if asked for.
    pub integrations: Vec<crate::domain::ids::IntegrationId>,
}

pub const DEMO_EMAIL: &str = "demo@tally.local";
/// The demo dataset's seed: the same data on every machine, for the same day.
pub const DEMO_SEED: u64 = 42;
/// The Paddle-shaped second source's seed (another business's customers).
pub const DEMO_PADDLE_SEED: u64 = 43;

/// Creates the demo tenant with a random password and the demo integration; `None`
/// when the data directory already has it. The caller shows the sign-in before it
/// runs the first sync, so a sync that is interrupted (and later resumed by the
/// hourly pass) never takes the only copy of the password with it.
///
/// With `paddle_customers`, a second, Paddle-shaped demo integration of that many
/// customers joins the Stripe-shaped one: the tenant then shows two sources (the
/// `integration` dimension, the integrations page), as a merchant selling through both
/// processors would.
pub async fn create_demo(
    services: &Services,
    customers: Option<usize>,
    paddle_customers: Option<usize>,
) -> Result<Option<NewDemo>, crate::services::ServiceError> {
    use crate::adapters::demo::DemoShape;
    use crate::services::ServiceError;
    use crate::services::accounts::SignupRequest;
    use secrecy::SecretString;

    // Random, and meeting the default policy's composition rules whatever it holds.
    let password = format!("Tly-7a-{}", crate::domain::tokens::new_token());
    let request = SignupRequest {
        company: "Demo GmbH".into(),
        email: DEMO_EMAIL.into(),
        password: SecretString::from(password.clone()),
        ip: std::net::IpAddr::from([127, 0, 0, 1]),
    };
    let tenant = match services.identity.signup(request).await {
        Ok((tenant, _)) => tenant,
        Err(ServiceError::EmailTaken) => return Ok(None),
        Err(other) => return Err(other),
    };
    // Made by the operator on their own machine: nobody needs to prove this address.
    services.identity.mark_email_verified(&tenant).await?;
    let mut integrations = vec![
        services
            .integrations
            .connect_demo_of(&tenant, DEMO_SEED, customers)
            .await?,
    ];
    if let Some(count) = paddle_customers.filter(|count| *count > 0) {
        let paddle = services
            .integrations
            .connect_demo_shaped(&tenant, DEMO_PADDLE_SEED, Some(count), DemoShape::Paddle)
            .await?;
        integrations.push(paddle);
    }
    Ok(Some(NewDemo {
        email: DEMO_EMAIL.into(),
        password: SecretString::from(password),
        tenant,
        integrations,
    }))
}

/// Creates the demo tenant and runs its first sync. A data directory that already has
/// it is left as it is.
pub async fn bootstrap_demo(
    services: &Services,
) -> Result<DemoLogin, crate::services::ServiceError> {
    let Some(demo) = create_demo(services, None, None).await? else {
        return Ok(DemoLogin {
            email: DEMO_EMAIL.into(),
            password: None,
            records: 0,
        });
    };
    let records = demo.sync(services).await?;
    Ok(DemoLogin {
        email: demo.email,
        password: Some(demo.password),
        records,
    })
}

impl NewDemo {
    /// Runs the first sync of each demo integration; the records written.
    pub async fn sync(&self, services: &Services) -> Result<u64, crate::services::ServiceError> {
        let mut written = 0;
        for integration in &self.integrations {
            let report = services
                .ingestion
                .sync_integration(&self.tenant, integration)
                .await?;
            written += report.map(|r| r.written).unwrap_or(0);
        }
        Ok(written)
    }
}

/// One fetch of the ECB's rates. A failure (offline, say) is logged by `jobs::run`, naming
/// what failed, never the body: the server carries on with the rates it has.
pub async fn refresh_fx_rates(services: &Services) {
    if let Ok(JobReport::FxRefresh(refresh)) =
        jobs::run(&Workers::all(services), Job::FxRefresh).await
    {
        tracing::info!(
            date = %refresh.date,
            stored = refresh.stored,
            "ECB reference rates refreshed"
        );
    }
}

/// Every due deletion on `pool`, then a compaction so no residue of deleted items stays
/// in the file (`local sweep`).
pub async fn sweep_and_compact(
    pool: &Arc<JobPool>,
    store: &SqliteStore,
) -> Result<crate::services::sweep::SweepReport, crate::services::ServiceError> {
    let report = pool.sweep_pass().await?;
    store.compact().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_local_digest_runs_next_monday_at_seven_utc() {
        let at = |d, h, m| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
        let hours = |d: std::time::Duration| d.as_secs() / 3600;
        // Thursday 26 November 12:00 → Monday 30 November 07:00.
        assert_eq!(hours(until_next_digest(at(26, 12, 0))), 24 * 3 + 19);
        // Monday before seven: the same day; at or after seven: a week later.
        assert_eq!(until_next_digest(at(30, 6, 30)).as_secs(), 30 * 60);
        assert_eq!(hours(until_next_digest(at(30, 7, 0))), 24 * 7);
    }
}
