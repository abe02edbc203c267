//! The calendar API against the official schedule shipped in config/calendar.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_databases;
use crate::helpers::{Db, TestApp};

both_databases!(
    shipped_years_are_loaded_at_start_and_read_back,
    a_year_without_a_notice_counts_weekends_only_and_is_provisional,
    add_and_count_follow_the_adjusted_working_days,
    working_days_add_agrees_with_the_schedule_for_every_date,
    bad_calendar_queries_answer_problem_json,
    only_root_admins_change_the_calendar_and_uploads_are_validated,
    a_replaced_year_is_audited_and_seen_by_another_process,
);

/// The reference: the shipped files read directly, and the rule of domain.md §10 applied
/// day by day (deliberately naive).
struct Reference {
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
}

impl Reference {
    fn load() -> Reference {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar");
        let mut holidays = BTreeSet::new();
        let mut workdays = BTreeSet::new();
        for year in 2019..=2026 {
            let text = std::fs::read_to_string(dir.join(format!("{year}.toml"))).unwrap();
            let v: toml::Value = toml::from_str(&text).unwrap();
            for h in v["holidays"].as_array().unwrap() {
                let mut d =
                    NaiveDate::parse_from_str(h["start"].as_str().unwrap(), "%Y-%m-%d").unwrap();
                let end =
                    NaiveDate::parse_from_str(h["end"].as_str().unwrap(), "%Y-%m-%d").unwrap();
                while d <= end {
                    holidays.insert(d);
                    d = d.succ_opt().unwrap();
                }
            }
            for w in v["workdays"].as_array().unwrap() {
                workdays
                    .insert(NaiveDate::parse_from_str(w.as_str().unwrap(), "%Y-%m-%d").unwrap());
            }
        }
        Reference { holidays, workdays }
    }

    fn is_working(&self, d: NaiveDate) -> bool {
        self.workdays.contains(&d)
            || (!matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&d))
    }

    fn add(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let mut d = from;
        if n == 0 {
            while !self.is_working(d) {
                d = d.succ_opt().unwrap();
            }
            return d;
        }
        let mut left = n;
        while left > 0 {
            d = d.succ_opt().unwrap();
            if self.is_working(d) {
                left -= 1;
            }
        }
        d
    }
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

async fn shipped_years_are_loaded_at_start_and_read_back(app: TestApp) {
    let token = app.admin_token().await;
    let reference = Reference::load();
    for year in 2019..=2026 {
        let r = app.get(&format!("/api/v1/calendar/{year}"), &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["provisional"], false);
        assert_eq!(r.body["source"], "file");
        let per_month = r.body["working_days_per_month"].as_array().unwrap();
        assert_eq!(per_month.len(), 12);
        for (m, count) in per_month.iter().enumerate() {
            let mut d = NaiveDate::from_ymd_opt(year, m as u32 + 1, 1).unwrap();
            let mut expected = 0;
            while d.month() == m as u32 + 1 {
                expected += u64::from(reference.is_working(d));
                d = d.succ_opt().unwrap();
            }
            assert_eq!(count.as_u64().unwrap(), expected, "{year}-{:02}", m + 1);
        }
    }
    let r = app.get("/api/v1/calendar/2020", &token).await;
    let spring = r.body["holidays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"].as_str().unwrap().contains("春节"))
        .unwrap()
        .clone();
    assert_eq!(spring["start"], "2020-01-24");
    assert_eq!(
        spring["end"], "2020-02-02",
        "the 2020 extension is in the shipped data"
    );
}

async fn a_year_without_a_notice_counts_weekends_only_and_is_provisional(app: TestApp) {
    let token = app.admin_token().await;
    let r = app.get("/api/v1/calendar/2031", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["provisional"], true);
    assert_eq!(r.body["version"], 0);
    assert_eq!(r.body["holidays"], json!([]));
    // January 2031 has 23 weekdays (it starts on a Wednesday).
    assert_eq!(r.body["working_days_per_month"][0], 23);
    // 2031-01-01 is a Wednesday: with no notice it counts as a working day.
    let r = app
        .get(
            "/api/v1/calendar/working-days/add?from=2030-12-31&days=1",
            &token,
        )
        .await;
    assert_eq!(r.body, json!({"date": "2031-01-01", "provisional": true}));
    let r = app
        .get(
            "/api/v1/calendar/working-days/count?from=2026-12-30&to=2027-01-05",
            &token,
        )
        .await;
    assert_eq!(r.body["provisional"], true);
    let r = app
        .get(
            "/api/v1/calendar/working-days/count?from=2026-06-01&to=2026-06-30",
            &token,
        )
        .await;
    assert_eq!(r.body["provisional"], false);
    app.get("/api/v1/calendar/1900", &token)
        .await
        .assert_problem(404, "not_found");
}

