//! Write transactions on the SQLite writer connection in as few round trips as sqlx allows.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every statement is a round trip
//! between threads: a couple of context switches, which on a small machine cost more than the
//! statement. A group commit runs several statements per batch, so the store's hot writers (the
//! audit log, the limit ledger, the request log) open their transaction with `BEGIN IMMEDIATE`
//! in the same call as their first statement where they can, and end it with `COMMIT` in the
//! same call as their last write, instead of one call each.
//!
//! sqlx's own `Transaction` cannot span such calls, so [`WriteTransaction`] stands in for it:
//! the connection goes straight back to the pool once the `COMMIT` has run. Dropped before that
//! (an error, a cancelled future), it rolls back first, in a task of its own that holds the
//! connection until then, so the next writer never finds a transaction left open. Should the
//! rollback itself fail, the connection is closed instead (SQLite rolls back on close).

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};

use crate::query_error;
use rampart_core::StoreError;

/// Prefixed to a transaction's first statement.
pub(crate) const BEGIN: &str = "BEGIN IMMEDIATE; ";
/// Appended to a transaction's last statement.
pub(crate) const COMMIT: &str = "; COMMIT";

/// The writer connection while a transaction may be open on it.
pub(crate) struct WriteTransaction {
    connection: Option<PoolConnection<Sqlite>>,
}

impl WriteTransaction {
    /// Takes the writer connection. No transaction is open yet: the caller's first statement
    /// starts with [`BEGIN`].
    pub(crate) async fn acquire(write_pool: &SqlitePool) -> Result<Self, StoreError> {
        Ok(Self { connection: Some(write_pool.acquire().await.map_err(query_error)?) })
    }

    pub(crate) fn connection(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.connection
            .as_deref_mut()
            .ok_or_else(|| StoreError::Query { detail: "the SQLite write transaction has ended".to_owned() })
    }

    /// The statement ending in [`COMMIT`] succeeded: the connection goes back to the pool.
    pub(crate) fn committed(mut self) {
        self.connection.take();
    }
}

impl Drop for WriteTransaction {
    fn drop(&mut self) {
        let Some(mut connection) = self.connection.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(connection.detach());
            return;
        };
        runtime.spawn(async move {
            match sqlx::query("ROLLBACK").execute(&mut *connection).await {
                Ok(_) => {}
                // The statement that failed was the BEGIN, or SQLite already rolled back.
                Err(error) if error.to_string().contains("no transaction is active") => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot roll back a failed SQLite write; closing its connection");
                    drop(connection.detach());
                }
            }
        });
    }
}
