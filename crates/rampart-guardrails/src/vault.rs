//! The per-request vault: typed placeholders for redacted values, so an answer can be
//! re-hydrated for the caller while the model only ever saw `[EMAIL_1]`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Placeholders are `[` + upper-case entity + `_` + number + `]`; none is longer than this.
const MAX_PLACEHOLDER_BYTES: usize = 48;

#[derive(Clone, Default)]
pub struct Vault {
    /// placeholder → original
    originals: HashMap<String, String>,
    /// (entity, original) → placeholder
    placeholders: HashMap<(String, String), String>,
    /// last number used per entity
    counters: HashMap<String, u32>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the originals: a vault in a log line would undo the redaction.
        f.debug_struct("Vault").field("placeholders", &self.originals.len()).finish()
    }
}

impl Vault {
    /// The same (entity, original) always gets the same placeholder within one vault.
    pub fn placeholder_for(&mut self, entity: &str, original: &str) -> String {
        let key = (entity.to_owned(), original.to_owned());
        if let Some(existing) = self.placeholders.get(&key) {
            return existing.clone();
        }
        let counter = self.counters.entry(entity.to_owned()).or_insert(0);
        *counter += 1;
        let placeholder = format!("[{}_{}]", entity.to_ascii_uppercase(), counter);
        self.originals.insert(placeholder.clone(), original.to_owned());
        self.placeholders.insert(key, placeholder.clone());
        placeholder
    }

    pub fn is_empty(&self) -> bool {
        self.originals.is_empty()
    }

    pub fn len(&self) -> usize {
        self.originals.len()
    }

    /// Every placeholder in `text` replaced by its original.
    pub fn rehydrate<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.is_empty() || !text.contains('[') {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut changed = false;
        while let Some(open) = rest.find('[') {
            out.push_str(&rest[..open]);
            let candidate = &rest[open..];
            match candidate
                .find(']')
                .map(|close| &candidate[..=close])
                .and_then(|tag| self.originals.get(tag).map(|original| (tag, original)))
            {
                Some((tag, original)) => {
                    out.push_str(original);
                    rest = &candidate[tag.len()..];
                    changed = true;
                }
                None => {
                    out.push('[');
                    rest = &candidate[1..];
                }
            }
        }
        out.push_str(rest);
        if changed { Cow::Owned(out) } else { Cow::Borrowed(text) }
    }
}

/// Streamed re-hydration: a placeholder split across chunks (`[EMA` + `IL_1]`) is still
/// replaced; only a possible placeholder prefix at the end of what arrived is held back.
pub struct Rehydrator {
    vault: Arc<Vault>,
    pending: String,
}

impl Rehydrator {
    pub fn new(vault: Arc<Vault>) -> Self {
        Rehydrator { vault, pending: String::new() }
    }

    pub fn push(&mut self, chunk: &str) -> String {
        if self.vault.is_empty() {
            return chunk.to_owned();
        }
        self.pending.push_str(chunk);
        let hold_from = self.possible_placeholder_start();
        let ready: String = self.pending.drain(..hold_from).collect();
        self.vault.rehydrate(&ready).into_owned()
    }

    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        self.vault.rehydrate(&rest).into_owned()
    }

    /// Where an unfinished placeholder may begin: the last `[` with no `]` after it, when what
    /// follows could still become a placeholder.
    fn possible_placeholder_start(&self) -> usize {
        let Some(open) = self.pending.rfind('[') else { return self.pending.len() };
        let tail = &self.pending[open + 1..];
        let could_be = tail.len() < MAX_PLACEHOLDER_BYTES
            && !tail.contains(']')
            && tail.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if could_be { open } else { self.pending.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_stable_typed_and_round_trip() {
        let mut vault = Vault::default();
        let first = vault.placeholder_for("email", "a@example.com");
        let second = vault.placeholder_for("email", "b@example.com");
        assert_eq!((first.as_str(), second.as_str()), ("[EMAIL_1]", "[EMAIL_2]"));
        assert_eq!(vault.placeholder_for("email", "a@example.com"), "[EMAIL_1]");
        assert_eq!(
            vault.rehydrate("to [EMAIL_2] and [EMAIL_1], not [EMAIL_3] or [x"),
            "to b@example.com and a@example.com, not [EMAIL_3] or [x"
        );
        assert!(!format!("{vault:?}").contains("example.com"));
    }

    #[test]
    fn a_placeholder_split_at_every_position_is_rehydrated() {
        let mut vault = Vault::default();
        let tag = vault.placeholder_for("credit_card", "4111 1111 1111 1111");
        let vault = Arc::new(vault);
        let text = format!("card {tag} ok [not a tag] and [CREDIT");
        for split in 1..text.len() {
            let mut rehydrator = Rehydrator::new(vault.clone());
            let mut out = rehydrator.push(&text[..split]);
            out.push_str(&rehydrator.push(&text[split..]));
            out.push_str(&rehydrator.finish());
            assert_eq!(out, "card 4111 1111 1111 1111 ok [not a tag] and [CREDIT", "split at {split}");
        }
    }
}
