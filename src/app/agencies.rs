//! Agencies: create below one's own, list and read within scope.

use crate::domain::report::publication::ReportKind;
use chrono::NaiveDateTime;
use serde_json::json;

use super::idempotency::{Answer, Answering};
use super::{AppError, AppState, Page, Paged, RequestContext, audit};
use crate::db::{self, DbConnection, agencies::AgencyRow};
use crate::domain::access::Actor;
use crate::domain::agency::{NewAgency, child_path};

/// An agency as the app layer hands it out.
#[derive(Debug, Clone)]
pub struct AgencyView {
    pub id: String,
    pub code: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub region: Option<String>,
    pub depth: i32,
    /// Which publication deadline of art. 49 applies to its yearly report.
    pub report_kind: ReportKind,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl From<AgencyRow> for AgencyView {
    fn from(r: AgencyRow) -> Self {
        AgencyView {
            id: r.id,
            code: r.code,
            name: r.name,
            parent_id: r.parent_id,
            region: r.region,
            depth: r.depth,
            report_kind: ReportKind::parse(&r.report_kind).unwrap_or_default(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub struct CreateAgency {
    pub code: String,
    pub name: String,
    pub region: Option<String>,
    /// Defaults to the actor's own agency.
    pub parent_id: Option<String>,
    /// Defaults to `department`.
    pub report_kind: ReportKind,
}

/// Loads an agency the actor can see; anything else is "not found".
pub fn visible_agency(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<AgencyRow, AppError> {
    match db::agencies::find(conn, id)? {
        Some(a) if actor.sees(&a.id, &a.path) => Ok(a),
        _ => Err(AppError::NotFound(crate::text!("机关", "agency"))),
    }
}

/// The agency with this code, in whatever case and spacing it was sent.
pub fn find_by_code(conn: &mut DbConnection, raw: &str) -> Result<Option<AgencyRow>, AppError> {
    Ok(db::agencies::find_by_code(
        conn,
        &crate::domain::agency::AgencyCode::canonical(raw),
    )?)
}

pub async fn create(
    state: &AppState,
    actor: Actor,
    input: CreateAgency,
    ctx: RequestContext,
    once: Answering<AgencyView>,
) -> Result<Answer, AppError> {
    let clock = state.clock;
    let parsed = NewAgency::parse(&input.code, &input.name, input.region.as_deref())?;
    let once = once.through(|row: &AgencyRow| AgencyView::from(row.clone()));
    state
        .create_once(actor.user_id.clone(), once, move |conn| {
            let parent_id = input.parent_id.unwrap_or_else(|| actor.agency_id.clone());
            let parent = match db::agencies::find(conn, &parent_id)? {
                Some(p) if actor.sees(&p.id, &p.path) => p,
                _ => {
                    return Err(AppError::field(
                        "parent_id",
                        "unknown_agency",
                        crate::text!("您的权限范围内没有此机关", "no such agency in your scope"),
                    ));
                }
            };
            actor.may_administer(&parent.id, &parent.path)?;
            if db::agencies::find_by_code(conn, parsed.code.as_str())?.is_some() {
                return Err(AppError::conflict(
                    "agency_code_taken",
                    crate::text!(
                        "机关代码 {} 已存在",
                        "an agency with code {} exists",
                        parsed.code.as_str()
                    ),
                ));
            }
            let id = uuid::Uuid::new_v4().to_string();
            let now = clock.now_micros();
            let row = AgencyRow {
                path: child_path(&parent.path, &id),
                depth: parent.depth + 1,
                id,
                code: parsed.code.into_inner(),
                name: parsed.name,
                parent_id: Some(parent.id.clone()),
                region: parsed.region,
                                created_at: now,
                updated_at: now,
                report_kind: input.report_kind.code().to_string(),
            };
            db::agencies::insert(conn, &row).map_err(|e| {
                if db::is_unique_violation(&e) {
                    AppError::conflict(
                        "agency_code_taken",
                        crate::text!("该机关代码已存在", "an agency with this code exists"),
                    )
                } else {
                    e.into()
                }
            })?;
            audit(
                conn,
                clock.now_micros(),
                Some(&actor),
                Some(&row.id),
                ("agency", &row.id),
                "agency_created",
                json!({"code": row.code, "name": row.name, "parent_id": row.parent_id, "region": row.region, "report_kind": row.report_kind}),
                &ctx,
            )?;
            Ok(row)
        })
        .await
}

pub async fn get(state: &AppState, actor: Actor, id: String) -> Result<AgencyView, AppError> {
    state
        .with_conn(move |conn| visible_agency(conn, &actor, &id))
        .await
        .map(AgencyView::from)
}

pub struct AgencyQuery {
    pub parent_id: Option<String>,
    pub q: Option<String>,
    pub page: Page,
}

pub async fn list(
    state: &AppState,
    actor: Actor,
    query: AgencyQuery,
) -> Result<Paged<AgencyView>, AppError> {
    state
        .with_conn(move |conn| {
            let visibility = actor.visibility();
            let filter = db::agencies::AgencyFilter {
                visibility: &visibility,
                parent_id: query.parent_id.as_deref(),
                q: query.q.as_deref(),
            };
            let (items, total) =
                db::agencies::list(conn, &filter, query.page.offset(), query.page.per_page)?;
            Ok(Paged {
                items,
                page: query.page,
                total,
            })
        })
        .await
        .map(|p| p.map(AgencyView::from))
}
