//! A one-pass reader that accepts only canonical JSON: it validates (and optionally builds a
//! `serde_json::Value`) without re-serialising, so the log verifier can check a record in
//! about the time it takes to read it.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::number::{MAX_EXACT_INTEGER, format_f64};
use super::{MAX_DEPTH, compare_utf16};
use crate::AuditError;

/// The raw content of a JSON string (between the quotes, escapes not decoded).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawString<'a> {
    pub(crate) raw: &'a str,
    pub(crate) escaped: bool,
}

impl RawString<'_> {
    /// The decoded string.
    pub(crate) fn decode(&self) -> String {
        if !self.escaped {
            return self.raw.to_owned();
        }
        let mut out = String::with_capacity(self.raw.len());
        let mut chars = self.raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('b') => out.push('\u{8}'),
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('f') => out.push('\u{c}'),
                Some('r') => out.push('\r'),
                Some('u') => {
                    // Validated: `\u00xx` with xx < 0x20.
                    let digits: String = chars.by_ref().take(4).collect();
                    let code = u32::from_str_radix(&digits, 16).unwrap_or(0);
                    out.push(char::from_u32(code).unwrap_or('\u{0}'));
                }
                Some(other) => out.push(other),
                None => {}
            }
        }
        out
    }

    fn compare(&self, other: &RawString<'_>) -> Ordering {
        if !self.escaped && !other.escaped {
            compare_utf16(self.raw, other.raw)
        } else {
            compare_utf16(&self.decode(), &other.decode())
        }
    }
}

