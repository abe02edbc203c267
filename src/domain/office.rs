//! Work inside the office: who holds an open application now, how it passes between desks
//! (分办 assign, 签收 claim, 转办 transfer, 退回 return, 协办 internal consultation), and the
//! warnings ("flags") an office's own steps raise about how they will look in court or in the
//! yearly report. None of this changes the statutory state or the clock.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};

use super::calendar::{Calendar, CalendarError};
use super::text::Text;
use crate::text;

/// Who holds an open application now, and who held it before the last hand-over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    /// The person holding it (after a claim, or assigned by name).
    pub user_id: Option<String>,
    /// The department holding it; without a user: handed over and not yet claimed.
    pub department_id: Option<String>,
    /// When the current holder received it.
    pub since: Option<NaiveDateTime>,
    /// The holder before the last hand-over (a return gives it back there).
    pub sender_user_id: Option<String>,
    pub sender_department_id: Option<String>,
}

impl Holder {
    /// Nobody holds it yet (registered by a platform or an import): the office distributes it.
    pub fn is_unassigned(&self) -> bool {
        self.user_id.is_none() && self.department_id.is_none()
    }

    /// Handed over to a department whose members have not claimed it (待签收).
    pub fn awaiting_claim(&self) -> bool {
        self.user_id.is_none() && self.department_id.is_some()
    }

    fn sender(&self) -> Option<Target> {
        match (&self.sender_user_id, &self.sender_department_id) {
            (Some(u), d) => Some(Target::User {
                id: u.clone(),
                department_id: d.clone(),
            }),
            (None, Some(d)) => Some(Target::Department { id: d.clone() }),
            (None, None) => None,
        }
    }

    /// The holder after handing the application to `to`; the one handing it over (`by`)
    /// becomes the sender a return goes back to.
    fn handed_to(&self, to: &Target, by: &Caller<'_>, now: NaiveDateTime) -> Holder {
        let (user_id, department_id) = match to {
            Target::User { id, department_id } => (Some(id.clone()), department_id.clone()),
            Target::Department { id } => (None, Some(id.clone())),
        };
        Holder {
            user_id,
            department_id,
            since: Some(now),
            sender_user_id: Some(by.user_id.to_string()),
            sender_department_id: by.department_id.map(str::to_string),
        }
    }

    /// The one a return gives the application back to.
    pub fn return_target(&self) -> Option<Target> {
        self.sender()
    }

    fn is(&self, to: &Target) -> bool {
        match to {
            Target::User { id, .. } => self.user_id.as_deref() == Some(id),
            Target::Department { id } => {
                self.user_id.is_none() && self.department_id.as_deref() == Some(id)
            }
        }
    }
}

/// Where a hand-over sends an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A named person (with the department it belongs to, if any): it holds the application
    /// at once.
    User {
        id: String,
        department_id: Option<String>,
    },
    /// A department: it holds the application once one of its members claims it.
    Department { id: String },
}

/// The person handing over, as far as the rules care.
#[derive(Debug, Clone)]
pub struct Caller<'a> {
    pub user_id: &'a str,
    pub department_id: Option<&'a str>,
    /// The office head or an admin: directs any application of the agency (approver, admin).
    pub directs: bool,
}

impl Caller<'_> {
    /// Whether the caller holds the application: named as its holder, or a member of the
    /// department holding it unclaimed (or unassigned, which any handler of the office may
    /// distribute).
    pub fn holds(&self, h: &Holder) -> bool {
        match (&h.user_id, &h.department_id) {
            (Some(u), _) => u == self.user_id,
            (None, Some(d)) => self.department_id == Some(d.as_str()),
            (None, None) => true,
        }
    }
}

/// One hand-over.
#[derive(Debug, Clone)]
pub enum Handover {
    /// 分办: to a person or a department.
    Assign(Target),
    /// 签收: a member of the holding department takes it.
    Claim,
    /// 转办: to another department.
    Transfer { department_id: String },
    /// 退回: back to the sender.
    Return,
}

impl Handover {
    pub fn name(&self) -> &'static str {
        match self {
            Handover::Assign(_) => "assign",
            Handover::Claim => "claim",
            Handover::Transfer { .. } => "transfer",
            Handover::Return => "return",
        }
    }
}

