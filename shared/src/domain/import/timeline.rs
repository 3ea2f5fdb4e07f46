//! A subscription's imported event log as the records the engine reads, following
//! ChartMogul's subscription-event model (start, change, cancel, reactivate → MRR
//! movements: new business, expansion or contraction, churn, reactivation).
//!
//! The log, ordered by time, falls into runs: a run opens at a `start` (the first
//! event) or a `reactivate` after a `cancel`, and closes at a `cancel`. Each run is one
//! subscription record, `<subscription>` then `<subscription>_r2`, `_r3`..., so a
//! reactivation is a new subscription of a returning customer, as it is for Stripe.
//! Inside a run, each event that sets a plan opens a segment until the next event: a
//! closed segment is what a paid invoice line says for a Stripe subscription (price
//! terms × quantity for `[event, next event)`, [`crate::domain::metrics`]'s history),
//! the open one is the record's current item, and a `cancel` sets `canceled_at`,
//! `ended_at` and the `canceled` status. The engine then finds the movements itself,
//! from the same timeline it builds for Stripe's data.

use crate::domain::billing::{
    BillingRecord, InvoiceLineRecord, InvoiceRecord, PriceTerms, SubscriptionItemRecord,
    SubscriptionRecord, SubscriptionStatus, UsageType,
};

use super::{EventType, PlanRow, record_id};

/// One stored event: its plan's terms as they were when it was imported (a plan
/// re-posted later does not rewrite the history already billed on it).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoggedEvent {
    pub external_id: String,
    pub kind: EventType,
    pub at: i64,
    pub plan: Option<PlanRow>,
    pub quantity: Option<u64>,
}

/// A subscription's event log, as stored (sealed) per custom integration.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubscriptionLog {
    pub subscription: String,
    pub customer: String,
    pub events: Vec<LoggedEvent>,
}

/// An event that does not fit the log's sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceError {
    /// The external id of the first event out of sequence.
    pub event: String,
    pub message: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    Active,
    Canceled,
}

/// The events in the order they happened (at the same second: a start before a change
/// before a cancel).
fn ordered(events: &[LoggedEvent]) -> Vec<&LoggedEvent> {
    let mut sorted: Vec<&LoggedEvent> = events.iter().collect();
    sorted.sort_by(|a, b| (a.at, a.kind, &a.external_id).cmp(&(b.at, b.kind, &b.external_id)));
    sorted
}

/// The log's runs, checked: each starts with a start or a reactivation, holds changes,
/// and may end with a cancel; one currency per run.
fn runs(log: &SubscriptionLog) -> Result<Vec<Vec<&LoggedEvent>>, SequenceError> {
    let mut runs: Vec<Vec<&LoggedEvent>> = Vec::new();
    let mut state = State::NotStarted;
    for event in ordered(&log.events) {
        let fail = |message| {
            Err(SequenceError {
                event: event.external_id.clone(),
                message,
            })
        };
        match (event.kind, state) {
            (EventType::Start, State::NotStarted) | (EventType::Reactivate, State::Canceled) => {
                runs.push(vec![event]);
                state = State::Active;
            }
            (EventType::Start, _) => {
                return fail(
                    "A subscription starts once, as its first event: after a cancel, use reactivate.",
                );
            }
            (EventType::Reactivate, _) => {
                return fail("Only a canceled subscription can be reactivated.");
            }
            (EventType::Change | EventType::Cancel, State::Active) => {
                let run = runs.last_mut().ok_or(SequenceError {
                    event: event.external_id.clone(),
                    message: "A change or cancel needs an active subscription.",
                })?;
                let currency = |e: &LoggedEvent| e.plan.as_ref().map(|p| p.currency.clone());
                if event.kind == EventType::Change
                    && run.first().and_then(|first| currency(first)) != currency(event)
                {
                    return fail("A subscription keeps one currency: its plans must share it.");
                }
                run.push(event);
                if event.kind == EventType::Cancel {
                    state = State::Canceled;
                }
            }
            (EventType::Change | EventType::Cancel, _) => {
                return fail(
                    "A change or cancel needs an active subscription (started, not canceled).",
                );
            }
        }
    }
    Ok(runs)
}

