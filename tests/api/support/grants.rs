//! Operators' sign-in, and tenant admins' grants: who may grant, for how long, the list.

use reqwest::Method;
use serde_json::{Value, json};

use super::{OPERATOR_PASSWORD, create_operator, current_code, grant, operator_login};
use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn operator_sign_in_requires_a_totp_code_and_each_code_works_once() {
    let app = spawn_app().await;
    let operator = create_operator(&app).await;
    let attempt = |code: Option<String>| {
        let mut body = json!({ "email": operator.email, "password": OPERATOR_PASSWORD });
        if let Some(code) = code {
            body["totp_code"] = json!(code);
        }
        app.post("/v1/operator/sessions", None, body)
    };
    let missing = attempt(None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(error_code(missing).await, "mfa_required");
    let code = current_code(&app, &operator);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let wrong = attempt(Some(wrong.to_owned())).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(error_code(wrong).await, "invalid_mfa_code");
    let signed_in = attempt(Some(code.clone())).await;
    assert_eq!(signed_in.status(), 201);
    let reply: Value = signed_in.json().await.unwrap();
    assert_eq!(reply["operator"]["id"], operator.id.as_str());
    assert!(reply["token"].as_str().unwrap().starts_with("op_"));
    // The same code again: refused (each code works once).
    let replayed = attempt(Some(code)).await;
    assert_eq!(replayed.status(), 401);
    assert_eq!(error_code(replayed).await, "invalid_mfa_code");
    // A wrong password answers as for an unknown address.
    let bad = app
        .post(
            "/v1/operator/sessions",
            None,
            json!({ "email": operator.email, "password": "Wrong-Passw0rd!!", "totp_code": "123456" }),
        )
        .await;
    assert_eq!(bad.status(), 401);
    assert_eq!(error_code(bad).await, "invalid_credentials");
    // A user's credentials are not an operator's, and an operator's are not a user's.
    let admin = app.signup().await;
    let as_operator = app
        .post(
            "/v1/operator/sessions",
            None,
            json!({ "email": admin.email, "password": admin.password, "totp_code": "123456" }),
        )
        .await;
    assert_eq!(as_operator.status(), 401);
    assert_eq!(error_code(as_operator).await, "invalid_credentials");
    let as_user = app.try_login(&operator.email, OPERATOR_PASSWORD).await;
    assert_eq!(as_user.status(), 401);
    // The operator's token is for operator routes; a user's token is refused there.
    let admin_token = app.login(&admin).await;
    let refused = app
        .request(
            Method::DELETE,
            "/v1/operator/sessions/current",
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn operators_are_locked_out_after_five_failures_like_users() {
    let app = spawn_app().await;
    let operator = create_operator(&app).await;
    for _ in 0..5 {
        let body = json!({ "email": operator.email, "password": "Wrong-Passw0rd!!" });
        let response = app.post("/v1/operator/sessions", None, body).await;
        assert_eq!(response.status(), 401);
    }
    let body = json!({
        "email": operator.email,
        "password": OPERATOR_PASSWORD,
        "totp_code": current_code(&app, &operator),
    });
    let locked = app.post("/v1/operator/sessions", None, body.clone()).await;
    assert_eq!(locked.status(), 423);
    // `local operator unlock` clears the count.
    app.services
        .identity
        .unlock_operator(&operator.email)
        .await
        .unwrap();
    let response = app.post("/v1/operator/sessions", None, body).await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn only_admins_grant_support_access() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let admin_token = app.login(&admin).await;
    let operator = create_operator(&app).await;
    for role in ["analyst", "viewer"] {
        let (_, token) = app.user_with_role(&admin_token, role).await;
        let response = grant(&app, &token, &operator.id, 24).await;
        assert_eq!(response.status(), 403, "{role}");
        assert_eq!(error_code(response).await, "forbidden");
        assert_eq!(app.get("/v1/support/grants", &token).await.status(), 403);
    }
    let created = grant(&app, &admin_token, &operator.id, 24).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["kind"], "consent");
    assert_eq!(created["status"], "active");
    assert_eq!(created["granted_by"], admin.user_id.as_str());
    let list: Value = app
        .get("/v1/support/grants", &admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], created["id"]);
    assert!(list["next_cursor"].is_null());
}

#[tokio::test]
async fn grants_over_72_hours_and_break_glass_over_4_hours_are_refused() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let admin_token = app.login(&admin).await;
    let operator = create_operator(&app).await;
    for (hours, reason, field) in [
        (73, "Ticket 4711: the MRR differs", "duration_hours"),
        (0, "Ticket 4711: the MRR differs", "duration_hours"),
        (24, "", "reason"),
        (24, "why not", "reason"),
    ] {
        let response = app
            .post(
                "/v1/support/grants",
                Some(&admin_token),
                json!({ "operator_id": operator.id, "reason": reason, "duration_hours": hours }),
            )
            .await;
        assert_eq!(response.status(), 400, "{hours} h, {reason:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request");
        assert_eq!(body["error"]["details"]["field"], field);
    }
    let unknown = grant(&app, &admin_token, &uuid::Uuid::new_v4().to_string(), 24).await;
    assert_eq!(unknown.status(), 400);
    assert_eq!(
        grant(&app, &admin_token, &operator.id, 72).await.status(),
        201
    );

    let token = operator_login(&app, &operator).await;
    for hours in [5, 0] {
        let response = super::as_operator(
            &app,
            Method::POST,
            "/v1/operator/break-glass",
            &token,
            &admin.tenant_id,
            Some(json!({ "reason": "Suspected card-testing abuse", "duration_hours": hours })),
        )
        .await;
        assert_eq!(response.status(), 400, "{hours} h");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["details"]["field"], "duration_hours");
    }
    assert!(app.events_of("SupportBreakGlassOpened").is_empty());
}

#[tokio::test]
async fn a_disabled_operator_is_signed_out_and_cannot_be_granted_access() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let admin_token = app.login(&admin).await;
    let operator = create_operator(&app).await;
    let token = operator_login(&app, &operator).await;
    assert_eq!(
        grant(&app, &admin_token, &operator.id, 24).await.status(),
        201
    );
    let read = |token: String| {
        let app = &app;
        let tenant = admin.tenant_id.clone();
        async move {
            super::as_operator(app, Method::GET, "/v1/dimensions", &token, &tenant, None)
                .await
                .status()
        }
    };
    assert_ne!(read(token.clone()).await, 404);
    app.services
        .identity
        .disable_operator(&operator.email)
        .await
        .unwrap();
    assert_eq!(read(token).await, 401);
    let body = json!({
        "email": operator.email,
        "password": OPERATOR_PASSWORD,
        "totp_code": current_code(&app, &operator),
    });
    let response = app.post("/v1/operator/sessions", None, body).await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "invalid_credentials");
    let refused = grant(&app, &admin_token, &operator.id, 24).await;
    assert_eq!(refused.status(), 400);
}
