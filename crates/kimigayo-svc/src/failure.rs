//! The failure log (`<root>/var/log/kimigayo/services.log`): one entry per failure — a start
//! action that failed or a service whose processes died without being asked to stop — with the
//! time, service, exit status or signal, what happens next, and the last output lines:
//!
//! ```text
//! 2025-01-31T12:00:00Z service=web event=crashed signal=SIGKILL next=restart(1/3,in=1000ms)
//!   | last output line
//! ```

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    Exit(i32),
    Signal(i32),
}

impl ExitKind {
    /// From a raw `waitpid` status.
    pub fn from_wait(status: i32) -> ExitKind {
        if libc::WIFSIGNALED(status) {
            ExitKind::Signal(libc::WTERMSIG(status))
        } else {
            ExitKind::Exit(libc::WEXITSTATUS(status))
        }
    }

    pub fn success(self) -> bool {
        self == ExitKind::Exit(0)
    }

    /// `status=3` or `signal=SIGKILL`.
    pub fn log_field(self) -> String {
        match self {
            ExitKind::Exit(c) => format!("status={c}"),
            ExitKind::Signal(s) => format!("signal={}", signal_name(s)),
        }
    }

    /// Shell-style code: exit code, or 128+signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitKind::Exit(c) => c,
            ExitKind::Signal(s) => 128 + s,
        }
    }
}

impl std::fmt::Display for ExitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitKind::Exit(c) => write!(f, "exit {c}"),
            ExitKind::Signal(s) => write!(f, "signal {}", signal_name(*s)),
        }
    }
}

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP), ("INT", libc::SIGINT), ("QUIT", libc::SIGQUIT), ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP), ("ABRT", libc::SIGABRT), ("BUS", libc::SIGBUS), ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL), ("USR1", libc::SIGUSR1), ("SEGV", libc::SIGSEGV), ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE), ("ALRM", libc::SIGALRM), ("TERM", libc::SIGTERM), ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT), ("STOP", libc::SIGSTOP), ("TSTP", libc::SIGTSTP), ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU), ("URG", libc::SIGURG), ("XCPU", libc::SIGXCPU), ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM), ("PROF", libc::SIGPROF), ("WINCH", libc::SIGWINCH), ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR), ("SYS", libc::SIGSYS),
];

pub fn signal_name(sig: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, n)| *n == sig)
        .map(|(name, _)| format!("SIG{name}"))
        .unwrap_or_else(|| format!("SIG{sig}"))
}

/// "TERM", "SIGTERM", "term", "15" → 15.
pub fn parse_signal(s: &str) -> Option<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return (n > 0 && n < 65).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    SIGNALS.iter().find(|(name, _)| *name == bare).map(|(_, n)| *n)
}

/// RFC 3339 UTC time, e.g. `2025-01-31T12:00:00Z`.
pub fn rfc3339_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    rfc3339(secs)
}

pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (proleptic Gregorian), Howard Hinnant's published algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// One failure, as written to the log.
#[derive(Debug, Clone)]
pub struct FailureEntry<'a> {
    pub service: &'a str,
    /// `start-failed` or `crashed`.
    pub event: &'a str,
    pub exit: ExitKind,
    /// What happens next: `restart(1/3,in=1000ms)`, `failed`, `crashed`, `stopped`.
    pub next: String,
    pub tail: Vec<String>,
}

impl FailureEntry<'_> {
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} service={} event={} {} next={}\n",
            rfc3339_now(),
            self.service,
            self.event,
            self.exit.log_field(),
            self.next
        );
        for line in &self.tail {
            s.push_str("  | ");
            s.push_str(line);
            s.push('\n');
        }
        s
    }

    /// Appends the entry with one write(2) on an O_APPEND file, so entries of services failing
    /// at the same time never interleave.
    pub fn append_to(&self, log: &Path) -> std::io::Result<()> {
        let mut f = open_append(log)?;
        f.write_all(self.render().as_bytes())
    }
}

/// `log` opened for appending; its folder is made only when it is missing.
pub fn open_append(log: &Path) -> std::io::Result<fs::File> {
    match OpenOptions::new().create(true).append(true).open(log) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = log.parent() {
                fs::create_dir_all(dir)?;
            }
            OpenOptions::new().create(true).append(true).open(log)
        }
        r => r,
    }
}

/// A general event line (e.g. `event=gave-up`), not counted as a failure.
pub fn log_event(log: &Path, service: &str, event: &str, detail: &str) {
    if let Ok(mut f) = open_append(log) {
        let _ = f.write_all(format!("{} service={service} event={event} {detail}\n", rfc3339_now()).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_signals() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_735_689_599), "2024-12-31T23:59:59Z");
        assert_eq!(parse_signal("SIGTERM"), Some(15));
        assert_eq!(parse_signal("kill"), Some(9));
        assert_eq!(parse_signal("1"), Some(1));
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(signal_name(9), "SIGKILL");
    }

    #[test]
    fn entry_format() {
        let e = FailureEntry {
            service: "web",
            event: "crashed",
            exit: ExitKind::Signal(9),
            next: "failed".into(),
            tail: vec!["boom".into()],
        };
        let r = e.render();
        assert!(r.contains(" service=web event=crashed signal=SIGKILL next=failed\n  | boom\n"), "{r}");
    }
}
