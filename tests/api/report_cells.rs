//! One definition per report cell (issue 11, item 4), shown on both databases: for random
//! workloads written through the real db layer, every cell of tables 三 and 四 has the same
//! figure in the aggregate (`db::reports::application_counts` / `remedy_counts`), in the
//! drill-down (`db::reports::application_cell` / `remedy_cell`: the count it reports and the
//! records it lists) and in the publish freeze (`domain::report::counted_cells` /
//! `counted_case`, evaluated in Rust record by record).
//!
//! The workloads are seeded (reproducible) and aimed at the edges: dates cluster around
//! 31 December / 1 January, applications awaiting confirmation have no receipt date, some are
//! closed years later, cases are decided after their year or not at all, lawsuits come with and
//! without a route, and a few records are inconsistent (closed without a disposition, decided
//! with no outcome yet) — the three must agree on those as well.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use gongkai::db::schema::{remedy_cases, requests};
use gongkai::db::{self, DbConnection};
use gongkai::domain::disposition::Disposition;
use gongkai::domain::remedy::{Outcome, RemedyKind, Route};
use gongkai::domain::report::cells::{self, RemedyCounting, YearBounds};
use gongkai::domain::report::{self, CountedApplication};
use gongkai::domain::request::ApplicantKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::helpers::{Db, FreshDb, test_settings};

const SEEDS: [u64; 3] = [11, 2024, 987_654];
const YEARS: [i32; 3] = [2020, 2024, 2025];
const APPLICATIONS: usize = 120;
const CASES: usize = 60;

#[derive(Debug, Clone)]
struct App {
    id: String,
    agency: usize,
    kind: &'static str,
    receipt_date: Option<NaiveDate>,
    closed_on: Option<NaiveDate>,
    disposition: Option<&'static str>,
}

