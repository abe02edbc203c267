//! The application aggregate (政府信息公开申请): what was registered, the legal record, the
//! due date the clock gives, and the version that guards concurrent writers. The db layer
//! loads and saves it whole; every change goes through its methods.

use chrono::{NaiveDate, NaiveDateTime};

use super::actions::{self, Action, ActionContext, Refusal};
use super::workflow::Workflow;
use super::{ApplicantKind, Channel, IntakeDetails, NewRequest, State};
use crate::domain::calendar::Calendar;
use crate::domain::clock::{self, Deadline};
use crate::domain::disposition::Disposition;

/// One application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: String,
    pub agency_id: String,
    /// `<agency code>-<year>-<6 digits>`, gapless per agency and year.
    pub case_number: String,
    pub case_year: i32,
    pub case_seq: i32,
    /// Given to the applicant for the public status look-up.
    pub query_code: String,
    pub channel: Channel,
    /// When it physically arrived (UTC, microseconds).
    pub arrived_at: NaiveDateTime,
    /// The local calendar date of the arrival.
    pub arrival_date: NaiveDate,
    pub signed_for_on: Option<NaiveDate>,
    pub confirmed_on: Option<NaiveDate>,
    pub details: IntakeDetails,
    pub workflow: Workflow,
    /// 答复期限届满日 as the clock gave it at the last change (or calendar reload).
    pub due_date: Option<NaiveDate>,
    /// The due date relies on a year with no loaded calendar.
    pub due_provisional: bool,
    /// Incremented by every change; clients send it back as `If-Match`.
    pub version: i32,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Who registers an application, where and when: everything intake needs besides the parsed
/// [`NewRequest`].
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: String,
    pub agency_id: String,
    pub agency_code: String,
    pub case_seq: i32,
    pub query_code: String,
    pub arrived_at: NaiveDateTime,
    pub created_by: Option<String>,
    pub now: NaiveDateTime,
}

/// `<agency code>-<year>-<6 digits>`.
fn case_number(agency_code: &str, year: i32, seq: i32) -> String {
    format!("{agency_code}-{year}-{seq:06}")
}

impl Application {
    /// A new application, timed by the clock. The case year is the arrival's year.
    pub fn register(
        new: NewRequest,
        reg: Registration,
        cal: &Calendar,
        today: NaiveDate,
    ) -> Result<Application, Refusal> {
        use chrono::Datelike;
        let year = new.arrival_date.year();
        let mut a = Application {
            id: reg.id,
            agency_id: reg.agency_id,
            case_number: case_number(&reg.agency_code, year, reg.case_seq),
            case_year: year,
            case_seq: reg.case_seq,
            query_code: reg.query_code,
            channel: new.channel,
            arrived_at: reg.arrived_at,
            arrival_date: new.arrival_date,
            signed_for_on: new.signed_for_on,
            confirmed_on: new.confirmed_on,
            details: new.details,
            workflow: new.workflow,
            due_date: None,
            due_provisional: false,
            version: 1,
            created_by: reg.created_by,
            created_at: reg.now,
            updated_at: reg.now,
        };
        a.retime(cal, today)?;
        Ok(a)
    }

    /// Gives the application its case number. Intake registers it with number 0 and numbers
    /// it near the end of its transaction, before its row is written (`app::requests::create`);
    /// the bulk import numbers each line from the agency's next free number (`app::bulk`).
    pub fn number(&mut self, agency_code: &str, seq: i32) {
        self.case_seq = seq;
        self.case_number = case_number(agency_code, self.case_year, seq);
    }

    pub fn state(&self) -> State {
        self.workflow.state
    }

    pub fn applicant_kind(&self) -> ApplicantKind {
        self.details.applicant.kind
    }

    /// 收到申请之日; `None` while awaiting confirmation.
    pub fn receipt_date(&self) -> Option<NaiveDate> {
        self.workflow.clock.receipt_date
    }

    pub fn closed_on(&self) -> Option<NaiveDate> {
        self.workflow.clock.closed_on
    }

    pub fn disposition(&self) -> Option<Disposition> {
        self.workflow.disposition()
    }

    /// Replied after the due date.
    pub fn late(&self) -> bool {
        self.workflow.late()
    }

    /// Open and past its due date on `today`.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.state().is_open() && self.due_date.is_some_and(|d| today > d)
    }

    /// The deadline the clock gives now, with its trace.
    pub fn deadline(&self, cal: &Calendar, today: NaiveDate) -> Result<Deadline, Refusal> {
        let mut d =
            clock::compute(&self.workflow.clock, cal, today).map_err(|e| Refusal::Conflict {
                code: "clock_inconsistent",
                message: crate::domain::text::Text::english(e.to_string()),
            })?;
        if let Some(reply) = &self.workflow.reply {
            remedy_steps(&mut d, reply, cal);
        }
        Ok(d)
    }

    /// Recomputes the stored due date and, once closed, the lateness of the reply (after a
    /// step, or when the calendar changed). Returns whether either changed.
    pub fn retime(&mut self, cal: &Calendar, today: NaiveDate) -> Result<bool, Refusal> {
        let d = self.deadline(cal, today)?;
        let late = self.workflow.reply.as_ref().map(|_| d.late);
        let changed = d.due_date != self.due_date
            || d.provisional != self.due_provisional
            || late.is_some_and(|l| l != self.late());
        self.due_date = d.due_date;
        self.due_provisional = d.provisional;
        if let (Some(reply), Some(late)) = (self.workflow.reply.as_mut(), late) {
            reply.late = late;
        }
        Ok(changed)
    }

    /// Applies one statutory step dated `on`: the new application (version + 1, re-timed), or
    /// why the law does not allow it.
    pub fn act(
        &self,
        on: NaiveDate,
        action: &Action,
        ctx: &ActionContext<'_>,
        now: NaiveDateTime,
    ) -> Result<Application, Refusal> {
        let workflow = actions::apply(&self.workflow, on, action, ctx)?;
        let mut next = self.clone();
        next.workflow = workflow;
        if matches!(action, Action::ConfirmReceipt) {
            next.confirmed_on = Some(on);
        }
        next.retime(ctx.calendar, ctx.today)?;
        next.version += 1;
        next.updated_at = now;
        Ok(next)
    }

    /// Replaces the intake details (a correction that never touches the clock).
    pub fn correct_details(&self, details: IntakeDetails, now: NaiveDateTime) -> Application {
        let mut next = self.clone();
        next.details = details;
        next.version += 1;
        next.updated_at = now;
        next
    }
}

