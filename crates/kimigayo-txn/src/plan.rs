//! Turning ops into journal steps, against a simulated view of the root as the earlier
//! ops will have left it. Nothing on disk is changed here.

use crate::journal::{Layout, Step};
use crate::path::{is_missing, join, lstat_kind, resolve, Kind, View};
use crate::{Entry, Op, RelPath, TxError};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What the transaction will have left at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum V {
    Absent,
    File,
    Symlink(String),
    /// `fresh`: created by the transaction, so the real filesystem says nothing about
    /// what is inside it.
    Dir {
        fresh: bool,
    },
}

struct Overlay<'a> {
    root: &'a Path,
    map: BTreeMap<String, V>,
}

impl Overlay<'_> {
    /// Does the real filesystem still decide what is inside directory `dir`?
    fn real_inside(&self, dir: &str) -> bool {
        let mut a = dir;
        while !a.is_empty() {
            if let Some(v) = self.map.get(a) {
                return *v == V::Dir { fresh: false };
            }
            a = a.rfind('/').map_or("", |i| &a[..i]);
        }
        true
    }

    /// Names present in directory `dir`.
    fn children(&self, dir: &str) -> Result<BTreeSet<String>, TxError> {
        let mut names = BTreeSet::new();
        if self.real_inside(dir) {
            match fs::read_dir(self.root.join(dir)) {
                Ok(rd) => {
                    for e in rd {
                        let e = e.map_err(|e| TxError::io("listing", dir, e))?;
                        let name = e.file_name().to_string_lossy().into_owned();
                        if self.map.get(&join(dir, &name)) != Some(&V::Absent) {
                            names.insert(name);
                        }
                    }
                }
                Err(e) if is_missing(&e) => {}
                Err(e) => return Err(TxError::io("listing", dir, e)),
            }
        }
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        for (k, v) in self.map.range(prefix.clone()..) {
            let Some(rest) = k.strip_prefix(&prefix) else {
                break;
            };
            if !rest.contains('/') && *v != V::Absent {
                names.insert(rest.to_string());
            }
        }
        Ok(names)
    }
}

impl View for Overlay<'_> {
    fn kind(&self, rel: &str) -> Result<Kind, TxError> {
        if let Some(v) = self.map.get(rel) {
            return Ok(match v {
                V::Absent => Kind::Missing,
                V::File => Kind::Other,
                V::Symlink(t) => Kind::Symlink(t.clone()),
                V::Dir { .. } => Kind::Dir,
            });
        }
        let parent = rel.rfind('/').map_or("", |i| &rel[..i]);
        if self.real_inside(parent) {
            lstat_kind(self.root, rel)
        } else {
            Ok(Kind::Missing)
        }
    }
}

/// The steps of a transaction and what they amount to.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub steps: Vec<Step>,
    pub placed: usize,
    pub removed: usize,
    pub absent: usize,
    pub kept_dirs: Vec<RelPath>,
    pub created_dirs: Vec<RelPath>,
    /// Staged files to move into the transaction's own directory before the journal is
    /// written, and their names there.
    pub stage: Vec<(PathBuf, String, String)>,
}

struct Planner<'a> {
    l: &'a Layout,
    ov: Overlay<'a>,
    plan: Plan,
    targets: HashSet<String>,
    staged: HashSet<String>,
    slots: usize,
}

