//! Grants of support access at `(TENANT#<id>, GRANT#<operator>#<grant>)`: the sealed
//! [`GrantRecord`], in the tenant's partition (erased with it), deleted by the store's
//! TTL when the grant ends (`expires_at`) or at once when an admin revokes it.
//!
//! No global index: an operator names the tenant it reads (`X-Tally-Tenant`), so the
//! check of a read is one query in that tenant's partition, under the operator's id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{GrantId, OperatorId, TenantId, UserId};
use crate::domain::support::GrantKind;
use crate::ports::{Condition, Key};
use crate::repos::{EXPIRES_AT, EntityKey, RepoError, Sealer, Write, all_under, tenant_of, with_n};

const GRANT_PREFIX: &str = "GRANT#";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantKey {
    pub tenant: TenantId,
    pub operator: OperatorId,
    pub grant: GrantId,
}

fn operator_prefix(operator: &OperatorId) -> String {
    format!("{GRANT_PREFIX}{operator}#")
}

impl EntityKey for GrantKey {
    fn key(&self) -> Key {
        Key::new(
            self.tenant.partition(),
            format!("{}{}", operator_prefix(&self.operator), self.grant),
        )
    }
    fn parse(key: &Key) -> Option<Self> {
        let (operator, grant) = key.sk.strip_prefix(GRANT_PREFIX)?.split_once('#')?;
        Some(Self {
            tenant: tenant_of(&key.pk)?,
            operator: OperatorId::parse(operator)?,
            grant: GrantId::parse(grant)?,
        })
    }
}

/// One grant (sealed: the reason is the tenant's business).
#[derive(Clone, Serialize, Deserialize)]
pub struct GrantRecord {
    pub kind: GrantKind,
    pub reason: String,
    /// The admin who consented; `None` for break-glass access.
    pub granted_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// A grant with its ids.
#[derive(Clone)]
pub struct Grant {
    pub id: GrantId,
    pub operator: OperatorId,
    pub record: GrantRecord,
}

#[derive(Clone)]
pub struct SupportGrants {
    sealer: Sealer,
}

impl SupportGrants {
    pub(crate) fn new(sealer: Sealer) -> Self {
        Self { sealer }
    }

    /// The write that stores a grant; the store deletes it when it ends.
    pub async fn create(
        &self,
        tenant: &TenantId,
        operator: &OperatorId,
        grant: &GrantId,
        record: &GrantRecord,
    ) -> Result<Write, RepoError> {
        let key = GrantKey {
            tenant: tenant.clone(),
            operator: operator.clone(),
            grant: grant.clone(),
        };
        let item = self.sealer.seal(tenant, key.key(), record).await?;
        let item = with_n(item, EXPIRES_AT, record.ends_at.timestamp());
        Ok(Write::put(item, Condition::Absent))
    }

    async fn under(&self, tenant: &TenantId, prefix: String) -> Result<Vec<Grant>, RepoError> {
        let items = all_under(self.sealer.store.as_ref(), tenant, prefix, 200).await?;
        let records: Vec<GrantRecord> = self.sealer.open_all(tenant, &items).await?;
        Ok(items
            .iter()
            .zip(records)
            .filter_map(|(item, record)| {
                let key = GrantKey::parse(&item.key)?;
                Some(Grant {
                    id: key.grant,
                    operator: key.operator,
                    record,
                })
            })
            .collect())
    }

    /// Every grant of the tenant still stored (ended ones until the TTL takes them).
    pub async fn all(&self, tenant: &TenantId) -> Result<Vec<Grant>, RepoError> {
        self.under(tenant, GRANT_PREFIX.into()).await
    }

    /// The tenant's grants to one operator.
    pub async fn of_operator(
        &self,
        tenant: &TenantId,
        operator: &OperatorId,
    ) -> Result<Vec<Grant>, RepoError> {
        self.under(tenant, operator_prefix(operator)).await
    }

    /// The write that deletes a grant (refused if it is gone already).
    pub fn delete(&self, tenant: &TenantId, operator: &OperatorId, grant: &GrantId) -> Write {
        let key = GrantKey {
            tenant: tenant.clone(),
            operator: operator.clone(),
            grant: grant.clone(),
        };
        Write::delete(key.key(), Condition::Exists)
    }
}
