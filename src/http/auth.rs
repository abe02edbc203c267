//! Tokens (RFC 6749 on `POST /auth/token`), logout, and the current user.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::agencies::AgencyDto;
use super::dto::RoleDto;
use super::extract::{Authenticated, Ctx};
use super::oauth::{OAuthBody, OAuthError, TokenError, basic_credentials};
use super::problem::ApiError;
use super::users::UserDto;
use crate::app::{AppError, AppState};
use crate::domain::access::Principal;
use crate::domain::validation::FieldError;

/// The grants of the token endpoint.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// A user's name and password (RFC 6749 §4.3).
    Password,
    /// A refresh token of an earlier password or refresh grant (RFC 6749 §6).
    RefreshToken,
    /// A system client's id and secret (RFC 6749 §4.4).
    ClientCredentials,
}

/// A token request, as JSON or as an `application/x-www-form-urlencoded` form (RFC 6749).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password` (users), `refresh_token` (users, with the refresh token of an earlier answer)
    /// or `client_credentials` (system clients). Another value answers 400
    /// `unsupported_grant_type`.
    #[schema(value_type = GrantType)]
    pub grant_type: String,
    /// The user name (password grant).
    pub username: Option<String>,
    /// The password (password grant).
    pub password: Option<String>,
    /// The refresh token (refresh_token grant).
    pub refresh_token: Option<String>,
    /// The client id (client credentials grant; or by HTTP Basic). A public client's id sent
    /// with the other grants is ignored.
    pub client_id: Option<String>,
    /// The client secret (client credentials grant; or by HTTP Basic). Refused with the other
    /// grants (400 `unauthorized_client`).
    pub client_secret: Option<String>,
    /// Client credentials grant: part of the client's scopes, space-separated (RFC 6749 §3.3);
    /// all of them when absent. Ignored by the other grants.
    pub scope: Option<String>,
}

/// An access token (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// Password and refresh grants: the refresh token for the next access token
    /// (`grant_type=refresh_token`). It works once; the answer to it carries the next one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Client credentials grant: the scopes of the token, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Log in (users), refresh (users) or get a client token (system clients).
