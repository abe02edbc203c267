//! Stored report documents survive upgrades (issue 11, item 3): checked-in fixtures of the
//! format written before versions existed (format 1, `tests/fixtures/reports/*.format1.json`,
//! dumped from the code of that time) decode and are served with nothing lost, upgraded as
//! `app/reports/stored.rs` documents (table 二's values as numbers, the narrative's added
//! sections empty, every check an error); current writes carry the current format; an unknown
//! extra field or a missing optional one still loads; a record that cannot be read answers 500
//! `stored_record_unreadable` naming it, never a bare 500.

use std::path::PathBuf;

use gongkai::app::AppError;
use gongkai::app::reports::stored;
use gongkai::db;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::TestApp;

both_databases!(
    current_writes_carry_the_format_and_old_records_are_served_unchanged,
    an_unreadable_stored_record_answers_a_clear_problem_naming_it,
);

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reports")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).expect("json")
}

fn value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serialize")
}

fn row<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["tables"]["applications"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("no row {code}"))
}

/// A report stored in format 1 or 2 as the current format reads it: table 二's decimal strings
/// as numbers, the narrative's three added sections empty, every check an error.
fn upgraded(mut v: Value) -> Value {
    if let Some(rows) = v["tables"]["proactive"]["rows"].as_array_mut() {
        for row in rows {
            if let Some(values) = row["values"].as_object_mut() {
                for x in values.values_mut() {
                    if let Some(text) = x.as_str() {
                        *x = serde_json::from_str(text).expect("a decimal");
                    }
                }
            }
        }
    }
    if let Some(n) = v["narrative"].as_object_mut() {
        for section in ["proactive_text", "applications_text", "remedies_text"] {
            n.entry(section).or_insert(json!(""));
        }
    }
    if let Some(checks) = v["checks"].as_array_mut() {
        for c in checks {
            c["severity"] = json!("error");
        }
    }
    v
}

fn unreadable_code(e: AppError) -> &'static str {
    match e {
        AppError::Unreadable { .. } => "stored_record_unreadable",
        other => panic!("not an unreadable record: {other:?}"),
    }
}

#[test]
fn format_1_snapshots_decode_to_what_they_say_and_re_encode_in_the_current_format() {
    for (name, year, table_format) in [
        ("version_snapshot_2025.format1.json", 2025, "2021"),
        ("version_snapshot_2020.format1.json", 2020, "2019"),
    ] {
        let text = fixture(name);
        let r = stored::decode_snapshot(name, &text).expect("decodes");
        assert_eq!(r.year, year);
        assert_eq!(r.version, 1);
        assert_eq!(r.published_by.as_deref(), Some("admin"));
        // Nothing lost: the decoded report is the stored document, field for field, upgraded.
        let v = value(&r);
        assert_eq!(v, upgraded(parsed(&text)), "{name}");
        assert_eq!(v["format"], table_format);
        assert!(r.checks.iter().all(|c| c.holds));
        // Written again, it is in the current format and reads back the same.
        let again = stored::encode_snapshot(&r).expect("encodes");
        let envelope = parsed(&again);
        assert_eq!(envelope["format"], json!(stored::FORMAT));
        assert_eq!(envelope["report"], v);
        assert_eq!(
            value(&stored::decode_snapshot(name, &again).expect("decodes")),
            v
        );
    }
    let r = value(
        &stored::decode_snapshot("2025", &fixture("version_snapshot_2025.format1.json"))
            .expect("decodes"),
    );
    assert_eq!(row(&r, "granted")["values"]["natural_person"], 1);
    assert_eq!(row(&r, "denied.state_secret")["values"]["total"], 1);
    assert_eq!(row(&r, "carried_out")["values"]["research_institution"], 1);
    assert_eq!(r["tables"]["remedies"]["review"]["corrected"], 1);
    assert_eq!(r["tables"]["remedies"]["litigation_direct"]["pending"], 1);
    let r = value(
        &stored::decode_snapshot("2020", &fixture("version_snapshot_2020.format1.json"))
            .expect("decodes"),
    );
    assert_eq!(row(&r, "other")["values"]["natural_person"], 1);
    assert_eq!(
        r["tables"]["proactive"]["rows"][7]["values"]["amount_wan_yuan"],
        json!(103.25)
    );
}

