//! `kimigayo recipes | head -n1`: the CLI ends quietly when its reader goes away (SIGPIPE, like
//! a Unix tool), never with a "failed printing to stdout" panic.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

#[test]
fn printing_commands_end_quietly_when_stdout_is_closed() {
    let project = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    for args in [&["recipes"][..], &["--help"], &["recipes", "--json"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kimigayo"))
            .arg("--project")
            .arg(project)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "kimigayo {args:?}: {err}");
        assert!(o.status.success() || o.status.signal() == Some(libc::SIGPIPE), "kimigayo {args:?}: {:?} {err}", o.status);
    }
}
