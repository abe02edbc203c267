//! Cross-cutting request handling: request id, access log (identity numbers masked), panic
//! containment, a last guarantee that every error response is problem+json, and the security
//! headers of every response.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};

use futures_util::FutureExt;
use tracing::Instrument;

use super::language::{self, LanguagePolicy};
use super::problem::{ApiError, PROBLEM_JSON};
use crate::domain::identity::mask_identity_numbers;
use crate::domain::text::{Language, Text};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// `Server-Timing` (W3C): the request's statement count, when `server.server_timing` is on.
pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// The id of the current request: the caller's `X-Request-Id` when it is sane, else a new UUID.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(&REQUEST_ID_HEADER)?.to_str().ok()?.trim();
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    ok.then(|| v.to_string())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    // Paths and queries may carry identity numbers (a look-up by applicant): logged masked.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %mask_identity_numbers(req.path()),
        query = %mask_identity_numbers(req.query_string()),
    );
    let started = Instant::now();
    // Read now: the request is consumed by the inner service (and must not be cloned before,
    // or routing cannot fill in its match info).
    let policy = req
        .app_data::<SecurityPolicy>()
        .copied()
        .unwrap_or_default();
    let docs = is_docs(req.path());
    let authenticated = req.headers().contains_key(header::AUTHORIZATION);
    // The language of any problem answered: Accept-Language, else the deployment's default.
    let lang = language::of_request(
        req.headers(),
        req.app_data::<LanguagePolicy>()
            .copied()
            .unwrap_or_default(),
    );
    // A request without a body runs all its database steps on one pooled connection; one
    // with a body gives it back between steps, so a slow upload holds none (see
    // `app::request_scope`).
    let bodiless = !req.headers().contains_key(header::TRANSFER_ENCODING)
        && req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0");
    let (outcome, statements) = crate::app::request_scope(
        bodiless,
        std::panic::AssertUnwindSafe(next.call(req))
            .catch_unwind()
            .instrument(span.clone()),
    )
    .await;
    let failure = match outcome {
        Ok(Ok(res)) => Ok(language::localize(res.map_into_boxed_body(), lang)),
        // Handlers turn their errors into responses; an error here came from a middleware.
        Ok(Err(err)) => Err(match err.as_error::<ApiError>() {
            Some(api) => api.response(lang),
            None => err.error_response(),
        }),
        Err(_) => {
            span.in_scope(|| tracing::error!("handler panicked"));
            Err(ApiError::internal().response(lang))
        }
    };
    let res = match failure {
        Ok(res) => res,
        Err(response) => {
            // There is no request left to attach a response to: finish the response here
            // (problem+json, request id, security headers) and hand it to actix as the error's.
            let mut response = problem_response(response, lang);
            if let Ok(v) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(REQUEST_ID_HEADER, v);
            }
            apply_security_headers(response.headers_mut(), docs, authenticated, policy);
            let status = response.status().as_u16();
            span.in_scope(|| tracing::error!(status, "request failed outside its handler"));
            return Err(
                actix_web::error::InternalError::from_response("request failed", response).into(),
            );
        }
    };
    let mut res = ensure_problem(res, lang);
    strip_orphan_cors_headers(res.headers_mut());
    apply_security_headers(res.headers_mut(), docs, authenticated, policy);
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    if policy.server_timing
        && let Ok(v) = HeaderValue::from_str(&format!("db;desc=\"{statements} statements\""))
    {
        res.headers_mut().insert(SERVER_TIMING, v);
    }
    let status = res.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        // (Causes of 5xx are logged where they arise, masked there.)
        if status >= 500 {
            tracing::error!(status, latency_ms, statements, "request failed");
        } else {
            tracing::info!(status, latency_ms, statements, "request completed");
        }
    });
    Ok(res)
}

/// Which security headers to send, from settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecurityPolicy {
    /// Send `Strict-Transport-Security` (`server.hsts`).
    pub hsts: bool,
    /// Send `Server-Timing` with the request's statement count (`server.server_timing`).
    pub server_timing: bool,
}

