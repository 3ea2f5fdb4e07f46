//! Issue 18, item 6: every series and list of the query function downloads as CSV
//! (`?format=csv` or `Accept: text/csv`), RFC 4180 with a header row, money in major
//! units with its currency in a column; the same figures as the JSON reply the role
//! gets (viewers: aggregates only, suppressed alike). Each CSV is read back with the
//! `csv` crate.

use std::collections::{BTreeSet, HashMap};

use reqwest::Response;
use serde_json::Value;
use tally::domain::ids::TenantId;
use tally::ports::Clock;
use tally_tests::fake_stripe::{FakeStripe, Scenario};

use crate::helpers::{TestApp, TestUser, error_code, spawn_app_with};

/// A CSV reply read back: its columns by name, one map per row.
struct Table {
    header: Vec<String>,
    rows: Vec<HashMap<String, String>>,
}

impl Table {
    fn column(&self, name: &str) -> Vec<&str> {
        self.rows.iter().map(|r| r[name].as_str()).collect()
    }
}

async fn get_with(app: &TestApp, path: &str, token: &str, accept: Option<&str>) -> Response {
    let mut req = reqwest::Client::new()
        .get(format!("{}{}", app.address, path))
        .bearer_auth(token);
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    req.send().await.expect("the request is sent")
}

async fn json(app: &TestApp, path: &str, token: &str) -> Value {
    let response = get_with(app, path, token, None).await;
    assert_eq!(response.status(), 200, "GET {path}");
    assert!(content_type(&response).starts_with("application/json"));
    response.json().await.unwrap()
}

fn content_type(response: &Response) -> String {
    response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn with_format(path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}format=csv")
}

/// `path` with `format=csv`: a 200 `text/csv` attachment, parsed. Also the `Link`.
async fn csv_reply(app: &TestApp, path: &str, token: &str) -> (Table, Option<String>) {
    let response = get_with(app, &with_format(path), token, None).await;
    assert_eq!(response.status(), 200, "GET {path} as CSV");
    assert_eq!(
        content_type(&response),
        "text/csv; charset=utf-8; header=present"
    );
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"tally-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let link = response
        .headers()
        .get("link")
        .map(|l| l.to_str().unwrap().to_owned());
    (parse(&response.bytes().await.unwrap()), link)
}

fn parse(bytes: &[u8]) -> Table {
    let mut reader = ::csv::Reader::from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .expect("a header row")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.expect("an RFC 4180 record");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    Table { header, rows }
}

/// Major units back to minor units, exactly, checking the currency's decimals
/// (ISO 4217: JPY 0, EUR and USD 2).
fn minor(text: &str, currency: &str) -> i64 {
    let decimals = if currency == "jpy" { 0 } else { 2 };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    assert_eq!(fraction.len(), decimals, "{text} in {currency}");
    let negative = whole.starts_with('-');
    let digits = format!("{}{fraction}", whole.trim_start_matches('-'));
    let value: i64 = digits.parse().unwrap();
    if negative { -value } else { value }
}

/// A ratio cell against the JSON's number. Both are written shortest-round-trip, but
/// serde_json's default parser (without `float_roundtrip`) may read the last bit off:
/// equal within an ulp or two.
fn assert_ratio(cell: &str, json: f64, what: &str) {
    let cell: f64 = cell
        .parse()
        .unwrap_or_else(|_| panic!("{what}: a number, not {cell:?}"));
    assert!(
        (cell - json).abs() <= 4.0 * f64::EPSILON * json.abs().max(1.0),
        "{what}: {cell} vs {json}"
    );
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("an integer: {v}"))
}

