//! The platform features through HTTP: system clients (client credentials, scopes, the agency
//! subtree, revocation), applications forwarded by agency code and external reference with
//! idempotent retries, and the change feed (order, paging, scope, and no gaps or repeats while
//! two server processes write).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    a_client_reads_and_writes_only_in_its_agency_subtree,
    scopes_and_the_client_route_allow_list_hold,
    client_secrets_are_shown_once_and_disabling_rotating_or_narrowing_revokes_tokens,
    a_retried_forwarded_application_is_registered_once,
    the_feed_shows_every_step_in_order_pages_alike_and_keeps_to_the_callers_scope,
    the_feed_read_while_two_processes_write_misses_and_repeats_nothing,
);

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------

const ALL_SCOPES: [&str; 4] = [
    "requests:create",
    "requests:read",
    "reports:read",
    "feed:read",
];

/// A valid resident identity card number (GB 11643 check character).
const RID: &str = "110101199003071233";

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Handed in at the counter at 09:30 Beijing time on `date`.
fn handed_in(date: &str) -> Value {
    json!({
        "channel": "in_person",
        "arrived_at": format!("{date}T09:30:00+08:00"),
        "applicant": {
            "kind": "natural_person",
            "name": "张三",
            "id_document": {"type": "resident_id_card", "number": RID},
            "phone": "010-65123456",
        },
        "description": "申请公开2025年本机关作出的建设项目环境影响评价批复文件",
    })
}

/// An application forwarded by a platform into the agency with this code.
fn forwarded(agency_code: &str, external_reference: &str) -> Value {
    let mut b = handed_in("2026-09-01");
    b["channel"] = json!("online");
    b["confirmed_on"] = json!("2026-09-01");
    b["agency_code"] = json!(agency_code);
    b["external_reference"] = json!(external_reference);
    b
}

struct Client {
    id: String,
    secret: String,
}

