//! Documents on file (issue 13 item 8): uploads of an application's papers, recognised from
//! their content, kept under their SHA-256, versioned, scoped like the application, and
//! downloaded byte for byte.

use std::io::Write;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::Digest;

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    an_uploaded_pdf_downloads_byte_for_byte_with_its_sha256_etag_and_name,
    each_type_is_recognised_from_its_content_never_from_its_name_or_declared_type,
    a_bad_form_answers_422_naming_each_field_and_keeps_nothing,
    an_upload_over_the_limit_is_refused_with_nothing_stored,
    the_default_limit_takes_20_mib_less_one_byte_streamed_and_refuses_one_byte_more,
    a_new_version_supersedes_the_old_and_both_stay_downloadable,
    another_agencys_clerk_gets_404_for_the_documents_of_an_application,
    a_supervisor_of_the_parent_agency_reads_documents_but_cannot_upload,
    every_upload_writes_one_audit_event_and_a_refused_one_none,
    a_blob_altered_or_lost_on_disk_is_refused_on_download_and_repaired_by_uploading_it_again,
    two_server_processes_list_and_download_what_the_other_received,
    a_retried_upload_with_the_same_idempotency_key_keeps_one_document,
    a_published_year_does_not_freeze_the_documents_of_its_applications,
);

// ---------------------------------------------------------------------------------------------
// Files built here
// ---------------------------------------------------------------------------------------------

/// A small valid PDF (one empty A4 page, a correct cross-reference table), with a binary
/// comment line so that a byte-for-byte comparison means something.
fn pdf() -> Vec<u8> {
    let mut out: Vec<u8> = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A PDF padded with a comment to exactly `len` bytes.
fn pdf_of_len(len: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%".to_vec();
    out.resize(len, b'x');
    out
}

fn jpeg() -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    v.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xFF\xD9");
    v
}

fn png() -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    v.extend_from_slice(b"\0\0\0\x0DIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0");
    v
}

