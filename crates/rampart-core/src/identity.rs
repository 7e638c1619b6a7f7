//! Who is calling and what they may be: the IdentityEnvelope every downstream decision receives.

use std::fmt;
use std::str::FromStr;

/// The roles of seed 001's RBAC. A principal holds one or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything, including keys, policy and every tenant's data.
    Admin,
    /// Runs the platform: models, backends, health; reads its tenant's logs.
    Operator,
    /// Calls models and reads what is their own.
    User,
    /// A software principal acting for someone, under delegation.
    Agent,
    /// Reads the audit log and every tenant's records, changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Admin, Role::Operator, Role::User, Role::Agent, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::User => "user",
            Role::Agent => "agent",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}': expected one of admin, operator, user, agent, auditor")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A Rampart API key; the id is the key's public lookup id, never the secret.
    ApiKey { key_id: String },
    /// An OIDC bearer token from `issuer`, for subject `subject`.
    Oidc { issuer: String, subject: String },
    /// Authentication is off (explicit development setting): nobody was checked.
    Unauthenticated,
}

/// Delegation lineage of an agent principal: which run it is, and which run started it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentLineage {
    pub run_id: String,
    pub parent_run_id: Option<String>,
}

/// Seed 000's IdentityEnvelope: built once per request at the gateway, after authentication,
/// and handed to every decision downstream (policy, router, limits, audit, retrieval).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityEnvelope {
    pub tenant_id: String,
    pub user_id: String,
    pub roles: Vec<Role>,
    /// The request must stay on Tier 1 (on-premises) models.
    pub privacy_mode: bool,
    /// Content hash of the policy bundle that decided this request.
    pub policy_version: String,
    pub credential: Credential,
    /// Set when the principal is an agent acting under delegation.
    pub agent: Option<AgentLineage>,
}

impl IdentityEnvelope {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Admins and auditors read across tenants; everyone else sees their own tenant only.
    pub fn reads_all_tenants(&self) -> bool {
        self.has_role(Role::Admin) || self.has_role(Role::Auditor)
    }

    /// The key id when the caller used an API key.
    pub fn api_key_id(&self) -> Option<&str> {
        match &self.credential {
            Credential::ApiKey { key_id } => Some(key_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_case_insensitively_and_name_the_choices_when_wrong() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.as_str().to_uppercase().parse::<Role>(), Ok(role));
        }
        let error = "root".parse::<Role>().unwrap_err();
        assert!(error.to_string().contains("admin, operator, user, agent, auditor"), "{error}");
    }
}
