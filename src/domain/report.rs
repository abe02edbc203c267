//! The yearly report (政府信息公开工作年度报告, domain.md §9): table layouts of the 2021 format
//! and the 2019 trial format, the counting rules' results assembled into tables, and the
//! identities that must hold. What each cell counts is defined once in [`cells`]; the SQL of
//! `db::reports` and the publish freeze ([`counted_cells`], [`counted_case`]) derive from it.

pub mod cells;
pub mod narrative;
pub mod publication;

pub use narrative::Narrative;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::disposition::Disposition;
use super::request::ApplicantKind;

/// Which format a year is reported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    /// 国办公开办函〔2019〕60号 (the trial format), for 2019 and 2020.
    #[serde(rename = "2019")]
    Trial2019,
    /// 国办公开办函〔2021〕30号, from 2021.
    #[serde(rename = "2021")]
    F2021,
}

impl Format {
    pub fn for_year(year: i32) -> Format {
        if year >= 2021 {
            Format::F2021
        } else {
            Format::Trial2019
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Format::Trial2019 => "2019",
            Format::F2021 => "2021",
        }
    }
}

/// The columns of table 三, in order.
pub const APPLICATION_COLUMNS: [&str; 7] = [
    "natural_person",
    "commercial_enterprise",
    "research_institution",
    "social_welfare_organization",
    "legal_service_institution",
    "other_organization",
    "total",
];

pub fn column_label(code: &str) -> &'static str {
    match code {
        "natural_person" => "自然人",
        "commercial_enterprise" => "法人或其他组织/商业企业",
        "research_institution" => "法人或其他组织/科研机构",
        "social_welfare_organization" => "法人或其他组织/社会公益组织",
        "legal_service_institution" => "法人或其他组织/法律服务机构",
        "other_organization" => "法人或其他组织/其他",
        "total" => "总计",
        _ => "",
    }
}

pub const BALANCE_NOTE: &str =
    "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）";

/// One row of table 三: its code, label and the merged group label it sits under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowDef {
    pub code: &'static str,
    pub label: &'static str,
    /// The merged label cell(s) to the left: `三、本年度办理结果` and, for the sub-items,
    /// `（三）不予公开` … `（六）其他处理`.
    pub groups: Vec<&'static str>,
}

pub const RESULT_GROUP: &str = "三、本年度办理结果";

fn sub_group(d: Disposition) -> Option<&'static str> {
    let c = d.code();
    if c.starts_with("denied.") {
        Some("（三）不予公开")
    } else if c.starts_with("unavailable.") {
        Some("（四）无法提供")
    } else if c.starts_with("not_processed.") {
        Some("（五）不予处理")
    } else if c.starts_with("other.") {
        Some("（六）其他处理")
    } else {
        None
    }
}

/// The rows of table 三 in order, for the format.
pub fn application_rows(format: Format) -> Vec<RowDef> {
    let mut rows = vec![
        RowDef {
            code: "new",
            label: "一、本年新收政府信息公开申请数量",
            groups: vec![],
        },
        RowDef {
            code: "carried_in",
            label: "二、上年结转政府信息公开申请数量",
            groups: vec![],
        },
    ];
    for d in Disposition::ALL {
        if format == Format::Trial2019 && d.code().starts_with("other.") {
            continue;
        }
        let mut groups = vec![RESULT_GROUP];
        groups.extend(sub_group(d));
        rows.push(RowDef {
            code: d.code(),
            label: d.label(),
            groups,
        });
    }
    if format == Format::Trial2019 {
        rows.push(RowDef {
            code: "other",
            label: "（六）其他处理",
            groups: vec![RESULT_GROUP],
        });
    }
    rows.push(RowDef {
        code: "total",
        label: "（七）总计",
        groups: vec![RESULT_GROUP],
    });
    rows.push(RowDef {
        code: "carried_out",
        label: "四、结转下年度继续办理",
        groups: vec![],
    });
    rows
}

/// Codes of the result rows that add up to `total` in a format.
pub fn result_row_codes(format: Format) -> Vec<&'static str> {
    application_rows(format)
        .into_iter()
        .filter(|r| !matches!(r.code, "new" | "carried_in" | "total" | "carried_out"))
        .map(|r| r.code)
        .collect()
}

/// What was counted for table 三: per (row, column) of [`cells::applications`] (rows of both
/// formats, the `total` row and column included), and the previous year's `carried_out` per
/// column, counted in the same pass (continuity check).
#[derive(Debug, Clone, Default)]
pub struct ApplicationCounts {
    pub cells: BTreeMap<(String, String), i64>,
    pub previous_carried_out: BTreeMap<String, i64>,
}

