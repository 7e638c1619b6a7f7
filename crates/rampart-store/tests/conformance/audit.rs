//! The audit-log checks of the conformance suite: appends under concurrency, reads, checkpoints,
//! and tampering done directly in the database, which `verify` must name record by record.

use std::sync::Arc;

use rampart_audit::{AuditSigner, ProblemKind, VerifyRange, prove_stored_record, seal, verify_stored_log};
use rampart_core::{AuditEvent, AuditQuery, Store};
use serde_json::json;

use super::{BASE_TIME_MS, Raw};

fn event(n: u64, tenant: &str) -> AuditEvent {
    AuditEvent {
        time_unix_ms: BASE_TIME_MS + n as i64,
        tenant: Some(tenant.to_owned()),
        kind: if n.is_multiple_of(2) { "policy" } else { "auth" }.to_owned(),
        actor: Some(format!("key:{n}")),
        request_id: Some(format!("req-{n}")),
        data: json!({ "n": n, "decision": "allow" }),
    }
}

fn signer() -> AuditSigner {
    AuditSigner::from_pkcs8(&AuditSigner::generate_pkcs8().unwrap()).unwrap()
}

/// 50 records, a signed checkpoint at 50.
async fn fifty_records(store: &Arc<dyn Store>, signer: &AuditSigner) {
    for n in 1..=50 {
        store.append_audit(vec![event(n, "acme")]).await.unwrap();
    }
    let head = store.audit_head().await.unwrap();
    assert_eq!(head.size, 50);
    let checkpoint = signer.sign_checkpoint(head.size, &head.root_hash, &head.head_hash, BASE_TIME_MS);
    store.save_checkpoint(&checkpoint.into()).await.unwrap();
}

pub async fn audit_appends_from_many_tasks_form_one_clean_chain(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for task in 0..8u64 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..25 {
                let events = vec![event(task * 100 + n, "acme"), event(task * 100 + n + 50, "beta")];
                seqs.extend(store.append_audit(events).await.unwrap());
            }
            seqs
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        assert!(mine.windows(2).all(|pair| pair[0] < pair[1]), "one task's appends are in order");
        seqs.extend(mine);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=400).collect::<Vec<u64>>(), "every seq once, no gaps");

    let head = store.audit_head().await.unwrap();
    assert_eq!(head.size, 400);
    let report = verify_stored_log(store.as_ref(), None, VerifyRange::default()).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.first_problem);
    assert_eq!((report.records_checked, report.root_hash), (400, Some(head.root_hash)));
    assert!(store.append_audit(Vec::new()).await.unwrap().is_empty());
}

pub async fn audit_queries_filter_by_tenant_kind_and_request_newest_first(store: Arc<dyn Store>) {
    for n in 1..=6 {
        store.append_audit(vec![event(n, if n <= 4 { "acme" } else { "beta" })]).await.unwrap();
    }
    let seqs = |records: Vec<rampart_core::StoredAuditRecord>| records.into_iter().map(|r| r.seq).collect::<Vec<_>>();
    let query = |tenant: Option<&str>, kind: Option<&str>| AuditQuery {
        tenant: tenant.map(str::to_owned),
        kind: kind.map(str::to_owned),
        ..AuditQuery::default()
    };
    assert_eq!(seqs(store.query_audit(&query(None, None)).await.unwrap()), [6, 5, 4, 3, 2, 1]);
    assert_eq!(seqs(store.query_audit(&query(Some("acme"), None)).await.unwrap()), [4, 3, 2, 1]);
    assert_eq!(seqs(store.query_audit(&query(Some("acme"), Some("auth"))).await.unwrap()), [3, 1]);
    assert!(store.query_audit(&query(Some("nobody"), None)).await.unwrap().is_empty());
    let page = AuditQuery { limit: 2, before_seq: Some(5), ..AuditQuery::default() };
    assert_eq!(seqs(store.query_audit(&page).await.unwrap()), [4, 3]);
    let by_request = AuditQuery { request_id: Some("req-5".to_owned()), ..AuditQuery::default() };
    let found = store.query_audit(&by_request).await.unwrap();
    assert_eq!(seqs(found.clone()), [5]);
    assert!(found[0].canonical.contains("\"request_id\":\"req-5\"") && found[0].canonical.contains("\"seq\":5"));
    assert_eq!(seqs(store.read_audit(3, 2).await.unwrap()), [3, 4]);
}

