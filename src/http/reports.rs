//! The yearly report (政府信息公开工作年度报告).

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::instant;
use super::extract::{ApiJson, ApiQuery, Authenticated, Ctx};
use super::problem::ApiError;
use crate::app::reports::{self as uc, CellItems, Report};
use crate::app::{AppError, AppState, Page, report_export};
use crate::domain::report::Narrative;

/// A report: `agency_id`, `year`, `format` (`2021` or `2019`), `status` (`draft`, `published`,
/// `superseded` or `rollup`), `version`, `tables` (`proactive` — table 二 rows with `block`,
/// `code`, `label`, `columns`, `values`; `applications` — table 三 with `columns`, `note` and
/// `rows` of `code`, `label`, merged `groups`, `values` per column; `remedies` — table 四:
/// `review`, `litigation_direct`, `litigation_after_review`, each `upheld`, `corrected`,
/// `other`, `pending`, `total`), `checks` (`code`, `holds`, `detail`), `fees` (`notices`,
/// `amount_charged_yuan`, `amount_collected_yuan`), `narrative`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct ReportDto(Value);

fn dto(r: &Report) -> Result<ReportDto, ApiError> {
    serde_json::to_value(r)
        .map(ReportDto)
        .map_err(|e| AppError::internal_while("report as JSON", e).into())
}

type ReportPath = web::Path<(Uuid, i32)>;

/// Which version.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A published version; default: the published one, else the live draft.
    pub version: Option<i32>,
}

/// The report of an agency and year: computed tables, entered parts, checks.
///
/// Years from 2021 use the 2021 format, 2019 and 2020 the 2019 trial format.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year, 2019 to this year"), VersionQuery),
    responses((status = 200, description = "The report", body = ReportDto)))]
#[get("/agencies/{id}/reports/{year}")]
pub async fn get_report(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: ReportPath,
    query: ApiQuery<VersionQuery>,
) -> Result<web::Json<ReportDto>, ApiError> {
    let (id, year) = path.into_inner();
    let r = uc::get(&state, actor, id.to_string(), year, query.0.version).await?;
    Ok(web::Json(dto(&r)?))
}

/// Table 二's entered figures: `{"rows": {"rules": {"made": 3, …}, "fees": {"amount_wan_yuan": "12.5"}}}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProactiveDto {
    /// Row code → column code → value (integer, or a decimal string for amounts in 万元).
    #[schema(value_type = Object)]
    pub rows: BTreeMap<String, BTreeMap<String, Value>>,
}

/// Enter table 二 (replaces the entered figures; absent cells are 0).
#[utoipa::path(tag = "reports", security(("bearer" = [])), request_body = ProactiveDto,
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year")),
    responses(
        (status = 200, description = "The report with the new figures", body = ReportDto),
        (status = 403, description = "Role not allowed (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Published (`period_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[put("/agencies/{id}/reports/{year}/proactive")]
pub async fn put_proactive(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: ReportPath,
    body: ApiJson<ProactiveDto>,
) -> Result<web::Json<ReportDto>, ApiError> {
    let (id, year) = path.into_inner();
    let mut values = BTreeMap::new();
    let mut errors = Vec::new();
    for (row, cols) in body.0.rows {
        let mut out = BTreeMap::new();
        for (col, v) in cols {
            match v {
                Value::Number(n) => {
                    out.insert(col, n.to_string());
                }
                Value::String(s) => {
                    out.insert(col, s);
                }
                _ => errors.push(crate::domain::validation::FieldError::new(
                    format!("rows.{row}.{col}"),
                    "invalid_number",
                    "a number or a decimal string",
                )),
            }
        }
        values.insert(row, out);
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors).into());
    }
    let r = uc::put_proactive(&state, actor, id.to_string(), year, values, ctx.0).await?;
    Ok(web::Json(dto(&r)?))
}

/// The narrative sections.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NarrativeDto {
    /// 一、总体情况
    #[serde(default)]
    pub overview: String,
    /// 五、存在的主要问题及改进情况
    #[serde(default)]
    pub problems_and_improvements: String,
    /// 六、其他需要报告的事项 (the fee facts are added from the records)
    #[serde(default)]
    pub other_matters: String,
}

