//! Property 22: every build output can be cryptographically checked for reproducibility.
//! `kimigayo verify` (the library entry `kimigayo_build::verify` it calls) runs over a small
//! real repository (baselayout and ca-certificates, built by the real recipes) after one
//! random change: the report is clean only when nothing changed, and otherwise names the
//! package and the differing file and offset, the modified repository, the stale build hash,
//! or the package added by hand or whose recipe was dropped.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;
use kimigayo_build::{Builder, Quiet};
use kimigayo_package::{PackageMeta, Repository};
use proptest::prelude::*;

const RECIPES: &[&str] = &["baselayout", "ca-certificates"];

/// The recorded repository (built once from the real recipes, reused from the build cache)
/// and the recipes folder it came from.
struct Fixture {
    _dir: tempfile::TempDir,
    recipes: PathBuf,
    repo: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let recipes = dir.path().join("recipes");
        for r in RECIPES {
            copy_dir(&root().join("recipes").join(r), &recipes.join(r));
        }
        let repo = dir.path().join("repo");
        let mut cfg = config(&repo);
        cfg.recipes_dir = recipes.clone();
        Builder::new(cfg, &Quiet).unwrap().build(&RECIPES.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap_or_else(|e| panic!("{e}"));
        let pkgs = Repository::new(&repo).packages().unwrap();
        assert_eq!(pkgs.len(), 2, "baselayout and ca-certificates");
        // The repository's list of what it holds, as `kimigayo build` writes it (its signature
        // is kpkg's concern; verify reads the list).
        let listing = serde_json::json!({
            "format": 1, "origin": "kimigayo", "serial": 1, "expires": 0, "generated": 0,
            "packages": pkgs.iter().map(|(_, m)| m).collect::<Vec<_>>(), "advisories": [],
        });
        fs::write(repo.join("index.json"), serde_json::to_vec_pretty(&listing).unwrap()).unwrap();
        Fixture { _dir: dir, recipes, repo }
    })
}

#[derive(Debug, Clone)]
enum Change {
    None,
    /// A byte of one file inside a package flipped (archive repacked; metadata re-hashed or not).
    FlipFileByte {
        pkg: usize,
        file: usize,
        offset: usize,
        xor: u8,
        rehash: bool,
    },
    /// A raw byte of a package archive flipped (the gzip stream itself).
    FlipArchiveByte {
        pkg: usize,
        offset: usize,
        xor: u8,
    },
    /// The metadata's sha256 edited (archive untouched).
    EditSha256 {
        pkg: usize,
        pos: usize,
    },
    /// A file of baselayout's recipe inputs changed (the recorded build is stale).
    RecipeInput {
        file: usize,
        offset: usize,
        xor: u8,
    },
    /// A package no recipe builds added to the repository.
    AddPackage,
    /// The recipe of a package the repository holds dropped (the build no longer makes it).
    DropRecipe {
        pkg: usize,
    },
    /// A package (archive and metadata) deleted from the repository: only index.json still
    /// says it belongs there.
    DeletePackage {
        pkg: usize,
    },
}

fn change() -> impl Strategy<Value = Change> {
    let i = || any::<usize>();
    prop_oneof![
        2 => Just(Change::None),
        3 => (i(), i(), i(), 1u8..=255, any::<bool>()).prop_map(|(pkg, file, offset, xor, rehash)| Change::FlipFileByte { pkg, file, offset, xor, rehash }),
        1 => (i(), i(), 1u8..=255).prop_map(|(pkg, offset, xor)| Change::FlipArchiveByte { pkg, offset, xor }),
        1 => (i(), 0usize..64).prop_map(|(pkg, pos)| Change::EditSha256 { pkg, pos }),
        2 => (i(), i(), 1u8..=255).prop_map(|(file, offset, xor)| Change::RecipeInput { file, offset, xor }),
        1 => Just(Change::AddPackage),
        1 => i().prop_map(|pkg| Change::DropRecipe { pkg }),
        1 => i().prop_map(|pkg| Change::DeletePackage { pkg }),
    ]
}

