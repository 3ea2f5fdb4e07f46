//! What every Lambda function's `main` shares: configuration from the environment and
//! the AWS adapters, built once per cold start.

use std::sync::Arc;

use crate::adapters::aws;
use crate::config::{Config, ConfigError};
use crate::ports::SystemClock;
use crate::services::Services;

/// The services of a Lambda function, on the AWS adapters. A missing or bad variable
/// fails the cold start with a message naming it.
pub async fn aws_services() -> Result<Arc<Services>, ConfigError> {
    let config = Config::from_env()?;
    let resources = config.aws()?;
    let sdk = aws::sdk_config(None).await;
    let adapters = aws::adapters(
        &sdk,
        &resources.table,
        &resources.kms_key_id,
        &resources.event_bus,
        Arc::new(SystemClock),
    );
    Ok(Services::new(adapters, config))
}