async fn create_client(app: &TestApp, agency_id: &str, name: &str, scopes: &[&str]) -> Client {
    let r = app
        .post(
            "/api/v1/clients",
            &app.admin_token().await,
            &json!({"name": name, "agency_id": agency_id, "scopes": scopes}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "create client: {}", r.text);
    Client {
        id: s(&r.body["client_id"]).to_string(),
        secret: s(&r.body["client_secret"]).to_string(),
    }
}

async fn grant(app: &TestApp, client_id: &str, secret: &str) -> Resp {
    Resp::from(
        app.client
            .post(app.url("/api/v1/auth/token"))
            .json(&json!({
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            }))
            .send()
            .await
            .expect("send"),
    )
    .await
}

async fn client_token(app: &TestApp, c: &Client) -> String {
    let r = grant(app, &c.id, &c.secret).await;
    assert_eq!(r.status, StatusCode::OK, "client token: {}", r.text);
    s(&r.body["access_token"]).to_string()
}

async fn intake(app: &TestApp, token: &str, body: &Value) -> Value {
    let r = app.post("/api/v1/requests", token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "intake: {}", r.text);
    r.body
}

async fn post_with_key(app: &TestApp, token: &str, key: &str, body: &Value) -> Resp {
    Resp::from(
        app.request(Method::POST, "/api/v1/requests", Some(token))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("send"),
    )
    .await
}

async fn act(
    app: &TestApp,
    token: &str,
    id: &str,
    action: &str,
    version: i64,
    body: &Value,
) -> Resp {
    Resp::from(
        app.request(
            Method::POST,
            &format!("/api/v1/requests/{id}/actions/{action}"),
            Some(token),
        )
        .header("If-Match", format!("\"{version}\""))
        .json(body)
        .send()
        .await
        .expect("send"),
    )
    .await
}

fn cursor_of(e: &Value) -> i64 {
    s(&e["cursor"]).parse().expect("numeric cursor")
}

/// One page of the feed.
async fn feed_page(app: &TestApp, token: &str, after: &str, limit: i64) -> Resp {
    app.get(&format!("/api/v1/feed?after={after}&limit={limit}"), token)
        .await
}

/// The whole feed the token sees, read with this page size; asserts cursors strictly increase
/// and that `next_cursor` is the last event's cursor.
async fn read_feed(app: &TestApp, token: &str, limit: i64) -> Vec<Value> {
    let mut events: Vec<Value> = Vec::new();
    let mut after = "0".to_string();
    loop {
        let r = feed_page(app, token, &after, limit).await;
        assert_eq!(r.status, StatusCode::OK, "feed: {}", r.text);
        let page = r.body["events"].as_array().expect("events").clone();
        assert!(page.len() as i64 <= limit, "a page holds at most `limit`");
        let next = s(&r.body["next_cursor"]).to_string();
        match page.last() {
            None => {
                assert_eq!(next, after, "an empty page keeps the cursor");
                break;
            }
            Some(last) => assert_eq!(next, s(&last["cursor"]), "next_cursor is the last event"),
        }
        events.extend(page);
        after = next;
    }
    let cursors: Vec<i64> = events.iter().map(cursor_of).collect();
    assert!(
        cursors.windows(2).all(|w| w[0] < w[1]),
        "cursors strictly increase: {cursors:?}"
    );
    events
}

fn types_for(events: &[Value], request_id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["request_id"] == request_id)
        .map(|e| s(&e["type"]).to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. The agency subtree
// ---------------------------------------------------------------------------------------------

async fn a_client_reads_and_writes_only_in_its_agency_subtree(app: TestApp) {
    let admin = app.admin_token().await;
    let a = app.create_agency("A", None).await;
    let a1 = app.create_agency("A1", Some(&a)).await;
    let b = app.create_agency("B", None).await;
    let (_, clerk_b) = app.create_user(&b, "clerk_b", &["clerk"]).await;
    let in_b = intake(&app, &clerk_b, &forwarded("B", "EXT-B-1")).await;
    let b_id = s(&in_b["id"]).to_string();
    assert_eq!(in_b["agency_id"], b.as_str());

    let c = create_client(&app, &a, "省平台", &ALL_SCOPES).await;
    let token = client_token(&app, &c).await;

    // Forwarding into A1 (below A) by its code.
    let r = app
        .post("/api/v1/requests", &token, &forwarded("A1", "EXT-A1-1"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["agency_id"], a1.as_str());
    let a1_id = s(&r.body["id"]).to_string();
    let a1_case = s(&r.body["case_number"]).to_string();
    assert!(a1_case.starts_with("A1-2026-"), "{a1_case}");

    // Not into B, neither by code nor by id.
    let r = app
        .post("/api/v1/requests", &token, &forwarded("B", "EXT-B-2"))
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        r.field_errors(),
        vec!["agency_code".to_string()],
        "{}",
        r.text
    );
    assert_eq!(r.body["errors"][0]["code"], "unknown_agency", "{}", r.text);
    let mut by_id = forwarded("B", "EXT-B-3");
    by_id.as_object_mut().unwrap().remove("agency_code");
    by_id["agency_id"] = json!(b);
    let r = app.post("/api/v1/requests", &token, &by_id).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "unknown_agency", "{}", r.text);

    // Nothing of B can be read.
    app.get(&format!("/api/v1/requests/{b_id}"), &token)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/api/v1/requests/{b_id}/events"), &token)
        .await
        .assert_problem(404, "not_found");
    app.get(
        "/api/v1/requests/by-reference?agency_code=B&external_reference=EXT-B-1",
        &token,
    )
    .await
    .assert_problem(404, "not_found");
    // ...while the admin of the root finds it by the same reference.
    let r = app
        .get(
            "/api/v1/requests/by-reference?agency_code=B&external_reference=EXT-B-1",
            &admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], b_id.as_str());

    // Its own application it reads by id and by reference.
    let r = app.get(&format!("/api/v1/requests/{a1_id}"), &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .get(
            "/api/v1/requests/by-reference?agency_code=A1&external_reference=EXT-A1-1",
            &token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], a1_id.as_str());
    assert_eq!(r.body["case_number"], a1_case.as_str());
    // Agency codes are stored upper-cased; a platform's code in lower case names the same
    // agency, in both directions.
    let r = app
        .post("/api/v1/requests", &token, &forwarded(" a1 ", "EXT-A1-2"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["agency_id"], a1.as_str());
    let a1_second = s(&r.body["id"]).to_string();
    let r = app
        .get(
            "/api/v1/requests/by-reference?agency_code=a1&external_reference=EXT-A1-2",
            &token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], a1_second.as_str());
    app.post("/api/v1/requests", &token, &forwarded("b", "EXT-B-4"))
        .await
        .assert_problem(422, "validation_failed");

    // The list has A1's applications and not B's.
    let r = app.get("/api/v1/requests?per_page=200", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ids: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| s(&i["id"]))
        .collect();
    let ids: BTreeSet<&str> = ids.into_iter().collect();
    assert_eq!(ids, BTreeSet::from([a1_id.as_str(), a1_second.as_str()]));
    assert_eq!(r.body["total"], 2);

    // The feed has A1's intake and nothing of B; the root admin's feed has both.
    let mine = read_feed(&app, &token, 1000).await;
    assert_eq!(types_for(&mine, &a1_id), vec!["application.intake"]);
    assert_eq!(types_for(&mine, &a1_second), vec!["application.intake"]);
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(
        mine.iter().all(|e| e["agency_id"] != b.as_str()),
        "no event of B in the client's feed: {mine:?}"
    );
    assert!(mine.iter().all(|e| e["agency_id"] == a1.as_str()));
    let all = read_feed(&app, &admin, 1000).await;
    assert_eq!(types_for(&all, &b_id), vec!["application.intake"]);
    assert_eq!(types_for(&all, &a1_id), vec!["application.intake"]);
}

// ---------------------------------------------------------------------------------------------
// 2. Scopes and the allow-list
// ---------------------------------------------------------------------------------------------

