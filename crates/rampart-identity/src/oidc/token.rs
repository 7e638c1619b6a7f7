//! Reading a JWT before and around verification: its shape, header, unverified issuer, and
//! what a jsonwebtoken error means for the caller.

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use serde_json::{Map, Value};

use crate::error::{AuthError, safe_label};

/// What the unverified header asks for.
#[derive(Debug)]
pub(crate) struct TokenHeader {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
}

/// Three dot-separated base64url segments, the first two non-empty. (An unsigned `alg: none`
/// token has an empty third one; it is routed here and refused by its header.)
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    let base64url =
        |segment: &str| segment.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    matches!(segments.as_slice(), [header, payload, signature]
        if !header.is_empty() && !payload.is_empty() && [header, payload, signature].into_iter().all(|s| base64url(s)))
}

fn json_segment(segment: &str, what: &'static str) -> Result<Map<String, Value>, AuthError> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).map_err(|_| AuthError::MalformedToken { reason: what })?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::MalformedToken { reason: what })
}

fn segments(token: &str) -> Result<[&str; 3], AuthError> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => Ok([header, payload, signature]),
        _ => Err(AuthError::MalformedToken { reason: "a JWT has three dot-separated parts" }),
    }
}

/// Reads `alg` and `kid`. `none` and names jsonwebtoken does not know are refused here, as are
/// headers with `crit` extensions (RFC 7515 §4.1.11: a verifier must understand them). Key
/// hints in the header (`jku`, `x5u`, `jwk`) are never followed: keys come from the issuer's set.
pub(crate) fn read_header(token: &str) -> Result<TokenHeader, AuthError> {
    let [header, _, _] = segments(token)?;
    let header = json_segment(header, "the header is not base64url-encoded JSON")?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(AuthError::MalformedToken { reason: "the header has no 'alg'" })?;
    if header.contains_key("crit") {
        return Err(AuthError::MalformedToken { reason: "critical header extensions are not supported" });
    }
    let alg = Algorithm::from_str(alg).map_err(|_| AuthError::DisallowedAlgorithm { alg: safe_label(alg) })?;
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(AuthError::MalformedToken { reason: "the header's 'kid' is not a string" }),
    };
    Ok(TokenHeader { alg, kid })
}

/// The `iss` of a token whose signature has not been checked: only good for choosing which
/// provider verifies it, never for anything else.
pub(crate) fn unverified_issuer(token: &str) -> Result<String, AuthError> {
    let [_, payload, _] = segments(token)?;
    let claims = json_segment(payload, "the payload is not base64url-encoded JSON")?;
    match claims.get("iss") {
        Some(Value::String(issuer)) => Ok(issuer.clone()),
        _ => Err(AuthError::UnknownIssuer),
    }
}

/// Refuses an `iat` in the future beyond the leeway (jsonwebtoken checks `exp` and `nbf`
/// only). A present but non-numeric `iat` is malformed.
pub(crate) fn check_issued_at(claims: &Map<String, Value>, leeway_secs: u64, now_secs: u64) -> Result<(), AuthError> {
    match claims.get("iat") {
        None => Ok(()),
        Some(iat) => {
            let iat = iat.as_f64().ok_or(AuthError::MalformedToken { reason: "'iat' is not a number" })?;
            if iat > now_secs.saturating_add(leeway_secs) as f64 { Err(AuthError::TokenNotYetValid) } else { Ok(()) }
        }
    }
}

/// What a jsonwebtoken failure tells the caller.
pub(crate) fn map_jwt_error(error: &JwtError, alg: Algorithm) -> AuthError {
    match error.kind() {
        ErrorKind::ExpiredSignature => AuthError::TokenExpired,
        ErrorKind::ImmatureSignature => AuthError::TokenNotYetValid,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            AuthError::DisallowedAlgorithm { alg: safe_label(&format!("{alg:?}")) }
        }
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "aud" => AuthError::WrongAudience,
            "iss" => AuthError::WrongIssuer,
            "exp" => AuthError::MissingClaim { purpose: "expiry", claim: "exp".into() },
            "nbf" => AuthError::MissingClaim { purpose: "not-before", claim: "nbf".into() },
            _ => AuthError::MissingClaim { purpose: "subject", claim: "sub".into() },
        },
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::Crypto(_) => AuthError::InvalidSignature,
        _ => AuthError::MalformedToken { reason: "the token is not base64url-encoded JSON" },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn jwt_shape_is_three_base64url_segments() {
        assert!(looks_like_jwt("eyJh.eyJp.c2ln"));
        assert!(looks_like_jwt("eyJh.eyJp."));
        for text in ["", "eyJh.eyJp", "eyJh.eyJp.c2ln.x", ".eyJp.c2ln", "eyJh..c2ln", "ey+h.eyJp.c2ln", "ey h.eyJp.c"] {
            assert!(!looks_like_jwt(text), "{text:?}");
        }
    }

    #[test]
    fn header_alg_none_unknown_or_missing_is_refused() {
        let error = read_header(&token(r#"{"alg":"none"}"#, "{}")).unwrap_err();
        assert_eq!(error, AuthError::DisallowedAlgorithm { alg: "none".into() });
        assert!(matches!(read_header(&token(r#"{"alg":"XS1"}"#, "{}")), Err(AuthError::DisallowedAlgorithm { .. })));
        assert!(matches!(read_header(&token(r#"{"typ":"JWT"}"#, "{}")), Err(AuthError::MalformedToken { .. })));
        assert!(matches!(
            read_header(&token(r#"{"alg":"RS256","crit":["b64"]}"#, "{}")),
            Err(AuthError::MalformedToken { .. })
        ));
        assert!(matches!(
            read_header(&token(r#"{"alg":"RS256","kid":7}"#, "{}")),
            Err(AuthError::MalformedToken { .. })
        ));
        let header = read_header(&token(r#"{"alg":"ES256","kid":"k1","jku":"https://evil"}"#, "{}")).unwrap();
        assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::ES256, Some("k1")));
    }

    #[test]
    fn the_unverified_issuer_is_read_from_the_payload() {
        assert_eq!(unverified_issuer(&token("{}", r#"{"iss":"https://idp"}"#)).unwrap(), "https://idp");
        assert_eq!(unverified_issuer(&token("{}", r#"{"iss":["a"]}"#)), Err(AuthError::UnknownIssuer));
        assert!(matches!(unverified_issuer("a.b"), Err(AuthError::MalformedToken { .. })));
    }

    #[test]
    fn issued_at_in_the_future_counts_only_beyond_the_leeway() {
        let claims = |iat: Value| Map::from_iter([("iat".to_owned(), iat)]);
        assert_eq!(check_issued_at(&claims(1060.into()), 60, 1000), Ok(()));
        assert_eq!(check_issued_at(&claims(1061.into()), 60, 1000), Err(AuthError::TokenNotYetValid));
        assert!(check_issued_at(&claims("soon".into()), 60, 1000).is_err());
        assert_eq!(check_issued_at(&Map::new(), 60, 1000), Ok(()));
    }
}
