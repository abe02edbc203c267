//! The statutory steps of domain.md §5, one operation each:
//! `POST /api/v1/requests/{id}/actions/{action}`. Each body type has exactly the fields of its
//! action (a foreign field is a 422 naming it), typed as what they are (dates, codes, ids), and
//! turns into one variant of the domain's [`Action`]. Whether the law allows the step now is the
//! domain's decision (409 with a stable code).

use actix_web::{HttpResponse, post, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{ApiJson, Authenticated, Ctx, IfMatch};
use super::problem::ApiError;
use super::requests::{etag, request_dto};
use crate::app::AppState;
use crate::app::requests::{self as uc, Step};
use crate::domain::access::Actor;
use crate::domain::disposition::Disposition;
use crate::domain::fees::FeeBasis;
use crate::domain::request::{Action, Opinion, Party};
use crate::domain::validation::FieldError;

/// A step's body: its date and the domain action it stands for.
trait ActionBody: Serialize {
    fn on(&self) -> NaiveDate;
    fn action(&self) -> Result<Action, Vec<FieldError>>;
}

async fn act<B: ActionBody>(
    state: web::Data<AppState>,
    actor: Actor,
    ctx: Ctx,
    id: Uuid,
    if_match: IfMatch,
    body: B,
) -> Result<HttpResponse, ApiError> {
    let action = body.action().map_err(crate::app::AppError::Validation)?;
    // The trail records the step's fields as sent (absent ones left out).
    let fields = match serde_json::to_value(&body) {
        Ok(serde_json::Value::Object(m)) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => serde_json::Map::new(),
    };
    let step = Step {
        on: body.on(),
        action,
        fields,
    };
    let v = uc::apply_action(&state, actor, id.to_string(), step, if_match.0, ctx.0).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(&v))
        .json(request_dto(&v, state.today(), false)))
}

/// 确认收到: the day both sides confirmed receipt (online, fax, email, ordinary letters) becomes
/// the receipt date and the clock starts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-03"}))]
pub struct ConfirmReceiptBody {
    /// The confirmation date (YYYY-MM-DD): not before the arrival, not in the future.
    pub on: NaiveDate,
}

impl ActionBody for ConfirmReceiptBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Ok(Action::ConfirmReceipt)
    }
}

/// 补正告知 (art. 30): once, within 7 working days of receipt, listing everything to correct.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-04", "items": ["请写明所需信息的文件名称或文号"], "reply_by": "2026-03-18"}))]
pub struct RequestCorrectionBody {
    /// The notice date.
    pub on: NaiveDate,
    /// Everything to correct (at least one item).
    pub items: Vec<String>,
    /// The deadline given to the applicant; after `on`.
    pub reply_by: NaiveDate,
}

impl ActionBody for RequestCorrectionBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Action::request_correction(self.on, &self.items, self.reply_by)
    }
}

/// The corrected application arrived on `on`: the reply period starts afresh.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-10"}))]
pub struct ReceiveCorrectionBody {
    /// The day the corrected application was received.
    pub on: NaiveDate,
}

impl ActionBody for ReceiveCorrectionBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Ok(Action::ReceiveCorrection)
    }
}

/// 征求意见 (art. 32 third party, art. 34 other agency): the clock pauses.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-04", "party": "third_party", "whom": "某某有限公司"}))]
pub struct StartConsultationBody {
    /// The day the letter was sent.
    pub on: NaiveDate,
    #[schema(value_type = super::dto::PartyCode)]
    pub party: Party,
    /// Who is consulted (name).
    pub whom: String,
    /// The day the consulted party received the letter, when already known (else record it
    /// later with `record_consultation_receipt`): its 15 working days run from it.
    pub received_on: Option<NaiveDate>,
}

impl ActionBody for StartConsultationBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Action::start_consultation(self.on, self.party, &self.whom, self.received_on)
    }
}

/// The consulted party received the letter on `received_on` (the post's return receipt, the
/// recipient's signature): its 15 working days run from the day after (art. 32).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-06", "received_on": "2026-03-05"}))]
pub struct RecordConsultationReceiptBody {
    /// The day this is recorded.
    pub on: NaiveDate,
    /// The day the consulted party received the letter: not before it was sent, not after `on`.
    pub received_on: NaiveDate,
}

impl ActionBody for RecordConsultationReceiptBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Ok(Action::RecordConsultationReceipt {
            received_on: self.received_on,
        })
    }
}

