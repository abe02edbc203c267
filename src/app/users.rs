//! Users: admins manage the users of their subtree; everyone reads themselves.

use chrono::NaiveDateTime;
use serde_json::json;

use super::agencies::visible_agency;
use super::idempotency::{Answer, Answering};
use super::{AppError, AppState, Page, Paged, RequestContext, audit};
use crate::auth::password;
use crate::db::{self, users::UserRow};
use crate::domain::access::{Actor, Principal, Roles};
use crate::domain::user::{NewPassword, NewUser};
use crate::domain::validation::{Errors, FieldError};

/// A user as the app layer hands it out (no password hash).
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: String,
    pub agency_id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Roles,
    pub disabled: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub department_id: Option<String>,
    pub email: Option<String>,
}

impl From<UserRow> for UserView {
    fn from(r: UserRow) -> Self {
        UserView {
            roles: Roles::from_stored(&r.roles),
            id: r.id,
            agency_id: r.agency_id,
            username: r.username,
            display_name: r.display_name,
            disabled: r.disabled,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            department_id: r.department_id,
            email: r.email,
        }
    }
}

/// An e-mail address for reminders: one `@`, no spaces, at most 254 characters. `None`
/// (cleared) for an empty text.
fn parse_email(field: &str, raw: &str) -> Result<Option<String>, Vec<FieldError>> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let ok = t.len() <= 254
        && !t.chars().any(|c| c.is_whitespace() || c.is_control())
        && t.split('@').count() == 2
        && t.split('@').all(|p| !p.is_empty())
        && t.rsplit('@')
            .next()
            .is_some_and(|d| d.contains('.') || d == "localhost");
    if ok {
        Ok(Some(t.to_string()))
    } else {
        Err(vec![FieldError::new(
            field,
            "invalid_email",
            crate::text!("不是有效的电子邮件地址", "is not a valid e-mail address"),
        )])
    }
}

/// The department must be one of the user's agency.
fn check_department(
    conn: &mut db::DbConnection,
    agency_id: &str,
    department_id: Option<&str>,
) -> Result<(), AppError> {
    let Some(id) = department_id else {
        return Ok(());
    };
    match db::office::find_department(conn, id)? {
        Some(d) if d.agency_id == agency_id => Ok(()),
        _ => Err(AppError::Validation(vec![FieldError::new(
            "department_id",
            "unknown_department",
            crate::text!(
                "不是该用户所在机关的部门",
                "is not a department of the user's agency"
            ),
        )])),
    }
}

pub struct CreateUser {
    pub username: String,
    pub display_name: Option<String>,
    pub password: String,
    pub roles: Vec<String>,
    pub department_id: Option<String>,
    pub email: Option<String>,
}

pub async fn create(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    input: CreateUser,
    ctx: RequestContext,
    once: Answering<UserView>,
) -> Result<Answer, AppError> {
    let clock = state.clock;
    let parsed = NewUser::parse(
        &input.username,
        input.display_name.as_deref(),
        &input.password,
        &input.roles,
    )?;
    let email = match input.email.as_deref() {
        Some(e) => parse_email("email", e).map_err(AppError::Validation)?,
        None => None,
    };
    let department_id = input.department_id;
    // Hash outside the transaction: it is slow on purpose and needs no lock.
    let hash = password::hash(parsed.password.expose()).map_err(AppError::internal)?;
    let once = once.through(|row: &UserRow| UserView::from(row.clone()));
    state
        .create_once(actor.user_id.clone(), once, move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            actor.may_administer(&agency.id, &agency.path)?;
            check_department(conn, &agency.id, department_id.as_deref())?;
            if db::users::find_by_username(conn, parsed.username.as_str())?.is_some() {
                return Err(AppError::conflict(
                    "username_taken",
                    crate::text!(
                        "用户名 {} 已被占用",
                        "the user name {} is taken",
                        parsed.username.as_str()
                    ),
                ));
            }
            let now = clock.now_micros();
            let row = UserRow {
                id: uuid::Uuid::new_v4().to_string(),
                agency_id: agency.id.clone(),
                username: parsed.username.into_inner(),
                display_name: parsed.display_name,
                password_hash: hash,
                roles: parsed.roles.to_stored(),
                disabled: false,
                token_generation: 0,
                version: 1,
                created_at: now,
                updated_at: now,
                department_id,
                email,
            };
            db::users::insert(conn, &row).map_err(|e| {
                if db::is_unique_violation(&e) {
                    AppError::conflict(
                        "username_taken",
                        crate::text!("用户名已被占用", "the user name is taken"),
                    )
                } else {
                    e.into()
                }
            })?;
            audit(
                conn,
                clock.now_micros(),
                Some(&actor),
                Some(&agency.id),
                ("user", &row.id),
                "user_created",
                json!({"username": row.username, "roles": row.roles,
                       "department_id": row.department_id, "email": row.email}),
                &ctx,
            )?;
            Ok(row)
        })
        .await
}

