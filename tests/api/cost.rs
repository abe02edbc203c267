//! What a request costs the database (issue 15): an authenticated read runs at most three SQL
//! statements on one pooled connection (one, once its token was seen) (counted by the service itself, BEGIN and COMMIT
//! included, and sent as `Server-Timing` when `server.server_timing` is on), and intake from two
//! server processes on one database numbers cases without gaps or repeats.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Resp, TestApp};

crate::both_databases_with!(with_server_timing =>
    an_authenticated_read_runs_at_most_three_statements,
    a_list_and_a_write_report_their_statements_too,
    a_token_seen_before_is_not_read_again_until_its_user_changes,
    the_calendar_is_not_read_again_until_it_changes,
);
crate::both_databases!(
    statement_counts_are_not_sent_by_default,
    intake_from_two_server_processes_numbers_cases_without_gaps_or_repeats,
    a_user_disabled_in_one_process_is_refused_by_another_that_cached_the_token,
);

fn with_server_timing(s: &mut gongkai::config::Settings) {
    s.server.server_timing = true;
}

/// The statement count of `Server-Timing: db;desc="N statements"`.
fn statements(r: &Resp) -> u64 {
    let v = r
        .header("server-timing")
        .unwrap_or_else(|| panic!("no Server-Timing header: {:?}", r.text));
    v.strip_prefix("db;desc=\"")
        .and_then(|rest| rest.strip_suffix(" statements\""))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected Server-Timing {v:?}"))
}

fn application(arrived_on: chrono::NaiveDate, name: &str) -> Value {
    json!({
        "channel": "in_person",
        "arrived_at": format!("{arrived_on}T09:30:00+08:00"),
        "applicant": {
            "kind": "natural_person",
            "name": name,
            "id_document": {"type": "resident_id_card", "number": "110101199003071233"},
            "phone": "010-65123456",
            "address": "北京市东城区东华门街道1号",
        },
        "description": "申请公开2025年本机关作出的建设项目环境影响评价批复文件",
    })
}

