//! `rc-service`: run an action of one service, or list/test/resolve services.

use std::ffi::OsString;

use super::{eerror, print_json};
use crate::backend::Backend;
use crate::cli::{self, Opt};
use crate::ctx::Ctx;

const SPEC: &[Opt] = &[
    Opt::flag(Some('h'), "help"),
    Opt::flag(Some('V'), "version"),
    Opt::value(Some('e'), "exists"),
    Opt::value(Some('r'), "resolve"),
    Opt::flag(Some('l'), "list"),
    Opt::flag(Some('i'), "ifexists"),
    Opt::flag(Some('s'), "ifstarted"),
    Opt::flag(Some('S'), "ifstopped"),
    Opt::flag(Some('N'), "ifnotstarted"),
    Opt::flag(Some('D'), "nodeps"),
    Opt::flag(Some('q'), "quiet"),
    Opt::flag(Some('v'), "verbose"),
    Opt::flag(None, "json"),
];

pub fn main(args: &[OsString]) -> i32 {
    let mut p = match cli::parse("rc-service", SPEC, args, true) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(" * {e}");
            return 1;
        }
    };
    if p.has("help") {
        print!("{}", crate::help::RC_SERVICE);
        return 0;
    }
    if p.has("version") {
        println!("rc-service (kimigayo-init) {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    // `rc-service NAME status --json`: output flags may also follow the service name.
    if p.args.len() > 1 {
        let tail: Vec<String> = p.args.split_off(1);
        for a in tail {
            match a.as_str() {
                "--json" => p.opts.push(("json", None)),
                "-q" | "--quiet" => p.opts.push(("quiet", None)),
                "-v" | "--verbose" => p.opts.push(("verbose", None)),
                _ => p.args.push(a),
            }
        }
    }
    let b = Backend::new(Ctx::from_env());
    let json = p.has("json");
    if let Some(name) = p.value("exists") {
        return i32::from(!b.exists(name));
    }
    if let Some(name) = p.value("resolve") {
        if !b.exists(name) {
            return 1;
        }
        println!("{}", b.script(name).display());
        return 0;
    }
    if p.has("list") {
        return match b.services() {
            Ok(list) => {
                if json {
                    print_json(&serde_json::json!(list));
                } else {
                    list.iter().for_each(|s| println!("{s}"));
                }
                0
            }
            Err(e) => {
                eerror("rc-service", &e);
                1
            }
        };
    }
    let Some(name) = p.args.first() else {
        eerror("rc-service", "no service given; usage: rc-service [options] SERVICE COMMAND (see rc-service --help)");
        return 1;
    };
    if !b.exists(name) {
        if p.has("ifexists") {
            return 0;
        }
        eerror("rc-service", &format!("service `{name}' does not exist"));
        return 1;
    }
    let Some(action) = p.args.get(1) else {
        eerror("rc-service", &format!("no command given for `{name}'; try `rc-service {name} status'"));
        return 1;
    };
    let extra: Vec<String> = p.args[2..].to_vec();
    if p.has("ifstarted") || p.has("ifstopped") || p.has("ifnotstarted") {
        let state = b.status(name).map(|s| s.state).unwrap_or_default();
        let started = state == "started";
        if (p.has("ifstarted") && !started) || (p.has("ifstopped") && state != "stopped") || (p.has("ifnotstarted") && started) {
            return 0;
        }
    }
    if action == "status" && json {
        return status_json(&b, name);
    }
    // With --json the action's own OpenRC lines go to stderr, so stdout holds only the JSON.
    let saved = if json { redirect_stdout_to_stderr() } else { None };
    // Like OpenRC's openrc-run, every further word is one more command, run in order
    // (`rc-service web stop start`); commands take no arguments there either.
    let start_deps = action == "start" && !p.has("nodeps") && !b.status(name).is_ok_and(|s| s.state == "started");
    let mut result = if start_deps { b.start_with_deps(name) } else { b.action(name, action, &[]) };
    for word in &extra {
        // Every word runs even after one failed (OpenRC reports each unknown one); the exit
        // status is the last failure's.
        let r = b.action(name, word, &[]);
        if !matches!(r, Ok(0)) || matches!(result, Ok(0)) {
            result = r;
        }
    }
    if let Some(fd) = saved {
        restore_stdout(fd);
    }
    let code = match result {
        Ok(c) => c,
        Err(e) => {
            eerror("rc-service", &e);
            1
        }
    };
    if json {
        let st = b.status(name).ok();
        print_json(&serde_json::json!({"service": name, "action": action, "exit_code": code, "status": st}));
    } else if action == "status" {
        if let Ok(st) = b.status(name) {
            if !st.sandbox.is_empty() {
                println!(" * sandbox: {}", st.sandbox);
            }
            if let Some(why) = &st.sandbox_degraded {
                println!(" * sandbox degraded: {why}");
            }
            if let (Some(last), false) = (&st.last_exit, st.state == "started") {
                println!(" * last exit: {last}");
            }
        }
    }
    code
}

fn redirect_stdout_to_stderr() -> Option<i32> {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: dup/dup2 on the standard descriptors.
    unsafe {
        let saved = libc::dup(1);
        if saved < 0 || libc::dup2(2, 1) < 0 {
            return None;
        }
        Some(saved)
    }
}

fn restore_stdout(saved: i32) {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: dup2/close on descriptors we own.
    unsafe {
        libc::dup2(saved, 1);
        libc::close(saved);
    }
}

fn status_json(b: &Backend, name: &str) -> i32 {
    match b.status(name) {
        Ok(st) => {
            print_json(&serde_json::to_value(&st).unwrap_or_default());
            st.code
        }
        Err(e) => {
            eerror("rc-service", &e);
            1
        }
    }
}
