//! Identifiers. Each can only be built by `parse` or `generate`, so a value of the type
//! is always well-formed; key builders take these, never raw strings from a request. An
//! id in a path that does not parse is simply "not found".

use std::fmt;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }
            /// Only the canonical lower-case hyphenated form parses.
            pub fn parse(text: &str) -> Option<Self> {
                let id = uuid::Uuid::try_parse(text).ok()?;
                let canonical = id.hyphenated().to_string();
                (canonical == text).then_some(Self(canonical))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value).ok_or_else(|| concat!("not a valid ", stringify!($name)).to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

uuid_id!(
    /// A tenant: a company using Tally.
    TenantId
);
uuid_id!(
    /// A user of one tenant.
    UserId
);
uuid_id!(
    /// One session of one user (not its token: the token is never stored).
    SessionId
);

uuid_id!(
    /// An entry of a tenant's IP allowlist.
    EntryId
);

uuid_id!(
    /// A connection of a tenant to a payment processor.
    IntegrationId
);

uuid_id!(
    /// One export of a tenant's data.
    ExportId
);

uuid_id!(
    /// One queued import of a CSV file into a custom integration.
    ImportId
);

uuid_id!(
    /// A member of staff (an operator): global, in no tenant.
    OperatorId
);

uuid_id!(
    /// One grant of support access to a tenant (consented or break-glass).
    GrantId
);

uuid_id!(
    /// A tenant's custom segment: a named set of dimension filters.
    SegmentId
);

impl TenantId {
    /// The partition that holds everything this tenant owns.
    pub fn partition(&self) -> String {
        format!("TENANT#{}", self.0)
    }
    /// The pseudo-tenant whose key seals what belongs to no tenant yet (sign-in
    /// attempts for e-mails that match no user).
    pub fn system() -> Self {
        Self(uuid::Uuid::nil().hyphenated().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_uuids_are_ids() {
        let id = TenantId::generate();
        assert_eq!(TenantId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.partition(), format!("TENANT#{id}"));
        assert!(TenantId::parse("../etc/passwd").is_none());
        assert!(UserId::parse(&id.as_str().to_uppercase()).is_none());
        assert!(SessionId::parse("").is_none());
        assert!(TenantId::parse(&format!("{id}#USER")).is_none());
    }

    #[test]
    fn the_system_tenant_is_a_valid_tenant_id() {
        let system = TenantId::system();
        assert_eq!(TenantId::parse(system.as_str()), Some(system));
    }
}
