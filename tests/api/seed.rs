//! `gongkai seed` fills both databases with applications that pass the report's identities.

use gongkai::app::seed::{SeedOptions, run};
use gongkai::db;
use gongkai::domain::access::Visibility;

use crate::helpers::{Db, FreshDb, test_settings};

fn seed_and_check(kind: Db) {
    let Some(fresh) = FreshDb::new(kind) else {
        return;
    };
    let mut settings = test_settings();
    settings.database.url = fresh.url.clone();
    let database = db::connect(&settings.database, true).expect("connect");
    let mut conn = database.get().expect("conn");
    let clock = gongkai::clock::Clock::from_settings(&settings).expect("clock");
    gongkai::app::calendar::load_missing(&mut conn, clock.now_micros(), &settings.calendar.dir)
        .expect("calendar");
    gongkai::app::bootstrap::run(&mut conn, &clock, &settings.bootstrap).expect("bootstrap");
    let cal = gongkai::app::calendar::CalendarCache::default()
        .current(&mut conn)
        .expect("calendar");
    // Applications of 2023–2026 (the years with calendars), seen from the pinned today: with a
    // later today every one of them has run its course.
    let today = clock.today();
    let report = run(
        &mut conn,
        &cal,
        &SeedOptions {
            agencies: 2,
            requests: 600,
            years: (2023, 2026),
            rng_seed: 7,
            today,
            now: clock.now_micros(),
        },
    )
    .expect("seed");
    assert_eq!(report.requests, 600);
    // The seeded trails record their acts without notices: each application keeps them as the
    // rule in SQL finds them in its trail.
    let acts = db::requests::check_acts_without_notice(&mut conn).expect("acts");
    assert!(acts.noted > 100, "{acts:?}");
    assert!(acts.drifted.is_empty(), "{acts:?}");
    let root = db::agencies::find_by_code(&mut conn, "ROOT")
        .expect("q")
        .expect("root");
    let page = db::requests::list(
        &mut conn,
        &Visibility::Subtree(root.path.clone()),
        &Default::default(),
        (gongkai::domain::request::SortKey::Created, true),
        &db::requests::Start::Offset(0),
        5,
        db::requests::TotalWanted::Exact,
    )
    .expect("list");
    assert_eq!(page.total, db::requests::Total::Exact(600));
    let rows = page.items;
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .all(|r| !r.details.applicant.name.is_empty() && r.version >= 1)
    );
    // Every year's identities hold over the seeded records.
    for year in 2023..=2026 {
        let start = chrono::NaiveDate::from_ymd_opt(year, 1, 1).expect("date");
        let end = chrono::NaiveDate::from_ymd_opt(year, 12, 31).expect("date");
        let scope = db::reports::ReportScope::Subtree(root.path.clone());
        let counts =
            db::reports::application_counts(&mut conn, &scope, start, end).expect("counts");
        let format = gongkai::domain::report::Format::for_year(year);
        let table = gongkai::domain::report::applications_table(format, &counts);
        let remedies = gongkai::domain::report::remedies_table(
            &db::reports::remedy_counts(
                &mut conn,
                &scope,
                start,
                end,
                db::reports::RemedyCounting::ReceivedInYear,
            )
            .expect("remedies"),
        );
        let failed: Vec<String> = gongkai::domain::report::checks(format, &table, &remedies, None)
            .into_iter()
            .filter(|c| !c.holds)
            .map(|c| c.code)
            .collect();
        assert!(failed.is_empty(), "{year}: {failed:?}");
    }
}

#[test]
fn seeding_sqlite_gives_records_whose_reports_balance() {
    seed_and_check(Db::Sqlite);
}

#[test]
fn seeding_postgres_gives_records_whose_reports_balance() {
    seed_and_check(Db::Postgres);
}
