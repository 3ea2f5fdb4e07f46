//! The dashboard's static files (`web/` at the repository root), embedded in the binary
//! and served on the API's own origin: `GET /` is the page, `GET /app/...` its modules,
//! styles and vendored libraries. One origin means no CORS for the app and one URL.
//!
//! Every file is compiled in with `include_bytes!` (no front-end build step, nothing
//! read from disk at run time); a test walks `web/` so no file is forgotten. The page
//! is strict: its Content-Security-Policy allows scripts, styles and requests from this
//! origin only (no inline script, no CDN), and no framing. Files are served with their
//! own type, `nosniff` (from the common layers) and an ETag: the browser revalidates
//! (`no-cache`) and gets a 304 while the deployed version is the same.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// One embedded file: its path under `web/`, its media type, its bytes.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $type:expr),* $(,)?) => {
        &[$(Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/", $path)),
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Every file of `web/`.
pub const ASSETS: &[Asset] = assets![
    "index.html" => HTML,
    "app/favicon.svg" => SVG,
    "app/style.css" => CSS,
    "app/main.js" => JS,
    "app/api.js" => JS,
    "app/ui.js" => JS,
    "app/chart.js" => JS,
    "app/pages/signin.js" => JS,
    "app/pages/overview.js" => JS,
    "app/pages/cohorts.js" => JS,
    "app/pages/customers.js" => JS,
    "app/pages/segments.js" => JS,
    "app/pages/integrations.js" => JS,
    "app/pages/security.js" => JS,
    "app/pages/account.js" => JS,
    "app/vendor/uplot/uPlot.iife.min.js" => JS,
    "app/vendor/uplot/uPlot.min.css" => CSS,
    "app/vendor/uplot/LICENSE" => TEXT,
    "app/vendor/qrcode/qrcode.mjs" => JS,
    "app/vendor/qrcode/LICENSE" => TEXT,
];

/// The page's policy: everything from this origin only, no inline script or style
/// element, no plugin, no framing; images may also be `data:` (uPlot's legend swatches
/// are drawn by CSS, the QR code is an inline SVG element built by script).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET /` and `GET /app/{*path}`, on any state (the `web` function has none).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/app/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("app/{path}"), &headers)
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some((index, asset)) = ASSETS.iter().enumerate().find(|(_, a)| a.path == path) else {
        return ApiError::NotFound.into_response();
    };
    let etag = &etags()[index];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|value| value.as_bytes() == etag.as_bytes());
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    // Revalidate every time: file names carry no version, so a deploy shows at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// A strong ETag per asset (a SHA-256 prefix of its bytes), computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.body))[..32]))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `web/`, as a path relative to it.
    fn files(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, root, out);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_of_web_is_embedded_with_the_type_of_its_extension() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
        let mut found = Vec::new();
        files(&root, &root, &mut found);
        found.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        listed.sort();
        assert_eq!(found, listed);
        for asset in ASSETS {
            let expected = match asset.path.rsplit('.').next() {
                Some("js" | "mjs") => JS,
                Some("css") => CSS,
                Some("html") => HTML,
                Some("svg") => SVG,
                _ => TEXT,
            };
            assert_eq!(asset.content_type, expected, "{}", asset.path);
        }
    }

    /// The `web` function's own app (what Lambda runs), without the local server.
    #[tokio::test]
    async fn the_web_function_serves_the_page_and_nothing_of_the_api() {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;

        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let page = crate::http::web_app().oneshot(get("/")).await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(page.headers()[header::X_FRAME_OPTIONS], "DENY");
        let api = crate::http::web_app()
            .oneshot(get("/v1/health"))
            .await
            .unwrap();
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        assert_eq!(api.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn the_page_loads_no_inline_script_and_nothing_from_elsewhere() {
        let page = std::str::from_utf8(ASSETS[0].body).unwrap();
        assert!(!page.contains("<script>") && !page.contains("style="));
        assert!(!page.contains("http://") && !page.contains("https://"));
        for asset in ASSETS.iter().filter(|a| !a.path.contains("vendor/")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            assert!(!text.contains("https://cdn"), "{}", asset.path);
            assert!(!text.contains("innerHTML"), "{}", asset.path);
        }
    }
}
