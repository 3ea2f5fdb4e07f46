//! Use cases, written against the ports only. [`Services`] is the root every handler
//! and scheduled job reaches them through.

pub mod accounts;
pub mod allowlist;
pub mod analytics;
pub mod analytics_query;
pub mod closure;
pub mod connections;
pub mod currency;
pub mod customer_order;
pub mod customer_query;
pub mod error;
pub mod export;
pub mod fx_rates;
pub mod hashing;
pub mod ingestion;
pub mod integrations;
pub mod jobs;
pub mod lifecycle;
pub mod mfa;
pub mod passwords;
pub mod records;
pub mod scheduled;
pub mod security;
pub mod security_admin;
pub mod sessions;
pub mod sweep;
pub mod users;
/// Sealing and tenant keys live with the repositories; the old path still names them.
pub use crate::repos::vault;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::adapters::Adapters;
use crate::config::Config;
use crate::repos::Repos;

pub use error::ServiceError;
pub use sessions::TenantCtx;
use vault::TenantKeys;

/// How long a warm process keeps a tenant's plain data key.
pub const DATA_KEY_CACHE_TTL: Duration = Duration::from_secs(300);

pub struct Services {
    pub adapters: Adapters,
    pub config: Config,
    pub tenant_keys: Arc<TenantKeys>,
    /// Every stored entity, typed.
    pub repos: Repos,
    /// The lookup pepper, read once per process from the SecretStore.
    pepper: OnceCell<Arc<Zeroizing<Vec<u8>>>>,
    /// Decoded analytics snapshots, per tenant and version.
    snapshots: analytics::SnapshotCache,
    /// The ECB's rates (shipped history plus stored days), for a few minutes.
    fx_history: fx_rates::FxHistoryCache,
}

impl Services {
    /// Builds the services. Computes the dummy password hash now, so the first sign-in
    /// with an unknown e-mail costs what every later one does.
    pub fn new(adapters: Adapters, config: Config) -> Arc<Self> {
        crate::domain::password::prepare_dummy_hash();
        let tenant_keys = Arc::new(TenantKeys::new(
            adapters.store.clone(),
            adapters.keys.clone(),
            DATA_KEY_CACHE_TTL,
        ));
        let repos = Repos::new(adapters.store.clone(), tenant_keys.clone());
        Arc::new(Self {
            adapters,
            config,
            tenant_keys,
            repos,
            pepper: OnceCell::new(),
            snapshots: analytics::SnapshotCache::default(),
            fx_history: fx_rates::FxHistoryCache::default(),
        })
    }
}
