//! Configuration: one typed struct read from the environment, the same for every
//! function and the local server. A bad value stops the process at start with a
//! message naming the variable (never its value: some are secrets or URLs with keys).

use std::time::Duration;

/// Everything a function or the local server is configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// DynamoDB table name (bound into every sealed value's associated data).
    pub table: String,
    pub session_idle_timeout: Duration,
    pub session_absolute_timeout: Duration,
    pub stripe_api_base: String,
    pub stripe_oauth_authorize_url: String,
    pub stripe_oauth_token_url: String,
    /// Where OAuth callbacks send the browser back to; also the only CORS origin.
    pub app_url: String,
    /// This API's public base URL (`TALLY_API_URL`): the OAuth redirect URI is built on it.
    pub api_url: String,
    /// The Stripe App's client id (`TALLY_STRIPE_CLIENT_ID`); OAuth connect is off
    /// without it (restricted keys still work). The app's secret key is a secret,
    /// `tally/system/stripe-app-secret`, never configuration.
    pub stripe_client_id: Option<String>,
    /// First delay of the Stripe client's backoff (`TALLY_STRIPE_RETRY_BASE_MS`).
    pub stripe_retry_base: Duration,
    /// Stripe read requests a second for one connected account (`TALLY_STRIPE_READS_PER_SECOND`):
    /// under Stripe's limit of 25 in test mode (100 live), whatever else runs.
    pub stripe_reads_per_second: u32,
    /// Paddle Billing's live API (`TALLY_PADDLE_API_BASE`): where live keys
    /// (`pdl_live_apikey_…`) are sent.
    pub paddle_api_base: String,
    /// Paddle Billing's sandbox API (`TALLY_PADDLE_SANDBOX_API_BASE`): where sandbox keys
    /// (`pdl_sdbx_apikey_…`) are sent.
    pub paddle_sandbox_api_base: String,
    /// First delay of the Paddle client's backoff (`TALLY_PADDLE_RETRY_BASE_MS`) when
    /// Paddle sends no `Retry-After`.
    pub paddle_retry_base: Duration,
    /// Paddle requests a second for one integration (`TALLY_PADDLE_READS_PER_SECOND`):
    /// Paddle allows 240 a minute per IP address, so the default stays at 3.
    pub paddle_reads_per_second: u32,
    /// The ECB's daily reference-rates file (`TALLY_ECB_DAILY_URL`), fetched once a day.
    pub ecb_daily_url: String,
    /// How long one background job may run (`TALLY_JOB_TIMEOUT_MS`): under the Lambda
    /// functions' 900 s, so a sync that overruns is recorded before Lambda stops it.
    pub job_timeout: Duration,
    /// The local server's sync workers (`TALLY_JOB_WORKERS`): the stand-in for the
    /// ingest function's reserved concurrency.
    pub job_workers: usize,
    /// Customers a full analytics rebuild computes at once (`TALLY_REBUILD_BUCKET_CUSTOMERS`):
    /// the records of one bucket of customers are decoded at a time, the rest held
    /// compressed, which bounds a rebuild's memory (see `services::rebuild`).
    pub rebuild_bucket_customers: usize,
    /// How long a warm process keeps a tenant's plain data keys
    /// (`TALLY_DATA_KEY_CACHE_SECS`, default 300, at most 600): also how long the re-seal
    /// job of a key rotation waits for every process to see the new key.
    pub data_key_cache_ttl: Duration,
    /// Customers per shard (`TALLY_SHARD_CUSTOMERS`): a tenant's bulk items are spread
    /// over one partition key per this many customers, at most 16, chosen when its
    /// first full sync has listed its customers (see `repos::shards`).
    pub shard_customers: u64,
    /// The CloudWatch namespace of the functions' metrics (`TALLY_METRICS_NAMESPACE`,
    /// default `Tally`; the template sets `Tally/<stack name>`): see `telemetry`.
    pub metrics_namespace: String,
    /// AWS resources; `None` locally, required by [`Config::aws`].
    pub kms_key_id: Option<String>,
    pub event_bus: Option<String>,
}

