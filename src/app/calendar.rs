//! The working-day calendar: notices stored in the database, loaded from `config/calendar` when
//! absent, cached per process and refreshed whenever another process changed them.

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::json;

use super::{AppError, AppState, RequestContext, audit};
use crate::db::{self, DbConnection, calendar::CalendarYearRow};
use crate::domain::access::{Actor, Role};
use crate::domain::calendar::{
    Calendar, CalendarError, MAX_NOTICE_YEAR, MIN_NOTICE_YEAR, WorkingDate, WorkingDayCount,
    YearSchedule,
};
use crate::domain::validation::FieldError;

/// The calendar as last read by this process, with the revision it was read at.
///
/// Watched (issue 15): every change of a notice moves the signal the process watches for its
/// cached principals (migration `calendar_signals`, `principals`). While that watch is live and
/// the cache's epoch has not moved since the calendar was read, [`current`](Self::current)
/// answers from memory without a statement; otherwise it reads the revision (one tiny query)
/// and reloads only when that moved, as it did before.
#[derive(Clone, Default)]
pub struct CalendarCache {
    kept: Arc<RwLock<Option<Kept>>>,
    /// The watch whose epoch tells whether anything changed (none: read the revision each time).
    watch: Option<super::principals::PrincipalCache>,
}

struct Kept {
    revision: Revision,
    calendar: Calendar,
    /// The watch's epoch noted before the revision was read (`None`: the watch was not live).
    epoch: Option<u64>,
}

/// Count of stored notices and the sum of their versions.
type Revision = (i64, i64);

impl CalendarCache {
    /// A cache that trusts what it read until `watch` says something changed.
    pub fn watched_by(watch: super::principals::PrincipalCache) -> Self {
        Self {
            kept: Arc::default(),
            watch: Some(watch),
        }
    }

    /// The calendar this process loaded last, without asking the database (`None` before the
    /// first load). For what may lag a calendar change in another process by one request: the
    /// live flags of a read.
    pub fn cached(&self) -> Option<Calendar> {
        self.kept
            .read()
            .ok()
            .and_then(|g| g.as_ref().map(|k| k.calendar.clone()))
    }

    /// The current calendar: from memory while the watch saw no change since it was read;
    /// else one tiny query to check the revision, and a reload only when it moved.
    pub fn current(&self, conn: &mut DbConnection) -> Result<Calendar, AppError> {
        let epoch = self
            .watch
            .as_ref()
            .filter(|w| w.is_live())
            .map(super::principals::PrincipalCache::epoch);
        if let Some(now) = epoch
            && let Ok(guard) = self.kept.read()
            && let Some(k) = guard.as_ref()
            && k.epoch == Some(now)
        {
            return Ok(k.calendar.clone());
        }
        let revision = db::calendar::revision(conn)?;
        if let Ok(mut guard) = self.kept.write()
            && let Some(k) = guard.as_mut()
            && k.revision == revision
        {
            k.epoch = epoch;
            return Ok(k.calendar.clone());
        }
        let calendar = load(conn)?;
        if let Ok(mut guard) = self.kept.write() {
            *guard = Some(Kept {
                revision,
                calendar: calendar.clone(),
                epoch,
            });
        }
        Ok(calendar)
    }

    /// The calendar as this transaction sees it, read from the database and not kept: for the
    /// transaction that changes it, whose change may still roll back.
    pub fn reread(conn: &mut DbConnection) -> Result<Calendar, AppError> {
        load(conn)
    }
}

fn parse_row(row: &CalendarYearRow) -> Result<YearSchedule, AppError> {
    crate::domain::stored::decode_schedule(&row.schedule).map_err(|e| AppError::Unreadable {
        entity: "calendar year",
        id: row.year.to_string(),
        reason: e.to_string(),
    })
}

fn load(conn: &mut DbConnection) -> Result<Calendar, AppError> {
    let rows = db::calendar::all(conn)?;
    let schedules = rows.iter().map(parse_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Calendar::new(schedules))
}

