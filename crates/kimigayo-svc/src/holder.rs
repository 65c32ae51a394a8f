//! The service holder: the sandboxed process that owns one service's namespaces.
//!
//! `start` mode (one holder per running service):
//!   P (spawned by `run_action`) — setsid, unshare the namespaces, fork H, record H's host pid, exit.
//!   H — pid 1 of the new pid namespace: fresh /proc, hostname; runs the start action in a
//!   confined child shell; reports the action's exit status to the caller on fd 3; then reaps
//!   everything in the namespace while anything lives. When the namespace empties the service is
//!   stopped (a stop was asked for) or it failed: the failure is logged and, per the retry policy,
//!   the start action runs again in the same namespaces.
//! `join` mode — stop/status/extra commands: setns into H's namespaces, fork, confine, run the
//!   action; after a successful stop, SIGTERM then SIGKILL whatever is left, wait for H to end.
//! `once` mode — an extra command of a service that is not running: a throw-away sandbox.
//!
//! When unshare fails with EPERM (an unprivileged container) the service runs without
//! namespaces per `sandbox_unavailable` ([`crate::fallback`]). Without a PID namespace of its
//! own, "the service's processes" are H's descendants (H is a child subreaper), and stopping
//! kills that tree ([`crate::tree`]), never `kill(-1)`.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::conf::ScriptConf;
use crate::env::SvcEnv;
use crate::failure::{self, ExitKind, FailureEntry};
use crate::fallback::{self, Degraded, Unavailable, UsernsPolicy};
use crate::pump::{self, OutputLog, Pump};
use crate::retry::RetryPolicy;
use crate::runtime::ShellInvocation;
use kimigayo_sandbox::{self as sb, Prepared, SandboxSpec};
use crate::state::{self, State, StateDir, TAIL_LINES};
use crate::tree;

/// Where the holder reports the start action's status (`exit N\n`).
pub const REPORT_FD: RawFd = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderArgs {
    pub mode: String,
    pub service: String,
    pub action: String,
    pub root: PathBuf,
    pub state_dir: PathBuf,
    pub shell: PathBuf,
    pub log_file: PathBuf,
    pub self_exe: PathBuf,
    pub stop_timeout_ms: u64,
    pub args: Vec<String>,
}

impl HolderArgs {
    pub fn new(env: &SvcEnv, mode: &str, service: &str, action: &str, args: &[String]) -> Self {
        HolderArgs {
            mode: mode.into(),
            service: service.into(),
            action: action.into(),
            root: env.root.clone(),
            state_dir: env.state_dir.clone(),
            shell: env.shell.clone(),
            log_file: env.log_file.clone(),
            self_exe: env.self_exe.clone(),
            stop_timeout_ms: env.stop_timeout.as_millis() as u64,
            args: args.to_vec(),
        }
    }

    pub fn to_args(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = Vec::new();
        let mut kv = |k: &str, val: OsString| {
            v.push(k.into());
            v.push(val);
        };
        kv("--mode", self.mode.clone().into());
        kv("--service", self.service.clone().into());
        kv("--action", self.action.clone().into());
        kv("--root", self.root.clone().into());
        kv("--state-dir", self.state_dir.clone().into());
        kv("--shell", self.shell.clone().into());
        kv("--log", self.log_file.clone().into());
        kv("--self", self.self_exe.clone().into());
        kv("--stop-timeout-ms", self.stop_timeout_ms.to_string().into());
        v.push("--".into());
        v.extend(self.args.iter().map(OsString::from));
        v
    }

    pub fn parse(args: &[OsString]) -> Result<Self, String> {
        let mut h = HolderArgs {
            mode: String::new(),
            service: String::new(),
            action: String::new(),
            root: "/".into(),
            state_dir: PathBuf::new(),
            shell: "/bin/sh".into(),
            log_file: PathBuf::new(),
            self_exe: PathBuf::new(),
            stop_timeout_ms: 10_000,
            args: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let a = a.to_string_lossy();
            if a == "--" {
                h.args = it.map(|s| s.to_string_lossy().into_owned()).collect();
                break;
            }
            let val = it.next().ok_or_else(|| format!("holder: {a} needs a value"))?;
            let s = val.to_string_lossy().into_owned();
            match a.as_ref() {
                "--mode" => h.mode = s,
                "--service" => h.service = s,
                "--action" => h.action = s,
                "--root" => h.root = val.into(),
                "--state-dir" => h.state_dir = val.into(),
                "--shell" => h.shell = val.into(),
                "--log" => h.log_file = val.into(),
                "--self" => h.self_exe = val.into(),
                "--stop-timeout-ms" => h.stop_timeout_ms = s.parse().map_err(|_| format!("holder: bad --stop-timeout-ms {s}"))?,
                other => return Err(format!("holder: unknown option {other}")),
            }
        }
        if h.service.is_empty() || h.mode.is_empty() {
            return Err("holder: --mode and --service are required (internal applet, started by rc-service)".into());
        }
        Ok(h)
    }

