//! System clients: admins register them for their subtree with scopes; a client exchanges its
//! id and secret for a token limited to those scopes and that subtree.
//!
//! Client secrets are 256 random bits, so a fast SHA-256 hash stores them safely (a slow
//! password hash protects low-entropy secrets, which these are not) and the token grant stays
//! cheap for platforms that ask often.

use serde_json::json;
use sha2::Digest;

use super::agencies::visible_agency;
use super::idempotency::{Answer, Answering};
use super::{AppError, AppState, Page, Paged, RequestContext, audit};
use crate::db::{self, clients::ClientRow};
use crate::domain::access::{Actor, Role, Scopes};
use crate::domain::validation::{self, Errors};

/// What an admin asks for.
pub struct CreateClient {
    pub name: String,
    pub agency_id: String,
    pub scopes: Vec<String>,
}

/// Changes to a client; `None` leaves a field as it is.
pub struct PatchClient {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub disabled: Option<bool>,
    pub if_match: Option<i32>,
}

/// A client with its secret, which is shown this once.
/// A system client as the app layer hands it out (no secret hash).
#[derive(Debug, Clone)]
pub struct ClientView {
    pub id: String,
    pub agency_id: String,
    pub name: String,
    pub scopes: Scopes,
    pub disabled: bool,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl From<ClientRow> for ClientView {
    fn from(r: ClientRow) -> Self {
        ClientView {
            scopes: Scopes::from_stored(&r.scopes),
            id: r.id,
            agency_id: r.agency_id,
            name: r.name,
            disabled: r.disabled,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Clone)]
pub struct IssuedSecret {
    pub client: ClientView,
    pub secret: String,
}

fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("gks_{}", hex::encode(bytes))
}

fn hash_secret(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Compares two hashes without an early exit.
/// Compares secret hashes in constant time (`subtle`).
fn same(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}

fn may_manage(actor: &Actor, agency: &db::agencies::AgencyRow) -> Result<(), AppError> {
    if actor.client_scopes().is_some() {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!("系统客户端不能管理客户端", "clients cannot manage clients"),
        });
    }
    Ok(actor.may_administer(&agency.id, &agency.path)?)
}

pub async fn create(
    state: &AppState,
    actor: Actor,
    input: CreateClient,
    ctx: RequestContext,
    once: Answering<IssuedSecret>,
) -> Result<Answer, AppError> {
    let clock = state.clock;
    let mut errors = Errors::new();
    let name = errors.take(validation::text("name", &input.name, 100, false));
    let scopes = errors.take(Scopes::parse_list("scopes", &input.scopes));
    errors.into_result()?;
    let (Some(name), Some(scopes)) = (name, scopes) else {
        return Err(AppError::bug("validated fields missing"));
    };
    let secret = new_secret();
    let secret_hash = hash_secret(&secret);
    state
        .create_once(actor.user_id.clone(), once, move |conn| {
            let agency = visible_agency(conn, &actor, &input.agency_id)?;
            may_manage(&actor, &agency)?;
            let now = clock.now_micros();
            let row = ClientRow {
                id: uuid::Uuid::new_v4().to_string(),
                name,
                agency_id: agency.id.clone(),
                scopes: scopes.join(","),
                secret_hash,
                disabled: false,
                token_generation: 0,
                version: 1,
                created_by: Some(actor.recorded_as()),
                created_at: now,
                updated_at: now,
            };
            db::clients::insert(conn, &row)?;
            audit(
                conn,
                clock.now_micros(),
                Some(&actor),
                Some(&agency.id),
                ("client", &row.id),
                "client_created",
                json!({"name": row.name, "scopes": row.scopes}),
                &ctx,
            )?;
            Ok(IssuedSecret {
                client: row.into(),
                secret,
            })
        })
        .await
}

