//! The other downloadable replies of the `query` function as tables
//! (`http::download`): dimensions, segments, the customer list and the payment-failure
//! insight; each DTO's header row and rows, with its money marked as money so it is
//! written in major units next to its currency. The summary and the series are in
//! `summary_table` and `series_table`.
//!
//! Rows follow the JSON reply; what a viewer does not see in JSON is not in its table.
//! A segment withheld from a viewer is its row of 0s with `suppressed` `true`.

use std::borrow::Cow;

use crate::http::download::{Cell, ToCsv};

use super::analytics::{DimensionValues, SegmentList};
use super::customers::{CustomerList, PaymentFailureRiskList};

impl ToCsv for DimensionValues {
    fn header(&self) -> Vec<&'static str> {
        vec!["dimension", "value"]
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        let dimensions = [
            ("country", &self.country),
            ("city", &self.city),
            ("card_brand", &self.card_brand),
            ("card_funding", &self.card_funding),
            ("payment_method", &self.payment_method),
            ("plan", &self.plan),
            ("currency", &self.currency),
            ("integration", &self.integration),
        ];
        dimensions
            .into_iter()
            .flat_map(|(name, values)| {
                values
                    .iter()
                    .flatten()
                    .map(move |value| vec![Cell::text(name), Cell::text(value)])
            })
            .collect()
    }
}

impl ToCsv for SegmentList {
    fn header(&self) -> Vec<&'static str> {
        vec!["segment", "customers", "mrr", "currency", "suppressed"]
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        let currency = self.currency.as_str();
        self.segments
            .iter()
            .map(|s| {
                vec![
                    Cell::text(s.name.as_str()),
                    Cell::opt_whole(i64::try_from(s.customers).ok()),
                    Cell::money(s.mrr, currency),
                    Cell::text(currency),
                    Cell::Bool(s.suppressed),
                ]
            })
            .collect()
    }
}

impl ToCsv for CustomerList {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "id",
            "integration",
            "email",
            "currency",
            "mrr",
            "lifetime_revenue",
            "reporting_mrr",
            "reporting_currency",
            "loyalty_score",
            "segment",
            "payment_failure_risk",
            "churn_risk",
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        self.data
            .iter()
            .map(|c| {
                // A customer without a currency has no MRR or revenue (0) to scale.
                let currency = c.currency.as_deref().unwrap_or_default();
                vec![
                    Cell::text(&c.id),
                    Cell::text(&c.integration),
                    Cell::opt_text(c.email.as_deref()),
                    Cell::opt_text(c.currency.as_deref()),
                    Cell::money(c.mrr, currency),
                    Cell::money(c.lifetime_revenue, currency),
                    Cell::money(c.reporting_mrr.amount, &c.reporting_mrr.currency),
                    Cell::text(&c.reporting_mrr.currency),
                    Cell::opt_text(c.loyalty_score.as_deref()),
                    Cell::opt_text(c.segment.as_deref()),
                    Cell::Bool(c.risk.payment_failure),
                    Cell::Whole(c.risk.churn.into()),
                ]
            })
            .collect()
    }

    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }
}

impl ToCsv for PaymentFailureRiskList {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "customer",
            "subscriptions",
            "renews_at",
            "card_expires_month",
            "card_expires_year",
            "card_expires_at",
            "card_brand",
            "currency",
            "mrr_at_risk",
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        self.data
            .iter()
            .map(|r| {
                vec![
                    Cell::text(&r.customer),
                    // Ids hold no space: one field, the ids separated by spaces.
                    Cell::Text(Cow::Owned(r.subscriptions.join(" "))),
                    Cell::opt_text(r.renews_at.as_deref()),
                    Cell::Whole(r.card_expires.month.into()),
                    Cell::Whole(r.card_expires.year.into()),
                    Cell::opt_text(r.card_expires.expires_at.as_deref()),
                    Cell::opt_text(r.card_brand.as_deref()),
                    Cell::text(&r.currency),
                    Cell::money(r.mrr_at_risk, &r.currency),
                ]
            })
            .collect()
    }

    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }
}
