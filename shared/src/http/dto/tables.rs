//! The downloadable replies as tables (`http::download`): each DTO's header row and
//! rows, with its money marked as money so it is written in major units next to its
//! currency.
//!
//! Rows follow the JSON reply; what a viewer does not see in JSON is not in its table.
//! Where JSON flags withheld figures (`"suppressed": true`), the table has a
//! `suppressed` column: a suppressed series is one row with no figure, a suppressed
//! group one row with its key and no figure, a suppressed segment its row with 0s.
//!
//! A metric series has one row per period: with `group_by`, the whole series' rows
//! (empty `group`) then one row per (group, period). A row without a period is a
//! currency left unconverted (the JSON `unconverted`), its own amount in `value`
//! (MRR at the end of the range, or the events' amount): never dropped silently.

use std::borrow::Cow;

use crate::domain::metrics::Metric;
use crate::http::download::{Cell, ToCsv};

use super::analytics::{DimensionValues, SegmentList};
use super::customers::{CustomerList, PaymentFailureRiskList};
use super::metrics::{MetricPoint, MetricSeries, MetricsSummary, PointValue};

impl ToCsv for MetricsSummary {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "as_of",
            "currency",
            "mrr",
            "arr",
            "customers",
            "arpu",
            "ltv",
            "customer_churn_rate",
            "revenue_churn_rate",
            "nrr",
            "rates_from",
            "rates_to",
            "data_as_of",
            "suppressed",
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        let currency = self.currency.as_str();
        let mut rows = vec![vec![
            Cell::Date(self.as_of),
            Cell::text(currency),
            Cell::money(self.mrr, currency),
            Cell::money(self.arr, currency),
            Cell::Whole(self.customers),
            Cell::money(self.arpu, currency),
            Cell::money(self.ltv, currency),
            Cell::Ratio(self.customer_churn_rate),
            Cell::Ratio(self.revenue_churn_rate),
            Cell::Ratio(self.nrr),
            Cell::Date(self.rates_from),
            Cell::Date(self.rates_to),
            Cell::Time(self.data_as_of),
            Cell::Bool(self.suppressed),
        ]];
        for u in &self.unconverted {
            let mut row = vec![Cell::Date(self.as_of), Cell::text(&u.currency)];
            row.push(Cell::opt_money(u.mrr, &u.currency));
            row.extend((0..9).map(|_| Cell::Empty));
            row.extend([Cell::Time(self.data_as_of), Cell::Bool(false)]);
            rows.push(row);
        }
        rows
    }
}

/// The columns a metric's points carry besides `value` (docs/api.md).
fn extra_columns(metric: Metric) -> &'static [&'static str] {
    match metric {
        Metric::MrrMovements => &[
            "start_mrr",
            "mrr",
            "new",
            "expansion",
            "contraction",
            "churn",
            "reactivation",
            "plan_switch",
            "net",
        ],
        Metric::Refunds | Metric::FailedPayments => &["count", "amount"],
        Metric::TrialConversion => &["count", "converted"],
        _ => &[],
    }
}

fn value_cell<'a>(value: &PointValue, currency: &'a str) -> Cell<'a> {
    match value {
        PointValue::Money(minor) => Cell::money(*minor, currency),
        PointValue::Count(n) => Cell::Whole(*n),
        PointValue::Ratio(r) => Cell::Ratio(*r),
    }
}

fn extra_cells<'a>(metric: Metric, p: &MetricPoint, currency: &'a str) -> Vec<Cell<'a>> {
    let money = |v: Option<i64>| Cell::opt_money(v, currency);
    let count = |v: Option<u64>| Cell::opt_whole(v.and_then(|v| i64::try_from(v).ok()));
    match metric {
        Metric::MrrMovements => vec![
            money(p.start_mrr),
            money(p.mrr),
            money(p.new),
            money(p.expansion),
            money(p.contraction),
            money(p.churn),
            money(p.reactivation),
            money(p.plan_switch),
            money(p.net),
        ],
        Metric::Refunds | Metric::FailedPayments => vec![count(p.count), money(p.amount)],
        Metric::TrialConversion => vec![count(p.count), count(p.converted)],
        _ => vec![],
    }
}

impl MetricSeries {
    /// A row of no figure: `group`, its currency and the `suppressed` flag.
    fn withheld<'a>(&'a self, group: Option<&'a str>) -> Vec<Cell<'a>> {
        let mut row: Vec<Cell<'a>> = group.map(Cell::text).into_iter().collect();
        row.extend([
            Cell::Empty,
            Cell::Empty,
            Cell::text(&self.currency),
            Cell::Empty,
        ]);
        row.extend(extra_columns(self.metric).iter().map(|_| Cell::Empty));
        row.push(Cell::Bool(true));
        row
    }

    fn point_row<'a>(&'a self, group: Option<&'a str>, p: &'a MetricPoint) -> Vec<Cell<'a>> {
        let currency = self.currency.as_str();
        let mut row: Vec<Cell<'a>> = group.map(Cell::text).into_iter().collect();
        row.extend([
            Cell::Date(p.period_start),
            Cell::Date(p.period_end),
            Cell::text(currency),
            value_cell(&p.value, currency),
        ]);
        row.extend(extra_cells(self.metric, p, currency));
        row.push(Cell::Bool(false));
        row
    }
}

impl ToCsv for MetricSeries {
    fn header(&self) -> Vec<&'static str> {
        let mut header = Vec::new();
        if self.groups.is_some() {
            header.push("group");
        }
        header.extend(["period_start", "period_end", "currency", "value"]);
        header.extend(extra_columns(self.metric));
        header.push("suppressed");
        header
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        let grouped = self.groups.is_some();
        let whole = grouped.then_some("");
        let mut rows = Vec::new();
        if self.suppressed {
            rows.push(self.withheld(whole));
        }
        rows.extend(self.series.iter().map(|p| self.point_row(whole, p)));
        for group in self.groups.iter().flatten() {
            let key = Some(group.key.as_str());
            if group.suppressed {
                rows.push(self.withheld(key));
            }
            rows.extend(group.series.iter().map(|p| self.point_row(key, p)));
        }
        for u in &self.unconverted {
            let mut row: Vec<Cell<'_>> = whole.map(Cell::text).into_iter().collect();
            row.extend([
                Cell::Empty,
                Cell::Empty,
                Cell::text(&u.currency),
                Cell::opt_money(u.mrr.or(u.amount), &u.currency),
            ]);
            row.extend(extra_columns(self.metric).iter().map(|_| Cell::Empty));
            row.push(Cell::Bool(false));
            rows.push(row);
        }
        rows
    }
}

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