///
/// Standard OAuth 2.0 (RFC 6749): the body is a form or JSON; a client authenticates by HTTP
/// Basic or in the body (not both). Errors are RFC 6749 §5.2 `application/json`
/// (`error`, `error_description`) with the problem fields beside, `code` among them.
///
/// Password grant: an unknown user, a wrong password and a disabled user all answer the same
/// 400 `invalid_grant` (`code` `invalid_credentials`). After `auth.login_max_failures` failures
/// for one user name, or from one address, within the window, attempts answer 429 until the
/// window ends, whatever the password. The answer carries a `refresh_token`.
///
/// Refresh token grant: a refresh token works once and the answer carries the next one. A
/// used-up one presented again ends the whole login (every token rotated from it) and, like
/// an unknown, expired or revoked one, answers 400 `invalid_grant` (`code` `invalid_grant`).
///
/// Client credentials grant: the token is limited to the client's scopes (or the `scope` asked
/// for) and its agency's subtree; no refresh token. An unknown client, a wrong secret and a
/// disabled client all answer 401 `invalid_client`, and failures are throttled per client id
/// and address the same way.
#[utoipa::path(tag = "auth", request_body(content(
        (TokenRequest = "application/json"),
        (TokenRequest = "application/x-www-form-urlencoded"),
    )), responses(
    (status = 200, description = "A token", body = TokenResponse,
        headers(("Cache-Control" = String, description = "`no-store`"))),
    (status = 400, description = "`invalid_request` (a malformed body, a missing parameter: `code` `invalid_body`, `invalid_json`, `validation_failed`, `invalid_request`); `invalid_grant` (`invalid_credentials`: wrong user name or password, or a disabled user; `invalid_grant`: a refresh token that is invalid, expired, used up or revoked); `unauthorized_client` (client credentials with another grant); `unsupported_grant_type`; `invalid_scope`", body = OAuthError, content_type = "application/json"),
    (status = 401, description = "`invalid_client`: unknown client, wrong secret, disabled client, malformed Basic credentials", body = OAuthError, content_type = "application/json",
        headers(("WWW-Authenticate" = String, description = "`Basic realm=\"gongkai\"`"))),
    (status = 413, description = "`invalid_request` (`payload_too_large`)", body = OAuthError, content_type = "application/json"),
    (status = 415, description = "`invalid_request` (`unsupported_media_type`): neither a form nor JSON", body = OAuthError, content_type = "application/json"),
    (status = 429, description = "`temporarily_unavailable` (`too_many_login_attempts`): too many failed attempts for this user name or client, or from this address", body = OAuthError, content_type = "application/json",
        headers(("Retry-After" = u64, description = "Seconds until the attempts are counted afresh"))),
    (status = 500, description = "`server_error` (`internal_error`)", body = OAuthError, content_type = "application/json"),
    (status = 503, description = "`temporarily_unavailable` (`service_unavailable`): retry after `Retry-After`", body = OAuthError, content_type = "application/json",
        headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
#[post("/auth/token")]
pub async fn issue_token(
    state: web::Data<AppState>,
    http: HttpRequest,
    ctx: Ctx,
    body: OAuthBody<TokenRequest>,
) -> Result<HttpResponse, TokenError> {
    let mut req = body.0;
    if let Some((id, secret)) = basic_credentials(&http)? {
        if req.client_id.is_some() || req.client_secret.is_some() {
            return Err(ApiError::bad_request(
                "invalid_request",
                crate::text!(
                    "客户端凭据只能用一种方式发送：HTTP Basic 或请求体",
                    "send the client credentials one way: HTTP Basic or the body"
                ),
            )
            .into());
        }
        req.client_id = Some(id);
        req.client_secret = Some(secret);
    }
    let addr = super::extract::client_addr(&http, &state.settings.server);
    let t = match req.grant_type.as_str() {
        "password" => {
            no_client_secret(&req)?;
            let (Some(username), Some(password)) = (req.username, req.password) else {
                return Err(required(
                    "username",
                    crate::text!(
                        "使用 password 授权时须给出 username 和 password",
                        "username and password are required for grant_type password"
                    ),
                ));
            };
            crate::app::auth::login(&state, username, password, addr, ctx.0).await?
        }
        "refresh_token" => {
            no_client_secret(&req)?;
            let Some(token) = req.refresh_token.filter(|t| !t.trim().is_empty()) else {
                return Err(required(
                    "refresh_token",
                    crate::text!(
                        "使用 refresh_token 授权时须给出 refresh_token",
                        "refresh_token is required for grant_type refresh_token"
                    ),
                ));
            };
            crate::app::refresh_tokens::refresh(&state, token, ctx.0).await?
        }
        "client_credentials" => {
            let (Some(client_id), Some(secret)) = (req.client_id, req.client_secret) else {
                return Err(required(
                    "client_id",
                    crate::text!(
                        "使用 client_credentials 授权时须给出 client_id 和 client_secret",
                        "client_id and client_secret are required for grant_type client_credentials"
                    ),
                ));
            };
            crate::app::clients::token(&state, client_id, secret, req.scope, addr, ctx.0).await?
        }
        other => {
            return Err(ApiError::bad_request(
                "unsupported_grant_type",
                crate::text!(
                    "不支持的授权类型 {other}；可用 password、refresh_token、client_credentials",
                    "grant_type {other} is not supported; use password, refresh_token or client_credentials"
                ),
            )
            .into());
        }
    };
    Ok(token_response(t))
}

fn required(field: &str, message: crate::domain::text::Text) -> TokenError {
    AppError::Validation(vec![FieldError::new(field, "required", message)]).into()
}

/// Client secrets are for the client credentials grant; users' grants take none (a public
/// client's bare `client_id` is ignored).
fn no_client_secret(req: &TokenRequest) -> Result<(), TokenError> {
    if req.client_secret.is_some() {
        return Err(ApiError::bad_request(
            "unauthorized_client",
            crate::text!(
                "系统客户端只能使用 client_credentials 授权",
                "client credentials go with grant_type client_credentials only"
            ),
        )
        .into());
    }
    Ok(())
}

/// A token answer; never cached (RFC 6749 §5.1).
fn token_response(t: crate::app::auth::IssuedToken) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(TokenResponse {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            refresh_token: t.refresh_token,
            scope: t.scope,
        })
}

/// A logout: the refresh token of the login to end.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// The refresh token last received for the login.
    pub refresh_token: Option<String>,
    /// The same, under its RFC 7009 name (what OAuth2 libraries' token revocation sends); give
    /// one of the two. `token_type_hint` may be sent and is ignored.
    pub token: Option<String>,
}

