//! SHA-256 and hex helpers shared by the modules, and serde adapters that write hashes and
//! signatures as lowercase hex.

use sha2::{Digest, Sha256};

use crate::AuditError;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// SHA-256 over the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Decodes exactly 32 bytes of hex (either case).
pub(crate) fn hash_from_hex(text: &str, what: &'static str) -> Result<Hash, AuditError> {
    decode_hash(text.as_bytes(), false).ok_or(AuditError::InvalidHex { what, expected_bytes: 32 })
}

/// Decodes 64 hex digits (only lowercase ones if `lowercase_only`); on the verifier's hot path,
/// hence the table instead of the `hex` crate.
pub(crate) fn decode_hash(text: &[u8], lowercase_only: bool) -> Option<Hash> {
    const INVALID: u8 = 0xff;
    const fn table(lowercase_only: bool) -> [u8; 256] {
        let mut table = [INVALID; 256];
        let mut digit = 0;
        while digit < 16 {
            let lower = if digit < 10 { b'0' + digit } else { b'a' + digit - 10 };
            table[lower as usize] = digit;
            if !lowercase_only && digit >= 10 {
                table[(b'A' + digit - 10) as usize] = digit;
            }
            digit += 1;
        }
        table
    }
    static ANY_CASE: [u8; 256] = table(false);
    static LOWERCASE: [u8; 256] = table(true);
    let table = if lowercase_only { &LOWERCASE } else { &ANY_CASE };
    let pairs: &[[u8; 2]; 32] = text.as_chunks::<2>().0.try_into().ok()?;
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut invalid = 0u8;
    for (byte, [high, low]) in out.iter_mut().zip(pairs) {
        let (high, low) = (table[usize::from(*high)], table[usize::from(*low)]);
        invalid |= (high | low) & 0xf0;
        *byte = (high << 4) | (low & 0x0f);
    }
    (invalid == 0).then_some(out)
}

/// Serde adapter: `[u8; 32]` as a hex string.
pub(crate) mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(value: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(value))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        super::hash_from_hex(&text, "hash").map_err(D::Error::custom)
    }
}

/// Serde adapter: `Vec<[u8; 32]>` as a list of hex strings.
pub(crate) mod hex32_list {
    use serde::{Deserialize, Deserializer, Serializer, de::Error, ser::SerializeSeq};

    pub(crate) fn serialize<S: Serializer>(value: &[[u8; 32]], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(value.len()))?;
        for hash in value {
            seq.serialize_element(&hex::encode(hash))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let texts = Vec::<String>::deserialize(deserializer)?;
        texts.iter().map(|text| super::hash_from_hex(text, "hash").map_err(D::Error::custom)).collect()
    }
}

/// Serde adapter: bytes of any length as a hex string.
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(value: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(value))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_hashes_decode_like_the_hex_crate() {
        let bytes: Hash = std::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let lower = hex::encode(bytes);
        assert_eq!(decode_hash(lower.as_bytes(), true), Some(bytes));
        let upper = lower.to_uppercase();
        assert_eq!(decode_hash(upper.as_bytes(), false), Some(bytes));
        assert_eq!(decode_hash(upper.as_bytes(), true), None);
        for bad in
            ["", "00", &lower[..62], &format!("{lower}00"), &lower.replacen('0', "g", 1), &lower.replacen('0', " ", 1)]
        {
            assert_eq!(decode_hash(bad.as_bytes(), false), None, "{bad}");
        }
        assert!(hash_from_hex(&upper, "test").is_ok());
    }
}
