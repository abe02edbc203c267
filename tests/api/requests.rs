//! Applications (domain.md §3–§7) through HTTP: intake and the receipt date of every channel,
//! validation, idempotent retries, every statutory action with its refusals, optimistic
//! locking, the event trail, the deadline trace, lists, scoping, the dashboard, the public
//! status look-up and corrections of intake details.
//!
//! Expected due dates are never hard-coded: they come from the calendar API
//! (`/calendar/working-days/add`), which the calendar suite checks against the official
//! schedule day by day.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    an_agency_moved_by_hand_reaches_the_reads_of_every_process,
    dates_before_the_regulation_answer_422_naming_the_field_on_every_path,
    names_are_stored_in_nfc_and_found_however_they_were_typed,
    lists_mask_credit_codes_and_the_trail_keeps_no_corrected_number_in_full,
    search_finds_one_and_two_character_chinese_and_parts_of_case_numbers,
    a_corrected_applicant_name_is_found_under_the_new_name_only,
    rows_of_an_older_release_are_searched_before_and_after_their_grams_are_filled,
    cursors_walk_every_sort_in_the_order_of_the_pages,
    bad_cursors_and_totals_answer_problem_json_with_stable_codes,
    the_total_is_exact_estimated_or_left_out_as_asked,
    a_large_results_default_total_is_bounded_on_both_databases,
    a_search_finds_the_same_rows_whether_its_matches_are_few_or_many,
    the_search_is_answered_by_its_index_on_postgresql,
    a_search_with_a_combining_mark_finds_only_what_contains_it,
    a_walked_search_on_sqlite_counts_from_its_fts5_matches,
    a_search_of_many_matches_with_a_filter_of_few_or_many_rows_finds_each_once,
    two_server_processes_number_concurrent_intakes_without_gaps_or_duplicates,
    each_channel_fixes_the_receipt_date_and_the_due_date_is_the_20th_working_day_after,
    confirming_receipt_starts_the_clock_of_an_application_awaiting_confirmation,
    intake_checks_identity_numbers_and_credit_codes_but_not_passports,
    intake_rejects_unknown_codes_and_impossible_dates_listing_every_bad_field,
    case_numbers_are_gapless_per_agency_and_year_and_come_with_a_query_code,
    a_retried_intake_with_the_same_idempotency_key_returns_the_first_answer,
    concurrent_retries_with_one_idempotency_key_register_one_application,
    a_correction_is_asked_once_within_7_working_days_and_restarts_the_clock,
    an_uncorrected_application_closes_only_after_the_reply_by_date,
    a_consultation_pauses_the_clock_and_no_reply_waits_for_15_working_days,
    fee_notices_follow_the_measures_and_a_payment_must_match_the_notice,
    a_per_piece_fee_counts_the_applicants_applications_received_in_the_month,
    a_waived_fee_resumes_processing_and_an_unpaid_one_closes_after_20_working_days,
    only_an_approver_extends_once_by_at_most_20_working_days_before_the_due_date,
    a_reply_must_record_what_its_disposition_requires,
    a_reply_after_the_due_date_is_accepted_and_marked_late,
    withdrawal_closes_any_open_application_and_a_closed_one_refuses_every_action,
    unknown_actions_answer_404_and_action_dates_are_checked,
    actions_and_corrections_need_the_current_version_in_if_match,
    concurrent_actions_with_one_version_apply_exactly_once,
    the_event_trail_records_every_step_and_is_never_rewritten,
    the_deadline_trace_explains_receipt_correction_pauses_extension_and_due_date,
    a_calendar_change_re_times_every_application_whose_period_it_touches,
    the_list_filters_sorts_and_pages_applications,
    lists_mask_identity_numbers_and_the_detail_shows_them_in_full,
    bad_list_filters_answer_problem_json_naming_the_parameter,
    another_agencys_clerk_gets_404_for_everything_about_an_application,
    a_supervisor_of_a_parent_agency_sees_applications_below_but_may_not_act,
    the_dashboard_counts_states_overdue_due_soon_and_late_replies,
    the_public_status_shows_the_applicant_nothing_personal,
    public_status_look_ups_are_limited_to_30_a_minute_per_address,
    intake_details_are_corrected_with_if_match_and_leave_an_event,
    a_refused_action_changes_neither_the_application_nor_its_trail,
    the_documented_example_of_every_action_is_accepted_as_is,
    a_field_foreign_to_the_action_an_unknown_code_or_a_bad_id_answers_422_naming_it,
    a_repeated_application_names_an_earlier_one_that_exists,
    a_stored_record_that_cannot_be_read_answers_a_problem_naming_it,
    a_longer_period_of_art_35_is_set_only_while_the_reply_period_runs,
    disclosure_over_a_third_partys_objection_needs_the_public_interest_and_the_notice,
);

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------

/// Valid resident identity card numbers (GB 11643 check character).
const RID: &str = "110101199003071233";
const RID_X: &str = "11010519491231002X";
/// Valid unified social credit codes (GB 32100 check character).
const CREDIT: &str = "91350100M000100Y43";
const CREDIT_2: &str = "11100000MB0341032Y";

/// The users of the root agency: a clerk (经办人) and an approver (head of the disclosure
/// office), besides the bootstrap admin (admin + supervisor, not approver).
struct Staff {
    clerk: String,
    clerk_id: String,
    approver: String,
    admin: String,
    root: String,
}

async fn staff(app: &TestApp) -> Staff {
    let root = app.root_agency_id().await;
    let (clerk_id, clerk) = app.create_user(&root, "clerk1", &["clerk"]).await;
    let (_, approver) = app.create_user(&root, "approver1", &["approver"]).await;
    Staff {
        clerk,
        clerk_id,
        approver,
        admin: app.admin_token().await,
        root,
    }
}

fn person(name: &str, id_number: &str) -> Value {
    json!({
        "kind": "natural_person",
        "name": name,
        "id_document": {"type": "resident_id_card", "number": id_number},
        "phone": "010-65123456",
        "address": "北京市东城区东华门街道1号",
    })
}

fn organisation(kind: &str, name: &str, credit_code: &str) -> Value {
    json!({
        "kind": kind,
        "name": name,
        "credit_code": credit_code,
        "contact_person": "王经理",
        "email": "office@example.cn",
    })
}

fn application(channel: &str, arrived_at: &str, applicant: Value) -> Value {
    json!({
        "channel": channel,
        "arrived_at": arrived_at,
        "applicant": applicant,
        "description": "申请公开2025年本机关作出的建设项目环境影响评价批复文件",
    })
}

/// Handed in at the counter at 09:30 Beijing time on `date`: received that day.
fn handed_in(date: &str) -> Value {
    application(
        "in_person",
        &format!("{date}T09:30:00+08:00"),
        person("张三", RID),
    )
}

async fn try_intake(app: &TestApp, token: &str, body: &Value) -> Resp {
    app.post("/api/v1/requests", token, body).await
}

/// Registers an application and returns it.
async fn intake(app: &TestApp, token: &str, body: &Value) -> Value {
    let r = try_intake(app, token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "intake: {}", r.text);
    assert_eq!(
        get_request(app, &id_of(&r.body)).await,
        r.body,
        "intake: what was answered is what was stored"
    );
    r.body
}

fn id_of(r: &Value) -> String {
    r["id"].as_str().expect("id").to_string()
}

fn version_of(r: &Value) -> i64 {
    r["version"].as_i64().expect("version")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn date(d: &str) -> NaiveDate {
    NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date")
}

fn day_after(d: &str) -> String {
    date(d).succ_opt().expect("date").to_string()
}

/// Sends an action; `version` becomes the If-Match header.
async fn act(
    app: &TestApp,
    token: &str,
    id: &str,
    action: &str,
    version: Option<i64>,
    body: &Value,
) -> Resp {
    let mut rb = app
        .request(
            Method::POST,
            &format!("/api/v1/requests/{id}/actions/{action}"),
            Some(token),
        )
        .json(body);
    if let Some(v) = version {
        rb = rb.header("If-Match", format!("\"{v}\""));
    }
    Resp::from(rb.send().await.expect("send")).await
}

/// Applies an action to the application as last read; it must succeed. Returns the new state.
async fn step(app: &TestApp, token: &str, r: &Value, action: &str, body: Value) -> Value {
    let v = version_of(r);
    let resp = act(app, token, &id_of(r), action, Some(v), &body).await;
    assert_eq!(resp.status, StatusCode::OK, "{action}: {}", resp.text);
    assert_eq!(version_of(&resp.body), v + 1, "{action} bumps the version");
    assert_eq!(
        resp.header("etag"),
        Some(format!("\"{}\"", v + 1).as_str()),
        "{action}: ETag"
    );
    assert_eq!(
        get_request(app, &id_of(r)).await,
        resp.body,
        "{action}: what was answered is what was stored"
    );
    resp.body
}

async fn get_request(app: &TestApp, id: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/requests/{id}"), &app.admin_token().await)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn events(app: &TestApp, id: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v1/requests/{id}/events"),
            &app.admin_token().await,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body.as_array().expect("events").clone()
}

async fn deadline(app: &TestApp, id: &str) -> Value {
    let r = app
        .get(
            &format!("/api/v1/requests/{id}/deadline"),
            &app.admin_token().await,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

fn rules(deadline: &Value) -> Vec<String> {
    deadline["deadline"]["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .map(|t| s(&t["rule"]).to_string())
        .collect()
}

fn trace_step<'a>(deadline: &'a Value, rule: &str) -> &'a Value {
    deadline["deadline"]["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .find(|t| t["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} in {deadline}"))
}

/// Sends an action that must be refused with this status and code, and checks that nothing
/// was half-written: the application (version, state, dates, workflow, `updated_at`) and its
/// trail are exactly as before. Returns the refusal.
async fn refused(
    app: &TestApp,
    token: &str,
    r: &Value,
    action: &str,
    body: Value,
    status: u16,
    code: &str,
) -> Resp {
    let id = id_of(r);
    let before = get_request(app, &id).await;
    let trail = events(app, &id).await;
    let resp = act(app, token, &id, action, Some(version_of(&before)), &body).await;
    resp.assert_problem(status, code);
    assert_eq!(
        get_request(app, &id).await,
        before,
        "{action} was refused ({code}) but the application changed"
    );
    assert_eq!(
        events(app, &id).await,
        trail,
        "{action} was refused ({code}) but the trail changed"
    );
    resp
}

/// `(field, code)` of each error of a validation problem.
fn field_codes(r: &Resp) -> BTreeSet<(String, String)> {
    r.body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| (s(&e["field"]).to_string(), s(&e["code"]).to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_string(), code.to_string())
}

/// The date `days` working days after `from`, from the calendar API.
async fn add_wd(app: &TestApp, from: &str, days: u32) -> String {
    let r = app
        .get(
            &format!("/api/v1/calendar/working-days/add?from={from}&days={days}"),
            &app.admin_token().await,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    s(&r.body["date"]).to_string()
}

/// The working days in (from, to], from the calendar API.
async fn count_wd(app: &TestApp, from: &str, to: &str) -> i64 {
    let r = app
        .get(
            &format!("/api/v1/calendar/working-days/count?from={from}&to={to}"),
            &app.admin_token().await,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["count"].as_i64().expect("count")
}

/// Today where the agency is, as the service sees it.
async fn today(app: &TestApp) -> NaiveDate {
    let r = app.get("/api/v1/dashboard", &app.admin_token().await).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    date(s(&r.body["today"]))
}

/// The ids of a list answer, as a set.
fn ids(list: &Resp) -> BTreeSet<String> {
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id_of)
        .collect()
}

/// The ids of every page of a list (`path` with its query, without a cursor), read by cursor
/// from the first page to the last; no row may come twice.
async fn every_page(app: &TestApp, path: &str, token: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let page = app.get(&format!("{path}{cursor}"), token).await;
        let got = ids(&page);
        assert!(got.is_disjoint(&seen), "{path}: a row twice");
        seen.extend(got);
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return seen,
        }
    }
}

fn set(items: &[&Value]) -> BTreeSet<String> {
    items.iter().map(|r| id_of(r)).collect()
}

fn reply_granted(on: &str) -> Value {
    json!({"on": on, "disposition": "granted", "provision": "以电子邮件方式提供，见附件"})
}

// ---------------------------------------------------------------------------------------------
// §3 Intake: channels and the receipt date
// ---------------------------------------------------------------------------------------------

/// (channel, arrived_at, signed_for_on, confirmed_on, expected receipt date)
type ChannelCase = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

async fn each_channel_fixes_the_receipt_date_and_the_due_date_is_the_20th_working_day_after(
    app: TestApp,
) {
    let st = staff(&app).await;
    let morning = "2026-09-01T09:30:00+08:00";
    let cases: [ChannelCase; 14] = [
        // 23:30 UTC on 1 September is 07:30 on 2 September in Beijing: handed in on the 2nd.
        (
            "in_person",
            "2026-09-01T23:30:00Z",
            None,
            None,
            Some("2026-09-02"),
        ),
        ("in_person", morning, None, None, Some("2026-09-01")),
        // Registered letter: the day the agency signed for it, even if confirmed later.
        (
            "letter",
            morning,
            Some("2026-09-03"),
            None,
            Some("2026-09-03"),
        ),
        (
            "letter",
            morning,
            Some("2026-09-03"),
            Some("2026-09-04"),
            Some("2026-09-03"),
        ),
        // Ordinary letter: the day the office confirmed receipt with the applicant.
        (
            "letter",
            morning,
            None,
            Some("2026-09-04"),
            Some("2026-09-04"),
        ),
        ("letter", morning, None, None, None),
        // Online, fax, e-mail: the day both sides confirmed.
        (
            "online",
            morning,
            None,
            Some("2026-09-02"),
            Some("2026-09-02"),
        ),
        ("online", morning, None, None, None),
        ("fax", morning, None, Some("2026-09-03"), Some("2026-09-03")),
        ("fax", morning, None, None, None),
        (
            "email",
            morning,
            None,
            Some("2026-09-07"),
            Some("2026-09-07"),
        ),
        ("email", morning, None, None, None),
        // Other: the confirmation date if recorded, else the day it arrived.
        (
            "other",
            morning,
            None,
            Some("2026-09-03"),
            Some("2026-09-03"),
        ),
        ("other", morning, None, None, Some("2026-09-01")),
    ];
    for (channel, arrived_at, signed, confirmed, expected) in cases {
        let mut body = application(channel, arrived_at, person("张三", RID));
        if let Some(d) = signed {
            body["signed_for_on"] = json!(d);
        }
        if let Some(d) = confirmed {
            body["confirmed_on"] = json!(d);
        }
        let r = try_intake(&app, &st.clerk, &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{channel}: {}", r.text);
        let id = id_of(&r.body);
        assert_eq!(
            r.header("location"),
            Some(format!("/api/v1/requests/{id}").as_str())
        );
        assert_eq!(r.header("etag"), Some("\"1\""));
        let r = r.body;
        let case = format!("{channel} signed {signed:?} confirmed {confirmed:?}");
        assert_eq!(r["channel"], channel, "{case}");
        assert_eq!(r["signed_for_on"], json!(signed), "{case}");
        assert_eq!(r["confirmed_on"], json!(confirmed), "{case}");
        assert_eq!(r["receipt_date"], json!(expected), "{case}");
        assert_eq!(r["version"], 1, "{case}");
        assert_eq!(r["late"], false, "{case}");
        assert_eq!(r["disposition"], Value::Null, "{case}");
        assert_eq!(r["closed_on"], Value::Null, "{case}");
        assert_eq!(r["created_by"], "clerk1", "{case}");
        assert_eq!(r["agency_id"], st.root.as_str(), "{case}");
        match expected {
            Some(receipt) => {
                assert_eq!(r["state"], "processing", "{case}");
                assert_eq!(
                    r["due_date"],
                    add_wd(&app, receipt, 20).await.as_str(),
                    "{case}: 20 working days after the receipt date"
                );
                assert_eq!(r["due_date_provisional"], false, "{case}");
                assert_eq!(r["workflow"]["clock"]["receipt_date"], receipt, "{case}");
            }
            None => {
                assert_eq!(r["state"], "awaiting_confirmation", "{case}");
                assert_eq!(r["due_date"], Value::Null, "{case}");
                assert_eq!(r["overdue"], false, "{case}: no clock runs");
            }
        }
    }
    // The arrival instant is kept as evidence, in UTC.
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    assert_eq!(r["arrived_at"], "2026-09-01T01:30:00Z");
    // A due date is always a working day: receipt on the eve of National Day.
    let r = intake(&app, &st.clerk, &handed_in("2026-09-30")).await;
    let due = add_wd(&app, "2026-09-30", 20).await;
    assert_eq!(r["due_date"], due.as_str());
    assert_eq!(count_wd(&app, "2026-09-30", &due).await, 20);
    assert_eq!(
        count_wd(&app, &date(&due).pred_opt().unwrap().to_string(), &due).await,
        1,
        "the due date itself is a working day"
    );
}

async fn confirming_receipt_starts_the_clock_of_an_application_awaiting_confirmation(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(
        &app,
        &st.clerk,
        &application("email", "2026-09-01T20:00:00+08:00", person("张三", RID)),
    )
    .await;
    assert_eq!(r["state"], "awaiting_confirmation");
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["deadline"]["status"], "not_started");
    assert_eq!(d["deadline"]["due_date"], Value::Null);
    assert_eq!(rules(&d), ["receipt"]);
    assert_eq!(d["deadline"]["trace"][0]["date"], Value::Null);

    // Not before the arrival, not without a date.
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "confirm_receipt",
        json!({"on": "2026-08-31"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("on", "before_previous_step")])
    );
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "confirm_receipt",
        json!({}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_codes(&e), BTreeSet::from([pair("on", "required")]));
    // Only a confirmation-awaiting application is confirmed; nothing else runs before it.
    for (action, body) in [
        ("reply", reply_granted("2026-09-03")),
        (
            "start_consultation",
            json!({"on": "2026-09-03", "party": "third_party", "whom": "某公司"}),
        ),
    ] {
        refused(&app, &st.clerk, &r, action, body, 409, "invalid_transition").await;
    }

    let r = step(
        &app,
        &st.clerk,
        &r,
        "confirm_receipt",
        json!({"on": "2026-09-03"}),
    )
    .await;
    assert_eq!(r["state"], "processing");
    assert_eq!(r["receipt_date"], "2026-09-03");
    assert_eq!(r["due_date"], add_wd(&app, "2026-09-03", 20).await.as_str());
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["deadline"]["clock_start"], "2026-09-03");
    assert_eq!(d["deadline"]["clock_start_rule"], "receipt");
    let trail = events(&app, &id_of(&r)).await;
    assert_eq!(trail.len(), 2);
    assert_eq!(trail[0]["on"], Value::Null, "no receipt date at intake");
    assert_eq!(trail[0]["state_after"], "awaiting_confirmation");
    assert_eq!(trail[0]["payload"]["due_date"], Value::Null);
    assert_eq!(trail[1]["action"], "confirm_receipt");
    assert_eq!(trail[1]["on"], "2026-09-03");
    assert_eq!(trail[1]["state_before"], "awaiting_confirmation");
    assert_eq!(trail[1]["state_after"], "processing");
    assert_eq!(trail[1]["payload"]["due_date_before"], Value::Null);
    assert_eq!(trail[1]["payload"]["due_date_after"], r["due_date"]);
    refused(
        &app,
        &st.clerk,
        &r,
        "confirm_receipt",
        json!({"on": "2026-09-04"}),
        409,
        "invalid_transition",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Intake validation, case numbers, idempotency
// ---------------------------------------------------------------------------------------------

async fn intake_checks_identity_numbers_and_credit_codes_but_not_passports(app: TestApp) {
    let st = staff(&app).await;
    let bad_id = try_intake(
        &app,
        &st.clerk,
        &application(
            "in_person",
            "2026-09-01T09:30:00+08:00",
            person("张三", "110101199003071234"),
        ),
    )
    .await;
    bad_id.assert_problem(422, "validation_failed");
    assert_eq!(
        field_codes(&bad_id),
        BTreeSet::from([pair("applicant.id_document.number", "invalid_check_digit")])
    );

    // An X check character, typed in lower case, is accepted and stored upper-case.
    let r = intake(
        &app,
        &st.clerk,
        &application(
            "in_person",
            "2026-09-01T09:30:00+08:00",
            person("李四", &RID_X.to_lowercase()),
        ),
    )
    .await;
    assert_eq!(r["applicant"]["id_document_number"], RID_X);
    assert_eq!(r["applicant"]["id_document_type"], "resident_id_card");

    // Passport numbers follow no national check: any text is kept as entered.
    let mut foreigner = person("John Smith", "E1234567");
    foreigner["id_document"]["type"] = json!("passport");
    let r = intake(
        &app,
        &st.clerk,
        &application("in_person", "2026-09-01T09:30:00+08:00", foreigner),
    )
    .await;
    assert_eq!(r["applicant"]["id_document_type"], "passport");
    assert_eq!(r["applicant"]["id_document_number"], "E1234567");

    // Organisations give a valid credit code, and no identity document.
    for (code, name) in [(CREDIT, "某某科技有限公司"), (CREDIT_2, "某研究院")] {
        let r = intake(
            &app,
            &st.clerk,
            &application(
                "online",
                "2026-09-01T09:30:00+08:00",
                organisation("commercial_enterprise", name, code),
            ),
        )
        .await;
        assert_eq!(r["applicant"]["credit_code"], code);
        assert_eq!(r["applicant"]["kind"], "commercial_enterprise");
        assert_eq!(r["applicant"]["id_document_number"], Value::Null);
    }
    let mut no_code = organisation("research_institution", "某研究所", CREDIT);
    no_code.as_object_mut().unwrap().remove("credit_code");
    let bad_code = organisation("research_institution", "某研究所", "91350100M000100Y44");
    let mut with_id = organisation("legal_service_institution", "某律师事务所", CREDIT);
    with_id["id_document"] = json!({"type": "resident_id_card", "number": RID});
    let mut person_with_code = person("张三", RID);
    person_with_code["credit_code"] = json!(CREDIT);
    let expectations = [
        (no_code, pair("applicant.credit_code", "required")),
        (
            bad_code,
            pair("applicant.credit_code", "invalid_check_digit"),
        ),
        (with_id, pair("applicant.id_document", "not_allowed")),
        (
            person_with_code,
            pair("applicant.credit_code", "not_allowed"),
        ),
    ];
    for (applicant, expected) in expectations {
        let r = try_intake(
            &app,
            &st.clerk,
            &application("in_person", "2026-09-01T09:30:00+08:00", applicant),
        )
        .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(field_codes(&r), BTreeSet::from([expected]), "{}", r.text);
    }
    let list = app.get("/api/v1/requests", &st.clerk).await;
    assert_eq!(list.body["total"], 4, "refused intakes registered nothing");
}

async fn intake_rejects_unknown_codes_and_impossible_dates_listing_every_bad_field(app: TestApp) {
    let st = staff(&app).await;
    let today = today(&app).await;
    let tomorrow = today.succ_opt().unwrap().to_string();
    let in_two_days = (app.now() + Duration::days(2)).to_rfc3339();
    let morning = "2026-09-02T09:30:00+08:00";
    let with = |channel: &str, arrived: &str, extra: Value| {
        let mut b = application(channel, arrived, person("张三", RID));
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (
            with("carrier_pigeon", morning, json!({})),
            vec![pair("channel", "unknown_code")],
        ),
        (
            {
                let mut b = with("in_person", morning, json!({}));
                b["applicant"]["kind"] = json!("alien");
                b
            },
            vec![pair("applicant.kind", "unknown_code")],
        ),
        (
            with("in_person", &in_two_days, json!({})),
            vec![pair("arrived_at", "in_future")],
        ),
        (
            with("email", morning, json!({"confirmed_on": "2026-09-01"})),
            vec![pair("confirmed_on", "before_arrival")],
        ),
        (
            with("email", morning, json!({"confirmed_on": tomorrow})),
            vec![pair("confirmed_on", "in_future")],
        ),
        (
            with("letter", morning, json!({"signed_for_on": "2026-09-01"})),
            vec![pair("signed_for_on", "before_arrival")],
        ),
        (
            with("email", morning, json!({"signed_for_on": "2026-09-02"})),
            vec![pair("signed_for_on", "not_allowed")],
        ),
        (
            with(
                "in_person",
                morning,
                json!({"requested_form": "hologram", "delivery": "pigeon"}),
            ),
            vec![
                pair("requested_form", "unknown_code"),
                pair("delivery", "unknown_code"),
            ],
        ),
        // Several bad fields are listed together.
        (
            {
                let mut b = with("carrier_pigeon", morning, json!({"description": "  "}));
                b["applicant"]["id_document"]["number"] = json!("110101199003071234");
                b["applicant"]["email"] = json!("not-an-address");
                b
            },
            vec![
                pair("channel", "unknown_code"),
                pair("applicant.id_document.number", "invalid_check_digit"),
                pair("applicant.email", "invalid_format"),
                pair("description", "required"),
            ],
        ),
    ];
    for (body, expected) in cases {
        let r = try_intake(&app, &st.clerk, &body).await;
        r.assert_problem(422, "validation_failed");
        let got = field_codes(&r);
        for e in &expected {
            assert!(got.contains(e), "{e:?} missing in {}", r.text);
        }
        assert_eq!(got.len(), expected.len(), "{}", r.text);
        if expected.len() > 1 {
            assert_eq!(r.body["detail"], format!("{} 个字段有误", expected.len()));
        }
    }
    // Shape errors name the field too.
    let mut b = handed_in("2026-09-02");
    b["arrived_at"] = json!("2026-09-02");
    let r = try_intake(&app, &st.clerk, &b).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), ["arrived_at"]);
    let mut b = handed_in("2026-09-02");
    b["receipt_date"] = json!("2026-09-02");
    try_intake(&app, &st.clerk, &b)
        .await
        .assert_problem(422, "validation_failed");
    let list = app.get("/api/v1/requests", &st.admin).await;
    assert_eq!(list.body["total"], 0, "nothing was registered");
}

