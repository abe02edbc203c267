//! Applications (政府信息公开申请): intake, list, detail, actions, trail, deadline, dashboard, and
//! the applicant's public status look-up.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::instant;
use super::extract::{ApiJson, ApiQuery, Authenticated, Ctx, IfMatch};
use super::idempotency::{Creating, IdempotencyKeyHeader, json_answer, respond};
use super::problem::ApiError;
use crate::app::idempotency::render;
use crate::app::requests::{self as uc, RequestView};
use crate::app::{AppError, AppState, Page};
use crate::domain::clock::Deadline;
use crate::domain::request::{
    ApplicantInput, ApplicantKind, Channel, DetailsPatch, IdDocumentInput, IntakeInput, ListFilter,
    SortKey, State,
};

/// An identity document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdDocumentDto {
    /// `resident_id_card` (checked against GB 11643), `passport` or `other`.
    #[serde(rename = "type")]
    #[schema(value_type = super::dto::IdDocumentTypeCode)]
    pub doc_type: String,
    pub number: String,
}

/// The applicant (申请人).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantDto {
    /// `natural_person`, `commercial_enterprise`, `research_institution`,
    /// `social_welfare_organization`, `legal_service_institution`, `other_organization`.
    #[schema(value_type = super::dto::ApplicantKindCode)]
    pub kind: String,
    /// The person's or the organisation's name.
    pub name: String,
    /// Natural persons.
    pub id_document: Option<IdDocumentDto>,
    /// Organisations: unified social credit code (checked against GB 32100).
    pub credit_code: Option<String>,
    pub contact_person: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
}

impl From<ApplicantDto> for ApplicantInput {
    fn from(a: ApplicantDto) -> Self {
        ApplicantInput {
            kind: a.kind,
            name: a.name,
            id_document: a.id_document.map(|d| IdDocumentInput {
                doc_type: d.doc_type,
                number: d.number,
            }),
            credit_code: a.credit_code,
            contact_person: a.contact_person,
            phone: a.phone,
            email: a.email,
            address: a.address,
        }
    }
}

/// A new application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequestDto {
    /// `in_person`, `letter`, `fax`, `email`, `online` or `other`.
    #[schema(value_type = super::dto::ChannelCode)]
    pub channel: String,
    /// When it physically arrived (evidence), RFC 3339 with offset.
    pub arrived_at: DateTime<FixedOffset>,
    /// Letters needing a signature: the day the agency signed for it (its receipt date).
    pub signed_for_on: Option<NaiveDate>,
    /// The day both sides confirmed receipt (online, fax, email; ordinary letters; other).
    pub confirmed_on: Option<NaiveDate>,
    pub applicant: ApplicantDto,
    /// The information sought.
    pub description: String,
    #[serde(default)]
    pub document_numbers: Vec<String>,
    /// `paper`, `electronic`, `inspection` or `other`.
    #[schema(value_type = Option<super::dto::RequestedFormCode>)]
    pub requested_form: Option<String>,
    /// `post`, `email`, `collect`, `online`, `fax` or `other`.
    #[schema(value_type = Option<super::dto::DeliveryCode>)]
    pub delivery: Option<String>,
    /// The forwarding platform's own reference; unique per agency.
    pub external_reference: Option<String>,
    /// Admins may register for an agency below their own.
    pub agency_id: Option<Uuid>,
    /// The agency by its code, instead of `agency_id`: forwarding platforms (system clients
    /// with `requests:create`) name any agency of their subtree this way.
    pub agency_code: Option<String>,
}

/// The applicant as shown: identity numbers masked in lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicantView {
    #[schema(value_type = super::dto::ApplicantKindCode)]
    pub kind: String,
    pub name: String,
    #[schema(required)]
    pub id_document_type: Option<String>,
    /// Full in the detail view, masked (`110101********1233`) in lists.
    #[schema(required)]
    pub id_document_number: Option<String>,
    #[schema(required)]
    pub credit_code: Option<String>,
    #[schema(required)]
    pub contact_person: Option<String>,
    #[schema(required)]
    pub phone: Option<String>,
    #[schema(required)]
    pub email: Option<String>,
    #[schema(required)]
    pub address: Option<String>,
}

