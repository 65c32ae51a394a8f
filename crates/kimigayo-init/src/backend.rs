//! The one place that talks to kimigayo-rc (the on-disk OpenRC model) and kimigayo-svc (one
//! service's lifecycle). Commands and PID 1 only see this facade.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::ctx::Ctx;
use crate::orchestrate::Needs;
use crate::services::{self, Services};

/// A service's status as the commands print it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub name: String,
    pub state: String,
    /// `rc-service X status` exit code (0 started, 3 stopped, 4 stopping, 8 starting, 32 crashed).
    pub code: i32,
    pub holder_pid: Option<i32>,
    pub since: u64,
    pub sandbox: String,
    pub restarts: u32,
    pub last_exit: Option<String>,
    pub log_tail: Vec<String>,
}

pub struct Backend {
    pub ctx: Ctx,
}

const NOT_WIRED: &str = "the service layer (kimigayo-rc/kimigayo-svc) is not built into this kimigayo-init yet";

impl Backend {
    pub fn new(ctx: Ctx) -> Self {
        Backend { ctx }
    }

    pub fn script(&self, name: &str) -> PathBuf {
        self.ctx.at("etc/init.d").join(name)
    }

    pub fn services(&self) -> Result<Vec<String>, String> {
        let mut v: Vec<String> = std::fs::read_dir(self.ctx.at("etc/init.d"))
            .map_err(|e| format!("{}: {e}", self.ctx.at("etc/init.d").display()))?
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| !n.starts_with('.') && !n.ends_with(".sh") && n != "functions.sh")
            .collect();
        v.sort();
        Ok(v)
    }

    pub fn exists(&self, name: &str) -> bool {
        !name.is_empty() && !name.contains('/') && !name.starts_with('.') && self.script(name).is_file()
    }

    pub fn status(&self, name: &str) -> Result<Status, String> {
        Err(format!("{name}: {NOT_WIRED}"))
    }

    /// Runs an action (its OpenRC-style output goes to stdout/stderr); returns the exit code.
    pub fn action(&self, name: &str, action: &str, _args: &[String]) -> Result<i32, String> {
        Err(format!("{name} {action}: {NOT_WIRED}"))
    }

    pub fn runlevels(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.ctx.at("etc/runlevels"))
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).filter_map(|e| e.file_name().to_str().map(str::to_string)).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    pub fn members(&self, level: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.ctx.at("etc/runlevels").join(level))
            .map(|d| d.flatten().filter_map(|e| e.file_name().to_str().map(str::to_string)).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Ok(true) added, Ok(false) already there.
    pub fn add(&self, name: &str, level: &str) -> Result<bool, String> {
        Err(format!("{name} {level}: {NOT_WIRED}"))
    }

    /// Ok(true) deleted, Ok(false) was not there.
    pub fn del(&self, name: &str, level: &str) -> Result<bool, String> {
        Err(format!("{name} {level}: {NOT_WIRED}"))
    }

    /// Service → runlevels it is in.
    pub fn show(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for level in self.runlevels() {
            for svc in self.members(&level) {
                out.entry(svc).or_default().push(level.clone());
            }
        }
        out
    }

    fn rc_conf(&self, key: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.ctx.rc_conf()).ok()?;
        text.lines().rev().find_map(|l| {
            let (k, v) = l.trim().split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').trim_matches('\'').to_string())
        })
    }
}

impl Services for Backend {
    fn boot_plan(&self, _levels: &[String]) -> Result<(Vec<Vec<String>>, Needs), String> {
        Ok((Vec::new(), Needs::new()))
    }
    fn running(&self) -> Vec<String> {
        Vec::new()
    }
    fn stop_plan(&self, running: &[String]) -> Vec<Vec<String>> {
        vec![running.to_vec()]
    }
    fn stop_timeout(&self) -> Duration {
        self.rc_conf("rc_timeout_stopsec").and_then(|v| services::parse_seconds(&v)).unwrap_or(Duration::from_secs(10))
    }
    fn kill_grace(&self) -> Duration {
        self.rc_conf("rc_timeout_killsec").and_then(|v| services::parse_seconds(&v)).unwrap_or(Duration::from_secs(3))
    }
}

/// The applets kimigayo-svc implements (`openrc-run`, `start-stop-daemon`, `supervise-daemon`,
/// `checkpath`, and the internal `--holder`). None when `name` is not one of them.
pub fn svc_applet(name: &str, _args: &[std::ffi::OsString]) -> Option<i32> {
    match name {
        "openrc-run" | "start-stop-daemon" | "supervise-daemon" | "checkpath" | "--holder" => {
            eprintln!("{name}: {NOT_WIRED}");
            Some(1)
        }
        _ => None,
    }
}

/// `kimigayo-init --run-action SERVICE ACTION`: what init runs per service in a wave.
pub fn run_action_main(args: &[std::ffi::OsString]) -> i32 {
    let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let (Some(name), Some(action)) = (words.first(), words.get(1)) else {
        eprintln!("kimigayo-init --run-action SERVICE ACTION: missing arguments");
        return 2;
    };
    let b = Backend::new(Ctx::from_env());
    match b.action(name, action, &words[2..]) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(" * ERROR: {e}");
            1
        }
    }
}
