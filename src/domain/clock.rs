//! The statutory clock (答复期限): when the reply to one application is due.
//!
//! A pure function of the recorded facts of one application and the [`Calendar`] (domain §4,
//! Regulation art. 30–35, the fee Measures). Periods in working days start the day **after**
//! the event (the event day is day 0), so the due date is always a working day, unless the
//! office set another one (art. 35).
//!
//! Two entry points: [`due_date`], the allocation-free hot path used when listing and sorting
//! open applications, and [`compute`], which also returns the windows, the days left and a
//! [`TraceStep`] for every rule applied, for `GET /requests/{id}/deadline`. Both run the same
//! walk, so they never disagree.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::calendar::{Calendar, CalendarError};
use super::text::Text;
use crate::text;

/// Reply period (答复期限): 20 working days from receipt (《条例》第三十三条第一款).
pub const REPLY_PERIOD_WORKING_DAYS: u32 = 20;
/// Longest extension (延期) the head of the disclosure office may approve, once (第三十三条).
pub const MAX_EXTENSION_WORKING_DAYS: u32 = 20;
/// The 2008 Regulation (国务院令第492号) art. 24: 15 working days, one extension of at most 15.
pub const REPLY_PERIOD_WORKING_DAYS_2008: u32 = 15;
/// The longest extension under the 2008 Regulation (art. 24).
pub const MAX_EXTENSION_WORKING_DAYS_2008: u32 = 15;

/// The day the 2019 revision (国务院令第711号) came into force; applications received before it
/// are timed by the 2008 Regulation.
pub fn regulation_2019_in_force() -> NaiveDate {
    NaiveDate::from_ymd_opt(2019, 5, 15).unwrap_or(NaiveDate::MIN)
}

/// Which Regulation times an application: the one in force on its receipt date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// 《政府信息公开条例》（2019年修订）, from 2019-05-15.
    #[serde(rename = "2019")]
    Revised2019,
    /// 《政府信息公开条例》（2008年）, before 2019-05-15.
    #[serde(rename = "2008")]
    Original2008,
}

impl Regime {
    pub fn of(facts: &ClockFacts) -> Regime {
        match facts.receipt_date {
            Some(r) if r < regulation_2019_in_force() => Regime::Original2008,
            _ => Regime::Revised2019,
        }
    }

    pub fn reply_period(self) -> u32 {
        match self {
            Regime::Revised2019 => REPLY_PERIOD_WORKING_DAYS,
            Regime::Original2008 => REPLY_PERIOD_WORKING_DAYS_2008,
        }
    }

    pub fn max_extension(self) -> u32 {
        match self {
            Regime::Revised2019 => MAX_EXTENSION_WORKING_DAYS,
            Regime::Original2008 => MAX_EXTENSION_WORKING_DAYS_2008,
        }
    }

    /// The article that sets the reply period and the extension.
    pub fn article(self) -> &'static str {
        match self {
            Regime::Revised2019 => "《条例》第三十三条第一款",
            Regime::Original2008 => "《政府信息公开条例》（2008年）第二十四条",
        }
    }
}
/// A correction notice (补正通知) must be sent within 7 working days of receipt (第三十条).
pub const CORRECTION_NOTICE_WINDOW: u32 = 7;
/// A consulted third party or agency has 15 working days to answer (第三十二条、第三十四条);
/// after that the pause ends whether or not it answered.
pub const CONSULTATION_WINDOW: u32 = 15;
/// An applicant has 20 working days to pay a fee notice (《政府信息公开信息处理费管理办法》);
/// after that the application is deemed withdrawn, so a fee pause never lasts longer unless
/// payment was recorded later.
pub const PAYMENT_WINDOW: u32 = 20;

/// The recorded facts of one application that the clock depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClockFacts {
    /// Receipt date (收到申请之日, 《条例》第三十一条). `None`: awaiting confirmation, the clock
    /// has not started.
    pub receipt_date: Option<NaiveDate>,
    /// The correction round (补正, 第三十条), at most one.
    pub correction: Option<CorrectionFacts>,
    /// Consultations (第三十二条、第三十四条) and fee notices, in any order.
    pub pauses: Vec<Pause>,
    /// The extension (延期), at most one, 1..=20 working days.
    pub extension: Option<Extension>,
    /// An extension granted before a correction was asked for: the period restarted by the
    /// correction (第三十条) does not carry it, and a new one may be granted within it.
    pub superseded_extension: Option<Extension>,
    /// A reply period set by the office for numerous applications (第三十五条).
    pub deadline_override: Option<DeadlineOverride>,
    /// Date of the reply or other closure, if closed.
    pub closed_on: Option<NaiveDate>,
}

/// A correction request (补正通知) and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionFacts {
    /// Day the correction notice was sent.
    pub requested_on: NaiveDate,
    /// The reasonable deadline it gave the applicant.
    pub reply_by: NaiveDate,
    /// Day the corrected application was received; the clock restarts from it.
    pub received_on: Option<NaiveDate>,
}

/// Why the clock is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PauseKind {
    /// 征求第三方意见 (第三十二条): at most [`CONSULTATION_WINDOW`] working days.
    #[serde(rename = "third_party")]
    ThirdPartyConsultation,
    /// 征求其他机关意见 (第三十四条): at most [`CONSULTATION_WINDOW`] working days.
    #[serde(rename = "other_agency")]
    OtherAgencyConsultation,
    /// 收费通知 (fee Measures): until payment or waiver, at most [`PAYMENT_WINDOW`] working
    /// days while open.
    #[serde(rename = "fee_notice")]
    FeeNotice,
}

impl PauseKind {
    /// Stable code, as serialized.
    pub const fn code(self) -> &'static str {
        match self {
            PauseKind::ThirdPartyConsultation => "third_party",
            PauseKind::OtherAgencyConsultation => "other_agency",
            PauseKind::FeeNotice => "fee_notice",
        }
    }

    pub fn is_consultation(self) -> bool {
        !matches!(self, PauseKind::FeeNotice)
    }

    /// The longest the pause can last, in working days after it starts.
    const fn window(self) -> u32 {
        match self {
            PauseKind::FeeNotice => PAYMENT_WINDOW,
            _ => CONSULTATION_WINDOW,
        }
    }
}

/// A period during which the clock does not run: it removes the working days in
/// `(started_on, effective end]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// Consultation or fee notice.
    pub kind: PauseKind,
    /// Day the consultation letter or the fee notice was sent; it still counts.
    pub started_on: NaiveDate,
    /// Day the answer arrived, or the fee was paid or waived; it does not count. `None`: open.
    pub ended_on: Option<NaiveDate>,
    /// Day the consulted party or the applicant received the letter or notice: its window (15
    /// or 20 working days) runs from the day after (第三十二条; 收费办法第十条). `None`: not known.
    #[serde(default)]
    pub received_on: Option<NaiveDate>,
    /// While the receipt is not known, the working days assumed for delivery after sending
    /// (the setting in force when the letter went out); the window is then provisional.
    #[serde(default)]
    pub delivery_allowance: u32,
}

impl Pause {
    /// A pause that starts on `started_on`, with the letter's receipt if known.
    pub fn new(
        kind: PauseKind,
        started_on: NaiveDate,
        received_on: Option<NaiveDate>,
        delivery_allowance: u32,
    ) -> Pause {
        Pause {
            kind,
            started_on,
            ended_on: None,
            received_on,
            delivery_allowance,
        }
    }

    /// The other side's window (the consulted party's 15 working days, the applicant's 20 to
    /// pay) and whether it is provisional: from the recorded receipt, else from sending plus
    /// the delivery allowance.
    pub fn window_end(&self, cal: &Calendar) -> Result<(NaiveDate, bool), CalendarError> {
        match self.received_on {
            Some(r) => Ok((cal.add_working_days(r, self.kind.window())?, false)),
            None => Ok((
                cal.add_working_days(
                    self.started_on,
                    self.delivery_allowance + self.kind.window(),
                )?,
                true,
            )),
        }
    }
}

/// The one extension (延期) of the reply period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// Working days added, 1..=[`MAX_EXTENSION_WORKING_DAYS`].
    pub days: u32,
    /// Day the head of the disclosure office approved it.
    pub approved_on: NaiveDate,
    /// Who approved it.
    pub approved_by: String,
    /// Why the 20 days did not suffice.
    pub reason: String,
}