/// An application.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestDto {
    pub id: Uuid,
    pub agency_id: Uuid,
    /// `<agency code>-<year>-<6 digits>`, gapless per agency and year.
    pub case_number: String,
    /// Given to the applicant for the public status look-up.
    pub query_code: String,
    #[schema(value_type = super::dto::ChannelCode)]
    pub channel: String,
    pub arrived_at: DateTime<Utc>,
    #[schema(required)]
    pub signed_for_on: Option<NaiveDate>,
    #[schema(required)]
    pub confirmed_on: Option<NaiveDate>,
    pub applicant: ApplicantView,
    pub description: String,
    pub document_numbers: Vec<String>,
    #[schema(required, value_type = Option<super::dto::RequestedFormCode>)]
    pub requested_form: Option<String>,
    #[schema(required, value_type = Option<super::dto::DeliveryCode>)]
    pub delivery: Option<String>,
    #[schema(required)]
    pub external_reference: Option<String>,
    /// `awaiting_confirmation`, `processing`, `awaiting_correction`, `consulting`,
    /// `awaiting_payment` or `closed`.
    #[schema(value_type = super::dto::StateCode)]
    pub state: String,
    /// 收到申请之日; null while awaiting confirmation.
    #[schema(required)]
    pub receipt_date: Option<NaiveDate>,
    /// 答复期限届满日. While paused, the latest it can be.
    #[schema(required)]
    pub due_date: Option<NaiveDate>,
    /// The due date relies on a year with no loaded calendar.
    pub due_date_provisional: bool,
    /// Open and past the due date (today in the agency's time zone).
    pub overdue: bool,
    /// Replied after the due date.
    pub late: bool,
    /// The disposition code when closed.
    #[schema(required, value_type = Option<super::dto::DispositionCode>)]
    pub disposition: Option<String>,
    #[schema(required)]
    pub closed_on: Option<NaiveDate>,
    /// The day the reply was served on the applicant (送达), when recorded: the applicant's
    /// review and litigation limits run from it (`record_reply_service`).
    #[schema(required)]
    pub reply_served_on: Option<NaiveDate>,
    /// The legal record: `clock` (receipt, correction, pauses, extension, override),
    /// `correction_items`, `consultations`, `fee` (amounts in fen), `reply`.
    #[schema(value_type = super::payloads::WorkflowSchema)]
    pub workflow: Value,
    /// Send as `If-Match` (also the `ETag`).
    pub version: i32,
    #[schema(required)]
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who holds it now (null: nobody yet — registered by a platform or an import, for the
    /// office to assign).
    #[schema(required)]
    pub holder: Option<super::office::HolderDto>,
    /// Warnings the office's own steps raised (never refusals), each explaining itself.
    pub flags: Vec<super::office::FlagDto>,
    /// Detail view only: administrative reviews about this application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviews: Option<Vec<super::remedies::RemedyDto>>,
    /// Detail view only: lawsuits about this application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub litigations: Option<Vec<super::remedies::RemedyDto>>,
    /// Detail view only: warnings, e.g. `act_without_notice` for a step of §5 recorded through
    /// its action without an issued notice (the law's acts are written notices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<super::dto::Warning>>,
}

