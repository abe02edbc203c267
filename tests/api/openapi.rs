//! The OpenAPI document: served, offline docs, and the checked-in copy in sync.

use reqwest::StatusCode;

use crate::helpers::{Db, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checked_in_document_is_byte_for_byte_what_is_served() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let served = r.text().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    if std::env::var("GONGKAI_UPDATE_DOCS").as_deref() == Ok("1") {
        std::fs::write(&path, &served).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        served == checked_in,
        "openapi/openapi.json is out of date; regenerate it with `cargo run -q -- openapi > openapi/openapi.json` (or run this test with GONGKAI_UPDATE_DOCS=1)"
    );
    let doc: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_documents_its_error_responses() {
    let doc: serde_json::Value = serde_json::from_str(&gongkai::http::openapi_json()).unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{method} {path} lacks 500");
            let secured = op
                .get("security")
                .is_some_and(|s| !s.as_array().unwrap().is_empty());
            if secured {
                assert!(responses.contains_key("401"), "{method} {path} lacks 401");
            }
            if gongkai::http::OAUTH_PATHS.contains(&path.as_str()) {
                // RFC 6749 errors: application/json with `error`, no 422 (a missing
                // parameter is a 400 `invalid_request`).
                for s in ["400", "413", "415", "500", "503"] {
                    let content = &responses[s]["content"];
                    assert_eq!(
                        content["application/json"]["schema"]["$ref"],
                        "#/components/schemas/OAuthError",
                        "{method} {path} {s}"
                    );
                    assert!(content.get("application/problem+json").is_none());
                }
                assert!(
                    !responses.contains_key("422"),
                    "{method} {path} declares 422"
                );
            } else if op.get("requestBody").is_some() {
                for s in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(s), "{method} {path} lacks {s}");
                }
            }
            assert!(
                op.get("summary").is_some() || op.get("description").is_some(),
                "{method} {path} undocumented"
            );
        }
    }
    assert!(operations >= 10);
    // The token endpoint declares its RFC 6749 errors and their headers.
    let token = &doc["paths"]["/api/v1/auth/token"]["post"]["responses"];
    assert!(token["401"]["headers"].get("WWW-Authenticate").is_some());
    assert!(token["429"]["headers"].get("Retry-After").is_some());
    let schema = &doc["components"]["schemas"]["OAuthError"];
    assert!(schema.to_string().contains("error_description"), "{schema}");
    let codes = &doc["components"]["schemas"]["OAuthErrorCode"]["enum"];
    for code in [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    ] {
        assert!(
            codes.as_array().unwrap().iter().any(|c| c == code),
            "{code} in {codes}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_is_served_from_the_binary() {
    let app = TestApp::spawn(Db::Sqlite).await.unwrap();
    let r = app.client.get(app.url("/docs")).send().await.unwrap();
    assert!(r.status().is_redirection());
    let r = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    // Every asset the page loads is served by us, not fetched from the internet.
    assert!(
        !html.contains("https://"),
        "the page references an external asset"
    );
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-initializer.js",
    ] {
        let r = app
            .client
            .get(app.url(&format!("/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
    }
    let init = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"));
}

/// Every place in the document where a generated client would get an object it knows nothing
/// about: `type: object` with neither properties, nor a map's value type, nor a composition.
fn untyped_objects(v: &serde_json::Value, at: &str, found: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            let is_object = m.get("type").is_some_and(|t| {
                t == "object"
                    || t.as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "object"))
            });
            let typed = [
                "properties",
                "additionalProperties",
                "oneOf",
                "anyOf",
                "allOf",
                "$ref",
            ]
            .iter()
            .any(|k| m.contains_key(*k));
            if is_object && !typed {
                found.push(at.to_string());
            }
            for (k, x) in m {
                untyped_objects(x, &format!("{at}/{k}"), found);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                untyped_objects(x, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn no_payload_is_an_untyped_object_and_every_response_declares_the_request_id() {
    let doc: serde_json::Value = serde_json::from_str(&gongkai::http::openapi_json()).unwrap();
    let mut found = Vec::new();
    untyped_objects(&doc, "", &mut found);
    assert!(found.is_empty(), "untyped objects: {found:#?}");
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, r) in op["responses"].as_object().unwrap() {
                if r.get("headers")
                    .and_then(|h| h.get("X-Request-Id"))
                    .is_none()
                {
                    missing.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "responses without X-Request-Id: {missing:#?}"
    );
    // A list envelope references its item schema instead of repeating it.
    for (name, s) in doc["components"]["schemas"].as_object().unwrap() {
        if let Some(item) = name.strip_prefix("ListEnvelope_") {
            assert_eq!(
                s["properties"]["items"]["items"]["$ref"],
                format!("#/components/schemas/{item}"),
                "{name}"
            );
        }
    }
}

fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|v| refs(v, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// A generated client fails on a reference to nothing: every `$ref` names a component.
#[test]
fn every_reference_resolves() {
    let doc: serde_json::Value = serde_json::from_str(&gongkai::http::openapi_json()).unwrap();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 100, "{} references", all.len());
    let dangling: Vec<&str> = all
        .into_iter()
        .filter(|r| r.strip_prefix('#').and_then(|p| doc.pointer(p)).is_none())
        .collect();
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");
}
