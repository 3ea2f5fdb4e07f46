//! Issue 17, finding 7: a request from an address the tenant's allowlist refuses does
//! not keep its session alive, and is answered the same whether its token is valid or
//! not (a refused address learns nothing about a token).

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn a_refused_address_learns_nothing_about_a_token_and_keeps_no_session_alive() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let response = app
        .post(
            "/v1/security/ip-allowlist",
            Some(&token),
            json!({ "cidr": "127.0.0.1/32", "note": "office" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let outsider = TestApp::client_from("127.0.0.2".parse().unwrap());

    let with_valid = app
        .request_from(&outsider, Method::GET, "/v1/me", Some(&token), None)
        .await;
    let with_forged = app
        .request_from(&outsider, Method::GET, "/v1/me", Some("forged-token"), None)
        .await;
    assert_eq!(with_valid.status(), with_forged.status());
    let valid_body: Value = with_valid.json().await.unwrap();
    let forged_body: Value = with_forged.json().await.unwrap();
    assert_eq!(valid_body, forged_body);

    // Ten idle minutes, a refused request, six more: past the 15-minute idle timeout
    // counted from the last allowed request.
    app.clock.advance(Duration::minutes(10));
    app.request_from(&outsider, Method::GET, "/v1/me", Some(&token), None)
        .await;
    app.clock.advance(Duration::minutes(6));
    assert_eq!(app.get("/v1/me", &token).await.status(), 401);
}
