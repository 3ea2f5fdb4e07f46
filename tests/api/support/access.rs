//! Reading a tenant under a grant: every read audited, nothing written, access gone
//! when the grant ends or is revoked; break-glass tells the admins at once.

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};
use tally::domain::ids::TenantId;
use tally::ports::Clock;

use super::{as_operator, audit_log, create_operator, grant, operator_login};
use crate::helpers::{TestApp, error_code, spawn_app_with};

/// Sessions that outlive the clock's jumps (the grant, not the session, must end).
async fn app_with_long_sessions() -> TestApp {
    spawn_app_with(&[
        ("TALLY_SESSION_IDLE_TIMEOUT_SECS", "400000"),
        ("TALLY_SESSION_ABSOLUTE_TIMEOUT_SECS", "400000"),
    ])
    .await
}

async fn status(app: &TestApp, path: &str, token: &str, tenant: &str) -> u16 {
    as_operator(app, Method::GET, path, token, tenant, None)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_grant_lets_the_operator_read_and_every_read_is_audited() {
    let app = app_with_long_sessions().await;
    let admin = app.signup().await;
    let admin_token = app.login(&admin).await;
    let tenant = TenantId::parse(&admin.tenant_id).unwrap();
    let integration = app
        .services
        .integrations
        .connect_demo_of(&tenant, 7, Some(20))
        .await
        .unwrap();
    app.sync_now(&admin, &integration.to_string()).await;
    let operator = create_operator(&app).await;
    let token = operator_login(&app, &operator).await;
    assert_eq!(
        status(&app, "/v1/metrics/summary", &token, &admin.tenant_id).await,
        404
    );

    assert_eq!(
        grant(&app, &admin_token, &operator.id, 24).await.status(),
        201
    );
    for path in [
        "/v1/metrics/summary",
        "/v1/metrics/mrr",
        "/v1/customers",
        "/v1/segments",
    ] {
        let response = as_operator(&app, Method::GET, path, &token, &admin.tenant_id, None).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    let customers: Value = as_operator(
        &app,
        Method::GET,
        "/v1/customers",
        &token,
        &admin.tenant_id,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(!customers["data"].as_array().unwrap().is_empty());
    // Read-only: writes stay refused, as does everything outside the query reads.
    let put = as_operator(
        &app,
        Method::PUT,
        "/v1/settings/fx-rates",
        &token,
        &admin.tenant_id,
        Some(json!({ "base": "eur", "rates": { "usd": 1.1 } })),
    )
    .await;
    assert_eq!(put.status(), 404);
    for path in [
        "/v1/users",
        "/v1/me",
        "/v1/security/audit-log",
        "/v1/integrations",
    ] {
        assert_eq!(
            status(&app, path, &token, &admin.tenant_id).await,
            404,
            "{path}"
        );
    }

    let log = audit_log(&app, &admin_token).await;
    let reads: Vec<&Value> = log
        .iter()
        .filter(|e| e["action"] == "SupportRead")
        .collect();
    assert_eq!(reads.len(), 5, "{log:#?}");
    assert!(
        reads
            .iter()
            .all(|e| e["operator_id"] == operator.id.as_str())
    );
    assert!(reads.iter().any(|e| {
        e["target"]
            .as_str()
            .unwrap()
            .starts_with("GET /v1/customers")
    }));
    assert!(
        log.iter()
            .any(|e| e["action"] == "SupportAccessGranted" && e["actor"] == admin.user_id.as_str())
    );
}

#[tokio::test]
async fn a_grant_expires_on_time() {
    let app = app_with_long_sessions().await;
    let admin = app.signup().await;
    let admin_token = app.login(&admin).await;
    let operator = create_operator(&app).await;
    let token = operator_login(&app, &operator).await;
    app.clock.freeze_at(app.clock.now());
    assert_eq!(
        grant(&app, &admin_token, &operator.id, 2).await.status(),
        201
    );
    app.clock.advance(Duration::hours(2) - Duration::seconds(1));
    assert_ne!(
        status(&app, "/v1/dimensions", &token, &admin.tenant_id).await,
        404
    );
    app.clock.advance(Duration::seconds(1));
    assert_eq!(
        status(&app, "/v1/dimensions", &token, &admin.tenant_id).await,
        404
    );
    let list: Value = app
        .get("/v1/support/grants", &admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["status"], "ended");
}

#[tokio::test]
async fn revocation_ends_access_on_the_next_request() {
    let app = app_with_long_sessions().await;
    let admin = app.signup().await;
    let admin_token = app.login(&admin).await;
    let operator = create_operator(&app).await;
    let token = operator_login(&app, &operator).await;
    let created: Value = grant(&app, &admin_token, &operator.id, 72)
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    assert_ne!(
        status(&app, "/v1/dimensions", &token, &admin.tenant_id).await,
        404
    );
    let revoked = app
        .delete(&format!("/v1/support/grants/{id}"), &admin_token)
        .await;
    assert_eq!(revoked.status(), 204);
    let response = as_operator(
        &app,
        Method::GET,
        "/v1/dimensions",
        &token,
        &admin.tenant_id,
        None,
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "not_found");
    let again = app
        .delete(&format!("/v1/support/grants/{id}"), &admin_token)
        .await;
    assert_eq!(again.status(), 404);
    let log = audit_log(&app, &admin_token).await;
    assert!(log.iter().any(|e| e["action"] == "SupportAccessRevoked"));
}

#[tokio::test]
async fn break_glass_leaves_an_audit_entry_and_tells_the_admins_at_once() {
    let app = app_with_long_sessions().await;
    let admin = app.signup().await;
    let admin_token = app.login(&admin).await;
    let (analyst, _) = app.user_with_role(&admin_token, "analyst").await;
    let operator = create_operator(&app).await;
    let token = operator_login(&app, &operator).await;
    assert_eq!(
        status(&app, "/v1/dimensions", &token, &admin.tenant_id).await,
        404
    );

    let reason = "Suspected card-testing abuse from this account";
    let opened = as_operator(
        &app,
        Method::POST,
        "/v1/operator/break-glass",
        &token,
        &admin.tenant_id,
        Some(json!({ "reason": reason, "duration_hours": 4 })),
    )
    .await;
    assert_eq!(opened.status(), 201);
    let opened: Value = opened.json().await.unwrap();
    assert_eq!(opened["kind"], "break_glass");
    assert!(opened["granted_by"].is_null());

    let events = app.events_of("SupportBreakGlassOpened");
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["tenant_id"], admin.tenant_id.as_str());
    assert_eq!(event["operator_id"], operator.id.as_str());
    assert_eq!(event["reason"], reason);
    assert_eq!(
        event["emails"],
        json!([admin.email]),
        "admins only: {analyst:?}"
    );
    let log = audit_log(&app, &admin_token).await;
    let entry = log
        .iter()
        .find(|e| e["action"] == "SupportBreakGlass")
        .expect("the break-glass entry");
    assert_eq!(entry["operator_id"], operator.id.as_str());
    assert!(entry["target"].as_str().unwrap().contains(reason));

    assert_ne!(
        status(&app, "/v1/dimensions", &token, &admin.tenant_id).await,
        404
    );
    app.clock.advance(Duration::hours(4));
    assert_eq!(
        status(&app, "/v1/dimensions", &token, &admin.tenant_id).await,
        404
    );
    // An unknown tenant cannot be broken into.
    let unknown = as_operator(
        &app,
        Method::POST,
        "/v1/operator/break-glass",
        &token,
        &uuid::Uuid::new_v4().to_string(),
        Some(json!({ "reason": reason, "duration_hours": 1 })),
    )
    .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn on_the_aws_adapters_a_grant_opens_reads_and_its_revocation_closes_them() {
    let app = crate::helpers::spawn_app_on_moto(&[]).await;
    let admin = app.signup().await;
    let admin_token = app.login(&admin).await;
    let operator = create_operator(&app).await;
    let token = operator_login(&app, &operator).await;
    assert_eq!(
        status(&app, "/v1/dimensions", &token, &admin.tenant_id).await,
        404
    );
    let created: Value = grant(&app, &admin_token, &operator.id, 72)
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("a grant id");
    assert_ne!(
        status(&app, "/v1/dimensions", &token, &admin.tenant_id).await,
        404
    );
    let revoked = app
        .delete(&format!("/v1/support/grants/{id}"), &admin_token)
        .await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        status(&app, "/v1/dimensions", &token, &admin.tenant_id).await,
        404
    );
    let log = audit_log(&app, &admin_token).await;
    for action in [
        "SupportAccessGranted",
        "SupportRead",
        "SupportAccessRevoked",
    ] {
        assert!(
            log.iter().any(|e| e["action"] == action),
            "{action}: {log:#?}"
        );
    }
}