/// A cursor over text that must be canonical JSON.
pub(crate) struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Scanner { text, bytes: text.as_bytes(), pos: 0 }
    }

    pub(crate) fn error(&self, reason: &'static str) -> AuditError {
        AuditError::NotCanonical { offset: self.pos, reason }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or_default()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    pub(crate) fn expect_end(&self) -> Result<(), AuditError> {
        if self.at_end() { Ok(()) } else { Err(self.error("text after the value")) }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(crate) fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), AuditError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    /// Validates one value and moves past it.
    pub(crate) fn skip_value(&mut self, depth: usize) -> Result<(), AuditError> {
        match self.peek() {
            Some(b'{') => {
                self.enter(depth)?;
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                let mut previous: Option<RawString<'a>> = None;
                loop {
                    let name = self.member_name(previous.as_ref())?;
                    previous = Some(name);
                    self.skip_value(depth + 1)?;
                    if self.close_or_comma(b'}')? {
                        return Ok(());
                    }
                }
            }
            Some(b'[') => {
                self.enter(depth)?;
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if self.close_or_comma(b']')? {
                        return Ok(());
                    }
                }
            }
            Some(b'"') => self.string().map(|_| ()),
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| ()),
            _ => self.literal().map(|_| ()),
        }
    }

    /// Validates one value and builds it.
    pub(crate) fn value(&mut self, depth: usize) -> Result<Value, AuditError> {
        match self.peek() {
            Some(b'{') => {
                self.enter(depth)?;
                let mut map = Map::new();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                let mut previous: Option<RawString<'a>> = None;
                loop {
                    let name = self.member_name(previous.as_ref())?;
                    previous = Some(name);
                    let member = self.value(depth + 1)?;
                    map.insert(name.decode(), member);
                    if self.close_or_comma(b'}')? {
                        return Ok(Value::Object(map));
                    }
                }
            }
            Some(b'[') => {
                self.enter(depth)?;
                let mut items = Vec::new();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if self.close_or_comma(b']')? {
                        return Ok(Value::Array(items));
                    }
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?.decode())),
            Some(b'-' | b'0'..=b'9') => {
                let token = self.number()?;
                Ok(Value::Number(number_value(token).ok_or_else(|| self.error("number out of range"))?))
            }
            _ => self.literal(),
        }
    }

    fn enter(&mut self, depth: usize) -> Result<(), AuditError> {
        if depth >= MAX_DEPTH {
            return Err(AuditError::TooDeep { max_depth: MAX_DEPTH });
        }
        self.pos += 1;
        Ok(())
    }

    /// Reads `"name":`, checking that it sorts after the previous member's name.
    fn member_name(&mut self, previous: Option<&RawString<'a>>) -> Result<RawString<'a>, AuditError> {
        let start = self.pos;
        let name = self.string()?;
        if let Some(previous) = previous
            && previous.compare(&name) != Ordering::Less
        {
            return Err(AuditError::NotCanonical { offset: start, reason: "member names not in UTF-16 order" });
        }
        self.expect(b':', "expected `:` after a member name")?;
        Ok(name)
    }

    /// After a member or element: `true` at the closing bracket, `false` after a comma.
    fn close_or_comma(&mut self, close: u8) -> Result<bool, AuditError> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(byte) if byte == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.error("expected `,` or the closing bracket (no whitespace is allowed)")),
        }
    }

    fn literal(&mut self) -> Result<Value, AuditError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let (value, len) = if rest.starts_with(b"null") {
            (Value::Null, 4)
        } else if rest.starts_with(b"true") {
            (Value::Bool(true), 4)
        } else if rest.starts_with(b"false") {
            (Value::Bool(false), 5)
        } else {
            return Err(self.error("expected a JSON value"));
        };
        self.pos += len;
        Ok(value)
    }

    /// Reads a string, allowing only the escapes RFC 8785 writes.
    pub(crate) fn string(&mut self) -> Result<RawString<'a>, AuditError> {
        self.expect(b'"', "expected a string")?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            self.pos += plain_run(self.bytes.get(self.pos..).unwrap_or_default());
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(self.error("unterminated string"));
            };
            match byte {
                b'"' => {
                    let raw = self.slice(start, self.pos);
                    self.pos += 1;
                    return Ok(RawString { raw, escaped });
                }
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                0x00..=0x1f => return Err(self.error("control character not escaped")),
                _ => self.pos += 1,
            }
        }
    }

    fn escape(&mut self) -> Result<(), AuditError> {
        match self.bytes.get(self.pos + 1) {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let digits = self.bytes.get(self.pos + 2..self.pos + 6).unwrap_or_default();
                let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
                let code = match digits {
                    [b'0', b'0', high, low] if lower_hex(high) && lower_hex(low) => {
                        let text = std::str::from_utf8(digits).unwrap_or_default();
                        u32::from_str_radix(text, 16).unwrap_or(u32::MAX)
                    }
                    _ => u32::MAX,
                };
                if code >= 0x20 || matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                    return Err(self.error("escape not in RFC 8785's minimal form"));
                }
                self.pos += 6;
                Ok(())
            }
            _ => Err(self.error("escape not in RFC 8785's minimal form")),
        }
    }

    /// Reads a number token and checks it is the ECMAScript form of its double.
    pub(crate) fn number(&mut self) -> Result<&'a str, AuditError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("malformed number")),
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.pos += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.error("malformed number"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integral = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.error("malformed number"));
            }
            self.digits();
        }
        let token = self.slice(start, self.pos);
        let digits_len = token.len() - usize::from(negative);
        if integral && digits_len <= 16 {
            // Fast path: a short integer is canonical unless it is beyond 2^53 or "-0".
            let magnitude: u64 = token.trim_start_matches('-').parse().unwrap_or(u64::MAX);
            if magnitude <= MAX_EXACT_INTEGER && !(negative && magnitude == 0) {
                return Ok(token);
            }
        }
        let double: f64 = token.parse().map_err(|_| self.error("malformed number"))?;
        match format_f64(double) {
            Ok(printed) if printed.as_bytes() == token.as_bytes() => Ok(token),
            _ => Err(AuditError::NotCanonical { offset: start, reason: "number not in ECMAScript form" }),
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}

/// How many leading bytes of `bytes` need no attention inside a string (not `"`, `\` or a
/// control character), eight at a time: the verifier spends most of its scanning time here.
pub(super) fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte of `x` is zero, or (for `below`) less than n: the classic SWAR tests, exact
    // for the lowest flagged byte, which is all that is needed here.
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut run = 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let special = has_zero(word ^ (ONES * u64::from(b'"')))
            | has_zero(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
        if special != 0 {
            return run + (special.trailing_zeros() / 8) as usize;
        }
        run += 8;
    }
    run + chunks.remainder().iter().take_while(|&&b| b != b'"' && b != b'\\' && b >= 0x20).count()
}

/// The serde_json number for a canonical number token: integers as integers where they fit.
fn number_value(token: &str) -> Option<Number> {
    let integral = !token.contains(['.', 'e']);
    if integral {
        if token.starts_with('-') {
            if let Ok(signed) = token.parse::<i64>() {
                return Some(Number::from(signed));
            }
        } else if let Ok(unsigned) = token.parse::<u64>() {
            return Some(Number::from(unsigned));
        }
    }
    Number::from_f64(token.parse::<f64>().ok()?)
}