impl App {
    fn counted(&self) -> CountedApplication<'_> {
        CountedApplication {
            kind: self.kind,
            receipt_date: self.receipt_date,
            closed_on: self.closed_on,
            disposition: self.disposition,
            fee_notice_on: None,
            fee_amount_fen: None,
            fee_paid_on: None,
            fee_paid_fen: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Case {
    id: String,
    agency: usize,
    kind: &'static str,
    route: Option<&'static str>,
    filed_on: NaiveDate,
    received_on: Option<NaiveDate>,
    decided_on: Option<NaiveDate>,
    outcome: &'static str,
}

impl Case {
    fn counted(&self) -> cells::CountedCase<'_> {
        cells::CountedCase {
            kind: self.kind,
            route: self.route,
            received: self.received_on.unwrap_or(self.filed_on),
            decided_on: self.decided_on,
            outcome: self.outcome,
        }
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

/// A day from 2019 to 2026, one in three within a week of a new year.
fn some_day(rng: &mut StdRng) -> NaiveDate {
    let year = rng.random_range(2019..=2026);
    if rng.random_bool(0.35) {
        day(year, 1, 1) + Duration::days(rng.random_range(-4..=3))
    } else {
        day(year, 1, 1) + Duration::days(rng.random_range(0..365))
    }
}

/// Some days later: the same day, within days, weeks, or more than a year.
fn later(rng: &mut StdRng, from: NaiveDate) -> NaiveDate {
    let days = match rng.random_range(0..4) {
        0 => 0,
        1 => rng.random_range(1..10),
        2 => rng.random_range(10..60),
        _ => rng.random_range(60..800),
    };
    from + Duration::days(days)
}

fn workload(seed: u64) -> (Vec<App>, Vec<Case>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let apps = (0..APPLICATIONS)
        .map(|_| {
            let receipt_date = (!rng.random_bool(0.1)).then(|| some_day(&mut rng));
            let (closed_on, disposition) = match rng.random_range(0..10) {
                0..=2 => (None, None),
                // Inconsistent on purpose: closed without a disposition.
                3 => (receipt_date.map(|r| later(&mut rng, r)), None),
                _ => {
                    let d = Disposition::ALL[rng.random_range(0..Disposition::ALL.len())];
                    let from = receipt_date.unwrap_or_else(|| some_day(&mut rng));
                    (Some(later(&mut rng, from)), Some(d.code()))
                }
            };
            App {
                id: uuid::Uuid::new_v4().to_string(),
                agency: rng.random_range(0..2),
                kind: ApplicantKind::ALL[rng.random_range(0..ApplicantKind::ALL.len())].code(),
                receipt_date,
                closed_on,
                disposition,
            }
        })
        .collect();
    let cases = (0..CASES)
        .map(|_| {
            let filed_on = some_day(&mut rng);
            let received_on = rng.random_bool(0.5).then(|| later(&mut rng, filed_on));
            let (kind, route) = if rng.random_bool(0.5) {
                (RemedyKind::Review.code(), None)
            } else {
                let route = match rng.random_range(0..5) {
                    0 => None,
                    1 | 2 => Some(Route::Direct.code()),
                    _ => Some(Route::AfterReview.code()),
                };
                (RemedyKind::Litigation.code(), route)
            };
            let decided_on = rng
                .random_bool(0.6)
                .then(|| later(&mut rng, received_on.unwrap_or(filed_on)));
            let outcome = match decided_on {
                // One in eight decided cases has no outcome recorded yet.
                Some(_) if !rng.random_bool(0.125) => {
                    [Outcome::Upheld, Outcome::Corrected, Outcome::Other][rng.random_range(0..3)]
                }
                _ => Outcome::Pending,
            }
            .code();
            Case {
                id: uuid::Uuid::new_v4().to_string(),
                agency: rng.random_range(0..2),
                kind,
                route,
                filed_on,
                received_on,
                decided_on,
                outcome,
            }
        })
        .collect();
    (apps, cases)
}

fn store(conn: &mut DbConnection, agencies: &[String], apps: &[App], cases: &[Case]) {
    let now = crate::helpers::test_clock().now_micros();
    for (i, a) in apps.iter().enumerate() {
        let arrival = a.receipt_date.unwrap_or(day(2024, 6, 1));
        diesel::insert_into(requests::table)
            .values((
                requests::id.eq(&a.id),
                requests::agency_id.eq(&agencies[a.agency]),
                requests::case_number.eq(format!("P-{}", a.id)),
                requests::case_year.eq(2000),
                requests::case_seq.eq(i as i32 + 1),
                requests::query_code.eq(format!("Q{}", a.id)),
                requests::channel.eq("in_person"),
                requests::arrived_at.eq(arrival.and_hms_opt(9, 30, 0).expect("time")),
                requests::arrival_date.eq(arrival),
                requests::applicant_kind.eq(a.kind),
                requests::applicant_name.eq("张三"),
                requests::description.eq("申请公开本机关年度预算执行情况"),
                requests::state.eq(if a.closed_on.is_some() {
                    "closed"
                } else {
                    "in_progress"
                }),
                requests::receipt_date.eq(a.receipt_date),
                requests::disposition.eq(a.disposition),
                requests::closed_on.eq(a.closed_on),
                requests::version.eq(1),
                requests::created_at.eq(now),
                requests::updated_at.eq(now),
            ))
            .execute(conn)
            .expect("insert application");
    }
    for c in cases {
        diesel::insert_into(remedy_cases::table)
            .values((
                remedy_cases::id.eq(&c.id),
                remedy_cases::kind.eq(c.kind),
                remedy_cases::agency_id.eq(&agencies[c.agency]),
                remedy_cases::applicant_name.eq("张三"),
                remedy_cases::body_name.eq("某市人民政府"),
                remedy_cases::filed_on.eq(c.filed_on),
                remedy_cases::received_on.eq(c.received_on),
                remedy_cases::route.eq(c.route),
                remedy_cases::decided_on.eq(c.decided_on),
                remedy_cases::outcome.eq(c.outcome),
                remedy_cases::version.eq(1),
                remedy_cases::created_at.eq(now),
                remedy_cases::updated_at.eq(now),
            ))
            .execute(conn)
            .expect("insert case");
    }
}

/// A root agency and one below it: (ids, paths).
fn agencies(conn: &mut DbConnection, seed: u64) -> (Vec<String>, Vec<String>) {
    let now = crate::helpers::test_clock().now_micros();
    let root = uuid::Uuid::new_v4().to_string();
    let child = uuid::Uuid::new_v4().to_string();
    let root_path = gongkai::domain::agency::root_path(&root);
    let child_path = gongkai::domain::agency::child_path(&root_path, &child);
    for (i, (id, path, parent)) in [
        (&root, &root_path, None),
        (&child, &child_path, Some(root.clone())),
    ]
    .into_iter()
    .enumerate()
    {
        db::agencies::insert(
            conn,
            &db::agencies::AgencyRow {
                id: id.clone(),
                code: format!("P{seed}X{i}"),
                name: format!("性质测试机关{i}"),
                parent_id: parent,
                region: None,
                path: path.clone(),
                depth: i as i32,
                created_at: now,
                updated_at: now,
                report_kind: "department".into(),
            },
        )
        .expect("agency");
    }
    (vec![root, child], vec![root_path, child_path])
}

/// Which generated records a scope covers: the root's subtree, or the agency below it alone.
struct Scope {
    scope: db::reports::ReportScope,
    agencies: Vec<usize>,
}

fn scopes(ids: &[String], paths: &[String]) -> Vec<Scope> {
    vec![
        Scope {
            scope: db::reports::ReportScope::Subtree(paths[0].clone()),
            agencies: vec![0, 1],
        },
        Scope {
            scope: db::reports::ReportScope::Agency(ids[1].clone()),
            agencies: vec![1],
        },
    ]
}

fn check_applications(conn: &mut DbConnection, seed: u64, s: &Scope, apps: &[App], year: i32) {
    let y = YearBounds::new(year).expect("year");
    let rules = cells::applications();
    let apps: Vec<&App> = apps
        .iter()
        .filter(|a| s.agencies.contains(&a.agency))
        .collect();
    let aggregate =
        db::reports::application_counts(conn, &s.scope, y.start, y.end).expect("aggregate");
    let frozen: Vec<BTreeSet<String>> = apps
        .iter()
        .map(|a| {
            report::counted_cells(&a.counted(), year)
                .into_iter()
                .collect()
        })
        .collect();
    let mut nonzero = 0;
    for cell in &rules.cells {
        let code = format!("{}.{}", cell.row, cell.column);
        let by_aggregate = if cell.row == cells::PREVIOUS_CARRIED_OUT {
            aggregate.previous_carried_out.get(cell.column).copied()
        } else {
            aggregate
                .cells
                .get(&(cell.row.to_string(), cell.column.to_string()))
                .copied()
        }
        .unwrap_or_else(|| panic!("the aggregate has no {code}"));
        let (ids, by_drill_down) =
            db::reports::application_cell(conn, &s.scope, &y, cell, 0, 100_000)
                .expect("drill-down");
        // The freeze: the cells `counted_cells` names (the year's table), or for the previous
        // year's `carried_out` the same rule evaluated in Rust.
        let expected: BTreeSet<String> = apps
            .iter()
            .zip(&frozen)
            .filter(|(a, f)| {
                if cell.row == cells::PREVIOUS_CARRIED_OUT {
                    rules.counts(cell, &a.counted(), &y)
                } else {
                    f.contains(&code)
                }
            })
            .map(|(a, _)| a.id.clone())
            .collect();
        let listed: BTreeSet<String> = ids.iter().cloned().collect();
        let ctx = format!("seed {seed}, {:?}, {year}, cell {code}", s.scope);
        assert_eq!(by_drill_down, ids.len() as i64, "{ctx}: count and list");
        assert_eq!(listed, expected, "{ctx}: drill-down = freeze");
        assert_eq!(
            by_aggregate,
            expected.len() as i64,
            "{ctx}: aggregate = freeze"
        );
        nonzero += usize::from(by_aggregate > 0);
    }
    assert!(
        nonzero > 10,
        "seed {seed} {year}: the workload reaches few cells"
    );
}

fn check_remedies(conn: &mut DbConnection, seed: u64, s: &Scope, cases: &[Case], year: i32) {
    let y = YearBounds::new(year).expect("year");
    let cases: Vec<&Case> = cases
        .iter()
        .filter(|c| s.agencies.contains(&c.agency))
        .collect();
    for counting in [RemedyCounting::ReceivedInYear, RemedyCounting::ActiveInYear] {
        let rules = cells::remedies(counting);
        let aggregate = db::reports::remedy_counts(conn, &s.scope, y.start, y.end, counting)
            .expect("aggregate");
        let table = report::remedies_table(&aggregate);
        for cell in &rules.cells {
            let code = format!("{}.{}", cell.row, cell.column);
            let by_aggregate = table[cell.row][cell.column];
            let (ids, by_drill_down) =
                db::reports::remedy_cell(conn, &s.scope, &y, counting, cell, 0, 100_000)
                    .expect("drill-down");
            // The freeze: the (group, outcome) `counted_case` gives each case; 总计 counts
            // every case of the group.
            let expected: BTreeSet<String> = cases
                .iter()
                .filter(|c| {
                    let counted = report::counted_case(
                        c.kind,
                        c.route,
                        c.received_on.unwrap_or(c.filed_on),
                        c.decided_on,
                        c.outcome,
                        year,
                        counting == RemedyCounting::ActiveInYear,
                    );
                    counted.is_some_and(|(g, o)| {
                        g == cell.row && (cell.column == "total" || o == cell.column)
                    })
                })
                .map(|c| c.id.clone())
                .collect();
            let listed: BTreeSet<String> = ids.iter().cloned().collect();
            let ctx = format!(
                "seed {seed}, {:?}, {counting:?}, {year}, cell {code}",
                s.scope
            );
            assert_eq!(by_drill_down, ids.len() as i64, "{ctx}: count and list");
            assert_eq!(listed, expected, "{ctx}: drill-down = freeze");
            assert_eq!(
                by_aggregate,
                expected.len() as i64,
                "{ctx}: aggregate = freeze"
            );
            // The evaluator over the whole rule says the same as `counted_case`.
            let evaluated: BTreeSet<String> = cases
                .iter()
                .filter(|c| rules.counts(cell, &c.counted(), &y))
                .map(|c| c.id.clone())
                .collect();
            assert_eq!(evaluated, expected, "{ctx}: rule = counted_case");
        }
    }
}

fn aggregate_drill_down_and_freeze_agree(kind: Db) {
    let Some(fresh) = FreshDb::new(kind) else {
        return;
    };
    let mut settings = test_settings();
    settings.database.url = fresh.url.clone();
    let database = db::connect(&settings.database, true).expect("connect");
    let mut conn = database.get().expect("conn");
    let mut cases_reached = BTreeMap::new();
    for seed in SEEDS {
        let (ids, paths) = agencies(&mut conn, seed);
        let (apps, cases) = workload(seed);
        store(&mut conn, &ids, &apps, &cases);
        for s in scopes(&ids, &paths) {
            for year in YEARS {
                check_applications(&mut conn, seed, &s, &apps, year);
                check_remedies(&mut conn, seed, &s, &cases, year);
            }
        }
        for year in YEARS {
            for c in &cases {
                if let Some(cell) = report::counted_case(
                    c.kind,
                    c.route,
                    c.received_on.unwrap_or(c.filed_on),
                    c.decided_on,
                    c.outcome,
                    year,
                    true,
                ) {
                    *cases_reached.entry(cell).or_insert(0) += 1;
                }
            }
        }
    }
    // The workloads reach every cell of table 四 (the property is not vacuous).
    assert_eq!(cases_reached.len(), 12, "{cases_reached:?}");
}

#[test]
fn aggregate_drill_down_and_freeze_agree_on_every_cell_sqlite() {
    aggregate_drill_down_and_freeze_agree(Db::Sqlite);
}

#[test]
fn aggregate_drill_down_and_freeze_agree_on_every_cell_postgres() {
    aggregate_drill_down_and_freeze_agree(Db::Postgres);
}
