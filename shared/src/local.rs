//! The local server: every function's router on one `axum::serve`, on the embedded
//! adapters, in one data directory. `Application::build` binds the port (0 for a free
//! one) so tests spawn isolated apps and speak HTTP to them (tests/api/helpers.rs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::adapters::embedded::{self, EmbeddedError, LocalEventBus};
use crate::config::Config;
use crate::http;
use crate::ports::Clock;
use crate::services::Services;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("cannot prepare the data directory: {0}")]
    Prepare(crate::services::ServiceError),
}

/// The product, running on a laptop.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pub services: Arc<Services>,
    pub events: Arc<LocalEventBus>,
    pub data_dir: PathBuf,
}

/// The embedded adapters of a data directory and the services on them.
pub struct LocalServices {
    pub services: Arc<Services>,
    pub events: Arc<LocalEventBus>,
}

/// Opens (creating if new: keys, lookup pepper and all) the data directory and builds
/// the services.
pub async fn open_services(
    config: Config,
    data_dir: &Path,
    clock: Arc<dyn Clock>,
) -> Result<LocalServices, LocalError> {
    let opened = embedded::open(data_dir, &config.table, clock)?;
    let services = Services::new(opened.adapters, config);
    services
        .ensure_lookup_pepper()
        .await
        .map_err(LocalError::Prepare)?;
    Ok(LocalServices {
        services,
        events: opened.events,
    })
}

impl Application {
    pub async fn build(
        config: Config,
        data_dir: &Path,
        addr: SocketAddr,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LocalError> {
        let local = open_services(config, data_dir, clock).await?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| LocalError::Bind { addr, source })?;
        let router = http::local_app(local.services.clone());
        Ok(Self {
            listener,
            router,
            services: local.services,
            events: local.events,
            data_dir: data_dir.to_owned(),
        })
    }

    /// The address actually bound (the port is chosen by the OS when asked for 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` resolves. The socket peer becomes the client address.
    pub async fn serve_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), LocalError> {
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(LocalError::Serve)
    }
}
