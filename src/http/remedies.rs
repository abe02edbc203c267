//! Administrative review (行政复议) and litigation (行政诉讼) records.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{ListEnvelope, double_option, instant};
use super::extract::{ApiJson, ApiQuery, Authenticated, Ctx, IfMatch};
use super::idempotency::{Creating, IdempotencyKeyHeader, json_answer, respond};
use super::problem::ApiError;
use crate::app::idempotency::{Answer, render};
use crate::app::remedies::{
    self as uc, RemedyFilter, RemedyInput, RemedyPatch, RemedyView, bad_filter,
};
use crate::app::{AppError, AppState, Page};
use crate::domain::remedy::{CaseInput, Outcome, RemedyKind, Route, StartBasis};

/// A review or a lawsuit.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemedyDto {
    pub id: Uuid,
    /// `review` or `litigation`.
    #[schema(value_type = super::dto::RemedyKindCode)]
    pub kind: String,
    /// The respondent / defendant agency.
    pub agency_id: Uuid,
    /// The application it concerns, when on record.
    #[schema(required)]
    pub request_id: Option<Uuid>,
    pub applicant_name: String,
    /// Reviews: the reviewing body (复议机关).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewing_body: Option<String>,
    /// Lawsuits: the court.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub court: Option<String>,
    pub filed_on: NaiveDate,
    /// When the agency was notified.
    #[schema(required)]
    pub received_on: Option<NaiveDate>,
    /// When the applicant learned of the act, as entered (the filing limit runs from it).
    #[schema(required)]
    pub act_known_on: Option<NaiveDate>,
    /// Reviews: the day the decision was served on the applicant (a suit after the review has
    /// 15 days from it).
    #[schema(required)]
    pub decision_served_on: Option<NaiveDate>,
    /// Lawsuits: `direct` (未经复议直接起诉) or `after_review` (复议后起诉).
    #[schema(required, value_type = Option<super::dto::RouteCode>)]
    pub route: Option<String>,
    /// Lawsuits after review: the review.
    #[schema(required)]
    pub review_id: Option<Uuid>,
    /// Lawsuits: instance of the latest decision, `first`, `second` or `retrial`.
    #[schema(required, value_type = Option<super::dto::InstanceCode>)]
    pub instance: Option<String>,
    /// `upheld` (reviews only), `claim_rejected`, `revoked`, `varied`, `confirmed_unlawful`,
    /// `confirmed_void`, `ordered_to_act`, `application_rejected`, `withdrawn`, `terminated`,
    /// `mediated`; null while pending.
    #[schema(required, value_type = Option<super::dto::DecisionTypeCode>)]
    pub decision_type: Option<String>,
    #[schema(required)]
    pub decided_on: Option<NaiveDate>,
    /// Derived: `upheld` (结果维持), `corrected` (结果纠正), `other` (其他结果), `pending` (尚未审结).
    #[schema(value_type = super::dto::OutcomeCode)]
    pub outcome: String,
    #[schema(required)]
    pub notes: Option<String>,
    /// The filing limit the case was measured against (information only).
    #[schema(required)]
    pub filing_deadline: Option<NaiveDate>,
    /// `review_60_days`, `direct_suit_6_months` or `suit_after_review_15_days`.
    #[schema(required)]
    pub filing_rule: Option<String>,
    /// The day the filing limit runs from.
    #[schema(required)]
    pub filing_starts_on: Option<NaiveDate>,
    /// What that day is: `act_known_on` (entered), `reply_served_on` (the reply's recorded
    /// service), `reply_date` (the reply's date: provisional), `decision_served_on` (the review
    /// decision's recorded service), `decision_date` (its date: provisional).
    #[schema(required, value_type = Option<super::dto::FilingStartBasisCode>)]
    pub filing_start_basis: Option<String>,
    /// Filed after the limit (never a refusal).
    pub filed_late: bool,
    /// The limit was counted from the act's own date, not from when the applicant learned of
    /// it: record the service to make `filed_late` final.
    pub filed_late_provisional: bool,
    /// Warnings that do not stop recording, e.g. `review_first_required`: a direct suit
    /// against a refusal to disclose replied since 2024-01-01, which the Administrative
    /// Reconsideration Law (art. 23) sends to review first.
    pub warnings: Vec<super::dto::Warning>,
    pub version: i32,
    #[schema(required)]
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}

