use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_request_without_or_with_a_bad_token_is_unauthenticated() {
    let app = spawn_app().await;
    let response = app
        .request(reqwest::Method::GET, "/v1/me", None, None)
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "unauthenticated");
    for token in ["not-a-token", "", &"A".repeat(43), &"x".repeat(5000)] {
        let response = app.get("/v1/me", token).await;
        assert_eq!(response.status(), 401, "{token:.10}");
    }
}

#[tokio::test]
async fn a_session_idle_longer_than_the_timeout_is_refused() {
    let app = spawn_app_with(&[("TALLY_SESSION_IDLE_TIMEOUT_SECS", "60")]).await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    app.clock.advance(Duration::seconds(50));
    assert_eq!(
        app.get("/v1/me", &token).await.status(),
        200,
        "activity refreshes the timer"
    );
    app.clock.advance(Duration::seconds(50));
    assert_eq!(app.get("/v1/me", &token).await.status(), 200);
    app.clock.advance(Duration::seconds(61));
    let response = app.get("/v1/me", &token).await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "unauthenticated");
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_timeout_even_when_active() {
    let app = spawn_app_with(&[
        ("TALLY_SESSION_IDLE_TIMEOUT_SECS", "600"),
        ("TALLY_SESSION_ABSOLUTE_TIMEOUT_SECS", "1000"),
    ])
    .await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    for _ in 0..3 {
        app.clock.advance(Duration::seconds(300));
        assert_eq!(app.get("/v1/me", &token).await.status(), 200);
    }
    app.clock.advance(Duration::seconds(101));
    assert_eq!(app.get("/v1/me", &token).await.status(), 401);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    assert_eq!(
        app.delete("/v1/sessions/current", &token).await.status(),
        204
    );
    assert_eq!(app.get("/v1/me", &token).await.status(), 401);
}

#[tokio::test]
async fn a_user_lists_and_ends_their_own_sessions() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let first = app.login(&user).await;
    let second = app.login(&user).await;
    let list: Value = app
        .get("/v1/me/sessions", &first)
        .await
        .json()
        .await
        .unwrap();
    let sessions = list["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(list["next_cursor"].is_null());
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    let id = other["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/v1/me/sessions/{id}"), &first)
            .await
            .status(),
        204
    );
    assert_eq!(app.get("/v1/me", &second).await.status(), 401);
    assert_eq!(app.get("/v1/me", &first).await.status(), 200);
    // Gone now, and ids that are not ours or not ids at all are "not found".
    for path in [
        format!("/v1/me/sessions/{id}"),
        "/v1/me/sessions/..%2F..%2Fetc".into(),
        format!("/v1/me/sessions/{}", uuid::Uuid::new_v4()),
    ] {
        let response = app.delete(&path, &first).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(error_code(response).await, "not_found");
    }
}

#[tokio::test]
async fn one_user_cannot_end_another_users_session() {
    let app = spawn_app().await;
    let alice = app.signup().await;
    let bob = app.signup().await;
    let alice_token = app.login(&alice).await;
    let bob_token = app.login(&bob).await;
    let bob_list: Value = app
        .get("/v1/me/sessions", &bob_token)
        .await
        .json()
        .await
        .unwrap();
    let bob_session = bob_list["data"][0]["id"].as_str().unwrap();
    let response = app
        .delete(&format!("/v1/me/sessions/{bob_session}"), &alice_token)
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(app.get("/v1/me", &bob_token).await.status(), 200);
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let current = app.login(&user).await;
    let other = app.login(&user).await;
    let response = app
        .post(
            "/v1/password/change",
            Some(&current),
            json!({ "current_password": user.password, "new_password": "Another-Fine-Pass-31" }),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(app.get("/v1/me", &current).await.status(), 200);
    assert_eq!(app.get("/v1/me", &other).await.status(), 401);
    assert_eq!(
        app.try_login(&user.email, &user.password).await.status(),
        401
    );
    assert_eq!(
        app.try_login(&user.email, "Another-Fine-Pass-31")
            .await
            .status(),
        201
    );
    assert_eq!(app.events_of("PasswordChanged").len(), 1);
}
