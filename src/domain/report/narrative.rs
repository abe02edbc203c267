//! The narrative of the yearly report (domain.md §9): the six sections' text, whether it is
//! complete enough to publish, whether the figures it states agree with the tables, and a
//! generated draft of the sentences that state them.
//!
//! The agreement check is deliberately conservative. A section's text is cut into clauses at
//! Chinese sentence punctuation; inside a clause, a *keyword* (新收/收到, 上年结转, 结转下年度,
//! 办结/办理, 予以公开, 部分公开, 不予公开, 行政复议, 行政诉讼, 收费通知, 收费金额, 信息处理费)
//! owns the first figure with a unit (件 … or 元) that follows it, unless another keyword or a
//! *breakdown word* (其中, 结果, 维持, 尚未审结, 较上年 …) comes first — then the figure is about
//! something else and nothing is read. A clause without any figure that says 未/没有/无 states
//! zero for each keyword in it ("本年度未收取信息处理费"). Only a recognised statement whose
//! number differs from the table fails; anything else is left to the reader.

use serde::{Deserialize, Serialize};

use super::{Check, SECTIONS, Severity};

/// The six sections (a missing one reads as empty). Sections 二, 三 and 四 are tables; their
/// text is the paragraph printed before each table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Narrative {
    /// 一、总体情况
    pub overview: String,
    /// 二、主动公开政府信息情况 (the paragraph before table 二)
    pub proactive_text: String,
    /// 三、收到和处理政府信息公开申请情况 (the paragraph before table 三)
    pub applications_text: String,
    /// 四、政府信息公开行政复议、行政诉讼情况 (the paragraph before table 四)
    pub remedies_text: String,
    /// 五、存在的主要问题及改进情况
    pub problems_and_improvements: String,
    /// 六、其他需要报告的事项 (including the fee facts)
    pub other_matters: String,
}

/// The fields of [`Narrative`], in section order (一 … 六).
pub const FIELDS: [&str; 6] = [
    "overview",
    "proactive_text",
    "applications_text",
    "remedies_text",
    "problems_and_improvements",
    "other_matters",
];

/// What a generated skeleton leaves for the office to write; a section that still holds it
/// is not complete.
pub const PLACEHOLDER: &str = "【待填写】";

impl Narrative {
    /// The text of each section, in order 一 … 六.
    pub fn sections(&self) -> [&str; 6] {
        [
            &self.overview,
            &self.proactive_text,
            &self.applications_text,
            &self.remedies_text,
            &self.problems_and_improvements,
            &self.other_matters,
        ]
    }

    /// The section's text by field name.
    pub fn field_mut(&mut self, field: &str) -> Option<&mut String> {
        Some(match field {
            "overview" => &mut self.overview,
            "proactive_text" => &mut self.proactive_text,
            "applications_text" => &mut self.applications_text,
            "remedies_text" => &mut self.remedies_text,
            "problems_and_improvements" => &mut self.problems_and_improvements,
            "other_matters" => &mut self.other_matters,
            _ => return None,
        })
    }
}

/// The figures of the tables that the narrative states (fees in fen).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Table 三 `new`.`total`
    pub new: i64,
    /// Table 三 `carried_in`.`total`
    pub carried_in: i64,
    /// Table 三 `total`.`total`
    pub total: i64,
    /// Table 三 `carried_out`.`total`
    pub carried_out: i64,
    /// Table 三 `granted`.`total`
    pub granted: i64,
    /// Table 三 `partially_granted`.`total`
    pub partly_granted: i64,
    /// Table 三: the sum of the `denied.*` rows' totals
    pub denied: i64,
    /// Table 三: the sum of the `unavailable.*` rows' totals
    pub unavailable: i64,
    /// Table 三: the sum of the `not_processed.*` rows' totals
    pub not_processed: i64,
    /// Table 三: the sum of the `other*` rows' totals
    pub other: i64,
    /// Table 四 `review`.`total`
    pub reviews: i64,
    /// Table 四 `litigation_direct`.`total` + `litigation_after_review`.`total`
    pub lawsuits: i64,
    /// Table 四 `litigation_direct`.`total`
    pub lawsuits_direct: i64,
    /// Table 四 `litigation_after_review`.`total`
    pub lawsuits_after_review: i64,
    /// Fee notices issued in the year
    pub fee_notices: i64,
    /// The amount those notices charged, in fen
    pub fees_charged_fen: i64,
    /// The amount paid in the year, in fen
    pub fees_collected_fen: i64,
}

