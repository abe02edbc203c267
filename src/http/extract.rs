//! Extractors that speak problem+json when they fail.

use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::problem::ApiError;
use crate::app::{AppState, RequestContext};
use crate::domain::access::{Actor, Scope, Scopes};
use crate::domain::text::Text;
use crate::domain::validation::FieldError;
use crate::text;

/// The largest body accepted, from settings.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON body. Unlike `web::Json` it names the bad field on a type error, and its failures are
/// problem+json: 415 for another content type, 413 over the limit, 400 for malformed JSON, 422
/// for a body that is JSON but not the expected shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<BodyLimit>()
            .map(|l| l.0)
            .unwrap_or(1024 * 1024);
        let content_type_ok = is_json(req);
        let any_dates = req.path().starts_with("/api/v1/calendar/");
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    text!(
                        "请以 application/json 发送请求体",
                        "send the body as application/json"
                    ),
                ));
            }
            if declared_len.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::bad_request(
                        "invalid_body",
                        text!("无法读取请求体：{e}", "the body could not be read: {e}"),
                    )
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            if any_dates {
                parse_json_value(&body)
                    .and_then(from_value_any_dates)
                    .map(ApiJson)
            } else {
                parse_json(&body).map(ApiJson)
            }
        })
    }
}

/// Reads a whole body of at most `limit` bytes (413 problem+json beyond, also when the
/// declared length says so before anything is read).
pub async fn read_body_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_len.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared_len.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                "invalid_body",
                text!("无法读取请求体：{e}", "the body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        text!(
            "请求体超过 {limit} 字节",
            "the body is larger than {limit} bytes"
        ),
    )
}

fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(m)) => {
            m.type_() == "application"
                && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
        }
        _ => false,
    }
}

/// Parses JSON, telling a syntax error (400) from a shape error (422, with the field).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    parse_json_value(body).and_then(from_value)
}

/// A body that is one JSON object (400 for malformed JSON, 422 for another value).
fn parse_json_value(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_json",
            text!(
                "请求体为空，请发送一个 JSON 对象",
                "the body is empty; send a JSON object"
            ),
        ));
    }
    // Syntax first, so a malformed body is a 400 and a well-formed one of the wrong shape a 422.
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            Text::new(
                format!(
                    "请求体不是合法的 JSON（第 {} 行第 {} 列）",
                    e.line(),
                    e.column()
                ),
                format!("the body is not valid JSON: {e}"),
            ),
        )
    })?;
    // Every body of this API is an object; serde would also fill a struct from an array in
    // field order, which nobody means.
    if !value.is_object() {
        let must = || text!("请求体须为 JSON 对象", "the body must be a JSON object");
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            must(),
        )
        .with_errors(vec![FieldError::new("", "not_an_object", must())]));
    }
    Ok(value)
}

/// JSON Schema's `integer` is any number without a fraction, so `19.0` is a valid integer to a
/// generated client or a conformance tool; serde's integers take only `19`. Numbers written
/// with a zero fraction become integers before the body is read (a float field reads them the
/// same either way).
fn integral_numbers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                *v = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// Converts parsed JSON into `T`, naming the bad fields (422). Every date in it must lie
/// between the first Regulation's effect (2008-05-01) and the calendar's end
/// (`domain::validation::statutory_dates_in`); only the calendar's own routes, which load and
/// count over any year from 1950, use [`from_value_any_dates`].
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    let dates = crate::domain::validation::statutory_dates_in(&value);
    if !dates.is_empty() {
        return Err(field_errors(dates));
    }
    from_value_any_dates(value)
}

/// [`from_value`] without the date range (the calendar's own routes).
pub fn from_value_any_dates<T: DeserializeOwned>(
    mut value: serde_json::Value,
) -> Result<T, ApiError> {
    integral_numbers(&mut value);
    deserialize_listing_fields(value).map_err(field_errors)
}

