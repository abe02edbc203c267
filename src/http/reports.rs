//! The yearly report (政府信息公开工作年度报告).

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::instant;
use super::extract::{ApiJson, ApiQuery, Authenticated, Ctx, IfMatch};
use super::problem::ApiError;
use super::report_schema::ReportSchema;
use crate::app::reports::{self as uc, CellItems, Entry, Report};
use crate::app::{AppError, AppState, Page, report_export};
use crate::domain::report::Narrative;

/// A report as JSON; its schema is [`ReportSchema`] (named `ReportDto` in the document).
/// The `ETag` header carries the report's revision; every write of the report takes it as
/// `If-Match`.
#[derive(Debug, Serialize)]
pub struct ReportDto(Value);

fn dto(r: &Report) -> Result<ReportDto, ApiError> {
    serde_json::to_value(r)
        .map(ReportDto)
        .map_err(|e| AppError::internal_while("report as JSON", e).into())
}

/// The report with its revision as `ETag`.
fn with_etag(r: &Report) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, format!("\"{}\"", r.revision)))
        .json(dto(r)?))
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

/// The report of an agency and year: computed tables, entered parts, checks (with `ETag`).
///
/// Years from 2021 use the 2021 format, 2019 and 2020 the 2019 trial format.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year, 2019 to this year"), VersionQuery),
    responses((status = 200, description = "The report; `ETag` is its revision", body = ReportSchema)))]
#[get("/agencies/{id}/reports/{year}")]
pub async fn get_report(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: ReportPath,
    query: ApiQuery<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, year) = path.into_inner();
    let r = uc::get(&state, actor, id.to_string(), year, query.0.version).await?;
    with_etag(&r)
}

/// Table 二's entered figures: `{"rows": {"rules": {"made": 3, "abolished": 1, "in_force": 42}, …, "fees": {"amount_wan_yuan": 12.5}}}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProactiveDto {
    /// Row code → column code → value (an integer; amounts in 万元 a decimal number with at
    /// most 4 decimals, or a decimal string).
    #[schema(value_type = super::report_schema::ProactiveEntries)]
    pub rows: BTreeMap<String, BTreeMap<String, Value>>,
}

impl ProactiveDto {
    fn values(self) -> Result<uc::Entered, ApiError> {
        let mut values = BTreeMap::new();
        let mut errors = Vec::new();
        for (row, cols) in self.rows {
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
                        crate::text!("须为数字或十进制数字字符串", "a number or a decimal string"),
                    )),
                }
            }
            values.insert(row, out);
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors).into());
        }
        Ok(values)
    }
}

