//! Review and litigation records: create, read, list, and change (a decided case only through
//! an explicit correction that the audit log keeps with before and after).

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::json;

use super::idempotency::{Answer, Answering};
use super::{AppError, AppState, Page, Paged, RequestContext, audit};
use crate::db::{self, DbConnection, remedies::RemedyRow};
use crate::domain::access::{Actor, Role};
use crate::domain::remedy::{self, CaseInput, RemedyKind};
use crate::domain::validation::FieldError;

/// A review or lawsuit record as the app layer hands it out.
#[derive(Debug, Clone)]
pub struct RemedyView {
    pub id: String,
    pub kind: String,
    pub agency_id: String,
    pub request_id: Option<String>,
    pub applicant_name: String,
    pub body_name: String,
    pub filed_on: NaiveDate,
    pub received_on: Option<NaiveDate>,
    pub act_known_on: Option<NaiveDate>,
    pub route: Option<String>,
    pub review_id: Option<String>,
    pub instance: Option<String>,
    pub decision_type: Option<String>,
    pub decided_on: Option<NaiveDate>,
    pub outcome: String,
    pub notes: Option<String>,
    pub filing_deadline: Option<NaiveDate>,
    pub filing_rule: Option<String>,
    pub filed_late: bool,
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl From<RemedyRow> for RemedyView {
    fn from(r: RemedyRow) -> Self {
        RemedyView {
            id: r.id,
            kind: r.kind,
            agency_id: r.agency_id,
            request_id: r.request_id,
            applicant_name: r.applicant_name,
            body_name: r.body_name,
            filed_on: r.filed_on,
            received_on: r.received_on,
            act_known_on: r.act_known_on,
            route: r.route,
            review_id: r.review_id,
            instance: r.instance,
            decision_type: r.decision_type,
            decided_on: r.decided_on,
            outcome: r.outcome,
            notes: r.notes,
            filing_deadline: r.filing_deadline,
            filing_rule: r.filing_rule,
            filed_late: r.filed_late,
            version: r.version,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Filters of the case lists (all optional; checked by the caller).
#[derive(Debug, Clone, Default)]
pub struct RemedyFilter {
    pub route: Option<String>,
    pub outcome: Option<String>,
    pub pending: Option<bool>,
    pub filed_from: Option<NaiveDate>,
    pub filed_to: Option<NaiveDate>,
    pub decided_from: Option<NaiveDate>,
    pub decided_to: Option<NaiveDate>,
    pub request_id: Option<String>,
}

/// A case as the HTTP layer read it.
#[derive(Debug, Clone, Default)]
pub struct RemedyInput {
    pub agency_id: Option<String>,
    pub request_id: Option<String>,
    pub review_id: Option<String>,
    pub case: CaseInput,
}

fn may_write(actor: &Actor) -> Result<(), AppError> {
    if actor.has(Role::Clerk) || actor.has(Role::Approver) || actor.has(Role::Admin) {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "forbidden",
            detail: "recording cases needs the role clerk, approver or admin".into(),
        })
    }
}

fn what(kind: RemedyKind) -> &'static str {
    match kind {
        RemedyKind::Review => "review",
        RemedyKind::Litigation => "litigation",
    }
}

fn visible(
    conn: &mut DbConnection,
    actor: &Actor,
    kind: RemedyKind,
    id: &str,
) -> Result<RemedyRow, AppError> {
    let row = db::remedies::find(conn, id)?.filter(|r| r.kind == kind.code());
    let Some(row) = row else {
        return Err(AppError::NotFound(what(kind)));
    };
    let agency = db::agencies::find(conn, &row.agency_id)?.ok_or(AppError::NotFound(what(kind)))?;
    if actor.sees(&agency.id, &agency.path) {
        Ok(row)
    } else {
        Err(AppError::NotFound(what(kind)))
    }
}

/// Checks the links of a case and returns the review's decision date (for a suit after review)
/// and the linked application's closing date (when the applicant learned of the reply).
fn check_links(
    conn: &mut DbConnection,
    agency_id: &str,
    request_id: Option<&str>,
    review_id: Option<&str>,
) -> Result<(Option<chrono::NaiveDate>, Option<chrono::NaiveDate>), AppError> {
    let mut closed_on = None;
    if let Some(rid) = request_id {
        match db::requests::load(conn, rid)? {
            Some(r) if r.agency_id == agency_id => closed_on = r.closed_on(),
            _ => {
                return Err(AppError::field(
                    "request_id",
                    "unknown_request",
                    "no application of this agency has this id",
                ));
            }
        }
    }
    let mut review_decided = None;
    if let Some(rv) = review_id {
        match db::remedies::find(conn, rv)? {
            Some(r) if r.kind == "review" && r.agency_id == agency_id => match r.decided_on {
                Some(d) => review_decided = Some(d),
                None => {
                    return Err(AppError::conflict(
                        "review_not_decided",
                        "a suit after review needs a decided review",
                    ));
                }
            },
            _ => {
                return Err(AppError::field(
                    "review_id",
                    "unknown_review",
                    "no review of this agency has this id",
                ));
            }
        }
    }
    Ok((review_decided, closed_on))
}

fn build_row(
    conn: &mut DbConnection,
    kind: RemedyKind,
    mut row: RemedyRow,
    input: &RemedyInput,
    state: &AppState,
    cal: &crate::domain::calendar::Calendar,
) -> Result<RemedyRow, AppError> {
    let (review_decided, closed_on) = check_links(
        conn,
        &row.agency_id,
        input.request_id.as_deref(),
        input.review_id.as_deref(),
    )?;
    let mut case_input = input.case.clone();
    case_input.has_review = input.review_id.is_some();
    if case_input.act_known_on.is_none() && kind == RemedyKind::Review {
        // Without a date given, the applicant learned of the act when the reply was made.
        case_input.act_known_on = closed_on.filter(|c| case_input.filed_on.is_none_or(|f| *c <= f));
    }
    let case =
        remedy::parse_case(kind, &case_input, state.today()).map_err(AppError::Validation)?;
    let limit = remedy::filing_limit(kind, &case, review_decided, cal);
    row.request_id = input.request_id.clone();
    row.review_id = input.review_id.clone();
    row.applicant_name = case.applicant_name.clone();
    row.body_name = case.body_name.clone();
    row.filed_on = case.filed_on;
    row.received_on = case.received_on;
    row.act_known_on = case.act_known_on;
    row.route = case.route.map(|r| r.code().to_string());
    row.instance = case.instance.clone();
    row.decision_type = case.decision.map(|d| d.code().to_string());
    row.decided_on = case.decided_on;
    row.outcome = remedy::outcome(case.decision).code().to_string();
    row.notes = case.notes.clone();
    row.filing_deadline = limit.as_ref().map(|l| l.deadline);
    row.filing_rule = limit.as_ref().map(|l| l.rule.to_string());
    row.filed_late = limit.is_some_and(|l| l.filed_late);
    Ok(row)
}

/// The cell of table 四 the case counts in for `year`.
fn counted(r: &RemedyRow, year: i32, active_in_year: bool) -> Option<(String, String)> {
    crate::domain::report::counted_case(
        &r.kind,
        r.route.as_deref(),
        r.received_on.unwrap_or(r.filed_on),
        r.decided_on,
        &r.outcome,
        year,
        active_in_year,
    )
}

fn snapshot(r: &RemedyRow) -> serde_json::Value {
    json!({
        "request_id": r.request_id, "review_id": r.review_id, "applicant_name": r.applicant_name,
        "body_name": r.body_name, "filed_on": r.filed_on, "received_on": r.received_on,
        "act_known_on": r.act_known_on, "route": r.route, "instance": r.instance,
        "decision_type": r.decision_type, "decided_on": r.decided_on, "outcome": r.outcome, "notes": r.notes,
    })
}

pub async fn create(
    state: &AppState,
    actor: Actor,
    kind: RemedyKind,
    input: RemedyInput,
    ctx: RequestContext,
    once: Answering<RemedyView>,
) -> Result<Answer, AppError> {
    let clock = state.clock;
    may_write(&actor)?;
    let st = state.clone();
    let once = once.through(|row: &RemedyRow| RemedyView::from(row.clone()));
    state
        .create_once(actor.user_id.clone(), once, move |conn| {
            let agency = match &input.agency_id {
                None => db::agencies::find(conn, &actor.agency_id)?
                    .ok_or(AppError::NotFound("agency"))?,
                Some(id) => match db::agencies::find(conn, id)? {
                    Some(a)
                        if a.id == actor.agency_id
                            || (actor.has(Role::Admin) && actor.sees(&a.id, &a.path)) =>
                    {
                        a
                    }
                    _ => {
                        return Err(AppError::field(
                            "agency_id",
                            "unknown_agency",
                            "no such agency in your scope",
                        ));
                    }
                },
            };
            let cal = st.calendar.current(conn)?;
            let now = clock.now_micros();
            let empty = RemedyRow {
                id: uuid::Uuid::new_v4().to_string(),
                kind: kind.code().to_string(),
                agency_id: agency.id.clone(),
                request_id: None,
                applicant_name: String::new(),
                body_name: String::new(),
                filed_on: chrono::NaiveDate::MIN,
                received_on: None,
                act_known_on: None,
                route: None,
                review_id: None,
                instance: None,
                decision_type: None,
                decided_on: None,
                outcome: String::new(),
                notes: None,
                filing_deadline: None,
                filing_rule: None,
                filed_late: false,
                version: 1,
                created_by: Some(actor.username.clone()),
                created_at: now,
                updated_at: now,
            };
            let row = build_row(conn, kind, empty, &input, &st, &cal)?;
            let active = st.settings.report.remedy_counting
                == crate::config::RemedyCountingSetting::ActiveInYear;
            super::reports::ensure_figures_unchanged(conn, &row.agency_id, |y| {
                (None, counted(&row, y, active))
            })?;
            db::remedies::insert(conn, &row)?;
            audit(
                conn,
                clock.now_micros(),
                Some(&actor),
                Some(&row.agency_id),
                (kind.code(), &row.id),
                "case_recorded",
                snapshot(&row),
                &ctx,
            )?;
            Ok(row)
        })
        .await
}

pub async fn get(
    state: &AppState,
    actor: Actor,
    kind: RemedyKind,
    id: String,
) -> Result<RemedyView, AppError> {
    state
        .with_conn(move |conn| visible(conn, &actor, kind, &id))
        .await
        .map(RemedyView::from)
}

pub async fn list(
    state: &AppState,
    actor: Actor,
    kind: RemedyKind,
    filter: RemedyFilter,
    page: Page,
) -> Result<Paged<RemedyView>, AppError> {
    let filter = db::remedies::RemedyFilter {
        route: filter.route,
        outcome: filter.outcome,
        pending: filter.pending,
        filed_from: filter.filed_from,
        filed_to: filter.filed_to,
        decided_from: filter.decided_from,
        decided_to: filter.decided_to,
        request_id: filter.request_id,
    };
    state
        .with_conn(move |conn| {
            let (items, total) = db::remedies::list(
                conn,
                kind.code(),
                &actor.visibility(),
                &filter,
                page.offset(),
                page.per_page,
            )?;
            Ok(Paged { items, page, total })
        })
        .await
        .map(|p| p.map(RemedyView::from))
}

/// A change: each `Some` replaces the field (`Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct RemedyPatch {
    pub request_id: Option<Option<String>>,
    pub review_id: Option<Option<String>>,
    pub applicant_name: Option<String>,
    pub body_name: Option<String>,
    pub filed_on: Option<chrono::NaiveDate>,
    pub received_on: Option<Option<chrono::NaiveDate>>,
    pub act_known_on: Option<Option<chrono::NaiveDate>>,
    pub route: Option<String>,
    pub instance: Option<Option<String>>,
    pub decision_type: Option<Option<String>>,
    pub decided_on: Option<Option<chrono::NaiveDate>>,
    pub notes: Option<Option<String>>,
    /// Required to change a decided case.
    pub correction_reason: Option<String>,
}

