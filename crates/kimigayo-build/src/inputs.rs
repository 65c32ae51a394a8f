//! Build inputs and the cache key. Everything that can change a build's output goes into
//! `Inputs`; its canonical JSON hashed with SHA-256 is the build key (and `build_hash`).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Serialize)]
pub struct Inputs {
    pub format: u32,
    pub recipe: String,
    pub recipe_sha256: String,
    pub arch: String,
    pub hardening: String,
    pub linkage: String,
    pub source_date_epoch: u64,
    pub flags: Vec<String>,
    /// source name → sha256 (content hash for repository folders)
    pub sources: BTreeMap<String, String>,
    /// patch path → sha256 (recipe patches; patches from sources are covered by the source hash)
    pub patches: BTreeMap<String, String>,
    /// sha256 of the `.config` written into the tree (after applet selection)
    pub kconfig: Option<String>,
    /// toolchain identity (key of the assembled sysroot, or compiler versions)
    pub toolchain: String,
    /// build-dependency package name → archive sha256
    pub build_dependencies: BTreeMap<String, String>,
    pub host_tools: BTreeMap<String, String>,
    /// hash of the recipe folder's other files (config files, local patches)
    pub recipe_files: String,
    /// the archive compressor's fingerprint (a dependency update may change compressed bytes)
    pub packer: String,
}

impl Inputs {
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("inputs serialise");
        hex::encode(Sha256::digest(json))
    }
}

/// Content hash of a folder (paths, modes, symlink targets, bytes), optionally limited to
/// `include` top-level entries. Stable across machines: sorted, relative paths only.
pub fn tree_hash(root: &Path, include: &[String]) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut roots: Vec<std::path::PathBuf> = if include.is_empty() { vec![root.to_path_buf()] } else { include.iter().map(|i| root.join(i)).collect() };
    roots.sort();
    for r in roots {
        let mut entries: Vec<walkdir::DirEntry> = walkdir::WalkDir::new(&r)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| !is_ignored(e.file_name().to_str().unwrap_or("")))
            .collect::<Result<_, _>>()?;
        entries.sort_by(|a, b| a.path().cmp(b.path()));
        for e in entries {
            let rel = e.path().strip_prefix(root).unwrap_or(e.path());
            let ft = e.file_type();
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            if ft.is_symlink() {
                h.update(b"L");
                h.update(fs::read_link(e.path())?.to_string_lossy().as_bytes());
            } else if ft.is_file() {
                use std::os::unix::fs::PermissionsExt;
                let exec = e.metadata()?.permissions().mode() & 0o111 != 0;
                h.update(if exec { b"X" } else { b"F" });
                h.update(Sha256::digest(fs::read(e.path())?));
            } else {
                h.update(b"D");
            }
            h.update([0]);
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Build products, test suites and editor droppings never count as source (a changed test
/// must not rebuild the binaries it tests).
fn is_ignored(name: &str) -> bool {
    matches!(name, "target" | ".git" | "out" | ".kimigayo" | "tests") || name.ends_with('~') || name.ends_with(".swp")
}
