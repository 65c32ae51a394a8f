//! `rc-update add|del|show`: runlevel membership (symlinks in /etc/runlevels/LEVEL).

use std::ffi::OsString;

use super::{eerror, print_json};
use crate::backend::Backend;
use crate::cli::{self, Opt};
use crate::ctx::Ctx;

const SPEC: &[Opt] = &[
    Opt::flag(Some('h'), "help"),
    Opt::flag(Some('V'), "version"),
    Opt::flag(Some('v'), "verbose"),
    Opt::flag(Some('a'), "all"),
    Opt::flag(Some('q'), "quiet"),
    Opt::flag(None, "json"),
];

pub fn main(args: &[OsString]) -> i32 {
    let p = match cli::parse("rc-update", SPEC, args, false) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(" * {e}");
            return 1;
        }
    };
    if p.has("help") {
        print!("{}", crate::help::RC_UPDATE);
        return 0;
    }
    if p.has("version") {
        println!("rc-update (kimigayo-init) {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let b = Backend::new(Ctx::from_env());
    let quiet = p.has("quiet");
    let verb = p.args.first().map(String::as_str).unwrap_or("show");
    match verb {
        "show" => show(&b, p.args.get(1..).unwrap_or(&[]), p.has("verbose"), p.has("json")),
        "add" | "del" | "delete" => {
            let Some(name) = p.args.get(1) else {
                eerror("rc-update", &format!("`{verb}' needs a service; usage: rc-update {verb} SERVICE [RUNLEVEL...]"));
                return 1;
            };
            let mut levels: Vec<String> = p.args[2..].to_vec();
            if levels.is_empty() {
                levels = if verb != "add" && p.has("all") { b.runlevels() } else { vec!["default".into()] };
            }
            if verb == "add" {
                add(&b, name, &levels, quiet)
            } else {
                del(&b, name, &levels, quiet, p.has("all"))
            }
        }
        other => {
            eerror("rc-update", &format!("unknown command `{other}'; use add, del or show"));
            1
        }
    }
}

fn add(b: &Backend, name: &str, levels: &[String], quiet: bool) -> i32 {
    if !b.exists(name) {
        eerror("rc-update", &format!("service `{name}' does not exist"));
        return 1;
    }
    let mut rc = 0;
    for level in levels {
        match b.add(name, level) {
            Ok(true) if !quiet => println!(" * service {name} added to runlevel {level}"),
            Ok(true) => {}
            Ok(false) => eerror("rc-update", &format!("{name} already installed in runlevel `{level}'; skipping")),
            Err(e) => {
                eerror("rc-update", &e);
                rc = 1;
            }
        }
    }
    rc
}

fn del(b: &Backend, name: &str, levels: &[String], quiet: bool, all: bool) -> i32 {
    let mut rc = 0;
    let mut deleted = 0;
    for level in levels {
        match b.del(name, level) {
            Ok(true) => {
                deleted += 1;
                if !quiet {
                    println!(" * service {name} deleted from runlevel {level}");
                }
            }
            Ok(false) if !all => {
                eerror("rc-update", &format!("service `{name}' is not in the runlevel `{level}'"));
                rc = 1;
            }
            Ok(false) => {}
            Err(e) => {
                eerror("rc-update", &e);
                rc = 1;
            }
        }
    }
    if all && deleted == 0 {
        eerror("rc-update", &format!("service `{name}' is not in any runlevel"));
        rc = 1;
    }
    rc
}

fn show(b: &Backend, levels: &[String], verbose: bool, json: bool) -> i32 {
    let map = b.show();
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let all = if verbose { b.services().unwrap_or_default() } else { map.keys().cloned().collect() };
    for svc in all {
        let mut in_levels = map.get(&svc).cloned().unwrap_or_default();
        if !levels.is_empty() {
            in_levels.retain(|l| levels.contains(l));
            if in_levels.is_empty() && !verbose {
                continue;
            }
        }
        rows.push((svc, in_levels));
    }
    if json {
        let obj: serde_json::Map<String, serde_json::Value> = rows.into_iter().map(|(s, l)| (s, serde_json::json!(l))).collect();
        print_json(&serde_json::Value::Object(obj));
        return 0;
    }
    for (svc, in_levels) in rows {
        println!("{svc:>20} | {}", in_levels.join(" "));
    }
    0
}