pub fn remedy_dto(r: impl Into<RemedyView>) -> RemedyDto {
    let r: RemedyView = r.into();
    let review = r.kind == "review";
    RemedyDto {
        id: uuid(&r.id),
        kind: r.kind.clone(),
        agency_id: uuid(&r.agency_id),
        request_id: r.request_id.as_deref().map(uuid),
        applicant_name: r.applicant_name,
        reviewing_body: review.then(|| r.body_name.clone()),
        court: (!review).then_some(r.body_name),
        filed_on: r.filed_on,
        received_on: r.received_on,
        act_known_on: r.act_known_on,
        decision_served_on: r.decision_served_on,
        route: r.route,
        review_id: r.review_id.as_deref().map(uuid),
        instance: r.instance,
        decision_type: r.decision_type,
        decided_on: r.decided_on,
        outcome: r.outcome,
        notes: r.notes,
        filing_deadline: r.filing_deadline,
        filing_rule: r.filing_rule,
        filed_late: r.filed_late,
        filed_late_provisional: r
            .filing_start_basis
            .as_deref()
            .and_then(StartBasis::parse)
            .is_some_and(StartBasis::provisional),
        filing_starts_on: r.filing_starts_on,
        filing_start_basis: r.filing_start_basis,
        warnings: if r.review_first_required {
            vec![super::dto::Warning::review_first_required()]
        } else {
            Vec::new()
        },
        version: r.version,
        created_by: r.created_by,
        created_at: instant(r.created_at),
        updated_at: instant(r.updated_at),
    }
}

/// A new review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReviewDto {
    /// The respondent; the caller's agency by default (admins may name one below).
    pub agency_id: Option<Uuid>,
    /// An application of the same agency.
    pub request_id: Option<Uuid>,
    pub applicant_name: String,
    pub reviewing_body: String,
    pub filed_on: NaiveDate,
    pub received_on: Option<NaiveDate>,
    /// When the applicant learned of the act. Without it the limit runs from the linked
    /// reply's recorded service, else from the reply's date (provisional).
    pub act_known_on: Option<NaiveDate>,
    /// For a case recorded after the fact.
    #[schema(value_type = Option<super::dto::DecisionTypeCode>)]
    pub decision_type: Option<String>,
    pub decided_on: Option<NaiveDate>,
    /// The day the decision was served on the applicant (needs `decided_on`).
    pub decision_served_on: Option<NaiveDate>,
    pub notes: Option<String>,
}

/// A new lawsuit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLitigationDto {
    pub agency_id: Option<Uuid>,
    pub request_id: Option<Uuid>,
    pub applicant_name: String,
    pub court: String,
    /// `direct` or `after_review`.
    #[schema(value_type = super::dto::RouteCode)]
    pub route: String,
    /// Required for `after_review`: a decided review of the same agency.
    pub review_id: Option<Uuid>,
    /// `first`, `second` or `retrial`.
    #[schema(value_type = Option<super::dto::InstanceCode>)]
    pub instance: Option<String>,
    pub filed_on: NaiveDate,
    pub received_on: Option<NaiveDate>,
    pub act_known_on: Option<NaiveDate>,
    #[schema(value_type = Option<super::dto::DecisionTypeCode>)]
    pub decision_type: Option<String>,
    pub decided_on: Option<NaiveDate>,
    pub notes: Option<String>,
}

fn created(row: &RemedyView, base: &str) -> Result<Answer, AppError> {
    let dto = remedy_dto(row.clone());
    json_answer(
        StatusCode::CREATED,
        vec![
            ("ETag", format!("\"{}\"", dto.version)),
            ("Location", format!("/api/v1/{base}/{}", dto.id)),
        ],
        &dto,
    )
}

fn ok(row: RemedyView) -> HttpResponse {
    let dto = remedy_dto(row);
    HttpResponse::Ok()
        .insert_header((header::ETAG, format!("\"{}\"", dto.version)))
        .json(dto)
}

