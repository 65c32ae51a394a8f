//! Hostile archives are refused with the package and path named; repositories signed with
//! real GnuPG install with kpkg; failure paths leave the root unchanged.

mod common;

use std::fs;
use std::process::Command;

use common::*;
use kimigayo_package::PackageMeta;
use kimigayo_txn::NoFaults;

fn meta(name: &str) -> PackageMeta {
    let dir = tempfile::tempdir().unwrap();
    write_packages(dir.path(), &[Spec::new(name, "1.0-r1")]);
    serde_json::from_slice(&fs::read(dir.path().join(format!("x86_64/{name}-1.0-r1.x86_64.json"))).unwrap()).unwrap()
}

/// A gzip'd tar with one raw entry (header fields set by hand, so anything can be expressed).
fn evil_tar(path: &str, kind: tar::EntryType, mode: u32, link: Option<&str>) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    let mut h = tar::Header::new_gnu();
    {
        let raw = h.as_old_mut();
        raw.name[..path.len()].copy_from_slice(path.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(if kind == tar::EntryType::Regular { 3 } else { 0 });
    if let Some(l) = link {
        h.set_link_name(l).unwrap();
    }
    h.set_cksum();
    let data: &[u8] = if kind == tar::EntryType::Regular { b"abc" } else { b"" };
    b.append(&h, data).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

#[test]
fn hostile_archives_are_refused_by_name() {
    let m = meta("evil");
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (evil_tar("/etc/passwd", tar::EntryType::Regular, 0o644, None), "/etc/passwd", "absolute"),
        (evil_tar("usr/../../etc/shadow", tar::EntryType::Regular, 0o644, None), "usr/../../etc/shadow", "escapes"),
        (evil_tar("bin/su", tar::EntryType::Regular, 0o4755, None), "bin/su", "setuid"),
        (evil_tar("dev/sda", tar::EntryType::Block, 0o600, None), "dev/sda", "device"),
        (evil_tar("dev/null", tar::EntryType::Char, 0o666, None), "dev/null", "device"),
        (evil_tar("run/fifo", tar::EntryType::Fifo, 0o600, None), "run/fifo", "FIFO"),
        (evil_tar("etc/x", tar::EntryType::Link, 0o644, Some("../../etc/shadow")), "etc/x", "hardlink"),
    ];
    for (bytes, path, why) in cases {
        let staging = tempfile::tempdir().unwrap();
        let e = match kimigayo_pkg::stage::unpack(&m, &bytes, staging.path()) {
            Ok(_) => panic!("{path} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("evil-1.0-r1") && e.contains(path) && e.contains(why), "{path}: {e}");
    }
}

#[test]
fn a_symlink_in_the_root_cannot_redirect_writes_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("victim", "1.0-r1").file("lib/evil/payload", b"owned")]);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("lib")).unwrap();
    let _ = open(&root).add(&["victim".to_string()], &NoFaults);
    assert!(!outside.join("evil/payload").exists(), "a write escaped the root through a symlink");
}

#[test]
fn gnupg_signed_repository_installs() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("gnupg");
    fs::create_dir_all(&home).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg").env("GNUPGHOME", &home).args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""]).args(args).output().expect("gpg is installed (apt-get install gnupg)");
        assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    gpg(&["--quick-gen-key", "GnuPG Repo <gpg@kimigayo.test>", "ed25519", "sign", "1y"]);
    let public = gpg(&["--armor", "--export"]);
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("hello", "1.0-r1").deps(&["world"]), Spec::new("world", "2.0-r1")]);
    // Sign every package and the index with gpg itself.
    let mut metas = Vec::new();
    for name in ["hello-1.0-r1", "world-2.0-r1"] {
        let archive = repo.join(format!("x86_64/{name}.x86_64.tar.gz"));
        let sig = gpg(&["--armor", "--detach-sign", "--output", "-", archive.to_str().unwrap()]);
        let json = repo.join(format!("x86_64/{name}.x86_64.json"));
        let mut m: PackageMeta = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
        m.checksum.gpg_signature = Some(String::from_utf8(sig).unwrap());
        metas.push(m);
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let index = kimigayo_pkg::RepoIndex { format: 1, origin: "gnupg-repo".into(), serial: 7, expires: now + 3600, generated: now, packages: metas, advisories: vec![] };
    fs::write(repo.join("index.json"), serde_json::to_vec_pretty(&index).unwrap()).unwrap();
    gpg(&["--detach-sign", "--output", repo.join("index.json.sig").to_str().unwrap(), repo.join("index.json").to_str().unwrap()]);
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/kimigayo/keys")).unwrap();
    fs::write(root.join("etc/kimigayo/keys/gpg.asc"), public).unwrap();
    fs::write(root.join("etc/kimigayo/arch"), "x86_64\n").unwrap();
    let r = kimigayo_pkg::Root::open(&root, &[repo.display().to_string()], None).unwrap();
    let report = r.add(&["hello".to_string()], &NoFaults).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.changes.len(), 2, "hello and its dependency world");
    assert!(root.join("usr/share/world/VERSION").is_file());
    assert!(r.verify().unwrap().is_empty());
    // The kpkg-signed index verifies with gpg too (the other direction).
    let k = key();
    let sig = k.sign(b"kimigayo index").unwrap();
    fs::write(dir.path().join("data"), b"kimigayo index").unwrap();
    fs::write(dir.path().join("data.sig"), sig).unwrap();
    fs::write(dir.path().join("k.asc"), k.public().to_armored()).unwrap();
    gpg(&["--import", dir.path().join("k.asc").to_str().unwrap()]);
    gpg(&["--verify", dir.path().join("data.sig").to_str().unwrap(), dir.path().join("data").to_str().unwrap()]);
    let _ = Command::new("gpgconf").env("GNUPGHOME", &home).args(["--kill", "gpg-agent"]).status();
}

