//! Tokens of trusted identity providers (provincial platforms): RS256 with a PEM key, ES256
//! with a JWKS file; everything that is not exactly right answers 401.

use std::collections::BTreeMap;
use std::path::PathBuf;

use gongkai::config::{IssuerAlgorithm, TrustedIssuer};
use gongkai::startup::Application;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Db, FreshDb, Resp, TestApp, test_settings};

const RS_ISS: &str = "https://sso.example-province.gov.cn";
const ES_ISS: &str = "https://idp.example-city.gov.cn";
const AUD: &str = "gongkai-federated";
const AGENCY: &str = "PROV-EPB";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/federation")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

fn trusted(
    issuer: &str,
    alg: IssuerAlgorithm,
    pem: Option<&str>,
    jwks: Option<&str>,
) -> TrustedIssuer {
    TrustedIssuer {
        issuer: issuer.into(),
        audience: AUD.into(),
        algorithm: alg,
        public_key_pem_file: pem.map(fixture),
        jwks_file: jwks.map(fixture),
        agency_claim: "agency_code".into(),
        roles_claim: "roles".into(),
        role_map: BTreeMap::from([
            ("handler".into(), "clerk".into()),
            ("office_head".into(), "approver".into()),
            ("inspector".into(), "supervisor".into()),
        ]),
        name_claim: "name".into(),
    }
}

fn issuers() -> Vec<TrustedIssuer> {
    vec![
        trusted(RS_ISS, IssuerAlgorithm::Rs256, Some("rsa-public.pem"), None),
        trusted(ES_ISS, IssuerAlgorithm::Es256, None, Some("jwks.json")),
    ]
}

async fn spawn(db: Db) -> Option<TestApp> {
    TestApp::spawn_with(db, |s| s.auth.trusted_issuers = issuers()).await
}

fn claims(iss: &str, aud: &str, agency: &str, roles: &[&str]) -> Value {
    // The applications' clock (every pinned clock of the test process agrees), not the system's.
    let now = crate::helpers::test_clock().now().timestamp();
    json!({
        "iss": iss, "aud": aud, "sub": "p-1024", "name": "李四",
        "iat": now, "nbf": now - 5, "exp": now + 300,
        "agency_code": agency, "roles": roles,
    })
}

fn rs256(c: &Value, private_pem: &str) -> String {
    rs256_kid(c, private_pem, None)
}

fn rs256_kid(c: &Value, private_pem: &str, kid: Option<&str>) -> String {
    let key = EncodingKey::from_rsa_pem(&read(private_pem)).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, c, &key).unwrap()
}

fn es256(c: &Value, kid: Option<&str>) -> String {
    let key = EncodingKey::from_ec_pem(&read("ec-private.pem")).unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, c, &key).unwrap()
}

async fn me(app: &TestApp, token: &str) -> Resp {
    app.get("/api/v1/me", token).await
}

