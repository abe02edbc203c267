//! How fast the statutory clock is: `due_date` runs for every open application whenever a
//! list is sorted by due date, so it must stay in the millions per second on one core.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use gongkai::domain::calendar::{Calendar, YearSchedule};
use gongkai::domain::clock::{
    ClockFacts, CorrectionFacts, Extension, Pause, PauseKind, compute, due_date,
};

const CONFIG: [&str; 8] = [
    include_str!("../config/calendar/2019.toml"),
    include_str!("../config/calendar/2020.toml"),
    include_str!("../config/calendar/2021.toml"),
    include_str!("../config/calendar/2022.toml"),
    include_str!("../config/calendar/2023.toml"),
    include_str!("../config/calendar/2024.toml"),
    include_str!("../config/calendar/2025.toml"),
    include_str!("../config/calendar/2026.toml"),
];

fn schedules() -> Vec<YearSchedule> {
    CONFIG
        .iter()
        .map(|text| toml::from_str(text).unwrap_or_else(|e| panic!("bad calendar file: {e}")))
        .collect()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("bad date {y}-{m}-{d}"))
}

/// Receipt, one correction, one consultation, one extension.
fn typical() -> ClockFacts {
    ClockFacts {
        receipt_date: Some(date(2024, 9, 2)),
        correction: Some(CorrectionFacts {
            requested_on: date(2024, 9, 4),
            reply_by: date(2024, 9, 20),
            received_on: Some(date(2024, 9, 10)),
        }),
        pauses: vec![Pause {
            kind: PauseKind::OtherAgencyConsultation,
            started_on: date(2024, 9, 25),
            ended_on: Some(date(2024, 10, 15)),
            received_on: None,
            delivery_allowance: 0,
        }],
        extension: Some(Extension {
            days: 10,
            approved_on: date(2024, 10, 16),
            approved_by: "公开办主任".into(),
            reason: "涉及档案较多".into(),
        }),
        ..ClockFacts::default()
    }
}

fn simple() -> ClockFacts {
    ClockFacts {
        receipt_date: Some(date(2024, 2, 9)),
        ..ClockFacts::default()
    }
}

fn bench(c: &mut Criterion) {
    let schedules = schedules();
    c.bench_function("calendar_build", |b| {
        b.iter(|| Calendar::new(black_box(schedules.clone())))
    });
    let cal = Calendar::new(schedules);
    let (typical, simple) = (typical(), simple());
    let today = date(2024, 10, 20);
    c.bench_function("due_date_typical", |b| {
        b.iter(|| due_date(black_box(&typical), black_box(&cal)))
    });
    c.bench_function("due_date_simple", |b| {
        b.iter(|| due_date(black_box(&simple), black_box(&cal)))
    });
    c.bench_function("compute_typical_with_trace", |b| {
        b.iter(|| compute(black_box(&typical), black_box(&cal), black_box(today)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
