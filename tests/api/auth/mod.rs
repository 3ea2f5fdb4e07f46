//! The auth function (docs/api.md), rule by rule, over HTTP.

mod enumeration;
mod login;
mod mfa;
mod passwords;
mod rechecks;
mod reset_tokens;
mod sessions;
mod signup;
mod unborn_lockout;
mod verification;
