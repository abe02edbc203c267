//! The letterhead of an agency's notices (issue 13 item 1): the names, contacts and the
//! document-number pattern a letter carries, and the remedy bodies its remedy clause names.
//!
//! Each field is set on an agency or inherited from the nearest agency above it that sets it:
//! a city's departments share the court of first instance and often the number pattern's
//! style, while each has its own name and seal. What a letter needs and no agency in the
//! chain sets is `missing`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::validation::{Errors, FieldError, optional_text};

/// The fields of a letterhead, in the order forms show them.
pub const FIELDS: [&str; 9] = [
    "official_name",
    "seal_name",
    "office_name",
    "address",
    "postcode",
    "telephone",
    "number_pattern",
    "review_body",
    "court",
];

/// What a letter cannot be issued without (the rest is printed when known).
pub const REQUIRED_FOR_LETTERS: [&str; 5] = [
    "official_name",
    "seal_name",
    "number_pattern",
    "review_body",
    "court",
];

/// A letterhead: every field optional (absent = inherited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Letterhead {
    /// 机关全称, as in the letter's heading.
    pub official_name: Option<String>,
    /// The name on the seal (落款), above the date.
    pub seal_name: Option<String>,
    /// 政府信息公开工作机构 (the disclosure office).
    pub office_name: Option<String>,
    pub address: Option<String>,
    /// 邮政编码, six digits.
    pub postcode: Option<String>,
    pub telephone: Option<String>,
    /// 发文字号 pattern, e.g. `定民依公开〔{year}〕{seq}号`.
    pub number_pattern: Option<String>,
    /// 行政复议机关: since 2024-01-01 as a rule the people's government at the same level;
    /// the agency one level up for vertically managed agencies (customs, tax, financial
    /// regulation, foreign exchange, state security); for a government, the one above it.
    pub review_body: Option<String>,
    /// The court of first instance (第一审人民法院).
    pub court: Option<String>,
}

impl Letterhead {
    pub fn get(&self, field: &str) -> Option<&str> {
        match field {
            "official_name" => self.official_name.as_deref(),
            "seal_name" => self.seal_name.as_deref(),
            "office_name" => self.office_name.as_deref(),
            "address" => self.address.as_deref(),
            "postcode" => self.postcode.as_deref(),
            "telephone" => self.telephone.as_deref(),
            "number_pattern" => self.number_pattern.as_deref(),
            "review_body" => self.review_body.as_deref(),
            "court" => self.court.as_deref(),
            _ => None,
        }
    }

    fn slot(&mut self, field: &str) -> Option<&mut Option<String>> {
        Some(match field {
            "official_name" => &mut self.official_name,
            "seal_name" => &mut self.seal_name,
            "office_name" => &mut self.office_name,
            "address" => &mut self.address,
            "postcode" => &mut self.postcode,
            "telephone" => &mut self.telephone,
            "number_pattern" => &mut self.number_pattern,
            "review_body" => &mut self.review_body,
            "court" => &mut self.court,
            _ => return None,
        })
    }

    /// Checks a letterhead as entered: texts trimmed and bounded (empty = inherit), a postcode
    /// of six digits, a telephone of digits and separators, a valid number pattern. Every
    /// problem at once.
    pub fn parse(input: &Letterhead) -> Result<Letterhead, Vec<FieldError>> {
        let mut e = Errors::new();
        let mut out = Letterhead::default();
        for field in FIELDS {
            let max = match field {
                "postcode" => 6,
                "telephone" => 40,
                "number_pattern" => 60,
                "address" => 200,
                _ => 100,
            };
            let v = e
                .take(optional_text(field, input.get(field), max, false))
                .flatten();
            if let Some(slot) = out.slot(field) {
                *slot = v;
            }
        }
        if let Some(p) = &out.postcode
            && !(p.len() == 6 && p.bytes().all(|b| b.is_ascii_digit()))
        {
            e.push(FieldError::new(
                "postcode",
                "invalid_format",
                crate::text!("邮政编码为6位数字", "a postcode is 6 digits"),
            ));
        }
        if let Some(t) = &out.telephone
            && !t.chars().all(|c| {
                c.is_ascii_digit() || matches!(c, '-' | '+' | ' ' | '(' | ')' | '（' | '）' | '转')
            })
        {
            e.push(FieldError::new(
                "telephone",
                "invalid_format",
                crate::text!(
                    "电话号码只能包含数字和 - + ( ) 转",
                    "a telephone number contains digits and - + ( ) 转 only"
                ),
            ));
        }
        if let Some(p) = &out.number_pattern
            && let Err(msg) = NumberPattern::parse(p)
        {
            e.push(FieldError::new(
                "number_pattern",
                "invalid_number_pattern",
                msg,
            ));
        }
        e.into_result().map(|()| out)
    }
}

/// A letterhead as a letter sees it: each field from the nearest agency that sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effective {
    pub fields: Letterhead,
    /// Field → the agency (id) it was inherited from, for fields not set on the agency itself.
    pub inherited_from: BTreeMap<&'static str, String>,
    /// Fields a letter needs that no agency in the chain sets.
    pub missing: Vec<&'static str>,
}

