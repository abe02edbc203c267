//! Schemas of payloads the domain serialises itself (serde), for the OpenAPI document: the
//! workflow of an application, its deadline and trace, the payload of a trail step, the data
//! of a feed event, and an audit entry's change record.
//!
//! The domain may not depend on utoipa (tests/architecture.rs), so these types only describe
//! what serde writes; they are never built. They cannot drift from the payloads unnoticed:
//! the API test harness validates every response it receives against the served document
//! (tests/api/contract.rs), and a field missing, renamed or of another type fails the suite.

#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{ChannelCode, DispositionCode, FeeBasisCode, OpinionCode, PartyCode, StateCode};

/// The legal record of an application (§4–§7 of the specification).
#[derive(ToSchema)]
#[schema(as = Workflow)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSchema {
    state: StateCode,
    clock: ClockFactsSchema,
    /// The date of the latest step (the arrival date at first): no step may be dated before it.
    last_step_on: NaiveDate,
    /// The items the correction notice asked for (补正事项).
    correction_items: Vec<String>,
    /// Consultations (征求意见), oldest first.
    consultations: Vec<ConsultationSchema>,
    #[schema(required)]
    fee: Option<FeeRecordSchema>,
    #[schema(required)]
    reply: Option<ReplyRecordSchema>,
}

/// The facts the statutory clock runs on.
#[derive(ToSchema)]
#[schema(as = ClockFacts)]
#[serde(deny_unknown_fields)]
pub struct ClockFactsSchema {
    /// 收到申请之日 (《条例》第三十一条); null while awaiting confirmation.
    #[schema(required)]
    receipt_date: Option<NaiveDate>,
    /// The correction round (补正, 第三十条), at most one.
    #[schema(required)]
    correction: Option<CorrectionFactsSchema>,
    /// Consultations (第三十二条、第三十四条) and fee notices, in any order.
    pauses: Vec<PauseSchema>,
    /// The extension (延期), at most one.
    #[schema(required)]
    extension: Option<ExtensionSchema>,
    /// An extension granted before a correction was asked for, superseded by the restart.
    #[schema(required)]
    superseded_extension: Option<ExtensionSchema>,
    /// A reply period set for numerous applications (第三十五条).
    #[schema(required)]
    deadline_override: Option<DeadlineOverrideSchema>,
    /// Date of the reply or other closure.
    #[schema(required)]
    closed_on: Option<NaiveDate>,
}

/// A correction request (补正通知) and its answer.
#[derive(ToSchema)]
#[schema(as = CorrectionFacts)]
#[serde(deny_unknown_fields)]
pub struct CorrectionFactsSchema {
    requested_on: NaiveDate,
    /// The reasonable deadline given to the applicant.
    reply_by: NaiveDate,
    /// The day the corrected application was received; the clock restarts from it.
    #[schema(required)]
    received_on: Option<NaiveDate>,
}

/// Why the clock is paused.
#[derive(ToSchema)]
#[schema(as = PauseKind)]
#[allow(clippy::enum_variant_names)]
pub enum PauseKindSchema {
    /// 征求第三方意见 (第三十二条)
    #[serde(rename = "third_party")]
    ThirdParty,
    /// 征求其他机关意见 (第三十四条)
    #[serde(rename = "other_agency")]
    OtherAgency,
    /// 收费通知
    #[serde(rename = "fee_notice")]
    FeeNotice,
}

/// A period during which the clock does not run.
#[derive(ToSchema)]
#[schema(as = Pause)]
#[serde(deny_unknown_fields)]
pub struct PauseSchema {
    kind: PauseKindSchema,
    /// The day the letter or notice was sent; it still counts.
    started_on: NaiveDate,
    /// The day the answer arrived, or the fee was paid or waived; null while open.
    #[schema(required)]
    ended_on: Option<NaiveDate>,
    /// The day the other side received the letter or notice, when known.
    #[schema(required)]
    received_on: Option<NaiveDate>,
    /// Working days assumed for delivery while the receipt is not known.
    delivery_allowance: u32,
}

/// The one extension (延期) of the reply period.
#[derive(ToSchema)]
#[schema(as = Extension)]
#[serde(deny_unknown_fields)]
pub struct ExtensionSchema {
    /// Working days added, 1–20.
    days: u32,
    approved_on: NaiveDate,
    approved_by: String,
    reason: String,
}

