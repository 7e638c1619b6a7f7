//! The embedded index: Tantivy (BM25) and an in-memory HNSW graph, one partition per tenant
//! in its own directory, plus one partition for `Global` items.
//!
//! A tenant's search opens only its own partition and the global one, so another tenant's
//! chunks are never read, scored or counted: BM25 statistics (document frequencies, average
//! length) are per tenant too. Inside a partition, the caller's visibility (scope, user,
//! session, kind, state, expiry) is a clause of the Tantivy query and a filter inside the
//! graph walk, never a filter after ranking. Within one tenant, BM25 statistics do include
//! the tenant's documents the caller cannot see (other users' items, quarantined ones).

mod hnsw;
mod partition;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rampart_core::{
    ChunkRecord, DocumentRecord, DocumentSelector, GLOBAL_TENANT, IndexError, InsertOutcome, MemoryState, NewDocument,
    RetrievalIndex, ScoredChunk, Visibility,
};
use sha2::{Digest, Sha256};

pub use hnsw::{Hnsw, HnswParams, dot};
use partition::Partition;

const GLOBAL_DIR: &str = "global";

/// The embedded [`RetrievalIndex`], rooted at one directory. Cheap to clone (shared).
#[derive(Clone)]
pub struct EmbeddedIndex {
    inner: Arc<Partitions>,
}

impl EmbeddedIndex {
    /// Opens the index under `root` (created when missing). Partitions open on first use.
    pub fn open(root: impl Into<PathBuf>) -> Result<EmbeddedIndex, IndexError> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|error| IndexError::Unavailable(format!("cannot create {}: {error}", root.display())))?;
        Ok(EmbeddedIndex { inner: Arc::new(Partitions { root, open: Mutex::default() }) })
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Bytes on disk, all partitions.
    pub fn disk_bytes(&self) -> Result<u64, IndexError> {
        Ok(self.inner.all_partitions()?.iter().map(|partition| partition.disk_bytes()).sum())
    }
}

struct Partitions {
    root: PathBuf,
    open: Mutex<HashMap<String, Arc<Partition>>>,
}

impl Partitions {
    /// A tenant's directory name: a hash, so any tenant name is a safe file name and the
    /// listing does not spell out customers.
    fn dir_name(tenant: &str) -> String {
        if tenant == GLOBAL_TENANT {
            return GLOBAL_DIR.into();
        }
        let digest = Sha256::digest(tenant.as_bytes());
        format!("t-{}", &hex::encode(digest)[..32])
    }

    /// The partition of `tenant`; `None` when it has none and `create` is false.
    fn partition(&self, tenant: &str, create: bool) -> Result<Option<Arc<Partition>>, IndexError> {
        let name = Self::dir_name(tenant);
        let mut partitions = self
            .open
            .lock()
            .map_err(|_| IndexError::Unavailable("the partition table lock was poisoned; restart Rampart".into()))?;
        if let Some(partition) = partitions.get(&name) {
            return Ok(Some(partition.clone()));
        }
        let dir = self.root.join(&name);
        if !create && !dir.join("meta.json").exists() {
            return Ok(None);
        }
        let partition = Arc::new(Partition::open(&dir)?);
        if create {
            // Name the tenant inside its directory, for operators; best effort.
            let _ = std::fs::write(dir.join("TENANT"), tenant.as_bytes());
        }
        partitions.insert(name, partition.clone());
        Ok(Some(partition))
    }

    /// The partitions a caller reads: its tenant's, then the global one.
    fn readable(&self, visibility: &Visibility) -> Result<Vec<Arc<Partition>>, IndexError> {
        let mut readable = Vec::new();
        if visibility.tenant != GLOBAL_TENANT {
            readable.extend(self.partition(&visibility.tenant, false)?);
        }
        if !visibility.exclude_global {
            readable.extend(self.partition(GLOBAL_TENANT, false)?);
        }
        Ok(readable)
    }

    /// Every partition on disk (for expiry and operator listings).
    fn all_partitions(&self) -> Result<Vec<Arc<Partition>>, IndexError> {
        let entries = std::fs::read_dir(&self.root)
            .map_err(|error| IndexError::Unavailable(format!("cannot list {}: {error}", self.root.display())))?;
        let mut tenants = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.join("meta.json").exists() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == GLOBAL_DIR {
                tenants.push(GLOBAL_TENANT.to_owned());
            } else if let Ok(tenant) = std::fs::read_to_string(path.join("TENANT")) {
                tenants.push(tenant);
            }
        }
        let mut partitions = Vec::new();
        for tenant in tenants {
            partitions.extend(self.partition(&tenant, false)?);
        }
        Ok(partitions)
    }
}

/// Runs blocking index work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, IndexError> + Send + 'static,
) -> Result<T, IndexError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| IndexError::Unavailable(format!("index task failed: {error}")))?
}

/// Best `limit` of several partitions' hits, by score.
fn merge(mut hits: Vec<ScoredChunk>, limit: usize) -> Vec<ScoredChunk> {
    hits.sort_by(|left, right| right.score.total_cmp(&left.score).then_with(|| left.chunk_id.cmp(&right.chunk_id)));
    hits.truncate(limit);
    hits
}

