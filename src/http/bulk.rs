//! Bulk import (NDJSON or CSV) and the streamed NDJSON export of a year's applications.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{ApiQuery, Authenticated, Ctx, deserialize_naming_field, read_body_limited};
use super::problem::ApiError;
use super::requests::{ApplicantDto, EventDto, RequestDto, request_dto};
use crate::app::bulk::{self as uc, ExportCursor, ImportLine, LineError, ReadLine};
use crate::app::{AppError, AppState};
use crate::domain::request::{ImportHistoryInput, IntakeInput};
use crate::domain::validation::FieldError;

/// One application of an import: the fields of `POST /requests`, plus its history.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportLineDto {
    /// `in_person`, `letter`, `fax`, `email`, `online` or `other`.
    #[schema(value_type = super::dto::ChannelCode)]
    pub channel: String,
    /// When it physically arrived, RFC 3339 with offset. Its year is the case number's year.
    pub arrived_at: DateTime<FixedOffset>,
    /// Letters needing a signature: the day the agency signed for it.
    pub signed_for_on: Option<NaiveDate>,
    /// The day both sides confirmed receipt; when absent (and not `in_person`), `receipt_date`
    /// is recorded as the confirmation date.
    pub confirmed_on: Option<NaiveDate>,
    pub applicant: ApplicantDto,
    pub description: String,
    #[serde(default)]
    pub document_numbers: Vec<String>,
    pub requested_form: Option<String>,
    pub delivery: Option<String>,
    /// Unique per agency, across the import and against existing applications.
    pub external_reference: Option<String>,
    /// The agency (in the caller's subtree); or give `agency_code`; neither: the caller's own.
    pub agency_id: Option<Uuid>,
    /// The agency by its code, instead of `agency_id`.
    pub agency_code: Option<String>,
    /// Required: the statutory receipt date (收到申请之日); must agree with the channel's dates.
    pub receipt_date: Option<NaiveDate>,
    /// Closed applications: the reply's disposition code (with `replied_on`).
    #[schema(value_type = Option<super::dto::DispositionCode>)]
    pub disposition: Option<String>,
    /// Closed applications: the reply date (with `disposition`).
    pub replied_on: Option<NaiveDate>,
    /// The reply's texts, when the other system kept them (not required for imports).
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
    pub provision: Option<String>,
    pub responsible_agency: Option<String>,
}

impl ImportLineDto {
    fn into_line(self, line: u64) -> ImportLine {
        ImportLine {
            line,
            agency_id: self.agency_id.map(|u| u.to_string()),
            agency_code: self.agency_code,
            arrived_at: self.arrived_at,
            intake: IntakeInput {
                channel: self.channel,
                arrival_date: NaiveDate::MIN,
                arrival_in_future: false,
                signed_for_on: self.signed_for_on,
                confirmed_on: self.confirmed_on,
                applicant: self.applicant.into(),
                description: self.description,
                document_numbers: self.document_numbers,
                requested_form: self.requested_form,
                delivery: self.delivery,
                external_reference: self.external_reference,
            },
            history: ImportHistoryInput {
                receipt_date: self.receipt_date,
                disposition: self.disposition,
                replied_on: self.replied_on,
                reason: self.reason,
                legal_basis: self.legal_basis,
                provision: self.provision,
                responsible_agency: self.responsible_agency,
            },
        }
    }
}

/// One imported application.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedDto {
    /// The physical line of the body it came from.
    pub line: u64,
    pub id: Uuid,
    pub case_number: String,
}

/// What an import answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResultDto {
    /// How many applications were imported (all lines that were not empty).
    pub imported: usize,
    /// Each one, in the order of the body.
    pub items: Vec<ImportedDto>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Ndjson,
    Csv,
}

fn format_of(req: &HttpRequest) -> Result<Format, ApiError> {
    let mime = req.mime_type().ok().flatten();
    match mime
        .as_ref()
        .map(|m| (m.type_().as_str(), m.subtype().as_str()))
    {
        Some(("application", "x-ndjson" | "ndjson" | "jsonl")) => Ok(Format::Ndjson),
        Some(("text", "csv")) => Ok(Format::Csv),
        _ => Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            crate::text!(
                "请以 application/x-ndjson 或 text/csv 发送请求体",
                "send the body as application/x-ndjson or text/csv"
            ),
        )),
    }
}