/// Why a hand-over is refused: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverRefusal {
    pub code: &'static str,
    pub detail: Text,
}

fn refuse(code: &'static str, detail: Text) -> HandoverRefusal {
    HandoverRefusal { code, detail }
}

fn not_holder() -> HandoverRefusal {
    refuse(
        "not_holder",
        text!(
            "只有当前承办人（或其所在处室的人员）、审批人或管理员可以办理此交接",
            "only the current holder (or a member of the holding department), an approver or an admin may hand this application over"
        ),
    )
}

/// The holder after a hand-over, or why it cannot happen. Whether the target can hold an
/// application at all (an active user with a handling role, a department with such members)
/// is checked by the caller against the stored users.
pub fn hand_over(
    holder: &Holder,
    caller: &Caller<'_>,
    step: &Handover,
    now: NaiveDateTime,
) -> Result<Holder, HandoverRefusal> {
    match step {
        Handover::Assign(to) => {
            if !caller.directs && !caller.holds(holder) {
                return Err(not_holder());
            }
            if holder.is(to) {
                return Err(refuse(
                    "already_holder",
                    text!(
                        "该申请已由此承办人办理",
                        "the application is already held there"
                    ),
                ));
            }
            Ok(holder.handed_to(to, caller, now))
        }
        Handover::Claim => {
            let Some(dept) = holder.department_id.as_deref() else {
                return Err(refuse(
                    "nothing_to_claim",
                    text!(
                        "该申请未交给任何处室，无需签收",
                        "the application was not handed to a department: there is nothing to claim"
                    ),
                ));
            };
            if caller.department_id != Some(dept) {
                return Err(refuse(
                    "not_in_holding_department",
                    text!(
                        "只有承办处室的人员可以签收",
                        "only a member of the holding department may claim it"
                    ),
                ));
            }
            if holder.user_id.is_some() {
                return Err(refuse(
                    "already_claimed",
                    text!("该申请已被签收", "the application was already claimed"),
                ));
            }
            Ok(Holder {
                user_id: Some(caller.user_id.to_string()),
                since: Some(now),
                ..holder.clone()
            })
        }
        Handover::Transfer { department_id } => {
            if !caller.directs && !caller.holds(holder) {
                return Err(not_holder());
            }
            if holder.department_id.as_deref() == Some(department_id) {
                return Err(refuse(
                    "same_department",
                    text!(
                        "不能转办给当前承办处室",
                        "the application is already with that department"
                    ),
                ));
            }
            Ok(holder.handed_to(
                &Target::Department {
                    id: department_id.clone(),
                },
                caller,
                now,
            ))
        }
        Handover::Return => {
            if !caller.directs && !caller.holds(holder) {
                return Err(not_holder());
            }
            let Some(back) = holder.sender() else {
                return Err(refuse(
                    "nothing_to_return",
                    text!(
                        "该申请没有交办人，无从退回",
                        "the application was not handed over by anyone: there is no sender to return it to"
                    ),
                ));
            };
            Ok(holder.handed_to(&back, caller, now))
        }
    }
}

