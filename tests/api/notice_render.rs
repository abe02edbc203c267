//! Notices rendered as official documents (issue 13 item 5): a DOCX in the layout of
//! GB/T 9704-2012 (A4, margins 37/35/28/26 mm, 小标宋 22 pt title, 仿宋 16 pt body) and an HTML
//! print preview with the same page; a draft is marked, an issued notice shows its frozen text.

use std::io::Read;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Resp, TestApp};

both_databases!(
    an_issued_correction_notice_renders_as_a_word_document_on_a4_with_the_gbt_9704_margins,
    the_print_preview_has_the_page_rule_and_escapes_the_offices_words,
    rendering_keeps_to_the_callers_scope_and_knows_its_formats,
);

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

struct Office {
    clerk: String,
    approver: String,
    root: String,
}

async fn office(app: &TestApp) -> Office {
    let root = app.root_agency_id().await;
    let (_, clerk) = app.create_user(&root, "clerk1", &["clerk"]).await;
    let (_, approver) = app.create_user(&root, "approver1", &["approver"]).await;
    let r = app
        .request(
            Method::PUT,
            &format!("/api/v1/agencies/{root}/letterhead"),
            Some(&app.admin_token().await),
        )
        .header("If-Match", "\"0\"")
        .json(&json!({
            "official_name": "定西市民政局", "seal_name": "定西市民政局",
            "office_name": "定西市民政局办公室", "address": "甘肃省定西市安定区永定路1号",
            "postcode": "743000", "telephone": "0932-8212345",
            "number_pattern": "定民依公开〔{year}〕{seq}号",
            "review_body": "定西市人民政府", "court": "定西市安定区人民法院"
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    Office {
        clerk,
        approver,
        root,
    }
}

async fn intake(app: &TestApp, token: &str) -> Value {
    let body = json!({
        "channel": "in_person",
        "arrived_at": "2026-03-02T09:30:00+08:00",
        "applicant": {"kind": "natural_person", "name": "张三",
                      "id_document": {"type": "resident_id_card", "number": "110101199003071233"}, "phone": "0932-1234567"},
        "description": "2025年本机关作出的建设项目环境影响评价批复文件",
    });
    let r = app.post("/api/v1/requests", token, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn correction(app: &TestApp, token: &str, request: &Value, paragraphs: Value) -> Value {
    let r = app
        .post(
            &format!("/api/v1/requests/{}/notices", id_of(request)),
            token,
            &json!({"type": "correction",
                    "fields": {"on": "2026-03-04", "items": ["写明所需信息的文号或者名称", "写明所需信息的年份"], "reply_by": "2026-03-18"},
                    "paragraphs": paragraphs}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn step(app: &TestApp, token: &str, notice: &Value, what: &str, body: Value) -> Value {
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/notices/{}/{what}", id_of(notice)),
            Some(token),
        )
        .header("If-Match", format!("\"{}\"", notice["version"]))
        .json(&body)
        .send()
        .await
        .expect("send");
    let r = Resp::from(r).await;
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text);
    r.body
}

/// The raw answer of a render.
struct Rendered {
    status: StatusCode,
    content_type: String,
    disposition: Option<String>,
    csp: Option<String>,
    bytes: Vec<u8>,
}

async fn render(app: &TestApp, token: &str, notice: &Value, format: &str) -> Rendered {
    let r = app
        .request(
            Method::GET,
            &format!("/api/v1/notices/{}/render?format={format}", id_of(notice)),
            Some(token),
        )
        .send()
        .await
        .expect("send");
    let h = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (status, content_type, disposition, csp) = (
        r.status(),
        h("content-type").unwrap_or_default(),
        h("content-disposition"),
        h("content-security-policy"),
    );
    let bytes = r.bytes().await.expect("body").to_vec();
    Rendered {
        status,
        content_type,
        disposition,
        csp,
        bytes,
    }
}

/// The XML parts of a DOCX by name.
fn parts(docx: &[u8]) -> Vec<(String, String)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(docx)).expect("a DOCX is a ZIP");
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).expect("entry");
        let name = f.name().expect("entry name").to_string();
        if name.ends_with(".xml") || name.ends_with(".rels") {
            let mut s = String::new();
            f.read_to_string(&mut s).expect("UTF-8 XML");
            out.push((name, s));
        }
    }
    out
}

fn part<'a>(parts: &'a [(String, String)], name: &str) -> &'a str {
    parts
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s.as_str())
        .unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                parts.iter().map(|p| &p.0).collect::<Vec<_>>()
            )
        })
}

/// The value of `attr` on the first `<tag …>` in `xml`.
fn attr(xml: &str, tag: &str, attr: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag} "))?;
    let end = start + xml[start..].find('>')?;
    let el = &xml[start..end];
    let key = format!(" {attr}=\"");
    let at = el.find(&key)? + key.len();
    Some(el[at..].split('"').next()?.to_string())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The text of each paragraph (`<w:p>`) of a part that has any, in order.
