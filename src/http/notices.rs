//! Notices (告知书): drafted from the case, checked against the law, approved, issued.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{double_option, instant};
use super::extract::{ApiJson, Authenticated, Ctx, IfMatch};
use super::problem::ApiError;
use crate::app::notices::{self as uc, Change, NoticeView};
use crate::app::{AppError, AppState};
use crate::domain::notice::{Finding, NoticeType};

/// Where a notice stands.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum NoticeStateCode {
    Draft,
    Submitted,
    Approved,
    Issued,
}

/// A step of a notice's approval record.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum NoticeDecisionCode {
    Submitted,
    Approved,
    Returned,
}

/// A section of a letter.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SectionKeyCode {
    Recipient,
    Opening,
    Details,
    Items,
    Consequence,
    Decision,
    Basis,
    Provision,
    Contact,
    Period,
    Payment,
    Remedy,
    Office,
}

/// The kinds of notice.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum NoticeTypeCode {
    Receipt,
    Correction,
    Extension,
    Consultation,
    ObjectionOverride,
    Fee,
    DelayedReply,
    Reply,
    Closure,
}

/// One section of the letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct SectionDto {
    /// `recipient`, `opening`, `details`, `items`, `consequence`, `decision`, `basis`,
    /// `provision`, `contact`, `period`, `payment`, `remedy`, `office`.
    #[schema(value_type = SectionKeyCode)]
    pub key: String,
    pub text: String,
    /// The office's own text (from `paragraphs`).
    pub edited: bool,
}

/// What the check found.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingDto {
    /// A finding code (docs/API.md, "Notices").
    pub code: String,
    /// `error` (blocks submitting, approving and issuing) or `warning`.
    #[schema(value_type = super::dto::SeverityCode)]
    pub severity: String,
    /// Where: `fields.…`, `paragraphs.…`, `letterhead.…` or `text`.
    pub field: String,
    /// In Chinese.
    pub message: String,
}

impl From<&Finding> for FindingDto {
    fn from(f: &Finding) -> Self {
        FindingDto {
            code: f.code.to_string(),
            severity: match f.severity {
                crate::domain::notice::Severity::Error => "error".into(),
                crate::domain::notice::Severity::Warning => "warning".into(),
            },
            field: f.field.clone(),
            message: f.message.clone(),
        }
    }
}

/// One step of the approval record.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalDto {
    /// `submitted`, `approved` or `returned`.
    #[schema(value_type = NoticeDecisionCode)]
    pub decision: String,
    pub by: String,
    pub at: DateTime<Utc>,
    #[schema(required)]
    pub opinion: Option<String>,
}

