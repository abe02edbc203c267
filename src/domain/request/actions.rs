//! The statutory steps of §5 as typed commands, and one small pure function per step.
//!
//! [`apply`] checks what every step shares (the state it may start from, its date) and hands
//! the step to its own function, which checks the step's guard of §4–§6 and returns the new
//! [`Workflow`] or a [`Refusal`] with a stable code.

use chrono::NaiveDate;

use super::State;
use super::workflow::{Consultation, FeeRecord, Opinion, Party, ReplyRecord, Workflow};
use crate::domain::calendar::Calendar;
use crate::domain::clock::{
    self, CONSULTATION_WINDOW, CorrectionFacts, DeadlineOverride, Extension, PAYMENT_WINDOW, Pause,
    PauseKind, Regime,
};
use crate::domain::disposition::Disposition;
use crate::domain::fees::{self, FeeBasis};
use crate::domain::text::Text;
use crate::domain::validation::{Errors, FieldError, optional_text, text};
use crate::text;

/// A statutory step, parsed: each variant carries exactly its fields, already valid as values
/// (texts trimmed and bounded, amounts positive); whether the law allows it now is [`apply`]'s
/// question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 确认收到 (art. 31): sets the receipt date.
    ConfirmReceipt,
    /// 补正告知 (art. 30).
    RequestCorrection {
        items: Vec<String>,
        reply_by: NaiveDate,
    },
    /// The corrected application arrived: the clock restarts.
    ReceiveCorrection,
    /// 征求意见 (art. 32, 34), with the day the consulted party received the letter if known.
    StartConsultation {
        party: Party,
        whom: String,
        received_on: Option<NaiveDate>,
    },
    /// The reply was served on the applicant on this day (送达), recorded after the reply.
    RecordReplyService {
        served_on: NaiveDate,
    },
    /// The consulted party received the letter on this day: its 15 working days run from it.
    RecordConsultationReceipt {
        received_on: NaiveDate,
    },
    EndConsultation {
        opinion: Opinion,
    },
    /// 收费通知 (fee Measures), with the day the applicant received it if known.
    IssueFeeNotice {
        basis: FeeBasis,
        amount_fen: i64,
        pages: Option<u32>,
        received_on: Option<NaiveDate>,
    },
    /// The applicant received the fee notice on this day: the 20 working days to pay run from
    /// the day after.
    RecordFeeNoticeReceipt {
        received_on: NaiveDate,
    },
    RecordPayment {
        amount_fen: i64,
    },
    WaiveFee {
        reason: String,
    },
    /// 延期答复 (art. 33).
    Extend {
        days: u32,
        reason: String,
    },
    /// A longer reply period for numerous applications (art. 35).
    OverrideDeadline {
        due_date: NaiveDate,
        reason: String,
    },
    /// 答复 (art. 36) with a disposition of §6.
    Reply(ReplyInput),
    CloseUncorrected,
    CloseUnpaid,
    Withdraw {
        reason: Option<String>,
    },
}

/// What a reply records (§6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyInput {
    pub disposition: Disposition,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
    pub provision: Option<String>,
    pub responsible_agency: Option<String>,
    /// The id of the earlier application (`not_processed.repeated`); the use case checks that
    /// it exists and may be seen.
    pub repeats_request_id: Option<String>,
    /// Disclosure over a third party's objection (art. 32): why withholding would seriously
    /// harm the public interest, and the written notice telling the third party.
    pub objection_override: Option<ObjectionOverride>,
    /// The day the reply was served on the applicant, when known at recording.
    pub served_on: Option<NaiveDate>,
}

/// Disclosure although the consulted third party objected (art. 32): allowed only when
/// withholding would seriously harm the public interest, and the third party is told in writing
/// what is disclosed and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectionOverride {
    /// Why withholding would seriously harm the public interest.
    pub public_interest_reason: String,
    /// The day the written notice went to the third party.
    pub notice_sent_on: NaiveDate,
    /// What the notice says will be disclosed.
    pub disclosed: String,
}

/// The name of each step, as in the API paths: `/requests/{id}/actions/{name}`.
pub const ACTIONS: [&str; 17] = [
    "confirm_receipt",
    "request_correction",
    "receive_correction",
    "start_consultation",
    "record_consultation_receipt",
    "end_consultation",
    "issue_fee_notice",
    "record_fee_notice_receipt",
    "record_payment",
    "waive_fee",
    "extend",
    "override_deadline",
    "reply",
    "close_uncorrected",
    "close_unpaid",
    "withdraw",
    "record_reply_service",
];

fn collect<T>(e: Errors, v: Option<T>) -> Result<T, Vec<FieldError>> {
    match v {
        Some(v) if e.is_empty() => Ok(v),
        _ => Err(e.into_vec()),
    }
}

/// A letter is received on or after the day it was sent.
fn check_received(e: &mut Errors, sent: NaiveDate, received_on: Option<NaiveDate>) {
    if received_on.is_some_and(|r| r < sent) {
        e.push(FieldError::new(
            "received_on",
            "before_sending",
            text!(
                "不能早于信件发出之日",
                "must not be before the day the letter was sent"
            ),
        ));
    }
}

fn reason_text(e: &mut Errors, reason: &str) -> Option<String> {
    e.take(text("reason", reason, 4000, true))
}

