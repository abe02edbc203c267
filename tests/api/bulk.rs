//! Bulk import (NDJSON and CSV) and the streamed NDJSON export (issue 7): all lines or none,
//! every bad line named, the usual case numbers, clock and trail, the report counts imports,
//! scope and roles, the import body limit, and an export that carries what was imported.
//!
//! Expected due dates come from the calendar API, as in the requests suite.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    an_application_received_before_15_may_2019_is_timed_by_the_2008_regulation,
    an_ndjson_import_registers_open_and_closed_applications_like_intake_does,
    a_csv_import_reads_the_documented_columns_and_quoted_cells,
    one_bad_line_among_good_ones_imports_nothing_and_names_the_line,
    every_bad_line_is_reported_with_its_physical_line_up_to_the_cap,
    external_references_are_unique_per_agency_within_the_import_and_against_existing_rows,
    only_admins_import_and_only_into_agencies_they_see,
    imported_closed_applications_count_in_the_yearly_report_and_published_years_are_guarded,
    the_export_streams_exactly_the_years_applications_in_scope_with_their_trails,
    an_import_has_its_own_body_limit_and_content_types,
    a_database_failure_midway_through_an_import_leaves_nothing,
    an_import_publishes_one_feed_event_per_application_in_line_order_and_a_refused_one_none,
    a_client_with_requests_read_exports_its_subtree,
    an_import_leaves_the_planners_statistics_current,
    the_first_feed_page_after_a_large_import_numbers_only_the_rounds_it_needs,
);

/// A valid resident identity card number (GB 11643) and unified social credit code (GB 32100).
const RID: &str = "110101199003071233";
const CREDIT: &str = "91350100M000100Y43";

/// An application handed in at the counter at 09:30 Beijing time on `date`, received that day.
fn line(ext: &str, date: &str) -> Value {
    json!({
        "channel": "in_person",
        "arrived_at": format!("{date}T09:30:00+08:00"),
        "receipt_date": date,
        "applicant": {
            "kind": "natural_person",
            "name": "张三",
            "id_document": {"type": "resident_id_card", "number": RID},
            "phone": "010-65123456",
        },
        "description": "申请公开2024年本机关行政许可决定清单",
        "external_reference": ext,
    })
}

fn closed(ext: &str, date: &str, disposition: &str, replied_on: &str) -> Value {
    let mut l = line(ext, date);
    l["disposition"] = json!(disposition);
    l["replied_on"] = json!(replied_on);
    l
}

fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

async fn import(app: &TestApp, token: &str, content_type: &str, body: String) -> Resp {
    Resp::from(
        app.request(Method::POST, "/api/v1/import/requests", Some(token))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("send"),
    )
    .await
}

async fn import_ok(app: &TestApp, token: &str, lines: &[Value]) -> Value {
    let r = import(app, token, "application/x-ndjson", ndjson(lines)).await;
    assert_eq!(r.status, StatusCode::CREATED, "import: {}", r.text);
    r.body
}

/// Applications the caller sees.
async fn count(app: &TestApp, token: &str) -> i64 {
    let r = app.get("/api/v1/requests?per_page=1", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["total"].as_i64().expect("total")
}

/// (line, field, code) of each listed problem.
fn problems(r: &Resp) -> Vec<(u64, String, String)> {
    r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().expect("line"),
                e["field"].as_str().expect("field").to_string(),
                e["code"].as_str().expect("code").to_string(),
            )
        })
        .collect()
}

fn p(line: u64, field: &str, code: &str) -> (u64, String, String) {
    (line, field.to_string(), code.to_string())
}

