//! supervise-daemon: keeps one command running, restarting it after respawn_delay when it dies,
//! giving up when it died more than respawn_max times within respawn_period (OpenRC's options).
//! Each death goes to the failure log; restarts are counted in the service's state folder.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::getopt::{self, flag, long_flag, long_value, value, Item, Opt};
use super::proc::{self, ExecSettings};
use crate::failure::{self, parse_signal, ExitKind, FailureEntry};
use crate::retry::parse_duration;
use crate::state::{self, StateDir};

const OPTS: &[Opt] = &[
    flag('S', "start"),
    flag('K', "stop"),
    long_flag("status"),
    value('p', "pidfile"),
    value('D', "respawn-delay"),
    value('m', "respawn-max"),
    value('P', "respawn-period"),
    value('u', "user"),
    value('c', "chuid"),
    value('g', "group"),
    value('d', "chdir"),
    value('k', "umask"),
    value('1', "stdout"),
    value('2', "stderr"),
    value('N', "nicelevel"),
    value('e', "env"),
    value('s', "signal"),
    value('R', "retry"),
    value('x', "exec"),
    long_flag("foreground"),
    flag('q', "quiet"),
    flag('v', "verbose"),
    long_value("healthcheck-timer"),
    long_value("healthcheck-delay"),
    flag('h', "help"),
];

pub const USAGE: &str = "\
Usage: supervise-daemon SERVICE --start [options] DAEMON [-- ARGS]
       supervise-daemon SERVICE --stop|--status [--pidfile FILE]
  -p, --pidfile FILE         the supervisor's pidfile
  -D, --respawn-delay SECS   pause before each restart (default 1; 250ms accepted)
  -m, --respawn-max N        give up after N restarts within --respawn-period (default 10; 0 = never)
  -P, --respawn-period SECS  window for --respawn-max (default: the supervisor's life)
  -u, --user USER[:GROUP]  -d, --chdir DIR  -k, --umask MASK  -N, --nicelevel N  -e, --env VAR=VALUE
  -1, --stdout FILE  -2, --stderr FILE     append the daemon's output
  -s, --signal SIG           signal that stops the daemon (TERM)
      --foreground           supervise in the foreground instead of detaching
";

fn err(msg: &str) {
    eprintln!(" * supervise-daemon: {msg}");
}

#[derive(Default)]
struct Args {
    mode: Option<&'static str>,
    service: Option<String>,
    pidfile: Option<String>,
    delay: Option<Duration>,
    max: Option<u32>,
    period: Option<Duration>,
    signal: i32,
    foreground: bool,
    quiet: bool,
    exec: Option<String>,
    settings: ExecSettings,
    positional: Vec<String>,
    rest: Vec<String>,
}

fn parse(args: &[OsString]) -> Result<Args, String> {
    let (items, rest) = getopt::parse(args, OPTS)?;
    let mut a = Args { signal: libc::SIGTERM, rest, ..Default::default() };
    let dur = |v: &str| parse_duration(v).ok_or_else(|| format!("invalid duration `{v}' (seconds, or 250ms)"));
    for item in items {
        match item {
            Item::Positional(p) => a.positional.push(p),
            Item::Opt(name, v) => {
                let v = v.unwrap_or_default();
                if a.settings.take_option(name, v.clone())? {
                    continue;
                }
                match name {
                    "start" | "stop" | "status" | "help" => a.mode = Some(name),
                    "pidfile" => a.pidfile = Some(v),
                    "respawn-delay" => a.delay = Some(dur(&v)?),
                    "respawn-max" => a.max = Some(v.parse().map_err(|_| format!("invalid --respawn-max `{v}'"))?),
                    "respawn-period" => a.period = Some(dur(&v)?).filter(|d| !d.is_zero()),
                    "signal" => a.signal = parse_signal(&v).ok_or_else(|| format!("invalid signal `{v}'"))?,
                    "exec" => a.exec = Some(v),
                    "foreground" => a.foreground = true,
                    "quiet" => a.quiet = true,
                    _ => {}
                }
            }
        }
    }
    if !a.positional.is_empty() {
        a.service = Some(a.positional.remove(0));
    }
    Ok(a)
}

pub fn supervise_daemon_main(args: &[OsString]) -> i32 {
    let a = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            err(&format!("{e} (see supervise-daemon --help)"));
            return 1;
        }
    };
    let service = a.service.clone().or_else(|| std::env::var("RC_SVCNAME").ok()).unwrap_or_else(|| "daemon".into());
    let pidfile = a.pidfile.clone().unwrap_or_else(|| format!("/run/supervise-{service}.pid"));
    match a.mode {
        Some("help") => {
            print!("{USAGE}");
            0
        }
        Some("start") => start(a, service, pidfile),
        Some("stop") => stop(&service, &pidfile),
        Some("status") => {
            if proc::read_pidfile(Path::new(&pidfile)).is_some_and(state::pid_alive) { 0 } else { 3 }
        }
        _ => {
            err("need --start, --stop or --status (see --help)");
            1
        }
    }
}

