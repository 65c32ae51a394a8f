//! Atomic file transactions on a root filesystem.
//!
//! This crate owns one mechanism: apply a set of file changes ([`Op`]s) plus the new
//! contents of one database file to a root directory so that either all of it happens
//! or the root is left exactly as it was — also when the process is killed (SIGKILL)
//! or the disk fills up (ENOSPC) at any point. It knows files, symlinks, directories
//! and one database file; it knows nothing about packages.
//!
//! # Design
//!
//! * **Staging.** Callers write new regular files into [`staging_dir`] (inside the
//!   root, so a `rename` can move them into place). A transaction consumes its staged
//!   files whatever the outcome: before its journal is written, [`commit`] moves them
//!   into the transaction's own directory `state/backup/<txid>/`, so recovering an
//!   older journal never touches files staged for a newer transaction.
//! * **Plan.** [`commit`] resolves every path inside the root the way a chroot
//!   would ([`resolve_in_root`]) against a simulated view of the root *as the earlier
//!   ops will have left it*, and turns the ops into a list of single-syscall steps
//!   (create a missing parent, move an old entry into `state/backup/<txid>/<n>`,
//!   place a new entry, change a directory's owner and mode). Refusals (a parent that
//!   is a file, a non-empty directory in the way, a path inside the state directory, two
//!   paths reaching the same place) happen here, before anything is written.
//! * **Journal.** The new database is written and fsynced to a temporary file next to
//!   the database (`.<name>.<txid>.new`). Then the whole plan is written to
//!   `state/journal.json` (temp file, fsync, rename, fsync of the directory). Only then
//!   is the root touched.
//! * **Commit point.** After all steps and a `syncfs`, the temporary database is renamed
//!   over the database: one atomic rename. While a journal exists, *the temporary
//!   database still existing* means the commit point was not passed (roll back); it
//!   being gone means it was (roll forward) — the journal also records the SHA-256 of
//!   the new database and recovery refuses to guess if the database does not match.
//!   Rollback removes the journal before the temporary database, so the evidence never
//!   lies.
//! * **Recovery** ([`recover`], and at the start of every [`commit`]) undoes the steps
//!   in reverse order (each undo checks on disk whether its step happened, so it can be
//!   repeated after a crash) or, past the commit point, deletes backups and the journal.
//!
//! Ordering inside one transaction is fixed, whatever order the ops are given in:
//! first removals of files and symlinks, then puts in the given order, then removals of
//! directories, deepest first. A directory is only removed if it is empty once every
//! other op has been applied; otherwise it is left in place and listed in
//! [`CommitReport::kept_dirs`]. The last component of an op's path is never followed:
//! a symlink there is replaced or removed, not written through. [`commit`] and
//! [`recover`] hold an exclusive `flock` on `state/lock`.
//!
//! Limits: the root, the state directory and the database must be on one filesystem
//! (renames); durability against power loss relies on the fsyncs and `syncfs` named
//! above, while the tests exercise process death (SIGKILL), where the kernel keeps
//! every completed syscall; a root modified by someone else while a transaction runs
//! is detected only where a parent turned into a symlink or vanished.

mod apply;
mod error;
mod fsutil;
mod journal;
mod path;
mod plan;
mod recover;

pub use apply::commit;
pub use error::{Outcome, TxError};
pub use path::{resolve_in_root, RelPath};
pub use recover::{pending_journal, recover, recover_with};

use std::path::PathBuf;

/// What to put at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file. `staged` is a regular file the caller prepared inside
    /// [`staging_dir`]; it is renamed into place (never copied).
    File {
        staged: PathBuf,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// A symbolic link, owned (`lchown`) by the process's effective uid and gid.
    Symlink { target: String },
    /// A directory. If a directory already exists there, only its owner and mode change.
    Dir { mode: u32, uid: u32, gid: u32 },
}

/// One change to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Put `entry` at `path`, replacing a file, symlink or *empty* directory there and
    /// creating missing parent directories (mode 0755, owned by the process).
    Put { path: RelPath, entry: Entry },
    /// Remove `path` (a file, symlink or directory; a directory only if it is empty
    /// once the rest of the transaction is applied). Removing nothing is not an error.
    Remove { path: RelPath },
}

/// Everything one commit changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    pub ops: Vec<Op>,
    /// Full new contents of the database file, written at the commit point.
    pub database: Vec<u8>,
}

/// Where things live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub root: PathBuf,
    /// State directory inside the root, e.g. `var/lib/kpkg`: journal, backups, staging,
    /// lock file.
    pub state: RelPath,
    /// The database file, inside the root (usually inside `state`).
    pub database: RelPath,
}

/// A hook called before every step with a descriptive point name. In commit order:
/// `database-write`, `stage`, `stage:<path>` (one per staged file), `journal-write`,
/// then one per planned step `mkdir:<path>`, `backup:<path>`, `put:<path>`,
/// `meta:<path>`, then `sync`, `database-rename` (the commit point), `cleanup`,
/// `journal-remove`. A rollback calls `undo:<path>` per step (in reverse),
/// `rollback-sync`, `journal-remove`. An `Err` is treated exactly like the step itself
/// failing with that error: before the commit point the transaction is rolled back;
/// at `cleanup`/`journal-remove` it stays committed and cleanup is deferred.
/// Production code passes [`NoFaults`].
pub trait Faults {
    fn at(&self, point: &str) -> std::io::Result<()>;
}

/// The production [`Faults`]: never fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFaults;

impl Faults for NoFaults {
    fn at(&self, _point: &str) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a successful [`commit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReport {
    pub txid: String,
    /// Entries put (files, symlinks, directories, including in-place directory changes).
    pub placed: usize,
    /// Entries removed.
    pub removed: usize,
    /// `Remove` ops that found nothing to remove.
    pub absent: usize,
    /// Directories asked to be removed but left in place because they were not empty.
    pub kept_dirs: Vec<RelPath>,
    /// Missing parent directories that were created.
    pub created_dirs: Vec<RelPath>,
    /// What recovering a pending journal did before this transaction started.
    pub recovered: Recovery,
    /// The transaction committed but removing its backups/journal failed; the next
    /// [`recover`] (or [`commit`]) finishes that.
    pub cleanup_deferred: bool,
}

/// What [`recover`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// No pending journal.
    Nothing,
    /// A transaction that had not reached its commit point was undone.
    RolledBack { ops: usize },
    /// A transaction past its commit point was finished (backups and journal removed).
    RolledForward,
}

/// The directory where callers prepare staged files: `<root>/<state>/staging` (the
/// state directory resolved inside the root). Create it if missing. It is on the same
/// filesystem as the root, so staged files can be renamed into place. [`recover`]
/// empties it; call it before preparing a new transaction, not during.
pub fn staging_dir(p: &Paths) -> PathBuf {
    match path::resolve(&path::RealView { root: &p.root }, p.state.as_str(), true) {
        Ok(state) => p.root.join(state).join(journal::STAGING),
        Err(_) => p.root.join(p.state.as_str()).join(journal::STAGING),
    }
}
