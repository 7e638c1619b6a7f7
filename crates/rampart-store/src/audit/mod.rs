//! The audit log on both engines: records sealed into the hash chain by
//! [`rampart_audit::AuditChain`] inside the append transaction, after reading (and, on
//! PostgreSQL, locking) the chain's head row, so every gateway sharing the database appends to
//! one chain in one order. The SQL is the same text for SQLite and PostgreSQL (both bind `$N`
//! by position); `impl_audit_log!` writes the two implementations.

pub(crate) mod writer;

use rampart_audit::AuditChain;
use rampart_core::{AuditCheckpoint, AuditEvent, AuditHead, StoreError, StoredAuditRecord};

pub(crate) const INSERT_CHUNK_ROWS: usize = 500;
pub(crate) const DEFAULT_LIMIT: u32 = 100;
pub(crate) const MAX_LIMIT: u32 = 10_000;

pub(crate) const SELECT_HEAD: &str = "SELECT size, chain FROM audit_head WHERE id = 1";
pub(crate) const SELECT_HEAD_FOR_UPDATE: &str = "SELECT size, chain FROM audit_head WHERE id = 1 FOR UPDATE";
pub(crate) const UPDATE_HEAD: &str = "UPDATE audit_head SET size = $1, chain = $2 WHERE id = 1";
pub(crate) const READ_FROM: &str = "SELECT seq, record, hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2";
/// Optional filters as `CAST($n AS type) IS NULL OR ...`, which both engines type-check.
pub(crate) const QUERY: &str = "SELECT seq, record, hash FROM audit_log \
     WHERE (CAST($1 AS TEXT) IS NULL OR tenant = $1) \
       AND (CAST($2 AS TEXT) IS NULL OR kind = $2) \
       AND (CAST($3 AS TEXT) IS NULL OR request_id = $3) \
       AND (CAST($4 AS BIGINT) IS NULL OR seq < $4) \
     ORDER BY seq DESC LIMIT $5";
pub(crate) const INSERT_CHECKPOINT: &str = "INSERT INTO audit_checkpoints \
     (tree_size, root_hash, head_hash, time_unix_ms, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (tree_size) DO NOTHING";
pub(crate) const SELECT_CHECKPOINTS: &str = "SELECT tree_size, root_hash, head_hash, time_unix_ms, key_id, signature \
     FROM audit_checkpoints WHERE tree_size >= $1 AND tree_size <= $2 ORDER BY tree_size";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StoredRow {
    seq: i64,
    record: String,
    hash: String,
}