/// The AWS resources a Lambda function needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsResources {
    pub table: String,
    pub kms_key_id: String,
    pub event_bus: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {expected}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `var` (tests pass a map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = |name: &'static str, default: &str| -> String {
            var(name)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let url = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = text(name, default);
            let ok = (value.starts_with("https://") || value.starts_with("http://"))
                && value.parse::<http::Uri>().is_ok();
            if ok {
                Ok(value.trim_end_matches('/').to_owned())
            } else {
                Err(ConfigError::Invalid {
                    name,
                    expected: "an http(s) URL",
                })
            }
        };
        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match var(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n > 0 && n <= 31 * 24 * 3600 => Ok(Duration::from_secs(n)),
                    _ => Err(ConfigError::Invalid {
                        name,
                        expected: "a whole number of seconds from 1 to 2678400",
                    }),
                },
            }
        };
        let number = |name: &'static str,
                      default: u64,
                      range: std::ops::RangeInclusive<u64>,
                      expected: &'static str|
         -> Result<u64, ConfigError> {
            match var(name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if range.contains(&n) => Ok(n),
                    _ => Err(ConfigError::Invalid { name, expected }),
                },
            }
        };
        let table = text("TALLY_TABLE", "tally");
        let table_ok = (3..=255).contains(&table.len())
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !table_ok {
            return Err(ConfigError::Invalid {
                name: "TALLY_TABLE",
                expected: "3 to 255 characters of [A-Za-z0-9_.-]",
            });
        }
        let config = Self {
            table,
            session_idle_timeout: seconds("TALLY_SESSION_IDLE_TIMEOUT_SECS", 900)?,
            session_absolute_timeout: seconds("TALLY_SESSION_ABSOLUTE_TIMEOUT_SECS", 43_200)?,
            stripe_api_base: url("TALLY_STRIPE_API_BASE", "https://api.stripe.com")?,
            stripe_oauth_authorize_url: url(
                "TALLY_STRIPE_OAUTH_AUTHORIZE_URL",
                "https://marketplace.stripe.com/oauth/v2/authorize",
            )?,
            stripe_oauth_token_url: url(
                "TALLY_STRIPE_OAUTH_TOKEN_URL",
                "https://api.stripe.com/v1/oauth/token",
            )?,
            app_url: url("TALLY_APP_URL", "http://127.0.0.1:8080")?,
            api_url: url("TALLY_API_URL", "http://127.0.0.1:8080")?,
            stripe_client_id: var("TALLY_STRIPE_CLIENT_ID").filter(|v| !v.trim().is_empty()),
            stripe_retry_base: match var("TALLY_STRIPE_RETRY_BASE_MS") {
                None => Duration::from_millis(500),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(ms) if ms <= 60_000 => Duration::from_millis(ms),
                    _ => {
                        return Err(ConfigError::Invalid {
                            name: "TALLY_STRIPE_RETRY_BASE_MS",
                            expected: "a whole number of milliseconds up to 60000",
                        });
                    }
                },
            },
            stripe_reads_per_second: number(
                "TALLY_STRIPE_READS_PER_SECOND",
                20,
                1..=100,
                "a whole number from 1 to 100",
            )? as u32,
            paddle_api_base: url("TALLY_PADDLE_API_BASE", "https://api.paddle.com")?,
            paddle_sandbox_api_base: url(
                "TALLY_PADDLE_SANDBOX_API_BASE",
                "https://sandbox-api.paddle.com",
            )?,
            paddle_retry_base: Duration::from_millis(number(
                "TALLY_PADDLE_RETRY_BASE_MS",
                1_000,
                0..=60_000,
                "a whole number of milliseconds up to 60000",
            )?),
            paddle_reads_per_second: number(
                "TALLY_PADDLE_READS_PER_SECOND",
                3,
                1..=1_000,
                "a whole number from 1 to 1000",
            )? as u32,
            ecb_daily_url: url(
                "TALLY_ECB_DAILY_URL",
                "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist-90d.xml",
            )?,
            job_timeout: Duration::from_millis(number(
                "TALLY_JOB_TIMEOUT_MS",
                840_000,
                1..=900_000,
                "a whole number of milliseconds from 1 to 900000",
            )?),
            job_workers: number(
                "TALLY_JOB_WORKERS",
                4,
                1..=64,
                "a whole number from 1 to 64",
            )? as usize,
            rebuild_bucket_customers: number(
                "TALLY_REBUILD_BUCKET_CUSTOMERS",
                5_000,
                1..=1_000_000,
                "a whole number from 1 to 1000000",
            )? as usize,
            data_key_cache_ttl: Duration::from_secs(number(
                "TALLY_DATA_KEY_CACHE_SECS",
                300,
                1..=600,
                "a whole number of seconds from 1 to 600",
            )?),
            shard_customers: number(
                "TALLY_SHARD_CUSTOMERS",
                10_000,
                1..=10_000_000,
                "a whole number from 1 to 10000000",
            )?,
            metrics_namespace: {
                let namespace = text("TALLY_METRICS_NAMESPACE", "Tally");
                // CloudWatch's rule for a namespace: up to 255 of these characters.
                let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#:".contains(c);
                if namespace.len() > 255 || !namespace.chars().all(allowed) {
                    return Err(ConfigError::Invalid {
                        name: "TALLY_METRICS_NAMESPACE",
                        expected: "up to 255 letters, digits and . - _ / # :",
                    });
                }
                namespace
            },
            kms_key_id: var("TALLY_KMS_KEY_ID").filter(|v| !v.trim().is_empty()),
            event_bus: var("TALLY_EVENT_BUS").filter(|v| !v.trim().is_empty()),
        };
        if config.session_idle_timeout > config.session_absolute_timeout {
            return Err(ConfigError::Invalid {
                name: "TALLY_SESSION_IDLE_TIMEOUT_SECS",
                expected: "at most TALLY_SESSION_ABSOLUTE_TIMEOUT_SECS",
            });
        }
        Ok(config)
    }

    /// The AWS resources, each required in Lambda.
    pub fn aws(&self) -> Result<AwsResources, ConfigError> {
        Ok(AwsResources {
            table: self.table.clone(),
            kms_key_id: self
                .kms_key_id
                .clone()
                .ok_or(ConfigError::Missing("TALLY_KMS_KEY_ID"))?,
            event_bus: self
                .event_bus
                .clone()
                .ok_or(ConfigError::Missing("TALLY_EVENT_BUS"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_api_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.session_idle_timeout, Duration::from_secs(900));
        assert_eq!(c.session_absolute_timeout, Duration::from_secs(43_200));
        assert_eq!(c.stripe_api_base, "https://api.stripe.com");
        assert_eq!(c.table, "tally");
        assert_eq!(c.stripe_reads_per_second, 20);
        assert_eq!(c.paddle_api_base, "https://api.paddle.com");
        assert_eq!(c.paddle_sandbox_api_base, "https://sandbox-api.paddle.com");
        assert_eq!(c.job_timeout, Duration::from_secs(840));
        assert_eq!(c.job_workers, 4);
        assert_eq!(
            c.ecb_daily_url,
            "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist-90d.xml"
        );
    }

    #[test]
    fn a_bad_timeout_names_the_variable() {
        let err = config(&[("TALLY_SESSION_IDLE_TIMEOUT_SECS", "soon")]).unwrap_err();
        assert!(err.to_string().contains("TALLY_SESSION_IDLE_TIMEOUT_SECS"));
        assert!(!err.to_string().contains("soon"));
        assert!(config(&[("TALLY_SESSION_ABSOLUTE_TIMEOUT_SECS", "0")]).is_err());
        for (name, bad) in [
            ("TALLY_JOB_TIMEOUT_MS", "0"),
            ("TALLY_JOB_TIMEOUT_MS", "900001"),
            ("TALLY_JOB_WORKERS", "0"),
            ("TALLY_STRIPE_READS_PER_SECOND", "101"),
        ] {
            let err = config(&[(name, bad)]).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn a_bad_url_names_the_variable_but_not_the_value() {
        let err = config(&[("TALLY_STRIPE_API_BASE", "ftp://secret-host")]).unwrap_err();
        assert!(err.to_string().contains("TALLY_STRIPE_API_BASE"));
        assert!(!err.to_string().contains("secret-host"));
    }

    #[test]
    fn lambda_needs_the_kms_key_and_the_bus() {
        let c = config(&[("TALLY_KMS_KEY_ID", "alias/tally")]).unwrap();
        assert_eq!(c.aws(), Err(ConfigError::Missing("TALLY_EVENT_BUS")));
        let c = config(&[("TALLY_KMS_KEY_ID", "k"), ("TALLY_EVENT_BUS", "b")]).unwrap();
        assert_eq!(c.aws().unwrap().kms_key_id, "k");
    }

    #[test]
    fn idle_timeout_cannot_exceed_the_absolute_one() {
        let err = config(&[
            ("TALLY_SESSION_IDLE_TIMEOUT_SECS", "100"),
            ("TALLY_SESSION_ABSOLUTE_TIMEOUT_SECS", "50"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("TALLY_SESSION_IDLE_TIMEOUT_SECS"));
    }
}