/// One service attempt as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAttemptDto {
    #[schema(value_type = ServiceMethodCode)]
    pub method: String,
    pub sent_on: NaiveDate,
    #[schema(required)]
    pub served_on: Option<NaiveDate>,
    #[schema(required)]
    pub returned_on: Option<NaiveDate>,
    #[schema(required)]
    pub tracking_number: Option<String>,
    #[schema(required)]
    pub signed_by: Option<String>,
    #[schema(required)]
    pub note: Option<String>,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// A notice.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeDto {
    pub id: Uuid,
    pub request_id: Uuid,
    pub agency_id: Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = NoticeTypeCode)]
    pub kind: String,
    /// `draft`, `submitted`, `approved` or `issued`.
    #[schema(value_type = NoticeStateCode)]
    pub state: String,
    /// The notice's date (its act's date).
    pub on: NaiveDate,
    /// The fields of the act it performs, as sent (the body of the matching action).
    #[schema(value_type = super::payloads::NoticeFieldsSchema)]
    pub fields: Value,
    /// The office's own text for sections, by key.
    pub paragraphs: BTreeMap<String, String>,
    pub title: String,
    /// 发文字号, once issued.
    #[schema(required)]
    pub number: Option<String>,
    pub sections: Vec<SectionDto>,
    /// The whole letter as printed; once issued, the frozen text.
    pub text: String,
    /// The check's findings (none once issued).
    pub findings: Vec<FindingDto>,
    /// This type must be approved before it is issued.
    pub needs_approval: bool,
    pub approvals: Vec<ApprovalDto>,
    /// Service attempts (送达), in the order recorded.
    pub service: Vec<ServiceAttemptDto>,
    /// The day it was served (the first attempt that reached its recipient).
    #[schema(required)]
    pub served_on: Option<NaiveDate>,
    #[schema(required)]
    pub issued_on: Option<NaiveDate>,
    /// SHA-256 (hex) of the issued text.
    #[schema(required)]
    pub text_sha256: Option<String>,
    /// Send as `If-Match` (also the `ETag`).
    pub version: i32,
    #[schema(required)]
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn dto(v: NoticeView) -> NoticeDto {
    NoticeDto {
        id: Uuid::parse_str(&v.id).unwrap_or_default(),
        request_id: Uuid::parse_str(&v.request_id).unwrap_or_default(),
        agency_id: Uuid::parse_str(&v.agency_id).unwrap_or_default(),
        kind: v.kind.code().to_string(),
        state: v.state,
        on: v.on,
        fields: v.fields,
        paragraphs: v.paragraphs,
        title: v.letter.title.clone(),
        number: v.number,
        sections: v
            .letter
            .sections
            .iter()
            .map(|s| SectionDto {
                key: s.key.to_string(),
                text: s.text.clone(),
                edited: s.edited,
            })
            .collect(),
        text: v.text,
        findings: v.findings.iter().map(FindingDto::from).collect(),
        needs_approval: v.needs_approval,
        approvals: v
            .approvals
            .into_iter()
            .map(|a| ApprovalDto {
                decision: a.decision,
                by: a.by,
                at: instant(a.at),
                opinion: a.opinion,
            })
            .collect(),
        service: v
            .service
            .into_iter()
            .map(|a| ServiceAttemptDto {
                method: serde_json::to_value(a.method)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                sent_on: a.sent_on,
                served_on: a.served_on,
                returned_on: a.returned_on,
                tracking_number: a.tracking_number,
                signed_by: a.signed_by,
                note: a.note,
                recorded_by: a.recorded_by,
                recorded_at: instant(a.recorded_at),
            })
            .collect(),
        served_on: v.served_on,
        issued_on: v.issued_on,
        text_sha256: v.text_sha256,
        version: v.version,
        created_by: v.created_by,
        created_at: instant(v.created_at),
        updated_at: instant(v.updated_at),
    }
}

fn ok(v: NoticeView) -> HttpResponse {
    let d = dto(v);
    HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", d.version)))
        .json(d)
}

const PARSE: uc::FieldParser = super::actions::parse_notice_fields;

/// A new notice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "reply", "fields": {"on": "2026-03-10", "disposition": "denied.state_secret", "reason": "您申请的信息经依法确定为国家秘密。", "legal_basis": "《中华人民共和国政府信息公开条例》第十四条"}}))]
pub struct CreateNoticeDto {
    #[serde(rename = "type")]
    #[schema(value_type = NoticeTypeCode)]
    pub kind: String,
    /// The body of the act the notice performs — `reply`: `ReplyBody`; `correction`:
    /// `RequestCorrectionBody`; `extension`: `ExtendBody`; `consultation`:
    /// `StartConsultationBody`; `fee`: `IssueFeeNoticeBody`; `delayed_reply`:
    /// `OverrideDeadlineBody`; `objection_override`: `ObjectionNoticeBody`; `receipt` and
    /// `closure`: `NoticeDateBody`.
    #[schema(value_type = super::payloads::NoticeFieldsSchema)]
    pub fields: Value,
    /// The office's own text for sections, by key.
    #[serde(default)]
    pub paragraphs: BTreeMap<String, String>,
}

