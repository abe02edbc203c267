//! Applications: intake, reading, actions, the trail and the deadline. Each change writes the
//! new state, the derived fields (due date, lateness) and one event in one transaction, guarded
//! by the version the client read.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use serde_json::{Value, json};

use super::{AppError, AppState, Page, Paged, RequestContext};
use crate::db::{self, DbConnection, requests::EventRow, requests::RequestRow};
use crate::domain::access::{Actor, Role};
use crate::domain::calendar::Calendar;
use crate::domain::clock::{self, Deadline};
use crate::domain::report;
use crate::domain::request::{
    self, Action, ActionContext, ActionInput, DetailsPatch, IntakeDetails, IntakeInput, NewRequest,
    PatchError, Refusal, State, Workflow,
};
use crate::domain::validation::FieldError;

/// An application with its decoded parts.
#[derive(Debug, Clone)]
pub struct RequestView {
    pub row: RequestRow,
    pub details: IntakeDetails,
    pub workflow: Workflow,
    pub agency_code: Option<String>,
    /// Reviews and lawsuits about this application (filled by the detail read).
    pub remedies: Vec<db::remedies::RemedyRow>,
}

fn decode(row: RequestRow) -> Result<RequestView, AppError> {
    let details: IntakeDetails = serde_json::from_str(&row.details).map_err(|e| {
        AppError::internal_while(format!("request {} details unreadable", row.id), e)
    })?;
    let workflow: Workflow = serde_json::from_str(&row.workflow).map_err(|e| {
        AppError::internal_while(format!("request {} workflow unreadable", row.id), e)
    })?;
    Ok(RequestView {
        row,
        details,
        workflow,
        agency_code: None,
        remedies: Vec::new(),
    })
}

/// What of an application the report counts.
pub(crate) fn counted(r: &RequestRow) -> report::CountedApplication<'_> {
    report::CountedApplication {
        kind: &r.applicant_kind,
        receipt_date: r.receipt_date,
        closed_on: r.closed_on,
        disposition: r.disposition.as_deref(),
        fee_notice_on: r.fee_notice_on,
        fee_amount_fen: r.fee_amount_fen,
        fee_paid_on: r.fee_paid_on,
        fee_paid_fen: r.fee_paid_fen,
    }
}

/// Decodes a stored application.
pub fn decode_row(row: RequestRow) -> Result<RequestView, AppError> {
    decode(row)
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string(v).map_err(AppError::internal)
}

fn may_write(actor: &Actor) -> Result<(), AppError> {
    if actor.has(Role::Clerk) || actor.has(Role::Approver) || actor.has(Role::Admin) {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "forbidden",
            detail: "handling applications needs the role clerk, approver or admin".into(),
        })
    }
}

