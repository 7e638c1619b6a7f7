//! Pulling models from wheels built in the test: reassembly, verification at every step, and
//! nothing half-written left under a final name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use rampart_models::{
    Artifact, ModelSpec, ModelStore, PackageFetcher, PackageRef, PipFetcher, PullError, PullProgress,
};
use sha2::{Digest, Sha256};

/// Writes a wheel with `files` and a RECORD; members named in `tamper` get a wrong hash.
fn make_wheel(dir: &Path, package: &PackageRef, files: &[(&str, &[u8])], tamper: &[&str]) -> PathBuf {
    let path = dir.join(format!("{}-{}-py3-none-any.whl", package.name.replace('-', "_"), package.version));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut record = String::new();
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
        let mut digest = Sha256::digest(bytes).to_vec();
        if tamper.contains(name) {
            digest[0] ^= 0xff;
        }
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        record.push_str(&format!("{name},sha256={hash},{}\n", bytes.len()));
    }
    let record_name = format!("{}-{}.dist-info/RECORD", package.name.replace('-', "_"), package.version);
    record.push_str(&format!("{record_name},,\n"));
    zip.start_file(record_name, options).unwrap();
    zip.write_all(record.as_bytes()).unwrap();
    zip.finish().unwrap();
    path
}

/// Serves prebuilt wheels by package name, as pip would download them.
struct FakeFetcher {
    wheels: HashMap<&'static str, PathBuf>,
}

impl PackageFetcher for FakeFetcher {
    fn fetch(&self, package: &PackageRef, dest: &Path) -> Result<PathBuf, PullError> {
        let source = self.wheels.get(package.name).ok_or_else(|| PullError::Download {
            package: package.name.to_owned(),
            detail: "no such package".to_owned(),
        })?;
        let target = dest.join(source.file_name().unwrap());
        std::fs::copy(source, &target).unwrap();
        Ok(target)
    }
}

const META: PackageRef = PackageRef { name: "tiny-gguf", version: "1.0.0" };
const PART1: PackageRef = PackageRef { name: "tiny-gguf-part1", version: "1.0.0" };
const PART2: PackageRef = PackageRef { name: "tiny-gguf-part2", version: "1.0.0" };
const SPLIT: ModelSpec = ModelSpec {
    id: "tiny",
    artifact: Artifact::SplitFile {
        meta: META,
        sums_member: "tiny_gguf/data/SHA256SUMS",
        parts: &[(PART1, "tiny_gguf_part1/data/tiny.gguf.part00"), (PART2, "tiny_gguf_part2/data/tiny.gguf.part01")],
        file_name: "tiny.gguf",
    },
};
const EMBED_PACKAGE: PackageRef = PackageRef { name: "tiny-embedder", version: "0.1.0" };
const DIRECTORY: ModelSpec = ModelSpec {
    id: "tiny-embedder",
    artifact: Artifact::WheelDirectory { package: EMBED_PACKAGE, prefix: "tiny_embedder/model/" },
};