/// One tenant: a 40-customer demo (three currencies, groups small and large) and the
/// fake Stripe, whose customer 6 pays 3,000 yen a month on a plan named with a comma,
/// quotes and a newline, customer 8 a plan named like a formula, and customer 3's card
/// expires before its next renewal.
async fn tenant() -> (TestApp, TestUser, String, FakeStripe) {
    let fake = FakeStripe::start(Scenario::new(10)).await;
    fake.update_subscription("sub_T000006", |s| {
        s["currency"] = "jpy".into();
        let price = &mut s["items"]["data"][0]["price"];
        price["id"] = "price_TYen".into();
        price["currency"] = "jpy".into();
        price["unit_amount"] = 3000.into();
        price["unit_amount_decimal"] = "3000".into();
        price["nickname"] = "Pro, \"Gold\"\nyearly".into();
    });
    fake.update_subscription("sub_T000008", |s| {
        let price = &mut s["items"]["data"][0]["price"];
        price["id"] = "price_TFormula".into();
        price["nickname"] = "=HYPERLINK(\"x\")".into();
    });
    // Customer 3's card (April 2029) expires before its renewal in 2030: at risk.
    fake.update_subscription("sub_T000003", |s| {
        s["items"]["data"][0]["current_period_end"] = 1_900_000_000.into();
    });
    let vars = fake.config_vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let demo = app
        .services
        .integrations
        .connect_demo_of(&tenant, 7, Some(40))
        .await
        .unwrap();
    app.services
        .ingestion
        .sync_integration(&tenant, &demo)
        .await
        .unwrap();
    let stripe = app.connect_fake_stripe(&token).await;
    app.sync_now(&admin, &stripe).await;
    (app, admin, token, fake)
}

/// Each point of a JSON series against its CSV row: money exact in major units.
fn assert_series_matches(
    json: &Value,
    rows: &[&HashMap<String, String>],
    columns: &[&str],
    money_value: bool,
) {
    // Integers that are counts; every other integer is money.
    let counts: Vec<&str> = if money_value {
        vec!["count", "converted"]
    } else {
        columns.to_vec()
    };
    let currency = json["currency"].as_str().unwrap();
    let points = json["series"].as_array().unwrap();
    assert_eq!(rows.len(), points.len());
    for (point, row) in points.iter().zip(rows) {
        assert_eq!(row["period_start"], point["period_start"].as_str().unwrap());
        assert_eq!(row["period_end"], point["period_end"].as_str().unwrap());
        assert_eq!(row["currency"], currency);
        for column in columns {
            let (cell, value) = (row[*column].as_str(), &point[*column]);
            match value {
                Value::Null => assert_eq!(cell, "", "{column}"),
                Value::Number(n) if n.is_f64() => assert_ratio(cell, n.as_f64().unwrap(), column),
                Value::Number(_) if counts.contains(column) => {
                    assert_eq!(cell.parse::<i64>().unwrap(), int(value), "{column}")
                }
                _ => assert_eq!(minor(cell, currency), int(value), "{column}"),
            }
        }
        assert_eq!(row["suppressed"], "false");
    }
}

