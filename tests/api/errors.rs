//! Every kind of bad input answers 4xx problem+json: never a 500, never plain text.

use reqwest::{Method, StatusCode};

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(bad_input_of_every_kind_answers_problem_json);

async fn bad_input_of_every_kind_answers_problem_json(app: TestApp) {
    let token = app.admin_token().await;
    let send = |m: Method, path: &str| app.request(m, path, Some(&token));

    // Malformed JSON.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "application/json")
            .body("{\"code\":")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(400, "invalid_json");
    // Empty body.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(400, "invalid_json");
    // JSON that is not an object of the right shape.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "application/json")
            .body("[1,2]")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "not_an_object");
    // Not even an array that would fill the fields in order.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "application/json")
            .body(r#"["ARRAY","数组机关",null,null]"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    // Wrong content type, and none.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(415, "unsupported_media_type");
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(415, "unsupported_media_type");
    // Over the body limit (1 MiB by default).
    let big = format!(
        "{{\"code\":\"A\",\"name\":\"{}\"}}",
        "x".repeat(1024 * 1024 + 10)
    );
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(413, "payload_too_large");
    // Unknown route, with and without auth.
    let r = Resp::from(
        send(Method::GET, "/api/v1/nothing-here")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(404, "not_found");
    let r = Resp::from(app.client.get(app.url("/nope")).send().await.unwrap()).await;
    r.assert_problem(404, "not_found");
    // Wrong method on a known route: 405 with Allow.
    let r = Resp::from(
        send(Method::DELETE, "/api/v1/agencies")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(405, "method_not_allowed");
    let allow = r.header("allow").unwrap().to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let r = Resp::from(
        send(
            Method::PUT,
            &format!("/api/v1/agencies/{}", uuid::Uuid::new_v4()),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));
    let r = Resp::from(app.client.post(app.url("/healthz")).send().await.unwrap()).await;
    r.assert_problem(405, "method_not_allowed");
    // Bad path parameter.
    let r = Resp::from(
        send(Method::GET, "/api/v1/agencies/not-a-uuid")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(404, "not_found");
    // Bad query parameters.
    let r = Resp::from(
        send(Method::GET, "/api/v1/agencies?page=-1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    let r = Resp::from(
        send(Method::GET, "/api/v1/agencies?per_page=1e9")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(400, "invalid_query");
    // Bad If-Match.
    let r = Resp::from(
        send(
            Method::PATCH,
            &format!("/api/v1/users/{}", uuid::Uuid::new_v4()),
        )
        .header("If-Match", "nonsense")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    r.assert_problem(400, "invalid_if_match");
    // A NUL byte in a field.
    let r = Resp::from(
        send(Method::POST, "/api/v1/agencies")
            .json(&serde_json::json!({"code": "NUL", "name": "a\u{0}"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    // Nothing above was a server error, and nothing was written.
    let list = app.get("/api/v1/agencies", &token).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["total"], 1);
}
