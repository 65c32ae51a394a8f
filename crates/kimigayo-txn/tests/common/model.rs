//! A reference model of a transaction on a snapshot, written independently of the
//! crate: removals of non-directories, then puts in order (missing parents become
//! 0755 directories owned by the process), then removals of directories deepest first
//! if empty. `None` when the transaction must be refused (a parent is a file, or a
//! non-directory would replace a directory that is not empty). Op paths must not go
//! through symlinks.

use super::snapshot::{to_snap, Snap, Snapshot};
use super::OpSpec;

fn parent_of(p: &str) -> Option<&str> {
    p.rfind('/').map(|i| &p[..i])
}

fn ancestors(p: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut a = p;
    while let Some(q) = parent_of(a) {
        out.push(q);
        a = q;
    }
    out.reverse();
    out
}

fn has_children(s: &Snapshot, d: &str) -> bool {
    let prefix = format!("{d}/");
    s.range(prefix.clone()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(&prefix))
}

pub fn apply(old: &Snapshot, ops: &[OpSpec]) -> Option<Snapshot> {
    let (uid, gid) = super::ids();
    let mut s = old.clone();
    let mut dirs = Vec::new();
    for op in ops {
        let OpSpec::Remove { path } = op else {
            continue;
        };
        let parents = ancestors(path);
        assert!(
            !parents
                .iter()
                .any(|a| matches!(s.get(*a), Some(Snap::Symlink { .. }))),
            "model: {path} goes through a symlink"
        );
        if parents
            .iter()
            .any(|a| matches!(s.get(*a), Some(Snap::File { .. })))
        {
            continue;
        }
        match s.get(path) {
            None => {}
            Some(Snap::Dir { .. }) => dirs.push(path.clone()),
            Some(_) => {
                s.remove(path);
            }
        }
    }
    for op in ops {
        let OpSpec::Put { path, node } = op else {
            continue;
        };
        for a in ancestors(path) {
            match s.get(a) {
                None => {
                    s.insert(
                        a.to_string(),
                        Snap::Dir {
                            mode: 0o755,
                            uid,
                            gid,
                        },
                    );
                }
                Some(Snap::Dir { .. }) => {}
                Some(Snap::File { .. }) => return None,
                Some(Snap::Symlink { .. }) => panic!("model: {path} goes through a symlink"),
            }
        }
        let new = to_snap(node);
        match (s.get(path), &new) {
            (Some(Snap::Dir { .. }), Snap::Dir { .. }) => {}
            (Some(Snap::Dir { .. }), _) if has_children(&s, path) => return None,
            _ => {}
        }
        s.insert(path.clone(), new);
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
    for d in dirs {
        if matches!(s.get(&d), Some(Snap::Dir { .. })) && !has_children(&s, &d) {
            s.remove(&d);
        }
    }
    Some(s)
}