/// Loads an application the actor can see; anything else is "not found".
fn visible(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<RequestRow, AppError> {
    let row = db::requests::find(conn, id)?.ok_or(AppError::NotFound("application"))?;
    let agency =
        db::agencies::find(conn, &row.agency_id)?.ok_or(AppError::NotFound("application"))?;
    if actor.sees(&agency.id, &agency.path) {
        Ok(row)
    } else {
        Err(AppError::NotFound("application"))
    }
}

/// The due date and lateness the clock gives for a workflow.
pub(crate) fn derive(
    row: &mut RequestRow,
    wf: &Workflow,
    cal: &Calendar,
    today: NaiveDate,
) -> Result<Deadline, AppError> {
    let d =
        clock::compute(&wf.clock, cal, today).map_err(|e| AppError::internal_while("clock", e))?;
    row.state = wf.state.code().to_string();
    row.receipt_date = wf.clock.receipt_date;
    row.due_date = d.due_date;
    row.due_provisional = d.provisional;
    row.closed_on = wf.clock.closed_on;
    row.disposition = wf.reply.as_ref().map(|r| r.disposition.clone());
    row.late = wf.reply.as_ref().is_some_and(|r| r.late);
    row.fee_notice_on = wf.fee.as_ref().map(|f| f.notice_on);
    row.fee_amount_fen = wf.fee.as_ref().map(|f| f.amount_fen);
    row.fee_paid_on = wf.fee.as_ref().and_then(|f| f.paid_on);
    row.fee_paid_fen = wf.fee.as_ref().and_then(|f| f.paid_fen);
    row.workflow = to_json(wf)?;
    Ok(d)
}

/// Appends one event to an application's trail and publishes it to the feed: every writer of
/// `request_events` (intake, actions, corrections, bulk import) goes through here.
#[allow(clippy::too_many_arguments)]
pub(crate) fn event(
    conn: &mut DbConnection,
    first: bool,
    row: &RequestRow,
    actor: Option<&Actor>,
    action: &str,
    on: Option<NaiveDate>,
    before: Option<State>,
    payload: Value,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let published = trail(conn, first, row, actor, action, on, before, payload, ctx)?;
    super::feed::publish(conn, published)?;
    Ok(())
}

/// Appends one event to an application's trail and returns its feed event, for a caller that
/// publishes many at its end ([`super::feed::publish_many`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn trail(
    conn: &mut DbConnection,
    first: bool,
    row: &RequestRow,
    actor: Option<&Actor>,
    action: &str,
    on: Option<NaiveDate>,
    before: Option<State>,
    payload: Value,
    ctx: &RequestContext,
) -> Result<super::feed::Event, AppError> {
    let seq = if first {
        1
    } else {
        db::requests::next_event_seq(conn, &row.id)?
    };
    db::requests::insert_event(
        conn,
        &EventRow {
            id: uuid::Uuid::new_v4().to_string(),
            request_id: row.id.clone(),
            seq,
            occurred_at: db::now_micros(),
            actor_user_id: actor.map(|a| a.user_id.clone()),
            actor_label: actor.map_or_else(|| "system".to_string(), |a| a.username.clone()),
            action: action.to_string(),
            on_date: on,
            state_before: before.map(|s| s.code().to_string()),
            state_after: row.state.clone(),
            payload: payload.to_string(),
            http_request_id: ctx.request_id.clone(),
        },
    )?;
    Ok(super::feed::Event {
        agency_id: row.agency_id.clone(),
        entity_type: "application".into(),
        entity_id: row.id.clone(),
        request_id: Some(row.id.clone()),
        event_type: format!("application.{action}"),
        payload: json!({
            "case_number": row.case_number,
            "external_reference": row.external_reference,
            "action": action,
            "on_date": on,
            "state_before": before.map(State::code),
            "state": row.state,
            "receipt_date": row.receipt_date,
            "due_date": row.due_date,
            "disposition": row.disposition,
            "closed_on": row.closed_on,
            "version": row.version,
            "details": feed_details(&payload),
        }),
    })
}

/// What of a step's trail payload the feed carries. A correction of intake details names the
/// fields that changed, not their values: the feed and webhooks leave the service, and the
/// applicant's identity number, phone and address must not go with them (the trail keeps both
/// versions, for users who may read the application).
fn feed_details(payload: &Value) -> Value {
    match (payload.get("before"), payload.get("after")) {
        (Some(Value::Object(before)), Some(Value::Object(after))) => {
            let mut changed: Vec<&String> = before
                .keys()
                .chain(after.keys())
                .filter(|k| before.get(*k) != after.get(*k))
                .collect();
            changed.sort();
            changed.dedup();
            json!({ "changed": changed })
        }
        _ => payload.clone(),
    }
}

pub(crate) fn query_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new application as the HTTP layer read it.
pub struct CreateRequest {
    pub agency_id: Option<String>,
    /// The agency by its code (forwarding platforms know codes, not our ids).
    pub agency_code: Option<String>,
    pub arrived_at: DateTime<FixedOffset>,
    pub intake: IntakeInput,
}

/// Idempotency: the key, a hash of the body, and how to render the first answer for storage.
#[derive(Clone)]
pub struct Idempotency {
    pub key: String,
    pub body_hash: String,
}

/// What intake answers: the stored first answer of a retried key, or the new application.
pub enum Created {
    New(Box<RequestView>, String),
    Replayed { status: u16, body: String },
}

