//! The signing key file, checkpoint signatures and the writer's chain state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use rampart_audit::{
    AuditChain, AuditError, AuditSigner, Checkpoint, MerkleFrontier, checkpoint_note, key_id, parse_public_key_file,
    public_key_file_contents, verify_checkpoint,
};

/// RFC 8032 §7.1 test 1 secret key, wrapped as PKCS#8 v1 (what `openssl genpkey` writes).
fn rfc8032_test1_pkcs8() -> Vec<u8> {
    hex::decode(
        "302e020100300506032b657004220420\
                 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    )
    .unwrap()
}

#[test]
fn checkpoint_signature_known_answer() {
    // Signature computed independently (Python `cryptography`) over the documented note.
    let signer = AuditSigner::from_pkcs8(&rfc8032_test1_pkcs8()).unwrap();
    assert_eq!(hex::encode(signer.public_key()), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    assert_eq!(signer.key_id(), "21fe31dfa154a261");
    let root: [u8; 32] =
        hex::decode("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328").unwrap().try_into().unwrap();
    let checkpoint = signer.sign_checkpoint(8, &root, &[0xab; 32], 1_767_225_600_000);
    assert_eq!(
        checkpoint.note(),
        format!(
            "rampart-audit-checkpoint/v1\n8\n5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328\n{}\n1767225600000\n",
            "ab".repeat(32)
        )
    );
    assert_eq!(
        hex::encode(&checkpoint.signature),
        "a2ce4d805f53b8c2fa4c8d5912ceb7fce676774b6852d5e5988d56a0be6e1bd9\
         14bc8e76bb196ac10319a5a4ea6ad5164dde488499738a7e78da2f2f43cd9406"
    );
    verify_checkpoint(signer.public_key(), &checkpoint).unwrap();
}

#[test]
fn tampered_checkpoints_fail() {
    let signer = common::signer();
    let good = signer.sign_checkpoint(42, &[1; 32], &[2; 32], -7);
    verify_checkpoint(signer.public_key(), &good).unwrap();
    let tamper: [fn(&mut Checkpoint); 5] = [
        |c| c.tree_size += 1,
        |c| c.root_hash[0] ^= 1,
        |c| c.head_hash[31] ^= 1,
        |c| c.time_unix_ms += 1,
        |c| c.signature[63] ^= 1,
    ];
    for change in tamper {
        let mut bad = good.clone();
        change(&mut bad);
        assert!(matches!(verify_checkpoint(signer.public_key(), &bad), Err(AuditError::BadSignature { .. })));
    }
    let mut renamed = good.clone();
    renamed.key_id = "0000000000000000".into();
    assert!(matches!(verify_checkpoint(signer.public_key(), &renamed), Err(AuditError::KeyIdMismatch { .. })));
    let other = common::signer();
    assert!(matches!(verify_checkpoint(other.public_key(), &good), Err(AuditError::KeyIdMismatch { .. })));
    assert!(matches!(verify_checkpoint(&[0; 31], &good), Err(AuditError::InvalidPublicKey { .. })));
    let mut short = good.clone();
    short.signature.truncate(10);
    assert!(verify_checkpoint(signer.public_key(), &short).is_err());

    let json = serde_json::to_string(&good).unwrap();
    assert!(json.contains(&format!("\"root_hash\":\"{}\"", "01".repeat(32))), "{json}");
    assert_eq!(serde_json::from_str::<Checkpoint>(&json).unwrap(), good);
    assert_eq!(checkpoint_note(0, &[0; 32], &[0; 32], 0).lines().count(), 5);
}

#[test]
fn public_key_file_round_trips() {
    let signer = common::signer();
    let text = public_key_file_contents(signer.public_key());
    assert_eq!(text.len(), 65);
    assert!(text.ends_with('\n'));
    assert_eq!(&parse_public_key_file(&text).unwrap(), signer.public_key());
    assert_eq!(key_id(&parse_public_key_file(&format!("  {text}\n")).unwrap()), signer.key_id());
    assert!(parse_public_key_file("abcd").is_err());
}

#[test]
fn user_supplied_keys_in_every_form() {
    // RFC 8410 §10.3's example key, as PEM (PKCS#8 v1); its public key is §10.1's.
    let pem = "-----BEGIN PRIVATE KEY-----\n\
               MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
               -----END PRIVATE KEY-----\n";
    let signer = AuditSigner::from_pkcs8(pem.as_bytes()).unwrap();
    assert_eq!(hex::encode(signer.public_key()), "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1");
    // PKCS#8 v2 DER, as ring generates it.
    let der = AuditSigner::generate_pkcs8().unwrap();
    AuditSigner::from_pkcs8(&der).unwrap();
    for bad in [&b""[..], b"not a key", b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n"] {
        assert!(matches!(AuditSigner::from_pkcs8(bad), Err(AuditError::InvalidKey { .. })));
    }
    assert!(!format!("{signer:?}").contains("key_pair"));
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn key_file_is_created_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/keys/audit.key");
    let created = AuditSigner::load_or_create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let loaded = AuditSigner::load_or_create(&path).unwrap();
    assert_eq!(loaded.public_key(), created.public_key());
    assert_eq!(AuditSigner::load(&path).unwrap().key_id(), created.key_id());
    // Nothing else left behind.
    assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
}

#[cfg(unix)]
#[test]
fn readable_key_file_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.key");
    AuditSigner::load_or_create(&path).unwrap();
    for loose in [0o640, 0o604, 0o620] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
        let error = AuditSigner::load_or_create(&path).unwrap_err();
        assert!(matches!(error, AuditError::KeyFilePermissions { mode, .. } if mode == loose));
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()) && message.contains("chmod 600"), "{message}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    AuditSigner::load(&path).unwrap();
    // An empty key file says so instead of being replaced.
    let empty = dir.path().join("empty.key");
    std::fs::write(&empty, b"").unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(AuditSigner::load_or_create(&empty), Err(AuditError::InvalidKey { .. })));
    let missing = AuditSigner::load(&dir.path().join("missing.key")).unwrap_err();
    assert!(matches!(missing, AuditError::KeyFile { .. }));
}