/// Loads a client the actor may manage; anything else is "not found".
fn managed(
    conn: &mut db::DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<(ClientRow, db::agencies::AgencyRow), AppError> {
    let client =
        db::clients::find(conn, id)?.ok_or(AppError::NotFound(crate::text!("客户端", "client")))?;
    let agency = visible_agency(conn, actor, &client.agency_id)
        .map_err(|_| AppError::NotFound(crate::text!("客户端", "client")))?;
    may_manage(actor, &agency)?;
    Ok((client, agency))
}

pub async fn get(state: &AppState, actor: Actor, id: String) -> Result<ClientView, AppError> {
    state
        .with_conn(move |conn| Ok(managed(conn, &actor, &id)?.0))
        .await
        .map(ClientView::from)
}

/// The clients of the admin's subtree.
pub async fn list(
    state: &AppState,
    actor: Actor,
    page: Page,
) -> Result<Paged<ClientView>, AppError> {
    if actor.client_scopes().is_some() || !actor.has(Role::Admin) {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "查看客户端列表须具有管理员（admin）角色",
                "listing clients needs the role admin"
            ),
        });
    }
    state
        .with_conn(move |conn| {
            let (items, total) = db::clients::list_in_subtree(
                conn,
                &actor.agency_path,
                page.offset(),
                page.per_page,
            )?;
            Ok(Paged { items, page, total })
        })
        .await
        .map(|p| p.map(ClientView::from))
}

