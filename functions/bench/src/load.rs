//! `bench load`: the local server under concurrent sign-ins and metric queries, over
//! loopback, bounded in time and in requests — throughput and latency per operation,
//! and the checks that sign-in stays correct while it is busy.
//!
//! The tenant holds the demo connector's dataset (seed 42, 2,000 customers, 24 months),
//! synced as `serve --demo` does or, with `--quick`, published straight to a snapshot:
//! either way the queries read a real snapshot. Its admin invites analysts over the
//! API; the load then runs, all at once:
//!
//! - login workers: `POST /v1/sessions` with the right password, and the token it
//!   returns on `GET /v1/me` (it must name the same user);
//! - query workers, each signed in once: the metric routes in turn;
//! - lockout probes: a fresh account gets [`MAX_FAILED_LOGINS`] wrong passwords at the
//!   same moment, from as many addresses, then the right one — which must be refused
//!   with 423 `password_reset_required`. A failure counter kept by read-modify-write
//!   would lose some of the parallel failures and let that sign-in through.
//!
//! Sign-in is rate limited per client address (the socket peer), so every simulated
//! client connects from an address of its own in 127.1.0.0/16 (Linux routes all of
//! 127/8 to `lo`) and no address sends more than [`AUTH_PER_ADDRESS`] auth requests in
//! the whole run: under the limit in any minute. A 429 is counted and fails the run.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Months};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tally::adapters::demo::{DemoParams, generate};
use tally::local::DEMO_SEED;
use tally::services::Services;
use tally::services::accounts::SignupRequest;
use tally::services::sessions::{AUTH_REQUESTS_PER_MINUTE, MAX_FAILED_LOGINS};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::engine::INTEGRATION;
use crate::report::{Report, Table, count, duration, percentile};
use crate::server;

/// Guards against a typo asking for hours of load.
pub const MAX_SECONDS: usize = 600;
pub const MAX_CONCURRENCY: usize = 64;
pub const MAX_REQUESTS: usize = 1_000_000;

/// Auth requests (sign-ins) one loopback address sends in a whole run: three quarters
/// of the per-minute limit, so the limit holds in every minute, however the run falls.
pub const AUTH_PER_ADDRESS: usize = (AUTH_REQUESTS_PER_MINUTE as usize) * 3 / 4;
/// Addresses 127.1.a.b with a in 0..=255 and b in 1..=250.
const MAX_ADDRESSES: usize = 256 * 250;
/// Fresh accounts put through the lockout probe, spread over the run.
const PROBES: usize = 3;
/// The password of every invited user (meets the default policy).
const PASSWORD: &str = "Bench-Load-42-Horse";
const WRONG_PASSWORD: &str = "Wrong-Load-42-Horse";
/// Error messages kept for the printout (all are counted).
const KEPT_PROBLEMS: usize = 8;

#[derive(Clone, Copy)]
pub struct Args {
    /// How long the load runs, at most.
    pub seconds: usize,
    /// Login workers, and as many query workers.
    pub concurrency: usize,
    /// Requests the workers send in all, at most (setup and probes aside).
    pub requests: usize,
    /// The demo tenant through the demo connector's sync (`serve --demo`), or its
    /// dataset published straight to a snapshot (the same queries, a faster setup).
    pub sync: bool,
}

impl Args {
    pub const DEFAULT: Args = Args {
        seconds: 20,
        concurrency: 4,
        requests: 20_000,
        sync: true,
    };
    pub const QUICK: Args = Args {
        seconds: 5,
        concurrency: 4,
        requests: 2_000,
        sync: false,
    };
}

