//! Bulk import and export of applications (issue 7).
//!
//! An import validates every line before it writes anything, then writes all of them in one
//! transaction: the rows, their case numbers from the usual per-agency/year counters, and one
//! `import` event each through the same event writer as every other step. An export reads a
//! year's applications in keyset pages, each on a fresh pooled connection, so that its memory
//! does not grow with the year.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset};
use serde_json::json;

use super::requests::{RequestView, TrailEvent, counted, query_code, refusal, trail};
use super::{AppError, AppState, RequestContext};
use crate::db::{self, DbConnection, agencies::AgencyRow};
use crate::domain::access::{Actor, Role};
use crate::domain::report;
use crate::domain::request::application::Registration;
use crate::domain::request::{Application, ImportHistoryInput, IntakeInput, parse_import};
use crate::domain::validation::FieldError;

/// The most lines one import may carry.
pub const MAX_IMPORT_LINES: usize = 100_000;
/// The most problems a refused import lists (the answer says how many there were).
pub const MAX_REPORTED_ERRORS: usize = crate::domain::validation::MAX_LISTED_ERRORS;
/// Applications per page of an export.
pub const EXPORT_CHUNK: i64 = 500;

/// One problem of an import, on a physical line of the body (from 1).
#[derive(Debug, Clone)]
pub struct LineError {
    pub line: u64,
    pub error: FieldError,
}

/// One application of an import, as the HTTP layer read it.
#[derive(Debug, Clone)]
pub struct ImportLine {
    pub line: u64,
    pub agency_id: Option<String>,
    pub agency_code: Option<String>,
    pub arrived_at: DateTime<FixedOffset>,
    pub intake: IntakeInput,
    pub history: ImportHistoryInput,
}

/// What the HTTP layer read from a line: an application, or why it could not read one.
pub type ReadLine = Result<ImportLine, LineError>;

/// One imported application.
#[derive(Debug, Clone)]
pub struct Imported {
    pub line: u64,
    pub id: String,
    pub case_number: String,
}

/// Only admins import, into agencies they see (checked again per line).
pub fn may_import(actor: &Actor) -> Result<(), AppError> {
    if actor.has(Role::Admin) {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "导入申请须具有管理员（admin）角色",
                "importing applications needs the role admin"
            ),
        })
    }
}

fn line_error(
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

/// A validated line, ready to be numbered and written.
struct Ready {
    line: u64,
    row: Application,
    agency_code: String,
    arrived_at: DateTime<FixedOffset>,
}

/// Agencies and published years read once per import.
#[derive(Default)]
struct Lookups {
    by_id: HashMap<String, Option<AgencyRow>>,
    by_code: HashMap<String, Option<AgencyRow>>,
    published: HashMap<String, Vec<i32>>,
}

impl Lookups {
    fn by_id(&mut self, conn: &mut DbConnection, id: &str) -> Result<Option<AgencyRow>, AppError> {
        if let Some(a) = self.by_id.get(id) {
            return Ok(a.clone());
        }
        let a = db::agencies::find(conn, id)?;
        self.by_id.insert(id.to_string(), a.clone());
        Ok(a)
    }

    fn by_code(
        &mut self,
        conn: &mut DbConnection,
        code: &str,
    ) -> Result<Option<AgencyRow>, AppError> {
        if let Some(a) = self.by_code.get(code) {
            return Ok(a.clone());
        }
        let a = super::agencies::find_by_code(conn, code)?;
        self.by_code.insert(code.to_string(), a.clone());
        Ok(a)
    }

    fn published(&mut self, conn: &mut DbConnection, agency_id: &str) -> Result<&[i32], AppError> {
        if !self.published.contains_key(agency_id) {
            let years = super::reports::published_years(conn, agency_id)?;
            self.published.insert(agency_id.to_string(), years);
        }
        Ok(self
            .published
            .get(agency_id)
            .map(Vec::as_slice)
            .unwrap_or_default())
    }
}

/// The agency a line names (`agency_id` or `agency_code`; neither: the caller's own), if the
/// caller may register applications there.
fn agency_of(
    conn: &mut DbConnection,
    lookups: &mut Lookups,
    actor: &Actor,
    line: &ImportLine,
) -> Result<Result<AgencyRow, LineError>, AppError> {
    let n = line.line;
    let (found, field) = match (&line.agency_id, &line.agency_code) {
        (Some(_), Some(_)) => {
            return Ok(Err(line_error(
                n,
                "agency_code",
                "not_allowed",
                crate::text!(
                    "agency_id 与 agency_code 只能给出其一",
                    "give agency_id or agency_code, not both"
                ),
            )));
        }
        (Some(id), None) => (lookups.by_id(conn, id)?, "agency_id"),
        (None, Some(code)) => (lookups.by_code(conn, code.trim())?, "agency_code"),
        (None, None) => (lookups.by_id(conn, &actor.agency_id)?, "agency_id"),
    };
    Ok(match found {
        Some(a) if actor.may_register_in(&a.id, &a.path) => Ok(a),
        _ => Err(line_error(
            n,
            field,
            "unknown_agency",
            crate::text!(
                "没有您可在其中登记申请的此机关",
                "no such agency in which you may register applications"
            ),
        )),
    })
}

/// The lines of an import body, readable more than once. An import reads them twice: once to
/// check every line, then again to write them a chunk at a time, so that it never holds every
/// parsed application of a 100,000-line body at once (issue 15: the import's memory peaks at
/// about the body's size, not at a few kilobytes a line).
pub trait ImportSource: Send + Sync + 'static {
    /// Every non-empty line, in the order of the body, each read afresh.
    fn lines(&self) -> Box<dyn Iterator<Item = ReadLine> + '_>;
}

