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
//!
//! Operators (staff, `op_…` tokens) reach no tenant route by default: with a verified
//! operator session, [`Session`] and [`EnrollingSession`] answer 404 as for something
//! that does not exist, and so does [`Authorized<R>`] — except on a GET of a route whose
//! requirement lets operators read ([`Requirement::OPERATOR_READS`]: the query
//! function's reads), for the tenant named by `X-Tally-Tenant`, under a live grant of
//! that tenant ([`SessionGate::operator_read`] checks it and audits the read).
//! [`OperatorSession`] is the operator routes' own extractor.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use std::sync::Arc;

use axum::extract::FromRef;

use super::client_ip::ClientIp;
use super::error::ApiError;
use crate::domain::ids::TenantId;
use crate::domain::roles::Access;
use crate::domain::support::is_operator_token;
use crate::services::SessionGate;
use crate::services::operators::OperatorCtx;
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
    /// Whether an operator with a live grant may call the route's GETs.
    const OPERATOR_READS: bool;
}

/// The header by which an operator names the tenant it reads.
pub const TENANT_HEADER: &str = "x-tally-tenant";

/// A verified operator (staff) session.
pub struct OperatorSession(pub OperatorCtx);

/// Administration: users, security settings, integrations, exports, closure.
pub struct AdminOnly;
/// Per-customer data (personal data): admins and analysts.
pub struct CustomerData;
/// Aggregated analytics: every role.
pub struct Aggregates;

impl Requirement for AdminOnly {
    const ACCESS: Access = Access::Admin;
    const OPERATOR_READS: bool = false;
}
impl Requirement for CustomerData {
    const ACCESS: Access = Access::CustomerData;
    const OPERATOR_READS: bool = true;
}
impl Requirement for Aggregates {
    const ACCESS: Access = Access::Aggregates;
    const OPERATOR_READS: bool = true;
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
    if is_operator_token(&token) {
        // A verified operator finds no tenant route; a bad token is still a 401.
        gate.authenticate_operator(&token, ip).await?;
        return Err(ApiError::NotFound);
    }
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
        if bearer_token(parts).is_some_and(is_operator_token)
            && R::OPERATOR_READS
            && parts.method == Method::GET
        {
            let OperatorSession(op) = OperatorSession::from_request_parts(parts, state).await?;
            let tenant = parts
                .headers
                .get(TENANT_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(TenantId::parse)
                .ok_or(ApiError::NotFound)?;
            let what = format!("{} {}", parts.method, parts.uri.path());
            let gate = Arc::<SessionGate>::from_ref(state);
            let ctx = gate.operator_read(&op, &tenant, &what).await?;
            return Ok(Self {
                ctx,
                _requirement: PhantomData,
            });
        }
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

/// An operator route's caller: an operator's token, verified. A user's token that
/// verifies is refused with 403 (the route is not theirs); any other token is a 401.
impl<S> FromRequestParts<S> for OperatorSession
where
    S: Send + Sync,
    Arc<SessionGate>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer_token(parts)
            .ok_or(ApiError::Unauthenticated)?
            .to_owned();
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let gate = Arc::<SessionGate>::from_ref(state);
        if !is_operator_token(&token) {
            gate.authenticate(&token, ip).await?;
            return Err(ApiError::Forbidden);
        }
        Ok(Self(gate.authenticate_operator(&token, ip).await?))
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
