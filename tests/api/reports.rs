//! The yearly report (domain.md §9) through HTTP: the official layout of tables 二, 三 and 四 in
//! both formats, the counting rules of table 三 (receipt and closing dates, awaiting
//! confirmation) and of table 四 (received in the year, outcome as of 31 December), the
//! identities reported as checks, the entered parts, publishing with frozen versions and the
//! `period_published` guards, reopening, drill-down, the four exports and the roll-up.
//!
//! Expected figures come from the rules themselves, not from the code under test: literal
//! expectations, and for the random workloads an independent model of the counting rules.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    a_report_is_published_only_for_a_year_that_is_over_and_its_deadline_is_tracked,
    an_agency_without_applications_gets_an_all_zero_report_in_the_official_layout,
    applications_count_by_receipt_and_closing_dates_and_the_identities_hold,
    random_workloads_over_three_years_match_the_counting_rules_and_keep_every_identity,
    table_4_counts_cases_received_in_the_year_with_their_outcome_as_of_31_december,
    entered_figures_and_narrative_are_validated_and_appear_in_the_report,
    report_writes_need_the_current_etag,
    a_narrative_that_disagrees_with_table_3_or_leaves_a_section_empty_is_not_published,
    table_2_continuity_with_the_published_year_before_is_a_warning_that_does_not_block,
    publishing_freezes_the_report_and_guards_the_year_until_it_is_reopened,
    a_cell_lists_exactly_the_records_it_counts,
    exports_render_the_report_as_json_csv_html_and_xlsx,
    a_rollup_sums_the_agencies_below_and_says_which_have_published,
    a_back_dated_change_that_would_alter_a_published_later_year_is_refused,
);

// ---------------------------------------------------------------------------------------------
// The official layout (domain.md §2, §6, §9), written out independently of the code
// ---------------------------------------------------------------------------------------------

const RID: &str = "110101199003071233";
const CREDIT: &str = "91350100M000100Y43";

/// The six applicant columns of table 三, then the derived total.
const KINDS: [&str; 6] = [
    "natural_person",
    "commercial_enterprise",
    "research_institution",
    "social_welfare_organization",
    "legal_service_institution",
    "other_organization",
];
const COLUMNS: [&str; 7] = [
    "natural_person",
    "commercial_enterprise",
    "research_institution",
    "social_welfare_organization",
    "legal_service_institution",
    "other_organization",
    "total",
];

const NOTE: &str = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）";
const RESULTS: &str = "三、本年度办理结果";

/// The 21 dispositions in report order: code, row label (2021 format), merged sub-group.
const DISPOSITIONS: [(&str, &str, Option<&str>); 21] = [
    ("granted", "（一）予以公开", None),
    (
        "partially_granted",
        "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
        None,
    ),
    (
        "denied.state_secret",
        "1.属于国家秘密",
        Some("（三）不予公开"),
    ),
    (
        "denied.prohibited_by_law",
        "2.其他法律行政法规禁止公开",
        Some("（三）不予公开"),
    ),
    (
        "denied.security_stability",
        "3.危及“三安全一稳定”",
        Some("（三）不予公开"),
    ),
    (
        "denied.third_party_rights",
        "4.保护第三方合法权益",
        Some("（三）不予公开"),
    ),
    (
        "denied.internal_affairs",
        "5.属于三类内部事务信息",
        Some("（三）不予公开"),
    ),
    (
        "denied.process_information",
        "6.属于四类过程性信息",
        Some("（三）不予公开"),
    ),
    (
        "denied.enforcement_file",
        "7.属于行政执法案卷",
        Some("（三）不予公开"),
    ),
    (
        "denied.administrative_inquiry",
        "8.属于行政查询事项",
        Some("（三）不予公开"),
    ),
    (
        "unavailable.not_held",
        "1.本机关不掌握相关政府信息",
        Some("（四）无法提供"),
    ),
    (
        "unavailable.needs_creation",
        "2.没有现成信息需要另行制作",
        Some("（四）无法提供"),
    ),
    (
        "unavailable.still_unclear",
        "3.补正后申请内容仍不明确",
        Some("（四）无法提供"),
    ),
    (
        "not_processed.petition",
        "1.信访举报投诉类申请",
        Some("（五）不予处理"),
    ),
    (
        "not_processed.repeated",
        "2.重复申请",
        Some("（五）不予处理"),
    ),
    (
        "not_processed.publication",
        "3.要求提供公开出版物",
        Some("（五）不予处理"),
    ),
    (
        "not_processed.mass_repeated",
        "4.无正当理由大量反复申请",
        Some("（五）不予处理"),
    ),
    (
        "not_processed.confirmation",
        "5.要求行政机关确认或重新出具已获取信息",
        Some("（五）不予处理"),
    ),
    (
        "other.uncorrected",
        "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        Some("（六）其他处理"),
    ),
    (
        "other.unpaid",
        "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        Some("（六）其他处理"),
    ),
    ("other.other", "3.其他", Some("（六）其他处理")),
];

/// One expected row of table 三: code, label, merged group labels.
type RowLayout = (String, String, Vec<String>);

/// Table 三's rows in order for a report year (2021 format from 2021, else the 2019 trial
/// format with a single `other` row).
fn table3_layout(year: i32) -> Vec<RowLayout> {
    let mut rows = vec![
        (
            "new".to_string(),
            "一、本年新收政府信息公开申请数量".to_string(),
            vec![],
        ),
        (
            "carried_in".to_string(),
            "二、上年结转政府信息公开申请数量".to_string(),
            vec![],
        ),
    ];
    for (code, label, sub) in DISPOSITIONS {
        if year < 2021 && code.starts_with("other.") {
            continue;
        }
        let mut groups = vec![RESULTS.to_string()];
        groups.extend(sub.map(str::to_string));
        rows.push((code.to_string(), label.to_string(), groups));
    }
    if year < 2021 {
        rows.push((
            "other".to_string(),
            "（六）其他处理".to_string(),
            vec![RESULTS.to_string()],
        ));
    }
    rows.push((
        "total".to_string(),
        "（七）总计".to_string(),
        vec![RESULTS.to_string()],
    ));
    rows.push((
        "carried_out".to_string(),
        "四、结转下年度继续办理".to_string(),
        vec![],
    ));
    rows
}

/// Table 二's rows: (block, code, label, [(column code, column label)]).
type ProactiveLayout = Vec<(
    &'static str,
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
)>;

fn table2_layout(year: i32) -> ProactiveLayout {
    if year >= 2021 {
        let docs = vec![
            ("made", "本年制发件数"),
            ("abolished", "本年废止件数"),
            ("in_force", "现行有效件数"),
        ];
        let decisions = vec![("decisions", "本年处理决定数量")];
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
                vec![("amount_wan_yuan", "本年收费金额（单位：万元）")],
            ),
        ]
    } else {
        let docs = vec![
            ("made", "本年新制作数量"),
            ("published", "本年新公开数量"),
            ("total_public", "对外公开总数量"),
        ];
        let items = vec![
            ("previous_year_items", "上一年项目数量"),
            ("change", "本年增/减"),
            ("decisions", "处理决定数量"),
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
                    ("previous_year_items", "上一年项目数量"),
                    ("change", "本年增/减"),
                ],
            ),
            (
                "第二十条第（九）项",
                "procurement",
                "政府集中采购",
                vec![("items", "采购项目数量"), ("amount_wan_yuan", "采购总金额")],
            ),
        ]
    }
}

const REMEDY_GROUPS: [&str; 3] = ["review", "litigation_direct", "litigation_after_review"];
const OUTCOMES: [&str; 5] = ["upheld", "corrected", "other", "pending", "total"];

const SECTIONS: [&str; 6] = [
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、存在的主要问题及改进情况",
    "六、其他需要报告的事项",
];

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn id_of(v: &Value) -> String {
    s(&v["id"]).to_string()
}

fn date(d: &str) -> NaiveDate {
    NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date")
}

/// The service's today (the pinned clock every test app runs on), where the agency is.
fn today() -> NaiveDate {
    crate::helpers::test_clock().today()
}

fn applicant(kind: &str) -> Value {
    if kind == "natural_person" {
        json!({
            "kind": kind,
            "name": "张三",
            "id_document": {"type": "resident_id_card", "number": RID},
            "phone": "010-65123456",
        })
    } else {
        json!({
            "kind": kind,
            "name": "某某单位",
            "credit_code": CREDIT,
            "contact_person": "王经理",
            "phone": "010-65123456",
        })
    }
}

fn arrival(day: NaiveDate) -> String {
    format!("{day}T09:30:00+08:00")
}

/// Handed in at the counter on `day` (its receipt date) by an applicant of this kind.
fn handed_in(day: &str, kind: &str) -> Value {
    json!({
        "channel": "in_person",
        "arrived_at": arrival(date(day)),
        "applicant": applicant(kind),
        "description": "申请公开本机关年度预算执行情况",
    })
}

/// `body` registered for another agency (admins, for agencies below their own).
fn for_agency(mut body: Value, agency: &str) -> Value {
    body["agency_id"] = json!(agency);
    body
}

async fn intake(app: &TestApp, token: &str, body: &Value) -> Value {
    let r = app.post("/api/v1/requests", token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "intake {body}: {}", r.text);
    r.body
}

/// Sends an action with the application's version as If-Match.
async fn act(app: &TestApp, token: &str, r: &Value, action: &str, body: &Value) -> Resp {
    let id = id_of(r);
    let rb = app
        .request(
            Method::POST,
            &format!("/api/v1/requests/{id}/actions/{action}"),
            Some(token),
        )
        .header("If-Match", format!("\"{}\"", r["version"]))
        .json(body);
    Resp::from(rb.send().await.expect("send")).await
}

/// An action that must succeed; returns the application after it.
async fn step(app: &TestApp, token: &str, r: &Value, action: &str, body: Value) -> Value {
    let resp = act(app, token, r, action, &body).await;
    assert_eq!(
        resp.status,
        StatusCode::OK,
        "{action} {body}: {}",
        resp.text
    );
    resp.body
}

/// A reply with what its disposition requires (domain.md §6).
fn reply(on: &str, disposition: &str) -> Value {
    let mut b = json!({"on": on, "disposition": disposition});
    if disposition == "granted" || disposition == "partially_granted" {
        b["provision"] = json!("以电子邮件方式提供");
    }
    if disposition != "granted" {
        b["reason"] = json!("经审查，依法作出本决定");
    }
    if disposition.starts_with("denied.") {
        b["legal_basis"] = json!("《中华人民共和国政府信息公开条例》第十四条");
    }
    b
}

/// Registers an application handed in on `received` and replies on `replied` (if any).
async fn handled(
    app: &TestApp,
    token: &str,
    agency: Option<&str>,
    kind: &str,
    received: &str,
    replied: Option<(&str, &str)>,
) -> Value {
    let mut body = handed_in(received, kind);
    if let Some(a) = agency {
        body = for_agency(body, a);
    }
    let r = intake(app, token, &body).await;
    assert_eq!(r["receipt_date"], received);
    match replied {
        None => r,
        Some((on, d)) => {
            let r = step(app, token, &r, "reply", reply(on, d)).await;
            assert_eq!(r["disposition"], d);
            r
        }
    }
}

fn report_path(agency: &str, year: i32) -> String {
    format!("/api/v1/agencies/{agency}/reports/{year}")
}

async fn report(app: &TestApp, token: &str, agency: &str, year: i32) -> Value {
    let r = app.get(&report_path(agency, year), token).await;
    assert_eq!(r.status, StatusCode::OK, "report {year}: {}", r.text);
    r.body
}

/// A GET answered with raw bytes (exports).
async fn put_proactive(app: &TestApp, token: &str, path: &str, body: &Value) -> Resp {
    app.report_write(Method::PUT, path, "/proactive", token, body)
        .await
}

async fn patch_proactive(app: &TestApp, token: &str, path: &str, body: &Value) -> Resp {
    app.report_write(Method::PATCH, path, "/proactive", token, body)
        .await
}

async fn put_narrative(app: &TestApp, token: &str, path: &str, body: &Value) -> Resp {
    app.report_write(Method::PUT, path, "/narrative", token, body)
        .await
}

async fn patch_narrative(app: &TestApp, token: &str, path: &str, body: &Value) -> Resp {
    app.report_write(Method::PATCH, path, "/narrative", token, body)
        .await
}

async fn reopen(app: &TestApp, token: &str, path: &str, body: &Value) -> Resp {
    app.report_write(Method::POST, path, "/reopen", token, body)
        .await
}

async fn raw_get(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let r = app
        .request(Method::GET, path, Some(token))
        .send()
        .await
        .expect("send");
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.expect("body").to_vec();
    (status, headers, bytes)
}

type Table = BTreeMap<String, BTreeMap<String, i64>>;

/// Table 三 as row code → column → value, checking that every row has exactly the 7 columns.
fn table3(report: &Value) -> Table {
    let t = &report["tables"]["applications"];
    let mut out = Table::new();
    for row in t["rows"].as_array().expect("rows") {
        let values: BTreeMap<String, i64> = row["values"]
            .as_object()
            .expect("values")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_i64().expect("integer")))
            .collect();
        assert_eq!(
            values.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            COLUMNS.into_iter().collect::<BTreeSet<_>>(),
            "columns of row {}",
            row["code"]
        );
        out.insert(s(&row["code"]).to_string(), values);
    }
    out
}

/// Table 四 as group → outcome → value.
fn table4(report: &Value) -> Table {
    serde_json::from_value(report["tables"]["remedies"].clone()).expect("table 四")
}

/// Table 二 as row code → column → value (as text), each value checked to be a JSON number
/// (an integer but for amounts).
fn table2(report: &Value) -> BTreeMap<String, BTreeMap<String, String>> {
    report["tables"]["proactive"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let values = r["values"]
                .as_object()
                .expect("values")
                .iter()
                .map(|(col, v)| {
                    assert!(v.is_number(), "{col}: {v} is not a number");
                    assert!(col == "amount_wan_yuan" || v.is_i64(), "{col}: {v}");
                    (col.clone(), v.to_string())
                })
                .collect();
            (s(&r["code"]).to_string(), values)
        })
        .collect()
}

/// Asserts that every check of the report holds.
#[track_caller]
fn assert_checks_hold(report: &Value) {
    let checks = report["checks"].as_array().expect("checks");
    assert!(!checks.is_empty());
    let failed: Vec<&Value> = checks.iter().filter(|c| c["holds"] != true).collect();
    assert!(
        failed.is_empty(),
        "{} {}: failed checks {failed:?}",
        report["agency_code"],
        report["year"]
    );
}

/// The check codes of a year after 2019 (with the carried-in identity against the year before).
fn check_codes() -> BTreeSet<String> {
    let mut c = BTreeSet::new();
    for col in COLUMNS {
        c.insert(format!("balance.{col}"));
        c.insert(format!("total_is_sum_of_results.{col}"));
        c.insert(format!("carried_in_matches_last_year.{col}"));
    }
    c.insert("total_column_is_sum_of_columns".into());
    c.insert("non_negative".into());
    for g in REMEDY_GROUPS {
        c.insert(format!("remedies.{g}.total"));
    }
    c
}

