//! Administrative review (行政复议) and litigation (行政诉讼) against the agency (domain.md §8):
//! decisions, the outcome the yearly report counts, and the filing time limits (information,
//! never a refusal).

use chrono::{Months, NaiveDate};

use super::calendar::Calendar;
use super::validation::{Errors, FieldError, optional_text, text};
use crate::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemedyKind {
    Review,
    Litigation,
}

impl RemedyKind {
    pub fn code(self) -> &'static str {
        match self {
            RemedyKind::Review => "review",
            RemedyKind::Litigation => "litigation",
        }
    }

    pub fn parse(s: &str) -> Option<RemedyKind> {
        [RemedyKind::Review, RemedyKind::Litigation]
            .into_iter()
            .find(|k| k.code() == s)
    }
}

/// What the review body or court decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionType {
    /// 维持 (review only).
    Upheld,
    /// 驳回复议请求 / 判决驳回诉讼请求.
    ClaimRejected,
    /// 撤销 / 判决撤销.
    Revoked,
    /// 变更 / 判决变更.
    Varied,
    /// 确认违法.
    ConfirmedUnlawful,
    /// 确认无效.
    ConfirmedVoid,
    /// 责令履行、重新答复 / 判决履行、重新答复.
    OrderedToAct,
    /// 驳回复议申请、不予受理 / 裁定驳回起诉、不予立案.
    ApplicationRejected,
    /// 撤回 / 撤诉.
    Withdrawn,
    /// 终止 / 终结.
    Terminated,
    /// 调解、和解.
    Mediated,
}

/// The report's outcome column (table 四).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 结果维持
    Upheld,
    /// 结果纠正
    Corrected,
    /// 其他结果
    Other,
    /// 尚未审结
    Pending,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Upheld,
        Outcome::Corrected,
        Outcome::Other,
        Outcome::Pending,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Outcome::Upheld => "upheld",
            Outcome::Corrected => "corrected",
            Outcome::Other => "other",
            Outcome::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.code() == s)
    }
}

impl DecisionType {
    pub const ALL: [DecisionType; 11] = [
        DecisionType::Upheld,
        DecisionType::ClaimRejected,
        DecisionType::Revoked,
        DecisionType::Varied,
        DecisionType::ConfirmedUnlawful,
        DecisionType::ConfirmedVoid,
        DecisionType::OrderedToAct,
        DecisionType::ApplicationRejected,
        DecisionType::Withdrawn,
        DecisionType::Terminated,
        DecisionType::Mediated,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DecisionType::Upheld => "upheld",
            DecisionType::ClaimRejected => "claim_rejected",
            DecisionType::Revoked => "revoked",
            DecisionType::Varied => "varied",
            DecisionType::ConfirmedUnlawful => "confirmed_unlawful",
            DecisionType::ConfirmedVoid => "confirmed_void",
            DecisionType::OrderedToAct => "ordered_to_act",
            DecisionType::ApplicationRejected => "application_rejected",
            DecisionType::Withdrawn => "withdrawn",
            DecisionType::Terminated => "terminated",
            DecisionType::Mediated => "mediated",
        }
    }

    pub fn parse(s: &str) -> Option<DecisionType> {
        DecisionType::ALL.into_iter().find(|d| d.code() == s)
    }

    /// The outcome of §8's table.
    pub fn outcome(self) -> Outcome {
        match self {
            DecisionType::Upheld | DecisionType::ClaimRejected => Outcome::Upheld,
            DecisionType::Revoked
            | DecisionType::Varied
            | DecisionType::ConfirmedUnlawful
            | DecisionType::ConfirmedVoid
            | DecisionType::OrderedToAct => Outcome::Corrected,
            DecisionType::ApplicationRejected
            | DecisionType::Withdrawn
            | DecisionType::Terminated
            | DecisionType::Mediated => Outcome::Other,
        }
    }

    /// Whether a decision of this type exists for the kind (a court does not "uphold" 维持).
    pub fn applies_to(self, kind: RemedyKind) -> bool {
        !(kind == RemedyKind::Litigation && self == DecisionType::Upheld)
    }
}

/// The outcome of a case with this decision, or pending without one.
pub fn outcome(decision: Option<DecisionType>) -> Outcome {
    decision.map_or(Outcome::Pending, DecisionType::outcome)
}

