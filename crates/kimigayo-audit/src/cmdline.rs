//! Recorded compiler flags: the `.GCC.command.line` section written by `-frecord-gcc-switches`
//! (GCC) or `-frecord-command-line` (clang).
//!
//! The section is a set of NUL-terminated strings that the linker merges (`SHF_MERGE`), so
//! identical strings from different objects appear once. Three shapes exist:
//!
//! * GCC >= 11: one string per compile, the "producer" line (`GNU C17 12.2.0 -O2 -fPIE ...`).
//!   Each string is one compile's option set, so the audit can judge compiles one by one.
//!   GCC leaves preprocessor options (`-D`, `-U`) out of it, so `_FORTIFY_SOURCE` is *never*
//!   visible there: only `-O0` (fortify inert) and `-fhardened` tell anything about it.
//! * clang: one string per compile, the whole driver command line, `-D` options included.
//! * GCC < 11: one string per *option*. After merging, options of all compiles form one pool
//!   in which compiles cannot be told apart: one unhardened object can hide among hardened
//!   ones. The audit then judges the pool as a single record (a documented limitation).
//!
//! Objects compiled without the recording flag (assembly, toolchain start files, Rust code)
//! leave no record at all, so records speak only for the compiles that made them.

use crate::report::Outcome;

/// One recorded compile (or, for the GCC < 11 shape, the pool of all recorded options).
#[derive(Debug, Clone)]
pub(crate) struct Compile<'a> {
    /// The recorded text (for the pool: the options joined by spaces).
    pub text: String,
    pub tokens: Vec<&'a str>,
    /// A GCC >= 11 producer line: preprocessor options are not recorded.
    pub gcc_producer: bool,
    /// The merged per-option pool of GCC < 11.
    pub pooled: bool,
}

/// How one compile treated the stack protector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ssp {
    /// Last stack-protector option enables it for every function needing it.
    Protected(String),
    /// Enabled, then switched off by a later `-fno-stack-protector`: a deliberate exemption
    /// (musl builds its start-up and `__stack_chk_fail` objects this way on purpose).
    Exempted,
    /// Switched off, or `-fstack-protector-explicit`, with no enabling option before it.
    Disabled(String),
    /// No stack-protector option recorded: the compiler's built-in default applied.
    Unspecified,
}

/// How one compile treated `_FORTIFY_SOURCE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fortify {
    Fortified(u32),
    Unfortified(String),
    /// The record cannot tell (GCC >= 11 does not record `-D`).
    Unrecorded,
}

/// All recorded compiles of one file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Records<'a> {
    pub compiles: Vec<Compile<'a>>,
}

