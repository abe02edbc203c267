//! Notices (告知书, issue 13): the letters the law times, composed from the case, the letterhead
//! and the fields of the act they perform, and checked against the law before anyone signs.
//!
//! Pure: the caller gives the case's facts, the effective letterhead and the parsed action;
//! [`compose`] writes the letter section by section (the office may replace any section's text),
//! and [`lint`] reads the letter as it will be printed and lists what a court would hold against
//! it. Errors block approval; warnings are shown.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::disposition::Disposition;
use super::fees::FeeBasis;
use super::letterhead::Letterhead;
use super::remedy::REVIEW_FIRST_SINCE;
use super::request::{Action, Party, ReplyInput, State};
use super::validation::FieldError;

/// The kinds of notice (domain.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeType {
    /// 登记回执.
    Receipt,
    /// 补正告知书 (art. 30).
    Correction,
    /// 延期答复告知书 (art. 33).
    Extension,
    /// 征求意见书 (art. 32, 34).
    Consultation,
    /// 第三方告知书 (art. 32): disclosure over the third party's objection.
    ObjectionOverride,
    /// 收费通知书 (fee Measures).
    Fee,
    /// 延迟答复告知书 (art. 35).
    DelayedReply,
    /// 答复告知书 (art. 36).
    Reply,
    /// 视为放弃申请告知书: uncorrected (art. 30) or unpaid (fee Measures).
    Closure,
}

impl NoticeType {
    pub const ALL: [NoticeType; 9] = [
        NoticeType::Receipt,
        NoticeType::Correction,
        NoticeType::Extension,
        NoticeType::Consultation,
        NoticeType::ObjectionOverride,
        NoticeType::Fee,
        NoticeType::DelayedReply,
        NoticeType::Reply,
        NoticeType::Closure,
    ];

    pub fn code(self) -> &'static str {
        match self {
            NoticeType::Receipt => "receipt",
            NoticeType::Correction => "correction",
            NoticeType::Extension => "extension",
            NoticeType::Consultation => "consultation",
            NoticeType::ObjectionOverride => "objection_override",
            NoticeType::Fee => "fee",
            NoticeType::DelayedReply => "delayed_reply",
            NoticeType::Reply => "reply",
            NoticeType::Closure => "closure",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeType> {
        NoticeType::ALL.into_iter().find(|t| t.code() == s)
    }

    /// The letter's title.
    pub fn title(self) -> &'static str {
        match self {
            NoticeType::Receipt => "政府信息公开申请登记回执",
            NoticeType::Correction => "政府信息公开申请补正告知书",
            NoticeType::Extension => "政府信息公开申请延期答复告知书",
            NoticeType::Consultation => "政府信息公开征求意见书",
            NoticeType::ObjectionOverride => "政府信息公开第三方告知书",
            NoticeType::Fee => "政府信息公开信息处理费收费通知书",
            NoticeType::DelayedReply => "政府信息公开申请延迟答复告知书",
            NoticeType::Reply => "政府信息公开申请答复告知书",
            NoticeType::Closure => "政府信息公开申请视为放弃告知书",
        }
    }

    /// The action of domain.md §5 the notice performs when issued (`None`: it records no act
    /// of its own — the receipt, and the third-party notice that belongs to the reply).
    pub fn action(self) -> Option<&'static str> {
        match self {
            NoticeType::Correction => Some("request_correction"),
            NoticeType::Extension => Some("extend"),
            NoticeType::Consultation => Some("start_consultation"),
            NoticeType::Fee => Some("issue_fee_notice"),
            NoticeType::DelayedReply => Some("override_deadline"),
            NoticeType::Reply => Some("reply"),
            NoticeType::Closure => Some("close_uncorrected|close_unpaid"),
            NoticeType::Receipt | NoticeType::ObjectionOverride => None,
        }
    }

    /// Whether the act of §5 named `action` is one a notice performs (the law's acts are
    /// written notices); recorded without one, the application warns.
    pub fn performs(action: &str) -> bool {
        Self::performing_actions().any(|a| a == action)
    }

    /// The acts of §5 that notices perform (each notice type's action codes).
    pub fn performing_actions() -> impl Iterator<Item = &'static str> {
        NoticeType::ALL
            .into_iter()
            .filter_map(NoticeType::action)
            .flat_map(|a| a.split('|'))
    }

    /// Whether, by default, an approver must approve it before it is issued.
    pub fn needs_approval_by_default(self) -> bool {
        matches!(
            self,
            NoticeType::Reply
                | NoticeType::Extension
                | NoticeType::DelayedReply
                | NoticeType::Fee
                | NoticeType::ObjectionOverride
        )
    }

    /// The act a closure performs: it follows the window that ran out (art. 30: uncorrected;
    /// fee Measures: unpaid). None while neither window runs.
    pub fn closure_act(state: State) -> Option<Action> {
        match state {
            State::AwaitingCorrection => Some(Action::CloseUncorrected),
            State::AwaitingPayment => Some(Action::CloseUnpaid),
            _ => None,
        }
    }

    /// What the service of this notice on `served` records on the application in `state`: the
    /// consulted party's receipt (its 15 working days), the applicant's receipt of a fee notice
    /// (20 working days to pay), the service of a reply or closure (the remedy limits). None
    /// where no window waits for it any more (an answered consultation, a paid fee).
    pub fn receipt_act(self, state: State, served: NaiveDate) -> Option<Action> {
        match (self, state) {
            (NoticeType::Consultation, State::Consulting) => {
                Some(Action::RecordConsultationReceipt {
                    received_on: served,
                })
            }
            (NoticeType::Fee, State::AwaitingPayment) => Some(Action::RecordFeeNoticeReceipt {
                received_on: served,
            }),
            (NoticeType::Reply | NoticeType::Closure, State::Closed) => {
                Some(Action::RecordReplyService { served_on: served })
            }
            _ => None,
        }
    }

    /// Whether the letter is the applicant's: the letters to a consulted third party or agency,
    /// and the third-party notice of an overridden objection, name the third party and what it
    /// said, and are not theirs to download.
    pub fn addressed_to_applicant(self) -> bool {
        !matches!(
            self,
            NoticeType::Consultation | NoticeType::ObjectionOverride
        )
    }

    /// Whether the letter ends with the applicant's remedies.
    pub fn has_remedy_clause(self) -> bool {
        matches!(self, NoticeType::Reply | NoticeType::Closure)
    }
}