pub async fn create(
    state: &AppState,
    actor: Actor,
    mut input: CreateRequest,
    idempotency: Option<Idempotency>,
    render: impl Fn(&RequestView) -> Result<String, AppError> + Send + 'static,
    ctx: RequestContext,
) -> Result<Created, AppError> {
    may_write(&actor)?;
    let tz = state.tz;
    let now = chrono::Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    input.intake.arrival_date = input.arrived_at.with_timezone(&tz).date_naive();
    input.intake.arrival_in_future = input.arrived_at > now + chrono::Duration::minutes(5);
    let parsed = NewRequest::parse(&input.intake, today)?;
    let cache = state.calendar.clone();
    let agency_id = input.agency_id.clone();
    let agency_code = input.agency_code.clone();
    if agency_id.is_some() && agency_code.is_some() {
        return Err(AppError::field(
            "agency_code",
            "conflicting_fields",
            "give agency_id or agency_code, not both",
        ));
    }
    // Stored at microsecond precision, as both databases keep it, so the answer and the record agree.
    let arrived_at = db::truncate_micros(input.arrived_at.naive_utc());
    let retry = idempotency.clone();
    let race_actor = actor.clone();
    let created = state
        .in_transaction(move |conn| {
            if let Some(idem) = &idempotency
                && let Some(prev) = db::requests::find_idempotency(conn, &actor.user_id, &idem.key)?
            {
                return replay(prev, &idem.body_hash);
            }
            let agency = match (&agency_id, &agency_code) {
                (_, Some(code)) => match super::agencies::find_by_code(conn, code)? {
                    Some(a) if actor.may_register_in(&a.id, &a.path) => a,
                    _ => return Err(AppError::field("agency_code", "unknown_agency", "no such agency in which you may register applications")),
                },
                (None, None) => db::agencies::find(conn, &actor.agency_id)?.ok_or(AppError::NotFound("agency"))?,
                (Some(id), None) => {
                    let a = db::agencies::find(conn, id)?;
                    match a {
                        Some(a) if actor.may_register_in(&a.id, &a.path) => a,
                        _ => return Err(AppError::field("agency_id", "unknown_agency", "no such agency in which you may register applications")),
                    }
                }
            };
            if let Some(ext) = &parsed.details.external_reference
                && db::requests::find_by_external_reference(conn, &agency.id, ext)?.is_some()
            {
                return Err(AppError::conflict(
                    "external_reference_taken",
                    format!("this agency already has an application with external reference {ext}"),
                ));
            }
            let year = parsed.arrival_date.year();
            let cal = cache.current(conn)?;
            // Taken last, just before the insert: the counter row stays locked until commit, so
            // the less work after it, the more intakes per second one agency can take.
            let seq = db::requests::next_case_seq(conn, &agency.id, year)?;
            let now_db = db::now_micros();
            let mut row = RequestRow {
 core: db::requests::RequestCore {
                id: uuid::Uuid::new_v4().to_string(),
                agency_id: agency.id.clone(),
                case_number: format!("{}-{year}-{seq:06}", agency.code),
                case_year: year,
                case_seq: seq,
                query_code: query_code(),
                channel: parsed.channel.code().to_string(),
                arrived_at,
                arrival_date: parsed.arrival_date,
                signed_for_on: parsed.signed_for_on,
                confirmed_on: parsed.confirmed_on,
                applicant_kind: parsed.details.applicant.kind.code().to_string(),
                applicant_name: parsed.details.applicant.name.clone(),
                applicant_key: parsed.details.applicant.key(),
                description: parsed.details.description.clone(),
                external_reference: parsed.details.external_reference.clone(),
                state: String::new(),
                receipt_date: None,
                due_date: None,
                due_provisional: false,
                disposition: None,
                closed_on: None,
                fee_notice_on: None,
                fee_amount_fen: None,
                fee_paid_on: None,
                fee_paid_fen: None,
                late: false,
                version: 1,
                created_by: Some(actor.username.clone()),
                created_at: now_db,
                updated_at: now_db,
}, details: to_json(&parsed.details)?, workflow: String::new(),
            };
            derive(&mut row, &parsed.workflow, &cal, today)?;
            // A back-dated intake may not change a published year's figures.
            super::reports::ensure_figures_unchanged(conn, &agency.id, |y| {
                (Vec::new(), report::counted_cells(&counted(&row), y))
            })?;
            db::requests::insert(conn, &row).map_err(|e| {
                if db::is_unique_violation(&e) {
                    AppError::conflict("external_reference_taken", "this external reference is taken in this agency")
                } else {
                    e.into()
                }
            })?;
            event(
                conn,
                true,
                &row,
                Some(&actor),
                "intake",
                row.receipt_date,
                None,
                json!({"channel": row.channel, "arrived_at": input.arrived_at.to_rfc3339(), "signed_for_on": row.signed_for_on, "confirmed_on": row.confirmed_on, "receipt_date": row.receipt_date, "due_date": row.due_date}),
                &ctx,
            )?;
            let mut view = decode(row)?;
            view.agency_code = Some(agency.code.clone());
            let body = render(&view)?;
            if let Some(idem) = &idempotency {
                db::requests::insert_idempotency(
                    conn,
                    &db::requests::IdempotencyRow {
                        user_id: actor.user_id.clone(),
                        idem_key: idem.key.clone(),
                        body_hash: idem.body_hash.clone(),
                        response_status: 201,
                        response_body: body.clone(),
                        created_at: now_db,
                    },
                )
                .map_err(|e| {
                    if db::is_unique_violation(&e) {
                        AppError::conflict(IDEMPOTENCY_RACE, "a retry with this key was just answered")
                    } else {
                        e.into()
                    }
                })?;
            }
            Ok(Created::New(Box::new(view), body))
        })
        .await;
    match (created, retry) {
        // Two retries with one key raced. The loser meets the winner's idempotency row, or,
        // with an external reference, the winner's application first. When the winner stored
        // an answer under this key, the loser is a retry and gives that answer; otherwise the
        // conflict stands (the reference really is another application's).
        (
            Err(
                conflict @ AppError::Conflict {
                    code: IDEMPOTENCY_RACE | "external_reference_taken",
                    ..
                },
            ),
            Some(idem),
        ) => {
            let user = race_actor.user_id.clone();
            let key = idem.key.clone();
            let prev = state
                .with_conn(move |conn| Ok(db::requests::find_idempotency(conn, &user, &key)?))
                .await?;
            match prev {
                Some(prev) => replay(prev, &idem.body_hash),
                None => Err(conflict),
            }
        }
        (other, _) => other,
    }
}