fn bad(
    line: u64,
    field: &str,
    code: &'static str,
    message: crate::domain::text::Text,
) -> LineError {
    LineError {
        line,
        error: FieldError::new(field, code, message),
    }
}

/// A JSON object read into an import line.
fn read_object(line: u64, value: Value) -> ReadLine {
    if let Some(error) = crate::domain::validation::statutory_dates_in(&value)
        .into_iter()
        .next()
    {
        return Err(LineError { line, error });
    }
    deserialize_naming_field::<ImportLineDto>(value)
        .map(|dto| dto.into_line(line))
        .map_err(|error| LineError { line, error })
}

/// CSV problems name the columns: `applicant.id_document.number` is the column
/// `applicant_id_document_number`.
fn csv_field_names(e: AppError) -> AppError {
    match e {
        AppError::ImportRejected { mut errors, total } => {
            for e in &mut errors {
                e.error.field = e.error.field.replace('.', "_");
            }
            AppError::ImportRejected { errors, total }
        }
        other => other,
    }
}

/// NDJSON: one object per line; empty lines are skipped (they still count as lines).
fn ndjson_lines(body: &[u8]) -> impl Iterator<Item = ReadLine> + '_ {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    body.split(|b| *b == b'\n')
        .enumerate()
        .filter_map(|(i, raw)| {
            let n = i as u64 + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.iter().all(u8::is_ascii_whitespace) {
                return None;
            }
            let value: Value = match serde_json::from_slice(raw) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Err(bad(
                        n,
                        "",
                        "invalid_json",
                        crate::domain::text::Text::new(
                            format!("该行不是合法的 JSON（第 {} 列）", e.column()),
                            format!("the line is not JSON: {e}"),
                        ),
                    )));
                }
            };
            if !value.is_object() {
                return Some(Err(bad(
                    n,
                    "",
                    "not_an_object",
                    crate::text!("每行须为一个 JSON 对象", "each line must be a JSON object"),
                )));
            }
            Some(read_object(n, value))
        })
}

/// An NDJSON body, read line by line each time the import asks.
struct NdjsonSource(web::Bytes);

impl uc::ImportSource for NdjsonSource {
    fn lines(&self) -> Box<dyn Iterator<Item = ReadLine> + '_> {
        Box::new(ndjson_lines(&self.0))
    }
}

/// The CSV columns, and where each goes in the JSON shape of a line.
const TOP_COLUMNS: [&str; 17] = [
    "channel",
    "arrived_at",
    "signed_for_on",
    "confirmed_on",
    "description",
    "requested_form",
    "delivery",
    "external_reference",
    "agency_id",
    "agency_code",
    "receipt_date",
    "disposition",
    "replied_on",
    "reason",
    "legal_basis",
    "provision",
    "responsible_agency",
];
const APPLICANT_COLUMNS: [(&str, &str); 7] = [
    ("applicant_kind", "kind"),
    ("applicant_name", "name"),
    ("applicant_credit_code", "credit_code"),
    ("applicant_contact_person", "contact_person"),
    ("applicant_phone", "phone"),
    ("applicant_email", "email"),
    ("applicant_address", "address"),
];
const ID_DOCUMENT_COLUMNS: [(&str, &str); 2] = [
    ("applicant_id_document_type", "type"),
    ("applicant_id_document_number", "number"),
];
/// Separates several document numbers in one cell.
const DOCUMENT_NUMBERS_COLUMN: &str = "document_numbers";
const REQUIRED_COLUMNS: [&str; 6] = [
    "channel",
    "arrived_at",
    "applicant_kind",
    "applicant_name",
    "description",
    "receipt_date",
];

fn known_column(c: &str) -> bool {
    TOP_COLUMNS.contains(&c)
        || c == DOCUMENT_NUMBERS_COLUMN
        || APPLICANT_COLUMNS.iter().any(|(k, _)| *k == c)
        || ID_DOCUMENT_COLUMNS.iter().any(|(k, _)| *k == c)
}

