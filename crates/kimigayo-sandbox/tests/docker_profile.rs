//! A Docker-format allow-list profile (tests/fixtures/docker-trimmed.json, written for these
//! tests in the shape of Docker's default profile) compiles, reports what it skipped, and
//! confines a real process.

mod common;

use std::path::PathBuf;

use common::*;
use kimigayo_sandbox::{compile_profile, SandboxSpec, SeccompChoice};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker-trimmed.json")
}

#[test]
fn docker_profile_compiles_with_warnings_for_foreign_names() {
    let f = compile_profile(&fixture()).unwrap();
    let w = f.warnings.join("\n");
    #[cfg(target_arch = "x86_64")]
    {
        assert!(
            w.contains("\"arm_fadvise64_64\" is not a syscall on x86_64"),
            "{w}"
        );
        assert!(w.contains("\"_llseek\""), "{w}");
        assert!(
            w.contains("$.syscalls[5]: skipped: only for architectures"),
            "{w}"
        );
    }
    assert!(
        w.contains("$.syscalls[8]: skipped: only for holders of"),
        "{w}"
    );
    assert!(
        w.contains("$.syscalls[9]: skipped: needs kernel 99.0"),
        "{w}"
    );
    // guard, default-ERRNO program, clone3 ENOSYS program
    assert_eq!(f.programs.len(), 3, "{f:?}");
}

#[test]
fn docker_profile_denies_what_it_does_not_allow() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SandboxSpec::default_for("web");
    spec.seccomp = SeccompChoice::Profile(fixture());
    let (code, out) = run_selftest(
        &spec,
        dir.path(),
        "docker",
        &[
            "reboot",
            "ptrace",
            "personality",
            "unshare",
            "kcmp",
            "mount",
        ],
    )
    .unwrap();
    assert_eq!(code, 0);
    let out = out.unwrap();
    assert_eq!(out.report.seccomp, 2);
    for name in [
        "reboot",
        "ptrace",
        "personality",
        "unshare",
        "kcmp",
        "mount",
    ] {
        assert_eq!(out.tries[name], libc::EPERM, "{name}: {:?}", out.tries);
    }
    assert_eq!(out.allowed["uname"], 0);
    assert_eq!(out.pid, 1);
}
