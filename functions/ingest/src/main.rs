//! The `ingest` Lambda: runs the job its payload names (`tally::services::jobs`): the
//! sync planner (every 5 minutes), one sync (planned or requested), an export, the
//! daily fetch of the ECB's reference rates.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tally::telemetry::init_lambda_logging();
    let (adapters, config) = tally::lambda::aws_adapters("ingest").await?;
    let workers = &tally::lambda::ingest_workers(&adapters, config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        tally::lambda::handle_ingest_event(workers, event.payload)
            .await
            .map_err(Error::from)
    }))
    .await
}
