//! Where a service manager lives (root, state dir, shell, its own executable) and what it can be asked.

use std::path::PathBuf;
use std::time::Duration;

use crate::state::ServiceStatus;

/// The environment one service action runs in. `root` is "/" in production and a temp dir in tests.
#[derive(Debug, Clone)]
pub struct SvcEnv {
    pub root: PathBuf,
    /// `<root>/run/kimigayo/svc`: one folder per service (state, holder.pid, output.log…).
    pub state_dir: PathBuf,
    /// The shell that runs the openrc-run runtime (`/bin/sh`).
    pub shell: PathBuf,
    /// The multi-call binary: re-executed as `holder`, `start-stop-daemon`, `checkpath`, `supervise-daemon`.
    pub self_exe: PathBuf,
    /// After a successful stop, how long what is left in the service's namespace gets between
    /// SIGTERM and SIGKILL (OpenRC's rc_timeout_stopsec; conf.d `rc_timeout_stopsec` overrides).
    pub stop_timeout: Duration,
    /// `<root>/var/log/kimigayo/services.log`.
    pub log_file: PathBuf,
    /// Set for every script besides the RC_* of the action (`RC_SYS`, …).
    pub vars: Vec<(String, String)>,
}

impl SvcEnv {
    /// Production-like defaults below `root`.
    pub fn new(root: impl Into<PathBuf>, self_exe: impl Into<PathBuf>) -> Self {
        let root = root.into();
        SvcEnv {
            state_dir: root.join("run/kimigayo/svc"),
            log_file: root.join("var/log/kimigayo/services.log"),
            shell: PathBuf::from("/bin/sh"),
            self_exe: self_exe.into(),
            stop_timeout: Duration::from_secs(10),
            vars: Vec::new(),
            root,
        }
    }

    pub fn init_d(&self) -> PathBuf {
        self.root.join("etc/init.d")
    }

    pub fn script(&self, service: &str) -> PathBuf {
        self.init_d().join(service)
    }

    pub fn service_dir(&self, service: &str) -> PathBuf {
        self.state_dir.join(service)
    }

    /// Folder of `start-stop-daemon`/`supervise-daemon`/`checkpath` links to `self_exe`, put first
    /// on the runtime's PATH (POSIX sh cannot define functions whose names contain '-').
    pub fn applet_dir(&self) -> PathBuf {
        self.state_dir.join(".applets")
    }

}

/// What a service can be asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
    Status,
    Zap,
    /// `extra_commands` / `extra_started_commands` (e.g. `reload`), or `describe`.
    Extra(String),
}

impl Action {
    pub fn parse(word: &str) -> Action {
        match word {
            "start" => Action::Start,
            "stop" => Action::Stop,
            "restart" => Action::Restart,
            "status" => Action::Status,
            "zap" => Action::Zap,
            other => Action::Extra(other.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Status => "status",
            Action::Zap => "zap",
            Action::Extra(s) => s,
        }
    }
}

/// The result of one action: an OpenRC-like exit code and the service's status afterwards.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// What `rc-service X action` exits with (status: 0 started, 3 stopped, 32 crashed/failed).
    pub code: i32,
    pub status: ServiceStatus,
}