pub fn main(args: Args) -> Result<()> {
    let build = if cfg!(debug_assertions) {
        "debug build: a smoke test, not a measurement"
    } else {
        "release build"
    };
    eprintln!(
        "bench load: at most {} s and {} requests, {} login + {} query workers ({build})",
        args.seconds,
        count(args.requests),
        args.concurrency,
        args.concurrency
    );
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("the tokio runtime")?;
    let mut report = Report::default();
    let outcome = runtime.block_on(run(args, &mut report))?;
    report.process(started);

    println!(
        "# Tally load bench: {} login + {} query workers, at most {} s and {} requests ({build})",
        args.concurrency,
        args.concurrency,
        args.seconds,
        count(args.requests)
    );
    report.print();
    outcome.table.print(&format!(
        "Load ({} over {}; latency until the whole reply has arrived, nearest rank)",
        count(outcome.requests),
        duration(outcome.elapsed)
    ));
    println!("\n**Checks**\n");
    for check in &outcome.checks {
        let mark = if check.passed { "PASS" } else { "FAIL" };
        println!("{mark}  {}: {}", check.name, check.detail);
    }
    if !outcome.problems.is_empty() {
        println!("\nFirst errors ({} in all):", count(outcome.problem_count));
        for problem in &outcome.problems {
            println!("- {problem}");
        }
    }
    let failed = outcome.checks.iter().filter(|c| !c.passed).count();
    if failed > 0 {
        bail!(
            "{failed} of {} correctness checks failed",
            outcome.checks.len()
        );
    }
    Ok(())
}

/// What the load run found, for printing.
struct Outcome {
    table: Table,
    checks: Vec<Check>,
    requests: usize,
    elapsed: Duration,
    problems: Vec<String>,
    problem_count: usize,
}

struct Check {
    name: &'static str,
    passed: bool,
    detail: String,
}

/// The tenant admin's sign-in.
struct Admin {
    email: String,
    password: String,
}

#[derive(Clone)]
struct User {
    email: String,
}

/// A query route the query workers take in turn.
struct Route {
    label: String,
    path: String,
}

/// What every worker shares.
struct Shared {
    base: String,
    addresses: Addresses,
    budget: Budget,
    server_errors: AtomicUsize,
    rate_limited: AtomicUsize,
    problem_count: AtomicUsize,
    problems: Mutex<Vec<String>>,
}

