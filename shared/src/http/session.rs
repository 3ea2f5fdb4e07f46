//! Who is calling, and may they: the only way a handler gets a [`TenantCtx`].
//!
//! [`Session`] reads the bearer token, verifies the session with the tenant's IP
//! allowlist and the platform-observed client address (a refused address is answered
//! like a bad token, and refreshes no idle timer), and —
//! when the tenant requires two-factor authentication — refuses users who have not
//! enrolled yet, except on the routes that take an [`EnrollingSession`] (2FA setup, the
//! caller's own account, sign-out). [`Authorized`] adds the role check: every route that
//! needs more than a signed-in user names its [`Requirement`] in its signature, and
//! [`Role::allows`] is the one place that answers.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use std::sync::Arc;

use axum::extract::FromRef;

use super::client_ip::ClientIp;
use super::error::ApiError;
use crate::domain::roles::Access;
use crate::services::SessionGate;
use crate::services::{ServiceError, TenantCtx};

/// A verified caller who may use the product (2FA enrolled where required).
pub struct Session {
    pub ctx: TenantCtx,
    pub mfa_enabled: bool,
}

/// A verified caller who may still have to enrol in 2FA.
pub struct EnrollingSession(pub Session);

/// A verified caller whose role meets `R`.
pub struct Authorized<R: Requirement> {
    pub ctx: TenantCtx,
    _requirement: PhantomData<R>,
}

/// What a route requires of the caller's role.
pub trait Requirement: Send + Sync {
    const ACCESS: Access;
}

/// Administration: users, security settings, integrations, exports, closure.
pub struct AdminOnly;
/// Per-customer data (personal data): admins and analysts.
pub struct CustomerData;
/// Aggregated analytics: every role.
pub struct Aggregates;

impl Requirement for AdminOnly {
    const ACCESS: Access = Access::Admin;
}
impl Requirement for CustomerData {
    const ACCESS: Access = Access::CustomerData;
}
impl Requirement for Aggregates {
    const ACCESS: Access = Access::Aggregates;
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

/// Verifies the caller; `enrolment_required` tells whether 2FA enrolment is pending.
async fn verify<S>(parts: &mut Parts, state: &S) -> Result<(Session, bool), ApiError>
where
    S: Send + Sync,
    Arc<SessionGate>: FromRef<S>,
{
    let token = bearer_token(parts)
        .ok_or(ApiError::Unauthenticated)?
        .to_owned();
    let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
    let gate = Arc::<SessionGate>::from_ref(state);
    let verified = gate.authenticate(&token, ip).await?;
    let enrolment_required = verified.policy.require_mfa && !verified.mfa_enabled;
    let session = Session {
        ctx: verified.ctx,
        mfa_enabled: verified.mfa_enabled,
    };
    Ok((session, enrolment_required))
}

impl<S> FromRequestParts<S> for Session
where
    S: Send + Sync,
    Arc<SessionGate>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match verify(parts, state).await? {
            (_, true) => Err(ServiceError::MfaEnrolmentRequired.into()),
            (session, false) => Ok(session),
        }
    }
}

impl<S> FromRequestParts<S> for EnrollingSession
where
    S: Send + Sync,
    Arc<SessionGate>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        verify(parts, state)
            .await
            .map(|(session, _)| EnrollingSession(session))
    }
}

impl<R: Requirement, S> FromRequestParts<S> for Authorized<R>
where
    S: Send + Sync,
    Arc<SessionGate>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let session = <Session as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if !session.ctx.role().allows(R::ACCESS) {
            return Err(ApiError::Forbidden);
        }
        Ok(Self {
            ctx: session.ctx,
            _requirement: PhantomData,
        })
    }
}

/// `Option<Session>`: `None` when no `Authorization` header came; a header that does not
/// verify is still refused.
impl<S> OptionalFromRequestParts<S> for Session
where
    S: Send + Sync,
    Arc<SessionGate>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, ApiError> {
        if parts.headers.contains_key(AUTHORIZATION) {
            <Session as FromRequestParts<S>>::from_request_parts(parts, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}
