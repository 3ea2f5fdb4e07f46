//! The `Session` extractor: the only way a handler gets a [`TenantCtx`]. It reads the
//! bearer token, verifies the session (refreshing its idle timer), and enforces the
//! tenant's IP allowlist on every request with the platform-observed client address.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::client_ip::ClientIp;
use super::error::ApiError;
use crate::services::{ServiceError, TenantCtx};

/// A verified caller.
pub struct Session {
    pub ctx: TenantCtx,
    pub mfa_enabled: bool,
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)
            .ok_or(ApiError::Unauthenticated)?
            .to_owned();
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let (ctx, user) = state.authenticate(&token, ip).await?;
        if !state
            .ip_allowed(ctx.tenant(), ip)
            .await
            .map_err(ApiError::from)?
        {
            return Err(ServiceError::IpNotAllowed.into());
        }
        Ok(Session {
            ctx,
            mfa_enabled: user.record.mfa.is_some(),
        })
    }
}

/// `Option<Session>`: `None` when no `Authorization` header came; a header that does not
/// verify is still refused.
impl OptionalFromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        if parts.headers.contains_key(AUTHORIZATION) {
            <Session as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}
