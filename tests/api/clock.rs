//! The service's one clock: the tests pin it (`GONGKAI_TEST_TODAY`, default
//! `helpers::DEFAULT_TEST_TODAY`), everything the service dates follows it, and production
//! refuses a pinned date.

use chrono::Datelike;
use reqwest::StatusCode;
use serde_json::json;

use crate::both_databases;
use crate::helpers::{Db, FreshDb, TestApp, test_settings, test_today};

both_databases!(the_service_runs_on_the_pinned_date_and_dates_what_it_writes_by_it);

async fn the_service_runs_on_the_pinned_date_and_dates_what_it_writes_by_it(app: TestApp) {
    let today = test_today();
    assert_eq!(app.today(), today, "the harness pins every application");
    assert_eq!(app.clock.pinned_date(), Some(today));
    let admin = app.admin_token().await;
    // "Today" as the service answers it.
    let dash = app.get("/api/v1/dashboard", &admin).await;
    assert_eq!(dash.status, StatusCode::OK, "{}", dash.text);
    assert_eq!(dash.body["today"], today.to_string());
    // What it stores is stamped by its clock, not by the machine's.
    let agency = app.create_agency("CLOCKED", None).await;
    let a = app.get(&format!("/api/v1/agencies/{agency}"), &admin).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let created: chrono::DateTime<chrono::Utc> = a.body["created_at"]
        .as_str()
        .expect("created_at")
        .parse()
        .expect("an instant");
    let there = created
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    assert_eq!(there, today, "created_at {created}");
    // The report of the pinned year exists; the next year's does not yet.
    let root = app.root_agency_id().await;
    let path = |y: i32| format!("/api/v1/agencies/{root}/reports/{y}");
    let r = app.get(&path(today.year()), &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.get(&path(today.year() + 1), &admin)
        .await
        .assert_problem(404, "not_found");
    // Time still advances on a pinned clock.
    let before = app.now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(app.now() > before);
    // A token issued now works now (its lifetime is measured on the same clock).
    let me = app.get("/api/v1/me", &admin).await;
    assert_eq!(me.status, StatusCode::OK, "{}", json!(me.body));
}

#[tokio::test]
async fn production_refuses_to_start_with_a_pinned_date() {
    let fresh = FreshDb::new(Db::Sqlite).expect("sqlite");
    let mut settings = test_settings();
    settings.database.url = fresh.url.clone();
    settings.profile = gongkai::config::Profile::Production;
    settings.auth.jwt_secret = "a production secret of at least 32 bytes".into();
    settings.clock.today = "2027-02-01".into();
    let err = match gongkai::startup::Application::build(settings.clone()).await {
        Ok(_) => panic!("production started with clock.today set"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("clock.today") && err.contains("production"),
        "{err}"
    );
    // The same settings without the date start.
    settings.clock.today = String::new();
    let app = gongkai::startup::Application::build(settings)
        .await
        .expect("production starts on the system's clock");
    assert_eq!(app.state.clock.pinned_date(), None);
}
