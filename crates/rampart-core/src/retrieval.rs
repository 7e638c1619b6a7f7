//! Memory and retrieval as stored: chunks of documents and memory items, each owned by a
//! tenant and a scope, typed, with a lifecycle state and an optional expiry, searchable by
//! words (BM25) and by meaning (vectors).
//!
//! Visibility is part of every search call ([`Visibility`]), so an index applies it while it
//! searches (pre-filtering) and never ranks what the caller may not see. Engines keep each
//! tenant's chunks apart (the embedded index in its own partition, PostgreSQL by a mandatory
//! predicate), so no corpus statistic of one tenant reaches another tenant's scores.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Who may see a memory item: the security boundary it lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryScope {
    /// Every tenant reads it; only operators write it (safety rules, shared knowledge).
    Global,
    /// Everyone in one tenant.
    Tenant,
    /// One user of one tenant.
    User,
    /// One session of one user; volatile, collected when its time runs out.
    Session,
}

/// What a memory item means, which decides who may write it and how long it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryKind {
    /// Normative rules. Never writable by an agent or user role.
    Policy,
    /// Stable personalisation; user-deletable.
    Preference,
    /// Durable assertions with provenance (ingested documents are facts).
    Fact,
    /// Summaries of what happened, not what to always do.
    Episodic,
    /// Raw execution events.
    Trace,
}

/// Where a memory item is in its lifecycle. Only `Active` items are ever retrieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryState {
    /// Proposed, not yet through the memory gate.
    Provisional,
    Active,
    /// Held back by the gate for review.
    Quarantined,
    /// Withdrawn; kept only as a record.
    Revoked,
}

macro_rules! wire_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let lowered = text.trim().to_ascii_lowercase();
                $ty::ALL.iter().copied().find(|value| value.as_str() == lowered).ok_or_else(|| {
                    let names: Vec<&str> = $ty::ALL.iter().map(|value| value.as_str()).collect();
                    format!("unknown {} `{text}`; expected one of: {}", stringify!($ty), names.join(", "))
                })
            }
        }
    };
}

wire_names!(MemoryScope { Global => "global", Tenant => "tenant", User => "user", Session => "session" });
wire_names!(MemoryKind {
    Policy => "policy",
    Preference => "preference",
    Fact => "fact",
    Episodic => "episodic",
    Trace => "trace",
});
wire_names!(MemoryState {
    Provisional => "provisional",
    Active => "active",
    Quarantined => "quarantined",
    Revoked => "revoked",
});

/// The tenant that owns `Global` items (no real tenant can be named this: tenant names are
/// checked at the edge).
pub const GLOBAL_TENANT: &str = "*global*";

/// Who owns a memory item. `user` is set for `User` and `Session` scope, `session` for
/// `Session` scope only; [`Owner::validate`] holds that shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    pub tenant: String,
    pub scope: MemoryScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl Owner {
    pub fn global() -> Self {
        Owner { tenant: GLOBAL_TENANT.into(), scope: MemoryScope::Global, user: None, session: None }
    }

    pub fn tenant(tenant: impl Into<String>) -> Self {
        Owner { tenant: tenant.into(), scope: MemoryScope::Tenant, user: None, session: None }
    }

    pub fn user(tenant: impl Into<String>, user: impl Into<String>) -> Self {
        Owner { tenant: tenant.into(), scope: MemoryScope::User, user: Some(user.into()), session: None }
    }

    pub fn session(tenant: impl Into<String>, user: impl Into<String>, session: impl Into<String>) -> Self {
        Owner {
            tenant: tenant.into(),
            scope: MemoryScope::Session,
            user: Some(user.into()),
            session: Some(session.into()),
        }
    }

    /// The owner fields agree with the scope.
    pub fn validate(&self) -> Result<(), String> {
        let has_user = self.user.as_deref().is_some_and(|user| !user.is_empty());
        let has_session = self.session.as_deref().is_some_and(|session| !session.is_empty());
        match self.scope {
            MemoryScope::Global if self.tenant != GLOBAL_TENANT => Err("global memory belongs to no tenant".into()),
            MemoryScope::Global | MemoryScope::Tenant if has_user || has_session => {
                Err(format!("{} memory has no user or session", self.scope))
            }
            MemoryScope::User if !has_user || has_session => Err("user memory needs a user and no session".into()),
            MemoryScope::Session if !has_user || !has_session => {
                Err("session memory needs a user and a session".into())
            }
            _ if self.scope != MemoryScope::Global && (self.tenant.is_empty() || self.tenant == GLOBAL_TENANT) => {
                Err("memory needs a tenant".into())
            }
            _ => Ok(()),
        }
    }
}

