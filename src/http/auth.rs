//! Tokens and the current user.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::agencies::AgencyDto;
use super::dto::RoleDto;
use super::extract::{ApiJson, Authenticated, Ctx};
use super::problem::ApiError;
use super::users::UserDto;
use crate::app::AppState;
use crate::domain::access::Principal;

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
/// 401. After `auth.login_max_failures` failures for one user name, or from one address, within
/// the window, attempts answer 429 until the window ends, whatever the password. Client
/// credentials grant: the token is limited to the client's scopes and its agency's subtree; an
/// unknown client, a wrong secret and a disabled client all answer 401 `invalid_client`, and
/// failures are throttled per client id and address the same way.
#[utoipa::path(tag = "auth", request_body(content(
        (TokenRequest = "application/json"),
        (TokenRequest = "application/x-www-form-urlencoded"),
    )), responses(
    (status = 200, description = "Logged in", body = TokenResponse),
    (status = 400, description = "Unsupported grant type (`unsupported_grant_type`)", body = super::problem::Problem, content_type = "application/problem+json"),
    (status = 401, description = "Wrong user name or password (`invalid_credentials`), wrong client or secret (`invalid_client`)", body = super::problem::Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many failed attempts for this user name or client, or from this address (`too_many_login_attempts`); `Retry-After` says when to try again", body = super::problem::Problem, content_type = "application/problem+json"),
))]
#[post("/auth/token")]
pub async fn issue_token(
    state: web::Data<AppState>,
    http: HttpRequest,
    ctx: Ctx,
    body: TokenBody,
) -> Result<HttpResponse, ApiError> {
    let mut req = body.0;
    if let Some((id, secret)) = basic_credentials(&http)? {
        if req.client_id.is_some() || req.client_secret.is_some() {
            return Err(ApiError::bad_request(
                "invalid_request",
                crate::text!(
                    "客户端凭据只能用一种方式发送：HTTP Basic 或请求体",
                    "send the client credentials one way: HTTP Basic or the body"
                ),
            ));
        }
        req.client_id = Some(id);
        req.client_secret = Some(secret);
    }
    match req.grant_type.as_str() {
        "password" => {
            let (Some(username), Some(password)) = (req.username, req.password) else {
                return Err(ApiError::from(crate::app::AppError::Validation(vec![
                    crate::domain::validation::FieldError::new(
                        "username",
                        "required",
                        crate::text!(
                            "grant_type 为 password 时须提供 username 和 password",
                            "username and password are required for grant_type password"
                        ),
                    ),
                ])));
            };
            let client =
                super::extract::client_addr(&http, state.settings.server.trust_forwarded_for);
            let t = crate::app::auth::login(&state, username, password, client, ctx.0).await?;
            Ok(token_response(t))
        }
        "client_credentials" => {
            let (Some(client_id), Some(secret)) = (req.client_id, req.client_secret) else {
                return Err(ApiError::from(crate::app::AppError::Validation(vec![
                    crate::domain::validation::FieldError::new(
                        "client_id",
                        "required",
                        crate::text!(
                            "grant_type 为 client_credentials 时须提供 client_id 和 client_secret",
                            "client_id and client_secret are required for grant_type client_credentials"
                        ),
                    ),
                ])));
            };
            let addr =
                super::extract::client_addr(&http, state.settings.server.trust_forwarded_for);
            let t = crate::app::clients::token(&state, client_id, secret, addr, ctx.0).await?;
            Ok(token_response(t))
        }
        other => Err(ApiError::bad_request(
            "unsupported_grant_type",
            crate::text!(
                "不支持 grant_type {other:?}；请用 \"password\" 或 \"client_credentials\"",
                "grant_type {other:?} is not supported; use \"password\" or \"client_credentials\""
            ),
        )),
    }
}

/// The token request's body: JSON, or `application/x-www-form-urlencoded` as RFC 6749 sends it
/// (what standard OAuth2 libraries do).
pub struct TokenBody(pub TokenRequest);

impl actix_web::FromRequest for TokenBody {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::HttpMessage;
        let form = matches!(req.mime_type(), Ok(Some(m)) if m.essence_str() == "application/x-www-form-urlencoded");
        if !form {
            let json = ApiJson::<TokenRequest>::from_request(req, payload);
            return Box::pin(async move { json.await.map(|j| TokenBody(j.0)) });
        }
        let limit = req
            .app_data::<super::extract::BodyLimit>()
            .map_or(1024 * 1024, |l| l.0);
        let http = req.clone();
        let body = web::Payload::from_request(req, payload);
        Box::pin(async move {
            let payload = body.await.map_err(|e| {
                ApiError::bad_request(
                    "invalid_body",
                    crate::text!("无法读取请求体：{e}", "the body could not be read: {e}"),
                )
            })?;
            let bytes = super::extract::read_body_limited(&http, payload, limit).await?;
            serde_urlencoded::from_bytes::<TokenRequest>(&bytes)
                .map(TokenBody)
                .map_err(|e| {
                    ApiError::bad_request(
                        "invalid_body",
                        crate::text!(
                            "表单格式有误，不是令牌请求",
                            "the form is not a token request: {e}"
                        ),
                    )
                })
        })
    }
}

/// Client credentials sent as `Authorization: Basic` (RFC 6749 §2.3.1: the id and secret are
/// form-encoded, joined by a colon, in base64). None without that header.
fn basic_credentials(http: &HttpRequest) -> Result<Option<(String, String)>, ApiError> {
    use base64::Engine;
    let Some(value) = http.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Some(encoded) = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
            .map(str::trim)
    }) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "invalid_client",
            crate::text!(
                "HTTP Basic 客户端凭据格式有误",
                "malformed Basic client credentials"
            ),
        )
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let unform = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unform(id), unform(secret))))
}

/// A token answer; never cached.
fn token_response(t: crate::app::auth::IssuedToken) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenResponse {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
        })
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
