//! PID 1 in container mode, as the real binary in fresh PID/mount namespaces: exit codes like
//! tini, zombies reaped, signals forwarded, poweroff, mounts unmounted at shutdown.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn main_exit_code_becomes_init_exit_code() {
    let r = Root::new();
    let o = run_init(r.path(), &[], Some("exit 7"));
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let o = run_init(r.path(), &[], Some("kill -KILL $$"));
    assert_eq!(o.status.code(), Some(137), "{}", text(&o));
    let o = run_init(r.path(), &[], Some("true"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn missing_main_command_exits_127() {
    let r = Root::new();
    let o = std::process::Command::new("unshare")
        .args(["--fork", "--pid", "--mount-proc", "--mount"])
        .arg(bin())
        .args(["--container", "--", "/nonexistent/app"])
        .env("KIMIGAYO_ROOT", r.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127), "{}", text(&o));
    assert!(text(&o).contains("cannot run /nonexistent/app"), "{}", text(&o));
}

#[test]
fn zombie_storm_leaves_no_zombies() {
    let r = Root::new();
    // 500 orphans (their parent subshell exits at once) that exit shortly after: init must reap
    // them all; the main command then counts Z states in the namespace's /proc.
    let main = "i=0; while [ $i -lt 500 ]; do (sleep 0.05 &); i=$((i+1)); done; sleep 1; \
                z=0; for s in /proc/[0-9]*/stat; do st=$(sed 's/.*) //' $s 2>/dev/null | cut -d' ' -f1); [ \"$st\" = Z ] && z=$((z+1)); done; \
                echo zombies=$z";
    let o = run_init(r.path(), &[], Some(main));
    let t = text(&o);
    assert!(t.contains("zombies=0"), "{t}");
    assert_eq!(o.status.code(), Some(0), "{t}");
}

#[test]
fn sigterm_is_forwarded_to_the_main_command() {
    let r = Root::new();
    let ready = r.path().join("ready");
    let main = format!("trap 'echo main-got-TERM; exit 3' TERM; touch {}; while :; do sleep 0.05; done", ready.display());
    let child = init_cmd(r.path(), &[], Some(&main)).spawn().unwrap();
    let pid = init_pid(&child).expect("init pid");
    assert!(wait_for(&ready, Duration::from_secs(10)), "main never became ready");
    kill(pid, libc::SIGTERM);
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert!(t.contains("main-got-TERM"), "{t}");
    assert_eq!(o.status.code(), Some(3), "{t}");
}

#[test]
fn without_a_command_sigterm_shuts_down_with_status_0() {
    let r = Root::new();
    let child = init_cmd(r.path(), &[], None).spawn().unwrap();
    let pid = init_pid(&child).expect("init pid");
    assert!(wait_for(&r.path().join("run/kimigayo/softlevel"), Duration::from_secs(10)));
    kill(pid, libc::SIGTERM);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Shutting down (poweroff requested)"), "{}", text(&o));
}

#[test]
fn poweroff_command_stops_a_main_that_ignores_sigterm_within_the_grace() {
    let r = Root::new();
    r.file("etc/rc.conf", "rc_timeout_killsec=0.5\n");
    let main = format!("trap '' TERM; {} poweroff; while :; do sleep 0.05; done", bin().display());
    let start = Instant::now();
    let o = run_init(r.path(), &[], Some(&main));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("ignored SIGTERM"), "{t}");
    assert!(start.elapsed() < Duration::from_secs(6), "took {:?}", start.elapsed());
}

#[test]
fn a_tmpfs_mounted_in_the_namespace_is_unmounted_at_shutdown() {
    let r = Root::new();
    let m = r.path().join("mnt/scratch");
    std::fs::create_dir_all(&m).unwrap();
    let main = format!("mount -t tmpfs kimigayo-test-tmpfs {0} && echo data > {0}/f && exit 0", m.display());
    let o = run_init(r.path(), &[], Some(&main));
    let t = text(&o);
    assert!(t.contains(&format!("Unmounted {}", m.display())), "{t}");
    assert!(!m.join("f").exists(), "the tmpfs should never have been visible outside");
}

#[test]
fn orphans_that_ignore_sigterm_are_killed_at_shutdown() {
    let r = Root::new();
    r.file("etc/rc.conf", "rc_timeout_killsec=0.3\n");
    let main = "for i in 1 2 3; do (trap '' TERM; exec sleep 1000) & done; sleep 0.2; exit 5";
    let start = Instant::now();
    let o = run_init(r.path(), &[], Some(main));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(5), "{t}");
    assert!(t.contains("Sending SIGKILL to 3 remaining process(es)"), "{t}");
    assert!(t.contains("0 remaining"), "{t}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn as_a_plain_process_it_is_a_subreaper_and_leaves_host_mounts_alone() {
    let r = Root::new();
    let out = r.path().join("ppid");
    // The grandchild is orphaned; it must be re-parented to init (the subreaper), not host PID 1.
    let main = format!("(trap '' TERM; exec sh -c 'sleep 0.3; cut -d\\  -f4 /proc/$$/stat > {}') & exit 0", out.display());
    let child = std::process::Command::new(bin())
        .args(["--", "/bin/sh", "-c", &main])
        .env("KIMIGAYO_ROOT", r.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let init = child.id();
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("not unmounting filesystems: not PID 1"), "{t}");
    assert!(t.contains("container mode"), "{t}");
    // init waited (SIGTERM is ignored; the grace is 3 s) for the orphan, which saw init as its parent.
    let ppid = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(ppid.trim(), init.to_string(), "the orphan was not re-parented to init");
}

#[test]
fn help_reads_like_a_man_page() {
    for applet in ["init", "rc-service", "rc-update", "rc-status", "poweroff"] {
        let o = std::process::Command::new(bin()).args([applet, "--help"]).output().unwrap();
        let t = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success());
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION"] {
            assert!(t.contains(section), "{applet} --help lacks {section}");
        }
    }
}

/// The main command and service actions start with no signal blocked (PID 1 blocks the ones it
/// handles; a main command inheriting that mask ignored `podman stop`'s SIGTERM until the kill
/// grace).
#[test]
fn main_command_and_actions_start_with_an_empty_signal_mask() {
    let root = Root::new();
    let f = root.path().join("masked.sigblk");
    root.service("masked", &format!("start() {{ echo \"action $(grep SigBlk /proc/$$/status)\" > {}; }}", f.display()));
    root.enable("masked", "default");
    let out = run_init(root.path(), &[], Some(&format!("echo \"main $(grep SigBlk /proc/$$/status)\"; cat {}", f.display())));
    let t = text(&out);
    assert!(t.contains("main SigBlk:\t0000000000000000\n"), "{t}");
    assert!(t.contains("action SigBlk:\t0000000000000000\n"), "{t}");
}
