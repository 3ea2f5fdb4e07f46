//! A CSV upload as it waits for its job: its rows cut into chunks as read (each cell's
//! text, or why the record could not be read), and the import run that the job moves
//! along chunk by chunk. Plain data: the repository seals both, the job parses the rows
//! with [`parse_row`](super::parse_row) through [`CellsRow`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{FieldError, ImportKind, MAX_BATCH_ROWS, Raw, Row};

/// Rows per staged chunk: one JSON batch's worth.
pub const CHUNK_ROWS: usize = MAX_BATCH_ROWS;
/// Bytes of cell text per staged chunk, about: a sealed chunk stays well inside
/// DynamoDB's 400 KB item.
pub const CHUNK_BYTES: usize = 300 * 1024;
/// Bytes of one CSV record's cells, at most (a longer one is refused alone).
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Times an import job may stop part-way and go on in another invocation.
pub const MAX_RESUMES: u32 = 24;
/// Refused rows a run lists (the rest are counted in `failed_rows`).
pub const MAX_RUN_ERRORS: usize = 100;

/// One CSV record as read, by its line in the file (the header is line 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StagedRow {
    /// The record's cells, trimmed.
    #[serde(rename = "c")]
    Cells {
        #[serde(rename = "l")]
        line: u64,
        #[serde(rename = "v")]
        cells: Vec<String>,
    },
    /// Not a record of the header's fields (a wrong number of cells, text that is not
    /// UTF-8); `broken` when the file could not be read on from it (a broken gzip
    /// stream, or the inflated size bound), which ends the file.
    #[serde(rename = "u")]
    Unreadable {
        #[serde(rename = "l")]
        line: u64,
        #[serde(rename = "b")]
        broken: bool,
    },
    /// A record longer than [`MAX_RECORD_BYTES`] (its cells are not kept).
    #[serde(rename = "t")]
    TooLong {
        #[serde(rename = "l")]
        line: u64,
    },
}

impl StagedRow {
    pub fn line(&self) -> u64 {
        match self {
            StagedRow::Cells { line, .. }
            | StagedRow::Unreadable { line, .. }
            | StagedRow::TooLong { line } => *line,
        }
    }

    /// About how many bytes the row adds to its chunk's sealed form.
    pub fn weight(&self) -> usize {
        match self {
            StagedRow::Cells { cells, .. } => 24 + cells.iter().map(|c| c.len() + 3).sum::<usize>(),
            StagedRow::Unreadable { .. } | StagedRow::TooLong { .. } => 32,
        }
    }

    /// The row checked under `header`, as the import path takes it.
    pub fn parse(
        &self,
        kind: ImportKind,
        header: &[String],
    ) -> Result<super::ImportRow, FieldError> {
        match self {
            StagedRow::Cells { cells, .. } => super::parse_row(kind, &CellsRow { header, cells }),
            StagedRow::Unreadable { broken: true, .. } => Err(FieldError::new(
                "row",
                "unreadable",
                "The file could not be read on from here (a broken gzip stream, or over 256 MiB inflated).",
            )),
            StagedRow::TooLong { .. } => Err(FieldError::new(
                "row",
                "invalid",
                "A CSV record may hold at most 64 KB.",
            )),
            StagedRow::Unreadable { broken: false, .. } => Err(FieldError::new(
                "row",
                "invalid",
                "Not a CSV record of the header's fields (a wrong number of cells, or text that is not UTF-8).",
            )),
        }
    }
}

/// Consecutive rows of an upload, staged as one item.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedChunk {
    /// The index of the chunk's first row among the file's data rows.
    #[serde(rename = "i")]
    pub first_index: usize,
    #[serde(rename = "r")]
    pub rows: Vec<StagedRow>,
}

/// A CSV record's cells under its header.
pub struct CellsRow<'a> {
    pub header: &'a [String],
    pub cells: &'a [String],
}

impl Row for CellsRow<'_> {
    fn field(&self, name: &str) -> Raw<'_> {
        self.header
            .iter()
            .position(|h| h == name)
            .and_then(|i| self.cells.get(i))
            .map_or(Raw::Absent, |cell| Raw::of_cell(cell.trim()))
    }
    // The header was checked once for the whole file.
    fn unknown_field(&self, _known: &[&str]) -> Option<String> {
        None
    }
}

/// Where an import run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Done,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Done | RunStatus::Failed)
    }
}

/// A refused row of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    pub index: usize,
    pub line: Option<u64>,
    pub field: String,
    pub code: String,
    pub message: String,
}

/// One queued CSV import: what the job has done so far. Saved after every chunk, so
/// a job that stops resumes at `next_chunk` with the counts of the chunks before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRun {
    pub kind: ImportKind,
    /// The file's header row, checked when it was posted.
    pub header: Vec<String>,
    pub status: RunStatus,
    /// Staged chunks, `0..chunks`.
    pub chunks: usize,
    /// The first chunk not yet imported.
    pub next_chunk: usize,
    /// Data rows in the file.
    pub rows: usize,
    pub written: usize,
    pub unchanged: usize,
    pub failed_rows: usize,
    /// The first [`MAX_RUN_ERRORS`] refusals, by index.
    pub errors: Vec<RunError>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why a `failed` run failed: a code, never a message holding data.
    pub failure: Option<String>,
    /// The job paused part-way (its time ran out) and went on in a later invocation:
    /// what the earlier part touched is not known to the last, which publishes the
    /// snapshot in full.
    #[serde(default)]
    pub full_publish: bool,
    /// How many times the job stopped part-way and asked for itself again (at most
    /// [`MAX_RESUMES`]: an import that cannot finish fails rather than loop).
    #[serde(default)]
    pub resumes: u32,
}
