//! `[[routes]]` end to end: the real binary picks a model per request by rules, and a rule's
//! other candidates serve as fallbacks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::Rampart;
use support::scripted::{Behaviour, ScriptedUpstream};

fn config(local: &ScriptedUpstream, cloud: &ScriptedUpstream) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"
{}
[[backends]]
name = "local"
kind = "openai"
base_url = "{}"
[[backends]]
name = "cloud"
kind = "openai"
base_url = "{}"
[[models]]
name = "local-model"
backend = "local"
[[models]]
name = "cloud-model"
backend = "cloud"
tier = 2
[[routes]]
name = "assistant"
[[routes.rules]]
when = {{ classification = ["secret"] }}
candidates = [{{ model = "local-model" }}]
[[routes.rules]]
when = {{ min_prompt_tokens = 200 }}
candidates = [{{ model = "cloud-model" }}]
[[routes.rules]]
when = {{ metadata = {{ team = "legal" }} }}
candidates = [{{ model = "local-model" }}]
[[routes.rules]]
candidates = [{{ model = "cloud-model", weight = 1 }}, {{ model = "local-model", weight = 0 }}]
[[routes]]
name = "tagged-only"
[[routes.rules]]
when = {{ tags = ["batch"] }}
candidates = [{{ model = "local-model" }}]
"#,
        support::PLAIN_ROUTING,
        local.base_url(),
        cloud.base_url()
    )
}

async fn ask(rampart: &Rampart, headers: &[(&str, &str)], body: Value) -> (u16, String, Value) {
    let mut request = reqwest::Client::new().post(rampart.url("/v1/chat/completions")).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let model = response.headers().get("x-rampart-model").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, model, response.json().await.unwrap())
}

fn message(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

#[tokio::test]
async fn rules_pick_the_model_per_request_and_the_rest_are_fallbacks() {
    let local = ScriptedUpstream::start("local", Behaviour::Answer).await;
    let cloud = ScriptedUpstream::start("cloud", Behaviour::Answer).await;
    let rampart = Rampart::start(&config(&local, &cloud)).await;
    let route = |extra: Value| {
        let mut body = json!({"model": "assistant", "messages": message("hello")});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };

    // No condition holds: the default rule's heaviest candidate.
    let (status, model, body) = ask(&rampart, &[], route(json!({}))).await;
    assert_eq!((status, model.as_str()), (200, "cloud-model"), "{body}");
    assert_eq!(body["model"], "cloud-model");
    // Classified work goes local, by header or metadata.
    assert_eq!(ask(&rampart, &[("x-rampart-classification", "secret")], route(json!({}))).await.1, "local-model");
    assert_eq!(ask(&rampart, &[], route(json!({"metadata": {"classification": "secret"}}))).await.1, "local-model");
    // A long prompt (by its estimated tokens) goes to the cloud, metadata to its rule.
    let long = "lorem ipsum ".repeat(150);
    let (_, model, _) =
        ask(&rampart, &[], route(json!({"messages": message(&long), "metadata": {"team": "legal"}}))).await;
    assert_eq!(model, "cloud-model", "the size rule comes first");
    assert_eq!(ask(&rampart, &[], route(json!({"metadata": {"team": "legal"}}))).await.1, "local-model");
    // The metadata the route read is still forwarded (only Rampart's keys are removed).
    let forwarded = local.script.bodies.lock().unwrap().last().unwrap().clone();
    assert_eq!(forwarded["metadata"]["team"], "legal");

    // The cloud fails: the rule's other candidate (weight 0) serves as the fallback.
    cloud.set_default(Behaviour::Fail { status: 503, retry_after_secs: None });
    let (status, model, _) = ask(&rampart, &[], route(json!({}))).await;
    assert_eq!((status, model.as_str()), (200, "local-model"));
    // Privacy mode drops the cloud candidate before any call.
    let cloud_hits = cloud.hits();
    let (status, model, _) = ask(&rampart, &[("x-rampart-privacy-mode", "true")], route(json!({}))).await;
    assert_eq!((status, model.as_str()), (200, "local-model"));
    assert_eq!(cloud.hits(), cloud_hits);

    // Routes are listed with the models; a route no rule matches says so.
    let models: Value = reqwest::get(rampart.url("/v1/models")).await.unwrap().json().await.unwrap();
    let route_entry =
        models["data"].as_array().unwrap().iter().find(|model| model["id"] == "assistant").unwrap().clone();
    assert_eq!(route_entry["owned_by"], "rampart-route");
    let (status, _, body) = ask(&rampart, &[], json!({"model": "tagged-only", "messages": message("hi")})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "no_matching_route");
    let (status, model, _) = ask(
        &rampart,
        &[("x-rampart-tags", "batch, nightly")],
        json!({"model": "tagged-only", "messages": message("hi")}),
    )
    .await;
    assert_eq!((status, model.as_str()), (200, "local-model"));
}
