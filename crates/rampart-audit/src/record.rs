//! Audit records: an event sealed into the hash chain as one canonical JSON text.
//!
//! A record is the RFC 8785 form of an object with exactly these members, in this (canonical)
//! order: `actor` (string or null), `data` (any JSON), `kind` (string), `prev_hash` (64
//! lowercase hex digits), `request_id` (string or null), `seq` (integer, 1..=2^53-1), `tenant`
//! (string or null), `time_unix_ms` (integer, ±2^53-1). The record's chain hash is
//! `SHA-256(prev_hash bytes ‖ record bytes)` and is not part of the text; its Merkle leaf hash is
//! `SHA-256(0x00 ‖ record bytes)`.

use serde_json::Value;

use crate::AuditError;
use crate::canonical::{self, MAX_EXACT_INTEGER, Scanner, push_decimal, write_string};
use crate::hash::{Hash, sha256};

/// The `prev_hash` of record 1.
pub const GENESIS_PREV_HASH: Hash = [0; 32];

/// The largest sequence number (and timestamp magnitude) a record can hold: 2^53 - 1, the
/// largest integer every JSON implementation reads exactly (RFC 7493 I-JSON).
pub const MAX_SEQ: u64 = MAX_EXACT_INTEGER - 1;

/// What happened, as the caller logs it (`rampart_core`'s type: the store hands events over
/// as they are). `kind` names the family of event (`auth`, `policy`, `route`, `request`,
/// `error`, `admin`…); `data` holds the details.
pub use rampart_core::AuditEvent;

/// An event bound into the chain: its canonical text and the hashes that link it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedRecord {
    pub seq: u64,
    pub prev_hash: Hash,
    /// `SHA-256(prev_hash ‖ canonical)`: the next record's `prev_hash`.
    pub hash: Hash,
    /// The record text, exactly as hashed and as it must be stored.
    pub canonical: String,
}

impl SealedRecord {
    /// The record's RFC 9162 Merkle leaf hash.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.canonical)
    }

    /// The chain hash as lowercase hex, the form the store keeps next to the text.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

/// A record read back from its text.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedRecord {
    pub seq: u64,
    pub prev_hash: Hash,
    pub event: AuditEvent,
}

/// Seals `event` as record `seq` following the record whose chain hash is `prev_hash`
/// ([`GENESIS_PREV_HASH`] for record 1).
pub fn seal(seq: u64, prev_hash: &Hash, event: &AuditEvent) -> Result<SealedRecord, AuditError> {
    if seq == 0 || seq > MAX_SEQ {
        return Err(AuditError::SeqOutOfRange { seq });
    }
    if event.time_unix_ms.unsigned_abs() > MAX_SEQ {
        return Err(AuditError::TimeOutOfRange { time_unix_ms: event.time_unix_ms });
    }
    let mut out = String::with_capacity(256);
    out.push_str("{\"actor\":");
    write_optional_string(&mut out, event.actor.as_deref());
    out.push_str(",\"data\":");
    canonical::write_canonical(&mut out, &event.data)?;
    out.push_str(",\"kind\":");
    write_string(&mut out, &event.kind);
    out.push_str(",\"prev_hash\":\"");
    push_hex(&mut out, prev_hash);
    out.push_str("\",\"request_id\":");
    write_optional_string(&mut out, event.request_id.as_deref());
    out.push_str(",\"seq\":");
    push_decimal(&mut out, seq);
    out.push_str(",\"tenant\":");
    write_optional_string(&mut out, event.tenant.as_deref());
    out.push_str(",\"time_unix_ms\":");
    if event.time_unix_ms < 0 {
        out.push('-');
    }
    push_decimal(&mut out, event.time_unix_ms.unsigned_abs());
    out.push('}');
    let hash = chain_hash(prev_hash, &out);
    Ok(SealedRecord { seq, prev_hash: *prev_hash, hash, canonical: out })
}

/// `SHA-256(prev_hash ‖ canonical)`.
pub fn chain_hash(prev_hash: &Hash, canonical: &str) -> Hash {
    sha256(&[prev_hash, canonical.as_bytes()])
}

/// RFC 9162 leaf hash of a record: `SHA-256(0x00 ‖ canonical)`.
pub fn leaf_hash(canonical: &str) -> Hash {
    crate::merkle::leaf_hash(canonical.as_bytes())
}

/// Reads a record back, refusing any text that [`seal`] would not have written.
pub fn parse(canonical: &str) -> Result<ParsedRecord, AuditError> {
    let mut fields = RecordFields::default();
    walk(canonical, Some(&mut fields)).map(|(seq, prev_hash)| ParsedRecord {
        seq,
        prev_hash,
        event: fields.into_event(),
    })
}

/// Checks that `canonical` is a well-formed record and returns its `seq` and `prev_hash`,
/// without building anything (the verifier's path).
pub(crate) fn scan_header(canonical: &str) -> Result<(u64, Hash), AuditError> {
    walk(canonical, None)
}

#[derive(Default)]
struct RecordFields {
    actor: Option<String>,
    data: Value,
    kind: String,
    request_id: Option<String>,
    tenant: Option<String>,
    time_unix_ms: i64,
}

