//! The key set over time: removed keys stop verifying, new ones are picked up without a
//! restart, refreshes happen when due (and only then), and an IdP outage keeps the keys held.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use rampart_identity::AuthError;
use rampart_identity::oidc::OidcProvider;

/// Just past a 1-second `jwks_refresh_secs`.
const PAST_REFRESH: Duration = Duration::from_millis(1100);

async fn provider_refreshing_every_second(idp: &Idp) -> OidcProvider {
    let mut config = idp.config();
    config.jwks_refresh_secs = 1;
    OidcProvider::discover(config).await.unwrap()
}

#[tokio::test]
async fn a_key_removed_from_the_set_stops_verifying_after_the_refresh_interval() {
    let (old, new) = (rsa_signer("old"), es256_signer("new"));
    let idp = Idp::start(jwks(&[&old, &new])).await;
    let provider = provider_refreshing_every_second(&idp).await;
    let token = mint(&old, &idp.claims());
    provider.authenticate(&token).await.unwrap();

    idp.set_jwks(jwks(&[&new]));
    // Until the cached set expires, the old key still verifies (no fetch per request).
    provider.authenticate(&token).await.unwrap();
    assert_eq!(idp.jwks_hits(), 1);

    tokio::time::sleep(PAST_REFRESH).await;
    assert_eq!(refused(&provider, &token).await, AuthError::UnknownKeyId);
    provider.authenticate(&mint(&new, &idp.claims())).await.unwrap();
}

#[tokio::test]
async fn a_new_kid_added_to_the_set_is_accepted_without_a_restart() {
    let (current, rotated) = (rsa_signer("2024"), ed25519_signer("2025"));
    let idp = Idp::start(jwks(&[&current])).await;
    let provider = idp.provider().await;
    provider.authenticate(&mint(&current, &idp.claims())).await.unwrap();

    idp.set_jwks(jwks(&[&current, &rotated]));
    // The cached set is fresh (300 s), so only the unknown kid makes Rampart look again.
    let envelope = provider.authenticate(&mint(&rotated, &idp.claims())).await.unwrap();
    assert_eq!(envelope.user_id, "user-1");
    assert_eq!(idp.jwks_hits(), 2);
    provider.authenticate(&mint(&current, &idp.claims())).await.unwrap();
    provider.authenticate(&mint(&rotated, &idp.claims())).await.unwrap();
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn the_background_refresh_fetches_only_when_the_set_is_due() {
    let signer = es256_signer("k");
    let idp = Idp::start(jwks(&[&signer])).await;
    let provider = provider_refreshing_every_second(&idp).await;
    assert!(!provider.refresh_if_due().await);
    assert_eq!(idp.jwks_hits(), 1);

    tokio::time::sleep(PAST_REFRESH).await;
    assert!(provider.refresh_if_due().await);
    assert_eq!(idp.jwks_hits(), 2);
    // Refreshed in the background: the request path finds fresh keys and fetches nothing.
    provider.authenticate(&mint(&signer, &idp.claims())).await.unwrap();
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_keys_held_and_is_not_retried_at_once() {
    let signer = rsa_signer("k");
    let idp = Idp::start(jwks(&[&signer])).await;
    let provider = provider_refreshing_every_second(&idp).await;
    idp.fail_jwks(true);
    tokio::time::sleep(PAST_REFRESH).await;

    let token = mint(&signer, &idp.claims());
    provider.authenticate(&token).await.unwrap();
    assert_eq!(idp.jwks_hits(), 2, "the stale set was refetched once, and that failed");
    provider.authenticate(&token).await.unwrap();
    assert!(!provider.refresh_if_due().await, "no retry within min_refresh_interval_secs");
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn a_provider_built_without_fetching_fetches_on_first_use() {
    let signer = ed25519_signer("k");
    let idp = Idp::start(jwks(&[&signer])).await;
    let provider = OidcProvider::new(idp.config()).unwrap();
    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (0, 0));
    provider.authenticate(&mint(&signer, &idp.claims())).await.unwrap();
    assert_eq!((idp.discovery_hits(), idp.jwks_hits()), (1, 1));
}
