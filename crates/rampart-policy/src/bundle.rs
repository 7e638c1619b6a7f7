//! A policy bundle: Rego files and optional data, compiled, smoke-tested and content-addressed.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::Program;
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Rc, Value};
use sha2::{Digest, Sha256};

use crate::cache::DecisionCache;
use crate::crosscheck;
use crate::decision::Decision;
use crate::error::PolicyError;
use crate::eval;

/// The rule every bundle must define: an object `{allow, reasons, obligations}`.
pub const DECISION_ENTRYPOINT: &str = "data.rampart.decision";

/// The data document of a bundle directory, merged under `data`.
pub const DATA_FILE: &str = "data.json";

/// The default bundle, embedded: what serves when no policy directory is configured.
const DEFAULT_BUNDLE: [(&str, &str); 9] = [
    ("decision.rego", include_str!("../policies/default/decision.rego")),
    ("decision_test.rego", include_str!("../policies/default/decision_test.rego")),
    ("helpers_test.rego", include_str!("../policies/default/helpers_test.rego")),
    ("rbac.rego", include_str!("../policies/default/rbac.rego")),
    ("rbac_test.rego", include_str!("../policies/default/rbac_test.rego")),
    ("tiers.rego", include_str!("../policies/default/tiers.rego")),
    ("tiers_test.rego", include_str!("../policies/default/tiers_test.rego")),
    ("tools.rego", include_str!("../policies/default/tools.rego")),
    ("tools_test.rego", include_str!("../policies/default/tools_test.rego")),
];

/// Which regorus evaluator serves decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvaluatorKind {
    /// The bundle compiled to RVM bytecode: several times faster. A bundle regorus cannot
    /// compile to the RVM, or on which the RVM and the interpreter decide differently for some
    /// input of a built-in corpus, is served by the interpreter instead (logged at WARN).
    #[default]
    Rvm,
    /// regorus' tree-walking interpreter (the one `run_tests` and `explain` use).
    Interpreter,
}

/// How decisions are evaluated, and what one evaluation may spend before it is cut off (and
/// the decision is a deny).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalOptions {
    /// Wall-clock budget of one decision (regorus' cooperative execution timer, checked every
    /// 64 instructions or interpreter steps; one long builtin call is not interrupted).
    pub time_limit: Duration,
    /// Instruction budget of one decision on the RVM: deterministic, unlike time. The
    /// interpreter has no instruction count.
    pub max_instructions: usize,
    pub evaluator: EvaluatorKind,
    /// How many distinct inputs' decisions a bundle remembers (see `cache.rs`); 0 evaluates
    /// every decision.
    pub decision_cache_entries: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            time_limit: Duration::from_millis(10),
            max_instructions: 1_000_000,
            evaluator: EvaluatorKind::Rvm,
            decision_cache_entries: 4096,
        }
    }
}

impl EvalOptions {
    pub(crate) fn timer(self) -> ExecutionTimerConfig {
        ExecutionTimerConfig {
            limit: self.time_limit,
            // The clock is read every 64 instructions: a few reads per default decision.
            check_interval: NonZeroU32::MIN.saturating_add(63),
        }
    }
}

/// One file of a bundle; `path` is relative to the bundle root, `/`-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    pub path: String,
    pub text: String,
}

impl PolicyFile {
    pub fn is_test(&self) -> bool {
        self.path.ends_with("_test.rego")
    }

    fn is_rego(&self) -> bool {
        self.path.ends_with(".rego")
    }
}

/// How decisions are evaluated: the RVM (compiled bytecode, the fast path) unless it is not
/// asked for, regorus cannot compile the bundle to it, or it decides differently from the
/// interpreter on the load-time corpus (`crosscheck`); then the tree-walking interpreter.
#[derive(Debug)]
pub(crate) enum Evaluator {
    Vm(Arc<Program>),
    Interpreter(Box<Engine>),
}

static NEXT_BUNDLE_ID: AtomicU64 = AtomicU64::new(1);

/// A compiled bundle, ready to decide. Immutable: a new version is a new bundle.
#[derive(Debug)]
pub struct PolicyBundle {
    /// Unique in this process; per-thread evaluators are keyed by it.
    pub(crate) id: u64,
    version: String,
    origin: String,
    files: Vec<PolicyFile>,
    pub(crate) data: Value,
    pub(crate) evaluator: Evaluator,
    pub(crate) options: EvalOptions,
    /// This bundle's remembered decisions.
    pub(crate) decisions: DecisionCache,
}

impl PolicyBundle {
    /// The built-in default bundle (`policies/default`).
    pub fn default_bundle(options: EvalOptions) -> Result<Self, PolicyError> {
        let files = DEFAULT_BUNDLE
            .iter()
            .map(|(path, text)| PolicyFile { path: (*path).to_owned(), text: (*text).to_owned() })
            .collect();
        PolicyBundle::from_files("built-in default bundle".to_owned(), files, options)
    }

