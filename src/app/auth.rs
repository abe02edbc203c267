//! Logging in and turning a token back into an actor.

use serde_json::json;

use super::{AppError, AppState, RequestContext, audit};
use crate::auth::password;
use crate::clock::Clock;
use crate::config::AuthSettings;
use crate::db::{self, DbConnection};
use crate::domain::access::{Actor, Principal, Roles};
use crate::domain::user::Username;

pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
    /// Password and refresh grants: the refresh token (see `refresh_tokens`).
    pub refresh_token: Option<String>,
    /// Client credentials grant: the scopes granted, space-separated.
    pub scope: Option<String>,
}

/// RFC 6749 §5.2 `invalid_grant` (400) on the token endpoint.
fn bad_credentials() -> AppError {
    AppError::BadRequest {
        code: "invalid_credentials",
        detail: crate::text!("用户名或密码错误", "unknown user name or wrong password"),
    }
}

/// What login attempts are counted against (see `auth.*` in config/default.toml).
#[derive(Debug, Clone)]
pub struct ThrottleKey {
    /// The account (`user:<name>` or `client:<id>`): its failures from any address slow its
    /// attempts down, never lock it; cleared by a successful login.
    account: String,
    /// The account from one client address: a hard limit, counted before the secret is
    /// checked; cleared by a successful login.
    pair: String,
    /// The client address, any accounts: a hard limit on failures.
    address: String,
}

impl ThrottleKey {
    /// Longest account name kept in a bucket; longer input is cut (it cannot be a real name).
    const MAX_NAME: usize = 128;

    fn new(account: String, client_addr: &str) -> Self {
        let addr: String = client_addr.chars().take(64).collect();
        ThrottleKey {
            pair: format!("login:{account}@{addr}"),
            account: format!("login:{account}"),
            address: format!("login:addr:{addr}"),
        }
    }

    /// A password grant: the user name as typed (case-insensitive) and the client address.
    pub fn password(username: &str, client_addr: &str) -> Self {
        let name: String = username
            .trim()
            .to_lowercase()
            .chars()
            .take(Self::MAX_NAME)
            .collect();
        Self::new(format!("user:{name}"), client_addr)
    }

    /// A client_credentials grant: the client id and the client address.
    pub fn client(client_id: &str, client_addr: &str) -> Self {
        // One bucket per client whatever the spelling of its id (a UUID parses from upper
        // case, braces, `urn:uuid:`, without hyphens).
        let id: String = match uuid::Uuid::parse_str(client_id.trim()) {
            Ok(u) => u.to_string(),
            Err(_) => client_id.trim().chars().take(Self::MAX_NAME).collect(),
        };
        Self::new(format!("client:{id}"), client_addr)
    }
}

/// The fixed window an instant falls in, and the seconds until it ends.
fn login_window(settings: &AuthSettings, now_unix: i64) -> (i64, u64) {
    let len = i64::try_from(settings.login_window_secs.max(1)).unwrap_or(i64::MAX);
    let window = now_unix.div_euclid(len);
    let left = (window + 1) * len - now_unix;
    (window, u64::try_from(left.max(1)).unwrap_or(1))
}

/// One login attempt, admitted by [`admit_login`]: the window it was counted in.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    window: i64,
}

