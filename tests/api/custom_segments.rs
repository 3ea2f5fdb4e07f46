//! Custom segments (issue 18, item 5; docs/api.md "Custom segments"): a tenant's named
//! filter sets under `/v1/segments/custom`, and `segment=` — a custom segment's id or
//! an RFM segment's name — on the metrics, the customer list and the risk insight.
//!
//! A demo tenant of a few hundred customers is synced once per test that reads figures
//! (a sync takes seconds in debug).

use serde_json::{Value, json};
use tally::domain::ids::TenantId;

use crate::helpers::{TestApp, TestUser, contains_bytes, error_code, spawn_app, spawn_app_on_moto};

const TODAY: &str = "2025-03-14T12:00:00Z";
const DEMO_CUSTOMERS: usize = 300;

/// An app on [`TODAY`] whose tenant holds the demo data, with its admin's, an
/// analyst's and a viewer's tokens.
async fn demo_tenant(app: &TestApp) -> (TestUser, String, String, String) {
    app.clock.set(TODAY.parse().unwrap());
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let (_, viewer) = app.user_with_role(&token, "viewer").await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let demo = app
        .services
        .integrations
        .connect_demo_of(&tenant, 42, Some(DEMO_CUSTOMERS))
        .await
        .unwrap();
    app.services
        .ingestion
        .sync_integration(&tenant, &demo)
        .await
        .unwrap();
    (admin, token, analyst, viewer)
}

async fn ok(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

async fn refused(app: &TestApp, path: &str, token: &str, status: u16, code: &str) {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), status, "GET {path}");
    assert_eq!(error_code(response).await, code, "GET {path}");
}