/// Validating constructors: typed values in, a valid [`Action`] or the bad fields out.
impl Action {
    pub fn request_correction(
        on: NaiveDate,
        items: &[String],
        reply_by: NaiveDate,
    ) -> Result<Action, Vec<FieldError>> {
        let mut e = Errors::new();
        if items.is_empty() {
            e.push(FieldError::new(
                "items",
                "required",
                text!("请列出需要补正的全部事项", "list everything to correct"),
            ));
        }
        if items.len() > 100 {
            e.push(FieldError::new(
                "items",
                "too_many",
                text!("至多 100 项", "at most 100 items"),
            ));
        }
        let items: Vec<String> = items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| e.take(text(&format!("items[{i}]"), it, 1000, true)))
            .collect();
        if reply_by <= on {
            e.push(FieldError::new(
                "reply_by",
                "not_after_on",
                text!("须晚于告知日期", "must be after the notice date"),
            ));
        }
        collect(e, Some(Action::RequestCorrection { items, reply_by }))
    }

    pub fn start_consultation(
        on: NaiveDate,
        party: Party,
        whom: &str,
        received_on: Option<NaiveDate>,
    ) -> Result<Action, Vec<FieldError>> {
        let mut e = Errors::new();
        let whom = e.take(text("whom", whom, 200, false));
        check_received(&mut e, on, received_on);
        collect(
            e,
            whom.map(|whom| Action::StartConsultation {
                party,
                whom,
                received_on,
            }),
        )
    }

    pub fn issue_fee_notice(
        on: NaiveDate,
        basis: FeeBasis,
        amount_fen: i64,
        pages: Option<i64>,
        received_on: Option<NaiveDate>,
    ) -> Result<Action, Vec<FieldError>> {
        let mut e = Errors::new();
        check_received(&mut e, on, received_on);
        if amount_fen <= 0 {
            e.push(FieldError::new(
                "amount_fen",
                "out_of_range",
                text!("须大于零", "must be positive"),
            ));
        }
        let pages = match pages {
            Some(p) if !(1..=1_000_000).contains(&p) => {
                e.push(FieldError::not_between("pages", 1, 1_000_000));
                None
            }
            Some(p) => u32::try_from(p).ok(),
            None => None,
        };
        if basis == FeeBasis::PerPage && pages.is_none() && e.is_empty() {
            e.push(FieldError::new(
                "pages",
                "required",
                text!("按页计收须填写页数", "a per-page fee needs the page count"),
            ));
        }
        collect(
            e,
            Some(Action::IssueFeeNotice {
                basis,
                amount_fen,
                pages,
                received_on,
            }),
        )
    }

    pub fn record_payment(amount_fen: i64) -> Result<Action, Vec<FieldError>> {
        let mut e = Errors::new();
        if amount_fen <= 0 {
            e.push(FieldError::new(
                "amount_fen",
                "out_of_range",
                text!("须大于零", "must be positive"),
            ));
        }
        collect(e, Some(Action::RecordPayment { amount_fen }))
    }

    pub fn waive_fee(reason: &str) -> Result<Action, Vec<FieldError>> {
        let mut e = Errors::new();
        let reason = reason_text(&mut e, reason);
        collect(e, reason.map(|reason| Action::WaiveFee { reason }))
    }

    /// More than 20 days is a legal refusal (409 `extension_too_long`), not a form error.
    pub fn extend(days: i64, reason: &str) -> Result<Action, Vec<FieldError>> {
        let mut e = Errors::new();
        let days = match u32::try_from(days) {
            Ok(d) if d >= 1 => Some(d),
            _ => {
                e.push(FieldError::new(
                    "days",
                    "out_of_range",
                    text!("至少为 1", "must be at least 1"),
                ));
                None
            }
        };
        let reason = reason_text(&mut e, reason);
        collect(
            e,
            days.zip(reason)
                .map(|(days, reason)| Action::Extend { days, reason }),
        )
    }

    pub fn override_deadline(due_date: NaiveDate, reason: &str) -> Result<Action, Vec<FieldError>> {
        let mut e = Errors::new();
        let reason = reason_text(&mut e, reason);
        collect(
            e,
            reason.map(|reason| Action::OverrideDeadline { due_date, reason }),
        )
    }

    pub fn reply(
        disposition: Disposition,
        reason: Option<&str>,
        legal_basis: Option<&str>,
        provision: Option<&str>,
        responsible_agency: Option<&str>,
        repeats_request_id: Option<String>,
        objection_override: Option<(&str, NaiveDate, &str)>,
    ) -> Result<Action, Vec<FieldError>> {
        let mut e = Errors::new();
        let objection_override = objection_override.and_then(|(why, sent_on, what)| {
            let why = e.take(text(
                "objection_override.public_interest_reason",
                why,
                4000,
                true,
            ));
            let what = e.take(text("objection_override.disclosed", what, 4000, true));
            Some(ObjectionOverride {
                public_interest_reason: why?,
                notice_sent_on: sent_on,
                disclosed: what?,
            })
        });
        if objection_override.is_some()
            && !matches!(
                disposition,
                Disposition::Granted | Disposition::PartiallyGranted
            )
        {
            e.push(FieldError::new(
                "objection_override",
                "not_allowed",
                text!(
                    "只有予以公开的答复才能不采纳第三方的异议",
                    "only a reply that discloses overrides a third party's objection"
                ),
            ));
        }
        let reason = e.take(optional_text("reason", reason, 4000, true));
        let legal_basis = e.take(optional_text("legal_basis", legal_basis, 1000, true));
        let provision = e.take(optional_text("provision", provision, 4000, true));
        let responsible_agency = e.take(optional_text(
            "responsible_agency",
            responsible_agency,
            500,
            true,
        ));
        if repeats_request_id.is_some() && disposition != Disposition::NotProcessedRepeated {
            e.push(FieldError::new(
                "repeats_request_id",
                "not_allowed",
                text!(
                    "只有 not_processed.repeated（重复申请）的答复才填写所重复的申请",
                    "only a not_processed.repeated reply names the application it repeats"
                ),
            ));
        }
        let input = match (reason, legal_basis, provision, responsible_agency) {
            (Some(reason), Some(legal_basis), Some(provision), Some(responsible_agency)) => {
                Some(ReplyInput {
                    disposition,
                    reason,
                    legal_basis,
                    provision,
                    responsible_agency,
                    repeats_request_id,
                    objection_override,
                    served_on: None,
                })
            }
            _ => None,
        };
        collect(e, input.map(Action::Reply))
    }

    pub fn withdraw(reason: Option<&str>) -> Result<Action, Vec<FieldError>> {
        let mut e = Errors::new();
        let reason = e.take(optional_text("reason", reason, 4000, true));
        collect(e, reason.map(|reason| Action::Withdraw { reason }))
    }

    /// A reply with the day it was served on the applicant, when known at recording.
    pub fn served_on(self, served_on: Option<NaiveDate>) -> Action {
        match self {
            Action::Reply(mut r) => {
                r.served_on = served_on;
                Action::Reply(r)
            }
            other => other,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Action::ConfirmReceipt => "confirm_receipt",
            Action::RequestCorrection { .. } => "request_correction",
            Action::ReceiveCorrection => "receive_correction",
            Action::StartConsultation { .. } => "start_consultation",
            Action::RecordConsultationReceipt { .. } => "record_consultation_receipt",
            Action::EndConsultation { .. } => "end_consultation",
            Action::IssueFeeNotice { .. } => "issue_fee_notice",
            Action::RecordFeeNoticeReceipt { .. } => "record_fee_notice_receipt",
            Action::RecordPayment { .. } => "record_payment",
            Action::WaiveFee { .. } => "waive_fee",
            Action::Extend { .. } => "extend",
            Action::OverrideDeadline { .. } => "override_deadline",
            Action::Reply(_) => "reply",
            Action::CloseUncorrected => "close_uncorrected",
            Action::CloseUnpaid => "close_unpaid",
            Action::Withdraw { .. } => "withdraw",
            Action::RecordReplyService { .. } => "record_reply_service",
        }
    }

    /// The states a step may start from (the table of §5).
    pub fn allowed_from(&self) -> &'static [State] {
        use State::*;
        match self {
            Action::ConfirmReceipt => &[AwaitingConfirmation],
            Action::RequestCorrection { .. }
            | Action::StartConsultation { .. }
            | Action::IssueFeeNotice { .. }
            | Action::Reply(_) => &[Processing],
            Action::ReceiveCorrection | Action::CloseUncorrected => &[AwaitingCorrection],
            Action::EndConsultation { .. } | Action::RecordConsultationReceipt { .. } => {
                &[Consulting]
            }
            Action::RecordPayment { .. }
            | Action::WaiveFee { .. }
            | Action::CloseUnpaid
            | Action::RecordFeeNoticeReceipt { .. } => &[AwaitingPayment],
            Action::Extend { .. } | Action::OverrideDeadline { .. } => {
                &[Processing, Consulting, AwaitingPayment]
            }
            Action::RecordReplyService { .. } => &[Closed],
            Action::Withdraw { .. } => &[
                AwaitingConfirmation,
                Processing,
                AwaitingCorrection,
                Consulting,
                AwaitingPayment,
            ],
        }
    }
}

/// Why the law does not allow an action now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The action is not allowed in this state, or a guard of §4–§6 fails (409).
    Conflict { code: &'static str, message: Text },
    /// The actor's roles do not allow it (403).
    Forbidden { code: &'static str, message: Text },
    /// A field is wrong for this application (422).
    Invalid(Vec<FieldError>),
}

impl Refusal {
    /// The stable code (the first field's, for a field error).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Conflict { code, .. } | Refusal::Forbidden { code, .. } => code,
            Refusal::Invalid(v) => v.first().map_or("validation_failed", |e| e.code),
        }
    }
}

