//! Token counting before a request is sent: how many tokens a prompt will take, for context
//! window checks, rate limits and budget reservations.
//!
//! Remote models are counted with OpenAI's BPE encodings (`o200k_base` for the GPT-4o, GPT-4.1,
//! GPT-5 and o-series families, `cl100k_base` for everything else), which is exact for OpenAI
//! models and an estimate for others; an embedded model counts with its own tokenizer through
//! `rampart_core::Backend::count_prompt_tokens`. Chat prompts add OpenAI's per-message framing
//! (3 tokens a message, 1 for a `name`, 3 to prime the reply); tool definitions are counted as
//! their JSON, an estimate of how providers render them; an image counts 85 tokens at
//! `detail: low` and 765 otherwise (one 512-pixel tile's worth plus the base).

use rampart_types::{ChatCompletionRequest, ChatMessage, ContentPart, EmbeddingInput, MessageContent};
use tiktoken_rs::CoreBPE;

/// Tokens OpenAI adds around every chat message.
const TOKENS_PER_MESSAGE: u64 = 3;
/// Extra tokens for a message's `name`.
const TOKENS_PER_NAME: u64 = 1;
/// Tokens that open the assistant's reply.
const REPLY_PRIMING_TOKENS: u64 = 3;
const IMAGE_LOW_DETAIL_TOKENS: u64 = 85;
const IMAGE_TOKENS: u64 = 765;

/// An OpenAI BPE encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GPT-4o, GPT-4.1, GPT-5, o1/o3/o4.
    O200kBase,
    /// GPT-4, GPT-3.5, `text-embedding-3-*`, and the estimate for every non-OpenAI model.
    Cl100kBase,
}

impl Encoding {
    /// The encoding OpenAI uses for `model` (as the upstream knows it); `cl100k_base` for a
    /// model it does not recognise.
    pub fn for_model(model: &str) -> Encoding {
        let model = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
        let o200k = ["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "o1", "o3", "o4", "gpt-oss"];
        if o200k.iter().any(|prefix| model.starts_with(prefix)) { Encoding::O200kBase } else { Encoding::Cl100kBase }
    }

    /// Whether this encoding is the model's own (the count is exact) or an estimate.
    pub fn is_exact_for(self, model: &str) -> bool {
        let model = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
        let openai = ["gpt-", "chatgpt-", "o1", "o3", "o4", "text-embedding-"];
        openai.iter().any(|prefix| model.starts_with(prefix)) && Encoding::for_model(&model) == self
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }

    fn bpe(self) -> &'static CoreBPE {
        match self {
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        }
    }

    /// Loads the encoding's tables now (about a tenth of a second), so the first request
    /// that needs them does not wait.
    pub fn preload(self) {
        let _ = self.bpe();
    }

    /// Tokens in `text`, special-token markers counted as plain text (as a client's text is).
    pub fn count_text(self, text: &str) -> u64 {
        if text.is_empty() {
            return 0;
        }
        self.bpe().encode_ordinary(text).len() as u64
    }

