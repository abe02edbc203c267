//! Reading the audit log of administrative changes (users, agencies, calendars, logins,
//! reviews, lawsuits, reports). Admins read their subtree's entries; the root's admins read
//! everything, including entries that belong to no agency (calendar files loaded at start).

use super::{AppError, AppState, Page, Paged};
use crate::db::{self, audit::AuditRow};
use crate::domain::access::{Actor, Role};

pub async fn list(
    state: &AppState,
    actor: Actor,
    entity_type: Option<String>,
    entity_id: Option<String>,
    page: Page,
) -> Result<Paged<AuditRow>, AppError> {
    if !actor.has(Role::Admin) {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!("审计日志仅供管理员查看", "the audit log is for admins"),
        });
    }
    state
        .with_conn(move |conn| {
            let ids = if actor.is_at_root() {
                None
            } else {
                match db::requests::resolve(conn, &actor.visibility())? {
                    db::requests::Scope::All => None,
                    db::requests::Scope::Agencies(ids) => Some(ids),
                }
            };
            let (items, total) = db::audit::list(
                conn,
                ids.as_deref(),
                entity_type.as_deref(),
                entity_id.as_deref(),
                page.offset(),
                page.per_page,
            )?;
            Ok(Paged { items, page, total })
        })
        .await
}