/// A CSV row as the JSON object of an NDJSON line; empty cells are absent fields.
fn csv_object(header: &[String], cells: Vec<String>) -> Value {
    let mut top = Map::new();
    let mut applicant = Map::new();
    let mut id_document = Map::new();
    for (column, cell) in header.iter().zip(cells) {
        if cell.trim().is_empty() {
            continue;
        }
        let column = column.as_str();
        if column == DOCUMENT_NUMBERS_COLUMN {
            let numbers: Vec<Value> = cell
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect();
            top.insert(column.into(), Value::Array(numbers));
        } else if let Some((_, key)) = APPLICANT_COLUMNS.iter().find(|(c, _)| *c == column) {
            applicant.insert((*key).into(), Value::String(cell));
        } else if let Some((_, key)) = ID_DOCUMENT_COLUMNS.iter().find(|(c, _)| *c == column) {
            id_document.insert((*key).into(), Value::String(cell));
        } else {
            top.insert(column.into(), Value::String(cell));
        }
    }
    if !id_document.is_empty() {
        applicant.insert("id_document".into(), Value::Object(id_document));
    }
    top.insert("applicant".into(), Value::Object(applicant));
    Value::Object(top)
}

/// CSV (RFC 4180): a header row naming the columns, then one application per row. Rows are
/// numbered by the physical line they start on (the header is line 1); blank lines are skipped.
fn csv_source(body: web::Bytes) -> Result<CsvSource, ApiError> {
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(e) => {
            let line = body[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64
                + 1;
            return Err(AppError::ImportRejected {
                errors: vec![bad(
                    line,
                    "",
                    "invalid_utf8",
                    crate::text!("请求体须为 UTF-8 编码", "the body must be UTF-8"),
                )],
                total: 1,
            }
            .into());
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = CsvRecords::new(text);
    let header = match records.next() {
        None => {
            return Ok(CsvSource {
                body: web::Bytes::new(),
                columns: Vec::new(),
            });
        }
        Some(Err(e)) => {
            return Err(AppError::ImportRejected {
                errors: vec![e],
                total: 1,
            }
            .into());
        }
        Some(Ok(h)) => h,
    };
    let columns: Vec<String> = header.fields.iter().map(|c| c.trim().to_string()).collect();
    let mut errors = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        if !known_column(c) {
            errors.push(bad(
                header.line,
                c,
                "unknown_column",
                crate::text!(
                    "没有此列（见 docs/API.md）",
                    "no such column (see docs/API.md)"
                ),
            ));
        } else if columns[..i].contains(c) {
            errors.push(bad(
                header.line,
                c,
                "duplicate_column",
                crate::text!("该列重复出现", "the column appears twice"),
            ));
        }
    }
    for required in REQUIRED_COLUMNS {
        if !columns.iter().any(|c| c == required) {
            errors.push(bad(
                header.line,
                required,
                "missing_column",
                crate::text!("缺少此必需的列", "this column is required"),
            ));
        }
    }
    if !errors.is_empty() {
        let total = errors.len();
        return Err(AppError::ImportRejected { errors, total }.into());
    }
    drop(records);
    Ok(CsvSource { body, columns })
}

/// A CSV body whose header was read and found good; its rows are read afresh each time the
/// import asks.
struct CsvSource {
    body: web::Bytes,
    columns: Vec<String>,
}

impl uc::ImportSource for CsvSource {
    fn lines(&self) -> Box<dyn Iterator<Item = ReadLine> + '_> {
        // UTF-8 was checked when the source was made.
        let text = std::str::from_utf8(&self.body).unwrap_or_default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let columns = &self.columns;
        Box::new(
            CsvRecords::new(text)
                .skip(1)
                .map(move |record| match record {
                    Err(e) => Err(e),
                    Ok(r) if r.fields.len() != columns.len() => Err(bad(
                        r.line,
                        "",
                        "wrong_field_count",
                        crate::text!(
                            "该行有 {} 个字段，表头有 {} 个",
                            "the row has {} fields, the header {}",
                            r.fields.len(),
                            columns.len()
                        ),
                    )),
                    Ok(r) => read_object(r.line, csv_object(columns, r.fields)),
                }),
        )
    }
}

/// One CSV record and the physical line it starts on.
#[derive(Debug, PartialEq, Eq)]
struct CsvRecord {
    line: u64,
    fields: Vec<String>,
}

/// Splits CSV text into records with the `csv` crate (RFC 4180: quoted fields may hold commas,
/// doubled quotes and line breaks). The crate is lenient where RFC 4180 is not, so each record's
/// raw text is also checked by [`quote_problem`]: a malformed record is an error of the line it
/// starts on, and reading goes on with the next record (an unterminated quote ends the text).
struct CsvRecords<'a> {
    text: &'a str,
    reader: csv::Reader<&'a [u8]>,
    record: csv::StringRecord,
    done: bool,
}

