//! The working-day calendar (工作日历): holidays and adjusted working days (调休) per year.

use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::instant;
use super::extract::{ApiJson, ApiQuery, Authenticated, Ctx};
use super::problem::ApiError;
use crate::app::{self, AppError, AppState};
use crate::domain::calendar::{HolidayRange, YearSchedule};

/// A holiday range of a notice (放假), both ends included.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayRangeDto {
    /// The holiday's name, e.g. 春节.
    pub name: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// One year of the calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarYearDto {
    pub year: i32,
    /// True when no notice is loaded for this year: it counts weekends only, and every date
    /// computed from it is provisional.
    pub provisional: bool,
    /// Holiday ranges of the notice.
    pub holidays: Vec<HolidayRangeDto>,
    /// Weekend days declared working days (调休上班).
    pub workdays: Vec<NaiveDate>,
    /// Working days in January … December.
    pub working_days_per_month: Vec<u32>,
    /// Working days in the year.
    pub working_days_total: u32,
    /// Changes with every replacement; 0 when nothing is stored.
    pub version: i32,
    /// `file` (loaded from config/calendar) or `api`; null when nothing is stored.
    #[schema(required, value_type = Option<super::dto::CalendarSourceCode>)]
    pub source: Option<String>,
    #[schema(required)]
    pub updated_at: Option<DateTime<Utc>>,
    /// Who last replaced it through the API.
    #[schema(required)]
    pub updated_by: Option<String>,
}

fn year_dto(v: app::calendar::YearView) -> CalendarYearDto {
    let (holidays, workdays) = match &v.schedule {
        Some(s) => (
            s.holidays
                .iter()
                .map(|h| HolidayRangeDto {
                    name: h.name.clone(),
                    start: h.start,
                    end: h.end,
                })
                .collect(),
            s.workdays.clone(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    CalendarYearDto {
        year: v.year,
        provisional: v.schedule.is_none(),
        holidays,
        workdays,
        working_days_total: v.working_days_per_month.iter().sum(),
        working_days_per_month: v.working_days_per_month.to_vec(),
        version: v.row.as_ref().map_or(0, |r| r.version),
        source: v.row.as_ref().map(|r| r.source.clone()),
        updated_at: app::calendar::updated_at(&v).map(instant),
        updated_by: v.row.as_ref().and_then(|r| r.updated_by.clone()),
    }
}

/// Read one year of the calendar.
#[utoipa::path(tag = "calendar", security(("bearer" = [])),
    params(("year" = i32, Path, description = "Calendar year, 1950–2199")),
    responses((status = 200, description = "The year", body = CalendarYearDto)))]
#[get("/calendar/{year}")]
pub async fn get_calendar_year(
    state: web::Data<AppState>,
    _actor: Authenticated,
    path: web::Path<i32>,
) -> Result<web::Json<CalendarYearDto>, ApiError> {
    let v = app::calendar::get_year(&state, path.into_inner()).await?;
    Ok(web::Json(year_dto(v)))
}

/// A State Council holiday notice for one year.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutCalendarYearRequest {
    /// Optional; when given it must equal the year in the path.
    pub year: Option<i32>,
    /// Holiday ranges in date order, not overlapping; dates from December of the year before
    /// through December of the year.
    pub holidays: Vec<HolidayRangeDto>,
    /// Weekend days declared working days (调休上班); never also inside a holiday range.
    pub workdays: Vec<NaiveDate>,
}

/// The stored year and what the change did.
#[derive(Debug, Serialize, ToSchema)]
pub struct PutCalendarYearResponse {
    #[serde(flatten)]
    pub calendar: CalendarYearDto,
    /// Open applications whose due date was recomputed with the new calendar.
    pub recomputed_applications: u64,
}

