//! The one entry point the gateway calls: an `Authorization` header in, an
//! [`IdentityEnvelope`] or an [`AuthError`] out.

use std::collections::HashSet;
use std::sync::Arc;

use rampart_core::IdentityEnvelope;

use crate::error::{AuthError, KeyStoreError, OidcError};
use crate::keys::{API_KEY_PREFIX, ApiKeyAuthenticator};
use crate::oidc::{OidcProvider, looks_like_jwt, unverified_issuer};

/// Routes `Bearer rk_…` to API keys and `Bearer <JWT>` to the provider of the token's issuer.
#[derive(Debug, Clone)]
pub struct Authenticator {
    api_keys: Option<Arc<ApiKeyAuthenticator>>,
    providers: Vec<Arc<OidcProvider>>,
}

impl Authenticator {
    /// `api_keys: None` refuses every API key; an empty `providers` refuses every JWT. Two
    /// providers for one issuer are a configuration error.
    pub fn new(
        api_keys: Option<Arc<ApiKeyAuthenticator>>,
        providers: Vec<Arc<OidcProvider>>,
    ) -> Result<Self, OidcError> {
        let mut issuers = HashSet::new();
        for provider in &providers {
            if !issuers.insert(provider.issuer()) {
                return Err(OidcError::DuplicateIssuer { issuer: provider.issuer().to_owned() });
            }
        }
        Ok(Authenticator { api_keys, providers })
    }

    pub fn api_keys(&self) -> Option<&Arc<ApiKeyAuthenticator>> {
        self.api_keys.as_ref()
    }

    pub fn providers(&self) -> &[Arc<OidcProvider>] {
        &self.providers
    }

    /// Authenticates the value of an `Authorization` header (`None` when the request had
    /// none). The envelope's `policy_version` is empty and `privacy_mode` false: the gateway
    /// sets both.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<IdentityEnvelope, AuthError> {
        let token = bearer_token(authorization.ok_or(AuthError::MissingCredentials)?)?;
        if token.starts_with(API_KEY_PREFIX) {
            let api_keys = self.api_keys.as_ref().ok_or(AuthError::InvalidApiKey)?;
            return api_keys.authenticate(token).await;
        }
        if looks_like_jwt(token) {
            // Unverified: it only picks who verifies the token, and that provider checks `iss`
            // again after the signature.
            let issuer = unverified_issuer(token)?;
            let provider =
                self.providers.iter().find(|provider| provider.issuer() == issuer).ok_or(AuthError::UnknownIssuer)?;
            return provider.authenticate(token).await;
        }
        Err(AuthError::MalformedCredentials)
    }

    /// Refreshes every provider's key set that is due (see [`OidcProvider::refresh_if_due`]).
    /// Spawn a timer that calls this every few seconds (e.g. every 10 s).
    pub async fn refresh_due_keys(&self) {
        for provider in &self.providers {
            provider.refresh_if_due().await;
        }
    }

    /// Writes pending API key last-used times (see [`ApiKeyAuthenticator::flush_last_used`]).
    pub async fn flush_last_used(&self) -> Result<usize, KeyStoreError> {
        match &self.api_keys {
            Some(api_keys) => api_keys.flush_last_used().await,
            None => Ok(0),
        }
    }
}

/// `Bearer <token>`: scheme case-insensitive (RFC 7235), one token without spaces.
fn bearer_token(header: &str) -> Result<&str, AuthError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(AuthError::MissingCredentials);
    }
    let (scheme, token) = header.split_once([' ', '\t']).ok_or(AuthError::MalformedCredentials)?;
    let token = token.trim_start_matches([' ', '\t']);
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains([' ', '\t']) {
        return Err(AuthError::MalformedCredentials);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_takes_one_token() {
        assert_eq!(bearer_token("Bearer abc"), Ok("abc"));
        assert_eq!(bearer_token("bearer   abc "), Ok("abc"));
        assert_eq!(bearer_token("BEARER\tabc"), Ok("abc"));
        assert_eq!(bearer_token("  "), Err(AuthError::MissingCredentials));
        for header in ["Basic dXNlcjpwdw==", "Bearer", "Bearer ", "Bearer a b", "abc", "Token abc"] {
            assert_eq!(bearer_token(header), Err(AuthError::MalformedCredentials), "{header:?}");
        }
    }
}