/// A table row with its values per column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRow {
    pub code: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    pub values: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationsTable {
    pub columns: Vec<String>,
    pub note: String,
    pub rows: Vec<TableRow>,
}

/// Assembles table 三 from the counts.
pub fn applications_table(format: Format, c: &ApplicationCounts) -> ApplicationsTable {
    let rows = application_rows(format)
        .into_iter()
        .map(|def| TableRow {
            code: def.code.to_string(),
            label: def.label.to_string(),
            groups: def.groups.iter().map(|g| g.to_string()).collect(),
            values: APPLICATION_COLUMNS
                .iter()
                .map(|col| {
                    let key = (def.code.to_string(), col.to_string());
                    (col.to_string(), c.cells.get(&key).copied().unwrap_or(0))
                })
                .collect(),
        })
        .collect();
    ApplicationsTable {
        columns: APPLICATION_COLUMNS.iter().map(|c| c.to_string()).collect(),
        note: BALANCE_NOTE.to_string(),
        rows,
    }
}

/// Table 四: one group per kind of case, four outcomes and their total.
pub const REMEDY_GROUPS: [(&str, &str); 3] = [
    ("review", "行政复议"),
    ("litigation_direct", "行政诉讼/未经复议直接起诉"),
    ("litigation_after_review", "行政诉讼/复议后起诉"),
];
pub const REMEDY_OUTCOMES: [(&str, &str); 5] = [
    ("upheld", "结果维持"),
    ("corrected", "结果纠正"),
    ("other", "其他结果"),
    ("pending", "尚未审结"),
    ("total", "总计"),
];

pub type RemediesTable = BTreeMap<String, BTreeMap<String, i64>>;

/// Assembles table 四 from counts per (group, outcome), `total` included.
pub fn remedies_table(counts: &BTreeMap<(String, String), i64>) -> RemediesTable {
    REMEDY_GROUPS
        .iter()
        .map(|(group, _)| {
            let g = REMEDY_OUTCOMES
                .iter()
                .map(|(o, _)| {
                    let n = counts
                        .get(&(group.to_string(), o.to_string()))
                        .copied()
                        .unwrap_or(0);
                    (o.to_string(), n)
                })
                .collect();
            (group.to_string(), g)
        })
        .collect()
}

/// A row of table 二's layout: block, code, label, and its columns (code, label, decimal?).
pub type LayoutRow = (
    &'static str,
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str, bool)>,
);

/// The entered table 二 of a format: for each row code, the columns it has.
pub fn proactive_layout(format: Format) -> Vec<LayoutRow> {
    match format {
        Format::F2021 => {
            let docs = vec![
                ("made", "本年制发件数", false),
                ("abolished", "本年废止件数", false),
                ("in_force", "现行有效件数", false),
            ];
            let decisions = vec![("decisions", "本年处理决定数量", false)];
            vec![
                ("第二十条第（一）项", "rules", "规章", docs.clone()),
                (
                    "第二十条第（一）项",
                    "normative_documents",
                    "行政规范性文件",
                    docs,
                ),
                (
                    "第二十条第（五）项",
                    "licensing",
                    "行政许可",
                    decisions.clone(),
                ),
                (
                    "第二十条第（六）项",
                    "punishment",
                    "行政处罚",
                    decisions.clone(),
                ),
                ("第二十条第（六）项", "coercion", "行政强制", decisions),
                (
                    "第二十条第（八）项",
                    "fees",
                    "行政事业性收费",
                    vec![("amount_wan_yuan", "本年收费金额（单位：万元）", true)],
                ),
            ]
        }
        Format::Trial2019 => {
            let docs = vec![
                ("made", "本年新制作数量", false),
                ("published", "本年新公开数量", false),
                ("total_public", "对外公开总数量", false),
            ];
            let items = vec![
                ("previous_year_items", "上一年项目数量", false),
                ("change", "本年增/减", false),
                ("decisions", "处理决定数量", false),
            ];
            vec![
                ("第二十条第（一）项", "rules", "规章", docs.clone()),
                (
                    "第二十条第（一）项",
                    "normative_documents",
                    "规范性文件",
                    docs,
                ),
                ("第二十条第（五）项", "licensing", "行政许可", items.clone()),
                (
                    "第二十条第（五）项",
                    "other_services",
                    "其他对外管理服务事项",
                    items.clone(),
                ),
                (
                    "第二十条第（六）项",
                    "punishment",
                    "行政处罚",
                    items.clone(),
                ),
                ("第二十条第（六）项", "coercion", "行政强制", items),
                (
                    "第二十条第（八）项",
                    "fees",
                    "行政事业性收费",
                    vec![
                        ("previous_year_items", "上一年项目数量", false),
                        ("change", "本年增/减", false),
                    ],
                ),
                (
                    "第二十条第（九）项",
                    "procurement",
                    "政府集中采购",
                    vec![
                        ("items", "采购项目数量", false),
                        ("amount_wan_yuan", "采购总金额", true),
                    ],
                ),
            ]
        }
    }
}

