//! The Import API's routes (docs/api.md "Import API"): creating a `custom` integration,
//! and posting its customers, plans, subscription events, payments and refunds as a
//! JSON batch or a CSV file.
//!
//! A CSV upload (optionally gzip-encoded) is read as a stream: the gzip decoder and the
//! CSV reader run on a blocking thread and hand the import chunks of 1,000 checked rows
//! through a channel of two, so a 100,000-row file is never held parsed, or inflated,
//! whole; only its compressed bytes are (API Gateway's payload limit, 6 MB, bounds
//! them). The header row is checked before anything is written.

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
use crate::domain::ids::IntegrationId;
use crate::domain::import::{FieldError, ImportKind, MAX_BATCH_ROWS, Raw, Row, parse_row};
use crate::services::contexts::Integrations;
use crate::services::imports::{Chunk, ImportOutcome, RowError};

/// The most bytes an import body may have: API Gateway's and Lambda's request payload
/// limit (6 MB), so a body that arrives is never refused here.
pub const IMPORT_BODY_LIMIT: usize = 6 * 1024 * 1024;
/// The most bytes a gzip-encoded CSV may inflate to (a bomb stops here).
const MAX_INFLATED: u64 = 256 * 1024 * 1024;
/// Rows per chunk of a CSV upload: one JSON batch's worth.
const CSV_CHUNK_ROWS: usize = MAX_BATCH_ROWS;

pub fn routes() -> OpenApiRouter<OauthState> {
    OpenApiRouter::new().routes(routes!(connect_custom)).merge(
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

/// Import rows into a custom integration (analyst or admin)
///
/// `kind` is `customers`, `plans`, `subscription_events`, `payments` or `refunds`. The
/// body is `{"data": [...]}` (`application/json`, up to 1,000 rows) or a CSV file
/// (`text/csv`, optionally `Content-Encoding: gzip`, up to 6 MB as sent) whose header
/// row names the same fields. Rows are idempotent by their external ids: a row stored
/// exactly as sent counts as `unchanged` and writes nothing. A bad row is refused
/// alone, reported with its index (and CSV line) and field; the others are written.
/// The figures (`GET /v1/metrics/…`) show the import when the call returns.
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
        (status = 200, description = "Imported; refused rows are listed.", body = ImportResult),
        (status = 400, body = ErrorBody, description = "`invalid_request`: not an object with `data`, more than 1,000 rows, a CSV header naming an unknown or repeated field, or a body that is not gzip when it says so. Nothing was written."),
        (status = 401, response = Unauthenticated),
        (status = 403, response = RoleForbidden),
        (status = 404, response = NotFound),
        (status = 409, body = ErrorBody, description = "`not_custom_integration`: the integration syncs from its processor; `concurrent_update`: another import into it is running."),
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
) -> Result<Json<ImportResult>, ApiError> {
    let id = IntegrationId::parse(&id).ok_or(ApiError::NotFound)?;
    let kind = ImportKind::parse(&kind).ok_or(ApiError::NotFound)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::invalid_request("The request body could not be read."),
    })?;
    let (sender, receiver) = mpsc::channel(2);
    let reader = match media_type(&headers).as_str() {
        "application/json" => {
            let chunk = json_chunk(kind, &body)?;
            // The channel holds two: this one send never waits.
            sender
                .try_send(chunk)
                .map_err(|_| ApiError::internal("the import channel refused its only chunk"))?;
            drop(sender);
            None
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
            Some(tokio::task::spawn_blocking(move || csv.send_all(&sender)))
        }
        _ => return Err(ApiError::UnsupportedMediaType),
    };
    let outcome = app.import(&caller.ctx, &id, kind, receiver).await;
    if let Some(reader) = reader {
        // The import stopped reading (an error) or read to the end: either way the
        // reader's thread has finished or stops at its next send.
        reader
            .await
            .map_err(|_| ApiError::internal("the CSV reader stopped"))?;
    }
    Ok(Json(outcome?.into()))
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

/// A CSV record under its header.
struct CsvRow<'a> {
    header: &'a csv::StringRecord,
    record: &'a csv::StringRecord,
}

impl Row for CsvRow<'_> {
    fn field(&self, name: &str) -> Raw<'_> {
        self.header
            .iter()
            .position(|h| h == name)
            .and_then(|i| self.record.get(i))
            .map_or(Raw::Absent, |cell| Raw::of_cell(cell.trim()))
    }
    // The header was checked once for the whole file.
    fn unknown_field(&self, _known: &[&str]) -> Option<String> {
        None
    }
}

/// A CSV upload whose header row was read and checked.
struct CsvRows {
    kind: ImportKind,
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
        Ok(Self {
            kind,
            reader,
            header,
        })
    }

    /// Reads every record, checking each, and sends them in chunks; stops when the
    /// import stops receiving. A record that cannot be read (a wrong number of cells,
    /// text that is not UTF-8) is refused alone; input that cannot be read on (a
    /// broken gzip stream) ends the file with a refusal of the row where it broke.
    fn send_all(mut self, sender: &mpsc::Sender<Chunk>) {
        let mut chunk = Chunk::default();
        let mut record = csv::StringRecord::new();
        let mut index = 0usize;
        loop {
            let line_before = self.reader.position().line();
            let read = self.reader.read_record(&mut record);
            let (row, line) = match read {
                Ok(false) => break,
                Ok(true) => (
                    parse_row(
                        self.kind,
                        &CsvRow {
                            header: &self.header,
                            record: &record,
                        },
                    ),
                    record.position().map_or(line_before, csv::Position::line),
                ),
                Err(err) => {
                    let line = err.position().map_or(line_before, csv::Position::line);
                    let fatal = matches!(err.kind(), csv::ErrorKind::Io(_));
                    let refusal = if fatal {
                        FieldError::new(
                            "row",
                            "unreadable",
                            "The file could not be read on from here (a broken gzip stream, or over 256 MiB inflated).",
                        )
                    } else {
                        FieldError::new(
                            "row",
                            "invalid",
                            "Not a CSV record of the header's fields (a wrong number of cells, or text that is not UTF-8).",
                        )
                    };
                    if fatal {
                        chunk.rows.push(Err(refusal));
                        chunk.lines.push(line);
                        break;
                    }
                    (Err(refusal), line)
                }
            };
            chunk.rows.push(row);
            chunk.lines.push(line);
            index += 1;
            if chunk.rows.len() == CSV_CHUNK_ROWS {
                let next = Chunk {
                    first_index: index,
                    ..Chunk::default()
                };
                if sender
                    .blocking_send(std::mem::replace(&mut chunk, next))
                    .is_err()
                {
                    return;
                }
            }
        }
        if !chunk.rows.is_empty() {
            // The import may have stopped meanwhile: nothing is left to tell it then.
            let _ = sender.blocking_send(chunk);
        }
    }
}
