//! Work inside the office over HTTP: departments, hand-overs (assign, claim, transfer, return,
//! internal consultation) with their refusals, queues, the flags, and reminders to a real SMTP
//! server from two server processes.

use chrono::NaiveDate;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Resp, TestApp};
use crate::{both_databases, both_databases_with};

both_databases!(
    a_case_assigned_claimed_transferred_and_returned_shows_each_step_and_sits_in_the_right_queue,
    hand_overs_are_refused_with_their_codes,
    an_internal_consultation_is_answered_once_by_the_consulted_department,
    a_queue_puts_overdue_first_names_the_next_step_and_is_filtered_for_supervisors,
    a_correction_on_the_last_day_of_its_window_carries_stalling_correction,
    a_second_application_for_the_same_document_number_carries_possible_repeat,
    an_extension_on_the_due_date_and_a_late_consultation_are_flagged,
    an_overdue_case_without_a_reply_letter_is_at_risk_and_listed_by_flag,
    a_reminder_waiting_for_its_retry_cannot_be_claimed_before_it,
);

both_databases_with!(low_thresholds =>
    volume_and_extension_habits_are_flagged_above_their_settings_only,
    the_volume_count_stays_exact_past_the_applications_compared_for_repeats,
);

both_databases_with!(pinned_national_day =>
    nothing_is_reminded_on_a_public_holiday,
);

both_databases_with!(pinned_day_before_national_day =>
    a_case_due_soon_is_reminded_once_on_a_working_day_even_without_mail,
);

const PASSWORD: &str = "correct horse battery";

fn low_thresholds(s: &mut gongkai::config::Settings) {
    s.flags.high_volume_threshold = 2;
    s.flags.extension_habit_min_cases = 2;
    s.flags.extension_habit_share = 0.3;
}

fn pinned_national_day(s: &mut gongkai::config::Settings) {
    // 国庆节 2026: 1–7 October are holidays (State Council notice, config/calendar/2026.toml).
    s.clock.today = "2026-10-01".into();
    s.reminders.enabled = true;
    s.reminders.interval_secs = 1;
}

fn pinned_day_before_national_day(s: &mut gongkai::config::Settings) {
    s.clock.today = "2026-09-30".into();
    s.reminders.enabled = true;
    s.reminders.interval_secs = 1;
}

fn application(arrived_on: NaiveDate, id_number: &str, docs: &[&str], description: &str) -> Value {
    json!({
        "channel": "in_person",
        "arrived_at": format!("{arrived_on}T09:30:00+08:00"),
        "applicant": {
            "kind": "natural_person",
            "name": "王五",
            "id_document": {"type": "resident_id_card", "number": id_number},
            "phone": "010-65123456",
            "address": "北京市东城区东华门街道1号",
        },
        "description": description,
        "document_numbers": docs,
    })
}

const ID_A: &str = "110101199003071233";
const ID_B: &str = "11010519491231002X";

struct Office {
    root: String,
    admin: String,
    office_dept: String,
    law: String,
    finance: String,
    empty: String,
    registrar: (String, String),
    lawyer: (String, String),
    lawyer2: (String, String),
    accountant: (String, String),
}

