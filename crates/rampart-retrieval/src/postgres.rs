//! The scale-out index: documents and chunks in PostgreSQL, searched by its full-text engine
//! and by an exact vector scan.
//!
//! - **Isolation.** Every row carries its tenant, and every statement names the tenant (or the
//!   tenant and the global owner) in its `WHERE` clause, next to scope, user, session, kind,
//!   state and expiry: the database filters before it ranks. Full-text ranking
//!   (`ts_rank_cd`) uses only the matched row itself, no corpus statistics, so nothing of
//!   another tenant (or of items the caller cannot see) can move a score.
//! - **Lexical.** A stored `tsvector` (English configuration) over heading and text, with a
//!   GIN index; any query word may match (`|`), as in BM25 engines.
//! - **Vectors.** Unit vectors in `real[]`, scored by an exact dot product over the chunks the
//!   caller may see. Exact means perfect recall and a cost linear in the visible chunks: fine
//!   for up to some tens of thousands of chunks per tenant. pgvector's approximate indexes are
//!   not used yet (the registries this project builds from do not ship the extension, so that
//!   path could not be tested); above that size, use the embedded index.
//!
//! Tables are created on open (idempotently, under an advisory lock, so replicas starting
//! together do not race).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::{
    ChunkRecord, DocumentRecord, DocumentSelector, GLOBAL_TENANT, IndexError, InsertOutcome, MemoryState, NewDocument,
    RetrievalIndex, ScoredChunk, Visibility,
};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};

/// Arbitrary, fixed: serialises schema creation across replicas.
const SCHEMA_LOCK: i64 = 0x7261_6d70_6172_7401;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS rampart_retrieval_documents (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        hash TEXT NOT NULL,
        scope TEXT NOT NULL,
        owner_user TEXT,
        owner_session TEXT,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        created_unix_ms BIGINT NOT NULL,
        expires_unix_ms BIGINT,
        record JSONB NOT NULL,
        PRIMARY KEY (tenant, id)
    )",
    "CREATE INDEX IF NOT EXISTS rampart_retrieval_documents_hash ON rampart_retrieval_documents (tenant, hash)",
    "CREATE INDEX IF NOT EXISTS rampart_retrieval_documents_expiry ON rampart_retrieval_documents (expires_unix_ms)
        WHERE expires_unix_ms IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS rampart_retrieval_chunks (
        tenant TEXT NOT NULL,
        chunk_id TEXT NOT NULL,
        document_id TEXT NOT NULL,
        chunk_index INTEGER NOT NULL,
        heading JSONB NOT NULL,
        text TEXT NOT NULL,
        search TSVECTOR NOT NULL,
        embedding REAL[] NOT NULL,
        PRIMARY KEY (tenant, chunk_id),
        FOREIGN KEY (tenant, document_id) REFERENCES rampart_retrieval_documents (tenant, id) ON DELETE CASCADE
    )",
    "CREATE INDEX IF NOT EXISTS rampart_retrieval_chunks_document ON rampart_retrieval_chunks (tenant, document_id)",
    "CREATE INDEX IF NOT EXISTS rampart_retrieval_chunks_search ON rampart_retrieval_chunks USING GIN (search)",
    // Heading and text sealed at rest; `heading` and `text` are then stored empty.
    "ALTER TABLE rampart_retrieval_chunks ADD COLUMN IF NOT EXISTS sealed BYTEA",
    "CREATE TABLE IF NOT EXISTS rampart_retrieval_dimensions (
        tenant TEXT PRIMARY KEY,
        dimension INTEGER NOT NULL
    )",
];

const MAX_CONNECTIONS: u32 = 10;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

fn unavailable(error: sqlx::Error) -> IndexError {
    IndexError::Unavailable(format!("PostgreSQL: {error}"))
}

/// The PostgreSQL [`RetrievalIndex`].
#[derive(Clone)]
pub struct PostgresIndex {
    pool: PgPool,
}

