//! Roles and what each may do (docs/design.md §4). The one place that answers "may this
//! role do that": the HTTP extractors call [`Role::allows`].

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Role {
    /// Manages users, integrations, the IP allowlist, exports, account closure.
    Admin,
    /// Reads analytics, customer profiles included.
    Analyst,
    /// Reads aggregates only: never customer personal data.
    Viewer,
}

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Any signed-in user (their own account and sessions).
    AnyUser,
    /// Aggregated analytics.
    Aggregates,
    /// Per-customer data (personal data).
    CustomerData,
    /// Administration.
    Admin,
}

impl Role {
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::AnyUser | Access::Aggregates => true,
            Access::CustomerData => matches!(self, Role::Admin | Role::Analyst),
            Access::Admin => self == Role::Admin,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_see_aggregates_but_no_customer_data() {
        assert!(Role::Viewer.allows(Access::Aggregates));
        assert!(!Role::Viewer.allows(Access::CustomerData));
        assert!(!Role::Viewer.allows(Access::Admin));
    }

    #[test]
    fn analysts_read_customers_but_do_not_administer() {
        assert!(Role::Analyst.allows(Access::CustomerData));
        assert!(!Role::Analyst.allows(Access::Admin));
        assert!(Role::Admin.allows(Access::Admin));
    }
}