/// Where an item came from, so a reader can judge it and an operator can revoke by source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// File name, URL, tool call id, or agent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Who wrote it (a user id, an API key name, an agent id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The embedding model that made the vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
    /// The request or run that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Policy snapshot and gate steps passed, in order (`sanitize`, `validators`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gate: Vec<String>,
}

/// A document (or one memory item) as the index knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRecord {
    /// Names the document inside its tenant: derived from the owner and the hash, so the
    /// same bytes under two owners are two documents and neither can learn of the other.
    pub id: String,
    /// SHA-256 of the original bytes, lowercase hex: the content address.
    pub hash: String,
    pub owner: Owner,
    pub kind: MemoryKind,
    pub state: MemoryState,
    /// The file name or title it was ingested under.
    pub name: String,
    /// `txt`, `md`, `pdf`, … or `memory` for items written directly.
    pub format: String,
    pub chunk_count: u32,
    pub created_unix_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_unix_ms: Option<i64>,
    #[serde(default)]
    pub provenance: Provenance,
}

/// One retrievable passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRecord {
    /// `<document id>:<index>`, stable across re-ingests of the same bytes.
    pub id: String,
    pub document_hash: String,
    pub index: u32,
    /// Heading path of the section it came from (`["Install", "Linux"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heading: Vec<String>,
    pub text: String,
    /// Unit length (the index checks the dimension per partition).
    #[serde(skip)]
    pub embedding: Vec<f32>,
    /// `heading` and `text` sealed at rest (see `rampart_retrieval::SealedIndex`). When set on
    /// insert, an engine indexes `heading` and `text` for search but stores only these bytes;
    /// reads then hand them back with `heading` and `text` empty, for the sealing layer to open.
    #[serde(skip)]
    pub sealed: Option<Vec<u8>>,
}

impl ChunkRecord {
    pub fn chunk_id(document_id: &str, index: u32) -> String {
        format!("{document_id}:{index}")
    }

    /// The document id part of a chunk id.
    pub fn document_id_of(chunk_id: &str) -> &str {
        chunk_id.rsplit_once(':').map_or(chunk_id, |(document, _)| document)
    }
}

/// A document and its chunks, written together.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub document: DocumentRecord,
    pub chunks: Vec<ChunkRecord>,
}

/// What one caller may see, applied inside every search.
///
/// Always: `Global` items, and `Tenant` items of `tenant`. With `user`: that user's items.
/// With `user` and `session`: that session's items. Only `Active` items that have not expired
/// at `now_unix_ms`, and of `kinds` when that is not empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Visibility {
    pub tenant: String,
    pub user: Option<String>,
    pub session: Option<String>,
    pub kinds: Vec<MemoryKind>,
    pub now_unix_ms: i64,
    /// Leave out `Global` items (a caller that wants only its tenant's documents).
    pub exclude_global: bool,
}

impl Visibility {
    pub fn tenant(tenant: impl Into<String>, now_unix_ms: i64) -> Self {
        Visibility {
            tenant: tenant.into(),
            user: None,
            session: None,
            kinds: Vec::new(),
            now_unix_ms,
            exclude_global: false,
        }
    }

