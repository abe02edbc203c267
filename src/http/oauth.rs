//! The OAuth 2.0 side of the token and logout endpoints: their bodies (JSON, or a form as
//! RFC 6749 sends it), client authentication by HTTP Basic, and their errors in the RFC 6749
//! §5.2 shape with gongkai's problem fields beside.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::problem::{ApiError, Problem};
use crate::app::AppError;
use crate::domain::text::Language;

/// The `error` of an OAuth error answer: RFC 6749 §5.2, and `temporarily_unavailable` /
/// `server_error` (§4.1.2.1) for throttling and faults of ours. `invalid_request`: a malformed
/// body, a missing parameter, client credentials sent two ways; `invalid_client` (401): unknown
/// client, wrong secret, disabled client; `invalid_grant`: wrong user name or password, disabled
/// user, a refresh token that is invalid, expired, used up or revoked; `unauthorized_client`:
/// client credentials with a users' grant; `unsupported_grant_type`; `invalid_scope`: a scope
/// the client does not have; `temporarily_unavailable`: too many failed attempts (429) or a
/// busy database (503), see `Retry-After`; `server_error`: an internal error (500).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// The body is malformed or lacks a parameter, or client credentials came two ways.
    InvalidRequest,
    /// Unknown client, wrong secret or disabled client (401).
    InvalidClient,
    /// Wrong user name or password, disabled user; a refresh token that is invalid, expired,
    /// used up or revoked.
    InvalidGrant,
    /// Client credentials sent with a grant other than `client_credentials`.
    UnauthorizedClient,
    /// A `grant_type` other than `password`, `refresh_token` and `client_credentials`.
    UnsupportedGrantType,
    /// A `scope` the client does not have.
    InvalidScope,
    /// Too many failed attempts (429), or the database is busy (503): see `Retry-After`.
    TemporarilyUnavailable,
    /// An internal error (500).
    ServerError,
}

/// An error of `POST /auth/token` and `POST /auth/logout`: RFC 6749 §5.2 (`error`,
/// `error_description`) as OAuth2 libraries read it, sent as `application/json`, with the
/// fields of a gongkai problem beside (`code` is the stable code to branch on, as everywhere).
/// `error_description` is English (RFC 6749 allows ASCII only); the problem fields are Chinese.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    /// What went wrong, in English: RFC 6749 §5.2 allows ASCII only here; `title` and `detail`
    /// beside it are Chinese.
    pub error_description: String,
    #[serde(flatten)]
    pub problem: Problem,
}

/// Marks an error answer whose body is deliberately not problem+json, so that the last
/// guarantee of the middleware (`middleware::problem_response`) leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct OAuthErrorBody;

/// The RFC 6749 error and the HTTP status for a gongkai problem on these endpoints.
pub fn oauth_error(code: &str, status: StatusCode) -> (StatusCode, OAuthErrorCode) {
    use OAuthErrorCode as E;
    match code {
        "invalid_credentials" | "invalid_grant" => (StatusCode::BAD_REQUEST, E::InvalidGrant),
        "invalid_client" => (StatusCode::UNAUTHORIZED, E::InvalidClient),
        "unauthorized_client" => (StatusCode::BAD_REQUEST, E::UnauthorizedClient),
        "unsupported_grant_type" => (StatusCode::BAD_REQUEST, E::UnsupportedGrantType),
        "invalid_scope" => (StatusCode::BAD_REQUEST, E::InvalidScope),
        "too_many_login_attempts" | "too_many_requests" => {
            (StatusCode::TOO_MANY_REQUESTS, E::TemporarilyUnavailable)
        }
        "service_unavailable" => (StatusCode::SERVICE_UNAVAILABLE, E::TemporarilyUnavailable),
        // What HTTP says of the body itself keeps its status.
        "payload_too_large" | "unsupported_media_type" => (status, E::InvalidRequest),
        _ if status.is_server_error() => (status, E::ServerError),
        // Everything else the client sent wrong: RFC 6749 answers it 400 `invalid_request`.
        _ => (StatusCode::BAD_REQUEST, E::InvalidRequest),
    }
}

/// The error of a token or logout request, answered in the RFC 6749 shape.
#[derive(Debug)]
pub struct TokenError(pub ApiError);

impl From<ApiError> for TokenError {
    fn from(e: ApiError) -> Self {
        TokenError(e)
    }
}

impl From<AppError> for TokenError {
    fn from(e: AppError) -> Self {
        TokenError(ApiError::from(e))
    }
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl TokenError {
    /// The problem with the status this endpoint answers, its headers (a 401 challenges with
    /// `Basic`, the scheme clients authenticate with here), and the RFC 6749 error.
    fn rendered(&self) -> (ApiError, OAuthErrorCode) {
        let e = &self.0;
        let (status, error) = oauth_error(e.code, e.status);
        let mut out = ApiError::new(status, e.code, e.detail.clone());
        out.errors = e.errors.clone();
        for (name, value) in &e.headers {
            if name != header::WWW_AUTHENTICATE {
                out = out.with_header(name.clone(), value.clone());
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            out = out.with_header(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"gongkai\""),
            );
        }
        (out, error)
    }

    /// The body as sent.
    pub fn body(&self) -> OAuthError {
        let (api, error) = self.rendered();
        OAuthError {
            error,
            // RFC 6749 §5.2: `error_description` is ASCII, so it is the English; the problem
            // fields beside it carry the Chinese.
            error_description: api.detail.en().to_string(),
            problem: api.problem(Language::Chinese),
        }
    }
}

impl ResponseError for TokenError {
    fn status_code(&self) -> StatusCode {
        self.rendered().0.status
    }

