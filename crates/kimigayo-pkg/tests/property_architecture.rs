//! Property 18: the package manager handles binaries of every architecture correctly:
//! matching and noarch packages install, foreign ones are refused and never unpacked.

mod common;

use common::*;
use kimigayo_txn::NoFaults;
use proptest::prelude::*;

fn arch() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["x86_64", "aarch64", "noarch"])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 18: 任意のアーキテクチャのバイナリに対して、Package_Managerは正しい処理を実行しなければならない**
    #[test]
    fn architectures_are_handled(arches in prop::collection::vec(arch(), 1..5), root_arch in prop::sample::select(vec!["x86_64", "aarch64"])) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let specs: Vec<Spec> = arches.iter().enumerate().map(|(i, a)| Spec::new(&format!("a{i}"), "1.0-r1").arch(a).file(&format!("usr/bin/a{i}"), a.as_bytes())).collect();
        write_packages(&repo, &specs);
        sign(&repo, 1, vec![]);
        let root = new_root(dir.path(), &repo, root_arch);
        for (i, a) in arches.iter().enumerate() {
            let name = format!("a{i}");
            let r = open(&root).add(&[name.clone()], &NoFaults);
            let bin = root.join(format!("usr/bin/{name}"));
            let fits = *a == "noarch" || *a == root_arch;
            if fits {
                prop_assert!(r.is_ok(), "{:?}", r.err());
                prop_assert!(bin.is_file());
            } else {
                let e = r.expect_err("foreign architecture installed").to_string();
                prop_assert!(e.contains(a) && e.contains(root_arch), "{}", e);
                prop_assert!(!bin.exists());
            }
        }
        // The stage-level check refuses a foreign package even if something asked for it directly.
        let foreign = if root_arch == "x86_64" { "aarch64" } else { "x86_64" };
        let mut meta = kimigayo_package::PackageMeta { architecture: foreign.into(), ..open_meta(&repo, &specs[0]) };
        meta.architecture = foreign.into();
        let e = kimigayo_pkg::stage::verify(&meta, b"", &open(&root).keys, root_arch, std::time::SystemTime::now()).unwrap_err().to_string();
        prop_assert!(e.contains("nothing was unpacked"), "{}", e);
    }
}

fn open_meta(repo: &std::path::Path, s: &Spec) -> kimigayo_package::PackageMeta {
    let p = repo.join(&s.arch).join(format!("{}-{}.{}.json", s.name, s.version, s.arch));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}
