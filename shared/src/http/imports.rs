//! The Import API's routes (docs/api.md "Import API"): creating a `custom` integration,
//! and posting its customers, plans, subscription events, payments and refunds as a
//! JSON batch or a CSV file.
//!
//! A CSV upload (optionally gzip-encoded) is queued, not imported in the request: API
//! Gateway ends a request at 29 s, and a 100,000-row file takes longer than that to
//! import. It is read as a stream: the gzip decoder and the CSV reader run on a blocking
//! thread and hand chunks of at most 1,000 rows and about 300 KB (cut at row
//! boundaries) through a channel of two to the service, which stages each sealed; so a
//! file is never held parsed, or inflated, whole, only its compressed bytes are (API
//! Gateway's payload limit, 6 MB, bounds them). The header row is checked before
//! anything is stored. The request answers 202 with the import's id; the ingest
//! function's job imports the chunks, and `GET /v1/integrations/{id}/imports/{import_id}`
//! shows how far it got.

use std::io::Read;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::OauthState;
use super::dto::error::ErrorBody;
use super::dto::integrations::Integration;
use super::error::ApiError;
use super::json::{ApiJson, parse};
use super::responses::{BodyRefused, InvalidRequest, NotFound, RoleForbidden, Unauthenticated};
use super::session::{AdminOnly, Authorized, CustomerData};
use crate::domain::ids::{ImportId, IntegrationId};
use crate::domain::import::{
    CHUNK_BYTES, CHUNK_ROWS, FieldError, ImportKind, ImportRun, MAX_BATCH_ROWS, MAX_RECORD_BYTES,
    RunError, StagedChunk, StagedRow, parse_row,
};
use crate::services::contexts::Integrations;
use crate::services::imports::{Chunk, ImportOutcome, RowError};

/// The most bytes an import body may have: API Gateway's and Lambda's request payload
/// limit (6 MB), so a body that arrives is never refused here.
pub const IMPORT_BODY_LIMIT: usize = 6 * 1024 * 1024;
/// The most bytes a gzip-encoded CSV may inflate to (a bomb stops here).
const MAX_INFLATED: u64 = 256 * 1024 * 1024;
pub fn routes() -> OpenApiRouter<OauthState> {
    OpenApiRouter::new()
        .routes(routes!(connect_custom))
        .routes(routes!(import_run))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import))
                .layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomRequest {
    /// What to call it (the billing system it imports from), 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
}

/// Create a custom integration (admin)
///
/// An integration fed by the Import API, for a billing system Tally has no connector
/// for. It has no credentials and is never synced (`POST …/sync` answers 409
/// `import_only`); it is listed, disconnected, deleted and exported like any other.
#[utoipa::path(
    post, path = "/v1/integrations/custom", tag = "integrations",
    operation_id = "createCustomIntegration",
    request_body = CreateCustomRequest,
    responses(
        (status = 201, description = "Created.", body = Integration),
        (status = 400, response = InvalidRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 409, body = ErrorBody, description = "`email_unverified`: the tenant's sign-up address is not proven yet (`POST /v1/email/verify`)."),
        BodyRefused,
    )
)]
async fn connect_custom(
    State(app): State<Arc<Integrations>>,
    admin: Authorized<AdminOnly>,
    ApiJson(body): ApiJson<CreateCustomRequest>,
) -> Result<(StatusCode, Json<Integration>), ApiError> {
    let name = match body.name {
        None => None,
        Some(name) => {
            let name = name.trim().to_owned();
            let count = name.chars().count();
            if !(1..=100).contains(&count) || name.chars().any(char::is_control) {
                return Err(ApiError::invalid_field(
                    "name",
                    "`name` must be 1 to 100 printable characters.",
                ));
            }
            Some(name)
        }
    };
    let integration = app.connect_custom(&admin.ctx, name).await?;
    Ok((StatusCode::CREATED, Json(integration.into())))
}

/// A JSON batch.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBatch {
    /// Up to 1,000 rows of the path's kind (docs/api.md lists each kind's fields).
    #[schema(value_type = Vec<Object>, max_items = 1000)]
    pub data: Vec<serde_json::Value>,
}

