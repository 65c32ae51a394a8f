//! Distribution-style init scripts read through a real shell, the way OpenRC reads them.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use kimigayo_rc::{load_catalog, load_catalog_with, start_plan, LoadOptions, RcConf, RcRoot};

fn check_distro_catalog(shell: &Path) {
    let (_t, root) = distro_root();
    let cat = load_catalog(&root, shell).unwrap();
    assert!(cat.failures.is_empty(), "{:?}", cat.failures);
    assert_eq!(
        cat.services.keys().cloned().collect::<Vec<_>>(),
        strs(&["chronyd", "firewall", "fsck", "local", "localmount", "net.eth0", "net.lo", "networking", "nginx", "root", "sshd", "syslog"])
    );
    let sshd = &cat.services["sshd"];
    // depend() + conf.d's rc_need, and want from a yesno on a conf.d variable
    assert_eq!(sshd.need, strs(&["net", "localmount"]));
    assert_eq!(sshd.use_, strs(&["logger", "dns"]));
    assert_eq!(sshd.after, strs(&["firewall"]));
    assert_eq!(sshd.want, strs(&["entropy"]));
    assert_eq!(sshd.provide, strs(&["ssh-server"]));
    assert_eq!(sshd.keyword, strs(&["-shutdown"]));
    assert_eq!(sshd.description.as_deref(), Some("OpenBSD Secure Shell server"));
    assert_eq!(sshd.extra_commands, strs(&["checkconfig"]));
    assert_eq!(sshd.extra_started_commands, strs(&["reload"]));
    assert!(sshd.has_keyword("-shutdown"));

    let nginx = &cat.services["nginx"];
    assert_eq!(nginx.after, strs(&["firewall", "sshd"]));
    assert_eq!(nginx.extra_started_commands, strs(&["reload", "reopen", "upgrade"]));
    assert_eq!(cat.services["chronyd"].provide, strs(&["ntp-client", "ntp-server"]));
    assert_eq!(cat.services["chronyd"].keyword, strs(&["-shutdown", "-docker", "-lxc"]));
    assert_eq!(cat.services["networking"].provide, strs(&["net"]));
    assert_eq!(cat.services["local"].after, strs(&["*"]));
    // Garbage on stdout ("need bogus") is not a record.
    assert_eq!(cat.services["syslog"].need, strs(&["clock", "hostname", "localmount"]));
    assert_eq!(cat.services["syslog"].provide, strs(&["logger"]));
    // RC_SVCNAME is set per script: the multiplexed net.eth0 -> net.lo behaves differently.
    assert_eq!(cat.services["net.eth0"].provide, strs(&["net"]));
    assert_eq!(cat.services["net.eth0"].need, strs(&["net.lo"]));
    assert_eq!(cat.services["net.eth0"].description.as_deref(), Some("Network interface eth0"));
    assert_eq!(cat.services["net.eth0"].config, strs(&["/etc/conf.d/net"]));
    assert!(cat.services["net.lo"].provide.is_empty());

    // The catalog plans: net is ambiguous (networking, net.eth0) unless one is in the runlevel.
    let targets = strs(&["networking", "sshd", "nginx", "chronyd", "firewall", "syslog", "local"]);
    let e = start_plan(&cat, &targets, &BTreeSet::new()).unwrap_err();
    assert!(e.to_string().contains("'clock'"), "{e}"); // syslog needs clock, which this root lacks
    let mut cat = cat;
    for m in cat.services.values_mut() {
        m.need.retain(|n| !["clock", "hostname", "fsck", "root"].contains(&n.as_str()));
    }
    let p = start_plan(&cat, &targets, &BTreeSet::new()).unwrap();
    assert_eq!(
        p.waves,
        vec![
            strs(&["localmount"]),
            strs(&["syslog"]), // firewall uses logger
            strs(&["firewall"]),
            strs(&["networking"]),
            strs(&["chronyd", "sshd"]),
            strs(&["nginx"]),
            strs(&["local"])
        ]
    );
}

#[test]
fn distribution_scripts_load_through_bin_sh() {
    check_distro_catalog(Path::new("/bin/sh"));
}