fn stop(service: &str, pidfile: &str) -> i32 {
    let Some(pid) = proc::read_pidfile(Path::new(pidfile)).filter(|p| state::pid_alive(*p)) else {
        err(&format!("{service}: no supervisor running (pidfile {pidfile})"));
        let _ = std::fs::remove_file(pidfile);
        return 0;
    };
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let end = Instant::now() + Duration::from_secs(15);
    while state::pid_alive(pid) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    if state::pid_alive(pid) {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let _ = std::fs::remove_file(pidfile);
    0
}

fn start(mut a: Args, service: String, pidfile: String) -> i32 {
    if let Some(pid) = proc::read_pidfile(Path::new(&pidfile)).filter(|p| state::pid_alive(*p)) {
        if !a.quiet {
            err(&format!("{service}: already supervised by {pid}"));
        }
        return 1;
    }
    let daemon = match a.exec.take().or_else(|| (!a.positional.is_empty()).then(|| a.positional.remove(0))) {
        Some(d) => d,
        None => {
            err(&format!("{service}: --start needs the daemon to run"));
            return 1;
        }
    };
    let Some(prog) = proc::which(&daemon).filter(|p| p.exists()) else {
        err(&format!("{daemon} does not exist"));
        return 1;
    };
    let mut argv = vec![daemon.clone()];
    argv.append(&mut a.positional);
    argv.append(&mut a.rest);
    let sup = Supervisor {
        service,
        pidfile,
        prog,
        argv,
        settings: a.settings.clone(),
        delay: a.delay.unwrap_or(Duration::from_secs(1)),
        max: a.max.unwrap_or(10),
        period: a.period,
        signal: a.signal,
    };
    if a.foreground {
        return sup.run(None);
    }
    // Detach: the child supervises; we return once the first start worked (or did not).
    let Ok((r, w)) = crate::pump::pipe_cloexec() else { return 1 };
    match crate::pump::fork() {
        Ok(0) => {
            unsafe {
                libc::close(r);
                libc::setsid();
                let null = crate::pump::dev_null();
                libc::dup2(null, 0);
                if std::env::var_os("KIMIGAYO_SVC_CAPTURE").is_none() {
                    libc::dup2(null, 1);
                    libc::dup2(null, 2);
                }
            }
            let code = sup.run(Some(w));
            unsafe { libc::_exit(code) }
        }
        Ok(_) => {
            unsafe { libc::close(w) };
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut crate::pump::file_from(r), &mut buf);
            if buf.starts_with(b"ok") {
                0
            } else {
                err(&String::from_utf8_lossy(&buf));
                1
            }
        }
        Err(e) => {
            err(&format!("fork: {e}"));
            1
        }
    }
}

struct Supervisor {
    service: String,
    pidfile: String,
    prog: PathBuf,
    argv: Vec<String>,
    settings: ExecSettings,
    delay: Duration,
    max: u32,
    period: Option<Duration>,
    signal: i32,
}

impl Supervisor {
    fn spawn(&self) -> Result<i32, String> {
        proc::spawn(&self.prog, &self.argv, &self.settings, &|| {
            crate::pump::Pump::child_reset_signals();
            Ok(())
        })
    }