/// What the case says, for the letter and its checks.
#[derive(Debug, Clone, Default)]
pub struct CaseFacts {
    pub case_number: String,
    pub query_code: String,
    pub applicant_name: String,
    /// The applicant's identity number, to find it printed in full.
    pub applicant_id_number: Option<String>,
    pub description: String,
    pub arrival_date: Option<NaiveDate>,
    pub receipt_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// The due date after the extension the notice grants (extension notices).
    pub extended_due_date: Option<NaiveDate>,
    /// The correction's reply-by date and the fee notice's sending date, when closing.
    pub closing_unpaid: bool,
    /// For the third-party notice: whom it goes to and what the reply discloses and why.
    pub objection: Option<ObjectionFacts>,
}

/// The third party of an overridden objection (art. 32).
#[derive(Debug, Clone, Default)]
pub struct ObjectionFacts {
    pub third_party: String,
    pub disclosed: String,
    pub public_interest_reason: String,
}

/// One section of a letter; the office may replace its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// A stable key (`recipient`, `opening`, `decision`, `basis`, `provision`, `items`,
    /// `consequence`, `period`, `payment`, `remedy`, `contact`, …).
    pub key: &'static str,
    pub text: String,
    /// Replaced by the office (`paragraphs`).
    pub edited: bool,
}

/// A composed letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Letter {
    pub title: String,
    /// The document number; a placeholder until issued.
    pub number: String,
    pub sections: Vec<Section>,
    /// The name above the seal.
    pub signature: String,
    pub date: NaiveDate,
}

impl Letter {
    /// The whole text as printed, sections in order.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n{}\n\n", self.title, self.number);
        for s in &self.sections {
            if !s.text.trim().is_empty() {
                out.push_str(&s.text);
                out.push_str("\n\n");
            }
        }
        out.push_str(&self.signature);
        out.push('\n');
        out.push_str(&chinese_date(self.date));
        out.push('\n');
        out
    }

    pub fn section(&self, key: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.text.as_str())
    }
}

/// `2026年3月10日`, as official documents write dates (no leading zeros).
pub fn chinese_date(d: NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// The number's placeholder before issue.
pub const UNNUMBERED: &str = "（文号于签发时编定）";

fn or_blank(v: Option<&str>, blank: &str) -> String {
    v.map_or_else(|| blank.to_string(), str::to_string)
}

/// Whether a refusal replied on `on` must go to review before a suit (Administrative
/// Reconsideration Law art. 23, since 2024-01-01).
pub fn review_first(disposition: Option<Disposition>, on: NaiveDate) -> bool {
    disposition.is_some_and(Disposition::is_denial) && on >= REVIEW_FIRST_SINCE
}

/// The remedy clause the law asks for (domain.md §12): review within 60 days to the review
/// body, and a suit within 6 months — or, for a refusal to disclose since 2024-01-01, review
/// first and a suit only against the review decision.
pub fn remedy_clause(letterhead: &Letterhead, review_first: bool) -> String {
    let body = or_blank(letterhead.review_body.as_deref(), "（复议机关）");
    if review_first {
        format!(
            "如对本答复不服，可以自收到本答复之日起六十日内向{body}申请行政复议；对行政复议决定不服的，可以自收到行政复议决定书之日起十五日内依法向人民法院提起行政诉讼。"
        )
    } else {
        let court = or_blank(letterhead.court.as_deref(), "（人民法院）");
        format!(
            "如对本答复不服，可以自收到本答复之日起六十日内向{body}申请行政复议，或者自收到本答复之日起六个月内向{court}提起行政诉讼。"
        )
    }
}

/// The article a disposition rests on, as the letter must cite it (domain.md §6).
pub fn required_article(d: Disposition) -> Option<&'static str> {
    use Disposition::*;
    Some(match d {
        DeniedStateSecret | DeniedProhibitedByLaw | DeniedSecurityStability => "第十四条",
        DeniedThirdPartyRights => "第十五条",
        DeniedInternalAffairs => "第十六条第一款",
        DeniedProcessInformation | DeniedEnforcementFile => "第十六条第二款",
        DeniedAdministrativeInquiry => "第三十六条第（七）项",
        UnavailableNotHeld => "第三十六条第（五）项",
        UnavailableNeedsCreation => "第三十八条",
        UnavailableStillUnclear => "第三十条",
        NotProcessedPetition | NotProcessedPublication => "第三十九条",
        NotProcessedRepeated => "第三十六条第（六）项",
        NotProcessedMassRepeated => "第三十五条",
        Granted => "第三十六条",
        PartiallyGranted => "第三十七条",
        NotProcessedConfirmation | OtherUncorrected | OtherUnpaid | OtherOther => return None,
    })
}

fn decision_sentence(r: &ReplyInput) -> String {
    use Disposition::*;
    let reason = r.reason.clone().unwrap_or_default();
    match r.disposition {
        Granted => "经审查，您申请获取的政府信息属于公开范围，本机关决定予以公开。".to_string(),
        PartiallyGranted => {
            format!("经审查，您申请获取的政府信息中部分内容可以公开，本机关决定部分公开。{reason}")
        }
        d if d.is_denial() => format!("经审查，{reason}本机关决定不予公开。"),
        UnavailableNotHeld => {
            format!("经检索查找，本机关未制作或者获取您申请获取的政府信息。{reason}")
        }
        UnavailableNeedsCreation => format!(
            "经审查，您申请获取的政府信息需要本机关对现有政府信息进行加工、分析，本机关不予提供。{reason}"
        ),
        UnavailableStillUnclear => {
            format!("经补正后，您申请获取的政府信息内容仍不明确，本机关无法提供。{reason}")
        }
        _ => format!("经审查，{reason}本机关不予处理。"),
    }
}

