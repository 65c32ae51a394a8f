//! Fault injection at every step: ENOSPC in-process, SIGKILL in a child process, and
//! SIGKILL during recovery itself.

mod common;

use common::child::{run_child, Counting, NoSpaceAt, Role};
use common::snapshot::assert_state;
use common::{build, rich_scenario, stage, Rng, Scenario};
use kimigayo_txn::{commit, recover, recover_with, Recovery};
use std::time::Instant;

#[test]
fn child_entry() {
    common::child::child_main();
}

fn expected_db<'a>(sc: &'a Scenario, r: &common::Reference, k: usize) -> &'a [u8] {
    if k <= r.commit_at {
        &sc.db_old
    } else {
        &sc.db_new
    }
}

#[test]
fn fault_points_cover_every_step() {
    let sc = rich_scenario(1);
    let r = common::Reference::new(&sc);
    let p = &r.points;
    assert_eq!(&p[..2], ["database-write", "stage"]);
    let journal_at = p.iter().position(|x| x == "journal-write").unwrap();
    assert!(
        p[2..journal_at].iter().all(|x| x.starts_with("stage:")),
        "{p:?}"
    );
    assert_eq!(
        &p[p.len() - 4..],
        ["sync", "database-rename", "cleanup", "journal-remove"]
    );
    for want in [
        "backup:bin/sh",
        "put:bin/sh",
        "backup:bin/ls",
        "mkdir:new",
        "mkdir:new/nested/deep",
        "meta:etc",
        "backup:etc/old.d",
        "put:usr/bin/sh",
    ] {
        assert!(
            p.iter().any(|x| x == want),
            "no fault point {want} in {p:?}"
        );
    }
    assert!(
        !p.iter().any(|x| x.ends_with("srv/keep")),
        "a kept directory must not be touched: {p:?}"
    );
}

#[test]
fn enospc_at_every_fault_point() {
    let start = Instant::now();
    let mut tried = 0;
    for seed in [1, 2] {
        let sc = rich_scenario(seed);
        let r = common::Reference::new(&sc);
        for k in 0..r.points.len() {
            let t = tempfile::tempdir().unwrap();
            let p = build(t.path(), &sc);
            let faults = NoSpaceAt::new(k);
            let res = commit(&p, stage(&p, &sc), &faults);
            let what = format!("seed {seed}, ENOSPC at {k} ({})", r.points[k]);
            assert_eq!(
                faults.point.borrow().as_deref(),
                Some(r.points[k].as_str()),
                "{what}"
            );
            if k <= r.commit_at {
                let e = res.expect_err(&what);
                let msg = e.to_string();
                assert!(e.is_no_space(), "{what}: {msg}");
                assert!(
                    msg.starts_with("no space left on device while "),
                    "{what}: {msg}"
                );
                assert!(
                    msg.contains("; nothing was changed (rolled back)"),
                    "{what}: {msg}"
                );
                assert_state(&p.root, &r.old, &sc.db_old, &what);
                assert_eq!(recover(&p).unwrap(), Recovery::Nothing, "{what}");
            } else {
                let rep = res.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(rep.cleanup_deferred, "{what}");
                assert_eq!(recover(&p).unwrap(), Recovery::RolledForward, "{what}");
            }
            assert_state(&p.root, r.expected(k), expected_db(&sc, &r, k), &what);
            tried += 1;
        }
    }
    eprintln!(
        "ENOSPC: {tried} fault points tried in {:?}",
        start.elapsed()
    );
}

