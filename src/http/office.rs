//! Work inside the office: departments, hand-overs of an application between desks
//! (分办 / 签收 / 转办 / 退回 / 协办), the caller's queue, and the flags shown on applications.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{ListEnvelope, PageQuery, instant};
use super::extract::{ApiJson, ApiQuery, Authenticated, Ctx, IfMatch};
use super::problem::ApiError;
use super::requests::{RequestDto, etag, request_dto};
use crate::app::office::{
    self as uc, ConsultationView, DepartmentView, FlagView, HandoverInput, HolderView, QueueItem,
};
use crate::app::{AppState, Page};

/// A flag code: a warning an office's own steps raised about an application.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagCode {
    /// A correction asked for on the last day of its 7-working-day window, or for an item the
    /// application already states.
    StallingCorrection,
    /// An extension decided on the due date itself.
    LateExtension,
    /// The office extends more than the set share of its cases (90 days).
    ExtensionHabit,
    /// A consultation started in the last 3 working days before the due date.
    ConsultationAsDelay,
    /// The same applicant asked for the same document, or similar information, within 12 months.
    PossibleRepeat,
    /// More applications from the applicant in 30 days than the setting (art. 35).
    HighVolumeApplicant,
    /// Open, fewer than 3 working days left, no reply letter drafted.
    ReplyAtRisk,
}

/// A warning about an application: never a refusal.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagDto {
    #[schema(value_type = FlagCode)]
    pub code: String,
    /// Why, in Chinese: which cases, which numbers, which setting.
    pub explanation: String,
    /// The same in English.
    pub explanation_en: String,
    /// The figures the explanation rests on (dates, counts, the setting).
    #[schema(value_type = FlagFactsSchema)]
    pub facts: serde_json::Value,
    /// The applications it concerns (e.g. the earlier application a repeat asks again for:
    /// cite it in a `not_processed.repeated` reply).
    pub related_request_ids: Vec<Uuid>,
}

pub fn flag_dto(f: &FlagView) -> FlagDto {
    FlagDto {
        code: f.code.clone(),
        explanation: f.explanation.zh().unwrap_or(f.explanation.en()).to_string(),
        explanation_en: f.explanation.en().to_string(),
        facts: f.facts.clone(),
        related_request_ids: f
            .related_request_ids
            .iter()
            .filter_map(|i| Uuid::parse_str(i).ok())
            .collect(),
    }
}

/// The figures a flag's explanation rests on; which members appear depends on the flag.
#[derive(ToSchema)]
#[schema(as = FlagFacts)]
#[allow(dead_code)]
pub struct FlagFactsSchema {
    /// `stalling_correction`.
    requested_on: Option<NaiveDate>,
    window_end: Option<NaiveDate>,
    items_already_stated: Option<Vec<String>>,
    /// `late_extension`.
    decided_on: Option<NaiveDate>,
    /// `late_extension`, `consultation_as_delay`, `reply_at_risk`.
    due_date: Option<NaiveDate>,
    /// `consultation_as_delay`.
    started_on: Option<NaiveDate>,
    /// `consultation_as_delay`, `reply_at_risk` (negative: overdue).
    working_days_left: Option<i64>,
    /// `extension_habit`.
    cases_90_days: Option<u32>,
    extended_90_days: Option<u32>,
    share: Option<f64>,
    /// `high_volume_applicant`.
    applications_30_days: Option<u32>,
    /// `possible_repeat`: the earlier applications found.
    matches: Option<Vec<RepeatMatchSchema>>,
    /// The setting the flag compares with.
    setting: Option<f64>,
}

/// An earlier application a `possible_repeat` found.
#[derive(ToSchema)]
#[schema(as = RepeatMatch)]
#[allow(dead_code)]
pub struct RepeatMatchSchema {
    request_id: Uuid,
    case_number: String,
    /// The document numbers both ask for.
    document_numbers: Vec<String>,
    /// Trigram similarity of the descriptions (0–1).
    similarity: f64,
}

/// Who holds an open application now.
#[derive(Debug, Serialize, ToSchema)]
pub struct HolderDto {
    /// The person holding it (assigned by name, or after a claim).
    #[schema(required)]
    pub user_id: Option<Uuid>,
    #[schema(required)]
    pub user_name: Option<String>,
    /// The department holding it.
    #[schema(required)]
    pub department_id: Option<Uuid>,
    #[schema(required)]
    pub department_name: Option<String>,
    /// Handed to the department and not yet claimed (待签收).
    pub awaiting_claim: bool,
    /// When the holder received it.
    #[schema(required)]
    pub since: Option<DateTime<Utc>>,
}

