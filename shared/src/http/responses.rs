//! The responses many operations share, as named components of the OpenAPI document:
//! each names the error codes it stands for, with the error envelope as its body.
//! An operation's own outcomes (its success, the codes only it answers) are written
//! where the handler is.

use std::collections::BTreeMap;

use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Components, ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, ToResponse, ToSchema};

use super::dto::error::ErrorBody;

/// A reply whose body is the error envelope.
fn error_reply(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        )
        .build()
}

macro_rules! error_responses {
    ($($name:ident => $description:expr;)*) => {
        $(
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), error_reply($description).into())
                }
            }
        )*

        /// Adds every shared response to the document's components.
        pub fn register(components: &mut Components) {
            $(
                let (name, response) = <$name as ToResponse>::response();
                components.responses.insert(name.to_owned(), response);
            )*
            let (name, response) = <RateLimited as ToResponse>::response();
            components.responses.insert(name.to_owned(), response);
        }
    };
}

error_responses! {
    InvalidRequest => "`invalid_request`: malformed JSON, a missing or wrongly typed field or \
        parameter (`details.field` names it).";
    AnalyticsInvalid => "`invalid_request` (a bad date, interval, currency, limit, cursor or \
        sort; a range out of bounds; a dimension that does not apply to the metric; missing FX \
        rates), `unknown_metric`, `unknown_dimension`.";
    Unauthenticated => "`unauthenticated`: no, bad or expired token (idle timeout included), \
        or a request from an address the tenant's allowlist refuses (answered alike).";
    SessionForbidden => "`mfa_enrolment_required` (the tenant requires two-factor \
        authentication and the caller has not enrolled).";
    RoleForbidden => "`forbidden` (the role does not allow this), `mfa_enrolment_required`.";
    AnalyticsForbidden => "`forbidden` (a viewer asked for `city`), `mfa_enrolment_required`.";
    NotFound => "`not_found` (also for another tenant's ids).";
    SegmentNotFound => "`not_found`: `segment` names no custom segment of the tenant.";
    Locked => "`password_reset_required`: too many failed password or second-factor checks \
        (sign-ins and re-checks alike); reset the password.";
    ConcurrentUpdate => "`concurrent_update`: the record changed meanwhile; reload and retry.";
    NoDataYet => "`no_data_yet`: no integration has finished its first sync.";
    PayloadTooLarge => "`payload_too_large`: the body is over 64 KiB.";
    UnsupportedMediaType => "`unsupported_media_type`: the body is not `application/json`.";
    NotAcceptable => "`not_acceptable`: `Accept` allows neither `application/json` nor \
        `text/csv` (and no `format` was given).";
}

/// A header every such reply carries. utoipa's Header has no `required` field; the
/// OpenAPI keyword is added through the extensions map, which is written into the
/// header object as it is.
fn required_header(schema: ObjectBuilder, description: &str) -> Header {
    let required = [("required", serde_json::Value::Bool(true))]
        .into_iter()
        .collect();
    HeaderBuilder::new()
        .schema(Some(schema))
        .description(Some(description))
        .extensions(Some(required))
        .build()
}

/// 429 with the seconds to wait in `Retry-After`.
pub struct RateLimited;

impl<'r> ToResponse<'r> for RateLimited {
    fn response() -> (&'r str, RefOr<Response>) {
        let seconds = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1));
        let mut reply =
            error_reply("`rate_limited`: too many requests; retry after `Retry-After` seconds.");
        reply.headers.insert(
            "Retry-After".to_owned(),
            required_header(seconds, "Seconds to wait before trying again.").into(),
        );
        ("RateLimited", reply.into())
    }
}

/// 302 to the configured app (used inline by the OAuth callback).
pub struct RedirectToApp;

impl<'r> ToResponse<'r> for RedirectToApp {
    fn response() -> (&'r str, RefOr<Response>) {
        let url = ObjectBuilder::new().schema_type(Type::String);
        let reply = ResponseBuilder::new()
            .description("Redirect to the app.")
            .header("Location", required_header(url, "Where the browser goes."))
            .build();
        ("RedirectToApp", reply.into())
    }
}

fn reference<'r, R: ToResponse<'r>>() -> RefOr<Response> {
    Ref::from_response_name(R::response().0).into()
}

/// What any operation that reads a JSON body may answer besides its 400: a body over
/// 64 KiB and a body that is not JSON.
pub struct BodyRefused;

impl IntoResponses for BodyRefused {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            ("413".to_owned(), reference::<PayloadTooLarge>()),
            ("415".to_owned(), reference::<UnsupportedMediaType>()),
        ])
    }
}
