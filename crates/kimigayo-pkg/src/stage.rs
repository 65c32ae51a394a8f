//! Verifying and unpacking one package into the transaction's staging folder. Nothing is
//! unpacked before the archive's SHA-256 and OpenPGP signature are verified (property 6),
//! and the archive itself is treated as hostile: absolute paths, `..`, non-UTF-8 names,
//! hardlinks, device nodes, FIFOs, undeclared setuid/setgid or world-writable entries and
//! content beyond the declared size are refused with the package and path named.

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

/// Most entries an archive may hold (a bomb of empty entries stops here).
pub const MAX_ENTRIES: usize = 200_000;

/// What one archive entry is, after every rule has been checked.
pub enum Content {
    File(Vec<u8>),
    Dir,
    Symlink(String),
}

/// One entry of a verified archive: a safe relative path, ownership and mode from the
/// package's declarations (root:root otherwise; tar headers are never trusted for owners).
pub struct Checked {
    pub path: String,
    pub rel: RelPath,
    pub content: Content,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Read a verified archive entry by entry, refusing what no Kimigayo package contains:
/// absolute paths, `..`, non-UTF-8 names or symlink targets, hardlinks, devices, FIFOs,
/// undeclared setuid/setgid files, undeclared world-writable entries without the sticky
/// bit, and more content than the metadata's `installed_size` (checked while reading, so a
/// decompression bomb stops before memory grows).
pub fn read_entries(meta: &PackageMeta, bytes: &[u8], each: &mut dyn FnMut(Checked) -> Result<(), PkgError>) -> Result<(), PkgError> {
    let pkg = format!("{}-{}", meta.name, meta.version);
    let bad = |path: &str, why: &str| PkgError::Unsafe { package: pkg.clone(), path: path.to_string(), message: why.to_string() };
    let damaged = |e: String| PkgError::Integrity { package: pkg.clone(), message: e };
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let declared: std::collections::BTreeMap<&str, &kimigayo_package::PathDecl> = meta.paths.iter().map(|d| (d.path.trim_end_matches('/'), d)).collect();
    let mut budget = meta.installed_size;
    let entries = ar.entries().map_err(|e| damaged(format!("not a readable archive: {e}")))?;
    for (n, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| damaged(format!("damaged archive: {e}")))?;
        if n >= MAX_ENTRIES {
            return Err(bad("", &format!("more than {MAX_ENTRIES} entries")));
        }
        let raw_bytes = entry.path_bytes().into_owned();
        let raw = std::str::from_utf8(&raw_bytes).map_err(|_| bad(&String::from_utf8_lossy(&raw_bytes), "file name is not UTF-8 (refused, not rewritten)"))?.to_string();
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
        let (mut uid, mut gid) = (0, 0);
        // Declared ownership and modes win; a declared mode is the only way to get
        // setuid/setgid or an unprotected world-writable entry.
        let decl = declared.get(name.as_str());
        if let Some(d) = decl {
            mode = d.mode_bits().ok_or_else(|| bad(&name, "declared mode is not octal"))?;
            uid = d.uid;
            gid = d.gid;
        }
        if mode & 0o6000 != 0 && decl.is_none() {
            return Err(bad(&name, "setuid/setgid file not declared by the package: refusing it"));
        }
        let content = match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = h.size().map_err(|_| bad(&name, "unreadable size"))?;
                if size > budget {
                    return Err(bad(&name, &format!("{size} bytes would exceed the package's declared installed size ({} bytes): refusing a decompression bomb", meta.installed_size)));
                }
                let mut data = Vec::with_capacity(size as usize);
                (&mut entry).take(budget + 1).read_to_end(&mut data).map_err(|e| damaged(format!("{name}: {e}")))?;
                if data.len() as u64 > budget {
                    return Err(bad(&name, &format!("content exceeds the package's declared installed size ({} bytes)", meta.installed_size)));
                }
                budget -= data.len() as u64;
                Content::File(data)
            }
            tar::EntryType::Directory => Content::Dir,
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().ok_or_else(|| bad(&name, "symlink without a target"))?.into_owned();
                let target = String::from_utf8(target).map_err(|e| bad(&name, &format!("symlink target {:?} is not UTF-8 (refused, not rewritten)", String::from_utf8_lossy(e.as_bytes()))))?;
                if target.is_empty() || target.contains('\0') {
                    return Err(bad(&name, "empty symlink target"));
                }
                mode = 0o777;
                Content::Symlink(target)
            }
            tar::EntryType::Link => return Err(bad(&name, "hardlink in the archive (Kimigayo packages store copies)")),
            tar::EntryType::Char | tar::EntryType::Block => return Err(bad(&name, "device node in the archive")),
            tar::EntryType::Fifo => return Err(bad(&name, "FIFO in the archive")),
            other => return Err(bad(&name, &format!("unsupported archive entry type {other:?}"))),
        };
        if !matches!(content, Content::Symlink(_)) && mode & 0o002 != 0 && mode & 0o1000 == 0 && decl.is_none() {
            return Err(bad(&name, &format!("world-writable ({mode:04o}) without the sticky bit and not declared by the package: refusing it")));
        }
        each(Checked { path: name, rel, content, mode, uid, gid })?;
    }
    Ok(())
}

/// The database record of a checked entry (what `kpkg add` records and the image composer
/// writes into every image's database).
pub fn record(c: &Checked) -> FileRecord {
    let (kind, mode, sha256, target) = match &c.content {
        Content::File(data) => (Kind::File, c.mode, Some(kimigayo_package::sha256_hex(data)), None),
        Content::Dir => (Kind::Dir, c.mode, None, None),
        Content::Symlink(t) => (Kind::Symlink, 0o777, None, Some(t.clone())),
    };
    FileRecord { path: c.path.clone(), kind, mode, uid: c.uid, gid: c.gid, sha256, target }
}

/// Unpack a verified archive into `staging` (a fresh folder on the root's filesystem).
pub fn unpack(meta: &PackageMeta, bytes: &[u8], staging: &Path) -> Result<Staged, PkgError> {
    fs::create_dir_all(staging).map_err(|e| PkgError::Io(format!("creating {}: {e}", staging.display())))?;
    let mut staged = Staged { entries: Vec::new(), records: Vec::new() };
    let mut n = 0usize;
    read_entries(meta, bytes, &mut |c: Checked| {
        staged.records.push(record(&c));
        let Checked { path: name, rel, content, mode, uid, gid } = c;
        match content {
            Content::File(data) => {
                let staged_path = staging.join(format!("{n:06}"));
                n += 1;
                fs::write(&staged_path, &data).map_err(|e| PkgError::Io(format!("staging {name}: {e}")))?;
                fs::set_permissions(&staged_path, fs::Permissions::from_mode(mode)).map_err(|e| PkgError::Io(e.to_string()))?;
                staged.entries.push((rel, Entry::File { staged: staged_path, mode, uid, gid }));
            }
            Content::Dir => staged.entries.push((rel, Entry::Dir { mode, uid, gid })),
            Content::Symlink(target) => staged.entries.push((rel, Entry::Symlink { target })),
        }
        Ok(())
    })?;
    Ok(staged)
}
