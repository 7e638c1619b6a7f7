//! Who a request is charged to, read from what the client sent.
//!
//! Until authentication arrives these values are trusted as sent: anyone can claim any tenant
//! or user. The bearer token is never kept, only a fingerprint of it that tells keys apart.

use axum::http::{HeaderMap, header};
use rampart_core::Principal;
use sha2::{Digest, Sha256};

pub const TENANT_HEADER: &str = "x-rampart-tenant";
pub const USER_HEADER: &str = "x-rampart-user";
/// Longer values are cut (on a character boundary), so a client cannot bloat the request log.
pub const MAX_PRINCIPAL_VALUE_BYTES: usize = 128;
/// Hex characters of the token's SHA-256 kept in `api_key_id`: 64 bits, enough to tell keys
/// apart, too few to help anyone guess a key.
const KEY_FINGERPRINT_HEX_CHARS: usize = 16;

/// The principal of a request: `api_key_id` from `Authorization: Bearer`, `tenant` from
/// `x-rampart-tenant`, `user` from the body's `user` field, else `x-rampart-user`.
pub fn principal_from(headers: &HeaderMap, body_user: Option<&str>) -> Principal {
    Principal {
        api_key_id: bearer_token(headers).map(api_key_id),
        tenant: header_text(headers, TENANT_HEADER).and_then(principal_value),
        user: body_user
            .and_then(principal_value)
            .or_else(|| header_text(headers, USER_HEADER).and_then(principal_value)),
    }
}

/// `key_` and the first hex characters of the token's SHA-256.
fn api_key_id(token: &str) -> String {
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    format!("key_{}", &digest[..KEY_FINGERPRINT_HEX_CHARS])
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = header_text(headers, header::AUTHORIZATION.as_str())?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A header's value as text; UTF-8 is accepted, other bytes mean no value.
fn header_text<'headers>(headers: &'headers HeaderMap, name: &str) -> Option<&'headers str> {
    headers.get(name).and_then(|value| std::str::from_utf8(value.as_bytes()).ok())
}

/// Trimmed; empty is no value; cut to [`MAX_PRINCIPAL_VALUE_BYTES`] on a character boundary.
fn principal_value(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut end = trimmed.len().min(MAX_PRINCIPAL_VALUE_BYTES);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    Some(trimmed[..end].trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    fn principal(api_key_id: Option<&str>, tenant: Option<&str>, user: Option<&str>) -> Principal {
        Principal {
            api_key_id: api_key_id.map(str::to_owned),
            tenant: tenant.map(str::to_owned),
            user: user.map(str::to_owned),
        }
    }

    #[test]
    fn nothing_sent_is_nobody() {
        assert_eq!(principal_from(&HeaderMap::new(), None), Principal::default());
    }

    #[test]
    fn the_key_id_is_a_fingerprint_of_the_bearer_token() {
        let sent = headers(&[("authorization", b"Bearer sk-test-one")]);
        let principal = principal_from(&sent, None);
        let key = principal.api_key_id.unwrap();
        assert_eq!(key, api_key_id("sk-test-one"));
        assert_eq!(key.len(), 4 + 16);
        assert!(key.starts_with("key_") && key[4..].chars().all(|c| c.is_ascii_hexdigit()), "{key}");
        assert!(!key.contains("sk-test-one"));

        // The scheme is case-insensitive and spaces around the token do not make another key.
        for same in [&b"bearer sk-test-one"[..], b"BEARER   sk-test-one  ", b"  Bearer sk-test-one"] {
            assert_eq!(principal_from(&headers(&[("authorization", same)]), None).api_key_id, Some(key.clone()));
        }
        let other = principal_from(&headers(&[("authorization", b"Bearer sk-test-two")]), None);
        assert_ne!(other.api_key_id, Some(key));
    }

    #[test]
    fn the_fingerprint_is_the_start_of_the_sha256() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(api_key_id("abc"), "key_ba7816bf8f01cfea");
    }

    #[test]
    fn no_bearer_token_means_no_key() {
        for value in [&b"Basic dXNlcjpwYXNz"[..], b"Bearer", b"Bearer    ", b"sk-no-scheme", b"", b"Bearer \xff\xfe"] {
            assert_eq!(principal_from(&headers(&[("authorization", value)]), None).api_key_id, None, "{value:?}");
        }
    }

    #[test]
    fn tenant_and_user_come_from_headers_trimmed() {
        let sent = headers(&[(TENANT_HEADER, b"  acme "), (USER_HEADER, b"alice\t")]);
        assert_eq!(principal_from(&sent, None), principal(None, Some("acme"), Some("alice")));
        let blank = headers(&[(TENANT_HEADER, b"   "), (USER_HEADER, b"")]);
        assert_eq!(principal_from(&blank, None), Principal::default());
        let utf8 = headers(&[(TENANT_HEADER, "zürich".as_bytes())]);
        assert_eq!(principal_from(&utf8, None).tenant.as_deref(), Some("zürich"));
        let not_utf8 = headers(&[(TENANT_HEADER, b"\xff\xfe")]);
        assert_eq!(principal_from(&not_utf8, None).tenant, None);
    }

    #[test]
    fn the_body_user_wins_over_the_header_unless_blank() {
        let sent = headers(&[(USER_HEADER, b"from-header")]);
        assert_eq!(principal_from(&sent, Some(" from-body ")).user.as_deref(), Some("from-body"));
        assert_eq!(principal_from(&sent, Some("  ")).user.as_deref(), Some("from-header"));
        assert_eq!(principal_from(&HeaderMap::new(), Some("only-body")).user.as_deref(), Some("only-body"));
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        let ascii = "t".repeat(300);
        assert_eq!(principal_value(&ascii).map(|value| value.len()), Some(MAX_PRINCIPAL_VALUE_BYTES));
        // 'é' is two bytes: 127 ASCII bytes then 'é' would end at 129, so it is dropped.
        let straddling = format!("{}é{}", "a".repeat(127), "b".repeat(10));
        assert_eq!(principal_value(&straddling), Some("a".repeat(127)));
        let emoji = "🦀".repeat(40);
        assert_eq!(principal_value(&emoji), Some("🦀".repeat(32)));
        assert_eq!(principal_value(&format!("{}  x", "a".repeat(127))), Some("a".repeat(127)), "no trailing space");
    }
}
