//! The `Authorization` header facade: API keys and JWTs of several issuers, routed and refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use rampart_core::{Credential, Role};
use rampart_identity::key_store::MemoryKeyStore;
use rampart_identity::keys::{ApiKeyAuthConfig, ApiKeyAuthenticator, KeyFormatError, NewApiKey};
use rampart_identity::{AuthError, Authenticator, OidcError};
use serde_json::json;

struct World {
    authenticator: Authenticator,
    api_key: String,
    first: (Idp, Signer),
    second: (Idp, Signer),
}

async fn world() -> World {
    let first_signer = rsa_signer("first-key");
    let second_signer = es256_signer("second-key");
    let first = Idp::start(jwks(&[&first_signer])).await;
    let second = Idp::start(jwks(&[&second_signer])).await;
    let api_keys = Arc::new(ApiKeyAuthenticator::new(Arc::new(MemoryKeyStore::new()), &ApiKeyAuthConfig::default()));
    let new = NewApiKey {
        name: None,
        tenant_id: "keys-tenant".into(),
        user_id: Some("bot".into()),
        roles: vec![Role::Agent],
        expires_unix_ms: None,
    };
    let api_key = api_keys.issue_key(new).await.unwrap().plaintext;
    let providers = vec![Arc::new(first.provider().await), Arc::new(second.provider().await)];
    let authenticator = Authenticator::new(Some(api_keys), providers).unwrap();
    World { authenticator, api_key, first: (first, first_signer), second: (second, second_signer) }
}

async fn authenticate(world: &World, header: &str) -> Result<rampart_core::IdentityEnvelope, AuthError> {
    world.authenticator.authenticate(Some(header)).await
}

#[tokio::test]
async fn api_keys_and_each_issuers_tokens_reach_the_right_verifier() {
    let world = world().await;
    let envelope = authenticate(&world, &format!("Bearer {}", world.api_key)).await.unwrap();
    assert_eq!((envelope.tenant_id.as_str(), envelope.roles.as_slice()), ("keys-tenant", [Role::Agent].as_slice()));
    assert!(matches!(envelope.credential, Credential::ApiKey { .. }));
    assert!(!envelope.privacy_mode && envelope.policy_version.is_empty());

    for (idp, signer) in [&world.first, &world.second] {
        let header = format!("bearer {}", mint(signer, &idp.claims()));
        let envelope = authenticate(&world, &header).await.unwrap();
        assert_eq!(envelope.credential, Credential::Oidc { issuer: idp.issuer.clone(), subject: "user-1".into() });
        assert!(!envelope.privacy_mode && envelope.policy_version.is_empty());
    }
}

#[tokio::test]
async fn the_unverified_issuer_only_picks_the_provider() {
    let world = world().await;
    let (first, _) = &world.first;
    let (_, second_signer) = &world.second;
    // Signed by the second IdP's key but claiming the first issuer: the first provider does
    // not know that key.
    let token = mint(second_signer, &first.claims());
    let error = authenticate(&world, &format!("Bearer {token}")).await.unwrap_err();
    assert_eq!(error, AuthError::UnknownKeyId);
    assert_token_not_in(&error, &token);

    let stranger = mint(second_signer, &claims("https://stranger.example"));
    assert_eq!(authenticate(&world, &format!("Bearer {stranger}")).await, Err(AuthError::UnknownIssuer));
    let unsigned = assemble(&json!({"alg": "none"}), &first.claims(), "");
    assert_eq!(
        authenticate(&world, &format!("Bearer {unsigned}")).await,
        Err(AuthError::DisallowedAlgorithm { alg: "none".into() })
    );
}

#[tokio::test]
async fn headers_that_carry_no_usable_credential_are_refused() {
    let world = world().await;
    assert_eq!(world.authenticator.authenticate(None).await, Err(AuthError::MissingCredentials));
    assert_eq!(authenticate(&world, "").await, Err(AuthError::MissingCredentials));
    for header in ["Basic dXNlcjpwYXNz", "Bearer not-a-key", "Bearer a.b", &format!("Token {}", world.api_key)] {
        assert_eq!(authenticate(&world, header).await, Err(AuthError::MalformedCredentials), "{header}");
    }
    assert_eq!(authenticate(&world, "Bearer rk_123").await, Err(AuthError::MalformedApiKey(KeyFormatError::BadId)));
}

#[tokio::test]
async fn without_api_keys_configured_every_key_is_refused() {
    let world = world().await;
    let oidc_only = Authenticator::new(None, world.authenticator.providers().to_vec()).unwrap();
    let header = format!("Bearer {}", world.api_key);
    assert_eq!(oidc_only.authenticate(Some(&header)).await, Err(AuthError::InvalidApiKey));
    assert_eq!(oidc_only.flush_last_used().await, Ok(0));
}

#[tokio::test]
async fn two_providers_for_one_issuer_are_a_configuration_error() {
    let world = world().await;
    let provider = Arc::clone(&world.authenticator.providers()[0]);
    let error = Authenticator::new(None, vec![Arc::clone(&provider), provider]).unwrap_err();
    assert_eq!(error, OidcError::DuplicateIssuer { issuer: world.first.0.issuer.clone() });
}

#[tokio::test]
async fn maintenance_flushes_key_use_and_refreshes_due_key_sets() {
    let world = world().await;
    authenticate(&world, &format!("Bearer {}", world.api_key)).await.unwrap();
    assert_eq!(world.authenticator.flush_last_used().await, Ok(1));
    // Fresh sets (300 s) are not refetched.
    world.authenticator.refresh_due_keys().await;
    assert_eq!((world.first.0.jwks_hits(), world.second.0.jwks_hits()), (1, 1));
}
