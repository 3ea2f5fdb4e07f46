//! The bounded contexts: one struct per concern, each holding only the ports and
//! repositories it uses, so that a Lambda function builds only what its IAM role lets
//! it do (the `query` function, which may not read secrets or publish events, builds
//! [`SessionGate`] and [`Analytics`], neither of which holds those ports).
//!
//! | context | use cases (files) | ports beyond the store |
//! |---|---|---|
//! | [`SessionGate`] | bearer-token checks, the allowlist read, ending sessions (`sessions.rs`, `allowlist.rs`) | — |
//! | [`Guard`] | lookup pepper, rate limits, audit log, sign-in log, security events, single-use tokens (`security.rs`, `sessions.rs`) | secrets, events |
//! | [`Identity`] | sign-up, sign-in, sessions, passwords, two-factor (`accounts.rs`, `sessions.rs`, `passwords.rs`, `mfa.rs`) | events, keys |
//! | [`TenantAdmin`] | users, security policy, allowlist, logs (`users.rs`, `security_admin.rs`) | events |
//! | [`Integrations`] | connecting, OAuth, webhooks, disconnecting (`integrations.rs`, `connections.rs`, `webhooks.rs`, `lifecycle.rs`) | secrets, events |
//! | [`Ingestion`] | syncs and the sync planner (`ingestion.rs`, `scheduled.rs`) | connectors |
//! | [`Analytics`] | snapshots, profiles, currencies, ECB rates (`analytics.rs`, `currency.rs`, `fx_rates.rs`) | — |
//! | [`Tenancy`] | export, closure, sweep, the weekly digest (`export.rs`, `closure.rs`, `sweep.rs`, `digest.rs`) | secrets, events, keys, Slack |
//!
//! Every context reads the time from the clock port and stores through typed
//! repositories ([`Repos`]); none sees a key or an attribute name.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::adapters::Adapters;
use crate::config::Config;
use crate::ports::{Clock, EventBus, SecretStore};
use crate::repos::Repos;
use crate::services::analytics::SnapshotCache;
use crate::services::fx_rates::FxHistoryCache;
use crate::services::integrations::DemoConnectorOverride;
use crate::services::vault::TenantKeys;
use crate::services::webhooks::WebhookSecretCache;

/// What every context shares: configuration, the clock and the repositories.
#[derive(Clone)]
pub struct Common {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub repos: Repos,
}

impl Common {
    pub fn new(adapters: &Adapters, config: Config, tenant_keys: Arc<TenantKeys>) -> Self {
        Self {
            config: Arc::new(config),
            clock: adapters.clock.clone(),
            repos: Repos::new(adapters.store.clone(), tenant_keys),
        }
    }
}

macro_rules! reads_the_clock {
    ($($context:ty),*) => {$(
        impl $context {
            pub fn now(&self) -> DateTime<Utc> {
                self.clock.now()
            }
        }
    )*};
}

/// Checks bearer tokens and client addresses, and ends sessions: what every HTTP
/// function needs before it answers, on the store alone.
pub struct SessionGate {
    pub(crate) config: Arc<Config>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) repos: Repos,
}

impl SessionGate {
    pub fn new(common: &Common) -> Arc<Self> {
        Arc::new(Self {
            config: common.config.clone(),
            clock: common.clock.clone(),
            repos: common.repos.clone(),
        })
    }
}

/// Security bookkeeping shared by the use cases that act on accounts.
pub struct Guard {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) repos: Repos,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) events: Arc<dyn EventBus>,
    pub(crate) tenant_keys: Arc<TenantKeys>,
    /// The lookup pepper, read once per process from the SecretStore.
    pub(crate) pepper: OnceCell<Arc<Zeroizing<Vec<u8>>>>,
}

impl Guard {
    pub fn new(common: &Common, adapters: &Adapters, tenant_keys: Arc<TenantKeys>) -> Arc<Self> {
        Arc::new(Self {
            clock: common.clock.clone(),
            repos: common.repos.clone(),
            secrets: adapters.secrets.clone(),
            events: adapters.events.clone(),
            tenant_keys,
            pepper: OnceCell::new(),
        })
    }
}

/// Accounts and who is signed in.
pub struct Identity {
    pub(crate) config: Arc<Config>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) repos: Repos,
    pub(crate) events: Arc<dyn EventBus>,
    pub(crate) tenant_keys: Arc<TenantKeys>,
    pub(crate) guard: Arc<Guard>,
    pub(crate) gate: Arc<SessionGate>,
}

