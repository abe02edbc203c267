//! Applications: intake, reading, actions, the trail and the deadline. Each change writes the
//! new state, the derived fields (due date, lateness) and one event in one transaction, guarded
//! by the version the client read.

use crate::domain::report::publication::{self, ReportKind};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use super::idempotency::{Answer, Answering};
use super::{AppError, AppState, Page, RequestContext};
use crate::db::requests::{SortValue, Start};
use crate::db::{self, DbConnection, requests::EventRow};
use crate::domain::access::{Actor, Role};
use crate::domain::calendar::Calendar;
use crate::domain::clock::Deadline;
use crate::domain::report;
use crate::domain::request::application::Registration;
use crate::domain::request::{
    Action, ActionContext, Application, DetailsPatch, IntakeInput, ListFilter, NewRequest,
    PatchError, Refusal, SortKey, State,
};

/// An application as the use cases hand it out: the aggregate, its agency's code, and (detail
/// reads) the reviews and lawsuits about it.
#[derive(Debug, Clone)]
pub struct RequestView {
    pub app: Application,
    pub agency_code: Option<String>,
    /// Reviews and lawsuits about this application (filled by the detail read).
    pub remedies: Vec<super::remedies::RemedyView>,
    /// Acts of §5 that a notice should have performed but were recorded without one (filled
    /// by the detail read): `(action, date)`.
    pub acts_without_notice: Vec<(String, Option<NaiveDate>)>,
    /// Who holds it now (`None`: unassigned, or not read).
    pub holder: Option<super::office::HolderView>,
    /// The warnings raised on it.
    pub flags: Vec<super::office::FlagView>,
}

impl RequestView {
    pub fn new(app: Application) -> RequestView {
        RequestView {
            app,
            agency_code: None,
            remedies: Vec::new(),
            acts_without_notice: Vec::new(),
            holder: None,
            flags: Vec::new(),
        }
    }
}

/// One step of an application's trail, as recorded.
#[derive(Debug, Clone)]
pub struct TrailEvent {
    /// 1, 2, 3 … per application.
    pub seq: i32,
    pub request_id: String,
    pub occurred_at: NaiveDateTime,
    pub actor_user_id: Option<String>,
    /// The user name, or `system`.
    pub actor: String,
    /// `intake`, `intake_corrected`, `import`, or an action name.
    pub action: String,
    pub on: Option<NaiveDate>,
    pub state_before: Option<String>,
    pub state_after: String,
    pub payload: Value,
}

impl From<EventRow> for TrailEvent {
    fn from(e: EventRow) -> Self {
        let mut payload: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
        // Corrections recorded before numbers were masked in the trail: masked as read.
        if e.action == "intake_corrected" {
            mask_applicant_numbers(&mut payload);
        }
        TrailEvent {
            seq: e.seq,
            request_id: e.request_id,
            occurred_at: e.occurred_at,
            actor_user_id: e.actor_user_id,
            actor: e.actor_label,
            action: e.action,
            on: e.on_date,
            state_before: e.state_before,
            state_after: e.state_after,
            payload,
        }
    }
}

/// Masks the applicant's identity number and credit code in a correction's `before` and
/// `after` (idempotent: a masked number stays as it is).
fn mask_applicant_numbers(payload: &mut Value) {
    for side in ["before", "after"] {
        let Some(a) = payload.get_mut(side).and_then(|d| d.get_mut("applicant")) else {
            continue;
        };
        for field in ["id_document_number", "credit_code"] {
            if let Some(Value::String(n)) = a.get_mut(field)
                && !n.contains('*')
            {
                *n = crate::domain::identity::mask(n);
            }
        }
    }
}

/// What of an application the report counts.
pub(crate) fn counted(a: &Application) -> report::CountedApplication<'static> {
    let fee = a.workflow.fee.as_ref();
    report::CountedApplication {
        kind: a.applicant_kind().code(),
        receipt_date: a.receipt_date(),
        closed_on: a.closed_on(),
        disposition: a.disposition().map(|d| d.code()),
        fee_notice_on: fee.map(|f| f.notice_on),
        fee_amount_fen: fee.map(|f| f.amount_fen),
        fee_paid_on: fee.and_then(|f| f.paid_on),
        fee_paid_fen: fee.and_then(|f| f.paid_fen),
    }
}

pub(crate) fn may_write(actor: &Actor) -> Result<(), AppError> {
    if actor.has(Role::Clerk) || actor.has(Role::Approver) || actor.has(Role::Admin) {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "办理申请须具有经办人（clerk）、审批人（approver）或管理员（admin）角色",
                "handling applications needs the role clerk, approver or admin"
            ),
        })
    }
}

fn no_agency() -> crate::domain::text::Text {
    crate::text!(
        "没有您可在其中登记申请的此机关",
        "no such agency in which you may register applications"
    )
}

fn reference_taken() -> crate::domain::text::Text {
    crate::text!(
        "本机关已有此外部编号的申请",
        "this external reference is taken in this agency"
    )
}