/// Applications written per round of an import's write phase.
const WRITE_CHUNK: usize = 1000;

fn too_many_lines() -> AppError {
    AppError::field(
        "body",
        "too_many_lines",
        crate::text!(
            "一次至多导入 {MAX_IMPORT_LINES} 件申请",
            "at most {MAX_IMPORT_LINES} applications per import"
        ),
    )
}

/// What checking one line needs besides the line.
struct Check<'a> {
    actor: &'a Actor,
    cal: &'a crate::domain::calendar::Calendar,
    tz: chrono_tz::Tz,
    now: DateTime<chrono::Utc>,
    today: chrono::NaiveDate,
    clock: crate::clock::Clock,
}

/// Checks one line and registers its application (numbered later): `Ok(Err(_))` lists the
/// line's problems.
fn prepare(
    conn: &mut DbConnection,
    lookups: &mut Lookups,
    check: &Check<'_>,
    read: ReadLine,
) -> Result<Result<Ready, Vec<LineError>>, AppError> {
    let mut line = match read {
        Ok(l) => l,
        Err(e) => return Ok(Err(vec![e])),
    };
    let n = line.line;
    let agency = agency_of(conn, lookups, check.actor, &line)?;
    line.intake.arrival_date = line.arrived_at.with_timezone(&check.tz).date_naive();
    line.intake.arrival_in_future = line.arrived_at > check.now + chrono::Duration::minutes(5);
    let parsed = parse_import(&line.intake, &line.history, check.cal, check.today);
    let (agency, parsed) = match (agency, parsed) {
        (Ok(a), Ok(p)) => (a, p),
        (a, p) => {
            let mut errors: Vec<LineError> = a.err().into_iter().collect();
            if let Err(v) = p {
                errors.extend(v.into_iter().map(|error| LineError { line: n, error }));
            }
            return Ok(Err(errors));
        }
    };
    let row = Application::register(
        parsed,
        Registration {
            id: uuid::Uuid::new_v4().to_string(),
            agency_id: agency.id.clone(),
            agency_code: agency.code.clone(),
            // Numbered once every line is known to be good.
            case_seq: 0,
            query_code: query_code(),
            arrived_at: db::truncate_micros(line.arrived_at.naive_utc()),
            created_by: Some(check.actor.recorded_as()),
            now: check.clock.now_micros(),
        },
        check.cal,
        check.today,
    )
    .map_err(refusal)?;
    // An imported application may not change a published year's figures.
    let published = lookups.published(conn, &agency.id)?;
    if let Err(AppError::Conflict { detail, .. }) =
        super::reports::figures_unchanged_in(published, |y| {
            (Vec::new(), report::counted_cells(&counted(&row), y))
        })
    {
        return Ok(Err(vec![line_error(
            n,
            "receipt_date",
            "period_published",
            detail,
        )]));
    }
    Ok(Ok(Ready {
        line: n,
        row,
        agency_code: agency.code,
        arrived_at: line.arrived_at,
    }))
}