/// Replace table 2 (`If-Match`: the report's `ETag`). Every row of the format with every
/// column is required (a missing one is a 422 `required` naming it); `PATCH` changes some.
#[utoipa::path(tag = "reports", security(("bearer" = [])), request_body = ProactiveDto,
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year"),
        ("If-Match" = String, Header, description = "The report's ETag")),
    responses(
        (status = 200, description = "The report with the new figures (and its new `ETag`)", body = ReportSchema),
        (status = 403, description = "Role not allowed (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Published (`period_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad or missing cell (`validation_failed`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[put("/agencies/{id}/reports/{year}/proactive")]
pub async fn put_proactive(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: ReportPath,
    if_match: IfMatch,
    body: ApiJson<ProactiveDto>,
) -> Result<HttpResponse, ApiError> {
    let (id, year) = path.into_inner();
    let entry = Entry::ProactivePut(body.0.values()?);
    let r = uc::enter(
        &state,
        actor,
        id.to_string(),
        year,
        entry,
        if_match.0,
        ctx.0,
    )
    .await?;
    with_etag(&r)
}

/// Change some cells of table 二 (`If-Match`: the report's `ETag`); the cells not sent keep
/// their values.
#[utoipa::path(tag = "reports", security(("bearer" = [])), request_body = ProactiveDto,
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year"),
        ("If-Match" = String, Header, description = "The report's ETag")),
    responses(
        (status = 200, description = "The report with the new figures (and its new `ETag`)", body = ReportSchema),
        (status = 403, description = "Role not allowed (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Published (`period_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[patch("/agencies/{id}/reports/{year}/proactive")]
pub async fn patch_proactive(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: ReportPath,
    if_match: IfMatch,
    body: ApiJson<ProactiveDto>,
) -> Result<HttpResponse, ApiError> {
    let (id, year) = path.into_inner();
    let entry = Entry::ProactivePatch(body.0.values()?);
    let r = uc::enter(
        &state,
        actor,
        id.to_string(),
        year,
        entry,
        if_match.0,
        ctx.0,
    )
    .await?;
    with_etag(&r)
}

/// The six sections of the narrative, every one required (send `""` for a section not yet
/// written; publishing needs them all).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NarrativeDto {
    /// 一、总体情况
    pub overview: String,
    /// 二、主动公开政府信息情况 (the paragraph before table 二)
    pub proactive_text: String,
    /// 三、收到和处理政府信息公开申请情况 (the paragraph before table 三; the figures it states
    /// are checked against the table)
    pub applications_text: String,
    /// 四、政府信息公开行政复议、行政诉讼情况 (the paragraph before table 四; checked)
    pub remedies_text: String,
    /// 五、存在的主要问题及改进情况
    pub problems_and_improvements: String,
    /// 六、其他需要报告的事项, including the fee facts (checked)
    pub other_matters: String,
}

/// Some sections of the narrative: those sent (not null) change, the others are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NarrativePatchDto {
    /// 一、总体情况
    pub overview: Option<String>,
    /// 二、主动公开政府信息情况
    pub proactive_text: Option<String>,
    /// 三、收到和处理政府信息公开申请情况
    pub applications_text: Option<String>,
    /// 四、政府信息公开行政复议、行政诉讼情况
    pub remedies_text: Option<String>,
    /// 五、存在的主要问题及改进情况
    pub problems_and_improvements: Option<String>,
    /// 六、其他需要报告的事项
    pub other_matters: Option<String>,
}

/// A narrative as generated or stored: the six sections.
#[derive(Debug, Serialize, ToSchema)]
pub struct NarrativeView {
    /// 一、总体情况
    pub overview: String,
    /// 二、主动公开政府信息情况
    pub proactive_text: String,
    /// 三、收到和处理政府信息公开申请情况
    pub applications_text: String,
    /// 四、政府信息公开行政复议、行政诉讼情况
    pub remedies_text: String,
    /// 五、存在的主要问题及改进情况
    pub problems_and_improvements: String,
    /// 六、其他需要报告的事项
    pub other_matters: String,
}

/// Replace the narrative (`If-Match`: the report's `ETag`): all six sections are required,
/// every missing one is named (422 `required`). What 三, 四 and 六 state about the tables is
/// checked (`narrative.*` checks).
#[utoipa::path(tag = "reports", security(("bearer" = [])), request_body = NarrativeDto,
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year"),
        ("If-Match" = String, Header, description = "The report's ETag")),
    responses(
        (status = 200, description = "The report (and its new `ETag`)", body = ReportSchema),
        (status = 403, description = "Role not allowed (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Published (`period_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or bad section (`validation_failed`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[put("/agencies/{id}/reports/{year}/narrative")]
pub async fn put_narrative(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: ReportPath,
    if_match: IfMatch,
    body: ApiJson<NarrativeDto>,
) -> Result<HttpResponse, ApiError> {
    let (id, year) = path.into_inner();
    let b = body.0;
    let n = Narrative {
        overview: b.overview,
        proactive_text: b.proactive_text,
        applications_text: b.applications_text,
        remedies_text: b.remedies_text,
        problems_and_improvements: b.problems_and_improvements,
        other_matters: b.other_matters,
    };
    let entry = Entry::NarrativePut(n);
    let r = uc::enter(
        &state,
        actor,
        id.to_string(),
        year,
        entry,
        if_match.0,
        ctx.0,
    )
    .await?;
    with_etag(&r)
}

/// Change some sections of the narrative (`If-Match`: the report's `ETag`); the sections not
/// sent (or sent as null) are kept, `""` empties one.
#[utoipa::path(tag = "reports", security(("bearer" = [])), request_body = NarrativePatchDto,
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year"),
        ("If-Match" = String, Header, description = "The report's ETag")),
    responses(
        (status = 200, description = "The report (and its new `ETag`)", body = ReportSchema),
        (status = 403, description = "Role not allowed (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Published (`period_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[patch("/agencies/{id}/reports/{year}/narrative")]
pub async fn patch_narrative(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: ReportPath,
    if_match: IfMatch,
    body: ApiJson<NarrativePatchDto>,
) -> Result<HttpResponse, ApiError> {
    let (id, year) = path.into_inner();
    let b = body.0;
    let fields: BTreeMap<String, String> = [
        ("overview", b.overview),
        ("proactive_text", b.proactive_text),
        ("applications_text", b.applications_text),
        ("remedies_text", b.remedies_text),
        ("problems_and_improvements", b.problems_and_improvements),
        ("other_matters", b.other_matters),
    ]
    .into_iter()
    .filter_map(|(f, v)| v.map(|v| (f.to_string(), v)))
    .collect();
    let entry = Entry::NarrativePatch(fields);
    let r = uc::enter(
        &state,
        actor,
        id.to_string(),
        year,
        entry,
        if_match.0,
        ctx.0,
    )
    .await?;
    with_etag(&r)
}

/// A draft of the narrative generated from the report's own figures: the sentences of 二, 三,
/// 四 and 六 (the fee facts; "未收取信息处理费" when there were none) that the agreement checks
/// accept, and skeletons of 一 and 五 marked 【待填写】, which publishing refuses until
/// replaced. Nothing is stored: edit it and send it with `PUT …/narrative`.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year")),
    responses((status = 200, description = "The generated narrative", body = NarrativeView)))]
#[get("/agencies/{id}/reports/{year}/narrative/draft")]
pub async fn narrative_draft(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: ReportPath,
) -> Result<web::Json<NarrativeView>, ApiError> {
    let (id, year) = path.into_inner();
    let n = uc::narrative_draft(&state, actor, id.to_string(), year).await?;
    Ok(web::Json(NarrativeView {
        overview: n.overview,
        proactive_text: n.proactive_text,
        applications_text: n.applications_text,
        remedies_text: n.remedies_text,
        problems_and_improvements: n.problems_and_improvements,
        other_matters: n.other_matters,
    }))
}

/// Publish: freezes the whole report as a new version (admins; `If-Match`: the report's
/// `ETag`). Refused while a check of severity `error` fails (`checks_failed`; warnings do not
/// block) or a section of the narrative is empty, still holds the draft's 【待填写】, or says
/// only "无" where the format needs content (`narrative_incomplete`, naming the sections).
/// Afterwards changes to that year's figures answer 409 `period_published` until reopened.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year"),
        ("If-Match" = String, Header, description = "The report's ETag")),
    responses(
        (status = 200, description = "Published (with the new `ETag`)", body = ReportSchema),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already published (`already_published`), the year is not over (`year_not_over`), a check fails (`checks_failed`) or the narrative is incomplete (`narrative_incomplete`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/agencies/{id}/reports/{year}/publish")]
pub async fn publish_report(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: ReportPath,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, year) = path.into_inner();
    let r = uc::publish(&state, actor, id.to_string(), year, if_match.0, ctx.0).await?;
    with_etag(&r)
}

/// Why a published report is reopened.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenDto {
    pub reason: String,
}