/// Loads an application the actor can see, with its agency's code; anything else is "not
/// found".
pub(crate) fn visible(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<(Application, String), AppError> {
    reach(conn, actor, id, super::Reach::Read)
}

/// Loads an application the actor may handle (write): visible as by [`visible`], and its own
/// agency's unless the actor is an admin above it ([`Actor::may_handle`]); a supervisor above
/// it answers 403 `not_own_agency`.
pub(crate) fn handled(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<(Application, String), AppError> {
    reach(conn, actor, id, super::Reach::Handle)
}

fn reach(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    how: super::Reach,
) -> Result<(Application, String), AppError> {
    let what = || crate::text!("申请", "application");
    let app = db::requests::load(conn, id)?.ok_or_else(|| AppError::NotFound(what()))?;
    let agency =
        db::agencies::find(conn, &app.agency_id)?.ok_or_else(|| AppError::NotFound(what()))?;
    how.check(actor, &agency.id, &agency.path, what())?;
    Ok((app, agency.code))
}

/// Appends one event to an application's trail and publishes it to the feed: every writer of
/// `request_events` (intake, actions, corrections, bulk import) goes through here.
#[allow(clippy::too_many_arguments)]
pub(crate) fn event(
    conn: &mut DbConnection,
    first: bool,
    row: &Application,
    actor: Option<&Actor>,
    action: &str,
    on: Option<NaiveDate>,
    before: Option<State>,
    payload: Value,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let published = trail(conn, first, row, actor, action, on, before, payload, ctx)?;
    super::feed::publish(conn, row.updated_at, published)?;
    Ok(())
}

/// Appends one event to an application's trail and returns its feed event, for a caller that
/// publishes many at its end ([`super::feed::publish_many`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn trail(
    conn: &mut DbConnection,
    first: bool,
    row: &Application,
    actor: Option<&Actor>,
    action: &str,
    on: Option<NaiveDate>,
    before: Option<State>,
    payload: Value,
    ctx: &RequestContext,
) -> Result<super::feed::Event, AppError> {
    record(conn, first, row, actor, action, on, before, &payload, ctx)?;
    Ok(announcement(row, action, on, before, &payload))
}

/// Appends one event to an application's trail.
#[allow(clippy::too_many_arguments)]
fn record(
    conn: &mut DbConnection,
    first: bool,
    row: &Application,
    actor: Option<&Actor>,
    action: &str,
    on: Option<NaiveDate>,
    before: Option<State>,
    payload: &Value,
    ctx: &RequestContext,
) -> Result<(), AppError> {
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
            occurred_at: row.updated_at, // the instant of the change it records
            actor_user_id: actor.map(|a| a.user_id.clone()),
            actor_label: actor.map_or_else(|| "system".to_string(), |a| a.recorded_as()),
            action: action.to_string(),
            on_date: on,
            state_before: before.map(|s| s.code().to_string()),
            state_after: row.state().code().to_string(),
            payload: payload.to_string(),
            http_request_id: ctx.request_id.clone(),
        },
    )?;
    Ok(())
}

