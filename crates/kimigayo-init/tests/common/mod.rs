//! Test helpers: temporary OpenRC roots and the real binary run as PID 1 in fresh namespaces.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kimigayo-init"))
}

/// A temporary root with the OpenRC layout.
pub struct Root {
    pub dir: tempfile::TempDir,
}

/// Services started over a root without a PID 1 of their own (rc-service run directly) leave
/// their holders and daemons behind: they are killed with the root, so test runs do not pile
/// them up on the machine.
impl Drop for Root {
    fn drop(&mut self) {
        let marker = format!("--root\0{}\0", self.path().display());
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&marker) {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

impl Root {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("kimigayo-init-test").tempdir().expect("tempdir");
        for d in ["etc/init.d", "etc/conf.d", "etc/runlevels/sysinit", "etc/runlevels/boot", "etc/runlevels/default", "etc/runlevels/shutdown", "var/log"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Root { dir }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn file(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    /// Writes /etc/init.d/NAME (`#!/sbin/openrc-run` + body).
    pub fn service(&self, name: &str, body: &str) {
        let p = self.path().join("etc/init.d").join(name);
        std::fs::write(&p, format!("#!/sbin/openrc-run\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    pub fn enable(&self, name: &str, level: &str) {
        let l = self.path().join("etc/runlevels").join(level);
        std::fs::create_dir_all(&l).unwrap();
        std::os::unix::fs::symlink(format!("/etc/init.d/{name}"), l.join(name)).unwrap();
    }
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_default()
    }
    /// Runs an applet over this root (not as PID 1).
    pub fn cmd(&self, applet: &str, args: &[&str]) -> Output {
        Command::new(bin()).arg(applet).args(args).env("KIMIGAYO_ROOT", self.path()).stdin(Stdio::null()).output().expect("run kimigayo-init")
    }
}

/// `unshare --fork --pid --mount-proc --mount --uts --ipc kimigayo-init --container [--] ...`.
pub fn init_cmd(root: &Path, init_args: &[&str], main: Option<&str>) -> Command {
    let mut c = Command::new("unshare");
    c.args(["--fork", "--pid", "--mount-proc", "--mount", "--uts", "--ipc", "--kill-child"])
        .arg(bin())
        .arg("--container")
        .args(init_args)
        .env("KIMIGAYO_ROOT", root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(m) = main {
        c.args(["--", "/bin/sh", "-c", m]);
    }
    c
}

pub fn run_init(root: &Path, init_args: &[&str], main: Option<&str>) -> Output {
    init_cmd(root, init_args, main).output().expect("unshare")
}

/// The host pid of the init (the child of the `unshare` process).
pub fn init_pid(unshare: &Child) -> Option<i32> {
    let pid = unshare.id();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            if let Some(p) = s.split_whitespace().next().and_then(|p| p.parse().ok()) {
                return Some(p);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

pub fn wait_for(path: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

pub fn kill(pid: i32, sig: i32) {
    unsafe { libc::kill(pid, sig) };
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
