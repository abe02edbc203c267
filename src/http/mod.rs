//! HTTP: actix-web and utoipa only. The one route table, handlers, DTOs, problem+json.
//!
//! Routes are registered through `utoipa-actix-web`, so the OpenAPI document and the router
//! come from the same calls. The document then doubles as the route table that answers 405
//! (with `Allow`) for a known path with an unknown method.

pub mod actions;
pub mod agencies;
pub mod audit;
pub mod auth;
pub mod bulk;
pub mod calendar;
pub mod clients;
pub mod documents;
pub mod dto;
pub mod extract;
pub mod feed;
pub mod health;
pub mod idempotency;
pub mod language;
pub mod letterheads;
pub mod middleware;
pub mod notice_render;
pub mod notices;
pub mod oauth;
pub mod office;
pub mod openapi_rules;
pub mod payloads;
pub mod problem;
pub mod remedies;
pub mod report_schema;
pub mod reports;
pub mod requests;
pub mod users;
pub mod webhooks;

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{App, HttpRequest, HttpResponse, ResponseError, web};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{self, OpenApi as OpenApiDoc};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use self::extract::{BodyLimit, path_error, query_error};
use self::problem::{ApiError, PROBLEM_JSON};
use crate::app::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gongkai",
        description = "Applications for disclosure of government information (政府信息公开申请) under the Regulation on Open Government Information (2019), and the statutory yearly report.\n\nErrors are RFC 9457 `application/problem+json` with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
        contact(name = "gongkai maintainers"),
    ),
    // Relative: the document is served by the service it describes, on the same origin.
    servers((url = "/", description = "This gongkai service (the origin that serves this document)")),
    modifiers(&SecurityAndErrors),
    // Schemas only parameters refer to (utoipa collects those of bodies by itself).
    components(schemas(
        report_schema::CellRowCode,
        report_schema::CellColumnCode,
        reports::ExportFormat,
        requests::RequestSortCode,
        requests::TotalKindCode,
        requests::TotalWantedCode,
        office::FlagCode,
        audit::AuditEntityCode
    )),
    tags(
        (name = "auth", description = "Log in; who am I"),
        (name = "agencies", description = "The agency tree"),
        (name = "users", description = "Users and roles"),
        (name = "clients", description = "System clients of provincial platforms: scopes, secrets, the client credentials grant"),
        (name = "calendar", description = "Working days, public holidays and adjusted working days"),
        (name = "requests", description = "Applications: intake, the statutory steps, the trail, the deadline"),
        (name = "office", description = "Work inside the office: departments, hand-overs between desks (分办, 签收, 转办, 退回, 协办), my queue"),
        (name = "actions", description = "The statutory steps of an application, one operation per action, each with its If-Match"),
        (name = "notices", description = "Written notices (告知书): drafted, approved, issued with a number, served; rendered as Word or HTML"),
        (name = "documents", description = "Documents on file: an application's papers (letter, envelope, identity copies, correction material, proofs of service, the signed reply), uploaded, versioned, downloaded byte for byte"),
        (name = "bulk", description = "Bulk import (NDJSON, CSV) and the streamed NDJSON export of applications"),
        (name = "remedies", description = "Administrative review and litigation records"),
        (name = "reports", description = "The yearly report: tables computed from the records, publishing, drill-down, exports, roll-ups"),
        (name = "feed", description = "The change feed: every event in commit order, by cursor"),
        (name = "webhooks", description = "Signed deliveries of feed events to a receiver, retried, with a delivery log"),
        (name = "public", description = "For applicants, without login"),
        (name = "operations", description = "Health, readiness and the audit log"),
    )
)]
struct ApiDocBase;

/// Adds the bearer scheme and the error responses every operation can give, so each
/// operation documents them without repeating them by hand.
struct SecurityAndErrors;