pub(crate) fn euid_egid() -> (u32, u32) {
    // SAFETY: geteuid/getegid have no preconditions and cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// Plan `ops`: removals of non-directories, then puts in the given order, then
/// removals of directories (deepest first, kept if not empty).
pub(crate) fn plan(l: &Layout, ops: &[Op]) -> Result<Plan, TxError> {
    let mut p = Planner {
        l,
        ov: Overlay {
            root: &l.root,
            map: BTreeMap::new(),
        },
        plan: Plan::default(),
        targets: HashSet::new(),
        staged: HashSet::new(),
        slots: 0,
    };
    let mut dirs = Vec::new();
    for op in ops {
        if let Op::Remove { path } = op {
            p.remove(path, &mut dirs)?;
        }
    }
    for op in ops {
        if let Op::Put { path, entry } = op {
            p.put(path, entry)?;
        }
    }
    dirs.sort_by_key(|(t, _): &(String, RelPath)| Reverse(t.matches('/').count()));
    for (t, path) in dirs {
        p.remove_dir(&t, path)?;
    }
    Ok(p.plan)
}

impl Planner<'_> {
    /// Where `path` lands: its parent resolved, its last component not followed.
    fn locate(&mut self, path: &RelPath) -> Result<String, TxError> {
        let (parent, name) = path.split_last();
        let t = join(&resolve(&self.ov, parent, true)?, name);
        let reserved = |reason| {
            Err(TxError::Reserved {
                path: path.to_string(),
                reason,
            })
        };
        if t == self.l.state || t.starts_with(&format!("{}/", self.l.state)) {
            return reserved("lies inside the state directory");
        }
        if t == self.l.database {
            return reserved("is the database");
        }
        if !self.targets.insert(t.clone()) {
            return Err(TxError::Duplicate {
                path: path.to_string(),
                resolved: t,
            });
        }
        Ok(t)
    }

    /// Entries that resolving the state directory or database went through may not
    /// change kind.
    fn guard(&self, t: &str, path: &RelPath) -> Result<(), TxError> {
        if self.l.guarded.contains(t) {
            return Err(TxError::Reserved {
                path: path.to_string(),
                reason: "is on the way to the state directory or the database",
            });
        }
        Ok(())
    }

    fn backup(&mut self, t: &str) -> usize {
        let slot = self.slots;
        self.slots += 1;
        self.plan.steps.push(Step::Backup {
            path: t.to_string(),
            slot,
        });
        self.ov.map.insert(t.to_string(), V::Absent);
        slot
    }

    fn remove(&mut self, path: &RelPath, dirs: &mut Vec<(String, RelPath)>) -> Result<(), TxError> {
        let t = match self.locate(path) {
            Err(TxError::NotADirectory { .. }) => {
                self.plan.absent += 1;
                return Ok(());
            }
            r => r?,
        };
        match self.ov.kind(&t)? {
            Kind::Missing => self.plan.absent += 1,
            Kind::Dir => dirs.push((t, path.clone())),
            Kind::Symlink(_) | Kind::Other => {
                self.guard(&t, path)?;
                self.backup(&t);
                self.plan.removed += 1;
            }
        }
        Ok(())
    }

    fn remove_dir(&mut self, t: &str, path: RelPath) -> Result<(), TxError> {
        if self.ov.kind(t)? != Kind::Dir {
            self.plan.absent += 1;
        } else if self.l.guarded.contains(t) || !self.ov.children(t)?.is_empty() {
            self.plan.kept_dirs.push(path);
        } else {
            self.backup(t);
            self.plan.removed += 1;
        }
        Ok(())
    }

    /// Plan `mkdir` for every missing component of the resolved directory `dir`.
    fn make_parents(&mut self, dir: &str, path: &RelPath) -> Result<(), TxError> {
        let mut end = 0;
        while end < dir.len() {
            end = dir[end..].find('/').map_or(dir.len(), |i| end + i);
            let here = &dir[..end];
            match self.ov.kind(here)? {
                Kind::Dir => {}
                Kind::Missing => {
                    self.plan.steps.push(Step::Mkdir {
                        path: here.to_string(),
                    });
                    self.ov.map.insert(here.to_string(), V::Dir { fresh: true });
                    self.plan.created_dirs.push(RelPath::new(here)?);
                }
                Kind::Symlink(_) | Kind::Other => {
                    return Err(TxError::NotADirectory {
                        path: path.to_string(),
                        at: here.to_string(),
                    });
                }
            }
            end += 1;
        }
        Ok(())
    }

    fn put(&mut self, path: &RelPath, entry: &Entry) -> Result<(), TxError> {
        let t = self.locate(path)?;
        self.make_parents(t.rfind('/').map_or("", |i| &t[..i]), path)?;
        let existing = self.ov.kind(&t)?;
        if let (Entry::Dir { mode, uid, gid }, Kind::Dir) = (entry, &existing) {
            let (old_mode, old_uid, old_gid) = self.dir_meta(&t)?;
            self.plan.steps.push(Step::SetDirMeta {
                path: t.clone(),
                mode: *mode,
                uid: *uid,
                gid: *gid,
                old_mode,
                old_uid,
                old_gid,
            });
            self.ov.map.entry(t).or_insert(V::Dir { fresh: false });
            self.plan.placed += 1;
            return Ok(());
        }
        let staged = match entry {
            Entry::File { staged, .. } => Some(self.check_staged(staged, path, &t)?),
            _ => None,
        };
        let backup = match existing {
            Kind::Missing => None,
            Kind::Dir => {
                self.guard(&t, path)?;
                if let Some(first) = self.ov.children(&t)?.into_iter().next() {
                    return Err(TxError::Conflict {
                        path: path.to_string(),
                        reason: format!(
                            "a directory that is not empty is there (it still holds {first:?}); remove its contents in the same transaction"
                        ),
                    });
                }
                Some(self.backup(&t))
            }
            Kind::Symlink(_) | Kind::Other => {
                self.guard(&t, path)?;
                Some(self.backup(&t))
            }
        };
        let (step, v) = match entry {
            Entry::File { mode, uid, gid, .. } => (
                Step::PutFile {
                    path: t.clone(),
                    staged: staged.unwrap_or_default(),
                    mode: *mode,
                    uid: *uid,
                    gid: *gid,
                    backup,
                },
                V::File,
            ),
            Entry::Symlink { target } => {
                if target.is_empty() || target.contains('\0') {
                    return Err(TxError::Conflict {
                        path: path.to_string(),
                        reason: "the symlink target is empty or contains a NUL byte".into(),
                    });
                }
                (
                    Step::PutSymlink {
                        path: t.clone(),
                        target: target.clone(),
                        backup,
                    },
                    V::Symlink(target.clone()),
                )
            }
            Entry::Dir { mode, uid, gid } => (
                Step::PutDir {
                    path: t.clone(),
                    mode: *mode,
                    uid: *uid,
                    gid: *gid,
                    backup,
                },
                V::Dir { fresh: true },
            ),
        };
        self.plan.steps.push(step);
        self.ov.map.insert(t, v);
        self.plan.placed += 1;
        Ok(())
    }

    /// Owner and mode a directory has when its `SetDirMeta` step runs.
    fn dir_meta(&self, t: &str) -> Result<(u32, u32, u32), TxError> {
        if self.ov.map.get(t) == Some(&V::Dir { fresh: true }) {
            let (uid, gid) = euid_egid();
            return Ok((0o755, uid, gid));
        }
        let m = fs::symlink_metadata(self.l.abs(t)).map_err(|e| TxError::io("looking at", t, e))?;
        Ok((m.mode() & 0o7777, m.uid(), m.gid()))
    }

    /// Check a staged file; returns its name inside the transaction's directory.
    fn check_staged(&mut self, staged: &Path, path: &RelPath, t: &str) -> Result<String, TxError> {
        let bad = |reason| TxError::Staged {
            path: staged.display().to_string(),
            target: path.to_string(),
            reason,
        };
        let rel = staged
            .strip_prefix(self.l.abs(&self.l.staging()))
            .ok()
            .and_then(|r| r.to_str())
            .and_then(|r| RelPath::new(r).ok())
            .ok_or_else(|| bad("is not inside the staging directory"))?;
        match fs::symlink_metadata(staged) {
            Ok(m) if m.file_type().is_file() => {}
            _ => return Err(bad("is not a regular file")),
        }
        if !self.staged.insert(rel.as_str().to_string()) {
            return Err(bad("is used by two entries"));
        }
        let name = format!("in-{}", self.plan.stage.len());
        self.plan
            .stage
            .push((staged.to_path_buf(), name.clone(), t.to_string()));
        Ok(name)
    }
}