const IDEMPOTENCY_RACE: &str = "idempotency_race";

fn replay(prev: db::requests::IdempotencyRow, body_hash: &str) -> Result<Created, AppError> {
    if prev.body_hash != body_hash {
        return Err(AppError::Validation(vec![FieldError::new(
            "Idempotency-Key",
            "idempotency_key_reused",
            "this key was used with another body",
        )]));
    }
    Ok(Created::Replayed {
        status: u16::try_from(prev.response_status).unwrap_or(201),
        body: prev.response_body,
    })
}

/// An application by the forwarding platform's reference, in an agency given by its code.
pub async fn get_by_reference(
    state: &AppState,
    actor: Actor,
    agency_code: String,
    external_reference: String,
) -> Result<RequestView, AppError> {
    state
        .with_conn(move |conn| {
            let agency = match super::agencies::find_by_code(conn, &agency_code)? {
                Some(a) if actor.sees(&a.id, &a.path) => a,
                _ => return Err(AppError::NotFound("application")),
            };
            let row = db::requests::find_by_external_reference(
                conn,
                &agency.id,
                external_reference.trim(),
            )?
            .ok_or(AppError::NotFound("application"))?;
            let remedies = super::remedies::for_request(conn, &row.id)?;
            let mut v = decode(row)?;
            v.agency_code = Some(agency.code);
            v.remedies = remedies;
            Ok(v)
        })
        .await
}

