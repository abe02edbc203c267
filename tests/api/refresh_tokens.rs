//! Refresh tokens of the password grant: rotated on use, a reused one ends its login, ended by
//! logout, by a password change and by disabling the user; stored as hashes; atomic across
//! processes.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use crate::both_databases;
use crate::both_databases_with;
use crate::helpers::{ADMIN_PASSWORD, PASSWORD, Resp, TestApp};

both_databases!(
    a_refresh_token_works_once_and_its_answer_carries_the_next,
    a_reused_refresh_token_ends_its_whole_login,
    a_refresh_token_is_stored_only_as_its_hash,
    logout_ends_the_login_of_its_refresh_token,
    a_password_change_and_disabling_end_every_login_of_the_user,
    two_concurrent_uses_of_a_refresh_token_give_at_most_one_new_token,
);

both_databases_with!(short_tokens => an_unused_refresh_token_lapses);
both_databases_with!(short_logins => a_login_ends_at_its_absolute_limit_however_often_it_is_refreshed);

fn short_tokens(s: &mut gongkai::config::Settings) {
    s.auth.refresh_token_ttl_secs = 2;
}

fn short_logins(s: &mut gongkai::config::Settings) {
    s.auth.refresh_family_ttl_secs = 3;
}

/// Logs in; (access token, refresh token).
async fn login(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let r = app.login(username, password).await;
    assert_eq!(r.status, StatusCode::OK, "login {username}: {}", r.text);
    (s(&r.body["access_token"]), s(&r.body["refresh_token"]))
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

/// `grant_type=refresh_token`, form-encoded as OAuth2 libraries send it, to `base`.
async fn refresh_at(app: &TestApp, base: &str, token: &str) -> Resp {
    Resp::from(
        app.client
            .post(format!("{base}/api/v1/auth/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=refresh_token&refresh_token={token}"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn refresh(app: &TestApp, token: &str) -> Resp {
    refresh_at(app, &app.base, token).await
}

async fn logout(app: &TestApp, body: &Value) -> Resp {
    Resp::from(
        app.client
            .post(app.url("/api/v1/auth/logout"))
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The audit entries about users with this action, newest first.
async fn audited(app: &TestApp, action: &str) -> Vec<Value> {
    let log = app
        .get(
            "/api/v1/audit-log?entity_type=user&per_page=200",
            &app.admin_token().await,
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

fn hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The family (login) a refresh token belongs to, read from the database.
fn family_of(app: &TestApp, token: &str) -> String {
    let rows = app.query_texts(&format!(
        "SELECT family_id AS value FROM refresh_tokens WHERE token_hash = '{}'",
        hash(token)
    ));
    assert_eq!(rows.len(), 1, "one row for the token");
    rows[0].clone()
}

fn count(app: &TestApp, sql: &str) -> usize {
    app.query_texts(&format!(
        "SELECT CAST(COUNT(*) AS TEXT) AS value FROM {sql}"
    ))[0]
        .parse()
        .unwrap()
}

async fn a_refresh_token_works_once_and_its_answer_carries_the_next(app: TestApp) {
    let (_, first) = login(&app, "admin", ADMIN_PASSWORD).await;
    let r = refresh(&app, &first).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(
        r.body["expires_in"],
        app.settings.auth.access_token_ttl_secs
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let access = s(&r.body["access_token"]);
    let second = s(&r.body["refresh_token"]);
    assert_ne!(second, first);
    let me = app.get("/api/v1/me", &access).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["user"]["username"], "admin");
    // JSON works as well as the form, and the chain goes on.
    let r = Resp::from(
        app.client
            .post(app.url("/api/v1/auth/token"))
            .json(&json!({"grant_type": "refresh_token", "refresh_token": second}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let third = s(&r.body["refresh_token"]);
    assert_eq!(family_of(&app, &first), family_of(&app, &third));
    // Each use is audited.
    assert_eq!(audited(&app, "token_refreshed").await.len(), 2);

    // Unknown, empty and missing tokens.
    refresh(&app, "gkr_0000")
        .await
        .assert_oauth_error(400, "invalid_grant", "invalid_grant");
    refresh(&app, "")
        .await
        .assert_oauth_error(400, "invalid_request", "validation_failed");
    let r = Resp::from(
        app.client
            .post(app.url("/api/v1/auth/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=refresh_token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_oauth_error(400, "invalid_request", "validation_failed");
    assert_eq!(r.field_errors(), ["refresh_token"]);
    // The failures above ended nothing.
    assert_eq!(refresh(&app, &third).await.status, StatusCode::OK);
}

async fn a_reused_refresh_token_ends_its_whole_login(app: TestApp) {
    let (_, first) = login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, other_login) = login(&app, "admin", ADMIN_PASSWORD).await;
    let r = refresh(&app, &first).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second = s(&r.body["refresh_token"]);
    let access = s(&r.body["access_token"]);

    // The used-up token again: refused, and the login it belongs to is ended.
    let r = refresh(&app, &first).await;
    r.assert_oauth_error(400, "invalid_grant", "invalid_grant");
    // Its descendant, never used, no longer works either.
    refresh(&app, &second)
        .await
        .assert_oauth_error(400, "invalid_grant", "invalid_grant");
    let family = family_of(&app, &first);
    assert_eq!(
        app.query_texts(&format!(
            "SELECT revoked_reason AS value FROM refresh_families WHERE id = '{family}'"
        )),
        ["reuse"]
    );
    // A third try is a reuse again, of a login already ended.
    refresh(&app, &first)
        .await
        .assert_oauth_error(400, "invalid_grant", "invalid_grant");
    // Audited (newest first), with the login each concerned.
    let reused = audited(&app, "refresh_token_reused").await;
    assert_eq!(reused.len(), 2, "{reused:?}");
    for entry in &reused {
        assert_eq!(entry["payload"]["family"], family.as_str());
    }
    assert_eq!(reused[1]["payload"]["family_revoked"], true);
    assert_eq!(reused[0]["payload"]["family_revoked"], false);
    // Another login of the same user is untouched; the access token lives out its minutes.
    assert_eq!(refresh(&app, &other_login).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/me", &access).await.status, StatusCode::OK);
}

async fn a_refresh_token_is_stored_only_as_its_hash(app: TestApp) {
    let (_, first) = login(&app, "admin", ADMIN_PASSWORD).await;
    let r = refresh(&app, &first).await;
    let second = s(&r.body["refresh_token"]);
    let secret = |t: &str| t.trim_start_matches("gkr_").to_string();
    for table in [
        "SELECT token_hash || family_id AS value FROM refresh_tokens",
        "SELECT id || user_id AS value FROM refresh_families",
        "SELECT payload AS value FROM audit_log",
    ] {
        let rows = app.query_texts(table);
        assert!(!rows.is_empty(), "{table}");
        for token in [&first, &second] {
            assert!(
                rows.iter().all(|r| !r.contains(&secret(token))),
                "{table} holds a token"
            );
        }
    }
    assert_eq!(
        count(
            &app,
            &format!(
                "refresh_tokens WHERE token_hash IN ('{}', '{}')",
                hash(&first),
                hash(&second)
            )
        ),
        2
    );
}

async fn logout_ends_the_login_of_its_refresh_token(app: TestApp) {
    let (_, first) = login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, other_login) = login(&app, "admin", ADMIN_PASSWORD).await;
    let r = refresh(&app, &first).await;
    let second = s(&r.body["refresh_token"]);

    // No access token needed.
    let r = logout(&app, &json!({"refresh_token": second})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    refresh(&app, &second)
        .await
        .assert_oauth_error(400, "invalid_grant", "invalid_grant");
    let family = family_of(&app, &second);
    assert_eq!(
        app.query_texts(&format!(
            "SELECT revoked_reason AS value FROM refresh_families WHERE id = '{family}'"
        )),
        ["logout"]
    );
    let out = audited(&app, "logout").await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["payload"]["family"], family.as_str());

    // Again, with an unknown token, or as an RFC 7009 revocation form: 204, nothing audited.
    for body in [
        json!({"refresh_token": second}),
        json!({"refresh_token": "gkr_nope"}),
    ] {
        let r = logout(&app, &body).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    }
    assert_eq!(audited(&app, "logout").await.len(), 1);
    // The other login goes on until it is logged out the RFC 7009 way.
    let r = refresh(&app, &other_login).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let next = s(&r.body["refresh_token"]);
    let r = Resp::from(
        app.client
            .post(app.url("/api/v1/auth/logout"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "token={next}&token_type_hint=refresh_token&client_id=gongkai-spa"
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    refresh(&app, &next)
        .await
        .assert_oauth_error(400, "invalid_grant", "invalid_grant");
    assert_eq!(audited(&app, "logout").await.len(), 2);

    // No token, or two.
    let r = logout(&app, &json!({})).await;
    r.assert_oauth_error(400, "invalid_request", "validation_failed");
    let r = logout(&app, &json!({"refresh_token": next, "token": next})).await;
    r.assert_oauth_error(400, "invalid_request", "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "conflicting_fields");
}

async fn a_password_change_and_disabling_end_every_login_of_the_user(app: TestApp) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let (id, _) = app.create_user(&root, "wang.wu", &["clerk"]).await;
    let (_, a) = login(&app, "wang.wu", PASSWORD).await;
    let (_, b) = login(&app, "wang.wu", PASSWORD).await;
    let (_, admins) = login(&app, "admin", ADMIN_PASSWORD).await;
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            &json!({"password": "a brand new password"}),
            Some(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for t in [&a, &b] {
        refresh(&app, t)
            .await
            .assert_oauth_error(400, "invalid_grant", "invalid_grant");
    }
    // Other users' logins go on.
    assert_eq!(refresh(&app, &admins).await.status, StatusCode::OK);
    // Three logins: the one `create_user` made, and a and b.
    let updated = audited(&app, "user_updated").await;
    assert_eq!(updated[0]["payload"]["logins_ended"], 3, "{updated:?}");

    // Disabling: the login made with the new password ends too; re-enabling does not revive it.
    let (_, c) = login(&app, "wang.wu", "a brand new password").await;
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            &json!({"disabled": true}),
            Some(2),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            &json!({"disabled": false}),
            Some(3),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    refresh(&app, &c)
        .await
        .assert_oauth_error(400, "invalid_grant", "invalid_grant");
    assert_eq!(
        app.query_texts(&format!(
            "SELECT revoked_reason AS value FROM refresh_families WHERE user_id = '{id}' ORDER BY created_at"
        )),
        [
            "password_changed",
            "password_changed",
            "password_changed",
            "user_disabled"
        ]
    );
}

async fn an_unused_refresh_token_lapses(app: TestApp) {
    let (_, first) = login(&app, "admin", ADMIN_PASSWORD).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    refresh(&app, &first)
        .await
        .assert_oauth_error(400, "invalid_grant", "invalid_grant");
    // A refused expired token is not taken for a reuse: nothing was revoked.
    assert!(audited(&app, "refresh_token_reused").await.is_empty());
    assert_eq!(
        count(&app, "refresh_families WHERE revoked_at IS NOT NULL"),
        0
    );
}

async fn a_login_ends_at_its_absolute_limit_however_often_it_is_refreshed(app: TestApp) {
    let (_, first) = login(&app, "admin", ADMIN_PASSWORD).await;
    let r = refresh(&app, &first).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second = s(&r.body["refresh_token"]);
    // The new token's own lifetime (hours) is cut to the login's end.
    let family = family_of(&app, &second);
    assert_eq!(
        app.query_texts(&format!(
            "SELECT CAST(t.expires_at AS TEXT) AS value FROM refresh_tokens t WHERE t.token_hash = '{}'",
            hash(&second)
        )),
        app.query_texts(&format!(
            "SELECT CAST(expires_at AS TEXT) AS value FROM refresh_families WHERE id = '{family}'"
        ))
    );
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    refresh(&app, &second)
        .await
        .assert_oauth_error(400, "invalid_grant", "invalid_grant");
    // A new login starts a new family and forgets the ended one.
    let (_, fresh) = login(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(refresh(&app, &fresh).await.status, StatusCode::OK);
    assert_eq!(
        count(&app, &format!("refresh_families WHERE id = '{family}'")),
        0
    );
}

/// Two uses of one refresh token at the same moment, each at another server process on the same
/// database (as behind a load balancer): the conditional UPDATE lets one through; the other is a
/// reuse, which ends the login — the token just given to the first included.
async fn two_concurrent_uses_of_a_refresh_token_give_at_most_one_new_token(app: TestApp) {
    let (other, handle) = app.another_server().await;
    for round in 0..4 {
        let (_, token) = login(&app, "admin", ADMIN_PASSWORD).await;
        let (a, b) = tokio::join!(
            refresh_at(&app, &app.base, &token),
            refresh_at(&app, &other, &token)
        );
        let (won, lost) = match (a.status, b.status) {
            (StatusCode::OK, _) => (a, b),
            (_, StatusCode::OK) => (b, a),
            _ => panic!(
                "round {round}: neither got through: {} / {}",
                a.text, b.text
            ),
        };
        lost.assert_oauth_error(400, "invalid_grant", "invalid_grant");
        let family = family_of(&app, &token);
        assert_eq!(
            count(
                &app,
                &format!("refresh_tokens WHERE family_id = '{family}'")
            ),
            2,
            "round {round}: exactly one new token"
        );
        // The winner's new token went down with the login.
        refresh(&app, &s(&won.body["refresh_token"]))
            .await
            .assert_oauth_error(400, "invalid_grant", "invalid_grant");
    }
    handle.stop(false).await;
}
