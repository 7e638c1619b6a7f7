//! What every `RetrievalIndex` engine must do, run against each engine: the embedded index in
//! a temporary directory, and PostgreSQL in a fresh schema. PostgreSQL is required: it is
//! reached at `postgres://postgres@127.0.0.1:5432/test` unless `RAMPART_TEST_POSTGRES_URL`
//! says otherwise, and a test fails (never skips) when it cannot be reached.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use rampart_core::{
    DocumentSelector, GLOBAL_TENANT, IndexError, InsertOutcome, MemoryKind, MemoryState, Owner, RetrievalIndex,
    Visibility,
};
use rampart_retrieval::{EmbeddedIndex, PostgresIndex, SealedIndex};
use support::{PostgresSchema, document, hashed_vector};

const NOW: i64 = 10_000;

fn tenant_view(tenant: &str) -> Visibility {
    Visibility::tenant(tenant, NOW)
}

fn user_view(tenant: &str, user: &str, session: Option<&str>) -> Visibility {
    Visibility { user: Some(user.into()), session: session.map(Into::into), ..tenant_view(tenant) }
}

async fn lexical_ids(index: &dyn RetrievalIndex, view: &Visibility, query: &str) -> Vec<String> {
    index.search_lexical(view, query, 50).await.unwrap().into_iter().map(|hit| hit.chunk_id).collect()
}

async fn vector_ids(index: &dyn RetrievalIndex, view: &Visibility, query: &str) -> Vec<String> {
    index.search_vector(view, &hashed_vector(query), 50).await.unwrap().into_iter().map(|hit| hit.chunk_id).collect()
}

async fn both_ids(index: &dyn RetrievalIndex, view: &Visibility, query: &str) -> Vec<String> {
    let mut ids = lexical_ids(index, view, query).await;
    ids.extend(vector_ids(index, view, query).await);
    ids
}

pub async fn duplicate_insert_is_idempotent(index: Arc<dyn RetrievalIndex>) {
    let doc = document(Owner::tenant("acme"), "handbook", &["Expenses are filed within thirty days."]);
    assert_eq!(index.insert(doc.clone()).await.unwrap(), InsertOutcome::Inserted);
    assert_eq!(index.insert(doc.clone()).await.unwrap(), InsertOutcome::AlreadyPresent);
    let listed = index.documents(&DocumentSelector { tenant: "acme".into(), ..Default::default() }, 0).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(lexical_ids(index.as_ref(), &tenant_view("acme"), "expenses filed").await.len(), 1);
}

pub async fn another_tenants_chunks_are_never_returned(index: Arc<dyn RetrievalIndex>) {
    let planted = document(
        Owner::tenant("globex"),
        "secret-plan",
        &["Project Falcon launches in March with budget nine million.", "Falcon supplier is Initech."],
    );
    let planted_ids: Vec<String> = planted.chunks.iter().map(|chunk| chunk.id.clone()).collect();
    index.insert(planted).await.unwrap();
    index.insert(document(Owner::tenant("acme"), "menu", &["The canteen serves soup on Fridays."])).await.unwrap();

    let acme = tenant_view("acme");
    for query in ["Project Falcon launches in March", "Falcon supplier Initech budget"] {
        let found = both_ids(index.as_ref(), &acme, query).await;
        assert!(found.iter().all(|id| !planted_ids.contains(id)), "acme saw globex's chunk for {query:?}: {found:?}");
    }
    assert!(index.chunks(&acme, &planted_ids).await.unwrap().is_empty());
    let acme_docs =
        index.documents(&DocumentSelector { tenant: "acme".into(), ..Default::default() }, 0).await.unwrap();
    assert!(acme_docs.iter().all(|doc| doc.owner.tenant == "acme"));
    // The owner sees them, so the isolation above is not an empty index.
    assert!(!lexical_ids(index.as_ref(), &tenant_view("globex"), "Falcon").await.is_empty());
    // A tenant with no partition at all gets nothing, without error.
    assert!(both_ids(index.as_ref(), &tenant_view("nobody"), "Falcon").await.is_empty());
}

