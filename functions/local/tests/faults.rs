//! Faults: the local server is killed with SIGKILL during an ingest and during a sweep,
//! restarted, and the data is shown complete and not duplicated.
//!
//! One test in phases, so that the suite pays for two full demo syncs only (30,000-odd
//! sealed records each, some 15 s in a debug build):
//!
//! 1. **Reference.** `serve --demo` in directory A, to completion.
//! 2. **Ingest killed.** `serve --demo` in B, SIGKILLed while its sync state says a
//!    full listing is in progress among the invoices. A plain `ingest` then skips the
//!    integration (the dead process's lease holds for 15 minutes); `ingest --at
//!    <now + 16 min>` takes the lease over and resumes from the saved position. B must
//!    then hold exactly A's records (the same processor ids, kind by kind, under one
//!    integration) and the API must answer with A's figures.
//! 3. **Rebuild killed.** `ingest --at <weeks later>` in B rebuilds the snapshot (the
//!    first pass of a new day) and is SIGKILLed while it holds the lease. The next pass
//!    must leave exactly the parts its manifest names, one profile per customer, and
//!    the API must still answer with A's figures.
//! 4. **Sweep killed.** A's integration is disconnected over HTTP, the server
//!    stopped, and `sweep --at <now + 25 h>` SIGKILLed once a third of the
//!    integration's items are gone. The integration must still be listed
//!    (disconnected), so the next sweep finds it; a second sweep deletes exactly the
//!    rest, and the tenant and its user stay.
//!
//! The store is read directly, read-only: its keys are plain (`pk`, `sk`), its values
//! sealed, so items can be counted and processor ids compared without any key. Child
//! processes are killed when their guard drops, so a failing assertion leaves none
//! behind; every wait has a deadline, and no sleep stands in for a condition.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Months, NaiveDate, Utc};
use reqwest::Method;
use rusqlite::{Connection, OpenFlags, params};
use serde_json::{Value, json};
use tally::domain::billing::ObjectKind;
use tally::repos::billing::record_prefix;

mod support;
use support::*;

/// The embedded store's file in a data directory.
const DATABASE_FILE: &str = "tally.db";
/// The raw key layout (`tally::repos`) this test reads the embedded file by.
const PROFILE_PREFIX: &str = "PROFILE#";
/// The analytics snapshot's parts, and its manifest chunks `ANALYTICS#<version>#<n>`.
const PART_PREFIX: &str = "ANALYTICS#PART#";
const MANIFEST_PREFIX: &str = "ANALYTICS#";
const INTEG_PREFIX: &str = "INTEG#";
const INTEGRATIONS_PK: &str = "INTEGRATIONS";
/// A full listing's position on invoices (`full_kind` counts `ObjectKind::ALL`); half
/// the demo's records are stored while it lists them.
const INVOICES: i64 = 3;
/// Records per page of the demo connector: a resumed listing re-writes at most the one
/// page whose records were stored when its position was not yet.
const PAGE: u64 = 100;
/// Attempts at killing `serve --demo` mid-sync before giving up.
const KILL_ATTEMPTS: u32 = 3;
/// The sort-key kinds that must be equal between the reference and the resumed
/// directory: the records, the customer profiles, the sync state and the integration.
const COMPARED_KINDS: [&str; 9] = [
    "CUST", "PM", "SUB", "INV", "CHG", "REF", "PROFILE", "SYNC", "INTEG",
];

