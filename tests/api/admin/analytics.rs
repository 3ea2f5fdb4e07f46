use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, spawn_app};

#[tokio::test]
async fn login_attempts_are_summarized_by_outcome_day_and_address() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    app.try_login(&admin.email, "Wrong-Password-1").await;
    app.try_login(&admin.email, "Wrong-Password-2").await;
    let other = TestApp::client_from("127.0.0.3".parse().unwrap());
    app.request_from(
        &other,
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({ "email": admin.email, "password": admin.password })),
    )
    .await;

    let report: Value = app
        .get("/v1/security/login-attempts", &token)
        .await
        .json()
        .await
        .unwrap();
    let summary = &report["summary"];
    assert_eq!(summary["total"], 4);
    assert_eq!(summary["succeeded"], 2);
    assert_eq!(summary["failed"], 2);
    assert_eq!(summary["locked_out"], 0);
    assert_eq!(summary["by_day"].as_array().unwrap().len(), 1);
    assert_eq!(summary["by_day"][0]["total"], 4);
    assert_eq!(
        summary["top_ips"][0],
        json!({ "ip": "127.0.0.1", "count": 3 })
    );
    assert_eq!(
        summary["top_ips"][1],
        json!({ "ip": "127.0.0.3", "count": 1 })
    );
    let data = report["data"].as_array().unwrap();
    assert_eq!(data.len(), 4);
    assert_eq!(data[0]["ip"], "127.0.0.3", "newest first");
    assert_eq!(data[0]["outcome"], "success");
    assert_eq!(data[0]["user_id"], admin.user_id.as_str());
    assert!(data[0]["email_hash"].as_str().unwrap().len() == 64);
    assert!(
        !report.to_string().contains(&admin.email),
        "no e-mail in plain"
    );

    let failed: Value = app
        .get(
            "/v1/security/login-attempts?outcome=bad_password&limit=1",
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed["summary"]["total"], 2);
    assert_eq!(failed["data"].as_array().unwrap().len(), 1);
    let cursor = failed["next_cursor"].as_str().unwrap();
    let next: Value = app
        .get(
            &format!("/v1/security/login-attempts?outcome=bad_password&limit=1&cursor={cursor}"),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["data"].as_array().unwrap().len(), 1);
    assert!(next["next_cursor"].is_null());
}

#[tokio::test]
async fn the_reporting_range_is_honoured() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    app.clock.advance(chrono::Duration::days(3));
    let token2 = app.login(&admin).await;
    let _ = token;
    use tally::ports::Clock;
    let today = app.clock.now().date_naive();
    let report: Value = app
        .get(
            &format!("/v1/security/login-attempts?from={today}&to={today}"),
            &token2,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["summary"]["total"], 1);
    let all: Value = app
        .get("/v1/security/login-attempts", &token2)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["summary"]["total"], 2);
    assert_eq!(all["summary"]["by_day"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_report_parameters_are_invalid_requests_naming_them() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    for (query, field) in [
        ("from=yesterday", "from"),
        ("outcome=maybe", "outcome"),
        ("user_id=../../x", "user_id"),
        ("limit=100000", "limit"),
        ("limit=0", "limit"),
        ("cursor=%%%", "cursor"),
        ("from=2026-02-01&to=2026-01-01", "from"),
    ] {
        let response = app
            .get(&format!("/v1/security/login-attempts?{query}"), &token)
            .await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["details"]["field"], field, "{query}");
    }
    let response = app.get("/v1/security/audit-log?to=never", &token).await;
    assert_eq!(error_code(response).await, "invalid_request");
}

#[tokio::test]
async fn the_audit_log_records_admin_actions_and_cannot_be_changed() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (viewer, _) = app.user_with_role(&token, "viewer").await;
    app.patch(
        &format!("/v1/users/{}", viewer.user_id),
        &token,
        json!({ "disabled": true }),
    )
    .await;
    app.post(
        "/v1/security/ip-allowlist",
        Some(&token),
        json!({ "cidr": "127.0.0.0/8" }),
    )
    .await;
    let log: Value = app
        .get("/v1/security/audit-log", &token)
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "AllowlistEntryAdded",
        "UserDisabled",
        "InviteAccepted",
        "UserInvited",
        "TenantCreated",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let disabled = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "UserDisabled")
        .unwrap();
    assert_eq!(disabled["target"], format!("user:{}", viewer.user_id));
    assert_eq!(disabled["actor"], admin.user_id.as_str());
    for method in [Method::PUT, Method::DELETE, Method::PATCH, Method::POST] {
        let response = app
            .request(
                method,
                "/v1/security/audit-log",
                Some(&token),
                Some(json!({})),
            )
            .await;
        assert_eq!(response.status(), 405);
    }
}