pub async fn patch(
    state: &AppState,
    actor: Actor,
    id: String,
    input: PatchClient,
    ctx: RequestContext,
) -> Result<ClientView, AppError> {
    let clock = state.clock;
    let mut errors = Errors::new();
    let name = match &input.name {
        Some(n) => errors.take(validation::text("name", n, 100, false)),
        None => None,
    };
    let scopes = match &input.scopes {
        Some(s) => errors.take(Scopes::parse_list("scopes", s)),
        None => None,
    };
    errors.into_result()?;
    state
        .in_transaction(move |conn| {
            let (mut client, agency) = managed(conn, &actor, &id)?;
            let expected = input.if_match.ok_or(AppError::PreconditionRequired)?;
            if expected != client.version {
                return Err(AppError::PreconditionFailed);
            }
            let mut changes = serde_json::Map::new();
            let mut revoke = false;
            if let Some(n) = name {
                changes.insert("name".into(), json!({"before": client.name, "after": n}));
                client.name = n;
            }
            if let Some(s) = scopes {
                let before = Scopes::from_stored(&client.scopes);
                changes.insert(
                    "scopes".into(),
                    json!({"before": client.scopes, "after": s.join(",")}),
                );
                // Tokens carry their scopes: narrowing them revokes the tokens out there.
                revoke |= before.intersect(s) != before;
                client.scopes = s.join(",");
            }
            if let Some(d) = input.disabled
                && d != client.disabled
            {
                changes.insert(
                    "disabled".into(),
                    json!({"before": client.disabled, "after": d}),
                );
                client.disabled = d;
                revoke |= d;
            }
            if revoke {
                client.token_generation += 1;
            }
            client.version += 1;
            client.updated_at = clock.now_micros();
            if !db::clients::update_if_version(conn, &client, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            audit(
                conn,
                clock.now_micros(),
                Some(&actor),
                Some(&agency.id),
                ("client", &client.id),
                "client_updated",
                serde_json::Value::Object(changes),
                &ctx,
            )?;
            Ok(client)
        })
        .await
        .inspect(|_| state.principals.invalidate())
        .map(ClientView::from)
}

/// A new secret; the old one and every token issued with it stop working at once.
pub async fn rotate_secret(
    state: &AppState,
    actor: Actor,
    id: String,
    ctx: RequestContext,
) -> Result<IssuedSecret, AppError> {
    let clock = state.clock;
    let secret = new_secret();
    let secret_hash = hash_secret(&secret);
    state
        .in_transaction(move |conn| {
            let (mut client, agency) = managed(conn, &actor, &id)?;
            let expected = client.version;
            client.secret_hash = secret_hash;
            client.token_generation += 1;
            client.version += 1;
            client.updated_at = clock.now_micros();
            if !db::clients::update_if_version(conn, &client, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            audit(
                conn,
                clock.now_micros(),
                Some(&actor),
                Some(&agency.id),
                ("client", &client.id),
                "client_secret_rotated",
                json!({}),
                &ctx,
            )?;
            Ok(IssuedSecret {
                client: client.into(),
                secret,
            })
        })
        .await
        .inspect(|_| state.principals.invalidate())
}

fn bad_client() -> AppError {
    AppError::Unauthorized {
        code: "invalid_client",
        detail: crate::text!(
            "客户端不存在、密钥错误或已停用",
            "unknown client, wrong secret or disabled client"
        ),
    }
}

/// The client credentials grant. An unknown client, a wrong secret and a disabled client all
/// answer the same 401; each outcome is in the audit log. Failures are counted per client id
/// and per address like password logins; past the limit the grant answers 429 without looking
/// at the secret. `scope` (RFC 6749 §3.3, space-separated) asks for part of the client's
/// scopes; a scope the client does not have answers 400 `invalid_scope`. No refresh token
/// (RFC 6749 §4.4.3): the client asks again with its secret.
pub async fn token(
    state: &AppState,
    client_id: String,
    secret: String,
    scope: Option<String>,
    client_addr: String,
    ctx: RequestContext,
) -> Result<super::auth::IssuedToken, AppError> {
    let clock = state.clock;
    use super::auth::{ThrottleKey, admit_login, clear_login_failures, record_login_failure};
    let keys = state.tokens.clone();
    let settings = state.settings.clone();
    let throttle = ThrottleKey::client(client_id.trim(), &client_addr);
    // Autocommit, not one transaction: a refusal's audit event and failure count must stay.
    state
        .with_conn(move |conn| {
            let admitted = admit_login(conn, &settings.auth, &throttle, &clock, &ctx)?;
            let now = clock.unix();
            let client = match uuid::Uuid::parse_str(client_id.trim()) {
                Ok(id) => db::clients::find(conn, &id.to_string())?,
                Err(_) => None,
            };
            let Some(client) = client else {
                record_login_failure(conn, &throttle, admitted)?;
                return Err(bad_client());
            };
            if !same(&hash_secret(&secret), &client.secret_hash) || client.disabled {
                record_login_failure(conn, &throttle, admitted)?;
                audit(
                    conn,
                    clock.now_micros(),
                    None,
                    Some(&client.agency_id),
                    ("client", &client.id),
                    "client_token_refused",
                    json!({"name": client.name, "disabled": client.disabled}),
                    &ctx,
                )?;
                return Err(bad_client());
            }
            clear_login_failures(conn, &throttle, admitted)?;
            let scopes = requested_scopes(Scopes::from_stored(&client.scopes), scope.as_deref())?;
            let token = keys
                .issue_client(&client.id, client.token_generation, &scopes.join(" "), now)
                .map_err(AppError::internal)?;
            audit(
                conn,
                clock.now_micros(),
                None,
                Some(&client.agency_id),
                ("client", &client.id),
                "token_issued",
                json!({"name": client.name, "grant_type": "client_credentials", "scope": scopes.join(" ")}),
                &ctx,
            )?;
            Ok(super::auth::IssuedToken {
                access_token: token,
                expires_in: keys.ttl_secs,
                refresh_token: None,
                scope: Some(scopes.join(" ")),
            })
        })
        .await
}

/// The scopes a token is asked for: all of the client's without `scope`, else exactly those
/// named, each of which the client must have.
fn requested_scopes(granted: Scopes, requested: Option<&str>) -> Result<Scopes, AppError> {
    let Some(requested) = requested.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(granted);
    };
    let codes: Vec<String> = requested.split_whitespace().map(str::to_string).collect();
    match Scopes::parse_list("scope", &codes) {
        Ok(asked) if asked.intersect(granted) == asked => Ok(asked),
        _ => Err(AppError::BadRequest {
            code: "invalid_scope",
            detail: crate::text!(
                "请求的权限范围超出该客户端的权限范围（可用：{}）",
                "the scope asked for is unknown or not granted to this client; granted: {}",
                granted.join(" ")
            ),
        }),
    }
}

/// Turns a verified client token back into an actor: a disabled client, or a token older
/// than the client's last disable, secret rotation or narrowing of scopes, is refused.
pub fn actor_for_token(
    conn: &mut db::DbConnection,
    client_id: &str,
    generation: i32,
    token_scope: Option<&str>,
) -> Result<Actor, AppError> {
    let refused = |detail: crate::domain::text::Text| AppError::Unauthorized {
        code: "invalid_token",
        detail,
    };
    let Some((client, path)) = db::clients::find_with_agency_path(conn, client_id)? else {
        return Err(refused(crate::text!(
            "该访问令牌的客户端已不存在",
            "the access token's client no longer exists"
        )));
    };
    if client.disabled {
        return Err(refused(crate::text!(
            "该客户端已停用",
            "the client is disabled"
        )));
    }
    if client.token_generation != generation {
        return Err(refused(crate::text!(
            "该访问令牌已被撤销，请重新申请",
            "the access token was revoked; ask for a new one"
        )));
    }
    let scopes = Scopes::from_stored(&client.scopes)
        .intersect(Scopes::from_stored(token_scope.unwrap_or_default()));
    Ok(Actor::client(
        &client.id,
        &client.name,
        &client.agency_id,
        &path,
        scopes,
    ))
}
