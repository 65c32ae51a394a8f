//! Test fixtures for kpkg: real signed repositories (real archives written by the package
//! crate, real OpenPGP signatures) and real root folders. Nothing is mocked.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use kimigayo_package::{BuildInfo, Checksum, PackageMeta};
use kimigayo_pkg::{Advisory, Root};
use kimigayo_sign::SecretKey;

#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub deps: Vec<String>,
    pub conflicts: Vec<String>,
    pub provides: Vec<String>,
    pub files: Vec<(String, Vec<u8>)>,
    pub users: Vec<kimigayo_package::UserDecl>,
    pub groups: Vec<kimigayo_package::GroupDecl>,
    pub paths: Vec<kimigayo_package::PathDecl>,
}

impl Spec {
    pub fn new(name: &str, version: &str) -> Spec {
        Spec {
            name: name.into(),
            version: version.into(),
            arch: "x86_64".into(),
            deps: vec![],
            conflicts: vec![],
            provides: vec![],
            files: vec![(format!("usr/share/{name}/VERSION"), version.as_bytes().to_vec())],
            users: vec![],
            groups: vec![],
            paths: vec![],
        }
    }
    pub fn deps(mut self, d: &[&str]) -> Spec {
        self.deps = d.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn arch(mut self, a: &str) -> Spec {
        self.arch = a.into();
        self
    }
    pub fn file(mut self, path: &str, data: &[u8]) -> Spec {
        self.files.push((path.into(), data.to_vec()));
        self
    }
}

pub fn key() -> &'static SecretKey {
    static K: std::sync::OnceLock<SecretKey> = std::sync::OnceLock::new();
    K.get_or_init(|| SecretKey::generate("Kimigayo Test Repository <repo@kimigayo.test>", None).unwrap())
}

fn build_info() -> BuildInfo {
    BuildInfo {
        timestamp: "2026-01-01T00:00:00Z".into(),
        build_hash: "0".repeat(64),
        compiler: "none".into(),
        flags: vec![],
        hardening: "full".into(),
        linkage: "static".into(),
        target: "x86_64-linux-musl".into(),
        libc: "none".into(),
        recipe_sha256: "0".repeat(64),
        sources: vec![],
        patches: vec![],
        build_dependencies: Default::default(),
        host_tools: Default::default(),
    }
}

/// Write unsigned packages (archive + metadata) for `specs` into `repo`.
pub fn write_packages(repo: &Path, specs: &[Spec]) {
    for s in specs {
        let tree = tempfile::tempdir().unwrap();
        for (p, data) in &s.files {
            let f = tree.path().join(p);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(&f, data).unwrap();
            fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        }
        let paths = kimigayo_package::archive::list_tree(tree.path()).unwrap();
        let dir = repo.join(&s.arch);
        fs::create_dir_all(&dir).unwrap();
        let filename = format!("{}-{}.{}.tar.gz", s.name, s.version, s.arch);
        let mut bytes = Vec::new();
        let stats = kimigayo_package::write_archive(tree.path(), &paths, 1_700_000_000, &mut bytes).unwrap();
        fs::write(dir.join(&filename), &bytes).unwrap();
        let meta = PackageMeta {
            name: s.name.clone(),
            version: s.version.clone(),
            architecture: s.arch.clone(),
            dependencies: s.deps.clone(),
            conflicts: s.conflicts.clone(),
            provides: s.provides.clone(),
            size: bytes.len() as u64,
            installed_size: stats.installed_size,
            license: "MIT".into(),
            description: "test".into(),
            origin: s.name.clone(),
            filename: filename.clone(),
            checksum: Checksum { sha256: kimigayo_package::sha256_hex(&bytes), gpg_signature: None },
            build_info: build_info(),
            users: s.users.clone(),
            groups: s.groups.clone(),
            paths: s.paths.clone(),
        };
        fs::write(dir.join(format!("{}-{}.{}.json", s.name, s.version, s.arch)), meta.to_json()).unwrap();
    }
}

/// Sign `repo` with the test key.
pub fn sign(repo: &Path, serial: u64, advisories: Vec<Advisory>) {
    kimigayo_pkg::build_index(repo, key(), serial, Duration::from_secs(86_400), advisories, SystemTime::now()).unwrap();
}

/// A root that trusts the test key and uses `repo`.
pub fn new_root(dir: &Path, repo: &Path, arch: &str) -> PathBuf {
    let root = dir.join("root");
    fs::create_dir_all(root.join(kimigayo_pkg::KEYS_DIR)).unwrap();
    fs::write(root.join(kimigayo_pkg::KEYS_DIR).join("repo.asc"), key().public().to_armored()).unwrap();
    fs::write(root.join(kimigayo_pkg::REPOS_FILE), format!("{}\n", repo.display())).unwrap();
    fs::write(root.join(kimigayo_pkg::ARCH_FILE), format!("{arch}\n")).unwrap();
    root
}

pub fn open(root: &Path) -> Root {
    Root::open(root, &[], None).unwrap()
}

/// Everything under `root` except kpkg's own state: path → (kind, mode, content/target).
pub fn snapshot(root: &Path) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    let mut m = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let md = fs::symlink_metadata(e.path()).unwrap();
        let v = if md.file_type().is_symlink() {
            ('l', 0, fs::read_link(e.path()).unwrap().to_string_lossy().as_bytes().to_vec())
        } else if md.is_dir() {
            ('d', md.permissions().mode() & 0o7777, vec![])
        } else {
            ('f', md.permissions().mode() & 0o7777, fs::read(e.path()).unwrap())
        };
        m.insert(rel, v);
    }
    m
}

/// Change one character of the signature value itself (the last base64 line of the armored
/// body encodes the end of the packet: the signature's MPIs). A flip in an unhashed
/// subpacket would not be tampering with anything signed, so this is where it must land.
pub fn corrupt_signature(armored: &str, pick: usize) -> String {
    let lines: Vec<&str> = armored.lines().collect();
    let end = lines.iter().position(|l| l.starts_with("-----END")).unwrap();
    let mut last = end - 1;
    if lines[last].starts_with('=') {
        last -= 1; // the CRC line
    }
    let body = lines[last].trim_end_matches('=');
    let usable = body.len().saturating_sub(2).max(1);
    let k = pick % usable;
    let c = body.as_bytes()[k];
    let repl = if c == b'A' { 'B' } else { 'A' };
    let mut new_line = body.to_string();
    new_line.replace_range(k..k + 1, &repl.to_string());
    new_line.push_str(&lines[last][body.len()..]);
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[last] = new_line;
    // Drop the CRC line so armor decoding does not reject it before the signature check.
    out.retain(|l| !(l.starts_with('=') && l.len() == 5));
    out.join("\n") + "\n"
}