/// A 422 `validation_failed` naming each field.
fn field_errors(errors: Vec<crate::domain::validation::FieldError>) -> ApiError {
    {
        // Every field named in the detail, in each language (a text without Chinese gives the
        // meaning of its code).
        let join = |zh: bool| {
            errors
                .iter()
                .take(super::problem::MAX_LISTED_ERRORS)
                .map(|e| {
                    let m = if zh {
                        e.message.zh().map_or_else(
                            || {
                                crate::error_codes::ErrorCode::parse(e.code)
                                    .map_or("取值有误", |c| c.meaning_zh())
                                    .to_string()
                            },
                            str::to_string,
                        )
                    } else {
                        e.message.en().to_string()
                    };
                    match (e.field.is_empty(), zh) {
                        (true, _) => m,
                        (false, true) => format!("{}：{m}", e.field),
                        (false, false) => format!("{}: {m}", e.field),
                    }
                })
                .collect::<Vec<_>>()
                .join(if zh { "；" } else { "; " })
        };
        ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Text::new(join(true), join(false)),
        )
        .with_errors(errors)
    }
}

/// Like [`deserialize_naming_field`], but a body that lacks several required top-level fields,
/// or carries several foreign ones, gets one error for each: a form shows them all at once.
pub fn deserialize_listing_fields<T: DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, Vec<crate::domain::validation::FieldError>> {
    let keys: Vec<String> = match &value {
        serde_json::Value::Object(m) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let first = match deserialize_naming_field::<T>(value) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let top_level = !first.field.contains('.') && !first.field.contains('[');
    let more = match first.code {
        "required" if top_level => {
            let fields = introspect::required_fields::<T>();
            fields
                .into_iter()
                .filter(|f| !keys.iter().any(|k| k == f))
                .map(|f| {
                    crate::domain::validation::FieldError::new(
                        f,
                        "required",
                        text!("缺少必填字段 `{f}`", "missing field `{f}`"),
                    )
                })
                .collect()
        }
        "unknown_field" if top_level => {
            let known = introspect::fields::<T>();
            keys.iter()
                .filter(|k| !known.contains(&k.as_str()))
                .map(|k| {
                    crate::domain::validation::FieldError::new(
                        k.clone(),
                        "unknown_field",
                        text!(
                            "未知字段 `{k}`，不属于此请求",
                            "unknown field `{k}`, not part of this request"
                        ),
                    )
                })
                .collect()
        }
        _ => Vec::new(),
    };
    let mut errors: Vec<_> = more;
    if !errors.iter().any(|e| e.field == first.field) {
        errors.insert(0, first);
    }
    Err(errors)
}

/// Converts parsed JSON into `T`; a failure names the field (`required`, `unknown_field`,
/// `unknown_code` or `invalid_value`).
pub fn deserialize_naming_field<T: DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, crate::domain::validation::FieldError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let mut field = if path == "." { String::new() } else { path };
        let message = clean_serde_message(&err.into_inner().to_string());
        // A missing field is reported at its parent: name the field itself. (A foreign one is
        // already in the path.)
        let named = |rest: &str| rest.split('`').next().map(str::to_string);
        let (code, missing) = if let Some(rest) = message.strip_prefix("missing field `") {
            ("required", named(rest))
        } else if let Some(rest) = message.strip_prefix("unknown field `") {
            ("unknown_field", named(rest).filter(|_| field.is_empty()))
        } else if message.starts_with("unknown variant")
            || message.starts_with("unknown disposition code")
        {
            ("unknown_code", None)
        } else {
            ("invalid_value", None)
        };
        if let Some(m) = missing {
            field = if field.is_empty() {
                m
            } else {
                format!("{field}.{m}")
            };
        }
        crate::domain::validation::FieldError::new(field, code, serde_text(&message))
    })
}

/// A serde message in both languages: the shapes serde and our own parsers write are
/// translated (missing and unknown fields, unknown codes, numbers, dates); anything else keeps
/// only its English (a Chinese answer then gives the meaning of the code).
pub fn serde_text(message: &str) -> Text {
    let quoted = |rest: &str| rest.split('`').next().unwrap_or("").to_string();
    let expected = message
        .split_once("expected ")
        .map(|(_, e)| e.to_string())
        .filter(|e| e.contains('`'));
    if let Some(rest) = message.strip_prefix("missing field `") {
        let f = quoted(rest);
        return Text::new(format!("缺少必填字段 `{f}`"), message.to_string());
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let f = quoted(rest);
        return Text::new(
            match &expected {
                Some(e) => format!(
                    "未知字段 `{f}`；可用字段：{}",
                    e.trim_start_matches("one of ")
                ),
                None => format!("未知字段 `{f}`"),
            },
            message.to_string(),
        );
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let v = quoted(rest);
        return Text::new(
            match &expected {
                Some(e) => format!(
                    "未知代码 `{v}`；可选值：{}",
                    e.trim_start_matches("one of ")
                ),
                None => format!("未知代码 `{v}`"),
            },
            message.to_string(),
        );
    }
    if message.contains("invalid digit") || message.contains("cannot parse integer") {
        return Text::new("须为整数", message.to_string());
    }
    if message.starts_with("invalid type:") || message.starts_with("invalid value:") {
        return Text::new("取值类型或格式有误", message.to_string());
    }
    if message.contains("premature end of input")
        || message.contains("input contains invalid characters")
        || message.contains("trailing input")
        || message.contains("input is out of range")
        || message.contains("input is not enough for unique date and time")
    {
        return Text::new(
            "日期或时间格式有误（日期为 YYYY-MM-DD，时间为 RFC 3339）",
            message.to_string(),
        );
    }
    Text::english(message.to_string())
}

