//! Tests of the metrics engine: hand-computed scenarios to the cent, and properties over
//! generated data.

mod api;
mod bench;
mod currencies;
mod customers;
mod discounts;
mod fixtures;
mod generator;
mod lifecycle;
mod money;
mod movements;
mod pricing;
mod properties;
