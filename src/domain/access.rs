//! Who may do what: roles, and which agencies a user sees. Pure rules over the actor.

use serde::{Deserialize, Serialize};

use super::validation::FieldError;

/// A user's role inside its agency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Registers applications and moves them through the statutory steps (经办人).
    Clerk,
    /// Head of the disclosure office: approves extensions (批准延期).
    Approver,
    /// Manages agencies below its own, users, calendars, and publishes the yearly report.
    Admin,
    /// Reads everything in its agency's subtree (上级监督).
    Supervisor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Approver, Role::Clerk, Role::Supervisor];

    pub fn code(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Approver => "approver",
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// A non-empty set of roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles(u8);

impl Roles {
    fn bit(role: Role) -> u8 {
        match role {
            Role::Clerk => 1,
            Role::Approver => 2,
            Role::Admin => 4,
            Role::Supervisor => 8,
        }
    }

    pub fn contains(self, role: Role) -> bool {
        self.0 & Self::bit(role) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    pub fn to_vec(self) -> Vec<Role> {
        self.iter().collect()
    }

    /// Parses the roles given by a client: at least one, no unknown codes, no repeats.
    pub fn parse_list(field: &str, codes: &[String]) -> Result<Roles, FieldError> {
        if codes.is_empty() {
            return Err(FieldError::new(
                field,
                "required",
                "at least one role is required",
            ));
        }
        let mut bits = 0u8;
        for code in codes {
            let role = Role::parse(code).ok_or_else(|| {
                FieldError::new(
                    field,
                    "unknown_role",
                    format!("unknown role {code:?}; expected clerk, approver, admin or supervisor"),
                )
            })?;
            bits |= Self::bit(role);
        }
        Ok(Roles(bits))
    }

    pub fn from_roles(roles: &[Role]) -> Roles {
        Roles(roles.iter().fold(0, |acc, r| acc | Self::bit(*r)))
    }

    /// The stored form: sorted codes joined by commas.
    pub fn to_stored(self) -> String {
        self.iter().map(Role::code).collect::<Vec<_>>().join(",")
    }

    /// Reads the stored form; unknown codes (from a newer version) are ignored.
    pub fn from_stored(s: &str) -> Roles {
        Roles(
            s.split(',')
                .filter_map(|c| Role::parse(c.trim()))
                .fold(0, |acc, r| acc | Self::bit(r)),
        )
    }
}

/// The authenticated caller, as the domain needs to know it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub username: String,
    pub agency_id: String,
    /// Materialised path of the actor's agency: `/root-id/…/own-id/`.
    pub agency_path: String,
    pub roles: Roles,
}

/// The set of agencies a query may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Only this agency.
    Agency(String),
    /// The agency with this path and every agency below it.
    Subtree(String),
}

/// Why an actor may not do something it asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The record is outside the actor's agencies: answered as "not found" so its existence
    /// does not leak.
    #[error("not found")]
    OutOfScope,
    /// The record is visible but the actor's roles do not allow the action.
    #[error("this action needs the role {0}")]
    MissingRole(&'static str),
}

impl Actor {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(role)
    }

    /// Admins and supervisors see the agencies below their own; everyone sees their own.
    pub fn visibility(&self) -> Visibility {
        if self.has(Role::Admin) || self.has(Role::Supervisor) {
            Visibility::Subtree(self.agency_path.clone())
        } else {
            Visibility::Agency(self.agency_id.clone())
        }
    }

    /// Whether the agency with this id and path is visible to the actor.
    pub fn sees(&self, agency_id: &str, agency_path: &str) -> bool {
        match self.visibility() {
            Visibility::Agency(id) => id == agency_id,
            Visibility::Subtree(prefix) => agency_path.starts_with(&prefix),
        }
    }

    /// Checks that the actor sees the agency, then that it holds the role.
    pub fn require(&self, role: Role, agency_id: &str, agency_path: &str) -> Result<(), Denied> {
        if !self.sees(agency_id, agency_path) {
            return Err(Denied::OutOfScope);
        }
        if !self.has(role) {
            return Err(Denied::MissingRole(role.code()));
        }
        Ok(())
    }

    /// Admins manage agencies and users in their subtree.
    pub fn may_administer(&self, agency_id: &str, agency_path: &str) -> Result<(), Denied> {
        self.require(Role::Admin, agency_id, agency_path)
    }

    /// Listing users is for admins and supervisors of the agency's subtree.
    pub fn may_list_users(&self, agency_id: &str, agency_path: &str) -> Result<(), Denied> {
        if !self.sees(agency_id, agency_path) {
            return Err(Denied::OutOfScope);
        }
        if self.has(Role::Admin) || self.has(Role::Supervisor) {
            Ok(())
        } else {
            Err(Denied::MissingRole("admin"))
        }
    }

    /// Whether the actor's agency is the root of the tree (depth 0 path `/id/`).
    pub fn is_at_root(&self) -> bool {
        self.agency_path.matches('/').count() == 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(roles: &[Role], path: &str) -> Actor {
        let id = path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        Actor {
            user_id: "u".into(),
            username: "u".into(),
            agency_id: id,
            agency_path: path.into(),
            roles: Roles::from_roles(roles),
        }
    }

    #[test]
    fn a_clerk_sees_only_its_own_agency() {
        let a = actor(&[Role::Clerk], "/r/c/");
        assert!(a.sees("c", "/r/c/"));
        assert!(!a.sees("d", "/r/c/d/"));
        assert!(!a.sees("r", "/r/"));
    }

    #[test]
    fn a_supervisor_sees_its_subtree_but_not_siblings_or_parents() {
        let a = actor(&[Role::Supervisor], "/r/c/");
        assert!(a.sees("d", "/r/c/d/"));
        assert!(!a.sees("r", "/r/"));
        assert!(!a.sees("x", "/r/cx/"));
    }

    #[test]
    fn administering_needs_the_admin_role_and_scope() {
        let s = actor(&[Role::Supervisor], "/r/");
        assert_eq!(
            s.may_administer("c", "/r/c/"),
            Err(Denied::MissingRole("admin"))
        );
        let a = actor(&[Role::Admin], "/r/c/");
        assert_eq!(a.may_administer("r", "/r/"), Err(Denied::OutOfScope));
        assert_eq!(a.may_administer("d", "/r/c/d/"), Ok(()));
    }

    #[test]
    fn roles_round_trip_through_the_stored_form() {
        let r =
            Roles::parse_list("roles", &["supervisor".into(), "clerk".into()]).unwrap_or_default();
        assert_eq!(r.to_stored(), "clerk,supervisor");
        assert_eq!(Roles::from_stored("clerk,supervisor"), r);
        assert!(Roles::parse_list("roles", &["boss".into()]).is_err());
        assert!(Roles::parse_list("roles", &[]).is_err());
    }
}
