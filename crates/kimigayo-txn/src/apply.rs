//! Carrying out a transaction: new database, journal, steps, commit point, cleanup.

use crate::fsutil::{fsync_dir, remove_file_if_exists, syncfs, write_synced};
use crate::journal::{Journal, Layout, Step};
use crate::path::{parents_plain, RelPath};
use crate::plan::{euid_egid, plan};
use crate::recover::{pending, roll_forward, rollback, sweep};
use crate::{CommitReport, Entry, Faults, Op, Outcome, Paths, Transaction, TxError};
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{fchown, lchown, symlink, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Apply `tx` to the root atomically. A pending journal from an earlier run is
/// recovered first. On error the root is as it was (the error says so), unless the
/// error is [`TxError::RollbackFailed`], in which case the journal is kept for
/// [`crate::recover`]. The staged files of `tx` are consumed whatever the outcome.
pub fn commit(p: &Paths, tx: Transaction, faults: &dyn Faults) -> Result<CommitReport, TxError> {
    let l = Layout::open(p)?;
    let recovered = pending(&l, faults)?;
    sweep(&l, false)?;
    let txid = new_txid();
    let plan = match plan(&l, &tx.ops) {
        Ok(plan) => plan,
        Err(e) => {
            discard_staged(&l, &tx.ops);
            return Err(e);
        }
    };
    let journal = Journal::new(&l, &txid, tx.ops.len(), &tx.database, plan.steps);
    match run(&l, &journal, &plan.stage, &tx.database, faults) {
        Ok(cleanup_deferred) => Ok(CommitReport {
            txid,
            placed: plan.placed,
            removed: plan.removed,
            absent: plan.absent,
            kept_dirs: plan.kept_dirs,
            created_dirs: plan.created_dirs,
            recovered,
            cleanup_deferred,
        }),
        Err(e) => {
            discard_staged(&l, &tx.ops);
            match rollback(&l, &journal, faults) {
                Ok(()) => Err(e.with_outcome(Outcome::RolledBack)),
                Err(r) => Err(TxError::RollbackFailed {
                    first: Box::new(e.with_outcome(Outcome::Pending)),
                    rollback: Box::new(r.with_outcome(Outcome::Pending)),
                }),
            }
        }
    }
}

/// Everything up to and including the commit point. `Err` means the commit point was
/// not passed; `Ok(true)` means it was but cleaning up failed.
fn run(
    l: &Layout,
    j: &Journal,
    stage: &[(PathBuf, String, String)],
    database: &[u8],
    faults: &dyn Faults,
) -> Result<bool, TxError> {
    let db_new = l.abs(&j.database_new);
    step(
        faults,
        "database-write",
        "writing the new database",
        &j.database_new,
        || write_synced(&db_new, database),
    )?;
    let own = j.backup_dir();
    step(faults, "stage", "creating", &own, || {
        fs::create_dir_all(l.abs(&own))
    })?;
    for (staged, name, target) in stage {
        let to = j.staged(name);
        step(
            faults,
            &format!("stage:{target}"),
            "staging the new file for",
            target,
            || fs::rename(staged, l.abs(&to)),
        )?;
    }
    step(
        faults,
        "journal-write",
        "writing the journal",
        &crate::path::join(&j.state, crate::journal::JOURNAL),
        || {
            fsync_dir(&l.abs(&own))?;
            fsync_dir(&l.abs(&crate::path::join(&j.state, crate::journal::BACKUP)))
        },
    )?;
    l.write_journal(j)?;
    for s in &j.steps {
        apply_step(l, j, s, faults)?;
    }
    step(
        faults,
        "sync",
        "syncing the filesystem of",
        "the root",
        || syncfs(&l.root),
    )?;
    step(
        faults,
        "database-rename",
        "renaming the new database over",
        &j.database,
        || fs::rename(&db_new, l.abs(&j.database)),
    )?;
    // Committed. A failed fsync here cannot be undone any more; the rename is done.
    let (parent, _) = l.database_parent_and_name();
    let _ = fsync_dir(&crate::journal::abs_dir(&l.root, parent));
    Ok(roll_forward(l, j, faults).is_err())
}

/// Call the fault hook for `point`, then `f`; either failing is an I/O error of `op`.
fn step<T>(
    faults: &dyn Faults,
    point: &str,
    op: &'static str,
    path: &str,
    f: impl FnOnce() -> std::io::Result<T>,
) -> Result<T, TxError> {
    faults
        .at(point)
        .and_then(|()| f())
        .map_err(|e| TxError::io(op, path, e))
}

fn apply_step(l: &Layout, j: &Journal, s: &Step, faults: &dyn Faults) -> Result<(), TxError> {
    let path = s.path();
    let (point, op) = match s {
        Step::Mkdir { .. } => ("mkdir", "creating directory"),
        Step::Backup { .. } => ("backup", "moving aside"),
        Step::PutFile { .. } | Step::PutSymlink { .. } | Step::PutDir { .. } => ("put", "placing"),
        Step::SetDirMeta { .. } => ("meta", "setting owner and mode of"),
    };
    faults
        .at(&format!("{point}:{path}"))
        .map_err(|e| TxError::io(op, path, e))?;
    if !parents_plain(&l.root, path)? {
        return Err(TxError::Conflict {
            path: path.to_string(),
            reason:
                "a parent directory changed while the transaction ran (missing or now a symlink)"
                    .into(),
        });
    }
    let at = l.abs(path);
    let (euid, egid) = euid_egid();
    let io = |e| TxError::io(op, path, e);
    match s {
        Step::Mkdir { .. } => {
            fs::create_dir(&at).map_err(io)?;
            set_owner_mode(&at, euid, egid, 0o755).map_err(io)
        }
        Step::Backup { slot, .. } => fs::rename(&at, l.abs(&j.slot(*slot))).map_err(io),
        Step::PutFile {
            staged,
            mode,
            uid,
            gid,
            ..
        } => {
            let staged = l.abs(&j.staged(staged));
            set_owner_mode(&staged, *uid, *gid, *mode).map_err(io)?;
            fs::rename(&staged, &at).map_err(io)
        }
        Step::PutSymlink { target, .. } => {
            symlink(target, &at).map_err(io)?;
            lchown(&at, Some(euid), Some(egid)).map_err(io)
        }
        Step::PutDir { mode, uid, gid, .. } => {
            fs::create_dir(&at).map_err(io)?;
            set_owner_mode(&at, *uid, *gid, *mode).map_err(io)
        }
        Step::SetDirMeta { mode, uid, gid, .. } => {
            set_owner_mode(&at, *uid, *gid, *mode).map_err(io)
        }
    }
}

/// `chown` then `chmod` (in that order, so set-id bits survive) on a file or
/// directory, refusing to follow a symlink.
pub(crate) fn set_owner_mode(path: &Path, uid: u32, gid: u32, mode: u32) -> std::io::Result<()> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    fchown(&f, Some(uid), Some(gid))?;
    f.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
}

/// After a failed plan: the staged files are consumed all the same.
fn discard_staged(l: &Layout, ops: &[Op]) {
    let staging = l.abs(&l.staging());
    for op in ops {
        if let Op::Put {
            entry: Entry::File { staged, .. },
            ..
        } = op
        {
            let inside = staged
                .strip_prefix(&staging)
                .ok()
                .and_then(|r| r.to_str())
                .is_some_and(|r| RelPath::new(r).is_ok());
            if inside {
                let _ = remove_file_if_exists(staged);
            }
        }
    }
}

fn new_txid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