    /// Every `*.rego` under `dir` (recursively; hidden entries skipped; symlinks to files
    /// followed, to directories not) and `dir/data.json` if present.
    pub fn from_dir(dir: &Path, options: EvalOptions) -> Result<Self, PolicyError> {
        PolicyBundle::from_dir_files(dir, read_dir_files(dir)?, options)
    }

    pub(crate) fn from_dir_files(
        dir: &Path,
        files: Vec<PolicyFile>,
        options: EvalOptions,
    ) -> Result<Self, PolicyError> {
        if !files.iter().any(|file| file.is_rego() && !file.is_test()) {
            return Err(PolicyError::NoPolicies { dir: dir.to_owned() });
        }
        PolicyBundle::from_files(dir.display().to_string(), files, options)
    }

    /// Compiles `files` and smoke-evaluates the decision; `origin` says where they came from.
    pub fn from_files(origin: String, mut files: Vec<PolicyFile>, options: EvalOptions) -> Result<Self, PolicyError> {
        files.sort_by(|left, right| left.path.cmp(&right.path));
        let version = content_version(&files);
        let (engine, data) = build_engine(&files, false)?;
        // Test files must parse too, so that `policy test` and serving agree on the bundle.
        build_engine(&files, true)?;
        let evaluator = compile(engine, options.evaluator)?;
        let decisions = DecisionCache::for_files(&files, options.decision_cache_entries);
        let bundle = PolicyBundle {
            id: NEXT_BUNDLE_ID.fetch_add(1, Ordering::Relaxed),
            version,
            origin,
            files,
            data,
            evaluator,
            options,
            decisions,
        };
        bundle.smoke_test()?;
        if matches!(bundle.evaluator, Evaluator::Vm(_)) {
            let (interpreter, _) = build_engine(&bundle.files, false)?;
            if let Some(divergence) = crosscheck::first_divergence(&bundle, &interpreter) {
                tracing::warn!(
                    origin = %bundle.origin,
                    version = %bundle.version,
                    %divergence,
                    "regorus' RVM and interpreter disagree on this bundle; serving it with the interpreter"
                );
                // A new id: evaluators already built for the RVM program must not be reused.
                return Ok(PolicyBundle {
                    id: NEXT_BUNDLE_ID.fetch_add(1, Ordering::Relaxed),
                    evaluator: Evaluator::Interpreter(Box::new(interpreter)),
                    ..bundle
                });
            }
        }
        Ok(bundle)
    }

    /// `sha256:` and 16 hex digits: the same files give the same version on every node.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Where the bundle came from (a directory, or the built-in default).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// All files, sorted by path: policies, tests and `data.json`.
    pub fn files(&self) -> &[PolicyFile] {
        &self.files
    }

    pub fn options(&self) -> EvalOptions {
        self.options
    }

    /// Whether this bundle remembers its decisions: not when its policies read the clock, the
    /// network or a random source, or when `decision_cache_entries` is 0.
    pub fn caches_decisions(&self) -> bool {
        self.decisions.enabled()
    }

    /// `"rvm"` or `"interpreter"`: which regorus evaluator serves this bundle.
    pub fn evaluator_name(&self) -> &'static str {
        match self.evaluator {
            Evaluator::Vm(_) => "rvm",
            Evaluator::Interpreter(_) => "interpreter",
        }
    }

    /// A fresh interpreter with the bundle's policies and data (and its tests when asked):
    /// for `explain` and `run_tests`, never for serving.
    pub(crate) fn interpreter(&self, with_tests: bool) -> Result<Engine, PolicyError> {
        build_engine(&self.files, with_tests).map(|(engine, _)| engine)
    }

    fn smoke_test(&self) -> Result<(), PolicyError> {
        let refuse =
            |message: String| PolicyError::SmokeEvaluation { entrypoint: DECISION_ENTRYPOINT.to_owned(), message };
        let value = eval::evaluate(self, smoke_input()).map_err(refuse)?;
        let decision = Decision::from_policy_value(&value, &self.version);
        match decision.reasons.first() {
            Some(reason) if !decision.allow && reason.starts_with("malformed policy decision") => {
                Err(refuse(reason.clone()))
            }
            _ => Ok(()),
        }
    }
}

/// A plain user's Tier 1 model call: every bundle must decide it without error.
fn smoke_input() -> Value {
    let input = serde_json::json!({
        "identity": {
            "tenant_id": "smoke", "user_id": "smoke", "roles": ["user"],
            "privacy_mode": false, "credential": "none", "agent": null,
        },
        "action": "model.call",
        "resource": {"model": "smoke", "tier": 1, "classification": null, "endpoint": null},
    });
    Value::from(input)
}

