//! What every route shares: health, the error shape, the body limit, request ids and
//! security headers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn health_answers_ok_with_the_version() {
    let app = spawn_app().await;
    let response = app.request(Method::GET, "/v1/health", None, None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn an_unknown_route_is_a_404_in_the_error_shape() {
    let app = spawn_app().await;
    let response = app
        .request(Method::GET, "/v1/nothing-here", None, None)
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn a_wrong_method_is_a_405_in_the_error_shape() {
    let app = spawn_app().await;
    let response = app.request(Method::PUT, "/v1/health", None, None).await;
    assert_eq!(response.status(), 405);
    assert_eq!(error_code(response).await, "method_not_allowed");
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_with_413() {
    let app = spawn_app().await;
    let big = "x".repeat(70 * 1024);
    let body = json!({ "company": big, "email": "a@example.com", "password": "p" });
    let response = app.post("/v1/signup", None, body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
}

#[tokio::test]
async fn malformed_json_is_a_400_and_a_missing_field_is_named() {
    let app = spawn_app().await;
    let response = app
        .client_request("/v1/signup", "{\"company\": \"Acme\", ")
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_request");

    let response = app
        .post(
            "/v1/signup",
            None,
            json!({ "company": "Acme", "password": "x" }),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(body["error"]["details"]["field"], "email");
}

#[tokio::test]
async fn a_wrongly_typed_field_is_named_without_echoing_the_value() {
    let app = spawn_app().await;
    let body = json!({ "company": "Acme", "email": "a@example.com", "password": 424242424242u64 });
    let response = app.post("/v1/signup", None, body).await;
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("password"), "{text}");
    assert!(!text.contains("424242424242"), "{text}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let app = spawn_app().await;
    for path in ["/v1/health", "/v1/nowhere"] {
        let response = app.request(Method::GET, path, None, None).await;
        let headers = response.headers();
        let id = headers["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "a UUID");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(
            headers["strict-transport-security"]
                .to_str()
                .unwrap()
                .contains("max-age=")
        );
    }
    let one = app.request(Method::GET, "/v1/health", None, None).await;
    let two = app.request(Method::GET, "/v1/health", None, None).await;
    assert_ne!(one.headers()["x-request-id"], two.headers()["x-request-id"]);
}

#[tokio::test]
async fn a_client_supplied_request_id_is_not_echoed() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .get(format!("{}/v1/health", app.address))
        .header("x-request-id", "forged-id")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "forged-id");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_415() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/signup", app.address))
        .header("content-type", "text/plain")
        .body("company=Acme")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(error_code(response).await, "unsupported_media_type");
}

#[tokio::test]
async fn cross_origin_calls_are_allowed_from_the_configured_app_only() {
    let app =
        crate::helpers::spawn_app_with(&[("TALLY_APP_URL", "https://app.tally.example")]).await;
    let preflight = |origin: &'static str| {
        reqwest::Client::new()
            .request(Method::OPTIONS, format!("{}/v1/me", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://app.tally.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.tally.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
