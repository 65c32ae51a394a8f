//! What goes wrong is reported by name (profile file and JSON path, service and key, holder pid),
//! and joining a running holder's namespaces puts a new process next to it.

mod common;

use std::process::{Child, Command};
use std::time::Duration;

use common::*;
use kimigayo_sandbox::{
    join_namespaces, probe, spawn_confined, SandboxError, SandboxSpec, SeccompChoice,
};

#[test]
fn malformed_profile_fails_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO", "errnoRet": "one"}]}"#).unwrap();
    let mut spec = SandboxSpec::default_for("web");
    spec.seccomp = SeccompChoice::Profile(path.clone());
    let e = spawn_confined(&spec, &[SELFTEST]).unwrap_err().to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(e.contains("$.syscalls[0].errnoRet"), "{e}");
    assert!(e.contains("fix:"), "{e}");

    spec.seccomp = SeccompChoice::Profile(dir.path().join("missing.json"));
    let e = spawn_confined(&spec, &[SELFTEST]).unwrap_err().to_string();
    assert!(e.contains("missing.json: cannot read it"), "{e}");
}

#[test]
fn unknown_setting_values_are_refused_with_the_accepted_ones() {
    let get = |k: &str| match k {
        "sandbox_namespaces" => Some("mount pid time".to_string()),
        _ => None,
    };
    let e = SandboxSpec::from_vars("nginx", &get)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "service nginx: sandbox_namespaces=\"mount pid time\" is not valid: unknown namespace \"time\"; accepted values: \
         a space-separated subset of \"mount pid ipc uts net user\" (pid needs mount; user: inside a user namespace), or \"none\""
    );
}

#[test]
fn failing_sandbox_step_in_the_child_is_named() {
    let spec = SandboxSpec::default_for("web");
    let e = spawn_confined(&spec, &["/nonexistent/program"]).unwrap_err();
    assert!(
        matches!(
            e,
            SandboxError::Syscall {
                step: "execv",
                errno: libc::ENOENT,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn joining_a_dead_holder_names_the_pid() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id() as i32;
    child.wait().unwrap();
    let e = join_namespaces(pid, &SandboxSpec::default_for("web")).unwrap_err();
    assert!(
        matches!(e, SandboxError::HolderGone { pid: p, ns: "ipc", .. } if p == pid),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("holder pid {pid}")) && msg.contains("start the service again"),
        "{msg}"
    );
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_child_of(pid: u32) -> i32 {
    for _ in 0..200 {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            if let Some(c) = s.split_whitespace().next() {
                return c.parse().unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("unshare --fork made no child");
}

#[test]
fn joining_a_live_holder_enters_its_namespaces() {
    // A holder like the service manager's: PID 1 of new mount/pid/uts/ipc namespaces with its own /proc.
    let holder = Kill(
        Command::new("unshare")
            .args([
                "--mount",
                "--pid",
                "--fork",
                "--mount-proc",
                "--uts",
                "--ipc",
                "sh",
                "-c",
                "hostname held-svc; exec sleep 30",
            ])
            .spawn()
            .unwrap(),
    );
    let inner = wait_for_child_of(holder.0.id());
    std::thread::sleep(Duration::from_millis(100)); // let it set the host name
    let want = probe(inner).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("join.json");
    let st = Command::new(SELFTEST)
        .args([
            "--join",
            &inner.to_string(),
            "--namespaces",
            "mount pid ipc uts",
            "--out",
            out.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let got: Selftest = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for ns in ["mnt", "pid", "ipc", "uts"] {
        assert_eq!(got.report.namespaces[ns], want.namespaces[ns], "{ns}");
    }
    assert_eq!(
        got.report.namespaces["net"],
        probe(std::process::id() as i32).unwrap().namespaces["net"]
    );
    assert_eq!(got.hostname, "held-svc");
    assert!(
        got.pid > 1,
        "the holder is PID 1; a joined process gets another pid (got {})",
        got.pid
    );
}