macro_rules! with_issuers {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = super::spawn(crate::helpers::Db::Sqlite).await.expect("sqlite");
                    super::$name(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = super::spawn(crate::helpers::Db::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

with_issuers!(
    good_rs256_and_es256_tokens_map_person_roles_and_agency,
    a_federated_clerk_registers_an_application_and_reads_its_trail,
    wrong_issuer_audience_key_algorithm_kid_agency_or_expiry_answer_401,
    a_token_with_no_mapped_role_answers_403,
);

async fn good_rs256_and_es256_tokens_map_person_roles_and_agency(app: TestApp) {
    let agency_id = app.create_agency(AGENCY, None).await;

    let token = rs256(
        &claims(RS_ISS, AUD, AGENCY, &["handler", "office_head", "canteen"]),
        "rsa-private.pem",
    );
    let r = me(&app, &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["kind"], "federated");
    assert_eq!(r.body["issuer"], RS_ISS);
    assert_eq!(r.body["user"]["id"], format!("{RS_ISS}#p-1024"));
    assert_eq!(r.body["user"]["display_name"], "李四");
    assert_eq!(r.body["user"]["agency_id"], agency_id.as_str());
    // `canteen` is not mapped and is ignored.
    assert_eq!(r.body["user"]["roles"], json!(["approver", "clerk"]));
    assert_eq!(r.body["agency"]["code"], AGENCY);
    assert!(r.body["user"].get("version").is_none());

    // ES256 through the JWKS file, the key picked by `kid`; no name claim: the subject.
    let mut c = claims(ES_ISS, AUD, AGENCY, &["inspector"]);
    c.as_object_mut().unwrap().remove("name");
    let r = me(&app, &es256(&c, Some("ec-2026"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["issuer"], ES_ISS);
    assert_eq!(r.body["user"]["username"], "p-1024");
    assert_eq!(r.body["user"]["roles"], json!(["supervisor"]));

    // A supervisor of the agency sees the (empty) list of its applications.
    let list = app
        .get("/api/v1/requests", &es256(&c, Some("ec-2026")))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["total"], 0);

    // Our own users are unaffected.
    let admin = me(&app, &app.admin_token().await).await;
    assert_eq!(admin.body["kind"], "user");
    assert!(admin.body["user"]["version"].is_number());
}

async fn a_federated_clerk_registers_an_application_and_reads_its_trail(app: TestApp) {
    app.create_agency(AGENCY, None).await;
    let token = rs256(
        &claims(RS_ISS, AUD, AGENCY, &["handler"]),
        "rsa-private.pem",
    );
    let body = json!({
        "channel": "online",
        "arrived_at": "2026-03-02T09:30:00+08:00",
        "confirmed_on": "2026-03-02",
        "applicant": {"kind": "natural_person", "name": "张三",
            "id_document": {"type": "resident_id_card", "number": "110101199003071233"},
            "phone": "13800000000"},
        "description": "2025年度本局行政许可决定清单",
    });
    let send = || {
        app.request(Method::POST, "/api/v1/requests", Some(&token))
            .header("Idempotency-Key", "fed-0001")
            .json(&body)
            .send()
    };
    let created = Resp::from(send().await.unwrap()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    // The idempotency key is kept per person, though no users row exists.
    let again = Resp::from(send().await.unwrap()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.body["id"], created.body["id"]);
    let id = created.body["id"].as_str().unwrap();
    let events = app
        .get(&format!("/api/v1/requests/{id}/events"), &token)
        .await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    assert!(!events.body.as_array().unwrap().is_empty());
    // Issue 17: the person is named with the provider's identity, not the name alone.
    let who = format!("李四 ({RS_ISS}#p-1024)");
    assert_eq!(events.body[0]["actor"], who.as_str(), "{}", events.text);
    assert_eq!(created.body["created_by"], who.as_str(), "{}", created.text);
    // Another 李四 at the same provider is told apart.
    let mut c = claims(RS_ISS, AUD, AGENCY, &["handler"]);
    c["sub"] = json!("p-2048");
    let other = rs256(&c, "rsa-private.pem");
    let mut body2 = body.clone();
    body2["description"] = json!("2025年度本局行政处罚决定清单");
    let second = app.post("/api/v1/requests", &other, &body2).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    assert_eq!(
        second.body["created_by"],
        format!("李四 ({RS_ISS}#p-2048)").as_str()
    );
}

async fn wrong_issuer_audience_key_algorithm_kid_agency_or_expiry_answer_401(app: TestApp) {
    app.create_agency(AGENCY, None).await;
    let roles = ["handler"];
    // Control: the same construction with everything right works.
    let good = rs256(&claims(RS_ISS, AUD, AGENCY, &roles), "rsa-private.pem");
    assert_eq!(me(&app, &good).await.status, StatusCode::OK);

    let cases: Vec<(&str, String)> = vec![
        (
            "unknown issuer",
            rs256(
                &claims("https://evil.example", AUD, AGENCY, &roles),
                "rsa-private.pem",
            ),
        ),
        (
            "wrong audience",
            rs256(
                &claims(RS_ISS, "another-api", AGENCY, &roles),
                "rsa-private.pem",
            ),
        ),
        (
            "another key",
            rs256(
                &claims(RS_ISS, AUD, AGENCY, &roles),
                "other-rsa-private.pem",
            ),
        ),
        (
            "ES256 where RS256 is configured",
            es256(&claims(RS_ISS, AUD, AGENCY, &roles), None),
        ),
        (
            "HS256 keyed with the public key (algorithm confusion)",
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims(RS_ISS, AUD, AGENCY, &roles),
                &EncodingKey::from_secret(&read("rsa-public.pem")).unwrap(),
            )
            .unwrap(),
        ),
        (
            "RS256 where ES256 is configured (with a known kid)",
            rs256_kid(
                &claims(ES_ISS, AUD, AGENCY, &roles),
                "rsa-private.pem",
                Some("ec-2026"),
            ),
        ),
        (
            "unknown kid",
            es256(&claims(ES_ISS, AUD, AGENCY, &roles), Some("ec-1999")),
        ),
        (
            "no kid for a JWKS issuer",
            es256(&claims(ES_ISS, AUD, AGENCY, &roles), None),
        ),
        (
            "unknown agency code",
            rs256(&claims(RS_ISS, AUD, "NO-SUCH", &roles), "rsa-private.pem"),
        ),
    ];
    for (what, token) in cases {
        let r = me(&app, &token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
        r.assert_problem(401, "invalid_token");
    }
    let r = me(
        &app,
        &rs256(
            &claims(RS_ISS, "another-api", AGENCY, &roles),
            "rsa-private.pem",
        ),
    )
    .await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("audience 不符"),
        "{}",
        r.text
    );
    let r = me(
        &app,
        &rs256(&claims(RS_ISS, AUD, "NO-SUCH", &roles), "rsa-private.pem"),
    )
    .await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("NO-SUCH"),
        "{}",
        r.text
    );

    let mut expired = claims(RS_ISS, AUD, AGENCY, &roles);
    let now = app.now().timestamp();
    expired["exp"] = json!(now - 600);
    me(&app, &rs256(&expired, "rsa-private.pem"))
        .await
        .assert_problem(401, "token_expired");
}

async fn a_token_with_no_mapped_role_answers_403(app: TestApp) {
    app.create_agency(AGENCY, None).await;
    let token = rs256(
        &claims(RS_ISS, AUD, AGENCY, &["canteen"]),
        "rsa-private.pem",
    );
    me(&app, &token).await.assert_problem(403, "no_mapped_role");
}

/// A key file that cannot be used stops the start, naming the issuer and the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_file_fails_startup_with_its_reason() {
    let fresh = FreshDb::new(Db::Sqlite).unwrap();
    for (issuer, expected) in [
        (
            trusted(RS_ISS, IssuerAlgorithm::Rs256, Some("missing.pem"), None),
            "cannot read",
        ),
        (
            trusted(RS_ISS, IssuerAlgorithm::Es256, Some("rsa-public.pem"), None),
            "EC",
        ),
    ] {
        let mut s = test_settings();
        s.database.url = fresh.url.clone();
        s.auth.trusted_issuers = vec![issuer];
        let err = match Application::build(s).await {
            Ok(_) => panic!("started with a bad key file"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(RS_ISS) && err.contains(expected), "{err}");
    }
}
