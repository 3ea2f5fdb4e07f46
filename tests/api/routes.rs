//! Every route of docs/api.md that exists so far, with what it requires of the caller. The
//! role table and the isolation suite walk it; each later function adds its routes.

use reqwest::Method;

/// What a route requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// No session (sign-up, sign-in, tokens sent by e-mail).
    Nothing,
    /// Any signed-in user (their own account).
    AnyUser,
    /// Aggregated analytics: every role.
    Aggregates,
    /// Per-customer data: admins and analysts.
    CustomerData,
    /// Administration: admins only.
    Admin,
    /// An operator's (staff) session: refused to users with 403.
    Operator,
}

pub struct RouteSpec {
    pub method: Method,
    /// With `{id}` where the route takes an id.
    pub path: &'static str,
    pub needs: Needs,
}

const fn route(method: Method, path: &'static str, needs: Needs) -> RouteSpec {
    RouteSpec {
        method,
        path,
        needs,
    }
}

/// In an order that a walk can follow with one token: the route that ends the session
/// comes last.
pub fn all() -> Vec<RouteSpec> {
    use Needs::*;
    vec![
        route(Method::GET, "/v1/health", Nothing),
        route(Method::POST, "/v1/signup", Nothing),
        route(Method::POST, "/v1/sessions", Nothing),
        route(Method::POST, "/v1/password/reset-request", Nothing),
        route(Method::POST, "/v1/password/reset", Nothing),
        route(Method::POST, "/v1/email/verify", Nothing),
        route(Method::POST, "/v1/email/verify/resend", Admin),
        route(Method::POST, "/v1/invites/accept", Nothing),
        route(Method::GET, "/v1/me", AnyUser),
        route(Method::GET, "/v1/me/sessions", AnyUser),
        route(Method::DELETE, "/v1/me/sessions/{id}", AnyUser),
        route(Method::GET, "/v1/me/digest", AnyUser),
        route(Method::PUT, "/v1/me/digest", AnyUser),
        route(Method::POST, "/v1/password/change", AnyUser),
        route(Method::POST, "/v1/mfa/totp/setup", AnyUser),
        route(Method::POST, "/v1/mfa/totp/confirm", AnyUser),
        route(Method::DELETE, "/v1/mfa/totp", AnyUser),
        route(Method::GET, "/v1/users", Admin),
        route(Method::POST, "/v1/users", Admin),
        route(Method::PATCH, "/v1/users/{id}", Admin),
        route(Method::DELETE, "/v1/users/{id}", Admin),
        route(Method::GET, "/v1/security/ip-allowlist", Admin),
        route(Method::POST, "/v1/security/ip-allowlist", Admin),
        route(Method::DELETE, "/v1/security/ip-allowlist/{id}", Admin),
        route(Method::GET, "/v1/security/policy", Admin),
        route(Method::PUT, "/v1/security/policy", Admin),
        route(Method::GET, "/v1/security/login-attempts", Admin),
        route(Method::GET, "/v1/security/audit-log", Admin),
        route(Method::POST, "/v1/security/rotate-keys", Admin),
        route(Method::GET, "/v1/integrations", AnyUser),
        route(Method::POST, "/v1/integrations", Admin),
        route(Method::POST, "/v1/integrations/stripe/connect", Admin),
        route(Method::GET, "/v1/oauth/stripe/callback", Nothing),
        route(Method::POST, "/v1/integrations/{id}/sync", Admin),
        route(Method::PUT, "/v1/integrations/{id}/webhook-secret", Admin),
        route(Method::DELETE, "/v1/integrations/{id}", Admin),
        route(Method::POST, "/v1/integrations/custom", Admin),
        route(
            Method::POST,
            "/v1/integrations/{id}/import/{kind}",
            CustomerData,
        ),
        route(
            Method::GET,
            "/v1/integrations/{id}/imports/{import_id}",
            CustomerData,
        ),
        route(Method::GET, "/v1/settings/slack-webhook", Admin),
        route(Method::PUT, "/v1/settings/slack-webhook", Admin),
        route(Method::DELETE, "/v1/settings/slack-webhook", Admin),
        route(Method::POST, "/v1/webhooks/stripe", Nothing),
        route(Method::POST, "/v1/webhooks/paddle/{id}", Nothing),
        route(Method::GET, "/v1/metrics/summary", Aggregates),
        route(Method::GET, "/v1/metrics/cohorts", Aggregates),
        route(Method::GET, "/v1/metrics/forecast", Aggregates),
        route(Method::GET, "/v1/metrics/{name}", Aggregates),
        route(Method::GET, "/v1/dimensions", Aggregates),
        route(Method::GET, "/v1/settings/fx-rates", Aggregates),
        route(Method::PUT, "/v1/settings/fx-rates", Admin),
        route(Method::GET, "/v1/settings/reporting-currency", Aggregates),
        route(Method::PUT, "/v1/settings/reporting-currency", Admin),
        route(Method::GET, "/v1/settings/digest/preview", Admin),
        route(Method::GET, "/v1/customers", CustomerData),
        route(Method::GET, "/v1/customers/{id}", CustomerData),
        route(Method::GET, "/v1/segments", Aggregates),
        route(Method::GET, "/v1/segments/custom", Aggregates),
        route(Method::POST, "/v1/segments/custom", CustomerData),
        route(Method::GET, "/v1/segments/custom/{id}", Aggregates),
        route(Method::PUT, "/v1/segments/custom/{id}", CustomerData),
        route(Method::DELETE, "/v1/segments/custom/{id}", CustomerData),
        route(
            Method::GET,
            "/v1/insights/payment-failure-risk",
            CustomerData,
        ),
        route(Method::POST, "/v1/exports", Admin),
        route(Method::GET, "/v1/exports/{id}", Admin),
        route(Method::DELETE, "/v1/account", Admin),
        route(Method::GET, "/v1/support/grants", Admin),
        route(Method::POST, "/v1/support/grants", Admin),
        route(Method::DELETE, "/v1/support/grants/{id}", Admin),
        route(Method::POST, "/v1/operator/sessions", Nothing),
        route(Method::POST, "/v1/operator/break-glass", Operator),
        route(Method::DELETE, "/v1/operator/sessions/current", Operator),
        route(Method::DELETE, "/v1/sessions/current", AnyUser),
    ]
}

/// The `web` function's routes: the dashboard's page and its files (`/app/` and any
/// path below it; `{proxy+}` is API Gateway's greedy path parameter). Public, not API
/// operations: they are in the template, not in the OpenAPI document.
pub fn web() -> Vec<RouteSpec> {
    vec![
        route(Method::GET, "/", Needs::Nothing),
        route(Method::GET, "/app/{proxy+}", Needs::Nothing),
    ]
}