/// Admits one login attempt before any secret is checked, or refuses it (429
/// `too_many_login_attempts`, Retry-After). The attempt is counted in its (account, address)
/// and address buckets by one atomic increment each, so concurrent attempts cannot pass the
/// limits; the address bucket's count is given back if the attempt succeeds. The first refusal
/// of a bucket in a window writes one `login_throttled` audit event; later ones are only
/// counted (no row per attempt).
///
/// An account with `login_max_failures` failures in the window, from any addresses, is slowed
/// down, not locked: one attempt for it is checked per interval (`login_slowdown_ms`,
/// doubling with each further failure up to 8×, whole seconds), from wherever it comes — also
/// counted atomically, so parallel attempts from many addresses get one check per interval
/// between them. The owner's attempt gets through at the next interval at the latest.
pub fn admit_login(
    conn: &mut DbConnection,
    settings: &AuthSettings,
    key: &ThrottleKey,
    clock: &Clock,
    ctx: &RequestContext,
) -> Result<Admitted, AppError> {
    let now_unix = clock.unix();
    let (window, retry_after_secs) = login_window(settings, now_unix);
    let limits = [
        (&key.pair, settings.login_max_failures),
        (&key.address, settings.login_max_failures_per_address),
    ];
    for (i, (bucket, max)) in limits.into_iter().enumerate() {
        let hits = db::requests::rate_limit_hit(conn, bucket, window)?;
        let max = i32::try_from(max).unwrap_or(i32::MAX);
        if hits > max {
            // The address refused after the pair admitted it: that attempt never ran.
            if i > 0 {
                db::requests::rate_limit_release(conn, &key.pair, window)?;
            }
            if hits == max.saturating_add(1) {
                audit(
                    conn,
                    clock.now_micros(),
                    None,
                    None,
                    ("login", &key.account),
                    "login_throttled",
                    json!({"bucket": bucket, "limit": max, "window_ends_in_secs": retry_after_secs}),
                    ctx,
                )?;
            }
            return Err(AppError::TooManyLoginAttempts { retry_after_secs });
        }
    }
    let failures = db::requests::rate_limit_hits(conn, &key.account, window)?;
    let max = i32::try_from(settings.login_max_failures).unwrap_or(i32::MAX);
    if failures >= max {
        let doublings = u32::try_from((failures - max).min(3)).unwrap_or(3);
        let interval_ms = settings.login_slowdown_ms << doublings;
        let interval = i32::try_from(interval_ms.div_ceil(1000).max(1)).unwrap_or(60);
        let len = i64::try_from(settings.login_window_secs.max(1)).unwrap_or(i64::MAX);
        let offset = i32::try_from(now_unix - window * len).unwrap_or(i32::MAX);
        let busy = db::requests::rate_limit_take_slot(
            conn,
            &format!("{}#next", key.account),
            window,
            offset,
            interval,
        )?;
        if let Some(wait) = busy {
            // Not run: the pair and the address do not count it.
            db::requests::rate_limit_release(conn, &key.pair, window)?;
            db::requests::rate_limit_release(conn, &key.address, window)?;
            return Err(AppError::TooManyLoginAttempts {
                retry_after_secs: u64::try_from(wait).unwrap_or(1),
            });
        }
    }
    Ok(Admitted { window })
}

/// Counts one failed attempt against the account (its pair and address buckets counted it on
/// admission).
pub fn record_login_failure(
    conn: &mut DbConnection,
    key: &ThrottleKey,
    admitted: Admitted,
) -> Result<(), AppError> {
    db::requests::rate_limit_hit(conn, &key.account, admitted.window)?;
    Ok(())
}

/// After a successful login: the account's failures and its pair are forgotten, and the
/// address gets back the attempt it counted.
pub fn clear_login_failures(
    conn: &mut DbConnection,
    key: &ThrottleKey,
    admitted: Admitted,
) -> Result<(), AppError> {
    db::requests::rate_limit_clear(conn, &key.account)?;
    db::requests::rate_limit_clear(conn, &key.pair)?;
    db::requests::rate_limit_release(conn, &key.address, admitted.window)?;
    Ok(())
}

/// Password grant. An unknown user, a wrong password and a disabled user all answer the same
/// `invalid_credentials`, after the same amount of hashing work. Each attempt is admitted by
/// [`admit_login`] first (per user name and client address, per address, and one checked
/// attempt per interval for a name with many failures); a refused one answers 429 without
/// looking at the password.
pub async fn login(
    state: &AppState,
    username: String,
    password: String,
    client_addr: String,
    ctx: RequestContext,
) -> Result<IssuedToken, AppError> {
    let clock = state.clock;
    let keys = state.tokens.clone();
    let settings = state.settings.clone();
    let throttle = ThrottleKey::password(&username, &client_addr);
    state
        .with_conn(move |conn| {
            let auth = &settings.auth;
            let admitted = admit_login(conn, auth, &throttle, &clock, &ctx)?;
            let now = clock.unix();
            let Ok(name) = Username::parse("username", &username) else {
                let _ = password::verify(&password, password::decoy_hash());
                record_login_failure(conn, &throttle, admitted)?;
                return Err(bad_credentials());
            };
            let user = db::users::find_by_username(conn, name.as_str())?;
            let Some(user) = user else {
                let _ = password::verify(&password, password::decoy_hash());
                record_login_failure(conn, &throttle, admitted)?;
                return Err(bad_credentials());
            };
            if !password::verify(&password, &user.password_hash) || user.disabled {
                record_login_failure(conn, &throttle, admitted)?;
                audit(
                    conn,
                    clock.now_micros(),
                    None,
                    Some(&user.agency_id),
                    ("user", &user.id),
                    "login_failed",
                    json!({"username": user.username}),
                    &ctx,
                )?;
                return Err(bad_credentials());
            }
            let token = keys
                .issue(&user.id, user.token_generation, now)
                .map_err(AppError::internal)?;
            // The refresh token's family and the audit event together; a failed login above
            // stays counted (no transaction around it).
            db::transaction(conn, |conn| {
                clear_login_failures(conn, &throttle, admitted)?;
                let at = clock.now_micros();
                let (refresh, family) =
                    super::refresh_tokens::start_family(conn, auth, &user.id, at)?;
                audit(
                    conn,
                    at,
                    None,
                    Some(&user.agency_id),
                    ("user", &user.id),
                    "token_issued",
                    json!({"username": user.username, "grant_type": "password", "family": family}),
                    &ctx,
                )?;
                Ok(IssuedToken {
                    access_token: token,
                    expires_in: keys.ttl_secs,
                    refresh_token: Some(refresh),
                    scope: None,
                })
            })
        })
        .await
}

