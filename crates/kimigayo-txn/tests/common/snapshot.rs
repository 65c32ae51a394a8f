//! Exact snapshots of a root (contents, modes, owners, symlink targets, directories)
//! and checks that the state directory holds no leftovers.

use super::{Node, DB, STATE};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snap {
    File {
        data: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Symlink {
        target: String,
        uid: u32,
        gid: u32,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
}

pub type Snapshot = BTreeMap<String, Snap>;

/// Everything under `root` except the state directory's contents.
pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    walk(root, "", &mut out);
    out
}

fn walk(root: &Path, dir: &str, out: &mut Snapshot) {
    for e in fs::read_dir(root.join(dir)).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let rel = if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        };
        if rel == STATE {
            continue;
        }
        let p = root.join(&rel);
        let m = fs::symlink_metadata(&p).unwrap();
        let (mode, uid, gid) = (m.mode() & 0o7777, m.uid(), m.gid());
        let snap = if m.file_type().is_symlink() {
            let target = fs::read_link(&p)
                .unwrap()
                .into_os_string()
                .into_string()
                .unwrap();
            Snap::Symlink { target, uid, gid }
        } else if m.is_dir() {
            walk(root, &rel, out);
            Snap::Dir { mode, uid, gid }
        } else {
            Snap::File {
                data: fs::read(&p).unwrap(),
                mode,
                uid,
                gid,
            }
        };
        out.insert(rel, snap);
    }
}

pub fn db(root: &Path) -> Vec<u8> {
    fs::read(root.join(DB)).unwrap()
}

/// Everything in the state directory that should not be there once no transaction is
/// pending: anything but the database, the lock file and empty `staging`/`backup`.
pub fn leftovers(root: &Path) -> Vec<String> {
    let state = root.join(STATE);
    let mut bad = Vec::new();
    for e in fs::read_dir(&state).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        match name.as_str() {
            "db" | "lock" => {}
            "staging" | "backup" => {
                for inner in fs::read_dir(state.join(&name)).unwrap() {
                    bad.push(format!(
                        "{name}/{}",
                        inner.unwrap().file_name().to_string_lossy()
                    ));
                }
            }
            _ => bad.push(name),
        }
    }
    bad
}

/// Assert that the root is exactly `want` (and the database `want_db`) with nothing
/// left over in the state directory.
#[track_caller]
pub fn assert_state(root: &Path, want: &Snapshot, want_db: &[u8], what: &str) {
    let got = snapshot(root);
    if &got != want {
        let mut diff = Vec::new();
        for (k, v) in want {
            match got.get(k) {
                None => diff.push(format!("missing {k}: {v:?}")),
                Some(g) if g != v => diff.push(format!("differs {k}: want {v:?}, got {g:?}")),
                _ => {}
            }
        }
        for k in got.keys().filter(|k| !want.contains_key(*k)) {
            diff.push(format!("extra {k}: {:?}", got[k]));
        }
        panic!("{what}: root differs:\n  {}", diff.join("\n  "));
    }
    assert_eq!(db(root), want_db, "{what}: database differs");
    assert_eq!(
        leftovers(root),
        Vec::<String>::new(),
        "{what}: leftovers in the state directory"
    );
}

/// What a scenario node looks like in a snapshot (symlinks are owned by the process).
pub fn to_snap(node: &Node) -> Snap {
    let (uid, gid) = super::ids();
    match node.clone() {
        Node::File {
            data,
            mode,
            uid,
            gid,
        } => Snap::File {
            data,
            mode,
            uid,
            gid,
        },
        Node::Symlink { target } => Snap::Symlink { target, uid, gid },
        Node::Dir { mode, uid, gid } => Snap::Dir { mode, uid, gid },
    }
}
