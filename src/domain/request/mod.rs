//! Applications (政府信息公开申请): intake with the receipt date of each channel (§3), the
//! states and actions of §5 with every guard of §4–§6, pure. "Today" and the calendar are
//! parameters; the result is a new [`Workflow`] or a [`Refusal`] with a stable code.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::calendar::Calendar;
use super::disposition::Disposition;
use super::identity;
use super::validation::{Errors, FieldError, optional_text, text};
use crate::text;

mod actions;
pub mod application;
mod workflow;

pub use actions::{ACTIONS, Action, ActionContext, Refusal, ReplyInput, apply, current_due_date};
pub use application::{Application, ListFilter, SortKey};
pub use workflow::{Consultation, FeeRecord, Opinion, Party, ReplyRecord, Workflow};

/// How an application arrived (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 当面
    InPerson,
    /// 信函
    Letter,
    /// 传真
    Fax,
    /// 电子邮件
    Email,
    /// 网络平台 (including a provincial platform)
    Online,
    /// 其他
    Other,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::InPerson,
        Channel::Letter,
        Channel::Fax,
        Channel::Email,
        Channel::Online,
        Channel::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Channel::InPerson => "in_person",
            Channel::Letter => "letter",
            Channel::Fax => "fax",
            Channel::Email => "email",
            Channel::Online => "online",
            Channel::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.code() == s)
    }
}

/// The applicant's kind: the columns of report table 三 (§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    NaturalPerson,
    CommercialEnterprise,
    ResearchInstitution,
    SocialWelfareOrganization,
    LegalServiceInstitution,
    OtherOrganization,
}

impl ApplicantKind {
    pub const ALL: [ApplicantKind; 6] = [
        ApplicantKind::NaturalPerson,
        ApplicantKind::CommercialEnterprise,
        ApplicantKind::ResearchInstitution,
        ApplicantKind::SocialWelfareOrganization,
        ApplicantKind::LegalServiceInstitution,
        ApplicantKind::OtherOrganization,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ApplicantKind::NaturalPerson => "natural_person",
            ApplicantKind::CommercialEnterprise => "commercial_enterprise",
            ApplicantKind::ResearchInstitution => "research_institution",
            ApplicantKind::SocialWelfareOrganization => "social_welfare_organization",
            ApplicantKind::LegalServiceInstitution => "legal_service_institution",
            ApplicantKind::OtherOrganization => "other_organization",
        }
    }

    pub fn parse(s: &str) -> Option<ApplicantKind> {
        ApplicantKind::ALL.into_iter().find(|c| c.code() == s)
    }

    pub fn is_organisation(self) -> bool {
        self != ApplicantKind::NaturalPerson
    }
}

/// Where an application stands (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    AwaitingConfirmation,
    Processing,
    AwaitingCorrection,
    Consulting,
    AwaitingPayment,
    Closed,
}

impl State {
    pub const ALL: [State; 6] = [
        State::AwaitingConfirmation,
        State::Processing,
        State::AwaitingCorrection,
        State::Consulting,
        State::AwaitingPayment,
        State::Closed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            State::AwaitingConfirmation => "awaiting_confirmation",
            State::Processing => "processing",
            State::AwaitingCorrection => "awaiting_correction",
            State::Consulting => "consulting",
            State::AwaitingPayment => "awaiting_payment",
            State::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|c| c.code() == s)
    }

    pub fn is_open(self) -> bool {
        self != State::Closed
    }
}

// ---------------------------------------------------------------------------------------------
// Intake
// ---------------------------------------------------------------------------------------------

/// An identity document as entered.
#[derive(Debug, Clone, Default)]
pub struct IdDocumentInput {
    pub doc_type: String,
    pub number: String,
}

/// The applicant as entered.
#[derive(Debug, Clone, Default)]
pub struct ApplicantInput {
    pub kind: String,
    pub name: String,
    pub id_document: Option<IdDocumentInput>,
    pub credit_code: Option<String>,
    pub contact_person: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
}