impl PostgresIndex {
    /// Connects to a `postgres://` URL (libpq parameters such as `options=-c search_path=…`
    /// are honoured) and creates the tables when missing.
    pub async fn open(url: &str) -> Result<Self, IndexError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|error| IndexError::Invalid(format!("the retrieval database URL is not valid: {error}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        let mut transaction = pool.begin().await.map_err(unavailable)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SCHEMA_LOCK)
            .execute(&mut *transaction)
            .await
            .map_err(unavailable)?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&mut *transaction).await.map_err(unavailable)?;
        }
        transaction.commit().await.map_err(unavailable)?;
        Ok(PostgresIndex { pool })
    }

    /// Bytes the tables and their indexes take.
    pub async fn disk_bytes(&self) -> Result<u64, IndexError> {
        let bytes: i64 = sqlx::query_scalar(
            "SELECT COALESCE(pg_total_relation_size('rampart_retrieval_documents'), 0)
                  + COALESCE(pg_total_relation_size('rampart_retrieval_chunks'), 0)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(bytes.max(0) as u64)
    }

    async fn dimension(&self, tenants: &[String]) -> Result<Option<usize>, IndexError> {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT dimension FROM rampart_retrieval_dimensions WHERE tenant = ANY($1) LIMIT 1")
                .bind(tenants)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(found.map(|dimension| dimension as usize))
    }
}

/// The partitions a caller reads: its tenant, and the global owner unless excluded.
fn tenants(visibility: &Visibility) -> Vec<String> {
    let mut tenants = vec![visibility.tenant.clone()];
    if !visibility.exclude_global {
        tenants.push(GLOBAL_TENANT.to_owned());
    }
    tenants
}

/// Appends the visibility predicate over the document alias `d`: the same rule as
/// [`Visibility::admits`], evaluated by the database before ranking.
fn push_visibility(query: &mut QueryBuilder<'_, Postgres>, visibility: &Visibility) {
    query.push(" d.tenant = ANY(").push_bind(tenants(visibility)).push(")");
    query.push(" AND d.state = 'active' AND (d.expires_unix_ms IS NULL OR d.expires_unix_ms > ");
    query.push_bind(visibility.now_unix_ms).push(")");
    if !visibility.kinds.is_empty() {
        let kinds: Vec<String> = visibility.kinds.iter().map(|kind| kind.as_str().to_owned()).collect();
        query.push(" AND d.kind = ANY(").push_bind(kinds).push(")");
    }
    query.push(" AND (d.scope = 'global' OR (d.tenant = ").push_bind(visibility.tenant.clone());
    query.push(" AND (d.scope = 'tenant'");
    if let Some(user) = &visibility.user {
        query.push(" OR (d.scope = 'user' AND d.owner_user = ").push_bind(user.clone()).push(")");
        if let Some(session) = &visibility.session {
            query.push(" OR (d.scope = 'session' AND d.owner_user = ").push_bind(user.clone());
            query.push(" AND d.owner_session = ").push_bind(session.clone()).push(")");
        }
    }
    query.push(")))");
}

/// Appends the selector's predicate over the document alias `d` (no `WHERE`).
fn push_selector(query: &mut QueryBuilder<'_, Postgres>, selector: &DocumentSelector) {
    query.push(" d.tenant = ").push_bind(selector.tenant.clone());
    if let Some(prefix) = &selector.hash_prefix {
        // A prefix is hex; escape LIKE's wildcards anyway so none can widen the match.
        let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        query.push(" AND d.hash LIKE ").push_bind(format!("{escaped}%"));
    }
    if let Some(scope) = selector.scope {
        query.push(" AND d.scope = ").push_bind(scope.as_str());
    }
    if let Some(user) = &selector.user {
        query.push(" AND d.owner_user = ").push_bind(user.clone());
    }
    if let Some(session) = &selector.session {
        query.push(" AND d.owner_session = ").push_bind(session.clone());
    }
    if let Some(kind) = selector.kind {
        query.push(" AND d.kind = ").push_bind(kind.as_str());
    }
    if let Some(state) = selector.state {
        query.push(" AND d.state = ").push_bind(state.as_str());
    }
}

fn read_document(row: &PgRow) -> Result<DocumentRecord, IndexError> {
    let record: serde_json::Value = row.try_get("record").map_err(unavailable)?;
    serde_json::from_value(record).map_err(|error| IndexError::Corrupt(format!("a stored document record: {error}")))
}