async fn case_numbers_are_gapless_per_agency_and_year_and_come_with_a_query_code(app: TestApp) {
    let st = staff(&app).await;
    let first = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    assert_eq!(first["case_number"], "ROOT-2026-000001");
    // A refused intake takes no number.
    let mut bad = handed_in("2026-09-01");
    bad["channel"] = json!("smoke_signal");
    try_intake(&app, &st.clerk, &bad)
        .await
        .assert_problem(422, "validation_failed");
    let second = intake(&app, &st.clerk, &handed_in("2026-09-02")).await;
    assert_eq!(second["case_number"], "ROOT-2026-000002");
    // An external reference is unique per agency; the refusal takes no number either.
    let mut with_ref = handed_in("2026-09-02");
    with_ref["external_reference"] = json!("GSPT-2026-0001");
    let third = intake(&app, &st.clerk, &with_ref).await;
    assert_eq!(third["case_number"], "ROOT-2026-000003");
    assert_eq!(third["external_reference"], "GSPT-2026-0001");
    try_intake(&app, &st.clerk, &with_ref)
        .await
        .assert_problem(409, "external_reference_taken");
    // The year is the year of arrival.
    let old = intake(&app, &st.clerk, &handed_in("2025-12-30")).await;
    assert_eq!(old["case_number"], "ROOT-2025-000001");
    // Numbering is per agency: an admin registers for an agency below, with its code.
    let city = app.create_agency("CITY", None).await;
    let mut for_city = with_ref.clone();
    for_city["agency_id"] = json!(city);
    let c = intake(&app, &st.admin, &for_city).await;
    assert_eq!(c["case_number"], "CITY-2026-000001");
    assert_eq!(c["agency_id"], city.as_str());
    // A clerk registers only in its own agency.
    let mut elsewhere = handed_in("2026-09-02");
    elsewhere["agency_id"] = json!(city);
    let r = try_intake(&app, &st.clerk, &elsewhere).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        field_codes(&r),
        BTreeSet::from([pair("agency_id", "unknown_agency")])
    );

    // Concurrent intakes still number without gaps or repeats.
    let mut handles = Vec::new();
    for i in 0..6 {
        let rb = app
            .request(Method::POST, "/api/v1/requests", Some(&st.clerk))
            .json(&handed_in(&format!("2026-09-{:02}", 7 + i)));
        handles.push(tokio::spawn(async move {
            Resp::from(rb.send().await.expect("send")).await
        }));
    }
    let mut numbers = BTreeSet::new();
    for h in handles {
        let r = h.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        numbers.insert(s(&r.body["case_number"]).to_string());
    }
    let expected: BTreeSet<String> = (4..=9).map(|n| format!("ROOT-2026-{n:06}")).collect();
    assert_eq!(numbers, expected);

    // The query code given to the applicant: 10 characters without look-alikes, each its own.
    let mut codes = BTreeSet::new();
    for r in [&first, &second, &third, &old, &c] {
        let code = s(&r["query_code"]);
        assert_eq!(code.len(), 10, "{code}");
        assert!(
            code.chars()
                .all(|ch| (ch.is_ascii_uppercase() && !"IO".contains(ch))
                    || ('2'..='9').contains(&ch)),
            "{code}"
        );
        codes.insert(code.to_string());
    }
    assert_eq!(codes.len(), 5);
}

async fn a_retried_intake_with_the_same_idempotency_key_returns_the_first_answer(app: TestApp) {
    let st = staff(&app).await;
    let post = |key: &str, body: &Value| {
        app.request(Method::POST, "/api/v1/requests", Some(&st.clerk))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
    };
    let body = handed_in("2026-09-01");
    let first = Resp::from(post("intake-7f3a", &body).await.unwrap()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = Resp::from(post("intake-7f3a", &body).await.unwrap()).await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.text);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body, first.body, "the first answer, byte for byte");
    assert_eq!(retry.body["id"], first.body["id"]);
    let list = app.get("/api/v1/requests", &st.clerk).await;
    assert_eq!(list.body["total"], 1, "one application");
    // The same JSON with its members in another order is the same body.
    let mut members: Vec<(String, Value)> = body
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    members.reverse();
    let reordered = format!(
        "{{{}}}",
        members
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(!reordered.starts_with("{\"applicant\""), "{reordered}");
    let r = app
        .request(Method::POST, "/api/v1/requests", Some(&st.clerk))
        .header("Idempotency-Key", "intake-7f3a")
        .header("Content-Type", "application/json")
        .body(reordered)
        .send()
        .await
        .unwrap();
    let r = Resp::from(r).await;
    assert_eq!(r.header("idempotent-replayed"), Some("true"), "{}", r.text);
    assert_eq!(r.body["id"], first.body["id"]);

    // The same key with another body is refused, and registers nothing.
    let mut other = body.clone();
    other["description"] = json!("另一份申请");
    let r = Resp::from(post("intake-7f3a", &other).await.unwrap()).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(r.body["errors"][0]["code"], "idempotency_key_reused");
    let list = app.get("/api/v1/requests", &st.clerk).await;
    assert_eq!(list.body["total"], 1);

    // Another key is another application; an empty key is a bad request.
    let r = Resp::from(post("intake-9c1d", &body).await.unwrap()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_ne!(r.body["id"], first.body["id"]);
    assert_eq!(r.body["case_number"], "ROOT-2026-000002");
    Resp::from(post("   ", &body).await.unwrap())
        .await
        .assert_problem(400, "invalid_idempotency_key");
    let list = app.get("/api/v1/requests", &st.clerk).await;
    assert_eq!(list.body["total"], 2);
}

async fn concurrent_retries_with_one_idempotency_key_register_one_application(app: TestApp) {
    let st = staff(&app).await;
    let body = handed_in("2026-09-01");
    let mut handles = Vec::new();
    for _ in 0..4 {
        let rb = app
            .request(Method::POST, "/api/v1/requests", Some(&st.clerk))
            .header("Idempotency-Key", "retry-storm")
            .json(&body);
        handles.push(tokio::spawn(async move {
            Resp::from(rb.send().await.expect("send")).await
        }));
    }
    let mut ids = BTreeSet::new();
    let mut fresh = 0;
    for h in handles {
        let r = h.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.insert(id_of(&r.body));
        if r.header("idempotent-replayed").is_none() {
            fresh += 1;
        }
    }
    assert_eq!(ids.len(), 1, "every retry answers the same application");
    assert_eq!(fresh, 1, "exactly one answer is not a replay");
    let list = app.get("/api/v1/requests", &st.clerk).await;
    assert_eq!(list.body["total"], 1);
    // No number was lost to the retries that lost the race.
    let r = intake(&app, &st.clerk, &handed_in("2026-09-02")).await;
    assert_eq!(r["case_number"], "ROOT-2026-000002");
}

// ---------------------------------------------------------------------------------------------
// §4–§5 Actions and their guards
// ---------------------------------------------------------------------------------------------

async fn a_correction_is_asked_once_within_7_working_days_and_restarts_the_clock(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let window_end = add_wd(&app, "2026-09-01", 7).await;

    // The notice lists the items and gives a deadline after its own date.
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "request_correction",
        json!({"on": "2026-09-02"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("items", "required"), pair("reply_by", "required")])
    );
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "request_correction",
        json!({"on": "2026-09-02", "items": [], "reply_by": "2026-09-02"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("items", "required"), pair("reply_by", "not_after_on")])
    );
    // After the 7th working day after receipt: too late.
    let items = json!(["请明确所需信息的文件名称或文号", "请补充联系电话"]);
    refused(
        &app,
        &st.clerk,
        &r,
        "request_correction",
        json!({"on": day_after(&window_end), "items": items, "reply_by": "2026-09-30"}),
        409,
        "correction_window_passed",
    )
    .await;
    // On the 7th working day: in time.
    let r = step(
        &app,
        &st.clerk,
        &r,
        "request_correction",
        json!({"on": window_end, "items": items, "reply_by": "2026-09-30"}),
    )
    .await;
    assert_eq!(r["state"], "awaiting_correction");
    assert_eq!(r["due_date"], Value::Null, "no clock runs while waiting");
    assert_eq!(r["workflow"]["correction_items"], items);
    assert_eq!(
        r["workflow"]["clock"]["correction"],
        json!({"requested_on": window_end, "reply_by": "2026-09-30", "received_on": null})
    );
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["deadline"]["status"], "awaiting_correction");
    assert_eq!(d["deadline"]["correction_window_end"], window_end.as_str());
    assert_eq!(d["deadline"]["correction_reply_by"], "2026-09-30");

    // The corrected application restarts the clock: a full 20 working days from its receipt.
    let r = step(
        &app,
        &st.clerk,
        &r,
        "receive_correction",
        json!({"on": "2026-09-15"}),
    )
    .await;
    assert_eq!(r["state"], "processing");
    assert_eq!(r["receipt_date"], "2026-09-01", "the receipt date stays");
    assert_eq!(r["due_date"], add_wd(&app, "2026-09-15", 20).await.as_str());
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["deadline"]["clock_start"], "2026-09-15");
    assert_eq!(d["deadline"]["clock_start_rule"], "correction_received");

    // Only once (art. 30).
    refused(
        &app,
        &st.clerk,
        &r,
        "request_correction",
        json!({"on": "2026-09-16", "items": ["再次补正"], "reply_by": "2026-09-30"}),
        409,
        "correction_already_requested",
    )
    .await;
}

async fn an_uncorrected_application_closes_only_after_the_reply_by_date(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    refused(
        &app,
        &st.clerk,
        &r,
        "close_uncorrected",
        json!({"on": "2026-09-20"}),
        409,
        "invalid_transition",
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "request_correction",
        json!({"on": "2026-09-02", "items": ["请明确所需信息"], "reply_by": "2026-09-16"}),
    )
    .await;
    refused(
        &app,
        &st.clerk,
        &r,
        "close_uncorrected",
        json!({"on": "2026-09-16"}),
        409,
        "correction_deadline_not_passed",
    )
    .await;
    // No reply period runs while waiting, so there is nothing to extend or answer.
    refused(
        &app,
        &st.approver,
        &r,
        "extend",
        json!({"on": "2026-09-03", "days": 5, "reason": "x"}),
        409,
        "invalid_transition",
    )
    .await;
    refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        reply_granted("2026-09-03"),
        409,
        "invalid_transition",
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "close_uncorrected",
        json!({"on": "2026-09-17"}),
    )
    .await;
    assert_eq!(r["state"], "closed");
    assert_eq!(r["disposition"], "other.uncorrected");
    assert_eq!(r["closed_on"], "2026-09-17");
    assert_eq!(r["late"], false);
    assert_eq!(r["overdue"], false);
}

async fn a_consultation_pauses_the_clock_and_no_reply_waits_for_15_working_days(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let due0 = s(&r["due_date"]).to_string();

    let e = refused(
        &app,
        &st.clerk,
        &r,
        "start_consultation",
        json!({"on": "2026-09-02"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("party", "required"), pair("whom", "required")])
    );
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "start_consultation",
        json!({"on": "2026-09-02", "party": "neighbour", "whom": "隔壁"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("party", "unknown_code")])
    );

    let r = step(
        &app,
        &st.clerk,
        &r,
        "start_consultation",
        json!({"on": "2026-09-02", "party": "third_party", "whom": "某某建设有限公司"}),
    )
    .await;
    assert_eq!(r["state"], "consulting");
    // The third party's receipt is not recorded yet: its 15 working days are assumed to start
    // 3 working days (the delivery allowance) after sending, and the window is provisional.
    // While paused, the due date is the latest it can be.
    let assumed_end = add_wd(&app, "2026-09-02", 18).await;
    assert_eq!(r["due_date"], add_wd(&app, &due0, 18).await.as_str());
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["deadline"]["status"], "paused");
    assert_eq!(
        d["deadline"]["consultation_window_end"],
        assumed_end.as_str()
    );
    assert_eq!(d["deadline"]["consultation_window_provisional"], true);
    // The return receipt shows it arrived on 2026-09-04: 15 working days from then.
    let r = step(
        &app,
        &st.clerk,
        &r,
        "record_consultation_receipt",
        json!({"on": "2026-09-07", "received_on": "2026-09-04"}),
    )
    .await;
    let window_end = add_wd(&app, "2026-09-04", 15).await;
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(
        d["deadline"]["consultation_window_end"],
        window_end.as_str()
    );
    assert_eq!(d["deadline"]["consultation_window_provisional"], false);
    let window = trace_step(&d, "window.consultation");
    assert_eq!(window["date"], "2026-09-04");
    assert_eq!(window["until"], window_end.as_str());
    assert_eq!(window["article"], "《条例》第三十二条");
    assert!(rules(&d).contains(&"pause.open".to_string()), "{d}");

    // "No reply" only once the 15 working days are over.
    refused(
        &app,
        &st.clerk,
        &r,
        "end_consultation",
        json!({"on": window_end, "opinion": "no_reply"}),
        409,
        "consultation_window_not_passed",
    )
    .await;
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "end_consultation",
        json!({"on": window_end, "opinion": "maybe"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("opinion", "unknown_code")])
    );
    let r = step(
        &app,
        &st.clerk,
        &r,
        "end_consultation",
        json!({"on": day_after(&window_end), "opinion": "no_reply"}),
    )
    .await;
    assert_eq!(r["state"], "processing");
    // The working days from sending to the window's end are not counted: the due date moves
    // by exactly them.
    let paused = count_wd(&app, "2026-09-02", &window_end).await;
    assert_eq!(paused, 17, "2 days of delivery and the 15 of the window");
    assert_eq!(
        r["due_date"],
        add_wd(&app, &due0, u32::try_from(paused).expect("days"))
            .await
            .as_str()
    );
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["deadline"]["paused_working_days"], paused);
    assert_eq!(d["deadline"]["status"], "running");
    assert_eq!(r["workflow"]["consultations"][0]["opinion"], "no_reply");
    assert_eq!(r["workflow"]["consultations"][0]["party"], "third_party");

    // Another agency answers early: only the days until its answer are not counted.
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "start_consultation",
        json!({"on": "2026-09-02", "party": "other_agency", "whom": "市自然资源局"}),
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "end_consultation",
        json!({"on": "2026-09-09", "opinion": "consent"}),
    )
    .await;
    let paused = count_wd(&app, "2026-09-02", "2026-09-09").await;
    assert_eq!(paused, 5);
    assert_eq!(r["due_date"], add_wd(&app, &due0, 5).await.as_str());
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["deadline"]["paused_working_days"], 5);
    assert_eq!(trace_step(&d, "pause.other_agency")["working_days"], 5);
}