impl<'a> CsvRecords<'a> {
    fn new(text: &'a str) -> Self {
        CsvRecords {
            text,
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes()),
            record: csv::StringRecord::new(),
            done: false,
        }
    }
}

impl Iterator for CsvRecords<'_> {
    type Item = Result<CsvRecord, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let start = self.reader.position().clone();
            match self.reader.read_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    // The text is UTF-8 and nothing else fails when reading from memory.
                    self.done = true;
                    let line = e.position().map_or(start.line(), csv::Position::line);
                    return Some(Err(bad(
                        line,
                        "",
                        "invalid_utf8",
                        crate::domain::text::Text::new("请求体须为 UTF-8 编码", e.to_string()),
                    )));
                }
            }
            let record = &self.record;
            let begin = record.position().map_or(start.byte(), csv::Position::byte);
            let raw = self
                .text
                .get(begin as usize..self.reader.position().byte() as usize)
                .unwrap_or("");
            // The reader's position is taken before it skips empty lines: count them, so the
            // record is numbered by the physical line it starts on.
            let record_text = raw.trim_start_matches(['\r', '\n']);
            let skipped = raw[..raw.len() - record_text.len()].matches('\n').count() as u64;
            let line = record.position().map_or(start.line(), csv::Position::line) + skipped;
            let raw = record_text;
            return Some(match quote_problem(raw) {
                Some(QuoteProblem::Stray) => Err(bad(
                    line,
                    "",
                    "stray_quote",
                    crate::text!(
                        "未加引号的字段中出现引号",
                        "a quote inside an unquoted field"
                    ),
                )),
                Some(QuoteProblem::TextAfter) => Err(bad(
                    line,
                    "",
                    "text_after_quote",
                    crate::text!("闭合引号之后还有文字", "text after a closing quote"),
                )),
                Some(QuoteProblem::Unterminated) => Err(bad(
                    line,
                    "",
                    "unterminated_quote",
                    crate::text!(
                        "引号字段直到请求体结束仍未闭合",
                        "a quoted field is not closed before the end of the body"
                    ),
                )),
                // A line of blanks is no record.
                None if record.len() == 1 && record[0].trim().is_empty() && !raw.contains('"') => {
                    continue;
                }
                None => Ok(CsvRecord {
                    line,
                    fields: record.iter().map(str::to_string).collect(),
                }),
            });
        }
        None
    }
}

/// What RFC 4180 forbids and the `csv` crate reads leniently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteProblem {
    /// `x"y`: a quote inside an unquoted field.
    Stray,
    /// `"x"y`: text after the closing quote of a field.
    TextAfter,
    /// `"x…` to the end of the body.
    Unterminated,
}

/// Checks the quoting of one record's raw text (as the `csv` reader delimited it).
fn quote_problem(raw: &str) -> Option<QuoteProblem> {
    let mut found = None;
    for field in raw_fields(raw) {
        let problem = match field.strip_prefix('"') {
            None if field.contains('"') => Some(QuoteProblem::Stray),
            None => None,
            Some(rest) => {
                // Inside: doubled quotes; the first single quote closes the field.
                let mut chars = rest.chars();
                let mut closed_at = None;
                let mut i = 0;
                while let Some(c) = chars.next() {
                    if c == '"' {
                        if chars.clone().next() == Some('"') {
                            chars.next();
                            i += 2;
                            continue;
                        }
                        closed_at = Some(i);
                        break;
                    }
                    i += c.len_utf8();
                }
                match closed_at {
                    None => Some(QuoteProblem::Unterminated),
                    Some(at) if !rest[at + 1..].is_empty() => Some(QuoteProblem::TextAfter),
                    Some(_) => None,
                }
            }
        };
        // Report the first problem of the record, as a reader going left to right meets it.
        if found.is_none() {
            found = problem;
        }
    }
    found
}

/// Splits a record's raw text at the commas outside quotes, without the line break at its end.
fn raw_fields(raw: &str) -> Vec<&str> {
    let raw = raw.strip_suffix('\n').unwrap_or(raw);
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    let mut fields = Vec::new();
    let (mut begin, mut in_quotes) = (0, false);
    for (i, c) in raw.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                fields.push(&raw[begin..i]);
                begin = i + 1;
            }
            _ => {}
        }
    }
    fields.push(&raw[begin..]);
    fields
}

