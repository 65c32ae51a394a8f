//! Boot and shutdown orchestration: a plan's waves run in order, the services of one wave in
//! parallel. Each action runs in its own child process (forked from PID 1, running what
//! `kimigayo-init --run-action NAME ACTION` runs, without exec'ing it) rather than a thread: a
//! crashing or hanging action can then neither take PID 1 down nor outlive its timeout (its
//! process group is killed), and the pump stays the only caller of waitpid(-1).

pub mod blocked;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::ctx::Ctx;
use crate::pid1::pump::Pump;
pub use blocked::Needs;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed(i32),
    TimedOut,
    Blocked(String),
    CouldNotSpawn(String),
    /// Not attempted because a shutdown was requested during boot.
    Skipped,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        *self == Outcome::Ok
    }
}

pub struct WaveOptions<'a> {
    pub action: &'a str,
    pub timeout: Option<Duration>,
    pub needs: &'a Needs,
    /// Stop launching new waves once a shutdown was requested (boot); shutdown itself sets
    /// this to false.
    pub abort_on_shutdown: bool,
    /// The runlevel being entered (scripts see it as RC_RUNLEVEL; `shutdown` at shutdown).
    pub runlevel: &'a str,
    /// Each service's predecessors; None: every earlier wave.
    pub after: Option<&'a After>,
}

/// Runs `kimigayo-init --run-action SVC ACTION` in a forked child — the same code without an
/// exec of this binary: PID 1 is single-threaded, so the child may run Rust code; it leaves
/// PID 1's signal mask, descriptors (pidfds, pipes of other actions) and process group behind
/// before it starts.
fn spawn_action(ctx: &Ctx, svc: &str, action: &str, runlevel: &str) -> Result<i32, String> {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let out = ctx.action_out(svc, action);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = std::fs::File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    // Nothing buffered in PID 1 may be written a second time by the child.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid > 0 {
        return Ok(pid);
    }
    // The child.
    let _ = crate::pid1::signals::unblock_all();
    unsafe {
        libc::setpgid(0, 0);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        libc::dup2(null, 0);
        libc::dup2(file.as_raw_fd(), 1);
        libc::dup2(file.as_raw_fd(), 2);
        close_from(3);
        std::mem::forget(file);
        std::env::set_var("KIMIGAYO_ROOT", &ctx.root);
        std::env::set_var("RC_RUNLEVEL", runlevel);
    }
    let code = crate::backend::run_action_main(&[svc.into(), action.into()]);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    unsafe { libc::_exit(code) }
}

/// Closes every descriptor from `first` up (close_range(2), else one by one as /proc lists them).
fn close_from(first: i32) {
    if unsafe { libc::syscall(libc::SYS_close_range, first as libc::c_uint, libc::c_uint::MAX, 0 as libc::c_uint) } == 0 {
        return;
    }
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|fd| *fd >= first) {
        unsafe { libc::close(fd) };
    }
}

/// Each service's direct predecessors in a plan (see `kimigayo_rc::Plan::after`).
pub type After = BTreeMap<String, BTreeSet<String>>;

/// What must be done before each service when only waves are known: everything in the
/// waves before its own.
fn after_from_waves(waves: &[Vec<String>]) -> After {
    let mut out = After::new();
    let mut before: BTreeSet<String> = BTreeSet::new();
    for wave in waves {
        for s in wave {
            out.insert(s.clone(), before.clone());
        }
        before.extend(wave.iter().cloned());
    }
    out
}