/// A refused row.
#[derive(Serialize, ToSchema)]
pub struct ImportRowError {
    /// The row's place among the data rows, from 0.
    pub index: usize,
    /// A CSV row's line in the file (the header is line 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub line: Option<u64>,
    /// The field at fault (`row` for a row that is not an object or not a CSV record).
    pub field: String,
    /// `required`, `invalid`, `unknown_field`, `duplicate_in_batch`, `unknown_customer`,
    /// `unknown_plan`, `unknown_payment`, `customer_mismatch`, `out_of_sequence`,
    /// `too_many_events`.
    pub code: String,
    pub message: String,
}

/// What an import did.
#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub received: usize,
    /// Rows whose records were written.
    pub written: usize,
    /// Rows already stored exactly as sent (nothing written).
    pub unchanged: usize,
    /// Rows refused.
    pub failed: usize,
    /// The refused rows (the first 1,000), by index.
    pub errors: Vec<ImportRowError>,
}

impl From<ImportOutcome> for ImportResult {
    fn from(outcome: ImportOutcome) -> Self {
        Self {
            received: outcome.received,
            written: outcome.written,
            unchanged: outcome.unchanged,
            failed: outcome.failed,
            errors: outcome.errors.into_iter().map(row_error).collect(),
        }
    }
}

fn row_error(error: RowError) -> ImportRowError {
    ImportRowError {
        index: error.index,
        line: error.line,
        field: error.field,
        code: error.code.to_owned(),
        message: error.message,
    }
}

/// A queued CSV import.
#[derive(Serialize, ToSchema)]
pub struct ImportQueued {
    /// The import's id (`GET /v1/integrations/{id}/imports/{import_id}`).
    pub id: String,
    /// `queued`.
    pub status: String,
}

/// A CSV import and how far it got.
#[derive(Serialize, ToSchema)]
pub struct ImportRunView {
    pub id: String,
    /// `customers`, `plans`, `subscription_events`, `payments` or `refunds`.
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// Data rows in the file.
    pub rows: usize,
    /// Rows whose records were written (so far).
    pub written: usize,
    /// Rows already stored exactly as sent.
    pub unchanged: usize,
    /// Rows refused.
    pub failed_rows: usize,
    /// The first 100 refused rows, by index.
    pub errors: Vec<ImportRowError>,
    /// Why a `failed` import failed: a code (`internal_error`, `integration_gone`,
    /// `timed_out`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub failure: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it became `done` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ImportRunView {
    fn of(id: &ImportId, run: ImportRun) -> Self {
        Self {
            id: id.to_string(),
            kind: run.kind.as_str().to_owned(),
            status: run.status.as_str().to_owned(),
            rows: run.rows,
            written: run.written,
            unchanged: run.unchanged,
            failed_rows: run.failed_rows,
            errors: run.errors.into_iter().map(run_error).collect(),
            failure: run.failure,
            created_at: run.created_at,
            finished_at: run.finished_at,
        }
    }
}

fn run_error(error: RunError) -> ImportRowError {
    ImportRowError {
        index: error.index,
        line: error.line,
        field: error.field,
        code: error.code,
        message: error.message,
    }
}

/// What an import request answers: a JSON batch's result, or a queued CSV import.
pub enum ImportReply {
    Imported(ImportResult),
    Queued(ImportQueued),
}

impl axum::response::IntoResponse for ImportReply {
    fn into_response(self) -> axum::response::Response {
        match self {
            ImportReply::Imported(result) => Json(result).into_response(),
            ImportReply::Queued(queued) => (StatusCode::ACCEPTED, Json(queued)).into_response(),
        }
    }
}

