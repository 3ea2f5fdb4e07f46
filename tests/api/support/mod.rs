//! Support access only with the tenant's consent (docs/api.md, "support access"):
//! operators' sign-in, grants and their end, break-glass, the audit of every read.
//! The isolation suite (`admin/isolation.rs`) walks every route with an operator.

mod access;
mod grants;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tally::domain::totp::{TotpSecret, code_at};
use tally::ports::Clock;

use crate::helpers::TestApp;

/// A password for operators (the default policy).
pub const OPERATOR_PASSWORD: &str = "Staff-Only-Passw0rd!";

/// An operator made as `local operator create` makes one.
pub struct TestOperator {
    pub id: String,
    pub email: String,
    pub secret: TotpSecret,
}

pub async fn create_operator(app: &TestApp) -> TestOperator {
    use secrecy::ExposeSecret;
    let email = format!("staff-{}@tally.example", uuid::Uuid::new_v4().simple());
    let created = app
        .services
        .identity
        .create_operator(&email, OPERATOR_PASSWORD.to_owned().into())
        .await
        .expect("the operator is created");
    TestOperator {
        id: created.id.to_string(),
        email,
        secret: TotpSecret::from_base32(created.totp_secret.expose_secret())
            .expect("a base32 secret"),
    }
}

/// The operator's current TOTP code on the app's clock.
pub fn current_code(app: &TestApp, operator: &TestOperator) -> String {
    let now = u64::try_from(app.clock.now().timestamp()).unwrap();
    code_at(&operator.secret, now)
}

pub async fn operator_login(app: &TestApp, operator: &TestOperator) -> String {
    let body = json!({
        "email": operator.email,
        "password": OPERATOR_PASSWORD,
        "totp_code": current_code(app, operator),
    });
    let response = app.post("/v1/operator/sessions", None, body).await;
    assert_eq!(response.status(), 201, "operator sign-in");
    let reply: Value = response.json().await.unwrap();
    let token = reply["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("op_"));
    token
}

/// A request with the operator's token and `X-Tally-Tenant: tenant`.
pub async fn as_operator(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    tenant: &str,
    body: Option<Value>,
) -> Response {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{}", app.address, path))
        .bearer_auth(token)
        .header("x-tally-tenant", tenant);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("the request is sent")
}

pub async fn grant(app: &TestApp, admin_token: &str, operator: &str, hours: i64) -> Response {
    app.post(
        "/v1/support/grants",
        Some(admin_token),
        json!({
            "operator_id": operator,
            "reason": "Ticket 4711: the MRR differs from Stripe's",
            "duration_hours": hours,
        }),
    )
    .await
}

/// The tenant's audit log as its admin reads it.
pub async fn audit_log(app: &TestApp, admin_token: &str) -> Vec<Value> {
    let log: Value = app
        .get("/v1/security/audit-log", admin_token)
        .await
        .json()
        .await
        .unwrap();
    log["data"].as_array().cloned().unwrap_or_default()
}
