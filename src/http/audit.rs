//! The audit log.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::{ListEnvelope, instant};
use super::extract::{ApiQuery, Authenticated};
use super::problem::ApiError;
use crate::app::{AppState, Page};

/// One administrative change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryDto {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    /// The user, or `system`.
    pub actor: String,
    #[schema(required)]
    pub actor_user_id: Option<String>,
    #[schema(required)]
    pub agency_id: Option<String>,
    /// `user`, `agency`, `calendar_year`, `review`, `litigation`, `report`.
    pub entity_type: String,
    pub entity_id: String,
    /// e.g. `user_created`, `calendar_replaced`, `case_corrected`, `report_published`,
    /// `token_issued`, `token_refreshed`, `refresh_token_reused`, `logout`, `login_failed`.
    pub action: String,
    /// What changed (before and after where there was a before).
    #[schema(value_type = super::payloads::AuditPayloadSchema)]
    pub payload: serde_json::Value,
    /// The `X-Request-Id` of the request that made the change.
    #[schema(required)]
    pub request_id: Option<String>,
}

/// What an audit entry is about.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditEntityCode {
    Agency,
    CalendarYear,
    Client,
    Document,
    /// An export with personal data in full (`personal_data_exported`; the id is
    /// `requests-<year>`).
    Export,
    /// A login attempt (the id is the user name tried).
    Login,
    Notice,
    Report,
    Review,
    Litigation,
    User,
    Webhook,
}

impl AuditEntityCode {
    /// The stored `entity_type`.
    pub fn code(self) -> &'static str {
        match self {
            AuditEntityCode::Agency => "agency",
            AuditEntityCode::CalendarYear => "calendar_year",
            AuditEntityCode::Client => "client",
            AuditEntityCode::Document => "document",
            AuditEntityCode::Export => "export",
            AuditEntityCode::Login => "login",
            AuditEntityCode::Notice => "notice",
            AuditEntityCode::Report => "report",
            AuditEntityCode::Review => "review",
            AuditEntityCode::Litigation => "litigation",
            AuditEntityCode::User => "user",
            AuditEntityCode::Webhook => "webhook",
        }
    }
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries about this kind of thing.
    pub entity_type: Option<AuditEntityCode>,
    /// Only entries about this one (its id; a user name for `login`).
    #[param(min_length = 1, max_length = 200)]
    pub entity_id: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// The audit log of administrative changes, newest first (admins; their subtree).
///
/// Applications have their own trail at `/requests/{id}/events`.
#[utoipa::path(tag = "operations", security(("bearer" = [])), params(AuditQuery), responses(
    (status = 200, description = "Entries", body = ListEnvelope<AuditEntryDto>),
    (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
))]
#[get("/audit-log")]
pub async fn list_audit_log(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: ApiQuery<AuditQuery>,
) -> Result<web::Json<ListEnvelope<AuditEntryDto>>, ApiError> {
    let q = query.0;
    let page = Page::parse(q.page, q.per_page)?;
    let paged = crate::app::audit_log::list(
        &state,
        actor,
        q.entity_type.map(|t| t.code().to_string()),
        q.entity_id,
        page,
    )
    .await?;
    Ok(web::Json(ListEnvelope::from_paged(paged, |r| {
        AuditEntryDto {
            id: r.id,
            occurred_at: instant(r.occurred_at),
            actor: r.actor_label,
            actor_user_id: r.actor_user_id,
            agency_id: r.agency_id,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            action: r.action,
            payload: serde_json::from_str(&r.payload).unwrap_or_default(),
            request_id: r.request_id,
        }
    })))
}