#[test]
fn modified_and_missing_files_are_reported_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("tool", "1.0-r1").file("usr/bin/tool", b"#!/bin/sh\n")]);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    open(&root).add(&["tool".to_string()], &NoFaults).unwrap();
    assert!(open(&root).verify().unwrap().is_empty());
    fs::write(root.join("usr/bin/tool"), b"tampered").unwrap();
    fs::remove_file(root.join("usr/share/tool/VERSION")).unwrap();
    let problems = open(&root).verify().unwrap();
    assert!(problems.iter().any(|p| p.contains("usr/bin/tool was modified")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("usr/share/tool/VERSION is missing")), "{problems:?}");
}

#[test]
fn unsatisfiable_request_explains_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write_packages(&repo, &[Spec::new("app", "1.0-r1").deps(&["libfoo>=2"]), Spec::new("libfoo", "1.5-r1")]);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    let e = open(&root).add(&["app".to_string()], &NoFaults).unwrap_err().to_string();
    assert!(e.contains("libfoo") && e.contains("Nothing was changed"), "{e}");
    assert!(!root.join("usr").exists());
}

#[test]
fn declared_accounts_ownership_and_setuid_are_applied_without_scripts() {
    use kimigayo_package::{GroupDecl, PathDecl, UserDecl};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let mut base = Spec::new("base", "1.0-r1").file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n").file("etc/group", b"root:x:0:root\n");
    base.files.push(("etc/shadow".into(), b"root:!::0:::::\n".to_vec()));
    let mut app = Spec::new("app", "1.0-r1").deps(&["base"]).file("home/app/.keep", b"").file("usr/bin/app-helper", b"#!/bin/sh\n");
    app.users = vec![UserDecl { name: "app".into(), uid: 1500, gid: 1500, home: "/home/app".into(), shell: "/sbin/nologin".into(), gecos: "App".into() }];
    app.groups = vec![GroupDecl { name: "app".into(), gid: 1500, members: vec![] }];
    app.paths = vec![
        PathDecl { path: "home/app".into(), mode: "0750".into(), uid: 1500, gid: 1500 },
        PathDecl { path: "usr/bin/app-helper".into(), mode: "4755".into(), uid: 0, gid: 0 },
    ];
    write_packages(&repo, &[base, app]);
    sign(&repo, 1, vec![]);
    let root = new_root(dir.path(), &repo, "x86_64");
    open(&root).add(&["base".to_string()], &NoFaults).unwrap();
    open(&root).add(&["app".to_string()], &NoFaults).unwrap_or_else(|e| panic!("{e}"));
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.contains("root:x:0:0") && passwd.contains("app:x:1500:1500:App:/home/app:/sbin/nologin"), "{passwd}");
    assert!(fs::read_to_string(root.join("etc/group")).unwrap().contains("app:x:1500:"));
    assert!(fs::read_to_string(root.join("etc/shadow")).unwrap().contains("app:!::0"));
    let home = fs::metadata(root.join("home/app")).unwrap();
    assert_eq!((home.permissions().mode() & 0o7777, home.uid(), home.gid()), (0o750, 1500, 1500));
    let helper = fs::metadata(root.join("usr/bin/app-helper")).unwrap();
    assert_eq!(helper.permissions().mode() & 0o7777, 0o4755, "declared setuid is kept");
    assert_eq!(open(&root).verify().unwrap(), Vec::<String>::new(), "account edits are recorded");
}