/// Writes the letter: the law's text for the type, filled from the case, the letterhead and the
/// action; each section replaced by the office's text when `paragraphs` has its key.
pub fn compose(
    kind: NoticeType,
    on: NaiveDate,
    facts: &CaseFacts,
    letterhead: &Letterhead,
    action: Option<&Action>,
    paragraphs: &BTreeMap<String, String>,
) -> Letter {
    let mut sections: Vec<(&'static str, String)> = Vec::new();
    let to_applicant = format!("{}：", facts.applicant_name);
    let received = facts
        .receipt_date
        .or(facts.arrival_date)
        .map_or_else(String::new, chinese_date);
    let about = format!(
        "本机关于{received}收到您（编号：{}）关于“{}”的政府信息公开申请。",
        facts.case_number, facts.description
    );
    match (kind, action) {
        (NoticeType::Receipt, _) => {
            sections.push(("recipient", to_applicant));
            sections.push(("opening", about));
            sections.push((
                "details",
                format!(
                    "申请编号：{}；查询码：{}；收到申请日期：{}；答复期限：{}前。您可凭申请编号和查询码查询办理进度。",
                    facts.case_number,
                    facts.query_code,
                    received,
                    facts.due_date.map_or_else(|| "（待确认收到后计算）".into(), chinese_date)
                ),
            ));
        }
        (NoticeType::Correction, Some(Action::RequestCorrection { items, reply_by })) => {
            sections.push(("recipient", to_applicant));
            sections.push(("opening", about));
            let list = items
                .iter()
                .enumerate()
                .map(|(i, it)| format!("{}. {it}", i + 1))
                .collect::<Vec<_>>()
                .join("\n");
            sections.push((
                "items",
                format!("根据《中华人民共和国政府信息公开条例》第三十条的规定，请您对申请作出以下补正：\n{list}"),
            ));
            sections.push((
                "consequence",
                format!(
                    "请于{}前提交补正材料。答复期限自本机关收到补正后的申请之日起计算。无正当理由逾期不补正的，视为放弃申请，本机关不再处理该政府信息公开申请。",
                    chinese_date(*reply_by)
                ),
            ));
        }
        (NoticeType::Extension, Some(Action::Extend { days, reason })) => {
            sections.push(("recipient", to_applicant));
            sections.push(("opening", about));
            sections.push((
                "decision",
                format!(
                    "因{reason}，本机关不能在法定期限内作出答复。根据《中华人民共和国政府信息公开条例》第三十三条第二款的规定，经本机关政府信息公开工作机构负责人同意，答复期限延长{days}个工作日，延长后的答复期限至{}。",
                    facts
                        .extended_due_date
                        .map_or_else(|| "（延长后的日期）".into(), chinese_date)
                ),
            ));
        }
        (NoticeType::Consultation, Some(Action::StartConsultation { party, whom, .. })) => {
            sections.push(("recipient", format!("{whom}：")));
            let (article, whose) = match party {
                Party::ThirdParty => ("第三十二条", "可能损害您的合法权益"),
                Party::OtherAgency => ("第三十四条", "涉及贵机关"),
            };
            sections.push((
                "opening",
                format!(
                    "本机关收到关于“{}”的政府信息公开申请（编号：{}）。该申请所涉政府信息{whose}，根据《中华人民共和国政府信息公开条例》{article}的规定，现书面征求您的意见。",
                    facts.description, facts.case_number
                ),
            ));
            sections.push((
                "period",
                match party {
                    Party::ThirdParty => "请自收到本征求意见书之日起15个工作日内提出意见。逾期未提出意见的，由本机关依照《中华人民共和国政府信息公开条例》的规定决定是否公开。第三方不同意公开且有合理理由的，本机关不予公开；但本机关认为不公开可能对公共利益造成重大影响的，可以决定予以公开，并将决定公开的政府信息内容和理由书面告知第三方。".to_string(),
                    Party::OtherAgency => "请自收到本征求意见书之日起15个工作日内提出意见。逾期未提出意见的，视为同意公开。".to_string(),
                },
            ));
        }
        (NoticeType::ObjectionOverride, _) => {
            let o = facts.objection.clone().unwrap_or_default();
            sections.push(("recipient", format!("{}：", o.third_party)));
            sections.push((
                "opening",
                format!(
                    "本机关就“{}”的政府信息公开申请（编号：{}）征求了您的意见，您不同意公开。",
                    facts.description, facts.case_number
                ),
            ));
            sections.push((
                "decision",
                format!(
                    "经审查，本机关认为不公开可能对公共利益造成重大影响：{}根据《中华人民共和国政府信息公开条例》第三十二条的规定，本机关决定予以公开。决定公开的政府信息内容：{}。",
                    o.public_interest_reason, o.disclosed
                ),
            ));
        }
        (
            NoticeType::Fee,
            Some(Action::IssueFeeNotice {
                basis,
                amount_fen,
                pages,
                ..
            }),
        ) => {
            sections.push(("recipient", to_applicant));
            sections.push(("opening", about));
            let how = match basis {
                FeeBasis::PerPiece => "按件计收".to_string(),
                FeeBasis::PerPage => format!("按量计收（{}页）", pages.unwrap_or_default()),
            };
            sections.push((
                "decision",
                format!(
                    "根据《政府信息公开信息处理费管理办法》的规定，您的申请超出了合理数量，本机关决定收取信息处理费，{how}，金额为人民币{}元。",
                    yuan(*amount_fen)
                ),
            ));
            sections.push((
                "payment",
                "请自收到本通知次日起20个工作日内缴纳。逾期未缴纳的，视为放弃申请，本机关不再处理该政府信息公开申请。缴费期间不计算在答复期限内。".to_string(),
            ));
        }
        (NoticeType::DelayedReply, Some(Action::OverrideDeadline { due_date, reason })) => {
            sections.push(("recipient", to_applicant));
            sections.push(("opening", about));
            sections.push((
                "decision",
                format!(
                    "{reason}根据《中华人民共和国政府信息公开条例》第三十五条的规定，本机关确定延迟答复并合理确定答复期限，将于{}前作出答复。",
                    chinese_date(*due_date)
                ),
            ));
        }
        (NoticeType::Reply, Some(Action::Reply(r))) => {
            sections.push(("recipient", to_applicant));
            sections.push(("opening", about));
            sections.push(("decision", decision_sentence(r)));
            sections.push((
                "basis",
                r.legal_basis
                    .as_ref()
                    .map_or_else(String::new, |b| format!("依据：{b}。")),
            ));
            if let Some(p) = &r.provision {
                sections.push(("provision", p.clone()));
            }
            if let Some(a) = &r.responsible_agency {
                sections.push((
                    "contact",
                    format!("该政府信息的负责机关及其联系方式：{a}。"),
                ));
            }
        }
        (NoticeType::Closure, _) => {
            sections.push(("recipient", to_applicant));
            sections.push(("opening", about));
            sections.push((
                "decision",
                if facts.closing_unpaid {
                    "您未在收到收费通知次日起20个工作日内缴纳信息处理费。根据《政府信息公开信息处理费管理办法》的规定，视为放弃申请，本机关不再处理该政府信息公开申请。".to_string()
                } else {
                    "您无正当理由逾期未补正。根据《中华人民共和国政府信息公开条例》第三十条的规定，视为放弃申请，本机关不再处理该政府信息公开申请。".to_string()
                },
            ));
        }
        // A type whose action did not parse: the caller refuses it before composing.
        _ => {
            sections.push(("recipient", to_applicant));
            sections.push(("opening", about));
        }
    }
    if kind.has_remedy_clause() {
        let disposition = match action {
            Some(Action::Reply(r)) => Some(r.disposition),
            _ => None,
        };
        sections.push((
            "remedy",
            remedy_clause(letterhead, review_first(disposition, on)),
        ));
    }
    if let (Some(office), Some(tel)) = (&letterhead.office_name, &letterhead.telephone) {
        sections.push(("office", format!("联系机构：{office}；联系电话：{tel}。")));
    }
    let sections = sections
        .into_iter()
        .map(|(key, text)| match paragraphs.get(key) {
            Some(own) => Section {
                key,
                text: own.clone(),
                edited: true,
            },
            None => Section {
                key,
                text,
                edited: false,
            },
        })
        .collect();
    Letter {
        title: kind.title().to_string(),
        number: UNNUMBERED.to_string(),
        sections,
        signature: or_blank(
            letterhead
                .seal_name
                .as_deref()
                .or(letterhead.official_name.as_deref()),
            "（机关名称）",
        ),
        date: on,
    }
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// The sections an office may replace, by type.
pub fn section_keys(kind: NoticeType) -> &'static [&'static str] {
    match kind {
        NoticeType::Receipt => &["recipient", "opening", "details", "office"],
        NoticeType::Correction => &["recipient", "opening", "items", "consequence", "office"],
        NoticeType::Consultation => &["recipient", "opening", "period", "office"],
        NoticeType::Fee => &["recipient", "opening", "decision", "payment", "office"],
        NoticeType::Reply => &[
            "recipient",
            "opening",
            "decision",
            "basis",
            "provision",
            "contact",
            "remedy",
            "office",
        ],
        NoticeType::Closure => &["recipient", "opening", "decision", "remedy", "office"],
        NoticeType::Extension | NoticeType::ObjectionOverride | NoticeType::DelayedReply => {
            &["recipient", "opening", "decision", "office"]
        }
    }
}

/// How much a finding weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Blocks approval and issue.
    Error,
    /// Shown; the office decides.
    Warning,
}

