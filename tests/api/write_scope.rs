//! Who may write what (access rule "handling needs the own agency"): reading follows visibility
//! (admins and supervisors read their agency's subtree), handling does not. Every write route on
//! applications and their records is tried, table-driven, by roles at the parent agency, at the
//! record's own agency and at the agency below it:
//!
//! - a supervisor who is also a clerk or an approver at the parent reads the record and is
//!   refused every write with 403 `not_own_agency` — before the step is judged, so even a step
//!   that the own agency's staff then performs with the same body;
//! - a supervisor alone is refused (403), at the parent and at home;
//! - the parent's admin acts for the agency below (the one explicit exception), except for the
//!   office hand-overs, which only the application's own agency performs (403 `forbidden`);
//! - a clerk of the agency below does not see the record at all (404 `not_found`);
//! - registering (an application, a review, a lawsuit) in the agency below is for admins above:
//!   anyone else meets 422 `unknown_agency` on `agency_id`.
//!
//! Every refusal is shown to change nothing (the application's version, ETag and trail, and the
//! record the route writes), and every allowed actor is shown to succeed on the same route.

use chrono::{Duration, NaiveDate};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{PASSWORD, Resp, TestApp};

both_databases!(
    every_step_and_correction_of_an_application_is_handled_by_its_own_agency_or_an_admin_above,
    notices_are_drafted_approved_issued_and_served_by_the_own_agency_or_an_admin_above,
    documents_reviews_and_lawsuits_are_recorded_by_the_own_agency_or_an_admin_above,
    hand_overs_stay_inside_the_applications_own_agency_even_for_an_admin_above,
);

// ---------------------------------------------------------------------------------------------
// The actors and the fixture
// ---------------------------------------------------------------------------------------------

/// Who writes. "Own" is the agency the records belong to; the parent agency is above it, the
/// agency "below" is its child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    ParentSupervisorClerk,
    ParentSupervisorApprover,
    ParentSupervisor,
    ParentAdmin,
    OwnClerk,
    OwnApprover,
    OwnSupervisor,
    BelowClerk,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::ParentSupervisorClerk => "supervisor+clerk of the parent agency",
            Who::ParentSupervisorApprover => "supervisor+approver of the parent agency",
            Who::ParentSupervisor => "supervisor (alone) of the parent agency",
            Who::ParentAdmin => "admin of the parent agency",
            Who::OwnClerk => "clerk of the own agency",
            Who::OwnApprover => "approver of the own agency",
            Who::OwnSupervisor => "supervisor (alone) of the own agency",
            Who::BelowClerk => "clerk of the agency below",
        }
    }
}

/// What a write must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Written: this success status.
    Done(u16),
    /// Refused with this status and problem code.
    No(u16, &'static str),
    /// Refused with 422 `validation_failed` naming this field with this code.
    Field(&'static str, &'static str),
}

use Expect::{Done, Field, No};

/// Three agencies in a line (parent → own → below), the users of the table, two departments of
/// the own agency (the clerk in one, the approver in the other) and the own agency's letterhead.
struct Fx {
    own: String,
    users: Vec<(Who, String, String)>,
    dept_clerk: String,
    dept_approver: String,
    /// The last working day up to today: applications arrive on it and are received that day.
    arrival: NaiveDate,
}

impl Fx {
    fn token(&self, who: Who) -> &str {
        self.users
            .iter()
            .find(|(w, _, _)| *w == who)
            .map(|(_, _, t)| t.as_str())
            .expect("a user for every actor")
    }

    fn user_id(&self, who: Who) -> &str {
        self.users
            .iter()
            .find(|(w, _, _)| *w == who)
            .map(|(_, id, _)| id.as_str())
            .expect("a user for every actor")
    }
}

