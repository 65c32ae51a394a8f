//! Init scripts written like real distribution scripts run unchanged: a daemon with a pidfile,
//! custom start()/stop() with ebegin/eend, extra_commands, checkpath, a failing start_pre; and
//! status exit codes like OpenRC's (0 started, 3 stopped, 32 crashed).

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use common::*;
use kimigayo_svc::{Action, State};

fn daemon_script(root: &Root, name: &str, marker: &str) -> String {
    let run = root.path().join("run");
    format!(
        r#"
description="A daemon with a pidfile"
command=/bin/sh
command_args="-c 'trap \"echo reloaded >> {run}/{name}.reloads\" HUP; echo {marker} up; while :; do sleep 0.2; done' {marker}"
command_background=yes
pidfile={run}/{name}.pid
extra_started_commands="reload"
description_reload="Reload the configuration"

depend() {{
    need net
    use logger
}}

reload() {{
    ebegin "Reloading ${{RC_SVCNAME}}"
    start-stop-daemon --signal HUP --pidfile "${{pidfile}}" --stop --quiet
    eend $?
}}
"#,
        run = run.display()
    )
}

#[test]
fn daemon_with_pidfile_start_status_reload_stop() {
    let root = Root::new();
    let marker = "ksvc-marker-daemon1";
    root.script("web", &daemon_script(&root, "web", marker));

    let r = root.openrc("web", "start");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains(" * Starting web ...\n"), "{}", r.all());
    assert!(r.stdout.contains(" [ ok ]"), "{}", r.all());
    let pidfile = root.path().join("run/web.pid");
    assert!(pidfile.exists());

    wait_for("daemon", Duration::from_secs(5), || pids_with(marker).len() == 1);
    let daemon = pids_with(marker)[0];
    // Own namespaces, under seccomp with no_new_privs.
    let ns = |pid: &str, n: &str| std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
    for n in ["pid", "mnt", "ipc", "uts"] {
        assert_ne!(ns(&daemon.to_string(), n), ns("self", n), "{n} namespace shared with the host");
    }
    assert_eq!(proc_status_field(daemon, "Seccomp").as_deref(), Some("2"));
    assert_eq!(proc_status_field(daemon, "NoNewPrivs").as_deref(), Some("1"));

    let st = root.status("web");
    assert_eq!(st.state, State::Started);
    assert!(st.holder_pid.is_some());
    assert!(st.sandbox.contains("pid"), "{}", st.sandbox);
    let r = root.openrc("web", "status");
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("status: started"), "{}", r.all());

    // Second start: a warning, success, nothing new started.
    let r = root.openrc("web", "start");
    assert_eq!(r.code, 0);
    assert!(r.all().contains("already been started"), "{}", r.all());
    assert_eq!(pids_with(marker), vec![daemon]);

    let r = root.openrc("web", "reload");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains(" * Reloading web ..."), "{}", r.all());
    wait_for("reload trap", Duration::from_secs(3), || root.path().join("run/web.reloads").exists());
    assert_eq!(pids_with(marker), vec![daemon], "reload must not restart the daemon");
    assert!(pidfile.exists(), "start-stop-daemon --signal HUP removed the pidfile of a running daemon");

    let r = root.openrc("web", "stop");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains(" * Stopping web ..."), "{}", r.all());
    assert!(pids_with(marker).is_empty());
    assert!(!pidfile.exists(), "start-stop-daemon --stop removes the pidfile");
    let r = root.openrc("web", "status");
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(r.stdout.contains("status: stopped"));
    // An extra_started_command of a stopped service is refused.
    let r = root.openrc("web", "reload");
    assert_eq!(r.code, 1);
    assert!(r.all().contains("has not been started"), "{}", r.all());
    // Stopping again is a warning, not an error.
    let r = root.openrc("web", "stop");
    assert_eq!(r.code, 0);
    assert!(r.all().contains("already stopped"));
}

#[test]
fn custom_start_stop_and_stop_kills_what_is_left() {
    let root = Root::new();
    let run = root.path().join("run");
    root.script(
        "custom",
        &format!(
            r#"
start() {{
    ebegin "Starting custom thing"
    sleep 301 </dev/null >/dev/null 2>&1 &
    sleep 302 </dev/null >/dev/null 2>&1 &
    echo $! > {run}/custom.pid
    eend $? "could not start"
}}
stop() {{
    ebegin "Stopping custom thing"
    kill $(cat {run}/custom.pid)
    eend $?
}}
"#,
            run = run.display()
        ),
    );
    let r = root.openrc("custom", "start");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains(" * Starting custom thing ...\n [ ok ]\n"), "{}", r.all());
    wait_for("both sleeps", Duration::from_secs(3), || pids_with("sleep 301").len() == 1 && pids_with("sleep 302").len() == 1);
    let r = root.openrc("custom", "stop");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains(" * Stopping custom thing ...\n [ ok ]\n"), "{}", r.all());
    // stop() only killed one of them; the rest got SIGTERM from the service manager.
    assert!(pids_with("sleep 301").is_empty(), "left-over process survived stop");
    assert!(pids_with("sleep 302").is_empty());
    assert_eq!(root.status("custom").state, State::Stopped);
    assert_eq!(root.openrc("custom", "status").code, 3);
}