/// A reply period set by the office for numerous applications (第三十五条).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineOverride {
    /// The due date the office set; it replaces the computed one.
    pub due_date: NaiveDate,
    /// Day it was set.
    pub set_on: NaiveDate,
    /// Why, as told to the applicant.
    pub reason: String,
}

/// Where the clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStatus {
    /// No receipt date yet (awaiting confirmation).
    NotStarted,
    /// Counting.
    Running,
    /// A consultation or fee notice is open.
    Paused,
    /// A correction was asked for and not yet received: no clock runs.
    AwaitingCorrection,
    /// The application is closed.
    Stopped,
}

/// The rule that fixed the clock start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStartRule {
    /// The receipt date (第三十一条、第三十三条).
    Receipt,
    /// The receipt of the corrected application (第三十条).
    CorrectionReceived,
}

/// One step of the explanation of a [`Deadline`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceStep {
    /// 1-based position.
    pub step: u32,
    /// Stable code: `receipt`, `clock_start.receipt`, `clock_start.correction_received`,
    /// `correction.requested`, `reply_period`, `pause.third_party`, `pause.other_agency`,
    /// `pause.fee_notice`, `window.consultation`, `window.payment`, `pause.open`,
    /// `extension.superseded`, `extension`, `override`, `due_date`, `provisional`; after a
    /// reply, `remedy.review` and `remedy.litigation` (the applicant's limits); each issued
    /// notice as `notice.issued` or `notice.served` (with its number and service date).
    pub rule: &'static str,
    /// The date the step starts from or happened on.
    pub date: Option<NaiveDate>,
    /// The date the step runs to, if it is a span.
    pub until: Option<NaiveDate>,
    /// Working days the step adds (or removes, for pauses: the days not counted).
    pub working_days: Option<i64>,
    /// The sentence in Chinese (the same as `detail_zh`; kept for clients of the combined
    /// field).
    pub detail: String,
    /// The sentence in Chinese.
    pub detail_zh: String,
    /// The sentence in English.
    pub detail_en: String,
    /// The legal basis, e.g. 《条例》第三十三条第一款.
    pub article: Option<&'static str>,
}

impl TraceStep {
    /// A step explained in both languages; `detail` is the Chinese.
    pub fn new(
        step: u32,
        rule: &'static str,
        (date, until, working_days): (Option<NaiveDate>, Option<NaiveDate>, Option<i64>),
        detail: Text,
        article: Option<&'static str>,
    ) -> Self {
        let detail_en = detail.en().to_string();
        let detail_zh = detail.zh().unwrap_or(detail.en()).to_string();
        TraceStep {
            step,
            rule,
            date,
            until,
            working_days,
            detail: detail_zh.clone(),
            detail_zh,
            detail_en,
            article,
        }
    }
}

/// The computed deadline of one application, with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// Where the clock stands.
    pub status: ClockStatus,
    /// Receipt date (收到申请之日).
    pub receipt_date: Option<NaiveDate>,
    /// The day the reply period counts from (day 0).
    pub clock_start: Option<NaiveDate>,
    /// Why the clock starts there.
    pub clock_start_rule: Option<ClockStartRule>,
    /// The statutory reply period, 20 working days.
    pub reply_period_days: u32,
    /// Working days added by the extension (0 without one).
    pub extension_days: u32,
    /// Working days not counted because of pauses.
    pub paused_working_days: u32,
    /// The due date (答复期限届满日): the override when there is one, else the computed one.
    pub due_date: Option<NaiveDate>,
    /// The due date computed by the rules, before any override.
    pub computed_due_date: Option<NaiveDate>,
    /// A computed date relied on a day whose year has no loaded holiday notice.
    pub provisional: bool,
    /// Working days from today to the due date; negative: working days overdue. `None` when
    /// closed or without a due date.
    pub working_days_remaining: Option<i64>,
    /// Open and today is after the due date.
    pub overdue: bool,
    /// Closed after the due date.
    pub late: bool,
    /// Last day a correction notice may be sent: receipt + 7 working days.
    pub correction_window_end: Option<NaiveDate>,
    /// The deadline the correction notice gave the applicant.
    pub correction_reply_by: Option<NaiveDate>,
    /// Last day to pay the open (else the latest) fee notice: notice + 20 working days.
    pub payment_window_end: Option<NaiveDate>,
    /// End of the 15-day window of the open (else the latest) consultation.
    pub consultation_window_end: Option<NaiveDate>,
    /// The consulted party's receipt of that letter is not recorded: the window counts from
    /// sending plus the delivery allowance.
    pub consultation_window_provisional: bool,
    /// The applicant's receipt of that fee notice is not recorded: the window counts from
    /// sending plus the delivery allowance.
    pub payment_window_provisional: bool,
    /// Every rule applied, in order.
    pub trace: Vec<TraceStep>,
}

/// Why a deadline could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// A date, or a date computed from it, is outside the calendar's supported range.
    #[error("calendar: {0}")]
    Calendar(#[from] CalendarError),
    /// A correction, pause, extension or override is recorded without a receipt date.
    #[error("inconsistent facts: a {fact} is recorded but the receipt date is not")]
    MissingReceipt {
        /// What is recorded: `correction`, `pause`, `extension` or `deadline override`.
        fact: &'static str,
    },
    /// The correction notice predates the receipt.
    #[error(
        "inconsistent facts: correction requested on {requested_on}, before the receipt date {receipt_date}"
    )]
    CorrectionBeforeReceipt {
        /// Day the correction was requested.
        requested_on: NaiveDate,
        /// Receipt date.
        receipt_date: NaiveDate,
    },
    /// The correction deadline predates the correction notice.
    #[error(
        "inconsistent facts: correction reply-by date {reply_by} is before the request on {requested_on}"
    )]
    CorrectionReplyByBeforeRequest {
        /// Day the correction was requested.
        requested_on: NaiveDate,
        /// The deadline given.
        reply_by: NaiveDate,
    },
    /// The corrected application arrived before it was asked for.
    #[error(
        "inconsistent facts: correction received on {received_on}, before it was requested on {requested_on}"
    )]
    CorrectionReceivedBeforeRequest {
        /// Day the correction was requested.
        requested_on: NaiveDate,
        /// Day it was received.
        received_on: NaiveDate,
    },
    /// A pause starts before the receipt date.
    #[error(
        "inconsistent facts: pause {index} starts on {started_on}, before the receipt date {receipt_date}"
    )]
    PauseBeforeReceipt {
        /// Position in `pauses`.
        index: usize,
        /// Its start.
        started_on: NaiveDate,
        /// Receipt date.
        receipt_date: NaiveDate,
    },
    /// A pause ends before it starts.
    #[error(
        "inconsistent facts: pause {index} ends on {ended_on}, before it starts on {started_on}"
    )]
    PauseEndsBeforeStart {
        /// Position in `pauses`.
        index: usize,
        /// Its start.
        started_on: NaiveDate,
        /// Its end.
        ended_on: NaiveDate,
    },
    /// The extension is empty or longer than the law allows.
    #[error("inconsistent facts: an extension of {days} working days; it must be 1 to 20")]
    ExtensionDaysOutOfRange {
        /// The recorded days.
        days: u32,
    },
    /// The override due date is before the receipt date.
    #[error(
        "inconsistent facts: override due date {due_date} is before the receipt date {receipt_date}"
    )]
    OverrideBeforeReceipt {
        /// The override due date.
        due_date: NaiveDate,
        /// Receipt date.
        receipt_date: NaiveDate,
    },
    /// The application closed before it was received.
    #[error("inconsistent facts: closed on {closed_on}, before the receipt date {receipt_date}")]
    ClosedBeforeReceipt {
        /// Closure date.
        closed_on: NaiveDate,
        /// Receipt date.
        receipt_date: NaiveDate,
    },
}