async fn due_after(app: &TestApp, token: &str, from: &str) -> String {
    let r = app
        .get(
            &format!("/api/v1/calendar/working-days/add?from={from}&days=20"),
            token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["date"].as_str().expect("date").to_string()
}

async fn export(app: &TestApp, token: &str, query: &str) -> (Resp, Vec<Value>) {
    let r = app
        .get(&format!("/api/v1/export/requests?{query}"), token)
        .await;
    let lines = if r.status == StatusCode::OK {
        r.text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    } else {
        Vec::new()
    };
    (r, lines)
}

async fn an_ndjson_import_registers_open_and_closed_applications_like_intake_does(app: TestApp) {
    let admin = app.admin_token().await;
    // One intake first: the import continues the same counter.
    let first = app
        .post(
            "/api/v1/requests",
            &admin,
            &json!({"channel": "in_person", "arrived_at": "2025-03-03T09:00:00+08:00",
                "applicant": line("x", "2025-03-03")["applicant"].clone(),
                "description": "先到的申请"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.body["case_number"], "ROOT-2025-000001");

    let due = due_after(&app, &admin, "2025-03-03").await;
    let late_on = (chrono::NaiveDate::parse_from_str(&due, "%Y-%m-%d").expect("date")
        + chrono::Duration::days(7))
    .to_string();
    // An online application confirmed on 3 March: its receipt date is recorded as confirmed_on.
    let mut online = line("OPEN-1", "2025-03-03");
    online["channel"] = json!("online");
    online["arrived_at"] = json!("2025-03-01T20:00:00+08:00");
    let body = format!(
        "{}\n{}\n",
        ndjson(&[online, closed("ON-TIME", "2025-03-03", "granted", &due)]),
        closed("LATE", "2025-03-03", "not_processed.petition", &late_on),
    );
    let r = import(&app, &admin, "application/x-ndjson", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["imported"], 3);
    let items = r.body["items"].as_array().expect("items").clone();
    // The empty third line is skipped but counted: the last application is on line 4.
    let lines: Vec<u64> = items
        .iter()
        .map(|i| i["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(lines, vec![1, 2, 4]);
    let numbers: Vec<&str> = items
        .iter()
        .map(|i| i["case_number"].as_str().expect("case number"))
        .collect();
    assert_eq!(
        numbers,
        vec!["ROOT-2025-000002", "ROOT-2025-000003", "ROOT-2025-000004"]
    );
    let ids: Vec<String> = items
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect();

    let open = app
        .get(&format!("/api/v1/requests/{}", ids[0]), &admin)
        .await;
    assert_eq!(open.body["state"], "processing", "{}", open.text);
    assert_eq!(open.body["receipt_date"], "2025-03-03");
    assert_eq!(open.body["confirmed_on"], "2025-03-03");
    assert_eq!(open.body["due_date"], due.as_str());
    assert_eq!(open.body["overdue"], true);
    assert_eq!(open.body["version"], 1);

    let on_time = app
        .get(&format!("/api/v1/requests/{}", ids[1]), &admin)
        .await;
    assert_eq!(on_time.body["state"], "closed");
    assert_eq!(on_time.body["disposition"], "granted");
    assert_eq!(on_time.body["closed_on"], due.as_str());
    assert_eq!(on_time.body["late"], false);
    assert_eq!(on_time.body["workflow"]["reply"]["on"], due.as_str());

    let late = app
        .get(&format!("/api/v1/requests/{}", ids[2]), &admin)
        .await;
    assert_eq!(late.body["disposition"], "not_processed.petition");
    assert_eq!(late.body["late"], true);
    assert_eq!(late.body["closed_on"], late_on.as_str());

    // One `import` event each, written by the admin.
    for (id, state) in ids.iter().zip(["processing", "closed", "closed"]) {
        let ev = app
            .get(&format!("/api/v1/requests/{id}/events"), &admin)
            .await;
        let ev = ev.body.as_array().expect("events").clone();
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0]["action"], "import");
        assert_eq!(ev[0]["seq"], 1);
        assert_eq!(ev[0]["actor"], "admin");
        assert_eq!(ev[0]["on"], "2025-03-03");
        assert_eq!(ev[0]["state_after"], state);
    }
    // A closed import refuses further steps like any closed application.
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/requests/{}/actions/withdraw", ids[1]),
            Some(&admin),
        )
        .header("If-Match", "\"1\"")
        .json(&json!({"on": "2025-12-01"}))
        .send()
        .await
        .expect("send");
    Resp::from(r)
        .await
        .assert_problem(409, "invalid_transition");
}

async fn a_csv_import_reads_the_documented_columns_and_quoted_cells(app: TestApp) {
    let admin = app.admin_token().await;
    let csv = format!(
        "channel,arrived_at,receipt_date,applicant_kind,applicant_name,applicant_credit_code,applicant_email,\
applicant_id_document_type,applicant_id_document_number,description,document_numbers,external_reference,disposition,replied_on\r\n\
letter,2025-04-01T10:00:00+08:00,2025-04-02,commercial_enterprise,\"某某有限公司\",{CREDIT},office@example.cn,,,\"申请公开\"\"项目\"\"批复，\n以及附件\",京发〔2024〕1号; 京发〔2024〕2号,CSV-1,,\r\n\
in_person,2025-04-03T09:00:00+08:00,2025-04-03,natural_person,李四,,li@example.cn,resident_id_card,{RID},申请公开预算,,CSV-2,granted,2025-04-10\r\n"
    );
    let r = import(&app, &admin, "text/csv; charset=utf-8", csv).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["imported"], 2);
    let items = r.body["items"].as_array().expect("items").clone();
    // The quoted description spans lines 2 and 3: the second row starts on line 4.
    assert_eq!(items[0]["line"], 2);
    assert_eq!(items[1]["line"], 4);

    let org = app
        .get(
            &format!("/api/v1/requests/{}", items[0]["id"].as_str().expect("id")),
            &admin,
        )
        .await;
    assert_eq!(org.body["channel"], "letter");
    // No signed_for_on: the receipt date is recorded as the confirmation date.
    assert_eq!(org.body["receipt_date"], "2025-04-02");
    assert_eq!(org.body["confirmed_on"], "2025-04-02");
    assert_eq!(org.body["applicant"]["kind"], "commercial_enterprise");
    assert_eq!(org.body["applicant"]["credit_code"], CREDIT);
    assert_eq!(org.body["description"], "申请公开\"项目\"批复，\n以及附件");
    assert_eq!(
        org.body["document_numbers"],
        json!(["京发〔2024〕1号", "京发〔2024〕2号"])
    );
    assert_eq!(org.body["external_reference"], "CSV-1");
    assert_eq!(org.body["state"], "processing");

    let person = app
        .get(
            &format!("/api/v1/requests/{}", items[1]["id"].as_str().expect("id")),
            &admin,
        )
        .await;
    assert_eq!(person.body["applicant"]["id_document_number"], RID);
    assert_eq!(person.body["disposition"], "granted");
    assert_eq!(person.body["closed_on"], "2025-04-10");

    // CSV problems name the columns; a short row is an error of its line, not of the body.
    let bad = "channel,arrived_at,receipt_date,applicant_kind,applicant_name,applicant_phone,description\n\
in_person,2025-04-03T09:00:00+08:00,2025-04-03,robot,李四,123,x\n\
in_person,2025-04-03T09:00:00+08:00\n";
    let r = import(&app, &admin, "text/csv", bad.to_string()).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        problems(&r),
        vec![
            p(2, "applicant_kind", "unknown_code"),
            p(3, "", "wrong_field_count")
        ]
    );
    // Unknown and missing columns are errors of the header, line 1.
    let r = import(
        &app,
        &admin,
        "text/csv",
        "channel,colour\nin_person,red\n".to_string(),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    let header: BTreeSet<(u64, String, String)> = problems(&r).into_iter().collect();
    assert!(
        header.contains(&p(1, "colour", "unknown_column")),
        "{header:?}"
    );
    assert!(
        header.contains(&p(1, "receipt_date", "missing_column")),
        "{header:?}"
    );
    assert_eq!(count(&app, &admin).await, 2);
}

async fn one_bad_line_among_good_ones_imports_nothing_and_names_the_line(app: TestApp) {
    let admin = app.admin_token().await;
    let before = count(&app, &admin).await;
    let mut bad = line("B-2", "2025-05-06");
    bad["applicant"]["kind"] = json!("robot");
    let r = import(
        &app,
        &admin,
        "application/x-ndjson",
        ndjson(&[line("B-1", "2025-05-06"), bad, line("B-3", "2025-05-06")]),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(problems(&r), vec![p(2, "applicant.kind", "unknown_code")]);
    assert_eq!(count(&app, &admin).await, before, "nothing was imported");
    // Nor was a case number used up: the next good import starts at 1.
    let ok = import_ok(&app, &admin, &[line("B-1", "2025-05-06")]).await;
    assert_eq!(ok["items"][0]["case_number"], "ROOT-2025-000001");
    assert_eq!(count(&app, &admin).await, before + 1);
}

async fn every_bad_line_is_reported_with_its_physical_line_up_to_the_cap(app: TestApp) {
    let admin = app.admin_token().await;
    let mut no_receipt = line("E-3", "2025-05-06");
    no_receipt
        .as_object_mut()
        .expect("object")
        .remove("receipt_date");
    let mut half_closed = line("E-5", "2025-05-06");
    half_closed["disposition"] = json!("granted");
    let mut unknown_field = line("E-6", "2025-05-06");
    unknown_field["colour"] = json!("red");
    let mut wrong_receipt = line("E-7", "2025-05-06");
    wrong_receipt["receipt_date"] = json!("2025-05-07");
    let body = format!(
        "not json\n[1,2]\n{}\n{}\n{}\n{}\n{}\n",
        no_receipt,
        line("E-4", "2025-05-06"),
        half_closed,
        unknown_field,
        wrong_receipt
    );
    let r = import(&app, &admin, "application/x-ndjson", body).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        problems(&r),
        vec![
            p(1, "", "invalid_json"),
            p(2, "", "not_an_object"),
            p(3, "receipt_date", "required"),
            p(5, "replied_on", "required"),
            p(6, "colour", "unknown_field"),
            p(7, "receipt_date", "inconsistent_with_channel"),
        ]
    );
    assert_eq!(count(&app, &admin).await, 0);

    // 1,200 bad lines: the first 100 are listed and the answer says how many there were.
    let body = "x\n".repeat(1200);
    let r = import(&app, &admin, "application/x-ndjson", body).await;
    r.assert_problem(422, "validation_failed");
    let listed = problems(&r);
    assert_eq!(listed.len(), 100);
    assert_eq!(listed[99].0, 100);
    assert_eq!(r.body["error_count"], 1200);
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(detail.contains("1200"), "{detail}");
}

async fn external_references_are_unique_per_agency_within_the_import_and_against_existing_rows(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let child = app.create_agency("CHILD", Some(&root)).await;
    let mut existing = line("x", "2025-03-03");
    existing
        .as_object_mut()
        .expect("object")
        .remove("receipt_date");
    existing["external_reference"] = json!("EXT-1");
    let r = app.post("/api/v1/requests", &admin, &existing).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let r = import(
        &app,
        &admin,
        "application/x-ndjson",
        ndjson(&[
            line("EXT-1", "2025-03-04"),
            line("EXT-2", "2025-03-04"),
            line("EXT-2", "2025-03-05"),
            line("EXT-3", "2025-03-05"),
        ]),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        problems(&r),
        vec![
            p(1, "external_reference", "external_reference_taken"),
            p(3, "external_reference", "duplicate_in_import"),
        ]
    );
    assert_eq!(count(&app, &admin).await, 1);
    // The same reference in another agency is another application (its code, as people type
    // it, in any case).
    let mut elsewhere = line("EXT-1", "2025-03-04");
    elsewhere["agency_code"] = json!(" child ");
    let ok = import_ok(&app, &admin, &[elsewhere, line("EXT-2", "2025-03-04")]).await;
    assert_eq!(ok["imported"], 2);
    let first = app
        .get(
            &format!(
                "/api/v1/requests/{}",
                ok["items"][0]["id"].as_str().expect("id")
            ),
            &admin,
        )
        .await;
    assert_eq!(first.body["agency_id"], child.as_str());
    assert_eq!(ok["items"][0]["case_number"], "CHILD-2025-000001");
}

async fn only_admins_import_and_only_into_agencies_they_see(app: TestApp) {
    let root = app.root_agency_id().await;
    let child = app.create_agency("CHILD", Some(&root)).await;
    let (_, clerk) = app.create_user(&root, "clerk1", &["clerk"]).await;
    let (_, supervisor) = app.create_user(&root, "super1", &["supervisor"]).await;
    let (_, child_admin) = app.create_user(&child, "admin2", &["admin"]).await;
    let body = ndjson(&[line("R-1", "2025-03-04")]);
    for token in [&clerk, &supervisor] {
        import(&app, token, "application/x-ndjson", body.clone())
            .await
            .assert_problem(403, "forbidden");
    }
    // The child's admin does not see the root.
    let mut up = line("R-1", "2025-03-04");
    up["agency_code"] = json!("ROOT");
    let mut up_by_id = line("R-2", "2025-03-04");
    up_by_id["agency_id"] = json!(root);
    let r = import(
        &app,
        &child_admin,
        "application/x-ndjson",
        ndjson(&[up, up_by_id]),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        problems(&r),
        vec![
            p(1, "agency_code", "unknown_agency"),
            p(2, "agency_id", "unknown_agency")
        ]
    );
    // Without an agency, the caller's own.
    let ok = import_ok(&app, &child_admin, &[line("R-1", "2025-03-04")]).await;
    assert_eq!(ok["items"][0]["case_number"], "CHILD-2025-000001");
    let admin = app.admin_token().await;
    assert_eq!(count(&app, &admin).await, 1);
}

/// Table 三 as row code → column → value.
fn table3(report: &Value) -> BTreeMap<String, BTreeMap<String, i64>> {
    report["tables"]["applications"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["code"].as_str().expect("code").to_string(),
                serde_json::from_value(row["values"].clone()).expect("values"),
            )
        })
        .collect()
}

