//! The sign-in decision, free of I/O.
//!
//! A sign-in passes a fixed sequence of checks; each check's result is judged here, and
//! the service applies the verdict in one place (`Identity::finish_sign_in`, in `services/sessions.rs`): which
//! outcome goes to the sign-in log, what happens to the failure count, and what the
//! client is told. The order matters for security and is fixed by [`Check`]'s order of
//! use: nothing about the account is revealed before the password is right, and a
//! second-factor code is never consumed for a sign-in that would be refused anyway.
//!
//! The failure count is reserved (one atomic increment) before the password is
//! verified, so parallel guesses cannot all be verified against a count read before
//! any of them failed; [`Counter`] says what becomes of that reservation.

use serde::{Deserialize, Serialize};

/// How many failed sign-ins lock an account until its password is reset.
pub const MAX_FAILED_LOGINS: i64 = 5;

/// How a sign-in attempt ended, as the sign-in log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum LoginOutcome {
    Success,
    BadPassword,
    UnknownUser,
    Locked,
    MfaRequired,
    MfaFailure,
    IpRefused,
    PasswordExpired,
}

impl LoginOutcome {
    pub fn failed(self) -> bool {
        !matches!(self, LoginOutcome::Success)
    }
}

/// One check of a sign-in, with what it found. Judged in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The e-mail's account: an enabled user.
    Account { exists: bool },
    /// The password against the stored hash.
    Password { right: bool },
    /// The user's tenant is active (not closing or closed).
    Tenant { active: bool },
    /// The client address against the tenant's allowlist.
    Address { allowed: bool },
    /// The second factor, for a user who has one.
    SecondFactor(SecondFactor),
    /// The password's age against the tenant's policy.
    PasswordAge { expired: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// The user has no second factor.
    NotEnrolled,
    /// A valid code (TOTP or recovery) was given and consumed.
    Passed,
    /// No code was given.
    Missing,
    /// A code was given and is not valid (or was already used).
    Wrong,
}

/// What happens to the reservation this attempt made in the failure count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// It stays: this attempt counts as a failure.
    Keep,
    /// It stays, and it is the failure that locks the account: tell the user.
    KeepAndLock,
    /// Given back: the password was right but the sign-in did not complete.
    Release,
    /// The count is cleared: the sign-in succeeded.
    Clear,
}

/// What the client is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    InvalidCredentials,
    PasswordResetRequired,
    IpNotAllowed,
    MfaRequired,
    InvalidMfaCode,
    /// 403 with a single-use token that changes the expired password.
    PasswordExpired,
    /// A new session.
    Session,
}

/// The end of a sign-in: log, count and reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finish {
    /// The outcome for the sign-in log; `None` records nothing (a closed tenant's
    /// log is being deleted).
    pub log: Option<LoginOutcome>,
    pub counter: Counter,
    pub reply: Reply,
    /// Verify the password against a dummy hash first, so that the reply takes as
    /// long as a real verification and says nothing about the account.
    pub dummy_verify: bool,
}

/// A check's verdict: go on to the next check, or finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Next,
    Finish(Finish),
}

const fn finish(log: Option<LoginOutcome>, counter: Counter, reply: Reply) -> Verdict {
    Verdict::Finish(Finish {
        log,
        counter,
        reply,
        dummy_verify: false,
    })
}