pub(crate) fn request_dto(v: &RequestView, today: NaiveDate, mask: bool) -> RequestDto {
    let r = &v.app;
    let mut a = r.details.applicant.clone();
    if mask {
        a.mask_numbers();
    }
    RequestDto {
        id: Uuid::parse_str(&r.id).unwrap_or_default(),
        agency_id: Uuid::parse_str(&r.agency_id).unwrap_or_default(),
        case_number: r.case_number.clone(),
        query_code: r.query_code.clone(),
        channel: r.channel.code().to_string(),
        arrived_at: instant(r.arrived_at),
        signed_for_on: r.signed_for_on,
        confirmed_on: r.confirmed_on,
        applicant: ApplicantView {
            kind: a.kind.code().to_string(),
            name: a.name,
            id_document_type: a.id_document_type,
            id_document_number: a.id_document_number,
            credit_code: a.credit_code,
            contact_person: a.contact_person,
            phone: a.phone,
            email: a.email,
            address: a.address,
        },
        description: r.details.description.clone(),
        document_numbers: r.details.document_numbers.clone(),
        requested_form: r.details.requested_form.clone(),
        delivery: r.details.delivery.clone(),
        external_reference: r.details.external_reference.clone(),
        state: r.state().code().to_string(),
        receipt_date: r.receipt_date(),
        due_date: r.due_date,
        due_date_provisional: r.due_provisional,
        overdue: r.is_overdue(today),
        late: r.late(),
        disposition: r.disposition().map(|d| d.code().to_string()),
        closed_on: r.closed_on(),
        reply_served_on: r.workflow.reply.as_ref().and_then(|x| x.served_on),
        workflow: serde_json::to_value(&r.workflow).unwrap_or(Value::Null),
        version: r.version,
        created_by: r.created_by.clone(),
        created_at: instant(r.created_at),
        updated_at: instant(r.updated_at),
        holder: v.holder.as_ref().map(super::office::holder_dto),
        flags: v.flags.iter().map(super::office::flag_dto).collect(),
        reviews: (!mask).then(|| {
            v.remedies
                .iter()
                .filter(|c| c.kind == "review")
                .cloned()
                .map(super::remedies::remedy_dto)
                .collect()
        }),
        warnings: (!mask).then(|| {
            v.acts_without_notice
                .iter()
                .map(|(action, on)| super::dto::Warning {
                    code: "act_without_notice".into(),
                    message: format!(
                        "{}{}未经告知书记录（{}）：请确认书面告知已送达申请人或相关方",
                        on.map(crate::domain::notice::chinese_date)
                            .unwrap_or_default(),
                        action_label(action),
                        action
                    ),
                })
                .collect()
        }),
        litigations: (!mask).then(|| {
            v.remedies
                .iter()
                .filter(|c| c.kind == "litigation")
                .cloned()
                .map(super::remedies::remedy_dto)
                .collect()
        }),
    }
}

/// An application as lists show it (identity numbers masked).
pub fn list_item(v: &RequestView, today: NaiveDate) -> RequestDto {
    request_dto(v, today, true)
}

pub(crate) fn etag(v: &RequestView) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{}\"", v.app.version))
}

/// Register an application (clerks, approvers and admins).
///
/// The receipt date follows the channel (domain.md §3); without the date it needs the
/// application starts in `awaiting_confirmation`. With `Idempotency-Key`, a retry with the same
/// body returns the first answer; the same key with another body is refused (422).
#[utoipa::path(tag = "requests", security(("bearer" = [])), request_body = CreateRequestDto,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, description = "Registered", body = RequestDto),
        (status = 403, description = "Role not allowed (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "External reference taken (`external_reference_taken`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/requests")]
pub async fn create_request(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    body: Creating<CreateRequestDto>,
) -> Result<HttpResponse, ApiError> {
    let Creating { body: dto, key } = body;
    let input = uc::CreateRequest {
        agency_id: dto.agency_id.map(|u| u.to_string()),
        agency_code: dto.agency_code,
        arrived_at: dto.arrived_at,
        intake: IntakeInput {
            channel: dto.channel,
            arrival_date: NaiveDate::MIN,
            arrival_in_future: false,
            signed_for_on: dto.signed_for_on,
            confirmed_on: dto.confirmed_on,
            applicant: dto.applicant.into(),
            description: dto.description,
            document_numbers: dto.document_numbers,
            requested_form: dto.requested_form,
            delivery: dto.delivery,
            external_reference: dto.external_reference,
        },
    };
    let today = state.today();
    let answer = move |v: &RequestView| {
        json_answer(
            StatusCode::CREATED,
            vec![
                ("ETag", format!("\"{}\"", v.app.version)),
                ("Location", format!("/api/v1/requests/{}", v.app.id)),
            ],
            &request_dto(v, today, false),
        )
    };
    let answer = uc::create(&state, actor, input, render(key, answer), ctx.0).await?;
    Ok(respond(answer))
}

/// How a list's `total` was obtained.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TotalKindCode {
    /// Counted.
    Exact,
    /// The database's estimate (PostgreSQL's planner), for a large result.
    Estimate,
    /// At least this many (SQLite, which has no planner estimate: it counts up to 10,001
    /// matches and stops), for a large result.
    AtLeast,
    /// Not counted (`total=none`): `total` is null.
    None,
}

/// The total a list asks for (`total`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TotalWantedCode {
    Exact,
    Estimate,
    None,
}

