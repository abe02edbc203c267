//! The yearly report's schema for the OpenAPI document: the report as the service writes it
//! (`crate::app::reports::Report`, serialised by serde), its tables, checks, fees and narrative,
//! and the codes of its rows and columns.
//!
//! The row and column codes are not listed here a second time: the enums are built from the
//! domain's own layouts (`application_rows`, `APPLICATION_COLUMNS`, `REMEDY_GROUPS`,
//! `REMEDY_OUTCOMES`, `proactive_layout`) of both formats, so a code added to the format is in
//! the document the moment it is counted. Like `payloads.rs`, the structs here only describe
//! what serde writes and are never built; the API tests validate every report they receive
//! against the served document, so a renamed or missing field fails the suite.

#![allow(dead_code)]

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use super::dto::SeverityCode;
use crate::domain::report::{
    APPLICATION_COLUMNS, Format, REMEDY_GROUPS, REMEDY_OUTCOMES, application_rows, proactive_layout,
};

const FORMATS: [Format; 2] = [Format::F2021, Format::Trial2019];

/// A string enum of `codes` (deduplicated, in first-seen order).
fn code_enum(description: &str, codes: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    let mut seen = BTreeSet::new();
    let values: Vec<&str> = codes.into_iter().filter(|c| seen.insert(*c)).collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

/// An object with exactly the integer members `codes`, all required.
fn counts_object(
    description: &str,
    codes: impl IntoIterator<Item = &'static str>,
) -> RefOr<Schema> {
    let mut o = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for c in codes {
        o = o
            .property(
                c,
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int64,
                    )))
                    .minimum(Some(0)),
            )
            .required(c);
    }
    o.into()
}

/// Declares a schema-only type whose schema is built by `$body`, referring to the named
/// schemas `$dep` (registered with it).
macro_rules! built_schema {
    ($(#[$doc:meta])* $name:ident $([$($dep:ty),+])? => $body:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $body
            }
        }
        impl ToSchema for $name {
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                $($(
                    schemas.push((<$dep as ToSchema>::name().into_owned(), <$dep as PartialSchema>::schema()));
                    <$dep as ToSchema>::schemas(schemas);
                )+)?
                let _ = schemas;
            }
        }
    };
}

fn application_row_codes() -> impl Iterator<Item = &'static str> {
    FORMATS
        .into_iter()
        .flat_map(|f| application_rows(f).into_iter().map(|r| r.code))
}

fn proactive_row_codes() -> impl Iterator<Item = &'static str> {
    FORMATS
        .into_iter()
        .flat_map(|f| proactive_layout(f).into_iter().map(|(_, code, _, _)| code))
}

fn proactive_column_codes() -> impl Iterator<Item = &'static str> {
    FORMATS.into_iter().flat_map(|f| {
        proactive_layout(f)
            .into_iter()
            .flat_map(|(_, _, _, cols)| cols.into_iter().map(|(code, _, _)| code))
    })
}

built_schema!(
    /// The format of a report: `2021` (国办公开办函〔2021〕30号, from 2021) or `2019` (the trial
    /// format of 国办公开办函〔2019〕60号, for 2019 and 2020).
    ReportFormatCode => code_enum(
        "报告格式：`2021`（国办公开办函〔2021〕30号，2021年起）或 `2019`（国办公开办函〔2019〕60号试行格式，2019、2020年）。",
        FORMATS.into_iter().map(Format::code),
    )
);

built_schema!(
    /// Where a report stands.
    ReportStatusCode => code_enum(
        "报告状态：`draft` 草稿（实时计算）、`published` 已发布、`superseded` 已被更新的版本取代、`rollup` 汇总（本机关及下级机关之和）。",
        ["draft", "published", "superseded", "rollup"],
    )
);

built_schema!(
    /// A row of table 三 (both formats).
    ApplicationRowCode => code_enum(
        "表三的行代码（两种格式的行之并集）。",
        application_row_codes(),
    )
);

built_schema!(
    /// A column of table 三: the kinds of applicant and the total.
    ApplicationColumnCode => code_enum(
        "表三的列代码：申请人类型及总计。",
        APPLICATION_COLUMNS,
    )
);

built_schema!(
    /// A row of table 二 (both formats).
    ProactiveRowCode => code_enum(
        "表二的行代码（两种格式的行之并集）。",
        proactive_row_codes(),
    )
);

built_schema!(
    /// A column of table 二 (both formats).
    ProactiveColumnCode => code_enum(
        "表二的列代码（两种格式的列之并集）。",
        proactive_column_codes(),
    )
);

