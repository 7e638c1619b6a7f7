//! A fake IdP (discovery + JWKS over HTTP on 127.0.0.1) and token minting for the OIDC tests.
//!
//! RSA uses the checked-in test key under `tests/fixtures/`; ES256 and Ed25519 keys are made
//! fresh by ring for each signer.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rampart_core::Role;
use rampart_identity::AuthError;
use rampart_identity::oidc::{OidcConfig, OidcProvider};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

pub const AUDIENCE: &str = "rampart";
pub const RSA_PRIVATE_PKCS1_DER: &[u8] = include_bytes!("../fixtures/rsa_private_key.pkcs1.der");
pub const RSA_PUBLIC_SPKI_PEM: &[u8] = include_bytes!("../fixtures/rsa_public_key.spki.pem");
pub const RSA_PUBLIC_JWK: &str = include_str!("../fixtures/rsa_public_key.jwk.json");

/// A private key with the JWK that publishes its public half.
pub struct Signer {
    pub kid: String,
    pub alg: Algorithm,
    pub key: EncodingKey,
    pub jwk: Value,
}

pub fn rsa_signer(kid: &str) -> Signer {
    let mut jwk: Value = serde_json::from_str(RSA_PUBLIC_JWK).unwrap();
    jwk["kid"] = kid.into();
    jwk["use"] = "sig".into();
    jwk["alg"] = "RS256".into();
    Signer { kid: kid.into(), alg: Algorithm::RS256, key: EncodingKey::from_rsa_der(RSA_PRIVATE_PKCS1_DER), jwk }
}

pub fn es256_signer(kid: &str) -> Signer {
    let random = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random).unwrap();
    // Uncompressed point: 0x04 ‖ x ‖ y.
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    Signer { kid: kid.into(), alg: Algorithm::ES256, key: EncodingKey::from_ec_der(pkcs8.as_ref()), jwk }
}

pub fn ed25519_signer(kid: &str) -> Signer {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "kid": kid, "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    });
    Signer { kid: kid.into(), alg: Algorithm::EdDSA, key: EncodingKey::from_ed_der(pkcs8.as_ref()), jwk }
}

pub fn jwks(signers: &[&Signer]) -> Value {
    json!({"keys": signers.iter().map(|signer| signer.jwk.clone()).collect::<Vec<_>>()})
}

pub fn now() -> i64 {
    rampart_core::unix_now_secs()
}

/// Claims that pass every check of [`Idp::config`].
pub fn claims(issuer: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer, "aud": AUDIENCE, "sub": "user-1", "tenant": "acme",
        "roles": ["rampart-user"], "iat": now, "exp": now + 300,
    })
}

/// `claims` with `changes` applied; a `null` removes the claim.
pub fn with(mut claims: Value, changes: Value) -> Value {
    let object = claims.as_object_mut().unwrap();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            object.remove(name);
        } else {
            object.insert(name.clone(), value.clone());
        }
    }
    claims
}

/// A token signed by `signer`, with its kid.
pub fn mint(signer: &Signer, claims: &Value) -> String {
    let mut header = Header::new(signer.alg);
    header.kid = Some(signer.kid.clone());
    jsonwebtoken::encode(&header, claims, &signer.key).unwrap()
}

/// A token without a kid.
pub fn mint_without_kid(signer: &Signer, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(signer.alg), claims, &signer.key).unwrap()
}

/// A hand-built token: any header, any signature text.
pub fn assemble(header: &Value, claims: &Value, signature: &str) -> String {
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    format!("{}.{}.{signature}", encode(header), encode(claims))
}

/// Authenticates and expects a refusal whose message does not repeat the token.
pub async fn refused(provider: &OidcProvider, token: &str) -> AuthError {
    let error = provider.authenticate(token).await.expect_err("the token should be refused");
    assert_token_not_in(&error, token);
    error
}

pub fn assert_token_not_in(error: &AuthError, token: &str) {
    let message = format!("{error} {error:?}");
    for part in token.split('.').filter(|part| part.len() >= 8) {
        assert!(!message.contains(part), "the error repeats part of the token: {message}");
    }
}

struct IdpState {
    issuer: String,
    announced_issuer: Mutex<Option<String>>,
    jwks: Mutex<Value>,
    jwks_failing: AtomicBool,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
}

/// An IdP on 127.0.0.1: `/.well-known/openid-configuration` and `/jwks`, counting requests.
pub struct Idp {
    pub issuer: String,
    state: Arc<IdpState>,
    server: tokio::task::JoinHandle<()>,
}

impl Idp {
    pub async fn start(jwks: Value) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(IdpState {
            issuer: issuer.clone(),
            announced_issuer: Mutex::new(None),
            jwks: Mutex::new(jwks),
            jwks_failing: AtomicBool::new(false),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
        });
        let discovery_state = Arc::clone(&state);
        let jwks_state = Arc::clone(&state);
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move {
                    discovery_state.discovery_hits.fetch_add(1, Ordering::SeqCst);
                    let announced = discovery_state.announced_issuer.lock().unwrap().clone();
                    let issuer = announced.unwrap_or_else(|| discovery_state.issuer.clone());
                    Json(json!({"issuer": issuer, "jwks_uri": format!("{}/jwks", discovery_state.issuer)}))
                }),
            )
            .route(
                "/jwks",
                get(move || async move {
                    jwks_state.jwks_hits.fetch_add(1, Ordering::SeqCst);
                    if jwks_state.jwks_failing.load(Ordering::SeqCst) {
                        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "down"})));
                    }
                    (StatusCode::OK, Json(jwks_state.jwks.lock().unwrap().clone()))
                }),
            );
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Idp { issuer, state, server }
    }

    /// Default settings plus a role map: `rampart-user` → user, `rampart-admin` → admin.
    pub fn config(&self) -> OidcConfig {
        let mut config = OidcConfig::new(self.issuer.clone(), vec![AUDIENCE.to_owned()]);
        config.claims.role_map =
            [("rampart-user".to_owned(), Role::User), ("rampart-admin".to_owned(), Role::Admin)].into_iter().collect();
        config
    }

    pub async fn provider(&self) -> OidcProvider {
        OidcProvider::discover(self.config()).await.unwrap()
    }

    pub fn claims(&self) -> Value {
        claims(&self.issuer)
    }

    pub fn set_jwks(&self, jwks: Value) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    pub fn fail_jwks(&self, failing: bool) {
        self.state.jwks_failing.store(failing, Ordering::SeqCst);
    }

    /// Makes discovery claim another issuer.
    pub fn announce_issuer(&self, issuer: &str) {
        *self.state.announced_issuer.lock().unwrap() = Some(issuer.to_owned());
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.server.abort();
    }
}
