//! Which serving worker the calling thread is, and state kept once per worker.
//!
//! The gateway serves connections on a few worker threads, each running its own single-thread
//! runtime (`rampart_gateway::serve`). A task there that wakes a task on another thread pays
//! for it in futex calls and inter-processor interrupts, which on a small machine cost more
//! than the request's own work. So what a request touches on every call and that holds tasks
//! of its own, such as an upstream's pool of keep-alive connections, is kept once per worker
//! ([`PerWorker`]): a worker then reuses only connections whose tasks run on its own thread.

use std::cell::Cell;
use std::sync::OnceLock;

/// Workers past this many share the value kept for threads that are not workers.
pub const MAX_WORKERS_WITH_OWN_STATE: usize = 64;

thread_local! {
    static CURRENT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Marks the calling thread as serving worker `index` (0-based) for the rest of its life.
pub fn enter(index: usize) {
    CURRENT.set(Some(index));
}

/// The calling thread's worker index, or `None` off the serving workers (start-up, background
/// tasks, tests).
pub fn current() -> Option<usize> {
    CURRENT.get()
}

/// A value per serving worker, made on the worker's first use of it, beside one shared value
/// for every other thread.
#[derive(Debug)]
pub struct PerWorker<T> {
    shared: T,
    own: Box<[OnceLock<T>]>,
}

impl<T> PerWorker<T> {
    /// `shared` serves threads that are not workers (and workers past
    /// [`MAX_WORKERS_WITH_OWN_STATE`]).
    pub fn new(shared: T) -> Self {
        Self { shared, own: (0..MAX_WORKERS_WITH_OWN_STATE).map(|_| OnceLock::new()).collect() }
    }

    /// The calling worker's own value, made by `make` on its first call there; the shared
    /// value off the workers, or when `make` gives `None` (it is then asked again next time).
    pub fn get(&self, make: impl FnOnce() -> Option<T>) -> &T {
        let Some(slot) = current().and_then(|index| self.own.get(index)) else { return &self.shared };
        if let Some(value) = slot.get() {
            return value;
        }
        match make() {
            // Only this worker's thread fills its slot, so the slot is still empty here.
            Some(value) => slot.get_or_init(|| value),
            None => &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_worker_makes_its_own_value_once_and_other_threads_share_one() {
        let values = std::sync::Arc::new(PerWorker::new(String::from("shared")));
        assert_eq!(values.get(|| Some("never made".to_owned())), "shared", "not a worker: the shared value");
        let made = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|index| {
                let (values, made) = (values.clone(), made.clone());
                std::thread::spawn(move || {
                    enter(index);
                    let first = values
                        .get(|| {
                            made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            Some(format!("worker {index}'s"))
                        })
                        .clone();
                    let again = values.get(|| Some("made twice".to_owned())).clone();
                    (first, again)
                })
            })
            .collect();
        for (index, worker) in workers.into_iter().enumerate() {
            let (first, again) = worker.join().unwrap();
            assert_eq!(first, format!("worker {index}'s"));
            assert_eq!(again, first, "a worker keeps the value it made");
        }
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn a_worker_that_cannot_make_its_value_uses_the_shared_one_and_tries_again() {
        let values = PerWorker::new(1);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                enter(3);
                assert_eq!(*values.get(|| None), 1);
                assert_eq!(*values.get(|| Some(11)), 11);
                assert_eq!(*values.get(|| Some(99)), 11);
            });
        });
        std::thread::scope(|scope| {
            scope.spawn(|| {
                enter(MAX_WORKERS_WITH_OWN_STATE);
                assert_eq!(*values.get(|| Some(5)), 1, "past the last slot: shared");
            });
        });
    }
}