#[test]
fn checkpath_in_start_pre_and_symlinks_refused() {
    let root = Root::new();
    let dir = root.path().join("run/checked");
    let file = root.path().join("run/checked/app.log");
    root.script(
        "cp",
        &format!(
            r#"
start_pre() {{
    checkpath -d -m 0750 -o nobody "{dir}"
    checkpath -f -m 0640 -o nobody:nogroup "{file}"
}}
start() {{
    ebegin "Starting cp"
    eend 0
}}
"#,
            dir = dir.display(),
            file = file.display()
        ),
    );
    let r = root.openrc("cp", "start");
    assert_eq!(r.code, 0, "{}", r.all());
    let nobody = unsafe { libc::getpwnam(c"nobody".as_ptr()) };
    let nobody_uid = unsafe { (*nobody).pw_uid };
    let m = std::fs::metadata(&dir).unwrap();
    assert!(m.is_dir());
    assert_eq!(m.permissions().mode() & 0o7777, 0o750);
    assert_eq!(m.uid(), nobody_uid);
    let m = std::fs::metadata(&file).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o640);
    assert_eq!(m.uid(), nobody_uid);
    // A service without a daemon stays started until stopped.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(root.status("cp").state, State::Started);
    assert_eq!(root.openrc("cp", "stop").code, 0);
    assert_eq!(root.status("cp").state, State::Stopped);

    // checkpath never follows a symbolic link (chown through a planted link).
    let target = root.path().join("var/precious");
    std::fs::write(&target, "x").unwrap();
    let link = root.path().join("run/link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = std::process::Command::new(BIN).args(["checkpath", "-f", "-m", "0666", "-o", "nobody"]).arg(&link).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"), "{:?}", out);
    let m = std::fs::metadata(&target).unwrap();
    assert_eq!(m.uid(), 0);
    assert_ne!(m.permissions().mode() & 0o777, 0o666);
    // -W: writable test.
    let w = std::process::Command::new(BIN).args(["checkpath", "-W"]).arg(root.path()).status().unwrap();
    assert!(w.success());
}

#[test]
fn failing_start_pre_fails_the_start_with_its_message() {
    let root = Root::new();
    root.script(
        "bad",
        r#"
command=/bin/sh
command_args="-c 'sleep 100'"
start_pre() {
    eerror "configuration file /etc/bad.conf is broken"
    return 3
}
"#,
    );
    let r = root.openrc("bad", "start");
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("configuration file /etc/bad.conf is broken"), "{}", r.all());
    assert!(r.all().contains("ERROR: bad failed to start"), "{}", r.all());
    let st = root.status("bad");
    assert_eq!(st.state, State::Failed);
    assert_eq!(st.last_exit.as_deref(), Some("exit 3"));
    assert!(st.log_tail.iter().any(|l| l.contains("is broken")), "{:?}", st.log_tail);
    let log = root.log();
    assert!(log.contains("service=bad event=start-failed status=3 next=failed"), "{log}");
    assert!(log.contains("  | ") && log.contains("is broken"), "{log}");
    // A start that failed is "stopped" to `status`, as in OpenRC (32 is for a crash).
    let r = root.openrc("bad", "status");
    assert_eq!(r.code, 3, "{}", r.all());
    // The JSON form carries the same facts.
    let j = st.to_json();
    assert_eq!(j["state"], "failed");
    assert_eq!(j["last_exit"], "exit 3");
    assert_eq!(j["restarts"], 0);
}

#[test]
fn unknown_command_lists_the_valid_ones() {
    let root = Root::new();
    root.script("x", "extra_commands=\"checkconfig\"\ncheckconfig() { einfo \"config ok\"; }\n");
    let r = root.openrc("x", "frobnicate");
    assert_eq!(r.code, 1);
    assert!(r.all().contains("unknown command `frobnicate'"), "{}", r.all());
    assert!(r.all().contains("start stop restart status zap describe checkconfig"), "{}", r.all());
    // An extra command of a stopped service runs (in a throw-away sandbox).
    let r = root.openrc("x", "checkconfig");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains(" * config ok"), "{}", r.all());
}