/// Saves a segment; its id.
async fn create(app: &TestApp, token: &str, name: &str, filters: Value) -> String {
    let response = app
        .post(
            "/v1/segments/custom",
            Some(token),
            json!({ "name": name, "filters": filters }),
        )
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Every row of the customer list under `query`.
async fn customers(app: &TestApp, query: &str, token: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/customers?limit=200&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = ok(app, &path, token).await;
        rows.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return rows,
        }
    }
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn analysts_and_admins_save_replace_and_delete_segments_and_every_role_reads_them() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (_, analyst) = app.user_with_role(&token, "analyst").await;
    let (_, viewer) = app.user_with_role(&token, "viewer").await;

    let empty = ok(&app, "/v1/segments/custom", &viewer).await;
    assert_eq!(empty, json!({ "segments": [] }));

    // An analyst saves one: 201, its URL in Location, the filters as given.
    let body =
        json!({ "name": "  Berlin Visa ", "filters": { "city": "Berlin", "card_brand": "visa" } });
    let response = app.post("/v1/segments/custom", Some(&analyst), body).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let saved: Value = response.json().await.unwrap();
    let id = saved["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/segments/custom/{id}"));
    assert_eq!(saved["name"], "Berlin Visa", "the name is trimmed");
    assert_eq!(
        saved["filters"],
        json!({ "card_brand": "visa", "city": "Berlin" })
    );
    assert_eq!(saved["created_at"], saved["updated_at"]);
    // An admin saves another; every role reads both, and one by its URL.
    let other = create(&app, &token, "Pro plan", json!({ "plan": "pro" })).await;
    for reader in [&analyst, &token, &viewer] {
        let list = ok(&app, "/v1/segments/custom", reader).await;
        let names: Vec<&str> = list["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Berlin Visa", "Pro plan"], "oldest first");
        let read = ok(&app, &location, reader).await;
        if reader == &viewer {
            // Not the city, which a viewer may not see.
            assert_eq!(read["filters"], json!({ "card_brand": "visa" }));
            assert_eq!(read["restricted"], true);
        } else {
            assert_eq!(read, saved);
        }
    }
    // The city is sealed, never in the stored bytes in plain.
    assert!(!contains_bytes(&app.raw_stored_data(), b"Berlin"));

    // A viewer may not write.
    let rename = json!({ "name": "Renamed", "filters": { "country": "DE" } });
    let viewer_post = app
        .post("/v1/segments/custom", Some(&viewer), rename.clone())
        .await;
    assert_eq!(viewer_post.status(), 403);
    assert_eq!(error_code(viewer_post).await, "forbidden");
    assert_eq!(
        app.put(&location, &viewer, rename.clone()).await.status(),
        403
    );
    assert_eq!(app.delete(&location, &viewer).await.status(), 403);

    // PUT replaces the name and the filters; keeping its own name (another case) is fine.
    app.clock.advance(chrono::Duration::seconds(5));
    let replaced = app.put(&location, &analyst, rename).await;
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["name"], "Renamed");
    assert_eq!(replaced["filters"], json!({ "country": "DE" }));
    assert_eq!(replaced["created_at"], saved["created_at"]);
    assert_ne!(replaced["updated_at"], saved["updated_at"]);
    let same = json!({ "name": "RENAMED", "filters": { "country": "FR" } });
    assert_eq!(app.put(&location, &token, same).await.status(), 200);
    assert_eq!(
        ok(&app, &location, &viewer).await["filters"]["country"],
        "FR"
    );

    // DELETE: 204, then the segment is gone for reading, replacing, deleting and use.
    assert_eq!(app.delete(&location, &analyst).await.status(), 204);
    refused(&app, &location, &token, 404, "not_found").await;
    let again = json!({ "name": "x", "filters": { "country": "DE" } });
    assert_eq!(app.put(&location, &token, again).await.status(), 404);
    assert_eq!(app.delete(&location, &token).await.status(), 404);
    let list = ok(&app, "/v1/segments/custom", &token).await;
    assert_eq!(list["segments"].as_array().unwrap().len(), 1);
    assert_eq!(list["segments"][0]["id"], other.as_str());
    // Ids that do not parse name nothing.
    refused(
        &app,
        "/v1/segments/custom/not-an-id",
        &token,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_bad_definition_is_refused_with_the_filters_error_codes() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let taken = create(&app, &token, "Germany", json!({ "country": "DE" })).await;
    let cases = [
        (
            json!({ "name": "", "filters": { "country": "DE" } }),
            400,
            "invalid_request",
        ),
        (
            json!({ "name": "   ", "filters": { "country": "DE" } }),
            400,
            "invalid_request",
        ),
        (
            json!({ "name": "x".repeat(65), "filters": { "country": "DE" } }),
            400,
            "invalid_request",
        ),
        (
            json!({ "name": "Loyal", "filters": { "country": "DE" } }),
            400,
            "invalid_request",
        ),
        (
            json!({ "name": "No filter", "filters": {} }),
            400,
            "invalid_request",
        ),
        (
            json!({ "name": "Colour", "filters": { "colour": "red" } }),
            400,
            "unknown_dimension",
        ),
        (
            json!({ "name": "Empty", "filters": { "country": "" } }),
            400,
            "invalid_request",
        ),
        (
            json!({ "name": "Long", "filters": { "city": "x".repeat(201) } }),
            400,
            "invalid_request",
        ),
        (
            json!({ "name": "Null", "filters": { "country": null } }),
            400,
            "invalid_request",
        ),
        (
            json!({ "name": "Extra", "filters": { "country": "DE" }, "owner": "me" }),
            400,
            "invalid_request",
        ),
        (
            json!({ "filters": { "country": "DE" } }),
            400,
            "invalid_request",
        ),
        (
            json!({ "name": "gErMaNy", "filters": { "country": "AT" } }),
            409,
            "segment_name_taken",
        ),
    ];
    for (body, status, code) in cases {
        let response = app
            .post("/v1/segments/custom", Some(&token), body.clone())
            .await;
        assert_eq!(response.status(), status, "{body}");
        assert_eq!(error_code(response).await, code, "{body}");
    }
    assert!(
        app.post(
            "/v1/segments/custom",
            Some(&token),
            json!({ "name": "x".repeat(64), "filters": { "country": "DE" } })
        )
        .await
        .status()
        .is_success(),
        "64 characters are fine"
    );
    // Renaming another segment onto a taken name is refused too.
    let austria = create(&app, &token, "Austria", json!({ "country": "AT" })).await;
    let onto = json!({ "name": "GERMANY", "filters": { "country": "AT" } });
    let response = app
        .put(&format!("/v1/segments/custom/{austria}"), &token, onto)
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "segment_name_taken");
    let bad = json!({ "name": "Germany", "filters": { "planet": "earth" } });
    let response = app
        .put(&format!("/v1/segments/custom/{taken}"), &token, bad)
        .await;
    assert_eq!(error_code(response).await, "unknown_dimension");
    // Nothing refused was stored.
    let list = ok(&app, "/v1/segments/custom", &token).await;
    assert_eq!(list["segments"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_tenant_keeps_at_most_one_hundred_segments() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    for n in 0..100 {
        create(
            &app,
            &token,
            &format!("Segment {n}"),
            json!({ "country": "DE" }),
        )
        .await;
    }
    let response = app
        .post(
            "/v1/segments/custom",
            Some(&token),
            json!({ "name": "One too many", "filters": { "country": "DE" } }),
        )
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "segment_limit_reached");
    let list = ok(&app, "/v1/segments/custom", &token).await;
    let segments = list["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 100);
    // Deleting one makes room again.
    let first = segments[0]["id"].as_str().unwrap();
    let url = format!("/v1/segments/custom/{first}");
    assert_eq!(app.delete(&url, &token).await.status(), 204);
    create(&app, &token, "One too many", json!({ "country": "DE" })).await;
}

#[tokio::test]
async fn a_custom_segment_answers_exactly_as_its_filters_everywhere() {
    let app = spawn_app().await;
    let (_, token, analyst, viewer) = demo_tenant(&app).await;
    let dimensions = ok(&app, "/v1/dimensions", &analyst).await;
    let country = dimensions["country"][0].as_str().unwrap().to_owned();
    let brand = dimensions["card_brand"][0].as_str().unwrap().to_owned();
    let segment = create(
        &app,
        &analyst,
        "First country",
        json!({ "country": country }),
    )
    .await;
    let by_filter = format!("filter[country]={country}");
    let by_segment = format!("segment={segment}");
    // The list downloads as CSV: a header, then one row per segment.
    let response = app.get("/v1/segments/custom?format=csv", &analyst).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let mut reader = ::csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id",
            "name",
            "filters",
            "restricted",
            "created_at",
            "updated_at"
        ]
    );
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][0], segment.as_str());
    assert_eq!(&rows[0][1], "First country");
    assert_eq!(rows[0][2], format!("country={country}"));

    // The same replies, for the summary, a series, a grouped series and the list, for
    // each role that may read them.
    for (path, readers) in [
        ("/v1/metrics/summary?", vec![&token, &analyst, &viewer]),
        ("/v1/metrics/mrr?from=2024-01-01&", vec![&analyst, &viewer]),
        (
            "/v1/metrics/mrr_movements?group_by=plan&",
            vec![&analyst, &viewer],
        ),
        ("/v1/metrics/failed_payments?", vec![&analyst]),
        ("/v1/metrics/summary?compare=year&", vec![&analyst, &viewer]),
        (
            "/v1/metrics/customer_movements?compare=previous&",
            vec![&analyst],
        ),
        ("/v1/customers?sort=ltv&", vec![&analyst]),
        ("/v1/insights/payment-failure-risk?", vec![&analyst]),
        (
            "/v1/metrics/cohorts?from=2024-01-01&group_by=plan&",
            vec![&analyst, &viewer],
        ),
        ("/v1/metrics/forecast?", vec![&analyst, &viewer]),
        ("/v1/metrics/plan_flows?", vec![&analyst]),
    ] {
        for reader in readers {
            let filtered = ok(&app, &format!("{path}{by_filter}"), reader).await;
            let segmented = ok(&app, &format!("{path}{by_segment}"), reader).await;
            assert_eq!(filtered, segmented, "{path}");
        }
    }
    let in_country = customers(&app, &by_filter, &analyst).await;
    assert!(!in_country.is_empty() && in_country.len() < DEMO_CUSTOMERS);

    // The segment's filters AND the request's.
    let both = format!("filter[country]={country}&filter[card_brand]={brand}");
    assert_eq!(
        ok(&app, &format!("/v1/metrics/summary?{both}"), &analyst).await,
        ok(
            &app,
            &format!("/v1/metrics/summary?{by_segment}&filter[card_brand]={brand}"),
            &analyst
        )
        .await
    );
    assert_eq!(
        ids(&customers(&app, &both, &analyst).await),
        ids(&customers(
            &app,
            &format!("{by_segment}&filter[card_brand]={brand}"),
            &analyst
        )
        .await)
    );
    // Another value for the segment's own dimension matches nobody (no error).
    let conflicting = format!("{by_segment}&filter[country]=not-a-country");
    assert!(customers(&app, &conflicting, &analyst).await.is_empty());
    let summary = ok(
        &app,
        &format!("/v1/metrics/summary?{conflicting}"),
        &analyst,
    )
    .await;
    assert_eq!(summary["mrr"], 0);
    assert_eq!(summary["customers"], 0);

    // A replaced segment answers with its new filters at once.
    let url = format!("/v1/segments/custom/{segment}");
    let replaced = json!({ "name": "First brand", "filters": { "card_brand": brand } });
    assert_eq!(app.put(&url, &analyst, replaced).await.status(), 200);
    assert_eq!(
        ids(&customers(&app, &by_segment, &analyst).await),
        ids(&customers(&app, &format!("filter[card_brand]={brand}"), &analyst).await)
    );
}

