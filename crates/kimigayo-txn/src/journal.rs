//! The state directory layout and the write-ahead journal.
//!
//! `state/journal.json` holds one pending transaction: its id, where the new database
//! waits (`.<db>.<txid>.new` next to the database) and the list of [`Step`]s, each a
//! single syscall with what is needed to undo it. It is written once, before the root
//! is touched (temp file + fsync + rename + directory fsync), and removed when the
//! transaction is finished or undone.

use crate::fsutil::{fsync_dir, lock, write_synced};
use crate::path::{join, resolve_trace, RealView};
use crate::{Paths, RelPath, TxError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs::{self, File};
use std::path::PathBuf;

pub(crate) const JOURNAL: &str = "journal.json";
pub(crate) const JOURNAL_TMP: &str = "journal.json.tmp";
pub(crate) const STAGING: &str = "staging";
pub(crate) const BACKUP: &str = "backup";
const LOCK: &str = "lock";
const FORMAT: u32 = 1;

/// One step of a transaction. Paths are root-relative and already resolved: every
/// proper ancestor is a plain directory once the earlier steps are done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case")]
pub(crate) enum Step {
    /// Create a missing parent directory (mode 0755, owned by the process).
    Mkdir { path: String },
    /// Move the entry at `path` to `backup/<txid>/<slot>`.
    Backup { path: String, slot: usize },
    /// Rename `backup/<txid>/<staged>` to `path` after setting owner and mode.
    PutFile {
        path: String,
        staged: String,
        mode: u32,
        uid: u32,
        gid: u32,
        backup: Option<usize>,
    },
    PutSymlink {
        path: String,
        target: String,
        backup: Option<usize>,
    },
    PutDir {
        path: String,
        mode: u32,
        uid: u32,
        gid: u32,
        backup: Option<usize>,
    },
    /// Change owner and mode of an existing directory in place.
    SetDirMeta {
        path: String,
        mode: u32,
        uid: u32,
        gid: u32,
        old_mode: u32,
        old_uid: u32,
        old_gid: u32,
    },
}

impl Step {
    pub(crate) fn path(&self) -> &str {
        match self {
            Step::Mkdir { path }
            | Step::Backup { path, .. }
            | Step::PutFile { path, .. }
            | Step::PutSymlink { path, .. }
            | Step::PutDir { path, .. }
            | Step::SetDirMeta { path, .. } => path,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Journal {
    pub format: u32,
    pub txid: String,
    /// Number of ops in the transaction (reported by recovery).
    pub ops: usize,
    pub state: String,
    pub database: String,
    /// The new database, fsynced before the journal was written. Its absence while the
    /// journal exists means the commit-point rename happened.
    pub database_new: String,
    pub database_sha256: String,
    pub steps: Vec<Step>,
}

impl Journal {
    pub(crate) fn new(l: &Layout, txid: &str, ops: usize, db: &[u8], steps: Vec<Step>) -> Journal {
        Journal {
            format: FORMAT,
            txid: txid.to_string(),
            ops,
            state: l.state.clone(),
            database: l.database.clone(),
            database_new: l.database_new(txid),
            database_sha256: crate::fsutil::sha256_hex(db),
            steps,
        }
    }

    pub(crate) fn backup_dir(&self) -> String {
        join(&join(&self.state, BACKUP), &self.txid)
    }

    pub(crate) fn slot(&self, slot: usize) -> String {
        join(&self.backup_dir(), &slot.to_string())
    }

    /// Where a staged file waits: commit moves the caller's staged files into the
    /// transaction's own directory before writing the journal, so recovering this
    /// journal never touches files staged for a later transaction.
    pub(crate) fn staged(&self, staged: &str) -> String {
        join(&self.backup_dir(), staged)
    }

    /// Reject a journal whose paths could point outside the root.
    fn validate(&self, file: &str) -> Result<(), TxError> {
        let bad = |reason: String| TxError::Journal {
            path: file.to_string(),
            reason,
        };
        if self.format != FORMAT {
            return Err(bad(format!("unknown format {}", self.format)));
        }
        if self.txid.is_empty() || !self.txid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(bad(format!("bad transaction id {:?}", self.txid)));
        }
        let mut paths: Vec<&str> = vec![&self.state, &self.database, &self.database_new];
        for s in &self.steps {
            paths.push(s.path());
            if let Step::PutFile { staged, .. } = s {
                paths.push(staged);
            }
        }
        for p in paths {
            RelPath::new(p).map_err(|e| bad(e.to_string()))?;
        }
        for s in &self.steps {
            if let Step::PutFile { staged, .. } = s {
                if staged.contains('/') {
                    return Err(bad(format!("staged file {staged:?} is not a name inside the transaction's own folder")));
                }
            }
        }
        Ok(())
    }

    /// A journal may name only the paths kpkg itself uses for this root: its state folder,
    /// its database and the database's `.new` twin for the journal's transaction id. A
    /// journal naming anything else (planted, or from another layout) is never acted on.
    pub(crate) fn check_layout(&self, l: &Layout, file: &str) -> Result<(), TxError> {
        let bad = |what: &str, got: &str, want: &str| TxError::Journal {
            path: file.to_string(),
            reason: format!("names {what} `{got}`, but this root's is `{want}`: refusing to act on it (remove the journal if it is not kpkg's own)"),
        };
        if self.state != l.state {
            return Err(bad("the state folder", &self.state, &l.state));
        }
        if self.database != l.database {
            return Err(bad("the database", &self.database, &l.database));
        }
        let new = l.database_new(&self.txid);
        if self.database_new != new {
            return Err(bad("the new database", &self.database_new, &new));
        }
        Ok(())
    }
}

/// Where the state directory and the database are, resolved inside the root.
#[derive(Debug)]
pub(crate) struct Layout {
    pub root: PathBuf,
    pub state: String,
    pub database: String,
    /// Paths looked at while resolving `state` and `database`: a transaction may not
    /// change what kind of entry they are, or the next run would look elsewhere.
    pub guarded: HashSet<String>,
    _lock: File,
}

impl Layout {
    /// Resolve, create the state directory if needed and take the lock.
    pub(crate) fn open(p: &Paths) -> Result<Layout, TxError> {
        let view = RealView { root: &p.root };
        let (state, mut seen) = resolve_trace(&view, p.state.as_str(), true)?;
        let (db_parent, db_name) = p.database.split_last();
        let (db_parent, seen_db) = resolve_trace(&view, db_parent, true)?;
        seen.extend(seen_db);
        if state.is_empty() {
            return Err(TxError::Reserved {
                path: p.state.to_string(),
                reason: "resolves to the root itself",
            });
        }
        let database = join(&db_parent, db_name);
        for dir in [state.as_str(), db_parent.as_str()] {
            fs::create_dir_all(p.root.join(dir))
                .map_err(|e| TxError::io("creating the state directory", dir, e))?;
        }
        let lock_rel = join(&state, LOCK);
        let lock =
            lock(&p.root.join(&lock_rel)).map_err(|e| TxError::io("locking", lock_rel, e))?;
        let mut guarded: HashSet<String> = seen.into_iter().collect();
        guarded.insert(state.clone());
        guarded.insert(database.clone());
        Ok(Layout {
            root: p.root.clone(),
            state,
            database,
            guarded,
            _lock: lock,
        })
    }

    pub(crate) fn abs(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// A folder of kpkg's own state (`rel` under the state folder) that recovery is about to
    /// list, empty or remove: it and its parents must be real directories (or it missing),
    /// never a symlink that would take the removal outside the root.
    pub(crate) fn own_dir(&self, rel: &str) -> Result<Option<PathBuf>, TxError> {
        use crate::path::{lstat_kind, parents_plain, Kind};
        if !parents_plain(&self.root, rel)? {
            return Err(TxError::Blocked { path: rel.into(), reason: "has a parent in kpkg's state folder that is missing or a symlink: kpkg's state was tampered with; remove it by hand" });
        }
        match lstat_kind(&self.root, rel)? {
            Kind::Missing => Ok(None),
            Kind::Dir => Ok(Some(self.abs(rel))),
            _ => Err(TxError::Blocked { path: rel.into(), reason: "should be a directory of kpkg's state but is a symlink or a file: kpkg's state was tampered with; remove it by hand" }),
        }
    }

    pub(crate) fn staging(&self) -> String {
        join(&self.state, STAGING)
    }

    pub(crate) fn database_parent_and_name(&self) -> (&str, &str) {
        match self.database.rfind('/') {
            Some(i) => (&self.database[..i], &self.database[i + 1..]),
            None => ("", &self.database),
        }
    }

    pub(crate) fn database_new(&self, txid: &str) -> String {
        let (parent, name) = self.database_parent_and_name();
        join(parent, &format!(".{name}.{txid}.new"))
    }

    fn journal_path(&self) -> PathBuf {
        self.abs(&join(&self.state, JOURNAL))
    }

    pub(crate) fn read_journal(&self) -> Result<Option<Journal>, TxError> {
        let rel = join(&self.state, JOURNAL);
        let bytes = match fs::read(self.journal_path()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TxError::io("reading the journal", rel, e)),
        };
        let j: Journal = serde_json::from_slice(&bytes).map_err(|e| TxError::Journal {
            path: rel.clone(),
            reason: e.to_string(),
        })?;
        j.validate(&rel)?;
        j.check_layout(self, &rel)?;
        Ok(Some(j))
    }

    /// Write the journal durably: temp file, fsync, rename, fsync of the directory.
    pub(crate) fn write_journal(&self, j: &Journal) -> Result<(), TxError> {
        let rel = join(&self.state, JOURNAL);
        let tmp = self.abs(&join(&self.state, JOURNAL_TMP));
        let data = serde_json::to_vec_pretty(j).expect("journal serializes");
        let io = |e| TxError::io("writing the journal", rel.clone(), e);
        write_synced(&tmp, &data).map_err(io)?;
        fs::rename(&tmp, self.journal_path()).map_err(io)?;
        fsync_dir(&self.abs(&self.state)).map_err(io)
    }

    /// Remove the journal durably (missing is fine).
    pub(crate) fn remove_journal(&self) -> Result<(), TxError> {
        let rel = join(&self.state, JOURNAL);
        let io = |e| TxError::io("removing the journal", rel.clone(), e);
        crate::fsutil::remove_file_if_exists(&self.journal_path()).map_err(io)?;
        fsync_dir(&self.abs(&self.state)).map_err(io)
    }
}

/// `root/rel`, where `rel` may be empty (the root itself).
pub(crate) fn abs_dir(root: &std::path::Path, rel: &str) -> PathBuf {
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(steps: Vec<Step>) -> Journal {
        Journal {
            format: FORMAT,
            txid: "18f0-2a-0".into(),
            ops: 2,
            state: "var/lib/kpkg".into(),
            database: "var/lib/kpkg/db".into(),
            database_new: "var/lib/kpkg/.db.18f0-2a-0.new".into(),
            database_sha256: "00".into(),
            steps,
        }
    }

    #[test]
    fn steps_round_trip_with_a_readable_tag() {
        let j = sample(vec![
            Step::Mkdir { path: "usr".into() },
            Step::Backup {
                path: "bin/sh".into(),
                slot: 0,
            },
            Step::PutFile {
                path: "bin/sh".into(),
                staged: "in-0".into(),
                mode: 0o4755,
                uid: 0,
                gid: 0,
                backup: Some(0),
            },
        ]);
        let text = serde_json::to_string(&j).unwrap();
        assert!(text.contains(r#""do":"put-file""#), "{text}");
        let back: Journal = serde_json::from_str(&text).unwrap();
        assert_eq!(back.steps, j.steps);
        assert_eq!(back.slot(3), "var/lib/kpkg/backup/18f0-2a-0/3");
        assert_eq!(back.staged("in-0"), "var/lib/kpkg/backup/18f0-2a-0/in-0");
        back.validate("j").unwrap();
    }

    #[test]
    fn paths_that_could_leave_the_root_are_rejected() {
        for bad in ["/etc", "../x", "a/../../b", ""] {
            let j = sample(vec![Step::Backup {
                path: bad.into(),
                slot: 0,
            }]);
            assert!(
                matches!(j.validate("j"), Err(TxError::Journal { .. })),
                "{bad:?}"
            );
        }
        let mut j = sample(vec![]);
        j.txid = "../../x".into();
        assert!(j.validate("j").is_err());
    }
}