impl Identity {
    pub fn new(
        common: &Common,
        adapters: &Adapters,
        tenant_keys: Arc<TenantKeys>,
        guard: Arc<Guard>,
        gate: Arc<SessionGate>,
    ) -> Arc<Self> {
        Arc::new(Self {
            config: common.config.clone(),
            clock: common.clock.clone(),
            repos: common.repos.clone(),
            events: adapters.events.clone(),
            tenant_keys,
            guard,
            gate,
        })
    }
}

/// A tenant's administration: its users and its security settings.
pub struct TenantAdmin {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) repos: Repos,
    pub(crate) events: Arc<dyn EventBus>,
    pub(crate) guard: Arc<Guard>,
    pub(crate) gate: Arc<SessionGate>,
}

impl TenantAdmin {
    pub fn new(
        common: &Common,
        adapters: &Adapters,
        guard: Arc<Guard>,
        gate: Arc<SessionGate>,
    ) -> Arc<Self> {
        Arc::new(Self {
            clock: common.clock.clone(),
            repos: common.repos.clone(),
            events: adapters.events.clone(),
            guard,
            gate,
        })
    }
}

/// Payment-processor connections: credentials, OAuth, webhooks, disconnecting.
pub struct Integrations {
    pub(crate) config: Arc<Config>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) repos: Repos,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) events: Arc<dyn EventBus>,
    pub(crate) guard: Arc<Guard>,
    pub(crate) analytics: Arc<Analytics>,
    /// Set only by a program that embeds the services (the bench): see
    /// [`Integrations::override_demo_connectors`].
    pub(crate) demo_override: std::sync::OnceLock<Arc<DemoConnectorOverride>>,
    /// The webhook signing secret, per warm process.
    pub(crate) webhook_secret: WebhookSecretCache,
}

impl Integrations {
    pub fn new(
        common: &Common,
        adapters: &Adapters,
        guard: Arc<Guard>,
        analytics: Arc<Analytics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            config: common.config.clone(),
            clock: common.clock.clone(),
            repos: common.repos.clone(),
            secrets: adapters.secrets.clone(),
            events: adapters.events.clone(),
            guard,
            analytics,
            demo_override: std::sync::OnceLock::new(),
            webhook_secret: WebhookSecretCache::default(),
        })
    }
}

/// Pulling billing data: one integration's sync, and the scheduled pass over all.
pub struct Ingestion {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) repos: Repos,
    pub(crate) integrations: Arc<Integrations>,
    pub(crate) analytics: Arc<Analytics>,
}

impl Ingestion {
    pub fn new(
        common: &Common,
        integrations: Arc<Integrations>,
        analytics: Arc<Analytics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            clock: common.clock.clone(),
            repos: common.repos.clone(),
            integrations,
            analytics,
        })
    }
}

/// The figures: snapshots, profiles, currencies and rates. Reads and writes the store
/// only.
pub struct Analytics {
    pub(crate) config: Arc<Config>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) repos: Repos,
    /// Decoded analytics snapshots, per tenant and version.
    pub(crate) snapshots: SnapshotCache,
    /// The ECB's rates (shipped history plus stored days), for a few minutes.
    pub(crate) fx_history: FxHistoryCache,
}

impl Analytics {
    pub fn new(common: &Common) -> Arc<Self> {
        Arc::new(Self {
            config: common.config.clone(),
            clock: common.clock.clone(),
            repos: common.repos.clone(),
            snapshots: SnapshotCache::default(),
            fx_history: FxHistoryCache::default(),
        })
    }
}

/// A tenant's data as a whole: export, closure and the sweep.
pub struct Tenancy {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) repos: Repos,
    /// Closing a tenant deletes its integrations' credentials.
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) events: Arc<dyn EventBus>,
    pub(crate) tenant_keys: Arc<TenantKeys>,
    pub(crate) guard: Arc<Guard>,
    pub(crate) analytics: Arc<Analytics>,
    /// The weekly digest's Slack sender: reqwest unless overridden (tests).
    pub(crate) slack: std::sync::OnceLock<Arc<dyn crate::ports::SlackSender>>,
}

impl Tenancy {
    pub fn new(
        common: &Common,
        adapters: &Adapters,
        tenant_keys: Arc<TenantKeys>,
        guard: Arc<Guard>,
        analytics: Arc<Analytics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            clock: common.clock.clone(),
            repos: common.repos.clone(),
            secrets: adapters.secrets.clone(),
            events: adapters.events.clone(),
            tenant_keys,
            guard,
            analytics,
            slack: std::sync::OnceLock::new(),
        })
    }
}

reads_the_clock!(
    SessionGate,
    Guard,
    Identity,
    TenantAdmin,
    Integrations,
    Ingestion,
    Analytics,
    Tenancy
);
