//! Shapes shared by several resources.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::Paged;
use crate::domain::access::Role;

/// The one list envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListEnvelope<T: ToSchema> {
    pub items: Vec<T>,
    /// The page returned, from 1.
    pub page: i64,
    /// Items per page asked for.
    pub per_page: i64,
    /// Items matching the filters, over all pages.
    pub total: i64,
}

impl<T: ToSchema> ListEnvelope<T> {
    pub fn from_paged<R>(p: Paged<R>, f: impl FnMut(R) -> T) -> Self {
        ListEnvelope {
            items: p.items.into_iter().map(f).collect(),
            page: p.page.page,
            per_page: p.page.per_page,
            total: p.total,
        }
    }
}

/// `page` and `per_page` of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleDto {
    /// Registers applications and moves them through the statutory steps.
    Clerk,
    /// Head of the disclosure office: approves extensions.
    Approver,
    /// Manages agencies below its own, users, calendars; publishes reports.
    Admin,
    /// Reads everything in its agency's subtree.
    Supervisor,
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::Clerk => RoleDto::Clerk,
            Role::Approver => RoleDto::Approver,
            Role::Admin => RoleDto::Admin,
            Role::Supervisor => RoleDto::Supervisor,
        }
    }
}

impl RoleDto {
    pub fn code(self) -> &'static str {
        match self {
            RoleDto::Clerk => "clerk",
            RoleDto::Approver => "approver",
            RoleDto::Admin => "admin",
            RoleDto::Supervisor => "supervisor",
        }
    }
}

/// A stored UTC instant as the API shows it (RFC 3339 with offset).
pub fn instant(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// For PATCH bodies: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

// Code lists of domain.md, for the contract only: request and response fields stay strings
// checked by the domain (so an unknown code gets the domain's field error), but the OpenAPI
// document lists the allowed values.

/// How an application arrived (domain.md §3).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ChannelCode {
    InPerson,
    Letter,
    Fax,
    Email,
    Online,
    Other,
}

/// The applicant's kind: the columns of report table 三 (domain.md §2).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ApplicantKindCode {
    NaturalPerson,
    CommercialEnterprise,
    ResearchInstitution,
    SocialWelfareOrganization,
    LegalServiceInstitution,
    OtherOrganization,
}

/// Where an application stands (domain.md §5).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum StateCode {
    AwaitingConfirmation,
    Processing,
    AwaitingCorrection,
    Consulting,
    AwaitingPayment,
    Closed,
}

/// Which publication deadline of art. 49 applies to an agency's yearly report.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ReportKindCode {
    /// 政府部门: by 31 January of the next year.
    Department,
    /// 县级以上人民政府: the overall report by 31 March of the next year.
    Government,
}

/// Who is consulted (domain.md §5: art. 32 third party, art. 34 other agency).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum PartyCode {
    ThirdParty,
    OtherAgency,
}

/// A consulted party's answer; `no_reply` only after its 15 working days.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OpinionCode {
    Consent,
    Objection,
    NoReply,
}

/// The basis of an information processing fee (domain.md §7).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum FeeBasisCode {
    PerPiece,
    PerPage,
}

/// How an application ended: the rows of report table 三 (domain.md §6).
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum DispositionCode {
    #[schema(rename = "granted")]
    Granted,
    #[schema(rename = "partially_granted")]
    PartiallyGranted,
    #[schema(rename = "denied.state_secret")]
    DeniedStateSecret,
    #[schema(rename = "denied.prohibited_by_law")]
    DeniedProhibitedByLaw,
    #[schema(rename = "denied.security_stability")]
    DeniedSecurityStability,
    #[schema(rename = "denied.third_party_rights")]
    DeniedThirdPartyRights,
    #[schema(rename = "denied.internal_affairs")]
    DeniedInternalAffairs,
    #[schema(rename = "denied.process_information")]
    DeniedProcessInformation,
    #[schema(rename = "denied.enforcement_file")]
    DeniedEnforcementFile,
    #[schema(rename = "denied.administrative_inquiry")]
    DeniedAdministrativeInquiry,
    #[schema(rename = "unavailable.not_held")]
    UnavailableNotHeld,
    #[schema(rename = "unavailable.needs_creation")]
    UnavailableNeedsCreation,
    #[schema(rename = "unavailable.still_unclear")]
    UnavailableStillUnclear,
    #[schema(rename = "not_processed.petition")]
    NotProcessedPetition,
    #[schema(rename = "not_processed.repeated")]
    NotProcessedRepeated,
    #[schema(rename = "not_processed.publication")]
    NotProcessedPublication,
    #[schema(rename = "not_processed.mass_repeated")]
    NotProcessedMassRepeated,
    #[schema(rename = "not_processed.confirmation")]
    NotProcessedConfirmation,
    #[schema(rename = "other.uncorrected")]
    OtherUncorrected,
    #[schema(rename = "other.unpaid")]
    OtherUnpaid,
    #[schema(rename = "other.other")]
    OtherOther,
}

