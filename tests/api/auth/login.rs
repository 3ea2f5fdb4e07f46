use serde_json::{Value, json};

use crate::helpers::{GOOD_PASSWORD, TestApp, error_code, spawn_app};

#[tokio::test]
async fn sign_in_returns_a_256_bit_token_and_the_user() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let response = app.try_login(&user.email, &user.password).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.len(), 43, "32 bytes, base64url without padding");
    assert_eq!(body["idle_timeout_seconds"], 900);
    assert!(body["expires_at"].is_string());
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["id"], user.user_id.as_str());
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_reply() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let wrong = app.try_login(&user.email, "Wrong-Password-99").await;
    let unknown = app
        .try_login("nobody@example.com", "Wrong-Password-99")
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"]["code"], "invalid_credentials");
}

#[tokio::test]
async fn the_right_password_is_refused_after_five_failures_until_reset() {
    let app = spawn_app().await;
    let user = app.signup().await;
    for _ in 0..5 {
        let response = app.try_login(&user.email, "Wrong-Password-99").await;
        assert_eq!(error_code(response).await, "invalid_credentials");
    }
    let response = app.try_login(&user.email, &user.password).await;
    assert_eq!(response.status(), 423);
    assert_eq!(error_code(response).await, "password_reset_required");
    assert_eq!(app.events_of("AccountLocked").len(), 1);

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
    let response = app
        .post(
            "/v1/password/reset",
            None,
            json!({ "token": token, "new_password": "Brand-New-Secret-77" }),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.try_login(&user.email, "Brand-New-Secret-77")
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let app = spawn_app().await;
    let user = app.signup().await;
    for _ in 0..4 {
        app.try_login(&user.email, "Wrong-Password-99").await;
    }
    app.login(&user).await;
    for _ in 0..4 {
        app.try_login(&user.email, "Wrong-Password-99").await;
    }
    assert_eq!(
        app.try_login(&user.email, &user.password).await.status(),
        201
    );
}

#[tokio::test]
async fn unknown_emails_lock_like_known_ones() {
    let app = spawn_app().await;
    for _ in 0..5 {
        app.try_login("ghost@example.com", "Wrong-Password-99")
            .await;
    }
    let response = app
        .try_login("ghost@example.com", "Wrong-Password-99")
        .await;
    assert_eq!(
        response.status(),
        423,
        "no difference between known and unknown addresses"
    );
}

#[tokio::test]
async fn more_than_twenty_sign_in_requests_a_minute_from_one_address_are_rate_limited() {
    let app = spawn_app().await;
    // Held 5 s into a minute, so a slow run cannot split the 21 requests over two.
    let now = chrono::Utc::now().timestamp();
    let minute_start = now - now.rem_euclid(60);
    let at = chrono::DateTime::from_timestamp(minute_start + 5, 0).unwrap();
    app.clock.freeze_at(at);
    for _ in 0..20 {
        let response = app.try_login("rate@example.com", "x").await;
        assert_ne!(response.status(), 429);
    }
    let response = app.try_login("rate@example.com", "x").await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 55, "the rest of the minute");
    assert_eq!(error_code(response).await, "rate_limited");
    // Reset requests share the budget.
    let response = app
        .post(
            "/v1/password/reset-request",
            None,
            json!({ "email": "rate@example.com" }),
        )
        .await;
    assert_eq!(response.status(), 429);
    // The next minute opens a new budget.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_ne!(app.try_login("rate@example.com", "x").await.status(), 429);
}

#[tokio::test]
async fn every_sign_in_attempt_is_recorded_without_the_email_in_plain() {
    let app = spawn_app().await;
    let user = app.signup().await;
    app.try_login(&user.email, "Wrong-Password-99").await;
    app.login(&user).await;
    let attempts = app
        .services
        .adapters
        .store
        .query(tally::ports::Query::new(
            format!("TENANT#{}", user.tenant_id),
            tally::ports::SortKeys::prefix("LOGIN#"),
        ))
        .await
        .unwrap();
    assert_eq!(attempts.items.len(), 2);
    assert!(
        attempts
            .items
            .iter()
            .all(|i| i.b("data").is_some() && i.n("expires_at").is_some())
    );
    let _ = GOOD_PASSWORD;
}

#[tokio::test]
async fn five_parallel_wrong_passwords_lock_the_account() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let statuses = wrong_passwords_at_once(&app, &user.email, 5).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let response = app.try_login(&user.email, &user.password).await;
    assert_eq!(response.status(), 423, "no failed attempt was lost");
}

#[tokio::test]
async fn parallel_guesses_get_no_more_than_five_tries() {
    let app = spawn_app().await;
    let user = app.signup().await;
    // Twelve at once (under the per-address limit of 20): each reserves its place in
    // the failure count before its password is verified, so only five are verified.
    let statuses = wrong_passwords_at_once(&app, &user.email, 12).await;
    let guessed = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 423).count();
    assert_eq!((guessed, refused), (5, 7), "{statuses:?}");
    let response = app.try_login(&user.email, &user.password).await;
    assert_eq!(error_code(response).await, "password_reset_required");
}

/// `n` sign-ins with wrong passwords, polled together: all are in flight before the
/// first answer is read. Their statuses.
async fn wrong_passwords_at_once(app: &TestApp, email: &str, n: usize) -> Vec<u16> {
    let attempts = (0..n).map(|i| async move {
        app.try_login(email, &format!("Wrong-Password-{i}"))
            .await
            .status()
            .as_u16()
    });
    futures::future::join_all(attempts).await
}