/// Disables a user created by `create_user` (version 1) through this process.
async fn disable(app: &TestApp, admin: &str, user_id: &str) {
    let r = app
        .patch(
            &format!("/api/v1/users/{user_id}"),
            admin,
            &json!({"disabled": true}),
            Some(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Registers one application and answers its id.
async fn registered(app: &TestApp, token: &str, name: &str) -> String {
    let created = app
        .post("/api/v1/requests", token, &application(app.today(), name))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.body["id"].as_str().unwrap().to_string()
}

async fn an_authenticated_read_runs_at_most_three_statements(app: TestApp) {
    let admin = app.admin_token().await;
    let id = registered(&app, &admin, "张三").await;
    let path = format!("/api/v1/requests/{id}");
    // The first read and every later one: the token's user (until this process keeps it), the
    // application with its agency, its trail's acts and whether any case names it (the cases
    // only when one does). No pool check, no empty transaction.
    for _ in 0..3 {
        let r = app.get(&path, &admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["id"], id.as_str());
        let n = statements(&r);
        assert!(
            (1..=3).contains(&n),
            "an authenticated read ran {n} statements"
        );
    }
    // A clerk of the agency reads it at the same cost.
    let root = app.root_agency_id().await;
    let (_, clerk) = app.create_user(&root, "clerk1", &["clerk"]).await;
    let r = app.get(&path, &clerk).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(statements(&r) <= 3, "{}", statements(&r));
    // Not found costs no more.
    let r = app
        .get(
            "/api/v1/requests/00000000-0000-4000-8000-000000000000",
            &admin,
        )
        .await;
    r.assert_problem(404, "not_found");
    assert!(statements(&r) <= 3, "{}", statements(&r));
}

async fn a_list_and_a_write_report_their_statements_too(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/api/v1/requests",
            &admin,
            &application(app.today(), "李四"),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    // The count is the request's own: an intake writes the application, its documents, its
    // trail and its feed event in one transaction, so it sends more than a read.
    let n = statements(&created);
    assert!(n >= 5, "an intake reported only {n} statements");
    // Once the token and the calendar are kept (the watch is live: a calendar question sends
    // nothing), an intake in the user's own agency sends at most twelve: BEGIN (with the
    // deferral of its references), the agency with the user and its department, the
    // applicant's earlier applications (one read for both flags), the webhook subscriptions;
    // the documents, the first trail event, the flags when it raises any (the same applicant
    // again: a possible repeat); the case number, the application's row, its feed event; COMMIT.
    let ask = "/api/v1/calendar/working-days/add?from=2026-02-04&days=1";
    assert_eq!(statements_settle_at(&app, ask, &admin, 0).await, 0);
    let second = app
        .post(
            "/api/v1/requests",
            &admin,
            &application(app.today(), "王五"),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let n = statements(&second);
    assert!(n <= 12, "an intake sent {n} statements");
    // A request that needs no database sends none.
    let health = Resp::from(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(statements(&health), 0);
    let list = app.get("/api/v1/requests", &admin).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(statements(&list) >= 2, "{}", statements(&list));
}

async fn statement_counts_are_not_sent_by_default(app: TestApp) {
    let admin = app.admin_token().await;
    let r = app.get("/api/v1/requests", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("server-timing"), None);
}

async fn intake_from_two_server_processes_numbers_cases_without_gaps_or_repeats(app: TestApp) {
    let admin = app.admin_token().await;
    let second = crate::helpers::second_process(&app, &[]).await;
    // Each process's token from itself (the two share one pinned clock, `clock.anchor`, so
    // either would do).
    let r = app
        .client
        .post(format!("{}/api/v1/auth/token", second.base))
        .json(&json!({"grant_type": "password", "username": "admin",
                      "password": app.settings.bootstrap.admin_password}))
        .send()
        .await
        .expect("login at the second process");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("token answer");
    let second_admin = body["access_token"].as_str().expect("token").to_string();
    let today = app.today();
    let year = chrono::Datelike::year(&today);
    // Eight writers per process, five intakes each, all for one agency and one year.
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (base, token) = if w % 2 == 0 {
            (app.url(""), admin.clone())
        } else {
            (second.base.clone(), second_admin.clone())
        };
        let client = app.client.clone();
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for i in 0..5 {
                let r = client
                    .request(Method::POST, format!("{base}/api/v1/requests"))
                    .bearer_auth(&token)
                    .json(&application(today, &format!("申请人{w}-{i}")))
                    .send()
                    .await
                    .expect("intake sent");
                let status = r.status();
                let body: Value = r.json().await.expect("intake answer");
                assert_eq!(status, StatusCode::CREATED, "intake at {base}: {body}");
                numbers.push(body["case_number"].as_str().unwrap().to_string());
            }
            numbers
        }));
    }
    // Meanwhile a reader lists the agency's applications again and again: what it sees is
    // always numbers 1..=k, every one well formed. An application becomes visible with its
    // number, and never after one numbered above it.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (client, url, token, done) = (
            app.client.clone(),
            app.url("/api/v1/requests?per_page=100&sort=case_number&total=none"),
            admin.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let mut looks = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let r = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("list");
                assert_eq!(r.status(), StatusCode::OK);
                let body: Value = r.json().await.expect("list answer");
                let seen: Vec<String> = body["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .map(|i| i["case_number"].as_str().expect("case number").to_string())
                    .collect();
                let prefix: Vec<String> = (1..=seen.len())
                    .map(|n| format!("ROOT-{year}-{n:06}"))
                    .collect();
                assert_eq!(seen, prefix, "visible case numbers are not 1..=k");
                looks += 1;
                if finished {
                    return looks;
                }
            }
        })
    };
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.extend(t.await.expect("writer"));
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let looks = reader.await.expect("reader");
    assert!(looks >= 2, "the reader looked only {looks} times");
    assert_eq!(numbers.len(), 80);
    let distinct: BTreeSet<&String> = numbers.iter().collect();
    assert_eq!(distinct.len(), 80, "a case number was given twice");
    let expected: BTreeSet<String> = (1..=80).map(|n| format!("ROOT-{year}-{n:06}")).collect();
    let got: BTreeSet<String> = numbers.into_iter().collect();
    assert_eq!(got, expected, "case numbers are not 1..=80 without gaps");
    // What both processes answered is what is stored.
    let r = app
        .get("/api/v1/requests?per_page=100&sort=case_number", &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let stored: BTreeSet<String> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["case_number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored, expected);
}

/// A server on PostgreSQL whose connections carry an `application_name` of their own, returned
/// with it: other tests share the database server, and `pg_stat_activity` tells them apart.
async fn spawn_named_postgres() -> Option<(TestApp, String)> {
    let name = format!("gk_{}", uuid::Uuid::new_v4().simple());
    let tagged = name.clone();
    let app = TestApp::spawn_with(crate::helpers::Db::Postgres, move |s| {
        s.database.url = format!("{}&application_name={tagged}", s.database.url);
    })
    .await?;
    Some((app, name))
}

/// On PostgreSQL intake queues for its case number on an advisory lock of the agency and year
/// (first come, first served), taken by the statement that takes the number and held to the
/// commit: an intake waits while another transaction holds the number, and takes the next one
/// once that commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_queues_for_its_case_number_behind_a_transaction_that_holds_it_postgres() {
    use diesel::connection::SimpleConnection;
    let Some(app) = TestApp::spawn(crate::helpers::Db::Postgres).await else {
        return;
    };
    let admin = app.admin_token().await;
    let first = app
        .post(
            "/api/v1/requests",
            &admin,
            &application(app.today(), "李四"),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let root = app.root_agency_id().await;
    let year = chrono::Datelike::year(&app.today());
    let target = gongkai::db::DbTarget::parse(&app.settings.database.url).unwrap();
    let mut holder = gongkai::db::ConnectionManager::new(target, 5000)
        .connect_once()
        .unwrap();
    holder.batch_execute("BEGIN").unwrap();
    let held = gongkai::db::requests::next_case_seq(&mut holder, &root, year).unwrap();
    let locks = app.query_texts(&format!(
        "SELECT count(*)::text AS value FROM pg_locks WHERE locktype = 'advisory' \
         AND classid = {} AND objsubid = 2 AND granted",
        gongkai::db::requests::CASE_NUMBER_LOCK_CLASS as u32
    ));
    assert_eq!(locks, ["1"], "the number's advisory lock is not held");
    // An intake now waits for the holder's commit.
    let waiting = {
        let app_client = app.client.clone();
        let url = app.url("/api/v1/requests");
        let admin = admin.clone();
        let body = application(app.today(), "王五");
        tokio::spawn(async move {
            Resp::from(
                app_client
                    .post(url)
                    .bearer_auth(admin)
                    .json(&body)
                    .send()
                    .await
                    .expect("intake"),
            )
            .await
        })
    };
    // It waits on the ordered queue (the advisory lock), not on the counter row.
    let mut queued = Vec::new();
    for _ in 0..500 {
        queued = app.query_texts(
            "SELECT pid::text AS value FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
        );
        if !queued.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        queued.len(),
        1,
        "no intake queued on the number's advisory lock"
    );
    assert!(
        !waiting.is_finished(),
        "intake took a number while another transaction held it"
    );
    holder.batch_execute("COMMIT").unwrap();
    let second = waiting.await.unwrap();
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let seq_of = |v: &Value| {
        v["case_number"]
            .as_str()
            .and_then(|n| n.rsplit(|c: char| !c.is_ascii_digit()).next())
            .and_then(|d| d.parse::<i32>().ok())
            .unwrap_or_else(|| panic!("no number in {v}"))
    };
    assert_eq!(
        seq_of(&first.body) + 1,
        held,
        "the holder took the next number"
    );
    assert_eq!(
        seq_of(&second.body),
        held + 1,
        "the waiting intake took the one after"
    );
}

/// PostgreSQL drops the service's connections (a restart, a failover, an administrator): the
/// pool does not test connections before use, so the next request may find one dead. It
/// answers 503 with `Retry-After` (never 500), the dead connection leaves the pool, its
/// siblings are checked before use for a while, and the requests after it succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_dropped_are_replaced_postgres() {
    let Some((app, name)) = spawn_named_postgres().await else {
        return;
    };
    let admin = app.admin_token().await;
    assert_eq!(app.get("/api/v1/requests", &admin).await.status, 200);
    let killed = app.query_texts(&format!(
        "SELECT pg_terminate_backend(pid)::text AS value FROM pg_stat_activity \
         WHERE application_name = '{name}' AND pid <> pg_backend_pid()"
    ));
    assert!(!killed.is_empty(), "no connection of the service was found");
    let mut unavailable = 0;
    for i in 0..6 {
        let r = app.get("/api/v1/requests", &admin).await;
        match r.status.as_u16() {
            200 => {}
            503 => {
                r.assert_problem(503, "service_unavailable");
                assert!(r.header("retry-after").is_some(), "503 without Retry-After");
                unavailable += 1;
            }
            other => panic!(
                "request {i} after the connections were dropped: {other} {}",
                r.text
            ),
        }
    }
    assert!(
        unavailable <= 1,
        "{unavailable} requests failed after the connections were dropped"
    );
    assert_eq!(app.get("/api/v1/requests", &admin).await.status, 200);
}