/// For the API: nothing may be loaded, nothing may frame it.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// For the embedded Swagger UI: its own scripts (no inline script: checked rendering in headless
/// Chromium), its own styles plus the inline styles it sets, its icons as data: URIs, and
/// fetching `/openapi.json`.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// actix-cors exposes headers even when it did not allow the origin; an unlisted origin gets
/// no CORS headers at all.
fn strip_orphan_cors_headers(h: &mut header::HeaderMap) {
    if h.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        return;
    }
    let orphans: Vec<header::HeaderName> = h
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in orphans {
        h.remove(name);
    }
}

fn is_docs(path: &str) -> bool {
    path == "/docs" || path.starts_with("/docs/")
}

/// Security headers on every response (API, errors, docs); `Cache-Control: no-store` on
/// answers to authenticated requests unless the handler chose its own caching.
fn apply_security_headers(
    h: &mut header::HeaderMap,
    docs: bool,
    authenticated: bool,
    policy: SecurityPolicy,
) {
    let csp = if docs { DOCS_CSP } else { API_CSP };
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A page a handler renders (a notice's print preview) brings its own policy for its inline
    // style; every other answer gets the API's.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    if policy.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if authenticated && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Rewrites an error response that is not problem+json (an actix default) into one.
fn ensure_problem(res: ServiceResponse<BoxBody>, lang: Language) -> ServiceResponse<BoxBody> {
    let (req, response) = res.into_parts();
    ServiceResponse::new(req, problem_response(response, lang))
}

/// An error response as problem+json: kept when it already is (or is an OAuth error of the
/// token endpoints), rebuilt otherwise (keeping `Allow` and the CORS headers).
fn problem_response(res: HttpResponse, lang: Language) -> HttpResponse {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    // The token and logout endpoints answer RFC 6749 errors (`oauth::TokenError`) on purpose.
    if is_problem
        || res
            .extensions()
            .get::<super::oauth::OAuthErrorBody>()
            .is_some()
    {
        return res;
    }
    let code = match status.as_u16() {
        400 => "bad_request",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        411 => "length_required",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        431 => "request_header_fields_too_large",
        503 => "service_unavailable",
        s if s >= 500 => "internal_error",
        _ => "bad_request",
    };
    let detail = if status.is_server_error() {
        ApiError::internal().detail
    } else {
        // The meaning of the code is the Chinese (the title says it too).
        Text::english(status.canonical_reason().unwrap_or("error"))
    };
    let mut err = ApiError::new(status, code, detail);
    for (name, value) in res.headers() {
        if name == header::ALLOW
            || name.as_str().starts_with("access-control-")
            || name == header::VARY
        {
            err = err.with_header(name.clone(), value.clone());
        }
    }
    err.response(lang)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::{App, HttpResponse, test, web};

    use super::*;

    /// A log sink shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(data);
            }
            Ok(data.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn the_access_log_masks_identity_numbers_in_path_and_query() {
        let captured = Captured::default();
        let sink = captured.clone();
        // A plain writer: the masking under test is the middleware's own, not the writer's.
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .route(
                    "/{tail:.*}",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                )
                .wrap(actix_web::middleware::from_fn(request_context)),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/api/v1/lookup/110101199003071233?id=11010519491231002X&org=91350100M000100Y43")
            .to_request();
        let res = test::call_service(&app, req).await;
        assert!(res.status().is_success());
        let log = captured
            .0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        assert!(log.contains("request completed"), "{log}");
        assert!(
            log.contains("path=/api/v1/lookup/110*************33"),
            "{log}"
        );
        assert!(
            log.contains("query=id=110*************2X&org=913*************43"),
            "{log}"
        );
        for raw in [
            "110101199003071233",
            "11010519491231002X",
            "91350100M000100Y43",
        ] {
            assert!(!log.contains(raw), "{raw} in {log}");
        }
    }
}
