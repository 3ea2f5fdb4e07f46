//! Account closure (DESIGN.md §4): access ends at once; all data, keys and secrets are
//! deleted within 30 days.
//!
//! Closing marks the tenant `closed` (every session and sign-in is refused from that
//! write on) and lists it in the global `CLOSED` partition. [`Services::finish_closure`]
//! then removes everything that lives outside the tenant's partition — sessions, e-mail
//! lookups, failure counters, integration secrets and pointers, the tenant's events —
//! and LAST deletes the wrapped data key: from then on nothing sealed of the tenant opens
//! (crypto-shredding), before the sweep has removed a single item. Every step is
//! idempotent and the key goes last, so an interrupted closure is finished by the sweep.
//! What remains afterwards is a receipt keyed by a hash of the tenant id.

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::domain::email::Email;
use crate::domain::ids::TenantId;
use crate::ports::store::query_all;
use crate::ports::{Attr, Condition, Item, Key, Query, SortKeys, WriteOp};
use crate::services::Services;
use crate::services::error::{Conflict, ServiceError};
use crate::services::hashing::verify_password;
use crate::services::integrations::{INTEGRATIONS_PK, IntegrationRecord, secret_name};
use crate::services::layout::{self, USER_PREFIX};
use crate::services::records::{TENANT_ACTIVE, UserRecord};
use crate::services::sessions::TenantCtx;
use crate::services::vault::DATA_KEY_SK;

/// The global partition listing closed tenants awaiting erasure.
pub const CLOSED_PK: &str = "CLOSED";
pub const TENANT_CLOSED: &str = "closed";
/// The promise: everything is gone within this many days.
pub const ERASURE_DAYS: i64 = 30;

/// The receipt of an erasure: a hash of the tenant id, never the id, e-mails or name.
pub fn receipt_key(tenant: &TenantId) -> Key {
    let hash = hex::encode(Sha256::digest(tenant.as_str().as_bytes()));
    Key::new(format!("DELETED#{hash}"), "RECEIPT")
}

impl Services {
    /// `DELETE /v1/account {password, confirm: <company>}`.
    pub async fn close_account(
        &self,
        ctx: &TenantCtx,
        password_given: &SecretString,
        confirm: &str,
    ) -> Result<DateTime<Utc>, ServiceError> {
        let user = self
            .load_user(ctx.tenant(), ctx.user())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if !verify_password(&user.record.password_hash, password_given).await {
            return Err(ServiceError::InvalidCredentials);
        }
        let tenant = self
            .load_tenant(ctx.tenant())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if tenant.item.s("status") != Some(TENANT_ACTIVE) {
            // Closed by a concurrent call since this session was checked.
            return Err(ServiceError::Unauthenticated);
        }
        if confirm.trim() != tenant.record.company {
            return Err(ServiceError::invalid(
                "confirm",
                "Type the company name exactly to confirm the closure.",
            ));
        }
        let now = self.now();
        let deadline = now + Duration::days(ERASURE_DAYS);
        let mut closed = tenant
            .item
            .clone()
            .with("status", Attr::S(TENANT_CLOSED.into()));
        closed.version = tenant.version + 1;
        let listed = Item::new(Key::new(CLOSED_PK, ctx.tenant().to_string()))
            .with("tenant_id", Attr::S(ctx.tenant().to_string()))
            .with("closed_at", Attr::N(now.timestamp()))
            .with("erase_by", Attr::N(deadline.timestamp()));
        // A concurrent change to the tenant (policy, another closure) refuses this one
        // whole: the client reloads and confirms again.
        self.transact_or(
            vec![
                WriteOp::Put {
                    item: closed,
                    condition: Condition::VersionIs(tenant.version),
                },
                WriteOp::Put {
                    item: listed,
                    condition: Condition::None,
                },
            ],
            ServiceError::Conflict(Conflict::ConcurrentUpdate),
        )
        .await?;
        let receipt = Item::new(receipt_key(ctx.tenant()))
            .with("closed_at", Attr::N(now.timestamp()))
            .with("erase_by", Attr::N(deadline.timestamp()));
        self.adapters.store.put(receipt, Condition::None).await?;
        self.finish_closure(ctx.tenant()).await?;
        Ok(deadline)
    }

    /// Removes what a closed tenant has outside its partition, then shreds its key.
    /// Idempotent; does nothing more once the key is gone.
    pub(crate) async fn finish_closure(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        let key_item = Key::new(tenant.partition(), DATA_KEY_SK);
        if self.adapters.store.get(&key_item).await?.is_none() {
            return Ok(());
        }
        let status = self.adapters.store.get(&layout::tenant(tenant)).await?;
        if status.as_ref().and_then(|i| i.s("status")) == Some(TENANT_ACTIVE) {
            return Err(ServiceError::internal("refusing to erase an active tenant"));
        }
        let store = self.adapters.store.as_ref();
        let mut global: Vec<Key> = Vec::new();
        // Users: their e-mail lookups and failure counters, and their sessions.
        for item in query_all(
            store,
            Query::new(tenant.partition(), SortKeys::prefix(USER_PREFIX)).limit(500),
        )
        .await?
        {
            let user: UserRecord = self.open(tenant, &item).await?;
            if let Ok(email) = Email::parse(&user.email) {
                let hash = self.email_hash(&email).await?;
                global.push(layout::email_lookup(&hash));
                global.push(layout::failed_logins(&hash));
            }
        }
        for item in query_all(
            store,
            Query::new(tenant.partition(), SortKeys::prefix("SESSIONREF#")).limit(500),
        )
        .await?
        {
            #[derive(serde::Deserialize)]
            struct Mirror {
                token_hash: String,
            }
            let mirror: Mirror = self.open(tenant, &item).await?;
            global.push(layout::session(&mirror.token_hash));
        }
        // Integrations: secrets, account pointers, schedule entries.
        for (id, item) in self.integration_items(tenant).await? {
            let record: IntegrationRecord = self.open(tenant, &item).await?;
            self.adapters
                .secrets
                .delete(&secret_name(tenant, &id)?)
                .await?;
            if let Some(account) = record.account.as_deref() {
                global.push(layout::stripe_account(account));
            }
            global.push(Key::new(INTEGRATIONS_PK, format!("{tenant}#{id}")));
        }
        self.delete_keys(global).await?;
        self.adapters.events.forget_tenant(tenant.as_str()).await?;
        // Last: nothing sealed of the tenant opens after this write.
        self.adapters
            .store
            .delete(&key_item, Condition::None)
            .await?;
        self.tenant_keys.forget(tenant);
        Ok(())
    }

    /// Deletes keys, up to 100 to a transaction; missing ones are fine.
    pub(crate) async fn delete_keys(&self, keys: Vec<Key>) -> Result<u64, ServiceError> {
        let mut unique: Vec<Key> = keys;
        unique.sort();
        unique.dedup();
        let count = unique.len() as u64;
        for chunk in unique.chunks(crate::ports::store::MAX_TRANSACTION_OPS) {
            let ops = chunk
                .iter()
                .map(|key| WriteOp::Delete {
                    key: key.clone(),
                    condition: Condition::None,
                })
                .collect();
            self.adapters.store.transact(ops).await?;
        }
        Ok(count)
    }
}
