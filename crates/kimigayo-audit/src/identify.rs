//! What a file is: its ELF kind, its C library and its source language.
//!
//! The kind is exact for files made by current linkers (they set `DF_1_PIE`); the fall-back
//! rules and the libc of a *static* file are heuristics, documented at each rule.

use goblin::elf::dynamic::DF_1_PIE;
use goblin::elf::header::{ET_DYN, ET_EXEC};

use crate::elf::{contains_bytes, Facts};
use crate::report::{ElfKind, Language, Libc};

/// The kind of an `ET_EXEC`/`ET_DYN` file, with the rule that decided it.
pub(crate) fn kind(f: &Facts) -> Option<(ElfKind, &'static str)> {
    let interp = f.interpreter.is_some();
    let pie_flag = f.dt_flags_1 & DF_1_PIE != 0;
    Some(match f.e_type {
        ET_EXEC if interp => (ElfKind::DynamicExec, "ET_EXEC with an interpreter"),
        ET_EXEC => (ElfKind::StaticExec, "ET_EXEC without an interpreter"),
        ET_DYN if pie_flag && interp => (ElfKind::Pie, "ET_DYN with DF_1_PIE and an interpreter"),
        ET_DYN if pie_flag => (ElfKind::StaticPie, "ET_DYN with DF_1_PIE and no interpreter"),
        // glibc's libc.so.6 has an interpreter (it runs as a program) and a soname.
        ET_DYN if interp && f.soname.is_some() => {
            (ElfKind::SharedObject, "ET_DYN with a soname (a library that is also runnable)")
        }
        ET_DYN if interp => (ElfKind::Pie, "ET_DYN with an interpreter (linker predates DF_1_PIE)"),
        ET_DYN if f.soname.is_some() => (ElfKind::SharedObject, "ET_DYN with a soname"),
        ET_DYN if f.entry == 0 => (ElfKind::SharedObject, "ET_DYN with no entry point"),
        ET_DYN if !f.needed.is_empty() => {
            (ElfKind::SharedObject, "ET_DYN without interpreter that needs other libraries")
        }
        // musl's libc.so has an entry point (it is also the dynamic linker), no interpreter,
        // no DF_1_PIE and (upstream) no soname: it is told apart by what it exports.
        ET_DYN if f.dynamic_exports > 0 => {
            (ElfKind::SharedObject, "ET_DYN without interpreter or DF_1_PIE that exports symbols")
        }
        ET_DYN => (
            ElfKind::StaticPie,
            "ET_DYN with an entry point, no interpreter, soname, DT_NEEDED or exports (linker predates DF_1_PIE)",
        ),
        _ => return None,
    })
}

/// Turn a reversed literal back into a marker string.
///
/// The markers below are stored reversed so that this tool's own binary does not contain
/// them verbatim: a static build of `kimigayo-audit` auditing itself must not see a glibc
/// marker just because it searches for one.
fn marker(reversed: &str) -> Vec<u8> {
    reversed.bytes().rev().collect()
}

const MUSL_SYMBOLS: [&str; 4] = ["__init_libc", "__init_tp", "__dls2", "__dls3"];
const GLIBC_SYMBOLS: [&str; 4] = [
    "__libc_setup_tls",
    "_dl_relocate_static_pie",
    "__libc_start_call_main",
    "_dl_aux_init",
];
const START_SYMBOLS: [&str; 3] = ["__libc_start_main", "__libc_start_call_main", "__init_libc"];

/// The C library, and the evidence for it.
pub(crate) fn libc(f: &Facts, kind: ElfKind) -> (Libc, String) {
    if let Some(interp) = &f.interpreter {
        if interp.contains("ld-musl") {
            return (Libc::Musl, format!("interpreter {interp}"));
        }
        if interp.contains("ld-linux") || interp.contains("/ld64.so") {
            return (Libc::Glibc, format!("interpreter {interp}"));
        }
    }
    for n in &f.needed {
        if n.starts_with("libc.musl-") || n == "libc.so" {
            return (Libc::Musl, format!("needs {n} (musl's library name)"));
        }
        if n == "libc.so.6" {
            return (Libc::Glibc, format!("needs {n}"));
        }
    }
    if f.glibc_versions {
        return (Libc::Glibc, "dynamic symbols carry GLIBC_ versions".into());
    }
    if f.has_section(".note.ABI-tag") {
        return (
            Libc::Glibc,
            ".note.ABI-tag section (from glibc's start files)".into(),
        );
    }
    if f.has_section(".note.go.buildid") || f.has_section(".go.buildinfo") {
        return (Libc::None, "Go binary (.go.buildinfo): no C library".into());
    }
    if let Some(s) = MUSL_SYMBOLS
        .iter()
        .find(|s| f.symbols_named(s).any(|x| x.defined))
    {
        return (Libc::Musl, format!("defines musl's start-up symbol {s}"));
    }
    if let Some(s) = GLIBC_SYMBOLS
        .iter()
        .find(|s| f.symbols_named(s).any(|x| x.defined))
    {
        return (Libc::Glibc, format!("defines glibc's start-up symbol {s}"));
    }
    if f.interpreter.is_some() || !f.needed.is_empty() {
        return (
            Libc::Unknown,
            "dynamically linked against no known C library".into(),
        );
    }
    if kind == ElfKind::SharedObject {
        return (
            Libc::None,
            "shared object that needs no library (no DT_NEEDED)".into(),
        );
    }
    // From here on the file is a static executable with no symbol that names its libc:
    // fall back on strings glibc embeds in every static link.
    for rev in ["SELBANUT_CBILG", "ETAVIRP_CBILG", "yrarbiL C UNG"] {
        let m = marker(rev);
        if contains_bytes(f.data, &m) {
            let what = String::from_utf8_lossy(&m);
            return (Libc::Glibc, format!("contains the string \"{what}\""));
        }
    }
    if f.has_symtab
        && !START_SYMBOLS
            .iter()
            .any(|s| f.symbols_named(s).any(|x| x.defined))
    {
        return (
            Libc::None,
            "symbol table has no libc start-up code (freestanding)".into(),
        );
    }
    if !f.has_symtab {
        // Heuristic: a stripped static Linux ELF with no glibc marker is taken for musl,
        // the only other libc Kimigayo links against. It may also be freestanding.
        return (
            Libc::Musl,
            "heuristic: stripped static file with no glibc marker".into(),
        );
    }
    (
        Libc::Musl,
        "heuristic: static file with libc start-up code and no glibc marker".into(),
    )
}

/// The source language: Rust if any Rust evidence, else C if a C compiler left a trace.
pub(crate) fn language(f: &Facts) -> Language {
    let comment = f.section_strings(".comment");
    if comment.iter().any(|s| s.contains("rustc version"))
        || f.has_section(".rustc")
        || f.symbols.iter().any(|s| s.name.contains("rust_begin_unwind") || s.name.contains("__rust_"))
        // Panic locations of std survive stripping.
        || contains_bytes(f.data, &marker("/crs/dts/yrarbil/"))
        || contains_bytes(f.data, &marker("/crs/eroc/yrarbil/"))
    {
        return Language::Rust;
    }
    if f.has_section(".GCC.command.line")
        || comment
            .iter()
            .any(|s| s.starts_with("GCC:") || s.contains("clang version"))
    {
        return Language::C;
    }
    Language::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_reversed_on_purpose() {
        assert_eq!(marker("SELBANUT_CBILG"), b"GLIBC_TUNABLES");
        assert_eq!(marker("yrarbiL C UNG"), b"GNU C Library");
        assert_eq!(marker("/crs/dts/yrarbil/"), b"/library/std/src/");
    }
}
