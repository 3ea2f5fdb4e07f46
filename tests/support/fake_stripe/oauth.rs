//! Stripe Apps OAuth on the fake: the install link redirects straight back with a
//! code (as if the merchant approved), `/v1/oauth/token` exchanges codes and rotates
//! refresh tokens (the old one dies), `/v1/oauth/deauthorize` revokes every token of
//! the install. The app authenticates with HTTP Basic, its secret key as user.

use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use super::{
    FAKE_ACCOUNT, FAKE_APP_SECRET_KEY, FAKE_CLIENT_ID, Shared, begin, lock, param, stripe_error,
};

pub(super) async fn authorize(
    State(state): State<Shared>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let (Some(FAKE_CLIENT_ID), Some(redirect)) =
        (param(&query, "client_id"), param(&query, "redirect_uri"))
    else {
        return (StatusCode::BAD_REQUEST, "unknown client or no redirect_uri").into_response();
    };
    let code = lock(&state).issue_code();
    let mut back = vec![("code", code.as_str())];
    if let Some(st) = param(&query, "state") {
        back.push(("state", st));
    }
    match reqwest::Url::parse_with_params(redirect, &back) {
        Ok(url) => (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response(),
    }
}

fn app_authenticated(headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{FAKE_APP_SECRET_KEY}:"))
    );
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str())
}

fn invalid_grant() -> Response {
    let body =
        json!({"error": "invalid_grant", "error_description": "The grant is invalid (fake)."});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

pub(super) async fn token(
    State(state): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(fault) = begin(&state, &uri, &headers).await {
        return fault;
    }
    if !app_authenticated(&headers) {
        return stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            None,
        );
    }
    let mut s = lock(&state);
    let granted = match (
        param(&form, "grant_type"),
        param(&form, "code"),
        param(&form, "refresh_token"),
    ) {
        (Some("authorization_code"), Some(code), _) => s.oauth_codes.remove(code),
        (Some("refresh_token"), _, Some(refresh)) => s.refresh_token.as_deref() == Some(refresh),
        _ => false,
    };
    if !granted {
        return invalid_grant();
    }
    s.token_seq += 1;
    let access = format!("fake_at_{:06}", s.token_seq);
    let refresh = format!("fake_rt_{:06}", s.token_seq);
    s.valid_tokens.insert(access.clone());
    s.oauth_access_tokens.insert(access.clone());
    s.refresh_token = Some(refresh.clone());
    Json(
        json!({"access_token": access, "refresh_token": refresh, "livemode": false,
        "scope": "stripe_apps", "stripe_publishable_key": "pk_test_fake",
        "stripe_user_id": FAKE_ACCOUNT, "token_type": "bearer"}),
    )
    .into_response()
}

pub(super) async fn deauthorize(
    State(state): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(fault) = begin(&state, &uri, &headers).await {
        return fault;
    }
    if !app_authenticated(&headers) {
        return stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            None,
        );
    }
    if param(&form, "client_id") != Some(FAKE_CLIENT_ID)
        || param(&form, "stripe_user_id") != Some(FAKE_ACCOUNT)
    {
        return invalid_grant();
    }
    let mut s = lock(&state);
    let revoked: Vec<String> = s.oauth_access_tokens.drain().collect();
    for token in revoked {
        s.valid_tokens.remove(&token);
    }
    s.refresh_token = None;
    Json(json!({"stripe_user_id": FAKE_ACCOUNT})).into_response()
}
