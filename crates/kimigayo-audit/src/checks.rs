//! The seven protection checks, each a verdict plus the evidence it rests on.
//!
//! Every check is decided from the file's own structure, never from tool heuristics that
//! assume a dynamically linked glibc program: that assumption is what makes checksec and
//! `hardening-check` misjudge static-pie binaries (no interpreter, self-relocating, libc
//! linked in, no `__*_chk` imports with musl).

use std::collections::BTreeMap;

use goblin::elf::dynamic::{DF_1_NOW, DF_BIND_NOW, DF_TEXTREL};
use kimigayo_hardening::Protection;

use crate::callsites::direct_calls;
use crate::cmdline::{fortify_verdict, ssp_verdict, FortifyVerdict, Records};
use crate::elf::Facts;
use crate::report::{ElfKind, Language, Outcome};

/// Everything the checks decide on besides the raw facts.
pub(crate) struct Context<'f, 'a> {
    pub facts: &'f Facts<'a>,
    pub kind: ElfKind,
    pub kind_rule: &'static str,
    pub language: Language,
    pub records: Records<'a>,
}

pub(crate) fn run_all(cx: &Context) -> BTreeMap<Protection, Outcome> {
    Protection::ALL
        .iter()
        .map(|p| {
            let o = match p {
                Protection::Pie => pie(cx),
                Protection::Relro => relro(cx),
                Protection::BindNow => bind_now(cx),
                Protection::NxStack => nx_stack(cx),
                Protection::NoTextrel => no_textrel(cx),
                Protection::StackProtector => stack_protector(cx),
                Protection::Fortify => fortify(cx),
            };
            (*p, o)
        })
        .collect()
}

fn pie(cx: &Context) -> Outcome {
    let rule = cx.kind_rule;
    match cx.kind {
        ElfKind::Pie => Outcome::pass(format!("PIE ({rule})")),
        ElfKind::StaticPie => Outcome::pass(format!("static-pie ({rule})")),
        ElfKind::SharedObject => Outcome::pass(format!(
            "shared object: position-independent by construction ({rule})"
        )),
        ElfKind::StaticExec | ElfKind::DynamicExec => Outcome::fail(format!(
            "not position-independent: {rule}, loaded at a fixed address"
        )),
    }
}

fn relro(cx: &Context) -> Outcome {
    if cx.facts.has_relro {
        Outcome::pass("PT_GNU_RELRO present")
    } else {
        Outcome::fail("no PT_GNU_RELRO segment: relocated data stays writable")
    }
}

fn bind_now(cx: &Context) -> Outcome {
    let f = cx.facts;
    if f.dt_flags & DF_BIND_NOW != 0 {
        return Outcome::pass("DT_FLAGS has DF_BIND_NOW");
    }
    if f.dt_flags_1 & DF_1_NOW != 0 {
        return Outcome::pass("DT_FLAGS_1 has DF_1_NOW");
    }
    if !f.has_dynamic {
        return Outcome::not_applicable("no dynamic section: nothing is bound lazily");
    }
    if !f.has_plt_relocs {
        return Outcome::not_applicable("no PLT relocations (DT_JMPREL): nothing is bound lazily");
    }
    Outcome::fail("no DF_BIND_NOW/DF_1_NOW: the PLT GOT stays writable (lazy binding)")
}

fn nx_stack(cx: &Context) -> Outcome {
    match cx.facts.stack_exec() {
        Some(false) => Outcome::pass("PT_GNU_STACK without PF_X"),
        Some(true) => Outcome::fail("PT_GNU_STACK has PF_X: the stack is executable"),
        None => {
            Outcome::fail("no PT_GNU_STACK: the kernel's default may make the stack executable")
        }
    }
}

fn no_textrel(cx: &Context) -> Outcome {
    let f = cx.facts;
    if f.dt_textrel {
        Outcome::fail("DT_TEXTREL: relocations patch the code segment")
    } else if f.dt_flags & DF_TEXTREL != 0 {
        Outcome::fail("DT_FLAGS has DF_TEXTREL: relocations patch the code segment")
    } else if !f.has_dynamic {
        Outcome::pass("no dynamic section, so no run-time text relocations")
    } else {
        Outcome::pass("no DT_TEXTREL / DF_TEXTREL")
    }
}

const SSP_FAIL: [&str; 2] = ["__stack_chk_fail", "__stack_chk_fail_local"];
const SSP_SYMBOLS: [&str; 3] = [
    "__stack_chk_fail",
    "__stack_chk_fail_local",
    "__stack_chk_guard",
];

fn stack_protector(cx: &Context) -> Outcome {
    let f = cx.facts;
    // 1. Recorded flags are the only evidence that speaks for each compile.
    if let Some(o) = ssp_verdict(&cx.records) {
        return o;
    }
    // 2. Symbols. An undefined reference means some object really uses the protector.
    if let Some(s) = f
        .symbols
        .iter()
        .find(|s| !s.defined && SSP_SYMBOLS.contains(&s.name))
    {
        let table = if s.dynamic { ".dynsym" } else { ".symtab" };
        return Outcome::pass(format!("symbols: references {} ({table})", s.name));
    }
    // A definition alone is weak: libc's start-up code links __stack_chk_fail into every
    // static binary. Look for calls to it instead.
    let targets: Vec<u64> = f
        .symbols
        .iter()
        .filter(|s| s.defined && SSP_FAIL.contains(&s.name))
        .map(|s| s.value)
        .collect();
    if !targets.is_empty() {
        match direct_calls(f, &targets) {
            Some(calls) if calls.count > 0 => {
                let shown: Vec<&str> = calls.callers.iter().take(3).map(String::as_str).collect();
                let more = calls.callers.len().saturating_sub(3);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                return Outcome::pass(format!(
                    "symbols: __stack_chk_fail defined and called from {} site(s) in {}{more}; \
                     in a static link libc's own protected functions count too (no recorded flags)",
                    calls.count,
                    shown.join(", ")
                ));
            }
            Some(_) => {
                return Outcome::fail(
                    "symbols: __stack_chk_fail is defined (libc links it in) but nothing calls it: no function is protected",
                );
            }
            None => {
                return Outcome::pass(format!(
                    "symbols: __stack_chk_fail defined (weak evidence: libc links it into static binaries; \
                     calls not checked on {})",
                    f.machine_name()
                ));
            }
        }
    }
    // 3. Rust code needs no C stack protector.
    if cx.language == Language::Rust {
        return Outcome::not_applicable("Rust code is memory-safe; no C stack protector");
    }
    if f.has_symtab {
        Outcome::fail(
            "no stack-protector evidence: no __stack_chk_fail in the symbols and no recorded flags",
        )
    } else {
        Outcome::fail("no stack-protector evidence: symbols stripped and no recorded flags")
    }
}

