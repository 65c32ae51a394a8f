#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kimigayo_rc::RcRoot;

/// A temp root holding a copy of tests/root (distribution-style init scripts).
pub fn distro_root() -> (tempfile::TempDir, RcRoot) {
    let t = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/root"), t.path());
    let root = RcRoot::new(t.path());
    std::os::unix::fs::symlink("net.lo", root.script("net.eth0")).unwrap();
    (t, root)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
            let exec = from.ends_with("init.d");
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(if exec { 0o755 } else { 0o644 })).unwrap();
        }
    }
}

pub fn write_script(root: &RcRoot, name: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(root.init_d()).unwrap();
    let p = root.script(name);
    std::fs::write(&p, format!("#!/sbin/openrc-run\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

pub fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// BusyBox to test its `sh` too: $KIMIGAYO_BUSYBOX, else the one the project builds.
pub fn busybox() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("KIMIGAYO_BUSYBOX").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../out/audit-root/bin/busybox")),
    ];
    candidates.into_iter().flatten().find(|p| {
        std::process::Command::new(p).args(["sh", "-c", "exit 0"]).status().map(|s| s.success()).unwrap_or(false)
    })
}
