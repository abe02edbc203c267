//! The test harness: a fresh database per test (SQLite file, or a PostgreSQL schema), the real
//! application on a free port, and typed helpers.

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use gongkai::clock::Clock;
use gongkai::config::{Profile, Settings};
use gongkai::startup::Application;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const PASSWORD: &str = "user-password-for-tests";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    pub settings: Settings,
    /// The application's clock: tests ask it for "today" and "now", never the system.
    pub clock: Clock,
    admin_token: OnceLock<String>,
    _dir: Option<tempfile::TempDir>,
    /// The documents folder of this application (`settings.documents.dir`).
    _documents: tempfile::TempDir,
    pg_schema: Option<(String, String)>,
    server: actix_web::dev::ServerHandle,
}

/// The PostgreSQL server for tests, or None when explicitly skipped. Unset without the skip
/// flag is a failure: tests never skip silently.
///
/// Without a `sslmode` of its own the URL gets `sslmode=disable`. libpq's default `prefer`
/// speaks TLS to a server with `ssl = on` (Debian's default), and the test process ends with
/// the servers' threads (the principals watcher polls) still reading their connections while
/// OpenSSL's exit handler frees its state: a CI run's API suite passed all 483 tests and then
/// died of SIGSEGV at exit, once in six runs. The tests' server is local; TLS proves nothing.
pub fn postgres_base_url() -> Option<String> {
    match std::env::var("GONGKAI_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() && url.contains("sslmode=") => Some(url),
        Ok(url) if !url.trim().is_empty() => {
            let sep = if url.contains('?') { '&' } else { '?' };
            Some(format!("{url}{sep}sslmode=disable"))
        }
        _ => {
            if std::env::var("GONGKAI_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
                eprintln!("PostgreSQL variant skipped on request (GONGKAI_TEST_SKIP_POSTGRES=1)");
                None
            } else {
                panic!(
                    "GONGKAI_TEST_DATABASE_URL is not set. Point it at a PostgreSQL server \
                     (e.g. postgres://postgres@127.0.0.1:5432/postgres), or set \
                     GONGKAI_TEST_SKIP_POSTGRES=1 to run the SQLite variants only."
                )
            }
        }
    }
}

fn with_search_path(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// The date every test runs on unless `GONGKAI_TEST_TODAY` names another. The suite passes
/// on any date from 2026-12-01 to 2030-12-31 (`GONGKAI_TEST_TODAY=2030-06-30 cargo test`).
pub const DEFAULT_TEST_TODAY: &str = "2026-12-15";

/// The pinned date of this test run: `GONGKAI_TEST_TODAY` (YYYY-MM-DD), or
/// [`DEFAULT_TEST_TODAY`]. A malformed value fails the run rather than be ignored.
pub fn test_today() -> NaiveDate {
    let raw = std::env::var("GONGKAI_TEST_TODAY")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_TODAY.to_string());
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .unwrap_or_else(|e| panic!("GONGKAI_TEST_TODAY={raw:?} is not a date (YYYY-MM-DD): {e}"))
}

/// The clock of the test settings (the one every `TestApp` runs on), for tests that work on
/// the database without starting the service.
pub fn test_clock() -> Clock {
    Clock::from_settings(&test_settings()).expect("test clock")
}

pub fn test_settings() -> Settings {
    let mut s = Settings::defaults(Profile::Test).expect("defaults");
    s.clock.today = test_today().to_string();
    s.server.bind = "127.0.0.1:0".into();
    s.server.workers = 2;
    s.server.shutdown_timeout_secs = 1;
    s.bootstrap.admin_password = ADMIN_PASSWORD.into();
    // A token key of the test's own, so tests can sign tokens themselves (the default, empty,
    // generates one and keeps it in the database: `auth::generated_token_secret_*`).
    s.auth.jwt_secret = gongkai::auth::secret::generate();
    s.database.pool_max_size = 4;
    // Reminder tests start the scheduler themselves: other tests count the feed's events.
    s.reminders.enabled = false;
    s.calendar.dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/calendar");
    // Never the working tree's data/ folder; `TestApp` gives each application a folder of its
    // own, this one serves tests that start the service by hand.
    s.documents.dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("documents");
    s
}

/// A fresh, empty database of the given kind, as a URL; the guard removes it.
pub struct FreshDb {
    pub url: String,
    pub dir: Option<tempfile::TempDir>,
    pub pg_schema: Option<(String, String)>,
}

