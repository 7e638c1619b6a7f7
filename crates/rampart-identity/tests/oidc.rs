//! OIDC JWT verification against a fake IdP on 127.0.0.1: what is accepted, and each way a
//! token is refused, with the error variant the edge maps to a status.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rampart_core::{Credential, Role};
use rampart_identity::oidc::{OidcConfig, OidcProvider};
use rampart_identity::{AuthError, OidcError};
use ring::rsa::PublicKeyComponents;
use ring::signature::{KeyPair, RsaKeyPair};
use serde_json::{Value, json};

async fn idp_with_all_kinds() -> (Idp, [Signer; 3]) {
    let signers = [rsa_signer("rsa-1"), es256_signer("ec-1"), ed25519_signer("ed-1")];
    let idp = Idp::start(jwks(&[&signers[0], &signers[1], &signers[2]])).await;
    (idp, signers)
}

#[test]
fn the_rsa_fixture_jwk_is_the_public_half_of_the_fixture_key() {
    let pair = RsaKeyPair::from_der(RSA_PRIVATE_PKCS1_DER).unwrap();
    let public = PublicKeyComponents::<Vec<u8>>::from(pair.public());
    let jwk: Value = serde_json::from_str(RSA_PUBLIC_JWK).unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(), public.n);
    assert_eq!(URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap(), public.e);
}

#[tokio::test]
async fn valid_rs256_es256_and_eddsa_tokens_are_accepted_and_mapped() {
    let (idp, signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    for signer in &signers {
        let envelope = provider.authenticate(&mint(signer, &idp.claims())).await.unwrap();
        assert_eq!(envelope.tenant_id, "acme", "{:?}", signer.alg);
        assert_eq!(envelope.user_id, "user-1");
        assert_eq!(envelope.roles, [Role::User]);
        assert_eq!(envelope.credential, Credential::Oidc { issuer: idp.issuer.clone(), subject: "user-1".into() });
        assert!(!envelope.privacy_mode);
        assert!(envelope.policy_version.is_empty());
        assert_eq!(envelope.agent, None);
    }
    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 1), "keys are fetched once and cached");
}

#[tokio::test]
async fn nested_roles_the_role_map_and_the_default_tenant_shape_the_envelope() {
    let (idp, signers) = idp_with_all_kinds().await;
    let mut config = idp.config();
    config.claims.roles_claim = "realm_access.roles".into();
    config.claims.user_claim = "preferred_username".into();
    config.claims.default_tenant = Some("public".into());
    config.claims.role_map =
        [("platform-admins".to_owned(), Role::Admin), ("auditors".to_owned(), Role::Auditor)].into_iter().collect();
    let provider = OidcProvider::discover(config).await.unwrap();
    let claims = with(
        idp.claims(),
        json!({
            "tenant": null, "roles": ["platform-admins"], "preferred_username": "alice",
            "realm_access": {"roles": ["auditors", "admin", "offline_access", "platform-admins"]},
        }),
    );
    let envelope = provider.authenticate(&mint(&signers[1], &claims)).await.unwrap();
    assert_eq!(envelope.tenant_id, "public");
    assert_eq!(envelope.user_id, "alice");
    // "admin" is the IdP's own role, not mapped: it grants nothing.
    assert_eq!(envelope.roles, [Role::Admin, Role::Auditor]);
    assert_eq!(envelope.credential, Credential::Oidc { issuer: idp.issuer.clone(), subject: "user-1".into() });
}