async fn imported_closed_applications_count_in_the_yearly_report_and_published_years_are_guarded(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let mut company = closed("C-3", "2025-03-05", "denied.state_secret", "2025-03-20");
    company["applicant"] = json!({"kind": "commercial_enterprise", "name": "某某有限公司",
        "credit_code": CREDIT, "email": "office@example.cn"});
    import_ok(
        &app,
        &admin,
        &[
            closed("C-1", "2025-03-03", "granted", "2025-03-10"),
            closed("C-2", "2025-03-04", "granted", "2025-03-12"),
            company,
            line("C-4", "2025-12-30"),
            // Received in 2024, answered in 2025: carried in.
            closed("C-5", "2024-12-27", "partially_granted", "2025-01-06"),
        ],
    )
    .await;
    let r = app
        .get(&format!("/api/v1/agencies/{root}/reports/2025"), &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t = table3(&r.body);
    assert_eq!(t["new"]["total"], 4);
    assert_eq!(t["new"]["natural_person"], 3);
    assert_eq!(t["new"]["commercial_enterprise"], 1);
    assert_eq!(t["carried_in"]["total"], 1);
    assert_eq!(t["granted"]["natural_person"], 2);
    assert_eq!(t["partially_granted"]["natural_person"], 1);
    assert_eq!(t["denied.state_secret"]["commercial_enterprise"], 1);
    assert_eq!(t["total"]["total"], 4);
    assert_eq!(t["carried_out"]["total"], 1);
    assert!(
        r.body["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .all(|c| c["holds"] == true),
        "{}",
        r.body["checks"]
    );

    // Publish 2024; an import that would add to its figures is an error of that line.
    let report = format!("/api/v1/agencies/{root}/reports/2024");
    app.complete_narrative(&report, &admin).await;
    let r = app.publish_report(&report, &admin).await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = import(
        &app,
        &admin,
        "application/x-ndjson",
        ndjson(&[
            line("C-6", "2025-06-02"),
            closed("C-7", "2024-06-03", "granted", "2024-06-10"),
        ]),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(problems(&r), vec![p(2, "receipt_date", "period_published")]);
    assert_eq!(count(&app, &admin).await, 5);
}

async fn the_export_streams_exactly_the_years_applications_in_scope_with_their_trails(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let a = app.create_agency("A", Some(&root)).await;
    let b = app.create_agency("B", Some(&root)).await;
    let (_, a_admin) = app.create_user(&a, "admin_a", &["admin"]).await;
    let (_, b_clerk) = app.create_user(&b, "clerk_b", &["clerk"]).await;
    let (_, approver) = app.create_user(&b, "approver_b", &["approver"]).await;

    // A: more than two export pages of 2025, and one of 2024; B and the root: one each.
    let mut lines: Vec<Value> = (0..1050)
        .map(|i| {
            let mut l = line(&format!("A-{i}"), "2025-03-03");
            l["agency_code"] = json!("A");
            l
        })
        .collect();
    lines[7] = closed("A-7", "2025-03-03", "granted", "2025-03-10");
    lines[7]["agency_code"] = json!("A");
    let mut a_2024 = line("A-OLD", "2024-05-06");
    a_2024["agency_code"] = json!("A");
    let mut in_b = line("B-1", "2025-07-01");
    in_b["agency_id"] = json!(b);
    lines.extend([a_2024, in_b, line("ROOT-1", "2025-08-01")]);
    let imported = import_ok(&app, &admin, &lines).await;
    assert_eq!(imported["imported"], 1053);

    // A's admin: exactly A's 1,050 applications of 2025, in case-number order, with trails.
    let (r, out) = export(&app, &a_admin, "year=2025").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"requests-2025.ndjson\"")
    );
    assert_eq!(out.len(), 1050);
    let numbers: Vec<String> = out
        .iter()
        .map(|l| l["case_number"].as_str().expect("case number").to_string())
        .collect();
    let expected: Vec<String> = (1..=1050).map(|n| format!("A-2025-{n:06}")).collect();
    assert_eq!(numbers, expected);
    assert!(out.iter().all(|l| l["agency_id"] == a.as_str()));
    // The imported facts come back, and the trail with them.
    let seventh = out
        .iter()
        .find(|l| l["external_reference"] == "A-7")
        .expect("A-7 exported");
    assert_eq!(seventh["channel"], "in_person");
    assert_eq!(seventh["arrived_at"], "2025-03-03T01:30:00Z");
    assert_eq!(seventh["receipt_date"], "2025-03-03");
    assert_eq!(seventh["disposition"], "granted");
    assert_eq!(seventh["closed_on"], "2025-03-10");
    assert_eq!(seventh["applicant"]["name"], "张三");
    // Masked as lists show it: the full number needs personal_data=true.
    let masked = format!("{}********{}", &RID[..6], &RID[14..]);
    assert_eq!(seventh["applicant"]["id_document_number"], masked.as_str());
    assert_eq!(
        seventh["description"],
        "申请公开2024年本机关行政许可决定清单"
    );
    assert_eq!(seventh["reviews"], json!([]));
    let trail = seventh["events"].as_array().expect("events");
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0]["action"], "import");
    assert_eq!(trail[0]["payload"]["disposition"], "granted");
    // The detail endpoint shows the same application (the export is its shape plus events).
    let mut detail = app
        .get(
            &format!("/api/v1/requests/{}", seventh["id"].as_str().expect("id")),
            &admin,
        )
        .await
        .body;
    detail["events"] = seventh["events"].clone();
    detail["applicant"]["id_document_number"] = json!(masked);
    assert_eq!(&detail, seventh);

    // Issue 17: the full numbers for an admin who asks, audited; not for a clerk.
    let (r, personal) = export(&app, &a_admin, "year=2025&personal_data=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let seventh = personal
        .iter()
        .find(|l| l["external_reference"] == "A-7")
        .expect("A-7 exported");
    assert_eq!(seventh["applicant"]["id_document_number"], RID);
    let log = app
        .get("/api/v1/audit-log?entity_type=export", &admin)
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let rows = log.body["items"].as_array().expect("items");
    assert!(
        rows.iter()
            .any(|e| e["action"] == "personal_data_exported" && e["payload"]["year"] == 2025),
        "{}",
        log.text
    );
    let (r, _) = export(&app, &b_clerk, "year=2025&personal_data=true").await;
    r.assert_problem(403, "forbidden");

    // The root's admin sees all three agencies' 2025; agency_id narrows to one.
    let (_, all) = export(&app, &admin, "year=2025").await;
    assert_eq!(all.len(), 1052);
    let refs: BTreeSet<&str> = all
        .iter()
        .map(|l| l["external_reference"].as_str().expect("ref"))
        .collect();
    assert!(refs.contains("B-1") && refs.contains("ROOT-1") && !refs.contains("A-OLD"));
    let (_, only_b) = export(&app, &admin, &format!("year=2025&agency_id={b}")).await;
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0]["external_reference"], "B-1");
    let (_, old) = export(&app, &admin, "year=2024").await;
    assert_eq!(old.len(), 1);
    assert_eq!(old[0]["external_reference"], "A-OLD");

    // B's clerk sees B only, and may not name A; an approver alone may not export.
    let (_, b_only) = export(&app, &b_clerk, "year=2025").await;
    assert_eq!(b_only.len(), 1);
    let (r, _) = export(&app, &b_clerk, &format!("year=2025&agency_id={a}")).await;
    r.assert_problem(404, "not_found");
    let (r, _) = export(&app, &approver, "year=2025").await;
    r.assert_problem(403, "forbidden");
    // A year with nothing: an empty body. A bad year: a problem, not a stream.
    let (r, none) = export(&app, &admin, "year=2023").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(none.is_empty() && r.text.is_empty());
    let (r, _) = export(&app, &admin, "year=1800").await;
    r.assert_problem(422, "validation_failed");
    let (r, _) = export(&app, &admin, "year=abc").await;
    r.assert_problem(400, "invalid_query");
}

