//! One tenant's partition: a Tantivy index on disk (the durable copy: every write is one
//! commit, fsynced before it is acknowledged) and, in memory, the document records and an
//! HNSW graph over the chunk vectors, rebuilt from the index when the partition opens.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use rampart_core::{
    ChunkRecord, DocumentRecord, DocumentSelector, IndexError, InsertOutcome, MemoryState, NewDocument, ScoredChunk,
    Visibility,
};
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery, TermSetQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::hnsw::{Hnsw, HnswParams, dot};
use super::schema::{self, Fields};

/// Below this many admitted vectors a search scans them exactly: as fast as the graph at
/// that size, and exact however selective the caller's visibility is.
const EXACT_SCAN_LIMIT: usize = 2_048;
/// Heap given to Tantivy's single indexing thread.
const WRITER_HEAP_BYTES: usize = 32 * 1024 * 1024;

fn engine(error: impl std::fmt::Display) -> IndexError {
    IndexError::Unavailable(format!("search index: {error}"))
}

/// Documents and vectors in memory, keyed by slot (a document's position in load order).
#[derive(Default)]
struct Memory {
    slot_of: HashMap<String, u32>,
    /// `None` once deleted; slots are never reused, so graph nodes never point at the wrong
    /// document.
    documents: Vec<Option<DocumentRecord>>,
    graph: Option<Hnsw>,
    node_slot: Vec<u32>,
    node_chunk: Vec<String>,
}

impl Memory {
    fn add_document(&mut self, document: DocumentRecord) -> u32 {
        let slot = self.documents.len() as u32;
        self.slot_of.insert(document.id.clone(), slot);
        self.documents.push(Some(document));
        slot
    }

    fn add_vector(&mut self, slot: u32, chunk_id: String, vector: &[f32]) -> Result<(), IndexError> {
        let graph = self.graph.get_or_insert_with(|| Hnsw::new(vector.len(), HnswParams::default()));
        if graph.dimension() != vector.len() {
            return Err(IndexError::Dimension { expected: graph.dimension(), got: vector.len() });
        }
        graph.insert(vector);
        self.node_slot.push(slot);
        self.node_chunk.push(chunk_id);
        Ok(())
    }

    fn live(&self) -> impl Iterator<Item = &DocumentRecord> {
        self.documents.iter().flatten()
    }

    /// Per slot: may this caller see the document?
    fn admitted(&self, visibility: &Visibility) -> Vec<bool> {
        self.documents
            .iter()
            .map(|document| document.as_ref().is_some_and(|document| visibility.admits(document)))
            .collect()
    }
}

pub struct Partition {
    dir: PathBuf,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    memory: RwLock<Memory>,
}

