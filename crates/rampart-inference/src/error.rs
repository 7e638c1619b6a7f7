use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error("cannot load the model at {path}: {detail}\nhint: `rampart models pull` fetches the default models")]
    ModelFiles { path: PathBuf, detail: String },
    #[error("model at {path} is not supported: {detail}")]
    Unsupported { path: PathBuf, detail: String },
    #[error("tokenizer failed: {0}")]
    Tokenizer(String),
    #[error("inference failed: {0}")]
    Compute(String),
}

impl From<candle_core::Error> for InferenceError {
    fn from(error: candle_core::Error) -> Self {
        InferenceError::Compute(error.to_string())
    }
}
