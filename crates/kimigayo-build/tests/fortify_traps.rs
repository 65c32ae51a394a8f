//! The Kimigayo fortify headers really work: every deliberate overflow in
//! toolchain/fortify/tests/overflow.c traps when built at `full`, and runs through
//! (printing NO-TRAP) when built at `none`.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use common::*;
use kimigayo_hardening::{flags, Level, Linkage};

fn build(level: Level, dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join(format!("overflow-{level}"));
    let status = Command::new(driver())
        .arg("-O2")
        .args(flags(level).all(Linkage::Static))
        .arg(root().join("toolchain/fortify/tests/overflow.c"))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "overflow.c does not compile at {level}");
    out
}

#[test]
fn deliberate_overflows_trap_at_full_and_not_at_none() {
    let dir = tempfile::tempdir().unwrap();
    let full = build(Level::Full, dir.path());
    let none = build(Level::None, dir.path());
    let list = Command::new(&full).arg("list").output().unwrap();
    let cases: Vec<String> = String::from_utf8_lossy(&list.stdout).split_whitespace().map(String::from).collect();
    assert!(cases.len() >= 20, "expected the full case list, got {cases:?}");
    for case in &cases {
        let f = Command::new(&full).arg(case).output().unwrap();
        let sig = f.status.signal();
        assert!(
            matches!(sig, Some(4) | Some(5)),
            "{case}: built at full it must trap (SIGILL/SIGTRAP), got {:?} / {}",
            f.status,
            String::from_utf8_lossy(&f.stdout)
        );
        let n = Command::new(&none).arg(case).output().unwrap();
        assert!(
            n.status.success() && String::from_utf8_lossy(&n.stdout).contains(&format!("NO-TRAP {case}")),
            "{case}: built at none it must run through, got {:?} / {}",
            n.status,
            String::from_utf8_lossy(&n.stdout)
        );
    }
    // The audit sees the difference too.
    let full_report = kimigayo_audit::audit_file(&full).unwrap().unwrap();
    let none_report = kimigayo_audit::audit_file(&none).unwrap().unwrap();
    use kimigayo_hardening::Protection::Fortify;
    assert_eq!(full_report.check(Fortify).unwrap().status, kimigayo_audit::Status::Pass);
    assert_eq!(none_report.check(Fortify).unwrap().status, kimigayo_audit::Status::Fail);
}
