//! Process-side helpers shared by the applets: users and groups, finding processes the way
//! start-stop-daemon matches them, signal schedules, and the settings applied before exec.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::failure::parse_signal;

pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
    pub home: String,
}

pub fn lookup_user(name: &str) -> Option<User> {
    if let Ok(uid) = name.parse::<u32>() {
        let pw = unsafe { libc::getpwuid(uid) };
        if pw.is_null() {
            return Some(User { uid, gid: uid, name: name.to_string(), home: "/".into() });
        }
        return Some(unsafe { user_from(pw) });
    }
    let c = CString::new(name).ok()?;
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    (!pw.is_null()).then(|| unsafe { user_from(pw) })
}

unsafe fn user_from(pw: *const libc::passwd) -> User {
    let s = |p: *const libc::c_char| if p.is_null() { String::new() } else { std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned() };
    User { uid: (*pw).pw_uid, gid: (*pw).pw_gid, name: s((*pw).pw_name), home: s((*pw).pw_dir) }
}

pub fn lookup_group(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Some(gid);
    }
    let c = CString::new(name).ok()?;
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    (!gr.is_null()).then(|| unsafe { (*gr).gr_gid })
}

/// "user", "user:group", "user.group", ":group" → (uid, gid); None parts are left unchanged.
pub fn parse_owner(spec: &str) -> Result<(Option<User>, Option<u32>), String> {
    let (u, g) = match spec.split_once(':').or_else(|| spec.split_once('.')) {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if u.is_empty() { None } else { Some(lookup_user(u).ok_or_else(|| format!("user `{u}' not found"))?) };
    let group = match g {
        Some(g) if !g.is_empty() => Some(lookup_group(g).ok_or_else(|| format!("group `{g}' not found"))?),
        _ => None,
    };
    Ok((user, group))
}

pub fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim(), 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| format!("invalid mode `{s}' (use octal, e.g. 0755)"))
}

