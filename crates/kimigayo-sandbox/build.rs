//! The syscall tables (`syscalls/*.txt`, data generated from the kernel's uapi headers) as
//! Rust tables sorted by name, so a lookup is a binary search with nothing parsed or sorted at
//! run time (every service's holder builds its own seccomp filter).

use std::fmt::Write;

fn main() {
    let mut out = String::new();
    for (file, name) in [("syscalls/x86_64.txt", "X86_64"), ("syscalls/aarch64.txt", "AARCH64")] {
        println!("cargo:rerun-if-changed={file}");
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut rows: Vec<(&str, u16)> = Vec::new();
        for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty()) {
            let (n, nr) = l.split_once(' ').unwrap_or_else(|| panic!("{file}:{}: want `name number`", i + 1));
            let nr: u16 = nr.trim().parse().unwrap_or_else(|_| panic!("{file}:{}: `{nr}` is not a syscall number (0-65535)", i + 1));
            rows.push((n, nr));
        }
        // Stable: of two lines naming a call, the first is the one kept.
        rows.sort_by(|a, b| a.0.cmp(b.0));
        rows.dedup_by(|later, earlier| later.0 == earlier.0);
        // No pointers (each would be a relocation in a static-pie binary): one string of the
        // names and, per call, its name's offset and length and its number.
        let mut names = String::new();
        let mut index = Vec::new();
        for (n, nr) in rows {
            index.push(format!("({}, {}, {nr})", names.len(), n.len()));
            names.push_str(n);
        }
        assert!(names.len() < u16::MAX as usize, "{file}: names too long for u16 offsets");
        writeln!(out, "pub static {name}_NAMES: &str = {names:?};").unwrap();
        writeln!(out, "pub static {name}: &[(u16, u8, u16)] = &[{}];", index.join(", ")).unwrap();
    }
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("syscall_tables.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}