/// The identities of §9 re-checked on the figures themselves (not on the API's own checks).
#[track_caller]
fn assert_identities(t: &Table, year: i32) {
    let results: Vec<String> = table3_layout(year)
        .into_iter()
        .map(|(c, _, _)| c)
        .filter(|c| !matches!(c.as_str(), "new" | "carried_in" | "total" | "carried_out"))
        .collect();
    for col in COLUMNS {
        let v = |row: &str| t[row][col];
        assert_eq!(
            v("new") + v("carried_in"),
            v("total") + v("carried_out"),
            "{year} balance in {col}"
        );
        let sum: i64 = results.iter().map(|r| t[r][col]).sum();
        assert_eq!(
            sum,
            v("total"),
            "{year} total is the sum of results in {col}"
        );
    }
    for (code, values) in t {
        let sum: i64 = KINDS.iter().map(|k| values[*k]).sum();
        assert_eq!(sum, values["total"], "{year} row {code}: total column");
        assert!(values.values().all(|v| *v >= 0), "{year} row {code}");
    }
}

/// An expected table 三 from counts per (row, kind): every row and column, with the `total`
/// row and column derived.
fn expected_table3(year: i32, counts: &BTreeMap<(String, String), i64>) -> Table {
    let layout = table3_layout(year);
    let mut t = Table::new();
    for (code, _, _) in &layout {
        let mut values = BTreeMap::new();
        for k in KINDS {
            let n = if code == "other" {
                counts
                    .iter()
                    .filter(|((r, kind), _)| r.starts_with("other.") && kind == k)
                    .map(|(_, n)| *n)
                    .sum()
            } else {
                counts
                    .get(&(code.clone(), k.to_string()))
                    .copied()
                    .unwrap_or(0)
            };
            values.insert(k.to_string(), n);
        }
        t.insert(code.clone(), values);
    }
    let mut total_row: BTreeMap<String, i64> = KINDS.iter().map(|k| (k.to_string(), 0)).collect();
    for (code, _, _) in &layout {
        if !matches!(
            code.as_str(),
            "new" | "carried_in" | "total" | "carried_out"
        ) {
            for k in KINDS {
                *total_row.get_mut(k).expect("kind") += t[code][k];
            }
        }
    }
    t.insert("total".into(), total_row);
    for values in t.values_mut() {
        let sum = KINDS.iter().map(|k| values[*k]).sum();
        values.insert("total".into(), sum);
    }
    t
}

/// An expected table 四 from counts per (group, outcome).
fn expected_table4(counts: &BTreeMap<(&str, &str), i64>) -> Table {
    let mut t = Table::new();
    for g in REMEDY_GROUPS {
        let mut values = BTreeMap::new();
        let mut total = 0;
        for o in &OUTCOMES[..4] {
            let n = counts.get(&(g, *o)).copied().unwrap_or(0);
            total += n;
            values.insert(o.to_string(), n);
        }
        values.insert("total".into(), total);
        t.insert(g.to_string(), values);
    }
    t
}

fn counts(entries: &[(&str, &str, i64)]) -> BTreeMap<(String, String), i64> {
    let mut m = BTreeMap::new();
    for (row, kind, n) in entries {
        *m.entry((row.to_string(), kind.to_string())).or_insert(0) += n;
    }
    m
}

fn review(filed_on: &str) -> Value {
    json!({"applicant_name": "张三", "reviewing_body": "某市人民政府", "filed_on": filed_on})
}

fn direct_suit(filed_on: &str) -> Value {
    json!({"applicant_name": "张三", "court": "某区人民法院", "route": "direct", "filed_on": filed_on})
}