pub async fn user_and_session_items_stay_with_their_owner(index: Arc<dyn RetrievalIndex>) {
    index
        .insert(document(Owner::user("acme", "ann"), "ann-notes", &["Ann prefers metric units always."]))
        .await
        .unwrap();
    index
        .insert(document(Owner::session("acme", "ann", "s1"), "scratch", &["Draft reply mentions metric conversion."]))
        .await
        .unwrap();
    let ann_s1 = user_view("acme", "ann", Some("s1"));
    let ann_s2 = user_view("acme", "ann", Some("s2"));
    let bob = user_view("acme", "bob", Some("s1"));
    assert_eq!(lexical_ids(index.as_ref(), &ann_s1, "metric").await.len(), 2);
    assert_eq!(lexical_ids(index.as_ref(), &ann_s2, "metric").await.len(), 1);
    assert!(both_ids(index.as_ref(), &bob, "metric units prefers").await.is_empty());
    assert!(both_ids(index.as_ref(), &tenant_view("acme"), "metric units").await.is_empty());
}

pub async fn only_active_unexpired_items_are_retrieved(index: Arc<dyn RetrievalIndex>) {
    let mut quarantined = document(Owner::tenant("acme"), "q", &["Quarantined claim about zebras."]);
    quarantined.document.state = MemoryState::Quarantined;
    let mut revoked = document(Owner::tenant("acme"), "r", &["Revoked claim about zebras."]);
    revoked.document.state = MemoryState::Revoked;
    let mut provisional = document(Owner::tenant("acme"), "p", &["Provisional claim about zebras."]);
    provisional.document.state = MemoryState::Provisional;
    let mut expired = document(Owner::tenant("acme"), "e", &["Expired claim about zebras."]);
    expired.document.expires_unix_ms = Some(NOW);
    let mut current = document(Owner::tenant("acme"), "c", &["Current claim about zebras."]);
    current.document.expires_unix_ms = Some(NOW + 1);
    let current_id = current.chunks[0].id.clone();
    for doc in [quarantined, revoked, provisional, expired, current] {
        index.insert(doc).await.unwrap();
    }
    let view = tenant_view("acme");
    assert_eq!(lexical_ids(index.as_ref(), &view, "claim zebras").await, vec![current_id.clone()]);
    assert_eq!(vector_ids(index.as_ref(), &view, "claim about zebras").await, vec![current_id.clone()]);

    // Quarantining the current one hides it; activating the quarantined one shows it.
    let by_state = |state| DocumentSelector { tenant: "acme".into(), state: Some(state), ..Default::default() };
    assert_eq!(index.set_state(&by_state(MemoryState::Quarantined), MemoryState::Active).await.unwrap(), 1);
    let found = lexical_ids(index.as_ref(), &view, "quarantined claim").await;
    assert_eq!(found.len(), 2, "{found:?}");

    // Expired items are deleted by the sweep, and only they.
    assert_eq!(index.delete_expired(NOW).await.unwrap(), 1);
    let left = index.documents(&DocumentSelector { tenant: "acme".into(), ..Default::default() }, 0).await.unwrap();
    assert_eq!(left.len(), 4);
    assert!(left.iter().all(|doc| doc.name != "e"));
}

pub async fn held_back_items_can_be_read_for_review_by_their_tenant_only(index: Arc<dyn RetrievalIndex>) {
    let mut held = document(Owner::tenant("acme"), "held", &["First held paragraph.", "Second held paragraph."]);
    held.document.state = MemoryState::Quarantined;
    let id = held.document.id.clone();
    let expected: Vec<String> = held.chunks.iter().map(|chunk| chunk.text.clone()).collect();
    index.insert(held).await.unwrap();
    let chunks = index.document_chunks("acme", &id).await.unwrap();
    assert_eq!(chunks.iter().map(|chunk| chunk.text.clone()).collect::<Vec<_>>(), expected);
    assert_eq!(chunks.iter().map(|chunk| chunk.index).collect::<Vec<_>>(), [0, 1]);
    assert!(index.document_chunks("globex", &id).await.unwrap().is_empty());
    assert!(index.document_chunks("acme", "no-such-document").await.unwrap().is_empty());
    // Still never retrieved.
    assert!(both_ids(index.as_ref(), &tenant_view("acme"), "held paragraph").await.is_empty());
}

pub async fn kinds_filter_and_global_items(index: Arc<dyn RetrievalIndex>) {
    let mut policy = document(Owner::global(), "constitution", &["Never reveal customer passwords."]);
    policy.document.kind = MemoryKind::Policy;
    index.insert(policy).await.unwrap();
    index.insert(document(Owner::tenant("acme"), "faq", &["Passwords reset via the portal."])).await.unwrap();
    let mut view = tenant_view("acme");
    assert_eq!(lexical_ids(index.as_ref(), &view, "passwords").await.len(), 2);
    assert_eq!(lexical_ids(index.as_ref(), &tenant_view("globex"), "passwords").await.len(), 1);
    view.kinds = vec![MemoryKind::Policy];
    assert_eq!(lexical_ids(index.as_ref(), &view, "passwords").await.len(), 1);
    view.kinds.clear();
    view.exclude_global = true;
    assert_eq!(vector_ids(index.as_ref(), &view, "passwords").await.len(), 1);
    let global =
        index.documents(&DocumentSelector { tenant: GLOBAL_TENANT.into(), ..Default::default() }, 0).await.unwrap();
    assert_eq!(global.len(), 1);
}