/// An application as entered (the HTTP layer has already read the JSON).
#[derive(Debug, Clone, Default)]
pub struct IntakeInput {
    pub channel: String,
    /// The local calendar date of the arrival instant.
    pub arrival_date: NaiveDate,
    /// Whether the arrival instant lies in the future.
    pub arrival_in_future: bool,
    pub signed_for_on: Option<NaiveDate>,
    pub confirmed_on: Option<NaiveDate>,
    pub applicant: ApplicantInput,
    pub description: String,
    pub document_numbers: Vec<String>,
    pub requested_form: Option<String>,
    pub delivery: Option<String>,
    pub external_reference: Option<String>,
}

/// A valid applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    pub kind: ApplicantKind,
    pub name: String,
    /// `resident_id_card`, `passport` or `other`.
    pub id_document_type: Option<String>,
    pub id_document_number: Option<String>,
    pub credit_code: Option<String>,
    pub contact_person: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
}

impl Applicant {
    /// Masks the identity number and the credit code as lists show them
    /// ([`crate::domain::identity::mask`]).
    pub fn mask_numbers(&mut self) {
        let mask = |n: &mut Option<String>| {
            *n = n.as_deref().map(crate::domain::identity::mask);
        };
        mask(&mut self.id_document_number);
        mask(&mut self.credit_code);
    }

    /// What recognises the same applicant across applications (fees per piece count them):
    /// the identity number or the credit code.
    pub fn key(&self) -> Option<String> {
        self.credit_code.clone().or_else(|| {
            self.id_document_number
                .as_ref()
                .map(|n| identity::normalize(n))
        })
    }
}

/// Details of an application that do not drive the clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeDetails {
    pub applicant: Applicant,
    pub description: String,
    #[serde(default)]
    pub document_numbers: Vec<String>,
    pub requested_form: Option<String>,
    pub delivery: Option<String>,
    pub external_reference: Option<String>,
}

/// A valid new application.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub channel: Channel,
    pub arrival_date: NaiveDate,
    pub signed_for_on: Option<NaiveDate>,
    pub confirmed_on: Option<NaiveDate>,
    pub details: IntakeDetails,
    pub workflow: Workflow,
}

pub const REQUESTED_FORMS: [&str; 4] = ["paper", "electronic", "inspection", "other"];
pub const DELIVERIES: [&str; 6] = ["post", "email", "collect", "online", "fax", "other"];

/// The receipt date of §3 for a channel, or None while it awaits confirmation.
pub fn receipt_date(
    channel: Channel,
    arrival_date: NaiveDate,
    signed_for_on: Option<NaiveDate>,
    confirmed_on: Option<NaiveDate>,
) -> Option<NaiveDate> {
    match channel {
        Channel::InPerson => Some(arrival_date),
        Channel::Letter => signed_for_on.or(confirmed_on),
        Channel::Online | Channel::Fax | Channel::Email => confirmed_on,
        Channel::Other => confirmed_on.or(Some(arrival_date)),
    }
}

fn check_date(
    errors: &mut Errors,
    field: &str,
    d: Option<NaiveDate>,
    arrival: NaiveDate,
    today: NaiveDate,
) {
    if let Some(d) = d {
        if d > today {
            errors.push(FieldError::new(
                field,
                "in_future",
                text!("不能晚于今天", "must not be in the future"),
            ));
        } else if d < arrival {
            errors.push(FieldError::new(
                field,
                "before_arrival",
                text!("不能早于到达日期", "must not be before the arrival date"),
            ));
        }
    }
}