fn token_refused(detail: crate::domain::text::Text) -> AppError {
    AppError::Unauthorized {
        code: "invalid_token",
        detail,
    }
}

/// The `iss` of a token, read without verifying anything: it only chooses which key verifies.
fn unverified_issuer(token: &str) -> Option<String> {
    jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(token)
        .ok()?
        .get("iss")?
        .as_str()
        .map(str::to_string)
}

/// Verifies a bearer token and loads its actor. Our own tokens (issuer `auth.issuer`, HS256)
/// name a user: a disabled user, or a token issued before the user's last disable or password
/// change, is refused. A trusted issuer's token (RS256/ES256) names a person at that provider,
/// mapped onto one of our agencies and our roles. Any other issuer is refused.
pub async fn authenticate(state: &AppState, token: String) -> Result<Actor, AppError> {
    // A token our keys verified before is ours: no need to read its issuer.
    if state.tokens.knows(&token) {
        return authenticate_user(state, token).await;
    }
    match unverified_issuer(&token) {
        Some(iss) if iss != state.settings.auth.issuer && state.federation.is_trusted(&iss) => {
            authenticate_federated(state, &iss, &token).await
        }
        // Our own issuer, no issuer, or an unknown one: the HS256 check refuses all but ours.
        _ => authenticate_user(state, token).await,
    }
}

async fn authenticate_user(state: &AppState, token: String) -> Result<Actor, AppError> {
    let claims = state
        .tokens
        .verify(&token, state.clock.unix())
        .map_err(|e| match e {
            crate::auth::jwt::TokenError::Expired => token_expired(),
            _ => token_refused(crate::text!(
                "访问令牌无效",
                "the access token is not valid"
            )),
        })?;
    let key = (claims.sub.clone(), claims.generation, claims.scope.clone());
    if let Some(actor) = state.principals.get(&key) {
        return Ok(actor);
    }
    let epoch = state.principals.epoch();
    let actor = state
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
                return Err(token_refused(crate::text!(
                    "该访问令牌的用户已不存在",
                    "the access token's user no longer exists"
                )));
            };
            if user.disabled {
                return Err(token_refused(crate::text!(
                    "该用户已停用",
                    "the user is disabled"
                )));
            }
            if user.token_generation != claims.generation {
                return Err(token_refused(crate::text!(
                    "该访问令牌已被撤销，请重新登录",
                    "the access token was revoked; log in again"
                )));
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
        .await?;
    state.principals.put(key, actor.clone(), epoch);
    Ok(actor)
}

fn token_expired() -> AppError {
    AppError::Unauthorized {
        code: "token_expired",
        detail: crate::text!(
            "访问令牌已过期，请重新登录",
            "the access token has expired; log in again"
        ),
    }
}

/// A trusted issuer's token: verified with that issuer's key and pinned algorithm; the agency
/// code must name one of our agencies (else 401), and at least one external role must map onto
/// ours (else 403 `no_mapped_role`: the person is known, but may do nothing here).
async fn authenticate_federated(
    state: &AppState,
    issuer: &str,
    token: &str,
) -> Result<Actor, AppError> {
    use crate::auth::federated::FederatedError;
    let identity = state
        .federation
        .verify(issuer, token, state.clock.unix())
        .map_err(|e| match e {
            FederatedError::Expired => token_expired(),
            FederatedError::Invalid(detail) => token_refused(detail),
        })?;
    let agency_code = identity.agency_code.clone();
    let agency = state
        .with_conn(move |conn| super::agencies::find_by_code(conn, &agency_code))
        .await?;
    let Some(agency) = agency else {
        return Err(token_refused(crate::text!(
            "令牌中的机关代码 {:?} 不是本服务的机关",
            "the token's agency code {:?} is not an agency of this service",
            identity.agency_code
        )));
    };
    if identity.roles.to_vec().is_empty() {
        return Err(AppError::Forbidden {
            code: "no_mapped_role",
            detail: crate::text!(
                "令牌中的角色均未映射到本服务的角色",
                "none of the token's roles is mapped to a role of this service"
            ),
        });
    }
    Ok(Actor {
        user_id: format!("{}#{}", identity.issuer, identity.subject),
        username: identity.name,
        agency_id: agency.id,
        agency_path: agency.path,
        roles: identity.roles,
        principal: Principal::Federated {
            issuer: identity.issuer,
        },
    })
}
