//! The printed table: one row per figure, grouped by section, with the goal it is held
//! against where the issue sets one.

use std::time::Duration;

struct Row {
    section: String,
    measure: String,
    figure: String,
    goal: Option<String>,
}

#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
}

impl Report {
    /// Adds a row and echoes it to stderr at once, so a long run shows progress.
    pub fn row(&mut self, section: &str, measure: &str, figure: String, goal: Option<String>) {
        eprintln!(
            "  {measure}: {figure}{}",
            goal.as_deref()
                .map(|g| format!("  [{g}]"))
                .unwrap_or_default()
        );
        self.rows.push(Row {
            section: section.to_owned(),
            measure: measure.to_owned(),
            figure,
            goal,
        });
    }

    /// The "Process" rows every mode ends with: peak memory, cores, and the whole run
    /// since `started`.
    pub fn process(&mut self, started: std::time::Instant) {
        if let Some(peak) = peak_memory() {
            self.row("Process", "peak resident memory", mib(peak), None);
        }
        self.row(
            "Process",
            "cores available / whole run",
            format!(
                "{} / {}",
                std::thread::available_parallelism().map_or(1, |n| n.get()),
                duration(started.elapsed())
            ),
            None,
        );
    }

    /// The table, as Markdown (it pastes into an issue or the README as it is).
    pub fn print(&self) {
        let measure_width = self
            .rows
            .iter()
            .map(|r| r.measure.chars().count())
            .max()
            .unwrap_or(0);
        let figure_width = self
            .rows
            .iter()
            .map(|r| r.figure.chars().count())
            .max()
            .unwrap_or(0);
        let mut section = "";
        for row in &self.rows {
            if row.section != section {
                section = &row.section;
                println!("\n**{section}**\n");
                println!(
                    "| {:measure_width$} | {:figure_width$} | goal |",
                    "measure", "figure"
                );
                println!(
                    "|{}|{}|------|",
                    "-".repeat(measure_width + 2),
                    "-".repeat(figure_width + 2)
                );
            }
            println!(
                "| {} | {} | {} |",
                pad(&row.measure, measure_width),
                pad(&row.figure, figure_width),
                row.goal.as_deref().unwrap_or("")
            );
        }
    }
}

/// A table with columns of its own (the load mode's per-operation figures), printed as
/// Markdown like [`Report`]; every column is padded.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row: one cell per header (missing cells print empty, extra ones not at all).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self, title: &str) {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(i))
                    .chain(std::iter::once(&self.headers[i]))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, &w)| pad(cells.get(i).map_or("", String::as_str), w))
                .collect();
            println!("| {} |", padded.join(" | "));
        };
        println!("\n**{title}**\n");
        line(&self.headers);
        let rules: Vec<String> = widths.iter().map(|&w| "-".repeat(w + 2)).collect();
        println!("|{}|", rules.join("|"));
        for row in &self.rows {
            line(row);
        }
    }
}

/// Pads by characters, not bytes (the table holds `→`, `×` and `µ`).
fn pad(text: &str, width: usize) -> String {
    let missing = width.saturating_sub(text.chars().count());
    format!("{text}{}", " ".repeat(missing))
}

/// `1234567` → `1,234,567`.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds below 10 s (with a decimal below 100 ms), seconds above.
pub fn duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1_000.0;
    if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `< 1 s ✓` or `< 1 s ✗`.
pub fn goal(measured: Duration, limit: Duration) -> String {
    let mark = if measured < limit { "✓" } else { "✗" };
    format!("< {} {mark}", duration_short(limit))
}

fn duration_short(d: Duration) -> String {
    if d >= Duration::from_secs(1) && d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The nearest-rank percentile of sorted samples (`p` in 0–100); zero when empty.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The process's peak resident memory so far (Linux: `VmHWM`), `None` elsewhere.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
