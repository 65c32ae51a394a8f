//! Verifying and unpacking one package into the transaction's staging folder. Nothing is
//! unpacked before the archive's SHA-256 and OpenPGP signature are verified (property 6),
//! and the archive itself is treated as hostile: absolute paths, `..`, hardlinks, device
//! nodes, FIFOs and undeclared setuid/setgid files are refused with the package and path named.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::SystemTime;

use kimigayo_package::PackageMeta;
use kimigayo_sign::Keyring;
use kimigayo_txn::{Entry, RelPath};

use crate::db::{FileRecord, Kind};
use crate::PkgError;

pub struct Staged {
    pub entries: Vec<(RelPath, Entry)>,
    pub records: Vec<FileRecord>,
}

/// Check hash, signature and architecture of `bytes` (the archive of `meta`).
pub fn verify(meta: &PackageMeta, bytes: &[u8], keys: &Keyring, arch: &str, now: SystemTime) -> Result<(), PkgError> {
    let pkg = format!("{}-{}", meta.name, meta.version);
    if meta.architecture != arch && meta.architecture != "noarch" {
        return Err(PkgError::Arch { package: pkg, package_arch: meta.architecture.clone(), root_arch: arch.to_string() });
    }
    let sha = kimigayo_package::sha256_hex(bytes);
    if sha != meta.checksum.sha256 {
        let hint = if (bytes.len() as u64) < meta.size { "truncated" } else { "corrupted or tampered" };
        return Err(PkgError::Integrity {
            package: pkg,
            message: format!("SHA-256 mismatch: the index says {}, the file is {sha} ({hint}, {} of {} bytes)", meta.checksum.sha256, bytes.len(), meta.size),
        });
    }
    let sig = meta.checksum.gpg_signature.as_deref().ok_or_else(|| PkgError::Integrity {
        package: pkg.clone(),
        message: "unsigned: the repository index carries no signature for it; sign the repository with `kpkg index build --sign KEY`".into(),
    })?;
    keys.verify(bytes, sig.as_bytes(), now).map_err(|e| PkgError::Integrity { package: pkg, message: e.to_string() })?;
    Ok(())
}

/// Unpack a verified archive into `staging` (a fresh folder on the root's filesystem).
pub fn unpack(meta: &PackageMeta, bytes: &[u8], staging: &Path) -> Result<Staged, PkgError> {
    let pkg = format!("{}-{}", meta.name, meta.version);
    let bad = |path: &str, why: &str| PkgError::Unsafe { package: pkg.clone(), path: path.to_string(), message: why.to_string() };
    fs::create_dir_all(staging).map_err(|e| PkgError::Io(format!("creating {}: {e}", staging.display())))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut staged = Staged { entries: Vec::new(), records: Vec::new() };
    let declared: std::collections::BTreeMap<&str, &kimigayo_package::PathDecl> = meta.paths.iter().map(|d| (d.path.trim_end_matches('/'), d)).collect();
    let entries = ar.entries().map_err(|e| PkgError::Integrity { package: pkg.clone(), message: format!("not a readable archive: {e}") })?;
    for (n, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| PkgError::Integrity { package: pkg.clone(), message: format!("damaged archive: {e}") })?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = raw.trim_end_matches('/').trim_start_matches("./").to_string();
        if name.is_empty() {
            continue;
        }
        if raw.starts_with('/') {
            return Err(bad(&raw, "absolute path in the archive"));
        }
        let rel = RelPath::new(&name).map_err(|_| bad(&raw, "path escapes the root (`..` or an invalid component)"))?;
        let h = entry.header().clone();
        let mut mode = h.mode().map_err(|_| bad(&name, "unreadable mode"))? & 0o7777;
        let mut uid = h.uid().unwrap_or(0) as u32;
        let mut gid = h.gid().unwrap_or(0) as u32;
        // Declared ownership and modes win; a declared mode is the only way to get setuid/setgid.
        let decl = declared.get(name.as_str());
        if let Some(d) = decl {
            mode = d.mode_bits().ok_or_else(|| bad(&name, "declared mode is not octal"))?;
            uid = d.uid;
            gid = d.gid;
        }
        if mode & 0o6000 != 0 && decl.is_none() {
            return Err(bad(&name, "setuid/setgid file not declared by the package: refusing it"));
        }
        let kind = h.entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let staged_path = staging.join(format!("{n:06}"));
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(|e| PkgError::Integrity { package: pkg.clone(), message: format!("{name}: {e}") })?;
                fs::write(&staged_path, &data).map_err(|e| PkgError::Io(format!("staging {name}: {e}")))?;
                fs::set_permissions(&staged_path, fs::Permissions::from_mode(mode)).map_err(|e| PkgError::Io(e.to_string()))?;
                staged.records.push(FileRecord { path: name.clone(), kind: Kind::File, mode, uid, gid, sha256: Some(kimigayo_package::sha256_hex(&data)), target: None });
                staged.entries.push((rel, Entry::File { staged: staged_path, mode, uid, gid }));
            }
            tar::EntryType::Directory => {
                staged.records.push(FileRecord { path: name.clone(), kind: Kind::Dir, mode, uid, gid, sha256: None, target: None });
                staged.entries.push((rel, Entry::Dir { mode, uid, gid }));
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned())
                    .ok_or_else(|| bad(&name, "symlink without a target"))?;
                staged.records.push(FileRecord { path: name.clone(), kind: Kind::Symlink, mode: 0o777, uid, gid, sha256: None, target: Some(target.clone()) });
                staged.entries.push((rel, Entry::Symlink { target }));
            }
            tar::EntryType::Link => return Err(bad(&name, "hardlink in the archive (Kimigayo packages store copies)")),
            tar::EntryType::Char | tar::EntryType::Block => return Err(bad(&name, "device node in the archive")),
            tar::EntryType::Fifo => return Err(bad(&name, "FIFO in the archive")),
            other => return Err(bad(&name, &format!("unsupported archive entry type {other:?}"))),
        }
    }
    Ok(staged)
}