    pub fn env(&self) -> SvcEnv {
        let mut e = SvcEnv::new(&self.root, &self.self_exe);
        e.state_dir = self.state_dir.clone();
        e.shell = self.shell.clone();
        e.log_file = self.log_file.clone();
        e.stop_timeout = Duration::from_millis(self.stop_timeout_ms);
        e
    }
}

/// Internal applet: `holder --mode start|join|once --service NAME --action ACTION ...`.
pub fn holder_main(args: &[OsString]) -> i32 {
    let h = match HolderArgs::parse(args) {
        Ok(h) => h,
        Err(e) => {
            eprintln!(" * ERROR: {e}");
            return 2;
        }
    };
    let env = h.env();
    let sd = StateDir::new(&env, &h.service);
    // The configuration the service was started with (the sandbox must not change under it).
    let conf: ScriptConf = sd
        .read("conf.json")
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    // A sandbox that cannot be set up fails the action (and, for a start, the service).
    let sandbox_failed = |e: &dyn std::fmt::Display| -> i32 {
        let msg = format!(" * ERROR: {}: sandbox: {e}\n", h.service);
        pump::write_all_fd(2, msg.as_bytes());
        if h.mode == "start" {
            let _ = sd.set_state(State::Failed);
            let _ = sd.write("last-exit", "exit 1");
            failure::log_event(&env.log_file, &h.service, "sandbox-failed", &format!("status=1 detail={:?}", e.to_string()));
        }
        report("exit 1");
        1
    };
    let spec = match SandboxSpec::from_vars(&h.service, &|k| conf.get(k)) {
        Ok(s) => s,
        Err(e) => return sandbox_failed(&e),
    };
    // Compiled once here (filter, capability mask); applied in each forked action.
    let confined = match Prepared::new(&spec) {
        Ok(p) => p,
        Err(e) => return sandbox_failed(&e),
    };
    match h.mode.as_str() {
        "start" => start_mode(&h, &env, &sd, &conf, &spec, &confined),
        "join" => join_mode(&h, &env, &sd, &conf, &spec, &confined),
        "once" => once_mode(&h, &env, &conf, &spec, &confined),
        other => {
            eprintln!(" * ERROR: holder: unknown mode {other}");
            2
        }
    }
}

fn report(line: &str) {
    if unsafe { libc::fcntl(REPORT_FD, libc::F_GETFD) } >= 0 {
        pump::write_all_fd(REPORT_FD, format!("{line}\n").as_bytes());
        unsafe { libc::close(REPORT_FD) };
    }
}