/// What a review body or court decided (domain.md §8); `upheld` is for reviews only.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DecisionTypeCode {
    Upheld,
    ClaimRejected,
    Revoked,
    Varied,
    ConfirmedUnlawful,
    ConfirmedVoid,
    OrderedToAct,
    ApplicationRejected,
    Withdrawn,
    Terminated,
    Mediated,
}

/// The outcome counted in report table 四.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OutcomeCode {
    Upheld,
    Corrected,
    Other,
    Pending,
}

/// What a filing limit is counted from (the `*_date` ones are provisional).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum FilingStartBasisCode {
    ActKnownOn,
    ReplyServedOn,
    ReplyDate,
    DecisionServedOn,
    DecisionDate,
}

/// A warning: shown, never a refusal.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Warning {
    /// A stable code, e.g. `review_first_required`.
    pub code: String,
    /// What it means, in Chinese.
    pub message: String,
}

impl Warning {
    /// Administrative Reconsideration Law (2023) art. 23 para. 1 item 4, since 2024-01-01.
    pub fn review_first_required() -> Warning {
        Warning {
            code: "review_first_required".into(),
            message: "自2024年1月1日起，申请人对行政机关不予公开政府信息不服的，应当先申请行政复议，对复议决定不服的再提起行政诉讼（《中华人民共和国行政复议法》第二十三条第一款第四项）；本案为未经复议直接起诉。".into(),
        }
    }
}

/// The route of a lawsuit.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RouteCode {
    Direct,
    AfterReview,
}

/// The kind of identity document (身份证明文件).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum IdDocumentTypeCode {
    /// 居民身份证 (checked against GB 11643).
    ResidentIdCard,
    Passport,
    Other,
}

/// The form in which the information is wanted (获取信息的方式).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RequestedFormCode {
    Paper,
    Electronic,
    Inspection,
    Other,
}

/// How the reply is to be delivered.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DeliveryCode {
    Post,
    Email,
    Collect,
    Online,
    Fax,
    Other,
}

/// Review (行政复议) or litigation (行政诉讼).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RemedyKindCode {
    Review,
    Litigation,
}

/// A court instance: first instance, second instance, retrial.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum InstanceCode {
    First,
    Second,
    Retrial,
}

/// What kind of record a feed event is about.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum FeedEntityCode {
    Application,
    Review,
    Litigation,
    Report,
}

/// How severe a finding or check is: `error` blocks, `warning` does not.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SeverityCode {
    Error,
    Warning,
}

/// Where a calendar year's notice came from.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum CalendarSourceCode {
    /// Loaded from config/calendar.
    File,
    /// Entered through the API.
    Api,
}

/// What a review's or lawsuit's history entry records.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RemedyHistoryActionCode {
    CaseRecorded,
    CaseUpdated,
    CaseCorrected,
    DecisionServed,
    FilingLimitRemeasured,
}