#[tokio::test]
async fn every_series_and_list_downloads_as_the_figures_of_its_json() {
    let (app, _admin, token, _fake) = tenant().await;

    let summary = json(&app, "/v1/metrics/summary", &token).await;
    let (table, _) = csv_reply(&app, "/v1/metrics/summary", &token).await;
    assert_eq!(table.header[..4], ["as_of", "currency", "mrr", "arr"]);
    let row = &table.rows[0];
    let currency = summary["currency"].as_str().unwrap();
    assert_eq!(row["currency"], currency);
    for money in ["mrr", "arr", "arpu", "ltv"] {
        assert_eq!(
            minor(&row[money], currency),
            int(&summary[money]),
            "{money}"
        );
    }
    assert_eq!(row["customers"], summary["customers"].to_string());
    for ratio in ["customer_churn_rate", "revenue_churn_rate", "nrr"] {
        match summary[ratio].as_f64() {
            Some(r) => assert_ratio(&row[ratio], r, ratio),
            None => assert_eq!(row[ratio], ""),
        }
    }
    assert!(summary["mrr"].as_i64().unwrap() > 0);

    let range = "from=2024-01-01&interval=quarter";
    for (metric, money_value, columns) in [
        ("mrr", true, &["value"][..]),
        ("customer_churn_rate", false, &["value"]),
        ("customers", false, &["value"]),
        ("arpu", true, &["value"]),
        (
            "mrr_movements",
            true,
            &[
                "value",
                "start_mrr",
                "mrr",
                "new",
                "expansion",
                "contraction",
                "churn",
                "reactivation",
                "plan_switch",
                "net",
            ],
        ),
        (
            "customer_movements",
            false,
            &[
                "value",
                "start_customers",
                "customers",
                "new",
                "expansion",
                "contraction",
                "churn",
                "reactivation",
                "net",
            ],
        ),
        ("quick_ratio", false, &["value"]),
        ("refunds", true, &["value", "count", "amount"]),
        ("failed_payments", true, &["value", "count", "amount"]),
        ("trial_conversion", false, &["value", "count", "converted"]),
    ] {
        let path = format!("/v1/metrics/{metric}?{range}");
        let body = json(&app, &path, &token).await;
        let (table, _) = csv_reply(&app, &path, &token).await;
        let mut expected = vec!["period_start", "period_end", "currency", "value"];
        expected.extend(columns.iter().skip(1));
        expected.push("suppressed");
        assert_eq!(table.header, expected, "{metric}");
        let rows: Vec<_> = table
            .rows
            .iter()
            .filter(|r| !r["period_start"].is_empty())
            .collect();
        assert_series_matches(&body, &rows, columns, money_value);
    }

    // Plan flows: one row per (period, flow), the period's value on each.
    let path = "/v1/metrics/plan_flows?from=2024-01-01&interval=year";
    let body = json(&app, path, &token).await;
    let (table, _) = csv_reply(&app, path, &token).await;
    let currency = body["currency"].as_str().unwrap();
    let mut flows_seen = 0;
    for point in body["series"].as_array().unwrap() {
        let start = point["period_start"].as_str().unwrap();
        let rows: Vec<_> = table
            .rows
            .iter()
            .filter(|r| r["period_start"] == start)
            .collect();
        let flows = point["flows"].as_array().unwrap();
        assert_eq!(rows.len(), flows.len().max(1), "{start}");
        for row in &rows {
            assert_eq!(minor(&row["value"], currency), int(&point["value"]));
        }
        for (flow, row) in flows.iter().zip(&rows) {
            assert_eq!(row["from_plan"], flow["from"].as_str().unwrap());
            assert_eq!(row["to_plan"], flow["to"].as_str().unwrap());
            assert_eq!(row["switches"], flow["switches"].to_string());
            assert_eq!(minor(&row["flow_mrr"], currency), int(&flow["mrr"]));
            flows_seen += 1;
        }
    }
    assert!(flows_seen > 0, "the demo switches plans");

    // Grouped: the whole series (empty group), then each group's periods.
    let path = format!("/v1/metrics/mrr?{range}&group_by=currency");
    let body = json(&app, &path, &token).await;
    let (table, _) = csv_reply(&app, &path, &token).await;
    assert_eq!(table.header[0], "group");
    let whole: Vec<_> = table
        .rows
        .iter()
        .filter(|r| r["group"].is_empty())
        .collect();
    assert_series_matches(&body, &whole, &["value"], true);
    for group in body["groups"].as_array().unwrap() {
        let key = group["key"].as_str().unwrap();
        let rows: Vec<_> = table.rows.iter().filter(|r| r["group"] == key).collect();
        let mut as_series = group.clone();
        as_series["currency"] = body["currency"].clone();
        assert_series_matches(&as_series, &rows, &["value"], true);
    }

    let body = json(&app, "/v1/dimensions", &token).await;
    let (table, _) = csv_reply(&app, "/v1/dimensions", &token).await;
    let from_json: BTreeSet<(String, String)> = body
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(d, values)| {
            values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| (d.clone(), v.as_str().unwrap().to_owned()))
        })
        .collect();
    let from_csv: BTreeSet<(String, String)> = table
        .rows
        .iter()
        .map(|r| {
            (
                r["dimension"].clone(),
                r["value"].trim_start_matches('\'').to_owned(),
            )
        })
        .collect();
    assert_eq!(from_csv, from_json);

    let body = json(&app, "/v1/segments", &token).await;
    let (table, _) = csv_reply(&app, "/v1/segments", &token).await;
    let currency = body["currency"].as_str().unwrap();
    let segments = body["segments"].as_array().unwrap();
    assert_eq!(table.rows.len(), segments.len());
    for (segment, row) in segments.iter().zip(&table.rows) {
        assert_eq!(row["segment"], segment["name"].as_str().unwrap());
        assert_eq!(row["customers"], segment["customers"].to_string());
        assert_eq!(minor(&row["mrr"], currency), int(&segment["mrr"]));
        assert_eq!(row["currency"], currency);
    }

    // The cohort triangle: one row per cohort and offset, by country after the whole.
    let path = "/v1/metrics/cohorts?group_by=country";
    let body = json(&app, path, &token).await;
    let (table, _) = csv_reply(&app, path, &token).await;
    let currency = body["currency"].as_str().unwrap();
    let mut expected = Vec::new();
    let groups = body["groups"].as_array().unwrap();
    let triangles = std::iter::once(("", &body["cohorts"])).chain(
        groups
            .iter()
            .map(|g| (g["key"].as_str().unwrap(), &g["cohorts"])),
    );
    for (group, cohorts) in triangles {
        for cohort in cohorts.as_array().unwrap() {
            for cell in cohort["periods"].as_array().unwrap() {
                expected.push((
                    group.to_owned(),
                    cohort["cohort"].as_str().unwrap().to_owned(),
                    cell.clone(),
                ));
            }
        }
    }
    assert!(expected.len() > 12, "a year of cohorts has cells");
    assert_eq!(table.rows.len(), expected.len());
    for ((group, cohort, cell), row) in expected.iter().zip(&table.rows) {
        assert_eq!((&row["group"], &row["cohort"]), (group, cohort));
        assert_eq!(row["offset"], cell["offset"].to_string());
        assert_eq!(row["customers"], cell["customers"].to_string());
        assert_eq!(minor(&row["mrr"], currency), int(&cell["mrr"]));
        if let Some(logo) = cell["logo_retention"].as_f64() {
            assert_ratio(&row["logo_retention"], logo, "logo retention");
        }
    }
    // The forecast: the trailing months, then the forecast with its band.
    let path = "/v1/metrics/forecast?months=6";
    let body = json(&app, path, &token).await;
    let (table, _) = csv_reply(&app, path, &token).await;
    let currency = body["currency"].as_str().unwrap();
    let history = body["history"].as_array().unwrap();
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 6);
    assert_eq!(table.rows.len(), history.len() + series.len());
    for (point, row) in history.iter().chain(series).zip(&table.rows) {
        assert_eq!(row["period_start"], point["period_start"].as_str().unwrap());
        assert_eq!(minor(&row["mrr"], currency), int(&point["mrr"]));
        assert_eq!(row["model"], "trailing_movement_rates_v1");
    }
    for (point, row) in series.iter().zip(&table.rows[history.len()..]) {
        assert_eq!(row["kind"], "forecast");
        assert_eq!(minor(&row["mrr_low"], currency), int(&point["mrr_low"]));
        assert_eq!(minor(&row["mrr_high"], currency), int(&point["mrr_high"]));
    }

    // The customer list pages as in JSON; the next page is the `Link`.
    let mut path = "/v1/customers?limit=20&sort=ltv".to_owned();
    let mut seen = 0;
    loop {
        let body = json(&app, &path, &token).await;
        let (table, link) = csv_reply(&app, &path, &token).await;
        let data = body["data"].as_array().unwrap();
        assert_eq!(table.rows.len(), data.len());
        for (customer, row) in data.iter().zip(&table.rows) {
            assert_eq!(row["id"], customer["id"].as_str().unwrap());
            assert_eq!(row["email"], customer["email"].as_str().unwrap_or_default());
            let currency = customer["currency"].as_str().unwrap_or_default();
            assert_eq!(row["currency"], currency);
            assert_eq!(minor(&row["mrr"], currency), int(&customer["mrr"]));
            assert_eq!(
                minor(&row["lifetime_revenue"], currency),
                int(&customer["lifetime_revenue"])
            );
            let reporting = &customer["reporting_mrr"];
            let reporting_currency = reporting["currency"].as_str().unwrap();
            assert_eq!(row["reporting_currency"], reporting_currency);
            assert_eq!(
                minor(&row["reporting_mrr"], reporting_currency),
                int(&reporting["amount"])
            );
            assert_eq!(row["churn_risk"], customer["risk"]["churn"].to_string());
        }
        seen += data.len();
        match body["next_cursor"].as_str() {
            Some(cursor) => {
                let link = link.expect("a Link to the next page");
                let next = link
                    .strip_prefix('<')
                    .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                    .expect("<url>; rel=\"next\"");
                assert!(next.starts_with("/v1/customers?"), "{next}");
                assert!(next.contains("sort=ltv") && next.contains("limit=20"));
                let url = reqwest::Url::parse(&format!("http://x{next}")).unwrap();
                let linked = url.query_pairs().find(|(k, _)| k == "cursor").unwrap().1;
                assert_eq!(linked, cursor);
                path = next.replace("&format=csv", "").replace("format=csv&", "");
            }
            None => {
                assert!(link.is_none());
                break;
            }
        }
    }
    assert_eq!(seen, 50, "40 demo and 10 fake Stripe customers");

    let path = "/v1/insights/payment-failure-risk?limit=200";
    let body = json(&app, path, &token).await;
    let (table, _) = csv_reply(&app, path, &token).await;
    let data = body["data"].as_array().unwrap();
    assert!(!data.is_empty(), "customer 3's card expires before renewal");
    assert_eq!(table.rows.len(), data.len());
    for (risk, row) in data.iter().zip(&table.rows) {
        let currency = risk["currency"].as_str().unwrap();
        assert_eq!(row["customer"], risk["customer"].as_str().unwrap());
        assert_eq!(
            minor(&row["mrr_at_risk"], currency),
            int(&risk["mrr_at_risk"])
        );
        assert_eq!(
            row["card_expires_year"],
            risk["card_expires"]["year"].to_string()
        );
    }
}

