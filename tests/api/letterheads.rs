//! Letterheads (issue 13 item 1): set with If-Match, every field sent, checked, inherited field
//! by field down the agency tree, written only by admins of the agency or above, each change an
//! audit event.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    a_letterhead_is_set_with_if_match_and_inherited_field_by_field_down_the_tree,
    a_letterhead_missing_a_field_or_badly_formed_answers_422_listing_every_problem,
    only_an_admin_of_the_agency_or_above_changes_its_letterhead,
);

fn city() -> Value {
    json!({
        "official_name": "定西市人民政府", "seal_name": "定西市人民政府",
        "office_name": "定西市人民政府办公室", "address": "甘肃省定西市安定区中华路1号",
        "postcode": "743000", "telephone": "0932-8212345",
        "number_pattern": "定政依公开〔{year}〕{seq}号",
        "review_body": "甘肃省人民政府", "court": "定西市中级人民法院"
    })
}

fn path(agency: &str) -> String {
    format!("/api/v1/agencies/{agency}/letterhead")
}

async fn put(
    app: &TestApp,
    token: &str,
    agency: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Resp {
    let mut rb = app
        .request(Method::PUT, &path(agency), Some(token))
        .json(body);
    if let Some(v) = if_match {
        rb = rb.header("If-Match", format!("\"{v}\""));
    }
    Resp::from(rb.send().await.expect("send")).await
}

async fn a_letterhead_is_set_with_if_match_and_inherited_field_by_field_down_the_tree(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let dept = app.create_agency("MINZHENG", Some(&root)).await;

    let r = app.get(&path(&root), &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 0);
    assert_eq!(r.header("etag"), Some("\"0\""));
    assert_eq!(
        r.body["missing"],
        json!([
            "official_name",
            "seal_name",
            "number_pattern",
            "review_body",
            "court"
        ])
    );

    put(&app, &admin, &root, &city(), None)
        .await
        .assert_problem(428, "if_match_required");
    let r = put(&app, &admin, &root, &city(), Some("0")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.body["fields"], city());
    assert_eq!(r.body["effective"], city());
    assert_eq!(r.body["missing"], json!([]));
    // A second writer with the version it read before is refused.
    put(&app, &admin, &root, &city(), Some("0"))
        .await
        .assert_problem(412, "version_mismatch");

    // A department below sets its own name and seal and the court; the rest is the city's.
    let r = app.get(&path(&dept), &admin).await;
    assert_eq!(r.body["effective"], city(), "everything inherited");
    assert_eq!(r.body["inherited_from"]["court"], root.as_str());
    let mut own = json!({
        "official_name": "定西市民政局", "seal_name": "定西市民政局", "office_name": null,
        "address": null, "postcode": null, "telephone": "0932-8223456",
        "number_pattern": "定民依公开〔{year}〕{seq}号", "review_body": "定西市人民政府",
        "court": "定西市安定区人民法院"
    });
    let r = put(&app, &admin, &dept, &own, Some("0")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let e = &r.body["effective"];
    assert_eq!(e["official_name"], "定西市民政局");
    assert_eq!(
        e["review_body"], "定西市人民政府",
        "the department's review body is the city"
    );
    assert_eq!(e["address"], "甘肃省定西市安定区中华路1号", "inherited");
    assert_eq!(
        r.body["inherited_from"],
        json!({"address": root, "office_name": root, "postcode": root})
    );
    assert_eq!(r.body["fields"]["address"], Value::Null);

    // A change of the city shows in the department's letters at once; its own fields stay.
    let mut moved = city();
    moved["address"] = json!("甘肃省定西市安定区新址路2号");
    assert_eq!(
        put(&app, &admin, &root, &moved, Some("1")).await.status,
        StatusCode::OK
    );
    let r = app.get(&path(&dept), &admin).await;
    assert_eq!(
        r.body["effective"]["address"],
        "甘肃省定西市安定区新址路2号"
    );
    assert_eq!(r.body["effective"]["court"], "定西市安定区人民法院");

    // Sending the same letterhead again writes nothing; an empty text inherits like null.
    let r = put(&app, &admin, &dept, &own, Some("1")).await;
    assert_eq!(r.body["version"], 1, "unchanged");
    own["telephone"] = json!("  ");
    let r = put(&app, &admin, &dept, &own, Some("1")).await;
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["fields"]["telephone"], Value::Null);
    assert_eq!(r.body["effective"]["telephone"], "0932-8212345");

    // Each change is in the audit log with before and after.
    let log = app
        .get(
            &format!("/api/v1/audit-log?entity_type=agency&entity_id={dept}"),
            &admin,
        )
        .await;
    let changes: Vec<&Value> = log.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == "letterhead_changed")
        .collect();
    assert_eq!(changes.len(), 2, "{}", log.text);
}

