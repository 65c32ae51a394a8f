//! Property 14: for any package distribution, the package manager checks integrity with
//! cryptographic signatures — the repository index included (tampering, untrusted keys,
//! expiry and replayed older indexes are refused; nothing changes).

mod common;

use std::fs;
use std::time::{Duration, SystemTime};

use common::*;
use kimigayo_txn::NoFaults;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Attack {
    None,
    IndexByte(usize),
    SignatureByte(usize),
    UntrustedKey,
    Expired,
    Replay,
}

fn attack() -> impl Strategy<Value = Attack> {
    prop_oneof![
        2 => Just(Attack::None),
        2 => any::<usize>().prop_map(Attack::IndexByte),
        1 => any::<usize>().prop_map(Attack::SignatureByte),
        1 => Just(Attack::UntrustedKey),
        1 => Just(Attack::Expired),
        1 => Just(Attack::Replay),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 14: 任意のパッケージ配布に対して、Package_Managerは暗号化署名を使用して整合性を検証しなければならない**
    #[test]
    fn any_distribution_is_integrity_checked(n in 1usize..4, a in attack(), serial in 2u64..1000) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let specs: Vec<Spec> = (0..n).map(|i| Spec::new(&format!("q{i}"), "2.0-r1")).collect();
        write_packages(&repo, &specs);
        let root = new_root(dir.path(), &repo, "x86_64");
        if matches!(a, Attack::Replay) {
            // The root already accepted a newer index; an older one is offered again.
            sign(&repo, serial + 1, vec![]);
            open(&root).add(&["q0".to_string()], &NoFaults).unwrap();
            open(&root).del(&["q0".to_string()], &NoFaults).unwrap();
        }
        match &a {
            Attack::Expired => {
                kimigayo_pkg::build_index(&repo, key(), serial, Duration::from_secs(60), vec![], SystemTime::now() - Duration::from_secs(3600)).unwrap();
            }
            Attack::UntrustedKey => {
                let mallory = kimigayo_sign::SecretKey::generate("Mallory <m@evil.test>", None).unwrap();
                kimigayo_pkg::build_index(&repo, &mallory, serial, Duration::from_secs(86_400), vec![], SystemTime::now()).unwrap();
            }
            _ => sign(&repo, serial, vec![]),
        }
        match a {
            Attack::IndexByte(i) => {
                let mut b = fs::read(repo.join("index.json")).unwrap();
                let k = i % b.len();
                b[k] = if b[k] == b'1' { b'2' } else { b'1' };
                fs::write(repo.join("index.json"), b).unwrap();
            }
            Attack::SignatureByte(i) => {
                let s = fs::read_to_string(repo.join("index.json.sig")).unwrap();
                fs::write(repo.join("index.json.sig"), corrupt_signature(&s, i)).unwrap();
            }
            _ => {}
        }
        let db_before = fs::read(root.join("var/lib/kpkg/installed.json")).ok();
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let r = open(&root).add(&names, &NoFaults);
        match a {
            Attack::None => prop_assert!(r.is_ok(), "{:?}", r.err()),
            _ => {
                let e = r.expect_err("a bad index was accepted").to_string();
                prop_assert!(e.contains("repository index from"), "{}", e);
                prop_assert_eq!(fs::read(root.join("var/lib/kpkg/installed.json")).ok(), db_before);
                prop_assert!(!root.join("usr").exists(), "files were installed from a bad index");
            }
        }
    }
}