fn conflict(code: &'static str, message: Text) -> Refusal {
    Refusal::Conflict { code, message }
}

/// What an action needs besides the workflow.
pub struct ActionContext<'a> {
    pub today: NaiveDate,
    pub calendar: &'a Calendar,
    pub actor_is_approver: bool,
    pub actor_name: &'a str,
    /// For per-piece fees: this application's place among the same applicant's applications
    /// received in the same calendar month (1-based).
    pub nth_in_month: u32,
    /// Working days assumed for a letter to reach the consulted party or the applicant while
    /// its receipt is not recorded (setting `rules.delivery_allowance_working_days`).
    pub delivery_allowance: u32,
}

fn add_wd(cal: &Calendar, from: NaiveDate, n: u32) -> Result<NaiveDate, Refusal> {
    cal.add_working_days(from, n).map_err(calendar_refusal)
}

fn calendar_refusal(e: crate::domain::calendar::CalendarError) -> Refusal {
    Refusal::Invalid(vec![FieldError::new("on", "out_of_range", e.text())])
}

/// The open consultation's (or fee notice's) pause.
fn open_pause(wf: &Workflow, consultation: bool) -> Option<&Pause> {
    wf.clock
        .pauses
        .iter()
        .rev()
        .find(|p| p.ended_on.is_none() && p.kind.is_consultation() == consultation)
}

/// Records the day the consulted party or the applicant received the open letter or notice.
fn record_receipt(
    wf: &Workflow,
    on: NaiveDate,
    consultation: bool,
    received_on: NaiveDate,
) -> Result<Workflow, Refusal> {
    let mut next = wf.clone();
    let pause = next
        .clock
        .pauses
        .iter_mut()
        .rev()
        .find(|p| p.ended_on.is_none() && p.kind.is_consultation() == consultation)
        .ok_or_else(|| {
            conflict(
                "invalid_transition",
                text!("没有等待答复的信件", "nothing is awaiting an answer"),
            )
        })?;
    let mut e = Errors::new();
    if received_on < pause.started_on {
        e.push(FieldError::new(
            "received_on",
            "before_sending",
            text!(
                "信件于 {} 发出",
                "the letter was sent on {}",
                pause.started_on
            ),
        ));
    }
    if received_on > on {
        e.push(FieldError::new(
            "received_on",
            "after_on",
            text!(
                "不能晚于本次记录的日期（on）",
                "must not be after the day it is recorded (on)"
            ),
        ));
    }
    e.into_result().map_err(Refusal::Invalid)?;
    pause.received_on = Some(received_on);
    Ok(next)
}

/// The reply was served on the applicant on `served_on` (recorded on `on`): not before the
/// reply, not after the day it is recorded. A later record corrects an earlier one (the trail
/// keeps both).
fn record_reply_service(
    wf: &Workflow,
    on: NaiveDate,
    served_on: NaiveDate,
) -> Result<Workflow, Refusal> {
    let mut next = wf.clone();
    let reply = next.reply.as_mut().ok_or_else(|| {
        conflict(
            "invalid_transition",
            text!("尚未记录答复", "no reply has been recorded"),
        )
    })?;
    let mut e = Errors::new();
    if served_on < reply.on {
        e.push(FieldError::new(
            "served_on",
            "before_reply",
            text!("答复日期为 {}", "the reply is dated {}", reply.on),
        ));
    }
    if served_on > on {
        e.push(FieldError::new(
            "served_on",
            "after_on",
            text!(
                "不能晚于本次记录的日期（on）",
                "must not be after the day it is recorded (on)"
            ),
        ));
    }
    e.into_result().map_err(Refusal::Invalid)?;
    reply.served_on = Some(served_on);
    Ok(next)
}

/// The due date the clock gives now, if it runs.
pub fn current_due_date(wf: &Workflow, cal: &Calendar) -> Result<Option<NaiveDate>, Refusal> {
    clock::due_date(&wf.clock, cal)
        .map_err(|e| conflict("clock_inconsistent", Text::english(e.to_string())))
}

fn close_open_pauses(wf: &mut Workflow, on: NaiveDate) {
    for p in wf.clock.pauses.iter_mut().filter(|p| p.ended_on.is_none()) {
        p.ended_on = Some(on);
    }
    for c in wf.consultations.iter_mut().filter(|c| c.ended_on.is_none()) {
        c.ended_on = Some(on);
    }
}

/// Closes the application on `on` with a disposition; lateness comes from the clock.
pub(super) fn close(
    wf: &Workflow,
    on: NaiveDate,
    reply: ReplyInput,
    cal: &Calendar,
) -> Result<Workflow, Refusal> {
    let due = current_due_date(wf, cal)?;
    let mut next = wf.clone();
    close_open_pauses(&mut next, on);
    next.state = State::Closed;
    next.clock.closed_on = Some(on);
    next.reply = Some(ReplyRecord {
        disposition: reply.disposition,
        on,
        reason: reply.reason,
        legal_basis: reply.legal_basis,
        provision: reply.provision,
        responsible_agency: reply.responsible_agency,
        repeats_request_id: reply.repeats_request_id,
        objection_override: reply.objection_override,
        late: due.is_some_and(|d| on > d),
        served_on: reply.served_on,
    });
    Ok(next)
}

fn plain_close(disposition: Disposition, reason: Option<String>) -> ReplyInput {
    ReplyInput {
        disposition,
        reason,
        legal_basis: None,
        provision: None,
        responsible_agency: None,
        repeats_request_id: None,
        objection_override: None,
        served_on: None,
    }
}

/// Applies one action dated `on`. Returns the new workflow, or why the law does not allow it.
pub fn apply(
    wf: &Workflow,
    on: NaiveDate,
    action: &Action,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    if !action.allowed_from().contains(&wf.state) {
        return Err(conflict(
            "invalid_transition",
            text!(
                "申请处于 {1} 状态时不允许 {0}",
                "{0} is not allowed while the application is {1}",
                action.name(),
                wf.state.code()
            ),
        ));
    }
    if on > ctx.today {
        return Err(Refusal::Invalid(vec![FieldError::new(
            "on",
            "in_future",
            text!("不能晚于今天", "must not be in the future"),
        )]));
    }
    if on < wf.last_step_on {
        return Err(Refusal::Invalid(vec![FieldError::new(
            "on",
            "before_previous_step",
            text!(
                "不能早于上一步骤的日期（{}）",
                "must not be before the previous step ({})",
                wf.last_step_on
            ),
        )]));
    }
    let mut next = match action {
        Action::ConfirmReceipt => confirm_receipt(wf, on),
        Action::RequestCorrection { items, reply_by } => {
            request_correction(wf, on, items, *reply_by, ctx)
        }
        Action::ReceiveCorrection => receive_correction(wf, on),
        Action::StartConsultation {
            party,
            whom,
            received_on,
        } => start_consultation(wf, on, *party, whom, *received_on, ctx),
        Action::RecordConsultationReceipt { received_on } => {
            record_receipt(wf, on, true, *received_on)
        }
        Action::EndConsultation { opinion } => end_consultation(wf, on, *opinion, ctx),
        Action::IssueFeeNotice {
            basis,
            amount_fen,
            pages,
            received_on,
        } => issue_fee_notice(wf, on, (*basis, *amount_fen, *pages), *received_on, ctx),
        Action::RecordFeeNoticeReceipt { received_on } => {
            record_receipt(wf, on, false, *received_on)
        }
        Action::RecordPayment { amount_fen } => record_payment(wf, on, *amount_fen, ctx),
        Action::WaiveFee { reason } => waive_fee(wf, on, reason),
        Action::Extend { days, reason } => extend(wf, on, *days, reason, ctx),
        Action::OverrideDeadline { due_date, reason } => {
            override_deadline(wf, on, *due_date, reason, ctx)
        }
        Action::Reply(reply) => self::reply(wf, on, reply, ctx),
        Action::CloseUncorrected => close_uncorrected(wf, on, ctx),
        Action::CloseUnpaid => close_unpaid(wf, on, ctx),
        Action::Withdraw { reason } => withdraw(wf, on, reason.clone(), ctx),
        Action::RecordReplyService { served_on } => record_reply_service(wf, on, *served_on),
    }?;
    next.last_step_on = on;
    Ok(next)
}