async fn a_letterhead_missing_a_field_or_badly_formed_answers_422_listing_every_problem(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let r = put(
        &app,
        &admin,
        &root,
        &json!({"official_name": "定西市人民政府"}),
        Some("0"),
    )
    .await;
    r.assert_problem(422, "validation_failed");
    let fields = r.field_errors();
    for f in [
        "seal_name",
        "office_name",
        "address",
        "postcode",
        "telephone",
        "number_pattern",
        "review_body",
        "court",
    ] {
        assert!(
            fields.iter().any(|e| e.contains(f)),
            "{f} missing from {fields:?}"
        );
    }
    let mut bad = city();
    bad["postcode"] = json!("74300");
    bad["number_pattern"] = json!("定政依公开[{year}]{seq}号");
    bad["telephone"] = json!("call us");
    bad["color"] = json!("red");
    let r = put(&app, &admin, &root, &bad, Some("0")).await;
    r.assert_problem(422, "validation_failed");
    let mut bad = city();
    bad["postcode"] = json!("74300");
    bad["number_pattern"] = json!("定政依公开[{year}]{seq}号");
    bad["telephone"] = json!("call us");
    let r = put(&app, &admin, &root, &bad, Some("0")).await;
    r.assert_problem(422, "validation_failed");
    let codes: Vec<(String, String)> = r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or("").to_string(),
                e["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            ("postcode".to_string(), "invalid_format".to_string()),
            ("telephone".to_string(), "invalid_format".to_string()),
            (
                "number_pattern".to_string(),
                "invalid_number_pattern".to_string()
            ),
        ]
    );
    let r = app.get(&path(&root), &admin).await;
    assert_eq!(r.body["version"], 0, "nothing written");
}

async fn only_an_admin_of_the_agency_or_above_changes_its_letterhead(app: TestApp) {
    let admin = app.admin_token().await;
    let root = app.root_agency_id().await;
    let dept = app.create_agency("MINZHENG", Some(&root)).await;
    let other = app.create_agency("OTHER", Some(&root)).await;
    let (_, root_clerk) = app
        .create_user(&root, "root.clerk", &["clerk", "approver"])
        .await;
    let (_, dept_admin) = app.create_user(&dept, "dept.admin", &["admin"]).await;
    let (_, other_clerk) = app.create_user(&other, "other.clerk", &["clerk"]).await;

    put(&app, &root_clerk, &root, &city(), Some("0"))
        .await
        .assert_problem(403, "forbidden");
    // The department's admin reads the city's letterhead through its own, but not the city's.
    app.get(&path(&root), &dept_admin)
        .await
        .assert_problem(404, "not_found");
    put(&app, &dept_admin, &root, &city(), Some("0"))
        .await
        .assert_problem(404, "not_found");
    let r = put(&app, &dept_admin, &dept, &city(), Some("0")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Another agency's user sees neither.
    app.get(&path(&dept), &other_clerk)
        .await
        .assert_problem(404, "not_found");
    // The admin above may change the department's.
    let r = put(&app, &admin, &dept, &city(), Some("1")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 1, "the same fields: nothing to write");
}
