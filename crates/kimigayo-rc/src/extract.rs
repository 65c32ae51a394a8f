//! Reading script metadata the way OpenRC's gendepends does: a shell with `need`, `use`, ...
//! defined as record printers sources rc.conf, conf.d and the script, then calls `depend`.
//!
//! Many scripts share ONE shell (each in its own subshell) because forking a shell per script
//! dominates boot time. Records go to fd 3 with a per-run nonce and a length prefix, so
//! whatever a script prints (its stdout is sent to stderr) cannot forge or break them. A script
//! that hangs is killed with the whole process group after the timeout and the batch resumes
//! after it; one that exits or fails while being sourced is reported by name with its stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{LoadFailure, RcError, RcRoot, ServiceMeta};

/// The dependency keywords a script may call (OpenRC's list, in its order).
pub const DEP_TYPES: &[&str] = &["need", "use", "want", "after", "before", "provide", "keyword", "config"];
/// Variables read after `depend` (shown by rc-service/rc-status, used by the runtime).
pub const META_VARS: &[&str] = &["description", "extra_commands", "extra_started_commands", "extra_stopped_commands"];

/// How to run the shell that reads the scripts.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// A POSIX shell: /bin/sh (dash, busybox ash, bash all work).
    pub shell: PathBuf,
    /// A script still being sourced or in `depend` after this long is killed and reported.
    pub timeout: Duration,
    /// Extra environment (e.g. RC_SYS=DOCKER) besides PATH, LC_ALL=C and RC_* per script.
    pub env: Vec<(String, String)>,
}

impl LoadOptions {
    pub fn new(shell: impl Into<PathBuf>) -> Self {
        LoadOptions { shell: shell.into(), timeout: Duration::from_secs(5), env: Vec::new() }
    }
}

/// The outcome for each requested service, and how many shells it took.
#[derive(Debug, Default)]
pub struct Extracted {
    pub results: BTreeMap<String, Result<ServiceMeta, LoadFailure>>,
    pub shell_runs: usize,
}

/// Reads the metadata of `services` (names in /etc/init.d) under `root`.
pub fn extract(root: &RcRoot, services: &[String], opts: &LoadOptions) -> Result<Extracted, RcError> {
    let abs = std::path::absolute(&root.root).map_err(|e| RcError::io(&root.root, e))?;
    let root = RcRoot::new(abs);
    let mut out = Extracted::default();
    let mut pending: Vec<usize> = (0..services.len()).collect();
    while !pending.is_empty() {
        out.shell_runs += 1;
        let run = run_batch(&root, services, &pending, opts)?;
        let mut progressed = false;
        let mut rest = Vec::new();
        for &i in &pending {
            let name = &services[i];
            let Some(st) = run.states.get(&i) else {
                rest.push(i); // not reached: the batch was cut short by a timeout
                continue;
            };
            progressed = true;
            let stderr = run.stderr.get(&i).map(|s| tail(s)).unwrap_or_default();
            let fail = |reason: String, timed_out| LoadFailure { service: name.clone(), reason, stderr: stderr.clone(), timed_out };
            let res = if run.timed_out == Some(i) {
                Err(fail(format!("timed out after {:?} while being sourced or in depend(); killed", opts.timeout), true))
            } else if st.end {
                Ok(st.meta(name))
            } else {
                Err(fail(
                    match st.exit {
                        Some(code) => format!("exited while being sourced or in depend() (status {code})"),
                        None => "the shell died while reading it".into(),
                    },
                    false,
                ))
            };
            out.results.insert(name.clone(), res);
        }
        if !progressed {
            // The shell died before the first script (bad shell?): report, do not loop.
            for i in rest.drain(..) {
                let stderr = run.stderr.values().map(|s| tail(s)).collect::<Vec<_>>().join("\n");
                out.results.insert(
                    services[i].clone(),
                    Err(LoadFailure {
                        service: services[i].clone(),
                        reason: format!("the shell {} exited before reading the script", opts.shell.display()),
                        stderr,
                        timed_out: false,
                    }),
                );
            }
        }
        pending = rest;
    }
    Ok(out)
}

/// What the records say about one script.
#[derive(Debug, Default)]
struct ScriptState {
    values: Vec<(String, String)>,
    end: bool,
    exit: Option<i32>,
}

