//! Administrative review (行政复议) and litigation (行政诉讼) records (domain.md §8) through
//! HTTP: the outcome derived from every decision type, the filing limits as information (60
//! days, 6 months, 15 days; a last day on a holiday moves to the next working day), recording a
//! decision later, corrections of decided cases with their audit history, optimistic locking,
//! agency scoping, list filters and paging, and the cases shown on an application's detail.
//!
//! Moved deadlines are checked against the calendar API (`/calendar/working-days/add` with
//! `days=0`: the date itself when it is a working day, else the next working day).

use std::collections::BTreeSet;

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    a_review_and_a_lawsuit_are_recorded_for_the_callers_agency_and_read_back,
    every_decision_type_maps_to_its_outcome_and_a_court_does_not_uphold,
    a_review_runs_60_days_from_the_reply_and_a_last_day_in_national_day_moves,
    a_direct_suit_runs_6_months_and_a_suit_after_review_15_days_from_the_decision,
    a_suit_after_review_needs_a_decided_review_of_the_same_agency,
    bad_cases_answer_problem_json_listing_every_field_and_record_nothing,
    a_decision_is_recorded_later_with_if_match_and_a_decided_case_only_through_a_correction,
    a_lawsuit_records_its_latest_instance_and_is_corrected_like_a_review,
    another_agencys_cases_answer_404_and_lists_keep_to_the_callers_scope,
    lists_filter_by_outcome_pending_dates_request_and_route_and_page,
    the_application_detail_shows_its_reviews_and_lawsuits,
    a_review_takes_no_route_instance_or_review_id,
    correcting_a_reviews_decision_date_re_measures_the_suits_after_it,
    the_replys_service_recorded_later_re_measures_the_cases_against_it,
    a_suit_after_review_runs_from_the_decisions_service_recorded_without_a_correction,
    a_direct_suit_against_a_refusal_since_2024_is_recorded_with_a_review_first_warning,
);
// ---------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------

const REVIEWS: &str = "/api/v1/reviews";
const SUITS: &str = "/api/v1/litigations";

/// A valid resident identity card number (GB 11643 check character).
const RID: &str = "110101199003071233";

/// Every decision type of domain.md §8 with the outcome the report counts.
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

struct Staff {
    clerk: String,
    admin: String,
    root: String,
}

async fn staff(app: &TestApp) -> Staff {
    let root = app.root_agency_id().await;
    let (_, clerk) = app.create_user(&root, "clerk1", &["clerk"]).await;
    Staff {
        clerk,
        admin: app.admin_token().await,
        root,
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn id_of(v: &Value) -> String {
    s(&v["id"]).to_string()
}

fn version_of(v: &Value) -> i64 {
    v["version"].as_i64().expect("version")
}

/// `base` with the fields of `extra` added or replaced.
fn with(mut base: Value, extra: Value) -> Value {
    let obj = base.as_object_mut().expect("object");
    for (k, v) in extra.as_object().expect("object") {
        obj.insert(k.clone(), v.clone());
    }
    base
}

fn review(filed_on: &str) -> Value {
    json!({
        "applicant_name": "张三",
        "reviewing_body": "某市人民政府",
        "filed_on": filed_on,
    })
}

fn direct_suit(filed_on: &str) -> Value {
    json!({
        "applicant_name": "张三",
        "court": "某区人民法院",
        "route": "direct",
        "filed_on": filed_on,
    })
}

fn suit_after(review_id: &str, filed_on: &str) -> Value {
    json!({
        "applicant_name": "张三",
        "court": "某区人民法院",
        "route": "after_review",
        "review_id": review_id,
        "filed_on": filed_on,
    })
}

fn decided(decision_type: &str, decided_on: &str) -> Value {
    json!({"decision_type": decision_type, "decided_on": decided_on})
}

/// A date after the service's today, with a day to spare.
fn future_date(app: &TestApp) -> String {
    (app.today() + Duration::days(2)).to_string()
}

/// Records a case; it must be created. Checks ETag, Location and that it reads back the same.
async fn record(app: &TestApp, token: &str, base: &str, body: &Value) -> Value {
    let r = app.post(base, token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "record {body}: {}", r.text);
    let id = id_of(&r.body);
    assert_eq!(r.header("etag"), Some("\"1\""), "ETag");
    assert_eq!(
        r.header("location"),
        Some(format!("{base}/{id}").as_str()),
        "Location"
    );
    assert_eq!(r.body["version"], 1);
    assert_eq!(get_case(app, base, &id).await, r.body, "stored as answered");
    r.body
}

async fn get_case(app: &TestApp, base: &str, id: &str) -> Value {
    let r = app
        .get(&format!("{base}/{id}"), &app.admin_token().await)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.header("etag"),
        Some(format!("\"{}\"", version_of(&r.body)).as_str())
    );
    r.body
}

async fn history(app: &TestApp, base: &str, id: &str) -> Vec<Value> {
    let r = app
        .get(&format!("{base}/{id}/history"), &app.admin_token().await)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body.as_array().expect("history").clone()
}

/// All cases of one kind the admin sees.
async fn all_cases(app: &TestApp, base: &str) -> Value {
    let r = app
        .get(&format!("{base}?per_page=200"), &app.admin_token().await)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// A creation that must be refused, recording nothing.
async fn refused_create(
    app: &TestApp,
    token: &str,
    base: &str,
    body: &Value,
    status: u16,
    code: &str,
) -> Resp {
    let before = all_cases(app, base).await;
    let r = app.post(base, token, body).await;
    r.assert_problem(status, code);
    assert_eq!(
        all_cases(app, base).await,
        before,
        "refused ({code}) but something was recorded: {body}"
    );
    r
}

/// A change that must succeed: the version goes up by one, the ETag follows, it reads back.
async fn patched(app: &TestApp, token: &str, base: &str, current: &Value, body: &Value) -> Value {
    let id = id_of(current);
    let v = version_of(current);
    let r = app
        .patch(&format!("{base}/{id}"), token, body, Some(v))
        .await;
    assert_eq!(r.status, StatusCode::OK, "patch {body}: {}", r.text);
    assert_eq!(version_of(&r.body), v + 1, "a change bumps the version");
    assert_eq!(
        r.header("etag"),
        Some(format!("\"{}\"", v + 1).as_str()),
        "ETag"
    );
    assert_eq!(get_case(app, base, &id).await, r.body, "stored as answered");
    r.body
}

/// A change that must be refused, leaving the case and its history as they were.
async fn refused_patch(
    app: &TestApp,
    token: &str,
    base: &str,
    id: &str,
    body: &Value,
    if_match: Option<i64>,
    (status, code): (u16, &str),
) -> Resp {
    let before = get_case(app, base, id).await;
    let trail = history(app, base, id).await;
    let r = app
        .patch(&format!("{base}/{id}"), token, body, if_match)
        .await;
    r.assert_problem(status, code);
    assert_eq!(
        get_case(app, base, id).await,
        before,
        "refused ({code}) but the case changed: {body}"
    );
    assert_eq!(
        history(app, base, id).await,
        trail,
        "refused ({code}) but the history changed"
    );
    r
}

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

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(f, c)| (f.to_string(), c.to_string()))
        .collect()
}

/// The date `days` working days after `from` (with 0: `from` if a working day, else the next
/// working day), from the calendar API.
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

/// The ids of a list answer, in order.
fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id_of)
        .collect()
}

