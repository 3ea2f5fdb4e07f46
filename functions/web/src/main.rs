//! The `web` Lambda: the dashboard's static files, embedded in the binary, on the API's
//! own origin. No configuration, no adapter, no AWS permission beyond its logs.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tally::telemetry::init_lambda_logging();
    tally::lambda::web_telemetry()?;
    lambda_http::run(tally::http::web_app()).await
}