/// glibc's fortified variants are `__<name>_chk`; these are not fortify functions.
fn is_fortify_symbol(name: &str) -> bool {
    name.starts_with("__")
        && name.ends_with("_chk")
        && name.len() > "___chk".len()
        && !matches!(name, "__stack_chk" | "__chk_fail")
}

/// The `.comment` string the Kimigayo fortify headers can emit in every translation unit
/// where fortification is active: `kimigayo-fortify _FORTIFY_SOURCE=<level>` (for example
/// with a top-level `__asm__(".ident \"kimigayo-fortify _FORTIFY_SOURCE=2\"")`). `.comment`
/// survives `strip`, and GCC >= 11 records no `-D` option anywhere else.
pub(crate) const FORTIFY_MARKER: &str = "kimigayo-fortify _FORTIFY_SOURCE=";

/// The level a fortify marker states, if `s` is one.
fn fortify_marker_level(s: &str) -> Option<u32> {
    s.strip_prefix(FORTIFY_MARKER)?.trim().parse().ok()
}

fn fortify(cx: &Context) -> Outcome {
    let f = cx.facts;
    let records = fortify_verdict(&cx.records);
    if let FortifyVerdict::Decided(o) = records {
        return o;
    }
    let partly = match records {
        FortifyVerdict::Partly { fortified, unrecorded } => format!(
            "; recorded flags show {fortified} compile(s) fortified, {unrecorded} unrecorded (GCC >= 11 omits -D)"
        ),
        _ => String::new(),
    };
    // glibc: the fortified call goes to an imported __*_chk function. Defined ones prove
    // nothing: a static glibc link always contains its own (ifunc variants of) __memcpy_chk.
    let mut imports: Vec<&str> = f
        .symbols
        .iter()
        .filter(|s| !s.defined && is_fortify_symbol(s.name))
        .map(|s| s.name)
        .collect();
    imports.sort_unstable();
    imports.dedup();
    if !imports.is_empty() {
        let shown: Vec<&str> = imports.iter().take(3).copied().collect();
        return Outcome::pass(format!(
            "symbols: imports glibc fortified functions {}{partly}",
            shown.join(", ")
        ));
    }
    let markers: Vec<(&str, u32)> = f
        .section_strings(".comment")
        .into_iter()
        .filter_map(|s| fortify_marker_level(s).map(|n| (s, n)))
        .collect();
    if let Some((weak, _)) = markers.iter().find(|(_, n)| *n < 2) {
        return Outcome::fail(format!(
            ".comment marker from the Kimigayo fortify headers shows a weaker level: \"{weak}\" (needs 2 or 3){partly}"
        ));
    }
    if let Some((m, _)) = markers.first() {
        return Outcome::pass(format!(
            ".comment marker from the Kimigayo fortify headers: \"{m}\"{partly}"
        ));
    }
    if let FortifyVerdict::Partly { .. } = records {
        return Outcome::fail(format!(
            "only some compiles are known fortified{partly}; no other fortify evidence"
        ));
    }
    if cx.language == Language::Rust {
        return Outcome::not_applicable("Rust code is memory-safe; _FORTIFY_SOURCE is a C feature");
    }
    let why = if f.has_section(".GCC.command.line") {
        "no fortify evidence: GCC >= 11 does not record -D_FORTIFY_SOURCE, no imported __*_chk functions \
         (musl has none) and no kimigayo-fortify marker in .comment"
    } else {
        "no fortify evidence: no recorded flags, no imported __*_chk functions (musl has none) \
         and no kimigayo-fortify marker in .comment"
    };
    Outcome::fail(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortify_symbol_names() {
        assert!(is_fortify_symbol("__strcpy_chk"));
        assert!(is_fortify_symbol("__memcpy_chk"));
        assert!(!is_fortify_symbol("__chk_fail"));
        assert!(!is_fortify_symbol("__stack_chk_fail"));
        assert!(!is_fortify_symbol("strcpy_chk"));
        assert!(!is_fortify_symbol("___chk"));
    }

    #[test]
    fn fortify_marker_states_a_level() {
        assert_eq!(
            fortify_marker_level("kimigayo-fortify _FORTIFY_SOURCE=2"),
            Some(2)
        );
        assert_eq!(
            fortify_marker_level("kimigayo-fortify _FORTIFY_SOURCE=3"),
            Some(3)
        );
        assert_eq!(
            fortify_marker_level("kimigayo-fortify _FORTIFY_SOURCE=1"),
            Some(1)
        );
        assert_eq!(fortify_marker_level("kimigayo-fortify"), None);
        assert_eq!(fortify_marker_level("GCC: (GNU) 12.2.0"), None);
    }
}