/// A list answer for this query string; it must succeed.
async fn list(app: &TestApp, token: &str, base: &str, q: &str) -> Value {
    let r = app.get(&format!("{base}?{q}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{base}?{q}: {}", r.text);
    r.body
}

/// An application handed in at the counter on `date` (received that day).
async fn intake(app: &TestApp, token: &str, date: &str) -> Value {
    let body = json!({
        "channel": "in_person",
        "arrived_at": format!("{date}T09:30:00+08:00"),
        "applicant": {
            "kind": "natural_person",
            "name": "张三",
            "id_document": {"type": "resident_id_card", "number": RID},
            "phone": "010-65123456",
        },
        "description": "申请公开2025年本机关作出的建设项目环境影响评价批复文件",
    });
    let r = app.post("/api/v1/requests", token, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "intake: {}", r.text);
    r.body
}

/// Replies to (grants) the application on `on`; returns it closed.
async fn reply(app: &TestApp, token: &str, request: &Value, on: &str) -> Value {
    let r = Resp::from(
        app.request(
            Method::POST,
            &format!("/api/v1/requests/{}/actions/reply", id_of(request)),
            Some(token),
        )
        .header("If-Match", format!("\"{}\"", version_of(request)))
        .json(
            &json!({"on": on, "disposition": "granted", "provision": "以电子邮件方式提供，见附件"}),
        )
        .send()
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "reply: {}", r.text);
    assert_eq!(r.body["closed_on"], on);
    r.body
}

// ---------------------------------------------------------------------------------------------
// Recording and reading
// ---------------------------------------------------------------------------------------------

async fn a_review_and_a_lawsuit_are_recorded_for_the_callers_agency_and_read_back(app: TestApp) {
    let st = staff(&app).await;
    let body = with(
        review("2026-09-14"),
        json!({"received_on": "2026-09-16", "act_known_on": "2026-09-01", "notes": "申请人不服不予公开答复"}),
    );
    let rv = record(&app, &st.clerk, REVIEWS, &body).await;
    let id = id_of(&rv);
    assert_eq!(rv["kind"], "review");
    assert_eq!(rv["agency_id"], st.root.as_str(), "the caller's agency");
    assert_eq!(rv["request_id"], Value::Null);
    assert_eq!(rv["applicant_name"], "张三");
    assert_eq!(rv["reviewing_body"], "某市人民政府");
    assert!(rv.get("court").is_none(), "a review has no court: {rv}");
    assert_eq!(rv["filed_on"], "2026-09-14");
    assert_eq!(rv["received_on"], "2026-09-16");
    assert_eq!(rv["act_known_on"], "2026-09-01");
    assert_eq!(rv["route"], Value::Null);
    assert_eq!(rv["review_id"], Value::Null);
    assert_eq!(rv["instance"], Value::Null);
    assert_eq!(rv["decision_type"], Value::Null);
    assert_eq!(rv["decided_on"], Value::Null);
    assert_eq!(rv["outcome"], "pending", "undecided → 尚未审结");
    assert_eq!(rv["notes"], "申请人不服不予公开答复");
    // 2026-09-01 + 60 days = 2026-10-31, a Saturday → Monday 2026-11-02.
    assert_eq!(add_wd(&app, "2026-10-31", 0).await, "2026-11-02");
    assert_eq!(rv["filing_deadline"], "2026-11-02");
    assert_eq!(rv["filing_rule"], "review_60_days");
    assert_eq!(rv["filed_late"], false);
    assert_eq!(rv["created_by"], "clerk1");
    assert!(rv["created_at"].is_string() && rv["updated_at"].is_string());

    let h = history(&app, REVIEWS, &id).await;
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["action"], "case_recorded");
    assert_eq!(h[0]["actor"], "clerk1");
    assert_eq!(h[0]["payload"]["decision_type"], Value::Null);
    assert_eq!(h[0]["payload"]["outcome"], "pending");
    assert_eq!(h[0]["payload"]["filed_on"], "2026-09-14");

    // A decided case recorded after the fact, decided on the day it was filed.
    let late = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(review("2026-03-02"), decided("revoked", "2026-03-02")),
    )
    .await;
    assert_eq!(late["decision_type"], "revoked");
    assert_eq!(late["decided_on"], "2026-03-02");
    assert_eq!(late["outcome"], "corrected");
    assert_eq!(late["filing_deadline"], Value::Null, "no date to run from");
    assert_eq!(late["filing_rule"], Value::Null);
    assert_eq!(late["filed_late"], false);

    let suit = record(
        &app,
        &st.clerk,
        SUITS,
        &with(
            direct_suit("2026-10-12"),
            json!({"instance": "first", "act_known_on": "2026-05-06"}),
        ),
    )
    .await;
    assert_eq!(suit["kind"], "litigation");
    assert_eq!(suit["agency_id"], st.root.as_str());
    assert_eq!(suit["court"], "某区人民法院");
    assert!(
        suit.get("reviewing_body").is_none(),
        "a lawsuit has no reviewing body: {suit}"
    );
    assert_eq!(suit["route"], "direct");
    assert_eq!(suit["review_id"], Value::Null);
    assert_eq!(suit["instance"], "first");
    assert_eq!(suit["outcome"], "pending");
    assert_eq!(
        suit["filing_deadline"], "2026-11-06",
        "2026-05-06 + 6 months, a Friday"
    );
    assert_eq!(suit["filing_rule"], "direct_suit_6_months");
    assert_eq!(suit["filed_late"], false);

    // Kinds do not mix, and unknown ids answer 404.
    let admin = &st.admin;
    app.get(&format!("{SUITS}/{id}"), admin)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{REVIEWS}/{}", id_of(&suit)), admin)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{SUITS}/{id}/history"), admin)
        .await
        .assert_problem(404, "not_found");
    let unknown = uuid::Uuid::new_v4();
    app.get(&format!("{REVIEWS}/{unknown}"), admin)
        .await
        .assert_problem(404, "not_found");
    refused_patch(
        &app,
        &st.clerk,
        SUITS,
        &id_of(&suit),
        &json!({"reviewing_body": "某市人民政府"}),
        Some(1),
        (422, "validation_failed"),
    )
    .await;
    let r = app
        .patch(
            &format!("{REVIEWS}/{unknown}"),
            &st.clerk,
            &json!({"notes": "x"}),
            Some(1),
        )
        .await;
    r.assert_problem(404, "not_found");

    // The lists hold them.
    let l = all_cases(&app, REVIEWS).await;
    assert_eq!(l["total"], 2);
    assert_eq!(
        ids(&l),
        vec![id.clone(), id_of(&late)],
        "newest filing first"
    );
    assert_eq!(l["items"][0], rv);
    let l = all_cases(&app, SUITS).await;
    assert_eq!(ids(&l), vec![id_of(&suit)]);
}