#[test]
fn format_1_drafts_decode_and_re_encode_in_the_current_format() {
    let p = stored::decode_proactive("p", &fixture("draft_proactive_2024.format1.json"))
        .expect("decodes");
    assert_eq!(p["normative_documents"]["in_force"], "30");
    assert_eq!(p["punishment"]["decisions"], "2");
    assert_eq!(p.len(), 2);
    let again = stored::encode_proactive(&p).expect("encodes");
    assert_eq!(parsed(&again)["format"], json!(stored::FORMAT));
    assert_eq!(stored::decode_proactive("p", &again).expect("decodes"), p);

    let n = stored::decode_narrative("n", &fixture("draft_narrative_2024.format1.json"))
        .expect("decodes");
    assert_eq!(n.problems_and_improvements, "个别答复不够及时。");
    assert!(n.overview.starts_with("2024年"));
    assert_eq!(n.applications_text, "", "a section added since reads empty");
    let again = stored::encode_narrative(&n).expect("encodes");
    assert_eq!(parsed(&again)["format"], json!(stored::FORMAT));
    assert_eq!(stored::decode_narrative("n", &again).expect("decodes"), n);
}

#[test]
fn a_record_with_an_unknown_extra_field_or_a_missing_optional_one_still_loads() {
    let mut v1 = parsed(&fixture("version_snapshot_2025.format1.json"));
    let m = v1.as_object_mut().expect("object");
    m.insert(
        "signed_by".into(),
        json!({"name": "某某", "at": "2026-01-30"}),
    );
    m.remove("published_by");
    m.remove("checks");
    m["narrative"]
        .as_object_mut()
        .expect("narrative")
        .remove("other_matters");
    m["fees"]["currency"] = json!("CNY");
    m["tables"]["applications"]["rows"][0]["footnote"] = json!("新增字段");
    let r = stored::decode_snapshot("v1", &v1.to_string()).expect("format 1 loads");
    assert_eq!(r.published_by, None);
    assert!(r.checks.is_empty());
    assert_eq!(r.narrative.other_matters, "");
    assert_eq!(r.tables.applications.rows.len(), 25);

    let v2 = json!({"format": 2, "written_by": "gongkai 9", "report": v1});
    let r2 = stored::decode_snapshot("v2", &v2.to_string()).expect("format 2 loads");
    assert_eq!(value(&r2), value(&r));

    let n = stored::decode_narrative(
        "n",
        r#"{"format": 2, "overview": "概述", "tone": "formal"}"#,
    )
    .expect("loads");
    assert_eq!(n.overview, "概述");
    assert_eq!(n.other_matters, "");
    let p =
        stored::decode_proactive("p", r#"{"format": 2, "entered_via": "import"}"#).expect("loads");
    assert!(p.is_empty());
}

#[test]
fn a_record_that_cannot_be_read_is_refused_with_its_own_code() {
    for text in [
        r#"{"format": 4, "report": {}}"#,
        r#"{"format": 3, "report": {}}"#,
        r#"{"format": 2, "report": {"year": "last"}}"#,
        r#"{"format": 2}"#,
        "[1, 2]",
        "not json",
    ] {
        let e = stored::decode_snapshot("report version x/2025/1", text).expect_err(text);
        assert_eq!(unreadable_code(e), "stored_record_unreadable", "{text}");
    }
    let e = stored::decode_narrative("n", r#"{"format": 7}"#).expect_err("newer");
    assert_eq!(unreadable_code(e), "stored_record_unreadable");
    let e = stored::decode_proactive("p", r#"{"rules": {"made": 3}}"#).expect_err("a number");
    assert_eq!(unreadable_code(e), "stored_record_unreadable");
}

fn conn(app: &TestApp) -> db::PooledConn {
    let database = db::connect(&app.settings.database, false).expect("connect");
    database.get().expect("conn")
}

fn version_row(agency: &str, year: i32, version: i32, snapshot: String) -> db::reports::VersionRow {
    db::reports::VersionRow {
        agency_id: agency.to_string(),
        year,
        version,
        snapshot,
        published_at: crate::helpers::test_clock().now_micros(),
        published_by: "admin".into(),
        reopened_at: None,
        reopened_by: None,
        reopen_reason: None,
    }
}

fn draft_row(
    agency: &str,
    year: i32,
    proactive: String,
    narrative: String,
) -> db::reports::DraftRow {
    db::reports::DraftRow {
        agency_id: agency.to_string(),
        year,
        proactive,
        narrative,
        updated_at: crate::helpers::test_clock().now_micros(),
        updated_by: Some("admin".into()),
        revision: 1,
    }
}

async fn current_writes_carry_the_format_and_old_records_are_served_unchanged(app: TestApp) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let path = format!("/api/v1/agencies/{root}/reports/2024");
    app.complete_narrative(&path, &admin).await;
    let r = app
        .report_write(
            Method::PATCH,
            &path,
            "/narrative",
            &admin,
            &json!({"overview": "概述"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .report_write(
            Method::PATCH,
            &path,
            "/proactive",
            &admin,
            &json!({"rows": {"rules": {"made": 3}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.publish_report(&path, &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let published = r.body;
    {
        let mut c = conn(&app);
        let d = db::reports::find_draft(&mut c, &root, 2024)
            .expect("query")
            .expect("draft");
        assert_eq!(parsed(&d.narrative)["format"], json!(stored::FORMAT));
        assert_eq!(parsed(&d.narrative)["overview"], "概述");
        assert_eq!(parsed(&d.proactive)["format"], json!(stored::FORMAT));
        assert_eq!(parsed(&d.proactive)["rows"]["rules"]["made"], "3");
        let v = db::reports::versions(&mut c, &root, 2024).expect("versions");
        let stored_snapshot = parsed(&v[0].snapshot);
        assert_eq!(stored_snapshot["format"], json!(stored::FORMAT));
        assert_eq!(stored_snapshot["report"], published);
    }
    assert_eq!(
        app.get(&path, &admin).await.body,
        published,
        "the current format's snapshot is served as published"
    );

    // Records of format 1, as the service stored them before: served as they were.
    let old = app.create_agency("OLD1", None).await;
    {
        let mut c = conn(&app);
        for (year, name) in [
            (2025, "version_snapshot_2025.format1.json"),
            (2020, "version_snapshot_2020.format1.json"),
        ] {
            db::reports::insert_version(&mut c, &version_row(&old, year, 1, fixture(name)))
                .expect("insert");
        }
        db::reports::save_draft(
            &mut c,
            &draft_row(
                &old,
                2024,
                fixture("draft_proactive_2024.format1.json"),
                fixture("draft_narrative_2024.format1.json"),
            ),
        )
        .expect("draft");
    }
    for (year, name) in [
        (2025, "version_snapshot_2025.format1.json"),
        (2020, "version_snapshot_2020.format1.json"),
    ] {
        let r = app
            .get(&format!("/api/v1/agencies/{old}/reports/{year}"), &admin)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            r.body,
            upgraded(parsed(&fixture(name))),
            "{name} served with nothing lost"
        );
    }
    let r = app
        .get(&format!("/api/v1/agencies/{old}/reports/2024"), &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "draft");
    assert_eq!(
        r.body["narrative"]["problems_and_improvements"],
        "个别答复不够及时。"
    );
    let rows = r.body["tables"]["proactive"]["rows"]
        .as_array()
        .expect("rows");
    let nd = rows
        .iter()
        .find(|r| r["code"] == "normative_documents")
        .expect("row");
    assert_eq!(nd["values"]["in_force"], json!(30));
    // Entering more rewrites the draft in the current format, keeping the old values.
    let r = app
        .report_write(
            Method::PATCH,
            &format!("/api/v1/agencies/{old}/reports/2024"),
            "/narrative",
            &admin,
            &json!({"overview": "新概述"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["narrative"]["problems_and_improvements"],
        "个别答复不够及时。"
    );
    let mut c = conn(&app);
    let d = db::reports::find_draft(&mut c, &old, 2024)
        .expect("query")
        .expect("draft");
    assert_eq!(parsed(&d.narrative)["format"], json!(stored::FORMAT));
    assert_eq!(parsed(&d.proactive)["format"], json!(stored::FORMAT));
    assert_eq!(parsed(&d.proactive)["rows"]["punishment"]["decisions"], "2");
}

async fn an_unreadable_stored_record_answers_a_clear_problem_naming_it(app: TestApp) {
    let admin = app.admin_token().await;
    let agency = app.create_agency("BAD1", None).await;
    {
        let mut c = conn(&app);
        let newer = json!({"format": 4, "report": {"shape": "unknown"}}).to_string();
        db::reports::insert_version(&mut c, &version_row(&agency, 2025, 1, newer)).expect("insert");
        db::reports::save_draft(
            &mut c,
            &draft_row(&agency, 2024, "{}".into(), "{\"overview\": 42}".into()),
        )
        .expect("draft");
    }
    let r = app
        .get(&format!("/api/v1/agencies/{agency}/reports/2025"), &admin)
        .await;
    r.assert_problem(500, "stored_record_unreadable");
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&format!("report version {agency}/2025/1")),
        "{detail}"
    );
    let r = app
        .get(&format!("/api/v1/agencies/{agency}/reports/2024"), &admin)
        .await;
    r.assert_problem(500, "stored_record_unreadable");
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&format!("report draft {agency}/2024 (narrative)")),
        "{detail}"
    );
    // The rest of the service is unaffected.
    let r = app
        .get(&format!("/api/v1/agencies/{agency}/reports/2023"), &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