pub async fn audit_checkpoints_are_kept_once_and_prove_records(store: Arc<dyn Store>) {
    let signer = signer();
    fifty_records(&store, &signer).await;
    let first = store.checkpoints(0, u64::MAX).await.unwrap();
    assert_eq!(first.len(), 1);
    // The same size again keeps the first checkpoint.
    let again = signer.sign_checkpoint(50, &first[0].root_hash, &first[0].head_hash, BASE_TIME_MS + 1);
    store.save_checkpoint(&again.into()).await.unwrap();
    assert_eq!(store.checkpoints(0, u64::MAX).await.unwrap(), first);
    assert!(store.checkpoints(51, 100).await.unwrap().is_empty());

    let report = verify_stored_log(store.as_ref(), Some(*signer.public_key()), VerifyRange::default()).await.unwrap();
    assert!(report.is_clean() && report.checkpoints_authenticated, "{report:?}");
    let proof = prove_stored_record(store.as_ref(), 17, signer.public_key()).await.unwrap();
    proof.verify_with_key(signer.public_key()).unwrap();
    let range = VerifyRange { from: Some(20), to: Some(40) };
    let report = verify_stored_log(store.as_ref(), Some(*signer.public_key()), range).await.unwrap();
    assert!(report.is_clean() && report.records_checked == 21, "{report:?}");
}

pub async fn audit_log_refuses_updates_and_deletes(store: Arc<dyn Store>, raw: Raw) {
    store.append_audit(vec![event(1, "acme")]).await.unwrap();
    let update = raw.try_exec("UPDATE audit_log SET kind = 'x' WHERE seq = 1").await;
    assert!(update.is_err_and(|error| error.contains("append-only")), "UPDATE must be refused");
    let delete = raw.try_exec("DELETE FROM audit_log WHERE seq = 1").await;
    assert!(delete.is_err_and(|error| error.contains("append-only")), "DELETE must be refused");
}

/// Builds the 50-record log (unless `signer` says it is built), lets `tamper` loose on it with
/// the append-only triggers dropped, and checks that verification names `seq` as the first bad
/// record, of `kind`.
async fn tampered(store: Arc<dyn Store>, raw: Raw, tamper: &[String], seq: u64, kind: ProblemKind) {
    let signer = signer();
    fifty_records(&store, &signer).await;
    tampered_log(store, raw, &signer, tamper, seq, kind).await;
}

async fn tampered_log(
    store: Arc<dyn Store>,
    raw: Raw,
    signer: &AuditSigner,
    tamper: &[String],
    seq: u64,
    kind: ProblemKind,
) {
    raw.drop_append_only_triggers().await;
    for sql in tamper {
        raw.exec(sql).await;
    }
    let report = verify_stored_log(store.as_ref(), Some(*signer.public_key()), VerifyRange::default()).await.unwrap();
    let problem = report.first_problem.unwrap_or_else(|| panic!("tampering {tamper:?} went unnoticed"));
    assert_eq!((problem.seq, problem.kind), (seq, kind), "{problem}");
}

pub async fn audit_verify_names_an_edited_record(store: Arc<dyn Store>, raw: Raw) {
    let edit = "UPDATE audit_log SET record = REPLACE(record, '\"n\":17', '\"n\":71') WHERE seq = 17".to_owned();
    tampered(store, raw, &[edit], 17, ProblemKind::Altered).await;
}

pub async fn audit_verify_names_a_deleted_record(store: Arc<dyn Store>, raw: Raw) {
    tampered(store, raw, &["DELETE FROM audit_log WHERE seq = 23".to_owned()], 23, ProblemKind::Deleted).await;
}

pub async fn audit_verify_names_records_cut_from_the_end(store: Arc<dyn Store>, raw: Raw) {
    let cut = ["DELETE FROM audit_log WHERE seq > 45".to_owned(), "UPDATE audit_head SET size = 45".to_owned()];
    tampered(store, raw, &cut, 46, ProblemKind::Deleted).await;
}

pub async fn audit_verify_names_reordered_records(store: Arc<dyn Store>, raw: Raw) {
    let swap = [30, 31].map(|seq| format!("UPDATE audit_log SET seq = -{seq} WHERE seq = {seq}"));
    let back = ["UPDATE audit_log SET seq = 31 WHERE seq = -30", "UPDATE audit_log SET seq = 30 WHERE seq = -31"];
    let sql: Vec<String> = swap.into_iter().chain(back.map(str::to_owned)).collect();
    tampered(store, raw, &sql, 30, ProblemKind::Reordered).await;
}

pub async fn audit_verify_names_an_inserted_record(store: Arc<dyn Store>, raw: Raw) {
    // A forger who can compute hashes (they are no secret) chains a record after 10 and moves
    // the rest up by one.
    let signer = signer();
    fifty_records(&store, &signer).await;
    let after = store.read_audit(10, 1).await.unwrap().remove(0);
    let prev: [u8; 32] = hex::decode(&after.hash_hex).unwrap().try_into().unwrap();
    let forged = seal(11, &prev, &event(999, "acme")).unwrap();
    let sql = vec![
        "UPDATE audit_log SET seq = -seq WHERE seq > 10".to_owned(),
        "UPDATE audit_log SET seq = 1 - seq WHERE seq < 0".to_owned(),
        format!(
            "INSERT INTO audit_log (seq, time_unix_ms, tenant, kind, request_id, record, hash) \
             VALUES (11, 0, 'acme', 'auth', NULL, '{}', '{}')",
            forged.canonical.replace('\'', "''"),
            forged.hash_hex()
        ),
    ];
    tampered_log(store, raw, &signer, &sql, 11, ProblemKind::Inserted).await;
}
