//! Work inside the office: departments, who holds an application and the hand-overs between
//! desks, internal consultations, queues, and the flags an office's own steps raise. A
//! hand-over is an event of the application's trail (with `If-Match`, a new version) and
//! changes neither its statutory state nor its clock.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use super::agencies::visible_agency;
use super::requests::{RequestView, may_write, visible};
use super::{AppError, AppState, Page, Paged, RequestContext, audit};
use crate::db::office::{DepartmentRow, Extras, FlagRow, InternalConsultationRow};
use crate::db::{self, DbConnection};
use crate::domain::access::{Actor, Principal, Role, Roles};
use crate::domain::calendar::Calendar;
use crate::domain::office::{
    self as rules, Caller, Flag, FlagThresholds, Handover, HandoverRefusal, Holder, NextStep,
    Target,
};
use crate::domain::request::{Action, Application};
use crate::domain::text::Text;
use crate::domain::validation::FieldError;

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

/// Who holds an application, with names.
#[derive(Debug, Clone)]
pub struct HolderView {
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub department_id: Option<String>,
    pub department_name: Option<String>,
    /// Handed to the department and not yet claimed.
    pub awaiting_claim: bool,
    pub since: Option<NaiveDateTime>,
}

/// A flag as an application shows it.
#[derive(Debug, Clone)]
pub struct FlagView {
    pub code: String,
    pub explanation: Text,
    pub facts: Value,
    pub related_request_ids: Vec<String>,
}

impl From<&Flag> for FlagView {
    fn from(f: &Flag) -> FlagView {
        FlagView {
            code: f.code.to_string(),
            explanation: f.explanation.clone(),
            facts: f.facts.clone(),
            related_request_ids: f.related_request_ids.clone(),
        }
    }
}

fn flag_from_row(code: String, explanation: &str, related: &str) -> FlagView {
    let e: Value = serde_json::from_str(explanation).unwrap_or(Value::Null);
    let zh = e["zh"].as_str().unwrap_or_default().to_string();
    let en = e["en"].as_str().unwrap_or_default().to_string();
    FlagView {
        code,
        explanation: Text::new(zh, en),
        facts: e.get("facts").cloned().unwrap_or(Value::Null),
        related_request_ids: serde_json::from_str(related).unwrap_or_default(),
    }
}

/// What a read needs to judge the live flags (`reply_at_risk`): the calendar, today and the
/// thresholds.
#[derive(Clone)]
pub struct Look {
    pub calendar: Option<Calendar>,
    pub cache: super::calendar::CalendarCache,
    pub today: NaiveDate,
    pub thresholds: FlagThresholds,
}

impl Look {
    /// For a read: the calendar this process loaded last (no statement; a calendar change in
    /// another process reaches it with this process's next write or deadline read).
    pub fn of(state: &AppState) -> Look {
        Look {
            calendar: state.calendar.cached(),
            cache: state.calendar.clone(),
            today: state.today(),
            thresholds: thresholds(state),
        }
    }

    /// Loads the calendar when this process has none yet (its first read).
    pub fn ensure(&mut self, conn: &mut DbConnection) -> Result<(), AppError> {
        if self.calendar.is_none() {
            self.calendar = Some(self.cache.current(conn)?);
        }
        Ok(())
    }
}

pub fn thresholds(state: &AppState) -> FlagThresholds {
    let f = &state.settings.flags;
    FlagThresholds {
        extension_share: f.extension_habit_share,
        extension_min_cases: f.extension_habit_min_cases,
        high_volume: f.high_volume_threshold,
        repeat_similarity: f.repeat_similarity,
        reply_risk_working_days: f.reply_risk_working_days,
    }
}

/// Working days from `today` to `due`; negative: working days overdue.
pub fn working_days_left(cal: &Calendar, today: NaiveDate, due: NaiveDate) -> Option<i64> {
    if due >= today {
        cal.count_working_days(today, due).ok().map(i64::from)
    } else {
        cal.count_working_days(due, today)
            .ok()
            .map(|n| -i64::from(n))
    }
}

/// Puts the holder and the flags on a view.
pub fn decorate(v: &mut RequestView, e: Extras, look: &Look) {
    let holder: Holder = e.holder.into();
    v.holder = (!holder.is_unassigned()).then(|| HolderView {
        awaiting_claim: holder.awaiting_claim(),
        user_id: holder.user_id.clone(),
        user_name: e.holder_user_name,
        department_id: holder.department_id.clone(),
        department_name: e.holder_department_name,
        since: holder.since,
    });
    v.flags = e
        .flags
        .into_iter()
        .map(|(code, expl, related)| flag_from_row(code, &expl, &related))
        .collect();
    if let Some(cal) = &look.calendar {
        live_flags(v, cal, look.today, e.reply_drafted, &look.thresholds);
    }
}

