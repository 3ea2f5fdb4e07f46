//! One metric's series as a table (`http::download`): one row per period, the point's
//! money in major units of the reply's `currency`, counts as integers, ratios as
//! decimals; the columns a metric's points carry besides `value` follow it.
//!
//! `plan_flows` has one row per (period, flow), its `value` (the period's sum of
//! flows) repeated on each.
//!
//! With `group_by`, a first column `group`: the whole series' rows (empty `group`),
//! then one row per (group, period). Withheld figures (viewers' suppression) are one
//! row with no figure and `suppressed` `true`: for the whole series, or for a group. A
//! row without a period is a currency left unconverted (the JSON `unconverted`), its
//! own amount in `value` (MRR at the end of the range, or the events' amount): never
//! dropped silently.

use crate::domain::metrics::Metric;
use crate::http::download::{Cell, ToCsv};

use super::metrics::{MetricPoint, MetricSeries, PointValue};

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
        Metric::PlanFlows => &["from_plan", "to_plan", "switches", "flow_mrr"],
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

pub(super) fn value_cell<'a>(value: &PointValue, currency: &'a str) -> Cell<'a> {
    match value {
        PointValue::Money(minor) => Cell::money(*minor, currency),
        PointValue::Count(n) => Cell::Whole(*n),
        PointValue::Ratio(r) => Cell::Ratio(*r),
    }
}

/// The cells of `extra_columns` for one point: one set per row. A `plan_flows` point
/// is one row per flow (its period and `value`, the flows' sum, repeated), or one row
/// with empty flow columns when no MRR moved between plans; any other point one row.
fn extra_rows<'a>(metric: Metric, p: &'a MetricPoint, currency: &'a str) -> Vec<Vec<Cell<'a>>> {
    if metric == Metric::PlanFlows {
        let flows = p.flows.iter().flatten();
        let rows: Vec<Vec<Cell<'a>>> = flows
            .map(|f| {
                vec![
                    Cell::text(&f.from),
                    Cell::text(&f.to),
                    Cell::opt_whole(i64::try_from(f.switches).ok()),
                    Cell::money(f.mrr, currency),
                ]
            })
            .collect();
        if rows.is_empty() {
            return vec![vec![Cell::Empty; 4]];
        }
        return rows;
    }
    vec![extra_cells(metric, p, currency)]
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

    fn point_rows<'a>(&'a self, group: Option<&'a str>, p: &'a MetricPoint) -> Vec<Vec<Cell<'a>>> {
        let currency = self.currency.as_str();
        let mut head: Vec<Cell<'a>> = group.map(Cell::text).into_iter().collect();
        head.extend([
            Cell::Date(p.period_start),
            Cell::Date(p.period_end),
            Cell::text(currency),
            value_cell(&p.value, currency),
        ]);
        extra_rows(self.metric, p, currency)
            .into_iter()
            .map(|extra| {
                let mut row = head.clone();
                row.extend(extra);
                if self.comparison.is_some() {
                    row.extend(compared_cells(p, currency));
                }
                row.push(Cell::Bool(false));
                row
            })
            .collect()
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
        rows.extend(self.series.iter().flat_map(|p| self.point_rows(whole, p)));
        for group in self.groups.iter().flatten() {
            let key = Some(group.key.as_str());
            if group.suppressed {
                rows.push(self.withheld(key));
            }
            rows.extend(group.series.iter().flat_map(|p| self.point_rows(key, p)));
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
