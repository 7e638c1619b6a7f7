//! Verified claims → [`IdentityEnvelope`], through the issuer's [`ClaimMapping`].

use rampart_core::{Credential, IdentityEnvelope, Role};
use serde_json::{Map, Value};

use super::config::ClaimMapping;
use crate::error::AuthError;

/// Builds the envelope of a token whose signature and time/issuer/audience claims were
/// already checked. `policy_version` and `privacy_mode` are the gateway's to set.
pub(crate) fn envelope_from_claims(
    issuer: &str,
    mapping: &ClaimMapping,
    claims: &Map<String, Value>,
) -> Result<IdentityEnvelope, AuthError> {
    let missing = |purpose: &'static str, claim: &str| AuthError::MissingClaim { purpose, claim: claim.to_owned() };
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|subject| !subject.is_empty())
        .ok_or_else(|| missing("subject", "sub"))?;
    let tenant_id = match text_claim(claims, &mapping.tenant_claim) {
        Some(tenant) => tenant,
        None => mapping.default_tenant.clone().ok_or_else(|| missing("tenant", &mapping.tenant_claim))?,
    };
    let user_id = text_claim(claims, &mapping.user_claim).ok_or_else(|| missing("user", &mapping.user_claim))?;
    let mut roles: Vec<Role> = role_names(claims_at(claims, &mapping.roles_claim))
        .filter_map(|name| mapping.role_map.get(name).copied())
        .chain(mapping.default_roles.iter().copied())
        .collect();
    roles.sort();
    roles.dedup();
    Ok(IdentityEnvelope {
        tenant_id,
        user_id,
        roles,
        privacy_mode: false,
        policy_version: String::new(),
        credential: Credential::Oidc { issuer: issuer.to_owned(), subject: subject.to_owned() },
        agent: None,
    })
}

/// The claim called `path`, or else the value at the dotted path `a.b.c` through nested objects.
fn claims_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut segments = path.split('.');
    let first = claims.get(segments.next()?)?;
    segments.try_fold(first, |value, segment| value.as_object()?.get(segment))
}

/// A non-empty string claim; numbers are taken as their decimal text (numeric tenant ids).
fn text_claim(claims: &Map<String, Value>, path: &str) -> Option<String> {
    match claims_at(claims, path)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Role names from an array of strings or from one space-separated string.
fn role_names(value: Option<&Value>) -> Box<dyn Iterator<Item = &str> + '_> {
    match value {
        Some(Value::Array(items)) => Box::new(items.iter().filter_map(Value::as_str)),
        Some(Value::String(text)) => Box::new(text.split_whitespace()),
        _ => Box::new(std::iter::empty()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn envelope(mapping: &ClaimMapping, claims: Value) -> Result<IdentityEnvelope, AuthError> {
        envelope_from_claims("https://idp", mapping, claims.as_object().unwrap())
    }

    fn keycloak_mapping() -> ClaimMapping {
        ClaimMapping {
            roles_claim: "realm_access.roles".into(),
            tenant_claim: "org.id".into(),
            user_claim: "preferred_username".into(),
            role_map: [("rampart-admin".to_owned(), Role::Admin), ("rampart-user".to_owned(), Role::User)]
                .into_iter()
                .collect(),
            ..ClaimMapping::default()
        }
    }

    #[test]
    fn nested_claims_and_the_role_map_decide_tenant_user_and_roles() {
        let claims = json!({
            "sub": "f3c1", "preferred_username": "alice", "org": {"id": 42},
            "realm_access": {"roles": ["rampart-user", "offline_access", "admin", "rampart-admin", "rampart-user"]},
        });
        let envelope = envelope(&keycloak_mapping(), claims).unwrap();
        assert_eq!(envelope.tenant_id, "42");
        assert_eq!(envelope.user_id, "alice");
        // "admin" is not in the map: an IdP role spelled like a Rampart role grants nothing.
        assert_eq!(envelope.roles, [Role::Admin, Role::User]);
        assert_eq!(envelope.credential, Credential::Oidc { issuer: "https://idp".into(), subject: "f3c1".into() });
        assert!(!envelope.privacy_mode);
        assert!(envelope.policy_version.is_empty());
    }

    #[test]
    fn a_claim_whose_name_has_dots_is_found_whole() {
        let mapping = ClaimMapping {
            roles_claim: "https://rampart.example/roles".into(),
            role_map: [("ops".to_owned(), Role::Operator)].into_iter().collect(),
            default_roles: vec![Role::User],
            ..ClaimMapping::default()
        };
        let claims = json!({"sub": "u", "tenant": "acme", "https://rampart.example/roles": "ops reader"});
        assert_eq!(envelope(&mapping, claims).unwrap().roles, [Role::Operator, Role::User]);
    }

    #[test]
    fn a_missing_tenant_falls_back_to_the_default_or_is_refused_by_name() {
        let claims = json!({"sub": "u"});
        let error = envelope(&ClaimMapping::default(), claims.clone()).unwrap_err();
        assert_eq!(error.to_string(), "token has no tenant claim 'tenant'");
        let mapping = ClaimMapping { default_tenant: Some("public".into()), ..ClaimMapping::default() };
        let envelope = envelope(&mapping, claims).unwrap();
        assert_eq!((envelope.tenant_id.as_str(), envelope.user_id.as_str()), ("public", "u"));
        assert!(envelope.roles.is_empty());
    }

    #[test]
    fn subject_and_user_claims_are_required() {
        let error = envelope(&ClaimMapping::default(), json!({"tenant": "t"})).unwrap_err();
        assert_eq!(error, AuthError::MissingClaim { purpose: "subject", claim: "sub".into() });
        let mapping = ClaimMapping { user_claim: "email".into(), ..ClaimMapping::default() };
        let error = envelope(&mapping, json!({"sub": "u", "tenant": "t", "email": ""})).unwrap_err();
        assert_eq!(error.to_string(), "token has no user claim 'email'");
    }
}
