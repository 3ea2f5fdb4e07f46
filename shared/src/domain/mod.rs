//! The domain: pure types and rules. No I/O here (randomness for keys and nonces
//! aside), so every rule is unit-tested directly.

pub mod billing;
pub mod cidr;
pub mod crypto;
pub mod digest;
pub mod email;
pub mod embedded;
pub mod fx_history;
pub mod ids;
pub mod import;
pub mod metrics;
pub mod password;
pub mod roles;
pub mod schedule;
pub mod segments;
pub mod sign_in;
pub mod support;
pub mod tokens;
pub mod totp;
