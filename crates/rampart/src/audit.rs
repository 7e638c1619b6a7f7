//! `rampart audit`: verify the log, export it with proofs, prove one record, check a proof.

use std::io::Write;
use std::path::Path;

use rampart_audit::{
    AuditSigner, InclusionProofDocument, VerifyRange, parse_public_key_file, prove_stored_record, verify_stored_log,
};
use serde_json::json;

use crate::CliError;
use crate::cli::{AuditArgs, AuditCheckProofArgs, AuditCommand, AuditExportArgs, AuditVerifyArgs};

pub async fn run(config_path: Option<&Path>, args: AuditArgs) -> Result<(), CliError> {
    if let AuditCommand::CheckProof(check) = args.command {
        return check_proof(check);
    }
    let config = rampart_config::load(config_path)?.config;
    let store = crate::serve::open_store(&config).await?;
    let key_path = crate::governance::signing_key_path(&config);
    // Only the public half is needed; a missing key means checkpoints cannot be authenticated.
    let public_key = match AuditSigner::load(&key_path) {
        Ok(signer) => Some(*signer.public_key()),
        Err(error) if key_path.exists() => {
            return Err(CliError::failed(format!("{error}\nhint: check [audit].signing_key")));
        }
        Err(_) => None,
    };
    match args.command {
        AuditCommand::Verify(verify) => verify_log(store.as_ref(), public_key, verify).await,
        AuditCommand::Export(export) => export_log(store.as_ref(), public_key, export).await,
        AuditCommand::Proof(proof) => {
            let public_key = public_key.ok_or_else(|| no_key(&key_path))?;
            let document = prove_stored_record(store.as_ref(), proof.seq, &public_key)
                .await
                .map_err(|error| CliError::failed(error.to_string()))?;
            say!("{}", serde_json::to_string_pretty(&document).unwrap_or_default());
            Ok(())
        }
        AuditCommand::CheckProof(_) => Ok(()),
    }
}

fn no_key(path: &Path) -> CliError {
    CliError::failed(format!(
        "no audit signing key at {}: proofs need the key the gateway signs checkpoints with\nhint: run `rampart serve` once, or set [audit].signing_key",
        path.display()
    ))
}

async fn verify_log(
    store: &dyn rampart_core::Store,
    public_key: Option<[u8; 32]>,
    args: AuditVerifyArgs,
) -> Result<(), CliError> {
    let range = VerifyRange { from: args.from, to: args.to };
    let report =
        verify_stored_log(store, public_key, range).await.map_err(|error| CliError::failed(error.to_string()))?;
    if args.json {
        say!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        let root = report.root_hash.map(hex::encode).unwrap_or_else(|| "-".to_owned());
        say!(
            "checked records {}..={} ({} records), {} checkpoints ({}), root {root}",
            report.from_seq,
            report.last_seq,
            report.records_checked,
            report.checkpoints_checked,
            if report.checkpoints_authenticated { "signatures verified" } else { "signatures NOT checked: no key" }
        );
    }
    match report.first_problem {
        None => {
            if !args.json {
                say!("the audit log is intact");
            }
            Ok(())
        }
        Some(problem) => Err(CliError::Tampered {
            message: format!(
                "the audit log was tampered with: record {} {:?}: {}",
                problem.seq, problem.kind, problem.detail
            ),
        }),
    }
}

/// One line per record (`seq`, `hash`, `record`, `audit_path` against the final checkpoint),
/// then a line with that checkpoint and the public key. Records past the newest checkpoint
/// carry no path.
async fn export_log(
    store: &dyn rampart_core::Store,
    public_key: Option<[u8; 32]>,
    args: AuditExportArgs,
) -> Result<(), CliError> {
    let failed = |error: &dyn std::fmt::Display| CliError::failed(error.to_string());
    let checkpoint = store.checkpoints(0, u64::MAX).await.map_err(|error| failed(&error))?.into_iter().last();
    let mut records = Vec::new();
    let mut next = 1;
    loop {
        let page = store.read_audit(next, 5_000).await.map_err(|error| failed(&error))?;
        let Some(last) = page.last().map(|record| record.seq) else { break };
        records.extend(page);
        next = last + 1;
    }
    let tree_size = checkpoint.as_ref().map_or(0, |checkpoint| checkpoint.tree_size);
    let leaves: Vec<_> = records
        .iter()
        .take_while(|record| record.seq <= tree_size)
        .map(|record| rampart_audit::leaf_hash(&record.canonical))
        .collect();
    let tree = rampart_audit::merkle::ProofTree::new(&leaves);
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|error| CliError::failed(format!("cannot write {}: {error}", path.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let write_error = |error: std::io::Error| CliError::failed(format!("cannot write the export: {error}"));
    for record in &records {
        let path = (record.seq <= tree_size)
            .then(|| tree.inclusion_proof(record.seq - 1).map(|path| path.iter().map(hex::encode).collect::<Vec<_>>()))
            .flatten();
        let record_value: serde_json::Value =
            serde_json::from_str(&record.canonical).unwrap_or(serde_json::Value::String(record.canonical.clone()));
        let line = json!({ "seq": record.seq, "hash": record.hash_hex, "record": record_value, "canonical": record.canonical, "audit_path": path });
        writeln!(out, "{line}").map_err(write_error)?;
    }
    let trailer = json!({
        "checkpoint": checkpoint.map(rampart_audit::Checkpoint::from),
        "public_key": public_key.map(hex::encode),
    });
    writeln!(out, "{trailer}").map_err(write_error)?;
    out.flush().map_err(write_error)?;
    eprintln!("exported {} records ({} covered by the signed checkpoint)", records.len(), leaves.len());
    Ok(())
}

fn check_proof(args: AuditCheckProofArgs) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|error| CliError::failed(format!("cannot read {}: {error}", args.file.display())))?;
    let document: InclusionProofDocument = serde_json::from_str(&text)
        .map_err(|error| CliError::failed(format!("{} is not a proof document: {error}", args.file.display())))?;
    let outcome = match &args.public_key {
        Some(given) => {
            let text = if Path::new(given).exists() {
                std::fs::read_to_string(given)
                    .map_err(|error| CliError::failed(format!("cannot read {given}: {error}")))?
            } else {
                given.clone()
            };
            let key =
                parse_public_key_file(&text).map_err(|error| CliError::failed(format!("--public-key: {error}")))?;
            document.verify_with_key(&key)
        }
        None => document.verify(),
    };
    outcome.map_err(|error| CliError::Tampered { message: format!("the proof does not hold: {error}") })?;
    say!(
        "record {} is in the log of {} records signed by key {}",
        document.seq,
        document.tree_size,
        document.checkpoint.key_id
    );
    Ok(())
}