async fn every_decision_type_maps_to_its_outcome_and_a_court_does_not_uphold(app: TestApp) {
    let st = staff(&app).await;
    for (i, (decision, outcome)) in DECISIONS.iter().enumerate() {
        let filed = format!("2026-06-{:02}", i + 1);
        let decided_on = format!("2026-09-{:02}", i + 1);
        let rv = record(
            &app,
            &st.clerk,
            REVIEWS,
            &with(review(&filed), decided(decision, &decided_on)),
        )
        .await;
        assert_eq!(rv["decision_type"], *decision);
        assert_eq!(rv["decided_on"], decided_on.as_str());
        assert_eq!(rv["outcome"], *outcome, "review decided {decision}");

        let suit = with(direct_suit(&filed), decided(decision, &decided_on));
        if *decision == "upheld" {
            // 维持 is a review decision; a court rejects the claim instead.
            let r = refused_create(&app, &st.clerk, SUITS, &suit, 422, "validation_failed").await;
            assert_eq!(
                field_codes(&r),
                pairs(&[("decision_type", "not_for_litigation")])
            );
        } else {
            let l = record(&app, &st.clerk, SUITS, &suit).await;
            assert_eq!(l["decision_type"], *decision);
            assert_eq!(l["outcome"], *outcome, "lawsuit decided {decision}");
        }
    }
    let pending_review = record(&app, &st.clerk, REVIEWS, &review("2026-11-02")).await;
    assert_eq!(pending_review["outcome"], "pending");
    let pending_suit = record(&app, &st.clerk, SUITS, &direct_suit("2026-11-02")).await;
    assert_eq!(pending_suit["outcome"], "pending");

    // The outcome filter counts them as the report will.
    let token = &st.clerk;
    for (base, expected) in [
        (
            REVIEWS,
            [
                ("upheld", 2),
                ("corrected", 5),
                ("other", 4),
                ("pending", 1),
            ],
        ),
        (
            SUITS,
            [
                ("upheld", 1),
                ("corrected", 5),
                ("other", 4),
                ("pending", 1),
            ],
        ),
    ] {
        for (outcome, n) in expected {
            let r = app.get(&format!("{base}?outcome={outcome}"), token).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert_eq!(r.body["total"], n, "{base} outcome={outcome}");
            for item in r.body["items"].as_array().unwrap() {
                assert_eq!(item["outcome"], outcome);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Filing limits (information, never a refusal)
// ---------------------------------------------------------------------------------------------

async fn a_review_runs_60_days_from_the_reply_and_a_last_day_in_national_day_moves(app: TestApp) {
    let st = staff(&app).await;
    let req = intake(&app, &st.clerk, "2026-07-20").await;
    let req = reply(&app, &st.clerk, &req, "2026-08-03").await;
    let req_id = id_of(&req);

    // 2026-08-03 + 60 days = 2026-10-02, inside National Day (10-01..10-07): the limit ends on
    // the next working day.
    let next = add_wd(&app, "2026-10-02", 0).await;
    assert_eq!(next, "2026-10-08");
    let on_time = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(review(&next), json!({"request_id": req_id})),
    )
    .await;
    assert_eq!(on_time["request_id"], req_id.as_str());
    assert_eq!(on_time["act_known_on"], Value::Null, "only an entered date");
    assert_eq!(
        on_time["filing_starts_on"], "2026-08-03",
        "without the reply's service, from the reply's date"
    );
    assert_eq!(on_time["filing_start_basis"], "reply_date");
    assert_eq!(on_time["filed_late_provisional"], true);
    assert_eq!(on_time["filing_deadline"], next.as_str());
    assert_eq!(on_time["filing_rule"], "review_60_days");
    assert_eq!(on_time["filed_late"], false);

    // A day later it is late, and still recorded.
    let late = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(review("2026-10-09"), json!({"request_id": req_id})),
    )
    .await;
    assert_eq!(late["filing_starts_on"], "2026-08-03");
    assert_eq!(late["filing_deadline"], "2026-10-08");
    assert_eq!(late["filed_late"], true);
    assert_eq!(late["filed_late_provisional"], true);

    // A date given wins over the reply date. 2026-08-01 + 60 days = 2026-09-30, a Wednesday.
    assert_eq!(add_wd(&app, "2026-09-30", 0).await, "2026-09-30");
    let given = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(
            review("2026-09-30"),
            json!({"request_id": req_id, "act_known_on": "2026-08-01"}),
        ),
    )
    .await;
    assert_eq!(given["act_known_on"], "2026-08-01");
    assert_eq!(given["filing_start_basis"], "act_known_on");
    assert_eq!(given["filed_late_provisional"], false);
    assert_eq!(given["filing_deadline"], "2026-09-30");
    assert_eq!(given["filed_late"], false);
    let given_late = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(review("2026-10-01"), json!({"act_known_on": "2026-08-01"})),
    )
    .await;
    assert_eq!(given_late["filing_deadline"], "2026-09-30");
    assert_eq!(given_late["filed_late"], true);

    // 2026-03-10 + 60 days = 2026-05-09, a Saturday declared a working day (调休): it stays.
    assert_eq!(add_wd(&app, "2026-05-09", 0).await, "2026-05-09");
    let workday = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(review("2026-05-11"), json!({"act_known_on": "2026-03-10"})),
    )
    .await;
    assert_eq!(workday["filing_deadline"], "2026-05-09");
    assert_eq!(workday["filed_late"], true);

    // A review filed before the reply was made does not run from it.
    let before_reply = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(review("2026-08-01"), json!({"request_id": req_id})),
    )
    .await;
    assert_eq!(before_reply["act_known_on"], Value::Null);
    assert_eq!(before_reply["filing_deadline"], Value::Null);
    assert_eq!(before_reply["filing_rule"], Value::Null);
    assert_eq!(before_reply["filed_late"], false);

    // Changing the filing date later measures the case again.
    let moved = patched(
        &app,
        &st.clerk,
        REVIEWS,
        &on_time,
        &json!({"filed_on": "2026-10-12"}),
    )
    .await;
    assert_eq!(moved["filing_deadline"], "2026-10-08");
    assert_eq!(moved["filed_late"], true);
}

async fn a_direct_suit_runs_6_months_and_a_suit_after_review_15_days_from_the_decision(
    app: TestApp,
) {
    let st = staff(&app).await;
    let direct =
        |known: &str, filed: &str| with(direct_suit(filed), json!({"act_known_on": known}));

    // 2026-01-15 + 6 months = 2026-07-15, a Wednesday.
    let l = record(&app, &st.clerk, SUITS, &direct("2026-01-15", "2026-07-15")).await;
    assert_eq!(l["filing_deadline"], "2026-07-15");
    assert_eq!(l["filing_rule"], "direct_suit_6_months");
    assert_eq!(l["filed_late"], false);
    let l = record(&app, &st.clerk, SUITS, &direct("2026-01-15", "2026-07-16")).await;
    assert_eq!(l["filing_deadline"], "2026-07-15");
    assert_eq!(l["filed_late"], true, "late is recorded, never refused");

    // 2026-04-01 + 6 months = 2026-10-01, National Day: the next working day.
    let next = add_wd(&app, "2026-10-01", 0).await;
    assert_eq!(next, "2026-10-08");
    let l = record(&app, &st.clerk, SUITS, &direct("2026-04-01", &next)).await;
    assert_eq!(l["filing_deadline"], next.as_str());
    assert_eq!(l["filed_late"], false);

    // 2026-03-19 + 6 months = 2026-09-19, a Saturday; Sunday 09-20 is a declared working day.
    let next = add_wd(&app, "2026-09-19", 0).await;
    assert_eq!(next, "2026-09-20");
    let l = record(&app, &st.clerk, SUITS, &direct("2026-03-19", "2026-09-21")).await;
    assert_eq!(l["filing_deadline"], next.as_str());
    assert_eq!(l["filed_late"], true);

    // 2025-08-31 + 6 months: February has no 31st, so its last day, 2026-02-28 — a Saturday
    // declared a working day.
    assert_eq!(add_wd(&app, "2026-02-28", 0).await, "2026-02-28");
    let l = record(&app, &st.clerk, SUITS, &direct("2025-08-31", "2026-02-28")).await;
    assert_eq!(l["filing_deadline"], "2026-02-28");
    assert_eq!(l["filed_late"], false);

    // Without the date the applicant learned of the act there is nothing to measure.
    let l = record(&app, &st.clerk, SUITS, &direct_suit("2026-05-06")).await;
    assert_eq!(l["filing_deadline"], Value::Null);
    assert_eq!(l["filing_rule"], Value::Null);
    assert_eq!(l["filed_late"], false);

    // After review: 15 days from the review decision. 2026-09-22 + 15 = 2026-10-07, still
    // National Day → 2026-10-08.
    let rv = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(
            review("2026-08-10"),
            decided("claim_rejected", "2026-09-22"),
        ),
    )
    .await;
    let rv_id = id_of(&rv);
    assert_eq!(add_wd(&app, "2026-10-07", 0).await, "2026-10-08");
    let l = record(&app, &st.clerk, SUITS, &suit_after(&rv_id, "2026-10-08")).await;
    assert_eq!(l["route"], "after_review");
    assert_eq!(l["review_id"], rv_id.as_str());
    assert_eq!(l["filing_deadline"], "2026-10-08");
    assert_eq!(l["filing_rule"], "suit_after_review_15_days");
    assert_eq!(l["filed_late"], false);
    let l = record(&app, &st.clerk, SUITS, &suit_after(&rv_id, "2026-10-09")).await;
    assert_eq!(l["filing_deadline"], "2026-10-08");
    assert_eq!(l["filed_late"], true);

    // The review decision, not the date the applicant learned of the reply, fixes the limit.
    let rv = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(review("2026-08-10"), decided("revoked", "2026-09-15")),
    )
    .await;
    let l = record(
        &app,
        &st.clerk,
        SUITS,
        &with(
            suit_after(&id_of(&rv), "2026-09-30"),
            json!({"act_known_on": "2026-01-05"}),
        ),
    )
    .await;
    assert_eq!(l["filing_deadline"], "2026-09-30", "2026-09-15 + 15 days");
    assert_eq!(l["filed_late"], false);
}

