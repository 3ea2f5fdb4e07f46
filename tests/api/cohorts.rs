//! Cohorts and the forecast over HTTP (docs/api.md "Cohorts", "Forecast"), on a small
//! demo tenant (300 customers over 24 months, its "today" pinned): the triangle agrees
//! with the MRR series, filters, `group_by` and quarters, the forecast's shape and
//! band, the 400s, the viewer's k-anonymity and `city`, and 409 before a first sync.
//! The rules themselves are checked by hand in the engine's unit tests.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tally::domain::ids::TenantId;

use crate::helpers::{TestApp, error_code, spawn_app};

const TODAY: &str = "2025-03-14T12:00:00Z";
/// Before the demo's first day: cohorts from here hold every customer.
const HISTORY_FROM: &str = "2023-01-01";
const TO: &str = "2025-03-14";

async fn ok(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

async fn refused(app: &TestApp, path: &str, token: &str, status: u16, code: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), status, "GET {path}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "GET {path}: {body}");
    body
}

fn int(value: &Value, field: &str) -> i64 {
    value[field]
        .as_i64()
        .unwrap_or_else(|| panic!("`{field}` is an integer in {value}"))
}

/// An app whose clock reads [`TODAY`], with its admin's, an analyst's and a viewer's
/// tokens, and the tenant.
async fn app_with_roles() -> (TestApp, TenantId, String, String, String) {
    let app = spawn_app().await;
    app.clock.set(TODAY.parse().unwrap());
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let (_, viewer) = app.user_with_role(&token, "viewer").await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    (app, tenant, token, analyst, viewer)
}

async fn sync_demo(app: &TestApp, tenant: &TenantId) {
    let demo = app
        .services
        .integrations
        .connect_demo_of(tenant, 42, Some(300))
        .await
        .unwrap();
    app.services
        .ingestion
        .sync_integration(tenant, &demo)
        .await
        .unwrap();
}

/// Each cohort's last period (members paying, MRR), summed over the cohorts.
fn last_period_totals(cohorts: &[Value]) -> (i64, i64) {
    cohorts
        .iter()
        .filter_map(|c| c["periods"].as_array()?.last())
        .fold((0, 0), |(customers, mrr), p| {
            (customers + int(p, "customers"), mrr + int(p, "mrr"))
        })
}

/// Same customers, and the same MRR up to each cohort's rounding to minor units (half a
/// unit per cohort at most).
fn agree(triangle: (i64, i64), series: (i64, i64), cohorts: usize, label: &str) {
    assert_eq!(triangle.0, series.0, "{label}: customers");
    let off = (triangle.1 - series.1).unsigned_abs();
    assert!(
        off as usize <= cohorts.div_ceil(2),
        "{label}: {triangle:?} {series:?}"
    );
}

/// The customers and MRR at `to` of the series under `query`.
async fn series_end(app: &TestApp, token: &str, query: &str) -> (i64, i64) {
    let path = |metric: &str| format!("/v1/metrics/{metric}?from={TO}&to={TO}&{query}");
    let mrr = ok(app, &path("mrr"), token).await;
    let customers = ok(app, &path("customers"), token).await;
    (
        int(&customers["series"][0], "value"),
        int(&mrr["series"][0], "value"),
    )
}

