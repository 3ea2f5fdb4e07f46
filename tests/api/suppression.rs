//! Issue 17, finding 8: a viewer cannot single out a customer through aggregates. A
//! filter, group or segment covering fewer than k customers (k = the tenant's
//! `min_group_size`, 5 by default) is answered `"suppressed": true` without its
//! figures, for every dimension; admins and analysts see everything.

use serde_json::{Value, json};
use tally::domain::ids::TenantId;

use crate::helpers::{TestApp, spawn_app};

async fn body(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// Customers of the analyst's list under `filter` (every page).
async fn customers_under(app: &TestApp, filter: &str, token: &str) -> usize {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/customers?limit=200&{filter}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = body(app, &path, token).await;
        count += page["data"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return count,
        }
    }
}

#[tokio::test]
async fn small_slices_are_suppressed_for_viewers_in_every_dimension() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let (_, viewer) = app.user_with_role(&token, "viewer").await;
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

    let mut suppressed_somewhere = false;
    // Customer-level dimensions, checked against the analyst's customer list; plan and
    // currency (which belong to a customer's MRR) are checked for their shape below.
    for dimension in ["country", "card_brand", "card_funding", "payment_method"] {
        let path = format!("/v1/metrics/mrr?group_by={dimension}");
        let seen = body(&app, &path, &viewer).await;
        let full = body(&app, &path, &analyst).await;
        for (group, unfiltered) in seen["groups"]
            .as_array()
            .unwrap()
            .iter()
            .zip(full["groups"].as_array().unwrap())
        {
            let key = group["key"].as_str().unwrap();
            assert_eq!(unfiltered["key"], key);
            assert!(unfiltered.get("suppressed").is_none(), "analysts see all");
            let filter = format!("filter[{dimension}]={key}");
            let customers = customers_under(&app, &filter, &analyst).await;
            let hidden = group["suppressed"] == true;
            assert_eq!(
                hidden,
                customers < 5,
                "{dimension}={key}: {customers} customers"
            );
            if hidden {
                suppressed_somewhere = true;
                assert_eq!(group["series"], json!([]), "{dimension}={key}");
                // The same slice as a filter is suppressed whole.
                let filtered = body(&app, &format!("/v1/metrics/mrr?{filter}"), &viewer).await;
                assert_eq!(filtered["suppressed"], true);
                assert_eq!(filtered["series"], json!([]));
                let summary = body(&app, &format!("/v1/metrics/summary?{filter}"), &viewer).await;
                assert_eq!(summary["suppressed"], true);
                assert_eq!(summary["mrr"], 0);
                // A comparison is as suppressed as the figures it compares.
                let compared = body(
                    &app,
                    &format!("/v1/metrics/summary?{filter}&compare=year"),
                    &viewer,
                )
                .await;
                assert_eq!(compared["suppressed"], true);
                assert!(compared.get("comparison").is_none(), "{compared}");
                let compared = body(
                    &app,
                    &format!("/v1/metrics/mrr?{filter}&compare=previous"),
                    &viewer,
                )
                .await;
                assert_eq!(compared["series"], json!([]));
                let analyst_summary =
                    body(&app, &format!("/v1/metrics/summary?{filter}"), &analyst).await;
                assert!(analyst_summary.get("suppressed").is_none());
            } else {
                assert_eq!(group["series"], unfiltered["series"]);
            }
        }
    }
    assert!(
        suppressed_somewhere,
        "40 customers leave some slice under 5"
    );
    for dimension in ["plan", "currency"] {
        let seen = body(
            &app,
            &format!("/v1/metrics/mrr?group_by={dimension}"),
            &viewer,
        )
        .await;
        for group in seen["groups"].as_array().unwrap() {
            if group["suppressed"] == true {
                assert_eq!(group["series"], json!([]), "{dimension}");
            } else {
                assert!(
                    !group["series"].as_array().unwrap().is_empty(),
                    "{dimension}"
                );
            }
        }
    }
    let whole = body(&app, "/v1/metrics/summary", &viewer).await;
    assert!(
        whole.get("suppressed").is_none(),
        "the whole tenant is not small"
    );

    // k is the tenant's: at 1000, every slice of 40 customers is suppressed.
    let response = app
        .put(
            "/v1/security/policy",
            &token,
            json!({ "preset": "default", "require_mfa": false, "min_group_size": 1000 }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let whole = body(&app, "/v1/metrics/summary", &viewer).await;
    assert_eq!(whole["suppressed"], true);
    let segments = body(&app, "/v1/segments", &viewer).await;
    for segment in segments["segments"].as_array().unwrap() {
        assert_eq!(segment["mrr"], 0, "{segment}");
    }
    let response = app
        .put(
            "/v1/security/policy",
            &token,
            json!({ "preset": "default", "require_mfa": false, "min_group_size": 1 }),
        )
        .await;
    assert_eq!(response.status(), 400);
    let policy = body(&app, "/v1/security/policy", &token).await;
    assert_eq!(policy["min_group_size"], 1000);
}