async fn fee_notices_follow_the_measures_and_a_payment_must_match_the_notice(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let due0 = s(&r["due_date"]).to_string();
    let notice = |basis: &str, pages: Option<i64>, amount: i64| {
        let mut b = json!({"on": "2026-09-02", "basis": basis, "amount_fen": amount});
        if let Some(p) = pages {
            b["pages"] = json!(p);
        }
        b
    };
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        json!({"on": "2026-09-02"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("basis", "required"), pair("amount_fen", "required")])
    );
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        notice("per_page", None, 1000),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_codes(&e), BTreeSet::from([pair("pages", "required")]));
    // Up to 30 pages are free.
    refused(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        notice("per_page", Some(30), 100),
        409,
        "fee_not_chargeable",
    )
    .await;
    // Page 31 costs 10 yuan: 1000 fen at most.
    refused(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        notice("per_page", Some(31), 1001),
        409,
        "fee_above_maximum",
    )
    .await;
    // The applicant's first application this month: per piece, it is free.
    refused(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        notice("per_piece", None, 100),
        409,
        "fee_not_chargeable",
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        notice("per_page", Some(31), 1000),
    )
    .await;
    assert_eq!(r["state"], "awaiting_payment");
    let fee = &r["workflow"]["fee"];
    assert_eq!(fee["basis"], "per_page");
    assert_eq!(fee["amount_fen"], 1000);
    assert_eq!(fee["maximum_fen"], 1000);
    assert_eq!(fee["pages"], 31);
    assert_eq!(fee["notice_on"], "2026-09-02");
    assert_eq!(fee["paid_on"], Value::Null);
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["deadline"]["status"], "paused");
    // The applicant's receipt is not recorded: 3 working days of delivery are assumed.
    assert_eq!(
        d["deadline"]["payment_window_end"],
        add_wd(&app, "2026-09-02", 23).await.as_str()
    );
    assert_eq!(d["deadline"]["payment_window_provisional"], true);
    assert!(rules(&d).contains(&"pause.fee_notice".to_string()));
    assert!(rules(&d).contains(&"window.payment".to_string()));
    // One notice per application: nothing else to issue while waiting.
    refused(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        notice("per_page", Some(31), 1000),
        409,
        "invalid_transition",
    )
    .await;

    // The payment must be the amount of the notice.
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "record_payment",
        json!({"on": "2026-09-09", "amount_fen": 999}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("amount_fen", "payment_amount_mismatch")])
    );
    let r = step(
        &app,
        &st.clerk,
        &r,
        "record_payment",
        json!({"on": "2026-09-09", "amount_fen": 1000}),
    )
    .await;
    assert_eq!(r["state"], "processing");
    assert_eq!(r["workflow"]["fee"]["paid_on"], "2026-09-09");
    assert_eq!(r["workflow"]["fee"]["paid_fen"], 1000);
    // From notice to payment the clock stood still.
    let paused = count_wd(&app, "2026-09-02", "2026-09-09").await;
    assert_eq!(
        r["due_date"],
        add_wd(&app, &due0, paused as u32).await.as_str()
    );
    // One fee notice per application.
    let mut again = notice("per_page", Some(40), 1000);
    again["on"] = json!("2026-09-10");
    refused(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        again,
        409,
        "fee_notice_already_issued",
    )
    .await;

    // Beyond 100 pages the rate doubles: 70 × 10 + 20 × 20 yuan for 120 pages.
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    refused(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        notice("per_page", Some(120), 110_001),
        409,
        "fee_above_maximum",
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        notice("per_page", Some(120), 110_000),
    )
    .await;
    assert_eq!(r["workflow"]["fee"]["maximum_fen"], 110_000);
}

async fn a_per_piece_fee_counts_the_applicants_applications_received_in_the_month(app: TestApp) {
    let st = staff(&app).await;
    // Received the month before, and not yet received: neither counts for September.
    intake(&app, &st.clerk, &handed_in("2026-08-31")).await;
    intake(
        &app,
        &st.clerk,
        &application("online", "2026-09-01T08:00:00+08:00", person("张三", RID)),
    )
    .await;
    let mut september = Vec::new();
    for day in 1..=11 {
        september.push(intake(&app, &st.clerk, &handed_in(&format!("2026-09-{day:02}"))).await);
    }
    let fee = |amount: i64| json!({"on": "2026-09-14", "basis": "per_piece", "amount_fen": amount});
    // Pieces 1–10 are free.
    refused(
        &app,
        &st.clerk,
        &september[9],
        "issue_fee_notice",
        fee(100),
        409,
        "fee_not_chargeable",
    )
    .await;
    // The 11th costs at most 100 yuan.
    refused(
        &app,
        &st.clerk,
        &september[10],
        "issue_fee_notice",
        fee(10_001),
        409,
        "fee_above_maximum",
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &september[10],
        "issue_fee_notice",
        fee(10_000),
    )
    .await;
    assert_eq!(r["state"], "awaiting_payment");
    let f = &r["workflow"]["fee"];
    assert_eq!(f["basis"], "per_piece");
    assert_eq!(f["nth_in_month"], 11);
    assert_eq!(f["maximum_fen"], 10_000);
    assert_eq!(f["amount_fen"], 10_000);
    assert_eq!(f["pages"], Value::Null);
    // Another applicant's first application that month is free.
    let other = intake(
        &app,
        &st.clerk,
        &application(
            "in_person",
            "2026-09-11T09:00:00+08:00",
            person("李四", RID_X),
        ),
    )
    .await;
    refused(
        &app,
        &st.clerk,
        &other,
        "issue_fee_notice",
        fee(100),
        409,
        "fee_not_chargeable",
    )
    .await;
}

async fn a_waived_fee_resumes_processing_and_an_unpaid_one_closes_after_20_working_days(
    app: TestApp,
) {
    let st = staff(&app).await;
    let fee = json!({"on": "2026-09-02", "basis": "per_page", "pages": 45, "amount_fen": 15_000});
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    refused(
        &app,
        &st.clerk,
        &r,
        "waive_fee",
        json!({"on": "2026-09-04", "reason": "减免"}),
        409,
        "invalid_transition",
    )
    .await;
    let r = step(&app, &st.clerk, &r, "issue_fee_notice", fee.clone()).await;
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "waive_fee",
        json!({"on": "2026-09-04"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("reason", "required")])
    );
    let r = step(
        &app,
        &st.clerk,
        &r,
        "waive_fee",
        json!({"on": "2026-09-04", "reason": "申请人为低保对象，依申请减免"}),
    )
    .await;
    assert_eq!(r["state"], "processing");
    assert_eq!(r["workflow"]["fee"]["waived_on"], "2026-09-04");
    assert_eq!(
        r["workflow"]["fee"]["waiver_reason"],
        "申请人为低保对象，依申请减免"
    );
    assert_eq!(r["workflow"]["fee"]["paid_on"], Value::Null);

    // Unpaid: deemed withdrawn only once the 20 working days after the applicant received the
    // notice are over. Received on 2026-09-03 (the postal return receipt).
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let r = step(&app, &st.clerk, &r, "issue_fee_notice", fee).await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "record_fee_notice_receipt",
        json!({"on": "2026-09-04", "received_on": "2026-09-03"}),
    )
    .await;
    let window_end = add_wd(&app, "2026-09-03", 20).await;
    refused(
        &app,
        &st.clerk,
        &r,
        "close_unpaid",
        json!({"on": window_end}),
        409,
        "payment_deadline_not_passed",
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "close_unpaid",
        json!({"on": day_after(&window_end)}),
    )
    .await;
    assert_eq!(r["state"], "closed");
    assert_eq!(r["disposition"], "other.unpaid");
    assert_eq!(r["closed_on"], day_after(&window_end));

    // A payment after the window is refused; the application can then only close as unpaid.
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let notice = json!({"on": "2026-09-02", "basis": "per_page", "pages": 45,
                        "amount_fen": 15_000, "received_on": "2026-09-02"});
    let r = step(&app, &st.clerk, &r, "issue_fee_notice", notice).await;
    let window_end = add_wd(&app, "2026-09-02", 20).await;
    refused(
        &app,
        &st.clerk,
        &r,
        "record_payment",
        json!({"on": day_after(&window_end), "amount_fen": 15_000}),
        409,
        "payment_window_passed",
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "close_unpaid",
        json!({"on": day_after(&window_end)}),
    )
    .await;
    assert_eq!(r["disposition"], "other.unpaid");

    // No fee notice before the fee Measures came into force on 2021-01-01.
    let old = intake(&app, &st.clerk, &handed_in("2020-12-28")).await;
    refused(
        &app,
        &st.clerk,
        &old,
        "issue_fee_notice",
        json!({"on": "2020-12-31", "basis": "per_page", "pages": 45, "amount_fen": 15_000}),
        409,
        "fee_rules_not_in_force",
    )
    .await;
}

async fn only_an_approver_extends_once_by_at_most_20_working_days_before_the_due_date(
    app: TestApp,
) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let due0 = s(&r["due_date"]).to_string();
    let extend = |days: i64| json!({"on": "2026-09-10", "days": days, "reason": "涉及档案检索，20个工作日内无法答复"});

    // The head of the disclosure office approves: neither a clerk nor an admin.
    refused(
        &app,
        &st.clerk,
        &r,
        "extend",
        extend(10),
        403,
        "approver_required",
    )
    .await;
    refused(
        &app,
        &st.admin,
        &r,
        "extend",
        extend(10),
        403,
        "approver_required",
    )
    .await;
    refused(
        &app,
        &st.approver,
        &r,
        "extend",
        extend(21),
        409,
        "extension_too_long",
    )
    .await;
    let e = refused(
        &app,
        &st.approver,
        &r,
        "extend",
        extend(0),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("days", "out_of_range")])
    );
    let e = refused(
        &app,
        &st.approver,
        &r,
        "extend",
        json!({"on": "2026-09-10", "days": 5}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("reason", "required")])
    );

    let r = step(&app, &st.approver, &r, "extend", extend(10)).await;
    assert_eq!(r["state"], "processing");
    assert_eq!(r["due_date"], add_wd(&app, &due0, 10).await.as_str());
    assert_eq!(
        r["workflow"]["clock"]["extension"],
        json!({
            "days": 10,
            "approved_on": "2026-09-10",
            "approved_by": "approver1",
            "reason": "涉及档案检索，20个工作日内无法答复",
        })
    );
    // Only once (art. 33).
    refused(
        &app,
        &st.approver,
        &r,
        "extend",
        json!({"on": "2026-09-11", "days": 5, "reason": "再延"}),
        409,
        "extension_already_used",
    )
    .await;

    // Before the due date passes; on the due date itself is still in time.
    let late = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    refused(
        &app,
        &st.approver,
        &late,
        "extend",
        json!({"on": day_after(&due0), "days": 5, "reason": "来不及"}),
        409,
        "due_date_passed",
    )
    .await;
    let late = step(
        &app,
        &st.approver,
        &late,
        "extend",
        // `20.0` is an integer to JSON Schema (and so to generated clients): read as 20.
        json!({"on": due0, "days": 20.0, "reason": "最后一天批准"}),
    )
    .await;
    assert_eq!(late["due_date"], add_wd(&app, &due0, 20).await.as_str());

    // While a consultation is open the extension is allowed too, and the state stays.
    let c = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let c = step(
        &app,
        &st.clerk,
        &c,
        "start_consultation",
        json!({"on": "2026-09-02", "party": "third_party", "whom": "某公司"}),
    )
    .await;
    let c = step(&app, &st.approver, &c, "extend", extend(3)).await;
    assert_eq!(c["state"], "consulting");
    assert_eq!(c["workflow"]["clock"]["extension"]["days"], 3);
}

async fn a_reply_must_record_what_its_disposition_requires(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let on = "2026-09-10";
    let refusals = [
        (
            json!({"on": on, "disposition": "denied.state_secret", "reason": "属于国家秘密"}),
            "disposition_requires_legal_basis",
        ),
        (
            json!({"on": on, "disposition": "denied.state_secret", "legal_basis": "《条例》第十四条"}),
            "disposition_requires_reason",
        ),
        (
            json!({"on": on, "disposition": "denied.process_information", "legal_basis": "《条例》第十六条"}),
            "disposition_requires_reason",
        ),
        (
            json!({"on": on, "disposition": "granted"}),
            "disposition_requires_provision",
        ),
        (
            json!({"on": on, "disposition": "unavailable.not_held"}),
            "disposition_requires_reason",
        ),
        (
            json!({"on": on, "disposition": "other.unpaid", "reason": "未缴费"}),
            "disposition_requires_action",
        ),
        (
            json!({"on": on, "disposition": "other.uncorrected", "reason": "未补正"}),
            "disposition_requires_action",
        ),
        (
            json!({"on": on, "disposition": "unavailable.still_unclear", "reason": "仍不明确"}),
            "correction_not_received",
        ),
    ];
    for (body, code) in refusals {
        refused(&app, &st.clerk, &r, "reply", body, 409, code).await;
    }
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        json!({"on": on, "disposition": "granted.fully", "provision": "x"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("disposition", "unknown_code")])
    );
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        json!({"on": on}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("disposition", "required")])
    );

    let r = step(&app, &st.clerk, &r, "reply", reply_granted(on)).await;
    assert_eq!(r["state"], "closed");
    assert_eq!(r["disposition"], "granted");
    assert_eq!(r["closed_on"], on);
    assert_eq!(r["late"], false);
    assert_eq!(r["overdue"], false);
    assert_eq!(
        r["workflow"]["reply"]["provision"],
        "以电子邮件方式提供，见附件"
    );
    assert_eq!(r["workflow"]["reply"]["on"], on);

    // A denial with reason and legal basis.
    let d = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let d = step(
        &app,
        &st.clerk,
        &d,
        "reply",
        json!({"on": on, "disposition": "denied.third_party_rights",
               "reason": "涉及商业秘密，第三方不同意公开", "legal_basis": "《条例》第十五条"}),
    )
    .await;
    assert_eq!(d["disposition"], "denied.third_party_rights");
    assert_eq!(d["workflow"]["reply"]["legal_basis"], "《条例》第十五条");

    // Still unclear after a correction round.
    let u = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let u = step(
        &app,
        &st.clerk,
        &u,
        "request_correction",
        json!({"on": "2026-09-02", "items": ["请明确所需信息"], "reply_by": "2026-09-16"}),
    )
    .await;
    let u = step(
        &app,
        &st.clerk,
        &u,
        "receive_correction",
        json!({"on": "2026-09-08"}),
    )
    .await;
    let u = step(
        &app,
        &st.clerk,
        &u,
        "reply",
        json!({"on": on, "disposition": "unavailable.still_unclear", "reason": "补正后仍无法确定所需信息"}),
    )
    .await;
    assert_eq!(u["disposition"], "unavailable.still_unclear");
}

async fn a_reply_after_the_due_date_is_accepted_and_marked_late(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-01-05")).await;
    let due = add_wd(&app, "2026-01-05", 20).await;
    assert_eq!(r["due_date"], due.as_str());
    assert!(due.as_str() < "2026-03-01", "{due}");
    assert_eq!(r["overdue"], true);
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["deadline"]["overdue"], true);
    let today = today(&app).await.to_string();
    assert_eq!(
        d["deadline"]["working_days_remaining"],
        -count_wd(&app, &due, &today).await
    );

    let r = step(&app, &st.clerk, &r, "reply", reply_granted("2026-03-01")).await;
    assert_eq!(r["state"], "closed");
    assert_eq!(r["late"], true);
    assert_eq!(r["overdue"], false, "closed applications are not overdue");
    assert_eq!(r["workflow"]["reply"]["late"], true);
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["deadline"]["late"], true);
    assert_eq!(d["deadline"]["status"], "stopped");
    assert_eq!(d["deadline"]["working_days_remaining"], Value::Null);

    // A reply on the due date itself is on time.
    let r = intake(&app, &st.clerk, &handed_in("2026-01-05")).await;
    let r = step(&app, &st.clerk, &r, "reply", reply_granted(&due)).await;
    assert_eq!(r["late"], false);
}

async fn withdrawal_closes_any_open_application_and_a_closed_one_refuses_every_action(
    app: TestApp,
) {
    let st = staff(&app).await;
    let on = json!({"on": "2026-09-10"});
    // One application in each open state.
    let unconfirmed = intake(
        &app,
        &st.clerk,
        &application("letter", "2026-09-01T09:30:00+08:00", person("张三", RID)),
    )
    .await;
    let processing = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let correcting = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let correcting = step(
        &app,
        &st.clerk,
        &correcting,
        "request_correction",
        json!({"on": "2026-09-02", "items": ["请明确"], "reply_by": "2026-09-16"}),
    )
    .await;
    let consulting = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let consulting = step(
        &app,
        &st.clerk,
        &consulting,
        "start_consultation",
        json!({"on": "2026-09-02", "party": "other_agency", "whom": "市财政局"}),
    )
    .await;
    let paying = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let paying = step(
        &app,
        &st.clerk,
        &paying,
        "issue_fee_notice",
        json!({"on": "2026-09-02", "basis": "per_page", "pages": 40, "amount_fen": 10_000}),
    )
    .await;
    let mut closed = Vec::new();
    for (r, state) in [
        (&unconfirmed, "awaiting_confirmation"),
        (&processing, "processing"),
        (&correcting, "awaiting_correction"),
        (&consulting, "consulting"),
        (&paying, "awaiting_payment"),
    ] {
        assert_eq!(r["state"], state);
        let w = step(&app, &st.clerk, r, "withdraw", on.clone()).await;
        assert_eq!(w["state"], "closed", "{state}");
        assert_eq!(w["disposition"], "other.other", "{state}");
        assert_eq!(w["closed_on"], "2026-09-10", "{state}");
        assert_eq!(w["workflow"]["reply"]["reason"], "withdrawn", "{state}");
        closed.push(w);
    }
    // A stated reason is kept.
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "withdraw",
        json!({"on": "2026-09-03", "reason": "申请人书面撤回申请"}),
    )
    .await;
    assert_eq!(r["workflow"]["reply"]["reason"], "申请人书面撤回申请");
    assert_eq!(r["disposition"], "other.other");

    // A closed application refuses every action.
    let everything = [
        ("confirm_receipt", json!({"on": "2026-09-11"})),
        (
            "request_correction",
            json!({"on": "2026-09-11", "items": ["x"], "reply_by": "2026-09-30"}),
        ),
        ("receive_correction", json!({"on": "2026-09-11"})),
        (
            "start_consultation",
            json!({"on": "2026-09-11", "party": "third_party", "whom": "x"}),
        ),
        (
            "end_consultation",
            json!({"on": "2026-09-11", "opinion": "consent"}),
        ),
        (
            "issue_fee_notice",
            json!({"on": "2026-09-11", "basis": "per_page", "pages": 40, "amount_fen": 100}),
        ),
        (
            "record_payment",
            json!({"on": "2026-09-11", "amount_fen": 10_000}),
        ),
        ("waive_fee", json!({"on": "2026-09-11", "reason": "x"})),
        (
            "extend",
            json!({"on": "2026-09-11", "days": 5, "reason": "x"}),
        ),
        ("reply", reply_granted("2026-09-11")),
        ("close_uncorrected", json!({"on": "2026-09-30"})),
        ("close_unpaid", json!({"on": "2026-11-20"})),
        ("withdraw", json!({"on": "2026-09-11"})),
    ];
    for (action, body) in everything {
        let token = if action == "extend" {
            &st.approver
        } else {
            &st.clerk
        };
        refused(&app, token, &r, action, body, 409, "invalid_transition").await;
    }
    // Whatever state it was closed from.
    for w in &closed {
        refused(
            &app,
            &st.clerk,
            w,
            "withdraw",
            json!({"on": "2026-09-11"}),
            409,
            "invalid_transition",
        )
        .await;
    }
}

