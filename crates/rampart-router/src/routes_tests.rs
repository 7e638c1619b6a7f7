#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use rampart_core::{Backend, BackendKind, UnavailableBackend};
use serde_json::json;

use super::*;

const CONFIG: &str = r#"
[[backends]]
name = "b"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
[[models]]
name = "local"
backend = "b"
[[models]]
name = "cloud"
backend = "b"
tier = 2
[[models]]
name = "long"
backend = "b"
[[routes]]
name = "assistant"
[[routes.rules]]
when = { classification = ["secret"] }
candidates = [{ model = "local" }]
[[routes.rules]]
when = { min_prompt_tokens = 1000 }
candidates = [{ model = "long" }]
[[routes.rules]]
when = { metadata = { team = "legal" }, tags = ["batch"] }
candidates = [{ model = "cloud", weight = 0 }, { model = "local", weight = 5 }]
[[routes.rules]]
candidates = [{ model = "cloud", weight = 3 }, { model = "local", weight = 1 }]
"#;

fn table() -> RouteTable {
    let config = rampart_config::load_from_str(CONFIG, "test.toml", &[]).unwrap();
    let backends: Vec<Arc<dyn Backend>> = vec![Arc::new(UnavailableBackend::new("b", BackendKind::OpenAi, "test"))];
    let catalog = ModelCatalog::new(&config, backends).unwrap();
    RouteTable::new(&config, &catalog)
}

fn choose(
    table: &RouteTable,
    metadata: serde_json::Value,
    tags: &[&str],
    hints: RouteHints,
    tokens: u64,
) -> RouteChoice {
    let metadata = metadata.as_object().cloned();
    let tags: Vec<String> = tags.iter().map(|tag| (*tag).to_owned()).collect();
    let request = RouteRequest { metadata: metadata.as_ref(), tags: &tags, hints: &hints, prompt_tokens: Some(tokens) };
    table.get("assistant").unwrap().choose(&request).unwrap()
}

#[test]
fn the_first_rule_that_holds_picks_the_model() {
    let table = table();
    let route = table.get("assistant").unwrap();
    assert!(route.needs_prompt_tokens());
    let secret = RouteHints { classification: Some("secret".into()), ..RouteHints::default() };
    let choice = choose(&table, json!({}), &[], secret, 5000);
    assert_eq!((choice.model.name.as_str(), choice.rule), ("local", 0));
    assert!(choice.alternates.is_empty());
    assert_eq!(choose(&table, json!({}), &[], RouteHints::default(), 1000).model.name, "long");
    // Both metadata and tags must hold; a weight of 0 is never drawn first but is a fallback.
    let legal = choose(&table, json!({"team": "legal"}), &["batch", "x"], RouteHints::default(), 10);
    assert_eq!((legal.model.name.as_str(), legal.alternates.clone()), ("local", vec!["cloud".to_owned()]));
    assert_eq!(choose(&table, json!({"team": "legal"}), &[], RouteHints::default(), 10).rule, 3);
}

#[test]
fn weights_share_requests_and_the_rest_follow_as_fallbacks() {
    let table = table();
    let mut cloud = 0;
    for _ in 0..4000 {
        let choice = choose(&table, json!({}), &[], RouteHints::default(), 10);
        assert_eq!(choice.rule, 3);
        if choice.model.name == "cloud" {
            cloud += 1;
            assert_eq!(choice.alternates, vec!["local".to_owned()]);
        } else {
            assert_eq!(choice.alternates, vec!["cloud".to_owned()]);
        }
    }
    // 3:1 — expect 3000 of 4000; allow for chance (about 10 standard deviations).
    assert!((2730..=3270).contains(&cloud), "cloud drawn {cloud} of 4000 times at weight 3:1");
}
