//! Notices (issue 13 items 2–4): drafted from the case and the letterhead, checked against the
//! law, submitted, approved or returned, and issued — issuing numbers the letter (gapless, also
//! across processes), freezes its text and performs the act on the application.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    a_state_secret_refusal_without_article_14_cannot_be_approved_and_with_it_can,
    a_refusal_since_2024_whose_remedy_clause_offers_a_direct_suit_has_an_error_finding,
    issuing_a_correction_notice_moves_the_application_and_a_closure_closes_it,
    the_check_finds_a_missing_letterhead_an_identity_number_and_a_missing_period,
    document_numbers_are_gapless_when_two_processes_issue_at_once,
    notices_keep_to_the_callers_scope_and_approval_to_approvers,
    a_served_consultation_starts_its_15_days_and_a_served_reply_the_applicants_limits,
    the_applicant_downloads_the_issued_reply_which_is_then_served_online_that_day,
    which_types_need_approval_is_set_per_agency_and_inherited_down_the_tree,
);

const RID: &str = "110101199003071233";

struct Office {
    clerk: String,
    approver: String,
    root: String,
}

async fn office(app: &TestApp, with_letterhead: bool) -> Office {
    let root = app.root_agency_id().await;
    let (_, clerk) = app.create_user(&root, "clerk1", &["clerk"]).await;
    let (_, approver) = app.create_user(&root, "approver1", &["approver"]).await;
    if with_letterhead {
        let r = app
            .request(
                Method::PUT,
                &format!("/api/v1/agencies/{root}/letterhead"),
                Some(&app.admin_token().await),
            )
            .header("If-Match", "\"0\"")
            .json(&json!({
                "official_name": "定西市民政局", "seal_name": "定西市民政局",
                "office_name": "定西市民政局办公室", "address": "甘肃省定西市安定区永定路1号",
                "postcode": "743000", "telephone": "0932-8212345",
                "number_pattern": "定民依公开〔{year}〕{seq}号",
                "review_body": "定西市人民政府", "court": "定西市安定区人民法院"
            }))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK);
    }
    Office {
        clerk,
        approver,
        root,
    }
}

