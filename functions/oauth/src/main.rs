//! The `oauth` Lambda: integrations, the Stripe OAuth install, restricted keys, sync
//! requests, disconnects and Stripe webhooks.

use tally::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tally::telemetry::init_lambda_logging();
    let (adapters, config) = tally::lambda::aws_adapters("oauth").await?;
    lambda_http::run(tally::lambda::http_app(Function::Oauth, &adapters, config)).await
}