/// Imports the lines: all of them, or none with every problem listed by line.
pub async fn import(
    state: &AppState,
    actor: Actor,
    source: Box<dyn ImportSource>,
    ctx: RequestContext,
) -> Result<Vec<Imported>, AppError> {
    let clock = state.clock;
    may_import(&actor)?;
    let tz = state.tz;
    let now = clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let cache = state.calendar.clone();
    let imported = state
        .in_transaction(move |conn| {
            let cal = cache.current(conn)?;
            let check = Check {
                actor: &actor,
                cal: &cal,
                tz,
                now,
                today,
                clock,
            };
            let mut lookups = Lookups::default();
            // First reading: every line checked; kept are only the external references (for
            // duplicates) and how many numbers each agency and year needs.
            let mut errors: Vec<LineError> = Vec::new();
            // (agency, external reference) → the first line that uses it.
            let mut references: HashMap<(String, String), u64> = HashMap::new();
            let mut counts: BTreeMap<(String, i32), i32> = BTreeMap::new();
            let mut seen = 0usize;
            for read in source.lines() {
                seen += 1;
                if seen > MAX_IMPORT_LINES {
                    return Err(too_many_lines());
                }
                let r = match prepare(conn, &mut lookups, &check, read)? {
                    Ok(r) => r,
                    Err(mut e) => {
                        errors.append(&mut e);
                        continue;
                    }
                };
                if let Some(ext) = &r.row.details.external_reference {
                    let key = (r.row.agency_id.clone(), ext.clone());
                    if let Some(first) = references.get(&key) {
                        errors.push(line_error(
                            r.line,
                            "external_reference",
                            "duplicate_in_import",
                            crate::text!(
                                "第 {first} 行已有本机关的相同外部编号",
                                "line {first} has the same external reference for this agency"
                            ),
                        ));
                        continue;
                    }
                    references.insert(key, r.line);
                }
                *counts
                    .entry((r.row.agency_id.clone(), r.row.case_year))
                    .or_default() += 1;
            }
            if seen == 0 {
                return Err(AppError::field(
                    "body",
                    "empty_import",
                    crate::text!("请求体中没有申请", "the body holds no application"),
                ));
            }
            // External references already in use, one query per agency and chunk.
            let mut per_agency: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (agency_id, ext) in references.keys() {
                per_agency.entry(agency_id).or_default().push(ext.clone());
            }
            for (agency_id, refs) in per_agency {
                for taken in db::bulk::taken_external_references(conn, agency_id, &refs)? {
                    if let Some(line) = references.get(&(agency_id.to_string(), taken.clone())) {
                        errors.push(line_error(
                            *line,
                            "external_reference",
                            "external_reference_taken",
                            crate::text!(
                                "本机关已有外部编号为 {taken} 的申请",
                                "this agency already has an application with external reference {taken}"
                            ),
                        ));
                    }
                }
            }
            if !errors.is_empty() {
                errors.sort_by_key(|e| e.line);
                let total = errors.len();
                errors.truncate(MAX_REPORTED_ERRORS);
                return Err(AppError::ImportRejected { errors, total });
            }
            drop(references);
            // Case numbers: one bump of each counter, in a fixed order so that two imports
            // into the same agencies queue instead of deadlocking.
            let mut next: HashMap<(String, i32), i32> = HashMap::new();
            for ((agency_id, year), n) in counts {
                let last = db::bulk::reserve_case_seqs(conn, &agency_id, year, n)?;
                next.insert((agency_id, year), last - n + 1);
            }
            // Second reading: each line registered again, numbered in the order of the body
            // and written a chunk at a time (rows, trail events, feed events), each chunk's
            // values dropped before the next.
            let mut imported = Vec::with_capacity(seen);
            let mut chunk: Vec<Ready> = Vec::with_capacity(WRITE_CHUNK);
            for read in source.lines() {
                let mut r = match prepare(conn, &mut lookups, &check, read)? {
                    Ok(r) => r,
                    // The same checks passed on the first reading; should a line read
                    // differently now, nothing is imported.
                    Err(errors) => {
                        let total = errors.len();
                        return Err(AppError::ImportRejected { errors, total });
                    }
                };
                let key = (r.row.agency_id.clone(), r.row.case_year);
                let seq = next.get(&key).copied().unwrap_or(1);
                next.insert(key, seq + 1);
                r.row.number(&r.agency_code, seq);
                chunk.push(r);
                if chunk.len() == WRITE_CHUNK {
                    write_chunk(conn, &actor, clock, &ctx, &mut chunk, &mut imported)?;
                }
            }
            write_chunk(conn, &actor, clock, &ctx, &mut chunk, &mut imported)?;
            if imported.len() != seen {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "the import body read {seen} lines first and {} the second time",
                    imported.len()
                )));
            }
            Ok(imported)
        })
        .await?;
    // The planner's statistics follow the load at once (issue 15): without them the first
    // lists after a large import plan as if the tables were as small as before. After the
    // commit, on its own connection; the import stands even if this fails.
    if let Err(e) = state
        .with_conn(|conn| db::requests::analyze(conn).map_err(AppError::from))
        .await
    {
        tracing::warn!(error = %e, "ANALYZE after the import failed; autovacuum will catch up");
    }
    Ok(imported)
}

