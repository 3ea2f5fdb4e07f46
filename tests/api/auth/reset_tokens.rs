//! Issue 17, finding 4: a password reset uses up every reset and change token the user
//! still holds, not only the one it came with.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, spawn_app};

async fn request_reset(app: &TestApp, email: &str) -> String {
    let response = app
        .post(
            "/v1/password/reset-request",
            None,
            json!({ "email": email }),
        )
        .await;
    assert_eq!(response.status(), 202);
    let events = app.events_of("PasswordResetRequested");
    events.last().unwrap()["token"].as_str().unwrap().to_owned()
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post(
        "/v1/password/reset",
        None,
        json!({ "token": token, "new_password": password }),
    )
    .await
}

#[tokio::test]
async fn a_reset_uses_up_every_older_reset_token() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let first = request_reset(&app, &user.email).await;
    let second = request_reset(&app, &user.email).await;
    assert_ne!(first, second);
    assert_eq!(
        reset(&app, &second, "Brand-New-Secret-77").await.status(),
        204
    );
    let response = reset(&app, &first, "Attacker-Chosen-88!").await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_token");
    assert_eq!(
        app.try_login(&user.email, "Brand-New-Secret-77")
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_reset_uses_up_the_change_token_of_an_expired_password() {
    let app = spawn_app().await;
    let user = app.signup().await;
    app.clock.advance(Duration::days(181));
    let response = app.try_login(&user.email, &user.password).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    let change_token = body["change_token"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::seconds(1));
    let token = request_reset(&app, &user.email).await;
    assert_eq!(
        reset(&app, &token, "Brand-New-Secret-77").await.status(),
        204
    );
    let response = app
        .post(
            "/v1/password/change",
            None,
            json!({ "change_token": change_token, "new_password": "Attacker-Chosen-88!" }),
        )
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_token");
}