pub async fn get(state: &AppState, actor: Actor, id: String) -> Result<RequestView, AppError> {
    state
        .with_conn(move |conn| {
            let row = visible(conn, &actor, &id)?;
            let code = db::agencies::find(conn, &row.agency_id)?.map(|a| a.code);
            let remedies = super::remedies::for_request(conn, &row.id)?;
            let mut v = decode(row)?;
            v.agency_code = code;
            v.remedies = remedies;
            Ok(v)
        })
        .await
}

pub struct ListQuery {
    pub filter: db::requests::RequestFilter,
    pub sort: (db::requests::SortKey, bool),
    pub page: Page,
}

pub async fn list(
    state: &AppState,
    actor: Actor,
    query: ListQuery,
) -> Result<Paged<RequestView>, AppError> {
    state
        .with_conn(move |conn| {
            let vis = actor.visibility();
            let (rows, total) = db::requests::list(
                conn,
                &vis,
                &query.filter,
                query.sort,
                query.page.offset(),
                query.page.per_page,
            )?;
            let items = rows
                .into_iter()
                .map(decode)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Paged {
                items,
                page: query.page,
                total,
            })
        })
        .await
}

fn refusal(r: Refusal) -> AppError {
    match r {
        Refusal::Conflict { code, message } => AppError::Conflict {
            code,
            detail: message,
        },
        Refusal::Forbidden { code, message } => AppError::Forbidden {
            code,
            detail: message,
        },
        Refusal::Invalid(errors) => AppError::Validation(errors),
    }
}

/// The applicant's place among its applications received in the same month (1-based).
fn nth_in_month(conn: &mut DbConnection, row: &RequestRow) -> Result<u32, AppError> {
    let (Some(key), Some(receipt)) = (&row.applicant_key, row.receipt_date) else {
        return Ok(1);
    };
    let from = receipt.with_day(1).unwrap_or(receipt);
    let to = from
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(receipt);
    let n = db::requests::count_same_applicant(
        conn,
        &row.agency_id,
        key,
        from,
        to,
        (receipt, row.created_at),
    )?;
    Ok(u32::try_from(n.max(1)).unwrap_or(u32::MAX))
}

/// Applies one statutory step.
pub async fn apply_action(
    state: &AppState,
    actor: Actor,
    id: String,
    name: String,
    input: ActionInput,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<RequestView, AppError> {
    let Some(parsed) = Action::parse(&name, &input) else {
        return Err(AppError::NotFound("action"));
    };
    let (on, action) = parsed?;
    may_write(&actor)?;
    let cache = state.calendar.clone();
    let today = state.today();
    state
        .in_transaction(move |conn| {
            let mut row = visible(conn, &actor, &id)?;
            let expected = if_match.ok_or(AppError::PreconditionRequired)?;
            if expected != row.version {
                return Err(AppError::PreconditionFailed);
            }
            let wf: Workflow = decode(row.clone())?.workflow;
            let old = row.clone();
            let cal = cache.current(conn)?;
            let nth = if matches!(action, Action::IssueFeeNotice { .. }) {
                nth_in_month(conn, &row)?
            } else {
                1
            };
            let ctx_domain = ActionContext {
                today,
                calendar: &cal,
                actor_is_approver: actor.has(Role::Approver),
                actor_name: &actor.username,
                nth_in_month: nth,
            };
            let next = request::apply(&wf, on, &action, &ctx_domain).map_err(refusal)?;
            let before = wf.state;
            let due_before = row.due_date;
            let d = derive(&mut row, &next, &cal, today)?;
            if matches!(action, Action::ConfirmReceipt) {
                row.confirmed_on = Some(on);
            }
            // A step that would move a published year's figures waits for a reopening.
            super::reports::ensure_figures_unchanged(conn, &row.agency_id, |y| {
                (
                    report::counted_cells(&counted(&old), y),
                    report::counted_cells(&counted(&row), y),
                )
            })?;
            row.version += 1;
            row.updated_at = db::now_micros();
            if !db::requests::update_if_version(conn, &row, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            let mut payload = action_payload(&input);
            payload.insert("due_date_before".into(), json!(due_before));
            payload.insert("due_date_after".into(), json!(d.due_date));
            event(
                conn,
                false,
                &row,
                Some(&actor),
                &name,
                Some(on),
                Some(before),
                Value::Object(payload),
                &ctx,
            )?;
            let code = db::agencies::find(conn, &row.agency_id)?.map(|a| a.code);
            let mut v = decode(row)?;
            v.agency_code = code;
            Ok(v)
        })
        .await
}

fn action_payload(f: &ActionInput) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_string(), v);
        }
    };
    put("on", json!(f.on));
    put("items", json!(f.items));
    put("reply_by", json!(f.reply_by));
    put("party", json!(f.party));
    put("whom", json!(f.whom));
    put("opinion", json!(f.opinion));
    put("basis", json!(f.basis));
    put("amount_fen", json!(f.amount_fen));
    put("pages", json!(f.pages));
    put("reason", json!(f.reason));
    put("days", json!(f.days));
    put("disposition", json!(f.disposition));
    put("legal_basis", json!(f.legal_basis));
    put("provision", json!(f.provision));
    put("responsible_agency", json!(f.responsible_agency));
    put("repeats_request_id", json!(f.repeats_request_id));
    put("due_date", json!(f.due_date));
    m
}

