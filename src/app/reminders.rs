//! Reminders to the holder of an application: its due date within a few working days, a
//! window (correction, consultation, payment) ending on the next working day, a hand-over to a
//! department not claimed after a working day. Every server process runs the scheduler; each
//! reminder is one row keyed by (application, kind, occasion), so whichever process finds it
//! first records it (with its change-feed event, in one transaction) and the others find it
//! there. Sending is leased like webhook deliveries: a process takes a pending reminder by a
//! conditional update before it sends it. Nothing is looked at or sent on a non-working day.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::json;

use super::mailer::{Mail, Mailer};
use super::office::working_days_left;
use super::{AppError, AppState};
use crate::db::office::ReminderRow;
use crate::db::{self, DbConnection};
use crate::domain::calendar::Calendar;
use crate::domain::office::Holder;
use crate::domain::request::{Application, State};

/// Attempts before a reminder is given up (`failed`).
pub const MAX_ATTEMPTS: i32 = 5;
/// How long a process holds a reminder it is sending.
const LEASE_SECS: i64 = 120;

/// One reminder due now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// `due_soon`, `window_ending` or `unclaimed`.
    pub kind: &'static str,
    /// What it is about: a new occasion (a later due date, another hand-over) is a new
    /// reminder.
    pub occasion: String,
    pub subject: String,
    pub body: String,
}

/// The reminders an open, held application calls for today (a working day).
/// `since_local`: when the current holder received it, in the agency's time zone; `now_local`:
/// the instant of the scan there.
pub fn due_for(
    app: &Application,
    holder: &Holder,
    cal: &Calendar,
    (today, now_local): (NaiveDate, NaiveDateTime),
    since_local: Option<NaiveDateTime>,
    within: u32,
) -> Vec<Due> {
    let mut out = Vec::new();
    if !app.state().is_open() || holder.is_unassigned() {
        return out;
    }
    let case = &app.case_number;
    if let Some(due) = app.due_date
        && let Some(left) = working_days_left(cal, today, due)
        && (0..=i64::from(within)).contains(&left)
    {
        out.push(Due {
            kind: "due_soon",
            occasion: due.to_string(),
            subject: format!("【政府信息公开】申请 {case} 将于 {due} 答复期限届满（剩 {left} 个工作日）"),
            body: format!(
                "申请 {case} 的答复期限于 {due} 届满，距今还有 {left} 个工作日。请及时办理答复并送达申请人。\n\nApplication {case} is due on {due}, {left} working days from today."
            ),
        });
    }
    if let Ok(next_working) = cal.add_working_days(today, 1)
        && let Ok(d) = app.deadline(cal, today)
    {
        let window = match app.state() {
            State::Processing if d.correction_reply_by.is_none() => d
                .correction_window_end
                .map(|e| ("correction_window_end", e, "补正告知期限（7 个工作日）")),
            State::AwaitingCorrection => d
                .correction_reply_by
                .map(|e| ("correction_reply_by", e, "申请人补正期限")),
            State::Consulting => d
                .consultation_window_end
                .map(|e| ("consultation_window_end", e, "征求意见期限（15 个工作日）")),
            State::AwaitingPayment => d
                .payment_window_end
                .map(|e| ("payment_window_end", e, "缴费期限（20 个工作日）")),
            _ => None,
        };
        if let Some((code, end, label)) = window
            && end == next_working
        {
            out.push(Due {
                kind: "window_ending",
                occasion: format!("{code}:{end}"),
                subject: format!("【政府信息公开】申请 {case} 的{label}于下一个工作日（{end}）届满"),
                body: format!(
                    "申请 {case} 的{label}于 {end} 届满。请在届满前办理下一步（{code}）。\n\nApplication {case}: the window {code} ends on {end}, the next working day."
                ),
            });
        }
    }
    // Unclaimed for a whole working day: the same time of day on the next working day has
    // passed (a hand-over at 17:55 is reminded of at 17:55 the next working day, not at 0:00).
    if holder.awaiting_claim()
        && let Some(since) = since_local
        && let Ok(next) = cal.add_working_days(since.date(), 1)
        && (today > next || (today == next && now_local.time() >= since.time()))
        && let Some(stamp) = holder.since
    {
        out.push(Due {
            kind: "unclaimed",
            occasion: stamp.and_utc().timestamp_micros().to_string(),
            subject: format!("【政府信息公开】申请 {case} 已交办贵处室，尚未签收"),
            body: format!(
                "申请 {case} 于 {} 交办贵处室，至今已超过一个工作日未签收。请及时签收办理。\n\nApplication {case} was handed to your department and has not been claimed for more than a working day.",
                since.date()
            ),
        });
    }
    out
}

