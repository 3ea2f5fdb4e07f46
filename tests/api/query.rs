//! The query function over HTTP (docs/api.md "query function"), on the demo tenant
//! (2,000 customers, 24 months) and on the fake Stripe: the movement identity, group
//! sums, filters, the 400 codes, FX, the viewer's aggregates-only view, customers,
//! segments, `no_data_yet`, disconnects and tenant isolation.
//!
//! Values are served as integer minor units, each field rounded on its own (half to
//! even) from the engine's exact fixed point. So the served numbers meet the identities
//! only up to that rounding: the bounds below are the tightest the code guarantees
//! (k rounded terms, each off by at most ½ → off by at most ⌊k/2⌋). The exact identity
//! ("start MRR + Σ movements = end MRR, exactly") is the ignored test at the end (a
//! reported bug).
//!
//! A demo sync takes 10–30 s in debug: each test that needs the demo builds ONE tenant.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use serde_json::{Value, json};
use tally::domain::ids::{IntegrationId, TenantId};
use tally_tests::fake_stripe::{FakeStripe, Scenario};

use crate::helpers::{TestApp, TestUser, error_code, spawn_app, spawn_app_with};

/// The demo's "today", pinned (at noon) so that its 24 months and every default range
/// are the same on every run.
const TODAY: &str = "2025-03-14T12:00:00Z";
const TODAY_DATE: &str = "2025-03-14";
/// Before the demo's first day: every series starts from zero MRR.
const HISTORY_FROM: &str = "2023-01-01";
const SEED: u64 = 42;
const DEMO_CUSTOMERS: usize = 2_000;
/// Every demo customer's e-mail ends so.
const DEMO_EMAIL_DOMAIN: &str = "@demo.tally.invalid";
const DIMENSIONS: [&str; 8] = [
    "country",
    "city",
    "card_brand",
    "card_funding",
    "payment_method",
    "plan",
    "currency",
    "integration",
];
const SEGMENTS: [&str; 6] = [
    "champions",
    "loyal",
    "at_risk",
    "cant_lose",
    "hibernating",
    "new",
];
/// The only fields a served payment may carry (no last4, number or fingerprint).
const PAYMENT_FIELDS: [&str; 10] = [
    "id",
    "amount",
    "amount_refunded",
    "currency",
    "status",
    "at",
    "card_brand",
    "card_funding",
    "card_exp_month",
    "card_exp_year",
];

/// An app whose clock reads [`TODAY`], and its first admin with a session.
async fn pinned_app() -> (TestApp, TestUser, String) {
    let app = spawn_app().await;
    app.clock.set(TODAY.parse().unwrap());
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    (app, admin, token)
}

/// Connects and syncs the demo integration (the sync also rebuilds the snapshot).
async fn demo_data(app: &TestApp, admin: &TestUser) -> IntegrationId {
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let started = Instant::now();
    let id = app
        .services
        .integrations
        .connect_demo(&tenant, SEED)
        .await
        .unwrap();
    app.services
        .ingestion
        .sync_integration(&tenant, &id)
        .await
        .unwrap();
    eprintln!("demo tenant synced in {:?}", started.elapsed());
    id
}

/// GET that must answer 200; the body.
async fn ok(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// GET that must be refused with `status` and `code`.
async fn refused(app: &TestApp, path: &str, token: &str, status: u16, code: &str) {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), status, "GET {path}");
    assert_eq!(error_code(response).await, code, "GET {path}");
}

/// Percent-encodes a query value (plan names hold spaces, commas, parentheses).
fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn int(point: &Value, field: &str) -> i64 {
    point[field]
        .as_i64()
        .unwrap_or_else(|| panic!("`{field}` is an integer in {point}"))
}

fn points(body: &Value) -> &Vec<Value> {
    body["series"].as_array().expect("a series")
}

fn values(points: &[Value]) -> Vec<i64> {
    points.iter().map(|p| int(p, "value")).collect()
}

/// `groups` of a grouped reply: key → points.
fn groups(body: &Value) -> BTreeMap<String, Vec<Value>> {
    body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_owned(),
                g["series"].as_array().unwrap().clone(),
            )
        })
        .collect()
}

/// The largest deviations seen, for the report.
#[derive(Default, Debug)]
struct Seen {
    /// |start + Σ movements − mrr|
    full: i64,
    /// |start + net − mrr|
    net: i64,
    /// |Σ groups − total|
    groups: i64,
    points: usize,
}

/// Checks one `mrr_movements` series: every point's fields, the movement identity
/// within rounding, `value == net`, and each start equal to the previous end (exact:
/// both are the same fixed-point value, rounded once).
fn check_movements(points: &[Value], by_plan: bool, label: &str, seen: &mut Seen) {
    assert!(!points.is_empty(), "{label}: no points");
    for (index, p) in points.iter().enumerate() {
        for field in ["churn", "contraction", "expansion", "new", "reactivation"] {
            assert!(int(p, field) >= 0, "{label}: {field} is a magnitude: {p}");
        }
        let (start, mrr, net) = (int(p, "start_mrr"), int(p, "mrr"), int(p, "net"));
        let movements = int(p, "new") + int(p, "expansion") + int(p, "reactivation")
            - int(p, "contraction")
            - int(p, "churn")
            + int(p, "plan_switch");
        if !by_plan {
            assert_eq!(int(p, "plan_switch"), 0, "{label}: plan_switch: {p}");
        }
        // start, mrr and the five movements (and plan_switch by plan) are rounded each.
        let full_bound = if by_plan { 4 } else { 3 };
        let full = (start + movements - mrr).abs();
        assert!(full <= full_bound, "{label}: start + movements ≠ mrr: {p}");
        // start, net and mrr are rounded each: three halves.
        let off = (start + net - mrr).abs();
        assert!(off <= 1, "{label}: start + net ≠ mrr: {p}");
        assert_eq!(int(p, "value"), net, "{label}: value is net: {p}");
        if let Some(previous) = index.checked_sub(1).and_then(|i| points.get(i)) {
            assert_eq!(
                start,
                int(previous, "mrr"),
                "{label}: starts where the last period ended: {p}"
            );
            assert!(previous["period_start"].as_str() < p["period_start"].as_str());
        }
        seen.full = seen.full.max(full);
        seen.net = seen.net.max(off);
        seen.points += 1;
    }
}

/// Checks that the groups' MRR sums to the total per period, within rounding: each
/// group and the total are rounded once, so |Σ groups − total| ≤ ⌊(groups + 1) / 2⌋.
/// (For `mrr_movements`, whose `value` is a difference of two rounded MRRs, the end MRR
/// is compared; `check_movements` ties each net to its MRRs.)
fn check_group_sum(body: &Value, label: &str, seen: &mut Seen) {
    let field = if body["metric"] == "mrr_movements" {
        "mrr"
    } else {
        "value"
    };
    let total: Vec<i64> = points(body).iter().map(|p| int(p, field)).collect();
    let groups = groups(body);
    assert!(!groups.is_empty(), "{label}: no groups");
    let bound = (groups.len() as i64 + 1) / 2;
    for (index, total) in total.iter().enumerate() {
        let sum: i64 = groups.values().map(|g| int(&g[index], field)).sum();
        let off = (sum - total).abs();
        assert!(
            off <= bound,
            "{label}: period {index}: groups sum to {sum}, the total is {total}"
        );
        seen.groups = seen.groups.max(off);
    }
    for (key, series) in &groups {
        assert_eq!(series.len(), total.len(), "{label}: {key} has every period");
    }
}