/// The applicant received the fee notice on `received_on`: the 20 working days to pay run from
/// the day after (fee Measures).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-06", "received_on": "2026-03-05"}))]
pub struct RecordFeeNoticeReceiptBody {
    /// The day this is recorded.
    pub on: NaiveDate,
    /// The day the applicant received the notice: not before it was sent, not after `on`.
    pub received_on: NaiveDate,
}

impl ActionBody for RecordFeeNoticeReceiptBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Ok(Action::RecordFeeNoticeReceipt {
            received_on: self.received_on,
        })
    }
}

/// The consulted party answered, or its 15 working days passed (`no_reply`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-10", "opinion": "consent"}))]
pub struct EndConsultationBody {
    /// The day the answer arrived (for `no_reply`: after the 15 working days).
    pub on: NaiveDate,
    #[schema(value_type = super::dto::OpinionCode)]
    pub opinion: Opinion,
}

impl ActionBody for EndConsultationBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Ok(Action::EndConsultation {
            opinion: self.opinion,
        })
    }
}

/// 收费通知 (fee Measures): the clock pauses until payment or waiver.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-04", "basis": "per_page", "pages": 40, "amount_fen": 10000}))]
pub struct IssueFeeNoticeBody {
    /// The notice date.
    pub on: NaiveDate,
    #[schema(value_type = super::dto::FeeBasisCode)]
    pub basis: FeeBasis,
    /// The amount in fen (1 yuan = 100 fen); at most what the Measures allow.
    pub amount_fen: i64,
    /// The pages (required with `per_page`).
    #[schema(minimum = 1, maximum = 1000000)]
    pub pages: Option<i64>,
    /// The day the applicant received the notice, when already known (else record it later
    /// with `record_fee_notice_receipt`): the 20 working days to pay run from the day after.
    pub received_on: Option<NaiveDate>,
}

impl ActionBody for IssueFeeNoticeBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Action::issue_fee_notice(
            self.on,
            self.basis,
            self.amount_fen,
            self.pages,
            self.received_on,
        )
    }
}

/// The fee was paid (the amount of the notice).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-10", "amount_fen": 10000}))]
pub struct RecordPaymentBody {
    /// The day of payment.
    pub on: NaiveDate,
    /// The amount paid in fen: the notice's amount.
    pub amount_fen: i64,
}

impl ActionBody for RecordPaymentBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Action::record_payment(self.amount_fen)
    }
}

/// The fee is waived (减免).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-10", "reason": "申请人确有经济困难，经审核予以免除"}))]
pub struct WaiveFeeBody {
    pub on: NaiveDate,
    /// Why.
    pub reason: String,
}

impl ActionBody for WaiveFeeBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Action::waive_fee(&self.reason)
    }
}

/// 延期答复 (art. 33): approvers only; once; at most 20 working days; before the due date.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-10", "days": 20, "reason": "所需信息涉及多个业务处室，需调取档案"}))]
pub struct ExtendBody {
    /// The day the head of the disclosure office approved it.
    pub on: NaiveDate,
    /// Working days added, 1–20.
    #[schema(minimum = 1, maximum = 20)]
    pub days: i64,
    /// Why the 20 working days do not suffice.
    pub reason: String,
}

impl ActionBody for ExtendBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Action::extend(self.days, &self.reason)
    }
}

/// A longer reply period for numerous applications (art. 35): approvers only.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-10", "due_date": "2026-06-30", "reason": "申请人短期内提出大量申请，需延长答复期限"}))]
pub struct OverrideDeadlineBody {
    /// The day it was set.
    pub on: NaiveDate,
    /// The longer period's last day: a working day after the statutory due date.
    pub due_date: NaiveDate,
    /// Why, as told to the applicant.
    pub reason: String,
}

impl ActionBody for OverrideDeadlineBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Action::override_deadline(self.due_date, &self.reason)
    }
}