impl Figures {
    fn has_fees(&self) -> bool {
        self.fee_notices > 0 || self.fees_charged_fen > 0 || self.fees_collected_fen > 0
    }
}

/// A figure the narrative can state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    New,
    CarriedIn,
    CarriedOut,
    Total,
    Granted,
    PartlyGranted,
    Denied,
    Reviews,
    Lawsuits,
    FeeNotices,
    FeesCharged,
    FeesCollected,
}

impl Key {
    /// The check's code, the figure's name in Chinese, and its place in the tables.
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Key::New => (
                "narrative.applications.new",
                "表三“本年新收政府信息公开申请数量”",
            ),
            Key::CarriedIn => (
                "narrative.applications.carried_in",
                "表三“上年结转政府信息公开申请数量”",
            ),
            Key::CarriedOut => (
                "narrative.applications.carried_out",
                "表三“结转下年度继续办理”",
            ),
            Key::Total => ("narrative.applications.total", "表三“总计”"),
            Key::Granted => ("narrative.applications.granted", "表三“予以公开”"),
            Key::PartlyGranted => ("narrative.applications.partially_granted", "表三“部分公开”"),
            Key::Denied => ("narrative.applications.denied", "表三“不予公开”各项之和"),
            Key::Reviews => ("narrative.remedies.review", "表四“行政复议 总计”"),
            Key::Lawsuits => ("narrative.remedies.litigation", "表四“行政诉讼 总计”之和"),
            Key::FeeNotices => ("narrative.fees.notices", "本年度发出的收费通知件数"),
            Key::FeesCharged => ("narrative.fees.charged", "收费通知的收费金额"),
            Key::FeesCollected => ("narrative.fees.collected", "实际收取的信息处理费"),
        }
    }

    fn money(self) -> bool {
        matches!(self, Key::FeesCharged | Key::FeesCollected)
    }

    /// The table's figure (fen for money).
    fn actual(self, f: &Figures) -> i64 {
        match self {
            Key::New => f.new,
            Key::CarriedIn => f.carried_in,
            Key::CarriedOut => f.carried_out,
            Key::Total => f.total,
            Key::Granted => f.granted,
            Key::PartlyGranted => f.partly_granted,
            Key::Denied => f.denied,
            Key::Reviews => f.reviews,
            Key::Lawsuits => f.lawsuits,
            Key::FeeNotices => f.fee_notices,
            Key::FeesCharged => f.fees_charged_fen,
            Key::FeesCollected => f.fees_collected_fen,
        }
    }
}

/// A word the scanner knows: a keyword owning the figure after it, a breakdown word that
/// takes the figure away from the keyword before it, or a phrase read past.
#[derive(Debug, Clone, Copy)]
enum Word {
    Key(Key),
    Breakdown,
    Skip,
}

