//! The `auth` Lambda: sign-up, sessions, passwords, two-factor (and health).

use tally::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tally::telemetry::init_lambda_logging();
    let (adapters, config) = tally::lambda::aws_adapters("auth").await?;
    lambda_http::run(tally::lambda::http_app(Function::Auth, &adapters, config)).await
}
