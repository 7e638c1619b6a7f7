//! The worker's loop: slots, continuous batching and prompt-prefix reuse.

use std::sync::mpsc::{Receiver, TryRecvError};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use super::{FinishKind, GenerationEvent, Job, StopScanner};

/// One sequence of the KV cache and the generation using it, if any.
struct Slot {
    seq: i32,
    /// The tokens whose keys and values are in this sequence's cache, in position order.
    cached: Vec<LlamaToken>,
    /// When the slot last finished a generation (a step count), to prefer the coldest slot.
    released_at: u64,
    active: Option<Generation>,
}

/// A generation in progress.
struct Generation {
    job: Job,
    /// Prompt tokens found in the cache when the generation was admitted.
    reused: usize,
    /// The first prompt token not yet decoded; `job.tokens.len()` once the prompt is read.
    next_prompt: usize,
    /// A sampled token waiting to be decoded in the next step.
    next_token: Option<LlamaToken>,
    /// Prompt tokens placed in the batch being decoded.
    prompt_in_batch: usize,
    /// Where this generation's logits are in the batch just decoded.
    logits_at: Option<i32>,
    generated: usize,
    stops: StopScanner,
    /// Bytes of a UTF-8 character split across tokens.
    partial_utf8: Vec<u8>,
}

enum Outcome {
    Continue(LlamaToken),
    Finished(FinishKind),
}

/// Serves jobs until every sender is gone.
pub(super) fn run(
    model: &LlamaModel,
    mut context: LlamaContext<'_>,
    slot_count: usize,
    batch_tokens: usize,
    jobs: Receiver<Job>,
) {
    let mut slots: Vec<Slot> = (0..slot_count)
        .map(|index| Slot { seq: index as i32, cached: Vec::new(), released_at: 0, active: None })
        .collect();
    let mut batch = LlamaBatch::new(batch_tokens, 1);
    let mut step: u64 = 0;
    loop {
        step += 1;
        if !admit(&mut slots, &mut context, &jobs) {
            return;
        }
        cancel_abandoned(&mut slots, step);
        let participants = fill_batch(&mut slots, &mut batch, batch_tokens);
        if participants.is_empty() {
            continue;
        }
        if let Err(error) = context.decode(&mut batch) {
            for &index in &participants {
                let slot = &mut slots[index];
                if let Some(generation) = slot.active.take() {
                    let message = format!("decoding failed: {error}");
                    let _ = generation.job.events.send(GenerationEvent::Failed { message });
                }
                forget(slot, &mut context);
                slot.released_at = step;
            }
            continue;
        }
        for &index in &participants {
            commit_decoded(&mut slots[index]);
        }
        for slot in &mut slots {
            sample(model, &context, slot, step);
        }
    }
}

/// Moves queued jobs into idle slots; blocks when nothing is running. False once the model
/// is dropped and nothing is left to do.
fn admit(slots: &mut [Slot], context: &mut LlamaContext<'_>, jobs: &Receiver<Job>) -> bool {
    loop {
        let busy = slots.iter().any(|slot| slot.active.is_some());
        if slots.iter().all(|slot| slot.active.is_some()) {
            return true;
        }
        let job = if busy {
            match jobs.try_recv() {
                Ok(job) => job,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return true,
            }
        } else {
            match jobs.recv() {
                Ok(job) => job,
                Err(_) => return false,
            }
        };
        if job.events.is_closed() {
            continue; // the caller left while it waited
        }
        let Some(index) = best_slot(slots, &job.tokens) else { return true };
        start(&mut slots[index], context, job);
    }
}

/// The idle slot whose cache shares the longest prefix with `tokens`; the coldest on a tie.
fn best_slot(slots: &[Slot], tokens: &[LlamaToken]) -> Option<usize> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| slot.active.is_none())
        .max_by_key(|(_, slot)| (common_prefix(&slot.cached, tokens), std::cmp::Reverse(slot.released_at)))
        .map(|(index, _)| index)
}

fn common_prefix(cached: &[LlamaToken], tokens: &[LlamaToken]) -> usize {
    cached.iter().zip(tokens).take_while(|(a, b)| a == b).count()
}

/// Puts a job in a slot, keeping the cached prefix it shares (at least one prompt token is
/// always decoded, for the logits of the first answer token).
fn start(slot: &mut Slot, context: &mut LlamaContext<'_>, job: Job) {
    let mut keep = common_prefix(&slot.cached, &job.tokens).min(job.tokens.len().saturating_sub(1));
    // A cache that lost its early positions (sliding-window layers) cannot be extended.
    if keep > 0 && context.kv_cache_seq_pos_min(slot.seq) > 0 {
        keep = 0;
    }
    let trimmed = u32::try_from(keep).ok().and_then(|keep| context.kv_cache_seq_rm(slot.seq, Some(keep), None).ok());
    if trimmed.is_none() {
        keep = 0;
        forget(slot, context);
    }
    slot.cached.truncate(keep);
    let stops = StopScanner::new(&job.stop);
    slot.active = Some(Generation {
        job,
        reused: keep,
        next_prompt: keep,
        next_token: None,
        prompt_in_batch: 0,
        logits_at: None,
        generated: 0,
        stops,
        partial_utf8: Vec::new(),
    });
}

/// Empties a slot's cache.
fn forget(slot: &mut Slot, context: &mut LlamaContext<'_>) {
    // Removing a whole sequence cannot fail.
    let _ = context.kv_cache_seq_rm(slot.seq, None, None);
    slot.cached.clear();
}

