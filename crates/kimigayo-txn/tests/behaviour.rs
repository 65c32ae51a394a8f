//! End-to-end behaviour of commit and recover on a real filesystem.

mod common;

use common::child::NoSpaceAt;
use common::snapshot::{assert_state, leftovers, snapshot, Snap};
use common::{
    build, ids, is_root, rel, rich_scenario, stage, Node, OpSpec, Reference, Scenario, DB, STATE,
};
use kimigayo_txn::{
    commit, recover, staging_dir, Entry, NoFaults, Op, Recovery, Transaction, TxError,
};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};

fn file(data: &[u8], mode: u32) -> Node {
    let (uid, gid) = ids();
    Node::File {
        data: data.to_vec(),
        mode,
        uid,
        gid,
    }
}

fn dir(mode: u32) -> Node {
    let (uid, gid) = ids();
    Node::Dir { mode, uid, gid }
}

fn put(path: &str, node: Node) -> OpSpec {
    OpSpec::Put {
        path: path.into(),
        node,
    }
}

fn rm(path: &str) -> OpSpec {
    OpSpec::Remove { path: path.into() }
}

fn scenario(initial: Vec<(&str, Node)>, ops: Vec<OpSpec>) -> Scenario {
    let initial = initial
        .into_iter()
        .map(|(p, n)| (p.to_string(), n))
        .collect();
    Scenario {
        initial,
        ops,
        db_old: b"old db".to_vec(),
        db_new: b"new db".to_vec(),
    }
}

#[test]
fn a_rich_transaction_does_what_it_says_and_reports_it() {
    let sc = rich_scenario(1);
    Reference::new(&sc); // the model check without faults
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &sc);
    let rep = commit(&p, stage(&p, &sc), &NoFaults).unwrap();
    assert_eq!(rep.kept_dirs, vec![rel("srv/keep")]);
    let created: Vec<&str> = rep.created_dirs.iter().map(|d| d.as_str()).collect();
    assert_eq!(created, ["new", "new/nested", "new/nested/deep", "usr/bin"]);
    assert_eq!(
        (rep.placed, rep.removed, rep.absent),
        (10, 3, 1),
        "removed: bin/ls, etc/old.d/x, etc/old.d; {rep:?}"
    );
    assert_eq!(rep.recovered, Recovery::Nothing);
    assert!(!rep.cleanup_deferred);
    let s = snapshot(&p.root);
    assert!(matches!(&s["lib/link"], Snap::Symlink { target, .. } if target == "libc.so.2"));
    assert!(matches!(&s["opt/dirtofile"], Snap::File { .. }));
    assert!(matches!(&s["opt/filetodir"], Snap::Dir { mode: 0o751, .. }));
    assert!(
        matches!(&s["etc"], Snap::Dir { mode: 0o750, .. }) && s.contains_key("etc/conf"),
        "in-place dir change keeps contents"
    );
    assert!(!s.contains_key("etc/old.d") && s.contains_key("srv/keep/data"));
}

#[test]
fn modes_and_owners_are_applied_exactly_setid_bits_survive_chown() {
    let (uid, gid) = if is_root() { (1000, 100) } else { ids() };
    let sc = scenario(
        vec![],
        vec![
            put(
                "usr/bin/su",
                Node::File {
                    data: b"su".to_vec(),
                    mode: 0o6755,
                    uid,
                    gid,
                },
            ),
            put(
                "var/mail",
                Node::Dir {
                    mode: 0o2775,
                    uid,
                    gid,
                },
            ),
            put(
                "tmp",
                Node::Dir {
                    mode: 0o1777,
                    uid: ids().0,
                    gid: ids().1,
                },
            ),
            put(
                "usr/bin/sh",
                Node::Symlink {
                    target: "busybox".into(),
                },
            ),
        ],
    );
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &sc);
    commit(&p, stage(&p, &sc), &NoFaults).unwrap();
    let m = fs::symlink_metadata(p.root.join("usr/bin/su")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o6755, uid, gid));
    let m = fs::symlink_metadata(p.root.join("var/mail")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o2775, uid, gid));
    assert_eq!(
        fs::symlink_metadata(p.root.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    let m = fs::symlink_metadata(p.root.join("usr/bin/sh")).unwrap();
    assert!(m.file_type().is_symlink());
    assert_eq!((m.uid(), m.gid()), ids());
    let m = fs::symlink_metadata(p.root.join("usr/bin")).unwrap();
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.gid()),
        (0o755, ids().0, ids().1),
        "created parents: 0755, ours"
    );
}

