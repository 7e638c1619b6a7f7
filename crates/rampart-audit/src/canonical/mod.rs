//! RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value, so that a hash
//! over it means the same thing to every implementation.
//!
//! - Objects: members sorted by their names compared as UTF-16 code units; no whitespace.
//! - Strings: only `"` and `\` and the controls U+0000–U+001F are escaped; `\b \t \n \f \r` in
//!   short form, the other controls as `\u00xx` (lowercase hex). Everything else, including
//!   U+007F, U+2028 and all non-ASCII text, is written as UTF-8.
//! - Numbers: the ECMAScript `Number.prototype.toString` form of the IEEE 754 double
//!   (`1e+21`, `1e-7`, `0.000001`, `4.5`, `333333333.3333333`; `-0` is `0`).
//!
//! **Integers.** serde_json keeps integers as `u64`/`i64`, but an RFC 8785 number is a double.
//! An integer of magnitude up to 2^53 is exact and written as is. A larger one is written only
//! when its double prints as the same digits (10^19 does); otherwise
//! [`AuditError::NumberNotRepresentable`], because writing the nearest double would make the
//! audit record state a number that was never logged. Log such values as strings.
//! serde_json cannot hold NaN or infinities; with its `arbitrary_precision` feature it could,
//! and they are refused ([`AuditError::NonFiniteNumber`]).
//!
//! **Reading JSON text.** serde_json without its `float_roundtrip` feature may read a 17-digit
//! decimal one ULP off (`333333333.33333329` becomes …325); a `Value` parsed that way is sealed
//! as the double serde_json produced. [`parse_canonical`] reads numbers exactly.
//!
//! [`is_canonical`] and [`parse_canonical`] go the other way: they accept exactly the texts
//! [`canonicalize`] produces, so a record can be checked without re-serialising it.

mod number;
mod scan;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;

use serde_json::Value;

use crate::AuditError;

pub(crate) use number::{MAX_EXACT_INTEGER, push_decimal};
pub(crate) use scan::Scanner;

/// The deepest nesting of arrays and objects accepted, on the way in and on the way out.
pub const MAX_DEPTH: usize = 200;

/// The RFC 8785 canonical form of `value`.
pub fn canonicalize(value: &Value) -> Result<String, AuditError> {
    let mut out = String::with_capacity(128);
    write_canonical(&mut out, value)?;
    Ok(out)
}

/// Appends the RFC 8785 canonical form of `value` to `out`. On error `out` may hold part of it.
pub fn write_canonical(out: &mut String, value: &Value) -> Result<(), AuditError> {
    write_value(out, value, 0)
}

/// Whether `text` is exactly the canonical form of some JSON value.
pub fn is_canonical(text: &str) -> bool {
    let mut scanner = Scanner::new(text);
    scanner.skip_value(0).is_ok() && scanner.at_end()
}

/// Reads canonical JSON back into a value, refusing any text that is not canonical (so
/// `canonicalize(&parse_canonical(t)?)? == t`). Numbers are read exactly (correctly rounded);
/// integral numbers come back as integers.
pub fn parse_canonical(text: &str) -> Result<Value, AuditError> {
    let mut scanner = Scanner::new(text);
    let value = scanner.value(0)?;
    scanner.expect_end()?;
    Ok(value)
}

fn write_value(out: &mut String, value: &Value, depth: usize) -> Result<(), AuditError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number)?,
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(AuditError::TooDeep { max_depth: MAX_DEPTH });
            }
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH {
                return Err(AuditError::TooDeep { max_depth: MAX_DEPTH });
            }
            // serde_json's map is ordered by UTF-8 bytes (or by insertion with
            // `preserve_order`); RFC 8785 orders by UTF-16 code units.
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| compare_utf16(a.0, b.0));
            out.push('{');
            for (index, (name, member)) in members.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, name);
                out.push(':');
                write_value(out, member, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_number(out: &mut String, number: &serde_json::Number) -> Result<(), AuditError> {
    if let Some(unsigned) = number.as_u64() {
        number::write_integer(out, false, unsigned)
    } else if let Some(signed) = number.as_i64() {
        number::write_integer(out, signed < 0, signed.unsigned_abs())
    } else if let Some(double) = number.as_f64() {
        number::write_f64(out, double)
    } else {
        Err(AuditError::NonFiniteNumber { number: number.to_string() })
    }
}

/// Appends `text` as a JSON string with RFC 8785's minimal escaping.
pub(crate) fn write_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (index, &byte) in text.as_bytes().iter().enumerate() {
        let short: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x09 => "\\t",
            0x0a => "\\n",
            0x0c => "\\f",
            0x0d => "\\r",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `index` is at an ASCII byte, so both slices end on character boundaries.
        out.push_str(text.get(start..index).unwrap_or_default());
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        } else {
            out.push_str(short);
        }
        start = index + 1;
    }
    out.push_str(text.get(start..).unwrap_or_default());
    out.push('"');
}

/// Orders two strings by their UTF-16 code units (RFC 8785 §3.2.3).
pub(crate) fn compare_utf16(a: &str, b: &str) -> Ordering {
    // UTF-8 byte order is code point order. UTF-16 order differs from it only between a
    // character in U+E000..=U+FFFF (lead byte 0xEE or 0xEF) and a supplementary one (lead byte
    // 0xF0 and up), whose surrogates sort first. The first differing bytes are either two lead
    // bytes (or ASCII), which tell the two cases apart, or continuation bytes after one shared
    // lead byte, where byte order is right.
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).find(|(x, y)| x != y) {
        None => a.len().cmp(&b.len()),
        Some((&x, &y)) => {
            let swapped = (x >= 0xf0 && (0xee..0xf0).contains(&y)) || (y >= 0xf0 && (0xee..0xf0).contains(&x));
            if swapped { y.cmp(&x) } else { x.cmp(&y) }
        }
    }
}
