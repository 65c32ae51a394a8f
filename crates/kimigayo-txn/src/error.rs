//! Errors: each names the path and the operation and says what to do next.

use std::io;

/// Where a failed transaction left the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing in the root was changed, or every change was undone.
    RolledBack,
    /// The journal is still there: the next recovery finishes or undoes the transaction.
    Pending,
    /// The transaction passed its commit point; only cleanup is left to recovery.
    Committed,
}

impl Outcome {
    fn advice(self) -> &'static str {
        match self {
            Outcome::RolledBack => "nothing was changed (rolled back)",
            Outcome::Pending => {
                "the transaction is still pending: fix the cause, then run recovery (kpkg recover), which finishes or undoes it"
            }
            Outcome::Committed => {
                "the transaction was committed; the next recovery removes what is left of it"
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error("invalid path {path:?}: {reason}; give a path relative to the root, without `..`, `.` or empty components")]
    InvalidPath { path: String, reason: &'static str },

    #[error("{}", io_message(op, path, source, *outcome))]
    Io {
        /// What was being done, e.g. "placing" or "writing the new database".
        op: &'static str,
        /// The path it was done to, relative to the root.
        path: String,
        source: io::Error,
        outcome: Outcome,
    },

    #[error("cannot resolve {path:?} inside the root: {at:?} is not a directory; nothing was changed (rolled back)")]
    NotADirectory { path: String, at: String },

    #[error("cannot resolve {path:?} inside the root: too many levels of symbolic links (at {at:?}); fix the link; nothing was changed (rolled back)")]
    SymlinkLoop { path: String, at: String },

    #[error("cannot put {path:?}: {reason}; nothing was changed (rolled back)")]
    Conflict { path: String, reason: String },

    #[error("{path:?} appears twice in the transaction (as {resolved:?} inside the root); give each path once; nothing was changed (rolled back)")]
    Duplicate { path: String, resolved: String },

    #[error("cannot change {path:?}: it {reason}; the transaction may not touch kpkg's own state; nothing was changed (rolled back)")]
    Reserved { path: String, reason: &'static str },

    #[error("staged file {path:?} for {target:?} {reason}; prepare staged files as regular files inside staging_dir(); nothing was changed (rolled back)")]
    Staged {
        path: String,
        target: String,
        reason: &'static str,
    },

    #[error("journal {path:?} cannot be used: {reason}; recovery cannot tell what to undo — inspect the root by hand, then move the journal away")]
    Journal { path: String, reason: String },

    #[error("cannot roll back: {path:?} {reason}; move it away and run recovery again (the journal is kept)")]
    Blocked { path: String, reason: &'static str },

    #[error("{first}; rolling back failed too: {rollback}")]
    RollbackFailed {
        first: Box<TxError>,
        rollback: Box<TxError>,
    },
}

fn io_message(op: &str, path: &str, source: &io::Error, outcome: Outcome) -> String {
    let advice = outcome.advice();
    if source.raw_os_error() == Some(libc::ENOSPC) {
        let more = match outcome {
            Outcome::RolledBack => "; free some space and try again",
            _ => "",
        };
        format!("no space left on device while {op} {path}; {advice}{more}")
    } else {
        format!("{op} {path} failed: {source}; {advice}")
    }
}

impl TxError {
    pub(crate) fn io(op: &'static str, path: impl Into<String>, source: io::Error) -> TxError {
        TxError::Io {
            op,
            path: path.into(),
            source,
            outcome: Outcome::RolledBack,
        }
    }

    /// Re-label where an I/O error left the root.
    pub(crate) fn with_outcome(self, new: Outcome) -> TxError {
        match self {
            TxError::Io {
                op, path, source, ..
            } => TxError::Io {
                op,
                path,
                source,
                outcome: new,
            },
            other => other,
        }
    }

    /// Is this (or the error that caused a failed rollback) "no space left on device"?
    pub fn is_no_space(&self) -> bool {
        match self {
            TxError::Io { source, .. } => source.raw_os_error() == Some(libc::ENOSPC),
            TxError::RollbackFailed { first, .. } => first.is_no_space(),
            _ => false,
        }
    }
}
