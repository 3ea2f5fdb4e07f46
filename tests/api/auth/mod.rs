//! The auth function (API.md), rule by rule, over HTTP.

mod login;
mod mfa;
mod passwords;
mod sessions;
mod signup;
