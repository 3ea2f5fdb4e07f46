//! Issue 17, finding 11: sign-up proves the e-mail address (a single-use token sent as
//! the reset token is) before the tenant may connect an integration or invite users.

use serde_json::{Value, json};

use crate::helpers::{GOOD_PASSWORD, TestApp, error_code, spawn_app};

async fn unverified_signup(app: &TestApp, email: &str) -> String {
    let response = app
        .post(
            "/v1/signup",
            None,
            json!({ "company": "Fresh Ltd", "email": email, "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let response = app.try_login(email, GOOD_PASSWORD).await;
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

fn verification_tokens(app: &TestApp, email: &str) -> Vec<String> {
    app.events_of("EmailVerificationRequested")
        .into_iter()
        .filter(|e| e["email"] == email)
        .map(|e| e["token"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_unverified_tenant_can_neither_connect_nor_invite_until_the_email_is_proven() {
    let app = spawn_app().await;
    let email = "fresh@example.com";
    let token = unverified_signup(&app, email).await;
    let tokens = verification_tokens(&app, email);
    assert_eq!(tokens.len(), 1, "sign-up sends one verification");

    let invite = json!({ "email": "colleague@example.com", "role": "viewer" });
    let response = app.post("/v1/users", Some(&token), invite.clone()).await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "email_unverified");
    let key = json!({ "provider": "stripe", "api_key": "rk_test_anything" });
    let response = app.post("/v1/integrations", Some(&token), key).await;
    assert_eq!(error_code(response).await, "email_unverified");

    // A new token can be asked for; a bad one proves nothing.
    let response = app
        .post("/v1/email/verify/resend", Some(&token), json!({}))
        .await;
    assert_eq!(response.status(), 202);
    let tokens = verification_tokens(&app, email);
    assert_eq!(tokens.len(), 2);
    let response = app
        .post("/v1/email/verify", None, json!({ "token": "forged" }))
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_token");

    let response = app
        .post("/v1/email/verify", None, json!({ "token": tokens[1] }))
        .await;
    assert_eq!(response.status(), 204);
    let response = app
        .post("/v1/email/verify", None, json!({ "token": tokens[1] }))
        .await;
    assert_eq!(error_code(response).await, "invalid_token", "single use");
    let response = app.post("/v1/users", Some(&token), invite).await;
    assert_eq!(response.status(), 201);
}