async fn unknown_actions_answer_404_and_action_dates_are_checked(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let id = id_of(&r);
    refused(
        &app,
        &st.clerk,
        &r,
        "approve",
        json!({"on": "2026-09-02"}),
        404,
        "not_found",
    )
    .await;
    act(
        &app,
        &st.clerk,
        "00000000-0000-4000-8000-000000000000",
        "withdraw",
        Some(1),
        &json!({"on": "2026-09-02"}),
    )
    .await
    .assert_problem(404, "not_found");
    act(
        &app,
        &st.clerk,
        "not-a-uuid",
        "withdraw",
        Some(1),
        &json!({"on": "2026-09-02"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        "/api/v1/requests/00000000-0000-4000-8000-000000000000",
        &st.clerk,
    )
    .await
    .assert_problem(404, "not_found");

    // An action in the wrong state.
    refused(
        &app,
        &st.clerk,
        &r,
        "record_payment",
        json!({"on": "2026-09-02", "amount_fen": 100}),
        409,
        "invalid_transition",
    )
    .await;
    // Dates: required, not in the future, not before the previous step.
    let tomorrow = today(&app).await.succ_opt().unwrap().to_string();
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "withdraw",
        json!({}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_codes(&e), BTreeSet::from([pair("on", "required")]));
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "withdraw",
        json!({"on": tomorrow}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_codes(&e), BTreeSet::from([pair("on", "in_future")]));
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "withdraw",
        json!({"on": "2026-08-31"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("on", "before_previous_step")]),
        "before the receipt"
    );
    let r = step(
        &app,
        &st.clerk,
        &r,
        "start_consultation",
        json!({"on": "2026-09-10", "party": "third_party", "whom": "某公司"}),
    )
    .await;
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "end_consultation",
        json!({"on": "2026-09-09", "opinion": "consent"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("on", "before_previous_step")])
    );
    // The same day as the previous step is fine.
    let r = step(
        &app,
        &st.clerk,
        &r,
        "end_consultation",
        json!({"on": "2026-09-10", "opinion": "objection"}),
    )
    .await;
    assert_eq!(r["state"], "processing");
    // Unknown body fields are refused, naming the field.
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "withdraw",
        json!({"on": "2026-09-11", "when": "now"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("when", "unknown_field")])
    );
    assert_eq!(id_of(&r), id);
}

async fn actions_and_corrections_need_the_current_version_in_if_match(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let id = id_of(&r);
    let g = app.get(&format!("/api/v1/requests/{id}"), &st.clerk).await;
    assert_eq!(g.header("etag"), Some("\"1\""));
    assert_eq!(g.body["version"], 1);

    let body = json!({"on": "2026-09-02", "party": "third_party", "whom": "某公司"});
    act(&app, &st.clerk, &id, "start_consultation", None, &body)
        .await
        .assert_problem(428, "if_match_required");
    act(&app, &st.clerk, &id, "start_consultation", Some(2), &body)
        .await
        .assert_problem(412, "version_mismatch");
    let garbled = app
        .request(
            Method::POST,
            &format!("/api/v1/requests/{id}/actions/start_consultation"),
            Some(&st.clerk),
        )
        .header("If-Match", "yesterday")
        .json(&body)
        .send()
        .await
        .unwrap();
    Resp::from(garbled)
        .await
        .assert_problem(400, "invalid_if_match");
    assert_eq!(get_request(&app, &id).await["version"], 1);
    assert_eq!(events(&app, &id).await.len(), 1);

    let r = step(&app, &st.clerk, &r, "start_consultation", body.clone()).await;
    let g = app.get(&format!("/api/v1/requests/{id}"), &st.clerk).await;
    assert_eq!(g.header("etag"), Some("\"2\""));
    assert_eq!(g.body["version"], 2);
    // The version read before is stale now.
    act(
        &app,
        &st.clerk,
        &id,
        "end_consultation",
        Some(1),
        &json!({"on": "2026-09-03", "opinion": "consent"}),
    )
    .await
    .assert_problem(412, "version_mismatch");

    // Corrections of intake details too.
    let patch = json!({"description": "更正后的申请内容描述"});
    app.patch(&format!("/api/v1/requests/{id}"), &st.clerk, &patch, None)
        .await
        .assert_problem(428, "if_match_required");
    app.patch(
        &format!("/api/v1/requests/{id}"),
        &st.clerk,
        &patch,
        Some(1),
    )
    .await
    .assert_problem(412, "version_mismatch");
    assert_eq!(get_request(&app, &id).await, r);
}

async fn concurrent_actions_with_one_version_apply_exactly_once(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let id = id_of(&r);
    // (action, token, body) raced 8 times with the same If-Match.
    let races = [
        (
            "extend",
            st.approver.clone(),
            json!({"on": "2026-09-10", "days": 10, "reason": "情况复杂"}),
        ),
        ("withdraw", st.clerk.clone(), json!({"on": "2026-09-11"})),
    ];
    for (round, (action, token, body)) in races.into_iter().enumerate() {
        let version = get_request(&app, &id).await["version"].as_i64().unwrap();
        let mut handles = Vec::new();
        for _ in 0..8 {
            let rb = app
                .request(
                    Method::POST,
                    &format!("/api/v1/requests/{id}/actions/{action}"),
                    Some(&token),
                )
                .header("If-Match", format!("\"{version}\""))
                .json(&body);
            handles.push(tokio::spawn(async move {
                Resp::from(rb.send().await.expect("send")).await
            }));
        }
        let mut ok = 0;
        for h in handles {
            let resp = h.await.unwrap();
            match resp.status.as_u16() {
                200 => ok += 1,
                412 => resp.assert_problem(412, "version_mismatch"),
                409 => assert!(
                    ["extension_already_used", "invalid_transition"]
                        .contains(&s(&resp.body["code"])),
                    "{}",
                    resp.text
                ),
                _ => panic!("{action}: unexpected answer {}", resp.text),
            }
        }
        assert_eq!(
            ok, 1,
            "{action}: exactly one of the racing requests applies"
        );
        let now = get_request(&app, &id).await;
        assert_eq!(now["version"], version + 1);
        let trail = events(&app, &id).await;
        assert_eq!(
            trail.len(),
            round + 2,
            "exactly one event per applied action"
        );
        assert_eq!(trail.last().unwrap()["action"], action);
    }
    let now = get_request(&app, &id).await;
    assert_eq!(now["state"], "closed");
    assert_eq!(now["workflow"]["clock"]["extension"]["days"], 10);
}

// ---------------------------------------------------------------------------------------------
// The trail and the deadline
// ---------------------------------------------------------------------------------------------

async fn the_event_trail_records_every_step_and_is_never_rewritten(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let id = id_of(&r);
    let trail = events(&app, &id).await;
    assert_eq!(trail.len(), 1);
    let e = &trail[0];
    assert_eq!(e["seq"], 1);
    assert_eq!(e["action"], "intake");
    assert_eq!(e["actor"], "clerk1");
    assert_eq!(e["actor_user_id"], st.clerk_id.as_str());
    assert_eq!(e["on"], "2026-09-01");
    assert_eq!(e["state_before"], Value::Null);
    assert_eq!(e["state_after"], "processing");
    assert_eq!(e["payload"]["channel"], "in_person");
    assert_eq!(e["payload"]["receipt_date"], "2026-09-01");
    assert_eq!(e["payload"]["due_date"], r["due_date"]);

    let steps = [
        (
            &st.clerk,
            "start_consultation",
            json!({"on": "2026-09-02", "party": "third_party", "whom": "某公司"}),
            "processing",
            "consulting",
        ),
        (
            &st.clerk,
            "end_consultation",
            json!({"on": "2026-09-04", "opinion": "consent"}),
            "consulting",
            "processing",
        ),
        (
            &st.approver,
            "extend",
            json!({"on": "2026-09-07", "days": 10, "reason": "情况复杂"}),
            "processing",
            "processing",
        ),
        (
            &st.clerk,
            "reply",
            reply_granted("2026-09-30"),
            "processing",
            "closed",
        ),
    ];
    let mut r = r;
    let mut seen = trail;
    for (token, action, body, before, after) in steps {
        let due_before = r["due_date"].clone();
        r = step(&app, token, &r, action, body.clone()).await;
        let trail = events(&app, &id).await;
        assert_eq!(trail.len(), seen.len() + 1, "{action}: one event");
        assert_eq!(
            trail[..seen.len()],
            seen[..],
            "{action}: earlier events are never rewritten"
        );
        let e = trail.last().unwrap();
        assert_eq!(e["seq"], trail.len(), "{action}");
        assert_eq!(e["action"], action);
        assert_eq!(e["on"], body["on"], "{action}");
        assert_eq!(e["state_before"], before, "{action}");
        assert_eq!(e["state_after"], after, "{action}");
        let who = if action == "extend" {
            "approver1"
        } else {
            "clerk1"
        };
        assert_eq!(e["actor"], who, "{action}");
        assert_eq!(e["payload"]["due_date_before"], due_before, "{action}");
        assert_eq!(e["payload"]["due_date_after"], r["due_date"], "{action}");
        assert!(
            s(&e["occurred_at"]) >= s(&seen.last().unwrap()["occurred_at"]),
            "{action}: in order"
        );
        seen = trail;
    }
    let seqs: Vec<i64> = seen.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(seen[3]["payload"]["days"], 10);
    assert_eq!(seen[3]["payload"]["reason"], "情况复杂");
    assert_eq!(seen[4]["payload"]["disposition"], "granted");
    assert_eq!(seen[2]["payload"]["opinion"], "consent");
    // Reading does not write.
    get_request(&app, &id).await;
    deadline(&app, &id).await;
    assert_eq!(events(&app, &id).await, seen);
}

async fn the_deadline_trace_explains_receipt_correction_pauses_extension_and_due_date(
    app: TestApp,
) {
    let st = staff(&app).await;
    let today = today(&app).await.to_string();
    // A consultation, a paid fee notice and an extension.
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "start_consultation",
        json!({"on": "2026-09-02", "party": "third_party", "whom": "某公司"}),
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "end_consultation",
        json!({"on": "2026-09-04", "opinion": "consent"}),
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "issue_fee_notice",
        json!({"on": "2026-09-07", "basis": "per_page", "pages": 31, "amount_fen": 1000}),
    )
    .await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "record_payment",
        json!({"on": "2026-09-09", "amount_fen": 1000}),
    )
    .await;
    let r = step(
        &app,
        &st.approver,
        &r,
        "extend",
        json!({"on": "2026-09-10", "days": 5, "reason": "需调取档案"}),
    )
    .await;
    let p1 = count_wd(&app, "2026-09-02", "2026-09-04").await;
    let p2 = count_wd(&app, "2026-09-07", "2026-09-09").await;
    let due = add_wd(&app, "2026-09-01", 25 + (p1 + p2) as u32).await;
    assert_eq!(r["due_date"], due.as_str());
    let d = deadline(&app, &id_of(&r)).await;
    assert_eq!(d["request_id"], r["id"]);
    assert_eq!(d["case_number"], r["case_number"]);
    assert_eq!(d["today"], today.as_str());
    assert_eq!(
        rules(&d),
        [
            "receipt",
            "clock_start.receipt",
            "reply_period",
            "pause.third_party",
            "window.consultation",
            "pause.fee_notice",
            "window.payment",
            "extension",
            "due_date"
        ]
    );
    let dl = &d["deadline"];
    assert_eq!(dl["status"], "running");
    assert_eq!(dl["receipt_date"], "2026-09-01");
    assert_eq!(dl["clock_start"], "2026-09-01");
    assert_eq!(dl["clock_start_rule"], "receipt");
    assert_eq!(dl["reply_period_days"], 20);
    assert_eq!(dl["extension_days"], 5);
    assert_eq!(dl["paused_working_days"], p1 + p2);
    assert_eq!(dl["due_date"], due.as_str());
    assert_eq!(dl["computed_due_date"], due.as_str());
    assert_eq!(dl["provisional"], false);
    assert_eq!(dl["overdue"], true);
    assert_eq!(
        dl["working_days_remaining"],
        -count_wd(&app, &due, &today).await
    );
    let steps = dl["trace"].as_array().unwrap();
    for (i, t) in steps.iter().enumerate() {
        assert_eq!(t["step"], i + 1);
        assert!(!s(&t["detail"]).is_empty());
    }
    assert_eq!(trace_step(&d, "receipt")["date"], "2026-09-01");
    let period = trace_step(&d, "reply_period");
    assert_eq!(period["working_days"], 20);
    assert_eq!(
        period["until"],
        add_wd(&app, "2026-09-01", 20).await.as_str()
    );
    let tp = trace_step(&d, "pause.third_party");
    assert_eq!(tp["date"], "2026-09-02");
    assert_eq!(tp["until"], "2026-09-04");
    assert_eq!(tp["working_days"], p1);
    assert_eq!(trace_step(&d, "pause.fee_notice")["working_days"], p2);
    let ext = trace_step(&d, "extension");
    assert_eq!(ext["working_days"], 5);
    assert_eq!(ext["date"], "2026-09-10");
    assert!(s(&ext["detail"]).contains("approver1"));
    assert_eq!(trace_step(&d, "due_date")["date"], due.as_str());

    // A correction round: the clock starts from the corrected application.
    let c = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let c = step(
        &app,
        &st.clerk,
        &c,
        "request_correction",
        json!({"on": "2026-09-03", "items": ["请明确"], "reply_by": "2026-09-17"}),
    )
    .await;
    let d = deadline(&app, &id_of(&c)).await;
    assert_eq!(rules(&d), ["receipt", "correction.requested"]);
    assert_eq!(d["deadline"]["due_date"], Value::Null);
    let c = step(
        &app,
        &st.clerk,
        &c,
        "receive_correction",
        json!({"on": "2026-09-14"}),
    )
    .await;
    let d = deadline(&app, &id_of(&c)).await;
    assert_eq!(
        rules(&d),
        [
            "receipt",
            "correction.requested",
            "clock_start.correction_received",
            "reply_period",
            "due_date"
        ]
    );
    assert_eq!(
        trace_step(&d, "correction.requested")["until"],
        "2026-09-17"
    );
    assert_eq!(
        d["deadline"]["due_date"],
        add_wd(&app, "2026-09-14", 20).await.as_str()
    );

    // An open fee notice: the due date is the latest possible one.
    let f = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let f = step(
        &app,
        &st.clerk,
        &f,
        "issue_fee_notice",
        json!({"on": "2026-09-02", "basis": "per_page", "pages": 31, "amount_fen": 1000}),
    )
    .await;
    let d = deadline(&app, &id_of(&f)).await;
    assert_eq!(
        rules(&d),
        [
            "receipt",
            "clock_start.receipt",
            "reply_period",
            "pause.fee_notice",
            "window.payment",
            "pause.open",
            "due_date"
        ]
    );
    assert_eq!(d["deadline"]["status"], "paused");
    // Open, with the applicant's receipt unknown: 3 working days of delivery and 20 to pay.
    assert_eq!(d["deadline"]["paused_working_days"], 23);
    assert_eq!(
        d["deadline"]["due_date"],
        add_wd(&app, "2026-09-01", 43).await.as_str()
    );
    assert_eq!(f["due_date"], d["deadline"]["due_date"]);
}

async fn a_calendar_change_re_times_every_application_whose_period_it_touches(app: TestApp) {
    let st = staff(&app).await;
    // A due date in a year without a holiday notice counts weekends only and is provisional.
    let open_2027 = intake(&app, &st.clerk, &handed_in("2026-11-27")).await;
    let open_2027 = step(
        &app,
        &st.approver,
        &open_2027,
        "extend",
        json!({"on": "2026-11-27", "days": 20, "reason": "年底档案集中整理"}),
    )
    .await;
    let weekends_only = add_wd(&app, "2026-11-27", 40).await;
    assert!(weekends_only.starts_with("2027-"), "{weekends_only}");
    assert_eq!(open_2027["due_date"], weekends_only.as_str());
    assert_eq!(open_2027["due_date_provisional"], true);
    let d = deadline(&app, &id_of(&open_2027)).await;
    assert_eq!(d["deadline"]["provisional"], true);
    assert_eq!(rules(&d).last().unwrap(), "provisional");
    // An open application of 2026, and one replied on its due date.
    let open_2026 = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let due_2026 = s(&open_2026["due_date"]).to_string();
    let replied = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let replied = step(&app, &st.clerk, &replied, "reply", reply_granted(&due_2026)).await;
    assert_eq!(replied["late"], false);
    // And one replied a working day after its due date: late, for now.
    let next_working_day = add_wd(&app, &due_2026, 1).await;
    let replied_late = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let replied_late = step(
        &app,
        &st.clerk,
        &replied_late,
        "reply",
        reply_granted(&next_working_day),
    )
    .await;
    assert_eq!(replied_late["late"], true);

    // The 2027 notice arrives: the provisional due date becomes final.
    let notice_2027 = json!({
        "holidays": [
            {"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"},
            {"name": "春节", "start": "2027-02-05", "end": "2027-02-11"}
        ],
        "workdays": ["2027-02-14"]
    });
    let r = app
        .put("/api/v1/calendar/2027", &st.admin, &notice_2027)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["recomputed_applications"], 1, "{}", r.text);
    let final_due = add_wd(&app, "2026-11-27", 40).await;
    assert_ne!(final_due, weekends_only, "New Year's Day moves it");
    let now = get_request(&app, &id_of(&open_2027)).await;
    assert_eq!(now["due_date"], final_due.as_str());
    assert_eq!(now["due_date_provisional"], false);
    assert_eq!(
        version_of(&now),
        version_of(&open_2027) + 1,
        "a re-timed application has a new version (its ETag changes)"
    );
    let trail = events(&app, &id_of(&open_2027)).await;
    let last = trail.last().expect("event");
    assert_eq!(last["action"], "retimed");
    assert_eq!(last["payload"]["due_date_before"], weekends_only.as_str());
    assert_eq!(last["payload"]["due_date_after"], final_due.as_str());
    let d = deadline(&app, &id_of(&open_2027)).await;
    assert_eq!(d["deadline"]["due_date"], final_due.as_str());
    assert_eq!(d["deadline"]["provisional"], false);

    // A notice changes a year in force: a day off on the old due date of the 2026 ones.
    let current = app.get("/api/v1/calendar/2026", &st.admin).await;
    let mut holidays = current.body["holidays"].as_array().unwrap().clone();
    holidays.push(json!({"name": "临时调整", "start": due_2026, "end": due_2026}));
    holidays.sort_by_key(|h| s(&h["start"]).to_string());
    let changed = json!({"holidays": holidays, "workdays": current.body["workdays"]});
    let r = app.put("/api/v1/calendar/2026", &st.admin, &changed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let moved = add_wd(&app, "2026-09-01", 20).await;
    assert!(moved > due_2026, "{moved}");
    assert_eq!(
        get_request(&app, &id_of(&open_2026)).await["due_date"],
        moved.as_str()
    );
    // Closed applications are re-timed too: due date and lateness follow the calendar in force
    // (lateness is no report cell: published figures do not move). The reply on the old due
    // date stays on time; the one a working day later is no longer late.
    assert_eq!(moved, next_working_day);
    let replied_now = get_request(&app, &id_of(&replied)).await;
    assert_eq!(replied_now["due_date"], moved.as_str());
    assert_eq!(replied_now["late"], false);
    let late_now = get_request(&app, &id_of(&replied_late)).await;
    assert_eq!(late_now["due_date"], moved.as_str());
    assert_eq!(late_now["late"], false);
    assert_eq!(late_now["workflow"]["reply"]["late"], false);
    // The list filter, the dashboard and /deadline agree.
    let late_list = app
        .get("/api/v1/requests?late=true&per_page=200", &st.admin)
        .await;
    assert!(
        late_list.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["id"] != late_now["id"])
    );
    let d = deadline(&app, &id_of(&replied_late)).await;
    assert_eq!(d["deadline"]["late"], false);
    assert_eq!(d["deadline"]["due_date"], moved.as_str());
}

// ---------------------------------------------------------------------------------------------
// Lists, masking, scoping, dashboard
// ---------------------------------------------------------------------------------------------

/// Six applications of different kinds, channels, states and dates, for the list tests.
struct ListFixture {
    /// In person 2026-09-01, 张三, resident id, processing (overdue).
    a: Value,
    /// Ordinary letter, not confirmed, a company with an external reference.
    b: Value,
    /// E-mail confirmed 2026-10-12, a research institution, processing (overdue).
    c: Value,
    /// In person 2026-01-05, 李四, never replied (overdue).
    d: Value,
    /// In person 2026-01-06, a passport holder, granted late on 2026-03-01.
    e: Value,
    /// In person today: not overdue.
    f: Value,
}