/// Import applications with their history (admins, into agencies they see).
///
/// The body is `application/x-ndjson` (one object per line: the fields of `POST /requests`
/// plus `receipt_date`, and for closed applications `disposition` with `replied_on`) or
/// `text/csv` with a header row (columns in docs/API.md). Every line is checked before anything
/// is written; any bad line answers 422 `validation_failed` with each problem's `line`
/// (physical, from 1; the CSV header is line 1), `field` and `code` — at most 1000 listed — and
/// nothing is imported. Otherwise all lines are imported in one transaction. Empty lines are
/// skipped. At most 100,000 applications; the body limit is `server.import_body_limit_bytes`.
#[utoipa::path(tag = "bulk", security(("bearer" = [])),
    request_body(description = "NDJSON: one ImportLineDto per line; or CSV with a header row (docs/API.md)",
        content(
            (ImportLineDto = "application/x-ndjson"),
            (String = "text/csv"),
        )),
    responses(
        (status = 201, description = "Imported, all of them", body = ImportResultDto),
        (status = 400, description = "The body could not be read (`invalid_body`); a line that is not JSON is a 422 line error", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "An external reference was taken while importing (`external_reference_taken`); nothing imported", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over `server.import_body_limit_bytes` (`payload_too_large`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body neither application/x-ndjson nor text/csv (`unsupported_media_type`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad lines, each problem with `line`, `field`, `code` (`validation_failed`); nothing imported", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/import/requests")]
pub async fn import_requests(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Refused before a large body is read.
    uc::may_import(&actor)?;
    let format = format_of(&req)?;
    let limit = state.settings.server.import_body_limit_bytes;
    let body = read_body_limited(&req, payload, limit).await?.freeze();
    let source: Box<dyn uc::ImportSource> = match format {
        Format::Ndjson => Box::new(NdjsonSource(body)),
        Format::Csv => Box::new(csv_source(body)?),
    };
    let imported = uc::import(&state, actor, source, ctx.0)
        .await
        .map_err(|e| match format {
            Format::Csv => csv_field_names(e),
            Format::Ndjson => e,
        })?;
    Ok(HttpResponse::Created().json(ImportResultDto {
        imported: imported.len(),
        items: imported
            .into_iter()
            .map(|i| ImportedDto {
                line: i.line,
                id: Uuid::parse_str(&i.id).unwrap_or_default(),
                case_number: i.case_number,
            })
            .collect(),
    }))
}

/// Which applications to export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// The case year: the year of arrival, as in the case number.
    #[param(minimum = 1990)]
    pub year: i32,
    /// Only this agency (within the caller's scope); default: every agency the caller sees.
    pub agency_id: Option<Uuid>,
    /// `true`: identity numbers and credit codes in full — for users with the admin role and
    /// clients with `requests:export_personal` (else 403), and audited
    /// (`personal_data_exported`). Default: masked as lists show them.
    pub personal_data: Option<bool>,
}

/// One line of an export: the application as `GET /requests/{id}` shows it, with its trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportLineDto {
    #[serde(flatten)]
    pub request: RequestDto,
    /// The trail, oldest first (as `GET /requests/{id}/events`).
    pub events: Vec<EventDto>,
}

/// The detail of an application as an export line carries it: identity numbers and credit
/// codes masked as lists show them unless the export is a personal one.
fn export_dto(
    v: &crate::app::requests::RequestView,
    today: chrono::NaiveDate,
    masked: bool,
) -> RequestDto {
    if !masked {
        return request_dto(v, today, false);
    }
    let mut v = v.clone();
    v.app.details.applicant.mask_numbers();
    request_dto(&v, today, false)
}

/// Export a case year's applications in the caller's scope as NDJSON (clerks, supervisors,
/// admins).
///
/// One line per application, in agency then case-number order: the detail of
/// `GET /requests/{id}` with its `events` — identity numbers and credit codes masked as lists
/// show them, unless `personal_data=true` (admins; clients with `requests:export_personal`;
/// audited as `personal_data_exported`). "Of year Y" means the case
/// year, the year of arrival that the case number carries. The body is streamed page by page; a
/// failure midway breaks the connection instead of ending the body, so a complete download is
/// one whose transfer finished.
#[utoipa::path(tag = "bulk", security(("bearer" = [])), params(ExportQuery),
    responses(
        (status = 200, description = "NDJSON, one ExportLineDto per line; `Content-Disposition: attachment; filename=\"requests-Y.ndjson\"`",
            body = ExportLineDto, content_type = "application/x-ndjson",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"requests-Y.ndjson\"`"))),
        (status = 403, description = "Role not allowed (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/export/requests")]
