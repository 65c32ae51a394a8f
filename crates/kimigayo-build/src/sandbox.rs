//! The build sandbox: every recipe step runs under bubblewrap in fresh namespaces (no
//! network, private /tmp, its own hostname and PID space), with a cleared environment and
//! fixed paths (`/build/src`, `/build/dest`, `/toolchain`), so neither the host's
//! environment nor the checkout's location can leak into the output.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Paths as the steps see them.
pub const BUILD: &str = "/build";
pub const SRC: &str = "/build/src";
pub const DEST: &str = "/build/dest";
pub const FILES: &str = "/build/files";
pub const EXTRA: &str = "/build/extra";
pub const TOOLCHAIN: &str = "/toolchain";

pub struct Sandbox<'a> {
    /// Host folder mounted read-write at /build (holds src/, dest/, extra/, home/).
    pub work: &'a Path,
    /// Recipe folder, mounted read-only at /build/files.
    pub files: &'a Path,
    /// Toolchain sysroot, mounted read-only at /toolchain.
    pub toolchain: Option<&'a Path>,
    pub env: Vec<(String, String)>,
    /// Run as this uid/gid in a new user namespace.
    pub uid: Option<u32>,
    /// Interval of the "still running" events (zero: none).
    pub heartbeat: std::time::Duration,
}

/// Progress of a sandboxed run (steps are numbered from 1; 0 is before the first marker).
#[derive(Debug, Clone, Copy)]
pub enum StepEvent<'a> {
    Started { step: usize, text: &'a str },
    Running { step: usize, elapsed: std::time::Duration, lines: usize, total_lines: usize },
}

/// Outcome of running the steps: `Err((step index, step text))` names the failing step.
pub type StepResult = Result<(), (usize, String)>;

impl Sandbox<'_> {
    /// Run `steps` in order (each under `sh -eu`), appending all output to `log`.
    /// `on_event` hears each step as it starts and, every `heartbeat`, that one still runs.
    pub fn run(&self, steps: &[String], log: &Path, on_event: &dyn Fn(StepEvent<'_>)) -> std::io::Result<StepResult> {
        let mut script = String::from("umask 022\ncd /build/src\n");
        for (i, s) in steps.iter().enumerate() {
            script.push_str(&format!(
                "printf '%s\\n' {marker}\n( set -eu; {s}\n) || {{ echo \"kimigayo: step {n} failed with status $?\" >&2; exit {code}; }}\n",
                marker = shell_quote(&format!("==> step {}: {}", i + 1, s)),
                n = i + 1,
                code = 100 + i.min(100),
            ));
        }
        fs::write(self.work.join(".steps.sh"), &script)?;
        for d in ["src", "dest", "extra", "home", "files"] {
            fs::create_dir_all(self.work.join(d))?;
        }
        let mut cmd = Command::new("bwrap");
        cmd.args(["--unshare-all", "--die-with-parent", "--new-session", "--hostname", "kimigayo-build"]);
        if let Some(uid) = self.uid {
            cmd.args(["--unshare-user", "--uid", &uid.to_string(), "--gid", &uid.to_string()]);
        }
        cmd.args(["--ro-bind", "/usr", "/usr"]);
        for (link, target) in [("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64")] {
            cmd.args(["--symlink", target, link]);
        }
        if Path::new("/etc/alternatives").is_dir() {
            cmd.args(["--ro-bind", "/etc/alternatives", "/etc/alternatives"]);
        }
        cmd.args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
        cmd.arg("--bind").arg(self.work).arg(BUILD);
        cmd.arg("--ro-bind").arg(self.files).arg(FILES);
        if let Some(t) = self.toolchain {
            cmd.arg("--ro-bind").arg(t).arg(TOOLCHAIN);
        }
        cmd.args(["--chdir", SRC, "--clearenv"]);
        for (k, v) in &self.env {
            cmd.args(["--setenv", k, v]);
        }
        cmd.args(["/bin/sh", "/build/.steps.sh"]);
        let logf = fs::OpenOptions::new().create(true).append(true).open(log)?;
        let start_len = logf.metadata()?.len();
        cmd.stdin(Stdio::null()).stdout(logf.try_clone()?).stderr(logf);
        let mut child = cmd.spawn()?;
        // Follow the log for step markers while the build runs; heartbeat while it is quiet.
        let mut step = 0usize;
        let mut step_started = std::time::Instant::now();
        let mut lines_at_step = 0usize;
        let mut lines = 0usize;
        let status = crate::watch::wait(&mut child, log, start_len, self.heartbeat, &mut |t| match t {
            crate::watch::Tick::Line(l) => {
                lines += 1;
                if let Some(rest) = l.strip_prefix("==> step ") {
                    step += 1;
                    step_started = std::time::Instant::now();
                    lines_at_step = lines;
                    let body = rest.split_once(": ").map_or(rest, |(_, b)| b);
                    on_event(StepEvent::Started { step, text: body });
                }
            }
            crate::watch::Tick::Heartbeat { .. } => {
                on_event(StepEvent::Running { step, elapsed: step_started.elapsed(), lines: lines - lines_at_step, total_lines: lines });
            }
        })?;
        if status.success() {
            return Ok(Ok(()));
        }
        let code = status.code().unwrap_or(-1);
        let idx = if (100..200).contains(&code) { (code - 100) as usize } else { steps.len().saturating_sub(1) };
        let mut l = fs::OpenOptions::new().append(true).open(log)?;
        writeln!(l, "kimigayo: sandbox exited with {status}")?;
        Ok(Err((idx, steps.get(idx).cloned().unwrap_or_default())))
    }
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The last `n` lines of a log file, for error messages.
pub fn tail(log: &Path, n: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Host-side path of a sandbox path under /build.
pub fn host_path(work: &Path, sandbox_path: &str) -> PathBuf {
    work.join(sandbox_path.trim_start_matches("/build/"))
}
