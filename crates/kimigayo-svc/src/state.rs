//! Per-service state under `<state_dir>/<svc>/`, one small file per fact, each written atomically
//! (write a temp file, rename) so a reader never sees half a value:
//!
//! | file          | content                                                     |
//! |---------------|-------------------------------------------------------------|
//! | `state`       | stopped / starting / started / stopping / crashed / failed  |
//! |               | (its mtime: when that state was entered)                    |
//! | `holder.pid`  | host pid and start time (clock ticks) of the holder         |
//! | `sandbox`     | the sandbox in force (`SandboxSpec::describe`)              |
//! | `sandbox-degraded` | why the namespaces are missing, and the fix (see fallback) |
//! | `restarts`    | restarts made by the retry policy / supervise-daemon        |
//! | `last-exit`   | "exit 3" / "signal SIGKILL" of the last failure             |
//! | `last-failure`| output lines logged with the last failure                   |
//! | `output.log`  | the service's captured stdout/stderr, bounded               |

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::env::SvcEnv;
use crate::error::SvcError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Stopped,
    Starting,
    Started,
    Stopping,
    Crashed,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Starting => "starting",
            State::Started => "started",
            State::Stopping => "stopping",
            State::Crashed => "crashed",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s.trim() {
            "stopped" => State::Stopped,
            "starting" => State::Starting,
            "started" => State::Started,
            "stopping" => State::Stopping,
            "crashed" => State::Crashed,
            "failed" => State::Failed,
            _ => return None,
        })
    }

    /// States in which a holder is expected to be alive.
    pub fn is_running(self) -> bool {
        matches!(self, State::Starting | State::Started | State::Stopping)
    }

    /// `rc-service X status` exit code, as OpenRC's: 0 started, 3 stopped, 4 stopping,
    /// 8 starting, 32 crashed (a failed service — start failed or retries exhausted — is reported
    /// as crashed too: OpenRC has no separate code).
    pub fn exit_code(self) -> i32 {
        match self {
            State::Started => 0,
            State::Stopped => 3,
            State::Stopping => 4,
            State::Starting => 8,
            State::Crashed | State::Failed => 32,
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `rc-service X status` / `rc-status --json` show about one service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub state: State,
    pub holder_pid: Option<i32>,
    /// Unix seconds of the last state change.
    pub since: u64,
    pub sandbox: String,
    /// Set when the service runs without the namespaces it asked for (`sandbox_unavailable=
    /// degrade` in an unprivileged container): `EPERM: <reason>; fix: <fix>`.
    #[serde(default)]
    pub sandbox_degraded: Option<String>,
    pub restarts: u32,
    pub last_exit: Option<String>,
    pub log_tail: Vec<String>,
    /// The last start never got the service started (its start action failed): OpenRC
    /// reports such a service as stopped (status 3), a started one that died as crashed (32).
    #[serde(default)]
    pub start_failed: bool,
}

impl ServiceStatus {
    /// `rc-service X status` exit code (OpenRC's): a failed start is "stopped" (3).
    pub fn exit_code(&self) -> i32 {
        if self.state == State::Failed && self.start_failed {
            return State::Stopped.exit_code();
        }
        self.state.exit_code()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("ServiceStatus is plain data")
    }
}

/// Lines of output kept in `ServiceStatus::log_tail` and in failure log entries.
pub const TAIL_LINES: usize = 10;

/// Handle on one service's state folder.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub service: String,
    pub dir: PathBuf,
    /// The folder was made (or found) once: writes need not ask again.
    made: std::cell::OnceCell<()>,
}

impl StateDir {
    pub fn new(env: &SvcEnv, service: &str) -> Self {
        StateDir { service: service.to_string(), dir: env.service_dir(service), made: Default::default() }
    }