/// A page of applications.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestListEnvelope {
    /// The items of this page.
    pub items: Vec<RequestDto>,
    /// The page returned, from 1 (1 for a page reached by cursor).
    pub page: i64,
    /// Items per page asked for.
    pub per_page: i64,
    /// Items matching the filters, over all pages, as `total_kind` says; null when not counted.
    pub total: Option<i64>,
    /// How `total` was obtained: `exact`, `estimate` or `none`.
    pub total_kind: TotalKindCode,
    /// Pass as `cursor` (with the same sort and filters) for the next page; null on the last
    /// page.
    pub next_cursor: Option<String>,
}

/// The order of the application list: a key, prefixed `-` for descending.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum RequestSortCode {
    #[serde(rename = "received")]
    Received,
    #[serde(rename = "-received")]
    ReceivedDesc,
    #[serde(rename = "due")]
    Due,
    #[serde(rename = "-due")]
    DueDesc,
    #[serde(rename = "created")]
    Created,
    #[serde(rename = "-created")]
    CreatedDesc,
    #[serde(rename = "case_number")]
    CaseNumber,
    #[serde(rename = "-case_number")]
    CaseNumberDesc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequestListQuery {
    /// One state, or several separated by commas (`state=processing,consulting`).
    #[param(value_type = Option<Vec<super::dto::StateCode>>, style = Form, explode = false)]
    pub state: Option<String>,
    #[param(value_type = Option<super::dto::ChannelCode>)]
    pub channel: Option<String>,
    #[param(value_type = Option<super::dto::ApplicantKindCode>)]
    pub applicant_kind: Option<String>,
    /// Receipt date on or after.
    pub received_from: Option<NaiveDate>,
    /// Receipt date on or before.
    pub received_to: Option<NaiveDate>,
    /// Due date before this day.
    pub due_before: Option<NaiveDate>,
    /// Open and past the due date (true), or not (false).
    pub overdue: Option<bool>,
    /// Replied after the due date.
    pub late: Option<bool>,
    #[param(value_type = Option<super::dto::DispositionCode>)]
    pub disposition: Option<String>,
    pub external_reference: Option<String>,
    /// Part of the case number, applicant name or description.
    pub q: Option<String>,
    /// Only this agency (within the caller's scope).
    pub agency_id: Option<Uuid>,
    /// Only applications carrying this flag (warnings the office's own steps raised;
    /// `reply_at_risk` is judged on today's date).
    #[param(value_type = Option<super::office::FlagCode>)]
    pub flag: Option<String>,
    /// `received`, `due`, `created` or `case_number`; prefix `-` for descending. Default `-created`.
    /// Ties break on the id, so the order is total.
    #[param(value_type = Option<RequestSortCode>)]
    pub sort: Option<String>,
    /// Page number (offset paging). Deep pages cost more with depth: prefer `cursor`.
    /// Not together with `cursor`.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Keyset paging: the `next_cursor` of the previous page, passed back unchanged with the
    /// same `sort` and filters; every page costs the same at any depth. A cursor of another
    /// sort is a 400 `cursor_sort_mismatch`, a damaged one a 400 `invalid_cursor`.
    #[param(pattern = r"^[A-Za-z0-9_-]{1,1024}$", max_length = 1024)]
    pub cursor: Option<String>,
    /// `exact` counts the matches; `estimate` gives the database's estimate (PostgreSQL's
    /// planner); `none` skips the count. Default: exact up to 10,000 matches, an estimate
    /// beyond (not counted at all when the planner expects over 20,000, or over 2,000 with
    /// `q`, whose count reads every match). SQLite has no planner estimate: for `estimate`
    /// and by default it counts up to 10,001 matches and, beyond 10,000, answers `at_least`;
    /// a `q` of over 5,000 matches beside filters of over 20,000 rows, fewer than the
    /// matches, is estimated (text and filters taken as independent).
    /// A last page of page numbers is always exact (unless `none`), counted from the page
    /// itself. `total_kind` in the answer says which was given.
    #[param(value_type = Option<TotalWantedCode>)]
    pub total: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

fn bad_query(field: &str, message: crate::domain::text::Text) -> ApiError {
    AppError::field(field, "invalid_value", message).into()
}

/// List applications in the caller's scope. Identity numbers are masked.
#[utoipa::path(tag = "requests", security(("bearer" = [])), params(RequestListQuery),
    responses((status = 200, description = "Applications", body = RequestListEnvelope)))]
