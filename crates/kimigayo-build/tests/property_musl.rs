//! Property 28: every compilation uses musl libc as the C library.

mod common;

use common::*;
use kimigayo_audit::{Libc, Status};
use kimigayo_hardening::{Level, Linkage};
use proptest::prelude::*;

fn level() -> impl Strategy<Value = Level> {
    prop_oneof![Just(Level::Full), Just(Level::Basic), Just(Level::None)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 28: 任意のソフトウェアコンパイルに対して、Build_Systemは標準Cライブラリとしてmusl libcを使用しなければならない**
    #[test]
    fn every_compilation_links_musl(prog in c_program(), link in linkage(), lvl in level()) {
        let dir = tempfile::tempdir().unwrap();
        let bin = compile(dir.path(), &prog, lvl, link);
        let r = kimigayo_audit::audit_file(&bin).unwrap().expect("ELF executable");
        prop_assert_eq!(r.libc, Libc::Musl, "{}", r.libc_evidence);
        prop_assert!(!r.needed.iter().any(|n| n.contains("libc.so.6")), "{:?}", r.needed);
        if link == Linkage::Dynamic {
            prop_assert_eq!(r.interpreter.as_deref(), Some("/lib/ld-musl-x86_64.so.1"));
            prop_assert_eq!(&r.needed, &vec!["libc.so".to_string()]);
        }
        // No glibc symbol versions or markers anywhere in the file.
        let bytes = std::fs::read(&bin).unwrap();
        prop_assert!(!bytes.windows(6).any(|w| w == b"GLIBC_"), "glibc symbol versions found");
        let _ = Status::Pass;
        let out = run(&bin, link);
        prop_assert!(out.status.success(), "{:?}", out);
        prop_assert_eq!(String::from_utf8_lossy(&out.stdout), prog.expected_output());
    }
}
