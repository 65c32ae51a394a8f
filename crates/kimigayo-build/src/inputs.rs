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
    /// key of the cargo set whose binaries a cargo recipe packages
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cargo_set: Option<String>,
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
        let mut entries: Vec<walkdir::DirEntry> =
            walkdir::WalkDir::new(&r).follow_links(false).into_iter().filter_entry(|e| !is_ignored(e.file_name().to_str().unwrap_or(""))).collect::<Result<_, _>>()?;
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

/// For a cargo recipe whose source includes the whole `crates` folder: the include list with
/// `crates` narrowed to the crates the recipe's packages actually compile (their path
/// dependencies, transitively; dev-dependencies excluded). Editing an unrelated crate then
/// neither changes the build key nor the recipe's SOURCE_DATE_EPOCH. Unchanged otherwise.
pub fn cargo_relevant_include(root: &Path, include: &[String], packages: &[String]) -> Vec<String> {
    if packages.is_empty() || !include.iter().any(|i| i == "crates") {
        return include.to_vec();
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut todo: Vec<String> = packages.to_vec();
    while let Some(name) = todo.pop() {
        let dir = root.join("crates").join(&name);
        let Ok(text) = fs::read_to_string(dir.join("Cargo.toml")) else {
            // Not a folder named after the package: keep the whole folder to stay correct.
            return include.to_vec();
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        let Ok(doc) = text.parse::<toml::Table>() else {
            return include.to_vec();
        };
        let mut tables: Vec<&toml::Table> = Vec::new();
        for key in ["dependencies", "build-dependencies"] {
            if let Some(t) = doc.get(key).and_then(|v| v.as_table()) {
                tables.push(t);
            }
        }
        if let Some(targets) = doc.get("target").and_then(|v| v.as_table()) {
            for t in targets.values().filter_map(|v| v.as_table()) {
                for key in ["dependencies", "build-dependencies"] {
                    if let Some(d) = t.get(key).and_then(|v| v.as_table()) {
                        tables.push(d);
                    }
                }
            }
        }
        for t in tables {
            for v in t.values() {
                if let Some(p) = v.get("path").and_then(|p| p.as_str()) {
                    if let Some(dep) = Path::new(p).file_name().and_then(|n| n.to_str()) {
                        todo.push(dep.to_string());
                    }
                }
            }
        }
    }
    let mut out: Vec<String> = include.iter().filter(|i| *i != "crates").cloned().collect();
    out.extend(seen.into_iter().map(|c| format!("crates/{c}")));
    out
}

#[cfg(test)]
mod cargo_include_tests {
    use super::*;

    #[test]
    fn narrows_crates_to_the_path_dependency_closure() {
        let d = tempfile::tempdir().unwrap();
        let w = |c: &str, deps: &str| {
            fs::create_dir_all(d.path().join("crates").join(c)).unwrap();
            fs::write(d.path().join("crates").join(c).join("Cargo.toml"), format!("[package]\nname = \"{c}\"\n{deps}")).unwrap();
        };
        w("app", "[dependencies]\nlib-a = { path = \"../lib-a\" }\nserde = \"1\"\n[dev-dependencies]\ntest-only = { path = \"../test-only\" }\n");
        w("lib-a", "[target.'cfg(unix)'.dependencies]\nlib-b = { path = \"../lib-b\" }\n");
        w("lib-b", "");
        w("test-only", "");
        w("unrelated", "");
        let inc = vec!["Cargo.toml".to_string(), "Cargo.lock".to_string(), "crates".to_string()];
        let got = cargo_relevant_include(d.path(), &inc, &["app".to_string()]);
        assert_eq!(got, vec!["Cargo.toml", "Cargo.lock", "crates/app", "crates/lib-a", "crates/lib-b"]);
        // A package that is not a folder of its own name keeps the whole folder.
        assert_eq!(cargo_relevant_include(d.path(), &inc, &["missing".to_string()]), inc);
    }
}