#[get("/requests")]
pub async fn list_requests(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: ApiQuery<RequestListQuery>,
) -> Result<web::Json<RequestListEnvelope>, ApiError> {
    let q = query.0;
    if q.cursor.is_some() && q.page.is_some() {
        return Err(AppError::field(
            "page",
            "conflicting_fields",
            crate::text!(
                "page 与 cursor 只能给出其一",
                "give page or cursor, not both"
            ),
        )
        .into());
    }
    let page = Page::parse(q.page, q.per_page)?;
    let total = match q.total.as_deref() {
        None => uc::TotalWanted::Auto,
        Some("exact") => uc::TotalWanted::Exact,
        Some("estimate") => uc::TotalWanted::Estimate,
        Some("none") => uc::TotalWanted::None,
        Some(_) => {
            return Err(bad_query(
                "total",
                crate::text!(
                    "须为 exact、estimate 或 none",
                    "must be exact, estimate or none"
                ),
            ));
        }
    };
    let today = state.today();
    let mut states = Vec::new();
    if let Some(s) = &q.state {
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            states.push(State::parse(part).ok_or_else(|| {
                bad_query(
                    "state",
                    crate::text!("未知的状态代码", "unknown state code"),
                )
            })?);
        }
    }
    let channel = q
        .channel
        .as_deref()
        .map(|c| {
            Channel::parse(c).ok_or_else(|| {
                bad_query(
                    "channel",
                    crate::text!("未知的申请渠道代码", "unknown channel code"),
                )
            })
        })
        .transpose()?;
    let applicant_kind = q
        .applicant_kind
        .as_deref()
        .map(|c| {
            ApplicantKind::parse(c).ok_or_else(|| {
                bad_query(
                    "applicant_kind",
                    crate::text!("未知的申请人类型", "unknown applicant kind"),
                )
            })
        })
        .transpose()?;
    let disposition = q
        .disposition
        .as_deref()
        .map(|c| {
            crate::domain::disposition::Disposition::parse(c).ok_or_else(|| {
                bad_query(
                    "disposition",
                    crate::text!("未知的答复类型代码", "unknown disposition code"),
                )
            })
        })
        .transpose()?;
    if let (Some(a), Some(b)) = (q.received_from, q.received_to)
        && a > b
    {
        return Err(AppError::field(
            "received_from",
            "from_after_to",
            crate::text!("不能晚于 received_to", "must not be after received_to"),
        )
        .into());
    }
    let sort_raw = q.sort.as_deref().unwrap_or("-created");
    let (desc, key) = match sort_raw.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, sort_raw),
    };
    let key = SortKey::parse(key).ok_or_else(|| {
        bad_query(
            "sort",
            crate::text!(
                "须为 received、due、created 或 case_number，可加前缀 - 表示倒序",
                "must be received, due, created or case_number, optionally with -"
            ),
        )
    })?;
    let filter = ListFilter {
        states,
        channel,
        applicant_kind,
        received_from: q.received_from,
        received_to: q.received_to,
        due_before: q.due_before,
        overdue_on: q.overdue.map(|o| (o, today)),
        late: q.late,
        disposition,
        external_reference: q.external_reference,
        q: q.q
            .filter(|s| !s.trim().is_empty())
            .map(|s| crate::domain::validation::nfc(&s)),
        agency_id: q.agency_id.map(|u| u.to_string()),
        flag: match q.flag.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) if crate::domain::office::FLAG_CODES.contains(&f) => Some(f.to_string()),
            Some(_) => {
                return Err(crate::app::AppError::Validation(vec![
                    crate::app::office::unknown_flag(),
                ])
                .into());
            }
            None => None,
        },
        reply_risk_before: None,
    };
    let paged = uc::list(
        &state,
        actor,
        uc::ListQuery {
            filter,
            sort: (key, desc),
            page,
            cursor: q.cursor,
            total,
        },
    )
    .await?;
    let (total, total_kind) = match paged.total {
        uc::ListTotal::Exact(n) => (Some(n), TotalKindCode::Exact),
        uc::ListTotal::Estimate(n) => (Some(n), TotalKindCode::Estimate),
        uc::ListTotal::AtLeast(n) => (Some(n), TotalKindCode::AtLeast),
        uc::ListTotal::None => (None, TotalKindCode::None),
    };
    Ok(web::Json(RequestListEnvelope {
        items: paged
            .items
            .iter()
            .map(|v| request_dto(v, today, true))
            .collect(),
        page: paged.page.page,
        per_page: paged.page.per_page,
        total,
        total_kind,
        next_cursor: paged.next_cursor,
    }))
}

