//! Letterheads: read an agency's own and effective letterhead, replace its own with If-Match.

use chrono::NaiveDateTime;
use serde_json::json;

use super::agencies::visible_agency;
use super::{AppError, AppState, RequestContext, audit};
use crate::db::{self, DbConnection, agencies::AgencyRow, letterheads::LetterheadRow};
use crate::domain::access::Actor;
use crate::domain::letterhead::{self, Effective, Letterhead};
use crate::domain::stored;

/// The stored format of the letterhead document.
const FORMAT: u64 = 1;

/// An agency's letterhead: its own fields, what letters use, and where each field came from.
#[derive(Debug, Clone)]
pub struct LetterheadView {
    pub agency_id: String,
    /// The version of the agency's own letterhead; 0 while it has none.
    pub version: i32,
    pub own: Letterhead,
    pub effective: Effective,
    pub updated_by: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

fn decode(row: &LetterheadRow) -> Result<Letterhead, AppError> {
    stored::decode(&row.fields, FORMAT, stored::no_upgrades).map_err(|e| AppError::Unreadable {
        entity: "letterhead",
        id: row.agency_id.clone(),
        reason: e.to_string(),
    })
}

/// The agency's letterhead with the chain above it resolved.
pub fn resolve(conn: &mut DbConnection, agency: &AgencyRow) -> Result<LetterheadView, AppError> {
    // The materialised path lists the ids from the root down: `/root/…/agency/`.
    let chain_ids: Vec<String> = agency
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .rev()
        .map(str::to_string)
        .collect();
    let rows = db::letterheads::of_agencies(conn, &chain_ids)?;
    let mut chain = Vec::with_capacity(chain_ids.len());
    let mut own = None;
    for id in &chain_ids {
        match rows.iter().find(|r| &r.agency_id == id) {
            Some(row) => {
                let l = decode(row)?;
                if id == &agency.id {
                    own = Some((row.clone(), l.clone()));
                }
                chain.push((id.clone(), l));
            }
            // The agency itself always heads the chain, so that what comes from above is
            // marked inherited.
            None if id == &agency.id => chain.push((id.clone(), Letterhead::default())),
            None => {}
        }
    }
    let effective = letterhead::effective(&chain);
    Ok(match own {
        Some((row, l)) => LetterheadView {
            agency_id: agency.id.clone(),
            version: row.version,
            own: l,
            effective,
            updated_by: row.updated_by,
            updated_at: Some(row.updated_at),
        },
        None => LetterheadView {
            agency_id: agency.id.clone(),
            version: 0,
            own: Letterhead::default(),
            effective,
            updated_by: None,
            updated_at: None,
        },
    })
}

pub async fn get(
    state: &AppState,
    actor: Actor,
    agency_id: String,
) -> Result<LetterheadView, AppError> {
    state
        .with_conn(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            resolve(conn, &agency)
        })
        .await
}

/// Replaces the agency's own letterhead (admins of the agency or above). `If-Match` carries the
/// version read (`"0"` for an agency without one yet). An unchanged letterhead is not written.
pub async fn put(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    input: Letterhead,
    if_match: Option<i32>,
    ctx: RequestContext,
) -> Result<LetterheadView, AppError> {
    let parsed = Letterhead::parse(&input).map_err(AppError::Validation)?;
    let now = state.now_micros();
    state
        .in_transaction(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            actor.may_administer(&agency.id, &agency.path)?;
            let expected = if_match.ok_or(AppError::PreconditionRequired)?;
            let current = resolve(conn, &agency)?;
            if expected != current.version {
                return Err(AppError::PreconditionFailed);
            }
            if parsed == current.own && current.version > 0 {
                return Ok(current);
            }
            let row = LetterheadRow {
                agency_id: agency.id.clone(),
                fields: stored::encode(&parsed, FORMAT),
                version: current.version + 1,
                updated_by: Some(actor.recorded_as()),
                updated_at: now,
            };
            if current.version == 0 {
                db::letterheads::insert(conn, &row).map_err(|e| {
                    if db::is_unique_violation(&e) {
                        // Another writer created it first: our version is stale.
                        AppError::PreconditionFailed
                    } else {
                        e.into()
                    }
                })?;
            } else if !db::letterheads::update_if_version(conn, &row, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            audit(
                conn,
                now,
                Some(&actor),
                Some(&agency.id),
                ("agency", &agency.id),
                "letterhead_changed",
                json!({"before": current.own, "after": parsed, "version": row.version}),
                &ctx,
            )?;
            resolve(conn, &agency)
        })
        .await
}
