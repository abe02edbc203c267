//! Refresh tokens of the password grant: issued with each login, rotated on every use, and
//! revoked by family (one family per login).
//!
//! A refresh token is 256 random bits (`gkr_` and 64 hex digits), so its SHA-256 stores it
//! safely, as for client secrets. Using one uses it up by a conditional UPDATE in the
//! transaction that adds its successor: of two uses at the same moment, in any processes
//! sharing the database, at most one gets a new token. Presenting a used-up token again means
//! that someone else has held it — the user or a thief — so the whole family is revoked, the
//! token the other party was given included (RFC 9700 §4.14.2), and the attempt is audited.

use chrono::{Duration, NaiveDateTime};
use serde_json::json;
use sha2::Digest;

use super::auth::IssuedToken;
use super::{AppError, AppState, RequestContext, audit};
use crate::config::AuthSettings;
use crate::db::{self, DbConnection, refresh_tokens::FamilyRow, refresh_tokens::TokenRow};

/// Why a family was revoked (stored in `refresh_families.revoked_reason`).
pub const REVOKED_LOGOUT: &str = "logout";
pub const REVOKED_REUSE: &str = "reuse";
pub const REVOKED_PASSWORD_CHANGED: &str = "password_changed";
pub const REVOKED_USER_DISABLED: &str = "user_disabled";

/// A new refresh token and the hash that is stored of it.
fn new_token() -> (String, String) {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("gkr_{}", hex::encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

fn hash_token(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.trim().as_bytes()))
}

fn secs(n: u64) -> Duration {
    Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1_000_000))
}

/// The one answer to every refresh token that does not work (unknown, expired, used up,
/// revoked, or its user disabled): the client cannot tell which, the audit log can.
pub fn invalid_grant() -> AppError {
    AppError::BadRequest {
        code: "invalid_grant",
        detail: crate::text!(
            "刷新令牌无效、已过期、已使用或已撤销，请重新登录",
            "the refresh token is invalid, expired, used up or revoked; log in again"
        ),
    }
}

