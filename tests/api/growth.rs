//! Growth metrics and comparisons over HTTP, on the demo tenant that
//! `query::on_the_demo_tenant_the_numbers_add_up_and_each_role_sees_only_what_it_may`
//! builds (one sync serves both).
//!
//! Each served figure is checked against other served figures of the same data: the
//! quick ratio and net MRR churn rate against the `mrr_movements` of the same months,
//! the average sale price against new MRR and new customers, the customer movements
//! against the `customers` series, each compared point against the series of the
//! compared range. Minor units are rounded once per field, so ratios of served
//! integers meet the served ratios up to that rounding.

use serde_json::Value;

use crate::helpers::{TestApp, error_code};

async fn ok(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

fn series(body: &Value) -> &Vec<Value> {
    body["series"].as_array().expect("a series")
}

fn int(point: &Value, field: &str) -> i64 {
    point[field]
        .as_i64()
        .unwrap_or_else(|| panic!("`{field}` is an integer in {point}"))
}

/// Whether `served` is `numerator / denominator` of served integers, each off by at
/// most `terms / 2` minor units of rounding.
fn ratio_matches(served: &Value, numerator: i64, denominator: i64, terms: i64) -> bool {
    if denominator == 0 {
        return served.is_null();
    }
    let Some(value) = served.as_f64() else {
        return false;
    };
    let slack = terms as f64 / 2.0 + 0.5;
    let low = (numerator as f64 - slack) / (denominator as f64 + slack);
    let high = (numerator as f64 + slack) / (denominator as f64 - slack).max(0.5);
    let (low, high) = (low.min(high), low.max(high));
    (low - 1e-9..=high + 1e-9).contains(&value)
}

/// The demo's 2024 by month.
const YEAR: &str = "from=2024-01-01&to=2024-12-31";

pub async fn growth_metrics_add_up(app: &TestApp, token: &str) {
    let movements = ok(app, &format!("/v1/metrics/mrr_movements?{YEAR}"), token).await;
    let quick = ok(app, &format!("/v1/metrics/quick_ratio?{YEAR}"), token).await;
    let net_churn = ok(
        app,
        &format!("/v1/metrics/net_mrr_churn_rate?{YEAR}"),
        token,
    )
    .await;
    let asp = ok(
        app,
        &format!("/v1/metrics/average_sale_price?{YEAR}"),
        token,
    )
    .await;
    let counts = ok(
        app,
        &format!("/v1/metrics/customer_movements?{YEAR}"),
        token,
    )
    .await;
    let customers = ok(app, &format!("/v1/metrics/customers?{YEAR}"), token).await;
    assert_eq!(quick["definition"], "gains_over_losses");
    assert_eq!(
        net_churn["definition"],
        "losses_net_of_expansion_and_reactivation_over_start_mrr"
    );
    assert_eq!(series(&movements).len(), 12);
    let mut lost_months = 0;
    for (i, m) in series(&movements).iter().enumerate() {
        let [new, expansion, contraction, churn, reactivation, start] = [
            "new",
            "expansion",
            "contraction",
            "churn",
            "reactivation",
            "start_mrr",
        ]
        .map(|field| int(m, field));
        lost_months += i64::from(contraction + churn > 0);
        let q = &series(&quick)[i]["value"];
        assert!(
            ratio_matches(q, new + expansion + reactivation, contraction + churn, 3),
            "quick ratio {q} of {m}"
        );
        let n = &series(&net_churn)[i]["value"];
        assert!(
            ratio_matches(n, churn + contraction - expansion - reactivation, start, 5),
            "net MRR churn rate {n} of {m}"
        );
        let c = &series(&counts)[i];
        let [start_customers, new_customers, reactivated, churned, end] = [
            "start_customers",
            "new",
            "reactivation",
            "churn",
            "customers",
        ]
        .map(|field| int(c, field));
        assert_eq!(
            start_customers + new_customers + reactivated - churned,
            end,
            "{c}"
        );
        assert_eq!(int(c, "value"), end - start_customers);
        assert!(int(c, "expansion") >= 0 && int(c, "contraction") >= 0);
        assert_eq!(
            end,
            int(&series(&customers)[i], "value"),
            "customers at {c}"
        );
        // New MRR over new customers, each rounded once.
        let price = int(&series(&asp)[i], "value");
        if new_customers > 0 {
            assert!(
                (price * new_customers - new).abs() <= new_customers,
                "ASP {price} × {new_customers} vs new {new}"
            );
        } else {
            assert_eq!(price, 0);
        }
    }
    assert!(lost_months > 6, "the demo loses MRR in most months");
    // Plan flows: into a plan minus out of it is the plan's plan_switch by plan.
    let flows = ok(app, &format!("/v1/metrics/plan_flows?{YEAR}"), token).await;
    let by_plan = ok(
        app,
        &format!("/v1/metrics/mrr_movements?{YEAR}&group_by=plan"),
        token,
    )
    .await;
    let mut moved = 0;
    for group in by_plan["groups"].as_array().unwrap() {
        let plan = group["key"].as_str().unwrap();
        for (i, point) in series(group).iter().enumerate() {
            let period = series(&flows)[i]["flows"].as_array().unwrap();
            let sum = |side: &str| -> i64 {
                period
                    .iter()
                    .filter(|f| f[side] == plan)
                    .map(|f| int(f, "mrr"))
                    .sum()
            };
            let (into, out) = (sum("to"), sum("from"));
            moved += into;
            let slack = period.len() as i64 + 1;
            assert!(
                (into - out - int(point, "plan_switch")).abs() <= slack,
                "{plan} {}: {into} in, {out} out, {point}",
                point["period_start"]
            );
        }
    }
    assert!(moved > 0, "demo customers change plans");
    for point in series(&flows) {
        let total: i64 = point["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| int(f, "mrr"))
            .sum();
        assert_eq!(int(point, "value"), total);
    }
    let response = app
        .get("/v1/metrics/plan_flows?group_by=country", token)
        .await;
    assert_eq!(response.status(), 400);
    // The summary carries the rates' month's quick ratio and net MRR churn rate: the
    // series' values for that month.
    let summary = ok(app, "/v1/metrics/summary?as_of=2024-12-31", token).await;
    assert_eq!(summary["rates_from"], "2024-11-01");
    assert_eq!(summary["quick_ratio"], series(&quick)[10]["value"]);
    assert_eq!(
        summary["net_mrr_churn_rate"],
        series(&net_churn)[10]["value"]
    );
}

pub async fn comparisons_pair_each_point_with_its_counterpart(app: &TestApp, token: &str) {
    // Previous: H1 2024 against H2 2023, month by month.
    let now = ok(
        app,
        "/v1/metrics/mrr?from=2024-01-01&to=2024-06-30&compare=previous",
        token,
    )
    .await;
    let before = ok(app, "/v1/metrics/mrr?from=2023-07-01&to=2023-12-31", token).await;
    assert_eq!(now["comparison"]["compare"], "previous");
    assert_eq!(now["comparison"]["from"], "2023-07-01");
    assert_eq!(now["comparison"]["to"], "2023-12-30");
    for (point, earlier) in series(&now).iter().zip(series(&before)) {
        let compared = &point["compared"];
        assert_eq!(compared["period_start"], earlier["period_start"]);
        let (value, then) = (int(point, "value"), int(earlier, "value"));
        // The last compared period ends on the 30th: its MRR is read then.
        if earlier["period_start"] != "2023-12-01" {
            assert_eq!(int(compared, "value"), then, "{point}");
        }
        assert_eq!(int(compared, "change"), value - int(compared, "value"));
        let relative = compared["relative_change"].as_f64().unwrap();
        let expected = (value - int(compared, "value")) as f64 / int(compared, "value") as f64;
        assert!((relative - expected).abs() < 1e-12, "{point}");
    }
    // A year earlier by plan: each plan's points pair with that plan's of 2023.
    let by_plan = ok(
        app,
        "/v1/metrics/customers?from=2024-03-01&to=2024-05-31&group_by=plan&compare=year",
        token,
    )
    .await;
    let before = ok(
        app,
        "/v1/metrics/customers?from=2023-03-01&to=2023-05-31&group_by=plan",
        token,
    )
    .await;
    let earlier_groups = before["groups"].as_array().unwrap();
    let mut paired = 0;
    for group in by_plan["groups"].as_array().unwrap() {
        let Some(earlier) = earlier_groups.iter().find(|g| g["key"] == group["key"]) else {
            assert!(group["series"][0]["compared"].is_null());
            continue;
        };
        for (point, then) in series(group).iter().zip(series(earlier)) {
            assert_eq!(
                point["compared"]["value"], then["value"],
                "{}",
                group["key"]
            );
            paired += 1;
        }
    }
    assert!(paired >= 6, "at least two plans existed a year before");
    // Ratios compare as differences; a movement series carries its own fields.
    let rates = ok(
        app,
        "/v1/metrics/customer_churn_rate?from=2024-06-01&to=2024-06-30&compare=year",
        token,
    )
    .await;
    let june = &series(&rates)[0];
    let (now_rate, then_rate) = (
        june["value"].as_f64().unwrap(),
        june["compared"]["value"].as_f64().unwrap(),
    );
    let change = june["compared"]["change"].as_f64().unwrap();
    assert!((change - (now_rate - then_rate)).abs() < 1e-12);
    // The summary: the same figures a month before `as_of`.
    let summary = ok(
        app,
        "/v1/metrics/summary?as_of=2024-12-31&compare=previous",
        token,
    )
    .await;
    let earlier = ok(app, "/v1/metrics/summary?as_of=2024-11-30", token).await;
    let comparison = &summary["comparison"];
    assert_eq!(comparison["as_of"], "2024-11-30");
    assert_eq!(comparison["rates_from"], earlier["rates_from"]);
    for figure in [
        "mrr",
        "arr",
        "customers",
        "arpu",
        "ltv",
        "nrr",
        "quick_ratio",
    ] {
        assert_eq!(comparison[figure]["value"], earlier[figure], "{figure}");
    }
    assert_eq!(
        int(&comparison["mrr"], "change"),
        int(&summary, "mrr") - int(&earlier, "mrr")
    );
    // Without `compare`, no comparison at all.
    let plain = ok(app, "/v1/metrics/summary?as_of=2024-12-31", token).await;
    assert!(plain.get("comparison").is_none());
    assert!(series(&before)[0].get("compared").is_none());
    // Bad values name the parameter.
    for path in [
        "/v1/metrics/mrr?compare=last_year",
        "/v1/metrics/mrr?compare=",
        "/v1/metrics/summary?compare=PREVIOUS",
        // The compared range would start before 1970.
        "/v1/metrics/mrr?from=1970-01-01&to=1970-03-31&compare=previous",
    ] {
        let response = app.get(path, token).await;
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(error_code(response).await, "invalid_request", "{path}");
    }
}
