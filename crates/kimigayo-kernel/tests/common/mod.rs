//! A real Linux tree for the configuration tests: unpacked once from the `linux` recipe's
//! pinned source into the build cache (outside the checkout) and shared read-only; each test
//! configures out of tree (`make O=<own folder>`), so the kconfig tools are built once per
//! folder and cases only run `make olddefconfig` (about a second each).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use kimigayo_kernel::tree::{read_config, Tree};
use kimigayo_kernel::Config;

pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn sh(cmd: &str, dir: &Path) {
    let st = Command::new("sh").args(["-eu", "-c", cmd]).current_dir(dir).status().expect("sh");
    assert!(st.success(), "`{cmd}` failed in {}", dir.display());
}

/// The unpacked source tree (shared by every test process; prepared under a lock).
pub fn source_tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let root = project_root();
        let recipe = kimigayo_recipe::Recipe::load(&root.join("recipes/linux")).expect("recipes/linux");
        let src = &recipe.sources[0];
        let cfg = kimigayo_build::default_config(&root).expect("build config");
        let (deb, _) = kimigayo_fetch::Fetcher::new(&cfg.source_cache_dir).fetch(src).expect("fetch the linux source (network or cache)");
        let dir = cfg.cache_dir.join("kernel-tree").join(&src.sha256.as_deref().unwrap()[..16]);
        std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.with_extension("lock")).unwrap();
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("lock the kernel tree");
        if !dir.join(".ready").is_file() {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            // linux-source-6.12_6.12.107-1_all.deb holds usr/src/linux-source-6.12.tar.xz
            let inner = src.file.as_deref().and_then(|f| f.split('_').next()).expect("linux-source-X.Y_…");
            sh(&format!("dpkg-deb --fsys-tarfile '{}' | tar -xO ./usr/src/{inner}.tar.xz | tar -xJ --strip-components=1", deb.display()), &dir);
            std::fs::write(dir.join(".ready"), "").unwrap();
        }
        dir
    })
}

/// A fresh object folder with the `allnoconfig` base in it (kconfig tools built there).
pub fn object_tree() -> (tempfile::TempDir, Tree, Config) {
    let src = source_tree();
    let obj = tempfile::tempdir().unwrap();
    let tree = Tree { src: src.to_path_buf(), obj: obj.path().to_path_buf() };
    tree.make("allnoconfig").expect("make allnoconfig");
    let base = read_config(&tree.config_path()).unwrap();
    (obj, tree, base)
}
