//! WAL checkpoints off the writer's path.
//!
//! SQLite copies the WAL back into the database file (a checkpoint, which syncs the file) from
//! inside whichever commit pushes the WAL past 1000 pages, so one commit in every few dozen
//! rounds stalled for the copy and its sync, and every caller in that round waited: at one
//! connection the 99th-percentile request took 20 ms with `synchronous = NORMAL`. So the
//! writer's connection makes no checkpoints, and a thread of its own does, with its own
//! connection: a PASSIVE checkpoint every [`INTERVAL`] when the writer has committed since the
//! last one. A passive checkpoint never blocks the writer (WAL lets a writer append while
//! earlier frames are copied), and copies a page written many times once. At one connection
//! on the 2-core bench machine this took the 99th percentile from 23–79 ms to 4–6 ms and
//! requests per second up by a quarter.
//!
//! Only with `synchronous = NORMAL` (and for a scratch database). With `FULL`, every commit
//! already waits for a sync, and a checkpoint thread's syncs of the WAL and the file queue on
//! the disk beside them: the same measurement lost a fifth of its requests per second, so there
//! SQLite keeps checkpointing inside the commits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use super::WriterTarget;

/// How often the checkpointer looks for commits to copy into the database file.
pub(crate) const INTERVAL: Duration = Duration::from_millis(200);

/// The writer's side: counts commits, and stops the checkpointer (after a last checkpoint)
/// when dropped.
pub(super) struct Checkpointer {
    commits: Arc<AtomicU64>,
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Opens the checkpointer's connection to `target` and starts its thread.
    pub(super) fn start(target: &WriterTarget) -> Result<Self, String> {
        let connection = target.open().map_err(|error| error.to_string())?;
        let commits = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = mpsc::channel::<()>();
        let seen = Arc::clone(&commits);
        std::thread::Builder::new()
            .name("rampart-sqlite-checkpoint".to_owned())
            .spawn(move || {
                let mut checkpointed = 0;
                loop {
                    // Nothing is ever sent: only the writer's end going away wakes it early.
                    let last = matches!(stopped.recv_timeout(INTERVAL), Err(RecvTimeoutError::Disconnected));
                    let committed = seen.load(Ordering::Relaxed);
                    if committed != checkpointed {
                        checkpointed = committed;
                        let checkpoint =
                            connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i64>(0));
                        if let Err(error) = checkpoint {
                            tracing::warn!(%error, "SQLite WAL checkpoint failed; the next one retries");
                        }
                    }
                    if last {
                        break;
                    }
                }
            })
            .map_err(|error| format!("cannot start the SQLite checkpoint thread: {error}"))?;
        Ok(Self { commits, _stop: stop })
    }

    /// A round committed.
    pub(super) fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }
}
