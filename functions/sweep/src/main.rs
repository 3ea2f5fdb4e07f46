//! The `sweep` Lambda (hourly): deletes disconnected integrations' data, closed
//! tenants, and what has expired.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let services = tally::lambda::aws_services().await?;
    let services = &services;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        tally::lambda::handle_sweep_event(services)
            .await
            .map_err(Error::from)
    }))
    .await
}