/// A reply period set by the office (第三十五条).
#[derive(ToSchema)]
#[schema(as = DeadlineOverride)]
#[serde(deny_unknown_fields)]
pub struct DeadlineOverrideSchema {
    due_date: NaiveDate,
    set_on: NaiveDate,
    reason: String,
}

/// One consultation (征求意见).
#[derive(ToSchema)]
#[schema(as = Consultation)]
#[serde(deny_unknown_fields)]
pub struct ConsultationSchema {
    party: PartyCode,
    /// Whom: the third party or the other agency.
    whom: String,
    sent_on: NaiveDate,
    #[schema(required)]
    ended_on: Option<NaiveDate>,
    #[schema(required)]
    opinion: Option<OpinionCode>,
}

/// The fee notice (收费通知) and what became of it; amounts in fen (分).
#[derive(ToSchema)]
#[schema(as = FeeRecord)]
#[serde(deny_unknown_fields)]
pub struct FeeRecordSchema {
    basis: FeeBasisCode,
    amount_fen: i64,
    /// The most the fee Measures allow for this application.
    maximum_fen: i64,
    #[schema(required)]
    pages: Option<u32>,
    /// For per-piece fees: this application's place among the applicant's that month.
    #[schema(required)]
    nth_in_month: Option<u32>,
    notice_on: NaiveDate,
    #[schema(required)]
    paid_on: Option<NaiveDate>,
    #[schema(required)]
    paid_fen: Option<i64>,
    #[schema(required)]
    waived_on: Option<NaiveDate>,
    #[schema(required)]
    waiver_reason: Option<String>,
}

/// Disclosure over a third party's objection (第三十二条).
#[derive(ToSchema)]
#[schema(as = ObjectionOverride)]
#[serde(deny_unknown_fields)]
pub struct ObjectionOverrideSchema {
    public_interest_reason: String,
    notice_sent_on: NaiveDate,
    disclosed: String,
}

/// The reply or other closure (答复).
#[derive(ToSchema)]
#[schema(as = ReplyRecord)]
#[serde(deny_unknown_fields)]
pub struct ReplyRecordSchema {
    disposition: DispositionCode,
    on: NaiveDate,
    #[schema(required)]
    reason: Option<String>,
    #[schema(required)]
    legal_basis: Option<String>,
    #[schema(required)]
    provision: Option<String>,
    #[schema(required)]
    responsible_agency: Option<String>,
    /// The earlier application a `not_processed.repeated` reply names.
    #[schema(required)]
    repeats_request_id: Option<String>,
    #[schema(required)]
    objection_override: Option<ObjectionOverrideSchema>,
    /// Replied after the due date.
    late: bool,
    /// The day the reply was served (送达).
    #[schema(required)]
    served_on: Option<NaiveDate>,
}

/// Where the clock stands.
#[derive(ToSchema)]
#[schema(as = ClockStatus)]
pub enum ClockStatusSchema {
    /// No receipt date yet.
    #[serde(rename = "not_started")]
    NotStarted,
    #[serde(rename = "running")]
    Running,
    /// A consultation or fee notice is open.
    #[serde(rename = "paused")]
    Paused,
    /// A correction was asked for and not yet received.
    #[serde(rename = "awaiting_correction")]
    AwaitingCorrection,
    /// Closed.
    #[serde(rename = "stopped")]
    Stopped,
}

/// The rule that fixed the clock start.
#[derive(ToSchema)]
#[schema(as = ClockStartRule)]
pub enum ClockStartRuleSchema {
    /// The receipt date (第三十一条、第三十三条).
    #[serde(rename = "receipt")]
    Receipt,
    /// The receipt of the corrected application (第三十条).
    #[serde(rename = "correction_received")]
    CorrectionReceived,
}

