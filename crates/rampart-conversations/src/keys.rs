//! The master key and the per-tenant data keys it wraps (envelope encryption).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use rampart_core::{CipherError, ContentCipher, ConversationStore, StoreError, WrappedDataKey, unix_now_millis};

use crate::ConversationError;

pub(crate) const NONCE_BYTES: usize = 12;

/// The 32-byte key that wraps every tenant's data key. Never printed; named by `id()`.
pub struct MasterKey {
    bytes: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id())
    }
}

impl MasterKey {
    /// Parses one line of base64 or hex holding 32 bytes.
    pub fn parse(text: &str) -> Result<Self, ConversationError> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .filter(|bytes| bytes.len() == 32)
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .ok_or_else(|| ConversationError::BadMasterKey("it is neither base64 nor hex".into()))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            ConversationError::BadMasterKey(format!("it holds {} bytes, not 32", bytes.len()))
        })?;
        Ok(MasterKey { bytes })
    }

    pub fn from_file(path: &Path) -> Result<Self, ConversationError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| ConversationError::BadMasterKey(format!("cannot read {}: {error}", path.display())))?;
        Self::parse(&text).map_err(|error| match error {
            ConversationError::BadMasterKey(detail) => {
                ConversationError::BadMasterKey(format!("{}: {detail}", path.display()))
            }
            other => other,
        })
    }

    pub fn from_env(variable: &str) -> Result<Self, ConversationError> {
        let text = std::env::var(variable)
            .map_err(|_| ConversationError::BadMasterKey(format!("environment variable {variable} is not set")))?;
        Self::parse(&text)
    }

    /// A new random key.
    pub fn generate() -> Result<Self, ConversationError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).map_err(|_| ConversationError::Crypto("no randomness".into()))?;
        Ok(MasterKey { bytes })
    }

    /// Writes a new random key as base64 to `path`, readable by its owner only.
    pub fn generate_file(path: &Path) -> Result<Self, ConversationError> {
        let key = Self::generate()?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| {
                ConversationError::BadMasterKey(format!("cannot create {}: {error}", parent.display()))
            })?;
        }
        let text = base64::engine::general_purpose::STANDARD.encode(key.bytes) + "\n";
        write_private(path, text.as_bytes())
            .map_err(|error| ConversationError::BadMasterKey(format!("cannot write {}: {error}", path.display())))?;
        Ok(key)
    }

    /// The first 16 hex digits of the key's SHA-256: names the key without revealing it.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.bytes)[..8])
    }

    fn aead(&self) -> Result<LessSafeKey, ConversationError> {
        aead_key(&self.bytes)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

pub(crate) fn aead_key(bytes: &[u8]) -> Result<LessSafeKey, ConversationError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| ConversationError::Crypto("not an AES-256 key".into()))
}

/// Seals `plaintext` with a fresh random nonce; returns (nonce, ciphertext ‖ tag).
pub(crate) fn seal(key: &LessSafeKey, aad: &str, plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), ConversationError> {
    let mut nonce = [0u8; NONCE_BYTES];
    SystemRandom::new().fill(&mut nonce).map_err(|_| ConversationError::Crypto("no randomness".into()))?;
    let mut sealed = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut sealed)
        .map_err(|_| ConversationError::Crypto("encryption failed".into()))?;
    Ok((nonce.to_vec(), sealed))
}

/// Opens what `seal` made with the same key and `aad`; `None` when the tag does not verify.
pub(crate) fn open(key: &LessSafeKey, aad: &str, nonce: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
    let mut buffer = sealed.to_vec();
    let plain = key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut buffer).ok()?;
    Some(plain.to_vec())
}

fn key_aad(tenant: &str, key_id: &str) -> String {
    format!("rampart-dk|{tenant}|{key_id}")
}

/// The master key and the tenants' unwrapped data keys, cached after first use.
pub struct KeyRing {
    master: MasterKey,
    store: Arc<dyn ConversationStore>,
    cache: Mutex<HashMap<String, (String, Arc<LessSafeKey>)>>,
}

impl KeyRing {
    pub fn new(master: MasterKey, store: Arc<dyn ConversationStore>) -> Self {
        KeyRing { master, store, cache: Mutex::new(HashMap::new()) }
    }

    pub fn master_id(&self) -> String {
        self.master.id()
    }

    fn cached(&self, tenant: &str) -> Option<(String, Arc<LessSafeKey>)> {
        self.cache.lock().ok().and_then(|cache| cache.get(tenant).cloned())
    }