impl Modify for SecurityAndErrors {
    fn modify(&self, doc: &mut OpenApiDoc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The endpoints that answer errors in the RFC 6749 shape (`oauth::TokenError`), not as
/// problem+json.
pub const OAUTH_PATHS: [&str; 2] = ["/api/v1/auth/token", "/api/v1/auth/logout"];

/// Fills in the common error responses of each operation (called after the routes are known).
fn add_common_errors(doc: &mut OpenApiDoc) {
    use openapi::content::ContentBuilder;
    use openapi::response::ResponseBuilder;
    use openapi::{Ref, RefOr};

    let problem = |description: &str| -> RefOr<openapi::response::Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, op) in operations_mut(doc) {
        // Their errors are RFC 6749 `application/json`, each declared by the operation.
        if OAUTH_PATHS.contains(&path) {
            continue;
        }
        let has_path_param = path.contains('{');
        {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let has_body = op.request_body.is_some();
            let has_query = op
                .parameters
                .as_ref()
                .is_some_and(|ps| {
                    ps.iter().any(|p| {
                        matches!(p, RefOr::T(p) if p.parameter_in == openapi::path::ParameterIn::Query)
                    })
                });
            let header = |name: &str| {
                op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| matches!(p, RefOr::T(p) if p.name == name))
                })
            };
            let if_match = header("If-Match");
            let idempotency_key = header("Idempotency-Key");
            let responses = &mut op.responses.responses;
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem(description));
            };
            if has_body {
                add("400", "Malformed JSON (`invalid_json`)");
                add("413", "Body over the size limit (`payload_too_large`)");
                add(
                    "415",
                    "Body not application/json (`unsupported_media_type`)",
                );
                add(
                    "422",
                    "Invalid fields, each listed in `errors` (`validation_failed`)",
                );
            }
            if if_match {
                add(
                    "400",
                    "`If-Match` is not an ETag of this API (`invalid_if_match`)",
                );
                add(
                    "412",
                    "Stale `If-Match`: changed since it was read (`version_mismatch`)",
                );
                add(
                    "428",
                    "`If-Match` missing (`if_match_required`, RFC 6585): send the ETag you read",
                );
            }
            if idempotency_key {
                add(
                    "400",
                    "`Idempotency-Key` is not 1 to 200 visible characters (`invalid_idempotency_key`)",
                );
            }
            if has_query {
                add("400", "Invalid query parameters (`invalid_query`)");
                add("422", "Query parameter out of range (`validation_failed`)");
            }
            if secured {
                add(
                    "401",
                    "Missing, invalid, expired or revoked token (`missing_token`, `invalid_token`, `token_expired`)",
                );
            }
            if secured {
                add(
                    "403",
                    "Authenticated, but the caller's roles or scopes do not allow this (`forbidden`, `insufficient_scope`, `no_mapped_role`)",
                );
            }
            if has_path_param || secured {
                add("404", "No such record in the caller's scope (`not_found`)");
            }
            add(
                "500",
                "Internal error; nothing is revealed, the log has the cause (`internal_error`)",
            );
            add("503", "Database unavailable (`service_unavailable`)");
        }
    }
}

/// Makes each list envelope (`ListEnvelope_<Item>`) reference its item schema instead of
/// repeating it inline (utoipa inlines a generic's argument), so that a generated client has one
/// type per resource.
fn reference_list_items(doc: &mut OpenApiDoc) {
    use openapi::schema::{ArrayBuilder, Schema};
    use openapi::{Ref, RefOr};

    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for name in names {
        let Some(item) = name.strip_prefix("ListEnvelope_") else {
            continue;
        };
        if !components.schemas.contains_key(item) {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(envelope))) = components.schemas.get_mut(&name)
            && let Some(items) = envelope.properties.get_mut("items")
        {
            *items = RefOr::T(Schema::Array(
                ArrayBuilder::new()
                    .items(Ref::from_schema_name(item))
                    .description(Some("The items of this page."))
                    .build(),
            ));
        }
    }
}

/// Resources whose answers carry their version as `ETag` (send it back as `If-Match`).
const VERSIONED: [&str; 8] = [
    "RequestDto",
    "ClientDto",
    "ClientWithSecretDto",
    "LetterheadDto",
    "NoticeSettingsDto",
    "NoticeDto",
    "RemedyDto",
    "ReportDto",
];