fn meta_path(archive: &Path) -> PathBuf {
    archive.with_file_name(archive.file_name().unwrap().to_string_lossy().trim_end_matches(".tar.gz").to_string() + ".json")
}

fn write_meta(archive: &Path, meta: &PackageMeta) {
    fs::write(meta_path(archive), meta.to_json()).unwrap();
}

/// Regular non-empty files of a package archive, unpacked into `dir`.
fn unpack(archive: &Path, dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(fs::File::open(archive).unwrap()));
    ar.set_preserve_permissions(true);
    ar.unpack(dir).unwrap();
    let paths = kimigayo_package::archive::list_tree(dir).unwrap();
    let files = paths.iter().filter(|p| fs::symlink_metadata(dir.join(p)).is_ok_and(|m| m.is_file() && m.len() > 0)).cloned().collect();
    (paths, files)
}

/// What the report must say about the one package it flags (`None`: a clean report).
#[derive(Debug)]
struct Expect {
    /// `arch/name` of the row that must differ.
    package: String,
    /// Every one of these must be in that row's difference.
    says: Vec<String>,
}

/// Applies `c` to a copy of the repository (and recipes); returns what verify must report.
fn apply(c: &Change, repo: &Path, recipes: &Path, epoch: u64) -> Option<Expect> {
    let pkgs = Repository::new(repo).packages().unwrap();
    let pick = |i: usize| &pkgs[i % pkgs.len()];
    let id = |m: &PackageMeta| format!("{}/{}", m.architecture, m.name);
    match *c {
        Change::None => None,
        Change::FlipFileByte { pkg, file, offset, xor, rehash } => {
            let (path, meta) = pick(pkg);
            let dir = tempfile::tempdir().unwrap();
            let (paths, files) = unpack(path, dir.path());
            let f = &files[file % files.len()];
            let mut bytes = fs::read(dir.path().join(f)).unwrap();
            let off = offset % bytes.len();
            bytes[off] ^= xor;
            fs::write(dir.path().join(f), bytes).unwrap();
            let mut out = Vec::new();
            kimigayo_package::archive::write_archive(dir.path(), &paths, epoch, &mut out).unwrap();
            fs::write(path, &out).unwrap();
            if rehash {
                let mut m = meta.clone();
                m.checksum.sha256 = kimigayo_package::sha256_hex(&out);
                m.size = out.len() as u64;
                write_meta(path, &m);
            }
            Some(Expect { package: id(meta), says: vec![meta.filename.clone(), format!("{f}: contents differ at byte offset {off} ")] })
        }
        Change::FlipArchiveByte { pkg, offset, xor } => {
            let (path, meta) = pick(pkg);
            let mut bytes = fs::read(path).unwrap();
            let off = offset % bytes.len();
            bytes[off] ^= xor;
            fs::write(path, bytes).unwrap();
            Some(Expect { package: id(meta), says: vec![meta.filename.clone()] })
        }
        Change::EditSha256 { pkg, pos } => {
            let (path, meta) = pick(pkg);
            let mut m = meta.clone();
            let mut hex: Vec<u8> = m.checksum.sha256.clone().into_bytes();
            hex[pos] = if hex[pos] == b'0' { b'1' } else { b'0' };
            m.checksum.sha256 = String::from_utf8(hex).unwrap();
            write_meta(path, &m);
            Some(Expect { package: id(meta), says: vec![meta.filename.clone(), "the repository was modified".into()] })
        }
        Change::RecipeInput { file, offset, xor } => {
            // baselayout installs these files unchanged (recipe steps), at the same paths.
            let inputs = ["etc/passwd", "etc/group", "etc/hosts", "etc/profile", "etc/shells", "etc/os-release", "etc/shadow", "etc/kimigayo/system.conf"];
            let f = inputs[file % inputs.len()];
            let p = recipes.join("baselayout/files").join(f);
            let mut bytes = fs::read(&p).unwrap();
            let off = offset % bytes.len();
            bytes[off] ^= xor;
            fs::write(&p, bytes).unwrap();
            let (_, meta) = pkgs.iter().find(|(_, m)| m.name == "baselayout").unwrap();
            Some(Expect {
                package: id(meta),
                says: vec![meta.filename.clone(), format!("{f}: contents differ at byte offset {off} "), "the inputs changed since the recorded build (build_hash".into()],
            })
        }
        Change::AddPackage => {
            let (_, base) = pkgs.iter().find(|(_, m)| m.name == "baselayout").unwrap();
            let stage = tempfile::tempdir().unwrap();
            fs::create_dir_all(stage.path().join("usr/share/extra")).unwrap();
            fs::write(stage.path().join("usr/share/extra/README"), "added by hand\n").unwrap();
            let files = kimigayo_package::archive::list_tree(stage.path()).unwrap();
            let archive = stage.path().join("extra.tar.gz");
            kimigayo_package::archive::write_archive(stage.path(), &files, epoch, fs::File::create(&archive).unwrap()).unwrap();
            let mut m = base.clone();
            m.name = "extra".into();
            m.origin = "extra".into();
            m.version = "1.0-r1".into();
            m.filename = "extra-1.0-r1.noarch.tar.gz".into();
            m.provides = vec![];
            m.paths = vec![];
            m.size = fs::metadata(&archive).unwrap().len();
            m.checksum.sha256 = kimigayo_package::sha256_file(&archive).unwrap();
            kimigayo_package::repo::publish(&Repository::new(repo), &archive, &m).unwrap();
            Some(Expect { package: id(&m), says: vec!["not produced by the rebuild".into(), "not listed in index.json".into()] })
        }
        Change::DeletePackage { pkg } => {
            let (path, meta) = pick(pkg);
            fs::remove_file(meta_path(path)).unwrap();
            fs::remove_file(path).unwrap();
            Some(Expect { package: id(meta), says: vec![format!("{}: listed in index.json but missing from the repository", meta.filename), "the repository was modified".into()] })
        }
        Change::DropRecipe { pkg } => {
            let (_, meta) = pick(pkg);
            fs::remove_dir_all(recipes.join(&meta.origin)).unwrap();
            Some(Expect { package: id(meta), says: vec!["not produced by the rebuild".into()] })
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 22: 任意のビルド出力に対して、Build_Systemはビルド再現性の暗号化検証を提供しなければならない**
    #[test]
    fn any_output_difference_is_detected_and_located(c in change()) {
        let fx = fixture();
        let case = tempfile::tempdir().unwrap();
        let repo = case.path().join("repo");
        let recipes = case.path().join("recipes");
        copy_dir(&fx.repo, &repo);
        copy_dir(&fx.recipes, &recipes);
        let mut cfg = config(&repo);
        cfg.recipes_dir = recipes.clone();
        let expect = apply(&c, &repo, &recipes, cfg.source_date_epoch);
        let report = kimigayo_build::verify(&cfg, case.path().join("verify"), &Quiet).map_err(|e| TestCaseError::fail(format!("verify failed: {e}")))?;
        let rows = format!("{:#?}", report.rows);
        match expect {
            None => {
                prop_assert!(report.ok(), "nothing changed, yet verify reports a mismatch:\n{}", rows);
                prop_assert_eq!(report.rows.len(), 2, "{}", rows);
                for r in &report.rows {
                    prop_assert!(r.recorded_sha256.is_some() && r.recorded_sha256 == r.rebuilt_sha256, "{}", rows);
                }
            }
            Some(e) => {
                prop_assert!(!report.ok(), "{:?}: verify reports the repository clean:\n{}", c, rows);
                let bad: Vec<&kimigayo_build::VerifyRow> = report.rows.iter().filter(|r| !r.identical).collect();
                prop_assert_eq!(bad.len(), 1, "{:?}: exactly the changed package must differ:\n{}", c, rows);
                prop_assert_eq!(&bad[0].package, &e.package, "{:?}: the wrong package is flagged:\n{}", c, rows);
                let said = bad[0].difference.clone().unwrap_or_default();
                for s in &e.says {
                    prop_assert!(said.contains(s.as_str()), "{:?}: the report does not say {:?}; it says {:?}", c, s, said);
                }
            }
        }
    }
}
