//! Issue 17, finding 1: a password or second-factor check made by a signed-in user
//! (2FA setup and removal, password change, account closure) counts toward the same
//! lockout and rate limit as sign-in, and each failure is audited.

use reqwest::Method;
use serde_json::{Value, json};
use tally::domain::totp::{TotpSecret, code_at};

use crate::helpers::{TestApp, TestUser, error_code, spawn_app};

const WRONG: &str = "Wrong-Password-99";

/// One wrong-password re-check through each route that asks for the password again.
async fn wrong_recheck(app: &TestApp, token: &str, route: usize) -> reqwest::Response {
    match route % 4 {
        0 => {
            app.post(
                "/v1/mfa/totp/setup",
                Some(token),
                json!({ "password": WRONG }),
            )
            .await
        }
        1 => {
            app.post(
                "/v1/password/change",
                Some(token),
                json!({ "current_password": WRONG, "new_password": "Fresh-Password-123!" }),
            )
            .await
        }
        2 => {
            app.request(
                Method::DELETE,
                "/v1/mfa/totp",
                Some(token),
                Some(json!({ "password": WRONG, "code": "123456" })),
            )
            .await
        }
        _ => {
            app.request(
                Method::DELETE,
                "/v1/account",
                Some(token),
                Some(json!({ "password": WRONG, "confirm": "Acme GmbH" })),
            )
            .await
        }
    }
}

async fn audit_actions(app: &TestApp, token: &str) -> Vec<String> {
    let log: Value = app
        .get("/v1/security/audit-log?limit=200", token)
        .await
        .json()
        .await
        .unwrap();
    log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn password_rechecks_count_toward_the_sign_in_lockout() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    for route in 0..5 {
        let response = wrong_recheck(&app, &token, route).await;
        assert_eq!(response.status(), 401, "route {route}");
        assert_eq!(error_code(response).await, "invalid_credentials");
    }
    // The fifth failure locked the account: the right password no longer opens
    // anything, neither a re-check nor a sign-in, until a reset.
    let response = app
        .post(
            "/v1/mfa/totp/setup",
            Some(&token),
            json!({ "password": user.password }),
        )
        .await;
    assert_eq!(response.status(), 423);
    assert_eq!(error_code(response).await, "password_reset_required");
    let response = app.try_login(&user.email, &user.password).await;
    assert_eq!(response.status(), 423);
    assert_eq!(app.events_of("AccountLocked").len(), 1);
    let failures = audit_actions(&app, &token)
        .await
        .into_iter()
        .filter(|a| a == "PasswordCheckFailed")
        .count();
    assert_eq!(
        failures, 6,
        "five wrong passwords and the refused right one"
    );
}

#[tokio::test]
async fn a_right_recheck_gives_its_reservation_back() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    for route in 0..4 {
        wrong_recheck(&app, &token, route).await;
    }
    // Right: the count stays at four, so the next sign-in with the right password works.
    let response = app
        .post(
            "/v1/mfa/totp/setup",
            Some(&token),
            json!({ "password": user.password }),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.try_login(&user.email, &user.password).await.status(),
        201
    );
}

#[tokio::test]
async fn password_rechecks_share_the_sign_in_rate_limit() {
    use chrono::{DurationRound, TimeDelta, Utc};
    let app = spawn_app().await;
    // All within one minute of the rate counter, whatever the wall clock does.
    let minute = Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap();
    app.clock.freeze_at(minute + TimeDelta::seconds(1));
    let user = app.signup().await;
    let token = app.login(&user).await;
    // Sign-in attempts for unknown addresses use the minute's budget of this address.
    for i in 0..20 {
        app.try_login(&format!("nobody-{i}@example.com"), WRONG)
            .await;
    }
    let response = wrong_recheck(&app, &token, 0).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some());
}

async fn enrol(app: &TestApp, user: &TestUser, token: &str) -> TotpSecret {
    use tally::ports::Clock;
    let body: Value = app
        .post(
            "/v1/mfa/totp/setup",
            Some(token),
            json!({ "password": user.password }),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(body["secret"].as_str().unwrap()).unwrap();
    let code = code_at(&secret, app.clock.now().timestamp() as u64);
    let response = app
        .post("/v1/mfa/totp/confirm", Some(token), json!({ "code": code }))
        .await;
    assert_eq!(response.status(), 200);
    secret
}

#[tokio::test]
async fn second_factor_rechecks_count_toward_the_lockout() {
    use tally::ports::Clock;
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let secret = enrol(&app, &user, &token).await;
    for _ in 0..5 {
        let response = app
            .request(
                Method::DELETE,
                "/v1/mfa/totp",
                Some(&token),
                Some(json!({ "password": user.password, "code": "not-a-recovery-code" })),
            )
            .await;
        assert_eq!(response.status(), 401);
        assert_eq!(error_code(response).await, "invalid_mfa_code");
    }
    app.clock.advance(chrono::Duration::seconds(60));
    let code = code_at(&secret, app.clock.now().timestamp() as u64);
    let response = app
        .post(
            "/v1/sessions",
            None,
            json!({ "email": user.email, "password": user.password, "totp_code": code }),
        )
        .await;
    assert_eq!(response.status(), 423);
    let failures = audit_actions(&app, &token)
        .await
        .into_iter()
        .filter(|a| a == "SecondFactorCheckFailed")
        .count();
    assert_eq!(failures, 5);
}

/// Issue 17, finding 10 (first half): recovery codes are stored as a keyed hash under
/// a key of the tenant's, not as a bare SHA-256 that anyone holding a copy of the
/// table could test guesses against; they still work.
#[tokio::test]
async fn recovery_codes_are_stored_with_a_tenant_keyed_hash_and_still_work() {
    use tally::domain::ids::{TenantId, UserId};
    use tally::domain::tokens::{normalize_recovery_code, token_hash};
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let body: Value = app
        .post(
            "/v1/mfa/totp/setup",
            Some(&token),
            json!({ "password": user.password }),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(body["secret"].as_str().unwrap()).unwrap();
    use tally::ports::Clock;
    let code = code_at(&secret, app.clock.now().timestamp() as u64);
    let body: Value = app
        .post(
            "/v1/mfa/totp/confirm",
            Some(&token),
            json!({ "code": code }),
        )
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let stored = app
        .services
        .common
        .repos
        .users
        .get(
            &TenantId::parse(&user.tenant_id).unwrap(),
            &UserId::parse(&user.user_id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let hashes = stored.record.mfa.unwrap().recovery_code_hashes;
    assert_eq!(hashes.len(), 10);
    for code in &codes {
        let bare = token_hash(&normalize_recovery_code(code));
        assert!(!hashes.contains(&bare), "a bare SHA-256 is stored");
    }
    let response = app
        .post(
            "/v1/sessions",
            None,
            json!({ "email": user.email, "password": user.password, "recovery_code": codes[3] }),
        )
        .await;
    assert_eq!(response.status(), 201);
}