fn confirm_receipt(wf: &Workflow, on: NaiveDate) -> Result<Workflow, Refusal> {
    let mut next = wf.clone();
    next.clock.receipt_date = Some(on);
    next.state = State::Processing;
    Ok(next)
}

/// Art. 30: once, within 7 working days of receipt.
fn request_correction(
    wf: &Workflow,
    on: NaiveDate,
    items: &[String],
    reply_by: NaiveDate,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    if wf.clock.correction.is_some() {
        return Err(conflict(
            "correction_already_requested",
            text!(
                "补正只能要求一次（《条例》第三十条）",
                "a correction may be asked for only once (art. 30)"
            ),
        ));
    }
    let receipt = wf.clock.receipt_date.ok_or_else(|| {
        conflict(
            "invalid_transition",
            text!("尚未确认收到申请之日", "no receipt date"),
        )
    })?;
    let window_end = add_wd(ctx.calendar, receipt, clock::CORRECTION_NOTICE_WINDOW)?;
    if on > window_end {
        return Err(conflict(
            "correction_window_passed",
            text!(
                "须在收到申请之日起 7 个工作日内（{window_end} 之前）一次性告知补正（《条例》第三十条）",
                "a correction must be asked for within 7 working days of receipt, by {window_end} (art. 30)"
            ),
        ));
    }
    let mut next = wf.clone();
    next.clock.correction = Some(CorrectionFacts {
        requested_on: on,
        reply_by,
        received_on: None,
    });
    // The period restarts from the corrected application (art. 30): an extension granted
    // before does not carry over, and a new one may be granted within the restarted period.
    if let Some(e) = next.clock.extension.take() {
        next.clock.superseded_extension = Some(e);
    }
    next.correction_items = items.to_vec();
    next.state = State::AwaitingCorrection;
    Ok(next)
}

fn receive_correction(wf: &Workflow, on: NaiveDate) -> Result<Workflow, Refusal> {
    let mut next = wf.clone();
    if let Some(c) = next.clock.correction.as_mut() {
        c.received_on = Some(on);
    }
    next.state = State::Processing;
    Ok(next)
}

/// Art. 32, 34: the clock pauses from the day the letter is sent.
fn start_consultation(
    wf: &Workflow,
    on: NaiveDate,
    party: Party,
    whom: &str,
    received_on: Option<NaiveDate>,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    let kind = match party {
        Party::ThirdParty => PauseKind::ThirdPartyConsultation,
        Party::OtherAgency => PauseKind::OtherAgencyConsultation,
    };
    let mut next = wf.clone();
    next.clock
        .pauses
        .push(Pause::new(kind, on, received_on, ctx.delivery_allowance));
    next.consultations.push(Consultation {
        party,
        whom: whom.to_string(),
        sent_on: on,
        ended_on: None,
        opinion: None,
    });
    next.state = State::Consulting;
    Ok(next)
}

/// `no_reply` only after the consulted party's 15 working days.
fn end_consultation(
    wf: &Workflow,
    on: NaiveDate,
    opinion: Opinion,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    if opinion == Opinion::NoReply {
        let (window_end, provisional) = match open_pause(wf, true) {
            Some(p) => p.window_end(ctx.calendar).map_err(calendar_refusal)?,
            None => (add_wd(ctx.calendar, on, CONSULTATION_WINDOW)?, true),
        };
        if on <= window_end {
            return Err(conflict(
                "consultation_window_not_passed",
                if provisional {
                    text!(
                        "被征求意见方的 15 个工作日届满后才能记录逾期未提出意见；其收到征求意见函的日期未记录，推定于 {window_end} 届满（《条例》第三十二条）",
                        "no reply can be recorded only after the consulted party's 15 working days; its receipt of the letter is not recorded, so they are assumed to end on {window_end} (art. 32)"
                    )
                } else {
                    text!(
                        "被征求意见方的 15 个工作日于 {window_end} 届满，届满后才能记录逾期未提出意见（《条例》第三十二条）",
                        "no reply can be recorded only after the consulted party's 15 working days end on {window_end} (art. 32)"
                    )
                },
            ));
        }
    }
    let mut next = wf.clone();
    close_open_pauses(&mut next, on);
    if let Some(c) = next.consultations.last_mut() {
        c.opinion = Some(opinion);
    }
    next.state = State::Processing;
    Ok(next)
}

/// The fee Measures: one notice, within the maximum the Measures allow.
fn issue_fee_notice(
    wf: &Workflow,
    on: NaiveDate,
    (basis, amount_fen, pages): (FeeBasis, i64, Option<u32>),
    received_on: Option<NaiveDate>,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    if on < fees::in_force_from() {
        return Err(conflict(
            "fee_rules_not_in_force",
            text!(
                "信息处理费依自 {} 起施行的《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）收取，此前不得收费",
                "information processing fees exist only under the Measures in force from {} (国办函〔2020〕109号)",
                fees::in_force_from()
            ),
        ));
    }
    if wf.fee.is_some() {
        return Err(conflict(
            "fee_notice_already_issued",
            text!(
                "一件申请只能发出一次收费通知",
                "an application carries one fee notice"
            ),
        ));
    }
    let nth = (basis == FeeBasis::PerPiece).then_some(ctx.nth_in_month);
    let maximum = fees::maximum_fen(basis, ctx.nth_in_month, pages);
    if maximum == 0 {
        return Err(conflict(
            "fee_not_chargeable",
            match basis {
                FeeBasis::PerPiece => text!(
                    "这是该申请人本月的第 {} 件申请；每月前 10 件不收费",
                    "this is the applicant's application no. {} this month; the first 10 are free",
                    ctx.nth_in_month
                ),
                FeeBasis::PerPage => text!("30 页以内不收费", "up to 30 pages are free"),
            },
        ));
    }
    if amount_fen > maximum {
        return Err(conflict(
            "fee_above_maximum",
            text!(
                "依《办法》，此申请至多收费 {} 元",
                "the Measures allow at most {} yuan for this application",
                fees::yuan_string(maximum)
            ),
        ));
    }
    let mut next = wf.clone();
    next.fee = Some(FeeRecord {
        basis,
        amount_fen,
        maximum_fen: maximum,
        pages,
        nth_in_month: nth,
        notice_on: on,
        paid_on: None,
        paid_fen: None,
        waived_on: None,
        waiver_reason: None,
    });
    next.clock.pauses.push(Pause::new(
        PauseKind::FeeNotice,
        on,
        received_on,
        ctx.delivery_allowance,
    ));
    next.state = State::AwaitingPayment;
    Ok(next)
}

