//! Fetching the discovery document and the key set, and turning JWKs into verification keys
//! that each know which algorithms they may verify.

use std::str::FromStr;
use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// Discovery documents and key sets are small; anything bigger is refused unread.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// One key of the issuer's set.
pub(crate) struct SigningKey {
    pub(crate) kid: Option<String>,
    /// What this key may verify, from its `kty` / `crv` and, when present, its own `alg`. An
    /// RSA key never verifies `HS*` or `ES*`: this is what stops a token signed with HS256 and
    /// the RSA public key as secret.
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) key: DecodingKey,
}

#[derive(Default)]
pub(crate) struct KeySet {
    keys: Vec<Arc<SigningKey>>,
}

/// Why no key was picked for a token.
pub(crate) enum KeyMiss {
    /// The token names a kid the set lacks (or the set is empty).
    Unknown,
    /// The token has no kid and the set has several keys.
    NeedKid,
}

impl KeySet {
    /// Reads a JWKS document. Keys that cannot verify anything (encryption keys, symmetric
    /// keys, unsupported curves, malformed entries) are skipped, not fatal: an IdP may publish
    /// keys of other kinds next to its signing keys.
    pub(crate) fn from_document(document: &Value, issuer: &str) -> Result<KeySet, String> {
        let entries = document.get("keys").and_then(Value::as_array).ok_or("no 'keys' array")?;
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            let jwk = match serde_json::from_value::<Jwk>(entry.clone()) {
                Ok(jwk) => jwk,
                Err(error) => {
                    tracing::debug!(%issuer, %error, "skipping a JWK that cannot be read");
                    continue;
                }
            };
            if let Some(key) = signing_key(&jwk) {
                keys.push(Arc::new(key));
            } else {
                tracing::debug!(%issuer, kid = ?jwk.common.key_id, "skipping a JWK that verifies no accepted algorithm");
            }
        }
        Ok(KeySet { keys })
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key for a token's `kid`; without a kid, the only key if there is exactly one.
    pub(crate) fn select(&self, kid: Option<&str>) -> Result<Arc<SigningKey>, KeyMiss> {
        match kid {
            Some(kid) => self.keys.iter().find(|key| key.kid.as_deref() == Some(kid)).cloned().ok_or(KeyMiss::Unknown),
            None => match self.keys.as_slice() {
                [only] => Ok(Arc::clone(only)),
                [] => Err(KeyMiss::Unknown),
                _ => Err(KeyMiss::NeedKid),
            },
        }
    }
}

fn signing_key(jwk: &Jwk) -> Option<SigningKey> {
    if matches!(&jwk.common.public_key_use, Some(usage) if *usage != PublicKeyUse::Signature) {
        return None;
    }
    let by_kind: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => Vec::new(),
        },
        AlgorithmParameters::OctetKeyPair(params) if params.curve == EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
        // Symmetric keys in a public key set are never used.
        AlgorithmParameters::OctetKey(_) | AlgorithmParameters::OctetKeyPair(_) => Vec::new(),
    };
    // A key that names its algorithm verifies that one only.
    let algorithms = match jwk.common.key_algorithm {
        Some(declared) => match Algorithm::from_str(&declared.to_string()) {
            Ok(alg) if by_kind.contains(&alg) => vec![alg],
            _ => Vec::new(),
        },
        None => by_kind,
    };
    if algorithms.is_empty() {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(SigningKey { kid: jwk.common.key_id.clone(), algorithms, key })
}

