//! A local repository folder: `<repo>/<arch>/<name>-<version>.<arch>.tar.gz` and `.json`.
//! Files are written to a temporary name in the same folder, synced, then renamed, the
//! archive before its metadata, so a reader never sees a half-written package.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::metadata::PackageMeta;

#[derive(Debug, Clone)]
pub struct Repository {
    pub root: PathBuf,
}

impl Repository {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Repository { root: root.into() }
    }

    pub fn arch_dir(&self, arch: &str) -> PathBuf {
        self.root.join(arch)
    }

    /// All package metadata in the repository, sorted by file name.
    pub fn packages(&self) -> io::Result<Vec<(PathBuf, PackageMeta)>> {
        let mut out = Vec::new();
        if !self.root.exists() {
            return Ok(out);
        }
        let mut dirs: Vec<_> = fs::read_dir(&self.root)?.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for d in dirs {
            let mut files: Vec<_> = fs::read_dir(&d)?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            for f in files {
                let text = fs::read_to_string(&f)?;
                let meta: PackageMeta = serde_json::from_str(&text)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", f.display())))?;
                // `filename` names a file next to this one: never a path elsewhere.
                meta.validate_identity().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", f.display())))?;
                out.push((d.join(&meta.filename), meta));
            }
        }
        Ok(out)
    }
}

/// Write a repository file via a temporary name in the same folder, synced, then renamed.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut fs::File) -> io::Result<()>) -> io::Result<()> {
    let dir = path.parent().expect("repository paths have a parent");
    let tmp = dir.join(format!(".{}.partial", path.file_name().unwrap().to_string_lossy()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        write(&mut f)?;
        f.flush()?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Copy a finished archive and its metadata into the repository (atomically, archive first).
/// Older versions of the same package name and architecture are removed afterwards.
pub fn publish(repo: &Repository, archive: &Path, meta: &PackageMeta) -> io::Result<PathBuf> {
    let dir = repo.arch_dir(&meta.architecture);
    fs::create_dir_all(&dir)?;
    let dest = dir.join(&meta.filename);
    write_atomic(&dest, |f| io::copy(&mut fs::File::open(archive)?, f).map(|_| ()))?;
    let json_name = meta.filename.trim_end_matches(".tar.gz").to_string() + ".json";
    write_atomic(&dir.join(&json_name), |f| f.write_all(meta.to_json().as_bytes()))?;
    // Drop stale versions of this package (same name, other version).
    for (path, other) in repo.packages()? {
        if other.name == meta.name && other.architecture == meta.architecture && other.filename != meta.filename {
            let _ = fs::remove_file(path.with_file_name(other.filename.trim_end_matches(".tar.gz").to_string() + ".json"));
            let _ = fs::remove_file(&path);
        }
    }
    Ok(dest)
}
