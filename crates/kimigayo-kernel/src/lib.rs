//! The kernel configurator. A Kimigayo kernel is configured from small named fragments under
//! `kernel/` (data): `fragments/*.config` (base, hardening, …), `fragments/modules/*.config`
//! (module sets chosen by name, property 9) and `profiles/*.toml` (which of them a kernel
//! uses). This crate owns:
//!
//! - parsing fragments with file:line errors ([`fragment`]),
//! - merging them in order, later wins, remembering who set what ([`merge`]),
//! - resolving a profile plus extra fragments/modules into a request ([`profile`]),
//! - after `make olddefconfig`: naming every requested option the kernel dropped and the
//!   dependency it lacked, and refusing any result weaker than the hardening fragment
//!   (property 31) ([`check`], with dependency hints from the tree's Kconfig files, [`deps`]).
//!
//! Everything but [`profile::load`], [`deps::DepIndex::scan`] and [`tree`] is free of I/O.

pub mod check;
pub mod deps;
pub mod fragment;
pub mod merge;
pub mod profile;
pub mod rules;
pub mod tree;

pub use check::{check, Finding, Report};
pub use fragment::{Fragment, Origin};
pub use kimigayo_kconfig::{Config, Value};
pub use merge::{merge, Conflict, Merged};
pub use profile::{Profile, Request};

use std::path::PathBuf;

/// The fragment every kernel must satisfy in full (property 31).
pub const HARDENING: &str = "hardening";

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{file}:{line}: cannot parse `{text}`: expected CONFIG_X=value or `# CONFIG_X is not set` (comments go on their own line)")]
    FragmentSyntax { file: String, line: usize, text: String },
    #[error("unknown module set `{name}` (from {from}): known sets are {known}. Fix: pick one of those, or add kernel/fragments/modules/{name}.config")]
    UnknownModule { name: String, from: String, known: String },
    #[error("unknown fragment `{name}` (from {from}): there is no {path}. Fix: check the spelling; known fragments are {known}")]
    UnknownFragment { name: String, from: String, path: String, known: String },
    #[error("{file}: {message}")]
    Profile { file: String, message: String },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("`{command}` failed in {}: {output}", dir.display())]
    Make { command: String, dir: PathBuf, output: String },
    #[error("{0}")]
    Rejected(Report),
}

pub(crate) fn io_ctx(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> KernelError {
    let context = context.into();
    move |source| KernelError::Io { context, source }
}