#[tokio::test]
async fn names_are_quoted_formulas_neutralised_and_yen_have_no_decimals() {
    let (app, _admin, token, _fake) = tenant().await;

    let (table, _) = csv_reply(&app, "/v1/dimensions", &token).await;
    let plans: Vec<&str> = table
        .rows
        .iter()
        .filter(|r| r["dimension"] == "plan")
        .map(|r| r["value"].as_str())
        .collect();
    // Read back whole: the comma, the quotes and the newline were quoted (RFC 4180).
    assert!(plans.contains(&"Pro, \"Gold\"\nyearly"), "{plans:?}");
    // A formula is text, with OWASP's leading quote.
    assert!(plans.contains(&"'=HYPERLINK(\"x\")"), "{plans:?}");

    // The yen customer's own, unconverted series: whole yen.
    let path = "/v1/metrics/mrr?filter[currency]=jpy&currency=jpy&interval=month";
    let body = json(&app, path, &token).await;
    let (table, _) = csv_reply(&app, path, &token).await;
    assert_eq!(body["currency"], "jpy");
    let last = table.rows.last().expect("a period");
    assert_eq!(last["currency"], "jpy");
    assert_eq!(last["value"], "3000");
    assert_eq!(
        int(&body["series"].as_array().unwrap().last().unwrap()["value"]),
        3000
    );

    // Grouped by plan: the odd name is one group, quoted, with its rows.
    let (table, _) = csv_reply(&app, "/v1/metrics/mrr?group_by=plan&currency=jpy", &token).await;
    assert!(table.column("group").contains(&"Pro, \"Gold\"\nyearly"));

    let (table, _) = csv_reply(&app, "/v1/customers?limit=200", &token).await;
    let yen = table
        .rows
        .iter()
        .find(|r| r["id"] == "cus_T000006")
        .unwrap();
    assert_eq!(
        (yen["currency"].as_str(), yen["mrr"].as_str()),
        ("jpy", "3000")
    );
}