/// Every row of `/v1/customers?{query}`, following `next_cursor` at `limit=200`; also
/// checks that no customer comes twice.
async fn all_customers(app: &TestApp, query: &str, token: &str) -> Vec<Value> {
    let mut rows: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/customers?limit=200&{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = ok(app, &path, token).await;
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= 200, "{path}");
        rows.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert!(!data.is_empty(), "{path}: an empty page with a cursor");
                cursor = Some(next.to_owned());
            }
            None => break,
        }
    }
    let ids: HashSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), rows.len(), "{query}: no customer twice");
    rows
}

/// Whether `field` never grows from row to row (numbers, or score strings; an absent
/// value only after the present ones).
fn non_increasing(rows: &[Value], field: &str) -> bool {
    rows.windows(2)
        .all(|pair| match (&pair[0][field], &pair[1][field]) {
            (Value::Number(a), Value::Number(b)) => a.as_i64() >= b.as_i64(),
            (Value::String(a), Value::String(b)) => a >= b,
            (_, Value::Null) => true,
            _ => false,
        })
}

#[tokio::test]
async fn on_the_demo_tenant_the_numbers_add_up_and_each_role_sees_only_what_it_may() {
    let (app, admin, token) = pinned_app().await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let (_, viewer) = app.user_with_role(&token, "viewer").await;

    // Before any data: 409 `no_data_yet`, whoever asks (the role check comes first).
    for path in [
        "/v1/metrics/summary",
        "/v1/metrics/mrr",
        "/v1/metrics/mrr_movements?group_by=country",
        "/v1/dimensions",
        "/v1/segments",
    ] {
        refused(&app, path, &viewer, 409, "no_data_yet").await;
    }
    for path in [
        "/v1/customers",
        "/v1/customers/cus_demo00000001",
        "/v1/insights/payment-failure-risk",
    ] {
        refused(&app, path, &analyst, 409, "no_data_yet").await;
        refused(&app, path, &viewer, 403, "forbidden").await;
    }

    let integration = demo_data(&app, &admin).await;
    let started = Instant::now();
    let mut seen = Seen::default();
    summary_and_movements_add_up(&app, &token, &mut seen).await;
    groups_and_filters_add_up(&app, &token, &integration, &mut seen).await;
    bad_queries_are_400(&app, &token).await;
    crate::growth::growth_metrics_add_up(&app, &token).await;
    crate::growth::comparisons_pair_each_point_with_its_counterpart(&app, &analyst).await;
    a_viewer_sees_aggregates_only(&app, &viewer, &analyst).await;
    an_analyst_browses_customers_profiles_and_segments(&app, &analyst, &token, &integration).await;
    eprintln!(
        "queries took {:?}; largest deviations seen: {seen:?}",
        started.elapsed()
    );
}

/// The summary (its numbers are the series' last points), every metric, and the
/// movement identity at every point of the whole history, by month, week and day.
async fn summary_and_movements_add_up(app: &TestApp, token: &str, seen: &mut Seen) {
    // The summary: every headline number, and the policy it was computed under.
    let summary = ok(app, "/v1/metrics/summary", token).await;
    let (mrr, arr, customers) = (
        int(&summary, "mrr"),
        int(&summary, "arr"),
        int(&summary, "customers"),
    );
    assert!(mrr > 0 && customers > 0, "{summary}");
    // ARR is 12 × the exact MRR, rounded once: 12 halves + one half from 12 × mrr.
    assert!((arr - 12 * mrr).abs() <= 6, "arr = 12 × mrr: {summary}");
    assert!(
        (int(&summary, "arpu") - mrr / customers).abs() <= 1,
        "{summary}"
    );
    assert!(int(&summary, "ltv") > int(&summary, "arpu"), "{summary}");
    for rate in ["customer_churn_rate", "revenue_churn_rate"] {
        let value = summary[rate].as_f64().expect(rate);
        assert!((0.0..=1.0).contains(&value), "{rate}: {summary}");
    }
    assert!(summary["nrr"].as_f64().unwrap() > 0.0, "{summary}");
    assert_eq!(summary["as_of"], TODAY_DATE);
    assert_eq!(
        summary["currency"], "eur",
        "the currency most customers pay in"
    );
    assert_eq!(summary["policy"]["name"], "stripe_billing", "{summary}");
    assert_eq!(
        summary["policy"]["statuses"],
        json!(["active", "past_due"]),
        "{summary}"
    );
    // The summary's numbers are the series' last points.
    let mrr_series = ok(app, "/v1/metrics/mrr", token).await;
    assert_eq!(mrr_series["metric"], "mrr");
    assert_eq!(mrr_series["interval"], "month", "the default interval");
    assert_eq!(mrr_series["currency"], "eur");
    assert_eq!(
        points(&mrr_series).len(),
        12,
        "the default range: 12 months"
    );
    let last = points(&mrr_series).last().unwrap();
    assert_eq!(last["period_end"], TODAY_DATE);
    assert_eq!(int(last, "value"), mrr);
    let count = ok(app, "/v1/metrics/customers", token).await;
    assert_eq!(int(points(&count).last().unwrap(), "value"), customers);
    // Subscribers include those with no MRR (metered only): never fewer than customers.
    let subscribers = ok(app, "/v1/metrics/subscribers", token).await;
    for (s, c) in values(points(&subscribers))
        .iter()
        .zip(values(points(&count)))
    {
        assert!(*s >= c, "subscribers {s} ≥ paying customers {c}");
    }

    // Every metric of docs/api.md answers with a series over the same periods.
    for name in [
        "arr",
        "customer_churn_rate",
        "revenue_churn_rate",
        "nrr",
        "grr",
        "arpu",
        "ltv",
        "refunds",
        "failed_payments",
        "trial_conversion",
        "subscribers",
        "arps",
    ] {
        let body = ok(app, &format!("/v1/metrics/{name}"), token).await;
        assert_eq!(body["metric"], name);
        assert_eq!(points(&body).len(), 12, "{name}: {body}");
    }
    let arr_series = ok(app, "/v1/metrics/arr", token).await;
    for (a, m) in values(points(&arr_series))
        .iter()
        .zip(values(points(&mrr_series)))
    {
        assert!((a - 12 * m).abs() <= 6, "arr {a} vs 12 × mrr {m}");
    }

    // Movements: every point of the whole history, by month, week and day.
    for (query, expected_points) in [
        (format!("from={HISTORY_FROM}&interval=month"), 27),
        ("from=2024-09-01&to=2025-03-14&interval=week".to_owned(), 29),
        ("from=2025-01-01&interval=day".to_owned(), 73),
        (format!("from={HISTORY_FROM}&interval=quarter"), 9),
        (format!("from={HISTORY_FROM}&interval=year"), 3),
    ] {
        let body = ok(app, &format!("/v1/metrics/mrr_movements?{query}"), token).await;
        assert_eq!(body["metric"], "mrr_movements");
        let series = points(&body);
        assert_eq!(series.len(), expected_points, "{query}");
        check_movements(series, false, &query, seen);
        if !query.contains("week") && !query.contains("day") {
            let first = &series[0];
            assert_eq!(first["period_start"], "2023-01-01");
            assert_eq!(int(first, "start_mrr"), 0, "before the demo's first day");
            let last = series.last().unwrap();
            assert_eq!(int(last, "mrr"), mrr, "ends at today's MRR");
            assert_eq!(last["period_end"], TODAY_DATE);
            let total: i64 = series.iter().map(|p| int(p, "new")).sum();
            assert!(total > 0, "the demo has new business");
            for movement in ["expansion", "contraction", "churn", "reactivation"] {
                assert!(
                    series.iter().any(|p| int(p, movement) > 0),
                    "the demo has {movement}"
                );
            }
        }
    }
}