/// Writes one chunk of numbered applications with their `import` events and feed events, and
/// empties it.
fn write_chunk(
    conn: &mut DbConnection,
    actor: &Actor,
    clock: crate::clock::Clock,
    ctx: &RequestContext,
    chunk: &mut Vec<Ready>,
    imported: &mut Vec<Imported>,
) -> Result<(), AppError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let (meta, rows): (Vec<(u64, DateTime<FixedOffset>)>, Vec<Application>) = chunk
        .drain(..)
        .map(|r| ((r.line, r.arrived_at), r.row))
        .unzip();
    db::requests::insert_many(conn, &rows, &[]).map_err(|e| {
        if db::is_external_reference_taken(&e) {
            AppError::conflict(
                "external_reference_taken",
                crate::text!(
                    "本次导入的某一外部编号刚被另一申请占用，未导入任何申请",
                    "an external reference of this import was just taken by another application; nothing was imported"
                ),
            )
        } else {
            e.into()
        }
    })?;
    let mut published = Vec::with_capacity(rows.len());
    for ((line, arrived_at), row) in meta.into_iter().zip(rows) {
        published.push(trail(
            conn,
            true,
            &row,
            Some(actor),
            "import",
            row.receipt_date(),
            None,
            json!({
                "line": line,
                "channel": row.channel.code(),
                "arrived_at": arrived_at.to_rfc3339(),
                "signed_for_on": row.signed_for_on,
                "confirmed_on": row.confirmed_on,
                "receipt_date": row.receipt_date(),
                "due_date": row.due_date,
                "disposition": row.disposition().map(|d| d.code()),
                "replied_on": row.closed_on(),
                "late": row.late(),
            }),
            ctx,
        )?);
        imported.push(Imported {
            line,
            id: row.id,
            case_number: row.case_number,
        });
    }
    super::feed::publish_many(conn, clock.now_micros(), published)?;
    Ok(())
}

/// What one export reads: the agencies in order and the case year.
#[derive(Debug, Clone)]
pub struct ExportPlan {
    pub agencies: Vec<String>,
    pub year: i32,
    /// Identity numbers and credit codes in full (asked for, allowed and audited); else masked.
    pub personal: bool,
}

/// Where the next page of an export starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportCursor {
    pub agency: usize,
    pub after_seq: i32,
}

/// One exported application with its trail.
pub struct ExportItem {
    pub view: RequestView,
    pub events: Vec<TrailEvent>,
}