/// Draft a notice from the case and the letterhead, with the text the law requires; the
/// answer shows the letter and what the check found.
#[utoipa::path(tag = "notices", security(("bearer" = [])), request_body = CreateNoticeDto,
    params(("id" = Uuid, Path, description = "Application id")),
    responses(
        (status = 201, description = "Drafted", body = NoticeDto),
        (status = 404, description = "No such application in your scope", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (`fields.…`, `paragraphs.…`, `type`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/requests/{id}/notices")]
pub async fn create_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    body: ApiJson<CreateNoticeDto>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let kind = NoticeType::parse(&b.kind)
        .ok_or_else(|| AppError::field("type", "unknown_code", notice_types()))?;
    let new = uc::NewNotice {
        kind,
        fields: b.fields,
        paragraphs: b.paragraphs,
    };
    let v = uc::create(
        &state,
        actor,
        path.into_inner().to_string(),
        new,
        PARSE,
        ctx.0,
    )
    .await?;
    let d = dto(v);
    Ok(HttpResponse::Created()
        .insert_header(("ETag", format!("\"{}\"", d.version)))
        .insert_header(("Location", format!("/api/v1/notices/{}", d.id)))
        .json(d))
}

/// The notices of an application, oldest first.
#[utoipa::path(tag = "notices", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Application id")),
    responses((status = 200, description = "Notices", body = Vec<NoticeDto>)))]
#[get("/requests/{id}/notices")]
pub async fn list_notices(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<NoticeDto>>, ApiError> {
    let v = uc::of_request(&state, actor, path.into_inner().to_string(), PARSE).await?;
    Ok(web::Json(v.into_iter().map(dto).collect()))
}

/// A notice: its fields, the letter, the findings, the state and the approvals.
#[utoipa::path(tag = "notices", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Notice id")),
    responses(
        (status = 200, description = "The notice", body = NoticeDto),
        (status = 404, description = "No such notice in your scope", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/notices/{id}")]
pub async fn get_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(uc::get(
        &state,
        actor,
        path.into_inner().to_string(),
        PARSE,
    )
    .await?))
}

/// A change of a draft's fields or paragraphs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchNoticeDto {
    /// The act's fields, whole (as on creation).
    #[schema(value_type = Option<super::payloads::NoticeFieldsSchema>)]
    pub fields: Option<Value>,
    /// The office's own sections, whole (`{}` returns every section to the law's text).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub paragraphs: Option<Option<BTreeMap<String, String>>>,
}

type Answer = Result<HttpResponse, ApiError>;

async fn step(
    state: web::Data<AppState>,
    actor: crate::domain::access::Actor,
    ctx: Ctx,
    id: Uuid,
    change: Change,
    if_match: IfMatch,
) -> Answer {
    Ok(ok(uc::change(
        &state,
        actor,
        id.to_string(),
        change,
        if_match.0,
        PARSE,
        ctx.0,
    )
    .await?))
}

/// Change a draft (`If-Match`): the letter is composed and checked again.
#[utoipa::path(tag = "notices", security(("bearer" = [])), request_body = PatchNoticeDto,
    params(("id" = Uuid, Path, description = "Notice id"), ("If-Match" = String, Header, description = "The version read")),
    responses(
        (status = 200, description = "Changed", body = NoticeDto),
        (status = 409, description = "Not a draft (`invalid_transition`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[patch("/notices/{id}")]
pub async fn patch_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PatchNoticeDto>,
) -> Answer {
    let b = body.0;
    let change = Change::Edit {
        fields: b.fields,
        paragraphs: b.paragraphs.map(Option::unwrap_or_default),
    };
    step(state, actor, ctx, path.into_inner(), change, if_match).await
}

/// Submit a draft for approval (`If-Match`); refused while an error finding stands.
#[utoipa::path(tag = "notices", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Notice id"), ("If-Match" = String, Header, description = "The version read")),
    responses(
        (status = 200, description = "Submitted", body = NoticeDto),
        (status = 409, description = "Not a draft (`invalid_transition`); an error finding (`notice_has_errors`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/notices/{id}/submit")]
pub async fn submit_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
) -> Answer {
    step(
        state,
        actor,
        ctx,
        path.into_inner(),
        Change::Submit,
        if_match,
    )
    .await
}

