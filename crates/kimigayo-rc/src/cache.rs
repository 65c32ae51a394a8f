//! The metadata cache (`<root>/run/kimigayo/deptree.json`, else `<root>/var/cache/kimigayo/`):
//! one entry per service, keyed by path + size + mtime (ns) + SHA-256 of its script, its
//! conf.d files and rc.conf (present or absent). Only entries whose files changed are read
//! again through the shell; a corrupt or foreign cache is ignored and rebuilt.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::extract::{extract, LoadOptions};
use crate::{Catalog, LoadFailure, RcError, RcRoot, ServiceMeta};

const FORMAT: u32 = 1;
const FILE_NAME: &str = "deptree.json";

/// One file's identity at load time; `sha256` empty when the file is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub path: String,
    pub present: bool,
    pub size: u64,
    pub mtime_ns: i128,
    pub sha256: String,
}

impl FileStamp {
    pub fn of(path: &Path) -> Result<Self, RcError> {
        let p = path.to_string_lossy().into_owned();
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(FileStamp { path: p, present: false, size: 0, mtime_ns: 0, sha256: String::new() })
            }
            Err(e) => Err(RcError::io(path, e)),
            Ok(m) => {
                let bytes = std::fs::read(path).map_err(|e| RcError::io(path, e))?;
                Ok(FileStamp {
                    path: p,
                    present: true,
                    size: m.len(),
                    mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
                    sha256: hex::encode(Sha256::digest(&bytes)),
                })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Outcome {
    Loaded(Box<ServiceMeta>),
    Failed(LoadFailure),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    files: Vec<FileStamp>,
    outcome: Outcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    /// The shell used: another shell may read scripts differently, so it invalidates all.
    shell: String,
    entries: BTreeMap<String, Entry>,
}

/// What one load did (for tests, `rc-status --verbose` and boot timing).
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub catalog: Catalog,
    /// Services read through the shell this time.
    pub extracted: Vec<String>,
    /// Services served from the cache.
    pub cached: Vec<String>,
    /// Shell processes started (0 when everything came from the cache).
    pub shell_runs: usize,
    /// Where the cache was written, if it was.
    pub cache_path: Option<PathBuf>,
    /// Set when an existing cache could not be used (corrupt, other format or shell).
    pub cache_discarded: Option<String>,
}

/// All services under `root`, from the cache where still valid, else through `shell`.
pub fn load_catalog(root: &RcRoot, shell: &Path) -> Result<Catalog, RcError> {
    Ok(load_catalog_with(root, &LoadOptions::new(shell))?.catalog)
}

/// [`load_catalog`] with options and a report of what was read.
pub fn load_catalog_with(root: &RcRoot, opts: &LoadOptions) -> Result<LoadReport, RcError> {
    let services = root.services()?;
    let shell = opts.shell.to_string_lossy().into_owned();
    let mut report = LoadReport::default();
    let old = match read_cache(root) {
        Ok(Some(c)) if c.format == FORMAT && c.shell == shell => c.entries,
        Ok(Some(c)) => {
            report.cache_discarded = Some(format!("made by format {} with shell {}", c.format, c.shell));
            BTreeMap::new()
        }
        Ok(None) => BTreeMap::new(),
        Err(why) => {
            report.cache_discarded = Some(why);
            BTreeMap::new()
        }
    };
    let mut entries = BTreeMap::new();
    let mut stale = Vec::new();
    let mut stamps = BTreeMap::new();
    for svc in &services {
        let mut files = vec![FileStamp::of(&root.script(svc))?];
        for f in std::iter::once(root.rc_conf()).chain(root.conf_files(svc)) {
            files.push(FileStamp::of(&f)?);
        }
        match old.get(svc) {
            Some(e) if e.files == files => {
                entries.insert(svc.clone(), e.clone());
                report.cached.push(svc.clone());
            }
            _ => {
                stale.push(svc.clone());
                stamps.insert(svc.clone(), files);
            }
        }
    }
    let mut dirty = !stale.is_empty() || old.len() != entries.len() || report.cache_discarded.is_some();
    if !stale.is_empty() {
        let got = extract(root, &stale, opts)?;
        report.shell_runs = got.shell_runs;
        for (svc, res) in got.results {
            let outcome = match res {
                Ok(m) => Outcome::Loaded(Box::new(m)),
                Err(f) => Outcome::Failed(f),
            };
            entries.insert(svc.clone(), Entry { files: stamps.remove(&svc).unwrap_or_default(), outcome });
            report.extracted.push(svc);
        }
    }
    for (svc, e) in &entries {
        match &e.outcome {
            Outcome::Loaded(m) => {
                report.catalog.services.insert(svc.clone(), (**m).clone());
            }
            Outcome::Failed(f) => {
                report.catalog.failures.insert(svc.clone(), f.clone());
            }
        }
    }
    // Timeouts may be transient (a loaded machine): never cache them.
    let before = entries.len();
    entries.retain(|_, e| !matches!(&e.outcome, Outcome::Failed(f) if f.timed_out));
    dirty |= entries.len() != before;
    if dirty || cache_location(root).is_none() {
        report.cache_path = write_cache(root, &CacheFile { format: FORMAT, shell, entries });
    }
    Ok(report)
}

/// The cache file in use: the /run one if present, else the /var/cache one.
pub fn cache_location(root: &RcRoot) -> Option<PathBuf> {
    [root.run_dir(), root.cache_dir()].into_iter().map(|d| d.join(FILE_NAME)).find(|p| p.is_file())
}

fn read_cache(root: &RcRoot) -> Result<Option<CacheFile>, String> {
    let Some(p) = cache_location(root) else { return Ok(None) };
    let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("{}: corrupt ({e}); rebuilt", p.display()))
}

/// Writes to /run, falling back to /var/cache; None when neither is writable (the catalog
/// is still returned: the cache only saves time).
fn write_cache(root: &RcRoot, cache: &CacheFile) -> Option<PathBuf> {
    let json = serde_json::to_vec_pretty(cache).ok()?;
    for dir in [root.run_dir(), root.cache_dir()] {
        let path = dir.join(FILE_NAME);
        if write_atomic(&path, &json).is_ok() {
            // A stale copy in the other place must not win next time.
            if dir == root.cache_dir() {
                let _ = std::fs::remove_file(root.run_dir().join(FILE_NAME));
            }
            return Some(path);
        }
    }
    None
}

/// tmp file in the same directory + rename: readers see the old or the new file. No fsync: a
/// cache torn by a power loss is detected as corrupt and rebuilt, and the sync cost a boot
/// several milliseconds on disk-backed roots.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