fn read_chunk(row: &PgRow, hash: &str) -> Result<ChunkRecord, IndexError> {
    let heading: serde_json::Value = row.try_get("heading").map_err(unavailable)?;
    let index: i32 = row.try_get("chunk_index").map_err(unavailable)?;
    Ok(ChunkRecord {
        id: row.try_get("chunk_id").map_err(unavailable)?,
        document_hash: hash.to_owned(),
        index: index.max(0) as u32,
        heading: serde_json::from_value(heading)
            .map_err(|error| IndexError::Corrupt(format!("a stored chunk heading: {error}")))?,
        text: row.try_get("text").map_err(unavailable)?,
        embedding: Vec::new(),
        sealed: row.try_get("sealed").map_err(unavailable)?,
    })
}

/// Ranked `(chunk_id, score)` rows; a NULL score (an empty vector sum) counts as zero.
fn scored(rows: Vec<PgRow>) -> Result<Vec<ScoredChunk>, IndexError> {
    rows.iter()
        .map(|row| {
            Ok(ScoredChunk {
                chunk_id: row.try_get("chunk_id").map_err(unavailable)?,
                score: row.try_get::<Option<f32>, _>("score").map_err(unavailable)?.unwrap_or(0.0),
            })
        })
        .collect()
}

/// Checks one document's chunks, as the embedded index does.
fn check(new: &NewDocument) -> Result<usize, IndexError> {
    let NewDocument { document, chunks } = new;
    document.owner.validate().map_err(IndexError::Invalid)?;
    if chunks.is_empty() {
        return Err(IndexError::Invalid(format!("document `{}` has no chunks", document.name)));
    }
    let width = chunks[0].embedding.len();
    if width == 0 || chunks.iter().any(|chunk| chunk.embedding.len() != width) {
        return Err(IndexError::Invalid("every chunk needs a vector of the same, non-zero length".into()));
    }
    Ok(width)
}

/// Inserts each document and its chunks on `connection`, inside the caller's transaction.
async fn insert_documents(
    connection: &mut PgConnection,
    documents: Vec<NewDocument>,
    widths: Vec<usize>,
) -> Result<Vec<InsertOutcome>, IndexError> {
    let mut outcomes = Vec::with_capacity(documents.len());
    for (new, width) in documents.into_iter().zip(widths) {
        let document = &new.document;
        let tenant = &document.owner.tenant;
        // The tenant's dimension, fixed by its first write; the row lock orders writers.
        sqlx::query(
            "INSERT INTO rampart_retrieval_dimensions (tenant, dimension) VALUES ($1, $2)
                 ON CONFLICT (tenant) DO NOTHING",
        )
        .bind(tenant)
        .bind(width as i32)
        .execute(&mut *connection)
        .await
        .map_err(unavailable)?;
        let expected: i32 =
            sqlx::query_scalar("SELECT dimension FROM rampart_retrieval_dimensions WHERE tenant = $1 FOR UPDATE")
                .bind(tenant)
                .fetch_one(&mut *connection)
                .await
                .map_err(unavailable)?;
        if expected as usize != width {
            return Err(IndexError::Dimension { expected: expected as usize, got: width });
        }
        let record = serde_json::to_value(document)
            .map_err(|error| IndexError::Invalid(format!("the document record: {error}")))?;
        let inserted = sqlx::query(
                "INSERT INTO rampart_retrieval_documents
                    (tenant, id, hash, scope, owner_user, owner_session, kind, state, created_unix_ms, expires_unix_ms, record)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (tenant, id) DO NOTHING",
            )
            .bind(tenant)
            .bind(&document.id)
            .bind(&document.hash)
            .bind(document.owner.scope.as_str())
            .bind(&document.owner.user)
            .bind(&document.owner.session)
            .bind(document.kind.as_str())
            .bind(document.state.as_str())
            .bind(document.created_unix_ms)
            .bind(document.expires_unix_ms)
            .bind(record)
            .execute(&mut *connection)
            .await
            .map_err(unavailable)?
            .rows_affected();
        if inserted == 0 {
            outcomes.push(InsertOutcome::AlreadyPresent);
            continue;
        }
        for chunk in &new.chunks {
            let heading = serde_json::to_value(&chunk.heading)
                .map_err(|error| IndexError::Invalid(format!("a chunk heading: {error}")))?;
            // Sealed: the passage is searchable through `search` and stored only sealed.
            let (stored_heading, stored_text) = match &chunk.sealed {
                Some(_) => (serde_json::json!([]), ""),
                None => (heading, chunk.text.as_str()),
            };
            sqlx::query(
                "INSERT INTO rampart_retrieval_chunks
                        (tenant, chunk_id, document_id, chunk_index, heading, text, search, embedding, sealed)
                     VALUES ($1, $2, $3, $4, $5, $6, to_tsvector('english', $7 || ' ' || $8), $9, $10)",
            )
            .bind(tenant)
            .bind(&chunk.id)
            .bind(&document.id)
            .bind(chunk.index as i32)
            .bind(stored_heading)
            .bind(stored_text)
            .bind(chunk.heading.join(" "))
            .bind(&chunk.text)
            .bind(&chunk.embedding)
            .bind(chunk.sealed.as_deref())
            .execute(&mut *connection)
            .await
            .map_err(unavailable)?;
        }
        outcomes.push(InsertOutcome::Inserted);
    }
    Ok(outcomes)
}

