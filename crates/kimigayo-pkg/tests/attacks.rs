//! Attacks by whoever controls a repository's files or a mirror (issue: secure by default).
//! Each test is named after the attack and proves it is refused with the package and field
//! named, and that nothing changed.

mod common;

use std::fs;
use std::time::{Duration, SystemTime};

use common::*;
use kimigayo_package::UserDecl;
use kimigayo_txn::NoFaults;

fn injected_user() -> UserDecl {
    UserDecl { name: "web".into(), uid: 1501, gid: 1501, home: "/var/www".into(), shell: "/sbin/nologin".into(), gecos: "Web\nevil::0:0::/root:/bin/sh".into() }
}

#[test]
fn passwd_injection_through_gecos_is_not_signed_by_index_build() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let mut app = Spec::new("app", "1.0-r1");
    app.users = vec![injected_user()];
    write_packages(&repo, &[app]);
    let e = kimigayo_pkg::build_index(&repo, key(), 1, Duration::from_secs(600), vec![], SystemTime::now()).unwrap_err().to_string();
    assert!(e.contains("app-1.0-r1.x86_64.json") && e.contains("users[0].gecos"), "{e}");
    assert!(!repo.join(kimigayo_pkg::index::INDEX).exists(), "nothing signed");
}

#[test]
fn passwd_injection_in_a_signed_index_is_refused_before_install() {
    // A repository key that signs whatever it is given (or a compromised signer): the
    // client still refuses account fields that would add lines to etc/passwd.
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let mut base = Spec::new("base", "1.0-r1").file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n").file("etc/group", b"root:x:0:root\n");
    base.files.push(("etc/shadow".into(), b"root:!::0:::::\n".to_vec()));
    write_packages(&repo, &[base, Spec::new("app", "1.0-r1").deps(&["base"])]);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    open(&root).add(&["base".to_string()], &NoFaults).unwrap();
    let before = snapshot(&root);
    let state_of = |m: std::collections::BTreeMap<String, (char, u32, Vec<u8>)>| -> Vec<String> {
        m.into_iter().filter(|(k, _)| !k.starts_with("var/lib/kpkg/backup")).map(|(k, v)| format!("{k} {v:?}")).collect()
    };
    let state = |r: &std::path::Path| state_of(snapshot(r));
    // Re-sign the index by hand with the injected user in app's metadata.
    let text = fs::read(repo.join(kimigayo_pkg::index::INDEX)).unwrap();
    let mut index: kimigayo_pkg::RepoIndex = serde_json::from_slice(&text).unwrap();
    index.serial = 2;
    index.packages.iter_mut().find(|p| p.name == "app").unwrap().users = vec![injected_user()];
    let text = serde_json::to_vec_pretty(&index).unwrap();
    fs::write(repo.join(kimigayo_pkg::index::INDEX_SIG), key().sign(&text).unwrap()).unwrap();
    fs::write(repo.join(kimigayo_pkg::index::INDEX), &text).unwrap();
    let e = open(&root).add(&["app".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("app-1.0-r1") && e.contains("users[0].gecos"), "{e}");
    assert!(state(&root) == state_of(before), "the root changed");
    assert!(!fs::read_to_string(root.join("etc/passwd")).unwrap().contains("evil"));
}

#[test]
fn passwd_injection_is_refused_by_the_account_editor_itself() {
    let mut m: kimigayo_package::PackageMeta = serde_json::from_str(&fs::read_to_string(
        {
            let d = tempfile::tempdir().unwrap().keep();
            write_packages(&d, &[Spec::new("app", "1.0-r1")]);
            d.join("x86_64/app-1.0-r1.x86_64.json")
        },
    ).unwrap()).unwrap();
    m.users = vec![injected_user()];
    let e = kimigayo_pkg::accounts::edit("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", &[&m]).unwrap_err().to_string();
    assert!(e.contains("package app") && e.contains("users[0].gecos"), "{e}");
}

/// A root where kpkg has run once (its state folder exists), and a folder outside it.
fn root_with_state(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let repo = dir.join("repo");
    write_packages(&repo, &[Spec::new("base", "1.0-r1")]);
    sign(&repo, 1, vec![]);
    let root = new_root(dir, &repo, "x86_64");
    open(&root).add(&["base".to_string()], &NoFaults).unwrap();
    let outside = dir.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret"), b"keep me").unwrap();
    (root, outside)
}

#[test]
fn planted_journal_with_a_symlink_cannot_unlink_outside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let (root, outside) = root_with_state(dir.path());
    let state = root.join(kimigayo_pkg::db::STATE_DIR);
    std::os::unix::fs::symlink(&outside, state.join("evil")).unwrap();
    let journal = format!(
        r#"{{"format":1,"txid":"abc","ops":0,"state":"{s}","database":"{d}","database_new":"{s}/evil/secret","database_sha256":"00","steps":[]}}"#,
        s = kimigayo_pkg::db::STATE_DIR,
        d = kimigayo_pkg::db::DB_FILE
    );
    fs::write(state.join("journal.json"), journal).unwrap();
    // `kpkg list` reads the database, which recovers a pending journal first.
    let e = open(&root).database().unwrap_err().to_string();
    assert!(e.contains("journal") && e.contains("evil/secret"), "{e}");
    assert_eq!(fs::read(outside.join("secret")).unwrap(), b"keep me", "a file outside the root was removed");
}

