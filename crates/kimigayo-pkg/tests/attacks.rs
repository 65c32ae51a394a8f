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
