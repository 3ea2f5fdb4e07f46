//! The `query` Lambda: metrics, dimensions, FX rates, customers, segments, insights.

use tally::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tally::telemetry::init_lambda_logging();
    let (adapters, config) = tally::lambda::aws_adapters("query").await?;
    lambda_http::run(tally::lambda::http_app(Function::Query, &adapters, config)).await
}