/// The feed event of a step recorded by [`record`].
fn announcement(
    row: &Application,
    action: &str,
    on: Option<NaiveDate>,
    before: Option<State>,
    payload: &Value,
) -> super::feed::Event {
    super::feed::Event {
        agency_id: row.agency_id.clone(),
        entity_type: "application".into(),
        entity_id: row.id.clone(),
        request_id: Some(row.id.clone()),
        event_type: format!("application.{action}"),
        payload: json!({
            "case_number": row.case_number,
            "external_reference": row.details.external_reference,
            "action": action,
            "on_date": on,
            "state_before": before.map(State::code),
            "state": row.state().code(),
            "receipt_date": row.receipt_date(),
            "due_date": row.due_date,
            "disposition": row.disposition().map(|d| d.code()),
            "closed_on": row.closed_on(),
            "version": row.version,
            "details": feed_details(payload),
        }),
    }
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

pub async fn create(
    state: &AppState,
    actor: Actor,
    mut input: CreateRequest,
    once: Answering<RequestView>,
    ctx: RequestContext,
) -> Result<Answer, AppError> {
    may_write(&actor)?;
    let tz = state.tz;
    let now = state.now();
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
            crate::text!(
                "agency_id 与 agency_code 只能给出其一",
                "give agency_id or agency_code, not both"
            ),
        ));
    }
    // Stored at microsecond precision, as both databases keep it, so the answer and the record agree.
    let arrived_at = db::truncate_micros(input.arrived_at.naive_utc());
    let thresholds = super::office::thresholds(state);
    // The flags an intake raises are judged from earlier applications. On SQLite before the
    // transaction, which holds the database's write lock from its start: an agency that turns
    // out not to be the caller's to register in is refused inside, and these flags go nowhere.
    // On PostgreSQL inside it, after the agency is found (one pool connection and one hand-off
    // to a database thread fewer): nothing there is locked until the case number, near the end.
    let flags = match state.db.backend {
        db::Backend::Sqlite => {
            let (id, code) = (agency_id.clone(), agency_code.clone());
            let own = actor.agency_id.clone();
            let details = parsed.details.clone();
            let arrival = parsed.arrival_date;
            Some(
                state
                    .with_conn(move |conn| {
                        let agency = match (id, code) {
                            (_, Some(code)) => {
                                super::agencies::find_by_code(conn, &code)?.map(|a| a.id)
                            }
                            (Some(id), None) => Some(id),
                            (None, None) => Some(own),
                        };
                        match agency {
                            Some(a) => super::office::intake_flags(
                                conn,
                                &a,
                                &details,
                                arrival,
                                &thresholds,
                            ),
                            None => Ok(Vec::new()),
                        }
                    })
                    .await?,
            )
        }
        db::Backend::Postgres => None,
    };
    // The documents, first trail event and flags are written before the application's row,
    // which comes last with its case number (below).
    let begin = db::Begin::DeferringIntakeReferences;
    state
        .create_once_begun(actor.user_id.clone(), once, begin, move |conn| {
            // The agency, with the registering user when it is one of the agency's own: that
            // user holds the new application (with its department); one registered by a
            // platform, a client or an admin above the agency waits, unassigned, for the office.
            use db::agencies::AgencyKey;
            let member = match actor.principal {
                crate::domain::access::Principal::User => Some(actor.user_id.as_str()),
                _ => None,
            };
            let (agency, holder) = match (&agency_id, &agency_code) {
                (_, Some(code)) => {
                    let code = crate::domain::agency::AgencyCode::canonical(code);
                    match db::agencies::find_with_member(conn, AgencyKey::Code(&code), member)? {
                        Some((a, m)) if actor.may_register_in(&a.id, &a.path) => (a, m),
                        _ => return Err(AppError::field("agency_code", "unknown_agency", no_agency())),
                    }
                }
                (None, None) => db::agencies::find_with_member(conn, AgencyKey::Id(&actor.agency_id), member)?
                    .ok_or(AppError::NotFound(crate::text!("机关", "agency")))?,
                (Some(id), None) => match db::agencies::find_with_member(conn, AgencyKey::Id(id), member)? {
                    Some((a, m)) if actor.may_register_in(&a.id, &a.path) => (a, m),
                    _ => return Err(AppError::field("agency_id", "unknown_agency", no_agency())),
                },
            };
            let holder = holder.filter(|(u, _)| u.agency_id == agency.id);
            let flags = match flags {
                Some(flags) => flags,
                None => super::office::intake_flags(
                    conn,
                    &agency.id,
                    &parsed.details,
                    parsed.arrival_date,
                    &thresholds,
                )?,
            };
            if let Some(ext) = &parsed.details.external_reference
                && db::requests::find_by_external_reference(conn, &agency.id, ext)?.is_some()
            {
                return Err(AppError::conflict(
                    "external_reference_taken",
                    crate::text!(
                        "本机关已有外部编号为 {ext} 的申请",
                        "this agency already has an application with external reference {ext}"
                    ),
                ));
            }
            let cal = cache.current(conn)?;
            let subscribers = super::feed::Subscribers::of_agency(conn, &agency.id, &agency.path)?;
            let now_db = db::truncate_micros(now.naive_utc());
            // Registered with number 0, which is never written: the number is taken near the
            // end (below), and the application's row is written with it.
            let mut app = Application::register(
                parsed,
                Registration {
                    id: uuid::Uuid::new_v4().to_string(),
                    agency_id: agency.id.clone(),
                    agency_code: agency.code.clone(),
                    case_seq: 0,
                    query_code: query_code(),
                    arrived_at,
                    created_by: Some(actor.recorded_as()),
                    now: now_db,
                },
                &cal,
                today,
            )
            .map_err(refusal)?;
            // A back-dated intake may not change a published year's figures. Only a year that
            // is over can be published (`reports::publish`): an application counted in none of
            // those (nearly every intake, received this year) need not read which are.
            if report::counted_in_a_finished_year(&counted(&app), app.arrival_date, today) {
                let published = super::reports::published_years(conn, &agency.id)?;
                super::reports::figures_unchanged_in(&published, |y| {
                    (Vec::new(), report::counted_cells(&counted(&app), y))
                })?;
            }
            // What holds no case number first: the documents, the first trail event and the
            // flags, their references to the application checked at the commit.
            db::requests::insert_documents(conn, &app)?;
            let payload = json!({"channel": app.channel.code(), "arrived_at": input.arrived_at.to_rfc3339(), "signed_for_on": app.signed_for_on, "confirmed_on": app.confirmed_on, "receipt_date": app.receipt_date(), "due_date": app.due_date});
            record(conn, true, &app, Some(&actor), "intake", app.receipt_date(), None, &payload, &ctx)?;
            super::office::raise_new(conn, &app.id, &flags, now_db)?;
            // Then the case number, and the two writes that carry it. The agency's counter row
            // stays locked from here to the commit, so concurrent intakes (of any process)
            // queue on it for these three statements only, and take their numbers in the order
            // they commit: gapless, and in the order applications become visible.
            let seq = db::requests::next_case_seq(conn, &agency.id, app.case_year)?;
            app.number(&agency.code, seq);
            let first_holder = holder
                .as_ref()
                .map(|(u, _)| (u.id.as_str(), u.department_id.as_deref(), now_db));
            db::requests::insert_row(conn, &app, first_holder).map_err(|e| {
                // Another unique key (the case number) taken is a fault of ours, not the
                // caller's: a 500 with the reason in the log, not a false 409.
                if db::is_external_reference_taken(&e) {
                    AppError::conflict("external_reference_taken", reference_taken())
                } else {
                    e.into()
                }
            })?;
            let published = announcement(&app, "intake", app.receipt_date(), None, &payload);
            super::feed::publish_to(conn, app.updated_at, vec![published], &subscribers)?;
            let mut view = RequestView::new(app);
            view.agency_code = Some(agency.code.clone());
            if let Some((u, dept)) = holder {
                view.holder = Some(super::office::HolderView {
                    user_id: Some(u.id.clone()),
                    user_name: Some(u.display_name.clone()),
                    department_id: u.department_id.clone(),
                    department_name: dept.map(|d| d.name),
                    awaiting_claim: false,
                    since: Some(now_db),
                });
            }
            view.flags = flags.iter().map(super::office::FlagView::from).collect();
            view.flags.sort_by(|a, b| a.code.cmp(&b.code));
            // A back-dated application may be at risk from the start.
            super::office::live_flags(&mut view, &cal, today, false, &thresholds);
            Ok(view)
        })
        .await
}