/// The computed deadline with its explanation.
#[derive(ToSchema)]
#[schema(as = Deadline)]
#[serde(deny_unknown_fields)]
pub struct DeadlineSchema {
    status: ClockStatusSchema,
    #[schema(required)]
    receipt_date: Option<NaiveDate>,
    #[schema(required)]
    clock_start: Option<NaiveDate>,
    #[schema(required)]
    clock_start_rule: Option<ClockStartRuleSchema>,
    /// 20 (or 15 under the 2008 Regulation).
    reply_period_days: u32,
    extension_days: u32,
    paused_working_days: u32,
    /// 答复期限届满日; while paused, the latest it can be.
    #[schema(required)]
    due_date: Option<NaiveDate>,
    /// The computed due date (before a 第三十五条 override).
    #[schema(required)]
    computed_due_date: Option<NaiveDate>,
    /// The due date relies on a year with no loaded calendar.
    provisional: bool,
    /// Working days left (negative: overdue).
    #[schema(required)]
    working_days_remaining: Option<i64>,
    overdue: bool,
    late: bool,
    #[schema(required)]
    correction_window_end: Option<NaiveDate>,
    #[schema(required)]
    correction_reply_by: Option<NaiveDate>,
    #[schema(required)]
    payment_window_end: Option<NaiveDate>,
    #[schema(required)]
    consultation_window_end: Option<NaiveDate>,
    consultation_window_provisional: bool,
    payment_window_provisional: bool,
    /// Every rule applied, in order.
    trace: Vec<TraceStepSchema>,
}

/// One step of the explanation of a deadline.
#[derive(ToSchema)]
#[schema(as = TraceStep)]
#[serde(deny_unknown_fields)]
pub struct TraceStepSchema {
    /// 1-based position.
    step: u32,
    /// Stable code: `receipt`, `clock_start.receipt`, `clock_start.correction_received`,
    /// `correction.requested`, `reply_period`, `pause.third_party`, `pause.other_agency`,
    /// `pause.fee_notice`, `window.consultation`, `window.payment`, `pause.open`,
    /// `extension.superseded`, `extension`, `override`, `due_date`, `provisional`,
    /// `remedy.review`, `remedy.litigation`, `notice.issued`, `notice.served`.
    rule: String,
    #[schema(required)]
    date: Option<NaiveDate>,
    #[schema(required)]
    until: Option<NaiveDate>,
    #[schema(required)]
    working_days: Option<i64>,
    /// What the step did, in words: the Chinese (the same as `detail_zh`).
    detail: String,
    /// The sentence in Chinese.
    detail_zh: String,
    /// The sentence in English.
    detail_en: String,
    /// The legal basis, e.g. 《条例》第三十三条第一款.
    #[schema(required)]
    article: Option<String>,
}

/// What one step of an application's trail recorded. Which members appear depends on the
/// step (`action`): a statutory step records its date `on`, the due date before and after it,
/// and the fields of its action body (for example `days` and `reason` of `extend`, see the
/// action's `…Body` schema); `intake` and `import` the registration dates; `intake_corrected`
/// the details `before` and `after`; `retimed` a calendar change's effect.
#[derive(ToSchema)]
#[schema(as = StepPayload)]
pub struct StepPayloadSchema {
    /// The step's date.
    on: Option<NaiveDate>,
    due_date_before: Option<NaiveDate>,
    due_date_after: Option<NaiveDate>,
    /// `intake`/`import`: how it arrived.
    channel: Option<ChannelCode>,
    arrived_at: Option<DateTime<Utc>>,
    signed_for_on: Option<NaiveDate>,
    confirmed_on: Option<NaiveDate>,
    receipt_date: Option<NaiveDate>,
    due_date: Option<NaiveDate>,
    /// `import`: the line of the import file.
    line: Option<u64>,
    disposition: Option<DispositionCode>,
    replied_on: Option<NaiveDate>,
    late: Option<bool>,
    /// `retimed`: the calendar year whose change moved the due date.
    calendar_year: Option<i32>,
    late_before: Option<bool>,
    late_after: Option<bool>,
    /// `intake_corrected`: the details before and after the correction.
    #[schema(value_type = Option<BTreeMap<String, Value>>)]
    before: Option<Value>,
    #[schema(value_type = Option<BTreeMap<String, Value>>)]
    after: Option<Value>,
    /// Feed only, for `intake_corrected`: the names of the fields that changed (the values
    /// stay in the trail).
    changed: Option<Vec<String>>,
    /// A reason the step gave (`transfer`, `return`, `extend` …).
    reason: Option<String>,
    /// `assign`, `claim`: the note given.
    note: Option<String>,
    /// Hand-overs: the holder before and after.
    from: Option<HolderPartySchema>,
    to: Option<HolderPartySchema>,
    /// `consult_internally`, `answer_internal_consultation`: the consultation.
    consultation_id: Option<Uuid>,
    department_id: Option<Uuid>,
    department_name: Option<String>,
    question: Option<String>,
    answer: Option<String>,
    /// `reminder`: `due_soon`, `window_ending` or `unclaimed`.
    kind: Option<String>,
    /// `reminder`: what it is about (the due date, `<window>:<date>`, the hand-over instant).
    occasion: Option<String>,
    reminder_id: Option<Uuid>,
    subject: Option<String>,
    /// `reminder`: `pending` (to be mailed), `no_recipient` or `mail_off`.
    mail: Option<String>,
}