/// A ZIP with these entries (stored, not compressed).
fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, text) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(text.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn docx() -> Vec<u8> {
    zip_of(&[
        (
            "[Content_Types].xml",
            r#"<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#,
        ),
        ("word/document.xml", "<w:document/>"),
    ])
}

fn ofd() -> Vec<u8> {
    zip_of(&[
        ("OFD.xml", "<ofd:OFD/>"),
        ("Doc_0/Document.xml", "<ofd:Document/>"),
    ])
}

fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A clerk of the root agency and an application registered by it.
async fn clerk_and_application(app: &TestApp) -> (String, String) {
    let root = app.root_agency_id().await;
    let (_, clerk) = app.create_user(&root, "doc_clerk", &["clerk"]).await;
    let id = application(app, &clerk).await;
    (clerk, id)
}

async fn application(app: &TestApp, token: &str) -> String {
    application_of(app, token, "2026-09-01").await
}

/// A letter signed for on `date`.
async fn application_of(app: &TestApp, token: &str, date: &str) -> String {
    let r = app
        .post(
            "/api/v1/requests",
            token,
            &json!({
                "channel": "letter",
                "arrived_at": format!("{date}T09:30:00+08:00"),
                "signed_for_on": date,
                "applicant": {
                    "kind": "natural_person",
                    "name": "张三",
                    "id_document": {"type": "resident_id_card", "number": "110101199003071233"},
                    "phone": "010-65123456",
                },
                "description": "申请公开2025年本机关作出的建设项目环境影响评价批复文件",
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

/// A file part: name, declared type, bytes.
struct File<'a> {
    name: &'a str,
    mime: &'a str,
    bytes: Vec<u8>,
}

fn file(name: &str, bytes: Vec<u8>) -> File<'_> {
    File {
        name,
        mime: "application/octet-stream",
        bytes,
    }
}

fn form(file: Option<File<'_>>, fields: &[(&str, &str)]) -> Form {
    let mut f = Form::new();
    if let Some(file) = file {
        f = f.part(
            "file",
            Part::bytes(file.bytes)
                .file_name(file.name.to_string())
                .mime_str(file.mime)
                .unwrap(),
        );
    }
    for (k, v) in fields {
        f = f.text(k.to_string(), v.to_string());
    }
    f
}

async fn send_form(app: &TestApp, base: &str, token: &str, request_id: &str, f: Form) -> Resp {
    Resp::from(
        app.client
            .post(format!("{base}/api/v1/requests/{request_id}/documents"))
            .bearer_auth(token)
            .multipart(f)
            .send()
            .await
            .expect("send"),
    )
    .await
}

async fn upload(
    app: &TestApp,
    token: &str,
    request_id: &str,
    file: File<'_>,
    fields: &[(&str, &str)],
) -> Resp {
    send_form(app, &app.base, token, request_id, form(Some(file), fields)).await
}

/// Uploads and expects 201; returns the document.
async fn uploaded(
    app: &TestApp,
    token: &str,
    request_id: &str,
    file: File<'_>,
    fields: &[(&str, &str)],
) -> Value {
    let r = upload(app, token, request_id, file, fields).await;
    assert_eq!(r.status, StatusCode::CREATED, "upload: {}", r.text);
    r.body
}

/// The raw answer of a download.
struct Download {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Download {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn download(app: &TestApp, base: &str, token: &str, doc: &Value) -> Download {
    let r = app
        .client
        .get(format!(
            "{base}/api/v1/documents/{}/content",
            doc["id"].as_str().unwrap()
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    Download {
        status: r.status(),
        headers: r.headers().clone(),
        bytes: r.bytes().await.expect("body").to_vec(),
    }
}

async fn list(app: &TestApp, token: &str, request_id: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/requests/{request_id}/documents"), token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// The names in the documents folder (blobs and any temporary files).
fn folder(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&app.settings.documents.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn error_fields(r: &Resp) -> Vec<(String, String)> {
    r.body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or("").to_string(),
                        e["code"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

async fn an_uploaded_pdf_downloads_byte_for_byte_with_its_sha256_etag_and_name(app: TestApp) {
    let (clerk, id) = clerk_and_application(&app).await;
    let bytes = pdf();
    let r = upload(
        &app,
        &clerk,
        &id,
        File {
            name: "申请书（张三）.pdf",
            // The declared type is not what decides.
            mime: "text/plain",
            bytes: bytes.clone(),
        },
        &[("kind", "application_letter"), ("note", "原件已归档")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let doc = r.body.clone();
    let doc_id = doc["id"].as_str().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/documents/{doc_id}").as_str())
    );
    assert_eq!(doc["request_id"], id);
    assert_eq!(doc["kind"], "application_letter");
    assert_eq!(doc["name"], "申请书（张三）.pdf");
    assert_eq!(doc["media_type"], "application/pdf");
    assert_eq!(doc["size"], bytes.len());
    assert_eq!(doc["sha256"], sha256(&bytes));
    assert_eq!(doc["note"], "原件已归档");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["supersedes"], Value::Null);
    assert_eq!(doc["superseded_by"], Value::Null);
    assert_eq!(doc["uploaded_by"], "doc_clerk");
    assert_eq!(
        doc["content_url"],
        format!("/api/v1/documents/{doc_id}/content")
    );

    let d = download(&app, &app.base, &clerk, &doc).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.bytes == bytes, "the download differs from the upload");
    assert_eq!(
        d.header("etag"),
        Some(format!("\"{}\"", sha256(&bytes)).as_str())
    );
    assert_eq!(d.header("content-type"), Some("application/pdf"));
    assert_eq!(
        d.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    let cd = d.header("content-disposition").unwrap();
    assert!(cd.starts_with("attachment;"), "{cd}");
    // 申请书（张三）.pdf in UTF-8, percent-encoded.
    assert!(
        cd.contains(
            "filename*=UTF-8''%E7%94%B3%E8%AF%B7%E4%B9%A6%EF%BC%88%E5%BC%A0%E4%B8%89%EF%BC%89.pdf"
        ),
        "{cd}"
    );

    // Listed and read back as answered; kept once, under its hash.
    let l = list(&app, &clerk, &id).await;
    assert_eq!(l["total"], 1);
    assert_eq!(l["items"][0], doc);
    let one = app
        .get(&format!("/api/v1/documents/{doc_id}"), &clerk)
        .await;
    assert_eq!(one.body, doc);
    assert_eq!(folder(&app), vec![sha256(&bytes)]);
}

async fn each_type_is_recognised_from_its_content_never_from_its_name_or_declared_type(
    app: TestApp,
) {
    let (clerk, id) = clerk_and_application(&app).await;
    let docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    for (name, bytes, expected) in [
        ("envelope.pdf", jpeg(), "image/jpeg"),
        ("scan.jpg", png(), "image/png"),
        ("reply.pdf", docx(), docx_type),
        ("reply.docx", ofd(), "application/ofd"),
        ("letter.png", pdf(), "application/pdf"),
    ] {
        let doc = uploaded(
            &app,
            &clerk,
            &id,
            File {
                name,
                mime: "application/pdf",
                bytes: bytes.clone(),
            },
            &[("kind", "other")],
        )
        .await;
        assert_eq!(doc["media_type"], expected, "{name}");
        let d = download(&app, &app.base, &clerk, &doc).await;
        assert_eq!(d.header("content-type"), Some(expected), "{name}");
        assert!(d.bytes == bytes, "{name}");
    }
    let kept = folder(&app);
    assert_eq!(kept.len(), 5);
    // A text file named .pdf and declared as a PDF, a spreadsheet, a bare ZIP, an OFD.xml
    // that is not at the root, and an empty file: refused, nothing kept.
    let xlsx = zip_of(&[
        ("[Content_Types].xml", "<Types/>"),
        ("xl/workbook.xml", "<workbook/>"),
    ]);
    let nested = zip_of(&[("doc/OFD.xml", "<ofd:OFD/>")]);
    for (name, bytes) in [
        (
            "申请书.pdf",
            "这不是 PDF，只是一段文字。".as_bytes().to_vec(),
        ),
        ("table.docx", xlsx),
        ("reply.ofd", nested),
        ("empty.pdf", Vec::new()),
    ] {
        let r = upload(
            &app,
            &clerk,
            &id,
            File {
                name,
                mime: "application/pdf",
                bytes,
            },
            &[("kind", "application_letter")],
        )
        .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(
            error_fields(&r),
            vec![("file".to_string(), "unsupported_document_type".to_string())],
            "{name}: {}",
            r.text
        );
    }
    assert_eq!(folder(&app), kept, "a refused upload leaves no file");
    assert_eq!(list(&app, &clerk, &id).await["total"], 5);
}

async fn a_bad_form_answers_422_naming_each_field_and_keeps_nothing(app: TestApp) {
    let (clerk, id) = clerk_and_application(&app).await;
    let cases: Vec<(Form, Vec<(&str, &str)>)> = vec![
        (
            form(None, &[("kind", "envelope")]),
            vec![("file", "required")],
        ),
        (
            form(Some(file("a.pdf", pdf())), &[]),
            vec![("kind", "required")],
        ),
        (
            form(Some(file("a.pdf", pdf())), &[("kind", "letter")]),
            vec![("kind", "unknown_code")],
        ),
        (
            form(
                Some(file("a.pdf", pdf())),
                &[("kind", "envelope"), ("colour", "red")],
            ),
            vec![("colour", "unknown_field")],
        ),
        (
            form(
                Some(file("a.pdf", pdf())),
                &[("kind", "envelope"), ("kind", "other")],
            ),
            vec![("kind", "too_many")],
        ),
        (
            form(
                Some(file("a.pdf", pdf())),
                &[("kind", "envelope"), ("supersedes", "v1")],
            ),
            vec![("supersedes", "invalid_format")],
        ),
        (
            form(
                Some(file("a.pdf", pdf())),
                &[
                    ("kind", "envelope"),
                    ("supersedes", &uuid::Uuid::new_v4().to_string()),
                ],
            ),
            vec![("supersedes", "unknown_document")],
        ),
        (
            form(None, &[]),
            vec![("file", "required"), ("kind", "required")],
        ),
    ];
    for (f, expected) in cases {
        let r = send_form(&app, &app.base, &clerk, &id, f).await;
        r.assert_problem(422, "validation_failed");
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(error_fields(&r), expected, "{}", r.text);
    }
    // Two files.
    let two = form(Some(file("a.pdf", pdf())), &[("kind", "envelope")])
        .part("file", Part::bytes(png()).file_name("b.png"));
    let r = send_form(&app, &app.base, &clerk, &id, two).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        error_fields(&r),
        vec![("file".to_string(), "too_many".to_string())]
    );
    // Not a form at all; a form whose body is not multipart.
    app.post(
        &format!("/api/v1/requests/{id}/documents"),
        &clerk,
        &json!({"kind": "envelope"}),
    )
    .await
    .assert_problem(415, "unsupported_media_type");
    let r = Resp::from(
        app.client
            .post(app.url(&format!("/api/v1/requests/{id}/documents")))
            .bearer_auth(&clerk)
            .header("content-type", "multipart/form-data; boundary=XYZ")
            .body("this is not multipart")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(400, "invalid_body");
    // An unknown application.
    let r = upload(
        &app,
        &clerk,
        &uuid::Uuid::new_v4().to_string(),
        file("a.pdf", pdf()),
        &[("kind", "envelope")],
    )
    .await;
    r.assert_problem(404, "not_found");
    assert_eq!(list(&app, &clerk, &id).await["total"], 0);
    assert!(folder(&app).is_empty(), "{:?}", folder(&app));
}

async fn an_upload_over_the_limit_is_refused_with_nothing_stored(app: TestApp) {
    let app = TestApp::spawn_with(app.db, |s| s.documents.max_bytes = 1000)
        .await
        .expect("app");
    assert_eq!(app.settings.documents.max_bytes, 1000);
    let (clerk, id) = clerk_and_application(&app).await;
    let at_limit = pdf_of_len(1000);
    let doc = uploaded(
        &app,
        &clerk,
        &id,
        file("a.pdf", at_limit.clone()),
        &[("kind", "other")],
    )
    .await;
    assert_eq!(doc["size"], 1000);
    let r = upload(
        &app,
        &clerk,
        &id,
        file("b.pdf", pdf_of_len(1001)),
        &[("kind", "other")],
    )
    .await;
    r.assert_problem(413, "payload_too_large");
    // Far over: refused on the declared length, before the body is read.
    let r = upload(
        &app,
        &clerk,
        &id,
        file("c.pdf", pdf_of_len(200_000)),
        &[("kind", "other")],
    )
    .await;
    r.assert_problem(413, "payload_too_large");
    assert_eq!(
        folder(&app),
        vec![sha256(&at_limit)],
        "nothing but the accepted file"
    );
    assert_eq!(list(&app, &clerk, &id).await["total"], 1);
    // The JSON body limit is a separate setting, untouched.
    assert_eq!(app.settings.server.body_limit_bytes, 1024 * 1024);
}

async fn the_default_limit_takes_20_mib_less_one_byte_streamed_and_refuses_one_byte_more(
    app: TestApp,
) {
    const MIB: usize = 1024 * 1024;
    assert_eq!(app.settings.documents.max_bytes, 20 * MIB as u64);
    assert_eq!(
        app.settings.server.body_limit_bytes, MIB,
        "JSON bodies stay at 1 MiB"
    );
    let (clerk, id) = clerk_and_application(&app).await;
    let big = pdf_of_len(20 * MIB - 1);
    let doc = uploaded(
        &app,
        &clerk,
        &id,
        file("big.pdf", big.clone()),
        &[("kind", "other")],
    )
    .await;
    assert_eq!(doc["size"], 20 * MIB - 1);
    assert_eq!(doc["sha256"], sha256(&big));
    let d = download(&app, &app.base, &clerk, &doc).await;
    assert_eq!(d.bytes.len(), big.len());
    assert!(d.bytes == big);
    drop(d);
    let r = upload(
        &app,
        &clerk,
        &id,
        file("bigger.pdf", pdf_of_len(20 * MIB + 1)),
        &[("kind", "other")],
    )
    .await;
    r.assert_problem(413, "payload_too_large");
    assert_eq!(folder(&app), vec![sha256(&big)]);
    // A JSON body over 1 MiB is still refused.
    let r = app
        .post(
            "/api/v1/agencies",
            &app.admin_token().await,
            &json!({"code": "BIG", "name": "x".repeat(MIB + 10)}),
        )
        .await;
    r.assert_problem(413, "payload_too_large");
}

async fn a_new_version_supersedes_the_old_and_both_stay_downloadable(app: TestApp) {
    let (clerk, id) = clerk_and_application(&app).await;
    let first = pdf();
    let mut second = pdf();
    second.extend_from_slice(b"%% corrected scan\n");
    let v1 = uploaded(
        &app,
        &clerk,
        &id,
        file("送达回证.pdf", first.clone()),
        &[("kind", "proof_of_service")],
    )
    .await;
    let v1_id = v1["id"].as_str().unwrap().to_string();
    let v2 = uploaded(
        &app,
        &clerk,
        &id,
        file("送达回证（补）.pdf", second.clone()),
        &[("kind", "proof_of_service"), ("supersedes", &v1_id)],
    )
    .await;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["supersedes"], v1_id);
    let l = list(&app, &clerk, &id).await;
    assert_eq!(l["total"], 2);
    assert_eq!(l["items"][0]["id"], v1_id);
    assert_eq!(l["items"][0]["superseded_by"], v2["id"]);
    assert_eq!(l["items"][1]["id"], v2["id"]);
    assert_eq!(l["items"][1]["superseded_by"], Value::Null);
    assert!(download(&app, &app.base, &clerk, &v1).await.bytes == first);
    assert!(download(&app, &app.base, &clerk, &v2).await.bytes == second);
    // Only the latest version may be superseded.
    let r = upload(
        &app,
        &clerk,
        &id,
        file("x.pdf", pdf()),
        &[("kind", "proof_of_service"), ("supersedes", &v1_id)],
    )
    .await;
    r.assert_problem(409, "document_already_superseded");
    // A document of another application is not a version of this one's.
    let other = application(&app, &clerk).await;
    let r = upload(
        &app,
        &clerk,
        &other,
        file("x.pdf", pdf()),
        &[("kind", "other"), ("supersedes", &v1_id)],
    )
    .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(
        error_fields(&r),
        vec![("supersedes".to_string(), "unknown_document".to_string())]
    );
    // The same content twice is two documents over one blob.
    let again = uploaded(
        &app,
        &clerk,
        &other,
        file("copy.pdf", first.clone()),
        &[("kind", "other")],
    )
    .await;
    assert_eq!(again["sha256"], v1["sha256"]);
    assert_eq!(folder(&app).len(), 2);
    assert!(download(&app, &app.base, &clerk, &again).await.bytes == first);
    // Filtered by kind.
    let r = app
        .get(
            &format!("/api/v1/requests/{id}/documents?kind=proof_of_service"),
            &clerk,
        )
        .await;
    assert_eq!(r.body["total"], 2);
    let r = app
        .get(
            &format!("/api/v1/requests/{id}/documents?kind=envelope"),
            &clerk,
        )
        .await;
    assert_eq!(r.body["total"], 0);
}

async fn another_agencys_clerk_gets_404_for_the_documents_of_an_application(app: TestApp) {
    let (clerk, id) = clerk_and_application(&app).await;
    let town = app.create_agency("TOWN", None).await;
    let (_, outsider) = app.create_user(&town, "town_clerk", &["clerk"]).await;
    let doc = uploaded(
        &app,
        &clerk,
        &id,
        file("a.pdf", pdf()),
        &[("kind", "envelope")],
    )
    .await;
    let doc_id = doc["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/requests/{id}/documents"),
        format!("/api/v1/documents/{doc_id}"),
        format!("/api/v1/documents/{doc_id}/content"),
    ] {
        app.get(&path, &outsider)
            .await
            .assert_problem(404, "not_found");
    }
    upload(
        &app,
        &outsider,
        &id,
        file("b.pdf", pdf()),
        &[("kind", "envelope")],
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(list(&app, &clerk, &id).await["total"], 1);
}

async fn a_supervisor_of_the_parent_agency_reads_documents_but_cannot_upload(app: TestApp) {
    let city = app.create_agency("CITY", None).await;
    let dept = app.create_agency("CITY-EPB", Some(&city)).await;
    let (_, clerk) = app.create_user(&dept, "epb_clerk", &["clerk"]).await;
    let (_, supervisor) = app
        .create_user(&city, "city_supervisor", &["supervisor"])
        .await;
    let id = application(&app, &clerk).await;
    let bytes = pdf();
    let doc = uploaded(
        &app,
        &clerk,
        &id,
        file("a.pdf", bytes.clone()),
        &[("kind", "signed_reply")],
    )
    .await;
    let l = list(&app, &supervisor, &id).await;
    assert_eq!(l["items"][0]["id"], doc["id"]);
    let d = download(&app, &app.base, &supervisor, &doc).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.bytes == bytes);
    upload(
        &app,
        &supervisor,
        &id,
        file("b.pdf", pdf()),
        &[("kind", "signed_reply")],
    )
    .await
    .assert_problem(403, "forbidden");
    assert_eq!(list(&app, &clerk, &id).await["total"], 1);
    // A published year does not freeze documents; and a closed application takes them too
    // (the signed reply comes after the reply): nothing here depends on the state.
}

async fn every_upload_writes_one_audit_event_and_a_refused_one_none(app: TestApp) {
    let (clerk, id) = clerk_and_application(&app).await;
    let admin = app.admin_token().await;
    assert_eq!(events(&app, &admin).await.body["total"], 0);
    let bytes = pdf();
    let doc = uploaded(
        &app,
        &clerk,
        &id,
        file("a.pdf", bytes.clone()),
        &[("kind", "identity_copy")],
    )
    .await;
    upload(
        &app,
        &clerk,
        &id,
        file("a.txt", b"text".to_vec()),
        &[("kind", "identity_copy")],
    )
    .await
    .assert_problem(422, "validation_failed");
    let r = events(&app, &admin).await;
    assert_eq!(r.body["total"], 1, "{}", r.text);
    let e = &r.body["items"][0];
    assert_eq!(e["entity_id"], doc["id"]);
    assert_eq!(e["action"], "document_uploaded");
    assert_eq!(e["actor"], "doc_clerk");
    assert_eq!(e["payload"]["request_id"], id);
    assert_eq!(e["payload"]["sha256"], sha256(&bytes));
    assert_eq!(e["payload"]["kind"], "identity_copy");
}

async fn events(app: &TestApp, admin: &str) -> Resp {
    app.get("/api/v1/audit-log?entity_type=document", admin)
        .await
}

async fn a_blob_altered_or_lost_on_disk_is_refused_on_download_and_repaired_by_uploading_it_again(
    app: TestApp,
) {
    let (clerk, id) = clerk_and_application(&app).await;
    let bytes = pdf();
    let doc = uploaded(
        &app,
        &clerk,
        &id,
        file("a.pdf", bytes.clone()),
        &[("kind", "envelope")],
    )
    .await;
    let blob = app.settings.documents.dir.join(sha256(&bytes));
    // One byte changed, same length.
    let mut altered = bytes.clone();
    let last = altered.len() - 2;
    altered[last] ^= 0x01;
    std::fs::write(&blob, &altered).unwrap();
    let d = download(&app, &app.base, &clerk, &doc).await;
    assert_eq!(d.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(d.header("content-type"), Some("application/problem+json"));
    let problem: Value = serde_json::from_slice(&d.bytes).unwrap();
    assert_eq!(problem["code"], "stored_record_unreadable");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(doc["id"].as_str().unwrap())
    );
    // Lost.
    std::fs::remove_file(&blob).unwrap();
    let d = download(&app, &app.base, &clerk, &doc).await;
    assert_eq!(d.status, StatusCode::INTERNAL_SERVER_ERROR);
    // The same content uploaded again restores it, and the first document downloads again.
    std::fs::write(&blob, &altered).unwrap();
    uploaded(
        &app,
        &clerk,
        &id,
        file("again.pdf", bytes.clone()),
        &[("kind", "envelope")],
    )
    .await;
    let d = download(&app, &app.base, &clerk, &doc).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.bytes == bytes);
}

async fn two_server_processes_list_and_download_what_the_other_received(app: TestApp) {
    let (clerk, id) = clerk_and_application(&app).await;
    let (base2, handle) = app.another_server().await;
    let a = pdf();
    let b = docx();
    let r = send_form(
        &app,
        &base2,
        &clerk,
        &id,
        form(Some(file("second.pdf", a.clone())), &[("kind", "envelope")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let from_second = r.body;
    let from_first = uploaded(
        &app,
        &clerk,
        &id,
        file("first.docx", b.clone()),
        &[("kind", "signed_reply")],
    )
    .await;
    for base in [&app.base, &base2] {
        let l: Value = app
            .client
            .get(format!("{base}/api/v1/requests/{id}/documents"))
            .bearer_auth(&clerk)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(l["total"], 2, "{base}");
        assert!(
            download(&app, base, &clerk, &from_second).await.bytes == a,
            "{base}"
        );
        assert!(
            download(&app, base, &clerk, &from_first).await.bytes == b,
            "{base}"
        );
    }
    handle.stop(false).await;
}

async fn a_retried_upload_with_the_same_idempotency_key_keeps_one_document(app: TestApp) {
    let (clerk, id) = clerk_and_application(&app).await;
    let send = |bytes: Vec<u8>| {
        app.client
            .post(app.url(&format!("/api/v1/requests/{id}/documents")))
            .bearer_auth(&clerk)
            .header("Idempotency-Key", "upload-1")
            .multipart(form(Some(file("a.pdf", bytes)), &[("kind", "envelope")]))
            .send()
    };
    let first = Resp::from(send(pdf()).await.unwrap()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let again = Resp::from(send(pdf()).await.unwrap()).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(list(&app, &clerk, &id).await["total"], 1);
    // The same key with another file is another request.
    let other = Resp::from(send(png()).await.unwrap()).await;
    other.assert_problem(422, "validation_failed");
    assert_eq!(
        error_fields(&other),
        vec![(
            "Idempotency-Key".to_string(),
            "idempotency_key_reused".to_string()
        )]
    );
    assert_eq!(list(&app, &clerk, &id).await["total"], 1);
    // A retried new version answers its first answer, not "already superseded" by itself.
    let v1 = first.body["id"].as_str().unwrap().to_string();
    let send_v2 = || {
        app.client
            .post(app.url(&format!("/api/v1/requests/{id}/documents")))
            .bearer_auth(&clerk)
            .header("Idempotency-Key", "upload-2")
            .multipart(form(
                Some(file("b.png", png())),
                &[("kind", "envelope"), ("supersedes", &v1)],
            ))
            .send()
    };
    let v2 = Resp::from(send_v2().await.unwrap()).await;
    assert_eq!(v2.status, StatusCode::CREATED, "{}", v2.text);
    let again = Resp::from(send_v2().await.unwrap()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.body, v2.body);
    assert_eq!(list(&app, &clerk, &id).await["total"], 2);
}

async fn a_published_year_does_not_freeze_the_documents_of_its_applications(app: TestApp) {
    let root = app.root_agency_id().await;
    let (_, clerk) = app.create_user(&root, "doc_clerk", &["clerk"]).await;
    let id = application_of(&app, &clerk, "2025-03-03").await;
    let before = uploaded(
        &app,
        &clerk,
        &id,
        file("信封.jpg", jpeg()),
        &[("kind", "envelope")],
    )
    .await;
    let report = format!("/api/v1/agencies/{root}/reports/2025");
    let admin = app.admin_token().await;
    app.complete_narrative(&report, &admin).await;
    let r = app.publish_report(&report, &admin).await;
    assert_eq!(r.status, StatusCode::OK, "publish: {}", r.text);
    // The year's figures are frozen (a new application of 2025 is refused) …
    let r = app
        .post(
            "/api/v1/requests",
            &clerk,
            &json!({
                "channel": "in_person",
                "arrived_at": "2025-06-02T09:30:00+08:00",
                "applicant": {"kind": "natural_person", "name": "李四", "phone": "010-65123456"},
                "description": "申请公开某文件",
            }),
        )
        .await;
    r.assert_problem(409, "period_published");
    // … its applications' papers are not: a new document and a new version are kept.
    uploaded(
        &app,
        &clerk,
        &id,
        file("送达回证.pdf", pdf()),
        &[("kind", "proof_of_service")],
    )
    .await;
    let v2 = uploaded(
        &app,
        &clerk,
        &id,
        file("信封（清晰）.png", png()),
        &[
            ("kind", "envelope"),
            ("supersedes", before["id"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(v2["version"], 2);
    assert_eq!(list(&app, &clerk, &id).await["total"], 3);
}
