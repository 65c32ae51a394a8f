//! PID 1: subreaper when not PID 1, signals handled synchronously, every zombie reaped,
//! container mode (`init -- CMD`, exit code propagated like tini) and VM mode (API
//! filesystems, reboot(2) at the end).

pub mod detect;
pub mod procs;
pub mod pump;
pub mod signals;
pub mod vmfs;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use crate::cli::{self, Opt};
use crate::ctx::Ctx;
use crate::log::Log;
use crate::orchestrate::{self, WaveOptions};
use crate::services::Services;
use detect::Mode;
use pump::Pump;
use signals::Power;

const SPEC: &[Opt] = &[
    Opt::flag(Some('h'), "help"),
    Opt::flag(None, "version"),
    Opt::flag(None, "container"),
    Opt::flag(None, "vm"),
    Opt::value(None, "runlevel"),
    Opt::flag(None, "no-services"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitArgs {
    pub forced: Option<Mode>,
    pub runlevel: String,
    pub services: bool,
    pub command: Vec<String>,
    /// Positional words without `--` in VM mode: the kernel passes unknown boot parameters
    /// (`single`, `emergency`) this way; they are logged, never executed.
    pub explicit_command: bool,
}

pub fn parse_args(args: &[OsString]) -> Result<Option<InitArgs>, cli::CliError> {
    let p = cli::parse("init", SPEC, args, true)?;
    if p.has("help") || p.has("version") {
        return Ok(None);
    }
    let explicit_command = args.iter().any(|a| a == "--");
    let forced = if p.has("vm") {
        Some(Mode::Vm)
    } else if p.has("container") {
        Some(Mode::Container)
    } else {
        None
    };
    Ok(Some(InitArgs {
        forced,
        runlevel: p.value("runlevel").unwrap_or("default").to_string(),
        services: !p.has("no-services"),
        command: p.args,
        explicit_command,
    }))
}

fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// Starts the main command in its own process group, in the terminal's foreground if stdin
/// is a tty.
fn spawn_main(cmd: &[String]) -> std::io::Result<i32> {
    let child = signals::unblocked(Command::new(&cmd[0]).args(&cmd[1..]).process_group(0)).spawn()?;
    let pid = child.id() as i32;
    // SAFETY: isatty/tcsetpgrp on fd 0; SIGTTOU is blocked in this process, so a background
    // init may hand the terminal over.
    unsafe {
        if libc::isatty(0) == 1 {
            libc::tcsetpgrp(0, pid);
        }
    }
    Ok(pid)
}

fn boot(ctx: &Ctx, pump: &mut Pump, services: &dyn Services, runlevel: &str) {
    let levels: Vec<String> = ["sysinit", "boot", runlevel].iter().map(|s| s.to_string()).collect();
    match services.boot_plan(&levels) {
        Err(e) => pump.log.error(&format!("cannot plan the boot: {e}")),
        Ok(plan) => {
            for note in &plan.notes {
                pump.log.warn(note);
            }
            let (waves, needs, after) = (plan.waves, plan.needs, plan.after);
            let n: usize = waves.iter().map(Vec::len).sum();
            pump.log.info(&format!("Starting {n} service(s) in {} wave(s) (runlevels {})", waves.len(), levels.join(", ")));
            let opts = WaveOptions { action: "start", timeout: Some(services.start_timeout()), needs: &needs, abort_on_shutdown: true, runlevel, after: Some(&after) };
            let results = orchestrate::run_waves(ctx, pump, &waves, &opts);
            let failed: Vec<&str> = results.iter().filter(|(_, o)| !o.ok()).map(|(s, _)| s.as_str()).collect();
            if !failed.is_empty() {
                pump.log.warn(&format!("not started: {}", failed.join(", ")));
            }
        }
    }
    let _ = std::fs::create_dir_all(ctx.state_dir());
    let _ = std::fs::write(ctx.softlevel(), format!("{runlevel}\n"));
}

/// `init [OPTIONS] [--] [CMD ARGS...]`. Returns the exit code (container mode).
pub fn run(args: InitArgs, services: &dyn Services) -> i32 {
    let ctx = Ctx::from_env();
    let is_pid1 = std::process::id() == 1;
    if !is_pid1 {
        become_subreaper();
    }
    let log = Log::new(Some(ctx.init_log()));
    if let Err(e) = signals::block() {
        log.error(&format!("cannot block signals: {e}"));
    }
    let mode = detect::detect(is_pid1, args.forced, std::path::Path::new("/"), std::env::var("container").ok().as_deref());
    let mut pump = Pump::new(is_pid1, log.clone());
    log.info(&format!(
        "kimigayo-init {} starting ({} mode, pid {}, root {})",
        env!("CARGO_PKG_VERSION"),
        if mode == Mode::Vm { "VM" } else { "container" },
        std::process::id(),
        ctx.root.display()
    ));
    if mode == Mode::Vm {
        vmfs::mount_api_filesystems(&log);
    }
    let mut command = args.command.clone();
    if mode == Mode::Vm && !args.explicit_command && !command.is_empty() {
        log.info(&format!("ignoring boot parameters {:?}", command));
        command.clear();
    }

    if args.services {
        boot(&ctx, &mut pump, services, &args.runlevel);
    }

    if !command.is_empty() && pump.shutdown.is_none() {
        match spawn_main(&command) {
            Ok(pid) => {
                log.file_only(&format!("main command {:?} is pid {pid}", command));
                pump.main = Some(pid);
            }
            Err(e) => {
                log.error(&format!("cannot run {}: {e}", command[0]));
                pump.main_exit = Some(if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 });
            }
        }
    }

    // Steady state: until the main command ends or a shutdown is requested.
    while pump.shutdown.is_none() && !(pump.main.is_none() && pump.main_exit.is_some()) {
        pump.step(Duration::from_secs(1));
    }
    let power = pump.shutdown.unwrap_or(Power::Poweroff);
    // Asked to power off while the main command still ran: its SIGTERM death is ours, not a failure.
    let main_interrupted = pump.shutdown.is_some() && pump.main.is_some();
    let reason = match (pump.main_exit, pump.shutdown) {
        (Some(code), None) => format!("main command exited with status {code}"),
        (_, Some(p)) => format!("{} requested", p.name()),
        _ => "poweroff".into(),
    };
    crate::shutdown::run(&ctx, &mut pump, services, mode, &reason);

    let code = if main_interrupted { 0 } else { pump.main_exit.unwrap_or(0) };
    if mode == Mode::Vm && is_pid1 {
        let cmd = match power {
            Power::Poweroff => libc::RB_POWER_OFF,
            Power::Reboot => libc::RB_AUTOBOOT,
            Power::Halt => libc::RB_HALT_SYSTEM,
        };
        // SAFETY: reboot(2); on success it does not return.
        unsafe { libc::reboot(cmd) };
        log.error(&format!("reboot(2) failed: {}", std::io::Error::last_os_error()));
    }
    code
}
