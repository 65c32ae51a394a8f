//! kimigayo-sandbox-selftest — report the sandbox this process is in, as JSON.
//!
//! Usage: kimigayo-sandbox-selftest [--out FILE] [--join PID --namespaces "uts ipc ..."] [--try SYSCALL]...
//!
//! Prints (or writes to FILE) {"pid", "hostname", "report", "tries", "allowed"}: `report` is
//! kimigayo_sandbox::probe of itself, `tries` maps each --try syscall (see
//! kimigayo_sandbox::selftest::PROBES) to the errno it got (0 = it succeeded), `allowed` does the
//! same for getppid and uname, which every sandbox must allow. With --join it first enters the
//! namespaces of PID and forks, so the report comes from a process inside them.

use std::collections::BTreeMap;

use kimigayo_sandbox::{selftest, SandboxSpec};

fn main() {
    let mut out = None;
    let mut tries = Vec::new();
    let mut join: Option<i32> = None;
    let mut namespaces = String::from("mount pid ipc uts");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--out" => out = Some(val()),
            "--try" => tries.push(val()),
            "--join" => {
                join = Some(
                    val()
                        .parse()
                        .unwrap_or_else(|_| usage("--join needs a pid")),
                )
            }
            "--namespaces" => namespaces = val(),
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if let Some(pid) = join {
        let spec = SandboxSpec::from_vars("selftest", &|k| {
            (k == "sandbox_namespaces").then(|| namespaces.clone())
        })
        .unwrap_or_else(|e| usage(&e.to_string()));
        if let Err(e) = kimigayo_sandbox::join_namespaces(pid, &spec) {
            eprintln!("kimigayo-sandbox-selftest: {e}");
            std::process::exit(3);
        }
        // SAFETY: single-threaded program.
        match unsafe { libc::fork() } {
            0 => {}
            -1 => std::process::exit(4),
            child => {
                let mut st = 0;
                // SAFETY: valid status pointer.
                unsafe { libc::waitpid(child, &mut st, 0) };
                std::process::exit(if libc::WIFEXITED(st) {
                    libc::WEXITSTATUS(st)
                } else {
                    5
                });
            }
        }
    }
    // Report first: a probe call (unshare) may change what the report would show.
    let hostname = nix_hostname();
    // SAFETY: plain syscall.
    let pid = unsafe { libc::getpid() };
    let report = match kimigayo_sandbox::probe(pid) {
        Ok(r) => r.to_json(),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    let mut tried = BTreeMap::new();
    for t in &tries {
        match selftest::try_syscall(t) {
            Some(e) => tried.insert(t.clone(), e),
            None => usage(&format!("--try {t}: not one of the probe syscalls")),
        };
    }
    let mut allowed = BTreeMap::new();
    // SAFETY: plain syscalls with valid buffers.
    unsafe {
        allowed.insert("getppid", if libc::getppid() >= 0 { 0 } else { 1 });
        let mut u: libc::utsname = std::mem::zeroed();
        allowed.insert(
            "uname",
            if libc::uname(&mut u) == 0 {
                0
            } else {
                *libc::__errno_location()
            },
        );
    }
    let json = serde_json::json!({ "pid": pid, "hostname": hostname, "report": report, "tries": tried, "allowed": allowed });
    let text = format!("{json}\n");
    match out {
        Some(f) => std::fs::write(&f, text).unwrap_or_else(|e| {
            eprintln!("kimigayo-sandbox-selftest: cannot write {f}: {e}");
            std::process::exit(2)
        }),
        None => print!("{text}"),
    }
}

fn nix_hostname() -> String {
    // SAFETY: zeroed utsname is valid; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe { libc::uname(&mut u) };
    // SAFETY: nodename is NUL-terminated by the kernel.
    unsafe { std::ffi::CStr::from_ptr(u.nodename.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("kimigayo-sandbox-selftest: {msg}");
    }
    eprintln!("usage: kimigayo-sandbox-selftest [--out FILE] [--join PID --namespaces \"uts ipc ...\"] [--try SYSCALL]...");
    std::process::exit(if msg.is_empty() { 0 } else { 2 })
}
