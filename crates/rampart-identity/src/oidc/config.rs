//! Settings of one trusted OIDC issuer, and the checks that refuse unsafe ones.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use jsonwebtoken::Algorithm;
use rampart_core::Role;

use crate::error::OidcError;

/// Accepted when `algorithms` is not set.
pub const DEFAULT_ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// One trusted issuer. Build with [`OidcConfig::new`] and adjust the public fields;
/// [`crate::oidc::OidcProvider::new`] checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// Compared byte for byte with the discovery document's `issuer` and every token's `iss`.
    pub issuer: String,
    /// A token's `aud` must contain at least one of these.
    pub audiences: Vec<String>,
    /// The key set's URL; when set, discovery is skipped.
    pub jwks_url: Option<String>,
    /// Allowed `alg` values. Symmetric (`HS*`) and `none` can never be configured.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway_secs: u64,
    /// How long a fetched key set is used before it is fetched again (so removed keys stop
    /// verifying and new ones are picked up).
    pub jwks_refresh_secs: u64,
    /// A token with an unknown `kid` triggers at most one refetch per this many seconds (and a
    /// failed fetch is retried no sooner), so made-up kids cannot make Rampart hammer the IdP.
    pub min_refresh_interval_secs: u64,
    /// Whole-request timeout of discovery and key set fetches.
    pub http_timeout_secs: u64,
    pub claims: ClaimMapping,
}

impl OidcConfig {
    /// An issuer with the default settings.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> Self {
        OidcConfig {
            issuer: issuer.into(),
            audiences,
            jwks_url: None,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway_secs: 60,
            jwks_refresh_secs: 300,
            min_refresh_interval_secs: 10,
            http_timeout_secs: 10,
            claims: ClaimMapping::default(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), OidcError> {
        let invalid = |reason: String| OidcError::InvalidConfig { issuer: self.issuer.clone(), reason };
        check_fetch_url(&self.issuer).map_err(|reason| invalid(format!("issuer {reason}")))?;
        if let Some(jwks_url) = &self.jwks_url {
            check_fetch_url(jwks_url).map_err(|reason| invalid(format!("jwks_url {reason}")))?;
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(invalid("audiences must list at least one non-empty audience".into()));
        }
        if self.algorithms.is_empty() {
            return Err(invalid("algorithms must list at least one algorithm".into()));
        }
        if let Some(symmetric) = self.algorithms.iter().find(|alg| is_symmetric(**alg)) {
            return Err(invalid(format!("algorithm {symmetric:?} is not accepted: {SYMMETRIC_REASON}")));
        }
        if self.jwks_refresh_secs == 0 {
            return Err(invalid("jwks_refresh_secs must be at least 1".into()));
        }
        if self.http_timeout_secs == 0 {
            return Err(invalid("http_timeout_secs must be at least 1".into()));
        }
        let claims = &self.claims;
        for (key, name) in [
            ("tenant_claim", &claims.tenant_claim),
            ("user_claim", &claims.user_claim),
            ("roles_claim", &claims.roles_claim),
        ] {
            if name.is_empty() {
                return Err(invalid(format!("claims.{key} must not be empty")));
            }
        }
        Ok(())
    }
}

/// Which claims say who the caller is. Names may be dotted paths into nested objects
/// (`realm_access.roles`); a claim whose own name contains dots (`https://example.com/roles`)
/// is found too, since the whole name is tried first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    pub tenant_claim: String,
    pub user_claim: String,
    /// An array of strings, or one space-separated string (like `scope`).
    pub roles_claim: String,
    /// The tenant of tokens that have no tenant claim; without it such tokens are refused.
    pub default_tenant: Option<String>,
    /// IdP role name → Rampart role. Only names listed here grant roles: an IdP role spelled
    /// like a Rampart role ("admin") grants nothing unless mapped, so an IdP's own roles never
    /// become Rampart's by accident. Unmapped names are ignored.
    pub role_map: BTreeMap<String, Role>,
    /// Granted to every token from this issuer, on top of mapped roles.
    pub default_roles: Vec<Role>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        ClaimMapping {
            tenant_claim: "tenant".into(),
            user_claim: "sub".into(),
            roles_claim: "roles".into(),
            default_tenant: None,
            role_map: BTreeMap::new(),
            default_roles: Vec::new(),
        }
    }
}

