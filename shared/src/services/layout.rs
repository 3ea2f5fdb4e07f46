//! Where each kind of item lives: every key the services build comes from here.
//!
//! A tenant's own items share its partition `TENANT#<id>`. Lookups that must work before
//! the tenant is known use keyed or plain hashes, never the value itself: an e-mail is
//! `EMAIL#<hmac>`, a bearer token `SESSION#<sha256>`. No personal datum is in a key.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::ids::{SessionId, TenantId, UserId};
use crate::ports::Key;

pub const TENANT_SK: &str = "TENANT";
pub const USER_PREFIX: &str = "USER#";
pub const AUDIT_PREFIX: &str = "AUDIT#";
pub const LOGIN_PREFIX: &str = "LOGIN#";

/// A time as it sorts in a sort key: fixed width, so byte order is time order.
pub fn sortable_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn tenant(tenant: &TenantId) -> Key {
    Key::new(tenant.partition(), TENANT_SK)
}

pub fn user(tenant: &TenantId, user: &UserId) -> Key {
    Key::new(tenant.partition(), format!("{USER_PREFIX}{user}"))
}

/// The global pointer from an e-mail's keyed hash to its user.
pub fn email_lookup(email_hash: &str) -> Key {
    Key::new(format!("EMAIL#{email_hash}"), "USER")
}

/// Consecutive failed sign-ins for an e-mail's keyed hash (known or not).
pub fn failed_logins(email_hash: &str) -> Key {
    Key::new(format!("EMAIL#{email_hash}"), "FAILS")
}

/// A session, found by its token's SHA-256.
pub fn session(token_hash: &str) -> Key {
    Key::new(format!("SESSION#{token_hash}"), "SESSION")
}

pub fn user_sessions_prefix(user: &UserId) -> String {
    format!("SESSIONREF#{user}#")
}

/// The tenant-side record of a session, for listing and ending a user's sessions.
pub fn session_ref(tenant: &TenantId, user: &UserId, session: &SessionId) -> Key {
    Key::new(
        tenant.partition(),
        format!("{}{session}", user_sessions_prefix(user)),
    )
}

/// Single-use tokens, found by their SHA-256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Password reset by e-mail (30 min).
    Reset,
    /// Password change after expiry (10 min).
    Change,
    /// Invitation of a new user.
    Invite,
    /// OAuth `state`.
    OAuthState,
}

impl TokenKind {
    pub fn label(self) -> &'static str {
        match self {
            TokenKind::Reset => "RESET",
            TokenKind::Change => "CHANGE",
            TokenKind::Invite => "INVITE",
            TokenKind::OAuthState => "STATE",
        }
    }
}

pub fn token(kind: TokenKind, token_hash: &str) -> Key {
    Key::new(format!("{}#{token_hash}", kind.label()), kind.label())
}

pub fn login_attempt(tenant: &TenantId, at: DateTime<Utc>, id: &str) -> Key {
    Key::new(
        tenant.partition(),
        format!("{LOGIN_PREFIX}{}#{id}", sortable_time(at)),
    )
}

pub fn audit_entry(tenant: &TenantId, at: DateTime<Utc>, id: &str) -> Key {
    Key::new(
        tenant.partition(),
        format!("{AUDIT_PREFIX}{}#{id}", sortable_time(at)),
    )
}

/// A per-minute request counter for one (keyed-hashed) client address and bucket.
pub fn rate_counter(bucket: &str, ip_hash: &str, minute: i64) -> Key {
    Key::new(format!("RATE#{bucket}#{ip_hash}"), minute.to_string())
}

/// The global pointer from a Stripe account (`acct_…`) to its integration, for webhooks.
pub fn stripe_account(account: &str) -> Key {
    Key::new(format!("STRIPEACCT#{account}"), "INTEGRATION")
}
