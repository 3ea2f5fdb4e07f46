//! Tests of the metrics engine: hand-computed scenarios to the cent, and properties over
//! generated data.

mod api;
mod bench;
mod currencies;
mod customers;
mod fixtures;
mod fx_properties;
mod generator;
mod lifecycle;
mod money;
mod movements;
mod properties;
mod reporting;
