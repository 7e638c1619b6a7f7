//! Chat cache keys: equal for requests that must get the same answer, different otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rampart_cache::{CacheKey, chat_cache_key, sort_tools};
use rampart_types::ChatCompletionRequest;
use serde_json::{Value, json};

const MODEL: &str = "llama-3.1-8b";

fn request(body: Value) -> ChatCompletionRequest {
    ChatCompletionRequest::from_json(body).unwrap()
}

/// A request with a field of each kind the key covers.
fn base_body() -> Value {
    json!({
        "model": "fast",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the capital of France?"}
        ],
        "temperature": 0.2,
        "tools": [
            {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "calculate", "parameters": {"type": "object"}}}
        ],
        "logit_bias": {"50256": -100, "198": 5}
    })
}

fn key_of(body: Value) -> CacheKey {
    chat_cache_key(MODEL, &request(body))
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

fn tool_names(request: &ChatCompletionRequest) -> Vec<&str> {
    request.tools.iter().flatten().map(|tool| tool.function.name.as_str()).collect()
}

#[test]
fn the_same_request_gives_the_same_key() {
    assert_eq!(key_of(base_body()), key_of(base_body()));
}

#[test]
fn a_key_is_64_lowercase_hex_digits() {
    let key = key_of(base_body());
    assert_eq!(key.as_str().len(), 64);
    assert!(key.as_str().chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "{key}");
    assert_eq!(key.to_string(), key.as_str());
}

#[test]
fn key_order_in_the_json_does_not_change_the_key() {
    // The same request with every object's keys in another order: top level, messages, tool
    // definitions, JSON Schema, and an unknown parameter forwarded in `extra`.
    let reordered = r#"{
        "logit_bias": {"198": 5, "50256": -100},
        "tools": [
            {"function": {"parameters": {"properties": {"q": {"type": "string"}}, "type": "object"}, "name": "lookup"}, "type": "function"},
            {"function": {"parameters": {"type": "object"}, "name": "calculate"}, "type": "function"}
        ],
        "temperature": 0.2,
        "messages": [
            {"content": "Be brief.", "role": "system"},
            {"content": "What is the capital of France?", "role": "user"}
        ],
        "model": "fast"
    }"#;
    let reordered: Value = serde_json::from_str(reordered).unwrap();
    assert_eq!(key_of(base_body()), key_of(reordered));
}

#[test]
fn different_model_gives_a_different_key() {
    let request = request(base_body());
    assert_ne!(chat_cache_key(MODEL, &request), chat_cache_key("llama-3.1-70b", &request));
}

#[test]
fn the_requests_own_model_name_is_not_part_of_the_key() {
    // An alias and the model it resolves to are the same model: the configured name is keyed.
    assert_eq!(key_of(base_body()), key_of(with(base_body(), "model", json!("llama-3.1-8b"))));
}

#[test]
fn different_temperature_gives_a_different_key() {
    assert_ne!(key_of(base_body()), key_of(with(base_body(), "temperature", json!(0.3))));
}

#[test]
fn different_messages_give_a_different_key() {
    let mut body = base_body();
    body["messages"][1]["content"] = json!("What is the capital of Spain?");
    assert_ne!(key_of(base_body()), key_of(body));

    let mut body = base_body();
    body["messages"][0]["role"] = json!("developer");
    assert_ne!(key_of(base_body()), key_of(body), "the role is part of the prompt");

    let mut body = base_body();
    body["messages"].as_array_mut().unwrap().push(json!({"role": "assistant", "content": "Paris."}));
    assert_ne!(key_of(base_body()), key_of(body));
}

#[test]
fn every_answer_changing_parameter_changes_the_key() {
    let base = key_of(base_body());
    let changes = [
        ("top_p", json!(0.9)),
        ("n", json!(2)),
        ("stop", json!(["\n"])),
        ("seed", json!(42)),
        ("max_tokens", json!(64)),
        ("max_completion_tokens", json!(64)),
        ("presence_penalty", json!(0.5)),
        ("frequency_penalty", json!(0.5)),
        ("tool_choice", json!("required")),
        ("tool_choice", json!({"type": "function", "function": {"name": "lookup"}})),
        ("parallel_tool_calls", json!(false)),
        ("response_format", json!({"type": "json_object"})),
        ("tools", json!([{"type": "function", "function": {"name": "lookup"}}])),
        ("logit_bias", json!({"50256": -100})),
        ("reasoning_effort", json!("high")),
    ];
    let mut keys = vec![base];
    for (field, value) in changes {
        let key = key_of(with(base_body(), field, value.clone()));
        assert!(!keys.contains(&key), "setting {field} to {value} did not give a new key");
        keys.push(key);
    }
}

#[test]
fn who_asks_and_how_it_is_delivered_do_not_change_the_key() {
    let base = key_of(base_body());
    let delivery = [
        ("stream", json!(true)),
        ("stream_options", json!({"include_usage": true})),
        ("user", json!("user-1234")),
        ("metadata", json!({"team": "research"})),
        ("safety_identifier", json!("hashed-user")),
        ("prompt_cache_key", json!("session-9")),
    ];
    for (field, value) in delivery {
        assert_eq!(key_of(with(base_body(), field, value.clone())), base, "{field} = {value} changed the key");
    }
}

#[test]
fn null_and_absent_parameters_give_the_same_key() {
    assert_eq!(key_of(base_body()), key_of(with(base_body(), "seed", Value::Null)));
}

#[test]
fn tool_order_does_not_change_the_key_and_sort_tools_orders_them_by_name() {
    let mut reversed = base_body();
    reversed["tools"].as_array_mut().unwrap().reverse();
    let mut listed = request(base_body());
    let mut reversed = request(reversed);
    assert_eq!(tool_names(&listed), ["lookup", "calculate"]);
    assert_eq!(tool_names(&reversed), ["calculate", "lookup"]);
    assert_eq!(chat_cache_key(MODEL, &listed), chat_cache_key(MODEL, &reversed), "before sort_tools");

    let before = chat_cache_key(MODEL, &listed);
    sort_tools(&mut listed);
    sort_tools(&mut reversed);
    assert_eq!(tool_names(&listed), ["calculate", "lookup"]);
    assert_eq!(listed, reversed);
    assert_eq!(chat_cache_key(MODEL, &listed), chat_cache_key(MODEL, &reversed));
    assert_eq!(chat_cache_key(MODEL, &listed), before, "sorting does not change the key");
}

#[test]
fn sort_tools_keeps_the_order_of_tools_with_the_same_name() {
    let mut request = request(json!({
        "model": "fast",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {"type": "function", "function": {"name": "b"}},
            {"type": "function", "function": {"name": "a", "description": "first"}},
            {"type": "function", "function": {"name": "a", "description": "second"}}
        ]
    }));
    sort_tools(&mut request);
    let described: Vec<_> = request
        .tools
        .iter()
        .flatten()
        .map(|tool| (tool.function.name.as_str(), tool.function.description.as_deref()))
        .collect();
    assert_eq!(described, [("a", Some("first")), ("a", Some("second")), ("b", None)]);

    let mut no_tools = self::request(json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}]}));
    sort_tools(&mut no_tools);
    assert_eq!(no_tools.tools, None);
}

#[test]
fn digest_keys_are_sha256_hex() {
    assert_eq!(CacheKey::digest(b"abc").as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