/// Record an administrative review in which the agency is respondent.
#[utoipa::path(tag = "remedies", security(("bearer" = [])), params(IdempotencyKeyHeader), request_body = CreateReviewDto, responses(
    (status = 201, description = "Recorded", body = RemedyDto),
    (status = 403, description = "Role not allowed (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    (status = 409, description = "It would change a published yearly report (`period_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
))]
#[post("/reviews")]
pub async fn create_review(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    body: Creating<CreateReviewDto>,
) -> Result<HttpResponse, ApiError> {
    let Creating { body: b, key } = body;
    let input = RemedyInput {
        agency_id: b.agency_id.map(|u| u.to_string()),
        request_id: b.request_id.map(|u| u.to_string()),
        review_id: None,
        case: CaseInput {
            applicant_name: b.applicant_name,
            body_name: b.reviewing_body,
            filed_on: Some(b.filed_on),
            received_on: b.received_on,
            act_known_on: b.act_known_on,
            decision_type: b.decision_type,
            decided_on: b.decided_on,
            decision_served_on: b.decision_served_on,
            notes: b.notes,
            route: None,
            instance: None,
            has_review: false,
        },
    };
    let answer = uc::create(
        &state,
        actor,
        RemedyKind::Review,
        input,
        ctx.0,
        render(key, |v| created(v, "reviews")),
    )
    .await?;
    Ok(respond(answer))
}

/// Record a lawsuit in which the agency is defendant.
#[utoipa::path(tag = "remedies", security(("bearer" = [])), params(IdempotencyKeyHeader), request_body = CreateLitigationDto, responses(
    (status = 201, description = "Recorded", body = RemedyDto),
    (status = 403, description = "Role not allowed (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    (status = 409, description = "The review is not decided (`review_not_decided`); it would change a published yearly report (`period_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
))]
#[post("/litigations")]
pub async fn create_litigation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    body: Creating<CreateLitigationDto>,
) -> Result<HttpResponse, ApiError> {
    let Creating { body: b, key } = body;
    let input = RemedyInput {
        agency_id: b.agency_id.map(|u| u.to_string()),
        request_id: b.request_id.map(|u| u.to_string()),
        review_id: b.review_id.map(|u| u.to_string()),
        case: CaseInput {
            applicant_name: b.applicant_name,
            body_name: b.court,
            filed_on: Some(b.filed_on),
            received_on: b.received_on,
            act_known_on: b.act_known_on,
            decision_type: b.decision_type,
            decided_on: b.decided_on,
            decision_served_on: None,
            notes: b.notes,
            route: Some(b.route),
            instance: b.instance,
            has_review: false,
        },
    };
    let answer = uc::create(
        &state,
        actor,
        RemedyKind::Litigation,
        input,
        ctx.0,
        render(key, |v| created(v, "litigations")),
    )
    .await?;
    Ok(respond(answer))
}

/// Filters of the case lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RemedyListQuery {
    /// Lawsuits: `direct` or `after_review`.
    #[param(value_type = Option<super::dto::RouteCode>)]
    pub route: Option<String>,
    /// `upheld`, `corrected`, `other` or `pending`.
    #[param(value_type = Option<super::dto::OutcomeCode>)]
    pub outcome: Option<String>,
    /// Only undecided (true) or decided (false) cases.
    pub pending: Option<bool>,
    pub filed_from: Option<NaiveDate>,
    pub filed_to: Option<NaiveDate>,
    pub decided_from: Option<NaiveDate>,
    pub decided_to: Option<NaiveDate>,
    /// Cases about this application.
    pub request_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

async fn list(
    state: web::Data<AppState>,
    actor: crate::domain::access::Actor,
    kind: RemedyKind,
    q: RemedyListQuery,
) -> Result<web::Json<ListEnvelope<RemedyDto>>, ApiError> {
    let page = Page::parse(q.page, q.per_page)?;
    if q.outcome
        .as_deref()
        .is_some_and(|o| Outcome::parse(o).is_none())
    {
        return Err(bad_filter(
            "outcome",
            crate::text!(
                "须为 upheld（维持）、corrected（纠正）、other（其他）或 pending（未结）",
                "must be upheld, corrected, other or pending"
            ),
        )
        .into());
    }
    if q.route
        .as_deref()
        .is_some_and(|r| Route::parse(r).is_none() || kind == RemedyKind::Review)
    {
        return Err(bad_filter(
            "route",
            crate::text!(
                "仅用于行政诉讼：direct 或 after_review",
                "lawsuits only: direct or after_review"
            ),
        )
        .into());
    }
    let filter = RemedyFilter {
        route: q.route,
        outcome: q.outcome,
        pending: q.pending,
        filed_from: q.filed_from,
        filed_to: q.filed_to,
        decided_from: q.decided_from,
        decided_to: q.decided_to,
        request_id: q.request_id.map(|u| u.to_string()),
    };
    let paged = uc::list(&state, actor, kind, filter, page).await?;
    Ok(web::Json(ListEnvelope::from_paged(paged, remedy_dto)))
}

