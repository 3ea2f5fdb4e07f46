//! The admin function (docs/api.md), the role table and tenant isolation, over HTTP.

mod allowlist;
mod analytics;
mod isolation;
mod policy;
mod refused_address;
mod roles;
mod users;