/// A holder in a hand-over's trail event.
#[derive(ToSchema)]
#[schema(as = HolderParty)]
pub struct HolderPartySchema {
    user_id: Option<Uuid>,
    user_name: Option<String>,
    department_id: Option<Uuid>,
    department_name: Option<String>,
}

/// An application's step, as the change feed carries it: the same field names as the
/// application resource (`RequestDto`).
#[derive(ToSchema)]
#[schema(as = ApplicationEventData)]
#[serde(deny_unknown_fields)]
pub struct ApplicationEventDataSchema {
    case_number: String,
    #[schema(required)]
    external_reference: Option<String>,
    /// `intake`, `import`, `intake_corrected`, `retimed` or an action name.
    action: super::dto::TrailActionCode,
    /// The step's date.
    #[schema(required)]
    on_date: Option<NaiveDate>,
    #[schema(required)]
    state_before: Option<StateCode>,
    state: StateCode,
    #[schema(required)]
    receipt_date: Option<NaiveDate>,
    #[schema(required)]
    due_date: Option<NaiveDate>,
    #[schema(required)]
    disposition: Option<DispositionCode>,
    #[schema(required)]
    closed_on: Option<NaiveDate>,
    version: i32,
    /// What the step recorded (identity numbers and contact details left out).
    details: StepPayloadSchema,
}

/// A review or lawsuit as recorded (`review.case_recorded`, `litigation.case_recorded`): the
/// same field names as `RemedyDto`.
#[derive(ToSchema)]
#[schema(as = RemedyEventData)]
#[serde(deny_unknown_fields)]
pub struct RemedyEventDataSchema {
    #[schema(required)]
    request_id: Option<Uuid>,
    /// A suit after review: the review.
    #[schema(required)]
    review_id: Option<Uuid>,
    applicant_name: String,
    /// The review body or court.
    body_name: String,
    filed_on: NaiveDate,
    #[schema(required)]
    received_on: Option<NaiveDate>,
    #[schema(required)]
    act_known_on: Option<NaiveDate>,
    #[schema(required, value_type = Option<super::dto::RouteCode>)]
    route: Option<String>,
    /// Court instance (litigation).
    #[schema(required)]
    instance: Option<String>,
    #[schema(required, value_type = Option<super::dto::DecisionTypeCode>)]
    decision_type: Option<String>,
    #[schema(required)]
    decided_on: Option<NaiveDate>,
    #[schema(required)]
    decision_served_on: Option<NaiveDate>,
    #[schema(required, value_type = Option<super::dto::OutcomeCode>)]
    outcome: Option<String>,
    #[schema(required)]
    notes: Option<String>,
}

/// A review's or lawsuit's filing limit measured again because a service date was recorded
/// (`review.filing_limit_remeasured`, `litigation.filing_limit_remeasured`).
#[derive(ToSchema)]
#[schema(as = FilingLimitRemeasured)]
#[serde(deny_unknown_fields)]
pub struct FilingLimitRemeasuredSchema {
    before: FilingLimitSchema,
    after: FilingLimitSchema,
    cause: RemeasureCauseSchema,
}

/// The record whose change moved the limit: the application whose reply's service was recorded
/// or corrected (`request_id`), or the review whose decision or its service changed
/// (`review_id`, for the suits brought after it). Exactly one is present.
#[derive(ToSchema)]
#[schema(as = RemeasureCause)]
#[serde(deny_unknown_fields)]
pub struct RemeasureCauseSchema {
    request_id: Option<Uuid>,
    review_id: Option<Uuid>,
}

/// A filing limit and where it starts.
#[derive(ToSchema)]
#[schema(as = FilingLimit)]
#[serde(deny_unknown_fields)]
pub struct FilingLimitSchema {
    #[schema(required)]
    filing_starts_on: Option<NaiveDate>,
    #[schema(required, value_type = Option<super::dto::FilingStartBasisCode>)]
    filing_start_basis: Option<String>,
    #[schema(required)]
    filing_deadline: Option<NaiveDate>,
    #[schema(required)]
    filed_late: Option<bool>,
    /// A direct suit against a denial recorded where review comes first (warning only).
    #[schema(required)]
    review_first_required: Option<bool>,
}