/// Route of a lawsuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// 未经复议直接起诉
    Direct,
    /// 复议后起诉
    AfterReview,
}

impl Route {
    pub fn code(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::AfterReview => "after_review",
        }
    }

    pub fn parse(s: &str) -> Option<Route> {
        match s {
            "direct" => Some(Route::Direct),
            "after_review" => Some(Route::AfterReview),
            _ => None,
        }
    }
}

pub const INSTANCES: [&str; 3] = ["first", "second", "retrial"];

/// A case as entered (create, or the full record after a PATCH).
#[derive(Debug, Clone, Default)]
pub struct CaseInput {
    pub applicant_name: String,
    /// Reviewing body (复议机关) or court (法院).
    pub body_name: String,
    pub filed_on: Option<NaiveDate>,
    pub received_on: Option<NaiveDate>,
    /// When the applicant learned of the act (知道该行政行为之日); the filing limit runs from it.
    pub act_known_on: Option<NaiveDate>,
    pub decision_type: Option<String>,
    pub decided_on: Option<NaiveDate>,
    /// The day a review decision was served on the applicant (reviews only): a suit after the
    /// review has 15 days from it.
    pub decision_served_on: Option<NaiveDate>,
    pub notes: Option<String>,
    pub route: Option<String>,
    pub instance: Option<String>,
    pub has_review: bool,
}

/// A valid case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub applicant_name: String,
    pub body_name: String,
    pub filed_on: NaiveDate,
    pub received_on: Option<NaiveDate>,
    pub act_known_on: Option<NaiveDate>,
    pub decision: Option<DecisionType>,
    pub decided_on: Option<NaiveDate>,
    pub decision_served_on: Option<NaiveDate>,
    pub notes: Option<String>,
    pub route: Option<Route>,
    pub instance: Option<String>,
}