#[derive(Debug, thiserror::Error)]
pub enum CalendarFileError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// The shipped notices, compiled in: used when the calendar folder does not exist (a binary
/// run outside the source tree), so a fresh install never starts with a weekends-only calendar.
const SHIPPED: [(&str, &str); 8] = [
    ("2019.toml", include_str!("../../config/calendar/2019.toml")),
    ("2020.toml", include_str!("../../config/calendar/2020.toml")),
    ("2021.toml", include_str!("../../config/calendar/2021.toml")),
    ("2022.toml", include_str!("../../config/calendar/2022.toml")),
    ("2023.toml", include_str!("../../config/calendar/2023.toml")),
    ("2024.toml", include_str!("../../config/calendar/2024.toml")),
    ("2025.toml", include_str!("../../config/calendar/2025.toml")),
    ("2026.toml", include_str!("../../config/calendar/2026.toml")),
];

/// Parses and checks one notice file.
pub fn parse_file(name: &str, text: &str) -> Result<YearSchedule, CalendarFileError> {
    let invalid = |message: String| CalendarFileError::Invalid {
        path: name.to_string(),
        message,
    };
    let schedule: YearSchedule = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let stem = Path::new(name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem != schedule.year.to_string() {
        return Err(invalid(format!(
            "the file name says {stem} but the file says year = {}",
            schedule.year
        )));
    }
    if let Err(violations) = schedule.validate() {
        let msgs: Vec<String> = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.message.en()))
            .collect();
        return Err(invalid(msgs.join("; ")));
    }
    Ok(schedule)
}

/// Reads every `<year>.toml` of the folder, checked; the shipped notices when it is missing.
pub fn read_dir(dir: &Path) -> Result<Vec<YearSchedule>, CalendarFileError> {
    let read_err = |p: &Path, e: &dyn std::fmt::Display| CalendarFileError::Read {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return SHIPPED
                .iter()
                .map(|(name, text)| parse_file(name, text))
                .collect();
        }
        Err(e) => return Err(read_err(dir, &e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| read_err(dir, &e))?.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| read_err(&path, &e))?;
        out.push(parse_file(&path.display().to_string(), &text)?);
    }
    out.sort_by_key(|s| s.year);
    Ok(out)
}

/// Stores the notices of the folder whose year the database does not have yet. Years already
/// stored are left alone: the database is the record, changed through the API.
pub fn load_missing(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    dir: &Path,
) -> Result<Vec<i32>, AppError> {
    let schedules = read_dir(dir).map_err(AppError::internal)?;
    db::transaction(conn, |conn| {
        let mut loaded = Vec::new();
        for schedule in schedules {
            if db::calendar::find(conn, schedule.year)?.is_some() {
                continue;
            }
            let row = CalendarYearRow {
                year: schedule.year,
                schedule: crate::domain::stored::encode_schedule(&schedule),
                source: "file".into(),
                version: 1,
                updated_at: now,
                updated_by: None,
            };
            db::calendar::insert(conn, &row)?;
            audit(
                conn,
                now,
                None,
                None,
                ("calendar_year", &schedule.year.to_string()),
                "calendar_loaded",
                json!({"source": "file", "schedule": schedule}),
                &RequestContext::default(),
            )?;
            loaded.push(schedule.year);
        }
        Ok(loaded)
    })
}

pub fn check_year(year: i32) -> Result<(), AppError> {
    if (MIN_NOTICE_YEAR..=MAX_NOTICE_YEAR).contains(&year) {
        Ok(())
    } else {
        Err(AppError::NotFound(crate::text!(
            "日历年度",
            "calendar year"
        )))
    }
}

/// One year of the calendar as the API shows it.
pub struct YearView {
    pub year: i32,
    /// None: no notice loaded; the year counts weekends only.
    pub schedule: Option<YearSchedule>,
    pub row: Option<CalendarYearRow>,
    pub working_days_per_month: [u32; 12],
}

pub async fn get_year(state: &AppState, year: i32) -> Result<YearView, AppError> {
    check_year(year)?;
    let cache = state.calendar.clone();
    state
        .with_conn(move |conn| {
            let cal = cache.current(conn)?;
            let row = db::calendar::find(conn, year)?;
            let schedule = row.as_ref().map(parse_row).transpose()?;
            let working_days_per_month =
                cal.working_days_per_month(year).map_err(calendar_error)?;
            Ok(YearView {
                year,
                schedule,
                row,
                working_days_per_month,
            })
        })
        .await
}