/// `group_by` sums to the ungrouped series; filters select a subset equal to its group.
async fn groups_and_filters_add_up(
    app: &TestApp,
    token: &str,
    integration: &IntegrationId,
    seen: &mut Seen,
) {
    let mrr_series = ok(app, "/v1/metrics/mrr", token).await;
    // group_by: the groups sum to the ungrouped series, for MRR and net movements.
    let dimensions = ok(app, "/v1/dimensions", token).await;
    for dimension in DIMENSIONS {
        let values = dimensions[dimension].as_array();
        assert!(
            values.is_some_and(|v| !v.is_empty()),
            "/v1/dimensions lists {dimension}: {dimensions}"
        );
    }
    assert!(
        dimensions["country"]
            .as_array()
            .unwrap()
            .contains(&json!("DE"))
    );
    assert_eq!(dimensions["currency"], json!(["eur", "gbp", "usd"]));
    assert_eq!(dimensions["integration"], json!([integration.to_string()]));
    for dimension in ["country", "plan", "card_brand", "payment_method", "city"] {
        for metric in ["mrr", "mrr_movements"] {
            let path = format!("/v1/metrics/{metric}?from={HISTORY_FROM}&group_by={dimension}");
            let body = ok(app, &path, token).await;
            check_group_sum(&body, &path, seen);
            if metric == "mrr_movements" {
                for (key, series) in groups(&body) {
                    let label = format!("{path} [{key}]");
                    check_movements(&series, dimension == "plan", &label, seen);
                }
            }
        }
    }
    // By currency, into one of them: every currency converted, and that currency's
    // own group is its unconverted series, exactly.
    for currency in ["eur", "gbp", "usd"] {
        let native = ok(
            app,
            &format!("/v1/metrics/mrr?currency={currency}&filter[currency]={currency}"),
            token,
        )
        .await;
        assert_eq!(native["currency"], currency);
        let path = format!("/v1/metrics/mrr?currency={currency}&group_by=currency");
        let grouped = ok(app, &path, token).await;
        check_group_sum(&grouped, &path, seen);
        let groups = groups(&grouped);
        assert_eq!(groups.keys().collect::<Vec<_>>(), vec!["eur", "gbp", "usd"]);
        assert_eq!(values(&groups[currency]), values(points(&native)));
        assert!(values(points(&native)).iter().all(|v| *v > 0), "{currency}");
    }

    // Filters: a subset of the total, equal to its group; several filters AND.
    let total = values(points(&mrr_series));
    let by_country = groups(&ok(app, "/v1/metrics/mrr?group_by=country", token).await);
    let de = values(points(
        &ok(app, "/v1/metrics/mrr?filter[country]=DE", token).await,
    ));
    assert_eq!(de, values(&by_country["DE"]), "filter = its group");
    assert!(de.iter().zip(&total).all(|(d, t)| d <= t && *d > 0));
    assert!(de.iter().zip(&total).any(|(d, t)| d < t));
    let lower = ok(app, "/v1/metrics/mrr?filter[country]=de", token).await;
    assert_eq!(
        values(points(&lower)),
        de,
        "values match case-insensitively"
    );
    let visa = values(points(
        &ok(app, "/v1/metrics/mrr?filter[card_brand]=visa", token).await,
    ));
    let both_path = "/v1/metrics/mrr?filter[country]=DE&filter[card_brand]=visa";
    let both = values(points(&ok(app, both_path, token).await));
    let de_by_brand = groups(
        &ok(
            app,
            "/v1/metrics/mrr?filter[country]=DE&group_by=card_brand",
            token,
        )
        .await,
    );
    assert_eq!(both, values(&de_by_brand["visa"]), "two filters AND");
    for (i, value) in both.iter().enumerate() {
        assert!(*value <= de[i] && *value <= visa[i] && *value > 0, "{i}");
    }
    assert!(both.iter().zip(&de).any(|(b, d)| b < d));
    let nowhere = ok(
        app,
        "/v1/metrics/mrr?filter[country]=DE&filter[country]=FR",
        token,
    )
    .await;
    assert!(
        values(points(&nowhere)).iter().all(|v| *v == 0),
        "DE and FR: nobody"
    );
    let by_plan = groups(&ok(app, "/v1/metrics/mrr?group_by=plan", token).await);
    let plan_path = format!("/v1/metrics/mrr?filter[plan]={}", enc("Scale monthly"));
    let scale = values(points(&ok(app, &plan_path, token).await));
    assert_eq!(
        scale,
        values(&by_plan["Scale monthly"]),
        "plan filter = its group"
    );
    let movements_path = format!(
        "/v1/metrics/mrr_movements?from={HISTORY_FROM}&filter[country]=DE&filter[plan]={}",
        enc("Growth monthly")
    );
    let filtered = ok(app, &movements_path, token).await;
    check_movements(points(&filtered), true, &movements_path, seen);
    let summary_de = ok(app, "/v1/metrics/summary?filter[country]=DE", token).await;
    assert_eq!(int(&summary_de, "mrr"), *de.last().unwrap());
}