pub async fn list(
    state: &AppState,
    actor: Actor,
    agency_id: String,
    page: Page,
) -> Result<Paged<UserView>, AppError> {
    state
        .with_conn(move |conn| {
            let agency = visible_agency(conn, &actor, &agency_id)?;
            actor.may_list_users(&agency.id, &agency.path)?;
            let (items, total) =
                db::users::list_for_agency(conn, &agency.id, page.offset(), page.per_page)?;
            Ok(Paged { items, page, total })
        })
        .await
        .map(|p| p.map(UserView::from))
}

/// The caller: a user with its row, or a federated person or system client (which have no
/// users row) as the token described them.
pub struct MeView {
    /// The user, for a user of this service.
    pub user: Option<UserView>,
    pub actor: Actor,
    pub agency: super::agencies::AgencyView,
}

pub async fn me(state: &AppState, actor: Actor) -> Result<MeView, AppError> {
    state
        .with_conn(move |conn| {
            // Only a user has a row; a federated person's or client's id names none.
            let user = match actor.principal {
                Principal::User => Some(
                    db::users::find(conn, &actor.user_id)?
                        .ok_or(AppError::NotFound(crate::text!("用户", "user")))?,
                ),
                Principal::Client { .. } | Principal::Federated { .. } => None,
            };
            let agency = db::agencies::find(conn, &actor.agency_id)?
                .ok_or(AppError::NotFound(crate::text!("机关", "agency")))?;
            Ok(MeView {
                user: user.map(UserView::from),
                actor,
                agency: agency.into(),
            })
        })
        .await
}

pub struct PatchUser {
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
    /// `Some(None)` takes the user out of its department.
    pub department_id: Option<Option<String>>,
    /// `Some(None)` (or an empty text) removes the address.
    pub email: Option<Option<String>>,
    /// The version the client read (`If-Match`); required.
    pub if_match: Option<i32>,
}

