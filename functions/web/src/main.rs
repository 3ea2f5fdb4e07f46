//! The `web` Lambda: the dashboard's static files, embedded in the binary, on the API's
//! own origin. No configuration, no adapter, no AWS permission beyond its logs.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    lambda_http::run(tally::http::web_app()).await
}