/// 答复 (art. 36): the disposition of domain.md §6 with what it requires — `reason` for every
/// non-granting disposition, `legal_basis` for denials, `provision` for granted and partially
/// granted, `responsible_agency` for `unavailable.not_held` when known, `repeats_request_id`
/// only for `not_processed.repeated`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-10", "disposition": "granted", "provision": "以电子邮件方式向申请人提供所申请的信息"}))]
pub struct ReplyBody {
    /// The reply date.
    pub on: NaiveDate,
    #[schema(value_type = super::dto::DispositionCode)]
    pub disposition: Disposition,
    /// Shown to the applicant.
    pub reason: Option<String>,
    /// The articles relied on (denials), e.g. 《中华人民共和国政府信息公开条例》第十四条.
    pub legal_basis: Option<String>,
    /// How and when the information is provided, or where it is already public.
    pub provision: Option<String>,
    /// The responsible agency, name and contact (`unavailable.not_held`).
    pub responsible_agency: Option<String>,
    /// The earlier application this one repeats (`not_processed.repeated`); it must exist.
    pub repeats_request_id: Option<Uuid>,
    /// Disclosure although a consulted third party objected (art. 32): required for a
    /// `granted` reply after an objection (else 409 `third_party_objection_unanswered`).
    pub objection_override: Option<ObjectionOverrideBody>,
    /// The day the reply was served on the applicant (送达), when already known (else record
    /// it later with `record_reply_service`): not before the reply, not in the future. The
    /// applicant's review and litigation limits run from it.
    pub served_on: Option<NaiveDate>,
}

/// The public-interest reason for disclosing over a third party's objection, and the written
/// notice that told the third party (art. 32).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionOverrideBody {
    /// Why withholding would seriously harm the public interest.
    pub public_interest_reason: String,
    /// The day the written notice went to the third party (by the reply date).
    pub notice_sent_on: NaiveDate,
    /// What the notice says will be disclosed.
    pub disclosed: String,
}

impl ActionBody for ReplyBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Action::reply(
            self.disposition,
            self.reason.as_deref(),
            self.legal_basis.as_deref(),
            self.provision.as_deref(),
            self.responsible_agency.as_deref(),
            self.repeats_request_id.map(|u| u.to_string()),
            self.objection_override.as_ref().map(|o| {
                (
                    o.public_interest_reason.as_str(),
                    o.notice_sent_on,
                    o.disclosed.as_str(),
                )
            }),
        )
        .map(|a| a.served_on(self.served_on))
    }
}

/// The reply was served on the applicant (送达) on `served_on`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-16", "served_on": "2026-03-13"}))]
pub struct RecordReplyServiceBody {
    /// The day this is recorded.
    pub on: NaiveDate,
    /// The day the applicant received the reply (the post's or e-mail's proof of service): not
    /// before the reply, not after `on`. A later record corrects an earlier one.
    pub served_on: NaiveDate,
}

impl ActionBody for RecordReplyServiceBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Ok(Action::RecordReplyService {
            served_on: self.served_on,
        })
    }
}

/// Closes the application as `other.uncorrected` once the correction deadline has passed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-19"}))]
pub struct CloseUncorrectedBody {
    /// A day after the correction's `reply_by`.
    pub on: NaiveDate,
}

impl ActionBody for CloseUncorrectedBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Ok(Action::CloseUncorrected)
    }
}

/// Closes the application as `other.unpaid` once the 20 working days to pay have passed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-04-02"}))]
pub struct CloseUnpaidBody {
    /// A day after the 20 working days from the fee notice.
    pub on: NaiveDate,
}

impl ActionBody for CloseUnpaidBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Ok(Action::CloseUnpaid)
    }
}

/// The applicant withdrew: closes as `other.other`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-05", "reason": "申请人书面撤回申请"}))]
pub struct WithdrawBody {
    pub on: NaiveDate,
    /// Default `withdrawn`.
    pub reason: Option<String>,
}

impl ActionBody for WithdrawBody {
    fn on(&self) -> NaiveDate {
        self.on
    }
    fn action(&self) -> Result<Action, Vec<FieldError>> {
        Action::withdraw(self.reason.as_deref())
    }
}

