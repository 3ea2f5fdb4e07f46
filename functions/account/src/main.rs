//! The `account` Lambda: exports and account closure.

use tally::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tally::telemetry::init_lambda_logging();
    let (adapters, config) = tally::lambda::aws_adapters("account").await?;
    lambda_http::run(tally::lambda::http_app(
        Function::Account,
        &adapters,
        config,
    ))
    .await
}
