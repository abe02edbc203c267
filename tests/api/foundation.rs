//! Operations, agencies, users and scoping.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_databases;
use crate::helpers::{PASSWORD, TestApp};

both_databases!(
    health_and_readiness_answer_with_a_request_id,
    first_start_creates_the_root_agency_and_admin,
    admins_create_agencies_below_their_own_and_codes_are_unique,
    agency_validation_lists_every_bad_field,
    another_agencys_records_answer_404,
    supervisors_see_the_subtree_clerks_only_their_agency,
    users_are_managed_by_admins_with_if_match,
    disabling_a_user_revokes_its_tokens_and_login,
    changing_a_password_revokes_older_tokens,
    lists_use_one_envelope_and_validate_paging,
    data_survives_a_restart,
    admins_read_the_audit_log_of_their_subtree,
);

async fn health_and_readiness_answer_with_a_request_id(app: TestApp) {
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let id = r
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 36, "a generated UUID");
    let r = app
        .client
        .get(app.url("/readyz"))
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers().get("x-request-id").unwrap(), "trace-abc-123");
}

async fn first_start_creates_the_root_agency_and_admin(app: TestApp) {
    let token = app.admin_token().await;
    let me = app.get("/api/v1/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["username"], "admin");
    assert_eq!(me.body["agency"]["code"], "ROOT");
    assert_eq!(me.body["agency"]["parent_id"], serde_json::Value::Null);
    assert!(me.body["user"].get("password_hash").is_none());
    let roles = me.body["user"]["roles"].as_array().unwrap();
    assert!(roles.contains(&json!("admin")));
}

async fn admins_create_agencies_below_their_own_and_codes_are_unique(app: TestApp) {
    let token = app.admin_token().await;
    let root = app.root_agency_id().await;
    let r = app
        .post(
            "/api/v1/agencies",
            &token,
            &json!({"code": "city-01", "name": "某市人民政府", "region": "甘肃省定西市"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["code"], "CITY-01", "codes are stored upper-case");
    assert_eq!(r.body["parent_id"], root.as_str());
    assert_eq!(r.body["depth"], 1);
    let city = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/agencies/{city}").as_str())
    );

    let dept = app.create_agency("CITY-01-MZJ", Some(&city)).await;
    let r = app.get(&format!("/api/v1/agencies/{dept}"), &token).await;
    assert_eq!(r.body["depth"], 2);
    assert_eq!(r.body["parent_id"], city.as_str());

    let dup = app
        .post(
            "/api/v1/agencies",
            &token,
            &json!({"code": "City-01", "name": "again"}),
        )
        .await;
    dup.assert_problem(409, "agency_code_taken");

    // An admin of the city cannot create beside or above itself.
    let (_, city_admin) = app.create_user(&city, "city.admin", &["admin"]).await;
    let r = app
        .post(
            "/api/v1/agencies",
            &city_admin,
            &json!({"code": "X1", "name": "x", "parent_id": root}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), ["parent_id"]);
    let r = app
        .post(
            "/api/v1/agencies",
            &city_admin,
            &json!({"code": "X2", "name": "县"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["parent_id"], city.as_str());

    // A clerk is not an admin.
    let (_, clerk) = app.create_user(&city, "city.clerk", &["clerk"]).await;
    let r = app
        .post(
            "/api/v1/agencies",
            &clerk,
            &json!({"code": "X3", "name": "x"}),
        )
        .await;
    r.assert_problem(403, "forbidden");
}

async fn agency_validation_lists_every_bad_field(app: TestApp) {
    let token = app.admin_token().await;
    let r = app
        .post(
            "/api/v1/agencies",
            &token,
            &json!({"code": "含中文", "name": "   ", "region": "a\u{0}b"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), ["code", "name", "region"]);
    let r = app
        .post(
            "/api/v1/agencies",
            &token,
            &json!({"code": "A", "name": "x", "colour": "red"}),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .post("/api/v1/agencies", &token, &json!({"name": "x"}))
        .await;
    r.assert_problem(422, "validation_failed");
    assert!(r.body["detail"].as_str().unwrap().contains("code"));
}

async fn another_agencys_records_answer_404(app: TestApp) {
    let a = app.create_agency("A", None).await;
    let b = app.create_agency("B", None).await;
    let (b_user, _) = app.create_user(&b, "b.admin", &["admin"]).await;
    let (_, a_admin) = app.create_user(&a, "a.admin", &["admin"]).await;
    let r = app.get(&format!("/api/v1/agencies/{b}"), &a_admin).await;
    r.assert_problem(404, "not_found");
    let r = app
        .get(&format!("/api/v1/agencies/{b}/users"), &a_admin)
        .await;
    r.assert_problem(404, "not_found");
    let r = app
        .patch(
            &format!("/api/v1/users/{b_user}"),
            &a_admin,
            &json!({"disabled": true}),
            Some(1),
        )
        .await;
    r.assert_problem(404, "not_found");
    let r = app
        .post(
            &format!("/api/v1/agencies/{b}/users"),
            &a_admin,
            &json!({"username": "intruder", "password": PASSWORD, "roles": ["clerk"]}),
        )
        .await;
    r.assert_problem(404, "not_found");
    // A random id is the same 404.
    let r = app
        .get(
            &format!("/api/v1/agencies/{}", uuid::Uuid::new_v4()),
            &a_admin,
        )
        .await;
    r.assert_problem(404, "not_found");
}

async fn supervisors_see_the_subtree_clerks_only_their_agency(app: TestApp) {
    let city = app.create_agency("CITY", None).await;
    let dept = app.create_agency("DEPT", Some(&city)).await;
    let other = app.create_agency("OTHER", None).await;
    let (_, supervisor) = app.create_user(&city, "city.sup", &["supervisor"]).await;
    let (_, clerk) = app.create_user(&city, "city.clerk", &["clerk"]).await;

    let r = app.get("/api/v1/agencies", &supervisor).await;
    let codes: Vec<_> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 2);
    assert!(codes.contains(&"CITY".to_string()) && codes.contains(&"DEPT".to_string()));
    assert_eq!(r.body["total"], 2);
    assert_eq!(
        app.get(&format!("/api/v1/agencies/{dept}"), &supervisor)
            .await
            .status,
        StatusCode::OK
    );
    app.get(&format!("/api/v1/agencies/{other}"), &supervisor)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(
        app.get(&format!("/api/v1/agencies/{city}/users"), &supervisor)
            .await
            .status,
        StatusCode::OK
    );

    let r = app.get("/api/v1/agencies", &clerk).await;
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["items"][0]["code"], "CITY");
    app.get(&format!("/api/v1/agencies/{dept}"), &clerk)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/api/v1/agencies/{city}/users"), &clerk)
        .await
        .assert_problem(403, "forbidden");
}

async fn users_are_managed_by_admins_with_if_match(app: TestApp) {
    let token = app.admin_token().await;
    let city = app.create_agency("CITY", None).await;
    let r = app
        .post(
            &format!("/api/v1/agencies/{city}/users"),
            &token,
            &json!({"username": "Zhang.San", "display_name": "张三", "password": PASSWORD, "roles": ["clerk", "approver"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["username"], "zhang.san");
    assert_eq!(r.body["roles"], json!(["approver", "clerk"]));
    assert_eq!(r.header("etag"), Some("\"1\""));
    let id = r.body["id"].as_str().unwrap().to_string();

    let dup = app
        .post(
            &format!("/api/v1/agencies/{city}/users"),
            &token,
            &json!({"username": "ZHANG.SAN", "password": PASSWORD, "roles": ["clerk"]}),
        )
        .await;
    dup.assert_problem(409, "username_taken");
    let bad = app
        .post(
            &format!("/api/v1/agencies/{city}/users"),
            &token,
            &json!({"username": "x", "password": "short", "roles": ["boss"]}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    let bad = app
        .post(
            &format!("/api/v1/agencies/{city}/users"),
            &token,
            &json!({"username": "xyz", "password": PASSWORD, "roles": []}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.field_errors(), ["roles"]);

    let path = format!("/api/v1/users/{id}");
    app.patch(&path, &token, &json!({"roles": ["clerk"]}), None)
        .await
        .assert_problem(428, "if_match_required");
    app.patch(&path, &token, &json!({"roles": ["clerk"]}), Some(7))
        .await
        .assert_problem(412, "version_mismatch");
    let r = app
        .patch(&path, &token, &json!({"roles": ["clerk"]}), Some(1))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["roles"], json!(["clerk"]));
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    // The same stale version again loses.
    app.patch(&path, &token, &json!({"roles": ["admin"]}), Some(1))
        .await
        .assert_problem(412, "version_mismatch");

    // Admins cannot lock themselves out.
    let me = app.get("/api/v1/me", &token).await;
    let my_id = me.body["user"]["id"].as_str().unwrap().to_string();
    let v = me.body["user"]["version"].as_i64().unwrap();
    app.patch(
        &format!("/api/v1/users/{my_id}"),
        &token,
        &json!({"disabled": true}),
        Some(v),
    )
    .await
    .assert_problem(409, "cannot_lock_out_self");
}

async fn disabling_a_user_revokes_its_tokens_and_login(app: TestApp) {
    let token = app.admin_token().await;
    let city = app.create_agency("CITY", None).await;
    let (id, user_token) = app.create_user(&city, "soon.gone", &["clerk"]).await;
    assert_eq!(
        app.get("/api/v1/me", &user_token).await.status,
        StatusCode::OK
    );
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &token,
            &json!({"disabled": true}),
            Some(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.get("/api/v1/me", &user_token)
        .await
        .assert_problem(401, "invalid_token");
    let login = app.login("soon.gone", PASSWORD).await;
    login.assert_oauth_error(400, "invalid_grant", "invalid_credentials");
    // Same answer as an unknown user.
    let unknown = app.login("nobody.here", PASSWORD).await;
    unknown.assert_oauth_error(400, "invalid_grant", "invalid_credentials");
    assert_eq!(login.body["detail"], unknown.body["detail"]);
    // Re-enabled: the old token stays dead, a new login works.
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &token,
            &json!({"disabled": false}),
            Some(2),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.get("/api/v1/me", &user_token)
        .await
        .assert_problem(401, "invalid_token");
    let fresh = app.token("soon.gone", PASSWORD).await;
    assert_eq!(app.get("/api/v1/me", &fresh).await.status, StatusCode::OK);
}

async fn changing_a_password_revokes_older_tokens(app: TestApp) {
    let token = app.admin_token().await;
    let city = app.create_agency("CITY", None).await;
    let (id, old) = app.create_user(&city, "li.si", &["clerk"]).await;
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &token,
            &json!({"password": "a brand new password"}),
            Some(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.get("/api/v1/me", &old)
        .await
        .assert_problem(401, "invalid_token");
    app.login("li.si", PASSWORD).await.assert_oauth_error(
        400,
        "invalid_grant",
        "invalid_credentials",
    );
    let new = app.token("li.si", "a brand new password").await;
    assert_eq!(app.get("/api/v1/me", &new).await.status, StatusCode::OK);
}

async fn lists_use_one_envelope_and_validate_paging(app: TestApp) {
    let token = app.admin_token().await;
    for i in 0..5 {
        app.create_agency(&format!("AG{i}"), None).await;
    }
    let r = app.get("/api/v1/agencies?per_page=2&page=2", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["page"], 2);
    assert_eq!(r.body["per_page"], 2);
    assert_eq!(r.body["total"], 6);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    // Pages do not overlap and cover everything: a stable order.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let r = app
            .get(&format!("/api/v1/agencies?per_page=2&page={page}"), &token)
            .await;
        for item in r.body["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_string());
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6);
    let r = app.get("/api/v1/agencies?q=AG3", &token).await;
    assert_eq!(r.body["total"], 1);

    let r = app.get("/api/v1/agencies?per_page=0", &token).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.field_errors(), ["per_page"]);
    let r = app.get("/api/v1/agencies?page=abc", &token).await;
    r.assert_problem(400, "invalid_query");
    assert_eq!(r.field_errors(), ["page"]);
    let r = app.get("/api/v1/agencies?bogus=1", &token).await;
    r.assert_problem(400, "invalid_query");
}

async fn data_survives_a_restart(app: TestApp) {
    let id = app.create_agency("KEEP", None).await;
    let settings = app.settings.clone();
    // A second process on the same database sees the data and does not bootstrap again.
    let second = gongkai::startup::Application::build(settings)
        .await
        .unwrap();
    let port = second.port();
    let server = second.into_server();
    let handle = server.handle();
    tokio::spawn(server);
    let base = format!("http://127.0.0.1:{port}");
    let token = app.admin_token().await;
    let r = app
        .client
        .request(Method::GET, format!("{base}/api/v1/agencies/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .get(format!("{base}/api/v1/agencies"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["total"], 2,
        "one root, one created: no second bootstrap"
    );
    handle.stop(false).await;
}

async fn admins_read_the_audit_log_of_their_subtree(app: TestApp) {
    let token = app.admin_token().await;
    let city = app.create_agency("CITY", None).await;
    let (user_id, _) = app.create_user(&city, "city.clerk", &["clerk"]).await;
    let (_, city_admin) = app.create_user(&city, "city.admin", &["admin"]).await;
    let other = app.create_agency("OTHER", None).await;
    app.create_user(&other, "other.clerk", &["clerk"]).await;

    let r = app
        .get(
            &format!("/api/v1/audit-log?entity_type=user&entity_id={user_id}"),
            &token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let actions: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"user_created"), "{actions:?}");
    assert!(actions.contains(&"token_issued"), "{actions:?}");
    assert_eq!(r.body["items"][0]["entity_id"], user_id.as_str());

    // An entity type the log does not have is a bad query, not an empty page.
    let r = app
        .get("/api/v1/audit-log?entity_type=AAA", &city_admin)
        .await;
    r.assert_problem(400, "invalid_query");

    // The city's admin sees the city's entries, not the other agency's.
    let r = app
        .get(
            "/api/v1/audit-log?entity_type=user&per_page=200",
            &city_admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let agencies: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["agency_id"].as_str())
        .collect();
    assert!(!agencies.is_empty());
    assert!(agencies.iter().all(|a| *a == city), "{agencies:?}");

    let (_, clerk) = app.create_user(&city, "city.clerk2", &["clerk"]).await;
    app.get("/api/v1/audit-log", &clerk)
        .await
        .assert_problem(403, "forbidden");
}