    fn log_death(&self, exit: ExitKind, next: &str) {
        let Some(log) = std::env::var_os("KIMIGAYO_SVC_LOG") else { return };
        let tail = std::env::var_os("KIMIGAYO_SVC_STATE")
            .map(|d| state::tail_lines(&PathBuf::from(d).join("output.log"), state::TAIL_LINES))
            .unwrap_or_default();
        if let Some(d) = std::env::var_os("KIMIGAYO_SVC_STATE") {
            let sd = StateDir::at(PathBuf::from(d), &self.service);
            let _ = sd.write("last-exit", &exit.to_string());
            let _ = sd.write("last-failure", &tail.join("\n"));
        }
        let entry = FailureEntry { service: &self.service, event: "crashed", exit, next: next.to_string(), tail };
        let _ = entry.append_to(Path::new(&log));
    }

    fn count_restart(&self) {
        if let Some(d) = std::env::var_os("KIMIGAYO_SVC_STATE") {
            let sd = StateDir::at(PathBuf::from(d), &self.service);
            let _ = sd.set_restarts(sd.restarts() + 1);
        }
    }

    /// `ready`: where to say "ok" once the first spawn worked.
    fn run(&self, ready: Option<i32>) -> i32 {
        let tell = |msg: &str| {
            if let Some(fd) = ready {
                crate::pump::write_all_fd(fd, msg.as_bytes());
                unsafe { libc::close(fd) };
            }
        };
        if let Err(e) = proc::write_pidfile(&self.pidfile, std::process::id()) {
            tell(&e);
            return 1;
        }
        // SIGTERM/SIGINT/SIGCHLD through a signalfd.
        let sfd = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGTERM, libc::SIGINT, libc::SIGCHLD] {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::signalfd(-1, &set, libc::SFD_CLOEXEC)
        };
        let mut child = match self.spawn() {
            Ok(p) => p,
            Err(e) => {
                tell(&e);
                let _ = std::fs::remove_file(&self.pidfile);
                return 1;
            }
        };
        tell("ok");
        let start = Instant::now();
        let mut respawns: Vec<Instant> = Vec::new();
        loop {
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let n = unsafe { libc::read(sfd, (&mut info as *mut libc::signalfd_siginfo).cast(), std::mem::size_of::<libc::signalfd_siginfo>()) };
            if n <= 0 {
                continue;
            }
            let sig = info.ssi_signo as i32;
            if sig == libc::SIGTERM || sig == libc::SIGINT {
                unsafe { libc::kill(child, self.signal) };
                let end = Instant::now() + Duration::from_secs(10);
                while state::pid_alive(child) && Instant::now() < end {
                    let mut st = 0;
                    unsafe { libc::waitpid(child, &mut st, libc::WNOHANG) };
                    std::thread::sleep(Duration::from_millis(10));
                }
                if state::pid_alive(child) {
                    unsafe { libc::kill(child, libc::SIGKILL) };
                }
                let mut st = 0;
                unsafe { libc::waitpid(child, &mut st, 0) };
                let _ = std::fs::remove_file(&self.pidfile);
                return 0;
            }
            // SIGCHLD: reap; did the daemon die?
            let mut died = None;
            loop {
                let mut st = 0;
                let p = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
                if p <= 0 {
                    break;
                }
                if p == child {
                    died = Some(ExitKind::from_wait(st));
                }
            }
            let Some(exit) = died else { continue };
            let now = Instant::now();
            let in_window = respawns.iter().filter(|t| self.period.is_none_or(|p| now.duration_since(**t) < p)).count() as u32;
            if self.max > 0 && in_window >= self.max {
                self.log_death(exit, "failed");
                if let Some(log) = std::env::var_os("KIMIGAYO_SVC_LOG") {
                    failure::log_event(
                        Path::new(&log),
                        &self.service,
                        "gave-up",
                        &format!("respawns={in_window} within={}s", self.period.unwrap_or(now - start).as_secs()),
                    );
                }
                eprintln!(" * supervise-daemon: {}: respawned {in_window} times, giving up", self.service);
                let _ = std::fs::remove_file(&self.pidfile);
                return 1;
            }
            self.log_death(exit, &format!("respawn({}/{},in={}ms)", in_window + 1, self.max, self.delay.as_millis()));
            std::thread::sleep(self.delay);
            respawns.push(Instant::now());
            self.count_restart();
            match self.spawn() {
                Ok(p) => child = p,
                Err(e) => {
                    eprintln!(" * supervise-daemon: {}: {e}", self.service);
                    let _ = std::fs::remove_file(&self.pidfile);
                    return 1;
                }
            }
        }
    }
}
