//! Where things live: every path is relative to the root (`KIMIGAYO_ROOT`, default `/`), so
//! tests run every command and the init itself over a temporary root.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Ctx {
    pub root: PathBuf,
    /// The multi-call binary itself (re-executed for service actions).
    pub self_exe: PathBuf,
    /// The shell that runs init scripts.
    pub shell: PathBuf,
}

impl Ctx {
    pub fn from_env() -> Self {
        let root = std::env::var_os("KIMIGAYO_ROOT").filter(|r| !r.is_empty()).map(PathBuf::from).unwrap_or_else(|| "/".into());
        let self_exe = std::fs::read_link("/proc/self/exe")
            .ok()
            .or_else(|| std::env::args_os().next().map(PathBuf::from))
            .unwrap_or_else(|| "/sbin/init".into());
        let shell = std::env::var_os("KIMIGAYO_SHELL").map(PathBuf::from).unwrap_or_else(|| "/bin/sh".into());
        Ctx { root, self_exe, shell }
    }

    pub fn at(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }
    /// `<root>/run/kimigayo`: volatile state (service state dirs, the current runlevel).
    pub fn state_dir(&self) -> PathBuf {
        self.at("run/kimigayo")
    }
    pub fn init_log(&self) -> PathBuf {
        self.at("var/log/kimigayo/init.log")
    }
    /// Captured output of the service actions init runs (relayed to the console and log).
    pub fn action_out(&self, service: &str, action: &str) -> PathBuf {
        self.state_dir().join("init").join(format!("{service}.{action}.out"))
    }
    /// The runlevel reached by the last boot (OpenRC's softlevel).
    pub fn softlevel(&self) -> PathBuf {
        self.state_dir().join("softlevel")
    }
    pub fn rc_conf(&self) -> PathBuf {
        self.at("etc/rc.conf")
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
}
