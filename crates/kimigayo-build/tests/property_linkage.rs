//! Property 29: the build system supports both static and dynamic linking for any binary.

mod common;

use common::*;
use kimigayo_audit::ElfKind;
use kimigayo_hardening::{Level, Linkage};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 29: 任意のバイナリに対して、Build_Systemは静的リンクと動的リンクの両方のオプションをサポートしなければならない**
    #[test]
    fn any_binary_links_both_statically_and_dynamically(prog in c_program(), hardened in any::<bool>()) {
        let lvl = if hardened { Level::Full } else { Level::None };
        for link in [Linkage::Static, Linkage::Dynamic] {
            let dir = tempfile::tempdir().unwrap();
            let bin = compile(dir.path(), &prog, lvl, link);
            let r = kimigayo_audit::audit_file(&bin).unwrap().expect("ELF executable");
            let expected = match (link, hardened) {
                (Linkage::Static, true) => ElfKind::StaticPie,
                (Linkage::Static, false) => ElfKind::StaticExec,
                (Linkage::Dynamic, true) => ElfKind::Pie,
                (Linkage::Dynamic, false) => ElfKind::DynamicExec,
            };
            prop_assert_eq!(r.kind, expected, "{:?} at {}", link, lvl);
            match link {
                Linkage::Static => {
                    prop_assert!(r.interpreter.is_none() && r.needed.is_empty(), "static binary needs {:?}", r.needed);
                }
                Linkage::Dynamic => {
                    prop_assert_eq!(r.interpreter.as_deref(), Some("/lib/ld-musl-x86_64.so.1"));
                }
            }
            let out = run(&bin, link);
            prop_assert!(out.status.success(), "{:?}", out);
            prop_assert_eq!(String::from_utf8_lossy(&out.stdout), prog.expected_output());
        }
    }
}