pub fn holder_dto(h: &HolderView) -> HolderDto {
    HolderDto {
        user_id: h.user_id.as_deref().and_then(|u| Uuid::parse_str(u).ok()),
        user_name: h.user_name.clone(),
        department_id: h
            .department_id
            .as_deref()
            .and_then(|u| Uuid::parse_str(u).ok()),
        department_name: h.department_name.clone(),
        awaiting_claim: h.awaiting_claim,
        since: h.since.map(instant),
    }
}

// ---------------------------------------------------------------------------------------------
// Departments
// ---------------------------------------------------------------------------------------------

/// A department (业务处室) of an agency.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentDto {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Active members who can hold an application (clerk, approver or admin).
    pub members: Vec<MemberDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDto {
    pub user_id: Uuid,
    pub name: String,
}

fn department_dto(d: DepartmentView) -> DepartmentDto {
    DepartmentDto {
        id: Uuid::parse_str(&d.id).unwrap_or_default(),
        agency_id: Uuid::parse_str(&d.agency_id).unwrap_or_default(),
        name: d.name,
        created_at: instant(d.created_at),
        members: d
            .members
            .into_iter()
            .map(|(id, name)| MemberDto {
                user_id: Uuid::parse_str(&id).unwrap_or_default(),
                name,
            })
            .collect(),
    }
}

/// A new department.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "法规处"}))]
pub struct CreateDepartmentBody {
    /// Unique in the agency; at most 100 characters.
    pub name: String,
}

/// Create a department of an agency (admins of its subtree).
#[utoipa::path(tag = "office", security(("bearer" = [])), request_body = CreateDepartmentBody,
    params(("id" = Uuid, Path, description = "Agency id")),
    responses(
        (status = 201, description = "Created", body = DepartmentDto),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken (`department_name_taken`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/agencies/{id}/departments")]
pub async fn create_department(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    body: ApiJson<CreateDepartmentBody>,
) -> Result<HttpResponse, ApiError> {
    let d = uc::create_department(
        &state,
        actor,
        path.into_inner().to_string(),
        body.0.name,
        ctx.0,
    )
    .await?;
    Ok(HttpResponse::Created().json(department_dto(d)))
}

/// The departments of an agency, by name.
#[utoipa::path(tag = "office", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), PageQuery),
    responses((status = 200, description = "Departments", body = ListEnvelope<DepartmentDto>)))]
#[get("/agencies/{id}/departments")]
pub async fn list_departments(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<ListEnvelope<DepartmentDto>>, ApiError> {
    let page = Page::parse(query.0.page, query.0.per_page)?;
    let paged = uc::list_departments(&state, actor, path.into_inner().to_string(), page).await?;
    Ok(web::Json(ListEnvelope::from_paged(paged, department_dto)))
}

// ---------------------------------------------------------------------------------------------
// Hand-overs
// ---------------------------------------------------------------------------------------------

async fn handed(
    state: web::Data<AppState>,
    actor: crate::domain::access::Actor,
    ctx: Ctx,
    id: Uuid,
    if_match: IfMatch,
    input: HandoverInput,
) -> Result<HttpResponse, ApiError> {
    let v = uc::hand_over(&state, actor, id.to_string(), input, if_match.0, ctx.0).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(&v))
        .json(request_dto(&v, state.today(), false)))
}

/// 分办: to a person (who holds it at once) or a department (which claims it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"department_id": "6f1c2b9e-8a5d-4f3e-9c1a-2b7d4e6f8a90", "note": "请法规处承办"}))]
pub struct AssignBody {
    /// A user of the application's agency with a handling role; or `department_id`.
    pub user_id: Option<Uuid>,
    /// A department of the application's agency with an active member; or `user_id`.
    pub department_id: Option<Uuid>,
    pub note: Option<String>,
}

