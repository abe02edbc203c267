//! Agencies: a tree; admins create agencies below their own.

use crate::domain::report::publication::ReportKind;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{ListEnvelope, instant};
use super::extract::{ApiQuery, Authenticated, Ctx};
use super::idempotency::{Creating, IdempotencyKeyHeader, json_answer, respond};
use super::problem::ApiError;
use crate::app::agencies::AgencyView;
use crate::app::idempotency::render;
use crate::app::{self, AppState, Page};
use actix_web::http::StatusCode;

/// An agency (行政机关).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgencyDto {
    pub id: Uuid,
    /// Unique code (unified social credit code or internal code); prefixes case numbers.
    pub code: String,
    pub name: String,
    /// The agency above; null for the root.
    #[schema(required)]
    pub parent_id: Option<Uuid>,
    /// Administrative region, free text.
    #[schema(required)]
    pub region: Option<String>,
    /// 0 for the root, 1 below it, …
    pub depth: i32,
    /// `department` (report due 31 January) or `government` (31 March).
    #[schema(value_type = super::dto::ReportKindCode)]
    pub report_kind: ReportKind,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AgencyView> for AgencyDto {
    fn from(r: AgencyView) -> Self {
        AgencyDto {
            id: Uuid::parse_str(&r.id).unwrap_or_default(),
            code: r.code,
            name: r.name,
            parent_id: r.parent_id.and_then(|p| Uuid::parse_str(&p).ok()),
            region: r.region,
            depth: r.depth,
            report_kind: r.report_kind,
            created_at: instant(r.created_at),
            updated_at: instant(r.updated_at),
        }
    }
}

/// A new agency.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgencyRequest {
    /// Unique code: letters A–Z, digits, `-`, `_`; at most 32 characters (stored upper-case).
    pub code: String,
    pub name: String,
    /// The agency above; defaults to the caller's own. Must be in the caller's subtree.
    pub parent_id: Option<Uuid>,
    pub region: Option<String>,
    /// Which publication deadline of art. 49 applies to its yearly report: `department`
    /// (31 January, the default) or `government` (a county-level or higher people's
    /// government's overall report, 31 March).
    #[schema(value_type = Option<super::dto::ReportKindCode>)]
    pub report_kind: Option<ReportKind>,
}

/// Create an agency below one's own (admins).
#[utoipa::path(tag = "agencies", security(("bearer" = [])), params(IdempotencyKeyHeader), request_body = CreateAgencyRequest, responses(
    (status = 201, description = "Created", body = AgencyDto),
    (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    (status = 409, description = "Code taken (`agency_code_taken`)", body = super::problem::Problem, content_type = "application/problem+json"),
))]
#[post("/agencies")]
pub async fn create_agency(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    body: Creating<CreateAgencyRequest>,
) -> Result<HttpResponse, ApiError> {
    let Creating { body: b, key } = body;
    let answer = app::agencies::create(
        &state,
        actor,
        app::agencies::CreateAgency {
            code: b.code,
            name: b.name,
            region: b.region,
            parent_id: b.parent_id.map(|u| u.to_string()),
            report_kind: b.report_kind.unwrap_or_default(),
        },
        ctx.0,
        render(key, |v: &AgencyView| {
            let dto = AgencyDto::from(v.clone());
            json_answer(
                StatusCode::CREATED,
                vec![("Location", format!("/api/v1/agencies/{}", dto.id))],
                &dto,
            )
        }),
    )
    .await?;
    Ok(respond(answer))
}

/// Filters of the agency list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AgencyListQuery {
    /// Only the direct children of this agency.
    pub parent_id: Option<Uuid>,
    /// Part of the name or code.
    pub q: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// List the agencies the caller sees (its own; admins and supervisors also those below),
/// ordered by their place in the tree.
#[utoipa::path(tag = "agencies", security(("bearer" = [])), params(AgencyListQuery), responses(
    (status = 200, description = "Agencies", body = ListEnvelope<AgencyDto>),
))]
#[get("/agencies")]
pub async fn list_agencies(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: ApiQuery<AgencyListQuery>,
) -> Result<web::Json<ListEnvelope<AgencyDto>>, ApiError> {
    let q = query.0;
    let page = Page::parse(q.page, q.per_page)?;
    let paged = app::agencies::list(
        &state,
        actor,
        app::agencies::AgencyQuery {
            parent_id: q.parent_id.map(|u| u.to_string()),
            q: q.q.filter(|s| !s.trim().is_empty()),
            page,
        },
    )
    .await?;
    Ok(web::Json(ListEnvelope::from_paged(paged, AgencyDto::from)))
}

/// Read one agency.
#[utoipa::path(tag = "agencies", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id")),
    responses((status = 200, description = "The agency", body = AgencyDto)))]
#[get("/agencies/{id}")]
pub async fn get_agency(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<web::Json<AgencyDto>, ApiError> {
    let row = app::agencies::get(&state, actor, path.into_inner().to_string()).await?;
    Ok(web::Json(AgencyDto::from(row)))
}