async fn add_and_count_follow_the_adjusted_working_days(app: TestApp) {
    let token = app.admin_token().await;
    let add = |from: &'static str, days: i64| {
        let app = &app;
        let token = token.clone();
        async move {
            let r = app
                .get(
                    &format!("/api/v1/calendar/working-days/add?from={from}&days={days}"),
                    &token,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert_eq!(r.body["provisional"], false);
            r.body["date"].as_str().unwrap().to_string()
        }
    };
    // The day before the 2024 Spring Festival: the next working day is the adjusted Sunday.
    assert_eq!(add("2024-02-09", 1).await, "2024-02-18");
    assert_eq!(add("2024-02-10", 0).await, "2024-02-18");
    // An adjusted Saturday working day answers itself for N = 0.
    assert_eq!(add("2023-01-28", 0).await, "2023-01-28");
    // 20 working days from receipt on the eve of National Day 2025.
    let reference = Reference::load();
    assert_eq!(
        add("2025-09-30", 20).await,
        reference.add(date("2025-09-30"), 20).to_string()
    );
    let r = app
        .get(
            "/api/v1/calendar/working-days/count?from=2024-02-09&to=2024-02-19",
            &token,
        )
        .await;
    assert_eq!(r.body, json!({"count": 2, "provisional": false}));
    let r = app
        .get(
            "/api/v1/calendar/working-days/count?from=2024-02-09&to=2024-02-09",
            &token,
        )
        .await;
    assert_eq!(r.body["count"], 0);
}

async fn working_days_add_agrees_with_the_schedule_for_every_date(app: TestApp) {
    let token = app.admin_token().await;
    let reference = Reference::load();
    // Every date on SQLite; every 11th on PostgreSQL (the same code path, fewer round trips).
    let stride = if app.db == Db::Sqlite { 1 } else { 11 };
    let mut d = date("2019-01-01");
    let mut i: u32 = 0;
    while d <= date("2026-12-31") {
        if i % stride == 0 {
            let n = [0, 1, 7, 15, 20, 40][(i as usize / stride as usize) % 6];
            let expected = reference.add(d, n);
            let r = app
                .get(
                    &format!("/api/v1/calendar/working-days/add?from={d}&days={n}"),
                    &token,
                )
                .await;
            assert_eq!(r.body["date"], expected.to_string(), "from {d} + {n}");
            if expected.year() <= 2026 {
                assert_eq!(r.body["provisional"], false, "from {d} + {n}");
            }
        }
        d = d.succ_opt().unwrap();
        i += 1;
    }
}