/// 400 with the fixed codes (the viewer's 403s are checked with the viewer).
async fn bad_queries_are_400(app: &TestApp, token: &str) {
    for path in [
        "/v1/metrics/mrr?filter[planet]=mars",
        "/v1/metrics/mrr?group_by=planet",
        "/v1/metrics/mrr_movements?group_by=email",
        "/v1/metrics/summary?filter[planet]=mars",
    ] {
        refused(app, path, token, 400, "unknown_dimension").await;
    }
    for path in [
        "/v1/metrics/mrr_growth",
        "/v1/metrics/MRR",
        "/v1/metrics/summaries",
    ] {
        refused(app, path, token, 400, "unknown_metric").await;
    }
    for path in [
        "/v1/metrics/mrr?interval=fortnight",
        "/v1/metrics/mrr?interval=",
        "/v1/metrics/mrr?from=2024-13-01",
        "/v1/metrics/mrr?from=yesterday",
        "/v1/metrics/mrr?to=2024-02-30",
        "/v1/metrics/mrr?from=2025-03-01&to=2025-01-31",
        "/v1/metrics/mrr_movements?from=2025-03-15&to=2025-03-14",
        // Longer than the ~30 years a query may span.
        "/v1/metrics/mrr?from=1900-01-01",
        "/v1/metrics/mrr?currency=euro",
        "/v1/metrics/summary?as_of=someday",
        // A filter without a value would match nothing: refused, not answered empty.
        "/v1/metrics/mrr?filter[country]=",
        "/v1/metrics/forecast?filter[plan]=",
    ] {
        refused(app, path, token, 400, "invalid_request").await;
    }
}

/// A viewer gets summary, metrics, segments and dimensions: nothing per customer, no
/// city (neither as a dimension nor in a filter or group), no e-mail.
async fn a_viewer_sees_aggregates_only(app: &TestApp, viewer: &str, analyst: &str) {
    let mut seen_by_viewer = Vec::new();
    for path in [
        "/v1/metrics/summary",
        "/v1/metrics/summary?filter[country]=DE",
        "/v1/metrics/mrr",
        "/v1/metrics/mrr_movements?group_by=country",
        "/v1/metrics/customers?group_by=plan",
        "/v1/metrics/arpu?group_by=card_brand",
        "/v1/metrics/refunds?group_by=country",
        "/v1/metrics/failed_payments",
        "/v1/segments",
        "/v1/dimensions",
        "/v1/settings/fx-rates",
    ] {
        seen_by_viewer.push((path, ok(app, path, viewer).await));
    }
    for path in [
        "/v1/customers",
        "/v1/customers?sort=mrr&limit=1",
        "/v1/customers?segment=champions",
        "/v1/customers/cus_demo00000001",
        "/v1/customers/cus_demo99999999",
        "/v1/insights/payment-failure-risk",
        "/v1/metrics/mrr?group_by=city",
        "/v1/metrics/mrr?filter[city]=Berlin",
        "/v1/metrics/mrr_movements?filter[country]=DE&group_by=city",
        "/v1/metrics/summary?filter[city]=Berlin",
    ] {
        refused(app, path, viewer, 403, "forbidden").await;
    }
    for (path, body) in &seen_by_viewer {
        let text = body.to_string();
        assert!(!text.contains(DEMO_EMAIL_DOMAIN), "{path}: {text}");
        assert!(!text.contains('@'), "{path}: no e-mail at all");
    }
    let viewer_dimensions = &seen_by_viewer
        .iter()
        .find(|(path, _)| *path == "/v1/dimensions")
        .unwrap()
        .1;
    let keys: BTreeSet<&str> = viewer_dimensions
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let without_city: BTreeSet<&str> = DIMENSIONS.into_iter().filter(|d| *d != "city").collect();
    assert_eq!(keys, without_city, "the viewer sees no cities");
    let analyst_dimensions = ok(app, "/v1/dimensions", analyst).await;
    let keys: BTreeSet<&str> = analyst_dimensions
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, DIMENSIONS.into_iter().collect());
    assert!(
        analyst_dimensions["city"]
            .as_array()
            .unwrap()
            .contains(&json!("Berlin"))
    );
    let by_city = ok(app, "/v1/metrics/mrr?group_by=city", analyst).await;
    assert!(groups(&by_city).contains_key("Berlin"));
}