    /// The text of pre-tokenised input, for screening it: `None` when an id is not in the
    /// encoding. Bytes that are not UTF-8 on their own (a character split across the end of
    /// the array) read as U+FFFD.
    pub fn decode(self, tokens: &[u32]) -> Option<String> {
        let bytes = self.bpe().decode_bytes(tokens).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The ids of `text`, special-token markers encoded as plain text (as a client's text is).
    pub fn encode(self, text: &str) -> Vec<u32> {
        self.bpe().encode_ordinary(text)
    }

    /// The tokens a chat request's prompt takes: messages with their framing, and tools.
    pub fn count_chat(self, request: &ChatCompletionRequest) -> u64 {
        let mut total = REPLY_PRIMING_TOKENS;
        for message in &request.messages {
            total += self.count_message(message);
        }
        for tool in request.tools.iter().flatten() {
            let definition = serde_json::to_string(&tool.function).unwrap_or_default();
            total += self.count_text(&definition) + TOKENS_PER_MESSAGE;
        }
        if let Some(format) = &request.response_format {
            total += self.count_text(&serde_json::to_string(format).unwrap_or_default());
        }
        total
    }

    fn count_message(self, message: &ChatMessage) -> u64 {
        let mut total = TOKENS_PER_MESSAGE;
        match &message.content {
            Some(MessageContent::Text(text)) => total += self.count_text(text),
            Some(MessageContent::Parts(parts)) => {
                for part in parts {
                    total += match part {
                        ContentPart::Text { text } => self.count_text(text),
                        ContentPart::Refusal { refusal } => self.count_text(refusal),
                        ContentPart::ImageUrl { image_url } if image_url.detail.as_deref() == Some("low") => {
                            IMAGE_LOW_DETAIL_TOKENS
                        }
                        ContentPart::ImageUrl { .. } => IMAGE_TOKENS,
                        ContentPart::InputAudio { input_audio: value } | ContentPart::File { file: value } => {
                            self.count_text(&value.to_string())
                        }
                    };
                }
            }
            None => {}
        }
        if let Some(name) = &message.name {
            total += TOKENS_PER_NAME + self.count_text(name);
        }
        for call in message.tool_calls.iter().flatten() {
            total += self.count_text(&call.function.name) + self.count_text(&call.function.arguments);
        }
        if let Some(refusal) = &message.refusal {
            total += self.count_text(refusal);
        }
        total
    }

    /// The tokens of an embeddings request's inputs (pre-tokenised inputs count as they are).
    pub fn count_embedding_input(self, input: &EmbeddingInput) -> u64 {
        match input {
            EmbeddingInput::Text(text) => self.count_text(text),
            EmbeddingInput::Texts(texts) => texts.iter().map(|text| self.count_text(text)).sum(),
            EmbeddingInput::Tokens(tokens) => tokens.len() as u64,
            EmbeddingInput::TokenBatches(batches) => batches.iter().map(|batch| batch.len() as u64).sum(),
        }
    }
}

/// Loads `encodings` on a background thread, so the first request that needs one does not
/// wait. Each costs tens of megabytes of memory, so only what the configuration can use
/// should be asked for; anything else still loads on first use.
pub fn preload_in_background(encodings: Vec<Encoding>) {
    if encodings.is_empty() {
        return;
    }
    let _ = std::thread::Builder::new().name("rampart-tokens".to_owned()).spawn(move || {
        for encoding in encodings {
            encoding.preload();
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rampart_types::Role;

    #[test]
    fn counts_match_openai_reference_values() {
        // Reference counts from OpenAI's tiktoken for the same strings.
        assert_eq!(Encoding::Cl100kBase.count_text("hello world"), 2);
        assert_eq!(Encoding::O200kBase.count_text("hello world"), 2);
        assert_eq!(Encoding::Cl100kBase.count_text("tiktoken is great!"), 6);
        assert_eq!(Encoding::Cl100kBase.count_text(""), 0);
        // Special-token text from a client is plain text, not a control token.
        assert!(Encoding::Cl100kBase.count_text("<|endoftext|>") > 1);
    }

    #[test]
    fn token_ids_read_back_as_the_text_they_encode() {
        let text = "Mail jane.doe@example.com the résumé";
        for encoding in [Encoding::Cl100kBase, Encoding::O200kBase] {
            let ids = encoding.encode(text);
            assert_eq!(encoding.decode(&ids).as_deref(), Some(text));
        }
        // Reference ids from OpenAI's tiktoken: "hello world" in cl100k_base.
        assert_eq!(Encoding::Cl100kBase.decode(&[15339, 1917]).as_deref(), Some("hello world"));
        assert_eq!(Encoding::Cl100kBase.decode(&[u32::MAX]), None);
    }

    #[test]
    fn chat_prompts_count_framing_like_the_openai_cookbook() {
        // The cookbook's example conversation counts 129 prompt tokens on gpt-4o family
        // models; here a small one whose parts are easy to add up by hand.
        let request = ChatCompletionRequest::from_json(serde_json::json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "hello world"},
                {"role": "user", "content": "hello world", "name": "ann"},
            ]
        }))
        .unwrap();
        let expected = REPLY_PRIMING_TOKENS + 2 * (TOKENS_PER_MESSAGE + 2) + TOKENS_PER_NAME + 1;
        assert_eq!(Encoding::O200kBase.count_chat(&request), expected);
        let message = ChatMessage::text(Role::User, "hello world");
        assert_eq!(Encoding::O200kBase.count_message(&message), TOKENS_PER_MESSAGE + 2);
    }

    #[test]
    fn models_map_to_their_encodings() {
        assert_eq!(Encoding::for_model("gpt-4o-mini"), Encoding::O200kBase);
        assert_eq!(Encoding::for_model("openai/gpt-5"), Encoding::O200kBase);
        assert_eq!(Encoding::for_model("o3-mini"), Encoding::O200kBase);
        assert_eq!(Encoding::for_model("gpt-4-turbo"), Encoding::Cl100kBase);
        assert_eq!(Encoding::for_model("Qwen/Qwen3-8B"), Encoding::Cl100kBase);
        assert!(Encoding::O200kBase.is_exact_for("gpt-4o"));
        assert!(Encoding::Cl100kBase.is_exact_for("text-embedding-3-small"));
        assert!(!Encoding::Cl100kBase.is_exact_for("claude-sonnet-4"));
        assert!(!Encoding::Cl100kBase.is_exact_for("Qwen/Qwen3-8B"));
    }

    #[test]
    fn embedding_inputs_count_per_input() {
        let texts = EmbeddingInput::Texts(vec!["hello world".into(), "hello world".into()]);
        assert_eq!(Encoding::Cl100kBase.count_embedding_input(&texts), 4);
        assert_eq!(Encoding::Cl100kBase.count_embedding_input(&EmbeddingInput::Tokens(vec![1, 2, 3])), 3);
    }
}