/// Which applications a list shows (every field optional; all given must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Any of these states (none: all).
    pub states: Vec<State>,
    pub channel: Option<Channel>,
    pub applicant_kind: Option<ApplicantKind>,
    /// Receipt date on or after.
    pub received_from: Option<NaiveDate>,
    /// Receipt date on or before.
    pub received_to: Option<NaiveDate>,
    /// Due date before this day.
    pub due_before: Option<NaiveDate>,
    /// Overdue (true) or not (false) on the given day.
    pub overdue_on: Option<(bool, NaiveDate)>,
    pub late: Option<bool>,
    pub disposition: Option<Disposition>,
    pub external_reference: Option<String>,
    /// Part of the case number, applicant name or description.
    pub q: Option<String>,
    /// Only this agency (within the caller's scope).
    pub agency_id: Option<String>,
    /// Carrying this flag (one of [`crate::domain::office::FLAG_CODES`]).
    pub flag: Option<String>,
    /// `reply_at_risk`: open, due before this day (today plus the setting's working days), no
    /// reply letter; set by the use case from the calendar.
    pub reply_risk_before: Option<NaiveDate>,
}

/// How a list is ordered; ties break on the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Received,
    Due,
    Created,
    CaseNumber,
}

impl SortKey {
    pub const ALL: [SortKey; 4] = [
        SortKey::Received,
        SortKey::Due,
        SortKey::Created,
        SortKey::CaseNumber,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SortKey::Received => "received",
            SortKey::Due => "due",
            SortKey::Created => "created",
            SortKey::CaseNumber => "case_number",
        }
    }

    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// The applicant's review and litigation limits after the reply, in the trace: counted from the
/// reply's recorded service, else from its date (provisional).
fn remedy_steps(d: &mut Deadline, reply: &super::workflow::ReplyRecord, cal: &Calendar) {
    use crate::domain::remedy::{self, ActFacts};
    let facts = ActFacts {
        reply_on: Some(reply.on),
        reply_served_on: reply.served_on,
        reply_disposition: Some(reply.disposition.code()),
        ..ActFacts::default()
    };
    let basis = match reply.served_on {
        Some(s) => crate::text!("答复于{s}送达", "the reply was served on {s}"),
        None => crate::text!(
            "送达日期未记录，暂按答复日期{}计算，结果为暂定",
            "service not recorded: counted from the reply's date, {}, provisionally",
            reply.on
        ),
    };
    let review_first = remedy::review_first_required(
        remedy::RemedyKind::Litigation,
        &remedy::Case {
            applicant_name: String::new(),
            body_name: String::new(),
            filed_on: reply.on,
            received_on: None,
            act_known_on: None,
            decision: None,
            decided_on: None,
            decision_served_on: None,
            notes: None,
            route: Some(remedy::Route::Direct),
            instance: None,
        },
        &facts,
    );
    for (l, article) in remedy::limits_after_reply(&facts, cal) {
        let (rule, (what_zh, what_en)) = if l.rule == "review_60_days" {
            (
                "remedy.review",
                (
                    "申请人可自知道该答复之日起60日内申请行政复议",
                    "the applicant may apply for administrative review within 60 days of learning of the reply",
                ),
            )
        } else if review_first {
            (
                "remedy.litigation",
                (
                    "对不予公开的答复须先申请行政复议（《行政复议法》第二十三条），不得直接起诉",
                    "a refusal to disclose goes to review before a suit (Administrative Reconsideration Law art. 23)",
                ),
            )
        } else {
            (
                "remedy.litigation",
                (
                    "申请人可自知道该答复之日起6个月内提起行政诉讼",
                    "the applicant may sue within 6 months of learning of the reply",
                ),
            )
        };
        let no_direct_suit = rule == "remedy.litigation" && review_first;
        let step = u32::try_from(d.trace.len() + 1).unwrap_or(u32::MAX);
        let end = l.deadline;
        d.trace.push(clock::TraceStep::new(
            step,
            rule,
            (
                Some(l.starts_on),
                (!no_direct_suit).then_some(l.deadline),
                None,
            ),
            if no_direct_suit {
                crate::domain::text::Text::new(what_zh, what_en)
            } else {
                crate::domain::text::Text::new(
                    format!("{what_zh}；{}；期限至{end}", basis.zh().unwrap_or_default()),
                    format!("{what_en}; {}; the limit ends on {end}", basis.en()),
                )
            },
            Some(if no_direct_suit {
                "《中华人民共和国行政复议法》第二十三条"
            } else {
                article
            }),
        ));
    }
}