/// Who may ask another department to contribute (协办): the holder or one who directs; never
/// the holding department itself.
pub fn may_consult_internally(
    holder: &Holder,
    caller: &Caller<'_>,
    department_id: &str,
) -> Result<(), HandoverRefusal> {
    if !caller.directs && !caller.holds(holder) {
        return Err(not_holder());
    }
    if holder.department_id.as_deref() == Some(department_id) {
        return Err(refuse(
            "same_department",
            text!(
                "承办处室自身无需协办",
                "the holding department does not consult itself"
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------------

/// The flags, by code.
pub const FLAG_CODES: [&str; 7] = [
    "stalling_correction",
    "late_extension",
    "extension_habit",
    "consultation_as_delay",
    "possible_repeat",
    "high_volume_applicant",
    "reply_at_risk",
];

/// A warning about an application: what, why (with the figures and the setting it rests on),
/// and the applications it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub code: &'static str,
    pub explanation: Text,
    /// The figures the explanation rests on (dates, counts, the setting), for machines.
    pub facts: serde_json::Value,
    pub related_request_ids: Vec<String>,
}

/// Thresholds of the flags (settings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlagThresholds {
    /// `extension_habit`: share of the office's cases extended in the last 90 days.
    pub extension_share: f64,
    /// `extension_habit`: fewer cases than this in 90 days say nothing about a habit.
    pub extension_min_cases: u32,
    /// `high_volume_applicant`: applications in 30 days above this.
    pub high_volume: u32,
    /// `possible_repeat`: description similarity (0–1) at or above this.
    pub repeat_similarity: f64,
    /// `reply_at_risk`: fewer working days left than this.
    pub reply_risk_working_days: u32,
}

impl Default for FlagThresholds {
    fn default() -> Self {
        FlagThresholds {
            extension_share: 0.30,
            extension_min_cases: 10,
            high_volume: 10,
            repeat_similarity: 0.6,
            reply_risk_working_days: 3,
        }
    }
}

fn normalized(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !is_punctuation(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || "，。、；：？！“”‘’（）《》【】〔〕…—·".contains(c)
}

/// `stalling_correction`: a correction asked for on the last day of its 7-working-day window,
/// or for an item the application already states (the item's text is in the description).
pub fn stalling_correction(
    requested_on: NaiveDate,
    window_end: NaiveDate,
    items: &[String],
    description: &str,
) -> Option<Flag> {
    let desc = normalized(description);
    let answered: Vec<&String> = items
        .iter()
        .filter(|i| {
            let n = normalized(i);
            n.chars().count() >= 4 && desc.contains(&n)
        })
        .collect();
    let last_day = requested_on >= window_end;
    if !last_day && answered.is_empty() {
        return None;
    }
    let explanation = match (last_day, answered.is_empty()) {
        (true, true) => text!(
            "补正告知于 {} 发出，是 7 个工作日补正期限（至 {}）的最后一天（第三十条）：法院和复议机关会审查补正是否用于拖延",
            "the correction was asked for on {}, the last day of its 7-working-day window (until {}, art. 30): courts and review bodies look at whether a correction served to delay",
            requested_on,
            window_end
        ),
        (false, _) => text!(
            "补正事项“{}”在申请内容中已有载明（第三十条只允许补正不明确的内容）",
            "the correction item \"{}\" is already stated in the application (art. 30 allows corrections only of what is unclear)",
            answered[0]
        ),
        (true, false) => text!(
            "补正告知于 7 个工作日期限的最后一天（{}）发出，且补正事项“{}”在申请内容中已有载明",
            "the correction was asked for on the last day of its window ({}) and the item \"{}\" is already stated in the application",
            window_end,
            answered[0]
        ),
    };
    Some(Flag {
        code: "stalling_correction",
        explanation,
        facts: serde_json::json!({
            "requested_on": requested_on,
            "window_end": window_end,
            "items_already_stated": answered,
        }),
        related_request_ids: Vec::new(),
    })
}

/// `late_extension`: an extension decided on the due date itself (or later).
pub fn late_extension(decided_on: NaiveDate, due_date: NaiveDate) -> Option<Flag> {
    (decided_on >= due_date).then(|| Flag {
        code: "late_extension",
        explanation: text!(
            "延期于答复期限届满当日（{}）才决定：延期应在期限内经批准并告知申请人（第三十三条）",
            "the extension was decided on the due date itself ({}): an extension must be approved and notified within the period (art. 33)",
            due_date
        ),
        facts: serde_json::json!({"decided_on": decided_on, "due_date": due_date}),
        related_request_ids: Vec::new(),
    })
}

/// `extension_habit`: the office extended more than the set share of its cases received in the
/// last 90 days (counting this one).
pub fn extension_habit(extended: u32, cases: u32, t: &FlagThresholds) -> Option<Flag> {
    if cases == 0 || cases < t.extension_min_cases {
        return None;
    }
    let share = f64::from(extended) / f64::from(cases);
    (share > t.extension_share).then(|| {
        let pct = (share * 100.0).round();
        let limit = (t.extension_share * 100.0).round();
        Flag {
            code: "extension_habit",
            explanation: text!(
                "近 90 日收到的 {} 件申请中已延期 {} 件（{}%），超过设定的 {}%（flags.extension_habit_share）：延期应是例外",
                "{} cases received in the last 90 days, {} of them extended ({}%), above the set {}% (flags.extension_habit_share): an extension should be the exception",
                cases,
                extended,
                pct,
                limit
            ),
            facts: serde_json::json!({
                "cases_90_days": cases, "extended_90_days": extended,
                "share": share, "setting": t.extension_share,
            }),
            related_request_ids: Vec::new(),
        }
    })
}

/// `consultation_as_delay`: a consultation started in the last 3 working days before the due
/// date (or on it).
pub fn consultation_as_delay(
    cal: &Calendar,
    started_on: NaiveDate,
    due_date: NaiveDate,
) -> Result<Option<Flag>, CalendarError> {
    let left = if started_on > due_date {
        -i64::from(cal.count_working_days(due_date, started_on)?)
    } else {
        i64::from(cal.count_working_days(started_on, due_date)?)
    };
    Ok((left <= 3).then(|| Flag {
        code: "consultation_as_delay",
        explanation: text!(
            "征求意见于 {} 开始，距答复期限（{}）剩 {} 个工作日（负数为已逾期）：临近或超过期限才征求意见，易被视为以征求意见拖延答复",
            "the consultation started on {}, {2} working days before the due date {1} (negative: after it): a consultation started so late looks like a way to stop the clock",
            started_on,
            due_date,
            left
        ),
        facts: serde_json::json!({"started_on": started_on, "due_date": due_date, "working_days_left": left}),
        related_request_ids: Vec::new(),
    }))
}

/// An earlier application of the same applicant, as `possible_repeat` compares it.
#[derive(Debug, Clone)]
pub struct Earlier<'a> {
    pub id: &'a str,
    pub case_number: &'a str,
    pub description: &'a str,
    pub document_numbers: &'a [String],
}

/// `possible_repeat`: the same applicant asked for similar information within the last 12
/// months — the same document number, or a description at least as similar as the setting
/// (trigram similarity, as PostgreSQL's `pg_trgm` measures it).
pub fn possible_repeat(
    description: &str,
    document_numbers: &[String],
    earlier: &[Earlier<'_>],
    t: &FlagThresholds,
) -> Option<Flag> {
    let mine: BTreeSet<String> = document_numbers.iter().map(|d| normalized(d)).collect();
    let mut hits = Vec::new();
    for e in earlier {
        let shared: Vec<&String> = e
            .document_numbers
            .iter()
            .filter(|d| mine.contains(&normalized(d)))
            .collect();
        let sim = similarity(description, e.description);
        if !shared.is_empty() || sim >= t.repeat_similarity {
            hits.push((e, shared, sim));
        }
    }
    let (first, shared, sim) = hits.first()?;
    let explanation = if let Some(doc) = shared.first() {
        text!(
            "同一申请人 12 个月内已就同一文号（{}）提出申请（{}）：如属重复申请，可依第三十六条第（六）项告知不予重复处理",
            "the same applicant asked for the same document number ({}) within 12 months ({}): if it is a repeat, art. 36(6) allows a not-processed reply",
            doc,
            first.case_number
        )
    } else {
        let pct = (sim * 100.0).round();
        let limit = (t.repeat_similarity * 100.0).round();
        text!(
            "同一申请人 12 个月内提出过内容相近的申请（{}，相似度 {}%，设定阈值 {}%，flags.repeat_similarity）",
            "the same applicant asked for similar information within 12 months ({}, similarity {}%, threshold {}%, flags.repeat_similarity)",
            first.case_number,
            pct,
            limit
        )
    };
    Some(Flag {
        code: "possible_repeat",
        explanation,
        facts: serde_json::json!({
            "matches": hits.iter().map(|(e, shared, sim)| serde_json::json!({
                "request_id": e.id, "case_number": e.case_number,
                "document_numbers": shared, "similarity": (sim * 1000.0).round() / 1000.0,
            })).collect::<Vec<_>>(),
            "setting": t.repeat_similarity,
        }),
        related_request_ids: hits.iter().map(|(e, _, _)| e.id.to_string()).collect(),
    })
}

/// `high_volume_applicant` (art. 35): the applicant's applications in the last 30 days
/// (counting this one) exceed the setting.
pub fn high_volume_applicant(recent: &[String], count: u32, t: &FlagThresholds) -> Option<Flag> {
    (count > t.high_volume).then(|| Flag {
        code: "high_volume_applicant",
        explanation: text!(
            "该申请人近 30 日已提出 {} 件申请，超过设定的 {} 件（flags.high_volume_threshold）：可依第三十五条要求说明理由、延长答复期限，并按件计收信息处理费",
            "the applicant filed {} applications in the last 30 days, above the set {} (flags.high_volume_threshold): art. 35 allows asking for reasons, a longer period, and the per-piece fee",
            count,
            t.high_volume
        ),
        facts: serde_json::json!({"applications_30_days": count, "setting": t.high_volume}),
        related_request_ids: recent.to_vec(),
    })
}

/// `reply_at_risk`: open, fewer working days left than the setting, no reply letter drafted.
pub fn reply_at_risk(
    working_days_left: i64,
    due_date: NaiveDate,
    reply_drafted: bool,
    t: &FlagThresholds,
) -> Option<Flag> {
    (!reply_drafted && working_days_left < i64::from(t.reply_risk_working_days)).then(|| Flag {
        code: "reply_at_risk",
        explanation: if working_days_left < 0 {
            text!(
                "已超过答复期限（{}）{} 个工作日，答复告知书尚未起草",
                "{1} working days past the due date {0}, and no reply letter is drafted",
                due_date,
                -working_days_left
            )
        } else {
            text!(
                "距答复期限（{}）仅剩 {} 个工作日，答复告知书尚未起草",
                "{1} working days left before the due date {0}, and no reply letter is drafted",
                due_date,
                working_days_left
            )
        },
        facts: serde_json::json!({
            "due_date": due_date, "working_days_left": working_days_left,
            "setting": t.reply_risk_working_days,
        }),
        related_request_ids: Vec::new(),
    })
}

/// Trigram similarity of two texts as `pg_trgm` defines it: shared trigrams over all distinct
/// trigrams of both, each text lower-cased, without punctuation or spaces, padded. Works on
/// Chinese text, where each character is a word.
pub fn similarity(a: &str, b: &str) -> f64 {
    let ta = trigrams(a);
    let tb = trigrams(b);
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    let shared = ta.intersection(&tb).count();
    let all = ta.union(&tb).count();
    shared as f64 / all as f64
}

fn trigrams(s: &str) -> BTreeSet<[char; 3]> {
    let chars: Vec<char> = std::iter::repeat_n(' ', 2)
        .chain(normalized(s).chars())
        .chain(std::iter::once(' '))
        .collect();
    chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

// ---------------------------------------------------------------------------------------------
// Queues
// ---------------------------------------------------------------------------------------------

/// The next statutory step of an open application, as a queue shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextStep {
    /// `correction_window_end`, `correction_reply_by`, `consultation_window_end`,
    /// `payment_window_end` or `due_date`.
    pub code: &'static str,
    pub date: NaiveDate,
}

impl NextStep {
    pub fn label(&self) -> Text {
        match self.code {
            "correction_window_end" => {
                text!("补正告知期限届满", "last day to ask for a correction")
            }
            "correction_reply_by" => {
                text!("申请人补正期限届满", "the applicant's correction is due")
            }
            "consultation_window_end" => {
                text!("征求意见期限届满", "the consultation window ends")
            }
            "payment_window_end" => text!("缴费期限届满", "the payment window ends"),
            _ => text!("答复期限届满", "the reply is due"),
        }
    }
}

/// The earliest step still ahead (or the overdue due date) among the windows of the state the
/// application is in. `correction_asked`: a correction notice was already sent.
pub fn next_step(
    state: super::request::State,
    d: &super::clock::Deadline,
    today: NaiveDate,
) -> Option<NextStep> {
    use super::request::State;
    let mut steps = Vec::new();
    match state {
        State::Processing => {
            if d.correction_reply_by.is_none()
                && let Some(end) = d.correction_window_end
                && end >= today
            {
                steps.push(NextStep {
                    code: "correction_window_end",
                    date: end,
                });
            }
        }
        State::AwaitingCorrection => {
            if let Some(by) = d.correction_reply_by {
                steps.push(NextStep {
                    code: "correction_reply_by",
                    date: by,
                });
            }
        }
        State::Consulting => {
            if let Some(end) = d.consultation_window_end {
                steps.push(NextStep {
                    code: "consultation_window_end",
                    date: end,
                });
            }
        }
        State::AwaitingPayment => {
            if let Some(end) = d.payment_window_end {
                steps.push(NextStep {
                    code: "payment_window_end",
                    date: end,
                });
            }
        }
        State::AwaitingConfirmation | State::Closed => {}
    }
    if state.is_open()
        && let Some(due) = d.due_date
    {
        steps.push(NextStep {
            code: "due_date",
            date: due,
        });
    }
    steps.into_iter().min_by_key(|s| s.date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 2)
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn clerk<'a>(id: &'a str, dept: Option<&'a str>) -> Caller<'a> {
        Caller {
            user_id: id,
            department_id: dept,
            directs: false,
        }
    }

    #[test]
    fn a_department_hand_over_waits_for_a_member_to_claim_it_and_a_return_goes_back_to_the_sender()
    {
        let office = Holder {
            user_id: Some("u-office".into()),
            department_id: Some("d-office".into()),
            ..Holder::default()
        };
        let me = clerk("u-office", Some("d-office"));
        let sent = hand_over(
            &office,
            &me,
            &Handover::Assign(Target::Department { id: "d-law".into() }),
            at(),
        )
        .unwrap();
        assert!(sent.awaiting_claim());
        assert_eq!(sent.sender_user_id.as_deref(), Some("u-office"));
        // An outsider can neither claim nor pass it on.
        let outsider = clerk("u-x", Some("d-other"));
        assert_eq!(
            hand_over(&sent, &outsider, &Handover::Claim, at())
                .unwrap_err()
                .code,
            "not_in_holding_department"
        );
        let lawyer = clerk("u-law", Some("d-law"));
        let claimed = hand_over(&sent, &lawyer, &Handover::Claim, at()).unwrap();
        assert_eq!(claimed.user_id.as_deref(), Some("u-law"));
        assert_eq!(
            hand_over(&claimed, &lawyer, &Handover::Claim, at())
                .unwrap_err()
                .code,
            "already_claimed"
        );
        // A colleague of the claimer no longer holds it.
        let colleague = clerk("u-law2", Some("d-law"));
        assert_eq!(
            hand_over(&claimed, &colleague, &Handover::Return, at())
                .unwrap_err()
                .code,
            "not_holder"
        );
        let back = hand_over(&claimed, &lawyer, &Handover::Return, at()).unwrap();
        assert_eq!(back.user_id.as_deref(), Some("u-office"));
        assert_eq!(back.department_id.as_deref(), Some("d-office"));
        assert_eq!(back.sender_user_id.as_deref(), Some("u-law"));
    }

    #[test]
    fn a_transfer_needs_another_department_and_a_return_needs_a_sender() {
        let held = Holder {
            department_id: Some("d1".into()),
            ..Holder::default()
        };
        let me = clerk("u1", Some("d1"));
        let same = Handover::Transfer {
            department_id: "d1".into(),
        };
        assert_eq!(
            hand_over(&held, &me, &same, at()).unwrap_err().code,
            "same_department"
        );
        assert_eq!(
            hand_over(&held, &me, &Handover::Return, at())
                .unwrap_err()
                .code,
            "nothing_to_return"
        );
        let head = Caller {
            user_id: "boss",
            department_id: None,
            directs: true,
        };
        let moved = hand_over(
            &held,
            &head,
            &Handover::Transfer {
                department_id: "d2".into(),
            },
            at(),
        )
        .unwrap();
        assert_eq!(moved.department_id.as_deref(), Some("d2"));
        // The one who handed it over is the sender, not the previous holder.
        assert_eq!(moved.sender_user_id.as_deref(), Some("boss"));
        assert_eq!(moved.sender_department_id, None);
        assert_eq!(
            may_consult_internally(&moved, &me, "d3").unwrap_err().code,
            "not_holder"
        );
        assert!(may_consult_internally(&moved, &head, "d3").is_ok());
        assert_eq!(
            may_consult_internally(&moved, &head, "d2")
                .unwrap_err()
                .code,
            "same_department"
        );
    }

    #[test]
    fn a_correction_on_the_seventh_day_or_for_what_is_already_stated_is_flagged() {
        let end = d(2026, 3, 11);
        let desc = "申请公开《关于某某项目的批复》（某发〔2025〕12号）全文";
        assert!(
            stalling_correction(d(2026, 3, 10), end, &["请写明联系方式".into()], desc).is_none()
        );
        let f = stalling_correction(end, end, &["请写明联系方式".into()], desc).unwrap();
        assert_eq!(f.code, "stalling_correction");
        assert!(f.explanation.zh().unwrap_or_default().contains("最后一天"));
        let f =
            stalling_correction(d(2026, 3, 5), end, &["某发〔2025〕12号".into()], desc).unwrap();
        assert!(f.explanation.en().contains("already stated"));
    }

    #[test]
    fn an_extension_on_the_due_date_and_a_habit_above_its_share_are_flagged() {
        let due = d(2026, 3, 30);
        assert!(late_extension(d(2026, 3, 27), due).is_none());
        assert!(late_extension(due, due).is_some());
        let t = FlagThresholds::default();
        // 3 of 10 is 30 %: not above the share; 4 of 10 is.
        assert!(extension_habit(3, 10, &t).is_none());
        assert!(extension_habit(4, 10, &t).is_some());
        // Too few cases to speak of a habit.
        assert!(extension_habit(5, 9, &t).is_none());
    }

    #[test]
    fn a_consultation_in_the_last_three_working_days_is_flagged_across_a_weekend() {
        let cal = Calendar::weekends_only();
        // Due Monday 2026-03-30: Wednesday 25 leaves 3 working days (26, 27, 30), Tuesday 24 four.
        let due = d(2026, 3, 30);
        assert!(
            consultation_as_delay(&cal, d(2026, 3, 24), due)
                .unwrap()
                .is_none()
        );
        assert!(
            consultation_as_delay(&cal, d(2026, 3, 25), due)
                .unwrap()
                .is_some()
        );
        assert!(consultation_as_delay(&cal, due, due).unwrap().is_some());
        // After the due date: later still.
        assert!(
            consultation_as_delay(&cal, d(2026, 4, 2), due)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_repeat_is_found_by_document_number_or_similar_text_and_not_otherwise() {
        let t = FlagThresholds::default();
        let docs = vec!["某发〔2025〕12号".to_string()];
        let none: Vec<String> = Vec::new();
        let earlier = [
            Earlier {
                id: "a",
                case_number: "2026-0001",
                description: "申请公开某项目环评批复",
                document_numbers: &docs,
            },
            Earlier {
                id: "b",
                case_number: "2026-0002",
                description: "申请公开2025年度财政预算执行情况",
                document_numbers: &none,
            },
        ];
        let f = possible_repeat("请提供文件", &["某发〔2025〕 12号".into()], &earlier, &t).unwrap();
        assert_eq!(f.related_request_ids, vec!["a".to_string()]);
        let f = possible_repeat("申请公开2025年度财政预算执行情况。", &[], &earlier, &t).unwrap();
        assert_eq!(f.related_request_ids, vec!["b".to_string()]);
        assert!(possible_repeat("申请公开某路段交通事故统计数据", &[], &earlier, &t).is_none());
    }

    #[test]
    fn trigram_similarity_is_one_for_the_same_text_and_zero_for_nothing_shared() {
        assert!((similarity("政府信息公开", "政府信息公开。") - 1.0).abs() < 1e-9);
        assert_eq!(similarity("甲乙丙", "丁戊己"), 0.0);
        assert_eq!(similarity("", "丁戊己"), 0.0);
    }

    #[test]
    fn a_high_volume_applicant_is_flagged_above_the_threshold_only() {
        let t = FlagThresholds::default();
        assert!(high_volume_applicant(&[], 10, &t).is_none());
        assert!(high_volume_applicant(&[], 11, &t).is_some());
    }

    #[test]
    fn a_reply_is_at_risk_with_fewer_than_three_working_days_left_and_no_draft() {
        let t = FlagThresholds::default();
        let due = d(2026, 3, 30);
        assert!(reply_at_risk(3, due, false, &t).is_none());
        assert!(reply_at_risk(2, due, false, &t).is_some());
        assert!(reply_at_risk(2, due, true, &t).is_none());
        assert!(reply_at_risk(-1, due, false, &t).is_some());
    }
}
