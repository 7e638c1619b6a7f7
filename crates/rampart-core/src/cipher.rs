//! Content sealed at rest under a per-tenant key, for stores that keep what users wrote
//! (retrieved passages, memory items) where a copied disk or database dump must not reveal it.

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// The key material is missing or unusable (wrong master key, store unreachable).
    #[error("{0}")]
    Key(String),
    /// Authentication failed: the bytes were altered, moved from another row, or sealed
    /// under a key this one does not match.
    #[error("sealed content of '{context}' does not open: it was altered, moved, or sealed under another key")]
    Tampered { context: String },
    #[error("encryption: {0}")]
    Crypto(String),
}

/// Authenticated encryption under a key of the owning tenant.
///
/// `context` names the row the bytes belong to (a chunk id, say). It is bound into the seal,
/// so bytes copied into another row, or another tenant's partition, do not open.
#[async_trait]
pub trait ContentCipher: Send + Sync {
    async fn seal(&self, tenant: &str, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, CipherError>;

    async fn open(&self, tenant: &str, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CipherError>;

    /// Names the key that protects the tenant keys (for logs), never the key itself.
    fn key_id(&self) -> String;
}