#[test]
fn a_killed_daemon_is_crashed_and_logged() {
    let root = Root::new();
    let marker = "ksvc-marker-crash1";
    root.script("victim", &daemon_script(&root, "victim", marker));
    let out = kimigayo_svc::run_action(&root.env, "victim", &Action::Start).unwrap();
    assert_eq!(out.code, 0);
    assert_eq!(out.status.state, State::Started);
    wait_for("daemon", Duration::from_secs(5), || pids_with(marker).len() == 1);
    unsafe { libc::kill(pids_with(marker)[0], libc::SIGKILL) };
    wait_for("crash", Duration::from_secs(5), || root.status("victim").state == State::Crashed);
    let st = root.status("victim");
    assert_eq!(st.last_exit.as_deref(), Some("signal SIGKILL"));
    assert!(root.log().contains("service=victim event=crashed signal=SIGKILL next=crashed"), "{}", root.log());
    let r = root.openrc("victim", "status");
    assert_eq!(r.code, 32, "{}", r.all());
    assert!(r.all().contains("status: crashed"));
    // A crashed service can be started again.
    let r = root.openrc("victim", "start");
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(root.openrc("victim", "stop").code, 0);
}

#[test]
fn supervise_daemon_respawns_then_gives_up() {
    let root = Root::new();
    let marker = "ksvc-marker-sup1";
    root.script(
        "sup",
        &format!(
            r#"
supervisor=supervise-daemon
command=/bin/sh
command_args="-c 'echo {marker} started; sleep 0.1; exit 4' {marker}"
respawn_delay=20ms
respawn_max=2
respawn_period=60
"#
        ),
    );
    let r = root.openrc("sup", "start");
    assert_eq!(r.code, 0, "{}", r.all());
    wait_for("give up", Duration::from_secs(10), || root.status("sup").state == State::Failed);
    let st = root.status("sup");
    assert_eq!(st.restarts, 2);
    let log = root.log();
    assert_eq!(log.matches("service=sup event=crashed status=4").count(), 3, "{log}");
    assert!(log.contains("service=sup event=gave-up"), "{log}");
}

#[test]
fn supervised_daemon_stops_cleanly() {
    let root = Root::new();
    let marker = "ksvc-marker-sup2";
    root.script(
        "sup2",
        &format!("supervisor=supervise-daemon\ncommand=/bin/sh\ncommand_args=\"-c 'while :; do sleep 0.2; done' {marker}\"\n"),
    );
    assert_eq!(root.openrc("sup2", "start").code, 0);
    wait_for("daemon", Duration::from_secs(5), || pids_with(marker).len() == 1);
    let first = pids_with(marker)[0];
    unsafe { libc::kill(first, libc::SIGKILL) };
    wait_for("respawn", Duration::from_secs(5), || pids_with(marker).iter().any(|p| *p != first));
    assert_eq!(root.status("sup2").state, State::Started);
    assert_eq!(root.status("sup2").restarts, 1);
    let r = root.openrc("sup2", "stop");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(pids_with(marker).is_empty());
    assert_eq!(root.status("sup2").state, State::Stopped);
}

#[test]
fn configuration_is_cached_until_a_file_it_came_from_changes() {
    let root = Root::new();
    let out = root.path().join("run/said");
    root.script("cfg", &format!("extra_commands=\"${{CMDS:-one}}\"\none() {{ echo one >> {o}; }}\ntwo() {{ echo two >> {o}; }}\n", o = out.display()));
    let r = root.openrc("cfg", "one");
    assert_eq!(r.code, 0, "{}", r.all());
    let cache = root.path().join("run/kimigayo/svc/cfg/conf.cache");
    let cached = std::fs::read_to_string(&cache).unwrap_or_else(|e| panic!("{}: {e}", cache.display()));
    assert!(cached.starts_with("kimigayo-conf 1 "), "{cached}");
    // `two` is not a command yet, and the cached configuration says so.
    assert_ne!(root.openrc("cfg", "two").code, 0);
    // conf.d changes what the script computes: the next action reads it afresh.
    std::fs::create_dir_all(root.path().join("etc/conf.d")).unwrap();
    std::fs::write(root.path().join("etc/conf.d/cfg"), "CMDS=\"one two\"\n").unwrap();
    let r = root.openrc("cfg", "two");
    assert_eq!(r.code, 0, "conf.d was not read again after it changed: {}", r.all());
    // So does an edit of the script itself.
    root.script("cfg", &format!("extra_commands=\"three\"\nthree() {{ echo three >> {o}; }}\n", o = out.display()));
    let r = root.openrc("cfg", "three");
    assert_eq!(r.code, 0, "the edited script was not read again: {}", r.all());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "one\ntwo\nthree\n");
}

