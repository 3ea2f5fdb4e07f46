//! The `sweep` Lambda (hourly): deletes disconnected integrations' data, closed
//! tenants, and what has expired.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (adapters, config) = tally::lambda::aws_adapters().await?;
    let workers = &tally::lambda::sweep_workers(&adapters, config);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        tally::lambda::handle_sweep_event(workers)
            .await
            .map_err(Error::from)
    }))
    .await
}
