//! ELF hardening audit for Kimigayo images.
//!
//! This crate owns the answer to "is this ELF file built the way its hardening level says?":
//! it reads executables and shared objects and judges the seven [`Protection`]s defined in
//! `kimigayo-hardening`, with the evidence for each verdict. Unlike checksec and Debian's
//! `hardening-check`, it is correct on static-pie binaries (ET_DYN without an interpreter,
//! self-relocating, libc linked in) and on musl, which has no `__*_chk` functions.
//!
//! Modules: `elf` extracts facts, `identify` decides kind/libc/language, `cmdline` reads
//! recorded compiler flags, `callsites` finds calls to `__stack_chk_fail`, `checks` judges
//! the protections, [`render`] prints the table and the JSON document.

mod callsites;
mod checks;
mod cmdline;
mod elf;
mod identify;
pub mod render;
mod report;

use std::fs::File;
use std::io::{self, Read};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use goblin::elf::header::{ET_DYN, ET_EXEC};
use goblin::elf::Elf;
pub use kimigayo_hardening::{required, Level, Protection};

pub use render::{
    render_details, render_json, render_table, summarize, AuditDocument, Failure, Summary,
};
pub use report::{ElfKind, FileReport, Language, Libc, Outcome, Status};

/// Why a file could not be audited. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path}: malformed ELF file: {reason}")]
    Malformed { path: String, reason: String },
}

impl AuditError {
    /// The file the error is about.
    pub fn path(&self) -> &str {
        match self {
            AuditError::Io { path, .. } | AuditError::Malformed { path, .. } => path,
        }
    }
}

const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// Audit one file's bytes. `Ok(None)` for anything that is not an ELF executable or shared
/// object (not ELF at all, relocatable objects, core files). Hostile input yields an error
/// naming `path_label`, never a panic.
pub fn audit_bytes(path_label: &str, data: &[u8]) -> Result<Option<FileReport>, AuditError> {
    if data.len() < ELF_MAGIC.len() || &data[..4] != ELF_MAGIC {
        return Ok(None);
    }
    let malformed = |reason: String| AuditError::Malformed {
        path: path_label.to_string(),
        reason,
    };
    let header = Elf::parse_header(data).map_err(|e| malformed(e.to_string()))?;
    if header.e_type != ET_EXEC && header.e_type != ET_DYN {
        return Ok(None);
    }
    // goblin is meant not to panic on bad input; should it ever, the audit still reports the
    // file instead of taking the whole run down.
    match panic::catch_unwind(AssertUnwindSafe(|| analyse(path_label, data))) {
        Ok(result) => result.map(Some).map_err(malformed),
        Err(_) => Err(malformed(
            "the ELF parser gave up on this file (internal panic)".into(),
        )),
    }
}

fn analyse(path_label: &str, data: &[u8]) -> Result<FileReport, String> {
    let elf = Elf::parse(data).map_err(|e| e.to_string())?;
    let facts = elf::Facts::from_elf(&elf, data);
    let (kind, kind_rule) =
        identify::kind(&facts).ok_or_else(|| format!("unexpected ELF type {}", facts.e_type))?;
    let (libc, libc_evidence) = identify::libc(&facts, kind);
    let language = identify::language(&facts);
    let records = cmdline::Records::parse(&facts.section_strings(".GCC.command.line"));
    let cx = checks::Context {
        facts: &facts,
        kind,
        kind_rule,
        language,
        records,
    };
    let checks = checks::run_all(&cx);
    Ok(FileReport {
        path: path_label.to_string(),
        kind,
        machine: facts.machine_name(),
        interpreter: facts.interpreter.clone(),
        needed: facts.needed.clone(),
        libc,
        libc_evidence,
        language,
        stripped: !facts.has_symtab,
        checks,
    })
}

/// Audit one file on disk; the report's path is `path` as given. Files that do not start
/// with the ELF magic are not read past their first four bytes.
pub fn audit_file(path: &Path) -> Result<Option<FileReport>, AuditError> {
    audit_file_as(path, &path.display().to_string())
}

/// Audit `path`, reporting it as `label`; errors name the real `path`.
fn audit_file_as(path: &Path, label: &str) -> Result<Option<FileReport>, AuditError> {
    let shown = path.display().to_string();
    let io_err = |source| AuditError::Io {
        path: shown.clone(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    if got < magic.len() || &magic != ELF_MAGIC {
        return Ok(None);
    }
    let mut data = magic.to_vec();
    file.read_to_end(&mut data).map_err(io_err)?;
    audit_bytes(label, &data).map_err(|e| match e {
        AuditError::Malformed { reason, .. } => AuditError::Malformed {
            path: shown.clone(),
            reason,
        },
        other => other,
    })
}

/// Audit every regular file under `root` (symlinks are not followed, nor reported), sorted by
/// path, each path relative to `root` with `/` separators. A `root` that is itself a file is
/// audited alone and reported under its file name.
pub fn audit_tree(root: &Path) -> Result<Vec<FileReport>, AuditError> {
    let root_label = root.display().to_string();
    let meta = std::fs::metadata(root).map_err(|source| AuditError::Io {
        path: root_label.clone(),
        source,
    })?;
    if meta.is_file() {
        let label = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| root_label.clone());
        return Ok(audit_file_as(root, &label)?.into_iter().collect());
    }
    let mut reports = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| root_label.clone());
            let source = e
                .into_io_error()
                .unwrap_or_else(|| io::Error::other("filesystem loop"));
            AuditError::Io { path, source }
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let label = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if let Some(report) = audit_file_as(entry.path(), &label)? {
            reports.push(report);
        }
    }
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(reports)
}