/// Adds the flags judged on today's date (`reply_at_risk`) to a view's stored ones.
pub fn live_flags(
    v: &mut RequestView,
    cal: &Calendar,
    today: NaiveDate,
    reply_drafted: bool,
    t: &FlagThresholds,
) {
    if v.app.state().is_open()
        && let Some(due) = v.app.due_date
        && let Some(left) = working_days_left(cal, today, due)
        && let Some(f) = rules::reply_at_risk(left, due, reply_drafted, t)
    {
        v.flags.push(FlagView::from(&f));
        v.flags.sort_by(|a, b| a.code.cmp(&b.code));
    }
}

/// Holder and flags for a page of views, in one statement.
pub fn decorate_all(
    conn: &mut DbConnection,
    views: &mut [RequestView],
    look: &Look,
) -> Result<(), AppError> {
    let mut look = look.clone();
    look.ensure(conn)?;
    let look = &look;
    let ids: Vec<String> = views.iter().map(|v| v.app.id.clone()).collect();
    let mut found: std::collections::HashMap<String, Extras> =
        db::office::extras(conn, &ids)?.into_iter().collect();
    for v in views.iter_mut() {
        if let Some(e) = found.remove(&v.app.id) {
            decorate(v, e, look);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Departments
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct DepartmentView {
    pub id: String,
    pub agency_id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    /// Active members who can hold an application (clerk, approver or admin).
    pub members: Vec<(String, String)>,
}

fn can_handle(roles: &str) -> bool {
    let r = Roles::from_stored(roles);
    r.contains(Role::Clerk) || r.contains(Role::Approver) || r.contains(Role::Admin)
}

fn department_view(conn: &mut DbConnection, d: DepartmentRow) -> Result<DepartmentView, AppError> {
    let members = db::office::members(conn, &d.id)?
        .into_iter()
        .filter(|(_, _, roles, disabled, _)| !disabled && can_handle(roles))
        .map(|(id, name, _, _, _)| (id, name))
        .collect();
    Ok(DepartmentView {
        id: d.id,
        agency_id: d.agency_id,
        name: d.name,
        created_at: d.created_at,
        members,
    })
}

pub async fn create_department(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    name: String,
    ctx: RequestContext,
) -> Result<DepartmentView, AppError> {
    let name = crate::domain::validation::text("name", &name, 100, false)
        .map_err(|e| AppError::Validation(vec![e]))?;
    let clock = state.clock;
    state
        .in_transaction(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            actor.may_administer(&agency.id, &agency.path)?;
            let now = clock.now_micros();
            let row = DepartmentRow {
                id: uuid::Uuid::new_v4().to_string(),
                agency_id: agency.id.clone(),
                name,
                created_at: now,
            };
            db::office::insert_department(conn, &row).map_err(|e| {
                if db::is_unique_violation(&e) {
                    AppError::conflict(
                        "department_name_taken",
                        crate::text!(
                            "本机关已有同名部门",
                            "the agency already has a department of that name"
                        ),
                    )
                } else {
                    e.into()
                }
            })?;
            audit(
                conn,
                now,
                Some(&actor),
                Some(&agency.id),
                ("department", &row.id),
                "department_created",
                json!({"name": row.name}),
                &ctx,
            )?;
            department_view(conn, row)
        })
        .await
}

pub async fn list_departments(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    page: Page,
) -> Result<Paged<DepartmentView>, AppError> {
    state
        .with_conn(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            let all = db::office::departments_of(conn, &agency.id)?;
            let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
            let items = all
                .into_iter()
                .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
                .take(usize::try_from(page.per_page).unwrap_or(0))
                .map(|d| department_view(conn, d))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Paged { items, page, total })
        })
        .await
}

// ---------------------------------------------------------------------------------------------
// Hand-overs
// ---------------------------------------------------------------------------------------------

/// A hand-over as the API asks for it.
#[derive(Debug, Clone)]
pub enum HandoverInput {
    Assign {
        user_id: Option<String>,
        department_id: Option<String>,
        note: Option<String>,
    },
    Claim {
        note: Option<String>,
    },
    Transfer {
        department_id: String,
        reason: String,
    },
    Return {
        reason: String,
    },
}

fn refused(r: HandoverRefusal) -> AppError {
    AppError::conflict(r.code, r.detail)
}

fn cannot_hold(detail: Text) -> AppError {
    AppError::conflict("holder_cannot_hold", detail)
}

/// The caller as the hand-over rules see it (its department from its user row).
fn caller_department(conn: &mut DbConnection, actor: &Actor) -> Result<Option<String>, AppError> {
    Ok(match actor.principal {
        Principal::User => db::users::find(conn, &actor.user_id)?.and_then(|u| u.department_id),
        _ => None,
    })
}

fn directs(actor: &Actor) -> bool {
    actor.has(Role::Approver) || actor.has(Role::Admin)
}

/// Hand-overs happen inside one office: only its own staff hand its applications over (a
/// supervisor or admin of an agency above sees them, but does not work them).
fn in_office(actor: &Actor, app: &Application) -> Result<(), AppError> {
    if actor.agency_id == app.agency_id {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "只有申请所属机关的工作人员可以交接、协办该申请",
                "only the staff of the application's agency hand it over or consult on it"
            ),
        })
    }
}