pub async fn delete_by_hash_prefix_and_citations(index: Arc<dyn RetrievalIndex>) {
    let doc = document(Owner::tenant("acme"), "guide", &["Install with make run.", "Test with make test."]);
    let hash = doc.document.hash.clone();
    index.insert(doc).await.unwrap();
    let other = document(Owner::tenant("acme"), "other", &["Make friends."]);
    index.insert(other).await.unwrap();
    let view = tenant_view("acme");
    let hits = index.search_lexical(&view, "make test", 10).await.unwrap();
    let ids: Vec<String> = hits.iter().map(|hit| hit.chunk_id.clone()).collect();
    let chunks = index.chunks(&view, &ids).await.unwrap();
    assert_eq!(chunks.len(), ids.len());
    for ((chunk, document), id) in chunks.iter().zip(&ids) {
        assert_eq!(&chunk.id, id, "chunks come back in the order asked");
        assert_eq!(chunk.document_hash, document.hash);
        assert!(chunk.text.to_lowercase().contains("make"));
    }
    assert_eq!(chunks[0].0.text, "Test with make test.");
    assert_eq!(chunks[0].0.heading, vec!["guide".to_string()]);

    let by_prefix =
        DocumentSelector { tenant: "acme".into(), hash_prefix: Some(hash[..8].into()), ..Default::default() };
    // Another tenant cannot delete it, even knowing the hash.
    let foreign = DocumentSelector { tenant: "globex".into(), ..by_prefix.clone() };
    assert_eq!(index.delete(&foreign).await.unwrap(), 0);
    assert_eq!(index.delete(&by_prefix).await.unwrap(), 1);
    assert_eq!(lexical_ids(index.as_ref(), &view, "install test").await.len(), 0);
    assert_eq!(lexical_ids(index.as_ref(), &view, "friends").await.len(), 1);
    assert!(index.chunks(&view, &ids).await.unwrap().iter().all(|(chunk, _)| chunk.document_hash != hash));
}

pub async fn bad_writes_are_refused(index: Arc<dyn RetrievalIndex>) {
    index.insert(document(Owner::tenant("acme"), "a", &["first"])).await.unwrap();
    let mut short = document(Owner::tenant("acme"), "b", &["second"]);
    short.chunks[0].embedding.truncate(8);
    let error = index.insert(short).await.unwrap_err();
    assert!(matches!(error, IndexError::Dimension { expected: 64, got: 8 }), "{error}");
    let mut empty = document(Owner::tenant("acme"), "c", &["third"]);
    empty.chunks.clear();
    assert!(matches!(index.insert(empty).await.unwrap_err(), IndexError::Invalid(_)));
    let mut ownerless = document(Owner::tenant("acme"), "d", &["fourth"]);
    ownerless.document.owner.user = Some("ann".into());
    assert!(matches!(index.insert(ownerless).await.unwrap_err(), IndexError::Invalid(_)));
    let wrong_query = index.search_vector(&tenant_view("acme"), &[1.0; 3], 5).await.unwrap_err();
    assert!(matches!(wrong_query, IndexError::Dimension { .. }));
}

macro_rules! suite {
    ($engine:ident, $open:expr) => {
        mod $engine {
            use super::*;

            async fn open() -> (Arc<dyn RetrievalIndex>, Box<dyn std::any::Any + Send>) {
                $open.await
            }

            suite!(@cases
                duplicate_insert_is_idempotent,
                another_tenants_chunks_are_never_returned,
                user_and_session_items_stay_with_their_owner,
                only_active_unexpired_items_are_retrieved,
                held_back_items_can_be_read_for_review_by_their_tenant_only,
                kinds_filter_and_global_items,
                delete_by_hash_prefix_and_citations,
                bad_writes_are_refused
            );
        }
    };
    (@cases $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (index, _guard) = open().await;
                super::$case(index).await;
            }
        )+
    };
}

suite!(embedded, async {
    let dir = tempfile::tempdir().unwrap();
    let index = EmbeddedIndex::open(dir.path()).unwrap();
    (Arc::new(index) as Arc<dyn RetrievalIndex>, Box::new(dir) as Box<dyn std::any::Any + Send>)
});

