use serde_json::{Value, json};

use crate::helpers::{GOOD_PASSWORD, contains_bytes, error_code, spawn_app};

#[tokio::test]
async fn signup_creates_the_tenant_and_its_first_admin() {
    let app = spawn_app().await;
    let user = app.signup_as("Founder@Example.com", "Acme GmbH").await;
    let token = app.login(&user).await;
    let me: Value = app.get("/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["user"]["id"], user.user_id.as_str());
    assert_eq!(
        me["user"]["email"], "founder@example.com",
        "e-mails are normalized"
    );
    assert_eq!(me["user"]["role"], "admin");
    assert_eq!(me["user"]["mfa_enabled"], false);
    assert!(me["user"]["password_expires_at"].is_string());
    assert_eq!(me["tenant"]["id"], user.tenant_id.as_str());
    assert_eq!(me["tenant"]["company"], "Acme GmbH");
}

#[tokio::test]
async fn an_email_can_sign_up_only_once_whatever_its_case() {
    let app = spawn_app().await;
    app.signup_as("dup@example.com", "One").await;
    let response = app
        .post(
            "/v1/signup",
            None,
            json!({ "company": "Two", "email": "DUP@example.com", "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "email_taken");
}

#[tokio::test]
async fn a_weak_password_lists_every_rule_it_breaks() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/v1/signup",
            None,
            json!({ "company": "Acme", "email": "w@example.com", "password": "abc" }),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "weak_password");
    let rules: Vec<&str> = body["error"]["details"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    for expected in [
        "too_short",
        "needs_uppercase",
        "needs_digit",
        "needs_symbol",
    ] {
        assert!(
            rules.contains(&expected),
            "{expected} missing from {rules:?}"
        );
    }
    assert!(!rules.contains(&"needs_lowercase"));
    assert!(
        !body.to_string().contains("\"abc\""),
        "the password is not echoed"
    );
}

#[tokio::test]
async fn a_common_password_is_refused_and_named_as_common_whatever_its_case() {
    let app = spawn_app().await;
    // "1qaz2wsx3edc" is in the shipped blocklist (zxcvbn's top passwords).
    let response = app
        .post(
            "/v1/signup",
            None,
            json!({ "company": "Acme", "email": "c@example.com", "password": "1QAZ2wsx3edc" }),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "weak_password");
    let rules = body["error"]["details"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["rule"] == "common"), "{body}");
}

#[tokio::test]
async fn bad_company_or_email_is_an_invalid_request_naming_the_field() {
    let app = spawn_app().await;
    for (company, email, field) in [
        ("", "ok@example.com", "company"),
        ("Acme", "not-an-email", "email"),
        ("Acme", "a b@example.com", "email"),
    ] {
        let response = app
            .post(
                "/v1/signup",
                None,
                json!({ "company": company, "email": email, "password": GOOD_PASSWORD }),
            )
            .await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request");
        assert_eq!(body["error"]["details"]["field"], field);
    }
}

#[tokio::test]
async fn the_email_and_password_never_reach_the_data_files_in_plain() {
    let app = spawn_app().await;
    let user = app
        .signup_as("plain.text.check@example.com", "Plaintext Checkers Ltd")
        .await;
    app.login(&user).await;
    let raw = app.raw_stored_data();
    assert!(!contains_bytes(&raw, b"plain.text.check@example.com"));
    let raw = app.raw_data();
    assert!(!contains_bytes(&raw, b"Plaintext Checkers Ltd"));
    assert!(!contains_bytes(&raw, GOOD_PASSWORD.as_bytes()));
}
