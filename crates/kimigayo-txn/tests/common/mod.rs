//! Shared test helpers: scenarios (an initial root plus a transaction, serializable so a
//! child process can replay them), building roots, staging, snapshots, a reference
//! model, fault hooks and child processes.
#![allow(dead_code)]

pub mod child;
pub mod model;
pub mod snapshot;

use kimigayo_txn::{staging_dir, Entry, Op, Paths, RelPath, Transaction};
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::unix::fs::{chown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};

pub const STATE: &str = "var/lib/kpkg";
pub const DB: &str = "var/lib/kpkg/db";

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Node {
    File {
        data: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Symlink {
        target: String,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum OpSpec {
    Put { path: String, node: Node },
    Remove { path: String },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Created in this order (parents before children; missing parents get 0755).
    pub initial: Vec<(String, Node)>,
    pub ops: Vec<OpSpec>,
    pub db_old: Vec<u8>,
    pub db_new: Vec<u8>,
}

pub fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn ids() -> (u32, u32) {
    // SAFETY: no preconditions.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// Owners to pick from: varied when running as root, our own otherwise.
pub fn owners() -> Vec<(u32, u32)> {
    if is_root() {
        vec![(0, 0), (1000, 100), (65534, 65534)]
    } else {
        vec![ids()]
    }
}

pub fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

pub fn paths(dir: &Path) -> Paths {
    Paths {
        root: dir.join("root"),
        state: rel(STATE),
        database: rel(DB),
    }
}

fn set_meta(p: &Path, mode: u32, uid: u32, gid: u32) {
    chown(p, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Create `dir/root` populated as `sc.initial`, with the state directory and old database.
pub fn build(dir: &Path, sc: &Scenario) -> Paths {
    let p = paths(dir);
    fs::create_dir_all(p.root.join(STATE)).unwrap();
    fs::write(p.root.join(DB), &sc.db_old).unwrap();
    for (path, node) in &sc.initial {
        let at = p.root.join(path);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        match node {
            Node::File {
                data,
                mode,
                uid,
                gid,
            } => {
                fs::write(&at, data).unwrap();
                set_meta(&at, *mode, *uid, *gid);
            }
            Node::Symlink { target } => symlink(target, &at).unwrap(),
            Node::Dir { mode, uid, gid } => {
                fs::create_dir_all(&at).unwrap();
                set_meta(&at, *mode, *uid, *gid);
            }
        }
    }
    p
}

/// Write the scenario's new files into the staging directory and build the transaction.
pub fn stage(p: &Paths, sc: &Scenario) -> Transaction {
    let staging = staging_dir(p);
    fs::create_dir_all(&staging).unwrap();
    let mut ops = Vec::new();
    for (i, op) in sc.ops.iter().enumerate() {
        ops.push(match op {
            OpSpec::Remove { path } => Op::Remove { path: rel(path) },
            OpSpec::Put { path, node } => {
                let entry = match node {
                    Node::File {
                        data,
                        mode,
                        uid,
                        gid,
                    } => {
                        let staged: PathBuf = staging.join(format!("f{i}"));
                        fs::write(&staged, data).unwrap();
                        Entry::File {
                            staged,
                            mode: *mode,
                            uid: *uid,
                            gid: *gid,
                        }
                    }
                    Node::Symlink { target } => Entry::Symlink {
                        target: target.clone(),
                    },
                    Node::Dir { mode, uid, gid } => Entry::Dir {
                        mode: *mode,
                        uid: *uid,
                        gid: *gid,
                    },
                };
                Op::Put {
                    path: rel(path),
                    entry,
                }
            }
        });
    }
    Transaction {
        ops,
        database: sc.db_new.clone(),
    }
}

/// A small deterministic generator for hand-written scenarios.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
    pub fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
}

/// A populated root and a transaction that replaces, removes and adds files, replaces
/// a symlink, adds one (in a new directory), creates a new nested directory, turns an
/// empty directory into a file and a file into a directory, changes a directory's mode
/// in place, removes a directory that becomes empty, keeps one that does not, and
/// removes something already absent. `seed` varies contents, modes and owners.
pub fn rich_scenario(seed: u64) -> Scenario {
    let mut r = Rng::new(seed);
    let own = owners();
    let file = |r: &mut Rng, modes: &[u32]| {
        let (uid, gid) = r.pick(&own);
        Node::File {
            data: r.bytes(200),
            mode: r.pick(modes),
            uid,
            gid,
        }
    };
    let d = |mode| Node::Dir {
        mode,
        uid: 0,
        gid: 0,
    };
    let d = |mode| {
        if is_root() {
            d(mode)
        } else {
            Node::Dir {
                mode,
                uid: ids().0,
                gid: ids().1,
            }
        }
    };
    let initial = vec![
        ("bin".into(), d(0o755)),
        ("bin/sh".into(), file(&mut r, &[0o755])),
        ("bin/ls".into(), file(&mut r, &[0o755])),
        ("etc".into(), d(0o755)),
        ("etc/conf".into(), file(&mut r, &[0o644])),
        ("etc/old.d/x".into(), file(&mut r, &[0o644])),
        ("lib/libc.so".into(), file(&mut r, &[0o755])),
        (
            "lib/link".into(),
            Node::Symlink {
                target: "libc.so".into(),
            },
        ),
        ("usr/share/doc/pkg/README".into(), file(&mut r, &[0o644])),
        ("opt/dirtofile".into(), d(0o700)),
        ("opt/filetodir".into(), file(&mut r, &[0o600])),
        ("srv/keep/data".into(), file(&mut r, &[0o640])),
        ("tmp".into(), d(0o1777)),
    ];
    let mut ops = vec![
        OpSpec::Put {
            path: "bin/sh".into(),
            node: file(&mut r, &[0o4755, 0o755]),
        },
        OpSpec::Put {
            path: "etc/conf".into(),
            node: file(&mut r, &[0o600, 0o640]),
        },
        OpSpec::Remove {
            path: "etc/old.d".into(),
        },
        OpSpec::Remove {
            path: "bin/ls".into(),
        },
        OpSpec::Remove {
            path: "etc/old.d/x".into(),
        },
        OpSpec::Put {
            path: "new/nested/deep/file".into(),
            node: file(&mut r, &[0o644, 0o2755]),
        },
        OpSpec::Put {
            path: "new/nested/dir2".into(),
            node: d(0o700),
        },
        OpSpec::Put {
            path: "lib/libc.so.2".into(),
            node: file(&mut r, &[0o755]),
        },
        OpSpec::Put {
            path: "lib/link".into(),
            node: Node::Symlink {
                target: "libc.so.2".into(),
            },
        },
        OpSpec::Put {
            path: "usr/bin/sh".into(),
            node: Node::Symlink {
                target: "/bin/sh".into(),
            },
        },
        OpSpec::Put {
            path: "opt/dirtofile".into(),
            node: file(&mut r, &[0o644]),
        },
        OpSpec::Put {
            path: "opt/filetodir".into(),
            node: d(0o751),
        },
        OpSpec::Put {
            path: "etc".into(),
            node: d(0o750),
        },
        OpSpec::Remove {
            path: "srv/keep".into(),
        },
        OpSpec::Remove {
            path: "nothing/here".into(),
        },
    ];
    for i in 0..r.below(4) {
        ops.push(OpSpec::Put {
            path: format!("usr/share/doc/pkg/extra{i}"),
            node: file(&mut r, &[0o644]),
        });
    }
    Scenario {
        initial,
        ops,
        db_old: r.bytes(100),
        db_new: r.bytes(100),
    }
}

/// A scenario run once without faults: the old and new snapshots and every fault point
/// the commit passed, checked against the reference model.
pub struct Reference {
    pub old: snapshot::Snapshot,
    /// `None` when the model says the transaction is refused.
    pub new: Option<snapshot::Snapshot>,
    pub points: Vec<String>,
    /// Index of `database-rename`: a fault at or before it leaves the old state.
    pub commit_at: usize,
}

impl Reference {
    pub fn new(sc: &Scenario) -> Reference {
        let t = tempfile::tempdir().unwrap();
        let p = build(t.path(), sc);
        let old = snapshot::snapshot(&p.root);
        let new = model::apply(&old, &sc.ops);
        let counting = child::Counting::default();
        let res = kimigayo_txn::commit(&p, stage(&p, sc), &counting);
        match &new {
            Some(new) => {
                res.unwrap_or_else(|e| panic!("commit without faults failed: {e}"));
                snapshot::assert_state(&p.root, new, &sc.db_new, "commit without faults");
            }
            None => {
                assert!(
                    res.is_err(),
                    "the model refuses this transaction but commit accepted it"
                );
                snapshot::assert_state(&p.root, &old, &sc.db_old, "refused commit");
            }
        }
        let points = counting.names();
        let commit_at = points
            .iter()
            .position(|p| p == "database-rename")
            .unwrap_or(usize::MAX);
        Reference {
            old,
            new,
            points,
            commit_at,
        }
    }

    /// The state a fault (or kill) at point `k` must leave once recovered.
    pub fn expected(&self, k: usize) -> &snapshot::Snapshot {
        if k <= self.commit_at {
            &self.old
        } else {
            self.new.as_ref().unwrap()
        }
    }
}
