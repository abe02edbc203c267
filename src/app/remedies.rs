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
    /// The day a review decision was served on the applicant.
    pub decision_served_on: Option<NaiveDate>,
    /// Where the filing limit starts, and on what evidence (`remedy::StartBasis`).
    pub filing_starts_on: Option<NaiveDate>,
    pub filing_start_basis: Option<String>,
    /// A direct suit against a refusal replied since 2024-01-01: review comes first.
    pub review_first_required: bool,
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
            decision_served_on: r.decision_served_on,
            filing_starts_on: r.filing_starts_on,
            filing_start_basis: r.filing_start_basis,
            review_first_required: r.review_first_required,
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
            detail: crate::text!(
                "记录复议、诉讼案件须具有经办人（clerk）、审批人（approver）或管理员（admin）角色",
                "recording cases needs the role clerk, approver or admin"
            ),
        })
    }
}

fn what(kind: RemedyKind) -> crate::domain::text::Text {
    match kind {
        RemedyKind::Review => crate::text!("行政复议", "review"),
        RemedyKind::Litigation => crate::text!("行政诉讼", "litigation"),
    }
}

fn visible(
    conn: &mut DbConnection,
    actor: &Actor,
    kind: RemedyKind,
    id: &str,
    how: super::Reach,
) -> Result<RemedyRow, AppError> {
    let row = db::remedies::find(conn, id)?.filter(|r| r.kind == kind.code());
    let Some(row) = row else {
        return Err(AppError::NotFound(what(kind)));
    };
    let agency = db::agencies::find(conn, &row.agency_id)?.ok_or(AppError::NotFound(what(kind)))?;
    how.check(actor, &agency.id, &agency.path, what(kind))?;
    Ok(row)
}

/// Checks the links of a case and returns what they say about the act it challenges: the
/// linked application's reply (date, service, disposition) and, for a suit after review, the
/// review's decision (date, service).
fn check_links(
    conn: &mut DbConnection,
    agency_id: &str,
    request_id: Option<&str>,
    review_id: Option<&str>,
) -> Result<remedy::ActFacts, AppError> {
    let mut facts = remedy::ActFacts::default();
    if let Some(rid) = request_id {
        match db::requests::load(conn, rid)? {
            Some(r) if r.agency_id == agency_id => facts = reply_facts(&r),
            _ => {
                return Err(AppError::field(
                    "request_id",
                    "unknown_request",
                    crate::text!(
                        "本机关没有此 id 的申请",
                        "no application of this agency has this id"
                    ),
                ));
            }
        }
    }
    if let Some(rv) = review_id {
        match db::remedies::find(conn, rv)? {
            Some(r) if r.kind == "review" && r.agency_id == agency_id => match r.decided_on {
                Some(d) => {
                    facts.review_decided_on = Some(d);
                    facts.review_decision_served_on = r.decision_served_on;
                }
                None => {
                    return Err(AppError::conflict(
                        "review_not_decided",
                        crate::text!(
                            "经复议后起诉须以已作出决定的复议为前提",
                            "a suit after review needs a decided review"
                        ),
                    ));
                }
            },
            _ => {
                return Err(AppError::field(
                    "review_id",
                    "unknown_review",
                    crate::text!(
                        "本机关没有此 id 的行政复议",
                        "no review of this agency has this id"
                    ),
                ));
            }
        }
    }
    Ok(facts)
}

/// What an application's reply says to the filing limits of the cases against it.
fn reply_facts(app: &crate::domain::request::Application) -> remedy::ActFacts {
    let reply = app.workflow.reply.as_ref();
    remedy::ActFacts {
        reply_on: app.closed_on(),
        reply_served_on: reply.and_then(|r| r.served_on),
        reply_disposition: reply.map(|r| r.disposition.code()),
        ..remedy::ActFacts::default()
    }
}

/// The measured limit and the review-first warning of a row, from its case and the facts.
fn measure(
    row: &mut RemedyRow,
    kind: RemedyKind,
    case: &remedy::Case,
    facts: &remedy::ActFacts,
    cal: &crate::domain::calendar::Calendar,
) {
    let limit = remedy::filing_limit(kind, case, facts, cal);
    row.filing_deadline = limit.as_ref().map(|l| l.deadline);
    row.filing_rule = limit.as_ref().map(|l| l.rule.to_string());
    row.filing_starts_on = limit.as_ref().map(|l| l.starts_on);
    row.filing_start_basis = limit.as_ref().map(|l| l.basis.code().to_string());
    row.filed_late = limit.is_some_and(|l| l.filed_late);
    row.review_first_required = remedy::review_first_required(kind, case, facts);
}

