//! Use cases, written against the ports only, in bounded contexts ([`contexts`]): each
//! holds only the ports and repositories it uses. [`Services`] builds every context, for
//! the local server, the tests and the bench; each Lambda function builds only its own
//! (see `lambda.rs`).

pub mod accounts;
pub mod allowlist;
pub mod analytics;
pub mod analytics_query;
pub mod closure;
pub mod connections;
pub mod contexts;
pub mod currency;
pub mod custom_segments;
pub mod customer_order;
pub mod customer_query;
pub mod digest;
pub mod digest_settings;
pub mod error;
pub mod export;
pub mod fx_rates;
pub mod hashing;
pub mod imports;
pub mod incremental;
pub mod ingestion;
pub mod integrations;
pub mod jobs;
pub mod key_rotation;
pub mod lifecycle;
pub mod mfa;
pub mod operators;
pub mod passwords;
pub mod rebuild;
pub mod rechecks;
pub mod records;
pub mod scheduled;
pub mod security;
pub mod security_admin;
pub mod sessions;
pub mod snapshot_parts;
pub mod support;
pub mod sweep;
pub mod users;
pub mod verification;
/// Sealing and tenant keys live with the repositories; the old path still names them.
pub use crate::repos::vault;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use crate::adapters::Adapters;
use crate::config::Config;

pub use contexts::{
    Analytics, Common, Guard, Identity, Ingestion, Integrations, SessionGate, Tenancy, TenantAdmin,
};
pub use error::ServiceError;
pub use sessions::TenantCtx;
use vault::TenantKeys;

/// The tenant-key vault over the adapters: one per process, shared by every context;
/// plain keys are kept `cache_ttl` (`Config::data_key_cache_ttl`).
pub fn tenant_keys(adapters: &Adapters, cache_ttl: Duration) -> Arc<TenantKeys> {
    Arc::new(TenantKeys::new(
        adapters.store.clone(),
        adapters.keys.clone(),
        cache_ttl,
    ))
}

/// Every context, built once over one set of adapters: what the local server (which
/// serves every function), the tests and the bench run on.
pub struct Services {
    pub adapters: Adapters,
    pub config: Arc<Config>,
    pub tenant_keys: Arc<TenantKeys>,
    pub common: Common,
    pub gate: Arc<SessionGate>,
    pub guard: Arc<Guard>,
    pub identity: Arc<Identity>,
    pub admin: Arc<TenantAdmin>,
    pub analytics: Arc<Analytics>,
    pub integrations: Arc<Integrations>,
    pub ingestion: Arc<Ingestion>,
    pub tenancy: Arc<Tenancy>,
}

impl Services {
    pub fn new(adapters: Adapters, config: Config) -> Arc<Self> {
        let tenant_keys = tenant_keys(&adapters, config.data_key_cache_ttl);
        let common = Common::new(&adapters, config, tenant_keys.clone());
        let gate = SessionGate::new(&common);
        let guard = Guard::new(&common, &adapters, tenant_keys.clone());
        let identity = Identity::new(
            &common,
            &adapters,
            tenant_keys.clone(),
            guard.clone(),
            gate.clone(),
        );
        let admin = TenantAdmin::new(&common, &adapters, guard.clone(), gate.clone());
        let analytics = Analytics::new(&common);
        let integrations = Integrations::new(&common, &adapters, guard.clone(), analytics.clone());
        let ingestion = Ingestion::new(&common, integrations.clone(), analytics.clone());
        let tenancy = Tenancy::new(
            &common,
            &adapters,
            tenant_keys.clone(),
            guard.clone(),
            analytics.clone(),
        );
        Arc::new(Self {
            config: common.config.clone(),
            adapters,
            tenant_keys,
            common,
            gate,
            guard,
            identity,
            admin,
            analytics,
            integrations,
            ingestion,
            tenancy,
        })
    }
}