/// Enter the narrative (sections 一, 五, 六).
#[utoipa::path(tag = "reports", security(("bearer" = [])), request_body = NarrativeDto,
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year")),
    responses(
        (status = 200, description = "The report", body = ReportDto),
        (status = 403, description = "Role not allowed (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Published (`period_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[put("/agencies/{id}/reports/{year}/narrative")]
pub async fn put_narrative(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: ReportPath,
    body: ApiJson<NarrativeDto>,
) -> Result<web::Json<ReportDto>, ApiError> {
    let (id, year) = path.into_inner();
    let b = body.0;
    let n = Narrative {
        overview: b.overview,
        problems_and_improvements: b.problems_and_improvements,
        other_matters: b.other_matters,
    };
    let r = uc::put_narrative(&state, actor, id.to_string(), year, n, ctx.0).await?;
    Ok(web::Json(dto(&r)?))
}

/// Publish: freezes the whole report as a new version (admins). Refused while a check fails.
/// Afterwards changes to that year's figures answer 409 `period_published` until reopened.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year")),
    responses(
        (status = 200, description = "Published", body = ReportDto),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already published (`already_published`) or a check fails (`checks_failed`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/agencies/{id}/reports/{year}/publish")]
pub async fn publish_report(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: ReportPath,
) -> Result<web::Json<ReportDto>, ApiError> {
    let (id, year) = path.into_inner();
    let r = uc::publish(&state, actor, id.to_string(), year, ctx.0).await?;
    Ok(web::Json(dto(&r)?))
}

/// Why a published report is reopened.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenDto {
    pub reason: String,
}

/// Reopen a published report (admins, with a reason); the next publication is a new version.
#[utoipa::path(tag = "reports", security(("bearer" = [])), request_body = ReopenDto,
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year")),
    responses(
        (status = 200, description = "Reopened: the live draft", body = ReportDto),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not published (`not_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/agencies/{id}/reports/{year}/reopen")]
pub async fn reopen_report(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: ReportPath,
    body: ApiJson<ReopenDto>,
) -> Result<web::Json<ReportDto>, ApiError> {
    let (id, year) = path.into_inner();
    let r = uc::reopen(&state, actor, id.to_string(), year, body.0.reason, ctx.0).await?;
    Ok(web::Json(dto(&r)?))
}

/// A published version.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDto {
    pub version: i32,
    pub published_at: DateTime<Utc>,
    pub published_by: String,
    pub reopened_at: Option<DateTime<Utc>>,
    pub reopened_by: Option<String>,
    pub reopen_reason: Option<String>,
}

/// The published versions, oldest first.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year")),
    responses((status = 200, description = "Versions", body = Vec<VersionDto>)))]
#[get("/agencies/{id}/reports/{year}/versions")]
pub async fn list_versions(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: ReportPath,
) -> Result<web::Json<Vec<VersionDto>>, ApiError> {
    let (id, year) = path.into_inner();
    let rows = uc::versions(&state, actor, id.to_string(), year).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|v| VersionDto {
                version: v.version,
                published_at: instant(v.published_at),
                published_by: v.published_by,
                reopened_at: v.reopened_at.map(instant),
                reopened_by: v.reopened_by,
                reopen_reason: v.reopen_reason,
            })
            .collect(),
    ))
}

/// The records behind a cell (a page).
#[derive(Debug, Serialize, ToSchema)]
pub struct CellDto {
    /// `requests` (table 三) or `remedies` (table 四).
    pub kind: &'static str,
    /// Applications (as in the list) or review and litigation cases.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// Drill-down: the applications counted in a cell of table 三 (row code, column code), or the
/// cases counted in a cell of table 四 (row `review`, `litigation_direct` or
/// `litigation_after_review`; column an outcome or `total`). Counted live, as the draft is.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year"),
        ("row" = String, Path, description = "Row code"), ("column" = String, Path, description = "Column code"),
        super::dto::PageQuery,
    ),
    responses((status = 200, description = "The records", body = CellDto)))]
#[get("/agencies/{id}/reports/{year}/cells/{row}/{column}/requests")]
pub async fn cell_records(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<(Uuid, i32, String, String)>,
    query: ApiQuery<super::dto::PageQuery>,
) -> Result<web::Json<CellDto>, ApiError> {
    let (id, year, row, column) = path.into_inner();
    let page = Page::parse(query.0.page, query.0.per_page)?;
    let today = state.today();
    let (items, total) = uc::cell(&state, actor, id.to_string(), year, row, column, page).await?;
    let (kind, items) = match items {
        CellItems::Requests(v) => (
            "requests",
            v.iter()
                .map(|r| {
                    serde_json::to_value(super::requests::list_item(r, today)).unwrap_or_default()
                })
                .collect(),
        ),
        CellItems::Remedies(v) => (
            "remedies",
            v.into_iter()
                .map(|r| serde_json::to_value(super::remedies::remedy_dto(r)).unwrap_or_default())
                .collect(),
        ),
    };
    Ok(web::Json(CellDto {
        kind,
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    }))
}

/// Export format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json`, `csv` (UTF-8 with BOM), `html` (official layout, printable) or `xlsx`.
    pub format: String,
    /// A published version; default as for the report itself.
    pub version: Option<i32>,
}

/// Export the report.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year"), ExportQuery),
    responses((status = 200, description = "The file in the format asked for", content(
        (ReportDto = "application/json"),
        (String = "text/csv"),
        (String = "text/html"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ))))]
#[get("/agencies/{id}/reports/{year}/export")]
pub async fn export_report(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: ReportPath,
    query: ApiQuery<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, year) = path.into_inner();
    let q = query.0;
    if !["json", "csv", "html", "xlsx"].contains(&q.format.as_str()) {
        return Err(
            AppError::field("format", "unknown_code", "must be json, csv, html or xlsx").into(),
        );
    }
    let r = uc::get(&state, actor, id.to_string(), year, q.version).await?;
    let name = format!("{}-{}-report-v{}", r.agency_code, r.year, r.version);
    let disposition = |ext: &str| {
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.{ext}\""),
        )
    };
    Ok(match q.format.as_str() {
        "json" => HttpResponse::Ok()
            .insert_header(disposition("json"))
            .json(dto(&r)?),
        "csv" => HttpResponse::Ok()
            .insert_header(disposition("csv"))
            .content_type("text/csv; charset=utf-8")
            .body(report_export::csv(&r)),
        "html" => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(report_export::html(&r)),
        _ => {
            let bytes = report_export::xlsx(&r).map_err(AppError::bug)?;
            HttpResponse::Ok()
                .insert_header(disposition("xlsx"))
                .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .body(bytes)
        }
    })
}

/// Tables 二, 三 and 四 summed over the agency and every agency below it, with the agencies
/// included and which of them have published (admins and supervisors).
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year")),
    responses(
        (status = 200, description = "The roll-up", body = ReportDto),
        (status = 403, description = "Neither admin nor supervisor (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/agencies/{id}/reports/{year}/rollup")]
pub async fn rollup_report(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: ReportPath,
) -> Result<web::Json<ReportDto>, ApiError> {
    let (id, year) = path.into_inner();
    let r = uc::rollup(&state, actor, id.to_string(), year).await?;
    Ok(web::Json(dto(&r)?))
}
