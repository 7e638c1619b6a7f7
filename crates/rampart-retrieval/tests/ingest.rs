//! The ingest pipeline and hybrid search over the embedded index, end to end (the embedder
//! is feature hashing; the binary's tests use the embedded MiniLM).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use rampart_core::{MemoryKind, Owner, RetrievalIndex, Visibility};
use rampart_ingest::ParseError;
use rampart_retrieval::{
    EmbeddedIndex, FusionWeights, IngestError, IngestRequest, IngestSettings, Ingestor, Retriever, SearchMode,
    SearchRequest,
};
use support::HashingEmbedder;

const GUIDE: &str = "# Operations guide\n\n## Backups\n\nBackups run nightly at 02:00 and are kept for 35 days. \
Restores are tested every quarter.\n\n## Certificates\n\nTLS certificates renew automatically thirty days \
before they expire. The renewal log lives in /var/log/certs.\n";

fn setup() -> (tempfile::TempDir, Ingestor, Retriever) {
    let dir = tempfile::tempdir().unwrap();
    let index: Arc<dyn RetrievalIndex> = Arc::new(EmbeddedIndex::open(dir.path()).unwrap());
    let embedder = Arc::new(HashingEmbedder);
    let ingestor = Ingestor::new(index.clone(), embedder.clone(), IngestSettings::default());
    let retriever = Retriever::new(index, embedder, FusionWeights::default());
    (dir, ingestor, retriever)
}

fn request(name: &str, bytes: &[u8], owner: Owner) -> IngestRequest {
    IngestRequest::file(name, bytes.to_vec(), owner, MemoryKind::Fact)
}

fn search(query: &str, tenant: &str, mode: SearchMode) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        visibility: Visibility::tenant(tenant, rampart_core::unix_now_millis()),
        limit: 5,
        mode,
        candidates: 50,
        weights: None,
    }
}

#[tokio::test]
async fn the_same_bytes_twice_are_one_document_per_owner() {
    let (_dir, ingestor, retriever) = setup();
    let first = ingestor.ingest(request("ops.md", GUIDE.as_bytes(), Owner::tenant("acme"))).await.unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.format, "markdown");
    assert!(first.chunks >= 2, "one chunk per section at least: {first:?}");
    let again = ingestor.ingest(request("renamed.md", GUIDE.as_bytes(), Owner::tenant("acme"))).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.document_id, first.document_id);
    assert_eq!(again.name, "ops.md", "the first name stays");
    let other_tenant = ingestor.ingest(request("ops.md", GUIDE.as_bytes(), Owner::tenant("globex"))).await.unwrap();
    assert!(!other_tenant.duplicate, "another tenant's copy is its own document");
    assert_ne!(other_tenant.document_id, first.document_id);
    let hits = retriever.search(&search("how long are backups kept", "acme", SearchMode::Hybrid)).await.unwrap();
    assert_eq!(hits.iter().filter(|hit| hit.chunk.text.contains("35 days")).count(), 1);
}

#[tokio::test]
async fn results_cite_real_chunks_with_their_headings() {
    let (_dir, ingestor, retriever) = setup();
    let ingested = ingestor.ingest(request("ops.md", GUIDE.as_bytes(), Owner::tenant("acme"))).await.unwrap();
    for mode in [SearchMode::Hybrid, SearchMode::Lexical, SearchMode::Vector] {
        let hits = retriever.search(&search("certificates renew before they expire", "acme", mode)).await.unwrap();
        let top = hits.first().unwrap_or_else(|| panic!("{mode:?} found nothing"));
        assert_eq!(top.document.id, ingested.document_id);
        assert_eq!(top.document.hash, ingested.hash);
        assert!(top.chunk.id.starts_with(&ingested.document_id));
        assert!(GUIDE.contains(top.chunk.text.lines().next().unwrap()), "{:?}", top.chunk.text);
        assert!(top.chunk.text.contains("renew automatically"), "{mode:?}: {:?}", top.chunk.text);
        assert_eq!(top.chunk.heading.last().map(String::as_str), Some("Certificates"));
        assert_eq!(top.document.provenance.embedding_model.as_deref(), Some("hashing-64"));
        match mode {
            SearchMode::Hybrid => assert!(top.lexical.is_some() && top.vector.is_some()),
            SearchMode::Lexical => assert!(top.lexical.is_some() && top.vector.is_none()),
            SearchMode::Vector => assert!(top.vector.is_some() && top.lexical.is_none()),
        }
    }
    let globex = retriever.search(&search("certificates renew", "globex", SearchMode::Hybrid)).await.unwrap();
    assert!(globex.is_empty());
}

#[tokio::test]
async fn each_bad_file_gets_its_own_error_and_the_rest_go_on() {
    let (_dir, ingestor, _retriever) = setup();
    let owner = Owner::tenant("acme");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0..4096u32).map(|value| (value.wrapping_mul(2_654_435_761) >> 24) as u8));
    let huge = vec![b'a'; 100 * 1024 * 1024];
    let batch = vec![
        request("empty.txt", b"", owner.clone()),
        request("picture.png", &png, owner.clone()),
        request("broken.pdf", b"%PDF-1.7\n1 0 obj <<", owner.clone()),
        request("huge.txt", &huge, owner.clone()),
        request("good.md", GUIDE.as_bytes(), owner.clone()),
    ];
    let mut outcomes = Vec::new();
    for file in batch {
        outcomes.push(ingestor.ingest(file).await);
    }
    assert!(matches!(outcomes[0], Err(IngestError::Parse(ParseError::Empty))), "{:?}", outcomes[0]);
    assert!(
        matches!(outcomes[1], Err(IngestError::Parse(ParseError::Binary | ParseError::Unsupported { .. }))),
        "{:?}",
        outcomes[1]
    );
    assert!(matches!(outcomes[2], Err(IngestError::Parse(ParseError::Corrupt { .. }))), "{:?}", outcomes[2]);
    let too_large = outcomes[3].as_ref().unwrap_err().to_string();
    assert!(too_large.contains("max_file_bytes"), "{too_large}");
    assert!(outcomes[4].as_ref().is_ok_and(|ingested| ingested.chunks > 0));
}

#[tokio::test]
async fn bad_searches_are_refused_with_a_reason() {
    let (_dir, _ingestor, retriever) = setup();
    let mut empty = search("   ", "acme", SearchMode::Hybrid);
    assert!(retriever.search(&empty).await.unwrap_err().to_string().contains("empty"));
    empty.query = "backups".into();
    empty.limit = 0;
    assert!(retriever.search(&empty).await.unwrap_err().to_string().contains("limit"));
    empty.limit = 5;
    empty.weights = Some(FusionWeights { lexical: 0.0, vector: 0.0, k: 60.0 });
    assert!(retriever.search(&empty).await.is_err());
}