fn split_fetcher(dir: &Path, published: &str, tamper_part: bool) -> FakeFetcher {
    let sums = format!("{published}  tiny.gguf\n");
    let meta =
        make_wheel(dir, &META, &[("tiny_gguf/__init__.py", b""), ("tiny_gguf/data/SHA256SUMS", sums.as_bytes())], &[]);
    let part1 = make_wheel(dir, &PART1, &[("tiny_gguf_part1/data/tiny.gguf.part00", b"GGUF hello ")], &[]);
    let tampered: &[&str] = if tamper_part { &["tiny_gguf_part2/data/tiny.gguf.part01"] } else { &[] };
    let part2 = make_wheel(dir, &PART2, &[("tiny_gguf_part2/data/tiny.gguf.part01", b"world")], tampered);
    FakeFetcher { wheels: HashMap::from([(META.name, meta), (PART1.name, part1), (PART2.name, part2)]) }
}

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn a_split_gguf_is_reassembled_verified_and_installed_once() {
    let wheels = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let fetcher = split_fetcher(wheels.path(), &sha_hex(b"GGUF hello world"), false);
    let store = ModelStore::new(data.path());
    assert!(!store.is_present(&SPLIT));
    let mut events = Vec::new();
    let path = store.pull(&SPLIT, &fetcher, &mut |event| events.push(event)).unwrap();
    assert_eq!(path, data.path().join("models/tiny/tiny.gguf"));
    assert_eq!(std::fs::read(&path).unwrap(), b"GGUF hello world");
    assert!(store.is_present(&SPLIT));
    assert_eq!(events.iter().filter(|event| matches!(event, PullProgress::Downloading { .. })).count(), 3);
    assert!(events.contains(&PullProgress::Writing { done: 16, total: 16 }));
    assert_eq!(events.last(), Some(&PullProgress::Done { path: path.clone() }));
    let leftovers: Vec<_> = std::fs::read_dir(data.path().join("models"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().contains(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "work files are cleaned up: {leftovers:?}");

    // A second pull finds it and downloads nothing.
    let empty = FakeFetcher { wheels: HashMap::new() };
    assert_eq!(store.pull(&SPLIT, &empty, &mut |_| {}).unwrap(), path);
}

#[test]
fn a_wrong_published_checksum_installs_nothing() {
    let wheels = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let fetcher = split_fetcher(wheels.path(), &sha_hex(b"something else"), false);
    let store = ModelStore::new(data.path());
    let error = store.pull(&SPLIT, &fetcher, &mut |_| {}).unwrap_err();
    assert!(matches!(error, PullError::ChecksumMismatch { .. }), "{error}");
    assert!(error.to_string().contains("refusing to install"), "{error}");
    assert!(!store.is_present(&SPLIT));
}

#[test]
fn a_member_that_does_not_match_its_record_is_refused() {
    let wheels = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let fetcher = split_fetcher(wheels.path(), &sha_hex(b"GGUF hello world"), true);
    let store = ModelStore::new(data.path());
    let error = store.pull(&SPLIT, &fetcher, &mut |_| {}).unwrap_err();
    assert!(matches!(error, PullError::RecordMismatch { .. }), "{error}");
    assert!(!store.is_present(&SPLIT));
}

#[test]
fn a_model_directory_is_copied_with_its_subdirectories() {
    let wheels = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let wheel = make_wheel(
        wheels.path(),
        &EMBED_PACKAGE,
        &[
            ("tiny_embedder/__init__.py", b"# not copied"),
            ("tiny_embedder/model/config.json", b"{\"hidden_size\": 4}"),
            ("tiny_embedder/model/1_Pooling/config.json", b"{\"pooling_mode_mean_tokens\": true}"),
        ],
        &[],
    );
    let fetcher = FakeFetcher { wheels: HashMap::from([(EMBED_PACKAGE.name, wheel)]) };
    let store = ModelStore::new(data.path());
    let path = store.pull(&DIRECTORY, &fetcher, &mut |_| {}).unwrap();
    assert_eq!(path, data.path().join("models/tiny-embedder"));
    assert_eq!(std::fs::read_to_string(path.join("config.json")).unwrap(), "{\"hidden_size\": 4}");
    assert!(path.join("1_Pooling/config.json").is_file());
    assert!(!path.join("__init__.py").exists());
}

#[test]
fn a_failed_download_leaves_no_model() {
    let data = tempfile::tempdir().unwrap();
    let store = ModelStore::new(data.path());
    let error = store.pull(&DIRECTORY, &FakeFetcher { wheels: HashMap::new() }, &mut |_| {}).unwrap_err();
    assert!(matches!(error, PullError::Download { .. }), "{error}");
    assert!(!store.is_present(&DIRECTORY));
}

#[test]
fn a_missing_python_is_reported_with_a_hint() {
    let fetcher = PipFetcher { python: PathBuf::from("/nonexistent/python3") };
    let dir = tempfile::tempdir().unwrap();
    let error = fetcher.fetch(&META, dir.path()).unwrap_err();
    assert!(matches!(error, PullError::PipUnavailable { .. }), "{error}");
    assert!(error.to_string().contains("python3-pip"), "{error}");
}
