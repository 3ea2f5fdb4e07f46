//! The Stripe adapter of the [`Connector`](crate::ports::Connector) port, read-only.
//!
//! A guided tour:
//! * [`client`] (with `errors`): the one HTTP client to Stripe's API — bearer
//!   credential kept secret, the pinned `Stripe-Version`, bounded retries with backoff
//!   on 429/5xx, and errors that carry Stripe's error `type`/`code`/`param` only (never
//!   a message, URL or credential); [`pacing`]: the connected account's read budget;
//! * [`parse`] (with `parse_billing`, `parse_price`, `parse_discounts`, `parse_invoice`,
//!   `parse_payments`): Stripe JSON
//!   into the minimized records of [`crate::domain::billing`]. The private serde
//!   structs name only the fields Tally keeps, so everything else in a response (card
//!   numbers, last4, fingerprints, addresses, metadata...) is never even read;
//! * [`connector`] (with `events`, `references`, `coupons`): listings, re-fetches and the change
//!   feed over `/v1/events`;
//! * [`oauth`]: Stripe Apps OAuth 2.0 (install link, code exchange, rotating refresh,
//!   deauthorize); [`keys`]: restricted-key checks; `webhook`: `Stripe-Signature`
//!   verification.

pub mod client;
pub mod connector;
mod coupons;
mod errors;
mod events;
pub mod keys;
pub mod oauth;
mod oauth_tokens;
pub mod pacing;
pub mod parse;
mod parse_billing;
mod parse_discounts;
mod parse_invoice;
mod parse_payments;
mod parse_price;
mod references;
mod webhook;

#[cfg(test)]
mod parse_lifecycle_tests;
#[cfg(test)]
mod parse_shapes_tests;
#[cfg(test)]
mod parse_tests;

pub use client::{RetryPolicy, StripeClient, StripeError};
pub use connector::StripeConnector;
pub use keys::{KeyKind, check_key, key_kind};
pub use oauth::{OAuthError, OAuthTokens, StripeOAuth};
pub use webhook::{SIGNATURE, WebhookError};

/// The API version every request pins (`Stripe-Version`): the shapes `parse` reads.
pub const STRIPE_API_VERSION: &str = "2026-07-29";