async fn list_fixture(app: &TestApp, clerk: &str) -> ListFixture {
    let a = intake(app, clerk, &handed_in("2026-09-01")).await;
    let mut b = application(
        "letter",
        "2026-09-02T10:00:00+08:00",
        organisation("commercial_enterprise", "某某科技有限公司", CREDIT),
    );
    b["external_reference"] = json!("PLATFORM-77");
    b["description"] = json!("申请公开某地块土地出让合同");
    let b = intake(app, clerk, &b).await;
    let mut c = application(
        "email",
        "2026-10-12T08:00:00+08:00",
        organisation("research_institution", "某某生态研究所", CREDIT_2),
    );
    c["confirmed_on"] = json!("2026-10-12");
    let c = intake(app, clerk, &c).await;
    let d = intake(
        app,
        clerk,
        &application(
            "in_person",
            "2026-01-05T09:00:00+08:00",
            person("李四", RID_X),
        ),
    )
    .await;
    let mut passport = person("Maria Rossi", "YA1234567");
    passport["id_document"]["type"] = json!("passport");
    let e = intake(
        app,
        clerk,
        &application("in_person", "2026-01-06T09:00:00+08:00", passport),
    )
    .await;
    let e = step(app, clerk, &e, "reply", reply_granted("2026-03-01")).await;
    let f = intake(
        app,
        clerk,
        &application(
            "in_person",
            &(app.now() - Duration::seconds(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            person("王五", RID),
        ),
    )
    .await;
    ListFixture { a, b, c, d, e, f }
}

async fn the_list_filters_sorts_and_pages_applications(app: TestApp) {
    let st = staff(&app).await;
    let ListFixture { a, b, c, d, e, f } = list_fixture(&app, &st.clerk).await;
    assert_eq!(e["late"], true);
    assert_eq!(f["overdue"], false);
    let list = |query: String| {
        let app = &app;
        let token = st.clerk.clone();
        async move { app.get(&format!("/api/v1/requests?{query}"), &token).await }
    };
    let filters: Vec<(String, BTreeSet<String>)> = vec![
        (String::new(), set(&[&a, &b, &c, &d, &e, &f])),
        ("state=processing".into(), set(&[&a, &c, &d, &f])),
        ("state=processing,closed".into(), set(&[&a, &c, &d, &e, &f])),
        ("state=awaiting_confirmation".into(), set(&[&b])),
        ("channel=letter".into(), set(&[&b])),
        ("channel=email".into(), set(&[&c])),
        ("channel=in_person".into(), set(&[&a, &d, &e, &f])),
        ("applicant_kind=research_institution".into(), set(&[&c])),
        (
            "applicant_kind=natural_person".into(),
            set(&[&a, &d, &e, &f]),
        ),
        (
            "received_from=2026-09-01&received_to=2026-10-31".into(),
            set(&[&a, &c]),
        ),
        ("received_to=2026-01-31".into(), set(&[&d, &e])),
        (
            "received_from=2026-01-06&received_to=2026-01-06".into(),
            set(&[&e]),
        ),
        ("overdue=true".into(), set(&[&a, &c, &d])),
        ("overdue=false".into(), set(&[&b, &e, &f])),
        ("channel=in_person&overdue=true".into(), set(&[&a, &d])),
        ("late=true".into(), set(&[&e])),
        ("late=false".into(), set(&[&a, &b, &c, &d, &f])),
        ("disposition=granted".into(), set(&[&e])),
        ("disposition=other.other".into(), set(&[])),
        (format!("q={}", s(&c["case_number"])), set(&[&c])),
        ("q=%E5%BC%A0%E4%B8%89".into(), set(&[&a])), // 张三
        ("q=%E7%94%9F%E6%80%81".into(), set(&[&c])), // 生态 (part of a name)
        ("q=%E5%9C%9F%E5%9C%B0".into(), set(&[&b])), // 土地 (in the description)
        ("q=%25".into(), set(&[])),                  // a literal %, not a wildcard
        ("q=ROOT-20".into(), set(&[&a, &b, &c, &d, &e, &f])),
        (format!("due_before={}", s(&a["due_date"])), set(&[&d, &e])),
        (
            format!("due_before={}", day_after(s(&a["due_date"]))),
            set(&[&a, &d, &e]),
        ),
        ("external_reference=PLATFORM-77".into(), set(&[&b])),
        ("external_reference=PLATFORM-7".into(), set(&[])),
    ];
    for (query, expected) in filters {
        let r = list(query.clone()).await;
        assert_eq!(ids(&r), expected, "?{query}");
        assert_eq!(r.body["total"], expected.len(), "?{query}");
    }

    // Sorting by receipt date, both ways (unconfirmed ones left out: no receipt date).
    let order = |r: &Resp| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect()
    };
    let ascending: Vec<String> = [&d, &e, &a, &c, &f].iter().map(|r| id_of(r)).collect();
    let r = list("state=processing,closed&sort=received".into()).await;
    assert_eq!(order(&r), ascending);
    let r = list("state=processing,closed&sort=-received".into()).await;
    let mut descending = ascending.clone();
    descending.reverse();
    assert_eq!(order(&r), descending);
    // Case numbers follow registration; the default is the newest first.
    let registered: Vec<String> = [&a, &b, &c, &d, &e, &f].iter().map(|r| id_of(r)).collect();
    assert_eq!(order(&list("sort=case_number".into()).await), registered);
    let mut newest_first = registered.clone();
    newest_first.reverse();
    assert_eq!(order(&list(String::new()).await), newest_first);

    // Paging.
    let r = list("state=processing,closed&sort=received&per_page=2&page=2".into()).await;
    assert_eq!(order(&r), ascending[2..4]);
    assert_eq!(r.body["total"], 5);
    assert_eq!(r.body["page"], 2);
    assert_eq!(r.body["per_page"], 2);
    let r = list("state=processing,closed&sort=received&per_page=2&page=3".into()).await;
    assert_eq!(order(&r), ascending[4..]);
    let r = list("state=processing,closed&sort=received&per_page=2&page=4".into()).await;
    assert_eq!(r.body["items"], json!([]));
    assert_eq!(r.body["total"], 5);
    let r = list(String::new()).await;
    assert_eq!(r.body["page"], 1);
    assert_eq!(r.body["per_page"], 50);
}

async fn lists_mask_identity_numbers_and_the_detail_shows_them_in_full(app: TestApp) {
    let st = staff(&app).await;
    let fx = list_fixture(&app, &st.clerk).await;
    let r = app.get("/api/v1/requests?per_page=200", &st.clerk).await;
    let items = r.body["items"].as_array().unwrap();
    let item = |x: &Value| items.iter().find(|i| i["id"] == x["id"]).unwrap().clone();
    assert_eq!(
        item(&fx.a)["applicant"]["id_document_number"],
        "110101********1233"
    );
    assert_eq!(
        item(&fx.d)["applicant"]["id_document_number"],
        "110105********002X"
    );
    assert_eq!(item(&fx.e)["applicant"]["id_document_number"], "Y******67");
    // Credit codes are masked too (issue 17): an individual business's (个体工商户) code
    // names a person.
    assert_eq!(
        item(&fx.b)["applicant"]["credit_code"],
        format!("{}********{}", &CREDIT[..6], &CREDIT[14..]).as_str()
    );
    assert!(!r.text.contains(CREDIT), "no full credit code in a list");
    assert!(!r.text.contains(RID), "no full identity number in a list");
    assert!(!r.text.contains(RID_X), "no full identity number in a list");
    assert!(!r.text.contains("YA1234567"));
    // Filtered lists too.
    let r = app
        .get("/api/v1/requests?q=%E5%BC%A0%E4%B8%89", &st.clerk)
        .await;
    assert!(!r.text.contains(RID));
    // The detail shows them in full.
    for (x, number) in [(&fx.a, RID), (&fx.d, RID_X), (&fx.e, "YA1234567")] {
        let g = app
            .get(&format!("/api/v1/requests/{}", id_of(x)), &st.clerk)
            .await;
        assert_eq!(g.body["applicant"]["id_document_number"], number);
    }
}

async fn bad_list_filters_answer_problem_json_naming_the_parameter(app: TestApp) {
    let st = staff(&app).await;
    for (query, status, code, field) in [
        ("state=lost", 422, "validation_failed", "state"),
        ("state=processing,lost", 422, "validation_failed", "state"),
        ("channel=pigeon", 422, "validation_failed", "channel"),
        (
            "applicant_kind=alien",
            422,
            "validation_failed",
            "applicant_kind",
        ),
        (
            "disposition=granted.fully",
            422,
            "validation_failed",
            "disposition",
        ),
        ("sort=name", 422, "validation_failed", "sort"),
        ("sort=-", 422, "validation_failed", "sort"),
        (
            "received_from=2026-10-01&received_to=2026-09-01",
            422,
            "validation_failed",
            "received_from",
        ),
        ("per_page=0", 422, "validation_failed", "per_page"),
        ("per_page=201", 422, "validation_failed", "per_page"),
        ("page=0", 422, "validation_failed", "page"),
        (
            "received_from=2026-13-01",
            400,
            "invalid_query",
            "received_from",
        ),
        ("received_to=yesterday", 400, "invalid_query", "received_to"),
        ("overdue=maybe", 400, "invalid_query", "overdue"),
        ("late=1x", 400, "invalid_query", "late"),
        ("page=two", 400, "invalid_query", "page"),
        ("agency_id=ROOT", 400, "invalid_query", "agency_id"),
        ("colour=red", 400, "invalid_query", "colour"),
    ] {
        let r = app
            .get(&format!("/api/v1/requests?{query}"), &st.clerk)
            .await;
        r.assert_problem(status, code);
        assert_eq!(r.field_errors(), [field], "?{query}: {}", r.text);
    }
    // Without a token: 401.
    let r = Resp::from(
        app.request(Method::GET, "/api/v1/requests", None)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn another_agencys_clerk_gets_404_for_everything_about_an_application(app: TestApp) {
    let st = staff(&app).await;
    let town = app.create_agency("TOWN", None).await;
    let (_, outsider) = app.create_user(&town, "town_clerk", &["clerk"]).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let id = id_of(&r);
    for path in [
        format!("/api/v1/requests/{id}"),
        format!("/api/v1/requests/{id}/events"),
        format!("/api/v1/requests/{id}/deadline"),
    ] {
        app.get(&path, &outsider)
            .await
            .assert_problem(404, "not_found");
    }
    // Acting and correcting look the same as for an unknown id, If-Match or not.
    refused(
        &app,
        &outsider,
        &r,
        "withdraw",
        json!({"on": "2026-09-02"}),
        404,
        "not_found",
    )
    .await;
    act(
        &app,
        &outsider,
        &id,
        "withdraw",
        None,
        &json!({"on": "2026-09-02"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/requests/{id}"),
        &outsider,
        &json!({"description": "篡改"}),
        Some(1),
    )
    .await
    .assert_problem(404, "not_found");
    let l = app.get("/api/v1/requests", &outsider).await;
    assert_eq!(l.body["total"], 0);
    assert_eq!(l.body["items"], json!([]));
    let l = app
        .get(
            &format!("/api/v1/requests?agency_id={}", st.root),
            &outsider,
        )
        .await;
    assert_eq!(
        l.body["total"], 0,
        "an agency filter does not widen the scope"
    );
    // The trail and the application are untouched.
    assert_eq!(get_request(&app, &id).await, r);
    assert_eq!(events(&app, &id).await.len(), 1);
    // The outsider's own applications are its own.
    let mine = intake(&app, &outsider, &handed_in("2026-09-01")).await;
    assert_eq!(mine["case_number"], "TOWN-2026-000001");
    app.get(&format!("/api/v1/requests/{}", id_of(&mine)), &st.clerk)
        .await
        .assert_problem(404, "not_found");
}

async fn a_supervisor_of_a_parent_agency_sees_applications_below_but_may_not_act(app: TestApp) {
    let st = staff(&app).await;
    let city = app.create_agency("CITY", None).await;
    let dept = app.create_agency("CITY-MZJ", Some(&city)).await;
    let (_, dept_clerk) = app.create_user(&dept, "dept_clerk", &["clerk"]).await;
    let (_, city_sup) = app.create_user(&city, "city_sup", &["supervisor"]).await;
    let (_, root_sup) = app.create_user(&st.root, "root_sup", &["supervisor"]).await;

    let at_root = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let at_dept = intake(&app, &dept_clerk, &handed_in("2026-09-02")).await;
    assert_eq!(at_dept["agency_id"], dept.as_str());
    assert_eq!(at_dept["case_number"], "CITY-MZJ-2026-000001");

    let l = app.get("/api/v1/requests", &root_sup).await;
    assert_eq!(ids(&l), set(&[&at_root, &at_dept]));
    let l = app.get("/api/v1/requests", &city_sup).await;
    assert_eq!(ids(&l), set(&[&at_dept]), "not the parent's");
    let l = app
        .get(&format!("/api/v1/requests?agency_id={dept}"), &root_sup)
        .await;
    assert_eq!(ids(&l), set(&[&at_dept]));
    // Clerks see their own agency only, not the agencies below.
    let l = app.get("/api/v1/requests", &st.clerk).await;
    assert_eq!(ids(&l), set(&[&at_root]));
    app.get(&format!("/api/v1/requests/{}", id_of(&at_dept)), &st.clerk)
        .await
        .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/requests/{}", id_of(&at_root)),
        &dept_clerk,
    )
    .await
    .assert_problem(404, "not_found");

    for sup in [&root_sup, &city_sup] {
        for path in ["", "/events", "/deadline"] {
            let r = app
                .get(&format!("/api/v1/requests/{}{path}", id_of(&at_dept)), sup)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        }
        // Supervisors read; they do not handle applications.
        refused(
            &app,
            sup,
            &at_dept,
            "withdraw",
            json!({"on": "2026-09-03"}),
            403,
            "forbidden",
        )
        .await;
        try_intake(&app, sup, &handed_in("2026-09-03"))
            .await
            .assert_problem(403, "forbidden");
    }
    let dash = app.get("/api/v1/dashboard", &root_sup).await;
    assert_eq!(dash.body["by_state"]["processing"], 2);
    let dash = app.get("/api/v1/dashboard", &city_sup).await;
    assert_eq!(dash.body["by_state"]["processing"], 1);
    let dash = app.get("/api/v1/dashboard", &st.clerk).await;
    assert_eq!(dash.body["by_state"]["processing"], 1);
}

async fn the_dashboard_counts_states_overdue_due_soon_and_late_replies(app: TestApp) {
    let st = staff(&app).await;
    let today = today(&app).await;
    let until = add_wd(&app, &today.to_string(), 3).await;
    // Overdue: received long ago, never replied.
    intake(&app, &st.clerk, &handed_in("2026-01-05")).await;
    // Replied late.
    let late = intake(&app, &st.clerk, &handed_in("2026-01-06")).await;
    step(&app, &st.clerk, &late, "reply", reply_granted("2026-03-01")).await;
    // Awaiting confirmation.
    intake(
        &app,
        &st.clerk,
        &application("fax", "2026-09-01T09:30:00+08:00", person("张三", RID)),
    )
    .await;
    // Awaiting correction: no due date, so not overdue.
    let c = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    step(
        &app,
        &st.clerk,
        &c,
        "request_correction",
        json!({"on": "2026-09-02", "items": ["请明确"], "reply_by": "2026-09-16"}),
    )
    .await;
    // Consulting and awaiting payment, received today: not overdue.
    let now = (app.now() - Duration::seconds(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let fresh = application("in_person", &now, person("王五", RID));
    let k = intake(&app, &st.clerk, &fresh).await;
    let received = s(&k["receipt_date"]).to_string();
    step(
        &app,
        &st.clerk,
        &k,
        "start_consultation",
        json!({"on": received, "party": "third_party", "whom": "某公司"}),
    )
    .await;
    let p = intake(&app, &st.clerk, &fresh).await;
    step(
        &app,
        &st.clerk,
        &p,
        "issue_fee_notice",
        json!({"on": received, "basis": "per_page", "pages": 31, "amount_fen": 1000}),
    )
    .await;
    // Due within 3 working days: received on a day whose 20th working day falls in the window.
    let mut soon = None;
    for back in 20..=60 {
        let received = (today - Duration::days(back)).to_string();
        let due = add_wd(&app, &received, 20).await;
        if due.as_str() >= today.to_string().as_str() && due <= until {
            soon = Some(received);
            break;
        }
    }
    let soon = soon.expect("a receipt date due within 3 working days");
    let r = intake(&app, &st.clerk, &handed_in(&soon)).await;
    assert_eq!(r["overdue"], false);
    // Replied late today, so counted in every year the clock may be pinned to.
    let received = (today - Duration::days(60)).to_string();
    let late_today = intake(&app, &st.clerk, &handed_in(&received)).await;
    let late_today = step(
        &app,
        &st.clerk,
        &late_today,
        "reply",
        reply_granted(&today.to_string()),
    )
    .await;
    assert_eq!(late_today["late"], true);

    let dash = app.get("/api/v1/dashboard", &st.clerk).await;
    assert_eq!(dash.status, StatusCode::OK, "{}", dash.text);
    assert_eq!(dash.body["today"], today.to_string());
    assert_eq!(
        dash.body["by_state"],
        json!({
            "awaiting_confirmation": 1,
            "processing": 2,
            "awaiting_correction": 1,
            "consulting": 1,
            "awaiting_payment": 1,
            "closed": 2,
        })
    );
    assert_eq!(dash.body["overdue"], 1);
    assert_eq!(dash.body["due_within_3_working_days"], 1);
    // The late reply of 2026-03-01 counts only when today is in 2026.
    let late_this_year = 1 + i64::from(today.year() == 2026);
    assert_eq!(dash.body["replied_late_this_year"], late_this_year);
    // The list agrees on what is overdue.
    let l = app.get("/api/v1/requests?overdue=true", &st.clerk).await;
    assert_eq!(l.body["total"], 1);

    // An agency without applications: every state listed, all zeros.
    let town = app.create_agency("TOWN", None).await;
    let (_, other) = app.create_user(&town, "town_clerk", &["clerk"]).await;
    let dash = app.get("/api/v1/dashboard", &other).await;
    assert_eq!(
        dash.body["by_state"],
        json!({
            "awaiting_confirmation": 0,
            "processing": 0,
            "awaiting_correction": 0,
            "consulting": 0,
            "awaiting_payment": 0,
            "closed": 0,
        })
    );
    assert_eq!(dash.body["overdue"], 0);
}

// ---------------------------------------------------------------------------------------------
// The applicant's public look-up
// ---------------------------------------------------------------------------------------------

async fn public_status(app: &TestApp, case_number: &str, query_code: &str) -> Resp {
    Resp::from(
        app.request(
            Method::GET,
            &format!("/api/v1/public/status?case_number={case_number}&query_code={query_code}"),
            None,
        )
        .send()
        .await
        .expect("send"),
    )
    .await
}

async fn the_public_status_shows_the_applicant_nothing_personal(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let case = s(&r["case_number"]).to_string();
    let code = s(&r["query_code"]).to_string();
    let p = public_status(&app, &case, &code).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(
        p.body,
        json!({
            "case_number": case,
            "state": "processing",
            "receipt_date": "2026-09-01",
            "due_date": r["due_date"],
            "replied_on": null,
        })
    );
    for personal in ["张三", RID, "010-65123456", "东华门", &id_of(&r)] {
        assert!(!p.text.contains(personal), "{personal} in {}", p.text);
    }
    // The code is not case-sensitive for the applicant, nor is the case number (issue 17).
    let p = public_status(&app, &case, &code.to_lowercase()).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let p = public_status(&app, &case.to_lowercase(), &code).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["case_number"], case.as_str());

    // A wrong code and an unknown case look the same.
    let rest = &code[1..];
    let wrong = if code.starts_with('A') {
        format!("B{rest}")
    } else {
        format!("A{rest}")
    };
    public_status(&app, &case, &wrong)
        .await
        .assert_problem(404, "not_found");
    public_status(&app, "ROOT-2026-999999", &code)
        .await
        .assert_problem(404, "not_found");
    let r400 = Resp::from(
        app.request(
            Method::GET,
            &format!("/api/v1/public/status?case_number={case}"),
            None,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    r400.assert_problem(400, "invalid_query");
    assert_eq!(r400.field_errors(), ["query_code"]);

    // An application awaiting confirmation, then replied.
    let u = intake(
        &app,
        &st.clerk,
        &application("online", "2026-09-01T09:30:00+08:00", person("张三", RID)),
    )
    .await;
    let p = public_status(&app, s(&u["case_number"]), s(&u["query_code"])).await;
    assert_eq!(p.body["state"], "awaiting_confirmation");
    assert_eq!(p.body["receipt_date"], Value::Null);
    assert_eq!(p.body["due_date"], Value::Null);
    let r = step(&app, &st.clerk, &r, "reply", reply_granted("2026-09-20")).await;
    let p = public_status(&app, &case, &code).await;
    assert_eq!(p.body["state"], "closed");
    assert_eq!(p.body["replied_on"], "2026-09-20");
    assert_eq!(p.body["due_date"], r["due_date"]);
    assert!(p.body.get("disposition").is_none());
}

async fn public_status_look_ups_are_limited_to_30_a_minute_per_address(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let case = s(&r["case_number"]).to_string();
    let code = s(&r["query_code"]).to_string();
    // The limit counts per clock minute: start early in one so that all look-ups share it.
    let second = app.now().timestamp() % 60;
    if second > 50 {
        let wait = u64::try_from(61 - second).unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
    let minute = app.now().timestamp() / 60;
    for i in 1..=30 {
        // Wrong codes count too: guessing is what the limit is for.
        let q = if i % 3 == 0 { "WRONGCODE9" } else { &code };
        let p = public_status(&app, &case, q).await;
        let expected = if i % 3 == 0 { 404 } else { 200 };
        assert_eq!(p.status.as_u16(), expected, "look-up {i}: {}", p.text);
    }
    let p = public_status(&app, &case, &code).await;
    assert_eq!(
        app.now().timestamp() / 60,
        minute,
        "the look-ups took longer than the test allows"
    );
    p.assert_problem(429, "too_many_requests");
    assert_eq!(p.header("retry-after"), Some("60"));
    // Staff endpoints are not limited by it.
    let g = app
        .get(&format!("/api/v1/requests/{}", id_of(&r)), &st.clerk)
        .await;
    assert_eq!(g.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Corrections of intake details; nothing half-written
// ---------------------------------------------------------------------------------------------

async fn intake_details_are_corrected_with_if_match_and_leave_an_event(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let id = id_of(&r);
    let path = format!("/api/v1/requests/{id}");

    let p = app
        .patch(
            &path,
            &st.clerk,
            &json!({"description": "申请公开2025年度某项目的环评批复及附件"}),
            Some(1),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.header("etag"), Some("\"2\""));
    assert_eq!(p.body["version"], 2);
    assert_eq!(
        p.body["description"],
        "申请公开2025年度某项目的环评批复及附件"
    );
    // What drives the clock does not change.
    for field in [
        "receipt_date",
        "due_date",
        "state",
        "case_number",
        "query_code",
        "channel",
    ] {
        assert_eq!(p.body[field], r[field], "{field}");
    }
    assert_eq!(p.body["applicant"], r["applicant"], "absent fields stay");

    let mut applicant = person("张三丰", RID_X);
    applicant["email"] = json!("zhang@example.cn");
    let p = app
        .patch(&path, &st.clerk, &json!({"applicant": applicant}), Some(2))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["applicant"]["name"], "张三丰");
    assert_eq!(p.body["applicant"]["id_document_number"], RID_X);
    assert_eq!(p.body["applicant"]["email"], "zhang@example.cn");
    assert_eq!(p.body["version"], 3);
    // The list and its search see the corrected name.
    let l = app
        .get("/api/v1/requests?q=%E5%BC%A0%E4%B8%89%E4%B8%B0", &st.clerk)
        .await;
    assert_eq!(ids(&l), set(&[&r]));

    // Corrections are validated like intake; a refusal changes nothing.
    let before = get_request(&app, &id).await;
    let mut bad = person("张三丰", "110101199003071234");
    bad["phone"] = json!("call me");
    let e = app
        .patch(&path, &st.clerk, &json!({"applicant": bad}), Some(3))
        .await;
    e.assert_problem(422, "validation_failed");
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([
            pair("applicant.id_document.number", "invalid_check_digit"),
            pair("applicant.phone", "invalid_format"),
        ])
    );
    let e = app
        .patch(
            &path,
            &st.clerk,
            &json!({"requested_form": "hologram"}),
            Some(3),
        )
        .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("requested_form", "unknown_code")])
    );
    // An external reference is unique in the agency.
    let mut other = handed_in("2026-09-01");
    other["external_reference"] = json!("GSPT-0042");
    intake(&app, &st.clerk, &other).await;
    app.patch(
        &path,
        &st.clerk,
        &json!({"external_reference": "GSPT-0042"}),
        Some(3),
    )
    .await
    .assert_problem(409, "external_reference_taken");
    // Dates are changed by actions only.
    let e = app
        .patch(
            &path,
            &st.clerk,
            &json!({"receipt_date": "2026-09-05"}),
            Some(3),
        )
        .await;
    e.assert_problem(422, "validation_failed");
    assert_eq!(get_request(&app, &id).await, before);

    let trail = events(&app, &id).await;
    assert_eq!(trail.len(), 3);
    let e = &trail[1];
    assert_eq!(e["seq"], 2);
    assert_eq!(e["action"], "intake_corrected");
    assert_eq!(e["actor"], "clerk1");
    assert_eq!(e["on"], Value::Null);
    assert_eq!(e["state_before"], "processing");
    assert_eq!(e["state_after"], "processing");
    assert_eq!(
        e["payload"]["before"]["description"],
        "申请公开2025年本机关作出的建设项目环境影响评价批复文件"
    );
    assert_eq!(
        e["payload"]["after"]["description"],
        "申请公开2025年度某项目的环评批复及附件"
    );
    assert_eq!(trail[2]["payload"]["after"]["applicant"]["name"], "张三丰");

    // A closed application's intake details are part of the record.
    let closed = step(
        &app,
        &st.clerk,
        &before,
        "withdraw",
        json!({"on": "2026-09-02"}),
    )
    .await;
    let e = app
        .patch(
            &path,
            &st.clerk,
            &json!({"description": "事后修改"}),
            Some(version_of(&closed)),
        )
        .await;
    e.assert_problem(409, "application_closed");
    assert_eq!(get_request(&app, &id).await, closed);
    assert_eq!(events(&app, &id).await.len(), 4);
}

async fn a_refused_action_changes_neither_the_application_nor_its_trail(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let r = step(
        &app,
        &st.clerk,
        &r,
        "start_consultation",
        json!({"on": "2026-09-02", "party": "third_party", "whom": "某公司"}),
    )
    .await;
    let id = id_of(&r);
    let before = get_request(&app, &id).await;
    let trail = events(&app, &id).await;
    assert_eq!(before["version"], 2);
    assert_eq!(trail.len(), 2);

    // A legal refusal, a form error, a role refusal, a date error, an unknown action.
    refused(
        &app,
        &st.clerk,
        &r,
        "end_consultation",
        json!({"on": "2026-09-03", "opinion": "no_reply"}),
        409,
        "consultation_window_not_passed",
    )
    .await;
    refused(
        &app,
        &st.clerk,
        &r,
        "end_consultation",
        json!({"on": "2026-09-03"}),
        422,
        "validation_failed",
    )
    .await;
    refused(
        &app,
        &st.clerk,
        &r,
        "extend",
        json!({"on": "2026-09-03", "days": 5, "reason": "x"}),
        403,
        "approver_required",
    )
    .await;
    refused(
        &app,
        &st.clerk,
        &r,
        "end_consultation",
        json!({"on": "2026-09-01", "opinion": "consent"}),
        422,
        "validation_failed",
    )
    .await;
    refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        reply_granted("2026-09-03"),
        409,
        "invalid_transition",
    )
    .await;
    refused(
        &app,
        &st.clerk,
        &r,
        "close",
        json!({"on": "2026-09-03"}),
        404,
        "not_found",
    )
    .await;
    // Stale and missing versions.
    act(
        &app,
        &st.clerk,
        &id,
        "end_consultation",
        Some(1),
        &json!({"on": "2026-09-03", "opinion": "consent"}),
    )
    .await
    .assert_problem(412, "version_mismatch");
    act(
        &app,
        &st.clerk,
        &id,
        "end_consultation",
        None,
        &json!({"on": "2026-09-03", "opinion": "consent"}),
    )
    .await
    .assert_problem(428, "if_match_required");
    // A refused intake correction.
    app.patch(
        &format!("/api/v1/requests/{id}"),
        &st.clerk,
        &json!({"description": ""}),
        Some(2),
    )
    .await
    .assert_problem(422, "validation_failed");

    let after = get_request(&app, &id).await;
    assert_eq!(
        after, before,
        "version, dates, workflow and updated_at as before"
    );
    assert_eq!(events(&app, &id).await, trail);
    // And the application still moves on from where it was.
    let r = step(
        &app,
        &st.clerk,
        &after,
        "end_consultation",
        json!({"on": "2026-09-03", "opinion": "consent"}),
    )
    .await;
    assert_eq!(r["version"], 3);
    assert_eq!(events(&app, &id).await.len(), 3);
}

/// Each process keeps every agency's place in the tree for its reads (issue 15): an agency moved
/// by hand in the database under another is what every process's reads judge scope by soon
/// after the commit.
async fn an_agency_moved_by_hand_reaches_the_reads_of_every_process(app: TestApp) {
    let st = staff(&app).await;
    let a = app.create_agency("A01", Some(&st.root)).await;
    let b = app.create_agency("B01", Some(&st.root)).await;
    let (_, supervisor_b) = app.create_user(&b, "supervisor.b", &["supervisor"]).await;
    let mut body = handed_in("2026-09-01");
    body["agency_id"] = json!(a);
    let created = intake(&app, &st.admin, &body).await;
    let path = format!("/api/v1/requests/{}", s(&created["id"]));
    let (base2, handle) = app.another_server().await;
    let read = |base: String| {
        let client = app.client.clone();
        let token = supervisor_b.clone();
        let url = format!("{base}{path}");
        async move {
            let r = client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("send");
            r.status()
        }
    };
    // A supervisor of B (who reads B's subtree) does not see A's application, in either
    // process, however often it asks.
    for base in [&app.base, &base2] {
        for _ in 0..3 {
            assert_eq!(read(base.clone()).await, StatusCode::NOT_FOUND);
        }
    }
    let target = gongkai::db::DbTarget::parse(&app.settings.database.url).expect("url");
    let mut conn = gongkai::db::ConnectionManager::new(target, 5000)
        .connect_once()
        .expect("connect");
    use diesel::RunQueryDsl;
    diesel::sql_query(format!(
        "UPDATE agencies SET parent_id = '{b}', \
         path = (SELECT p.path FROM agencies p WHERE p.id = '{b}') || id || '/' WHERE id = '{a}'"
    ))
    .execute(&mut conn)
    .expect("move A under B");
    for base in [&app.base, &base2] {
        let started = std::time::Instant::now();
        let mut last = read(base.clone()).await;
        while last != StatusCode::OK && started.elapsed() < std::time::Duration::from_secs(2) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            last = read(base.clone()).await;
        }
        assert_eq!(last, StatusCode::OK, "{base}, 2 s after the commit");
        for _ in 0..3 {
            assert_eq!(read(base.clone()).await, StatusCode::OK, "{base}");
        }
    }
    handle.stop(false).await;
}

/// Two server processes on one database take intakes at the same time: the case numbers of the
/// agency and year are exactly 1..=n, none twice, none skipped.
async fn two_server_processes_number_concurrent_intakes_without_gaps_or_duplicates(app: TestApp) {
    let st = staff(&app).await;
    let (base2, handle) = app.another_server().await;
    let body = handed_in("2026-09-01");
    let per_process = 12;
    let mut tasks = Vec::new();
    for i in 0..(2 * per_process) {
        let base = if i % 2 == 0 {
            app.base.clone()
        } else {
            base2.clone()
        };
        let client = app.client.clone();
        let token = st.clerk.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/requests"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), StatusCode::CREATED);
            let v: Value = r.json().await.expect("json");
            v["case_number"].as_str().expect("case number").to_string()
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.expect("task"));
    }
    numbers.sort();
    let expected: Vec<String> = (1..=2 * per_process)
        .map(|n| format!("ROOT-2026-{n:06}"))
        .collect();
    assert_eq!(numbers, expected);
    handle.stop(false).await;
}

// ---------------------------------------------------------------------------------------------
// Typed action bodies (one operation and one body type per action)
// ---------------------------------------------------------------------------------------------

/// The example the OpenAPI document offers for an action's body.
async fn documented_example(app: &TestApp, action: &str) -> Value {
    let doc = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json::<Value>()
        .await
        .expect("json");
    let op = &doc["paths"][format!("/api/v1/requests/{{id}}/actions/{action}")]["post"];
    let reference = s(&op["requestBody"]["content"]["application/json"]["schema"]["$ref"]);
    let name = reference.rsplit('/').next().expect("schema name");
    let example = doc["components"]["schemas"][name]["example"].clone();
    assert!(example.is_object(), "{action}: {name} has an example");
    example
}

/// Each action's documented example, applied to an application in the state the action
/// starts from (registered so that the example's dates fit), is accepted and stores the
/// example's values, not placeholder words.
async fn the_documented_example_of_every_action_is_accepted_as_is(app: TestApp) {
    let st = staff(&app).await;
    let received = || handed_in("2026-03-02");
    let unconfirmed = || application("online", "2026-03-02T20:00:00+08:00", person("李四", RID_X));
    let mut seen = Vec::new();
    // (action, how to reach its starting state, whether the approver acts)
    type Case<'a> = (&'a str, &'a [(&'a str, Value)], bool);
    let cases: [Case<'_>; 16] = [
        ("confirm_receipt", &[], false),
        ("request_correction", &[], false),
        (
            "receive_correction",
            &[(
                "request_correction",
                json!({"on": "2026-03-03", "items": ["写明文号"], "reply_by": "2026-03-09"}),
            )],
            false,
        ),
        ("start_consultation", &[], false),
        (
            "record_consultation_receipt",
            &[(
                "start_consultation",
                json!({"on": "2026-03-03", "party": "third_party", "whom": "某某有限公司"}),
            )],
            false,
        ),
        (
            "end_consultation",
            &[(
                "start_consultation",
                json!({"on": "2026-03-03", "party": "other_agency", "whom": "市财政局"}),
            )],
            false,
        ),
        ("issue_fee_notice", &[], false),
        (
            "record_fee_notice_receipt",
            &[(
                "issue_fee_notice",
                json!({"on": "2026-03-03", "basis": "per_page", "pages": 40, "amount_fen": 10000}),
            )],
            false,
        ),
        (
            "record_payment",
            &[(
                "issue_fee_notice",
                json!({"on": "2026-03-03", "basis": "per_page", "pages": 40, "amount_fen": 10000}),
            )],
            false,
        ),
        (
            "waive_fee",
            &[(
                "issue_fee_notice",
                json!({"on": "2026-03-03", "basis": "per_page", "pages": 40, "amount_fen": 10000}),
            )],
            false,
        ),
        ("extend", &[], true),
        ("override_deadline", &[], true),
        ("reply", &[], false),
        (
            "close_uncorrected",
            &[(
                "request_correction",
                json!({"on": "2026-03-03", "items": ["写明文号"], "reply_by": "2026-03-09"}),
            )],
            false,
        ),
        (
            "close_unpaid",
            &[(
                "issue_fee_notice",
                json!({"on": "2026-03-03", "basis": "per_page", "pages": 40, "amount_fen": 10000,
                       "received_on": "2026-03-03"}),
            )],
            false,
        ),
        ("withdraw", &[], false),
    ];
    for (action, before, approver) in cases {
        let body = if action == "confirm_receipt" {
            unconfirmed()
        } else {
            received()
        };
        let mut r = intake(&app, &st.clerk, &body).await;
        for (prior, prior_body) in before {
            r = step(&app, &st.clerk, &r, prior, prior_body.clone()).await;
        }
        let example = documented_example(&app, action).await;
        let token = if approver { &st.approver } else { &st.clerk };
        let after = step(&app, token, &r, action, example.clone()).await;
        // What the example said is what the trail recorded: no field dropped, none invented.
        let trail = events(&app, &id_of(&after)).await;
        let last = trail.last().expect("event");
        assert_eq!(last["action"], action);
        for (k, v) in example.as_object().expect("object") {
            assert_eq!(&last["payload"][k], v, "{action}: {k} recorded as sent");
        }
        assert!(
            !after.to_string().contains("\"string\""),
            "{action}: no placeholder stored: {after}"
        );
        seen.push(action);
    }
    assert_eq!(seen.len(), 16);
}