/// An approver's opinion.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveDto {
    pub opinion: Option<String>,
}

/// Approve a submitted notice (approvers, `If-Match`); refused while an error finding stands.
#[utoipa::path(tag = "notices", security(("bearer" = [])), request_body = ApproveDto,
    params(("id" = Uuid, Path, description = "Notice id"), ("If-Match" = String, Header, description = "The version read")),
    responses(
        (status = 200, description = "Approved", body = NoticeDto),
        (status = 403, description = "Not an approver (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not submitted (`invalid_transition`); an error finding (`notice_has_errors`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/notices/{id}/approve")]
pub async fn approve_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<ApproveDto>,
) -> Answer {
    let change = Change::Approve {
        opinion: body.0.opinion,
    };
    step(state, actor, ctx, path.into_inner(), change, if_match).await
}

/// Why a notice goes back to its drafter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnDto {
    pub comments: String,
}

/// Return a submitted or approved notice to draft, with comments (approvers, `If-Match`).
#[utoipa::path(tag = "notices", security(("bearer" = [])), request_body = ReturnDto,
    params(("id" = Uuid, Path, description = "Notice id"), ("If-Match" = String, Header, description = "The version read")),
    responses(
        (status = 200, description = "Returned to draft", body = NoticeDto),
        (status = 403, description = "Not an approver (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not submitted or approved (`invalid_transition`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/notices/{id}/return")]
pub async fn return_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<ReturnDto>,
) -> Answer {
    let change = Change::Return {
        comments: body.0.comments,
    };
    step(state, actor, ctx, path.into_inner(), change, if_match).await
}

/// Issue the notice (`If-Match`): approved ones, or drafts of types that need no approval
/// (`receipt`, `correction`, `consultation`, `closure`). Issuing numbers it (gapless per agency,
/// year and pattern), freezes its text (SHA-256 on record) and performs its act on the notice's
/// date in the same transaction — a correction notice moves the application to
/// `awaiting_correction`, a reply closes it.
#[utoipa::path(tag = "notices", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Notice id"), ("If-Match" = String, Header, description = "The version read")),
    responses(
        (status = 200, description = "Issued", body = NoticeDto),
        (status = 409, description = "Needs approval (`approval_required`); an error finding (`notice_has_errors`); the act is not allowed now (its own code)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/notices/{id}/issue")]
pub async fn issue_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
) -> Answer {
    step(
        state,
        actor,
        ctx,
        path.into_inner(),
        Change::Issue,
        if_match,
    )
    .await
}

/// How a notice was served.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ServiceMethodCode {
    InPerson,
    Post,
    Email,
    Online,
    Fax,
    Announcement,
}

/// One attempt to serve an issued notice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"method": "post", "sent_on": "2026-03-10", "served_on": "2026-03-13", "tracking_number": "1151234567890"}))]
pub struct ServiceDto {
    /// `in_person` (with `signed_by`), `post` (with `tracking_number`), `email`, `online`,
    /// `fax`, `announcement` (served 30 days after `sent_on`, the publication; record it once
    /// they have passed, without `served_on`).
    #[schema(value_type = ServiceMethodCode)]
    pub method: crate::domain::notice::ServiceMethod,
    pub sent_on: NaiveDate,
    /// The day it reached the recipient (the signature, the return receipt, the message's
    /// arrival); absent while under way.
    pub served_on: Option<NaiveDate>,
    /// Returned undelivered: not served; record another attempt.
    pub returned_on: Option<NaiveDate>,
    pub tracking_number: Option<String>,
    pub signed_by: Option<String>,
    pub note: Option<String>,
}