/// List reviews in the caller's scope, newest filing first.
#[utoipa::path(tag = "remedies", security(("bearer" = [])), params(RemedyListQuery),
    responses((status = 200, description = "Reviews", body = ListEnvelope<RemedyDto>)))]
#[get("/reviews")]
pub async fn list_reviews(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: ApiQuery<RemedyListQuery>,
) -> Result<web::Json<ListEnvelope<RemedyDto>>, ApiError> {
    list(state, actor, RemedyKind::Review, query.0).await
}

/// List lawsuits in the caller's scope, newest filing first.
#[utoipa::path(tag = "remedies", security(("bearer" = [])), params(RemedyListQuery),
    responses((status = 200, description = "Lawsuits", body = ListEnvelope<RemedyDto>)))]
#[get("/litigations")]
pub async fn list_litigations(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: ApiQuery<RemedyListQuery>,
) -> Result<web::Json<ListEnvelope<RemedyDto>>, ApiError> {
    list(state, actor, RemedyKind::Litigation, query.0).await
}

/// Read one review.
#[utoipa::path(tag = "remedies", security(("bearer" = [])), params(("id" = Uuid, Path, description = "Review id")),
    responses((status = 200, description = "The review", body = RemedyDto)))]
#[get("/reviews/{id}")]
pub async fn get_review(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(uc::get(
        &state,
        actor,
        RemedyKind::Review,
        path.into_inner().to_string(),
    )
    .await?))
}

/// Read one lawsuit.
#[utoipa::path(tag = "remedies", security(("bearer" = [])), params(("id" = Uuid, Path, description = "Lawsuit id")),
    responses((status = 200, description = "The lawsuit", body = RemedyDto)))]
#[get("/litigations/{id}")]
pub async fn get_litigation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(uc::get(
        &state,
        actor,
        RemedyKind::Litigation,
        path.into_inner().to_string(),
    )
    .await?))
}

/// Changes to a case; absent fields stay, `null` clears. A decided case changes only with a
/// `correction_reason`, kept in the audit log with before and after.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRemedyDto {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub request_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub review_id: Option<Option<Uuid>>,
    pub applicant_name: Option<String>,
    /// Reviews.
    pub reviewing_body: Option<String>,
    /// Lawsuits.
    pub court: Option<String>,
    #[schema(value_type = Option<super::dto::RouteCode>)]
    pub route: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub instance: Option<Option<String>>,
    pub filed_on: Option<NaiveDate>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub received_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub act_known_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub decision_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub decided_on: Option<Option<NaiveDate>>,
    /// Reviews: the day the decision was served. Recording it on a decided review is not a
    /// correction (no `correction_reason`); changing a recorded one is.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub decision_served_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// Why a decided case is corrected.
    pub correction_reason: Option<String>,
}

fn to_patch(b: PatchRemedyDto, kind: RemedyKind) -> Result<RemedyPatch, ApiError> {
    let (own, other) = match kind {
        RemedyKind::Review => (b.reviewing_body, b.court.map(|_| "court")),
        RemedyKind::Litigation => (b.court, b.reviewing_body.map(|_| "reviewing_body")),
    };
    if let Some(field) = other {
        return Err(bad_filter(
            field,
            crate::text!("不是此类案件的字段", "not a field of this kind of case"),
        )
        .into());
    }
    let ids = |v: Option<Option<Uuid>>| v.map(|o| o.map(|u| u.to_string()));
    Ok(RemedyPatch {
        request_id: ids(b.request_id),
        review_id: ids(b.review_id),
        applicant_name: b.applicant_name,
        body_name: own,
        filed_on: b.filed_on,
        received_on: b.received_on,
        act_known_on: b.act_known_on,
        route: b.route,
        instance: b.instance,
        decision_type: b.decision_type,
        decided_on: b.decided_on,
        decision_served_on: b.decision_served_on,
        notes: b.notes,
        correction_reason: b.correction_reason,
    })
}