/// A body field that belongs to another action, an unknown code, or an id that is not a UUID
/// answers 422 naming the field, and nothing is written.
async fn a_field_foreign_to_the_action_an_unknown_code_or_a_bad_id_answers_422_naming_it(
    app: TestApp,
) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-03-02")).await;
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        json!({"on": "2026-03-10", "disposition": "granted", "provision": "邮寄", "days": 5}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("days", "unknown_field")])
    );
    let e = refused(
        &app,
        &st.approver,
        &r,
        "extend",
        json!({"on": "2026-03-10", "days": 5, "reason": "档案调取", "whom": "某人", "opinion": "consent"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([
            pair("whom", "unknown_field"),
            pair("opinion", "unknown_field")
        ])
    );
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        json!({"on": "2026-03-10", "disposition": "denied.nonsense", "reason": "x"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("disposition", "unknown_code")])
    );
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        json!({"on": "2026-03-10", "disposition": "not_processed.repeated", "reason": "重复申请", "repeats_request_id": "not-a-uuid"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("repeats_request_id", "invalid_value")])
    );
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "start_consultation",
        json!({"on": "2026-03-03", "party": "neighbour", "whom": "某公司"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("party", "unknown_code")])
    );
    // Every missing required field is named at once.
    let e = refused(
        &app,
        &st.approver,
        &r,
        "extend",
        json!({}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([
            pair("on", "required"),
            pair("days", "required"),
            pair("reason", "required")
        ])
    );
}

/// `repeats_request_id` names an application that exists and that the actor may see; only a
/// `not_processed.repeated` reply carries it.
async fn a_repeated_application_names_an_earlier_one_that_exists(app: TestApp) {
    let st = staff(&app).await;
    let earlier = intake(&app, &st.clerk, &handed_in("2026-03-02")).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-03-03")).await;
    let repeated = |id: &str| {
        json!({"on": "2026-03-10", "disposition": "not_processed.repeated",
               "reason": "与此前申请内容相同", "repeats_request_id": id})
    };
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        repeated("7b0c3a52-5d5e-4f0e-9a57-0d8f6c1b2a3c"),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("repeats_request_id", "unknown_request")])
    );
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        repeated(&id_of(&r)),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("repeats_request_id", "same_request")])
    );
    // Another agency's application is not one this clerk may cite.
    let other = app.create_agency("OTHER", Some(&st.root)).await;
    let (_, child_only) = app.create_user(&other, "otherclerk", &["clerk"]).await;
    let mine = intake(&app, &child_only, &handed_in("2026-03-03")).await;
    let e = refused(
        &app,
        &child_only,
        &mine,
        "reply",
        repeated(&id_of(&earlier)),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("repeats_request_id", "unknown_request")])
    );
    // A granted reply does not name an earlier application.
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        json!({"on": "2026-03-10", "disposition": "granted", "provision": "邮寄",
               "repeats_request_id": id_of(&earlier)}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("repeats_request_id", "not_allowed")])
    );
    let done = step(&app, &st.clerk, &r, "reply", repeated(&id_of(&earlier))).await;
    assert_eq!(done["disposition"], "not_processed.repeated");
    assert_eq!(
        done["workflow"]["reply"]["repeats_request_id"],
        id_of(&earlier)
    );
}

