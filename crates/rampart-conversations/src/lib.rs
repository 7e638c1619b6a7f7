//! Encrypted conversation logs (issue 7): not implemented yet. This crate is reserved for
//! envelope-encrypted (AES-256-GCM) conversation history with retention and erasure; it has
//! no code, and nothing uses it.
