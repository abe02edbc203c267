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

    /// The role's Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Role::Clerk => "经办人",
            Role::Approver => "审批人",
            Role::Admin => "管理员",
            Role::Supervisor => "监督人员",
        }
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
                crate::text!("至少须有一个角色", "at least one role is required"),
            ));
        }
        let mut bits = 0u8;
        for code in codes {
            let role = Role::parse(code).ok_or_else(|| {
                FieldError::new(
                    field,
                    "unknown_role",
                    crate::text!(
                        "未知角色 {code:?}；须为 clerk（经办人）、approver（审批人）、admin（管理员）或 supervisor（监督人员）",
                        "unknown role {code:?}; expected clerk, approver, admin or supervisor"
                    ),
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

/// What a system client may do (OAuth2 scopes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// Forward applications (`requests:create`).
    #[serde(rename = "requests:create")]
    RequestsCreate,
    /// Read applications and their status (`requests:read`).
    #[serde(rename = "requests:read")]
    RequestsRead,
    /// Read yearly reports (`reports:read`).
    #[serde(rename = "reports:read")]
    ReportsRead,
    /// Read the change feed (`feed:read`).
    #[serde(rename = "feed:read")]
    FeedRead,
    /// Export applications with identity numbers and credit codes in full
    /// (`requests:export_personal`); without it exports are masked.
    #[serde(rename = "requests:export_personal")]
    RequestsExportPersonal,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::RequestsCreate,
        Scope::RequestsRead,
        Scope::ReportsRead,
        Scope::FeedRead,
        Scope::RequestsExportPersonal,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Scope::RequestsCreate => "requests:create",
            Scope::RequestsRead => "requests:read",
            Scope::ReportsRead => "reports:read",
            Scope::FeedRead => "feed:read",
            Scope::RequestsExportPersonal => "requests:export_personal",
        }
    }

    pub fn parse(code: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.code() == code)
    }

    fn bit(self) -> u8 {
        match self {
            Scope::RequestsCreate => 1,
            Scope::RequestsRead => 2,
            Scope::ReportsRead => 4,
            Scope::FeedRead => 8,
            Scope::RequestsExportPersonal => 16,
        }
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn codes(self) -> Vec<&'static str> {
        self.iter().map(Scope::code).collect()
    }

    pub fn intersect(self, other: Scopes) -> Scopes {
        Scopes(self.0 & other.0)
    }

    /// Parses the scopes given by a client: at least one, no unknown codes.
    pub fn parse_list(field: &str, codes: &[String]) -> Result<Scopes, FieldError> {
        if codes.is_empty() {
            return Err(FieldError::new(
                field,
                "required",
                crate::text!("至少须有一个权限范围", "at least one scope is required"),
            ));
        }
        let mut bits = 0u8;
        for code in codes {
            let scope = Scope::parse(code).ok_or_else(|| {
                FieldError::new(
                    field,
                    "unknown_scope",
                    crate::text!(
                        "未知权限范围 {code:?}；须为 requests:create、requests:read、reports:read、feed:read 或 requests:export_personal",
                        "unknown scope {code:?}; expected requests:create, requests:read, reports:read, feed:read or requests:export_personal"
                    ),
                )
            })?;
            bits |= scope.bit();
        }
        Ok(Scopes(bits))
    }

    /// The stored and token form: codes joined by `sep` in a fixed order.
    pub fn join(self, sep: &str) -> String {
        self.codes().join(sep)
    }

    /// Reads a stored or token form (commas or spaces); unknown codes are ignored.
    pub fn from_stored(s: &str) -> Scopes {
        Scopes(
            s.split([',', ' '])
                .filter_map(|c| Scope::parse(c.trim()))
                .fold(0, |acc, sc| acc | sc.bit()),
        )
    }
}

/// Who stands behind the actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A user of this service (password grant).
    User,
    /// A system client: only what its scopes allow, in its agency's subtree.
    Client { scopes: Scopes },
    /// A person signed in at a trusted identity provider (a provincial platform); roles and
    /// agency come from the token's claims.
    Federated { issuer: String },
}

/// The authenticated caller, as the domain needs to know it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user's id; for a client `client:<id>`; for a federated person `<issuer>#<sub>`.
    pub user_id: String,
    pub username: String,
    pub agency_id: String,
    /// Materialised path of the actor's agency: `/root-id/…/own-id/`.
    pub agency_path: String,
    pub roles: Roles,
    pub principal: Principal,
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
    /// A system client without the scope the action needs.
    #[error("this action needs the scope {0}")]
    MissingScope(&'static str),
    /// The record belongs to an agency below the actor's: seen (supervision), not handled.
    #[error("records of an agency below yours are read, not handled")]
    NotOwnAgency,
}