/// Which forwarded application.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ByReferenceQuery {
    /// The agency's code.
    pub agency_code: String,
    /// The forwarding platform's own reference, as sent at intake.
    pub external_reference: String,
}

/// Read a forwarded application by the platform's reference (with `ETag`).
///
/// For platforms that forward applications: the answer carries our `case_number`,
/// `query_code`, `state` and `due_date`.
#[utoipa::path(tag = "requests", security(("bearer" = [])),
    params(ByReferenceQuery),
    responses((status = 200, description = "The application", body = RequestDto)))]
#[get("/requests/by-reference")]
pub async fn get_request_by_reference(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: ApiQuery<ByReferenceQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let v = uc::get_by_reference(&state, actor, q.agency_code, q.external_reference).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(&v))
        .json(request_dto(&v, state.today(), false)))
}

/// Read one application (with `ETag`).
#[utoipa::path(tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Application id")),
    responses((status = 200, description = "The application", body = RequestDto)))]
#[get("/requests/{id}")]
pub async fn get_request(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = uc::get(&state, actor, path.into_inner().to_string()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(&v))
        .json(request_dto(&v, state.today(), false)))
}

/// Corrections of intake details; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRequestDto {
    /// Replaces the applicant as a whole.
    pub applicant: Option<ApplicantDto>,
    pub description: Option<String>,
    pub document_numbers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::dto::double_option")]
    #[schema(value_type = Option<super::dto::RequestedFormCode>)]
    pub requested_form: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::dto::double_option")]
    #[schema(value_type = Option<super::dto::DeliveryCode>)]
    pub delivery: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::dto::double_option")]
    #[schema(value_type = Option<String>)]
    pub external_reference: Option<Option<String>>,
}

/// Correct intake details of an open application (needs `If-Match`). Dates that drive the
/// clock are changed only by actions.
#[utoipa::path(tag = "requests", security(("bearer" = [])), request_body = PatchRequestDto,
    params(("id" = Uuid, Path, description = "Application id"), ("If-Match" = String, Header, description = "The version read")),
    responses(
        (status = 200, description = "Corrected", body = RequestDto),
        (status = 409, description = "Closed (`application_closed`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[patch("/requests/{id}")]
pub async fn patch_request(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PatchRequestDto>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let patch = DetailsPatch {
        applicant: b.applicant.map(Into::into),
        description: b.description,
        document_numbers: b.document_numbers,
        requested_form: b.requested_form,
        delivery: b.delivery,
        external_reference: b.external_reference,
    };
    let v = uc::patch(
        &state,
        actor,
        path.into_inner().to_string(),
        patch,
        if_match.0,
        ctx.0,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(&v))
        .json(request_dto(&v, state.today(), false)))
}

/// One step of an application's trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDto {
    /// 1, 2, 3 … per application.
    pub seq: i32,
    pub occurred_at: DateTime<Utc>,
    #[schema(required)]
    pub actor_user_id: Option<Uuid>,
    /// The user name, or `system`.
    pub actor: String,
    /// `intake`, `import`, `intake_corrected`, `retimed`, or an action name.
    #[schema(value_type = super::dto::TrailActionCode)]
    pub action: String,
    /// The date of the step.
    #[schema(required)]
    pub on: Option<NaiveDate>,
    #[schema(required, value_type = Option<super::dto::StateCode>)]
    pub state_before: Option<String>,
    #[schema(value_type = super::dto::StateCode)]
    pub state_after: String,
    #[schema(value_type = super::payloads::StepPayloadSchema)]
    pub payload: Value,
}

