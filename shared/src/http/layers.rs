//! What every response of every function gets: a fresh request id, security headers,
//! the error shape for unknown routes and methods, the body limit, and a tracing span
//! that records method and path only — never the query string (an OAuth callback's
//! `code` and `state` travel there) and never a header (tokens travel there).

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

async fn request_envelope(req: Request, next: Next) -> Response {
    // Always our own id: a client-supplied one could be forged to confuse log readers.
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id,
    );
    async move {
        let started = std::time::Instant::now();
        let mut response = next.run(req).await;
        let status = response.status().as_u16();
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if status >= 500 {
            tracing::error!(status, elapsed_ms, "request failed");
        } else {
            tracing::info!(status, elapsed_ms, "request served");
        }
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
