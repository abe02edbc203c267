//! Webhook subscriptions and their delivery log.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{ListEnvelope, PageQuery, instant};
use super::extract::{ApiJson, ApiQuery, Authenticated, Ctx, IfMatch};
use super::idempotency::{Creating, IdempotencyKeyHeader, json_answer, respond};
use super::problem::ApiError;
use crate::app::idempotency::render;
use crate::app::webhooks::{DeliveryView, WebhookView};
use crate::app::{self, AppState, Page};
use actix_web::http::StatusCode;

/// A webhook subscription. The secret is shown only when created.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDto {
    pub id: Uuid,
    /// Events of this agency and every agency below it are sent.
    pub agency_id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// `*`, `<entity>.*` or `<entity>.<action>` (entity: application, review, litigation,
    /// report).
    pub event_types: Vec<String>,
    /// A disabled subscription keeps its undelivered events and sends them when enabled again.
    pub enabled: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Deliveries by state (single reads only): waiting or retrying, delivered, given up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox: Option<OutboxCounts>,
}

/// How many deliveries of a subscription are in each state.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxCounts {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
}

impl From<WebhookView> for WebhookDto {
    fn from(r: WebhookView) -> Self {
        WebhookDto {
            id: Uuid::parse_str(&r.id).unwrap_or_default(),
            agency_id: Uuid::parse_str(&r.agency_id).unwrap_or_default(),
            url: r.url,
            event_types: r.event_types.split(',').map(str::to_string).collect(),
            enabled: r.enabled,
            version: r.version,
            created_at: instant(r.created_at),
            updated_at: instant(r.updated_at),
            outbox: None,
        }
    }
}

/// A subscription with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecretDto {
    #[serde(flatten)]
    pub webhook: WebhookDto,
    /// Verify `Gongkai-Signature` with it (HMAC-SHA256, see docs/API.md). `null` in an answer
    /// replayed for an `Idempotency-Key`: a secret is shown once.
    #[schema(required)]
    pub secret: Option<String>,
}

/// A new subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Default: the caller's agency. Events of this agency's subtree are sent.
    pub agency_id: Option<Uuid>,
    /// `https://…` (plain `http://` only when the setting `webhooks.allow_http` is on). Not an
    /// internal address — loopback, private, link-local (169.254.169.254), `0`, integer or hex
    /// spellings, or a name resolving to one: 422 `internal_receiver`, unless the host is in
    /// `webhooks.allowed_internal_hosts`; deliveries check again on every attempt.
    pub url: String,
    /// At least one: `*`, `<entity>.*` or `<entity>.<action>`.
    pub event_types: Vec<String>,
    /// 16–200 characters; generated when absent.
    pub secret: Option<String>,
}

fn etag(v: i32) -> (&'static str, String) {
    ("ETag", format!("\"{v}\""))
}

/// Subscribe to events (admins, for an agency of their subtree).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), params(IdempotencyKeyHeader), request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Subscribed; the secret is in the answer", body = WebhookWithSecretDto),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    body: Creating<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let Creating { body: b, key } = body;
    let answer = app::webhooks::create(
        &state,
        actor,
        app::webhooks::CreateSubscription {
            agency_id: b.agency_id.map(|u| u.to_string()),
            url: b.url,
            event_types: b.event_types,
            secret: b.secret,
        },
        ctx.0,
        render(key, |row: &app::webhooks::CreatedWebhook| {
            let dto = WebhookWithSecretDto {
                webhook: WebhookDto::from(row.webhook.clone()),
                secret: Some(row.secret.clone()),
            };
            json_answer(
                StatusCode::CREATED,
                vec![
                    ("ETag", format!("\"{}\"", dto.webhook.version)),
                    ("Cache-Control", "no-store".to_string()),
                    ("Location", format!("/api/v1/webhooks/{}", dto.webhook.id)),
                ],
                &dto,
            )
        })
        .withholding(&["secret"]),
    )
    .await?;
    Ok(respond(answer))
}

