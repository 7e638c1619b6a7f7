//! The in-process GGUF chat model (the real Gemma 3 270M from the package index): answers,
//! streaming, stop sequences, limits, cancellation, parallel slots, prompt-prefix reuse, JSON
//! output by grammar, a full queue, and model files it must refuse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use futures_util::StreamExt;
use rampart_core::{Backend, BackendError};
use rampart_inference::{EmbeddedBackend, EmbeddedSettings};
use rampart_models::{GEMMA_3_270M, ModelStore, PipFetcher};
use rampart_types::{ChatCompletionRequest, FinishReason, Usage};
use serde_json::json;

fn gemma_path() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chat-models");
    ModelStore::new(&root).pull(&GEMMA_3_270M, &PipFetcher::default(), &mut |_| {}).expect("pull Gemma")
}

fn gemma(slots: u32, queue: usize) -> EmbeddedBackend {
    // One thread, as in CI.
    let settings = EmbeddedSettings { threads: 1, context_window: 512, slots, queue };
    EmbeddedBackend::load("local", &gemma_path(), settings).expect("load Gemma")
}

/// Text, finish reason and usage of a streamed answer.
async fn collect(mut stream: rampart_core::ChunkStream) -> (String, Option<FinishReason>, Option<Usage>) {
    let mut text = String::new();
    let mut finish = None;
    let mut usage = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if let Some(choice) = chunk.choices.first() {
            text.push_str(choice.delta.content.as_deref().unwrap_or(""));
            finish = finish.or(choice.finish_reason);
        }
        usage = usage.or(chunk.usage);
    }
    (text, finish, usage)
}

/// Greedy answers computed in different batch shapes (alone, alongside others, after a cached
/// prefix) go through different llama.cpp kernels whose rounding differs, so a near-tie late in
/// the answer may break another way, as in llama.cpp server. A sequence that read the wrong
/// cache or positions goes wrong from its first tokens: the answers must agree at the start.
fn assert_same_start(got: &str, want: &str, what: &str) {
    let agreed = got.chars().zip(want.chars()).take_while(|(a, b)| a == b).count();
    let needed = 12.min(want.chars().count()).min(got.chars().count());
    assert!(agreed >= needed && !got.is_empty(), "{what}: {got:?} does not start like {want:?}");
}