fn paragraph_texts(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<w:p") {
        let after = &rest[i + 4..];
        // `<w:p>` or `<w:p …>`, not `<w:pPr>`, `<w:pgSz …>` and the like.
        if !(after.starts_with('>') || after.starts_with(' ')) {
            rest = after;
            continue;
        }
        let end = after.find("</w:p>").unwrap_or(after.len());
        let mut p = &after[..end];
        rest = &after[end..];
        let mut text = String::new();
        while let Some(j) = p.find("<w:t") {
            let t = &p[j + 4..];
            // `<w:t>` or `<w:t xml:space="preserve">`, not `<w:tab/>` and the like.
            if !(t.starts_with('>') || t.starts_with(' ')) {
                p = t;
                continue;
            }
            let body = &t[t.find('>').expect("tag end") + 1..];
            let close = body.find("</w:t>").expect("</w:t>");
            text.push_str(&unescape(&body[..close]));
            p = &body[close..];
        }
        if !text.is_empty() {
            out.push(text);
        }
    }
    out
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn an_issued_correction_notice_renders_as_a_word_document_on_a4_with_the_gbt_9704_margins(
    app: TestApp,
) {
    let o = office(&app).await;
    let req = intake(&app, &o.clerk).await;
    let n = correction(&app, &o.clerk, &req, json!({})).await;

    // The draft: the number's placeholder, and the 草稿 mark in the page header.
    let d = render(&app, &o.clerk, &n, "docx").await;
    assert_eq!(
        d.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&d.bytes)
    );
    assert_eq!(d.content_type, DOCX);
    let draft = parts(&d.bytes);
    let headers: String = draft
        .iter()
        .filter(|(name, _)| name.starts_with("word/header"))
        .map(|(_, x)| x.as_str())
        .collect();
    assert!(
        headers.contains("草稿"),
        "the draft mark is in the header: {headers}"
    );
    assert!(part(&draft, "word/document.xml").contains("（文号于签发时编定）"));
    assert!(
        d.disposition
            .as_deref()
            .is_some_and(|v| v.contains(&percent("政府信息公开申请补正告知书（草稿）.docx"))),
        "{:?}",
        d.disposition
    );

    // Submitted, approved and issued: numbered, frozen.
    let n = step(&app, &o.clerk, &n, "submit", json!({})).await;
    let n = step(&app, &o.approver, &n, "approve", json!({"opinion": "同意"})).await;
    let n = step(&app, &o.clerk, &n, "issue", json!({})).await;
    assert_eq!(n["state"], "issued");
    assert_eq!(n["number"], "定民依公开〔2026〕1号");

    let r = render(&app, &o.clerk, &n, "docx").await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.bytes)
    );
    assert_eq!(r.content_type, DOCX);
    let disposition = r.disposition.clone().unwrap_or_default();
    assert!(
        disposition.starts_with("attachment;")
            && disposition.contains(&format!(
                "filename*=UTF-8''{}",
                percent("政府信息公开申请补正告知书（定民依公开〔2026〕1号）.docx")
            )),
        "{disposition}"
    );
    let issued = parts(&r.bytes);
    let doc = part(&issued, "word/document.xml");

    // The page: A4 and the GB/T 9704 margins, in twips.
    assert_eq!(
        attr(doc, "w:pgSz", "w:w").as_deref(),
        Some("11906"),
        "{doc}"
    );
    assert_eq!(attr(doc, "w:pgSz", "w:h").as_deref(), Some("16838"));
    assert_eq!(attr(doc, "w:pgMar", "w:top").as_deref(), Some("2098"));
    assert_eq!(attr(doc, "w:pgMar", "w:bottom").as_deref(), Some("1984"));
    assert_eq!(attr(doc, "w:pgMar", "w:left").as_deref(), Some("1587"));
    assert_eq!(attr(doc, "w:pgMar", "w:right").as_deref(), Some("1474"));

    // The fonts and sizes of the standard: 小标宋 二号 title, 仿宋 三号 body, fixed lines.
    assert!(doc.contains("<w:sz w:val=\"44\""), "title 22 pt");
    assert!(doc.contains("<w:sz w:val=\"32\""), "body 16 pt");
    assert!(doc.contains("方正小标宋简体") && doc.contains("仿宋_GB2312"));
    assert!(doc.contains("w:lineRule=\"exact\""), "fixed line pitch");

    // The words: exactly the frozen text, paragraph by paragraph.
    let texts = paragraph_texts(doc);
    let frozen: Vec<String> = n["text"]
        .as_str()
        .expect("text")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(
        texts, frozen,
        "the DOCX shows the issued text word for word"
    );
    assert_eq!(texts[0], "政府信息公开申请补正告知书");
    assert_eq!(texts[1], "定民依公开〔2026〕1号");
    assert!(texts.iter().any(|t| t == "1. 写明所需信息的文号或者名称"));
    assert!(texts.iter().any(|t| t == "2. 写明所需信息的年份"));
    assert!(
        texts
            .iter()
            .any(|t| t.contains("请于2026年3月18日前提交补正材料"))
    );
    assert_eq!(texts[texts.len() - 2], "定西市民政局");
    assert_eq!(texts[texts.len() - 1], "2026年3月4日");

    // The page number under the type area: 「— N —」, a PAGE field.
    let footers: String = issued
        .iter()
        .filter(|(name, _)| name.starts_with("word/footer"))
        .map(|(_, x)| x.as_str())
        .collect();
    assert!(
        footers.contains(">PAGE<") && footers.contains("— "),
        "{footers}"
    );

    // Issued: no draft mark anywhere, no placeholder.
    assert!(
        issued.iter().all(|(_, x)| !x.contains("草稿")),
        "an issued notice carries no draft mark"
    );
    assert!(!doc.contains("（文号于签发时编定）"));

    // The HTML of the issued notice shows the same words and no draft mark either.
    let h = render(&app, &o.clerk, &n, "html").await;
    let html = String::from_utf8(h.bytes).expect("UTF-8");
    assert!(html.contains("定民依公开〔2026〕1号") && html.contains("2026年3月18日"));
    assert!(!html.contains("草稿"), "{html}");
}