impl Partition {
    /// Opens (or creates) the partition in `dir` and loads it into memory.
    pub fn open(dir: &Path) -> Result<Partition, IndexError> {
        std::fs::create_dir_all(dir)
            .map_err(|error| IndexError::Unavailable(format!("cannot create {}: {error}", dir.display())))?;
        let (schema, fields) = Fields::schema();
        let directory = MmapDirectory::open(dir).map_err(engine)?;
        let index = Index::open_or_create(directory, schema).map_err(|error| match error {
            tantivy::TantivyError::SchemaError(message) => IndexError::Corrupt(format!(
                "{} holds an index of another layout ({message}); move it away and re-ingest",
                dir.display()
            )),
            other => engine(other),
        })?;
        index.tokenizers().register(schema::ANALYZER, schema::analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(engine)?;
        let writer = index.writer_with_num_threads(1, WRITER_HEAP_BYTES).map_err(|error| match error {
            tantivy::TantivyError::LockFailure(..) => IndexError::Unavailable(format!(
                "{} is in use by another Rampart process (one process owns an index directory; \
                 send documents to the running server instead)",
                dir.display()
            )),
            other => engine(other),
        })?;
        let partition =
            Partition { dir: dir.to_owned(), fields, reader, writer: Mutex::new(writer), memory: RwLock::default() };
        partition.load()?;
        Ok(partition)
    }

    /// Reads every row back: document records first, then chunk vectors in document and
    /// chunk order, so the graph is the same on every start.
    fn load(&self) -> Result<(), IndexError> {
        let searcher = self.reader.searcher();
        let addresses = searcher.search(&AllQuery, &DocSetCollector).map_err(engine)?;
        let mut memory = Memory::default();
        let mut chunks: Vec<(String, ChunkRecord)> = Vec::new();
        for address in addresses {
            let row: TantivyDocument = searcher.doc(address).map_err(engine)?;
            if row.get_first(self.fields.record).is_some() {
                memory.add_document(self.fields.read_document(&row)?);
            } else {
                chunks.push(self.fields.read_chunk(&row)?);
            }
        }
        memory.documents.sort_by(|left, right| {
            let key = |document: &Option<DocumentRecord>| document.as_ref().map(|d| (d.created_unix_ms, d.id.clone()));
            key(left).cmp(&key(right))
        });
        memory.slot_of = memory
            .documents
            .iter()
            .enumerate()
            .filter_map(|(slot, document)| document.as_ref().map(|document| (document.id.clone(), slot as u32)))
            .collect();
        chunks.sort_by(|left, right| {
            let slot = |id: &str| memory.slot_of.get(id).copied().unwrap_or(u32::MAX);
            (slot(&left.0), left.1.index).cmp(&(slot(&right.0), right.1.index))
        });
        for (document_id, chunk) in chunks {
            // A chunk whose document row is gone was being deleted when the process stopped.
            if let Some(&slot) = memory.slot_of.get(&document_id) {
                memory.add_vector(slot, chunk.id, &chunk.embedding)?;
            }
        }
        *self.memory.write().map_err(|_| poisoned())? = memory;
        Ok(())
    }

    fn commit(&self, writer: &mut IndexWriter) -> Result<(), IndexError> {
        if let Err(error) = writer.commit() {
            let _ = writer.rollback();
            return Err(engine(error));
        }
        self.reader.reload().map_err(engine)
    }

    fn document_row_term(&self, id: &str) -> Term {
        Term::from_field_text(self.fields.record_id, id)
    }

    /// Writes new documents in one commit; documents already present (or repeated in the
    /// batch) are skipped.
    pub fn insert(&self, batch: Vec<NewDocument>) -> Result<Vec<InsertOutcome>, IndexError> {
        let mut writer = self.writer.lock().map_err(|_| poisoned())?;
        let mut dimension = {
            let memory = self.memory.read().map_err(|_| poisoned())?;
            memory.graph.as_ref().map(Hnsw::dimension)
        };
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut fresh: Vec<NewDocument> = Vec::new();
        {
            let memory = self.memory.read().map_err(|_| poisoned())?;
            for new in batch {
                let NewDocument { document, chunks } = &new;
                if chunks.is_empty() {
                    return Err(IndexError::Invalid(format!("document `{}` has no chunks", document.name)));
                }
                let width = chunks[0].embedding.len();
                if width == 0 || chunks.iter().any(|chunk| chunk.embedding.len() != width) {
                    return Err(IndexError::Invalid("every chunk needs a vector of the same, non-zero length".into()));
                }
                let expected = *dimension.get_or_insert(width);
                if expected != width {
                    return Err(IndexError::Dimension { expected, got: width });
                }
                let known = memory.slot_of.contains_key(&document.id)
                    || fresh.iter().any(|other| other.document.id == document.id);
                if known {
                    outcomes.push(InsertOutcome::AlreadyPresent);
                } else {
                    outcomes.push(InsertOutcome::Inserted);
                    fresh.push(new);
                }
            }
        }
        if fresh.is_empty() {
            return Ok(outcomes);
        }
        for NewDocument { document, chunks } in &fresh {
            if let Err(error) = self.add_rows(&writer, document, chunks) {
                let _ = writer.rollback();
                return Err(error);
            }
        }
        self.commit(&mut writer)?;
        let mut memory = self.memory.write().map_err(|_| poisoned())?;
        for NewDocument { document, chunks } in fresh {
            let slot = memory.add_document(document);
            for chunk in chunks {
                memory.add_vector(slot, chunk.id, &chunk.embedding)?;
            }
        }
        Ok(outcomes)
    }

    fn add_rows(
        &self,
        writer: &IndexWriter,
        document: &DocumentRecord,
        chunks: &[ChunkRecord],
    ) -> Result<(), IndexError> {
        writer.add_document(self.fields.document_row(document)?).map_err(engine)?;
        for chunk in chunks {
            writer.add_document(self.fields.chunk_row(&document.id, chunk)).map_err(engine)?;
        }
        Ok(())
    }

    /// The query's analysed words, each a BM25 term (any word may match, as in `rank_bm25`).
    fn text_query(&self, query: &str) -> Option<Box<dyn Query>> {
        let mut analyzer = schema::analyzer();
        let mut stream = analyzer.token_stream(query);
        let mut words: Vec<String> = Vec::new();
        while let Some(token) = stream.next() {
            if !words.contains(&token.text) {
                words.push(token.text.clone());
            }
        }
        if words.is_empty() {
            return None;
        }
        let clauses = words
            .into_iter()
            .map(|word| {
                let term = Term::from_field_text(self.fields.body, &word);
                (Occur::Should, Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)) as Box<dyn Query>)
            })
            .collect();
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    /// The visibility predicate as a query clause over chunk rows: the ids of the admitted
    /// documents, or of the refused ones when those are fewer. `Ok(None)`: nothing admitted.
    fn visibility_clause(&self, memory: &Memory, visibility: &Visibility) -> Option<Vec<(Occur, Box<dyn Query>)>> {
        let mut admitted = Vec::new();
        let mut refused = Vec::new();
        for document in memory.live() {
            let term = Term::from_field_text(self.fields.document_id, &document.id);
            if visibility.admits(document) { admitted.push(term) } else { refused.push(term) }
        }
        if admitted.is_empty() {
            return None;
        }
        if refused.is_empty() {
            return Some(Vec::new());
        }
        Some(if admitted.len() <= refused.len() {
            let filter = ConstScoreQuery::new(Box::new(TermSetQuery::new(admitted)), 0.0);
            vec![(Occur::Must, Box::new(filter) as Box<dyn Query>)]
        } else {
            vec![(Occur::MustNot, Box::new(TermSetQuery::new(refused)) as Box<dyn Query>)]
        })
    }

