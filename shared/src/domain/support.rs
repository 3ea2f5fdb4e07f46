//! Support access (docs/design.md §4, "Staff (operators)"): the rules a grant of access
//! to a tenant's data must meet, and how an operator's bearer token is told apart.
//!
//! A tenant admin consents to one operator reading for at most [`MAX_CONSENT_HOURS`];
//! break-glass access, opened by the operator alone for a critical security issue or
//! suspected abuse, lasts at most [`MAX_BREAK_GLASS_HOURS`]. Both need a written reason.
//! Pure rules, no I/O: the services store the grant and audit its use.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The longest access a tenant admin may grant.
pub const MAX_CONSENT_HOURS: i64 = 72;
/// The longest break-glass access.
pub const MAX_BREAK_GLASS_HOURS: i64 = 4;
/// The shortest written reason (a word or two is not a reason).
pub const MIN_REASON_CHARS: usize = 10;
/// The longest written reason.
pub const MAX_REASON_CHARS: usize = 1000;
/// What an operator's bearer token starts with: the session gate reads an operator's
/// session, not a user's, for it (the prefix is not secret; the 256 bits after it are).
pub const OPERATOR_TOKEN_PREFIX: &str = "op_";

/// How a grant came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// Granted by a tenant admin.
    Consent,
    /// Opened by the operator without consent; the tenant's admins are told at once.
    BreakGlass,
}

impl GrantKind {
    /// The longest this kind of access may last.
    pub fn max_hours(self) -> i64 {
        match self {
            GrantKind::Consent => MAX_CONSENT_HOURS,
            GrantKind::BreakGlass => MAX_BREAK_GLASS_HOURS,
        }
    }
}

/// What is wrong with a requested grant, and which field says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRefused {
    pub field: &'static str,
    pub message: String,
}

/// A checked request for access: its reason (trimmed) and its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantTerms {
    pub reason: String,
    pub duration: Duration,
}

/// Checks a requested grant of `kind`: 1 hour up to the kind's maximum, a reason of
/// [`MIN_REASON_CHARS`] to [`MAX_REASON_CHARS`] characters.
pub fn check_terms(kind: GrantKind, hours: i64, reason: &str) -> Result<GrantTerms, GrantRefused> {
    let max = kind.max_hours();
    if !(1..=max).contains(&hours) {
        return Err(GrantRefused {
            field: "duration_hours",
            message: format!("Between 1 and {max} hours."),
        });
    }
    let reason = reason.trim();
    let chars = reason.chars().count();
    if !(MIN_REASON_CHARS..=MAX_REASON_CHARS).contains(&chars) {
        return Err(GrantRefused {
            field: "reason",
            message: format!(
                "A written reason of {MIN_REASON_CHARS} to {MAX_REASON_CHARS} characters is required."
            ),
        });
    }
    if reason.chars().any(char::is_control) {
        return Err(GrantRefused {
            field: "reason",
            message: "The reason may not hold control characters.".into(),
        });
    }
    Ok(GrantTerms {
        reason: reason.to_owned(),
        duration: Duration::hours(hours),
    })
}

/// Whether a grant that ends at `ends_at` still allows reading at `now`.
pub fn is_live(ends_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < ends_at
}

/// Whether a bearer token is an operator's.
pub fn is_operator_token(token: &str) -> bool {
    token.starts_with(OPERATOR_TOKEN_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REASON: &str = "Ticket 4711: MRR differs from Stripe";

    #[test]
    fn consent_lasts_at_most_72_hours_and_break_glass_at_most_4() {
        assert!(check_terms(GrantKind::Consent, 72, REASON).is_ok());
        assert_eq!(
            check_terms(GrantKind::Consent, 73, REASON)
                .unwrap_err()
                .field,
            "duration_hours"
        );
        assert!(check_terms(GrantKind::BreakGlass, 4, REASON).is_ok());
        assert!(check_terms(GrantKind::BreakGlass, 5, REASON).is_err());
        assert!(check_terms(GrantKind::Consent, 0, REASON).is_err());
        assert!(check_terms(GrantKind::Consent, -1, REASON).is_err());
    }

    #[test]
    fn a_grant_needs_a_written_reason() {
        for reason in ["", "   ", "help", "bad\u{0}reason here"] {
            assert_eq!(
                check_terms(GrantKind::Consent, 1, reason)
                    .unwrap_err()
                    .field,
                "reason"
            );
        }
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        assert!(check_terms(GrantKind::BreakGlass, 1, &long).is_err());
        let terms = check_terms(GrantKind::Consent, 2, &format!("  {REASON} ")).unwrap();
        assert_eq!(terms.reason, REASON);
        assert_eq!(terms.duration, Duration::hours(2));
    }

    #[test]
    fn a_grant_ends_at_its_end() {
        let end = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(is_live(end, end - Duration::seconds(1)));
        assert!(!is_live(end, end));
    }

    #[test]
    fn operator_tokens_are_told_apart_by_their_prefix() {
        assert!(is_operator_token("op_abc"));
        assert!(!is_operator_token("abc"));
    }
}
