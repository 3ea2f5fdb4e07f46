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

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::metrics::Metric;
use crate::http::download::{Cell, ToCsv};

use super::analytics::{DimensionValues, SegmentList};
use super::customers::{CustomerList, PaymentFailureRiskList};
use super::metrics::{
    FigureChange, MetricPoint, MetricSeries, MetricsSummary, PointValue, SummaryComparison,
};

/// The summary's figures, in column order.
const SUMMARY_FIGURES: [&str; 10] = [
    "mrr",
    "arr",
    "customers",
    "arpu",
    "ltv",
    "customer_churn_rate",
    "revenue_churn_rate",
    "nrr",
    "quick_ratio",
    "net_mrr_churn_rate",
];

impl MetricsSummary {
    /// The current figures, as cells.
    fn figures(&self) -> Vec<Cell<'_>> {
        let currency = self.currency.as_str();
        vec![
            Cell::money(self.mrr, currency),
            Cell::money(self.arr, currency),
            Cell::Whole(self.customers),
            Cell::money(self.arpu, currency),
            Cell::money(self.ltv, currency),
            Cell::Ratio(self.customer_churn_rate),
            Cell::Ratio(self.revenue_churn_rate),
            Cell::Ratio(self.nrr),
            Cell::Ratio(self.quick_ratio),
            Cell::Ratio(self.net_mrr_churn_rate),
        ]
    }

    /// One of a comparison's figure sets (the earlier value, the change, or the
    /// relative change), as cells in the figures' order.
    fn compared_figures<'a>(
        &'a self,
        c: &'a SummaryComparison,
        pick: impl Fn(&'a FigureChange) -> Cell<'a>,
    ) -> Vec<Cell<'a>> {
        [
            &c.mrr,
            &c.arr,
            &c.customers,
            &c.arpu,
            &c.ltv,
            &c.customer_churn_rate,
            &c.revenue_churn_rate,
            &c.nrr,
            &c.quick_ratio,
            &c.net_mrr_churn_rate,
        ]
        .into_iter()
        .map(pick)
        .collect()
    }
}

/// One row of the summary's table.
struct SummaryRow<'a> {
    kind: Option<&'static str>,
    as_of: NaiveDate,
    currency: &'a str,
    figures: Vec<Cell<'a>>,
    rates: Option<(NaiveDate, NaiveDate)>,
    suppressed: bool,
}

impl<'a> SummaryRow<'a> {
    fn cells(self, data_as_of: DateTime<Utc>) -> Vec<Cell<'a>> {
        let mut row: Vec<Cell<'a>> = self.kind.map(Cell::text).into_iter().collect();
        row.extend([Cell::Date(self.as_of), Cell::text(self.currency)]);
        row.extend(self.figures);
        match self.rates {
            Some((from, to)) => row.extend([Cell::Date(from), Cell::Date(to)]),
            None => row.extend([Cell::Empty, Cell::Empty]),
        }
        row.extend([Cell::Time(data_as_of), Cell::Bool(self.suppressed)]);
        row
    }
}

/// With `compare=`, the summary's table has a first column `row`: `current` (the
/// figures as of `as_of`), `compared` (as of the compared day, with its own `as_of`
/// and rates' month), `change` (current − compared) and `relative_change` (a ratio for
/// every figure). Without it, one row of the figures.
impl ToCsv for MetricsSummary {
    fn header(&self) -> Vec<&'static str> {
        let mut header = Vec::new();
        if self.comparison.is_some() {
            header.push("row");
        }
        header.extend(["as_of", "currency"]);
        header.extend(SUMMARY_FIGURES);
        header.extend(["rates_from", "rates_to", "data_as_of", "suppressed"]);
        header
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        let currency = self.currency.as_str();
        let compared = self.comparison.as_ref();
        let kind = |name: &'static str| compared.map(|_| name);
        let row = |kind, as_of, currency, figures, rates, suppressed| {
            SummaryRow {
                kind,
                as_of,
                currency,
                figures,
                rates,
                suppressed,
            }
            .cells(self.data_as_of)
        };
        let rates = Some((self.rates_from, self.rates_to));
        let mut rows = vec![row(
            kind("current"),
            self.as_of,
            currency,
            self.figures(),
            rates,
            self.suppressed,
        )];
        if let Some(c) = compared {
            let earlier = self.compared_figures(c, |f| value_cell(&f.value, currency));
            let change = self.compared_figures(c, |f| value_cell(&f.change, currency));
            let relative = self.compared_figures(c, |f| Cell::Ratio(f.relative_change));
            let earlier_rates = Some((c.rates_from, c.rates_to));
            rows.push(row(
                kind("compared"),
                c.as_of,
                currency,
                earlier,
                earlier_rates,
                false,
            ));
            rows.push(row(
                kind("change"),
                self.as_of,
                currency,
                change,
                None,
                false,
            ));
            rows.push(row(
                kind("relative_change"),
                self.as_of,
                currency,
                relative,
                None,
                false,
            ));
        }
        for u in &self.unconverted {
            let mut figures = vec![Cell::opt_money(u.mrr, &u.currency)];
            figures.extend((1..10).map(|_| Cell::Empty));
            rows.push(row(
                kind("current"),
                self.as_of,
                &u.currency,
                figures,
                None,
                false,
            ));
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
        Metric::CustomerMovements => &[
            "start_customers",
            "customers",
            "new",
            "expansion",
            "contraction",
            "churn",
            "reactivation",
            "net",
        ],
        Metric::Refunds | Metric::FailedPayments => &["count", "amount"],
        Metric::TrialConversion => &["count", "converted"],
        _ => &[],
    }
}

/// With `compare=`, each point's counterpart and the change (`ComparedPoint`).
const COMPARED_COLUMNS: [&str; 5] = [
    "compared_period_start",
    "compared_period_end",
    "compared_value",
    "change",
    "relative_change",
];

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
        Metric::CustomerMovements => [
            p.start_customers,
            p.customers,
            p.new,
            p.expansion,
            p.contraction,
            p.churn,
            p.reactivation,
            p.net,
        ]
        .into_iter()
        .map(Cell::opt_whole)
        .collect(),
        Metric::Refunds | Metric::FailedPayments => vec![count(p.count), money(p.amount)],
        Metric::TrialConversion => vec![count(p.count), count(p.converted)],
        _ => vec![],
    }
}

fn compared_cells<'a>(p: &MetricPoint, currency: &'a str) -> Vec<Cell<'a>> {
    match &p.compared {
        Some(c) => vec![
            Cell::Date(c.period_start),
            Cell::Date(c.period_end),
            value_cell(&c.value, currency),
            value_cell(&c.change, currency),
            Cell::Ratio(c.relative_change),
        ],
        None => COMPARED_COLUMNS.iter().map(|_| Cell::Empty).collect(),
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
        row.extend(self.blank_columns());
        row.push(Cell::Bool(true));
        row
    }

    /// Empty cells for the columns after `value` (a row with no point).
    fn blank_columns(&self) -> impl Iterator<Item = Cell<'_>> {
        let compared = if self.comparison.is_some() {
            COMPARED_COLUMNS.len()
        } else {
            0
        };
        (0..extra_columns(self.metric).len() + compared).map(|_| Cell::Empty)
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
        if self.comparison.is_some() {
            row.extend(compared_cells(p, currency));
        }
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
        if self.comparison.is_some() {
            header.extend(COMPARED_COLUMNS);
        }
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
            row.extend(self.blank_columns());
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
