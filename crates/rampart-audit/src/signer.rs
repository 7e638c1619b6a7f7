//! The checkpoint signing key: Ed25519 (ring), kept in a PKCS#8 file that only its owner can
//! read. This is the one place the crate touches the file system.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::AuditError;
use crate::checkpoint::{Checkpoint, checkpoint_note, key_id};
use crate::hash::Hash;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// Signs checkpoints with the log's Ed25519 key.
pub struct AuditSigner {
    key_pair: Ed25519KeyPair,
    public_key: [u8; 32],
    key_id: String,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigner").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl AuditSigner {
    /// A new random key as a PKCS#8 v2 DER document.
    pub fn generate_pkcs8() -> Result<Vec<u8>, AuditError> {
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map(|document| document.as_ref().to_vec())
            .map_err(|_| AuditError::Randomness)
    }

    /// A key from a PKCS#8 document: DER or PEM (`-----BEGIN PRIVATE KEY-----`), v2 as ring
    /// writes it or v1 as `openssl genpkey -algorithm ed25519` does.
    pub fn from_pkcs8(bytes: &[u8]) -> Result<Self, AuditError> {
        let der = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") { pem_to_der(bytes)? } else { bytes.to_vec() };
        if der.is_empty() {
            return Err(AuditError::InvalidKey { reason: "the key is empty".into() });
        }
        let key_pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|rejected| AuditError::InvalidKey { reason: format!("not an Ed25519 PKCS#8 key ({rejected})") })?;
        let mut public_key = [0u8; 32];
        public_key.copy_from_slice(key_pair.public_key().as_ref());
        Ok(AuditSigner { key_pair, key_id: key_id(&public_key), public_key })
    }

    /// Loads the key at `path`, or creates it (and its directory, mode 0700) with a new random
    /// key, mode 0600, if there is none. Creation is atomic: the key is written to a private
    /// temporary file and linked into place only if `path` still does not exist, so two
    /// processes starting together end up with the same, complete key.
    pub fn load_or_create(path: &Path) -> Result<Self, AuditError> {
        match AuditSigner::load(path) {
            Err(AuditError::KeyFile { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }
        let file_error = |source| AuditError::KeyFile { path: path.to_path_buf(), source };
        let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
        create_private_dir(parent).map_err(file_error)?;

        let der = AuditSigner::generate_pkcs8()?;
        let signer = AuditSigner::from_pkcs8(&der)?;
        let pem = der_to_pem(&der);
        let temporary = temporary_path(path)?;
        write_new_private_file(&temporary, pem.as_bytes()).map_err(file_error)?;
        let linked = fs::hard_link(&temporary, path);
        // The temporary name is ours alone; failing to remove it leaves a harmless 0600 file.
        let _ = fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                sync_dir(parent);
                Ok(signer)
            }
            // Another process created it first: use theirs.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => AuditSigner::load(path),
            // File systems without hard links: create in place, still never over another key.
            Err(_) => match write_new_private_file(path, pem.as_bytes()) {
                Ok(()) => {
                    sync_dir(parent);
                    Ok(signer)
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => AuditSigner::load(path),
                Err(error) => Err(file_error(error)),
            },
        }
    }

    /// Loads a user-supplied key file, refusing one that group or others may read or write.
    pub fn load(path: &Path) -> Result<Self, AuditError> {
        let file_error = |source| AuditError::KeyFile { path: path.to_path_buf(), source };
        let mut file = File::open(path).map_err(file_error)?;
        check_private(path, &file)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(file_error)?;
        AuditSigner::from_pkcs8(&bytes).map_err(|error| match error {
            AuditError::InvalidKey { reason } => {
                AuditError::InvalidKey { reason: format!("{}: {reason}", path.display()) }
            }
            other => other,
        })
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// First 16 hex digits of SHA-256 of the public key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs the tree head of a log of `tree_size` records.
    pub fn sign_checkpoint(&self, tree_size: u64, root_hash: &Hash, head_hash: &Hash, time_unix_ms: i64) -> Checkpoint {
        let note = checkpoint_note(tree_size, root_hash, head_hash, time_unix_ms);
        let signature = self.key_pair.sign(note.as_bytes()).as_ref().to_vec();
        Checkpoint {
            tree_size,
            root_hash: *root_hash,
            head_hash: *head_hash,
            time_unix_ms,
            key_id: self.key_id.clone(),
            signature,
        }
    }
}

fn pem_to_der(bytes: &[u8]) -> Result<Vec<u8>, AuditError> {
    let invalid = |reason: &str| AuditError::InvalidKey { reason: reason.to_owned() };
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("PEM key is not text"))?;
    let body = text
        .split_once(PEM_BEGIN)
        .and_then(|(_, rest)| rest.split_once(PEM_END))
        .map(|(body, _)| body)
        .ok_or_else(|| invalid("expected a PEM `PRIVATE KEY` block"))?;
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(base64).map_err(|_| invalid("PEM body is not base64"))
}

fn der_to_pem(der: &[u8]) -> String {
    let encoded = BASE64.encode(der);
    let mut pem = format!("{PEM_BEGIN}\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    pem
}

fn temporary_path(path: &Path) -> Result<PathBuf, AuditError> {
    let mut random = [0u8; 8];
    SystemRandom::new().fill(&mut random).map_err(|_| AuditError::Randomness)?;
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(path.with_file_name(format!(".{name}.{}.tmp", hex::encode(random))))
}

fn write_new_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes a new directory entry durable; best effort (not every platform can open a directory).
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(unix)]
fn check_private(path: &Path, file: &File) -> Result<(), AuditError> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = file.metadata().map_err(|source| AuditError::KeyFile { path: path.to_path_buf(), source })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AuditError::KeyFilePermissions { path: path.to_path_buf(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _file: &File) -> Result<(), AuditError> {
    Ok(())
}
