//! The auth function (docs/api.md), rule by rule, over HTTP.

mod login;
mod mfa;
mod passwords;
mod rechecks;
mod sessions;
mod signup;
