//! Hostile input never panics; tree walking and the command line behave as documented.

mod common;

use std::process::Command;

use common::*;
use kimigayo_audit::{audit_bytes, audit_file, audit_tree, AuditError, ElfKind};

/// A deterministic xorshift generator (no dependency needed for test noise).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn assert_no_internal_panic(label: &str, data: &[u8]) {
    match audit_bytes(label, data) {
        Ok(_) => {}
        Err(e) => {
            assert_eq!(e.path(), label);
            assert!(e.to_string().contains(label), "{e}");
            assert!(
                !e.to_string().contains("internal panic"),
                "parser panicked on {label}: {e}"
            );
        }
    }
}

#[test]
fn non_elf_and_empty_input_are_skipped() {
    assert!(audit_bytes("empty", &[]).unwrap().is_none());
    assert!(audit_bytes("short", b"\x7fEL").unwrap().is_none());
    assert!(audit_bytes("script", b"#!/bin/sh\necho hi\n")
        .unwrap()
        .is_none());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let noise: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    assert!(audit_bytes("noise", &noise).unwrap().is_none());
}

#[test]
fn random_bytes_behind_the_magic_never_panic() {
    let mut rng = Rng(42);
    for len in [4usize, 5, 16, 52, 63, 64, 65, 200, 4096] {
        for _ in 0..50 {
            let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            data[..4].copy_from_slice(b"\x7fELF");
            if len > 6 {
                data[4] = 1 + (rng.next() % 2) as u8; // class
                data[5] = 1 + (rng.next() % 2) as u8; // data
            }
            if len > 17 {
                data[16] = 2 + (rng.next() % 2) as u8; // e_type ET_EXEC/ET_DYN
                data[17] = 0;
            }
            assert_no_internal_panic("random", &data);
        }
    }
}

#[test]
fn truncated_and_mutated_real_binaries_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bin = gcc(
        dir.path(),
        "victim",
        PROG_C,
        &["-O2", "-fPIE", "-pie", "-fstack-protector-strong"],
    );
    let data = std::fs::read(&bin).unwrap();
    assert!(audit_bytes("victim", &data).unwrap().is_some());

    let truncated = &data[..100];
    match audit_bytes("truncated", truncated) {
        Err(AuditError::Malformed { path, .. }) => assert_eq!(path, "truncated"),
        other => panic!("a 100-byte ELF must be reported malformed, got {other:?}"),
    }
    for cut in (0..data.len()).step_by(97) {
        assert_no_internal_panic("truncated", &data[..cut]);
    }

    let mut rng = Rng(7);
    for _ in 0..3000 {
        let mut m = data.clone();
        for _ in 0..1 + rng.next() % 4 {
            // Hit the headers more often than the code: that is where parsers break.
            let span = if rng.next() % 2 == 0 {
                0x400.min(m.len())
            } else {
                m.len()
            };
            let at = (rng.next() as usize) % span;
            m[at] = match rng.next() % 3 {
                0 => 0xff,
                1 => 0,
                _ => rng.next() as u8,
            };
        }
        assert_no_internal_panic("mutated", &m);
    }
}

#[test]
fn io_errors_name_the_file() {
    let err = audit_file(std::path::Path::new("/nonexistent/kimigayo")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/kimigayo"), "{err}");
    let err = audit_tree(std::path::Path::new("/nonexistent/tree")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/tree"), "{err}");
}

#[test]
fn tree_walk_is_sorted_relative_and_skips_symlinks_objects_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    let args = ["-O2", "-fPIE", "-pie"];
    let b = gcc(dir.path(), "prog", PROG_C, &args);
    std::fs::copy(&b, root.join("usr/bin/zeta")).unwrap();
    std::fs::copy(&b, root.join("bin/alpha")).unwrap();
    std::fs::write(root.join("bin/script"), "#!/bin/sh\n").unwrap();
    std::os::unix::fs::symlink("alpha", root.join("bin/link")).unwrap();
    run(Command::new("gcc")
        .arg("-c")
        .arg(dir.path().join("prog.c"))
        .arg("-o")
        .arg(root.join("bin/prog.o")));

    let reports = audit_tree(&root).unwrap();
    let paths: Vec<&str> = reports.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["bin/alpha", "usr/bin/zeta"]);

    let single = audit_tree(&root.join("usr/bin/zeta")).unwrap();
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].path, "zeta");
    assert_eq!(single[0].kind, ElfKind::Pie);
}

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kimigayo-audit"))
}

#[test]
fn cli_exit_codes_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let good = gcc(
        dir.path(),
        "good",
        PROG_C,
        &[
            "-O2",
            "-D_FORTIFY_SOURCE=2",
            "-fPIE",
            "-pie",
            "-fstack-protector-strong",
            "-Wl,-z,relro,-z,now",
        ],
    );
    let bad = gcc(
        dir.path(),
        "bad",
        PROG_C,
        &["-O0", "-no-pie", "-fno-stack-protector"],
    );

    let out = cli().arg(&good).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("PATH"), "{table}");
    assert!(
        table.contains("all required protections present"),
        "{table}"
    );

    let out = cli().arg("--json").arg(&good).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["files"], 2);
    let failures = doc["summary"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["path"], bad.display().to_string());
    assert!(failures[0]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "pie"));
    assert_eq!(
        doc["reports"][0]["checks"]["stack-protector"]["status"],
        "pass"
    );
    assert_eq!(doc["reports"][0]["kind"], "pie");
    // The document reads back into the library's types.
    let back: kimigayo_audit::AuditDocument = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(back.reports.len(), 2);

    let out = cli().args(["--level", "none"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = cli().args(["--level", "basic"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));

    let out = cli().arg(dir.path().join("missing")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing") && err.contains("check that the path exists"),
        "{err}"
    );

    let out = cli().args(["--level", "high"]).arg(&good).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = cli().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("static-pie") && help.contains("EXIT STATUS"),
        "{help}"
    );
}

/// The glibc markers the audit searches static files for must not appear verbatim in a
/// program that links the audit, or a static build of `kimigayo-audit` would call itself glibc.
#[test]
fn audit_code_does_not_carry_its_own_glibc_markers() {
    let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    for reversed in ["SELBANUT_CBILG", "ETAVIRP_CBILG", "yrarbiL C UNG"] {
        let needle: Vec<u8> = reversed.bytes().rev().collect();
        assert!(
            !me.windows(needle.len()).any(|w| w == needle.as_slice()),
            "{} found in the test binary",
            String::from_utf8_lossy(&needle)
        );
    }
}