    /// The tenant's data key (id, key), made and stored on first use.
    pub async fn data_key_for(&self, tenant: &str) -> Result<(String, Arc<LessSafeKey>), ConversationError> {
        if let Some(found) = self.cached(tenant) {
            return Ok(found);
        }
        if let Some(stored) = self.store.data_keys(Some(tenant)).await?.into_iter().next() {
            return self.unwrap_and_cache(&stored);
        }
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).map_err(|_| ConversationError::Crypto("no randomness".into()))?;
        let id = uuid::Uuid::now_v7().to_string();
        let (nonce, sealed) = seal(&self.master.aead()?, &key_aad(tenant, &id), &bytes)?;
        let wrapped = [nonce, sealed].concat();
        let key = WrappedDataKey {
            id: id.clone(),
            tenant: tenant.to_owned(),
            master_key_id: self.master.id(),
            wrapped,
            created_unix_ms: unix_now_millis(),
        };
        match self.store.insert_data_key(&key).await {
            Ok(()) => self.unwrap_and_cache(&key),
            // Another gateway made the tenant's key first: use that one.
            Err(StoreError::Conflict { .. }) => match self.store.data_keys(Some(tenant)).await?.into_iter().next() {
                Some(stored) => self.unwrap_and_cache(&stored),
                None => Err(ConversationError::MissingKey { tenant: tenant.to_owned() }),
            },
            Err(error) => Err(error.into()),
        }
    }

    /// The data key with this id, for reading.
    pub async fn data_key(&self, tenant: &str, id: &str) -> Result<Arc<LessSafeKey>, ConversationError> {
        if let Some((cached_id, key)) = self.cached(tenant)
            && cached_id == id
        {
            return Ok(key);
        }
        let stored = self
            .store
            .data_keys(Some(tenant))
            .await?
            .into_iter()
            .find(|key| key.id == id)
            .ok_or_else(|| ConversationError::MissingKey { tenant: tenant.to_owned() })?;
        Ok(self.unwrap_and_cache(&stored)?.1)
    }

    fn unwrap_and_cache(&self, stored: &WrappedDataKey) -> Result<(String, Arc<LessSafeKey>), ConversationError> {
        let bytes = unwrap_key(&self.master, stored)?;
        let key = Arc::new(aead_key(&bytes)?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(stored.tenant.clone(), (stored.id.clone(), key.clone()));
        }
        Ok((stored.id.clone(), key))
    }
}

fn unwrap_key(master: &MasterKey, stored: &WrappedDataKey) -> Result<Vec<u8>, ConversationError> {
    if stored.master_key_id != master.id() {
        return Err(ConversationError::WrongMasterKey {
            expected_id: stored.master_key_id.clone(),
            got_id: master.id(),
        });
    }
    let (nonce, sealed) = stored.wrapped.split_at(NONCE_BYTES.min(stored.wrapped.len()));
    open(&master.aead()?, &key_aad(&stored.tenant, &stored.id), nonce, sealed)
        .ok_or_else(|| ConversationError::CorruptKey { tenant: stored.tenant.clone() })
}

/// Re-wraps every data key from `old` to `new` in one transaction; conversation rows are not
/// touched (their ciphertext stays valid under the same data keys). Returns how many keys.
pub async fn rotate_master_key(
    store: &dyn ConversationStore,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<usize, ConversationError> {
    let mut rewrapped = Vec::new();
    for stored in store.data_keys(None).await? {
        let bytes = unwrap_key(old, &stored)?;
        let (nonce, sealed) = seal(&new.aead()?, &key_aad(&stored.tenant, &stored.id), &bytes)?;
        rewrapped.push(WrappedDataKey { master_key_id: new.id(), wrapped: [nonce, sealed].concat(), ..stored });
    }
    store.rewrap_data_keys(&rewrapped).await?;
    Ok(rewrapped.len())
}

/// First byte of content sealed by [`KeyRing`]'s [`ContentCipher`]: the layout below.
const SEALED_CONTENT_V1: u8 = 1;

fn content_aad(tenant: &str, context: &str) -> String {
    format!("rampart-content|{tenant}|{context}")
}

fn key_error(error: ConversationError) -> CipherError {
    CipherError::Key(error.to_string())
}

/// Content at rest under the tenant's data key, the same envelope keys that encrypt
/// conversation logs. Layout: `1 ‖ len(key id) ‖ key id ‖ nonce ‖ ciphertext ‖ tag`, so a
/// reader finds the data key that sealed it; the AAD binds tenant and context.
#[async_trait]
impl ContentCipher for KeyRing {
    async fn seal(&self, tenant: &str, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, CipherError> {
        let (key_id, key) = self.data_key_for(tenant).await.map_err(key_error)?;
        let id_len = u8::try_from(key_id.len()).map_err(|_| CipherError::Crypto("data key id too long".into()))?;
        let (nonce, sealed) = seal(&key, &content_aad(tenant, context), plaintext).map_err(key_error)?;
        let mut out = Vec::with_capacity(2 + key_id.len() + nonce.len() + sealed.len());
        out.push(SEALED_CONTENT_V1);
        out.push(id_len);
        out.extend_from_slice(key_id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    async fn open(&self, tenant: &str, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CipherError> {
        let tampered = || CipherError::Tampered { context: context.to_owned() };
        let [version, id_len, rest @ ..] = sealed else { return Err(tampered()) };
        if *version != SEALED_CONTENT_V1 || rest.len() < usize::from(*id_len) + NONCE_BYTES {
            return Err(tampered());
        }
        let (key_id, rest) = rest.split_at(usize::from(*id_len));
        let key_id = std::str::from_utf8(key_id).map_err(|_| tampered())?;
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let key = self.data_key(tenant, key_id).await.map_err(key_error)?;
        open(&key, &content_aad(tenant, context), nonce, ciphertext).ok_or_else(tampered)
    }

    fn key_id(&self) -> String {
        self.master_id()
    }
}
