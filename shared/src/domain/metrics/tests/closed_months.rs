//! Property: what a sync shows for a closed month never changes when later syncs see
//! more of the account — renewals, changes inside a period (billed at once with
//! proration lines), changes from a renewal, cancellations and pauses. Each generated
//! account is a story of billing events; a sync at time `t` reads the invoices created
//! by then and each subscription as it stood then.

use chrono::{DateTime, Datelike, Months};

use crate::domain::billing::{Interval, PriceTerms, SubscriptionStatus};
use crate::domain::metrics::{day_of_date, mrr_series};

use super::fixtures::*;
use super::generator::Rng;

const DAY: i64 = 86_400;
const SEEDS: u64 = 60;

fn plus_months(at: i64, months: u32) -> i64 {
    let date = DateTime::from_timestamp(at, 0)
        .map(|t| t.date_naive())
        .and_then(|d| d.checked_add_months(Months::new(months)))
        .expect("a date in range");
    i64::from(day_of_date(date)) * DAY
}

#[derive(Clone)]
struct Terms {
    price: PriceTerms,
    quantity: u64,
}

impl Terms {
    fn period_end(&self, start: i64) -> i64 {
        let months = if self.price.interval == Some(Interval::Year) {
            12
        } else {
            1
        };
        plus_months(start, months)
    }
}

/// A change requested at `at`: billed at once with prorations, or from the renewal.
struct Change {
    at: i64,
    terms: Terms,
    prorated: bool,
}

struct Story {
    id: String,
    start: i64,
    first: Terms,
    changes: Vec<Change>,
    /// Canceled at once, or paused (nothing billed after), at this time.
    end: Option<(i64, SubscriptionStatus)>,
}

fn random_terms(rng: &mut Rng, annual: bool) -> Terms {
    let price = if annual {
        price(
            "annual",
            12_000 * (1 + rng.below(3) as i64),
            Interval::Year,
            1,
        )
    } else if rng.chance(50) {
        monthly_price("basic", 1_000)
    } else {
        monthly_price("pro", 2_500)
    };
    Terms {
        price,
        quantity: 1 + rng.below(4),
    }
}

fn story(rng: &mut Rng, id: String) -> Story {
    let start = ts(2023, 1, 1 + rng.below(28) as u32) + rng.below(200) as i64 * DAY;
    let annual = rng.chance(30);
    let mut changes = Vec::new();
    let mut at = start;
    for _ in 0..rng.below(4) {
        at += (5 + rng.below(150) as i64) * DAY + rng.below(DAY as u64) as i64;
        changes.push(Change {
            at,
            terms: random_terms(rng, annual),
            prorated: rng.chance(60),
        });
    }
    let end = rng.chance(40).then(|| {
        let when = start + (30 + rng.below(700) as i64) * DAY;
        let status = if rng.chance(50) {
            SubscriptionStatus::Canceled
        } else {
            SubscriptionStatus::Paused
        };
        (when, status)
    });
    Story {
        id,
        start,
        first: random_terms(rng, annual),
        changes,
        end,
    }
}

impl Story {
    /// The terms in force after every change requested before `at`.
    fn terms_before(&self, at: i64) -> &Terms {
        self.changes
            .iter()
            .rfind(|change| change.at < at)
            .map(|change| &change.terms)
            .unwrap_or(&self.first)
    }

    /// The records a sync at `now` reads.
    fn records(&self, now: i64, data: &mut Dataset) {
        let customer_id = format!("cus_{}", self.id);
        data.customers.push(customer(&customer_id, Some("US")));
        let ended = self.end.filter(|(at, _)| *at <= now);
        let stop = ended.map_or(now, |(at, _)| at);
        let mut period = (self.start, self.first.period_end(self.start));
        let mut current_period = period;
        while period.0 <= stop {
            let billed = self.terms_before(period.0 + 1).clone();
            let end = billed.period_end(period.0);
            period.1 = end;
            current_period = period;
            let lines = vec![line(
                &self.id,
                "si",
                &billed.price,
                billed.quantity,
                period.0,
                end,
            )];
            data.invoices.push(invoice(&self.id, "paid", lines));
            for change in self.changes.iter().filter(|c| c.prorated) {
                if change.at <= period.0 || change.at >= end || change.at > stop {
                    continue;
                }
                let old = self.terms_before(change.at);
                let mut credit = line(&self.id, "si", &old.price, old.quantity, change.at, end);
                credit.amount = -credit.amount.max(1);
                credit.proration = true;
                let new = &change.terms;
                let mut charge = line(&self.id, "si", &new.price, new.quantity, change.at, end);
                charge.proration = true;
                data.invoices
                    .push(invoice(&self.id, "paid", vec![credit, charge]));
            }
            period = (end, end);
        }
        let now_terms = self.terms_before(stop + 1);
        let mut current = item("si", now_terms.price.clone(), now_terms.quantity);
        current.current_period_start = Some(current_period.0);
        current.current_period_end = Some(current_period.1);
        let status = ended.map_or(SubscriptionStatus::Active, |(_, status)| status);
        let mut sub = subscription(&self.id, &customer_id, status, self.start, vec![current]);
        if status == SubscriptionStatus::Canceled {
            sub.canceled_at = Some(stop);
            sub.ended_at = Some(stop);
        }
        data.subscriptions.push(sub);
    }
}

fn sync(stories: &[Story], now: i64) -> Dataset {
    let mut data = Dataset::default();
    for story in stories {
        story.records(now, &mut data);
    }
    data
}

/// The "closed months are stable": every month that had ended at the first
/// sync shows the same MRR, movements and counts at a later one.
#[test]
fn closed_months_are_unchanged_by_later_syncs() {
    let mut compared = 0;
    for seed in 0..SEEDS {
        let mut rng = Rng::new(seed);
        let stories: Vec<Story> = (0..3 + rng.below(6))
            .map(|k| story(&mut rng, format!("sub_{seed}_{k}")))
            .collect();
        let first = ts(2023, 6, 1) + rng.below(400) as i64 * DAY + rng.below(DAY as u64) as i64;
        let later = first + (20 + rng.below(400) as i64) * DAY;
        let first_date = DateTime::from_timestamp(first, 0).unwrap().date_naive();
        let last_closed = first_date.with_day0(0).unwrap().pred_opt().unwrap();
        let range = monthly_usd(date(2023, 1, 1), last_closed);
        let before = mrr_series(&sync(&stories, first).facts(), &range).unwrap();
        let after = mrr_series(&sync(&stories, later).facts(), &range).unwrap();
        for (k, (b, a)) in before.points.iter().zip(&after.points).enumerate() {
            assert_eq!(minor(b), minor(a), "seed {seed}, month {k}");
            assert_eq!(
                (b.customers, b.new_customers, b.churned_customers),
                (a.customers, a.new_customers, a.churned_customers),
                "seed {seed}, month {k}"
            );
            compared += usize::from(b.mrr.to_minor() != 0);
        }
    }
    assert!(compared > 100, "months with MRR compared: {compared}");
}
