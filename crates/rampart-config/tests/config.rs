//! Loading configuration as users write it: the example file, overrides, interpolation, and
//! errors that point at the key, file and line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rampart_config::{BackendKindConfig, ConfigError, ModelKind, load_from_str};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
}

const ISSUE_SHAPE: &str = r#"
[server]
listen = "127.0.0.1:8080"
[storage]
url = "sqlite:///var/lib/rampart/rampart.db"
[[backends]]
name = "vllm"
kind = "openai"
base_url = "http://127.0.0.1:8000/v1"
api_key = "${VLLM_API_KEY}"
[[models]]
name = "chat-large"
backend = "vllm"
upstream_model = "Qwen/Qwen3-8B"
aliases = ["default"]
tier = 1
context_window = 32768
price_per_mtok = { input = 0.0, output = 0.0 }
"#;

#[test]
fn the_example_config_loads() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/rampart.example.toml")).unwrap();
    let config = load_from_str(&text, "rampart.example.toml", &[]).unwrap();
    assert_eq!(config.backends.len(), 6);
    assert!(
        config.backends.iter().any(|backend| backend.kind == BackendKindConfig::Embedded && backend.path.is_some())
    );
    let local_chat = config.backends.iter().find(|backend| backend.name == "local-chat").unwrap();
    assert_eq!((local_chat.threads, local_chat.parallel, local_chat.max_queue), (Some(4), Some(4), Some(16)));
    assert_eq!(config.backends[2].kind, BackendKindConfig::Anthropic);
    assert!(config.models.iter().any(|model| model.kind == ModelKind::Embedding));
    assert_eq!(config.models[0].aliases, vec!["default".to_owned()]);
    assert_eq!(config.models[0].replicas(), ["vllm", "vllm-2"]);
    assert_eq!(config.models[1].fallbacks, ["chat-large"]);
    assert_eq!(config.router.sustain_model.as_deref(), Some("chat-large"));
    assert_eq!(config.router.breaker.consecutive_failures, 5);
    assert_eq!(config.policy.decision_cache_entries, 4096);
    assert_eq!(config.policy.eval_timeout_ms, 10);
    assert_eq!(config.storage.sqlite_synchronous, rampart_config::SqliteSynchronous::Full);
}

#[test]
fn routing_references_are_checked() {
    let base = |model_extra: &str, router: &str| {
        format!(
            "[[backends]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\n\
             [[models]]\nname = \"cloud\"\nbackend = \"a\"\ntier = 2\n{model_extra}\n\
             [[models]]\nname = \"vectors\"\nbackend = \"a\"\nkind = \"embedding\"\n{router}"
        )
    };
    let error = |text: String| load_from_str(&text, "rampart.toml", &[]).unwrap_err().to_string();
    assert!(error(base("fallbacks = [\"nope\"]", "")).contains("'nope', which is not a configured model name"));
    assert!(error(base("fallbacks = [\"cloud\"]", "")).contains("names the model itself"));
    assert!(error(base("fallbacks = [\"vectors\"]", "")).contains("whose kind is embedding"));
    assert!(error(base("backends = [\"a\"]", "")).contains("names backend 'a' twice"));
    assert!(error(base("", "[router]\nsustain_model = \"cloud\"")).contains("must be a Tier 1 chat model"));
    let missing = "[[models]]\nname = \"m\"\n";
    assert!(error(missing.to_owned()).contains("is missing: name the [[backends]] entry"));
    let message = error(base("", "[router.breaker]\nerror_rate = 1.5"));
    assert!(message.contains("router.breaker.error_rate") && message.contains("at most 1"), "{message}");
    let route = |name: &str, rules: &str| base("", &format!("[[routes]]\nname = \"{name}\"\n{rules}"));
    let rule = |body: &str| format!("[[routes.rules]]\n{body}\n");
    assert!(
        error(route("cloud", &rule("candidates = [{ model = \"cloud\" }]")))
            .contains("already a model, alias or route")
    );
    assert!(
        error(route("r", &rule("candidates = [{ model = \"nope\" }]"))).contains("'nope', which is not a configured")
    );
    assert!(error(route("r", "")).contains("at least one rule"));
    assert!(error(route("r", &rule("candidates = [{ model = \"cloud\", weight = 0 }]"))).contains("weight above 0"));
    let mixed = rule("candidates = [{ model = \"cloud\" }]") + &rule("candidates = [{ model = \"vectors\" }]");
    assert!(error(route("r", &mixed)).contains("mixes chat and embedding"));
    let sizes = rule("when = { min_prompt_tokens = 10, max_prompt_tokens = 5 }\ncandidates = [{ model = \"cloud\" }]");
    assert!(error(route("r", &sizes)).contains("min_prompt_tokens 10 is above max_prompt_tokens 5"));
    let limit = |body: &str| base("", &format!("[[limits]]\nname = \"l\"\nscope = \"tenant\"\n{body}"));
    assert!(error(limit("")).contains("sets nothing"));
    assert!(error(limit("requests_per_minute = 0")).contains("at least 1"));
    assert!(error(limit("spend_per_day_usd = -1.0")).contains("above 0"));
    assert!(error(limit("value = \"x\"\nmodels = [\"nope\"]\nrequests_per_minute = 1")).contains("'nope'"));
    let global = base("", "[[limits]]\nname = \"g\"\nscope = \"global\"\nvalue = \"x\"\nrequests_per_minute = 1");
    assert!(error(global).contains("a global limit counts every request together"));
    assert!(error(base("", "[context]\ntotal_tokens = 100")).contains("less than the layers' budgets"));
    assert!(error(base("", "[storage]\nlimits_url = \"mysql://x\"")).contains("use redis://"));
    let postgres_normal = "[storage]\nurl = \"postgres://db/rampart\"\nsqlite_synchronous = \"normal\"";
    assert!(error(base("", postgres_normal)).contains("applies to a SQLite store only"));
    assert!(error(base("", "[storage]\nsqlite_synchronous = \"off\"")).contains("sqlite_synchronous"));
    assert!(error(base("", "[cache]\nurl = \"memcached://x\"")).contains("use redis://"));
}

