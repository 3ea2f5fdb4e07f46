//! Tally's integration tests: one binary, one module per area.

mod auth;
mod conformance;
mod envelope;
mod helpers;
mod plumbing;