    fn error_response(&self) -> HttpResponse {
        let (api, _) = self.rendered();
        let mut res = HttpResponse::build(api.status);
        res.content_type("application/json")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        for (name, value) in &api.headers {
            res.insert_header((name.clone(), value.clone()));
        }
        let body = serde_json::to_string(&self.body()).unwrap_or_else(|_| {
            "{\"error\":\"server_error\",\"error_description\":\"内部错误（internal error）\",\"code\":\"internal_error\"}".to_string()
        });
        let mut res = res.body(body);
        res.extensions_mut().insert(OAuthErrorBody);
        res
    }
}

/// A body of the token or logout endpoint: JSON, or `application/x-www-form-urlencoded` as
/// RFC 6749 sends it (what standard OAuth2 libraries do). Its failures are OAuth errors.
pub struct OAuthBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for OAuthBody<T> {
    type Error = TokenError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, TokenError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::HttpMessage;
        let form = matches!(req.mime_type(), Ok(Some(m)) if m.essence_str() == "application/x-www-form-urlencoded");
        if !form {
            let json = ApiJson::<T>::from_request(req, payload);
            return Box::pin(async move {
                json.await
                    .map(|j| OAuthBody(j.0))
                    .map_err(|e| TokenError(e.for_form_too()))
            });
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
                    crate::text!("请求体无法读取：{e}", "the body could not be read: {e}"),
                )
            })?;
            let bytes = super::extract::read_body_limited(&http, payload, limit).await?;
            serde_urlencoded::from_bytes::<T>(&bytes)
                .map(OAuthBody)
                .map_err(|e| {
                    TokenError(ApiError::bad_request(
                        "invalid_body",
                        crate::text!(
                            "表单格式有误：{e}",
                            "the form is not a request of this endpoint: {e}"
                        ),
                    ))
                })
        })
    }
}

trait FormToo {
    fn for_form_too(self) -> Self;
}

impl FormToo for ApiError {
    /// The JSON extractor's 415 names JSON only; these endpoints take a form as well.
    fn for_form_too(mut self) -> Self {
        if self.code == "unsupported_media_type" {
            self.detail = crate::text!(
                "请以 application/x-www-form-urlencoded 或 application/json 发送",
                "send the body as application/x-www-form-urlencoded or application/json"
            );
        }
        self
    }
}

/// Client credentials sent as `Authorization: Basic` (RFC 6749 §2.3.1: the id and secret are
/// form-encoded, joined by a colon, in base64). None without that header.
pub fn basic_credentials(http: &HttpRequest) -> Result<Option<(String, String)>, ApiError> {
    use base64::Engine;
    let Some(value) = http.headers().get(header::AUTHORIZATION) else {
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
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            crate::text!(
                "客户端凭据（HTTP Basic）格式有误",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_endpoint_code_maps_to_an_rfc_6749_error() {
        use OAuthErrorCode as E;
        let bad = StatusCode::BAD_REQUEST;
        let cases = [
            (
                "invalid_credentials",
                StatusCode::UNAUTHORIZED,
                400,
                E::InvalidGrant,
            ),
            ("invalid_grant", bad, 400, E::InvalidGrant),
            (
                "invalid_client",
                StatusCode::UNAUTHORIZED,
                401,
                E::InvalidClient,
            ),
            ("unauthorized_client", bad, 400, E::UnauthorizedClient),
            ("unsupported_grant_type", bad, 400, E::UnsupportedGrantType),
            ("invalid_scope", bad, 400, E::InvalidScope),
            (
                "validation_failed",
                StatusCode::UNPROCESSABLE_ENTITY,
                400,
                E::InvalidRequest,
            ),
            ("invalid_json", bad, 400, E::InvalidRequest),
            ("invalid_request", bad, 400, E::InvalidRequest),
            (
                "unsupported_media_type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                415,
                E::InvalidRequest,
            ),
            (
                "payload_too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                413,
                E::InvalidRequest,
            ),
            (
                "too_many_login_attempts",
                StatusCode::TOO_MANY_REQUESTS,
                429,
                E::TemporarilyUnavailable,
            ),
            (
                "service_unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                503,
                E::TemporarilyUnavailable,
            ),
            (
                "internal_error",
                StatusCode::INTERNAL_SERVER_ERROR,
                500,
                E::ServerError,
            ),
        ];
        for (code, given, status, error) in cases {
            assert_eq!(
                oauth_error(code, given),
                (StatusCode::from_u16(status).unwrap_or_default(), error),
                "{code}"
            );
        }
    }

    #[test]
    fn the_description_is_the_ascii_english_and_the_problem_fields_the_chinese() {
        let e = TokenError(ApiError::bad_request(
            "invalid_grant",
            crate::text!("刷新令牌无效", "the refresh token is invalid"),
        ));
        let body = e.body();
        assert_eq!(body.error_description, "the refresh token is invalid");
        assert!(body.error_description.is_ascii());
        assert_eq!(body.problem.detail, "刷新令牌无效");
    }

    #[test]
    fn a_401_challenges_with_basic_and_the_body_keeps_the_problem_fields() {
        let e = TokenError(ApiError::unauthorized(
            "invalid_client",
            crate::text!("客户端不存在", "unknown"),
        ));
        let res = e.error_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok()),
            Some("Basic realm=\"gongkai\"")
        );
        assert!(res.extensions().get::<OAuthErrorBody>().is_some());
        let body = serde_json::to_value(e.body()).unwrap_or_default();
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["code"], "invalid_client");
        assert_eq!(body["status"], 401);
        assert_eq!(body["type"], "urn:gongkai:problem:invalid_client");
    }
}