/// The addresses of a holder: the person's, or the department's active members' with a
/// handling role.
fn recipients(conn: &mut DbConnection, h: &Holder) -> Result<Vec<String>, AppError> {
    if let Some(u) = &h.user_id {
        return Ok(db::users::find(conn, u)?
            .filter(|u| !u.disabled)
            .and_then(|u| u.email)
            .into_iter()
            .collect());
    }
    let Some(d) = &h.department_id else {
        return Ok(Vec::new());
    };
    Ok(db::office::members(conn, d)?
        .into_iter()
        .filter(|(_, _, roles, disabled, _)| {
            let r = crate::domain::access::Roles::from_stored(roles);
            !disabled
                && (r.contains(crate::domain::access::Role::Clerk)
                    || r.contains(crate::domain::access::Role::Approver)
                    || r.contains(crate::domain::access::Role::Admin))
        })
        .filter_map(|(_, _, _, _, email)| email)
        .collect())
}

/// Held applications read per page of a scan.
const SCAN_PAGE: i64 = 500;

/// Looks for reminders due today and records the new ones, each with its feed event in its own
/// short transaction (a scan never holds the database's write lock for long, and one bad row
/// costs only its own reminder). Returns how many this process recorded.
pub async fn scan_once(state: &AppState) -> Result<usize, AppError> {
    let cache = state.calendar.clone();
    let today = state.today();
    let tz = state.tz;
    let now = state.now_micros();
    let now_local = state.now().with_timezone(&tz).naive_local();
    let within = state.settings.reminders.due_within_working_days;
    let mail_on = state.settings.notifications.enabled();
    let cal = {
        let cache = cache.clone();
        state.with_conn(move |conn| cache.current(conn)).await?
    };
    if !cal.is_working_day(today).unwrap_or(false) {
        return Ok(0);
    }
    let mut recorded = 0;
    let mut after = String::new();
    loop {
        let from = after.clone();
        let page = state
            .with_conn(move |conn| Ok(db::office::held_open(conn, &from, SCAN_PAGE)?))
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.0.id.clone();
        let full = i64::try_from(page.len()).unwrap_or(0) == SCAN_PAGE;
        for (core, details, workflow, holder) in page {
            let id = core.id.clone();
            let app = match db::requests::from_row(db::requests::RequestRow {
                core,
                details,
                workflow,
            }) {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(request = %id, error = %e, "reminders: application unreadable; skipped");
                    continue;
                }
            };
            let holder: Holder = holder.into();
            let since_local = holder
                .since
                .map(|s| s.and_utc().with_timezone(&tz).naive_local());
            for due in due_for(&app, &holder, &cal, (today, now_local), since_local, within) {
                let (app, holder) = (app.clone(), holder.clone());
                match state
                    .in_transaction(move |conn| record(conn, &app, &holder, due, now, mail_on))
                    .await
                {
                    Ok(true) => recorded += 1,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(request = %id, error = %e, "reminders: not recorded"),
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(recorded)
}

fn record(
    conn: &mut DbConnection,
    app: &Application,
    holder: &Holder,
    due: Due,
    now: NaiveDateTime,
    mail_on: bool,
) -> Result<bool, AppError> {
    let to = recipients(conn, holder)?;
    let status = if !mail_on {
        "mail_off"
    } else if to.is_empty() {
        "no_recipient"
    } else {
        "pending"
    };
    let row = ReminderRow {
        id: uuid::Uuid::new_v4().to_string(),
        request_id: app.id.clone(),
        kind: due.kind.to_string(),
        occasion: due.occasion.clone(),
        agency_id: app.agency_id.clone(),
        holder_user_id: holder.user_id.clone(),
        holder_department_id: holder.department_id.clone(),
        recipients: json!(to).to_string(),
        subject: due.subject.clone(),
        body: due.body,
        created_at: now,
        status: status.to_string(),
        attempts: 0,
        next_attempt_at: now,
        lease_until: None,
        sent_at: None,
        last_error: None,
    };
    if !db::office::record_reminder(conn, &row)? {
        return Ok(false);
    }
    super::feed::publish(
        conn,
        now,
        super::feed::Event {
            agency_id: app.agency_id.clone(),
            entity_type: "application".into(),
            entity_id: app.id.clone(),
            request_id: Some(app.id.clone()),
            event_type: "application.reminder".into(),
            // The shape of every application event (`ApplicationEventData`): the reminder in
            // `details`.
            payload: json!({
                "case_number": app.case_number,
                "external_reference": app.details.external_reference,
                "action": "reminder",
                "on_date": null,
                "state_before": app.state().code(),
                "state": app.state().code(),
                "receipt_date": app.receipt_date(),
                "due_date": app.due_date,
                "disposition": app.disposition().map(|d| d.code()),
                "closed_on": app.closed_on(),
                "version": app.version,
                "details": {
                    "reminder_id": row.id,
                    "kind": row.kind,
                    "occasion": row.occasion,
                    "subject": row.subject,
                    "mail": status,
                    "to": {
                        "user_id": holder.user_id,
                        "department_id": holder.department_id,
                    },
                },
            }),
        },
    )?;
    Ok(true)
}

/// How long a process holds a reminder it is sending: longer than the worst SMTP exchange
/// (each of its few commands may take the whole timeout).
fn lease_secs(state: &AppState) -> i64 {
    let timeout = i64::try_from(state.settings.notifications.smtp_timeout_secs).unwrap_or(60);
    LEASE_SECS.max(timeout.saturating_mul(8).saturating_add(30))
}

/// Sends what is pending and due, one reminder at a time: each is leased by this process just
/// before it is sent, and its outcome is written only while that lease holds, so another
/// process never sends it again meanwhile. Returns how many were sent.
pub async fn send_due(
    state: &AppState,
    mailer: &std::sync::Arc<Mailer>,
) -> Result<usize, AppError> {
    let clock = state.clock;
    let lease = chrono::Duration::seconds(lease_secs(state));
    let due = state
        .with_conn(move |conn| Ok(db::office::due_reminders(conn, clock.now_micros(), 50)?))
        .await?;
    let mut sent = 0;
    for r in due {
        let id = r.id.clone();
        let until = state
            .with_conn(move |conn| {
                let now = clock.now_micros();
                let until = now + lease;
                Ok(db::office::claim_reminder(conn, &id, now, until)?.then_some(until))
            })
            .await?;
        let Some(until) = until else {
            continue;
        };
        let to: Vec<String> = serde_json::from_str(&r.recipients).unwrap_or_default();
        let mail = Mail {
            to,
            subject: r.subject.clone(),
            body: r.body.clone(),
        };
        let m = mailer.clone();
        let outcome = tokio::task::spawn_blocking(move || m.send(&mail))
            .await
            .map_err(AppError::internal)?;
        let now = clock.now_micros();
        let attempts = r.attempts + 1;
        let id = r.id.clone();
        let (status, next, sent_at, error) = match outcome {
            Ok(()) => {
                sent += 1;
                ("sent", now, Some(now), None)
            }
            Err(e) => {
                let error = e.to_string();
                tracing::warn!(reminder = %r.id, attempts, error = %error, "reminder not sent");
                // An address the mailer refuses will not become valid by waiting.
                let permanent = matches!(
                    e,
                    super::mailer::MailError::InvalidAddress { .. }
                        | super::mailer::MailError::NoRecipients
                );
                if permanent || attempts >= MAX_ATTEMPTS {
                    ("failed", now, None, Some(error))
                } else {
                    // 1, 2, 4, 8 minutes.
                    let wait = 60i64 << (attempts - 1).clamp(0, 6);
                    (
                        "pending",
                        now + chrono::Duration::seconds(wait),
                        None,
                        Some(error),
                    )
                }
            }
        };
        state
            .with_conn(move |conn| {
                Ok(db::office::reminder_outcome(
                    conn,
                    &id,
                    until,
                    status,
                    attempts,
                    next,
                    sent_at,
                    error.as_deref(),
                )?)
            })
            .await?;
    }
    Ok(sent)
}

/// The scheduler of one process: a scan and a sending round every `reminders.interval_secs`,
/// on working days only.
pub async fn run_scheduler(state: AppState) {
    let interval = Duration::from_secs(state.settings.reminders.interval_secs.max(1));
    let mailer = match Mailer::from_settings(&state.settings.notifications) {
        Ok(m) => m.map(std::sync::Arc::new),
        Err(e) => {
            tracing::error!(error = %e, "reminders: e-mail settings unusable; reminders are recorded, not mailed");
            None
        }
    };
    loop {
        match scan_once(&state).await {
            Ok(n) if n > 0 => tracing::info!(recorded = n, "reminders recorded"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reminders: scan failed"),
        }
        if let Some(m) = &mailer
            && is_working_day(&state).await
            && let Err(e) = send_due(&state, m).await
        {
            tracing::warn!(error = %e, "reminders: sending failed");
        }
        tokio::time::sleep(interval).await;
    }
}

async fn is_working_day(state: &AppState) -> bool {
    let cache = state.calendar.clone();
    let today = state.today();
    state
        .with_conn(move |conn| Ok(cache.current(conn)?.is_working_day(today).unwrap_or(false)))
        .await
        .unwrap_or(false)
}

/// A reminder as the API shows it.
pub type ReminderView = ReminderRow;

pub async fn of_request(
    state: &AppState,
    actor: crate::domain::access::Actor,
    id: String,
) -> Result<Vec<ReminderView>, AppError> {
    state
        .with_conn(move |conn| {
            let (app, _) = super::requests::visible(conn, &actor, &id)?;
            Ok(db::office::reminders_of(conn, &app.id)?)
        })
        .await
}
