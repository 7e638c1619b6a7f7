//! The serving side: the current bundle behind an atomic swap, decisions, reloads, the watcher.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::bundle::{DirFingerprint, EvalOptions, PolicyBundle, content_version, dir_fingerprint, read_dir_files};
use crate::decision::Decision;
use crate::error::PolicyError;
use crate::eval;
use crate::input::PolicyInput;

/// Decides with the current bundle; swapped whole on reload, so each decision sees exactly one
/// bundle and names its version.
#[derive(Debug)]
pub struct PolicyEngine {
    current: ArcSwap<PolicyBundle>,
}

impl PolicyEngine {
    pub fn new(bundle: PolicyBundle) -> Self {
        PolicyEngine { current: ArcSwap::from_pointee(bundle) }
    }

    /// The built-in default bundle with default options.
    pub fn with_default_bundle() -> Result<Self, PolicyError> {
        PolicyBundle::default_bundle(EvalOptions::default()).map(PolicyEngine::new)
    }

    pub fn from_dir(dir: &Path, options: EvalOptions) -> Result<Self, PolicyError> {
        PolicyBundle::from_dir(dir, options).map(PolicyEngine::new)
    }

    /// The decision for `input`. Never fails: an evaluation error, a timeout or a malformed
    /// decision is a deny whose reason says so.
    pub fn decide(&self, input: &PolicyInput) -> Decision {
        let bundle = self.current.load();
        decide_with(&bundle, input)
    }

    /// The serving bundle's version (`sha256:` + 16 hex digits).
    pub fn version(&self) -> String {
        self.current.load().version().to_owned()
    }

    /// The serving bundle.
    pub fn bundle(&self) -> Arc<PolicyBundle> {
        self.current.load_full()
    }

    /// Serves `bundle` from now on; decisions in flight finish on the old one, which is returned.
    pub fn swap(&self, bundle: Arc<PolicyBundle>) -> Arc<PolicyBundle> {
        self.current.swap(bundle)
    }

    /// Builds the bundle in `dir` (with the serving bundle's options) and swaps it in only if it
    /// loads; otherwise the old bundle keeps serving and the error is returned.
    pub fn reload_from_dir(&self, dir: &Path) -> Result<Arc<PolicyBundle>, PolicyError> {
        let bundle = PolicyBundle::from_dir(dir, self.current.load().options())?;
        let bundle = Arc::new(bundle);
        self.current.store(bundle.clone());
        Ok(bundle)
    }

    /// Polls `dir` every `interval` and reloads when its content changes: sizes and mtimes
    /// first, then the content hash. A swap logs at INFO, a refused bundle at WARN (once per
    /// change). Must run inside a tokio runtime; the task ends when the engine is dropped.
    pub fn watch(self: &Arc<Self>, dir: PathBuf, interval: Duration) -> tokio::task::JoinHandle<()> {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut watcher = DirWatcher { dir, seen: None };
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let engine = engine.clone();
                let poll = tokio::task::spawn_blocking(move || {
                    let poll = watcher.poll(&engine);
                    (watcher, poll)
                });
                match poll.await {
                    Ok((returned, Poll::Continue)) => watcher = returned,
                    Ok((_, Poll::EngineGone)) => return,
                    Err(error) => {
                        tracing::warn!(%error, "policy watcher poll failed; the watcher stops");
                        return;
                    }
                }
            }
        })
    }

    /// The decision and what led to it, for `rampart policy eval`.
    pub fn explain(&self, input: &PolicyInput) -> (Decision, crate::Explanation) {
        crate::explain::explain(&self.current.load_full(), input)
    }
}

/// The bundle's decision for `input`: remembered, or evaluated (and then remembered, unless the
/// evaluation failed).
fn decide_with(bundle: &PolicyBundle, input: &PolicyInput) -> Decision {
    let key = bundle.decisions.key(input.value());
    if let Some(decision) = key.as_deref().and_then(|key| bundle.decisions.get(key)) {
        return decision;
    }
    let (decision, evaluated) = evaluate_decision(bundle, input);
    if let (Some(key), true) = (key, evaluated) {
        bundle.decisions.put(key, &decision);
    }
    decision
}

/// Evaluates `input`, never from the cache; `true` when the policy itself decided (not an
/// evaluation error turned into a deny).
pub(crate) fn evaluate_decision(bundle: &PolicyBundle, input: &PolicyInput) -> (Decision, bool) {
    let version = bundle.version();
    match eval::evaluate(bundle, input.value().clone()) {
        Ok(value) => (Decision::from_policy_value(&value, version), true),
        Err(error) => (Decision::deny(version, format!("policy evaluation failed: {error}")), false),
    }
}

enum Poll {
    Continue,
    EngineGone,
}

struct DirWatcher {
    dir: PathBuf,
    /// The fingerprint last acted on, so an unchanged (or still broken) directory is not
    /// re-read, re-compiled or re-logged.
    seen: Option<DirFingerprint>,
}

impl DirWatcher {
    fn poll(&mut self, engine: &Weak<PolicyEngine>) -> Poll {
        let Some(engine) = engine.upgrade() else {
            return Poll::EngineGone;
        };
        let fingerprint = match dir_fingerprint(&self.dir) {
            Ok(fingerprint) => fingerprint,
            Err(error) => {
                tracing::warn!(dir = %self.dir.display(), %error, "cannot scan policy directory; keeping the serving bundle");
                return Poll::Continue;
            }
        };
        if self.seen.as_ref() == Some(&fingerprint) {
            return Poll::Continue;
        }
        self.seen = Some(fingerprint);
        let serving = engine.version();
        match engine.reload_if_changed(&self.dir) {
            Ok(Some(bundle)) => tracing::info!(
                dir = %self.dir.display(),
                from = %serving,
                to = %bundle.version(),
                evaluator = bundle.evaluator_name(),
                "policy bundle swapped"
            ),
            Ok(None) => {}
            Err(error) => tracing::warn!(
                dir = %self.dir.display(),
                serving = %serving,
                %error,
                "policy bundle refused; the serving bundle stays"
            ),
        }
        Poll::Continue
    }
}

impl PolicyEngine {
    /// Reloads only if the directory's content version differs from the serving one.
    fn reload_if_changed(&self, dir: &Path) -> Result<Option<Arc<PolicyBundle>>, PolicyError> {
        let files = read_dir_files(dir)?;
        let serving = self.current.load_full();
        if content_version(&files) == serving.version() {
            return Ok(None);
        }
        let bundle = Arc::new(PolicyBundle::from_dir_files(dir, files, serving.options())?);
        self.current.store(bundle.clone());
        Ok(Some(bundle))
    }
}