impl ScriptState {
    fn meta(&self, name: &str) -> ServiceMeta {
        let mut m = ServiceMeta::new(name);
        for (k, v) in &self.values {
            let list = match k.as_str() {
                "need" => &mut m.need,
                "use" => &mut m.use_,
                "want" => &mut m.want,
                "after" => &mut m.after,
                "before" => &mut m.before,
                "provide" => &mut m.provide,
                "keyword" => &mut m.keyword,
                "config" => &mut m.config,
                "extra_commands" => &mut m.extra_commands,
                "extra_started_commands" => &mut m.extra_started_commands,
                "extra_stopped_commands" => &mut m.extra_stopped_commands,
                "description" => {
                    m.description = Some(v.trim().to_owned()).filter(|d| !d.is_empty());
                    continue;
                }
                _ => continue,
            };
            for w in v.split_whitespace() {
                if !list.iter().any(|x| x == w) {
                    list.push(w.to_owned());
                }
            }
        }
        m
    }
}

struct BatchRun {
    states: BTreeMap<usize, ScriptState>,
    stderr: BTreeMap<usize, String>,
    timed_out: Option<usize>,
}

fn run_batch(root: &RcRoot, services: &[String], batch: &[usize], opts: &LoadOptions) -> Result<BatchRun, RcError> {
    let nonce = format!("KRC{:x}{:x}", std::process::id(), nanos());
    let mut script = tempfile::Builder::new().prefix("kimigayo-rc-deps").tempfile().map_err(|e| RcError::io(std::env::temp_dir(), e))?;
    script.write_all(batch_script(root, services, batch, &nonce).as_bytes()).map_err(|e| RcError::io(script.path(), e))?;
    // An empty working directory: `after *` must reach depend() as a literal `*`.
    let cwd = tempfile::tempdir().map_err(|e| RcError::io(std::env::temp_dir(), e))?;
    let out = tempfile::tempfile().map_err(|e| RcError::io(std::env::temp_dir(), e))?;
    let err = tempfile::tempfile().map_err(|e| RcError::io(std::env::temp_dir(), e))?;
    let mut cmd = Command::new(&opts.shell);
    cmd.arg(script.path())
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .env("RC_UNAME", "Linux")
        .envs(opts.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| RcError::io("stdout", e))?)
        .stderr(err.try_clone().map_err(|e| RcError::io("stderr", e))?)
        .current_dir(cwd.path())
        .process_group(0);
    // A script's output lands in files the loader reads back: bound them (a script writing
    // endlessly to fd 3 or stderr gets SIGXFSZ instead of filling the disk and PID 1's memory).
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: OUTPUT_CAP, rlim_max: OUTPUT_CAP };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| RcError::Shell { shell: opts.shell.clone(), source })?;
    let exit_fd = pidfd(child.id());

    let mut reader = Records::new(nonce.as_bytes().to_vec());
    let mut states: BTreeMap<usize, ScriptState> = BTreeMap::new();
    let mut began: Option<(usize, Instant)> = None;
    let mut timed_out = None;
    let mut pause = Duration::from_micros(500);
    loop {
        let exited = child.try_wait().map_err(|source| RcError::Shell { shell: opts.shell.clone(), source })?.is_some();
        reader.fill(&out);
        for (i, key, value) in reader.drain(exited) {
            let st = states.entry(i).or_default();
            match key.as_str() {
                "begin" => began = Some((i, Instant::now())),
                "end" => st.end = true,
                "exit" => {
                    st.exit = Some(value.trim().parse().unwrap_or(-1));
                    began = None;
                }
                _ => st.values.push((key, value)),
            }
        }
        if exited {
            break;
        }
        if let Some((i, t)) = began {
            if t.elapsed() >= opts.timeout {
                // SAFETY: plain syscall; the child leads its own process group.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                timed_out = Some(i);
                reader.fill(&out);
                for (j, key, _) in reader.drain(true) {
                    if key == "end" {
                        states.entry(j).or_default().end = true;
                    }
                }
                break;
            }
        }
        // Until the shell exits (its pidfd turns readable: no latency added to a boot), or
        // until it is time to look at a script's timeout again.
        match &exit_fd {
            Some(fd) => {
                let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut p, 1, 10) };
            }
            None => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
        }
    }
    let _ = child.wait();
    let stderr = split_stderr(&read_all(&err), &nonce);
    Ok(BatchRun { states, stderr, timed_out })
}