const SYMMETRIC_REASON: &str = "a shared-secret (HS*) algorithm would let anyone holding the secret, or the IdP's public key \
     bytes, mint tokens; Rampart verifies OIDC tokens with the issuer's public keys only";

fn is_symmetric(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// A configured algorithm name that Rampart refuses or does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing algorithm '{name}' is not accepted: {reason}")]
pub struct AlgorithmNotAccepted {
    pub name: String,
    pub reason: &'static str,
}

/// Reads an algorithm name from configuration (`"RS256"`, `"ES256"`, `"EdDSA"`, …), refusing
/// `none` and the `HS*` family.
pub fn parse_signing_algorithm(name: &str) -> Result<Algorithm, AlgorithmNotAccepted> {
    let refuse = |reason| AlgorithmNotAccepted { name: name.to_owned(), reason };
    if name.trim().eq_ignore_ascii_case("none") {
        return Err(refuse("unsigned tokens are never accepted"));
    }
    let alg = Algorithm::from_str(name.trim())
        .map_err(|_| refuse("expected one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"))?;
    if is_symmetric(alg) {
        return Err(refuse(SYMMETRIC_REASON));
    }
    Ok(alg)
}

/// Fetched URLs must be HTTPS; plain HTTP only to this machine (tests, a local IdP).
fn check_fetch_url(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|error| format!("'{text}' is not a URL: {error}"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("'{text}' must not have a query or fragment"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url.host_str().unwrap_or_default()) => Ok(()),
        _ => Err(format!("'{text}' must be an https:// URL (http:// only to localhost)")),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OidcConfig {
        OidcConfig::new("https://idp.example.com/realms/acme", vec!["rampart".into()])
    }

    fn reason_of(config: &OidcConfig) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = config();
        assert_eq!(config.algorithms, [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]);
        assert_eq!((config.leeway_secs, config.jwks_refresh_secs, config.min_refresh_interval_secs), (60, 300, 10));
        assert_eq!(config.claims.tenant_claim, "tenant");
        assert_eq!(config.claims.user_claim, "sub");
        assert_eq!(config.claims.roles_claim, "roles");
        config.validate().unwrap();
    }

    #[test]
    fn symmetric_and_none_algorithms_cannot_be_configured() {
        for name in ["HS256", "HS384", "HS512", "none", "None", "XS999"] {
            assert!(parse_signing_algorithm(name).is_err(), "{name}");
        }
        for name in ["RS256", "PS512", "ES256", "ES384", "EdDSA"] {
            assert_eq!(format!("{:?}", parse_signing_algorithm(name).unwrap()), name);
        }
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut config = config();
            config.algorithms.push(alg);
            assert!(reason_of(&config).contains("HS"), "{alg:?}");
        }
    }

    #[test]
    fn unsafe_or_incomplete_settings_are_refused_with_the_key_named() {
        type Change = fn(&mut OidcConfig);
        let cases: Vec<(Change, &str)> = vec![
            (|c| c.issuer = "http://idp.example.com".into(), "https://"),
            (|c| c.issuer = "not a url".into(), "not a URL"),
            (|c| c.issuer = "https://idp.example.com/?realm=a".into(), "query"),
            (|c| c.jwks_url = Some("http://10.0.0.1/jwks".into()), "jwks_url"),
            (|c| c.audiences.clear(), "audiences"),
            (|c| c.audiences = vec![String::new()], "audiences"),
            (|c| c.algorithms.clear(), "algorithms"),
            (|c| c.jwks_refresh_secs = 0, "jwks_refresh_secs"),
            (|c| c.http_timeout_secs = 0, "http_timeout_secs"),
            (|c| c.claims.tenant_claim.clear(), "claims.tenant_claim"),
        ];
        for (change, expected) in cases {
            let mut config = config();
            change(&mut config);
            let reason = reason_of(&config);
            assert!(reason.contains(expected), "{reason} should mention {expected}");
        }
    }

    #[test]
    fn plain_http_is_allowed_to_this_machine_only() {
        for issuer in ["http://127.0.0.1:8080", "http://localhost/realms/a", "http://[::1]:9000"] {
            let mut config = config();
            config.issuer = issuer.into();
            config.validate().unwrap();
        }
    }
}