#[tokio::test]
async fn a_viewers_csv_is_suppressed_like_its_json_and_lists_no_customer() {
    let (app, _admin, token, _fake) = tenant().await;
    let (_, viewer) = app.user_with_role(&token, "viewer").await;

    let path = "/v1/metrics/mrr?group_by=country&interval=quarter";
    let body = json(&app, path, &viewer).await;
    let (table, _) = csv_reply(&app, path, &viewer).await;
    let mut hidden = 0;
    for group in body["groups"].as_array().unwrap() {
        let key = group["key"].as_str().unwrap();
        let rows: Vec<_> = table.rows.iter().filter(|r| r["group"] == key).collect();
        if group["suppressed"] == true {
            hidden += 1;
            // One row saying so, with no figure.
            assert_eq!(rows.len(), 1, "{key}");
            assert_eq!(rows[0]["suppressed"], "true");
            assert_eq!(rows[0]["value"], "");
            assert_eq!(rows[0]["period_start"], "");
        } else {
            let mut as_series = group.clone();
            as_series["currency"] = body["currency"].clone();
            assert_series_matches(&as_series, &rows, &["value"], true);
        }
    }
    assert!(hidden > 0, "50 customers leave some country under 5");

    // A filter on a small slice: no figure at all, as in JSON.
    let small = body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["suppressed"] == true)
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/metrics/mrr?filter[country]={small}");
    assert_eq!(json(&app, &path, &viewer).await["suppressed"], true);
    let (table, _) = csv_reply(&app, &path, &viewer).await;
    assert_eq!(table.rows.len(), 1);
    assert_eq!(table.rows[0]["suppressed"], "true");
    assert_eq!(table.rows[0]["value"], "");
    let path = format!("/v1/metrics/summary?filter[country]={small}");
    let (table, _) = csv_reply(&app, &path, &viewer).await;
    assert_eq!(table.rows[0]["suppressed"], "true");
    let currency = table.rows[0]["currency"].clone();
    assert_eq!(minor(&table.rows[0]["mrr"], &currency), 0);

    // The analyst's CSV of the same slice has the figures.
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let (table, _) = csv_reply(&app, &path, &analyst).await;
    assert_eq!(table.rows[0]["suppressed"], "false");

    // No city, and no per-customer list in any representation.
    let (table, _) = csv_reply(&app, "/v1/dimensions", &viewer).await;
    assert!(!table.column("dimension").contains(&"city"));
    for path in [
        "/v1/customers?format=csv",
        "/v1/insights/payment-failure-risk?format=csv",
        "/v1/metrics/mrr?group_by=city&format=csv",
    ] {
        let response = get_with(&app, path, &viewer, None).await;
        assert_eq!(response.status(), 403, "{path}");
        assert_eq!(error_code(response).await, "forbidden");
    }
    let response = get_with(&app, "/v1/customers", &viewer, Some("text/csv")).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn format_and_accept_choose_json_or_csv_and_nothing_else() {
    let (app, _admin, token, _fake) = tenant().await;
    let is_csv = |r: &Response| content_type(r).starts_with("text/csv");

    for (accept, csv) in [
        (None, false),
        (Some("application/json"), false),
        (Some("text/csv"), true),
        (Some("text/*;q=0.9, application/json;q=0.5"), true),
        (Some("text/csv;q=0.2, */*"), false),
        (Some("text/html,application/xhtml+xml,*/*;q=0.8"), false),
    ] {
        let response = get_with(&app, "/v1/metrics/mrr", &token, accept).await;
        assert_eq!(response.status(), 200, "{accept:?}");
        assert_eq!(is_csv(&response), csv, "{accept:?}");
        assert_eq!(response.headers()["vary"], "accept");
    }

    // `format` wins over Accept.
    let response = get_with(&app, "/v1/segments?format=json", &token, Some("text/csv")).await;
    assert!(!is_csv(&response));
    let response = get_with(
        &app,
        "/v1/segments?format=csv",
        &token,
        Some("application/json"),
    )
    .await;
    assert!(is_csv(&response));

    for path in [
        "/v1/metrics/mrr?format=xml",
        "/v1/customers?format=",
        "/v1/dimensions?format=CSVX",
    ] {
        let response = get_with(&app, path, &token, None).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request");
        assert_eq!(body["error"]["details"]["field"], "format");
    }

    let response = get_with(&app, "/v1/metrics/summary", &token, Some("text/html")).await;
    assert_eq!(response.status(), 406);
    assert_eq!(error_code(response).await, "not_acceptable");

    // The file is named for the route and the day, nothing of the tenant.
    let response = get_with(&app, "/v1/metrics/mrr_movements?format=csv", &token, None).await;
    let today = app.clock.now().date_naive();
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"tally-metrics-mrr_movements-{today}.csv\"").as_str()
    );
}