async fn department(app: &TestApp, agency: &str, name: &str) -> String {
    let r = app
        .post(
            &format!("/api/v1/agencies/{agency}/departments"),
            &app.admin_token().await,
            &json!({"name": name}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["name"], name);
    r.body["id"].as_str().unwrap().to_string()
}

async fn member(
    app: &TestApp,
    agency: &str,
    username: &str,
    roles: &[&str],
    department: &str,
    email: Option<&str>,
) -> (String, String) {
    let r = app
        .post(
            &format!("/api/v1/agencies/{agency}/users"),
            &app.admin_token().await,
            &json!({"username": username, "password": PASSWORD, "roles": roles,
                    "department_id": department, "email": email}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["department_id"], department);
    let id = r.body["id"].as_str().unwrap().to_string();
    (id, app.token(username, PASSWORD).await)
}

async fn office(app: &TestApp) -> Office {
    let root = app.root_agency_id().await;
    let admin = app.admin_token().await;
    let office_dept = department(app, &root, "办公室").await;
    let law = department(app, &root, "法规处").await;
    let finance = department(app, &root, "财务处").await;
    let empty = department(app, &root, "档案室").await;
    let registrar = member(
        app,
        &root,
        "registrar",
        &["clerk"],
        &office_dept,
        Some("registrar@example.gov.cn"),
    )
    .await;
    let lawyer = member(
        app,
        &root,
        "lawyer",
        &["clerk"],
        &law,
        Some("lawyer@example.gov.cn"),
    )
    .await;
    let lawyer2 = member(app, &root, "lawyer2", &["clerk"], &law, None).await;
    let accountant = member(app, &root, "accountant", &["clerk"], &finance, None).await;
    Office {
        root,
        admin,
        office_dept,
        law,
        finance,
        empty,
        registrar,
        lawyer,
        lawyer2,
        accountant,
    }
}

async fn intake(app: &TestApp, token: &str, body: &Value) -> Value {
    let r = app.post("/api/v1/requests", token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn step(
    app: &TestApp,
    token: &str,
    id: &str,
    what: &str,
    version: i64,
    body: &Value,
) -> Resp {
    app.send_if_match(
        Method::POST,
        &format!("/api/v1/requests/{id}/{what}"),
        token,
        body,
        Some(&format!("\"{version}\"")),
    )
    .await
}

async fn ok_step(
    app: &TestApp,
    token: &str,
    id: &str,
    what: &str,
    version: i64,
    body: &Value,
) -> Value {
    let r = step(app, token, id, what, version, body).await;
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text);
    r.body
}

fn version(v: &Value) -> i64 {
    v["version"].as_i64().unwrap()
}

async fn queue_ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let r = app.get(&format!("/api/v1/me/queue{query}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["application"]["id"].as_str().unwrap().to_string())
        .collect()
}

fn flag_codes(v: &Value) -> Vec<String> {
    v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

async fn detail(app: &TestApp, token: &str, id: &str) -> Value {
    let r = app.get(&format!("/api/v1/requests/{id}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn add_working_days(app: &TestApp, token: &str, from: NaiveDate, days: u32) -> NaiveDate {
    let r = app
        .get(
            &format!("/api/v1/calendar/working-days/add?from={from}&days={days}"),
            token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["date"].as_str().unwrap().parse().unwrap()
}

async fn count_working_days(app: &TestApp, token: &str, from: NaiveDate, to: NaiveDate) -> u32 {
    let r = app
        .get(
            &format!("/api/v1/calendar/working-days/count?from={from}&to={to}"),
            token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    u32::try_from(r.body["count"].as_u64().unwrap()).unwrap()
}

/// A working day `a` with `a` + 20 working days = `due` (an in-person application arriving on
/// `a` is due on `due`).
async fn arrival_due_on(app: &TestApp, token: &str, due: NaiveDate) -> NaiveDate {
    for back in 20..80 {
        let a = due - chrono::Duration::days(back);
        if add_working_days(app, token, a, 0).await == a
            && count_working_days(app, token, a, due).await == 20
        {
            return a;
        }
    }
    panic!("no arrival 20 working days before {due}");
}

async fn a_case_assigned_claimed_transferred_and_returned_shows_each_step_and_sits_in_the_right_queue(
    app: TestApp,
) {
    let o = office(&app).await;
    let today = app.today();
    let a = intake(
        &app,
        &o.registrar.1,
        &application(
            today,
            ID_A,
            &[],
            "申请公开本机关2025年政府信息公开工作年度报告的编制说明",
        ),
    )
    .await;
    let id = a["id"].as_str().unwrap().to_string();
    let (state, due) = (a["state"].clone(), a["due_date"].clone());
    // The registering clerk holds it, with its department.
    assert_eq!(a["holder"]["user_id"], o.registrar.0.as_str());
    assert_eq!(a["holder"]["department_id"], o.office_dept.as_str());
    assert_eq!(a["holder"]["department_name"], "办公室");
    assert_eq!(queue_ids(&app, &o.registrar.1, "").await, vec![id.clone()]);
    assert!(queue_ids(&app, &o.lawyer.1, "").await.is_empty());

    // 分办 to 法规处: waits for a claim; in the department's queue, out of the registrar's.
    let v = ok_step(
        &app,
        &o.registrar.1,
        &id,
        "assign",
        version(&a),
        &json!({"department_id": o.law, "note": "请法规处承办"}),
    )
    .await;
    assert_eq!(v["holder"]["department_id"], o.law.as_str());
    assert_eq!(v["holder"]["user_id"], Value::Null);
    assert_eq!(v["holder"]["awaiting_claim"], true);
    assert_eq!(v["version"], version(&a) + 1);
    assert!(queue_ids(&app, &o.registrar.1, "").await.is_empty());
    assert_eq!(queue_ids(&app, &o.lawyer.1, "").await, vec![id.clone()]);
    assert_eq!(queue_ids(&app, &o.lawyer2.1, "").await, vec![id.clone()]);

    // 签收 by a member of 法规处; the colleague no longer sees it.
    let v = ok_step(&app, &o.lawyer.1, &id, "claim", version(&v), &json!({})).await;
    assert_eq!(v["holder"]["user_id"], o.lawyer.0.as_str());
    assert_eq!(v["holder"]["user_name"], "lawyer");
    assert_eq!(v["holder"]["awaiting_claim"], false);
    assert_eq!(queue_ids(&app, &o.lawyer.1, "").await, vec![id.clone()]);
    // The department's queue still counts the case its member holds.
    assert_eq!(queue_ids(&app, &o.lawyer2.1, "").await, vec![id.clone()]);

    // 转办 to 财务处 with a reason.
    let v = ok_step(
        &app,
        &o.lawyer.1,
        &id,
        "transfer",
        version(&v),
        &json!({"department_id": o.finance, "reason": "所申请信息由财务处掌握"}),
    )
    .await;
    assert_eq!(v["holder"]["department_id"], o.finance.as_str());
    assert_eq!(v["holder"]["awaiting_claim"], true);
    assert!(queue_ids(&app, &o.lawyer.1, "").await.is_empty());
    assert_eq!(queue_ids(&app, &o.accountant.1, "").await, vec![id.clone()]);

    // 财务处 claims, then 退回 to the sender (法规处's lawyer).
    let v = ok_step(&app, &o.accountant.1, &id, "claim", version(&v), &json!({})).await;
    let v = ok_step(
        &app,
        &o.accountant.1,
        &id,
        "return",
        version(&v),
        &json!({"reason": "非本处室掌握的信息"}),
    )
    .await;
    assert_eq!(v["holder"]["user_id"], o.lawyer.0.as_str());
    assert_eq!(v["holder"]["department_id"], o.law.as_str());
    assert!(queue_ids(&app, &o.accountant.1, "").await.is_empty());
    assert_eq!(queue_ids(&app, &o.lawyer.1, "").await, vec![id.clone()]);

    // Neither the statutory state nor the clock moved.
    let d = detail(&app, &o.registrar.1, &id).await;
    assert_eq!(d["state"], state);
    assert_eq!(d["due_date"], due);
    assert_eq!(d["holder"]["user_id"], o.lawyer.0.as_str());

    // The trail shows each step, who handed it to whom and why.
    let r = app
        .get(&format!("/api/v1/requests/{id}/events"), &o.registrar.1)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let events = r
        .body
        .as_array()
        .cloned()
        .unwrap_or_else(|| r.body["items"].as_array().cloned().unwrap());
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["intake", "assign", "claim", "transfer", "claim", "return"]
    );
    for e in &events[1..] {
        assert_eq!(e["state_before"], e["state_after"], "{e}");
    }
    let transfer = &events[3];
    assert_eq!(transfer["payload"]["reason"], "所申请信息由财务处掌握");
    assert_eq!(transfer["payload"]["from"]["user_id"], o.lawyer.0.as_str());
    assert_eq!(transfer["payload"]["to"]["department_name"], "财务处");
    assert_eq!(events[1]["payload"]["note"], "请法规处承办");
    assert_eq!(events[5]["payload"]["to"]["user_name"], "lawyer");

    // The dashboard counts the open case under its department and holder.
    let r = app.get("/api/v1/dashboard", &o.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let law = r.body["by_department"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["department_id"] == o.law.as_str())
        .cloned()
        .unwrap();
    assert_eq!(law["open"], 1);
    assert_eq!(law["name"], "法规处");
    let lawyer = r.body["by_holder"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["user_id"] == o.lawyer.0.as_str())
        .cloned()
        .unwrap();
    assert_eq!(lawyer["open"], 1);
    let _ = o.root;
}

async fn hand_overs_are_refused_with_their_codes(app: TestApp) {
    let o = office(&app).await;
    let today = app.today();
    let a = intake(
        &app,
        &o.registrar.1,
        &application(today, ID_A, &[], "申请公开某项目批复"),
    )
    .await;
    let id = a["id"].as_str().unwrap().to_string();
    let v1 = version(&a);
    let path = format!("/api/v1/requests/{id}/assign");
    // No If-Match; a stale one.
    let r = app
        .send_if_match(
            Method::POST,
            &path,
            &o.registrar.1,
            &json!({"department_id": o.law}),
            None,
        )
        .await;
    r.assert_problem(428, "if_match_required");
    let r = step(
        &app,
        &o.registrar.1,
        &id,
        "assign",
        v1 + 5,
        &json!({"department_id": o.law}),
    )
    .await;
    r.assert_problem(412, "version_mismatch");
    // Nobody sent it: nothing to return.
    step(
        &app,
        &o.registrar.1,
        &id,
        "return",
        v1,
        &json!({"reason": "退回"}),
    )
    .await
    .assert_problem(409, "nothing_to_return");
    // A department without anyone to hold it; both targets; neither.
    step(
        &app,
        &o.registrar.1,
        &id,
        "assign",
        v1,
        &json!({"department_id": o.empty}),
    )
    .await
    .assert_problem(409, "holder_cannot_hold");
    step(
        &app,
        &o.registrar.1,
        &id,
        "assign",
        v1,
        &json!({"department_id": o.law, "user_id": o.lawyer.0}),
    )
    .await
    .assert_problem(422, "validation_failed");
    step(&app, &o.registrar.1, &id, "assign", v1, &json!({}))
        .await
        .assert_problem(422, "validation_failed");
    // A department of another agency is no department of this application.
    let other = app.create_agency("OTHER", Some(&o.root)).await;
    let foreign = department(&app, &other, "外单位法规处").await;
    let r = step(
        &app,
        &o.registrar.1,
        &id,
        "assign",
        v1,
        &json!({"department_id": foreign}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert!(
        r.field_errors().iter().any(|e| e.contains("department_id")),
        "{}",
        r.text
    );
    // Someone who does not hold it may not hand it over; a transfer needs a reason.
    step(
        &app,
        &o.lawyer.1,
        &id,
        "assign",
        v1,
        &json!({"department_id": o.finance}),
    )
    .await
    .assert_problem(409, "not_holder");
    step(
        &app,
        &o.registrar.1,
        &id,
        "transfer",
        v1,
        &json!({"department_id": o.law, "reason": " "}),
    )
    .await
    .assert_problem(422, "validation_failed");
    // Already held there; the holding department itself.
    step(
        &app,
        &o.registrar.1,
        &id,
        "assign",
        v1,
        &json!({"user_id": o.registrar.0}),
    )
    .await
    .assert_problem(409, "already_holder");
    step(
        &app,
        &o.registrar.1,
        &id,
        "transfer",
        v1,
        &json!({"department_id": o.office_dept, "reason": "转办"}),
    )
    .await
    .assert_problem(409, "same_department");
    // A disabled user cannot hold it.
    let (sleeper, _) = member(&app, &o.root, "sleeper", &["clerk"], &o.law, None).await;
    let r = app
        .send_if_match(
            Method::PATCH,
            &format!("/api/v1/users/{sleeper}"),
            &o.admin,
            &json!({"disabled": true}),
            Some("\"1\""),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    step(
        &app,
        &o.registrar.1,
        &id,
        "assign",
        v1,
        &json!({"user_id": sleeper}),
    )
    .await
    .assert_problem(409, "holder_cannot_hold");
    // Claims: only the holding department's members, once; a person holding it has claimed it.
    step(&app, &o.registrar.1, &id, "claim", v1, &json!({}))
        .await
        .assert_problem(409, "already_claimed");
    let v = ok_step(
        &app,
        &o.registrar.1,
        &id,
        "assign",
        v1,
        &json!({"department_id": o.law}),
    )
    .await;
    step(&app, &o.accountant.1, &id, "claim", version(&v), &json!({}))
        .await
        .assert_problem(409, "not_in_holding_department");
    let v = ok_step(&app, &o.lawyer.1, &id, "claim", version(&v), &json!({})).await;
    step(&app, &o.lawyer2.1, &id, "claim", version(&v), &json!({}))
        .await
        .assert_problem(409, "already_claimed");
    // The colleague of the one who claimed it does not hold it; the office head directs any case.
    step(
        &app,
        &o.lawyer2.1,
        &id,
        "return",
        version(&v),
        &json!({"reason": "退回"}),
    )
    .await
    .assert_problem(409, "not_holder");
    let v = ok_step(
        &app,
        &o.admin,
        &id,
        "assign",
        version(&v),
        &json!({"user_id": o.lawyer2.0}),
    )
    .await;
    assert_eq!(v["holder"]["user_id"], o.lawyer2.0.as_str());
    // Nothing was written by the refusals: five steps, five versions.
    assert_eq!(version(&v), v1 + 3);
    // A user's department must be one of its agency's.
    let r = app.post(&format!("/api/v1/agencies/{}/users", o.root), &o.admin, &json!({"username": "stray", "password": PASSWORD, "roles": ["clerk"], "department_id": foreign})).await;
    r.assert_problem(422, "validation_failed");
    let r = app.post(&format!("/api/v1/agencies/{}/users", o.root), &o.admin, &json!({"username": "stray2", "password": PASSWORD, "roles": ["clerk"], "email": "not an address"})).await;
    r.assert_problem(422, "validation_failed");
    // A department name is unique in its agency; creating one needs an admin.
    let r = app
        .post(
            &format!("/api/v1/agencies/{}/departments", o.root),
            &o.admin,
            &json!({"name": "法规处"}),
        )
        .await;
    r.assert_problem(409, "department_name_taken");
    let r = app
        .post(
            &format!("/api/v1/agencies/{}/departments", o.root),
            &o.lawyer.1,
            &json!({"name": "新处"}),
        )
        .await;
    r.assert_problem(403, "forbidden");
}

async fn an_internal_consultation_is_answered_once_by_the_consulted_department(app: TestApp) {
    let o = office(&app).await;
    let a = intake(
        &app,
        &o.registrar.1,
        &application(app.today(), ID_A, &[], "申请公开某专项资金拨付明细"),
    )
    .await;
    let id = a["id"].as_str().unwrap().to_string();
    let r = step(
        &app,
        &o.registrar.1,
        &id,
        "consult-internally",
        version(&a),
        &json!({"department_id": o.finance, "question": "请提供2025年度项目资金拨付明细"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let cid = r.body["consultation"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["consultation"]["department_name"], "财务处");
    assert_eq!(r.body["consultation"]["answer"], Value::Null);
    // The holder keeps the case.
    assert_eq!(
        r.body["application"]["holder"]["user_id"],
        o.registrar.0.as_str()
    );
    let v = version(&r.body["application"]);
    // Its own department is no internal consultation.
    step(
        &app,
        &o.registrar.1,
        &id,
        "consult-internally",
        v,
        &json!({"department_id": o.office_dept, "question": "?"}),
    )
    .await
    .assert_problem(409, "same_department");
    let answer = format!("internal-consultations/{cid}/answer");
    step(
        &app,
        &o.lawyer.1,
        &id,
        &answer,
        v,
        &json!({"answer": "不是本处"}),
    )
    .await
    .assert_problem(409, "not_in_consulted_department");
    let r = ok_step(
        &app,
        &o.accountant.1,
        &id,
        &answer,
        v,
        &json!({"answer": "明细见附件，可以公开"}),
    )
    .await;
    assert_eq!(r["consultation"]["answer"], "明细见附件，可以公开");
    assert_eq!(r["consultation"]["answered_by"], o.accountant.0.as_str());
    let v = version(&r["application"]);
    step(
        &app,
        &o.accountant.1,
        &id,
        &answer,
        v,
        &json!({"answer": "再答一次"}),
    )
    .await
    .assert_problem(409, "already_answered");
    let r = app
        .get(
            &format!("/api/v1/requests/{id}/internal-consultations"),
            &o.registrar.1,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["answer"], "明细见附件，可以公开");
    let r = app
        .get(&format!("/api/v1/requests/{id}/events"), &o.registrar.1)
        .await;
    let events = r
        .body
        .as_array()
        .cloned()
        .unwrap_or_else(|| r.body["items"].as_array().cloned().unwrap());
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "intake",
            "consult_internally",
            "answer_internal_consultation"
        ]
    );
}

async fn a_queue_puts_overdue_first_names_the_next_step_and_is_filtered_for_supervisors(
    app: TestApp,
) {
    let o = office(&app).await;
    let today = app.today();
    let fresh = intake(
        &app,
        &o.registrar.1,
        &application(today, ID_A, &[], "申请公开甲"),
    )
    .await;
    let old = intake(
        &app,
        &o.registrar.1,
        &application(today - chrono::Duration::days(60), ID_B, &[], "申请公开乙"),
    )
    .await;
    let r = app.get("/api/v1/me/queue", &o.registrar.1).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(r.body["total"], 2);
    assert_eq!(items[0]["application"]["id"], old["id"]);
    assert_eq!(items[0]["overdue"], true);
    assert!(items[0]["working_days_left"].as_i64().unwrap() < 0);
    assert_eq!(items[0]["next_step"]["code"], "due_date");
    assert_eq!(items[0]["next_step"]["label"], "答复期限届满");
    assert_eq!(items[1]["application"]["id"], fresh["id"]);
    assert_eq!(items[1]["overdue"], false);
    // A fresh application: the last day to ask for a correction comes first.
    let window = add_working_days(&app, &o.registrar.1, today, 7).await;
    assert_eq!(items[1]["next_step"]["code"], "correction_window_end");
    assert_eq!(items[1]["next_step"]["date"], window.to_string());
    assert_eq!(items[1]["next_step"]["working_days_left"], 7);
    assert_eq!(items[1]["working_days_left"], 20);
    // Supervisors look at a department's or a person's queue, and at the unassigned ones.
    let v = ok_step(
        &app,
        &o.registrar.1,
        fresh["id"].as_str().unwrap(),
        "assign",
        version(&fresh),
        &json!({"department_id": o.law}),
    )
    .await;
    assert_eq!(
        queue_ids(&app, &o.admin, &format!("?department_id={}", o.law)).await,
        vec![v["id"].as_str().unwrap().to_string()]
    );
    assert_eq!(
        queue_ids(
            &app,
            &o.admin,
            &format!("?holder_user_id={}", o.registrar.0)
        )
        .await,
        vec![old["id"].as_str().unwrap().to_string()]
    );
    assert!(
        queue_ids(&app, &o.admin, "?unassigned=true")
            .await
            .is_empty()
    );
    let r = app
        .get(
            &format!("/api/v1/me/queue?department_id={}", o.finance),
            &o.lawyer.1,
        )
        .await;
    r.assert_problem(403, "forbidden");
}

async fn a_correction_on_the_last_day_of_its_window_carries_stalling_correction(app: TestApp) {
    let o = office(&app).await;
    let today = app.today();
    let arrival = today - chrono::Duration::days(21);
    let end = add_working_days(&app, &o.registrar.1, arrival, 7).await;
    let day6 = add_working_days(&app, &o.registrar.1, arrival, 6).await;
    let mut ids = Vec::new();
    for (on, id_number) in [(end, ID_A), (day6, ID_B)] {
        let a = intake(
            &app,
            &o.registrar.1,
            &application(arrival, id_number, &[], "申请公开某项目环评批复"),
        )
        .await;
        assert_eq!(a["receipt_date"], arrival.to_string());
        let v = ok_step(&app, &o.registrar.1, a["id"].as_str().unwrap(), "actions/request_correction", version(&a),
            &json!({"on": on, "items": ["请写明联系方式"], "reply_by": on + chrono::Duration::days(10)})).await;
        ids.push((v["id"].as_str().unwrap().to_string(), flag_codes(&v)));
    }
    // Day 7 of the window is flagged, day 6 is not.
    assert_eq!(ids[0].1, vec!["stalling_correction"], "day 7");
    assert!(ids[1].1.is_empty(), "day 6: {:?}", ids[1].1);
    let d = detail(&app, &o.registrar.1, &ids[0].0).await;
    let f = &d["flags"][0];
    assert!(
        f["explanation"].as_str().unwrap().contains("最后一天"),
        "{f}"
    );
    assert_eq!(f["facts"]["window_end"], end.to_string());
    // A correction asking for what the application already states.
    let a = intake(
        &app,
        &o.registrar.1,
        &application(
            today,
            "110101198001010010",
            &[],
            "申请公开《关于某项目的批复》（某发〔2025〕12号）全文",
        ),
    )
    .await;
    let v = ok_step(&app, &o.registrar.1, a["id"].as_str().unwrap(), "actions/request_correction", version(&a),
        &json!({"on": today, "items": ["某发〔2025〕12号"], "reply_by": today + chrono::Duration::days(10)})).await;
    assert_eq!(flag_codes(&v), vec!["stalling_correction"]);
    assert!(
        v["flags"][0]["explanation_en"]
            .as_str()
            .unwrap()
            .contains("already stated")
    );
}

async fn a_second_application_for_the_same_document_number_carries_possible_repeat(app: TestApp) {
    let o = office(&app).await;
    let today = app.today();
    let first = intake(
        &app,
        &o.registrar.1,
        &application(
            today - chrono::Duration::days(100),
            ID_A,
            &["某政发〔2026〕1号"],
            "申请公开某政发〔2026〕1号文件",
        ),
    )
    .await;
    // (Back-dated, it is overdue: `reply_at_risk`, no repeat.)
    assert!(!flag_codes(&first).contains(&"possible_repeat".to_string()));
    // Another applicant asking for the same document is no repeat.
    let other = intake(
        &app,
        &o.registrar.1,
        &application(today, ID_B, &["某政发〔2026〕1号"], "请提供文件"),
    )
    .await;
    assert!(flag_codes(&other).is_empty());
    let second = intake(
        &app,
        &o.registrar.1,
        &application(today, ID_A, &["某政发〔2026〕 1号"], "请提供该文件全文"),
    )
    .await;
    assert_eq!(flag_codes(&second), vec!["possible_repeat"]);
    assert_eq!(
        second["flags"][0]["related_request_ids"],
        json!([first["id"]])
    );
    let d = detail(&app, &o.registrar.1, second["id"].as_str().unwrap()).await;
    assert_eq!(d["flags"][0]["related_request_ids"], json!([first["id"]]));
    assert!(
        d["flags"][0]["explanation"]
            .as_str()
            .unwrap()
            .contains(first["case_number"].as_str().unwrap())
    );
    // The list by flag, and the dashboard's count.
    let r = app
        .get("/api/v1/requests?flag=possible_repeat", &o.registrar.1)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let listed: Vec<&Value> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(listed, vec![&second["id"]]);
    assert_eq!(r.body["items"][0]["flags"][0]["code"], "possible_repeat");
    let r = app.get("/api/v1/dashboard", &o.admin).await;
    assert_eq!(r.body["flags"]["possible_repeat"], 1);
    assert_eq!(r.body["flags"]["late_extension"], 0);
    let r = app
        .get("/api/v1/requests?flag=no_such_flag", &o.registrar.1)
        .await;
    r.assert_problem(422, "validation_failed");
    // A description as similar as the setting, without a document number, is a repeat too.
    let third = intake(
        &app,
        &o.registrar.1,
        &application(today, ID_B, &[], "请提供文件。"),
    )
    .await;
    assert_eq!(flag_codes(&third), vec!["possible_repeat"]);
    assert_eq!(
        third["flags"][0]["related_request_ids"],
        json!([other["id"]])
    );
    // More than 12 months back is no repeat.
    let old = intake(
        &app,
        &o.registrar.1,
        &application(
            today - chrono::Duration::days(400),
            "110101198001010010",
            &["某发〔2024〕9号"],
            "申请公开某发〔2024〕9号",
        ),
    )
    .await;
    let again = intake(
        &app,
        &o.registrar.1,
        &application(
            today,
            "110101198001010010",
            &["某发〔2024〕9号"],
            "申请公开某发〔2024〕9号",
        ),
    )
    .await;
    assert!(!flag_codes(&old).contains(&"possible_repeat".to_string()));
    assert!(flag_codes(&again).is_empty(), "{}", again["flags"]);
}

async fn an_extension_on_the_due_date_and_a_late_consultation_are_flagged(app: TestApp) {
    let o = office(&app).await;
    let today = app.today();
    let approver = member(
        &app,
        &o.root,
        "head",
        &["approver", "clerk"],
        &o.office_dept,
        None,
    )
    .await;
    let arrival = today - chrono::Duration::days(45);
    let mut apps = Vec::new();
    for id_number in [ID_A, ID_B, "110101198001010010", "110101198001010029"] {
        apps.push(
            intake(
                &app,
                &approver.1,
                &application(arrival, id_number, &[], "申请公开某事项"),
            )
            .await,
        );
    }
    let due: NaiveDate = apps[0]["due_date"].as_str().unwrap().parse().unwrap();
    assert!(due <= today, "due {due}");
    let before = add_working_days(&app, &approver.1, arrival, 10).await;
    let extend = |on: NaiveDate| json!({"on": on, "days": 10, "reason": "需调取档案"});
    let v = ok_step(
        &app,
        &approver.1,
        apps[0]["id"].as_str().unwrap(),
        "actions/extend",
        version(&apps[0]),
        &extend(due),
    )
    .await;
    assert!(
        flag_codes(&v).contains(&"late_extension".to_string()),
        "{}",
        v["flags"]
    );
    let v = ok_step(
        &app,
        &approver.1,
        apps[1]["id"].as_str().unwrap(),
        "actions/extend",
        version(&apps[1]),
        &extend(before),
    )
    .await;
    assert!(
        !flag_codes(&v).contains(&"late_extension".to_string()),
        "{}",
        v["flags"]
    );
    // A consultation on the due date is flagged; one early in the period is not.
    let consult = |on: NaiveDate| json!({"on": on, "party": "third_party", "whom": "某某有限公司"});
    let v = ok_step(
        &app,
        &approver.1,
        apps[2]["id"].as_str().unwrap(),
        "actions/start_consultation",
        version(&apps[2]),
        &consult(due),
    )
    .await;
    // (Its due date has passed: `reply_at_risk` too.)
    assert_eq!(
        flag_codes(&v),
        vec!["consultation_as_delay", "reply_at_risk"]
    );
    assert_eq!(v["flags"][0]["facts"]["working_days_left"], 0);
    let v = ok_step(
        &app,
        &approver.1,
        apps[3]["id"].as_str().unwrap(),
        "actions/start_consultation",
        version(&apps[3]),
        &consult(before),
    )
    .await;
    assert!(
        !flag_codes(&v).contains(&"consultation_as_delay".to_string()),
        "{}",
        v["flags"]
    );
}

async fn an_overdue_case_without_a_reply_letter_is_at_risk_and_listed_by_flag(app: TestApp) {
    let o = office(&app).await;
    let today = app.today();
    let late = intake(
        &app,
        &o.registrar.1,
        &application(today - chrono::Duration::days(45), ID_A, &[], "申请公开甲"),
    )
    .await;
    let fresh = intake(
        &app,
        &o.registrar.1,
        &application(today, ID_B, &[], "申请公开乙"),
    )
    .await;
    let d = detail(&app, &o.registrar.1, late["id"].as_str().unwrap()).await;
    assert!(
        flag_codes(&d).contains(&"reply_at_risk".to_string()),
        "{}",
        d["flags"]
    );
    assert!(
        flag_codes(&detail(&app, &o.registrar.1, fresh["id"].as_str().unwrap()).await).is_empty()
    );
    let r = app
        .get("/api/v1/requests?flag=reply_at_risk", &o.registrar.1)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let listed: Vec<&Value> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(listed, vec![&late["id"]]);
    let r = app.get("/api/v1/dashboard", &o.admin).await;
    assert_eq!(r.body["flags"]["reply_at_risk"], 1);
}

/// Intake counts the applicant's last 30 days from the same read as the repeat candidates (the
/// 20 newest of the year) while that read holds them all, and counts them apart beyond it: the
/// figure is exact on both sides of that bound, and an application older than 30 days is not
/// counted.
async fn the_volume_count_stays_exact_past_the_applications_compared_for_repeats(app: TestApp) {
    let o = office(&app).await;
    let today = app.today();
    let projects = [
        "甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬", "癸", "子", "丑", "寅", "卯", "辰",
        "巳", "午", "未", "申", "酉", "戌", "亥", "天", "地",
    ];
    // One application 45 days ago (outside the 30 days of every later one), then 23 in the
    // last 12 days: the 21st and later see 20 earlier ones of the month, the read's limit.
    for (n, p) in projects.iter().enumerate() {
        let days_ago = if n == 0 { 45 } else { 11 - n as i64 / 2 };
        let body = intake(
            &app,
            &o.registrar.1,
            &application(
                today - chrono::Duration::days(days_ago),
                ID_A,
                &[],
                &format!("申请公开{p}号水库{n}年度的维护记录"),
            ),
        )
        .await;
        let in_month = n; // this one and the n - 1 before it within 30 days
        let volume = body["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "high_volume_applicant");
        if in_month <= 2 {
            assert!(volume.is_none(), "application {}: {}", n + 1, body["flags"]);
            continue;
        }
        let volume = volume.unwrap_or_else(|| panic!("application {}: {}", n + 1, body["flags"]));
        assert_eq!(
            volume["facts"]["applications_30_days"],
            in_month,
            "application {}",
            n + 1
        );
        assert_eq!(
            volume["related_request_ids"].as_array().unwrap().len(),
            in_month - 1,
            "application {}",
            n + 1
        );
    }
}

async fn volume_and_extension_habits_are_flagged_above_their_settings_only(app: TestApp) {
    let o = office(&app).await;
    let today = app.today();
    // high_volume_threshold = 2: the third application in 30 days is flagged, the second not.
    let mut last = Value::Null;
    for (n, text) in ["甲项目", "乙项目的预算", "丙路段的交通流量"]
        .iter()
        .enumerate()
    {
        last = intake(
            &app,
            &o.registrar.1,
            &application(
                today - chrono::Duration::days(2 - n as i64),
                ID_A,
                &[],
                &format!("申请公开{text}"),
            ),
        )
        .await;
        let flags = flag_codes(&last);
        assert_eq!(
            flags.contains(&"high_volume_applicant".to_string()),
            n == 2,
            "application {}: {flags:?}",
            n + 1
        );
    }
    assert_eq!(last["flags"][0]["facts"]["applications_30_days"], 3);
    assert_eq!(
        last["flags"][0]["related_request_ids"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // extension_habit (share 30 %, at least 2 cases): 1 of these 3 + 2 others extended is
    // 1 of 5 (20 %): not flagged; the second extension makes 2 of 5 (40 %).
    let approver = member(
        &app,
        &o.root,
        "head",
        &["approver", "clerk"],
        &o.office_dept,
        None,
    )
    .await;
    let b1 = intake(
        &app,
        &approver.1,
        &application(today, ID_B, &[], "申请公开一"),
    )
    .await;
    let b2 = intake(
        &app,
        &approver.1,
        &application(today, "110101198001010010", &[], "申请公开二"),
    )
    .await;
    let extend = json!({"on": today, "days": 5, "reason": "需调取档案"});
    let v = ok_step(
        &app,
        &approver.1,
        b1["id"].as_str().unwrap(),
        "actions/extend",
        version(&b1),
        &extend,
    )
    .await;
    assert!(
        !flag_codes(&v).contains(&"extension_habit".to_string()),
        "{}",
        v["flags"]
    );
    let v = ok_step(
        &app,
        &approver.1,
        b2["id"].as_str().unwrap(),
        "actions/extend",
        version(&b2),
        &extend,
    )
    .await;
    assert!(
        flag_codes(&v).contains(&"extension_habit".to_string()),
        "{}",
        v["flags"]
    );
    assert_eq!(v["flags"][0]["facts"]["cases_90_days"], 5);
    assert_eq!(v["flags"][0]["facts"]["extended_90_days"], 2);
}

/// Users with addresses, one application held by `registrar` and due `left` working days after
/// today.
async fn due_soon(app: &TestApp, left: u32) -> (Office, Value) {
    let o = office(app).await;
    let due = add_working_days(app, &o.registrar.1, app.today(), left).await;
    let arrival = arrival_due_on(app, &o.registrar.1, due).await;
    let a = intake(
        app,
        &o.registrar.1,
        &application(arrival, ID_A, &[], "申请公开某事项"),
    )
    .await;
    assert_eq!(a["due_date"], due.to_string());
    (o, a)
}

async fn reminders(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/requests/{id}/reminders"), token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

async fn nothing_is_reminded_on_a_public_holiday(app: TestApp) {
    // 1 October 2026: the case is due on the third working day after it, and nothing is sent.
    assert_eq!(app.today(), NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
    let (o, a) = due_soon(&app, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(3_500)).await;
    assert!(
        reminders(&app, &o.registrar.1, a["id"].as_str().unwrap())
            .await
            .is_empty()
    );
}

async fn a_case_due_soon_is_reminded_once_on_a_working_day_even_without_mail(app: TestApp) {
    // 30 September 2026, a working day: the same case due 3 working days later is reminded once
    // (recorded and in the feed; no SMTP server is configured, so `mail_off`).
    let (o, a) = due_soon(&app, 3).await;
    let id = a["id"].as_str().unwrap();
    let today = app.today();
    // A hand-over to 法规处 not claimed since the working day before: its members are reminded.
    let b = intake(
        &app,
        &o.registrar.1,
        &application(today, ID_B, &[], "申请公开乙"),
    )
    .await;
    let b_id = b["id"].as_str().unwrap().to_string();
    ok_step(
        &app,
        &o.registrar.1,
        &b_id,
        "assign",
        version(&b),
        &json!({"department_id": o.law}),
    )
    .await;
    {
        use diesel::connection::SimpleConnection;
        let sql = format!(
            "UPDATE requests SET holder_since = '{} 01:00:00' WHERE id = '{b_id}'",
            today - chrono::Duration::days(1)
        );
        match app.db_connection() {
            gongkai::db::DbConnection::Sqlite(mut c) => c.batch_execute(&sql).unwrap(),
            gongkai::db::DbConnection::Postgres(mut c) => c.batch_execute(&sql).unwrap(),
        }
    }
    // The applicant's correction is due on the next working day (after the National Day
    // holidays): the holder is reminded of the window ending.
    let c = intake(
        &app,
        &o.registrar.1,
        &application(today, "110101198001010010", &[], "申请公开丙"),
    )
    .await;
    let c_id = c["id"].as_str().unwrap().to_string();
    let next = add_working_days(&app, &o.registrar.1, today, 1).await;
    ok_step(
        &app,
        &o.registrar.1,
        &c_id,
        "actions/request_correction",
        version(&c),
        &json!({"on": today, "items": ["请写明所需信息的文件名称"], "reply_by": next}),
    )
    .await;
    // Scans run every second; a loaded machine may take longer than a few of them.
    for _ in 0..150 {
        if !reminders(&app, &o.registrar.1, id).await.is_empty()
            && !reminders(&app, &o.registrar.1, &b_id).await.is_empty()
            && !reminders(&app, &o.registrar.1, &c_id).await.is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let found = reminders(&app, &o.registrar.1, id).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["kind"], "due_soon");
    assert_eq!(found[0]["status"], "mail_off");
    assert_eq!(found[0]["occasion"], a["due_date"]);
    assert_eq!(found[0]["holder_user_id"], o.registrar.0.as_str());
    assert_eq!(found[0]["recipients"], json!(["registrar@example.gov.cn"]));
    let unclaimed = reminders(&app, &o.registrar.1, &b_id).await;
    assert_eq!(unclaimed.len(), 1, "{unclaimed:?}");
    assert_eq!(unclaimed[0]["kind"], "unclaimed");
    assert_eq!(unclaimed[0]["holder_department_id"], o.law.as_str());
    // 法规处's members with an address (lawyer2 has none).
    assert_eq!(unclaimed[0]["recipients"], json!(["lawyer@example.gov.cn"]));
    let window = reminders(&app, &o.registrar.1, &c_id).await;
    assert_eq!(window.len(), 1, "{window:?}");
    assert_eq!(window[0]["kind"], "window_ending");
    assert_eq!(window[0]["occasion"], format!("correction_reply_by:{next}"));
    let r = app.get("/api/v1/feed?limit=1000", &o.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let events: Vec<&Value> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "application.reminder" && e["request_id"] == id)
        .collect();
    assert_eq!(events.len(), 1, "{}", r.text);
    assert_eq!(events[0]["data"]["details"]["kind"], "due_soon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_reaches_a_real_smtp_server_exactly_once_from_two_server_processes_postgres() {
    let sink = crate::smtp::SmtpSink::start();
    let port = sink.port;
    let Some(app) = TestApp::spawn_with(crate::helpers::Db::Postgres, move |s| {
        s.clock.today = "2026-12-15".into();
        s.reminders.enabled = true;
        s.reminders.interval_secs = 1;
        s.notifications.smtp_host = "127.0.0.1".into();
        s.notifications.smtp_port = port;
        s.notifications.smtp_tls = gongkai::config::SmtpTls::None;
        s.notifications.smtp_from = "公开办 <gongkai@example.gov.cn>".into();
    })
    .await
    else {
        return;
    };
    let second = crate::helpers::second_process(
        &app,
        &[
            ("GONGKAI__REMINDERS__ENABLED", "true".into()),
            ("GONGKAI__REMINDERS__INTERVAL_SECS", "1".into()),
            ("GONGKAI__NOTIFICATIONS__SMTP_HOST", "127.0.0.1".into()),
            ("GONGKAI__NOTIFICATIONS__SMTP_PORT", port.to_string()),
            ("GONGKAI__NOTIFICATIONS__SMTP_TLS", "none".into()),
            (
                "GONGKAI__NOTIFICATIONS__SMTP_FROM",
                "gongkai@example.gov.cn".into(),
            ),
        ],
    )
    .await;
    let (o, a) = due_soon(&app, 3).await;
    let case = a["case_number"].as_str().unwrap();
    sink.wait_for(1, std::time::Duration::from_secs(30));
    // Both schedulers scan every second: give them several rounds to send it twice.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let got: Vec<_> = sink
        .messages()
        .into_iter()
        .filter(|m| m.subject.contains(case))
        .collect();
    let found = reminders(&app, &o.registrar.1, a["id"].as_str().unwrap()).await;
    assert_eq!(got.len(), 1, "{got:?}; the reminders: {found:?}");
    assert_eq!(
        got[0].rcpt_tos,
        vec!["registrar@example.gov.cn".to_string()]
    );
    assert!(
        got[0].subject.contains("答复期限届满"),
        "{}",
        got[0].subject
    );
    assert!(
        got[0].body.contains(a["due_date"].as_str().unwrap()),
        "{}",
        got[0].body
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["status"], "sent");
    assert_eq!(found[0]["attempts"], 1);
    drop(second);
}

/// A process whose list of due reminders predates another process's failed attempt must not
/// claim the reminder before the retry time that attempt set (the lease is gone by then): the
/// claim itself checks that the reminder is due.
async fn a_reminder_waiting_for_its_retry_cannot_be_claimed_before_it(app: TestApp) {
    use gongkai::db::office::{ReminderRow, claim_reminder, record_reminder};
    let (_, a) = due_soon(&app, 3).await;
    let request_id = a["id"].as_str().unwrap().to_string();
    let agency_id = a["agency_id"].as_str().unwrap().to_string();
    let db = gongkai::db::connect(&app.settings.database, false).expect("the test database");
    let mut conn = db.get().expect("a connection");
    let now = app.clock.now_micros();
    let retry_at = now + chrono::Duration::seconds(60);
    // After a failed attempt: pending, no lease, to be tried again in a minute.
    let row = ReminderRow {
        id: uuid::Uuid::new_v4().to_string(),
        request_id,
        kind: "due_soon".into(),
        occasion: "test-occasion".into(),
        agency_id,
        holder_user_id: None,
        holder_department_id: None,
        recipients: "[]".into(),
        subject: "期限提醒".into(),
        body: "测试".into(),
        created_at: now,
        status: "pending".into(),
        attempts: 1,
        next_attempt_at: retry_at,
        lease_until: None,
        sent_at: None,
        last_error: Some("connection reset".into()),
    };
    assert!(record_reminder(&mut conn, &row).expect("recorded"));
    let lease = chrono::Duration::seconds(120);
    assert!(
        !claim_reminder(&mut conn, &row.id, now, now + lease).expect("claim"),
        "claimed a reminder before its retry time"
    );
    let later = retry_at + chrono::Duration::seconds(1);
    assert!(claim_reminder(&mut conn, &row.id, later, later + lease).expect("claim"));
    // Leased now: a second claim at the same moment is refused.
    assert!(!claim_reminder(&mut conn, &row.id, later, later + lease).expect("claim"));
}