async fn bad_calendar_queries_answer_problem_json(app: TestApp) {
    let token = app.admin_token().await;
    let r = app
        .get(
            "/api/v1/calendar/working-days/add?from=2026-02-30&days=1",
            &token,
        )
        .await;
    r.assert_problem(400, "invalid_query");
    assert_eq!(r.field_errors(), ["from"]);
    let r = app
        .get(
            "/api/v1/calendar/working-days/add?from=2026-02-01&days=-1",
            &token,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), ["days"]);
    let r = app
        .get(
            "/api/v1/calendar/working-days/add?from=2026-02-01&days=10001",
            &token,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .get(
            "/api/v1/calendar/working-days/add?from=2026-02-01&days=x",
            &token,
        )
        .await;
    r.assert_problem(400, "invalid_query");
    let r = app
        .get("/api/v1/calendar/working-days/add?days=1", &token)
        .await;
    r.assert_problem(400, "invalid_query");
    assert_eq!(r.field_errors(), ["from"]);
    let r = app
        .get(
            "/api/v1/calendar/working-days/count?from=2026-03-01&to=2026-02-01",
            &token,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "from_after_to");
    let r = app
        .get(
            "/api/v1/calendar/working-days/add?from=2199-12-30&days=5",
            &token,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .get(
            "/api/v1/calendar/working-days/add?from=1800-01-01&days=5",
            &token,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app.get("/api/v1/calendar/abc", &token).await;
    r.assert_problem(404, "not_found");
    let r = app
        .client
        .get(app.url("/api/v1/calendar/working-days/add?from=2026-02-01&days=1"))
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::from(r)
        .await
        .assert_problem(401, "missing_token");
}

fn notice_2027() -> serde_json::Value {
    json!({
        "holidays": [
            {"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"},
            {"name": "春节", "start": "2027-02-05", "end": "2027-02-11"}
        ],
        "workdays": ["2027-02-14"]
    })
}

async fn only_root_admins_change_the_calendar_and_uploads_are_validated(app: TestApp) {
    let token = app.admin_token().await;
    let city = app.create_agency("CITY", None).await;
    let (_, city_admin) = app.create_user(&city, "city.admin", &["admin"]).await;
    let root = app.root_agency_id().await;
    let (_, root_clerk) = app.create_user(&root, "root.clerk", &["clerk"]).await;
    app.put("/api/v1/calendar/2027", &city_admin, &notice_2027())
        .await
        .assert_problem(403, "forbidden");
    app.put("/api/v1/calendar/2027", &root_clerk, &notice_2027())
        .await
        .assert_problem(403, "forbidden");

    let bad = json!({
        "holidays": [
            {"name": "B", "start": "2027-05-01", "end": "2027-05-05"},
            {"name": "A", "start": "2027-05-03", "end": "2027-05-04"},
            {"name": "R", "start": "2027-06-10", "end": "2027-06-08"},
            {"name": "Far", "start": "2025-01-01", "end": "2025-01-01"}
        ],
        "workdays": ["2027-05-03", "2027-05-10"]
    });
    let r = app.put("/api/v1/calendar/2027", &token, &bad).await;
    r.assert_problem(422, "validation_failed");
    let codes: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    for expected in [
        "range_reversed",
        "date_outside_notice",
        "workday_not_weekend",
        "date_both_holiday_and_workday",
    ] {
        assert!(
            codes.contains(&expected),
            "{expected} missing from {codes:?}"
        );
    }
    assert!(
        codes
            .iter()
            .any(|c| *c == "ranges_overlap" || *c == "ranges_unordered"),
        "{codes:?}"
    );
    let r = app
        .put(
            "/api/v1/calendar/2027",
            &token,
            &json!({"year": 2028, "holidays": [], "workdays": []}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app.put("/api/v1/calendar/2027", &token, &json!({"holidays": [{"name": "x", "start": "2027-02-30", "end": "2027-03-01"}], "workdays": []})).await;
    r.assert_problem(422, "validation_failed");
    // Nothing was stored by the refused uploads.
    let r = app.get("/api/v1/calendar/2027", &token).await;
    assert_eq!(r.body["provisional"], true);

    let r = app
        .put("/api/v1/calendar/2027", &token, &notice_2027())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["provisional"], false);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["source"], "api");
    assert_eq!(r.body["updated_by"], "admin");
    // 2027-02-04 (Thu) + 1 working day jumps the Spring Festival (Fri 5th to Thu 11th).
    let r = app
        .get(
            "/api/v1/calendar/working-days/add?from=2027-02-04&days=1",
            &token,
        )
        .await;
    assert_eq!(r.body, json!({"date": "2027-02-12", "provisional": false}));
}

async fn a_replaced_year_is_audited_and_seen_by_another_process(app: TestApp) {
    let token = app.admin_token().await;
    // A second server process on the same database, which reads (and caches) the calendar first.
    let (base2, handle) = app.another_server().await;
    let ask = |base: String| {
        let client = app.client.clone();
        let token = token.clone();
        async move {
            let r = client
                .get(format!(
                    "{base}/api/v1/calendar/working-days/add?from=2027-02-04&days=1"
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    // The second process answers from its cached calendar until the change's signal reaches
    // its watch (a few milliseconds): what it answers must become the new calendar's soon
    // after the commit, and stay so.
    let settles_at = |want: serde_json::Value| {
        let base2 = base2.clone();
        let ask = &ask;
        async move {
            let started = std::time::Instant::now();
            let mut last = ask(base2.clone()).await;
            while last != want && started.elapsed() < std::time::Duration::from_secs(2) {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                last = ask(base2.clone()).await;
            }
            assert_eq!(last, want, "2 s after the commit");
            for _ in 0..3 {
                assert_eq!(ask(base2.clone()).await, want);
            }
        }
    };
    assert_eq!(
        ask(base2.clone()).await,
        json!({"date": "2027-02-05", "provisional": true})
    );

    assert_eq!(
        app.put("/api/v1/calendar/2027", &token, &notice_2027())
            .await
            .status,
        StatusCode::CREATED
    );
    settles_at(json!({"date": "2027-02-12", "provisional": false})).await;

    // Replace it: the Spring Festival moves one day later.
    let mut changed = notice_2027();
    changed["holidays"][1]["start"] = json!("2027-02-06");
    changed["holidays"][1]["end"] = json!("2027-02-12");
    let r = app.put("/api/v1/calendar/2027", &token, &changed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 2);
    settles_at(json!({"date": "2027-02-05", "provisional": false})).await;
    handle.stop(false).await;

    // The audit log holds both changes, with before and after.
    let target = gongkai::db::DbTarget::parse(&app.settings.database.url).unwrap();
    let mut conn = gongkai::db::ConnectionManager::new(target, 5000)
        .connect_once()
        .unwrap();
    let events = gongkai::db::audit::for_entity(&mut conn, "calendar_year", "2027").unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["calendar_loaded", "calendar_replaced"]);
    let last: serde_json::Value = serde_json::from_str(&events[1].payload).unwrap();
    assert_eq!(last["before"]["holidays"][1]["start"], "2027-02-05");
    assert_eq!(last["after"]["holidays"][1]["start"], "2027-02-06");
    assert_eq!(events[1].actor_label, "admin");
}
