//! Notices rendered as official documents: `GET /notices/{id}/render?format=docx|html`.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::documents::attachment;
use super::extract::{ApiQuery, Authenticated};
use super::problem::ApiError;
use crate::app::notice_render::{self, Page};
use crate::app::notices as uc;
use crate::app::{AppError, AppState};

/// What to render the notice as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RenderFormat {
    /// A Word document (DOCX), editable.
    Docx,
    /// A standalone HTML page for the print preview.
    Html,
}

/// The format asked for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RenderQuery {
    /// `docx` (Word) or `html` (print preview).
    #[param(inline)]
    pub format: RenderFormat,
}

/// A Word document's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct WordDocument(Vec<u8>);

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// The print preview's own policy: its inline style, and nothing else (no script, no image, no
/// font or other resource from anywhere).
const HTML_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The notice as an official document (GB/T 9704-2012): a Word document or a print preview.
///
/// The layout of 《党政机关公文格式》: A4, margins top 37 mm, bottom 35 mm, left 28 mm, right
/// 26 mm; the title in 小标宋 二号 (22 pt) centred, the document number centred under it, the
/// body in 仿宋 三号 (16 pt) with a fixed line pitch of 28.95 pt (22 lines to the page) and a
/// first-line indent of two characters; at the end the agency's name centred over the date in
/// Chinese, the date four characters in from the right margin; the page number 「— 1 —」 under
/// the type area.
///
/// `format=docx` answers an editable Word document as an attachment (`filename*` carries the
/// title and the number); `format=html` a standalone page for the print preview (`@page` A4 with
/// the same margins; fonts with fallbacks; no script, no external resource; every text escaped).
/// An issued notice renders its frozen text, word for word; a notice not yet issued renders the
/// letter as it stands, with the number's placeholder and a 「草稿」 mark (in the page header of
/// the DOCX, at the top of the page in HTML).
#[utoipa::path(tag = "notices", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Notice id"), RenderQuery),
    responses(
        (status = 200, description = "The notice as a Word document or an HTML page", content(
            (WordDocument = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (String = "text/html"),
        ), headers(("Content-Disposition" = String, description = "DOCX only: attachment; filename=\"…\"; filename*=UTF-8''<title（number）>.docx"))),
        (status = 400, description = "No or an unknown `format` (`invalid_query`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such notice in your scope", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/notices/{id}/render")]
pub async fn render_notice(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
    query: ApiQuery<RenderQuery>,
) -> Result<HttpResponse, ApiError> {
    let v = uc::get(
        &state,
        actor,
        path.into_inner().to_string(),
        super::actions::parse_notice_fields,
    )
    .await?;
    rendered(&v, query.0.format)
}

/// The notice as a file in `format`.
fn rendered(v: &uc::NoticeView, format: RenderFormat) -> Result<HttpResponse, ApiError> {
    let page = Page::of(v);
    Ok(match format {
        RenderFormat::Docx => {
            let bytes = notice_render::docx(&page).map_err(AppError::bug)?;
            HttpResponse::Ok()
                .content_type(DOCX)
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    attachment(&format!("{}.docx", page.file_stem())),
                ))
                .insert_header((header::CACHE_CONTROL, "private, no-store"))
                .body(bytes)
        }
        RenderFormat::Html => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_SECURITY_POLICY, HTML_CSP))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .body(notice_render::html(&page)),
    })
}

/// The applicant's download: the case number, the query code and the format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PublicRenderQuery {
    pub case_number: String,
    pub query_code: String,
    /// `docx` (Word) or `html` (print preview).
    #[param(inline)]
    pub format: RenderFormat,
}

/// An issued notice of the application, for its applicant to download without login (case
/// number and query code; a wrong pair, a notice of another application, one not issued or one
/// addressed to someone else answer 404; limited per address with the status look-up). The first
/// download is the notice's service (`online`, served that day): it starts the applicant's clock
/// as any service does (a reply's review and litigation limits, a fee notice's 20 working days).
#[utoipa::path(tag = "public",
    params(("id" = Uuid, Path, description = "Notice id"), PublicRenderQuery),
    responses(
        (status = 200, description = "The notice", content(
            (WordDocument = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (String = "text/html"),
        )),
        (status = 400, description = "A bad parameter (`invalid_query`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such notice for this case number and query code (`not_found`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many look-ups from this address (`too_many_requests`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/public/notices/{id}")]
pub async fn public_notice(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    path: web::Path<Uuid>,
    query: ApiQuery<PublicRenderQuery>,
) -> Result<HttpResponse, ApiError> {
    let client = super::extract::client_addr(&req, &state.settings.server);
    let q = query.0;
    let v = uc::public_download(
        &state,
        client,
        q.case_number,
        q.query_code,
        path.into_inner().to_string(),
        super::actions::parse_notice_fields,
    )
    .await?;
    rendered(&v, q.format)
}
