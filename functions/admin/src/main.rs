//! The `admin` Lambda: users and invitations, IP allowlist, policy, sign-in analytics,
//! audit log.

use tally::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tally::telemetry::init_lambda_logging();
    let (adapters, config) = tally::lambda::aws_adapters("admin").await?;
    lambda_http::run(tally::lambda::http_app(Function::Admin, &adapters, config)).await
}