async fn scopes_and_the_client_route_allow_list_hold(app: TestApp) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let a = app.create_agency("A", None).await;
    let b = app.create_agency("B", None).await;
    let (_, clerk_a) = app.create_user(&a, "clerk_a", &["clerk"]).await;
    let app_a = intake(&app, &clerk_a, &handed_in("2026-09-01")).await;
    let app_a_id = s(&app_a["id"]).to_string();

    let read_only = create_client(&app, &a, "只读", &["requests:read"]).await;
    let read_only = client_token(&app, &read_only).await;
    app.post("/api/v1/requests", &read_only, &forwarded("A", "EXT-1"))
        .await
        .assert_problem(403, "insufficient_scope");
    app.get("/api/v1/feed", &read_only)
        .await
        .assert_problem(403, "insufficient_scope");
    app.get(&format!("/api/v1/agencies/{a}/reports/2025"), &read_only)
        .await
        .assert_problem(403, "insufficient_scope");
    // What it holds works.
    let r = app.get("/api/v1/requests", &read_only).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total"], 1);
    let r = app
        .get(&format!("/api/v1/requests/{app_a_id}"), &read_only)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    for path in [
        format!("/api/v1/requests/{app_a_id}/events"),
        format!("/api/v1/requests/{app_a_id}/deadline"),
        "/api/v1/reviews".to_string(),
        "/api/v1/litigations".to_string(),
    ] {
        let r = app.get(&path, &read_only).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }

    let feed_only = create_client(&app, &a, "订阅", &["feed:read"]).await;
    let feed_only = client_token(&app, &feed_only).await;
    app.get("/api/v1/requests", &feed_only)
        .await
        .assert_problem(403, "insufficient_scope");
    app.get(&format!("/api/v1/requests/{app_a_id}"), &feed_only)
        .await
        .assert_problem(403, "insufficient_scope");
    let r = app.get("/api/v1/feed", &feed_only).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Routes for users answer client_not_allowed to any client, even one with every scope.
    let full = create_client(&app, &a, "全部", &ALL_SCOPES).await;
    let full = client_token(&app, &full).await;
    for token in [&read_only, &feed_only, &full] {
        app.post(
            "/api/v1/agencies",
            token,
            &json!({"code": "X", "name": "机关 X", "parent_id": a}),
        )
        .await
        .assert_problem(403, "client_not_allowed");
        app.get("/api/v1/audit-log", token)
            .await
            .assert_problem(403, "client_not_allowed");
        app.post(
            "/api/v1/clients",
            token,
            &json!({"name": "n", "agency_id": a, "scopes": ["feed:read"]}),
        )
        .await
        .assert_problem(403, "client_not_allowed");
        app.get("/api/v1/clients", token)
            .await
            .assert_problem(403, "client_not_allowed");
        act(
            &app,
            token,
            &app_a_id,
            "reply",
            1,
            &json!({"on": "2026-09-10", "disposition": "granted", "provision": "以电子邮件方式提供"}),
        )
        .await
        .assert_problem(403, "client_not_allowed");
        app.patch(
            &format!("/api/v1/requests/{app_a_id}"),
            token,
            &json!({"description": "改"}),
            Some(1),
        )
        .await
        .assert_problem(403, "client_not_allowed");
        app.get("/api/v1/me", token)
            .await
            .assert_problem(403, "client_not_allowed");
        app.get("/api/v1/dashboard", token)
            .await
            .assert_problem(403, "client_not_allowed");
        app.post(
            &format!("/api/v1/agencies/{a}/reports/2025/publish"),
            token,
            &json!({}),
        )
        .await
        .assert_problem(403, "client_not_allowed");
    }
    // The routes open to any client answer within the client's subtree.
    for token in [&read_only, &feed_only, &full] {
        let r = app.get("/api/v1/agencies", token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let ids: Vec<&str> = r.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| s(&i["id"]))
            .collect();
        assert_eq!(ids, vec![a.as_str()], "{}", r.text);
        let r = app.get(&format!("/api/v1/agencies/{a}"), token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        app.get(&format!("/api/v1/agencies/{b}"), token)
            .await
            .assert_problem(404, "not_found");
        let r = app.get("/api/v1/calendar/2026", token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = app
            .get(
                "/api/v1/calendar/working-days/add?from=2026-09-30&days=20",
                token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    // Nothing was changed by the refused calls.
    let r = app
        .get(&format!("/api/v1/requests/{app_a_id}"), &admin)
        .await;
    assert_eq!(r.body["version"], 1, "{}", r.text);
    assert_eq!(r.body["state"], app_a["state"]);

    // A reports:read client reads the report and the roll-up of its agency, not of another.
    let reports = create_client(&app, &a, "报表", &["reports:read"]).await;
    let reports = client_token(&app, &reports).await;
    let r = app
        .get(&format!("/api/v1/agencies/{a}/reports/2025"), &reports)
        .await;
    assert_eq!(r.status, StatusCode::OK, "report: {}", r.text);
    let r = app
        .get(
            &format!("/api/v1/agencies/{a}/reports/2025/rollup"),
            &reports,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "rollup: {}", r.text);
    app.get(&format!("/api/v1/agencies/{b}/reports/2025"), &reports)
        .await
        .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/agencies/{root}/reports/2025/rollup"),
        &reports,
    )
    .await
    .assert_problem(404, "not_found");
    app.get("/api/v1/requests", &reports)
        .await
        .assert_problem(403, "insufficient_scope");
    app.get("/api/v1/feed", &reports)
        .await
        .assert_problem(403, "insufficient_scope");
}

// ---------------------------------------------------------------------------------------------
// 3. The client's life
// ---------------------------------------------------------------------------------------------

async fn audit_actions(app: &TestApp, client_id: &str) -> Vec<(String, Value)> {
    let r = app
        .get(
            &format!("/api/v1/audit-log?entity_type=client&entity_id={client_id}&per_page=200"),
            &app.admin_token().await,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "audit log: {}", r.text);
    r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (s(&i["action"]).to_string(), i["payload"].clone()))
        .collect()
}

async fn client_secrets_are_shown_once_and_disabling_rotating_or_narrowing_revokes_tokens(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let a = app.create_agency("A", None).await;
    let (_, clerk) = app.create_user(&a, "clerk_a", &["clerk"]).await;
    let (_, a_admin) = app.create_user(&a, "admin_a", &["admin"]).await;

    // Only admins register clients, and only for their subtree.
    app.post(
        "/api/v1/clients",
        &clerk,
        &json!({"name": "x", "agency_id": a, "scopes": ["feed:read"]}),
    )
    .await
    .assert_problem(403, "forbidden");
    let root = app.root_agency_id().await;
    let r = app
        .post(
            "/api/v1/clients",
            &a_admin,
            &json!({"name": "x", "agency_id": root, "scopes": ["feed:read"]}),
        )
        .await;
    assert!(
        r.status == StatusCode::NOT_FOUND || r.status == StatusCode::FORBIDDEN,
        "an admin of A may not register a client for the root: {}",
        r.text
    );
    let r = app
        .post(
            "/api/v1/clients",
            &admin,
            &json!({"name": "x", "agency_id": a, "scopes": ["everything"]}),
        )
        .await;
    r.assert_problem(422, "validation_failed");

    // The secret is in the creation answer only.
    let r = app
        .post(
            "/api/v1/clients",
            &admin,
            &json!({"name": "省平台", "agency_id": a, "scopes": ["requests:read", "requests:create"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = s(&r.body["client_id"]).to_string();
    let secret = s(&r.body["client_secret"]).to_string();
    assert!(secret.len() >= 32, "{secret}");
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["disabled"], false);
    let scopes: BTreeSet<&str> = r.body["scopes"].as_array().unwrap().iter().map(s).collect();
    assert_eq!(scopes, BTreeSet::from(["requests:read", "requests:create"]));
    let got = app.get(&format!("/api/v1/clients/{id}"), &admin).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert!(got.body.get("client_secret").is_none(), "{}", got.text);
    assert!(
        !got.text.contains(&secret),
        "the secret is never shown again"
    );
    let list = app.get("/api/v1/clients", &admin).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["total"], 1);
    assert!(!list.text.contains(&secret));
    assert!(list.body["items"][0].get("client_secret").is_none());
    let c = Client {
        id: id.clone(),
        secret: secret.clone(),
    };

    // An admin of A manages A's clients and nothing above or beside.
    let b = app.create_agency("B", None).await;
    let other = create_client(&app, &b, "B 平台", &["feed:read"]).await;
    let r = app.get(&format!("/api/v1/clients/{id}"), &a_admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.get(&format!("/api/v1/clients/{}", other.id), &a_admin)
        .await
        .assert_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/clients/{}", other.id),
        &a_admin,
        &json!({"disabled": true}),
        Some(1),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("/api/v1/clients/{}/secret", other.id),
        &a_admin,
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    let r = app.get("/api/v1/clients", &a_admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total"], 1, "{}", r.text);
    assert_eq!(r.body["items"][0]["client_id"], id.as_str());
    app.get("/api/v1/clients", &clerk)
        .await
        .assert_problem(403, "forbidden");
    // The other client was left alone.
    let r = app
        .get(&format!("/api/v1/clients/{}", other.id), &admin)
        .await;
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["disabled"], false);
    client_token(&app, &other).await;

    // Wrong secret, unknown client: the same 401. (Failed grants from one address are
    // throttled after 5 in a window, so this test makes 4 in all.)
    grant(&app, &id, "gks_wrong")
        .await
        .assert_oauth_error(401, "invalid_client", "invalid_client");
    grant(&app, &uuid::Uuid::new_v4().to_string(), &secret)
        .await
        .assert_oauth_error(401, "invalid_client", "invalid_client");

    let t1 = client_token(&app, &c).await;
    let r = app.get("/api/v1/requests", &t1).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Narrowing the scopes revokes the token; the new token has only what is left.
    let r = app
        .patch(
            &format!("/api/v1/clients/{id}"),
            &admin,
            &json!({"scopes": ["requests:read"]}),
            None,
        )
        .await;
    r.assert_problem(428, "if_match_required");
    let r = app
        .patch(
            &format!("/api/v1/clients/{id}"),
            &admin,
            &json!({"scopes": ["requests:read"]}),
            Some(7),
        )
        .await;
    r.assert_problem(412, "version_mismatch");
    let r = app
        .patch(
            &format!("/api/v1/clients/{id}"),
            &admin,
            &json!({"scopes": ["requests:read"]}),
            Some(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 2);
    app.get("/api/v1/requests", &t1)
        .await
        .assert_problem(401, "invalid_token");
    let t2 = client_token(&app, &c).await;
    let r = app.get("/api/v1/requests", &t2).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.post("/api/v1/requests", &t2, &forwarded("A", "EXT-1"))
        .await
        .assert_problem(403, "insufficient_scope");

    // Widening (or renaming) does not revoke, and does not widen a token already issued.
    let r = app
        .patch(
            &format!("/api/v1/clients/{id}"),
            &admin,
            &json!({"scopes": ["requests:read", "feed:read"], "name": "省平台二"}),
            Some(2),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get("/api/v1/requests", &t2).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "widening keeps the token: {}",
        r.text
    );
    app.get("/api/v1/feed", &t2)
        .await
        .assert_problem(403, "insufficient_scope");

    // Rotating: the old secret and the old token stop working, the new secret works.
    let r = app
        .post(&format!("/api/v1/clients/{id}/secret"), &admin, &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let new_secret = s(&r.body["client_secret"]).to_string();
    assert_ne!(new_secret, secret);
    app.get("/api/v1/requests", &t2)
        .await
        .assert_problem(401, "invalid_token");
    grant(&app, &id, &secret)
        .await
        .assert_oauth_error(401, "invalid_client", "invalid_client");
    let c = Client {
        id: id.clone(),
        secret: new_secret,
    };
    let t3 = client_token(&app, &c).await;
    let r = app.get("/api/v1/feed", &t3).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Disabling revokes the token and refuses new ones; enabling lets it ask again.
    let version = app.get(&format!("/api/v1/clients/{id}"), &admin).await.body["version"]
        .as_i64()
        .unwrap();
    let r = app
        .patch(
            &format!("/api/v1/clients/{id}"),
            &admin,
            &json!({"disabled": true}),
            Some(version),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["disabled"], true);
    app.get("/api/v1/requests", &t3)
        .await
        .assert_problem(401, "invalid_token");
    grant(&app, &c.id, &c.secret)
        .await
        .assert_oauth_error(401, "invalid_client", "invalid_client");
    let r = app
        .patch(
            &format!("/api/v1/clients/{id}"),
            &admin,
            &json!({"disabled": false}),
            Some(version + 1),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.get("/api/v1/requests", &t3)
        .await
        .assert_problem(401, "invalid_token");
    let t4 = client_token(&app, &c).await;
    assert_eq!(
        app.get("/api/v1/requests", &t4).await.status,
        StatusCode::OK
    );

    // The audit log has every issued and refused token.
    let actions = audit_actions(&app, &id).await;
    let count = |a: &str| actions.iter().filter(|(x, _)| x == a).count();
    assert_eq!(count("client_created"), 1, "{actions:?}");
    assert_eq!(count("token_issued"), 4, "{actions:?}");
    // The wrong secret, the rotated-out secret and the disabled client.
    assert_eq!(count("client_token_refused"), 3, "{actions:?}");
    assert!(
        actions
            .iter()
            .any(|(a, p)| a == "client_token_refused" && p["disabled"] == true),
        "{actions:?}"
    );
    assert_eq!(count("client_secret_rotated"), 1, "{actions:?}");
    assert_eq!(count("client_updated"), 4, "{actions:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. Retries of a forwarded application
// ---------------------------------------------------------------------------------------------

async fn a_retried_forwarded_application_is_registered_once(app: TestApp) {
    let admin = app.admin_token().await;
    let a = app.create_agency("A", None).await;
    let c = create_client(&app, &a, "省平台", &ALL_SCOPES).await;
    let token = client_token(&app, &c).await;

    // A retry after a lost answer.
    let body = forwarded("A", "PLAT-0001");
    let first = post_with_key(&app, &token, "fwd-0001", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.header("Idempotent-Replayed"), None);
    let retry = post_with_key(&app, &token, "fwd-0001", &body).await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.text);
    assert_eq!(retry.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(retry.body, first.body, "the retry answers the first answer");

    // Eight retries at once.
    let body2 = forwarded("A", "PLAT-0002");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = app.client.clone();
        let url = app.url("/api/v1/requests");
        let token = token.clone();
        let body = body2.clone();
        tasks.push(tokio::spawn(async move {
            Resp::from(
                client
                    .post(url)
                    .bearer_auth(token)
                    .header("Idempotency-Key", "fwd-0002")
                    .json(&body)
                    .send()
                    .await
                    .expect("send"),
            )
            .await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    for r in &answers {
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "every retry answers 201: {}",
            r.text
        );
    }
    let ids: BTreeSet<&str> = answers.iter().map(|r| s(&r.body["id"])).collect();
    assert_eq!(ids.len(), 1, "one application: {ids:?}");
    let cases: BTreeSet<&str> = answers.iter().map(|r| s(&r.body["case_number"])).collect();
    assert_eq!(cases.len(), 1, "one case number: {cases:?}");
    let fresh = answers
        .iter()
        .filter(|r| r.header("Idempotent-Replayed").is_none())
        .count();
    assert_eq!(fresh, 1, "exactly one answer is not a replay");
    let second = answers[0].body.clone();

    // The agency has exactly these two applications, numbered 1 and 2.
    let r = app
        .get(
            &format!("/api/v1/requests?agency_id={a}&per_page=200"),
            &admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total"], 2, "{}", r.text);
    let mut numbers: Vec<&str> = [&first.body, &second]
        .iter()
        .map(|b| s(&b["case_number"]))
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, vec!["A-2026-000001", "A-2026-000002"]);

    // The key with another body is refused.
    let r = post_with_key(&app, &token, "fwd-0001", &forwarded("A", "PLAT-0009")).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        r.body["errors"][0]["code"], "idempotency_key_reused",
        "{}",
        r.text
    );

    // Another key with a reference already taken is a conflict, not a second application.
    post_with_key(&app, &token, "fwd-0003", &body)
        .await
        .assert_problem(409, "external_reference_taken");
    app.post("/api/v1/requests", &token, &body2)
        .await
        .assert_problem(409, "external_reference_taken");

    // The feed has one intake each.
    let events = read_feed(&app, &token, 1000).await;
    for b in [&first.body, &second] {
        let id = s(&b["id"]);
        assert_eq!(types_for(&events, id), vec!["application.intake"], "{id}");
        let e = events.iter().find(|e| e["request_id"] == id).unwrap();
        assert_eq!(e["data"]["case_number"], b["case_number"]);
        assert_eq!(e["data"]["external_reference"], b["external_reference"]);
        assert_eq!(e["entity_type"], "application");
        assert_eq!(e["entity_id"], id);
    }
    assert_eq!(events.len(), 2, "{events:?}");

    // The platform finds each by its reference, with our case number and query code.
    for (reference, b) in [("PLAT-0001", &first.body), ("PLAT-0002", &second)] {
        let r = app
            .get(
                &format!(
                    "/api/v1/requests/by-reference?agency_code=A&external_reference={reference}"
                ),
                &token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["id"], b["id"]);
        assert_eq!(r.body["case_number"], b["case_number"]);
        assert_eq!(r.body["query_code"], b["query_code"]);
        assert!(r.body["query_code"].as_str().is_some_and(|q| q.len() == 10));
        assert_eq!(r.body["state"], b["state"]);
        assert_eq!(r.body["external_reference"], reference);
    }
    app.get(
        "/api/v1/requests/by-reference?agency_code=A&external_reference=PLAT-9999",
        &token,
    )
    .await
    .assert_problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------------
// 5. The feed
// ---------------------------------------------------------------------------------------------

async fn the_feed_shows_every_step_in_order_pages_alike_and_keeps_to_the_callers_scope(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let (_, clerk) = app.create_user(&root, "clerk1", &["clerk"]).await;
    let other = app.create_agency("X", None).await;
    let (_, clerk_x) = app.create_user(&other, "clerk_x", &["clerk"]).await;

    // Bad cursors and limits.
    for bad in ["abc", "-1", "1.5", "%2B1"] {
        feed_page(&app, &clerk, bad, 10)
            .await
            .assert_problem(422, "validation_failed");
        let r = feed_page(&app, &clerk, bad, 10).await;
        assert_eq!(
            r.body["errors"][0]["code"], "invalid_cursor",
            "{bad}: {}",
            r.text
        );
    }
    let r = feed_page(&app, &clerk, "1000000", 10).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "unknown_cursor", "{}", r.text);
    for bad in [0, 1001] {
        let r = feed_page(&app, &clerk, "0", bad).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.field_errors(), vec!["limit".to_string()]);
    }
    let r = feed_page(&app, &clerk, "0", 1000).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["events"], json!([]));
    assert_eq!(r.body["next_cursor"], "0");

    // One application through intake, a correction request, the correction and the reply.
    let first = intake(&app, &clerk, &handed_in("2026-09-01")).await;
    let id = s(&first["id"]).to_string();
    let r = act(
        &app,
        &clerk,
        &id,
        "request_correction",
        1,
        &json!({"on": "2026-09-02", "items": ["申请内容描述不明确"], "reply_by": "2026-09-15"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = act(
        &app,
        &clerk,
        &id,
        "receive_correction",
        2,
        &json!({"on": "2026-09-04"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = act(
        &app,
        &clerk,
        &id,
        "reply",
        3,
        &json!({"on": "2026-09-10", "disposition": "granted", "provision": "以电子邮件方式提供"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let replied = r.body;
    // A refused step leaves no event.
    act(
        &app,
        &clerk,
        &id,
        "withdraw",
        3,
        &json!({"on": "2026-09-11"}),
    )
    .await
    .assert_problem(412, "version_mismatch");

    // Other applications, interleaved, and one in the other agency.
    let second = intake(&app, &clerk, &handed_in("2026-09-02")).await;
    let in_x = intake(&app, &clerk_x, &handed_in("2026-09-02")).await;
    let x_id = s(&in_x["id"]).to_string();
    let r = act(
        &app,
        &clerk,
        s(&second["id"]),
        "withdraw",
        1,
        &json!({"on": "2026-09-03"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // A review about the first application, and the 2025 report published.
    let r = app
        .post(
            "/api/v1/reviews",
            &clerk,
            &json!({
                "applicant_name": "张三",
                "reviewing_body": "某市人民政府",
                "filed_on": "2026-10-09",
                "request_id": id,
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "review: {}", r.text);
    let review_id = s(&r.body["id"]).to_string();
    let r = app
        .post(
            "/api/v1/litigations",
            &clerk,
            &json!({
                "applicant_name": "张三",
                "court": "某区人民法院",
                "route": "direct",
                "filed_on": "2026-10-12",
                "request_id": id,
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "lawsuit: {}", r.text);
    let suit_id = s(&r.body["id"]).to_string();
    let report = format!("/api/v1/agencies/{root}/reports/2025");
    app.complete_narrative(&report, &admin).await;
    let r = app.publish_report(&report, &admin).await;
    assert_eq!(r.status, StatusCode::OK, "publish: {}", r.text);

    let events = read_feed(&app, &clerk, 1000).await;
    assert_eq!(
        types_for(&events, &id),
        vec![
            "application.intake",
            "application.request_correction",
            "application.receive_correction",
            "application.reply",
            "review.case_recorded",
            "litigation.case_recorded",
        ]
    );
    let steps: Vec<&Value> = events
        .iter()
        .filter(|e| e["request_id"] == id.as_str())
        .collect();
    assert_eq!(steps[0]["data"]["case_number"], first["case_number"]);
    assert_eq!(steps[3]["data"]["state"], replied["state"]);
    assert_eq!(steps[3]["data"]["disposition"], "granted");
    assert_eq!(steps[3]["data"]["version"], 4);
    assert_eq!(steps[4]["entity_type"], "review");
    assert_eq!(steps[4]["entity_id"], review_id.as_str());
    assert_eq!(steps[5]["entity_type"], "litigation");
    assert_eq!(steps[5]["entity_id"], suit_id.as_str());
    for e in &steps {
        assert_eq!(e["agency_id"], root.as_str());
        assert!(e["occurred_at"].is_string() && e["id"].is_string());
    }
    assert_eq!(
        types_for(&events, s(&second["id"])),
        vec!["application.intake", "application.withdraw"]
    );
    let published: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "report.report_published")
        .collect();
    assert_eq!(published.len(), 1, "{events:?}");
    assert_eq!(published[0]["entity_type"], "report");
    assert_eq!(published[0]["entity_id"], format!("{root}:2025").as_str());
    // The whole sequence: the publication came last.
    let all_types: Vec<&str> = events.iter().map(|e| s(&e["type"])).collect();
    assert_eq!(
        all_types,
        vec![
            "application.intake",
            "application.request_correction",
            "application.receive_correction",
            "application.reply",
            "application.intake",
            "application.withdraw",
            "review.case_recorded",
            "litigation.case_recorded",
            "report.narrative_entered",
            "report.report_published",
        ]
    );
    // The root clerk does not see the other agency's intake; the admin sees it in place.
    assert!(events.iter().all(|e| e["agency_id"] == root.as_str()));
    let admin_events = read_feed(&app, &admin, 1000).await;
    assert_eq!(admin_events.len(), events.len() + 1);
    assert_eq!(types_for(&admin_events, &x_id), vec!["application.intake"]);

    // Page by page gives the same sequence as one read.
    for limit in [1, 2, 3] {
        assert_eq!(
            read_feed(&app, &clerk, limit).await,
            events,
            "limit {limit}"
        );
        assert_eq!(
            read_feed(&app, &admin, limit).await,
            admin_events,
            "limit {limit}"
        );
    }
    // Reading from the middle gives the rest.
    let mid = s(&events[3]["cursor"]).to_string();
    assert!(events.len() > 5);
    let r = feed_page(&app, &clerk, &mid, 1000).await;
    assert_eq!(r.body["events"].as_array().unwrap(), &events[4..].to_vec());

    // Nothing new: the cursor stays.
    let last = s(&events.last().unwrap()["cursor"]).to_string();
    for _ in 0..2 {
        let r = feed_page(&app, &clerk, &last, 10).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["events"], json!([]));
        assert_eq!(r.body["next_cursor"], last.as_str());
    }
    // Something new: it comes after the cursor.
    let third = intake(&app, &clerk, &handed_in("2026-09-03")).await;
    let r = feed_page(&app, &clerk, &last, 10).await;
    let new = r.body["events"].as_array().unwrap();
    assert_eq!(new.len(), 1, "{}", r.text);
    assert_eq!(new[0]["request_id"], third["id"]);
    assert!(cursor_of(&new[0]) > last.parse::<i64>().unwrap());

    // The clerk of the other agency sees only its own intake.
    let x_events = read_feed(&app, &clerk_x, 1000).await;
    let x_types: Vec<(&str, &str)> = x_events
        .iter()
        .map(|e| (s(&e["type"]), s(&e["request_id"])))
        .collect();
    assert_eq!(x_types, vec![("application.intake", x_id.as_str())]);
    // The root clerk's cursor, ahead of anything the other clerk sees, is still a cursor.
    let r = feed_page(&app, &clerk_x, &last, 10).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["events"], json!([]));
}

// ---------------------------------------------------------------------------------------------
// 6. Two writing processes
// ---------------------------------------------------------------------------------------------

async fn the_feed_read_while_two_processes_write_misses_and_repeats_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    // Eight agencies, so that intakes on PostgreSQL do not queue on one case-number counter.
    let mut clerks = Vec::new();
    for n in 0..8 {
        let agency = app.create_agency(&format!("P{n}"), None).await;
        clerks.push(
            app.create_user(&agency, &format!("clerk_{n}"), &["clerk"])
                .await
                .1,
        );
    }
    let c = create_client(&app, &app.root_agency_id().await, "订阅", &["feed:read"]).await;
    let reader_token = client_token(&app, &c).await;

    // Two more processes on the same database: the second writes too, the third only serves
    // the readers, so that they are not starved of pooled connections by the writers.
    let mut handles = Vec::new();
    let mut bases = vec![app.base.clone()];
    for _ in 0..2 {
        let (base, handle) = app.another_server().await;
        bases.push(base);
        handles.push(handle);
    }
    let base2 = bases[1].clone();

    // Readers poll the processes in turn (mostly the reading one), each with its own page
    // size, until told to stop, and then until a page comes back empty. Small pages lag
    // behind; the larger one keeps up with the head, where a gap would show.
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for limit in [1usize, 3, 50] {
        let done = done.clone();
        let started = started.clone();
        let client = app.client.clone();
        let bases = [
            bases[2].clone(),
            bases[0].clone(),
            bases[2].clone(),
            bases[1].clone(),
        ];
        let token = reader_token.clone();
        readers.push(tokio::spawn(async move {
            let mut seen: Vec<Value> = Vec::new();
            let mut after = "0".to_string();
            let mut polls = 0usize;
            loop {
                let stopping = done.load(Ordering::SeqCst);
                let r = client
                    .get(format!(
                        "{}/api/v1/feed?after={after}&limit={limit}",
                        bases[(polls + limit) % 4]
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("send");
                polls += 1;
                if polls == 1 {
                    started.fetch_add(1, Ordering::SeqCst);
                }
                assert_eq!(r.status(), StatusCode::OK);
                let v: Value = r.json().await.expect("json");
                let page = v["events"].as_array().expect("events").clone();
                assert!(page.len() <= limit);
                let next = v["next_cursor"].as_str().expect("cursor").to_string();
                if page.is_empty() {
                    assert_eq!(next, after);
                    if stopping {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                seen.extend(page);
                after = next;
            }
            (limit, seen, polls)
        }));
    }

    // Writers start once every reader is polling, in waves of concurrent intakes through
    // both writing processes (2 × 20 in all).
    while started.load(Ordering::SeqCst) < readers.len() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut created = BTreeSet::new();
    for wave in 0..4 {
        let mut tasks = Vec::new();
        for i in 0..10 {
            let base = if i % 2 == 0 {
                app.base.clone()
            } else {
                base2.clone()
            };
            let token = clerks[(wave + i) % clerks.len()].clone();
            let client = app.client.clone();
            let body = handed_in("2026-09-01");
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
                v["id"].as_str().expect("id").to_string()
            }));
        }
        for t in tasks {
            assert!(created.insert(t.await.expect("writer")));
        }
    }
    assert_eq!(created.len(), 40);
    done.store(true, Ordering::SeqCst);
    let mut collected = Vec::new();
    for r in readers {
        collected.push(r.await.expect("reader"));
    }
    for h in handles {
        h.stop(false).await;
    }

    // A final full read has every intake once.
    let full = read_feed(&app, &admin, 1000).await;
    let full_ids: Vec<String> = full
        .iter()
        .map(|e| s(&e["request_id"]).to_string())
        .collect();
    assert_eq!(full_ids.len(), created.len());
    assert_eq!(full_ids.into_iter().collect::<BTreeSet<_>>(), created);
    for (limit, seen, polls) in collected {
        let cursors: Vec<i64> = seen.iter().map(cursor_of).collect();
        assert!(
            cursors.windows(2).all(|w| w[0] < w[1]),
            "limit {limit}: cursors strictly increase: {cursors:?}"
        );
        let mut per_request: BTreeMap<String, usize> = BTreeMap::new();
        for e in &seen {
            assert_eq!(e["type"], "application.intake", "{e}");
            *per_request
                .entry(s(&e["request_id"]).to_string())
                .or_default() += 1;
        }
        assert!(
            per_request.values().all(|n| *n == 1),
            "limit {limit}: an event repeated: {per_request:?}"
        );
        let seen_ids: BTreeSet<String> = per_request.keys().cloned().collect();
        let missed: Vec<&String> = created.difference(&seen_ids).collect();
        assert!(
            missed.is_empty(),
            "limit {limit}: the poller missed {missed:?}"
        );
        // The poller collected exactly what the final full read gives, in the same order.
        assert_eq!(
            seen, full,
            "limit {limit}: the poller's sequence is the feed's"
        );
        assert!(
            polls > 2,
            "limit {limit}: the reader polled while writers wrote"
        );
    }
}
