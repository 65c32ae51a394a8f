//! `rc-status`: services of the current (or given) runlevel with their state.

use std::collections::BTreeSet;
use std::ffi::OsString;

use super::{eerror, print_json};
use crate::backend::{Backend, Status};
use crate::cli::{self, Opt};
use crate::ctx::Ctx;

const SPEC: &[Opt] = &[
    Opt::flag(Some('h'), "help"),
    Opt::flag(Some('V'), "version"),
    Opt::flag(Some('a'), "all"),
    Opt::flag(Some('s'), "servicelist"),
    Opt::flag(Some('l'), "list"),
    Opt::flag(Some('r'), "runlevel"),
    Opt::flag(Some('u'), "unused"),
    Opt::flag(Some('c'), "crashed"),
    Opt::flag(Some('q'), "quiet"),
    Opt::flag(None, "json"),
];

fn state_of(b: &Backend, svc: &str) -> Status {
    b.status(svc).unwrap_or_else(|e| Status {
        name: svc.to_string(),
        state: "unknown".into(),
        code: 1,
        holder_pid: None,
        since: 0,
        sandbox: String::new(),
        sandbox_degraded: None,
        restarts: 0,
        last_exit: Some(e),
        log_tail: Vec::new(),
    })
}

fn line(st: &Status) -> String {
    format!(" {:<50} [  {}  ]", st.name, st.state)
}

/// The runlevel the last boot reached (`default` when init has not run).
pub fn current_runlevel(ctx: &Ctx) -> String {
    std::fs::read_to_string(ctx.softlevel()).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| "default".into())
}

pub fn main(args: &[OsString]) -> i32 {
    let p = match cli::parse("rc-status", SPEC, args, false) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(" * {e}");
            return 1;
        }
    };
    if p.has("help") {
        print!("{}", crate::help::RC_STATUS);
        return 0;
    }
    if p.has("version") {
        println!("rc-status (kimigayo-init) {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let ctx = Ctx::from_env();
    let b = Backend::new(ctx.clone());
    let json = p.has("json");
    let current = current_runlevel(&ctx);
    if p.has("runlevel") {
        println!("{current}");
        return 0;
    }
    if p.has("list") {
        b.runlevels().iter().for_each(|l| println!("{l}"));
        return 0;
    }
    let all_services = match b.services() {
        Ok(s) => s,
        Err(e) => {
            eerror("rc-status", &e);
            return 1;
        }
    };
    if p.has("servicelist") || p.has("crashed") || p.has("unused") {
        let in_levels: BTreeSet<String> = b.show().into_keys().collect();
        let sts: Vec<Status> = all_services
            .iter()
            .filter(|s| !p.has("unused") || !in_levels.contains(*s))
            .map(|s| state_of(&b, s))
            .filter(|st| !p.has("crashed") || st.state == "crashed" || st.state == "failed")
            .collect();
        if json {
            print_json(&serde_json::json!({ "services": sts }));
        } else if p.has("crashed") {
            sts.iter().for_each(|s| println!("{}", s.name));
        } else {
            sts.iter().for_each(|s| println!("{}", line(s)));
        }
        return 0;
    }
    let levels: Vec<String> = if p.has("all") {
        b.runlevels()
    } else if !p.args.is_empty() {
        p.args.clone()
    } else {
        vec![current.clone()]
    };
    for l in &levels {
        if !b.runlevels().contains(l) {
            eerror("rc-status", &format!("runlevel `{l}' does not exist"));
            return 1;
        }
    }
    let mut shown = BTreeSet::new();
    let mut groups: Vec<(String, Vec<Status>)> = Vec::new();
    for l in &levels {
        let members = b.members(l);
        shown.extend(members.iter().cloned());
        groups.push((l.clone(), members.iter().map(|s| state_of(&b, s)).collect()));
    }
    // OpenRC's "Dynamic Runlevel: manual": started services that are in none of the shown runlevels.
    if p.args.is_empty() {
        let manual: Vec<Status> = all_services
            .iter()
            .filter(|s| !shown.contains(*s))
            .map(|s| state_of(&b, s))
            .filter(|st| st.state != "stopped" && st.state != "unknown")
            .collect();
        groups.push(("manual".into(), manual));
    }
    if json {
        let runlevels: serde_json::Map<String, serde_json::Value> =
            groups.into_iter().map(|(l, sts)| (l, serde_json::json!(sts))).collect();
        print_json(&serde_json::json!({ "runlevel": current, "runlevels": runlevels }));
        return 0;
    }
    for (l, sts) in groups {
        if l == "manual" {
            if sts.is_empty() {
                continue;
            }
            println!("Dynamic Runlevel: manual");
        } else {
            println!("Runlevel: {l}");
        }
        sts.iter().for_each(|s| println!("{}", line(s)));
    }
    0
}