/// The subscriptions of the admin's subtree.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "Subscriptions", body = ListEnvelope<WebhookDto>)))]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<ListEnvelope<WebhookDto>>, ApiError> {
    let page = Page::parse(query.0.page, query.0.per_page)?;
    let paged = app::webhooks::list(&state, actor, page).await?;
    Ok(web::Json(ListEnvelope::from_paged(paged, WebhookDto::from)))
}

/// One subscription, with how many deliveries are pending, delivered and given up.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription", body = WebhookDto)))]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = app::webhooks::get(&state, actor, path.into_inner().to_string()).await?;
    let count = |s: &str| v.counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let outbox = OutboxCounts {
        pending: count("pending"),
        delivered: count("delivered"),
        failed: count("failed"),
    };
    let mut dto = WebhookDto::from(v.row);
    dto.outbox = Some(outbox);
    Ok(HttpResponse::Ok()
        .insert_header(etag(dto.version))
        .json(dto))
}

/// Changes to a subscription; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWebhookRequest {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Disable to pause deliveries; they are kept and sent when enabled again.
    pub enabled: Option<bool>,
}

/// Change a subscription's URL, event types or enabled flag (admins). Needs `If-Match`.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])), request_body = PatchWebhookRequest,
    params(
        ("id" = Uuid, Path, description = "Subscription id"),
        ("If-Match" = String, Header, description = "The version read, e.g. \"3\""),
    ),
    responses(
        (status = 200, description = "Changed", body = WebhookDto),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[patch("/webhooks/{id}")]
pub async fn patch_webhook(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PatchWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let row = app::webhooks::patch(
        &state,
        actor,
        path.into_inner().to_string(),
        app::webhooks::PatchSubscription {
            url: b.url,
            event_types: b.event_types,
            enabled: b.enabled,
            if_match: if_match.0,
        },
        ctx.0,
    )
    .await?;
    let dto = WebhookDto::from(row);
    Ok(HttpResponse::Ok()
        .insert_header(etag(dto.version))
        .json(dto))
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    pub id: Uuid,
    /// The event sent (`Gongkai-Event-Id`).
    pub event_id: Uuid,
    /// The event's cursor in the feed.
    pub event_cursor: String,
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// A 2xx answer.
    pub succeeded: bool,
    /// The receiver's HTTP status, when it answered.
    #[schema(required)]
    pub status_code: Option<i32>,
    #[schema(required)]
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl From<DeliveryView> for DeliveryDto {
    fn from(r: DeliveryView) -> Self {
        DeliveryDto {
            id: Uuid::parse_str(&r.id).unwrap_or_default(),
            event_id: Uuid::parse_str(&r.event_id).unwrap_or_default(),
            event_cursor: r.event_seq.map(|s| s.to_string()).unwrap_or_default(),
            event_type: r.event_type,
            attempt: r.attempt,
            attempted_at: instant(r.attempted_at),
            succeeded: r.succeeded,
            status_code: r.status_code,
            error: r.error,
            duration_ms: r.duration_ms,
        }
    }
}

/// The delivery log of a subscription, newest first (admins).
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Subscription id"), PageQuery),
    responses((status = 200, description = "Attempts", body = ListEnvelope<DeliveryDto>)))]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<ListEnvelope<DeliveryDto>>, ApiError> {
    let page = Page::parse(query.0.page, query.0.per_page)?;
    let paged =
        app::webhooks::deliveries(&state, actor, path.into_inner().to_string(), page).await?;
    Ok(web::Json(ListEnvelope::from_paged(
        paged,
        DeliveryDto::from,
    )))
}

/// How many given-up deliveries were queued again.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequeuedDto {
    pub requeued: usize,
}

/// Send the given-up deliveries again (admins), e.g. after the receiver was repaired. They go
/// out in their original order per application, with fresh attempt counts.
#[utoipa::path(tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, description = "Queued again", body = RequeuedDto)))]
#[post("/webhooks/{id}/retry-failed")]
pub async fn retry_failed(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
) -> Result<web::Json<RequeuedDto>, ApiError> {
    let n =
        app::webhooks::retry_failed(&state, actor, path.into_inner().to_string(), ctx.0).await?;
    Ok(web::Json(RequeuedDto { requeued: n }))
}
