//! Services where namespaces cannot be created (an unprivileged container): the holder is run
//! without CAP_SYS_ADMIN — dropped from the bounding set before exec, so root's capabilities
//! after exec lack it and unshare(2) really fails with EPERM, as in a default `podman run`.
//! `sandbox_unavailable=degrade` (default) starts the service without namespaces but confined;
//! `fail` refuses. Stopping kills the service's process tree and nothing else.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use common::*;
use kimigayo_svc::State;

const CAP_SYS_ADMIN: libc::c_ulong = 21;

/// `openrc-run SCRIPT ACTION` without CAP_SYS_ADMIN.
fn openrc_unprivileged(root: &Root, name: &str, action: &str) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("openrc-run")
        .arg(root.env.script(name))
        .arg(action)
        .env("KIMIGAYO_STOP_TIMEOUT_MS", root.env.stop_timeout.as_millis().to_string());
    // SAFETY: prctl only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Run::from(cmd.output().unwrap())
}

fn ns(pid: &str, n: &str) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap()
}

/// A daemon with a pidfile whose child ignores SIGTERM (left over after the daemon is stopped),
/// and a custom stop that also matches by program (`--exec`), which must not reach a bystander
/// running the same program outside the service.
fn stubborn_daemon(root: &Root, marker: &str) -> String {
    let run = root.path().join("run");
    format!(
        r#"
description="daemon with a stubborn child"
command=/bin/sh
command_args="-c '(trap \"\" TERM; while :; do sleep 0.2; done) & while :; do sleep 0.2; done' {marker}"
command_background=yes
pidfile={run}/web.pid
stop() {{
    ebegin "Stopping ${{RC_SVCNAME}}"
    start-stop-daemon --stop --quiet --pidfile "${{pidfile}}"
    start-stop-daemon --stop --quiet --exec /bin/sh
    eend 0
}}
"#,
        run = run.display()
    )
}

#[test]
fn degraded_start_is_confined_reported_and_stops_only_its_own_processes() {
    let root = Root::new();
    let marker = "ksvc-unpriv-web";
    root.script("web", &stubborn_daemon(&root, marker));
    // Same program, not the service's: must survive the stop (by pid and by --exec matching).
    let mut bystander = Command::new("/bin/sh").arg("-c").arg("while :; do sleep 0.2; done").arg("ksvc-unpriv-bystander").spawn().unwrap();

    let r = openrc_unprivileged(&root, "web", "start");
    assert_eq!(r.code, 0, "{}", r.all());
    let warnings: Vec<&str> = r.stderr.lines().filter(|l| l.contains("WARNING")).collect();
    assert_eq!(warnings.len(), 1, "one warning per start: {}", r.all());
    let w = warnings[0];
    for part in ["web", "sandbox degraded", "EPERM", "--cap-add=SYS_ADMIN", "sandbox_unavailable=fail", "seccomp=default"] {
        assert!(w.contains(part), "warning lacks {part:?}: {w}");
    }

    wait_for("daemon and its child", Duration::from_secs(5), || pids_with(marker).len() == 2);
    let daemon: i32 = std::fs::read_to_string(root.path().join("run/web.pid")).unwrap().trim().parse().unwrap();
    // No namespaces of its own (the pidfile holds a pid of our namespace), but confined.
    for n in ["pid", "mnt", "ipc", "uts"] {
        assert_eq!(ns(&daemon.to_string(), n), ns("self", n), "{n}");
    }
    assert!(pids_with(marker).contains(&daemon));
    assert_eq!(proc_status_field(daemon, "Seccomp").as_deref(), Some("2"));
    assert_eq!(proc_status_field(daemon, "NoNewPrivs").as_deref(), Some("1"));

    let st = root.status("web");
    assert_eq!(st.state, State::Started);
    assert!(st.sandbox.starts_with("namespaces=none (unavailable: EPERM) no_new_privs=yes seccomp=default"), "{}", st.sandbox);
    let why = st.sandbox_degraded.clone().expect("degradation recorded");
    assert!(why.starts_with("EPERM:") && why.contains("--cap-add=SYS_ADMIN"), "{why}");
    assert_eq!(st.to_json()["sandbox_degraded"], why.as_str());
    let log = root.log();
    assert_eq!(log.matches("service=web event=sandbox-degraded").count(), 1, "{log}");

    // Status and stop work without joining namespaces.
    let r = openrc_unprivileged(&root, "web", "status");
    assert_eq!(r.code, 0, "{}", r.all());
    let r = openrc_unprivileged(&root, "web", "stop");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(pids_with(marker).is_empty(), "left over: {:?}", pids_with(marker));
    assert_eq!(root.status("web").state, State::Stopped);
    assert!(bystander.try_wait().unwrap().is_none(), "the bystander was killed by the stop");
    let _ = bystander.kill();
    let _ = bystander.wait();

    // A second start warns again (one warning per start).
    let r = openrc_unprivileged(&root, "web", "start");
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.stderr.matches("sandbox degraded").count(), 1, "{}", r.all());
    assert_eq!(openrc_unprivileged(&root, "web", "stop").code, 0);
    assert!(pids_with(marker).is_empty());
    assert_eq!(root.log().matches("service=web event=sandbox-degraded").count(), 2);
}

