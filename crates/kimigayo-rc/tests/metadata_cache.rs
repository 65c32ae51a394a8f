//! The metadata cache: unchanged scripts are not read again; a changed, added or removed
//! script or conf file reloads only its entry; a corrupt cache is rebuilt.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use kimigayo_rc::{cache::cache_location, load_catalog_with, LoadOptions, RcRoot};

/// Each script appends its name to a marker file when it is sourced.
fn script(marker: &std::path::Path, deps: &str) -> String {
    format!("echo \"$RC_SVCNAME\" >> '{}'\ndepend() {{ {deps}; }}\n", marker.display())
}

fn sourced(marker: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(marker).unwrap_or_default().lines().map(str::to_owned).collect();
    std::fs::write(marker, "").unwrap();
    v.sort();
    v
}

fn set_mtime(p: &std::path::Path, secs_ago: u64) {
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(secs_ago)).unwrap();
}

#[test]
fn only_changed_entries_are_read_again() {
    let t = tempfile::tempdir().unwrap();
    let root = RcRoot::new(t.path().join("root"));
    let marker = t.path().join("sourced");
    write_script(&root, "a", &script(&marker, "need b"));
    write_script(&root, "b", &script(&marker, "use c"));
    write_script(&root, "c", &script(&marker, "after a"));
    let opts = LoadOptions::new("/bin/sh");

    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r.extracted, strs(&["a", "b", "c"]));
    assert_eq!(r.shell_runs, 1);
    assert_eq!(sourced(&marker), strs(&["a", "b", "c"]));
    assert_eq!(cache_location(&root), Some(root.join("run/kimigayo/deptree.json")));
    let first = r.catalog;

    // Unchanged: no shell at all.
    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!((r.shell_runs, r.extracted.len()), (0, 0));
    assert_eq!(r.cached, strs(&["a", "b", "c"]));
    assert!(sourced(&marker).is_empty());
    assert_eq!(r.catalog, first);

    // Modified script: only it.
    write_script(&root, "b", &script(&marker, "use c; need a"));
    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r.extracted, strs(&["b"]));
    assert_eq!(sourced(&marker), strs(&["b"]));
    assert_eq!(r.catalog.services["b"].need, strs(&["a"]));

    // Touched (same content, new mtime): re-read.
    set_mtime(&root.script("c"), 100);
    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r.extracted, strs(&["c"]));
    assert_eq!(sourced(&marker), strs(&["c"]));

    // Same size and mtime but other content: the hash catches it.
    let before = std::fs::metadata(root.script("a")).unwrap().modified().unwrap();
    let body = std::fs::read_to_string(root.script("a")).unwrap().replace("need b", "need c");
    std::fs::write(root.script("a"), body).unwrap();
    std::fs::File::options().write(true).open(root.script("a")).unwrap().set_modified(before).unwrap();
    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r.extracted, strs(&["a"]));
    assert_eq!(r.catalog.services["a"].need, strs(&["c"]));
    sourced(&marker);

    // A conf.d file appearing for one service: only that one; it can add dependencies.
    std::fs::create_dir_all(root.conf_d()).unwrap();
    std::fs::write(root.conf("c"), "rc_need=\"b\"\n").unwrap();
    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r.extracted, strs(&["c"]));
    assert_eq!(r.catalog.services["c"].need, strs(&["b"]));
    assert_eq!(sourced(&marker), strs(&["c"]));

    // Added and removed scripts.
    write_script(&root, "d", &script(&marker, "before a"));
    std::fs::remove_file(root.script("b")).unwrap();
    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r.extracted, strs(&["d"]));
    assert_eq!(r.catalog.services.keys().cloned().collect::<Vec<_>>(), strs(&["a", "c", "d"]));
    assert_eq!(sourced(&marker), strs(&["d"]));

    // rc.conf is read by every script: all entries reload.
    std::fs::write(root.rc_conf(), "rc_parallel=YES\n").unwrap();
    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r.extracted, strs(&["a", "c", "d"]));
    sourced(&marker);

    // A corrupt cache is ignored and rebuilt.
    let cache = cache_location(&root).unwrap();
    std::fs::write(&cache, "{ not json").unwrap();
    let r = load_catalog_with(&root, &opts).unwrap();
    assert!(r.cache_discarded.as_deref().unwrap_or("").contains("corrupt"), "{:?}", r.cache_discarded);
    assert_eq!(r.extracted, strs(&["a", "c", "d"]));
    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r.shell_runs, 0);
    // Written atomically: no temp files left beside it.
    let names: Vec<_> = std::fs::read_dir(cache.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("deptree.json")]);

    // A different shell invalidates everything.
    let r = load_catalog_with(&root, &LoadOptions::new("/usr/bin/dash")).unwrap();
    assert_eq!(r.extracted.len(), 3);
}

#[test]
fn falls_back_to_var_cache_when_run_is_unusable() {
    let t = tempfile::tempdir().unwrap();
    let root = RcRoot::new(t.path());
    let marker = t.path().join("sourced");
    write_script(&root, "a", &script(&marker, "need b"));
    std::fs::write(root.join("run"), "not a directory").unwrap();
    let opts = LoadOptions::new("/bin/sh");
    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r.cache_path, Some(root.join("var/cache/kimigayo/deptree.json")));
    let r = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r.shell_runs, 0);
    assert_eq!(r.catalog.services["a"].need, strs(&["b"]));
}
