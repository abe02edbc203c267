//! The HTTP side of `Idempotency-Key` (see `app::idempotency`): the header and body of a
//! creating POST, and the answer as first sent or replayed.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::Digest;
use utoipa::IntoParams;

use super::extract::{ApiJson, from_value};
use super::problem::ApiError;
use crate::app::AppError;
use crate::app::idempotency::{Answer, Key};

/// Body fields that are secrets: left out of the fingerprint, so that no fast hash of a
/// password is stored.
const SECRET_FIELDS: [&str; 3] = ["password", "secret", "client_secret"];

/// The optional header of every creating POST, for the OpenAPI document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyHeader {
    /// 1 to 200 visible ASCII characters, unique per request you mean (e.g. a UUID). A retry
    /// with the same key and the same request answers the first answer (with
    /// `Idempotent-Replayed: true`) and creates nothing; the same key with another request
    /// answers 422 `idempotency_key_reused`. Keys belong to the user who sends them.
    #[serde(rename = "Idempotency-Key")]
    #[param(rename = "Idempotency-Key")]
    pub idempotency_key: Option<String>,
}

/// A creating POST's JSON body and its `Idempotency-Key`, when sent.
pub struct Creating<T> {
    pub body: T,
    pub key: Option<Key>,
}

impl<T: DeserializeOwned + 'static> FromRequest for Creating<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let key = header_key(req);
        let target = format!("{} {}", req.method(), req.path());
        let json = ApiJson::<Value>::from_request(req, payload);
        Box::pin(async move {
            let key = key?;
            let ApiJson(value) = json.await?;
            let key = key.map(|key| Key {
                key,
                fingerprint: fingerprint(&target, &value),
            });
            Ok(Creating {
                body: from_value(value)?,
                key,
            })
        })
    }
}

pub(crate) fn header_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get("Idempotency-Key") {
        None => Ok(None),
        Some(v) => match v.to_str().map(str::trim) {
            Ok(k) if !k.is_empty() && k.len() <= 200 => Ok(Some(k.to_string())),
            _ => Err(ApiError::bad_request(
                "invalid_idempotency_key",
                crate::text!(
                    "Idempotency-Key 须为 1 至 200 个可见字符",
                    "Idempotency-Key must be 1 to 200 visible characters"
                ),
            )),
        },
    }
}

/// SHA-256 of the method, the path and the body without its secrets. serde_json's maps are
/// ordered, so the same JSON in another key order is the same request.
pub(crate) fn fingerprint(target: &str, body: &Value) -> String {
    let mut body = body.clone();
    if let Value::Object(map) = &mut body {
        for f in SECRET_FIELDS {
            map.remove(f);
        }
    }
    let mut h = sha2::Sha256::new();
    h.update(target.as_bytes());
    h.update(b"\n");
    h.update(body.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// A JSON answer with its headers, as stored for retries.
pub fn json_answer<T: serde::Serialize>(
    status: StatusCode,
    headers: Vec<(&str, String)>,
    body: &T,
) -> Result<Answer, AppError> {
    Ok(Answer {
        status: status.as_u16(),
        headers: headers
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect(),
        body: serde_json::to_string(body).map_err(AppError::internal)?,
        replayed: false,
    })
}

/// The answer as an HTTP response; a replay says so in `Idempotent-Replayed: true`.
pub fn respond(a: Answer) -> HttpResponse {
    let mut res =
        HttpResponse::build(StatusCode::from_u16(a.status).unwrap_or(StatusCode::CREATED));
    for (name, value) in a.headers {
        res.insert_header((name, value));
    }
    if a.replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    res.content_type("application/json").body(a.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fingerprint_ignores_key_order_and_secrets_but_not_the_target_or_the_body() {
        let a = fingerprint("POST /api/v1/reviews", &json!({"a": 1, "b": "x"}));
        assert_eq!(
            a,
            fingerprint("POST /api/v1/reviews", &json!({"b": "x", "a": 1}))
        );
        assert_ne!(
            a,
            fingerprint("POST /api/v1/litigations", &json!({"a": 1, "b": "x"}))
        );
        assert_ne!(
            a,
            fingerprint("POST /api/v1/reviews", &json!({"a": 2, "b": "x"}))
        );
        let with_pw = fingerprint("POST /u", &json!({"username": "li", "password": "one"}));
        assert_eq!(
            with_pw,
            fingerprint("POST /u", &json!({"username": "li", "password": "two"}))
        );
    }
}
