//! Property 4: every component is compiled with PIE, stack protection and FORTIFY_SOURCE.

mod common;

use common::*;
use kimigayo_hardening::{required, Level, Protection};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 4: 任意のシステムコンポーネントに対して、コンパイル時にPIE、スタック保護、FORTIFY_SOURCEが有効化されなければならない**
    #[test]
    fn every_component_built_at_full_has_pie_ssp_and_fortify(prog in c_program(), link in linkage()) {
        let dir = tempfile::tempdir().unwrap();
        let bin = compile(dir.path(), &prog, Level::Full, link);
        let report = kimigayo_audit::audit_file(&bin).unwrap().expect("an ELF executable");
        let missing = report.failures(required(Level::Full));
        prop_assert!(missing.is_empty(), "missing {:?} in\n{}", missing, prog.source());
        for p in [Protection::Pie, Protection::StackProtector, Protection::Fortify] {
            prop_assert_eq!(report.check(p).unwrap().status, kimigayo_audit::Status::Pass, "{}", p);
        }
        let out = run(&bin, link);
        prop_assert!(out.status.success());
        prop_assert_eq!(String::from_utf8_lossy(&out.stdout), prog.expected_output());
    }
}

/// The real packages in the repository pass the same audit (what `make` built).
#[test]
fn built_packages_pass_the_full_audit() {
    let repo = tempfile::tempdir().unwrap();
    let mut b = kimigayo_build::Builder::new(config(repo.path()), &kimigayo_build::Quiet).unwrap();
    let outcomes = b.build(&["busybox".into(), "musl".into()]).unwrap();
    let files: usize = outcomes.iter().map(|o| o.audit.len()).sum();
    assert!(files >= 2, "busybox and the musl loader must have been audited");
    let loader = outcomes.iter().flat_map(|o| &o.audit).find(|r| r.path == "lib/ld-musl-x86_64.so.1").expect("musl's loader was audited");
    assert_eq!(loader.kind, kimigayo_audit::ElfKind::SharedObject, "the loader is libc.so itself");
    assert_eq!(loader.interpreter, None);
    let bb = outcomes.iter().flat_map(|o| &o.audit).find(|r| r.path == "bin/busybox").expect("busybox was audited");
    assert_eq!(bb.kind, kimigayo_audit::ElfKind::StaticPie);
    for o in &outcomes {
        for r in &o.audit {
            assert_eq!(r.libc, kimigayo_audit::Libc::Musl, "{}", r.path);
            assert_eq!(r.check(Protection::Pie).unwrap().status, kimigayo_audit::Status::Pass, "{}", r.path);
        }
    }
}
