//! Decisions remembered per bundle, so that the same question asked again is not evaluated
//! again.
//!
//! A bundle is immutable and Rego is a pure function of `input` and `data`, except for a few
//! builtins that read the clock, the network or a random source. So for a bundle that calls
//! none of them, the decision for an input never changes, and the gateway asks the same few
//! questions over and over (one caller, one model, one tier). On regorus' RVM the default
//! bundle costs 10–20 µs a decision; a remembered one costs the input's serialisation and a
//! hash lookup, about a microsecond.
//!
//! What is remembered, and what is not:
//! - Only decisions the policy itself produced. An evaluation that failed (a timeout, an
//!   instruction budget, a regorus error) depends on load and luck, not only on the input, so
//!   its deny is never remembered: the next ask evaluates again.
//! - Nothing for a bundle that names a builtin whose answer can change between two calls
//!   with the same input (see [`NON_DETERMINISTIC_BUILTINS`]).
//! - The cache belongs to its bundle: a reload brings a new, empty one, so a decision never
//!   outlives the policy that made it.
//! - It holds at most `capacity` inputs. When full it is emptied and refilled: a burst of new
//!   callers costs evaluations, never memory.

use std::collections::HashMap;
use std::sync::Mutex;

use regorus::Value;

use crate::bundle::PolicyFile;
use crate::decision::Decision;

/// Builtins whose result can differ between two evaluations of the same input. A bundle whose
/// policies name one of them is never cached.
pub const NON_DETERMINISTIC_BUILTINS: [&str; 7] =
    ["time.now_ns", "rand.intn", "uuid.rfc4122", "http.send", "opa.runtime", "net.lookup_ip_addr", "crypto.x509"];

#[derive(Debug)]
pub(crate) struct DecisionCache {
    /// 0: off.
    capacity: usize,
    entries: Mutex<HashMap<String, Decision>>,
}

impl DecisionCache {
    /// A cache for a bundle made of `files`: off when `capacity` is 0 or a policy names a
    /// builtin of [`NON_DETERMINISTIC_BUILTINS`].
    pub(crate) fn for_files(files: &[PolicyFile], capacity: usize) -> Self {
        let reads_the_world = files
            .iter()
            .filter(|file| file.path.ends_with(".rego") && !file.is_test())
            .any(|file| NON_DETERMINISTIC_BUILTINS.iter().any(|builtin| file.text.contains(builtin)));
        DecisionCache { capacity: if reads_the_world { 0 } else { capacity }, entries: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The key for `input`: its JSON text (objects and sets are ordered, so equal inputs give
    /// equal keys). `None` when the cache is off.
    pub(crate) fn key(&self, input: &Value) -> Option<String> {
        if !self.enabled() {
            return None;
        }
        serde_json::to_string(input).ok()
    }

    pub(crate) fn get(&self, key: &str) -> Option<Decision> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    pub(crate) fn put(&self, key: String, decision: &Decision) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, decision.clone());
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().map(|entries| entries.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn file(path: &str, text: &str) -> PolicyFile {
        PolicyFile { path: path.to_owned(), text: text.to_owned() }
    }

    #[test]
    fn a_policy_that_reads_the_clock_is_not_cached_but_its_tests_may() {
        let clock = file("p.rego", "package rampart\nnow := time.now_ns()\n");
        assert!(!DecisionCache::for_files(&[clock], 16).enabled());
        let test_only = [file("p.rego", "package rampart\n"), file("p_test.rego", "t := time.now_ns()\n")];
        assert!(DecisionCache::for_files(&test_only, 16).enabled());
        assert!(!DecisionCache::for_files(&[file("p.rego", "package rampart\n")], 0).enabled());
    }

    #[test]
    fn only_decisions_the_policy_made_are_remembered() {
        use std::time::Duration;

        use crate::{EvalOptions, PolicyBundle, PolicyEngine, PolicyInput};
        let policy = "package rampart\n\nn := object.get(input, \"n\", 1)\n\n\
            decision := {\"allow\": count([x | some x in numbers.range(1, n)]) > 0, \"reasons\": [\"counted\"]}\n";
        let options = EvalOptions { time_limit: Duration::from_millis(5), ..EvalOptions::default() };
        let bundle = PolicyBundle::from_files("test".to_owned(), vec![file("p.rego", policy)], options).unwrap();
        assert!(bundle.caches_decisions());
        let engine = PolicyEngine::new(bundle);
        let decide = |input: serde_json::Value| engine.decide(&PolicyInput::from_json(&input));

        let slow = serde_json::json!({"n": 5_000_000});
        assert!(decide(slow.clone()).reasons[0].contains("time limit"));
        assert_eq!(engine.bundle().decisions.len(), 0, "a timed-out evaluation is not remembered");

        let fine = decide(serde_json::json!({"n": 3}));
        assert!(fine.allow);
        assert_eq!(engine.bundle().decisions.len(), 1);
        assert_eq!(decide(serde_json::json!({"n": 3})), fine, "asked again: the same decision");
        assert_eq!(engine.bundle().decisions.len(), 1);
    }

    #[test]
    fn a_full_cache_starts_over_instead_of_growing() {
        let cache = DecisionCache::for_files(&[file("p.rego", "package rampart\n")], 2);
        let decision = Decision::deny("v", "r");
        for index in 0..5 {
            cache.put(format!("k{index}"), &decision);
            assert!(cache.len() <= 2);
        }
        assert!(cache.get("k4").is_some());
        assert!(cache.get("k0").is_none());
    }
}
