//! Fixtures: the real repository `make` builds (reused from the build cache), signed with a
//! test key, and podman configured as this machine needs (ENVIRONMENT.md).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub struct Repo {
    pub _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub keys: kimigayo_sign::Keyring,
    /// The key that signed the index (tests re-sign copies with it).
    pub secret: kimigayo_sign::SecretKey,
    pub epoch: u64,
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn repo() -> &'static Repo {
    static R: OnceLock<Repo> = OnceLock::new();
    R.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let mut cfg = kimigayo_build::default_config(&root()).unwrap();
        cfg.repo_dir = path.clone();
        let mut b = kimigayo_build::Builder::new(cfg.clone(), &kimigayo_build::Quiet).unwrap();
        let wanted = kimigayo_build::plan::without_kernels(&b.recipes);
        b.build(&wanted).unwrap_or_else(|e| panic!("{e}"));
        let key = kimigayo_sign::SecretKey::generate("Image tests <image@kimigayo.test>", None).unwrap();
        kimigayo_pkg::build_index(&path, &key, 1, std::time::Duration::from_secs(86_400), vec![], std::time::SystemTime::now()).unwrap();
        let mut keys = kimigayo_sign::Keyring::new();
        keys.add(key.public(), "test");
        Repo { _dir: dir, path, keys, secret: key, epoch: cfg.source_date_epoch }
    })
}

pub fn spec(packages: &[&str], name: &str) -> kimigayo_image::ImageSpec {
    let text = std::fs::read_to_string(root().join("images/base.yaml")).unwrap();
    let mut s = kimigayo_image::ImageSpec::parse("images/base.yaml", &text).unwrap();
    s.image.packages = packages.iter().map(|p| p.to_string()).collect();
    s.image.name = name.to_string();
    s
}

fn conf() -> &'static PathBuf {
    static C: OnceLock<PathBuf> = OnceLock::new();
    C.get_or_init(|| {
        let p = std::env::temp_dir().join(format!("kimigayo-image-tests-{}.conf", std::process::id()));
        std::fs::write(
            &p,
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=20000:20000\"]\nnetns = \"none\"\n\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        p
    })
}

pub fn podman(args: &[&str]) -> Output {
    Command::new("podman").env("CONTAINERS_CONF", conf()).args(args).output().expect("podman is installed (scripts/setup.sh)")
}

pub fn ok(o: Output) -> String {
    assert!(o.status.success(), "podman failed: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Removes a loaded image when dropped.
pub struct Loaded(pub String);
impl Drop for Loaded {
    fn drop(&mut self) {
        let _ = podman(&["rmi", "-f", &self.0]);
    }
}

pub fn load(archive: &Path, name: &str) -> Loaded {
    ok(podman(&["load", "-i", archive.to_str().unwrap()]));
    Loaded(format!("localhost/{name}:latest"))
}

/// The utilities every configuration must provide (property 3).
pub const ESSENTIAL: &[&str] = &[
    "sh", "ls", "cp", "mv", "rm", "mkdir", "cat", "echo", "grep", "sed", "awk", "find", "xargs", "sort", "tar", "gzip", "wget", "nc", "ps", "top", "kill", "mount", "ip", "vi",
    "date", "id", "chmod", "chown", "ln", "df", "du", "head", "tail", "tee", "wc",
];

/// A Debian 12 root filesystem as a tar made once by mmdebstrap (`variant`, `--include=`
/// `include`) and cached in the build cache's test-fixtures as `name`.
pub fn debian_fixture(name: &str, variant: &str, include: &str) -> PathBuf {
    let cfg = kimigayo_build::default_config(&root()).unwrap();
    let dir = cfg.cache_dir.join("test-fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    let tar = dir.join(name);
    if !tar.exists() {
        let part = dir.join(format!("{name}.part"));
        let o = Command::new("mmdebstrap")
            .args(["--quiet", &format!("--variant={variant}"), "--format=tar", &format!("--include={include}")])
            .args(["--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*"])
            .arg("bookworm")
            .arg(&part)
            .arg("http://deb.debian.org/debian")
            .output()
            .expect("mmdebstrap is installed (scripts/setup.sh)");
        assert!(o.status.success(), "mmdebstrap failed: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::rename(&part, &tar).unwrap();
    }
    tar
}

/// The shipped image profiles, and the default plus the CA certificates: (label, spec, extra
/// packages). Properties that hold "for any configuration" run over all of them.
pub const PROFILES: &[(&str, &str, &[&str])] =
    &[("base", "images/base.yaml", &[]), ("init", "images/init.yaml", &[]), ("kpkg", "images/kpkg.yaml", &[]), ("base+ca-certificates", "images/base.yaml", &["ca-certificates"])];

/// A profile's image, built from the real repository and loaded as `localhost/PREFIX-I`
/// (left loaded: `remove_profiles` removes it with its containers).
pub struct ProfileImage {
    pub label: &'static str,
    pub image: String,
    pub report: kimigayo_image::Report,
    _out: tempfile::TempDir,
}

pub fn build_profile(prefix: &str, i: usize) -> ProfileImage {
    let (label, file, extra) = PROFILES[i];
    let r = repo();
    let mut s = kimigayo_image::ImageSpec::load(&root().join(file)).unwrap();
    s.image.packages.extend(extra.iter().map(|p| p.to_string()));
    s.image.name = format!("{prefix}-{i}");
    let out = tempfile::tempdir().unwrap();
    let report = kimigayo_image::build(&s, &r.path, &r.keys, r.epoch, out.path()).unwrap_or_else(|e| panic!("{label}: {e}"));
    let loaded = load(&report.oci_archive, &s.image.name);
    let image = loaded.0.clone();
    std::mem::forget(loaded);
    ProfileImage { label, image, report, _out: out }
}

/// Removes the profile images (and, with `rmi -f`, their containers).
pub fn remove_profiles(prefix: &str) {
    for i in 0..PROFILES.len() {
        let _ = podman(&["rmi", "-f", &format!("localhost/{prefix}-{i}:latest")]);
    }
}

/// The regular files of an image's layer (gzip), read back from its OCI layout: path → bytes.
pub fn layer_regular_files(report: &kimigayo_image::Report) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let blobs = report.oci_layout.join("blobs/sha256");
    let mut biggest: Option<(u64, PathBuf)> = None;
    for e in std::fs::read_dir(&blobs).unwrap() {
        let p = e.unwrap().path();
        let len = std::fs::metadata(&p).unwrap().len();
        if biggest.as_ref().is_none_or(|(l, _)| len > *l) {
            biggest = Some((len, p));
        }
    }
    let bytes = std::fs::read(biggest.unwrap().1).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "the layer is not gzip (these tests read gzip layers)");
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut out = std::collections::BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let p = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
        let mut d = Vec::new();
        e.read_to_end(&mut d).unwrap();
        out.insert(p, d);
    }
    out
}
