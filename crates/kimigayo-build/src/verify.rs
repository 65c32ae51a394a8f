//! `kimigayo verify` (property 22): rebuild what the repository holds from scratch in a fresh folder (no
//! build cache, no toolchain reuse; only the hash-verified source cache is shared) and
//! compare every package with the recorded repository, naming the first differing file and
//! byte offset on a mismatch.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use kimigayo_package::{compare_archives, PackageMeta, Repository};

/// The index `kimigayo build` signs at the repository root.
const INDEX: &str = "index.json";
use serde::Serialize;

use crate::{io_ctx, BuildConfig, BuildError, Builder, Progress};

#[derive(Debug, Clone, Serialize)]
pub struct VerifyRow {
    pub package: String,
    pub recorded_sha256: Option<String>,
    pub rebuilt_sha256: Option<String>,
    pub identical: bool,
    /// First difference, in words (file inside the package and byte offset).
    pub difference: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub rebuild_dir: PathBuf,
    pub rows: Vec<VerifyRow>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.identical)
    }
}

/// For a Rust package that differs: what its set's build scripts answered differently in the
/// recorded build (`<cache>/cargo/<key>`) and the rebuild, or where to look when they agree.
fn cargo_note(recorded_cache: &Path, rebuilt_cache: &Path) -> String {
    let read = |d: &Path| fs::read_to_string(d.join(crate::cargo::BUILD_SCRIPTS)).ok();
    let Ok(sets) = fs::read_dir(rebuilt_cache.join("cargo")) else { return String::new() };
    let mut notes = Vec::new();
    for set in sets.filter_map(|e| e.ok()).filter(|e| e.path().is_dir()) {
        let rebuilt_dir = set.path();
        let recorded_dir = recorded_cache.join("cargo").join(set.file_name());
        match (read(&recorded_dir), read(&rebuilt_dir)) {
            (Some(a), Some(b)) => {
                let d = crate::cargo::build_script_differences(&a, &b);
                if d.is_empty() {
                    notes.push(format!("the build scripts of both cargo builds answered alike ({} and {}); compare their build.log", recorded_dir.display(), rebuilt_dir.display()));
                } else {
                    notes.push(format!("build scripts answered differently: {}", d.join("; ")));
                }
            }
            _ => notes.push(format!("no recorded cargo build {} to compare build-script outputs with (it was built in another cache)", recorded_dir.display())),
        }
    }
    if notes.is_empty() { String::new() } else { format!(" [{}]", notes.join("; ")) }
}