/// The words of one section, longest first where one contains another.
fn words(section: usize) -> &'static [(&'static str, Word)] {
    use Key::{
        CarriedIn, CarriedOut, Denied, FeeNotices, FeesCharged, FeesCollected, Granted, Lawsuits,
        New, PartlyGranted, Reviews, Total,
    };
    use Word::{Breakdown, Skip};
    const APPLICATIONS: &[(&str, Word)] = &[
        ("上年结转", Word::Key(CarriedIn)),
        ("结转下一年度", Word::Key(CarriedOut)),
        ("结转至下一年度", Word::Key(CarriedOut)),
        ("结转到下一年度", Word::Key(CarriedOut)),
        ("结转下年度", Word::Key(CarriedOut)),
        ("结转至下年度", Word::Key(CarriedOut)),
        ("结转至下一年", Word::Key(CarriedOut)),
        ("结转到下一年", Word::Key(CarriedOut)),
        ("结转下一年", Word::Key(CarriedOut)),
        ("继续办理", Skip),
        ("新收", Word::Key(New)),
        ("收到", Word::Key(New)),
        ("办结", Word::Key(Total)),
        ("办理", Word::Key(Total)),
        ("不予以公开", Word::Key(Denied)),
        ("不予公开", Word::Key(Denied)),
        ("予以公开", Word::Key(Granted)),
        ("部分公开", Word::Key(PartlyGranted)),
        ("其中", Breakdown),
        ("结果", Breakdown),
        ("无法提供", Breakdown),
        ("不予处理", Breakdown),
        ("其他处理", Breakdown),
        ("自然人", Breakdown),
        ("法人", Breakdown),
        ("企业", Breakdown),
        ("机构", Breakdown),
        ("组织", Breakdown),
        ("含", Breakdown),
        ("较上年", Breakdown),
        ("同比", Breakdown),
        ("增加", Breakdown),
        ("减少", Breakdown),
        ("网上", Breakdown),
        ("当面", Breakdown),
        ("信函", Breakdown),
        ("传真", Breakdown),
        ("逾期", Breakdown),
        ("行政复议", Breakdown),
        ("行政诉讼", Breakdown),
        ("无正当理由", Breakdown),
    ];
    const REMEDIES: &[(&str, Word)] = &[
        ("行政复议", Word::Key(Reviews)),
        ("行政诉讼", Word::Key(Lawsuits)),
        ("其中", Breakdown),
        ("结果", Breakdown),
        ("维持", Breakdown),
        ("纠正", Breakdown),
        ("尚未审结", Breakdown),
        ("审结", Breakdown),
        ("其他", Breakdown),
        ("直接起诉", Breakdown),
        ("复议后起诉", Breakdown),
        ("较上年", Breakdown),
        ("同比", Breakdown),
        ("增加", Breakdown),
        ("减少", Breakdown),
        ("确认无效", Breakdown),
    ];
    const FEES: &[(&str, Word)] = &[
        ("收费通知", Word::Key(FeeNotices)),
        ("收费金额", Word::Key(FeesCharged)),
        ("信息处理费", Word::Key(FeesCollected)),
        ("其中", Breakdown),
        ("较上年", Breakdown),
        ("同比", Breakdown),
        ("行政事业性收费", Breakdown),
    ];
    match section {
        2 => APPLICATIONS,
        3 => REMEDIES,
        5 => FEES,
        _ => &[],
    }
}

/// A figure the narrative states: the clause, the key, and the number (fen for money).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    section: usize,
    clause: String,
    key: Key,
    stated: i64,
}

fn is_clause_end(c: char) -> bool {
    matches!(
        c,
        '，' | '。' | '；' | '！' | '？' | '：' | ';' | '!' | '?' | ':' | '\n' | '\r'
    )
}