/// Starts the family of a new login and returns its first token. Call inside the login's
/// transaction. Also forgets the user's families that ended (bounded clean-up per user).
pub fn start_family(
    conn: &mut DbConnection,
    settings: &AuthSettings,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<(String, String), AppError> {
    db::refresh_tokens::delete_ended(conn, user_id, now)?;
    let family = FamilyRow {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.to_string(),
        created_at: now,
        expires_at: now + secs(settings.refresh_family_ttl_secs),
        revoked_at: None,
        revoked_reason: None,
    };
    db::refresh_tokens::insert_family(conn, &family)?;
    let token = add_token(conn, settings, &family, now)?;
    Ok((token, family.id))
}

/// A new token in the family, living `refresh_token_ttl_secs` but not past the family's end.
fn add_token(
    conn: &mut DbConnection,
    settings: &AuthSettings,
    family: &FamilyRow,
    now: NaiveDateTime,
) -> Result<String, AppError> {
    let (token, hash) = new_token();
    let row = TokenRow {
        token_hash: hash,
        family_id: family.id.clone(),
        issued_at: now,
        expires_at: (now + secs(settings.refresh_token_ttl_secs)).min(family.expires_at),
        used_at: None,
    };
    db::refresh_tokens::insert_token(conn, &row)?;
    Ok(token)
}

/// What a use of a refresh token came to, once its transaction is committed.
enum Used {
    Rotated(IssuedToken),
    /// A used-up token: its family is revoked (committed), the client gets `invalid_grant`.
    Reused,
}

/// `grant_type=refresh_token`: a new access token and a new refresh token for a live, unused
/// refresh token of a user who is not disabled; the presented token is used up.
pub async fn refresh(
    state: &AppState,
    token: String,
    ctx: RequestContext,
) -> Result<IssuedToken, AppError> {
    let clock = state.clock;
    let keys = state.tokens.clone();
    let settings = state.settings.clone();
    let hash = hash_token(&token);
    let used = state
        .in_transaction(move |conn| {
            let now = clock.now_micros();
            let fresh = db::refresh_tokens::use_up(conn, &hash, now)?;
            let Some((row, family)) = db::refresh_tokens::find(conn, &hash)? else {
                return Err(invalid_grant());
            };
            let user = db::users::find(conn, &family.user_id)?
                .ok_or_else(|| AppError::bug("a refresh family's user is missing"))?;
            if !fresh {
                let revoked =
                    db::refresh_tokens::revoke_family(conn, &family.id, now, REVOKED_REUSE)?;
                audit(
                    conn,
                    now,
                    None,
                    Some(&user.agency_id),
                    ("user", &user.id),
                    "refresh_token_reused",
                    json!({
                        "username": user.username,
                        "family": family.id,
                        "used_at": row.used_at,
                        "family_revoked": revoked,
                    }),
                    &ctx,
                )?;
                return Ok(Used::Reused);
            }
            // Refused without a trace: the rollback gives the token back its unused state,
            // which changes nothing since it cannot be used anyway.
            if row.expires_at <= now
                || family.expires_at <= now
                || family.revoked_at.is_some()
                || user.disabled
            {
                return Err(invalid_grant());
            }
            let next = add_token(conn, &settings.auth, &family, now)?;
            let access = keys
                .issue(&user.id, user.token_generation, clock.unix())
                .map_err(AppError::internal)?;
            audit(
                conn,
                now,
                None,
                Some(&user.agency_id),
                ("user", &user.id),
                "token_refreshed",
                json!({"username": user.username, "family": family.id}),
                &ctx,
            )?;
            Ok(Used::Rotated(IssuedToken {
                access_token: access,
                expires_in: keys.ttl_secs,
                refresh_token: Some(next),
                scope: None,
            }))
        })
        .await?;
    match used {
        Used::Rotated(t) => Ok(t),
        Used::Reused => Err(invalid_grant()),
    }
}

/// `POST /auth/logout`: revokes the family of the refresh token (the login it came from). An
/// unknown, expired or already revoked token changes nothing and is not an error (RFC 7009
/// §2.2): the client is logged out either way, and nobody learns whether a token existed.
pub async fn logout(state: &AppState, token: String, ctx: RequestContext) -> Result<(), AppError> {
    let clock = state.clock;
    let hash = hash_token(&token);
    state
        .in_transaction(move |conn| {
            let now = clock.now_micros();
            let Some((row, family)) = db::refresh_tokens::find(conn, &hash)? else {
                return Ok(());
            };
            if !db::refresh_tokens::revoke_family(conn, &family.id, now, REVOKED_LOGOUT)? {
                return Ok(());
            }
            let user = db::users::find(conn, &family.user_id)?
                .ok_or_else(|| AppError::bug("a refresh family's user is missing"))?;
            audit(
                conn,
                now,
                None,
                Some(&user.agency_id),
                ("user", &user.id),
                "logout",
                json!({
                    "username": user.username,
                    "family": family.id,
                    "token_used_up": row.used_at.is_some(),
                }),
                &ctx,
            )?;
            Ok(())
        })
        .await
}

/// Revokes every live login of a user (its password changed, or it was disabled); how many.
/// Call inside the transaction of that change.
pub fn revoke_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: NaiveDateTime,
    reason: &str,
) -> Result<usize, AppError> {
    Ok(db::refresh_tokens::revoke_user(conn, user_id, now, reason)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_256_random_bits_and_only_its_hash_is_kept() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with("gkr_") && a.len() == 4 + 64, "{a}");
        assert_eq!(ha.len(), 64);
        assert!(!ha.contains(&a[4..]));
        assert_ne!(ha, hb);
        assert_eq!(hash_token(&a), ha);
    }
}