/// A user of the agency who can hold an application now.
fn holding_user(
    conn: &mut DbConnection,
    agency_id: &str,
    id: &str,
) -> Result<crate::db::users::UserRow, AppError> {
    let user = db::users::find(conn, id)?
        .filter(|x| x.agency_id == agency_id)
        .ok_or_else(|| {
            AppError::field(
                "user_id",
                "unknown_user",
                crate::text!(
                    "不是该申请所属机关的用户",
                    "is not a user of the application's agency"
                ),
            )
        })?;
    if user.disabled || !can_handle(&user.roles) {
        return Err(cannot_hold(crate::text!(
            "用户 {} 已停用或没有承办角色（经办人、审批人或管理员）",
            "the user {} is disabled or has no handling role (clerk, approver or admin)",
            user.username
        )));
    }
    Ok(user)
}

/// A department of the application's agency that has someone to hold it.
fn holding_department(
    conn: &mut DbConnection,
    agency_id: &str,
    id: &str,
) -> Result<DepartmentView, AppError> {
    let d = db::office::find_department(conn, id)?
        .filter(|d| d.agency_id == agency_id)
        .ok_or_else(|| {
            AppError::field(
                "department_id",
                "unknown_department",
                crate::text!(
                    "不是该申请所属机关的部门",
                    "is not a department of the application's agency"
                ),
            )
        })?;
    let view = department_view(conn, d)?;
    if view.members.is_empty() {
        return Err(cannot_hold(crate::text!(
            "部门“{}”没有可承办申请的在职人员（经办人、审批人或管理员）",
            "the department \"{}\" has no active member who can hold an application (clerk, approver or admin)",
            view.name
        )));
    }
    Ok(view)
}

fn required_text(field: &str, v: &str, max: usize) -> Result<String, AppError> {
    crate::domain::validation::text(field, v, max, true).map_err(|e| AppError::Validation(vec![e]))
}

fn optional_text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    crate::domain::validation::optional_text(field, v, max, true)
        .map_err(|e| AppError::Validation(vec![e]))
}

fn party(h: &Holder, names: &Names) -> Value {
    json!({
        "user_id": h.user_id,
        "user_name": h.user_id.as_ref().and_then(|u| names.users.get(u)),
        "department_id": h.department_id,
        "department_name": h.department_id.as_ref().and_then(|d| names.departments.get(d)),
    })
}

#[derive(Default)]
struct Names {
    users: std::collections::HashMap<String, String>,
    departments: std::collections::HashMap<String, String>,
}

impl Names {
    fn of(conn: &mut DbConnection, holders: &[&Holder]) -> Result<Names, AppError> {
        let users: Vec<String> = holders.iter().filter_map(|h| h.user_id.clone()).collect();
        let depts: Vec<String> = holders
            .iter()
            .filter_map(|h| h.department_id.clone())
            .collect();
        Ok(Names {
            users: db::office::user_names(conn, &users)?.into_iter().collect(),
            departments: db::office::departments_by_ids(conn, &depts)?
                .into_iter()
                .map(|d| (d.id, d.name))
                .collect(),
        })
    }
}

/// Saves the application's next version with `holder` and appends the trail event.
#[allow(clippy::too_many_arguments)]
fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    app: &Application,
    holder: &Holder,
    action: &str,
    payload: Value,
    now: NaiveDateTime,
    ctx: &RequestContext,
) -> Result<Application, AppError> {
    if !db::office::set_holder(conn, &app.id, holder, app.version, now)? {
        return Err(AppError::PreconditionFailed);
    }
    let mut next = app.clone();
    next.version += 1;
    next.updated_at = now;
    super::requests::event(
        conn,
        false,
        &next,
        Some(actor),
        action,
        None,
        Some(app.state()),
        payload,
        ctx,
    )?;
    Ok(next)
}

/// What every hand-over and 协办 step reads first, in its transaction: the application (visible,
/// of the caller's own agency, at the version the caller read, open), its holder, and the
/// caller's department.
struct Opened {
    app: Application,
    code: String,
    holder: Holder,
    my_department: Option<String>,
}

fn open_step(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    if_match: Option<i32>,
) -> Result<Opened, AppError> {
    let (app, code) = visible(conn, actor, id)?;
    in_office(actor, &app)?;
    let expected = if_match.ok_or(AppError::PreconditionRequired)?;
    if expected != app.version {
        return Err(AppError::PreconditionFailed);
    }
    if !app.state().is_open() {
        return Err(AppError::conflict(
            "application_closed",
            crate::text!(
                "已办结的申请不再交接或协办",
                "a closed application is no longer handed over or consulted on"
            ),
        ));
    }
    let holder = db::office::holder(conn, &app.id)?.unwrap_or_default();
    let my_department = caller_department(conn, actor)?;
    Ok(Opened {
        app,
        code,
        holder,
        my_department,
    })
}