async fn a_suit_after_review_needs_a_decided_review_of_the_same_agency(app: TestApp) {
    let st = staff(&app).await;
    let pending = record(&app, &st.clerk, REVIEWS, &review("2026-08-10")).await;
    let pending_id = id_of(&pending);

    // An undecided review: 409, nothing recorded.
    refused_create(
        &app,
        &st.clerk,
        SUITS,
        &suit_after(&pending_id, "2026-10-09"),
        409,
        "review_not_decided",
    )
    .await;
    // After review without the review; direct with one.
    let r = refused_create(
        &app,
        &st.clerk,
        SUITS,
        &with(direct_suit("2026-10-09"), json!({"route": "after_review"})),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_codes(&r), pairs(&[("review_id", "required")]));
    // The review must exist, be a review, and belong to the agency.
    let direct = record(&app, &st.clerk, SUITS, &direct_suit("2026-10-09")).await;
    let town = app.create_agency("TOWN", None).await;
    let (_, outsider) = app.create_user(&town, "town_clerk", &["clerk"]).await;
    let foreign = record(
        &app,
        &outsider,
        REVIEWS,
        &with(review("2026-08-10"), decided("revoked", "2026-09-01")),
    )
    .await;
    for not_a_review in [
        uuid::Uuid::new_v4().to_string(),
        id_of(&direct),
        id_of(&foreign),
    ] {
        let r = refused_create(
            &app,
            &st.clerk,
            SUITS,
            &suit_after(&not_a_review, "2026-10-09"),
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(field_codes(&r), pairs(&[("review_id", "unknown_review")]));
    }

    // Turning a direct suit into one after the undecided review is refused the same way.
    refused_patch(
        &app,
        &st.clerk,
        SUITS,
        &id_of(&direct),
        &json!({"route": "after_review", "review_id": pending_id}),
        Some(1),
        (409, "review_not_decided"),
    )
    .await;

    // Decide the review; the suit can now be recorded.
    let rv = patched(
        &app,
        &st.clerk,
        REVIEWS,
        &pending,
        &decided("claim_rejected", "2026-09-30"),
    )
    .await;
    let r = refused_create(
        &app,
        &st.clerk,
        SUITS,
        &with(direct_suit("2026-10-09"), json!({"review_id": pending_id})),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_codes(&r), pairs(&[("review_id", "not_allowed")]));
    let suit = record(
        &app,
        &st.clerk,
        SUITS,
        &suit_after(&pending_id, "2026-10-09"),
    )
    .await;
    assert_eq!(suit["review_id"], pending_id.as_str());
    // 2026-09-30 + 15 = 2026-10-15, a Thursday.
    assert_eq!(suit["filing_deadline"], "2026-10-15");
    assert_eq!(suit["filed_late"], false);

    // A review with a suit after it keeps a decision, even through a correction.
    refused_patch(
        &app,
        &st.clerk,
        REVIEWS,
        &pending_id,
        &json!({"decision_type": null, "decided_on": null, "correction_reason": "误录"}),
        Some(version_of(&rv)),
        (409, "review_has_suits"),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

async fn bad_cases_answer_problem_json_listing_every_field_and_record_nothing(app: TestApp) {
    let st = staff(&app).await;
    let t = &st.clerk;
    let future = future_date(&app);
    let bad =
        |base: &'static str, body: Value, expected: &'static [(&'static str, &'static str)]| {
            (base, body, expected)
        };
    let cases = [
        bad(
            REVIEWS,
            with(
                review(&future),
                json!({"received_on": future, "act_known_on": future, "decision_type": "revoked", "decided_on": future}),
            ),
            &[
                ("filed_on", "in_future"),
                ("received_on", "in_future"),
                ("act_known_on", "in_future"),
                ("decided_on", "in_future"),
            ],
        ),
        bad(
            REVIEWS,
            with(
                review("2026-05-10"),
                json!({"received_on": "2026-05-09", "act_known_on": "2026-05-11", "decision_type": "revoked", "decided_on": "2026-05-09"}),
            ),
            &[
                ("received_on", "before_filing"),
                ("act_known_on", "after_filing"),
                ("decided_on", "before_filing"),
            ],
        ),
        bad(
            REVIEWS,
            with(review("2026-05-10"), json!({"decision_type": "revoked"})),
            &[("decided_on", "required_together")],
        ),
        bad(
            REVIEWS,
            with(review("2026-05-10"), json!({"decided_on": "2026-06-01"})),
            &[("decision_type", "required_together")],
        ),
        bad(
            REVIEWS,
            with(review("2026-05-10"), decided("dismissed", "2026-06-01")),
            &[("decision_type", "unknown_code")],
        ),
        bad(
            REVIEWS,
            with(
                review("2026-05-10"),
                json!({"applicant_name": " ", "reviewing_body": ""}),
            ),
            &[
                ("applicant_name", "required"),
                ("reviewing_body", "required"),
            ],
        ),
        bad(
            SUITS,
            with(
                direct_suit("2026-05-10"),
                json!({"court": "", "route": "appeal", "instance": "third"}),
            ),
            &[
                ("court", "required"),
                ("route", "unknown_code"),
                ("instance", "unknown_code"),
            ],
        ),
        bad(
            SUITS,
            with(direct_suit("2026-05-10"), decided("upheld", "2026-05-01")),
            &[
                ("decision_type", "not_for_litigation"),
                ("decided_on", "before_filing"),
            ],
        ),
        bad(
            REVIEWS,
            review("2026-02-30"),
            &[("filed_on", "invalid_value")],
        ),
    ];
    for (base, body, expected) in cases {
        let r = refused_create(&app, t, base, &body, 422, "validation_failed").await;
        assert_eq!(field_codes(&r), pairs(expected), "{base} {body}");
    }
    // A lawsuit needs its route.
    let r = refused_create(
        &app,
        t,
        SUITS,
        &json!({"applicant_name": "张三", "court": "某区人民法院", "filed_on": "2026-05-10"}),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(r.body["detail"], "route：缺少必填字段 `route`");
    assert_eq!(r.field_errors(), ["route"]);
    assert_eq!(r.body["errors"][0]["code"], "required");
    // Malformed JSON is a 400.
    let r = Resp::from(
        app.request(Method::POST, REVIEWS, Some(t))
            .header("content-type", "application/json")
            .body("{\"applicant_name\": ")
            .send()
            .await
            .expect("send"),
    )
    .await;
    r.assert_problem(400, "invalid_json");

    // Links: an application of another agency, or none at all; an agency out of scope.
    let town = app.create_agency("TOWN", None).await;
    let (_, outsider) = app.create_user(&town, "town_clerk", &["clerk"]).await;
    let foreign_request = intake(&app, &outsider, "2026-07-20").await;
    for request_id in [id_of(&foreign_request), uuid::Uuid::new_v4().to_string()] {
        for (base, body) in [
            (REVIEWS, review("2026-09-01")),
            (SUITS, direct_suit("2026-09-01")),
        ] {
            let r = refused_create(
                &app,
                t,
                base,
                &with(body, json!({"request_id": request_id})),
                422,
                "validation_failed",
            )
            .await;
            assert_eq!(field_codes(&r), pairs(&[("request_id", "unknown_request")]));
        }
    }
    let r = refused_create(
        &app,
        t,
        REVIEWS,
        &with(review("2026-09-01"), json!({"agency_id": town})),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_codes(&r), pairs(&[("agency_id", "unknown_agency")]));

    // A read-only supervisor may not record.
    let (_, supervisor) = app
        .create_user(&st.root, "supervisor1", &["supervisor"])
        .await;
    refused_create(
        &app,
        &supervisor,
        REVIEWS,
        &review("2026-09-01"),
        403,
        "forbidden",
    )
    .await;
    // No token, no answer.
    let r = Resp::from(
        app.request(Method::GET, REVIEWS, None)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    assert_eq!(all_cases(&app, REVIEWS).await["total"], 0);
    assert_eq!(all_cases(&app, SUITS).await["total"], 0);
}

// ---------------------------------------------------------------------------------------------
// Recording a decision later; corrections
// ---------------------------------------------------------------------------------------------

async fn a_decision_is_recorded_later_with_if_match_and_a_decided_case_only_through_a_correction(
    app: TestApp,
) {
    let st = staff(&app).await;
    let t = &st.clerk;
    let rv = record(&app, t, REVIEWS, &review("2026-06-01")).await;
    let id = id_of(&rv);
    let decide = decided("revoked", "2026-07-20");

    // If-Match: missing → 428, stale → 412.
    refused_patch(
        &app,
        t,
        REVIEWS,
        &id,
        &decide,
        None,
        (428, "if_match_required"),
    )
    .await;
    refused_patch(
        &app,
        t,
        REVIEWS,
        &id,
        &decide,
        Some(7),
        (412, "version_mismatch"),
    )
    .await;
    // Bad decisions are refused.
    let r = refused_patch(
        &app,
        t,
        REVIEWS,
        &id,
        &json!({"decision_type": "revoked"}),
        Some(1),
        (422, "validation_failed"),
    )
    .await;
    assert_eq!(
        field_codes(&r),
        pairs(&[("decided_on", "required_together")])
    );
    let r = refused_patch(
        &app,
        t,
        REVIEWS,
        &id,
        &decided("revoked", "2026-05-31"),
        Some(1),
        (422, "validation_failed"),
    )
    .await;
    assert_eq!(field_codes(&r), pairs(&[("decided_on", "before_filing")]));
    let r = refused_patch(
        &app,
        t,
        REVIEWS,
        &id,
        &decided("revoked", &future_date(&app)),
        Some(1),
        (422, "validation_failed"),
    )
    .await;
    assert_eq!(field_codes(&r), pairs(&[("decided_on", "in_future")]));
    let r = refused_patch(
        &app,
        t,
        REVIEWS,
        &id,
        &json!({"court": "某区人民法院"}),
        Some(1),
        (422, "validation_failed"),
    )
    .await;
    assert_eq!(r.field_errors(), vec!["court".to_string()]);

    // A pending case takes its decision without a correction.
    let rv = patched(&app, t, REVIEWS, &rv, &decide).await;
    assert_eq!(rv["version"], 2);
    assert_eq!(rv["decision_type"], "revoked");
    assert_eq!(rv["decided_on"], "2026-07-20");
    assert_eq!(rv["outcome"], "corrected");
    let h = history(&app, REVIEWS, &id).await;
    assert_eq!(h.len(), 2);
    assert_eq!(h[1]["action"], "case_updated");
    assert_eq!(h[1]["actor"], "clerk1");
    let p = &h[1]["payload"];
    assert_eq!(p["before"]["decision_type"], Value::Null);
    assert_eq!(p["before"]["decided_on"], Value::Null);
    assert_eq!(p["before"]["outcome"], "pending");
    assert_eq!(p["after"]["decision_type"], "revoked");
    assert_eq!(p["after"]["decided_on"], "2026-07-20");
    assert_eq!(p["after"]["outcome"], "corrected");
    assert_eq!(p["reason"], Value::Null);

    // The old version is stale now.
    refused_patch(
        &app,
        t,
        REVIEWS,
        &id,
        &json!({"notes": "补记"}),
        Some(1),
        (412, "version_mismatch"),
    )
    .await;
    // A decided case changes only through a correction: any field.
    for body in [
        json!({"notes": "补记"}),
        json!({"applicant_name": "李四"}),
        decided("varied", "2026-07-20"),
        json!({"decision_type": null, "decided_on": null}),
    ] {
        refused_patch(
            &app,
            t,
            REVIEWS,
            &id,
            &body,
            Some(2),
            (409, "decided_case_requires_correction"),
        )
        .await;
    }
    let r = refused_patch(
        &app,
        t,
        REVIEWS,
        &id,
        &json!({"decision_type": "claim_rejected", "correction_reason": "  "}),
        Some(2),
        (422, "validation_failed"),
    )
    .await;
    assert_eq!(field_codes(&r), pairs(&[("correction_reason", "required")]));
    // Sending what is already recorded changes nothing.
    let same = app
        .patch(
            &format!("{REVIEWS}/{id}"),
            t,
            &json!({"decision_type": "revoked", "decided_on": "2026-07-20"}),
            Some(2),
        )
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);
    assert_eq!(same.body, rv);
    assert_eq!(history(&app, REVIEWS, &id).await.len(), 2);

    // The correction: 200, and the history keeps before, after and the reason.
    let reason = "复议决定书录入错误，应为驳回复议请求";
    let rv = patched(
        &app,
        t,
        REVIEWS,
        &rv,
        &json!({"decision_type": "claim_rejected", "decided_on": "2026-07-22", "correction_reason": reason}),
    )
    .await;
    assert_eq!(rv["decision_type"], "claim_rejected");
    assert_eq!(rv["decided_on"], "2026-07-22");
    assert_eq!(rv["outcome"], "upheld");
    let h = history(&app, REVIEWS, &id).await;
    assert_eq!(h.len(), 3);
    assert_eq!(h[2]["action"], "case_corrected");
    assert_eq!(h[2]["actor"], "clerk1");
    let p = &h[2]["payload"];
    assert_eq!(p["before"]["decision_type"], "revoked");
    assert_eq!(p["before"]["decided_on"], "2026-07-20");
    assert_eq!(p["before"]["outcome"], "corrected");
    assert_eq!(p["after"]["decision_type"], "claim_rejected");
    assert_eq!(p["after"]["decided_on"], "2026-07-22");
    assert_eq!(p["after"]["outcome"], "upheld");
    assert_eq!(p["reason"], reason);
    assert_eq!(p["before"]["applicant_name"], "张三");
    assert_eq!(p["after"]["applicant_name"], "张三");

    // A correction may take the decision back (the case is pending again), after which the
    // case takes a decision without one.
    let rv = patched(
        &app,
        t,
        REVIEWS,
        &rv,
        &json!({"decision_type": null, "decided_on": null, "correction_reason": "尚未收到复议决定书"}),
    )
    .await;
    assert_eq!(rv["outcome"], "pending");
    assert_eq!(rv["decided_on"], Value::Null);
    let rv = patched(&app, t, REVIEWS, &rv, &json!({"notes": "等待复议决定"})).await;
    assert_eq!(rv["version"], 5);
    let actions: Vec<String> = history(&app, REVIEWS, &id)
        .await
        .iter()
        .map(|e| s(&e["action"]).to_string())
        .collect();
    assert_eq!(
        actions,
        vec![
            "case_recorded",
            "case_updated",
            "case_corrected",
            "case_corrected",
            "case_updated"
        ]
    );

    // A read-only supervisor may not change a case.
    let (_, supervisor) = app
        .create_user(&st.root, "supervisor1", &["supervisor"])
        .await;
    refused_patch(
        &app,
        &supervisor,
        REVIEWS,
        &id,
        &json!({"notes": "x"}),
        Some(5),
        (403, "forbidden"),
    )
    .await;
}

async fn a_lawsuit_records_its_latest_instance_and_is_corrected_like_a_review(app: TestApp) {
    let st = staff(&app).await;
    let t = &st.clerk;
    let l = record(
        &app,
        t,
        SUITS,
        &with(
            direct_suit("2026-03-02"),
            json!({"act_known_on": "2026-01-15"}),
        ),
    )
    .await;
    let id = id_of(&l);
    refused_patch(
        &app,
        t,
        SUITS,
        &id,
        &json!({"instance": "first"}),
        None,
        (428, "if_match_required"),
    )
    .await;
    refused_patch(
        &app,
        t,
        SUITS,
        &id,
        &json!({"instance": "first"}),
        Some(2),
        (412, "version_mismatch"),
    )
    .await;
    let r = refused_patch(
        &app,
        t,
        SUITS,
        &id,
        &with(
            decided("upheld", "2026-06-01"),
            json!({"instance": "first"}),
        ),
        Some(1),
        (422, "validation_failed"),
    )
    .await;
    assert_eq!(
        field_codes(&r),
        pairs(&[("decision_type", "not_for_litigation")])
    );

    let l = patched(
        &app,
        t,
        SUITS,
        &l,
        &with(
            decided("claim_rejected", "2026-06-01"),
            json!({"instance": "first"}),
        ),
    )
    .await;
    assert_eq!(l["instance"], "first");
    assert_eq!(l["outcome"], "upheld");
    assert_eq!(
        l["filing_deadline"], "2026-07-15",
        "unchanged by the decision"
    );
    // The appeal is decided: the same lawsuit, its latest instance — a correction.
    refused_patch(
        &app,
        t,
        SUITS,
        &id,
        &with(
            decided("revoked", "2026-09-10"),
            json!({"instance": "second"}),
        ),
        Some(2),
        (409, "decided_case_requires_correction"),
    )
    .await;
    let l = patched(
        &app,
        t,
        SUITS,
        &l,
        &with(
            decided("revoked", "2026-09-10"),
            json!({"instance": "second", "correction_reason": "二审判决撤销原行政行为"}),
        ),
    )
    .await;
    assert_eq!(l["instance"], "second");
    assert_eq!(l["decision_type"], "revoked");
    assert_eq!(l["outcome"], "corrected");
    let h = history(&app, SUITS, &id).await;
    let actions: Vec<&str> = h.iter().map(|e| s(&e["action"])).collect();
    assert_eq!(
        actions,
        vec!["case_recorded", "case_updated", "case_corrected"]
    );
    let p = &h[2]["payload"];
    assert_eq!(p["before"]["instance"], "first");
    assert_eq!(p["before"]["outcome"], "upheld");
    assert_eq!(p["after"]["instance"], "second");
    assert_eq!(p["after"]["outcome"], "corrected");
    assert_eq!(p["reason"], "二审判决撤销原行政行为");
}

// ---------------------------------------------------------------------------------------------
// Scoping
// ---------------------------------------------------------------------------------------------

async fn another_agencys_cases_answer_404_and_lists_keep_to_the_callers_scope(app: TestApp) {
    let st = staff(&app).await;
    let town = app.create_agency("TOWN", None).await;
    let (_, outsider) = app.create_user(&town, "town_clerk", &["clerk"]).await;
    let own_review = record(&app, &st.clerk, REVIEWS, &review("2026-06-01")).await;
    let own_suit = record(&app, &st.clerk, SUITS, &direct_suit("2026-06-01")).await;
    let town_review = record(&app, &outsider, REVIEWS, &review("2026-06-02")).await;
    assert_eq!(town_review["agency_id"], town.as_str());

    for (base, case) in [(REVIEWS, &own_review), (SUITS, &own_suit)] {
        let id = id_of(case);
        for path in [format!("{base}/{id}"), format!("{base}/{id}/history")] {
            app.get(&path, &outsider)
                .await
                .assert_problem(404, "not_found");
        }
        // Changing looks the same as for an unknown id, If-Match or not.
        for if_match in [Some(1), None] {
            refused_patch(
                &app,
                &outsider,
                base,
                &id,
                &json!({"notes": "篡改"}),
                if_match,
                (404, "not_found"),
            )
            .await;
        }
    }
    app.get(&format!("{REVIEWS}/{}", id_of(&town_review)), &st.clerk)
        .await
        .assert_problem(404, "not_found");

    // Lists: a clerk sees its agency; the root admin the subtree.
    let r = app.get(REVIEWS, &outsider).await;
    assert_eq!(ids(&r.body), vec![id_of(&town_review)]);
    assert_eq!(r.body["total"], 1);
    let r = app.get(SUITS, &outsider).await;
    assert_eq!(r.body["total"], 0);
    let r = app.get(REVIEWS, &st.clerk).await;
    assert_eq!(ids(&r.body), vec![id_of(&own_review)]);
    let r = app.get(REVIEWS, &st.admin).await;
    assert_eq!(ids(&r.body), vec![id_of(&town_review), id_of(&own_review)]);

    // A clerk records for its own agency only; an admin may name one below its own.
    let r = refused_create(
        &app,
        &outsider,
        REVIEWS,
        &with(review("2026-06-03"), json!({"agency_id": st.root})),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_codes(&r), pairs(&[("agency_id", "unknown_agency")]));
    let by_admin = record(
        &app,
        &st.admin,
        SUITS,
        &with(direct_suit("2026-06-03"), json!({"agency_id": town})),
    )
    .await;
    assert_eq!(by_admin["agency_id"], town.as_str());
    assert_eq!(by_admin["created_by"], "admin");
    let r = app.get(SUITS, &outsider).await;
    assert_eq!(ids(&r.body), vec![id_of(&by_admin)]);
    // ...and its links must be of that agency.
    let root_request = intake(&app, &st.clerk, "2026-05-11").await;
    let r = refused_create(
        &app,
        &st.admin,
        REVIEWS,
        &with(
            review("2026-06-03"),
            json!({"agency_id": town, "request_id": id_of(&root_request)}),
        ),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_codes(&r), pairs(&[("request_id", "unknown_request")]));
    // A PATCH may not link another agency's application either.
    let r = refused_patch(
        &app,
        &outsider,
        REVIEWS,
        &id_of(&town_review),
        &json!({"request_id": id_of(&root_request)}),
        Some(1),
        (422, "validation_failed"),
    )
    .await;
    assert_eq!(field_codes(&r), pairs(&[("request_id", "unknown_request")]));
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

async fn lists_filter_by_outcome_pending_dates_request_and_route_and_page(app: TestApp) {
    let st = staff(&app).await;
    let t = &st.clerk;
    let req = intake(&app, t, "2026-03-02").await;
    let req = reply(&app, t, &req, "2026-03-10").await;
    let req_id = id_of(&req);
    let r1 = record(
        &app,
        t,
        REVIEWS,
        &with(review("2026-03-02"), decided("upheld", "2026-04-10")),
    )
    .await;
    let r2 = record(
        &app,
        t,
        REVIEWS,
        &with(
            with(review("2026-05-11"), decided("revoked", "2026-06-30")),
            json!({"request_id": req_id}),
        ),
    )
    .await;
    let r3 = record(
        &app,
        t,
        REVIEWS,
        &with(review("2026-06-15"), decided("withdrawn", "2026-08-20")),
    )
    .await;
    let r4 = record(
        &app,
        t,
        REVIEWS,
        &with(review("2026-09-01"), json!({"request_id": req_id})),
    )
    .await;
    let r5 = record(&app, t, REVIEWS, &review("2026-10-12")).await;
    let [r1, r2, r3, r4, r5] = [&r1, &r2, &r3, &r4, &r5].map(id_of);

    let l1 = record(
        &app,
        t,
        SUITS,
        &with(direct_suit("2026-04-01"), decided("revoked", "2026-07-01")),
    )
    .await;
    let l2 = record(
        &app,
        t,
        SUITS,
        &with(suit_after(&r1, "2026-04-20"), json!({"request_id": req_id})),
    )
    .await;
    let l3 = record(&app, t, SUITS, &direct_suit("2026-11-02")).await;
    let [l1, l2, l3] = [&l1, &l2, &l3].map(id_of);

    let cases: [(&str, String, Vec<&String>); 18] = [
        (REVIEWS, String::new(), vec![&r5, &r4, &r3, &r2, &r1]),
        (REVIEWS, "outcome=upheld".into(), vec![&r1]),
        (REVIEWS, "outcome=corrected".into(), vec![&r2]),
        (REVIEWS, "outcome=other".into(), vec![&r3]),
        (REVIEWS, "outcome=pending".into(), vec![&r5, &r4]),
        (REVIEWS, "pending=true".into(), vec![&r5, &r4]),
        (REVIEWS, "pending=false".into(), vec![&r3, &r2, &r1]),
        (
            REVIEWS,
            "filed_from=2026-05-11&filed_to=2026-09-01".into(),
            vec![&r4, &r3, &r2],
        ),
        (
            REVIEWS,
            "decided_from=2026-06-30&decided_to=2026-08-20".into(),
            vec![&r3, &r2],
        ),
        (REVIEWS, "decided_from=2026-04-11".into(), vec![&r3, &r2]),
        (REVIEWS, "decided_to=2026-06-29".into(), vec![&r1]),
        (REVIEWS, format!("request_id={req_id}"), vec![&r4, &r2]),
        (
            REVIEWS,
            format!("request_id={req_id}&pending=false"),
            vec![&r2],
        ),
        (SUITS, "route=direct".into(), vec![&l3, &l1]),
        (SUITS, "route=after_review".into(), vec![&l2]),
        (SUITS, "route=direct&pending=true".into(), vec![&l3]),
        (
            SUITS,
            "outcome=corrected&filed_to=2026-04-01".into(),
            vec![&l1],
        ),
        (SUITS, format!("request_id={req_id}"), vec![&l2]),
    ];
    for (base, q, expected) in cases {
        let body = list(&app, t, base, &q).await;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(ids(&body), expected, "{base}?{q}");
        assert_eq!(body["total"], expected.len(), "{base}?{q}");
    }

    // Paging: newest filing first, total over all pages.
    for (q, expected) in [
        ("per_page=2&page=1", vec![&r5, &r4]),
        ("per_page=2&page=2", vec![&r3, &r2]),
        ("per_page=2&page=3", vec![&r1]),
        ("per_page=2&page=4", vec![]),
    ] {
        let body = list(&app, t, REVIEWS, q).await;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(ids(&body), expected, "{q}");
        assert_eq!(body["total"], 5);
        assert_eq!(body["per_page"], 2);
    }
    let body = list(&app, t, REVIEWS, "per_page=2&page=3").await;
    assert_eq!(body["page"], 3);

    // Bad filters answer problem+json naming the parameter.
    for (base, q, status, code, field) in [
        (REVIEWS, "outcome=won", 422, "validation_failed", "outcome"),
        (REVIEWS, "route=direct", 422, "validation_failed", "route"),
        (SUITS, "route=appeal", 422, "validation_failed", "route"),
        (
            REVIEWS,
            "filed_from=2026-13-01",
            400,
            "invalid_query",
            "filed_from",
        ),
        (
            REVIEWS,
            "decided_to=yesterday",
            400,
            "invalid_query",
            "decided_to",
        ),
        (REVIEWS, "pending=maybe", 400, "invalid_query", "pending"),
        (REVIEWS, "request_id=42", 400, "invalid_query", "request_id"),
        (REVIEWS, "per_page=0", 422, "validation_failed", "per_page"),
        (SUITS, "sort=court", 400, "invalid_query", "sort"),
    ] {
        let r = app.get(&format!("{base}?{q}"), t).await;
        r.assert_problem(status, code);
        assert_eq!(r.field_errors(), vec![field.to_string()], "{base}?{q}");
    }
}

// ---------------------------------------------------------------------------------------------
// The application's detail
// ---------------------------------------------------------------------------------------------

async fn the_application_detail_shows_its_reviews_and_lawsuits(app: TestApp) {
    let st = staff(&app).await;
    let t = &st.clerk;
    let req = intake(&app, t, "2026-07-20").await;
    let req = reply(&app, t, &req, "2026-08-03").await;
    let req_id = id_of(&req);
    let other = intake(&app, t, "2026-07-21").await;
    let detail = |id: String| {
        let app = &app;
        async move {
            let r = app
                .get(&format!("/api/v1/requests/{id}"), &app.admin_token().await)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.body
        }
    };
    let d = detail(req_id.clone()).await;
    assert_eq!(d["reviews"], json!([]));
    assert_eq!(d["litigations"], json!([]));

    let rv = record(
        &app,
        t,
        REVIEWS,
        &with(
            with(
                review("2026-08-20"),
                decided("claim_rejected", "2026-09-22"),
            ),
            json!({"request_id": req_id}),
        ),
    )
    .await;
    let later = record(
        &app,
        t,
        REVIEWS,
        &with(review("2026-09-01"), json!({"request_id": req_id})),
    )
    .await;
    let suit = record(
        &app,
        t,
        SUITS,
        &with(
            suit_after(&id_of(&rv), "2026-10-08"),
            json!({"request_id": req_id}),
        ),
    )
    .await;
    // Recorded without the link, linked later by a change.
    let direct = record(&app, t, SUITS, &direct_suit("2026-09-10")).await;
    let direct = patched(&app, t, SUITS, &direct, &json!({"request_id": req_id})).await;
    assert_eq!(direct["request_id"], req_id.as_str());
    // A case about another application is not shown.
    record(
        &app,
        t,
        REVIEWS,
        &with(review("2026-08-25"), json!({"request_id": id_of(&other)})),
    )
    .await;

    let d = detail(req_id.clone()).await;
    assert_eq!(d["reviews"], json!([rv, later]), "oldest filing first");
    assert_eq!(d["litigations"], json!([direct, suit]));
    let d = detail(id_of(&other)).await;
    assert_eq!(d["reviews"].as_array().map(Vec::len), Some(1));
    assert_eq!(d["litigations"], json!([]));

    // Unlinking removes it from the application.
    let later = patched(&app, t, REVIEWS, &later, &json!({"request_id": null})).await;
    assert_eq!(later["request_id"], Value::Null);
    let d = detail(req_id).await;
    assert_eq!(d["reviews"], json!([rv]));
}

async fn a_review_takes_no_route_instance_or_review_id(app: TestApp) {
    let st = staff(&app).await;
    let t = &st.clerk;
    let decided_review = record(
        &app,
        t,
        REVIEWS,
        &with(review("2026-08-10"), decided("revoked", "2026-09-15")),
    )
    .await;
    let decided_id = id_of(&decided_review);
    for (field, value) in [
        ("court", json!("某区人民法院")),
        ("route", json!("after_review")),
        ("instance", json!("first")),
        ("review_id", json!(decided_id)),
    ] {
        let mut body = review("2026-09-01");
        body[field] = value;
        let r = refused_create(&app, t, REVIEWS, &body, 422, "validation_failed").await;
        assert_eq!(r.field_errors(), vec![field.to_string()], "{body}");
    }
    let rv = record(&app, t, REVIEWS, &review("2026-09-01")).await;
    let id = id_of(&rv);
    for (body, expected) in [
        (
            json!({"route": "direct"}),
            pairs(&[("route", "not_allowed")]),
        ),
        (
            json!({"instance": "first"}),
            pairs(&[("instance", "not_allowed")]),
        ),
    ] {
        let r = refused_patch(
            &app,
            t,
            REVIEWS,
            &id,
            &body,
            Some(1),
            (422, "validation_failed"),
        )
        .await;
        assert_eq!(field_codes(&r), expected, "{body}");
    }
    // Only a suit after review names a review; a review does not, on creation or by a change.
    let r = refused_patch(
        &app,
        t,
        REVIEWS,
        &id,
        &json!({"review_id": decided_id}),
        Some(1),
        (422, "validation_failed"),
    )
    .await;
    assert_eq!(r.field_errors(), vec!["review_id".to_string()]);
}

/// The 15 days of a suit after review run from the review decision: correcting that date moves
/// the suit's limit and its late flag, and the suit's history says why.
async fn correcting_a_reviews_decision_date_re_measures_the_suits_after_it(app: TestApp) {
    let st = staff(&app).await;
    let rv = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(review("2026-08-01"), decided("revoked", "2026-09-15")),
    )
    .await;
    let suit = record(
        &app,
        &st.clerk,
        SUITS,
        &suit_after(&id_of(&rv), "2026-09-25"),
    )
    .await;
    assert_eq!(suit["filing_deadline"], add_wd(&app, "2026-09-30", 0).await);
    assert_eq!(suit["filed_late"], false);
    // The review was in fact decided on 1 September: 15 days end on 16 September.
    patched(
        &app,
        &st.clerk,
        REVIEWS,
        &rv,
        &json!({"decided_on": "2026-09-01", "correction_reason": "录入错误"}),
    )
    .await;
    let suit = get_case(&app, SUITS, &id_of(&suit)).await;
    assert_eq!(suit["filing_deadline"], add_wd(&app, "2026-09-16", 0).await);
    assert_eq!(suit["filed_late"], true);
    assert_eq!(version_of(&suit), 2);
    let trail = history(&app, SUITS, &id_of(&suit)).await;
    assert_eq!(
        trail.last().map(|e| e["action"].clone()),
        Some(json!("filing_limit_remeasured"))
    );
}

// ---------------------------------------------------------------------------------------------
// Limits that run from a service date (issue 12 item 3) and the review-first rule (item 10)
// ---------------------------------------------------------------------------------------------

/// Posts an action on an application with its current version; answers the response.
async fn act(app: &TestApp, token: &str, request: &Value, action: &str, body: &Value) -> Resp {
    Resp::from(
        app.request(
            Method::POST,
            &format!("/api/v1/requests/{}/actions/{action}", id_of(request)),
            Some(token),
        )
        .header("If-Match", format!("\"{}\"", version_of(request)))
        .json(body)
        .send()
        .await
        .expect("send"),
    )
    .await
}

async fn trace_step(app: &TestApp, token: &str, request_id: &str, rule: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/requests/{request_id}/deadline"), token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["deadline"]["trace"]
        .as_array()
        .expect("trace")
        .iter()
        .find(|t| t["rule"] == rule)
        .cloned()
        .unwrap_or_else(|| panic!("no {rule} in the trace: {}", r.text))
}

async fn the_replys_service_recorded_later_re_measures_the_cases_against_it(app: TestApp) {
    let st = staff(&app).await;
    let req = intake(&app, &st.clerk, "2026-07-20").await;
    let req = reply(&app, &st.clerk, &req, "2026-08-03").await;
    let req_id = id_of(&req);
    assert_eq!(req["reply_served_on"], Value::Null);
    // Before the service is recorded the trace counts from the reply's date, provisionally.
    let step = trace_step(&app, &st.clerk, &req_id, "remedy.review").await;
    assert_eq!(step["date"], "2026-08-03");
    assert_eq!(step["until"], "2026-10-08", "10-02 falls in National Day");
    assert!(s(&step["detail"]).contains("暂定"), "{step}");

    // Filed 2026-10-09: late by the reply's date (limit 10-08), provisionally.
    let review = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(review("2026-10-09"), json!({"request_id": req_id})),
    )
    .await;
    assert_eq!(
        (
            review["filed_late"].clone(),
            review["filed_late_provisional"].clone()
        ),
        (json!(true), json!(true))
    );
    let suit = record(
        &app,
        &st.clerk,
        SUITS,
        &with(direct_suit("2026-10-09"), json!({"request_id": req_id})),
    )
    .await;
    assert_eq!(suit["filing_deadline"], "2027-02-03");
    assert_eq!(suit["filed_late"], false);

    // Refusals first: a service before the reply, after the day of recording, on an open case.
    let r = act(
        &app,
        &st.clerk,
        &req,
        "record_reply_service",
        &json!({"on": "2026-10-12", "served_on": "2026-08-02"}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "before_reply", "{}", r.text);
    let r = act(
        &app,
        &st.clerk,
        &req,
        "record_reply_service",
        &json!({"on": "2026-08-05", "served_on": "2026-08-10"}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "after_on", "{}", r.text);
    let open = intake(&app, &st.clerk, "2026-07-21").await;
    act(
        &app,
        &st.clerk,
        &open,
        "record_reply_service",
        &json!({"on": "2026-08-05", "served_on": "2026-08-04"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    assert_eq!(
        version_of(&get_case(&app, REVIEWS, &id_of(&review)).await),
        1,
        "nothing re-measured"
    );

    // Served on 2026-08-10: 60 days later is Friday 2026-10-09, so the review was on time.
    let r = act(
        &app,
        &st.clerk,
        &req,
        "record_reply_service",
        &json!({"on": "2026-10-12", "served_on": "2026-08-10"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["reply_served_on"], "2026-08-10");
    assert_eq!(r.body["state"], "closed");
    let now = get_case(&app, REVIEWS, &id_of(&review)).await;
    assert_eq!(now["filing_starts_on"], "2026-08-10");
    assert_eq!(now["filing_start_basis"], "reply_served_on");
    assert_eq!(now["filing_deadline"], "2026-10-09");
    assert_eq!(now["filed_late"], false);
    assert_eq!(now["filed_late_provisional"], false);
    assert_eq!(version_of(&now), 2);
    let h = history(&app, REVIEWS, &id_of(&review)).await;
    let last = h.last().expect("history");
    assert_eq!(last["action"], "filing_limit_remeasured", "{last}");
    assert_eq!(
        last["payload"]["cause"]["request_id"],
        req_id.as_str(),
        "{last}"
    );
    let suit_now = get_case(&app, SUITS, &id_of(&suit)).await;
    assert_eq!(suit_now["filing_deadline"], "2027-02-10");
    assert_eq!(suit_now["filing_start_basis"], "reply_served_on");
    // The trace now counts from the service.
    let step = trace_step(&app, &st.clerk, &req_id, "remedy.review").await;
    assert_eq!(
        (step["date"].clone(), step["until"].clone()),
        (json!("2026-08-10"), json!("2026-10-09"))
    );
    assert_eq!(step["article"], "《中华人民共和国行政复议法》第二十条");
    let step = trace_step(&app, &st.clerk, &req_id, "remedy.litigation").await;
    assert_eq!(step["until"], "2027-02-10");

    // A reply that states its service at once: checked the same way.
    let other = intake(&app, &st.clerk, "2026-07-22").await;
    let body = json!({"on": "2026-08-04", "disposition": "granted", "provision": "以电子邮件方式提供", "served_on": "2026-08-03"});
    let r = act(&app, &st.clerk, &other, "reply", &body).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "served_on");
    let body = json!({"on": "2026-08-04", "disposition": "granted", "provision": "以电子邮件方式提供", "served_on": "2026-08-06"});
    let r = act(&app, &st.clerk, &other, "reply", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["reply_served_on"], "2026-08-06");
}

async fn a_suit_after_review_runs_from_the_decisions_service_recorded_without_a_correction(
    app: TestApp,
) {
    let st = staff(&app).await;
    let rv = record(
        &app,
        &st.clerk,
        REVIEWS,
        &with(review("2026-09-01"), decided("upheld", "2026-09-20")),
    )
    .await;
    let rv_id = id_of(&rv);
    // From the decision's date: 09-20 + 15 days = 10-05, in National Day: 10-08. Filed 10-09.
    let suit = record(&app, &st.clerk, SUITS, &suit_after(&rv_id, "2026-10-09")).await;
    assert_eq!(suit["filing_deadline"], "2026-10-08");
    assert_eq!(suit["filing_start_basis"], "decision_date");
    assert_eq!(
        (
            suit["filed_late"].clone(),
            suit["filed_late_provisional"].clone()
        ),
        (json!(true), json!(true))
    );

    // The decision's service is not a correction of the decision: no reason needed.
    let bad = json!({"decision_served_on": "2026-09-19"});
    refused_patch(
        &app,
        &st.clerk,
        REVIEWS,
        &rv_id,
        &bad,
        Some(version_of(&rv)),
        (422, "validation_failed"),
    )
    .await;
    // Served 09-25: + 15 days = Saturday 2026-10-10, an adjusted working day: the limit ends
    // that Saturday, and the suit of 10-09 was on time.
    assert_eq!(add_wd(&app, "2026-10-10", 0).await, "2026-10-10");
    let served = patched(
        &app,
        &st.clerk,
        REVIEWS,
        &rv,
        &json!({"decision_served_on": "2026-09-25"}),
    )
    .await;
    assert_eq!(served["decision_served_on"], "2026-09-25");
    let h = history(&app, REVIEWS, &rv_id).await;
    assert_eq!(h.last().expect("history")["action"], "decision_served");
    let now = get_case(&app, SUITS, &id_of(&suit)).await;
    assert_eq!(now["filing_starts_on"], "2026-09-25");
    assert_eq!(now["filing_start_basis"], "decision_served_on");
    assert_eq!(now["filing_deadline"], "2026-10-10");
    assert_eq!(
        (
            now["filed_late"].clone(),
            now["filed_late_provisional"].clone()
        ),
        (json!(false), json!(false))
    );
    // Changing a recorded service is a correction of a decided case.
    refused_patch(
        &app,
        &st.clerk,
        REVIEWS,
        &rv_id,
        &json!({"decision_served_on": "2026-09-21"}),
        Some(version_of(&served)),
        (409, "decided_case_requires_correction"),
    )
    .await;
    // A lawsuit has no decision service to record here, and an undecided review none yet.
    let r = app
        .post(
            SUITS,
            &st.clerk,
            &with(
                direct_suit("2026-10-09"),
                json!({"decision_served_on": "2026-10-01"}),
            ),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .post(
            REVIEWS,
            &st.clerk,
            &with(
                review("2026-09-01"),
                json!({"decision_served_on": "2026-10-01"}),
            ),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert!(r.text.contains("requires_decision"), "{}", r.text);
}

async fn a_direct_suit_against_a_refusal_since_2024_is_recorded_with_a_review_first_warning(
    app: TestApp,
) {
    let st = staff(&app).await;
    let refuse = |on: &str| json!({"on": on, "disposition": "denied.state_secret", "reason": "属于国家秘密", "legal_basis": "《条例》第十四条"});
    let refused = intake(&app, &st.clerk, "2026-03-02").await;
    let refused = act(&app, &st.clerk, &refused, "reply", &refuse("2026-03-10")).await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.text);
    let refused_id = id_of(&refused.body);
    let direct = record(
        &app,
        &st.clerk,
        SUITS,
        &with(direct_suit("2026-04-01"), json!({"request_id": refused_id})),
    )
    .await;
    let warnings = direct["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{direct}");
    assert_eq!(warnings[0]["code"], "review_first_required");
    assert!(
        s(&warnings[0]["message"]).contains("行政复议法"),
        "{direct}"
    );
    // Recorded all the same, and counted (a warning is never a refusal).
    assert_eq!(
        get_case(&app, SUITS, &id_of(&direct)).await["warnings"][0]["code"],
        "review_first_required"
    );
    // The trace tells the office the applicant must apply for review first.
    let step = trace_step(&app, &st.clerk, &refused_id, "remedy.litigation").await;
    assert_eq!(step["until"], Value::Null, "{step}");
    assert_eq!(step["article"], "《中华人民共和国行政复议法》第二十三条");

    // A suit after review, a suit against a grant, a refusal of 2023: no warning.
    let rv = record(&app, &st.clerk, REVIEWS, &with(review("2026-03-20"), json!({"request_id": refused_id, "decision_type": "upheld", "decided_on": "2026-04-10"}))).await;
    let after = record(
        &app,
        &st.clerk,
        SUITS,
        &with(
            suit_after(&id_of(&rv), "2026-04-20"),
            json!({"request_id": refused_id}),
        ),
    )
    .await;
    assert_eq!(after["warnings"], json!([]));
    let granted = intake(&app, &st.clerk, "2026-03-03").await;
    let granted = reply(&app, &st.clerk, &granted, "2026-03-11").await;
    let g = record(
        &app,
        &st.clerk,
        SUITS,
        &with(
            direct_suit("2026-04-01"),
            json!({"request_id": id_of(&granted)}),
        ),
    )
    .await;
    assert_eq!(g["warnings"], json!([]));
    let old = intake(&app, &st.clerk, "2023-11-01").await;
    let old = act(&app, &st.clerk, &old, "reply", &refuse("2023-11-20")).await;
    assert_eq!(old.status, StatusCode::OK, "{}", old.text);
    let o = record(
        &app,
        &st.clerk,
        SUITS,
        &with(
            direct_suit("2023-12-20"),
            json!({"request_id": id_of(&old.body)}),
        ),
    )
    .await;
    assert_eq!(
        o["warnings"],
        json!([]),
        "before 2024 a direct suit was open"
    );
}
