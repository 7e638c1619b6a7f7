//! Identity, policy and audit end to end through the real binary: the first admin key made by
//! the CLI turns authentication on, keys made over HTTP act for their tenant only, policy
//! refuses with reasons on record, and the audit log verifies, proves a record, and names the
//! record someone edited in the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{FakeUpstream, Rampart, run_cli};

fn config(upstream: &FakeUpstream) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
request_timeout_secs = 5

[audit]
checkpoint_interval_secs = 1

[[backends]]
name = "fake-openai"
kind = "openai"
base_url = "{openai}"

[[models]]
name = "gpt-fake"
backend = "fake-openai"
upstream_model = "up-model"
"#,
        openai = upstream.url("/v1"),
    )
}

struct Call<'rampart> {
    rampart: &'rampart Rampart,
}

impl Call<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, key: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new().request(method, self.rampart.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, key, None).await
    }

    async fn chat(&self, key: Option<&str>, request_id: &str) -> u16 {
        let response = reqwest::Client::new()
            .post(self.rampart.url("/v1/chat/completions"))
            .header("x-request-id", request_id)
            .bearer_auth(key.unwrap_or(""))
            .json(&json!({ "model": "gpt-fake", "messages": [{ "role": "user", "content": "hi" }] }))
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    async fn create_key(&self, admin: &str, tenant: &str, role: &str) -> String {
        let body = json!({ "tenant": tenant, "roles": [role], "name": format!("{tenant}-{role}") });
        let (status, created) = self.send(reqwest::Method::POST, "/api/v1/keys", Some(admin), Some(body)).await;
        assert_eq!(status, 201, "{created}");
        created["key"].as_str().unwrap().to_owned()
    }
}

fn cli(rampart: &Rampart, args: &[&str]) -> (i32, String, String) {
    let config = rampart.config_path.to_str().unwrap();
    let mut full = vec!["--config", config];
    full.extend_from_slice(args);
    run_cli(&full, &[])
}