/// A pidfd for `pid` (Linux 5.3+); None where the kernel has none.
fn pidfd(pid: u32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscall; a returned descriptor is ours to own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// The most a batch's shell may write to each of its output files.
const OUTPUT_CAP: libc::rlim_t = 16 << 20;

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

fn read_all(f: &std::fs::File) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = f.read_at(&mut chunk, buf.len() as u64) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf
}

/// Incremental reader of `NONCE IDX KEY LEN\nVALUE\n` records.
struct Records {
    nonce: Vec<u8>,
    buf: Vec<u8>,
    pos: usize,
}

impl Records {
    fn new(nonce: Vec<u8>) -> Self {
        Records { nonce, buf: Vec::new(), pos: 0 }
    }
    fn fill(&mut self, f: &std::fs::File) {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = f.read_at(&mut chunk, self.buf.len() as u64) {
            if n == 0 {
                break;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
    /// Complete records since the last call; with `finished`, a truncated tail is taken as is.
    fn drain(&mut self, finished: bool) -> Vec<(usize, String, String)> {
        let mut out = Vec::new();
        while self.pos < self.buf.len() {
            let rest = &self.buf[self.pos..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else { break };
            let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
            let mut f = header.split(' ');
            let ok = f.next() == Some(std::str::from_utf8(&self.nonce).unwrap_or(""));
            let (idx, key, len) = (f.next().and_then(|s| s.parse::<usize>().ok()), f.next(), f.next().and_then(|s| s.parse::<usize>().ok()));
            let (Some(idx), Some(key), Some(len), true) = (idx, key, len, ok) else {
                self.pos += nl + 1; // not ours
                continue;
            };
            let vstart = nl + 1;
            let mut marker = b"\n".to_vec();
            marker.extend_from_slice(&self.nonce);
            marker.push(b' ');
            // The length is the script's word (it can print records itself): checked, so a
            // huge one cannot wrap around to before the value.
            let exact = vstart.checked_add(len).filter(|&e| e < rest.len() && rest[e] == b'\n');
            let value_end = if exact.is_some() {
                exact
            } else if let Some(p) = find(&rest[vstart..], &marker) {
                // Length disagrees (a shell counting characters, not bytes): up to the next record.
                Some(vstart + p)
            } else if finished {
                Some(if rest.ends_with(b"\n") { rest.len() - 1 } else { rest.len() }.max(vstart))
            } else {
                None
            };
            let Some(end) = value_end else { break };
            let value = String::from_utf8_lossy(&rest[vstart..end]).into_owned();
            out.push((idx, key.to_owned(), value));
            self.pos += (end + 1).min(rest.len());
        }
        out
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Stderr cut at the `NONCE begin IDX` markers printed before each script.
fn split_stderr(err: &[u8], nonce: &str) -> BTreeMap<usize, String> {
    let text = String::from_utf8_lossy(err);
    let mut out: BTreeMap<usize, String> = BTreeMap::new();
    let mut cur = None;
    let prefix = format!("{nonce} begin ");
    for line in text.split_inclusive('\n') {
        if let Some(i) = line.trim_end().strip_prefix(&prefix).and_then(|s| s.parse().ok()) {
            cur = Some(i);
            continue;
        }
        if let Some(i) = cur {
            out.entry(i).or_default().push_str(line);
        }
    }
    out
}

/// The last lines of a script's stderr, for error messages.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let t = lines[lines.len().saturating_sub(10)..].join("\n");
    if t.len() > 2000 {
        let mut cut = t.len() - 2000;
        while !t.is_char_boundary(cut) {
            cut += 1;
        }
        t[cut..].to_owned()
    } else {
        t
    }
}

/// Single-quotes a string for the shell.
pub(crate) fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn path_sq(p: &Path) -> String {
    sq(&p.to_string_lossy())
}

/// The shell program for one batch.
fn batch_script(root: &RcRoot, services: &[String], batch: &[usize], nonce: &str) -> String {
    let mut s = String::new();
    s.push_str("exec 3>&1 1>&2 </dev/null\n");
    s.push_str(&format!("_krc_n={}\n_krc_i=0\n", sq(nonce)));
    s.push_str("_krc_rec() { printf '%s %s %s %s\\n%s\\n' \"$_krc_n\" \"$_krc_i\" \"$1\" \"${#2}\" \"$2\" >&3; }\n");
    for t in DEP_TYPES {
        s.push_str(&format!("{t}() {{ _krc_rec {t} \"$*\"; }}\n"));
    }
    // What OpenRC's gendepends has from functions.sh, for scripts that use it at top level
    // or in depend().
    s.push_str(concat!(
        "yesno() { [ -z \"$1\" ] && return 1; case \"$1\" in [Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0;; ",
        "[Nn][Oo]|[Ff][Aa][Ll][Ss][Ee]|[Oo][Ff][Ff]|0) return 1;; esac; ",
        "eval _krc_v=\\${$1:-} 2>/dev/null || return 1; case \"$_krc_v\" in [Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0;; esac; return 1; }\n",
        "ebegin() { printf ' * %s ...\\n' \"$*\" >&2; }\n",
        "einfo() { printf ' * %s\\n' \"$*\" >&2; }\n",
        "ewarn() { printf ' * %s\\n' \"$*\" >&2; }\n",
        "eerror() { printf ' * %s\\n' \"$*\" >&2; }\n",
        "veinfo() { :; }\nvewarn() { :; }\nvebegin() { :; }\nveend() { return ${1:-0}; }\n",
        "eend() { return ${1:-0}; }\newend() { return ${1:-0}; }\neindent() { :; }\neoutdent() { :; }\n",
        "get_bootparam() { return 1; }\n",
    ));
    let rc_conf = root.rc_conf();
    for &i in batch {
        let name = &services[i];
        let script = root.script(name);
        s.push_str(&format!("_krc_i={i}\nprintf '%s begin %s\\n' \"$_krc_n\" {i} >&2\n_krc_rec begin ''\n(\n"));
        s.push_str(&format!(
            "RC_SVCNAME={n}; SVCNAME={n}; RC_SERVICE={p}; export RC_SVCNAME SVCNAME RC_SERVICE\n",
            n = sq(name),
            p = path_sq(&script)
        ));
        for f in std::iter::once(rc_conf.clone()).chain(root.conf_files(name)) {
            s.push_str(&format!("if [ -r {p} ]; then . {p}; fi\n", p = path_sq(&f)));
        }
        s.push_str(&format!(". {}\n", path_sq(&script)));
        s.push_str("if command -v depend >/dev/null 2>&1; then depend; fi\n");
        // conf.d additions: rc_need="..." (or RC_NEED) like OpenRC.
        for t in DEP_TYPES {
            let up = t.to_ascii_uppercase();
            s.push_str(&format!(
                "if [ -n \"${{rc_{t}:-}}\" ]; then {t} $rc_{t}; elif [ -n \"${{RC_{up}:-}}\" ]; then {t} $RC_{up}; fi\n"
            ));
        }
        for v in META_VARS {
            s.push_str(&format!("_krc_rec {v} \"${{{v}:-}}\"\n"));
        }
        s.push_str("_krc_rec end ''\n)\n_krc_rec exit \"$?\"\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_garbage_and_partial_reads() {
        let mut r = Records::new(b"N".to_vec());
        r.buf.extend_from_slice(b"garbage line\nN 1 need 7\nnet dns\nN 1 description 3\na\nb\nN 1 end 0\n\nN 2 be");
        let got = r.drain(false);
        assert_eq!(
            got,
            vec![
                (1, "need".into(), "net dns".into()),
                (1, "description".into(), "a\nb".into()),
                (1, "end".into(), "".into())
            ]
        );
        r.buf.extend_from_slice(b"gin 0\n\n");
        assert_eq!(r.drain(false), vec![(2, "begin".into(), "".into())]);
    }

    #[test]
    fn stderr_is_cut_per_script() {
        let m = split_stderr(b"N begin 0\nboom\nN begin 3\n * x\nsyntax error\n", "N");
        assert_eq!(m[&0], "boom\n");
        assert_eq!(m[&3], " * x\nsyntax error\n");
    }

    #[test]
    fn quoting() {
        assert_eq!(sq("a'b"), "'a'\\''b'");
    }
}