/// A payment within the applicant's 20 working days; after them the application can only be
/// closed as unpaid (fee Measures).
fn record_payment(
    wf: &Workflow,
    on: NaiveDate,
    amount_fen: i64,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    if let Some(p) = open_pause(wf, false) {
        let (window_end, provisional) = p.window_end(ctx.calendar).map_err(calendar_refusal)?;
        if on > window_end {
            return Err(conflict(
                "payment_window_passed",
                if provisional {
                    text!(
                        "缴费的 20 个工作日已于 {window_end} 届满（申请人收到收费通知的日期未记录：如收到较晚，请用 record_fee_notice_receipt 记录），只能按逾期未缴费终止（close_unpaid）",
                        "the 20 working days to pay ended on {window_end} (the applicant's receipt of the notice is not recorded: record it with record_fee_notice_receipt if it came later); the application can only be closed as unpaid (close_unpaid)"
                    )
                } else {
                    text!(
                        "缴费的 20 个工作日已于 {window_end} 届满，只能按逾期未缴费终止（close_unpaid）",
                        "the 20 working days to pay ended on {window_end}; the application can only be closed as unpaid (close_unpaid)"
                    )
                },
            ));
        }
    }
    let mut next = wf.clone();
    let fee = next.fee.as_mut().ok_or_else(|| {
        conflict(
            "invalid_transition",
            text!("尚未发出收费通知", "no fee notice"),
        )
    })?;
    if amount_fen != fee.amount_fen {
        return Err(Refusal::Invalid(vec![FieldError::new(
            "amount_fen",
            "payment_amount_mismatch",
            text!(
                "收费通知的金额为 {} 分",
                "the notice asks for {} fen",
                fee.amount_fen
            ),
        )]));
    }
    fee.paid_on = Some(on);
    fee.paid_fen = Some(amount_fen);
    close_open_pauses(&mut next, on);
    next.state = State::Processing;
    Ok(next)
}

fn waive_fee(wf: &Workflow, on: NaiveDate, reason: &str) -> Result<Workflow, Refusal> {
    let mut next = wf.clone();
    let fee = next.fee.as_mut().ok_or_else(|| {
        conflict(
            "invalid_transition",
            text!("尚未发出收费通知", "no fee notice"),
        )
    })?;
    fee.waived_on = Some(on);
    fee.waiver_reason = Some(reason.to_string());
    close_open_pauses(&mut next, on);
    next.state = State::Processing;
    Ok(next)
}

/// Art. 33: approved by the office head, once, at most 20 working days, before the due date.
fn extend(
    wf: &Workflow,
    on: NaiveDate,
    days: u32,
    reason: &str,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    approved_in_time(wf, on, ctx, ("延长答复期限", "an extension is approved"))?;
    if wf.clock.extension.is_some() {
        return Err(conflict(
            "extension_already_used",
            text!(
                "答复期限只能延长一次（《条例》第三十三条）",
                "the reply period may be extended only once (art. 33)"
            ),
        ));
    }
    let max = Regime::of(&wf.clock).max_extension();
    if days > max {
        return Err(conflict(
            "extension_too_long",
            text!(
                "延长的期限最长不得超过 {max} 个工作日（{}）",
                "an extension is at most {max} working days ({})",
                Regime::of(&wf.clock).article()
            ),
        ));
    }
    let mut next = wf.clone();
    next.clock.extension = Some(Extension {
        days,
        approved_on: on,
        approved_by: ctx.actor_name.to_string(),
        reason: reason.to_string(),
    });
    Ok(next)
}

/// The guards an extension (art. 33) and a longer period (art. 35) share: the head of the
/// disclosure office decides (role approver), while the reply period still runs. Answers the
/// due date as it stands.
fn approved_in_time(
    wf: &Workflow,
    on: NaiveDate,
    ctx: &ActionContext<'_>,
    (what_zh, what): (&str, &str),
) -> Result<Option<NaiveDate>, Refusal> {
    if !ctx.actor_is_approver {
        return Err(Refusal::Forbidden {
            code: "approver_required",
            message: text!(
                "{what_zh}须经政府信息公开工作机构负责人（审批人角色）同意",
                "{what} by the head of the disclosure office (role approver)"
            ),
        });
    }
    let due = current_due_date(wf, ctx.calendar)?;
    if let Some(due) = due
        && on > due
    {
        return Err(conflict(
            "due_date_passed",
            text!(
                "{what_zh}须在答复期限（{due}）届满之前",
                "{what} before the due date ({due}) passes"
            ),
        ));
    }
    Ok(due)
}

/// Art. 35: a longer reply period for numerous applications, set by the office head.
fn override_deadline(
    wf: &Workflow,
    on: NaiveDate,
    due_date: NaiveDate,
    reason: &str,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    // Set while the reply period still runs (art. 35; domain.md §4): never after the due date,
    // where it would erase the lateness of a reply already late.
    let current = approved_in_time(
        wf,
        on,
        ctx,
        (
            "另行确定答复期限（《条例》第三十五条）",
            "a longer reply period (art. 35) is set",
        ),
    )?;
    if wf.clock.deadline_override.is_some() {
        return Err(conflict(
            "deadline_already_overridden",
            text!(
                "答复期限已另行确定",
                "the reply period was already set by the office"
            ),
        ));
    }
    if current.is_some_and(|c| due_date <= c) {
        return Err(conflict(
            "override_not_later",
            text!(
                "另行确定的答复期限须晚于法定答复期限（《条例》第三十五条）",
                "a reply period set for numerous applications must end after the statutory due date (art. 35)"
            ),
        ));
    }
    if !ctx.calendar.is_working_day(due_date).unwrap_or(false) {
        return Err(Refusal::Invalid(vec![FieldError::new(
            "due_date",
            "not_a_working_day",
            text!("须为工作日", "must be a working day"),
        )]));
    }
    let mut next = wf.clone();
    next.clock.deadline_override = Some(DeadlineOverride {
        due_date,
        set_on: on,
        reason: reason.to_string(),
    });
    Ok(next)
}