/// Import rows into a custom integration (analyst or admin)
///
/// `kind` is `customers`, `plans`, `subscription_events`, `payments` or `refunds`. The
/// body is `{"data": [...]}` (`application/json`, up to 1,000 rows) or a CSV file
/// (`text/csv`, optionally `Content-Encoding: gzip`, up to 6 MB as sent) whose header
/// row names the same fields. Rows are idempotent by their external ids: a row stored
/// exactly as sent counts as `unchanged` and writes nothing. A bad row is refused
/// alone, reported with its index (and CSV line) and field; the others are written.
/// A JSON batch is imported in the request (200): the figures (`GET /v1/metrics/…`)
/// show it when the call returns. A CSV file is checked (its header row), staged and
/// queued (202 with the import's id); a job imports it, and
/// `GET /v1/integrations/{id}/imports/{import_id}` shows its progress and refused rows.
#[utoipa::path(
    post, path = "/v1/integrations/{id}/import/{kind}", tag = "integrations",
    operation_id = "importRows",
    params(
        ("id" = String, Path, description = "The custom integration's id."),
        ("kind" = String, Path, description = "`customers`, `plans`, `subscription_events`, `payments` or `refunds`."),
    ),
    request_body(content(
        (ImportBatch = "application/json"),
        (String = "text/csv"),
    )),
    responses(
        (status = 200, description = "A JSON batch, imported; refused rows are listed.", body = ImportResult),
        (status = 202, description = "A CSV file, queued.", body = ImportQueued),
        (status = 400, body = ErrorBody, description = "`invalid_request`: not an object with `data`, more than 1,000 rows, a CSV header naming an unknown or repeated field, or a body that is not gzip when it says so. Nothing was written."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorBody, description = "`not_custom_integration`: the integration syncs from its processor; `concurrent_update`: another import into it is running (JSON)."),
        (status = 413, body = ErrorBody, description = "`payload_too_large`: over 6 MB."),
        (status = 415, body = ErrorBody, description = "`unsupported_media_type`: neither JSON nor CSV."),
    )
)]
async fn import(
    State(app): State<Arc<Integrations>>,
    caller: Authorized<CustomerData>,
    Path((id, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<ImportReply, ApiError> {
    let id = IntegrationId::parse(&id).ok_or(ApiError::NotFound)?;
    let kind = ImportKind::parse(&kind).ok_or(ApiError::NotFound)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::invalid_request("The request body could not be read."),
    })?;
    match media_type(&headers).as_str() {
        "application/json" => {
            let (sender, receiver) = mpsc::channel(1);
            let chunk = json_chunk(kind, &body)?;
            // The channel holds one: this one send never waits.
            sender
                .try_send(chunk)
                .map_err(|_| ApiError::internal("the import channel refused its only chunk"))?;
            drop(sender);
            let outcome = app.import(&caller.ctx, &id, kind, receiver).await?;
            Ok(ImportReply::Imported(outcome.into()))
        }
        "text/csv" => {
            let gzip = match headers
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap_or_default().trim().to_ascii_lowercase())
            {
                None => false,
                Some(encoding) if encoding == "gzip" => true,
                Some(encoding) if encoding == "identity" => false,
                Some(_) => return Err(ApiError::UnsupportedMediaType),
            };
            let csv = CsvRows::open(kind, body, gzip)?;
            let header: Vec<String> = csv.header.iter().map(str::to_owned).collect();
            let (sender, receiver) = mpsc::channel(2);
            let reader = tokio::task::spawn_blocking(move || csv.send_all(&sender));
            let queued = app
                .queue_import(&caller.ctx, &id, kind, header, receiver)
                .await;
            // The service stopped reading (an error) or read to the end: either way the
            // reader's thread has finished or stops at its next send.
            reader
                .await
                .map_err(|_| ApiError::internal("the CSV reader stopped"))?;
            let (import, run) = queued?;
            Ok(ImportReply::Queued(ImportQueued {
                id: import.to_string(),
                status: run.status.as_str().to_owned(),
            }))
        }
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// A CSV import (analyst or admin)
///
/// How far a queued CSV import got: its counts so far, the first 100 refused rows (by
/// index, with their line and field), and when it finished.
#[utoipa::path(
    get, path = "/v1/integrations/{id}/imports/{import_id}", tag = "integrations",
    operation_id = "getImport",
    params(
        ("id" = String, Path, description = "The custom integration's id."),
        ("import_id" = String, Path, description = "The id `POST …/import/{kind}` answered."),
    ),
    responses(
        (status = 200, description = "The import.", body = ImportRunView),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
    )
)]
async fn import_run(
    State(app): State<Arc<Integrations>>,
    caller: Authorized<CustomerData>,
    Path((id, import_id)): Path<(String, String)>,
) -> Result<Json<ImportRunView>, ApiError> {
    let id = IntegrationId::parse(&id).ok_or(ApiError::NotFound)?;
    let import = ImportId::parse(&import_id).ok_or(ApiError::NotFound)?;
    let run = app.import_run(&caller.ctx, &id, &import).await?;
    Ok(Json(ImportRunView::of(&import, run)))
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A JSON batch's rows, each checked.
fn json_chunk(kind: ImportKind, body: &[u8]) -> Result<Chunk, ApiError> {
    let batch: ImportBatch = parse(body)?;
    if batch.data.len() > MAX_BATCH_ROWS {
        return Err(ApiError::invalid_field(
            "data",
            format!("At most {MAX_BATCH_ROWS} rows per request (send a CSV file for more)."),
        ));
    }
    let rows = batch
        .data
        .iter()
        .map(|value| match value {
            serde_json::Value::Object(map) => parse_row(kind, map),
            _ => Err(FieldError::new(
                "row",
                "invalid",
                "Each row must be a JSON object.",
            )),
        })
        .collect();
    Ok(Chunk {
        first_index: 0,
        rows,
        lines: Vec::new(),
    })
}

/// A CSV upload whose header row was read and checked.
struct CsvRows {
    reader: csv::Reader<Box<dyn Read + Send>>,
    header: csv::StringRecord,
}

impl CsvRows {
    fn open(kind: ImportKind, body: Bytes, gzip: bool) -> Result<Self, ApiError> {
        let raw = std::io::Cursor::new(body);
        let input: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(raw).take(MAX_INFLATED))
        } else {
            Box::new(raw)
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(input);
        let header = reader
            .headers()
            .map_err(|_| {
                ApiError::invalid_field(
                    "body",
                    "The CSV header row could not be read (is the body gzip when it says so?).",
                )
            })?
            .clone();
        let header: csv::StringRecord = header.iter().map(str::trim).collect();
        for (n, name) in header.iter().enumerate() {
            if !kind.fields().contains(&name) {
                return Err(ApiError::invalid_field(
                    "header",
                    format!(
                        "Column {} is not a field of {} (they are: {}).",
                        n + 1,
                        kind.as_str(),
                        kind.fields().join(", ")
                    ),
                ));
            }
            if header.iter().take(n).any(|earlier| earlier == name) {
                return Err(ApiError::invalid_field(
                    "header",
                    format!("Column {} repeats the field `{name}`.", n + 1),
                ));
            }
        }
        Ok(Self { reader, header })
    }

    /// Reads every record and sends them in chunks cut at row boundaries (at most
    /// [`CHUNK_ROWS`] rows and about [`CHUNK_BYTES`]); stops when the service stops
    /// receiving. A record that cannot be read (a wrong number of cells, text that is
    /// not UTF-8) is staged as such, to be refused alone; input that cannot be read on
    /// (a broken gzip stream) ends the file with the row where it broke.
    fn send_all(mut self, sender: &mpsc::Sender<StagedChunk>) {
        let mut chunk = StagedChunk::default();
        let mut bytes = 0usize;
        let mut record = csv::StringRecord::new();
        let mut index = 0usize;
        loop {
            let line_before = self.reader.position().line();
            let row = match self.reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => StagedRow::Cells {
                    line: record.position().map_or(line_before, csv::Position::line),
                    cells: record.iter().map(|cell| cell.trim().to_owned()).collect(),
                },
                Err(err) => StagedRow::Unreadable {
                    line: err.position().map_or(line_before, csv::Position::line),
                    broken: matches!(err.kind(), csv::ErrorKind::Io(_)),
                },
            };
            // A record too long for a chunk is refused alone, its cells dropped.
            let row = match row {
                StagedRow::Cells { line, .. } if row.weight() > MAX_RECORD_BYTES => {
                    StagedRow::TooLong { line }
                }
                row => row,
            };
            let broken = matches!(row, StagedRow::Unreadable { broken: true, .. });
            bytes += row.weight();
            chunk.rows.push(row);
            index += 1;
            if broken {
                break;
            }
            if chunk.rows.len() == CHUNK_ROWS || bytes >= CHUNK_BYTES {
                let next = StagedChunk {
                    first_index: index,
                    rows: Vec::new(),
                };
                bytes = 0;
                if sender
                    .blocking_send(std::mem::replace(&mut chunk, next))
                    .is_err()
                {
                    return;
                }
            }
        }
        if !chunk.rows.is_empty() {
            // The service may have stopped meanwhile: nothing is left to tell it then.
            let _ = sender.blocking_send(chunk);
        }
    }
}
