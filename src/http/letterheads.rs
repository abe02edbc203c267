//! An agency's letterhead (信笺): what its notices print, and the remedy bodies they name.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::instant;
use super::extract::{ApiJson, Authenticated, Ctx, IfMatch, from_value};
use super::problem::ApiError;
use crate::app::letterheads::{self as uc, LetterheadView};
use crate::app::{AppError, AppState};
use crate::domain::letterhead::{self, Letterhead};
use crate::domain::validation::FieldError;
use serde_json::Value;

/// A field that must be sent, as a value or `null`.
fn present<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(de)
}

/// The fields of a letterhead. In a `PUT` every field must be sent: a text sets it, `null`
/// (or an empty text) leaves it to the agencies above.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "official_name": "定西市民政局", "seal_name": "定西市民政局",
    "office_name": "定西市民政局政府信息公开工作办公室", "address": "甘肃省定西市安定区永定路1号",
    "postcode": "743000", "telephone": "0932-8212345",
    "number_pattern": "定民依公开〔{year}〕{seq}号",
    "review_body": "定西市人民政府", "court": "定西市安定区人民法院"
}))]
pub struct LetterheadFields {
    /// 机关全称.
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub official_name: Option<String>,
    /// The name on the seal (落款).
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub seal_name: Option<String>,
    /// 政府信息公开工作机构.
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub office_name: Option<String>,
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub address: Option<String>,
    /// Six digits.
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub postcode: Option<String>,
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub telephone: Option<String>,
    /// 发文字号 pattern: `{year}` in 〔〕 and `{seq}` once each, e.g. `定民依公开〔{year}〕{seq}号`
    /// (GB/T 9704-2012; numbers print without leading zeros).
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub number_pattern: Option<String>,
    /// 行政复议机关. Since 2024-01-01 as a rule the people's government at the same level; for
    /// vertically managed agencies (customs, tax, financial regulation, foreign exchange, state
    /// security) the agency one level up; for a people's government, the government above it.
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub review_body: Option<String>,
    /// The court of first instance.
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub court: Option<String>,
}

impl From<&Letterhead> for LetterheadFields {
    fn from(l: &Letterhead) -> Self {
        LetterheadFields {
            official_name: l.official_name.clone(),
            seal_name: l.seal_name.clone(),
            office_name: l.office_name.clone(),
            address: l.address.clone(),
            postcode: l.postcode.clone(),
            telephone: l.telephone.clone(),
            number_pattern: l.number_pattern.clone(),
            review_body: l.review_body.clone(),
            court: l.court.clone(),
        }
    }
}

impl From<LetterheadFields> for Letterhead {
    fn from(f: LetterheadFields) -> Self {
        Letterhead {
            official_name: f.official_name,
            seal_name: f.seal_name,
            office_name: f.office_name,
            address: f.address,
            postcode: f.postcode,
            telephone: f.telephone,
            number_pattern: f.number_pattern,
            review_body: f.review_body,
            court: f.court,
        }
    }
}

/// An agency's letterhead.
#[derive(Debug, Serialize, ToSchema)]
pub struct LetterheadDto {
    pub agency_id: Uuid,
    /// The version of the agency's own letterhead (0 while it has none); also the `ETag`.
    pub version: i32,
    /// What the agency itself sets (`null`: inherited).
    pub fields: LetterheadFields,
    /// What its letters print: each field from the nearest agency that sets it.
    pub effective: LetterheadFields,
    /// Field → the agency above whose value `effective` shows.
    pub inherited_from: BTreeMap<String, Uuid>,
    /// Fields a letter needs that no agency in the chain sets (`official_name`, `seal_name`,
    /// `number_pattern`, `review_body`, `court`).
    pub missing: Vec<String>,
    #[schema(required)]
    pub updated_by: Option<String>,
    #[schema(required)]
    pub updated_at: Option<DateTime<Utc>>,
}

fn answer(v: LetterheadView) -> HttpResponse {
    let dto = LetterheadDto {
        agency_id: Uuid::parse_str(&v.agency_id).unwrap_or_default(),
        version: v.version,
        fields: LetterheadFields::from(&v.own),
        effective: LetterheadFields::from(&v.effective.fields),
        inherited_from: v
            .effective
            .inherited_from
            .iter()
            .map(|(f, id)| ((*f).to_string(), Uuid::parse_str(id).unwrap_or_default()))
            .collect(),
        missing: v
            .effective
            .missing
            .iter()
            .map(|f| (*f).to_string())
            .collect(),
        updated_by: v.updated_by,
        updated_at: v.updated_at.map(instant),
    };
    HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", dto.version)))
        .json(dto)
}

/// An agency's letterhead: its own fields and what its letters print (inherited down the tree).
#[utoipa::path(tag = "agencies", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Agency id")),
    responses(
        (status = 200, description = "The letterhead", body = LetterheadDto),
        (status = 404, description = "No such agency in your scope (`not_found`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[get("/agencies/{id}/letterhead")]
pub async fn get_letterhead(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = uc::get(&state, actor, path.into_inner().to_string()).await?;
    Ok(answer(v))
}

/// Replace the agency's own letterhead (admins of the agency or above). Every field must be
/// sent (`null` inherits); `If-Match` carries the version read (`"0"` before the first one).
#[utoipa::path(tag = "agencies", security(("bearer" = [])), request_body = LetterheadFields,
    params(("id" = Uuid, Path, description = "Agency id"), ("If-Match" = String, Header, description = "The version read, e.g. \"0\"")),
    responses(
        (status = 200, description = "The letterhead", body = LetterheadDto),
        (status = 403, description = "Not an admin of the agency (`forbidden`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale version (`version_mismatch`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid (`required`, `invalid_format`, `invalid_number_pattern`, `too_long`)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing (`if_match_required`)", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
#[put("/agencies/{id}/letterhead")]
pub async fn put_letterhead(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    ctx: Ctx,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<Value>,
) -> Result<HttpResponse, ApiError> {
    // A PUT replaces the whole letterhead: every field must be sent (null inherits), and all
    // the missing ones are named at once.
    let missing: Vec<FieldError> = letterhead::FIELDS
        .iter()
        .filter(|f| body.0.get(**f).is_none())
        .map(|f| {
            FieldError::new(
                *f,
                "required",
                crate::text!(
                    "缺少字段 `{f}`（如需沿用上级机关的设置，请发送 null）",
                    "missing field `{f}` (send null to inherit)"
                ),
            )
        })
        .collect();
    if !missing.is_empty() {
        return Err(AppError::Validation(missing).into());
    }
    let fields: LetterheadFields = from_value(body.0)?;
    let v = uc::put(
        &state,
        actor,
        path.into_inner().to_string(),
        fields.into(),
        if_match.0,
        ctx.0,
    )
    .await?;
    Ok(answer(v))
}