/// Parses and checks a case: dates not in the future, decisions not before filing, decision type
/// and date together, a route for lawsuits (after review needs the review).
pub fn parse_case(
    kind: RemedyKind,
    input: &CaseInput,
    today: NaiveDate,
) -> Result<Case, Vec<FieldError>> {
    let mut e = Errors::new();
    let body_field = match kind {
        RemedyKind::Review => "reviewing_body",
        RemedyKind::Litigation => "court",
    };
    let applicant_name = e.take(text("applicant_name", &input.applicant_name, 200, false));
    let body_name = e.take(text(body_field, &input.body_name, 200, false));
    let notes = e.take(optional_text("notes", input.notes.as_deref(), 4000, true));
    let filed_on = input.filed_on;
    if filed_on.is_none() {
        e.push(FieldError::new(
            "filed_on",
            "required",
            text!("必填", "is required"),
        ));
    }
    for (field, d) in [
        ("filed_on", input.filed_on),
        ("received_on", input.received_on),
        ("act_known_on", input.act_known_on),
        ("decided_on", input.decided_on),
        ("decision_served_on", input.decision_served_on),
    ] {
        if d.is_some_and(|d| d > today) {
            e.push(FieldError::new(
                field,
                "in_future",
                text!("不能晚于今天", "must not be in the future"),
            ));
        }
    }
    if let (Some(f), Some(r)) = (filed_on, input.received_on)
        && r < f
    {
        e.push(FieldError::new(
            "received_on",
            "before_filing",
            text!(
                "不能早于立案日期（filed_on）",
                "must not be before filed_on"
            ),
        ));
    }
    if let (Some(f), Some(k)) = (filed_on, input.act_known_on)
        && k > f
    {
        e.push(FieldError::new(
            "act_known_on",
            "after_filing",
            text!("不能晚于立案日期（filed_on）", "must not be after filed_on"),
        ));
    }
    if let (Some(f), Some(d)) = (filed_on, input.decided_on)
        && d < f
    {
        e.push(FieldError::new(
            "decided_on",
            "before_filing",
            text!(
                "不能早于立案日期（filed_on）",
                "must not be before filed_on"
            ),
        ));
    }
    if let Some(served) = input.decision_served_on {
        match (kind, input.decided_on) {
            (RemedyKind::Litigation, _) => e.push(FieldError::new(
                "decision_served_on",
                "not_allowed",
                text!(
                    "只记录行政复议决定的送达（复议后的起诉期限自送达起算）",
                    "only a review decision's service is recorded (a suit after it runs from it)"
                ),
            )),
            (RemedyKind::Review, None) => e.push(FieldError::new(
                "decision_served_on",
                "requires_decision",
                text!(
                    "复议决定作出后才能送达：请先记录 decided_on",
                    "a decision is served after it is made: record decided_on"
                ),
            )),
            (RemedyKind::Review, Some(decided)) if served < decided => e.push(FieldError::new(
                "decision_served_on",
                "before_decision",
                text!(
                    "不能早于复议决定日期（decided_on）",
                    "must not be before decided_on"
                ),
            )),
            _ => {}
        }
    }
    let decision = match input.decision_type.as_deref() {
        None => None,
        Some(code) => match DecisionType::parse(code) {
            Some(d) if d.applies_to(kind) => Some(d),
            Some(_) => {
                e.push(FieldError::new(
                    "decision_type",
                    "not_for_litigation",
                    text!(
                        "法院判决不使用“维持”；请用 claim_rejected（驳回诉讼请求）",
                        "a court does not uphold (维持); use claim_rejected"
                    ),
                ));
                None
            }
            None => {
                e.push(FieldError::new(
                    "decision_type",
                    "unknown_code",
                    text!(
                        "不是规定的结果类型",
                        "is not a decision type of domain.md §8"
                    ),
                ));
                None
            }
        },
    };
    if input.decision_type.is_some() != input.decided_on.is_some() {
        e.push(FieldError::new(
            if input.decision_type.is_some() {
                "decided_on"
            } else {
                "decision_type"
            },
            "required_together",
            text!(
                "decision_type 与 decided_on 须同时填写",
                "decision_type and decided_on go together"
            ),
        ));
    }
    let (route, instance) = match kind {
        RemedyKind::Review => {
            if input.route.is_some() {
                e.push(FieldError::new(
                    "route",
                    "not_allowed",
                    text!("只有行政诉讼才有 route", "only lawsuits have a route"),
                ));
            }
            if input.instance.is_some() {
                e.push(FieldError::new(
                    "instance",
                    "not_allowed",
                    text!(
                        "只有行政诉讼才有审级（instance）",
                        "only lawsuits have an instance"
                    ),
                ));
            }
            if input.has_review {
                e.push(FieldError::new(
                    "review_id",
                    "not_allowed",
                    text!(
                        "只有经复议后提起的诉讼才填写复议（review_id）",
                        "only a suit after review names a review"
                    ),
                ));
            }
            (None, None)
        }
        RemedyKind::Litigation => {
            let route = match input.route.as_deref() {
                None => {
                    e.push(FieldError::new(
                        "route",
                        "required",
                        text!(
                            "须为 direct（直接起诉）或 after_review（经复议后起诉）",
                            "direct or after_review"
                        ),
                    ));
                    None
                }
                Some(r) => Route::parse(r).or_else(|| {
                    e.push(FieldError::new(
                        "route",
                        "unknown_code",
                        text!(
                            "须为 direct（直接起诉）或 after_review（经复议后起诉）",
                            "must be direct or after_review"
                        ),
                    ));
                    None
                }),
            };
            match route {
                Some(Route::AfterReview) if !input.has_review => {
                    e.push(FieldError::new(
                        "review_id",
                        "required",
                        text!(
                            "经复议后提起的诉讼须填写所经的复议（review_id）",
                            "a suit after review names its review"
                        ),
                    ));
                }
                Some(Route::Direct) if input.has_review => {
                    e.push(FieldError::new(
                        "review_id",
                        "not_allowed",
                        text!(
                            "直接起诉没有复议（review_id）",
                            "a direct suit has no review"
                        ),
                    ));
                }
                _ => {}
            }
            let instance = match input.instance.as_deref() {
                None => None,
                Some(i) if INSTANCES.contains(&i) => Some(i.to_string()),
                Some(_) => {
                    e.push(FieldError::new(
                        "instance",
                        "unknown_code",
                        text!(
                            "须为 first（一审）、second（二审）或 retrial（再审）",
                            "must be first, second or retrial"
                        ),
                    ));
                    None
                }
            };
            (route, instance)
        }
    };
    match (applicant_name, body_name, notes, filed_on) {
        (Some(applicant_name), Some(body_name), Some(notes), Some(filed_on)) if e.is_empty() => {
            Ok(Case {
                applicant_name,
                body_name,
                filed_on,
                received_on: input.received_on,
                act_known_on: input.act_known_on,
                decision,
                decided_on: input.decided_on,
                decision_served_on: input.decision_served_on,
                notes,
                route,
                instance,
            })
        }
        _ => Err(e.into_vec()),
    }
}