/// Checks the facts that the computation relies on; no allocation.
fn check(facts: &ClockFacts) -> Result<(), ClockError> {
    let Some(receipt_date) = facts.receipt_date else {
        let fact = if facts.correction.is_some() {
            Some("correction")
        } else if !facts.pauses.is_empty() {
            Some("pause")
        } else if facts.extension.is_some() {
            Some("extension")
        } else if facts.deadline_override.is_some() {
            Some("deadline override")
        } else {
            None
        };
        return match fact {
            Some(fact) => Err(ClockError::MissingReceipt { fact }),
            None => Ok(()),
        };
    };
    if let Some(c) = &facts.correction {
        if c.requested_on < receipt_date {
            return Err(ClockError::CorrectionBeforeReceipt {
                requested_on: c.requested_on,
                receipt_date,
            });
        }
        if c.reply_by < c.requested_on {
            return Err(ClockError::CorrectionReplyByBeforeRequest {
                requested_on: c.requested_on,
                reply_by: c.reply_by,
            });
        }
        if let Some(received_on) = c.received_on.filter(|&r| r < c.requested_on) {
            return Err(ClockError::CorrectionReceivedBeforeRequest {
                requested_on: c.requested_on,
                received_on,
            });
        }
    }
    for (index, p) in facts.pauses.iter().enumerate() {
        if p.started_on < receipt_date {
            return Err(ClockError::PauseBeforeReceipt {
                index,
                started_on: p.started_on,
                receipt_date,
            });
        }
        if let Some(ended_on) = p.ended_on.filter(|&e| e < p.started_on) {
            return Err(ClockError::PauseEndsBeforeStart {
                index,
                started_on: p.started_on,
                ended_on,
            });
        }
    }
    if let Some(e) = &facts.extension
        && (e.days == 0 || e.days > Regime::of(facts).max_extension())
    {
        return Err(ClockError::ExtensionDaysOutOfRange { days: e.days });
    }
    if let Some(o) = &facts.deadline_override
        && o.due_date < receipt_date
    {
        return Err(ClockError::OverrideBeforeReceipt {
            due_date: o.due_date,
            receipt_date,
        });
    }
    if let Some(closed_on) = facts.closed_on.filter(|&c| c < receipt_date) {
        return Err(ClockError::ClosedBeforeReceipt {
            closed_on,
            receipt_date,
        });
    }
    Ok(())
}

/// The clock start and its rule; `None` when no clock runs (not received, or a correction is
/// outstanding).
fn clock_start(facts: &ClockFacts) -> Option<(NaiveDate, ClockStartRule)> {
    let receipt = facts.receipt_date?;
    match &facts.correction {
        None => Some((receipt, ClockStartRule::Receipt)),
        Some(c) => c
            .received_on
            .map(|r| (r, ClockStartRule::CorrectionReceived)),
    }
}

/// How a pause's effective end was fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PauseEnd {
    /// The answer arrived, or the fee was paid or waived, on `ended_on`.
    Recorded,
    /// The consultation answer came after the 15-day window (or not yet): the window's end.
    WindowExpired,
    /// Still open: its latest possible end.
    OpenLatest,
}

/// The working days a pause removes: `(from, to]`.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// The pause start, clipped to the clock start.
    from: NaiveDate,
    /// The effective end.
    to: NaiveDate,
    end: PauseEnd,
}

/// The latest end a pause can have: the end of the other side's window.
fn latest_end(p: &Pause, cal: &Calendar) -> Result<NaiveDate, CalendarError> {
    p.window_end(cal).map(|(end, _)| end)
}

/// A pause's effective window after the clock start, or `None` if it removes nothing.
fn pause_window(p: &Pause, start: NaiveDate, cal: &Calendar) -> Result<Option<Window>, ClockError> {
    let (to, end) = match (p.kind, p.ended_on) {
        (PauseKind::FeeNotice, Some(e)) => (e, PauseEnd::Recorded),
        (_, Some(e)) => {
            let latest = latest_end(p, cal)?;
            if e > latest {
                (latest, PauseEnd::WindowExpired)
            } else {
                (e, PauseEnd::Recorded)
            }
        }
        (_, None) => (latest_end(p, cal)?, PauseEnd::OpenLatest),
    };
    let from = p.started_on.max(start);
    Ok((to > from).then_some(Window { from, to, end }))
}

/// Counts `period` working days from `start`, skipping the working days inside pauses, and
/// returns the day the period is used up. Overlapping pauses are merged: the walk jumps to the
/// end of the earliest pause still ahead, so no day is removed twice. Each pause that removed
/// days is reported to `seen` with its index, its clipped window and the days it removed.
///
/// O(k²) in the number of pauses (a handful at most) and allocation-free.
fn walk(
    start: NaiveDate,
    period: u32,
    pauses: &[Pause],
    cal: &Calendar,
    mut seen: impl FnMut(usize, Window, u32),
) -> Result<NaiveDate, ClockError> {
    let mut cur = start;
    let mut remaining = period;
    loop {
        let mut next: Option<(usize, Window)> = None;
        for (i, p) in pauses.iter().enumerate() {
            if p.ended_on.is_some_and(|e| e <= cur) {
                continue; // over before the walk got here: its window ends no later
            }
            if let Some(w) = pause_window(p, start, cal)?
                && w.to > cur
                && next.is_none_or(|(_, n)| w.from < n.from)
            {
                next = Some((i, w));
            }
        }
        let Some((i, w)) = next else {
            return Ok(cal.add_working_days(cur, remaining)?);
        };
        let from = w.from.max(cur);
        let available = cal.count_working_days(cur, from)?;
        if remaining <= available {
            // The period is used up before this pause starts: it no longer matters.
            return Ok(cal.add_working_days(cur, remaining)?);
        }
        remaining -= available;
        let removed = cal.count_working_days(from, w.to)?;
        seen(i, Window { from, ..w }, removed);
        cur = w.to;
    }
}

/// The working days the period lasts: 20 (15 under the 2008 Regulation) plus the extension.
fn period(facts: &ClockFacts) -> u32 {
    Regime::of(facts).reply_period() + facts.extension.as_ref().map_or(0, |e| e.days)
}

/// The due date (答复期限届满日) of an application, or `None` when no clock runs (receipt not
/// confirmed, or a correction outstanding). An override (第三十五条) replaces the computed
/// date; an open pause is assumed to last as long as it can, so the date is the latest
/// possible one. The hot path: allocation-free, O(1) per pause pair.
pub fn due_date(facts: &ClockFacts, cal: &Calendar) -> Result<Option<NaiveDate>, ClockError> {
    check(facts)?;
    let Some((start, _)) = clock_start(facts) else {
        return Ok(None);
    };
    let computed = walk(start, period(facts), &facts.pauses, cal, |_, _, _| {})?;
    Ok(Some(
        facts
            .deadline_override
            .as_ref()
            .map_or(computed, |o| o.due_date),
    ))
}

/// Builds the trace, numbering the steps.
struct Trace(Vec<TraceStep>);

impl Trace {
    fn push(
        &mut self,
        rule: &'static str,
        date: Option<NaiveDate>,
        until: Option<NaiveDate>,
        working_days: Option<i64>,
        detail: Text,
        article: Option<&'static str>,
    ) {
        let step = u32::try_from(self.0.len() + 1).unwrap_or(u32::MAX);
        self.0.push(TraceStep::new(
            step,
            rule,
            (date, until, working_days),
            detail,
            article,
        ));
    }
}

/// Tracks whether the result relied on a date no loaded notice covers, and the first such date.
struct Coverage<'a> {
    cal: &'a Calendar,
    first_uncovered: Option<NaiveDate>,
}

impl Coverage<'_> {
    /// Notes the days `(a, b]` as relied upon.
    fn rely(&mut self, a: NaiveDate, b: NaiveDate) -> Result<(), ClockError> {
        if a < b
            && let Some(d) = self.cal.first_uncovered(a, b)?
        {
            self.first_uncovered = Some(self.first_uncovered.map_or(d, |f| f.min(d)));
        }
        Ok(())
    }
}