/// Frees the slots of callers that went away, within one step of their leaving.
fn cancel_abandoned(slots: &mut [Slot], step: u64) {
    for slot in slots {
        if slot.active.as_ref().is_some_and(|generation| generation.job.events.is_closed()) {
            slot.active = None;
            slot.released_at = step;
        }
    }
}

/// One token for each generating sequence, then prompt chunks up to the batch size. Returns
/// the slots in the batch.
fn fill_batch(slots: &mut [Slot], batch: &mut LlamaBatch<'_>, batch_tokens: usize) -> Vec<usize> {
    batch.clear();
    let mut participants = Vec::new();
    for (index, slot) in slots.iter_mut().enumerate() {
        let position = slot.cached.len() as i32;
        let Some(generation) = slot.active.as_mut() else { continue };
        generation.logits_at = None;
        if let Some(token) = generation.next_token
            && batch.add(token, position, &[slot.seq], true).is_ok()
        {
            generation.logits_at = Some(batch.n_tokens() - 1);
            participants.push(index);
        }
    }
    for (index, slot) in slots.iter_mut().enumerate() {
        let Some(generation) = slot.active.as_mut() else { continue };
        let room = batch_tokens.saturating_sub(batch.n_tokens() as usize);
        let remaining = generation.job.tokens.len() - generation.next_prompt;
        if generation.next_token.is_some() || remaining == 0 || room == 0 {
            continue;
        }
        let take = remaining.min(room);
        let start = generation.next_prompt;
        for (offset, token) in generation.job.tokens[start..start + take].iter().enumerate() {
            let position = (start + offset) as i32;
            let last_of_prompt = start + offset + 1 == generation.job.tokens.len();
            if batch.add(*token, position, &[slot.seq], last_of_prompt).is_err() {
                break;
            }
            generation.prompt_in_batch += 1;
            if last_of_prompt {
                generation.logits_at = Some(batch.n_tokens() - 1);
            }
        }
        if generation.prompt_in_batch > 0 {
            participants.push(index);
        }
    }
    participants
}

/// Records what the step put in the slot's cache.
fn commit_decoded(slot: &mut Slot) {
    let Some(generation) = slot.active.as_mut() else { return };
    if let Some(token) = generation.next_token.take() {
        slot.cached.push(token);
    }
    let start = generation.next_prompt;
    let end = start + std::mem::take(&mut generation.prompt_in_batch);
    slot.cached.extend_from_slice(&generation.job.tokens[start..end]);
    generation.next_prompt = end;
}

/// Samples the next token of every slot that has logits in this step, and streams its text.
fn sample(model: &LlamaModel, context: &LlamaContext<'_>, slot: &mut Slot, step: u64) {
    let Some(generation) = slot.active.as_mut() else { return };
    let Some(at) = generation.logits_at.take() else { return };
    let token = generation.job.sampler.sample(context, at);
    match next(model, generation, token) {
        Outcome::Continue(token) => generation.next_token = Some(token),
        Outcome::Finished(finish) => {
            let Some(mut generation) = slot.active.take() else { return };
            let rest = generation.stops.finish();
            if !rest.is_empty() {
                let _ = generation.job.events.send(GenerationEvent::Text(rest));
            }
            let _ = generation.job.events.send(GenerationEvent::Finished {
                prompt_tokens: generation.job.tokens.len() as u64,
                cached_tokens: generation.reused as u64,
                completion_tokens: generation.generated as u64,
                finish,
            });
            slot.released_at = step;
        }
    }
}

/// What a sampled token means: the end, or text to stream and a token to decode.
fn next(model: &LlamaModel, generation: &mut Generation, token: LlamaToken) -> Outcome {
    let vocab = model.vocab();
    if vocab.is_eog(token) {
        return Outcome::Finished(FinishKind::Stop);
    }
    generation.generated += 1;
    generation.partial_utf8.extend(vocab.token_to_piece(token, false, None));
    let piece = take_complete_utf8(&mut generation.partial_utf8);
    let (ready, stopped) = generation.stops.push(&piece);
    if !ready.is_empty() {
        let _ = generation.job.events.send(GenerationEvent::Text(ready));
    }
    if stopped {
        Outcome::Finished(FinishKind::Stop)
    } else if generation.generated >= generation.job.limit {
        Outcome::Finished(FinishKind::Length)
    } else {
        Outcome::Continue(token)
    }
}

/// The text in `bytes` up to a character that is still incomplete (a token may end inside
/// one); bytes that can never be UTF-8 become U+FFFD instead of holding back all that follows.
fn take_complete_utf8(bytes: &mut Vec<u8>) -> String {
    let complete = match std::str::from_utf8(bytes) {
        Ok(text) => text.len(),
        Err(error) => error.valid_up_to() + error.error_len().unwrap_or(0),
    };
    let text = String::from_utf8_lossy(&bytes[..complete]).into_owned();
    bytes.drain(..complete);
    text
}

#[cfg(test)]
mod tests {
    use super::take_complete_utf8;

    #[test]
    fn split_characters_wait_for_their_last_byte_and_invalid_bytes_do_not_block() {
        let euro = "€".as_bytes();
        let mut bytes = vec![b'a', euro[0], euro[1]];
        assert_eq!(take_complete_utf8(&mut bytes), "a");
        bytes.push(euro[2]);
        assert_eq!(take_complete_utf8(&mut bytes), "€");
        assert!(bytes.is_empty());
        let mut bytes = vec![b'x', 0xFF, b'y'];
        assert_eq!(take_complete_utf8(&mut bytes), "x\u{FFFD}");
        assert_eq!(take_complete_utf8(&mut bytes), "y");
    }
}
