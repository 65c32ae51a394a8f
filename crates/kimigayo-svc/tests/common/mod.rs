//! A temporary root (etc/init.d, etc/conf.d, run/, var/log/) and helpers to drive services in it.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kimigayo_svc::SvcEnv;

pub const BIN: &str = env!("CARGO_BIN_EXE_kimigayo-svc-test");

pub struct Root {
    pub dir: tempfile::TempDir,
    pub env: SvcEnv,
}

impl Root {
    pub fn new() -> Root {
        let dir = tempfile::Builder::new().prefix("ksvc-").tempdir().unwrap();
        for d in ["etc/init.d", "etc/conf.d", "run", "var/log"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let mut env = SvcEnv::new(dir.path(), BIN);
        env.stop_timeout = Duration::from_millis(500);
        Root { dir, env }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.env.script(name);
        std::fs::write(&p, format!("#!/sbin/openrc-run\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    pub fn conf(&self, name: &str, body: &str) {
        std::fs::write(self.path().join("etc/conf.d").join(name), body).unwrap();
    }

    /// `openrc-run <root>/etc/init.d/NAME ACTION` through the multi-call test binary.
    pub fn openrc(&self, name: &str, action: &str) -> Run {
        let out = Command::new(BIN)
            .arg("openrc-run")
            .arg(self.env.script(name))
            .arg(action)
            .env("KIMIGAYO_STOP_TIMEOUT_MS", self.env.stop_timeout.as_millis().to_string())
            .output()
            .unwrap();
        Run::from(out)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.env.log_file).unwrap_or_default()
    }

    pub fn status(&self, name: &str) -> kimigayo_svc::ServiceStatus {
        kimigayo_svc::status(&self.env, name).unwrap()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        // Stop whatever still runs (holders killed with their namespaces).
        if let Ok(rd) = std::fs::read_dir(&self.env.state_dir) {
            for e in rd.flatten() {
                let sd = kimigayo_svc::state::StateDir::at(e.path(), &e.file_name().to_string_lossy());
                if let Some(pid) = sd.live_holder() {
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Host pids of live processes whose command line contains `marker`.
pub fn pids_with(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if pid == std::process::id() as i32 {
            continue;
        }
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        // The daemon itself, not the supervise-daemon watching it (its argv holds the marker too).
        if cmd.contains(marker) && !cmd.starts_with("supervise-daemon") && kimigayo_svc::state::pid_alive(pid) {
            out.push(pid);
        }
    }
    out
}

pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn proc_status_field(pid: i32, field: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.trim().to_string()))
}
