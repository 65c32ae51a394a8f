//! Property 8: for any update situation, security updates take priority over other updates.

mod common;

use common::*;
use kimigayo_pkg::Advisory;
use kimigayo_txn::NoFaults;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Pkg {
    /// a newer version exists
    update: bool,
    /// the newer version fixes an advisory
    security: bool,
    /// the newer version needs `blocker>=2`, which does not exist (its upgrade is impossible)
    blocked: bool,
    /// the newer (non-security) version conflicts with the first security fix
    clashes: bool,
}

fn pkg() -> impl Strategy<Value = Pkg> {
    (any::<bool>(), any::<bool>(), prop::bool::weighted(0.3), prop::bool::weighted(0.3)).prop_map(|(update, security, blocked, clashes)| {
        let security = update && security;
        Pkg { update, security, blocked: update && blocked && !security, clashes: update && clashes && !security }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 8: 任意のアップデート状況に対して、セキュリティアップデートが他のアップデートより優先されなければならない**
    #[test]
    fn security_updates_win(pkgs in prop::collection::vec(pkg(), 1..6), security_only in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let mut v1: Vec<Spec> = (0..pkgs.len()).map(|i| Spec::new(&format!("s{i}"), "1.0-r1")).collect();
        v1.push(Spec::new("blocker", "1.0-r1"));
        write_packages(&repo, &v1);
        sign(&repo, 1, vec![]);
        let root = new_root(dir.path(), &repo, "x86_64");
        let names: Vec<String> = (0..pkgs.len()).map(|i| format!("s{i}")).collect();
        open(&root).add(&names, &NoFaults).unwrap();

        // The next repository state: updates, some fixing advisories, some impossible.
        let mut v2 = Vec::new();
        let mut advisories = Vec::new();
        let first_secure = pkgs.iter().position(|p| p.security);
        for (i, p) in pkgs.iter().enumerate() {
            if p.update {
                let mut s = Spec::new(&format!("s{i}"), "1.1-r1");
                if p.blocked { s = s.deps(&["blocker>=2"]); }
                if let (true, Some(j)) = (p.clashes, first_secure) { s.conflicts = vec![format!("s{j}>=1.1-r1")]; }
                v2.push(s);
            }
            if p.security {
                advisories.push(Advisory { id: format!("CVE-2026-{i:04}"), package: format!("s{i}"), severity: "high".into(), fixed_in: "1.1-r1".into(), summary: "test".into() });
            }
        }
        write_packages(&repo, &v2);
        sign(&repo, 2, advisories);
        let audit_before = open(&root).audit().unwrap();
        prop_assert_eq!(audit_before.len(), pkgs.iter().filter(|p| p.security).count());

        let report = open(&root).upgrade(security_only, &NoFaults).unwrap_or_else(|e| panic!("{e}"));
        // Security changes come first in the report.
        let first_plain = report.changes.iter().position(|c| !c.security).unwrap_or(report.changes.len());
        prop_assert!(report.changes[first_plain..].iter().all(|c| !c.security), "{:?}", report.changes);
        let any_security = first_secure.is_some();
        let db = open(&root).database().unwrap();
        for (i, p) in pkgs.iter().enumerate() {
            let v = &db.packages[&format!("s{i}")].version;
            let expected = if p.security {
                "1.1-r1" // always applied, whatever else cannot be
            } else if !p.update || p.blocked || security_only || (p.clashes && any_security) {
                "1.0-r1" // impossible, not asked for, or would undo a security fix
            } else {
                "1.1-r1"
            };
            prop_assert_eq!(v, expected, "s{} {:?} security_only={}", i, p, security_only);
        }
        prop_assert!(open(&root).audit().unwrap().is_empty() || !any_security);
    }
}