/// The audit trail of an application, oldest first; never rewritten.
#[utoipa::path(tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Application id")),
    responses((status = 200, description = "The events", body = Vec<EventDto>)))]
#[get("/requests/{id}/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<EventDto>>, ApiError> {
    let rows = uc::events(&state, actor, path.into_inner().to_string()).await?;
    Ok(web::Json(rows.into_iter().map(event_dto).collect()))
}

/// A trail step as the API shows it.
pub(crate) fn event_dto(e: crate::app::requests::TrailEvent) -> EventDto {
    EventDto {
        seq: e.seq,
        occurred_at: instant(e.occurred_at),
        actor_user_id: e.actor_user_id.and_then(|u| Uuid::parse_str(&u).ok()),
        actor: e.actor,
        action: e.action,
        on: e.on,
        state_before: e.state_before,
        state_after: e.state_after,
        payload: e.payload,
    }
}

/// The due date and how it was computed, step by step.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineDto {
    pub request_id: Uuid,
    pub case_number: String,
    pub today: NaiveDate,
    /// The clock's result: status, receipt date, clock start and its rule, reply period,
    /// extension, paused working days, due date (and the computed one before an override),
    /// provisional, working days remaining (negative: overdue), late, the correction, payment
    /// and consultation windows, and `trace`: every rule applied, each with `rule`, dates,
    /// `working_days`, `detail` and the `article`.
    #[schema(value_type = super::payloads::DeadlineSchema)]
    pub deadline: Value,
}

/// The explained deadline.
#[utoipa::path(tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Application id")),
    responses((status = 200, description = "The deadline", body = DeadlineDto)))]
#[get("/requests/{id}/deadline")]
pub async fn get_deadline(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<web::Json<DeadlineDto>, ApiError> {
    let (v, d): (RequestView, Deadline) =
        uc::deadline(&state, actor, path.into_inner().to_string()).await?;
    Ok(web::Json(DeadlineDto {
        request_id: Uuid::parse_str(&v.app.id).unwrap_or_default(),
        case_number: v.app.case_number,
        today: state.today(),
        deadline: serde_json::to_value(&d).unwrap_or(Value::Null),
    }))
}

/// Counts for the caller's scope.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardDto {
    pub today: NaiveDate,
    /// Applications per state code (every state listed, zeros included).
    pub by_state: std::collections::BTreeMap<String, i64>,
    /// Open, due today or within the next 3 working days.
    pub due_within_3_working_days: i64,
    /// Open and past the due date.
    pub overdue: i64,
    /// Closed this calendar year after the due date.
    pub replied_late_this_year: i64,
    /// Agencies in scope whose report of last year is not published (at most 200, in tree
    /// order), with the statutory deadline (art. 49) and the days left or overdue.
    pub unpublished_reports: Vec<UnpublishedReportDto>,
    /// How many agencies in scope have not published last year's report.
    pub unpublished_reports_total: i64,
    /// Open applications per holding department (a department's members' included).
    pub by_department: Vec<super::office::DepartmentCountDto>,
    /// Open applications per holding person.
    pub by_holder: Vec<super::office::HolderCountDto>,
    /// Open applications nobody holds yet.
    pub unassigned: i64,
    /// Open applications handed to a department and not yet claimed.
    pub awaiting_claim: i64,
    /// Applications (open or closed) per stored flag; `reply_at_risk` is judged per read and
    /// listed with `GET /requests?flag=reply_at_risk`.
    pub flags: std::collections::BTreeMap<String, i64>,
}