/// Whether the log's events form a valid sequence.
pub fn check_sequence(log: &SubscriptionLog) -> Result<(), SequenceError> {
    runs(log).map(|_| ())
}

/// The records of a subscription's log: per run a subscription and an invoice per
/// closed segment (see the module's notes).
pub fn subscription_records(log: &SubscriptionLog) -> Result<Vec<BillingRecord>, SequenceError> {
    let base = record_id(&log.subscription);
    let customer = record_id(&log.customer);
    let mut records = Vec::new();
    for (index, run) in runs(log)?.into_iter().enumerate() {
        let id = match index {
            0 => base.clone(),
            n => format!("{base}_r{}", n + 1),
        };
        let item = format!("{id}_item");
        let mut current: Option<(PriceTerms, u64, i64)> = None;
        for (n, event) in run.iter().enumerate() {
            let (Some(plan), Some(quantity)) = (event.plan.as_ref(), event.quantity) else {
                continue;
            };
            let price = price_terms(plan);
            let next = run.get(n + 1).map(|e| e.at);
            match next {
                Some(to) if to > event.at => {
                    let amount = plan
                        .amount
                        .saturating_mul(i64::try_from(quantity).unwrap_or(i64::MAX));
                    records.push(BillingRecord::Invoice(InvoiceRecord {
                        id: format!("{id}_p{}", n + 1),
                        customer: Some(customer.clone()),
                        subscription: Some(id.clone()),
                        status: Some("paid".to_owned()),
                        currency: plan.currency.clone(),
                        amount_due: amount,
                        amount_paid: amount,
                        total: amount,
                        tax: 0,
                        created: event.at,
                        period_start: Some(event.at),
                        period_end: Some(to),
                        paid_at: Some(event.at),
                        billing_reason: Some("subscription_cycle".to_owned()),
                        lines: vec![InvoiceLineRecord {
                            id: format!("{id}_p{}_l", n + 1),
                            subscription: Some(id.clone()),
                            subscription_item: Some(item.clone()),
                            price: Some(price.clone()),
                            quantity: Some(quantity),
                            amount,
                            currency: plan.currency.clone(),
                            period_start: Some(event.at),
                            period_end: Some(to),
                            proration: false,
                        }],
                    }));
                }
                _ => {}
            }
            current = Some((price, quantity, event.at));
        }
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            continue;
        };
        let Some((price, quantity, since)) = current else {
            continue;
        };
        let ended = (last.kind == EventType::Cancel).then_some(last.at);
        records.push(BillingRecord::Subscription(SubscriptionRecord {
            id: id.clone(),
            customer: customer.clone(),
            status: match ended {
                Some(_) => SubscriptionStatus::Canceled,
                None => SubscriptionStatus::Active,
            },
            created: first.at,
            start_date: Some(first.at),
            currency: price.currency.clone(),
            items: vec![SubscriptionItemRecord {
                id: item,
                price,
                quantity,
                current_period_start: Some(since),
                current_period_end: None,
                discounts: Vec::new(),
            }],
            discounts: Vec::new(),
            trial_start: None,
            trial_end: None,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: ended,
            ended_at: ended,
            default_payment_method: None,
            pause_collection: None,
            paused_at: None,
        }));
    }
    Ok(records)
}

/// A plan's terms as a Stripe-shaped recurring, licensed, per-unit price.
fn price_terms(plan: &PlanRow) -> PriceTerms {
    PriceTerms {
        id: record_id(&plan.external_id),
        product: None,
        nickname: Some(plan.name.clone()),
        currency: plan.currency.clone(),
        unit_amount: Some(plan.amount),
        interval: Some(plan.interval),
        interval_count: plan.interval_count,
        usage_type: UsageType::Licensed,
        unit_amount_micros: None,
        transform_quantity: None,
        tiers_mode: None,
        tiers: Vec::new(),
    }
}