/// The full deadline of an application as of `today`: status, due date, windows, days left,
/// and the trace that explains it.
///
/// `provisional` is set when any computed date — the due date, or a correction, consultation
/// or payment window end — relied on a day whose year has no loaded notice.
pub fn compute(
    facts: &ClockFacts,
    cal: &Calendar,
    today: NaiveDate,
) -> Result<Deadline, ClockError> {
    check(facts)?;
    let mut trace = Trace(Vec::new());
    let mut coverage = Coverage {
        cal,
        first_uncovered: None,
    };
    let extension_days = facts.extension.as_ref().map_or(0, |e| e.days);
    let open_pause = facts.pauses.iter().any(|p| p.ended_on.is_none());
    let start = clock_start(facts);
    let status = if facts.closed_on.is_some() {
        ClockStatus::Stopped
    } else if facts.receipt_date.is_none() {
        ClockStatus::NotStarted
    } else if start.is_none() {
        ClockStatus::AwaitingCorrection
    } else if open_pause {
        ClockStatus::Paused
    } else {
        ClockStatus::Running
    };

    // Windows that do not depend on the walk.
    let mut correction_window_end = None;
    let mut consultation_window_end = None;
    let mut payment_window_end = None;
    if let Some(receipt) = facts.receipt_date {
        let end = cal.add_working_days(receipt, CORRECTION_NOTICE_WINDOW)?;
        coverage.rely(receipt, end)?;
        correction_window_end = Some(end);
    }
    // The open pause of each kind, else the latest started.
    let pick = |consultation: bool| {
        facts
            .pauses
            .iter()
            .filter(|p| p.kind.is_consultation() == consultation)
            .max_by_key(|p| (p.ended_on.is_none(), p.started_on))
    };
    let mut consultation_window_provisional = false;
    let mut payment_window_provisional = false;
    if let Some(p) = pick(true) {
        let (end, provisional) = p.window_end(cal)?;
        coverage.rely(p.started_on, end)?;
        consultation_window_end = Some(end);
        consultation_window_provisional = provisional;
    }
    if let Some(p) = pick(false) {
        let (end, provisional) = p.window_end(cal)?;
        coverage.rely(p.started_on, end)?;
        payment_window_end = Some(end);
        payment_window_provisional = provisional;
    }

    let Some(receipt) = facts.receipt_date else {
        trace.push(
            "receipt",
            None,
            None,
            None,
            text!(
                "尚未确认收到申请，答复期限尚未起算",
                "receipt not yet confirmed: the clock has not started"
            ),
            Some("《条例》第三十一条"),
        );
        return Ok(Deadline {
            status,
            receipt_date: None,
            clock_start: None,
            clock_start_rule: None,
            reply_period_days: Regime::of(facts).reply_period(),
            extension_days,
            paused_working_days: 0,
            due_date: None,
            computed_due_date: None,
            provisional: false,
            working_days_remaining: None,
            overdue: false,
            late: false,
            correction_window_end,
            correction_reply_by: None,
            payment_window_end,
            consultation_window_end,
            consultation_window_provisional,
            payment_window_provisional,
            trace: trace.0,
        });
    };

    trace.push(
        "receipt",
        Some(receipt),
        None,
        None,
        text!(
            "{receipt} 收到申请之日",
            "application received on {receipt}"
        ),
        Some("《条例》第三十一条"),
    );
    if let Some(c) = &facts.correction {
        let (timing_zh, timing_en) = match correction_window_end {
            Some(end) if c.requested_on > end => (
                format!("（晚于收到申请后7个工作日即{end}）"),
                format!(" (later than 7 working days after receipt, {end})"),
            ),
            _ => (String::new(), String::new()),
        };
        let (answer_zh, answer_en) = match c.received_on {
            Some(r) => (
                format!("，{r}收到补正"),
                format!("; corrected application received on {r}"),
            ),
            None => (
                "，尚未收到补正，答复期限暂不计算".to_string(),
                "; awaiting the correction: no clock runs".to_string(),
            ),
        };
        let (on, by) = (c.requested_on, c.reply_by);
        trace.push(
            "correction.requested",
            Some(c.requested_on),
            Some(c.reply_by),
            None,
            Text::new(
                format!("{on} 一次性告知补正，补正期限至{by}{timing_zh}{answer_zh}"),
                format!(
                    "correction requested on {on}, to be answered by {by}{timing_en}{answer_en}"
                ),
            ),
            Some("《条例》第三十条"),
        );
    }

    let mut paused_working_days = 0u32;
    let mut computed_due_date = None;
    if let Some((start, rule)) = start {
        match rule {
            ClockStartRule::Receipt => trace.push(
                "clock_start.receipt",
                Some(start),
                None,
                None,
                text!(
                    "答复期限自收到申请之日（{start}）起算，次日为第1个工作日",
                    "the clock starts on the receipt date {start}; day 1 is the next working day"
                ),
                Some("《条例》第三十三条第一款"),
            ),
            ClockStartRule::CorrectionReceived => trace.push(
                "clock_start.correction_received",
                Some(start),
                None,
                None,
                text!(
                    "答复期限自收到补正申请之日（{start}）重新起算",
                    "the clock restarts from the receipt of the corrected application on {start}"
                ),
                Some("《条例》第三十条"),
            ),
        }
        let regime = Regime::of(facts);
        let days = regime.reply_period();
        let plain_end = cal.add_working_days(start, days)?;
        let (law_zh, law_en) = match regime {
            Regime::Revised2019 => (String::new(), String::new()),
            Regime::Original2008 => {
                let d = regulation_2019_in_force();
                (
                    format!("；于{d}（2019年修订条例施行之日）前收到，适用2008年条例"),
                    format!(
                        "; received before {d} (the 2019 revision's entry into force): the 2008 Regulation applies"
                    ),
                )
            }
        };
        trace.push(
            "reply_period",
            Some(start),
            Some(plain_end),
            Some(i64::from(days)),
            Text::new(
                format!("答复期限为{days}个工作日（不计暂停与延期时至{plain_end}）{law_zh}"),
                format!(
                    "reply period of {days} working days ({plain_end} without pauses or extension){law_en}"
                ),
            ),
            Some(regime.article()),
        );

        let mut removed: Vec<Option<(Window, u32)>> = vec![None; facts.pauses.len()];
        let computed = walk(start, period(facts), &facts.pauses, cal, |i, w, n| {
            if let Some(slot) = removed.get_mut(i) {
                *slot = Some((w, n));
            }
        })?;
        coverage.rely(start, computed)?;

        let mut order: Vec<usize> = (0..facts.pauses.len()).collect();
        order.sort_by_key(|&i| (facts.pauses[i].started_on, i));
        for i in order {
            let p = &facts.pauses[i];
            let window = pause_window(p, start, cal)?;
            let effect = removed.get(i).copied().flatten();
            let days = effect.map_or(0, |(_, n)| n);
            paused_working_days += days;
            let until = window.map(|w| w.to).or(p.ended_on);
            trace.push(
                match p.kind {
                    PauseKind::ThirdPartyConsultation => "pause.third_party",
                    PauseKind::OtherAgencyConsultation => "pause.other_agency",
                    PauseKind::FeeNotice => "pause.fee_notice",
                },
                Some(p.started_on),
                until,
                Some(i64::from(days)),
                pause_detail(p, window, effect, start, computed),
                Some(match p.kind {
                    PauseKind::ThirdPartyConsultation => "《条例》第三十二条、第三十三条第二款",
                    PauseKind::OtherAgencyConsultation => "《条例》第三十四条、第三十三条第二款",
                    PauseKind::FeeNotice => "《政府信息公开信息处理费管理办法》",
                }),
            );
            let (window_end, _) = p.window_end(cal)?;
            let (rule, article, whose) = if p.kind.is_consultation() {
                (
                    "window.consultation",
                    match p.kind {
                        PauseKind::OtherAgencyConsultation => "《条例》第三十四条",
                        _ => "《条例》第三十二条",
                    },
                    (
                        "被征求意见方收到后15个工作日内提出意见",
                        "the consulted party answers within 15 working days of receiving the letter",
                    ),
                )
            } else {
                (
                    "window.payment",
                    "《政府信息公开信息处理费管理办法》第十条",
                    (
                        "申请人自收到收费通知次日起20个工作日内缴费",
                        "the applicant pays within 20 working days from the day after receiving the notice",
                    ),
                )
            };
            let basis = match p.received_on {
                Some(r) => text!("{r}收到", "received on {r}"),
                None => {
                    let n = p.delivery_allowance;
                    text!(
                        "收到日期未记录，按发出后{n}个工作日送达推定，结果为暂定",
                        "receipt not recorded: delivery assumed {n} working days after sending, so the window is provisional"
                    )
                }
            };
            trace.push(
                rule,
                Some(p.received_on.unwrap_or(p.started_on)),
                Some(window_end),
                Some(i64::from(p.kind.window())),
                Text::new(
                    format!(
                        "{}；{}；期限至{window_end}",
                        whose.0,
                        basis.zh().unwrap_or_default()
                    ),
                    format!(
                        "{}; {}; the window ends on {window_end}",
                        whose.1,
                        basis.en()
                    ),
                ),
                Some(article),
            );
            if p.ended_on.is_none() {
                trace.push(
                    "pause.open",
                    Some(p.started_on),
                    until,
                    None,
                    text!(
                        "暂停尚未结束，按最迟结束日{}计算，届满日为最迟可能日期",
                        "the pause is still open: it is assumed to last until its latest possible end, {}, so the due date is the latest possible one",
                        until.map_or_else(String::new, |d| d.to_string()),
                    ),
                    None,
                );
            }
        }

        if let Some(e) = &facts.superseded_extension {
            trace.push(
                "extension.superseded",
                Some(e.approved_on),
                None,
                Some(0),
                text!(
                    "{0}批准的{1}个工作日延期在补正之前，补正后答复期限重新起算，该延期不再适用",
                    "the extension of {1} working days approved on {0} preceded the correction: the restarted period does not carry it",
                    e.approved_on,
                    e.days
                ),
                Some("《条例》第三十条"),
            );
        }
        if let Some(e) = &facts.extension {
            trace.push(
                "extension",
                Some(e.approved_on),
                None,
                Some(i64::from(e.days)),
                text!(
                    "{0}经{1}批准延长{2}个工作日，理由：{3}",
                    "extended by {2} working days, approved by {1} on {0}: {3}",
                    e.approved_on,
                    e.approved_by,
                    e.days,
                    e.reason
                ),
                Some(Regime::of(facts).article()),
            );
        }
        computed_due_date = Some(computed);
    }

    let due = match (&facts.deadline_override, computed_due_date) {
        (Some(o), Some(computed)) => {
            trace.push(
                "override",
                Some(o.set_on),
                Some(o.due_date),
                None,
                text!(
                    "{0}另行确定答复期限至{1}（按规则计算为{computed}），理由：{2}",
                    "on {0} the office set the due date to {1} (computed: {computed}): {2}",
                    o.set_on,
                    o.due_date,
                    o.reason
                ),
                Some("《条例》第三十五条"),
            );
            Some(o.due_date)
        }
        (_, computed) => computed,
    };

    if let (Some(due), Some((start, _))) = (due, start) {
        let counted = if facts.deadline_override.is_some() {
            None
        } else {
            Some(i64::from(period(facts)))
        };
        trace.push(
            "due_date",
            Some(due),
            None,
            counted,
            text!(
                "答复期限届满日为{due}（不计暂停的{paused_working_days}个工作日）",
                "the reply is due by {due} ({paused_working_days} paused working days not counted since {start})"
            ),
            None,
        );
    }

    let provisional = coverage.first_uncovered.is_some();
    if let Some(d) = coverage.first_uncovered {
        trace.push(
            "provisional",
            Some(d),
            None,
            None,
            {
                let year = d.year();
                text!(
                    "{year}年节假日安排尚未载入，按仅周末休息计算，结果为暂定",
                    "no holiday notice for {year} is loaded: counted with weekends only, so the result is provisional"
                )
            },
            None,
        );
    }

    let closed = facts.closed_on.is_some();
    let working_days_remaining = match due {
        Some(due) if !closed => Some(if today <= due {
            i64::from(cal.count_working_days(today, due)?)
        } else {
            -i64::from(cal.count_working_days(due, today)?)
        }),
        _ => None,
    };
    let overdue = !closed && due.is_some_and(|d| today > d);
    let late = matches!((facts.closed_on, due), (Some(c), Some(d)) if c > d);

    Ok(Deadline {
        status,
        receipt_date: Some(receipt),
        clock_start: start.map(|(d, _)| d),
        clock_start_rule: start.map(|(_, r)| r),
        reply_period_days: Regime::of(facts).reply_period(),
        extension_days,
        paused_working_days,
        due_date: due,
        computed_due_date,
        provisional,
        working_days_remaining,
        overdue,
        late,
        correction_window_end,
        correction_reply_by: facts.correction.as_ref().map(|c| c.reply_by),
        payment_window_end,
        consultation_window_end,
        consultation_window_provisional,
        payment_window_provisional,
        trace: trace.0,
    })
}