/// A figure of table 二: an exact decimal (counts are integers; amounts in 万元 have up to 4
/// decimals; `change` of the 2019 format may be negative), held as ten-thousandths and written
/// in JSON as a number. It reads a number or a decimal string (snapshots published before
/// figures were numbers hold strings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Figure(i128);

const FIGURE_SCALE: i128 = 10_000;

impl Figure {
    /// A decimal with at most 4 decimals, optionally negative.
    pub fn parse(v: &str) -> Option<Figure> {
        let v = v.trim();
        let (neg, body) = match v.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, v),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty()
            || int.len() > 20
            || frac.len() > 4
            || (body.contains('.') && frac.is_empty())
            || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let n = int.parse::<i128>().ok()? * FIGURE_SCALE
            + format!("{frac:0<4}").parse::<i128>().ok()?;
        Some(Figure(if neg { -n } else { n }))
    }

    /// The value in ten-thousandths (exact sums).
    pub fn scaled(self) -> i128 {
        self.0
    }

    pub fn from_scaled(n: i128) -> Figure {
        Figure(n)
    }

    /// The value when it is a whole number.
    pub fn whole(self) -> Option<i64> {
        (self.0 % FIGURE_SCALE == 0)
            .then(|| i64::try_from(self.0 / FIGURE_SCALE).ok())
            .flatten()
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        let (i, r) = (a / FIGURE_SCALE as u128, a % FIGURE_SCALE as u128);
        if r == 0 {
            write!(f, "{sign}{i}")
        } else {
            let frac = format!("{r:04}");
            write!(f, "{sign}{i}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl Serialize for Figure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.whole() {
            Some(n) => s.serialize_i64(n),
            // The shortest decimal that reads back as this double is the figure itself: amounts
            // are entered with at most 15 significant digits.
            None => match self.to_string().parse::<f64>() {
                Ok(x) => s.serialize_f64(x),
                Err(_) => s.serialize_str(&self.to_string()),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Figure {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Figure, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Figure;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a decimal string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Figure, E> {
                Ok(Figure(i128::from(v) * FIGURE_SCALE))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Figure, E> {
                Ok(Figure(i128::from(v) * FIGURE_SCALE))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Figure, E> {
                Figure::parse(&v.to_string()).ok_or_else(|| {
                    E::custom(format!("{v} is not a decimal with at most 4 decimals"))
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Figure, E> {
                Figure::parse(v).ok_or_else(|| {
                    E::custom(format!("{v:?} is not a decimal with at most 4 decimals"))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// An entered row of table 二, its values as [`Figure`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProactiveRow {
    pub block: String,
    pub code: String,
    pub label: String,
    pub columns: Vec<ProactiveColumn>,
    pub values: BTreeMap<String, Figure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProactiveColumn {
    pub code: String,
    pub label: String,
}

fn valid_number(v: &str, decimal: bool, signed: bool) -> bool {
    let body = if signed {
        v.strip_prefix('-').unwrap_or(v)
    } else {
        v
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) if decimal => (i, Some(f)),
        Some(_) => return false,
        None => (body, None),
    };
    !int.is_empty()
        && int.len() + frac.map_or(0, str::len) <= 15
        && int.chars().all(|c| c.is_ascii_digit())
        && frac
            .is_none_or(|f| !f.is_empty() && f.len() <= 4 && f.chars().all(|c| c.is_ascii_digit()))
}

/// Table 二 with the entered values (missing ones are "0"); every value checked.
pub fn proactive_table(
    format: Format,
    entered: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<Vec<ProactiveRow>, Vec<super::validation::FieldError>> {
    let layout = proactive_layout(format);
    let mut errors = Vec::new();
    for (row, cols) in entered {
        let Some((_, _, _, defs)) = layout.iter().find(|(_, c, _, _)| c == row) else {
            errors.push(super::validation::FieldError::new(
                format!("rows.{row}"),
                "unknown_row",
                crate::text!(
                    "{} 格式的表二没有 {row} 行",
                    "table 二 of the {} format has no row {row}",
                    format.code()
                ),
            ));
            continue;
        };
        for (col, v) in cols {
            match defs.iter().find(|(c, _, _)| c == col) {
                None => errors.push(super::validation::FieldError::new(
                    format!("rows.{row}.{col}"),
                    "unknown_column",
                    crate::text!("该行没有此列", "this row has no such column"),
                )),
                Some((_, _, decimal)) => {
                    if !valid_number(v.trim(), *decimal, *col == "change") {
                        errors.push(super::validation::FieldError::new(
                            format!("rows.{row}.{col}"),
                            "invalid_number",
                            if *decimal {
                                crate::text!(
                                    "须为非负数，至多 4 位小数",
                                    "a non-negative decimal with at most 4 decimals"
                                )
                            } else {
                                crate::text!("须为非负整数", "a non-negative integer")
                            },
                        ));
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(layout
        .into_iter()
        .map(|(block, code, label, cols)| ProactiveRow {
            block: block.to_string(),
            code: code.to_string(),
            label: label.to_string(),
            values: cols
                .iter()
                .map(|(c, _, _)| {
                    let v = entered
                        .get(code)
                        .and_then(|r| r.get(*c))
                        .and_then(|s| Figure::parse(s));
                    (c.to_string(), v.unwrap_or_default())
                })
                .collect(),
            columns: cols
                .iter()
                .map(|(c, l, _)| ProactiveColumn {
                    code: c.to_string(),
                    label: l.to_string(),
                })
                .collect(),
        })
        .collect())
}

/// What a replacement of table 二 lacks: every row of the format (`rows.<row>`) and every
/// column of a row sent (`rows.<row>.<column>`), code `required`.
pub fn missing_cells(
    format: Format,
    entered: &BTreeMap<String, BTreeMap<String, String>>,
) -> Vec<super::validation::FieldError> {
    let mut out = Vec::new();
    for (_, code, _, cols) in proactive_layout(format) {
        match entered.get(code) {
            None => out.push(super::validation::FieldError::new(
                format!("rows.{code}"),
                "required",
                crate::text!(
                    "整体替换表二须给出该格式的每一行（修改部分行请用 PATCH）",
                    "a replacement of table 二 needs every row of the format (PATCH changes some)"
                ),
            )),
            Some(row) => {
                for (col, _, _) in cols {
                    if !row.contains_key(col) {
                        out.push(super::validation::FieldError::new(
                            format!("rows.{code}.{col}"),
                            "required",
                            crate::text!(
                                "整体替换表二须给出该行的每一列",
                                "a replacement of table 二 needs every column of the row"
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Whether a failed check blocks publishing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Blocks publishing (every identity of §9, the narrative's agreement with the tables).
    #[default]
    Error,
    /// Shown, does not block (table 二's continuity with the year before).
    Warning,
}

/// One identity of §9 (or another check of the report) and whether it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub code: String,
    pub holds: bool,
    /// Absent in snapshots published before severities existed: those were all errors.
    #[serde(default)]
    pub severity: Severity,
    pub detail: String,
}

/// The identities of §9 over tables 三 and 四; `previous_carried_out` is table 三's
/// `carried_out` row of the year before, when known.
pub fn checks(
    format: Format,
    t: &ApplicationsTable,
    remedies: &RemediesTable,
    previous_carried_out: Option<&BTreeMap<String, i64>>,
) -> Vec<Check> {
    let row = |code: &str| {
        t.rows
            .iter()
            .find(|r| r.code == code)
            .map(|r| r.values.clone())
            .unwrap_or_default()
    };
    let get = |m: &BTreeMap<String, i64>, c: &str| m.get(c).copied().unwrap_or(0);
    let (new, cin, total, cout) = (
        row("new"),
        row("carried_in"),
        row("total"),
        row("carried_out"),
    );
    let mut out = Vec::new();
    for col in APPLICATION_COLUMNS {
        let l = get(&new, col) + get(&cin, col);
        let r = get(&total, col) + get(&cout, col);
        out.push(Check {
            code: format!("balance.{col}"),
            holds: l == r,
            severity: Severity::Error,
            detail: format!(
                "new {} + carried_in {} = {l}; total {} + carried_out {} = {r}",
                get(&new, col),
                get(&cin, col),
                get(&total, col),
                get(&cout, col)
            ),
        });
    }
    let results = result_row_codes(format);
    for col in APPLICATION_COLUMNS {
        let sum: i64 = results.iter().map(|c| get(&row(c), col)).sum();
        out.push(Check {
            code: format!("total_is_sum_of_results.{col}"),
            holds: sum == get(&total, col),
            severity: Severity::Error,
            detail: format!("sum of the result rows {sum}; total {}", get(&total, col)),
        });
    }
    let mut columns_ok = true;
    let mut bad = Vec::new();
    let mut non_negative = true;
    for r in &t.rows {
        let sum: i64 = ApplicantKind::ALL
            .iter()
            .map(|k| get(&r.values, k.code()))
            .sum();
        if sum != get(&r.values, "total") {
            columns_ok = false;
            bad.push(r.code.clone());
        }
        non_negative &= r.values.values().all(|v| *v >= 0);
    }
    out.push(Check {
        code: "total_column_is_sum_of_columns".into(),
        holds: columns_ok,
        severity: Severity::Error,
        detail: if columns_ok {
            "every row's 总计 equals the sum of its six columns".into()
        } else {
            format!("rows {} differ", bad.join(", "))
        },
    });
    out.push(Check {
        code: "non_negative".into(),
        holds: non_negative && remedies.values().all(|g| g.values().all(|v| *v >= 0)),
        severity: Severity::Error,
        detail: "every cell is a non-negative integer".into(),
    });
    if let Some(prev) = previous_carried_out {
        for col in APPLICATION_COLUMNS {
            out.push(Check {
                code: format!("carried_in_matches_last_year.{col}"),
                holds: get(prev, col) == get(&cin, col),
                severity: Severity::Error,
                detail: format!(
                    "carried_out last year {}; carried_in this year {}",
                    get(prev, col),
                    get(&cin, col)
                ),
            });
        }
    }
    for (group, _) in REMEDY_GROUPS {
        let g = remedies.get(group).cloned().unwrap_or_default();
        let sum: i64 = REMEDY_OUTCOMES
            .iter()
            .take(4)
            .map(|(o, _)| get(&g, o))
            .sum();
        out.push(Check {
            code: format!("remedies.{group}.total"),
            holds: sum == get(&g, "total"),
            severity: Severity::Error,
            detail: format!("four outcomes {sum}; total {}", get(&g, "total")),
        });
    }
    out
}

/// Table 二's continuity (a warning, shown but not blocking): for each row with a `in_force`
/// column, this year's figure should be last year's published one plus those made, less
/// those abolished. Nothing is emitted without a published previous year in the same layout.
pub fn continuity_checks(this: &[ProactiveRow], previous: Option<&[ProactiveRow]>) -> Vec<Check> {
    let Some(previous) = previous else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for row in this {
        let (Some(in_force), Some(made), Some(abolished)) = (
            row.values.get("in_force"),
            row.values.get("made"),
            row.values.get("abolished"),
        ) else {
            continue;
        };
        let Some(before) = previous
            .iter()
            .find(|p| p.code == row.code)
            .and_then(|p| p.values.get("in_force"))
        else {
            continue;
        };
        let expected = Figure::from_scaled(before.scaled() + made.scaled() - abolished.scaled());
        out.push(Check {
            code: format!("proactive.{}.in_force", row.code),
            holds: expected == *in_force,
            severity: Severity::Warning,
            detail: format!(
                "{}：上年公布的现行有效件数{before} + 本年制发{made} − 本年废止{abolished} = {expected}；本年现行有效件数{in_force}",
                row.label
            ),
        });
    }
    out
}

pub const SECTIONS: [&str; 6] = [
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、存在的主要问题及改进情况",
    "六、其他需要报告的事项",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> chrono::NaiveDate {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn app<'a>(
        kind: &'a str,
        received: &str,
        closed: Option<(&str, &'a str)>,
    ) -> CountedApplication<'a> {
        CountedApplication {
            kind,
            receipt_date: Some(day(received)),
            closed_on: closed.map(|(c, _)| day(c)),
            disposition: closed.map(|(_, d)| d),
            fee_notice_on: None,
            fee_amount_fen: None,
            fee_paid_on: None,
            fee_paid_fen: None,
        }
    }

    /// 2025's counts of a few applications, counted by the cell rules in Rust.
    fn counts() -> ApplicationCounts {
        let np = "natural_person";
        let ce = "commercial_enterprise";
        let apps = [
            app(np, "2025-02-03", Some(("2025-02-10", "granted"))),
            app(np, "2025-03-03", Some(("2025-03-10", "granted"))),
            app(np, "2025-04-01", None),
            app(np, "2025-05-06", Some(("2025-05-20", "other.unpaid"))),
            app(np, "2024-12-20", Some(("2025-01-06", "granted"))),
            app(np, "2024-11-20", None),
            app(
                ce,
                "2025-06-02",
                Some(("2025-06-09", "denied.state_secret")),
            ),
            app(ce, "2025-12-30", Some(("2026-01-05", "granted"))),
            app(ce, "2026-01-02", None),
        ];
        let rules = cells::applications();
        let y = cells::YearBounds::new(2025).unwrap_or_else(|| unreachable!());
        let mut c = ApplicationCounts::default();
        for cell in &rules.cells {
            let n = apps.iter().filter(|a| rules.counts(cell, *a, &y)).count() as i64;
            if cell.row == cells::PREVIOUS_CARRIED_OUT {
                c.previous_carried_out.insert(cell.column.into(), n);
            } else {
                c.cells.insert((cell.row.into(), cell.column.into()), n);
            }
        }
        c
    }

    #[test]
    fn the_2021_table_has_28_rows_in_order_with_exact_labels() {
        let rows = application_rows(Format::F2021);
        assert_eq!(rows.len(), 2 + 21 + 2);
        assert_eq!(rows[0].label, "一、本年新收政府信息公开申请数量");
        assert_eq!(rows[2].code, "granted");
        assert_eq!(rows[4].groups, vec![RESULT_GROUP, "（三）不予公开"]);
        assert_eq!(rows[rows.len() - 2].label, "（七）总计");
        assert_eq!(rows[rows.len() - 1].code, "carried_out");
    }

    #[test]
    fn the_2019_format_has_one_other_row() {
        let rows = application_rows(Format::Trial2019);
        assert!(rows.iter().any(|r| r.code == "other"));
        assert!(!rows.iter().any(|r| r.code.starts_with("other.")));
        let t = applications_table(Format::Trial2019, &counts());
        let other = t
            .rows
            .iter()
            .find(|r| r.code == "other")
            .map(|r| r.values["total"]);
        assert_eq!(other, Some(1));
    }

    #[test]
    fn identities_hold_for_consistent_counts_and_fail_for_broken_ones() {
        let t = applications_table(Format::F2021, &counts());
        let total = t
            .rows
            .iter()
            .find(|r| r.code == "total")
            .map(|r| r.values.clone())
            .unwrap_or_default();
        assert_eq!(total["total"], 5);
        let rem = remedies_table(&BTreeMap::new());
        assert!(
            checks(Format::F2021, &t, &rem, None)
                .iter()
                .all(|c| c.holds)
        );
        assert_eq!(total["natural_person"], 4);
        let mut broken = counts();
        for col in ["natural_person", "total"] {
            if let Some(n) = broken.cells.get_mut(&("new".to_string(), col.to_string())) {
                *n += 1;
            }
        }
        let t = applications_table(Format::F2021, &broken);
        let failed: Vec<String> = checks(Format::F2021, &t, &rem, None)
            .into_iter()
            .filter(|c| !c.holds)
            .map(|c| c.code)
            .collect();
        assert_eq!(failed, vec!["balance.natural_person", "balance.total"]);
    }

    #[test]
    fn only_an_application_counted_before_this_year_can_touch_a_publishable_report() {
        let today = day("2026-03-16");
        // Received this year: counted in 2026 only, whose report cannot be published yet.
        let new = app("natural_person", "2026-03-02", None);
        assert!(!counted_in_a_finished_year(&new, day("2026-03-02"), today));
        // Back-dated into last year: counted in 2025, a year that is over.
        let old = app("natural_person", "2025-12-30", None);
        assert!(counted_in_a_finished_year(&old, day("2025-12-30"), today));
        // Arrived on the last day of 2025, received (the next working day) in 2026: not in 2025.
        let straddling = app("natural_person", "2026-01-04", None);
        assert!(!counted_in_a_finished_year(
            &straddling,
            day("2025-12-31"),
            today
        ));
        // The year's boundary: the one back-dated into 2025 touches a publishable report from
        // New Year's Day on, not on the last day of 2025 (that year is not over yet).
        assert!(counted_in_a_finished_year(
            &old,
            day("2025-12-30"),
            day("2026-01-01")
        ));
        assert!(!counted_in_a_finished_year(
            &old,
            day("2025-12-30"),
            day("2025-12-31")
        ));
    }

    #[test]
    fn closing_a_carried_application_changes_only_the_closing_year_and_later() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let open = CountedApplication {
            kind: "natural_person",
            receipt_date: Some(d("2024-12-02")),
            closed_on: None,
            disposition: None,
            fee_notice_on: None,
            fee_amount_fen: None,
            fee_paid_on: None,
            fee_paid_fen: None,
        };
        let closed = CountedApplication {
            closed_on: Some(d("2025-03-01")),
            disposition: Some("granted"),
            ..open.clone()
        };
        assert_eq!(counted_cells(&open, 2024), counted_cells(&closed, 2024));
        assert_ne!(counted_cells(&open, 2025), counted_cells(&closed, 2025));
        assert_ne!(counted_cells(&open, 2026), counted_cells(&closed, 2026));
        assert_eq!(
            counted_cells(&closed, 2025),
            vec![
                "carried_in.natural_person",
                "carried_in.total",
                "granted.natural_person",
                "granted.total",
                "total.natural_person",
                "total.total"
            ]
        );
        // Closed in 2024 instead: 2024's figures change.
        let early = CountedApplication {
            closed_on: Some(d("2024-12-20")),
            disposition: Some("granted"),
            ..open.clone()
        };
        assert_ne!(counted_cells(&open, 2024), counted_cells(&early, 2024));
    }

    #[test]
    fn a_case_decided_after_its_year_stays_pending_in_it() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let pending = counted_case(
            "review",
            None,
            d("2025-11-01"),
            None,
            "pending",
            2025,
            false,
        );
        let decided = counted_case(
            "review",
            None,
            d("2025-11-01"),
            Some(d("2026-01-15")),
            "corrected",
            2025,
            false,
        );
        assert_eq!(pending, decided);
        assert_eq!(decided, Some(("review".into(), "pending".into())));
        assert_eq!(
            counted_case(
                "review",
                None,
                d("2025-11-01"),
                Some(d("2026-01-15")),
                "corrected",
                2026,
                true
            ),
            Some(("review".into(), "corrected".into()))
        );
        assert_eq!(
            counted_case(
                "litigation",
                Some("after_review"),
                d("2025-01-01"),
                None,
                "pending",
                2024,
                false
            ),
            None
        );
    }

    #[test]
    fn figures_are_exact_decimals_written_as_json_numbers_and_read_from_strings_too() {
        let f = |v: &str| Figure::parse(v).unwrap_or_else(|| panic!("{v}"));
        assert_eq!(serde_json::to_string(&f("42")).ok(), Some("42".into()));
        assert_eq!(serde_json::to_string(&f("12.5")).ok(), Some("12.5".into()));
        assert_eq!(
            serde_json::to_string(&f("0.0125")).ok(),
            Some("0.0125".into())
        );
        assert_eq!(serde_json::to_string(&f("-4")).ok(), Some("-4".into()));
        assert_eq!(
            serde_json::to_string(&f("12345678901.2345")).ok(),
            Some("12345678901.2345".into())
        );
        for text in [
            "42",
            "12.5",
            "0.0125",
            "\"103.25\"",
            "-4",
            "12345678901.2345",
        ] {
            let read: Option<Figure> = serde_json::from_str(text).ok();
            assert_eq!(read, Figure::parse(text.trim_matches('"')), "{text}");
        }
        assert!(serde_json::from_str::<Figure>("1.23456").is_err());
        assert!(serde_json::from_str::<Figure>("true").is_err());
        assert_eq!(f("12.50"), f("12.5"));
        assert_eq!(f("3").whole(), Some(3));
        assert_eq!(f("0.5").whole(), None);
        assert_eq!(Figure::parse("1."), None);
        assert_eq!(Figure::parse("1.23456"), None);
    }

    #[test]
    fn table_2_continuity_is_a_warning_against_the_published_year_before() {
        let table = |rules: [&str; 3]| {
            let mut e = BTreeMap::new();
            e.insert(
                "rules".to_string(),
                BTreeMap::from([
                    ("made".to_string(), rules[0].to_string()),
                    ("abolished".to_string(), rules[1].to_string()),
                    ("in_force".to_string(), rules[2].to_string()),
                ]),
            );
            proactive_table(Format::F2021, &e).unwrap_or_default()
        };
        let last = table(["2", "0", "40"]);
        assert!(continuity_checks(&table(["3", "1", "42"]), None).is_empty());
        let ok = continuity_checks(&table(["3", "1", "42"]), Some(&last));
        assert_eq!(ok.len(), 2, "rules and normative_documents");
        assert!(
            ok.iter()
                .all(|c| c.holds && c.severity == Severity::Warning)
        );
        let off = continuity_checks(&table(["3", "1", "45"]), Some(&last));
        assert_eq!(off[0].code, "proactive.rules.in_force");
        assert!(!off[0].holds);
        assert!(off[0].detail.contains("= 42"), "{}", off[0].detail);
        // The 2019 format has no in_force column: nothing to compare.
        let trial = proactive_table(Format::Trial2019, &BTreeMap::new()).unwrap_or_default();
        assert!(continuity_checks(&table(["3", "1", "45"]), Some(&trial)).is_empty());
    }

    #[test]
    fn a_replacement_of_table_2_must_name_every_row_and_column() {
        let mut e = BTreeMap::new();
        e.insert(
            "rules".to_string(),
            BTreeMap::from([("made".to_string(), "3".to_string())]),
        );
        let missing: Vec<String> = missing_cells(Format::F2021, &e)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            missing,
            vec![
                "rows.rules.abolished",
                "rows.rules.in_force",
                "rows.normative_documents",
                "rows.licensing",
                "rows.punishment",
                "rows.coercion",
                "rows.fees"
            ]
        );
    }

    #[test]
    fn proactive_values_are_checked_per_format() {
        let mut e = BTreeMap::new();
        e.insert(
            "rules".to_string(),
            BTreeMap::from([("made".to_string(), "3".to_string())]),
        );
        e.insert(
            "fees".to_string(),
            BTreeMap::from([("amount_wan_yuan".to_string(), "12.5".to_string())]),
        );
        let t = proactive_table(Format::F2021, &e).unwrap_or_default();
        assert_eq!(t.len(), 6);
        assert_eq!(t[0].values["made"].to_string(), "3");
        assert_eq!(t[0].values["abolished"].to_string(), "0");
        assert_eq!(t[5].values["amount_wan_yuan"].to_string(), "12.5");
        let mut bad = BTreeMap::new();
        bad.insert(
            "rules".to_string(),
            BTreeMap::from([("made".to_string(), "-1".to_string())]),
        );
        bad.insert("procurement".to_string(), BTreeMap::new());
        assert_eq!(
            proactive_table(Format::F2021, &bad).map_err(|e| e.len()),
            Err(2)
        );
        let mut change = BTreeMap::new();
        change.insert(
            "licensing".to_string(),
            BTreeMap::from([("change".to_string(), "-4".to_string())]),
        );
        assert!(proactive_table(Format::Trial2019, &change).is_ok());
    }
}

/// What of an application the report counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedApplication<'a> {
    pub kind: &'a str,
    pub receipt_date: Option<chrono::NaiveDate>,
    pub closed_on: Option<chrono::NaiveDate>,
    pub disposition: Option<&'a str>,
    pub fee_notice_on: Option<chrono::NaiveDate>,
    pub fee_amount_fen: Option<i64>,
    pub fee_paid_on: Option<chrono::NaiveDate>,
    pub fee_paid_fen: Option<i64>,
}

/// The cells of `year`'s report (every cell of table 三 in both formats, `row.column`, and the
/// fee facts) this application counts in. Two states of one application with different cells
/// would change that year's figures.
pub fn counted_cells(a: &CountedApplication<'_>, year: i32) -> Vec<String> {
    use chrono::Datelike;
    let mut cells = cells::cells_of(cells::applications(), a, year);
    // Not a cell of the year's table (the year before's, counted for the continuity check).
    cells.retain(|c| !c.starts_with(cells::PREVIOUS_CARRIED_OUT));
    let in_year = |d: Option<chrono::NaiveDate>| d.is_some_and(|d| d.year() == year);
    if in_year(a.fee_notice_on) {
        cells.push(format!("fee_notice.{}", a.fee_amount_fen.unwrap_or(0)));
    }
    if in_year(a.fee_paid_on) {
        cells.push(format!("fee_paid.{}", a.fee_paid_fen.unwrap_or(0)));
    }
    cells
}

/// Whether a new application, arrived on `arrived`, counts in the report of a year that is over
/// on `today`: the only years whose report can be published (`publication::year_is_over`).
/// Every date it is counted by comes on or after its receipt (or, not yet received, its
/// arrival), so the years from the one before that are asked.
pub fn counted_in_a_finished_year(
    a: &CountedApplication<'_>,
    arrived: chrono::NaiveDate,
    today: chrono::NaiveDate,
) -> bool {
    use chrono::Datelike;
    let first = a.receipt_date.map_or(arrived, |r| r.min(arrived)).year() - 1;
    (first..today.year())
        .filter(|&y| publication::year_is_over(y, today))
        .any(|y| !counted_cells(a, y).is_empty())
}

/// The cell of table 四 a case counts in for `year` (group, outcome), or None.
#[allow(clippy::too_many_arguments)]
pub fn counted_case(
    kind: &str,
    route: Option<&str>,
    received: chrono::NaiveDate,
    decided_on: Option<chrono::NaiveDate>,
    outcome: &str,
    year: i32,
    active_in_year: bool,
) -> Option<(String, String)> {
    let counting = if active_in_year {
        cells::RemedyCounting::ActiveInYear
    } else {
        cells::RemedyCounting::ReceivedInYear
    };
    let rules = cells::remedies(counting);
    let case = cells::CountedCase {
        kind,
        route,
        received,
        decided_on,
        outcome,
    };
    let y = cells::YearBounds::new(year)?;
    rules
        .cells
        .iter()
        .find(|c| c.column != "total" && rules.counts(c, &case, &y))
        .map(|c| (c.row.to_string(), c.column.to_string()))
}
