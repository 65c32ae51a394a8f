//! The operations a user invokes: add, del, upgrade (security first), verify, audit.
//! Each one: load and verify the indexes → resolve → fetch, verify and stage the packages →
//! one atomic transaction (file operations + the new database at the commit point).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use kimigayo_package::PackageMeta;
use kimigayo_resolve::{Candidate, Installed, Problem, Provide, Request, Upgrade};
use kimigayo_txn::{Entry, Faults, Op, RelPath, Transaction};
use kimigayo_version::{Constraint, Version};
use serde::Serialize;

use crate::db::{Database, InstalledPackage, Kind};
use crate::index::{load_index, Advisory, RepoIndex, INDEX, INDEX_SIG};
use crate::source::RepoSource;
use crate::{stage, PkgError, Root};

/// What a transaction changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub changes: Vec<Change>,
    /// Set when a later step (non-security upgrades) could not be done; the earlier ones stand.
    pub warning: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    pub action: String,
    pub package: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub security: bool,
}

struct Loaded {
    indexes: Vec<(RepoSource, RepoIndex)>,
}

fn parse_version(s: &str, what: &str) -> Result<Version, PkgError> {
    s.parse().map_err(|e| PkgError::Repo(format!("{what}: {e}")))
}

fn parse_constraints(list: &[String], what: &str) -> Result<Vec<Constraint>, PkgError> {
    list.iter().map(|c| c.parse().map_err(|e| PkgError::Repo(format!("{what}: {e}")))).collect()
}

fn provide(s: &str) -> Provide {
    match s.split_once('=') {
        Some((n, v)) => match v.parse() {
            Ok(v) => Provide::versioned(n, v),
            Err(_) => Provide::new(s),
        },
        None => Provide::new(s),
    }
}

/// A repository package as the resolver sees it (shared with the image assembler).
pub fn candidate(m: &PackageMeta) -> Result<Candidate, PkgError> {
    let what = format!("package {}-{}", m.name, m.version);
    Ok(Candidate {
        name: m.name.clone(),
        version: parse_version(&m.version, &what)?,
        arch: m.architecture.clone(),
        depends: parse_constraints(&m.dependencies, &what)?,
        conflicts: parse_constraints(&m.conflicts, &what)?,
        provides: m.provides.iter().map(|p| provide(p)).collect(),
    })
}

