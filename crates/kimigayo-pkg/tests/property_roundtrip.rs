//! Property 30: every package the build system produces is processed correctly by the
//! package manager: it installs, `kpkg verify` is clean, and it removes cleanly.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;
use kimigayo_txn::NoFaults;
use proptest::prelude::*;

/// The real repository `make` builds (built or reused from the build cache), copied and signed.
fn real_repo() -> &'static (tempfile::TempDir, PathBuf, Vec<String>) {
    static R: OnceLock<(tempfile::TempDir, PathBuf, Vec<String>)> = OnceLock::new();
    R.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let mut cfg = kimigayo_build::default_config(&root).unwrap();
        cfg.repo_dir = repo.clone();
        let mut b = kimigayo_build::Builder::new(cfg, &kimigayo_build::Quiet).unwrap();
        let wanted = kimigayo_build::plan::without_kernels(&b.recipes);
        let out = b.build(&wanted).unwrap_or_else(|e| panic!("{e}"));
        let names = out.iter().flat_map(|o| o.packages.iter().map(|p| p.name.clone())).collect();
        sign(&repo, 1, vec![]);
        (dir, repo, names)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 30: 任意のソフトウェアに対して、Build_Systemで生成されたパッケージはPackage_Managerで正常に処理可能でなければならない**
    #[test]
    fn built_packages_round_trip_through_kpkg(pick in prop::collection::vec(any::<bool>(), 5)) {
        let (_, repo, names) = real_repo();
        let chosen: Vec<String> = names.iter().zip(pick.iter().cycle()).filter(|(_, p)| **p).map(|(n, _)| n.clone()).collect();
        prop_assume!(!chosen.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let root = new_root(dir.path(), repo, "x86_64");
        let before = snapshot(&root);
        let report = open(&root).add(&chosen, &NoFaults).unwrap_or_else(|e| panic!("{e}"));
        prop_assert!(report.changes.len() >= chosen.len());
        prop_assert_eq!(open(&root).verify().unwrap(), Vec::<String>::new());
        if chosen.iter().any(|n| n == "busybox") {
            let out = std::process::Command::new(root.join("bin/busybox")).args(["echo", "round-trip"]).output().unwrap();
            prop_assert_eq!(String::from_utf8_lossy(&out.stdout), "round-trip\n");
        }
        let db = open(&root).database().unwrap();
        let installed: Vec<String> = db.packages.keys().cloned().collect();
        open(&root).del(&chosen, &NoFaults).unwrap_or_else(|e| panic!("{e}"));
        let after: std::collections::BTreeMap<_, _> = snapshot(&root).into_iter().filter(|(k, _)| !k.starts_with("var")).collect();
        let before: std::collections::BTreeMap<_, _> = before.into_iter().filter(|(k, _)| !k.starts_with("var")).collect();
        prop_assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "leftovers after removing {:?}", installed);
        let _ = fs::metadata(&root);
    }
}