impl RecordFields {
    fn into_event(self) -> AuditEvent {
        AuditEvent {
            time_unix_ms: self.time_unix_ms,
            tenant: self.tenant,
            kind: self.kind,
            actor: self.actor,
            request_id: self.request_id,
            data: self.data,
        }
    }
}

const FIELDS: [&str; 8] = ["actor", "data", "kind", "prev_hash", "request_id", "seq", "tenant", "time_unix_ms"];

/// Walks the record's members in their fixed order; fills `build` when given.
fn walk(text: &str, mut build: Option<&mut RecordFields>) -> Result<(u64, Hash), AuditError> {
    let mut scanner = Scanner::new(text);
    scanner.expect(b'{', "a record is a JSON object")?;
    let mut seq = 0;
    let mut prev_hash = GENESIS_PREV_HASH;
    for (index, field) in FIELDS.into_iter().enumerate() {
        if index > 0 && scanner.peek() != Some(b',') {
            return Err(AuditError::InvalidRecord { field, reason: "is missing" });
        }
        if index > 0 {
            scanner.expect(b',', "expected `,`")?;
        }
        let name = scanner.string()?;
        if name.escaped || name.raw != field {
            return Err(AuditError::InvalidRecord { field, reason: "is missing or not in its place" });
        }
        scanner.expect(b':', "expected `:` after a member name")?;
        match field {
            "actor" | "request_id" | "tenant" => {
                let value = optional_string(&mut scanner, field, build.is_some())?;
                if let Some(fields) = build.as_deref_mut() {
                    match field {
                        "actor" => fields.actor = value,
                        "request_id" => fields.request_id = value,
                        _ => fields.tenant = value,
                    }
                }
            }
            "data" => match build.as_deref_mut() {
                Some(fields) => fields.data = scanner.value(1)?,
                None => scanner.skip_value(1)?,
            },
            "kind" => {
                if scanner.peek() != Some(b'"') {
                    return Err(AuditError::InvalidRecord { field, reason: "must be a string" });
                }
                let kind = scanner.string()?;
                if let Some(fields) = build.as_deref_mut() {
                    fields.kind = kind.decode();
                }
            }
            "prev_hash" => {
                let invalid = AuditError::InvalidRecord { field, reason: "must be 64 lowercase hex digits" };
                if scanner.peek() != Some(b'"') {
                    return Err(invalid);
                }
                let hex_text = scanner.string()?;
                prev_hash = crate::hash::decode_hash(hex_text.raw.as_bytes(), true).ok_or(invalid)?;
            }
            "seq" => {
                let (negative, magnitude) = integer(&mut scanner, field)?;
                if negative || magnitude == 0 || magnitude > MAX_SEQ {
                    return Err(AuditError::InvalidRecord { field, reason: "must be an integer in 1..=2^53-1" });
                }
                seq = magnitude;
            }
            _ => {
                let (negative, magnitude) = integer(&mut scanner, field)?;
                let signed = i64::try_from(magnitude).ok().filter(|_| magnitude <= MAX_SEQ);
                let Some(signed) = signed else {
                    return Err(AuditError::InvalidRecord { field, reason: "must be an integer within ±2^53-1" });
                };
                if let Some(fields) = build.as_deref_mut() {
                    fields.time_unix_ms = if negative { -signed } else { signed };
                }
            }
        }
    }
    if scanner.peek() != Some(b'}') {
        return Err(AuditError::InvalidRecord { field: "time_unix_ms", reason: "is followed by unknown members" });
    }
    scanner.expect(b'}', "expected `}`")?;
    scanner.expect_end()?;
    Ok((seq, prev_hash))
}

fn optional_string(scanner: &mut Scanner<'_>, field: &'static str, build: bool) -> Result<Option<String>, AuditError> {
    match scanner.peek() {
        Some(b'"') => {
            let text = scanner.string()?;
            Ok(build.then(|| text.decode()))
        }
        Some(b'n') => {
            let start = scanner.position();
            scanner.skip_value(1)?;
            if scanner.slice(start, scanner.position()) == "null" {
                Ok(None)
            } else {
                Err(AuditError::InvalidRecord { field, reason: "must be a string or null" })
            }
        }
        _ => Err(AuditError::InvalidRecord { field, reason: "must be a string or null" }),
    }
}

/// Reads a canonical number that must be an integer: (is negative, magnitude).
fn integer(scanner: &mut Scanner<'_>, field: &'static str) -> Result<(bool, u64), AuditError> {
    let not_integer = AuditError::InvalidRecord { field, reason: "must be an integer" };
    if !matches!(scanner.peek(), Some(b'-' | b'0'..=b'9')) {
        return Err(not_integer);
    }
    let token = scanner.number()?;
    let (negative, digits) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let magnitude = digits.parse::<u64>().map_err(|_| not_integer)?;
    Ok((negative, magnitude))
}

fn write_optional_string(out: &mut String, value: Option<&str>) {
    match value {
        Some(text) => write_string(out, text),
        None => out.push_str("null"),
    }
}

fn push_hex(out: &mut String, bytes: &Hash) {
    let mut buffer = [0u8; 64];
    if hex::encode_to_slice(bytes, &mut buffer).is_ok() {
        out.push_str(std::str::from_utf8(&buffer).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests;