/// Checks who may export what, and resolves the agencies: `agency_id` alone, or every agency
/// the caller sees.
pub async fn export_plan(
    state: &AppState,
    actor: Actor,
    year: i32,
    agency_id: Option<String>,
    personal: bool,
    ctx: super::RequestContext,
) -> Result<ExportPlan, AppError> {
    let client_reads = actor
        .client_scopes()
        .is_some_and(|s| s.contains(crate::domain::access::Scope::RequestsRead));
    if !(actor.has(Role::Clerk)
        || actor.has(Role::Supervisor)
        || actor.has(Role::Admin)
        || client_reads)
    {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "导出申请须具有经办人、监督人员或管理员角色，或为具有 requests:read 权限的客户端",
                "exporting applications needs the role clerk, supervisor or admin, or a client with requests:read"
            ),
        });
    }
    let clock = state.clock;
    let this_year = state.today().year();
    if !(1990..=this_year).contains(&year) {
        return Err(AppError::field(
            "year",
            "out_of_range",
            crate::text!(
                "须在 1990 至 {this_year} 之间",
                "must be between 1990 and {this_year}"
            ),
        ));
    }
    state
        .with_conn(move |conn| {
            let agencies = match agency_id {
                Some(id) => match db::agencies::find(conn, &id)? {
                    Some(a) if actor.sees(&a.id, &a.path) => vec![a.id],
                    _ => return Err(AppError::NotFound(crate::text!("机关", "agency"))),
                },
                None => match db::requests::resolve(conn, &actor.visibility())? {
                    db::requests::Scope::All => db::bulk::all_agency_ids(conn)?,
                    db::requests::Scope::Agencies(mut ids) => {
                        ids.sort();
                        ids
                    }
                },
            };
            if personal {
                // The personal data of a whole year leaves the service: one dedicated scope
                // for clients, the admin role for users, and an audit row either way.
                match actor.client_scopes() {
                    Some(_) => actor.require_scope(crate::domain::access::Scope::RequestsExportPersonal)?,
                    None if actor.has(Role::Admin) => {}
                    None => {
                        return Err(AppError::Forbidden {
                            code: "forbidden",
                            detail: crate::text!(
                                "导出完整身份证件号码须具有管理员角色（客户端须有 requests:export_personal 权限）；不带 personal_data 的导出已作遮蔽处理",
                                "exporting identity numbers in full needs the admin role (clients: the scope requests:export_personal); exports without personal_data are masked"
                            ),
                        });
                    }
                }
                super::audit(
                    conn,
                    clock.now_micros(),
                    Some(&actor),
                    Some(&actor.agency_id),
                    ("export", &format!("requests-{year}")),
                    "personal_data_exported",
                    json!({"year": year, "agencies": agencies.len()}),
                    &ctx,
                )?;
            }
            Ok(ExportPlan {
                agencies,
                year,
                personal,
            })
        })
        .await
}

/// The next page of an export (at most `limit` applications) and where the one after starts;
/// `None` when this was the last. Each page runs on its own pooled connection.
pub async fn export_page(
    state: &AppState,
    plan: Arc<ExportPlan>,
    cursor: ExportCursor,
    limit: i64,
) -> Result<(Vec<ExportItem>, Option<ExportCursor>), AppError> {
    let look = super::office::Look::of(state);
    state
        .with_conn(move |conn| {
            let mut cursor = cursor;
            let mut rows: Vec<Application> = Vec::new();
            while cursor.agency < plan.agencies.len() && (rows.len() as i64) < limit {
                let want = limit - rows.len() as i64;
                let page = db::bulk::year_page(
                    conn,
                    &plan.agencies[cursor.agency],
                    plan.year,
                    cursor.after_seq,
                    want,
                )?;
                let full = page.len() as i64 == want;
                if let Some(last) = page.last() {
                    cursor.after_seq = last.case_seq;
                }
                rows.extend(page);
                if !full {
                    cursor = ExportCursor {
                        agency: cursor.agency + 1,
                        after_seq: 0,
                    };
                }
            }
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            let mut events: HashMap<String, Vec<TrailEvent>> = HashMap::new();
            let mut remedies: HashMap<String, Vec<super::remedies::RemedyView>> = HashMap::new();
            if !ids.is_empty() {
                for e in db::bulk::events_of(conn, &ids)? {
                    events
                        .entry(e.request_id.clone())
                        .or_default()
                        .push(e.into());
                }
                for c in db::bulk::remedies_of(conn, &ids)? {
                    if let Some(r) = c.request_id.clone() {
                        remedies.entry(r).or_default().push(c.into());
                    }
                }
            }
            let mut items = rows
                .into_iter()
                .map(|row| {
                    let trail = events.remove(&row.id).unwrap_or_default();
                    let cases = remedies.remove(&row.id).unwrap_or_default();
                    let mut view = RequestView::new(row);
                    view.remedies = cases;
                    Ok(ExportItem {
                        view,
                        events: trail,
                    })
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            // The holder and the flags, as a read shows them (one statement per batch).
            let mut views: Vec<RequestView> =
                items.iter().map(|i: &ExportItem| i.view.clone()).collect();
            super::office::decorate_all(conn, &mut views, &look)?;
            for (item, v) in items.iter_mut().zip(views) {
                item.view = v;
            }
            let next = (cursor.agency < plan.agencies.len()).then_some(cursor);
            Ok((items, next))
        })
        .await
}