#[test]
fn a_file_cannot_replace_a_directory_that_stays_non_empty() {
    let sc = scenario(
        vec![("d/child", file(b"x", 0o644))],
        vec![put("d", file(b"f", 0o644)), put("n", file(b"n", 0o644))],
    );
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &sc);
    let old = snapshot(&p.root);
    let e = commit(&p, stage(&p, &sc), &NoFaults).unwrap_err();
    assert!(matches!(e, TxError::Conflict { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("\"d\"") && msg.contains("\"child\"") && msg.contains("nothing was changed"),
        "{msg}"
    );
    assert_state(
        &p.root,
        &old,
        b"old db",
        "refused transaction (staged files consumed too)",
    );
}

#[test]
fn directories_are_removed_only_if_empty_after_the_whole_transaction() {
    let sc = scenario(
        vec![
            ("d/x", file(b"x", 0o644)),
            ("d/sub/y", file(b"y", 0o644)),
            ("e/y", file(b"y", 0o644)),
            ("f", dir(0o755)),
        ],
        vec![
            rm("d"),
            rm("d/sub"),
            rm("e"),
            rm("d/x"),
            rm("d/sub/y"),
            rm("f"),
            put("f/new", file(b"n", 0o644)),
        ],
    );
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &sc);
    let rep = commit(&p, stage(&p, &sc), &NoFaults).unwrap();
    assert_eq!(rep.kept_dirs, vec![rel("e"), rel("f")]);
    let s = snapshot(&p.root);
    assert!(
        !s.contains_key("d") && s.contains_key("e/y") && s.contains_key("f/new"),
        "{s:?}"
    );
}

#[test]
fn symlinks_in_the_root_never_redirect_writes_or_removals_outside_it() {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("victim"), b"keep me").unwrap();
    let host_tmp = format!("/tmp/kimigayo-txn-evil-{}", std::process::id());
    assert!(fs::symlink_metadata(&host_tmp).is_err());
    let sc = scenario(
        vec![
            (
                "lib",
                Node::Symlink {
                    target: outside.display().to_string(),
                },
            ),
            (
                "up",
                Node::Symlink {
                    target: "../../..".into(),
                },
            ),
            (
                "tmpevil",
                Node::Symlink {
                    target: host_tmp.clone(),
                },
            ),
            (
                "sib",
                Node::Symlink {
                    target: "../outside".into(),
                },
            ),
            (
                "victim",
                Node::Symlink {
                    target: outside.join("victim").display().to_string(),
                },
            ),
        ],
        vec![
            put("lib/x", file(b"x", 0o644)),
            put("up/y", file(b"y", 0o644)),
            put("tmpevil/z", file(b"z", 0o644)),
            put("sib/w", dir(0o755)),
            rm("lib/victim"),
            rm("sib/victim"),
            put("victim", file(b"replaced the link, not its target", 0o644)),
        ],
    );
    let outside_before = snapshot(&outside);
    for k in [usize::MAX, 12] {
        let t2 = tempfile::tempdir_in(t.path()).unwrap();
        let p = build(t2.path(), &sc);
        let res = commit(&p, stage(&p, &sc), &NoSpaceAt::new(k));
        assert_eq!(res.is_ok(), k == usize::MAX);
        assert_eq!(
            snapshot(&outside),
            outside_before,
            "outside the root changed (fault {k})"
        );
        assert!(
            fs::symlink_metadata(&host_tmp).is_err(),
            "{host_tmp} was created on the host"
        );
        if k == usize::MAX {
            let inner = p.root.join(outside.strip_prefix("/").unwrap());
            assert_eq!(fs::read(inner.join("x")).unwrap(), b"x");
            assert_eq!(fs::read(p.root.join("y")).unwrap(), b"y");
            assert_eq!(
                fs::read(p.root.join(host_tmp.trim_start_matches('/')).join("z")).unwrap(),
                b"z"
            );
            assert!(p.root.join("outside/w").is_dir());
            assert!(fs::symlink_metadata(p.root.join("victim"))
                .unwrap()
                .is_file());
        }
    }
}

