//! First start: an empty database gets a root agency and an `admin` user.

use serde_json::json;

use super::{AppError, RequestContext, audit};
use crate::auth::password;
use crate::clock::Clock;
use crate::config::BootstrapSettings;
use crate::db::{self, DbConnection, agencies::AgencyRow, users::UserRow};
use crate::domain::access::{Role, Roles};
use crate::domain::agency::{AgencyCode, root_path};
use crate::domain::user::NewPassword;

/// What the bootstrap did.
pub enum Bootstrap {
    AlreadyInitialised,
    /// Created; `generated_password` is set when the password was generated and must be shown
    /// to the operator once.
    Created {
        agency_code: String,
        generated_password: Option<String>,
    },
}

pub fn run(
    conn: &mut DbConnection,
    clock: &Clock,
    settings: &BootstrapSettings,
) -> Result<Bootstrap, AppError> {
    let code = AgencyCode::parse("bootstrap.root_agency_code", &settings.root_agency_code)
        .map_err(|e| AppError::Validation(vec![e]))?;
    let (password, generated) = if settings.admin_password.is_empty() {
        let p = password::generate_password();
        (p.clone(), Some(p))
    } else {
        NewPassword::parse("bootstrap.admin_password", &settings.admin_password)
            .map_err(|e| AppError::Validation(vec![e]))?;
        (settings.admin_password.clone(), None)
    };
    let hash = password::hash(&password).map_err(AppError::internal)?;
    db::transaction(conn, |conn| {
        // Checked inside the transaction: two processes starting together create one root.
        if db::agencies::count(conn)? > 0 {
            return Ok(Bootstrap::AlreadyInitialised);
        }
        let now = clock.now_micros();
        let agency_id = uuid::Uuid::new_v4().to_string();
        let agency = AgencyRow {
            path: root_path(&agency_id),
            id: agency_id,
            code: code.as_str().to_string(),
            name: settings.root_agency_name.clone(),
            parent_id: None,
            region: None,
            depth: 0,
            created_at: now,
            updated_at: now,
            report_kind: "department".into(),
        };
        db::agencies::insert(conn, &agency)?;
        let user = UserRow {
            id: uuid::Uuid::new_v4().to_string(),
            agency_id: agency.id.clone(),
            username: "admin".into(),
            display_name: "Administrator".into(),
            password_hash: hash,
            roles: Roles::from_roles(&[Role::Admin, Role::Supervisor]).to_stored(),
            disabled: false,
            token_generation: 0,
            version: 1,
            created_at: now,
            updated_at: now,
            department_id: None,
            email: None,
        };
        db::users::insert(conn, &user)?;
        audit(
            conn,
            now,
            None,
            Some(&agency.id),
            ("agency", &agency.id),
            "bootstrap",
            json!({"root_agency_code": agency.code, "admin_user_id": user.id}),
            &RequestContext::default(),
        )?;
        Ok(Bootstrap::Created {
            agency_code: agency.code,
            generated_password: generated,
        })
    })
}

/// `gongkai user create`: a user in the agency with this code, outside any HTTP request.
pub fn create_user_cli(
    conn: &mut DbConnection,
    clock: &Clock,
    agency_code: &str,
    username: &str,
    role: &str,
    password_plain: &str,
) -> Result<UserRow, AppError> {
    let parsed =
        crate::domain::user::NewUser::parse(username, None, password_plain, &[role.to_string()])?;
    let hash = password::hash(parsed.password.expose()).map_err(AppError::internal)?;
    let code =
        AgencyCode::parse("agency", agency_code).map_err(|e| AppError::Validation(vec![e]))?;
    db::transaction(conn, |conn| {
        let agency = db::agencies::find_by_code(conn, code.as_str())?
            .ok_or(AppError::NotFound(crate::text!("机关", "agency")))?;
        if db::users::find_by_username(conn, parsed.username.as_str())?.is_some() {
            return Err(AppError::conflict(
                "username_taken",
                crate::text!("用户名已被占用", "the user name is taken"),
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
            department_id: None,
            email: None,
        };
        db::users::insert(conn, &row)?;
        audit(
            conn,
            now,
            None,
            Some(&agency.id),
            ("user", &row.id),
            "user_created",
            json!({"username": row.username, "roles": row.roles, "via": "cli"}),
            &RequestContext::default(),
        )?;
        Ok(row)
    })
}
