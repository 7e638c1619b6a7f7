//! Identities and bundle directories shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;

use rampart_core::{AgentLineage, Credential, IdentityEnvelope, Role};

pub fn identity(roles: &[Role]) -> IdentityEnvelope {
    IdentityEnvelope {
        tenant_id: "t1".into(),
        user_id: "u1".into(),
        roles: roles.to_vec(),
        privacy_mode: false,
        policy_version: String::new(),
        credential: Credential::ApiKey { key_id: "key_1".into() },
        agent: None,
    }
}

pub fn agent() -> IdentityEnvelope {
    IdentityEnvelope {
        agent: Some(AgentLineage { run_id: "run-2".into(), parent_run_id: Some("run-1".into()) }),
        ..identity(&[Role::Agent])
    }
}

pub fn private(identity: IdentityEnvelope) -> IdentityEnvelope {
    IdentityEnvelope { privacy_mode: true, ..identity }
}

/// Replaces the directory's bundle files with `files` (relative path, text).
pub fn write_bundle(dir: &Path, files: &[(&str, &str)]) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    for (relative, text) in files {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A bundle whose decision is fixed: allow or deny, with `reason`.
pub fn fixed_policy(allow: bool, reason: &str) -> String {
    format!("package rampart\n\ndecision := {{\"allow\": {allow}, \"reasons\": [\"{reason}\"], \"obligations\": []}}\n")
}