/// Assign, claim, transfer or return.
pub async fn hand_over(
    state: &AppState,
    actor: Actor,
    id: String,
    input: HandoverInput,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<RequestView, AppError> {
    may_write(&actor)?;
    let now = state.now_micros();
    let look = Look::of(state);
    state
        .in_transaction(move |conn| {
            let Opened {
                app,
                code,
                holder,
                my_department,
            } = open_step(conn, &actor, &id, if_match)?;
            let caller = Caller {
                user_id: &actor.user_id,
                department_id: my_department.as_deref(),
                directs: directs(&actor),
            };
            let (step, mut payload) = match &input {
                HandoverInput::Assign {
                    user_id,
                    department_id,
                    note,
                } => {
                    let note = optional_text("note", note.as_deref(), 2000)?;
                    let target = match (user_id, department_id) {
                        (Some(u), None) => {
                            let user = holding_user(conn, &app.agency_id, u)?;
                            Target::User {
                                id: user.id,
                                department_id: user.department_id,
                            }
                        }
                        (None, Some(d)) => {
                            let dept = holding_department(conn, &app.agency_id, d)?;
                            Target::Department { id: dept.id }
                        }
                        _ => {
                            return Err(AppError::field(
                                "user_id",
                                "one_of_required",
                                crate::text!(
                                    "须给出 user_id 或 department_id 之一",
                                    "give user_id or department_id, exactly one"
                                ),
                            ));
                        }
                    };
                    (Handover::Assign(target), json!({"note": note}))
                }
                HandoverInput::Claim { note } => {
                    let note = optional_text("note", note.as_deref(), 2000)?;
                    (Handover::Claim, json!({"note": note}))
                }
                HandoverInput::Transfer {
                    department_id,
                    reason,
                } => {
                    let reason = required_text("reason", reason, 2000)?;
                    let dept = holding_department(conn, &app.agency_id, department_id)?;
                    (
                        Handover::Transfer {
                            department_id: dept.id,
                        },
                        json!({"reason": reason}),
                    )
                }
                HandoverInput::Return { reason } => {
                    let reason = required_text("reason", reason, 2000)?;
                    // The sender must still be able to hold it.
                    match holder.return_target() {
                        Some(Target::User { id, .. }) => {
                            holding_user(conn, &app.agency_id, &id).map_err(|e| match e {
                                AppError::Validation(_) => cannot_hold(crate::text!(
                                    "交办人已不在本机关",
                                    "the sender is no longer a user of the agency"
                                )),
                                other => other,
                            })?;
                        }
                        Some(Target::Department { id }) => {
                            holding_department(conn, &app.agency_id, &id)?;
                        }
                        None => {}
                    }
                    (Handover::Return, json!({"reason": reason}))
                }
            };
            let next_holder = rules::hand_over(&holder, &caller, &step, now).map_err(refused)?;
            let names = Names::of(conn, &[&holder, &next_holder])?;
            if let Value::Object(m) = &mut payload {
                m.insert("from".into(), party(&holder, &names));
                m.insert("to".into(), party(&next_holder, &names));
            }
            let next = record(
                conn,
                &actor,
                &app,
                &next_holder,
                step.name(),
                payload,
                now,
                &ctx,
            )?;
            view_after(conn, next, code, &look)
        })
        .await
}

fn view_after(
    conn: &mut DbConnection,
    app: Application,
    code: String,
    look: &Look,
) -> Result<RequestView, AppError> {
    let mut v = RequestView::new(app);
    v.agency_code = Some(code);
    super::requests::detail(conn, &mut v, look)?;
    Ok(v)
}

/// An internal consultation (协办) with its answer.
#[derive(Debug, Clone)]
pub struct ConsultationView {
    pub row: InternalConsultationRow,
    pub department_name: String,
}

/// 协办: asks another department to contribute; the holder keeps the application.
pub async fn consult_internally(
    state: &AppState,
    actor: Actor,
    id: String,
    department_id: String,
    question: String,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<(RequestView, ConsultationView), AppError> {
    may_write(&actor)?;
    let question = required_text("question", &question, 4000)?;
    let now = state.now_micros();
    let look = Look::of(state);
    state
        .in_transaction(move |conn| {
            let Opened {
                app,
                code,
                holder,
                my_department,
            } = open_step(conn, &actor, &id, if_match)?;
            let caller = Caller {
                user_id: &actor.user_id,
                department_id: my_department.as_deref(),
                directs: directs(&actor),
            };
            let dept = holding_department(conn, &app.agency_id, &department_id)?;
            rules::may_consult_internally(&holder, &caller, &dept.id).map_err(refused)?;
            let row = InternalConsultationRow {
                id: uuid::Uuid::new_v4().to_string(),
                request_id: app.id.clone(),
                department_id: dept.id.clone(),
                question,
                asked_by: Some(actor.user_id.clone()),
                asked_at: now,
                answer: None,
                answered_by: None,
                answered_at: None,
            };
            db::office::insert_consultation(conn, &row)?;
            let next = record(
                conn,
                &actor,
                &app,
                &holder,
                "consult_internally",
                json!({"consultation_id": row.id, "department_id": dept.id,
                       "department_name": dept.name, "question": row.question}),
                now,
                &ctx,
            )?;
            let v = view_after(conn, next, code, &look)?;
            Ok((
                v,
                ConsultationView {
                    row,
                    department_name: dept.name,
                },
            ))
        })
        .await
}

/// Records the consulted department's answer, once: by one of its members, or one who
/// directs.
#[allow(clippy::too_many_arguments)]
pub async fn answer_internal_consultation(
    state: &AppState,
    actor: Actor,
    id: String,
    consultation_id: String,
    answer: String,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<(RequestView, ConsultationView), AppError> {
    may_write(&actor)?;
    let answer = required_text("answer", &answer, 8000)?;
    let now = state.now_micros();
    let look = Look::of(state);
    state
        .in_transaction(move |conn| {
            let (app, code) = visible(conn, &actor, &id)?;
            in_office(&actor, &app)?;
            let expected = if_match.ok_or(AppError::PreconditionRequired)?;
            if expected != app.version {
                return Err(AppError::PreconditionFailed);
            }
            let mut row = db::office::consultations(conn, &app.id)?
                .into_iter()
                .find(|c| c.id == consultation_id)
                .ok_or(AppError::NotFound(crate::text!("协办", "internal consultation")))?;
            let my_department = caller_department(conn, &actor)?;
            if !directs(&actor) && my_department.as_deref() != Some(row.department_id.as_str()) {
                return Err(AppError::conflict(
                    "not_in_consulted_department",
                    crate::text!(
                        "只有被协办处室的人员（或审批人、管理员）可以答复协办",
                        "only a member of the consulted department (or an approver or admin) may answer"
                    ),
                ));
            }
            if !db::office::answer_consultation(conn, &row.id, &answer, &actor.user_id, now)? {
                return Err(AppError::conflict(
                    "already_answered",
                    crate::text!("该协办已答复", "the internal consultation was already answered"),
                ));
            }
            row.answer = Some(answer);
            row.answered_by = Some(actor.user_id.clone());
            row.answered_at = Some(now);
            let holder = db::office::holder(conn, &app.id)?.unwrap_or_default();
            let dept_name = db::office::find_department(conn, &row.department_id)?
                .map(|d| d.name)
                .unwrap_or_default();
            let next = record(
                conn,
                &actor,
                &app,
                &holder,
                "answer_internal_consultation",
                json!({"consultation_id": row.id, "department_id": row.department_id,
                       "department_name": dept_name, "answer": row.answer}),
                now,
                &ctx,
            )?;
            let v = view_after(conn, next, code, &look)?;
            Ok((
                v,
                ConsultationView {
                    row,
                    department_name: dept_name,
                },
            ))
        })
        .await
}

pub async fn internal_consultations(
    state: &AppState,
    actor: Actor,
    id: String,
) -> Result<Vec<ConsultationView>, AppError> {
    state
        .with_conn(move |conn| {
            let (app, _) = visible(conn, &actor, &id)?;
            let rows = db::office::consultations(conn, &app.id)?;
            let ids: Vec<String> = rows.iter().map(|r| r.department_id.clone()).collect();
            let names: std::collections::HashMap<String, String> =
                db::office::departments_by_ids(conn, &ids)?
                    .into_iter()
                    .map(|d| (d.id, d.name))
                    .collect();
            Ok(rows
                .into_iter()
                .map(|row| ConsultationView {
                    department_name: names.get(&row.department_id).cloned().unwrap_or_default(),
                    row,
                })
                .collect())
        })
        .await
}

// ---------------------------------------------------------------------------------------------
// Queues
// ---------------------------------------------------------------------------------------------

/// Whose queue: the caller's (and its department's), or, for one who directs or supervises,
/// a department's, a user's, or the unassigned applications.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub department_id: Option<String>,
    pub holder_user_id: Option<String>,
    pub unassigned: bool,
}

/// One application in a queue.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub view: RequestView,
    pub working_days_left: Option<i64>,
    pub overdue: bool,
    pub next_step: Option<NextStep>,
    pub next_step_working_days_left: Option<i64>,
}

/// At most this many open applications are read for one queue (sorted, then paged).
pub const QUEUE_MAX: i64 = 2_000;

pub async fn queue(
    state: &AppState,
    actor: Actor,
    filter: QueueFilter,
    page: Page,
) -> Result<Paged<QueueItem>, AppError> {
    let cache = state.calendar.clone();
    let mut look = Look::of(state);
    state
        .with_conn(move |conn| {
            let cal = cache.current(conn)?;
            look.calendar = Some(cal.clone());
            let today = look.today;
            let oversees = directs(&actor) || actor.has(Role::Supervisor);
            let asks_other = filter.department_id.is_some()
                || filter.holder_user_id.is_some()
                || filter.unassigned;
            if asks_other && !oversees {
                return Err(AppError::Forbidden {
                    code: "forbidden",
                    detail: crate::text!(
                        "查看其他处室或人员的待办须具有审批人、管理员或监督人角色",
                        "another department's or person's queue needs the role approver, admin or supervisor"
                    ),
                });
            }
            // A filter names its agency (within the caller's view); otherwise the caller's own.
            let mut agency = actor.agency_id.clone();
            if let Some(d) = &filter.department_id {
                let dept = db::office::find_department(conn, d)?.ok_or_else(|| {
                    AppError::field("department_id", "unknown_department", crate::text!("没有此部门", "no such department"))
                })?;
                visible_agency(conn, &actor, &dept.agency_id).map_err(|_| {
                    AppError::field("department_id", "unknown_department", crate::text!("没有此部门", "no such department"))
                })?;
                agency = dept.agency_id;
            } else if let Some(u) = &filter.holder_user_id {
                let user = db::users::find(conn, u)?.ok_or_else(|| {
                    AppError::field("holder_user_id", "unknown_user", crate::text!("没有此用户", "no such user"))
                })?;
                visible_agency(conn, &actor, &user.agency_id).map_err(|_| {
                    AppError::field("holder_user_id", "unknown_user", crate::text!("没有此用户", "no such user"))
                })?;
                agency = user.agency_id;
            }
            let agencies = vec![agency];
            let rows = if asks_other {
                let users: Vec<String> = filter.holder_user_id.iter().cloned().collect();
                let depts: Vec<String> = filter.department_id.iter().cloned().collect();
                db::office::queue(conn, &agencies, &users, &depts, filter.unassigned, QUEUE_MAX)?
            } else {
                let mine = caller_department(conn, &actor)?;
                let depts: Vec<String> = mine.into_iter().collect();
                db::office::queue(
                    conn,
                    &agencies,
                    std::slice::from_ref(&actor.user_id),
                    &depts,
                    false,
                    QUEUE_MAX,
                )?
            };
            let mut views = Vec::with_capacity(rows.len());
            for (core, details, workflow, _) in rows {
                let app = db::requests::from_row(db::requests::RequestRow {
                    core,
                    details,
                    workflow,
                })?;
                views.push(RequestView::new(app));
            }
            decorate_all(conn, &mut views, &look)?;
            let mut items: Vec<QueueItem> = views
                .into_iter()
                .map(|v| {
                    let d = v.app.deadline(&cal, today).ok();
                    let left = v.app.due_date.and_then(|due| working_days_left(&cal, today, due));
                    let next = d.as_ref().and_then(|d| rules::next_step(v.app.state(), d, today));
                    let next_left = next
                        .as_ref()
                        .and_then(|n| working_days_left(&cal, today, n.date));
                    QueueItem {
                        overdue: v.app.due_date.is_some_and(|due| due < today),
                        working_days_left: left,
                        next_step: next,
                        next_step_working_days_left: next_left,
                        view: v,
                    }
                })
                .collect();
            // Overdue first, then by the next step's date, then by case number.
            items.sort_by(|a, b| {
                b.overdue
                    .cmp(&a.overdue)
                    .then_with(|| {
                        let ka = a.next_step.as_ref().map(|n| n.date).unwrap_or(NaiveDate::MAX);
                        let kb = b.next_step.as_ref().map(|n| n.date).unwrap_or(NaiveDate::MAX);
                        ka.cmp(&kb)
                    })
                    .then_with(|| a.view.app.case_number.cmp(&b.view.app.case_number))
            });
            let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let items = items
                .into_iter()
                .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
                .take(usize::try_from(page.per_page).unwrap_or(0))
                .collect();
            Ok(Paged { items, page, total })
        })
        .await
}

/// Open applications by holder, for the dashboard.
pub struct HolderCounts {
    /// `(department id, name, open applications held by it or its members)`.
    pub by_department: Vec<(Option<String>, Option<String>, i64)>,
    /// `(user id, name, open applications held)`; awaiting claim counts under the department.
    pub by_holder: Vec<(String, String, i64)>,
    pub unassigned: i64,
    pub awaiting_claim: i64,
    /// `(flag code, applications)`.
    pub flags: Vec<(String, i64)>,
}

pub fn holder_counts(
    conn: &mut DbConnection,
    scope: &db::requests::Scope,
    reply_risk_before: NaiveDate,
) -> Result<HolderCounts, AppError> {
    let rows = db::office::open_by_holder(conn, scope)?;
    let dept_ids: Vec<String> = rows.iter().filter_map(|(d, _, _)| d.clone()).collect();
    let user_ids: Vec<String> = rows.iter().filter_map(|(_, u, _)| u.clone()).collect();
    let dept_names: std::collections::HashMap<String, String> =
        db::office::departments_by_ids(conn, &dept_ids)?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
    let user_names: std::collections::HashMap<String, String> =
        db::office::user_names(conn, &user_ids)?
            .into_iter()
            .collect();
    let mut by_dept: std::collections::BTreeMap<Option<String>, i64> = Default::default();
    let mut by_user: std::collections::BTreeMap<String, i64> = Default::default();
    let (mut unassigned, mut awaiting) = (0, 0);
    for (d, u, n) in rows {
        match (&d, &u) {
            (None, None) => unassigned += n,
            (Some(_), None) => awaiting += n,
            _ => {}
        }
        if d.is_some() {
            *by_dept.entry(d.clone()).or_default() += n;
        }
        if let Some(u) = u {
            *by_user.entry(u).or_default() += n;
        }
    }
    let mut counted: std::collections::BTreeMap<String, i64> = rules::FLAG_CODES
        .iter()
        .map(|c| (c.to_string(), 0))
        .collect();
    counted.extend(db::office::flag_counts(conn, scope)?);
    counted.insert(
        "reply_at_risk".into(),
        db::office::count_reply_at_risk(conn, scope, reply_risk_before)?,
    );
    let flags: Vec<(String, i64)> = counted.into_iter().collect();
    Ok(HolderCounts {
        by_department: by_dept
            .into_iter()
            .map(|(d, n)| {
                let name = d.as_ref().and_then(|d| dept_names.get(d).cloned());
                (d, name, n)
            })
            .collect(),
        by_holder: by_user
            .into_iter()
            .map(|(u, n)| {
                let name = user_names.get(&u).cloned().unwrap_or_default();
                (u, name, n)
            })
            .collect(),
        unassigned,
        awaiting_claim: awaiting,
        flags,
    })
}

// ---------------------------------------------------------------------------------------------
// Flags raised by steps
// ---------------------------------------------------------------------------------------------

fn stored(request_id: &str, f: &Flag, now: NaiveDateTime) -> FlagRow {
    FlagRow {
        request_id: request_id.to_string(),
        code: f.code.to_string(),
        explanation: json!({
            "zh": f.explanation.zh().unwrap_or(f.explanation.en()),
            "en": f.explanation.en(),
            "facts": f.facts,
        })
        .to_string(),
        related: json!(f.related_request_ids).to_string(),
        raised_at: now,
    }
}

/// Earlier applications of one applicant compared for `possible_repeat`: the 20 most recent of
/// the year. A repeat is nearly always of a recent application; comparing more made every intake
/// of a prolific applicant (a platform forwarding a backlog) decode and compare all of them —
/// at 100, intake on PostgreSQL fell from 308/s to 130/s (`bench/ratios.sh`).
const REPEAT_CANDIDATES: i64 = 20;
/// Applications of the last 30 days named in a `high_volume_applicant` flag.
const VOLUME_LISTED: i64 = 50;

/// How many of `arrivals` (newest first, read with at most `limit` rows) are on or after
/// `since`, when the read holds all of those: it ended before its limit, or reached back past
/// `since`. `None` when it may have left some out.
fn all_since(arrivals: &[NaiveDate], since: NaiveDate, limit: i64) -> Option<usize> {
    let n = arrivals.iter().take_while(|d| **d >= since).count();
    let short = i64::try_from(arrivals.len()).is_ok_and(|len| len < limit);
    (short || n < arrivals.len()).then_some(n)
}

/// The flags an intake raises (reads only; intake judges them before its transaction):
/// `possible_repeat` and `high_volume_applicant`.
pub fn intake_flags(
    conn: &mut DbConnection,
    agency_id: &str,
    details: &crate::domain::request::IntakeDetails,
    arrival: NaiveDate,
    t: &FlagThresholds,
) -> Result<Vec<Flag>, AppError> {
    let Some(key) = details.applicant.key() else {
        return Ok(Vec::new());
    };
    let year_ago = arrival
        .with_year(arrival.year() - 1)
        .unwrap_or(arrival - chrono::Duration::days(365));
    // The 30 days ending on the arrival day.
    let month_ago = arrival - chrono::Duration::days(29);
    let earlier = db::office::same_applicant_since(
        conn,
        agency_id,
        &key,
        (year_ago, arrival),
        REPEAT_CANDIDATES,
    )?;
    // Newest first: those of the last 30 days lead. When the read ended before its limit, or
    // reached back past those 30 days, it holds all of them, and the high-volume count needs
    // no statement of its own (one statement fewer for nearly every intake).
    let arrivals: Vec<NaiveDate> = earlier.iter().map(|e| e.3).collect();
    let in_month = all_since(&arrivals, month_ago, REPEAT_CANDIDATES).map(|n| {
        earlier
            .iter()
            .take(n)
            .map(|e| e.0.clone())
            .collect::<Vec<String>>()
    });
    let parsed: Vec<(String, String, crate::domain::request::IntakeDetails)> = earlier
        .into_iter()
        .filter_map(|(id, number, d, _)| {
            crate::domain::stored::decode_details(&d)
                .ok()
                .map(|d| (id, number, d))
        })
        .collect();
    let candidates: Vec<rules::Earlier<'_>> = parsed
        .iter()
        .map(|(id, number, d)| rules::Earlier {
            id,
            case_number: number,
            description: &d.description,
            document_numbers: &d.document_numbers,
        })
        .collect();
    let mut flags = Vec::new();
    if let Some(f) = rules::possible_repeat(
        &details.description,
        &details.document_numbers,
        &candidates,
        t,
    ) {
        flags.push(f);
    }
    let (count, recent) = if let Some(in_month) = in_month {
        let n = i64::try_from(in_month.len()).unwrap_or(i64::MAX);
        let listed = usize::try_from(VOLUME_LISTED).unwrap_or(usize::MAX);
        (n, in_month.into_iter().take(listed).collect())
    } else {
        db::office::same_applicant_count(
            conn,
            agency_id,
            &key,
            (month_ago, arrival),
            VOLUME_LISTED,
        )?
    };
    let count = u32::try_from(count + 1).unwrap_or(u32::MAX);
    if let Some(f) = rules::high_volume_applicant(&recent, count, t) {
        flags.push(f);
    }
    Ok(flags)
}

/// Stores the flags of a new application (nothing to replace).
pub fn raise_new(
    conn: &mut DbConnection,
    request_id: &str,
    flags: &[Flag],
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let rows: Vec<FlagRow> = flags.iter().map(|f| stored(request_id, f, now)).collect();
    Ok(db::office::insert_flags(conn, &rows)?)
}

/// Stores flags raised on an application.
pub fn raise(
    conn: &mut DbConnection,
    request_id: &str,
    flags: &[Flag],
    now: NaiveDateTime,
) -> Result<(), AppError> {
    for f in flags {
        db::office::raise(conn, &stored(request_id, f, now))?;
    }
    Ok(())
}

/// The flags a statutory step raises, judged on the application before and after it.
pub fn step_flags(
    conn: &mut DbConnection,
    before: &Application,
    action: &Action,
    on: NaiveDate,
    cal: &Calendar,
    t: &FlagThresholds,
) -> Result<Vec<Flag>, AppError> {
    let mut flags = Vec::new();
    match action {
        Action::RequestCorrection { items, .. } => {
            if let Some(receipt) = before.receipt_date()
                && let Ok(end) =
                    cal.add_working_days(receipt, crate::domain::clock::CORRECTION_NOTICE_WINDOW)
                && let Some(f) =
                    rules::stalling_correction(on, end, items, &before.details.description)
            {
                flags.push(f);
            }
        }
        Action::Extend { .. } => {
            if let Some(due) = before.due_date
                && let Some(f) = rules::late_extension(on, due)
            {
                flags.push(f);
            }
            let from = on - chrono::Duration::days(90);
            let (cases, extended) =
                db::office::extension_counts(conn, &before.agency_id, from, on)?;
            // This extension is being recorded now: count it when its application is in range.
            let this_counts = before.arrival_date >= from && before.arrival_date <= on;
            let extended = extended + i64::from(this_counts);
            if let Some(f) = rules::extension_habit(
                u32::try_from(extended).unwrap_or(u32::MAX),
                u32::try_from(cases).unwrap_or(u32::MAX),
                t,
            ) {
                flags.push(f);
            }
        }
        Action::StartConsultation { .. } => {
            if let Some(due) = before.due_date
                && let Ok(Some(f)) = rules::consultation_as_delay(cal, on, due)
            {
                flags.push(f);
            }
        }
        _ => {}
    }
    Ok(flags)
}

/// The field error of a flag code not known.
pub fn unknown_flag() -> FieldError {
    FieldError::new(
        "flag",
        "unknown_code",
        crate::text!(
            "须为 stalling_correction、late_extension、extension_habit、consultation_as_delay、possible_repeat、high_volume_applicant 或 reply_at_risk",
            "must be stalling_correction, late_extension, extension_habit, consultation_as_delay, possible_repeat, high_volume_applicant or reply_at_risk"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::all_since;
    use chrono::NaiveDate;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    #[test]
    fn a_read_that_ended_before_its_limit_holds_the_whole_month() {
        assert_eq!(all_since(&[], d(3, 1), 3), Some(0));
        assert_eq!(all_since(&[d(3, 5), d(3, 1)], d(3, 1), 3), Some(2));
        // The 30 days' bound day itself is in; the day before is not.
        assert_eq!(all_since(&[d(3, 5), d(2, 28)], d(3, 1), 3), Some(1));
    }

    #[test]
    fn a_full_read_holds_the_month_only_when_it_reached_back_past_it() {
        assert_eq!(all_since(&[d(3, 5), d(3, 2), d(2, 1)], d(3, 1), 3), Some(2));
        assert_eq!(all_since(&[d(3, 5), d(3, 2), d(2, 1)], d(3, 3), 3), Some(1));
        // Three of the month read, the limit reached: a fourth may have been left out.
        assert_eq!(all_since(&[d(3, 5), d(3, 2), d(3, 1)], d(3, 1), 3), None);
    }
}