/// The sentence explaining one pause.
fn pause_detail(
    p: &Pause,
    window: Option<Window>,
    effect: Option<(Window, u32)>,
    start: NaiveDate,
    due: NaiveDate,
) -> Text {
    let s = p.started_on;
    let what = match p.kind {
        PauseKind::ThirdPartyConsultation => {
            text!(
                "{s} 书面征求第三方意见",
                "third-party consultation sent on {s}"
            )
        }
        PauseKind::OtherAgencyConsultation => {
            text!("{s} 征求其他机关意见", "other agencies consulted on {s}")
        }
        PauseKind::FeeNotice => text!("{s} 发出收费通知", "fee notice sent on {s}"),
    };
    let (what_zh, what_en) = (what.zh().unwrap_or_default(), what.en());
    let Some(w) = window else {
        return text!(
            "{what_zh}；在答复期限起算（{start}）前已结束，不影响期限",
            "{what_en}; it ended before the clock start ({start}) and does not affect the period"
        );
    };
    let (from, to) = (w.from, w.to);
    let end = match (w.end, p.kind) {
        (PauseEnd::Recorded, PauseKind::FeeNotice) => {
            text!("{to} 缴费或免收", "paid or waived on {to}")
        }
        (PauseEnd::Recorded, _) => text!("{to} 收到意见", "answered on {to}"),
        (PauseEnd::WindowExpired, _) => text!(
            "{to}为{CONSULTATION_WINDOW}个工作日期满之日，此后不再暂停",
            "the {CONSULTATION_WINDOW}-working-day window ended on {to}"
        ),
        (PauseEnd::OpenLatest, PauseKind::FeeNotice) => text!(
            "尚未缴费，缴费期限至{to}",
            "not yet paid; payment is due by {to}"
        ),
        (PauseEnd::OpenLatest, _) => text!(
            "尚未答复，答复期限至{to}",
            "no answer yet; the window ends on {to}"
        ),
    };
    let effect = match effect {
        Some((_, n)) => text!(
            "{from}至{to}之间的{n}个工作日不计入答复期限",
            "the {n} working days after {from} up to {to} are not counted"
        ),
        None if w.from >= due => text!(
            "开始时答复期限已届满（{due}），不影响期限",
            "it began when the period had already run out ({due}) and does not affect it"
        ),
        None => text!(
            "该期间已被另一暂停覆盖，不重复扣除",
            "the period is already covered by another pause and is not removed twice"
        ),
    };
    Text::new(
        format!(
            "{what_zh}；{}；{}",
            end.zh().unwrap_or_default(),
            effect.zh().unwrap_or_default()
        ),
        format!("{what_en}; {}; {}", end.en(), effect.en()),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::calendar::tests::{d, original_2020, real_calendar, real_schedules};
    use proptest::prelude::*;

    fn received(date: &str) -> ClockFacts {
        ClockFacts {
            receipt_date: Some(d(date)),
            ..ClockFacts::default()
        }
    }

    fn pause(kind: PauseKind, start: &str, end: Option<&str>) -> Pause {
        Pause {
            kind,
            started_on: d(start),
            ended_on: end.map(d),
            received_on: None,
            delivery_allowance: 0,
        }
    }

    fn extension(days: u32) -> Extension {
        Extension {
            days,
            approved_on: d("2024-09-30"),
            approved_by: "公开办主任 张三".into(),
            reason: "涉及档案较多 / many files to search".into(),
        }
    }

    fn due(facts: &ClockFacts) -> NaiveDate {
        due_date(facts, real_calendar()).unwrap().unwrap()
    }

    /// Receipt, one correction, one consultation, one extension: verified by hand below.
    fn typical() -> ClockFacts {
        ClockFacts {
            receipt_date: Some(d("2024-09-02")),
            correction: Some(CorrectionFacts {
                requested_on: d("2024-09-04"),
                reply_by: d("2024-09-20"),
                received_on: Some(d("2024-09-10")),
            }),
            pauses: vec![pause(
                PauseKind::OtherAgencyConsultation,
                "2024-09-25",
                Some("2024-10-15"),
            )],
            extension: Some(extension(10)),
            ..ClockFacts::default()
        }
    }

    fn rules(deadline: &Deadline) -> Vec<&'static str> {
        deadline.trace.iter().map(|s| s.rule).collect()
    }

    #[test]
    fn receipt_the_day_before_the_spring_festival_counts_the_adjusted_sunday() {
        // 2024-02-10..17 off; Sunday 02-18 is working day 1; day 20 is 03-14.
        assert_eq!(due(&received("2024-02-09")), d("2024-03-14"));
    }

    #[test]
    fn receipt_on_an_adjusted_saturday_starts_counting_the_next_day() {
        // Saturday 2023-01-28 is a working day; Sunday 01-29 is day 1; day 20 is 02-23.
        assert_eq!(due(&received("2023-01-28")), d("2023-02-23"));
    }

    #[test]
    fn a_consultation_across_new_year_removes_its_working_days() {
        let mut facts = received("2025-12-15");
        assert_eq!(due(&facts), d("2026-01-13"));
        facts.pauses.push(pause(
            PauseKind::ThirdPartyConsultation,
            "2025-12-24",
            Some("2026-01-09"),
        ));
        // Removed: 12-25, 26, 29, 30, 31 and 2026-01-04 (Sunday worked), 05–09 = 11 days.
        let deadline = compute(&facts, real_calendar(), d("2026-01-05")).unwrap();
        assert_eq!(deadline.due_date, Some(d("2026-01-28")));
        assert_eq!(deadline.paused_working_days, 11);
        assert_eq!(deadline.consultation_window_end, Some(d("2026-01-15")));
        assert_eq!(deadline.status, ClockStatus::Running);
        assert!(!deadline.provisional);
        let step = &deadline.trace[3];
        assert_eq!(step.rule, "pause.third_party");
        assert_eq!(step.working_days, Some(11));
        assert_eq!(step.until, Some(d("2026-01-09")));
    }

    #[test]
    fn a_correction_received_after_national_day_restarts_the_full_period() {
        let facts = ClockFacts {
            receipt_date: Some(d("2025-09-22")),
            correction: Some(CorrectionFacts {
                requested_on: d("2025-09-24"),
                reply_by: d("2025-10-20"),
                received_on: Some(d("2025-10-09")),
            }),
            ..ClockFacts::default()
        };
        let deadline = compute(&facts, real_calendar(), d("2025-10-10")).unwrap();
        // Day 1 is Friday 10-10, day 2 Saturday 10-11 (worked), day 20 is 11-05.
        assert_eq!(deadline.due_date, Some(d("2025-11-05")));
        assert_eq!(deadline.clock_start, Some(d("2025-10-09")));
        assert_eq!(
            deadline.clock_start_rule,
            Some(ClockStartRule::CorrectionReceived)
        );
        // Receipt + 7 working days, counting Sunday 09-28 (worked).
        assert_eq!(deadline.correction_window_end, Some(d("2025-09-30")));
        assert_eq!(deadline.correction_reply_by, Some(d("2025-10-20")));
        assert_eq!(deadline.working_days_remaining, Some(19));
        assert_eq!(
            rules(&deadline),
            vec![
                "receipt",
                "correction.requested",
                "clock_start.correction_received",
                "reply_period",
                "due_date"
            ]
        );
    }

    #[test]
    fn the_amended_2020_spring_festival_gives_a_later_due_date_than_the_original() {
        let original = Calendar::new(real_schedules().into_iter().chain([original_2020()]));
        let facts = received("2020-01-20");
        let with_original = due_date(&facts, &original).unwrap().unwrap();
        let with_amended = due_date(&facts, real_calendar()).unwrap().unwrap();
        assert_eq!(with_original, d("2020-02-21"));
        assert_eq!(with_amended, d("2020-02-25"));
        assert!(with_amended > with_original);
    }

    #[test]
    fn the_typical_case_matches_a_hand_count() {
        // Clock from 09-10; days 1–10 up to 09-25 (Saturday 09-14 worked, 15–17 off);
        // 11 days removed up to 10-15; 20 more after that: 11-12.
        let deadline = compute(&typical(), real_calendar(), d("2024-11-12")).unwrap();
        assert_eq!(deadline.due_date, Some(d("2024-11-12")));
        assert_eq!(deadline.paused_working_days, 11);
        assert_eq!(deadline.extension_days, 10);
        assert_eq!(deadline.working_days_remaining, Some(0));
        assert!(!deadline.overdue);
        assert_eq!(due(&typical()), d("2024-11-12"));
        assert_eq!(
            rules(&deadline),
            vec![
                "receipt",
                "correction.requested",
                "clock_start.correction_received",
                "reply_period",
                "pause.other_agency",
                "window.consultation",
                "extension",
                "due_date"
            ]
        );
        let ext = &deadline.trace[6];
        assert!(ext.detail_zh.contains("张三") && ext.detail_en.contains("many files"));
        assert_eq!(ext.detail, ext.detail_zh);
        assert_eq!(ext.working_days, Some(10));
        assert!(
            deadline
                .trace
                .iter()
                .enumerate()
                .all(|(i, s)| s.step as usize == i + 1)
        );
    }

    #[test]
    fn a_year_with_no_notice_counts_weekends_only_and_is_provisional() {
        let deadline = compute(&received("2027-03-01"), real_calendar(), d("2027-03-01")).unwrap();
        assert_eq!(deadline.due_date, Some(d("2027-03-29")));
        assert!(deadline.provisional);
        let last = deadline.trace.last().unwrap();
        assert_eq!(last.rule, "provisional");
        assert_eq!(last.date, Some(d("2027-03-02")));
        // A due date that crosses into the missing year is provisional too.
        let deadline = compute(&received("2026-12-15"), real_calendar(), d("2026-12-15")).unwrap();
        assert!(deadline.provisional);
        assert_eq!(deadline.trace.last().unwrap().date, Some(d("2027-01-01")));
        let deadline = compute(&received("2026-11-02"), real_calendar(), d("2026-11-02")).unwrap();
        assert!(!deadline.provisional);
    }

    #[test]
    fn dates_outside_the_calendar_range_are_errors() {
        let err = due_date(&received("2199-12-20"), real_calendar()).unwrap_err();
        assert!(matches!(
            err,
            ClockError::Calendar(CalendarError::ResultOutOfRange { .. })
        ));
        let err = compute(&received("1949-06-01"), real_calendar(), d("2024-01-01")).unwrap_err();
        assert_eq!(
            err,
            ClockError::Calendar(CalendarError::OutOfRange {
                date: d("1949-06-01")
            })
        );
        let err = compute(&received("2024-01-02"), real_calendar(), d("2300-01-01")).unwrap_err();
        assert!(err.to_string().contains("2300-01-01"), "{err}");
    }

    #[test]
    fn without_a_receipt_date_the_clock_has_not_started() {
        let deadline = compute(&ClockFacts::default(), real_calendar(), d("2024-01-02")).unwrap();
        assert_eq!(deadline.status, ClockStatus::NotStarted);
        assert_eq!(deadline.due_date, None);
        assert_eq!(rules(&deadline), vec!["receipt"]);
        assert_eq!(due_date(&ClockFacts::default(), real_calendar()), Ok(None));
        let withdrawn = ClockFacts {
            closed_on: Some(d("2024-01-05")),
            ..ClockFacts::default()
        };
        let deadline = compute(&withdrawn, real_calendar(), d("2024-01-08")).unwrap();
        assert_eq!(deadline.status, ClockStatus::Stopped);
        assert!(!deadline.late);
    }

    #[test]
    fn every_step_explains_itself_in_chinese_and_in_english() {
        let deadline = compute(&typical(), real_calendar(), d("2024-12-31")).unwrap();
        assert!(deadline.trace.len() > 3);
        let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        for s in &deadline.trace {
            assert!(cjk(&s.detail_zh), "{s:?}");
            // English (names and reasons entered in Chinese stay as entered).
            let latin = s
                .detail_en
                .chars()
                .filter(char::is_ascii_alphabetic)
                .count();
            let han = s.detail_en.chars().filter(|c| cjk(&c.to_string())).count();
            assert!(latin > 10 && latin > han, "{s:?}");
            assert_eq!(s.detail, s.detail_zh, "{s:?}");
        }
    }

    #[test]
    fn an_outstanding_correction_stops_the_clock_but_gives_its_reply_by_date() {
        let mut facts = typical();
        if let Some(c) = facts.correction.as_mut() {
            c.received_on = None;
        }
        facts.pauses.clear();
        let deadline = compute(&facts, real_calendar(), d("2024-09-06")).unwrap();
        assert_eq!(deadline.status, ClockStatus::AwaitingCorrection);
        assert_eq!(deadline.due_date, None);
        assert_eq!(deadline.working_days_remaining, None);
        assert_eq!(deadline.correction_reply_by, Some(d("2024-09-20")));
        // 09-02 + 7: 03, 04, 05, 06, 09, 10, 11.
        assert_eq!(deadline.correction_window_end, Some(d("2024-09-11")));
        assert_eq!(due_date(&facts, real_calendar()), Ok(None));
        assert!(
            deadline.trace[1]
                .detail_en
                .contains("awaiting the correction")
        );
        assert!(deadline.trace[1].detail_zh.contains("尚未收到补正"));
    }

    #[test]
    fn an_open_fee_notice_assumes_the_whole_payment_window() {
        let mut facts = received("2024-03-01");
        facts
            .pauses
            .push(pause(PauseKind::FeeNotice, "2024-03-05", None));
        let deadline = compute(&facts, real_calendar(), d("2024-03-06")).unwrap();
        assert_eq!(deadline.status, ClockStatus::Paused);
        let window_end = deadline.payment_window_end.unwrap();
        assert_eq!(
            window_end,
            real_calendar()
                .add_working_days(d("2024-03-05"), 20)
                .unwrap()
        );
        assert_eq!(deadline.paused_working_days, 20);
        let paid_at_the_end = ClockFacts {
            pauses: vec![pause(
                PauseKind::FeeNotice,
                "2024-03-05",
                Some(&window_end.to_string()),
            )],
            ..facts.clone()
        };
        assert_eq!(deadline.due_date, Some(due(&paid_at_the_end)));
        assert!(rules(&deadline).contains(&"pause.open"));
        let open = deadline
            .trace
            .iter()
            .find(|s| s.rule == "pause.open")
            .unwrap();
        assert!(open.detail_en.contains("latest possible"));
    }

    #[test]
    fn an_open_consultation_assumes_its_fifteen_day_window() {
        let mut facts = received("2024-03-01");
        facts
            .pauses
            .push(pause(PauseKind::ThirdPartyConsultation, "2024-03-05", None));
        let deadline = compute(&facts, real_calendar(), d("2024-03-06")).unwrap();
        assert_eq!(deadline.paused_working_days, 15);
        assert_eq!(
            deadline.consultation_window_end,
            Some(
                real_calendar()
                    .add_working_days(d("2024-03-05"), 15)
                    .unwrap()
            )
        );
        assert_eq!(
            deadline.due_date,
            Some(
                real_calendar()
                    .add_working_days(d("2024-03-01"), 35)
                    .unwrap()
            )
        );
    }

    #[test]
    fn a_consultation_answered_after_its_window_pauses_only_fifteen_days() {
        let mut facts = received("2024-03-01");
        facts.pauses.push(pause(
            PauseKind::OtherAgencyConsultation,
            "2024-03-05",
            Some("2024-06-28"),
        ));
        let deadline = compute(&facts, real_calendar(), d("2024-03-06")).unwrap();
        assert_eq!(deadline.paused_working_days, 15);
        assert!(deadline.trace[3].detail_en.contains("window ended"));
    }

    #[test]
    fn overlapping_pauses_do_not_remove_a_day_twice() {
        let mut facts = received("2024-03-01");
        facts.pauses = vec![
            pause(PauseKind::FeeNotice, "2024-03-08", Some("2024-03-20")),
            pause(
                PauseKind::ThirdPartyConsultation,
                "2024-03-05",
                Some("2024-03-15"),
            ),
        ];
        // Merged: (03-05, 03-20] = 11 working days.
        let deadline = compute(&facts, real_calendar(), d("2024-03-06")).unwrap();
        assert_eq!(deadline.paused_working_days, 11);
        assert_eq!(
            deadline.due_date,
            Some(
                real_calendar()
                    .add_working_days(d("2024-03-01"), 31)
                    .unwrap()
            )
        );
        let steps: Vec<_> = deadline
            .trace
            .iter()
            .filter(|s| s.rule.starts_with("pause."))
            .map(|s| (s.rule, s.working_days))
            .collect();
        // The consultation (earlier) removed 03-06..03-15 = 8; the fee notice the rest, 3.
        assert_eq!(
            steps,
            vec![
                ("pause.third_party", Some(8)),
                ("pause.fee_notice", Some(3))
            ]
        );
    }

    #[test]
    fn a_pause_before_the_correction_restart_is_irrelevant() {
        let mut facts = typical();
        facts.extension = None;
        facts.pauses = vec![pause(
            PauseKind::ThirdPartyConsultation,
            "2024-09-03",
            Some("2024-09-09"),
        )];
        let without = ClockFacts {
            pauses: vec![],
            ..facts.clone()
        };
        assert_eq!(due(&facts), due(&without));
        let deadline = compute(&facts, real_calendar(), d("2024-09-10")).unwrap();
        assert_eq!(deadline.paused_working_days, 0);
        assert!(
            deadline
                .trace
                .iter()
                .any(|s| s.detail_en.contains("before the clock start"))
        );
    }

    #[test]
    fn a_pause_starting_after_the_due_date_changes_nothing() {
        let mut facts = received("2024-03-01");
        let plain = due(&facts);
        facts.pauses.push(pause(
            PauseKind::FeeNotice,
            &plain.to_string(),
            Some("2024-05-31"),
        ));
        assert_eq!(due(&facts), plain);
        let deadline = compute(&facts, real_calendar(), d("2024-03-06")).unwrap();
        assert!(
            deadline
                .trace
                .iter()
                .any(|s| s.detail_en.contains("already run out"))
        );
    }

    #[test]
    fn an_override_replaces_the_computed_due_date_and_the_trace_shows_both() {
        let mut facts = received("2024-03-01");
        facts.deadline_override = Some(DeadlineOverride {
            due_date: d("2024-06-28"),
            set_on: d("2024-03-05"),
            reason: "申请数量较多 / 150 applications in one week".into(),
        });
        let deadline = compute(&facts, real_calendar(), d("2024-03-06")).unwrap();
        assert_eq!(deadline.due_date, Some(d("2024-06-28")));
        assert_eq!(deadline.computed_due_date, Some(d("2024-03-29")));
        let step = deadline
            .trace
            .iter()
            .find(|s| s.rule == "override")
            .unwrap();
        assert!(
            step.detail_en.contains("2024-03-29") && step.detail_en.contains("150 applications")
        );
        assert_eq!(step.article, Some("《条例》第三十五条"));
        assert_eq!(due(&facts), d("2024-06-28"));
    }

    #[test]
    fn days_remaining_turn_negative_once_overdue_and_late_is_set_on_a_late_reply() {
        let facts = received("2024-03-01"); // due 2024-03-29
        let cal = real_calendar();
        let at_receipt = compute(&facts, cal, d("2024-03-01")).unwrap();
        assert_eq!(at_receipt.working_days_remaining, Some(20));
        let after = compute(&facts, cal, d("2024-04-02")).unwrap();
        assert_eq!(after.working_days_remaining, Some(-2));
        assert!(after.overdue);
        let closed_late = ClockFacts {
            closed_on: Some(d("2024-04-01")),
            ..facts.clone()
        };
        let deadline = compute(&closed_late, cal, d("2024-04-10")).unwrap();
        assert_eq!(deadline.status, ClockStatus::Stopped);
        assert!(deadline.late && !deadline.overdue);
        assert_eq!(deadline.working_days_remaining, None);
        let closed_in_time = ClockFacts {
            closed_on: Some(d("2024-03-29")),
            ..facts
        };
        assert!(!compute(&closed_in_time, cal, d("2024-04-10")).unwrap().late);
    }

    #[test]
    fn inconsistent_facts_are_refused_with_a_clear_message() {
        let cal = real_calendar();
        let mut facts = received("2024-03-01");
        facts.pauses.push(pause(
            PauseKind::FeeNotice,
            "2024-03-05",
            Some("2024-03-04"),
        ));
        let err = due_date(&facts, cal).unwrap_err();
        assert_eq!(
            err.to_string(),
            "inconsistent facts: pause 0 ends on 2024-03-04, before it starts on 2024-03-05"
        );

        for days in [0, 21] {
            let facts = ClockFacts {
                extension: Some(extension(days)),
                ..received("2024-03-01")
            };
            assert_eq!(
                due_date(&facts, cal),
                Err(ClockError::ExtensionDaysOutOfRange { days })
            );
        }
        let facts = ClockFacts {
            pauses: vec![pause(PauseKind::FeeNotice, "2024-02-05", None)],
            ..received("2024-03-01")
        };
        assert!(matches!(
            due_date(&facts, cal),
            Err(ClockError::PauseBeforeReceipt { index: 0, .. })
        ));
        let facts = ClockFacts {
            extension: Some(extension(5)),
            ..ClockFacts::default()
        };
        assert_eq!(
            compute(&facts, cal, d("2024-03-01")),
            Err(ClockError::MissingReceipt { fact: "extension" })
        );
        let mut facts = typical();
        facts.correction.as_mut().unwrap().received_on = Some(d("2024-09-03"));
        assert!(matches!(
            due_date(&facts, cal),
            Err(ClockError::CorrectionReceivedBeforeRequest { .. })
        ));
        let mut facts = typical();
        facts.correction.as_mut().unwrap().requested_on = d("2024-08-30");
        assert!(matches!(
            due_date(&facts, cal),
            Err(ClockError::CorrectionBeforeReceipt { .. })
        ));
        let mut facts = typical();
        facts.correction.as_mut().unwrap().reply_by = d("2024-09-03");
        assert!(matches!(
            due_date(&facts, cal),
            Err(ClockError::CorrectionReplyByBeforeRequest { .. })
        ));
        let facts = ClockFacts {
            closed_on: Some(d("2024-02-01")),
            ..received("2024-03-01")
        };
        assert!(matches!(
            due_date(&facts, cal),
            Err(ClockError::ClosedBeforeReceipt { .. })
        ));
    }

    #[test]
    fn a_deadline_serializes_with_snake_case_codes() {
        let mut facts = typical();
        facts
            .pauses
            .push(pause(PauseKind::FeeNotice, "2024-10-21", None));
        let deadline = compute(&facts, real_calendar(), d("2024-10-22")).unwrap();
        let json = serde_json::to_value(&deadline).unwrap();
        assert_eq!(json["status"], "paused");
        assert_eq!(json["clock_start_rule"], "correction_received");
        assert_eq!(json["trace"][0]["rule"], "receipt");
        let facts_json = serde_json::to_value(&facts).unwrap();
        assert_eq!(facts_json["pauses"][0]["kind"], "other_agency");
        assert_eq!(facts_json["pauses"][1]["kind"], "fee_notice");
        assert_eq!(
            serde_json::from_value::<ClockFacts>(facts_json).unwrap(),
            facts
        );
    }

    #[test]
    fn due_date_and_compute_agree() {
        let today = d("2024-10-01");
        for facts in [typical(), received("2024-02-09"), ClockFacts::default()] {
            assert_eq!(
                due_date(&facts, real_calendar()).unwrap(),
                compute(&facts, real_calendar(), today).unwrap().due_date
            );
        }
    }

    fn date_between(first: &str, last: &str) -> impl Strategy<Value = NaiveDate> {
        let first = d(first);
        let span = (d(last) - first).num_days();
        (0..=span).prop_map(move |o| first + chrono::Duration::days(o))
    }

    fn kind() -> impl Strategy<Value = PauseKind> {
        prop_oneof![
            Just(PauseKind::ThirdPartyConsultation),
            Just(PauseKind::OtherAgencyConsultation),
            Just(PauseKind::FeeNotice),
        ]
    }

    /// Pauses starting 0–40 days after `base`, lasting 0–40 days or open.
    fn pauses_after(base: NaiveDate) -> impl Strategy<Value = Vec<Pause>> {
        prop::collection::vec((kind(), 0i64..40, prop::option::of(0i64..40)), 0..4).prop_map(
            move |v| {
                v.into_iter()
                    .map(|(kind, start, len)| {
                        let started_on = base + chrono::Duration::days(start);
                        Pause {
                            kind,
                            started_on,
                            ended_on: len.map(|l| started_on + chrono::Duration::days(l)),
                            received_on: None,
                            delivery_allowance: 0,
                        }
                    })
                    .collect()
            },
        )
    }

    /// Arbitrary consistent facts under the 2019 Regulation (received from 2019-05-15 to the
    /// end of 2026), with or without a correction. The 2008 Regulation's shorter periods have
    /// tests of their own.
    fn facts() -> impl Strategy<Value = ClockFacts> {
        (
            date_between("2019-05-15", "2026-12-31"),
            prop::option::of((0i64..10, 0i64..30)),
            prop::option::of(1u32..=20),
        )
            .prop_flat_map(|(receipt, correction, ext)| {
                let correction = correction.map(|(asked, after)| {
                    let requested_on = receipt + chrono::Duration::days(asked);
                    CorrectionFacts {
                        requested_on,
                        reply_by: requested_on + chrono::Duration::days(15),
                        received_on: Some(requested_on + chrono::Duration::days(after)),
                    }
                });
                pauses_after(receipt).prop_map(move |pauses| ClockFacts {
                    receipt_date: Some(receipt),
                    correction: correction.clone(),
                    pauses,
                    extension: ext.map(extension),
                    ..ClockFacts::default()
                })
            })
    }

    proptest! {
        #[test]
        fn a_computed_due_date_is_always_a_working_day(facts in facts()) {
            let due = due(&facts);
            prop_assert!(real_calendar().is_working_day(due).unwrap());
        }

        #[test]
        fn a_pause_never_makes_the_due_date_earlier(facts in facts(), extra in pauses_after(d("2019-01-01"))) {
            let before = due(&facts);
            let receipt = facts.receipt_date.unwrap();
            let mut more = facts.clone();
            // Shift the extra pauses to start after receipt.
            more.pauses.extend(extra.into_iter().map(|p| {
                let shift = receipt - d("2019-01-01");
                Pause { started_on: p.started_on + shift, ended_on: p.ended_on.map(|e| e + shift), ..p }
            }));
            prop_assert!(due(&more) >= before);
        }

        #[test]
        fn an_extension_adds_exactly_its_working_days(facts in facts(), days in 1u32..=20) {
            let cal = real_calendar();
            let without = ClockFacts { extension: None, ..facts.clone() };
            let with = ClockFacts { extension: Some(extension(days)), ..facts };
            let today = d("2024-01-01");
            let a = compute(&without, cal, today).unwrap();
            let b = compute(&with, cal, today).unwrap();
            let (due_a, due_b) = (a.due_date.unwrap(), b.due_date.unwrap());
            // Counted days between the two due dates, less any pause days that fall between.
            let between = cal.count_working_days(due_a, due_b).unwrap();
            prop_assert_eq!(between - (b.paused_working_days - a.paused_working_days), days);
            if facts_have_no_pause(&with) {
                prop_assert_eq!(between, days);
            }
        }

        #[test]
        fn a_later_receipt_never_gives_an_earlier_due_date(
            first in date_between("2019-05-15", "2026-12-31"),
            gap in 0i64..60,
            ext in prop::option::of(1u32..=20),
            pauses in pauses_after(d("2019-01-01")),
        ) {
            let second = first + chrono::Duration::days(gap);
            let shift = second - d("2019-01-01");
            let pauses: Vec<Pause> = pauses.into_iter().map(|p| Pause {
                started_on: p.started_on + shift,
                ended_on: p.ended_on.map(|e| e + shift),
                ..p
            }).collect();
            let facts = |receipt| ClockFacts {
                receipt_date: Some(receipt),
                pauses: pauses.clone(),
                extension: ext.map(extension),
                ..ClockFacts::default()
            };
            prop_assert!(due(&facts(second)) >= due(&facts(first)));
        }

        #[test]
        fn the_due_date_leaves_exactly_the_period_of_counted_days(facts in facts()) {
            let deadline = compute(&facts, real_calendar(), d("2024-01-01")).unwrap();
            let start = deadline.clock_start.unwrap();
            let due = deadline.due_date.unwrap();
            let elapsed = real_calendar().count_working_days(start, due).unwrap();
            prop_assert_eq!(deadline.reply_period_days, 20);
            prop_assert_eq!(elapsed - deadline.paused_working_days, 20 + deadline.extension_days);
            prop_assert_eq!(Some(due), due_date(&facts, real_calendar()).unwrap());
        }
    }

    fn facts_have_no_pause(facts: &ClockFacts) -> bool {
        facts.pauses.is_empty()
    }
}
