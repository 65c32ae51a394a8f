//! kpkg, the Kimigayo package manager, as a library: the image assembler installs with it
//! and the `kpkg` binary is a thin front over it.
//!
//! A target root is described by files inside it: trusted keys in `etc/kimigayo/keys/`,
//! repositories in `etc/kimigayo/repositories`, the architecture in `etc/kimigayo/arch`, and
//! the installed database in `var/lib/kpkg/installed.json`. Every operation resolves
//! against the signed index, verifies each package's SHA-256 and signature before unpacking
//! it, and applies everything as one atomic transaction (kimigayo-txn). No package script
//! ever runs, so installing into a root needs no chroot.

pub mod accounts;
pub mod conflicts;
pub mod db;
pub mod index;
mod ops;
pub mod source;
pub mod stage;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kimigayo_sign::Keyring;

pub use db::Database;
pub use index::{build_index, build_named_index, check_folder_matches, load_index, read_signed_index, read_signed_index_full, Advisory, RepoIndex, SignedIndex};
pub use ops::{candidate, Change, Report};
pub use source::RepoSource;

#[derive(Debug, thiserror::Error)]
pub enum PkgError {
    #[error("repository index from {origin}: {message}")]
    Index { origin: String, message: String },
    #[error("package {package}: {message}. Nothing was changed.")]
    Integrity { package: String, message: String },
    #[error("package {package} is built for {package_arch} but this root is {root_arch}: nothing was unpacked; use a {root_arch} repository")]
    Arch { package: String, package_arch: String, root_arch: String },
    #[error("package {package}: unsafe archive entry `{path}`: {message}. Nothing was changed.")]
    Unsafe { package: String, path: String, message: String },
    #[error("{0}")]
    Unsatisfiable(String),
    #[error("file conflict: {path} is provided by both {first} and {second}; remove one of them (nothing was changed)")]
    Conflict { path: String, first: String, second: String },
    #[error("{0}")]
    Network(String),
    #[error("{0}")]
    Repo(String),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Txn(#[from] kimigayo_txn::TxError),
    #[error("{0}")]
    Io(String),
}

pub const KEYS_DIR: &str = "etc/kimigayo/keys";
pub const REPOS_FILE: &str = "etc/kimigayo/repositories";
pub const ARCH_FILE: &str = "etc/kimigayo/arch";
/// The root's trusted origins: `NAME keys=FPR[,FPR…]` per line. When present, an index must
/// name one of them and be signed by one of its keys, unless its repository line pins an
/// origin of its own (`URL origin=NAME keys=FPR`). Images with kpkg carry it.
pub const ORIGINS_FILE: &str = "etc/kimigayo/origins";

/// A target root filesystem and how to reach its packages.
pub struct Root {
    pub path: PathBuf,
    pub arch: String,
    pub repos: Vec<RepoSource>,
    /// Per repository (by [`RepoSource::id`]): the origin and signing keys it is pinned to.
    pub pins: std::collections::BTreeMap<String, source::Pin>,
    /// Trusted origins from [`ORIGINS_FILE`]: origin → keys allowed to sign it.
    pub origins: std::collections::BTreeMap<String, Vec<String>>,
    pub keys: Keyring,
    pub now: SystemTime,
}

/// The architecture of a root: `etc/kimigayo/arch`, else `system.architecture` in
/// `etc/kimigayo/system.conf`, else the host's.
pub fn root_arch(root: &Path) -> String {
    if let Ok(a) = std::fs::read_to_string(root.join(ARCH_FILE)) {
        if !a.trim().is_empty() {
            return a.trim().to_string();
        }
    }
    if let Ok(conf) = std::fs::read_to_string(root.join("etc/kimigayo/system.conf")) {
        if let Some(a) = conf.lines().find_map(|l| l.trim().strip_prefix("architecture:")) {
            return a.trim().to_string();
        }
    }
    std::env::consts::ARCH.to_string()
}

impl Root {
    /// Open a root. `repos` overrides `etc/kimigayo/repositories`; `arch` overrides detection.
    pub fn open(path: &Path, repos: &[String], arch: Option<&str>) -> Result<Root, PkgError> {
        let keys = Keyring::load_dir(&path.join(KEYS_DIR)).map_err(|e| PkgError::Config(e.to_string()))?;
        let lines: Vec<String> = if repos.is_empty() {
            std::fs::read_to_string(path.join(REPOS_FILE))
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect()
        } else {
            repos.to_vec()
        };
        let mut pins = std::collections::BTreeMap::new();
        let mut sources = Vec::new();
        for l in &lines {
            let s = RepoSource::parse(l);
            let pin = source::Pin::parse(l);
            if pin != source::Pin::default() {
                pins.insert(s.id(), pin);
            }
            sources.push(s);
        }
        let origins = match std::fs::read_to_string(path.join(ORIGINS_FILE)) {
            Ok(text) => source::parse_origins(&text).map_err(|e| PkgError::Config(format!("{}/{ORIGINS_FILE}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(e) => return Err(PkgError::Io(format!("reading {}/{ORIGINS_FILE}: {e}", path.display()))),
        };
        Ok(Root { path: path.to_path_buf(), arch: arch.map(str::to_string).unwrap_or_else(|| root_arch(path)), repos: sources, pins, origins, keys, now: SystemTime::now() })
    }

    pub fn txn_paths(&self) -> kimigayo_txn::Paths {
        kimigayo_txn::Paths {
            root: self.path.clone(),
            state: kimigayo_txn::RelPath::new(db::STATE_DIR).expect("valid"),
            database: kimigayo_txn::RelPath::new(db::DB_FILE).expect("valid"),
        }
    }

    /// The installed database (after recovering an interrupted transaction, if any).
    pub fn database(&self) -> Result<Database, PkgError> {
        kimigayo_txn::recover(&self.txn_paths())?;
        match std::fs::read(self.path.join(db::DB_FILE)) {
            Ok(b) => Database::parse(&b).map_err(PkgError::Config),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Database { format: 1, ..Database::default() }),
            Err(e) => Err(PkgError::Io(format!("reading {}: {e}", db::DB_FILE))),
        }
    }
}