/// Expects `files` sorted by path (as `read_dir_files` returns them).
pub(crate) fn content_version(files: &[PolicyFile]) -> String {
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.path.as_bytes());
        hasher.update([0]);
        hasher.update(file.text.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    format!("sha256:{}", hex::encode(&digest[..8]))
}

/// An interpreter with the serving policies (plus tests when asked) and the data document.
fn build_engine(files: &[PolicyFile], with_tests: bool) -> Result<(Engine, Value), PolicyError> {
    let mut engine = Engine::new();
    let mut data = Value::new_object();
    for file in files {
        if file.is_rego() && (with_tests || !file.is_test()) {
            engine
                .add_policy(file.path.clone(), file.text.clone())
                .map_err(|error| PolicyError::from_regorus(&error, &file.path))?;
        } else if file.path == DATA_FILE {
            data = Value::from_json_str(&file.text).ok().filter(|value| matches!(value, Value::Object(_))).ok_or_else(
                || PolicyError::Data { file: file.path.clone(), message: "expected a JSON object".to_owned() },
            )?;
            engine
                .add_data(data.clone())
                .map_err(|error| PolicyError::Data { file: file.path.clone(), message: format!("{error:#}") })?;
        }
    }
    Ok((engine, data))
}

fn compile(mut engine: Engine, kind: EvaluatorKind) -> Result<Evaluator, PolicyError> {
    let entrypoint: Rc<str> = DECISION_ENTRYPOINT.into();
    let compiled = engine
        .compile_with_entrypoint(&entrypoint)
        .map_err(|error| PolicyError::from_regorus(&error, DECISION_ENTRYPOINT))?;
    if kind == EvaluatorKind::Interpreter {
        return Ok(Evaluator::Interpreter(Box::new(engine)));
    }
    match Compiler::compile_from_policy(&compiled, &[DECISION_ENTRYPOINT]) {
        Ok(program) => Ok(Evaluator::Vm(program)),
        Err(error) => {
            tracing::warn!(%error, "policy bundle does not compile to the RVM; serving it with the slower interpreter");
            Ok(Evaluator::Interpreter(Box::new(engine)))
        }
    }
}

/// Size and modification time of every file a bundle directory would load: a cheap check
/// for `watch` before reading and hashing.
pub(crate) type DirFingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

pub(crate) fn dir_fingerprint(dir: &Path) -> Result<DirFingerprint, PolicyError> {
    let mut found = Vec::new();
    collect(dir, dir, &mut found)?;
    found
        .into_iter()
        .map(|(path, _)| {
            let metadata = std::fs::metadata(&path).map_err(|source| PolicyError::Io { path: path.clone(), source })?;
            Ok((path, metadata.len(), metadata.modified().ok()))
        })
        .collect()
}

/// The bundle files under `dir`, sorted by relative path.
pub(crate) fn read_dir_files(dir: &Path) -> Result<Vec<PolicyFile>, PolicyError> {
    let mut found = Vec::new();
    collect(dir, dir, &mut found)?;
    found
        .into_iter()
        .map(|(path, relative)| {
            let bytes = std::fs::read(&path).map_err(|source| PolicyError::Io { path: path.clone(), source })?;
            let text = String::from_utf8(bytes).map_err(|_| PolicyError::NotUtf8 { path })?;
            Ok(PolicyFile { path: relative, text })
        })
        .collect()
}

/// (absolute path, relative `/`-separated path) of every bundle file under `dir`, sorted.
fn collect(root: &Path, dir: &Path, found: &mut Vec<(PathBuf, String)>) -> Result<(), PolicyError> {
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| PolicyError::Io { path, source }
    };
    let mut entries =
        std::fs::read_dir(dir).map_err(io_error(dir))?.collect::<Result<Vec<_>, _>>().map_err(io_error(dir))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(io_error(&path))?;
        if file_type.is_dir() {
            collect(root, &path, found)?;
            continue;
        }
        let is_file = file_type.is_file()
            || (file_type.is_symlink() && std::fs::metadata(&path).is_ok_and(|meta| meta.is_file()));
        let relative = relative_path(root, &path);
        if is_file && (name.ends_with(".rego") || relative == DATA_FILE) {
            found.push((path, relative));
        }
    }
    found.sort_by(|left, right| left.1.cmp(&right.1));
    Ok(())
}

fn relative_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.components().map(|component| component.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_content_addressed_over_paths_and_contents() {
        let file = |path: &str, text: &str| PolicyFile { path: path.into(), text: text.into() };
        let one = content_version(&[file("a.rego", "x"), file("b.rego", "y")]);
        assert_eq!(one, content_version(&[file("a.rego", "x"), file("b.rego", "y")]));
        assert_ne!(one, content_version(&[file("a.rego", "xb.rego"), file("", "y")]));
        assert_ne!(one, content_version(&[file("a.rego", "x"), file("b.rego", "z")]));
        assert!(one.starts_with("sha256:") && one.len() == "sha256:".len() + 16, "{one}");
    }
}
