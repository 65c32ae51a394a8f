//! The syscall tables (`syscalls/*.txt`, data generated from the kernel's uapi headers) as
//! Rust slices sorted by name, so a lookup is a binary search with nothing parsed or sorted at
//! run time (every service's holder builds its own seccomp filter).

use std::fmt::Write;

fn main() {
    let mut out = String::new();
    for (file, name) in [("syscalls/x86_64.txt", "X86_64"), ("syscalls/aarch64.txt", "AARCH64")] {
        println!("cargo:rerun-if-changed={file}");
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut rows: Vec<(&str, i64)> = Vec::new();
        for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty()) {
            let (n, nr) = l.split_once(' ').unwrap_or_else(|| panic!("{file}:{}: want `name number`", i + 1));
            let nr: i64 = nr.trim().parse().unwrap_or_else(|_| panic!("{file}:{}: `{nr}` is not a number", i + 1));
            rows.push((n, nr));
        }
        // Stable: of two lines naming a call, the first is the one kept.
        rows.sort_by(|a, b| a.0.cmp(b.0));
        rows.dedup_by(|later, earlier| later.0 == earlier.0);
        writeln!(out, "pub static {name}: &[(&str, i64)] = &[").unwrap();
        for (n, nr) in rows {
            writeln!(out, "    ({n:?}, {nr}),").unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("syscall_tables.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}