/// Declares the response headers the service sends, on every operation that sends them:
/// `X-Request-Id` on every answer, `Location` on 201, `ETag` on answers carrying a versioned
/// resource, `Idempotent-Replayed` on creating POSTs that take an `Idempotency-Key`,
/// `Retry-After` on 429 and 503. Headers always sent are marked `required` (the API tests check
/// every answer against this).
fn declare_headers(doc: &mut OpenApiDoc) {
    use openapi::RefOr;
    use openapi::extensions::ExtensionsBuilder;
    use openapi::header::HeaderBuilder;
    use openapi::schema::{ObjectBuilder, Type};

    let header = |description: &str, required: bool, format: Option<&str>| {
        let mut schema = ObjectBuilder::new().schema_type(Type::String);
        if let Some(f) = format {
            schema = schema.format(Some(openapi::SchemaFormat::Custom(f.to_string())));
        }
        let mut h = HeaderBuilder::new()
            .schema(Some(schema.build()))
            .description(Some(description))
            .build();
        if required {
            h.extensions = Some(ExtensionsBuilder::new().add("required", true).build());
        }
        RefOr::T(h)
    };
    for (path, op) in operations_mut(doc) {
        let exported = path.ends_with("/export") || path.ends_with("/rollup");
        {
            let idempotent = op.parameters.as_ref().is_some_and(|ps| {
                ps.iter()
                    .any(|p| matches!(p, RefOr::T(p) if p.name == "Idempotency-Key"))
            });
            for (status, response) in op.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let headers = &mut response.headers;
                headers.insert(
                    "X-Request-Id".into(),
                    header(
                        "The request's id (the caller's `X-Request-Id` when it is sane, else a new UUID); every log line of the request carries it",
                        true,
                        None,
                    ),
                );
                let success = status == "200" || status == "201";
                if status == "201" {
                    headers.insert(
                        "Location".into(),
                        header("The created resource's path", false, Some("uri-reference")),
                    );
                }
                if success && idempotent {
                    headers.insert(
                        "Idempotent-Replayed".into(),
                        header(
                            "`true` when this is the stored first answer to an earlier request with the same `Idempotency-Key`",
                            false,
                            None,
                        ),
                    );
                }
                let versioned = response.content.get("application/json").is_some_and(|c| {
                    matches!(c, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(r))
                        if VERSIONED.iter().any(|v| r.ref_location.ends_with(&format!("/{v}")))))
                });
                if success && versioned && !exported {
                    headers.insert(
                        "ETag".into(),
                        header(
                            "The resource's version (a report's revision) in quotes, e.g. `\"3\"`: send it as `If-Match` to change the resource",
                            false,
                            None,
                        ),
                    );
                }
                if status == "429" {
                    headers.insert(
                        "Retry-After".into(),
                        header("Seconds to wait before trying again", false, None),
                    );
                }
                if status == "503" {
                    headers.insert(
                        "Retry-After".into(),
                        header(
                            "Seconds to wait before trying again, when known",
                            false,
                            None,
                        ),
                    );
                }
            }
        }
    }
}