#[tokio::test]
async fn a_token_without_tenant_and_no_default_tenant_is_refused_by_claim_name() {
    let (idp, signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    let error = refused(&provider, &mint(&signers[0], &with(idp.claims(), json!({"tenant": null})))).await;
    assert_eq!(error.to_string(), "token has no tenant claim 'tenant'");
    assert!(!error.is_unavailable());
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let (idp, signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    let expired = with(idp.claims(), json!({"iat": now() - 600, "exp": now() - 120}));
    assert_eq!(refused(&provider, &mint(&signers[0], &expired)).await, AuthError::TokenExpired);
    let no_exp = with(idp.claims(), json!({"exp": null}));
    assert!(matches!(refused(&provider, &mint(&signers[0], &no_exp)).await, AuthError::MissingClaim { .. }));
}

#[tokio::test]
async fn a_token_not_valid_yet_beyond_the_leeway_is_refused() {
    let (idp, signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    let future_nbf = with(idp.claims(), json!({"nbf": now() + 300}));
    assert_eq!(refused(&provider, &mint(&signers[0], &future_nbf)).await, AuthError::TokenNotYetValid);
    let future_iat = with(idp.claims(), json!({"iat": now() + 300}));
    assert_eq!(refused(&provider, &mint(&signers[0], &future_iat)).await, AuthError::TokenNotYetValid);
}

#[tokio::test]
async fn clock_skew_within_the_leeway_is_accepted_and_only_because_of_it() {
    let (idp, signers) = idp_with_all_kinds().await;
    let skewed = with(idp.claims(), json!({"exp": now() - 20, "nbf": now() + 20, "iat": now() + 20}));
    let token = mint(&signers[0], &skewed);
    idp.provider().await.authenticate(&token).await.unwrap();

    let mut strict = idp.config();
    strict.leeway_secs = 0;
    let strict = OidcProvider::discover(strict).await.unwrap();
    assert_eq!(refused(&strict, &token).await, AuthError::TokenExpired);
    let only_future = with(idp.claims(), json!({"nbf": now() + 20}));
    assert_eq!(refused(&strict, &mint(&signers[0], &only_future)).await, AuthError::TokenNotYetValid);
    let only_iat = with(idp.claims(), json!({"iat": now() + 20}));
    assert_eq!(refused(&strict, &mint(&signers[0], &only_iat)).await, AuthError::TokenNotYetValid);
}

#[tokio::test]
async fn the_audience_must_contain_a_configured_one() {
    let (idp, signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    for audience in [json!("another-app"), json!(["a", "b"]), Value::Null] {
        let claims = with(idp.claims(), json!({"aud": audience}));
        assert_eq!(refused(&provider, &mint(&signers[0], &claims)).await, AuthError::WrongAudience, "{audience}");
    }
    let shared = with(idp.claims(), json!({"aud": ["another-app", AUDIENCE]}));
    provider.authenticate(&mint(&signers[0], &shared)).await.unwrap();
}

#[tokio::test]
async fn the_issuer_must_be_the_configured_string_exactly() {
    let (idp, signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    let trailing_slash = format!("{}/", idp.issuer);
    for issuer in [json!("https://evil.example"), json!(trailing_slash), json!([idp.issuer.clone()]), Value::Null] {
        let claims = with(idp.claims(), json!({"iss": issuer}));
        assert_eq!(refused(&provider, &mint(&signers[0], &claims)).await, AuthError::WrongIssuer, "{issuer}");
    }
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_key_set_once_per_interval_then_is_refused() {
    let (idp, signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    assert_eq!(idp.jwks_hits(), 1);
    for attempt in 0..3 {
        let bogus = rsa_signer(&format!("made-up-{attempt}"));
        assert_eq!(refused(&provider, &mint(&bogus, &idp.claims())).await, AuthError::UnknownKeyId);
    }
    assert_eq!(idp.jwks_hits(), 2, "one refetch for the first unknown kid, none for the next ones");
    // Known keys are not affected by the rate limit.
    provider.authenticate(&mint(&signers[2], &idp.claims())).await.unwrap();
}

#[tokio::test]
async fn alg_none_is_refused_without_touching_the_key_set() {
    let (idp, _signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    for header in [json!({"alg": "none", "typ": "JWT"}), json!({"alg": "none", "kid": "rsa-1"}), json!({"alg": "None"})]
    {
        let unsigned = assemble(&header, &idp.claims(), "");
        let error = refused(&provider, &unsigned).await;
        assert!(matches!(error, AuthError::DisallowedAlgorithm { .. }), "{header}: {error:?}");
        // Same token with some signature text: still refused.
        let error = refused(&provider, &assemble(&header, &idp.claims(), "c2lnbmF0dXJl")).await;
        assert!(matches!(error, AuthError::DisallowedAlgorithm { .. }), "{error:?}");
    }
    assert_eq!(
        refused(&provider, &assemble(&json!({"alg": "none"}), &idp.claims(), "")).await,
        AuthError::DisallowedAlgorithm { alg: "none".into() }
    );
    assert_eq!(idp.jwks_hits(), 1);
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_as_secret_is_refused() {
    let (idp, _signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    let pkcs1_public = RsaKeyPair::from_der(RSA_PRIVATE_PKCS1_DER).unwrap().public_key().as_ref().to_vec();
    let jwk: Value = serde_json::from_str(RSA_PUBLIC_JWK).unwrap();
    let n_and_e = format!("{}{}", jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap());
    for secret in [RSA_PUBLIC_SPKI_PEM.to_vec(), pkcs1_public, n_and_e.into_bytes()] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some("rsa-1".into());
            let forged = jsonwebtoken::encode(&header, &idp.claims(), &EncodingKey::from_secret(&secret)).unwrap();
            let error = refused(&provider, &forged).await;
            assert!(matches!(error, AuthError::DisallowedAlgorithm { .. }), "{alg:?}: {error:?}");
        }
    }
    assert_eq!(idp.jwks_hits(), 1);
}

#[tokio::test]
async fn the_header_alg_must_be_allowed_and_match_the_keys_type() {
    let (idp, signers) = idp_with_all_kinds().await;
    // An ES256 signature presented under the RSA key's kid.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("rsa-1".into());
    let mismatched = jsonwebtoken::encode(&header, &idp.claims(), &signers[1].key).unwrap();
    let provider = idp.provider().await;
    assert_eq!(refused(&provider, &mismatched).await, AuthError::DisallowedAlgorithm { alg: "ES256".into() });

    // The RSA key's JWK says `alg: RS256`: an RS512 signature by the same key is refused even
    // when RS512 is allowed (jsonwebtoken alone would accept it: same key family).
    let mut with_rs512 = idp.config();
    with_rs512.algorithms.push(Algorithm::RS512);
    let with_rs512 = OidcProvider::discover(with_rs512).await.unwrap();
    let mut header = Header::new(Algorithm::RS512);
    header.kid = Some("rsa-1".into());
    let rs512 = jsonwebtoken::encode(&header, &idp.claims(), &signers[0].key).unwrap();
    assert_eq!(refused(&with_rs512, &rs512).await, AuthError::DisallowedAlgorithm { alg: "RS512".into() });

    let mut rsa_only = idp.config();
    rsa_only.algorithms = vec![Algorithm::RS256];
    let rsa_only = OidcProvider::discover(rsa_only).await.unwrap();
    rsa_only.authenticate(&mint(&signers[0], &idp.claims())).await.unwrap();
    for signer in &signers[1..] {
        let error = refused(&rsa_only, &mint(signer, &idp.claims())).await;
        assert!(matches!(error, AuthError::DisallowedAlgorithm { .. }), "{:?}: {error:?}", signer.alg);
    }
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature_for_every_key_type() {
    let (idp, signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    for signer in &signers {
        let token = mint(signer, &idp.claims());
        let [header, _, signature]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
        let elevated = with(idp.claims(), json!({"tenant": "globex", "roles": ["rampart-admin"]}));
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&elevated).unwrap());
        let tampered = format!("{header}.{payload}.{signature}");
        assert_eq!(refused(&provider, &tampered).await, AuthError::InvalidSignature, "{:?}", signer.alg);
    }
}

#[tokio::test]
async fn a_kid_is_required_when_the_set_has_several_keys() {
    let (idp, signers) = idp_with_all_kinds().await;
    let provider = idp.provider().await;
    let token = mint_without_kid(&signers[0], &idp.claims());
    assert_eq!(refused(&provider, &token).await, AuthError::MissingKeyId);

    let single = Idp::start(jwks(&[&signers[0]])).await;
    let provider = single.provider().await;
    provider.authenticate(&mint_without_kid(&signers[0], &single.claims())).await.unwrap();
}

#[tokio::test]
async fn discovery_that_names_another_issuer_is_refused() {
    let (idp, _signers) = idp_with_all_kinds().await;
    idp.announce_issuer("https://evil.example");
    let error = OidcProvider::discover(idp.config()).await.unwrap_err();
    assert!(
        matches!(&error, OidcError::Discovery { detail, .. } if detail.contains("https://evil.example")),
        "{error}"
    );
    assert_eq!(idp.jwks_hits(), 0);
}

#[tokio::test]
async fn a_configured_jwks_url_skips_discovery() {
    let (idp, signers) = idp_with_all_kinds().await;
    let mut config = idp.config();
    config.jwks_url = Some(format!("{}/jwks", idp.issuer));
    idp.announce_issuer("https://not-consulted.example");
    let provider = OidcProvider::discover(config).await.unwrap();
    provider.authenticate(&mint(&signers[0], &idp.claims())).await.unwrap();
    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (0, 1));
}

#[tokio::test]
async fn an_unreachable_idp_with_nothing_cached_is_unavailable_not_unauthorized() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut config = OidcConfig::new(issuer.clone(), vec![AUDIENCE.to_owned()]);
    config.http_timeout_secs = 2;
    assert!(matches!(OidcProvider::discover(config.clone()).await, Err(OidcError::Discovery { .. })));

    let provider = OidcProvider::new(config).unwrap();
    let token = mint(&rsa_signer("rsa-1"), &claims(&issuer));
    let error = refused(&provider, &token).await;
    assert_eq!(error, AuthError::IdentityProviderUnavailable { issuer });
    assert!(error.is_unavailable());
}

#[tokio::test]
async fn symmetric_algorithms_cannot_be_configured() {
    let mut config = OidcConfig::new("https://idp.example", vec![AUDIENCE.to_owned()]);
    config.algorithms.push(Algorithm::HS256);
    assert!(matches!(OidcProvider::new(config), Err(OidcError::InvalidConfig { .. })));
}
