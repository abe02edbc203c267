//! Documents on file: an application's papers uploaded as `multipart/form-data`, listed, and
//! downloaded byte for byte.

use actix_multipart::{Field, Multipart};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{ListEnvelope, instant};
use super::extract::{ApiQuery, Authenticated, Ctx};
use super::idempotency::{IdempotencyKeyHeader, fingerprint, header_key, json_answer, respond};
use super::problem::ApiError;
use crate::app::documents::{self as uc, DocumentView, UploadInput};
use crate::app::idempotency::{Key, render};
use crate::app::{AppError, AppState, Page};
use crate::domain::text::Text;
use crate::domain::validation::FieldError;

/// What a document is (stable codes).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DocumentKindCode {
    /// The application letter or form (申请书).
    ApplicationLetter,
    /// The envelope of a posted application; its postmark proves the date (信封).
    Envelope,
    /// A copy of the applicant's identity document (身份证明复印件).
    IdentityCopy,
    /// What the applicant sent to correct the application (补正材料).
    CorrectionMaterial,
    /// A return receipt or signed delivery record (送达回证).
    ProofOfService,
    /// The reply as signed and sealed (签发的答复告知书).
    SignedReply,
    /// Anything else.
    Other,
}

/// The upload form (`multipart/form-data`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadDocumentForm {
    /// The file: PDF, JPEG, PNG, OFD or DOCX, recognised from its content (the part's
    /// Content-Type is not trusted), at most `documents.max_bytes` (20 MiB by default). The
    /// part's `filename` is kept as the document's name (UTF-8).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    pub kind: DocumentKindCode,
    /// A note for the file, at most 2000 characters.
    pub note: Option<String>,
    /// The id of a document of the same application that this one replaces as a new
    /// version; the old one stays downloadable.
    pub supersedes: Option<Uuid>,
}

/// A document's bytes, exactly as uploaded.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct DocumentContent(Vec<u8>);

/// A document on file.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDto {
    pub id: Uuid,
    /// The application it belongs to.
    pub request_id: Uuid,
    pub agency_id: Uuid,
    #[schema(value_type = DocumentKindCode)]
    pub kind: String,
    /// The file name as uploaded (last path segment).
    pub name: String,
    /// Recognised from the content: `application/pdf`, `image/jpeg`, `image/png`,
    /// `application/ofd` or the DOCX type.
    pub media_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the content, lowercase hex; the download's `ETag`.
    pub sha256: String,
    #[schema(required)]
    pub note: Option<String>,
    /// The earlier document this one replaces.
    #[schema(required)]
    pub supersedes: Option<Uuid>,
    /// The later document that replaced this one; null for the current version.
    #[schema(required)]
    pub superseded_by: Option<Uuid>,
    /// 1 for a first upload, one more than the document it supersedes otherwise.
    pub version: i32,
    /// The user name of the uploader.
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
    /// Where to download it.
    pub content_url: String,
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}

fn dto(v: DocumentView) -> DocumentDto {
    DocumentDto {
        content_url: format!("/api/v1/documents/{}/content", v.id),
        id: uuid(&v.id),
        request_id: uuid(&v.request_id),
        agency_id: uuid(&v.agency_id),
        kind: v.kind,
        name: v.name,
        media_type: v.media_type,
        size: v.size,
        sha256: v.sha256,
        note: v.note,
        supersedes: v.supersedes.as_deref().map(uuid),
        superseded_by: v.superseded_by.as_deref().map(uuid),
        version: v.version,
        uploaded_by: v.uploaded_by,
        uploaded_at: instant(v.uploaded_at),
    }
}

/// Room for the form fields and part headers beside the file: a body whose declared length
/// exceeds the file limit by more than this is refused before it is read.
const FORM_OVERHEAD_BYTES: u64 = 64 * 1024;
/// Longest text field read (`kind`, `note`, `supersedes`), in bytes.
const MAX_TEXT_FIELD_BYTES: usize = 16 * 1024;

fn unprocessable(errors: Vec<FieldError>) -> ApiError {
    ApiError::invalid_fields(errors)
}

fn field_error(field: &str, code: &'static str, message: Text) -> FieldError {
    FieldError::new(field, code, message)
}

fn bad_multipart(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "invalid_body",
        crate::text!(
            "multipart/form-data 请求体无法解析：{e}",
            "the multipart body could not be read: {e}"
        ),
    )
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        crate::text!(
            "文件超过 {max} 字节的上限，未保存任何内容",
            "the file is larger than {max} bytes; nothing was kept"
        ),
    )
}

/// Reads the rest of a part without keeping it; false when more than `budget` bytes came.
async fn drain(field: &mut Field, budget: &mut u64) -> Result<bool, ApiError> {
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(bad_multipart)?;
        let n = chunk.len() as u64;
        if n > *budget {
            return Ok(false);
        }
        *budget -= n;
    }
    Ok(true)
}

