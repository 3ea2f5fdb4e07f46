//! Every metric Tally emits, by name, with its unit and dimensions: the contract the
//! template's alarms and dashboard are built on (infra/template.yaml; docs/deploy.md
//! "Operating" says what each alarm means). Every metric also carries `Function`, the
//! function's short name (auth, admin, oauth, query, account, ingest, sweep, web; `local`
//! for the local server). A metric is found in CloudWatch by its whole set of
//! dimensions, so the rollups the alarms read ([`API_REQUESTS`], [`API_5XX`],
//! [`API_LATENCY`]) are emitted beside the per-route ones rather than derived.
//!
//! Dimensions hold ids and names only: routes as templates (`/v1/customers/{id}`), never
//! a path with its ids, a query string or anything personal.

use std::time::Duration;

use metrics::Unit;

/// The dimension every metric carries (set once by [`super::init`]).
pub const FUNCTION: &str = "Function";

/// Every HTTP response of the function (its route group). [Function]
pub const API_REQUESTS: &str = "ApiRequests";
/// Responses with a status of 500 or more. [Function]
pub const API_5XX: &str = "Api5xx";
/// One value per request, in milliseconds. [Function]
pub const API_LATENCY: &str = "ApiLatency";
/// Responses per route and status class (`2xx` … `5xx`). [Function, Route, StatusClass]
pub const REQUESTS: &str = "Requests";
/// Latency per route, in milliseconds. [Function, Route]
pub const REQUEST_LATENCY: &str = "RequestLatency";
/// Sign-in attempts by outcome. [Function, Outcome]
pub const SIGN_INS: &str = "SignIns";
/// A sync's duration, in milliseconds. [Function, Provider, Integration]
pub const SYNC_DURATION: &str = "SyncDuration";
/// Records a sync wrote (created or changed). [Function, Provider, Integration]
pub const SYNC_RECORDS_WRITTEN: &str = "SyncRecordsWritten";
/// Syncs by outcome (`ok`, `failed`). [Function, Provider, Outcome]
pub const SYNCS: &str = "Syncs";
/// Seconds since an active integration's last successful sync (or its connection, if
/// it never synced), read by the sync planner. [Function, Integration]
pub const SYNC_AGE: &str = "SyncAge";
/// The largest [`SYNC_AGE`] of the planner's run; 0 when no integration is active.
/// [Function]
pub const MAX_SYNC_AGE: &str = "MaxSyncAge";
/// A snapshot build's duration (full or incremental), in milliseconds. [Function]
pub const SNAPSHOT_REBUILD_TIME: &str = "SnapshotRebuildTime";
/// A published snapshot's encoded size, in bytes. [Function]
pub const SNAPSHOT_SIZE: &str = "SnapshotSize";
/// Items a deletion job removed, by what it deleted (`integration`, `tenant`,
/// `expired`). [Function, Kind]
pub const SWEEP_DELETED_ITEMS: &str = "SweepDeletedItems";
/// Seconds since the oldest disconnected integration still not swept was disconnected
/// (0 when none), read by the sweep's planner. The promise is 24 hours. [Function]
pub const OLDEST_PENDING_DELETION_AGE: &str = "OldestPendingDeletionAge";
/// Seconds since the oldest closed tenant still not erased was closed (0 when none).
/// The promise is 30 days. [Function]
pub const OLDEST_CLOSURE_AGE: &str = "OldestClosureAge";
/// A background job's duration, in milliseconds. [Function, Job]
pub const JOB_DURATION: &str = "JobDuration";
/// Background jobs that failed. [Function, Job]
pub const JOB_FAILURES: &str = "JobFailures";

/// Gives every metric its unit (EMF carries it with each document).
pub(super) fn describe() {
    for name in [
        API_REQUESTS,
        API_5XX,
        REQUESTS,
        SIGN_INS,
        SYNCS,
        JOB_FAILURES,
    ] {
        metrics::describe_counter!(name, Unit::Count, "");
    }
    for name in [SYNC_RECORDS_WRITTEN, SWEEP_DELETED_ITEMS] {
        metrics::describe_histogram!(name, Unit::Count, "");
    }
    for name in [
        API_LATENCY,
        REQUEST_LATENCY,
        SYNC_DURATION,
        SNAPSHOT_REBUILD_TIME,
        JOB_DURATION,
    ] {
        metrics::describe_histogram!(name, Unit::Milliseconds, "");
    }
    metrics::describe_histogram!(SNAPSHOT_SIZE, Unit::Bytes, "");
    for name in [
        SYNC_AGE,
        MAX_SYNC_AGE,
        OLDEST_PENDING_DELETION_AGE,
        OLDEST_CLOSURE_AGE,
    ] {
        metrics::describe_gauge!(name, Unit::Seconds, "");
    }
}

fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

/// One HTTP response: `route` is the matched route's template with its method
/// (`GET /v1/metrics/{name}`), or `unmatched`.
pub fn http_request(route: &str, status: u16, elapsed: Duration) {
    let class = match status {
        500.. => "5xx",
        400..=499 => "4xx",
        300..=399 => "3xx",
        _ => "2xx",
    };
    let ms = millis(elapsed);
    metrics::counter!(API_REQUESTS).increment(1);
    if status >= 500 {
        metrics::counter!(API_5XX).increment(1);
    }
    metrics::histogram!(API_LATENCY).record(ms);
    metrics::counter!(REQUESTS, "Route" => route.to_owned(), "StatusClass" => class).increment(1);
    metrics::histogram!(REQUEST_LATENCY, "Route" => route.to_owned()).record(ms);
}

/// One sign-in attempt's outcome (`success`, `mfa_required`, `rejected`, `throttled`,
/// `password_expired`, `error`).
pub fn sign_in(outcome: &'static str) {
    metrics::counter!(SIGN_INS, "Outcome" => outcome).increment(1);
}

/// One sync that ran (not one that found its integration leased or disconnected).
pub fn sync(provider: &'static str, integration: &str, elapsed: Duration, written: Option<u64>) {
    let outcome = if written.is_some() { "ok" } else { "failed" };
    metrics::counter!(SYNCS, "Provider" => provider, "Outcome" => outcome).increment(1);
    let labels = [
        ("Provider", provider.to_owned()),
        ("Integration", integration.to_owned()),
    ];
    metrics::histogram!(SYNC_DURATION, &labels).record(millis(elapsed));
    if let Some(written) = written {
        metrics::histogram!(SYNC_RECORDS_WRITTEN, &labels).record(written as f64);
    }
}

/// The sync planner's view: each active integration's seconds since its last
/// successful sync.
pub fn sync_ages(ages: &[(String, i64)]) {
    let mut max = 0;
    for (integration, age) in ages {
        let age = (*age).max(0);
        max = max.max(age);
        metrics::gauge!(SYNC_AGE, "Integration" => integration.clone()).set(age as f64);
    }
    metrics::gauge!(MAX_SYNC_AGE).set(max as f64);
}

/// A snapshot built, fully or incrementally, in `elapsed`.
pub fn snapshot_rebuilt(elapsed: Duration) {
    metrics::histogram!(SNAPSHOT_REBUILD_TIME).record(millis(elapsed));
}

/// A snapshot published, `bytes` encoded.
pub fn snapshot_published(bytes: u64) {
    metrics::histogram!(SNAPSHOT_SIZE).record(bytes as f64);
}

/// Items a deletion job removed (`kind`: `integration`, `tenant`, `expired`); nothing
/// for zero.
pub fn sweep_deleted(kind: &'static str, items: u64) {
    if items > 0 {
        metrics::histogram!(SWEEP_DELETED_ITEMS, "Kind" => kind).record(items as f64);
    }
}

/// The sweep planner's view of the deletion promises: seconds since the oldest pending
/// integration deletion's disconnect and since the oldest pending erasure's closure
/// (0 for none).
pub fn pending_deletions(oldest_disconnect: i64, oldest_closure: i64) {
    metrics::gauge!(OLDEST_PENDING_DELETION_AGE).set(oldest_disconnect.max(0) as f64);
    metrics::gauge!(OLDEST_CLOSURE_AGE).set(oldest_closure.max(0) as f64);
}

/// One background job run, `failed` or not.
pub fn job(name: &'static str, elapsed: Duration, failed: bool) {
    metrics::histogram!(JOB_DURATION, "Job" => name).record(millis(elapsed));
    if failed {
        metrics::counter!(JOB_FAILURES, "Job" => name).increment(1);
    }
}