impl Actor {
    /// How records and trails name the actor: a user or client by its unique name; a person
    /// from a trusted identity provider by display name and `issuer#subject`, so two people of
    /// the same name are told apart (`李四 (https://sso.example.gov.cn#p-1024)`).
    pub fn recorded_as(&self) -> String {
        match self.principal {
            Principal::Federated { .. } => format!("{} ({})", self.username, self.user_id),
            _ => self.username.clone(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(role)
    }

    /// A system client acting for a subtree.
    pub fn client(
        client_id: &str,
        name: &str,
        agency_id: &str,
        agency_path: &str,
        scopes: Scopes,
    ) -> Actor {
        // Forwarding registers applications as a clerk would; reading needs no role beyond
        // the scopes, which the HTTP layer checks per route.
        let roles = if scopes.contains(Scope::RequestsCreate) {
            Roles::from_roles(&[Role::Clerk])
        } else {
            Roles::default()
        };
        Actor {
            user_id: format!("client:{client_id}"),
            username: format!("client:{name}"),
            agency_id: agency_id.to_string(),
            agency_path: agency_path.to_string(),
            roles,
            principal: Principal::Client { scopes },
        }
    }

    /// The client's scopes, if the actor is a system client.
    pub fn client_scopes(&self) -> Option<Scopes> {
        match &self.principal {
            Principal::Client { scopes } => Some(*scopes),
            _ => None,
        }
    }

    /// A client must hold the scope; users and federated persons are governed by roles.
    pub fn require_scope(&self, scope: Scope) -> Result<(), Denied> {
        match self.client_scopes() {
            Some(s) if !s.contains(scope) => Err(Denied::MissingScope(scope.code())),
            _ => Ok(()),
        }
    }

    /// Whether the actor may register an application in this agency: its own, or one it
    /// sees as an admin or as a client forwarding applications.
    pub fn may_register_in(&self, agency_id: &str, agency_path: &str) -> bool {
        agency_id == self.agency_id
            || ((self.has(Role::Admin)
                || self
                    .client_scopes()
                    .is_some_and(|s| s.contains(Scope::RequestsCreate)))
                && self.sees(agency_id, agency_path))
    }

    /// Admins, supervisors and clients see the agencies below their own; everyone sees
    /// their own.
    pub fn visibility(&self) -> Visibility {
        if self.has(Role::Admin) || self.has(Role::Supervisor) || self.client_scopes().is_some() {
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

    /// Whether the actor may handle (write) records of this agency — an application's steps and
    /// details, its notices, documents, reviews and lawsuits. Reading follows
    /// [`Actor::visibility`]; handling does not: a supervisor (or a supervisor who is also a
    /// clerk or approver) at a parent agency reads the subtree and handles only its own
    /// agency's records. The one explicit rule by which a parent office acts for an agency
    /// below it is the admin role (as it registers applications there); such acts name the
    /// admin in the record's trail like any other.
    pub fn may_handle(&self, agency_id: &str, agency_path: &str) -> Result<(), Denied> {
        if !self.sees(agency_id, agency_path) {
            return Err(Denied::OutOfScope);
        }
        if self.has(Role::Admin) {
            return Ok(());
        }
        if agency_id != self.agency_id {
            return Err(Denied::NotOwnAgency);
        }
        if self.has(Role::Clerk) || self.has(Role::Approver) {
            Ok(())
        } else {
            Err(Denied::MissingRole(Role::Clerk.code()))
        }
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
            principal: Principal::User,
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
    fn handling_needs_the_own_agency_except_for_admins() {
        let (parent, child) = ("/root/p/", "/root/p/c/");
        // A supervisor who is also clerk and approver at the parent reads the child, does not
        // write there.
        let sup = actor(&[Role::Supervisor, Role::Clerk, Role::Approver], parent);
        assert!(sup.sees("c", child));
        assert_eq!(sup.may_handle("c", child), Err(Denied::NotOwnAgency));
        assert_eq!(sup.may_handle("p", parent), Ok(()));
        // A supervisor alone handles nothing, not even at home.
        let only = actor(&[Role::Supervisor], parent);
        assert_eq!(
            only.may_handle("p", parent),
            Err(Denied::MissingRole("clerk"))
        );
        // A clerk of the child does not reach the parent at all.
        let clerk = actor(&[Role::Clerk], child);
        assert_eq!(clerk.may_handle("p", parent), Err(Denied::OutOfScope));
        assert_eq!(clerk.may_handle("c", child), Ok(()));
        // The admin's explicit rule: its own agency and those below.
        let admin = actor(&[Role::Admin], parent);
        assert_eq!(admin.may_handle("c", child), Ok(()));
        assert_eq!(admin.may_handle("x", "/root/x/"), Err(Denied::OutOfScope));
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
    fn a_client_sees_its_subtree_and_holds_only_its_scopes() {
        let scopes = Scopes::from_stored("requests:read,feed:read");
        let c = Actor::client("k", "prov", "c", "/r/c/", scopes);
        assert!(c.sees("d", "/r/c/d/"));
        assert!(!c.sees("r", "/r/"));
        assert!(!c.sees("x", "/r/cx/"));
        assert_eq!(c.require_scope(Scope::FeedRead), Ok(()));
        assert_eq!(
            c.require_scope(Scope::RequestsCreate),
            Err(Denied::MissingScope("requests:create"))
        );
        // Read-only clients hold no role: every role-checked action is refused.
        assert!(!c.has(Role::Clerk));
        assert!(!c.may_register_in("d", "/r/c/d/"));
        let w = Actor::client(
            "k",
            "prov",
            "c",
            "/r/c/",
            Scopes::from_stored("requests:create"),
        );
        assert!(w.may_register_in("d", "/r/c/d/"));
        assert!(!w.may_register_in("r", "/r/"));
    }

    #[test]
    fn scopes_parse_strictly_and_round_trip() {
        let s = Scopes::parse_list("scopes", &["feed:read".into(), "requests:create".into()])
            .unwrap_or_default();
        assert_eq!(s.join(","), "requests:create,feed:read");
        assert_eq!(Scopes::from_stored("requests:create feed:read"), s);
        assert!(Scopes::parse_list("scopes", &["admin".into()]).is_err());
        assert!(Scopes::parse_list("scopes", &[]).is_err());
        // A user is not limited by scopes.
        let u = actor(&[Role::Clerk], "/r/");
        assert_eq!(u.require_scope(Scope::ReportsRead), Ok(()));
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