#[tokio::test]
async fn an_rfm_segment_on_a_metric_counts_exactly_its_customers() {
    let app = spawn_app().await;
    let (_, token, analyst, viewer) = demo_tenant(&app).await;
    let segments = ok(&app, "/v1/segments", &analyst).await;
    let mut checked = 0;
    for entry in segments["segments"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let rows = customers(&app, &format!("segment={name}"), &analyst).await;
        assert!(rows.iter().all(|r| r["segment"] == name), "{name}");
        let paying: Vec<i64> = rows
            .iter()
            .map(|r| r["reporting_mrr"]["amount"].as_i64().unwrap())
            .filter(|mrr| *mrr > 0)
            .collect();
        let summary = ok(&app, &format!("/v1/metrics/summary?segment={name}"), &token).await;
        assert_eq!(
            summary["customers"].as_i64().unwrap(),
            paying.len() as i64,
            "{name}: the paying customers of the segment"
        );
        // Each row and the summary are rounded once: within half a unit per row.
        let listed: i64 = paying.iter().sum();
        let mrr = summary["mrr"].as_i64().unwrap();
        assert!(
            (listed - mrr).abs() <= paying.len() as i64 / 2 + 1,
            "{name}: the rows' MRR sums to the segment's: {listed} vs {mrr}"
        );
        // The series ends where the summary is.
        let series = ok(&app, &format!("/v1/metrics/mrr?segment={name}"), &token).await;
        let last = series["series"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["value"], summary["mrr"], "{name}");
        // A viewer's view of it is suppressed exactly when it has fewer than k = 5
        // customers.
        let seen = ok(
            &app,
            &format!("/v1/metrics/summary?segment={name}"),
            &viewer,
        )
        .await;
        let customers = entry["customers"].as_u64().unwrap();
        assert_eq!(seen["suppressed"] == true, customers < 5, "{name}: {seen}");
        if customers > 0 {
            checked += 1;
        }
    }
    assert!(checked >= 3, "the demo fills several segments");
    // The whole is more than any segment.
    let all = ok(&app, "/v1/metrics/summary", &token).await;
    let champions = ok(&app, "/v1/metrics/summary?segment=champions", &token).await;
    assert!(all["customers"].as_i64() > champions["customers"].as_i64());
}