/// What the records say about the act a case challenges: the reply (and when the applicant
/// was served it), the review decision (and when it was served).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActFacts {
    /// The date of the reply the case challenges (the application's closing date).
    pub reply_on: Option<NaiveDate>,
    /// The day the applicant was served the reply (送达), when recorded.
    pub reply_served_on: Option<NaiveDate>,
    /// The reply's disposition code, for the review-first rule.
    pub reply_disposition: Option<&'static str>,
    /// The review decision a suit after review follows.
    pub review_decided_on: Option<NaiveDate>,
    /// The day the applicant was served that decision, when recorded.
    pub review_decision_served_on: Option<NaiveDate>,
}

/// From what a filing limit is counted, most certain first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartBasis {
    /// The date the applicant learned of the act, as entered (`act_known_on`).
    ActKnown,
    /// The recorded service of the reply.
    ReplyServed,
    /// The reply's own date: the applicant cannot have learned of it earlier, but may have
    /// later (provisional until the service is recorded).
    ReplyDate,
    /// The recorded service of the review decision.
    DecisionServed,
    /// The review decision's own date (provisional until its service is recorded).
    DecisionDate,
}

impl StartBasis {
    pub fn code(self) -> &'static str {
        match self {
            StartBasis::ActKnown => "act_known_on",
            StartBasis::ReplyServed => "reply_served_on",
            StartBasis::ReplyDate => "reply_date",
            StartBasis::DecisionServed => "decision_served_on",
            StartBasis::DecisionDate => "decision_date",
        }
    }

    pub fn parse(s: &str) -> Option<StartBasis> {
        [
            StartBasis::ActKnown,
            StartBasis::ReplyServed,
            StartBasis::ReplyDate,
            StartBasis::DecisionServed,
            StartBasis::DecisionDate,
        ]
        .into_iter()
        .find(|b| b.code() == s)
    }

    /// Counted from the act's own date, not from when the applicant learned of it: the
    /// limit may in truth end later, so `filed_late` is not final.
    pub fn provisional(self) -> bool {
        matches!(self, StartBasis::ReplyDate | StartBasis::DecisionDate)
    }
}

/// The filing limit a case is measured against, with the rule that fixed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilingLimit {
    /// The day the period runs from, and on what evidence.
    pub starts_on: NaiveDate,
    pub basis: StartBasis,
    pub deadline: NaiveDate,
    /// `review_60_days`, `direct_suit_6_months`, `suit_after_review_15_days`.
    pub rule: &'static str,
    pub filed_late: bool,
}

/// A period of calendar days or months from `start`; a last day that is not a working day moves
/// to the next working day (期间届满的最后一日是节假日的，以节假日后的第一日为期间届满日期).
fn period_end(
    cal: &Calendar,
    start: NaiveDate,
    days: Option<u64>,
    months: Option<u32>,
) -> Option<NaiveDate> {
    let raw = match (days, months) {
        (Some(d), _) => start.checked_add_days(chrono::Days::new(d))?,
        (_, Some(m)) => start.checked_add_months(Months::new(m))?,
        _ => return None,
    };
    cal.add_working_days(raw, 0).ok()
}

/// Where the filing period starts. A review (Administrative Reconsideration Law art. 20: 60
/// days) and a direct suit (Administrative Litigation Law art. 46: 6 months) run from when the
/// applicant learned of the act: the date entered, else the recorded service of the reply, else
/// the reply's date (provisional). A suit after review (art. 45: 15 days) runs from receiving
/// the review decision: its recorded service, else the decision's date (provisional).
pub fn filing_start(
    kind: RemedyKind,
    case: &Case,
    facts: &ActFacts,
) -> Option<(NaiveDate, StartBasis)> {
    match (kind, case.route) {
        (RemedyKind::Litigation, Some(Route::AfterReview)) => facts
            .review_decision_served_on
            .map(|d| (d, StartBasis::DecisionServed))
            .or(facts
                .review_decided_on
                .map(|d| (d, StartBasis::DecisionDate))),
        // A reply made or served after the filing is not what the case challenges (a case
        // filed before the reply is about something else, e.g. the agency's silence).
        _ => case
            .act_known_on
            .map(|d| (d, StartBasis::ActKnown))
            .or_else(|| {
                let before_filing = |d: &NaiveDate| *d <= case.filed_on;
                facts
                    .reply_served_on
                    .filter(before_filing)
                    .map(|d| (d, StartBasis::ReplyServed))
                    .or(facts
                        .reply_on
                        .filter(before_filing)
                        .map(|d| (d, StartBasis::ReplyDate)))
            }),
    }
}