#[async_trait]
impl RetrievalIndex for EmbeddedIndex {
    async fn insert_batch(&self, documents: Vec<NewDocument>) -> Result<Vec<InsertOutcome>, IndexError> {
        for document in &documents {
            document.document.owner.validate().map_err(IndexError::Invalid)?;
        }
        let index = self.inner.clone();
        blocking(move || {
            let count = documents.len();
            let mut by_tenant: HashMap<String, Vec<(usize, NewDocument)>> = HashMap::new();
            for (position, document) in documents.into_iter().enumerate() {
                by_tenant.entry(document.document.owner.tenant.clone()).or_default().push((position, document));
            }
            let mut outcomes = vec![InsertOutcome::AlreadyPresent; count];
            for (tenant, batch) in by_tenant {
                let partition = index
                    .partition(&tenant, true)?
                    .ok_or_else(|| IndexError::Unavailable("partition did not open".into()))?;
                let (positions, batch): (Vec<usize>, Vec<NewDocument>) = batch.into_iter().unzip();
                for (position, outcome) in positions.into_iter().zip(partition.insert(batch)?) {
                    outcomes[position] = outcome;
                }
            }
            Ok(outcomes)
        })
        .await
    }

    async fn search_lexical(
        &self,
        visibility: &Visibility,
        query: &str,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        let (index, visibility, query) = (self.inner.clone(), visibility.clone(), query.to_owned());
        blocking(move || {
            let mut hits = Vec::new();
            for partition in index.readable(&visibility)? {
                hits.extend(partition.search_lexical(&visibility, &query, limit)?);
            }
            Ok(merge(hits, limit))
        })
        .await
    }

    async fn search_vector(
        &self,
        visibility: &Visibility,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        let (index, visibility, vector) = (self.inner.clone(), visibility.clone(), vector.to_vec());
        blocking(move || {
            let mut hits = Vec::new();
            for partition in index.readable(&visibility)? {
                hits.extend(partition.search_vector(&visibility, &vector, limit)?);
            }
            Ok(merge(hits, limit))
        })
        .await
    }

    async fn chunks(
        &self,
        visibility: &Visibility,
        ids: &[String],
    ) -> Result<Vec<(ChunkRecord, DocumentRecord)>, IndexError> {
        let (index, visibility, ids) = (self.inner.clone(), visibility.clone(), ids.to_vec());
        blocking(move || {
            let mut found = Vec::new();
            for partition in index.readable(&visibility)? {
                found.extend(partition.chunks(&visibility, &ids)?);
            }
            let position = |id: &str| ids.iter().position(|wanted| wanted == id).unwrap_or(usize::MAX);
            found.sort_by_key(|(chunk, _)| position(&chunk.id));
            Ok(found)
        })
        .await
    }

    async fn document_chunks(&self, tenant: &str, document_id: &str) -> Result<Vec<ChunkRecord>, IndexError> {
        let (index, tenant, document_id) = (self.inner.clone(), tenant.to_owned(), document_id.to_owned());
        blocking(move || match index.partition(&tenant, false)? {
            Some(partition) => partition.document_chunks(&document_id),
            None => Ok(Vec::new()),
        })
        .await
    }

    async fn documents(&self, selector: &DocumentSelector, limit: usize) -> Result<Vec<DocumentRecord>, IndexError> {
        let (index, selector) = (self.inner.clone(), selector.clone());
        blocking(move || {
            let Some(partition) = index.partition(&selector.tenant, false)? else {
                return Ok(Vec::new());
            };
            let mut documents = partition.documents(&selector)?;
            documents.sort_by(|left, right| {
                right.created_unix_ms.cmp(&left.created_unix_ms).then_with(|| left.id.cmp(&right.id))
            });
            if limit > 0 {
                documents.truncate(limit);
            }
            Ok(documents)
        })
        .await
    }

    async fn set_state(&self, selector: &DocumentSelector, state: MemoryState) -> Result<u64, IndexError> {
        let (index, selector) = (self.inner.clone(), selector.clone());
        blocking(move || match index.partition(&selector.tenant, false)? {
            Some(partition) => partition.set_state(&selector, state),
            None => Ok(0),
        })
        .await
    }

    async fn delete(&self, selector: &DocumentSelector) -> Result<u64, IndexError> {
        let (index, selector) = (self.inner.clone(), selector.clone());
        blocking(move || match index.partition(&selector.tenant, false)? {
            Some(partition) => partition.delete(&selector),
            None => Ok(0),
        })
        .await
    }

    async fn delete_expired(&self, now_unix_ms: i64) -> Result<u64, IndexError> {
        let index = self.inner.clone();
        blocking(move || {
            let mut deleted = 0;
            for partition in index.all_partitions()? {
                deleted += partition.delete_expired(now_unix_ms)?;
            }
            Ok(deleted)
        })
        .await
    }
}
