//! `kimigayo-audit`: the command-line face of the `kimigayo_audit` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kimigayo_audit::{
    audit_tree, render_details, render_json, render_table, required, FileReport, Level,
};

const LONG_ABOUT: &str = "\
Check the security hardening of ELF executables and shared objects.

Each PATH is a file or a directory; directories are walked without following symlinks, and
files that are not ELF executables or shared objects (scripts, data, .o files) are skipped.

WHY THIS TOOL
  checksec and Debian's hardening-check assume a dynamically linked glibc program. On a
  static-pie binary (ET_DYN, no interpreter, self-relocating, libc linked in) they report it
  as a shared library or non-PIE, take the __stack_chk_fail that a stack-protected libc links
  into every static binary as proof that the program is protected, and look for glibc's
  __*_chk functions, which musl does not have. kimigayo-audit decides each check from the file's own structure and says
  what evidence it used (--details).

CHECKS
  pie              ET_DYN executable (PIE or static-pie, told apart by PT_INTERP and
                   DF_1_PIE) or a shared object. ET_EXEC fails.
  relro            PT_GNU_RELRO segment present.
  bind-now         DF_BIND_NOW or DF_1_NOW (full RELRO with relro). n/a when there is no
                   dynamic section or no PLT relocation: nothing is bound lazily.
  nx-stack         PT_GNU_STACK present without the execute bit (missing fails).
  no-textrel       no DT_TEXTREL and no DF_TEXTREL.
  stack-protector  1) recorded flags (.GCC.command.line, from -frecord-gcc-switches): every
                   recorded compile must enable -fstack-protector{,-strong,-all}; a later
                   -fno-stack-protector after an enabling flag counts as a deliberate
                   exemption. 2) otherwise symbols: a reference to __stack_chk_fail passes;
                   a mere definition (static binaries) passes only if code calls it (x86,
                   aarch64; calls from libc's own protected code count too, so prefer
                   recorded flags). 3) Rust code: n/a. 4) otherwise fail.
  fortify          1) recorded flags, where they hold -D options (clang; GCC < 11):
                   _FORTIFY_SOURCE>=2 with optimisation in every compile. GCC >= 11 does not
                   record -D, but a compile at -O0 still fails. 2) imported glibc __*_chk
                   functions (defined ones prove nothing: static glibc always has them).
                   3) a \"kimigayo-fortify _FORTIFY_SOURCE=N\" string in .comment (every
                   such string must have N >= 2), as the Kimigayo fortify headers can emit
                   with .ident. 4) Rust code: n/a. 5) otherwise fail.

LEVELS
  full   requires all seven checks.
  basic  requires pie, relro, nx-stack, no-textrel, stack-protector.
  none   requires nothing: the audit only reports.

OUTPUT
  A table with one row per file and a column per check: pass, n/a, FAIL (a required check
  fails) or fail (fails, but the level does not require it), followed by each missing
  protection with its remedy. --details adds every verdict's evidence.
  With --json, one JSON object:
    {\"reports\": [FileReport...], \"summary\": {\"files\": N, \"required\": [check...],
     \"failures\": [{\"path\": P, \"missing\": [check...]}]}}
  where a FileReport is {\"path\", \"kind\" (static-pie|pie|static-exec|dynamic-exec|
  shared-object), \"machine\", \"interpreter\" (string or null), \"needed\" [..], \"libc\"
  (musl|glibc|none|unknown), \"libc_evidence\", \"language\" (c|rust|unknown), \"stripped\",
  \"checks\": {check: {\"status\": pass|fail|n/a, \"detail\"}}}. Paths under a directory
  PATH are that PATH joined with the path relative to it.

EXIT STATUS
  0  every file has every protection the level requires
  1  some file misses a required protection
  2  usage error, or a PATH could not be read or holds a malformed ELF file";

#[derive(Debug, Parser)]
#[command(name = "kimigayo-audit", version, about = "Check the security hardening of ELF files (static-pie aware)", long_about = LONG_ABOUT)]
struct Cli {
    /// Hardening level whose required protections decide the exit status.
    #[arg(long, value_name = "full|basic|none", default_value = "full")]
    level: Level,
    /// Print the JSON document instead of the table.
    #[arg(long)]
    json: bool,
    /// After the table, print every verdict with the evidence it rests on.
    #[arg(long, conflicts_with = "json")]
    details: bool,
    /// Files or directories to audit.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let required = required(cli.level);
    let mut reports: Vec<FileReport> = Vec::new();
    for path in &cli.paths {
        match audit_tree(path) {
            Ok(found) => {
                let is_dir = path.is_dir();
                let base = path.display().to_string();
                reports.extend(found.into_iter().map(|mut r| {
                    r.path = if is_dir {
                        format!("{}/{}", base.trim_end_matches('/'), r.path)
                    } else {
                        base.clone()
                    };
                    r
                }));
            }
            Err(e) => {
                eprintln!("kimigayo-audit: {e}");
                eprintln!(
                    "kimigayo-audit: check that the path exists and is readable, or leave it out of the audit"
                );
                return ExitCode::from(2);
            }
        }
    }
    if cli.json {
        println!("{}", render_json(&reports, required));
    } else {
        print!("{}", render_table(&reports, required));
        if cli.details {
            println!();
            print!("{}", render_details(&reports));
        }
    }
    if reports.iter().any(|r| !r.failures(required).is_empty()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