#[test]
fn planted_symlinks_in_the_state_folder_cannot_redirect_the_cleanup() {
    for name in ["staging", "backup"] {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = root_with_state(dir.path());
        let state = root.join(kimigayo_pkg::db::STATE_DIR);
        let _ = fs::remove_dir_all(state.join(name));
        std::os::unix::fs::symlink(&outside, state.join(name)).unwrap();
        let e = open(&root).database().unwrap_err().to_string();
        assert!(e.contains(name) && e.contains("tampered"), "{name}: {e}");
        assert_eq!(fs::read(outside.join("secret")).unwrap(), b"keep me", "{name}: a file outside the root was removed");
    }
}

/// One raw tar entry: name bytes, type, mode, uid, content, link target bytes.
struct Raw<'a>(&'a [u8], tar::EntryType, u32, u64, &'a [u8], Option<&'a [u8]>);

fn raw_tar(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for Raw(name, kind, mode, uid, data, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l);
        }
        h.set_entry_type(*kind);
        h.set_mode(*mode);
        h.set_uid(*uid);
        h.set_gid(*uid);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// Publish a package made of raw archive bytes (metadata as kpkg index build expects).
fn put_raw(repo: &std::path::Path, name: &str, deps: &[&str], bytes: &[u8], installed_size: u64) {
    let tmp = tempfile::tempdir().unwrap();
    write_packages(tmp.path(), &[Spec::new(name, "1.0-r1").deps(deps)]);
    let mut meta: kimigayo_package::PackageMeta = serde_json::from_slice(&fs::read(tmp.path().join(format!("x86_64/{name}-1.0-r1.x86_64.json"))).unwrap()).unwrap();
    meta.size = bytes.len() as u64;
    meta.installed_size = installed_size;
    meta.checksum.sha256 = kimigayo_package::sha256_hex(bytes);
    fs::create_dir_all(repo.join("x86_64")).unwrap();
    fs::write(repo.join("x86_64").join(&meta.filename), bytes).unwrap();
    fs::write(repo.join(format!("x86_64/{name}-1.0-r1.x86_64.json")), meta.to_json()).unwrap();
}

fn meta_of(name: &str, installed_size: u64) -> kimigayo_package::PackageMeta {
    let tmp = tempfile::tempdir().unwrap();
    write_packages(tmp.path(), &[Spec::new(name, "1.0-r1")]);
    let mut m: kimigayo_package::PackageMeta = serde_json::from_slice(&fs::read(tmp.path().join(format!("x86_64/{name}-1.0-r1.x86_64.json"))).unwrap()).unwrap();
    m.installed_size = installed_size;
    m
}

