//! Start-up of identity, policy and audit for `rampart serve`: the gatekeeper, the policy
//! engine (and its directory watcher), the audit trail, its signing key and checkpoint timer.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rampart_audit::AuditSigner;
use rampart_config::Config;
use rampart_core::Store;
use rampart_gateway::{AuditTrail, Gatekeeper};
use rampart_policy::PolicyEngine;

use crate::CliError;

pub struct Governance {
    pub gatekeeper: Arc<Gatekeeper>,
    pub policy: Arc<PolicyEngine>,
    pub audit: AuditTrail,
    pub audit_public_key: Option<[u8; 32]>,
}

pub async fn start(config: &Config, store: &Arc<dyn Store>) -> Result<Governance, CliError> {
    rampart_identity::install_crypto_provider();
    let gatekeeper = Arc::new(
        Gatekeeper::build(&config.auth, store.clone())
            .await
            .map_err(|error| CliError::failed(format!("{error}\nhint: check [auth]")))?,
    );
    gatekeeper.spawn_maintenance(store.clone());
    if gatekeeper.required() {
        tracing::info!("{}", gatekeeper.describe());
    } else {
        tracing::warn!("{}", gatekeeper.describe());
        eprintln!("WARNING: {}", gatekeeper.describe());
    }

    let policy = Arc::new(load_policy(config)?);
    tracing::info!(version = %policy.version(), source = %policy_source(config), "policy loaded");
    if let Some(dir) = &config.policy.dir {
        policy.watch(dir.clone(), Duration::from_secs(config.policy.reload_interval_secs));
    }

    let audit =
        AuditTrail::new(store.clone(), config.audit.enabled).with_record_before_send(config.audit.record_before_send);
    let audit_public_key = if config.audit.enabled {
        let key_path = signing_key_path(config);
        let signer = AuditSigner::load_or_create(&key_path).map_err(|error| {
            CliError::failed(format!("{error}\nhint: check [audit].signing_key ({})", key_path.display()))
        })?;
        tracing::info!(key_id = signer.key_id(), key = %key_path.display(), "audit checkpoints are signed");
        let public_key = *signer.public_key();
        rampart_gateway::spawn_checkpoints(
            store.clone(),
            Arc::new(signer),
            Duration::from_secs(config.audit.checkpoint_interval_secs),
        );
        Some(public_key)
    } else {
        tracing::warn!("the audit log is OFF ([audit] enabled = false): decisions are not recorded");
        None
    };
    Ok(Governance { gatekeeper, policy, audit, audit_public_key })
}

pub fn signing_key_path(config: &Config) -> PathBuf {
    config.audit.effective_signing_key(&config.storage.effective_data_dir())
}

pub fn load_policy(config: &Config) -> Result<PolicyEngine, CliError> {
    let options = rampart_policy::EvalOptions {
        decision_cache_entries: config.policy.decision_cache_entries,
        time_limit: std::time::Duration::from_millis(config.policy.eval_timeout_ms),
        ..rampart_policy::EvalOptions::default()
    };
    match &config.policy.dir {
        Some(dir) => PolicyEngine::from_dir(dir, options).map_err(|error| {
            CliError::failed(format!("{error}\nhint: fix the bundle in {} or unset [policy].dir", dir.display()))
        }),
        None => rampart_policy::PolicyBundle::default_bundle(options)
            .map(PolicyEngine::new)
            .map_err(|error| CliError::failed(format!("the built-in policy failed to load: {error}"))),
    }
}

fn policy_source(config: &Config) -> String {
    match &config.policy.dir {
        Some(dir) => dir.display().to_string(),
        None => "built-in default".to_owned(),
    }
}