/// One operation per action: the same handler shape, its own body type and documentation.
macro_rules! action_operation {
    ($handler:ident, $path:tt, $body:ident, $summary:tt, $refusals:tt) => {
        #[doc = $summary]
        ///
        /// Needs `If-Match` with the version read. The step and the new state are written with
        /// one trail event in one transaction.
        #[utoipa::path(tag = "actions", security(("bearer" = [])), request_body = $body,
            params(
                ("id" = Uuid, Path, description = "Application id"),
                ("If-Match" = String, Header, description = "The version read, e.g. \"3\""),
            ),
            responses(
                (status = 200, description = "Applied; the application as it now stands", body = super::requests::RequestDto),
                (status = 403, description = "Role not allowed (`forbidden`, `approver_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
                (status = 409, description = $refusals, body = super::problem::Problem, content_type = "application/problem+json"),
                (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
                (status = 422, description = "A field is missing, foreign to this action, or invalid (`validation_failed`; `errors[].code` e.g. `required`, `unknown_field`, `unknown_code`, `invalid_value`, `in_future`, `before_previous_step`)", body = super::problem::Problem, content_type = "application/problem+json"),
                (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
            ))]
        #[post($path)]
        pub async fn $handler(
            state: web::Data<AppState>,
            Authenticated(actor): Authenticated,
            ctx: Ctx,
            path: web::Path<Uuid>,
            if_match: IfMatch,
            body: ApiJson<$body>,
        ) -> Result<HttpResponse, ApiError> {
            act(state, actor, ctx, path.into_inner(), if_match, body.0).await
        }
    };
}

action_operation!(
    confirm_receipt,
    "/requests/{id}/actions/confirm_receipt",
    ConfirmReceiptBody,
    "Confirm receipt (确认收到): awaiting_confirmation → processing.",
    "Not allowed now (`invalid_transition`)"
);
action_operation!(
    request_correction,
    "/requests/{id}/actions/request_correction",
    RequestCorrectionBody,
    "Ask for a correction (补正告知, art. 30): processing → awaiting_correction.",
    "Not allowed now (`invalid_transition`, `correction_already_requested`, `correction_window_passed`)"
);
action_operation!(
    receive_correction,
    "/requests/{id}/actions/receive_correction",
    ReceiveCorrectionBody,
    "Record the corrected application (收到补正): awaiting_correction → processing; the clock restarts.",
    "Not allowed now (`invalid_transition`)"
);
action_operation!(
    start_consultation,
    "/requests/{id}/actions/start_consultation",
    StartConsultationBody,
    "Consult a third party or another agency (征求意见, art. 32, 34): processing → consulting.",
    "Not allowed now (`invalid_transition`)"
);
action_operation!(
    record_consultation_receipt,
    "/requests/{id}/actions/record_consultation_receipt",
    RecordConsultationReceiptBody,
    "Record when the consulted party received the letter (art. 32): its 15 working days run from then.",
    "Not allowed now (`invalid_transition`)"
);
action_operation!(
    end_consultation,
    "/requests/{id}/actions/end_consultation",
    EndConsultationBody,
    "End a consultation with its opinion: consulting → processing.",
    "Not allowed now (`invalid_transition`, `consultation_window_not_passed`)"
);
action_operation!(
    issue_fee_notice,
    "/requests/{id}/actions/issue_fee_notice",
    IssueFeeNoticeBody,
    "Issue a fee notice (收费通知): processing → awaiting_payment.",
    "Not allowed now (`invalid_transition`, `fee_rules_not_in_force`, `fee_notice_already_issued`, `fee_not_chargeable`, `fee_above_maximum`)"
);
action_operation!(
    record_fee_notice_receipt,
    "/requests/{id}/actions/record_fee_notice_receipt",
    RecordFeeNoticeReceiptBody,
    "Record when the applicant received the fee notice: the 20 working days to pay run from the day after.",
    "Not allowed now (`invalid_transition`)"
);
action_operation!(
    record_payment,
    "/requests/{id}/actions/record_payment",
    RecordPaymentBody,
    "Record the payment: awaiting_payment → processing.",
    "Not allowed now (`invalid_transition`, `payment_window_passed`)"
);
action_operation!(
    waive_fee,
    "/requests/{id}/actions/waive_fee",
    WaiveFeeBody,
    "Waive the fee: awaiting_payment → processing.",
    "Not allowed now (`invalid_transition`)"
);
action_operation!(
    extend,
    "/requests/{id}/actions/extend",
    ExtendBody,
    "Extend the reply period (延期答复, art. 33), approvers only.",
    "Not allowed now (`invalid_transition`, `extension_already_used`, `extension_too_long`, `due_date_passed`)"
);
action_operation!(
    override_deadline,
    "/requests/{id}/actions/override_deadline",
    OverrideDeadlineBody,
    "Set a longer reply period for numerous applications (art. 35), approvers only.",
    "Not allowed now (`invalid_transition`, `due_date_passed`, `deadline_already_overridden`, `override_not_later`)"
);
action_operation!(
    reply,
    "/requests/{id}/actions/reply",
    ReplyBody,
    "Reply (答复, art. 36) with a disposition of domain.md §6: processing → closed.",
    "Not allowed now (`invalid_transition`, `disposition_requires_reason`, `disposition_requires_legal_basis`, `disposition_requires_provision`, `disposition_requires_action`, `correction_not_received`, `third_party_objection_unanswered`)"
);
action_operation!(
    close_uncorrected,
    "/requests/{id}/actions/close_uncorrected",
    CloseUncorrectedBody,
    "Close as not corrected (`other.uncorrected`): awaiting_correction → closed.",
    "Not allowed now (`invalid_transition`, `correction_deadline_not_passed`)"
);
action_operation!(
    close_unpaid,
    "/requests/{id}/actions/close_unpaid",
    CloseUnpaidBody,
    "Close as unpaid (`other.unpaid`): awaiting_payment → closed.",
    "Not allowed now (`invalid_transition`, `payment_deadline_not_passed`)"
);
action_operation!(
    record_reply_service,
    "/requests/{id}/actions/record_reply_service",
    RecordReplyServiceBody,
    "Record when the reply was served on the applicant (送达): the reviews and direct suits against it are measured from then. Closed applications only.",
    "Not allowed now (`invalid_transition`)"
);
action_operation!(
    withdraw,
    "/requests/{id}/actions/withdraw",
    WithdrawBody,
    "Record the applicant's withdrawal (`other.other`): any open state → closed.",
    "Not allowed now (`invalid_transition`)"
);

/// The fields of a notice that performs no act of its own: its date.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-02"}))]
pub struct NoticeDateBody {
    /// The notice's date.
    pub on: NaiveDate,
}

/// The fields of the art. 32 notice to a third party whose objection is overridden.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"on": "2026-03-10", "third_party": "某某建设有限公司", "disclosed": "项目环境影响评价批复文件", "public_interest_reason": "该项目涉及周边居民的环境权益，不公开将对公共利益造成重大影响。"}))]
pub struct ObjectionNoticeBody {
    pub on: NaiveDate,
    /// The third party who objected.
    pub third_party: String,
    /// What will be disclosed.
    pub disclosed: String,
    /// Why withholding would seriously harm the public interest.
    pub public_interest_reason: String,
}

fn typed<B: serde::de::DeserializeOwned + ActionBody>(
    v: &serde_json::Value,
) -> Result<crate::app::notices::ParsedFields, Vec<FieldError>> {
    let body: B = super::extract::deserialize_listing_fields(v.clone())?;
    Ok(crate::app::notices::ParsedFields {
        on: body.on(),
        action: Some(body.action()?),
        objection: None,
    })
}

/// A notice's `fields`, read with the body type of the act it performs (the same fields, the
/// same errors as the action's own operation).
pub(crate) fn parse_notice_fields(
    kind: crate::domain::notice::NoticeType,
    v: &serde_json::Value,
) -> Result<crate::app::notices::ParsedFields, Vec<FieldError>> {
    use crate::domain::notice::NoticeType as T;
    use crate::domain::validation::text;
    match kind {
        T::Correction => typed::<RequestCorrectionBody>(v),
        T::Extension => typed::<ExtendBody>(v),
        T::Consultation => typed::<StartConsultationBody>(v),
        T::Fee => typed::<IssueFeeNoticeBody>(v),
        T::DelayedReply => typed::<OverrideDeadlineBody>(v),
        T::Reply => typed::<ReplyBody>(v),
        T::Receipt | T::Closure => {
            let b: NoticeDateBody = super::extract::deserialize_listing_fields(v.clone())?;
            Ok(crate::app::notices::ParsedFields {
                on: b.on,
                action: None,
                objection: None,
            })
        }
        T::ObjectionOverride => {
            let b: ObjectionNoticeBody = super::extract::deserialize_listing_fields(v.clone())?;
            let mut e = crate::domain::validation::Errors::new();
            let third_party = e.take(text("third_party", &b.third_party, 200, false));
            let disclosed = e.take(text("disclosed", &b.disclosed, 4000, true));
            let reason = e.take(text(
                "public_interest_reason",
                &b.public_interest_reason,
                4000,
                true,
            ));
            e.into_result()?;
            Ok(crate::app::notices::ParsedFields {
                on: b.on,
                action: None,
                objection: Some(crate::domain::notice::ObjectionFacts {
                    third_party: third_party.unwrap_or_default(),
                    disclosed: disclosed.unwrap_or_default(),
                    public_interest_reason: reason.unwrap_or_default(),
                }),
            })
        }
    }
}