async fn the_print_preview_has_the_page_rule_and_escapes_the_offices_words(app: TestApp) {
    let o = office(&app).await;
    let req = intake(&app, &o.clerk).await;
    let n = correction(
        &app,
        &o.clerk,
        &req,
        json!({"office": "联系电话：0932-8212345。<script>alert(\"x\")</script> & <img src=x onerror=alert(1)>"}),
    )
    .await;
    let r = render(&app, &o.clerk, &n, "html").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type, "text/html; charset=utf-8");
    assert_eq!(r.disposition, None, "shown in the browser, not downloaded");
    let html = String::from_utf8(r.bytes).expect("UTF-8");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        html.contains("@page { size: A4; margin: 37mm 26mm 35mm 28mm }"),
        "{html}"
    );
    assert!(html.contains("\"FangSong\", \"仿宋\", \"仿宋_GB2312\""));
    assert!(html.contains("font-size: 22pt") && html.contains("font-size: 16pt"));
    // The office's words are text, never markup; there is no script and no external resource.
    assert!(
        html.contains(
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"
        ),
        "{html}"
    );
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<link"));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("url("));
    // A draft says so.
    assert!(html.contains("草稿") && html.contains("（文号于签发时编定）"));
    // Its own policy allows its inline style and nothing else.
    let csp = r.csp.unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("style-src 'unsafe-inline'")
            && !csp.contains("script-src"),
        "{csp}"
    );
    // The DOCX escapes it too (it is text in the XML, and the XML still parses as a ZIP part).
    let d = render(&app, &o.clerk, &n, "docx").await;
    let doc = parts(&d.bytes);
    let texts = paragraph_texts(part(&doc, "word/document.xml"));
    assert!(
        texts
            .iter()
            .any(|t| t.ends_with("<script>alert(\"x\")</script> & <img src=x onerror=alert(1)>")),
        "{texts:?}"
    );
}

async fn rendering_keeps_to_the_callers_scope_and_knows_its_formats(app: TestApp) {
    let o = office(&app).await;
    let req = intake(&app, &o.clerk).await;
    let n = correction(&app, &o.clerk, &req, json!({})).await;
    let other = app.create_agency("OTHER", Some(&o.root)).await;
    let (_, stranger) = app
        .create_user(&other, "other.clerk", &["clerk", "approver"])
        .await;
    for format in ["docx", "html"] {
        app.get(
            &format!("/api/v1/notices/{}/render?format={format}", id_of(&n)),
            &stranger,
        )
        .await
        .assert_problem(404, "not_found");
    }
    app.get(
        &format!(
            "/api/v1/notices/{}/render?format=docx",
            uuid::Uuid::new_v4()
        ),
        &o.clerk,
    )
    .await
    .assert_problem(404, "not_found");
    for query in ["?format=pdf", "", "?format=docx&paper=a3", "?format=DOCX"] {
        let r = app
            .get(
                &format!("/api/v1/notices/{}/render{query}", id_of(&n)),
                &o.clerk,
            )
            .await;
        r.assert_problem(400, "invalid_query");
        let field = if query.contains("paper") {
            "paper"
        } else {
            "format"
        };
        assert!(r.text.contains(field), "{query}: {}", r.text);
    }
    let r = app
        .request(
            Method::GET,
            &format!("/api/v1/notices/{}/render?format=docx", id_of(&n)),
            None,
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
