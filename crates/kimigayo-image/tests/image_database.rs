//! Images know what they contain: the composer writes kpkg's installed database exactly as
//! `kpkg add` of the image's packages records it, and images with kpkg carry their trust root
//! (the signing key, the pinned origin, the index serial they were built from), so a
//! container's first `kpkg` run refuses an older or forked index (issues: secure by default
//! item 3; images know what they contain item 1).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{repo, spec};
use kimigayo_txn::NoFaults;

/// Compose `packages` and unpack the layer into `<dir>/root` (owners and modes kept).
fn image_root(dir: &Path, packages: &[&str]) -> PathBuf {
    let composed = kimigayo_image::compose::compose(&spec(packages, "db-test"), &repo().path, &repo().keys, repo().epoch, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
    let root = dir.join("root");
    fs::create_dir_all(&root).unwrap();
    let mut a = tar::Archive::new(&composed.layer[..]);
    a.set_preserve_permissions(true);
    a.set_preserve_ownerships(true);
    a.unpack(&root).unwrap();
    root
}

fn db_of(root: &Path) -> kimigayo_pkg::Database {
    kimigayo_pkg::Database::parse(&fs::read(root.join(kimigayo_pkg::db::DB_FILE)).expect("the image holds var/lib/kpkg/installed.json")).unwrap()
}

/// A copy of the test repository re-signed with `key` at `serial` (same origin unless given).
fn resigned(dir: &Path, name: &str, key: &kimigayo_sign::SecretKey, serial: u64, origin: Option<&str>, advisories: Vec<kimigayo_pkg::Advisory>) -> PathBuf {
    let dst = dir.join(name).join("repo");
    kimigayo_build::toolchain::copy_tree(&repo().path, &dst).unwrap();
    let current = kimigayo_pkg::read_signed_index(&repo().path, &repo().keys, SystemTime::now()).unwrap();
    // Strip the old signatures so build_named_index signs each package again.
    for (json, _) in kimigayo_package::Repository::new(&dst).packages().unwrap().into_iter().map(|(a, m)| (a.with_extension("").with_extension("json"), m)) {
        let mut m: kimigayo_package::PackageMeta = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
        m.checksum.gpg_signature = None;
        fs::write(&json, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    }
    kimigayo_pkg::build_named_index(&dst, origin.unwrap_or(&current.origin), key, serial, Duration::from_secs(86_400), advisories, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
    dst
}

#[test]
fn every_image_records_its_packages_exactly_as_kpkg_add_would() {
    let dir = tempfile::tempdir().unwrap();
    let packages = ["baselayout", "musl", "busybox"];
    let root = image_root(dir.path(), &packages);
    let image_db = db_of(&root);
    assert_eq!(image_db.packages.keys().map(String::as_str).collect::<Vec<_>>(), vec!["baselayout", "busybox", "musl"]);
    // Without kpkg in the image: the record only, no trust root.
    assert!(image_db.origin_serials.is_empty() && !root.join(kimigayo_pkg::ORIGINS_FILE).exists() && !root.join(kimigayo_pkg::KEYS_DIR).exists());

    // The same packages installed by kpkg itself into an empty root.
    let by_kpkg = dir.path().join("kpkg-root");
    fs::create_dir_all(by_kpkg.join(kimigayo_pkg::KEYS_DIR)).unwrap();
    fs::write(by_kpkg.join(kimigayo_pkg::KEYS_DIR).join("k.asc"), repo().secret.public().to_armored()).unwrap();
    fs::write(by_kpkg.join(kimigayo_pkg::ARCH_FILE), "x86_64\n").unwrap();
    let k = kimigayo_pkg::Root::open(&by_kpkg, &[repo().path.display().to_string()], None).unwrap();
    k.add(&packages.iter().map(|p| p.to_string()).collect::<Vec<_>>(), &NoFaults).unwrap_or_else(|e| panic!("{e}"));
    let kpkg_db = k.database().unwrap();
    assert_eq!(image_db.world, kpkg_db.world, "explicit packages (the world)");
    // Files the image rewrites from its spec are recorded as the image holds them.
    let rewritten = ["etc/kimigayo/system.conf", "etc/passwd", "etc/group", "etc/shadow"];
    let norm = |db: &kimigayo_pkg::Database| -> BTreeMap<String, Vec<String>> {
        db.packages
            .values()
            .map(|p| {
                let mut files: Vec<String> = p
                    .files
                    .iter()
                    .map(|f| {
                        let sha = if rewritten.contains(&f.path.as_str()) { None } else { f.sha256.clone() };
                        format!("{} {:?} {:o} {}:{} {:?} {:?}", f.path, f.kind, f.mode, f.uid, f.gid, sha, f.target)
                    })
                    .collect();
                files.sort();
                (format!("{} {} {} {}", p.name, p.version, p.arch, p.sha256), files)
            })
            .collect()
    };
    assert_eq!(norm(&image_db), norm(&kpkg_db), "the image's database differs from what `kpkg add` records");

    // kpkg reads it: list, and verify finds every file as recorded.
    let img = kimigayo_pkg::Root::open(&root, &[repo().path.display().to_string()], Some("x86_64")).unwrap();
    let problems = img.verify().unwrap();
    assert!(problems.is_empty(), "kpkg verify in the image root: {problems:?}");
}

#[test]
fn a_container_from_an_image_refuses_an_index_older_than_the_image_or_from_another_signer() {
    let dir = tempfile::tempdir().unwrap();
    let root = image_root(dir.path(), &["baselayout", "musl", "busybox", "kpkg"]);
    let signed = kimigayo_pkg::read_signed_index_full(&repo().path, &repo().keys, SystemTime::now()).unwrap();
    let db = db_of(&root);
    assert_eq!(db.origin_serials.get(&signed.index.origin), Some(&signed.index.serial), "the image records the serial it was built from");
    let origins = fs::read_to_string(root.join(kimigayo_pkg::ORIGINS_FILE)).unwrap();
    assert!(origins.contains(&format!("{} keys={}", signed.index.origin, signed.signer)), "{origins}");
    assert!(root.join(kimigayo_pkg::KEYS_DIR).join(format!("{}.asc", signed.signer)).is_file(), "the signing key is trusted in the image");
    let open = |repo_dir: &Path| kimigayo_pkg::Root::open(&root, &[repo_dir.display().to_string()], Some("x86_64")).unwrap();
    let add = |repo_dir: &Path| open(repo_dir).add(&["ca-certificates".to_string()], &NoFaults).map(|_| ()).map_err(|e| e.to_string());
    assert!(!root.join("etc/ssl").exists() || !root.join("etc/ssl/certs/ca-certificates.crt").exists());

    // The first run of kpkg in the container, against a mirror serving an older index.
    let older = resigned(dir.path(), "older", &repo().secret, signed.index.serial - 1, None, vec![]);
    let e = add(&older).unwrap_err();
    assert!(e.contains(&format!("serial {}", signed.index.serial - 1)) && e.contains("older"), "{e}");
    // The same serial with other content (a fork of the index the image was built from).
    let adv = kimigayo_pkg::Advisory { id: "KSA-0".into(), package: "busybox".into(), severity: "high".into(), fixed_in: "99".into(), summary: String::new() };
    let forked = resigned(dir.path(), "forked", &repo().secret, signed.index.serial, None, vec![adv]);
    let e = add(&forked).unwrap_err();
    assert!(e.contains("again") && e.contains("different content"), "{e}");
    // A newer index signed by another key the root happens to trust, for the pinned origin.
    let other = kimigayo_sign::SecretKey::generate("Other <other@kimigayo.test>", None).unwrap();
    fs::write(root.join(kimigayo_pkg::KEYS_DIR).join("other.asc"), other.public().to_armored()).unwrap();
    let e = add(&resigned(dir.path(), "other-key", &other, signed.index.serial + 1, None, vec![])).unwrap_err();
    assert!(e.contains("not signed by a key"), "{e}");
    // ... or for an origin the image does not trust.
    let e = add(&resigned(dir.path(), "other-origin", &other, signed.index.serial + 1, Some("elsewhere"), vec![])).unwrap_err();
    assert!(e.contains("elsewhere") && e.contains("does not trust"), "{e}");
    assert!(!root.join("etc/ssl/certs/ca-certificates.crt").exists(), "nothing was installed");

    // The index the image was built from, and a newer one: accepted; `audit` records the newer.
    add(&repo().path).unwrap_or_else(|e| panic!("{e}"));
    let newer = resigned(dir.path(), "newer", &repo().secret, signed.index.serial + 5, None, vec![]);
    open(&newer).audit().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(db_of(&root).origin_serials.get(&signed.index.origin), Some(&(signed.index.serial + 5)));
    let e = open(&repo().path).indexes().map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("older"), "after seeing serial +5, the image's own serial is refused: {e}");
}