    pub fn at(dir: PathBuf, service: &str) -> Self {
        StateDir { service: service.to_string(), dir, made: Default::default() }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn ensure(&self) -> Result<(), SvcError> {
        if self.made.get().is_some() {
            return Ok(());
        }
        fs::create_dir_all(&self.dir).map_err(|e| SvcError::io(&self.service, "creating state dir", &self.dir, e))?;
        let _ = self.made.set(());
        Ok(())
    }

    /// Replaces `file` atomically — unless it already holds `value`: a new file costs an inode
    /// (and on a disk-backed /run, as in a container's overlay, the search for a free one).
    pub fn write(&self, file: &str, value: &str) -> Result<(), SvcError> {
        if self.read(file).as_deref() == Some(value) {
            return Ok(());
        }
        self.ensure()?;
        write_atomic(&self.path(file), value.as_bytes())
            .map_err(|e| SvcError::io(&self.service, "writing", self.path(file), e))
    }

    pub fn read(&self, file: &str) -> Option<String> {
        fs::read_to_string(self.path(file)).ok()
    }

    pub fn remove(&self, file: &str) {
        let _ = fs::remove_file(self.path(file));
    }

    pub fn state(&self) -> Option<State> {
        self.read("state").and_then(|s| State::parse(&s))
    }

    /// Records a state; the time it was entered is the file's mtime (so setting the state the
    /// service is already in changes nothing).
    pub fn set_state(&self, state: State) -> Result<(), SvcError> {
        self.write("state", state.as_str())
    }

    /// Unix seconds of the last state change (the state file's mtime).
    pub fn since(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(self.path("state")).map(|m| m.mtime().max(0) as u64).unwrap_or(0)
    }

    pub fn restarts(&self) -> u32 {
        self.read("restarts").and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }

    pub fn set_restarts(&self, n: u32) -> Result<(), SvcError> {
        if n == 0 {
            // No file reads as 0.
            self.remove("restarts");
            return Ok(());
        }
        self.write("restarts", &n.to_string())
    }

    /// Records the holder's host pid with its start time, so a recycled pid is not mistaken for it.
    pub fn set_holder(&self, pid: i32) -> Result<(), SvcError> {
        let start = proc_start_time(pid).unwrap_or(0);
        self.write("holder.pid", &format!("{pid} {start}"))
    }

    /// The holder's host pid when that process is alive and is still the recorded one.
    pub fn live_holder(&self) -> Option<i32> {
        let text = self.read("holder.pid")?;
        let mut it = text.split_whitespace();
        let pid: i32 = it.next()?.parse().ok()?;
        let start: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if pid <= 0 || !pid_alive(pid) {
            return None;
        }
        match proc_start_time(pid) {
            Some(now) if start != 0 && now != start => None,
            _ => Some(pid),
        }
    }

    pub fn tail_of_output(&self) -> Vec<String> {
        tail_lines(&self.path("output.log"), TAIL_LINES)
    }

    /// Reads the status, reconciling the recorded state with reality: a running state whose
    /// holder is gone (killed from outside) is reported as crashed.
    pub fn status(&self) -> ServiceStatus {
        let mut state = self.state().unwrap_or(State::Stopped);
        let holder = self.live_holder();
        if state.is_running() && holder.is_none() {
            state = State::Crashed;
        }
        let log_tail = match state {
            State::Crashed | State::Failed => match self.read("last-failure") {
                Some(t) => t.lines().map(str::to_string).collect(),
                None => self.tail_of_output(),
            },
            _ => self.tail_of_output(),
        };
        ServiceStatus {
            name: self.service.clone(),
            state,
            holder_pid: holder,
            since: self.since(),
            sandbox: self.read("sandbox").unwrap_or_default().trim().to_string(),
            sandbox_degraded: self.read(crate::fallback::STATE_FILE).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
            restarts: self.restarts(),
            last_exit: self.read("last-exit").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
            start_failed: state == State::Failed && self.read("started-once").is_none(),
            log_tail,
        }
    }
}

/// Write to a unique temporary name beside `path`, then rename over it: readers see the old
/// or the new file, never a torn one. No fsync: this state lives under /run and describes
/// processes that a power loss ends anyway, and an fdatasync per state change cost ~3 ms on a
/// disk-backed /run (a container's overlay), several times per service start.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    // Unique per process *and* call: inside a pid namespace every holder is pid 1.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let tmp = path.with_file_name(format!(
        ".{}.tmp.{}.{seq}.{nanos}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        std::process::id()
    ));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
    }
    fs::rename(&tmp, path)
}

pub fn pid_alive(pid: i32) -> bool {
    // kill(0) says "exists"; a zombie exists too but is dead for us.
    if unsafe { libc::kill(pid, 0) } != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => stat_field(&s, 3).map(|st| st != "Z" && st != "X").unwrap_or(true),
        Err(_) => true,
    }
}

/// Field `n` (1-based, as in proc(5)) of a /proc/PID/stat line; the comm field may hold spaces.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(n - 3)
}

pub fn proc_start_time(pid: i32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_field(&s, 22)?.parse().ok()
}

/// Last `n` non-empty lines of a file (reads at most the last 64 KiB).
pub fn tail_lines(path: &Path, n: usize) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = fs::File::open(path) else { return Vec::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_values_are_not_rewritten_and_the_state_dates_itself() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::at(dir.path().join("svc"), "svc");
        let ino = |f: &str| std::fs::metadata(sd.path(f)).unwrap().ino();
        sd.write("conf.json", "{}").unwrap();
        let first = ino("conf.json");
        sd.write("conf.json", "{}").unwrap();
        assert_eq!(ino("conf.json"), first, "the same value was written again");
        sd.write("conf.json", "{\"a\":1}").unwrap();
        assert_eq!(sd.read("conf.json").as_deref(), Some("{\"a\":1}"));
        // The state file's mtime is when the state was entered: setting it again keeps it.
        sd.set_state(State::Starting).unwrap();
        sd.set_state(State::Started).unwrap();
        let st = ino("state");
        sd.set_state(State::Started).unwrap();
        assert_eq!(ino("state"), st);
        sd.set_state(State::Stopping).unwrap();
        assert_ne!(ino("state"), st);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert!(sd.since().abs_diff(now) <= 2, "since {} now {now}", sd.since());
        // No restarts file reads as 0 restarts.
        sd.set_restarts(2).unwrap();
        assert_eq!(sd.restarts(), 2);
        sd.set_restarts(0).unwrap();
        assert_eq!(sd.restarts(), 0);
        assert!(!sd.path("restarts").exists());
    }

    #[test]
    fn stat_field_handles_spaces_in_comm() {
        let s = "42 (a b) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000";
        assert_eq!(stat_field(s, 3), Some("S"));
        assert_eq!(stat_field(s, 22), Some("12345"));
    }

    #[test]
    fn status_of_a_running_state_without_holder_is_crashed() {
        let t = tempfile::tempdir().unwrap();
        let sd = StateDir::at(t.path().join("x"), "x");
        sd.set_state(State::Started).unwrap();
        sd.write("holder.pid", "999999999 1").unwrap();
        assert_eq!(sd.status().state, State::Crashed);
        let json = sd.status().to_json();
        assert_eq!(json["state"], "crashed");
    }
}
