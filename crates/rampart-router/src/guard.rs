//! The life of one admitted call: it counts as outstanding, holds its admission turn, and
//! reports its outcome to the backend's circuit exactly once, however it ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::Stream;
use rampart_core::{BackendError, ChunkStream};
use rampart_types::ChatCompletionChunk;

use crate::admission::AdmissionPermit;
use crate::catalog::BackendHandle;
use crate::policy::counts_against_backend;
use crate::router::Shared;

pub struct CallGuard {
    shared: Arc<Shared>,
    handle: Arc<BackendHandle>,
    _permit: AdmissionPermit,
    started: Instant,
    reported: bool,
}

impl CallGuard {
    pub(crate) fn new(shared: Arc<Shared>, handle: Arc<BackendHandle>, permit: AdmissionPermit) -> Self {
        handle.call_started();
        handle.publish_load();
        CallGuard { shared, handle, _permit: permit, started: Instant::now(), reported: false }
    }

    pub(crate) fn succeeded(&mut self) {
        self.reported = true;
        self.handle.observe_latency(u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX));
        let transition = self.handle.breaker().on_success(Instant::now());
        if let Some(transition) = transition {
            self.shared.circuit_changed(&self.handle, transition);
        }
    }

    pub(crate) fn failed(&mut self, error: &BackendError) {
        self.reported = true;
        // An embedded model's full queue is load, not ill health: it must not open the circuit.
        let shed_by_embedded = self.handle.backend.kind() == rampart_core::BackendKind::Embedded
            && matches!(error, BackendError::Upstream { status: 429, .. });
        if !counts_against_backend(error) || shed_by_embedded {
            self.handle.breaker().on_neutral();
            return;
        }
        let transition = self.handle.breaker().on_failure(Instant::now(), &error.to_string());
        if let Some(transition) = transition {
            self.shared.circuit_changed(&self.handle, transition);
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.reported {
            // Cancelled (client gone, deadline): no verdict on the backend.
            self.handle.breaker().on_neutral();
        }
        self.handle.call_ended();
        self.handle.publish_load();
    }
}

/// A stream that holds its call's turn until it ends, and reports a failure mid-stream to
/// the circuit (its first chunk already counted as a success).
pub(crate) struct GuardedStream {
    inner: ChunkStream,
    guard: CallGuard,
}

impl GuardedStream {
    pub(crate) fn wrap(inner: ChunkStream, guard: CallGuard) -> ChunkStream {
        Box::pin(GuardedStream { inner, guard })
    }
}

impl Stream for GuardedStream {
    type Item = Result<ChatCompletionChunk, BackendError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Err(error))) = &polled {
            let error = error.clone();
            self.guard.failed(&error);
        }
        polled
    }
}