pub async fn export_requests(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: super::extract::Ctx,
    query: ApiQuery<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let plan = uc::export_plan(
        &state,
        actor,
        q.year,
        q.agency_id.map(|u| u.to_string()),
        q.personal_data.unwrap_or(false),
        ctx.0,
    )
    .await?;
    let masked = !plan.personal;
    let year = plan.year;
    let plan = Arc::new(plan);
    let today = state.today();
    let st = state.clone();
    let pages = futures_util::stream::unfold(Some(ExportCursor::default()), move |cursor| {
        let st = st.clone();
        let plan = plan.clone();
        async move {
            let cursor = cursor?;
            match uc::export_page(&st, plan, cursor, uc::EXPORT_CHUNK).await {
                Ok((items, next)) => {
                    let mut buf = Vec::with_capacity(items.len() * 2048);
                    for item in items {
                        let line = ExportLineDto {
                            request: export_dto(&item.view, today, masked),
                            events: item
                                .events
                                .into_iter()
                                .map(super::requests::event_dto)
                                .collect(),
                        };
                        if let Err(e) = serde_json::to_writer(&mut buf, &line) {
                            tracing::error!(error = %e, "export line not serialisable");
                            return Some((Err(std::io::Error::other("export failed")), None));
                        }
                        buf.push(b'\n');
                    }
                    Some((Ok(web::Bytes::from(buf)), next))
                }
                Err(e) => {
                    // The status line is sent: breaking the connection is all that is left.
                    tracing::error!(error = %e, "export failed midway");
                    Some((Err(std::io::Error::other("export failed")), None))
                }
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"requests-{year}.ndjson\""),
        ))
        .streaming(pages))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Read = Result<(u64, Vec<String>), (u64, &'static str)>;

    fn records(text: &str) -> Vec<Read> {
        CsvRecords::new(text)
            .map(|r| match r {
                Ok(r) => Ok((r.line, r.fields)),
                Err(e) => Err((e.line, e.error.code)),
            })
            .collect()
    }

    fn row(line: u64, fields: &[&str]) -> Read {
        Ok((line, fields.iter().map(|f| f.to_string()).collect()))
    }

    #[test]
    fn csv_records_carry_the_physical_line_they_start_on() {
        let text = "a,b\n\"x\ny\",2\n\n3,\"q\"\"q\"\r\n";
        assert_eq!(
            records(text),
            vec![
                row(1, &["a", "b"]),
                row(2, &["x\ny", "2"]),
                row(5, &["3", "q\"q"]),
            ]
        );
    }

    #[test]
    fn malformed_csv_records_are_errors_of_their_line_and_reading_goes_on() {
        let text = "a,b\nx\"y,1\n\"z\"w,2\n3,4\n\"open,5";
        assert_eq!(
            records(text),
            vec![
                row(1, &["a", "b"]),
                Err((2, "stray_quote")),
                Err((3, "text_after_quote")),
                row(4, &["3", "4"]),
                Err((5, "unterminated_quote")),
            ]
        );
    }

    #[test]
    fn quoted_cells_keep_commas_doubled_quotes_and_chinese_text() {
        let text = "a,b\r\n\"某某\"\"公司\"\"，北京\",\"x,y\"\r\n   \r\n\"\",2\r\n";
        assert_eq!(
            records(text),
            vec![
                row(1, &["a", "b"]),
                row(2, &["某某\"公司\"，北京", "x,y"]),
                row(4, &["", "2"]),
            ]
        );
    }

    #[test]
    fn ndjson_skips_empty_lines_and_reports_non_json_by_line() {
        let lines: Vec<ReadLine> = ndjson_lines(b"\n  \nnot json\n[1]\n").collect();
        let errs: Vec<(u64, &str)> = lines
            .iter()
            .filter_map(|l| l.as_ref().err().map(|e| (e.line, e.error.code)))
            .collect();
        assert_eq!(errs, vec![(3, "invalid_json"), (4, "not_an_object")]);
    }
}