/// Reads `path` until an answer reports `want` statements (the process's watch for changes of
/// users goes live just after it starts); the last count when it never does within 5 s.
async fn statements_settle_at(app: &TestApp, path: &str, token: &str, want: u64) -> u64 {
    let mut last = 0;
    for _ in 0..250 {
        let r = app.get(path, token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        last = statements(&r);
        if last == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    last
}

async fn a_token_seen_before_is_not_read_again_until_its_user_changes(app: TestApp) {
    let admin = app.admin_token().await;
    let path = format!(
        "/api/v1/requests/{}",
        registered(&app, &admin, "王五").await
    );
    let root = app.root_agency_id().await;
    let (clerk_id, clerk) = app.create_user(&root, "clerk.cached", &["clerk"]).await;
    // The first read looks the token's user up; later ones do not: one statement for the
    // application (with its agency, its trail's acts and whether any case names it; none does).
    let first = app.get(&path, &clerk).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(statements(&first), 2, "the first read of a token");
    assert_eq!(statements_settle_at(&app, &path, &clerk, 1).await, 1);
    // Another user's token is its own entry.
    let (_, other) = app.create_user(&root, "clerk.other", &["clerk"]).await;
    let r = app.get(&path, &other).await;
    assert_eq!(statements(&r), 2, "a token not seen before");
    // A change of the user is seen by the very next request: disabled, refused at once.
    disable(&app, &admin, &clerk_id).await;
    let r = app.get(&path, &clerk).await;
    r.assert_problem(401, "invalid_token");
    // Everyone else's token is looked up again once (the cache starts over) and then kept.
    let r = app.get(&path, &other).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(statements(&r), 2, "the first read after a change of users");
    assert_eq!(statements_settle_at(&app, &path, &other, 1).await, 1);
}

/// The working-day calendar is kept in memory while the process's watch sees no change: a
/// question about working days then sends no statement. A change made through this process is
/// answered by the very next question (the process forgets its calendar before it answers the
/// change); `calendar::a_replaced_year_is_audited_and_seen_by_another_process` shows another
/// process following within its poll.
async fn the_calendar_is_not_read_again_until_it_changes(app: TestApp) {
    let admin = app.admin_token().await;
    let ask = "/api/v1/calendar/working-days/add?from=2027-02-04&days=1";
    assert_eq!(statements_settle_at(&app, ask, &admin, 0).await, 0);
    let r = app.get(ask, &admin).await;
    assert_eq!(r.body, json!({"date": "2027-02-05", "provisional": true}));
    let notice = json!({
        "holidays": [
            {"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"},
            {"name": "春节", "start": "2027-02-05", "end": "2027-02-11"}
        ],
        "workdays": ["2027-02-14"]
    });
    let put = app.put("/api/v1/calendar/2027", &admin, &notice).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let r = app.get(ask, &admin).await;
    assert_eq!(r.body, json!({"date": "2027-02-12", "provisional": false}));
    assert!(
        statements(&r) >= 1,
        "the calendar was not read again after its change"
    );
    assert_eq!(statements_settle_at(&app, ask, &admin, 0).await, 0);
}

async fn a_user_disabled_in_one_process_is_refused_by_another_that_cached_the_token(app: TestApp) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let (clerk_id, _) = app.create_user(&root, "clerk.elsewhere", &["clerk"]).await;
    let second =
        crate::helpers::second_process(&app, &[("GONGKAI__SERVER__SERVER_TIMING", "true".into())])
            .await;
    // The clerk's token from the second process.
    let r = app
        .client
        .post(format!("{}/api/v1/auth/token", second.base))
        .json(
            &json!({"grant_type": "password", "username": "clerk.elsewhere",
                      "password": crate::helpers::PASSWORD}),
        )
        .send()
        .await
        .expect("login at the second process");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("token answer");
    let token = body["access_token"].as_str().expect("token").to_string();
    // A read that costs one statement besides the token's user: an application that is not
    // there (404).
    let me = format!(
        "{}/api/v1/requests/00000000-0000-4000-8000-000000000000",
        second.base
    );
    let read = |token: String| {
        let client = app.client.clone();
        let me = me.clone();
        async move {
            Resp::from(
                client
                    .get(&me)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("a read at the second process"),
            )
            .await
        }
    };
    // The second process keeps the token's user: a read there sends no statement for it.
    let first = read(token.clone()).await;
    first.assert_problem(404, "not_found");
    assert_eq!(statements(&first), 2, "the first read of the token");
    let mut kept = false;
    for _ in 0..250 {
        let r = read(token.clone()).await;
        r.assert_problem(404, "not_found");
        if statements(&r) == 1 {
            kept = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(kept, "the second process never kept the token's user");
    // Disabled through the first process: the second refuses the token within its poll, and
    // from then on.
    disable(&app, &admin, &clerk_id).await;
    let disabled_at = std::time::Instant::now();
    let mut refused = None;
    while disabled_at.elapsed() < std::time::Duration::from_secs(2) {
        let r = read(token.clone()).await;
        if r.status == StatusCode::UNAUTHORIZED {
            r.assert_problem(401, "invalid_token");
            refused = Some(disabled_at.elapsed());
            break;
        }
        r.assert_problem(404, "not_found");
    }
    let after =
        refused.expect("the second process still accepted the disabled user's token 2 s later");
    eprintln!("refused by the second process {after:?} after the commit");
    for _ in 0..5 {
        read(token.clone())
            .await
            .assert_problem(401, "invalid_token");
    }
}

/// Intake takes the agency's case number near its end (issue 15): every intake of an agency
/// queues on one counter row from the moment it takes a number to its commit, so it takes
/// the number only after the writes that do not carry it. Shown on PostgreSQL, where intakes
/// write at once (SQLite lets one writer in at a time): with the counter row locked from
/// outside, an intake waits for it having already written its documents and first trail
/// event, and not yet its application row or feed event. Once the row is free, it goes on and
/// takes the next number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_takes_its_case_number_after_the_writes_that_do_not_carry_it_postgres() {
    use diesel::{Connection, RunQueryDsl};
    let Some((app, name)) = spawn_named_postgres().await else {
        return;
    };
    let admin = app.admin_token().await;
    let today = app.today();
    let year = chrono::Datelike::year(&today);
    registered(&app, &admin, "张三").await; // the agency's counter row for the year
    // Another connection locks that row and holds it until told.
    let url = app.settings.database.url.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut c = diesel::PgConnection::establish(&url).expect("postgres");
        diesel::sql_query("BEGIN").execute(&mut c).expect("begin");
        let n = diesel::sql_query(format!(
            "SELECT last_seq FROM case_counters WHERE year = {year} FOR UPDATE"
        ))
        .execute(&mut c)
        .expect("lock the counter");
        assert_eq!(n, 1, "the agency's counter row");
        locked_tx.send(()).expect("tell");
        release_rx.recv().expect("wait");
        diesel::sql_query("COMMIT").execute(&mut c).expect("commit");
    });
    locked_rx.recv().expect("locked");
    let rb = app
        .request(Method::POST, "/api/v1/requests", Some(&admin))
        .json(&application(today, "李四"));
    let intake = tokio::spawn(async move { Resp::from(rb.send().await.expect("send")).await });
    // The intake's connection, waiting for the counter row.
    let mut waiting = Vec::new();
    for _ in 0..500 {
        waiting = app.query_texts(&format!(
            "SELECT pid::text AS value FROM pg_stat_activity WHERE application_name = '{name}' \
             AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO case_counters%'"
        ));
        if !waiting.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(waiting.len(), 1, "no intake waited for the counter row");
    let written: BTreeSet<String> = app
        .query_texts(&format!(
            "SELECT c.relname::text AS value FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
             WHERE l.pid = {} AND l.mode = 'RowExclusiveLock' AND c.relkind = 'r'",
            waiting[0]
        ))
        .into_iter()
        .collect();
    release_tx.send(()).expect("release");
    holder.join().expect("lock holder");
    for table in ["request_documents", "request_events", "case_counters"] {
        assert!(
            written.contains(table),
            "{table} not written before the number: {written:?}"
        );
    }
    for table in ["requests", "feed_events"] {
        assert!(
            !written.contains(table),
            "{table} written before the number: {written:?}"
        );
    }
    let r = intake.await.expect("intake");
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["case_number"], format!("ROOT-{year}-000002"));
}

/// Each pooled SQLite connection keeps a page cache of `database.sqlite_cache_kib` (issue 15:
/// memory stays flat; SQLite's own default of 2,000 KiB each is what a pool of 16 kept). A
/// connection the pool hands out, and one made after it, both run with the setting.
#[test]
fn sqlite_connections_keep_the_page_cache_the_settings_give() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct CacheSize {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        cache_size: i32,
    }
    let Some(fresh) = crate::helpers::FreshDb::new(crate::helpers::Db::Sqlite) else {
        panic!("SQLite is always there");
    };
    let mut settings = crate::helpers::test_settings().database;
    settings.url = fresh.url.clone();
    settings.sqlite_cache_kib = 512;
    settings.pool_max_size = 2;
    let db = gongkai::db::connect(&settings, true).expect("connect");
    let mut first = db.get().expect("a pooled connection");
    let mut second = db.get().expect("another");
    for conn in [&mut first, &mut second] {
        let got: CacheSize = diesel::sql_query("PRAGMA cache_size")
            .get_result(&mut ***conn)
            .expect("cache size");
        assert_eq!(got.cache_size, -512, "KiB, given as a negative page count");
    }
}