/// The filing limit: review 60 days and a direct suit 6 months from learning of the act; a suit
/// after review 15 days from receiving the review decision (see [`filing_start`]). None without
/// a starting date.
pub fn filing_limit(
    kind: RemedyKind,
    case: &Case,
    facts: &ActFacts,
    cal: &Calendar,
) -> Option<FilingLimit> {
    let (starts_on, basis) = filing_start(kind, case, facts)?;
    let (days, months, rule) = match (kind, case.route) {
        (RemedyKind::Review, _) => (Some(60), None, "review_60_days"),
        (RemedyKind::Litigation, Some(Route::AfterReview)) => {
            (Some(15), None, "suit_after_review_15_days")
        }
        (RemedyKind::Litigation, _) => (None, Some(6), "direct_suit_6_months"),
    };
    let deadline = period_end(cal, starts_on, days, months)?;
    Some(FilingLimit {
        starts_on,
        basis,
        deadline,
        rule,
        filed_late: case.filed_on > deadline,
    })
}

/// The applicant's limits once a reply is on record: a review within 60 days and a direct suit
/// within 6 months of learning of it, counted from the reply's recorded service, else from its
/// date (provisional). Each with the article that sets it.
pub fn limits_after_reply(facts: &ActFacts, cal: &Calendar) -> Vec<(FilingLimit, &'static str)> {
    let probe = |route| Case {
        applicant_name: String::new(),
        body_name: String::new(),
        filed_on: NaiveDate::MAX,
        received_on: None,
        act_known_on: None,
        decision: None,
        decided_on: None,
        decision_served_on: None,
        notes: None,
        route,
        instance: None,
    };
    [
        (
            RemedyKind::Review,
            None,
            "《中华人民共和国行政复议法》第二十条",
        ),
        (
            RemedyKind::Litigation,
            Some(Route::Direct),
            "《中华人民共和国行政诉讼法》第四十六条",
        ),
    ]
    .into_iter()
    .filter_map(|(kind, route, article)| {
        filing_limit(kind, &probe(route), facts, cal).map(|l| (l, article))
    })
    .collect()
}