/// Corrects intake details of an open application.
pub async fn patch(
    state: &AppState,
    actor: Actor,
    id: String,
    patch: DetailsPatch,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<RequestView, AppError> {
    may_write(&actor)?;
    state
        .in_transaction(move |conn| {
            let mut row = visible(conn, &actor, &id)?;
            let expected = if_match.ok_or(AppError::PreconditionRequired)?;
            if expected != row.version {
                return Err(AppError::PreconditionFailed);
            }
            let current = decode(row.clone())?;
            let old = row.clone();
            let details = request::patch_details(current.workflow.state, &current.details, &patch)
                .map_err(|e| match e {
                    PatchError::Closed => AppError::conflict(
                        "application_closed",
                        "a closed application's intake details are part of the record",
                    ),
                    PatchError::Invalid(errors) => AppError::Validation(errors),
                })?;
            if details.external_reference != current.details.external_reference
                && let Some(ext) = &details.external_reference
                && db::requests::find_by_external_reference(conn, &row.agency_id, ext)?.is_some()
            {
                return Err(AppError::conflict(
                    "external_reference_taken",
                    "this external reference is taken in this agency",
                ));
            }
            row.applicant_kind = details.applicant.kind.code().to_string();
            row.applicant_name = details.applicant.name.clone();
            row.applicant_key = details.applicant.key();
            row.description = details.description.clone();
            row.external_reference = details.external_reference.clone();
            row.details = to_json(&details)?;
            // The applicant kind is a column of the report: a counted record stays as published.
            super::reports::ensure_figures_unchanged(conn, &row.agency_id, |y| {
                (
                    report::counted_cells(&counted(&old), y),
                    report::counted_cells(&counted(&row), y),
                )
            })?;
            row.version += 1;
            row.updated_at = db::now_micros();
            if !db::requests::update_if_version(conn, &row, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            let state_now = current.workflow.state;
            event(
                conn,
                false,
                &row,
                Some(&actor),
                "intake_corrected",
                None,
                Some(state_now),
                json!({"before": current.details, "after": details}),
                &ctx,
            )?;
            decode(row)
        })
        .await
}

pub async fn events(state: &AppState, actor: Actor, id: String) -> Result<Vec<EventRow>, AppError> {
    state
        .with_conn(move |conn| {
            let row = visible(conn, &actor, &id)?;
            Ok(db::requests::events(conn, &row.id)?)
        })
        .await
}

pub async fn deadline(
    state: &AppState,
    actor: Actor,
    id: String,
) -> Result<(RequestView, Deadline), AppError> {
    let cache = state.calendar.clone();
    let today = state.today();
    state
        .with_conn(move |conn| {
            let row = visible(conn, &actor, &id)?;
            let cal = cache.current(conn)?;
            let v = decode(row)?;
            let d = clock::compute(&v.workflow.clock, &cal, today)
                .map_err(|e| AppError::internal_while("clock", e))?;
            Ok((v, d))
        })
        .await
}

/// Recomputes stored due dates of open applications (after a calendar change).
pub fn recompute_open(
    conn: &mut DbConnection,
    cal: &Calendar,
    today: NaiveDate,
) -> Result<u64, AppError> {
    let mut changed = 0;
    for (id, workflow, due, provisional) in db::requests::open_with_clock(conn)? {
        let wf: Workflow = serde_json::from_str(&workflow).map_err(|e| {
            AppError::internal_while(format!("request {id} workflow unreadable"), e)
        })?;
        let d = clock::compute(&wf.clock, cal, today)
            .map_err(|e| AppError::internal_while("clock", e))?;
        if d.due_date != due || d.provisional != provisional {
            db::requests::set_due_date(conn, &id, d.due_date, d.provisional)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Counts for the dashboard.
pub struct Dashboard {
    pub by_state: Vec<(String, i64)>,
    pub due_within_3_working_days: i64,
    pub overdue: i64,
    pub replied_late_this_year: i64,
    pub today: NaiveDate,
}

pub async fn dashboard(state: &AppState, actor: Actor) -> Result<Dashboard, AppError> {
    let cache = state.calendar.clone();
    let today = state.today();
    state
        .with_conn(move |conn| {
            let vis = actor.visibility();
            let cal = cache.current(conn)?;
            let until = cal.add_working_days(today, 3).unwrap_or(today);
            let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
            Ok(Dashboard {
                by_state: db::requests::count_by_state(conn, &vis)?,
                due_within_3_working_days: db::requests::count_due_between(
                    conn, &vis, today, until,
                )?,
                overdue: db::requests::count_overdue(conn, &vis, today)?,
                replied_late_this_year: db::requests::count_late_closed_between(
                    conn, &vis, year_start, today,
                )?,
                today,
            })
        })
        .await
}

/// What an applicant may see without logging in.
pub struct PublicStatus {
    pub case_number: String,
    pub state: String,
    pub receipt_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub replied_on: Option<NaiveDate>,
}

/// Public look-ups allowed per client address and minute.
pub const PUBLIC_STATUS_PER_MINUTE: i32 = 30;

pub async fn public_status(
    state: &AppState,
    client: String,
    case_number: String,
    query_code: String,
) -> Result<PublicStatus, AppError> {
    state
        .in_transaction(move |conn| {
            let window = chrono::Utc::now().timestamp() / 60;
            if db::requests::rate_limit_hit(conn, &format!("public_status:{client}"), window)?
                > PUBLIC_STATUS_PER_MINUTE
            {
                return Err(AppError::TooManyRequests {
                    retry_after_secs: 60,
                });
            }
            Ok(())
        })
        .await?;
    state
        .with_conn(move |conn| {
            let row = db::requests::find_by_case_number(conn, case_number.trim())?;
            match row {
                // Compared in full either way; a wrong pair and an unknown case look the same.
                Some(r)
                    if constant_time_eq(
                        r.query_code.as_bytes(),
                        query_code.trim().to_ascii_uppercase().as_bytes(),
                    ) =>
                {
                    Ok(PublicStatus {
                        case_number: r.core.case_number,
                        state: r.core.state,
                        receipt_date: r.core.receipt_date,
                        due_date: r.core.due_date,
                        replied_on: r.core.closed_on,
                    })
                }
                _ => Err(AppError::NotFound("application")),
            }
        })
        .await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

#[cfg(test)]
mod tests {
    use super::feed_details;
    use serde_json::json;

    #[test]
    fn a_correction_reaches_the_feed_as_the_names_of_the_changed_fields() {
        let p = json!({
            "before": {"applicant": {"id_number": "110101199003071233"}, "description": "a"},
            "after": {"applicant": {"id_number": "11010519491231002X"}, "description": "a", "delivery": "post"},
        });
        assert_eq!(
            feed_details(&p),
            json!({"changed": ["applicant", "delivery"]})
        );
        assert!(!feed_details(&p).to_string().contains("1101"));
        let step = json!({"disposition": "granted"});
        assert_eq!(feed_details(&step), step);
    }
}
