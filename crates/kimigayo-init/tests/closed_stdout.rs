//! `rc-status | head -n1` and friends: a printing command whose reader went away ends quietly
//! (SIGPIPE, like a Unix tool), never with a "failed printing to stdout" panic.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use common::*;

#[test]
fn printing_commands_end_quietly_when_stdout_is_closed() {
    let r = Root::new();
    for i in 0..300 {
        let name = format!("svc{i:03}");
        r.service(&name, "description=\"a service with a long enough description to fill the pipe quickly\"\nstart() { return 0; }");
        r.enable(&name, "default");
    }
    for (applet, args) in [
        ("rc-status", &["--all"][..]),
        ("rc-status", &["--json"]),
        ("rc-update", &["show"]),
        ("rc-service", &["--list"]),
        ("rc-service", &["--help"]),
    ] {
        let mut child = Command::new(bin())
            .arg(applet)
            .args(args)
            .env("KIMIGAYO_ROOT", r.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{applet} {args:?}: {err}");
        assert!(o.status.success() || o.status.signal() == Some(libc::SIGPIPE), "{applet} {args:?}: {:?} {err}", o.status);
    }
}
