//! The demo connector (provider `demo`): a deterministic, realistic billing history of
//! a small SaaS business, generated from a seed, for local use, demos, the metrics
//! tests and the benchmarks.
//!
//! # What the dataset holds
//! Customers sign up over the whole window (more towards its end), in a dozen
//! countries with consistent cities, currencies (mostly eur and usd, some gbp) and VAT.
//! They start on the free plan, on a 14-day trial, or paid straight away, on Starter,
//! Growth (per seat) or Scale (per seat, sometimes with a metered API add-on), billed
//! monthly, annually, and rarely weekly or quarterly. Along the way they upgrade,
//! downgrade, add or remove seats, move from a grandfathered price to the current one,
//! cancel (now or at period end), come back months later, fail payments (declines,
//! expired cards) that dunning recovers or not (`past_due`, `unpaid`, canceled),
//! get refunds (full and partial) and use coupons (forever, once, repeating).
//!
//! # How the past is told
//! A subscription record is the processor's *current* state: its items, status and
//! current period. What it was before (the plan before an upgrade, the seats before a
//! downgrade, the old price) survives only in the **invoices**: one per billing period
//! with a line per item (price terms, quantity, amount after discount, line period),
//! plus a `subscription_update` invoice with a `proration` line when a change happens
//! mid-period. The metrics engine rebuilds MRR history from those lines, exactly as it
//! must for a real Stripe account, so the demo exercises the same path.
//!
//! Choices worth knowing:
//! * A trial opens with a 0-amount invoice (as Stripe does) whose line covers the trial;
//!   no charge is made for it. A free plan also gets a 0-amount invoice per period.
//! * A mid-period upgrade is billed as one net proration line (the new terms for the
//!   remaining time minus the old terms' unused time), so no line is negative; Stripe
//!   would show a negative credit line and a positive one. Downgrades take effect at
//!   a renewal, as most merchants configure them.
//! * Metered usage is billed in arrears on the next period's invoice; no final usage
//!   invoice is made when a subscription ends.
//! * VAT (EU countries and GB) is the invoice's `tax`, never inside line amounts.
//! * Subscriptions keep their spent `once`/`repeating` discounts (with start and end),
//!   where Stripe would detach them: the coupon's duration says they no longer apply.
//! * An `unpaid` subscription gets no further invoices until the merchant cancels it
//!   (Stripe would leave draft invoices).
//! * A card updater refreshes some expiring cards in place (same payment method, new
//!   expiry); otherwise customers add a new card, often only after a failed charge.

mod calendar;
mod catalogue;
mod changes;
mod collection;
mod connector;
mod dice;
mod endings;
mod generate;
mod invoices;
mod lifecycle;
mod wallet;

#[cfg(test)]
mod tests;

pub use connector::DemoConnector;

pub use generate::generate;

use crate::domain::metrics::RecordSet;

/// 2026-01-15T00:00:00Z: a fixed "now", so the default dataset never changes.
pub const DEFAULT_END: i64 = 1_768_435_200;

/// What to generate. Everything else follows from the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoParams {
    pub seed: u64,
    /// How many customers sign up over the window.
    pub customers: usize,
    /// The window's length in months, ending at `end`.
    pub months: u32,
    /// The dataset's "now" (Unix seconds): nothing happens after it.
    pub end: i64,
    /// How many times as likely as a typical SaaS merchant's customers to change plan
    /// or seats at a renewal (1: about twice in five years): a bench raises it to give
    /// a tenant of 100,000 customers its 1,000,000 MRR changes.
    pub change_factor: u32,
    /// Whose ids the records carry: a demo tenant can show a second, Paddle-shaped
    /// source beside the Stripe-shaped one.
    pub shape: DemoShape,
}

/// The processor a demo dataset's ids imitate. Only the ids differ (Stripe's `cus_`,
/// `sub_`, `in_`…, Paddle's `ctm_`, `sub_`, `txn_`…): both connectors hand over the same
/// minimized records, so the dataset is the same kind of business either way.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum DemoShape {
    #[default]
    Stripe,
    Paddle,
}

impl Default for DemoParams {
    fn default() -> Self {
        DemoParams {
            seed: 42,
            customers: 2_000,
            months: 24,
            end: DEFAULT_END,
            change_factor: 1,
            shape: DemoShape::Stripe,
        }
    }
}

/// The generated records, each kind sorted by id (ids grow with creation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoDataset {
    /// The records, grouped by kind as everywhere else ([`RecordSet`]); the dataset
    /// reads as them (`dataset.customers`, `dataset.for_integration(..)`).
    pub records: RecordSet,
    /// What the generator made happen, counted as it went: for reports and sanity
    /// checks. The metrics engine derives its own movements from the records.
    pub events: DemoEvents,
}

impl std::ops::Deref for DemoDataset {
    type Target = RecordSet;
    fn deref(&self) -> &RecordSet {
        &self.records
    }
}

impl std::ops::DerefMut for DemoDataset {
    fn deref_mut(&mut self) -> &mut RecordSet {
        &mut self.records
    }
}

/// Counts of the scripted events (not part of what the connector lists).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoEvents {
    pub customers_never_subscribed: usize,
    pub free_signups: usize,
    pub free_to_paid: usize,
    pub trials_started: usize,
    pub trials_converted: usize,
    pub trials_expired: usize,
    /// Customers whose first paid invoice was collected.
    pub new_paying_customers: usize,
    /// A paid subscription collected after an earlier one had ended.
    pub reactivations: usize,
    pub upgrades_at_renewal: usize,
    pub upgrades_mid_period: usize,
    pub downgrades: usize,
    /// Grandfathered subscriptions moved to the current, higher price.
    pub price_increases: usize,
    pub cancellations_at_period_end: usize,
    pub cancellations_immediate: usize,
    /// Canceled by the merchant after dunning failed.
    pub involuntary_churn: usize,
    pub became_unpaid: usize,
    pub incomplete_expired: usize,
    pub failed_charges: usize,
    /// Invoices paid after at least one failed attempt.
    pub recovered_invoices: usize,
    pub cards_updated_in_place: usize,
    pub cards_replaced_by_customer: usize,
    pub full_refunds: usize,
    pub partial_refunds: usize,
    pub subscriptions_with_coupon: usize,
}