/// A short text field, as UTF-8.
async fn text(field: &mut Field, name: &str) -> Result<Result<String, FieldError>, ApiError> {
    let mut buf = Vec::new();
    let mut too_long = false;
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(bad_multipart)?;
        if buf.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
            too_long = true;
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    if too_long {
        return Ok(Err(field_error(
            name,
            "too_long",
            crate::text!(
                "至多 {MAX_TEXT_FIELD_BYTES} 字节",
                "at most {MAX_TEXT_FIELD_BYTES} bytes"
            ),
        )));
    }
    Ok(String::from_utf8(buf).map_err(|_| {
        field_error(
            name,
            "invalid_utf8",
            crate::text!("须为 UTF-8", "must be UTF-8"),
        )
    }))
}

/// The part's file name: `filename*` (RFC 5987, UTF-8) or `filename` (browsers send UTF-8).
fn part_file_name(field: &Field) -> Option<String> {
    let cd = field.content_disposition()?;
    if let Some(ext) = cd.get_filename_ext()
        && let Ok(s) = String::from_utf8(ext.value.clone())
    {
        return Some(s);
    }
    cd.get_filename().map(str::to_string)
}

/// Upload a document of the application.
///
/// `multipart/form-data` with a `file` part and a `kind` field (optional `note` and
/// `supersedes`). The file streams to disk while it is hashed; its type is recognised from
/// its content (PDF, JPEG, PNG, OFD, DOCX; anything else answers 422 with
/// `errors[0].code = unsupported_document_type`). Nothing is overwritten: `supersedes` makes
/// the upload a new version of an earlier document of the same application, which stays
/// listed and downloadable. Each upload is one audit event (`document_uploaded`). Clerks,
/// approvers and admins upload; supervisors read.
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Application id"), IdempotencyKeyHeader),
    request_body(content = UploadDocumentForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Kept; `Location` names the document", body = DocumentDto),
        (status = 400, description = "The multipart body could not be read (`invalid_body`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role that only reads (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`supersedes` names a document that already has a later version (`document_already_superseded`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is over `documents.max_bytes` (`payload_too_large`); nothing was kept", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not multipart/form-data (`unsupported_media_type`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing, repeated, unknown or invalid field, each in `errors` (`required`, `too_many`, `unknown_field`, `unknown_code`, `unsupported_document_type`, `unknown_document` …)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/requests/{id}/documents")]
pub async fn upload_document(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let request_id = path.into_inner().to_string();
    let key = header_key(&req)?;
    let is_form = matches!(req.mime_type(), Ok(Some(m)) if m.type_() == "multipart" && m.subtype() == "form-data");
    if !is_form {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            crate::text!(
                "请以 multipart/form-data 上传",
                "send the document as multipart/form-data"
            ),
        ));
    }
    // Scope and role before a byte of the body is read.
    uc::check_upload(&state, &actor, request_id.clone()).await?;
    let max = state.settings.documents.max_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max.saturating_add(FORM_OVERHEAD_BYTES)) {
        return Err(too_large(max));
    }
    let mut form = Multipart::new(req.headers(), payload);
    let mut input = UploadInput::default();
    let mut received = None;
    let mut errors: Vec<FieldError> = Vec::new();
    let mut over_limit = false;
    // What may still be read (and thrown away) after the file went over the limit, so that
    // the client gets its 413 instead of a reset connection.
    let mut drain_budget = max;
    let mut seen: Vec<String> = Vec::new();
    // An empty body is a form without parts (what some clients send for an empty form).
    let empty = declared == Some(0);
    while let Some(part) = if empty { None } else { form.next().await } {
        let mut part = part.map_err(bad_multipart)?;
        let name = part.name().unwrap_or_default().to_string();
        let repeated = seen.contains(&name);
        seen.push(name.clone());
        match name.as_str() {
            "file" if !repeated && !over_limit => {
                input.file_name = part_file_name(&part);
                let mut upload = uc::Upload::begin(&state)?;
                while let Some(chunk) = part.next().await {
                    let chunk = chunk.map_err(bad_multipart)?;
                    if over_limit {
                        let n = chunk.len() as u64;
                        if n > drain_budget {
                            return Err(too_large(max));
                        }
                        drain_budget -= n;
                    } else if upload.size() + chunk.len() as u64 > max {
                        over_limit = true;
                    } else {
                        upload.write(chunk).await?;
                    }
                }
                if over_limit {
                    upload.abort().await;
                } else {
                    received = Some(upload.finish().await?);
                }
            }
            "kind" | "note" | "supersedes" if !repeated => match text(&mut part, &name).await? {
                Ok(v) => match name.as_str() {
                    "kind" => input.kind = Some(v),
                    "note" => input.note = Some(v),
                    _ => input.supersedes = Some(v),
                },
                Err(e) => errors.push(e),
            },
            _ => {
                if !drain(&mut part, &mut drain_budget).await? {
                    return Err(too_large(max));
                }
                if over_limit {
                    continue;
                }
                let known = ["file", "kind", "note", "supersedes"].contains(&name.as_str());
                let code = if known { "too_many" } else { "unknown_field" };
                if !errors.iter().any(|e| e.field == name && e.code == code) {
                    let message = if known {
                        crate::text!("此字段只能出现一次", "this field may appear once")
                    } else {
                        crate::text!(
                            "未知字段 `{name}`；可用字段：file、kind、note、supersedes",
                            "unknown field `{name}`; send file, kind, note, supersedes"
                        )
                    };
                    errors.push(field_error(&name, code, message));
                }
            }
        }
    }
    if over_limit {
        return Err(too_large(max));
    }
    if received.is_none() && !errors.iter().any(|e| e.field == "file") {
        errors.push(field_error(
            "file",
            "required",
            crate::text!("请附上文件", "the `file` part is required"),
        ));
    }
    if input.kind.is_none() && !errors.iter().any(|e| e.field == "kind") {
        errors.push(field_error(
            "kind",
            "required",
            crate::text!("请选择材料类型", "the `kind` field is required"),
        ));
    }
    let Some(received) = received.filter(|_| errors.is_empty()) else {
        return Err(unprocessable(errors));
    };
    let key = key.map(|key| Key {
        fingerprint: fingerprint(
            &format!("{} {}", req.method(), req.path()),
            &json!({
                "kind": input.kind, "note": input.note, "supersedes": input.supersedes,
                "name": input.file_name, "size": received.size(), "sha256": received.sha256(),
            }),
        ),
        key,
    });
    let answer = uc::create(
        &state,
        actor,
        request_id,
        input,
        received,
        ctx.0,
        render(key, |v: &DocumentView| {
            let d = dto(v.clone());
            json_answer(
                StatusCode::CREATED,
                vec![("Location", format!("/api/v1/documents/{}", d.id))],
                &d,
            )
        }),
    )
    .await?;
    Ok(respond(answer))
}

