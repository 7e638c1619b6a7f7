//! ECMAScript `Number.prototype.toString` for finite doubles (ECMA-262 §6.1.6.1.20), which RFC
//! 8785 §3.2.2.3 prescribes for JSON numbers, and the crate's rule for integers.
//!
//! The shortest digits that read back as the same double come from Rust's own float formatting
//! (`{:e}` without a precision is the shortest round-trip representation, nearest to the value,
//! as ECMAScript requires); this module only lays them out the ECMAScript way.

use std::fmt::Write as _;

use crate::AuditError;

/// Every integer of at most this magnitude is an exact double, so it prints as its own digits.
pub(crate) const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// A stack buffer for one formatted number (the longest ECMAScript form of a double is 25
/// bytes, e.g. `-0.0000012345678901234567`).
pub(crate) struct NumberText {
    bytes: [u8; 40],
    len: usize,
}

impl NumberText {
    fn new() -> Self {
        NumberText { bytes: [0; 40], len: 0 }
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn push_all(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.push(byte);
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl std::fmt::Write for NumberText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.len + text.len() > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.push_all(text.as_bytes());
        Ok(())
    }
}

/// The ECMAScript form of a double, or an error for NaN and infinities.
pub(crate) fn format_f64(value: f64) -> Result<NumberText, AuditError> {
    if !value.is_finite() {
        return Err(AuditError::NonFiniteNumber { number: value.to_string() });
    }
    let mut out = NumberText::new();
    if value == 0.0 {
        // Both zeros print as "0".
        out.push(b'0');
        return Ok(out);
    }
    if value < 0.0 {
        out.push(b'-');
    }

    let scientific = shortest_nearest_digits(value.abs())
        .ok_or_else(|| AuditError::NonFiniteNumber { number: value.to_string() })?;
    let mut digits = [0u8; 20];
    let mut digit_count = 0usize;
    let mut exponent: i32 = 0;
    let mut exponent_negative = false;
    let mut in_exponent = false;
    for &byte in scientific.as_bytes() {
        match byte {
            b'e' => in_exponent = true,
            b'-' if in_exponent => exponent_negative = true,
            b'0'..=b'9' if in_exponent => exponent = exponent * 10 + i32::from(byte - b'0'),
            b'0'..=b'9' => {
                if let Some(slot) = digits.get_mut(digit_count) {
                    *slot = byte;
                    digit_count += 1;
                }
            }
            _ => {}
        }
    }
    if exponent_negative {
        exponent = -exponent;
    }
    while digit_count > 1 && digits.get(digit_count - 1) == Some(&b'0') {
        digit_count -= 1;
    }
    let digits = digits.get(..digit_count).unwrap_or_default();
    // ECMAScript's n: the value is 0.d1d2…dk × 10^n.
    let k = i32::try_from(digit_count).unwrap_or(i32::MAX);
    let n = exponent + 1;

    if k <= n && n <= 21 {
        out.push_all(digits);
        for _ in 0..(n - k) {
            out.push(b'0');
        }
    } else if 0 < n && n <= 21 {
        let split = usize::try_from(n).unwrap_or(0);
        out.push_all(digits.get(..split).unwrap_or_default());
        out.push(b'.');
        out.push_all(digits.get(split..).unwrap_or_default());
    } else if -6 < n && n <= 0 {
        out.push_all(b"0.");
        for _ in 0..(-n) {
            out.push(b'0');
        }
        out.push_all(digits);
    } else {
        out.push_all(digits.get(..1).unwrap_or_default());
        if digits.len() > 1 {
            out.push(b'.');
            out.push_all(digits.get(1..).unwrap_or_default());
        }
        out.push(b'e');
        out.push(if n >= 1 { b'+' } else { b'-' });
        let _ = write!(out, "{}", (n - 1).unsigned_abs());
    }
    Ok(out)
}

/// The shortest digits that read back as `value` (positive, finite), and of those the nearest
/// to it, in scientific form `d[.ddd]e[-]x`. Rust's shortest mode finds the length; on an exact
/// tie between two candidates it rounds half up (1424953923781206.25 gives …206.3), where
/// ECMAScript wants the even one (…206.2), so the digits are re-derived by correctly rounding
/// the exact value to that length, which rounds half to even.
fn shortest_nearest_digits(value: f64) -> Option<NumberText> {
    let mut shortest = NumberText::new();
    write!(shortest, "{value:e}").ok()?;
    let mantissa_digits = shortest.as_bytes().iter().take_while(|&&b| b != b'e').filter(|b| b.is_ascii_digit()).count();
    if mantissa_digits > 1 {
        let mut nearest = NumberText::new();
        write!(nearest, "{:.*e}", mantissa_digits - 1, value).ok()?;
        if nearest.as_bytes() != shortest.as_bytes() && nearest.as_str().parse::<f64>() == Ok(value) {
            return Some(nearest);
        }
    }
    Some(shortest)
}

/// Writes an integer given as sign and magnitude. Integers up to 2^53 are exact doubles and are
/// written as they are; a larger one only when its double prints as the same digits (10^19
/// does, 2^53 + 1 does not), because RFC 8785 numbers are doubles and the record must say
/// exactly the number that was logged.
pub(crate) fn write_integer(out: &mut String, negative: bool, magnitude: u64) -> Result<(), AuditError> {
    if magnitude == 0 {
        out.push('0');
        return Ok(());
    }
    if magnitude > MAX_EXACT_INTEGER {
        #[allow(clippy::cast_precision_loss)] // the point: compare the double with the integer
        let double = magnitude as f64;
        let printed = format_f64(double)?;
        let exact = magnitude.to_string();
        if printed.as_str() != exact {
            let sign = if negative { "-" } else { "" };
            return Err(AuditError::NumberNotRepresentable { number: format!("{sign}{exact}") });
        }
    }
    if negative {
        out.push('-');
    }
    push_decimal(out, magnitude);
    Ok(())
}

/// Appends the decimal digits of `value`.
pub(crate) fn push_decimal(out: &mut String, mut value: u64) {
    let mut buffer = [0u8; 20];
    let mut start = buffer.len();
    loop {
        start -= 1;
        if let Some(slot) = buffer.get_mut(start) {
            // `value % 10` is below 10, so the cast cannot truncate.
            *slot = b'0' + (value % 10) as u8;
        }
        value /= 10;
        if value == 0 || start == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(buffer.get(start..).unwrap_or_default()).unwrap_or_default());
}

/// Writes a double in its ECMAScript form.
pub(crate) fn write_f64(out: &mut String, value: f64) -> Result<(), AuditError> {
    out.push_str(format_f64(value)?.as_str());
    Ok(())
}