async fn department(app: &TestApp, agency: &str, name: &str) -> String {
    let r = app
        .post(
            &format!("/api/v1/agencies/{agency}/departments"),
            &app.admin_token().await,
            &json!({"name": name}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "department: {}", r.text);
    r.body["id"].as_str().expect("id").to_string()
}

/// A user of the agency (in the department, if given): (id, token).
async fn user(
    app: &TestApp,
    agency: &str,
    username: &str,
    roles: &[&str],
    department: Option<&str>,
) -> (String, String) {
    let mut body = json!({"username": username, "password": PASSWORD, "roles": roles});
    if let Some(d) = department {
        body["department_id"] = json!(d);
    }
    let r = app
        .post(
            &format!("/api/v1/agencies/{agency}/users"),
            &app.admin_token().await,
            &body,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "user {username}: {}", r.text);
    let id = r.body["id"].as_str().expect("id").to_string();
    (id, app.token(username, PASSWORD).await)
}

/// The last working day up to the service's today (today itself on a working day).
async fn last_working_day(app: &TestApp) -> NaiveDate {
    let admin = app.admin_token().await;
    let today = app.today();
    for back in 0..30 {
        let d = today - Duration::days(back);
        let r = app
            .get(
                &format!("/api/v1/calendar/working-days/add?from={d}&days=0"),
                &admin,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "calendar: {}", r.text);
        if r.body["date"] == d.to_string() {
            return d;
        }
    }
    panic!("no working day in the 30 days up to {today}");
}

/// (actor, agency, username, roles, department).
type UserSpec<'a> = (Who, &'a str, &'a str, &'a [&'a str], Option<&'a str>);

async fn fixture(app: &TestApp) -> Fx {
    let parent = app.create_agency("CITY", None).await;
    let own = app.create_agency("CITY-EPB", Some(&parent)).await;
    let below = app.create_agency("CITY-EPB-STN", Some(&own)).await;
    let dept_clerk = department(app, &own, "办公室").await;
    let dept_approver = department(app, &own, "法规处").await;
    let specs: [UserSpec<'_>; 8] = [
        (
            Who::ParentSupervisorClerk,
            &parent,
            "p_sup_clerk",
            &["supervisor", "clerk"],
            None,
        ),
        (
            Who::ParentSupervisorApprover,
            &parent,
            "p_sup_approver",
            &["supervisor", "approver"],
            None,
        ),
        (
            Who::ParentSupervisor,
            &parent,
            "p_sup",
            &["supervisor"],
            None,
        ),
        (Who::ParentAdmin, &parent, "p_admin", &["admin"], None),
        (
            Who::OwnClerk,
            &own,
            "o_clerk",
            &["clerk"],
            Some(&dept_clerk),
        ),
        (
            Who::OwnApprover,
            &own,
            "o_approver",
            &["approver"],
            Some(&dept_approver),
        ),
        (Who::OwnSupervisor, &own, "o_sup", &["supervisor"], None),
        (Who::BelowClerk, &below, "b_clerk", &["clerk"], None),
    ];
    let mut users = Vec::new();
    for (who, agency, username, roles, dept) in specs {
        let (id, token) = user(app, agency, username, roles, dept).await;
        users.push((who, id, token));
    }
    // The own agency's letterhead: issued notices take their number from it.
    let r = app
        .send_if_match(
            Method::PUT,
            &format!("/api/v1/agencies/{own}/letterhead"),
            &app.admin_token().await,
            &json!({
                "official_name": "某市生态环境局", "seal_name": "某市生态环境局",
                "office_name": "某市生态环境局办公室", "address": "某省某市某区某路1号",
                "postcode": "743000", "telephone": "0932-8212345",
                "number_pattern": "某环依公开〔{year}〕{seq}号",
                "review_body": "某市人民政府", "court": "某市某区人民法院"
            }),
            Some("\"0\""),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "letterhead: {}", r.text);
    let arrival = last_working_day(app).await;
    Fx {
        own,
        users,
        dept_clerk,
        dept_approver,
        arrival,
    }
}

// ---------------------------------------------------------------------------------------------
// The write routes
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Intake,
    PatchRequest,
    Action(&'static str),
    DraftNotice,
    PatchNotice,
    SubmitNotice,
    ApproveNotice,
    ReturnNotice,
    IssueNotice,
    ServeNotice,
    Upload,
    /// `reviews` or `litigations`.
    RecordCase(&'static str),
    PatchCase(&'static str),
    Assign,
    Claim,
    Transfer,
    Return,
    ConsultInternally,
    AnswerConsultation,
}

impl Route {
    fn label(self) -> String {
        match self {
            Route::Intake => "POST /api/v1/requests (agency_id: the own agency)".into(),
            Route::PatchRequest => "PATCH /api/v1/requests/{id}".into(),
            Route::Action(a) => format!("POST /api/v1/requests/{{id}}/actions/{a}"),
            Route::DraftNotice => "POST /api/v1/requests/{id}/notices".into(),
            Route::PatchNotice => "PATCH /api/v1/notices/{id}".into(),
            Route::SubmitNotice => "POST /api/v1/notices/{id}/submit".into(),
            Route::ApproveNotice => "POST /api/v1/notices/{id}/approve".into(),
            Route::ReturnNotice => "POST /api/v1/notices/{id}/return".into(),
            Route::IssueNotice => "POST /api/v1/notices/{id}/issue".into(),
            Route::ServeNotice => "POST /api/v1/notices/{id}/service".into(),
            Route::Upload => "POST /api/v1/requests/{id}/documents".into(),
            Route::RecordCase(k) => format!("POST /api/v1/{k} (agency_id: the own agency)"),
            Route::PatchCase(k) => format!("PATCH /api/v1/{k}/{{id}}"),
            Route::Assign => "POST /api/v1/requests/{id}/assign".into(),
            Route::Claim => "POST /api/v1/requests/{id}/claim".into(),
            Route::Transfer => "POST /api/v1/requests/{id}/transfer".into(),
            Route::Return => "POST /api/v1/requests/{id}/return".into(),
            Route::ConsultInternally => "POST /api/v1/requests/{id}/consult-internally".into(),
            Route::AnswerConsultation => {
                "POST /api/v1/requests/{id}/internal-consultations/{cid}/answer".into()
            }
        }
    }
}

/// What a route writes to: the application, and the record of the route when it has one;
/// `version` is what the write sends as `If-Match`.
#[derive(Debug, Clone, Default)]
struct Target {
    request: String,
    version: i64,
    notice: String,
    case: String,
    consultation: String,
}

/// The statutory actions with a body that parses; dated today. Whether the step is allowed now
/// is judged only for those who may handle the application.
const ACTIONS: [&str; 17] = [
    "confirm_receipt",
    "request_correction",
    "receive_correction",
    "start_consultation",
    "record_consultation_receipt",
    "end_consultation",
    "issue_fee_notice",
    "record_fee_notice_receipt",
    "record_payment",
    "waive_fee",
    "extend",
    "override_deadline",
    "reply",
    "record_reply_service",
    "close_uncorrected",
    "close_unpaid",
    "withdraw",
];

fn action_body(action: &str, today: NaiveDate) -> Value {
    let later = |days: i64| (today + Duration::days(days)).to_string();
    match action {
        "request_correction" => {
            json!({"on": today, "items": ["请写明所需信息的文件名称或文号"], "reply_by": later(14)})
        }
        "start_consultation" => {
            json!({"on": today, "party": "third_party", "whom": "某某建设有限公司"})
        }
        "record_consultation_receipt" | "record_fee_notice_receipt" => {
            json!({"on": today, "received_on": today})
        }
        "end_consultation" => json!({"on": today, "opinion": "consent"}),
        "issue_fee_notice" => {
            json!({"on": today, "basis": "per_page", "pages": 31, "amount_fen": 1000})
        }
        "record_payment" => json!({"on": today, "amount_fen": 1000}),
        "waive_fee" => json!({"on": today, "reason": "申请人确有经济困难，经审核予以免除"}),
        "extend" => {
            json!({"on": today, "days": 10, "reason": "所需信息涉及多个业务处室，需调取档案"})
        }
        "override_deadline" => {
            json!({"on": today, "due_date": later(90), "reason": "申请人短期内提出大量申请，需延长答复期限"})
        }
        "reply" => {
            json!({"on": today, "disposition": "granted", "provision": "以电子邮件方式提供，见附件"})
        }
        "record_reply_service" => json!({"on": today, "served_on": today}),
        "withdraw" => json!({"on": today, "reason": "申请人书面撤回申请"}),
        _ => json!({"on": today}),
    }
}

fn correction_fields(today: NaiveDate, item: &str) -> Value {
    json!({"on": today, "items": [item], "reply_by": (today + Duration::days(14)).to_string()})
}

/// A small PDF (recognised from its content).
fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n%write scope\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
        .to_vec()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn version_of(v: &Value) -> i64 {
    v["version"].as_i64().expect("version")
}

/// The intake body of an in-person application that arrived on `fx.arrival`.
fn intake_body(fx: &Fx, agency: Option<&str>) -> Value {
    let mut body = json!({
        "channel": "in_person",
        "arrived_at": format!("{}T09:30:00+08:00", fx.arrival),
        "applicant": {
            "kind": "natural_person",
            "name": "张三",
            "id_document": {"type": "resident_id_card", "number": "110101199003071233"},
            "phone": "010-65123456",
            "address": "北京市东城区东华门街道1号",
        },
        "description": "申请公开2025年本机关作出的建设项目环境影响评价批复文件",
    });
    if let Some(a) = agency {
        body["agency_id"] = json!(a);
    }
    body
}

/// An application of the own agency, registered (and so held) by its clerk.
async fn application(app: &TestApp, fx: &Fx) -> Value {
    let r = app
        .post(
            "/api/v1/requests",
            fx.token(Who::OwnClerk),
            &intake_body(fx, None),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "intake: {}", r.text);
    assert_eq!(r.body["agency_id"], fx.own.as_str());
    assert_eq!(r.body["state"], "processing", "{}", r.text);
    assert_eq!(
        r.body["holder"]["department_id"],
        fx.dept_clerk.as_str(),
        "held by its clerk's department: {}",
        r.text
    );
    r.body
}

/// A write by the own agency's staff that sets up a target; it must succeed.
fn ok(r: Resp, what: &str) -> Value {
    assert!(r.status.is_success(), "setting up ({what}): {}", r.text);
    r.body
}

async fn post_if_match(app: &TestApp, path: &str, token: &str, body: &Value, v: i64) -> Resp {
    app.send_if_match(Method::POST, path, token, body, Some(&format!("\"{v}\"")))
        .await
}

/// A correction notice drafted by the own clerk on a fresh application, taken to `state`
/// (`draft`, `submitted` or `issued`).
async fn notice_in(app: &TestApp, fx: &Fx, state: &str) -> Target {
    let a = application(app, fx).await;
    let clerk = fx.token(Who::OwnClerk);
    let today = app.today();
    let n = ok(
        app.post(
            &format!("/api/v1/requests/{}/notices", id_of(&a)),
            clerk,
            &json!({"type": "correction", "fields": correction_fields(today, "写明所需信息的文号或者名称")}),
        )
        .await,
        "draft a notice",
    );
    let n = match state {
        "draft" => n,
        "submitted" | "issued" => {
            let step = if state == "submitted" {
                "submit"
            } else {
                "issue"
            };
            let r = app
                .send(
                    app.request(
                        Method::POST,
                        &format!("/api/v1/notices/{}/{step}", id_of(&n)),
                        Some(clerk),
                    )
                    .header("If-Match", format!("\"{}\"", version_of(&n))),
                )
                .await;
            let n = ok(r, step);
            assert_eq!(n["state"], state, "{n}");
            n
        }
        other => panic!("no notice state {other}"),
    };
    Target {
        request: id_of(&a),
        version: version_of(&n),
        notice: id_of(&n),
        ..Target::default()
    }
}

/// Builds what the route writes to, as the own agency's staff would have left it.
async fn prepare(app: &TestApp, fx: &Fx, route: Route) -> Target {
    let clerk = fx.token(Who::OwnClerk);
    let today = app.today();
    match route {
        Route::Intake => Target::default(),
        Route::PatchNotice | Route::SubmitNotice | Route::IssueNotice => {
            notice_in(app, fx, "draft").await
        }
        Route::ApproveNotice | Route::ReturnNotice => notice_in(app, fx, "submitted").await,
        Route::ServeNotice => notice_in(app, fx, "issued").await,
        Route::PatchCase(kind) => {
            let a = application(app, fx).await;
            let c = ok(
                app.post(
                    &format!("/api/v1/{kind}"),
                    clerk,
                    &case_body(kind, today, None, &id_of(&a)),
                )
                .await,
                "record a case",
            );
            Target {
                request: id_of(&a),
                version: version_of(&c),
                case: id_of(&c),
                ..Target::default()
            }
        }
        Route::Claim | Route::Return => {
            // Handed by its clerk to the approver's department (to claim) or to the approver
            // (who may return it).
            let a = application(app, fx).await;
            let to = if route == Route::Claim {
                json!({"department_id": fx.dept_approver})
            } else {
                json!({"user_id": fx.user_id(Who::OwnApprover)})
            };
            let v = ok(
                post_if_match(
                    app,
                    &format!("/api/v1/requests/{}/assign", id_of(&a)),
                    clerk,
                    &to,
                    version_of(&a),
                )
                .await,
                "assign",
            );
            Target {
                request: id_of(&a),
                version: version_of(&v),
                ..Target::default()
            }
        }
        Route::AnswerConsultation => {
            let a = application(app, fx).await;
            let r = ok(
                post_if_match(
                    app,
                    &format!("/api/v1/requests/{}/consult-internally", id_of(&a)),
                    clerk,
                    &json!({"department_id": fx.dept_approver, "question": "请提供相关批复的存档情况"}),
                    version_of(&a),
                )
                .await,
                "consult internally",
            );
            Target {
                request: id_of(&a),
                version: version_of(&r["application"]),
                consultation: id_of(&r["consultation"]),
                ..Target::default()
            }
        }
        _ => {
            let a = application(app, fx).await;
            Target {
                request: id_of(&a),
                version: version_of(&a),
                ..Target::default()
            }
        }
    }
}

fn case_body(kind: &str, today: NaiveDate, agency: Option<&str>, request: &str) -> Value {
    let mut body = if kind == "reviews" {
        json!({"applicant_name": "张三", "reviewing_body": "某市人民政府", "filed_on": today})
    } else {
        json!({"applicant_name": "张三", "court": "某区人民法院", "route": "direct", "filed_on": today})
    };
    body["request_id"] = json!(request);
    if let Some(a) = agency {
        body["agency_id"] = json!(a);
    }
    body
}

/// A write as sent and answered.
struct Sent {
    method: Method,
    path: String,
    resp: Resp,
}

/// Sends a write. Its answer is checked against the OpenAPI document by [`conforms`], after the
/// table's verdict (so that a failure names the route and the actor first).
async fn exchange(app: &TestApp, rb: reqwest::RequestBuilder) -> Sent {
    let req = rb.build().expect("request");
    let method = req.method().clone();
    let path = req.url().path().to_string();
    let resp = Resp::from(app.client.execute(req).await.expect("send")).await;
    Sent { method, path, resp }
}

/// The answer agrees with the OpenAPI document (status, media type, schema, problem code).
fn conforms(s: &Sent) {
    crate::contract::check(
        &s.method,
        &s.path,
        s.resp.status.as_u16(),
        &s.resp.headers,
        &s.resp.text,
    );
}

/// Sends the route's write as `token`.
async fn send(app: &TestApp, fx: &Fx, route: Route, t: &Target, token: &str) -> Sent {
    let today = app.today();
    let req = &t.request;
    let (method, path, body, if_match): (Method, String, Option<Value>, bool) = match route {
        Route::Intake => (
            Method::POST,
            "/api/v1/requests".into(),
            Some(intake_body(fx, Some(&fx.own))),
            false,
        ),
        Route::PatchRequest => (
            Method::PATCH,
            format!("/api/v1/requests/{req}"),
            Some(json!({"description": "申请公开2025年度某项目的环评批复及附件"})),
            true,
        ),
        Route::Action(a) => (
            Method::POST,
            format!("/api/v1/requests/{req}/actions/{a}"),
            Some(action_body(a, today)),
            true,
        ),
        Route::DraftNotice => (
            Method::POST,
            format!("/api/v1/requests/{req}/notices"),
            Some(
                json!({"type": "correction", "fields": correction_fields(today, "写明所需信息的文号")}),
            ),
            false,
        ),
        Route::PatchNotice => (
            Method::PATCH,
            format!("/api/v1/notices/{}", t.notice),
            Some(json!({"fields": correction_fields(today, "写明所需信息的名称")})),
            true,
        ),
        Route::SubmitNotice => (
            Method::POST,
            format!("/api/v1/notices/{}/submit", t.notice),
            None,
            true,
        ),
        Route::ApproveNotice => (
            Method::POST,
            format!("/api/v1/notices/{}/approve", t.notice),
            Some(json!({"opinion": "同意"})),
            true,
        ),
        Route::ReturnNotice => (
            Method::POST,
            format!("/api/v1/notices/{}/return", t.notice),
            Some(json!({"comments": "请补充事实依据"})),
            true,
        ),
        Route::IssueNotice => (
            Method::POST,
            format!("/api/v1/notices/{}/issue", t.notice),
            None,
            true,
        ),
        Route::ServeNotice => (
            Method::POST,
            format!("/api/v1/notices/{}/service", t.notice),
            Some(json!({"method": "email", "sent_on": today, "served_on": today})),
            true,
        ),
        Route::Upload => {
            let form = Form::new()
                .part(
                    "file",
                    Part::bytes(pdf())
                        .file_name("身份证复印件.pdf")
                        .mime_str("application/pdf")
                        .expect("mime"),
                )
                .text("kind", "identity_copy");
            return exchange(
                app,
                app.request(
                    Method::POST,
                    &format!("/api/v1/requests/{req}/documents"),
                    Some(token),
                )
                .multipart(form),
            )
            .await;
        }
        Route::RecordCase(kind) => (
            Method::POST,
            format!("/api/v1/{kind}"),
            Some(case_body(kind, today, Some(&fx.own), req)),
            false,
        ),
        Route::PatchCase(kind) => (
            Method::PATCH,
            format!("/api/v1/{kind}/{}", t.case),
            Some(json!({"notes": "已调取复议（诉讼）材料"})),
            true,
        ),
        Route::Assign => (
            Method::POST,
            format!("/api/v1/requests/{req}/assign"),
            Some(json!({"department_id": fx.dept_approver, "note": "请法规处承办"})),
            true,
        ),
        Route::Claim => (
            Method::POST,
            format!("/api/v1/requests/{req}/claim"),
            Some(json!({})),
            true,
        ),
        Route::Transfer => (
            Method::POST,
            format!("/api/v1/requests/{req}/transfer"),
            Some(json!({"department_id": fx.dept_approver, "reason": "所申请信息由法规处掌握"})),
            true,
        ),
        Route::Return => (
            Method::POST,
            format!("/api/v1/requests/{req}/return"),
            Some(json!({"reason": "不属本人承办"})),
            true,
        ),
        Route::ConsultInternally => (
            Method::POST,
            format!("/api/v1/requests/{req}/consult-internally"),
            Some(
                json!({"department_id": fx.dept_approver, "question": "请提供相关批复的存档情况"}),
            ),
            true,
        ),
        Route::AnswerConsultation => (
            Method::POST,
            format!(
                "/api/v1/requests/{req}/internal-consultations/{}/answer",
                t.consultation
            ),
            Some(json!({"answer": "批复已存档，可以公开"})),
            true,
        ),
    };
    let mut rb = app.request(method, &path, Some(token));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    if if_match {
        rb = rb.header("If-Match", format!("\"{}\"", t.version));
    }
    exchange(app, rb).await
}

// ---------------------------------------------------------------------------------------------
// Reading back, and the table's loop
// ---------------------------------------------------------------------------------------------

/// What a write to the target could change, read by the root admin: the application (its
/// version, ETag and trail) and the records the route writes.
async fn look(app: &TestApp, fx: &Fx, route: Route, t: &Target) -> Value {
    let admin = app.admin_token().await;
    let read = |path: String| {
        let admin = admin.clone();
        async move {
            let r = app.get(&path, &admin).await;
            assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.text);
            r
        }
    };
    if route == Route::Intake {
        let r = read(format!(
            "/api/v1/requests?agency_id={}&per_page=100",
            fx.own
        ))
        .await;
        return json!({"applications": r.body});
    }
    let req = &t.request;
    let detail = read(format!("/api/v1/requests/{req}")).await;
    let events = read(format!("/api/v1/requests/{req}/events")).await.body;
    let events = events
        .as_array()
        .or_else(|| events["items"].as_array())
        .cloned()
        .expect("events");
    let mut seen = json!({
        "version": detail.body["version"],
        "etag": detail.header("etag"),
        "event_count": events.len(),
        "application": detail.body,
        "events": events,
    });
    let extra: Vec<String> = match route {
        Route::DraftNotice
        | Route::PatchNotice
        | Route::SubmitNotice
        | Route::ApproveNotice
        | Route::ReturnNotice
        | Route::IssueNotice
        | Route::ServeNotice => {
            let mut v = vec![format!("/api/v1/requests/{req}/notices")];
            if !t.notice.is_empty() {
                v.push(format!("/api/v1/notices/{}", t.notice));
            }
            v
        }
        Route::Upload => vec![format!("/api/v1/requests/{req}/documents")],
        Route::RecordCase(k) | Route::PatchCase(k) => {
            vec![format!("/api/v1/{k}?request_id={req}&per_page=100")]
        }
        Route::Assign
        | Route::Claim
        | Route::Transfer
        | Route::Return
        | Route::ConsultInternally
        | Route::AnswerConsultation => {
            vec![format!("/api/v1/requests/{req}/internal-consultations")]
        }
        _ => Vec::new(),
    };
    for path in extra {
        let r = read(path.clone()).await;
        seen[path] = r.body;
    }
    seen
}

/// What the table's writes answered: the pairs that disagree with it (each naming the route
/// and the actor), and every write for the contract check at the end.
#[derive(Default)]
struct Verdicts {
    failures: Vec<String>,
    sent: Vec<Sent>,
}

impl Verdicts {
    /// Fails with every disagreeing pair at once; then checks each answer against the OpenAPI
    /// document.
    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} (route, actor) pairs disagree with the rule:\n  {}",
            self.failures.len(),
            self.failures.join("\n  ")
        );
        for s in &self.sent {
            conforms(s);
        }
    }
}