#[test]
fn distribution_scripts_load_through_busybox_sh() {
    let Some(bb) = busybox() else {
        eprintln!("no busybox found (set KIMIGAYO_BUSYBOX): skipped");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let sh = t.path().join("sh");
    std::os::unix::fs::symlink(&bb, &sh).unwrap();
    check_distro_catalog(&sh);
}

#[test]
fn rc_conf_settings() {
    let (_t, root) = distro_root();
    let c = RcConf::load(&root).unwrap();
    assert!(c.parallel());
    assert!(!c.logger());
    assert_eq!(c.timeout_stopsec(), 10);
    assert_eq!(c.get("unicode"), Some("YES"));
}

#[test]
fn broken_scripts_are_reported_by_name_and_the_others_still_load() {
    let t = tempfile::tempdir().unwrap();
    let root = RcRoot::new(t.path());
    write_script(&root, "aaa", "depend() { need bbb; }\n");
    write_script(&root, "syntax", "depend() { need net\n if then fi }\n");
    write_script(&root, "exits", "echo 'cannot find config' >&2\nexit 3\n");
    write_script(&root, "exits0", "exit 0\n");
    write_script(&root, "fails_in_depend", "depend() { need x; echo 'depend blew up' >&2; exit 7; }\n");
    write_script(&root, "missing_cmd", "depend() { need y; no_such_command_here; }\n");
    write_script(&root, "zzz", "depend() { after aaa; }\n");
    let r = load_catalog_with(&root, &LoadOptions::new("/bin/sh")).unwrap();
    let cat = &r.catalog;
    assert_eq!(r.shell_runs, 1, "one shell for the whole batch");
    assert_eq!(cat.services.keys().cloned().collect::<Vec<_>>(), strs(&["aaa", "missing_cmd", "zzz"]));
    assert_eq!(cat.services["zzz"].after, strs(&["aaa"]));
    // A failing command inside depend() is not a broken script (OpenRC ignores depend's status).
    assert_eq!(cat.services["missing_cmd"].need, strs(&["y"]));
    assert_eq!(cat.failures.keys().cloned().collect::<Vec<_>>(), strs(&["exits", "exits0", "fails_in_depend", "syntax"]));
    let f = &cat.failures["exits"];
    assert!(f.reason.contains("status 3"), "{f}");
    assert!(f.stderr.contains("cannot find config"), "{f}");
    assert!(f.to_string().starts_with("/etc/init.d/exits:"), "{f}");
    assert!(cat.failures["fails_in_depend"].stderr.contains("depend blew up"));
    assert!(cat.failures["fails_in_depend"].reason.contains("status 7"));
    assert!(!cat.failures["syntax"].stderr.is_empty(), "the shell's syntax error is kept");
    // Planning names the broken script.
    let e = start_plan(cat, &strs(&["syntax"]), &BTreeSet::new()).unwrap_err().to_string();
    assert!(e.contains("'syntax'"), "{e}");
}

#[test]
fn a_hanging_depend_is_killed_after_the_timeout_and_reported() {
    let t = tempfile::tempdir().unwrap();
    let root = RcRoot::new(t.path());
    write_script(&root, "before", "depend() { need net; }\n");
    write_script(&root, "hangs", "depend() { sleep 300; need never; }\n");
    write_script(&root, "hangs_toplevel", "while :; do :; done\n");
    write_script(&root, "later", "depend() { use logger; }\n");
    let mut opts = LoadOptions::new("/bin/sh");
    opts.timeout = Duration::from_millis(700);
    let t0 = Instant::now();
    let r = load_catalog_with(&root, &opts).unwrap();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(r.catalog.services.keys().cloned().collect::<Vec<_>>(), strs(&["before", "later"]));
    assert_eq!(r.catalog.services["later"].use_, strs(&["logger"]));
    for name in ["hangs", "hangs_toplevel"] {
        let f = &r.catalog.failures[name];
        assert!(f.timed_out && f.reason.contains("timed out"), "{f}");
    }
    assert_eq!(r.shell_runs, 3, "the batch resumes after each killed script");
    // The `sleep` was killed with the shell's process group.
    let ps = std::process::Command::new("sh").args(["-c", "ps -eo args | grep -c '^sleep 300$' || true"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ps.stdout).trim(), "0");
    // Timeouts are not cached: the next load tries again.
    let r2 = load_catalog_with(&root, &opts).unwrap();
    assert_eq!(r2.extracted, strs(&["hangs", "hangs_toplevel"]));
}