/// What replacing a year did.
pub struct PutOutcome {
    pub view: YearView,
    pub created: bool,
    /// Open applications whose due date was recomputed.
    pub recomputed: u64,
}

/// Loads or replaces a notice (admins of the root agency). Open deadlines are recomputed in the
/// same transaction, so no application is left with a due date from the old calendar.
pub async fn put_year(
    state: &AppState,
    actor: Actor,
    schedule: YearSchedule,
    ctx: RequestContext,
) -> Result<PutOutcome, AppError> {
    let clock = state.clock;
    check_year(schedule.year)?;
    if !actor.has(Role::Admin) || !actor.is_at_root() {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "只有根机关的管理员才能修改工作日历",
                "only admins of the root agency change the calendar"
            ),
        });
    }
    schedule.validate().map_err(|violations| {
        AppError::Validation(
            violations
                .into_iter()
                .map(|v| FieldError::new(v.field, v.code, v.message))
                .collect(),
        )
    })?;
    let outcome = state
        .in_transaction(move |conn| {
            let now = clock.now_micros();
            let year = schedule.year;
            let before = db::calendar::find(conn, year)?;
            let before_schedule = before.as_ref().map(parse_row).transpose()?;
            let stored = crate::domain::stored::encode_schedule(&schedule);
            let row = CalendarYearRow {
                year,
                schedule: stored,
                source: "api".into(),
                version: before.as_ref().map_or(1, |b| b.version + 1),
                updated_at: now,
                updated_by: Some(actor.recorded_as()),
            };
            if before.is_some() {
                db::calendar::update(conn, &row)?;
            } else {
                db::calendar::insert(conn, &row)?;
            }
            audit(
                conn,
                now,
                Some(&actor),
                Some(&actor.agency_id),
                ("calendar_year", &year.to_string()),
                if before.is_some() {
                    "calendar_replaced"
                } else {
                    "calendar_loaded"
                },
                json!({"before": before_schedule, "after": schedule, "version": row.version}),
                &ctx,
            )?;
            // Its own change, not yet committed: read, not taken from (or left in) the cache.
            let cal = CalendarCache::reread(conn)?;
            let today = clock.today();
            let year_start = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| {
                AppError::field(
                    "year",
                    "out_of_range",
                    crate::text!("不是日历年份", "not a calendar year"),
                )
            })?;
            let year_end = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(year_start);
            let recomputed = super::requests::retime_touching(
                conn,
                &cal,
                today,
                (year_start, year_end),
                clock.now_micros(),
                &ctx,
            )?;
            let working_days_per_month =
                cal.working_days_per_month(year).map_err(calendar_error)?;
            Ok(PutOutcome {
                created: before.is_none(),
                recomputed,
                view: YearView {
                    year,
                    schedule: Some(schedule),
                    row: Some(row),
                    working_days_per_month,
                },
            })
        })
        .await?;
    // Committed: this process forgets its calendar (and what else the signal covers) before
    // it answers; the others when the trigger's signal reaches them.
    state.principals.invalidate();
    Ok(outcome)
}

pub fn calendar_error(e: CalendarError) -> AppError {
    AppError::Validation(vec![FieldError::new(
        match e {
            CalendarError::ReversedRange { .. } => "to",
            CalendarError::ResultOutOfRange { .. } => "days",
            _ => "from",
        },
        match e {
            CalendarError::ReversedRange { .. } => "from_after_to",
            _ => "out_of_range",
        },
        e.text(),
    )])
}

pub async fn add_working_days(
    state: &AppState,
    from: NaiveDate,
    days: u32,
) -> Result<WorkingDate, AppError> {
    let cache = state.calendar.clone();
    state
        .with_conn(move |conn| {
            let cal = cache.current(conn)?;
            cal.add_working_days_checked(from, days)
                .map_err(calendar_error)
        })
        .await
}

pub async fn count_working_days(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<WorkingDayCount, AppError> {
    let cache = state.calendar.clone();
    state
        .with_conn(move |conn| {
            let cal = cache.current(conn)?;
            cal.count_checked(from, to).map_err(calendar_error)
        })
        .await
}

/// When a stored row was last changed, for the API.
pub fn updated_at(view: &YearView) -> Option<NaiveDateTime> {
    view.row.as_ref().map(|r| r.updated_at)
}
