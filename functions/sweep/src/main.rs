//! The `sweep` Lambda: its hourly planner lists what is due for deletion and publishes
//! one job per disconnected integration and closed tenant (and one for expired items);
//! each comes back as its own invocation (`tally::services::jobs`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tally::telemetry::init_lambda_logging();
    let (adapters, config) = tally::lambda::aws_adapters("sweep").await?;
    let workers = &tally::lambda::sweep_workers(&adapters, config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        tally::lambda::handle_sweep_event(workers, event.payload)
            .await
            .map_err(Error::from)
    }))
    .await
}