/// Registers every API route. The same function feeds the router and the OpenAPI document.
fn register<T>(app: utoipa_actix_web::UtoipaApp<T>) -> utoipa_actix_web::UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.service(health::healthz)
        .service(health::readyz)
        .service(
            scope::scope("/api/v1")
                // First, the most requested: actix tries the scope's routes in this order, a
                // regular expression for each with a parameter, until one matches. Their order
                // among the routes of other prefixes changes nothing: none takes the others' paths.
                .service(requests::create_request)
                .service(requests::list_requests)
                // Before `/requests/{id}`, which would otherwise take it.
                .service(requests::get_request_by_reference)
                .service(requests::get_request)
                .service(requests::patch_request)
                .service(auth::issue_token)
                .service(auth::logout)
                .service(auth::me)
                .service(office::my_queue)
                .service(clients::create_client)
                .service(clients::list_clients)
                .service(clients::get_client)
                .service(clients::patch_client)
                .service(clients::rotate_client_secret)
                .service(agencies::create_agency)
                .service(agencies::list_agencies)
                .service(agencies::get_agency)
                .service(letterheads::get_letterhead)
                .service(letterheads::put_letterhead)
                .service(users::create_user)
                .service(users::list_users)
                .service(users::patch_user)
                .service(office::create_department)
                .service(office::list_departments)
                // The fixed paths before `/calendar/{year}`, which would otherwise take them.
                .service(calendar::add_working_days)
                .service(calendar::count_working_days)
                .service(calendar::get_calendar_year)
                .service(calendar::put_calendar_year)
                .service(office::assign)
                .service(office::claim)
                .service(office::transfer)
                .service(office::return_to_sender)
                .service(office::consult_internally)
                .service(office::answer_internal_consultation)
                .service(office::list_internal_consultations)
                .service(office::list_reminders)
                .service(actions::confirm_receipt)
                .service(actions::request_correction)
                .service(actions::receive_correction)
                .service(actions::start_consultation)
                .service(actions::record_consultation_receipt)
                .service(actions::end_consultation)
                .service(actions::issue_fee_notice)
                .service(actions::record_fee_notice_receipt)
                .service(actions::record_payment)
                .service(actions::waive_fee)
                .service(actions::extend)
                .service(actions::override_deadline)
                .service(actions::reply)
                .service(actions::close_uncorrected)
                .service(actions::close_unpaid)
                .service(actions::withdraw)
                .service(actions::record_reply_service)
                .service(notices::create_notice)
                .service(notices::list_notices)
                .service(notices::get_notice)
                .service(notices::patch_notice)
                .service(notices::submit_notice)
                .service(notices::approve_notice)
                .service(notices::return_notice)
                .service(notices::issue_notice)
                .service(notices::serve_notice)
                .service(notices::public_notices)
                .service(notices::get_notice_settings)
                .service(notices::put_notice_settings)
                .service(notice_render::render_notice)
                .service(notice_render::public_notice)
                .service(documents::upload_document)
                .service(documents::list_documents)
                .service(documents::get_document)
                .service(documents::download_document)
                .service(requests::list_events)
                .service(requests::get_deadline)
                .service(requests::dashboard)
                .service(requests::public_status)
                .service(bulk::import_requests)
                .service(bulk::export_requests)
                .service(remedies::create_review)
                .service(remedies::list_reviews)
                .service(remedies::get_review)
                .service(remedies::patch_review)
                .service(remedies::review_history)
                .service(remedies::create_litigation)
                .service(remedies::list_litigations)
                .service(remedies::get_litigation)
                .service(remedies::patch_litigation)
                .service(remedies::litigation_history)
                .service(reports::list_versions)
                .service(reports::cell_records)
                .service(reports::export_report)
                .service(reports::rollup_report)
                .service(reports::put_proactive)
                .service(reports::patch_proactive)
                .service(reports::put_narrative)
                .service(reports::patch_narrative)
                .service(reports::narrative_draft)
                .service(reports::publish_report)
                .service(reports::reopen_report)
                .service(reports::get_report)
                .service(feed::read_feed)
                .service(webhooks::create_webhook)
                .service(webhooks::list_webhooks)
                .service(webhooks::get_webhook)
                .service(webhooks::patch_webhook)
                .service(webhooks::list_deliveries)
                .service(webhooks::retry_failed)
                .service(audit::list_audit_log),
        )
}

/// The OpenAPI document, built by the same registration as the router.
pub fn openapi() -> OpenApiDoc {
    let (_, doc) =
        register(App::new().into_utoipa_app().openapi(ApiDocBase::openapi())).split_for_parts();
    finish_doc(doc)
}

/// Every operation of the document with its path.
fn operations_mut(
    doc: &mut OpenApiDoc,
) -> impl Iterator<Item = (&str, &mut openapi::path::Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ]
        .into_iter()
        .flatten()
        .map(move |op| (path.as_str(), op))
    })
}

/// What a linter and a generated client want of every operation: a description (the summary
/// when the doc comment has only one paragraph), `security: []` stated on the public ones, and
/// the exact shapes of the request headers the service parses itself — `If-Match` (the ETag
/// read, `"<version>"`, optionally weak) and `Idempotency-Key` (1 to 200 visible characters),
/// so that a conformance tool sends none the service would refuse.
fn tidy_operations(doc: &mut OpenApiDoc) {
    use openapi::RefOr;
    use openapi::schema::{ObjectBuilder, Type};

    for (_, op) in operations_mut(doc) {
        if op.description.is_none() {
            op.description = op.summary.clone();
        }
        if op.security.is_none() {
            op.security = Some(Vec::new());
        }
        for p in op.parameters.iter_mut().flatten() {
            let RefOr::T(p) = p else { continue };
            let schema = match p.name.as_str() {
                "If-Match" => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r#"^(W/)?"[0-9]{1,9}"$"#))
                    .examples(["\"3\""]),
                "Idempotency-Key" => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(200))
                    .pattern(Some("^[!-~]+$")),
                _ => continue,
            };
            p.schema = Some(schema.build().into());
        }
    }
}

fn finish_doc(mut doc: OpenApiDoc) -> OpenApiDoc {
    let missing = openapi_rules::apply(&mut doc);
    debug_assert!(
        missing.is_empty(),
        "request rules whose target is gone: {missing:?}"
    );
    tidy_operations(&mut doc);
    add_common_errors(&mut doc);
    declare_headers(&mut doc);
    reference_list_items(&mut doc);
    doc
}