impl<'a> Records<'a> {
    /// Parse the strings of a `.GCC.command.line` section.
    pub fn parse(strings: &[&'a str]) -> Records<'a> {
        let mut compiles = Vec::new();
        let mut pool: Vec<&'a str> = Vec::new();
        for s in strings {
            let s = s.trim();
            if s.starts_with('-') {
                // GCC < 11: one option per string (an option may carry its argument after a space).
                pool.extend(s.split_whitespace());
            } else if s.contains(" -") {
                compiles.push(Compile {
                    text: s.to_string(),
                    tokens: s.split_whitespace().collect(),
                    gcc_producer: s.starts_with("GNU "),
                    pooled: false,
                });
            }
            // Anything else (a recorded input file name, say) carries no option.
        }
        if !pool.is_empty() {
            compiles.push(Compile {
                text: pool.join(" "),
                tokens: pool,
                gcc_producer: false,
                pooled: true,
            });
        }
        Records { compiles }
    }

    pub fn is_empty(&self) -> bool {
        self.compiles.is_empty()
    }
}

impl Compile<'_> {
    pub fn ssp(&self) -> Ssp {
        let mut state = Ssp::Unspecified;
        let mut enabled_before = false;
        let mut any_enabling: Option<String> = None;
        for tok in &self.tokens {
            match *tok {
                "-fstack-protector"
                | "-fstack-protector-strong"
                | "-fstack-protector-all"
                | "-fhardened" => {
                    let flag = if *tok == "-fhardened" {
                        "-fhardened (implies -fstack-protector-strong)"
                    } else {
                        tok
                    };
                    state = Ssp::Protected(flag.to_string());
                    enabled_before = true;
                    any_enabling = Some(flag.to_string());
                }
                "-fstack-protector-explicit" => {
                    state = Ssp::Disabled(
                        "-fstack-protector-explicit protects only marked functions".into(),
                    );
                }
                "-fno-stack-protector" => {
                    state = if enabled_before {
                        Ssp::Exempted
                    } else {
                        Ssp::Disabled("-fno-stack-protector".into())
                    };
                }
                _ => {}
            }
        }
        // In the merged pool the order of options from different compiles means nothing.
        match (self.pooled, any_enabling) {
            (true, Some(flag)) => Ssp::Protected(flag),
            _ => state,
        }
    }

    /// Whether the last `-O` option turns optimisation on (`None`: no `-O` recorded, i.e. `-O0`).
    fn optimised(&self) -> bool {
        let mut on = false;
        for tok in &self.tokens {
            if let Some(level) = tok.strip_prefix("-O") {
                on = level != "0";
            }
        }
        on
    }

    pub fn fortify(&self) -> Fortify {
        // (level, how it was set); None for "not mentioned".
        let mut level: Option<(u32, String)> = None;
        let mut pending_define = false;
        let mut pending_undef = false;
        /// Apply `-D<item>` (`define`) or `-U<item>` to `level` if `item` is `_FORTIFY_SOURCE`.
        fn note(item: &str, level: &mut Option<(u32, String)>, define: bool) {
            let Some(rest) = item.strip_prefix("_FORTIFY_SOURCE") else {
                return;
            };
            if !define {
                if rest.is_empty() {
                    *level = Some((0, "-U_FORTIFY_SOURCE".into()));
                }
                return;
            }
            let n = match rest.strip_prefix('=') {
                Some(v) => v.trim().parse::<u32>().unwrap_or(0),
                None if rest.is_empty() => 1,
                None => return, // some other macro, e.g. _FORTIFY_SOURCE_FOO
            };
            *level = Some((n, format!("-D{item}")));
        }
        for tok in &self.tokens {
            if pending_define || pending_undef {
                note(tok, &mut level, pending_define);
                pending_define = false;
                pending_undef = false;
                continue;
            }
            if *tok == "-fhardened" {
                level = Some((3, "-fhardened".into()));
            }
            // `-Wp,-D_FORTIFY_SOURCE=2` passes the option straight to the preprocessor.
            let parts: Vec<&str> = match tok.strip_prefix("-Wp,") {
                Some(list) => list.split(',').collect(),
                None => vec![tok],
            };
            for part in parts {
                match part {
                    "-D" => pending_define = true,
                    "-U" => pending_undef = true,
                    _ => {
                        if let Some(item) = part.strip_prefix("-D") {
                            note(item, &mut level, true);
                        } else if let Some(item) = part.strip_prefix("-U") {
                            note(item, &mut level, false);
                        }
                    }
                }
            }
        }
        if !self.pooled && !self.optimised() {
            return Fortify::Unfortified(
                "compiled without optimisation (-O0): _FORTIFY_SOURCE is inert".into(),
            );
        }
        match level {
            Some((n, _)) if n >= 2 => Fortify::Fortified(n),
            Some((_, how)) => Fortify::Unfortified(format!("{how} (needs _FORTIFY_SOURCE=2 or 3)")),
            None if self.gcc_producer => Fortify::Unrecorded,
            None => Fortify::Unfortified("no -D_FORTIFY_SOURCE among the recorded options".into()),
        }
    }
}

/// A short form of a recorded command line for a `detail` text.
fn excerpt(text: &str) -> String {
    const MAX: usize = 160;
    if text.len() <= MAX {
        return format!("`{text}`");
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("`{}...`", &text[..cut])
}

fn shape(records: &Records) -> &'static str {
    if records.compiles.iter().any(|c| c.pooled) {
        " (GCC < 11 per-option records: compiles cannot be told apart)"
    } else {
        ""
    }
}

/// The stack-protector verdict from the records, or `None` if no record says anything.
pub(crate) fn ssp_verdict(records: &Records) -> Option<Outcome> {
    if records.is_empty() {
        return None;
    }
    let mut protected = Vec::new();
    let mut exempted = 0;
    let mut bad: Vec<(&Compile, String)> = Vec::new();
    for c in &records.compiles {
        match c.ssp() {
            Ssp::Protected(flag) => protected.push(flag),
            Ssp::Exempted => exempted += 1,
            Ssp::Disabled(why) => bad.push((c, why)),
            Ssp::Unspecified => {
                bad.push((c, "no stack-protector option (compiler default)".into()))
            }
        }
    }
    let total = records.compiles.len();
    protected.sort();
    protected.dedup();
    let exempt_note = if exempted > 0 {
        format!(
            ", {exempted} deliberately exempted (-fno-stack-protector after an enabling option)"
        )
    } else {
        String::new()
    };
    if bad.is_empty() && !protected.is_empty() {
        return Some(Outcome::pass(format!(
            "recorded compiler flags (.GCC.command.line): {} of {total} compiles use {}{exempt_note}{}",
            total - exempted,
            protected.join(", "),
            shape(records)
        )));
    }
    if bad.is_empty() {
        return Some(Outcome::fail(format!(
            "recorded compiler flags (.GCC.command.line): all {total} compiles switch the stack protector off"
        )));
    }
    let (first, why) = &bad[0];
    Some(Outcome::fail(format!(
        "recorded compiler flags (.GCC.command.line): {} of {total} compiles without a stack protector, e.g. {} ({why}){exempt_note}{}",
        bad.len(),
        excerpt(&first.text),
        shape(records)
    )))
}

/// What the records say about `_FORTIFY_SOURCE`.
pub(crate) enum FortifyVerdict {
    /// The records decide on their own.
    Decided(Outcome),
    /// Some compiles are known fortified, the rest unrecorded (GCC >= 11): other evidence needed.
    Partly { fortified: usize, unrecorded: usize },
    /// No record tells anything.
    Silent,
}

pub(crate) fn fortify_verdict(records: &Records) -> FortifyVerdict {
    if records.is_empty() {
        return FortifyVerdict::Silent;
    }
    let mut fortified = Vec::new();
    let mut unrecorded = 0;
    let mut bad: Vec<(&Compile, String)> = Vec::new();
    for c in &records.compiles {
        match c.fortify() {
            Fortify::Fortified(n) => fortified.push(n),
            Fortify::Unrecorded => unrecorded += 1,
            Fortify::Unfortified(why) => bad.push((c, why)),
        }
    }
    let total = records.compiles.len();
    if let Some((first, why)) = bad.first() {
        return FortifyVerdict::Decided(Outcome::fail(format!(
            "recorded compiler flags (.GCC.command.line): {} of {total} compiles not fortified, e.g. {} ({why}){}",
            bad.len(),
            excerpt(&first.text),
            shape(records)
        )));
    }
    if unrecorded == 0 {
        let min = fortified.iter().min().copied().unwrap_or(2);
        return FortifyVerdict::Decided(Outcome::pass(format!(
            "recorded compiler flags (.GCC.command.line): all {total} compiles use _FORTIFY_SOURCE>={min}{}",
            shape(records)
        )));
    }
    if fortified.is_empty() {
        FortifyVerdict::Silent
    } else {
        FortifyVerdict::Partly {
            fortified: fortified.len(),
            unrecorded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Status;

    const HARD: &str =
        "GNU C17 12.2.0 -mtune=generic -march=x86-64 -O2 -fPIE -fstack-protector-strong";
    const SOFT: &str = "GNU C17 12.2.0 -mtune=generic -march=x86-64 -O2 -fno-stack-protector";
    const MUSL_NOSSP: &str =
        "GNU C99 12.2.0 -Os -fPIE -fstack-protector-strong -ffreestanding -fno-stack-protector";

    #[test]
    fn one_unprotected_compile_fails_the_file() {
        let r = Records::parse(&[HARD, SOFT]);
        let o = ssp_verdict(&r).unwrap();
        assert_eq!(o.status, Status::Fail, "{}", o.detail);
        assert!(o.detail.contains("1 of 2"), "{}", o.detail);
        assert!(o.detail.contains("-fno-stack-protector"), "{}", o.detail);
    }

    #[test]
    fn deliberate_exemptions_do_not_fail() {
        let r = Records::parse(&[HARD, MUSL_NOSSP]);
        let o = ssp_verdict(&r).unwrap();
        assert_eq!(o.status, Status::Pass, "{}", o.detail);
        assert!(o.detail.contains("deliberately exempted"), "{}", o.detail);
    }

    #[test]
    fn missing_option_means_compiler_default_and_fails() {
        let r = Records::parse(&["GNU C17 12.2.0 -O2"]);
        assert_eq!(ssp_verdict(&r).unwrap().status, Status::Fail);
        assert_eq!(Records::parse(&[]).compiles.len(), 0);
        assert!(ssp_verdict(&Records::parse(&["a.c"])).is_none());
    }

    #[test]
    fn legacy_pool_is_judged_as_one_record() {
        let r = Records::parse(&[
            "-imultiarch x86_64-linux-gnu",
            "a.c",
            "-O2",
            "-fstack-protector-strong",
            "-D_FORTIFY_SOURCE=2",
        ]);
        assert_eq!(r.compiles.len(), 1);
        assert!(r.compiles[0].pooled);
        let o = ssp_verdict(&r).unwrap();
        assert_eq!(o.status, Status::Pass);
        assert!(o.detail.contains("GCC < 11"), "{}", o.detail);
        assert!(
            matches!(fortify_verdict(&r), FortifyVerdict::Decided(ref o) if o.status == Status::Pass)
        );
    }

    #[test]
    fn fortify_last_occurrence_wins() {
        let c = |s: &'static str| Records::parse(&[s]).compiles.remove(0).fortify();
        assert_eq!(
            c("/usr/bin/clang -O2 -D_FORTIFY_SOURCE=2 -c a.c"),
            Fortify::Fortified(2)
        );
        assert_eq!(
            c("/usr/bin/clang -O2 -D _FORTIFY_SOURCE=3 -c a.c"),
            Fortify::Fortified(3)
        );
        assert!(matches!(
            c("/usr/bin/clang -O2 -D_FORTIFY_SOURCE=2 -U_FORTIFY_SOURCE -c a.c"),
            Fortify::Unfortified(_)
        ));
        assert!(matches!(
            c("/usr/bin/clang -O2 -D_FORTIFY_SOURCE=2 -D_FORTIFY_SOURCE=0 -c a.c"),
            Fortify::Unfortified(_)
        ));
        assert_eq!(
            c("/usr/bin/clang -O2 -U_FORTIFY_SOURCE -Wp,-D_FORTIFY_SOURCE=2 -c a.c"),
            Fortify::Fortified(2)
        );
        assert!(matches!(
            c("/usr/bin/clang -O2 -D_FORTIFY_SOURCE -c a.c"),
            Fortify::Unfortified(_)
        ));
        assert!(matches!(
            c("/usr/bin/clang -O0 -D_FORTIFY_SOURCE=2 -c a.c"),
            Fortify::Unfortified(_)
        ));
        assert!(matches!(
            c("/usr/bin/clang -O2 -c a.c"),
            Fortify::Unfortified(_)
        ));
        assert_eq!(c(HARD), Fortify::Unrecorded);
        assert!(
            matches!(c("GNU C17 12.2.0 -fPIE"), Fortify::Unfortified(_)),
            "no -O means -O0"
        );
        assert_eq!(c("GNU C17 14.1.0 -O2 -fhardened"), Fortify::Fortified(3));
    }

    #[test]
    fn gcc_producer_records_leave_fortify_undecided() {
        assert!(matches!(
            fortify_verdict(&Records::parse(&[HARD])),
            FortifyVerdict::Silent
        ));
        let mixed = Records::parse(&[HARD, "/usr/bin/clang -O2 -D_FORTIFY_SOURCE=2 -c a.c"]);
        assert!(matches!(
            fortify_verdict(&mixed),
            FortifyVerdict::Partly {
                fortified: 1,
                unrecorded: 1
            }
        ));
        let o0 = Records::parse(&[HARD, "GNU C17 12.2.0 -O0 -fstack-protector-strong"]);
        assert!(
            matches!(fortify_verdict(&o0), FortifyVerdict::Decided(ref o) if o.status == Status::Fail)
        );
    }

    #[test]
    fn excerpt_cuts_on_char_boundary() {
        let long = "é".repeat(200);
        assert!(excerpt(&long).ends_with("...`"));
    }
}