// The same suite through the encryption-at-rest layer: sealing must change nothing a caller
// sees (tests/sealed.rs checks that nothing readable is stored).
suite!(embedded_sealed, async {
    let dir = tempfile::tempdir().unwrap();
    let (cipher, keys) = support::key_ring().await;
    let index = SealedIndex::new(Arc::new(EmbeddedIndex::open(dir.path()).unwrap()), cipher);
    (Arc::new(index) as Arc<dyn RetrievalIndex>, Box::new((dir, keys)) as Box<dyn std::any::Any + Send>)
});

suite!(postgres_sealed, async {
    let schema = PostgresSchema::create().await;
    let (cipher, keys) = support::key_ring().await;
    let index = SealedIndex::new(Arc::new(PostgresIndex::open(&schema.url()).await.unwrap()), cipher);
    (Arc::new(index) as Arc<dyn RetrievalIndex>, Box::new((schema, keys)) as Box<dyn std::any::Any + Send>)
});

suite!(postgres, async {
    let schema = PostgresSchema::create().await;
    let index = PostgresIndex::open(&schema.url()).await.unwrap();
    (Arc::new(index) as Arc<dyn RetrievalIndex>, Box::new(schema) as Box<dyn std::any::Any + Send>)
});

/// Writes are durable: a reopened index holds what was acknowledged, vectors included.
#[tokio::test]
async fn embedded_index_reopens_with_everything_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    {
        let index = EmbeddedIndex::open(dir.path()).unwrap();
        for number in 0..30 {
            let text = format!("Report {number} covers the harbour crane inspection number {number}.");
            let doc = document(Owner::tenant("acme"), &format!("r{number}"), &[&text]);
            ids.push(doc.chunks[0].id.clone());
            index.insert(doc).await.unwrap();
        }
        let mut quarantine = DocumentSelector { tenant: "acme".into(), ..Default::default() };
        let documents = index.documents(&quarantine, 0).await.unwrap();
        let target = documents.iter().find(|doc| doc.name == "r7").unwrap();
        quarantine.hash_prefix = Some(target.hash.clone());
        assert_eq!(index.set_state(&quarantine, MemoryState::Quarantined).await.unwrap(), 1);
    }
    let index = EmbeddedIndex::open(dir.path()).unwrap();
    let view = tenant_view("acme");
    let documents =
        index.documents(&DocumentSelector { tenant: "acme".into(), ..Default::default() }, 0).await.unwrap();
    assert_eq!(documents.len(), 30);
    assert_eq!(documents.iter().filter(|doc| doc.state == MemoryState::Quarantined).count(), 1);
    let nearest = index
        .search_vector(&view, &hashed_vector("Report 12 covers the harbour crane inspection number 12."), 1)
        .await
        .unwrap();
    assert_eq!(nearest[0].chunk_id, ids[12]);
    assert!((nearest[0].score - 1.0).abs() < 1e-4);
    let lexical = lexical_ids(&index, &view, "harbour crane").await;
    assert_eq!(lexical.len(), 29);
    assert!(!lexical.contains(&ids[7]));
    assert!(index.disk_bytes().unwrap() > 0);
}

/// The graph path (more admitted vectors than the exact-scan limit) still filters inside
/// the walk: with half the corpus another user's, none of theirs comes back.
#[tokio::test]
async fn embedded_vector_search_filters_inside_the_graph_walk() {
    let dir = tempfile::tempdir().unwrap();
    let index = EmbeddedIndex::open(dir.path()).unwrap();
    let batch = (0..5_000)
        .map(|number| {
            let owner = if number % 2 == 0 { Owner::user("acme", "ann") } else { Owner::user("acme", "bob") };
            let text = format!("note {number} topic {} detail {}", number % 37, number % 11);
            document(owner, &format!("n{number}"), &[&text])
        })
        .collect();
    let outcomes = index.insert_batch(batch).await.unwrap();
    assert!(outcomes.iter().all(|outcome| *outcome == InsertOutcome::Inserted));
    let ann = user_view("acme", "ann", None);
    let hits = index.search_vector(&ann, &hashed_vector("topic 5 detail 3"), 20).await.unwrap();
    assert_eq!(hits.len(), 20);
    let ids: Vec<String> = hits.iter().map(|hit| hit.chunk_id.clone()).collect();
    let found = index.chunks(&ann, &ids).await.unwrap();
    assert_eq!(found.len(), 20, "every hit is one ann may read");
    assert!(found.iter().all(|(_, doc)| doc.owner.user.as_deref() == Some("ann")));
}