async fn intake(app: &TestApp, token: &str, date: &str) -> Value {
    let body = json!({
        "channel": "in_person",
        "arrived_at": format!("{date}T09:30:00+08:00"),
        "applicant": {"kind": "natural_person", "name": "张三",
                      "id_document": {"type": "resident_id_card", "number": RID}, "phone": "0932-1234567"},
        "description": "2025年本机关作出的建设项目环境影响评价批复文件",
    });
    let r = app.post("/api/v1/requests", token, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn draft(app: &TestApp, token: &str, request: &Value, body: &Value) -> Value {
    let r = app
        .post(
            &format!("/api/v1/requests/{}/notices", id_of(request)),
            token,
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/notices/{}", id_of(&r.body)).as_str())
    );
    r.body
}

async fn step(
    app: &TestApp,
    token: &str,
    notice: &Value,
    what: &str,
    body: Option<&Value>,
) -> Resp {
    let mut rb = app
        .request(
            Method::POST,
            &format!("/api/v1/notices/{}/{what}", id_of(notice)),
            Some(token),
        )
        .header("If-Match", format!("\"{}\"", notice["version"]));
    if let Some(b) = body {
        rb = rb.json(b);
    }
    Resp::from(rb.send().await.expect("send")).await
}

async fn patch(app: &TestApp, token: &str, notice: &Value, body: &Value) -> Value {
    let r = app
        .patch(
            &format!("/api/v1/notices/{}", id_of(notice)),
            token,
            body,
            notice["version"].as_i64(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

fn codes(notice: &Value, severity: &str) -> Vec<String> {
    notice["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| f["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn refusal(basis: &str) -> Value {
    json!({"type": "reply", "fields": {"on": "2026-03-10", "disposition": "denied.state_secret",
        "reason": "您申请的信息经依法确定为国家秘密。", "legal_basis": basis}})
}

async fn a_state_secret_refusal_without_article_14_cannot_be_approved_and_with_it_can(
    app: TestApp,
) {
    let o = office(&app, true).await;
    let req = intake(&app, &o.clerk, "2026-03-02").await;
    let n = draft(
        &app,
        &o.clerk,
        &req,
        &refusal("《中华人民共和国政府信息公开条例》第十六条"),
    )
    .await;
    assert_eq!(n["state"], "draft");
    assert_eq!(n["needs_approval"], true);
    assert_eq!(
        codes(&n, "error"),
        vec!["article_missing"],
        "{}",
        n["findings"]
    );
    let text = n["text"].as_str().expect("text");
    assert!(
        text.contains("张三") && text.contains("ROOT-2026-000001"),
        "{text}"
    );
    assert!(
        text.contains("定西市人民政府申请行政复议"),
        "the review body of the letterhead: {text}"
    );
    step(&app, &o.clerk, &n, "submit", None)
        .await
        .assert_problem(409, "notice_has_errors");

    // Citing 第十四条 clears it; submit, approve, issue.
    let n = patch(
        &app,
        &o.clerk,
        &n,
        &json!({"fields": refusal("《中华人民共和国政府信息公开条例》第十四条")["fields"]}),
    )
    .await;
    assert_eq!(
        codes(&n, "error"),
        Vec::<String>::new(),
        "{}",
        n["findings"]
    );
    let r = step(&app, &o.clerk, &n, "issue", None).await;
    r.assert_problem(409, "approval_required");
    let n = step(&app, &o.clerk, &n, "submit", None).await.body;
    assert_eq!(n["state"], "submitted");
    let n = step(
        &app,
        &o.approver,
        &n,
        "approve",
        Some(&json!({"opinion": "同意"})),
    )
    .await
    .body;
    assert_eq!(n["state"], "approved", "{n}");
    let r = step(&app, &o.clerk, &n, "issue", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let n = r.body;
    assert_eq!(n["state"], "issued");
    assert_eq!(n["number"], "定民依公开〔2026〕1号");
    let text = n["text"].as_str().expect("text");
    assert!(text.contains("定民依公开〔2026〕1号"));
    assert_eq!(
        n["text_sha256"],
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    );
    let decisions: Vec<&str> = n["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, vec!["submitted", "approved"]);
    // Issuing performed the reply.
    let a = app
        .get(&format!("/api/v1/requests/{}", id_of(&req)), &o.clerk)
        .await
        .body;
    assert_eq!(a["state"], "closed");
    assert_eq!(a["disposition"], "denied.state_secret");
    assert_eq!(a["closed_on"], "2026-03-10");
    // Issued is final.
    step(&app, &o.clerk, &n, "issue", None)
        .await
        .assert_problem(409, "invalid_transition");
    let again = app
        .get(&format!("/api/v1/notices/{}", id_of(&n)), &o.clerk)
        .await
        .body;
    assert_eq!(again["text"], n["text"], "the frozen text");
}

async fn a_refusal_since_2024_whose_remedy_clause_offers_a_direct_suit_has_an_error_finding(
    app: TestApp,
) {
    let o = office(&app, true).await;
    let req = intake(&app, &o.clerk, "2026-03-02").await;
    let body = refusal("《中华人民共和国政府信息公开条例》第十四条");
    let n = draft(&app, &o.clerk, &req, &body).await;
    let clause = n["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "remedy")
        .expect("remedy")["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        clause.contains("六十日") && clause.contains("定西市人民政府"),
        "{clause}"
    );
    assert!(!clause.contains("六个月"), "review first: {clause}");
    // The office writes the old clause by hand.
    let old = "如对本答复不服，可以自收到本答复之日起六十日内向定西市人民政府申请行政复议，或者自收到本答复之日起六个月内向定西市安定区人民法院提起行政诉讼。";
    let n = patch(&app, &o.clerk, &n, &json!({"paragraphs": {"remedy": old}})).await;
    assert_eq!(
        codes(&n, "error"),
        vec!["direct_suit_offered"],
        "{}",
        n["findings"]
    );
    // A grant offers both, and names the court.
    let other = intake(&app, &o.clerk, "2026-03-03").await;
    let g = draft(&app, &o.clerk, &other, &json!({"type": "reply", "fields": {"on": "2026-03-10", "disposition": "granted", "provision": "以电子邮件方式提供"}})).await;
    assert_eq!(
        codes(&g, "error"),
        Vec::<String>::new(),
        "{}",
        g["findings"]
    );
    assert!(
        g["text"]
            .as_str()
            .unwrap()
            .contains("六个月内向定西市安定区人民法院提起行政诉讼")
    );
    // A clause that drops the court or the 60 days is caught.
    let g = patch(
        &app,
        &o.clerk,
        &g,
        &json!({"paragraphs": {"remedy": "如不服，可以申请行政复议或者提起行政诉讼。"}}),
    )
    .await;
    let errs = codes(&g, "error");
    assert!(
        errs.contains(&"remedy_period_missing".to_string())
            && errs.contains(&"review_body_missing".to_string())
            && errs.contains(&"court_missing".to_string()),
        "{errs:?}"
    );
}

async fn issuing_a_correction_notice_moves_the_application_and_a_closure_closes_it(app: TestApp) {
    let o = office(&app, true).await;
    let req = intake(&app, &o.clerk, "2026-03-02").await;
    let n = draft(&app, &o.clerk, &req, &json!({"type": "correction", "fields": {"on": "2026-03-04", "items": ["写明所需信息的文号或者名称"], "reply_by": "2026-03-18"}})).await;
    assert_eq!(n["needs_approval"], false);
    let text = n["text"].as_str().unwrap();
    assert!(
        text.contains("1. 写明所需信息的文号或者名称")
            && text.contains("2026年3月18日")
            && text.contains("视为放弃申请"),
        "{text}"
    );
    let r = step(&app, &o.clerk, &n, "issue", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["number"], "定民依公开〔2026〕1号");
    let a = app
        .get(&format!("/api/v1/requests/{}", id_of(&req)), &o.clerk)
        .await
        .body;
    assert_eq!(a["state"], "awaiting_correction");
    assert_eq!(
        a["warnings"],
        json!([]),
        "the act was performed by its notice"
    );
    let events = app
        .get(
            &format!("/api/v1/requests/{}/events", id_of(&req)),
            &o.clerk,
        )
        .await
        .body;
    let last = events
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .or_else(|| events["items"].as_array().and_then(|e| e.last()).cloned())
        .expect("events");
    assert_eq!(last["action"], "request_correction", "{last}");
    assert_eq!(
        last["payload"]["notice_number"], "定民依公开〔2026〕1号",
        "{last}"
    );

    // Closure before the reply-by date: the act refuses, the notice stays a draft.
    let c = draft(
        &app,
        &o.clerk,
        &req,
        &json!({"type": "closure", "fields": {"on": "2026-03-18"}}),
    )
    .await;
    step(&app, &o.clerk, &c, "issue", None)
        .await
        .assert_problem(409, "correction_deadline_not_passed");
    let c = app
        .get(&format!("/api/v1/notices/{}", id_of(&c)), &o.clerk)
        .await
        .body;
    assert_eq!(c["state"], "draft");
    let c = patch(&app, &o.clerk, &c, &json!({"fields": {"on": "2026-03-19"}})).await;
    assert!(
        c["text"].as_str().unwrap().contains("逾期未补正"),
        "{}",
        c["text"]
    );
    let r = step(&app, &o.clerk, &c, "issue", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["number"], "定民依公开〔2026〕2号",
        "no number was used by the refused issue"
    );
    let a = app
        .get(&format!("/api/v1/requests/{}", id_of(&req)), &o.clerk)
        .await
        .body;
    assert_eq!(a["disposition"], "other.uncorrected");
    // An act recorded through its action, without a notice, is flagged on the detail.
    let bare = intake(&app, &o.clerk, "2026-03-05").await;
    let r = app
        .request(
            Method::POST,
            &format!(
                "/api/v1/requests/{}/actions/request_correction",
                id_of(&bare)
            ),
            Some(&o.clerk),
        )
        .header("If-Match", format!("\"{}\"", bare["version"]))
        .json(&json!({"on": "2026-03-06", "items": ["写明文号"], "reply_by": "2026-03-20"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let answered: Value = r.json().await.expect("the action answers JSON");
    let b = app
        .get(&format!("/api/v1/requests/{}", id_of(&bare)), &o.clerk)
        .await
        .body;
    assert_eq!(
        b["warnings"][0]["code"], "act_without_notice",
        "{}",
        b["warnings"]
    );
    // The action's own answer shows the detail as a later read does.
    assert_eq!(answered["warnings"], b["warnings"]);
    // The application keeps that act as written (a read aggregates no trail), the same as the
    // rule in SQL finds in the trails; the acts performed by notices are not kept.
    let target = gongkai::db::DbTarget::parse(&app.settings.database.url).expect("url");
    let mut conn = gongkai::db::ConnectionManager::new(target, 5000)
        .connect_once()
        .expect("connect");
    let acts = gongkai::db::requests::check_acts_without_notice(&mut conn).expect("acts");
    assert_eq!(acts.noted, 1, "{acts:?}");
    assert!(acts.drifted.is_empty(), "{acts:?}");
}

async fn the_check_finds_a_missing_letterhead_an_identity_number_and_a_missing_period(
    app: TestApp,
) {
    let o = office(&app, false).await;
    let req = intake(&app, &o.clerk, "2026-03-02").await;
    let r = draft(
        &app,
        &o.clerk,
        &req,
        &json!({"type": "receipt", "fields": {"on": "2026-03-02"}}),
    )
    .await;
    let errs = codes(&r, "error");
    assert!(
        errs.iter().all(|c| c == "letterhead_incomplete") && errs.len() == 3,
        "official_name, seal_name, number_pattern: {errs:?}"
    );
    step(&app, &o.clerk, &r, "issue", None)
        .await
        .assert_problem(409, "notice_has_errors");
    office_letterhead(&app).await;
    let r = app
        .get(&format!("/api/v1/notices/{}", id_of(&r)), &o.clerk)
        .await
        .body;
    assert_eq!(
        codes(&r, "error"),
        Vec::<String>::new(),
        "{}",
        r["findings"]
    );
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains(r#"ROOT-2026-000001"#) && text.contains("查询码"),
        "{text}"
    );

    let r = patch(
        &app,
        &o.clerk,
        &r,
        &json!({"paragraphs": {"recipient": format!("张三（身份证号{RID}）：")}}),
    )
    .await;
    assert_eq!(codes(&r, "error"), vec!["identity_number_in_full"]);

    let c = draft(&app, &o.clerk, &req, &json!({"type": "consultation", "fields": {"on": "2026-03-03", "party": "third_party", "whom": "某某建设有限公司"}, "paragraphs": {"period": "请尽快提出意见。"}})).await;
    assert_eq!(codes(&c, "error"), vec!["period_missing"]);
    let f = draft(&app, &o.clerk, &req, &json!({"type": "fee", "fields": {"on": "2026-03-03", "basis": "per_piece", "amount_fen": 10000}})).await;
    assert!(
        f["text"].as_str().unwrap().contains("20个工作日"),
        "{}",
        f["text"]
    );
    // A paragraph the type does not have, and a field of another act, are refused.
    let r = app.post(&format!("/api/v1/requests/{}/notices", id_of(&req)), &o.clerk, &json!({"type": "fee", "fields": {"on": "2026-03-03", "basis": "per_piece", "amount_fen": 10000, "items": []}, "paragraphs": {"remedy": "x"}})).await;
    r.assert_problem(422, "validation_failed");
    assert!(r.text.contains("fields.items"), "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/requests/{}/notices", id_of(&req)),
            &o.clerk,
            &json!({"type": "memo", "fields": {}}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
}

async fn office_letterhead(app: &TestApp) {
    let root = app.root_agency_id().await;
    let r = app
        .request(Method::PUT, &format!("/api/v1/agencies/{root}/letterhead"), Some(&app.admin_token().await))
        .header("If-Match", "\"0\"")
        .json(&json!({"official_name": "定西市民政局", "seal_name": "定西市民政局", "office_name": null,
            "address": null, "postcode": null, "telephone": null, "number_pattern": "定民依公开〔{year}〕{seq}号",
            "review_body": "定西市人民政府", "court": "定西市安定区人民法院"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
}

async fn document_numbers_are_gapless_when_two_processes_issue_at_once(app: TestApp) {
    let o = office(&app, true).await;
    let (base2, handle) = app.another_server().await;
    let mut drafts = Vec::new();
    for i in 0..8 {
        let req = intake(&app, &o.clerk, &format!("2026-03-{:02}", 2 + i)).await;
        drafts.push(
            draft(
                &app,
                &o.clerk,
                &req,
                &json!({"type": "receipt", "fields": {"on": format!("2026-03-{:02}", 2 + i)}}),
            )
            .await,
        );
    }
    let mut tasks = Vec::new();
    for (i, n) in drafts.iter().enumerate() {
        let base = if i % 2 == 0 {
            app.base.clone()
        } else {
            base2.clone()
        };
        let rb = app
            .client
            .post(format!("{base}/api/v1/notices/{}/issue", id_of(n)))
            .bearer_auth(&o.clerk)
            .header("If-Match", format!("\"{}\"", n["version"]));
        tasks.push(tokio::spawn(async move {
            Resp::from(rb.send().await.expect("send")).await
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        numbers.push(r.body["number"].as_str().expect("number").to_string());
    }
    handle.stop(false).await;
    numbers.sort_by_key(|n| {
        n.trim_start_matches("定民依公开〔2026〕")
            .trim_end_matches('号')
            .parse::<u32>()
            .unwrap_or(0)
    });
    let want: Vec<String> = (1..=8)
        .map(|i| format!("定民依公开〔2026〕{i}号"))
        .collect();
    assert_eq!(numbers, want, "1 to 8, none twice, none skipped");
}

async fn notices_keep_to_the_callers_scope_and_approval_to_approvers(app: TestApp) {
    let o = office(&app, true).await;
    let req = intake(&app, &o.clerk, "2026-03-02").await;
    let n = draft(
        &app,
        &o.clerk,
        &req,
        &refusal("《中华人民共和国政府信息公开条例》第十四条"),
    )
    .await;
    let other = app.create_agency("OTHER", Some(&o.root)).await;
    let (_, stranger) = app
        .create_user(&other, "other.clerk", &["clerk", "approver"])
        .await;
    app.get(&format!("/api/v1/notices/{}", id_of(&n)), &stranger)
        .await
        .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/requests/{}/notices", id_of(&req)),
        &stranger,
    )
    .await
    .assert_problem(404, "not_found");
    let n = step(&app, &o.clerk, &n, "submit", None).await.body;
    step(&app, &o.clerk, &n, "approve", Some(&json!({})))
        .await
        .assert_problem(403, "forbidden");
    // A stale version and a missing one.
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/notices/{}/approve", id_of(&n)),
            Some(&o.approver),
        )
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::PRECONDITION_REQUIRED);
    let r = step(
        &app,
        &o.approver,
        &json!({"id": n["id"], "version": 1}),
        "approve",
        Some(&json!({})),
    )
    .await;
    r.assert_problem(412, "version_mismatch");
    // Returned with comments, it is a draft again and may be changed.
    let r = step(
        &app,
        &o.approver,
        &n,
        "return",
        Some(&json!({"comments": "请补充事实依据"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "draft");
    assert_eq!(r.body["approvals"][1]["opinion"], "请补充事实依据");
    let list = app
        .get(
            &format!("/api/v1/requests/{}/notices", id_of(&req)),
            &o.clerk,
        )
        .await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1));
}

async fn serve(app: &TestApp, token: &str, notice: &Value, body: &Value) -> Resp {
    step(app, token, notice, "service", Some(body)).await
}

async fn a_served_consultation_starts_its_15_days_and_a_served_reply_the_applicants_limits(
    app: TestApp,
) {
    let o = office(&app, true).await;
    let req = intake(&app, &o.clerk, "2026-03-02").await;
    let c = draft(&app, &o.clerk, &req, &json!({"type": "consultation", "fields": {"on": "2026-03-03", "party": "third_party", "whom": "某某建设有限公司"}})).await;
    serve(
        &app,
        &o.clerk,
        &c,
        &json!({"method": "email", "sent_on": "2026-03-03", "served_on": "2026-03-03"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    let c = step(&app, &o.clerk, &c, "issue", None).await.body;
    assert_eq!(c["state"], "issued", "{c}");
    // Post needs its number; a date before sending is refused.
    let r = serve(
        &app,
        &o.clerk,
        &c,
        &json!({"method": "post", "sent_on": "2026-03-03", "served_on": "2026-03-09"}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "tracking_number");
    let r = serve(&app, &o.clerk, &c, &json!({"method": "post", "sent_on": "2026-03-03", "served_on": "2026-03-02", "tracking_number": "1151234567890"})).await;
    r.assert_problem(422, "validation_failed");
    // Returned undelivered first: not served, the window still provisional.
    let c = serve(&app, &o.clerk, &c, &json!({"method": "post", "sent_on": "2026-03-03", "returned_on": "2026-03-06", "tracking_number": "1151234567890"})).await.body;
    assert_eq!(c["served_on"], Value::Null, "{c}");
    let a = app
        .get(&format!("/api/v1/requests/{}", id_of(&req)), &o.clerk)
        .await
        .body;
    assert_eq!(
        a["workflow"]["clock"]["pauses"][0]["received_on"],
        Value::Null
    );
    // Served on the second attempt: the 15 working days run from 2026-03-09.
    let r = serve(&app, &o.clerk, &c, &json!({"method": "post", "sent_on": "2026-03-06", "served_on": "2026-03-09", "tracking_number": "1151234567891"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["served_on"], "2026-03-09");
    assert_eq!(r.body["service"].as_array().map(Vec::len), Some(2));
    let a = app
        .get(&format!("/api/v1/requests/{}", id_of(&req)), &o.clerk)
        .await
        .body;
    assert_eq!(
        a["workflow"]["clock"]["pauses"][0]["received_on"], "2026-03-09",
        "{}",
        a["workflow"]
    );
    let d = app
        .get(
            &format!("/api/v1/requests/{}/deadline", id_of(&req)),
            &o.clerk,
        )
        .await
        .body;
    let window = d["deadline"]["trace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["rule"] == "window.consultation")
        .cloned()
        .expect("window");
    assert_eq!(window["date"], "2026-03-09", "{window}");
    // The trace names the letter and its service.
    let letter = d["deadline"]["trace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["rule"] == "notice.served")
        .cloned()
        .expect("notice step");
    assert_eq!(letter["date"], "2026-03-03");
    assert_eq!(letter["until"], "2026-03-09");
    assert!(
        letter["detail"]
            .as_str()
            .unwrap()
            .contains("定民依公开〔2026〕1号"),
        "{letter}"
    );
    // The letter to the third party is not the applicant's to download.
    let q = format!(
        "case_number={}&query_code={}",
        req["case_number"].as_str().unwrap(),
        req["query_code"].as_str().unwrap()
    );
    let mine = Resp::from(public(&app, &format!("/api/v1/public/notices?{q}")).await).await;
    assert_eq!(mine.body, json!([]), "{}", mine.text);
    let r2 = Resp::from(
        public(
            &app,
            &format!("/api/v1/public/notices/{}?{q}&format=html", id_of(&c)),
        )
        .await,
    )
    .await;
    r2.assert_problem(404, "not_found");
    serve(
        &app,
        &o.clerk,
        &r.body,
        &json!({"method": "email", "sent_on": "2026-03-06", "served_on": "2026-03-06"}),
    )
    .await
    .assert_problem(409, "notice_already_served");

    // A reply signed for in person: the applicant's limits run from the signature.
    let other = intake(&app, &o.clerk, "2026-03-03").await;
    let n = draft(&app, &o.clerk, &other, &json!({"type": "reply", "fields": {"on": "2026-03-10", "disposition": "granted", "provision": "当场提供纸质件"}})).await;
    let n = step(&app, &o.clerk, &n, "submit", None).await.body;
    let n = step(&app, &o.approver, &n, "approve", Some(&json!({})))
        .await
        .body;
    let n = step(&app, &o.clerk, &n, "issue", None).await.body;
    let r = serve(
        &app,
        &o.clerk,
        &n,
        &json!({"method": "in_person", "sent_on": "2026-03-12", "served_on": "2026-03-12"}),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "signed_by");
    let r = serve(&app, &o.clerk, &n, &json!({"method": "in_person", "sent_on": "2026-03-12", "served_on": "2026-03-12", "signed_by": "张三"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a = app
        .get(&format!("/api/v1/requests/{}", id_of(&other)), &o.clerk)
        .await
        .body;
    assert_eq!(a["reply_served_on"], "2026-03-12");

    // By announcement: served 30 days after publication.
    let third = intake(&app, &o.clerk, "2026-03-04").await;
    let n = draft(
        &app,
        &o.clerk,
        &third,
        &json!({"type": "receipt", "fields": {"on": "2026-03-04"}}),
    )
    .await;
    let n = step(&app, &o.clerk, &n, "issue", None).await.body;
    let r = serve(
        &app,
        &o.clerk,
        &n,
        &json!({"method": "announcement", "sent_on": "2026-04-01"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["served_on"], "2026-05-01");
}

async fn public(app: &TestApp, path: &str) -> reqwest::Response {
    app.request(Method::GET, path, None)
        .send()
        .await
        .expect("send")
}

async fn the_applicant_downloads_the_issued_reply_which_is_then_served_online_that_day(
    app: TestApp,
) {
    let o = office(&app, true).await;
    let req = intake(&app, &o.clerk, "2026-03-02").await;
    let n = draft(&app, &o.clerk, &req, &json!({"type": "reply", "fields": {"on": "2026-03-10", "disposition": "granted", "provision": "以电子邮件方式提供"}})).await;
    let n = step(&app, &o.clerk, &n, "submit", None).await.body;
    let n = step(&app, &o.approver, &n, "approve", Some(&json!({})))
        .await
        .body;
    let n = step(&app, &o.clerk, &n, "issue", None).await.body;
    let other = intake(&app, &o.clerk, "2026-03-03").await;
    let unissued = draft(
        &app,
        &o.clerk,
        &other,
        &json!({"type": "receipt", "fields": {"on": "2026-03-03"}}),
    )
    .await;
    let (case, code) = (
        req["case_number"].as_str().unwrap(),
        req["query_code"].as_str().unwrap(),
    );
    let q = format!("case_number={case}&query_code={code}");

    let r = Resp::from(public(&app, &format!("/api/v1/public/notices?{q}")).await).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = r.body.as_array().expect("list");
    assert_eq!(list.len(), 1, "{}", r.text);
    assert_eq!(list[0]["id"], n["id"]);
    assert_eq!(list[0]["number"], "定民依公开〔2026〕1号");
    assert_eq!(list[0]["served_on"], Value::Null);
    let wrong = format!("case_number={case}&query_code=WRONG00000");
    Resp::from(public(&app, &format!("/api/v1/public/notices?{wrong}")).await)
        .await
        .assert_problem(404, "not_found");
    let r = Resp::from(
        public(
            &app,
            &format!("/api/v1/public/notices/{}?{wrong}&format=docx", id_of(&n)),
        )
        .await,
    )
    .await;
    r.assert_problem(404, "not_found");
    // Another application's notice, with this pair: 404, nothing served.
    let r = Resp::from(
        public(
            &app,
            &format!(
                "/api/v1/public/notices/{}?{q}&format=html",
                id_of(&unissued)
            ),
        )
        .await,
    )
    .await;
    r.assert_problem(404, "not_found");

    let r = public(
        &app,
        &format!("/api/v1/public/notices/{}?{q}&format=docx", id_of(&n)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    );
    let bytes = r.bytes().await.expect("body");
    assert_eq!(&bytes[..2], b"PK", "a DOCX is a ZIP");
    let today = app.today().to_string();
    let n2 = app
        .get(&format!("/api/v1/notices/{}", id_of(&n)), &o.clerk)
        .await
        .body;
    assert_eq!(n2["served_on"], today.as_str());
    assert_eq!(n2["service"][0]["method"], "online");
    let a = app
        .get(&format!("/api/v1/requests/{}", id_of(&req)), &o.clerk)
        .await
        .body;
    assert_eq!(
        a["reply_served_on"],
        today.as_str(),
        "the applicant's limits run from the download"
    );
    // Later downloads record nothing more.
    let r = public(
        &app,
        &format!("/api/v1/public/notices/{}?{q}&format=html", id_of(&n)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let n3 = app
        .get(&format!("/api/v1/notices/{}", id_of(&n)), &o.clerk)
        .await
        .body;
    assert_eq!(n3["service"].as_array().map(Vec::len), Some(1));
    assert_eq!(n3["version"], n2["version"]);
}

async fn which_types_need_approval_is_set_per_agency_and_inherited_down_the_tree(app: TestApp) {
    let o = office(&app, true).await;
    let admin = app.admin_token().await;
    let dept = app.create_agency("DEPT", Some(&o.root)).await;
    let settings = |a: &str| format!("/api/v1/agencies/{a}/notice-settings");
    let r = app.get(&settings(&o.root), &o.clerk).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 0);
    assert_eq!(r.body["approval_required"], Value::Null);
    assert_eq!(
        r.body["effective"],
        json!([
            "extension",
            "objection_override",
            "fee",
            "delayed_reply",
            "reply"
        ])
    );
    let put = |a: String, body: Value, v: &'static str| {
        let rb = app
            .request(Method::PUT, &settings(&a), Some(&admin))
            .header("If-Match", v)
            .json(&body);
        async move { Resp::from(rb.send().await.expect("send")).await }
    };
    // The city makes corrections need approval too; an unknown type is refused.
    let r = put(
        o.root.clone(),
        json!({"approval_required": ["reply", "memo"]}),
        "\"0\"",
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "approval_required[1]");
    put(o.root.clone(), json!({}), "\"0\"")
        .await
        .assert_problem(422, "validation_failed");
    let r = put(
        o.root.clone(),
        json!({"approval_required": ["reply", "correction"]}),
        "\"0\"",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["effective"], json!(["correction", "reply"]));
    // A clerk may not change it; the department inherits it.
    let r = app
        .request(Method::PUT, &settings(&o.root), Some(&o.clerk))
        .header("If-Match", "\"1\"")
        .json(&json!({"approval_required": []}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.get(&settings(&dept), &admin).await;
    assert_eq!(r.body["effective"], json!(["correction", "reply"]));
    assert_eq!(r.body["inherited_from"], o.root.as_str());
    // So a correction notice now waits for approval.
    let req = intake(&app, &o.clerk, "2026-03-02").await;
    let n = draft(&app, &o.clerk, &req, &json!({"type": "correction", "fields": {"on": "2026-03-04", "items": ["写明文号"], "reply_by": "2026-03-18"}})).await;
    assert_eq!(n["needs_approval"], true);
    step(&app, &o.clerk, &n, "issue", None)
        .await
        .assert_problem(409, "approval_required");
    // null inherits again (the defaults).
    let r = put(o.root.clone(), json!({"approval_required": null}), "\"1\"").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["approval_required"], Value::Null);
    assert_eq!(r.body["version"], 2);
    let n = app
        .get(&format!("/api/v1/notices/{}", id_of(&n)), &o.clerk)
        .await
        .body;
    assert_eq!(n["needs_approval"], false);
}
