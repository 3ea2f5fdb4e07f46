use std::net::IpAddr;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, spawn_app};

fn other_address() -> IpAddr {
    "127.0.0.2".parse().unwrap()
}

#[tokio::test]
async fn the_allowlist_refuses_requests_and_sign_ins_from_other_addresses() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let outsider = TestApp::client_from(other_address());
    // Open by default: the other address gets in.
    let before = app
        .request_from(&outsider, Method::GET, "/v1/me", Some(&token), None)
        .await;
    assert_eq!(before.status(), 200);

    let response = app
        .post(
            "/v1/security/ip-allowlist",
            Some(&token),
            json!({ "cidr": "127.0.0.1", "note": "office" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let entry: Value = response.json().await.unwrap();
    assert_eq!(entry["cidr"], "127.0.0.1/32");
    assert_eq!(entry["note"], "office");

    let refused = app
        .request_from(&outsider, Method::GET, "/v1/me", Some(&token), None)
        .await;
    // Answered like a bad token: a refused address learns nothing about the token.
    assert_eq!(refused.status(), 401);
    assert_eq!(error_code(refused).await, "unauthenticated");
    let login = app
        .request_from(
            &outsider,
            Method::POST,
            "/v1/sessions",
            None,
            Some(json!({ "email": admin.email, "password": admin.password })),
        )
        .await;
    assert_eq!(login.status(), 403);
    assert_eq!(error_code(login).await, "ip_not_allowed");
    assert_eq!(
        app.get("/v1/me", &token).await.status(),
        200,
        "the listed address still gets in"
    );

    let attempts: Value = app
        .get("/v1/security/login-attempts?outcome=ip_refused", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attempts["summary"]["total"], 1);
    assert_eq!(attempts["data"][0]["ip"], "127.0.0.2");
}

#[tokio::test]
async fn a_forwarded_for_header_does_not_pass_the_allowlist() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    app.post(
        "/v1/security/ip-allowlist",
        Some(&token),
        json!({ "cidr": "127.0.0.1/32", "note": "" }),
    )
    .await;
    let response = TestApp::client_from(other_address())
        .get(format!("{}/v1/me", app.address))
        .bearer_auth(&token)
        .header("x-forwarded-for", "127.0.0.1")
        .header("x-real-ip", "127.0.0.1")
        .header("forwarded", "for=127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn changes_that_would_lock_the_caller_out_are_refused() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let response = app
        .post(
            "/v1/security/ip-allowlist",
            Some(&token),
            json!({ "cidr": "203.0.113.0/24", "note": "vpn" }),
        )
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "would_lock_out");

    let own: Value = app
        .post(
            "/v1/security/ip-allowlist",
            Some(&token),
            json!({ "cidr": "127.0.0.0/8" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let vpn: Value = app
        .post(
            "/v1/security/ip-allowlist",
            Some(&token),
            json!({ "cidr": "203.0.113.0/24" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let response = app
        .delete(
            &format!("/v1/security/ip-allowlist/{}", own["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(error_code(response).await, "would_lock_out");
    assert_eq!(
        app.delete(
            &format!("/v1/security/ip-allowlist/{}", vpn["id"].as_str().unwrap()),
            &token
        )
        .await
        .status(),
        204
    );
    // Removing the last entry opens the list again.
    assert_eq!(
        app.delete(
            &format!("/v1/security/ip-allowlist/{}", own["id"].as_str().unwrap()),
            &token
        )
        .await
        .status(),
        204
    );
    let list: Value = app
        .get("/v1/security/ip-allowlist", &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(list["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn ipv6_networks_are_accepted_and_garbage_or_catch_alls_are_invalid_cidr() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    for good in ["127.0.0.1", "2001:db8::/32"] {
        let response = app
            .post(
                "/v1/security/ip-allowlist",
                Some(&token),
                json!({ "cidr": good }),
            )
            .await;
        assert_eq!(response.status(), 201, "{good}");
    }
    for bad in [
        "",
        "0.0.0.0/0",
        "::/0",
        "10.0.0.1/0",
        "10.0.0.0/33",
        "localhost",
        "1.2.3.4/8/8",
        "::g",
    ] {
        let response = app
            .post(
                "/v1/security/ip-allowlist",
                Some(&token),
                json!({ "cidr": bad }),
            )
            .await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(error_code(response).await, "invalid_cidr");
    }
}