built_schema!(
    /// The row of a drill-down: a row of table 三, or a group of table 四.
    CellRowCode => code_enum(
        "下钻的行：表三的行代码，或表四的 `review`、`litigation_direct`、`litigation_after_review`。",
        application_row_codes().chain(REMEDY_GROUPS.iter().map(|(c, _)| *c)),
    )
);

built_schema!(
    /// The column of a drill-down: a column of table 三, or an outcome of table 四.
    CellColumnCode => code_enum(
        "下钻的列：表三的列代码，或表四的结果 `upheld`、`corrected`、`other`、`pending`、`total`。",
        APPLICATION_COLUMNS
            .into_iter()
            .chain(REMEDY_OUTCOMES.iter().map(|(c, _)| *c)),
    )
);

built_schema!(
    /// Table 三's figures of one row: one count per column.
    ApplicationValues => counts_object("表三一行的数字：每列一个件数。", APPLICATION_COLUMNS)
);

built_schema!(
    /// Table 四's figures of one kind of case: the four outcomes and their total.
    RemedyOutcomeCounts => counts_object(
        "表四一类案件的数字：四种结果及总计。",
        REMEDY_OUTCOMES.iter().map(|(c, _)| *c),
    )
);

built_schema!(
    /// Table 四: administrative review, suits brought directly, suits after review.
    RemediesTable [RemedyOutcomeCounts] => {
        let mut o = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "表四：行政复议、未经复议直接起诉、复议后起诉，各为四种结果及总计。",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for (code, _) in REMEDY_GROUPS {
            o = o
                .property(code, RefOr::Ref(utoipa::openapi::Ref::from_schema_name(RemedyOutcomeCounts::name())))
                .required(code);
        }
        o.into()
    }
);

/// A figure of table 二: a count (integer) or an amount in 万元 (up to 4 decimals); `change` of
/// the 2019 format may be negative.
fn figure() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Number)
}

/// An object with optional members `codes`, each of schema `member`, nothing else.
fn members_of(
    description: &str,
    codes: impl IntoIterator<Item = &'static str>,
    member: impl Fn() -> RefOr<Schema>,
) -> ObjectBuilder {
    let mut seen = BTreeSet::new();
    let mut o = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for c in codes.into_iter().filter(|c| seen.insert(*c)) {
        o = o.property(c, member());
    }
    o
}

built_schema!(
    /// Table 二's figures of one row, by column code (a row has only its format's columns).
    ProactiveValues => members_of(
        "表二一行的数字，按列代码（每行只有其格式规定的列）：件数为整数，金额（万元）至多4位小数。",
        proactive_column_codes(),
        || figure().into(),
    )
    .into()
);

