//! Port conformance suites: every adapter of a port is held to the same behaviour.
//!
//! Each suite (`store`, `keys`, `secrets`, `events`) is a set of cases — plain async
//! functions taking the adapter under test — and a macro that instantiates them for one
//! adapter. One line per adapter, at the bottom of the suite's file:
//!
//! ```ignore
//! store_conformance!(embedded, tally_tests::embedded::store());
//! store_conformance!(dynamodb, tally_tests::aws::store());
//! ```
//!
//! expands to `mod dynamodb { #[tokio::test] async fn <case>() { ... } ... }`, so a
//! test reads `conformance::store::dynamodb::a_conditional_put_is_refused_when_...`.
//! The factory expression is awaited once per test and must yield a fresh, isolated
//! adapter (see `tally_tests::Subject`). Cases use unique partition keys, tenants and
//! secret names, so adapters backed by one shared server need no cleanup between tests.

/// One `#[tokio::test]` per case: awaits `$factory` and passes the fixture, by
/// reference, to the case of the same name in the enclosing suite module.
macro_rules! conformance_cases {
    ($factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $factory.await;
                super::$case(&fixture).await;
            }
        )+
    };
}

mod events;
mod keys;
mod retries;
mod secrets;
mod store;

/// A name no other test uses, for keys and secret names on shared backends.
fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}