/// Runs a plan; returns every service's outcome in the order they finished. The waves give the
/// order of preference; a service is launched as soon as its own predecessors (`opts.after`,
/// else all earlier waves) are done, however they ended — a failed `need` is caught by
/// [`blocked::blocked_by`] — so one slow service holds back only what depends on it.
pub fn run_waves(
    ctx: &Ctx,
    pump: &mut Pump,
    waves: &[Vec<String>],
    opts: &WaveOptions,
) -> Vec<(String, Outcome)> {
    // A service the plan's map does not list waits for every earlier wave.
    let by_waves = after_from_waves(waves);
    let empty = After::new();
    let given = opts.after.unwrap_or(&empty);
    let preds_of = |svc: &str| given.get(svc).or_else(|| by_waves.get(svc));
    let planned: BTreeSet<&str> = waves.iter().flatten().map(String::as_str).collect();
    let mut pending: Vec<&String> = waves.iter().flatten().collect();
    let mut results = Vec::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut started = BTreeSet::new();
    let mut failed = BTreeSet::new();
    let mut running: BTreeMap<i32, (String, Instant)> = BTreeMap::new();
    loop {
        if opts.abort_on_shutdown && pump.shutdown.is_some() {
            for svc in pending.drain(..) {
                done.insert(svc.clone());
                results.push((svc.clone(), Outcome::Skipped));
            }
        }
        // Launch everything whose predecessors are done, in plan order.
        let mut i = 0;
        while i < pending.len() {
            let svc = pending[i];
            let ready = preds_of(svc).is_none_or(|preds| preds.iter().all(|p| done.contains(p) || !planned.contains(p.as_str())));
            if !ready {
                i += 1;
                continue;
            }
            pending.remove(i);
            if let Some(by) = blocked::blocked_by(svc, opts.needs, &started, &failed) {
                pump.log.error(&format!("{svc}: not started: dependency {by} failed"));
                failed.insert(svc.clone());
                done.insert(svc.clone());
                results.push((svc.clone(), Outcome::Blocked(by)));
                // What waited on it may be ready now.
                i = 0;
                continue;
            }
            pump.log.file_only(&format!("{} {svc}", opts.action));
            match spawn_action(ctx, svc, opts.action, opts.runlevel) {
                Ok(pid) => {
                    running.insert(pid, (svc.clone(), Instant::now()));
                }
                Err(e) => {
                    pump.log.error(&format!("{svc}: cannot run `{}': {e}", opts.action));
                    failed.insert(svc.clone());
                    done.insert(svc.clone());
                    results.push((svc.clone(), Outcome::CouldNotSpawn(e)));
                    i = 0;
                }
            }
        }
        if running.is_empty() {
            if pending.is_empty() {
                break;
            }
            // Nothing runs and nothing is ready: only a predecessor outside every path can
            // cause this (an inconsistent plan); go on in plan order rather than hang.
            let svc = pending[0].clone();
            done.extend(preds_of(&svc).into_iter().flatten().cloned());
            continue;
        }
        pump.step(Duration::from_millis(50));
        let pids: Vec<i32> = running.keys().copied().collect();
        for pid in pids {
            let outcome = if let Some(code) = pump.take_exit(pid) {
                Some(if code == 0 { Outcome::Ok } else { Outcome::Failed(code) })
            } else if opts.timeout.is_some_and(|t| running[&pid].1.elapsed() >= t) {
                // SAFETY: kill the action's whole process group (it was made its leader).
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                Some(Outcome::TimedOut)
            } else {
                None
            };
            let Some(outcome) = outcome else { continue };
            let Some((svc, _)) = running.remove(&pid) else { continue };
            if let Ok(text) = std::fs::read_to_string(ctx.action_out(&svc, opts.action)) {
                pump.log.relay(&text);
            }
            let _ = std::fs::remove_file(ctx.action_out(&svc, opts.action));
            match &outcome {
                Outcome::Ok => {
                    pump.log.file_only(&format!("{} {svc}: ok", opts.action));
                    started.insert(svc.clone());
                }
                Outcome::Failed(code) => {
                    pump.log.error(&format!("{svc}: `{}' failed (exit status {code})", opts.action));
                    failed.insert(svc.clone());
                }
                Outcome::TimedOut => {
                    let t = opts.timeout.unwrap_or_default();
                    pump.log.error(&format!("{svc}: `{}' timed out after {:.1}s; killed", opts.action, t.as_secs_f64()));
                    failed.insert(svc.clone());
                }
                _ => {}
            }
            done.insert(svc.clone());
            results.push((svc, outcome));
        }
    }
    results
}