    /// The rule itself, for engines that evaluate it in code (and for tests).
    pub fn admits(&self, document: &DocumentRecord) -> bool {
        if document.state != MemoryState::Active {
            return false;
        }
        if document.expires_unix_ms.is_some_and(|expires| expires <= self.now_unix_ms) {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.contains(&document.kind) {
            return false;
        }
        let owner = &document.owner;
        match owner.scope {
            MemoryScope::Global => !self.exclude_global,
            MemoryScope::Tenant => owner.tenant == self.tenant,
            MemoryScope::User => owner.tenant == self.tenant && owner.user.is_some() && owner.user == self.user,
            MemoryScope::Session => {
                owner.tenant == self.tenant
                    && owner.user.is_some()
                    && owner.user == self.user
                    && owner.session.is_some()
                    && owner.session == self.session
            }
        }
    }
}

/// One search result from one retriever, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredChunk {
    pub chunk_id: String,
    /// BM25 score (lexical) or cosine similarity (vector).
    pub score: f32,
}

/// Which documents a list, state change or delete applies to, inside one tenant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocumentSelector {
    pub tenant: String,
    /// Lowercase hex prefix of the content hash (at least 4 characters at the edge).
    pub hash_prefix: Option<String>,
    pub scope: Option<MemoryScope>,
    pub user: Option<String>,
    pub session: Option<String>,
    pub kind: Option<MemoryKind>,
    pub state: Option<MemoryState>,
}

impl DocumentSelector {
    pub fn matches(&self, document: &DocumentRecord) -> bool {
        let owner = &document.owner;
        owner.tenant == self.tenant
            && self.hash_prefix.as_deref().is_none_or(|prefix| document.hash.starts_with(prefix))
            && self.scope.is_none_or(|scope| owner.scope == scope)
            && self.user.as_deref().is_none_or(|user| owner.user.as_deref() == Some(user))
            && self.session.as_deref().is_none_or(|session| owner.session.as_deref() == Some(session))
            && self.kind.is_none_or(|kind| document.kind == kind)
            && self.state.is_none_or(|state| document.state == state)
    }
}

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted,
    /// The same bytes under the same owner were there already; nothing changed.
    AlreadyPresent,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the index is unavailable: {0}")]
    Unavailable(String),
    #[error("invalid request to the index: {0}")]
    Invalid(String),
    /// Vectors of a different length than the partition's (another embedding model).
    #[error(
        "embedding dimension {got} does not match the index's {expected}; \
         the index was built with another embedding model (re-ingest, or configure the same model)"
    )]
    Dimension { expected: usize, got: usize },
    #[error("the index is corrupt: {0}")]
    Corrupt(String),
}

/// A searchable store of documents and their chunks. Implementations: the embedded index
/// (Tantivy BM25 + HNSW, one partition per tenant) and PostgreSQL.
#[async_trait]
pub trait RetrievalIndex: Send + Sync {
    /// Writes a document and its chunks durably, or nothing when a document with the same
    /// hash and owner is there already (duplicate ingest is idempotent).
    async fn insert(&self, document: NewDocument) -> Result<InsertOutcome, IndexError> {
        let mut outcomes = self.insert_batch(vec![document]).await?;
        outcomes.pop().ok_or_else(|| IndexError::Unavailable("the index answered no outcome".into()))
    }

    /// [`RetrievalIndex::insert`] for many documents in one durable write per tenant; one
    /// outcome per document, in order. A batch that fails writes nothing of its tenant.
    async fn insert_batch(&self, documents: Vec<NewDocument>) -> Result<Vec<InsertOutcome>, IndexError>;