/// What serde knows of a body type: its field names, and which of them are required.
mod introspect {
    use serde::de::{self, Deserializer, Visitor};

    /// A deserializer that only records the field list a struct asks for.
    struct Probe<'a>(&'a mut Option<&'static [&'static str]>);

    #[derive(Debug)]
    struct Stop;

    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("probe")
        }
    }

    impl std::error::Error for Stop {}

    impl de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = Stop;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = Some(fields);
            Err(Stop)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    /// The fields of a struct body (empty for anything else).
    pub fn fields<T: de::DeserializeOwned>() -> Vec<&'static str> {
        let mut got = None;
        let _ = T::deserialize(Probe(&mut got));
        got.map(<[&str]>::to_vec).unwrap_or_default()
    }

    /// The fields that may not be absent: those that refuse `null` (every optional field of
    /// our bodies is an `Option`, which takes it).
    pub fn required_fields<T: de::DeserializeOwned>() -> Vec<&'static str> {
        let all = fields::<T>();
        let mut required = Vec::new();
        for f in &all {
            let probe: serde_json::Map<String, serde_json::Value> = all
                .iter()
                .filter(|g| *g == f)
                .map(|g| ((*g).to_string(), serde_json::Value::Null))
                .collect();
            // Only this field, as null: a required field fails on its own name first.
            if let Err(e) =
                serde_path_to_error::deserialize::<_, T>(serde_json::Value::Object(probe))
                && e.path().to_string() == *f
            {
                required.push(*f);
            }
        }
        required
    }

    #[cfg(test)]
    mod tests {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            on: chrono::NaiveDate,
            reason: Option<String>,
            days: i64,
        }

        #[test]
        fn a_struct_names_its_fields_and_the_required_ones() {
            assert_eq!(super::fields::<Body>(), vec!["on", "reason", "days"]);
            assert_eq!(super::required_fields::<Body>(), vec!["on", "days"]);
        }
    }
}

/// serde's messages end with " at line 1 column 12"; a form does not need that.
fn clean_serde_message(m: &str) -> String {
    match m.rfind(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    }
}

/// The client's address, for limits counted per address: the peer address; behind trusted
/// proxies (`server.trust_forwarded_for` trusts the peer, `server.trusted_proxies` lists
/// proxy addresses) the right-most hop of `server.forwarded_header` (`X-Forwarded-For` or
/// `Forwarded`) that is not a trusted proxy — never the left-most, which the client writes.
pub fn client_addr(req: &HttpRequest, server: &crate::config::ServerSettings) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    let trusted: Vec<crate::netaddr::Cidr> = server
        .trusted_proxies
        .iter()
        .filter_map(|c| crate::netaddr::Cidr::parse(c))
        .collect();
    if !server.trust_forwarded_for && !trusted.iter().any(|c| c.contains(peer)) {
        return peer.to_string();
    }
    // One header only, the one the proxies write (`server.forwarded_header`): a proxy that
    // appends to X-Forwarded-For passes a client's own `Forwarded` through untouched, so
    // reading whichever is present would let the client choose its address.
    let headers = req.headers();
    let mut hops: Vec<String> = Vec::new();
    if server.forwarded_header.eq_ignore_ascii_case("forwarded") {
        for v in headers.get_all("forwarded") {
            let Ok(v) = v.to_str() else { continue };
            for element in v.split(',') {
                for pair in element.split(';') {
                    if let Some((k, val)) = pair.trim().split_once('=')
                        && k.trim().eq_ignore_ascii_case("for")
                    {
                        hops.push(val.trim().to_string());
                    }
                }
            }
        }
    } else {
        for v in headers.get_all("x-forwarded-for") {
            let Ok(v) = v.to_str() else { continue };
            hops.extend(
                v.split(',')
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty()),
            );
        }
    }
    crate::netaddr::client_of(peer, &hops, server.trust_forwarded_for, &trusted)
}

