use serde_json::{Value, json};

use crate::helpers::{GOOD_PASSWORD, error_code, spawn_app};

#[tokio::test]
async fn an_invited_user_sets_a_password_and_signs_in_with_their_role() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let response = app
        .post(
            "/v1/users",
            Some(&token),
            json!({ "email": "Analyst@Example.com", "role": "analyst" }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let invite: Value = response.json().await.unwrap();
    assert_eq!(invite["email"], "analyst@example.com");
    assert_eq!(invite["role"], "analyst");
    let invite_token = invite["invite_token"].as_str().unwrap();
    let event = &app.events_of("UserInvited")[0];
    assert_eq!(
        event["token"], invite_token,
        "the invitation travels as an event, like an e-mail"
    );

    // Before accepting, nobody can sign in as the invitee.
    assert_eq!(
        app.try_login("analyst@example.com", GOOD_PASSWORD)
            .await
            .status(),
        401
    );
    let weak = app
        .post(
            "/v1/invites/accept",
            None,
            json!({ "token": invite_token, "password": "short" }),
        )
        .await;
    assert_eq!(error_code(weak).await, "weak_password");
    let accepted = app
        .post(
            "/v1/invites/accept",
            None,
            json!({ "token": invite_token, "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(accepted.status(), 201);
    let again = app
        .post(
            "/v1/invites/accept",
            None,
            json!({ "token": invite_token, "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(error_code(again).await, "invalid_token");

    let session: Value = app
        .try_login("analyst@example.com", GOOD_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(session["user"]["role"], "analyst");
    let list: Value = app.get("/v1/users", &token).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_invited_email_cannot_sign_up_elsewhere() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    app.post(
        "/v1/users",
        Some(&token),
        json!({ "email": "taken@example.com", "role": "viewer" }),
    )
    .await;
    let response = app
        .post(
            "/v1/signup",
            None,
            json!({ "company": "Other", "email": "taken@example.com", "password": GOOD_PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 409);
    let response = app
        .post(
            "/v1/users",
            Some(&token),
            json!({ "email": "taken@example.com", "role": "viewer" }),
        )
        .await;
    assert_eq!(error_code(response).await, "email_taken");
}

#[tokio::test]
async fn a_bad_role_or_email_in_an_invite_is_an_invalid_request() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    for (body, field) in [
        (json!({ "email": "x@example.com", "role": "owner" }), "role"),
        (json!({ "email": "nope", "role": "viewer" }), "email"),
        (json!({ "email": "x@example.com" }), "role"),
    ] {
        let response = app.post("/v1/users", Some(&token), body).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["details"]["field"], field);
    }
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_disabled_or_deleted() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let path = format!("/v1/users/{}", admin.user_id);
    for body in [json!({ "role": "analyst" }), json!({ "disabled": true })] {
        let response = app.patch(&path, &token, body).await;
        assert_eq!(response.status(), 409);
        assert_eq!(error_code(response).await, "last_admin");
    }
    let response = app.delete(&path, &token).await;
    assert_eq!(error_code(response).await, "last_admin");

    // With a second admin, the first may step down.
    let (second, second_token) = app.user_with_role(&token, "admin").await;
    assert_eq!(
        app.patch(&path, &token, json!({ "role": "viewer" }))
            .await
            .status(),
        200
    );
    let second_path = format!("/v1/users/{}", second.user_id);
    let response = app
        .patch(&second_path, &second_token, json!({ "role": "analyst" }))
        .await;
    assert_eq!(error_code(response).await, "last_admin");
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_at_once() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (analyst, analyst_token) = app.user_with_role(&token, "analyst").await;
    assert_eq!(app.get("/v1/me", &analyst_token).await.status(), 200);
    let response = app
        .patch(
            &format!("/v1/users/{}", analyst.user_id),
            &token,
            json!({ "disabled": true }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["disabled"], true);
    assert_eq!(app.get("/v1/me", &analyst_token).await.status(), 401);
    assert_eq!(
        app.try_login(&analyst.email, &analyst.password)
            .await
            .status(),
        401
    );
    app.patch(
        &format!("/v1/users/{}", analyst.user_id),
        &token,
        json!({ "disabled": false }),
    )
    .await;
    assert_eq!(
        app.try_login(&analyst.email, &analyst.password)
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_deleted_user_is_signed_out_and_their_email_is_free_again() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (viewer, viewer_token) = app.user_with_role(&token, "viewer").await;
    assert_eq!(
        app.delete(&format!("/v1/users/{}", viewer.user_id), &token)
            .await
            .status(),
        204
    );
    assert_eq!(app.get("/v1/me", &viewer_token).await.status(), 401);
    assert_eq!(
        app.try_login(&viewer.email, &viewer.password)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.delete(&format!("/v1/users/{}", viewer.user_id), &token)
            .await
            .status(),
        404
    );
    app.signup_as(&viewer.email, "Viewer's own company").await;
}

#[tokio::test]
async fn a_role_change_takes_effect_on_the_next_request() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let (user, user_token) = app.user_with_role(&token, "admin").await;
    assert_eq!(app.get("/v1/users", &user_token).await.status(), 200);
    app.patch(
        &format!("/v1/users/{}", user.user_id),
        &token,
        json!({ "role": "viewer" }),
    )
    .await;
    assert_eq!(app.get("/v1/users", &user_token).await.status(), 403);
}