#[async_trait]
impl RetrievalIndex for PostgresIndex {
    async fn insert_batch(&self, documents: Vec<NewDocument>) -> Result<Vec<InsertOutcome>, IndexError> {
        let mut widths = Vec::with_capacity(documents.len());
        for document in &documents {
            widths.push(check(document)?);
        }
        let mut transaction = self.pool.begin().await.map_err(unavailable)?;
        match insert_documents(&mut transaction, documents, widths).await {
            Ok(outcomes) => {
                transaction.commit().await.map_err(unavailable)?;
                Ok(outcomes)
            }
            Err(error) => {
                // Rolled back now, not when the pool next hands the connection out: until
                // then it would hold the tenant's dimension row locked. Should the rollback
                // fail, the connection is broken and the pool drops it.
                let _ = transaction.rollback().await;
                Err(error)
            }
        }
    }

    async fn search_lexical(
        &self,
        visibility: &Visibility,
        query: &str,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        if limit == 0 || query.trim().is_empty() {
            return Ok(Vec::new());
        }
        // plainto_tsquery normalises the words (stemming, stop words); its `&`s become `|`s so
        // any word may match, ranked by how many and how close.
        let mut sql = QueryBuilder::<Postgres>::new("WITH q AS (SELECT NULLIF(replace(plainto_tsquery('english', ");
        sql.push_bind(query.to_owned());
        sql.push(
            ")::text, '&', '|'), '')::tsquery AS words)
             SELECT c.chunk_id, ts_rank_cd(c.search, q.words)::REAL AS score
             FROM rampart_retrieval_chunks c
             JOIN rampart_retrieval_documents d ON d.tenant = c.tenant AND d.id = c.document_id, q
             WHERE q.words IS NOT NULL AND c.search @@ q.words AND c.tenant = ANY(",
        );
        sql.push_bind(tenants(visibility)).push(") AND");
        push_visibility(&mut sql, visibility);
        sql.push(" ORDER BY score DESC, c.chunk_id LIMIT ").push_bind(limit as i64);
        scored(sql.build().fetch_all(&self.pool).await.map_err(unavailable)?)
    }

    async fn search_vector(
        &self,
        visibility: &Visibility,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        let Some(expected) = self.dimension(&tenants(visibility)).await? else {
            return Ok(Vec::new());
        };
        if expected != vector.len() {
            return Err(IndexError::Dimension { expected, got: vector.len() });
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT c.chunk_id,
                    (SELECT SUM(a * b) FROM unnest(c.embedding, ",
        );
        sql.push_bind(vector.to_vec());
        sql.push(
            "::REAL[]) AS pair(a, b))::REAL AS score
             FROM rampart_retrieval_chunks c
             JOIN rampart_retrieval_documents d ON d.tenant = c.tenant AND d.id = c.document_id
             WHERE c.tenant = ANY(",
        );
        sql.push_bind(tenants(visibility)).push(") AND");
        push_visibility(&mut sql, visibility);
        sql.push(" ORDER BY score DESC, c.chunk_id LIMIT ").push_bind(limit as i64);
        scored(sql.build().fetch_all(&self.pool).await.map_err(unavailable)?)
    }

    async fn chunks(
        &self,
        visibility: &Visibility,
        ids: &[String],
    ) -> Result<Vec<(ChunkRecord, DocumentRecord)>, IndexError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT c.chunk_id, c.chunk_index, c.heading, c.text, c.sealed, d.record
             FROM rampart_retrieval_chunks c
             JOIN rampart_retrieval_documents d ON d.tenant = c.tenant AND d.id = c.document_id
             WHERE c.chunk_id = ANY(",
        );
        sql.push_bind(ids.to_vec()).push(") AND c.tenant = ANY(").push_bind(tenants(visibility)).push(") AND");
        push_visibility(&mut sql, visibility);
        let rows = sql.build().fetch_all(&self.pool).await.map_err(unavailable)?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let document = read_document(row)?;
            found.push((read_chunk(row, &document.hash)?, document));
        }
        let position = |id: &str| ids.iter().position(|wanted| wanted == id).unwrap_or(usize::MAX);
        found.sort_by_key(|(chunk, _)| position(&chunk.id));
        Ok(found)
    }

    async fn document_chunks(&self, tenant: &str, document_id: &str) -> Result<Vec<ChunkRecord>, IndexError> {
        let rows = sqlx::query(
            "SELECT c.chunk_id, c.chunk_index, c.heading, c.text, c.sealed, d.hash
             FROM rampart_retrieval_chunks c
             JOIN rampart_retrieval_documents d ON d.tenant = c.tenant AND d.id = c.document_id
             WHERE c.tenant = $1 AND c.document_id = $2
             ORDER BY c.chunk_index",
        )
        .bind(tenant)
        .bind(document_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                let hash: String = row.try_get("hash").map_err(unavailable)?;
                read_chunk(row, &hash)
            })
            .collect()
    }

    async fn documents(&self, selector: &DocumentSelector, limit: usize) -> Result<Vec<DocumentRecord>, IndexError> {
        let mut sql = QueryBuilder::<Postgres>::new("SELECT d.record FROM rampart_retrieval_documents d WHERE");
        push_selector(&mut sql, selector);
        sql.push(" ORDER BY d.created_unix_ms DESC, d.id");
        if limit > 0 {
            sql.push(" LIMIT ").push_bind(limit as i64);
        }
        let rows = sql.build().fetch_all(&self.pool).await.map_err(unavailable)?;
        rows.iter().map(read_document).collect()
    }

    async fn set_state(&self, selector: &DocumentSelector, state: MemoryState) -> Result<u64, IndexError> {
        let mut sql = QueryBuilder::<Postgres>::new("UPDATE rampart_retrieval_documents d SET state = ");
        sql.push_bind(state.as_str());
        sql.push(", record = jsonb_set(d.record, '{state}', to_jsonb(")
            .push_bind(state.as_str())
            .push("::TEXT)) WHERE");
        push_selector(&mut sql, selector);
        sql.push(" AND d.state <> ").push_bind(state.as_str());
        Ok(sql.build().execute(&self.pool).await.map_err(unavailable)?.rows_affected())
    }

    async fn delete(&self, selector: &DocumentSelector) -> Result<u64, IndexError> {
        let mut sql = QueryBuilder::<Postgres>::new("DELETE FROM rampart_retrieval_documents d WHERE");
        push_selector(&mut sql, selector);
        Ok(sql.build().execute(&self.pool).await.map_err(unavailable)?.rows_affected())
    }

    async fn delete_expired(&self, now_unix_ms: i64) -> Result<u64, IndexError> {
        let deleted = sqlx::query(
            "DELETE FROM rampart_retrieval_documents WHERE expires_unix_ms IS NOT NULL AND expires_unix_ms <= $1",
        )
        .bind(now_unix_ms)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(deleted.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_visibility_predicate_names_tenant_scope_and_owner() {
        let mut visibility = Visibility::tenant("acme", 5);
        visibility.user = Some("ann".into());
        visibility.session = Some("s1".into());
        visibility.kinds = vec![rampart_core::MemoryKind::Fact];
        let mut sql = QueryBuilder::<Postgres>::new("WHERE");
        push_visibility(&mut sql, &visibility);
        let text = sql.sql().to_owned();
        for part in ["d.tenant = ANY($1)", "d.state = 'active'", "d.kind = ANY($3)", "d.owner_session = $7"] {
            assert!(text.contains(part), "{part} in {text}");
        }
        visibility.exclude_global = true;
        assert_eq!(tenants(&visibility), ["acme"]);
    }
}