#[test]
fn the_documented_shape_loads_with_interpolated_secrets() {
    let config = load_from_str(ISSUE_SHAPE, "rampart.toml", &vars(&[("VLLM_API_KEY", "sk-123")])).unwrap();
    assert_eq!(config.backends[0].api_key.as_deref(), Some("sk-123"));
    assert_eq!(config.models[0].upstream_model(), "Qwen/Qwen3-8B");
    assert_eq!(config.storage.effective_url(), "sqlite:///var/lib/rampart/rampart.db");
    assert!(!format!("{:?}", config.redacted()).contains("sk-123"), "redacted config must hide the key");
}

#[test]
fn no_config_at_all_gives_defaults() {
    let config = load_from_str("", "<defaults>", &[]).unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:8080");
    assert!(config.backends.is_empty());
    assert!(config.storage.effective_url().starts_with("sqlite://"));
}

#[test]
fn environment_overrides_reach_nested_and_listed_keys() {
    let env = vars(&[
        ("VLLM_API_KEY", "from-file"),
        ("RAMPART_SERVER__LISTEN", "0.0.0.0:9000"),
        ("RAMPART_SERVER__REQUEST_TIMEOUT_SECS", "42"),
        ("RAMPART_BACKENDS__0__API_KEY", "from-env"),
        ("RAMPART_MODELS__0__ALIASES", r#"["a", "b"]"#),
        ("RAMPART_URL", "http://ignored-by-config"),
    ]);
    let config = load_from_str(ISSUE_SHAPE, "rampart.toml", &env).unwrap();
    assert_eq!(config.server.listen, "0.0.0.0:9000");
    assert_eq!(config.server.request_timeout_secs, 42);
    assert_eq!(config.backends[0].api_key.as_deref(), Some("from-env"));
    assert_eq!(config.models[0].aliases, vec!["a".to_owned(), "b".to_owned()]);
}

/// (case name, config text, environment, fragments the error message must contain).
type ErrorCase = (&'static str, &'static str, Vec<(&'static str, &'static str)>, Vec<&'static str>);

/// Each bad config and the fragments its error message must contain.
#[test]
fn errors_name_the_key_file_and_line() {
    let cases: Vec<ErrorCase> = vec![
        ("unknown key", "[server]\nlistne = \"x\"\n", vec![], vec!["my.toml", "line 2", "listne", "listen"]),
        ("wrong type", "[server]\nbody_limit_bytes = \"big\"\n", vec![], vec!["my.toml", "line 2", "body_limit_bytes"]),
        ("syntax", "[server\n", vec![], vec!["my.toml", "line 1"]),
        (
            "bad address",
            "\n[server]\nlisten = \"localhost\"\n",
            vec![],
            vec!["my.toml:3", "server.listen", "127.0.0.1:8080"],
        ),
        (
            "unknown backend",
            "[[backends]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"http://x\"\n\n[[models]]\nname = \"m\"\nbackend = \"b\"\n",
            vec![],
            vec!["my.toml:8", "models[0].backend", "'b'", "configured backends: a"],
        ),
        (
            "duplicate alias",
            "[[backends]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"http://x\"\n[[models]]\nname = \"m\"\nbackend = \"a\"\n[[models]]\nname = \"n\"\nbackend = \"a\"\naliases = [\"m\"]\n",
            vec![],
            vec!["my.toml:11", "models[1].aliases", "'m'"],
        ),
        (
            "bad kind",
            "[[backends]]\nname = \"a\"\nkind = \"grpc\"\nbase_url = \"http://x\"\n",
            vec![],
            vec!["line 3", "grpc", "openai"],
        ),
        (
            "bad url scheme",
            "[[backends]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"x.com\"\n",
            vec![],
            vec!["my.toml:4", "http://"],
        ),
        (
            "bad tier",
            "[[backends]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"http://x\"\n[[models]]\nname = \"m\"\nbackend = \"a\"\ntier = 3\n",
            vec![],
            vec!["my.toml:8", "tier"],
        ),
        ("bad storage", "[storage]\nurl = \"mysql://x\"\n", vec![], vec!["my.toml:2", "storage.url", "postgres://"]),
        ("missing variable", ISSUE_SHAPE, vec![], vec!["my.toml:10", "backends[0].api_key", "VLLM_API_KEY"]),
        (
            "bad override type",
            "",
            vec![("RAMPART_SERVER__BODY_LIMIT_BYTES", "lots")],
            vec!["RAMPART_SERVER__BODY_LIMIT_BYTES"],
        ),
        (
            "bad override value",
            "",
            vec![("RAMPART_SERVER__LISTEN", "nowhere")],
            vec!["RAMPART_SERVER__LISTEN", "server.listen"],
        ),
        (
            "override past the list",
            "",
            vec![("RAMPART_BACKENDS__3__NAME", "x")],
            vec!["RAMPART_BACKENDS__3__NAME", "past the end"],
        ),
    ];
    for (name, text, env, fragments) in cases {
        let error = load_from_str(text, "my.toml", &vars(&env)).expect_err(name).to_string();
        for fragment in fragments {
            assert!(error.contains(fragment), "{name}: '{fragment}' missing from: {error}");
        }
    }
}

#[test]
fn a_missing_explicit_file_is_an_error() {
    let error = rampart_config::load(Some(std::path::Path::new("/nonexistent/rampart.toml"))).unwrap_err();
    assert!(matches!(error, ConfigError::Read { .. }), "{error}");
    assert!(error.to_string().contains("/nonexistent/rampart.toml"));
}

#[test]
fn auth_policy_and_audit_settings_are_checked() {
    let text = r#"
[auth]
mode = "required"
[[auth.oidc]]
issuer = "https://id.example.org/realms/acme"
audiences = ["rampart"]
roles_claim = "realm_access.roles"
role_map = { "ai-admins" = "admin" }
[policy]
dir = "/etc/rampart/policy"
[audit]
checkpoint_interval_secs = 30
record_before_send = "always"
"#;
    let config = load_from_str(text, "rampart.toml", &[]).unwrap();
    let issuer = &config.auth.oidc[0];
    assert_eq!(config.auth.mode, rampart_config::AuthMode::Required);
    assert_eq!(issuer.algorithms, ["RS256", "ES256", "EdDSA"]);
    assert_eq!((issuer.leeway_secs, issuer.jwks_refresh_secs, issuer.tenant_claim.as_str()), (60, 300, "tenant"));
    assert_eq!(config.policy.dir.as_deref(), Some(std::path::Path::new("/etc/rampart/policy")));
    assert!(config.audit.enabled);
    assert_eq!(config.audit.record_before_send, rampart_config::RecordBeforeSend::Always);
    let defaults = load_from_str("", "rampart.toml", &[]).unwrap();
    assert_eq!(defaults.audit.record_before_send, rampart_config::RecordBeforeSend::Cloud);

    let error = |text: &str| load_from_str(text, "rampart.toml", &[]).unwrap_err().to_string();
    let issuer =
        |extra: &str| format!("[[auth.oidc]]\nissuer = \"https://id.example.org\"\naudiences = [\"r\"]\n{extra}");
    let message = error(&issuer("algorithms = [\"HS256\"]"));
    assert!(message.contains("'HS256' is not accepted") && message.contains("auth.oidc[0].algorithms"), "{message}");
    assert!(error(&issuer("algorithms = [\"none\"]")).contains("'none' is not accepted"));
    assert!(error(&issuer("role_map = { x = \"root\" }")).contains("map to one of admin"));
    assert!(error("[[auth.oidc]]\nissuer = \"https://i\"\naudiences = []").contains("at least one non-empty audience"));
    assert!(error("[[auth.oidc]]\nissuer = \"id.example.org\"\naudiences = [\"r\"]").contains("https:// URL"));
    assert!(error(&format!("{}\n{}", issuer(""), issuer(""))).contains("configured twice"));
    let message = error("[auth]\nmode = \"maybe\"");
    assert!(message.contains("mode") && message.contains("maybe"), "{message}");
    assert!(error("[policy]\nreload_interval_secs = 0").contains("policy.reload_interval_secs"));
    assert!(error("[policy]\neval_timeout_ms = 0").contains("policy.eval_timeout_ms"));
    let message = error("[audit]\nrecord_before_send = \"sometimes\"");
    assert!(message.contains("record_before_send") && message.contains("sometimes"), "{message}");
    let message = error("[server]\nworkers = 0");
    assert!(message.contains("server.workers") && message.contains("at least 1"), "{message}");
    let workers = load_from_str("[server]\nworkers = 3", "rampart.toml", &[]).unwrap().server.workers;
    assert_eq!(workers, Some(3));
}

/// The TOML block under `heading` in a file of `docs/`, as a user would copy it.
fn documented_toml(doc: &str, heading: &str) -> String {
    let path = format!("{}/../../docs/{doc}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let section = &text[text.find(heading).unwrap_or_else(|| panic!("{heading} is not in {path}"))..];
    let block = &section[section.find("```toml\n").expect("a toml block") + "```toml\n".len()..];
    block[..block.find("```").expect("the block ends")].to_owned()
}

#[test]
fn the_documented_encryption_at_rest_config_loads() {
    let text = documented_toml("retrieval.md", "## Encryption at rest");
    let config = load_from_str(&text, "docs/retrieval.md", &[]).unwrap();
    assert!(config.retrieval.encrypt);
    assert_eq!(config.conversations.master_key_file.as_deref(), Some(std::path::Path::new("/etc/rampart/master.key")));
    // Off unless asked for: sealing needs a key the operator keeps.
    assert!(!load_from_str("", "empty.toml", &[]).unwrap().retrieval.encrypt);
}

#[test]
fn the_documented_injection_classifier_config_loads_and_bad_values_name_the_key() {
    let text = documented_toml("guardrails.md", "## An injection classifier model");
    let config = load_from_str(&text, "docs/guardrails.md", &[]).unwrap();
    let classifier = config.guardrails.injection_classifier.expect("the documented classifier");
    assert_eq!(classifier.path, std::path::Path::new("/models/Llama-Prompt-Guard-2-22M"));
    assert!(classifier.labels.is_empty() && classifier.window_tokens.is_none());
    assert!(load_from_str("", "empty.toml", &[]).unwrap().guardrails.injection_classifier.is_none());

    let error = |text: &str| load_from_str(text, "rampart.toml", &[]).unwrap_err().to_string();
    let message = error("[guardrails.injection_classifier]\npath = \"/m\"\nwindow_tokens = 2");
    assert!(
        message.contains("guardrails.injection_classifier.window_tokens") && message.contains("at least 8"),
        "{message}"
    );
    let message = error("[guardrails.injection_classifier]\npath = \"\"");
    assert!(message.contains("guardrails.injection_classifier.path"), "{message}");
    let message = error("[guardrails.injection_classifier]\npath = \"/m\"\nthreshold = 0.9");
    assert!(message.contains("threshold"), "{message}");
}