fn suit_after(review_id: &str, filed_on: &str) -> Value {
    json!({
        "applicant_name": "张三", "court": "某区人民法院", "route": "after_review",
        "review_id": review_id, "filed_on": filed_on,
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("object") {
        base[k] = v.clone();
    }
    base
}

fn decided(decision_type: &str, decided_on: &str) -> Value {
    json!({"decision_type": decision_type, "decided_on": decided_on})
}

async fn record(app: &TestApp, token: &str, base: &str, body: &Value) -> Value {
    let r = app.post(base, token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "record {body}: {}", r.text);
    r.body
}

const REVIEWS: &str = "/api/v1/reviews";
const SUITS: &str = "/api/v1/litigations";

struct Staff {
    admin: String,
    clerk: String,
    root: String,
}

async fn staff(app: &TestApp) -> Staff {
    let root = app.root_agency_id().await;
    let (_, clerk) = app.create_user(&root, "clerk1", &["clerk"]).await;
    Staff {
        admin: app.admin_token().await,
        clerk,
        root,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The empty report and the layout of both formats
// ---------------------------------------------------------------------------------------------

async fn an_agency_without_applications_gets_an_all_zero_report_in_the_official_layout(
    app: TestApp,
) {
    let st = staff(&app).await;
    for year in [2019, 2020, 2021, 2025, 2026] {
        let r = report(&app, &st.clerk, &st.root, year).await;
        let format = if year >= 2021 { "2021" } else { "2019" };
        assert_eq!(r["year"], year);
        assert_eq!(r["agency_id"], st.root.as_str());
        assert_eq!(r["format"], format, "{year}");
        assert_eq!(r["status"], "draft");
        assert_eq!(r["version"], 1);
        assert_eq!(r["published_at"], Value::Null);

        // Table 三: note, columns, rows in order with their exact labels and merged groups.
        let t = &r["tables"]["applications"];
        assert_eq!(t["note"], NOTE);
        assert_eq!(t["columns"], json!(COLUMNS));
        let rows = t["rows"].as_array().expect("rows");
        let layout = table3_layout(year);
        assert_eq!(rows.len(), if year >= 2021 { 25 } else { 23 }, "{year}");
        let got: Vec<RowLayout> = rows
            .iter()
            .map(|row| {
                let groups = row
                    .get("groups")
                    .and_then(Value::as_array)
                    .map(|g| g.iter().map(|x| s(x).to_string()).collect())
                    .unwrap_or_default();
                (
                    s(&row["code"]).to_string(),
                    s(&row["label"]).to_string(),
                    groups,
                )
            })
            .collect();
        assert_eq!(got, layout, "table 三 rows of {year}");
        assert_eq!(rows[0]["label"], "一、本年新收政府信息公开申请数量");
        assert_eq!(rows[rows.len() - 2]["label"], "（七）总计");
        assert_eq!(rows[rows.len() - 1]["label"], "四、结转下年度继续办理");
        let codes: BTreeSet<&str> = rows.iter().map(|r| s(&r["code"])).collect();
        if year >= 2021 {
            assert!(!codes.contains("other"));
            for c in ["other.uncorrected", "other.unpaid", "other.other"] {
                assert!(codes.contains(c), "{c}");
            }
        } else {
            assert!(codes.contains("other"));
            assert!(!codes.iter().any(|c| c.starts_with("other.")), "{codes:?}");
        }
        let t3 = table3(&r);
        assert!(
            t3.values().all(|v| v.values().all(|n| *n == 0)),
            "{year}: {t3:?}"
        );

        // Table 四: three groups of five, all zero.
        assert_eq!(table4(&r), expected_table4(&BTreeMap::new()));

        // Table 二: the rows and columns of the format, every value the number 0.
        let rows2 = r["tables"]["proactive"]["rows"].as_array().expect("rows");
        let layout2 = table2_layout(year);
        assert_eq!(rows2.len(), layout2.len(), "{year}");
        for (row, (block, code, label, cols)) in rows2.iter().zip(&layout2) {
            assert_eq!(row["block"], *block);
            assert_eq!(row["code"], *code);
            assert_eq!(row["label"], *label);
            let got_cols: Vec<(String, String)> = row["columns"]
                .as_array()
                .expect("columns")
                .iter()
                .map(|c| (s(&c["code"]).to_string(), s(&c["label"]).to_string()))
                .collect();
            let want: Vec<(String, String)> = cols
                .iter()
                .map(|(c, l)| (c.to_string(), l.to_string()))
                .collect();
            assert_eq!(got_cols, want, "{year} {code}");
            let zeros: BTreeMap<String, Value> = cols
                .iter()
                .map(|(c, _)| (c.to_string(), json!(0)))
                .collect();
            assert_eq!(
                serde_json::from_value::<BTreeMap<String, Value>>(row["values"].clone())
                    .expect("values"),
                zeros
            );
        }

        // Checks: all hold; after 2019 the full set, with the carried-in identity.
        assert_checks_hold(&r);
        let got_checks: BTreeSet<String> = r["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| s(&c["code"]).to_string())
            .collect();
        if year > 2019 {
            assert_eq!(got_checks, check_codes(), "{year}");
        } else {
            let without: BTreeSet<String> = check_codes()
                .into_iter()
                .filter(|c| !c.starts_with("carried_in_matches_last_year"))
                .collect();
            assert!(got_checks.is_superset(&without), "{got_checks:?}");
        }

        assert_eq!(
            r["fees"],
            json!({"notices": 0, "amount_charged_yuan": "0.00", "amount_collected_yuan": "0.00"})
        );
        assert_eq!(
            r["narrative"],
            json!({"overview": "", "proactive_text": "", "applications_text": "",
                   "remedies_text": "", "problems_and_improvements": "", "other_matters": ""})
        );
    }
    // Table 二 differs by format.
    let a = report(&app, &st.clerk, &st.root, 2020).await;
    let b = report(&app, &st.clerk, &st.root, 2021).await;
    assert_ne!(a["tables"]["proactive"], b["tables"]["proactive"]);
    assert!(table2(&a).contains_key("procurement"));
    assert!(!table2(&b).contains_key("procurement"));

    // Years outside 2019..=this year do not exist.
    let next = app.year() + 1;
    for year in [2018, next] {
        let r = app.get(&report_path(&st.root, year), &st.clerk).await;
        r.assert_problem(404, "not_found");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Counting applications
// ---------------------------------------------------------------------------------------------

async fn applications_count_by_receipt_and_closing_dates_and_the_identities_hold(app: TestApp) {
    let st = staff(&app).await;
    let c = &st.clerk;
    // Received and closed in 2025.
    handled(
        &app,
        c,
        None,
        "natural_person",
        "2025-03-10",
        Some(("2025-03-20", "granted")),
    )
    .await;
    handled(
        &app,
        c,
        None,
        "natural_person",
        "2025-05-06",
        Some(("2025-05-07", "granted")),
    )
    .await;
    handled(
        &app,
        c,
        None,
        "commercial_enterprise",
        "2025-04-01",
        Some(("2025-04-15", "denied.state_secret")),
    )
    .await;
    let w = handled(
        &app,
        c,
        None,
        "social_welfare_organization",
        "2025-06-02",
        None,
    )
    .await;
    let w = step(
        &app,
        c,
        &w,
        "withdraw",
        json!({"on": "2025-06-09", "reason": "申请人撤回申请"}),
    )
    .await;
    assert_eq!(w["disposition"], "other.other");
    // Received in 2025, still open: carried out of 2025 and into 2026.
    handled(&app, c, None, "research_institution", "2025-11-20", None).await;
    // Received in 2025, closed in 2026.
    handled(
        &app,
        c,
        None,
        "natural_person",
        "2025-12-15",
        Some(("2026-01-10", "not_processed.petition")),
    )
    .await;
    // A registered letter signed for on 31 December: received in 2025, open.
    let letter = json!({
        "channel": "letter",
        "arrived_at": "2025-12-30T10:00:00+08:00",
        "signed_for_on": "2025-12-31",
        "applicant": applicant("legal_service_institution"),
        "description": "申请公开律师事务所执业许可信息",
    });
    let l = intake(&app, c, &letter).await;
    assert_eq!(l["receipt_date"], "2025-12-31");
    // Online, arrived in 2024 but confirmed in 2025: received in 2025.
    let online = json!({
        "channel": "online",
        "arrived_at": "2024-12-30T16:00:00+08:00",
        "confirmed_on": "2025-01-02",
        "applicant": applicant("other_organization"),
        "description": "申请公开本机关2024年度决算",
    });
    let o = intake(&app, c, &online).await;
    assert_eq!(o["receipt_date"], "2025-01-02");
    step(&app, c, &o, "reply", reply("2025-01-05", "granted")).await;
    // Awaiting confirmation: not received, counted nowhere.
    let waiting = json!({
        "channel": "online",
        "arrived_at": "2025-05-05T10:00:00+08:00",
        "applicant": applicant("natural_person"),
        "description": "申请公开某项目审批文件",
    });
    let a = intake(&app, c, &waiting).await;
    assert_eq!(a["state"], "awaiting_confirmation");
    assert_eq!(a["receipt_date"], Value::Null);
    // Received in 2024, closed in 2025: carried into 2025.
    handled(
        &app,
        c,
        None,
        "natural_person",
        "2024-06-03",
        Some(("2025-02-03", "partially_granted")),
    )
    .await;
    // Received in 2024 and closed in 2024: not in 2025 at all.
    handled(
        &app,
        c,
        None,
        "commercial_enterprise",
        "2024-07-01",
        Some(("2024-07-02", "unavailable.not_held")),
    )
    .await;
    // The year's edges: closed on 31 December, received on 31 December and closed on
    // 1 January, received on 1 January of the next year.
    handled(
        &app,
        c,
        None,
        "social_welfare_organization",
        "2025-12-30",
        Some(("2025-12-31", "not_processed.repeated")),
    )
    .await;
    handled(
        &app,
        c,
        None,
        "research_institution",
        "2024-12-31",
        Some(("2025-01-01", "unavailable.needs_creation")),
    )
    .await;
    handled(
        &app,
        c,
        None,
        "legal_service_institution",
        "2026-01-01",
        None,
    )
    .await;
    // A fee notice and its payment in 2025 (still open afterwards).
    let f = handled(&app, c, None, "natural_person", "2025-09-01", None).await;
    let f = step(
        &app,
        c,
        &f,
        "issue_fee_notice",
        json!({"on": "2025-09-02", "basis": "per_page", "pages": 45, "amount_fen": 15_000}),
    )
    .await;
    step(
        &app,
        c,
        &f,
        "record_payment",
        json!({"on": "2025-09-10", "amount_fen": 15_000}),
    )
    .await;

    let expected_2024 = expected_table3(
        2024,
        &counts(&[
            ("new", "natural_person", 1),
            ("new", "commercial_enterprise", 1),
            ("new", "research_institution", 1),
            ("unavailable.not_held", "commercial_enterprise", 1),
            ("carried_out", "natural_person", 1),
            ("carried_out", "research_institution", 1),
        ]),
    );
    let expected_2025 = expected_table3(
        2025,
        &counts(&[
            ("new", "natural_person", 4),
            ("new", "commercial_enterprise", 1),
            ("new", "research_institution", 1),
            ("new", "social_welfare_organization", 2),
            ("new", "legal_service_institution", 1),
            ("new", "other_organization", 1),
            ("carried_in", "natural_person", 1),
            ("carried_in", "research_institution", 1),
            ("unavailable.needs_creation", "research_institution", 1),
            ("not_processed.repeated", "social_welfare_organization", 1),
            ("granted", "natural_person", 2),
            ("granted", "other_organization", 1),
            ("partially_granted", "natural_person", 1),
            ("denied.state_secret", "commercial_enterprise", 1),
            ("other.other", "social_welfare_organization", 1),
            ("carried_out", "natural_person", 2),
            ("carried_out", "research_institution", 1),
            ("carried_out", "legal_service_institution", 1),
        ]),
    );
    let expected_2026 = expected_table3(
        2026,
        &counts(&[
            ("new", "legal_service_institution", 1),
            ("carried_in", "natural_person", 2),
            ("carried_in", "research_institution", 1),
            ("carried_in", "legal_service_institution", 1),
            ("not_processed.petition", "natural_person", 1),
            ("carried_out", "natural_person", 1),
            ("carried_out", "research_institution", 1),
            ("carried_out", "legal_service_institution", 2),
        ]),
    );
    let mut previous_out: Option<BTreeMap<String, i64>> = None;
    for (year, expected) in [
        (2024, &expected_2024),
        (2025, &expected_2025),
        (2026, &expected_2026),
    ] {
        let r = report(&app, c, &st.root, year).await;
        let t = table3(&r);
        assert_eq!(&t, expected, "table 三 of {year}");
        assert_identities(&t, year);
        assert_checks_hold(&r);
        if let Some(prev) = &previous_out {
            assert_eq!(
                &t["carried_in"],
                prev,
                "carried_in {year} = carried_out {}",
                year - 1
            );
        }
        previous_out = Some(t["carried_out"].clone());
        // Every row's drill-down (total column) lists as many applications as it counts.
        for (row, _, _) in table3_layout(year) {
            let r = cell(
                &app,
                c,
                &st.root,
                year,
                &format!("{row}/total?per_page=200"),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert_eq!(
                r.body["total"], t[&row]["total"],
                "cell {row}/total of {year}"
            );
            assert_eq!(
                r.body["items"].as_array().map(Vec::len),
                usize::try_from(t[&row]["total"]).ok(),
                "cell {row}/total of {year}"
            );
        }
    }
    // A few cells spelled out.
    assert_eq!(expected_2025["new"]["total"], 10);
    assert_eq!(expected_2025["carried_in"]["total"], 2);
    assert_eq!(expected_2025["total"]["total"], 8);
    assert_eq!(expected_2025["carried_out"]["total"], 4);

    // The 2019 trial format (2020): the three `other.*` dispositions count in one row.
    let w = handled(&app, c, None, "natural_person", "2020-05-06", None).await;
    let w = step(
        &app,
        c,
        &w,
        "withdraw",
        json!({"on": "2020-05-08", "reason": "申请人撤回申请"}),
    )
    .await;
    let u = handled(&app, c, None, "natural_person", "2020-06-01", None).await;
    let u = step(
        &app,
        c,
        &u,
        "request_correction",
        json!({"on": "2020-06-01", "items": ["请明确所需信息"], "reply_by": "2020-06-11"}),
    )
    .await;
    let u = step(
        &app,
        c,
        &u,
        "close_uncorrected",
        json!({"on": "2020-06-20"}),
    )
    .await;
    assert_eq!(u["disposition"], "other.uncorrected");
    handled(
        &app,
        c,
        None,
        "commercial_enterprise",
        "2020-12-30",
        Some(("2021-01-04", "granted")),
    )
    .await;
    let r2020 = report(&app, c, &st.root, 2020).await;
    let t2020 = table3(&r2020);
    assert_eq!(
        t2020,
        expected_table3(
            2020,
            &counts(&[
                ("new", "natural_person", 2),
                ("new", "commercial_enterprise", 1),
                ("other.other", "natural_person", 1),
                ("other.uncorrected", "natural_person", 1),
                ("carried_out", "commercial_enterprise", 1),
            ])
        )
    );
    assert_eq!(t2020["other"]["natural_person"], 2);
    assert_identities(&t2020, 2020);
    assert_checks_hold(&r2020);
    let r = cell(&app, c, &st.root, 2020, "other/natural_person").await;
    assert_eq!(ids(&r), BTreeSet::from([id_of(&w), id_of(&u)]));
    let r2021 = report(&app, c, &st.root, 2021).await;
    let t2021 = table3(&r2021);
    assert_eq!(t2021["carried_in"], t2020["carried_out"]);
    assert_eq!(t2021["granted"]["commercial_enterprise"], 1);
    assert_checks_hold(&r2021);

    // The fee facts of section 六 follow the notice and payment dates.
    let r = report(&app, c, &st.root, 2025).await;
    assert_eq!(
        r["fees"],
        json!({"notices": 1, "amount_charged_yuan": "150.00", "amount_collected_yuan": "150.00"})
    );
    let r = report(&app, c, &st.root, 2026).await;
    assert_eq!(r["fees"]["notices"], 0);

    // Confirming the waiting one in 2026 counts it as received in 2026, not 2025.
    let a = step(&app, c, &a, "confirm_receipt", json!({"on": "2026-01-06"})).await;
    assert_eq!(a["receipt_date"], "2026-01-06");
    assert_eq!(
        table3(&report(&app, c, &st.root, 2025).await),
        expected_2025
    );
    let t = table3(&report(&app, c, &st.root, 2026).await);
    assert_eq!(t["new"]["natural_person"], 1);
    assert_eq!(t["carried_out"]["natural_person"], 2);
    assert_identities(&t, 2026);
}

// ---------------------------------------------------------------------------------------------
// 3. Random workloads against a model of the counting rules
// ---------------------------------------------------------------------------------------------

/// What the model knows of an application.
#[derive(Debug, Clone)]
struct ModelApp {
    id: String,
    kind: &'static str,
    receipt: Option<NaiveDate>,
    closed: Option<(NaiveDate, &'static str)>,
}

/// What the model knows of a case: group, the day the agency received it, decision and outcome.
#[derive(Debug, Clone)]
struct ModelCase {
    group: &'static str,
    received: NaiveDate,
    decided: Option<(NaiveDate, &'static str)>,
}

/// Dispositions a plain `reply` may record.
const REPLYABLE: [&str; 18] = [
    "granted",
    "partially_granted",
    "denied.state_secret",
    "denied.prohibited_by_law",
    "denied.security_stability",
    "denied.third_party_rights",
    "denied.internal_affairs",
    "denied.process_information",
    "denied.enforcement_file",
    "denied.administrative_inquiry",
    "unavailable.not_held",
    "unavailable.needs_creation",
    "not_processed.petition",
    "not_processed.repeated",
    "not_processed.publication",
    "not_processed.mass_repeated",
    "not_processed.confirmation",
    "other.other",
];

/// Review decision types with their outcome; lawsuits have all but `upheld`.
const DECISIONS: [(&str, &str); 11] = [
    ("upheld", "upheld"),
    ("claim_rejected", "upheld"),
    ("revoked", "corrected"),
    ("varied", "corrected"),
    ("confirmed_unlawful", "corrected"),
    ("confirmed_void", "corrected"),
    ("ordered_to_act", "corrected"),
    ("application_rejected", "other"),
    ("withdrawn", "other"),
    ("terminated", "other"),
    ("mediated", "other"),
];

fn model_table3(apps: &[ModelApp], year: i32) -> Table {
    let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("date");
    let end = NaiveDate::from_ymd_opt(year, 12, 31).expect("date");
    let mut entries: Vec<(String, &str)> = Vec::new();
    for a in apps {
        let Some(receipt) = a.receipt else { continue };
        let closed_on = a.closed.map(|(d, _)| d);
        if receipt >= start && receipt <= end {
            entries.push(("new".into(), a.kind));
        }
        if receipt < start && closed_on.is_none_or(|c| c >= start) {
            entries.push(("carried_in".into(), a.kind));
        }
        if receipt <= end && closed_on.is_none_or(|c| c > end) {
            entries.push(("carried_out".into(), a.kind));
        }
        if let Some((d, disposition)) = a.closed
            && d >= start
            && d <= end
        {
            entries.push((disposition.to_string(), a.kind));
        }
    }
    let mut m = BTreeMap::new();
    for (row, kind) in entries {
        *m.entry((row, kind.to_string())).or_insert(0) += 1;
    }
    expected_table3(year, &m)
}

/// The ids the model counts in one cell (row `new`, `carried_in`, `carried_out`, `total` or a
/// disposition; column `total`).
fn model_cell(apps: &[ModelApp], year: i32, row: &str) -> BTreeSet<String> {
    let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("date");
    let end = NaiveDate::from_ymd_opt(year, 12, 31).expect("date");
    apps.iter()
        .filter(|a| {
            let Some(receipt) = a.receipt else {
                return false;
            };
            let closed_in_year = a.closed.filter(|(d, _)| *d >= start && *d <= end);
            match row {
                "new" => receipt >= start && receipt <= end,
                "carried_in" => receipt < start && a.closed.is_none_or(|(c, _)| c >= start),
                "carried_out" => receipt <= end && a.closed.is_none_or(|(c, _)| c > end),
                "total" => closed_in_year.is_some(),
                d => closed_in_year.is_some_and(|(_, x)| x == d),
            }
        })
        .map(|a| a.id.clone())
        .collect()
}

/// Table 四 under the default rule: received in the year, outcome as of 31 December.
fn model_table4(cases: &[ModelCase], year: i32) -> Table {
    let end = NaiveDate::from_ymd_opt(year, 12, 31).expect("date");
    let mut m: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for c in cases.iter().filter(|c| c.received.year() == year) {
        let outcome = match c.decided {
            Some((d, o)) if d <= end => o,
            _ => "pending",
        };
        *m.entry((c.group, outcome)).or_insert(0) += 1;
    }
    expected_table4(&m)
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// A date between `from` and `from + max_days`, never after today.
fn later(rng: &mut StdRng, from: NaiveDate, max_days: i64) -> NaiveDate {
    (from + Duration::days(rng.random_range(0..=max_days))).min(today())
}

/// Draws and registers one workload of applications and cases in `agency`; returns the model.
async fn random_workload(
    app: &TestApp,
    token: &str,
    agency: &str,
    seed: u64,
    applications: usize,
    cases: usize,
) -> (Vec<ModelApp>, Vec<ModelCase>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let first = date("2023-01-01");
    let mut apps = Vec::new();
    for _ in 0..applications {
        let kind = pick(&mut rng, &KINDS);
        let arrived = first + Duration::days(rng.random_range(0..(365 * 3)));
        let mut body = json!({
            "arrived_at": arrival(arrived),
            "applicant": applicant(kind),
            "description": "申请公开某项政府信息",
            "agency_id": agency,
        });
        // The channel fixes the receipt date, or leaves it to a confirmation.
        let (channel, receipt) = match rng.random_range(0..6) {
            0 | 1 => ("in_person", Some(arrived)),
            2 => {
                let signed = later(&mut rng, arrived, 4);
                body["signed_for_on"] = json!(signed);
                ("letter", Some(signed))
            }
            3 => {
                let confirmed = later(&mut rng, arrived, 6);
                body["confirmed_on"] = json!(confirmed);
                (pick(&mut rng, &["online", "fax", "email"]), Some(confirmed))
            }
            4 => ("other", Some(arrived)),
            _ => (pick(&mut rng, &["online", "letter"]), None),
        };
        body["channel"] = json!(channel);
        let mut r = intake(app, token, &body).await;
        assert_eq!(r["receipt_date"], json!(receipt), "{body}");
        let mut m = ModelApp {
            id: id_of(&r),
            kind,
            receipt,
            closed: None,
        };
        let receipt = match receipt {
            Some(d) => d,
            None => match rng.random_range(0..3) {
                // Confirmed later (perhaps in the next year).
                0 | 1 => {
                    let on = later(&mut rng, arrived, 12);
                    r = step(app, token, &r, "confirm_receipt", json!({"on": on})).await;
                    m.receipt = Some(on);
                    on
                }
                // Withdrawn before it was ever received: counted nowhere.
                _ => {
                    let on = later(&mut rng, arrived, 30);
                    step(
                        app,
                        token,
                        &r,
                        "withdraw",
                        json!({"on": on, "reason": "申请人撤回"}),
                    )
                    .await;
                    m.closed = Some((on, "other.other"));
                    apps.push(m);
                    continue;
                }
            },
        };
        let fate = rng.random_range(0..100);
        let closed = if fate < 20 {
            // Left open: carried over to this day.
            None
        } else if fate < 62 {
            let on = later(&mut rng, receipt, 420);
            let d = pick(&mut rng, &REPLYABLE);
            step(app, token, &r, "reply", reply(&on.to_string(), d)).await;
            Some((on, d))
        } else if fate < 72 {
            let on = later(&mut rng, receipt, 420);
            step(
                app,
                token,
                &r,
                "withdraw",
                json!({"on": on, "reason": "申请人撤回申请"}),
            )
            .await;
            Some((on, "other.other"))
        } else if fate < 81 {
            // A correction round: still unclear afterwards, or never corrected.
            let reply_by = receipt + Duration::days(10);
            r = step(
                app,
                token,
                &r,
                "request_correction",
                json!({"on": receipt, "items": ["请明确所需信息的名称"], "reply_by": reply_by}),
            )
            .await;
            if rng.random_bool(0.5) {
                let corrected = receipt + Duration::days(3);
                r = step(
                    app,
                    token,
                    &r,
                    "receive_correction",
                    json!({"on": corrected}),
                )
                .await;
                let on = later(&mut rng, corrected, 60);
                step(
                    app,
                    token,
                    &r,
                    "reply",
                    reply(&on.to_string(), "unavailable.still_unclear"),
                )
                .await;
                Some((on, "unavailable.still_unclear"))
            } else {
                let on = later(&mut rng, reply_by + Duration::days(1), 60);
                step(app, token, &r, "close_uncorrected", json!({"on": on})).await;
                Some((on, "other.uncorrected"))
            }
        } else if fate < 90 {
            // A fee notice never paid: deemed withdrawn after the 20 working days.
            r = step(
                app,
                token,
                &r,
                "issue_fee_notice",
                json!({"on": receipt, "basis": "per_page", "pages": 45, "amount_fen": 15_000}),
            )
            .await;
            let on = later(&mut rng, receipt + Duration::days(45), 40);
            step(app, token, &r, "close_unpaid", json!({"on": on})).await;
            Some((on, "other.unpaid"))
        } else {
            // Paused by a consultation that is still running, or answered.
            let consulted = later(&mut rng, receipt, 5);
            r = step(
                app,
                token,
                &r,
                "start_consultation",
                json!({"on": consulted, "party": "third_party", "whom": "某某公司"}),
            )
            .await;
            if rng.random_bool(0.5) {
                let on = later(&mut rng, consulted, 10);
                r = step(
                    app,
                    token,
                    &r,
                    "end_consultation",
                    json!({"on": on, "opinion": "consent"}),
                )
                .await;
                let replied = later(&mut rng, on, 30);
                step(
                    app,
                    token,
                    &r,
                    "reply",
                    reply(&replied.to_string(), "granted"),
                )
                .await;
                Some((replied, "granted"))
            } else {
                None
            }
        };
        m.closed = closed;
        apps.push(m);
    }

    let mut model_cases = Vec::new();
    for _ in 0..cases {
        let filed = first + Duration::days(rng.random_range(0..(365 * 3)));
        let received = (rng.random_bool(0.5)).then(|| later(&mut rng, filed, 8));
        let decision = rng.random_bool(0.7).then(|| {
            let (t, o) = pick(&mut rng, &DECISIONS);
            (t, o, later(&mut rng, received.unwrap_or(filed), 300))
        });
        let mut extra = json!({"agency_id": agency});
        if let Some(r) = received {
            extra["received_on"] = json!(r);
        }
        let received = received.unwrap_or(filed);
        match rng.random_range(0..3) {
            0 => {
                let mut body = with(review(&filed.to_string()), extra);
                if let Some((t, _, on)) = decision {
                    body = with(body, decided(t, &on.to_string()));
                }
                record(app, token, REVIEWS, &body).await;
                model_cases.push(ModelCase {
                    group: "review",
                    received,
                    decided: decision.map(|(_, o, d)| (d, o)),
                });
            }
            1 => {
                let mut body = with(direct_suit(&filed.to_string()), extra);
                let decision = decision.map(|(t, o, d)| {
                    if t == "upheld" {
                        ("claim_rejected", o, d)
                    } else {
                        (t, o, d)
                    }
                });
                if let Some((t, _, on)) = decision {
                    body = with(body, decided(t, &on.to_string()));
                }
                body["instance"] = json!(pick(&mut rng, &["first", "second", "retrial"]));
                record(app, token, SUITS, &body).await;
                model_cases.push(ModelCase {
                    group: "litigation_direct",
                    received,
                    decided: decision.map(|(_, o, d)| (d, o)),
                });
            }
            _ => {
                // A decided review first (counted too), then the suit after it.
                let (t, o) = pick(&mut rng, &DECISIONS);
                let review_decided = later(&mut rng, filed, 60);
                let rv = record(
                    app,
                    token,
                    REVIEWS,
                    &with(
                        with(review(&filed.to_string()), json!({"agency_id": agency})),
                        decided(t, &review_decided.to_string()),
                    ),
                )
                .await;
                model_cases.push(ModelCase {
                    group: "review",
                    received: filed,
                    decided: Some((review_decided, o)),
                });
                let suit_filed = later(&mut rng, review_decided, 15);
                let mut body = with(
                    suit_after(&id_of(&rv), &suit_filed.to_string()),
                    json!({"agency_id": agency}),
                );
                let mut outcome = None;
                if rng.random_bool(0.6) {
                    let (t, o) = pick(&mut rng, &DECISIONS[1..]);
                    let on = later(&mut rng, suit_filed, 200);
                    body = with(body, decided(t, &on.to_string()));
                    outcome = Some((on, o));
                }
                record(app, token, SUITS, &body).await;
                model_cases.push(ModelCase {
                    group: "litigation_after_review",
                    received: suit_filed,
                    decided: outcome,
                });
            }
        }
    }
    (apps, model_cases)
}

async fn random_workloads_over_three_years_match_the_counting_rules_and_keep_every_identity(
    app: TestApp,
) {
    let st = staff(&app).await;
    let mut all_apps = Vec::new();
    let mut all_cases = Vec::new();
    for seed in [20_231_u64, 20_242, 20_253] {
        let agency = app.create_agency(&format!("W{seed}"), None).await;
        let (apps, cases) = random_workload(&app, &st.admin, &agency, seed, 25, 5).await;
        let mut previous_out: Option<BTreeMap<String, i64>> = None;
        for year in 2023..=2026 {
            let r = report(&app, &st.admin, &agency, year).await;
            let t = table3(&r);
            assert_eq!(
                t,
                model_table3(&apps, year),
                "seed {seed}: table 三 of {year}\nmodel: {apps:#?}"
            );
            assert_eq!(
                table4(&r),
                model_table4(&cases, year),
                "seed {seed}: table 四 of {year}\nmodel: {cases:#?}"
            );
            assert_identities(&t, year);
            assert_checks_hold(&r);
            if let Some(prev) = &previous_out {
                assert_eq!(
                    &t["carried_in"],
                    prev,
                    "seed {seed}: carried_in {year} = carried_out {}",
                    year - 1
                );
            }
            previous_out = Some(t["carried_out"].clone());
            // The drill-down lists exactly the applications the model counts.
            for row in ["new", "carried_in", "carried_out", "total"] {
                let c = app
                    .get(
                        &format!(
                            "{}/cells/{row}/total/requests?per_page=200",
                            report_path(&agency, year)
                        ),
                        &st.admin,
                    )
                    .await;
                assert_eq!(c.status, StatusCode::OK, "{}", c.text);
                let ids: BTreeSet<String> = c.body["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .map(id_of)
                    .collect();
                assert_eq!(
                    ids,
                    model_cell(&apps, year, row),
                    "seed {seed}: cell {row}/total of {year}"
                );
                assert_eq!(c.body["total"], t[row]["total"]);
            }
        }
        all_apps.extend(apps);
        all_cases.extend(cases);
    }
    // The root has nothing of its own: its roll-up is the sum of the three workloads.
    for year in 2023..=2025 {
        let r = app
            .get(
                &format!("{}/rollup", report_path(&st.root, year)),
                &st.admin,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(table3(&r.body), model_table3(&all_apps, year), "{year}");
        assert_eq!(table4(&r.body), model_table4(&all_cases, year), "{year}");
        assert_checks_hold(&r.body);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Table 四
// ---------------------------------------------------------------------------------------------

async fn table_4_counts_cases_received_in_the_year_with_their_outcome_as_of_31_december(
    app: TestApp,
) {
    let st = staff(&app).await;
    let c = &st.clerk;
    // Reviews received in 2025.
    let upheld = record(
        &app,
        c,
        REVIEWS,
        &with(review("2025-02-01"), decided("upheld", "2025-04-01")),
    )
    .await;
    record(
        &app,
        c,
        REVIEWS,
        &with(review("2025-03-01"), decided("revoked", "2025-05-01")),
    )
    .await;
    record(
        &app,
        c,
        REVIEWS,
        &with(review("2025-06-01"), decided("withdrawn", "2025-06-20")),
    )
    .await;
    // Decided after 31 December: pending in 2025, and not counted again in 2026.
    let late = record(
        &app,
        c,
        REVIEWS,
        &with(
            review("2025-11-01"),
            decided("claim_rejected", "2026-01-15"),
        ),
    )
    .await;
    assert_eq!(late["outcome"], "upheld");
    // Filed in 2025 but received (notified) in 2026: a 2026 case.
    record(
        &app,
        c,
        REVIEWS,
        &with(review("2025-12-28"), json!({"received_on": "2026-01-04"})),
    )
    .await;
    // Received in 2024 and decided in 2025: pending in 2024, absent from 2025.
    record(
        &app,
        c,
        REVIEWS,
        &with(review("2024-12-01"), decided("varied", "2025-01-10")),
    )
    .await;
    // Lawsuits without review.
    record(
        &app,
        c,
        SUITS,
        &with(
            direct_suit("2025-03-01"),
            decided("claim_rejected", "2025-09-01"),
        ),
    )
    .await;
    record(
        &app,
        c,
        SUITS,
        &with(
            direct_suit("2025-04-01"),
            decided("ordered_to_act", "2025-10-01"),
        ),
    )
    .await;
    record(&app, c, SUITS, &direct_suit("2025-05-01")).await;
    // Lawsuits after the upheld review.
    let rid = id_of(&upheld);
    record(
        &app,
        c,
        SUITS,
        &with(
            suit_after(&rid, "2025-04-10"),
            decided("mediated", "2025-07-01"),
        ),
    )
    .await;
    record(
        &app,
        c,
        SUITS,
        &with(
            suit_after(&rid, "2025-04-12"),
            decided("confirmed_unlawful", "2026-02-01"),
        ),
    )
    .await;

    let t2024 = expected_table4(&BTreeMap::from([(("review", "pending"), 1)]));
    let t2025 = expected_table4(&BTreeMap::from([
        (("review", "upheld"), 1),
        (("review", "corrected"), 1),
        (("review", "other"), 1),
        (("review", "pending"), 1),
        (("litigation_direct", "upheld"), 1),
        (("litigation_direct", "corrected"), 1),
        (("litigation_direct", "pending"), 1),
        (("litigation_after_review", "other"), 1),
        (("litigation_after_review", "pending"), 1),
    ]));
    let t2026 = expected_table4(&BTreeMap::from([(("review", "pending"), 1)]));
    for (year, expected) in [(2024, t2024), (2025, t2025), (2026, t2026)] {
        let r = report(&app, c, &st.root, year).await;
        assert_eq!(table4(&r), expected, "table 四 of {year}");
        assert_checks_hold(&r);
    }
    let r = report(&app, c, &st.root, 2025).await;
    assert_eq!(
        r["tables"]["remedies"]["review"],
        json!({"upheld": 1, "corrected": 1, "other": 1, "pending": 1, "total": 4})
    );
    // Table 三 knows nothing of cases.
    assert!(table3(&r).values().all(|v| v.values().all(|n| *n == 0)));

    // The drill-down of the pending cell lists the case decided after 31 December.
    let cases = app
        .get(
            &format!(
                "{}/cells/review/pending/requests",
                report_path(&st.root, 2025)
            ),
            c,
        )
        .await;
    assert_eq!(cases.status, StatusCode::OK, "{}", cases.text);
    assert_eq!(cases.body["kind"], "remedies");
    assert_eq!(cases.body["total"], 1);
    assert_eq!(cases.body["items"][0]["id"], late["id"]);
}

/// The same, with the alternative setting `active_in_year` (domain.md §8): a case counts in
/// the year it was received (outcome as of 31 December), and again in a later year if it was
/// pending at that year's start and decided in it.
mod active_in_year {
    use crate::helpers::{Db, TestApp};
    use gongkai::config::RemedyCountingSetting;

    async fn spawn(db: Db) -> Option<TestApp> {
        TestApp::spawn_with(db, |s| {
            s.report.remedy_counting = RemedyCountingSetting::ActiveInYear;
        })
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = spawn(Db::Sqlite).await.expect("sqlite");
        super::the_active_in_year_setting_also_counts_cases_decided_in_the_year(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = spawn(Db::Postgres).await {
            super::the_active_in_year_setting_also_counts_cases_decided_in_the_year(app).await;
        }
    }
}

async fn the_active_in_year_setting_also_counts_cases_decided_in_the_year(app: TestApp) {
    let st = staff(&app).await;
    let c = &st.clerk;
    let varied = record(
        &app,
        c,
        REVIEWS,
        &with(review("2024-12-01"), decided("varied", "2025-01-10")),
    )
    .await;
    record(
        &app,
        c,
        REVIEWS,
        &with(review("2025-02-01"), decided("upheld", "2025-04-01")),
    )
    .await;
    record(
        &app,
        c,
        REVIEWS,
        &with(
            review("2025-11-01"),
            decided("claim_rejected", "2026-01-15"),
        ),
    )
    .await;
    // Never decided: pending in its own year only.
    record(&app, c, REVIEWS, &review("2023-06-01")).await;
    record(
        &app,
        c,
        SUITS,
        &with(
            direct_suit("2024-05-01"),
            decided("claim_rejected", "2024-09-01"),
        ),
    )
    .await;
    let expected = [
        (2023, vec![(("review", "pending"), 1)]),
        (
            2024,
            vec![
                (("review", "pending"), 1),
                (("litigation_direct", "upheld"), 1),
            ],
        ),
        (
            2025,
            vec![
                (("review", "corrected"), 1),
                (("review", "upheld"), 1),
                (("review", "pending"), 1),
            ],
        ),
        (2026, vec![(("review", "upheld"), 1)]),
    ];
    for (year, counts) in expected {
        let r = report(&app, c, &st.root, year).await;
        assert_eq!(
            table4(&r),
            expected_table4(&counts.into_iter().collect()),
            "table 四 of {year}"
        );
        assert_checks_hold(&r);
    }
    let r = cell(&app, c, &st.root, 2025, "review/corrected").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(ids(&r), BTreeSet::from([id_of(&varied)]));
}

// ---------------------------------------------------------------------------------------------
// 5. Entered parts
// ---------------------------------------------------------------------------------------------

async fn entered_figures_and_narrative_are_validated_and_appear_in_the_report(app: TestApp) {
    let st = staff(&app).await;
    let c = &st.clerk;
    let path = report_path(&st.root, 2025);
    // A replacement names every row and column of the format.
    let figures = json!({"rows": {
        "rules": {"made": 3, "abolished": 1, "in_force": 42},
        "normative_documents": {"made": 0, "abolished": 0, "in_force": 0},
        "licensing": {"decisions": 1024},
        "punishment": {"decisions": 0},
        "coercion": {"decisions": 0},
        "fees": {"amount_wan_yuan": "12.5"},
    }});
    let r = put_proactive(&app, c, &path, &figures).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t = table2(&r.body);
    assert_eq!(t["rules"]["made"], "3");
    assert_eq!(t["rules"]["abolished"], "1");
    assert_eq!(t["rules"]["in_force"], "42");
    assert_eq!(t["licensing"]["decisions"], "1024");
    assert_eq!(t["fees"]["amount_wan_yuan"], "12.5");
    assert_eq!(t["normative_documents"]["made"], "0");
    assert_eq!(t["punishment"]["decisions"], "0");
    // Numbers in the JSON: counts integers, the amount a decimal number.
    let fees_row = &r.body["tables"]["proactive"]["rows"][5];
    assert_eq!(fees_row["values"]["amount_wan_yuan"], json!(12.5));
    assert_eq!(
        r.body["tables"]["proactive"]["rows"][0]["values"]["made"],
        json!(3)
    );
    assert_eq!(table2(&report(&app, c, &st.root, 2025).await), t);
    // Another year is untouched.
    assert_eq!(
        table2(&report(&app, c, &st.root, 2024).await)["rules"]["made"],
        "0"
    );
    // A PUT without every row and column names each missing one; nothing is cleared.
    let r = put_proactive(
        &app,
        c,
        &path,
        &json!({"rows": {"fees": {"amount_wan_yuan": 0.0125}, "rules": {"made": 3}}}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    let missing: BTreeSet<String> = r.field_errors().into_iter().collect();
    assert_eq!(
        missing,
        BTreeSet::from(
            [
                "rows.rules.abolished",
                "rows.rules.in_force",
                "rows.normative_documents",
                "rows.licensing",
                "rows.punishment",
                "rows.coercion",
            ]
            .map(String::from)
        )
    );
    assert_eq!(table2(&report(&app, c, &st.root, 2025).await), t);
    // A bad cell and a missing row are named together.
    let mut bad_and_short = figures.clone();
    bad_and_short["rows"]["rules"]["made"] = json!(-1);
    bad_and_short["rows"]
        .as_object_mut()
        .expect("rows")
        .remove("coercion");
    let r = put_proactive(&app, c, &path, &bad_and_short).await;
    r.assert_problem(422, "validation_failed");
    let fields: BTreeSet<String> = r.field_errors().into_iter().collect();
    assert_eq!(
        fields,
        BTreeSet::from(["rows.rules.made".to_string(), "rows.coercion".to_string()])
    );
    // A PATCH changes the cells sent and keeps the others; a decimal amount as a number, with
    // up to 4 decimals.
    let r = patch_proactive(
        &app,
        c,
        &path,
        &json!({"rows": {"fees": {"amount_wan_yuan": 0.0125}, "rules": {"made": 4}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t = table2(&r.body);
    assert_eq!(t["fees"]["amount_wan_yuan"], "0.0125");
    assert_eq!(t["rules"]["made"], "4");
    assert_eq!(t["rules"]["in_force"], "42");
    assert_eq!(t["licensing"]["decisions"], "1024");

    let before = report(&app, c, &st.root, 2025).await;
    let bad: [(Value, &str); 7] = [
        (json!({"procurement": {"items": 1}}), "rows.procurement"),
        (json!({"nonsense": {}}), "rows.nonsense"),
        (json!({"rules": {"made": -1}}), "rows.rules.made"),
        (json!({"rules": {"made": 1.5}}), "rows.rules.made"),
        (json!({"rules": {"deleted": 1}}), "rows.rules.deleted"),
        (
            json!({"fees": {"amount_wan_yuan": "1.23456"}}),
            "rows.fees.amount_wan_yuan",
        ),
        (json!({"rules": {"made": true}}), "rows.rules.made"),
    ];
    for (rows, field) in bad {
        let r = patch_proactive(&app, c, &path, &json!({"rows": rows})).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.field_errors(), vec![field.to_string()], "{rows}");
    }
    // Every bad cell is named at once.
    let r = patch_proactive(
        &app,
        c,
        &path,
        &json!({"rows": {"rules": {"made": "-3", "abolished": "x"}, "other_services": {}}}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    let fields: BTreeSet<String> = r.field_errors().into_iter().collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "rows.rules.made".to_string(),
            "rows.rules.abolished".to_string(),
            "rows.other_services".to_string()
        ])
    );
    assert_eq!(
        report(&app, c, &st.root, 2025).await,
        before,
        "nothing saved"
    );

    // The 2019 format has its own rows; `change` may be negative there.
    let path2020 = report_path(&st.root, 2020);
    let r = patch_proactive(
        &app,
        c,
        &path2020,
        &json!({"rows": {"licensing": {"previous_year_items": 12, "change": -4, "decisions": 30},
                         "procurement": {"items": 2, "amount_wan_yuan": "30.75"}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t = table2(&r.body);
    assert_eq!(t["licensing"]["change"], "-4");
    assert_eq!(t["procurement"]["amount_wan_yuan"], "30.75");
    let r = patch_proactive(
        &app,
        c,
        &path2020,
        &json!({"rows": {"rules": {"made": -4}}}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["rows.rules.made".to_string()]);

    // The narrative: six sections, all required by a PUT.
    let narrative = json!({
        "overview": "本机关认真贯彻落实《条例》。\n全年主动公开政府信息120条。",
        "proactive_text": "本年度制发规章4件。",
        "applications_text": "本年度未收到政府信息公开申请。",
        "remedies_text": "本年度未发生政府信息公开行政复议、行政诉讼。",
        "problems_and_improvements": "公开内容不够全面。",
        "other_matters": "无。",
    });
    let r = put_narrative(&app, c, &path, &narrative).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["narrative"], narrative);
    let now = report(&app, c, &st.root, 2025).await;
    assert_eq!(now["narrative"], narrative);
    // Entering one part keeps the other.
    assert_eq!(table2(&now)["fees"]["amount_wan_yuan"], "0.0125");
    let r = patch_proactive(
        &app,
        c,
        &path,
        &json!({"rows": {"coercion": {"decisions": 5}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["narrative"], narrative);
    // A PUT missing sections names every one and clears nothing.
    let r = put_narrative(&app, c, &path, &json!({"overview": "概述"})).await;
    r.assert_problem(422, "validation_failed");
    let missing: BTreeSet<String> = r.field_errors().into_iter().collect();
    assert_eq!(
        missing,
        BTreeSet::from(
            [
                "proactive_text",
                "applications_text",
                "remedies_text",
                "problems_and_improvements",
                "other_matters",
            ]
            .map(String::from)
        )
    );
    assert_eq!(
        report(&app, c, &st.root, 2025).await["narrative"],
        narrative
    );
    // A PATCH changes the sections sent; null or absent keeps one, "" empties it.
    let r = patch_narrative(
        &app,
        c,
        &path,
        &json!({"overview": "概述", "remedies_text": null, "other_matters": ""}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut expected = narrative.clone();
    expected["overview"] = json!("概述");
    expected["other_matters"] = json!("");
    assert_eq!(r.body["narrative"], expected);
    // A NUL or an unknown field is refused.
    let r = patch_narrative(&app, c, &path, &json!({"overview": "a\u{0}b"})).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["overview".to_string()]);
    let r = patch_narrative(&app, c, &path, &json!({"summary": "x"})).await;
    r.assert_problem(422, "validation_failed");
    let mut with_foreign = narrative.clone();
    with_foreign["summary"] = json!("x");
    let r = put_narrative(&app, c, &path, &with_foreign).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["summary".to_string()]);

    // Who may enter: the agency's clerks, approvers and admins; not a supervisor only.
    let (_, supervisor) = app
        .create_user(&st.root, "supervisor1", &["supervisor"])
        .await;
    let r = put_narrative(&app, &supervisor, &path, &narrative).await;
    r.assert_problem(403, "forbidden");
    let other = app.create_agency("OTHER", None).await;
    let (_, other_clerk) = app.create_user(&other, "other.clerk", &["clerk"]).await;
    let r = put_proactive(&app, &other_clerk, &path, &figures).await;
    r.assert_problem(404, "not_found");
    let r = app.get(&path, &other_clerk).await;
    r.assert_problem(404, "not_found");
}

/// Every row and column of table 二 of the 2021 format, all zero.
fn full_table2() -> Value {
    json!({"rows": {
        "rules": {"made": 0, "abolished": 0, "in_force": 0},
        "normative_documents": {"made": 0, "abolished": 0, "in_force": 0},
        "licensing": {"decisions": 0},
        "punishment": {"decisions": 0},
        "coercion": {"decisions": 0},
        "fees": {"amount_wan_yuan": 0},
    }})
}

/// Every write of the report takes `If-Match` with its `ETag`, which each write changes: a
/// missing one answers 428, a stale one 412, and nothing changes.
async fn report_writes_need_the_current_etag(app: TestApp) {
    let st = staff(&app).await;
    let (c, admin) = (&st.clerk, &st.admin);
    let path = report_path(&st.root, 2025);
    let first = app.report_etag(&path, c).await.expect("ETag on GET");
    let narrative = app.get(&format!("{path}/narrative/draft"), c).await.body;
    let patch = json!({"rows": {"rules": {"made": 1}}});
    // Without If-Match: 428 on each of the writes.
    for (method, suffix, body) in [
        (Method::PUT, "/narrative", &narrative),
        (Method::PATCH, "/narrative", &json!({"overview": "x"})),
        (Method::PATCH, "/proactive", &patch),
        (Method::PUT, "/proactive", &full_table2()),
        (Method::POST, "/publish", &json!({})),
        (Method::POST, "/reopen", &json!({"reason": "x"})),
    ] {
        let token = if suffix == "/publish" || suffix == "/reopen" {
            admin
        } else {
            c
        };
        let r = app
            .send_if_match(method, &format!("{path}{suffix}"), token, body, None)
            .await;
        r.assert_problem(428, "if_match_required");
    }
    assert_eq!(
        app.report_etag(&path, c).await.as_deref(),
        Some(first.as_str())
    );
    // A write with the current ETag answers the next one, which the GET shows too.
    let r = app
        .send_if_match(
            Method::PATCH,
            &format!("{path}/proactive"),
            c,
            &patch,
            Some(&first),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second = r.header("etag").expect("ETag on write").to_string();
    assert_ne!(second, first);
    assert_eq!(
        app.report_etag(&path, c).await.as_deref(),
        Some(second.as_str())
    );
    // The first ETag is stale now: 412 on every write, and nothing changes.
    let before = report(&app, c, &st.root, 2025).await;
    for (method, suffix, body) in [
        (Method::PUT, "/narrative", &narrative),
        (Method::PATCH, "/narrative", &json!({"overview": "x"})),
        (
            Method::PATCH,
            "/proactive",
            &json!({"rows": {"rules": {"made": 9}}}),
        ),
        (Method::POST, "/publish", &json!({})),
    ] {
        let token = if suffix == "/publish" { admin } else { c };
        let r = app
            .send_if_match(
                method,
                &format!("{path}{suffix}"),
                token,
                body,
                Some(&first),
            )
            .await;
        r.assert_problem(412, "version_mismatch");
    }
    assert_eq!(report(&app, c, &st.root, 2025).await, before);
    // Publishing and reopening change it too.
    app.complete_narrative(&path, c).await;
    let r = app.publish_report(&path, admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let published = r.header("etag").expect("ETag").to_string();
    let r = app
        .send_if_match(
            Method::POST,
            &format!("{path}/reopen"),
            admin,
            &json!({"reason": "补录"}),
            Some(&second),
        )
        .await;
    r.assert_problem(412, "version_mismatch");
    let r = app
        .send_if_match(
            Method::POST,
            &format!("{path}/reopen"),
            admin,
            &json!({"reason": "补录"}),
            Some(&published),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_ne!(r.header("etag"), Some(published.as_str()));
}

// ---------------------------------------------------------------------------------------------
// 5b. The narrative against the tables, its completeness, table 二's continuity
// ---------------------------------------------------------------------------------------------

/// `count` applications received on 2025-03-03 by bulk import, the first `granted` of them
/// answered on 2025-03-10, the others still open.
async fn imported(app: &TestApp, token: &str, count: usize, granted: usize) {
    let lines: String = (0..count)
        .map(|i| {
            let mut l = json!({
                "channel": "in_person",
                "arrived_at": "2025-03-03T09:30:00+08:00",
                "receipt_date": "2025-03-03",
                "applicant": applicant("natural_person"),
                "description": "申请公开本机关行政许可决定清单",
                "external_reference": format!("N-{i}"),
            });
            if i < granted {
                l["disposition"] = json!("granted");
                l["replied_on"] = json!("2025-03-10");
            }
            format!("{l}\n")
        })
        .collect();
    let r = Resp::from(
        app.request(Method::POST, "/api/v1/import/requests", Some(token))
            .header("content-type", "application/x-ndjson")
            .body(lines)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "import: {}", r.text);
}

/// The failed checks' codes.
fn failed_checks(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["holds"] == false)
        .map(|c| s(&c["code"]).to_string())
        .collect()
}

async fn a_narrative_that_disagrees_with_table_3_or_leaves_a_section_empty_is_not_published(
    app: TestApp,
) {
    let st = staff(&app).await;
    let (c, admin) = (&st.clerk, &st.admin);
    let path = report_path(&st.root, 2025);
    imported(&app, admin, 281, 275).await;
    let t = table3(&report(&app, c, &st.root, 2025).await);
    assert_eq!(t["new"]["total"], 281);
    assert_eq!(t["granted"]["total"], 275);
    assert_eq!(t["carried_out"]["total"], 6);

    // The generated draft states the table's figures; entered as it is, every check holds.
    let draft = app.get(&format!("{path}/narrative/draft"), c).await;
    assert_eq!(draft.status, StatusCode::OK, "{}", draft.text);
    let draft = draft.body;
    let text = s(&draft["applications_text"]).to_string();
    assert!(text.contains("新收政府信息公开申请281件"), "{text}");
    assert!(text.contains("予以公开275件"), "{text}");
    assert!(text.contains("结转下年度继续办理6件"), "{text}");
    assert!(
        s(&draft["other_matters"]).contains("未收取信息处理费"),
        "no fees, said explicitly: {}",
        draft["other_matters"]
    );
    let r = put_narrative(&app, c, &path, &draft).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_checks_hold(&r.body);
    let narrative_checks: BTreeSet<String> = r.body["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| s(&c["code"]).to_string())
        .filter(|c| c.starts_with("narrative."))
        .collect();
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
        "narrative.fees.notices",
        "narrative.fees.collected",
    ] {
        assert!(
            narrative_checks.contains(code),
            "{code}: {narrative_checks:?}"
        );
    }
    // The skeletons of 一 and 五 are not a report yet.
    let r = app.publish_report(&path, admin).await;
    r.assert_problem(409, "narrative_incomplete");
    let detail = s(&r.body["detail"]).to_string();
    assert!(detail.contains("一、总体情况"), "{detail}");
    assert!(detail.contains("五、存在的主要问题及改进情况"), "{detail}");
    assert!(!detail.contains("三、"), "{detail}");

    // 286 new applications where table 三 says 281: a failed check naming both, and no
    // publishing.
    let wrong = text.replace("新收政府信息公开申请281件", "新收政府信息公开申请286件");
    let r = patch_narrative(
        &app,
        c,
        &path,
        &json!({"applications_text": wrong, "overview": "2025年，本机关依法做好政府信息公开工作。",
                "problems_and_improvements": "个别答复说理不够充分，将加强培训。"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(failed_checks(&r.body), vec!["narrative.applications.new"]);
    let check = r.body["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["code"] == "narrative.applications.new")
        .cloned()
        .expect("check");
    assert_eq!(check["severity"], "error");
    let detail = s(&check["detail"]);
    assert!(
        detail.contains("286件") && detail.contains("281件"),
        "{detail}"
    );
    let r = app.publish_report(&path, admin).await;
    r.assert_problem(409, "checks_failed");
    assert!(
        s(&r.body["detail"]).contains("narrative.applications.new"),
        "{}",
        r.body["detail"]
    );
    // The same in Chinese numerals, and a statement that there were none, are read too.
    for (said, fails) in [
        ("本年度新收政府信息公开申请二百八十六件。", true),
        ("本年度新收政府信息公开申请二百八十一件。", false),
        ("本年度未收到政府信息公开申请。", true),
    ] {
        let r = patch_narrative(&app, c, &path, &json!({"applications_text": said})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            failed_checks(&r.body) == vec!["narrative.applications.new"],
            fails,
            "{said}: {:?}",
            failed_checks(&r.body)
        );
    }

    // An empty section, or "无" where the format needs content, cannot be published either.
    let r = patch_narrative(
        &app,
        c,
        &path,
        &json!({"applications_text": text, "remedies_text": "  ", "problems_and_improvements": "无。"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_checks_hold(&r.body);
    let r = app.publish_report(&path, admin).await;
    r.assert_problem(409, "narrative_incomplete");
    let detail = s(&r.body["detail"]).to_string();
    assert!(
        detail.contains("四、政府信息公开行政复议、行政诉讼情况（未填写）"),
        "{detail}"
    );
    assert!(
        detail.contains("五、存在的主要问题及改进情况（本部分不能只写“无”）"),
        "{detail}"
    );
    assert!(!detail.contains("一、"), "{detail}");
    assert_eq!(report(&app, c, &st.root, 2025).await["status"], "draft");
    // Table 四 is all zero: "无" is enough there; 六 may say "无" in a year without fees.
    let r = patch_narrative(
        &app,
        c,
        &path,
        &json!({"remedies_text": "无", "other_matters": "无。",
                "problems_and_improvements": "个别答复说理不够充分，将加强培训。"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.publish_report(&path, admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["narrative"]["applications_text"], text.as_str());
    assert_checks_hold(&r.body);
}

async fn table_2_continuity_with_the_published_year_before_is_a_warning_that_does_not_block(
    app: TestApp,
) {
    let st = staff(&app).await;
    let (c, admin) = (&st.clerk, &st.admin);
    let (p2024, p2025) = (report_path(&st.root, 2024), report_path(&st.root, 2025));
    let rows = |made: i64, abolished: i64, in_force: i64| {
        json!({"rows": {
            "rules": {"made": made, "abolished": abolished, "in_force": in_force},
            "normative_documents": {"made": 0, "abolished": 0, "in_force": 12},
            "licensing": {"decisions": 0},
            "punishment": {"decisions": 0},
            "coercion": {"decisions": 0},
            "fees": {"amount_wan_yuan": 0},
        }})
    };
    let r = put_proactive(&app, c, &p2024, &rows(2, 0, 40)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = put_proactive(&app, c, &p2025, &rows(3, 1, 45)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // 2024 is not published: nothing to compare with.
    let codes = |r: &Value| -> Vec<String> {
        r["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| s(&c["code"]).to_string())
            .filter(|c| c.starts_with("proactive."))
            .collect()
    };
    assert!(codes(&r.body).is_empty(), "{:?}", codes(&r.body));

    app.complete_narrative(&p2024, c).await;
    let r = app.publish_report(&p2024, admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Against the published 2024: rules 40 + 3 − 1 = 42, not 45; normative documents hold.
    let r = report(&app, c, &st.root, 2025).await;
    assert_eq!(
        codes(&r),
        vec![
            "proactive.rules.in_force",
            "proactive.normative_documents.in_force"
        ]
    );
    let checks = r["checks"].as_array().expect("checks");
    let rules = checks
        .iter()
        .find(|c| c["code"] == "proactive.rules.in_force")
        .expect("check");
    assert_eq!(rules["holds"], false);
    assert_eq!(rules["severity"], "warning");
    assert!(s(&rules["detail"]).contains("= 42"), "{}", rules["detail"]);
    for check in checks {
        let code = s(&check["code"]);
        let severity = if code.starts_with("proactive.") {
            "warning"
        } else {
            "error"
        };
        assert_eq!(check["severity"], severity, "{code}");
        assert_eq!(check["holds"], code != "proactive.rules.in_force", "{code}");
    }
    // A warning is shown but does not block publishing.
    app.complete_narrative(&p2025, c).await;
    let r = app.publish_report(&p2025, admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(failed_checks(&r.body), vec!["proactive.rules.in_force"]);
    // Consistent figures hold.
    let r = reopen(&app, admin, &p2025, &json!({"reason": "更正现行有效件数"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = patch_proactive(
        &app,
        c,
        &p2025,
        &json!({"rows": {"rules": {"in_force": 42}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        failed_checks(&r.body).is_empty(),
        "{:?}",
        failed_checks(&r.body)
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Publishing, the guards, reopening and versions
// ---------------------------------------------------------------------------------------------

async fn publishing_freezes_the_report_and_guards_the_year_until_it_is_reopened(app: TestApp) {
    let st = staff(&app).await;
    let (c, admin) = (&st.clerk, &st.admin);
    let path = report_path(&st.root, 2025);
    handled(
        &app,
        c,
        None,
        "natural_person",
        "2025-03-03",
        Some(("2025-03-10", "granted")),
    )
    .await;
    let open = handled(&app, c, None, "commercial_enterprise", "2025-10-09", None).await;
    app.complete_narrative(&path, c).await;
    let r = patch_narrative(&app, c, &path, &json!({"overview": "2025年概述"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let r = app.publish_report(&path, c).await;
    r.assert_problem(403, "forbidden");
    assert_eq!(report(&app, c, &st.root, 2025).await["status"], "draft");

    let r = app.publish_report(&path, admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v1 = r.body;
    assert_eq!(v1["status"], "published");
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["published_by"], "admin");
    assert!(v1["published_at"].is_string());
    assert_checks_hold(&v1);
    let t = table3(&v1);
    assert_eq!(t["new"]["total"], 2);
    assert_eq!(t["granted"]["natural_person"], 1);
    assert_eq!(t["carried_out"]["commercial_enterprise"], 1);
    assert_eq!(v1["narrative"]["overview"], "2025年概述");
    assert_eq!(
        report(&app, c, &st.root, 2025).await,
        v1,
        "GET serves the snapshot"
    );

    // Changes to the published year are refused, and nothing moves.
    let r = act(&app, c, &open, "reply", &reply("2025-12-01", "granted")).await;
    r.assert_problem(409, "period_published");
    let r = app
        .post(
            "/api/v1/requests",
            c,
            &handed_in("2025-06-01", "natural_person"),
        )
        .await;
    r.assert_problem(409, "period_published");
    let r = patch_proactive(&app, c, &path, &json!({"rows": {"rules": {"made": 3}}})).await;
    r.assert_problem(409, "period_published");
    let r = patch_narrative(&app, c, &path, &json!({"overview": "改写"})).await;
    r.assert_problem(409, "period_published");
    let r = app.post(REVIEWS, c, &review("2025-05-01")).await;
    r.assert_problem(409, "period_published");
    let r = app
        .patch(
            &format!("/api/v1/requests/{}", id_of(&open)),
            c,
            &json!({"applicant": applicant("research_institution")}),
            open["version"].as_i64(),
        )
        .await;
    r.assert_problem(409, "period_published");
    let r = app.publish_report(&path, admin).await;
    r.assert_problem(409, "already_published");
    assert_eq!(report(&app, c, &st.root, 2025).await, v1);

    // Activity dated after the year is allowed and leaves the published figures alone.
    let closed = step(&app, c, &open, "reply", reply("2026-01-05", "granted")).await;
    assert_eq!(closed["closed_on"], "2026-01-05");
    intake(&app, c, &handed_in("2026-02-02", "natural_person")).await;
    assert_eq!(report(&app, c, &st.root, 2025).await, v1);
    let r2026 = report(&app, c, &st.root, 2026).await;
    assert_eq!(table3(&r2026)["carried_in"], t["carried_out"]);
    assert_checks_hold(&r2026);

    // Reopening: admins only, with a reason.
    let r = reopen(&app, admin, &path, &json!({})).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["reason".to_string()]);
    let r = reopen(&app, admin, &path, &json!({"reason": "  "})).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), vec!["reason".to_string()]);
    let r = reopen(&app, c, &path, &json!({"reason": "补录"})).await;
    r.assert_problem(403, "forbidden");
    let r = reopen(
        &app,
        admin,
        &report_path(&st.root, 2024),
        &json!({"reason": "补录"}),
    )
    .await;
    r.assert_problem(409, "not_published");
    let reason = "补录一件漏登的申请";
    let r = reopen(&app, admin, &path, &json!({"reason": reason})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["version"], 2);
    let r = reopen(&app, admin, &path, &json!({"reason": reason})).await;
    r.assert_problem(409, "not_published");

    // The year is open again.
    intake(&app, c, &handed_in("2025-06-01", "natural_person")).await;
    let draft = report(&app, c, &st.root, 2025).await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(table3(&draft)["new"]["total"], 3);
    // The narrative still says 2 new applications: a check fails and publishing is refused.
    let failed: Vec<&str> = draft["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["holds"] == false)
        .map(|c| s(&c["code"]))
        .collect();
    assert_eq!(
        failed,
        vec![
            "narrative.applications.new",
            "narrative.applications.carried_out"
        ]
    );
    app.publish_report(&path, admin)
        .await
        .assert_problem(409, "checks_failed");
    app.complete_narrative(&path, c).await;

    let r = app.publish_report(&path, admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v2 = r.body;
    assert_eq!(v2["status"], "published");
    assert_eq!(v2["version"], 2);
    assert_eq!(table3(&v2)["new"]["total"], 3);
    assert_eq!(report(&app, c, &st.root, 2025).await, v2);

    let r = app.get(&format!("{path}/versions"), c).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let versions = r.body.as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[0]["published_by"], "admin");
    assert_eq!(versions[0]["reopened_by"], "admin");
    assert_eq!(versions[0]["reopen_reason"], reason);
    assert!(versions[0]["reopened_at"].is_string());
    assert_eq!(versions[1]["version"], 2);
    assert_eq!(versions[1]["reopened_at"], Value::Null);
    assert_eq!(versions[1]["reopen_reason"], Value::Null);

    // The first version is kept as it was published (now superseded).
    let r = app.get(&format!("{path}?version=1"), c).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut old = r.body;
    assert_eq!(old["status"], "superseded");
    old["status"] = json!("published");
    assert_eq!(old, v1);
    let r = app.get(&format!("{path}?version=2"), c).await;
    assert_eq!(r.body, v2);
    let r = app.get(&format!("{path}?version=3"), c).await;
    r.assert_problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------------
// 7. Drill-down
// ---------------------------------------------------------------------------------------------

/// GET `cells/{row}/{column}/requests`; `cell` is `row/column`, optionally with `?query`.
async fn cell(app: &TestApp, token: &str, agency: &str, year: i32, cell: &str) -> Resp {
    let (cell, query) = cell.split_once('?').unwrap_or((cell, ""));
    app.get(
        &format!(
            "{}/cells/{cell}/requests?{query}",
            report_path(agency, year)
        ),
        token,
    )
    .await
}

fn ids(r: &Resp) -> BTreeSet<String> {
    r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id_of)
        .collect()
}

async fn a_cell_lists_exactly_the_records_it_counts(app: TestApp) {
    let st = staff(&app).await;
    let c = &st.clerk;
    let mut granted_np = BTreeSet::new();
    for (received, replied) in [
        ("2025-02-03", "2025-02-10"),
        ("2024-12-20", "2025-01-08"),
        ("2025-08-01", "2025-08-05"),
    ] {
        let r = handled(
            &app,
            c,
            None,
            "natural_person",
            received,
            Some((replied, "granted")),
        )
        .await;
        granted_np.insert(id_of(&r));
    }
    // Not in the cell: another column, another row, another year, still open.
    let ce = handled(
        &app,
        c,
        None,
        "commercial_enterprise",
        "2025-03-03",
        Some(("2025-03-04", "granted")),
    )
    .await;
    handled(
        &app,
        c,
        None,
        "natural_person",
        "2025-04-01",
        Some(("2025-04-02", "denied.third_party_rights")),
    )
    .await;
    handled(
        &app,
        c,
        None,
        "natural_person",
        "2024-03-01",
        Some(("2024-03-05", "granted")),
    )
    .await;
    handled(
        &app,
        c,
        None,
        "natural_person",
        "2025-12-01",
        Some(("2026-01-05", "granted")),
    )
    .await;
    let open = handled(&app, c, None, "natural_person", "2025-11-03", None).await;

    let r = cell(&app, c, &st.root, 2025, "granted/natural_person").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["kind"], "requests");
    assert_eq!(r.body["total"], 3);
    assert_eq!(ids(&r), granted_np);
    let report25 = report(&app, c, &st.root, 2025).await;
    assert_eq!(table3(&report25)["granted"]["natural_person"], 3);
    // Items are shown as in lists: identity numbers masked.
    for item in r.body["items"].as_array().expect("items") {
        assert_eq!(item["disposition"], "granted");
        assert_eq!(item["applicant"]["kind"], "natural_person");
        assert_ne!(item["applicant"]["id_document_number"], RID);
    }
    let mut all_granted = granted_np.clone();
    all_granted.insert(id_of(&ce));
    let r = cell(&app, c, &st.root, 2025, "granted/total").await;
    assert_eq!(r.body["total"], 4);
    assert_eq!(ids(&r), all_granted);
    let r = cell(&app, c, &st.root, 2025, "carried_out/natural_person").await;
    assert_eq!(r.body["total"], 2);
    assert!(ids(&r).contains(&id_of(&open)));
    let r = cell(&app, c, &st.root, 2025, "carried_in/total").await;
    assert_eq!(r.body["total"], 1);
    let r = cell(&app, c, &st.root, 2025, "new/natural_person").await;
    assert_eq!(
        r.body["total"],
        table3(&report25)["new"]["natural_person"],
        "the cell and the table agree"
    );
    // Pages.
    let r = cell(
        &app,
        c,
        &st.root,
        2025,
        "granted/natural_person?per_page=2&page=2",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total"], 3);
    assert_eq!(r.body["page"], 2);
    assert_eq!(r.body["per_page"], 2);
    assert_eq!(r.body["items"].as_array().map(Vec::len), Some(1));
    let first = cell(
        &app,
        c,
        &st.root,
        2025,
        "granted/natural_person?per_page=2&page=1",
    )
    .await;
    let mut paged = ids(&first);
    paged.extend(ids(&r));
    assert_eq!(paged, granted_np);

    // Unknown rows and columns; a row of the other format.
    for bad in [
        "nonsense/natural_person",
        "granted/nonsense",
        "granted/applicant",
        "other/total",
        "review/natural_person",
    ] {
        let r = cell(&app, c, &st.root, 2025, bad).await;
        r.assert_problem(404, "not_found");
    }
    let r = cell(&app, c, &st.root, 2020, "other.other/total").await;
    r.assert_problem(404, "not_found");
    let r = cell(&app, c, &st.root, 2020, "other/total").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total"], 0);

    // Table 四.
    let mut corrected = BTreeSet::new();
    for (filed, t, on) in [
        ("2025-03-01", "revoked", "2025-05-01"),
        ("2025-04-01", "ordered_to_act", "2025-06-01"),
    ] {
        let r = record(&app, c, REVIEWS, &with(review(filed), decided(t, on))).await;
        corrected.insert(id_of(&r));
    }
    record(
        &app,
        c,
        REVIEWS,
        &with(review("2025-05-01"), decided("upheld", "2025-06-01")),
    )
    .await;
    record(
        &app,
        c,
        REVIEWS,
        &with(review("2025-06-01"), decided("varied", "2026-01-10")),
    )
    .await;
    record(
        &app,
        c,
        SUITS,
        &with(direct_suit("2025-06-01"), decided("revoked", "2025-08-01")),
    )
    .await;
    let r = cell(&app, c, &st.root, 2025, "review/corrected").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["kind"], "remedies");
    assert_eq!(r.body["total"], 2);
    assert_eq!(ids(&r), corrected);
    for item in r.body["items"].as_array().expect("items") {
        assert_eq!(item["kind"], "review");
        assert_eq!(item["outcome"], "corrected");
    }
    let r = cell(&app, c, &st.root, 2025, "review/total").await;
    assert_eq!(r.body["total"], 4);
    let r = cell(&app, c, &st.root, 2025, "litigation_direct/corrected").await;
    assert_eq!(r.body["total"], 1);
    let r = cell(&app, c, &st.root, 2025, "review/bogus").await;
    r.assert_problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------------
// 8. Exports
// ---------------------------------------------------------------------------------------------

/// Checks that every element opened is closed in order (void elements aside), that no tag
/// is left unterminated, and returns the number of elements of each name.
fn html_elements(html: &str) -> BTreeMap<String, usize> {
    const VOID: [&str; 6] = ["meta", "br", "hr", "img", "link", "input"];
    let mut stack: Vec<String> = Vec::new();
    let mut counts = BTreeMap::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let end = after.find('>').expect("an unterminated tag");
        let tag = &after[..end];
        assert!(!tag.contains('<'), "a '<' inside a tag: {tag}");
        rest = &after[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(open, name.trim(), "mis-nested </{name}>");
            continue;
        }
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .expect("name")
            .to_ascii_lowercase();
        *counts.entry(name.clone()).or_insert(0) += 1;
        if !VOID.contains(&name.as_str()) && !tag.ends_with('/') {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    counts
}

async fn exports_render_the_report_as_json_csv_html_and_xlsx(app: TestApp) {
    let st = staff(&app).await;
    let c = &st.clerk;
    let path = report_path(&st.root, 2025);
    handled(
        &app,
        c,
        None,
        "natural_person",
        "2025-03-03",
        Some(("2025-03-10", "granted")),
    )
    .await;
    handled(
        &app,
        c,
        None,
        "commercial_enterprise",
        "2025-04-01",
        Some(("2025-04-02", "denied.security_stability")),
    )
    .await;
    handled(&app, c, None, "research_institution", "2025-12-01", None).await;
    record(
        &app,
        c,
        REVIEWS,
        &with(review("2025-05-01"), decided("revoked", "2025-06-01")),
    )
    .await;
    let r = patch_proactive(
        &app,
        c,
        &path,
        &json!({"rows": {"rules": {"made": 3}, "fees": {"amount_wan_yuan": "12.5"}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.complete_narrative(&path, c).await;
    let r = patch_narrative(
        &app,
        c,
        &path,
        &json!({"overview": "第一段 <b>加粗</b> & 其他\n第二段", "other_matters": "无"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let live = report(&app, c, &st.root, 2025).await;
    let code = s(&live["agency_code"]).to_string();
    let name = s(&live["agency_name"]).to_string();

    // JSON: the report itself.
    let (status, headers, body) = raw_get(&app, &format!("{path}/export?format=json"), c).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(
        headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some(format!("attachment; filename=\"{code}-2025-report-v1.json\"").as_str())
    );
    let parsed: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(parsed, live);

    // CSV: UTF-8 with a byte-order mark, the exact labels, the official grid.
    let (status, headers, body) = raw_get(&app, &format!("{path}/export?format=csv"), c).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    assert!(
        headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.ends_with("-2025-report-v1.csv\"")),
        "{headers:?}"
    );
    assert_eq!(&body[..3], b"\xEF\xBB\xBF", "BOM");
    let csv = String::from_utf8(body[3..].to_vec()).expect("UTF-8");
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], format!("{name}2025年政府信息公开工作年度报告"));
    for section in &SECTIONS[1..4] {
        assert!(lines.contains(section), "{section}");
    }
    assert!(lines.contains(&SECTIONS[5]));
    for (_, label, _) in table3_layout(2025) {
        assert!(csv.contains(&label), "{label}");
    }
    for label in [
        NOTE,
        "申请人情况",
        "自然人",
        "法人或其他组织",
        "商业企业",
        "科研机构",
        "社会公益组织",
        "法律服务机构",
        "行政复议",
        "行政诉讼",
        "未经复议直接起诉",
        "复议后起诉",
        "结果维持",
        "结果纠正",
        "其他结果",
        "尚未审结",
        "规章",
        "本年制发件数",
        "本年收费金额（单位：万元）",
    ] {
        assert!(csv.contains(label), "{label}");
    }
    // Rows of table 三, merged labels written once at their start.
    assert!(
        lines.contains(&"一、本年新收政府信息公开申请数量,,,1,1,1,0,0,0,3"),
        "{csv}"
    );
    assert!(lines.contains(&"三、本年度办理结果,（一）予以公开,,1,0,0,0,0,0,1"));
    assert!(lines.contains(&",（三）不予公开,1.属于国家秘密,0,0,0,0,0,0,0"));
    assert!(lines.contains(&",,3.危及“三安全一稳定”,0,1,0,0,0,0,1"));
    assert!(lines.contains(&",（七）总计,,1,1,0,0,0,0,2"));
    assert!(lines.contains(&"四、结转下年度继续办理,,,0,0,1,0,0,0,1"));
    assert!(lines.contains(&"规章,3,0,0"));
    assert!(lines.contains(&"行政事业性收费,12.5,,"));
    assert!(lines.contains(&"0,1,0,0,1,0,0,0,0,0,0,0,0,0,0"), "table 四");
    assert!(lines.contains(&"本年度发出收费通知0件，收费金额0.00元，实际收取0.00元。"));

    // Tidy CSV: one line per figure, every cell of the JSON report, with codes and labels.
    let (status, headers, body) = raw_get(&app, &format!("{path}/export?format=tidy_csv"), c).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8; header=present")
    );
    assert!(
        headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.ends_with("-2025-report-v1-tidy.csv\"")),
        "{headers:?}"
    );
    assert_eq!(&body[..3], b"\xEF\xBB\xBF", "BOM");
    let tidy = String::from_utf8(body[3..].to_vec()).expect("UTF-8");
    let tidy: Vec<&str> = tidy.split_terminator("\r\n").collect();
    assert_eq!(
        tidy[0],
        "agency_code,year,version,table,row,row_label,column,column_label,value"
    );
    let proactive_cells: usize = live["tables"]["proactive"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["columns"].as_array().unwrap().len())
        .sum();
    let table3_cells = live["tables"]["applications"]["rows"]
        .as_array()
        .unwrap()
        .len()
        * 7;
    assert_eq!(tidy.len() - 1, proactive_cells + table3_cells + 3 * 5);
    assert!(
        tidy.contains(&format!("{code},2025,1,proactive,rules,规章,made,本年制发件数,3").as_str())
    );
    assert!(tidy.contains(
        &format!("{code},2025,1,proactive,fees,行政事业性收费,amount_wan_yuan,本年收费金额（单位：万元）,12.5").as_str()
    ));
    assert!(
        tidy.contains(
            &format!(
                "{code},2025,1,applications,new,一、本年新收政府信息公开申请数量,total,总计,3"
            )
            .as_str()
        )
    );
    assert!(tidy.contains(
        &format!("{code},2025,1,applications,denied.security_stability,三、本年度办理结果/（三）不予公开/3.危及“三安全一稳定”,commercial_enterprise,法人或其他组织/商业企业,1").as_str()
    ), "{tidy:#?}");
    assert!(tidy.contains(
        &format!("{code},2025,1,remedies,review,行政复议,corrected,结果纠正,1").as_str()
    ));

    // HTML: six sections in order, merged cells, exact labels, escaped text, well formed.
    let (status, headers, body) = raw_get(&app, &format!("{path}/export?format=html"), c).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(body).expect("UTF-8");
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Opened in a browser: its own policy allows its inline <style> by hash, and nothing else.
    let csp = headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("a Content-Security-Policy")
        .to_string();
    let style = {
        let from = html.find("<style>").expect("<style>") + "<style>".len();
        let to = from + html[from..].find("</style>").expect("</style>");
        &html[from..to]
    };
    let hash = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()))
    };
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(
        csp.contains(&format!("style-src 'sha256-{hash}';")),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(html.matches("<style>").count(), 1);
    assert!(style.contains("@page{size:A4 landscape"), "{style}");
    // A draft says so, in Chinese.
    assert!(
        html.contains("<p><em>状态：草稿（版本 1）</em></p>"),
        "{html}"
    );
    assert!(!html.contains("draft"));
    let mut at = 0;
    for section in SECTIONS {
        let tag = format!("<h2>{section}</h2>");
        let i = html[at..]
            .find(&tag)
            .unwrap_or_else(|| panic!("{section} missing or out of order"));
        at += i + tag.len();
    }
    let counts = html_elements(&html);
    // Table 二 prints one table per block (each with its own header), 三 and 四 one each; every
    // table's header rows are in its <thead>, so that a table split over pages repeats them.
    assert!(counts.get("table").is_some_and(|n| *n >= 3), "{counts:?}");
    assert_eq!(counts.get("thead"), counts.get("table"), "{counts:?}");
    assert_eq!(counts.get("tbody"), counts.get("table"), "{counts:?}");
    assert!(html.contains(&format!(
        "<thead>\n<tr><th rowspan=\"3\" colspan=\"3\">{NOTE}</th>"
    )));
    assert!(html.contains("<thead>\n<tr><th colspan=\"5\">行政复议</th>"));
    assert_eq!(counts.get("h1"), Some(&1));
    assert_eq!(counts.get("h2"), Some(&6));
    assert_eq!(html.matches("<tr>").count(), html.matches("</tr>").count());
    assert!(html.contains(&format!("<th rowspan=\"3\" colspan=\"3\">{NOTE}</th>")));
    assert!(html.contains("<th colspan=\"7\">申请人情况</th>"));
    assert!(html.contains("<th colspan=\"5\">法人或其他组织</th>"));
    // 三、本年度办理结果 spans the 21 result rows and 总计.
    assert!(html.contains(&format!("<td rowspan=\"22\">{RESULTS}</td>")));
    assert!(html.contains("<td rowspan=\"8\">（三）不予公开</td>"));
    assert!(html.contains("<td rowspan=\"3\">（四）无法提供</td>"));
    assert!(html.contains("<td rowspan=\"5\">（五）不予处理</td>"));
    assert!(html.contains("<td rowspan=\"3\">（六）其他处理</td>"));
    assert!(html.contains("<td colspan=\"3\">一、本年新收政府信息公开申请数量</td>"));
    assert!(html.contains("<td colspan=\"2\">（七）总计</td>"));
    assert!(html.contains("<th colspan=\"10\">行政诉讼</th>"));
    for (_, label, _) in table3_layout(2025) {
        assert!(html.contains(&format!(">{label}</td>")), "{label}");
    }
    assert!(html.contains("<p>第一段 &lt;b&gt;加粗&lt;/b&gt; &amp; 其他</p>"));
    assert!(html.contains("<p>第二段</p>"));
    assert!(!html.contains("<b>"));
    // The paragraphs of 二, 三 and 四 come before their tables.
    for (field, section) in [
        ("proactive_text", "二、主动公开政府信息情况"),
        ("applications_text", "三、收到和处理政府信息公开申请情况"),
        ("remedies_text", "四、政府信息公开行政复议、行政诉讼情况"),
    ] {
        let p = format!(
            "<h2>{section}</h2>\n<p>{}</p>\n<table>",
            s(&live["narrative"][field])
        );
        assert!(html.contains(&p), "{p}");
    }

    // XLSX: a ZIP package with the workbook and three sheets.
    let (status, headers, body) = raw_get(&app, &format!("{path}/export?format=xlsx"), c).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    assert!(
        headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.ends_with("-2025-report-v1.xlsx\"")),
        "{headers:?}"
    );
    assert_eq!(&body[..4], b"PK\x03\x04", "a ZIP local file header");
    assert!(body.len() > 2_000, "{} bytes", body.len());
    let contains = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    for part in [
        &b"xl/workbook.xml"[..],
        b"xl/worksheets/sheet1.xml",
        b"xl/worksheets/sheet2.xml",
        b"xl/worksheets/sheet3.xml",
        b"[Content_Types].xml",
    ] {
        assert!(contains(part), "{}", String::from_utf8_lossy(part));
    }
    assert!(contains(b"PK\x05\x06"), "end of central directory");
    // Read back with an XLSX reader: the sheets, the exact labels, the merged cells.
    {
        use calamine::{Reader, Xlsx};
        let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(body.to_vec())).expect("xlsx");
        assert_eq!(wb.sheet_names(), vec!["主动公开", "申请办理", "复议诉讼"]);
        let apps = wb.worksheet_range("申请办理").expect("sheet");
        let text: Vec<String> = apps
            .rows()
            .flat_map(|r| r.iter().map(|c| c.to_string()))
            .collect();
        for label in [
            "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）",
            "申请人情况",
            "一、本年新收政府信息公开申请数量",
            "三、本年度办理结果",
            "（三）不予公开",
            "（七）总计",
            "四、结转下年度继续办理",
        ] {
            assert!(
                text.iter().any(|t| t == label),
                "{label} missing from the XLSX"
            );
        }
        let merged = wb
            .merge_cells_by_sheet_name("申请办理")
            .expect("merged cells");
        // The balance note spans three rows and three columns; 三、本年度办理结果 spans all result rows.
        // All under the title row.
        assert!(
            merged.iter().any(|d| d.start == (1, 0) && d.end == (3, 2)),
            "{merged:?}"
        );
        assert!(
            merged
                .iter()
                .any(|d| d.start.1 == 0 && d.end.0 - d.start.0 >= 20),
            "{merged:?}"
        );
        let remedies = wb.worksheet_range("复议诉讼").expect("sheet");
        let first: Vec<String> = remedies
            .rows()
            .take(2)
            .map(|r| r.first().map(|c| c.to_string()).unwrap_or_default())
            .collect();
        // A title row: agency, year, table, version, status in Chinese.
        assert_eq!(
            first,
            vec![
                format!(
                    "{name}2025年政府信息公开工作年度报告　四、政府信息公开行政复议、行政诉讼情况　版本 1　草稿"
                ),
                "行政复议".to_string()
            ]
        );
        for sheet in ["主动公开", "申请办理"] {
            let range = wb.worksheet_range(sheet).expect("sheet");
            let title = range.get((0, 0)).map(|c| c.to_string()).unwrap_or_default();
            assert!(
                title.starts_with(&format!("{name}2025年")) && title.ends_with("版本 1　草稿"),
                "{title}"
            );
        }
    }
    // Printed: every sheet on one A4 page in landscape, centred, with widths and row heights
    // for the wrapped labels; the title and the header repeat on every page.
    {
        use std::io::Read as _;
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(body.to_vec())).expect("a ZIP");
        let mut part = |name: &str| {
            let mut s = String::new();
            z.by_name(name)
                .expect(name)
                .read_to_string(&mut s)
                .expect("UTF-8");
            s
        };
        for i in 1..=3 {
            let sheet = part(&format!("xl/worksheets/sheet{i}.xml"));
            for needle in [
                "orientation=\"landscape\"",
                "paperSize=\"9\"",
                "<pageSetUpPr fitToPage=\"1\"/>",
                "horizontalCentered=\"1\"",
                "<cols>",
                "customHeight=\"1\"",
                "<mergeCell ref=\"A1:",
            ] {
                assert!(sheet.contains(needle), "sheet{i}: {needle}");
            }
        }
        let workbook = part("xl/workbook.xml");
        assert!(workbook.contains("申请办理!$1:$4"), "{workbook}");
    }

    // Unknown or missing format.
    let r = app.get(&format!("{path}/export?format=pdf"), c).await;
    r.assert_problem(400, "invalid_query");
    let r = app.get(&format!("{path}/export"), c).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // A published version exports as published; an old one by number.
    let r = app.publish_report(&path, &st.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v1 = r.body;
    let (_, _, body) = raw_get(&app, &format!("{path}/export?format=json&version=1"), c).await;
    let parsed: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(parsed, v1);
    let (_, _, body) = raw_get(&app, &format!("{path}/export?format=html"), c).await;
    let html = String::from_utf8(body).expect("UTF-8");
    assert!(
        !html.contains("状态："),
        "a published report carries no draft mark"
    );
    html_elements(&html);
    let (_, _, body) = raw_get(&app, &format!("{path}/export?format=xlsx"), c).await;
    {
        use calamine::{Reader, Xlsx};
        let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(body.to_vec())).expect("xlsx");
        let range = wb.worksheet_range("申请办理").expect("sheet");
        let title = range.get((0, 0)).map(|c| c.to_string()).unwrap_or_default();
        assert!(title.ends_with("版本 1　已发布"), "{title}");
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Roll-up
// ---------------------------------------------------------------------------------------------

fn sum_tables(a: &Table, b: &Table) -> Table {
    let mut out = a.clone();
    for (row, values) in b {
        let target = out.entry(row.clone()).or_default();
        for (col, v) in values {
            *target.entry(col.clone()).or_insert(0) += v;
        }
    }
    out
}

async fn a_rollup_sums_the_agencies_below_and_says_which_have_published(app: TestApp) {
    let st = staff(&app).await;
    let admin = &st.admin;
    let city = app.create_agency("CITY", None).await;
    let d1 = app.create_agency("CITY-D1", Some(&city)).await;
    let d2 = app.create_agency("CITY-D2", Some(&city)).await;
    let unrelated = app.create_agency("ELSEWHERE", None).await;

    handled(
        &app,
        admin,
        Some(&d1),
        "natural_person",
        "2025-03-03",
        Some(("2025-03-05", "granted")),
    )
    .await;
    handled(
        &app,
        admin,
        Some(&d1),
        "commercial_enterprise",
        "2025-11-03",
        None,
    )
    .await;
    handled(
        &app,
        admin,
        Some(&d2),
        "natural_person",
        "2025-04-01",
        Some(("2025-04-08", "denied.internal_affairs")),
    )
    .await;
    handled(
        &app,
        admin,
        Some(&d2),
        "natural_person",
        "2024-12-02",
        Some(("2025-01-06", "granted")),
    )
    .await;
    handled(
        &app,
        admin,
        Some(&unrelated),
        "natural_person",
        "2025-04-01",
        Some(("2025-04-08", "granted")),
    )
    .await;
    record(
        &app,
        admin,
        REVIEWS,
        &with(
            with(review("2025-05-01"), decided("upheld", "2025-06-01")),
            json!({"agency_id": d2}),
        ),
    )
    .await;
    record(
        &app,
        admin,
        SUITS,
        &with(direct_suit("2025-05-01"), json!({"agency_id": city})),
    )
    .await;
    for (agency, rows) in [
        (
            &d1,
            json!({"rules": {"made": 2, "in_force": 10}, "fees": {"amount_wan_yuan": "1.25"}}),
        ),
        (
            &d2,
            json!({"rules": {"made": 3}, "fees": {"amount_wan_yuan": "0.8"}}),
        ),
        (&city, json!({"licensing": {"decisions": 7}})),
        (&unrelated, json!({"licensing": {"decisions": 1000}})),
    ] {
        let r = patch_proactive(
            &app,
            admin,
            &report_path(agency, 2025),
            &json!({ "rows": rows }),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    app.complete_narrative(&report_path(&d1, 2025), admin).await;
    let r = app.publish_report(&report_path(&d1, 2025), admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let r = app
        .get(&format!("{}/rollup", report_path(&city, 2025)), admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let roll = r.body;
    assert_eq!(roll["status"], "rollup");
    assert_eq!(roll["agency_id"], city.as_str());
    assert_checks_hold(&roll);

    // Tables 三 and 四: the sums of the three agencies' own reports.
    let mut t3 = Table::new();
    let mut t4 = Table::new();
    for a in [&city, &d1, &d2] {
        let own = report(&app, admin, a, 2025).await;
        t3 = sum_tables(&t3, &table3(&own));
        t4 = sum_tables(&t4, &table4(&own));
    }
    assert_eq!(table3(&roll), t3);
    assert_eq!(table4(&roll), t4);
    assert_eq!(
        table3(&roll),
        expected_table3(
            2025,
            &counts(&[
                ("new", "natural_person", 2),
                ("new", "commercial_enterprise", 1),
                ("carried_in", "natural_person", 1),
                ("granted", "natural_person", 2),
                ("denied.internal_affairs", "natural_person", 1),
                ("carried_out", "commercial_enterprise", 1),
            ])
        )
    );
    assert_eq!(
        table4(&roll),
        expected_table4(&BTreeMap::from([
            (("review", "upheld"), 1),
            (("litigation_direct", "pending"), 1),
        ]))
    );
    // Table 二: exact decimal sums.
    let t2 = table2(&roll);
    assert_eq!(t2["rules"]["made"], "5");
    assert_eq!(t2["rules"]["in_force"], "10");
    assert_eq!(t2["rules"]["abolished"], "0");
    assert_eq!(t2["fees"]["amount_wan_yuan"], "2.05");
    assert_eq!(t2["licensing"]["decisions"], "7");
    assert_eq!(t2["punishment"]["decisions"], "0");

    // The agencies summed, and which have published.
    let listed: BTreeMap<String, (String, bool)> = roll["agencies"]
        .as_array()
        .expect("agencies")
        .iter()
        .map(|a| {
            (
                s(&a["agency_id"]).to_string(),
                (
                    s(&a["code"]).to_string(),
                    a["published"].as_bool().expect("bool"),
                ),
            )
        })
        .collect();
    assert_eq!(
        listed,
        BTreeMap::from([
            (city.clone(), ("CITY".to_string(), false)),
            (d1.clone(), ("CITY-D1".to_string(), true)),
            (d2.clone(), ("CITY-D2".to_string(), false)),
        ])
    );

    // A leaf's roll-up is its own report.
    let r = app
        .get(&format!("{}/rollup", report_path(&d2, 2025)), admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let own = report(&app, admin, &d2, 2025).await;
    assert_eq!(table3(&r.body), table3(&own));
    assert_eq!(table4(&r.body), table4(&own));
    assert_eq!(r.body["agencies"].as_array().map(Vec::len), Some(1));

    // Supervisors may; clerks may not; other branches do not see it.
    let (_, supervisor) = app
        .create_user(&city, "city.supervisor", &["supervisor"])
        .await;
    let r = app
        .get(&format!("{}/rollup", report_path(&city, 2025)), &supervisor)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(table3(&r.body), t3);
    let (_, city_clerk) = app.create_user(&city, "city.clerk", &["clerk"]).await;
    let r = app
        .get(&format!("{}/rollup", report_path(&city, 2025)), &city_clerk)
        .await;
    r.assert_problem(403, "forbidden");
    let (_, d1_clerk) = app.create_user(&d1, "d1.clerk", &["clerk"]).await;
    let r = app
        .get(&format!("{}/rollup", report_path(&city, 2025)), &d1_clerk)
        .await;
    r.assert_problem(404, "not_found");
    let (_, other_supervisor) = app
        .create_user(&unrelated, "else.supervisor", &["supervisor"])
        .await;
    let r = app
        .get(
            &format!("{}/rollup", report_path(&city, 2025)),
            &other_supervisor,
        )
        .await;
    r.assert_problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------------
// 10. A published year's figures also depend on earlier dates
// ---------------------------------------------------------------------------------------------

/// Table 三 of year Y counts applications received before Y that were still open at its start
/// (`carried_in`) or at its end (`carried_out`). Once Y is published (domain.md §9: "later
/// edits to applications of a published year are refused"), a change dated in Y−1 that
/// creates or closes such an application alters Y's figures and must be refused too;
/// otherwise the published `carried_out` of Y silently stops matching `carried_in` of Y+1.
async fn a_back_dated_change_that_would_alter_a_published_later_year_is_refused(app: TestApp) {
    let st = staff(&app).await;
    let c = &st.clerk;
    let open = handled(&app, c, None, "natural_person", "2024-11-04", None).await;
    let other = handled(&app, c, None, "natural_person", "2024-10-08", None).await;
    let path = report_path(&st.root, 2025);
    app.complete_narrative(&path, c).await;
    let r = app.publish_report(&path, &st.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let published = r.body;
    let t = table3(&published);
    assert_eq!(t["carried_in"]["natural_person"], 2);
    assert_eq!(t["carried_out"]["natural_person"], 2);

    // Each change below alters the 2025 figures; every one must be refused.
    let mut let_through = Vec::new();
    // Closing the 2024 application on a 2024 date takes it out of 2025's carried_in and
    // carried_out.
    let r = act(&app, c, &open, "reply", &reply("2024-12-20", "granted")).await;
    if r.status != StatusCode::CONFLICT || r.body["code"] != "period_published" {
        let_through.push(format!("reply dated 2024-12-20: {}", r.status));
    }
    // Registering an application received in 2024 and still open adds it to both.
    let r = app
        .post(
            "/api/v1/requests",
            c,
            &handed_in("2024-12-02", "commercial_enterprise"),
        )
        .await;
    if r.status != StatusCode::CONFLICT || r.body["code"] != "period_published" {
        let_through.push(format!("intake received 2024-12-02: {}", r.status));
    }
    // Changing the applicant kind of an application carried through 2025 moves it between
    // 2025's columns.
    let r = app
        .patch(
            &format!("/api/v1/requests/{}", id_of(&other)),
            c,
            &json!({"applicant": applicant("research_institution")}),
            other["version"].as_i64(),
        )
        .await;
    if r.status != StatusCode::CONFLICT || r.body["code"] != "period_published" {
        let_through.push(format!("applicant kind changed: {}", r.status));
    }

    // What was let through moved the live figures behind the published report.
    let r = reopen(&app, &st.admin, &path, &json!({"reason": "核对"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let live = table3(&r.body);
    let moved: Vec<String> = live
        .iter()
        .filter(|(row, values)| t.get(*row) != Some(*values))
        .map(|(row, values)| format!("{row}: published {:?}, now {values:?}", t[row]))
        .collect();
    assert!(
        let_through.is_empty() && moved.is_empty(),
        "changes to a published year's figures were let through: {let_through:?}; \
         rows of the published 2025 report that no longer match the records: {moved:#?}"
    );
}

/// A report can be published only once its year is over (art. 49–50): the current year's
/// answers 409 `year_not_over` and the office keeps working on it; last year's can be
/// published. Each report shows its statutory deadline (departments 31 January, governments
/// 31 March), and the dashboard lists the agencies in scope whose report of last year is
/// unpublished, with the days left or overdue.
async fn a_report_is_published_only_for_a_year_that_is_over_and_its_deadline_is_tracked(
    app: TestApp,
) {
    let st = staff(&app).await;
    let this_year = app.year();
    let last_year = this_year - 1;
    let r = app
        .publish_report(&report_path(&st.root, this_year), &st.admin)
        .await;
    r.assert_problem(409, "year_not_over");
    // The office can still register applications of the current year.
    let today = app.today().to_string();
    let intake = app
        .post(
            "/api/v1/requests",
            &st.clerk,
            &json!({"channel": "in_person", "arrived_at": format!("{today}T09:00:00+08:00"),
                    "applicant": {"kind": "natural_person", "name": "张三", "phone": "13800000000"},
                    "description": "本年度预算公开"}),
        )
        .await;
    assert_eq!(intake.status, StatusCode::CREATED, "{}", intake.text);

    // A department and a government below the root; nobody has published last year.
    let dept = app
        .post(
            "/api/v1/agencies",
            &st.admin,
            &json!({"code": "DEPT", "name": "某市民政局"}),
        )
        .await;
    assert_eq!(dept.status, StatusCode::CREATED, "{}", dept.text);
    assert_eq!(dept.body["report_kind"], "department");
    let gov = app
        .post(
            "/api/v1/agencies",
            &st.admin,
            &json!({"code": "GOV", "name": "某县人民政府", "report_kind": "government"}),
        )
        .await;
    assert_eq!(gov.status, StatusCode::CREATED, "{}", gov.text);
    assert_eq!(gov.body["report_kind"], "government");
    let bad = app
        .post(
            "/api/v1/agencies",
            &st.admin,
            &json!({"code": "BAD", "name": "某单位", "report_kind": "ministry"}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    let gov_id = gov.body["id"].as_str().expect("id").to_string();
    let g = report(&app, &st.admin, &gov_id, last_year).await;
    assert_eq!(g["publication_deadline"], format!("{this_year}-03-31"));
    let d = report(&app, &st.admin, &st.root, last_year).await;
    assert_eq!(d["publication_deadline"], format!("{this_year}-01-31"));

    let dash = app.get("/api/v1/dashboard", &st.admin).await;
    assert_eq!(dash.status, StatusCode::OK, "{}", dash.text);
    assert_eq!(dash.body["unpublished_reports_total"], 3);
    let listed = dash.body["unpublished_reports"].as_array().expect("list");
    let entry = |code: &str| {
        listed
            .iter()
            .find(|u| u["agency_code"] == code)
            .unwrap_or_else(|| panic!("{code} listed: {listed:?}"))
            .clone()
    };
    let days_to = |deadline: &str| {
        (chrono::NaiveDate::parse_from_str(deadline, "%Y-%m-%d").expect("date") - app.today())
            .num_days()
    };
    let root_entry = entry("ROOT");
    assert_eq!(root_entry["year"], last_year);
    let jan = format!("{this_year}-01-31");
    assert_eq!(root_entry["deadline"], jan.as_str());
    assert_eq!(root_entry["days_left"], days_to(&jan));
    assert_eq!(root_entry["overdue"], days_to(&jan) < 0);
    let mar = format!("{this_year}-03-31");
    assert_eq!(entry("GOV")["deadline"], mar.as_str());
    assert_eq!(entry("GOV")["days_left"], days_to(&mar));

    // Last year's report can be published; it then leaves the list.
    app.complete_narrative(&report_path(&st.root, last_year), &st.admin)
        .await;
    let p = app
        .publish_report(&report_path(&st.root, last_year), &st.admin)
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let dash = app.get("/api/v1/dashboard", &st.admin).await;
    assert_eq!(dash.body["unpublished_reports_total"], 2);
    assert!(
        dash.body["unpublished_reports"]
            .as_array()
            .expect("list")
            .iter()
            .all(|u| u["agency_code"] != "ROOT")
    );
    // A clerk sees only its own agency.
    let dash = app.get("/api/v1/dashboard", &st.clerk).await;
    assert_eq!(dash.body["unpublished_reports_total"], 0);
}
