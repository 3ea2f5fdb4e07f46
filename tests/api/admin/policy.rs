use serde_json::{Value, json};
use tally::domain::totp::{TotpSecret, code_at};

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn the_policy_starts_at_default_and_admins_can_switch_to_nist() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let policy: Value = app
        .get("/v1/security/policy", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        policy,
        json!({ "preset": "default", "require_mfa": false, "min_group_size": 5 })
    );
    let response = app
        .put(
            "/v1/security/policy",
            &token,
            json!({ "preset": "nist", "require_mfa": false }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let response = app
        .put(
            "/v1/security/policy",
            &token,
            json!({ "preset": "lax", "require_mfa": false }),
        )
        .await;
    assert_eq!(response.status(), 400);

    // Under NIST: fifteen characters without composition rules pass; twelve do not.
    let invite: Value = app
        .post(
            "/v1/users",
            Some(&token),
            json!({ "email": "n@example.com", "role": "viewer" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let invite_token = invite["invite_token"].as_str().unwrap();
    let short = app
        .post(
            "/v1/invites/accept",
            None,
            json!({ "token": invite_token, "password": "Abcdef-12345" }),
        )
        .await;
    assert_eq!(error_code(short).await, "weak_password");
    let plain = app
        .post(
            "/v1/invites/accept",
            None,
            json!({ "token": invite_token, "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(plain.status(), 201);

    // And passwords no longer expire.
    app.clock.advance(chrono::Duration::days(400));
    assert_eq!(
        app.try_login(&admin.email, &admin.password).await.status(),
        201
    );
}

#[tokio::test]
async fn when_mfa_is_required_users_without_it_can_only_enrol() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (analyst, analyst_token) = app.user_with_role(&token, "analyst").await;
    app.put(
        "/v1/security/policy",
        &token,
        json!({ "preset": "default", "require_mfa": true }),
    )
    .await;

    let refused = app.get("/v1/me/sessions", &analyst_token).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(error_code(refused).await, "mfa_enrolment_required");
    assert_eq!(
        app.get("/v1/users", &token).await.status(),
        403,
        "admins too"
    );
    assert_eq!(app.get("/v1/me", &analyst_token).await.status(), 200);

    let setup: Value = app
        .post(
            "/v1/mfa/totp/setup",
            Some(&analyst_token),
            json!({ "password": analyst.password }),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let now = {
        use tally::ports::Clock;
        app.clock.now().timestamp() as u64
    };
    let confirmed = app
        .post(
            "/v1/mfa/totp/confirm",
            Some(&analyst_token),
            json!({ "code": code_at(&secret, now) }),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    assert_eq!(
        app.get("/v1/me/sessions", &analyst_token).await.status(),
        200
    );
}

#[tokio::test]
async fn policy_changes_are_audited() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    app.put(
        "/v1/security/policy",
        &token,
        json!({ "preset": "nist", "require_mfa": false }),
    )
    .await;
    let log: Value = app
        .get("/v1/security/audit-log", &token)
        .await
        .json()
        .await
        .unwrap();
    let entry = &log["data"][0];
    assert!(
        entry["action"]
            .as_str()
            .unwrap()
            .starts_with("PolicyChanged"),
        "{entry}"
    );
    assert_eq!(entry["actor"], admin.user_id.as_str());
    assert_eq!(entry["ip"], "127.0.0.1");
    assert!(entry["at"].is_string());
}
