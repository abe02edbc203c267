//! Logging in and turning a token back into an actor.

use serde_json::json;

use super::{AppError, AppState, RequestContext, audit};
use crate::auth::password;
use crate::db;
use crate::domain::access::{Actor, Principal, Roles};
use crate::domain::user::Username;

pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
}

fn bad_credentials() -> AppError {
    AppError::Unauthorized {
        code: "invalid_credentials",
        detail: "unknown user name or wrong password".into(),
    }
}

/// Password grant. An unknown user, a wrong password and a disabled user all answer the same
/// 401, after the same amount of hashing work.
pub async fn login(
    state: &AppState,
    username: String,
    password: String,
    ctx: RequestContext,
) -> Result<IssuedToken, AppError> {
    let keys = state.tokens.clone();
    state
        .with_conn(move |conn| {
            let Ok(name) = Username::parse("username", &username) else {
                let _ = password::verify(&password, password::decoy_hash());
                return Err(bad_credentials());
            };
            let user = db::users::find_by_username(conn, name.as_str())?;
            let Some(user) = user else {
                let _ = password::verify(&password, password::decoy_hash());
                return Err(bad_credentials());
            };
            if !password::verify(&password, &user.password_hash) || user.disabled {
                audit(
                    conn,
                    None,
                    Some(&user.agency_id),
                    ("user", &user.id),
                    "login_failed",
                    json!({"username": user.username}),
                    &ctx,
                )?;
                return Err(bad_credentials());
            }
            let now = chrono::Utc::now().timestamp();
            let token = keys
                .issue(&user.id, user.token_generation, now)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            audit(
                conn,
                None,
                Some(&user.agency_id),
                ("user", &user.id),
                "token_issued",
                json!({"username": user.username, "grant_type": "password"}),
                &ctx,
            )?;
            Ok(IssuedToken {
                access_token: token,
                expires_in: keys.ttl_secs,
            })
        })
        .await
}

fn token_refused(detail: &str) -> AppError {
    AppError::Unauthorized {
        code: "invalid_token",
        detail: detail.into(),
    }
}

/// Verifies a bearer token and loads its user: a disabled user, or a token issued before the
/// user's last disable or password change, is refused.
pub async fn authenticate(state: &AppState, token: String) -> Result<Actor, AppError> {
    let claims = state.tokens.verify(&token).map_err(|e| match e {
        crate::auth::jwt::TokenError::Expired => AppError::Unauthorized {
            code: "token_expired",
            detail: "the access token has expired; log in again".into(),
        },
        _ => token_refused("the access token is not valid"),
    })?;
    state
        .with_conn(move |conn| {
            if let Some(client_id) = claims
                .sub
                .strip_prefix(crate::auth::jwt::CLIENT_SUBJECT_PREFIX)
            {
                return super::clients::actor_for_token(
                    conn,
                    client_id,
                    claims.generation,
                    claims.scope.as_deref(),
                );
            }
            let found = db::users::find_with_agency_path(conn, &claims.sub)?;
            let Some((user, agency_path)) = found else {
                return Err(token_refused("the access token's user no longer exists"));
            };
            if user.disabled {
                return Err(token_refused("the user is disabled"));
            }
            if user.token_generation != claims.generation {
                return Err(token_refused("the access token was revoked; log in again"));
            }
            Ok(Actor {
                user_id: user.id,
                username: user.username,
                agency_id: user.agency_id,
                agency_path,
                roles: Roles::from_stored(&user.roles),
                principal: Principal::User,
            })
        })
        .await
}