/// Record a service attempt (送达) of an issued notice (`If-Match`). The first served attempt
/// starts the other side's clock on the application: a consultation's 15 working days
/// (`record_consultation_receipt`), a fee notice's 20 (`record_fee_notice_receipt`), a reply's
/// or closure's review and litigation limits (`record_reply_service`).
#[utoipa::path(tag = "notices", security(("bearer" = [])), request_body = ServiceDto,
    params(("id" = Uuid, Path, description = "Notice id"), ("If-Match" = String, Header, description = "The version read")),
    responses(
        (status = 200, description = "Recorded", body = NoticeDto),
        (status = 409, description = "Not issued (`invalid_transition`); already served (`notice_already_served`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (`before_issue`, `before_sending`, `in_future`, `required`, `announcement_period_running`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/notices/{id}/service")]
pub async fn serve_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<ServiceDto>,
) -> Answer {
    let b = body.0;
    let change = Change::Serve(crate::domain::notice::ServiceInput {
        method: b.method,
        sent_on: b.sent_on,
        served_on: b.served_on,
        returned_on: b.returned_on,
        tracking_number: b.tracking_number,
        signed_by: b.signed_by,
        note: b.note,
    });
    step(state, actor, ctx, path.into_inner(), change, if_match).await
}

/// The applicant's look-up of their notices.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PublicNoticesQuery {
    pub case_number: String,
    pub query_code: String,
}

/// An issued notice as its applicant sees it in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicNoticeDto {
    pub id: Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = NoticeTypeCode)]
    pub kind: String,
    pub title: String,
    #[schema(required)]
    pub number: Option<String>,
    #[schema(required)]
    pub issued_on: Option<NaiveDate>,
    /// The day it was served (for an online download: the first download).
    #[schema(required)]
    pub served_on: Option<NaiveDate>,
}

/// The issued notices of an application, for its applicant, without login (case number and
/// query code; a wrong pair answers 404; limited per address with the status look-up).
#[utoipa::path(tag = "public", params(PublicNoticesQuery), responses(
    (status = 200, description = "The issued notices", body = Vec<PublicNoticeDto>),
    (status = 404, description = "No application with this case number and query code (`not_found`)", body = super::problem::Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many look-ups from this address (`too_many_requests`)", body = super::problem::Problem, content_type = "application/problem+json"),
))]
#[get("/public/notices")]
pub async fn public_notices(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    query: super::extract::ApiQuery<PublicNoticesQuery>,
) -> Result<web::Json<Vec<PublicNoticeDto>>, ApiError> {
    let client = super::extract::client_addr(&req, &state.settings.server);
    let q = query.0;
    let list = uc::public_list(&state, client, q.case_number, q.query_code, PARSE).await?;
    Ok(web::Json(
        list.into_iter()
            .map(|v| PublicNoticeDto {
                id: Uuid::parse_str(&v.id).unwrap_or_default(),
                kind: v.kind.code().to_string(),
                title: v.letter.title.clone(),
                number: v.number,
                issued_on: v.issued_on,
                served_on: v.served_on,
            })
            .collect(),
    ))
}

/// Which notice types need approval before issue, for an agency.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeSettingsDto {
    pub agency_id: Uuid,
    /// The version of the agency's own setting (0 while it has none); also the `ETag`.
    pub version: i32,
    /// The agency's own list (`null`: inherited).
    #[schema(required, value_type = Option<Vec<NoticeTypeCode>>)]
    pub approval_required: Option<Vec<String>>,
    /// What applies: its own, else the nearest agency above that sets one, else the defaults
    /// (`reply`, `extension`, `delayed_reply`, `fee`, `objection_override`).
    #[schema(value_type = Vec<NoticeTypeCode>)]
    pub effective: Vec<String>,
    /// The agency above whose list applies (`null`: its own, or the defaults).
    #[schema(required)]
    pub inherited_from: Option<Uuid>,
    #[schema(required)]
    pub updated_by: Option<String>,
    #[schema(required)]
    pub updated_at: Option<DateTime<Utc>>,
}

