//! The legal record of one application (§4–§7): its state, the clock facts, the correction
//! items, consultations, the fee and the reply — typed, and stored as a versioned document.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::State;
use crate::domain::clock::ClockFacts;
use crate::domain::disposition::Disposition;
use crate::domain::fees::FeeBasis;

/// Who is consulted (art. 32, 34).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// 第三方 (art. 32)
    ThirdParty,
    /// 其他机关 (art. 34)
    OtherAgency,
}

/// A consultee's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Opinion {
    Consent,
    Objection,
    /// No answer within the 15 working days.
    NoReply,
}

/// One consultation (征求意见).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consultation {
    pub party: Party,
    pub whom: String,
    pub sent_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    pub opinion: Option<Opinion>,
}

/// The fee notice (收费通知) and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeRecord {
    pub basis: FeeBasis,
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

/// The reply or other closure (答复) with the disposition of §6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRecord {
    pub disposition: Disposition,
    pub on: NaiveDate,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
    pub provision: Option<String>,
    pub responsible_agency: Option<String>,
    /// The earlier application a `not_processed.repeated` reply names.
    pub repeats_request_id: Option<String>,
    /// Disclosure over a third party's objection: the public-interest reason and the notice.
    #[serde(default)]
    pub objection_override: Option<super::actions::ObjectionOverride>,
    /// Replied after the due date.
    #[serde(default)]
    pub late: bool,
    /// The day the reply was served on the applicant (送达): the applicant's review and
    /// litigation limits run from it. Recorded with the reply or later.
    #[serde(default)]
    pub served_on: Option<NaiveDate>,
}

/// The legal state of one application: everything the guards and the clock need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    pub state: State,
    pub clock: ClockFacts,
    /// The date of the latest step (the arrival date at first): no step may be dated before it.
    pub last_step_on: NaiveDate,
    #[serde(default)]
    pub correction_items: Vec<String>,
    #[serde(default)]
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
        self.reply.as_ref().map(|r| r.disposition)
    }

    /// Replied after the due date.
    pub fn late(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.late)
    }
}
