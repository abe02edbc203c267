//! RFC 9457 problem details: the one place where failures become HTTP responses.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppError;
use crate::domain::identity::mask_identity_numbers;
use crate::domain::text::{Language, Text};
use crate::domain::validation::FieldError;
use crate::error_codes::ErrorCode;
use crate::text;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem detail (RFC 9457). `code` is stable: clients branch on it, not on `title`.
/// `title`, `detail` and each `errors[].message` are in the language of `Content-Language`:
/// Chinese (`zh-CN`) or English (`en`), negotiated from `Accept-Language` (the deployment's
/// `i18n.default_language` when it prefers neither).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type: `urn:gongkai:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// What the code means (its entry in the catalogue), e.g. `请求内容有误，逐项见 errors`.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Stable machine-readable code, e.g. `validation_failed`, `extension_already_used`; every
    /// value is listed in the `ErrorCode` schema and in docs/API.md.
    #[schema(value_type = ErrorCode)]
    pub code: String,
    /// For validation failures: each bad field — at most the first 100
    /// ([`MAX_LISTED_ERRORS`]); `error_count` says how many there were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 100)]
    pub errors: Vec<ProblemField>,
    /// With `errors`: how many problems were found in all (more than `errors` lists when over
    /// 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_count: Option<u64>,
}

pub use crate::domain::validation::MAX_LISTED_ERRORS;

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

/// One bad field of a failed request, in both languages: rendered as a [`ProblemField`] in
/// the language of the answer.
#[derive(Debug, Clone)]
pub struct LineField {
    /// Bulk imports: the physical line of the body.
    pub line: Option<u64>,
    pub error: FieldError,
}

impl From<FieldError> for LineField {
    fn from(error: FieldError) -> Self {
        LineField { line: None, error }
    }
}

/// The meaning of a catalogued code in `lang`.
fn meaning(code: &str, lang: Language) -> Option<&'static str> {
    ErrorCode::parse(code).map(|c| match lang {
        Language::Chinese => c.meaning_zh(),
        Language::English => c.meaning_en(),
    })
}

/// `text` in `lang`; a Chinese answer of a text not yet translated gives the Chinese meaning
/// of `code` instead (never English text under a Chinese title).
fn localized(text: &Text, code: &str, lang: Language) -> String {
    match text.get(lang) {
        Some(s) => s.to_string(),
        None => meaning(code, Language::Chinese)
            .unwrap_or("请求无法处理")
            .to_string(),
    }
}

/// The Chinese of a field message, its code's meaning when it has none.
fn zh_or_meaning(e: &FieldError) -> String {
    localized(&e.message, e.code, Language::Chinese)
}