impl Shared {
    /// Counts the statuses the checks are about, whichever request got them.
    fn saw(&self, status: StatusCode) {
        if status.is_server_error() {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn problem(&self, message: String) {
        self.problem_count.fetch_add(1, Ordering::Relaxed);
        let mut kept = self.problems.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < KEPT_PROBLEMS {
            kept.push(message);
        }
    }

    /// A client connecting from a loopback address no one has used yet.
    fn fresh_client(&self) -> Result<reqwest::Client> {
        server::client(Some(self.addresses.take()?))
    }
}

/// Hands out loopback source addresses, each once.
#[derive(Default)]
struct Addresses {
    next: AtomicUsize,
}

impl Addresses {
    fn take(&self) -> Result<IpAddr> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= MAX_ADDRESSES {
            bail!("all {MAX_ADDRESSES} loopback source addresses are used");
        }
        let (high, low) = (i / 250, i % 250 + 1);
        Ok(IpAddr::V4(Ipv4Addr::new(127, 1, high as u8, low as u8)))
    }

    fn used(&self) -> usize {
        self.next.load(Ordering::Relaxed).min(MAX_ADDRESSES)
    }
}

/// The run's bounds: no request starts after the deadline or past the count.
struct Budget {
    max: usize,
    issued: AtomicUsize,
    deadline: OnceLock<Instant>,
}

impl Budget {
    /// Reserves `n` requests; `false` once the time or the count is up (or before the
    /// load has started).
    fn take(&self, n: usize) -> bool {
        if self.deadline.get().is_none_or(|d| Instant::now() >= *d) {
            return false;
        }
        self.issued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |issued| {
                (issued + n <= self.max).then_some(issued + n)
            })
            .is_ok()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Login,
    Me,
    /// The index of a [`Route`].
    Query(usize),
}

struct Sample {
    op: Op,
    took: Duration,
    ok: bool,
}

async fn run(args: Args, report: &mut Report) -> Result<Outcome> {
    let temp = tempfile::tempdir().context("a temporary directory")?;
    let data_dir = temp.path().join("data");
    let services = server::open(&data_dir).await?;
    let admin = demo_tenant(&services, args.sync, report).await?;

    let served = server::serve(services.clone()).await?;
    let shared = Arc::new(Shared {
        base: served.base.clone(),
        addresses: Addresses::default(),
        budget: Budget {
            max: args.requests,
            issued: AtomicUsize::new(0),
            deadline: OnceLock::new(),
        },
        server_errors: AtomicUsize::new(0),
        rate_limited: AtomicUsize::new(0),
        problem_count: AtomicUsize::new(0),
        problems: Mutex::new(Vec::new()),
    });
    let base = shared.base.as_str();

    // The admin signs in once and invites everyone else (invites are not rate limited).
    let started = Instant::now();
    let admin_client = shared.fresh_client()?;
    let admin_token = server::sign_in(&admin_client, base, &admin.email, &admin.password).await?;
    let users: Vec<User> = (0..(2 * args.concurrency).max(2))
        .map(|i| User {
            email: format!("load-{i}@bench.tally.local"),
        })
        .collect();
    let probes: Vec<User> = (0..PROBES)
        .map(|i| User {
            email: format!("lockout-{i}@bench.tally.local"),
        })
        .collect();
    for user in users.iter().chain(&probes) {
        invite(&admin_client, base, &admin_token, &user.email).await?;
    }
    report.row(
        "Setup",
        "analysts invited and accepted over the API (load users + lockout probes)",
        format!(
            "{} + {} in {}",
            users.len(),
            probes.len(),
            duration(started.elapsed())
        ),
        None,
    );

    // Each query worker: its own address, its own session.
    let routes = query_routes();
    let mut query_sessions = Vec::with_capacity(args.concurrency);
    for w in 0..args.concurrency {
        let client = shared.fresh_client()?;
        let user = &users[w % users.len()];
        let token = server::sign_in(&client, base, &user.email, PASSWORD).await?;
        query_sessions.push((client, token));
    }
    let (client, token) = &query_sessions[0];
    warm_up(client, base, token, &routes).await?;

    if let Some(peak) = crate::report::peak_memory() {
        report.row(
            "Setup",
            "peak resident memory before the load",
            crate::report::mib(peak),
            None,
        );
    }

    // The load.
    let users: Arc<[User]> = users.into();
    let started = Instant::now();
    let seconds = Duration::from_secs(args.seconds as u64);
    shared
        .budget
        .deadline
        .set(started + seconds)
        .ok()
        .context("the load started twice")?;
    let mut workers = JoinSet::new();
    for w in 0..args.concurrency {
        workers.spawn(login_worker(shared.clone(), users.clone(), w));
    }
    for (w, (client, token)) in query_sessions.into_iter().enumerate() {
        workers.spawn(query_worker(
            shared.clone(),
            client,
            token,
            routes.clone(),
            w,
        ));
    }
    let (load_done, load_over) = tokio::sync::watch::channel(false);
    let probing = tokio::spawn(lockout_probes(
        shared.clone(),
        probes,
        started,
        seconds / PROBES as u32,
        load_over,
    ));
    let mut samples = Vec::new();
    while let Some(done) = workers.join_next().await {
        samples.extend(done.context("a load worker stopped")?);
    }
    let elapsed = started.elapsed();
    // Probes still waiting for their turn go now (the count may end the load early).
    let _ = load_done.send(true);
    let probed = probing.await.context("the lockout probes stopped")?;
    // Sign-ins of the setup: the admin's and one per query worker.
    let setup_sign_ins = 1 + args.concurrency;
    let logged = attempt_log(&admin_client, base, &admin_token).await;
    drop(served);

    let table = tabulate(&samples, &routes, elapsed);
    let mut checks = checks(&shared, &samples, &probed);
    checks.push(log_check(logged, &samples, &probed, setup_sign_ins));
    report.row(
        "Setup",
        "loopback source addresses used (auth requests per address, at most)",
        format!(
            "{} ({AUTH_PER_ADDRESS}; the limit is {AUTH_REQUESTS_PER_MINUTE} a minute)",
            count(shared.addresses.used())
        ),
        None,
    );
    let problems = std::mem::take(
        &mut *shared
            .problems
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    Ok(Outcome {
        table,
        checks,
        requests: samples.len(),
        elapsed,
        problems,
        problem_count: shared.problem_count.load(Ordering::Relaxed),
    })
}

/// The metric routes, over the demo dataset's months.
fn query_routes() -> Arc<[Route]> {
    let today = chrono::Utc::now().date_naive();
    let from = today
        .checked_sub_months(Months::new(DemoParams::default().months))
        .and_then(|d| d.with_day(1))
        .unwrap_or(today);
    [
        "/v1/metrics/summary".to_owned(),
        format!("/v1/metrics/mrr?from={from}&interval=month"),
        format!("/v1/metrics/mrr_movements?from={from}&interval=month"),
        "/v1/customers?sort=mrr".to_owned(),
    ]
    .into_iter()
    .map(|path| Route {
        label: format!("GET {path}"),
        path,
    })
    .collect()
}

/// One untimed round of the routes: the first read loads the snapshot, and each must
/// answer 200 before any load starts (e.g. not 409 `no_data_yet`).
async fn warm_up(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    routes: &[Route],
) -> Result<()> {
    for route in routes {
        let response = client
            .get(format!("{base}{}", route.path))
            .bearer_auth(token)
            .send()
            .await
            .with_context(|| format!("warm-up {}", route.label))?;
        let status = response.status();
        if status != StatusCode::OK {
            let body = response.bytes().await.unwrap_or_default();
            bail!("warm-up {}: {status}: {}", route.label, snippet(&body));
        }
    }
    Ok(())
}

/// The demo tenant, made as `serve --demo` makes it (sign-up, the demo connector, a
/// sync, which stores every record and publishes the snapshot) or, without `sync`, the
/// same generated dataset published straight to a snapshot, as the default mode does:
/// the same figures for the queries at a fraction of the setup.
async fn demo_tenant(services: &Services, sync: bool, report: &mut Report) -> Result<Admin> {
    let started = Instant::now();
    let defaults = DemoParams::default();
    let described = format!(
        "seed {}, {} customers, {} months",
        DEMO_SEED,
        count(defaults.customers),
        defaults.months
    );
    if sync {
        let demo = tally::local::bootstrap_demo(services)
            .await
            .context("creating the demo tenant (demo connector, sync, snapshot)")?;
        let password = demo
            .password
            .context("the demo tenant existed before the run")?;
        report.row(
            "Setup",
            &format!("demo tenant as `serve --demo` ({described}): sign-up, sync, snapshot"),
            format!(
                "{} records in {}",
                count(demo.records as usize),
                duration(started.elapsed())
            ),
            None,
        );
        return Ok(Admin {
            email: demo.email,
            password: password.expose_secret().to_owned(),
        });
    }
    let admin = Admin {
        email: "admin@bench.tally.local".to_owned(),
        password: PASSWORD.to_owned(),
    };
    let (tenant, _) = services
        .identity
        .signup(SignupRequest {
            company: "Demo GmbH".into(),
            email: admin.email.clone(),
            password: SecretString::from(admin.password.clone()),
            ip: IpAddr::from(Ipv4Addr::LOCALHOST),
        })
        .await
        .context("signing up the demo tenant")?;
    services
        .identity
        .mark_email_verified(&tenant)
        .await
        .context("marking the demo tenant's address proven")?;
    // The demo connector's dataset: its seed and size, ending at today's midnight.
    let end = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp());
    let dataset = generate(DemoParams {
        seed: DEMO_SEED,
        end,
        ..defaults
    });
    server::publish_dataset_snapshot(services, &tenant, dataset.for_integration(INTEGRATION))
        .await
        .context("publishing the demo snapshot")?;
    report.row(
        "Setup",
        &format!("demo tenant ({described}): sign-up, dataset published as a snapshot (no sync)"),
        format!(
            "{} customers, {} subscriptions in {}",
            count(dataset.customers.len()),
            count(dataset.subscriptions.len()),
            duration(started.elapsed())
        ),
        None,
    );
    Ok(admin)
}

/// The admin invites `email` as an analyst; the invitee sets [`PASSWORD`].
async fn invite(client: &reqwest::Client, base: &str, admin: &str, email: &str) -> Result<()> {
    let response = client
        .post(format!("{base}/v1/users"))
        .bearer_auth(admin)
        .json(&json!({ "email": email, "role": "analyst" }))
        .send()
        .await
        .with_context(|| format!("inviting {email}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("the reply to inviting {email}"))?;
    let Some(token) = body["invite_token"]
        .as_str()
        .filter(|_| status.as_u16() == 201)
    else {
        bail!("inviting {email}: {status}: {body}");
    };
    let response = client
        .post(format!("{base}/v1/invites/accept"))
        .json(&json!({ "token": token, "password": PASSWORD }))
        .send()
        .await
        .with_context(|| format!("accepting the invite of {email}"))?;
    let status = response.status();
    if status.as_u16() != 201 {
        let body = response.bytes().await.unwrap_or_default();
        bail!(
            "accepting the invite of {email}: {status}: {}",
            snippet(&body)
        );
    }
    Ok(())
}

/// Signs in as the users in turn, checking each token on `GET /v1/me`. Moves to a new
/// source address after [`AUTH_PER_ADDRESS`] sign-ins.
async fn login_worker(shared: Arc<Shared>, users: Arc<[User]>, first: usize) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut lease: Option<(reqwest::Client, usize)> = None;
    let mut next = first;
    while shared.budget.take(2) {
        if lease.as_ref().is_none_or(|(_, left)| *left == 0) {
            match shared.fresh_client() {
                Ok(client) => lease = Some((client, AUTH_PER_ADDRESS)),
                Err(err) => {
                    shared.problem(format!("a login worker stopped: {err:#}"));
                    samples.push(Sample {
                        op: Op::Login,
                        took: Duration::ZERO,
                        ok: false,
                    });
                    break;
                }
            }
        }
        let Some((client, left)) = lease.as_mut() else {
            break;
        };
        *left -= 1;
        let user = &users[next % users.len()];
        next += 1;
        let signing_in = client
            .post(format!("{}/v1/sessions", shared.base))
            .json(&json!({ "email": user.email, "password": PASSWORD }));
        let what = format!("sign-in as {}", user.email);
        let token = timed(
            &shared,
            &mut samples,
            Op::Login,
            &what,
            signing_in,
            |s, b| check_sign_in(s, b, &user.email),
        )
        .await;
        let Some(token) = token else { continue };
        let me = client
            .get(format!("{}/v1/me", shared.base))
            .bearer_auth(&token);
        let what = format!("GET /v1/me with the new token of {}", user.email);
        timed(&shared, &mut samples, Op::Me, &what, me, |s, b| {
            check_me(s, b, &user.email)
        })
        .await;
    }
    samples
}

/// Sends the routes in turn with one session.
async fn query_worker(
    shared: Arc<Shared>,
    client: reqwest::Client,
    token: String,
    routes: Arc<[Route]>,
    first: usize,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut next = first;
    while shared.budget.take(1) {
        let index = next % routes.len();
        next += 1;
        let route = &routes[index];
        let request = client
            .get(format!("{}{}", shared.base, route.path))
            .bearer_auth(&token);
        timed(
            &shared,
            &mut samples,
            Op::Query(index),
            &route.label,
            request,
            |status, body| {
                if status != StatusCode::OK {
                    bail!("{status}: {}", snippet(body));
                }
                Ok(())
            },
        )
        .await;
    }
    samples
}

/// Sends `request`, times it until the whole reply has arrived, records the sample and
/// what `check` makes of the reply; `None` (and a recorded problem) when it failed.
async fn timed<T>(
    shared: &Shared,
    samples: &mut Vec<Sample>,
    op: Op,
    what: &str,
    request: reqwest::RequestBuilder,
    check: impl FnOnce(StatusCode, &[u8]) -> Result<T>,
) -> Option<T> {
    let started = Instant::now();
    let reply = async {
        let response = request.send().await.context("sending")?;
        let status = response.status();
        shared.saw(status);
        let body = response.bytes().await.context("reading the reply")?;
        anyhow::Ok((status, body))
    }
    .await;
    let took = started.elapsed();
    let checked = reply.and_then(|(status, body)| check(status, &body));
    samples.push(Sample {
        op,
        took,
        ok: checked.is_ok(),
    });
    match checked {
        Ok(value) => Some(value),
        Err(err) => {
            shared.problem(format!("{what}: {err:#}"));
            None
        }
    }
}

/// A sign-in reply: 201 (or 200) with a token, for the user asked for.
fn check_sign_in(status: StatusCode, body: &[u8], email: &str) -> Result<String> {
    if status != StatusCode::CREATED && status != StatusCode::OK {
        bail!("{status}: {}", snippet(body));
    }
    let reply: Value = serde_json::from_slice(body).context("the reply is not JSON")?;
    let token = reply["token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .with_context(|| format!("{status} without a token: {}", snippet(body)))?;
    if reply["user"]["email"].as_str() != Some(email) {
        bail!("{status} for another user: {}", reply["user"]);
    }
    Ok(token.to_owned())
}

/// `GET /v1/me` with a fresh token: 200, the same user.
fn check_me(status: StatusCode, body: &[u8], email: &str) -> Result<()> {
    if status != StatusCode::OK {
        bail!("{status}: {}", snippet(body));
    }
    let reply: Value = serde_json::from_slice(body).context("the reply is not JSON")?;
    if reply["user"]["email"].as_str() != Some(email) {
        bail!("the token is another user's: {}", reply["user"]);
    }
    Ok(())
}

/// What one lockout probe saw: the parallel wrong-password replies, then the right
/// password's.
struct Probe {
    wrong: Vec<(StatusCode, String)>,
    /// From releasing the wrong attempts to the last reply.
    together: Duration,
    right: (StatusCode, String),
}

impl Probe {
    fn locked(&self) -> bool {
        self.wrong
            .iter()
            .all(|(s, code)| *s == StatusCode::UNAUTHORIZED && code == "invalid_credentials")
            && self.right.0 == StatusCode::LOCKED
            && self.right.1 == "password_reset_required"
    }

    /// `5 × 401 invalid_credentials in 184 ms → 423 password_reset_required`.
    fn describe(&self) -> String {
        let mut answers: Vec<(usize, String)> = Vec::new();
        for (status, code) in &self.wrong {
            let answer = answer(*status, code);
            match answers.last_mut() {
                Some((n, last)) if *last == answer => *n += 1,
                _ => answers.push((1, answer)),
            }
        }
        let answers: Vec<String> = answers
            .iter()
            .map(|(n, answer)| format!("{n} × {answer}"))
            .collect();
        format!(
            "{} in {} → {}",
            answers.join(" + "),
            duration(self.together),
            answer(self.right.0, &self.right.1)
        )
    }
}

/// `401 invalid_credentials`, or `201` alone.
fn answer(status: StatusCode, code: &str) -> String {
    format!("{} {code}", status.as_u16()).trim_end().to_owned()
}

/// Puts each account through a probe, the first at once and the others spread over
/// the time bound — or at once, one after another, when the load is over earlier.
async fn lockout_probes(
    shared: Arc<Shared>,
    accounts: Vec<User>,
    started: Instant,
    spacing: Duration,
    mut load_over: tokio::sync::watch::Receiver<bool>,
) -> Vec<Result<Probe>> {
    let mut probes = Vec::with_capacity(accounts.len());
    for (i, account) in accounts.iter().enumerate() {
        let turn = tokio::time::sleep_until((started + spacing * i as u32).into());
        tokio::select! {
            () = turn => {}
            _ = load_over.wait_for(|over| *over) => {}
        }
        let probe = lockout_probe(&shared, &account.email)
            .await
            .with_context(|| format!("the lockout probe of {}", account.email));
        probes.push(probe);
    }
    probes
}

/// [`MAX_FAILED_LOGINS`] wrong passwords released together, each from its own address,
/// then the right password from yet another.
async fn lockout_probe(shared: &Arc<Shared>, email: &str) -> Result<Probe> {
    let parallel = MAX_FAILED_LOGINS as usize;
    let barrier = Arc::new(Barrier::new(parallel));
    let mut attempts = JoinSet::new();
    for _ in 0..parallel {
        let client = shared.fresh_client()?;
        let (shared, barrier, email) = (shared.clone(), barrier.clone(), email.to_owned());
        attempts.spawn(async move {
            barrier.wait().await;
            let released = Instant::now();
            let reply = attempt(&shared, &client, &email, WRONG_PASSWORD).await?;
            anyhow::Ok((released, reply))
        });
    }
    let mut wrong = Vec::with_capacity(parallel);
    let mut released = None;
    while let Some(done) = attempts.join_next().await {
        let (at, reply) = done.context("a sign-in attempt stopped")??;
        released = Some(released.map_or(at, |first: Instant| first.min(at)));
        wrong.push(reply);
    }
    let together = released.map_or(Duration::ZERO, |at| at.elapsed());
    wrong.sort();
    let right = attempt(shared, &shared.fresh_client()?, email, PASSWORD).await?;
    Ok(Probe {
        wrong,
        together,
        right,
    })
}

/// One sign-in: its status and error code (empty on success).
async fn attempt(
    shared: &Shared,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> Result<(StatusCode, String)> {
    let response = client
        .post(format!("{}/v1/sessions", shared.base))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .with_context(|| format!("signing in as {email}"))?;
    let status = response.status();
    shared.saw(status);
    let body = response
        .bytes()
        .await
        .with_context(|| format!("the sign-in reply for {email}"))?;
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((status, code))
}

/// One row per operation, then the total.
fn tabulate(samples: &[Sample], routes: &[Route], elapsed: Duration) -> Table {
    let mut table = Table::new(&[
        "operation",
        "requests",
        "errors",
        "req/s",
        "p50",
        "p99",
        "max",
    ]);
    let mut by_op: BTreeMap<Op, Vec<&Sample>> = BTreeMap::new();
    for sample in samples {
        by_op.entry(sample.op).or_default().push(sample);
    }
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    let mut row = |label: String, group: &[&Sample]| {
        let mut times: Vec<Duration> = group.iter().map(|s| s.took).collect();
        times.sort();
        let errors = group.iter().filter(|s| !s.ok).count();
        table.row(vec![
            label,
            count(group.len()),
            count(errors),
            format!("{:.1}", group.len() as f64 / seconds),
            duration(percentile(&times, 50)),
            duration(percentile(&times, 99)),
            duration(times.last().copied().unwrap_or_default()),
        ]);
    };
    for (op, group) in &by_op {
        let label = match op {
            Op::Login => "POST /v1/sessions (right password)".to_owned(),
            Op::Me => "GET /v1/me (with the new token)".to_owned(),
            Op::Query(i) => routes[*i].label.clone(),
        };
        row(label, group);
    }
    let all: Vec<&Sample> = samples.iter().collect();
    row("all".to_owned(), &all);
    table
}

fn checks(shared: &Shared, samples: &[Sample], probes: &[Result<Probe>]) -> Vec<Check> {
    let tally = |wanted: fn(Op) -> bool| {
        let group = samples.iter().filter(|s| wanted(s.op));
        let (mut n, mut errors) = (0, 0);
        for sample in group {
            n += 1;
            errors += usize::from(!sample.ok);
        }
        (n, errors)
    };
    let (logins, login_errors) = tally(|op| op == Op::Login);
    let (_, me_errors) = tally(|op| op == Op::Me);
    let (queries, query_errors) = tally(|op| matches!(op, Op::Query(_)));

    let locked = probes
        .iter()
        .filter(|p| p.as_ref().is_ok_and(Probe::locked))
        .count();
    let details: Vec<String> = probes
        .iter()
        .map(|p| match p {
            Ok(probe) => probe.describe(),
            Err(err) => format!("{err:#}"),
        })
        .collect();
    let server_errors = shared.server_errors.load(Ordering::Relaxed);
    let rate_limited = shared.rate_limited.load(Ordering::Relaxed);
    vec![
        Check {
            name: "(a) lockout: 5 parallel wrong passwords, then the right one → 423 password_reset_required",
            passed: !probes.is_empty() && locked == probes.len(),
            detail: format!(
                "{locked} of {} fresh accounts locked ({})",
                probes.len(),
                details.join("; ")
            ),
        },
        Check {
            name: "(b) every sign-in under load answered 201 with a token that works on GET /v1/me",
            passed: logins > 0 && login_errors == 0 && me_errors == 0,
            detail: format!(
                "{} sign-ins, {} failed, {} tokens refused",
                count(logins),
                count(login_errors),
                count(me_errors)
            ),
        },
        Check {
            name: "(c) no 5xx anywhere (load and probes)",
            passed: server_errors == 0,
            detail: format!("{} replies 5xx", count(server_errors)),
        },
        Check {
            name: "(d) every metric query answered 200",
            passed: queries > 0 && query_errors == 0,
            detail: format!(
                "{} queries, {} not 200",
                count(queries),
                count(query_errors)
            ),
        },
        Check {
            name: "(e) no 429: each address stayed under the sign-in rate limit",
            passed: rate_limited == 0,
            detail: format!(
                "{} replies 429 (≤ {AUTH_PER_ADDRESS} auth requests per address, limit {AUTH_REQUESTS_PER_MINUTE} a minute)",
                count(rate_limited)
            ),
        },
    ]
}

/// The tenant's sign-in log as the admin sees it: total, succeeded, failed, locked out.
async fn attempt_log(client: &reqwest::Client, base: &str, admin: &str) -> Result<[u64; 4]> {
    let response = client
        .get(format!("{base}/v1/security/login-attempts?limit=1"))
        .bearer_auth(admin)
        .send()
        .await
        .context("GET /v1/security/login-attempts")?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .context("the reply of GET /v1/security/login-attempts")?;
    if status != StatusCode::OK {
        bail!(
            "GET /v1/security/login-attempts: {status}: {}",
            snippet(&body)
        );
    }
    let reply: Value = serde_json::from_slice(&body).context("the sign-in log is not JSON")?;
    let summary = &reply["summary"];
    let field = |name: &str| {
        summary[name]
            .as_u64()
            .with_context(|| format!("the sign-in log's summary has no `{name}`: {summary}"))
    };
    Ok([
        field("total")?,
        field("succeeded")?,
        field("failed")?,
        field("locked_out")?,
    ])
}

/// (f): the log holds every attempt the run made (each is written under its own key,
/// concurrently with the others). Expected: the setup's and the load's successful
/// sign-ins, and each probe's failures; a lockout probe's last attempt is `locked`.
fn log_check(
    logged: Result<[u64; 4]>,
    samples: &[Sample],
    probes: &[Result<Probe>],
    setup_sign_ins: usize,
) -> Check {
    let mut succeeded =
        setup_sign_ins + samples.iter().filter(|s| s.op == Op::Login && s.ok).count();
    let (mut failed, mut locked) = (0, 0);
    // A probe's answers as they came: a lost failure lets its last sign-in through,
    // which is (a)'s to report, and which the log should hold as a success.
    for probe in probes.iter().flatten() {
        let answers = probe.wrong.iter().chain(std::iter::once(&probe.right));
        for (status, code) in answers {
            if status.is_success() {
                succeeded += 1;
            } else if status.is_client_error() {
                failed += 1;
            }
            locked += usize::from(code == "password_reset_required");
        }
    }
    let expected = [succeeded + failed, succeeded, failed, locked].map(|n| n as u64);
    let name = "(f) the sign-in log (GET /v1/security/login-attempts) holds every attempt";
    match logged {
        Ok(logged) => Check {
            name,
            passed: logged == expected,
            detail: format!(
                "total / succeeded / failed / locked out: {} (expected {})",
                slash(&logged),
                slash(&expected)
            ),
        },
        Err(err) => Check {
            name,
            passed: false,
            detail: format!("{err:#}"),
        },
    }
}

fn slash(numbers: &[u64]) -> String {
    let numbers: Vec<String> = numbers.iter().map(|n| count(*n as usize)).collect();
    numbers.join(" / ")
}

/// The start of a reply body, for an error message.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    text.replace('\n', " ")
}