/// A review or lawsuit changed (`review.case_updated`, `review.case_corrected`,
/// `review.decision_served`, and the same for `litigation`): the record before and after, and
/// the reason of a correction.
#[derive(ToSchema)]
#[schema(as = RemedyChangeEventData)]
#[serde(deny_unknown_fields)]
pub struct RemedyChangeEventDataSchema {
    before: RemedyEventDataSchema,
    after: RemedyEventDataSchema,
    #[schema(required)]
    reason: Option<String>,
}

/// A report published or reopened (`report.report_published`, `report.report_reopened`).
#[derive(ToSchema)]
#[schema(as = ReportVersionEventData)]
#[serde(deny_unknown_fields)]
pub struct ReportVersionEventDataSchema {
    /// The published version.
    version: i32,
    /// Why it was reopened.
    reason: Option<String>,
}

/// A report's entered part saved (`report.proactive_saved`, `report.narrative_saved`, …):
/// the part before and after.
#[derive(ToSchema)]
#[schema(as = ReportChangeEventData)]
#[serde(deny_unknown_fields)]
pub struct ReportChangeEventDataSchema {
    #[schema(required, value_type = Option<BTreeMap<String, Value>>)]
    before: Option<Value>,
    #[schema(value_type = BTreeMap<String, Value>)]
    after: Value,
}

/// The data of a feed event, by its `entity_type`: `application` → `ApplicationEventData`;
/// `review` and `litigation` → `RemedyEventData`, `RemedyChangeEventData` or
/// `FilingLimitRemeasured`; `report` →
/// `ReportVersionEventData` or `ReportChangeEventData`.
#[derive(ToSchema)]
#[schema(as = FeedEventData)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum FeedEventDataSchema {
    Application(ApplicationEventDataSchema),
    Remedy(RemedyEventDataSchema),
    RemedyChange(RemedyChangeEventDataSchema),
    FilingLimitRemeasured(FilingLimitRemeasuredSchema),
    ReportVersion(ReportVersionEventDataSchema),
    ReportChange(ReportChangeEventDataSchema),
}

/// One entry of a review's or lawsuit's history: the record as first recorded, a change
/// (before, after, reason), or a filing limit measured again.
#[derive(ToSchema)]
#[schema(as = RemedyHistoryPayload)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum RemedyHistoryPayloadSchema {
    Recorded(RemedyEventDataSchema),
    Changed(RemedyChangeEventDataSchema),
    FilingLimitRemeasured(FilingLimitRemeasuredSchema),
}

/// What an audit entry records. Changes of a resource carry `before` and `after` (a whole
/// part, or per changed field `{"<field>": {"before": …, "after": …}}`), often with the new
/// `version` and a `reason`; a review or lawsuit recorded carries its record
/// (`RemedyEventData`); a login failure its user name and address. Members depend on the
/// entity and action; those listed here are typed when present.
#[derive(ToSchema)]
#[schema(as = AuditPayload)]
pub struct AuditPayloadSchema {
    before: Option<Value>,
    after: Option<Value>,
    version: Option<i32>,
    reason: Option<String>,
    cause: Option<String>,
    request_id: Option<Uuid>,
}

/// The fields of a notice: the body of the act it performs, by the notice's `type` — `reply`:
/// `ReplyBody`; `correction`: `RequestCorrectionBody`; `extension`: `ExtendBody`;
/// `consultation`: `StartConsultationBody`; `fee`: `IssueFeeNoticeBody`; `delayed_reply`:
/// `OverrideDeadlineBody`; `objection_override`: `ObjectionNoticeBody`; `receipt` and
/// `closure`: `NoticeDateBody`.
#[derive(ToSchema)]
#[schema(as = NoticeFields)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum NoticeFieldsSchema {
    Reply(super::actions::ReplyBody),
    Correction(super::actions::RequestCorrectionBody),
    Extension(super::actions::ExtendBody),
    Consultation(super::actions::StartConsultationBody),
    Fee(super::actions::IssueFeeNoticeBody),
    DelayedReply(super::actions::OverrideDeadlineBody),
    ObjectionOverride(super::actions::ObjectionNoticeBody),
    Date(super::actions::NoticeDateBody),
}
