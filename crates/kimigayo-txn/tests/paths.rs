//! RelPath validation and chroot-style resolution.

use kimigayo_txn::{resolve_in_root, RelPath, TxError};
use proptest::prelude::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Component, Path};

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

#[test]
fn relpath_accepts_plain_relative_paths() {
    for ok in [
        "a",
        "usr/bin/sh",
        ".hidden/x",
        "a..b",
        "ünïcode/ファイル",
        "a/.../b",
    ] {
        assert_eq!(RelPath::new(ok).unwrap().as_str(), ok);
    }
}

#[test]
fn relpath_rejects_escapes_and_odd_components() {
    for bad in [
        "",
        "/etc/passwd",
        "..",
        "a/../b",
        "a/..",
        ".",
        "./a",
        "a/./b",
        "a//b",
        "a/",
        "a\0b",
    ] {
        let e = RelPath::new(bad).unwrap_err();
        assert!(matches!(e, TxError::InvalidPath { .. }), "{bad:?}: {e:?}");
        assert!(
            e.to_string().contains(&format!("{bad:?}")),
            "{bad:?}: message names the path: {e}"
        );
    }
}

#[test]
fn symlinks_are_followed_inside_the_root() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    fs::create_dir_all(root.join("usr/lib")).unwrap();
    fs::create_dir_all(root.join("bin")).unwrap();
    symlink("/usr/lib", root.join("lib")).unwrap();
    symlink("../usr/lib", root.join("bin/rel")).unwrap();
    symlink("busybox", root.join("bin/sh")).unwrap();
    symlink("../../../../../..", root.join("usr/lib/up")).unwrap();
    assert_eq!(
        resolve_in_root(&root, &rel("lib/x")).unwrap(),
        root.join("usr/lib/x")
    );
    assert_eq!(
        resolve_in_root(&root, &rel("bin/rel/x")).unwrap(),
        root.join("usr/lib/x")
    );
    assert_eq!(
        resolve_in_root(&root, &rel("bin/sh")).unwrap(),
        root.join("bin/busybox")
    );
    assert_eq!(
        resolve_in_root(&root, &rel("lib/up/etc/passwd")).unwrap(),
        root.join("etc/passwd")
    );
    assert_eq!(resolve_in_root(&root, &rel("lib/up")).unwrap(), root);
    assert_eq!(
        resolve_in_root(&root, &rel("missing/a/b")).unwrap(),
        root.join("missing/a/b")
    );
}

#[test]
fn absolute_targets_pointing_outside_stay_inside() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let outside = t.path().join("outside");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&outside).unwrap();
    symlink(&outside, root.join("evil")).unwrap();
    symlink("/tmp/evil", root.join("tmpevil")).unwrap();
    symlink("../outside", root.join("sibling")).unwrap();
    let r = resolve_in_root(&root, &rel("evil/x")).unwrap();
    assert_eq!(r, root.join(outside.strip_prefix("/").unwrap()).join("x"));
    assert_eq!(
        resolve_in_root(&root, &rel("tmpevil/x")).unwrap(),
        root.join("tmp/evil/x")
    );
    assert_eq!(
        resolve_in_root(&root, &rel("sibling/x")).unwrap(),
        root.join("outside/x")
    );
}

#[test]
fn loops_and_files_in_the_middle_are_errors() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    symlink("b", root.join("a")).unwrap();
    symlink("a", root.join("b")).unwrap();
    fs::write(root.join("file"), b"").unwrap();
    symlink("file/x", root.join("through")).unwrap();
    assert!(matches!(
        resolve_in_root(root, &rel("a/x")),
        Err(TxError::SymlinkLoop { .. })
    ));
    assert!(matches!(
        resolve_in_root(root, &rel("file/x")),
        Err(TxError::NotADirectory { .. })
    ));
    assert!(matches!(
        resolve_in_root(root, &rel("through")),
        Err(TxError::NotADirectory { .. })
    ));
}

fn inside(root: &Path, p: &Path) -> bool {
    p.starts_with(root)
        && !p
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever symlinks the root holds, resolution never leaves it.
    #[test]
    fn resolution_never_leaves_the_root(
        links in prop::collection::vec((0usize..6, 0usize..8), 0..10),
        queries in prop::collection::vec(0usize..6, 1..6),
    ) {
        let names = ["a", "b", "a/c", "b/d", "a/c/e", "x"];
        let targets = ["..", "/", "../../..", "/a", "a/c", "../b/..", "/tmp", "x/../../.."];
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(root.join("a/c")).unwrap();
        fs::create_dir_all(root.join("b")).unwrap();
        for (n, tg) in links {
            let at = root.join(names[n]);
            // Only where every parent is a real directory (never write through a link).
            let plain = at.strip_prefix(&root).unwrap().ancestors().skip(1).all(|a| {
                fs::symlink_metadata(root.join(a)).is_ok_and(|m| m.is_dir())
            });
            if plain && fs::symlink_metadata(&at).is_err() {
                symlink(targets[tg], &at).unwrap();
            }
        }
        for q in queries {
            let path = format!("{}/f", names[q]);
            if let Ok(r) = resolve_in_root(&root, &rel(&path)) {
                prop_assert!(inside(&root, &r), "{path} resolved to {r:?}");
            }
        }
    }
}
