//! Recovery: finish (roll forward) or undo (roll back) a pending transaction.
//!
//! Every undo looks at the disk to see whether its step happened, so running a
//! rollback again after it was interrupted is correct. The journal is removed only once
//! everything it describes is undone or finished, and before the temporary database
//! (whose presence is the "not committed" evidence).

use crate::apply::set_owner_mode;
use crate::fsutil::{exists, remove_file_if_exists, remove_tree_if_exists, sha256_hex, syncfs};
use crate::journal::{abs_dir, Journal, Layout, Step, BACKUP, JOURNAL_TMP, STAGING};
use crate::path::{is_missing, join, lstat_kind, parents_plain, Kind};
use crate::{Faults, NoFaults, Outcome, Paths, Recovery, TxError};
use std::fs;

/// Recover a pending journal, if any, then remove leftovers: stray temporary databases,
/// old backups and everything in the staging directory. Call it when kpkg starts,
/// before preparing staged files. Running it again is a no-op.
pub fn recover(p: &Paths) -> Result<Recovery, TxError> {
    recover_with(p, &NoFaults)
}

/// [`recover`] with a fault hook (for tests of crash-safety of recovery itself).
pub fn recover_with(p: &Paths, faults: &dyn Faults) -> Result<Recovery, TxError> {
    let l = Layout::open(p)?;
    let r = pending(&l, faults)?;
    sweep(&l, true)?;
    Ok(r)
}

/// Read and check the pending journal exactly as [`recover`] does before acting on it
/// (parse, no path that could leave the root, this root's own layout), without acting on
/// it: `Ok(Some(txid))` for a journal recovery would act on, `Ok(None)` when none is
/// pending. Takes the lock and creates the state directory like [`recover`].
pub fn pending_journal(p: &Paths) -> Result<Option<String>, TxError> {
    let l = Layout::open(p)?;
    Ok(l.read_journal()?.map(|j| j.txid))
}

/// Recover the pending journal of `l`, if any.
pub(crate) fn pending(l: &Layout, faults: &dyn Faults) -> Result<Recovery, TxError> {
    let Some(j) = l.read_journal()? else {
        return Ok(Recovery::Nothing);
    };
    let r = decide_and_finish(l, &j, faults);
    r.map_err(|e| e.with_outcome(Outcome::Pending))
}

fn decide_and_finish(l: &Layout, j: &Journal, faults: &dyn Faults) -> Result<Recovery, TxError> {
    // Everything recovery touches is under the state folder and the database's folder:
    // their parents must be real directories (a planted symlink must not redirect a removal).
    l.own_dir(&j.backup_dir())?;
    if !crate::path::parents_plain(&l.root, &j.database_new)? {
        return Err(TxError::Blocked { path: j.database_new.clone(), reason: "has a parent that is missing or a symlink: kpkg's state was tampered with; remove it by hand" });
    }
    let new_db = l.abs(&j.database_new);
    if exists(&new_db).map_err(|e| TxError::io("looking at", &j.database_new, e))? {
        rollback(l, j, faults)?;
        return Ok(Recovery::RolledBack { ops: j.ops });
    }
    let current = match fs::read(l.abs(&j.database)) {
        Ok(b) => Some(b),
        Err(e) if is_missing(&e) => None,
        Err(e) => return Err(TxError::io("reading the database", &j.database, e)),
    };
    if current.as_deref().map(sha256_hex).as_ref() != Some(&j.database_sha256) {
        return Err(TxError::Journal {
            path: join(&j.state, crate::journal::JOURNAL),
            reason: format!(
                "the new database {} is gone but {} does not hold it, so it is unknown whether transaction {} was committed",
                j.database_new, j.database, j.txid
            ),
        });
    }
    roll_forward(l, j, faults)?;
    Ok(Recovery::RolledForward)
}

/// Undo every step in reverse order, then forget the transaction.
pub(crate) fn rollback(l: &Layout, j: &Journal, faults: &dyn Faults) -> Result<(), TxError> {
    for s in j.steps.iter().rev() {
        let path = s.path();
        faults
            .at(&format!("undo:{path}"))
            .map_err(|e| TxError::io("undoing", path, e))?;
        undo(l, j, s)?;
    }
    faults
        .at("rollback-sync")
        .and_then(|()| syncfs(&l.root))
        .map_err(|e| TxError::io("syncing the filesystem of", "the root", e))?;
    faults.at("journal-remove").map_err(|e| {
        TxError::io(
            "removing the journal",
            join(&j.state, crate::journal::JOURNAL),
            e,
        )
    })?;
    l.remove_journal()?;
    // The transaction is forgotten; what follows is garbage that `sweep` also removes.
    let _ = remove_file_if_exists(&l.abs(&j.database_new));
    let _ = remove_tree_if_exists(&l.abs(&j.backup_dir()));
    Ok(())
}