/// Last year's report of one agency, not yet published.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnpublishedReportDto {
    pub agency_id: Uuid,
    pub agency_code: String,
    pub agency_name: String,
    pub year: i32,
    /// 31 January of the next year for a department, 31 March for a people's government.
    pub deadline: NaiveDate,
    /// Calendar days left until the deadline; negative: overdue by that many days.
    pub days_left: i64,
    /// Past its deadline.
    pub overdue: bool,
}

/// Deadline dashboard.
#[utoipa::path(tag = "requests", security(("bearer" = [])),
    responses((status = 200, description = "Counts", body = DashboardDto)))]
#[get("/dashboard")]
pub async fn dashboard(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<web::Json<DashboardDto>, ApiError> {
    let d = uc::dashboard(&state, actor).await?;
    let mut by_state: std::collections::BTreeMap<String, i64> = crate::domain::request::State::ALL
        .iter()
        .map(|s| (s.code().to_string(), 0))
        .collect();
    for (s, n) in d.by_state {
        by_state.insert(s, n);
    }
    Ok(web::Json(DashboardDto {
        today: d.today,
        by_state,
        due_within_3_working_days: d.due_within_3_working_days,
        overdue: d.overdue,
        replied_late_this_year: d.replied_late_this_year,
        unpublished_reports: d
            .unpublished_reports
            .into_iter()
            .map(|u| UnpublishedReportDto {
                agency_id: Uuid::parse_str(&u.agency_id).unwrap_or_default(),
                agency_code: u.agency_code,
                agency_name: u.agency_name,
                year: u.year,
                deadline: u.deadline,
                days_left: u.days_left,
                overdue: u.days_left < 0,
            })
            .collect(),
        unpublished_reports_total: d.unpublished_reports_total,
        by_department: d
            .office
            .by_department
            .into_iter()
            .map(|(id, name, open)| super::office::DepartmentCountDto {
                department_id: id.as_deref().and_then(|i| Uuid::parse_str(i).ok()),
                name,
                open,
            })
            .collect(),
        by_holder: d
            .office
            .by_holder
            .into_iter()
            .map(|(id, name, open)| super::office::HolderCountDto {
                user_id: Uuid::parse_str(&id).unwrap_or_default(),
                name,
                open,
            })
            .collect(),
        unassigned: d.office.unassigned,
        awaiting_claim: d.office.awaiting_claim,
        flags: d.office.flags.into_iter().collect(),
    }))
}

/// The applicant's look-up.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PublicStatusQuery {
    pub case_number: String,
    pub query_code: String,
}

/// What the applicant sees: nothing personal.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicStatusDto {
    pub case_number: String,
    #[schema(value_type = super::dto::StateCode)]
    pub state: String,
    #[schema(required)]
    pub receipt_date: Option<NaiveDate>,
    #[schema(required)]
    pub due_date: Option<NaiveDate>,
    #[schema(required)]
    pub replied_on: Option<NaiveDate>,
}

/// Status for applicants, without login: a wrong pair answers 404; limited per client address.
#[utoipa::path(tag = "public", params(PublicStatusQuery), responses(
    (status = 200, description = "The status", body = PublicStatusDto),
    (status = 404, description = "No application with this case number and query code (`not_found`)", body = super::problem::Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many look-ups from this address (`too_many_requests`)", body = super::problem::Problem, content_type = "application/problem+json"),
))]
#[get("/public/status")]
pub async fn public_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: ApiQuery<PublicStatusQuery>,
) -> Result<web::Json<PublicStatusDto>, ApiError> {
    let client = super::extract::client_addr(&req, &state.settings.server);
    let q = query.0;
    let s = uc::public_status(&state, client, q.case_number, q.query_code).await?;
    Ok(web::Json(PublicStatusDto {
        case_number: s.case_number,
        state: s.state,
        receipt_date: s.receipt_date,
        due_date: s.due_date,
        replied_on: s.replied_on,
    }))
}

/// The Chinese name of an act, for people.
fn action_label(action: &str) -> &'static str {
    match action {
        "request_correction" => "补正告知",
        "extend" => "延期答复",
        "start_consultation" => "征求意见",
        "issue_fee_notice" => "收费通知",
        "override_deadline" => "延迟答复",
        "reply" => "答复",
        "close_uncorrected" | "close_unpaid" => "视为放弃申请",
        _ => "办理步骤",
    }
}
