//! Tokens: what is accepted and what answers 401.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_databases;
use crate::helpers::{ADMIN_PASSWORD, TestApp};

both_databases!(
    a_password_login_issues_a_bearer_token,
    wrong_password_and_unknown_user_give_the_same_401,
    tampered_none_expired_and_foreign_tokens_answer_401,
    missing_or_malformed_authorization_answers_401,
    unsupported_grant_types_are_refused,
    the_token_endpoint_takes_an_rfc_6749_form_and_client_credentials_by_http_basic,
);

async fn a_password_login_issues_a_bearer_token(app: TestApp) {
    let r = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(
        r.body["expires_in"],
        app.settings.auth.access_token_ttl_secs
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // User names are case-insensitive.
    assert_eq!(
        app.login("ADMIN", ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
}

async fn wrong_password_and_unknown_user_give_the_same_401(app: TestApp) {
    let wrong = app.login("admin", "not the password").await;
    let unknown = app.login("nobody", "not the password").await;
    wrong.assert_problem(401, "invalid_credentials");
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.header("www-authenticate").is_some());
}

fn claims(app: &TestApp, sub: &str, iss: &str, aud: &str, exp_offset: i64) -> serde_json::Value {
    let now = app.now().timestamp();
    json!({"sub": sub, "iss": iss, "aud": aud, "iat": now, "nbf": now - 5, "exp": now + exp_offset, "jti": "t", "gen": 0})
}

async fn tampered_none_expired_and_foreign_tokens_answer_401(app: TestApp) {
    let good = app.admin_token().await;
    let me = app.get("/api/v1/me", &good).await;
    let sub = me.body["user"]["id"].as_str().unwrap().to_string();
    let secret = app.settings.auth.jwt_secret.clone();
    let iss = app.settings.auth.issuer.clone();
    let aud = app.settings.auth.audience.clone();
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
    let sign = |c: &serde_json::Value, k: &EncodingKey| {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), c, k).unwrap()
    };

    // Control: a token we sign ourselves with the right secret and claims works.
    let control = sign(&claims(&app, &sub, &iss, &aud, 300), &key);
    assert_eq!(app.get("/api/v1/me", &control).await.status, StatusCode::OK);

    // Bad signature: the last character of the signature changed.
    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    app.get("/api/v1/me", &tampered)
        .await
        .assert_problem(401, "invalid_token");

    // Signed with another secret.
    let other = EncodingKey::from_secret(b"another secret, thirty-two bytes or more").unwrap();
    app.get(
        "/api/v1/me",
        &sign(&claims(&app, &sub, &iss, &aud, 300), &other),
    )
    .await
    .assert_problem(401, "invalid_token");

    // alg: none, no signature.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(&app, &sub, &iss, &aud, 300).to_string());
    app.get("/api/v1/me", &format!("{header}.{payload}."))
        .await
        .assert_problem(401, "invalid_token");

    // Expired (beyond the leeway).
    app.get(
        "/api/v1/me",
        &sign(&claims(&app, &sub, &iss, &aud, -600), &key),
    )
    .await
    .assert_problem(401, "token_expired");

    // Another issuer, another audience.
    app.get(
        "/api/v1/me",
        &sign(&claims(&app, &sub, "someone-else", &aud, 300), &key),
    )
    .await
    .assert_problem(401, "invalid_token");
    app.get(
        "/api/v1/me",
        &sign(&claims(&app, &sub, &iss, "another-api", 300), &key),
    )
    .await
    .assert_problem(401, "invalid_token");

    // A user that does not exist.
    let ghost = uuid::Uuid::new_v4().to_string();
    app.get(
        "/api/v1/me",
        &sign(&claims(&app, &ghost, &iss, &aud, 300), &key),
    )
    .await
    .assert_problem(401, "invalid_token");

    // Garbage.
    app.get("/api/v1/me", "not-a-jwt")
        .await
        .assert_problem(401, "invalid_token");
}

async fn missing_or_malformed_authorization_answers_401(app: TestApp) {
    let r = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    let r = crate::helpers::Resp::from(r).await;
    r.assert_problem(401, "missing_token");
    let r = app
        .client
        .get(app.url("/api/v1/me"))
        .header("Authorization", "Basic YWRtaW46eA==")
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::from(r)
        .await
        .assert_problem(401, "invalid_token");
    let r = app
        .client
        .get(app.url("/api/v1/me"))
        .header("Authorization", "Bearer ")
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::from(r)
        .await
        .assert_problem(401, "invalid_token");
}

async fn unsupported_grant_types_are_refused(app: TestApp) {
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"grant_type": "magic"}))
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::from(r)
        .await
        .assert_problem(400, "unsupported_grant_type");
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"grant_type": "password", "username": "admin"}))
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::from(r)
        .await
        .assert_problem(422, "validation_failed");
}

/// What standard OAuth2 libraries send: a form-encoded body (RFC 6749 §4.3, §4.4) and the
/// client's credentials by HTTP Basic (§2.3.1, each part form-encoded before base64).
async fn the_token_endpoint_takes_an_rfc_6749_form_and_client_credentials_by_http_basic(
    app: TestApp,
) {
    use crate::helpers::Resp;
    let form = |body: &str| {
        app.client
            .post(app.url("/api/v1/auth/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_string())
    };
    let pw = url_encode(ADMIN_PASSWORD);
    let r = Resp::from(
        form(&format!("grant_type=password&username=admin&password={pw}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    let token = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/me", &token).await.status, StatusCode::OK);
    let r = Resp::from(
        form("grant_type=password&username=admin&password=wrong")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(401, "invalid_credentials");

    // A client, authenticated by HTTP Basic.
    let root = app.root_agency_id().await;
    let c = app
        .post(
            "/api/v1/clients",
            &app.admin_token().await,
            &json!({"name": "省平台", "agency_id": root, "scopes": ["requests:read"]}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    let (id, secret) = (
        c.body["client_id"].as_str().unwrap(),
        c.body["client_secret"].as_str().unwrap(),
    );
    let basic = |id: &str, secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                url_encode(id),
                url_encode(secret)
            ))
        )
    };
    let r = Resp::from(
        form("grant_type=client_credentials")
            .header("Authorization", basic(id, secret))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = Resp::from(
        form("grant_type=client_credentials")
            .header("Authorization", basic(id, "wrong"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(401, "invalid_client");
    // Both ways at once is refused; so is a malformed Basic header.
    let r = Resp::from(
        form(&format!(
            "grant_type=client_credentials&client_id={id}&client_secret={}",
            url_encode(secret)
        ))
        .header("Authorization", basic(id, secret))
        .send()
        .await
        .unwrap(),
    )
    .await;
    r.assert_problem(400, "invalid_request");
    let r = Resp::from(
        form("grant_type=client_credentials")
            .header("Authorization", "Basic !!!")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(401, "invalid_client");
    // Another content type is still a 415.
    let r = Resp::from(
        app.client
            .post(app.url("/api/v1/auth/token"))
            .header("Content-Type", "text/plain")
            .body("grant_type=password")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(415, "unsupported_media_type");
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
