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

/// The keys of a reply and the JSON type of each value: its shape, not its values.
fn shape(body: &serde_json::Value) -> Vec<(String, &'static str)> {
    let Some(object) = body.as_object() else {
        return Vec::new();
    };
    let mut shape: Vec<(String, &'static str)> = object
        .iter()
        .map(|(key, value)| {
            let kind = match value {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "bool",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::String(_) => "string",
                serde_json::Value::Array(_) => "array",
                serde_json::Value::Object(_) => "object",
            };
            (key.clone(), kind)
        })
        .collect();
    shape.sort();
    shape
}

#[tokio::test]
async fn inviting_another_tenants_address_answers_like_a_fresh_address_in_the_same_time() {
    let app = spawn_app().await;
    let elsewhere = app.signup().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (mut fresh_times, mut taken_times) = (Vec::new(), Vec::new());
    for i in 0..TRIES {
        next_minute(&app);
        let fresh = json!({ "email": format!("fresh-{i}@example.com"), "role": "viewer" });
        let (took, response) = timed(app.post("/v1/users", Some(&token), fresh)).await;
        assert_eq!(response.status(), 201);
        let fresh_body: serde_json::Value = response.json().await.unwrap();
        fresh_times.push(took);

        let taken = json!({ "email": elsewhere.email, "role": "viewer" });
        let (took, response) = timed(app.post("/v1/users", Some(&token), taken)).await;
        assert_eq!(response.status(), 201, "the same status as a fresh address");
        let taken_body: serde_json::Value = response.json().await.unwrap();
        taken_times.push(took);
        assert_eq!(shape(&taken_body), shape(&fresh_body));
        assert_eq!(taken_body["email"], elsewhere.email.as_str());
    }
    assert_same_time(
        "invite, another tenant's address vs a fresh one",
        taken_times,
        fresh_times,
    );

    // Nothing was made of the other tenant's address: no user here, no invitation
    // mail, and its token opens nothing; the account elsewhere is untouched.
    let users: serde_json::Value = app.get("/v1/users", &token).await.json().await.unwrap();
    let listed = users["data"].as_array().unwrap();
    assert_eq!(listed.len(), TRIES + 1);
    assert!(
        listed
            .iter()
            .all(|u| u["email"] != elsewhere.email.as_str())
    );
    assert!(
        app.events_of("UserInvited")
            .iter()
            .all(|e| e["email"] != elsewhere.email.as_str())
    );
    let notices = app.events_of("InviteForExistingAccount");
    assert_eq!(notices.len(), TRIES);
    assert!(notices.iter().all(|e| e.get("token").is_none()
        && e["tenant_id"] == admin.tenant_id.as_str()
        && e.to_string().find(&elsewhere.tenant_id).is_none()));
    let taken_token = taken_body_token(&app, &token, &elsewhere.email).await;
    let accept = json!({ "token": taken_token, "password": "Another-Horse-43-Battery" });
    let response = app.post("/v1/invites/accept", None, accept).await;
    assert_eq!(error_code(response).await, "invalid_token");
    next_minute(&app);
    assert!(app.login(&elsewhere).await.len() > 20);

    // Inviting an address of this same tenant still says so.
    let again = json!({ "email": "fresh-0@example.com", "role": "viewer" });
    let response = app.post("/v1/users", Some(&token), again).await;
    assert_eq!(error_code(response).await, "email_taken");
}

/// The token of one more invitation of `email`.
async fn taken_body_token(app: &TestApp, admin_token: &str, email: &str) -> String {
    let body = json!({ "email": email, "role": "viewer" });
    let reply: serde_json::Value = app
        .post("/v1/users", Some(admin_token), body)
        .await
        .json()
        .await
        .unwrap();
    reply["invite_token"].as_str().unwrap().to_owned()
}