fn build_row(
    conn: &mut DbConnection,
    kind: RemedyKind,
    mut row: RemedyRow,
    input: &RemedyInput,
    state: &AppState,
    cal: &crate::domain::calendar::Calendar,
) -> Result<RemedyRow, AppError> {
    let facts = check_links(
        conn,
        &row.agency_id,
        input.request_id.as_deref(),
        input.review_id.as_deref(),
    )?;
    let mut case_input = input.case.clone();
    case_input.has_review = input.review_id.is_some();
    let case =
        remedy::parse_case(kind, &case_input, state.today()).map_err(AppError::Validation)?;
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
    row.decision_served_on = case.decision_served_on;
    row.outcome = remedy::outcome(case.decision).code().to_string();
    row.notes = case.notes.clone();
    measure(&mut row, kind, &case, &facts, cal);
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
        "decision_type": r.decision_type, "decided_on": r.decided_on,
        "decision_served_on": r.decision_served_on, "outcome": r.outcome, "notes": r.notes,
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
                    .ok_or(AppError::NotFound(crate::text!("机关", "agency")))?,
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
                            crate::text!(
                                "您的权限范围内没有此机关",
                                "no such agency in your scope"
                            ),
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
                decision_served_on: None,
                filing_starts_on: None,
                filing_start_basis: None,
                review_first_required: false,
                version: 1,
                created_by: Some(actor.recorded_as()),
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
        .with_conn(move |conn| visible(conn, &actor, kind, &id, super::Reach::Read))
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
    pub decision_served_on: Option<Option<chrono::NaiveDate>>,
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
            let current = visible(conn, &actor, kind, &id, super::Reach::Handle)?;
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
                    decision_served_on: pick_d(&p.decision_served_on, current.decision_served_on),
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
            // Recording when a decision was served is not a correction of the decision.
            let only_served = current.decision_served_on.is_none()
                && row.decision_served_on.is_some()
                && snapshot(&RemedyRow {
                    decision_served_on: None,
                    ..row.clone()
                }) == before;
            let reason = match (&p.correction_reason, decided && !only_served) {
                (Some(r), _) => Some(
                    crate::domain::validation::text("correction_reason", r, 1000, true)
                        .map_err(|e| AppError::Validation(vec![e]))?,
                ),
                (None, true) => {
                    return Err(AppError::conflict(
                        "decided_case_requires_correction",
                        crate::text!(
                            "已决案件只能通过更正修改：请填写更正理由（correction_reason）",
                            "a decided case changes only through a correction: send correction_reason"
                        ),
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
                    crate::text!(
                        "该复议之后已有诉讼，不能删除其决定",
                        "a suit after this review exists; its decision cannot be removed"
                    ),
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
                if only_served {
                    "decision_served"
                } else if decided {
                    "case_corrected"
                } else {
                    "case_updated"
                },
                json!({"before": before, "after": after, "reason": reason}),
                &ctx,
            )?;
            if kind == RemedyKind::Review
                && (row.decided_on, row.decision_served_on)
                    != (current.decided_on, current.decision_served_on)
            {
                let facts = remedy::ActFacts {
                    review_decided_on: row.decided_on,
                    review_decision_served_on: row.decision_served_on,
                    ..remedy::ActFacts::default()
                };
                let suits = db::remedies::suits_after(conn, &row.id)?;
                let cause = json!({"review_id": row.id});
                remeasure(
                    conn,
                    suits,
                    &facts,
                    &cal,
                    (row.updated_at, &actor, &ctx),
                    &cause,
                )?;
            }
            Ok(row)
        })
        .await
        .map(RemedyView::from)
}

/// Cases whose limit runs from another record's date (a suit after review from the review's
/// decision and its service, a review or direct suit from the reply's service) are measured
/// again when that date changes: information only, recorded in each case's history with the
/// cause. `at` is the instant, the actor and the request of the change that caused it.
pub(crate) fn remeasure(
    conn: &mut DbConnection,
    cases: Vec<RemedyRow>,
    facts: &remedy::ActFacts,
    cal: &crate::domain::calendar::Calendar,
    at: (NaiveDateTime, &Actor, &RequestContext),
    cause: &serde_json::Value,
) -> Result<(), AppError> {
    let (now, actor, ctx) = at;
    for mut case_row in cases {
        let Some(kind) = RemedyKind::parse(&case_row.kind) else {
            continue;
        };
        let case = remedy::Case {
            applicant_name: case_row.applicant_name.clone(),
            body_name: case_row.body_name.clone(),
            filed_on: case_row.filed_on,
            received_on: case_row.received_on,
            act_known_on: case_row.act_known_on,
            decision: case_row
                .decision_type
                .as_deref()
                .and_then(remedy::DecisionType::parse),
            decided_on: case_row.decided_on,
            decision_served_on: case_row.decision_served_on,
            notes: case_row.notes.clone(),
            route: case_row.route.as_deref().and_then(remedy::Route::parse),
            instance: case_row.instance.clone(),
        };
        let limit = |r: &RemedyRow| {
            json!({"filing_starts_on": r.filing_starts_on, "filing_start_basis": r.filing_start_basis,
                   "filing_deadline": r.filing_deadline, "filed_late": r.filed_late,
                   "review_first_required": r.review_first_required})
        };
        let before = limit(&case_row);
        measure(&mut case_row, kind, &case, facts, cal);
        let after = limit(&case_row);
        if before == after {
            continue;
        }
        let expected = case_row.version;
        case_row.version += 1;
        // Part of the change that caused it: the same instant.
        case_row.updated_at = now;
        if !db::remedies::update_if_version(conn, &case_row, expected)? {
            return Err(AppError::PreconditionFailed);
        }
        audit(
            conn,
            now,
            Some(actor),
            Some(&case_row.agency_id),
            (kind.code(), &case_row.id),
            "filing_limit_remeasured",
            json!({"before": before, "after": after, "cause": cause}),
            ctx,
        )?;
    }
    Ok(())
}

/// The reply of an application was served (or its service corrected): the reviews and direct
/// suits against it that run from the reply are measured again.
pub(crate) fn remeasure_for_reply(
    conn: &mut DbConnection,
    app: &crate::domain::request::Application,
    cal: &crate::domain::calendar::Calendar,
    at: (NaiveDateTime, &Actor, &RequestContext),
) -> Result<(), AppError> {
    let cases: Vec<RemedyRow> = db::remedies::for_request(conn, &app.id)?
        .into_iter()
        .filter(|r| r.review_id.is_none())
        .collect();
    let cause = json!({"request_id": app.id});
    remeasure(conn, cases, &reply_facts(app), cal, at, &cause)
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
            let row = visible(conn, &actor, kind, &id, super::Reach::Read)?;
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

pub fn bad_filter(field: &str, message: crate::domain::text::Text) -> AppError {
    AppError::Validation(vec![FieldError::new(field, "invalid_value", message)])
}