impl FreshDb {
    pub fn new(db: Db) -> Option<FreshDb> {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some(FreshDb {
                    url,
                    dir: Some(dir),
                    pg_schema: None,
                })
            }
            Db::Postgres => {
                let base = postgres_base_url()?;
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = diesel::PgConnection::establish(&base)
                    .unwrap_or_else(|e| panic!("cannot connect to {base}: {e}"));
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .expect("create schema");
                Some(FreshDb {
                    url: with_search_path(&base, &schema),
                    dir: None,
                    pg_schema: Some((base, schema)),
                })
            }
        }
    }
}

pub fn drop_pg_schema(base: &str, schema: &str) {
    if let Ok(mut conn) = diesel::PgConnection::establish(base) {
        let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.pg_schema.take() {
            drop_pg_schema(&base, &schema);
        }
    }
}

impl TestApp {
    pub async fn spawn(db: Db) -> Option<TestApp> {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut Settings)) -> Option<TestApp> {
        let mut fresh = FreshDb::new(db)?;
        let mut settings = test_settings();
        settings.database.url = fresh.url.clone();
        let documents = tempfile::tempdir().expect("documents folder");
        settings.documents.dir = documents.path().to_path_buf();
        tweak(&mut settings);
        let app = Application::build(settings.clone())
            .await
            .expect("application starts");
        let port = app.port();
        let clock = app.state.clock;
        let server = app.into_server();
        let handle = server.handle();
        tokio::spawn(server);
        Some(TestApp {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            db,
            settings,
            clock,
            admin_token: OnceLock::new(),
            _dir: fresh.dir.take(),
            _documents: documents,
            pg_schema: fresh.pg_schema.take(),
            server: handle,
        })
    }

    /// Today where the agency is, by the application's clock.
    pub fn today(&self) -> NaiveDate {
        self.clock.today()
    }

    /// The current instant, by the application's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The application's current year (the clock's, in the agency's time zone).
    pub fn year(&self) -> i32 {
        use chrono::Datelike;
        self.today().year()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let rb = self.client.request(method, self.url(path));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::GET, path, Some(token)))
            .await
    }

    /// Sends a request and checks the answer against the OpenAPI document (`contract.rs`).
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let req = rb.build().expect("request");
        let method = req.method().clone();
        let path = req.url().path().to_string();
        let r = Resp::from(self.client.execute(req).await.expect("send")).await;
        super::contract::check(&method, &path, r.status.as_u16(), &r.headers, &r.text);
        r
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(self.request(Method::POST, path, Some(token)).json(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(self.request(Method::PUT, path, Some(token)).json(body))
            .await
    }

    pub async fn patch(
        &self,
        path: &str,
        token: &str,
        body: &Value,
        if_match: Option<i64>,
    ) -> Resp {
        let mut rb = self.request(Method::PATCH, path, Some(token)).json(body);
        if let Some(v) = if_match {
            rb = rb.header("If-Match", format!("\"{v}\""));
        }
        self.send(rb).await
    }

    /// Sends a body with `If-Match` when one is given.
    pub async fn send_if_match(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Resp {
        let mut rb = self.request(method, path, Some(token)).json(body);
        if let Some(v) = if_match {
            rb = rb.header("If-Match", v);
        }
        self.send(rb).await
    }

    /// The `ETag` of a yearly report (`report` is its path), read as `token`.
    pub async fn report_etag(&self, report: &str, token: &str) -> Option<String> {
        self.get(report, token)
            .await
            .header("etag")
            .map(str::to_string)
    }

    /// A write of a yearly report (`report` is its path, `suffix` e.g. `/narrative`) with
    /// `If-Match` the report's current `ETag`, as a client that read it first would send.
    pub async fn report_write(
        &self,
        method: Method,
        report: &str,
        suffix: &str,
        token: &str,
        body: &Value,
    ) -> Resp {
        let etag = self.report_etag(report, token).await;
        self.send_if_match(
            method,
            &format!("{report}{suffix}"),
            token,
            body,
            etag.as_deref(),
        )
        .await
    }

    /// Enters the generated draft of the narrative with 一 and 五 written: the report can then
    /// be published as far as its narrative goes.
    pub async fn complete_narrative(&self, report: &str, token: &str) -> Value {
        let r = self.get(&format!("{report}/narrative/draft"), token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let mut n = r.body;
        for field in ["overview", "problems_and_improvements"] {
            let text = n[field]
                .as_str()
                .unwrap_or_default()
                .replace("【待填写】", "");
            n[field] = Value::String(text);
        }
        let r = self
            .report_write(Method::PUT, report, "/narrative", token, &n)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        n
    }

    /// Publishes a yearly report with `If-Match` its current `ETag`.
    pub async fn publish_report(&self, report: &str, token: &str) -> Resp {
        self.report_write(Method::POST, report, "/publish", token, &json!({}))
            .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Resp {
        Resp::from(
            self.client
                .post(self.url("/api/v1/auth/token"))
                .json(
                    &json!({"grant_type": "password", "username": username, "password": password}),
                )
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    pub async fn token(&self, username: &str, password: &str) -> String {
        let r = self.login(username, password).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {}", r.body);
        r.body["access_token"].as_str().expect("token").to_string()
    }

    pub async fn admin_token(&self) -> String {
        if let Some(t) = self.admin_token.get() {
            return t.clone();
        }
        let t = self.token("admin", ADMIN_PASSWORD).await;
        let _ = self.admin_token.set(t.clone());
        t
    }

    /// Another server on this test's database, in this test's own OS process but with its own
    /// pool, caches and watcher, as a second process has (a separate OS process:
    /// [`second_process`]): its base URL and the handle that stops it.
    pub async fn another_server(&self) -> (String, actix_web::dev::ServerHandle) {
        let second = Application::build(self.settings.clone())
            .await
            .expect("another server starts");
        let base = format!("http://127.0.0.1:{}", second.port());
        let server = second.into_server();
        let handle = server.handle();
        tokio::spawn(server);
        (base, handle)
    }

    pub async fn root_agency_id(&self) -> String {
        let me = self.get("/api/v1/me", &self.admin_token().await).await;
        me.body["agency"]["id"]
            .as_str()
            .expect("agency id")
            .to_string()
    }

    /// Creates an agency below `parent` (the root when None) and returns its id.
    pub async fn create_agency(&self, code: &str, parent: Option<&str>) -> String {
        let mut body = json!({"code": code, "name": format!("机关 {code}")});
        if let Some(p) = parent {
            body["parent_id"] = json!(p);
        }
        let r = self
            .post("/api/v1/agencies", &self.admin_token().await, &body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().expect("id").to_string()
    }

    /// Creates a user with these roles in the agency and returns (user id, token).
    pub async fn create_user(
        &self,
        agency_id: &str,
        username: &str,
        roles: &[&str],
    ) -> (String, String) {
        let r = self
            .post(
                &format!("/api/v1/agencies/{agency_id}/users"),
                &self.admin_token().await,
                &json!({"username": username, "password": PASSWORD, "roles": roles}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().expect("id").to_string();
        (id, self.token(username, PASSWORD).await)
    }
}

impl TestApp {
    /// The one text column `value` of every row a query answers, read from the test's database
    /// directly (to show what is stored, not what the API answers).
    pub fn query_texts(&self, sql: &str) -> Vec<String> {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let rows: Vec<Row> = match self.db_connection() {
            gongkai::db::DbConnection::Sqlite(mut c) => {
                diesel::sql_query(sql).load(&mut c).expect("query")
            }
            gongkai::db::DbConnection::Postgres(mut c) => {
                diesel::sql_query(sql).load(&mut c).expect("query")
            }
        };
        rows.into_iter().map(|r| r.value).collect()
    }
}

impl TestApp {
    /// A connection of the service's own type to the test's database (to call `db` functions
    /// directly).
    pub fn db_connection(&self) -> gongkai::db::DbConnection {
        // Opened as the service opens its own: on SQLite with its busy timeout, so that a test's
        // write waits for a background writer (the reminder scheduler, the dispatcher) instead
        // of failing at once with "database is locked".
        let db = &self.settings.database;
        let target = gongkai::db::DbTarget::parse(&db.url).expect("database url");
        gongkai::db::ConnectionManager::new(target, db.sqlite_busy_timeout_ms)
            .connect_once()
            .expect("test connection")
    }

    /// Runs the fill of search grams that a start runs, to its end.
    pub fn fill_search_text(&self) {
        let mut conn = self.db_connection();
        while gongkai::db::requests::fill_search_text(&mut conn, 1000).expect("fill") > 0 {}
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server without waiting, then remove the database.
        drop(self.server.stop(false));
        if let Some((base, schema)) = self.pg_schema.take() {
            drop_pg_schema(&base, &schema);
        }
    }
}

/// A response with its body read.
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub async fn from(r: reqwest::Response) -> Resp {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "content type; body: {}",
            self.text
        );
        assert_eq!(self.body["code"], code, "code; body: {}", self.text);
        assert_eq!(
            self.body["status"], status,
            "status field; body: {}",
            self.text
        );
        assert!(
            self.body["type"].is_string()
                && self.body["title"].is_string()
                && self.body["detail"].is_string()
        );
    }

    /// An error of the token or logout endpoint: RFC 6749 §5.2 `application/json` with `error`
    /// and a Chinese-first `error_description`, and the problem fields beside (`code`).
    pub fn assert_oauth_error(&self, status: u16, error: &str, code: &str) {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "content type; body: {}",
            self.text
        );
        assert_eq!(self.body["error"], error, "error; body: {}", self.text);
        assert_eq!(self.body["code"], code, "code; body: {}", self.text);
        assert_eq!(
            self.body["status"], status,
            "status field; body: {}",
            self.text
        );
        // RFC 6749 §5.2: the description is ASCII (the English); the problem's detail beside it
        // is the Chinese.
        let description = self.body["error_description"].as_str().unwrap_or_default();
        assert!(
            !description.is_empty() && description.is_ascii(),
            "error_description is ASCII: {}",
            self.text
        );
        let detail = self.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "detail is Chinese: {}",
            self.text
        );
        assert!(
            self.body["type"].is_string()
                && self.body["title"].is_string()
                && self.body["detail"].is_string()
        );
        assert_eq!(self.header("cache-control"), Some("no-store"));
    }

    pub fn field_errors(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Runs one async test body against SQLite and against PostgreSQL, as two test functions.
#[macro_export]
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Db::Sqlite)
                        .await
                        .expect("sqlite");
                    super::$name(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Db::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

/// Like [`both_databases!`], with the settings adjusted by `$tweak` (a `fn(&mut Settings)`).
#[macro_export]
macro_rules! both_databases_with {
    ($tweak:ident => $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn_with($crate::helpers::Db::Sqlite, super::$tweak)
                        .await
                        .expect("sqlite");
                    super::$name(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) =
                        $crate::helpers::TestApp::spawn_with($crate::helpers::Db::Postgres, super::$tweak).await
                    {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

/// The service's own binary serving the same database: another process, as behind a load
/// balancer. Killed when dropped.
pub struct SecondProcess {
    child: std::process::Child,
    pub base: String,
    _documents: tempfile::TempDir,
}

impl Drop for SecondProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The service's binary on the test app's database, in the test profile, with none of the
/// environment's `GONGKAI…` variables: add the command and what else it needs.
pub fn gongkai_command(app: &TestApp) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gongkai"));
    for (k, _) in std::env::vars() {
        if k.starts_with("GONGKAI") {
            cmd.env_remove(k);
        }
    }
    cmd.env("GONGKAI_ENV", "test")
        .env(
            "GONGKAI_CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
        )
        .env("GONGKAI__DATABASE__URL", &app.settings.database.url);
    cmd
}

/// `extra` environment variables configure it beyond the test app's own settings.
pub async fn second_process(app: &TestApp, extra: &[(&str, String)]) -> SecondProcess {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let documents = tempfile::tempdir().expect("documents folder");
    let s = &app.settings;
    let child = gongkai_command(app)
        .arg("serve")
        .env("GONGKAI__DATABASE__POOL_MAX_SIZE", "4")
        .env("GONGKAI__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("GONGKAI__AUTH__JWT_SECRET", &s.auth.jwt_secret)
        .env("GONGKAI__CLOCK__TODAY", &s.clock.today)
        // This process's pinned clock, not one that starts at noon when the child starts: the
        // test binary's clock began with its first test, minutes earlier by now, and leases
        // compared across the two processes must agree.
        .env(
            "GONGKAI__CLOCK__ANCHOR",
            app.clock
                .anchor()
                .map(|a| a.to_rfc3339())
                .unwrap_or_default(),
        )
        .env("GONGKAI__CALENDAR__DIR", &s.calendar.dir)
        .env("GONGKAI__DOCUMENTS__DIR", documents.path())
        .env(
            "GONGKAI__BOOTSTRAP__ADMIN_PASSWORD",
            &s.bootstrap.admin_password,
        )
        .env("GONGKAI__LOG__LEVEL", "error")
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("the gongkai binary starts");
    let second = SecondProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _documents: documents,
    };
    for _ in 0..300 {
        if let Ok(r) = app
            .client
            .get(format!("{}/readyz", second.base))
            .send()
            .await
            && r.status() == reqwest::StatusCode::OK
        {
            return second;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the second process did not become ready at {}", second.base);
}