impl Root {
    fn load(&self, db: &mut Database) -> Result<Loaded, PkgError> {
        if self.repos.is_empty() {
            return Err(PkgError::Config(format!(
                "no repositories: list them in {}/{} or pass --repo",
                self.path.display(),
                crate::REPOS_FILE
            )));
        }
        if self.keys.keys().is_empty() {
            return Err(PkgError::Config(format!(
                "no trusted keys in {}/{}: import the repository's public key with `kpkg key import`",
                self.path.display(),
                crate::KEYS_DIR
            )));
        }
        let mut indexes = Vec::new();
        for r in &self.repos {
            let text = r.get(INDEX, crate::source::INDEX_CAP)?;
            let sig = r.get(INDEX_SIG, crate::source::SIGNATURE_CAP).map_err(|e| PkgError::Index { origin: r.id(), message: format!("no signature ({e})") })?;
            let id = r.id();
            let pin = self.pins.get(&id);
            // Only the keys pinned for this repository may sign it (all trusted keys otherwise).
            let keys = match pin.filter(|p| !p.keys.is_empty()) {
                Some(p) => {
                    let k = self.keys.restricted(&p.keys);
                    if k.is_empty() {
                        return Err(PkgError::Config(format!(
                            "repository {id} is pinned to keys {}, but none of them is in {}/{}: import them with `kpkg key import`",
                            p.keys.join(", "),
                            self.path.display(),
                            crate::KEYS_DIR
                        )));
                    }
                    k
                }
                None => self.keys.clone(),
            };
            let min = db.index_serials.get(&id).copied().unwrap_or(0);
            let idx = load_index(&id, &text, &sig, &keys, self.now, min)?;
            let digest = kimigayo_package::sha256_hex(&text);
            if idx.serial == min && db.index_digests.get(&id).is_some_and(|d| *d != digest) {
                return Err(PkgError::Index {
                    origin: id,
                    message: format!("serial {} again, but with different content than the index accepted at that serial: a repository raises the serial with every change; refusing (a split view or a replay)", idx.serial),
                });
            }
            let expected = pin.and_then(|p| p.origin.clone()).or_else(|| db.index_origins.get(&id).cloned());
            if let Some(want) = expected.filter(|w| *w != idx.origin) {
                return Err(PkgError::Index {
                    origin: id,
                    message: format!("the index is for repository `{}`, but this root expects `{want}` here: an index signed for another repository is refused", idx.origin),
                });
            }
            // The root's trusted origins (an image's trust root): the index must name one of
            // them, signed by one of its keys, unless its repository line pins its own.
            if !self.origins.is_empty() {
                match self.origins.get(&idx.origin) {
                    Some(fprs) => {
                        let allowed = self.keys.restricted(fprs);
                        if allowed.is_empty() {
                            return Err(PkgError::Config(format!(
                                "origin `{}` is trusted with keys {} in {}/{}, but none of them is in {}/{}: import them with `kpkg key import`",
                                idx.origin,
                                fprs.join(", "),
                                self.path.display(),
                                crate::ORIGINS_FILE,
                                self.path.display(),
                                crate::KEYS_DIR
                            )));
                        }
                        allowed.verify(&text, &sig, self.now).map_err(|e| PkgError::Index {
                            origin: id.clone(),
                            message: format!("names origin `{}`, but is not signed by a key {}/{} allows for it ({e}): refusing it", idx.origin, self.path.display(), crate::ORIGINS_FILE),
                        })?;
                    }
                    None if pin.and_then(|p| p.origin.as_ref()).is_some() => {}
                    None => {
                        return Err(PkgError::Index {
                            origin: id,
                            message: format!(
                                "names origin `{}`, which this root does not trust (trusted in {}/{}: {}); to use it, pin it on its repository line (`URL origin={} keys=FINGERPRINT`) or add it to that file",
                                idx.origin,
                                self.path.display(),
                                crate::ORIGINS_FILE,
                                self.origins.keys().cloned().collect::<Vec<_>>().join(", "),
                                idx.origin
                            ),
                        });
                    }
                }
            }
            // The serial floor per origin, wherever the index came from (a new mirror URL or
            // a container's first run start from what the root already knows).
            let floor = db.origin_serials.get(&idx.origin).copied().unwrap_or(0);
            if idx.serial < floor {
                return Err(PkgError::Index {
                    origin: id,
                    message: format!(
                        "serial {} of origin `{}` is older than serial {floor} this root already trusts (the index it was built from or last saw): refusing a replayed or rolled-back index",
                        idx.serial, idx.origin
                    ),
                });
            }
            if idx.serial == floor && db.origin_digests.get(&idx.origin).is_some_and(|d| *d != digest) {
                return Err(PkgError::Index {
                    origin: id,
                    message: format!("serial {} of origin `{}` again, but with different content than the index this root knows at that serial: refusing (a split view or a replay)", idx.serial, idx.origin),
                });
            }
            db.origin_serials.insert(idx.origin.clone(), idx.serial);
            db.origin_digests.insert(idx.origin.clone(), digest.clone());
            db.index_serials.insert(id.clone(), idx.serial);
            db.index_digests.insert(id.clone(), digest);
            db.index_origins.insert(id, idx.origin.clone());
            indexes.push((r.clone(), idx));
        }
        Ok(Loaded { indexes })
    }

    fn universe(&self, l: &Loaded) -> Result<Vec<Candidate>, PkgError> {
        l.indexes.iter().flat_map(|(_, idx)| &idx.packages).map(candidate).collect()
    }