/// The shape and ratios of one triangle: offsets up to the range's end, retention as
/// the stated quotients.
fn check_triangle(cohorts: &[Value], label: &str) {
    let count = cohorts.len();
    for (index, cohort) in cohorts.iter().enumerate() {
        let periods = cohort["periods"].as_array().unwrap();
        assert_eq!(periods.len(), count - index, "{label}: a triangle");
        let size = int(cohort, "customers");
        let start = int(cohort, "start_mrr");
        assert_eq!(periods[0]["period_start"], cohort["period_start"]);
        assert_eq!(int(&periods[0], "mrr"), start, "{label}");
        for (offset, period) in periods.iter().enumerate() {
            assert_eq!(int(period, "offset"), offset as i64);
            let paying = int(period, "customers");
            assert!(paying <= size, "{label}: members only");
            match period["logo_retention"].as_f64() {
                Some(ratio) => assert!((ratio - paying as f64 / size as f64).abs() < 1e-9),
                None => assert_eq!(size, 0, "{label}"),
            }
            match period["revenue_retention"].as_f64() {
                Some(ratio) => {
                    // Served amounts are rounded to minor units; the ratio is exact.
                    let expected = int(period, "mrr") as f64 / start as f64;
                    let slack = (1.0 + ratio) / start as f64;
                    assert!(
                        (ratio - expected).abs() <= slack,
                        "{label}: {ratio} {expected}"
                    );
                }
                None => assert_eq!(start, 0, "{label}"),
            }
        }
    }
}

#[tokio::test]
async fn cohorts_and_the_forecast_answer_409_before_a_first_sync_and_400_for_bad_parameters() {
    let (app, _, token, _, _) = app_with_roles().await;
    for path in ["/v1/metrics/cohorts", "/v1/metrics/forecast"] {
        refused(&app, path, &token, 409, "no_data_yet").await;
    }
    let bad = [
        ("/v1/metrics/cohorts?interval=week", "interval"),
        ("/v1/metrics/cohorts?interval=decade", "interval"),
        ("/v1/metrics/cohorts?from=2025-13-01", "from"),
        ("/v1/metrics/cohorts?currency=euro", "currency"),
        ("/v1/metrics/forecast?months=0", "months"),
        ("/v1/metrics/forecast?months=37", "months"),
        ("/v1/metrics/forecast?months=twelve", "months"),
        ("/v1/metrics/forecast?trailing=2", "trailing"),
        ("/v1/metrics/forecast?trailing=25", "trailing"),
        ("/v1/metrics/forecast?as_of=yesterday", "as_of"),
    ];
    for (path, field) in bad {
        let body = refused(&app, path, &token, 400, "invalid_request").await;
        assert_eq!(body["error"]["details"]["field"], field, "{path}");
    }
    refused(
        &app,
        "/v1/metrics/cohorts?group_by=shoe_size",
        &token,
        400,
        "unknown_dimension",
    )
    .await;
    refused(
        &app,
        "/v1/metrics/forecast?filter[shoe_size]=9",
        &token,
        400,
        "unknown_dimension",
    )
    .await;
}