/// Runs SQL on the test's database directly (to damage a record as an old or broken release
/// might have left it).
fn execute_sql(app: &TestApp, sql: &str) {
    use diesel::connection::SimpleConnection;
    app.db_connection().batch_execute(sql).expect("sql");
}

/// A record written today without a format number (as every record before this release) and
/// with a field this release does not know still reads; one that cannot be decoded answers a
/// problem that names it, not a bare 500.
async fn a_stored_record_that_cannot_be_read_answers_a_problem_naming_it(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-03-02")).await;
    let id = id_of(&r);
    execute_sql(
        &app,
        &format!(
            "UPDATE request_documents SET workflow = REPLACE(workflow, '\"format\":1', '\"added_later\":[1]') WHERE request_id = '{id}'"
        ),
    );
    let again = get_request(&app, &id).await;
    assert_eq!(again["workflow"], r["workflow"]);
    execute_sql(
        &app,
        &format!(
            "UPDATE request_documents SET workflow = REPLACE(workflow, '\"processing\"', '\"no_such_state\"') WHERE request_id = '{id}'"
        ),
    );
    let e = app.get(&format!("/api/v1/requests/{id}"), &st.clerk).await;
    e.assert_problem(500, "stored_record_unreadable");
    assert!(
        e.body["detail"].as_str().unwrap_or("").contains(&id),
        "{}",
        e.text
    );
}

/// Art. 35's longer period is set while the reply period still runs: after the due date it
/// would erase the lateness of a reply already late (409 `due_date_passed`, as for `extend`).
async fn a_longer_period_of_art_35_is_set_only_while_the_reply_period_runs(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let due0 = s(&r["due_date"]).to_string();
    let longer = |on: &str| json!({"on": on, "due_date": "2026-12-31", "reason": "申请人短期内提出大量申请"});
    refused(
        &app,
        &st.approver,
        &r,
        "override_deadline",
        longer(&day_after(&due0)),
        409,
        "due_date_passed",
    )
    .await;
    let r = step(&app, &st.approver, &r, "override_deadline", longer(&due0)).await;
    assert_eq!(r["due_date"], "2026-12-31");
}

/// Art. 32: after a consulted third party objected, a granting reply needs the public-interest
/// reason and the written notice to the third party; without them 409
/// `third_party_objection_unanswered`. Withholding on the third party's rights needs neither.
async fn disclosure_over_a_third_partys_objection_needs_the_public_interest_and_the_notice(
    app: TestApp,
) {
    let st = staff(&app).await;
    let r = objected(&app, &st.clerk).await;
    refused(
        &app,
        &st.clerk,
        &r,
        "reply",
        json!({"on": "2026-09-15", "disposition": "granted", "provision": "邮寄"}),
        409,
        "third_party_objection_unanswered",
    )
    .await;
    let done = step(
        &app,
        &st.clerk,
        &r,
        "reply",
        json!({"on": "2026-09-15", "disposition": "granted", "provision": "邮寄",
               "objection_override": {
                   "public_interest_reason": "涉及公共安全，不公开将严重损害公共利益",
                   "notice_sent_on": "2026-09-14",
                   "disclosed": "项目环境影响评价报告全文"}}),
    )
    .await;
    let o = &done["workflow"]["reply"]["objection_override"];
    assert_eq!(o["notice_sent_on"], "2026-09-14");
    assert_eq!(o["disclosed"], "项目环境影响评价报告全文");
    // Withholding on the third party's rights is the ordinary answer to an objection.
    let r = objected(&app, &st.clerk).await;
    let done = step(
        &app,
        &st.clerk,
        &r,
        "reply",
        json!({"on": "2026-09-15", "disposition": "denied.third_party_rights",
               "reason": "涉及第三方商业秘密", "legal_basis": "《条例》第十五条"}),
    )
    .await;
    assert_eq!(done["disposition"], "denied.third_party_rights");
    // Without an objection there is nothing to override.
    let plain = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let e = refused(
        &app,
        &st.clerk,
        &plain,
        "reply",
        json!({"on": "2026-09-15", "disposition": "granted", "provision": "邮寄",
               "objection_override": {"public_interest_reason": "x",
                   "notice_sent_on": "2026-09-14", "disclosed": "y"}}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("objection_override", "no_objection_recorded")])
    );
}

/// An application whose consulted third party objected (received 2026-09-03, answered 09-10).
async fn objected(app: &TestApp, token: &str) -> Value {
    let r = intake(app, token, &handed_in("2026-09-01")).await;
    let r = step(
        app,
        token,
        &r,
        "start_consultation",
        json!({"on": "2026-09-02", "party": "third_party", "whom": "某某建设有限公司",
               "received_on": "2026-09-03"}),
    )
    .await;
    step(
        app,
        token,
        &r,
        "end_consultation",
        json!({"on": "2026-09-10", "opinion": "objection"}),
    )
    .await
}

/// Encodes a query parameter (Chinese text).
fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn search_finds_one_and_two_character_chinese_and_parts_of_case_numbers(app: TestApp) {
    let st = staff(&app).await;
    let ListFixture { a, b, c, d, e, f } = list_fixture(&app, &st.clerk).await;
    let mut g = handed_in("2026-09-03");
    g["description"] = json!("申请公开Road Map 2025中的G107改线方案");
    let g = intake(&app, &st.clerk, &g).await;
    let number = s(&c["case_number"]).to_string();
    let chars: Vec<char> = number.chars().collect();
    let middle: String = chars[chars.len() / 2 - 1..chars.len() / 2 + 2]
        .iter()
        .collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    let everyone = set(&[&a, &b, &c, &d, &e, &f, &g]);
    let by_number = |part: &str| -> BTreeSet<String> {
        [&a, &b, &c, &d, &e, &f, &g]
            .iter()
            .filter(|x| s(&x["case_number"]).contains(part))
            .map(|x| id_of(x))
            .collect()
    };
    for (q, expected) in [
        ("三", set(&[&a, &g])),
        ("张", set(&[&a, &g])),
        ("张三", set(&[&a, &g])),
        ("四", set(&[&d])),
        ("李四", set(&[&d])),
        ("三李", set(&[])),
        ("生", set(&[&c])),
        ("土地", set(&[&b])),
        ("地块土地", set(&[&b])),
        ("Road Map", set(&[&g])),
        ("G107改线", set(&[&g])),
        ("5中的G1", set(&[&g])),
        ("R", set(&[&e, &g])),
        ("Maria", set(&[&e])),
        ("ia Ro", set(&[&e])),
        (number.as_str(), set(&[&c])),
        (middle.as_str(), by_number(&middle)),
        (tail.as_str(), by_number(&tail)),
        ("-", everyone.clone()),
        ("%", set(&[])),
        ("_", set(&[])),
    ] {
        let r = app
            .get(&format!("/api/v1/requests?q={}", enc(q)), &st.clerk)
            .await;
        // Single-character queries also hit descriptions: compare with what the rows hold.
        let expected = if q.chars().count() == 1 && q != "%" && q != "_" && q != "-" {
            let all = app.get("/api/v1/requests?per_page=200", &st.clerk).await;
            all.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| {
                    s(&x["case_number"]).contains(q)
                        || s(&x["applicant"]["name"]).contains(q)
                        || s(&x["description"]).contains(q)
                })
                .map(id_of)
                .collect::<BTreeSet<_>>()
        } else {
            expected
        };
        assert_eq!(ids(&r), expected, "q={q}");
        assert_eq!(r.body["total"], expected.len(), "q={q}");
    }
}

async fn a_corrected_applicant_name_is_found_under_the_new_name_only(app: TestApp) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let path = format!("/api/v1/requests/{}", id_of(&r));
    let found = |q: &'static str| {
        let app = &app;
        let token = st.clerk.clone();
        async move {
            ids(&app
                .get(&format!("/api/v1/requests?q={}", enc(q)), &token)
                .await)
        }
    };
    assert_eq!(found("张三").await, set(&[&r]));
    let p = app
        .patch(
            &path,
            &st.clerk,
            &json!({"applicant": person("欧阳娜娜", RID)}),
            Some(1),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(found("欧阳").await, set(&[&r]));
    assert_eq!(found("娜").await, set(&[&r]));
    assert_eq!(found("张三").await, set(&[]));
    assert_eq!(found("张").await, set(&[]));
    let stored = app.query_texts(&format!(
        "SELECT search_text AS value FROM requests WHERE id = '{}'",
        id_of(&r)
    ));
    assert!(stored[0].split(' ').any(|g| g == "欧阳"), "{stored:?}");
    assert!(!stored[0].split(' ').any(|g| g == "张三"), "{stored:?}");
    if app.db == crate::helpers::Db::Sqlite {
        // The FTS5 copy was replaced, not added to.
        let copies = app.query_texts(&format!(
            "SELECT grams AS value FROM request_search WHERE request_id = '{}'",
            id_of(&r)
        ));
        assert_eq!(copies, stored);
    }
}

async fn rows_of_an_older_release_are_searched_before_and_after_their_grams_are_filled(
    app: TestApp,
) {
    let st = staff(&app).await;
    let r = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    // As a release before the search column left it.
    app.query_texts(&format!(
        "UPDATE requests SET search_text = NULL WHERE id = '{}' RETURNING id AS value",
        id_of(&r)
    ));
    let q = format!("/api/v1/requests?q={}", enc("张三"));
    assert_eq!(ids(&app.get(&q, &st.clerk).await), set(&[&r]));
    // The fill a start runs.
    app.fill_search_text();
    let stored = app.query_texts(&format!(
        "SELECT search_text AS value FROM requests WHERE id = '{}'",
        id_of(&r)
    ));
    assert!(stored[0].split(' ').any(|g| g == "张三"), "{stored:?}");
    assert_eq!(ids(&app.get(&q, &st.clerk).await), set(&[&r]));
}

async fn cursors_walk_every_sort_in_the_order_of_the_pages(app: TestApp) {
    let st = staff(&app).await;
    let fx = list_fixture(&app, &st.clerk).await;
    // Two more on the same day as `a`, so ties on the date break on the id.
    intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let order = |r: &Resp| -> Vec<String> {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect()
    };
    for sort in [
        "received",
        "-received",
        "due",
        "-due",
        "created",
        "-created",
        "case_number",
        "-case_number",
    ] {
        for filter in ["", "&channel=in_person", &format!("&q={}", enc("张三"))] {
            let all = order(
                &app.get(
                    &format!("/api/v1/requests?sort={sort}&per_page=200{filter}"),
                    &st.clerk,
                )
                .await,
            );
            let mut walked = Vec::new();
            let first = app
                .get(
                    &format!("/api/v1/requests?sort={sort}&per_page=3{filter}"),
                    &st.clerk,
                )
                .await;
            walked.extend(order(&first));
            let mut next = first.body["next_cursor"].clone();
            let mut pages = 1;
            while let Some(cursor) = next.as_str() {
                let r = app
                    .get(
                        &format!("/api/v1/requests?sort={sort}&per_page=3&cursor={cursor}{filter}"),
                        &st.clerk,
                    )
                    .await;
                walked.extend(order(&r));
                assert_eq!(r.body["page"], 1);
                next = r.body["next_cursor"].clone();
                pages += 1;
                assert!(
                    pages < 10,
                    "sort={sort}{filter}: the cursor does not advance"
                );
            }
            assert_eq!(walked, all, "sort={sort}{filter}");
            // A page number's page gives a cursor too, continuing after it.
            if all.len() > 3 {
                let p2 = app
                    .get(
                        &format!("/api/v1/requests?sort={sort}&per_page=2&page=2{filter}"),
                        &st.clerk,
                    )
                    .await;
                let cursor = s(&p2.body["next_cursor"]).to_string();
                let p3 = app
                    .get(
                        &format!("/api/v1/requests?sort={sort}&per_page=2&cursor={cursor}{filter}"),
                        &st.clerk,
                    )
                    .await;
                let expected: Vec<String> = all.iter().skip(4).take(2).cloned().collect();
                assert_eq!(order(&p3), expected, "sort={sort}{filter}");
            }
        }
    }
    // The last page says so.
    let r = app.get("/api/v1/requests?per_page=200", &st.clerk).await;
    assert_eq!(r.body["next_cursor"], Value::Null);
    let _ = fx;
}

async fn bad_cursors_and_totals_answer_problem_json_with_stable_codes(app: TestApp) {
    let st = staff(&app).await;
    for _ in 0..3 {
        intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    }
    let r = app
        .get("/api/v1/requests?sort=received&per_page=1", &st.clerk)
        .await;
    let cursor = s(&r.body["next_cursor"]).to_string();
    let r = app
        .get(
            &format!("/api/v1/requests?sort=-received&per_page=1&cursor={cursor}"),
            &st.clerk,
        )
        .await;
    r.assert_problem(400, "cursor_sort_mismatch");
    let r = app
        .get(
            &format!("/api/v1/requests?sort=due&per_page=1&cursor={cursor}"),
            &st.clerk,
        )
        .await;
    r.assert_problem(400, "cursor_sort_mismatch");
    use base64::Engine as _;
    let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    for bad in [
        "not-a-cursor".to_string(),
        "%25%25".to_string(),
        b64("[1,2]"),
        b64(r#"{"s":"received","v":"yesterday","i":"x"}"#),
        b64(r#"{"s":"received","v":"2026-09-01","i":""}"#),
        b64(r#"{"s":"received","v":"2026-02-30","i":"x"}"#),
    ] {
        let r = app
            .get(
                &format!("/api/v1/requests?sort=received&cursor={bad}"),
                &st.clerk,
            )
            .await;
        r.assert_problem(400, "invalid_cursor");
    }
    let r = app
        .get(
            &format!("/api/v1/requests?sort=received&page=2&cursor={cursor}"),
            &st.clerk,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.field_errors(), vec!["page".to_string()]);
    let r = app.get("/api/v1/requests?total=some", &st.clerk).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.field_errors(), vec!["total".to_string()]);
}

async fn the_total_is_exact_estimated_or_left_out_as_asked(app: TestApp) {
    let st = staff(&app).await;
    for _ in 0..3 {
        intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    }
    let r = app.get("/api/v1/requests?per_page=1", &st.clerk).await;
    assert_eq!(r.body["total"], 3);
    assert_eq!(r.body["total_kind"], "exact");
    let r = app
        .get("/api/v1/requests?per_page=1&total=exact", &st.clerk)
        .await;
    assert_eq!(r.body["total"], 3);
    assert_eq!(r.body["total_kind"], "exact");
    let r = app
        .get("/api/v1/requests?per_page=1&total=none", &st.clerk)
        .await;
    assert_eq!(r.body["total"], Value::Null);
    assert_eq!(r.body["total_kind"], "none");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app
        .get("/api/v1/requests?per_page=1&total=estimate", &st.clerk)
        .await;
    let kind = s(&r.body["total_kind"]);
    match app.db {
        crate::helpers::Db::Postgres => assert_eq!(kind, "estimate"),
        crate::helpers::Db::Sqlite => assert_eq!(kind, "exact"),
    }
    // Never below the rows the page has seen.
    assert!(r.body["total"].as_i64().unwrap() >= 2, "{}", r.text);
    // A last page knows the total from its own rows: exact even when an estimate is asked.
    for query in [
        "per_page=50&total=estimate",
        "per_page=2&page=2&total=estimate",
    ] {
        let r = app
            .get(&format!("/api/v1/requests?{query}"), &st.clerk)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["total"], 3, "{query}: {}", r.text);
        assert_eq!(r.body["total_kind"], "exact", "{query}: {}", r.text);
    }
    // A page past the end does not know how many rows came before it: counted.
    let r = app
        .get("/api/v1/requests?per_page=2&page=5", &st.clerk)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{}", r.text);
    assert_eq!(r.body["total"], 3, "{}", r.text);
    assert_eq!(r.body["total_kind"], "exact", "{}", r.text);
}

/// Copies the application `id` `n` times in the database (fresh ids, case numbers and
/// sequence numbers; no external reference): a history larger than intake through the API
/// could build in a test.
fn copy_application(app: &TestApp, id: &str, n: i64) {
    use diesel::connection::SimpleConnection;
    let columns = app.query_texts(match app.db {
        crate::helpers::Db::Postgres => {
            "SELECT column_name::text AS value FROM information_schema.columns \
             WHERE table_name = 'requests' AND table_schema = current_schema() \
             ORDER BY ordinal_position"
        }
        crate::helpers::Db::Sqlite => "SELECT name AS value FROM pragma_table_info('requests')",
    });
    // The copies' ids stay UUIDs: the original's first 24 characters and the copy's number
    // as the last group.
    let copy_id = |column: &str| match app.db {
        crate::helpers::Db::Postgres => format!("left({column}, 24) || lpad(to_hex(g.n), 12, '0')"),
        crate::helpers::Db::Sqlite => format!("substr({column}, 1, 24) || printf('%012x', g.n)"),
    };
    let values: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            "id" => copy_id("r.id"),
            "case_number" => format!("r.{c} || '-' || g.n"),
            // Clear of the numbers the agency's counter gives later intakes.
            "case_seq" => "r.case_seq * 1000000 + g.n".to_string(),
            "external_reference" => "NULL".to_string(),
            c => format!("r.{c}"),
        })
        .collect();
    let sql = format!(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {n}) \
         INSERT INTO requests ({}) SELECT {} FROM requests r, g WHERE r.id = '{id}';\n\
         WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {n}) \
         INSERT INTO request_documents (request_id, details, workflow) \
         SELECT {}, d.details, d.workflow \
         FROM request_documents d, g WHERE d.request_id = '{id}';{}",
        columns.join(", "),
        values.join(", "),
        copy_id("d.request_id"),
        // The planner's estimate of the large result needs the statistics of the copies.
        match app.db {
            crate::helpers::Db::Postgres => "\nANALYZE requests, request_documents;",
            crate::helpers::Db::Sqlite => "",
        },
    );
    app.db_connection()
        .batch_execute(&sql)
        .expect("copy the application");
}

async fn a_large_results_default_total_is_bounded_on_both_databases(app: TestApp) {
    let st = staff(&app).await;
    let first = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    copy_application(&app, &id_of(&first), 10_003);
    let all = 10_004;
    // Counted, as asked.
    let r = app
        .get("/api/v1/requests?per_page=1&total=exact", &st.clerk)
        .await;
    assert_eq!(r.body["total"], all, "{}", r.text);
    assert_eq!(r.body["total_kind"], "exact");
    // By default, and when an estimate is asked, more than 10,000 matches are not all
    // counted: PostgreSQL gives its planner's estimate, SQLite (no planner estimate) the
    // capped count of 10,001 as a lower bound.
    // `at_least`: SQLite's total, exactly the bound given; PostgreSQL's estimate, at least it.
    let large = |r: &Resp, at_least: i64| {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let total = r.body["total"].as_i64().expect("total");
        match app.db {
            crate::helpers::Db::Postgres => {
                assert_eq!(r.body["total_kind"], "estimate", "{}", r.text);
                assert!(total >= at_least, "{}", r.text);
            }
            crate::helpers::Db::Sqlite => {
                assert_eq!(r.body["total_kind"], "at_least", "{}", r.text);
                assert_eq!(total, at_least, "{}", r.text);
            }
        }
    };
    for query in ["per_page=1", "per_page=1&total=estimate"] {
        let r = app
            .get(&format!("/api/v1/requests?{query}"), &st.clerk)
            .await;
        large(&r, 10_001);
    }
    // Never below the rows a deep page has seen (10,002 skipped, one shown, one after it):
    // here all of them, though only 10,001 are counted.
    let r = app
        .get("/api/v1/requests?per_page=1&page=10003", &st.clerk)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
    large(&r, 10_004);
    // A small result is counted exactly by default on both.
    let r = app
        .get("/api/v1/requests?per_page=1&state=closed", &st.clerk)
        .await;
    assert_eq!(r.body["total"], 0, "{}", r.text);
    assert_eq!(r.body["total_kind"], "exact", "{}", r.text);
}