/// `scope`: without a PID namespace, the holder whose descendants are this service's processes
/// (start-stop-daemon's /proc scans stay within them).
fn extra_env(conf: &ScriptConf, scope: Option<i32>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = conf
        .vars
        .iter()
        .filter(|(k, _)| k.starts_with("sandbox_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    v.push(("KIMIGAYO_SVC_CAPTURE".into(), "1".into()));
    if let Some(pid) = scope {
        v.push((crate::applets::proc::SCOPE_VAR.into(), pid.to_string()));
    }
    v
}

/// `sandbox_unavailable` of the service, or the message naming the bad value.
fn unavailable_policy(h: &HolderArgs, conf: &ScriptConf) -> Result<Unavailable, String> {
    Unavailable::from_value(&h.service, conf.get(fallback::KEY).as_deref())
}

/// State-dir file naming the namespaces a running service really got (`user mount ipc uts`).
const NAMESPACES_FILE: &str = "namespaces";

/// The spec in force for a running service: the namespaces its start created (without any
/// when it degraded, inside a user namespace when it used one).
fn running_spec(sd: &StateDir, spec: &SandboxSpec) -> SandboxSpec {
    if let Some(ns) = sd.read(NAMESPACES_FILE) {
        let mut s = spec.clone();
        s.namespaces = sb::Namespaces::NONE;
        for w in ns.split_whitespace() {
            match w {
                "user" => s.namespaces.user = true,
                "mount" => s.namespaces.mount = true,
                "pid" => s.namespaces.pid = true,
                "ipc" => s.namespaces.ipc = true,
                "uts" => s.namespaces.uts = true,
                "net" => s.namespaces.net = true,
                _ => {}
            }
        }
        return s;
    }
    if sd.read(fallback::STATE_FILE).is_some() {
        SandboxSpec { namespaces: sb::Namespaces::NONE, ..spec.clone() }
    } else {
        spec.clone()
    }
}

/// How a service's namespaces were made.
enum Isolation {
    /// As asked (`notes` empty), or inside a user namespace (notes: what differs).
    Done { spec: SandboxSpec, notes: Vec<String> },
    /// Not at all: unshare was refused and no user namespace stood in.
    Degraded(Degraded),
}

/// Creates the service's namespaces for the calling (single-threaded) process: directly when
/// privileged; else, per `sandbox_userns`, inside a user namespace of its own; else degraded.
/// Err: a real failure (message for the caller).
fn isolate(h: &HolderArgs, conf: &ScriptConf, spec: &SandboxSpec) -> Result<Isolation, String> {
    // Init in a chroot of a plain directory: no private mount namespace can be made there
    // (`/` is not a mount), so the service shares the mounts (and the PID namespace, whose
    // /proc would need one), as it would under OpenRC; the other namespaces still apply.
    let mut pre_notes = Vec::new();
    let adjusted;
    let spec = if spec.namespaces.mount && !sb::root_is_mount_point() {
        let mut s = spec.clone();
        s.namespaces.mount = false;
        s.namespaces.pid = false;
        pre_notes.push("no mount or PID namespace: / is not a mount point (init runs in a chroot of a directory)".to_string());
        adjusted = s;
        &adjusted
    } else {
        spec
    };
    match isolate_spec(h, conf, spec)? {
        Isolation::Done { spec, mut notes } => {
            pre_notes.append(&mut notes);
            Ok(Isolation::Done { spec, notes: pre_notes })
        }
        other => Ok(other),
    }
}

fn isolate_spec(h: &HolderArgs, conf: &ScriptConf, spec: &SandboxSpec) -> Result<Isolation, String> {
    let mut policy = UsernsPolicy::from_value(&h.service, conf.get(fallback::USERNS_KEY).as_deref())?;
    let mut d = if spec.namespaces.user {
        // Asked for by name (sandbox_namespaces="user mount ..."): always inside one.
        policy = UsernsPolicy::Yes;
        Degraded { errno: libc::EPERM, requested: spec.namespaces, userns: None }
    } else {
        let err = match sb::unshare_namespaces(spec) {
            Ok(()) => return Ok(Isolation::Done { spec: spec.clone(), notes: Vec::new() }),
            Err(e) => e,
        };
        fallback::degradable(&err, spec.namespaces).ok_or_else(|| format!("sandbox: {err}"))?
    };
    if policy == UsernsPolicy::No {
        return Ok(Isolation::Degraded(d));
    }
    let support = sb::probe_user_namespace();
    if let Some((step, no)) = &support.failure {
        d.userns = Some(format!("refused here ({step}: {})", fallback::errno_name(*no)));
        return Ok(Isolation::Degraded(d));
    }
    let keeps_bind = match &spec.cap_drop {
        sb::CapDrop::None => true,
        sb::CapDrop::All => false,
        sb::CapDrop::List(l) => !l.iter().any(|c| c == "CAP_NET_BIND_SERVICE"),
    };
    let port_start = sb::unprivileged_port_start().unwrap_or(0);
    if policy == UsernsPolicy::Auto && keeps_bind && port_start > 0 && !spec.namespaces.net {
        d.userns = Some(format!(
            "the service keeps CAP_NET_BIND_SERVICE and ports below {port_start} are privileged here \
             (net.ipv4.ip_unprivileged_port_start={port_start}), which a user namespace could not bind; \
             run the container with --sysctl net.ipv4.ip_unprivileged_port_start=0, or set {}=yes if \
             {} binds no port below {port_start}",
            fallback::USERNS_KEY,
            h.service
        ));
        return Ok(Isolation::Degraded(d));
    }
    let mut eff = sb::within_bounding_set(spec);
    eff.namespaces.user = true;
    let mut notes = vec!["inside a user namespace of its own (no CAP_SYS_ADMIN here)".to_string()];
    if eff.namespaces.pid && !support.proc_mount {
        eff.namespaces.pid = false;
        notes.push("no PID namespace: the runtime masks parts of /proc, so the kernel refuses a fresh /proc".into());
    }
    if eff.namespaces.uts && !support.sethostname {
        eff.hostname = None;
        notes.push("host name unchanged: the runtime's seccomp profile refuses sethostname".into());
    }
    if keeps_bind && port_start > 0 && !spec.namespaces.net {
        notes.push(format!("ports below {port_start} cannot be bound ({}=yes)", fallback::USERNS_KEY));
    }
    sb::enter_user_namespace().map_err(|e| format!("sandbox: {e}"))?;
    sb::unshare_namespaces(&eff).map_err(|e| format!("sandbox: inside the user namespace: {e}"))?;
    Ok(Isolation::Done { spec: eff, notes })
}

/// Child side of every action: stdio, signals, cwd "/", confinement, exec the runtime shell.
/// `keep_stderr`: an action run for a command (`rc-service X reload`) writes its errors and
/// warnings (eerror, ewarn) to the caller's stderr, as under OpenRC; a start run by the
/// holder sends both streams through its log.
fn exec_action(out: RawFd, confined: &Prepared, inv: &ShellInvocation, keep_stderr: bool) -> ! {
    pump::child_stdio(out);
    if keep_stderr {
        // SAFETY: dup2 of the holder's own stderr, saved before child_stdio replaced fd 2.
        unsafe {
            libc::dup2(SAVED_STDERR, 2);
            libc::close(SAVED_STDERR);
        }
    }
    Pump::child_reset_signals();
    unsafe { libc::chdir(c"/".as_ptr()) };
    if let Err(e) = confined.confine() {
        let msg = format!(" * ERROR: sandbox: {e}\n");
        pump::write_all_fd(2, msg.as_bytes());
        unsafe { libc::_exit(126) };
    }
    let e = inv.exec();
    pump::write_all_fd(2, format!(" * ERROR: cannot run the runtime shell: {e}\n").as_bytes());
    unsafe { libc::_exit(127) }
}

// ------------------------------------------------------------------------------------------
// start mode

/// Records and announces a degraded start: one warning on the caller's stderr, one services-log
/// line, the state dir's `sandbox` and `sandbox-degraded` files.
fn degrade(h: &HolderArgs, env: &SvcEnv, sd: &StateDir, spec: &SandboxSpec, d: &Degraded) {
    pump::write_all_fd(2, format!(" * WARNING: {}\n", d.warning(&h.service, spec)).as_bytes());
    failure::log_event(
        &env.log_file,
        &h.service,
        "sandbox-degraded",
        &format!("namespaces=none reason={:?} fix={:?}", d.reason(), d.fix(&h.service)),
    );
    let _ = sd.write("sandbox", &d.describe(spec));
    let _ = sd.write(fallback::STATE_FILE, &d.record(&h.service));
}

fn start_mode(h: &HolderArgs, env: &SvcEnv, sd: &StateDir, conf: &ScriptConf, spec: &SandboxSpec, confined: &Prepared) -> i32 {
    let fail = |msg: String| {
        pump::write_all_fd(2, format!(" * ERROR: {}: {msg}\n", h.service).as_bytes());
        let _ = sd.set_state(State::Failed);
        let _ = sd.write("last-exit", "exit 1");
        failure::log_event(&env.log_file, &h.service, "sandbox-failed", &format!("status=1 detail={msg:?}"));
        report("exit 1");
        1
    };
    let policy = match RetryPolicy::from_vars(&h.service, &|k| conf.get(k)) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let on_unavailable = match unavailable_policy(h, conf) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let _ = sd.write("sandbox", &spec.describe());
    sd.remove(fallback::STATE_FILE);
    sd.remove(NAMESPACES_FILE);
    unsafe { libc::setsid() };
    let effective = match isolate(h, conf, spec) {
        Err(msg) => return fail(msg),
        Ok(Isolation::Done { spec: eff, notes }) => {
            if !notes.is_empty() {
                let _ = sd.write("sandbox", &format!("{} ({})", eff.describe(), notes.join("; ")));
                failure::log_event(&env.log_file, &h.service, "sandbox-userns", &format!("namespaces={} notes={:?}", eff.namespaces.names().join(","), notes.join("; ")));
            }
            eff
        }
        Ok(Isolation::Degraded(d)) => {
            if on_unavailable == Unavailable::Fail {
                return fail(d.refusal(&h.service));
            }
            degrade(h, env, sd, spec, &d);
            d.effective(spec)
        }
    };
    let _ = sd.write(NAMESPACES_FILE, &effective.namespaces.names().join(" "));
    let spec = &effective;
    let rebuilt;
    let confined = if spec.namespaces.user {
        rebuilt = match Prepared::new(spec) {
            Ok(p) => p,
            Err(e) => return fail(format!("sandbox: {e}")),
        };
        &rebuilt
    } else {
        confined
    };
    let (sync_r, sync_w) = match pump::pipe_cloexec() {
        Ok(p) => p,
        Err(e) => return fail(format!("pipe: {e}")),
    };
    match pump::fork() {
        Err(e) => fail(format!("fork: {e}")),
        Ok(0) => {
            unsafe { libc::close(sync_w) };
            // Wait until P recorded our host pid.
            let mut b = [0u8; 1];
            unsafe { libc::read(sync_r, b.as_mut_ptr().cast(), 1) };
            unsafe { libc::close(sync_r) };
            let code = Holder::new(h, env, sd, conf, spec, confined, policy).run();
            unsafe { libc::_exit(code) }
        }
        Ok(child) => {
            let _ = sd.set_holder(child);
            unsafe { libc::close(sync_w) };
            unsafe { libc::close(REPORT_FD) };
            0
        }
    }
}

struct Holder<'a> {
    h: &'a HolderArgs,
    env: &'a SvcEnv,
    sd: &'a StateDir,
    conf: &'a ScriptConf,
    spec: &'a SandboxSpec,
    confined: &'a Prepared,
    policy: RetryPolicy,
    /// Can /proc (ours, fresh) tell whether the namespace is empty?
    own_proc: bool,
    pump: Option<Pump>,
    epoch: Instant,
    main_pid: Option<i32>,
    main_exit: Option<ExitKind>,
    last_death: Option<ExitKind>,
    orphans_reaped: bool,
}

impl<'a> Holder<'a> {
    fn new(h: &'a HolderArgs, env: &'a SvcEnv, sd: &'a StateDir, conf: &'a ScriptConf, spec: &'a SandboxSpec, confined: &'a Prepared, policy: RetryPolicy) -> Self {
        Holder {
            h,
            env,
            sd,
            conf,
            spec,
            confined,
            policy,
            own_proc: spec.namespaces.pid && spec.namespaces.mount,
            pump: None,
            epoch: Instant::now(),
            main_pid: None,
            main_exit: None,
            last_death: None,
            orphans_reaped: false,
        }
    }

    fn pump(&mut self) -> &mut Pump {
        self.pump.as_mut().expect("pump set up")
    }

    fn run(&mut self) -> i32 {
        let svc = self.h.service.clone();
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            libc::fcntl(REPORT_FD, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        if let Err(e) = sb::setup_inside(self.spec) {
            pump::write_all_fd(2, format!(" * ERROR: {svc}: sandbox: {e}\n").as_bytes());
            let _ = self.sd.set_state(State::Failed);
            let _ = self.sd.write("last-exit", "exit 1");
            failure::log_event(&self.env.log_file, &svc, "sandbox-failed", &format!("status=1 detail={:?}", e.to_string()));
            report("exit 1");
            return 1;
        }
        let log = OutputLog::open(self.sd.path("output.log"));
        match Pump::new(Some(1), Some(log)) {
            Ok(p) => self.pump = Some(p),
            Err(e) => {
                report("exit 1");
                pump::write_all_fd(2, format!(" * ERROR: {svc}: {e}\n").as_bytes());
                return 1;
            }
        }
        // Our own stdout/stderr must not keep the caller's pipe open once it stopped listening.
        let null = pump::dev_null();
        unsafe {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
        }

        let mut restart_times: Vec<u64> = Vec::new();
        let mut reported = false;
        loop {
            if self.sd.state() == Some(State::Stopping) {
                return self.finish(State::Stopped, &mut reported, 0);
            }
            let _ = self.sd.set_state(State::Starting);
            self.main_pid = None;
            self.main_exit = None;
            self.last_death = None;
            self.orphans_reaped = false;
            let action = self.run_start_action();
            let (event, exit) = if action.success() {
                let _ = self.sd.set_state(State::Started);
                let _ = self.sd.write("started-once", "1");
                self.main_pid = self.read_main_pid();
                if !reported {
                    report("exit 0");
                    reported = true;
                    self.pump().detach_caller();
                }
                let daemon = self.conf.get("command").is_some_and(|c| !c.is_empty())
                    || self.conf.get("supervisor").is_some_and(|c| !c.is_empty())
                    || self.orphans_reaped
                    || !self.ns_empty(false);
                if self.wait_until_empty(daemon) == Some(State::Stopping) {
                    return self.finish(State::Stopped, &mut reported, 0);
                }
                ("crashed", self.main_exit.or(self.last_death).unwrap_or(ExitKind::Exit(0)))
            } else {
                self.kill_all(Duration::from_secs(5));
                ("start-failed", action)
            };
            let now = self.epoch.elapsed().as_millis() as u64;
            let next = self.policy.next_delay(&restart_times, now);
            // supervise-daemon restarts the daemon itself and logs each death; when it gives up
            // and exits, the service has failed (nothing more to log here).
            let supervised = self.conf.get("supervisor").as_deref() == Some("supervise-daemon");
            if supervised && event == "crashed" && !self.policy.enabled {
                return self.finish(State::Failed, &mut reported, 1);
            }
            let final_state = if self.policy.enabled || event == "start-failed" { State::Failed } else { State::Crashed };
            let next_text = match next {
                Some(d) => format!(
                    "restart({}/{},in={}ms)",
                    restart_times.len() + 1,
                    if self.policy.attempts == u32::MAX { "unlimited".to_string() } else { self.policy.attempts.to_string() },
                    d.as_millis()
                ),
                None => final_state.as_str().to_string(),
            };
            self.log_failure(event, exit, &next_text);
            match next {
                Some(delay) => {
                    let n = restart_times.len() + 1;
                    let msg = format!(
                        " * WARNING: {svc} {} ({exit}); restarting in {}ms (attempt {n}/{})\n",
                        if event == "crashed" { "died" } else { "failed to start" },
                        delay.as_millis(),
                        self.policy.attempts
                    );
                    self.pump().say(&msg);
                    let _ = self.sd.set_state(State::Starting);
                    self.pump().sleep(delay);
                    pump::reap_all();
                    restart_times.push(self.epoch.elapsed().as_millis() as u64);
                    let _ = self.sd.set_restarts(restart_times.len() as u32);
                }
                None => {
                    if self.policy.enabled && !restart_times.is_empty() {
                        failure::log_event(
                            &self.env.log_file,
                            &svc,
                            "gave-up",
                            &format!("restarts={} state=failed", restart_times.len()),
                        );
                        self.pump().say(&format!(" * ERROR: {svc} keeps failing; gave up after {} restarts\n", restart_times.len()));
                    }
                    let code = if event == "start-failed" { exit.shell_code().max(1) } else { 1 };
                    return self.finish(final_state, &mut reported, code);
                }
            }
        }
    }

    fn finish(&mut self, state: State, reported: &mut bool, code: i32) -> i32 {
        self.kill_all(Duration::from_secs(2));
        if let Some(p) = self.pump.as_mut() {
            p.drain();
        }
        let _ = self.sd.set_state(state);
        if !*reported {
            report(&format!("exit {code}"));
            *reported = true;
        }
        0
    }

    fn run_start_action(&mut self) -> ExitKind {
        let scope = (!self.spec.namespaces.pid).then(|| std::process::id() as i32);
        let inv = ShellInvocation::new(self.env, &self.h.service, "start", &self.h.args, &extra_env(self.conf, scope));
        let out = self.pump().write_fd;
        let pid = match pump::fork() {
            Ok(0) => exec_action(out, self.confined, &inv, false),
            Ok(pid) => pid,
            Err(e) => {
                let msg = format!(" * ERROR: {}: fork: {e}\n", self.h.service);
                self.pump().say(&msg);
                return ExitKind::Exit(1);
            }
        };
        loop {
            self.pump().wait(Duration::from_millis(200));
            let (reaped, _) = pump::reap_all();
            let mut action = None;
            for (p, status) in reaped {
                if p == pid {
                    action = Some(ExitKind::from_wait(status));
                } else {
                    self.note_death(p, status);
                }
            }
            if let Some(a) = action {
                self.pump().drain();
                return a;
            }
        }
    }

    fn note_death(&mut self, pid: i32, status: i32) {
        let kind = ExitKind::from_wait(status);
        self.orphans_reaped = true;
        self.last_death = Some(kind);
        if Some(pid) == self.main_pid {
            self.main_exit = Some(kind);
        }
    }

    fn read_main_pid(&self) -> Option<i32> {
        let pidfile = self.conf.get("pidfile").filter(|p| !p.is_empty())?;
        std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()
    }

    /// The processes of our pid namespace other than us (with /proc our own), e.g. a `stop`
    /// run by a joining holder: they are not our children, so their exit sends us no SIGCHLD.
    fn ns_others(&self) -> Vec<i32> {
        let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
        rd.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok())).filter(|p| *p != 1).collect()
    }

    /// Is nothing but us left? `no_children`: waitpid said ECHILD.
    fn ns_empty(&self, no_children: bool) -> bool {
        if self.own_proc {
            if std::fs::metadata("/proc/self").is_err() {
                return no_children;
            }
            self.ns_others().is_empty()
        } else {
            // No namespace of our own: the service is our process tree (we are its subreaper).
            no_children || tree::descendants(std::process::id() as i32).is_empty()
        }
    }

    /// Reaps until the namespace is empty. A service without a daemon (its start just did some
    /// work) stays started until stopped. Returns the state read when it emptied. Event-driven:
    /// a child's exit wakes us through the SIGCHLD signalfd, and the exit of a process that is
    /// not our child (a joining holder's `stop` and what it ran) through its pidfd; the 100 ms
    /// timeout is only the fallback where pidfds are unavailable.
    fn wait_until_empty(&mut self, daemon: bool) -> Option<State> {
        let mut watched: Vec<std::os::fd::OwnedFd> = Vec::new();
        let mut timeout = Duration::from_millis(100);
        loop {
            let fds: Vec<i32> = watched.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
            self.pump().wait_also(timeout, &fds);
            watched.clear();
            timeout = Duration::from_millis(100);
            let (reaped, no_children) = pump::reap_all();
            for (p, status) in reaped {
                self.note_death(p, status);
            }
            if no_children {
                if self.ns_empty(true) {
                    let st = self.sd.state();
                    if st == Some(State::Stopping) || daemon {
                        return st;
                    }
                } else if self.own_proc {
                    // Zombies (exited, their parent about to reap them) would wake us at once.
                    let live: Vec<i32> = self.ns_others().into_iter().filter(|p| !is_zombie(&p.to_string())).collect();
                    watched = live.into_iter().filter_map(pump::pidfd).collect();
                    if watched.is_empty() {
                        timeout = Duration::from_millis(2);
                    }
                }
            }
        }
    }

    /// SIGKILL everything else in the namespace and reap it (only with our own pid namespace:
    /// without one, kill(-1) would reach the whole system).
    fn kill_all(&mut self, timeout: Duration) {
        if !self.spec.namespaces.pid {
            // No namespace to empty: our descendants are the service (we are its subreaper).
            let mut deaths = Vec::new();
            tree::kill_tree(std::process::id() as i32, timeout, &mut || deaths.extend(pump::reap_all().0));
            deaths.extend(pump::reap_all().0);
            for (p, status) in deaths {
                self.note_death(p, status);
            }
            return;
        }
        unsafe { libc::kill(-1, libc::SIGKILL) };
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            let (reaped, no_children) = pump::reap_all();
            for (p, status) in reaped {
                self.note_death(p, status);
            }
            if no_children && self.ns_empty(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn log_failure(&mut self, event: &str, exit: ExitKind, next: &str) {
        if let Some(p) = self.pump.as_mut() {
            p.drain();
        }
        let mut tail = state::tail_lines(&self.sd.path("output.log"), TAIL_LINES);
        for log in self.conf.output_logs() {
            for line in state::tail_lines(std::path::Path::new(&log), TAIL_LINES) {
                if !tail.contains(&line) {
                    tail.push(line);
                }
            }
        }
        let tail: Vec<String> = tail[tail.len().saturating_sub(TAIL_LINES)..].to_vec();
        let entry = FailureEntry { service: &self.h.service, event, exit, next: next.to_string(), tail: tail.clone() };
        let _ = entry.append_to(&self.env.log_file);
        let _ = self.sd.write("last-exit", &exit.to_string());
        let _ = self.sd.write("last-failure", &tail.join("\n"));
    }
}

// ------------------------------------------------------------------------------------------
// join mode

fn join_mode(h: &HolderArgs, env: &SvcEnv, sd: &StateDir, conf: &ScriptConf, spec: &SandboxSpec, confined: &Prepared) -> i32 {
    let Some(holder) = sd.live_holder() else {
        // The holder ended between the caller's check and ours (a oneshot whose namespace just
        // emptied): there is nothing left to stop.
        if h.action == "stop" {
            return 0;
        }
        eprintln!(" * ERROR: {}: not running (no holder process)", h.service);
        return 1;
    };
    // A pidfd taken before joining: afterwards /proc is the service's, where the holder's host
    // pid means nothing (and the holder may stay a zombie until its parent reaps it).
    let pidfd = pump::pidfd(holder);
    let spec = &running_spec(sd, spec);
    let rebuilt;
    let confined = if spec.namespaces.user {
        // Inside the service's user namespace the bounding set is full again: keep to ours.
        rebuilt = match Prepared::new(&sb::within_bounding_set(spec)) {
            Ok(p) => p,
            Err(e) => {
                eprintln!(" * ERROR: {}: sandbox: {e}", h.service);
                return 1;
            }
        };
        &rebuilt
    } else {
        confined
    };
    if let Err(e) = sb::join_namespaces(holder, spec) {
        // The holder ended after the check above (its namespace emptied: a oneshot's last
        // process, e.g. `poweroff &`, exited): an exiting process has no namespace links left.
        if h.action == "stop" && !std::path::Path::new(&format!("/proc/{holder}/ns/mnt")).exists() {
            return 0;
        }
        eprintln!(" * ERROR: {}: sandbox: entering the namespaces of holder {holder}: {e}", h.service);
        return 1;
    }
    let scope = (!spec.namespaces.pid).then_some(holder);
    let code = run_child_action(h, env, conf, confined, scope);
    if h.action == "stop" && code == 0 {
        if spec.namespaces.pid {
            kill_leftovers(env.stop_timeout);
        } else {
            // The holder's descendants are the service's processes; the holder then ends.
            tree::stop_tree(holder, env.stop_timeout, &mut || {});
        }
        // The holder ends once its namespace is empty.
        if let Some(fd) = pidfd {
            pump::wait_pidfds(&[fd], env.stop_timeout + Duration::from_secs(2));
        }
    }
    code
}

/// Where exec_action finds the caller's stderr (above the descriptors the pump uses; closed
/// again before the script runs).
const SAVED_STDERR: RawFd = 250;

/// Fork, confine, run the action; copy its output to our stdout; its exit code.
fn run_child_action(h: &HolderArgs, env: &SvcEnv, conf: &ScriptConf, confined: &Prepared, scope: Option<i32>) -> i32 {
    let mut pump = match Pump::new(Some(1), None) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(" * ERROR: {}: {e}", h.service);
            return 1;
        }
    };
    let inv = ShellInvocation::new(env, &h.service, &h.action, &h.args, &extra_env(conf, scope));
    let pid = match pump::fork() {
        Ok(0) => {
            // SAFETY: keep the caller's stderr at a known descriptor for exec_action.
            unsafe { libc::dup2(2, SAVED_STDERR) };
            exec_action(pump.write_fd, confined, &inv, true)
        }
        Ok(pid) => pid,
        Err(e) => {
            eprintln!(" * ERROR: {}: fork: {e}", h.service);
            return 1;
        }
    };
    loop {
        pump.wait(Duration::from_millis(200));
        let mut status = 0;
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            pump.drain();
            return ExitKind::from_wait(status).shell_code();
        }
        if r < 0 {
            return 1;
        }
    }
}

