//! Attacks on the image composer by whoever can write the repository folder: it composes only
//! from the signed index, and a folder whose metadata differs from what the index signs is
//! refused with the file named (issue: secure by default, item 1).

mod common;

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use common::{repo, spec};

/// A private copy of the shared, signed test repository.
fn copy_repo(to: &Path) -> std::path::PathBuf {
    let dst = to.join("repo");
    kimigayo_build::toolchain::copy_tree(&repo().path, &dst).unwrap();
    dst
}

/// The composer's verdict: `Ok(paths in the layer)` or the error text.
fn compose(repo_dir: &Path) -> Result<usize, String> {
    let s = spec(&["baselayout", "musl", "busybox"], "attack-test");
    kimigayo_image::compose::compose(&s, repo_dir, &repo().keys, repo().epoch, SystemTime::now()).map(|c| c.paths.len()).map_err(|e| e.to_string())
}

/// Edit busybox's metadata file in place; returns its path.
fn edit_busybox(repo_dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> std::path::PathBuf {
    let f = busybox_json(repo_dir);
    let mut meta: serde_json::Value = serde_json::from_str(&fs::read_to_string(&f).unwrap()).unwrap();
    edit(&mut meta);
    fs::write(&f, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    f
}

fn busybox_json(repo_dir: &Path) -> std::path::PathBuf {
    fs::read_dir(repo_dir.join("x86_64")).unwrap().map(|e| e.unwrap().path()).find(|p| {
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        n.starts_with("busybox-") && n.ends_with(".json")
    }).unwrap()
}

#[test]
fn edited_metadata_declaring_a_setuid_busybox_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let r = copy_repo(d.path());
    assert!(compose(&r).is_ok(), "the untouched copy composes");
    let f = edit_busybox(&r, |meta| meta["paths"] = serde_json::json!([{"path": "bin/busybox", "mode": "4755", "uid": 0, "gid": 0}]));
    let e = compose(&r).unwrap_err();
    assert!(e.contains(&f.display().to_string()) && e.contains("differs from what the signed index"), "{e}");
}

#[test]
fn edited_metadata_adding_a_uid0_account_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let r = copy_repo(d.path());
    edit_busybox(&r, |meta| meta["users"] = serde_json::json!([{"name": "toor", "uid": 1, "gid": 0, "home": "/", "shell": "/bin/sh", "gecos": ""}]));
    let e = compose(&r).unwrap_err();
    assert!(e.contains("differs from what the signed index"), "{e}");
}

#[test]
fn a_package_added_to_the_folder_after_signing_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let r = copy_repo(d.path());
    let f = busybox_json(&r);
    let mut meta: serde_json::Value = serde_json::from_str(&fs::read_to_string(&f).unwrap()).unwrap();
    meta["version"] = serde_json::json!("0.9-r1");
    meta["filename"] = serde_json::json!("busybox-0.9-r1.x86_64.tar.gz");
    fs::write(r.join("x86_64/busybox-0.9-r1.x86_64.json"), serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    let e = compose(&r).unwrap_err();
    assert!(e.contains("busybox-0.9-r1.x86_64.json") && e.contains("not in the signed index"), "{e}");
}

#[test]
fn an_unsigned_or_foreign_signed_repository_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let r = copy_repo(d.path());
    fs::remove_file(r.join("index.json.sig")).unwrap();
    let e = compose(&r).unwrap_err();
    assert!(e.contains("not signed"), "{e}");
    // Signed, but by a key the composer does not trust.
    let other = kimigayo_sign::SecretKey::generate("Mallory <m@evil.test>", None).unwrap();
    kimigayo_pkg::build_index(&r, &other, 99, std::time::Duration::from_secs(600), vec![], SystemTime::now()).unwrap();
    assert!(compose(&r).is_err(), "an index signed by an untrusted key is refused");
}

#[test]
fn hostile_filename_in_unsigned_metadata_never_names_a_path() {
    let d = tempfile::tempdir().unwrap();
    let r = copy_repo(d.path());
    edit_busybox(&r, |meta| meta["filename"] = serde_json::json!("../../../../etc/shadow"));
    let e = compose(&r).unwrap_err();
    assert!(e.contains("filename") && e.contains("must be"), "{e}");
}