async fn an_import_has_its_own_body_limit_and_content_types(app: TestApp) {
    let app = TestApp::spawn_with(app.db, |s| {
        s.server.body_limit_bytes = 4096;
        s.server.import_body_limit_bytes = 64 * 1024;
    })
    .await
    .expect("app");
    let admin = app.admin_token().await;
    // Larger than a normal body, within the import limit.
    let lines: Vec<Value> = (0..40)
        .map(|i| line(&format!("L-{i}"), "2025-03-03"))
        .collect();
    let body = ndjson(&lines);
    assert!(body.len() > 4096 && body.len() < 64 * 1024);
    let r = import(&app, &admin, "application/x-ndjson", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Beyond it: 413, nothing imported.
    let lines: Vec<Value> = (0..400)
        .map(|i| line(&format!("M-{i}"), "2025-03-03"))
        .collect();
    let body = ndjson(&lines);
    assert!(body.len() > 64 * 1024);
    import(&app, &admin, "application/x-ndjson", body)
        .await
        .assert_problem(413, "payload_too_large");
    assert_eq!(count(&app, &admin).await, 40);
    import(&app, &admin, "application/json", "{}".into())
        .await
        .assert_problem(415, "unsupported_media_type");
    let r = import(&app, &admin, "application/x-ndjson", "\n\n".into()).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "empty_import");
}

