//! The signed repository index: every package's metadata (with its archive's SHA-256 and
//! OpenPGP signature), the security advisories, a serial number and an expiry. The index is
//! `index.json` with a detached signature `index.json.sig` at the repository root; a client
//! refuses an index that is unsigned, signed by an untrusted key, expired, or older (lower
//! serial) than one it already accepted — replay and freeze protection.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kimigayo_package::{PackageMeta, Repository};
use kimigayo_sign::{Keyring, SecretKey};
use serde::{Deserialize, Serialize};

use crate::PkgError;

pub const INDEX: &str = "index.json";
pub const INDEX_SIG: &str = "index.json.sig";

/// A security advisory: `package` versions below `fixed_in` are affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub package: String,
    /// critical, high, medium, low
    pub severity: String,
    pub fixed_in: String,
    #[serde(default)]
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoIndex {
    pub format: u32,
    /// The repository's name: a root pins it (with the keys allowed to sign it), so an index
    /// signed for another repository by a key trusted there is refused here.
    #[serde(default)]
    pub origin: String,
    pub serial: u64,
    /// UNIX seconds; the index is refused after this time.
    pub expires: u64,
    pub generated: u64,
    pub packages: Vec<PackageMeta>,
    #[serde(default)]
    pub advisories: Vec<Advisory>,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Sign every package of a repository folder and write its signed index.
pub fn build_index(
    repo_dir: &Path,
    key: &SecretKey,
    serial: u64,
    valid_for: Duration,
    advisories: Vec<Advisory>,
    now: SystemTime,
) -> Result<RepoIndex, PkgError> {
    let origin = repo_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    build_named_index(repo_dir, &origin, key, serial, valid_for, advisories, now)
}

/// [`build_index`] with an explicit origin (repository name).
pub fn build_named_index(
    repo_dir: &Path,
    origin: &str,
    key: &SecretKey,
    serial: u64,
    valid_for: Duration,
    advisories: Vec<Advisory>,
    now: SystemTime,
) -> Result<RepoIndex, PkgError> {
    if origin.is_empty() || !origin.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')) {
        return Err(PkgError::Repo(format!("repository origin `{origin}` must be a name of letters, digits, `-`, `_` and `.`")));
    }
    let repo = Repository::new(repo_dir);
    let entries = repo.packages().map_err(|e| PkgError::Repo(format!("reading {}: {e}", repo_dir.display())))?;
    if entries.is_empty() {
        return Err(PkgError::Repo(format!("{} holds no packages (expected <arch>/<name>-<version>.<arch>.json files)", repo_dir.display())));
    }
    let mut packages = Vec::new();
    for (archive, mut meta) in entries {
        let json_file = archive.with_file_name(meta.filename.trim_end_matches(".tar.gz").to_string() + ".json");
        meta.validate().map_err(|e| PkgError::Repo(format!("{}: {e}; fix the recipe and rebuild the package (not signed)", json_file.display())))?;
        let bytes = fs::read(&archive).map_err(|e| PkgError::Repo(format!("reading {}: {e}", archive.display())))?;
        let sha = kimigayo_package::sha256_hex(&bytes);
        if sha != meta.checksum.sha256 {
            return Err(PkgError::Repo(format!(
                "{}: archive SHA-256 {sha} does not match its metadata ({}); rebuild the package",
                archive.display(),
                meta.checksum.sha256
            )));
        }
        meta.checksum.gpg_signature = Some(key.sign(&bytes).map_err(|e| PkgError::Repo(e.to_string()))?);
        let json = archive.with_file_name(meta.filename.trim_end_matches(".tar.gz").to_string() + ".json");
        write_atomic(&json, meta.to_json().as_bytes())?;
        packages.push(meta);
    }
    packages.sort_by(|a, b| (&a.name, &a.architecture, &a.version).cmp(&(&b.name, &b.architecture, &b.version)));
    let index = RepoIndex { format: 1, origin: origin.to_string(), serial, expires: secs(now + valid_for), generated: secs(now), packages, advisories };
    let mut text = serde_json::to_vec_pretty(&index).expect("index serialises");
    text.push(b'\n');
    let sig = key.sign(&text).map_err(|e| PkgError::Repo(e.to_string()))?;
    // Signature first: a reader that sees the new index sees its signature.
    write_atomic(&repo_dir.join(INDEX_SIG), sig.as_bytes())?;
    write_atomic(&repo_dir.join(INDEX), &text)?;
    Ok(index)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PkgError> {
    use std::io::Write;
    kimigayo_package::repo::write_atomic(path, |f| f.write_all(bytes)).map_err(|e| PkgError::Repo(format!("writing {}: {e}", path.display())))
}

/// Verify and parse an index fetched from `origin`. `min_serial` is the highest serial
/// already accepted from this origin.
pub fn load_index(origin: &str, text: &[u8], sig: &[u8], keys: &Keyring, now: SystemTime, min_serial: u64) -> Result<RepoIndex, PkgError> {
    keys.verify(text, sig, now).map_err(|e| PkgError::Index { origin: origin.to_string(), message: e.to_string() })?;
    let index: RepoIndex = serde_json::from_slice(text)
        .map_err(|e| PkgError::Index { origin: origin.to_string(), message: format!("signed but unreadable: {e}") })?;
    for m in &index.packages {
        m.validate().map_err(|e| PkgError::Index { origin: origin.to_string(), message: format!("signed, but {e}: refusing the index") })?;
    }
    if index.expires <= secs(now) {
        return Err(PkgError::Index {
            origin: origin.to_string(),
            message: format!(
                "expired {} s ago (serial {}): the repository is stale or frozen; ask its operator to re-sign it (`kpkg index build`)",
                secs(now) - index.expires,
                index.serial
            ),
        });
    }
    if index.serial < min_serial {
        return Err(PkgError::Index {
            origin: origin.to_string(),
            message: format!(
                "serial {} is older than serial {min_serial} already trusted: refusing a replayed or rolled-back index",
                index.serial
            ),
        });
    }
    Ok(index)
}

/// Read and verify the signed index at the root of a repository folder.
pub fn read_signed_index(repo_dir: &Path, keys: &Keyring, now: SystemTime) -> Result<RepoIndex, PkgError> {
    Ok(read_signed_index_full(repo_dir, keys, now)?.index)
}

/// A verified index with what a root records of it: the SHA-256 of its bytes and the
/// primary fingerprint of the trusted key that signed it.
pub struct SignedIndex {
    pub index: RepoIndex,
    pub digest: String,
    pub signer: String,
}

/// [`read_signed_index`], also giving the index's digest and signer (the image composer
/// records both in the images it builds: their trust root and serial floor).
pub fn read_signed_index_full(repo_dir: &Path, keys: &Keyring, now: SystemTime) -> Result<SignedIndex, PkgError> {
    let origin = repo_dir.display().to_string();
    let read = |name: &str| {
        fs::read(repo_dir.join(name)).map_err(|e| PkgError::Index {
            origin: origin.clone(),
            message: format!("cannot read {name} ({e}): the repository is not signed; sign it (`kimigayo build` signs what it builds, `kpkg index build --sign KEY` an operator's folder)"),
        })
    };
    let (text, sig) = (read(INDEX)?, read(INDEX_SIG)?);
    let index = load_index(&origin, &text, &sig, keys, now, 0)?;
    let signer = keys.verify(&text, &sig, now).map_err(|e| PkgError::Index { origin: origin.clone(), message: e.to_string() })?.fingerprint;
    Ok(SignedIndex { index, digest: kimigayo_package::sha256_hex(&text), signer })
}

/// `meta` without its signature: what the build wrote and what the index signs must agree
/// on everything else.
pub fn unsigned(meta: &PackageMeta) -> PackageMeta {
    let mut m = meta.clone();
    m.checksum.gpg_signature = None;
    m
}

/// Every package metadata file in the folder must be exactly what `index` signs (signature
/// aside), and every indexed package must be there: metadata edited after signing (a setuid
/// path, an account, an older archive) is refused with the file named.
pub fn check_folder_matches(repo_dir: &Path, index: &RepoIndex) -> Result<(), PkgError> {
    let on_disk = Repository::new(repo_dir).packages().map_err(|e| PkgError::Repo(format!("reading {}: {e}", repo_dir.display())))?;
    let key = |m: &PackageMeta| (m.name.clone(), m.version.clone(), m.architecture.clone());
    let signed: std::collections::BTreeMap<_, &PackageMeta> = index.packages.iter().map(|m| (key(m), m)).collect();
    for (archive, meta) in &on_disk {
        let file = archive.with_file_name(meta.filename.trim_end_matches(".tar.gz").to_string() + ".json");
        match signed.get(&key(meta)) {
            None => {
                return Err(PkgError::Repo(format!(
                    "{}: {}-{} is not in the signed index (serial {}): the repository was modified after signing; remove the file or rebuild and re-sign",
                    file.display(),
                    meta.name,
                    meta.version,
                    index.serial
                )))
            }
            Some(s) if unsigned(s) != unsigned(meta) => {
                return Err(PkgError::Repo(format!(
                    "{}: differs from what the signed index (serial {}) says of {}-{}: the metadata was edited after signing; rebuild the package",
                    file.display(),
                    index.serial,
                    meta.name,
                    meta.version
                )))
            }
            Some(_) => {}
        }
    }
    for m in &index.packages {
        if !on_disk.iter().any(|(_, d)| key(d) == key(m)) {
            return Err(PkgError::Repo(format!(
                "{}: the signed index lists {}-{} ({}), but its metadata file is missing",
                repo_dir.display(),
                m.name,
                m.version,
                m.architecture
            )));
        }
    }
    Ok(())
}