/// Since 2024-01-01 (Administrative Reconsideration Law, 2023 revision, art. 23 para. 1 item 4)
/// an applicant whose application for government information was refused (不予公开) must apply
/// for administrative review before suing.
pub const REVIEW_FIRST_SINCE: NaiveDate = match NaiveDate::from_ymd_opt(2024, 1, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// A direct suit against a refusal to disclose replied on or after [`REVIEW_FIRST_SINCE`]: the
/// court will likely dismiss it for want of review. A warning, not a refusal: the agency
/// records the suits it is served, whatever their merit.
pub fn review_first_required(kind: RemedyKind, case: &Case, facts: &ActFacts) -> bool {
    kind == RemedyKind::Litigation
        && case.route == Some(Route::Direct)
        && facts
            .reply_disposition
            .is_some_and(|d| d.starts_with("denied."))
        && facts.reply_on.is_some_and(|on| on >= REVIEW_FIRST_SINCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn every_decision_type_maps_to_the_outcome_of_the_table() {
        use DecisionType::*;
        for (dt, o) in [
            (Upheld, Outcome::Upheld),
            (ClaimRejected, Outcome::Upheld),
            (Revoked, Outcome::Corrected),
            (Varied, Outcome::Corrected),
            (ConfirmedUnlawful, Outcome::Corrected),
            (ConfirmedVoid, Outcome::Corrected),
            (OrderedToAct, Outcome::Corrected),
            (ApplicationRejected, Outcome::Other),
            (Withdrawn, Outcome::Other),
            (Terminated, Outcome::Other),
            (Mediated, Outcome::Other),
        ] {
            assert_eq!(dt.outcome(), o, "{}", dt.code());
            assert_eq!(DecisionType::parse(dt.code()), Some(dt));
        }
        assert_eq!(outcome(None), Outcome::Pending);
    }

    #[test]
    fn a_court_does_not_uphold() {
        assert!(!DecisionType::Upheld.applies_to(RemedyKind::Litigation));
        assert!(DecisionType::Upheld.applies_to(RemedyKind::Review));
    }

    fn case(filed: &str, known: Option<&str>, route: Option<Route>) -> Case {
        Case {
            applicant_name: "a".into(),
            body_name: "b".into(),
            filed_on: d(filed),
            received_on: None,
            act_known_on: known.map(d),
            decision: None,
            decided_on: None,
            decision_served_on: None,
            notes: None,
            route,
            instance: None,
        }
    }

    #[test]
    fn a_review_limit_of_60_days_moves_off_a_holiday() {
        let cal = Calendar::weekends_only();
        // 2026-08-01 + 60 days = 2026-09-30 (Wednesday): stays.
        let l = filing_limit(
            RemedyKind::Review,
            &case("2026-09-30", Some("2026-08-01"), None),
            &ActFacts::default(),
            &cal,
        );
        assert_eq!(l.as_ref().map(|l| l.deadline), Some(d("2026-09-30")));
        assert_eq!(l.map(|l| l.filed_late), Some(false));
        // 2026-08-05 + 60 days = 2026-10-04, a Sunday: moves to Monday 2026-10-05.
        let l = filing_limit(
            RemedyKind::Review,
            &case("2026-10-05", Some("2026-08-05"), None),
            &ActFacts::default(),
            &cal,
        );
        assert_eq!(
            l.map(|l| (l.deadline, l.filed_late)),
            Some((d("2026-10-05"), false))
        );
        let l = filing_limit(
            RemedyKind::Review,
            &case("2026-10-06", Some("2026-08-05"), None),
            &ActFacts::default(),
            &cal,
        );
        assert_eq!(l.map(|l| l.filed_late), Some(true));
    }

    #[test]
    fn suit_limits_are_6_months_direct_and_15_days_after_review() {
        let cal = Calendar::weekends_only();
        let l = filing_limit(
            RemedyKind::Litigation,
            &case("2026-06-01", Some("2026-01-15"), Some(Route::Direct)),
            &ActFacts::default(),
            &cal,
        );
        assert_eq!(
            l.map(|l| (l.deadline, l.rule)),
            Some((d("2026-07-15"), "direct_suit_6_months"))
        );
        let l = filing_limit(
            RemedyKind::Litigation,
            &case("2026-06-20", None, Some(Route::AfterReview)),
            &ActFacts {
                review_decided_on: Some(d("2026-06-01")),
                ..ActFacts::default()
            },
            &cal,
        );
        assert_eq!(
            l.map(|l| (l.deadline, l.filed_late)),
            Some((d("2026-06-16"), true))
        );
        assert_eq!(
            filing_limit(
                RemedyKind::Review,
                &case("2026-06-20", None, None),
                &ActFacts::default(),
                &cal
            ),
            None
        );
    }

    #[test]
    fn a_limit_runs_from_the_entered_date_else_the_service_else_the_reply_provisionally() {
        let cal = Calendar::weekends_only();
        let facts = ActFacts {
            reply_on: Some(d("2026-03-02")),
            reply_served_on: Some(d("2026-03-09")),
            ..ActFacts::default()
        };
        // Served a week after the reply: 60 days from 2026-03-09 is 2026-05-08 (Friday).
        let l = filing_limit(
            RemedyKind::Review,
            &case("2026-05-08", None, None),
            &facts,
            &cal,
        )
        .expect("limit");
        assert_eq!(
            (l.starts_on, l.basis),
            (d("2026-03-09"), StartBasis::ReplyServed)
        );
        assert_eq!((l.deadline, l.filed_late), (d("2026-05-08"), false));
        assert!(!l.basis.provisional());
        // Measured from the reply's date the same filing would have been late.
        let unserved = ActFacts {
            reply_served_on: None,
            ..facts
        };
        let l = filing_limit(
            RemedyKind::Review,
            &case("2026-05-08", None, None),
            &unserved,
            &cal,
        )
        .expect("limit");
        assert_eq!(
            (l.basis, l.deadline, l.filed_late),
            (StartBasis::ReplyDate, d("2026-05-01"), true)
        );
        assert!(
            l.basis.provisional(),
            "the reply's date is only a lower bound"
        );
        // A date entered by the office wins over both.
        let l = filing_limit(
            RemedyKind::Litigation,
            &case("2026-09-20", Some("2026-03-20"), Some(Route::Direct)),
            &facts,
            &cal,
        )
        .expect("limit");
        assert_eq!(
            (l.starts_on, l.basis),
            (d("2026-03-20"), StartBasis::ActKnown)
        );
        assert_eq!(l.deadline, d("2026-09-21"), "2026-09-20 is a Sunday");
    }

    #[test]
    fn a_suit_after_review_runs_from_the_decisions_service_across_the_spring_festival() {
        let cal = Calendar::new(crate::domain::calendar::tests::real_schedules());
        // Served 2026-02-02: + 15 days = 2026-02-17, inside the Spring Festival (02-15 to
        // 02-23): the limit moves to Tuesday 2026-02-24.
        let facts = ActFacts {
            review_decided_on: Some(d("2026-01-30")),
            review_decision_served_on: Some(d("2026-02-02")),
            ..ActFacts::default()
        };
        let suit = case("2026-02-24", None, Some(Route::AfterReview));
        let l = filing_limit(RemedyKind::Litigation, &suit, &facts, &cal).expect("limit");
        assert_eq!(
            (l.starts_on, l.basis),
            (d("2026-02-02"), StartBasis::DecisionServed)
        );
        assert_eq!((l.deadline, l.filed_late), (d("2026-02-24"), false));
        // From the decision's date: + 15 days = Saturday 2026-02-14, an adjusted working day,
        // so the limit ends that Saturday and the same suit counts as late, provisionally.
        let undelivered = ActFacts {
            review_decision_served_on: None,
            ..facts
        };
        let l = filing_limit(RemedyKind::Litigation, &suit, &undelivered, &cal).expect("limit");
        assert_eq!(
            (l.basis, l.deadline, l.filed_late),
            (StartBasis::DecisionDate, d("2026-02-14"), true)
        );
        assert!(l.basis.provisional());
    }

    #[test]
    fn a_direct_suit_against_a_refusal_since_2024_should_have_gone_to_review_first() {
        let refusal = |on: &str, disposition: &'static str| ActFacts {
            reply_on: Some(d(on)),
            reply_disposition: Some(disposition),
            ..ActFacts::default()
        };
        let direct = case("2024-03-01", None, Some(Route::Direct));
        let lit = RemedyKind::Litigation;
        assert!(review_first_required(
            lit,
            &direct,
            &refusal("2024-01-01", "denied.state_secret")
        ));
        assert!(!review_first_required(
            lit,
            &direct,
            &refusal("2023-12-31", "denied.state_secret")
        ));
        assert!(!review_first_required(
            lit,
            &direct,
            &refusal("2024-02-01", "granted")
        ));
        assert!(!review_first_required(
            lit,
            &direct,
            &refusal("2024-02-01", "partly_granted")
        ));
        let after = case("2024-03-01", None, Some(Route::AfterReview));
        assert!(!review_first_required(
            lit,
            &after,
            &refusal("2024-02-01", "denied.third_party")
        ));
        assert!(!review_first_required(
            RemedyKind::Review,
            &case("2024-03-01", None, None),
            &refusal("2024-02-01", "denied.third_party")
        ));
        // Without a linked reply nothing is known: no warning.
        assert!(!review_first_required(lit, &direct, &ActFacts::default()));
    }

    #[test]
    fn bad_cases_list_every_problem() {
        let input = CaseInput {
            applicant_name: "张三".into(),
            body_name: "".into(),
            filed_on: Some(d("2026-05-10")),
            decided_on: Some(d("2026-05-01")),
            decision_type: Some("upheld".into()),
            route: None,
            ..CaseInput::default()
        };
        let errs = parse_case(RemedyKind::Litigation, &input, d("2026-11-29"))
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"court"));
        assert!(fields.contains(&"decided_on"));
        assert!(fields.contains(&"decision_type"));
        assert!(fields.contains(&"route"));
    }
}