/// Art. 36: a disposition of §6 with what it requires.
fn reply(
    wf: &Workflow,
    on: NaiveDate,
    reply: &ReplyInput,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    let req = reply.disposition.requirements();
    let code = reply.disposition.code();
    if req.by_own_action {
        return Err(conflict(
            "disposition_requires_action",
            text!(
                "{code} 须通过 close_uncorrected 或 close_unpaid 记录",
                "{code} is recorded by close_uncorrected or close_unpaid"
            ),
        ));
    }
    if req.after_correction
        && wf
            .clock
            .correction
            .as_ref()
            .and_then(|c| c.received_on)
            .is_none()
    {
        return Err(conflict(
            "correction_not_received",
            text!(
                "只有经过补正之后才能以 unavailable.still_unclear（仍不明确）答复（《条例》第三十条）",
                "unavailable.still_unclear is possible only after a correction round (art. 30)"
            ),
        ));
    }
    if req.reason && reply.reason.is_none() {
        return Err(conflict(
            "disposition_requires_reason",
            text!("{code} 须说明理由（reason）", "{code} needs a reason"),
        ));
    }
    if req.legal_basis && reply.legal_basis.is_none() {
        return Err(conflict(
            "disposition_requires_legal_basis",
            text!(
                "{code} 须写明法律依据（legal_basis）",
                "{code} needs the legal basis"
            ),
        ));
    }
    if req.provision && reply.provision.is_none() {
        return Err(conflict(
            "disposition_requires_provision",
            text!(
                "{code} 须写明提供信息的方式和时间（provision）",
                "{code} records how and when the information is provided (provision)"
            ),
        ));
    }
    // Art. 32: a third party objected. Full disclosure needs the public-interest reason and
    // the written notice to the third party (a partial one is taken to withhold the part it
    // objected to, unless it says otherwise with the same record).
    let objected = wf
        .consultations
        .iter()
        .any(|c| c.party == Party::ThirdParty && c.opinion == Some(Opinion::Objection));
    if let Some(o) = &reply.objection_override {
        if !objected {
            return Err(Refusal::Invalid(vec![FieldError::new(
                "objection_override",
                "no_objection_recorded",
                text!(
                    "被征求意见的第三方没有提出异议",
                    "no consulted third party objected"
                ),
            )]));
        }
        if o.notice_sent_on > on {
            return Err(Refusal::Invalid(vec![FieldError::new(
                "objection_override.notice_sent_on",
                "after_on",
                text!(
                    "书面告知第三方的日期不能晚于答复日期",
                    "the notice to the third party goes out by the reply date"
                ),
            )]));
        }
    } else if objected && reply.disposition == Disposition::Granted {
        return Err(conflict(
            "third_party_objection_unanswered",
            text!(
                "第三方提出了异议：予以公开须载明公共利益理由并书面告知第三方（objection_override，《条例》第三十二条）",
                "the consulted third party objected: disclosing needs the public-interest reason and the written notice to the third party (objection_override, art. 32)"
            ),
        ));
    }
    if let Some(served) = reply.served_on {
        let mut e = Errors::new();
        if served < on {
            e.push(FieldError::new(
                "served_on",
                "before_reply",
                text!(
                    "不能早于答复日期（on）",
                    "must not be before the reply (on)"
                ),
            ));
        }
        if served > ctx.today {
            e.push(FieldError::new(
                "served_on",
                "in_future",
                text!("不能晚于今天", "must not be in the future"),
            ));
        }
        e.into_result().map_err(Refusal::Invalid)?;
    }
    close(wf, on, reply.clone(), ctx.calendar)
}

/// Art. 30: deemed withdrawn once the correction deadline has passed.
fn close_uncorrected(
    wf: &Workflow,
    on: NaiveDate,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    let reply_by = wf.clock.correction.as_ref().map_or(on, |c| c.reply_by);
    if on <= reply_by {
        return Err(conflict(
            "correction_deadline_not_passed",
            text!(
                "申请人的补正期限至 {reply_by}",
                "the applicant has until {reply_by} to correct"
            ),
        ));
    }
    close(
        wf,
        on,
        plain_close(Disposition::OtherUncorrected, None),
        ctx.calendar,
    )
}

/// The fee Measures: deemed withdrawn once the 20 working days to pay have passed.
fn close_unpaid(
    wf: &Workflow,
    on: NaiveDate,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    let window_end = match open_pause(wf, false) {
        Some(p) => p.window_end(ctx.calendar).map_err(calendar_refusal)?.0,
        None => add_wd(
            ctx.calendar,
            wf.fee.as_ref().map_or(on, |f| f.notice_on),
            PAYMENT_WINDOW,
        )?,
    };
    if on <= window_end {
        return Err(conflict(
            "payment_deadline_not_passed",
            text!(
                "申请人的缴费期限至 {window_end}",
                "the applicant has until {window_end} to pay"
            ),
        ));
    }
    close(
        wf,
        on,
        plain_close(Disposition::OtherUnpaid, None),
        ctx.calendar,
    )
}

fn withdraw(
    wf: &Workflow,
    on: NaiveDate,
    reason: Option<String>,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    let reason = reason.unwrap_or_else(|| "withdrawn".to_string());
    close(
        wf,
        on,
        plain_close(Disposition::OtherOther, Some(reason)),
        ctx.calendar,
    )
}

#[cfg(test)]
mod tests {
    //! Every state × every action: allowed, or refused with its exact code.

    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    /// A workflow in `state`, built through the actions themselves from a receipt on Monday
    /// 2025-03-03 (weekends-only calendar). Every step is dated 2025-03-04.
    fn in_state(state: State, cal: &Calendar) -> Workflow {
        let ctx = ActionContext {
            today: d("2025-12-31"),
            calendar: cal,
            actor_is_approver: true,
            actor_name: "approver",
            nth_in_month: 12,
            delivery_allowance: 0,
        };
        let received = Workflow::new(d("2025-03-03"), Some(d("2025-03-03")));
        let step = |wf: &Workflow, a: Action| apply(wf, d("2025-03-04"), &a, &ctx);
        let wf = match state {
            State::AwaitingConfirmation => Ok(Workflow::new(d("2025-03-03"), None)),
            State::Processing => Ok(received),
            State::AwaitingCorrection => step(
                &received,
                Action::RequestCorrection {
                    items: vec!["写明文号".into()],
                    reply_by: d("2025-03-20"),
                },
            ),
            State::Consulting => step(
                &received,
                Action::StartConsultation {
                    party: Party::ThirdParty,
                    whom: "某公司".into(),
                    received_on: None,
                },
            ),
            State::AwaitingPayment => step(
                &received,
                Action::IssueFeeNotice {
                    basis: FeeBasis::PerPiece,
                    amount_fen: 10_000,
                    pages: None,
                    received_on: None,
                },
            ),
            State::Closed => step(&received, Action::Withdraw { reason: None }),
        };
        match wf {
            Ok(wf) if wf.state == state => wf,
            other => panic!("cannot build a workflow in {state:?}: {other:?}"),
        }
    }

    /// One valid example of each action, dated `on`.
    fn examples() -> Vec<Action> {
        vec![
            Action::ConfirmReceipt,
            Action::RequestCorrection {
                items: vec!["写明所需信息的文号".into()],
                reply_by: d("2025-03-25"),
            },
            Action::ReceiveCorrection,
            Action::StartConsultation {
                party: Party::OtherAgency,
                whom: "市财政局".into(),
                received_on: None,
            },
            Action::RecordConsultationReceipt {
                received_on: d("2025-03-05"),
            },
            Action::EndConsultation {
                opinion: Opinion::Consent,
            },
            Action::IssueFeeNotice {
                basis: FeeBasis::PerPiece,
                amount_fen: 10_000,
                pages: None,
                received_on: None,
            },
            Action::RecordFeeNoticeReceipt {
                received_on: d("2025-03-05"),
            },
            Action::RecordPayment { amount_fen: 10_000 },
            Action::WaiveFee {
                reason: "申请人经济困难".into(),
            },
            Action::Extend {
                days: 10,
                reason: "需要调取档案".into(),
            },
            Action::OverrideDeadline {
                due_date: d("2025-06-30"),
                reason: "申请数量众多".into(),
            },
            Action::Reply(ReplyInput {
                disposition: Disposition::Granted,
                reason: None,
                legal_basis: None,
                provision: Some("以电子邮件方式提供".into()),
                responsible_agency: None,
                repeats_request_id: None,
                objection_override: None,
                served_on: None,
            }),
            Action::CloseUncorrected,
            Action::CloseUnpaid,
            Action::Withdraw { reason: None },
            Action::RecordReplyService {
                served_on: d("2025-03-05"),
            },
        ]
    }