#[tokio::test]
async fn viewers_use_segments_within_their_dimensions_and_with_k_anonymity() {
    let app = spawn_app().await;
    let (_, _, analyst, viewer) = demo_tenant(&app).await;
    let dimensions = ok(&app, "/v1/dimensions", &analyst).await;
    let city = dimensions["city"][0].as_str().unwrap().to_owned();
    let on_city = create(&app, &analyst, "A city", json!({ "city": city })).await;
    // Listed to the viewer without the city (which it may not see), marked restricted,
    // and using it is refused as `filter[city]` is.
    let list = ok(&app, "/v1/segments/custom", &viewer).await;
    assert_eq!(list["segments"][0]["id"], on_city.as_str());
    assert_eq!(list["segments"][0]["filters"], json!({}));
    assert_eq!(list["segments"][0]["restricted"], true);
    let one = ok(&app, &format!("/v1/segments/custom/{on_city}"), &viewer).await;
    assert!(!one.to_string().contains(&city), "{one}");
    let full = ok(&app, &format!("/v1/segments/custom/{on_city}"), &analyst).await;
    assert_eq!(full["filters"]["city"], city.as_str());
    assert!(full.get("restricted").is_none());
    for path in [
        format!("/v1/metrics/summary?segment={on_city}"),
        format!("/v1/metrics/mrr?segment={on_city}"),
    ] {
        refused(&app, &path, &viewer, 403, "forbidden").await;
        ok(&app, &path, &analyst).await;
    }
    // A segment of one customer's card brand and country is suppressed for the viewer
    // when it covers fewer than k customers, and never for the analyst.
    let rows = customers(&app, "sort=mrr", &analyst).await;
    let mut smallest: Option<(usize, String)> = None;
    for country in dimensions["country"].as_array().unwrap() {
        let country = country.as_str().unwrap();
        let count = customers(&app, &format!("filter[country]={country}"), &analyst)
            .await
            .len();
        if smallest.as_ref().is_none_or(|(n, _)| count < *n) {
            smallest = Some((count, country.to_owned()));
        }
    }
    let (count, country) = smallest.unwrap();
    assert!(count < rows.len());
    let small = create(
        &app,
        &analyst,
        "Smallest country",
        json!({ "country": country }),
    )
    .await;
    for path in [
        format!("/v1/metrics/summary?segment={small}"),
        format!("/v1/metrics/mrr?segment={small}"),
    ] {
        let seen = ok(&app, &path, &viewer).await;
        assert_eq!(
            seen["suppressed"] == true,
            count < 5,
            "{path}: {count} customers"
        );
        assert!(ok(&app, &path, &analyst).await.get("suppressed").is_none());
    }
    // The customer list stays closed to viewers, segment or not.
    refused(
        &app,
        &format!("/v1/customers?segment={small}"),
        &viewer,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn another_tenants_segment_is_unknown_and_a_bad_segment_is_refused() {
    let app = spawn_app().await;
    let a = app.signup_as("a-admin@example.com", "Tenant A").await;
    let a_token = app.login(&a).await;
    let b = app.signup_as("b-admin@example.com", "Tenant B").await;
    let b_token = app.login(&b).await;
    let a_segment = create(&app, &a_token, "A's", json!({ "country": "DE" })).await;
    let url = format!("/v1/segments/custom/{a_segment}");
    refused(&app, &url, &b_token, 404, "not_found").await;
    let body = json!({ "name": "Taken over", "filters": { "country": "FR" } });
    assert_eq!(app.put(&url, &b_token, body).await.status(), 404);
    assert_eq!(app.delete(&url, &b_token).await.status(), 404);
    assert_eq!(
        ok(&app, "/v1/segments/custom", &b_token).await,
        json!({ "segments": [] })
    );
    // Using it: 404, before any data is read (B has none: it would be 409 otherwise).
    for path in [
        "/v1/metrics/summary",
        "/v1/metrics/mrr",
        "/v1/customers",
        "/v1/insights/payment-failure-risk",
    ] {
        let with = format!("{path}?segment={a_segment}");
        refused(&app, &with, &b_token, 404, "not_found").await;
        // A value that is neither an RFM segment nor an id: 400 naming `segment`.
        let bad = app
            .get(&format!("{path}?segment=Champions"), &b_token)
            .await;
        assert_eq!(bad.status(), 400, "{path}");
        let body: Value = bad.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request");
        assert_eq!(body["error"]["details"]["field"], "segment");
    }
    // A's segment still stands, unchanged.
    assert_eq!(ok(&app, &url, &a_token).await["name"], "A's");
}

/// The AWS adapters (moto): the one sealed item, written under its version condition,
/// reads back through every route.
#[tokio::test]
async fn segments_round_trip_on_the_aws_adapters() {
    let app = spawn_app_on_moto(&[]).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let first = create(&app, &token, "Germany", json!({ "country": "DE" })).await;
    let second = create(&app, &token, "Pro", json!({ "plan": "pro" })).await;
    let taken = app
        .post(
            "/v1/segments/custom",
            Some(&token),
            json!({ "name": "PRO", "filters": { "plan": "pro" } }),
        )
        .await;
    assert_eq!(error_code(taken).await, "segment_name_taken");
    let url = format!("/v1/segments/custom/{first}");
    let body = json!({ "name": "France", "filters": { "country": "FR" } });
    assert_eq!(app.put(&url, &token, body).await.status(), 200);
    assert_eq!(
        app.delete(&format!("/v1/segments/custom/{second}"), &token)
            .await
            .status(),
        204
    );
    let list = ok(&app, "/v1/segments/custom", &token).await;
    let segments = list["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0]["name"], "France");
    assert_eq!(segments[0]["filters"], json!({ "country": "FR" }));
}
