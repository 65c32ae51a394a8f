//! Property 6: every package installation verifies the GPG signature and the SHA-256 hash.

mod common;

use std::fs;

use common::*;
use kimigayo_txn::NoFaults;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Tamper {
    None,
    ArchiveByte(usize),
    Truncate(usize),
    SignatureByte(usize),
    DropSignature,
    ForeignSignature,
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        2 => Just(Tamper::None),
        2 => any::<usize>().prop_map(Tamper::ArchiveByte),
        1 => any::<usize>().prop_map(Tamper::Truncate),
        1 => any::<usize>().prop_map(Tamper::SignatureByte),
        1 => Just(Tamper::DropSignature),
        1 => Just(Tamper::ForeignSignature),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 6: 任意のパッケージインストールに対して、GPG署名とSHA-256ハッシュの検証が実行されなければならない**
    #[test]
    fn every_install_verifies_signature_and_hash(n in 1usize..4, victim in any::<prop::sample::Index>(), t in tamper(), data in prop::collection::vec(any::<u8>(), 1..2000)) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let specs: Vec<Spec> = (0..n).map(|i| Spec::new(&format!("p{i}"), "1.0-r1").file(&format!("usr/lib/p{i}.bin"), &data)).collect();
        write_packages(&repo, &specs);
        sign(&repo, 1, vec![]);
        let v = &specs[victim.index(n)];
        let archive = repo.join("x86_64").join(format!("{}-{}.x86_64.tar.gz", v.name, v.version));
        let json = archive.with_file_name(format!("{}-{}.x86_64.json", v.name, v.version));
        let mut meta: kimigayo_package::PackageMeta = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
        match &t {
            Tamper::None => {}
            Tamper::ArchiveByte(i) => { let mut b = fs::read(&archive).unwrap(); let k = i % b.len(); b[k] ^= 0x40; fs::write(&archive, b).unwrap(); }
            Tamper::Truncate(i) => { let b = fs::read(&archive).unwrap(); fs::write(&archive, &b[..i % b.len()]).unwrap(); }
            Tamper::SignatureByte(i) => {
                let s = meta.checksum.gpg_signature.clone().unwrap();
                meta.checksum.gpg_signature = Some(corrupt_signature(&s, *i));
            }
            Tamper::DropSignature => meta.checksum.gpg_signature = None,
            Tamper::ForeignSignature => {
                let other = kimigayo_sign::SecretKey::generate("Mallory <m@evil.test>", None).unwrap();
                meta.checksum.gpg_signature = Some(other.sign(&fs::read(&archive).unwrap()).unwrap());
            }
        }
        if matches!(t, Tamper::SignatureByte(_) | Tamper::DropSignature | Tamper::ForeignSignature) {
            // The index is re-signed by the repository key: only the package signature is wrong.
            fs::write(&json, meta.to_json()).unwrap();
            let idx_path = repo.join("index.json");
            let mut idx: kimigayo_pkg::RepoIndex = serde_json::from_slice(&fs::read(&idx_path).unwrap()).unwrap();
            for m in idx.packages.iter_mut().filter(|m| m.name == meta.name) { *m = meta.clone(); }
            let text = serde_json::to_vec_pretty(&idx).unwrap();
            fs::write(repo.join("index.json.sig"), key().sign(&text).unwrap()).unwrap();
            fs::write(&idx_path, text).unwrap();
        }
        let root = new_root(dir.path(), &repo, "x86_64");
        let before = snapshot(&root);
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let r = open(&root).add(&names, &NoFaults);
        match t {
            Tamper::None => {
                prop_assert!(r.is_ok(), "{:?}", r.err());
                prop_assert!(open(&root).verify().unwrap().is_empty());
            }
            _ => {
                let e = r.expect_err("tampered package installed").to_string();
                prop_assert!(e.contains(&format!("package {}-{}", v.name, v.version)), "{}", e);
                prop_assert!(e.contains("Nothing was changed"), "{}", e);
                let after = snapshot(&root);
                let after: std::collections::BTreeMap<_, _> = after.into_iter().filter(|(k, _)| !k.starts_with("var")).collect();
                let before: std::collections::BTreeMap<_, _> = before.into_iter().filter(|(k, _)| !k.starts_with("var")).collect();
                prop_assert_eq!(after, before, "the root changed after a refused install");
                prop_assert!(!root.join("var/lib/kpkg/installed.json").exists());
            }
        }
    }
}