/// A feed event's type: `<entity_type>.<action>`. Webhook subscriptions take these, `*`, or
/// `<entity_type>.*`.
#[derive(ToSchema)]
#[allow(dead_code, clippy::enum_variant_names)]
pub enum FeedEventTypeCode {
    #[serde(rename = "application.intake")]
    ApplicationIntake,
    #[serde(rename = "application.import")]
    ApplicationImport,
    #[serde(rename = "application.intake_corrected")]
    ApplicationIntakeCorrected,
    #[serde(rename = "application.retimed")]
    ApplicationRetimed,
    #[serde(rename = "application.confirm_receipt")]
    ApplicationConfirmReceipt,
    #[serde(rename = "application.request_correction")]
    ApplicationRequestCorrection,
    #[serde(rename = "application.receive_correction")]
    ApplicationReceiveCorrection,
    #[serde(rename = "application.start_consultation")]
    ApplicationStartConsultation,
    #[serde(rename = "application.record_consultation_receipt")]
    ApplicationRecordConsultationReceipt,
    #[serde(rename = "application.end_consultation")]
    ApplicationEndConsultation,
    #[serde(rename = "application.issue_fee_notice")]
    ApplicationIssueFeeNotice,
    #[serde(rename = "application.record_fee_notice_receipt")]
    ApplicationRecordFeeNoticeReceipt,
    #[serde(rename = "application.record_payment")]
    ApplicationRecordPayment,
    #[serde(rename = "application.waive_fee")]
    ApplicationWaiveFee,
    #[serde(rename = "application.extend")]
    ApplicationExtend,
    #[serde(rename = "application.override_deadline")]
    ApplicationOverrideDeadline,
    #[serde(rename = "application.reply")]
    ApplicationReply,
    #[serde(rename = "application.close_uncorrected")]
    ApplicationCloseUncorrected,
    #[serde(rename = "application.close_unpaid")]
    ApplicationCloseUnpaid,
    #[serde(rename = "application.withdraw")]
    ApplicationWithdraw,
    #[serde(rename = "application.record_reply_service")]
    ApplicationRecordReplyService,
    #[serde(rename = "application.assign")]
    ApplicationAssign,
    #[serde(rename = "application.claim")]
    ApplicationClaim,
    #[serde(rename = "application.transfer")]
    ApplicationTransfer,
    #[serde(rename = "application.return")]
    ApplicationReturn,
    #[serde(rename = "application.consult_internally")]
    ApplicationConsultInternally,
    #[serde(rename = "application.answer_internal_consultation")]
    ApplicationAnswerInternalConsultation,
    /// A reminder to the holder (`kind`: `due_soon`, `window_ending`, `unclaimed`).
    #[serde(rename = "application.reminder")]
    ApplicationReminder,
    #[serde(rename = "review.case_recorded")]
    ReviewCaseRecorded,
    #[serde(rename = "review.case_updated")]
    ReviewCaseUpdated,
    #[serde(rename = "review.case_corrected")]
    ReviewCaseCorrected,
    #[serde(rename = "review.decision_served")]
    ReviewDecisionServed,
    #[serde(rename = "review.filing_limit_remeasured")]
    ReviewFilingLimitRemeasured,
    #[serde(rename = "litigation.case_recorded")]
    LitigationCaseRecorded,
    #[serde(rename = "litigation.case_updated")]
    LitigationCaseUpdated,
    #[serde(rename = "litigation.case_corrected")]
    LitigationCaseCorrected,
    #[serde(rename = "litigation.decision_served")]
    LitigationDecisionServed,
    #[serde(rename = "litigation.filing_limit_remeasured")]
    LitigationFilingLimitRemeasured,
    #[serde(rename = "report.proactive_entered")]
    ReportProactiveEntered,
    #[serde(rename = "report.narrative_entered")]
    ReportNarrativeEntered,
    #[serde(rename = "report.report_published")]
    ReportReportPublished,
    #[serde(rename = "report.report_reopened")]
    ReportReportReopened,
}

/// A step of an application's trail: registration, a correction of its details, a calendar
/// change that re-timed it, or a statutory step (the action names of
/// `/requests/{id}/actions/{action}`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TrailActionCode {
    Intake,
    Import,
    IntakeCorrected,
    Retimed,
    ConfirmReceipt,
    RequestCorrection,
    ReceiveCorrection,
    StartConsultation,
    RecordConsultationReceipt,
    EndConsultation,
    IssueFeeNotice,
    RecordFeeNoticeReceipt,
    RecordPayment,
    WaiveFee,
    Extend,
    OverrideDeadline,
    Reply,
    CloseUncorrected,
    CloseUnpaid,
    Withdraw,
    RecordReplyService,
    /// 分办 (`/requests/{id}/assign`).
    Assign,
    /// 签收.
    Claim,
    /// 转办.
    Transfer,
    /// 退回.
    Return,
    /// 协办 asked.
    ConsultInternally,
    /// 协办 answered.
    AnswerInternalConsultation,
    /// Feed only (`application.reminder`): a reminder to the holder; `details` carries its
    /// `kind`, `occasion` and `subject`.
    Reminder,
}
