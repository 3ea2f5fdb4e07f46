//! The Paddle Billing adapter of the [`Connector`](crate::ports::Connector) port,
//! read-only, built like the Stripe adapter:
//! * [`client`]: the one HTTP client to Paddle's API — bearer API key kept secret, the
//!   live or sandbox API by the key's prefix, bounded retries honouring `Retry-After`,
//!   errors that carry Paddle's error `type`/`code` only; [`keys`]: key checks;
//! * [`parse`]: Paddle JSON into the minimized records of [`crate::domain::billing`]
//!   (the same records Stripe's adapter produces);
//! * [`connector`] (with `events`): listings with Paddle's cursor pagination,
//!   re-reads, and the change feed over `/events`;
//! * [`webhook`]: `Paddle-Signature` verification.

pub mod client;
pub mod connector;
mod events;
pub mod keys;
pub mod parse;
pub mod webhook;

#[cfg(test)]
mod parse_tests;

pub use client::{PaddleClient, PaddleError};
pub use connector::PaddleConnector;
pub use keys::{KeyEnvironment, check_key, key_environment};
pub use webhook::{SIGNATURE, WebhookError};