fn parse_applicant(errors: &mut Errors, a: &ApplicantInput) -> Option<Applicant> {
    let kind = ApplicantKind::parse(&a.kind);
    if kind.is_none() {
        errors.push(FieldError::new(
            "applicant.kind",
            "unknown_code",
            text!(
                "须为 natural_person（自然人）、commercial_enterprise（商业企业）、research_institution（科研机构）、social_welfare_organization（社会公益组织）、legal_service_institution（法律服务机构）或 other_organization（其他组织）",
                "must be natural_person, commercial_enterprise, research_institution, social_welfare_organization, legal_service_institution or other_organization"
            ),
        ));
    }
    let name = errors.take(text("applicant.name", &a.name, 200, false));
    let contact_person = errors.take(optional_text(
        "applicant.contact_person",
        a.contact_person.as_deref(),
        100,
        false,
    ));
    let phone = errors.take(optional_text(
        "applicant.phone",
        a.phone.as_deref(),
        30,
        false,
    ));
    if let Some(Some(p)) = &phone
        && !p.chars().all(|c| c.is_ascii_digit() || "+-() ".contains(c))
    {
        errors.push(FieldError::new(
            "applicant.phone",
            "invalid_format",
            text!(
                "只能包含数字、空格和 + - ( )",
                "may contain digits, spaces and + - ( ) only"
            ),
        ));
    }
    let email = errors.take(optional_text(
        "applicant.email",
        a.email.as_deref(),
        254,
        false,
    ));
    if let Some(Some(e)) = &email {
        let ok = e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        }) && !e.contains(char::is_whitespace);
        if !ok {
            errors.push(FieldError::new(
                "applicant.email",
                "invalid_format",
                text!("不是有效的电子邮件地址", "is not an e-mail address"),
            ));
        }
    }
    let address = errors.take(optional_text(
        "applicant.address",
        a.address.as_deref(),
        500,
        true,
    ));
    let (mut doc_type, mut doc_number) = (None, None);
    if let Some(doc) = &a.id_document {
        match doc.doc_type.as_str() {
            "resident_id_card" | "passport" | "other" => doc_type = Some(doc.doc_type.clone()),
            _ => errors.push(FieldError::new(
                "applicant.id_document.type",
                "unknown_code",
                text!(
                    "须为 resident_id_card（居民身份证）、passport（护照）或 other（其他）",
                    "must be resident_id_card, passport or other"
                ),
            )),
        }
        match text("applicant.id_document.number", &doc.number, 50, false) {
            Ok(n) => {
                if doc.doc_type == "resident_id_card" {
                    match identity::check_resident_id(&n) {
                        Ok(()) => doc_number = Some(identity::normalize(&n)),
                        Err(p) => errors.push(FieldError::new(
                            "applicant.id_document.number",
                            p.code(),
                            p.message(),
                        )),
                    }
                } else {
                    doc_number = Some(n);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let mut credit_code = None;
    if let Some(code) = a
        .credit_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        match identity::check_credit_code(code) {
            Ok(()) => credit_code = Some(identity::normalize(code)),
            Err(p) => errors.push(FieldError::new(
                "applicant.credit_code",
                p.code(),
                p.message(),
            )),
        }
    }
    if let Some(kind) = kind {
        if kind.is_organisation() && a.credit_code.as_deref().is_none_or(|c| c.trim().is_empty()) {
            errors.push(FieldError::new(
                "applicant.credit_code",
                "required",
                text!(
                    "法人或其他组织须填写统一社会信用代码",
                    "an organisation gives its unified social credit code"
                ),
            ));
        }
        if kind.is_organisation() && a.id_document.is_some() {
            errors.push(FieldError::new(
                "applicant.id_document",
                "not_allowed",
                text!(
                    "法人或其他组织以统一社会信用代码标识，不填身份证件",
                    "organisations are identified by their credit code"
                ),
            ));
        }
        if !kind.is_organisation() && a.credit_code.is_some() {
            errors.push(FieldError::new(
                "applicant.credit_code",
                "not_allowed",
                text!(
                    "自然人填写身份证件，不填统一社会信用代码",
                    "a natural person has an identity document, not a credit code"
                ),
            ));
        }
    }
    let has_contact = [&phone, &email, &address]
        .iter()
        .any(|v| matches!(v, Some(Some(_))));
    if !has_contact && phone.is_some() && email.is_some() && address.is_some() {
        errors.push(FieldError::new(
            "applicant.phone",
            "contact_required",
            text!(
                "至少填写一种联系方式（电话、电子邮件或地址）",
                "give at least one of phone, email or address"
            ),
        ));
    }
    Some(Applicant {
        kind: kind?,
        name: name?,
        id_document_type: doc_type,
        id_document_number: doc_number,
        credit_code,
        contact_person: contact_person?,
        phone: phone?,
        email: email?,
        address: address?,
    })
}

fn parse_details(
    errors: &mut Errors,
    applicant: &ApplicantInput,
    description: &str,
    document_numbers: &[String],
    requested_form: Option<&str>,
    delivery: Option<&str>,
    external_reference: Option<&str>,
) -> Option<IntakeDetails> {
    let applicant = parse_applicant(errors, applicant);
    let description = errors.take(text("description", description, 4000, true));
    if document_numbers.len() > 50 {
        errors.push(FieldError::new(
            "document_numbers",
            "too_many",
            text!("至多 50 个", "at most 50"),
        ));
    }
    let mut docs = Vec::new();
    for (i, d) in document_numbers.iter().enumerate() {
        if let Some(d) = errors.take(text(&format!("document_numbers[{i}]"), d, 100, false)) {
            docs.push(d);
        }
    }
    let pick = |errors: &mut Errors, field: &str, v: Option<&str>, allowed: &[&str]| match v {
        None => None,
        Some(v) if allowed.contains(&v) => Some(v.to_string()),
        Some(_) => {
            errors.push(FieldError::new(
                field,
                "unknown_code",
                text!("须为以下之一：{}", "must be one of {}", allowed.join(", ")),
            ));
            None
        }
    };
    let requested_form = pick(errors, "requested_form", requested_form, &REQUESTED_FORMS);
    let delivery = pick(errors, "delivery", delivery, &DELIVERIES);
    let external_reference = errors.take(optional_text(
        "external_reference",
        external_reference,
        100,
        false,
    ));
    Some(IntakeDetails {
        applicant: applicant?,
        description: description?,
        document_numbers: docs,
        requested_form,
        delivery,
        external_reference: external_reference?,
    })
}

impl NewRequest {
    pub fn parse(input: &IntakeInput, today: NaiveDate) -> Result<NewRequest, Vec<FieldError>> {
        let mut errors = Errors::new();
        let channel = Channel::parse(&input.channel);
        if channel.is_none() {
            errors.push(FieldError::new(
                "channel",
                "unknown_code",
                text!(
                    "须为 in_person（当面）、letter（信函）、fax（传真）、email（电子邮件）、online（网上）或 other（其他）",
                    "must be in_person, letter, fax, email, online or other"
                ),
            ));
        }
        if input.arrival_in_future {
            errors.push(FieldError::new(
                "arrived_at",
                "in_future",
                text!("不能晚于今天", "must not be in the future"),
            ));
        }
        // The HTTP layer refuses such dates in any body; callers inside (seed, tools) too.
        if let Err(e) = crate::domain::validation::statutory_date("arrived_at", input.arrival_date)
            && input.arrival_date != NaiveDate::MIN
        {
            errors.push(e);
        }
        check_date(
            &mut errors,
            "signed_for_on",
            input.signed_for_on,
            input.arrival_date,
            today,
        );
        check_date(
            &mut errors,
            "confirmed_on",
            input.confirmed_on,
            input.arrival_date,
            today,
        );
        if input.signed_for_on.is_some() && channel.is_some_and(|c| c != Channel::Letter) {
            errors.push(FieldError::new(
                "signed_for_on",
                "not_allowed",
                text!("只有信函申请才有签收日期", "only letters are signed for"),
            ));
        }
        let details = parse_details(
            &mut errors,
            &input.applicant,
            &input.description,
            &input.document_numbers,
            input.requested_form.as_deref(),
            input.delivery.as_deref(),
            input.external_reference.as_deref(),
        );
        let (Some(channel), Some(details)) = (channel, details) else {
            return Err(errors.into_vec());
        };
        errors.into_result()?;
        let receipt = receipt_date(
            channel,
            input.arrival_date,
            input.signed_for_on,
            input.confirmed_on,
        );
        Ok(NewRequest {
            channel,
            arrival_date: input.arrival_date,
            signed_for_on: input.signed_for_on,
            confirmed_on: input.confirmed_on,
            details,
            workflow: Workflow::new(input.arrival_date, receipt),
        })
    }
}

/// The history an imported application brings from the system it comes from, as entered:
/// the statutory receipt date and, for a closed one, the reply's disposition and date with the
/// reply's texts when that system kept them.
#[derive(Debug, Clone, Default)]
pub struct ImportHistoryInput {
    pub receipt_date: Option<NaiveDate>,
    pub disposition: Option<String>,
    pub replied_on: Option<NaiveDate>,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
    pub provision: Option<String>,
    pub responsible_agency: Option<String>,
}

/// Parses an imported application: the intake exactly as [`NewRequest::parse`], the given
/// receipt date checked against what the channel's dates say (§3), and a closed one closed on
/// its reply date by the same code as the `reply` action, so due date and lateness come from
/// the one clock.
///
/// Where the channel's own dates (`signed_for_on`, `confirmed_on`) are absent, the receipt date
/// is recorded as the confirmation date; where present they must give the same receipt date.
/// The texts a reply must carry (§6) are not required: the letter went out from the other
/// system, which may not have kept them. For the same reason the closing actions' codes
/// (`other.uncorrected`, `other.unpaid`) and `unavailable.still_unclear` are accepted as
/// dispositions of record.
pub fn parse_import(
    input: &IntakeInput,
    history: &ImportHistoryInput,
    cal: &Calendar,
    today: NaiveDate,
) -> Result<NewRequest, Vec<FieldError>> {
    let mut errors = Errors::new();
    let mut input = input.clone();
    let receipt = history.receipt_date;
    match receipt {
        None => errors.push(FieldError::new(
            "receipt_date",
            "required",
            text!(
                "导入的申请须填写收到申请之日",
                "an imported application needs its receipt date"
            ),
        )),
        Some(r) if r > today => errors.push(FieldError::new(
            "receipt_date",
            "in_future",
            text!("不能晚于今天", "must not be in the future"),
        )),
        Some(r) if r < input.arrival_date => errors.push(FieldError::new(
            "receipt_date",
            "before_arrival",
            text!("不能早于到达日期", "must not be before the arrival date"),
        )),
        Some(r) => {
            let channel = Channel::parse(&input.channel);
            if channel.is_some_and(|c| c != Channel::InPerson)
                && input.signed_for_on.is_none()
                && input.confirmed_on.is_none()
            {
                input.confirmed_on = Some(r);
            }
        }
    }
    let disposition = match history.disposition.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => {
            let d = Disposition::parse(code);
            if d.is_none() {
                errors.push(FieldError::new(
                    "disposition",
                    "unknown_code",
                    text!(
                        "不是年度报告的答复类型代码",
                        "is not a disposition code of the report"
                    ),
                ));
            }
            d
        }
    };
    let has_disposition = history
        .disposition
        .as_deref()
        .is_some_and(|d| !d.trim().is_empty());
    match (has_disposition, history.replied_on) {
        (true, None) => errors.push(FieldError::new(
            "replied_on",
            "required",
            text!(
                "已办结的申请须同时填写 disposition 和 replied_on",
                "a closed application gives both disposition and replied_on"
            ),
        )),
        (false, Some(_)) => errors.push(FieldError::new(
            "disposition",
            "required",
            text!(
                "已办结的申请须同时填写 disposition 和 replied_on",
                "a closed application gives both disposition and replied_on"
            ),
        )),
        _ => {}
    }
    if let (Some(on), Some(r)) = (history.replied_on, receipt) {
        if on > today {
            errors.push(FieldError::new(
                "replied_on",
                "in_future",
                text!("不能晚于今天", "must not be in the future"),
            ));
        } else if on < r {
            errors.push(FieldError::new(
                "replied_on",
                "before_receipt",
                text!(
                    "不能早于收到申请之日",
                    "must not be before the receipt date"
                ),
            ));
        }
    }
    let reason = errors.take(optional_text(
        "reason",
        history.reason.as_deref(),
        4000,
        true,
    ));
    let legal_basis = errors.take(optional_text(
        "legal_basis",
        history.legal_basis.as_deref(),
        1000,
        true,
    ));
    let provision = errors.take(optional_text(
        "provision",
        history.provision.as_deref(),
        4000,
        true,
    ));
    let responsible_agency = errors.take(optional_text(
        "responsible_agency",
        history.responsible_agency.as_deref(),
        500,
        true,
    ));
    let parsed = NewRequest::parse(&input, today);
    let mut parsed = match parsed {
        Ok(p) => p,
        Err(intake_errors) => {
            for e in intake_errors {
                errors.push(e);
            }
            return Err(errors.into_vec());
        }
    };
    if let Some(r) = receipt
        && errors.is_empty()
        && parsed.workflow.clock.receipt_date != Some(r)
    {
        errors.push(FieldError::new(
            "receipt_date",
            "inconsistent_with_channel",
            match parsed.workflow.clock.receipt_date {
                Some(d) => text!(
                    "按申请渠道的日期，收到申请之日应为 {d}",
                    "the channel's dates give the receipt date {d} (domain.md §3)"
                ),
                None => text!(
                    "按申请渠道的日期尚无收到申请之日",
                    "the channel's dates give no receipt date (domain.md §3)"
                ),
            },
        ));
    }
    errors.into_result()?;
    if let (Some(disposition), Some(on)) = (disposition, history.replied_on) {
        let reply = ReplyInput {
            disposition,
            reason: reason.flatten(),
            legal_basis: legal_basis.flatten(),
            provision: provision.flatten(),
            responsible_agency: responsible_agency.flatten(),
            repeats_request_id: None,
            objection_override: None,
            served_on: None,
        };
        let mut wf = actions::close(&parsed.workflow, on, reply, cal).map_err(|r| match r {
            Refusal::Invalid(v) => v,
            Refusal::Conflict { code, message } | Refusal::Forbidden { code, message } => {
                vec![FieldError::new("replied_on", code, message)]
            }
        })?;
        wf.last_step_on = on;
        parsed.workflow = wf;
    }
    Ok(parsed)
}

/// Corrections of intake details (never the dates that drive the clock).
#[derive(Debug, Clone, Default)]
pub struct DetailsPatch {
    pub applicant: Option<ApplicantInput>,
    pub description: Option<String>,
    pub document_numbers: Option<Vec<String>>,
    pub requested_form: Option<Option<String>>,
    pub delivery: Option<Option<String>>,
    pub external_reference: Option<Option<String>>,
}

/// Applies a correction of intake details to an open application.
pub fn patch_details(
    state: State,
    current: &IntakeDetails,
    patch: &DetailsPatch,
) -> Result<IntakeDetails, PatchError> {
    if !state.is_open() {
        return Err(PatchError::Closed);
    }
    let mut errors = Errors::new();
    let applicant_input = patch.applicant.clone().unwrap_or_else(|| ApplicantInput {
        kind: current.applicant.kind.code().to_string(),
        name: current.applicant.name.clone(),
        id_document: current
            .applicant
            .id_document_type
            .clone()
            .zip(current.applicant.id_document_number.clone())
            .map(|(doc_type, number)| IdDocumentInput { doc_type, number }),
        credit_code: current.applicant.credit_code.clone(),
        contact_person: current.applicant.contact_person.clone(),
        phone: current.applicant.phone.clone(),
        email: current.applicant.email.clone(),
        address: current.applicant.address.clone(),
    });
    let pick = |p: &Option<Option<String>>, c: &Option<String>| match p {
        Some(v) => v.clone(),
        None => c.clone(),
    };
    let details = parse_details(
        &mut errors,
        &applicant_input,
        patch.description.as_deref().unwrap_or(&current.description),
        patch
            .document_numbers
            .as_deref()
            .unwrap_or(&current.document_numbers),
        pick(&patch.requested_form, &current.requested_form).as_deref(),
        pick(&patch.delivery, &current.delivery).as_deref(),
        pick(&patch.external_reference, &current.external_reference).as_deref(),
    );
    match details {
        Some(d) if errors.is_empty() => Ok(d),
        _ => Err(PatchError::Invalid(errors.into_vec())),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    Closed,
    Invalid(Vec<FieldError>),
}

#[cfg(test)]
mod import_tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn intake(channel: &str, arrival: &str) -> IntakeInput {
        IntakeInput {
            channel: channel.into(),
            arrival_date: date(arrival),
            applicant: ApplicantInput {
                kind: "natural_person".into(),
                name: "张三".into(),
                phone: Some("13800000000".into()),
                ..ApplicantInput::default()
            },
            description: "2025年度行政许可决定清单".into(),
            ..IntakeInput::default()
        }
    }

    fn history(receipt: &str, closed: Option<(&str, &str)>) -> ImportHistoryInput {
        ImportHistoryInput {
            receipt_date: Some(date(receipt)),
            disposition: closed.map(|c| c.0.to_string()),
            replied_on: closed.map(|c| date(c.1)),
            ..ImportHistoryInput::default()
        }
    }

    fn codes(r: Result<NewRequest, Vec<FieldError>>) -> Vec<(String, &'static str)> {
        match r {
            Ok(_) => Vec::new(),
            Err(v) => v.into_iter().map(|e| (e.field, e.code)).collect(),
        }
    }

    #[test]
    fn an_imported_reply_after_the_20th_working_day_is_late_and_one_before_is_not() {
        let cal = Calendar::weekends_only();
        let today = date("2026-06-30");
        // Received Monday 2025-03-03: the 20th working day after is Monday 2025-03-31.
        let on_time = parse_import(
            &intake("online", "2025-03-01"),
            &history("2025-03-03", Some(("granted", "2025-03-31"))),
            &cal,
            today,
        );
        let late = parse_import(
            &intake("online", "2025-03-01"),
            &history("2025-03-03", Some(("granted", "2025-04-01"))),
            &cal,
            today,
        );
        let (Ok(on_time), Ok(late)) = (on_time, late) else {
            panic!("both parse");
        };
        assert_eq!(on_time.workflow.state, State::Closed);
        assert_eq!(on_time.workflow.clock.closed_on, Some(date("2025-03-31")));
        assert_eq!(on_time.confirmed_on, Some(date("2025-03-03")));
        assert!(!on_time.workflow.reply.as_ref().is_some_and(|r| r.late));
        assert!(late.workflow.reply.as_ref().is_some_and(|r| r.late));
    }

    #[test]
    fn an_open_import_is_processing_from_its_receipt_date() {
        let cal = Calendar::weekends_only();
        let r = parse_import(
            &intake("in_person", "2025-03-03"),
            &history("2025-03-03", None),
            &cal,
            date("2026-06-30"),
        );
        let Ok(r) = r else { panic!("parses") };
        assert_eq!(r.workflow.state, State::Processing);
        assert_eq!(r.workflow.clock.receipt_date, Some(date("2025-03-03")));
    }

    #[test]
    fn the_receipt_date_must_agree_with_the_channel_and_disposition_comes_with_its_date() {
        let cal = Calendar::weekends_only();
        let today = date("2026-06-30");
        assert_eq!(
            codes(parse_import(
                &intake("in_person", "2025-03-03"),
                &history("2025-03-04", None),
                &cal,
                today
            )),
            vec![("receipt_date".to_string(), "inconsistent_with_channel")]
        );
        let mut no_date = history("2025-03-03", Some(("granted", "2025-03-10")));
        no_date.replied_on = None;
        assert_eq!(
            codes(parse_import(
                &intake("online", "2025-03-01"),
                &no_date,
                &cal,
                today
            )),
            vec![("replied_on".to_string(), "required")]
        );
        let mut missing = history("2025-03-03", None);
        missing.receipt_date = None;
        assert_eq!(
            codes(parse_import(
                &intake("online", "2025-03-01"),
                &missing,
                &cal,
                today
            )),
            vec![("receipt_date".to_string(), "required")]
        );
        assert_eq!(
            codes(parse_import(
                &intake("online", "2025-03-01"),
                &history("2025-03-03", Some(("granted", "2025-03-02"))),
                &cal,
                today
            )),
            vec![("replied_on".to_string(), "before_receipt")]
        );
        assert_eq!(
            codes(parse_import(
                &intake("online", "2025-03-01"),
                &history("2025-03-03", Some(("nonsense", "2025-03-05"))),
                &cal,
                today
            )),
            vec![("disposition".to_string(), "unknown_code")]
        );
    }
}