/// The document as served at `/openapi.json` and checked in as `openapi/openapi.json`.
pub fn openapi_json() -> String {
    document_json(&openapi())
}

fn document_json(doc: &OpenApiDoc) -> String {
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".to_string());
    s.push('\n');
    s
}

/// Paths and methods known to the router, for 405 answers.
#[derive(Debug, Clone)]
pub struct RouteTable(Arc<Vec<Route>>);

/// One route template: its segments, which of them are literal (bit `n - 1 - i` for segment
/// `i`, so that comparing two masks of templates of one length compares them segment by
/// segment from the left), and its methods.
#[derive(Debug)]
struct Route {
    segments: Vec<String>,
    literal: u64,
    methods: Vec<Method>,
}

impl Route {
    fn new(path: &str, methods: Vec<Method>) -> Self {
        let segments: Vec<String> = segments(path).map(str::to_string).collect();
        let n = segments.len();
        let literal = segments
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.starts_with('{'))
            .fold(0u64, |mask, (i, _)| mask | 1u64 << (n - 1 - i).min(63));
        Self {
            segments,
            literal,
            methods,
        }
    }

    fn matches(&self, parts: &[&str]) -> bool {
        self.segments.len() == parts.len()
            && self.segments.iter().zip(parts).all(|(t, p)| {
                if t.starts_with('{') {
                    !p.is_empty()
                } else {
                    t == p
                }
            })
    }
}

impl RouteTable {
    fn from_doc(doc: &OpenApiDoc) -> Self {
        let mut routes = Vec::new();
        for (path, item) in &doc.paths.paths {
            let mut methods = Vec::new();
            for (present, m) in [
                (item.get.is_some(), Method::GET),
                (item.post.is_some(), Method::POST),
                (item.put.is_some(), Method::PUT),
                (item.patch.is_some(), Method::PATCH),
                (item.delete.is_some(), Method::DELETE),
            ] {
                if present {
                    methods.push(m);
                }
            }
            routes.push(Route::new(path, methods));
        }
        for extra in ["/openapi.json", "/docs", "/docs/"] {
            routes.push(Route::new(extra, vec![Method::GET]));
        }
        RouteTable(Arc::new(routes))
    }

    /// The methods allowed on a concrete path, if a route template matches it.
    ///
    /// The most specific template decides: where templates differ, a literal segment beats a
    /// `{param}` one, as the router registers them (`/requests/by-reference` before
    /// `/requests/{id}`). So `PATCH /requests/by-reference` is a 405 with `Allow: GET`, not a
    /// `PATCH /requests/{id}` with a bad id.
    pub fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        let parts: Vec<&str> = segments(path).collect();
        let best = self.best(&parts)?;
        let mut allowed: Vec<Method> = Vec::new();
        for route in self.0.iter() {
            if route.literal == best && route.matches(&parts) {
                for m in &route.methods {
                    if !allowed.contains(m) {
                        allowed.push(m.clone());
                    }
                }
            }
        }
        Some(allowed)
    }

    /// The methods allowed on `path` when `method` is not one of them (a 405), else `None`.
    /// Runs for every request: allocates only for a refusal.
    pub fn refuses(&self, path: &str, method: &Method) -> Option<Vec<Method>> {
        let mut parts = [""; 16];
        let mut n = 0;
        for p in segments(path) {
            if n == parts.len() {
                // Deeper than any route: the router answers 404.
                return None;
            }
            parts[n] = p;
            n += 1;
        }
        let parts = &parts[..n];
        let best = self.best(parts)?;
        let permitted = self
            .0
            .iter()
            .any(|r| r.literal == best && r.methods.contains(method) && r.matches(parts));
        if permitted { None } else { self.allowed(path) }
    }

    /// The literal mask of the most specific template matching `parts`.
    fn best(&self, parts: &[&str]) -> Option<u64> {
        self.0
            .iter()
            .filter(|r| r.matches(parts))
            .map(|r| r.literal)
            .max()
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

fn method_not_allowed(method: &Method, allowed: &[Method]) -> ApiError {
    let allow = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let value = HeaderValue::from_str(&allow).unwrap_or(HeaderValue::from_static("GET"));
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        crate::text!(
            "此路径不支持 {method} 方法；支持：{allow}",
            "{method} is not allowed here; allowed: {allow}"
        ),
    )
    .with_header(header::ALLOW, value)
}