#[test]
fn state_directory_database_and_the_way_to_them_are_reserved() {
    let t = tempfile::tempdir().unwrap();
    let sc = scenario(vec![], vec![]);
    let p = build(t.path(), &sc);
    let cases: Vec<OpSpec> = vec![
        put("var/lib/kpkg/x", file(b"", 0o644)),
        rm(DB),
        put(STATE, dir(0o755)),
        rm("var/lib/kpkg/journal.json"),
    ];
    for op in cases {
        let one = Scenario {
            ops: vec![op.clone()],
            ..sc.clone()
        };
        let e = commit(&p, stage(&p, &one), &NoFaults).unwrap_err();
        assert!(matches!(e, TxError::Reserved { .. }), "{op:?}: {e:?}");
    }
    // A symlink on the way to the state directory cannot be replaced or removed.
    let t = tempfile::tempdir().unwrap();
    let linked = scenario(vec![], vec![]);
    let p = common::paths(t.path());
    fs::create_dir_all(p.root.join("data/var/lib/kpkg")).unwrap();
    symlink("data/var", p.root.join("var")).unwrap();
    fs::write(p.root.join(DB), b"old db").unwrap();
    for op in [rm("var"), put("var", dir(0o755))] {
        let one = Scenario {
            ops: vec![op.clone()],
            ..linked.clone()
        };
        let e = commit(&p, stage(&p, &one), &NoFaults).unwrap_err();
        assert!(matches!(e, TxError::Reserved { .. }), "{op:?}: {e:?}");
    }
    assert_eq!(
        fs::read_link(p.root.join("var")).unwrap().to_str(),
        Some("data/var")
    );
    assert_eq!(fs::read(p.root.join(DB)).unwrap(), b"old db");
    assert_eq!(leftovers(&p.root), Vec::<String>::new());
}

#[test]
fn two_paths_reaching_the_same_place_are_refused() {
    let sc = scenario(
        vec![
            ("usr/lib", dir(0o755)),
            (
                "lib",
                Node::Symlink {
                    target: "usr/lib".into(),
                },
            ),
        ],
        vec![
            put("lib/x", file(b"1", 0o644)),
            put("usr/lib/x", file(b"2", 0o644)),
        ],
    );
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &sc);
    let old = snapshot(&p.root);
    let e = commit(&p, stage(&p, &sc), &NoFaults).unwrap_err();
    assert!(
        matches!(&e, TxError::Duplicate { resolved, .. } if resolved == "usr/lib/x"),
        "{e:?}"
    );
    assert_state(&p.root, &old, b"old db", "refused");
}

#[test]
fn a_parent_that_is_a_file_is_refused() {
    let sc = scenario(
        vec![("a", file(b"a", 0o644))],
        vec![put("n", file(b"n", 0o644)), put("a/b", file(b"b", 0o644))],
    );
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &sc);
    let old = snapshot(&p.root);
    let e = commit(&p, stage(&p, &sc), &NoFaults).unwrap_err();
    assert!(matches!(e, TxError::NotADirectory { .. }), "{e:?}");
    assert_state(&p.root, &old, b"old db", "refused");
}

#[test]
fn staged_files_must_live_in_the_staging_directory() {
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &scenario(vec![], vec![]));
    let elsewhere = t.path().join("elsewhere");
    fs::write(&elsewhere, b"not staged").unwrap();
    let tx = Transaction {
        ops: vec![Op::Put {
            path: rel("x"),
            entry: Entry::File {
                staged: elsewhere.clone(),
                mode: 0o644,
                uid: 0,
                gid: 0,
            },
        }],
        database: b"new".to_vec(),
    };
    let e = commit(&p, tx, &NoFaults).unwrap_err();
    assert!(matches!(e, TxError::Staged { .. }), "{e:?}");
    assert_eq!(
        fs::read(&elsewhere).unwrap(),
        b"not staged",
        "a file outside staging is never consumed"
    );
    assert_eq!(fs::read(p.root.join(DB)).unwrap(), b"old db");
}

#[test]
fn enospc_message_names_the_operation_and_path() {
    let sc = scenario(
        vec![("bin/sh", file(b"old", 0o755))],
        vec![put("bin/sh", file(b"new", 0o755))],
    );
    let r = Reference::new(&sc);
    let k = r.points.iter().position(|x| x == "put:bin/sh").unwrap();
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &sc);
    let e = commit(&p, stage(&p, &sc), &NoSpaceAt::new(k)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no space left on device while placing bin/sh; nothing was changed (rolled back); free some space and try again"
    );
    assert_state(&p.root, &r.old, b"old db", "after ENOSPC");
}

