use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{error_code, spawn_app};

async fn change(
    app: &crate::helpers::TestApp,
    token: &str,
    current: &str,
    new: &str,
) -> reqwest::Response {
    app.post(
        "/v1/password/change",
        Some(token),
        json!({ "current_password": current, "new_password": new }),
    )
    .await
}

#[tokio::test]
async fn none_of_the_last_five_passwords_may_be_reused() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let passwords: Vec<String> = (1..=5).map(|i| format!("Rotation-Pass-{i}{i}!x")).collect();
    let mut current = user.password.clone();
    for next in &passwords {
        assert_eq!(change(&app, &token, &current, next).await.status(), 204);
        current = next.clone();
    }
    // The original password is now six back: allowed again. The last four are not.
    for reused in &passwords[1..4] {
        let response = change(&app, &token, &current, reused).await;
        assert_eq!(response.status(), 400);
        assert_eq!(error_code(response).await, "password_reused");
    }
    assert_eq!(
        change(&app, &token, &current, &current.clone())
            .await
            .status(),
        400
    );
    assert_eq!(
        change(&app, &token, &current, &user.password)
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let response = change(&app, &token, "Not-The-Password-1", "Fresh-Password-123").await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "invalid_credentials");
    assert_eq!(
        app.try_login(&user.email, &user.password).await.status(),
        201
    );
}

#[tokio::test]
async fn an_expired_password_must_be_changed_with_a_single_use_token() {
    let app = spawn_app().await;
    let user = app.signup().await;
    app.clock.advance(Duration::days(181));
    let response = app.try_login(&user.email, &user.password).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "password_expired");
    let change_token = body["change_token"].as_str().unwrap().to_owned();
    assert_eq!(
        body["error"]["details"]["change_token"],
        change_token.as_str()
    );

    let reuse = app
        .post(
            "/v1/password/change",
            None,
            json!({ "change_token": change_token, "new_password": user.password }),
        )
        .await;
    assert_eq!(error_code(reuse).await, "password_reused");
    let response = app
        .post(
            "/v1/password/change",
            None,
            json!({ "change_token": change_token, "new_password": "Renewed-Secret-2027" }),
        )
        .await;
    assert_eq!(response.status(), 204);
    let again = app
        .post(
            "/v1/password/change",
            None,
            json!({ "change_token": change_token, "new_password": "Renewed-Secret-2028" }),
        )
        .await;
    assert_eq!(again.status(), 400);
    assert_eq!(error_code(again).await, "invalid_token");
    assert_eq!(
        app.try_login(&user.email, "Renewed-Secret-2027")
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_reset_token_works_once() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let response = app
        .post(
            "/v1/password/reset-request",
            None,
            json!({ "email": user.email }),
        )
        .await;
    assert_eq!(response.status(), 202);
    let events = app.events_of("PasswordResetRequested");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["email"], user.email.as_str());
    let token = events[0]["token"].as_str().unwrap().to_owned();
    let reset = |password: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.post(
                "/v1/password/reset",
                None,
                json!({ "token": token, "new_password": password }),
            )
            .await
        }
    };
    assert_eq!(reset("First-Reset-Pass-11").await.status(), 204);
    let second = reset("Second-Reset-Pass-22").await;
    assert_eq!(second.status(), 400);
    assert_eq!(error_code(second).await, "invalid_token");
    assert_eq!(
        app.try_login(&user.email, "First-Reset-Pass-11")
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_reset_token_expires_after_thirty_minutes() {
    let app = spawn_app().await;
    let user = app.signup().await;
    app.post(
        "/v1/password/reset-request",
        None,
        json!({ "email": user.email }),
    )
    .await;
    let token = app.events_of("PasswordResetRequested")[0]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(Duration::minutes(31));
    let response = app
        .post(
            "/v1/password/reset",
            None,
            json!({ "token": token, "new_password": "Too-Late-Pass-44" }),
        )
        .await;
    assert_eq!(error_code(response).await, "invalid_token");
}

#[tokio::test]
async fn a_reset_request_for_an_unknown_email_is_accepted_and_sends_nothing() {
    let app = spawn_app().await;
    for email in ["nobody@example.com", "not an e-mail"] {
        let response = app
            .post(
                "/v1/password/reset-request",
                None,
                json!({ "email": email }),
            )
            .await;
        assert_eq!(response.status(), 202);
    }
    assert!(app.events_of("PasswordResetRequested").is_empty());
}

#[tokio::test]
async fn a_reset_ends_every_session() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    app.post(
        "/v1/password/reset-request",
        None,
        json!({ "email": user.email }),
    )
    .await;
    let reset_token = app.events_of("PasswordResetRequested")[0]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        "/v1/password/reset",
        None,
        json!({ "token": reset_token, "new_password": "After-Reset-Pass-55" }),
    )
    .await;
    assert_eq!(app.get("/v1/me", &token).await.status(), 401);
}
