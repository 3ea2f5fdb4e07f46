//! The `auth` Lambda: sign-up, sessions, passwords, two-factor (and health).

use tally::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let (adapters, config) = tally::lambda::aws_adapters().await?;
    lambda_http::run(tally::lambda::http_app(Function::Auth, &adapters, config)).await
}
