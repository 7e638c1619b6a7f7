//! Rampart API keys: `rk_<id>_<secret>`.
//!
//! - `id`: 12 lowercase hex digits (48 random bits). It is public: stored in clear, shown in
//!   listings and logs, and the only thing an [`rampart_core::IdentityEnvelope`] says about the key.
//! - `secret`: 32 bytes from the operating system's CSPRNG (`ring::rand::SystemRandom`),
//!   base64url without padding (43 characters). It is shown once, at creation, and never stored.
//!
//! What is stored is [`StoredKeyHash`]: a random 16-byte salt and SHA-256(salt ‖ secret bytes).
//! A slow password hash (Argon2, bcrypt) exists to make guessing low-entropy passwords
//! expensive; a 256-bit random secret cannot be guessed at any speed, so one SHA-256 is as
//! strong here and keeps verification cheap on every request. The salt keeps equal secrets
//! (which never happen) from having equal hashes and rules out precomputed tables. Hashes are
//! compared in constant time.

mod authenticator;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use authenticator::{ApiKeyAuthConfig, ApiKeyAuthenticator, IssueKeyError, IssuedApiKey, NewApiKey};

/// Every Rampart API key starts with this.
pub const API_KEY_PREFIX: &str = "rk_";
/// Length of the public id, in hex digits.
pub const KEY_ID_LEN: usize = 12;
const KEY_ID_BYTES: usize = KEY_ID_LEN / 2;
const SECRET_BYTES: usize = 32;
const SALT_BYTES: usize = 16;

/// Why a string is not a well-formed API key. Messages never repeat the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("an API key starts with 'rk_'")]
    MissingPrefix,
    #[error("after 'rk_' an API key has a 12-digit lowercase hex id and '_'")]
    BadId,
    #[error("the secret after the id must be 43 base64url characters (32 bytes)")]
    BadSecret,
}

/// The operating system's random number generator failed; no key was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed; no API key was generated")]
pub struct RandomnessError;

/// The secret half of a presented key. Never printed: `Debug` shows a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret([u8; SECRET_BYTES]);

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("ApiKeySecret(<redacted>)")
    }
}

/// What is kept of a key's secret: a salt and SHA-256(salt ‖ secret).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StoredKeyHash {
    pub salt: [u8; SALT_BYTES],
    pub hash: [u8; 32],
}

impl StoredKeyHash {
    fn of(salt: [u8; SALT_BYTES], secret: &ApiKeySecret) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(salt);
        hasher.update(secret.0);
        StoredKeyHash { salt, hash: hasher.finalize().into() }
    }
}

impl fmt::Debug for StoredKeyHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("StoredKeyHash(<elided>)")
    }
}

/// A presented key split into its public id and its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedApiKey {
    pub id: String,
    pub secret: ApiKeySecret,
}

/// A freshly generated key. `plaintext` goes to the person who asked for it, once; `id` and
/// `stored` go to the store. `Debug` leaves the plaintext out.
#[derive(Clone)]
pub struct GeneratedApiKey {
    pub plaintext: String,
    pub id: String,
    pub stored: StoredKeyHash,
}