#[tokio::test]
async fn keys_tenants_policy_and_a_verifiable_audit_log() {
    let upstream = FakeUpstream::start().await;
    let rampart = Rampart::start(&config(&upstream)).await;
    let call = Call { rampart: &rampart };
    assert!(rampart.log().contains("every caller is an admin until one exists"), "{}", rampart.log());

    // No key yet: a development server.
    assert_eq!(call.chat(None, "dev-1").await, 200);

    // The first admin key comes from the CLI, straight into the store.
    let (code, out, err) = cli(&rampart, &["keys", "create", "--tenant", "acme", "--role", "admin", "--json"]);
    assert_eq!(code, 0, "{err}");
    let admin: Value = serde_json::from_str(out.trim()).unwrap();
    let admin = admin["key"].as_str().unwrap().to_owned();
    assert!(admin.starts_with("rk_"));

    // The gateway notices within its key-presence interval (5 s) and requires credentials.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = call.get("/v1/models", None).await;
        if status == 401 {
            assert_eq!(body["error"]["code"], "invalid_api_key", "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "authentication never turned on");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for bad in ["rk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not-a-key", "a.b.c"] {
        assert_eq!(call.get("/v1/models", Some(bad)).await.0, 401, "{bad}");
    }
    let unauthenticated = reqwest::get(rampart.url("/v1/models")).await.unwrap();
    assert_eq!(unauthenticated.headers()["www-authenticate"], "Bearer realm=\"rampart\"");
    assert_eq!(call.get("/healthz", None).await.0, 200, "health stays public");

    // Keys over HTTP, by the admin.
    let acme_user = call.create_key(&admin, "acme", "user").await;
    let beta_user = call.create_key(&admin, "beta", "user").await;
    let auditor = call.create_key(&admin, "acme", "auditor").await;
    let (status, body) = call
        .send(
            reqwest::Method::POST,
            "/api/v1/keys",
            Some(&acme_user),
            Some(json!({"tenant": "acme", "roles": ["admin"]})),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("permission_denied")), "a user cannot mint keys");

    assert_eq!(call.chat(Some(&acme_user), "acme-1").await, 200);
    assert_eq!(call.chat(Some(&beta_user), "beta-1").await, 200);

    // Policy: auditors read, they do not call models; the refusal carries the reason.
    let response = reqwest::Client::new()
        .post(rampart.url("/v1/chat/completions"))
        .bearer_auth(&auditor)
        .header("x-request-id", "auditor-1")
        .json(&json!({ "model": "gpt-fake", "messages": [{ "role": "user", "content": "hi" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let denied: Value = response.json().await.unwrap();
    assert_eq!(denied["error"]["code"], "policy_denied", "{denied}");

    // Tenant isolation: acme's user sees acme's requests only, and nothing of beta's. (The
    // request log is written in batches: wait for it.)
    let deadline = Instant::now() + Duration::from_secs(5);
    let page = loop {
        let (status, page) = call.get("/api/v1/requests", Some(&acme_user)).await;
        assert_eq!(status, 200);
        if page["data"].as_array().unwrap().len() >= 2 || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let tenants: Vec<&str> =
        page["data"].as_array().unwrap().iter().map(|row| row["tenant"].as_str().unwrap()).collect();
    assert!(!tenants.is_empty() && tenants.iter().all(|tenant| *tenant == "acme"), "{page}");
    assert_eq!(call.get("/api/v1/requests?tenant=beta", Some(&acme_user)).await.0, 403);
    assert_eq!(call.get("/api/v1/usage?tenant=beta", Some(&acme_user)).await.0, 403);
    assert_eq!(call.get("/api/v1/traces/beta-1", Some(&acme_user)).await.0, 404, "another tenant's trace is not found");
    assert_eq!(call.get("/api/v1/audit", Some(&acme_user)).await.0, 403, "users do not read the audit log");
    let (status, beta_page) = call.get("/api/v1/requests?tenant=beta", Some(&admin)).await;
    assert_eq!((status, beta_page["data"].as_array().unwrap().len()), (200, 1), "admins read every tenant");

    // The trace envelope of acme's request: the decision (identity, policy version, model)
    // and the outcome.
    let deadline = Instant::now() + Duration::from_secs(5);
    let trace = loop {
        let (status, trace) = call.get("/api/v1/traces/acme-1", Some(&acme_user)).await;
        assert_eq!(status, 200, "{trace}");
        if trace["records"].as_array().unwrap().len() == 2 || Instant::now() > deadline {
            break trace;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let records = trace["records"].as_array().unwrap();
    let decision = &records[0]["record"];
    assert_eq!(decision["kind"], "decision", "{trace}");
    assert_eq!(decision["data"]["identity"]["tenant_id"], "acme");
    assert_eq!(decision["data"]["policy"]["allow"], true);
    assert!(decision["data"]["policy"]["version"].as_str().unwrap().starts_with("sha256:"), "{decision}");
    assert_eq!(records[1]["record"]["kind"], "outcome");
    assert_eq!(records[1]["record"]["data"]["status"], 200);

    // Revocation through the API takes effect on the next request.
    let acme_user_id = &acme_user[3..15];
    let (status, _) =
        call.send(reqwest::Method::DELETE, &format!("/api/v1/keys/{acme_user_id}"), Some(&admin), None).await;
    assert_eq!(status, 200);
    assert_eq!(call.chat(Some(&acme_user), "acme-2").await, 401);

    // The auditor verifies the whole log over HTTP once a checkpoint covers it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, report) = call.get("/api/v1/audit/verify", Some(&auditor)).await;
    assert_eq!(status, 200, "{report}");
    assert!(report["first_problem"].is_null() && report["checkpoints_authenticated"] == true, "{report}");
    assert!(report["records_checked"].as_u64().unwrap() >= 8, "{report}");
    let (status, proof) = call.get("/api/v1/audit/proof/3", Some(&auditor)).await;
    assert_eq!(status, 200, "{proof}");
    let proof_path = rampart.dir.path().join("proof.json");
    std::fs::write(&proof_path, proof.to_string()).unwrap();
    let (code, out, err) = cli(&rampart, &["audit", "check-proof", proof_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("record 3 is in the log"), "{out}");

    // The CLI verifies the same log, then names the record someone edits in the database.
    let (code, out, err) = cli(&rampart, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("the audit log is intact"), "{out}");
    let database = rampart.dir.path().join("rampart.db");
    let mut connection = {
        use sqlx::Connection;
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display())).await.unwrap()
    };
    sqlx::raw_sql(
        "DROP TRIGGER audit_log_no_update; \
         UPDATE audit_log SET record = REPLACE(record, '\"tenant\":\"beta\"', '\"tenant\":\"acme\"') \
         WHERE seq = (SELECT MIN(seq) FROM audit_log WHERE tenant = 'beta')",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    let edited: i64 = sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE tenant = 'beta'")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let (code, _, err) = cli(&rampart, &["audit", "verify"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains(&format!("record {edited} Altered")), "{err}");
    let (status, report) = call.get("/api/v1/audit/verify", Some(&auditor)).await;
    assert_eq!((status, report["first_problem"]["seq"].as_i64()), (409, Some(edited)), "{report}");
}

/// The audit write fails (a trigger refuses every insert): no call is answered, whatever its
/// tier. A call that may reach a cloud model is never sent; one that stays on Tier 1 was sent
/// while its record committed (`[audit] record_before_send = "cloud"`), unless the setting is
/// "always".
#[tokio::test]
async fn a_decision_that_cannot_be_recorded_is_never_answered_and_never_sent_to_the_cloud() {
    for setting in ["cloud", "always"] {
        let upstream = FakeUpstream::start().await;
        let config = format!(
            r#"{base}
[[models]]
name = "cloud-fake"
backend = "fake-openai"
upstream_model = "up-model"
tier = 2

[[models]]
name = "local-with-cloud-fallback"
backend = "fake-openai"
upstream_model = "up-model"
fallbacks = ["cloud-fake"]
"#,
            base = config(&upstream).replace("[audit]\n", &format!("[audit]\nrecord_before_send = \"{setting}\"\n")),
        );
        let rampart = Rampart::start(&config).await;
        let chat = |model: &'static str, stream: bool| {
            let url = rampart.url("/v1/chat/completions");
            async move {
                let response = reqwest::Client::new()
                    .post(url)
                    .json(
                        &json!({ "model": model, "stream": stream, "messages": [{ "role": "user", "content": "hi" }] }),
                    )
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        for model in ["gpt-fake", "cloud-fake", "local-with-cloud-fallback"] {
            assert_eq!(chat(model, false).await.0, 200, "{model} answers while the log takes records");
        }

        let database = rampart.dir.path().join("rampart.db");
        let mut connection = {
            use sqlx::Connection;
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display())).await.unwrap()
        };
        sqlx::raw_sql(
            "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'the disk refuses'); END",
        )
        .execute(&mut connection)
        .await
        .unwrap();
        let sent = || upstream.recorded.bodies.lock().unwrap().len();

        for model in ["cloud-fake", "local-with-cloud-fallback"] {
            for stream in [false, true] {
                let before = sent();
                let (status, body) = chat(model, stream).await;
                assert_eq!(status, 503, "{setting} {model} stream={stream}: {body}");
                assert_eq!(body["error"]["code"], "audit_unavailable", "{body}");
                assert_eq!(sent(), before, "{setting}: {model} may reach the cloud: nothing is sent");
            }
        }
        for stream in [false, true] {
            let before = sent();
            let (status, body) = chat("gpt-fake", stream).await;
            assert_eq!(status, 503, "{setting} stream={stream}: the answer is withheld: {body}");
            assert_eq!(body["error"]["code"], "audit_unavailable", "{body}");
            let expected = if setting == "always" { before } else { before + 1 };
            assert_eq!(
                sent(),
                expected,
                "{setting}: a Tier 1 call is sent while its record commits only with \"cloud\""
            );
        }
    }
}