#[test]
fn sigkill_during_ingest_and_during_sweep_loses_and_duplicates_nothing() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let http = Http::new();
    let mut report = Vec::new();

    // 1. The reference: an uninterrupted demo sync.
    let dir_a = root.path().join("a");
    let started = Instant::now();
    let (server_a, password_a, written_a) = Server::demo(&dir_a);
    report.push(format!(
        "reference sync (A): {written_a} records written, listening after {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let reference = {
        let db = Db::open(&dir_a).expect("A's store");
        Snapshot::read(&db)
    };
    let total = reference.records();
    assert_eq!(
        reference.integrations.len(),
        1,
        "A's records belong to one integration"
    );
    assert_eq!(
        written_a, total,
        "an uninterrupted sync writes each record once"
    );
    assert_eq!(
        reference.sync_state,
        json!({ "cursor": { "S": "demo:0" } }),
        "A's sync completed: current cursor, no listing in progress"
    );

    // 2. The ingest killed: SIGKILL mid-listing, then resume.
    let killed = kill_demo_sync_midway(root.path(), total);
    let dir_b = killed.dir.clone();
    report.push(format!(
        "serve --demo (B) killed after {:.1} s (attempt {}): {} of {total} records stored, \
         listing at kind {} after {}",
        killed.after.as_secs_f64(),
        killed.attempt,
        killed.records,
        killed.state["full_kind"]["N"],
        killed.state["full_after"]["S"],
    ));

    // A restart inside the lease leaves the integration alone: the dead process holds
    // it for 15 minutes.
    let skipped = run_to_end(
        "ingest (B, inside the lease)",
        &["ingest", "--data-dir", path(&dir_b)],
    );
    assert!(
        skipped.contains("0 integrations synced, 0 failed, 1 skipped"),
        "a pass inside the dead sync's lease skips it:\n{skipped}"
    );
    {
        let db = Db::open(&dir_b).expect("B's store");
        assert_eq!(db.record_count().expect("count"), killed.records);
        assert_eq!(
            db.listing_status().expect("listing"),
            vec!["syncing".to_owned()]
        );
    }

    // As if 16 minutes later: the lease has expired and the sync resumes. The demo
    // dataset does not move with the clock: its seed and end (the day it was
    // connected) are stored with the integration, so only "as of now" figures of the
    // analytics snapshot (per-customer MRR, risk, loyalty) depend on the shifted time.
    let resume_at = Utc::now() + chrono::Duration::minutes(16);
    let started = Instant::now();
    let resumed = run_to_end(
        "ingest (B, lease expired)",
        &[
            "ingest",
            "--data-dir",
            path(&dir_b),
            "--at",
            &resume_at.to_rfc3339(),
        ],
    );
    let resume_time = started.elapsed();
    assert!(
        resumed.contains("1 integrations synced, 0 failed, 0 skipped"),
        "the resumed pass syncs the integration:\n{resumed}"
    );
    let rewritten = records_written(&resumed);
    let missing = total - killed.records;
    assert!(
        (missing..=missing + PAGE).contains(&rewritten),
        "the sync resumed where it stood, not from the start: {rewritten} records written, \
         {missing} were missing"
    );
    report.push(format!(
        "ingest --at now+16min (B): {rewritten} records written ({missing} were missing) in {:.1} s",
        resume_time.as_secs_f64()
    ));

    let resumed_store = {
        let db = Db::open(&dir_b).expect("B's store");
        assert_eq!(
            db.listing_status().expect("listing"),
            vec!["connected".to_owned()]
        );
        Snapshot::read(&db)
    };
    assert_eq!(
        resumed_store.integrations.len(),
        1,
        "B's records belong to one integration"
    );
    for kind in COMPARED_KINDS {
        assert_eq!(
            resumed_store.counts.get(kind),
            reference.counts.get(kind),
            "items of kind {kind}: resumed (B) against uninterrupted (A)"
        );
    }
    for (prefix, ids) in &reference.ids {
        let resumed_ids = &resumed_store.ids[prefix];
        assert_eq!(
            resumed_ids.len() as u64,
            resumed_store.counts[prefix.trim_end_matches('#')],
            "{prefix} rows against distinct processor ids in B"
        );
        assert!(
            resumed_ids == ids,
            "B holds other {prefix} processor ids than A: {} missing, {} extra",
            ids.difference(resumed_ids).count(),
            resumed_ids.difference(ids).count()
        );
    }
    assert_eq!(
        resumed_store.sync_state, reference.sync_state,
        "B's sync completed: current cursor, no listing in progress"
    );
    report.push(format!(
        "store after resume: {}",
        COMPARED_KINDS
            .iter()
            .map(|k| format!("{k} {}", resumed_store.counts.get(*k).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // The API agrees, signed in with the password the killed process printed.
    let server_b = Server::start(&dir_b, "serve (B)");
    let password_b = killed.password.clone();
    let session_a = http.sign_in(&server_a, &password_a);
    let session_b = http.sign_in(&server_b, &password_b);
    let integration_a = only_integration(&http, &session_a, "connected");
    let integration_b = only_integration(&http, &session_b, "connected");
    for integration in [&integration_a, &integration_b] {
        assert!(
            integration["last_sync_at"].is_string() && integration.get("last_error").is_none(),
            "a completed sync: {integration}"
        );
    }
    let b_synced_at = timestamp(&integration_b["last_sync_at"]);
    assert!(b_synced_at >= resume_at, "B's last sync is the resumed one");
    let day = timestamp(&integration_a["connected_at"]).date_naive();
    assert_eq!(
        timestamp(&integration_b["connected_at"]).date_naive(),
        day,
        "A and B were connected on different days (the run crossed midnight UTC), so \
         their demo datasets differ: run the test again"
    );
    compare_api(&http, &session_a, &session_b, day, reference.counts["CUST"]);
    report.push("API: integrations, metrics summary, MRR movements and customers agree".into());
    drop(server_b);

    // 3. An incremental pass killed while it rebuilds. As if weeks later, the first pass
    // of that day rebuilds the snapshot (RFM recency, risks and "as of today" figures
    // move with the date); it is SIGKILLed while it holds the lease. The next pass
    // (after the dead one's lease) publishes a whole snapshot and leaves no part its
    // manifest does not name. (`tests/api/incremental.rs` stops a publish at every
    // write, deterministically.)
    let publish = kill_publish_midway(&dir_b);
    report.push(format!(
        "ingest --at now+{}d (B) killed while rebuilding: {} new parts stored, pointer {}",
        publish.days,
        publish.new_parts,
        if publish.published {
            "already moved"
        } else {
            "not yet moved"
        }
    ));
    let resume_at = publish.at + chrono::Duration::minutes(16);
    let resumed = run_to_end(
        "ingest (B, after the killed publish)",
        &[
            "ingest",
            "--data-dir",
            path(&dir_b),
            "--at",
            &resume_at.to_rfc3339(),
        ],
    );
    assert!(
        resumed.contains("1 integrations synced, 0 failed, 0 skipped"),
        "the pass after the killed one syncs:\n{resumed}"
    );
    let parts = published_parts(&resumed);
    {
        let db = Db::open(&dir_b).expect("B's store");
        assert_eq!(
            db.count_prefix(PART_PREFIX).expect("count"),
            parts,
            "the stored parts are exactly the published manifest's: none missing, none left \
             over by the killed pass"
        );
        let versions: BTreeSet<String> = db
            .sort_keys(MANIFEST_PREFIX)
            .expect("keys")
            .into_iter()
            .filter(|sk| !sk.starts_with(PART_PREFIX))
            .filter_map(|sk| sk.split('#').nth(1).map(str::to_owned))
            .collect();
        assert_eq!(
            versions.len(),
            1,
            "one manifest version is stored: {versions:?}"
        );
        assert_eq!(
            db.count_prefix(PROFILE_PREFIX).expect("count"),
            reference.counts["PROFILE"],
            "one profile per customer"
        );
    }
    let server_b = Server::start(&dir_b, "serve (B, after the killed publish)");
    let session_b = http.sign_in(&server_b, &password_b);
    compare_api(&http, &session_a, &session_b, day, reference.counts["CUST"]);
    report.push(format!(
        "ingest --at +16min (B): {parts} parts published, none left over; API agrees with A"
    ));
    drop(server_b);

    // 4. The sweep killed, then run again.
    let integration = integration_a["id"]
        .as_str()
        .expect("an integration id")
        .to_owned();
    let (status, body) = http.call(
        Method::DELETE,
        &session_a.url(&format!("/v1/integrations/{integration}")),
        Some(&session_a.token),
        None,
    );
    assert_eq!(status, 202, "disconnect: {body}");
    only_integration(&http, &session_a, "disconnected");
    drop(server_a);

    let db = Db::open(&dir_a).expect("A's store");
    let before = db.integration_items(&integration).expect("count");
    // The disconnect's rebuild already deleted the integration's customer profiles
    // (its customers left the snapshot); the records and the sync state wait for the
    // sweep.
    assert_eq!(
        db.count_prefix(PROFILE_PREFIX).expect("count"),
        0,
        "no profile outlives its customer's place in the snapshot"
    );
    assert_eq!(
        before,
        total + 1,
        "the integration's records and sync state"
    );
    let sweep_at = (Utc::now() + chrono::Duration::hours(25)).to_rfc3339();
    let sweep_args = ["sweep", "--data-dir", path(&dir_a), "--at", &sweep_at];
    let mut sweep = Proc::spawn("sweep (A, to be killed)", &sweep_args);
    let started = Instant::now();
    loop {
        if let Some(status) = sweep.exited() {
            panic!(
                "the sweep ended ({status}) after {:.2} s, before a third of the {before} items \
                 were gone, so it could not be killed midway:\n{}",
                started.elapsed().as_secs_f64(),
                sweep.output()
            );
        }
        let left = db.integration_items(&integration).expect("count");
        if left * 3 <= before * 2 {
            sweep.kill();
            break;
        }
        assert!(started.elapsed() < TIMEOUT, "the sweep made no progress");
        std::thread::sleep(POLL);
    }
    let killed_after = started.elapsed();
    let left = db.integration_items(&integration).expect("count");
    assert!(
        left > 0 && left < before,
        "the sweep was killed midway: {left} of {before} items left"
    );
    report.push(format!(
        "sweep (A) killed after {:.2} s: {left} of {before} items of the integration left",
        killed_after.as_secs_f64()
    ));
    // Its entries go last: the next sweep still finds it.
    assert_eq!(
        db.listing_status().expect("listing"),
        vec!["disconnected".to_owned()]
    );
    assert_eq!(
        db.count_sk(&format!("{INTEG_PREFIX}{integration}"))
            .expect("count"),
        1
    );
    drop(db);
    {
        let server = Server::start(&dir_a, "serve (A, after the killed sweep)");
        let session = http.sign_in(&server, &password_a);
        only_integration(&http, &session, "disconnected");
        let customers = http.get(&session, "/v1/customers");
        assert_eq!(
            customers["data"],
            json!([]),
            "the disconnected data stays hidden"
        );
    }

    let started = Instant::now();
    let output = run_to_end("sweep (A, again)", &sweep_args);
    let sweep_time = started.elapsed();
    let swept: Value = output
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("the sweep printed no report:\n{output}"));
    assert_eq!(swept["integrations_purged"], 1, "{swept}");
    assert_eq!(
        swept["integration_items_deleted"], left,
        "the second sweep deletes exactly what the first left: {swept}"
    );
    report.push(format!(
        "sweep (A) again: {} items deleted in {:.1} s",
        swept["integration_items_deleted"],
        sweep_time.as_secs_f64()
    ));

    let db = Db::open(&dir_a).expect("A's store");
    assert_eq!(db.integration_items(&integration).expect("count"), 0);
    assert_eq!(
        db.count_sk(&format!("{INTEG_PREFIX}{integration}"))
            .expect("count"),
        0
    );
    assert_eq!(db.listing_status().expect("listing"), Vec::<String>::new());
    let counts = db.counts().expect("counts");
    for kind in COMPARED_KINDS {
        assert_eq!(counts.get(kind), None, "no {kind} item is left: {counts:?}");
    }
    for kind in ["TENANT", "USER", "KEY"] {
        assert_eq!(
            counts.get(kind),
            reference.counts.get(kind),
            "the tenant's {kind} stays"
        );
    }
    drop(db);
    // Compacted: no processor id is left in the file (keys are plain).
    for file in [DATABASE_FILE.to_owned(), format!("{DATABASE_FILE}-wal")] {
        if let Ok(bytes) = std::fs::read(dir_a.join(&file)) {
            assert!(
                !bytes.windows(8).any(|w| w == b"cus_demo"),
                "{file} still holds a processor id"
            );
        }
    }
    let server = Server::start(&dir_a, "serve (A, after the sweep)");
    let session = http.sign_in(&server, &password_a);
    let listed = http.get(&session, "/v1/integrations");
    assert_eq!(listed["data"], json!([]), "the integration's entry is gone");
    // Audited at the sweep's time (25 shifted hours ahead): asked for up to then.
    let until = (Utc::now() + chrono::Duration::days(2)).date_naive();
    let audit = http.get(&session, &format!("/v1/security/audit-log?to={until}"));
    assert!(
        audit["data"]
            .as_array()
            .is_some_and(|entries| entries.iter().any(|e| e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("IntegrationDataDeleted")))),
        "the deletion is audited: {audit}"
    );
    drop(server);

    println!("{}", report.join("\n"));
}

/// `serve --demo` in fresh directories until one is SIGKILLed while its sync state
/// shows a full listing in progress among the invoices and half the records are
/// stored: the kill lands in the middle of a kind, not at a boundary.
fn kill_demo_sync_midway(root: &Path, total: u64) -> Killed {
    for attempt in 1..=KILL_ATTEMPTS {
        let dir = root.join(format!("b{attempt}"));
        // One source (the Stripe-shaped demo): one sync state to catch midway.
        let args = [
            "serve",
            "--demo",
            "--paddle-customers",
            "0",
            "--data-dir",
            path(&dir),
            "--addr",
            &free_addr(),
        ];
        let mut server = Proc::spawn("serve --demo (B, to be killed)", &args);
        let started = Instant::now();
        let mut db = None;
        let finished = loop {
            if let Some(status) = server.exited() {
                panic!("serve --demo (B) ended ({status}):\n{}", server.output());
            }
            if server.has_line(LISTENING) {
                break true;
            }
            if db.is_none() {
                db = Db::open(&dir);
            }
            let midway = db.as_ref().is_some_and(|db| {
                let state = db.sync_state().ok().flatten().unwrap_or(Value::Null);
                state["full_kind"]["N"].as_i64() == Some(INVOICES)
                    && state["full_after"]["S"].is_string()
                    && db.record_count().is_ok_and(|n| n * 2 >= total)
            });
            if midway {
                server.kill();
                break false;
            }
            assert!(
                started.elapsed() < TIMEOUT,
                "the demo sync did not reach the invoices:\n{}",
                server.output()
            );
            std::thread::sleep(POLL);
        };
        let after = started.elapsed();
        let db = Db::open(&dir).expect("B's store");
        let state = db.sync_state().expect("sync state").unwrap_or(Value::Null);
        let records = db.record_count().expect("count");
        if finished || state.get("full_kind").is_none() {
            // The sync got past the point before the kill took: try a fresh directory.
            eprintln!("attempt {attempt}: the sync completed before the kill; retrying");
            continue;
        }
        assert!(
            records > 0 && records < total,
            "killed midway: {records} of {total} records"
        );
        assert_eq!(
            db.listing_status().expect("listing"),
            vec!["syncing".to_owned()]
        );
        // The sign-in is printed before the first sync starts, so it survives the kill.
        let password = demo_password(&server.output());
        return Killed {
            dir,
            attempt,
            password,
            after,
            records,
            state,
        };
    }
    panic!("the demo sync completed {KILL_ATTEMPTS} times before it could be killed midway");
}

/// `ingest --at <weeks later>` on `dir` (a synced tenant), SIGKILLed while it holds the
/// integration's lease: the first pass of that day rebuilds the snapshot, which is
/// nearly all of its time (reading the records, computing, publishing), so the kill
/// lands in the rebuild, or in the publish if a new part is already stored. Each
/// attempt moves further ahead, so that its pass has a snapshot to rebuild.
fn kill_publish_midway(dir: &Path) -> KilledPublish {
    let db = Db::open(dir).expect("a store");
    let parts = |db: &Db| -> BTreeSet<String> {
        db.sort_keys(PART_PREFIX)
            .expect("keys")
            .into_iter()
            .collect()
    };
    for attempt in 1..=KILL_ATTEMPTS {
        let days = 40 * i64::from(attempt);
        let at = Utc::now() + chrono::Duration::days(days);
        let before = parts(&db);
        let pointer = db.pointer_version().expect("the pointer");
        let name = "ingest (B, to be killed while rebuilding)";
        let mut pass = Proc::spawn(
            name,
            &["ingest", "--data-dir", path(dir), "--at", &at.to_rfc3339()],
        );
        let started = Instant::now();
        let killed = loop {
            if let Some(status) = pass.exited() {
                assert!(status.success(), "{name} failed:\n{}", pass.output());
                break false;
            }
            let leased = db
                .listing_status()
                .is_ok_and(|s| s == vec!["syncing".to_owned()]);
            if leased {
                pass.kill();
                break true;
            }
            assert!(
                started.elapsed() < TIMEOUT,
                "the pass took no lease:\n{}",
                pass.output()
            );
            std::thread::sleep(POLL);
        };
        if !killed || pass.has_line("integrations synced") {
            eprintln!("attempt {attempt}: the pass ended before the kill; retrying later");
            continue;
        }
        let new_parts = parts(&db).difference(&before).count();
        let published = db.pointer_version().expect("the pointer") != pointer;
        return KilledPublish {
            at,
            days,
            new_parts,
            published,
        };
    }
    panic!("the pass ended {KILL_ATTEMPTS} times before it could be killed");
}

struct KilledPublish {
    /// The time the killed pass started at.
    at: DateTime<Utc>,
    days: i64,
    new_parts: usize,
    /// Whether the pointer had moved when the kill landed.
    published: bool,
}

/// How many parts the last publish in a pass's output named (its `analytics published`
/// log line).
fn published_parts(output: &str) -> u64 {
    output
        .lines()
        .rev()
        .filter(|line| line.contains("analytics published"))
        .find_map(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("parts="))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("no `analytics published` line:\n{output}"))
}

struct Killed {
    dir: PathBuf,
    attempt: u32,
    password: String,
    after: Duration,
    records: u64,
    state: Value,
}

/// The API figures of A and B: they must be the same. Only figures that do not depend
/// on when the snapshot was built are compared (B's was built 16 shifted minutes
/// later): the summary and the MRR movements at an explicit date (computed from the
/// facts of every record at query time), and each customer's e-mail, currency and
/// lifetime revenue.
fn compare_api(http: &Http, a: &Session, b: &Session, day: NaiveDate, customers: u64) {
    // The figures without `data_as_of`, the time the snapshot was built.
    let figures = |session: &Session, path: &str| {
        let mut body = http.get(session, path);
        if let Some(obj) = body.as_object_mut() {
            obj.remove("data_as_of");
        }
        body
    };
    let summary = format!("/v1/metrics/summary?as_of={day}");
    let summary_a = figures(a, &summary);
    assert!(
        summary_a["mrr"].as_i64().is_some_and(|m| m > 0),
        "{summary_a}"
    );
    assert!(
        figures(b, &summary) == summary_a,
        "metrics summary as of {day}"
    );

    let from = day.checked_sub_months(Months::new(24)).expect("a date");
    let movements = format!("/v1/metrics/mrr_movements?from={from}&to={day}&interval=month");
    let movements_a = figures(a, &movements);
    assert_eq!(
        movements_a["series"].as_array().map(Vec::len),
        Some(25),
        "25 months of MRR movements"
    );
    assert!(
        figures(b, &movements) == movements_a,
        "MRR movements from {from} to {day}"
    );

    let rows_a = all_customers(http, a);
    assert_eq!(rows_a.len() as u64, customers, "every customer is listed");
    assert!(all_customers(http, b) == rows_a, "customers of B against A");
}

/// Every customer row, paged: id → (e-mail, currency, lifetime revenue).
fn all_customers(http: &Http, session: &Session) -> BTreeMap<String, Value> {
    let mut rows = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/customers?sort=ltv&limit=200".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = http.get(session, &path);
        for row in page["data"].as_array().expect("a list") {
            let id = row["id"].as_str().expect("a customer id").to_owned();
            let kept = json!([row["email"], row["currency"], row["lifetime_revenue"]]);
            assert!(
                rows.insert(id, kept).is_none(),
                "a customer listed twice: {row}"
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return rows,
        }
    }
}

/// The tenant's only integration, checked to have `status`.
fn only_integration(http: &Http, session: &Session, status: &str) -> Value {
    let listed = http.get(session, "/v1/integrations");
    let data = listed["data"].as_array().expect("a list");
    assert_eq!(data.len(), 1, "one integration: {listed}");
    assert_eq!(data[0]["status"], status, "{listed}");
    data[0].clone()
}

fn records_written(output: &str) -> u64 {
    output
        .split("skipped; ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no record count in the ingest output:\n{output}"))
}