/// The clauses of a text. Text copied off web pages often has ASCII commas for Chinese ones;
/// a comma between two digits is a thousands separator (1,200元) and stays.
fn clauses(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = vec![String::new()];
    for (i, &c) in chars.iter().enumerate() {
        let digit_around = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(char::is_ascii_digit)
        };
        let ascii_comma_between_words =
            c == ',' && !(digit_around(i.checked_sub(1)) && digit_around(Some(i + 1)));
        if is_clause_end(c) || ascii_comma_between_words {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

fn negates(text: &str) -> bool {
    text.contains('未') || text.contains("没有") || text.contains('无')
}

/// Reads what each clause of a section states.
fn statements(section: usize, text: &str) -> Vec<Statement> {
    let table = words(section);
    if table.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for clause in clauses(text) {
        let chars: Vec<char> = clause.chars().collect();
        // The clause as tokens: known words and figures with a unit, in order.
        enum Tok {
            Word(Word),
            Figure(i64, Unit),
        }
        let mut toks: Vec<Tok> = Vec::new();
        // The clause's text before its first keyword, outside known words: a negation there
        // (未收到…, 没有结转…) is about the keywords; one after them (收到的申请均未超期) is not.
        let mut before_key = String::new();
        let mut i = 0;
        'scan: while i < chars.len() {
            for (w, kind) in table {
                let wc: Vec<char> = w.chars().collect();
                if chars[i..].starts_with(&wc) {
                    toks.push(Tok::Word(*kind));
                    i += wc.len();
                    continue 'scan;
                }
            }
            if let Some((n, unit, used)) = figure_at(&chars[i..]) {
                toks.push(Tok::Figure(n, unit));
                i += used;
                continue;
            }
            if !toks.iter().any(|t| matches!(t, Tok::Word(Word::Key(_)))) {
                before_key.push(chars[i]);
            }
            i += 1;
        }
        let has_figure = toks.iter().any(|t| matches!(t, Tok::Figure(..)));
        let has_breakdown = toks.iter().any(|t| matches!(t, Tok::Word(Word::Breakdown)));
        let clause_text = clause.trim().to_string();
        if !has_figure {
            if !has_breakdown && negates(&before_key) {
                for t in &toks {
                    if let Tok::Word(Word::Key(key)) = t {
                        out.push(Statement {
                            section,
                            clause: clause_text.clone(),
                            key: *key,
                            stated: 0,
                        });
                    }
                }
            }
            continue;
        }
        // The keyword owning the next figure; two different ones before it (新收和上年结转的申请
        // 共N件) make the figure a sum of both, which is not read.
        let mut owner: Option<Key> = None;
        let mut ambiguous = false;
        for t in &toks {
            match t {
                Tok::Word(Word::Key(k)) => {
                    ambiguous |= owner.is_some_and(|o| o != *k);
                    owner = Some(*k);
                }
                Tok::Word(Word::Breakdown) => {
                    owner = None;
                    ambiguous = false;
                }
                Tok::Word(Word::Skip) => {}
                Tok::Figure(n, unit) => {
                    let owned = owner.take().filter(|_| !ambiguous);
                    ambiguous = false;
                    if let Some(key) = owned {
                        let fits = match unit {
                            Unit::Count => !key.money(),
                            Unit::Yuan | Unit::WanYuan => key.money(),
                        };
                        if fits {
                            let stated = match unit {
                                Unit::Count => *n / 100,
                                Unit::Yuan => *n,
                                Unit::WanYuan => n.saturating_mul(10_000),
                            };
                            out.push(Statement {
                                section,
                                clause: clause_text.clone(),
                                key,
                                stated,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// 件, 起, 宗
    Count,
    /// 元
    Yuan,
    /// 万元
    WanYuan,
}

fn digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

fn chinese_digit(c: char) -> Option<i64> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn chinese_unit(c: char) -> Option<i64> {
    Some(match c {
        '十' => 10,
        '百' => 100,
        '千' => 1000,
        '万' => 10_000,
        '亿' => 100_000_000,
        _ => return None,
    })
}

/// A number written in Chinese numerals (二百八十一, 十五, 一万零三, 零; or digit by digit,
/// 二八一).
pub fn chinese_number(s: &str) -> Option<i64> {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return None;
    }
    if chars.iter().all(|c| chinese_digit(*c).is_some()) {
        // Digit by digit (or a single digit).
        let mut n: i64 = 0;
        for c in &chars {
            n = n.checked_mul(10)?.checked_add(chinese_digit(*c)?)?;
        }
        return Some(n);
    }
    let (mut total, mut section, mut pending): (i64, i64, Option<i64>) = (0, 0, None);
    for c in chars {
        if let Some(d) = chinese_digit(c) {
            pending = Some(d);
        } else if let Some(u) = chinese_unit(c) {
            match u {
                10_000 | 100_000_000 => {
                    section = section.checked_add(pending.take().unwrap_or(0))?;
                    total = total.checked_add(section)?.checked_mul(u)?;
                    section = 0;
                }
                _ => {
                    // 十五: a unit with no digit before it means one of it.
                    section = section.checked_add(pending.take().unwrap_or(1).checked_mul(u)?)?;
                }
            }
        } else {
            return None;
        }
    }
    total
        .checked_add(section)?
        .checked_add(pending.unwrap_or(0))
}

/// A figure with its unit at the start of `chars`: the value (counts × 100 so that a count
/// with decimals is refused later; money in fen), the unit, and the characters used.
fn figure_at(chars: &[char]) -> Option<(i64, Unit, usize)> {
    let mut i = 0;
    // Arabic digits, half or full width, with thousands separators and up to two decimals.
    let mut int = String::new();
    let mut frac = String::new();
    if chars.first().and_then(|c| digit(*c)).is_some() {
        let mut in_frac = false;
        while i < chars.len() {
            let c = chars[i];
            if let Some(d) = digit(c) {
                if in_frac {
                    frac.push(char::from_digit(d, 10)?);
                } else {
                    int.push(char::from_digit(d, 10)?);
                }
                i += 1;
            } else if c == ','
                && !in_frac
                && chars[i + 1..]
                    .iter()
                    .take_while(|c| digit(**c).is_some())
                    .count()
                    == 3
            {
                i += 1;
            } else if (c == '.' || c == '．')
                && !in_frac
                && chars.get(i + 1).and_then(|c| digit(*c)).is_some()
            {
                in_frac = true;
                i += 1;
            } else {
                break;
            }
        }
    } else {
        while i < chars.len()
            && (chinese_digit(chars[i]).is_some() || chinese_unit(chars[i]).is_some())
        {
            i += 1;
        }
        // A lone 万/亿/十… is not a number; 万元 after digits is a unit (below).
        let s: String = chars[..i].iter().collect();
        if s.is_empty() || !s.chars().any(|c| chinese_digit(c).is_some() || c == '十') {
            return None;
        }
        // "三万元": the 万 belongs to the unit when 元 follows.
        let (num, back) =
            if s.ends_with('万') && chars.get(i) == Some(&'元') && s.chars().count() > 1 {
                (s.trim_end_matches('万').to_string(), 1)
            } else {
                (s, 0)
            };
        int = chinese_number(&num)?.to_string();
        i -= back;
    }
    if int.is_empty() || frac.len() > 2 || int.len() > 15 {
        return None;
    }
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    let whole: i64 = int.parse().ok()?;
    let cents: i64 = format!("{frac:0<2}").parse().ok()?;
    let scaled = whole.checked_mul(100)?.checked_add(cents)?;
    match chars.get(i) {
        Some('件' | '起' | '宗') if frac.is_empty() => Some((scaled, Unit::Count, i + 1)),
        Some('元') => Some((scaled, Unit::Yuan, i + 1)),
        Some('万') if chars.get(i + 1) == Some(&'元') => Some((scaled, Unit::WanYuan, i + 2)),
        _ => None,
    }
}

fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    if a % 100 == 0 {
        format!("{sign}{}", a / 100)
    } else {
        format!("{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// The checks of what the narrative states against the tables: one per recognised statement,
/// failing where the number differs.
pub fn agreement_checks(n: &Narrative, f: &Figures) -> Vec<Check> {
    let mut out = Vec::new();
    for (section, text) in n.sections().into_iter().enumerate() {
        for s in statements(section, text) {
            let (code, place) = s.key.describe();
            let actual = s.key.actual(f);
            let (said, table) = if s.key.money() {
                (
                    format!("{}元", yuan(s.stated)),
                    format!("{}元", yuan(actual)),
                )
            } else {
                (format!("{}件", s.stated), format!("{actual}件"))
            };
            let heading = SECTIONS[s.section];
            out.push(Check {
                code: code.to_string(),
                holds: s.stated == actual,
                severity: Severity::Error,
                detail: if s.stated == actual {
                    format!("{heading}：“{}”与{place}一致（{table}）", s.clause)
                } else {
                    format!("{heading}：“{}”称{said}，{place}为{table}", s.clause)
                },
            });
        }
    }
    out
}

/// The sections that keep the report from being published, as `(field, why)` with the
/// section's heading: empty after trimming, still holding the skeleton's [`PLACEHOLDER`], "无"
/// where the format asks for content, or (六) silent on fees that were charged.
///
/// "无" is accepted for 三 and 四 when their table is all zero, and for 六 when the year had
/// no fee notices and collected nothing; 一, 二 and 五 always need text.
pub fn incomplete_sections(n: &Narrative, f: &Figures) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, text) in n.sections().into_iter().enumerate() {
        let t = text.trim();
        let nil = matches!(t, "无" | "无。" | "（无）" | "(无)");
        let heading = SECTIONS[i];
        let nil_allowed = match i {
            2 => f.new == 0 && f.carried_in == 0 && f.total == 0 && f.carried_out == 0,
            3 => f.reviews == 0 && f.lawsuits == 0,
            5 => !f.has_fees(),
            _ => false,
        };
        if t.is_empty() {
            out.push((i, format!("{heading}（未填写）")));
        } else if t.contains(PLACEHOLDER) {
            out.push((i, format!("{heading}（仍有“{PLACEHOLDER}”）")));
        } else if nil && !nil_allowed {
            out.push((i, format!("{heading}（本部分不能只写“无”）")));
        } else if i == 5
            && f.has_fees()
            && !statements(5, text)
                .iter()
                .any(|s| s.key == Key::FeesCollected)
        {
            out.push((
                i,
                format!("{heading}（本年度有收费通知，须写明信息处理费的收取情况）"),
            ));
        }
    }
    out
}

/// A generated draft from the report's own figures: the sentences of 二, 三, 四 and 六 that
/// the agreement check reads, and skeletons for 一 and 五 holding [`PLACEHOLDER`].
/// `proactive` is table 二 as (row label, [(column label, value)]).
pub fn draft(year: i32, f: &Figures, proactive: &[(String, Vec<(String, String)>)]) -> Narrative {
    let proactive_text = {
        let parts: Vec<String> = proactive
            .iter()
            .map(|(label, cols)| {
                let cols: Vec<String> = cols.iter().map(|(l, v)| format!("{l}{v}")).collect();
                format!("{label}：{}", cols.join("，"))
            })
            .collect();
        format!(
            "{year}年，本机关主动公开政府信息情况如下。{}。",
            parts.join("；")
        )
    };
    let applications_text = format!(
        "{year}年，本机关新收政府信息公开申请{}件，上年结转{}件。本年度办结{}件，其中予以公开{}件，部分公开{}件，不予公开{}件，无法提供{}件，不予处理{}件，其他处理{}件；结转下年度继续办理{}件。",
        f.new,
        f.carried_in,
        f.total,
        f.granted,
        f.partly_granted,
        f.denied,
        f.unavailable,
        f.not_processed,
        f.other,
        f.carried_out
    );
    let remedies_text = format!(
        "{year}年，本机关因政府信息公开被申请行政复议{}件，被提起行政诉讼{}件（其中未经复议直接起诉{}件，复议后起诉{}件）。",
        f.reviews, f.lawsuits, f.lawsuits_direct, f.lawsuits_after_review
    );
    let other_matters = if f.has_fees() {
        format!(
            "{year}年，本机关发出收费通知{}件，收费金额{}元，实际收取信息处理费{}元。",
            f.fee_notices,
            yuan(f.fees_charged_fen),
            yuan(f.fees_collected_fen)
        )
    } else {
        format!("{year}年，本机关未发出收费通知，未收取信息处理费。")
    };
    Narrative {
        overview: format!(
            "{PLACEHOLDER}{year}年，本机关政府信息公开工作总体情况（主动公开、依申请公开、政府信息管理、平台建设、监督保障）。"
        ),
        proactive_text,
        applications_text,
        remedies_text,
        problems_and_improvements: format!("{PLACEHOLDER}存在的主要问题及改进情况。"),
        other_matters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Figures {
        Figures {
            new: 281,
            carried_in: 5,
            total: 280,
            carried_out: 6,
            granted: 120,
            partly_granted: 30,
            denied: 10,
            unavailable: 100,
            not_processed: 15,
            other: 5,
            reviews: 3,
            lawsuits: 2,
            lawsuits_direct: 1,
            lawsuits_after_review: 1,
            fee_notices: 0,
            fees_charged_fen: 0,
            fees_collected_fen: 0,
        }
    }

    fn with(section: usize, text: &str) -> Narrative {
        let mut n = Narrative::default();
        if let Some(t) = n.field_mut(FIELDS[section]) {
            *t = text.to_string();
        }
        n
    }

    fn failed(n: &Narrative, f: &Figures) -> Vec<String> {
        agreement_checks(n, f)
            .into_iter()
            .filter(|c| !c.holds)
            .map(|c| c.code)
            .collect()
    }

    fn read(section: usize, text: &str) -> Vec<(Key, i64)> {
        statements(section, text)
            .into_iter()
            .map(|s| (s.key, s.stated))
            .collect()
    }

    #[test]
    fn chinese_numerals_read_as_numbers() {
        assert_eq!(chinese_number("二百八十一"), Some(281));
        assert_eq!(chinese_number("十五"), Some(15));
        assert_eq!(chinese_number("一百零五"), Some(105));
        assert_eq!(chinese_number("两千零一十"), Some(2010));
        assert_eq!(chinese_number("一万二千"), Some(12_000));
        assert_eq!(chinese_number("零"), Some(0));
        assert_eq!(chinese_number("二八一"), Some(281));
        assert_eq!(chinese_number("件"), None);
    }

    #[test]
    fn a_new_figure_that_differs_from_table_3_fails_and_names_both_numbers() {
        let n = with(
            2,
            "2021年，本机关共收到政府信息公开申请286件，上年结转5件。",
        );
        let checks = agreement_checks(&n, &figures());
        let new = checks
            .iter()
            .find(|c| c.code == "narrative.applications.new")
            .cloned();
        let new = new.unwrap_or_else(|| panic!("no check in {checks:?}"));
        assert!(!new.holds);
        assert!(new.detail.contains("286件"), "{}", new.detail);
        assert!(new.detail.contains("281件"), "{}", new.detail);
        assert!(new.detail.contains("三、收到和处理政府信息公开申请情况"));
        assert!(
            checks
                .iter()
                .any(|c| c.code == "narrative.applications.carried_in" && c.holds)
        );
        assert!(checks.iter().all(|c| c.severity == Severity::Error));
    }

    #[test]
    fn every_application_figure_is_read_in_arabic_full_width_and_chinese_numerals() {
        let text = "本年度新收申请二百八十一件，上年结转５件；办结280件，其中予以公开120件、部分公开三十件、不予公开10件、无法提供100件；结转下年度继续办理6件。";
        assert_eq!(
            read(2, text),
            vec![
                (Key::New, 281),
                (Key::CarriedIn, 5),
                (Key::Total, 280),
                (Key::Granted, 120),
                (Key::PartlyGranted, 30),
                (Key::Denied, 10),
                (Key::CarriedOut, 6),
            ]
        );
        assert!(failed(&with(2, text), &figures()).is_empty());
        let wrong = text.replace("不予公开10件", "不予公开11件");
        assert_eq!(
            failed(&with(2, &wrong), &figures()),
            vec!["narrative.applications.denied"]
        );
    }

    #[test]
    fn breakdowns_and_other_figures_are_not_read_as_the_totals() {
        // The number after a breakdown word is about something else.
        assert_eq!(read(2, "收到申请中自然人申请200件"), vec![]);
        assert_eq!(read(2, "收到申请较上年增加5件"), vec![]);
        assert_eq!(
            read(2, "办理结果中予以公开120件"),
            vec![(Key::Granted, 120)]
        );
        assert_eq!(read(2, "2021年收到"), vec![]);
        assert_eq!(read(2, "在20个工作日内办结"), vec![]);
        // A figure after two different keywords is their sum: not read.
        assert_eq!(read(2, "新收和上年结转的申请共286件"), vec![]);
        assert_eq!(read(5, "信息处理费收费通知3件"), vec![]);
        // A negation after the keyword is about something else.
        assert_eq!(read(2, "收到的申请均未超期办结"), vec![]);
        assert_eq!(
            read(3, "行政复议3件，其中结果维持2件，尚未审结1件"),
            vec![(Key::Reviews, 3)]
        );
        assert_eq!(read(3, "行政复议尚未审结1件"), vec![]);
        // Sections without checked figures are not read.
        assert_eq!(read(0, "共收到群众来信50件"), vec![]);
    }

    #[test]
    fn a_clause_that_says_none_states_zero() {
        assert_eq!(read(2, "本年度未收到政府信息公开申请"), vec![(Key::New, 0)]);
        assert_eq!(
            read(3, "本年度没有发生政府信息公开行政复议和行政诉讼案件"),
            vec![(Key::Reviews, 0), (Key::Lawsuits, 0)]
        );
        assert_eq!(
            read(5, "本年度未收取信息处理费。"),
            vec![(Key::FeesCollected, 0)]
        );
        assert_eq!(read(3, "行政复议零件"), vec![(Key::Reviews, 0)]);
        // A breakdown word keeps the negation from being read.
        assert_eq!(read(2, "无法提供的申请已告知"), vec![]);
        let f = figures();
        assert_eq!(
            failed(&with(3, "本年度未发生行政复议、行政诉讼。"), &f),
            vec!["narrative.remedies.review", "narrative.remedies.litigation"]
        );
    }

    #[test]
    fn a_real_report_copied_off_its_web_page_reads_with_ascii_commas() {
        // domain.md §11: the 定西市民政局 2021 report, an agency without applications or cases.
        let remedies = "未发生涉及政府信息公开行政复议案件,未发生涉及政府信息公开行政诉讼案件。";
        assert_eq!(
            read(3, remedies),
            vec![(Key::Reviews, 0), (Key::Lawsuits, 0)]
        );
        let n = Narrative {
            overview: "2021年,在市委市政府的领导下,定西市民政局认真贯彻《中华人民共和国政府信息公开条例》精神。".into(),
            proactive_text: "2021年,主动公开政府信息情况见下表。".into(),
            applications_text: "2021年,本局新收政府信息公开申请0件,上年结转0件,结转下年度继续办理0件。".into(),
            remedies_text: remedies.into(),
            problems_and_improvements: "仍然存在信息公开不够及时、少数信息公开意识不强等问题。".into(),
            other_matters: "(无)".into(),
        };
        let zero = Figures::default();
        let checks = agreement_checks(&n, &zero);
        assert_eq!(checks.len(), 5, "{checks:?}");
        assert!(checks.iter().all(|c| c.holds));
        assert!(incomplete_sections(&n, &zero).is_empty());
        // A thousands separator is not a clause end.
        assert_eq!(read(2, "收到申请1,024件"), vec![(Key::New, 1024)]);
        assert_eq!(
            read(2, "收到申请5件,上年结转2件"),
            vec![(Key::New, 5), (Key::CarriedIn, 2)]
        );
    }

    #[test]
    fn fees_are_read_in_yuan_and_compared_in_fen() {
        let f = Figures {
            fee_notices: 2,
            fees_charged_fen: 120_050,
            fees_collected_fen: 100_000,
            ..figures()
        };
        let n = with(
            5,
            "本年度发出收费通知2件，收费金额1,200.50元，实际收取信息处理费1000元。",
        );
        assert!(failed(&n, &f).is_empty(), "{:?}", agreement_checks(&n, &f));
        assert_eq!(agreement_checks(&n, &f).len(), 3);
        let n = with(5, "本年度未收取信息处理费。");
        assert_eq!(failed(&n, &f), vec!["narrative.fees.collected"]);
        assert!(failed(&n, &figures()).is_empty());
        assert_eq!(
            read(5, "收取信息处理费0.1万元"),
            vec![(Key::FeesCollected, 100_000)]
        );
    }

    #[test]
    fn the_draft_passes_every_check_and_says_no_fees_explicitly() {
        for f in [
            figures(),
            Figures::default(),
            Figures {
                fee_notices: 1,
                fees_charged_fen: 5_000,
                fees_collected_fen: 5_050,
                ..figures()
            },
        ] {
            let d = draft(
                2025,
                &f,
                &[("规章".into(), vec![("本年制发件数".into(), "3".into())])],
            );
            let checks = agreement_checks(&d, &f);
            assert!(checks.iter().all(|c| c.holds), "{checks:?}");
            // Every figure of 三 and 四 and the fee facts are stated.
            let codes: std::collections::BTreeSet<&str> =
                checks.iter().map(|c| c.code.as_str()).collect();
            for code in [
                "narrative.applications.new",
                "narrative.applications.carried_in",
                "narrative.applications.total",
                "narrative.applications.granted",
                "narrative.applications.partially_granted",
                "narrative.applications.denied",
                "narrative.applications.carried_out",
                "narrative.remedies.review",
                "narrative.remedies.litigation",
                "narrative.fees.collected",
            ] {
                assert!(codes.contains(code), "{code} missing for {f:?}");
            }
            // The skeletons of 一 and 五 must still be written.
            let open: Vec<usize> = incomplete_sections(&d, &f)
                .into_iter()
                .map(|(i, _)| i)
                .collect();
            assert_eq!(open, vec![0, 4]);
        }
        let d = draft(2025, &Figures::default(), &[]);
        assert!(d.other_matters.contains("未收取信息处理费"));
    }

    #[test]
    fn every_section_needs_text_and_nil_only_where_the_format_allows() {
        let f = figures();
        let all = |t: &str| Narrative {
            overview: t.into(),
            proactive_text: t.into(),
            applications_text: t.into(),
            remedies_text: t.into(),
            problems_and_improvements: t.into(),
            other_matters: t.into(),
        };
        let open = |n: &Narrative, f: &Figures| -> Vec<usize> {
            incomplete_sections(n, f)
                .into_iter()
                .map(|(i, _)| i)
                .collect()
        };
        assert_eq!(open(&all("  \n"), &f), vec![0, 1, 2, 3, 4, 5]);
        assert!(
            incomplete_sections(&all(""), &f)[0]
                .1
                .starts_with("一、总体情况")
        );
        assert!(open(&all("有内容。"), &f).is_empty());
        // "无": 六 without fees; 三 and 四 only when their table is all zero.
        assert_eq!(open(&all("无。"), &f), vec![0, 1, 2, 3, 4]);
        assert_eq!(open(&all("无"), &Figures::default()), vec![0, 1, 4]);
        let fees = Figures {
            fee_notices: 1,
            ..Figures::default()
        };
        assert_eq!(open(&all("无"), &fees), vec![0, 1, 4, 5]);
        // With fees, 六 must state what was collected.
        let mut n = all("有内容。");
        assert_eq!(open(&n, &fees), vec![5]);
        n.other_matters = "本年度发出收费通知1件，实际收取信息处理费0元。".into();
        assert!(open(&n, &fees).is_empty());
    }
}