/// Changes roles, the disabled flag, the display name or the password. Disabling a user or
/// changing its password revokes the tokens issued before: access tokens by the user's token
/// generation, refresh tokens by revoking every live login (family) of the user.
pub async fn patch(
    state: &AppState,
    actor: Actor,
    user_id: String,
    input: PatchUser,
    ctx: RequestContext,
) -> Result<UserView, AppError> {
    let clock = state.clock;
    let mut errors = Errors::new();
    let roles = match &input.roles {
        Some(r) => errors.take(Roles::parse_list("roles", r)),
        None => None,
    };
    let new_password = match &input.password {
        Some(p) => errors.take(NewPassword::parse("password", p)),
        None => None,
    };
    let display_name = match &input.display_name {
        Some(d) => errors.take(crate::domain::validation::text(
            "display_name",
            d,
            100,
            false,
        )),
        None => None,
    };
    let email = match &input.email {
        Some(Some(e)) => match parse_email("email", e) {
            Ok(v) => Some(v),
            Err(es) => {
                for e in es {
                    errors.push(e);
                }
                None
            }
        },
        Some(None) => Some(None),
        None => None,
    };
    errors.into_result()?;
    let hash = match &new_password {
        Some(p) => Some(password::hash(p.expose()).map_err(AppError::internal)?),
        None => None,
    };
    state
        .in_transaction(move |conn| {
            let mut user = db::users::find(conn, &user_id)?
                .ok_or(AppError::NotFound(crate::text!("用户", "user")))?;
            let agency = visible_agency(conn, &actor, &user.agency_id)
                .map_err(|_| AppError::NotFound(crate::text!("用户", "user")))?;
            actor.may_administer(&agency.id, &agency.path)?;
            let expected = input.if_match.ok_or(AppError::PreconditionRequired)?;
            if expected != user.version {
                return Err(AppError::PreconditionFailed);
            }
            if user.id == actor.user_id
                && (input.disabled == Some(true)
                    || roles.is_some_and(|r| !r.contains(crate::domain::access::Role::Admin)))
            {
                return Err(AppError::conflict(
                    "cannot_lock_out_self",
                    crate::text!(
                        "管理员不能停用自己或撤销自己的管理员角色",
                        "an admin cannot disable itself or remove its own admin role"
                    ),
                ));
            }
            let mut changes = serde_json::Map::new();
            let mut revoke = false;
            // Why the user's logins (refresh tokens) end, when they do.
            let mut end_logins = None;
            if let Some(r) = roles {
                changes.insert(
                    "roles".into(),
                    json!({"before": user.roles, "after": r.to_stored()}),
                );
                user.roles = r.to_stored();
            }
            if let Some(d) = input.disabled
                && d != user.disabled
            {
                changes.insert(
                    "disabled".into(),
                    json!({"before": user.disabled, "after": d}),
                );
                user.disabled = d;
                revoke |= d;
                if d {
                    end_logins = Some(super::refresh_tokens::REVOKED_USER_DISABLED);
                }
            }
            if let Some(name) = display_name {
                changes.insert(
                    "display_name".into(),
                    json!({"before": user.display_name, "after": name}),
                );
                user.display_name = name;
            }
            if let Some(d) = input.department_id
                && d != user.department_id
            {
                check_department(conn, &user.agency_id, d.as_deref())?;
                changes.insert(
                    "department_id".into(),
                    json!({"before": user.department_id, "after": d}),
                );
                user.department_id = d;
            }
            if let Some(e) = email
                && e != user.email
            {
                changes.insert("email".into(), json!({"before": user.email, "after": e}));
                user.email = e;
            }
            if let Some(h) = hash {
                changes.insert("password".into(), json!("changed"));
                user.password_hash = h;
                revoke = true;
                end_logins.get_or_insert(super::refresh_tokens::REVOKED_PASSWORD_CHANGED);
            }
            if revoke {
                user.token_generation += 1;
            }
            user.version += 1;
            user.updated_at = clock.now_micros();
            if !db::users::update_if_version(conn, &user, expected)? {
                return Err(AppError::PreconditionFailed);
            }
            if let Some(reason) = end_logins {
                let ended =
                    super::refresh_tokens::revoke_user(conn, &user.id, clock.now_micros(), reason)?;
                changes.insert("logins_ended".into(), json!(ended));
            }
            audit(
                conn,
                clock.now_micros(),
                Some(&actor),
                Some(&agency.id),
                ("user", &user.id),
                "user_updated",
                serde_json::Value::Object(changes),
                &ctx,
            )?;
            Ok(user)
        })
        .await
        // This process forgets the user's cached actor before it answers; others on their
        // next poll (`app::principals`).
        .inspect(|_| state.principals.invalidate())
        .map(UserView::from)
}