/// In the service's pid namespace (not its pid 1): SIGTERM everything, wait, SIGKILL.
fn kill_leftovers(timeout: Duration) {
    let child = match pump::fork() {
        Ok(0) => {
            let me = std::process::id().to_string();
            let others = || -> usize {
                std::fs::read_dir("/proc")
                    .map(|rd| {
                        rd.flatten()
                            .filter(|e| {
                                let n = e.file_name().to_string_lossy().into_owned();
                                n.bytes().all(|b| b.is_ascii_digit()) && n != "1" && n != me && !is_zombie(&n)
                            })
                            .count()
                    })
                    .unwrap_or(0)
            };
            if others() > 0 {
                unsafe { libc::kill(-1, libc::SIGTERM) };
                let end = Instant::now() + timeout;
                while others() > 0 && Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if others() > 0 {
                    unsafe { libc::kill(-1, libc::SIGKILL) };
                }
            }
            unsafe { libc::_exit(0) }
        }
        Ok(pid) => pid,
        Err(_) => return,
    };
    let mut status = 0;
    unsafe { libc::waitpid(child, &mut status, 0) };
}

fn is_zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().starts_with('Z')).unwrap_or(false))
        .unwrap_or(true)
}

// ------------------------------------------------------------------------------------------
// once mode

