//! Work a request leaves running after its answer (the outcome's audit record, the limits'
//! settlement, a cache fill, a conversation record), tracked so that shutdown waits for it.
//!
//! Such a task runs on the serving worker that spawned it (no other thread is woken), and
//! that worker's runtime ends soon after the last connection drains; [`finish`] is how
//! [`crate::serve`] lets these tasks complete first.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

static TASKS: LazyLock<TaskTracker> = LazyLock::new(TaskTracker::new);

/// Spawns `task` on the current runtime, tracked until it ends.
pub(crate) fn spawn<F>(task: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    TASKS.spawn(task)
}

/// Waits up to `limit` for every tracked task to end; whether they all did. Tasks spawned
/// meanwhile are waited for too.
pub(crate) async fn finish(limit: Duration) -> bool {
    TASKS.close();
    let finished = tokio::time::timeout(limit, TASKS.wait()).await.is_ok();
    // Another server in the same process (tests) goes on tracking.
    TASKS.reopen();
    finished
}
