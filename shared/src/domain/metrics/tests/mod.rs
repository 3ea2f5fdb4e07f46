//! Tests of the metrics engine: hand-computed scenarios to the cent, and properties over
//! generated data.

mod api;
mod bench;
mod closed_months;
mod cohorts;
mod collection_and_trials;
mod compare;
mod currencies;
mod customers;
mod discounts;
mod fixtures;
mod forecast;
mod fx_properties;
mod generator;
mod growth;
mod lifecycle;
mod lifecycle_rules;
mod money;
mod movements;
mod pricing;
mod properties;
mod reporting;
mod subscribers;
