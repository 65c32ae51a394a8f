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
    let p = match cli::parse("rc-service", SPEC, args, true) {
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
    if action == "status" {
        return status(&b, name, json);
    }
    let code = match b.action(name, action, &extra) {
        Ok(c) => c,
        Err(e) => {
            eerror("rc-service", &e);
            1
        }
    };
    if json {
        let st = b.status(name).ok();
        print_json(&serde_json::json!({"service": name, "action": action, "exit_code": code, "status": st}));
    }
    code
}

fn status(b: &Backend, name: &str, json: bool) -> i32 {
    match b.status(name) {
        Ok(st) => {
            if json {
                print_json(&serde_json::to_value(&st).unwrap_or_default());
            } else {
                println!(" * status: {}", st.state);
                if !st.sandbox.is_empty() {
                    println!(" * sandbox: {}", st.sandbox);
                }
                if let Some(last) = &st.last_exit {
                    if st.state != "started" {
                        println!(" * last exit: {last}");
                    }
                }
            }
            st.code
        }
        Err(e) => {
            eerror("rc-service", &e);
            1
        }
    }
}