/// What the check found in a letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    /// Where: `fields.legal_basis`, `paragraphs.remedy`, `letterhead.review_body`, `text`.
    pub field: String,
    /// In Chinese.
    pub message: String,
}

/// Every finding code with its severity and meaning (documented in docs/API.md).
pub const FINDINGS: [(&str, Severity, &str); 16] = [
    (
        "letterhead_incomplete",
        Severity::Error,
        "信笺缺少发文所需的项目（机关名称、印章名称、发文字号格式、复议机关、法院）",
    ),
    (
        "applicant_mismatch",
        Severity::Error,
        "告知书未写明本案申请人",
    ),
    (
        "case_number_mismatch",
        Severity::Error,
        "告知书未写明本案申请编号",
    ),
    (
        "identity_number_in_full",
        Severity::Error,
        "告知书中出现完整的身份证件号码",
    ),
    (
        "article_missing",
        Severity::Error,
        "未引用该答复类型所依据的条款",
    ),
    ("reason_missing", Severity::Error, "未说明理由"),
    (
        "provision_missing",
        Severity::Error,
        "未说明提供信息的方式和时间或获取途径",
    ),
    (
        "responsible_agency_missing",
        Severity::Warning,
        "未告知负责该政府信息的机关及其联系方式（能够确定的应当告知）",
    ),
    ("remedy_clause_missing", Severity::Error, "缺少救济途径告知"),
    (
        "review_body_missing",
        Severity::Error,
        "救济告知未写明行政复议机关",
    ),
    ("court_missing", Severity::Error, "救济告知未写明管辖法院"),
    (
        "remedy_period_missing",
        Severity::Error,
        "救济告知未写明复议期限（六十日）或诉讼期限（六个月）",
    ),
    (
        "direct_suit_offered",
        Severity::Error,
        "对不予公开的答复，2024年1月1日起应当先申请行政复议，不得告知直接起诉",
    ),
    (
        "reply_after_due_date",
        Severity::Warning,
        "告知书日期晚于答复期限",
    ),
    (
        "period_missing",
        Severity::Error,
        "未写明法定期限（征求意见15个工作日、缴费20个工作日）",
    ),
    (
        "consequence_missing",
        Severity::Error,
        "未告知逾期的后果（视为放弃申请）",
    ),
];