/// An application by the forwarding platform's reference, in an agency given by its code.
pub async fn get_by_reference(
    state: &AppState,
    actor: Actor,
    agency_code: String,
    external_reference: String,
) -> Result<RequestView, AppError> {
    let look = super::office::Look::of(state);
    state
        .with_conn(move |conn| {
            let agency = match super::agencies::find_by_code(conn, &agency_code)? {
                Some(a) if actor.sees(&a.id, &a.path) => a,
                _ => return Err(AppError::NotFound(crate::text!("申请", "application"))),
            };
            // Stored NFC (intake normalises text): looked up the same way.
            let app = db::requests::find_by_external_reference(
                conn,
                &agency.id,
                &crate::domain::validation::nfc(external_reference.trim()),
            )?
            .ok_or(AppError::NotFound(crate::text!("申请", "application")))?;
            let remedies = super::remedies::for_request(conn, &app.id)?;
            let mut v = RequestView::new(app);
            v.agency_code = Some(agency.code);
            v.remedies = remedies;
            super::office::decorate_all(conn, std::slice::from_mut(&mut v), &look)?;
            Ok(v)
        })
        .await
}

pub async fn get(state: &AppState, actor: Actor, id: String) -> Result<RequestView, AppError> {
    let mut look = super::office::Look::of(state);
    let places = state.agency_places.clone();
    state
        .with_conn(move |conn| {
            // One statement for the application, its trail's acts and whether any case names
            // it (and its agency, unless this process holds every agency's place:
            // `agency_places`); one more for those cases when there are some. The caller's
            // token is checked from memory once seen (`principals`): one to three per read.
            let not_found = || AppError::NotFound(crate::text!("申请", "application"));
            let held = places.complete();
            let (found, joined) =
                db::requests::load_detail(conn, &id, held.is_none())?.ok_or_else(not_found)?;
            let place = match joined {
                Some((code, path)) => super::agency_places::Place { code, path },
                None => match held.and_then(|e| places.place(&found.app.agency_id, e)) {
                    Some(place) => place,
                    None => places
                        .read(conn, &found.app.agency_id)?
                        .ok_or_else(not_found)?,
                },
            };
            if !actor.sees(&found.app.agency_id, &place.path) {
                return Err(not_found());
            }
            let mut v = RequestView::new(found.app);
            v.agency_code = Some(place.code);
            if found.has_remedies {
                v.remedies = super::remedies::for_request(conn, &v.app.id)?;
            }
            v.acts_without_notice = found.acts_without_notice;
            look.ensure(conn)?;
            super::office::decorate(&mut v, found.extras, &look);
            Ok(v)
        })
        .await
}

/// Fills what only the detail shows: the cases about the application and the acts recorded
/// without a notice. Every answer that shows the detail fills it, so that an answer and a
/// later read agree.
pub(crate) fn detail(
    conn: &mut DbConnection,
    v: &mut RequestView,
    look: &super::office::Look,
) -> Result<(), AppError> {
    v.remedies = super::remedies::for_request(conn, &v.app.id)?;
    super::office::decorate_all(conn, std::slice::from_mut(v), look)?;
    // The same statement as a read's (`load_detail`), so that an answer and a later read agree.
    v.acts_without_notice = db::requests::acts_without_notice(conn, &v.app.id)?;
    Ok(())
}

/// The total a list asks for (`total=`) and the total given with a page: the database layer's
/// own types, re-exported so that `http` names them through `app`.
pub use crate::db::requests::{Total as ListTotal, TotalWanted};

/// A list query, validated.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: ListFilter,
    pub sort: (SortKey, bool),
    pub page: Page,
    /// Continue after the row this cursor names (instead of the page number).
    pub cursor: Option<String>,
    pub total: TotalWanted,
}