impl StoredRow {
    pub(crate) fn into_record(self) -> StoredAuditRecord {
        // A negative seq can only come from someone editing the table; verification names it.
        StoredAuditRecord { seq: u64::try_from(self.seq).unwrap_or(0), canonical: self.record, hash_hex: self.hash }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StoredCheckpoint {
    tree_size: i64,
    root_hash: String,
    head_hash: String,
    time_unix_ms: i64,
    key_id: String,
    signature: String,
}

impl StoredCheckpoint {
    pub(crate) fn into_checkpoint(self) -> Result<AuditCheckpoint, StoreError> {
        let corrupt = |what: &str| StoreError::Query {
            detail: format!("audit checkpoint at size {} has a corrupt {what}", self.tree_size),
        };
        Ok(AuditCheckpoint {
            tree_size: u64::try_from(self.tree_size).map_err(|_| corrupt("size"))?,
            root_hash: hex_hash(&self.root_hash).ok_or_else(|| corrupt("root hash"))?,
            head_hash: hex_hash(&self.head_hash).ok_or_else(|| corrupt("head hash"))?,
            time_unix_ms: self.time_unix_ms,
            signature: hex::decode(&self.signature).map_err(|_| corrupt("signature"))?,
            key_id: self.key_id,
        })
    }
}

fn hex_hash(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

/// The chain as the head row keeps it; an empty text is the empty log.
pub(crate) fn chain_from_head(size: i64, chain_hex: &str) -> Result<AuditChain, StoreError> {
    let corrupt =
        |detail: String| StoreError::Query { detail: format!("the audit log's head row is corrupt: {detail}") };
    let chain = if chain_hex.is_empty() {
        AuditChain::new()
    } else {
        let bytes = hex::decode(chain_hex).map_err(|error| corrupt(error.to_string()))?;
        AuditChain::from_bytes(&bytes).map_err(|error| corrupt(error.to_string()))?
    };
    if i64::try_from(chain.tree_size()).ok() != Some(size) {
        return Err(corrupt(format!("it says {size} records but its chain holds {}", chain.tree_size())));
    }
    Ok(chain)
}

pub(crate) fn head_of(chain: &AuditChain) -> AuditHead {
    AuditHead { size: chain.tree_size(), head_hash: *chain.head_hash(), root_hash: chain.root_hash() }
}

/// One sealed row, ready to insert.
pub(crate) struct SealedRow {
    pub seq: i64,
    pub time_unix_ms: i64,
    pub tenant: Option<String>,
    pub kind: String,
    pub request_id: Option<String>,
    pub record: String,
    pub hash: String,
}

/// Seals each append of a batch onto `chain` in order. An append whose events cannot be sealed
/// (a number JSON cannot carry exactly, say) is refused alone and leaves the chain as it was.
pub(crate) fn seal_batch<'batch>(
    chain: &mut AuditChain,
    batch: impl IntoIterator<Item = &'batch Vec<AuditEvent>>,
) -> (Vec<SealedRow>, Vec<Result<Vec<u64>, StoreError>>) {
    let mut rows = Vec::new();
    let mut outcomes = Vec::new();
    for events in batch {
        let mut attempt = chain.clone();
        let mut sealed_rows = Vec::with_capacity(events.len());
        let sealed = events.iter().try_for_each(|event| {
            let sealed = attempt.append(event)?;
            sealed_rows.push(SealedRow {
                seq: i64::try_from(sealed.seq).unwrap_or(i64::MAX),
                time_unix_ms: event.time_unix_ms,
                tenant: event.tenant.clone(),
                kind: event.kind.clone(),
                request_id: event.request_id.clone(),
                hash: sealed.hash_hex(),
                record: sealed.canonical,
            });
            Ok::<(), rampart_audit::AuditError>(())
        });
        match sealed {
            Ok(()) => {
                *chain = attempt;
                outcomes.push(Ok(sealed_rows.iter().map(|row| row.seq as u64).collect()));
                rows.extend(sealed_rows);
            }
            Err(error) => outcomes.push(Err(StoreError::Query { detail: format!("cannot seal audit event: {error}") })),
        }
    }
    (rows, outcomes)
}

/// The start of every insert into `audit_log`, its values to follow.
macro_rules! insert_into_audit_log {
    () => {
        "INSERT INTO audit_log (seq, time_unix_ms, tenant, kind, request_id, record, hash) "
    };
}

/// One sealed row, as the SQLite writer inserts it.
const INSERT_ONE: &str = concat!(insert_into_audit_log!(), "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");

/// Inserts sealed rows through the SQLite writer's connection, with its statement prepared
/// once.
pub(crate) fn insert_sqlite(connection: &rusqlite::Connection, rows: &[SealedRow]) -> Result<(), rusqlite::Error> {
    crate::sqlite_writer::insert_each(
        connection,
        INSERT_ONE,
        rows,
        &mut crate::sqlite_writer::Pace::Urgent,
        |insert, row| {
            insert.execute(rusqlite::params![
                row.seq,
                row.time_unix_ms,
                row.tenant,
                row.kind,
                row.request_id,
                row.record,
                row.hash
            ])
        },
    )
}

/// `INSERT INTO audit_log ... VALUES ...` for one chunk of sealed rows, appended to `statement`.
pub(crate) fn push_insert<'args, DB>(statement: &mut sqlx::QueryBuilder<'args, DB>, rows: &'args [SealedRow])
where
    DB: sqlx::Database,
    &'args str: sqlx::Encode<'args, DB> + sqlx::Type<DB>,
    Option<&'args str>: sqlx::Encode<'args, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'args, DB> + sqlx::Type<DB>,
{
    statement.push(insert_into_audit_log!());
    statement.push_values(rows, |mut values, row| {
        values
            .push_bind(row.seq)
            .push_bind(row.time_unix_ms)
            .push_bind(row.tenant.as_deref())
            .push_bind(row.kind.as_str())
            .push_bind(row.request_id.as_deref())
            .push_bind(row.record.as_str())
            .push_bind(row.hash.as_str());
    });
}

/// The chain's size as the head row stores it.
pub(crate) fn stored_size(chain: &AuditChain) -> i64 {
    i64::try_from(chain.tree_size()).unwrap_or(i64::MAX)
}

/// `impl AuditLog` for a store type with `pool` and `write_pool` fields, and a field named by
/// `$appender` whose `append(events)` seals and commits a batch.
macro_rules! impl_audit_log {
    ($store:ty, $appender:ident) => {
        #[async_trait::async_trait]
        impl rampart_core::AuditLog for $store {
            async fn append_audit(
                &self,
                events: Vec<rampart_core::AuditEvent>,
            ) -> Result<Vec<u64>, rampart_core::StoreError> {
                self.$appender.append(events).await
            }

            async fn audit_head(&self) -> Result<rampart_core::AuditHead, rampart_core::StoreError> {
                let (size, chain_hex): (i64, String) = sqlx::query_as($crate::audit::SELECT_HEAD)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::query_error)?;
                Ok($crate::audit::head_of(&$crate::audit::chain_from_head(size, &chain_hex)?))
            }

            async fn read_audit(
                &self,
                from_seq: u64,
                limit: u32,
            ) -> Result<Vec<rampart_core::StoredAuditRecord>, rampart_core::StoreError> {
                let rows = sqlx::query_as::<_, $crate::audit::StoredRow>($crate::audit::READ_FROM)
                    .bind(i64::try_from(from_seq).unwrap_or(i64::MAX))
                    .bind(i64::from(limit.clamp(1, $crate::audit::MAX_LIMIT)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::query_error)?;
                Ok(rows.into_iter().map($crate::audit::StoredRow::into_record).collect())
            }

            async fn query_audit(
                &self,
                query: &rampart_core::AuditQuery,
            ) -> Result<Vec<rampart_core::StoredAuditRecord>, rampart_core::StoreError> {
                let limit = if query.limit == 0 {
                    $crate::audit::DEFAULT_LIMIT
                } else {
                    query.limit.min($crate::audit::MAX_LIMIT)
                };
                let rows = sqlx::query_as::<_, $crate::audit::StoredRow>($crate::audit::QUERY)
                    .bind(query.tenant.as_deref())
                    .bind(query.kind.as_deref())
                    .bind(query.request_id.as_deref())
                    .bind(query.before_seq.map(|seq| i64::try_from(seq).unwrap_or(i64::MAX)))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::query_error)?;
                Ok(rows.into_iter().map($crate::audit::StoredRow::into_record).collect())
            }

            async fn save_checkpoint(
                &self,
                checkpoint: &rampart_core::AuditCheckpoint,
            ) -> Result<(), rampart_core::StoreError> {
                sqlx::query($crate::audit::INSERT_CHECKPOINT)
                    .bind(i64::try_from(checkpoint.tree_size).unwrap_or(i64::MAX))
                    .bind(hex::encode(checkpoint.root_hash))
                    .bind(hex::encode(checkpoint.head_hash))
                    .bind(checkpoint.time_unix_ms)
                    .bind(&checkpoint.key_id)
                    .bind(hex::encode(&checkpoint.signature))
                    .execute(&self.write_pool)
                    .await
                    .map_err($crate::query_error)?;
                Ok(())
            }

            async fn checkpoints(
                &self,
                from_size: u64,
                to_size: u64,
            ) -> Result<Vec<rampart_core::AuditCheckpoint>, rampart_core::StoreError> {
                sqlx::query_as::<_, $crate::audit::StoredCheckpoint>($crate::audit::SELECT_CHECKPOINTS)
                    .bind(i64::try_from(from_size).unwrap_or(i64::MAX))
                    .bind(i64::try_from(to_size).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::query_error)?
                    .into_iter()
                    .map($crate::audit::StoredCheckpoint::into_checkpoint)
                    .collect()
            }
        }
    };
}

pub(crate) use impl_audit_log;
