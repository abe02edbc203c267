//! Applications (政府信息公开申请): intake with the receipt date of each channel (§3), the
//! states and actions of §5 with every guard of §4–§6, pure. "Today" and the calendar are
//! parameters; the result is a new [`Workflow`] or a [`Refusal`] with a stable code.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::calendar::Calendar;
use super::clock::{
    self, CONSULTATION_WINDOW, ClockFacts, CorrectionFacts, DeadlineOverride, Extension,
    MAX_EXTENSION_WORKING_DAYS, PAYMENT_WINDOW, Pause, PauseKind,
};
use super::disposition::Disposition;
use super::fees::{self, FeeBasis};
use super::identity;
use super::validation::{Errors, FieldError, optional_text, text};

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
                "must not be in the future",
            ));
        } else if d < arrival {
            errors.push(FieldError::new(
                field,
                "before_arrival",
                "must not be before the arrival date",
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
            "must be natural_person, commercial_enterprise, research_institution, social_welfare_organization, legal_service_institution or other_organization",
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
            "may contain digits, spaces and + - ( ) only",
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
                "is not an e-mail address",
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
                "must be resident_id_card, passport or other",
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
                "an organisation gives its unified social credit code",
            ));
        }
        if kind.is_organisation() && a.id_document.is_some() {
            errors.push(FieldError::new(
                "applicant.id_document",
                "not_allowed",
                "organisations are identified by their credit code",
            ));
        }
        if !kind.is_organisation() && a.credit_code.is_some() {
            errors.push(FieldError::new(
                "applicant.credit_code",
                "not_allowed",
                "a natural person has an identity document, not a credit code",
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
            "give at least one of phone, email or address",
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
            "at most 50",
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
                format!("must be one of {}", allowed.join(", ")),
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
                "must be in_person, letter, fax, email, online or other",
            ));
        }
        if input.arrival_in_future {
            errors.push(FieldError::new(
                "arrived_at",
                "in_future",
                "must not be in the future",
            ));
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
                "only letters are signed for",
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
            "an imported application needs its receipt date",
        )),
        Some(r) if r > today => errors.push(FieldError::new(
            "receipt_date",
            "in_future",
            "must not be in the future",
        )),
        Some(r) if r < input.arrival_date => errors.push(FieldError::new(
            "receipt_date",
            "before_arrival",
            "must not be before the arrival date",
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
                    "is not a disposition code of the report",
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
            "a closed application gives both disposition and replied_on",
        )),
        (false, Some(_)) => errors.push(FieldError::new(
            "disposition",
            "required",
            "a closed application gives both disposition and replied_on",
        )),
        _ => {}
    }
    if let (Some(on), Some(r)) = (history.replied_on, receipt) {
        if on > today {
            errors.push(FieldError::new(
                "replied_on",
                "in_future",
                "must not be in the future",
            ));
        } else if on < r {
            errors.push(FieldError::new(
                "replied_on",
                "before_receipt",
                "must not be before the receipt date",
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
                Some(d) => format!("the channel's dates give the receipt date {d} (domain.md §3)"),
                None => "the channel's dates give no receipt date (domain.md §3)".to_string(),
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
        };
        let mut wf = parsed.workflow.clone();
        close(&mut wf, on, reply, cal).map_err(|r| match r {
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

// ---------------------------------------------------------------------------------------------
// The workflow
// ---------------------------------------------------------------------------------------------

/// Who is consulted (art. 32, 34).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    ThirdParty,
    OtherAgency,
}

/// A consultee's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Opinion {
    Consent,
    Objection,
    NoReply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consultation {
    pub party: Party,
    pub whom: String,
    pub sent_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    pub opinion: Option<Opinion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeRecord {
    /// `per_piece` or `per_page`.
    pub basis: String,
    pub amount_fen: i64,
    /// The most the Measures allow for this application.
    pub maximum_fen: i64,
    pub pages: Option<u32>,
    /// For per-piece fees: this application's place among the applicant's that month.
    pub nth_in_month: Option<u32>,
    pub notice_on: NaiveDate,
    pub paid_on: Option<NaiveDate>,
    pub paid_fen: Option<i64>,
    pub waived_on: Option<NaiveDate>,
    pub waiver_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRecord {
    /// The disposition code (§6).
    pub disposition: String,
    pub on: NaiveDate,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
    pub provision: Option<String>,
    pub responsible_agency: Option<String>,
    pub repeats_request_id: Option<String>,
    /// Replied after the due date.
    pub late: bool,
}

/// The legal state of one application: everything the guards and the clock need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    pub state: State,
    pub clock: ClockFacts,
    /// The date of the latest step (the arrival date at first): no step may be dated before it.
    pub last_step_on: NaiveDate,
    pub correction_items: Vec<String>,
    pub consultations: Vec<Consultation>,
    pub fee: Option<FeeRecord>,
    pub reply: Option<ReplyRecord>,
}

impl Workflow {
    pub fn new(arrival_date: NaiveDate, receipt: Option<NaiveDate>) -> Workflow {
        Workflow {
            state: if receipt.is_some() {
                State::Processing
            } else {
                State::AwaitingConfirmation
            },
            clock: ClockFacts {
                receipt_date: receipt,
                ..ClockFacts::default()
            },
            last_step_on: receipt.unwrap_or(arrival_date).max(arrival_date),
            correction_items: Vec::new(),
            consultations: Vec::new(),
            fee: None,
            reply: None,
        }
    }

    pub fn disposition(&self) -> Option<Disposition> {
        self.reply
            .as_ref()
            .and_then(|r| Disposition::parse(&r.disposition))
    }
}

/// The fields an action may carry, as entered.
#[derive(Debug, Clone, Default)]
pub struct ActionInput {
    pub on: Option<NaiveDate>,
    pub items: Option<Vec<String>>,
    pub reply_by: Option<NaiveDate>,
    pub party: Option<String>,
    pub whom: Option<String>,
    pub opinion: Option<String>,
    pub basis: Option<String>,
    pub amount_fen: Option<i64>,
    pub pages: Option<i64>,
    pub reason: Option<String>,
    pub days: Option<i64>,
    pub disposition: Option<String>,
    pub legal_basis: Option<String>,
    pub provision: Option<String>,
    pub responsible_agency: Option<String>,
    pub repeats_request_id: Option<String>,
    pub due_date: Option<NaiveDate>,
}

/// A statutory step, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    ConfirmReceipt,
    RequestCorrection {
        items: Vec<String>,
        reply_by: NaiveDate,
    },
    ReceiveCorrection,
    StartConsultation {
        party: Party,
        whom: String,
    },
    EndConsultation {
        opinion: Opinion,
    },
    IssueFeeNotice {
        basis: FeeBasis,
        amount_fen: i64,
        pages: Option<u32>,
    },
    RecordPayment {
        amount_fen: i64,
    },
    WaiveFee {
        reason: String,
    },
    Extend {
        days: u32,
        reason: String,
    },
    OverrideDeadline {
        due_date: NaiveDate,
        reason: String,
    },
    Reply(ReplyInput),
    CloseUncorrected,
    CloseUnpaid,
    Withdraw {
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyInput {
    pub disposition: Disposition,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
    pub provision: Option<String>,
    pub responsible_agency: Option<String>,
    pub repeats_request_id: Option<String>,
}

pub const ACTIONS: [&str; 14] = [
    "confirm_receipt",
    "request_correction",
    "receive_correction",
    "start_consultation",
    "end_consultation",
    "issue_fee_notice",
    "record_payment",
    "waive_fee",
    "extend",
    "override_deadline",
    "reply",
    "close_uncorrected",
    "close_unpaid",
    "withdraw",
];

fn required<T>(errors: &mut Errors, field: &str, v: Option<T>) -> Option<T> {
    if v.is_none() {
        errors.push(FieldError::new(
            field,
            "required",
            "is required for this action",
        ));
    }
    v
}

impl Action {
    /// Parses an action by name. `None`: no such action.
    pub fn parse(
        name: &str,
        f: &ActionInput,
    ) -> Option<Result<(NaiveDate, Action), Vec<FieldError>>> {
        if !ACTIONS.contains(&name) {
            return None;
        }
        let mut e = Errors::new();
        let on = required(&mut e, "on", f.on);
        let reason_required = |e: &mut Errors| {
            required(e, "reason", f.reason.as_deref())
                .and_then(|r| e.take(text("reason", r, 4000, true)))
        };
        let action = match name {
            "confirm_receipt" => Some(Action::ConfirmReceipt),
            "request_correction" => {
                let items = required(&mut e, "items", f.items.clone());
                let mut clean = Vec::new();
                if let Some(items) = &items {
                    if items.is_empty() {
                        e.push(FieldError::new(
                            "items",
                            "required",
                            "list everything to correct",
                        ));
                    }
                    for (i, it) in items.iter().enumerate() {
                        if let Some(t) = e.take(text(&format!("items[{i}]"), it, 1000, true)) {
                            clean.push(t);
                        }
                    }
                }
                let reply_by = required(&mut e, "reply_by", f.reply_by);
                if let (Some(on), Some(rb)) = (on, reply_by)
                    && rb <= on
                {
                    e.push(FieldError::new(
                        "reply_by",
                        "not_after_on",
                        "must be after the notice date",
                    ));
                }
                reply_by.map(|reply_by| Action::RequestCorrection {
                    items: clean,
                    reply_by,
                })
            }
            "receive_correction" => Some(Action::ReceiveCorrection),
            "start_consultation" => {
                let party = match required(&mut e, "party", f.party.as_deref()) {
                    Some("third_party") => Some(Party::ThirdParty),
                    Some("other_agency") => Some(Party::OtherAgency),
                    Some(_) => {
                        e.push(FieldError::new(
                            "party",
                            "unknown_code",
                            "must be third_party or other_agency",
                        ));
                        None
                    }
                    None => None,
                };
                let whom = required(&mut e, "whom", f.whom.as_deref())
                    .and_then(|w| e.take(text("whom", w, 200, false)));
                party
                    .zip(whom)
                    .map(|(party, whom)| Action::StartConsultation { party, whom })
            }
            "end_consultation" => match required(&mut e, "opinion", f.opinion.as_deref()) {
                Some("consent") => Some(Action::EndConsultation {
                    opinion: Opinion::Consent,
                }),
                Some("objection") => Some(Action::EndConsultation {
                    opinion: Opinion::Objection,
                }),
                Some("no_reply") => Some(Action::EndConsultation {
                    opinion: Opinion::NoReply,
                }),
                Some(_) => {
                    e.push(FieldError::new(
                        "opinion",
                        "unknown_code",
                        "must be consent, objection or no_reply",
                    ));
                    None
                }
                None => None,
            },
            "issue_fee_notice" => {
                let basis = match required(&mut e, "basis", f.basis.as_deref()) {
                    Some(b) => FeeBasis::parse(b).or_else(|| {
                        e.push(FieldError::new(
                            "basis",
                            "unknown_code",
                            "must be per_piece or per_page",
                        ));
                        None
                    }),
                    None => None,
                };
                let amount = required(&mut e, "amount_fen", f.amount_fen);
                if amount.is_some_and(|a| a <= 0) {
                    e.push(FieldError::new(
                        "amount_fen",
                        "out_of_range",
                        "must be positive",
                    ));
                }
                let pages = match f.pages {
                    Some(p) if !(1..=1_000_000).contains(&p) => {
                        e.push(FieldError::new(
                            "pages",
                            "out_of_range",
                            "must be between 1 and 1000000",
                        ));
                        None
                    }
                    Some(p) => u32::try_from(p).ok(),
                    None => None,
                };
                if basis == Some(FeeBasis::PerPage) && f.pages.is_none() {
                    e.push(FieldError::new(
                        "pages",
                        "required",
                        "a per-page fee needs the page count",
                    ));
                }
                basis
                    .zip(amount)
                    .map(|(basis, amount_fen)| Action::IssueFeeNotice {
                        basis,
                        amount_fen,
                        pages,
                    })
            }
            "record_payment" => {
                let amount = required(&mut e, "amount_fen", f.amount_fen);
                if amount.is_some_and(|a| a <= 0) {
                    e.push(FieldError::new(
                        "amount_fen",
                        "out_of_range",
                        "must be positive",
                    ));
                }
                amount.map(|amount_fen| Action::RecordPayment { amount_fen })
            }
            "waive_fee" => reason_required(&mut e).map(|reason| Action::WaiveFee { reason }),
            "extend" => {
                let days = required(&mut e, "days", f.days);
                if days.is_some_and(|d| d < 1) {
                    e.push(FieldError::new(
                        "days",
                        "out_of_range",
                        "must be at least 1",
                    ));
                }
                let reason = reason_required(&mut e);
                // More than 20 is a legal refusal (409 extension_too_long), not a form error.
                days.and_then(|d| u32::try_from(d).ok())
                    .zip(reason)
                    .map(|(days, reason)| Action::Extend { days, reason })
            }
            "override_deadline" => {
                let due = required(&mut e, "due_date", f.due_date);
                let reason = reason_required(&mut e);
                due.zip(reason)
                    .map(|(due_date, reason)| Action::OverrideDeadline { due_date, reason })
            }
            "reply" => {
                let disposition = match required(&mut e, "disposition", f.disposition.as_deref()) {
                    Some(code) => Disposition::parse(code).or_else(|| {
                        e.push(FieldError::new(
                            "disposition",
                            "unknown_code",
                            "is not a disposition code of the report",
                        ));
                        None
                    }),
                    None => None,
                };
                let reason = e.take(optional_text("reason", f.reason.as_deref(), 4000, true));
                let legal_basis = e.take(optional_text(
                    "legal_basis",
                    f.legal_basis.as_deref(),
                    1000,
                    true,
                ));
                let provision = e.take(optional_text(
                    "provision",
                    f.provision.as_deref(),
                    4000,
                    true,
                ));
                let responsible_agency = e.take(optional_text(
                    "responsible_agency",
                    f.responsible_agency.as_deref(),
                    500,
                    true,
                ));
                let repeats = e.take(optional_text(
                    "repeats_request_id",
                    f.repeats_request_id.as_deref(),
                    64,
                    false,
                ));
                match (
                    disposition,
                    reason,
                    legal_basis,
                    provision,
                    responsible_agency,
                    repeats,
                ) {
                    (
                        Some(disposition),
                        Some(reason),
                        Some(legal_basis),
                        Some(provision),
                        Some(responsible_agency),
                        Some(repeats_request_id),
                    ) => Some(Action::Reply(ReplyInput {
                        disposition,
                        reason,
                        legal_basis,
                        provision,
                        responsible_agency,
                        repeats_request_id,
                    })),
                    _ => None,
                }
            }
            "close_uncorrected" => Some(Action::CloseUncorrected),
            "close_unpaid" => Some(Action::CloseUnpaid),
            "withdraw" => {
                let reason = e.take(optional_text("reason", f.reason.as_deref(), 4000, true));
                reason.map(|reason| Action::Withdraw { reason })
            }
            _ => None,
        };
        Some(match (on, action) {
            (Some(on), Some(action)) if e.is_empty() => Ok((on, action)),
            _ => Err(e.into_vec()),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Action::ConfirmReceipt => "confirm_receipt",
            Action::RequestCorrection { .. } => "request_correction",
            Action::ReceiveCorrection => "receive_correction",
            Action::StartConsultation { .. } => "start_consultation",
            Action::EndConsultation { .. } => "end_consultation",
            Action::IssueFeeNotice { .. } => "issue_fee_notice",
            Action::RecordPayment { .. } => "record_payment",
            Action::WaiveFee { .. } => "waive_fee",
            Action::Extend { .. } => "extend",
            Action::OverrideDeadline { .. } => "override_deadline",
            Action::Reply(_) => "reply",
            Action::CloseUncorrected => "close_uncorrected",
            Action::CloseUnpaid => "close_unpaid",
            Action::Withdraw { .. } => "withdraw",
        }
    }
}

/// Why the law does not allow an action now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The action is not allowed in this state, or a guard of §4–§6 fails (409).
    Conflict { code: &'static str, message: String },
    /// The actor's roles do not allow it (403).
    Forbidden { code: &'static str, message: String },
    /// A field is wrong for this application (422).
    Invalid(Vec<FieldError>),
}

fn conflict(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::Conflict {
        code,
        message: message.into(),
    }
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
}

fn add_wd(cal: &Calendar, from: NaiveDate, n: u32) -> Result<NaiveDate, Refusal> {
    cal.add_working_days(from, n)
        .map_err(|e| Refusal::Invalid(vec![FieldError::new("on", "out_of_range", e.to_string())]))
}

/// The due date the clock gives now, if it runs.
pub fn current_due_date(wf: &Workflow, cal: &Calendar) -> Result<Option<NaiveDate>, Refusal> {
    clock::due_date(&wf.clock, cal).map_err(|e| conflict("clock_inconsistent", e.to_string()))
}

fn close_open_pauses(wf: &mut Workflow, on: NaiveDate) {
    for p in wf.clock.pauses.iter_mut().filter(|p| p.ended_on.is_none()) {
        p.ended_on = Some(on);
    }
    for c in wf.consultations.iter_mut().filter(|c| c.ended_on.is_none()) {
        c.ended_on = Some(on);
    }
}

fn close(
    wf: &mut Workflow,
    on: NaiveDate,
    reply: ReplyInput,
    cal: &Calendar,
) -> Result<(), Refusal> {
    let due = current_due_date(wf, cal)?;
    close_open_pauses(wf, on);
    wf.state = State::Closed;
    wf.clock.closed_on = Some(on);
    wf.reply = Some(ReplyRecord {
        disposition: reply.disposition.code().to_string(),
        on,
        reason: reply.reason,
        legal_basis: reply.legal_basis,
        provision: reply.provision,
        responsible_agency: reply.responsible_agency,
        repeats_request_id: reply.repeats_request_id,
        late: due.is_some_and(|d| on > d),
    });
    Ok(())
}

fn plain_close(disposition: Disposition, reason: Option<String>) -> ReplyInput {
    ReplyInput {
        disposition,
        reason,
        legal_basis: None,
        provision: None,
        responsible_agency: None,
        repeats_request_id: None,
    }
}

/// Applies one action dated `on`. Returns the new workflow, or why the law does not allow it.
pub fn apply(
    wf: &Workflow,
    on: NaiveDate,
    action: &Action,
    ctx: &ActionContext<'_>,
) -> Result<Workflow, Refusal> {
    use State::*;
    let state = wf.state;
    let allowed: &[State] = match action {
        Action::ConfirmReceipt => &[AwaitingConfirmation],
        Action::RequestCorrection { .. }
        | Action::StartConsultation { .. }
        | Action::IssueFeeNotice { .. }
        | Action::Reply(_) => &[Processing],
        Action::ReceiveCorrection | Action::CloseUncorrected => &[AwaitingCorrection],
        Action::EndConsultation { .. } => &[Consulting],
        Action::RecordPayment { .. } | Action::WaiveFee { .. } | Action::CloseUnpaid => {
            &[AwaitingPayment]
        }
        Action::Extend { .. } | Action::OverrideDeadline { .. } => {
            &[Processing, Consulting, AwaitingPayment]
        }
        Action::Withdraw { .. } => &[
            AwaitingConfirmation,
            Processing,
            AwaitingCorrection,
            Consulting,
            AwaitingPayment,
        ],
    };
    if !allowed.contains(&state) {
        return Err(conflict(
            "invalid_transition",
            format!(
                "{} is not allowed while the application is {}",
                action.name(),
                state.code()
            ),
        ));
    }
    if on > ctx.today {
        return Err(Refusal::Invalid(vec![FieldError::new(
            "on",
            "in_future",
            "must not be in the future",
        )]));
    }
    if on < wf.last_step_on {
        return Err(Refusal::Invalid(vec![FieldError::new(
            "on",
            "before_previous_step",
            format!("must not be before the previous step ({})", wf.last_step_on),
        )]));
    }
    let cal = ctx.calendar;
    let mut next = wf.clone();
    next.last_step_on = on;
    match action {
        Action::ConfirmReceipt => {
            next.clock.receipt_date = Some(on);
            next.state = Processing;
        }
        Action::RequestCorrection { items, reply_by } => {
            if wf.clock.correction.is_some() {
                return Err(conflict(
                    "correction_already_requested",
                    "a correction may be asked for only once (art. 30)",
                ));
            }
            let receipt = wf
                .clock
                .receipt_date
                .ok_or_else(|| conflict("invalid_transition", "no receipt date"))?;
            let window_end = add_wd(cal, receipt, clock::CORRECTION_NOTICE_WINDOW)?;
            if on > window_end {
                return Err(conflict(
                    "correction_window_passed",
                    format!(
                        "a correction must be asked for within 7 working days of receipt, by {window_end} (art. 30)"
                    ),
                ));
            }
            next.clock.correction = Some(CorrectionFacts {
                requested_on: on,
                reply_by: *reply_by,
                received_on: None,
            });
            next.correction_items = items.clone();
            next.state = AwaitingCorrection;
        }
        Action::ReceiveCorrection => {
            if let Some(c) = next.clock.correction.as_mut() {
                c.received_on = Some(on);
            }
            next.state = Processing;
        }
        Action::StartConsultation { party, whom } => {
            let kind = match party {
                Party::ThirdParty => PauseKind::ThirdPartyConsultation,
                Party::OtherAgency => PauseKind::OtherAgencyConsultation,
            };
            next.clock.pauses.push(Pause {
                kind,
                started_on: on,
                ended_on: None,
            });
            next.consultations.push(Consultation {
                party: *party,
                whom: whom.clone(),
                sent_on: on,
                ended_on: None,
                opinion: None,
            });
            next.state = Consulting;
        }
        Action::EndConsultation { opinion } => {
            let sent = next.consultations.last().map(|c| c.sent_on).unwrap_or(on);
            let window_end = add_wd(cal, sent, CONSULTATION_WINDOW)?;
            if *opinion == Opinion::NoReply && on <= window_end {
                return Err(conflict(
                    "consultation_window_not_passed",
                    format!(
                        "no reply can be recorded only after the 15 working days end on {window_end}"
                    ),
                ));
            }
            close_open_pauses(&mut next, on);
            if let Some(c) = next.consultations.last_mut() {
                c.opinion = Some(*opinion);
            }
            next.state = Processing;
        }
        Action::IssueFeeNotice {
            basis,
            amount_fen,
            pages,
        } => {
            if wf.fee.is_some() {
                return Err(conflict(
                    "fee_notice_already_issued",
                    "an application carries one fee notice",
                ));
            }
            let nth = (*basis == FeeBasis::PerPiece).then_some(ctx.nth_in_month);
            let maximum = fees::maximum_fen(*basis, ctx.nth_in_month, *pages);
            if maximum == 0 {
                return Err(conflict(
                    "fee_not_chargeable",
                    match basis {
                        FeeBasis::PerPiece => format!(
                            "this is the applicant's application no. {} this month; the first 10 are free",
                            ctx.nth_in_month
                        ),
                        FeeBasis::PerPage => "up to 30 pages are free".to_string(),
                    },
                ));
            }
            if *amount_fen > maximum {
                return Err(conflict(
                    "fee_above_maximum",
                    format!(
                        "the Measures allow at most {} yuan for this application",
                        fees::yuan_string(maximum)
                    ),
                ));
            }
            next.fee = Some(FeeRecord {
                basis: basis.code().to_string(),
                amount_fen: *amount_fen,
                maximum_fen: maximum,
                pages: *pages,
                nth_in_month: nth,
                notice_on: on,
                paid_on: None,
                paid_fen: None,
                waived_on: None,
                waiver_reason: None,
            });
            next.clock.pauses.push(Pause {
                kind: PauseKind::FeeNotice,
                started_on: on,
                ended_on: None,
            });
            next.state = AwaitingPayment;
        }
        Action::RecordPayment { amount_fen } => {
            let fee = next
                .fee
                .as_mut()
                .ok_or_else(|| conflict("invalid_transition", "no fee notice"))?;
            if *amount_fen != fee.amount_fen {
                return Err(Refusal::Invalid(vec![FieldError::new(
                    "amount_fen",
                    "payment_amount_mismatch",
                    format!("the notice asks for {} fen", fee.amount_fen),
                )]));
            }
            fee.paid_on = Some(on);
            fee.paid_fen = Some(*amount_fen);
            close_open_pauses(&mut next, on);
            next.state = Processing;
        }
        Action::WaiveFee { reason } => {
            let fee = next
                .fee
                .as_mut()
                .ok_or_else(|| conflict("invalid_transition", "no fee notice"))?;
            fee.waived_on = Some(on);
            fee.waiver_reason = Some(reason.clone());
            close_open_pauses(&mut next, on);
            next.state = Processing;
        }
        Action::Extend { days, reason } => {
            if !ctx.actor_is_approver {
                return Err(Refusal::Forbidden {
                    code: "approver_required",
                    message: "an extension is approved by the head of the disclosure office (role approver)".into(),
                });
            }
            if wf.clock.extension.is_some() {
                return Err(conflict(
                    "extension_already_used",
                    "the reply period may be extended only once (art. 33)",
                ));
            }
            if *days > MAX_EXTENSION_WORKING_DAYS {
                return Err(conflict(
                    "extension_too_long",
                    "an extension is at most 20 working days (art. 33)",
                ));
            }
            if let Some(due) = current_due_date(wf, cal)?
                && on > due
            {
                return Err(conflict(
                    "due_date_passed",
                    format!("an extension must be approved before the due date ({due}) passes"),
                ));
            }
            next.clock.extension = Some(Extension {
                days: *days,
                approved_on: on,
                approved_by: ctx.actor_name.to_string(),
                reason: reason.clone(),
            });
        }
        Action::OverrideDeadline { due_date, reason } => {
            if !ctx.actor_is_approver {
                return Err(Refusal::Forbidden {
                    code: "approver_required",
                    message: "a longer reply period is set by the head of the disclosure office (role approver)".into(),
                });
            }
            if wf.clock.deadline_override.is_some() {
                return Err(conflict(
                    "deadline_already_overridden",
                    "the reply period was already set by the office",
                ));
            }
            let current = current_due_date(wf, cal)?;
            if current.is_some_and(|c| *due_date <= c) {
                return Err(conflict(
                    "override_not_later",
                    "a reply period set for numerous applications must end after the statutory due date (art. 35)",
                ));
            }
            if !cal.is_working_day(*due_date).unwrap_or(false) {
                return Err(Refusal::Invalid(vec![FieldError::new(
                    "due_date",
                    "not_a_working_day",
                    "must be a working day",
                )]));
            }
            next.clock.deadline_override = Some(DeadlineOverride {
                due_date: *due_date,
                set_on: on,
                reason: reason.clone(),
            });
        }
        Action::Reply(reply) => {
            let req = reply.disposition.requirements();
            if req.by_own_action {
                return Err(conflict(
                    "disposition_requires_action",
                    format!(
                        "{} is recorded by close_uncorrected or close_unpaid",
                        reply.disposition.code()
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
                    "unavailable.still_unclear is possible only after a correction round (art. 30)",
                ));
            }
            if req.reason && reply.reason.is_none() {
                return Err(conflict(
                    "disposition_requires_reason",
                    format!("{} needs a reason", reply.disposition.code()),
                ));
            }
            if req.legal_basis && reply.legal_basis.is_none() {
                return Err(conflict(
                    "disposition_requires_legal_basis",
                    format!("{} needs the legal basis", reply.disposition.code()),
                ));
            }
            if req.provision && reply.provision.is_none() {
                return Err(conflict(
                    "disposition_requires_provision",
                    format!(
                        "{} records how and when the information is provided (provision)",
                        reply.disposition.code()
                    ),
                ));
            }
            close(&mut next, on, reply.clone(), cal)?;
        }
        Action::CloseUncorrected => {
            let reply_by = wf
                .clock
                .correction
                .as_ref()
                .map(|c| c.reply_by)
                .unwrap_or(on);
            if on <= reply_by {
                return Err(conflict(
                    "correction_deadline_not_passed",
                    format!("the applicant has until {reply_by} to correct"),
                ));
            }
            close(
                &mut next,
                on,
                plain_close(Disposition::OtherUncorrected, None),
                cal,
            )?;
        }
        Action::CloseUnpaid => {
            let notice = wf.fee.as_ref().map(|f| f.notice_on).unwrap_or(on);
            let window_end = add_wd(cal, notice, PAYMENT_WINDOW)?;
            if on <= window_end {
                return Err(conflict(
                    "payment_deadline_not_passed",
                    format!("the applicant has until {window_end} to pay"),
                ));
            }
            close(
                &mut next,
                on,
                plain_close(Disposition::OtherUnpaid, None),
                cal,
            )?;
        }
        Action::Withdraw { reason } => {
            let reason = reason.clone().unwrap_or_else(|| "withdrawn".to_string());
            close(
                &mut next,
                on,
                plain_close(Disposition::OtherOther, Some(reason)),
                cal,
            )?;
        }
    }
    Ok(next)
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
