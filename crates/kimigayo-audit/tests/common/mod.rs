//! Helpers shared by the integration tests: compile real programs with the host toolchain.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use kimigayo_audit::{FileReport, Protection, Status};

/// A small C program: a fixed buffer filled by `strcpy` from `argv`, so that
/// `-fstack-protector-strong` protects `main` and `-D_FORTIFY_SOURCE=2` turns the copy into
/// `__strcpy_chk` (glibc).
pub const PROG_C: &str = r#"
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    char buf[64];
    strcpy(buf, argv[argc - 1]);
    puts(buf);
    return 0;
}
"#;

/// A C program that needs no libc header (for linking against a bare musl `libc.a`). It takes
/// the address of `__stack_chk_fail` so the definition is linked in even without SSP.
pub const PROG_BARE_C: &str = r#"
int puts(const char *);
extern void __stack_chk_fail(void);
void *volatile keep = (void *)__stack_chk_fail;
int main(int argc, char **argv) {
    char buf[32] = {0};
    for (int i = 0; i < 31 && argv[0][i]; i++) buf[i] = argv[0][i];
    puts(buf);
    return argc - 1;
}
"#;

pub fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Write `src` to `dir/name.c` and run `gcc <args> name.c -o name`; returns the output path.
pub fn gcc(dir: &Path, name: &str, src: &str, args: &[&str]) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let out = dir.join(name);
    run(Command::new("gcc").args(args).arg(&c).arg("-o").arg(&out));
    out
}

pub fn status(r: &FileReport, p: Protection) -> Status {
    r.checks[&p].status
}

pub fn detail(r: &FileReport, p: Protection) -> &str {
    &r.checks[&p].detail
}

pub fn audit(path: &Path) -> FileReport {
    kimigayo_audit::audit_file(path)
        .unwrap_or_else(|e| panic!("audit failed: {e}"))
        .unwrap_or_else(|| panic!("{} not recognised as an ELF executable", path.display()))
}

/// The directory of Rust's self-contained musl start files and `libc.a`.
pub fn rust_musl_self_contained() -> PathBuf {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc --print sysroot");
    let sysroot = String::from_utf8(out.stdout).unwrap();
    let dir =
        Path::new(sysroot.trim()).join("lib/rustlib/x86_64-unknown-linux-musl/lib/self-contained");
    assert!(
        dir.join("libc.a").exists(),
        "{} missing: install the target with `rustup target add x86_64-unknown-linux-musl`",
        dir.display()
    );
    dir
}

/// Compile `src` with `cflags` and link it as a musl static-pie against Rust's bundled musl.
pub fn musl_static_pie(dir: &Path, name: &str, src: &str, cflags: &[&str]) -> PathBuf {
    let sc = rust_musl_self_contained();
    let c = dir.join(format!("{name}.c"));
    let o = dir.join(format!("{name}.o"));
    std::fs::write(&c, src).unwrap();
    run(Command::new("gcc")
        .args(["-O2", "-fPIE", "-c"])
        .args(cflags)
        .arg(&c)
        .arg("-o")
        .arg(&o));
    let out = dir.join(name);
    run(Command::new("gcc")
        .args([
            "-nostdlib",
            "-static-pie",
            "-Wl,-z,relro,-z,now,-z,noexecstack",
        ])
        .arg(sc.join("rcrt1.o"))
        .arg(sc.join("crti.o"))
        .arg(sc.join("crtbeginS.o"))
        .arg(&o)
        .arg(sc.join("libc.a"))
        .arg(sc.join("crtendS.o"))
        .arg(sc.join("crtn.o"))
        .arg("-o")
        .arg(&out));
    out
}