/// Filters of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DocumentListQuery {
    /// Only documents of this kind.
    #[param(value_type = Option<DocumentKindCode>)]
    pub kind: Option<String>,
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// The application's documents, oldest first: every version, each superseded one with
/// `superseded_by`.
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Application id"), DocumentListQuery),
    responses((status = 200, description = "One page of documents", body = ListEnvelope<DocumentDto>)))]
#[get("/requests/{id}/documents")]
pub async fn list_documents(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    query: ApiQuery<DocumentListQuery>,
) -> Result<web::Json<ListEnvelope<DocumentDto>>, ApiError> {
    let q = query.0;
    let page = Page::parse(q.page, q.per_page)?;
    let paged = uc::list(&state, actor, path.into_inner().to_string(), q.kind, page).await?;
    Ok(web::Json(ListEnvelope::from_paged(paged, dto)))
}

/// One document's description.
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses((status = 200, description = "The document", body = DocumentDto)))]
#[get("/documents/{id}")]
pub async fn get_document(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<web::Json<DocumentDto>, ApiError> {
    let v = uc::get(&state, actor, path.into_inner().to_string()).await?;
    Ok(web::Json(dto(v)))
}

/// Download a document, byte for byte as uploaded.
///
/// With its recognised media type, `Content-Disposition: attachment` carrying the name
/// (`filename*=UTF-8''…` for Chinese names), `Content-Length`, and `ETag` = its SHA-256. The
/// content is checked against the SHA-256 before anything is sent: a missing or altered blob
/// answers 500 `stored_record_unreadable` naming the document, never other bytes.
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The content", content((DocumentContent = "application/octet-stream")),
            headers(("ETag" = String, description = "\"<sha256>\""), ("Content-Disposition" = String, description = "attachment; filename=\"…\"; filename*=UTF-8''…"))),
        (status = 500, description = "The stored content is missing or no longer matches its SHA-256 (`stored_record_unreadable`), or an internal error (`internal_error`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/documents/{id}/content")]
pub async fn download_document(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (v, stream) = uc::content(&state, actor, path.into_inner().to_string()).await?;
    let len = u64::try_from(v.size).map_err(|e| ApiError::from(AppError::internal(e)))?;
    let body = stream.map(|r| r.map(web::Bytes::from));
    Ok(HttpResponse::Ok()
        .content_type(v.media_type.as_str())
        .insert_header((header::CONTENT_DISPOSITION, attachment(&v.name)))
        .insert_header((header::ETAG, format!("\"{}\"", v.sha256)))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .no_chunking(len)
        .streaming(body))
}

/// `attachment; filename="<ASCII stand-in>"; filename*=UTF-8''<percent-encoded>` (RFC 6266):
/// clients that read `filename*` get the name exactly, older ones an ASCII approximation.
pub fn attachment(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if keep {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_name_is_percent_encoded_with_an_ascii_stand_in() {
        assert_eq!(
            attachment("申请书 1.pdf"),
            "attachment; filename=\"___ 1.pdf\"; filename*=UTF-8''%E7%94%B3%E8%AF%B7%E4%B9%A6%201.pdf"
        );
        assert_eq!(
            attachment("a\"b.pdf"),
            "attachment; filename=\"a_b.pdf\"; filename*=UTF-8''a%22b.pdf"
        );
    }
}
