//! The dashboard's files on the local app, as the `web` function serves them: the page
//! and every file under `/app/` with its type, the strict policy and revalidation; an
//! unknown file or another method in the API's error shape.

use reqwest::Method;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG};
use serde_json::Value;
use tally::http::web::ASSETS;

use crate::helpers::spawn_app;
use crate::routes;

#[tokio::test]
async fn the_page_and_every_file_are_served_with_their_type_and_a_strict_policy() {
    let app = spawn_app().await;
    for asset in ASSETS {
        let path = match asset.path {
            "index.html" => "/".to_owned(),
            other => format!("/{other}"),
        };
        let response = app.request(Method::GET, &path, None, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers[CONTENT_TYPE], asset.content_type, "{path}");
        let policy = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.starts_with("default-src 'self';"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers[CACHE_CONTROL], "no-cache", "{path}");
        let body = response.bytes().await.unwrap();
        assert_eq!(&body[..], asset.body, "{path}");
    }
}

#[tokio::test]
async fn an_unchanged_file_is_revalidated_with_a_304() {
    let app = spawn_app().await;
    let first = app.request(Method::GET, "/app/main.js", None, None).await;
    let etag = first.headers()[ETAG].clone();
    let client = reqwest::Client::new();
    let again = client
        .get(format!("{}/app/main.js", app.address))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()[ETAG], etag);
    let stale = client
        .get(format!("{}/app/main.js", app.address))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
}

#[tokio::test]
async fn unknown_files_and_other_methods_answer_in_the_error_shape() {
    let app = spawn_app().await;
    for path in [
        "/app/nothing.js",
        "/app/",
        "/app/../Cargo.toml",
        "/app/%2e%2e/%2e%2e/Cargo.toml",
        "/app/vendor",
        "/index.html",
    ] {
        let response = app.request(Method::GET, path, None, None).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    for route in routes::web() {
        let path = route.path.replace("{proxy+}", "main.js");
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let response = app.request(method.clone(), &path, None, None).await;
            assert_eq!(response.status(), 405, "{method} {path}");
        }
    }
}