/// Resolves a command name through PATH, like execvp would.
pub fn which(cmd: &str) -> Option<PathBuf> {
    if cmd.contains('/') {
        return Some(PathBuf::from(cmd));
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/sbin:/bin:/usr/sbin:/usr/bin".into());
    path.split(':').map(|d| Path::new(d).join(cmd)).find(|p| p.is_file())
}

/// What start-stop-daemon matches processes on.
#[derive(Default, Debug)]
pub struct Match {
    pub exec: Option<PathBuf>,
    pub name: Option<String>,
    pub uid: Option<u32>,
    pub pidfile: Option<PathBuf>,
}

/// Set by the holder when the service has no PID namespace: the holder's pid, whose
/// descendants are the service's processes.
pub const SCOPE_VAR: &str = "KIMIGAYO_SVC_SCOPE";

pub fn read_pidfile(p: &Path) -> Option<i32> {
    fs::read_to_string(p).ok()?.split_whitespace().next()?.parse().ok().filter(|p: &i32| *p > 0)
}

impl Match {
    pub fn is_empty(&self) -> bool {
        self.exec.is_none() && self.name.is_none() && self.uid.is_none() && self.pidfile.is_none()
    }

    fn matches(&self, pid: i32) -> bool {
        if !crate::state::pid_alive(pid) {
            return false;
        }
        if let Some(exec) = &self.exec {
            let want = fs::canonicalize(exec).unwrap_or_else(|_| exec.clone());
            match fs::read_link(format!("/proc/{pid}/exe")) {
                Ok(have) => {
                    let have = have.as_os_str().as_bytes();
                    let have = have.strip_suffix(b" (deleted)").unwrap_or(have);
                    if have != want.as_os_str().as_bytes() {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
        if let Some(name) = &self.name {
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let argv0 = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv0 = argv0.split(|b| *b == 0).next().unwrap_or_default();
            let base = argv0.rsplit(|b| *b == b'/').next().unwrap_or_default();
            let short: String = name.chars().take(15).collect();
            if comm.trim_end() != short && base != name.as_bytes() {
                return false;
            }
        }
        if let Some(uid) = self.uid {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let real = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok());
            if real != Some(uid) {
                return false;
            }
        }
        true
    }

    /// Live processes matching every given criterion (the pidfile's pid, else a /proc scan).
    pub fn find(&self) -> Vec<i32> {
        let me = std::process::id() as i32;
        if let Some(pf) = &self.pidfile {
            return read_pidfile(pf).filter(|p| *p != me && self.matches(*p)).into_iter().collect();
        }
        // A service without its own PID namespace sees every process of the system: match only
        // among its holder's descendants, so another service running the same program is safe.
        let scope = std::env::var(SCOPE_VAR).ok().and_then(|v| v.parse::<i32>().ok()).filter(|p| *p > 0);
        let candidates: Vec<i32> = match scope {
            Some(holder) => crate::tree::descendants(holder),
            None => fs::read_dir("/proc")
                .map(|rd| rd.flatten().filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok())).collect())
                .unwrap_or_default(),
        };
        candidates.into_iter().filter(|pid| *pid != me && self.matches(*pid)).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Signal(i32),
    Wait(Duration),
    Forever,
}

/// `--retry`: "TERM/5/KILL/5", "5" (= SIG/5/KILL/5 with SIG the --signal), "forever" repeats the
/// previous step.
pub fn parse_schedule(retry: &str, sig: i32) -> Result<Vec<Step>, String> {
    let retry = retry.trim();
    if let Ok(n) = retry.parse::<u64>() {
        return Ok(vec![Step::Signal(sig), Step::Wait(Duration::from_secs(n)), Step::Signal(libc::SIGKILL), Step::Wait(Duration::from_secs(n))]);
    }
    let mut out = Vec::new();
    for part in retry.split('/') {
        let part = part.trim();
        if part == "forever" {
            out.push(Step::Forever);
        } else if let Ok(n) = part.parse::<f64>() {
            out.push(Step::Wait(Duration::from_millis((n * 1000.0) as u64)));
        } else {
            out.push(Step::Signal(parse_signal(part).ok_or_else(|| format!("invalid signal `{part}' in --retry {retry}"))?));
        }
    }
    if out.is_empty() {
        return Err(format!("empty --retry schedule `{retry}'"));
    }
    Ok(out)
}

/// Waits until one of `pids` exits or `max` passed: on their pidfds (an exit wakes us at once,
/// whoever the parent is), else in 10 ms steps where pidfds are unavailable.
fn wait_for_exit(pids: &[i32], max: Duration) {
    let mut fds = Vec::new();
    for p in pids {
        match crate::pump::pidfd(*p) {
            Some(fd) => fds.push(fd),
            // Gone already (ESRCH): nothing to wait for.
            None if std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) => return,
            None => {
                std::thread::sleep(max.min(Duration::from_millis(10)));
                return;
            }
        }
    }
    crate::pump::wait_pidfds(&fds, max);
}

/// Runs a stop schedule on `pids`; true when they are all gone.
pub fn run_schedule(pids: &[i32], schedule: &[Step]) -> bool {
    let alive = || pids.iter().copied().filter(|p| crate::state::pid_alive(*p)).collect::<Vec<_>>();
    let mut i = 0;
    let mut last_wait = false;
    while i < schedule.len() {
        let step = if schedule[i] == Step::Forever { i -= 1; &schedule[i] } else { &schedule[i] };
        match step {
            Step::Signal(s) => {
                last_wait = false;
                for p in alive() {
                    unsafe { libc::kill(p, *s) };
                }
            }
            Step::Wait(d) => {
                last_wait = true;
                let end = Instant::now() + *d;
                loop {
                    let left = alive();
                    let now = Instant::now();
                    if left.is_empty() || now >= end {
                        break;
                    }
                    wait_for_exit(&left, end - now);
                }
                if alive().is_empty() {
                    return true;
                }
            }
            Step::Forever => unreachable!(),
        }
        i += 1;
    }
    if !last_wait {
        // A bare signal: give it a moment so the answer is meaningful, but do not insist.
        let left = alive();
        if !left.is_empty() {
            wait_for_exit(&left, Duration::from_millis(20));
        }
        return true;
    }
    alive().is_empty()
}

/// Settings applied in the child before exec.
#[derive(Default, Debug, Clone)]
pub struct ExecSettings {
    pub chdir: Option<String>,
    pub umask: Option<u32>,
    pub nice: Option<i32>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub env: Vec<(String, String)>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
}

impl ExecSettings {
    /// Takes one of the options start-stop-daemon and supervise-daemon share (`--user`,
    /// `--group`, `--chdir`, `--umask`, `--stdout`, `--stderr`, `--nicelevel`, `--env`).
    /// Returns false when `name` is not one of them.
    pub fn take_option(&mut self, name: &str, v: String) -> Result<bool, String> {
        match name {
            "user" | "chuid" => self.user = Some(v),
            "group" => self.group = Some(v),
            "chdir" => self.chdir = Some(v),
            "umask" => self.umask = Some(parse_mode(&v)?),
            "stdout" => self.stdout = Some(v),
            "stderr" => self.stderr = Some(v),
            "nicelevel" => self.nice = Some(v.parse().map_err(|_| format!("invalid nicelevel `{v}'"))?),
            "env" => {
                let (k, val) = v.split_once('=').ok_or_else(|| format!("--env needs VAR=VALUE, got `{v}'"))?;
                self.env.push((k.into(), val.into()));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn open_log(path: &str) -> Result<i32, String> {
    let c = CString::new(path).map_err(|_| format!("bad path {path}"))?;
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC, 0o644) };
    if fd < 0 {
        return Err(format!("{path}: {}", std::io::Error::last_os_error()));
    }
    Ok(fd)
}

impl ExecSettings {
    /// In the child: redirect, chdir, umask, nice, env, then drop to the user. Errors are final.
    pub fn apply(&self) -> Result<(), String> {
        unsafe {
            if let Some(p) = &self.stdout {
                let fd = open_log(p)?;
                libc::dup2(fd, 1);
            }
            if let Some(p) = &self.stderr {
                let fd = open_log(p)?;
                libc::dup2(fd, 2);
            }
            if let Some(m) = self.umask {
                libc::umask(m as libc::mode_t);
            }
            if let Some(n) = self.nice {
                libc::setpriority(libc::PRIO_PROCESS, 0, n);
            }
        }
        if let Some(d) = &self.chdir {
            std::env::set_current_dir(d).map_err(|e| format!("chdir {d}: {e}"))?;
        }
        for (k, v) in &self.env {
            std::env::set_var(k, v);
        }
        let (user, mut gid) = match &self.user {
            Some(spec) => {
                let (u, g) = parse_owner(spec)?;
                (u, g)
            }
            None => (None, None),
        };
        if let Some(g) = &self.group {
            gid = Some(lookup_group(g).ok_or_else(|| format!("group `{g}' not found"))?);
        }
        let gid = gid.or(user.as_ref().map(|u| u.gid));
        unsafe {
            if let Some(g) = gid {
                if libc::setgroups(1, &g) != 0 || libc::setgid(g) != 0 {
                    return Err(format!("setgid {g}: {}", std::io::Error::last_os_error()));
                }
            }
            if let Some(u) = &user {
                if let Ok(name) = CString::new(u.name.clone()) {
                    libc::initgroups(name.as_ptr(), gid.unwrap_or(u.gid));
                }
                if libc::setuid(u.uid) != 0 {
                    return Err(format!("setuid {}: {}", u.uid, std::io::Error::last_os_error()));
                }
                std::env::set_var("HOME", &u.home);
                std::env::set_var("USER", &u.name);
                std::env::set_var("LOGNAME", &u.name);
            }
        }
        Ok(())
    }
}

/// execv `prog` with `argv`; returns the error on failure.
pub fn exec(prog: &Path, argv: &[String]) -> std::io::Error {
    let Ok(p) = CString::new(prog.as_os_str().as_bytes()) else { return std::io::Error::from_raw_os_error(libc::EINVAL) };
    let args: Vec<CString> = argv.iter().filter_map(|a| CString::new(a.as_str()).ok()).collect();
    let mut ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    unsafe { libc::execv(p.as_ptr(), ptrs.as_ptr()) };
    std::io::Error::last_os_error()
}

/// Fork a child that applies `settings` and execs; the parent learns whether exec worked
/// (through a close-on-exec pipe). `before_exec` runs in the child first (setsid, pidfile…).
pub fn spawn(prog: &Path, argv: &[String], settings: &ExecSettings, before_exec: &dyn Fn() -> Result<(), String>) -> Result<i32, String> {
    let (r, w) = crate::pump::pipe_cloexec().map_err(|e| e.to_string())?;
    let pid = crate::pump::fork().map_err(|e| format!("fork: {e}"))?;
    if pid == 0 {
        unsafe { libc::close(r) };
        let err = match before_exec().and_then(|_| settings.apply()) {
            Ok(()) => format!("exec {}: {}", prog.display(), exec(prog, argv)),
            Err(e) => e,
        };
        crate::pump::write_all_fd(w, err.as_bytes());
        unsafe { libc::_exit(127) };
    }
    unsafe { libc::close(w) };
    let mut buf = Vec::new();
    let mut f = crate::pump::file_from(r);
    let _ = std::io::Read::read_to_end(&mut f, &mut buf);
    if buf.is_empty() {
        Ok(pid)
    } else {
        let mut st = 0;
        unsafe { libc::waitpid(pid, &mut st, 0) };
        Err(String::from_utf8_lossy(&buf).into_owned())
    }
}

pub fn write_pidfile(path: &str, pid: u32) -> Result<(), String> {
    crate::state::write_atomic(Path::new(path), format!("{pid}\n").as_bytes()).map_err(|e| format!("pidfile {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert_eq!(
            parse_schedule("SIGTERM/5/SIGKILL/5", 15).unwrap(),
            vec![Step::Signal(15), Step::Wait(Duration::from_secs(5)), Step::Signal(9), Step::Wait(Duration::from_secs(5))]
        );
        assert_eq!(parse_schedule("3", 1).unwrap()[0], Step::Signal(1));
        assert_eq!(parse_schedule("TERM/0.5", 15).unwrap()[1], Step::Wait(Duration::from_millis(500)));
        assert!(parse_schedule("BOGUS/5", 15).is_err());
        assert_eq!(parse_mode("0750").unwrap(), 0o750);
        assert!(parse_mode("999").is_err());
        assert_eq!(lookup_user("root").unwrap().uid, 0);
    }
}