#[cfg(unix)]
#[test]
fn processes_racing_to_create_the_key_agree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.key");
    let barrier = std::sync::Barrier::new(8);
    let keys: Vec<[u8; 32]> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    *AuditSigner::load_or_create(&path).unwrap().public_key()
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    assert!(keys.iter().all(|key| key == &keys[0]));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary files left");
}

#[test]
fn chain_state_persists_and_resumes() {
    let log = common::build(37, 10);
    let bytes = log.chain.to_bytes();
    let mut resumed = AuditChain::from_bytes(&bytes).unwrap();
    assert_eq!(resumed, log.chain);
    assert_eq!((resumed.tree_size(), resumed.next_seq()), (37, 38));
    let json = serde_json::to_string(&log.chain).unwrap();
    assert_eq!(serde_json::from_str::<AuditChain>(&json).unwrap(), log.chain);

    // Appending after a restart continues the same chain and tree.
    let mut straight = log.chain.clone();
    let a = resumed.append(&common::event(38)).unwrap();
    let b = straight.append(&common::event(38)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.seq, 38);
    assert_eq!(a.prev_hash, log.hashes[37]);
    let mut leaves = log.leaves.clone();
    leaves.push(a.leaf_hash());
    assert_eq!(resumed.root_hash(), rampart_audit::merkle::root(&leaves));

    // A failed append changes nothing.
    let mut bad = common::event(39);
    bad.data = serde_json::json!({"id": u64::MAX});
    let before = resumed.clone();
    assert!(resumed.append(&bad).is_err());
    assert_eq!(resumed, before);

    assert!(AuditChain::from_bytes(&bytes[..20]).is_err());
    assert!(AuditChain::restore([1; 32], MerkleFrontier::new()).is_err());
    assert!(
        serde_json::from_str::<AuditChain>(&format!(
            r#"{{"head_hash":"{}","frontier":{{"size":0,"subtree_roots":[]}}}}"#,
            "11".repeat(32)
        ))
        .is_err()
    );
}