/// SQLite reads a search's matches when they are few (up to 5,000) and walks the sort's index
/// checking each row when they are many (`db::requests::SearchDrive`); PostgreSQL plans
/// itself. The answers must be the same, rows awaiting their grams included.
async fn a_search_finds_the_same_rows_whether_its_matches_are_few_or_many(app: TestApp) {
    let st = staff(&app).await;
    let many = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    copy_application(&app, &id_of(&many), 5_000);
    let mut few = handed_in("2026-09-02");
    few["applicant"]["name"] = json!("司马懿");
    let few = intake(&app, &st.clerk, &few).await;
    // The newest of the 张三 applications, first in the default order (newest first).
    let newest = intake(&app, &st.clerk, &handed_in("2026-09-03")).await;
    // One of each as a release before the search column left them.
    let awaiting = app.query_texts(&format!(
        "UPDATE requests SET search_text = NULL WHERE id = '{}' OR case_number = '{}-7' \
         RETURNING id AS value",
        id_of(&few),
        s(&many["case_number"]),
    ));
    assert_eq!(awaiting.len(), 2, "{awaiting:?}");
    for round in ["awaiting grams", "grams filled"] {
        let r = app
            .get(
                &format!("/api/v1/requests?q={}&per_page=3&total=exact", enc("张三")),
                &st.clerk,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{round}: {}", r.text);
        assert_eq!(r.body["total"], 5_002, "{round}: {}", r.text);
        assert_eq!(
            r.body["items"][0]["id"], newest["id"],
            "{round}: {}",
            r.text
        );
        for item in r.body["items"].as_array().unwrap() {
            assert_eq!(item["applicant"]["name"], "张三", "{round}: {}", r.text);
        }
        // Every page by cursor (SQLite walks the sort's index for so many matches): all 5,002
        // rows, once each, the copy awaiting its grams among them.
        let seen = every_page(
            &app,
            &format!("/api/v1/requests?q={}&per_page=200&total=none", enc("张三")),
            &st.clerk,
        )
        .await;
        assert_eq!(seen.len(), 5_002, "{round}");
        assert!(seen.contains(&awaiting_copy(&awaiting, &few)), "{round}");
        // The same copy found by a search of few matches.
        let pending = format!(
            "/api/v1/requests?q={}",
            enc(&format!("{}-7", s(&many["case_number"])))
        );
        assert!(
            ids(&app.get(&pending, &st.clerk).await).contains(&awaiting_copy(&awaiting, &few)),
            "{round}"
        );
        for (q, expected) in [
            ("司马", set(&[&few])),
            ("司马懿", set(&[&few])),
            ("懿", set(&[&few])),
            ("马司", set(&[])),
        ] {
            let r = app
                .get(&format!("/api/v1/requests?q={}", enc(q)), &st.clerk)
                .await;
            assert_eq!(ids(&r), expected, "{round}, q={q}: {}", r.text);
            assert_eq!(r.body["total_kind"], "exact", "{round}, q={q}: {}", r.text);
            assert_eq!(
                r.body["total"],
                expected.len(),
                "{round}, q={q}: {}",
                r.text
            );
        }
        // A search and another filter.
        let r = app
            .get(
                &format!(
                    "/api/v1/requests?q={}&state=closed&total=exact",
                    enc("张三")
                ),
                &st.clerk,
            )
            .await;
        assert_eq!(r.body["total"], 0, "{round}: {}", r.text);
        // Many matches by default and exactly (on SQLite counted from the FTS5 matches joined
        // to the rows, the awaiting ones beside them; by default exact below 10,000, where
        // PostgreSQL may estimate). A longer text is rechecked on the columns, in the count
        // too: `02025` holds grams every row has (02, 20, 25 of the description's `2025`) and
        // is in none (the case numbers read `ROOT-2026-000001-2025`).
        for (q, matches) in [("张三", 5_002), ("环境影响", 5_003), ("02025", 0)] {
            for total in ["", "&total=exact"] {
                let r = app
                    .get(
                        &format!("/api/v1/requests?q={}&per_page=2{total}", enc(q)),
                        &st.clerk,
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{round}, q={q}: {}", r.text);
                assert_eq!(ids(&r).len(), matches.min(2), "{round}, q={q}: {}", r.text);
                if total.is_empty() && app.db == crate::helpers::Db::Postgres {
                    let kind = r.body["total_kind"].as_str();
                    assert!(
                        matches!(kind, Some("exact" | "estimate")),
                        "{round}, q={q}: {}",
                        r.text
                    );
                    if kind == Some("estimate") {
                        continue;
                    }
                }
                assert_eq!(
                    r.body["total"], matches,
                    "{round}, q={q}{total}: {}",
                    r.text
                );
                assert_eq!(
                    r.body["total_kind"], "exact",
                    "{round}, q={q}{total}: {}",
                    r.text
                );
            }
            // With a filter that none of them meets (all are open).
            let r = app
                .get(
                    &format!("/api/v1/requests?q={}&state=closed&total=exact", enc(q)),
                    &st.clerk,
                )
                .await;
            assert_eq!(r.body["total"], 0, "{round}, q={q}: {}", r.text);
        }
        app.fill_search_text();
    }
}

/// A search of many matches with another filter (`db::requests::SearchDrive`): on SQLite a
/// filter of at most 20,000 rows is read by its own index, each row's columns checked
/// (`Filtered`); one of more walks the sort's index (`Walk`), its default total estimated when
/// those rows are fewer than the matches, else counted by the matches. Each finds every row
/// once, the rows awaiting their grams among them, with its exact total.
async fn a_search_of_many_matches_with_a_filter_of_few_or_many_rows_finds_each_once(app: TestApp) {
    let st = staff(&app).await;
    let many = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    copy_application(&app, &id_of(&many), 21_000);
    // Another applicant's application: in the filter, not a match.
    let mut other = handed_in("2026-09-02");
    other["applicant"]["name"] = json!("司马懿");
    let other = intake(&app, &st.clerk, &other).await;
    let open = s(&many["state"]).to_string();
    let cn = s(&many["case_number"]).to_string();
    // Three copies closed; one of them and one open copy awaiting their grams.
    let closed = app.query_texts(&format!(
        "UPDATE requests SET state = 'closed' \
         WHERE case_number IN ('{cn}-7', '{cn}-8', '{cn}-9') RETURNING id AS value"
    ));
    assert_eq!(closed.len(), 3, "{closed:?}");
    let awaiting = app.query_texts(&format!(
        "UPDATE requests SET search_text = NULL \
         WHERE case_number IN ('{cn}-9', '{cn}-10') RETURNING id AS value"
    ));
    assert_eq!(awaiting.len(), 2, "{awaiting:?}");
    let closed: BTreeSet<String> = closed.into_iter().collect();
    for total in ["", "&total=exact"] {
        let r = app
            .get(
                &format!("/api/v1/requests?q={}&state=closed{total}", enc("张三")),
                &st.clerk,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(ids(&r), closed, "{total}: {}", r.text);
        assert_eq!(r.body["total"], 3, "{total}: {}", r.text);
        assert_eq!(r.body["total_kind"], "exact", "{total}: {}", r.text);
    }
    // The open ones: 21,001 less the three closed. Their filter holds 20,999 rows with the
    // other applicant's, as many as the matches (21,001 less the two awaiting), then 21,099.
    for round in ["as many rows as matches", "more rows than matches"] {
        if round == "more rows than matches" {
            copy_application(&app, &id_of(&other), 100);
        }
        for total in ["", "&total=exact"] {
            let r = app
                .get(
                    &format!(
                        "/api/v1/requests?q={}&state={open}&per_page=1{total}",
                        enc("张三")
                    ),
                    &st.clerk,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{round}: {}", r.text);
            if total.is_empty() {
                // Beyond 10,000 on SQLite, at least what was counted, or (the filter's rows
                // fewer than the matches) estimated; PostgreSQL may estimate.
                let kind = r.body["total_kind"].as_str();
                assert!(
                    matches!(kind, Some("at_least" | "estimate")),
                    "{round}: {}",
                    r.text
                );
                if app.db == crate::helpers::Db::Sqlite {
                    let shown = r.body["total"].as_i64().unwrap_or_default();
                    assert!((10_001..=42_000).contains(&shown), "{round}: {}", r.text);
                    let expected = if round == "more rows than matches" {
                        "at_least"
                    } else {
                        "estimate"
                    };
                    assert_eq!(kind, Some(expected), "{round}: {}", r.text);
                }
            } else {
                assert_eq!(r.body["total"], 20_998, "{round}: {}", r.text);
                assert_eq!(r.body["total_kind"], "exact", "{round}: {}", r.text);
            }
        }
        let seen = every_page(
            &app,
            &format!(
                "/api/v1/requests?q={}&state={open}&per_page=200&total=none",
                enc("张三")
            ),
            &st.clerk,
        )
        .await;
        assert!(
            seen.is_disjoint(&closed),
            "{round}: a closed row among the open"
        );
        assert_eq!(seen.len(), 20_998, "{round}");
        assert!(!seen.contains(&id_of(&other)), "{round}");
        assert!(
            awaiting
                .iter()
                .all(|id| seen.contains(id) || closed.contains(id)),
            "{round}"
        );
    }
}

/// Of the two rows set awaiting their grams, the copy (not `few`).
fn awaiting_copy(awaiting: &[String], few: &Value) -> String {
    awaiting
        .iter()
        .find(|id| **id != id_of(few))
        .expect("the copy")
        .clone()
}

async fn the_search_is_answered_by_its_index_on_postgresql(app: TestApp) {
    use diesel::connection::SimpleConnection;
    let st = staff(&app).await;
    intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    if app.db != crate::helpers::Db::Postgres {
        return;
    }
    let mut conn = app.db_connection();
    // A table of one row is read whole by any sensible plan: forbid that to show which index
    // answers the search (bench/lists.sh shows the plan over 1,000,000 rows).
    conn.batch_execute("SET enable_seqscan = off").unwrap();
    for q in ["张", "张三", "2026-0", "Road Map"] {
        let filter = gongkai::domain::request::ListFilter {
            q: Some(q.to_string()),
            ..Default::default()
        };
        let plan = gongkai::db::requests::explain_list(
            &mut conn,
            &filter,
            (gongkai::domain::request::SortKey::Created, true),
            50,
        )
        .unwrap();
        assert!(plan.contains("requests_search"), "q={q}:\n{plan}");
    }
    // One or two ideographs are their gram alone: the `LIKE` recheck (`~~`) only for rows
    // without grams (`search_text IS NULL AND …`), where a conjunction with it would make the
    // planner expect a hundredth of the matches. Longer or cased queries recheck every row.
    let plan_of = |conn: &mut gongkai::db::DbConnection, q: &str| {
        let filter = gongkai::domain::request::ListFilter {
            q: Some(q.to_string()),
            ..Default::default()
        };
        gongkai::db::requests::explain_list(
            conn,
            &filter,
            (gongkai::domain::request::SortKey::Created, true),
            50,
        )
        .unwrap()
    };
    for (q, exact) in [
        ("张", true),
        ("张三", true),
        ("张三丰", false),
        ("R", false),
    ] {
        let plan = plan_of(&mut conn, q);
        assert!(plan.contains("~~"), "q={q}:\n{plan}");
        assert_eq!(
            plan.contains("(search_text IS NULL) AND ("),
            exact,
            "q={q}:\n{plan}"
        );
    }
}

/// SQLite counts a search of many matches (walked, `db::requests::SearchDrive`) from its FTS5
/// matches, streamed and joined to the rows by id: never a scan of the table, and never the
/// list of every match first (`IN (SELECT … MATCH …)`); the rows awaiting their grams beside
/// them by their own partial index.
async fn a_walked_search_on_sqlite_counts_from_its_fts5_matches(app: TestApp) {
    let st = staff(&app).await;
    intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let mut conn = app.db_connection();
    // Without another filter over every agency, a text of exact grams is counted from FTS5
    // alone (no row looked up); with one, or a longer text, each match's row is found by id.
    for (q, processing) in [
        ("张三", false),
        ("张三", true),
        ("环境影响", false),
        ("环境影响", true),
    ] {
        let filter = gongkai::domain::request::ListFilter {
            q: Some(q.to_string()),
            states: if processing {
                vec![gongkai::domain::request::State::Processing]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let plan = gongkai::db::requests::explain_search_total(&mut conn, &filter).unwrap();
        if app.db == crate::helpers::Db::Postgres {
            assert_eq!(plan, "", "q={q}");
            continue;
        }
        let lines: Vec<&str> = plan.lines().map(str::trim).collect();
        let fts = lines
            .iter()
            .position(|l| l.starts_with("SCAN request_search VIRTUAL TABLE"))
            .unwrap_or_else(|| panic!("q={q}: the FTS5 matches drive the count:\n{plan}"));
        // The matches' part ends where the part of the rows awaiting their grams begins.
        let awaiting = lines
            .iter()
            .rposition(|l| l.starts_with("SCALAR SUBQUERY"))
            .unwrap_or_else(|| panic!("q={q}: two parts:\n{plan}"));
        assert!(fts < awaiting, "q={q}: the matches first:\n{plan}");
        let row = lines[..awaiting].iter().position(|l| {
            l.starts_with("SEARCH requests USING INDEX sqlite_autoindex_requests_1 (id=?)")
        });
        // The rows awaiting their grams are found by their partial index, whatever the other
        // filters (never by a filter's index: `state=closed` read most of the table).
        assert!(
            lines[awaiting..]
                .iter()
                .any(|l| l.starts_with("SCAN w USING INDEX requests_search_pending")),
            "q={q}: the rows awaiting their grams by their index:\n{plan}"
        );
        if q == "张三" && !processing {
            assert_eq!(row, None, "q={q}: FTS5 alone:\n{plan}");
        } else {
            let row = row.unwrap_or_else(|| panic!("q={q}: each row found by its id:\n{plan}"));
            assert!(
                fts < row,
                "q={q}: the matches outside, the rows inside:\n{plan}"
            );
        }
        assert!(
            !lines
                .iter()
                .any(|l| *l == "SCAN requests" || l.contains("LIST SUBQUERY")),
            "q={q}: no scan of the table, no list of the matches:\n{plan}"
        );
    }
}

/// A letter with a combining mark (Devanagari, Tibetan, Thai) is not a gram of its own in
/// SQLite's FTS5, so such a query is rechecked on the columns: `का` does not find `कि`.
async fn a_search_with_a_combining_mark_finds_only_what_contains_it(app: TestApp) {
    let st = staff(&app).await;
    let mut body = handed_in("2026-09-01");
    body["description"] = json!("申请公开कि卷宗");
    let r = intake(&app, &st.clerk, &body).await;
    for (q, found) in [("कि", true), ("का", false), ("ि", true), ("ा", false)] {
        let got = ids(&app
            .get(&format!("/api/v1/requests?q={}", enc(q)), &st.clerk)
            .await);
        let expected = if found { set(&[&r]) } else { set(&[]) };
        assert_eq!(got, expected, "q={q}");
    }
}

/// Issue 17: a date before the first Regulation took effect (2008-05-01), or beyond the
/// calendar, is refused with 422 naming the field — at intake, in a step (confirming an email
/// dated 1900, a letter signed for in 1900), in an import line — and nothing is written.
async fn dates_before_the_regulation_answer_422_naming_the_field_on_every_path(app: TestApp) {
    let st = staff(&app).await;
    for (arrived, code) in [
        ("1949-10-01T09:30:00+08:00", "before_regulation"),
        ("1900-01-01T09:30:00+08:00", "before_regulation"),
        ("2008-04-30T09:30:00+08:00", "before_regulation"),
        ("2200-01-01T09:30:00+08:00", "beyond_calendar"),
    ] {
        let r = try_intake(
            &app,
            &st.clerk,
            &application("in_person", arrived, person("张三", RID)),
        )
        .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(
            field_codes(&r),
            BTreeSet::from([pair("arrived_at", code)]),
            "{arrived}"
        );
    }
    // A letter signed for in 1900.
    let mut letter = application("letter", "2026-09-01T10:00:00+08:00", person("张三", RID));
    letter["signed_for_on"] = json!("1900-01-02");
    let r = try_intake(&app, &st.clerk, &letter).await;
    assert_eq!(
        field_codes(&r),
        BTreeSet::from([pair("signed_for_on", "before_regulation")])
    );
    let list = app.get("/api/v1/requests", &st.admin).await;
    assert_eq!(
        list.body["items"].as_array().map(Vec::len),
        Some(0),
        "nothing was registered"
    );
    // In a filter too; but `q` is free text, a date in it is a search.
    let r = app
        .get("/api/v1/requests?received_from=1900-01-01", &st.admin)
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        field_codes(&r),
        BTreeSet::from([pair("received_from", "before_regulation")])
    );
    let r = app.get("/api/v1/requests?q=2007-01-01", &st.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // An email accepted, then confirmed with a date of 1900.
    let r = intake(
        &app,
        &st.clerk,
        &application("email", "2026-09-01T20:00:00+08:00", person("张三", RID)),
    )
    .await;
    let e = refused(
        &app,
        &st.clerk,
        &r,
        "confirm_receipt",
        json!({"on": "1900-01-01"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&e),
        BTreeSet::from([pair("on", "before_regulation")])
    );

    // An import line dated 1900: the import is refused, naming the line and the field.
    let line = json!({
        "channel": "in_person",
        "arrived_at": "1900-03-01T09:00:00+08:00",
        "applicant": person("李四", RID),
        "description": "申请公开某年度预算执行情况",
    });
    let r = Resp::from(
        app.request(Method::POST, "/api/v1/import/requests", Some(&st.admin))
            .header("Content-Type", "application/x-ndjson")
            .body(format!("{line}\n"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("before_regulation"), "{}", r.text);
    assert!(r.text.contains("arrived_at"), "{}", r.text);
}

/// Issue 17: a name typed with a combining accent is stored precomposed (NFC), so a search
/// typed either way finds it.
async fn names_are_stored_in_nfc_and_found_however_they_were_typed(app: TestApp) {
    let st = staff(&app).await;
    let decomposed = "Jose\u{301} Garci\u{301}a";
    let composed = "Jos\u{e9} Garc\u{ed}a";
    let r = intake(
        &app,
        &st.clerk,
        &application(
            "in_person",
            "2026-09-01T09:30:00+08:00",
            json!({"kind": "natural_person", "name": decomposed,
                   "id_document": {"type": "passport", "number": "E12345678"},
                   "phone": "010-65123456"}),
        ),
    )
    .await;
    assert_eq!(r["applicant"]["name"], composed);
    for q in [composed, decomposed] {
        let list = app
            .client
            .get(app.url("/api/v1/requests"))
            .bearer_auth(&st.clerk)
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        let body: Value = list.json().await.unwrap();
        assert_eq!(
            body["items"].as_array().map(Vec::len),
            Some(1),
            "q={q:?}: {body}"
        );
    }
}

/// Issue 17: credit codes are masked in lists like identity numbers, and a corrected identity
/// number does not stay in full in the trail.
async fn lists_mask_credit_codes_and_the_trail_keeps_no_corrected_number_in_full(app: TestApp) {
    let st = staff(&app).await;
    let org = intake(
        &app,
        &st.clerk,
        &application(
            "in_person",
            "2026-09-01T09:30:00+08:00",
            organisation(
                "commercial_enterprise",
                "某某科技有限公司",
                "91350100M000100Y43",
            ),
        ),
    )
    .await;
    assert_eq!(
        org["applicant"]["credit_code"], "91350100M000100Y43",
        "the detail shows it"
    );
    let list = app.get("/api/v1/requests", &st.clerk).await;
    let item = &list.body["items"][0];
    assert_eq!(item["applicant"]["credit_code"], "913501********0Y43");
    assert!(!list.text.contains("91350100M000100Y43"), "{}", list.text);

    let person_app = intake(&app, &st.clerk, &handed_in("2026-09-01")).await;
    let fixed = "11010519491231002X";
    let applicant = person("张三", fixed);
    let r = Resp::from(
        app.request(
            Method::PATCH,
            &format!("/api/v1/requests/{}", id_of(&person_app)),
            Some(&st.clerk),
        )
        .header("If-Match", format!("\"{}\"", version_of(&person_app)))
        .json(&json!({"applicant": applicant}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let trail = app
        .get(
            &format!("/api/v1/requests/{}/events", id_of(&person_app)),
            &st.clerk,
        )
        .await;
    assert!(
        !trail.text.contains(RID),
        "the old number in full: {}",
        trail.text
    );
    assert!(
        !trail.text.contains(fixed),
        "the new number in full: {}",
        trail.text
    );
    assert!(trail.text.contains("intake_corrected"), "{}", trail.text);
}
