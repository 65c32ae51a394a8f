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
