//! The `query` Lambda: metrics, dimensions, FX rates, customers, segments, insights.

use tally::http::{Function, function_app};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let services = tally::lambda::aws_services().await?;
    lambda_http::run(function_app(Function::Query, services)).await
}
