//! The HTTP server loop: TCP_NODELAY on every connection, a header read timeout against
//! slow-loris clients, HTTP/1.1 and h2c, and graceful shutdown that drains in-flight requests.
//!
//! Connections are served by a few worker threads, each running a single-thread runtime of its
//! own, rather than by one work-stealing runtime. A proxied request wakes several tasks (its
//! connection's, the upstream connection's, the body's); on a work-stealing runtime those
//! wake-ups hop between threads, and every hop is a futex call and often an inter-processor
//! interrupt. Kept on one thread, with the upstream's connection pool kept per worker too
//! (`rampart_core::worker`), a request never leaves its worker: on two cores, a fifth less CPU
//! per request and a third more requests per second (BENCHMARKS.md, "Serving workers").
//!
//! The accept loop runs on the caller's runtime and hands each connection to the worker with
//! the fewest open connections, so a few long streams do not pile up on one thread.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    pub header_read_timeout: Duration,
    pub shutdown_grace: Duration,
    /// Threads that serve connections (at least one).
    pub workers: usize,
}

/// A connection handed to a worker.
type Accepted = (std::net::TcpStream, SocketAddr);

/// The serving workers once they have drained: their runtimes still run, so that what was
/// made on them (pooled database connections, timers) keeps working until the caller has
/// finished its own shutdown. [`Workers::stop`] ends them.
#[must_use = "the workers run until `stop` is awaited or this is dropped"]
pub struct Workers {
    release: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Ends the workers' runtimes and waits for their threads.
    pub async fn stop(mut self) {
        self.release.clear();
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

/// One worker as the accept loop sees it.
struct WorkerHandle {
    connections: mpsc::UnboundedSender<Accepted>,
    open: Arc<AtomicUsize>,
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits up to the grace period
/// for in-flight requests (streams included) and the work they left running to finish.
/// Errors say why a worker's thread or runtime could not start.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<Workers, std::io::Error> {
    let mut handles = Vec::new();
    let mut drained = Vec::new();
    let mut workers = Workers { release: Vec::new(), threads: Vec::new() };
    for index in 0..options.workers.max(1) {
        let (connections, incoming) = mpsc::unbounded_channel();
        let (drained_sender, drained_receiver) = oneshot::channel();
        let (release, released) = oneshot::channel();
        let open = Arc::new(AtomicUsize::new(0));
        let worker = Worker { index, app: app.clone(), options, open: open.clone() };
        let (started, start) = oneshot::channel();
        let thread = std::thread::Builder::new().name(format!("rampart-serve-{index}")).spawn(move || {
            worker.run(started, incoming, drained_sender, released);
        })?;
        // A runtime that cannot start is this call's error, not a worker that silently drops
        // the connections it is handed.
        start.await.map_err(|_| std::io::Error::other("a serving thread ended while starting"))??;
        handles.push(WorkerHandle { connections, open });
        drained.push(drained_receiver);
        workers.release.push(release);
        workers.threads.push(thread);
    }
    accept(&listener, &handles, shutdown).await;
    drop(listener);
    let deadline = Instant::now() + options.shutdown_grace;
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    // Closing the queues tells each worker to drain.
    drop(handles);
    for worker in drained {
        let _ = worker.await;
    }
    if !crate::background::finish(deadline.saturating_duration_since(Instant::now())).await {
        tracing::warn!("grace period over; work left running by finished requests is abandoned");
    }
    Ok(workers)
}

/// Accepts until `shutdown`, handing each connection to the least busy worker.
async fn accept(listener: &TcpListener, workers: &[WorkerHandle], shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut next = 0;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "could not set TCP_NODELAY");
                }
                let stream = match stream.into_std() {
                    Ok(stream) => stream,
                    Err(error) => {
                        tracing::warn!(%peer, %error, "could not hand a connection to a worker");
                        continue;
                    }
                };
                // The fewest open connections, starting after the last one chosen so that
                // ties rotate.
                let chosen = (0..workers.len())
                    .map(|offset| (next + offset) % workers.len())
                    .min_by_key(|&index| workers[index].open.load(Ordering::Relaxed))
                    .unwrap_or(0);
                next = (chosen + 1) % workers.len();
                let worker = &workers[chosen];
                worker.open.fetch_add(1, Ordering::Relaxed);
                if worker.connections.send((stream, peer)).is_err() {
                    tracing::error!(worker = chosen, "a serving worker has stopped; connection dropped");
                }
            }
            () = &mut shutdown => break,
        }
    }
}

/// One serving thread: its runtime, and the connections handed to it.
struct Worker {
    index: usize,
    app: Router,
    options: ServeOptions,
    /// Connections handed to it and not yet closed.
    open: Arc<AtomicUsize>,
}

impl Worker {
    fn run(
        self,
        started: oneshot::Sender<std::io::Result<()>>,
        incoming: mpsc::UnboundedReceiver<Accepted>,
        drained: oneshot::Sender<()>,
        released: oneshot::Receiver<()>,
    ) {
        rampart_core::worker::enter(self.index);
        // Built on its own thread: a runtime may not be dropped inside another one's task.
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                let _ = started.send(Err(error));
                return;
            }
        };
        let _ = started.send(Ok(()));
        runtime.block_on(async move {
            // Serving consumes the worker: its clone of the app (and of every handle the app
            // holds, such as the request log's queue) is gone once it has drained.
            self.serve(incoming).await;
            let _ = drained.send(());
            // Dropped or sent: either way the caller is done with this runtime.
            let _ = released.await;
        });
    }

    /// Serves the connections handed over until the queue closes, then drains them.
    async fn serve(self, mut incoming: mpsc::UnboundedReceiver<Accepted>) {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(self.options.header_read_timeout).keep_alive(true);
        builder.http2().timer(TokioTimer::new());
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        while let Some((stream, peer)) = incoming.recv().await {
            let open = OpenConnection(self.open.clone());
            let stream = match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(%peer, %error, "a serving worker could not take a connection");
                    continue;
                }
            };
            let service = TowerToHyperService::new(self.app.clone());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                drop(open);
            });
        }
        tokio::select! {
            () = graceful.shutdown() => tracing::debug!(worker = self.index, "all connections closed"),
            () = tokio::time::sleep(self.options.shutdown_grace) => {
                tracing::warn!(grace = ?self.options.shutdown_grace, "grace period over; closing remaining connections");
            }
        }
    }
}

/// Counts a connection as open on its worker until dropped.
struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
