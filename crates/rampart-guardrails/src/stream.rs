//! Screening a streamed answer without buffering it: text goes out as soon as no entity can
//! still be forming in it.
//!
//! What is held back: the trailing word (an email, key or token grows only until whitespace)
//! and the last `WINDOW_BYTES` (entities with spaces in them: card numbers, IBANs in groups,
//! phone numbers, street addresses). A finding that straddles the cut moves the cut to its
//! start. The last `CONTEXT_BYTES` already sent are kept as context for detectors that look
//! for a word before a number ("SSN", "born on").

use std::sync::Arc;

use crate::engine::{Guardrails, Hit};
use crate::kinds::Stage;
use crate::vault::Vault;

/// Held back for entities that contain spaces.
pub(crate) const WINDOW_BYTES: usize = 96;
/// A trailing word longer than this is let go (a base64 blob would otherwise hold the stream).
const MAX_WORD_BYTES: usize = 4096;
/// Already-sent text kept for context words.
const CONTEXT_BYTES: usize = 64;

pub struct StreamGuard {
    guardrails: Arc<Guardrails>,
    stage: Stage,
    switched_on: Vec<String>,
    context: String,
    pending: String,
    blocked: bool,
}

/// What may be sent now.
#[derive(Debug, Default)]
pub struct StreamStep {
    pub emit: String,
    pub hits: Vec<Hit>,
    /// A block rule fired: send nothing more of this answer.
    pub blocked: Option<Hit>,
}

impl StreamGuard {
    pub fn new(guardrails: Arc<Guardrails>, stage: Stage, switched_on: Vec<String>) -> Self {
        StreamGuard { guardrails, stage, switched_on, context: String::new(), pending: String::new(), blocked: false }
    }

    /// Bytes received and not yet released.
    pub fn held_back(&self) -> usize {
        self.pending.len()
    }

    pub fn push(&mut self, chunk: &str, vault: &mut Vault) -> StreamStep {
        if self.blocked {
            return StreamStep::default();
        }
        self.pending.push_str(chunk);
        let cut = self.safe_cut();
        self.release(cut, vault)
    }

    /// Releases everything held back: the answer ended.
    pub fn finish(&mut self, vault: &mut Vault) -> StreamStep {
        if self.blocked {
            return StreamStep::default();
        }
        let all = self.pending.len();
        self.release(all, vault)
    }

    fn safe_cut(&self) -> usize {
        let len = self.pending.len();
        let mut cut = floor_boundary(&self.pending, len.saturating_sub(WINDOW_BYTES));
        let word_start = self
            .pending
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(index, c)| index + c.len_utf8());
        if len - word_start <= MAX_WORD_BYTES {
            cut = cut.min(word_start);
        }
        cut
    }

    fn release(&mut self, cut: usize, vault: &mut Vault) -> StreamStep {
        let offset = self.context.len();
        let scan = format!("{}{}", self.context, self.pending);
        let finishing = cut == self.pending.len();
        let mut cut = offset + cut;
        if !finishing {
            // A finding across the cut waits whole for the next chunk.
            for finding in self.guardrails.detect_active(self.stage, &scan, &self.switched_on) {
                if finding.start >= offset && finding.start < cut && finding.end > cut {
                    cut = finding.start;
                }
            }
        }
        if cut == offset {
            return StreamStep::default();
        }
        let released = &scan[..cut];
        let checked = self.guardrails.check_from(self.stage, released, offset, &self.switched_on, vault);
        let step = if let Some(hit) = checked.blocked.clone() {
            self.blocked = true;
            self.pending.clear();
            StreamStep { emit: String::new(), hits: checked.hits, blocked: Some(hit) }
        } else {
            let emit = checked.text(released)[offset..].to_owned();
            StreamStep { emit, hits: checked.hits, blocked: None }
        };
        if !self.blocked {
            let tail_from = floor_boundary(released, released.len().saturating_sub(CONTEXT_BYTES));
            self.context = released[tail_from..].to_owned();
            self.pending = scan[cut..].to_owned();
        }
        step
    }
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}