pub async fn patch(
    state: &AppState,
    actor: Actor,
    kind: RemedyKind,
    id: String,
    p: RemedyPatch,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<RemedyView, AppError> {
    let clock = state.clock;
    may_write(&actor)?;
    let st = state.clone();
    state
        .in_transaction(move |conn| {
            let current = visible(conn, &actor, kind, &id)?;
            let expected = if_match.ok_or(AppError::PreconditionRequired)?;
            if expected != current.version {
                return Err(AppError::PreconditionFailed);
            }
            let pick = |v: &Option<Option<String>>, c: &Option<String>| {
                v.clone().unwrap_or_else(|| c.clone())
            };
            let pick_d = |v: &Option<Option<chrono::NaiveDate>>, c: Option<chrono::NaiveDate>| {
                v.unwrap_or(c)
            };
            let input = RemedyInput {
                agency_id: None,
                request_id: pick(&p.request_id, &current.request_id),
                review_id: pick(&p.review_id, &current.review_id),
                case: CaseInput {
                    applicant_name: p
                        .applicant_name
                        .clone()
                        .unwrap_or_else(|| current.applicant_name.clone()),
                    body_name: p
                        .body_name
                        .clone()
                        .unwrap_or_else(|| current.body_name.clone()),
                    filed_on: Some(p.filed_on.unwrap_or(current.filed_on)),
                    received_on: pick_d(&p.received_on, current.received_on),
                    act_known_on: pick_d(&p.act_known_on, current.act_known_on),
                    decision_type: pick(&p.decision_type, &current.decision_type),
                    decided_on: pick_d(&p.decided_on, current.decided_on),
                    notes: pick(&p.notes, &current.notes),
                    route: p.route.clone().or_else(|| current.route.clone()),
                    instance: pick(&p.instance, &current.instance),
                    has_review: false,
                },
            };
            let cal = st.calendar.current(conn)?;
            let mut row = build_row(conn, kind, current.clone(), &input, &st, &cal)?;
            let before = snapshot(&current);
            let after = snapshot(&row);
            if before == after {
                return Ok(current);
            }
            // Only a change of the cell the case counts in touches a published year.
            let active = st.settings.report.remedy_counting
                == crate::config::RemedyCountingSetting::ActiveInYear;
            super::reports::ensure_figures_unchanged(conn, &row.agency_id, |y| {
                (counted(&current, y, active), counted(&row, y, active))
            })?;
            let decided = current.decision_type.is_some();
            let reason = match (&p.correction_reason, decided) {
                (Some(r), _) => Some(
                    crate::domain::validation::text("correction_reason", r, 1000, true)
                        .map_err(|e| AppError::Validation(vec![e]))?,
                ),
                (None, true) => {
                    return Err(AppError::conflict(
                        "decided_case_requires_correction",
                        "a decided case changes only through a correction: send correction_reason",
                    ));
                }
                (None, false) => None,
            };
            if kind == RemedyKind::Review
                && decided
                && row.decision_type.is_none()
                && !db::remedies::suits_after(conn, &row.id)?.is_empty()
            {
                return Err(AppError::conflict(
                    "review_has_suits",
                    "a suit after this review exists; its decision cannot be removed",
                ));
            }
            row.version += 1;
            row.updated_at = clock.now_micros();
            if !db::remedies::update_if_version(conn, &row, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            audit(
                conn,
                row.updated_at,
                Some(&actor),
                Some(&row.agency_id),
                (kind.code(), &row.id),
                if decided {
                    "case_corrected"
                } else {
                    "case_updated"
                },
                json!({"before": before, "after": after, "reason": reason}),
                &ctx,
            )?;
            if kind == RemedyKind::Review && row.decided_on != current.decided_on {
                remeasure_suits(conn, &row, &cal, &actor, &ctx)?;
            }
            Ok(row)
        })
        .await
        .map(RemedyView::from)
}

/// Suits after a review are measured from its decision: when the decision date changes, their
/// filing limits move with it (information only; recorded in each suit's history).
fn remeasure_suits(
    conn: &mut DbConnection,
    review: &RemedyRow,
    cal: &crate::domain::calendar::Calendar,
    actor: &Actor,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    for mut suit in db::remedies::suits_after(conn, &review.id)? {
        let case = remedy::Case {
            applicant_name: suit.applicant_name.clone(),
            body_name: suit.body_name.clone(),
            filed_on: suit.filed_on,
            received_on: suit.received_on,
            act_known_on: suit.act_known_on,
            decision: suit
                .decision_type
                .as_deref()
                .and_then(remedy::DecisionType::parse),
            decided_on: suit.decided_on,
            notes: suit.notes.clone(),
            route: suit.route.as_deref().and_then(remedy::Route::parse),
            instance: suit.instance.clone(),
        };
        let limit = remedy::filing_limit(RemedyKind::Litigation, &case, review.decided_on, cal);
        let deadline = limit.as_ref().map(|l| l.deadline);
        let late = limit.as_ref().is_some_and(|l| l.filed_late);
        if deadline == suit.filing_deadline && late == suit.filed_late {
            continue;
        }
        let before =
            json!({"filing_deadline": suit.filing_deadline, "filed_late": suit.filed_late});
        let expected = suit.version;
        suit.filing_deadline = deadline;
        suit.filing_rule = limit.map(|l| l.rule.to_string());
        suit.filed_late = late;
        suit.version += 1;
        // Part of the change to the review: the same instant.
        suit.updated_at = review.updated_at;
        if !db::remedies::update_if_version(conn, &suit, expected)? {
            return Err(AppError::PreconditionFailed);
        }
        audit(
            conn,
            review.updated_at,
            Some(actor),
            Some(&suit.agency_id),
            ("litigation", &suit.id),
            "filing_limit_remeasured",
            json!({"before": before, "after": {"filing_deadline": deadline, "filed_late": late}, "review_id": review.id}),
            ctx,
        )?;
    }
    Ok(())
}

/// The audit trail of one case.
pub async fn history(
    state: &AppState,
    actor: Actor,
    kind: RemedyKind,
    id: String,
) -> Result<Vec<db::audit::AuditRow>, AppError> {
    state
        .with_conn(move |conn| {
            let row = visible(conn, &actor, kind, &id)?;
            Ok(db::audit::for_entity(conn, kind.code(), &row.id)?)
        })
        .await
}

/// Cases linked to an application.
pub fn for_request(conn: &mut DbConnection, request_id: &str) -> Result<Vec<RemedyView>, AppError> {
    Ok(db::remedies::for_request(conn, request_id)?
        .into_iter()
        .map(RemedyView::from)
        .collect())
}

pub fn bad_filter(field: &str, message: &str) -> AppError {
    AppError::Validation(vec![FieldError::new(field, "invalid_value", message)])
}
