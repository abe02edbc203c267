//! Notices (issue 13): drafted from the case and the letterhead, checked on every read and
//! write, submitted, approved or returned, and issued — issuing numbers the letter, freezes its
//! text (SHA-256 on record) and performs the act of §5 in the same transaction.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

use super::requests::{Expected, Step, StepEnv, act_in};
use super::{AppError, AppState, RequestContext, audit};
use crate::db::{self, DbConnection, notices::NoticeRow};
use crate::domain::access::{Actor, Role};
use crate::domain::letterhead::NumberPattern;
use crate::domain::notice::{
    self, CaseFacts, Finding, Letter, NoticeType, ObjectionFacts, ServiceAttempt, ServiceInput,
};
use crate::domain::request::{Action, Application, State};
use crate::domain::validation::FieldError;

/// What the HTTP layer reads from a notice's `fields`: its date and the act it performs, typed
/// by the action's own body (`None` for notices that perform no act, and for closures, whose
/// act follows the application's state).
pub struct ParsedFields {
    pub on: NaiveDate,
    pub action: Option<Action>,
    /// For the third-party notice of an overridden objection.
    pub objection: Option<ObjectionFacts>,
}

/// Parses a notice type's fields (given by the HTTP layer, which owns the typed bodies).
pub type FieldParser = fn(NoticeType, &Value) -> Result<ParsedFields, Vec<FieldError>>;

/// One approval step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approval {
    /// `submitted`, `approved` or `returned`.
    pub decision: String,
    pub by: String,
    pub at: NaiveDateTime,
    /// The approver's opinion, or the comments of a return.
    pub opinion: Option<String>,
}