    /// Best `limit` chunks by BM25 among those `visibility` admits.
    async fn search_lexical(
        &self,
        visibility: &Visibility,
        query: &str,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError>;

    /// Best `limit` chunks by cosine similarity among those `visibility` admits.
    async fn search_vector(
        &self,
        visibility: &Visibility,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError>;

    /// The chunks with these ids that `visibility` admits, each with its document, in the
    /// order asked (unknown or invisible ids are left out).
    async fn chunks(
        &self,
        visibility: &Visibility,
        ids: &[String],
    ) -> Result<Vec<(ChunkRecord, DocumentRecord)>, IndexError>;

    /// Every chunk of one document of `tenant`, in order, whatever the document's state: what
    /// a curator reads to review quarantined memory. Callers decide first, from the record
    /// ([`RetrievalIndex::documents`]), whether the reader may manage it. Empty when the
    /// tenant holds no such document.
    async fn document_chunks(&self, tenant: &str, document_id: &str) -> Result<Vec<ChunkRecord>, IndexError>;

    /// Documents the selector matches, newest first, at most `limit` (0: all).
    async fn documents(&self, selector: &DocumentSelector, limit: usize) -> Result<Vec<DocumentRecord>, IndexError>;

    /// Moves the matching documents to `state`; returns how many changed.
    async fn set_state(&self, selector: &DocumentSelector, state: MemoryState) -> Result<u64, IndexError>;

    /// Deletes the matching documents and their chunks; returns how many.
    async fn delete(&self, selector: &DocumentSelector) -> Result<u64, IndexError>;

    /// Deletes every document (all tenants) that expired at or before `now_unix_ms`.
    async fn delete_expired(&self, now_unix_ms: i64) -> Result<u64, IndexError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(owner: Owner) -> DocumentRecord {
        DocumentRecord {
            id: "d1".into(),
            hash: "ab".repeat(32),
            owner,
            kind: MemoryKind::Fact,
            state: MemoryState::Active,
            name: "a.txt".into(),
            format: "txt".into(),
            chunk_count: 1,
            created_unix_ms: 0,
            expires_unix_ms: None,
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn visibility_admits_only_what_the_caller_owns() {
        let mut caller = Visibility::tenant("acme", 1_000);
        caller.user = Some("ann".into());
        caller.session = Some("s1".into());
        assert!(caller.admits(&document(Owner::global())));
        assert!(caller.admits(&document(Owner::tenant("acme"))));
        assert!(!caller.admits(&document(Owner::tenant("globex"))));
        assert!(caller.admits(&document(Owner::user("acme", "ann"))));
        assert!(!caller.admits(&document(Owner::user("acme", "bob"))));
        assert!(!caller.admits(&document(Owner::user("globex", "ann"))));
        assert!(caller.admits(&document(Owner::session("acme", "ann", "s1"))));
        assert!(!caller.admits(&document(Owner::session("acme", "ann", "s2"))));

        let anonymous = Visibility::tenant("acme", 1_000);
        assert!(!anonymous.admits(&document(Owner::user("acme", "ann"))));
        let mut quarantined = document(Owner::tenant("acme"));
        quarantined.state = MemoryState::Quarantined;
        assert!(!caller.admits(&quarantined));
        let mut expired = document(Owner::tenant("acme"));
        expired.expires_unix_ms = Some(1_000);
        assert!(!caller.admits(&expired));
        expired.expires_unix_ms = Some(1_001);
        assert!(caller.admits(&expired));
    }

    #[test]
    fn owners_are_checked_against_their_scope() {
        assert!(Owner::tenant("acme").validate().is_ok());
        assert!(Owner::global().validate().is_ok());
        assert!(Owner::session("acme", "ann", "s1").validate().is_ok());
        assert!(Owner::tenant("").validate().is_err());
        assert!(Owner::tenant(GLOBAL_TENANT).validate().is_err());
        let mut user_without_id = Owner::user("acme", "ann");
        user_without_id.user = None;
        assert!(user_without_id.validate().is_err());
        let mut global_with_user = Owner::global();
        global_with_user.user = Some("ann".into());
        assert!(global_with_user.validate().is_err());
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for kind in MemoryKind::ALL {
            assert_eq!(kind.as_str().parse::<MemoryKind>(), Ok(*kind));
        }
        let error = "belief".parse::<MemoryKind>().unwrap_err();
        assert!(error.contains("policy, preference, fact, episodic, trace"), "{error}");
        assert_eq!("ACTIVE".parse::<MemoryState>(), Ok(MemoryState::Active));
    }
}