/// Whether the answer is what the table says.
fn judge(r: &Resp, expect: Expect) -> Result<(), String> {
    let got = || format!("got {} {}", r.status.as_u16(), r.text);
    match expect {
        Done(status) if r.status.as_u16() == status => Ok(()),
        Done(status) => Err(format!("expected {status}, {}", got())),
        No(status, code) => {
            if r.status.as_u16() == status
                && r.body["code"] == code
                && r.header("content-type") == Some("application/problem+json")
            {
                Ok(())
            } else {
                Err(format!(
                    "expected {status} {code} (problem+json), {}",
                    got()
                ))
            }
        }
        Field(field, code) => {
            let errors: Vec<(String, String)> = r.body["errors"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            (
                                e["field"].as_str().unwrap_or_default().to_string(),
                                e["code"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            if r.status.as_u16() == 422
                && r.body["code"] == "validation_failed"
                && errors == [(field.to_string(), code.to_string())]
            {
                Ok(())
            } else {
                Err(format!(
                    "expected 422 validation_failed ({field}: {code}), {}",
                    got()
                ))
            }
        }
    }
}

/// Runs one route of the table: the refusals on one target, each leaving it as it was (the
/// application's version, ETag and trail, and the route's record); then each allowed actor on a
/// fresh target of its own, which the write changes.
async fn run(
    app: &TestApp,
    fx: &Fx,
    route: Route,
    table: &[(Who, Expect)],
    verdicts: &mut Verdicts,
) {
    let label = route.label();
    let mut target = prepare(app, fx, route).await;
    let mut before = look(app, fx, route, &target).await;
    for &(who, expect) in table.iter().filter(|(_, e)| !matches!(e, Done(_))) {
        let who_name = who.name();
        let sent = send(app, fx, route, &target, fx.token(who)).await;
        if let Err(e) = judge(&sent.resp, expect) {
            verdicts
                .failures
                .push(format!("{label} as {who_name}: {e}"));
        }
        verdicts.sent.push(sent);
        let after = look(app, fx, route, &target).await;
        let changed: Vec<&str> = ["version", "etag", "event_count"]
            .into_iter()
            .filter(|k| after.get(*k) != before.get(*k))
            .collect();
        if after != before {
            verdicts.failures.push(format!(
                "{label} as {who_name}: refused, yet something was written \
                 (the application's {changed:?} changed; before: {before}; after: {after})"
            ));
            // The next actors meet a target as the own agency left it.
            target = prepare(app, fx, route).await;
            before = look(app, fx, route, &target).await;
        }
    }
    for &(who, expect) in table.iter().filter(|(_, e)| matches!(e, Done(_))) {
        let who_name = who.name();
        let fresh = prepare(app, fx, route).await;
        let was = look(app, fx, route, &fresh).await;
        let sent = send(app, fx, route, &fresh, fx.token(who)).await;
        if let Err(e) = judge(&sent.resp, expect) {
            verdicts
                .failures
                .push(format!("{label} as {who_name}: {e}"));
        } else if look(app, fx, route, &fresh).await == was {
            verdicts.failures.push(format!(
                "{label} as {who_name}: answered {}, yet nothing was written",
                sent.resp.status
            ));
        }
        verdicts.sent.push(sent);
    }
}

// ---------------------------------------------------------------------------------------------
// The tables
// ---------------------------------------------------------------------------------------------

/// A write to a record of the own agency: its staff and the admin above handle it; supervisors
/// above who are also clerks or approvers only read it; a supervisor alone is refused by role;
/// the agency below does not see it.
fn handled_by_own_agency_or_admin_above(done: u16) -> Vec<(Who, Expect)> {
    vec![
        (Who::ParentSupervisorClerk, No(403, "not_own_agency")),
        (Who::ParentSupervisorApprover, No(403, "not_own_agency")),
        (Who::ParentSupervisor, No(403, "forbidden")),
        (Who::OwnSupervisor, No(403, "forbidden")),
        (Who::BelowClerk, No(404, "not_found")),
        (Who::ParentAdmin, Done(done)),
        (Who::OwnClerk, Done(done)),
        (Who::OwnApprover, Done(done)),
    ]
}

/// Registering in the own agency: its staff and the admin above; the others may not name it.
fn registered_by_own_agency_or_admin_above() -> Vec<(Who, Expect)> {
    vec![
        (
            Who::ParentSupervisorClerk,
            Field("agency_id", "unknown_agency"),
        ),
        (
            Who::ParentSupervisorApprover,
            Field("agency_id", "unknown_agency"),
        ),
        (Who::ParentSupervisor, No(403, "forbidden")),
        (Who::OwnSupervisor, No(403, "forbidden")),
        (Who::BelowClerk, Field("agency_id", "unknown_agency")),
        (Who::ParentAdmin, Done(201)),
        (Who::OwnClerk, Done(201)),
        (Who::OwnApprover, Done(201)),
    ]
}

/// A hand-over: only the application's own agency, whoever above it; `own` are the answers of
/// the own clerk and approver (the domain's rules of who holds what).
fn inside_the_own_office(own: [(Who, Expect); 2]) -> Vec<(Who, Expect)> {
    let mut t = vec![
        (Who::ParentSupervisorClerk, No(403, "forbidden")),
        (Who::ParentSupervisorApprover, No(403, "forbidden")),
        (Who::ParentSupervisor, No(403, "forbidden")),
        (Who::ParentAdmin, No(403, "forbidden")),
        (Who::OwnSupervisor, No(403, "forbidden")),
        (Who::BelowClerk, No(404, "not_found")),
    ];
    t.extend(own);
    t
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

async fn every_step_and_correction_of_an_application_is_handled_by_its_own_agency_or_an_admin_above(
    app: TestApp,
) {
    let fx = fixture(&app).await;
    let mut v = Verdicts::default();
    // The parent's staff read the application they may not write.
    let t = prepare(&app, &fx, Route::PatchRequest).await;
    for who in [
        Who::ParentSupervisorClerk,
        Who::ParentSupervisorApprover,
        Who::ParentSupervisor,
        Who::ParentAdmin,
    ] {
        let r = app
            .get(&format!("/api/v1/requests/{}", t.request), fx.token(who))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{} reads: {}", who.name(), r.text);
    }
    app.get(
        &format!("/api/v1/requests/{}", t.request),
        fx.token(Who::BelowClerk),
    )
    .await
    .assert_problem(404, "not_found");

    run(
        &app,
        &fx,
        Route::Intake,
        &registered_by_own_agency_or_admin_above(),
        &mut v,
    )
    .await;
    run(
        &app,
        &fx,
        Route::PatchRequest,
        &handled_by_own_agency_or_admin_above(200),
        &mut v,
    )
    .await;
    for action in ACTIONS {
        // Every action is refused to those who may not handle the application, whatever the
        // step (most would be judged not allowed now: the refusal comes first).
        let mut table = vec![
            (Who::ParentSupervisorClerk, No(403, "not_own_agency")),
            (Who::ParentSupervisorApprover, No(403, "not_own_agency")),
            (Who::ParentSupervisor, No(403, "forbidden")),
            (Who::OwnSupervisor, No(403, "forbidden")),
            (Who::BelowClerk, No(404, "not_found")),
        ];
        // The representative valid steps, performed with the very bodies refused above: a
        // correction by a clerk or the admin above; an extension by an approver only (the
        // admin above passes the agency's rule, then meets the step's).
        match action {
            "request_correction" => table.extend([
                (Who::ParentAdmin, Done(200)),
                (Who::OwnClerk, Done(200)),
                (Who::OwnApprover, Done(200)),
            ]),
            "extend" => table.extend([
                (Who::ParentAdmin, No(403, "approver_required")),
                (Who::OwnClerk, No(403, "approver_required")),
                (Who::OwnApprover, Done(200)),
            ]),
            _ => {}
        }
        run(&app, &fx, Route::Action(action), &table, &mut v).await;
    }
    v.finish();
}

async fn notices_are_drafted_approved_issued_and_served_by_the_own_agency_or_an_admin_above(
    app: TestApp,
) {
    let fx = fixture(&app).await;
    let mut v = Verdicts::default();
    run(
        &app,
        &fx,
        Route::DraftNotice,
        &handled_by_own_agency_or_admin_above(201),
        &mut v,
    )
    .await;
    for route in [
        Route::PatchNotice,
        Route::SubmitNotice,
        Route::IssueNotice,
        Route::ServeNotice,
    ] {
        run(
            &app,
            &fx,
            route,
            &handled_by_own_agency_or_admin_above(200),
            &mut v,
        )
        .await;
    }
    // Approving and returning are the approver's: the supervisor+approver above is refused
    // for the agency, not the role; the admin above passes the agency's rule, not the role's.
    for route in [Route::ApproveNotice, Route::ReturnNotice] {
        let table = vec![
            (Who::ParentSupervisorClerk, No(403, "not_own_agency")),
            (Who::ParentSupervisorApprover, No(403, "not_own_agency")),
            (Who::ParentSupervisor, No(403, "forbidden")),
            (Who::ParentAdmin, No(403, "forbidden")),
            (Who::OwnClerk, No(403, "forbidden")),
            (Who::OwnSupervisor, No(403, "forbidden")),
            (Who::BelowClerk, No(404, "not_found")),
            (Who::OwnApprover, Done(200)),
        ];
        run(&app, &fx, route, &table, &mut v).await;
    }
    v.finish();
}

async fn documents_reviews_and_lawsuits_are_recorded_by_the_own_agency_or_an_admin_above(
    app: TestApp,
) {
    let fx = fixture(&app).await;
    let mut v = Verdicts::default();
    run(
        &app,
        &fx,
        Route::Upload,
        &handled_by_own_agency_or_admin_above(201),
        &mut v,
    )
    .await;
    for kind in ["reviews", "litigations"] {
        run(
            &app,
            &fx,
            Route::RecordCase(kind),
            &registered_by_own_agency_or_admin_above(),
            &mut v,
        )
        .await;
        run(
            &app,
            &fx,
            Route::PatchCase(kind),
            &handled_by_own_agency_or_admin_above(200),
            &mut v,
        )
        .await;
    }
    v.finish();
}

async fn hand_overs_stay_inside_the_applications_own_agency_even_for_an_admin_above(app: TestApp) {
    let fx = fixture(&app).await;
    let mut v = Verdicts::default();
    let tables = [
        // The clerk holds it; the approver directs the office.
        (
            Route::Assign,
            [(Who::OwnClerk, Done(200)), (Who::OwnApprover, Done(200))],
        ),
        // Handed to the approver's department: its member claims it.
        (
            Route::Claim,
            [
                (Who::OwnClerk, No(409, "not_in_holding_department")),
                (Who::OwnApprover, Done(200)),
            ],
        ),
        (
            Route::Transfer,
            [(Who::OwnClerk, Done(200)), (Who::OwnApprover, Done(200))],
        ),
        // Handed by the clerk to the approver: the approver returns it.
        (
            Route::Return,
            [
                (Who::OwnClerk, No(409, "not_holder")),
                (Who::OwnApprover, Done(200)),
            ],
        ),
        (
            Route::ConsultInternally,
            [(Who::OwnClerk, Done(201)), (Who::OwnApprover, Done(201))],
        ),
        // Asked of the approver's department: its member answers.
        (
            Route::AnswerConsultation,
            [
                (Who::OwnClerk, No(409, "not_in_consulted_department")),
                (Who::OwnApprover, Done(200)),
            ],
        ),
    ];
    for (route, own) in tables {
        run(&app, &fx, route, &inside_the_own_office(own), &mut v).await;
    }
    v.finish();
}
