//! Deterministic archives: the same tree always gives the same bytes, whatever the umask,
//! owner, timestamps, directory order or locale of the machine that built it.
//!
//! Rules: entries sorted bytewise by path, directories before their contents; owner 0:0
//! named root:root; mtime = SOURCE_DATE_EPOCH; permission bits kept exactly (the build fixes
//! the umask); regular files, directories and symlinks only (hardlinks are stored as copies,
//! anything else is refused); gzip level 9 with zero header mtime and no file name.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: unsupported file type (only regular files, directories and symlinks can be packaged; remove it in the recipe's steps)")]
    Unsupported { path: PathBuf },
    #[error("{path}: file name is not UTF-8; rename it in the recipe's steps")]
    NonUtf8 { path: PathBuf },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io { path: path.to_path_buf(), source }
}

/// What went into an archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Sum of regular file sizes (the installed size).
    pub installed_size: u64,
}

/// A fingerprint of the compressor: the SHA-256 of a fixed probe compressed exactly as
/// archives are. It changes whenever a dependency update changes the compressed bytes, so
/// build caches keyed on it never reuse archives a different compressor produced.
pub fn compressor_fingerprint() -> String {
    use std::io::Write as _;
    let mut probe = Vec::with_capacity(1 << 16);
    let mut x: u32 = 0x2545_f491;
    for i in 0..(1u32 << 16) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        probe.push(if i % 3 == 0 { (x & 0xff) as u8 } else { b"kimigayo musl busybox "[(i % 22) as usize] });
    }
    let mut gz = GzBuilder::new().mtime(0).write(Vec::new(), Compression::new(9));
    gz.write_all(&probe).expect("in-memory write");
    crate::sha256_hex(&gz.finish().expect("in-memory write"))
}

/// Every path under `root` (relative, `/`-separated), sorted bytewise.
pub fn list_tree(root: &Path) -> Result<Vec<String>, ArchiveError> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false).min_depth(1) {
        let entry = entry.map_err(|e| ArchiveError::Io {
            path: e.path().unwrap_or(root).to_path_buf(),
            source: e.into_io_error().unwrap_or_else(|| io::Error::other("walk error")),
        })?;
        let rel = entry.path().strip_prefix(root).expect("walkdir stays under root");
        let rel = rel.to_str().ok_or_else(|| ArchiveError::NonUtf8 { path: entry.path().to_path_buf() })?;
        out.push(rel.to_string());
    }
    out.sort();
    Ok(out)
}

/// Archive the given relative `paths` of `root` (see [`list_tree`]) into `out` as tar.gz.
pub fn write_archive<W: Write>(root: &Path, paths: &[String], mtime: u64, out: W) -> Result<ArchiveStats, ArchiveError> {
    let gz = GzBuilder::new().mtime(0).write(out, Compression::new(9));
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut stats = ArchiveStats::default();
    let mut sorted: Vec<&String> = paths.iter().collect();
    sorted.sort();
    for rel in sorted {
        let path = root.join(rel);
        let md = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        let mut h = tar::Header::new_ustar();
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root").expect("short name");
        h.set_groupname("root").expect("short name");
        h.set_mtime(mtime);
        h.set_mode(md.permissions().mode() & 0o7777);
        let ft = md.file_type();
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            tar.append_data(&mut h, format!("{rel}/"), io::empty()).map_err(io_err(&path))?;
            stats.dirs += 1;
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(io_err(&path))?;
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            tar.append_link(&mut h, rel, &target).map_err(io_err(&path))?;
            stats.symlinks += 1;
        } else if ft.is_file() {
            let _ = md.nlink(); // hardlinks are stored as independent copies
            let f = fs::File::open(&path).map_err(io_err(&path))?;
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(md.len());
            tar.append_data(&mut h, rel, f).map_err(io_err(&path))?;
            stats.files += 1;
            stats.installed_size += md.len();
        } else {
            return Err(ArchiveError::Unsupported { path });
        }
    }
    let gz = tar.into_inner().map_err(io_err(root))?;
    gz.finish().map_err(io_err(root))?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree(dir: &Path, order: &[&str]) {
        for name in order {
            let p = dir.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, name.as_bytes()).unwrap();
        }
        symlink("a", dir.join("link")).unwrap();
    }

    #[test]
    fn creation_order_and_mtimes_do_not_matter() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(a.path(), &["a", "d/x", "d/y"]);
        tree(b.path(), &["d/y", "d/x", "a"]);
        filetime_touch(b.path().join("a"));
        let pack = |d: &Path| {
            let mut v = Vec::new();
            write_archive(d, &list_tree(d).unwrap(), 1_700_000_000, &mut v).unwrap();
            v
        };
        assert_eq!(pack(a.path()), pack(b.path()));
    }

    fn filetime_touch(p: PathBuf) {
        let f = fs::File::options().write(true).open(p).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(12345)).unwrap();
    }

    #[test]
    fn fifo_is_refused_with_its_path() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pipe");
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: plain mkfifo(3) on a path we own.
        assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = write_archive(d.path(), &list_tree(d.path()).unwrap(), 0, Vec::new()).unwrap_err();
        assert!(err.to_string().contains("pipe"), "{err}");
    }

    extern "C" {
        #[link_name = "mkfifo"]
        fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
    }
}

#[cfg(test)]
mod fingerprint_tests {
    #[test]
    fn compressor_fingerprint_is_stable() {
        let a = super::compressor_fingerprint();
        assert_eq!(a, super::compressor_fingerprint());
        assert_eq!(a.len(), 64);
    }
}