#[test]
fn an_empty_transaction_still_commits_the_database() {
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &scenario(vec![], vec![]));
    let old = snapshot(&p.root);
    let rep = commit(
        &p,
        Transaction {
            ops: vec![],
            database: b"v2".to_vec(),
        },
        &NoFaults,
    )
    .unwrap();
    assert_eq!((rep.placed, rep.removed), (0, 0));
    assert_state(&p.root, &old, b"v2", "empty transaction");
}

#[test]
fn recover_removes_strays_and_is_idempotent() {
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &scenario(vec![], vec![]));
    let state = p.root.join(STATE);
    fs::create_dir_all(staging_dir(&p).join("sub")).unwrap();
    fs::write(staging_dir(&p).join("junk"), b"").unwrap();
    fs::write(state.join(".db.123-4-0.new"), b"half a database").unwrap();
    fs::create_dir_all(state.join("backup/123-4-0/0")).unwrap();
    fs::write(state.join("journal.json.tmp"), b"{").unwrap();
    symlink("nowhere", staging_dir(&p).join("dangling")).unwrap();
    assert_eq!(recover(&p).unwrap(), Recovery::Nothing);
    assert_eq!(leftovers(&p.root), Vec::<String>::new());
    assert_eq!(recover(&p).unwrap(), Recovery::Nothing);
}

#[test]
fn a_damaged_journal_is_reported_not_guessed() {
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &scenario(vec![], vec![]));
    let journal = p.root.join(STATE).join("journal.json");
    fs::write(&journal, b"{ not json").unwrap();
    let e = recover(&p).unwrap_err();
    assert!(
        matches!(e, TxError::Journal { .. }) && e.to_string().contains("journal.json"),
        "{e}"
    );
    let text = r#"{"format":1,"txid":"ab","ops":1,"state":"var/lib/kpkg","database":"var/lib/kpkg/db",
        "database_new":"var/lib/kpkg/.db.ab.new","database_sha256":"00","steps":[{"do":"mkdir","path":"../../etc"}]}"#;
    fs::write(&journal, text).unwrap();
    assert!(
        matches!(recover(&p), Err(TxError::Journal { .. })),
        "a journal pointing outside the root is refused"
    );
    assert!(journal.exists(), "the journal is kept for a human");
}

#[test]
fn recovery_refuses_when_the_commit_evidence_contradicts_the_database() {
    let sc = scenario(vec![], vec![put("x", file(b"x", 0o644))]);
    let r = Reference::new(&sc);
    let k = r.points.iter().position(|x| x == "cleanup").unwrap();
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &sc);
    assert!(
        commit(&p, stage(&p, &sc), &NoSpaceAt::new(k))
            .unwrap()
            .cleanup_deferred
    );
    fs::write(p.root.join(DB), b"someone else's database").unwrap();
    let e = recover(&p).unwrap_err();
    assert!(matches!(e, TxError::Journal { .. }), "{e:?}");
    fs::write(p.root.join(DB), b"new db").unwrap();
    assert_eq!(recover(&p).unwrap(), Recovery::RolledForward);
}

/// Fails with ENOSPC at call `k` and at the call after it (the first undo step).
struct FailTwice {
    k: usize,
    n: std::cell::Cell<usize>,
}

impl kimigayo_txn::Faults for FailTwice {
    fn at(&self, _point: &str) -> std::io::Result<()> {
        let n = self.n.get();
        self.n.set(n + 1);
        if n == self.k || n == self.k + 1 {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }
}

#[test]
fn a_failed_rollback_keeps_the_journal_and_recovery_finishes_it() {
    let sc = rich_scenario(3);
    let r = Reference::new(&sc);
    let k = r.commit_at - 1; // "sync": every step has been applied
    let t = tempfile::tempdir().unwrap();
    let p = build(t.path(), &sc);
    let e = commit(
        &p,
        stage(&p, &sc),
        &FailTwice {
            k,
            n: Default::default(),
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, TxError::RollbackFailed { .. }) && e.is_no_space(),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("rolling back failed too") && msg.contains("run recovery"),
        "{msg}"
    );
    assert!(!msg.contains("nothing was changed"), "{msg}");
    assert!(p.root.join(STATE).join("journal.json").exists());
    assert_eq!(
        recover(&p).unwrap(),
        Recovery::RolledBack { ops: sc.ops.len() }
    );
    assert_state(
        &p.root,
        &r.old,
        &sc.db_old,
        "recovered after a failed rollback",
    );
}