fn finding(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Finding {
    let severity = FINDINGS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(Severity::Error, |(_, s, _)| *s);
    Finding {
        code,
        severity,
        field: field.into(),
        message: message.into(),
    }
}

/// Whether `text` prints an 18-character identity number (17 digits and a check character).
fn full_identity_number(text: &str, known: Option<&str>) -> bool {
    if let Some(n) = known
        && n.len() == 18
        && text.contains(n)
    {
        return true;
    }
    let chars: Vec<char> = text.chars().collect();
    chars.windows(18).any(|w| {
        w[..17].iter().all(char::is_ascii_digit)
            && (w[17].is_ascii_digit() || w[17] == 'X' || w[17] == 'x')
    })
}

fn mentions_any(text: &str, options: &[&str]) -> bool {
    options.iter().any(|o| text.contains(o))
}

/// Checks a letter against the law and the case (issue 13 item 3).
pub fn lint(
    kind: NoticeType,
    letter: &Letter,
    facts: &CaseFacts,
    letterhead: &Letterhead,
    letterhead_missing: &[&str],
    action: Option<&Action>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let text = letter.text();
    let needed: &[&str] = if kind.has_remedy_clause() {
        &[
            "official_name",
            "seal_name",
            "number_pattern",
            "review_body",
            "court",
        ]
    } else {
        &["official_name", "seal_name", "number_pattern"]
    };
    for f in letterhead_missing.iter().filter(|f| needed.contains(f)) {
        out.push(finding(
            "letterhead_incomplete",
            format!("letterhead.{f}"),
            format!("信笺缺少{f}：请在机关信笺中填写"),
        ));
    }
    let to_applicant = !matches!(
        kind,
        NoticeType::Consultation | NoticeType::ObjectionOverride
    );
    if to_applicant && !facts.applicant_name.is_empty() && !text.contains(&facts.applicant_name) {
        out.push(finding(
            "applicant_mismatch",
            "paragraphs.recipient",
            format!("告知书应写明申请人“{}”", facts.applicant_name),
        ));
    }
    if !text.contains(&facts.case_number) {
        out.push(finding(
            "case_number_mismatch",
            "text",
            format!("告知书应写明申请编号{}", facts.case_number),
        ));
    }
    if full_identity_number(&text, facts.applicant_id_number.as_deref()) {
        out.push(finding(
            "identity_number_in_full",
            "text",
            "身份证件号码不得完整印出，请隐去中间部分",
        ));
    }
    match (kind, action) {
        (NoticeType::Reply, Some(Action::Reply(r))) => {
            let req = r.disposition.requirements();
            if let Some(article) = required_article(r.disposition)
                && (req.legal_basis || r.disposition.is_denial())
                && !letter
                    .section("basis")
                    .unwrap_or_default()
                    .contains(article)
                && !letter
                    .section("decision")
                    .unwrap_or_default()
                    .contains(article)
            {
                out.push(finding(
                    "article_missing",
                    "fields.legal_basis",
                    format!(
                        "{}的答复应当引用《中华人民共和国政府信息公开条例》{article}",
                        r.disposition.label()
                    ),
                ));
            }
            if req.reason && r.reason.as_deref().is_none_or(|s| s.trim().is_empty()) {
                out.push(finding(
                    "reason_missing",
                    "fields.reason",
                    "该答复应当说明理由",
                ));
            }
            if req.provision && r.provision.as_deref().is_none_or(|s| s.trim().is_empty()) {
                out.push(finding(
                    "provision_missing",
                    "fields.provision",
                    "应当写明提供信息的方式和时间，或者获取该信息的途径",
                ));
            }
            if r.disposition == Disposition::UnavailableNotHeld && r.responsible_agency.is_none() {
                out.push(finding(
                    "responsible_agency_missing",
                    "fields.responsible_agency",
                    "能够确定负责该政府信息的机关的，应当告知其名称和联系方式",
                ));
            }
            if facts.due_date.is_some_and(|d| letter.date > d) {
                out.push(finding(
                    "reply_after_due_date",
                    "fields.on",
                    format!(
                        "答复期限为{}，告知书日期在其后",
                        facts.due_date.map(chinese_date).unwrap_or_default()
                    ),
                ));
            }
        }
        (NoticeType::Consultation, _)
            if !mentions_any(
                letter.section("period").unwrap_or_default(),
                &["15个工作日", "十五个工作日"],
            ) =>
        {
            out.push(finding(
                "period_missing",
                "paragraphs.period",
                "征求意见书应当写明自收到之日起15个工作日内提出意见",
            ));
        }
        (NoticeType::Fee, _) => {
            let p = letter.section("payment").unwrap_or_default();
            if !mentions_any(p, &["20个工作日", "二十个工作日"]) {
                out.push(finding(
                    "period_missing",
                    "paragraphs.payment",
                    "收费通知书应当写明自收到通知次日起20个工作日内缴纳",
                ));
            }
            if !p.contains("视为放弃") {
                out.push(finding(
                    "consequence_missing",
                    "paragraphs.payment",
                    "收费通知书应当告知逾期未缴纳的，视为放弃申请",
                ));
            }
        }
        (NoticeType::Correction, _)
            if !letter
                .section("consequence")
                .unwrap_or_default()
                .contains("视为放弃") =>
        {
            out.push(finding(
                "consequence_missing",
                "paragraphs.consequence",
                "补正告知书应当告知无正当理由逾期不补正的，视为放弃申请",
            ));
        }
        _ => {}
    }
    if kind.has_remedy_clause() {
        let clause = letter.section("remedy").unwrap_or_default();
        let disposition = match action {
            Some(Action::Reply(r)) => Some(r.disposition),
            _ => None,
        };
        let first = review_first(disposition, letter.date);
        if clause.trim().is_empty() {
            out.push(finding(
                "remedy_clause_missing",
                "paragraphs.remedy",
                "答复应当告知申请人申请行政复议或者提起行政诉讼的途径和期限",
            ));
        } else {
            // The body and the court as the letterhead names them (an absent one is reported
            // as letterhead_incomplete above).
            if let Some(b) = &letterhead.review_body
                && !clause.contains(b.as_str())
            {
                out.push(finding(
                    "review_body_missing",
                    "paragraphs.remedy",
                    format!("救济告知应当写明行政复议机关“{b}”"),
                ));
            }
            if !first
                && let Some(c) = &letterhead.court
                && !clause.contains(c.as_str())
            {
                out.push(finding(
                    "court_missing",
                    "paragraphs.remedy",
                    format!("救济告知应当写明管辖法院“{c}”"),
                ));
            }
            if !mentions_any(clause, &["六十日", "60日"]) {
                out.push(finding(
                    "remedy_period_missing",
                    "paragraphs.remedy",
                    "应当写明自收到之日起六十日内申请行政复议",
                ));
            }
            if first {
                if mentions_any(clause, &["六个月", "6个月"]) {
                    out.push(finding(
                        "direct_suit_offered",
                        "paragraphs.remedy",
                        "2024年1月1日起，对不予公开政府信息的答复不服的，应当先申请行政复议（《中华人民共和国行政复议法》第二十三条），不得告知六个月内直接起诉",
                    ));
                }
            } else if !mentions_any(clause, &["六个月", "6个月"]) {
                out.push(finding(
                    "remedy_period_missing",
                    "paragraphs.remedy",
                    "应当写明自收到之日起六个月内提起行政诉讼",
                ));
            }
        }
    }
    out
}

/// Whether any finding blocks approval.
pub fn blocks(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// How a notice was served (送达, domain.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMethod {
    /// 直接送达: the date of the recipient's signature.
    InPerson,
    /// 邮寄送达 (registered mail or EMS, with its number): the date on the return receipt.
    Post,
    /// 电子送达: the day the message reaches the recipient's system.
    Email,
    /// Through the online portal: the day the applicant first opens it.
    Online,
    Fax,
    /// 公告送达: served 30 days after publication.
    Announcement,
}

/// Days after publication when an announcement counts as served.
pub const ANNOUNCEMENT_DAYS: u64 = 30;

/// One attempt to serve a notice: served, returned undelivered, or still under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ServiceAttempt {
    pub method: ServiceMethod,
    pub sent_on: NaiveDate,
    pub served_on: Option<NaiveDate>,
    /// Returned undelivered (not served: serve again).
    pub returned_on: Option<NaiveDate>,
    /// The registered-mail or EMS number (post).
    pub tracking_number: Option<String>,
    /// Who signed for it (in person).
    pub signed_by: Option<String>,
    pub note: Option<String>,
    pub recorded_by: String,
    pub recorded_at: chrono::NaiveDateTime,
}