    /// What the law answers to each action in each state. `Ok` means allowed; close_uncorrected
    /// and close_unpaid are allowed from their state but refused on a date inside the window.
    fn expected(state: State, action: &str) -> Result<(), &'static str> {
        use State::*;
        let allowed = match action {
            "confirm_receipt" => state == AwaitingConfirmation,
            "request_correction" | "start_consultation" | "issue_fee_notice" | "reply" => {
                state == Processing
            }
            "receive_correction" => state == AwaitingCorrection,
            "close_uncorrected" => {
                return if state == AwaitingCorrection {
                    Err("correction_deadline_not_passed")
                } else {
                    Err("invalid_transition")
                };
            }
            "close_unpaid" => {
                return if state == AwaitingPayment {
                    Err("payment_deadline_not_passed")
                } else {
                    Err("invalid_transition")
                };
            }
            "end_consultation" | "record_consultation_receipt" => state == Consulting,
            "record_payment" | "waive_fee" | "record_fee_notice_receipt" => {
                state == AwaitingPayment
            }
            "extend" | "override_deadline" => {
                matches!(state, Processing | Consulting | AwaitingPayment)
            }
            "withdraw" => state != Closed,
            "record_reply_service" => state == Closed,
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err("invalid_transition")
        }
    }

    #[test]
    fn every_state_and_action_is_allowed_or_refused_with_its_code() {
        let cal = Calendar::weekends_only();
        let ctx = ActionContext {
            today: d("2025-12-31"),
            calendar: &cal,
            actor_is_approver: true,
            actor_name: "approver",
            nth_in_month: 12,
            delivery_allowance: 0,
        };
        let mut checked = 0;
        for state in State::ALL {
            let wf = in_state(state, &cal);
            for action in examples() {
                let got = apply(&wf, d("2025-03-05"), &action, &ctx).map(|_| ());
                let want = expected(state, action.name());
                assert_eq!(
                    got.clone().map_err(|r| r.code()),
                    want,
                    "{} from {}: {got:?}",
                    action.name(),
                    state.code()
                );
                checked += 1;
            }
        }
        assert_eq!(checked, State::ALL.len() * ACTIONS.len());
    }

    #[test]
    fn the_names_are_the_documented_actions() {
        let names: Vec<&str> = examples().iter().map(Action::name).collect();
        assert_eq!(names, ACTIONS.to_vec());
    }

    #[test]
    fn an_allowed_action_moves_to_the_state_of_the_table() {
        let cal = Calendar::weekends_only();
        let ctx = ActionContext {
            today: d("2025-12-31"),
            calendar: &cal,
            actor_is_approver: true,
            actor_name: "approver",
            nth_in_month: 12,
            delivery_allowance: 0,
        };
        let to = |from: State, a: &Action| {
            apply(&in_state(from, &cal), d("2025-03-05"), a, &ctx).map(|w| w.state)
        };
        let ex = examples();
        use State::*;
        assert_eq!(to(AwaitingConfirmation, &ex[0]), Ok(Processing));
        assert_eq!(to(Processing, &ex[1]), Ok(AwaitingCorrection));
        assert_eq!(to(AwaitingCorrection, &ex[2]), Ok(Processing));
        assert_eq!(to(Processing, &ex[3]), Ok(Consulting));
        assert_eq!(to(Consulting, &ex[4]), Ok(Consulting));
        assert_eq!(to(Consulting, &ex[5]), Ok(Processing));
        assert_eq!(to(Processing, &ex[6]), Ok(AwaitingPayment));
        assert_eq!(to(AwaitingPayment, &ex[7]), Ok(AwaitingPayment));
        assert_eq!(to(AwaitingPayment, &ex[8]), Ok(Processing));
        assert_eq!(to(AwaitingPayment, &ex[9]), Ok(Processing));
        assert_eq!(to(Consulting, &ex[10]), Ok(Consulting));
        assert_eq!(to(AwaitingPayment, &ex[11]), Ok(AwaitingPayment));
        assert_eq!(to(Processing, &ex[12]), Ok(Closed));
        assert_eq!(to(AwaitingConfirmation, &ex[15]), Ok(Closed));
    }

    #[test]
    fn a_longer_period_of_art_35_is_refused_after_the_due_date() {
        let cal = Calendar::weekends_only();
        let ctx = ActionContext {
            today: d("2025-12-31"),
            calendar: &cal,
            actor_is_approver: true,
            actor_name: "approver",
            nth_in_month: 1,
            delivery_allowance: 0,
        };
        // Received Monday 2025-03-03: due on the 20th working day, Monday 2025-03-31.
        let wf = in_state(State::Processing, &cal);
        let set = |on: &str| {
            apply(
                &wf,
                d(on),
                &Action::OverrideDeadline {
                    due_date: d("2025-06-30"),
                    reason: "申请数量众多".into(),
                },
                &ctx,
            )
            .map(|_| ())
            .map_err(|r| r.code())
        };
        assert_eq!(set("2025-03-31"), Ok(()), "on the due date itself");
        assert_eq!(set("2025-04-01"), Err("due_date_passed"));
    }

    fn due(wf: &Workflow, cal: &Calendar) -> Option<NaiveDate> {
        current_due_date(wf, cal).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn an_extension_granted_before_a_correction_does_not_survive_the_restart() {
        let cal = Calendar::weekends_only();
        let ctx = ActionContext {
            today: d("2025-12-31"),
            calendar: &cal,
            actor_is_approver: true,
            actor_name: "approver",
            nth_in_month: 1,
            delivery_allowance: 0,
        };
        let received = Workflow::new(d("2025-03-03"), Some(d("2025-03-03")));
        let extended = apply(
            &received,
            d("2025-03-04"),
            &Action::Extend {
                days: 10,
                reason: "调取档案".into(),
            },
            &ctx,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            due(&extended, &cal),
            cal.add_working_days(d("2025-03-03"), 30).ok()
        );
        let asked = apply(
            &extended,
            d("2025-03-05"),
            &Action::RequestCorrection {
                items: vec!["写明文号".into()],
                reply_by: d("2025-03-14"),
            },
            &ctx,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let corrected = apply(&asked, d("2025-03-10"), &Action::ReceiveCorrection, &ctx)
            .unwrap_or_else(|e| panic!("{e:?}"));
        // 20 working days from the corrected application, not 30.
        assert_eq!(
            due(&corrected, &cal),
            cal.add_working_days(d("2025-03-10"), 20).ok()
        );
        let trace = clock::compute(&corrected.clock, &cal, d("2025-03-10"))
            .unwrap_or_else(|e| panic!("{e}"))
            .trace;
        assert!(trace.iter().any(|t| t.rule == "extension.superseded"));
        // A new extension may be granted within the restarted period.
        let again = apply(
            &corrected,
            d("2025-03-11"),
            &Action::Extend {
                days: 20,
                reason: "涉及多个部门".into(),
            },
            &ctx,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            due(&again, &cal),
            cal.add_working_days(d("2025-03-10"), 40).ok()
        );
    }

    #[test]
    fn an_application_received_before_15_may_2019_is_timed_by_the_2008_regulation() {
        let cal = Calendar::weekends_only();
        let ctx = ActionContext {
            today: d("2025-12-31"),
            calendar: &cal,
            actor_is_approver: true,
            actor_name: "approver",
            nth_in_month: 1,
            delivery_allowance: 0,
        };
        let old = Workflow::new(d("2019-05-14"), Some(d("2019-05-14")));
        let new = Workflow::new(d("2019-05-15"), Some(d("2019-05-15")));
        assert_eq!(
            due(&old, &cal),
            cal.add_working_days(d("2019-05-14"), 15).ok()
        );
        assert_eq!(
            due(&new, &cal),
            cal.add_working_days(d("2019-05-15"), 20).ok()
        );
        let extend = |wf: &Workflow, days: u32| {
            apply(
                wf,
                d("2019-05-20"),
                &Action::Extend {
                    days,
                    reason: "调取档案".into(),
                },
                &ctx,
            )
            .map(|w| due(&w, &cal))
            .map_err(|r| r.code())
        };
        assert_eq!(extend(&old, 16), Err("extension_too_long"));
        assert_eq!(
            extend(&old, 15),
            Ok(cal.add_working_days(d("2019-05-14"), 30).ok())
        );
        assert_eq!(
            extend(&new, 20),
            Ok(cal.add_working_days(d("2019-05-15"), 40).ok())
        );
        let trace = clock::compute(&old.clock, &cal, d("2019-05-14"))
            .unwrap_or_else(|e| panic!("{e}"))
            .trace;
        let period = trace
            .iter()
            .find(|t| t.rule == "reply_period")
            .unwrap_or_else(|| panic!("no reply_period"));
        assert_eq!(period.working_days, Some(15));
        assert_eq!(
            period.article,
            Some("《政府信息公开条例》（2008年）第二十四条")
        );
    }

    fn ctx_on(cal: &Calendar, today: &str) -> ActionContext<'static> {
        // A leaked calendar keeps the helper simple; tests only.
        let cal: &'static Calendar = Box::leak(Box::new(cal.clone()));
        ActionContext {
            today: d(today),
            calendar: cal,
            actor_is_approver: true,
            actor_name: "approver",
            nth_in_month: 12,
            delivery_allowance: 3,
        }
    }

    fn code(r: Result<Workflow, Refusal>) -> Result<State, &'static str> {
        r.map(|w| w.state).map_err(|e| e.code())
    }

    #[test]
    fn no_reply_waits_for_15_working_days_from_the_consulted_partys_receipt() {
        let cal = Calendar::weekends_only();
        let ctx = ctx_on(&cal, "2025-12-31");
        let received = Workflow::new(d("2025-03-03"), Some(d("2025-03-03")));
        let start = |received_on: Option<&str>| {
            apply(
                &received,
                d("2025-03-04"),
                &Action::StartConsultation {
                    party: Party::ThirdParty,
                    whom: "某公司".into(),
                    received_on: received_on.map(d),
                },
                &ctx,
            )
            .unwrap_or_else(|e| panic!("{e:?}"))
        };
        let no_reply = |wf: &Workflow, on: NaiveDate| {
            code(apply(
                wf,
                on,
                &Action::EndConsultation {
                    opinion: Opinion::NoReply,
                },
                &ctx,
            ))
        };
        // Received Friday 2025-03-07: the 15 working days end on 2025-03-28.
        let known = start(Some("2025-03-07"));
        let end = cal
            .add_working_days(d("2025-03-07"), 15)
            .unwrap_or_default();
        assert_eq!(no_reply(&known, end), Err("consultation_window_not_passed"));
        assert_eq!(
            no_reply(&known, end.succ_opt().unwrap_or_default()),
            Ok(State::Processing)
        );
        // Receipt unknown: sent + 3 working days of delivery + 15.
        let unknown = start(None);
        let assumed = cal
            .add_working_days(d("2025-03-04"), 18)
            .unwrap_or_default();
        assert_eq!(
            no_reply(&unknown, assumed),
            Err("consultation_window_not_passed")
        );
        // Recording the receipt later makes the window exact.
        let recorded = apply(
            &unknown,
            d("2025-03-10"),
            &Action::RecordConsultationReceipt {
                received_on: d("2025-03-05"),
            },
            &ctx,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let exact = cal
            .add_working_days(d("2025-03-05"), 15)
            .unwrap_or_default();
        assert_eq!(
            no_reply(&recorded, exact.succ_opt().unwrap_or_default()),
            Ok(State::Processing)
        );
        let deadline =
            clock::compute(&unknown.clock, &cal, d("2025-03-10")).unwrap_or_else(|e| panic!("{e}"));
        assert!(deadline.consultation_window_provisional);
        assert!(
            deadline
                .trace
                .iter()
                .any(|t| t.rule == "window.consultation")
        );
        // A receipt before sending, or after the day it is recorded, is a field error.
        let bad = apply(
            &unknown,
            d("2025-03-10"),
            &Action::RecordConsultationReceipt {
                received_on: d("2025-03-03"),
            },
            &ctx,
        );
        assert_eq!(bad.map(|_| ()).map_err(|e| e.code()), Err("before_sending"));
    }

    #[test]
    fn a_fee_is_paid_within_20_working_days_of_receipt_and_not_before_the_measures() {
        let cal = Calendar::weekends_only();
        let ctx = ctx_on(&cal, "2025-12-31");
        let received = Workflow::new(d("2025-03-03"), Some(d("2025-03-03")));
        let notice = Action::IssueFeeNotice {
            basis: FeeBasis::PerPiece,
            amount_fen: 10_000,
            pages: None,
            received_on: Some(d("2025-03-06")),
        };
        let pending =
            apply(&received, d("2025-03-04"), &notice, &ctx).unwrap_or_else(|e| panic!("{e:?}"));
        let end = cal
            .add_working_days(d("2025-03-06"), 20)
            .unwrap_or_default();
        let after = end.succ_opt().unwrap_or_default();
        let pay = |on: NaiveDate| {
            code(apply(
                &pending,
                on,
                &Action::RecordPayment { amount_fen: 10_000 },
                &ctx,
            ))
        };
        assert_eq!(pay(end), Ok(State::Processing));
        assert_eq!(pay(after), Err("payment_window_passed"));
        assert_eq!(
            code(apply(&pending, end, &Action::CloseUnpaid, &ctx)),
            Err("payment_deadline_not_passed")
        );
        assert_eq!(
            code(apply(&pending, after, &Action::CloseUnpaid, &ctx)),
            Ok(State::Closed)
        );
        // No fee notice before the Measures came into force on 2021-01-01.
        let old = Workflow::new(d("2020-12-28"), Some(d("2020-12-28")));
        assert_eq!(
            code(apply(&old, d("2020-12-31"), &notice, &ctx)),
            Err("fee_rules_not_in_force")
        );
    }

    #[test]
    fn a_foreign_field_of_reply_is_refused_by_the_constructor() {
        let r = Action::reply(
            Disposition::Granted,
            None,
            None,
            Some("邮寄"),
            None,
            Some("0b5c1f4e-0000-4000-8000-000000000000".into()),
            None,
        );
        assert_eq!(
            r.map_err(|v| v.into_iter().map(|e| (e.field, e.code)).collect::<Vec<_>>()),
            Err(vec![("repeats_request_id".to_string(), "not_allowed")])
        );
        assert!(Action::extend(0, "x").is_err());
        assert!(Action::extend(21, "x").is_ok(), "too long is the law's 409");
        assert!(Action::request_correction(d("2025-03-05"), &[], d("2025-03-06")).is_err());
        assert!(
            Action::issue_fee_notice(d("2025-03-05"), FeeBasis::PerPage, 100, None, None).is_err()
        );
    }
}
