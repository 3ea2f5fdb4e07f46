//! Tally's integration tests: one binary, one module per area.

mod admin;
mod auth;
mod bad_input;
mod conformance;
mod ecb_rates;
mod edge_limits;
mod envelope;
mod exports;
mod fanout;
mod helpers;
mod incremental;
mod integrations;
mod lifecycle;
mod oauth_binding;
mod openapi;
mod plumbing;
mod query;
mod routes;
mod sharding;
mod stripe_connector;
mod stripe_lifecycle;
mod stripe_shapes;
mod support;
mod suppression;
mod template;
mod web;