/// Change a review (needs `If-Match`): record its decision, or correct a decided one.
#[utoipa::path(tag = "remedies", security(("bearer" = [])), request_body = PatchRemedyDto,
    params(("id" = Uuid, Path, description = "Review id"), ("If-Match" = String, Header, description = "The version read")),
    responses(
        (status = 200, description = "Changed", body = RemedyDto),
        (status = 409, description = "A decided case needs `correction_reason` (`decided_case_requires_correction`); a review with suits after it keeps its decision (`review_has_suits`); it would change a published yearly report (`period_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[patch("/reviews/{id}")]
pub async fn patch_review(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PatchRemedyDto>,
) -> Result<HttpResponse, ApiError> {
    let p = to_patch(body.0, RemedyKind::Review)?;
    let row = uc::patch(
        &state,
        actor,
        RemedyKind::Review,
        path.into_inner().to_string(),
        p,
        if_match.0,
        ctx.0,
    )
    .await?;
    Ok(ok(row))
}

/// Change a lawsuit (needs `If-Match`): record its latest decision, or correct a decided one.
#[utoipa::path(tag = "remedies", security(("bearer" = [])), request_body = PatchRemedyDto,
    params(("id" = Uuid, Path, description = "Lawsuit id"), ("If-Match" = String, Header, description = "The version read")),
    responses(
        (status = 200, description = "Changed", body = RemedyDto),
        (status = 409, description = "A decided case needs `correction_reason` (`decided_case_requires_correction`); the review is not decided (`review_not_decided`); it would change a published yearly report (`period_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[patch("/litigations/{id}")]
pub async fn patch_litigation(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PatchRemedyDto>,
) -> Result<HttpResponse, ApiError> {
    let p = to_patch(body.0, RemedyKind::Litigation)?;
    let row = uc::patch(
        &state,
        actor,
        RemedyKind::Litigation,
        path.into_inner().to_string(),
        p,
        if_match.0,
        ctx.0,
    )
    .await?;
    Ok(ok(row))
}

/// One change of a case, from the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemedyHistoryDto {
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    /// `case_recorded`, `case_updated`, `case_corrected`, `decision_served` or
    /// `filing_limit_remeasured`.
    #[schema(value_type = super::dto::RemedyHistoryActionCode)]
    pub action: String,
    /// Before and after (and the correction reason).
    #[schema(value_type = super::payloads::RemedyHistoryPayloadSchema)]
    pub payload: serde_json::Value,
}

async fn history(
    state: web::Data<AppState>,
    actor: crate::domain::access::Actor,
    kind: RemedyKind,
    id: Uuid,
) -> Result<web::Json<Vec<RemedyHistoryDto>>, ApiError> {
    let rows = uc::history(&state, actor, kind, id.to_string()).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|r| RemedyHistoryDto {
                occurred_at: instant(r.occurred_at),
                actor: r.actor_label,
                action: r.action,
                payload: serde_json::from_str(&r.payload).unwrap_or_default(),
            })
            .collect(),
    ))
}

/// The change history of a review.
#[utoipa::path(tag = "remedies", security(("bearer" = [])), params(("id" = Uuid, Path, description = "Review id")),
    responses((status = 200, description = "Changes, oldest first", body = Vec<RemedyHistoryDto>)))]
#[get("/reviews/{id}/history")]
pub async fn review_history(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<RemedyHistoryDto>>, ApiError> {
    history(state, actor, RemedyKind::Review, path.into_inner()).await
}

/// The change history of a lawsuit.
#[utoipa::path(tag = "remedies", security(("bearer" = [])), params(("id" = Uuid, Path, description = "Lawsuit id")),
    responses((status = 200, description = "Changes, oldest first", body = Vec<RemedyHistoryDto>)))]
#[get("/litigations/{id}/history")]
pub async fn litigation_history(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<web::Json<Vec<RemedyHistoryDto>>, ApiError> {
    history(state, actor, RemedyKind::Litigation, path.into_inner()).await
}
