//! The contract check of the harness: every response the API tests receive through the
//! `TestApp` helpers is checked against the OpenAPI document the service serves — where the
//! operation declares the status and the media type, the headers it declares as required are
//! sent and a JSON body validates against the declared schema (JSON Schema 2020-12, formats
//! checked). A generated client is built from that
//! document, so a payload the document does not describe is a bug the whole suite now finds.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use reqwest::Method;
use serde_json::Value;

struct Operation {
    method: Method,
    segments: Vec<String>,
    pointer: String,
}

struct Contract {
    doc: Value,
    operations: Vec<Operation>,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let doc: Value =
            serde_json::from_str(&gongkai::http::openapi_json()).expect("the served document");
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, _) in item.as_object().expect("path item") {
                let Ok(m) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                    continue;
                };
                operations.push(Operation {
                    method: m,
                    segments: path
                        .trim_matches('/')
                        .split('/')
                        .map(String::from)
                        .collect(),
                    pointer: format!("/paths/{}/{}", escape(path), method),
                });
            }
        }
        Contract {
            doc,
            operations,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

impl Contract {
    /// The operation serving `method path`: literal segments beat parameters, as in the router.
    fn operation(&self, method: &Method, path: &str) -> Option<&Operation> {
        let got: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.operations
            .iter()
            .filter(|o| o.method == *method && o.segments.len() == got.len())
            .filter(|o| {
                o.segments
                    .iter()
                    .zip(&got)
                    .all(|(s, g)| s.starts_with('{') || s == g)
            })
            .max_by_key(|o| o.segments.iter().filter(|s| !s.starts_with('{')).count())
    }

    fn validator(&self, pointer: &str) -> std::sync::Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().expect("validators");
        cache
            .entry(pointer.to_string())
            .or_insert_with(|| {
                // The whole document is the root, so that `#/components/…` references resolve;
                // its other members are unknown keywords to JSON Schema and ignored.
                let mut root = self.doc.clone();
                // A URI fragment: the braces of path templates are percent-encoded.
                let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
                root["$ref"] = Value::String(format!("#{fragment}"));
                std::sync::Arc::new(
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .should_validate_formats(true)
                        .build(&root)
                        .unwrap_or_else(|e| panic!("schema at {pointer} does not compile: {e}")),
                )
            })
            .clone()
    }
}

/// Checks one response against the document. Panics with what does not agree.
#[track_caller]
pub fn check(
    method: &Method,
    path: &str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) {
    let c = contract();
    let path = path.split('?').next().unwrap_or(path);
    let Some(op) = c.operation(method, path) else {
        // Not an API operation (e.g. a route the tests probe for 404/405): nothing to compare.
        return;
    };
    let responses = &c.doc.pointer(&op.pointer).expect("operation")["responses"];
    let key = status.to_string();
    // Every status the service answers is declared: a generated client has no type for one
    // that is not.
    let (key, response) = match responses.get(&key) {
        Some(r) => (key, r),
        None => match responses.get("default") {
            Some(r) => ("default".to_string(), r),
            None => panic!(
                "{method} {path}: status {status} is not declared (declared: {:?}); body: {body}",
                responses.as_object().map(|m| m.keys().collect::<Vec<_>>())
            ),
        },
    };
    let response = match response.get("$ref").and_then(Value::as_str) {
        Some(r) => c
            .doc
            .pointer(r.trim_start_matches('#'))
            .expect("response ref"),
        None => response,
    };
    if let Some(declared) = response.get("headers").and_then(Value::as_object) {
        for (name, h) in declared {
            let h = match h.get("$ref").and_then(Value::as_str) {
                Some(r) => c
                    .doc
                    .pointer(r.trim_start_matches('#'))
                    .expect("header ref"),
                None => h,
            };
            if h.get("required").and_then(Value::as_bool) == Some(true) {
                assert!(
                    headers.contains_key(name.as_str()),
                    "{method} {path} {status}: required header {name} missing"
                );
            }
        }
    }
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        assert!(
            body.is_empty(),
            "{method} {path} {status}: the document declares no body, but one was sent: {body}"
        );
        return;
    };
    let media = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((declared_media, entry)) = content
        .iter()
        .find(|(m, _)| m.eq_ignore_ascii_case(&media))
        .or_else(|| content.iter().find(|(m, _)| m.as_str() == "*/*"))
    else {
        panic!(
            "{method} {path} {status}: media type {media:?} is not declared (declared: {:?})",
            content.keys().collect::<Vec<_>>()
        );
    };
    if !(media == "application/json" || media.ends_with("+json")) || entry.get("schema").is_none() {
        return;
    }
    let instance: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{method} {path} {status}: body is not JSON ({e}): {body}"));
    let pointer = format!(
        "{}/responses/{}/content/{}/schema",
        op.pointer,
        key,
        escape(declared_media)
    );
    let pointer = if responses[&key].get("$ref").is_some() {
        let r = responses[&key]["$ref"].as_str().unwrap_or_default();
        format!(
            "{}/content/{}/schema",
            r.trim_start_matches('#'),
            escape(declared_media)
        )
    } else {
        pointer
    };
    let validator = c.validator(&pointer);
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .take(10)
        .map(|e| format!("at {}: {}", e.instance_path(), e))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: the body does not match the document ({pointer}):\n  {}\nbody: {}",
        errors.join("\n  "),
        body.chars().take(2000).collect::<String>()
    );
}