/// The most bytes of request headers (names and values) a request may carry. Larger heads
/// answer 431 problem+json `headers_too_large`; beyond actix's own buffer (128 KiB) the
/// connection answers a bare 431 before any of this code runs.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Before routing: request headers over [`MAX_HEADER_BYTES`] answer 431; a known path asked
/// with a method it does not serve answers 405 with `Allow`, whichever handler the router would
/// otherwise have tried (a `{id}` route would take `PATCH /requests/by-reference` and answer
/// 404 for its id).
async fn known_methods_only(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        let response = ApiError::new(
            actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            crate::text!(
                "请求头共 {header_bytes} 字节，超过上限 {MAX_HEADER_BYTES} 字节",
                "the request headers take {header_bytes} bytes, more than the {MAX_HEADER_BYTES} allowed"
            ),
        )
        .error_response();
        return Ok(req.into_response(response));
    }
    let refused = req
        .app_data::<web::Data<RouteTable>>()
        .and_then(|routes| routes.refuses(req.path(), req.method()));
    match refused {
        Some(allowed) => {
            let response = method_not_allowed(req.method(), &allowed).error_response();
            Ok(req.into_response(response))
        }
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

/// Unknown route: 404; known route with another method: 405 with `Allow`.
async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    match routes.allowed(req.path()) {
        Some(methods) if !methods.contains(req.method()) => {
            Err(method_not_allowed(req.method(), &methods))
        }
        _ => Err(ApiError::not_found(crate::text!(
            "没有路径 {}",
            "no route for {}",
            req.path()
        ))),
    }
}

async fn openapi_document(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.as_ref().clone())
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

#[derive(Clone)]
struct OpenApiJson(Arc<String>);

/// The whole application: routes, docs, extractor configuration and middleware.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = state.settings.server.body_limit_bytes;
    let cors = cors(&state.settings.server.cors_allowed_origins);
    let policy = middleware::SecurityPolicy {
        hsts: state.settings.server.hsts,
        server_timing: state.settings.server.server_timing,
    };
    let languages = language::LanguagePolicy {
        default: state.settings.i18n.default_language.language(),
    };
    let (app, doc) =
        register(App::new().into_utoipa_app().openapi(ApiDocBase::openapi())).split_for_parts();
    let doc = finish_doc(doc);
    let routes = RouteTable::from_doc(&doc);
    // Every worker builds its own routes (and with them the document), but the served text is
    // made once per process from the first worker's document: it is a megabyte, and each copy
    // made on a worker thread stayed in that thread's allocator arena.
    static JSON: std::sync::OnceLock<Arc<String>> = std::sync::OnceLock::new();
    let json = OpenApiJson(JSON.get_or_init(|| Arc::new(document_json(&doc))).clone());
    app.app_data(state)
        .app_data(policy)
        .app_data(languages)
        .app_data(BodyLimit(body_limit))
        .app_data(web::PayloadConfig::new(body_limit))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::Data::new(routes))
        .app_data(web::Data::new(json))
        .route("/openapi.json", web::get().to(openapi_document))
        .route("/docs", web::get().to(docs_redirect))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::new(["/openapi.json"])),
        )
        .default_service(web::to(fallback))
        // Innermost first: the method check before routing; CORS answers preflights before
        // the method check (and the router) sees them; the request context renders every
        // failure as problem+json and puts the request id and the security headers on
        // everything.
        .wrap(actix_web::middleware::from_fn(known_methods_only))
        .wrap(cors)
        .wrap(actix_web::middleware::from_fn(middleware::request_context))
}

/// Request headers a browser app may send cross-origin.
pub const CORS_ALLOWED_HEADERS: [&str; 5] = [
    "authorization",
    "content-type",
    "if-match",
    "idempotency-key",
    "x-request-id",
];
/// Response headers a browser app may read cross-origin.
pub const CORS_EXPOSED_HEADERS: [&str; 6] = [
    "etag",
    "location",
    "retry-after",
    "x-request-id",
    "content-disposition",
    "idempotent-replayed",
];

/// CORS for the listed origins only (validated at start, `config::check_origin`). Another
/// origin's requests get no CORS headers (the browser then withholds the answer) and its
/// preflights are refused. No credentials: the API uses bearer tokens, not cookies.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers(CORS_ALLOWED_HEADERS)
        .expose_headers(CORS_EXPOSED_HEADERS)
        .max_age(600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}