fn timestamp(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

/// A data directory's store, read-only. Keys are plain text; values are sealed and
/// never read here, except the plain attributes of the sync state and the listing.
struct Db(Connection);

impl Db {
    /// `None` while the file or its table does not exist yet.
    fn open(dir: &Path) -> Option<Db> {
        let file = dir.join(DATABASE_FILE);
        if !file.exists() {
            return None;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(file, flags).ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        conn.query_row("SELECT count(*) FROM items LIMIT 1", [], |_| Ok(()))
            .ok()?;
        Some(Db(conn))
    }

    /// Items of tenant partitions by kind (the sort key up to its first `#`).
    fn counts(&self) -> rusqlite::Result<BTreeMap<String, u64>> {
        let mut statement = self.0.prepare(
            "SELECT CASE WHEN instr(sk, '#') > 0 THEN substr(sk, 1, instr(sk, '#') - 1)
                    ELSE sk END AS kind, count(*)
             FROM items WHERE pk >= 'TENANT#' AND pk < 'TENANT$' GROUP BY kind",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, count_column_at(row, 1)?)))?;
        rows.collect()
    }

    /// Sort keys of tenant partitions starting with `prefix`.
    fn sort_keys(&self, prefix: &str) -> rusqlite::Result<Vec<String>> {
        let mut statement = self.0.prepare(
            "SELECT sk FROM items WHERE pk >= 'TENANT#' AND pk < 'TENANT$'
             AND sk >= ?1 AND sk < ?2",
        )?;
        let rows = statement.query_map(params![prefix, past(prefix)], |row| row.get(0))?;
        rows.collect()
    }

    fn count_prefix(&self, prefix: &str) -> rusqlite::Result<u64> {
        self.0.query_row(
            "SELECT count(*) FROM items WHERE pk >= 'TENANT#' AND pk < 'TENANT$'
             AND sk >= ?1 AND sk < ?2",
            params![prefix, past(prefix)],
            count_column,
        )
    }

    fn count_sk(&self, sk: &str) -> rusqlite::Result<u64> {
        self.0.query_row(
            "SELECT count(*) FROM items WHERE pk >= 'TENANT#' AND pk < 'TENANT$' AND sk = ?1",
            params![sk],
            count_column,
        )
    }

    /// Billing records of every kind and integration.
    fn record_count(&self) -> rusqlite::Result<u64> {
        ObjectKind::ALL
            .iter()
            .map(|kind| self.count_prefix(record_prefix(*kind)))
            .sum()
    }

    /// What the sweep of one integration deletes: its records, its customer profiles
    /// and its sync state.
    fn integration_items(&self, integration: &str) -> rusqlite::Result<u64> {
        let mut total = self.count_sk(&format!("SYNC#{integration}"))?;
        total += self.count_prefix(&format!("{PROFILE_PREFIX}{integration}#"))?;
        for kind in ObjectKind::ALL {
            total += self.count_prefix(&format!("{}{integration}#", record_prefix(kind)))?;
        }
        Ok(total)
    }

    /// The plain attributes of the (only) sync state, if there is one.
    fn sync_state(&self) -> rusqlite::Result<Option<Value>> {
        let mut statement = self.0.prepare(
            "SELECT attrs FROM items WHERE pk >= 'TENANT#' AND pk < 'TENANT$'
             AND sk >= 'SYNC#' AND sk < 'SYNC$'",
        )?;
        let states: Vec<String> = statement
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert!(states.len() <= 1, "one sync state at most: {states:?}");
        Ok(states
            .first()
            .map(|attrs| serde_json::from_str(attrs).expect("attributes are JSON")))
    }

    /// The published snapshot's version (`None` before the first).
    fn pointer_version(&self) -> rusqlite::Result<Option<i64>> {
        let attrs: Option<String> = self
            .0
            .query_row(
                "SELECT attrs FROM items WHERE pk >= 'TENANT#' AND pk < 'TENANT$'
                 AND sk = 'ANALYTICS'",
                [],
                |row| row.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })?;
        Ok(attrs.and_then(|attrs| {
            let attrs: Value = serde_json::from_str(&attrs).expect("attributes are JSON");
            attrs["snapshot"]["N"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .or_else(|| attrs["snapshot"]["N"].as_i64())
        }))
    }

    /// The status of each entry of the global integration listing.
    fn listing_status(&self) -> rusqlite::Result<Vec<String>> {
        let mut statement = self
            .0
            .prepare("SELECT attrs FROM items WHERE pk = ?1 ORDER BY sk")?;
        let rows = statement.query_map(params![INTEGRATIONS_PK], |row| row.get::<_, String>(0))?;
        rows.map(|attrs| {
            let attrs: Value = serde_json::from_str(&attrs?).expect("attributes are JSON");
            Ok(attrs["status"]["S"].as_str().unwrap_or("?").to_owned())
        })
        .collect()
    }
}

fn count_column(row: &rusqlite::Row<'_>) -> rusqlite::Result<u64> {
    count_column_at(row, 0)
}

/// A `count(*)` (never negative).
fn count_column_at(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<u64> {
    Ok(row.get::<_, i64>(index)?.max(0) as u64)
}

/// The first string after every string starting with `prefix` (which ends in `#`).
fn past(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8(bytes).expect("an ASCII prefix")
}

/// What a data directory holds, by key.
struct Snapshot {
    counts: BTreeMap<String, u64>,
    /// The integrations the records are stored under.
    integrations: BTreeSet<String>,
    /// Processor ids by record prefix (`CUST#`, ...).
    ids: BTreeMap<&'static str, BTreeSet<String>>,
    sync_state: Value,
}

impl Snapshot {
    fn read(db: &Db) -> Snapshot {
        let mut integrations = BTreeSet::new();
        let mut ids = BTreeMap::new();
        for kind in ObjectKind::ALL {
            let prefix = record_prefix(kind);
            let mut of_kind = BTreeSet::new();
            for sk in db.sort_keys(prefix).expect("record keys") {
                let (integration, id) = sk[prefix.len()..]
                    .split_once('#')
                    .unwrap_or_else(|| panic!("a record key: {sk}"));
                integrations.insert(integration.to_owned());
                of_kind.insert(id.to_owned());
            }
            ids.insert(prefix, of_kind);
        }
        Snapshot {
            counts: db.counts().expect("counts"),
            integrations,
            ids,
            sync_state: db.sync_state().expect("sync state").expect("a sync state"),
        }
    }

    fn records(&self) -> u64 {
        ObjectKind::ALL
            .iter()
            .map(|kind| {
                self.counts
                    .get(record_prefix(*kind).trim_end_matches('#'))
                    .copied()
                    .unwrap_or(0)
            })
            .sum()
    }
}
