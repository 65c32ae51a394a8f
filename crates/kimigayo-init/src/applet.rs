//! Multi-call dispatch: argv[0]'s basename names the applet; `kimigayo-init APPLET ARGS...`
//! works too, and plain `kimigayo-init [--] CMD` is init.

use std::ffi::OsString;
use std::path::Path;

use crate::backend::{self, Backend};
use crate::commands;
use crate::ctx::Ctx;
use crate::pid1::{self, signals::Power};

pub const APPLETS: &[&str] = &[
    "init",
    "openrc-run",
    "rc-service",
    "rc-update",
    "rc-status",
    "start-stop-daemon",
    "supervise-daemon",
    "checkpath",
    "poweroff",
    "reboot",
    "halt",
];

fn basename(arg0: &OsString) -> String {
    Path::new(arg0).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Commands people pipe into `head` behave like Unix tools when the reader goes away: the
/// default SIGPIPE ends them quietly (Rust ignores it, so a print would fail or panic).
/// Never for init itself.
fn quiet_on_closed_stdout() {
    // SAFETY: resetting a signal disposition at startup, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Runs one applet; `args` excludes the applet's own name.
pub fn run_applet(name: &str, args: &[OsString]) -> i32 {
    if matches!(name, "rc-service" | "rc-update" | "rc-status" | "checkpath") {
        quiet_on_closed_stdout();
    }
    match name {
        "init" | "linuxrc" => init(args),
        "rc-service" => commands::rc_service::main(args),
        "rc-update" => commands::rc_update::main(args),
        "rc-status" => commands::rc_status::main(args),
        "poweroff" => commands::power::main(Power::Poweroff, args),
        "reboot" => commands::power::main(Power::Reboot, args),
        "halt" => commands::power::main(Power::Halt, args),
        other => backend::svc_applet(other, args).unwrap_or_else(|| {
            eprintln!("kimigayo-init: unknown applet `{other}'; applets: {}", APPLETS.join(", "));
            127
        }),
    }
}

fn init(args: &[OsString]) -> i32 {
    match pid1::parse_args(args) {
        Ok(None) => {
            print!("{}", crate::help::INIT);
            0
        }
        Ok(Some(a)) => pid1::run(a, &Backend::new(Ctx::from_env())),
        Err(e) => {
            eprintln!(" * {e}");
            // A PID 1 that exits kills the machine: boot without options instead.
            if std::process::id() == 1 {
                let fallback = pid1::InitArgs {
                    forced: None,
                    runlevel: "default".into(),
                    services: true,
                    command: Vec::new(),
                    explicit_command: false,
                };
                return pid1::run(fallback, &Backend::new(Ctx::from_env()));
            }
            2
        }
    }
}

/// The whole program: argv in, exit code out.
pub fn main(argv: Vec<OsString>) -> i32 {
    let name = argv.first().map(basename).unwrap_or_default();
    let rest = argv.get(1..).unwrap_or(&[]);
    if APPLETS.contains(&name.as_str()) || name == "linuxrc" {
        return run_applet(&name, rest);
    }
    match rest.first().and_then(|a| a.to_str()) {
        Some(a) if APPLETS.contains(&a) => run_applet(a, &rest[1..]),
        Some("--run-action") => backend::run_action_main(&rest[1..]),
        Some("holder" | "--holder") => backend::svc_applet("holder", &rest[1..]).unwrap_or(127),
        _ => init(rest),
    }
}