/// Past the commit point: drop the backups and the journal.
pub(crate) fn roll_forward(l: &Layout, j: &Journal, faults: &dyn Faults) -> Result<(), TxError> {
    let backups = j.backup_dir();
    faults
        .at("cleanup")
        .and_then(|()| remove_tree_if_exists(&l.abs(&backups)))
        .map_err(|e| TxError::io("removing the backups in", &backups, e))?;
    faults.at("journal-remove").map_err(|e| {
        TxError::io(
            "removing the journal",
            join(&j.state, crate::journal::JOURNAL),
            e,
        )
    })?;
    l.remove_journal()
}

/// Undo one step if it happened (and is not undone yet).
fn undo(l: &Layout, j: &Journal, s: &Step) -> Result<(), TxError> {
    let root = &l.root;
    let path = s.path();
    let io = |e| TxError::io("undoing", path, e);
    match s {
        Step::Mkdir { .. } => {
            if parents_plain(root, path)? && lstat_kind(root, path)? == Kind::Dir {
                remove_entry(l, path)?;
            }
        }
        Step::Backup { slot, .. } => {
            let slot = l.abs(&j.slot(*slot));
            if exists(&slot).map_err(io)? {
                if !parents_plain(root, path)? {
                    return Err(TxError::Blocked {
                        path: path.into(),
                        reason: "has a parent that is missing or a symlink",
                    });
                }
                if exists(&l.abs(path)).map_err(io)? {
                    return Err(TxError::Blocked {
                        path: path.into(),
                        reason: "is in the way of restoring the old entry",
                    });
                }
                fs::rename(&slot, l.abs(path)).map_err(io)?;
            }
        }
        Step::PutFile { backup, .. }
        | Step::PutSymlink { backup, .. }
        | Step::PutDir { backup, .. } => {
            // With a backup slot, whatever is at `path` is ours only while the old entry
            // is still in the slot; without one, nothing was there before.
            let ours = match backup {
                Some(slot) => exists(&l.abs(&j.slot(*slot))).map_err(io)?,
                None => true,
            };
            if ours && parents_plain(root, path)? {
                remove_entry(l, path)?;
            }
        }
        Step::SetDirMeta {
            old_mode,
            old_uid,
            old_gid,
            ..
        } => {
            if parents_plain(root, path)? && lstat_kind(root, path)? == Kind::Dir {
                set_owner_mode(&l.abs(path), *old_uid, *old_gid, *old_mode).map_err(io)?;
            }
        }
    }
    Ok(())
}

/// Remove a file, symlink or empty directory; missing is fine.
fn remove_entry(l: &Layout, path: &str) -> Result<(), TxError> {
    let at = l.abs(path);
    let r = match lstat_kind(&l.root, path)? {
        Kind::Missing => return Ok(()),
        Kind::Dir => fs::remove_dir(&at),
        Kind::Symlink(_) | Kind::Other => fs::remove_file(&at),
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => Err(TxError::Blocked {
            path: path.into(),
            reason: "is a directory this transaction created, but something else was put inside it",
        }),
        Err(e) => Err(TxError::io("undoing", path, e)),
    }
}

/// With no journal pending: remove what a transaction interrupted before its journal
/// existed, or after it was removed, may have left.
pub(crate) fn sweep(l: &Layout, clear_staging: bool) -> Result<(), TxError> {
    let io = |what: &'static str, p: &str| {
        let p = p.to_string();
        move |e| TxError::io(what, p, e)
    };
    let tmp = join(&l.state, JOURNAL_TMP);
    remove_file_if_exists(&l.abs(&tmp)).map_err(io("removing", &tmp))?;
    let backups = join(&l.state, BACKUP);
    if let Some(b) = l.own_dir(&backups)? {
        remove_tree_if_exists(&b).map_err(io("removing", &backups))?;
    }
    let (parent, name) = l.database_parent_and_name();
    let prefix = format!(".{name}.");
    let rd = fs::read_dir(abs_dir(&l.root, parent)).map_err(io("listing", parent))?;
    for e in rd {
        let e = e.map_err(io("listing", parent))?;
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(&prefix) && n.ends_with(".new") {
            remove_file_if_exists(&e.path()).map_err(io("removing", &n))?;
        }
    }
    if clear_staging {
        let staging = join(&l.state, STAGING);
        let Some(staging_dir) = l.own_dir(&staging)? else { return Ok(()) };
        match fs::read_dir(&staging_dir) {
            Ok(rd) => {
                for e in rd {
                    let e = e.map_err(io("listing", &staging))?;
                    let p = e.path();
                    let r = if e.file_type().is_ok_and(|t| t.is_dir()) {
                        remove_tree_if_exists(&p)
                    } else {
                        remove_file_if_exists(&p)
                    };
                    r.map_err(io("emptying", &staging))?;
                }
            }
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(io("listing", &staging)(e)),
        }
    }
    Ok(())
}
