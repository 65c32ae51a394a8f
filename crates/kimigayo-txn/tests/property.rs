//! Property: random roots, random transactions, a random fault (ENOSPC in-process or
//! SIGKILL in a child process) at a random point, then recovery: the root is exactly
//! the old or the new state, never a mixture; without a fault, exactly the new state
//! (as computed by the reference model).

mod common;

use common::child::{run_child, NoSpaceAt, Role};
use common::snapshot::assert_state;
use common::{build, owners, stage, Node, OpSpec, Reference, Scenario};
use kimigayo_txn::{commit, recover, Recovery};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[test]
fn child_entry() {
    common::child::child_main();
}

/// Every path of depth 1 to 3 over the names a, b, c.
fn universe() -> Vec<String> {
    let names = ["a", "b", "c"];
    let mut out: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    for depth in 1..3 {
        let prev: Vec<String> = out
            .iter()
            .filter(|p| p.matches('/').count() == depth - 1)
            .cloned()
            .collect();
        for p in prev {
            for n in names {
                out.push(format!("{p}/{n}"));
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
struct NodeChoice {
    kind: u8,
    data: Vec<u8>,
    pick: u8,
    owner: u8,
}

fn node_choice() -> impl Strategy<Value = NodeChoice> {
    (
        0u8..3,
        prop::collection::vec(any::<u8>(), 0..24),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(|(kind, data, pick, owner)| NodeChoice {
            kind,
            data,
            pick,
            owner,
        })
}

fn to_node(c: &NodeChoice) -> Node {
    let own = owners();
    let (uid, gid) = own[c.owner as usize % own.len()];
    let pick = |xs: &[u32]| xs[c.pick as usize % xs.len()];
    match c.kind {
        0 => Node::File {
            data: c.data.clone(),
            mode: pick(&[0o644, 0o600, 0o755, 0o4755, 0o2711, 0o400]),
            uid,
            gid,
        },
        1 => Node::Dir {
            mode: pick(&[0o755, 0o700, 0o1777, 0o2750]),
            uid,
            gid,
        },
        _ => {
            let targets = ["a", "b/c", "/a/b", "../../x", "nowhere"];
            Node::Symlink {
                target: targets[c.pick as usize % targets.len()].to_string(),
            }
        }
    }
}

fn has_proper_prefix_in(path: &str, set: &BTreeMap<String, bool>) -> bool {
    set.keys().any(|q| path.starts_with(&format!("{q}/")))
}

prop_compose! {
    fn scenario()(
        initial in prop::collection::vec((0usize..39, node_choice()), 0..14),
        ops in prop::collection::vec((0usize..39, prop::bool::weighted(0.35), node_choice()), 0..10),
        db_old in prop::collection::vec(any::<u8>(), 0..16),
        db_new in prop::collection::vec(any::<u8>(), 0..16),
    ) -> Scenario {
        let u = universe();
        // Initial tree: parents before children, nothing below a file or symlink.
        let mut init: Vec<(String, Node)> = Vec::new();
        let mut leaves: BTreeMap<String, bool> = BTreeMap::new();
        let mut chosen = initial;
        chosen.sort_by_key(|(i, _)| u[*i].matches('/').count());
        for (i, c) in chosen {
            let path = &u[i];
            let node = to_node(&c);
            if init.iter().any(|(p, _)| p == path) || has_proper_prefix_in(path, &leaves) {
                continue;
            }
            if !matches!(node, Node::Dir { .. }) {
                leaves.insert(path.clone(), matches!(node, Node::Symlink { .. }));
            }
            init.push((path.clone(), node));
        }
        // Ops: distinct paths, none going through a symlink (old or new); the model does
        // not follow symlinks, dedicated tests cover that.
        let symlinks: BTreeMap<String, bool> = init
            .iter()
            .filter(|(_, n)| matches!(n, Node::Symlink { .. }))
            .map(|(p, _)| (p.clone(), true))
            .chain(ops.iter().filter(|(_, rm, c)| !rm && c.kind == 2).map(|(i, _, _)| (u[*i].clone(), true)))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for (i, remove, c) in ops {
            let path = u[i].clone();
            if !seen.insert(path.clone()) || has_proper_prefix_in(&path, &symlinks) {
                continue;
            }
            out.push(if remove { OpSpec::Remove { path } } else { OpSpec::Put { path, node: to_node(&c) } });
        }
        Scenario { initial: init, ops: out, db_old, db_new }
    }
}

fn check(sc: &Scenario, sel: u16, kill: bool) {
    let r = Reference::new(sc);
    if r.new.is_none() || r.points.is_empty() {
        return; // refused up front (checked by Reference): nothing to interrupt
    }
    let k = sel as usize % r.points.len();
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), sc);
    let what = format!(
        "{} at {k} ({})",
        if kill { "SIGKILL" } else { "ENOSPC" },
        r.points[k]
    );
    if kill {
        run_child(t.path(), sc, Role::Commit, k);
        recover(&p).unwrap();
    } else {
        let res = commit(&p, stage(&p, sc), &NoSpaceAt::new(k));
        if k <= r.commit_at {
            let e = res.expect_err(&what);
            assert!(
                e.is_no_space() && e.to_string().contains("nothing was changed (rolled back)"),
                "{what}: {e}"
            );
            assert_state(&p.root, &r.old, &sc.db_old, &what);
        }
        recover(&p).unwrap();
    }
    let db = if k <= r.commit_at {
        &sc.db_old
    } else {
        &sc.db_new
    };
    assert_state(&p.root, r.expected(k), db, &what);
    assert_eq!(
        recover(&p).unwrap(),
        Recovery::Nothing,
        "{what}: second recovery"
    );
    assert_state(&p.root, r.expected(k), db, &what);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 15: 任意のアップデート操作に対して、Package_Managerは完全に成功するか完全に失敗するかのアトミック性を保証しなければならない**
    #[test]
    fn update_is_all_or_nothing(sc in scenario(), sel in any::<u16>(), kill in prop::bool::weighted(0.25)) {
        check(&sc, sel, kill);
    }
}
