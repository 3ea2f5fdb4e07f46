//! Issue 17, finding 5: neither the reply nor its time tells whether an address has an
//! account — an invited user who has no password yet signs in as slowly as anyone, and
//! a reset request costs the same for an existing account and for nobody. Times are
//! compared as a ratio of medians over many tries, interleaved, never as absolutes.

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use serde_json::json;

use crate::helpers::{TestApp, error_code, spawn_app};

const TRIES: usize = 21;

fn median(mut times: Vec<StdDuration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64()
}

/// `median(a) / median(b)` must be close to 1: neither takes half again as long.
fn assert_same_time(what: &str, a: Vec<StdDuration>, b: Vec<StdDuration>) {
    let ratio = median(a) / median(b);
    assert!(
        (1.0 / 1.5..1.5).contains(&ratio),
        "{what}: ratio of medians {ratio:.3}"
    );
}

async fn timed(
    future: impl std::future::Future<Output = reqwest::Response>,
) -> (StdDuration, reqwest::Response) {
    let start = Instant::now();
    let response = future.await;
    (start.elapsed(), response)
}

/// A new minute of the rate counter, so the tries are never rate limited.
fn next_minute(app: &TestApp) {
    app.clock.advance(Duration::seconds(61));
}

#[tokio::test]
async fn an_invited_user_without_a_password_signs_in_as_slowly_as_an_unknown_address() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let mut invited = Vec::new();
    for i in 0..TRIES {
        let email = format!("invited-{i}@example.com");
        let response = app
            .post(
                "/v1/users",
                Some(&token),
                json!({ "email": email, "role": "viewer" }),
            )
            .await;
        assert_eq!(response.status(), 201);
        invited.push(email);
    }
    let (mut invited_times, mut unknown_times) = (Vec::new(), Vec::new());
    for (i, email) in invited.iter().enumerate() {
        next_minute(&app);
        let (took, response) = timed(app.try_login(email, "Some-Guess-123!")).await;
        assert_eq!(error_code(response).await, "invalid_credentials");
        invited_times.push(took);
        let (took, response) =
            timed(app.try_login(&format!("nobody-{i}@example.com"), "Some-Guess-123!")).await;
        assert_eq!(error_code(response).await, "invalid_credentials");
        unknown_times.push(took);
    }
    assert_same_time("invited vs unknown sign-in", invited_times, unknown_times);
}

#[tokio::test]
async fn a_reset_request_takes_as_long_for_an_account_as_for_nobody() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let (mut known_times, mut unknown_times) = (Vec::new(), Vec::new());
    for i in 0..TRIES {
        next_minute(&app);
        let known = json!({ "email": user.email });
        let (took, response) = timed(app.post("/v1/password/reset-request", None, known)).await;
        assert_eq!(response.status(), 202);
        known_times.push(took);
        let unknown = json!({ "email": format!("nobody-{i}@example.com") });
        let (took, response) = timed(app.post("/v1/password/reset-request", None, unknown)).await;
        assert_eq!(response.status(), 202);
        unknown_times.push(took);
    }
    assert_eq!(app.events_of("PasswordResetRequested").len(), TRIES);
    assert_same_time(
        "reset request, account vs nobody",
        known_times,
        unknown_times,
    );
}