#[test]
fn a_service_without_a_daemon_stays_started_in_degraded_mode() {
    let root = Root::new();
    root.script("localfs", "start() { ebegin \"Mounting local filesystems\"; eend 0; }");
    let r = openrc_unprivileged(&root, "localfs", "start");
    assert_eq!(r.code, 0, "{}", r.all());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(root.status("localfs").state, State::Started);
    let r = openrc_unprivileged(&root, "localfs", "stop");
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(root.status("localfs").state, State::Stopped);
}

#[test]
fn sandbox_unavailable_fail_refuses_to_start() {
    let root = Root::new();
    let marker = "ksvc-unpriv-strict";
    root.script("strict", &format!("command=/bin/sh\ncommand_args=\"-c 'sleep 30' {marker}\"\ncommand_background=yes\npidfile={}/run/strict.pid\n", root.path().display()));
    root.conf("strict", "sandbox_unavailable=fail\n");
    let r = openrc_unprivileged(&root, "strict", "start");
    assert_ne!(r.code, 0, "{}", r.all());
    for part in ["strict", "EPERM", "sandbox_unavailable=fail", "--cap-add=SYS_ADMIN"] {
        assert!(r.stderr.contains(part), "error lacks {part:?}: {}", r.all());
    }
    assert_eq!(root.status("strict").state, State::Failed);
    assert!(pids_with(marker).is_empty());
    assert!(root.log().contains("service=strict event=sandbox-failed"), "{}", root.log());
}

#[test]
fn a_bad_sandbox_unavailable_value_is_named() {
    let root = Root::new();
    root.script("odd", "start() { :; }");
    root.conf("odd", "sandbox_unavailable=sometimes\n");
    let r = root.openrc("odd", "start");
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("sandbox_unavailable=\"sometimes\"") && r.stderr.contains("odd") && r.stderr.contains("degrade"), "{}", r.all());
}

#[test]
fn privileged_start_does_not_degrade() {
    let root = Root::new();
    root.script("full", "start() { :; }");
    let r = root.openrc("full", "start");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.all().contains("degraded"), "{}", r.all());
    let st = root.status("full");
    assert!(st.sandbox.starts_with("namespaces=mount,pid,ipc,uts"), "{}", st.sandbox);
    assert_eq!(st.sandbox_degraded, None);
}

#[test]
fn supervised_daemon_respawns_and_stops_in_degraded_mode() {
    let root = Root::new();
    let marker = "ksvc-unpriv-sup";
    root.script(
        "sup",
        &format!("supervisor=supervise-daemon\ncommand=/bin/sh\ncommand_args=\"-c 'while :; do sleep 0.2; done' {marker}\"\nrespawn_delay=20ms\n"),
    );
    let r = openrc_unprivileged(&root, "sup", "start");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("sup: sandbox degraded"), "{}", r.all());
    wait_for("daemon", Duration::from_secs(5), || pids_with(marker).len() == 1);
    let first = pids_with(marker)[0];
    assert_eq!(ns(&first.to_string(), "pid"), ns("self", "pid"));
    assert_eq!(proc_status_field(first, "Seccomp").as_deref(), Some("2"));
    unsafe { libc::kill(first, libc::SIGKILL) };
    wait_for("respawn", Duration::from_secs(5), || pids_with(marker).iter().any(|p| *p != first));
    assert_eq!(root.status("sup").state, State::Started);
    let r = openrc_unprivileged(&root, "sup", "stop");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(pids_with(marker).is_empty(), "{:?}", pids_with(marker));
    assert_eq!(root.status("sup").state, State::Stopped);
}