/// One page of applications.
#[derive(Debug)]
pub struct ListPage {
    pub items: Vec<RequestView>,
    pub page: Page,
    pub total: ListTotal,
    /// The cursor of the next page, when another may follow.
    pub next_cursor: Option<String>,
}

/// A list cursor: the sort it belongs to, the last row's sort value and its id, as JSON in
/// base64url. Opaque to clients; they pass it back unchanged.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CursorData {
    /// The sort, as in `sort=` (`-created`).
    s: String,
    /// The sort value of the last row (`null`: a row without the date).
    v: Option<String>,
    /// The id of the last row.
    i: String,
}

fn sort_code((key, desc): (SortKey, bool)) -> String {
    format!("{}{}", if desc { "-" } else { "" }, key.code())
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.f";

pub(crate) fn encode_cursor(sort: (SortKey, bool), value: &SortValue, id: &str) -> String {
    use base64::Engine as _;
    let v = match value {
        SortValue::Date(d) => d.map(|d| d.to_string()),
        SortValue::Created(t) => Some(t.format(CURSOR_TIME).to_string()),
        SortValue::CaseNumber(c) => Some(c.clone()),
    };
    let data = CursorData {
        s: sort_code(sort),
        v,
        i: id.to_string(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&data).unwrap_or_default())
}

fn invalid_cursor() -> AppError {
    AppError::BadRequest {
        code: "invalid_cursor",
        detail: crate::text!(
            "cursor 无法识别：请原样传回上一页的 next_cursor",
            "the cursor is not one this service gave: pass the previous page's next_cursor back unchanged"
        ),
    }
}

/// The position a cursor names, for this sort: 400 `invalid_cursor` when it is not one of ours,
/// `cursor_sort_mismatch` when it belongs to another sort.
pub(crate) fn decode_cursor(
    raw: &str,
    sort: (SortKey, bool),
) -> Result<(SortValue, String), AppError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.trim())
        .map_err(|_| invalid_cursor())?;
    let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| invalid_cursor())?;
    let key = sort.0;
    if data.s != sort_code(sort) {
        let (theirs, ours) = (data.s, sort_code(sort));
        return Err(AppError::BadRequest {
            code: "cursor_sort_mismatch",
            detail: crate::text!(
                "cursor 属于排序 {theirs}，本次排序为 {ours}：换排序时请不带 cursor 从头开始",
                "the cursor belongs to sort {theirs}, this list is sorted by {ours}: start again without a cursor"
            ),
        });
    }
    if data.i.is_empty() || data.i.len() > 64 {
        return Err(invalid_cursor());
    }
    let value = match (key, data.v) {
        (SortKey::Received | SortKey::Due, None) => SortValue::Date(None),
        (SortKey::Received | SortKey::Due, Some(v)) => {
            SortValue::Date(Some(v.parse::<NaiveDate>().map_err(|_| invalid_cursor())?))
        }
        (SortKey::Created, Some(v)) => SortValue::Created(
            NaiveDateTime::parse_from_str(&v, CURSOR_TIME).map_err(|_| invalid_cursor())?,
        ),
        (SortKey::CaseNumber, Some(v)) if v.len() <= 200 => SortValue::CaseNumber(v),
        _ => return Err(invalid_cursor()),
    };
    Ok((value, data.i))
}

pub async fn list(state: &AppState, actor: Actor, query: ListQuery) -> Result<ListPage, AppError> {
    let start = match &query.cursor {
        Some(raw) => {
            let (value, id) = decode_cursor(raw, query.sort)?;
            Start::After(value, id)
        }
        None => Start::Offset(query.page.offset()),
    };
    let wanted = query.total;
    let mut query = query;
    let mut look = super::office::Look::of(state);
    let cache = state.calendar.clone();
    state
        .with_conn(move |conn| {
            let vis = actor.visibility();
            if query.filter.flag.as_deref() == Some("reply_at_risk") {
                let cal = cache.current(conn)?;
                query.filter.reply_risk_before = Some(
                    cal.add_working_days(look.today, look.thresholds.reply_risk_working_days)
                        .unwrap_or(look.today),
                );
                look.calendar = Some(cal);
            }
            let page = db::requests::list(
                conn,
                &vis,
                &query.filter,
                query.sort,
                &start,
                query.page.per_page,
                wanted,
            )?;
            let mut items: Vec<RequestView> =
                page.items.into_iter().map(RequestView::new).collect();
            super::office::decorate_all(conn, &mut items, &look)?;
            Ok(ListPage {
                items,
                page: query.page,
                total: page.total,
                next_cursor: page
                    .next
                    .map(|(value, id)| encode_cursor(query.sort, &value, &id)),
            })
        })
        .await
}