built_schema!(
    /// Table 二's entered figures, row code → column code → value: an integer count, or an
    /// amount in 万元 as a number or decimal string with at most 4 decimals. Rows and columns
    /// not sent are kept (PATCH) or read as 0 (PUT); the service refuses a column the row does
    /// not have in the report's format.
    ProactiveEntries => members_of(
        "表二填报的数字：行代码 → 列代码 → 数值（件数为整数；金额以万元计，为数字或至多4位小数的十进制字符串）。",
        proactive_row_codes(),
        || {
            members_of(
                "一行的数字，按列代码。",
                proactive_column_codes(),
                || {
                    OneOfBuilder::new()
                        .item(figure())
                        .item(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .pattern(Some(r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$")),
                        )
                        .into()
                },
            )
            .into()
        },
    )
    .into()
);

/// A report as the service writes it (the live draft, a published version, or a roll-up).
#[derive(ToSchema)]
#[schema(as = ReportDto)]
#[serde(deny_unknown_fields)]
pub struct ReportSchema {
    agency_id: Uuid,
    agency_code: String,
    agency_name: String,
    year: i32,
    format: ReportFormatCode,
    status: ReportStatusCode,
    /// The published version this is (the live draft: the next version).
    version: i32,
    #[schema(required)]
    published_at: Option<DateTime<Utc>>,
    #[schema(required)]
    published_by: Option<String>,
    tables: TablesSchema,
    checks: Vec<CheckSchema>,
    fees: FeesSchema,
    narrative: NarrativeSchema,
    /// The last day to publish (《条例》第四十九条): 31 January of the next year for a
    /// department, 31 March for a people's government's overall report. Absent in snapshots
    /// published before it was recorded.
    publication_deadline: Option<NaiveDate>,
    /// Roll-ups only: the agencies summed, and whether each has published.
    agencies: Option<Vec<RollupAgencySchema>>,
}

/// The three tables.
#[derive(ToSchema)]
#[schema(as = ReportTables)]
#[serde(deny_unknown_fields)]
pub struct TablesSchema {
    /// 二、主动公开政府信息情况
    proactive: ProactiveTableSchema,
    /// 三、收到和处理政府信息公开申请情况
    applications: ApplicationsTableSchema,
    /// 四、政府信息公开行政复议、行政诉讼情况
    remedies: RemediesTable,
}

/// Table 二.
#[derive(ToSchema)]
#[schema(as = ProactiveTable)]
#[serde(deny_unknown_fields)]
pub struct ProactiveTableSchema {
    rows: Vec<ProactiveRowSchema>,
}

/// A row of table 二 with its columns and figures.
#[derive(ToSchema)]
#[schema(as = ProactiveRow)]
#[serde(deny_unknown_fields)]
pub struct ProactiveRowSchema {
    /// The article the block reports on, e.g. 第二十条第（一）项.
    block: String,
    code: ProactiveRowCode,
    label: String,
    columns: Vec<ProactiveColumnSchema>,
    values: ProactiveValues,
}

/// A column of a row of table 二.
#[derive(ToSchema)]
#[schema(as = ProactiveColumn)]
#[serde(deny_unknown_fields)]
pub struct ProactiveColumnSchema {
    code: ProactiveColumnCode,
    label: String,
}

/// Table 三.
#[derive(ToSchema)]
#[schema(as = ApplicationsTable)]
#[serde(deny_unknown_fields)]
pub struct ApplicationsTableSchema {
    columns: Vec<ApplicationColumnCode>,
    /// The balance note printed under the table.
    note: String,
    rows: Vec<ApplicationRowSchema>,
}

/// A row of table 三.
#[derive(ToSchema)]
#[schema(as = ApplicationRow)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRowSchema {
    code: ApplicationRowCode,
    label: String,
    /// The merged label cells to the left (三、本年度办理结果, （三）不予公开 …); absent when none.
    groups: Option<Vec<String>>,
    values: ApplicationValues,
}

/// A check of the report (§9's identities, the narrative's agreement with the tables, table
/// 二's continuity).
#[derive(ToSchema)]
#[schema(as = ReportCheck)]
#[serde(deny_unknown_fields)]
pub struct CheckSchema {
    /// Stable code of the check.
    code: String,
    holds: bool,
    /// `error` blocks publishing, `warning` does not.
    severity: SeverityCode,
    detail: String,
}

/// Fees of the year (the facts for section 六).
#[derive(ToSchema)]
#[schema(as = ReportFees)]
#[serde(deny_unknown_fields)]
pub struct FeesSchema {
    /// Fee notices issued in the year.
    notices: i64,
    /// Yuan with two decimals, e.g. `"120.00"`.
    #[schema(pattern = r"^[0-9]+\.[0-9]{2}$")]
    amount_charged_yuan: String,
    #[schema(pattern = r"^[0-9]+\.[0-9]{2}$")]
    amount_collected_yuan: String,
}

/// The six sections of the narrative (a section not written yet is an empty string).
#[derive(ToSchema)]
#[schema(as = ReportNarrative)]
#[serde(deny_unknown_fields)]
pub struct NarrativeSchema {
    /// 一、总体情况
    overview: String,
    /// 二、主动公开政府信息情况 (the paragraph before table 二)
    proactive_text: String,
    /// 三、收到和处理政府信息公开申请情况 (the paragraph before table 三)
    applications_text: String,
    /// 四、政府信息公开行政复议、行政诉讼情况 (the paragraph before table 四)
    remedies_text: String,
    /// 五、存在的主要问题及改进情况
    problems_and_improvements: String,
    /// 六、其他需要报告的事项
    other_matters: String,
}

/// An agency summed in a roll-up.
#[derive(ToSchema)]
#[schema(as = RollupAgency)]
#[serde(deny_unknown_fields)]
pub struct RollupAgencySchema {
    agency_id: Uuid,
    code: String,
    name: String,
    published: bool,
}

/// An entry of a drill-down: an application (as in the application list) or a review or
/// lawsuit.
#[derive(ToSchema)]
#[schema(as = CellItem)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum CellItemSchema {
    Request(super::requests::RequestDto),
    Remedy(super::remedies::RemedyDto),
}
