//! `Idempotency-Key` on every creating POST (issue 12 item 9): a retry with the same key and
//! body answers the first answer, whole (status, body, Location and ETag), and creates nothing;
//! the same key with another body is refused; concurrent retries — on one process or two
//! sharing the database — create one record; a review retried is counted once in table 四;
//! a secret shown once is not stored for replays.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    every_creating_post_answers_a_retry_with_its_first_answer_and_creates_once,
    a_review_posted_twice_with_one_key_is_recorded_once_and_counted_once_in_table_four,
    concurrent_retries_on_two_server_processes_record_one_review,
    a_key_belongs_to_its_user_and_a_reused_key_with_another_body_is_refused,
    a_secret_shown_once_is_answered_null_on_a_replay_and_never_stored,
);

async fn post_with_key(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> Resp {
    let r = app
        .request(Method::POST, path, Some(token))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("send");
    Resp::from(r).await
}

/// The number of items a list answers.
async fn total(app: &TestApp, path: &str, token: &str) -> i64 {
    let r = app.get(path, token).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    r.body["total"]
        .as_i64()
        .or_else(|| r.body["items"].as_array().map(|a| a.len() as i64))
        .unwrap_or_else(|| panic!("{path}: no total: {}", r.text))
}

async fn clerk(app: &TestApp) -> String {
    let root = app.root_agency_id().await;
    app.create_user(&root, "clerk1", &["clerk"]).await.1
}

fn review(filed_on: &str) -> Value {
    json!({"applicant_name": "张三", "reviewing_body": "某市人民政府", "filed_on": filed_on})
}

/// For each creating POST: the first answer, the retry's, the list that must hold one.
async fn every_creating_post_answers_a_retry_with_its_first_answer_and_creates_once(app: TestApp) {
    let admin = app.admin_token().await;
    let clerk = clerk(&app).await;
    let root = app.root_agency_id().await;
    // Filed today by the application's clock: never in the future, always in its year.
    let filed = app.today().to_string();
    let cases: Vec<(&str, String, &str, Value, String)> = vec![
        (
            "reviews",
            clerk.clone(),
            "/api/v1/reviews",
            review(&filed),
            "/api/v1/reviews".into(),
        ),
        (
            "litigations",
            clerk.clone(),
            "/api/v1/litigations",
            json!({"applicant_name": "张三", "court": "某区人民法院", "route": "direct", "filed_on": filed}),
            "/api/v1/litigations".into(),
        ),
        (
            "agencies",
            admin.clone(),
            "/api/v1/agencies",
            json!({"code": "CHILD", "name": "下级机关"}),
            "/api/v1/agencies".into(),
        ),
        (
            "users",
            admin.clone(),
            "",
            json!({"username": "li.si", "password": "a-long-password-1", "roles": ["clerk"]}),
            format!("/api/v1/agencies/{root}/users"),
        ),
        (
            "clients",
            admin.clone(),
            "/api/v1/clients",
            json!({"name": "省平台", "agency_id": root, "scopes": ["requests:read"]}),
            "/api/v1/clients".into(),
        ),
        (
            "webhooks",
            admin.clone(),
            "/api/v1/webhooks",
            json!({"url": "https://example.org/hook", "event_types": ["*"], "secret": "a-webhook-secret-of-32-characters!"}),
            "/api/v1/webhooks".into(),
        ),
    ];
    for (name, token, path, body, list) in cases {
        let path = if path.is_empty() { list.as_str() } else { path };
        let list_path = list.clone();
        let before = total(&app, &list_path, &token).await;
        let key = format!("retry-{name}");
        let first = post_with_key(&app, path, &token, &key, &body).await;
        assert_eq!(first.status, StatusCode::CREATED, "{name}: {}", first.text);
        assert_eq!(first.header("idempotent-replayed"), None, "{name}");
        let retry = post_with_key(&app, path, &token, &key, &body).await;
        assert_eq!(retry.status, StatusCode::CREATED, "{name}: {}", retry.text);
        assert_eq!(retry.header("idempotent-replayed"), Some("true"), "{name}");
        let id = |b: &Value| b.get("id").or_else(|| b.get("client_id")).cloned();
        assert!(id(&first.body).is_some(), "{name}: {}", first.text);
        assert_eq!(id(&retry.body), id(&first.body), "{name}: the same record");
        for h in ["location", "etag"] {
            assert_eq!(retry.header(h), first.header(h), "{name}: header {h}");
        }
        let mut without_secrets = first.body.clone();
        for secret in ["client_secret", "secret"] {
            if let Some(slot) = without_secrets.get_mut(secret) {
                *slot = Value::Null;
            }
        }
        assert_eq!(retry.body, without_secrets, "{name}: the first answer");
        assert_eq!(
            total(&app, &list_path, &token).await,
            before + 1,
            "{name}: created once"
        );

        // Another body under the same key: refused, nothing created.
        let mut other = body.clone();
        for f in ["applicant_name", "name", "username", "code", "url"] {
            if other.get(f).is_some() {
                other[f] = match f {
                    "url" => json!("https://example.org/other"),
                    "code" => json!("OTHER"),
                    "username" => json!("wang.wu"),
                    _ => json!("另一个"),
                };
                break;
            }
        }
        let r = post_with_key(&app, path, &token, &key, &other).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(
            r.body["errors"][0]["code"], "idempotency_key_reused",
            "{name}"
        );
        assert_eq!(
            total(&app, &list_path, &token).await,
            before + 1,
            "{name}: nothing more"
        );
    }
}

async fn a_review_posted_twice_with_one_key_is_recorded_once_and_counted_once_in_table_four(
    app: TestApp,
) {
    let clerk = clerk(&app).await;
    let year = app.year();
    let body = review(&app.today().to_string());
    for _ in 0..2 {
        let r = post_with_key(&app, "/api/v1/reviews", &clerk, "review-0001", &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    assert_eq!(total(&app, "/api/v1/reviews", &clerk).await, 1);
    let root = app.root_agency_id().await;
    let report = app
        .get(
            &format!("/api/v1/agencies/{root}/reports/{year}"),
            &app.admin_token().await,
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    let review = &report.body["tables"]["remedies"]["review"];
    assert_eq!(review["total"], 1, "{review}");
    assert_eq!(review["pending"], 1, "{review}");
}

async fn concurrent_retries_on_two_server_processes_record_one_review(app: TestApp) {
    let clerk = clerk(&app).await;
    let (base2, handle) = app.another_server().await;
    let body = review(&app.today().to_string());
    let mut tasks = Vec::new();
    for i in 0..8 {
        let base = if i % 2 == 0 {
            app.base.clone()
        } else {
            base2.clone()
        };
        let rb = app
            .client
            .post(format!("{base}/api/v1/reviews"))
            .bearer_auth(&clerk)
            .header("Idempotency-Key", "retry-storm")
            .json(&body);
        tasks.push(tokio::spawn(async move {
            Resp::from(rb.send().await.expect("send")).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut replayed = 0;
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.insert(r.body["id"].as_str().expect("id").to_string());
        if r.header("idempotent-replayed") == Some("true") {
            replayed += 1;
        }
    }
    handle.stop(false).await;
    assert_eq!(ids.len(), 1, "one review for every retry: {ids:?}");
    assert_eq!(replayed, 7, "every answer but the first is a replay");
    assert_eq!(total(&app, "/api/v1/reviews", &clerk).await, 1);
}

async fn a_key_belongs_to_its_user_and_a_reused_key_with_another_body_is_refused(app: TestApp) {
    let root = app.root_agency_id().await;
    let one = app.create_user(&root, "clerk1", &["clerk"]).await.1;
    let two = app.create_user(&root, "clerk2", &["clerk"]).await.1;
    let body = review(&app.today().to_string());
    let a = post_with_key(&app, "/api/v1/reviews", &one, "shared-key", &body).await;
    let b = post_with_key(&app, "/api/v1/reviews", &two, "shared-key", &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
    assert_eq!(
        b.header("idempotent-replayed"),
        None,
        "another user's key is not ours"
    );
    assert_ne!(a.body["id"], b.body["id"]);
    // The same key on another endpoint is another request: refused, not answered as a review.
    let suit = json!({"applicant_name": "张三", "court": "某区人民法院", "route": "direct", "filed_on": body["filed_on"]});
    let r = post_with_key(&app, "/api/v1/litigations", &one, "shared-key", &suit).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "idempotency_key_reused");
    assert_eq!(total(&app, "/api/v1/litigations", &one).await, 0);
    // A malformed key is refused before anything happens.
    let r = post_with_key(&app, "/api/v1/reviews", &one, "  ", &body).await;
    r.assert_problem(400, "invalid_idempotency_key");
    assert_eq!(total(&app, "/api/v1/reviews", &one).await, 2);
}

async fn a_secret_shown_once_is_answered_null_on_a_replay_and_never_stored(app: TestApp) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let body = json!({"name": "省平台", "agency_id": root, "scopes": ["requests:read"]});
    let first = post_with_key(&app, "/api/v1/clients", &admin, "client-1", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let secret = first.body["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let retry = post_with_key(&app, "/api/v1/clients", &admin, "client-1", &body).await;
    assert_eq!(retry.body["client_secret"], Value::Null, "{}", retry.text);
    assert_eq!(retry.header("cache-control"), Some("no-store"));
    // Nowhere in the database: the stored answers hold no secret.
    let stored =
        app.query_texts("SELECT response_body || response_headers AS value FROM idempotency_keys");
    assert!(!stored.is_empty());
    assert!(stored.iter().all(|b| !b.contains(&secret)), "{stored:?}");
    // The secret of the first answer still works.
    let client_id = first.body["client_id"].as_str().expect("client_id");
    let r = app
        .request(Method::POST, "/api/v1/auth/token", None)
        .json(&json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
}
