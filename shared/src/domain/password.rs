//! Passwords: the tenant's policy and how passwords are stored (docs/design.md §4).
//!
//! * [`PasswordPolicy::check`] lists every rule a candidate breaks, so a person fixes
//!   them all at once instead of one per round trip (`weak_password` details).
//! * The common-password blocklist applies under every preset: NIST 800-63B drops
//!   composition and expiry rules but explicitly keeps "not a known-breached password".
//! * Storage is argon2id in PHC strings ([`hash`], [`verify`]); see `password/hashing.rs`.
//!
//! Character classes are Unicode-aware, so a person typing in their own script is not
//! penalised: upper/lower case are `char::is_uppercase`/`is_lowercase`, a digit is
//! `char::is_numeric`, and a symbol is any character that is neither alphanumeric nor
//! whitespace nor a control character. Spaces are allowed (passphrases) but do not count
//! as a symbol: they add little to guessing cost. Letters of scripts without case (CJK,
//! Arabic, …) count as neither upper nor lower case.

use std::collections::HashSet;
use std::sync::LazyLock;

use secrecy::{ExposeSecret, SecretString};

mod hashing;

pub use hashing::{PasswordHashError, hash, reused, verify, verify_dummy};

/// One password per line, most common first; `#` lines are comments (the source note).
/// Deflated (`crate::domain::embedded`); empty only if it failed to inflate, which a unit
/// test rules out.
static COMMON_PASSWORDS_TXT: LazyLock<String> = LazyLock::new(|| {
    crate::domain::embedded::inflate(crate::domain::embedded::deflated!("common-passwords.txt"))
        .unwrap_or_default()
});

static COMMON_PASSWORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    COMMON_PASSWORDS_TXT
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_lowercase)
        .collect()
});

/// Whether `candidate` is on the common-password blocklist, whatever its case.
pub fn is_common(candidate: &str) -> bool {
    COMMON_PASSWORDS.contains(&candidate.to_lowercase())
}

/// The presets an admin can pick for the tenant (`PUT /v1/security/policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(utoipa::ToSchema)]
pub enum PolicyPreset {
    /// ≥ 12 characters with upper, lower, digit and symbol; expires after 180 days.
    #[default]
    Default,
    /// NIST SP 800-63B: ≥ 15 characters, no composition rules, no expiry.
    Nist,
}

/// A tenant's password policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordPolicy {
    pub preset: PolicyPreset,
}

/// A rule a candidate password breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    TooShort { min: usize },
    TooLong { max: usize },
    NeedsUppercase,
    NeedsLowercase,
    NeedsDigit,
    NeedsSymbol,
    Common,
}

impl PasswordRule {
    /// Stable snake_case code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::NeedsUppercase => "needs_uppercase",
            Self::NeedsLowercase => "needs_lowercase",
            Self::NeedsDigit => "needs_digit",
            Self::NeedsSymbol => "needs_symbol",
            Self::Common => "common",
        }
    }

    /// A sentence for a person. Never contains the password.
    pub fn message(&self) -> String {
        match self {
            Self::TooShort { min } => format!("Use at least {min} characters."),
            Self::TooLong { max } => format!("Use at most {max} characters."),
            Self::NeedsUppercase => "Include an upper-case letter.".to_owned(),
            Self::NeedsLowercase => "Include a lower-case letter.".to_owned(),
            Self::NeedsDigit => "Include a digit.".to_owned(),
            Self::NeedsSymbol => {
                "Include a symbol (a character that is not a letter, digit or space).".to_owned()
            }
            Self::Common => "This password is too common; choose another.".to_owned(),
        }
    }
}

/// Upper bound on length under every preset: argon2 takes any length, but a cap keeps
/// a megabyte "password" from being a cheap way to burn server time.
const MAX_LENGTH: usize = 128;
/// How many previous passwords a new one may not repeat.
const HISTORY_DEPTH: usize = 5;
const DEFAULT_EXPIRY_DAYS: i64 = 180;

impl PasswordPolicy {
    pub fn new(preset: PolicyPreset) -> Self {
        Self { preset }
    }

    /// Minimum length in characters (Unicode scalar values).
    pub fn min_length(&self) -> usize {
        match self.preset {
            PolicyPreset::Default => 12,
            PolicyPreset::Nist => 15,
        }
    }

    /// Maximum length in characters (Unicode scalar values).
    pub fn max_length(&self) -> usize {
        MAX_LENGTH
    }

    /// Whether upper, lower, digit and symbol are each required.
    pub fn requires_composition(&self) -> bool {
        self.preset == PolicyPreset::Default
    }

    /// How long a password stays valid after it is set; `None`: it never expires.
    pub fn expires_after(&self) -> Option<chrono::Duration> {
        match self.preset {
            PolicyPreset::Default => Some(chrono::Duration::days(DEFAULT_EXPIRY_DAYS)),
            PolicyPreset::Nist => None,
        }
    }

    /// When a password set at `set_at` expires under this policy.
    pub fn expires_at(
        &self,
        set_at: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        self.expires_after()
            .and_then(|after| set_at.checked_add_signed(after))
    }

    /// How many previous passwords (newest first) a new one may not repeat.
    pub fn history_depth(&self) -> usize {
        HISTORY_DEPTH
    }

    /// Every rule `candidate` breaks, in a stable order; `Ok` if none.
    pub fn check(&self, candidate: &str) -> Result<(), Vec<PasswordRule>> {
        let mut broken = Vec::new();
        let length = candidate.chars().count();
        if length < self.min_length() {
            broken.push(PasswordRule::TooShort {
                min: self.min_length(),
            });
        }
        if length > self.max_length() {
            broken.push(PasswordRule::TooLong {
                max: self.max_length(),
            });
        }
        if self.requires_composition() {
            let has = |class: fn(&char) -> bool| candidate.chars().any(|c| class(&c));
            if !has(|c| c.is_uppercase()) {
                broken.push(PasswordRule::NeedsUppercase);
            }
            if !has(|c| c.is_lowercase()) {
                broken.push(PasswordRule::NeedsLowercase);
            }
            if !has(|c| c.is_numeric()) {
                broken.push(PasswordRule::NeedsDigit);
            }
            if !has(is_symbol) {
                broken.push(PasswordRule::NeedsSymbol);
            }
        }
        if is_common(candidate) {
            broken.push(PasswordRule::Common);
        }
        if broken.is_empty() {
            Ok(())
        } else {
            Err(broken)
        }
    }

    /// Checks `candidate` and, if it passes, wraps it as a [`NewPassword`].
    pub fn accept(&self, candidate: SecretString) -> Result<NewPassword, Vec<PasswordRule>> {
        self.check(candidate.expose_secret())?;
        Ok(NewPassword(candidate))
    }
}

fn is_symbol(c: &char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control()
}

/// A password that met the tenant's policy, ready to be hashed. Held as a
/// [`SecretString`] (zeroized on drop); `Debug` never shows it.
pub struct NewPassword(SecretString);

impl NewPassword {
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The PHC string to store.
    pub fn hash(&self) -> Result<String, PasswordHashError> {
        hash(self.0.expose_secret())
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(redacted)")
    }
}

#[cfg(test)]
mod tests;
