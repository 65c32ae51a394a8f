//! Test helper: a small multi-call binary (argv[0] basename, else the first argument names the
//! applet) so tests reach the applets the way the real `kimigayo-init` binary exposes them.

use std::ffi::OsString;
use std::path::Path;

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let base = args.first().and_then(|a| Path::new(a).file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let code = match kimigayo_svc::dispatch(&base, &args[1..]) {
        Some(c) => c,
        None => match args.get(1).map(|a| a.to_string_lossy().into_owned()) {
            Some(applet) => kimigayo_svc::dispatch(&applet, &args[2..]).unwrap_or_else(|| {
                eprintln!("kimigayo-svc-test: unknown applet `{applet}' (start-stop-daemon, supervise-daemon, checkpath, openrc-run, holder)");
                2
            }),
            None => {
                eprintln!("usage: kimigayo-svc-test APPLET ARGS...");
                2
            }
        },
    };
    std::process::exit(code);
}
