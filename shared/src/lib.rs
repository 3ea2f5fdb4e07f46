//! Tally: a security-first revenue and customer analytics backend.
//!
//! The crate every function links. A guided tour:
//! * [`domain`]: pure types and rules (money, metrics, policies, sealing) — no I/O;
//! * [`ports`]: the traits through which services reach storage, keys, secrets, events
//!   and time;
//! * [`adapters`]: AWS and embedded implementations of the ports;
//! * [`repos`]: every stored entity, typed, over the Store port (keys, attributes,
//!   sealing) and the registry of them all;
//! * [`services`]: the use cases, written against the repositories and ports;
//! * [`http`]: axum routers per function, extractors and the one API error type.

pub mod adapters;
pub mod config;
pub mod domain;
pub mod http;
pub mod lambda;
pub mod local;
pub mod ports;
pub mod repos;
pub mod services;
pub mod telemetry;
