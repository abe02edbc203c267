//! Tokens and the current user.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::agencies::AgencyDto;
use super::extract::{ApiJson, Authenticated, Ctx};
use super::problem::ApiError;
use super::users::UserDto;
use crate::app::AppState;

/// A token request: `grant_type` `password` (users) or `client_credentials` (system clients).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password` or `client_credentials`.
    pub grant_type: String,
    /// The user name (password grant).
    pub username: Option<String>,
    /// The password (password grant).
    pub password: Option<String>,
    /// The client id (client credentials grant).
    pub client_id: Option<String>,
    /// The client secret (client credentials grant).
    pub client_secret: Option<String>,
}

/// An access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Log in (users) or get a client token (system clients).
///
/// Password grant: an unknown user, a wrong password and a disabled user all answer the same
/// 401. Client credentials grant: the token is limited to the client's scopes and its agency's
/// subtree; an unknown client, a wrong secret and a disabled client all answer 401
/// `invalid_client`.
#[utoipa::path(tag = "auth", request_body = TokenRequest, responses(
    (status = 200, description = "Logged in", body = TokenResponse),
    (status = 400, description = "Unsupported grant type (`unsupported_grant_type`)", body = super::problem::Problem, content_type = "application/problem+json"),
    (status = 401, description = "Wrong user name or password (`invalid_credentials`), wrong client or secret (`invalid_client`)", body = super::problem::Problem, content_type = "application/problem+json"),
))]
#[post("/auth/token")]
pub async fn issue_token(
    state: web::Data<AppState>,
    ctx: Ctx,
    body: ApiJson<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.0;
    match req.grant_type.as_str() {
        "password" => {
            let (Some(username), Some(password)) = (req.username, req.password) else {
                return Err(ApiError::from(crate::app::AppError::Validation(vec![
                    crate::domain::validation::FieldError::new(
                        "username",
                        "required",
                        "username and password are required for grant_type password",
                    ),
                ])));
            };
            let t = crate::app::auth::login(&state, username, password, ctx.0).await?;
            Ok(HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(TokenResponse {
                    access_token: t.access_token,
                    token_type: "Bearer",
                    expires_in: t.expires_in,
                }))
        }
        "client_credentials" => {
            let (Some(client_id), Some(secret)) = (req.client_id, req.client_secret) else {
                return Err(ApiError::from(crate::app::AppError::Validation(vec![
                    crate::domain::validation::FieldError::new(
                        "client_id",
                        "required",
                        "client_id and client_secret are required for grant_type client_credentials",
                    ),
                ])));
            };
            let t = crate::app::clients::token(&state, client_id, secret, ctx.0).await?;
            Ok(HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(TokenResponse {
                    access_token: t.access_token,
                    token_type: "Bearer",
                    expires_in: t.expires_in,
                }))
        }
        other => Err(ApiError::bad_request(
            "unsupported_grant_type",
            format!(
                "grant_type {other:?} is not supported; use \"password\" or \"client_credentials\""
            ),
        )),
    }
}

/// The current user and its agency.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeDto {
    pub user: UserDto,
    pub agency: AgencyDto,
}

/// Who am I.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses(
    (status = 200, description = "The caller", body = MeDto),
))]
#[get("/me")]
pub async fn me(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<web::Json<MeDto>, ApiError> {
    let v = crate::app::users::me(&state, actor).await?;
    Ok(web::Json(MeDto {
        user: UserDto::from(v.user),
        agency: AgencyDto::from(v.agency),
    }))
}
