//! Issue 17, finding 2: an OAuth install is finished only by the browser that started
//! it (the `state` is bound to a `__Host-` cookie set on connect), and a Stripe account
//! linked to one tenant is never linked to another.

use serde_json::{Value, json};
use tally_tests::fake_stripe::{FAKE_ACCOUNT, FakeStripe};

use crate::helpers::{TestApp, cookie_pair, error_code};
use crate::integrations::{app_with_fake, connect_oauth};

/// `POST /v1/integrations/stripe/connect`: the state and the cookie it set.
async fn start(app: &TestApp, token: &str) -> (String, Option<String>, String) {
    let response = app
        .post("/v1/integrations/stripe/connect", Some(token), json!({}))
        .await;
    assert_eq!(response.status(), 200);
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookie = cookie_pair(&response, "__Host-");
    let body: Value = response.json().await.unwrap();
    (
        body["state"].as_str().unwrap().to_owned(),
        cookie,
        set_cookie,
    )
}

fn callback(fake: &FakeStripe, state: &str) -> String {
    format!(
        "/v1/oauth/stripe/callback?code={}&state={state}",
        fake.issue_code()
    )
}

#[tokio::test]
async fn an_oauth_callback_from_another_browser_is_refused() {
    let (app, fake) = app_with_fake(3).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (state, cookie, set_cookie) = start(&app, &token).await;
    let attributes: Vec<String> = set_cookie
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attributes.iter().any(|a| a == wanted), "{set_cookie}");
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain=")),
        "{set_cookie}"
    );
    let cookie = cookie.expect("a __Host- cookie is set on connect");

    // The merchant's browser, handed the attacker's link: no cookie, or its own.
    let response = app.get_with_cookie(&callback(&fake, &state), None).await;
    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_state");
    let (_, other_cookie, _) = start(&app, &token).await;
    let response = app
        .get_with_cookie(&callback(&fake, &state), other_cookie.as_deref())
        .await;
    assert_eq!(error_code(response).await, "invalid_state");
    let list: Value = app
        .get("/v1/integrations", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);

    // The browser that started it finishes it, and the cookie is cleared.
    let response = app
        .get_with_cookie(&callback(&fake, &state), Some(&cookie))
        .await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.contains("?connected="), "{location}");
    let cleared = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(cleared.contains("max-age=0"), "{cleared}");
}

#[tokio::test]
async fn a_stripe_account_linked_to_one_tenant_is_refused_to_another() {
    let (app, fake) = app_with_fake(3).await;
    let a = app.signup_as("a-admin@example.com", "Tenant A").await;
    let a_token = app.login(&a).await;
    let a_integration = connect_oauth(&app, &fake, &a_token).await;

    let b = app.signup_as("b-admin@example.com", "Tenant B").await;
    let b_token = app.login(&b).await;
    let (state, cookie, _) = start(&app, &b_token).await;
    let response = app
        .get_with_cookie(&callback(&fake, &state), cookie.as_deref())
        .await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.ends_with("?error=stripe_account_linked"),
        "{location}"
    );
    let list: Value = app
        .get("/v1/integrations", &b_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        0,
        "nothing linked to B"
    );

    // Webhooks and deauthorization still reach A.
    let pointer = app
        .services
        .common
        .repos
        .stripe_accounts
        .get(FAKE_ACCOUNT)
        .await
        .unwrap()
        .expect("the pointer");
    assert_eq!(pointer.0.to_string(), a.tenant_id);
    assert_eq!(pointer.1.to_string(), a_integration);
    // A may link its own account again.
    let again = connect_oauth(&app, &fake, &a_token).await;
    assert_ne!(again, "stripe_account_linked");
}