/// Resolves the letterhead of an agency from its chain: the agency's own first, then its
/// parent's, up to the root (`(agency id, letterhead)` in that order).
pub fn effective(chain: &[(String, Letterhead)]) -> Effective {
    let mut out = Effective::default();
    for field in FIELDS {
        let found = chain
            .iter()
            .enumerate()
            .find_map(|(i, (id, l))| l.get(field).map(|v| (i, id, v.to_string())));
        if let Some((i, id, v)) = found {
            if let Some(slot) = out.fields.slot(field) {
                *slot = Some(v);
            }
            if i > 0 {
                out.inherited_from.insert(field, id.clone());
            }
        } else if REQUIRED_FOR_LETTERS.contains(&field) {
            out.missing.push(field);
        }
    }
    out
}

/// A document-number pattern (发文字号): `{year}` inside 〔〕 and `{seq}` once each, as GB/T
/// 9704-2012 writes 机关代字〔年份〕序号号 (the year in 〔〕, the number without leading zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPattern(String);

impl NumberPattern {
    pub fn parse(p: &str) -> Result<NumberPattern, crate::domain::text::Text> {
        use crate::domain::text::Text;
        let count = |needle: &str| p.matches(needle).count();
        if count("{year}") != 1 || count("{seq}") != 1 {
            return Err(Text::new(
                "须各含一次 {year} 和 {seq}，例如 定民依公开〔{year}〕{seq}号",
                "{year} and {seq} exactly once each, e.g. 定民依公开〔{year}〕{seq}号",
            ));
        }
        if !p.contains("〔{year}〕") {
            return Err(Text::new(
                "年份须用六角括号〔〕括入：〔{year}〕（GB/T 9704-2012）",
                "the year goes inside 〔〕: 〔{year}〕 (GB/T 9704-2012)",
            ));
        }
        let rest = p.replace("{year}", "").replace("{seq}", "");
        if rest.contains('{') || rest.contains('}') {
            return Err(Text::new(
                "只能使用 {year} 和 {seq} 两个占位符",
                "only the placeholders {year} and {seq}",
            ));
        }
        if p.find("{seq}") < p.find("{year}") {
            return Err(Text::new(
                "序号须在年份之后",
                "the number comes after the year",
            ));
        }
        Ok(NumberPattern(p.to_string()))
    }

    /// The number of the `seq`-th document of `year` (no leading zeros).
    pub fn format(&self, year: i32, seq: u32) -> String {
        self.0
            .replace("{year}", &year.to_string())
            .replace("{seq}", &seq.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lh(pairs: &[(&str, &str)]) -> Letterhead {
        let mut l = Letterhead::default();
        for (f, v) in pairs {
            if let Some(slot) = l.slot(f) {
                *slot = Some((*v).to_string());
            }
        }
        l
    }

    #[test]
    fn a_number_pattern_puts_the_year_in_hexagonal_brackets_and_the_number_after_it() {
        let p = NumberPattern::parse("定民依公开〔{year}〕{seq}号").expect("valid");
        assert_eq!(
            p.format(2026, 7),
            "定民依公开〔2026〕7号",
            "no leading zeros"
        );
        for bad in [
            "定民依公开[{year}]{seq}号",
            "定民依公开〔{year}〕号",
            "定民依公开〔{year}〕{seq}{seq}号",
            "{seq}定民依公开〔{year}〕号",
            "定民依公开〔{year}〕{seq}号{x}",
        ] {
            assert!(NumberPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_letterhead_is_checked_field_by_field_and_every_problem_listed() {
        let bad = lh(&[
            ("postcode", "74300"),
            ("telephone", "0932-8212345 ext"),
            ("number_pattern", "定民依公开({year}){seq}号"),
            ("official_name", "  定西市民政局  "),
        ]);
        let errs = Letterhead::parse(&bad).expect_err("three problems");
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["postcode", "telephone", "number_pattern"]);
        let good = lh(&[
            ("official_name", "  定西市民政局  "),
            ("postcode", "743000"),
            ("telephone", "0932-8212345"),
            ("seal_name", ""),
        ]);
        let l = Letterhead::parse(&good).expect("valid");
        assert_eq!(l.official_name.as_deref(), Some("定西市民政局"), "trimmed");
        assert_eq!(l.seal_name, None, "empty means inherited");
    }

    #[test]
    fn each_field_comes_from_the_nearest_agency_that_sets_it() {
        let chain = vec![
            (
                "dept".to_string(),
                lh(&[
                    ("official_name", "定西市民政局"),
                    ("seal_name", "定西市民政局"),
                ]),
            ),
            (
                "city".to_string(),
                lh(&[
                    ("official_name", "定西市人民政府"),
                    ("review_body", "甘肃省人民政府"),
                    ("court", "定西市安定区人民法院"),
                ]),
            ),
            (
                "province".to_string(),
                lh(&[
                    ("number_pattern", "甘依公开〔{year}〕{seq}号"),
                    ("court", "兰州市中级人民法院"),
                ]),
            ),
        ];
        let e = effective(&chain);
        assert_eq!(e.fields.official_name.as_deref(), Some("定西市民政局"));
        assert_eq!(
            e.fields.court.as_deref(),
            Some("定西市安定区人民法院"),
            "the nearest wins"
        );
        assert_eq!(
            e.inherited_from.get("court").map(String::as_str),
            Some("city")
        );
        assert_eq!(
            e.inherited_from.get("number_pattern").map(String::as_str),
            Some("province")
        );
        assert!(!e.inherited_from.contains_key("official_name"));
        assert!(e.missing.is_empty(), "{:?}", e.missing);
        let alone = effective(&chain[..1]);
        assert_eq!(
            alone.missing,
            vec!["number_pattern", "review_body", "court"]
        );
    }
}