    pub fn search_lexical(
        &self,
        visibility: &Visibility,
        query: &str,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        let Some(text) = self.text_query(query) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let clauses = {
            let memory = self.memory.read().map_err(|_| poisoned())?;
            match self.visibility_clause(&memory, visibility) {
                Some(clauses) => clauses,
                None => return Ok(Vec::new()),
            }
        };
        let mut all = vec![(Occur::Must, text)];
        all.extend(clauses);
        let query = BooleanQuery::new(all);
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score()).map_err(engine)?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let row: TantivyDocument = searcher.doc(address).map_err(engine)?;
            let chunk_id = row
                .get_first(self.fields.chunk_id)
                .and_then(|value| value.as_str())
                .ok_or_else(|| IndexError::Corrupt("a matched row has no chunk id".into()))?;
            hits.push(ScoredChunk { chunk_id: chunk_id.to_owned(), score });
        }
        Ok(hits)
    }

    pub fn search_vector(
        &self,
        visibility: &Visibility,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        let memory = self.memory.read().map_err(|_| poisoned())?;
        let Some(graph) = &memory.graph else {
            return Ok(Vec::new());
        };
        if graph.dimension() != vector.len() {
            return Err(IndexError::Dimension { expected: graph.dimension(), got: vector.len() });
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        let admitted = memory.admitted(visibility);
        let node_admitted = |node: u32| admitted[memory.node_slot[node as usize] as usize];
        let admitted_nodes = (0..graph.len() as u32).filter(|&node| node_admitted(node)).count();
        let found: Vec<(u32, f32)> = if admitted_nodes <= EXACT_SCAN_LIMIT {
            let mut scored: Vec<(u32, f32)> = (0..graph.len() as u32)
                .filter(|&node| node_admitted(node))
                .map(|node| (node, dot(vector, graph.vector(node))))
                .collect();
            scored.sort_by(|left, right| right.1.total_cmp(&left.1).then(left.0.cmp(&right.0)));
            scored.truncate(limit);
            scored
        } else {
            // Fewer admitted nodes need a wider walk to find `limit` of them.
            let selectivity = graph.len() as f64 / admitted_nodes.max(1) as f64;
            let ef = ((limit.max(64) as f64) * selectivity.sqrt()).min(4_096.0) as usize;
            graph.search(vector, limit, ef, &node_admitted)
        };
        Ok(found
            .into_iter()
            .map(|(node, score)| ScoredChunk { chunk_id: memory.node_chunk[node as usize].clone(), score })
            .collect())
    }

    pub fn chunks(
        &self,
        visibility: &Visibility,
        ids: &[String],
    ) -> Result<Vec<(ChunkRecord, DocumentRecord)>, IndexError> {
        let searcher = self.reader.searcher();
        let memory = self.memory.read().map_err(|_| poisoned())?;
        let mut found = Vec::new();
        for id in ids {
            let document_id = ChunkRecord::document_id_of(id);
            let Some(document) =
                memory.slot_of.get(document_id).and_then(|&slot| memory.documents[slot as usize].as_ref())
            else {
                continue;
            };
            if !visibility.admits(document) {
                continue;
            }
            let term = Term::from_field_text(self.fields.chunk_id, id);
            let top = searcher
                .search(&TermQuery::new(term, IndexRecordOption::Basic), &TopDocs::with_limit(1).order_by_score())
                .map_err(engine)?;
            if let Some((_, address)) = top.first() {
                let row: TantivyDocument = searcher.doc(*address).map_err(engine)?;
                let (_, mut chunk) = self.fields.read_chunk(&row)?;
                chunk.document_hash = document.hash.clone();
                found.push((chunk, document.clone()));
            }
        }
        Ok(found)
    }

    pub fn document_chunks(&self, document_id: &str) -> Result<Vec<ChunkRecord>, IndexError> {
        let Some(hash) = ({
            let memory = self.memory.read().map_err(|_| poisoned())?;
            memory
                .slot_of
                .get(document_id)
                .and_then(|&slot| memory.documents[slot as usize].as_ref())
                .map(|d| d.hash.clone())
        }) else {
            return Ok(Vec::new());
        };
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(self.fields.document_id, document_id);
        let addresses =
            searcher.search(&TermQuery::new(term, IndexRecordOption::Basic), &DocSetCollector).map_err(engine)?;
        let mut chunks = Vec::with_capacity(addresses.len());
        for address in addresses {
            let row: TantivyDocument = searcher.doc(address).map_err(engine)?;
            let (_, mut chunk) = self.fields.read_chunk(&row)?;
            chunk.document_hash = hash.clone();
            chunk.embedding = Vec::new();
            chunks.push(chunk);
        }
        chunks.sort_by_key(|chunk| chunk.index);
        Ok(chunks)
    }

    pub fn documents(&self, selector: &DocumentSelector) -> Result<Vec<DocumentRecord>, IndexError> {
        let memory = self.memory.read().map_err(|_| poisoned())?;
        Ok(memory.live().filter(|document| selector.matches(document)).cloned().collect())
    }

    /// Applies `change` to the matching documents' records, rewriting only their rows.
    pub fn set_state(&self, selector: &DocumentSelector, state: MemoryState) -> Result<u64, IndexError> {
        let mut writer = self.writer.lock().map_err(|_| poisoned())?;
        let changed: Vec<DocumentRecord> = {
            let memory = self.memory.read().map_err(|_| poisoned())?;
            memory
                .live()
                .filter(|document| selector.matches(document) && document.state != state)
                .map(|document| DocumentRecord { state, ..document.clone() })
                .collect()
        };
        if changed.is_empty() {
            return Ok(0);
        }
        for document in &changed {
            writer.delete_term(self.document_row_term(&document.id));
            writer.add_document(self.fields.document_row(document)?).map_err(engine)?;
        }
        self.commit(&mut writer)?;
        let mut memory = self.memory.write().map_err(|_| poisoned())?;
        for document in &changed {
            if let Some(&slot) = memory.slot_of.get(&document.id) {
                memory.documents[slot as usize] = Some(document.clone());
            }
        }
        Ok(changed.len() as u64)
    }

    pub fn delete(&self, selector: &DocumentSelector) -> Result<u64, IndexError> {
        self.delete_where(|document| selector.matches(document))
    }

    pub fn delete_expired(&self, now_unix_ms: i64) -> Result<u64, IndexError> {
        self.delete_where(|document| document.expires_unix_ms.is_some_and(|expires| expires <= now_unix_ms))
    }

    /// Deletes document rows and chunk rows in one commit. Vectors stay in the graph as
    /// tombstones (their slot is empty, so no search admits them) until the next start
    /// rebuilds it.
    fn delete_where(&self, doomed: impl Fn(&DocumentRecord) -> bool) -> Result<u64, IndexError> {
        let mut writer = self.writer.lock().map_err(|_| poisoned())?;
        let ids: Vec<String> = {
            let memory = self.memory.read().map_err(|_| poisoned())?;
            memory.live().filter(|document| doomed(document)).map(|document| document.id.clone()).collect()
        };
        if ids.is_empty() {
            return Ok(0);
        }
        for id in &ids {
            writer.delete_term(self.document_row_term(id));
            writer.delete_term(Term::from_field_text(self.fields.document_id, id));
        }
        self.commit(&mut writer)?;
        let mut memory = self.memory.write().map_err(|_| poisoned())?;
        for id in &ids {
            if let Some(slot) = memory.slot_of.remove(id) {
                memory.documents[slot as usize] = None;
            }
        }
        Ok(ids.len() as u64)
    }

    /// Bytes the partition takes on disk.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| entry.metadata().ok())
                    .filter(|meta| meta.is_file())
                    .map(|meta| meta.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

fn poisoned() -> IndexError {
    IndexError::Unavailable("a search index lock was poisoned by an earlier panic; restart Rampart".into())
}
