//! How an application ends (办理结果): the 21 rows of report table 三, with what a reply must
//! record for each (domain.md §6).

/// A disposition code. The order is the order of the report rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Disposition {
    Granted,
    PartiallyGranted,
    DeniedStateSecret,
    DeniedProhibitedByLaw,
    DeniedSecurityStability,
    DeniedThirdPartyRights,
    DeniedInternalAffairs,
    DeniedProcessInformation,
    DeniedEnforcementFile,
    DeniedAdministrativeInquiry,
    UnavailableNotHeld,
    UnavailableNeedsCreation,
    UnavailableStillUnclear,
    NotProcessedPetition,
    NotProcessedRepeated,
    NotProcessedPublication,
    NotProcessedMassRepeated,
    NotProcessedConfirmation,
    OtherUncorrected,
    OtherUnpaid,
    OtherOther,
}

/// What a reply with this disposition must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirements {
    pub reason: bool,
    pub legal_basis: bool,
    pub provision: bool,
    /// Only after a correction round (`unavailable.still_unclear`).
    pub after_correction: bool,
    /// Set by an action of its own (`close_uncorrected`, `close_unpaid`), never by `reply`.
    pub by_own_action: bool,
}

impl Disposition {
    pub const ALL: [Disposition; 21] = [
        Disposition::Granted,
        Disposition::PartiallyGranted,
        Disposition::DeniedStateSecret,
        Disposition::DeniedProhibitedByLaw,
        Disposition::DeniedSecurityStability,
        Disposition::DeniedThirdPartyRights,
        Disposition::DeniedInternalAffairs,
        Disposition::DeniedProcessInformation,
        Disposition::DeniedEnforcementFile,
        Disposition::DeniedAdministrativeInquiry,
        Disposition::UnavailableNotHeld,
        Disposition::UnavailableNeedsCreation,
        Disposition::UnavailableStillUnclear,
        Disposition::NotProcessedPetition,
        Disposition::NotProcessedRepeated,
        Disposition::NotProcessedPublication,
        Disposition::NotProcessedMassRepeated,
        Disposition::NotProcessedConfirmation,
        Disposition::OtherUncorrected,
        Disposition::OtherUnpaid,
        Disposition::OtherOther,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Disposition::Granted => "granted",
            Disposition::PartiallyGranted => "partially_granted",
            Disposition::DeniedStateSecret => "denied.state_secret",
            Disposition::DeniedProhibitedByLaw => "denied.prohibited_by_law",
            Disposition::DeniedSecurityStability => "denied.security_stability",
            Disposition::DeniedThirdPartyRights => "denied.third_party_rights",
            Disposition::DeniedInternalAffairs => "denied.internal_affairs",
            Disposition::DeniedProcessInformation => "denied.process_information",
            Disposition::DeniedEnforcementFile => "denied.enforcement_file",
            Disposition::DeniedAdministrativeInquiry => "denied.administrative_inquiry",
            Disposition::UnavailableNotHeld => "unavailable.not_held",
            Disposition::UnavailableNeedsCreation => "unavailable.needs_creation",
            Disposition::UnavailableStillUnclear => "unavailable.still_unclear",
            Disposition::NotProcessedPetition => "not_processed.petition",
            Disposition::NotProcessedRepeated => "not_processed.repeated",
            Disposition::NotProcessedPublication => "not_processed.publication",
            Disposition::NotProcessedMassRepeated => "not_processed.mass_repeated",
            Disposition::NotProcessedConfirmation => "not_processed.confirmation",
            Disposition::OtherUncorrected => "other.uncorrected",
            Disposition::OtherUnpaid => "other.unpaid",
            Disposition::OtherOther => "other.other",
        }
    }

    pub fn parse(code: &str) -> Option<Disposition> {
        Disposition::ALL.into_iter().find(|d| d.code() == code)
    }

    /// The row label of the 2021 report format.
    pub fn label(self) -> &'static str {
        match self {
            Disposition::Granted => "（一）予以公开",
            Disposition::PartiallyGranted => {
                "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"
            }
            Disposition::DeniedStateSecret => "1.属于国家秘密",
            Disposition::DeniedProhibitedByLaw => "2.其他法律行政法规禁止公开",
            Disposition::DeniedSecurityStability => "3.危及“三安全一稳定”",
            Disposition::DeniedThirdPartyRights => "4.保护第三方合法权益",
            Disposition::DeniedInternalAffairs => "5.属于三类内部事务信息",
            Disposition::DeniedProcessInformation => "6.属于四类过程性信息",
            Disposition::DeniedEnforcementFile => "7.属于行政执法案卷",
            Disposition::DeniedAdministrativeInquiry => "8.属于行政查询事项",
            Disposition::UnavailableNotHeld => "1.本机关不掌握相关政府信息",
            Disposition::UnavailableNeedsCreation => "2.没有现成信息需要另行制作",
            Disposition::UnavailableStillUnclear => "3.补正后申请内容仍不明确",
            Disposition::NotProcessedPetition => "1.信访举报投诉类申请",
            Disposition::NotProcessedRepeated => "2.重复申请",
            Disposition::NotProcessedPublication => "3.要求提供公开出版物",
            Disposition::NotProcessedMassRepeated => "4.无正当理由大量反复申请",
            Disposition::NotProcessedConfirmation => "5.要求行政机关确认或重新出具已获取信息",
            Disposition::OtherUncorrected => {
                "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"
            }
            Disposition::OtherUnpaid => {
                "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"
            }
            Disposition::OtherOther => "3.其他",
        }
    }

    pub fn is_denial(self) -> bool {
        self.code().starts_with("denied.")
    }

    pub fn requirements(self) -> Requirements {
        let base = Requirements {
            reason: true,
            legal_basis: false,
            provision: false,
            after_correction: false,
            by_own_action: false,
        };
        match self {
            Disposition::Granted => Requirements {
                reason: false,
                provision: true,
                ..base
            },
            Disposition::PartiallyGranted => Requirements {
                provision: true,
                ..base
            },
            d if d.is_denial() => Requirements {
                legal_basis: true,
                ..base
            },
            Disposition::UnavailableStillUnclear => Requirements {
                after_correction: true,
                ..base
            },
            Disposition::OtherUncorrected | Disposition::OtherUnpaid => Requirements {
                by_own_action: true,
                ..base
            },
            _ => base,
        }
    }
}

impl serde::Serialize for Disposition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Disposition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Disposition::parse(&code).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "unknown disposition code `{code}` (domain.md §6)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_21_codes_that_round_trip_in_report_order() {
        assert_eq!(Disposition::ALL.len(), 21);
        for d in Disposition::ALL {
            assert_eq!(Disposition::parse(d.code()), Some(d));
        }
        let mut sorted = Disposition::ALL;
        sorted.sort();
        assert_eq!(sorted, Disposition::ALL);
        assert_eq!(Disposition::parse("denied"), None);
    }

    #[test]
    fn denials_need_a_reason_and_a_legal_basis_and_grants_a_provision() {
        let r = Disposition::DeniedStateSecret.requirements();
        assert!(r.reason && r.legal_basis);
        let r = Disposition::Granted.requirements();
        assert!(!r.reason && r.provision);
        assert!(
            Disposition::UnavailableStillUnclear
                .requirements()
                .after_correction
        );
        assert!(Disposition::OtherUnpaid.requirements().by_own_action);
        assert!(Disposition::NotProcessedPetition.requirements().reason);
    }
}