fn unpack_err(m: &kimigayo_package::PackageMeta, bytes: &[u8]) -> String {
    let staging = tempfile::tempdir().unwrap();
    match kimigayo_pkg::stage::unpack(m, bytes, staging.path()) {
        Ok(_) => "accepted".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_symlinked_parent_cannot_overwrite_another_packages_file() {
    use tar::EntryType::{Regular, Symlink};
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    put_raw(&repo, "base", &[], &raw_tar(&[Raw(b"etc/shadow", Regular, 0o640, 0, b"root:!::0:::::\n", None)]), 15);
    put_raw(&repo, "evil-a", &[], &raw_tar(&[Raw(b"x", Symlink, 0o777, 0, b"", Some(b"/etc"))]), 0);
    put_raw(&repo, "evil-b", &["evil-a"], &raw_tar(&[Raw(b"x/shadow", Regular, 0o644, 0, b"root::0:0:::::\n", None)]), 15);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    open(&root).add(&["base".to_string(), "evil-a".to_string()], &NoFaults).unwrap();
    let before = fs::read(root.join("etc/shadow")).unwrap();
    let e = open(&root).add(&["evil-b".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("etc/shadow") && e.contains("base") && e.contains("evil-b") && e.contains("x/shadow"), "{e}");
    assert_eq!(fs::read(root.join("etc/shadow")).unwrap(), before, "another package's file was overwritten");
}

#[test]
fn tar_header_owners_are_ignored() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    put_raw(&repo, "app", &[], &raw_tar(&[Raw(b"usr/bin/app", tar::EntryType::Regular, 0o755, 4242, b"#!/bin/sh\n", None)]), 10);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    open(&root).add(&["app".to_string()], &NoFaults).unwrap();
    let md = fs::metadata(root.join("usr/bin/app")).unwrap();
    assert_eq!((md.uid(), md.gid()), (0, 0), "owner came from the tar header");
}

#[test]
fn undeclared_world_writable_entries_are_refused() {
    use tar::EntryType::{Directory, Regular};
    let m = meta_of("evil", 100);
    let e = unpack_err(&m, &raw_tar(&[Raw(b"etc/profile.d/x.sh", Regular, 0o666, 0, b"id\n", None)]));
    assert!(e.contains("etc/profile.d/x.sh") && e.contains("world-writable"), "{e}");
    let e = unpack_err(&m, &raw_tar(&[Raw(b"usr/lib/plugins/", Directory, 0o777, 0, b"", None)]));
    assert!(e.contains("usr/lib/plugins") && e.contains("world-writable"), "{e}");
    assert_eq!(unpack_err(&m, &raw_tar(&[Raw(b"tmp/", Directory, 0o1777, 0, b"", None)])), "accepted", "a sticky /tmp is fine");
}

#[test]
fn a_decompression_bomb_stops_at_the_declared_size() {
    let m = meta_of("bomb", 1024);
    let zeros = vec![0u8; 16 << 20];
    let bytes = raw_tar(&[Raw(b"usr/share/bomb", tar::EntryType::Regular, 0o644, 0, &zeros, None)]);
    assert!(bytes.len() < 64 << 10, "the archive itself is small ({} bytes)", bytes.len());
    let e = unpack_err(&m, &bytes);
    assert!(e.contains("usr/share/bomb") && e.contains("installed size"), "{e}");
    // Many small files adding up past the declared size are refused too.
    let small = vec![b'a'; 600];
    let e = unpack_err(&m, &raw_tar(&[Raw(b"a", tar::EntryType::Regular, 0o644, 0, &small, None), Raw(b"b", tar::EntryType::Regular, 0o644, 0, &small, None)]));
    assert!(e.contains("`b`") && e.contains("installed size"), "{e}");
}

#[test]
fn non_utf8_names_and_symlink_targets_are_refused_not_rewritten() {
    let m = meta_of("evil", 100);
    let e = unpack_err(&m, &raw_tar(&[Raw(b"usr/bin/\xff\xfe", tar::EntryType::Regular, 0o644, 0, b"x", None)]));
    assert!(e.contains("not UTF-8"), "{e}");
    let e = unpack_err(&m, &raw_tar(&[Raw(b"usr/bin/l", tar::EntryType::Symlink, 0o777, 0, b"", Some(b"/etc/\xff"))]));
    assert!(e.contains("usr/bin/l") && e.contains("not UTF-8"), "{e}");
}

#[test]
fn a_refused_install_leaves_no_staging_files_behind() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    put_raw(&repo, "good", &[], &raw_tar(&[Raw(b"usr/share/good", tar::EntryType::Regular, 0o644, 0, b"ok", None)]), 2);
    put_raw(&repo, "bad", &["good"], &raw_tar(&[Raw(b"usr/share/bad", tar::EntryType::Regular, 0o666, 0, b"ww", None)]), 2);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    let e = open(&root).add(&["bad".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("world-writable"), "{e}");
    let staging = root.join(kimigayo_pkg::db::STATE_DIR).join("staging");
    let left: Vec<_> = fs::read_dir(&staging).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "staging files left behind: {left:?}");
    assert!(!root.join("usr/share/good").exists(), "nothing was installed");
}

fn resign(repo: &std::path::Path, origin: &str, key: &kimigayo_sign::SecretKey, serial: u64, advisories: Vec<kimigayo_pkg::Advisory>) {
    kimigayo_pkg::build_named_index(repo, origin, key, serial, Duration::from_secs(86_400), advisories, SystemTime::now()).unwrap();
}

#[test]
fn an_index_signed_for_another_repository_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("base", "1.0-r1"), Spec::new("app", "1.0-r1")]);
    resign(&repo, "other-distro", key(), 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    // Pinned on the repository line: the origin must match.
    let line = format!("{} origin=kimigayo-main", repo.display());
    let e = kimigayo_pkg::Root::open(&root, &[line], None).unwrap().add(&["base".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("other-distro") && e.contains("kimigayo-main"), "{e}");
    // Not pinned: the first origin seen is remembered, and a later index for another is refused.
    resign(&repo, "kimigayo-main", key(), 2, vec![]);
    open(&root).add(&["base".to_string()], &NoFaults).unwrap();
    resign(&repo, "other-distro", key(), 3, vec![]);
    let e = open(&root).add(&["app".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("other-distro") && e.contains("kimigayo-main"), "{e}");
}

#[test]
fn a_key_trusted_for_one_repository_cannot_sign_another() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("base", "1.0-r1")]);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    // A second trusted key, the only one allowed to sign this repository.
    let other = kimigayo_sign::SecretKey::generate("Other Repo <other@kimigayo.test>", None).unwrap();
    fs::write(root.join(kimigayo_pkg::KEYS_DIR).join("other.asc"), other.public().to_armored()).unwrap();
    let line = format!("{} keys={}", repo.display(), other.fingerprint());
    let e = kimigayo_pkg::Root::open(&root, &[line.clone()], None).unwrap().add(&["base".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("index"), "signed by a trusted key not pinned for this repository: {e}");
    resign(&repo, "repo", &other, 2, vec![]);
    kimigayo_pkg::Root::open(&root, &[line], None).unwrap().add(&["base".to_string()], &NoFaults).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn an_equal_serial_with_different_content_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("base", "1.0-r1"), Spec::new("app", "1.0-r1")]);
    sign(&repo, 7, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    open(&root).add(&["base".to_string()], &NoFaults).unwrap();
    let adv = kimigayo_pkg::Advisory { id: "KSA-1".into(), package: "base".into(), severity: "high".into(), fixed_in: "2.0".into(), summary: String::new() };
    sign(&repo, 7, vec![adv]);
    let e = open(&root).add(&["app".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("serial 7 again") && e.contains("different content"), "{e}");
}

#[test]
fn an_older_index_served_from_a_new_mirror_url_is_refused() {
    // The serial floor belongs to the origin, not to the URL it was fetched from: moving the
    // root to another mirror (or an attacker's "new" one) does not reset it.
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("base", "1.0-r1"), Spec::new("app", "1.0-r1")]);
    sign(&repo, 5, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    open(&root).add(&["base".to_string()], &NoFaults).unwrap();
    let old = dir.path().join("mirror").join("repo");
    write_packages(&old, &[Spec::new("base", "1.0-r1"), Spec::new("app", "1.0-r1")]);
    sign(&old, 3, vec![]);
    let e = kimigayo_pkg::Root::open(&root, &[old.display().to_string()], None).unwrap().add(&["app".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("serial 3") && e.contains("serial 5") && e.contains("`repo`"), "{e}");
    assert!(!root.join("usr/share/app").exists());
}

#[test]
fn an_origin_outside_the_roots_trust_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("base", "1.0-r1")]);
    resign(&repo, "other-distro", key(), 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    let other = kimigayo_sign::SecretKey::generate("Other <other@kimigayo.test>", None).unwrap();
    fs::write(root.join(kimigayo_pkg::KEYS_DIR).join("other.asc"), other.public().to_armored()).unwrap();
    fs::write(root.join(kimigayo_pkg::ORIGINS_FILE), format!("# trust root\nkimigayo keys={}\n", key().fingerprint())).unwrap();
    // An index naming an origin the root does not trust.
    let e = open(&root).add(&["base".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("other-distro") && e.contains("does not trust") && e.contains("origins"), "{e}");
    // The trusted origin, but signed by another trusted key (not one the origin allows).
    resign(&repo, "kimigayo", &other, 2, vec![]);
    let e = open(&root).add(&["base".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("kimigayo") && e.contains("not signed by a key"), "{e}");
    assert!(!root.join("usr/share/base").exists(), "nothing installed");
    // Signed by its key: accepted. A third-party origin pinned on its repository line: accepted.
    resign(&repo, "kimigayo", key(), 3, vec![]);
    open(&root).add(&["base".to_string()], &NoFaults).unwrap_or_else(|e| panic!("{e}"));
    let third = dir.path().join("third");
    write_packages(&third, &[Spec::new("extra", "1.0-r1")]);
    resign(&third, "third-party", &other, 1, vec![]);
    let lines = [repo.display().to_string(), format!("{} origin=third-party keys={}", third.display(), other.fingerprint())];
    kimigayo_pkg::Root::open(&root, &lines, None).unwrap().add(&["extra".to_string()], &NoFaults).unwrap_or_else(|e| panic!("{e}"));
    // A broken trust-root file is an error naming it.
    fs::write(root.join(kimigayo_pkg::ORIGINS_FILE), "kimigayo\n").unwrap();
    let e = kimigayo_pkg::Root::open(&root, &[], None).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("etc/kimigayo/origins") && e.contains("line 1") && e.contains("keys="), "{e}");
}

#[test]
fn audit_and_info_record_the_newest_serial_so_a_later_replay_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("base", "1.0-r1"), Spec::new("app", "1.0-r1")]);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    open(&root).add(&["base".to_string()], &NoFaults).unwrap();
    let keep = dir.path().join("serial1").join("repo");
    kimigayo_build::toolchain::copy_tree(&repo, &keep).unwrap();
    // `audit` sees serial 4, `info` (the indexes) serial 6: both are remembered.
    sign(&repo, 4, vec![]);
    open(&root).audit().unwrap();
    assert_eq!(open(&root).database().unwrap().origin_serials.get("repo"), Some(&4));
    sign(&repo, 6, vec![]);
    open(&root).indexes().unwrap();
    assert_eq!(open(&root).database().unwrap().origin_serials.get("repo"), Some(&6));
    // The old index (serial 1) replayed: refused, also by a read-only command.
    let line = [keep.display().to_string()];
    let e = kimigayo_pkg::Root::open(&root, &line, None).unwrap().audit().unwrap_err().to_string();
    assert!(e.contains("serial 1") && e.contains("serial 6"), "{e}");
}