    fn find_meta<'a>(&self, l: &'a Loaded, name: &str, version: &Version) -> Option<(&'a RepoSource, &'a PackageMeta)> {
        l.indexes.iter().find_map(|(src, idx)| {
            idx.packages
                .iter()
                .find(|m| {
                    m.name == name
                        && m.version.parse::<Version>().ok().as_ref() == Some(version)
                        && (m.architecture == self.arch || m.architecture == "noarch")
                })
                .map(|m| (src, m))
        })
    }

    /// `kpkg add`: install the constraints (and what they need), keeping the rest.
    pub fn add(&self, constraints: &[String], faults: &dyn Faults) -> Result<Report, PkgError> {
        let install = parse_constraints(constraints, "request")?;
        self.run(Request { install, remove: vec![], upgrade: Upgrade::None }, &BTreeSet::new(), faults)
    }

    /// `kpkg del`: remove packages and whatever only they needed.
    pub fn del(&self, names: &[String], faults: &dyn Faults) -> Result<Report, PkgError> {
        let db = self.database()?;
        for n in names {
            if !db.packages.contains_key(n) {
                return Err(PkgError::Unsatisfiable(format!("`{n}` is not installed (see `kpkg list`)")));
            }
        }
        self.run(Request { install: vec![], remove: names.to_vec(), upgrade: Upgrade::None }, &BTreeSet::new(), faults)
    }

    /// Installed packages with an advisory whose fix is newer than the installed version.
    pub fn audit(&self) -> Result<Vec<(String, String, Advisory)>, PkgError> {
        let mut db = self.database()?;
        let before = db.clone();
        let l = self.load(&mut db)?;
        self.remember(&before, &db)?;
        Ok(open_advisories(&db, &l))
    }

    /// Read-only commands still record the newest index serial they accepted (so a later
    /// replay of an older index is refused): the database alone, through a transaction.
    /// A root this user cannot write (a non-root `kpkg audit`) is left as it is.
    fn remember(&self, before: &Database, after: &Database) -> Result<(), PkgError> {
        if before == after {
            return Ok(());
        }
        match kimigayo_txn::commit(&self.txn_paths(), Transaction { ops: vec![], database: after.to_bytes() }, &kimigayo_txn::NoFaults) {
            Ok(_) => Ok(()),
            Err(kimigayo_txn::TxError::Io { source, .. })
                if matches!(source.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem) || source.raw_os_error() == Some(30) =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `kpkg upgrade [--security-only]`: security fixes first, as their own transaction, so
    /// they land even when the remaining upgrades cannot (property 8).
    pub fn upgrade(&self, security_only: bool, faults: &dyn Faults) -> Result<Report, PkgError> {
        let mut db = self.database()?;
        let l = self.load(&mut db)?;
        let secure: BTreeSet<String> = open_advisories(&db, &l).into_iter().map(|(n, _, _)| n).collect();
        let mut report = Report::default();
        // `name>=fixed_in` for every package with an open advisory: the security transaction
        // asks for exactly these, and the general upgrade afterwards must keep them.
        let fixes: Vec<Constraint> = secure
            .iter()
            .filter_map(|n| {
                let fixed = l
                    .indexes
                    .iter()
                    .flat_map(|(_, i)| &i.advisories)
                    .filter(|a| &a.package == n)
                    .filter_map(|a| a.fixed_in.parse::<Version>().ok())
                    .max()?;
                format!("{n}>={fixed}").parse().ok()
            })
            .collect();
        if !secure.is_empty() {
            let r = self.run(Request { install: fixes.clone(), remove: vec![], upgrade: Upgrade::Only(secure.iter().cloned().collect()) }, &secure, faults)?;
            report.changes.extend(r.changes);
        }
        if security_only {
            return Ok(report);
        }
        match self.run(Request { install: fixes, remove: vec![], upgrade: Upgrade::All }, &secure, faults) {
            Ok(r) => report.changes.extend(r.changes),
            Err(PkgError::Unsatisfiable(why)) if !report.changes.is_empty() => {
                report.warning = Some(format!("security fixes were applied; the other upgrades are not possible: {why}"));
            }
            Err(e) => return Err(e),
        }
        Ok(report)
    }

    fn run(&self, request: Request, security: &BTreeSet<String>, faults: &dyn Faults) -> Result<Report, PkgError> {
        let mut db = self.database()?;
        let l = self.load(&mut db)?;
        let universe = self.universe(&l)?;
        let installed: Vec<Installed> = db
            .packages
            .values()
            .map(|p| Ok(Installed { name: p.name.clone(), version: parse_version(&p.version, &p.name)? }))
            .collect::<Result<_, PkgError>>()?;
        let world = parse_constraints(&db.world, "world")?;
        let solution = kimigayo_resolve::resolve(&Problem { universe: &universe, installed: &installed, world: &world, arch: &self.arch, request })
            .map_err(|u| PkgError::Unsatisfiable(format!("{}\nNothing was changed.", u.explanation)))?;

        // Stage every package that is new or changes version.
        let paths = self.txn_paths();
        let staging_root = kimigayo_txn::staging_dir(&paths);
        // Whatever happens below (a refused package, a conflict, a failed commit, which has
        // moved what it needs into its own folder), nothing staged is left behind.
        struct Cleanup<'a>(&'a std::path::Path);
        impl Drop for Cleanup<'_> {
            fn drop(&mut self) {
                let _ = fs::remove_dir_all(self.0);
            }
        }
        let _cleanup = Cleanup(&staging_root);
        let mut new_db = db.clone();
        new_db.world = solution.new_world.iter().map(|c| c.to_string()).collect();
        let mut staged: BTreeMap<String, stage::Staged> = BTreeMap::new();
        let mut entering: Vec<PackageMeta> = Vec::new();
        let mut report = Report::default();
        for (name, version) in &solution.install {
            if db.packages.get(name).is_some_and(|p| p.version == version.to_string()) {
                continue;
            }
            let (src, meta) = self.find_meta(&l, name, version).ok_or_else(|| {
                PkgError::Unsatisfiable(format!("{name}-{version} was chosen but is not in any index for {}", self.arch))
            })?;
            // The signed size caps the download: a mirror cannot feed more than that.
            let check = |b: &[u8]| stage::verify(meta, b, &self.keys, &self.arch, self.now);
            let bytes = src.get_checked(&format!("{}/{}", meta.architecture, meta.filename), meta.size, &check)?;
            let s = stage::unpack(meta, &bytes, &staging_root.join(name))?;
            new_db.packages.insert(
                name.clone(),
                InstalledPackage {
                    name: name.clone(),
                    version: version.to_string(),
                    arch: meta.architecture.clone(),
                    sha256: meta.checksum.sha256.clone(),
                    files: s.records.clone(),
                },
            );
            let from = db.packages.get(name).map(|p| p.version.clone());
            report.changes.push(Change {
                action: if from.is_some() { "upgrade".into() } else { "add".into() },
                package: name.clone(),
                from,
                to: Some(version.to_string()),
                security: security.contains(name),
            });
            staged.insert(name.clone(), s);
            entering.push(meta.clone());
        }
        let keep: BTreeSet<&String> = solution.install.iter().map(|(n, _)| n).collect();
        for (name, p) in &db.packages {
            if !keep.contains(name) {
                new_db.packages.remove(name);
                report.changes.push(Change { action: "remove".into(), package: name.clone(), from: Some(p.version.clone()), to: None, security: false });
            }
        }

        // File ownership: a non-directory path belongs to exactly one package.
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        for p in new_db.packages.values() {
            for f in p.files.iter().filter(|f| f.kind != Kind::Dir) {
                if let Some(first) = owner.insert(&f.path, &p.name) {
                    return Err(PkgError::Conflict { path: f.path.clone(), first: first.to_string(), second: p.name.clone() });
                }
            }
        }
        // ... also on the path a file really lands on (another package's symlinked parent).
        let owned: Vec<crate::conflicts::Owned> = new_db
            .packages
            .values()
            .flat_map(|p| p.files.iter().filter(|f| f.kind != Kind::Dir).map(move |f| crate::conflicts::Owned { package: &p.name, path: &f.path, symlink: f.target.as_deref() }))
            .collect();
        if let Some(c) = crate::conflicts::find_clash(&owned) {
            return Err(PkgError::Conflict {
                path: format!("{} (as {} of {} and {} of {})", c.resolved, c.first.1, c.first.0, c.second.1, c.second.0),
                first: c.first.0,
                second: c.second.0,
            });
        }
        let wanted_dirs: BTreeSet<&str> = new_db.packages.values().flat_map(|p| &p.files).filter(|f| f.kind == Kind::Dir).map(|f| f.path.as_str()).collect();

        // Directories first (parents before children, each once even when several packages
        // carry it; existing ones are left as they are), then files and symlinks.
        let mut dirs: BTreeMap<String, Op> = BTreeMap::new();
        let mut puts_files = Vec::new();
        for s in staged.values() {
            for (rel, entry) in &s.entries {
                match entry {
                    Entry::Dir { .. } => {
                        let exists = kimigayo_txn::resolve_in_root(&self.path, rel).map(|p| p.is_dir()).unwrap_or(false);
                        if !exists {
                            dirs.entry(rel.as_str().to_string()).or_insert_with(|| Op::Put { path: rel.clone(), entry: entry.clone() });
                        }
                    }
                    _ => puts_files.push(Op::Put { path: rel.clone(), entry: entry.clone() }),
                }
            }
        }
        let mut ops: Vec<Op> = dirs.into_values().collect();
        ops.extend(puts_files);
        // Files of removed or replaced versions that no package of the new state owns.
        let mut remove_files = Vec::new();
        let mut remove_dirs = Vec::new();
        for (name, old) in &db.packages {
            let unchanged = new_db.packages.get(name).is_some_and(|p| p.version == old.version);
            if unchanged {
                continue;
            }
            for f in &old.files {
                match f.kind {
                    Kind::Dir if !wanted_dirs.contains(f.path.as_str()) => remove_dirs.push(f.path.clone()),
                    Kind::Dir => {}
                    _ if !owner.contains_key(f.path.as_str()) => remove_files.push(f.path.clone()),
                    _ => {}
                }
            }
        }
        remove_dirs.sort();
        remove_dirs.dedup();
        remove_dirs.reverse();
        for p in remove_files.into_iter().chain(remove_dirs) {
            ops.push(Op::Remove { path: RelPath::new(&p).map_err(|e| PkgError::Io(e.to_string()))? });
        }
        // Declared accounts, edited into the account files within the same transaction.
        let staged_files: BTreeMap<String, std::path::PathBuf> = staged
            .values()
            .flat_map(|s| s.entries.iter())
            .filter_map(|(r, e)| match e {
                Entry::File { staged, .. } => Some((r.as_str().to_string(), staged.clone())),
                _ => None,
            })
            .collect();
        let metas: Vec<&PackageMeta> = entering.iter().collect();
        crate::accounts::apply(&self.path, &metas, &staged_files, &staging_root.join(".accounts"), &mut new_db, &mut ops)?;
        kimigayo_txn::commit(&paths, Transaction { ops, database: new_db.to_bytes() }, faults)?;
        Ok(report)
    }

    /// `kpkg verify`: every installed file still matches its recorded hash, type and mode.
    pub fn verify(&self) -> Result<Vec<String>, PkgError> {
        let db = self.database()?;
        let mut problems = Vec::new();
        let runtime_owned = self.in_container();
        for p in db.packages.values() {
            for f in &p.files {
                if runtime_owned && RUNTIME_MANAGED.contains(&f.path.as_str()) {
                    continue;
                }
                let rel = RelPath::new(&f.path).map_err(|e| PkgError::Io(e.to_string()))?;
                let path = self.path.join(rel.as_str());
                let md = match fs::symlink_metadata(&path) {
                    Ok(m) => m,
                    Err(_) => {
                        problems.push(format!("{}: {} is missing", p.name, f.path));
                        continue;
                    }
                };
                match f.kind {
                    Kind::File => {
                        if !md.is_file() {
                            problems.push(format!("{}: {} is no longer a regular file", p.name, f.path));
                        } else if Some(kimigayo_package::sha256_file(&path).unwrap_or_default()) != f.sha256 {
                            problems.push(format!("{}: {} was modified (SHA-256 differs)", p.name, f.path));
                        } else if md.permissions().mode() & 0o7777 != f.mode {
                            problems.push(format!("{}: {} mode is {:o}, expected {:o}", p.name, f.path, md.permissions().mode() & 0o7777, f.mode));
                        } else if (md.uid(), md.gid()) != (f.uid, f.gid) {
                            problems.push(format!("{}: {} owner is {}:{}, expected {}:{}", p.name, f.path, md.uid(), md.gid(), f.uid, f.gid));
                        }
                    }
                    Kind::Symlink => {
                        let t = fs::read_link(&path).ok().map(|t| t.to_string_lossy().into_owned());
                        if t != f.target {
                            problems.push(format!("{}: symlink {} points to {:?}, expected {:?}", p.name, f.path, t, f.target));
                        }
                    }
                    Kind::Dir => {
                        if !md.is_dir() {
                            problems.push(format!("{}: {} is no longer a directory", p.name, f.path));
                        }
                    }
                }
            }
        }
        Ok(problems)
    }

    /// Whether this root is the running system of a container (Docker, podman): the runtime
    /// then owns a few files of the image (bind-mounted or replaced when it starts).
    fn in_container(&self) -> bool {
        self.path.canonicalize().is_ok_and(|p| p == std::path::Path::new("/"))
            && (std::path::Path::new("/.dockerenv").exists() || std::path::Path::new("/run/.containerenv").exists())
    }

    /// Refresh and return the verified indexes (for `kpkg info` / `search`).
    pub fn indexes(&self) -> Result<Vec<RepoIndex>, PkgError> {
        let mut db = self.database()?;
        let before = db.clone();
        let l = self.load(&mut db)?;
        self.remember(&before, &db)?;
        Ok(l.indexes.into_iter().map(|(_, i)| i).collect())
    }
}

/// Files a container runtime replaces in every container (bind mounts of /etc/hosts,
/// /etc/hostname and /etc/resolv.conf; Docker's init layer links /etc/mtab to /proc/mounts):
/// `kpkg verify` inside a container does not report them as modified.
const RUNTIME_MANAGED: [&str; 4] = ["etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab"];

fn open_advisories(db: &Database, l: &Loaded) -> Vec<(String, String, Advisory)> {
    let mut out = Vec::new();
    for p in db.packages.values() {
        let Ok(v) = p.version.parse::<Version>() else { continue };
        for (_, idx) in &l.indexes {
            for a in idx.advisories.iter().filter(|a| a.package == p.name) {
                if a.fixed_in.parse::<Version>().is_ok_and(|f| v < f) {
                    out.push((p.name.clone(), p.version.clone(), a.clone()));
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.0, &a.2.id).cmp(&(&b.0, &b.2.id)));
    out.dedup();
    out
}
