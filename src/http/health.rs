//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::ApiError;
use crate::app::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The process is up", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "The database answers", body = Health),
    (status = 503, description = "The database does not answer", body = super::problem::Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Within a second, database down or not: probes time out and act on the answer.
    state.ready(std::time::Duration::from_millis(800)).await?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}
