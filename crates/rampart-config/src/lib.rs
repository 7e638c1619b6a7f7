//! Rampart's configuration: one TOML file, `RAMPART_*` environment overrides and `${VAR}`
//! interpolation, validated into a typed [`Config`].
//!
//! Every error names the key, the file and the line (or the environment variable) so a user
//! can fix it without guessing. This crate reads files and the environment and nothing else:
//! it never opens sockets or databases.

mod env;
mod error;
mod governance;
mod limits;
mod load;
mod locate;
mod model;
mod observability;
mod retrieval;
mod routes;
mod validate;
mod validate_governance;
mod validate_limits;

pub use error::ConfigError;
pub use governance::*;
pub use limits::*;
pub use load::{ConfigSource, LoadedConfig, load, load_from_str};
pub use model::*;
pub use observability::*;
pub use retrieval::RetrievalConfig;
pub use routes::*;
pub use validate_governance::OIDC_ALGORITHMS;
