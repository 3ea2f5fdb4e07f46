//! Issue 17, finding 6: failed sign-ins counted for an address that has no account yet
//! do not carry over to the account it later gets (by invitation or sign-up): nobody
//! can lock an account before it exists.

use serde_json::{Value, json};

use crate::helpers::{GOOD_PASSWORD, spawn_app};

#[tokio::test]
async fn failures_before_an_invitation_do_not_lock_the_invited_user() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let email = "future-colleague@example.com";
    for _ in 0..6 {
        app.try_login(email, "Wrong-Password-99").await;
    }
    let invite: Value = app
        .post(
            "/v1/users",
            Some(&token),
            json!({ "email": email, "role": "analyst" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let accepted = app
        .post(
            "/v1/invites/accept",
            None,
            json!({ "token": invite["invite_token"], "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(accepted.status(), 201);
    assert_eq!(app.try_login(email, GOOD_PASSWORD).await.status(), 201);
}

#[tokio::test]
async fn failures_before_a_sign_up_do_not_lock_the_new_account() {
    let app = spawn_app().await;
    let email = "founder@example.com";
    for _ in 0..6 {
        app.try_login(email, "Wrong-Password-99").await;
    }
    let user = app.signup_as(email, "Founder Ltd").await;
    assert_eq!(
        app.try_login(&user.email, &user.password).await.status(),
        201
    );
}