/// Assign an application (分办) to a person or a department.
///
/// By its holder, or an approver or admin. Needs `If-Match`. Changes neither the state nor the
/// clock; the trail records who, from whom, to whom.
#[utoipa::path(tag = "office", security(("bearer" = [])), request_body = AssignBody,
    params(("id" = Uuid, Path, description = "Application id"),
           ("If-Match" = String, Header, description = "The version read, e.g. \"3\"")),
    responses(
        (status = 200, description = "Assigned", body = RequestDto),
        (status = 409, description = "`not_holder`, `already_holder`, `holder_cannot_hold`, `application_closed`", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/requests/{id}/assign")]
pub async fn assign(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<AssignBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let input = HandoverInput::Assign {
        user_id: b.user_id.map(|u| u.to_string()),
        department_id: b.department_id.map(|u| u.to_string()),
        note: b.note,
    };
    handed(state, actor, ctx, path.into_inner(), if_match, input).await
}

/// 签收.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct ClaimBody {
    pub note: Option<String>,
}

/// Claim an application handed to one's department (签收).
///
/// By a member of the holding department. Needs `If-Match`.
#[utoipa::path(tag = "office", security(("bearer" = [])), request_body = ClaimBody,
    params(("id" = Uuid, Path, description = "Application id"),
           ("If-Match" = String, Header, description = "The version read, e.g. \"3\"")),
    responses(
        (status = 200, description = "Claimed", body = RequestDto),
        (status = 409, description = "`not_in_holding_department`, `already_claimed`, `nothing_to_claim`, `application_closed`", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/requests/{id}/claim")]
pub async fn claim(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<ClaimBody>,
) -> Result<HttpResponse, ApiError> {
    let input = HandoverInput::Claim { note: body.0.note };
    handed(state, actor, ctx, path.into_inner(), if_match, input).await
}

/// 转办.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"department_id": "6f1c2b9e-8a5d-4f3e-9c1a-2b7d4e6f8a90", "reason": "所申请信息由财务处掌握"}))]
pub struct TransferBody {
    /// Another department of the application's agency, with an active member.
    pub department_id: Uuid,
    /// Why (required).
    pub reason: String,
}

/// Transfer an application to another department (转办), with a reason.
///
/// By its holder, or an approver or admin. Needs `If-Match`.
#[utoipa::path(tag = "office", security(("bearer" = [])), request_body = TransferBody,
    params(("id" = Uuid, Path, description = "Application id"),
           ("If-Match" = String, Header, description = "The version read, e.g. \"3\"")),
    responses(
        (status = 200, description = "Transferred", body = RequestDto),
        (status = 409, description = "`not_holder`, `same_department`, `holder_cannot_hold`, `application_closed`", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/requests/{id}/transfer")]
pub async fn transfer(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<TransferBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let input = HandoverInput::Transfer {
        department_id: b.department_id.to_string(),
        reason: b.reason,
    };
    handed(state, actor, ctx, path.into_inner(), if_match, input).await
}

/// 退回.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "非本处室职责范围"}))]
pub struct ReturnBody {
    /// Why (required).
    pub reason: String,
}

/// Return an application to the one who handed it over (退回), with a reason.
///
/// By its holder, or an approver or admin. Needs `If-Match`.
#[utoipa::path(tag = "office", security(("bearer" = [])), request_body = ReturnBody,
    params(("id" = Uuid, Path, description = "Application id"),
           ("If-Match" = String, Header, description = "The version read, e.g. \"3\"")),
    responses(
        (status = 200, description = "Returned", body = RequestDto),
        (status = 409, description = "`not_holder`, `nothing_to_return`, `application_closed`", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/requests/{id}/return")]
pub async fn return_to_sender(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<ReturnBody>,
) -> Result<HttpResponse, ApiError> {
    let input = HandoverInput::Return {
        reason: body.0.reason,
    };
    handed(state, actor, ctx, path.into_inner(), if_match, input).await
}

// ---------------------------------------------------------------------------------------------
// Internal consultations
// ---------------------------------------------------------------------------------------------

/// An internal consultation (协办) and its answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct InternalConsultationDto {
    pub id: Uuid,
    pub request_id: Uuid,
    pub department_id: Uuid,
    pub department_name: String,
    pub question: String,
    #[schema(required)]
    pub asked_by: Option<Uuid>,
    pub asked_at: DateTime<Utc>,
    /// Null until the department answers.
    #[schema(required)]
    pub answer: Option<String>,
    #[schema(required)]
    pub answered_by: Option<Uuid>,
    #[schema(required)]
    pub answered_at: Option<DateTime<Utc>>,
}

fn consultation_dto(c: ConsultationView) -> InternalConsultationDto {
    let r = c.row;
    let uuid = |s: &str| Uuid::parse_str(s).unwrap_or_default();
    InternalConsultationDto {
        id: uuid(&r.id),
        request_id: uuid(&r.request_id),
        department_id: uuid(&r.department_id),
        department_name: c.department_name,
        question: r.question,
        asked_by: r.asked_by.as_deref().and_then(|u| Uuid::parse_str(u).ok()),
        asked_at: instant(r.asked_at),
        answer: r.answer,
        answered_by: r
            .answered_by
            .as_deref()
            .and_then(|u| Uuid::parse_str(u).ok()),
        answered_at: r.answered_at.map(instant),
    }
}

/// The application after a consultation step, and the consultation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationAnswer {
    pub application: RequestDto,
    pub consultation: InternalConsultationDto,
}

/// 协办.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"department_id": "6f1c2b9e-8a5d-4f3e-9c1a-2b7d4e6f8a90", "question": "请提供2025年度项目资金拨付明细"}))]
pub struct ConsultInternallyBody {
    /// Another department of the application's agency, with an active member.
    pub department_id: Uuid,
    /// What the department is asked to contribute.
    pub question: String,
}

/// Ask another department to contribute (协办); the holder keeps the application.
///
/// By its holder, or an approver or admin. Needs `If-Match`.
#[utoipa::path(tag = "office", security(("bearer" = [])), request_body = ConsultInternallyBody,
    params(("id" = Uuid, Path, description = "Application id"),
           ("If-Match" = String, Header, description = "The version read, e.g. \"3\"")),
    responses(
        (status = 201, description = "Asked", body = ConsultationAnswer),
        (status = 409, description = "`not_holder`, `same_department`, `holder_cannot_hold`, `application_closed`", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/requests/{id}/consult-internally")]
pub async fn consult_internally(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<ConsultInternallyBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let (v, c) = uc::consult_internally(
        &state,
        actor,
        path.into_inner().to_string(),
        b.department_id.to_string(),
        b.question,
        if_match.0,
        ctx.0,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(etag(&v))
        .json(ConsultationAnswer {
            application: request_dto(&v, state.today(), false),
            consultation: consultation_dto(c),
        }))
}

/// The consulted department's answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"answer": "明细见附件，可以公开"}))]
pub struct AnswerInternalConsultationBody {
    pub answer: String,
}

/// Record a department's answer to an internal consultation (once).
///
/// By a member of the consulted department, or an approver or admin. Needs the application's
/// `If-Match`.
#[utoipa::path(tag = "office", security(("bearer" = [])), request_body = AnswerInternalConsultationBody,
    params(("id" = Uuid, Path, description = "Application id"),
           ("consultation_id" = Uuid, Path, description = "Internal consultation id"),
           ("If-Match" = String, Header, description = "The application's version read, e.g. \"3\"")),
    responses(
        (status = 200, description = "Answered", body = ConsultationAnswer),
        (status = 409, description = "`not_in_consulted_department`, `already_answered`", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/requests/{id}/internal-consultations/{consultation_id}/answer")]
pub async fn answer_internal_consultation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<(Uuid, Uuid)>,
    if_match: IfMatch,
    body: ApiJson<AnswerInternalConsultationBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, cid) = path.into_inner();
    let (v, c) = uc::answer_internal_consultation(
        &state,
        actor,
        id.to_string(),
        cid.to_string(),
        body.0.answer,
        if_match.0,
        ctx.0,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(&v))
        .json(ConsultationAnswer {
            application: request_dto(&v, state.today(), false),
            consultation: consultation_dto(c),
        }))
}

/// The internal consultations of an application, oldest first.
#[utoipa::path(tag = "office", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Application id")),
    responses((status = 200, description = "Internal consultations", body = Vec<InternalConsultationDto>)))]
#[get("/requests/{id}/internal-consultations")]
pub async fn list_internal_consultations(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<InternalConsultationDto>>, ApiError> {
    let rows = uc::internal_consultations(&state, actor, path.into_inner().to_string()).await?;
    Ok(web::Json(rows.into_iter().map(consultation_dto).collect()))
}

// ---------------------------------------------------------------------------------------------
// Queue
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// A department's queue (approvers, admins, supervisors).
    pub department_id: Option<Uuid>,
    /// A person's queue (approvers, admins, supervisors).
    pub holder_user_id: Option<Uuid>,
    /// The applications nobody holds yet (approvers, admins, supervisors).
    pub unassigned: Option<bool>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// The next statutory step of an application.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextStepDto {
    /// `correction_window_end` (last day to ask for a correction), `correction_reply_by`,
    /// `consultation_window_end`, `payment_window_end` or `due_date`.
    pub code: String,
    /// In Chinese.
    pub label: String,
    pub date: NaiveDate,
    /// Working days from today; negative: passed.
    #[schema(required)]
    pub working_days_left: Option<i64>,
}

/// One application in a queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItemDto {
    pub application: RequestDto,
    /// Working days to the due date; negative: overdue by that many.
    #[schema(required)]
    pub working_days_left: Option<i64>,
    pub overdue: bool,
    /// The earliest statutory step ahead.
    #[schema(required)]
    pub next_step: Option<NextStepDto>,
}

fn queue_item(q: QueueItem, today: NaiveDate) -> QueueItemDto {
    QueueItemDto {
        application: request_dto(&q.view, today, true),
        working_days_left: q.working_days_left,
        overdue: q.overdue,
        next_step: q.next_step.map(|n| NextStepDto {
            code: n.code.to_string(),
            label: n.label().zh().unwrap_or(n.label().en()).to_string(),
            date: n.date,
            working_days_left: q.next_step_working_days_left,
        }),
    }
}

/// My queue: the open applications I hold and those my department holds (awaiting a claim
/// included), overdue first, then by the next statutory step's date.
///
/// Approvers, admins and supervisors may look at a department's (`department_id`), a person's
/// (`holder_user_id`) or the unassigned applications (`unassigned=true`) of their agency.
#[utoipa::path(tag = "office", security(("bearer" = [])), params(QueueQuery),
    responses(
        (status = 200, description = "Queue", body = ListEnvelope<QueueItemDto>),
        (status = 403, description = "Another's queue without the role (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/me/queue")]
pub async fn my_queue(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: ApiQuery<QueueQuery>,
) -> Result<web::Json<ListEnvelope<QueueItemDto>>, ApiError> {
    let q = query.0;
    let page = Page::parse(q.page, q.per_page)?;
    let filter = uc::QueueFilter {
        department_id: q.department_id.map(|u| u.to_string()),
        holder_user_id: q.holder_user_id.map(|u| u.to_string()),
        unassigned: q.unassigned.unwrap_or(false),
    };
    let today = state.today();
    let paged = uc::queue(&state, actor, filter, page).await?;
    Ok(web::Json(ListEnvelope::from_paged(paged, |q| {
        queue_item(q, today)
    })))
}

/// Open applications of one department.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentCountDto {
    #[schema(required)]
    pub department_id: Option<Uuid>,
    #[schema(required)]
    pub name: Option<String>,
    pub open: i64,
}

/// Open applications of one holder.
#[derive(Debug, Serialize, ToSchema)]
pub struct HolderCountDto {
    pub user_id: Uuid,
    pub name: String,
    pub open: i64,
}

/// A reminder sent (or recorded) to the holder of an application.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderDto {
    pub id: Uuid,
    /// `due_soon` (due within `reminders.due_within_working_days`), `window_ending` (a
    /// correction, consultation or payment window ends on the next working day), `unclaimed`
    /// (handed to a department, not claimed for a working day).
    pub kind: String,
    /// What it is about: the due date, `<window>:<date>`, or the hand-over's instant.
    pub occasion: String,
    #[schema(required)]
    pub holder_user_id: Option<Uuid>,
    #[schema(required)]
    pub holder_department_id: Option<Uuid>,
    /// The addresses it went to.
    pub recipients: Vec<String>,
    pub subject: String,
    pub created_at: DateTime<Utc>,
    /// `pending`, `sent`, `failed` (given up after 5 attempts), `no_recipient` (no address on
    /// file), `mail_off` (no SMTP server configured: the feed event only).
    pub status: String,
    pub attempts: i32,
    #[schema(required)]
    pub sent_at: Option<DateTime<Utc>>,
    #[schema(required)]
    pub last_error: Option<String>,
}

/// The reminders recorded for an application, oldest first.
#[utoipa::path(tag = "office", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Application id")),
    responses((status = 200, description = "Reminders", body = Vec<ReminderDto>)))]
#[get("/requests/{id}/reminders")]
pub async fn list_reminders(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<ReminderDto>>, ApiError> {
    let rows =
        crate::app::reminders::of_request(&state, actor, path.into_inner().to_string()).await?;
    let uuid = |s: Option<&str>| s.and_then(|s| Uuid::parse_str(s).ok());
    Ok(web::Json(
        rows.into_iter()
            .map(|r| ReminderDto {
                id: Uuid::parse_str(&r.id).unwrap_or_default(),
                holder_user_id: uuid(r.holder_user_id.as_deref()),
                holder_department_id: uuid(r.holder_department_id.as_deref()),
                recipients: serde_json::from_str(&r.recipients).unwrap_or_default(),
                kind: r.kind,
                occasion: r.occasion,
                subject: r.subject,
                created_at: instant(r.created_at),
                status: r.status,
                attempts: r.attempts,
                sent_at: r.sent_at.map(instant),
                last_error: r.last_error,
            })
            .collect(),
    ))
}