#[tokio::test]
async fn cohorts_on_the_demo_tenant_add_up_to_the_mrr_series_and_each_role_sees_what_it_may() {
    let (app, tenant, admin, analyst, viewer) = app_with_roles().await;
    sync_demo(&app, &tenant).await;

    // Default: the month cohorts of the last 12 months, April 2024 to March 2025.
    let recent = ok(&app, "/v1/metrics/cohorts", &analyst).await;
    assert_eq!(recent["interval"], "month");
    assert_eq!(recent["definition"], "first_payment_period_retention");
    let cohorts = recent["cohorts"].as_array().unwrap();
    assert_eq!(cohorts.len(), 12);
    assert_eq!(cohorts[0]["cohort"], "2024-04");
    assert_eq!(cohorts[11]["cohort"], "2025-03");
    assert_eq!(cohorts[11]["periods"][0]["period_end"], TO);
    check_triangle(cohorts, "default");
    assert!(cohorts.iter().any(|c| int(c, "customers") > 0));
    assert!(recent.get("groups").is_none());

    // From before the first customer, every paying customer is in one cohort: the last
    // column sums to the MRR and customers of the series at `to`.
    let all = format!("/v1/metrics/cohorts?from={HISTORY_FROM}&to={TO}");
    let whole = ok(&app, &all, &admin).await;
    let cohorts = whole["cohorts"].as_array().unwrap();
    check_triangle(cohorts, "whole");
    let end = series_end(&app, &admin, "").await;
    agree(last_period_totals(cohorts), end, cohorts.len(), "whole");
    // Some cohort lost customers and some revenue retention moved off 1.
    assert!(cohorts.iter().any(|c| {
        c["periods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["logo_retention"].as_f64().is_some_and(|r| r < 1.0))
    }));

    // Quarters: the same customers, grouped by quarter.
    let quarters = ok(&app, &format!("{all}&interval=quarter"), &admin).await;
    assert_eq!(quarters["interval"], "quarter");
    let q = quarters["cohorts"].as_array().unwrap();
    assert_eq!(q.first().unwrap()["cohort"], "2023-Q1");
    assert_eq!(q.last().unwrap()["cohort"], "2025-Q1");
    check_triangle(q, "quarters");
    let sizes = |list: &[Value]| list.iter().map(|c| int(c, "customers")).sum::<i64>();
    assert_eq!(sizes(q), sizes(cohorts));
    agree(last_period_totals(q), end, q.len(), "quarters");

    // A filter and a grouping agree with the series under the same filter.
    let dimensions = ok(&app, "/v1/dimensions", &admin).await;
    let countries: Vec<String> = dimensions["country"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let grouped = ok(&app, &format!("{all}&group_by=country"), &admin).await;
    let groups: BTreeMap<String, Value> = grouped["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_owned(), g["cohorts"].clone()))
        .collect();
    assert!(groups.len() > 1);
    for country in countries.iter().take(4) {
        let filter = format!("filter[country]={country}");
        let filtered = ok(&app, &format!("{all}&{filter}"), &admin).await;
        let expected = series_end(&app, &admin, &filter).await;
        let filtered_cohorts = filtered["cohorts"].as_array().unwrap();
        let totals = last_period_totals(filtered_cohorts);
        agree(totals, expected, filtered_cohorts.len(), country);
        if let Some(group) = groups.get(country) {
            assert_eq!(group, &filtered["cohorts"], "{country}");
        }
    }
    let by_plan = ok(&app, &format!("{all}&group_by=plan"), &admin).await;
    for group in by_plan["groups"].as_array().unwrap() {
        check_triangle(group["cohorts"].as_array().unwrap(), "by plan");
    }

    // Viewers: no city; cohorts of fewer than k (5) customers suppressed; a slice of
    // fewer than k customers suppressed whole, as on the other metric routes.
    for path in [
        "/v1/metrics/cohorts?group_by=city".to_owned(),
        "/v1/metrics/cohorts?filter[city]=Berlin".to_owned(),
        "/v1/metrics/forecast?filter[city]=Berlin".to_owned(),
    ] {
        let response = app.get(&path, &viewer).await;
        assert_eq!(response.status(), 403, "{path}");
        assert_eq!(error_code(response).await, "forbidden");
        ok(&app, &path, &analyst).await;
    }
    let seen = ok(&app, &all, &viewer).await;
    let mut hidden = 0;
    for (cohort, full) in seen["cohorts"].as_array().unwrap().iter().zip(cohorts) {
        if int(full, "customers") < 5 {
            hidden += 1;
            assert_eq!(cohort["suppressed"], true, "{cohort}");
            assert_eq!(cohort["customers"], 0);
            assert_eq!(cohort["periods"], json!([]));
        } else {
            assert_eq!(cohort, full);
        }
    }
    assert!(hidden > 0, "a 300-customer demo has cohorts under 5");
    assert!(whole["cohorts"][0].get("suppressed").is_none());
    let mut small_slice = false;
    for country in &countries {
        let filter = format!("filter[country]={country}");
        let mrr = ok(&app, &format!("/v1/metrics/mrr?{filter}"), &viewer).await;
        let triangle = ok(&app, &format!("{all}&{filter}"), &viewer).await;
        let forecast = ok(&app, &format!("/v1/metrics/forecast?{filter}"), &viewer).await;
        if mrr["suppressed"] == true {
            small_slice = true;
            assert_eq!(triangle["suppressed"], true, "{country}");
            assert_eq!(triangle["cohorts"], json!([]));
            assert_eq!(forecast["suppressed"], true, "{country}");
            assert_eq!(forecast["series"], json!([]));
            assert_eq!(forecast["history"], json!([]));
            assert_eq!(forecast["rates"], Value::Null);
        } else {
            assert!(triangle.get("suppressed").is_none(), "{country}");
            assert!(forecast.get("suppressed").is_none(), "{country}");
        }
    }
    assert!(small_slice, "some country has fewer than 5 customers");
    let grouped_seen = ok(&app, &format!("{all}&group_by=country"), &viewer).await;
    for group in grouped_seen["groups"].as_array().unwrap() {
        if group["suppressed"] == true {
            assert_eq!(group["cohorts"], json!([]));
        }
    }
}

#[tokio::test]
async fn the_forecast_names_its_model_and_projects_from_the_last_complete_month() {
    let (app, tenant, admin, _, viewer) = app_with_roles().await;
    sync_demo(&app, &tenant).await;

    let body = ok(&app, "/v1/metrics/forecast", &viewer).await;
    assert_eq!(body["model"], "trailing_movement_rates_v1");
    assert!(body["description"].as_str().unwrap().contains("1.645"));
    assert_eq!(body["z"], 1.645);
    assert_eq!(body["trailing_months"], 6);
    let rates = &body["rates"];
    for field in [
        "new_mrr",
        "reactivation_mrr",
        "expansion_rate",
        "contraction_rate",
        "churn_rate",
        "new_customers",
        "customer_churn_rate",
        "mrr_sigma",
        "customers_sigma",
    ] {
        assert!(rates[field].as_f64().is_some(), "{field} in {rates}");
    }
    assert!(rates["new_mrr"].as_f64().unwrap() > 0.0);
    // Today is 2025-03-14: February is the last complete month.
    let history = body["history"].as_array().unwrap();
    assert_eq!(history.len(), 6);
    assert_eq!(history[0]["period_start"], "2024-09-01");
    assert_eq!(history[5]["period_end"], "2025-02-28");
    let february = ok(
        &app,
        "/v1/metrics/mrr?from=2025-02-01&to=2025-02-28",
        &admin,
    )
    .await;
    assert_eq!(
        int(&history[5], "mrr"),
        int(&february["series"][0], "value")
    );
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 12);
    assert_eq!(series[0]["period_start"], "2025-03-01");
    assert_eq!(series[11]["period_end"], "2026-02-28");
    let mut width = 0;
    for month in series {
        let (low, mrr, high) = (
            int(month, "mrr_low"),
            int(month, "mrr"),
            int(month, "mrr_high"),
        );
        assert!(low <= mrr && mrr <= high, "{month}");
        assert!(high - low >= width, "the band widens");
        width = high - low;
        let customers = int(month, "customers");
        assert!(int(month, "customers_low") <= customers);
        assert!(customers <= int(month, "customers_high"));
    }

    // Its parameters, and a filter to one currency in that currency.
    let short = ok(
        &app,
        "/v1/metrics/forecast?as_of=2024-12-31&months=3&trailing=4",
        &admin,
    )
    .await;
    assert_eq!(short["history"].as_array().unwrap().len(), 4);
    assert_eq!(short["history"][3]["period_end"], "2024-12-31");
    assert_eq!(short["series"].as_array().unwrap().len(), 3);
    assert_eq!(short["series"][0]["period_start"], "2025-01-01");
    let eur = ok(
        &app,
        "/v1/metrics/forecast?filter[currency]=eur&currency=eur",
        &admin,
    )
    .await;
    assert_eq!(eur["currency"], "eur");
    let eur_february = ok(
        &app,
        "/v1/metrics/mrr?from=2025-02-01&to=2025-02-28&filter[currency]=eur&currency=eur",
        &admin,
    )
    .await;
    assert_eq!(
        int(&eur["history"][5], "mrr"),
        int(&eur_february["series"][0], "value")
    );
    assert!(int(&eur["series"][0], "mrr") < int(&series[0], "mrr"));
}
