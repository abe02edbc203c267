//! System clients of provincial platforms and other systems.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{ListEnvelope, PageQuery, instant};
use super::extract::{ApiJson, ApiQuery, Authenticated, Ctx, IfMatch};
use super::idempotency::{Creating, IdempotencyKeyHeader, json_answer, respond};
use super::problem::ApiError;
use crate::app::clients::ClientView;
use crate::app::idempotency::render;
use crate::app::{self, AppState, Page};
use actix_web::http::StatusCode;

/// A scope a client may hold.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub enum ScopeCode {
    /// Forward applications.
    #[serde(rename = "requests:create")]
    RequestsCreate,
    /// Read applications and their status.
    #[serde(rename = "requests:read")]
    RequestsRead,
    /// Read yearly reports and roll-ups.
    #[serde(rename = "reports:read")]
    ReportsRead,
    /// Read the change feed.
    #[serde(rename = "feed:read")]
    FeedRead,
    /// Export applications with identity numbers and credit codes in full (audited).
    #[serde(rename = "requests:export_personal")]
    RequestsExportPersonal,
}

/// A system client. Never carries its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientDto {
    /// Send as `client_id` with the client credentials grant.
    pub client_id: Uuid,
    pub name: String,
    /// The client acts for this agency and every agency below it.
    pub agency_id: Uuid,
    #[schema(value_type = Vec<ScopeCode>)]
    pub scopes: Vec<String>,
    /// A disabled client gets no tokens, and its tokens stop working.
    pub disabled: bool,
    /// Send as `If-Match` when changing the client (also in the `ETag` header).
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ClientView> for ClientDto {
    fn from(r: ClientView) -> Self {
        ClientDto {
            client_id: Uuid::parse_str(&r.id).unwrap_or_default(),
            agency_id: Uuid::parse_str(&r.agency_id).unwrap_or_default(),
            scopes: r.scopes.codes().into_iter().map(str::to_string).collect(),
            name: r.name,
            disabled: r.disabled,
            version: r.version,
            created_at: instant(r.created_at),
            updated_at: instant(r.updated_at),
        }
    }
}

/// A client with its secret: shown this once, stored only as a hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientWithSecretDto {
    #[serde(flatten)]
    pub client: ClientDto,
    /// Keep it safe: it cannot be shown again (rotate it to get a new one). `null` in an
    /// answer replayed for an `Idempotency-Key`: the secret is never stored.
    #[schema(required)]
    pub client_secret: Option<String>,
}

/// A new client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClientRequest {
    /// 1–100 characters, e.g. the platform's name.
    pub name: String,
    /// An agency of the admin's subtree; the client acts for it and everything below it.
    pub agency_id: Uuid,
    /// At least one.
    #[schema(value_type = Vec<ScopeCode>)]
    pub scopes: Vec<String>,
}

fn secret_dto(issued: app::clients::IssuedSecret) -> ClientWithSecretDto {
    ClientWithSecretDto {
        client: ClientDto::from(issued.client),
        client_secret: Some(issued.secret),
    }
}

fn with_secret(issued: app::clients::IssuedSecret) -> HttpResponse {
    let dto = secret_dto(issued);
    HttpResponse::Created()
        .insert_header(("ETag", format!("\"{}\"", dto.client.version)))
        .insert_header(("Cache-Control", "no-store"))
        .json(dto)
}

/// Register a system client (admins, for an agency of their subtree).
///
/// The answer carries `client_secret`, shown only this once.
#[utoipa::path(tag = "clients", security(("bearer" = [])), params(IdempotencyKeyHeader), request_body = CreateClientRequest,
    responses(
        (status = 201, description = "Registered; the secret is in the answer", body = ClientWithSecretDto),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/clients")]
pub async fn create_client(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    body: Creating<CreateClientRequest>,
) -> Result<HttpResponse, ApiError> {
    let Creating { body: b, key } = body;
    let answer = app::clients::create(
        &state,
        actor,
        app::clients::CreateClient {
            name: b.name,
            agency_id: b.agency_id.to_string(),
            scopes: b.scopes,
        },
        ctx.0,
        render(key, |issued: &app::clients::IssuedSecret| {
            let dto = secret_dto(issued.clone());
            json_answer(
                StatusCode::CREATED,
                vec![
                    ("ETag", format!("\"{}\"", dto.client.version)),
                    ("Cache-Control", "no-store".to_string()),
                ],
                &dto,
            )
        })
        .withholding(&["client_secret"]),
    )
    .await?;
    Ok(respond(answer))
}

/// The clients of the admin's subtree.
#[utoipa::path(tag = "clients", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "Clients", body = ListEnvelope<ClientDto>),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/clients")]
pub async fn list_clients(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<ListEnvelope<ClientDto>>, ApiError> {
    let page = Page::parse(query.0.page, query.0.per_page)?;
    let paged = app::clients::list(&state, actor, page).await?;
    Ok(web::Json(ListEnvelope::from_paged(paged, ClientDto::from)))
}

/// One client.
#[utoipa::path(tag = "clients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Client id")),
    responses((status = 200, description = "The client", body = ClientDto)))]
#[get("/clients/{id}")]
pub async fn get_client(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let row = app::clients::get(&state, actor, path.into_inner().to_string()).await?;
    let dto = ClientDto::from(row);
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", dto.version)))
        .json(dto))
}

/// Changes to a client; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchClientRequest {
    pub name: Option<String>,
    /// Replaces the scopes; removing one revokes the client's tokens.
    #[schema(value_type = Option<Vec<ScopeCode>>)]
    pub scopes: Option<Vec<String>>,
    /// Disabling revokes the client's tokens.
    pub disabled: Option<bool>,
}

/// Rename, rescope, disable or enable a client (admins). Needs `If-Match`.
#[utoipa::path(tag = "clients", security(("bearer" = [])), request_body = PatchClientRequest,
    params(
        ("id" = Uuid, Path, description = "Client id"),
        ("If-Match" = String, Header, description = "The version read, e.g. \"3\""),
    ),
    responses(
        (status = 200, description = "Changed", body = ClientDto),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[patch("/clients/{id}")]
pub async fn patch_client(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PatchClientRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let row = app::clients::patch(
        &state,
        actor,
        path.into_inner().to_string(),
        app::clients::PatchClient {
            name: b.name,
            scopes: b.scopes,
            disabled: b.disabled,
            if_match: if_match.0,
        },
        ctx.0,
    )
    .await?;
    let dto = ClientDto::from(row);
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", dto.version)))
        .json(dto))
}

/// Issue a new secret (admins). The old secret and every token issued with it stop working.
#[utoipa::path(tag = "clients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Client id")),
    responses((status = 201, description = "The client with its new secret", body = ClientWithSecretDto)))]
#[post("/clients/{id}/secret")]
pub async fn rotate_client_secret(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let issued =
        app::clients::rotate_secret(&state, actor, path.into_inner().to_string(), ctx.0).await?;
    Ok(with_secret(issued))
}
