//! The metrics summary as a table (`http::download`): one row of its figures, money in
//! major units of its `currency`, then one row per unconverted currency (its own MRR).
//! A suppressed summary (viewers) is its row of 0s and nulls with `suppressed` `true`.

use chrono::{DateTime, NaiveDate, Utc};

use crate::http::download::{Cell, ToCsv};

use super::metrics::{FigureChange, MetricsSummary, SummaryComparison};
use super::series_table::value_cell;

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