#[tokio::test]
async fn an_admin_downloads_the_users_and_the_audit_log_as_their_json_pages() {
    let (app, _admin, token, _fake) = tenant().await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;

    let body = json(&app, "/v1/users?limit=1", &token).await;
    let (table, link) = csv_reply(&app, "/v1/users?limit=1", &token).await;
    assert_eq!(
        table.header,
        [
            "id",
            "email",
            "role",
            "disabled",
            "invited",
            "mfa_enabled",
            "created_at"
        ]
    );
    let user = &body["data"][0];
    assert_eq!(table.rows.len(), 1);
    assert_eq!(table.rows[0]["id"], user["id"].as_str().unwrap());
    assert_eq!(table.rows[0]["email"], user["email"].as_str().unwrap());
    assert_eq!(table.rows[0]["role"], user["role"].as_str().unwrap());
    let cursor = body["next_cursor"].as_str().expect("two users");
    assert!(link.unwrap().contains(&format!("cursor={cursor}")));

    let body = json(&app, "/v1/security/audit-log?limit=200", &token).await;
    let (table, _) = csv_reply(&app, "/v1/security/audit-log?limit=200", &token).await;
    let entries = body["data"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert_eq!(
        table.column("action"),
        entries
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        table.column("at"),
        entries
            .iter()
            .map(|e| e["at"].as_str().unwrap())
            .collect::<Vec<_>>()
    );

    for path in ["/v1/users?format=csv", "/v1/security/audit-log?format=csv"] {
        let response = get_with(&app, path, &analyst, None).await;
        assert_eq!(response.status(), 403, "{path}");
    }
}

#[tokio::test]
async fn a_comparison_downloads_with_its_earlier_figures_and_changes() {
    let (app, _admin, token, _fake) = tenant().await;

    let path = "/v1/metrics/mrr?from=2026-01-01&interval=quarter&compare=year";
    let body = json(&app, path, &token).await;
    let (table, _) = csv_reply(&app, path, &token).await;
    let currency = body["currency"].as_str().unwrap();
    for column in [
        "compared_period_start",
        "compared_value",
        "change",
        "relative_change",
    ] {
        assert!(table.header.iter().any(|h| h == column), "{column}");
    }
    let points = body["series"].as_array().unwrap();
    assert_eq!(table.rows.len(), points.len());
    for (point, row) in points.iter().zip(&table.rows) {
        let compared = &point["compared"];
        assert_eq!(
            row["compared_period_start"],
            compared["period_start"].as_str().unwrap()
        );
        assert_eq!(
            minor(&row["compared_value"], currency),
            int(&compared["value"])
        );
        assert_eq!(minor(&row["change"], currency), int(&compared["change"]));
        match compared["relative_change"].as_f64() {
            Some(r) => assert_ratio(&row["relative_change"], r, "relative_change"),
            None => assert_eq!(row["relative_change"], ""),
        }
    }

    let path = "/v1/metrics/summary?compare=previous";
    let body = json(&app, path, &token).await;
    let (table, _) = csv_reply(&app, path, &token).await;
    assert_eq!(table.header[0], "row");
    assert_eq!(
        table.column("row")[..4],
        ["current", "compared", "change", "relative_change"]
    );
    let comparison = &body["comparison"];
    let (earlier, change) = (&table.rows[1], &table.rows[2]);
    assert_eq!(earlier["as_of"], comparison["as_of"].as_str().unwrap());
    assert_eq!(
        minor(&earlier["mrr"], currency),
        int(&comparison["mrr"]["value"])
    );
    assert_eq!(
        minor(&change["mrr"], currency),
        int(&comparison["mrr"]["change"])
    );
    // Customers are a count, not money.
    assert_eq!(
        earlier["customers"],
        comparison["customers"]["value"].to_string()
    );
    assert_eq!(
        change["customers"],
        comparison["customers"]["change"].to_string()
    );
}