impl fmt::Debug for GeneratedApiKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("GeneratedApiKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Makes a new key: random id, random secret, random salt.
pub fn generate_api_key() -> Result<GeneratedApiKey, RandomnessError> {
    let random = SystemRandom::new();
    let mut id = [0u8; KEY_ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    let mut salt = [0u8; SALT_BYTES];
    for buffer in [&mut id[..], &mut secret[..], &mut salt[..]] {
        random.fill(buffer).map_err(|_| RandomnessError)?;
    }
    let id = hex::encode(id);
    let plaintext = format!("{API_KEY_PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(secret));
    let stored = StoredKeyHash::of(salt, &ApiKeySecret(secret));
    Ok(GeneratedApiKey { plaintext, id, stored })
}

/// Splits `rk_<id>_<secret>`, checking the shape of both halves (not whether the key exists).
pub fn parse_api_key(text: &str) -> Result<ParsedApiKey, KeyFormatError> {
    let rest = text.strip_prefix(API_KEY_PREFIX).ok_or(KeyFormatError::MissingPrefix)?;
    let id = rest.get(..KEY_ID_LEN).ok_or(KeyFormatError::BadId)?;
    if !id.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(KeyFormatError::BadId);
    }
    let encoded_secret = rest.get(KEY_ID_LEN..).and_then(|tail| tail.strip_prefix('_')).ok_or(KeyFormatError::BadId)?;
    // The decoder refuses padding and non-zero trailing bits, so each secret has one spelling.
    let secret: [u8; SECRET_BYTES] = URL_SAFE_NO_PAD
        .decode(encoded_secret)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(KeyFormatError::BadSecret)?;
    Ok(ParsedApiKey { id: id.to_owned(), secret: ApiKeySecret(secret) })
}

/// Whether `secret` is the one `stored` was made from, compared in constant time.
pub fn verify_secret(secret: &ApiKeySecret, stored: &StoredKeyHash) -> bool {
    let candidate = StoredKeyHash::of(stored.salt, secret);
    bool::from(candidate.hash.ct_eq(&stored.hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_and_verifies_against_its_stored_hash() {
        let key = generate_api_key().unwrap();
        assert!(key.plaintext.starts_with("rk_"));
        assert_eq!(key.id.len(), KEY_ID_LEN);
        assert_eq!(key.plaintext.len(), 3 + KEY_ID_LEN + 1 + 43);
        let parsed = parse_api_key(&key.plaintext).unwrap();
        assert_eq!(parsed.id, key.id);
        assert!(verify_secret(&parsed.secret, &key.stored));
    }

    #[test]
    fn another_keys_secret_does_not_verify() {
        let first = generate_api_key().unwrap();
        let second = generate_api_key().unwrap();
        assert_ne!(first.id, second.id);
        assert_ne!(first.stored.salt, second.stored.salt);
        let second_secret = parse_api_key(&second.plaintext).unwrap().secret;
        assert!(!verify_secret(&second_secret, &first.stored));
        // Same secret, other salt: the hash must depend on the salt.
        let first_secret = parse_api_key(&first.plaintext).unwrap().secret;
        let resalted = StoredKeyHash { salt: second.stored.salt, hash: first.stored.hash };
        assert!(!verify_secret(&first_secret, &resalted));
    }

    #[test]
    fn malformed_keys_are_refused_with_the_part_that_is_wrong() {
        let good = generate_api_key().unwrap().plaintext;
        let secret_part = &good[16..];
        let cases: Vec<(String, KeyFormatError)> = vec![
            (String::new(), KeyFormatError::MissingPrefix),
            ("sk-abc".into(), KeyFormatError::MissingPrefix),
            (good.replacen("rk_", "RK_", 1), KeyFormatError::MissingPrefix),
            ("rk_".into(), KeyFormatError::BadId),
            ("rk_0123456789a".into(), KeyFormatError::BadId),
            (format!("rk_0123456789AB_{secret_part}"), KeyFormatError::BadId),
            (format!("rk_0123456789ab-{secret_part}"), KeyFormatError::BadId),
            (format!("rk_0123456789\u{e9}_{secret_part}"), KeyFormatError::BadId),
            ("rk_0123456789ab_".into(), KeyFormatError::BadSecret),
            (format!("rk_0123456789ab_{}", &secret_part[1..]), KeyFormatError::BadSecret),
            (format!("rk_0123456789ab_{secret_part}A"), KeyFormatError::BadSecret),
            (format!("rk_0123456789ab_{secret_part}="), KeyFormatError::BadSecret),
            (format!("rk_0123456789ab_{}", secret_part.replace(|_: char| true, "+")), KeyFormatError::BadSecret),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_api_key(&text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let key = generate_api_key().unwrap();
        let parsed = parse_api_key(&key.plaintext).unwrap();
        let secret_part = &key.plaintext[16..];
        for shown in [format!("{key:?}"), format!("{parsed:?}"), format!("{:?}", key.stored)] {
            assert!(!shown.contains(secret_part), "{shown}");
            assert!(!shown.contains(&hex::encode(key.stored.hash)), "{shown}");
        }
    }
}
