//! Backpressure per backend: at most `max_concurrency` calls at once, at most `max_queue`
//! waiting for a turn, and an immediate refusal past that, so that overload is shed as `429`
//! rather than piling up as latency and memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A backend's concurrency limit and waiting room.
#[derive(Debug)]
pub struct Admission {
    slots: Option<Arc<Semaphore>>,
    max_concurrency: Option<usize>,
    max_queue: usize,
    waiting: AtomicUsize,
}

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The waiting room is full.
    QueueFull,
    /// The call waited its whole allowance without a turn.
    WaitedTooLong,
}

/// Held for as long as the call runs (for a stream, until it ends).
#[derive(Debug)]
pub struct AdmissionPermit {
    _slot: Option<OwnedSemaphorePermit>,
}

impl Admission {
    pub fn new(max_concurrency: Option<usize>, max_queue: usize) -> Self {
        Admission {
            slots: max_concurrency.map(|limit| Arc::new(Semaphore::new(limit))),
            max_concurrency,
            max_queue,
            waiting: AtomicUsize::new(0),
        }
    }

    /// Waits for a turn until `wait_until`; refuses at once when the queue is full.
    /// `queue_changed` hears the queue's length whenever this call joins or leaves it.
    pub async fn enter(
        &self,
        wait_until: tokio::time::Instant,
        queue_changed: impl Fn(usize),
    ) -> Result<AdmissionPermit, Refusal> {
        let Some(slots) = &self.slots else {
            return Ok(AdmissionPermit { _slot: None });
        };
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return Ok(AdmissionPermit { _slot: Some(permit) });
        }
        // Reserve a place in the queue, or refuse if there is none.
        let reserved = self.waiting.fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
            (waiting < self.max_queue).then_some(waiting + 1)
        });
        if reserved.is_err() {
            return Err(Refusal::QueueFull);
        }
        queue_changed(self.queued());
        let _place = QueuePlace { waiting: &self.waiting, queue_changed: &queue_changed };
        match tokio::time::timeout_at(wait_until, slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(AdmissionPermit { _slot: Some(permit) }),
            // The semaphore is never closed; a closed one would mean no more turns.
            Ok(Err(_)) | Err(_) => Err(Refusal::WaitedTooLong),
        }
    }

    /// Calls waiting for a turn now.
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    pub fn max_concurrency(&self) -> Option<usize> {
        self.max_concurrency
    }

    pub fn max_queue(&self) -> usize {
        self.max_queue
    }
}

/// Leaves the queue when the wait ends, however it ends (the caller may be dropped).
struct QueuePlace<'a, F: Fn(usize)> {
    waiting: &'a AtomicUsize,
    queue_changed: &'a F,
}

impl<F: Fn(usize)> Drop for QueuePlace<'_, F> {
    fn drop(&mut self) {
        let left = self.waiting.fetch_sub(1, Ordering::AcqRel).saturating_sub(1);
        (self.queue_changed)(left);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn past_the_limit_calls_queue_and_past_the_queue_they_are_refused() {
        let admission = Admission::new(Some(1), 1);
        let far = tokio::time::Instant::now() + Duration::from_secs(60);
        let first = admission.enter(far, |_| {}).await;
        assert!(first.is_ok());
        let admission = Arc::new(admission);
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.enter(far, |_| {}).await.map(|_| ()) })
        };
        while admission.queued() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(admission.enter(far, |_| {}).await.err(), Some(Refusal::QueueFull));
        drop(first);
        assert_eq!(waiter.await.ok(), Some(Ok(())));
        assert_eq!(admission.queued(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_at_its_deadline() {
        let admission = Admission::new(Some(1), 4);
        let now = tokio::time::Instant::now();
        let _held = admission.enter(now + Duration::from_secs(60), |_| {}).await;
        let refused = admission.enter(now + Duration::from_secs(1), |_| {}).await;
        assert_eq!(refused.err(), Some(Refusal::WaitedTooLong));
        assert_eq!(admission.queued(), 0);
    }

    #[tokio::test]
    async fn no_limit_admits_everything() {
        let admission = Admission::new(None, 0);
        let far = tokio::time::Instant::now() + Duration::from_secs(1);
        let permits: Vec<_> = futures_util::future::join_all((0..100).map(|_| admission.enter(far, |_| {}))).await;
        assert!(permits.iter().all(Result::is_ok));
    }
}
