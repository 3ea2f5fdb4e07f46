//! What every response of every function gets: its request id (API Gateway's in
//! Lambda, a fresh one locally), security headers, the error shape for unknown routes
//! and methods, the body limit, a tracing span that records method, route and path only
//! — never the query string (an OAuth callback's `code` and `state` travel there) and
//! never a header (tokens travel there) — and its request metrics (`telemetry::record`),
//! flushed when the response is ready.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tracing::Instrument;

use super::error::ApiError;
use super::json::BODY_LIMIT;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps a function's routes with the layers every response needs. Cross-origin calls
/// are allowed from `app_origin` only (the configured web app).
pub fn finish<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    state: S,
    app_origin: &str,
) -> Router {
    routes
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(cors(app_origin))
        .layer(middleware::from_fn(request_envelope))
        .with_state(state)
}

fn cors(app_origin: &str) -> tower_http::cors::CorsLayer {
    use axum::http::Method;
    use tower_http::cors::{AllowOrigin, CorsLayer};
    // The origin is scheme://host[:port], without a path.
    let origin = app_origin
        .splitn(4, '/')
        .take(3)
        .collect::<Vec<_>>()
        .join("/");
    // A predicate, not `exact`: a foreign origin gets no CORS header at all.
    let allowed = match HeaderValue::from_str(&origin) {
        Ok(value) => AllowOrigin::predicate(move |requested: &HeaderValue, _| *requested == value),
        Err(_) => AllowOrigin::list(Vec::<HeaderValue>::new()),
    };
    CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600))
}

/// The request's id: API Gateway's (`requestContext.requestId`, also in the API's
/// access log) when Lambda passed the request on, else a fresh one. Never a
/// client-supplied header: it could be forged to confuse log readers.
fn request_id(req: &Request) -> String {
    use lambda_http::request::RequestContext;
    match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
    .filter(|id| !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_graphic()))
    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The route's template with its method (`GET /v1/customers/{id}`): a metric
/// dimension that never carries an id.
fn route_of(req: &Request) -> String {
    match req.extensions().get::<axum::extract::MatchedPath>() {
        Some(path) => format!("{} {}", req.method(), path.as_str()),
        None => "unmatched".to_owned(),
    }
}

async fn request_envelope(req: Request, next: Next) -> Response {
    let request_id = request_id(&req);
    let route = route_of(&req);
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route = %route,
        path = %req.uri().path(),
        request_id = %request_id,
    );
    async move {
        let started = std::time::Instant::now();
        let mut response = next.run(req).await;
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        let elapsed_ms = elapsed.as_millis() as u64;
        if status >= 500 {
            tracing::error!(status, elapsed_ms, "request failed");
        } else {
            tracing::info!(status, elapsed_ms, "request served");
        }
        crate::telemetry::record::http_request(&route, status, elapsed);
        crate::telemetry::flush();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert(REQUEST_ID, value);
        }
        // The dashboard's files set their own (revalidated, never a stale app); every
        // API reply is no-store.
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        response
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use lambda_http::request::RequestContext;
    use tower::ServiceExt;

    fn app() -> Router {
        finish(
            Router::new().route("/v1/things/{id}", get(|| async { "ok" })),
            (),
            "http://localhost:3000",
        )
    }

    /// In Lambda the id a response names is API Gateway's (`requestContext.requestId`),
    /// the one its access log line carries, so a caller's report leads to both.
    #[tokio::test]
    async fn in_lambda_the_request_id_is_api_gateways() {
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.request_id = Some("JhN5Rg3cFiAEMBw=".to_owned());
        let mut request = Request::builder()
            .uri("/v1/things/cus_1")
            .body(Body::empty())
            .expect("a request");
        request
            .extensions_mut()
            .insert(RequestContext::ApiGatewayV2(context));
        let response = app().oneshot(request).await.expect("a response");
        assert_eq!(response.headers()[REQUEST_ID], "JhN5Rg3cFiAEMBw=");
    }

    #[tokio::test]
    async fn locally_and_for_a_client_supplied_id_it_is_a_fresh_one() {
        let request = Request::builder()
            .uri("/v1/things/cus_1")
            .header(REQUEST_ID, "forged")
            .body(Body::empty())
            .expect("a request");
        let response = app().oneshot(request).await.expect("a response");
        let id = response.headers()[REQUEST_ID].to_str().expect("ascii");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
}
