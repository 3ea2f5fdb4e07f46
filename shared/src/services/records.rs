//! The records the use cases load and store (defined with their repositories), the
//! tenant's security policy, and the helpers every use case writes with.

use serde::{Deserialize, Serialize};

use crate::domain::password::PolicyPreset;
use crate::repos::{RepoError, Repos, Write};
use crate::services::error::ServiceError;

pub use crate::repos::Stored;
pub use crate::repos::tenants::{StoredTenant, TenantRecord};
pub use crate::repos::users::{MfaState, UserRecord};

/// A tenant's security policy (set by its admins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityPolicy {
    pub preset: PolicyPreset,
    pub require_mfa: bool,
    /// k of the k-anonymity viewers' aggregates keep: a filter or group covering fewer
    /// customers is suppressed in their replies.
    #[serde(default = "default_min_group_size")]
    pub min_group_size: u32,
}

/// k unless a tenant's admins chose another.
pub const DEFAULT_MIN_GROUP_SIZE: u32 = 5;
/// The range an admin may set k in.
pub const MIN_GROUP_SIZE_RANGE: std::ops::RangeInclusive<u32> = 2..=1000;

fn default_min_group_size() -> u32 {
    DEFAULT_MIN_GROUP_SIZE
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        Self {
            preset: PolicyPreset::Default,
            require_mfa: false,
            min_group_size: DEFAULT_MIN_GROUP_SIZE,
        }
    }
}

/// A repository error, with a refused condition read as `on_conflict` (what it means
/// depends on the use case: a taken e-mail, a used token, a concurrent change).
pub(crate) fn conflict_as(err: RepoError, on_conflict: ServiceError) -> ServiceError {
    if err.is_conflict() {
        on_conflict
    } else {
        err.into()
    }
}

/// Runs a transaction; a failed condition becomes `on_conflict`.
pub(crate) async fn transact_or(
    repos: &Repos,
    writes: Vec<Write>,
    on_conflict: ServiceError,
) -> Result<(), ServiceError> {
    repos
        .transactions
        .run(writes)
        .await
        .map_err(|err| conflict_as(err, on_conflict))
}
