//! Cache keys: the SHA-256 of everything in a request that can change its answer.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use rampart_types::{ChatCompletionRequest, Tool};
use sha2::{Digest, Sha256};

/// Bumped whenever what goes into a chat key changes, so that keys made by an older Rampart
/// never match (a miss, never a wrong hit) in a cache shared across versions.
const CHAT_KEY_VERSION: &str = "rampart-chat-v1";

/// Fields forwarded upstream (in `extra`) that say who asks or how the answer is delivered,
/// not what it is: `metadata` (labels, Rampart's routing hints), `safety_identifier` (OpenAI's
/// successor to `user`) and `prompt_cache_key` (a routing hint for the upstream's prompt cache).
const EXTRA_FIELDS_NOT_KEYED: &[&str] = &["metadata", "safety_identifier", "prompt_cache_key"];

/// A cache key: 64 lowercase hex digits of a SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key of arbitrary bytes, for callers that cache something other than chat answers.
    pub fn digest(material: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(material)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_hasher(hasher: Sha256) -> Self {
        Self(hex::encode(hasher.finalize()))
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The key of a chat completion answered by `model`, the configured model the request resolved
/// to (the request's own `model` field, which may be an alias, is not part of the key).
///
/// The key covers every field that can change the answer: `messages`, `tools` (in name order,
/// as [`sort_tools`] leaves them, so the order a client lists them in does not matter),
/// `tool_choice`, `parallel_tool_calls`, `response_format`, `temperature`, `top_p`, `n`, `stop`,
/// `seed`, `max_tokens`, `max_completion_tokens`, `presence_penalty`, `frequency_penalty` and
/// the unknown parameters in `extra`. It leaves out what only says who asks or how the answer
/// is delivered: `stream`, `stream_options`, `user`, and `metadata`, `safety_identifier` and
/// `prompt_cache_key` in `extra`.
///
/// The material hashed is JSON with object keys in sorted order (serde_json's `Map` is a
/// `BTreeMap` in this workspace), so the order of keys in the client's JSON does not matter;
/// a field that is absent and one that is `null` give the same key. Keys are stable within one
/// Rampart version; an upgrade may change them, which only costs misses.
pub fn chat_cache_key(model: &str, request: &ChatCompletionRequest) -> CacheKey {
    let mut hasher = Sha256::new();
    match write_chat_material(&mut hasher, model, request) {
        Ok(()) => CacheKey::from_hasher(hasher),
        Err(error) => {
            // Unreachable with today's types (every map has string keys, and hashing cannot fail
            // to write), but a half-written material could collide with another request's, so
            // the request gets a key no other request can have: a miss, never a wrong answer.
            tracing::warn!(%error, "a chat request could not be serialised for its cache key; it will miss the cache");
            static UNKEYABLE: AtomicU64 = AtomicU64::new(0);
            let mut hasher = Sha256::new();
            hasher.update(b"rampart-unkeyable\0");
            hasher.update(std::process::id().to_le_bytes());
            hasher.update(UNKEYABLE.fetch_add(1, Ordering::Relaxed).to_le_bytes());
            hasher.update(format!("{:?}", std::time::SystemTime::now()).as_bytes());
            CacheKey::from_hasher(hasher)
        }
    }
}

/// Writes one JSON object, its keys in sorted order, to `out`.
fn write_chat_material(
    out: &mut Sha256,
    model: &str,
    request: &ChatCompletionRequest,
) -> Result<(), serde_json::Error> {
    // Every field by name, with no `..`: a field added to the request does not compile here
    // until it is either keyed or left out on purpose.
    let ChatCompletionRequest {
        model: _, // An alias of `model`, which is keyed instead.
        messages,
        stream: _,
        stream_options: _,
        max_tokens,
        max_completion_tokens,
        temperature,
        top_p,
        n,
        stop,
        seed,
        user: _,
        presence_penalty,
        frequency_penalty,
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        extra,
    } = request;
    let mut tools: Option<Vec<&Tool>> = tools.as_ref().map(|tools| tools.iter().collect());
    if let Some(tools) = &mut tools {
        tools.sort_by(|left, right| left.function.name.cmp(&right.function.name));
    }
    let extra: BTreeMap<&str, &serde_json::Value> = extra
        .iter()
        .map(|(name, value)| (name.as_str(), value))
        .filter(|(name, _)| !EXTRA_FIELDS_NOT_KEYED.contains(name))
        .collect();

    let mut object = JsonObject::new(out)?;
    // In sorted order, as a `BTreeMap` would write them.
    serde_json::to_writer(object.key("extra")?, &extra)?;
    serde_json::to_writer(object.key("frequency_penalty")?, frequency_penalty)?;
    serde_json::to_writer(object.key("key_version")?, CHAT_KEY_VERSION)?;
    serde_json::to_writer(object.key("max_completion_tokens")?, max_completion_tokens)?;
    serde_json::to_writer(object.key("max_tokens")?, max_tokens)?;
    serde_json::to_writer(object.key("messages")?, messages)?;
    serde_json::to_writer(object.key("model")?, model)?;
    serde_json::to_writer(object.key("n")?, n)?;
    serde_json::to_writer(object.key("parallel_tool_calls")?, parallel_tool_calls)?;
    serde_json::to_writer(object.key("presence_penalty")?, presence_penalty)?;
    serde_json::to_writer(object.key("response_format")?, response_format)?;
    serde_json::to_writer(object.key("seed")?, seed)?;
    serde_json::to_writer(object.key("stop")?, stop)?;
    serde_json::to_writer(object.key("temperature")?, temperature)?;
    serde_json::to_writer(object.key("tool_choice")?, tool_choice)?;
    serde_json::to_writer(object.key("tools")?, &tools)?;
    serde_json::to_writer(object.key("top_p")?, top_p)?;
    object.finish()
}

/// A JSON object written key by key straight into the hasher, so the request is never copied.
struct JsonObject<'a> {
    out: &'a mut Sha256,
    first: bool,
}

impl<'a> JsonObject<'a> {
    fn new(out: &'a mut Sha256) -> Result<Self, serde_json::Error> {
        out.write_all(b"{").map_err(serde_json::Error::io)?;
        Ok(Self { out, first: true })
    }

    /// Writes the separator and `"name":`, and hands back the writer for the value.
    fn key(&mut self, name: &str) -> Result<&mut Sha256, serde_json::Error> {
        if !self.first {
            self.out.write_all(b",").map_err(serde_json::Error::io)?;
        }
        self.first = false;
        serde_json::to_writer(&mut *self.out, name)?;
        self.out.write_all(b":").map_err(serde_json::Error::io)?;
        Ok(&mut *self.out)
    }

    fn finish(self) -> Result<(), serde_json::Error> {
        self.out.write_all(b"}").map_err(serde_json::Error::io)
    }
}

/// Orders `tools` by function name, keeping the client's order among tools of the same name, so
/// that the tool list is the same however a client lists it: for the cache key, and for the
/// prompt caches of upstream providers, which only reuse an identical prefix.
pub fn sort_tools(request: &mut ChatCompletionRequest) {
    if let Some(tools) = &mut request.tools {
        tools.sort_by(|left, right| left.function.name.cmp(&right.function.name));
    }
}