/// Log out: end the login a refresh token belongs to.
///
/// The refresh token, every token rotated from the same login and the login itself stop
/// working at once. No access token is needed (the refresh token proves the login), so a
/// client whose access token has expired can still log out; the access tokens already issued
/// stay valid until they expire (`expires_in`, 15 minutes by default) — drop them. An unknown,
/// expired or already revoked token answers 204 as well (RFC 7009 §2.2). Also usable as an
/// RFC 7009 revocation endpoint (`token=…`, as a form).
#[utoipa::path(tag = "auth", request_body(content(
        (LogoutRequest = "application/json"),
        (LogoutRequest = "application/x-www-form-urlencoded"),
    )), responses(
    (status = 204, description = "Logged out"),
    (status = 400, description = "`invalid_request`: a malformed body, or no token (`invalid_body`, `invalid_json`, `validation_failed`)", body = OAuthError, content_type = "application/json"),
    (status = 413, description = "`invalid_request` (`payload_too_large`)", body = OAuthError, content_type = "application/json"),
    (status = 415, description = "`invalid_request` (`unsupported_media_type`): neither a form nor JSON", body = OAuthError, content_type = "application/json"),
    (status = 500, description = "`server_error` (`internal_error`)", body = OAuthError, content_type = "application/json"),
    (status = 503, description = "`temporarily_unavailable` (`service_unavailable`): retry after `Retry-After`", body = OAuthError, content_type = "application/json",
        headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    ctx: Ctx,
    body: OAuthBody<LogoutRequest>,
) -> Result<HttpResponse, TokenError> {
    let req = body.0;
    let token = match (req.refresh_token, req.token) {
        (Some(t), None) | (None, Some(t)) if !t.trim().is_empty() => t,
        (Some(_), Some(_)) => {
            return Err(AppError::Validation(vec![FieldError::new(
                "refresh_token",
                "conflicting_fields",
                crate::text!(
                    "只能给出 refresh_token 与 token 之一",
                    "give refresh_token or token, not both"
                ),
            )])
            .into());
        }
        _ => {
            return Err(required(
                "refresh_token",
                crate::text!(
                    "须给出要结束的登录的 refresh_token",
                    "the refresh_token of the login to end is required"
                ),
            ));
        }
    };
    crate::app::refresh_tokens::logout(&state, token, ctx.0).await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

/// Who the caller is: a user of this service, a person signed in at a trusted identity
/// provider (`federated`), or a system client.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Federated,
    Client,
}

/// The caller. For a user, its record (as in the users list); for a federated person or a
/// client, what the token says (they have no user record: no `version`, no timestamps).
#[derive(Debug, Serialize, ToSchema)]
pub struct MeUserDto {
    /// A user's UUID; `<issuer>#<subject>` for a federated person; `client:<id>` for a client.
    pub id: String,
    pub agency_id: Uuid,
    /// Login name; for a federated person the name claim (or the subject).
    pub username: String,
    pub display_name: String,
    pub roles: Vec<RoleDto>,
    pub disabled: bool,
    /// Users only: send as `If-Match` when changing the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The current caller and its agency.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeDto {
    pub kind: PrincipalKind,
    /// Federated persons only: the identity provider (`iss`) that vouched for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Clients only: the scopes of the token.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    pub user: MeUserDto,
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
    let (kind, issuer, scopes) = match &v.actor.principal {
        Principal::User => (PrincipalKind::User, None, Vec::new()),
        Principal::Federated { issuer } => {
            (PrincipalKind::Federated, Some(issuer.clone()), Vec::new())
        }
        Principal::Client { scopes } => (
            PrincipalKind::Client,
            None,
            scopes.codes().into_iter().map(str::to_string).collect(),
        ),
    };
    let user = match v.user {
        Some(row) => {
            let u = UserDto::from(row);
            MeUserDto {
                id: u.id.to_string(),
                agency_id: u.agency_id,
                username: u.username,
                display_name: u.display_name,
                roles: u.roles,
                disabled: u.disabled,
                version: Some(u.version),
                created_at: Some(u.created_at),
                updated_at: Some(u.updated_at),
            }
        }
        None => MeUserDto {
            id: v.actor.user_id.clone(),
            agency_id: Uuid::parse_str(&v.actor.agency_id).unwrap_or_default(),
            username: v.actor.username.clone(),
            display_name: v.actor.username.clone(),
            roles: v.actor.roles.iter().map(RoleDto::from).collect(),
            disabled: false,
            version: None,
            created_at: None,
            updated_at: None,
        },
    };
    Ok(web::Json(MeDto {
        kind,
        issuer,
        scopes,
        user,
        agency: AgencyDto::from(v.agency),
    }))
}