/// Makes the database refuse the trail event of the import's third line, after the rows and
/// the first two events are written.
fn fail_third_import_event(app: &TestApp) {
    use diesel::connection::SimpleConnection;
    match app.db_connection() {
        gongkai::db::DbConnection::Sqlite(mut c) => {
            c.batch_execute(
                r#"CREATE TRIGGER fail_import BEFORE INSERT ON request_events
                   WHEN NEW.action = 'import' AND NEW.payload LIKE '%"line":3,%'
                   BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"#,
            )
            .expect("trigger");
        }
        gongkai::db::DbConnection::Postgres(mut c) => {
            c.batch_execute(
                r#"CREATE FUNCTION fail_import() RETURNS trigger AS $$
                   BEGIN
                     IF NEW.action = 'import' AND NEW.payload LIKE '%"line":3,%' THEN
                       RAISE EXCEPTION 'injected failure';
                     END IF;
                     RETURN NEW;
                   END $$ LANGUAGE plpgsql;
                   CREATE TRIGGER fail_import BEFORE INSERT ON request_events
                   FOR EACH ROW EXECUTE FUNCTION fail_import();"#,
            )
            .expect("trigger");
        }
    }
}

async fn a_database_failure_midway_through_an_import_leaves_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    fail_third_import_event(&app);
    let lines: Vec<Value> = (1..=5)
        .map(|i| line(&format!("F-{i}"), "2025-03-03"))
        .collect();
    let r = import(&app, &admin, "application/x-ndjson", ndjson(&lines)).await;
    r.assert_problem(500, "internal_error");
    assert_eq!(count(&app, &admin).await, 0, "no application survived");
    // The case numbers went back with the rollback: the first intake of 2025 is number 1.
    let mut one = line("x", "2025-03-03");
    one.as_object_mut().expect("object").remove("receipt_date");
    let r = app.post("/api/v1/requests", &admin, &one).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["case_number"], "ROOT-2025-000001");
}