fn once_mode(h: &HolderArgs, env: &SvcEnv, conf: &ScriptConf, spec: &SandboxSpec, confined: &Prepared) -> i32 {
    let policy = match unavailable_policy(h, conf) {
        Ok(p) => p,
        Err(msg) => {
            eprintln!(" * ERROR: {msg}");
            return 1;
        }
    };
    let effective = match isolate(h, conf, spec) {
        Ok(Isolation::Done { spec: eff, .. }) => eff,
        Ok(Isolation::Degraded(d)) if policy == Unavailable::Degrade => {
            eprintln!(" * WARNING: {}", d.warning(&h.service, spec));
            d.effective(spec)
        }
        Ok(Isolation::Degraded(d)) => {
            eprintln!(" * ERROR: {}: {}", h.service, d.refusal(&h.service));
            return 1;
        }
        Err(msg) => {
            eprintln!(" * ERROR: {}: {msg}", h.service);
            return 1;
        }
    };
    let spec = &effective;
    let rebuilt;
    let confined = if spec.namespaces.user {
        rebuilt = match Prepared::new(spec) {
            Ok(p) => p,
            Err(e) => {
                eprintln!(" * ERROR: {}: sandbox: {e}", h.service);
                return 1;
            }
        };
        &rebuilt
    } else {
        confined
    };
    // Without a PID namespace, this process is the subreaper whose tree is the service.
    if !spec.namespaces.pid {
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    let me = std::process::id() as i32;
    match pump::fork() {
        Ok(0) => {
            if let Err(e) = sb::setup_inside(spec) {
                eprintln!(" * ERROR: {}: sandbox: {e}", h.service);
                unsafe { libc::_exit(1) };
            }
            let scope = (!spec.namespaces.pid).then_some(me);
            let code = run_child_action(h, env, conf, confined, scope);
            unsafe { libc::_exit(code) }
        }
        Ok(pid) => {
            let mut status = 0;
            unsafe { libc::waitpid(pid, &mut status, 0) };
            ExitKind::from_wait(status).shell_code()
        }
        Err(e) => {
            eprintln!(" * ERROR: {}: fork: {e}", h.service);
            1
        }
    }
}