/// The error every handler returns.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: Text,
    pub errors: Vec<LineField>,
    /// How many problems there were, when more than `errors` holds (an import's); 0: as many
    /// as `errors` holds. (A plain `u32` sits in the padding beside `status`: the error stays
    /// small enough to return by value.)
    pub errors_total: u32,
    /// Extra response headers (e.g. `Allow` on 405).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: Text) -> Self {
        ApiError {
            status,
            code,
            detail,
            errors: Vec::new(),
            errors_total: 0,
            headers: Vec::new(),
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors.into_iter().map(LineField::from).collect();
        self
    }

    /// 422 `validation_failed` for these fields; the detail names the one field, or counts
    /// them.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => Text::new(
                format!("{}：{}", one.field, zh_or_meaning(one)),
                format!("{}: {}", one.field, one.message.en()),
            ),
            many => text!("{} 个字段有误", "{} fields are invalid", many.len()),
        };
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        )
        .with_errors(errors)
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn bad_request(code: &'static str, detail: Text) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found(detail: Text) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn unauthorized(code: &'static str, detail: Text) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"gongkai\""),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            text!(
                "发生内部错误；凭请求编号（X-Request-Id）可在日志中查到原因",
                "an internal error occurred; the request id identifies it in the log"
            ),
        )
    }

    /// The problem in `lang`: `title` the meaning of the code, `detail` and each message in
    /// `lang` (Chinese falls back to the meaning of the code of a text not yet translated).
    pub fn problem(&self, lang: Language) -> Problem {
        // The catalogue is the contract: a code missing from it is a bug of ours (the scanner in
        // tests/architecture.rs should have caught it). Answer it all the same, and say so.
        for code in std::iter::once(self.code).chain(self.errors.iter().map(|e| e.error.code)) {
            if ErrorCode::parse(code).is_none() {
                tracing::error!(
                    code,
                    bug = true,
                    "bug: problem code missing from the ErrorCode catalogue"
                );
            }
        }
        let title = meaning(self.code, lang).map_or_else(
            || match lang {
                Language::Chinese => "请求失败".to_string(),
                Language::English => self
                    .status
                    .canonical_reason()
                    .unwrap_or("Error")
                    .to_string(),
            },
            str::to_string,
        );
        Problem {
            type_: format!("urn:gongkai:problem:{}", self.code),
            title,
            status: self.status.as_u16(),
            detail: localized(&self.detail, self.code, lang),
            code: self.code.to_string(),
            error_count: (!self.errors.is_empty()).then(|| {
                let listed = u64::try_from(self.errors.len()).unwrap_or(u64::MAX);
                u64::from(self.errors_total).max(listed)
            }),
            errors: self
                .errors
                .iter()
                .take(MAX_LISTED_ERRORS)
                .map(|e| ProblemField {
                    line: e.line,
                    field: e.error.field.clone(),
                    code: e.error.code.to_string(),
                    message: localized(&e.error.message, e.error.code, lang),
                })
                .collect(),
        }
    }

    /// The problem+json body in `lang`.
    pub fn body(&self, lang: Language) -> String {
        serde_json::to_string(&self.problem(lang)).unwrap_or_else(|_| {
            "{\"type\":\"urn:gongkai:problem:internal_error\",\"title\":\"Internal Server Error\",\"status\":500,\"detail\":\"\",\"code\":\"internal_error\"}".to_string()
        })
    }

    /// The response in `lang`, with `Content-Language` and `Vary: Accept-Language`.
    pub fn response(&self, lang: Language) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.content_type(PROBLEM_JSON);
        for (name, value) in &self.headers {
            res.insert_header((name.clone(), value.clone()));
        }
        let mut res = res.body(self.body(lang));
        super::language::mark(res.headers_mut(), lang);
        res
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// In Chinese; the request context (`http::middleware`) renders it again in the language
    /// the request negotiated.
    fn error_response(&self) -> HttpResponse {
        self.response(Language::default())
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(what) => ApiError::not_found(Text::new(
                format!("{}不存在或不在您的权限范围内", what.zh().unwrap_or("资源")),
                format!("{} not found", what.en()),
            )),
            AppError::Validation(errors) => ApiError::invalid_fields(errors),
            AppError::ImportRejected { errors, total } => {
                let shown = errors.len().min(MAX_LISTED_ERRORS);
                let lines = errors
                    .iter()
                    .take(MAX_LISTED_ERRORS)
                    .map(|e| e.line)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len();
                let detail = if shown < total {
                    text!(
                        "未导入任何申请：共 {total} 个问题，列出前 {shown} 个（涉及 {lines} 行）",
                        "nothing was imported: {total} problem(s); the first {shown} (in {lines} line(s)) are listed"
                    )
                } else {
                    text!(
                        "未导入任何申请：{lines} 行中共 {total} 个问题",
                        "nothing was imported: {total} problem(s) in {lines} line(s)"
                    )
                };
                let mut api = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    detail,
                );
                api.errors = errors
                    .into_iter()
                    .map(|e| LineField {
                        line: Some(e.line),
                        error: e.error,
                    })
                    .collect();
                api.errors_total = u32::try_from(total).unwrap_or(u32::MAX);
                api
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
                text!(
                    "请在 If-Match 中发送所读取的版本（ETag）",
                    "send If-Match with the version (ETag) you read"
                ),
            ),
            AppError::PreconditionFailed => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "version_mismatch",
                text!(
                    "记录在您读取之后已被修改，请重新读取后再试",
                    "the record has changed since you read it; read it again and retry"
                ),
            ),
            AppError::TooManyRequests { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                text!(
                    "来自该地址的请求过多，请稍后重试",
                    "too many requests from this address; retry later"
                ),
            )
            .with_header(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after_secs.to_string())
                    .unwrap_or(HeaderValue::from_static("60")),
            ),
            AppError::TooManyLoginAttempts { retry_after_secs } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_login_attempts",
                text!(
                    "该账号或该地址登录失败次数过多，请稍后重试",
                    "too many failed login attempts for this account or from this address; retry later"
                ),
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
                    text!(
                        "服务暂时不可用，请稍后重试",
                        "the service is temporarily unavailable; retry later"
                    ),
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
            }
            AppError::Unreadable { entity, id, reason } => {
                tracing::error!(entity, id = %id, reason = %mask_identity_numbers(&reason), "stored record unreadable");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "stored_record_unreadable",
                    text!(
                        "存储的记录无法读取（{entity} {id}），请联系系统管理员修复",
                        "the stored {entity} {id} cannot be read by this release; an administrator must repair it"
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
            ApiError::bad_request("no_such_code_anywhere", Text::english("x"))
                .problem(Language::Chinese);
        });
        assert!(
            log.contains("missing from the ErrorCode catalogue"),
            "{log}"
        );
        assert!(log.contains("no_such_code_anywhere"), "{log}");
        let log = logged(|| {
            ApiError::bad_request("invalid_json", Text::english("x")).problem(Language::English);
        });
        assert!(log.is_empty(), "{log}");
    }
}