/// The feed from the start, as the admin sees it.
async fn feed_events(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get("/api/v1/feed?limit=1000", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["events"].as_array().expect("events").clone()
}

/// The feed events' cursors, as numbers.
fn cursors(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| {
            e["cursor"]
                .as_str()
                .expect("cursor")
                .parse()
                .expect("number")
        })
        .collect()
}

async fn an_import_publishes_one_feed_event_per_application_in_line_order_and_a_refused_one_none(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let before = feed_events(&app, &admin).await.len();
    // A refused import (one bad line) publishes nothing.
    let mut bad = line("BAD-2", "2024-03-05");
    bad["receipt_date"] = json!("not a date");
    let r = import(
        &app,
        &admin,
        "application/x-ndjson",
        ndjson(&[line("BAD-1", "2024-03-04"), bad]),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(feed_events(&app, &admin).await.len(), before);

    let lines = [
        line("FEED-1", "2024-03-04"),
        closed("FEED-2", "2024-03-05", "granted", "2024-03-20"),
        line("FEED-3", "2024-03-06"),
    ];
    let answer = import_ok(&app, &admin, &lines).await;
    let ids: Vec<Value> = answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    let events = feed_events(&app, &admin).await;
    let new = &events[before..];
    assert_eq!(new.len(), 3, "one event per imported application");
    let published: Vec<Value> = new.iter().map(|e| e["request_id"].clone()).collect();
    assert_eq!(published, ids, "in line order");
    assert!(new.iter().all(|e| e["type"] == "application.import"));
    let refs: Vec<&str> = new
        .iter()
        .map(|e| e["data"]["external_reference"].as_str().expect("reference"))
        .collect();
    assert_eq!(refs, ["FEED-1", "FEED-2", "FEED-3"]);
    assert_eq!(new[1]["data"]["disposition"], "granted");
    assert_eq!(new[1]["data"]["state"], "closed");
    // Cursors follow on without a gap from what was there before.
    let cursors = cursors(&events);
    assert!(cursors.windows(2).all(|w| w[1] == w[0] + 1), "{cursors:?}");
}

/// After an import of more events than one numbering round, the first reader numbers the one
/// round its page needs instead of the whole backlog (with 100,000 that reader waited 3.2 s),
/// and reading on still gives every event once, in line order, with consecutive cursors.
async fn the_first_feed_page_after_a_large_import_numbers_only_the_rounds_it_needs(app: TestApp) {
    // Without the webhook dispatcher, which numbers the whole backlog on every poll.
    let app = TestApp::spawn_with(app.db, |s| s.webhooks.enabled = false)
        .await
        .expect("app");
    let admin = app.admin_token().await;
    let seen = feed_events(&app, &admin).await;
    let start = seen.last().map_or_else(
        || "0".to_string(),
        |e| e["cursor"].as_str().expect("cursor").to_string(),
    );
    let round = gongkai::db::feed::ROUND_SIZE;
    let n = round + 100;
    let lines: Vec<Value> = (0..n)
        .map(|i| line(&format!("BIG-{i}"), "2025-03-03"))
        .collect();
    import_ok(&app, &admin, &lines).await;
    let unnumbered = || -> i64 {
        app.query_texts("SELECT CAST(count(*) AS TEXT) AS value FROM feed_events WHERE seq IS NULL")
            [0]
        .parse()
        .expect("count")
    };
    assert_eq!(
        unnumbered(),
        n,
        "an import leaves its events to the numbering rounds"
    );
    let page = |after: String, limit: i64| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let r = app
                .get(&format!("/api/v1/feed?after={after}&limit={limit}"), &admin)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.body
        }
    };
    let first = page(start.clone(), 100).await;
    let events = first["events"].as_array().expect("events").clone();
    assert_eq!(events.len(), 100, "a full page");
    assert_eq!(
        unnumbered(),
        n - round,
        "one round numbered, the rest left for later pages"
    );
    // Reading on numbers the rest, in order, each once.
    let mut all = events;
    let mut after = first["next_cursor"].as_str().expect("cursor").to_string();
    loop {
        let body = page(after.clone(), 1000).await;
        let more = body["events"].as_array().expect("events").clone();
        if more.is_empty() {
            assert_eq!(body["next_cursor"], json!(after));
            break;
        }
        after = body["next_cursor"].as_str().expect("cursor").to_string();
        all.extend(more);
    }
    assert_eq!(unnumbered(), 0);
    let refs: Vec<String> = all
        .iter()
        .map(|e| {
            e["data"]["external_reference"]
                .as_str()
                .expect("ref")
                .to_string()
        })
        .collect();
    let expected: Vec<String> = (0..n).map(|i| format!("BIG-{i}")).collect();
    assert_eq!(
        refs, expected,
        "every imported application once, in line order"
    );
    let cursors = cursors(&all);
    let first_cursor: i64 = start.parse::<i64>().expect("number") + 1;
    assert_eq!(
        cursors.first(),
        Some(&first_cursor),
        "no gap after what was there"
    );
    assert!(cursors.windows(2).all(|w| w[1] == w[0] + 1), "consecutive");
}