/// Customers in each order, page after page; segments; a profile; the risk insight.
async fn an_analyst_browses_customers_profiles_and_segments(
    app: &TestApp,
    analyst: &str,
    admin_token: &str,
    integration: &IntegrationId,
) {
    // Every customer once, by MRR (the default order), page after page.
    let by_mrr = all_customers(app, "sort=mrr", analyst).await;
    assert_eq!(by_mrr.len(), DEMO_CUSTOMERS);
    let converted: Vec<i64> = by_mrr
        .iter()
        .map(|r| r["reporting_mrr"]["amount"].as_i64().unwrap())
        .collect();
    assert!(
        converted.windows(2).all(|w| w[0] >= w[1]),
        "sorted by MRR in the reporting currency, descending"
    );
    for row in &by_mrr {
        assert!(
            row["email"].as_str().unwrap().ends_with(DEMO_EMAIL_DOMAIN),
            "{row}"
        );
        assert_eq!(row["integration"], integration.to_string(), "{row}");
        assert!(
            row["mrr"].is_i64() && row["lifetime_revenue"].is_i64(),
            "{row}"
        );
        assert!(row["risk"]["payment_failure"].is_boolean(), "{row}");
        assert!(row["risk"]["churn"].is_u64(), "{row}");
        assert!(row.get("loyalty_score").is_some() && row.get("segment").is_some());
    }
    let default_order = ok(app, "/v1/customers?limit=50", analyst).await;
    let first_ids = |rows: &[Value]| -> Vec<String> {
        rows.iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        first_ids(default_order["data"].as_array().unwrap()),
        first_ids(&by_mrr[..50])
    );
    let mut small_pages = Vec::new();
    let mut path = "/v1/customers?sort=mrr&limit=7".to_owned();
    for _ in 0..3 {
        let page = ok(app, &path, analyst).await;
        small_pages.extend(page["data"].as_array().unwrap().iter().cloned());
        let cursor = page["next_cursor"].as_str().expect("more pages");
        path = format!("/v1/customers?sort=mrr&limit=7&cursor={cursor}");
    }
    assert_eq!(
        first_ids(&small_pages),
        first_ids(&by_mrr[..21]),
        "limit 7 × 3"
    );

    let by_ltv = all_customers(app, "sort=ltv", analyst).await;
    assert_eq!(by_ltv.len(), DEMO_CUSTOMERS);
    assert!(non_increasing(&by_ltv, "lifetime_revenue"));
    let by_loyalty = all_customers(app, "sort=loyalty", analyst).await;
    assert_eq!(by_loyalty.len(), DEMO_CUSTOMERS);
    assert!(non_increasing(&by_loyalty, "loyalty_score"));
    assert_eq!(by_loyalty[0]["loyalty_score"], "555", "{}", by_loyalty[0]);

    // Segments: exactly the six RFM names, counting exactly the scored customers.
    let segments = ok(app, "/v1/segments", analyst).await;
    let segments = segments["segments"].as_array().unwrap();
    let names: BTreeSet<&str> = segments
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, SEGMENTS.into_iter().collect());
    assert_eq!(segments.len(), SEGMENTS.len());
    let scored = by_mrr
        .iter()
        .filter(|r| r["loyalty_score"].is_string())
        .count();
    let counted: u64 = segments
        .iter()
        .map(|s| s["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(
        counted as usize, scored,
        "segments count the scored customers"
    );
    assert!(
        scored > 0 && scored < DEMO_CUSTOMERS,
        "never-paying customers have no score"
    );
    for row in &by_mrr {
        assert_eq!(
            row["loyalty_score"].is_null(),
            row["segment"].is_null(),
            "{row}"
        );
    }
    for segment in segments {
        let name = segment["name"].as_str().unwrap();
        let rows = all_customers(app, &format!("segment={name}"), analyst).await;
        assert!(rows.iter().all(|r| r["segment"] == name), "segment={name}");
        assert_eq!(
            rows.len() as u64,
            segment["customers"].as_u64().unwrap(),
            "{name}"
        );
        assert!(segment["mrr"].as_i64().unwrap() >= 0);
    }
    let champions = ok(app, "/v1/customers?segment=champions&sort=loyalty", analyst).await;
    assert!(!champions["data"].as_array().unwrap().is_empty());

    // Bad list queries.
    let forged = [
        "%25%25%25",
        "not-base64!",
        "YWJj",     // "abc"
        "LTE",      // "-1"
        "MS41",     // "1.5"
        "MTAwMDAw", // "100000", an offset past the end
        "",
    ];
    for cursor in forged {
        let path = format!("/v1/customers?cursor={cursor}");
        refused(app, &path, analyst, 400, "invalid_request").await;
    }
    // Well-formed, but naming no customer of this tenant (another integration's id).
    let elsewhere = tally::ports::Cursor::after_sort_key(format!(
        "{}/{}",
        uuid::Uuid::new_v4(),
        by_mrr[0]["id"].as_str().unwrap()
    ))
    .encode();
    refused(
        app,
        &format!("/v1/customers?cursor={elsewhere}"),
        analyst,
        400,
        "invalid_request",
    )
    .await;
    for query in [
        "sort=age",
        "sort=MRR",
        "sort=",
        "limit=0",
        "limit=201",
        "limit=ten",
    ] {
        let path = format!("/v1/customers?{query}");
        refused(app, &path, analyst, 400, "invalid_request").await;
    }
    refused(
        app,
        "/v1/customers?filter[planet]=mars",
        analyst,
        400,
        "unknown_dimension",
    )
    .await;

    // A profile: the row's numbers, subscriptions, payments without card detail beyond
    // brand, funding and expiry, and the dimensions.
    let first = &by_mrr[0];
    let id = first["id"].as_str().unwrap();
    let profile = ok(app, &format!("/v1/customers/{id}"), analyst).await;
    assert_eq!(profile["id"], id);
    for field in [
        "mrr",
        "lifetime_revenue",
        "loyalty_score",
        "segment",
        "email",
    ] {
        assert_eq!(profile[field], first[field], "{field}");
    }
    // The list's risk, and the factors of its churn score.
    for field in ["payment_failure", "churn"] {
        assert_eq!(profile["risk"][field], first["risk"][field], "risk.{field}");
    }
    check_churn_factors(&profile);
    // The largest customer has MRR: its history has a point per change, the latest
    // day last, in its own currencies.
    let history = profile["mrr_history"].as_array().unwrap();
    assert!(!history.is_empty(), "{profile}");
    check_mrr_history(&profile);
    let subscriptions = profile["subscriptions"].as_array().unwrap();
    assert!(!subscriptions.is_empty(), "{profile}");
    for subscription in subscriptions {
        assert!(subscription["id"].is_string() && subscription["status"].is_string());
    }
    let payments = profile["payments"].as_array().unwrap();
    assert!(!payments.is_empty(), "{profile}");
    for payment in payments {
        for key in payment.as_object().unwrap().keys() {
            assert!(
                PAYMENT_FIELDS.contains(&key.as_str()),
                "payment field {key}"
            );
        }
        assert!(payment["amount"].is_i64() && payment["status"].is_string());
        assert!(payment["card_exp_year"].is_u64() || payment["card_exp_year"].is_null());
    }
    let text = profile.to_string();
    for secret in ["last4", "fingerprint", "\"number\"", "cvc"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let dimensions = profile["dimensions"].as_object().unwrap();
    for dimension in [
        "country",
        "city",
        "card_brand",
        "card_funding",
        "payment_method",
    ] {
        assert!(dimensions[dimension].is_string(), "{dimension}: {profile}");
    }
    assert_eq!(dimensions["integration"], integration.to_string());
    let german = ok(app, "/v1/customers?filter[country]=DE&limit=3", analyst).await;
    for row in german["data"].as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let profile = ok(app, &format!("/v1/customers/{id}"), analyst).await;
        assert_eq!(profile["dimensions"]["country"], "DE");
    }
    refused(
        app,
        "/v1/customers/cus_demo99999999",
        analyst,
        404,
        "not_found",
    )
    .await;
    refused(
        app,
        "/v1/customers/cus_nobody",
        admin_token,
        404,
        "not_found",
    )
    .await;

    // Payment-failure risk: exactly the customers flagged in the list.
    // Followed page by page, 20 at a time: the pages add up to the whole list.
    let mut risks: Vec<Value> = Vec::new();
    let mut path = "/v1/insights/payment-failure-risk?limit=20".to_owned();
    loop {
        let page = ok(app, &path, analyst).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 20);
        risks.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/v1/insights/payment-failure-risk?limit=20&cursor={cursor}")
            }
            None => break,
        }
    }
    let whole = ok(app, "/v1/insights/payment-failure-risk?limit=200", analyst).await;
    assert_eq!(whole["data"].as_array().unwrap(), &risks);
    let risks = &risks;
    assert!(
        !risks.is_empty(),
        "the demo has cards expiring before renewal"
    );
    for risk in risks {
        assert!(risk["renews_at"].is_string(), "{risk}");
        assert!(!risk["card_expires"].is_null(), "{risk}");
        assert!(risk["mrr_at_risk"].as_i64().unwrap() > 0, "{risk}");
    }
    let at_risk: BTreeSet<&str> = risks
        .iter()
        .map(|r| r["customer"].as_str().unwrap())
        .collect();
    let flagged: BTreeSet<&str> = by_mrr
        .iter()
        .filter(|r| r["risk"]["payment_failure"] == true)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(at_risk, flagged);
}