fn request(body: serde_json::Value) -> ChatCompletionRequest {
    ChatCompletionRequest::from_json(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_model_answers_streams_stops_and_refuses_what_it_cannot_do() {
    let model = gemma(2, 4);
    let ask = |extra: serde_json::Value| {
        let mut body = json!({"model": "gemma-3-270m", "messages": [{"role": "user", "content": "Name three colours."}], "temperature": 0, "max_tokens": 24});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        request(body)
    };

    // Greedy answers are deterministic, with exact usage.
    let first = model.chat(&ask(json!({}))).await.unwrap();
    let text = first.choices[0].message.content.clone().unwrap();
    assert!(!text.trim().is_empty(), "empty answer");
    let usage = first.usage.unwrap();
    assert!(usage.prompt_tokens > 5 && usage.completion_tokens > 0 && usage.completion_tokens <= 24, "{usage:?}");
    let again = model.chat(&ask(json!({}))).await.unwrap();
    assert_eq!(again.choices[0].message.content.as_deref(), Some(text.as_str()));

    // max_tokens is a hard limit and says so.
    let short = model.chat(&ask(json!({"max_tokens": 2}))).await.unwrap();
    assert_eq!(short.usage.unwrap().completion_tokens, 2);
    assert_eq!(short.choices[0].finish_reason, Some(FinishReason::Length));

    // Streaming yields the same text, then the finish reason and usage.
    let (streamed, finish, stream_usage) =
        collect(model.chat_stream(&ask(json!({"stream": true}))).await.unwrap()).await;
    assert_eq!(streamed, text);
    assert!(finish.is_some());
    let stream_usage = stream_usage.unwrap();
    assert_eq!(
        (stream_usage.prompt_tokens, stream_usage.completion_tokens),
        (usage.prompt_tokens, usage.completion_tokens)
    );

    // A stop sequence taken from the middle of the greedy answer cuts it there.
    let chars: Vec<char> = text.chars().collect();
    if chars.len() >= 6 {
        let start = chars.len() / 2;
        let stop: String = chars[start..start + 2].iter().collect();
        let cut = text.find(&stop).unwrap();
        let stopped = model.chat(&ask(json!({"stop": [stop]}))).await.unwrap();
        assert_eq!(stopped.choices[0].message.content.as_deref(), Some(&text[..cut]));
        assert_eq!(stopped.choices[0].finish_reason, Some(FinishReason::Stop));
    }

    // A client that goes away mid-stream frees the model for the next request.
    let mut long =
        model.chat_stream(&ask(json!({"stream": true, "max_tokens": 200, "temperature": 0.8}))).await.unwrap();
    let _ = long.next().await;
    let _ = long.next().await;
    drop(long);
    let after = model.chat(&ask(json!({"max_tokens": 3}))).await.unwrap();
    assert!(after.usage.unwrap().completion_tokens <= 3);

    // A prompt longer than the context window is refused as a bad request.
    let huge = "word ".repeat(2000);
    let error =
        model.chat(&request(json!({"model": "m", "messages": [{"role": "user", "content": huge}]}))).await.unwrap_err();
    assert!(matches!(&error, BackendError::Unsupported { what, .. } if what.contains("context window")), "{error}");

    // What the runtime cannot do yet is refused, naming the parameter.
    let tools = json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    let error = model.chat(&ask(json!({"tools": tools}))).await.unwrap_err();
    assert!(matches!(&error, BackendError::Unsupported { param: Some(param), .. } if param == "tools"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after() {
    let model = gemma(1, 1);
    let long = request(
        json!({"model": "m", "messages": [{"role": "user", "content": "Tell a long story."}], "max_tokens": 64, "stream": true}),
    );
    // The first generation occupies the only slot; the second waits in the one-place queue.
    let mut running = model.chat_stream(&long).await.unwrap();
    // The first chunk (the role) is made up front; the second comes from the worker.
    let _ = running.next().await;
    let _ = running.next().await;
    let _waiting = model.chat_stream(&long).await.unwrap();
    let error = model.chat_stream(&long).await.err().expect("the third request must be refused");
    assert!(matches!(error, BackendError::Upstream { status: 429, retry_after_secs: Some(_), .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_parallel_streams_decode_together_and_each_gets_its_own_answer() {
    let model = gemma(4, 4);
    let questions = ["Name a colour.", "Name a fruit.", "Name a city in France.", "Count from one to five."];
    let ask = |question: &str| {
        request(
            json!({"model": "m", "messages": [{"role": "user", "content": question}], "temperature": 0, "max_tokens": 24, "stream": true}),
        )
    };
    // Each question alone, for reference (greedy decoding is deterministic per sequence).
    let mut alone = Vec::new();
    for question in questions {
        alone.push(collect(model.chat_stream(&ask(question)).await.unwrap()).await);
    }
    // All four at once: every stream must have produced text before any of them finishes,
    // which only happens when they are decoded in the same steps.
    let mut streams = Vec::new();
    for question in questions {
        streams.push(model.chat_stream(&ask(question)).await.unwrap());
    }
    let mut texts = vec![String::new(); streams.len()];
    let mut started = vec![false; streams.len()];
    let mut finishes = vec![None; streams.len()];
    let mut usages = vec![None; streams.len()];
    let mut all_started_before_a_finish = None;
    let mut open: Vec<usize> = (0..streams.len()).collect();
    while !open.is_empty() {
        let mut still_open = Vec::new();
        for index in open {
            if let Some(chunk) = streams[index].next().await {
                let chunk = chunk.unwrap();
                if let Some(choice) = chunk.choices.first() {
                    let piece = choice.delta.content.as_deref().unwrap_or("");
                    started[index] |= !piece.is_empty();
                    texts[index].push_str(piece);
                    if choice.finish_reason.is_some() {
                        finishes[index] = choice.finish_reason;
                        all_started_before_a_finish.get_or_insert(started.iter().all(|s| *s));
                    }
                }
                usages[index] = usages[index].or(chunk.usage);
                still_open.push(index);
            }
        }
        open = still_open;
    }
    assert_eq!(all_started_before_a_finish, Some(true), "the four streams were not decoded together");
    for (index, (text, finish, usage)) in alone.iter().enumerate() {
        assert_same_start(&texts[index], text, &format!("stream {index} beside the others"));
        assert!(finishes[index].is_some() && finish.is_some());
        let (usage, together) = (usage.unwrap(), usages[index].unwrap());
        assert_eq!(together.prompt_tokens, usage.prompt_tokens);
        assert!(together.completion_tokens > 0 && together.completion_tokens <= 24, "{together:?}");
        if finishes[index] == Some(FinishReason::Length) {
            assert_eq!(together.completion_tokens, 24);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_prompt_prefix_is_read_from_the_kv_cache() {
    let model = gemma(2, 4);
    let system = "You are a careful assistant for a city library. Answer in one short sentence. ".repeat(4);
    let ask = |messages: serde_json::Value| {
        request(json!({"model": "m", "messages": messages, "temperature": 0, "max_tokens": 8}))
    };
    let first = model
        .chat(&ask(json!([{"role": "system", "content": system}, {"role": "user", "content": "When do you open?"}])))
        .await
        .unwrap();
    let first_usage = first.usage.unwrap();
    assert_eq!(first_usage.prompt_tokens_details.unwrap().cached_tokens, 0, "nothing was cached yet");
    // The same system prompt, another question: the shared prefix is not computed again, and
    // the answer is what a cold cache gives.
    let second_messages =
        json!([{"role": "system", "content": system}, {"role": "user", "content": "Can I borrow films?"}]);
    let second = model.chat(&ask(second_messages.clone())).await.unwrap();
    let cached = second.usage.unwrap().prompt_tokens_details.unwrap().cached_tokens;
    assert!(cached >= 60 && cached < second.usage.unwrap().prompt_tokens, "cached {cached} of {:?}", second.usage);
    let cold = gemma(1, 1).chat(&ask(second_messages)).await.unwrap();
    assert_eq!(cold.usage.unwrap().prompt_tokens_details.unwrap().cached_tokens, 0);
    assert_same_start(
        second.choices[0].message.content.as_deref().unwrap(),
        cold.choices[0].message.content.as_deref().unwrap(),
        "the answer after a cached prefix",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_format_is_enforced_by_a_grammar() {
    let model = gemma(2, 4);
    let ask = |format: serde_json::Value| {
        request(
            json!({"model": "m", "messages": [{"role": "user", "content": "Describe the sky as JSON."}], "temperature": 0, "max_tokens": 60, "response_format": format}),
        )
    };
    let schema = json!({"type": "object", "properties": {"colour": {"type": "string", "enum": ["blue", "grey", "black"]}, "cloudy": {"type": "boolean"}}, "required": ["colour", "cloudy"], "additionalProperties": false});
    let answer = model
        .chat(&ask(json!({"type": "json_schema", "json_schema": {"name": "sky", "schema": schema}})))
        .await
        .unwrap();
    let text = answer.choices[0].message.content.clone().unwrap();
    let value: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|error| panic!("{error}: {text}"));
    assert!(["blue", "grey", "black"].contains(&value["colour"].as_str().unwrap()), "{value}");
    assert!(value["cloudy"].is_boolean(), "{value}");
    assert_eq!(value.as_object().unwrap().len(), 2, "{value}");

    // json_object: any object, which may be cut by max_tokens but always starts as one.
    let answer = model.chat(&ask(json!({"type": "json_object"}))).await.unwrap();
    let text = answer.choices[0].message.content.clone().unwrap();
    assert!(text.trim_start().starts_with('{'), "{text}");
    if answer.choices[0].finish_reason == Some(FinishReason::Stop) {
        assert!(serde_json::from_str::<serde_json::Value>(text.trim()).unwrap().is_object(), "{text}");
    }

    // A schema the grammar converter cannot take is a bad request naming the parameter.
    let bad = json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"n": {"$ref": "#/nowhere"}}}}});
    let error = model.chat(&ask(bad)).await.unwrap_err();
    assert!(
        matches!(&error, BackendError::Unsupported { param: Some(param), .. } if param == "response_format"),
        "{error}"
    );
}

/// A GGUF v3 file with metadata only: `general.architecture` set to `architecture`.
fn gguf_with_architecture(architecture: &str) -> Vec<u8> {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(3u32.to_le_bytes()); // version
    bytes.extend(0u64.to_le_bytes()); // tensors
    bytes.extend(1u64.to_le_bytes()); // metadata entries
    let key = "general.architecture";
    bytes.extend((key.len() as u64).to_le_bytes());
    bytes.extend(key.as_bytes());
    bytes.extend(8u32.to_le_bytes()); // string
    bytes.extend((architecture.len() as u64).to_le_bytes());
    bytes.extend(architecture.as_bytes());
    bytes
}

#[test]
fn model_files_that_cannot_serve_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let settings = EmbeddedSettings { threads: 1, context_window: 512, slots: 1, queue: 1 };
    let load = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        EmbeddedBackend::load("local", &path, settings).err().unwrap_or_else(|| panic!("{name} must be refused"))
    };
    let unknown = load("unknown-arch.gguf", &gguf_with_architecture("no-such-architecture"));
    assert!(unknown.to_string().contains("supported architecture"), "{unknown}");
    let garbage = load("garbage.gguf", b"this is not a GGUF file at all");
    assert!(garbage.to_string().contains("could not load"), "{garbage}");
    let real = std::fs::read(gemma_path()).unwrap();
    let truncated = load("truncated.gguf", &real[..real.len() / 3]);
    assert!(truncated.to_string().contains("could not load"), "{truncated}");
    // The loader is still usable after all of that.
    let model = gemma(1, 1);
    drop(model);
}
