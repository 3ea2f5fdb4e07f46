//! Support for Tally's integration tests (`tests/api`): adapters under test and the
//! means to observe them.
//!
//! A port conformance suite (`tests/api/conformance`) runs the same cases against every
//! adapter of a port. Each adapter module here (`embedded`, later `aws`) offers one
//! factory per port that returns a fresh, isolated adapter as a [`Subject`] — the port
//! plus whatever must stay alive while the test runs (a temporary data directory, a
//! table to drop...). The event bus factories also return an [`EventObserver`], the
//! adapter's own way of showing what was published.

use std::any::Any;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

pub mod counting_store;
pub mod embedded;
pub mod failing_store;
pub mod fake_paddle;
pub mod fake_stripe;
pub mod moto;
pub mod throttling_proxy;

/// An adapter under test and the resources it needs, kept alive together.
pub struct Subject<P: ?Sized> {
    pub port: Arc<P>,
    _keep_alive: Box<dyn Any + Send + Sync>,
}

impl<P: ?Sized> Subject<P> {
    /// `keep_alive` is dropped with the subject: a `TempDir`, a guard, or `()`.
    pub fn new(port: Arc<P>, keep_alive: impl Any + Send + Sync) -> Self {
        Self {
            port,
            _keep_alive: Box::new(keep_alive),
        }
    }
}

impl<P: ?Sized> Deref for Subject<P> {
    type Target = P;

    fn deref(&self) -> &P {
        &self.port
    }
}

/// What an event bus delivered, seen from outside the bus: for the embedded bus its
/// JSON-lines log or a channel subscriber, for EventBridge e.g. a queue a rule feeds.
pub trait EventObserver: Send + Sync {
    /// Every event observed since the observer was made, each in `Event::to_json`'s
    /// form (for EventBridge: the event's `detail`). Cumulative: an observer that
    /// consumes deliveries (a queue) keeps what it has seen and returns it again. It
    /// need not wait for delivery; the suites call it again until a deadline.
    fn published(&self) -> impl Future<Output = Vec<serde_json::Value>> + Send;
}

/// Serves `app` on a free loopback port until the returned sender is dropped (or sent
/// to): the address, and the sender to keep alive as long as the server should run.
pub async fn serve_on_loopback(
    app: axum::Router,
    what: &str,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{what} binds a loopback port: {e}"));
    let address = listener.local_addr().expect("a bound address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    (address, tx)
}