fn settings_answer(v: uc::NoticeSettingsView) -> HttpResponse {
    let codes = |l: &[NoticeType]| l.iter().map(|t| t.code().to_string()).collect::<Vec<_>>();
    let d = NoticeSettingsDto {
        agency_id: Uuid::parse_str(&v.agency_id).unwrap_or_default(),
        version: v.version,
        approval_required: v.own.as_deref().map(codes),
        effective: codes(&v.effective),
        inherited_from: v
            .inherited_from
            .as_deref()
            .and_then(|i| Uuid::parse_str(i).ok()),
        updated_by: v.updated_by,
        updated_at: v.updated_at.map(instant),
    };
    HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", d.version)))
        .json(d)
}

fn present_list<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Vec<String>>, D::Error> {
    Option::<Vec<String>>::deserialize(de)
}

/// The agency's own setting: a list of types, or `null` to inherit again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"approval_required": ["reply", "extension", "delayed_reply", "fee", "objection_override", "correction"]}))]
pub struct PutNoticeSettingsDto {
    #[serde(deserialize_with = "present_list")]
    #[schema(value_type = Option<Vec<NoticeTypeCode>>, required = true)]
    pub approval_required: Option<Vec<String>>,
}

/// Which notice types an agency must approve before issue (inherited down the tree).
#[utoipa::path(tag = "notices", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id")),
    responses(
        (status = 200, description = "The setting", body = NoticeSettingsDto),
        (status = 404, description = "No such agency in your scope", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/agencies/{id}/notice-settings")]
pub async fn get_notice_settings(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Answer {
    Ok(settings_answer(
        uc::get_settings(&state, actor, path.into_inner().to_string()).await?,
    ))
}

/// Set which notice types the agency must approve before issue (admins of the agency or above,
/// `If-Match`: `"0"` before the first); `null` inherits again. Each change is audited.
#[utoipa::path(tag = "notices", security(("bearer" = [])), request_body = PutNoticeSettingsDto,
    params(("id" = Uuid, Path, description = "Agency id"), ("If-Match" = String, Header, description = "The version read, e.g. \"0\"")),
    responses(
        (status = 200, description = "The setting", body = NoticeSettingsDto),
        (status = 403, description = "Not an admin of the agency (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown type (`unknown_code`) or the field missing (`required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[put("/agencies/{id}/notice-settings")]
pub async fn put_notice_settings(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PutNoticeSettingsDto>,
) -> Answer {
    let list = match body.0.approval_required {
        None => None,
        Some(codes) => {
            let mut types = Vec::new();
            let mut errors = Vec::new();
            for (i, c) in codes.iter().enumerate() {
                match NoticeType::parse(c) {
                    Some(t) => types.push(t),
                    None => errors.push(crate::domain::validation::FieldError::new(
                        format!("approval_required[{i}]"),
                        "unknown_code",
                        notice_types(),
                    )),
                }
            }
            if !errors.is_empty() {
                return Err(AppError::Validation(errors).into());
            }
            Some(types)
        }
    };
    let v = uc::put_settings(
        &state,
        actor,
        path.into_inner().to_string(),
        list,
        if_match.0,
        ctx.0,
    )
    .await?;
    Ok(settings_answer(v))
}

/// The message for a code that is not a notice type.
fn notice_types() -> crate::domain::text::Text {
    crate::text!(
        "不是告知书类型；须为 receipt、correction、extension、consultation、objection_override、fee、delayed_reply、reply 或 closure",
        "not a notice type: receipt, correction, extension, consultation, objection_override, fee, delayed_reply, reply or closure"
    )
}
