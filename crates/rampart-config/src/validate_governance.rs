//! Checks of `[auth]`, `[policy]` and `[audit]`.

use std::collections::HashSet;

use crate::error::ConfigError;
use crate::locate::KeyPath;
use crate::model::Config;

/// Signature algorithms an OIDC issuer may be configured with: asymmetric only, so a
/// verifier's public key can never double as an HMAC secret.
pub const OIDC_ALGORITHMS: [&str; 9] =
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// Rampart's roles, as `role_map` targets.
const ROLES: [&str; 5] = ["admin", "operator", "user", "agent", "auditor"];

pub(crate) fn validate_governance(
    config: &Config,
    invalid: &impl Fn(KeyPath, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let root = KeyPath::default();
    let auth = root.key("auth");
    if config.auth.development_tenant.trim().is_empty() {
        return Err(invalid(auth.key("development_tenant"), "must not be empty".to_owned()));
    }
    let mut issuers = HashSet::new();
    for (index, issuer) in config.auth.oidc.iter().enumerate() {
        let path = auth.key("oidc").index(index);
        if !(issuer.issuer.starts_with("https://") || issuer.issuer.starts_with("http://")) {
            return Err(invalid(
                path.key("issuer"),
                format!("is '{}': an issuer is an https:// URL, exactly as tokens carry it in `iss`", issuer.issuer),
            ));
        }
        if !issuers.insert(issuer.issuer.as_str()) {
            return Err(invalid(path.key("issuer"), format!("'{}' is configured twice", issuer.issuer)));
        }
        if issuer.audiences.is_empty() || issuer.audiences.iter().any(|audience| audience.trim().is_empty()) {
            return Err(invalid(
                path.key("audiences"),
                "must list at least one non-empty audience (the client id tokens are issued for)".to_owned(),
            ));
        }
        if let Some(url) = &issuer.jwks_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(invalid(path.key("jwks_url"), format!("is '{url}', which is not an http(s) URL")));
        }
        if issuer.algorithms.is_empty() {
            return Err(invalid(path.key("algorithms"), "must list at least one algorithm".to_owned()));
        }
        for algorithm in &issuer.algorithms {
            if !OIDC_ALGORITHMS.contains(&algorithm.as_str()) {
                return Err(invalid(
                    path.key("algorithms"),
                    format!(
                        "'{algorithm}' is not accepted: use {} (HMAC and `none` are refused on purpose)",
                        OIDC_ALGORITHMS.join(", ")
                    ),
                ));
            }
        }
        for (key, value) in [
            ("jwks_refresh_secs", issuer.jwks_refresh_secs),
            ("min_refresh_interval_secs", issuer.min_refresh_interval_secs),
            ("http_timeout_secs", issuer.http_timeout_secs),
        ] {
            if value == 0 {
                return Err(invalid(path.key(key), "must be greater than 0".to_owned()));
            }
        }
        for (key, value) in [
            ("tenant_claim", &issuer.tenant_claim),
            ("user_claim", &issuer.user_claim),
            ("roles_claim", &issuer.roles_claim),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(path.key(key), "must name a claim".to_owned()));
            }
        }
        for role in &issuer.default_roles {
            if !ROLES.contains(&role.as_str()) {
                return Err(invalid(
                    path.key("default_roles"),
                    format!("'{role}' is not a role: use {}", ROLES.join(", ")),
                ));
            }
        }
        for (from, to) in &issuer.role_map {
            if !ROLES.contains(&to.as_str()) {
                return Err(invalid(
                    path.key("role_map").key(from),
                    format!("is '{to}': map to one of {}", ROLES.join(", ")),
                ));
            }
        }
    }
    if config.policy.reload_interval_secs == 0 {
        return Err(invalid(root.key("policy").key("reload_interval_secs"), "must be greater than 0".to_owned()));
    }
    if config.policy.eval_timeout_ms == 0 {
        return Err(invalid(
            root.key("policy").key("eval_timeout_ms"),
            "must be greater than 0 (a decision with no time to run is always a deny)".to_owned(),
        ));
    }
    if config.audit.checkpoint_interval_secs == 0 {
        return Err(invalid(root.key("audit").key("checkpoint_interval_secs"), "must be greater than 0".to_owned()));
    }
    Ok(())
}
