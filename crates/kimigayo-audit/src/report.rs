//! The audit's result types: what one ELF file is and how each protection was judged.

use std::collections::BTreeMap;
use std::fmt;

use kimigayo_hardening::Protection;
use serde::{Deserialize, Serialize};

/// What kind of ELF image a file is, decided from its type, interpreter and dynamic flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElfKind {
    /// `ET_DYN` executable without an interpreter that relocates itself (`-static-pie`).
    StaticPie,
    /// `ET_DYN` executable loaded by a dynamic linker (`-pie`).
    Pie,
    /// `ET_EXEC` without an interpreter (`-static -no-pie`): fixed load address.
    StaticExec,
    /// `ET_EXEC` with an interpreter (`-no-pie`): fixed load address.
    DynamicExec,
    /// A shared library (`-shared`), including a libc that doubles as its own loader.
    SharedObject,
}

impl ElfKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ElfKind::StaticPie => "static-pie",
            ElfKind::Pie => "pie",
            ElfKind::StaticExec => "static-exec",
            ElfKind::DynamicExec => "dynamic-exec",
            ElfKind::SharedObject => "shared-object",
        }
    }

    /// Whether the image has no run-time loader (everything is in the one file).
    pub fn is_static(self) -> bool {
        matches!(self, ElfKind::StaticPie | ElfKind::StaticExec)
    }
}

impl fmt::Display for ElfKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which C library the file was linked against (a heuristic for static files: see `libc_evidence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    Musl,
    Glibc,
    /// No libc at all (freestanding code, Go binaries).
    None,
    Unknown,
}

impl Libc {
    pub fn as_str(self) -> &'static str {
        match self {
            Libc::Musl => "musl",
            Libc::Glibc => "glibc",
            Libc::None => "none",
            Libc::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The main source language, as far as the file tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    C,
    Rust,
    Unknown,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::C => "c",
            Language::Rust => "rust",
            Language::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "fail")]
    Fail,
    /// The protection has no meaning for this file (e.g. lazy binding in a file with no
    /// dynamic section, or a C stack protector in Rust code).
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotApplicable => "n/a",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict and the evidence it was decided on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    /// How the verdict was reached, in words a packager can act on.
    pub detail: String,
}

impl Outcome {
    pub fn pass(detail: impl Into<String>) -> Self {
        Outcome {
            status: Status::Pass,
            detail: detail.into(),
        }
    }
    pub fn fail(detail: impl Into<String>) -> Self {
        Outcome {
            status: Status::Fail,
            detail: detail.into(),
        }
    }
    pub fn not_applicable(detail: impl Into<String>) -> Self {
        Outcome {
            status: Status::NotApplicable,
            detail: detail.into(),
        }
    }
}

/// Everything the audit found out about one ELF file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// The path as given, or relative to the audited root.
    pub path: String,
    pub kind: ElfKind,
    /// `x86_64`, `aarch64`, ...
    pub machine: String,
    /// `PT_INTERP`, if any.
    pub interpreter: Option<String>,
    /// `DT_NEEDED` entries, in file order.
    pub needed: Vec<String>,
    pub libc: Libc,
    /// Why `libc` was decided as it was (static files carry no direct record of their libc).
    pub libc_evidence: String,
    pub language: Language,
    /// No `.symtab` section.
    pub stripped: bool,
    /// Every protection in [`Protection::ALL`], always.
    pub checks: BTreeMap<Protection, Outcome>,
}

impl FileReport {
    /// The required protections this file fails (`Status::Fail`; `NotApplicable` is no failure).
    pub fn failures(&self, required: &[Protection]) -> Vec<Protection> {
        required
            .iter()
            .copied()
            .filter(|p| self.checks.get(p).is_some_and(|o| o.status == Status::Fail))
            .collect()
    }

    /// The outcome of one protection (every report holds all of them).
    pub fn check(&self, protection: Protection) -> Option<&Outcome> {
        self.checks.get(&protection)
    }
}