/// The authenticated caller. Fails with 401 problem+json.
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let method = req.method().clone();
        let pattern = req.match_pattern();
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_string));
        Box::pin(async move {
            let state = state.ok_or_else(ApiError::internal)?;
            let token = match header {
                None => {
                    return Err(ApiError::unauthorized(
                        "missing_token",
                        text!(
                            "请发送 Authorization: Bearer <访问令牌>",
                            "send Authorization: Bearer <access token>"
                        ),
                    ));
                }
                Some(Err(_)) => {
                    return Err(ApiError::unauthorized(
                        "invalid_token",
                        text!(
                            "Authorization 请求头无效",
                            "the Authorization header is not valid"
                        ),
                    ));
                }
                Some(Ok(v)) => match v.split_once(' ') {
                    Some((scheme, t))
                        if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() =>
                    {
                        t.trim().to_string()
                    }
                    _ => {
                        return Err(ApiError::unauthorized(
                            "invalid_token",
                            text!(
                                "Authorization 请求头须为 `Bearer <访问令牌>`",
                                "the Authorization header must be `Bearer <access token>`"
                            ),
                        ));
                    }
                },
            };
            let actor = crate::app::auth::authenticate(&state, token).await?;
            if let Some(scopes) = actor.client_scopes() {
                client_may_call(scopes, &method, pattern.as_deref())?;
            }
            Ok(Authenticated(actor))
        })
    }
}

/// What a system client may call, and the scope each route needs (`None`: any client).
/// Everything else is for users: deny by default.
const CLIENT_ROUTES: &[(&str, &str, Option<Scope>)] = &[
    ("POST", "/api/v1/requests", Some(Scope::RequestsCreate)),
    ("GET", "/api/v1/requests", Some(Scope::RequestsRead)),
    (
        "GET",
        "/api/v1/requests/by-reference",
        Some(Scope::RequestsRead),
    ),
    ("GET", "/api/v1/requests/{id}", Some(Scope::RequestsRead)),
    (
        "GET",
        "/api/v1/requests/{id}/events",
        Some(Scope::RequestsRead),
    ),
    (
        "GET",
        "/api/v1/requests/{id}/deadline",
        Some(Scope::RequestsRead),
    ),
    ("GET", "/api/v1/reviews", Some(Scope::RequestsRead)),
    ("GET", "/api/v1/reviews/{id}", Some(Scope::RequestsRead)),
    ("GET", "/api/v1/litigations", Some(Scope::RequestsRead)),
    ("GET", "/api/v1/litigations/{id}", Some(Scope::RequestsRead)),
    ("GET", "/api/v1/export/requests", Some(Scope::RequestsRead)),
    (
        "GET",
        "/api/v1/agencies/{id}/reports/{year}",
        Some(Scope::ReportsRead),
    ),
    (
        "GET",
        "/api/v1/agencies/{id}/reports/{year}/export",
        Some(Scope::ReportsRead),
    ),
    (
        "GET",
        "/api/v1/agencies/{id}/reports/{year}/rollup",
        Some(Scope::ReportsRead),
    ),
    (
        "GET",
        "/api/v1/agencies/{id}/reports/{year}/versions",
        Some(Scope::ReportsRead),
    ),
    ("GET", "/api/v1/feed", Some(Scope::FeedRead)),
    ("GET", "/api/v1/agencies", None),
    ("GET", "/api/v1/agencies/{id}", None),
    ("GET", "/api/v1/calendar/working-days/add", None),
    ("GET", "/api/v1/calendar/working-days/count", None),
    ("GET", "/api/v1/calendar/{year}", None),
];

