//! Webhooks through HTTP, with a receiver on the loopback address: every event is delivered,
//! signed with HMAC-SHA256 over the timestamp and the body, in order per application; failed
//! deliveries are retried with backoff and logged; a delivery is given up after the last
//! attempt; subscriptions are checked and scoped.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::both_databases;
use crate::helpers::{Db, TestApp};

both_databases!(
    a_receiver_gets_every_event_signed_and_in_order_per_application,
    failed_deliveries_are_retried_with_backoff_and_logged_in_order,
    a_delivery_is_given_up_after_the_last_attempt_and_the_next_event_still_goes,
    subscriptions_are_checked_scoped_and_for_admins_only,
    two_dispatching_processes_deliver_each_event_once,
    receivers_on_internal_addresses_are_refused_at_subscription_and_again_at_delivery,
);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; 204 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(req: HttpRequest, body: web::Bytes, r: web::Data<Receiver>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    r.got.lock().unwrap().push(Received {
        headers,
        body: body.to_vec(),
    });
    let status = r.script.lock().unwrap().pop_front().unwrap_or(204);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

/// Starts a receiver on 127.0.0.1 and returns it with its URL.
fn start_receiver(script: &[u16]) -> (Receiver, String) {
    let r = Receiver::default();
    r.script.lock().unwrap().extend(script.iter().copied());
    let data = web::Data::new(r.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/hook", web::post().to(receive))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (r, format!("http://127.0.0.1:{port}/hook"))
}

async fn spawn(db: Db, max_attempts: i32) -> TestApp {
    TestApp::spawn_with(db, |s| {
        s.webhooks.allow_http = true;
        // The test receiver listens on the loopback address, which is refused unless listed.
        s.webhooks.allowed_internal_hosts = vec!["127.0.0.1".into()];
        s.webhooks.poll_interval_ms = 50;
        s.webhooks.backoff_base_ms = 200;
        s.webhooks.max_attempts = max_attempts;
    })
    .await
    .expect("app")
}

const SECRET: &str = "receiver-secret-0123456789";

async fn subscribe(app: &TestApp, url: &str, types: &[&str]) -> Value {
    let r = app
        .post(
            "/api/v1/webhooks",
            &app.admin_token().await,
            &json!({"url": url, "event_types": types, "secret": SECRET}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

fn handed_in(date: &str, name: &str) -> Value {
    json!({
        "channel": "in_person",
        "arrived_at": format!("{date}T09:30:00+08:00"),
        "applicant": {
            "kind": "natural_person",
            "name": name,
            "id_document": {"type": "resident_id_card", "number": "110101199003071233"},
            "phone": "010-65123456",
        },
        "description": "申请公开本机关2025年建设项目环境影响评价批复文件",
    })
}

async fn intake(app: &TestApp, name: &str) -> Value {
    let r = app
        .post(
            "/api/v1/requests",
            &app.admin_token().await,
            &handed_in("2026-09-01", name),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn reply(app: &TestApp, r: &Value) -> Value {
    let resp = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/requests/{}/actions/reply", r["id"].as_str().unwrap()),
            Some(&app.admin_token().await),
        )
        .header("If-Match", format!("\"{}\"", r["version"]))
        .json(&json!({"on": "2026-09-02", "disposition": "granted", "provision": "以电子邮件方式提供"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// Every event of the feed, from the start.
async fn feed(app: &TestApp) -> Vec<Value> {
    let r = app
        .get("/api/v1/feed?limit=1000", &app.admin_token().await)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["events"].as_array().unwrap().clone()
}

/// Waits until the receiver holds `n` requests (at most 20 s).
async fn wait_for(r: &Receiver, n: usize) -> Vec<Received> {
    for _ in 0..400 {
        let got = r.got.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = r.got.lock().unwrap().clone();
    panic!("the receiver got {} of {n} deliveries", got.len());
}

/// Checks `Gongkai-Signature: t=…,v1=…` as a receiver would, its time against the service's
/// clock (`now`).
fn signed_correctly(d: &Received, secret: &str, now: i64) -> bool {
    let Some(sig) = d.headers.get("gongkai-signature") else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in sig.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_string()),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let ts: i64 = t.parse().unwrap_or(0);
    if (now - ts).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&d.body);
    hex::encode(mac.finalize().into_bytes()) == v1
}

fn body(d: &Received) -> Value {
    serde_json::from_slice(&d.body).expect("a JSON body")
}

async fn a_receiver_gets_every_event_signed_and_in_order_per_application(app: TestApp) {
    let app = spawn(app.db, 5).await;
    let (rx, url) = start_receiver(&[]);
    subscribe(&app, &url, &["application.*"]).await;
    let mut apps = Vec::new();
    for name in ["甲", "乙", "丙"] {
        apps.push(intake(&app, name).await);
    }
    for a in &apps {
        reply(&app, a).await;
    }
    let events = feed(&app).await;
    assert_eq!(
        events.len(),
        6,
        "three intakes and three replies in the feed"
    );
    let got = wait_for(&rx, 6).await;
    // Give a stray duplicate the chance to arrive, then count exactly.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_now = rx.got.lock().unwrap().clone();
    assert_eq!(got_now.len(), 6, "each event once");
    for d in &got {
        assert!(
            signed_correctly(d, SECRET, app.now().timestamp()),
            "signed: {:?}",
            d.headers
        );
        assert!(
            !signed_correctly(d, "another-secret-0000000", app.now().timestamp()),
            "not with another secret"
        );
        let b = body(d);
        assert_eq!(
            d.headers.get("gongkai-event-id").map(String::as_str),
            b["id"].as_str()
        );
        assert_eq!(
            d.headers.get("gongkai-event-type").map(String::as_str),
            b["type"].as_str()
        );
        assert_eq!(
            d.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
    }
    // The bodies are the feed's events, each exactly once.
    let mut sent: Vec<Value> = got.iter().map(body).collect();
    sent.sort_by_key(|e| e["cursor"].as_str().unwrap().parse::<i64>().unwrap());
    assert_eq!(sent, events);
    // Per application: intake before reply.
    for a in &apps {
        let order: Vec<String> = got
            .iter()
            .map(body)
            .filter(|b| b["request_id"] == a["id"])
            .map(|b| b["type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(order, ["application.intake", "application.reply"]);
    }
}

async fn failed_deliveries_are_retried_with_backoff_and_logged_in_order(app: TestApp) {
    let app = spawn(app.db, 5).await;
    // The first two attempts fail (500, then 503); then everything is accepted.
    let (rx, url) = start_receiver(&[500, 503]);
    let sub = subscribe(&app, &url, &["*"]).await;
    let a = intake(&app, "甲").await;
    reply(&app, &a).await;
    let got = wait_for(&rx, 4).await;
    let types: Vec<String> = got
        .iter()
        .map(|d| body(d)["type"].as_str().unwrap().to_string())
        .collect();
    // The intake is retried until accepted; the reply never overtakes it.
    assert_eq!(
        types,
        [
            "application.intake",
            "application.intake",
            "application.intake",
            "application.reply"
        ]
    );
    let attempts: Vec<&str> = got
        .iter()
        .map(|d| d.headers["gongkai-delivery-attempt"].as_str())
        .collect();
    assert_eq!(attempts, ["1", "2", "3", "1"]);
    // Each retry is signed afresh and carries the same event id.
    assert!(
        got.iter()
            .all(|d| signed_correctly(d, SECRET, app.now().timestamp()))
    );
    assert_eq!(
        got[0].headers["gongkai-event-id"],
        got[2].headers["gongkai-event-id"]
    );

    let id = sub["id"].as_str().unwrap();
    let token = app.admin_token().await;
    // The receiver has answered; the dispatcher records the outcome right after.
    let mut log = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"), &token)
        .await;
    for _ in 0..100 {
        if log.body["total"] == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        log = app
            .get(&format!("/api/v1/webhooks/{id}/deliveries"), &token)
            .await;
    }
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    assert_eq!(log.body["total"], 4);
    let mut items = log.body["items"].as_array().unwrap().clone();
    items.reverse(); // oldest first
    let seen: Vec<(i64, bool, Option<i64>)> = items
        .iter()
        .map(|i| {
            (
                i["attempt"].as_i64().unwrap(),
                i["succeeded"].as_bool().unwrap(),
                i["status_code"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, false, Some(500)),
            (2, false, Some(503)),
            (3, true, Some(204)),
            (1, true, Some(204))
        ]
    );
    // Backoff: the second retry waited at least twice the base (200 ms, then 400 ms).
    let at = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(items[i]["attempted_at"].as_str().unwrap()).unwrap()
    };
    assert!(at(1) - at(0) >= chrono::Duration::milliseconds(200));
    assert!(at(2) - at(1) >= chrono::Duration::milliseconds(400));
    let one = app.get(&format!("/api/v1/webhooks/{id}"), &token).await;
    assert_eq!(
        one.body["outbox"],
        json!({"pending": 0, "delivered": 2, "failed": 0})
    );
}

async fn a_delivery_is_given_up_after_the_last_attempt_and_the_next_event_still_goes(app: TestApp) {
    let app = spawn(app.db, 2).await;
    let (rx, url) = start_receiver(&[500, 500]);
    let sub = subscribe(&app, &url, &["application.intake", "application.reply"]).await;
    let a = intake(&app, "甲").await;
    let got = wait_for(&rx, 2).await;
    assert!(got.iter().all(|d| body(d)["type"] == "application.intake"));
    reply(&app, &a).await;
    let got = wait_for(&rx, 3).await;
    assert_eq!(body(&got[2])["type"], "application.reply");
    let id = sub["id"].as_str().unwrap();
    let expected = json!({"pending": 0, "delivered": 1, "failed": 1});
    let mut one = app
        .get(&format!("/api/v1/webhooks/{id}"), &app.admin_token().await)
        .await;
    for _ in 0..100 {
        if one.body["outbox"] == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        one = app
            .get(&format!("/api/v1/webhooks/{id}"), &app.admin_token().await)
            .await;
    }
    assert_eq!(one.body["outbox"], expected);
    // No further attempt of the given-up delivery.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.got.lock().unwrap().len(), 3);

    // Once the receiver is repaired, an admin sends the given-up delivery again.
    let r = app
        .post(
            &format!("/api/v1/webhooks/{id}/retry-failed"),
            &app.admin_token().await,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["requeued"], 1);
    let got = wait_for(&rx, 4).await;
    assert_eq!(body(&got[3])["type"], "application.intake");
    assert_eq!(got[3].headers["gongkai-delivery-attempt"], "1");
    assert!(signed_correctly(&got[3], SECRET, app.now().timestamp()));
}

async fn subscriptions_are_checked_scoped_and_for_admins_only(app: TestApp) {
    let token = app.admin_token().await;
    // allow_http is off by default: receivers must use https.
    let r = app
        .post(
            "/api/v1/webhooks",
            &token,
            &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["*"]}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert!(r.text.contains("https_required"), "{}", r.text);
    let r = app
        .post(
            "/api/v1/webhooks",
            &token,
            &json!({"url": "https://example.org/hook", "event_types": ["user.created"]}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert!(r.text.contains("unknown_event_type"), "{}", r.text);
    let r = app
        .post(
            "/api/v1/webhooks",
            &token,
            &json!({"url": "https://example.org/hook", "event_types": ["*"], "secret": "short"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");

    // Created without a secret: one is generated and shown once.
    let r = app
        .post(
            "/api/v1/webhooks",
            &token,
            &json!({"url": "https://example.org/hook", "event_types": ["report.*"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.body["secret"].as_str().unwrap().len() >= 32);
    let id = r.body["id"].as_str().unwrap().to_string();
    let one = app.get(&format!("/api/v1/webhooks/{id}"), &token).await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(
        one.body.get("secret").is_none(),
        "the secret is not shown again"
    );

    // Changing needs If-Match; disabling works.
    let r = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &token,
            &json!({"enabled": false}),
            None,
        )
        .await;
    r.assert_problem(428, "if_match_required");
    let r = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &token,
            &json!({"enabled": false}),
            Some(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["enabled"], false);

    // A clerk may not subscribe; an admin of another branch does not see it.
    let root = app.root_agency_id().await;
    let (_, clerk) = app.create_user(&root, "clerk1", &["clerk"]).await;
    let r = app
        .post(
            "/api/v1/webhooks",
            &clerk,
            &json!({"url": "https://example.org/hook", "event_types": ["*"]}),
        )
        .await;
    r.assert_problem(403, "forbidden");
    let branch = app.create_agency("BR", None).await;
    let (_, branch_admin) = app.create_user(&branch, "branchadmin", &["admin"]).await;
    let r = app
        .get(&format!("/api/v1/webhooks/{id}"), &branch_admin)
        .await;
    r.assert_problem(404, "not_found");
    let list = app.get("/api/v1/webhooks", &branch_admin).await;
    assert_eq!(list.body["total"], 0);
    let list = app.get("/api/v1/webhooks", &token).await;
    assert_eq!(list.body["total"], 1);
}

async fn two_dispatching_processes_deliver_each_event_once(app: TestApp) {
    let app = spawn(app.db, 5).await;
    // A second server process on the same database: its dispatcher competes for the outbox.
    let (_, handle) = app.another_server().await;
    let (rx, url) = start_receiver(&[]);
    subscribe(&app, &url, &["application.intake"]).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(intake(&app, &format!("申请人{i}")).await["id"].clone());
    }
    wait_for(&rx, 12).await;
    // Both dispatchers keep polling; nothing may arrive twice.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let got = rx.got.lock().unwrap().clone();
    let mut seen: Vec<Value> = got.iter().map(|d| body(d)["request_id"].clone()).collect();
    assert_eq!(seen.len(), 12, "each event once");
    seen.sort_by_key(|v| v.to_string());
    ids.sort_by_key(|v| v.to_string());
    assert_eq!(seen, ids);
    handle.stop(false).await;
}

/// Issue 17: a webhook may not reach inside — loopback, link-local (the cloud metadata
/// address), private ranges, `0`, integer and hex spellings, IPv4 inside IPv6, `localhost` —
/// refused when subscribing; and a subscription made where such a host was allowed is not
/// delivered by a process where it is not (checked again at every delivery).
async fn receivers_on_internal_addresses_are_refused_at_subscription_and_again_at_delivery(
    app: TestApp,
) {
    let token = app.admin_token().await;
    for url in [
        "https://169.254.169.254/latest/meta-data/",
        "https://2130706433/",
        "https://0x7f000001/hook",
        "https://0/",
        "https://127.1/",
        "https://0177.0.0.1/",
        "https://[::1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://localhost/hook",
        "https://api.localhost/hook",
        "https://10.0.0.5/",
        "https://172.16.0.1/",
        "https://192.168.1.1/",
        "https://100.64.0.1/",
        "https://[fd00::1]/",
    ] {
        let r = app
            .post(
                "/api/v1/webhooks",
                &token,
                &json!({"url": url, "event_types": ["*"]}),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "url", "{url}: {}", r.text);
        assert_eq!(
            r.body["errors"][0]["code"], "internal_receiver",
            "{url}: {}",
            r.text
        );
    }
    let list = app.get("/api/v1/webhooks", &token).await;
    assert_eq!(list.body["total"], 0, "{}", list.text);

    // Another process on the same database lists 127.0.0.1 and subscribes a receiver there;
    // this one (nothing listed) delivers — and must not.
    let mut s = app.settings.clone();
    s.webhooks.allow_http = true;
    s.webhooks.allowed_internal_hosts = vec!["127.0.0.1".into()];
    s.webhooks.enabled = false;
    let other = gongkai::startup::Application::build(s)
        .await
        .expect("second server starts");
    let port = other.port();
    let server = other.into_server();
    let handle = server.handle();
    tokio::spawn(server);
    let (rx, url) = start_receiver(&[]);
    let sub = app
        .client
        .post(format!("http://127.0.0.1:{port}/api/v1/webhooks"))
        .bearer_auth(&token)
        .json(&json!({"url": url, "event_types": ["*"], "secret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(sub.status(), StatusCode::CREATED);
    let sub: Value = sub.json().await.unwrap();
    let id = sub["id"].as_str().unwrap().to_string();
    intake(&app, "张三").await;
    let mut log = Value::Null;
    for _ in 0..200 {
        log = app
            .get(&format!("/api/v1/webhooks/{id}/deliveries"), &token)
            .await
            .body;
        if log["total"].as_i64().unwrap_or(0) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log["items"][0]["succeeded"], false, "{log}");
    let error = log["items"][0]["error"].as_str().unwrap_or("");
    assert!(error.contains("internal address"), "{log}");
    assert!(
        rx.got.lock().unwrap().is_empty(),
        "the receiver was reached"
    );
    handle.stop(false).await;
}