#[tokio::test]
async fn one_reporting_currency_covers_every_customer_at_the_rates_of_each_day() {
    let (app, admin, token) = pinned_app().await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let (_, viewer) = app.user_with_role(&token, "viewer").await;

    // Stored rates: only an admin sets them, and only valid ones. They serve currencies
    // the ECB does not publish; the demo's (eur, usd, gbp) convert at the ECB's.
    let unset = ok(&app, "/v1/settings/fx-rates", &viewer).await;
    assert_eq!(unset["rates"], json!({}), "{unset}");
    let rates = json!({ "base": "eur", "rates": { "kzt": 520.5 } });
    for other in [&analyst, &viewer] {
        let response = app.put("/v1/settings/fx-rates", other, rates.clone()).await;
        assert_eq!(response.status(), 403);
        assert_eq!(error_code(response).await, "forbidden");
    }
    for bad in [
        json!({ "base": "eur", "rates": { "usd": -1.08, "gbp": 0.85 } }),
        json!({ "base": "eur", "rates": { "usd": 0, "gbp": 0.85 } }),
        json!({ "base": "eur", "rates": { "usd": 0.0, "gbp": 0.85 } }),
        json!({ "base": "eur", "rates": { "usd": 1e-12 } }),
        json!({ "base": "eur", "rates": { "usd": "1.08", "gbp": 0.85 } }),
        json!({ "base": "eur", "rates": { "usd": "lots" } }),
        json!({ "base": "eur", "rates": { "usd": null } }),
        json!({ "base": "eur", "rates": [1.08] }),
        json!({ "base": "eur" }),
        json!({ "rates": { "usd": 1.08 } }),
    ] {
        let response = app.put("/v1/settings/fx-rates", &token, bad.clone()).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(error_code(response).await, "invalid_request", "{bad}");
    }
    assert_eq!(ok(&app, "/v1/settings/fx-rates", &token).await, unset);
    let response = app
        .put("/v1/settings/fx-rates", &token, rates.clone())
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(ok(&app, "/v1/settings/fx-rates", &viewer).await, rates);
    let before = ok(&app, "/v1/settings/reporting-currency", &viewer).await;
    assert_eq!(before["chosen"], false, "{before}");
    demo_data(&app, &admin).await;
    let mut seen = Seen::default();

    // The default reporting currency is the one with the largest MRR, and the summary
    // covers every paying customer, whatever its currency, each once.
    let reporting = ok(&app, "/v1/settings/reporting-currency", &viewer).await;
    assert_eq!(reporting["currency"], "eur", "{reporting}");
    let summary = ok(&app, "/v1/metrics/summary", &token).await;
    assert_eq!(summary["currency"], "eur");
    assert_eq!(summary["unconverted"], json!([]), "{summary}");
    assert_eq!(
        summary["definitions"]["fx_conversion"],
        "converted_once_at_movement_day"
    );
    assert_eq!(
        summary["definitions"]["movement_unit"],
        "customer_across_currencies"
    );
    let customers = int(&summary, "customers");
    let mut native_customers = BTreeMap::new();
    let mut native_mrr: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for currency in ["eur", "gbp", "usd"] {
        let filter = format!("currency={currency}&filter[currency]={currency}");
        let count = ok(&app, &format!("/v1/metrics/customers?{filter}"), &token).await;
        native_customers.insert(currency, int(points(&count).last().unwrap(), "value"));
        let mrr = ok(&app, &format!("/v1/metrics/mrr?{filter}"), &token).await;
        native_mrr.insert(currency, values(points(&mrr)));
    }
    let euro_customers = native_customers["eur"];
    let all_native: i64 = native_customers.values().sum();
    assert!(
        customers > euro_customers && customers <= all_native,
        "every currency's customers, each once: {customers} vs {native_customers:?}"
    );
    let rows = all_customers(&app, "sort=mrr", &analyst).await;
    let paying = rows
        .iter()
        .filter(|r| r["reporting_mrr"]["amount"].as_i64().unwrap() > 0)
        .count();
    assert_eq!(paying as i64, customers, "the list and the summary agree");
    let listed: i64 = rows
        .iter()
        .map(|r| r["reporting_mrr"]["amount"].as_i64().unwrap())
        .sum();
    assert!(
        (listed - int(&summary, "mrr")).abs() <= paying as i64 / 2 + 1,
        "the rows' converted MRR sums to the summary: {listed} vs {summary}"
    );
    let amounts: Vec<Value> = rows.iter().map(|r| r["reporting_mrr"].clone()).collect();
    assert!(
        amounts
            .windows(2)
            .all(|w| w[0]["amount"].as_i64() >= w[1]["amount"].as_i64()),
        "sorted by converted MRR"
    );
    assert!(amounts.iter().all(|a| a["currency"] == "eur"));
    eprintln!("summary: {customers} customers ({native_customers:?} natively)");

    // Converted: more than the euros alone, and at every period each currency's own
    // series (converted on its own) sums to the whole.
    let path = format!("/v1/metrics/mrr_movements?from={HISTORY_FROM}");
    let all = ok(&app, &path, &token).await;
    assert_eq!(all["currency"], "eur");
    check_movements(points(&all), false, "all currencies in eur", &mut seen);
    let mut summed = vec![0i64; points(&all).len()];
    for currency in ["eur", "gbp", "usd"] {
        let own = ok(&app, &format!("{path}&filter[currency]={currency}"), &token).await;
        check_movements(points(&own), false, currency, &mut seen);
        for (sum, point) in summed.iter_mut().zip(points(&own)) {
            *sum += int(point, "mrr");
        }
    }
    for (k, (sum, point)) in summed.iter().zip(points(&all)).enumerate() {
        assert!(
            (sum - int(point, "mrr")).abs() <= 2,
            "period {k}: {sum} vs {point}"
        );
    }
    let today = int(points(&all).last().unwrap(), "mrr");
    assert!(
        today > *native_mrr["eur"].last().unwrap(),
        "more than the euros alone"
    );
    assert_eq!(today, int(&summary, "mrr"));
    for dimension in ["currency", "country", "plan"] {
        let grouped_path = format!("{path}&group_by={dimension}");
        let grouped = ok(&app, &grouped_path, &token).await;
        check_group_sum(&grouped, &grouped_path, &mut seen);
        for (key, series) in groups(&grouped) {
            let label = format!("{grouped_path} [{key}]");
            check_movements(
                &series,
                matches!(dimension, "plan" | "currency"),
                &label,
                &mut seen,
            );
        }
    }

    // Another currency for one request, or for the tenant (admins only).
    let in_dollars = ok(&app, "/v1/metrics/summary?currency=usd", &token).await;
    assert_eq!(in_dollars["currency"], "usd");
    assert_eq!(int(&in_dollars, "customers"), customers);
    assert_ne!(int(&in_dollars, "mrr"), int(&summary, "mrr"));
    for other in [&analyst, &viewer] {
        let response = app
            .put(
                "/v1/settings/reporting-currency",
                other,
                json!({"currency": "usd"}),
            )
            .await;
        assert_eq!(response.status(), 403);
    }
    for bad in [
        json!({"currency": "euro"}),
        json!({"currency": "xyz"}),
        json!({"currency": 1}),
        json!({}),
    ] {
        let response = app
            .put("/v1/settings/reporting-currency", &token, bad.clone())
            .await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(error_code(response).await, "invalid_request", "{bad}");
    }
    let response = app
        .put(
            "/v1/settings/reporting-currency",
            &token,
            json!({"currency": "USD"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let chosen = ok(&app, "/v1/settings/reporting-currency", &viewer).await;
    assert_eq!(
        (chosen["currency"].as_str(), chosen["chosen"].as_bool()),
        (Some("usd"), Some(true))
    );
    let summary = ok(&app, "/v1/metrics/summary", &token).await;
    assert_eq!(summary["currency"], "usd");
    assert_eq!(int(&summary, "mrr"), int(&in_dollars, "mrr"));
    let segments = ok(&app, "/v1/segments", &viewer).await;
    assert_eq!(segments["currency"], "usd", "{segments}");
    // A currency only the tenant's stored rates know is a valid choice too.
    let response = app
        .put(
            "/v1/settings/reporting-currency",
            &token,
            json!({"currency": "kzt"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    eprintln!("largest deviations seen: {seen:?}");
}

/// A profile's `risk.churn_factors`: every factor of the model once, and the score is
/// their points' sum, at most 100 (no factor for a customer with no subscription).
fn check_churn_factors(profile: &Value) {
    let risk = &profile["risk"];
    let factors = risk["churn_factors"].as_array().unwrap();
    let score = risk["churn"].as_i64().unwrap();
    if factors.is_empty() {
        assert_eq!(score, 0, "{profile}");
        return;
    }
    let names: Vec<&str> = factors
        .iter()
        .map(|f| f["factor"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "pending_cancellation",
            "failed_payments_90d",
            "downgrade_90d",
            "falling_seats"
        ],
        "{profile}"
    );
    let points: i64 = factors.iter().map(|f| int(f, "points")).sum();
    assert_eq!(score, points.min(100), "{profile}");
    for factor in factors {
        assert!(factor["observed"].is_i64(), "{factor}");
        assert!(
            factor["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{factor}"
        );
    }
}

/// A profile's `mrr_history`: dates ascending, each point a change of its currency's
/// value (the first one from 0), in the customer's own currencies.
fn check_mrr_history(profile: &Value) {
    let mut last: BTreeMap<String, (String, i64)> = BTreeMap::new();
    let mut previous_date = String::new();
    for point in profile["mrr_history"].as_array().unwrap() {
        let date = point["date"].as_str().unwrap().to_owned();
        assert!(
            chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_ok(),
            "{point}"
        );
        assert!(date >= previous_date, "dates ascend: {profile}");
        let currency = point["currency"].as_str().unwrap().to_owned();
        let mrr = int(point, "mrr");
        let before = last.get(&currency).map(|(_, m)| *m).unwrap_or(0);
        assert_ne!(mrr, before, "a point is a change: {profile}");
        if let Some((day, _)) = last.get(&currency) {
            assert!(*day < date, "one point per day and currency: {profile}");
        }
        last.insert(currency, (date.clone(), mrr));
        previous_date = date;
    }
    for (currency, mrr) in profile["mrr_by_currency"].as_object().unwrap() {
        if mrr.as_i64().unwrap() != 0 {
            assert!(last.contains_key(currency), "{currency}: {profile}");
        }
    }
}

/// A customer's MRR history has a point for each day its MRR changed (an upgrade, a
/// pause, a churn to 0), in its currency, in minor units; its churn-risk factors add up
/// to the score the list shows, and a pending cancellation is one of them.
#[tokio::test]
async fn a_customer_profile_shows_its_mrr_history_and_churn_risk_factors() {
    let fake = FakeStripe::start(Scenario::new(6).with_lifecycle()).await;
    fake.update_subscription("sub_T000000", |s| s["cancel_at_period_end"] = json!(true));
    let vars = fake.config_vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    fake_stripe_data(&app, &admin, &token).await;

    let history = |profile: &Value| -> Vec<(String, String, i64)> {
        profile["mrr_history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["date"].as_str().unwrap().to_owned(),
                    p["currency"].as_str().unwrap().to_owned(),
                    int(p, "mrr"),
                )
            })
            .collect()
    };
    let eur = |date: &str, mrr: i64| (date.to_owned(), "eur".to_owned(), mrr);
    // €29 from 2025-01-01, €59 from the upgrade on 2025-06-10 (its MRR now).
    let upgraded = ok(&app, "/v1/customers/cus_LUpgrade", &token).await;
    assert_eq!(
        history(&upgraded),
        [eur("2025-01-01", 2900), eur("2025-06-10", 5900)],
        "{upgraded}"
    );
    assert_eq!(upgraded["mrr"], 5900);
    // Paid to May 1 and paused then: back to 0 on that day.
    let paused = ok(&app, "/v1/customers/cus_LPaused", &token).await;
    assert_eq!(
        history(&paused),
        [eur("2025-01-01", 2900), eur("2025-05-01", 0)],
        "{paused}"
    );
    // €290 a year, 2417 cents a month, until the pause on 2025-05-15.
    let annual = ok(&app, "/v1/customers/cus_LAnnual", &token).await;
    assert_eq!(
        history(&annual),
        [eur("2024-08-01", 2417), eur("2025-05-15", 0)],
        "{annual}"
    );

    // Every customer: factors consistent with the list's score; the one set to cancel
    // has the pending cancellation's 40 points.
    let list = ok(&app, "/v1/customers?limit=200", &token).await;
    let rows = list["data"].as_array().unwrap();
    assert!(rows.len() >= 10, "{list}");
    for row in rows {
        let id = row["id"].as_str().unwrap();
        let profile = ok(&app, &format!("/v1/customers/{id}"), &token).await;
        assert_eq!(profile["risk"]["churn"], row["risk"]["churn"], "{id}");
        check_churn_factors(&profile);
        check_mrr_history(&profile);
    }
    let cancelling = ok(&app, "/v1/customers/cus_T000000", &token).await;
    let pending = &cancelling["risk"]["churn_factors"][0];
    assert_eq!(pending["factor"], "pending_cancellation", "{cancelling}");
    assert_eq!(pending["observed"], 1, "{cancelling}");
    assert_eq!(pending["points"], 40, "{cancelling}");
    assert!(int(&cancelling["risk"], "churn") >= 40, "{cancelling}");
}

/// `POST /v1/integrations` with the fake's restricted key, then a sync.
async fn fake_stripe_data(app: &TestApp, user: &TestUser, token: &str) -> String {
    let id = app.connect_fake_stripe(token).await;
    app.sync_now(user, &id).await;
    id
}

#[tokio::test]
async fn queries_never_cross_tenants_and_forget_a_disconnected_integration_at_once() {
    let fake = FakeStripe::start(Scenario::new(8)).await;
    let vars = fake.config_vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let a = app.signup_as("a-owner@example.com", "Tenant A").await;
    let a_token = app.login(&a).await;
    let b = app.signup_as("b-owner@example.com", "Tenant B").await;
    let b_token = app.login(&b).await;

    // B has data; A has none, and sees none of B's.
    let b_integration = fake_stripe_data(&app, &b, &b_token).await;
    let b_rows = all_customers(&app, "", &b_token).await;
    assert_eq!(b_rows.len(), 8);
    assert!(
        b_rows
            .iter()
            .all(|r| r["integration"] == b_integration.as_str())
    );
    let b_id = b_rows[0]["id"].as_str().unwrap().to_owned();
    for path in [
        "/v1/metrics/summary".to_owned(),
        "/v1/metrics/mrr".to_owned(),
        "/v1/dimensions".to_owned(),
        "/v1/segments".to_owned(),
        "/v1/customers".to_owned(),
        format!("/v1/customers/{b_id}"),
    ] {
        refused(&app, &path, &a_token, 409, "no_data_yet").await;
    }

    // A's own data (the same fake account, so the same customer ids): A's rows and
    // profiles are A's integration's, never B's.
    let a_integration = fake_stripe_data(&app, &a, &a_token).await;
    assert_ne!(a_integration, b_integration);
    let a_rows = all_customers(&app, "", &a_token).await;
    assert_eq!(a_rows.len(), 8);
    assert!(
        a_rows
            .iter()
            .all(|r| r["integration"] == a_integration.as_str())
    );
    let a_profile = ok(&app, &format!("/v1/customers/{b_id}"), &a_token).await;
    assert_eq!(a_profile["integration"], a_integration.as_str());
    assert_eq!(
        a_profile["dimensions"]["integration"],
        a_integration.as_str()
    );
    let a_dimensions = ok(&app, "/v1/dimensions", &a_token).await;
    assert_eq!(a_dimensions["integration"], json!([a_integration]));
    let b_only = ok(
        &app,
        &format!("/v1/metrics/mrr?filter[integration]={b_integration}"),
        &a_token,
    )
    .await;
    assert!(
        values(points(&b_only)).iter().all(|v| *v == 0),
        "B's MRR is not A's"
    );
    // The sensitive card of customer 0 never shows, not even in a profile.
    let profile = ok(&app, "/v1/customers/cus_T000000", &a_token).await;
    let text = profile.to_string();
    for secret in ["4242424242424242", "fp_SENSITIVE", "fpT", "last4", "1881"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let summary_before = ok(&app, "/v1/metrics/summary", &b_token).await;
    assert!(int(&summary_before, "mrr") > 0, "{summary_before}");

    // B disconnects: its data is gone from every query at once, A's stays.
    let response = app
        .delete(&format!("/v1/integrations/{b_integration}"), &b_token)
        .await;
    assert_eq!(response.status(), 202);
    let b_after = ok(&app, "/v1/customers", &b_token).await;
    assert_eq!(
        b_after["data"],
        json!([]),
        "no customer of the disconnected integration"
    );
    assert!(b_after["next_cursor"].is_null());
    refused(
        &app,
        &format!("/v1/customers/{b_id}"),
        &b_token,
        404,
        "not_found",
    )
    .await;
    let summary_after = ok(&app, "/v1/metrics/summary", &b_token).await;
    assert_eq!(int(&summary_after, "mrr"), 0, "{summary_after}");
    assert_eq!(int(&summary_after, "customers"), 0, "{summary_after}");
    let mrr_after = ok(&app, "/v1/metrics/mrr", &b_token).await;
    assert!(values(points(&mrr_after)).iter().all(|v| *v == 0));
    let segments_after = ok(&app, "/v1/segments", &b_token).await;
    assert!(
        segments_after["segments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["customers"] == 0),
        "{segments_after}"
    );
    let dimensions_after = ok(&app, "/v1/dimensions", &b_token).await;
    assert!(
        !dimensions_after.to_string().contains(&b_integration),
        "{dimensions_after}"
    );
    assert_eq!(
        all_customers(&app, "", &a_token).await.len(),
        8,
        "A keeps its data"
    );
}

/// The promise "Start MRR + Σ movements = end MRR, exactly, for every period and every
/// group". The engine holds it in fixed point, but each served field is rounded to
/// minor units on its own, so the served integers miss it by ±1 in some periods (and
/// ARR is not 12 × the served MRR).
#[tokio::test]
async fn served_movements_and_arr_add_up_in_minor_units() {
    let (app, admin, token) = pinned_app().await;
    demo_data(&app, &admin).await;
    let path = format!("/v1/metrics/mrr_movements?from={HISTORY_FROM}&group_by=country");
    let body = ok(&app, &path, &token).await;
    let mut all = vec![("total".to_owned(), points(&body).clone())];
    all.extend(groups(&body));
    for (key, series) in &all {
        for p in series {
            let movements = int(p, "new") + int(p, "expansion") + int(p, "reactivation")
                - int(p, "contraction")
                - int(p, "churn")
                + int(p, "plan_switch");
            assert_eq!(
                int(p, "start_mrr") + int(p, "net"),
                int(p, "mrr"),
                "{key}: {p}"
            );
            assert_eq!(int(p, "net"), movements, "{key}: {p}");
        }
    }
    // Groups sum to the total exactly in the engine's fixed point; served, each is
    // rounded once, so their sum is within half a unit per group of the served total.
    let total = values(points(&body));
    let bound = (all.len() as i64 - 1) / 2 + 1;
    for (index, value) in total.iter().enumerate() {
        let sum: i64 = all[1..].iter().map(|(_, g)| int(&g[index], "value")).sum();
        assert!(
            (sum - value).abs() <= bound,
            "period {index}: groups {sum} vs total {value}"
        );
    }
    let summary = ok(&app, "/v1/metrics/summary", &token).await;
    assert_eq!(int(&summary, "arr"), 12 * int(&summary, "mrr"), "{summary}");
}

/// docs/api.md: money is integer minor units, times are RFC 3339 strings. A profile serves
/// the engine's fixed point (millionths of a minor unit) for `subscriptions[].mrr` and
/// `mrr_by_currency`, and Unix seconds for its times.
#[tokio::test]
async fn a_customer_profile_serves_money_in_minor_units_and_times_as_rfc3339() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let vars = fake.config_vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    fake_stripe_data(&app, &admin, &token).await;
    let profile = ok(&app, "/v1/customers/cus_T000000", &token).await;
    let mrr = int(&profile, "mrr");
    assert!(mrr > 0, "{profile}");
    let subscriptions: i64 = profile["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| int(s, "mrr"))
        .sum();
    assert_eq!(
        subscriptions, mrr,
        "subscriptions' MRR in minor units: {profile}"
    );
    let currency = profile["currency"].as_str().unwrap();
    assert_eq!(profile["mrr_by_currency"][currency], mrr, "{profile}");
    let is_time = |v: &Value| {
        v.as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
    };
    for field in ["created", "first_payment_at", "last_payment_at"] {
        assert!(is_time(&profile[field]), "{field}: {}", profile[field]);
    }
    for payment in profile["payments"].as_array().unwrap() {
        assert!(is_time(&payment["at"]), "{payment}");
    }
    for subscription in profile["subscriptions"].as_array().unwrap() {
        assert!(is_time(&subscription["created"]), "{subscription}");
    }
}