fn client_may_call(scopes: Scopes, method: &Method, pattern: Option<&str>) -> Result<(), ApiError> {
    let found = pattern.and_then(|p| {
        CLIENT_ROUTES
            .iter()
            .find(|(m, route, _)| *m == method.as_str() && *route == p)
    });
    match found {
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "client_not_allowed",
            text!(
                "系统客户端不能调用此操作，仅供用户使用",
                "system clients may not call this operation; it is for users"
            ),
        )),
        Some((_, _, Some(scope))) if !scopes.contains(*scope) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            text!(
                "该客户端的令牌缺少权限范围 {}",
                "this client's token lacks the scope {}",
                scope.code()
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// The request id (from the middleware), for the audit log.
pub struct Ctx(pub RequestContext);

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request_id = req
            .extensions()
            .get::<super::middleware::RequestId>()
            .map(|r| r.0.clone());
        std::future::ready(Ok(Ctx(RequestContext { request_id })))
    }
}

/// `If-Match: "<version>"`, when present. A malformed value is a 400.
pub struct IfMatch(pub Option<i32>);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let r = match req.headers().get(header::IF_MATCH) {
            None => Ok(IfMatch(None)),
            Some(v) => {
                let parsed = v.to_str().ok().and_then(|s| {
                    let s = s.trim();
                    let s = s.strip_prefix("W/").unwrap_or(s);
                    s.trim_matches('"').parse::<i32>().ok()
                });
                match parsed {
                    Some(n) => Ok(IfMatch(Some(n))),
                    None => Err(ApiError::bad_request(
                        "invalid_if_match",
                        text!(
                            "If-Match 须为所读取的 ETag，例如 \"3\"",
                            "If-Match must be the ETag you read, e.g. \"3\""
                        ),
                    )),
                }
            }
        };
        std::future::ready(r)
    }
}

/// Query parameters, parsed so that a bad value names its parameter (400 problem+json).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Dates in filters are bounded as in bodies (the calendar's own routes count over any
        // year from 1950).
        if !req.path().starts_with("/api/v1/calendar/") {
            // (`q` is free text: a search for a date written in a letter is a search.)
            let pairs: serde_json::Map<String, serde_json::Value> = url_pairs(req.query_string())
                .filter(|(k, _)| k != "q")
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect();
            let dates =
                crate::domain::validation::statutory_dates_in(&serde_json::Value::Object(pairs));
            if !dates.is_empty() {
                return std::future::ready(Err(field_errors(dates)));
            }
        }
        std::future::ready(parse_query(req.query_string()).map(ApiQuery))
    }
}

pub fn parse_query<T: DeserializeOwned>(qs: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(url_pairs(qs));
    serde_path_to_error::deserialize::<_, T>(de).map_err(|err| {
        let field = err.path().to_string();
        let field = if field == "." { String::new() } else { field };
        let raw = err.into_inner().to_string();
        let field = if field.is_empty() {
            field_from_message(&raw)
        } else {
            field
        };
        let message = if raw.contains("invalid digit") || raw.contains("cannot parse integer") {
            text!("须为整数", "must be an integer")
        } else {
            serde_text(&raw)
        };
        let detail = query_detail(&field, &message);
        ApiError::bad_request("invalid_query", detail).with_errors(vec![FieldError::new(
            field,
            "invalid_value",
            message,
        )])
    })
}

fn url_pairs(qs: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(qs.as_bytes())
}

/// Query-string failures: 400 problem+json naming the parameter when serde says which.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    let raw = err.to_string();
    let field = field_from_message(&raw);
    let message = serde_text(&raw);
    ApiError::bad_request("invalid_query", query_detail("", &message))
        .with_errors(vec![FieldError::new(field, "invalid_value", message)])
        .into()
}

/// The detail of a bad query: the parameter, when known, and what is wrong with it.
fn query_detail(field: &str, message: &Text) -> Text {
    let zh = message.zh().unwrap_or("取值有误");
    if field.is_empty() {
        Text::new(
            format!("查询参数有误：{zh}"),
            format!("invalid query parameters: {}", message.en()),
        )
    } else {
        Text::new(
            format!("查询参数 {field}：{zh}"),
            format!("query parameter {field}: {}", message.en()),
        )
    }
}

/// Path failures (e.g. an id that is not a UUID): 404, there is no such resource.
pub fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::not_found(text!(
        "没有此资源（路径参数有误）",
        "no such resource: {err}"
    ))
    .into()
}

fn field_from_message(m: &str) -> String {
    // serde_urlencoded says e.g. "missing field `from`" or "unknown field `x`".
    m.split('`').nth(1).unwrap_or("").to_string()
}