/// Fills the search grams of applications stored by a release before them, in batches of
/// 1,000 (each its own transaction), until none is left; run once after start. Until a row is
/// filled a search rechecks it directly, so results are complete meanwhile.
pub async fn fill_search_text(state: AppState) {
    let mut filled = 0usize;
    loop {
        match state
            .in_transaction(|conn| Ok(db::requests::fill_search_text(conn, 1000)?))
            .await
        {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => {
                tracing::warn!(error = %e, "filling the search grams of older applications stopped; it resumes at the next start");
                return;
            }
        }
    }
    if filled > 0 {
        tracing::info!(filled, "filled the search grams of older applications");
    }
}

pub(crate) fn refusal(r: Refusal) -> AppError {
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
fn nth_in_month(conn: &mut DbConnection, app: &Application) -> Result<u32, AppError> {
    let (Some(key), Some(receipt)) = (app.details.applicant.key(), app.receipt_date()) else {
        return Ok(1);
    };
    let from = receipt.with_day(1).unwrap_or(receipt);
    let to = from
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(receipt);
    let n = db::requests::count_same_applicant(
        conn,
        &app.agency_id,
        &key,
        from,
        to,
        (receipt, app.created_at),
    )?;
    Ok(u32::try_from(n.max(1)).unwrap_or(u32::MAX))
}

/// A statutory step as the HTTP layer parsed it: the action with its date, and its fields as
/// sent, for the trail.
pub struct Step {
    pub on: NaiveDate,
    pub action: Action,
    /// The request body, recorded in the event.
    pub fields: serde_json::Map<String, Value>,
}

/// The earlier application a `not_processed.repeated` reply names must exist, be another one,
/// and be visible to the actor; otherwise the field is wrong (422).
fn check_repeats(
    conn: &mut DbConnection,
    actor: &Actor,
    app: &Application,
    action: &Action,
) -> Result<(), AppError> {
    let Action::Reply(reply) = action else {
        return Ok(());
    };
    let Some(earlier) = &reply.repeats_request_id else {
        return Ok(());
    };
    let unknown = || {
        AppError::field(
            "repeats_request_id",
            "unknown_request",
            crate::text!(
                "没有您可查看的、具有此 id 的在先申请",
                "no earlier application with this id that you may see"
            ),
        )
    };
    if earlier == &app.id {
        return Err(AppError::field(
            "repeats_request_id",
            "same_request",
            crate::text!("申请不能重复其自身", "an application cannot repeat itself"),
        ));
    }
    let agency_id = db::requests::agency_of(conn, earlier)?.ok_or_else(unknown)?;
    let agency = db::agencies::find(conn, &agency_id)?.ok_or_else(unknown)?;
    if actor.sees(&agency.id, &agency.path) {
        Ok(())
    } else {
        Err(unknown())
    }
}

/// What applying a step needs besides the connection: the calendar, today, the delivery
/// allowance and the instant of the change.
#[derive(Clone)]
pub(crate) struct StepEnv {
    pub calendar: super::calendar::CalendarCache,
    pub today: NaiveDate,
    pub delivery_allowance: u32,
    pub now: NaiveDateTime,
    pub thresholds: crate::domain::office::FlagThresholds,
}

impl StepEnv {
    pub(crate) fn of(state: &AppState) -> StepEnv {
        StepEnv {
            calendar: state.calendar.clone(),
            today: state.today(),
            delivery_allowance: state.settings.domain.delivery_allowance_working_days,
            now: state.now_micros(),
            thresholds: super::office::thresholds(state),
        }
    }
}

/// Applies one statutory step.
pub async fn apply_action(
    state: &AppState,
    actor: Actor,
    id: String,
    step: Step,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<RequestView, AppError> {
    may_write(&actor)?;
    let env = StepEnv::of(state);
    state
        .in_transaction(move |conn| {
            act_in(
                conn,
                &actor,
                &id,
                step,
                Expected::IfMatch(if_match),
                &env,
                &ctx,
            )
        })
        .await
}

/// Which version of the application a step expects.
pub(crate) enum Expected {
    /// The `If-Match` the caller sent (required).
    IfMatch(Option<i32>),
    /// The current one: the step is performed by another record (an issued notice) whose own
    /// version was checked.
    Current,
}

/// Applies one statutory step inside the caller's transaction: the step, the stored
/// application and its trail event, and what the step moves elsewhere (the limits of the
/// cases against a reply).
pub(crate) fn act_in(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    step: Step,
    expected: Expected,
    env: &StepEnv,
    ctx: &RequestContext,
) -> Result<RequestView, AppError> {
    may_write(actor)?;
    let (app, code) = handled(conn, actor, id)?;
    let expected = match expected {
        Expected::IfMatch(v) => v.ok_or(AppError::PreconditionRequired)?,
        Expected::Current => app.version,
    };
    if expected != app.version {
        return Err(AppError::PreconditionFailed);
    }
    check_repeats(conn, actor, &app, &step.action)?;
    let cal = env.calendar.current(conn)?;
    let nth = if matches!(step.action, Action::IssueFeeNotice { .. }) {
        nth_in_month(conn, &app)?
    } else {
        1
    };
    let ctx_domain = ActionContext {
        today: env.today,
        calendar: &cal,
        actor_is_approver: actor.has(Role::Approver),
        actor_name: &actor.recorded_as(),
        nth_in_month: nth,
        delivery_allowance: env.delivery_allowance,
    };
    let next = app
        .act(step.on, &step.action, &ctx_domain, env.now)
        .map_err(refusal)?;
    // Warnings the step raises (never refusals), judged before it is written.
    let flags =
        super::office::step_flags(conn, &app, &step.action, step.on, &cal, &env.thresholds)?;
    // A step that would move a published year's figures waits for a reopening.
    super::reports::ensure_figures_unchanged(conn, &next.agency_id, |y| {
        (
            report::counted_cells(&counted(&app), y),
            report::counted_cells(&counted(&next), y),
        )
    })?;
    if !db::requests::save(conn, &next, expected)? {
        return Err(AppError::PreconditionFailed);
    }
    let mut payload = step.fields;
    payload.insert("on".into(), json!(step.on));
    payload.insert("due_date_before".into(), json!(app.due_date));
    payload.insert("due_date_after".into(), json!(next.due_date));
    event(
        conn,
        false,
        &next,
        Some(actor),
        step.action.name(),
        Some(step.on),
        Some(app.state()),
        Value::Object(payload),
        ctx,
    )?;
    if matches!(step.action, Action::RecordReplyService { .. }) {
        // The reviews and direct suits against the reply run from its service.
        super::remedies::remeasure_for_reply(conn, &next, &cal, (env.now, actor, ctx))?;
    }
    super::office::raise(conn, &next.id, &flags, env.now)?;
    let mut v = RequestView::new(next);
    v.agency_code = Some(code);
    let look = super::office::Look {
        calendar: Some(cal),
        cache: env.calendar.clone(),
        today: env.today,
        thresholds: env.thresholds,
    };
    detail(conn, &mut v, &look)?;
    Ok(v)
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
    let now_db = state.now_micros();
    let look = super::office::Look::of(state);
    state
        .in_transaction(move |conn| {
            let (app, code) = handled(conn, &actor, &id)?;
            let expected = if_match.ok_or(AppError::PreconditionRequired)?;
            if expected != app.version {
                return Err(AppError::PreconditionFailed);
            }
            let details = crate::domain::request::patch_details(app.state(), &app.details, &patch)
                .map_err(|e| match e {
                    PatchError::Closed => AppError::conflict(
                        "application_closed",
                        crate::text!(
                            "已办结申请的登记信息已归档，不能修改",
                            "a closed application's intake details are part of the record"
                        ),
                    ),
                    PatchError::Invalid(errors) => AppError::Validation(errors),
                })?;
            if details.external_reference != app.details.external_reference
                && let Some(ext) = &details.external_reference
                && db::requests::find_by_external_reference(conn, &app.agency_id, ext)?.is_some()
            {
                return Err(AppError::conflict(
                    "external_reference_taken",
                    reference_taken(),
                ));
            }
            let next = app.correct_details(details, now_db);
            // The applicant kind is a column of the report: a counted record stays as published.
            super::reports::ensure_figures_unchanged(conn, &next.agency_id, |y| {
                (
                    report::counted_cells(&counted(&app), y),
                    report::counted_cells(&counted(&next), y),
                )
            })?;
            if !db::requests::save(conn, &next, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            event(
                conn,
                false,
                &next,
                Some(&actor),
                "intake_corrected",
                None,
                Some(app.state()),
                json!({"before": trail_details(&app.details), "after": trail_details(&next.details)}),
                &ctx,
            )?;
            let mut v = RequestView::new(next);
            v.agency_code = Some(code);
            detail(conn, &mut v, &look)?;
            Ok(v)
        })
        .await
}

/// Intake details as a trail keeps them: identity numbers and credit codes masked as lists
/// show them. The trail is read by everyone who sees the application and is never corrected
/// itself, so a number corrected later must not stay in it in full; the application's detail
/// keeps the current one.
fn trail_details(d: &crate::domain::request::IntakeDetails) -> Value {
    let mut d = d.clone();
    d.applicant.mask_numbers();
    serde_json::to_value(d).unwrap_or(Value::Null)
}

pub async fn events(
    state: &AppState,
    actor: Actor,
    id: String,
) -> Result<Vec<TrailEvent>, AppError> {
    state
        .with_conn(move |conn| {
            let (app, _) = visible(conn, &actor, &id)?;
            Ok(db::requests::events(conn, &app.id)?
                .into_iter()
                .map(TrailEvent::from)
                .collect())
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
            let (app, code) = visible(conn, &actor, &id)?;
            let cal = cache.current(conn)?;
            let mut d = app.deadline(&cal, today).map_err(refusal)?;
            super::notices::trace_notices(conn, &app.id, &mut d)?;
            let mut v = RequestView::new(app);
            v.agency_code = Some(code);
            Ok((v, d))
        })
        .await
}

/// Re-times every application whose period touches a day of `[from, to]` (a calendar year
/// that was loaded or changed): due date, its provisional flag and, for closed applications,
/// whether the reply was late. Each change is saved with a new version and a `retimed` trail
/// event, so lists, the dashboard and `/deadline` agree. Lateness is no report cell: published
/// figures do not move. Returns how many changed.
pub fn retime_touching(
    conn: &mut DbConnection,
    cal: &Calendar,
    today: NaiveDate,
    (from, to): (NaiveDate, NaiveDate),
    now: NaiveDateTime,
    ctx: &RequestContext,
) -> Result<u64, AppError> {
    let mut changed = 0;
    for app in db::requests::timed_within(conn, from, to)? {
        let mut next = app.clone();
        if !next.retime(cal, today).map_err(refusal)? {
            continue;
        }
        next.version += 1;
        next.updated_at = now;
        if !db::requests::save(conn, &next, app.version)? {
            return Err(AppError::Unavailable(anyhow::anyhow!(
                "application {} changed while the calendar was re-timing it; retry",
                app.id
            )));
        }
        event(
            conn,
            false,
            &next,
            None,
            "retimed",
            None,
            Some(app.state()),
            json!({
                "calendar_year": from.year(),
                "due_date_before": app.due_date,
                "due_date_after": next.due_date,
                "late_before": app.late(),
                "late_after": next.late(),
            }),
            ctx,
        )?;
        changed += 1;
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
    /// Last year's reports not yet published in the caller's scope (at most
    /// [`UNPUBLISHED_LISTED`]), with their deadlines.
    pub unpublished_reports: Vec<UnpublishedReport>,
    pub unpublished_reports_total: i64,
    /// Open applications by department and holder, and applications by flag.
    pub office: super::office::HolderCounts,
}

/// An agency whose report of last year has no published version.
pub struct UnpublishedReport {
    pub agency_id: String,
    pub agency_code: String,
    pub agency_name: String,
    pub year: i32,
    /// The last day to publish (art. 49).
    pub deadline: NaiveDate,
    /// Calendar days left; negative: overdue by that many days.
    pub days_left: i64,
}

/// How many unpublished reports the dashboard lists.
pub const UNPUBLISHED_LISTED: i64 = 200;

pub async fn dashboard(state: &AppState, actor: Actor) -> Result<Dashboard, AppError> {
    let cache = state.calendar.clone();
    let risk_days = super::office::thresholds(state).reply_risk_working_days;
    let today = state.today();
    state
        .with_conn(move |conn| {
            let vis = actor.visibility();
            let cal = cache.current(conn)?;
            let until = cal.add_working_days(today, 3).unwrap_or(today);
            let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
            let last_year = today.year() - 1;
            let (unpublished, unpublished_reports_total) =
                db::reports::unpublished(conn, &vis, last_year, UNPUBLISHED_LISTED)?;
            let scope = db::requests::resolve(conn, &vis)?;
            let risk_before = cal.add_working_days(today, risk_days).unwrap_or(today);
            let office = super::office::holder_counts(conn, &scope, risk_before)?;
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
                unpublished_reports: unpublished
                    .into_iter()
                    .map(|a| {
                        let kind = ReportKind::parse(&a.report_kind).unwrap_or_default();
                        let deadline = publication::deadline(last_year, kind);
                        UnpublishedReport {
                            agency_id: a.id,
                            agency_code: a.code,
                            agency_name: a.name,
                            year: last_year,
                            deadline,
                            days_left: publication::days_left(today, deadline),
                        }
                    })
                    .collect(),
                unpublished_reports_total,
                office,
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
    public_rate_limit(state, client).await?;
    state
        .with_conn(move |conn| {
            let r = public_application(conn, &case_number, &query_code)?;
            Ok(PublicStatus {
                state: r.state().code().to_string(),
                receipt_date: r.receipt_date(),
                due_date: r.due_date,
                replied_on: r.closed_on(),
                case_number: r.case_number,
            })
        })
        .await
}

/// Counts a public look-up of this client address against the limit shared by every process
/// (the status and the applicant's notices alike).
pub(crate) async fn public_rate_limit(state: &AppState, client: String) -> Result<(), AppError> {
    let wall = state.clock;
    state
        .in_transaction(move |conn| {
            let window = wall.unix() / 60;
            if db::requests::rate_limit_hit(conn, &format!("public_status:{client}"), window)?
                > PUBLIC_STATUS_PER_MINUTE
            {
                return Err(AppError::TooManyRequests {
                    retry_after_secs: 60,
                });
            }
            Ok(())
        })
        .await
}

/// The application of a case number and query code; a wrong pair and an unknown case look the
/// same (404), and the code is compared in constant time.
pub(crate) fn public_application(
    conn: &mut DbConnection,
    case_number: &str,
    query_code: &str,
) -> Result<Application, AppError> {
    // Case numbers are upper case (agency codes are stored upper-cased, the rest is digits and
    // hyphens): one typed in lower case is the same number, as with query codes.
    match db::requests::find_by_case_number(conn, &case_number.trim().to_ascii_uppercase())? {
        Some(r)
            if constant_time_eq(
                r.query_code.as_bytes(),
                query_code.trim().to_ascii_uppercase().as_bytes(),
            ) =>
        {
            Ok(r)
        }
        _ => Err(AppError::NotFound(crate::text!("申请", "application"))),
    }
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
