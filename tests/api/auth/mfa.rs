use serde_json::{Value, json};
use tally::domain::totp::{TotpSecret, code_at};

use crate::helpers::{TestApp, TestUser, error_code, spawn_app};

fn now(app: &TestApp) -> u64 {
    use tally::ports::Clock;
    app.clock.now().timestamp() as u64
}

/// Enrols the user in TOTP; returns the secret and the recovery codes.
async fn enrol(app: &TestApp, user: &TestUser, token: &str) -> (TotpSecret, Vec<String>) {
    let response = app
        .post(
            "/v1/mfa/totp/setup",
            Some(token),
            json!({ "password": user.password }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let secret = TotpSecret::from_base32(body["secret"].as_str().unwrap()).unwrap();
    assert!(uri.contains(&secret.to_base32()));
    let code = code_at(&secret, now(app));
    let response = app
        .post("/v1/mfa/totp/confirm", Some(token), json!({ "code": code }))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn login_with(app: &TestApp, user: &TestUser, extra: Value) -> reqwest::Response {
    let mut body = json!({ "email": user.email, "password": user.password });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.post("/v1/sessions", None, body).await
}

#[tokio::test]
async fn setup_requires_the_password() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let response = app
        .post(
            "/v1/mfa/totp/setup",
            Some(&token),
            json!({ "password": "Wrong-Password-1" }),
        )
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "invalid_credentials");
}

#[tokio::test]
async fn with_two_factor_on_a_sign_in_needs_a_valid_code() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let (secret, codes) = enrol(&app, &user, &token).await;
    assert_eq!(codes.len(), 10);
    let me: Value = app.get("/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["user"]["mfa_enabled"], true);

    let response = login_with(&app, &user, json!({})).await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "mfa_required");
    let response = login_with(&app, &user, json!({ "totp_code": "000000" })).await;
    assert_eq!(error_code(response).await, "invalid_mfa_code");

    app.clock.advance(chrono::Duration::seconds(30));
    let code = code_at(&secret, now(&app));
    assert_eq!(
        login_with(&app, &user, json!({ "totp_code": code }))
            .await
            .status(),
        201
    );
    assert_eq!(app.events_of("MfaEnabled").len(), 1);
}

#[tokio::test]
async fn a_totp_code_cannot_be_used_twice() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let (secret, _) = enrol(&app, &user, &token).await;
    app.clock.advance(chrono::Duration::seconds(30));
    let code = code_at(&secret, now(&app));
    assert_eq!(
        login_with(&app, &user, json!({ "totp_code": code }))
            .await
            .status(),
        201
    );
    let again = login_with(&app, &user, json!({ "totp_code": code })).await;
    assert_eq!(again.status(), 401);
    assert_eq!(error_code(again).await, "invalid_mfa_code");
}

#[tokio::test]
async fn the_confirming_code_cannot_sign_in_again() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let (secret, _) = enrol(&app, &user, &token).await;
    let same_step = code_at(&secret, now(&app));
    assert_eq!(
        error_code(login_with(&app, &user, json!({ "totp_code": same_step })).await).await,
        "invalid_mfa_code"
    );
}

#[tokio::test]
async fn each_recovery_code_works_once() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let (_, codes) = enrol(&app, &user, &token).await;
    let first = &codes[0];
    assert_eq!(
        login_with(&app, &user, json!({ "recovery_code": first }))
            .await
            .status(),
        201
    );
    let again = login_with(&app, &user, json!({ "recovery_code": first })).await;
    assert_eq!(error_code(again).await, "invalid_mfa_code");
    assert_eq!(
        login_with(
            &app,
            &user,
            json!({ "recovery_code": codes[1].to_lowercase() })
        )
        .await
        .status(),
        201
    );
}

#[tokio::test]
async fn disabling_needs_the_password_and_a_code() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let (secret, _) = enrol(&app, &user, &token).await;
    app.clock.advance(chrono::Duration::seconds(30));
    let code = code_at(&secret, now(&app));
    let wrong_password = app
        .request(
            reqwest::Method::DELETE,
            "/v1/mfa/totp",
            Some(&token),
            Some(json!({ "password": "Nope-Nope-123", "code": code })),
        )
        .await;
    assert_eq!(wrong_password.status(), 401);
    let wrong_code = app
        .request(
            reqwest::Method::DELETE,
            "/v1/mfa/totp",
            Some(&token),
            Some(json!({ "password": user.password, "code": "123456" })),
        )
        .await;
    assert_eq!(error_code(wrong_code).await, "invalid_mfa_code");
    let response = app
        .request(
            reqwest::Method::DELETE,
            "/v1/mfa/totp",
            Some(&token),
            Some(json!({ "password": user.password, "code": code })),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(login_with(&app, &user, json!({})).await.status(), 201);
    assert_eq!(app.events_of("MfaDisabled").len(), 1);
}

#[tokio::test]
async fn the_totp_secret_is_sealed_at_rest() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let (secret, _) = enrol(&app, &user, &token).await;
    let raw = app.raw_data();
    assert!(!crate::helpers::contains_bytes(
        &raw,
        secret.to_base32().as_bytes()
    ));
    assert!(!crate::helpers::contains_bytes(&raw, secret.expose_bytes()));
}

#[tokio::test]
async fn recovery_codes_issued_before_a_key_rotation_work_after_the_old_key_is_destroyed() {
    use tally::domain::ids::TenantId;
    use tally::services::jobs::{self, Job, ResealJob, Workers};

    let app = crate::helpers::spawn_app_with(&[("TALLY_DATA_KEY_CACHE_SECS", "1")]).await;
    let user = app.signup().await;
    let token = app.login(&user).await;
    let (_, codes) = enrol(&app, &user, &token).await;
    let response = app
        .post("/v1/security/rotate-keys", Some(&token), json!({}))
        .await;
    assert_eq!(response.status(), 202);
    let tenant = TenantId::parse(&user.tenant_id).unwrap();
    let job = Job::ResealTenant(ResealJob {
        tenant_id: tenant.clone(),
    });
    jobs::run(&Workers::all(&app.services), job).await.unwrap();
    let state = app.services.tenant_keys.state(&tenant).await.unwrap();
    assert_eq!((state.generation, state.retired), (1, None));
    assert_eq!(
        login_with(&app, &user, json!({ "recovery_code": codes[0] }))
            .await
            .status(),
        201
    );
}