/// Load or replace a year's notice (admins of the root agency).
///
/// Validated: dates belong to the notice, ranges ordered, no date both holiday and working
/// day, working days are weekend days. Recorded in the audit log; open applications' due dates
/// are recomputed in the same transaction.
#[utoipa::path(tag = "calendar", security(("bearer" = [])), request_body = PutCalendarYearRequest,
    params(("year" = i32, Path, description = "Calendar year, 1950–2199")),
    responses(
        (status = 200, description = "Replaced", body = PutCalendarYearResponse),
        (status = 201, description = "Loaded for the first time", body = PutCalendarYearResponse),
        (status = 403, description = "Not an admin of the root agency (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[put("/calendar/{year}")]
pub async fn put_calendar_year(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<i32>,
    body: ApiJson<PutCalendarYearRequest>,
) -> Result<HttpResponse, ApiError> {
    let year = path.into_inner();
    let b = body.0;
    if b.year.is_some_and(|y| y != year) {
        return Err(AppError::field(
            "year",
            "year_mismatch",
            crate::text!("须与路径中的年份一致", "must equal the year in the path"),
        )
        .into());
    }
    let schedule = YearSchedule {
        year,
        holidays: b
            .holidays
            .into_iter()
            .map(|h| HolidayRange {
                name: h.name,
                start: h.start,
                end: h.end,
            })
            .collect(),
        workdays: b.workdays,
    };
    let out = app::calendar::put_year(&state, actor, schedule, ctx.0).await?;
    let body = PutCalendarYearResponse {
        calendar: year_dto(out.view),
        recomputed_applications: out.recomputed,
    };
    Ok(if out.created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// `from` and `days`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AddQuery {
    /// The start date (day 0), YYYY-MM-DD.
    pub from: NaiveDate,
    /// Working days to add, 0–10000. 0 answers `from` itself when it is a working day, else
    /// the next working day.
    #[param(minimum = 0, maximum = 10000)]
    pub days: i64,
}

/// A date computed from the calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkingDateDto {
    pub date: NaiveDate,
    /// True when a date it relied on lies in a year with no loaded notice.
    pub provisional: bool,
}

const MAX_DAYS: i64 = 10_000;

/// The Nth working day after a date.
#[utoipa::path(tag = "calendar", security(("bearer" = [])), params(AddQuery),
    responses((status = 200, description = "The date", body = WorkingDateDto)))]
#[get("/calendar/working-days/add")]
pub async fn add_working_days(
    state: web::Data<AppState>,
    _actor: Authenticated,
    query: ApiQuery<AddQuery>,
) -> Result<web::Json<WorkingDateDto>, ApiError> {
    let q = query.0;
    let days = u32::try_from(q.days)
        .ok()
        .filter(|d| i64::from(*d) <= MAX_DAYS)
        .ok_or_else(|| {
            AppError::Validation(vec![crate::domain::validation::FieldError::not_between(
                "days", 0, MAX_DAYS,
            )])
        })?;
    let r = app::calendar::add_working_days(&state, q.from, days).await?;
    Ok(web::Json(WorkingDateDto {
        date: r.date,
        provisional: r.provisional,
    }))
}

/// `from` and `to`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CountQuery {
    /// Excluded, YYYY-MM-DD.
    pub from: NaiveDate,
    /// Included, YYYY-MM-DD; not before `from`.
    pub to: NaiveDate,
}

/// A count of working days.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkingDayCountDto {
    pub count: u32,
    /// True when the interval touches a year with no loaded notice.
    pub provisional: bool,
}

/// The working days in (from, to].
#[utoipa::path(tag = "calendar", security(("bearer" = [])), params(CountQuery),
    responses((status = 200, description = "The count", body = WorkingDayCountDto)))]
#[get("/calendar/working-days/count")]
pub async fn count_working_days(
    state: web::Data<AppState>,
    _actor: Authenticated,
    query: ApiQuery<CountQuery>,
) -> Result<web::Json<WorkingDayCountDto>, ApiError> {
    let q = query.0;
    let r = app::calendar::count_working_days(&state, q.from, q.to).await?;
    Ok(web::Json(WorkingDayCountDto {
        count: r.count,
        provisional: r.provisional,
    }))
}
