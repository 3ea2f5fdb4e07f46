//! The CSV tables of the cohort triangle, the forecast and the custom segments
//! (`format=csv`), from exactly the DTO the role gets as JSON: a viewer's suppressed
//! cohorts and slices stay empty, and its segments on `city` list no city.

use super::cohorts::{CohortRow, CohortTriangle};
use super::forecast::ForecastReply;
use super::segments::CustomSegmentList;
use crate::http::download::{Cell, ToCsv};

/// The rows of one triangle: one per (cohort, offset); a cohort without cells (a
/// viewer's suppressed one) is one row with its name only.
fn cohort_rows<'a>(
    group: Option<&'a str>,
    cohorts: &'a [CohortRow],
    currency: &'a str,
    rows: &mut Vec<Vec<Cell<'a>>>,
) {
    for cohort in cohorts {
        let lead = || {
            vec![
                Cell::opt_text(group),
                Cell::text(cohort.cohort.as_str()),
                Cell::Date(cohort.period_start),
            ]
        };
        if cohort.periods.is_empty() {
            let mut row = lead();
            row.extend(std::iter::repeat_n(Cell::Empty, 9));
            row.extend([Cell::text(currency), Cell::Bool(cohort.suppressed)]);
            rows.push(row);
            continue;
        }
        for cell in &cohort.periods {
            let mut row = lead();
            row.extend([
                Cell::opt_whole(i64::try_from(cohort.customers).ok()),
                Cell::money(cohort.start_mrr, currency),
                Cell::opt_whole(i64::try_from(cell.offset).ok()),
                Cell::Date(cell.period_start),
                Cell::Date(cell.period_end),
                Cell::opt_whole(i64::try_from(cell.customers).ok()),
                Cell::money(cell.mrr, currency),
                Cell::Ratio(cell.logo_retention),
                Cell::Ratio(cell.revenue_retention),
                Cell::text(currency),
                Cell::Bool(cohort.suppressed),
            ]);
            rows.push(row);
        }
    }
}

/// One row per (group, cohort, offset): the whole triangle first (empty `group`), then
/// each group's.
impl ToCsv for CohortTriangle {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "group",
            "cohort",
            "cohort_start",
            "cohort_customers",
            "start_mrr",
            "offset",
            "period_start",
            "period_end",
            "customers",
            "mrr",
            "logo_retention",
            "revenue_retention",
            "currency",
            "suppressed",
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        let currency = self.currency.as_str();
        let mut rows = Vec::new();
        cohort_rows(None, &self.cohorts, currency, &mut rows);
        for group in self.groups.iter().flatten() {
            cohort_rows(
                Some(group.key.as_str()),
                &group.cohorts,
                currency,
                &mut rows,
            );
        }
        rows
    }
}

/// The trailing months (`kind` history) then the forecast months with their band.
impl ToCsv for ForecastReply {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "kind",
            "period_start",
            "period_end",
            "mrr",
            "mrr_low",
            "mrr_high",
            "customers",
            "customers_low",
            "customers_high",
            "currency",
            "model",
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        let currency = self.currency.as_str();
        let model = Cell::text(self.model.as_str());
        let history = self.history.iter().map(|m| {
            vec![
                Cell::text("history"),
                Cell::Date(m.period_start),
                Cell::Date(m.period_end),
                Cell::money(m.mrr, currency),
                Cell::Empty,
                Cell::Empty,
                Cell::Whole(m.customers),
                Cell::Empty,
                Cell::Empty,
                Cell::text(currency),
                model.clone(),
            ]
        });
        let forecast = self.series.iter().map(|p| {
            vec![
                Cell::text("forecast"),
                Cell::Date(p.period_start),
                Cell::Date(p.period_end),
                Cell::money(p.mrr, currency),
                Cell::money(p.mrr_low, currency),
                Cell::money(p.mrr_high, currency),
                Cell::Whole(p.customers),
                Cell::Whole(p.customers_low),
                Cell::Whole(p.customers_high),
                Cell::text(currency),
                model.clone(),
            ]
        });
        history.chain(forecast).collect()
    }
}

/// One row per segment; its filters as `dimension=value` pairs joined by `; `, in
/// dimension order.
impl ToCsv for CustomSegmentList {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "id",
            "name",
            "filters",
            "restricted",
            "created_at",
            "updated_at",
        ]
    }

    fn rows(&self) -> Vec<Vec<Cell<'_>>> {
        self.segments
            .iter()
            .map(|s| {
                let filters: Vec<String> = s
                    .filters
                    .iter()
                    .map(|(dimension, value)| format!("{dimension}={value}"))
                    .collect();
                vec![
                    Cell::text(s.id.as_str()),
                    Cell::text(s.name.as_str()),
                    Cell::Text(filters.join("; ").into()),
                    Cell::Bool(s.restricted),
                    Cell::Time(s.created_at),
                    Cell::Time(s.updated_at),
                ]
            })
            .collect()
    }
}