async fn a_client_with_requests_read_exports_its_subtree(app: TestApp) {
    let admin = app.admin_token().await;
    let a = app.create_agency("EXA", None).await;
    let b = app.create_agency("EXB", None).await;
    let mut in_a = line("EX-A", "2024-03-04");
    in_a["agency_id"] = json!(a);
    let mut in_b = line("EX-B", "2024-03-04");
    in_b["agency_id"] = json!(b);
    import_ok(&app, &admin, &[in_a, in_b]).await;
    let client = app
        .post(
            "/api/v1/clients",
            &admin,
            &json!({"name": "省平台", "agency_id": a, "scopes": ["requests:read"]}),
        )
        .await;
    assert_eq!(client.status, StatusCode::CREATED, "{}", client.text);
    let token = app
        .post(
            "/api/v1/auth/token",
            &admin,
            &json!({
                "grant_type": "client_credentials",
                "client_id": client.body["client_id"],
                "client_secret": client.body["client_secret"],
            }),
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    let token = token.body["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let (r, lines) = export(&app, &token, "year=2024").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let refs: Vec<&str> = lines
        .iter()
        .map(|l| l["external_reference"].as_str().expect("reference"))
        .collect();
    assert_eq!(refs, ["EX-A"], "only the client's subtree");
    // Importing stays with users.
    let r = import(
        &app,
        &token,
        "application/x-ndjson",
        ndjson(&[line("EX-C", "2024-03-04")]),
    )
    .await;
    r.assert_problem(403, "client_not_allowed");
}

/// Imported history received before the 2019 revision came into force (2019-05-15) is timed by
/// the 2008 Regulation: 15 working days, one extension of at most 15, and the trace cites it.
async fn an_application_received_before_15_may_2019_is_timed_by_the_2008_regulation(app: TestApp) {
    let admin = app.admin_token().await;
    let ok = import_ok(
        &app,
        &admin,
        &[line("OLD-1", "2019-05-14"), line("NEW-1", "2019-05-15")],
    )
    .await;
    let items = ok["items"].as_array().expect("items");
    let id = |i: usize| items[i]["id"].as_str().expect("id").to_string();
    let due = |from: &str, days: u32| {
        let app = &app;
        let admin = admin.clone();
        let from = from.to_string();
        async move {
            let r = app
                .get(
                    &format!("/api/v1/calendar/working-days/add?from={from}&days={days}"),
                    &admin,
                )
                .await;
            r.body["date"].as_str().expect("date").to_string()
        }
    };
    let old = app
        .get(&format!("/api/v1/requests/{}/deadline", id(0)), &admin)
        .await;
    assert_eq!(old.body["deadline"]["reply_period_days"], 15);
    assert_eq!(
        old.body["deadline"]["due_date"],
        due("2019-05-14", 15).await.as_str()
    );
    let period = old.body["deadline"]["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .find(|t| t["rule"] == "reply_period")
        .expect("reply_period")
        .clone();
    assert_eq!(
        period["article"],
        "《政府信息公开条例》（2008年）第二十四条"
    );
    let new = app
        .get(&format!("/api/v1/requests/{}/deadline", id(1)), &admin)
        .await;
    assert_eq!(new.body["deadline"]["reply_period_days"], 20);
    assert_eq!(
        new.body["deadline"]["due_date"],
        due("2019-05-15", 20).await.as_str()
    );
}

/// Issue 15: after a bulk import the planner knows the tables' new size at once (ANALYZE at the
/// end of the import), instead of planning the first lists as if they were still empty.
async fn an_import_leaves_the_planners_statistics_current(app: TestApp) {
    let admin = app.admin_token().await;
    let stats = |app: &TestApp| {
        let database = gongkai::db::connect(&app.settings.database, false).expect("connect");
        let mut c = database.get().expect("connection");
        gongkai::db::requests::has_statistics(&mut c, "requests").expect("statistics")
    };
    assert!(!stats(&app), "no statistics before anything was loaded");
    let lines: Vec<Value> = (0..20)
        .map(|i| line(&format!("S-{i}"), "2025-03-03"))
        .collect();
    import_ok(&app, &admin, &lines).await;
    assert!(stats(&app), "the import left no statistics of `requests`");
}