/// A notice as the app layer hands it out.
#[derive(Debug, Clone)]
pub struct NoticeView {
    pub id: String,
    pub request_id: String,
    pub agency_id: String,
    pub kind: NoticeType,
    /// `draft`, `submitted`, `approved`, `issued`.
    pub state: String,
    pub on: NaiveDate,
    pub fields: Value,
    pub paragraphs: BTreeMap<String, String>,
    /// The letter as it stands (for an issued notice: as issued).
    pub letter: Letter,
    /// The whole text; for an issued notice the frozen one.
    pub text: String,
    pub findings: Vec<Finding>,
    pub needs_approval: bool,
    pub approvals: Vec<Approval>,
    /// Service attempts, in the order recorded.
    pub service: Vec<ServiceAttempt>,
    /// The day it was served: the first attempt that reached its recipient.
    pub served_on: Option<NaiveDate>,
    pub number: Option<String>,
    pub issued_on: Option<NaiveDate>,
    pub text_sha256: Option<String>,
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

fn bad(field: &str, code: &'static str, message: crate::domain::text::Text) -> AppError {
    AppError::field(field, code, message)
}

fn unreadable(row: &NoticeRow, e: impl std::fmt::Display) -> AppError {
    AppError::Unreadable {
        entity: "notice",
        id: row.id.clone(),
        reason: e.to_string(),
    }
}

/// The application behind a notice, if the actor may see it — or, to write, handle it
/// (else 404 for the notice; 403 `not_own_agency` for a supervisor above its agency).
fn visible_request(
    conn: &mut DbConnection,
    actor: &Actor,
    request_id: &str,
    how: super::Reach,
) -> Result<(Application, db::agencies::AgencyRow), AppError> {
    let what = || crate::text!("申请", "application");
    let app = db::requests::load(conn, request_id)?.ok_or_else(|| AppError::NotFound(what()))?;
    let agency =
        db::agencies::find(conn, &app.agency_id)?.ok_or_else(|| AppError::NotFound(what()))?;
    how.check(actor, &agency.id, &agency.path, what())?;
    Ok((app, agency))
}

fn facts(
    app: &Application,
    kind: NoticeType,
    action: Option<&Action>,
    parsed: &ParsedFields,
    cal: &crate::domain::calendar::Calendar,
) -> CaseFacts {
    let extended_due_date = match (kind, action, app.due_date) {
        (NoticeType::Extension, Some(Action::Extend { days, .. }), Some(due)) => {
            cal.add_working_days(due, *days).ok()
        }
        _ => None,
    };
    CaseFacts {
        case_number: app.case_number.clone(),
        query_code: app.query_code.clone(),
        applicant_name: app.details.applicant.name.clone(),
        applicant_id_number: app.details.applicant.id_document_number.clone(),
        description: app.details.description.clone(),
        arrival_date: Some(app.arrival_date),
        receipt_date: app.receipt_date(),
        due_date: app.due_date,
        extended_due_date,
        closing_unpaid: app.state() == State::AwaitingPayment,
        objection: parsed.objection.clone(),
    }
}

/// What every notice of an agency shares when composed: the calendar, the effective letterhead
/// and which types need approval — resolved once for a list, not once per notice.
struct Shared {
    cal: crate::domain::calendar::Calendar,
    letterhead: super::letterheads::LetterheadView,
    approval_required: Vec<NoticeType>,
}

impl Shared {
    fn of(
        conn: &mut DbConnection,
        state: &AppState,
        agency: &db::agencies::AgencyRow,
    ) -> Result<Shared, AppError> {
        Ok(Shared {
            cal: state.calendar.current(conn)?,
            letterhead: super::letterheads::resolve(conn, agency)?,
            approval_required: resolve_settings(conn, agency)?.effective,
        })
    }
}

/// Composes and checks the notice from its row and the case as it stands.
fn view(
    shared: &Shared,
    row: &NoticeRow,
    app: &Application,
    parse: FieldParser,
) -> Result<NoticeView, AppError> {
    let kind =
        NoticeType::parse(&row.kind).ok_or_else(|| unreadable(row, "unknown notice type"))?;
    let fields: Value = serde_json::from_str(&row.fields).map_err(|e| unreadable(row, e))?;
    let paragraphs: BTreeMap<String, String> =
        serde_json::from_str(&row.paragraphs).map_err(|e| unreadable(row, e))?;
    let approvals: Vec<Approval> =
        serde_json::from_str(&row.approvals).map_err(|e| unreadable(row, e))?;
    let service: Vec<ServiceAttempt> =
        serde_json::from_str(&row.service).map_err(|e| unreadable(row, e))?;
    let served_on = service.iter().find_map(|a| a.served_on);
    let parsed =
        parse(kind, &fields).map_err(|e| unreadable(row, format!("{} field errors", e.len())))?;
    let action = match kind {
        NoticeType::Closure => NoticeType::closure_act(app.state()),
        _ => parsed.action.clone(),
    };
    let lh = &shared.letterhead;
    let case = facts(app, kind, action.as_ref(), &parsed, &shared.cal);
    let mut letter = notice::compose(
        kind,
        parsed.on,
        &case,
        &lh.effective.fields,
        action.as_ref(),
        &paragraphs,
    );
    if let Some(n) = &row.number {
        letter.number = n.clone();
    }
    let findings = if row.state == "issued" {
        Vec::new()
    } else {
        notice::lint(
            kind,
            &letter,
            &case,
            &lh.effective.fields,
            &lh.effective.missing,
            action.as_ref(),
        )
    };
    let text = row.issued_text.clone().unwrap_or_else(|| letter.text());
    Ok(NoticeView {
        id: row.id.clone(),
        request_id: row.request_id.clone(),
        agency_id: row.agency_id.clone(),
        kind,
        state: row.state.clone(),
        on: parsed.on,
        fields,
        paragraphs,
        letter,
        text,
        findings,
        needs_approval: shared.approval_required.contains(&kind),
        approvals,
        service,
        served_on,
        number: row.number.clone(),
        issued_on: row.issued_on,
        text_sha256: row.text_sha256.clone(),
        version: row.version,
        created_by: row.created_by.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn check_paragraphs(kind: NoticeType, p: &BTreeMap<String, String>) -> Result<(), AppError> {
    let keys = notice::section_keys(kind);
    let errors: Vec<FieldError> = p
        .iter()
        .filter_map(|(k, v)| {
            if !keys.contains(&k.as_str()) {
                Some(FieldError::new(
                    format!("paragraphs.{k}"),
                    "unknown_field",
                    crate::domain::text::Text::new(
                        format!("{} 没有此段落；可用：{}", kind.title(), keys.join("、")),
                        format!(
                            "{} has no such paragraph; available: {}",
                            kind.code(),
                            keys.join(", ")
                        ),
                    ),
                ))
            } else if v.chars().count() > 4000 {
                Some(FieldError::new(
                    format!("paragraphs.{k}"),
                    "too_long",
                    crate::text!("至多4000字", "at most 4000 characters"),
                ))
            } else {
                None
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

fn may_write(actor: &Actor) -> Result<(), AppError> {
    if actor.has(Role::Clerk) || actor.has(Role::Approver) || actor.has(Role::Admin) {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "告知书由经办人、审批人和管理员起草",
                "notices are drafted by clerks, approvers and admins"
            ),
        })
    }
}

/// A new draft of `kind` for the application.
/// A new notice as the HTTP layer read it.
pub struct NewNotice {
    pub kind: NoticeType,
    pub fields: Value,
    pub paragraphs: BTreeMap<String, String>,
}

pub async fn create(
    state: &AppState,
    actor: Actor,
    request_id: String,
    new: NewNotice,
    parse: FieldParser,
    ctx: RequestContext,
) -> Result<NoticeView, AppError> {
    let NewNotice {
        kind,
        fields,
        paragraphs,
    } = new;
    may_write(&actor)?;
    parse(kind, &fields).map_err(|errors| {
        AppError::Validation(
            errors
                .into_iter()
                .map(|mut e| {
                    e.field = format!("fields.{}", e.field);
                    e
                })
                .collect(),
        )
    })?;
    check_paragraphs(kind, &paragraphs)?;
    let st = state.clone();
    let now = state.now_micros();
    state
        .in_transaction(move |conn| {
            let (app, agency) = visible_request(conn, &actor, &request_id, super::Reach::Handle)?;
            let row = NoticeRow {
                id: uuid::Uuid::new_v4().to_string(),
                request_id: app.id.clone(),
                agency_id: app.agency_id.clone(),
                kind: kind.code().to_string(),
                state: "draft".into(),
                fields: fields.to_string(),
                paragraphs: serde_json::to_string(&paragraphs).map_err(AppError::internal)?,
                approvals: "[]".into(),
                service: "[]".into(),
                number: None,
                issued_on: None,
                issued_text: None,
                text_sha256: None,
                version: 1,
                created_by: Some(actor.recorded_as()),
                created_at: now,
                updated_at: now,
            };
            db::notices::insert(conn, &row)?;
            audit(
                conn,
                now,
                Some(&actor),
                Some(&row.agency_id),
                ("notice", &row.id),
                "notice_drafted",
                json!({"request_id": row.request_id, "type": row.kind, "fields": fields}),
                &ctx,
            )?;
            view(&Shared::of(conn, &st, &agency)?, &row, &app, parse)
        })
        .await
}

fn load(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    how: super::Reach,
) -> Result<(NoticeRow, Application, db::agencies::AgencyRow), AppError> {
    let row =
        db::notices::find(conn, id)?.ok_or(AppError::NotFound(crate::text!("告知书", "notice")))?;
    match visible_request(conn, actor, &row.request_id, how) {
        Ok((app, agency)) => Ok((row, app, agency)),
        Err(AppError::NotFound(_)) => Err(AppError::NotFound(crate::text!("告知书", "notice"))),
        Err(e) => Err(e),
    }
}

pub async fn get(
    state: &AppState,
    actor: Actor,
    id: String,
    parse: FieldParser,
) -> Result<NoticeView, AppError> {
    let st = state.clone();
    state
        .with_conn(move |conn| {
            let (row, app, agency) = load(conn, &actor, &id, super::Reach::Read)?;
            view(&Shared::of(conn, &st, &agency)?, &row, &app, parse)
        })
        .await
}

/// The notices of an application, oldest first.
pub async fn of_request(
    state: &AppState,
    actor: Actor,
    request_id: String,
    parse: FieldParser,
) -> Result<Vec<NoticeView>, AppError> {
    let st = state.clone();
    state
        .with_conn(move |conn| {
            let (app, agency) = visible_request(conn, &actor, &request_id, super::Reach::Read)?;
            let shared = Shared::of(conn, &st, &agency)?;
            db::notices::of_request(conn, &app.id)?
                .iter()
                .map(|row| view(&shared, row, &app, parse))
                .collect()
        })
        .await
}

/// A change of a notice: its fields and paragraphs (PATCH), or a step of its approval.
pub enum Change {
    Edit {
        fields: Option<Value>,
        paragraphs: Option<BTreeMap<String, String>>,
    },
    Submit,
    Approve {
        opinion: Option<String>,
    },
    Return {
        comments: String,
    },
    Issue,
    /// A service attempt (送达) of an issued notice.
    Serve(ServiceInput),
}

impl Change {
    fn audit_action(&self) -> &'static str {
        match self {
            Change::Edit { .. } => "notice_edited",
            Change::Submit => "notice_submitted",
            Change::Approve { .. } => "notice_approved",
            Change::Return { .. } => "notice_returned",
            Change::Issue => "notice_issued",
            Change::Serve(_) => "notice_service_recorded",
        }
    }
}

fn approval(decision: &str, actor: &Actor, at: NaiveDateTime, opinion: Option<String>) -> Approval {
    Approval {
        decision: decision.to_string(),
        by: actor.recorded_as(),
        at,
        opinion,
    }
}

fn require_approver(actor: &Actor, (what_zh, what): (&str, &str)) -> Result<(), AppError> {
    if actor.has(Role::Approver) {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "{what_zh}告知书须具有审批人（approver）角色",
                "{what} a notice needs the approver role"
            ),
        })
    }
}

fn not_now(state: &str, (what_zh, what): (&str, &str)) -> AppError {
    AppError::conflict(
        "invalid_transition",
        crate::text!(
            "处于 {state} 状态的告知书不能{what_zh}",
            "a notice in state {state} cannot be {what}"
        ),
    )
}

fn blocked(v: &NoticeView) -> AppError {
    let codes: Vec<&str> = v
        .findings
        .iter()
        .filter(|f| f.severity == notice::Severity::Error)
        .map(|f| f.code)
        .collect();
    AppError::conflict(
        "notice_has_errors",
        crate::domain::text::Text::new(
            format!(
                "告知书存在须更正的问题（{}），不能提交、批准或签发",
                codes.join("、")
            ),
            format!(
                "the notice has findings to correct ({}): it cannot be submitted, approved or issued",
                codes.join(", ")
            ),
        ),
    )
}

/// Applies a change with `If-Match`; each is an audit event, issuing also the act of §5.
pub async fn change(
    state: &AppState,
    actor: Actor,
    id: String,
    change: Change,
    if_match: Option<i32>,
    parse: FieldParser,
    ctx: RequestContext,
) -> Result<NoticeView, AppError> {
    may_write(&actor)?;
    let st = state.clone();
    let env = StepEnv::of(state);
    state
        .in_transaction(move |conn| {
            let (mut row, app, agency) = load(conn, &actor, &id, super::Reach::Handle)?;
            let expected = if_match.ok_or(AppError::PreconditionRequired)?;
            if expected != row.version {
                return Err(AppError::PreconditionFailed);
            }
            let current = view(&Shared::of(conn, &st, &agency)?, &row, &app, parse)?;
            let mut approvals = current.approvals.clone();
            let now = env.now;
            let mut payload = json!({});
            match &change {
                Change::Edit { fields, paragraphs } => {
                    if row.state != "draft" {
                        return Err(not_now(
                            &row.state,
                            ("修改（请先退回草稿）", "edited (return it to draft first)"),
                        ));
                    }
                    if let Some(f) = fields {
                        parse(current.kind, f).map_err(|errors| {
                            AppError::Validation(
                                errors
                                    .into_iter()
                                    .map(|mut e| {
                                        e.field = format!("fields.{}", e.field);
                                        e
                                    })
                                    .collect(),
                            )
                        })?;
                        row.fields = f.to_string();
                    }
                    if let Some(p) = paragraphs {
                        check_paragraphs(current.kind, p)?;
                        row.paragraphs = serde_json::to_string(p).map_err(AppError::internal)?;
                    }
                    payload = json!({"fields": fields, "paragraphs": paragraphs});
                }
                Change::Submit => {
                    if row.state != "draft" {
                        return Err(not_now(&row.state, ("提交", "submitted")));
                    }
                    if notice::blocks(&current.findings) {
                        return Err(blocked(&current));
                    }
                    row.state = "submitted".into();
                    approvals.push(approval("submitted", &actor, now, None));
                }
                Change::Approve { opinion } => {
                    require_approver(&actor, ("批准", "approving"))?;
                    if row.state != "submitted" {
                        return Err(not_now(
                            &row.state,
                            ("批准（请先提交）", "approved (submit it first)"),
                        ));
                    }
                    if notice::blocks(&current.findings) {
                        return Err(blocked(&current));
                    }
                    row.state = "approved".into();
                    approvals.push(approval("approved", &actor, now, opinion.clone()));
                    payload = json!({"opinion": opinion});
                }
                Change::Return { comments } => {
                    require_approver(&actor, ("退回", "returning"))?;
                    if row.state != "submitted" && row.state != "approved" {
                        return Err(not_now(&row.state, ("退回", "returned")));
                    }
                    let comments =
                        crate::domain::validation::text("comments", comments, 4000, true)
                            .map_err(|e| AppError::Validation(vec![e]))?;
                    row.state = "draft".into();
                    approvals.push(approval("returned", &actor, now, Some(comments.clone())));
                    payload = json!({"comments": comments});
                }
                Change::Issue => {
                    let ready = match row.state.as_str() {
                        "approved" => true,
                        "draft" | "submitted" => !current.needs_approval,
                        _ => false,
                    };
                    if !ready {
                        return Err(if row.state == "issued" {
                            not_now(&row.state, ("再次签发", "issued again"))
                        } else {
                            AppError::conflict(
                                "approval_required",
                                crate::domain::text::Text::new(
                                    format!("{}须经审批后签发", current.kind.title()),
                                    format!(
                                        "a {} notice must be approved before it is issued",
                                        current.kind.code()
                                    ),
                                ),
                            )
                        });
                    }
                    if notice::blocks(&current.findings) {
                        return Err(blocked(&current));
                    }
                    let lh = super::letterheads::resolve(conn, &agency)?;
                    let pattern = lh
                        .effective
                        .fields
                        .number_pattern
                        .as_deref()
                        .and_then(|p| NumberPattern::parse(p).ok())
                        .ok_or_else(|| {
                            bad(
                                "letterhead.number_pattern",
                                "letterhead_incomplete",
                                crate::text!(
                                    "信笺未设发文字号格式",
                                    "the letterhead has no document-number pattern"
                                ),
                            )
                        })?;
                    let year = current.on.year();
                    let seq = db::notices::next_number(conn, &agency.id, year, pattern.as_str())?;
                    let number = pattern.format(year, u32::try_from(seq).unwrap_or_default());
                    // The act of §5 the notice performs, on the notice's date.
                    let action = match current.kind {
                        NoticeType::Closure => NoticeType::closure_act(app.state()),
                        _ => parse(current.kind, &current.fields)
                            .ok()
                            .and_then(|p| p.action),
                    };
                    if let Some(action) = action {
                        let mut fields = match &current.fields {
                            Value::Object(m) => m.clone(),
                            _ => serde_json::Map::new(),
                        };
                        fields.insert("notice_id".into(), json!(row.id));
                        fields.insert("notice_number".into(), json!(number));
                        act_in(
                            conn,
                            &actor,
                            &app.id,
                            Step {
                                on: current.on,
                                action,
                                fields,
                            },
                            Expected::Current,
                            &env,
                            &ctx,
                        )?;
                    }
                    let mut letter = current.letter.clone();
                    letter.number = number.clone();
                    let text = letter.text();
                    row.text_sha256 = Some(hex::encode(sha2::Sha256::digest(text.as_bytes())));
                    row.issued_text = Some(text);
                    row.number = Some(number.clone());
                    row.issued_on = Some(current.on);
                    row.state = "issued".into();
                    payload = json!({"number": number, "text_sha256": row.text_sha256});
                }
                Change::Serve(input) => {
                    let issued_on = match (row.state.as_str(), current.issued_on) {
                        ("issued", Some(d)) => d,
                        _ => {
                            return Err(not_now(
                                &row.state,
                                ("在签发前送达", "served before it is issued"),
                            ));
                        }
                    };
                    if current.served_on.is_some() {
                        return Err(AppError::conflict(
                            "notice_already_served",
                            crate::domain::text::Text::new(
                                format!(
                                    "该告知书已于{}送达",
                                    current
                                        .served_on
                                        .map(notice::chinese_date)
                                        .unwrap_or_default()
                                ),
                                format!(
                                    "the notice was served on {}",
                                    current.served_on.map(|d| d.to_string()).unwrap_or_default()
                                ),
                            ),
                        ));
                    }
                    let checked = notice::check_attempt(input, issued_on, env.today)
                        .map_err(AppError::Validation)?;
                    let attempt = ServiceAttempt {
                        method: checked.method,
                        sent_on: checked.sent_on,
                        served_on: checked.served_on,
                        returned_on: checked.returned_on,
                        tracking_number: checked.tracking_number,
                        signed_by: checked.signed_by,
                        note: checked.note,
                        recorded_by: actor.recorded_as(),
                        recorded_at: now,
                    };
                    if let Some(served) = attempt.served_on {
                        serve_case(conn, &actor, &app, current.kind, served, &row, &env, &ctx)?;
                    }
                    payload = serde_json::to_value(&attempt).map_err(AppError::internal)?;
                    let mut service = current.service.clone();
                    service.push(attempt);
                    row.service = serde_json::to_string(&service).map_err(AppError::internal)?;
                }
            }
            row.approvals = serde_json::to_string(&approvals).map_err(AppError::internal)?;
            row.version += 1;
            row.updated_at = now;
            if !db::notices::update_if_version(conn, &row, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            audit(
                conn,
                now,
                Some(&actor),
                Some(&row.agency_id),
                ("notice", &row.id),
                change.audit_action(),
                payload,
                &ctx,
            )?;
            // The application may have moved (issuing performs its act).
            let app = db::requests::load(conn, &row.request_id)?
                .ok_or(AppError::NotFound(crate::text!("申请", "application")))?;
            view(&Shared::of(conn, &st, &agency)?, &row, &app, parse)
        })
        .await
}

/// A served notice starts the other side's clock: the consulted party's 15 working days, the
/// applicant's 20 working days to pay, the applicant's review and litigation limits. The
/// application records the receipt — while it still waits for it (a consultation already
/// answered, or a fee already paid, has no window left to start).
#[allow(clippy::too_many_arguments)]
fn serve_case(
    conn: &mut DbConnection,
    actor: &Actor,
    app: &Application,
    kind: NoticeType,
    served: NaiveDate,
    row: &NoticeRow,
    env: &StepEnv,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let Some(action) = kind.receipt_act(app.state(), served) else {
        return Ok(());
    };
    let mut fields = serde_json::Map::new();
    fields.insert("notice_id".into(), json!(row.id));
    fields.insert("notice_number".into(), json!(row.number));
    fields.insert("served_on".into(), json!(served));
    act_in(
        conn,
        actor,
        &app.id,
        Step {
            on: env.today.max(served),
            action,
            fields,
        },
        Expected::Current,
        env,
        ctx,
    )
    .map(|_| ())
}

/// The applicant, acting online through the public look-up: the author of the service the
/// first download records (not a login; it only ever records that service).
fn applicant_online(agency: &db::agencies::AgencyRow) -> Actor {
    Actor {
        user_id: "applicant:online".into(),
        username: "申请人（在线）".into(),
        agency_id: agency.id.clone(),
        agency_path: agency.path.clone(),
        roles: crate::domain::access::Roles::from_roles(&[Role::Clerk]),
        principal: crate::domain::access::Principal::User,
    }
}

fn for_the_applicant(kind: &str) -> bool {
    NoticeType::parse(kind).is_some_and(NoticeType::addressed_to_applicant)
}

/// The issued notices of an application, for its applicant (case number and query code),
/// limited per address like the status look-up.
pub async fn public_list(
    state: &AppState,
    client: String,
    case_number: String,
    query_code: String,
    parse: FieldParser,
) -> Result<Vec<NoticeView>, AppError> {
    super::requests::public_rate_limit(state, client).await?;
    let st = state.clone();
    state
        .with_conn(move |conn| {
            let app = super::requests::public_application(conn, &case_number, &query_code)?;
            let agency = db::agencies::find(conn, &app.agency_id)?
                .ok_or(AppError::NotFound(crate::text!("申请", "application")))?;
            let shared = Shared::of(conn, &st, &agency)?;
            db::notices::of_request(conn, &app.id)?
                .iter()
                .filter(|r| r.state == "issued" && for_the_applicant(&r.kind))
                .map(|row| view(&shared, row, &app, parse))
                .collect()
        })
        .await
}

/// One issued notice of the application, for its applicant to download. The first download is
/// its service (`online`, served that day), which starts the applicant's clock as any service
/// does; later downloads record nothing. Notices to others (the third-party notice) are not
/// the applicant's.
pub async fn public_download(
    state: &AppState,
    client: String,
    case_number: String,
    query_code: String,
    id: String,
    parse: FieldParser,
) -> Result<NoticeView, AppError> {
    super::requests::public_rate_limit(state, client).await?;
    // Two first downloads at once: the one that loses the version race finds the notice
    // served by the other and answers it.
    match first_download(state, &case_number, &query_code, &id, parse).await {
        Err(AppError::PreconditionFailed) => {
            first_download(state, &case_number, &query_code, &id, parse).await
        }
        other => other,
    }
}

async fn first_download(
    state: &AppState,
    case_number: &str,
    query_code: &str,
    id: &str,
    parse: FieldParser,
) -> Result<NoticeView, AppError> {
    let (case_number, query_code, id) = (
        case_number.to_string(),
        query_code.to_string(),
        id.to_string(),
    );
    let st = state.clone();
    let env = StepEnv::of(state);
    state
        .in_transaction(move |conn| {
            let app = super::requests::public_application(conn, &case_number, &query_code)?;
            let agency = db::agencies::find(conn, &app.agency_id)?
                .ok_or(AppError::NotFound(crate::text!("申请", "application")))?;
            let mut row = db::notices::find(conn, &id)?
                .filter(|r| {
                    r.request_id == app.id && r.state == "issued" && for_the_applicant(&r.kind)
                })
                .ok_or(AppError::NotFound(crate::text!("告知书", "notice")))?;
            let current = view(&Shared::of(conn, &st, &agency)?, &row, &app, parse)?;
            if current.served_on.is_some() {
                return Ok(current);
            }
            let actor = applicant_online(&agency);
            let attempt = ServiceAttempt {
                method: notice::ServiceMethod::Online,
                sent_on: current.issued_on.unwrap_or(env.today),
                served_on: Some(env.today),
                returned_on: None,
                tracking_number: None,
                signed_by: None,
                note: Some("申请人在线查阅下载".into()),
                recorded_by: actor.recorded_as(),
                recorded_at: env.now,
            };
            let ctx = RequestContext::default();
            serve_case(
                conn,
                &actor,
                &app,
                current.kind,
                env.today,
                &row,
                &env,
                &ctx,
            )?;
            let mut service = current.service.clone();
            let payload = serde_json::to_value(&attempt).map_err(AppError::internal)?;
            service.push(attempt);
            let expected = row.version;
            row.service = serde_json::to_string(&service).map_err(AppError::internal)?;
            row.version += 1;
            row.updated_at = env.now;
            if !db::notices::update_if_version(conn, &row, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            audit(
                conn,
                env.now,
                Some(&actor),
                Some(&row.agency_id),
                ("notice", &row.id),
                "notice_service_recorded",
                payload,
                &ctx,
            )?;
            let app = db::requests::load(conn, &row.request_id)?
                .ok_or(AppError::NotFound(crate::text!("申请", "application")))?;
            view(&Shared::of(conn, &st, &agency)?, &row, &app, parse)
        })
        .await
}

/// The issued notices in the deadline trace: each letter by its number, with the day it was
/// issued and the day it was served (the day the other side's time runs from).
pub(crate) fn trace_notices(
    conn: &mut DbConnection,
    request_id: &str,
    d: &mut crate::domain::clock::Deadline,
) -> Result<(), AppError> {
    for row in db::notices::of_request(conn, request_id)?
        .into_iter()
        .filter(|r| r.state == "issued")
    {
        let Some(kind) = NoticeType::parse(&row.kind) else {
            continue;
        };
        let service: Vec<ServiceAttempt> =
            serde_json::from_str(&row.service).map_err(|e| unreadable(&row, e))?;
        let served = service
            .iter()
            .find_map(|a| a.served_on.map(|s| (s, a.method)));
        let number = row.number.clone().unwrap_or_default();
        let issued = row.issued_on.map(notice::chinese_date).unwrap_or_default();
        let issued_en = row.issued_on.map(|d| d.to_string()).unwrap_or_default();
        let detail = match served {
            Some((s, method)) => {
                let method = serde_json::to_value(method)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                crate::domain::text::Text::new(
                    format!(
                        "{number}《{}》{issued}签发，{}送达（{method}）",
                        kind.title(),
                        notice::chinese_date(s),
                    ),
                    format!(
                        "notice {number} ({}) issued on {issued_en}, served on {s} ({method})",
                        kind.code()
                    ),
                )
            }
            None => crate::domain::text::Text::new(
                format!("{number}《{}》{issued}签发，尚未记录送达", kind.title()),
                format!(
                    "notice {number} ({}) issued on {issued_en}, service not recorded",
                    kind.code()
                ),
            ),
        };
        let step = u32::try_from(d.trace.len() + 1).unwrap_or(u32::MAX);
        d.trace.push(crate::domain::clock::TraceStep::new(
            step,
            if served.is_some() {
                "notice.served"
            } else {
                "notice.issued"
            },
            (row.issued_on, served.map(|(s, _)| s), None),
            detail,
            None,
        ));
    }
    Ok(())
}

/// Which notice types need approval before issue, as an agency sees it.
#[derive(Debug, Clone)]
pub struct NoticeSettingsView {
    pub agency_id: String,
    /// The version of the agency's own setting (0 while it has none).
    pub version: i32,
    /// The agency's own list (`None`: inherited).
    pub own: Option<Vec<NoticeType>>,
    /// What applies: its own, else the nearest agency above with one, else the defaults.
    pub effective: Vec<NoticeType>,
    /// The agency above whose list applies (`None`: its own, or the defaults).
    pub inherited_from: Option<String>,
    pub updated_by: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

/// The row's list; `None` when the agency cleared its own (it inherits again).
fn decode_types(row: &db::notices::NoticeSettingsRow) -> Result<Option<Vec<NoticeType>>, AppError> {
    let codes: Option<Vec<String>> =
        serde_json::from_str(&row.approval_required).map_err(|e| AppError::Unreadable {
            entity: "notice settings",
            id: row.agency_id.clone(),
            reason: e.to_string(),
        })?;
    Ok(codes.map(|c| c.iter().filter_map(|c| NoticeType::parse(c)).collect()))
}

/// The setting of an agency with the chain above it resolved.
pub fn resolve_settings(
    conn: &mut DbConnection,
    agency: &db::agencies::AgencyRow,
) -> Result<NoticeSettingsView, AppError> {
    let chain: Vec<String> = agency
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .rev()
        .map(str::to_string)
        .collect();
    let rows = db::notices::settings_of(conn, &chain)?;
    let mut view = NoticeSettingsView {
        agency_id: agency.id.clone(),
        version: 0,
        own: None,
        effective: NoticeType::ALL
            .into_iter()
            .filter(|t| t.needs_approval_by_default())
            .collect(),
        inherited_from: None,
        updated_by: None,
        updated_at: None,
    };
    if let Some(own) = rows.iter().find(|r| r.agency_id == agency.id) {
        view.version = own.version;
        view.updated_by = own.updated_by.clone();
        view.updated_at = Some(own.updated_at);
        if let Some(types) = decode_types(own)? {
            view.own = Some(types.clone());
            view.effective = types;
            return Ok(view);
        }
    }
    for id in chain.iter().skip(1) {
        if let Some(row) = rows.iter().find(|r| &r.agency_id == id)
            && let Some(types) = decode_types(row)?
        {
            view.effective = types;
            view.inherited_from = Some(row.agency_id.clone());
            break;
        }
    }
    Ok(view)
}

pub async fn get_settings(
    state: &AppState,
    actor: Actor,
    agency_id: String,
) -> Result<NoticeSettingsView, AppError> {
    state
        .with_conn(move |conn| {
            let agency = super::agencies::visible_agency(conn, &actor, &agency_id)?;
            resolve_settings(conn, &agency)
        })
        .await
}

/// Sets (a list) or clears (`None`: inherit again) the agency's own setting; admins of the
/// agency or above, with `If-Match` (`"0"` before the first).
pub async fn put_settings(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    approval_required: Option<Vec<NoticeType>>,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<NoticeSettingsView, AppError> {
    let now = state.now_micros();
    state
        .in_transaction(move |conn| {
            let agency = super::agencies::visible_agency(conn, &actor, &agency_id)?;
            actor.may_administer(&agency.id, &agency.path)?;
            let expected = if_match.ok_or(AppError::PreconditionRequired)?;
            let current = resolve_settings(conn, &agency)?;
            if expected != current.version {
                return Err(AppError::PreconditionFailed);
            }
            let codes: Option<Vec<&str>> = approval_required.as_ref().map(|l| {
                let mut c: Vec<&str> = l.iter().map(|t| t.code()).collect();
                c.sort_unstable();
                c.dedup();
                c
            });
            let row = db::notices::NoticeSettingsRow {
                agency_id: agency.id.clone(),
                // `null` in the column's JSON: inherit again (the row keeps its version).
                approval_required: serde_json::to_string(&codes).map_err(AppError::internal)?,
                version: current.version + 1,
                updated_by: Some(actor.recorded_as()),
                updated_at: now,
            };
            if current.version == 0 {
                db::notices::insert_settings(conn, &row).map_err(|e| {
                    if db::is_unique_violation(&e) {
                        AppError::PreconditionFailed
                    } else {
                        e.into()
                    }
                })?;
            } else if !db::notices::update_settings_if_version(conn, &row, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            let before: Option<Vec<&str>> = current
                .own
                .as_ref()
                .map(|l| l.iter().map(|t| t.code()).collect());
            audit(
                conn,
                now,
                Some(&actor),
                Some(&agency.id),
                ("agency", &agency.id),
                "notice_settings_changed",
                json!({"before": before, "after": codes, "version": row.version}),
                &ctx,
            )?;
            resolve_settings(conn, &agency)
        })
        .await
}
