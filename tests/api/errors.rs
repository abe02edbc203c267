//! Every kind of bad input answers 4xx problem+json: never a 500, never plain text.

use reqwest::{Method, StatusCode};

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    bad_input_of_every_kind_answers_problem_json,
    a_422_lists_at_most_100_problems_and_counts_them_all,
    an_oversized_header_answers_431_problem_json,
);

async fn bad_input_of_every_kind_answers_problem_json(app: TestApp) {
    let token = app.admin_token().await;
    let send = |m: Method, path: &str| app.request(m, path, Some(&token));

    // Malformed JSON.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "application/json")
            .body("{\"code\":")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(400, "invalid_json");
    // Empty body.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(400, "invalid_json");
    // JSON that is not an object of the right shape.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "application/json")
            .body("[1,2]")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "not_an_object");
    // Not even an array that would fill the fields in order.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "application/json")
            .body(r#"["ARRAY","数组机关",null,null]"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    // Wrong content type, and none.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(415, "unsupported_media_type");
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(415, "unsupported_media_type");
    // Over the body limit (1 MiB by default).
    let big = format!(
        "{{\"code\":\"A\",\"name\":\"{}\"}}",
        "x".repeat(1024 * 1024 + 10)
    );
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(413, "payload_too_large");
    // Unknown route, with and without auth.
    let r = Resp::from(
        send(Method::GET, "/api/v1/nothing-here")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(404, "not_found");
    let r = Resp::from(app.client.get(app.url("/nope")).send().await.unwrap()).await;
    r.assert_problem(404, "not_found");
    // Wrong method on a known route: 405 with Allow.
    let r = Resp::from(
        send(Method::DELETE, "/api/v1/agencies")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(405, "method_not_allowed");
    let allow = r.header("allow").unwrap().to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let r = Resp::from(
        send(
            Method::PUT,
            &format!("/api/v1/agencies/{}", uuid::Uuid::new_v4()),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));
    let r = Resp::from(app.client.post(app.url("/healthz")).send().await.unwrap()).await;
    r.assert_problem(405, "method_not_allowed");
    // Bad path parameter.
    let r = Resp::from(
        send(Method::GET, "/api/v1/agencies/not-a-uuid")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(404, "not_found");
    // Bad query parameters.
    let r = Resp::from(
        send(Method::GET, "/api/v1/agencies?page=-1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    let r = Resp::from(
        send(Method::GET, "/api/v1/agencies?per_page=1e9")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(400, "invalid_query");
    // Bad If-Match.
    let r = Resp::from(
        send(
            Method::PATCH,
            &format!("/api/v1/users/{}", uuid::Uuid::new_v4()),
        )
        .header("If-Match", "nonsense")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    r.assert_problem(400, "invalid_if_match");
    // A NUL byte in a field.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .json(&serde_json::json!({"code": "NUL", "name": "a\u{0}"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    // Nothing above was a server error, and nothing was written.
    let list = app.get("/api/v1/agencies", &token).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["total"], 1);
}

// ---------------------------------------------------------------------------------------------
// Contention is recognised as such (503, retry) on both databases, not as a fault (500).
// ---------------------------------------------------------------------------------------------

mod contention {
    use diesel::connection::SimpleConnection;
    use gongkai::app::AppError;
    use gongkai::db::{ConnectionManager, Contention, DbConnection, DbTarget, contention};
    use gongkai::http::problem::ApiError;

    use crate::helpers::{Db, FreshDb};

    fn connect(url: &str, busy_timeout_ms: u32) -> DbConnection {
        ConnectionManager::new(DbTarget::parse(url).unwrap(), busy_timeout_ms)
            .connect_once()
            .unwrap()
    }

    /// The error is the given contention, becomes `Unavailable`, and answers 503.
    #[track_caller]
    fn assert_contention(e: diesel::result::Error, expected: Contention) {
        assert_eq!(contention(&e), Some(expected), "{e:?}");
        let app = AppError::from(e);
        assert!(matches!(app, AppError::Unavailable(_)), "{app:?}");
        let api = ApiError::from(app);
        assert_eq!(api.status.as_u16(), 503);
        assert_eq!(api.code, "service_unavailable");
    }

    fn pg_table() -> Option<(FreshDb, DbConnection, DbConnection)> {
        let db = FreshDb::new(Db::Postgres)?;
        let mut a = connect(&db.url, 0);
        let b = connect(&db.url, 0);
        a.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL); INSERT INTO t VALUES (1, 0), (2, 0)")
            .unwrap();
        Some((db, a, b))
    }

    #[test]
    fn a_postgres_deadlock_is_contention() {
        let Some((_db, mut a, mut b)) = pg_table() else {
            return;
        };
        a.batch_execute("BEGIN; UPDATE t SET v = v + 1 WHERE id = 1")
            .unwrap();
        b.batch_execute("BEGIN; UPDATE t SET v = v + 1 WHERE id = 2")
            .unwrap();
        // a waits for b's row while b asks for a's: PostgreSQL aborts one of them (40P01).
        let waiter = std::thread::spawn(move || {
            let r = a.batch_execute("UPDATE t SET v = v + 1 WHERE id = 2");
            let _ = a.batch_execute("ROLLBACK");
            r
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        let rb = b.batch_execute("UPDATE t SET v = v + 1 WHERE id = 1");
        let _ = b.batch_execute("ROLLBACK");
        let ra = waiter.join().unwrap();
        let failed: Vec<_> = [ra, rb].into_iter().filter_map(Result::err).collect();
        assert_eq!(failed.len(), 1, "exactly one side is aborted: {failed:?}");
        for e in failed {
            assert_contention(e, Contention::DeadlockDetected);
        }
    }

    #[test]
    fn a_postgres_lock_not_available_is_contention() {
        let Some((_db, mut a, mut b)) = pg_table() else {
            return;
        };
        a.batch_execute("BEGIN; SELECT v FROM t WHERE id = 1 FOR UPDATE")
            .unwrap();
        // NOWAIT on a locked row: 55P03 "could not obtain lock on row in relation …".
        let e = b
            .batch_execute("SELECT v FROM t WHERE id = 1 FOR UPDATE NOWAIT")
            .unwrap_err();
        assert_contention(e, Contention::LockNotAvailable);
        // lock_timeout: 55P03 "canceling statement due to lock timeout".
        let e = b
            .batch_execute("SET lock_timeout = '50ms'; UPDATE t SET v = 5 WHERE id = 1")
            .unwrap_err();
        assert_contention(e, Contention::LockNotAvailable);
        a.batch_execute("ROLLBACK").unwrap();
    }

    #[test]
    fn a_postgres_serialization_failure_is_contention() {
        let Some((_db, mut a, mut b)) = pg_table() else {
            return;
        };
        a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT v FROM t")
            .unwrap();
        b.batch_execute("UPDATE t SET v = 9 WHERE id = 1").unwrap();
        // 40001 "could not serialize access due to concurrent update".
        let e = a
            .batch_execute("UPDATE t SET v = 5 WHERE id = 1")
            .unwrap_err();
        a.batch_execute("ROLLBACK").unwrap();
        assert_contention(e, Contention::SerializationFailure);
    }

    #[test]
    fn other_postgres_errors_are_faults_that_keep_their_cause() {
        let Some((_db, mut a, _b)) = pg_table() else {
            return;
        };
        let e = a.batch_execute("SELECT no_such_column FROM t").unwrap_err();
        assert_eq!(contention(&e), None);
        match AppError::from(e) {
            AppError::Internal(cause) => {
                let chain: Vec<String> = cause.chain().map(ToString::to_string).collect();
                assert_eq!(chain.len(), 2, "{chain:?}");
                assert!(chain[1].contains("no_such_column"), "{chain:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_role_that_may_not_set_lc_messages_still_connects() {
        let Some(db) = FreshDb::new(Db::Postgres) else {
            return;
        };
        let mut a = connect(&db.url, 0);
        // pg_read_all_data is a predefined role without the right to set lc_messages: the
        // session setup must pass over the refusal (it runs at every new connection).
        a.batch_execute("SET ROLE pg_read_all_data").unwrap();
        assert!(
            a.batch_execute("SELECT set_config('lc_messages', 'C', false)")
                .is_err(),
            "the role may not set lc_messages"
        );
        a.batch_execute(gongkai::db::PG_MESSAGES_IN_C_LOCALE)
            .unwrap();
        a.batch_execute("RESET ROLE").unwrap();
    }

    #[test]
    fn sqlite_busy_is_contention() {
        let db = FreshDb::new(Db::Sqlite).unwrap();
        let mut a = connect(&db.url, 10);
        let mut b = connect(&db.url, 10);
        a.batch_execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY); BEGIN IMMEDIATE; INSERT INTO t VALUES (1)",
        )
        .unwrap();
        let e = b.batch_execute("BEGIN IMMEDIATE").unwrap_err();
        a.batch_execute("COMMIT").unwrap();
        assert_contention(e, Contention::SqliteBusy);
    }
}

/// A concrete path for a template of the OpenAPI document.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| match s {
            "{id}" => uuid::Uuid::new_v4().to_string(),
            "{year}" => "2025".to_string(),
            s if s.starts_with('{') => "x".to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

// Routing does not touch the database: SQLite is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_answers_405_with_its_own_allow_to_a_method_it_does_not_serve() {
    let app = TestApp::spawn(crate::helpers::Db::Sqlite).await.unwrap();
    let token = app.admin_token().await;
    let doc: serde_json::Value = serde_json::from_str(&gongkai::http::openapi_json()).unwrap();
    let all = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        let served: Vec<&str> = all
            .iter()
            .copied()
            .filter(|m| item.get(m.to_lowercase()).is_some())
            .collect();
        let path = concrete(template);
        for method in all.iter().filter(|m| !served.contains(m)) {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let r = Resp::from(app.request(m, &path, Some(&token)).send().await.unwrap()).await;
            assert_eq!(
                r.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {}",
                r.text
            );
            r.assert_problem(405, "method_not_allowed");
            assert_eq!(
                r.header("allow"),
                Some(served.join(", ").as_str()),
                "{method} {path}"
            );
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked}");
}

// The case that answered 404: `/requests/{id}` took `PATCH /requests/by-reference`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_literal_segment_beats_an_id_so_patch_by_reference_is_405_not_404() {
    let app = TestApp::spawn(crate::helpers::Db::Sqlite).await.unwrap();
    let token = app.admin_token().await;
    let r = Resp::from(
        app.request(
            Method::PATCH,
            "/api/v1/requests/by-reference?agency_code=ROOT&external_reference=x",
            Some(&token),
        )
        .header("content-type", "application/json")
        .header("If-Match", "\"1\"")
        .body("{}")
        .send()
        .await
        .unwrap(),
    )
    .await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));
    // The literal route itself still answers its own method.
    let r = app
        .get(
            "/api/v1/requests/by-reference?agency_code=ROOT&external_reference=nothing",
            &token,
        )
        .await;
    r.assert_problem(404, "not_found");
    // An id route keeps its own methods.
    let id = uuid::Uuid::new_v4();
    let r = Resp::from(
        app.request(
            Method::DELETE,
            &format!("/api/v1/requests/{id}"),
            Some(&token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, PATCH"));
    // A trailing slash is another path: 404, not a 405 of the path without it.
    let r = app.get("/api/v1/requests/", &token).await;
    r.assert_problem(404, "not_found");
    // Without a token the answer is the same: the method is wrong whoever asks.
    let r = Resp::from(
        app.request(Method::PATCH, "/api/v1/requests/by-reference", None)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(405, "method_not_allowed");
}

/// Issue 17: a body with 150 bad fields, or an import with 150 bad lines, answers the first 100
/// problems and `error_count` 150 — never a megabyte of errors.
async fn a_422_lists_at_most_100_problems_and_counts_them_all(app: TestApp) {
    let token = app.admin_token().await;
    // 150 foreign fields, each one problem.
    let mut body = serde_json::Map::new();
    body.insert("code".into(), "x1".into());
    body.insert("name".into(), "某局".into());
    for i in 0..150 {
        body.insert(format!("unexpected_{i:03}"), i.into());
    }
    let r = app
        .post("/api/v1/agencies", &token, &serde_json::Value::Object(body))
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        r.body["errors"].as_array().map(Vec::len),
        Some(100),
        "{}",
        r.text
    );
    assert_eq!(r.body["error_count"], 150, "{}", r.text);
    assert!(r.text.len() < 64 * 1024, "{} bytes", r.text.len());

    // An import of 150 lines, each bad.
    let lines: String = (0..150).map(|_| "{\"channel\": \"pigeon\"}\n").collect();
    let r = Resp::from(
        app.request(Method::POST, "/api/v1/import/requests", Some(&token))
            .header("content-type", "application/x-ndjson")
            .body(lines)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        r.body["errors"].as_array().map(Vec::len),
        Some(100),
        "{}",
        r.text
    );
    let count = r.body["error_count"].as_u64().unwrap_or(0);
    assert!(count >= 150, "error_count {count}");

    // A few problems: all listed, counted.
    let r = app
        .post(
            "/api/v1/agencies",
            &token,
            &serde_json::json!({"code": "x2"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let n = r.body["errors"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(r.body["error_count"], n, "{}", r.text);
}

/// Issue 17: request headers over 16 KiB answer 431 problem+json, not a bare status.
async fn an_oversized_header_answers_431_problem_json(app: TestApp) {
    let token = app.admin_token().await;
    let r = Resp::from(
        app.request(Method::GET, "/api/v1/requests", Some(&token))
            .header("X-Padding", "a".repeat(20 * 1024))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(431, "headers_too_large");
    // Within the limit, the same request is answered.
    let r = Resp::from(
        app.request(Method::GET, "/api/v1/requests", Some(&token))
            .header("X-Padding", "a".repeat(8 * 1024))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
