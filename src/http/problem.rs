//! RFC 9457 problem details: the one place where failures become HTTP responses.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppError;
use crate::domain::identity::mask_identity_numbers;
use crate::domain::validation::FieldError;
use crate::error_codes::ErrorCode;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem detail (RFC 9457). `code` is stable: clients branch on it, not on `title`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type: `urn:gongkai:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short, human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Stable machine-readable code, e.g. `validation_failed`, `extension_already_used`; every
    /// value is listed in the `ErrorCode` schema and in docs/API.md.
    #[schema(value_type = ErrorCode)]
    pub code: String,
    /// For validation failures: each bad field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One bad field of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    /// Bulk imports: the physical line of the body (from 1; a CSV header is line 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The field, as a path into the body or the parameter name (`applicant.name`, `page`).
    pub field: String,
    /// Stable code: `required`, `too_long`, `invalid_format`, `out_of_range`, … (see the
    /// `ErrorCode` schema and docs/API.md).
    #[schema(value_type = ErrorCode)]
    pub code: String,
    /// A message a form can show.
    pub message: String,
}

impl From<FieldError> for ProblemField {
    fn from(e: FieldError) -> Self {
        ProblemField {
            line: None,
            field: e.field,
            code: e.code.to_string(),
            message: e.message,
        }
    }
}

/// The error every handler returns.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<ProblemField>,
    /// Extra response headers (e.g. `Allow` on 405).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            title: status.canonical_reason().unwrap_or("Error"),
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_errors(mut self, errors: Vec<ProblemField>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"gongkai\""),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; the request id identifies it in the log",
        )
    }

    pub fn problem(&self) -> Problem {
        // The catalogue is the contract: a code missing from it is a bug of ours (the scanner in
        // tests/architecture.rs should have caught it). Answer it all the same, and say so.
        for code in std::iter::once(self.code).chain(self.errors.iter().map(|e| e.code.as_str())) {
            if ErrorCode::parse(code).is_none() {
                tracing::error!(
                    code,
                    bug = true,
                    "bug: problem code missing from the ErrorCode catalogue"
                );
            }
        }
        Problem {
            type_: format!("urn:gongkai:problem:{}", self.code),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            errors: self.errors.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.content_type(PROBLEM_JSON);
        for (name, value) in &self.headers {
            res.insert_header((name.clone(), value.clone()));
        }
        let body = serde_json::to_string(&self.problem()).unwrap_or_else(|_| {
            "{\"type\":\"urn:gongkai:problem:internal_error\",\"title\":\"Internal Server Error\",\"status\":500,\"detail\":\"\",\"code\":\"internal_error\"}".to_string()
        });
        res.body(body)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            AppError::Validation(errors) => {
                let detail = match errors.as_slice() {
                    [one] => format!("{}: {}", one.field, one.message),
                    many => format!("{} fields are invalid", many.len()),
                };
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    detail,
                )
                .with_errors(errors.into_iter().map(ProblemField::from).collect())
            }
            AppError::ImportRejected { errors, total } => {
                let shown = errors.len();
                let lines = errors
                    .iter()
                    .map(|e| e.line)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len();
                let detail = if shown < total {
                    format!(
                        "nothing was imported: {total} problem(s); the first {shown} (in {lines} line(s)) are listed"
                    )
                } else {
                    format!("nothing was imported: {total} problem(s) in {lines} line(s)")
                };
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    detail,
                )
                .with_errors(
                    errors
                        .into_iter()
                        .map(|e| ProblemField {
                            line: Some(e.line),
                            ..ProblemField::from(e.error)
                        })
                        .collect(),
                )
            }
            AppError::Unauthorized { code, detail } => ApiError::unauthorized(code, detail),
            AppError::Forbidden { code, detail } => {
                ApiError::new(StatusCode::FORBIDDEN, code, detail)
            }
            AppError::Conflict { code, detail } => {
                ApiError::new(StatusCode::CONFLICT, code, detail)
            }
            AppError::BadRequest { code, detail } => ApiError::bad_request(code, detail),
            AppError::PreconditionRequired => ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "if_match_required",
                "send If-Match with the version (ETag) you read",
            ),
            AppError::PreconditionFailed => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "version_mismatch",
                "the record has changed since you read it; read it again and retry",
            ),
            AppError::TooManyRequests { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many requests from this address; retry later",
            )
            .with_header(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after_secs.to_string())
                    .unwrap_or(HeaderValue::from_static("60")),
            ),
            AppError::TooManyLoginAttempts { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_login_attempts",
                "too many failed login attempts for this account or from this address; retry later",
            )
            .with_header(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after_secs.to_string())
                    .unwrap_or(HeaderValue::from_static("60")),
            ),
            AppError::Unavailable(cause) => {
                tracing::error!(cause = %cause_chain(&cause), "service unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "the service is temporarily unavailable; retry later",
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
            }
            AppError::Unreadable { entity, id, reason } => {
                tracing::error!(entity, id = %id, reason = %mask_identity_numbers(&reason), "stored record unreadable");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "stored_record_unreadable",
                    format!(
                        "存储的记录无法读取（{entity} {id}），请联系系统管理员。The stored {entity} {id} cannot be read by this release; an administrator must repair it."
                    ),
                )
            }
            AppError::Internal(cause) => {
                // The cause goes to the log, never to the client.
                tracing::error!(cause = %cause_chain(&cause), "internal error");
                ApiError::internal()
            }
        }
    }
}

/// The cause of an error for the log: the whole chain on one line (`outer: inner: root`),
/// identity numbers masked. Logged once, here, where the problem is rendered; the body of a
/// 5xx says nothing of it.
fn cause_chain(e: &anyhow::Error) -> String {
    mask_identity_numbers(&format!("{e:#}")).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::body::MessageBody;

    use super::*;

    /// Runs `f` with a subscriber that writes every event to a buffer; returns the log text.
    fn logged(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    fn body(e: &ApiError) -> String {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn an_internal_error_logs_its_whole_chain_once_and_answers_nothing_of_it() {
        let root = std::io::Error::other("disk sector 7 unreadable");
        let err = AppError::internal_while("loading calendar 2027", root);
        let mut api = None;
        let log = logged(|| api = Some(ApiError::from(err)));
        let api = api.unwrap();
        assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(api.code, "internal_error");
        assert!(
            log.contains("loading calendar 2027: disk sector 7 unreadable"),
            "{log}"
        );
        assert_eq!(
            log.matches("disk sector 7").count(),
            1,
            "logged once: {log}"
        );
        let body = body(&api);
        assert!(
            !body.contains("disk") && !body.contains("calendar"),
            "{body}"
        );
    }

    #[test]
    fn contention_answers_503_and_logs_its_cause() {
        let err = AppError::Unavailable(
            anyhow::anyhow!("database is locked").context("contention: SQLITE_BUSY"),
        );
        let mut api = None;
        let log = logged(|| api = Some(ApiError::from(err)));
        let api = api.unwrap();
        assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            log.contains("contention: SQLITE_BUSY: database is locked"),
            "{log}"
        );
        assert!(!body(&api).contains("locked"));
    }

    #[test]
    fn an_identity_number_in_a_cause_is_masked_in_the_log() {
        let err = AppError::bug("row for 11010519491231002X is broken");
        let log = logged(|| {
            let _ = ApiError::from(err);
        });
        assert!(!log.contains("11010519491231002X"), "{log}");
    }

    #[test]
    fn a_code_missing_from_the_catalogue_is_logged_as_a_bug() {
        let log = logged(|| {
            ApiError::bad_request("no_such_code_anywhere", "x").problem();
        });
        assert!(
            log.contains("missing from the ErrorCode catalogue"),
            "{log}"
        );
        assert!(log.contains("no_such_code_anywhere"), "{log}");
        let log = logged(|| {
            ApiError::bad_request("invalid_json", "x").problem();
        });
        assert!(log.is_empty(), "{log}");
    }
}
