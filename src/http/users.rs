//! Users of an agency.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{ListEnvelope, PageQuery, RoleDto, instant};
use super::extract::{ApiJson, ApiQuery, Authenticated, Ctx, IfMatch};
use super::idempotency::{Creating, IdempotencyKeyHeader, json_answer, respond};
use super::problem::ApiError;
use crate::app::idempotency::render;
use crate::app::users::UserView;
use crate::app::{self, AppState, Page};
use actix_web::http::StatusCode;

/// A user. Never carries the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub agency_id: Uuid,
    /// Login name (lower-case).
    pub username: String,
    pub display_name: String,
    pub roles: Vec<RoleDto>,
    /// A disabled user cannot log in, and its tokens stop working.
    pub disabled: bool,
    /// The department (业务处室) of its agency the user belongs to.
    pub department_id: Option<Uuid>,
    /// Where reminders go.
    pub email: Option<String>,
    /// Send as `If-Match` when changing the user (also in the `ETag` header).
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserView> for UserDto {
    fn from(r: UserView) -> Self {
        UserDto {
            id: Uuid::parse_str(&r.id).unwrap_or_default(),
            agency_id: Uuid::parse_str(&r.agency_id).unwrap_or_default(),
            roles: r.roles.iter().map(RoleDto::from).collect(),
            username: r.username,
            display_name: r.display_name,
            disabled: r.disabled,
            department_id: r
                .department_id
                .as_deref()
                .and_then(|d| Uuid::parse_str(d).ok()),
            email: r.email,
            version: r.version,
            created_at: instant(r.created_at),
            updated_at: instant(r.updated_at),
        }
    }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// 3–64 characters of letters, digits, `.`, `-`, `_`, `@`; stored lower-case; unique.
    pub username: String,
    /// Name shown in the audit trail; defaults to the user name.
    pub display_name: Option<String>,
    /// At least 10 characters.
    pub password: String,
    /// At least one role.
    pub roles: Vec<RoleDto>,
    /// A department of the same agency (`POST /agencies/{id}/departments`).
    pub department_id: Option<Uuid>,
    /// Where reminders go.
    pub email: Option<String>,
}

fn role_codes(roles: &[RoleDto]) -> Vec<String> {
    roles.iter().map(|r| r.code().to_string()).collect()
}

/// Create a user in an agency of the caller's subtree (admins).
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = CreateUserRequest,
    params(IdempotencyKeyHeader, ("id" = Uuid, Path, description = "Agency id")),
    responses(
        (status = 201, description = "Created", body = UserDto),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "User name taken (`username_taken`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[post("/agencies/{id}/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    body: Creating<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let Creating { body: b, key } = body;
    let answer = app::users::create(
        &state,
        actor,
        path.into_inner().to_string(),
        app::users::CreateUser {
            username: b.username,
            display_name: b.display_name,
            password: b.password,
            roles: role_codes(&b.roles),
            department_id: b.department_id.map(|d| d.to_string()),
            email: b.email,
        },
        ctx.0,
        render(key, |v: &app::users::UserView| {
            let dto = UserDto::from(v.clone());
            json_answer(
                StatusCode::CREATED,
                vec![("ETag", format!("\"{}\"", dto.version))],
                &dto,
            )
        }),
    )
    .await?;
    Ok(respond(answer))
}

/// List the users of an agency (admins and supervisors of its subtree).
#[utoipa::path(tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id"), PageQuery),
    responses(
        (status = 200, description = "Users", body = ListEnvelope<UserDto>),
        (status = 403, description = "Neither admin nor supervisor (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/agencies/{id}/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<ListEnvelope<UserDto>>, ApiError> {
    let page = Page::parse(query.0.page, query.0.per_page)?;
    let paged = app::users::list(&state, actor, path.into_inner().to_string(), page).await?;
    Ok(web::Json(ListEnvelope::from_paged(paged, UserDto::from)))
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUserRequest {
    pub display_name: Option<String>,
    /// Replaces the roles.
    pub roles: Option<Vec<RoleDto>>,
    /// Disabling revokes the user's tokens.
    pub disabled: Option<bool>,
    /// A new password; revokes the user's tokens.
    pub password: Option<String>,
    /// A department of the user's agency; `null` takes the user out of its department.
    #[serde(default, deserialize_with = "super::dto::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub department_id: Option<Option<Uuid>>,
    /// Where reminders go; `null` removes it.
    #[serde(default, deserialize_with = "super::dto::double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
}

/// Change a user's roles, display name, password, disabled flag, department or e-mail address
/// (admins of its subtree).
///
/// Needs `If-Match` with the version read.
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = PatchUserRequest,
    params(
        ("id" = Uuid, Path, description = "User id"),
        ("If-Match" = String, Header, description = "The version read, e.g. \"3\""),
    ),
    responses(
        (status = 200, description = "Changed", body = UserDto),
        (status = 403, description = "Not an admin (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "An admin cannot lock itself out (`cannot_lock_out_self`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[patch("/users/{id}")]
pub async fn patch_user(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PatchUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let row = app::users::patch(
        &state,
        actor,
        path.into_inner().to_string(),
        app::users::PatchUser {
            display_name: b.display_name,
            roles: b.roles.as_deref().map(role_codes),
            disabled: b.disabled,
            password: b.password,
            department_id: b.department_id.map(|d| d.map(|d| d.to_string())),
            email: b.email,
            if_match: if_match.0,
        },
        ctx.0,
    )
    .await?;
    let dto = UserDto::from(row);
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", dto.version)))
        .json(dto))
}