/// Reopen a published report (admins, with a reason; `If-Match`: the report's `ETag`); the
/// next publication is a new version.
#[utoipa::path(tag = "reports", security(("bearer" = [])), request_body = ReopenDto,
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year"),
        ("If-Match" = String, Header, description = "The report's ETag")),
    responses(
        (status = 200, description = "Reopened: the live draft (with the new `ETag`)", body = ReportSchema),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not published (`not_published`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/agencies/{id}/reports/{year}/reopen")]
pub async fn reopen_report(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: ReportPath,
    if_match: IfMatch,
    body: ApiJson<ReopenDto>,
) -> Result<HttpResponse, ApiError> {
    let (id, year) = path.into_inner();
    let r = uc::reopen(
        &state,
        actor,
        id.to_string(),
        year,
        body.0.reason,
        if_match.0,
        ctx.0,
    )
    .await?;
    with_etag(&r)
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

/// What a drill-down lists.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum CellKindCode {
    /// Applications (table 三).
    Requests,
    /// Reviews and lawsuits (table 四).
    Remedies,
}

/// The records behind a cell (a page).
#[derive(Debug, Serialize, ToSchema)]
pub struct CellDto {
    /// `requests` (table 三) or `remedies` (table 四).
    #[schema(value_type = CellKindCode)]
    pub kind: &'static str,
    /// Applications (as in the list) or review and litigation cases.
    #[schema(value_type = Vec<super::report_schema::CellItemSchema>)]
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
        ("row" = super::report_schema::CellRowCode, Path, description = "Row code: a row of table 三, or a group of table 四"),
        ("column" = super::report_schema::CellColumnCode, Path, description = "Column code: a column of table 三, or an outcome of table 四"),
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

/// A report export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// The report as JSON (`application/json`, the schema `ReportDto`).
    Json,
    /// The official layout as CSV (`text/csv`, UTF-8 with BOM): the tables one after the
    /// other, merged cells written once.
    Csv,
    /// One line per figure (`text/csv`, UTF-8 with BOM): `agency_code`, `year`, `version`,
    /// `table`, `row`, `row_label`, `column`, `column_label`, `value`.
    TidyCsv,
    /// The official layout as a printable HTML page (`text/html`).
    Html,
    /// The official layout as an Excel workbook, one sheet per table
    /// (`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`).
    Xlsx,
}

/// Export format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json`, `csv` (the layout, UTF-8 with BOM), `tidy_csv` (one line per figure), `html`
    /// (official layout, printable) or `xlsx`.
    pub format: ExportFormat,
    /// A published version; default as for the report itself.
    #[param(minimum = 1)]
    pub version: Option<i32>,
}

/// An Excel workbook's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct Workbook(Vec<u8>);

/// Export the report.
///
/// Every format but HTML is sent as an attachment named
/// `<agency code>-<year>-report-v<version>.<ext>` (`-tidy.csv` for the tidy CSV).
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), ("year" = i32, Path, description = "Report year"), ExportQuery),
    responses((status = 200, description = "The file in the format asked for: `application/json` (json), `text/csv` (csv, tidy_csv), `text/html` (html), the XLSX media type (xlsx)", content(
        (ReportSchema = "application/json"),
        (String = "text/csv"),
        (String = "text/html"),
        (Workbook = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ), headers(
        ("Content-Disposition" = String, description = "All but html: attachment; filename=\"<agency code>-<year>-report-v<version>.<ext>\""),
        ("Content-Security-Policy" = String, description = "html: `default-src 'none'` but for the page's own inline style, allowed by its SHA-256 hash, so that the page opened directly shows its layout"),
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
    let r = uc::get(&state, actor, id.to_string(), year, q.version).await?;
    let name = format!("{}-{}-report-v{}", r.agency_code, r.year, r.version);
    let disposition = |suffix: &str| {
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}{suffix}\""),
        )
    };
    Ok(match q.format {
        ExportFormat::Json => HttpResponse::Ok()
            .insert_header(disposition(".json"))
            .json(dto(&r)?),
        ExportFormat::Csv => HttpResponse::Ok()
            .insert_header(disposition(".csv"))
            .content_type("text/csv; charset=utf-8")
            .body(report_export::csv(&r)),
        ExportFormat::TidyCsv => HttpResponse::Ok()
            .insert_header(disposition("-tidy.csv"))
            .content_type("text/csv; charset=utf-8; header=present")
            .body(report_export::tidy_csv(&r)),
        // Opened in the browser: its own policy allows its inline style (by hash), nothing else.
        ExportFormat::Html => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_SECURITY_POLICY, report_export::html_csp()))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .body(report_export::html(&r)),
        ExportFormat::Xlsx => {
            let bytes = report_export::xlsx(&r).map_err(AppError::bug)?;
            HttpResponse::Ok()
                .insert_header(disposition(".xlsx"))
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
        (status = 200, description = "The roll-up", body = ReportSchema),
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