#[test]
fn prefilled_configuration_is_what_each_service_would_read_itself() {
    let root = Root::new();
    let count = root.path().join("run/count");
    std::fs::create_dir_all(&count).unwrap();
    let body = |extra: &str| format!("echo x >> {}/$RC_SVCNAME\ndescription=\"I am $RC_SVCNAME\"\ncommand=/bin/true\n{extra}", count.display());
    root.script("plain", &body(""));
    root.script("quoted", &body("command_args=\"a 'b' \\\"c\\\" \\$HOME ${ARGS:-}\"\n"));
    root.conf("quoted", "ARGS=\"it's\"\n");
    root.script("inst.one", &body("pidfile=/run/$RC_SVCNAME.pid\n"));
    root.conf("inst", "extra_commands=\"from_base\"\n");
    root.script("broken", &body("exit 3\n"));
    let names: Vec<String> = ["plain", "quoted", "inst.one", "broken", "missing"].iter().map(|s| s.to_string()).collect();

    assert_eq!(kimigayo_svc::conf::prefill(&root.env, &names), 3);
    let cache = |s: &str| std::fs::read(root.path().join("run/kimigayo/svc").join(s).join("conf.cache"));
    let sourced = |s: &str| std::fs::read_to_string(count.join(s)).map(|t| t.lines().count()).unwrap_or(0);
    assert!(cache("broken").is_err(), "a script that fails to load gets no cache");
    let prefilled: Vec<Vec<u8>> = ["plain", "quoted", "inst.one"].iter().map(|s| cache(s).unwrap()).collect();
    for s in ["plain", "quoted", "inst.one"] {
        // The service's own load finds the prefilled cache valid: its script is not read again.
        kimigayo_svc::conf::ScriptConf::load(&root.env, s).unwrap();
        assert_eq!(sourced(s), 1, "{s}: the prefilled cache was not taken");
    }
    // Read afresh by each service's own shell, the configuration is byte for byte the same.
    for (s, pre) in ["plain", "quoted", "inst.one"].iter().zip(&prefilled) {
        std::fs::remove_file(root.path().join("run/kimigayo/svc").join(s).join("conf.cache")).unwrap();
        let conf = kimigayo_svc::conf::ScriptConf::load(&root.env, s).unwrap();
        assert_eq!(&cache(s).unwrap(), pre, "{s}");
        assert_eq!(sourced(s), 2);
        if *s == "quoted" {
            assert_eq!(conf.get("command_args").as_deref(), Some("a 'b' \"c\" $HOME it's"));
        }
        if *s == "inst.one" {
            assert_eq!(conf.get("description").as_deref(), Some("I am inst.one"));
            assert_eq!(conf.extra_commands(), vec!["from_base".to_string()]);
        }
    }
    // Nothing is left behind in the state folders but the caches.
    for s in ["plain", "quoted", "inst.one", "broken"] {
        let left: Vec<String> = std::fs::read_dir(root.path().join("run/kimigayo/svc").join(s))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{s}: {left:?}");
    }
}

#[test]
fn a_script_replaces_the_default_status_and_hooks_and_keeps_the_others() {
    let root = Root::new();
    let run = root.path().join("run");
    let said = run.join("said");
    // Its own status and stop_post; the default start (a command) and stop.
    root.script(
        "own",
        &format!(
            "command=/bin/sleep\ncommand_args=303\ncommand_background=yes\npidfile={run}/own.pid\n\
             status() {{ einfo \"own status says hello\"; return 0; }}\n\
             stop_post() {{ echo stop_post >> {said}; }}",
            run = run.display(),
            said = said.display()
        ),
    );
    // Nothing of its own: every default.
    root.script("plain", &format!("command=/bin/sleep\ncommand_args=304\ncommand_background=yes\npidfile={}/plain.pid", run.display()));
    for s in ["own", "plain"] {
        let r = root.openrc(s, "start");
        assert_eq!(r.code, 0, "{s}: {}", r.all());
    }
    let r = root.openrc("own", "status");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("own status says hello"), "the script's status did not run: {}", r.all());
    let r = root.openrc("plain", "status");
    assert!(r.stdout.contains("status: started") && !r.stdout.contains("hello"), "{}", r.all());
    for s in ["own", "plain"] {
        let r = root.openrc(s, "stop");
        assert_eq!(r.code, 0, "{s}: {}", r.all());
    }
    assert_eq!(std::fs::read_to_string(&said).unwrap_or_default(), "stop_post\n", "own's stop_post ran once, plain has none");
    assert!(pids_with("sleep 303").is_empty() && pids_with("sleep 304").is_empty());
}
