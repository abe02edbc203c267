//! Tokens: what is accepted and what answers 401; the token endpoint's RFC 6749 errors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_databases;
use crate::helpers::{ADMIN_PASSWORD, TestApp};

crate::both_databases_with!(generated_secret =>
    with_no_configured_secret_tokens_signed_with_published_values_are_refused_and_processes_share_the_generated_one,
);

fn generated_secret(s: &mut gongkai::config::Settings) {
    s.auth.jwt_secret = String::new();
}

both_databases!(
    a_password_login_issues_a_bearer_token,
    wrong_password_and_unknown_user_give_the_same_invalid_grant,
    tampered_none_expired_and_foreign_tokens_answer_401,
    missing_or_malformed_authorization_answers_401,
    unsupported_grant_types_are_refused,
    the_token_endpoint_takes_an_rfc_6749_form_and_client_credentials_by_http_basic,
    a_client_gets_no_refresh_token_and_may_ask_for_part_of_its_scopes,
    client_credentials_with_a_users_grant_are_an_unauthorized_client,
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
    assert_eq!(r.header("pragma"), Some("no-cache"));
    let refresh = r.body["refresh_token"].as_str().unwrap();
    assert!(
        refresh.starts_with("gkr_") && refresh.len() == 68,
        "{refresh}"
    );
    assert!(r.body.get("scope").is_none(), "{}", r.text);
    // User names are case-insensitive.
    assert_eq!(
        app.login("ADMIN", ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
}

/// RFC 6749 §5.2: a wrong resource owner password is `invalid_grant` (400); `code` stays
/// gongkai's `invalid_credentials`.
async fn wrong_password_and_unknown_user_give_the_same_invalid_grant(app: TestApp) {
    let wrong = app.login("admin", "not the password").await;
    let unknown = app.login("nobody", "not the password").await;
    wrong.assert_oauth_error(400, "invalid_grant", "invalid_credentials");
    unknown.assert_oauth_error(400, "invalid_grant", "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(
        wrong.body["error_description"],
        "unknown user name or wrong password"
    );
    assert_eq!(
        wrong.body["type"],
        "urn:gongkai:problem:invalid_credentials"
    );
    // Not a 401: no challenge.
    assert_eq!(wrong.header("www-authenticate"), None);
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
    crate::helpers::Resp::from(r).await.assert_oauth_error(
        400,
        "unsupported_grant_type",
        "unsupported_grant_type",
    );
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"grant_type": "password", "username": "admin"}))
        .send()
        .await
        .unwrap();
    let r = crate::helpers::Resp::from(r).await;
    r.assert_oauth_error(400, "invalid_request", "validation_failed");
    assert_eq!(r.field_errors(), ["username"]);
    // Malformed JSON is an invalid_request too.
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .header("Content-Type", "application/json")
        .body("{\"grant_type\":")
        .send()
        .await
        .unwrap();
    crate::helpers::Resp::from(r)
        .await
        .assert_oauth_error(400, "invalid_request", "invalid_json");
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
    r.assert_oauth_error(400, "invalid_grant", "invalid_credentials");

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
    r.assert_oauth_error(401, "invalid_client", "invalid_client");
    // RFC 6749 §5.2: Basic was used, so the 401 challenges with Basic.
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"gongkai\"")
    );
    // So does a refusal of credentials sent in the body.
    let r = Resp::from(
        form(&format!(
            "grant_type=client_credentials&client_id={id}&client_secret=wrong"
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    r.assert_oauth_error(401, "invalid_client", "invalid_client");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"gongkai\"")
    );
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
    r.assert_oauth_error(400, "invalid_request", "invalid_request");
    let r = Resp::from(
        form("grant_type=client_credentials")
            .header("Authorization", "Basic !!!")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_oauth_error(401, "invalid_client", "invalid_client");
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
    r.assert_oauth_error(415, "invalid_request", "unsupported_media_type");
    // The method not served on the path is still a problem (the route table's 405).
    let r = Resp::from(
        app.client
            .get(app.url("/api/v1/auth/token"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(405, "method_not_allowed");
}

async fn create_client(app: &TestApp, scopes: &[&str]) -> (String, String) {
    let root = app.root_agency_id().await;
    let c = app
        .post(
            "/api/v1/clients",
            &app.admin_token().await,
            &json!({"name": "省平台", "agency_id": root, "scopes": scopes}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    (
        c.body["client_id"].as_str().unwrap().to_string(),
        c.body["client_secret"].as_str().unwrap().to_string(),
    )
}

async fn client_grant(app: &TestApp, body: serde_json::Value) -> crate::helpers::Resp {
    crate::helpers::Resp::from(
        app.client
            .post(app.url("/api/v1/auth/token"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// RFC 6749 §4.4.3: no refresh token for the client credentials grant. §3.3: `scope` asks for
/// part of what the client may have; the answer says what was granted.
async fn a_client_gets_no_refresh_token_and_may_ask_for_part_of_its_scopes(app: TestApp) {
    let (id, secret) = create_client(&app, &["requests:read", "feed:read"]).await;
    let r = client_grant(
        &app,
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body.get("refresh_token").is_none(), "{}", r.text);
    assert_eq!(r.body["scope"], "requests:read feed:read");

    let r = client_grant(
        &app,
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "scope": "feed:read"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["scope"], "feed:read");
    let narrow = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/api/v1/feed", &narrow).await.status,
        StatusCode::OK
    );
    app.get("/api/v1/requests", &narrow)
        .await
        .assert_problem(403, "insufficient_scope");

    // A scope the client lacks, or none that exists.
    for scope in ["reports:read", "feed:read admin"] {
        let r = client_grant(
            &app,
            json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "scope": scope}),
        )
        .await;
        r.assert_oauth_error(400, "invalid_scope", "invalid_scope");
    }
    // The refresh grant is for users' tokens only: a client cannot refresh.
    let r = client_grant(
        &app,
        json!({"grant_type": "refresh_token", "refresh_token": narrow}),
    )
    .await;
    r.assert_oauth_error(400, "invalid_grant", "invalid_grant");
}

/// Client credentials belong to the client credentials grant (RFC 6749 §5.2
/// `unauthorized_client`); a public client's bare `client_id` is ignored, as OAuth2 libraries
/// send it.
async fn client_credentials_with_a_users_grant_are_an_unauthorized_client(app: TestApp) {
    let (id, secret) = create_client(&app, &["requests:read"]).await;
    let r = client_grant(
        &app,
        json!({"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD, "client_id": id, "client_secret": secret}),
    )
    .await;
    r.assert_oauth_error(400, "unauthorized_client", "unauthorized_client");
    let r = crate::helpers::Resp::from(
        app.client
            .post(app.url("/api/v1/auth/token"))
            .header(
                "Authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
                ),
            )
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=refresh_token&refresh_token=gkr_x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_oauth_error(400, "unauthorized_client", "unauthorized_client");
    let r = client_grant(
        &app,
        json!({"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD, "client_id": "gongkai-spa"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
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

/// Issue 17: a server started as the README says (`cargo run`: no secret configured) signs with
/// a secret generated on its first start and kept in its database; neither the value earlier
/// versions published nor the empty default signs a token it accepts, and a second process on
/// the same database (a restart, or a sibling behind a load balancer) accepts the first one's
/// tokens.
async fn with_no_configured_secret_tokens_signed_with_published_values_are_refused_and_processes_share_the_generated_one(
    app: TestApp,
) {
    assert_eq!(app.settings.auth.jwt_secret, "");
    let good = app.admin_token().await;
    let me = app.get("/api/v1/me", &good).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let sub = me.body["user"]["id"].as_str().unwrap().to_string();
    let (iss, aud) = (
        app.settings.auth.issuer.clone(),
        app.settings.auth.audience.clone(),
    );
    let c = claims(&app, &sub, &iss, &aud, 300);
    for published in ["gongkai-development-secret-do-not-use-in-production", ""] {
        // jsonwebtoken refuses to sign with an empty key at all; a key it makes must not work.
        let Ok(key) = EncodingKey::from_secret(published.as_bytes()) else {
            assert!(published.is_empty(), "cannot make a key of {published:?}");
            continue;
        };
        let forged = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &c, &key).unwrap();
        app.get("/api/v1/me", &forged)
            .await
            .assert_problem(401, "invalid_token");
    }
    // The second process reads the same generated secret from the database.
    let second = crate::helpers::second_process(&app, &[]).await;
    let r = app
        .client
        .get(format!("{}/api/v1/me", second.base))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    drop(second);

    // `gongkai rotate-token-secret` replaces it: a process started afterwards refuses the
    // tokens signed with the old one.
    let out = crate::helpers::gongkai_command(&app)
        .arg("rotate-token-secret")
        .env("GONGKAI__LOG__LEVEL", "error")
        .output()
        .expect("gongkai rotate-token-secret runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("replaced"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let third = crate::helpers::second_process(&app, &[]).await;
    let r = app
        .client
        .get(format!("{}/api/v1/me", third.base))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