/// An attempt as entered, before its checks.
#[derive(Debug, Clone)]
pub struct ServiceInput {
    pub method: ServiceMethod,
    pub sent_on: NaiveDate,
    pub served_on: Option<NaiveDate>,
    pub returned_on: Option<NaiveDate>,
    pub tracking_number: Option<String>,
    pub signed_by: Option<String>,
    pub note: Option<String>,
}

/// Checks an attempt against the notice and the law's rules of service: sent on or after the
/// issue and not in the future, served or returned (not both) on or after sending, a tracking
/// number for post, the signer for in-person service; an announcement is served 30 days after
/// publication (recorded once they have passed).
pub fn check_attempt(
    input: &ServiceInput,
    issued_on: NaiveDate,
    today: NaiveDate,
) -> Result<ServiceInput, Vec<FieldError>> {
    use super::validation::{Errors, optional_text};
    let mut e = Errors::new();
    let mut out = input.clone();
    if input.sent_on < issued_on {
        e.push(FieldError::new(
            "sent_on",
            "before_issue",
            crate::domain::text::Text::new(
                format!("告知书于{}签发", chinese_date(issued_on)),
                format!("the notice was issued on {issued_on}"),
            ),
        ));
    }
    for (field, d) in [
        ("sent_on", Some(input.sent_on)),
        ("served_on", input.served_on),
        ("returned_on", input.returned_on),
    ] {
        if d.is_some_and(|d| d > today) {
            e.push(FieldError::new(
                field,
                "in_future",
                crate::text!("不能晚于今天", "must not be in the future"),
            ));
        }
        if field != "sent_on" && d.is_some_and(|d| d < input.sent_on) {
            e.push(FieldError::new(
                field,
                "before_sending",
                crate::text!("不能早于发出日期（sent_on）", "must not be before sent_on"),
            ));
        }
    }
    if input.served_on.is_some() && input.returned_on.is_some() {
        e.push(FieldError::new(
            "returned_on",
            "conflicting_fields",
            crate::text!(
                "一次送达只能是已送达或被退回，不能两者兼有",
                "an attempt is served or returned, not both"
            ),
        ));
    }
    out.tracking_number = e
        .take(optional_text(
            "tracking_number",
            input.tracking_number.as_deref(),
            40,
            false,
        ))
        .flatten();
    out.signed_by = e
        .take(optional_text(
            "signed_by",
            input.signed_by.as_deref(),
            100,
            false,
        ))
        .flatten();
    out.note = e
        .take(optional_text("note", input.note.as_deref(), 1000, true))
        .flatten();
    match input.method {
        ServiceMethod::Post if out.tracking_number.is_none() => {
            e.push(FieldError::new(
                "tracking_number",
                "required",
                crate::text!(
                    "邮寄送达须记录挂号信或EMS单号",
                    "service by post records the registered-mail or EMS number"
                ),
            ));
        }
        ServiceMethod::InPerson if input.served_on.is_some() && out.signed_by.is_none() => {
            e.push(FieldError::new(
                "signed_by",
                "required",
                crate::text!(
                    "直接送达须记录签收人",
                    "service in person records who signed for it"
                ),
            ));
        }
        ServiceMethod::Announcement => {
            if input.served_on.is_some() {
                e.push(FieldError::new(
                    "served_on",
                    "not_allowed",
                    crate::text!(
                        "公告送达自发出公告之日起经过30日视为送达，不另填送达日期",
                        "service by announcement is deemed done 30 days after the announcement; no service date is entered"
                    ),
                ));
            }
            let deemed = input
                .sent_on
                .checked_add_days(chrono::Days::new(ANNOUNCEMENT_DAYS));
            match deemed {
                Some(d) if d <= today => out.served_on = Some(d),
                _ => e.push(FieldError::new(
                    "sent_on",
                    "announcement_period_running",
                    crate::text!(
                        "公告期30日尚未届满，届满后再记录",
                        "the 30 days of the announcement have not passed; record it after they have"
                    ),
                )),
            }
        }
        _ => {}
    }
    e.into_result().map(|()| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn letterhead() -> Letterhead {
        Letterhead {
            official_name: Some("定西市民政局".into()),
            seal_name: Some("定西市民政局".into()),
            number_pattern: Some("定民依公开〔{year}〕{seq}号".into()),
            review_body: Some("定西市人民政府".into()),
            court: Some("定西市安定区人民法院".into()),
            ..Letterhead::default()
        }
    }

    fn facts() -> CaseFacts {
        CaseFacts {
            case_number: "DX-2026-000001".into(),
            applicant_name: "张三".into(),
            applicant_id_number: Some("110101199003071233".into()),
            description: "环境影响评价批复".into(),
            receipt_date: Some(d("2026-03-02")),
            due_date: Some(d("2026-03-30")),
            ..CaseFacts::default()
        }
    }

    fn reply(disposition: Disposition, basis: Option<&str>) -> Action {
        Action::Reply(ReplyInput {
            disposition,
            reason: Some("经依法审查。".into()),
            legal_basis: basis.map(str::to_string),
            provision: None,
            responsible_agency: None,
            repeats_request_id: None,
            objection_override: None,
            served_on: None,
        })
    }

    fn checked(action: &Action, on: &str, paragraphs: &[(&str, &str)]) -> Vec<&'static str> {
        let p = paragraphs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let letter = compose(
            NoticeType::Reply,
            d(on),
            &facts(),
            &letterhead(),
            Some(action),
            &p,
        );
        lint(
            NoticeType::Reply,
            &letter,
            &facts(),
            &letterhead(),
            &[],
            Some(action),
        )
        .iter()
        .map(|f| f.code)
        .collect()
    }

    #[test]
    fn the_acts_a_notice_performs_are_those_of_its_types() {
        for a in [
            "request_correction",
            "extend",
            "start_consultation",
            "issue_fee_notice",
            "override_deadline",
            "reply",
            "close_uncorrected",
            "close_unpaid",
        ] {
            assert!(NoticeType::performs(a), "{a}");
        }
        for a in [
            "confirm_receipt",
            "withdraw",
            "record_payment",
            "record_reply_service",
        ] {
            assert!(!NoticeType::performs(a), "{a}");
        }
    }

    #[test]
    fn each_refusal_cites_its_article() {
        assert_eq!(
            required_article(Disposition::DeniedStateSecret),
            Some("第十四条")
        );
        assert_eq!(
            required_article(Disposition::DeniedProcessInformation),
            Some("第十六条第二款")
        );
        assert_eq!(
            required_article(Disposition::UnavailableNeedsCreation),
            Some("第三十八条")
        );
        let secret = reply(Disposition::DeniedStateSecret, Some("《条例》第十六条"));
        assert_eq!(checked(&secret, "2026-03-10", &[]), vec!["article_missing"]);
        let secret = reply(
            Disposition::DeniedStateSecret,
            Some("《中华人民共和国政府信息公开条例》第十四条"),
        );
        assert!(checked(&secret, "2026-03-10", &[]).is_empty());
        // 第十六条 alone is not enough for process information: it is the second paragraph.
        let process = reply(
            Disposition::DeniedProcessInformation,
            Some("《条例》第十六条"),
        );
        assert_eq!(
            checked(&process, "2026-03-10", &[]),
            vec!["article_missing"]
        );
    }

    #[test]
    fn a_refusal_from_2024_offers_review_first_and_an_earlier_one_a_direct_suit() {
        let lh = letterhead();
        assert!(review_first(
            Some(Disposition::DeniedStateSecret),
            d("2024-01-01")
        ));
        assert!(!review_first(
            Some(Disposition::DeniedStateSecret),
            d("2023-12-31")
        ));
        assert!(!review_first(Some(Disposition::Granted), d("2026-03-10")));
        let first = remedy_clause(&lh, true);
        assert!(
            first.contains("定西市人民政府")
                && first.contains("六十日")
                && !first.contains("六个月")
        );
        let either = remedy_clause(&lh, false);
        assert!(either.contains("六个月内向定西市安定区人民法院"));
        let secret = reply(Disposition::DeniedStateSecret, Some("第十四条"));
        assert_eq!(
            checked(&secret, "2026-03-10", &[("remedy", &either)]),
            vec!["direct_suit_offered"]
        );
        assert!(checked(&secret, "2023-12-20", &[("remedy", &either)]).is_empty());
    }

    #[test]
    fn an_identity_number_in_full_is_found_and_a_masked_one_is_not() {
        assert!(full_identity_number("身份证号110101199003071233", None));
        assert!(full_identity_number("号码11010519491231002X。", None));
        assert!(!full_identity_number("身份证号110101********1233", None));
        let granted = Action::Reply(ReplyInput {
            provision: Some("以电子邮件方式提供".into()),
            ..match reply(Disposition::Granted, None) {
                Action::Reply(r) => r,
                _ => unreachable!(),
            }
        });
        assert_eq!(
            checked(
                &granted,
                "2026-03-10",
                &[("recipient", "张三（110101199003071233）：")]
            ),
            vec!["identity_number_in_full"]
        );
        assert_eq!(
            checked(&granted, "2026-04-01", &[]),
            vec!["reply_after_due_date"]
        );
    }

    fn lint_of(
        kind: NoticeType,
        action: Option<&Action>,
        f: &CaseFacts,
        paragraphs: &[(&str, &str)],
    ) -> Vec<&'static str> {
        let p = paragraphs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let letter = compose(kind, d("2026-03-10"), f, &letterhead(), action, &p);
        lint(kind, &letter, f, &letterhead(), &[], action)
            .iter()
            .map(|x| x.code)
            .collect()
    }

    #[test]
    fn every_type_composes_a_letter_the_check_passes() {
        let objection = CaseFacts {
            objection: Some(ObjectionFacts {
                third_party: "某某建设有限公司".into(),
                disclosed: "环评批复".into(),
                public_interest_reason: "涉及周边居民环境权益。".into(),
            }),
            extended_due_date: Some(d("2026-04-28")),
            ..facts()
        };
        let granted = Action::Reply(ReplyInput {
            provision: Some("以电子邮件方式提供".into()),
            ..match reply(Disposition::Granted, None) {
                Action::Reply(r) => r,
                _ => unreachable!(),
            }
        });
        let cases: Vec<(NoticeType, Option<Action>, &str)> = vec![
            (NoticeType::Receipt, None, "查询码"),
            (
                NoticeType::Correction,
                Some(Action::RequestCorrection {
                    items: vec!["写明文号".into()],
                    reply_by: d("2026-03-20"),
                }),
                "视为放弃申请",
            ),
            (
                NoticeType::Extension,
                Some(Action::Extend {
                    days: 20,
                    reason: "需要调取档案".into(),
                }),
                "2026年4月28日",
            ),
            (
                NoticeType::Consultation,
                Some(Action::StartConsultation {
                    party: Party::ThirdParty,
                    whom: "某某建设有限公司".into(),
                    received_on: None,
                }),
                "15个工作日",
            ),
            (NoticeType::ObjectionOverride, None, "涉及周边居民环境权益"),
            (
                NoticeType::Fee,
                Some(Action::IssueFeeNotice {
                    basis: FeeBasis::PerPiece,
                    amount_fen: 10_000,
                    pages: None,
                    received_on: None,
                }),
                "100.00元",
            ),
            (
                NoticeType::DelayedReply,
                Some(Action::OverrideDeadline {
                    due_date: d("2026-05-29"),
                    reason: "申请数量众多。".into(),
                }),
                "第三十五条",
            ),
            (
                NoticeType::Reply,
                Some(granted),
                "六个月内向定西市安定区人民法院",
            ),
            (NoticeType::Closure, None, "视为放弃申请"),
        ];
        for (kind, action, says) in cases {
            let letter = compose(
                kind,
                d("2026-03-10"),
                &objection,
                &letterhead(),
                action.as_ref(),
                &BTreeMap::new(),
            );
            assert_eq!(letter.title, kind.title());
            assert!(
                letter.text().contains(says),
                "{}: {}",
                kind.code(),
                letter.text()
            );
            let found = lint(
                kind,
                &letter,
                &objection,
                &letterhead(),
                &[],
                action.as_ref(),
            );
            assert!(found.is_empty(), "{}: {found:?}", kind.code());
        }
    }

    #[test]
    fn each_finding_is_raised_where_the_letter_falls_short() {
        let f = facts();
        let no_reason = Action::Reply(ReplyInput {
            reason: None,
            ..match reply(Disposition::DeniedStateSecret, Some("第十四条")) {
                Action::Reply(r) => r,
                _ => unreachable!(),
            }
        });
        assert_eq!(
            lint_of(NoticeType::Reply, Some(&no_reason), &f, &[]),
            vec!["reason_missing"]
        );
        let no_provision = reply(Disposition::Granted, None);
        assert_eq!(
            lint_of(NoticeType::Reply, Some(&no_provision), &f, &[]),
            vec!["provision_missing"]
        );
        let not_held = Action::Reply(ReplyInput {
            legal_basis: Some("《条例》第三十六条第（五）项".into()),
            ..match reply(Disposition::UnavailableNotHeld, None) {
                Action::Reply(r) => r,
                _ => unreachable!(),
            }
        });
        assert_eq!(
            lint_of(NoticeType::Reply, Some(&not_held), &f, &[]),
            vec!["responsible_agency_missing"]
        );
        let secret = reply(Disposition::DeniedStateSecret, Some("第十四条"));
        assert_eq!(
            lint_of(NoticeType::Reply, Some(&secret), &f, &[("remedy", " ")]),
            vec!["remedy_clause_missing"]
        );
        assert_eq!(
            lint_of(
                NoticeType::Reply,
                Some(&secret),
                &f,
                &[
                    ("recipient", "申请人："),
                    ("opening", "本机关收到您的申请。")
                ]
            ),
            vec!["applicant_mismatch", "case_number_mismatch"]
        );
        let fee = Action::IssueFeeNotice {
            basis: FeeBasis::PerPiece,
            amount_fen: 10_000,
            pages: None,
            received_on: None,
        };
        assert_eq!(
            lint_of(
                NoticeType::Fee,
                Some(&fee),
                &f,
                &[("payment", "请于20个工作日内缴纳。")]
            ),
            vec!["consequence_missing"]
        );
        let correction = Action::RequestCorrection {
            items: vec!["写明文号".into()],
            reply_by: d("2026-03-20"),
        };
        assert_eq!(
            lint_of(
                NoticeType::Correction,
                Some(&correction),
                &f,
                &[("consequence", "请按期补正。")]
            ),
            vec!["consequence_missing"]
        );
        // A third party's letter does not name the applicant: no applicant_mismatch there.
        let consult = Action::StartConsultation {
            party: Party::OtherAgency,
            whom: "市财政局".into(),
            received_on: None,
        };
        assert!(lint_of(NoticeType::Consultation, Some(&consult), &f, &[]).is_empty());
        // Every code the check can raise is in the documented list.
        for code in [
            "reason_missing",
            "provision_missing",
            "remedy_clause_missing",
            "applicant_mismatch",
        ] {
            assert!(FINDINGS.iter().any(|(c, _, _)| *c == code), "{code}");
        }
    }
}