/// Rebuild with `cfg` (its `repo_dir` is the recorded repository) in `scratch`, then compare.
pub fn verify(cfg: &BuildConfig, scratch: PathBuf, progress: &dyn Progress) -> Result<VerifyReport, BuildError> {
    let recorded = Repository::new(&cfg.repo_dir).packages().map_err(io_ctx(format!("reading {}", cfg.repo_dir.display())))?;
    if recorded.is_empty() {
        return Err(BuildError::Recipe(format!("{} holds no packages to verify: run `make reproducible-build` (kimigayo build) first", cfg.repo_dir.display())));
    }
    let mut re = cfg.clone();
    re.cache_dir = scratch.join("cache");
    re.repo_dir = scratch.join("repo");
    re.reuse = false;
    re.work_dir = None;
    // A different user inside the sandbox than the recorded build used.
    re.sandbox_uid = Some(if cfg.sandbox_uid == Some(1000) { 1001 } else { 1000 });
    fs::create_dir_all(&re.cache_dir).map_err(io_ctx(format!("creating {}", re.cache_dir.display())))?;
    let mut builder = Builder::new(re.clone(), progress)?;
    // What the repository holds, not every recipe: a repository `make image` filled is
    // verified without compiling a kernel it does not contain.
    let mut wanted: Vec<String> = recorded.iter().map(|(_, m)| m.origin.clone()).filter(|o| builder.recipe(o).is_some()).collect();
    wanted.sort();
    wanted.dedup();
    if !wanted.is_empty() {
        builder.build(&wanted)?;
    }
    let rebuilt: BTreeMap<String, (PathBuf, String, String)> = Repository::new(&re.repo_dir)
        .packages()
        .map_err(io_ctx("reading the rebuilt repository"))?
        .into_iter()
        .map(|(p, m)| (format!("{}/{}", m.architecture, m.name), (p, m.checksum.sha256, m.build_info.build_hash)))
        .collect();
    let mut rows = Vec::new();
    let mut seen = Vec::new();
    for (path, meta) in &recorded {
        let id = format!("{}/{}", meta.architecture, meta.name);
        seen.push(id.clone());
        let recorded_sha = kimigayo_package::sha256_file(path).ok();
        let Some((rpath, rsha, rkey)) = rebuilt.get(&id) else {
            rows.push(VerifyRow { package: id, recorded_sha256: recorded_sha, rebuilt_sha256: None, identical: false, difference: Some("not produced by the rebuild".into()) });
            continue;
        };
        let a = fs::read(path).map_err(io_ctx(format!("reading {}", path.display())))?;
        let b = fs::read(rpath).map_err(io_ctx(format!("reading {}", rpath.display())))?;
        let diff = compare_archives(&a, &b);
        let stale = if rkey != &meta.build_info.build_hash {
            format!(
                " [the inputs changed since the recorded build (build_hash {} → {}): if that is expected, record them with `make reproducible-build`]",
                &meta.build_info.build_hash[..12.min(meta.build_info.build_hash.len())],
                &rkey[..12]
            )
        } else {
            String::new()
        };
        let is_cargo = builder.recipe(&meta.origin).is_some_and(|r| r.build.toolchain == kimigayo_recipe::Toolchain::Cargo);
        let scripts = if diff.is_some() && is_cargo { cargo_note(&cfg.cache_dir, &re.cache_dir) } else { String::new() };
        let mut difference = diff.map(|d| format!("{}: {d}{stale}{scripts}", meta.filename));
        if difference.is_none() && recorded_sha.as_deref() != Some(meta.checksum.sha256.as_str()) {
            difference = Some(format!("{}: the archive does not match its metadata's checksum.sha256 (the repository was modified)", meta.filename));
        }
        rows.push(VerifyRow { package: id, recorded_sha256: recorded_sha, rebuilt_sha256: Some(rsha.clone()), identical: difference.is_none(), difference });
    }
    for (id, (_, sha, _)) in &rebuilt {
        if !seen.contains(id) {
            rows.push(VerifyRow {
                package: id.clone(),
                recorded_sha256: None,
                rebuilt_sha256: Some(sha.clone()),
                identical: false,
                difference: Some("produced by the rebuild but missing from the recorded repository".into()),
            });
        }
    }
    check_listing(&cfg.repo_dir, &recorded, &mut rows)?;
    Ok(VerifyReport { rebuild_dir: scratch, rows })
}

/// The repository's own list of what it holds: the package entries of `index.json` (written
/// and signed by `kimigayo build`; its signature is kpkg's business, the list is ours).
#[derive(serde::Deserialize)]
struct Listing {
    packages: Vec<PackageMeta>,
}

/// A package deleted from the repository leaves nothing to rebuild: only the index says it
/// should be there. Flags listed packages that are missing or whose archive is not the one
/// listed, and packages the index does not list.
fn check_listing(repo_dir: &Path, recorded: &[(PathBuf, PackageMeta)], rows: &mut Vec<VerifyRow>) -> Result<(), BuildError> {
    let path = repo_dir.join(INDEX);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_ctx(format!("reading {}", path.display()))(e)),
    };
    let listing: Listing = serde_json::from_slice(&text)
        .map_err(|e| BuildError::Recipe(format!("{}: not a repository index ({e}): the repository was modified; rebuild and re-sign it with `make reproducible-build`", path.display())))?;
    let id = |m: &PackageMeta| format!("{}/{}", m.architecture, m.name);
    let flag = |rows: &mut Vec<VerifyRow>, pkg: String, what: String| match rows.iter_mut().find(|r| r.package == pkg) {
        Some(r) => {
            r.identical = false;
            r.difference = Some(match r.difference.take() {
                Some(d) => format!("{d}; {what}"),
                None => what,
            });
        }
        None => rows.push(VerifyRow { package: pkg, recorded_sha256: None, rebuilt_sha256: None, identical: false, difference: Some(what) }),
    };
    let fix = "the repository was modified: restore it, or rebuild and re-sign it with `make reproducible-build`";
    for m in &listing.packages {
        match recorded.iter().find(|(_, r)| id(r) == id(m)) {
            None => flag(rows, id(m), format!("{}: listed in {INDEX} but missing from the repository ({fix})", m.filename)),
            Some((_, r)) if r.filename != m.filename || r.checksum.sha256 != m.checksum.sha256 => flag(
                rows,
                id(m),
                format!("{INDEX} lists {} with sha256 {} but the repository holds {} with sha256 {} ({fix})", m.filename, m.checksum.sha256, r.filename, r.checksum.sha256),
            ),
            Some(_) => {}
        }
    }
    for (_, r) in recorded {
        if !listing.packages.iter().any(|m| id(m) == id(r)) {
            flag(rows, id(r), format!("{}: not listed in {INDEX} ({fix})", r.filename));
        }
    }
    Ok(())
}