#[test]
fn sigkill_at_every_fault_point() {
    let start = Instant::now();
    let mut tried = 0;
    for seed in [1, 2, 3] {
        let sc = rich_scenario(seed);
        let r = common::Reference::new(&sc);
        for k in 0..r.points.len() {
            let t = tempfile::tempdir().unwrap();
            let p = build(t.path(), &sc);
            run_child(t.path(), &sc, Role::Commit, k);
            let what = format!("seed {seed}, SIGKILL at {k} ({})", r.points[k]);
            let journal_at = r.points.iter().position(|x| x == "journal-write").unwrap();
            let want = match k {
                _ if k <= journal_at => Recovery::Nothing,
                _ if k <= r.commit_at => Recovery::RolledBack { ops: sc.ops.len() },
                _ => Recovery::RolledForward,
            };
            assert_eq!(recover(&p).unwrap(), want, "{what}");
            assert_state(&p.root, r.expected(k), expected_db(&sc, &r, k), &what);
            assert_eq!(
                recover(&p).unwrap(),
                Recovery::Nothing,
                "{what}: second recovery"
            );
            assert_state(&p.root, r.expected(k), expected_db(&sc, &r, k), &what);
            tried += 1;
        }
    }
    eprintln!(
        "SIGKILL: {tried} fault points tried in {:?}",
        start.elapsed()
    );
}

#[test]
fn sigkill_during_recovery() {
    let start = Instant::now();
    let sc = rich_scenario(7);
    let r = common::Reference::new(&sc);
    let mut rng = Rng::new(7);
    let n = r.points.len();
    // Mid-apply, at the commit point itself, and after it.
    let journal_at = r.points.iter().position(|x| x == "journal-write").unwrap();
    let mid = |rng: &mut Rng| journal_at + 1 + rng.below(r.commit_at - journal_at - 1);
    let ks = [
        mid(&mut rng),
        mid(&mut rng),
        r.commit_at,
        r.commit_at + 1,
        n - 1,
    ];
    let mut tried = 0;
    for k in ks {
        let t = tempfile::tempdir().unwrap();
        let p = build(t.path(), &sc);
        run_child(t.path(), &sc, Role::Commit, k);
        let counting = Counting::default();
        recover_with(&p, &counting).unwrap();
        let m = counting.names().len();
        assert!(m >= 2, "recovery after a kill at {k} has fault points");
        for j in 0..m {
            let t = tempfile::tempdir().unwrap();
            let p = build(t.path(), &sc);
            run_child(t.path(), &sc, Role::Commit, k);
            run_child(t.path(), &sc, Role::Recover, j);
            // Every other time, kill the next recovery too, at a random point.
            if j % 2 == 1 {
                run_child(t.path(), &sc, Role::Recover, rng.below(m));
            }
            let what = format!(
                "SIGKILL at commit point {k} ({}), then in recovery at {j}",
                r.points[k]
            );
            assert_ne!(recover(&p).unwrap(), Recovery::Nothing, "{what}");
            assert_state(&p.root, r.expected(k), expected_db(&sc, &r, k), &what);
            assert_eq!(
                recover(&p).unwrap(),
                Recovery::Nothing,
                "{what}: second recovery"
            );
            tried += 1;
        }
    }
    eprintln!(
        "SIGKILL during recovery: {tried} recovery points tried in {:?}",
        start.elapsed()
    );
}

#[test]
fn commit_recovers_a_pending_journal_first() {
    let sc = rich_scenario(5);
    let r = common::Reference::new(&sc);
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &sc);
    run_child(t.path(), &sc, Role::Commit, r.commit_at - 1);
    let next = Scenario {
        initial: vec![],
        ops: vec![common::OpSpec::Put {
            path: "hello".into(),
            node: common::Node::File {
                data: b"hi".to_vec(),
                mode: 0o644,
                uid: common::ids().0,
                gid: common::ids().1,
            },
        }],
        db_old: sc.db_old.clone(),
        db_new: b"after".to_vec(),
    };
    let rep = commit(&p, stage(&p, &next), &kimigayo_txn::NoFaults).unwrap();
    assert_eq!(rep.recovered, Recovery::RolledBack { ops: sc.ops.len() });
    let want = common::model::apply(&r.old, &next.ops).unwrap();
    assert_state(&p.root, &want, b"after", "commit after a crash");
}
