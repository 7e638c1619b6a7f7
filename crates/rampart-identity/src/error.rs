//! What can go wrong while authenticating, in terms the edge can answer with.
//!
//! No message here ever contains a token, an API key secret, or anything else a caller sent
//! that could carry one: values copied from a token (its `alg`) pass through [`safe_label`].

use crate::keys::KeyFormatError;

/// Why a request was not authenticated. [`AuthError::is_unavailable`] splits the answers:
/// `false` is a 401 (`WWW-Authenticate: Bearer`) whose body may carry the message as it is;
/// `true` is a 503 (Rampart could not check, the caller did nothing wrong).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials: send 'Authorization: Bearer <API key or token>'")]
    MissingCredentials,
    /// Not `Bearer <token>`, or the token is neither an API key nor a JWT.
    #[error("the Authorization header is not 'Bearer' followed by an API key or a JWT")]
    MalformedCredentials,
    #[error("malformed API key: {0}")]
    MalformedApiKey(#[from] KeyFormatError),
    /// Unknown key id or wrong secret: one answer for both.
    #[error("invalid API key")]
    InvalidApiKey,
    /// Only reported once the secret was verified, so it tells nothing to a guesser.
    #[error("API key '{key_id}' has expired")]
    ApiKeyExpired { key_id: String },
    #[error("API key '{key_id}' has been revoked")]
    ApiKeyRevoked { key_id: String },
    #[error("malformed token: {reason}")]
    MalformedToken { reason: &'static str },
    /// The token names an issuer that no configured provider has.
    #[error("the token's issuer is not trusted")]
    UnknownIssuer,
    /// `alg` is `none`, not in the allowlist, or not one the signing key can verify.
    #[error("the token's signing algorithm '{alg}' is not accepted")]
    DisallowedAlgorithm { alg: String },
    #[error("the token has no 'kid' header and its issuer has several signing keys")]
    MissingKeyId,
    /// Not in the key set, even after the one refetch allowed per interval.
    #[error("the token's signing key is unknown to its issuer")]
    UnknownKeyId,
    #[error("the token's signature is invalid")]
    InvalidSignature,
    #[error("the token has expired")]
    TokenExpired,
    /// `nbf` or `iat` lies in the future, beyond the allowed clock skew.
    #[error("the token is not valid yet")]
    TokenNotYetValid,
    #[error("the token's audience is not accepted")]
    WrongAudience,
    #[error("the token's issuer does not match its provider")]
    WrongIssuer,
    /// `purpose` says what the claim was for (`tenant`, `user`, `subject`, `expiry`), `claim`
    /// is its configured name.
    #[error("token has no {purpose} claim '{claim}'")]
    MissingClaim { purpose: &'static str, claim: String },
    /// Discovery or the key set could not be fetched and nothing is cached.
    #[error("identity provider '{issuer}' cannot be reached and no signing keys are cached")]
    IdentityProviderUnavailable { issuer: String },
    #[error("the API key store is unavailable")]
    KeyStoreUnavailable,
}

impl AuthError {
    /// True when Rampart could not check the credential (503); false when it was checked and
    /// refused (401).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AuthError::IdentityProviderUnavailable { .. } | AuthError::KeyStoreUnavailable)
    }
}

/// Failures of an [`crate::key_store::ApiKeyStore`]. Stores hold hashes only, so no secret can
/// reach these messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyStoreError {
    #[error("an API key with id '{id}' already exists")]
    DuplicateId { id: String },
    #[error("API key store unavailable: {detail}")]
    Unavailable { detail: String },
}

impl From<rampart_core::StoreError> for KeyStoreError {
    fn from(error: rampart_core::StoreError) -> Self {
        match error {
            rampart_core::StoreError::Conflict { detail } => KeyStoreError::DuplicateId { id: detail },
            other => KeyStoreError::Unavailable { detail: other.to_string() },
        }
    }
}

/// Set-up failures of an OIDC provider: bad configuration, or discovery / key set fetches that
/// failed while building it eagerly ([`crate::oidc::OidcProvider::discover`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("OIDC issuer '{issuer}': {reason}")]
    InvalidConfig { issuer: String, reason: String },
    #[error("OIDC issuer '{issuer}': discovery at {url} failed: {detail}")]
    Discovery { issuer: String, url: String, detail: String },
    #[error("OIDC issuer '{issuer}': the key set at {url} could not be read: {detail}")]
    KeySet { issuer: String, url: String, detail: String },
    #[error("OIDC issuer '{issuer}' is configured twice")]
    DuplicateIssuer { issuer: String },
}

/// A caller-supplied label (a JWT `alg`) made safe to echo: at most 16 ASCII alphanumerics.
pub(crate) fn safe_label(text: &str) -> String {
    let label: String = text.chars().filter(char::is_ascii_alphanumeric).take(16).collect();
    if label.is_empty() { "?".to_owned() } else { label }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_copied_from_tokens_are_short_and_plain() {
        assert_eq!(safe_label("none"), "none");
        assert_eq!(safe_label("RS256\n<script>"), "RS256script");
        assert_eq!(safe_label(&"A".repeat(100)).len(), 16);
        assert_eq!(safe_label("\u{1F600}"), "?");
    }

    #[test]
    fn only_unreachable_dependencies_are_unavailable() {
        assert!(AuthError::KeyStoreUnavailable.is_unavailable());
        assert!(AuthError::IdentityProviderUnavailable { issuer: "https://idp".into() }.is_unavailable());
        assert!(!AuthError::TokenExpired.is_unavailable());
        assert!(!AuthError::InvalidApiKey.is_unavailable());
    }
}
