//! The change feed.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::instant;
use super::extract::{ApiQuery, Authenticated};
use super::problem::ApiError;
use crate::app::feed::FeedEventView;
use crate::app::{self, AppError, AppState};
use crate::domain::validation::FieldError;

/// Where to read from.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// A `cursor` or `next_cursor` from an earlier answer; absent = from the first event.
    /// Cursors are decimal digits; treat them as opaque.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub after: Option<String>,
    /// Events per answer, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// One event.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEventDto {
    /// This event's position: reading on with `after` = this value gives the events after it.
    pub cursor: String,
    /// Unique id of the event (also sent with webhook deliveries, for de-duplication).
    pub id: Uuid,
    /// `<entity_type>.<action>`, e.g. `application.intake`, `application.reply`,
    /// `review.case_recorded`, `report.report_published`.
    #[serde(rename = "type")]
    #[schema(value_type = super::dto::FeedEventTypeCode)]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub agency_id: Uuid,
    /// `application`, `review`, `litigation` or `report`.
    #[schema(value_type = super::dto::FeedEntityCode)]
    pub entity_type: String,
    /// The application's, review's or lawsuit's id; for reports `<agency id>:<year>`.
    pub entity_id: String,
    /// The application the event belongs to, when there is one.
    #[schema(required)]
    pub request_id: Option<Uuid>,
    /// What changed: for applications the case number, external reference, state, dates and
    /// the step's details; for the others the record as stored.
    #[schema(value_type = super::payloads::FeedEventDataSchema)]
    pub data: Value,
}

impl From<FeedEventView> for FeedEventDto {
    fn from(r: FeedEventView) -> Self {
        FeedEventDto {
            cursor: r.seq.to_string(),
            id: Uuid::parse_str(&r.id).unwrap_or_default(),
            event_type: r.event_type,
            occurred_at: instant(r.occurred_at),
            agency_id: Uuid::parse_str(&r.agency_id).unwrap_or_default(),
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            request_id: r.request_id.and_then(|s| Uuid::parse_str(&s).ok()),
            data: serde_json::from_str(&r.payload).unwrap_or(Value::Null),
        }
    }
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPageDto {
    pub events: Vec<FeedEventDto>,
    /// Give as `after` next time; unchanged when there was nothing new.
    pub next_cursor: String,
}

fn cursor(after: Option<&str>) -> Result<i64, AppError> {
    match after {
        None => Ok(0),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && s.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                AppError::Validation(vec![FieldError::new(
                    "after",
                    "invalid_cursor",
                    crate::text!("不是本订阅源给出的游标", "not a cursor given by this feed"),
                )])
            }),
    }
}

/// Read the change feed (users, and clients with `feed:read`).
///
/// Every event on applications, reviews, lawsuits and reports of the caller's agencies, in
/// commit order. A cursor never skips and never repeats an event, also while several server
/// processes write (docs/FEED.md). Poll with the last `next_cursor`.
#[utoipa::path(tag = "feed", security(("bearer" = [])), params(FeedQuery),
    responses(
        (status = 200, description = "Events after the cursor", body = FeedPageDto),
        (status = 403, description = "Client without `feed:read` (`insufficient_scope`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/feed")]
pub async fn read_feed(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: ApiQuery<FeedQuery>,
) -> Result<web::Json<FeedPageDto>, ApiError> {
    let q = query.0;
    let after = cursor(q.after.as_deref())?;
    let limit = q.limit.unwrap_or(app::feed::DEFAULT_LIMIT);
    if !(1..=app::feed::MAX_LIMIT).contains(&limit) {
        return Err(AppError::Validation(vec![FieldError::not_between(
            "limit",
            1,
            app::feed::MAX_LIMIT,
        )])
        .into());
    }
    let page = app::feed::read(&state, actor, after, limit).await?;
    Ok(web::Json(FeedPageDto {
        next_cursor: page.next_cursor.to_string(),
        events: page.events.into_iter().map(FeedEventDto::from).collect(),
    }))
}

/// A webhook delivery's body: the event as the feed shows it.
pub fn delivery_body(row: &FeedEventView) -> Vec<u8> {
    serde_json::to_vec(&FeedEventDto::from(row.clone())).unwrap_or_default()
}