/// Judges one check. `reserved` is the failure count with this attempt's reservation
/// in it. The last check that passes ([`Check::PasswordAge`] not expired) finishes
/// with a session.
pub fn judge(check: Check, reserved: i64) -> Verdict {
    use Counter::*;
    use LoginOutcome as L;
    let locked = reserved > MAX_FAILED_LOGINS;
    // A failed guess keeps its reservation; the one that reaches the limit locks the
    // account, and the user is told once.
    let failed = |log, reply| {
        let counter = if reserved == MAX_FAILED_LOGINS {
            KeepAndLock
        } else {
            Keep
        };
        finish(Some(log), counter, reply)
    };
    match check {
        Check::Account { exists: true } if !locked => Verdict::Next,
        // No account, or a locked one: the same work and the same replies.
        Check::Account { .. } => {
            let (log, reply) = if locked {
                (L::Locked, Reply::PasswordResetRequired)
            } else {
                (L::UnknownUser, Reply::InvalidCredentials)
            };
            Verdict::Finish(Finish {
                log: Some(log),
                counter: Keep,
                reply,
                dummy_verify: true,
            })
        }
        Check::Password { right: true } => Verdict::Next,
        Check::Password { right: false } => failed(L::BadPassword, Reply::InvalidCredentials),
        Check::Tenant { active: true } => Verdict::Next,
        Check::Tenant { active: false } => finish(None, Release, Reply::InvalidCredentials),
        Check::Address { allowed: true } => Verdict::Next,
        Check::Address { allowed: false } => {
            finish(Some(L::IpRefused), Release, Reply::IpNotAllowed)
        }
        Check::SecondFactor(SecondFactor::NotEnrolled | SecondFactor::Passed) => Verdict::Next,
        Check::SecondFactor(SecondFactor::Missing) => {
            finish(Some(L::MfaRequired), Release, Reply::MfaRequired)
        }
        Check::SecondFactor(SecondFactor::Wrong) => failed(L::MfaFailure, Reply::InvalidMfaCode),
        Check::PasswordAge { expired: true } => {
            finish(Some(L::PasswordExpired), Release, Reply::PasswordExpired)
        }
        Check::PasswordAge { expired: false } => finish(Some(L::Success), Clear, Reply::Session),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(check: Check, reserved: i64) -> Finish {
        match judge(check, reserved) {
            Verdict::Finish(finish) => finish,
            Verdict::Next => panic!("{check:?} should finish the sign-in"),
        }
    }

    #[test]
    fn an_unknown_or_locked_account_costs_a_dummy_verification_and_keeps_its_reservation() {
        let unknown = finished(Check::Account { exists: false }, 1);
        assert_eq!(unknown.log, Some(LoginOutcome::UnknownUser));
        assert_eq!(unknown.reply, Reply::InvalidCredentials);
        assert_eq!(unknown.counter, Counter::Keep);
        assert!(unknown.dummy_verify);
        // Past the limit, known or not, the reply is the same lock.
        for exists in [true, false] {
            let locked = finished(Check::Account { exists }, MAX_FAILED_LOGINS + 1);
            assert_eq!(locked.log, Some(LoginOutcome::Locked));
            assert_eq!(locked.reply, Reply::PasswordResetRequired);
            assert!(locked.dummy_verify);
        }
        assert_eq!(
            judge(Check::Account { exists: true }, MAX_FAILED_LOGINS),
            Verdict::Next
        );
    }

    #[test]
    fn the_wrong_guess_that_reaches_the_limit_locks_the_account() {
        let fourth = finished(Check::Password { right: false }, MAX_FAILED_LOGINS - 1);
        assert_eq!(fourth.counter, Counter::Keep);
        let fifth = finished(Check::Password { right: false }, MAX_FAILED_LOGINS);
        assert_eq!(fifth.counter, Counter::KeepAndLock);
        assert_eq!(fifth.reply, Reply::InvalidCredentials);
        let wrong_code = finished(Check::SecondFactor(SecondFactor::Wrong), MAX_FAILED_LOGINS);
        assert_eq!(wrong_code.counter, Counter::KeepAndLock);
        assert_eq!(wrong_code.log, Some(LoginOutcome::MfaFailure));
    }

    #[test]
    fn a_right_password_refused_later_gives_its_reservation_back() {
        for (check, reply) in [
            (Check::Tenant { active: false }, Reply::InvalidCredentials),
            (Check::Address { allowed: false }, Reply::IpNotAllowed),
            (
                Check::SecondFactor(SecondFactor::Missing),
                Reply::MfaRequired,
            ),
            (Check::PasswordAge { expired: true }, Reply::PasswordExpired),
        ] {
            let finish = finished(check, 1);
            assert_eq!(finish.counter, Counter::Release, "{check:?}");
            assert_eq!(finish.reply, reply);
            assert!(!finish.dummy_verify);
        }
        // A closing tenant's log is being deleted: nothing is added to it.
        assert_eq!(finished(Check::Tenant { active: false }, 1).log, None);
    }

    #[test]
    fn only_the_last_check_opens_a_session_and_clears_the_count() {
        let passing = [
            Check::Account { exists: true },
            Check::Password { right: true },
            Check::Tenant { active: true },
            Check::Address { allowed: true },
            Check::SecondFactor(SecondFactor::NotEnrolled),
            Check::SecondFactor(SecondFactor::Passed),
        ];
        for check in passing {
            assert_eq!(judge(check, 1), Verdict::Next, "{check:?}");
        }
        let success = finished(Check::PasswordAge { expired: false }, 1);
        assert_eq!(success.log, Some(LoginOutcome::Success));
        assert_eq!(success.counter, Counter::Clear);
        assert_eq!(success.reply, Reply::Session);
    }
}