/// GETs a JSON document of at most [`MAX_DOCUMENT_BYTES`]. Errors name the URL and what went
/// wrong; they never carry a caller's token (none is involved).
pub(crate) async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|error| format!("request failed: {error}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    if response.content_length().is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64) {
        return Err(format!("document larger than {MAX_DOCUMENT_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| format!("reading the body failed: {error}"))? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("document larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|error| format!("not JSON: {error}"))
}

/// Reads `jwks_uri` from a discovery document after checking that it speaks for `issuer`.
pub(crate) fn jwks_uri_from_discovery(document: &Value, issuer: &str) -> Result<String, String> {
    let announced = document.get("issuer").and_then(Value::as_str).ok_or("the document has no 'issuer'")?;
    if announced != issuer {
        return Err(format!("the document's issuer '{announced}' is not the configured '{issuer}'"));
    }
    let jwks_uri = document.get("jwks_uri").and_then(Value::as_str).ok_or("the document has no 'jwks_uri'")?;
    Ok(jwks_uri.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const RSA_N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    fn rsa(kid: &str, extra: Value) -> Value {
        let mut key = json!({"kty": "RSA", "kid": kid, "n": RSA_N, "e": "AQAB"});
        if let (Some(key), Some(extra)) = (key.as_object_mut(), extra.as_object()) {
            key.extend(extra.clone());
        }
        key
    }

    fn algorithms_of(document: Value) -> Vec<Vec<Algorithm>> {
        let set = KeySet::from_document(&document, "https://idp").unwrap();
        set.keys.iter().map(|key| key.algorithms.clone()).collect()
    }

    #[test]
    fn an_rsa_key_verifies_rsa_algorithms_only_and_its_declared_alg_narrows_that() {
        let rsa_family = algorithms_of(json!({"keys": [rsa("a", json!({}))]}));
        assert_eq!(rsa_family.len(), 1);
        assert!(rsa_family[0].contains(&Algorithm::RS256) && rsa_family[0].contains(&Algorithm::PS256));
        assert!(rsa_family[0].iter().all(|alg| format!("{alg:?}").starts_with(['R', 'P'])));
        assert_eq!(algorithms_of(json!({"keys": [rsa("a", json!({"alg": "RS512"}))]})), [vec![Algorithm::RS512]]);
        // An RSA key that claims an EC or HMAC algorithm verifies nothing.
        assert!(algorithms_of(json!({"keys": [rsa("a", json!({"alg": "ES256"}))]})).is_empty());
        assert!(algorithms_of(json!({"keys": [rsa("a", json!({"alg": "HS256"}))]})).is_empty());
    }

    #[test]
    fn encryption_symmetric_and_unreadable_keys_are_skipped() {
        let document = json!({"keys": [
            rsa("enc", json!({"use": "enc"})),
            rsa("oaep", json!({"alg": "RSA-OAEP"})),
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"},
            {"kty": "XYZ", "kid": "odd"},
            rsa("sig", json!({"use": "sig"})),
        ]});
        let set = KeySet::from_document(&document, "https://idp").unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.select(Some("sig")).is_ok());
        assert!(matches!(set.select(Some("hmac")), Err(KeyMiss::Unknown)));
        assert!(KeySet::from_document(&json!({"nokeys": []}), "https://idp").is_err());
    }

    #[test]
    fn a_token_without_kid_needs_a_set_of_exactly_one_key() {
        let one = KeySet::from_document(&json!({"keys": [rsa("a", json!({}))]}), "i").unwrap();
        assert!(one.select(None).is_ok());
        let two = KeySet::from_document(&json!({"keys": [rsa("a", json!({})), rsa("b", json!({}))]}), "i").unwrap();
        assert!(matches!(two.select(None), Err(KeyMiss::NeedKid)));
        assert!(matches!(KeySet::default().select(None), Err(KeyMiss::Unknown)));
    }

    #[test]
    fn discovery_must_speak_for_the_configured_issuer_exactly() {
        let document = json!({"issuer": "https://idp/realms/a", "jwks_uri": "https://idp/certs"});
        assert_eq!(jwks_uri_from_discovery(&document, "https://idp/realms/a").unwrap(), "https://idp/certs");
        assert!(jwks_uri_from_discovery(&document, "https://idp/realms/a/").is_err());
        assert!(jwks_uri_from_discovery(&document, "https://idp/realms/b").is_err());
        assert!(jwks_uri_from_discovery(&json!({"issuer": "https://idp/realms/a"}), "https://idp/realms/a").is_err());
    }
}
