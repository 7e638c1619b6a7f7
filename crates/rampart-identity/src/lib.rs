//! Who is calling: turns the credential of a request (a Rampart API key or an OIDC bearer JWT)
//! into the [`rampart_core::IdentityEnvelope`] every later decision receives.
//!
//! - [`Authenticator`]: the gateway's entry point, from an `Authorization` header value.
//! - [`keys`]: `rk_<id>_<secret>` API keys: generation, parsing, salted SHA-256 hashes
//!   compared in constant time, and [`keys::ApiKeyAuthenticator`] (short cache, expiry,
//!   revocation, last-used times written in batches).
//! - [`key_store`]: the [`key_store::ApiKeyStore`] trait durable stores implement, and an
//!   in-memory one.
//! - [`oidc`]: [`oidc::OidcProvider`], one per trusted issuer: discovery, a JWKS cache that
//!   refreshes itself, and JWT verification with an algorithm allowlist tied to each key's type.
//!
//! What this crate must never do:
//! - log, store or put into an error message a secret or a token (API key secrets exist only
//!   in the caller's request and in the one answer that creates them; stores keep hashes);
//! - accept on error: anything that cannot be checked is refused — an unreachable IdP or key
//!   store is a 503 ([`AuthError::is_unavailable`]), never a pass;
//! - trust a token's header or unverified claims for anything but choosing how to verify it
//!   (`iss` picks the provider, `kid` the key; `alg` must be allowed and match the key);
//! - accept `alg: none` or a shared-secret (`HS*`) algorithm for OIDC.
//!
//! Background work the binary runs: [`Authenticator::flush_last_used`] and
//! [`Authenticator::refresh_due_keys`] on timers.

mod authenticator;
mod error;
pub mod key_store;
pub mod keys;
pub mod oidc;

pub use authenticator::Authenticator;
pub use error::{AuthError, KeyStoreError, OidcError};

/// reqwest is built without a default TLS provider (ring is used rather than aws-lc); one must
/// be installed before the first client is built, or building it panics. Installing twice is
/// harmless: the first provider stays.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
