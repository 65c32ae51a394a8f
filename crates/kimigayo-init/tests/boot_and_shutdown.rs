//! Boot and shutdown with real services, init as PID 1 in fresh namespaces: dependency waves,
//! a failing service blocking only its dependents, a crashing one, a sandboxed one hitting its
//! seccomp filter, reverse-order stop, a hung start and a hung stop killed at their timeouts.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn daemon(root: &Root, name: &str, depend: &str, events: &str) {
    let pid = root.path().join(format!("{name}.pid"));
    root.service(
        name,
        &format!(
            "command=/bin/sleep\ncommand_args=1000\ncommand_background=yes\npidfile={}\n\
             depend() {{ {depend} }}\n\
             start_pre() {{ echo \"start {name}\" >> {events}; }}\n\
             stop_pre() {{ echo \"stop {name}\" >> {events}; }}",
            pid.display()
        ),
    );
}

#[test]
fn boots_in_dependency_order_and_shuts_down_in_reverse() {
    let r = Root::new();
    let events = r.path().join("events");
    let ev = events.display().to_string();
    r.file("etc/rc.conf", "rc_timeout_stopsec=1\nrc_timeout_killsec=0.5\nrc_timeout_startsec=1\n");
    daemon(&r, "netif", "provide net;", &ev);
    daemon(&r, "db", "need net;", &ev);
    daemon(&r, "cache", "use db; after net;", &ev);
    daemon(&r, "web", "need db; use cache;", &ev);
    r.service("broken", "start() { eerror \"broken: cannot bind port\"; return 1; }");
    daemon(&r, "needs-broken", "need broken;", &ev);
    // Crashes 0.3 s after a successful start.
    r.service("crasher", "start() { ebegin \"Starting crasher\"; (sleep 0.3; exit 3) & eend 0; }");
    // The default sandbox's seccomp filter denies mount(2) and swapon(2), root or not.
    let swap = r.path().join("swapfile");
    r.service(
        "confined",
        &format!(
            "start() {{ dd if=/dev/zero of={s} bs=1k count=64 2>/dev/null; chmod 600 {s}; mkswap {s} >/dev/null 2>&1; \
             swapon {s} 2>&1 | sed 's/^/confined: swapon: /'; \
             mount -t tmpfs none {m} 2>&1 | head -1 | sed 's/^/confined: mount: /'; (exec sleep 1000) & }}",
            s = swap.display(),
            m = r.path().display()
        ),
    );
    // Ignores SIGTERM and its stop action hangs: must be killed at the timeout.
    r.service(
        "stubborn",
        &format!("start() {{ (trap '' TERM; exec sleep 1000) & }}\nstop_pre() {{ echo \"stop stubborn\" >> {ev}; }}\nstop() {{ sleep 1000; }}"),
    );
    // Its start hangs: killed at rc_timeout_startsec, counted as failed, boot goes on.
    r.service("hangstart", "start() { sleep 1000; }");
    daemon(&r, "after-hang", "need hangstart;", &ev);
    for s in ["netif", "web", "cache", "needs-broken", "crasher", "confined", "stubborn", "after-hang"] {
        r.enable(s, "default");
    }
    let st = r.path().join("rc-status.json");
    let ws = r.path().join("web-status.json");
    let main = format!(
        "sleep 1; {b} rc-status --json > {st}; {b} rc-service web status --json > {ws}; \
         {b} rc-service crasher status; echo crasher-status=$?",
        b = bin().display(),
        st = st.display(),
        ws = ws.display()
    );
    let start = Instant::now();
    let o = run_init(r.path(), &[], Some(&main));
    let elapsed = start.elapsed();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");

    // Boot: the failed service blocks only what needs it.
    assert!(t.contains("broken: cannot bind port"), "{t}");
    assert!(t.contains("needs-broken: not started: dependency broken failed"), "{t}");
    let log = r.read("var/log/kimigayo/init.log");
    assert!(log.contains("needs-broken: not started: dependency broken failed"), "{log}");

    assert!(t.contains("hangstart: `start' timed out after 1.0s; killed"), "{t}");
    assert!(t.contains("after-hang: not started: dependency hangstart failed"), "{t}");
    let ev_lines: Vec<String> = r.read("events").lines().map(str::to_string).collect();
    let pos = |e: &str| ev_lines.iter().position(|l| l == e).unwrap_or_else(|| panic!("no `{e}' in {ev_lines:?}\n{t}"));
    assert!(pos("start netif") < pos("start db") && pos("start db") < pos("start web"));
    assert!(pos("start db") < pos("start cache") && pos("start cache") < pos("start web"));
    assert!(!ev_lines.contains(&"start needs-broken".to_string()));
    // Shutdown: reverse dependency order.
    assert!(pos("stop web") < pos("stop cache") && pos("stop cache") < pos("stop db"), "{ev_lines:?}");
    assert!(pos("stop web") < pos("stop db") && pos("stop db") < pos("stop netif"), "{ev_lines:?}");
    assert!(ev_lines.contains(&"stop stubborn".to_string()));
    assert!(t.contains("stubborn: `stop' timed out"), "{t}");
    assert!(t.contains("0 remaining"), "{t}");
    assert!(elapsed < Duration::from_secs(15), "shutdown not bounded: {elapsed:?}");

    // The sandboxed service was denied mount(2) and swapon(2) with EPERM.
    let confined: Vec<&str> = t.lines().filter(|l| l.starts_with("confined: ")).collect();
    let swapon: Vec<&&str> = confined.iter().filter(|l| l.starts_with("confined: swapon: ")).collect();
    assert!(!swapon.is_empty() && swapon.iter().all(|l| l.contains("Operation not permitted")), "{confined:?}\n{t}");
    // mount(8) words EPERM as "permission denied".
    let mount: Vec<&&str> = confined.iter().filter(|l| l.starts_with("confined: mount: ")).collect();
    assert!(mount.len() == 1 && mount[0].to_lowercase().contains("permission denied"), "{confined:?}\n{t}");

    // The crash is visible; status exit code 32 as OpenRC's.
    assert!(t.contains("crasher-status=32"), "{t}");

    // rc-status --json while running: states and the sandbox in force.
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&st).unwrap()).expect("rc-status --json");
    let default = v["runlevels"]["default"].as_array().unwrap();
    let state = |n: &str| default.iter().find(|s| s["name"] == n).map(|s| s["state"].as_str().unwrap_or("").to_string());
    assert_eq!(state("web").as_deref(), Some("started"), "{v}");
    assert_eq!(state("needs-broken").as_deref(), Some("stopped"), "{v}");
    assert_eq!(state("crasher").as_deref(), Some("crashed"), "{v}");
    let w: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&ws).unwrap()).unwrap();
    assert_eq!(w["state"], "started");
    assert!(w["sandbox"].as_str().unwrap_or("").contains("pid"), "{w}");
}

#[test]
fn a_service_starts_once_its_own_dependencies_are_up_not_the_whole_wave() {
    let r = Root::new();
    let events = r.path().join("events");
    let ev = events.display().to_string();
    // slow and fast share the first wave; quick, in the second, needs only fast: it starts
    // as soon as fast is up, while slow's start still runs.
    r.service("slow", &format!("start() {{ sleep 1.5; echo \"slow up\" >> {ev}; (exec sleep 1000) & }}"));
    r.service("fast", "start() { (exec sleep 1000) & }");
    r.service("quick", &format!("depend() {{ need fast; }}\nstart() {{ echo \"quick up\" >> {ev}; (exec sleep 1000) & }}"));
    for s in ["slow", "fast", "quick"] {
        r.enable(s, "default");
    }
    let o = run_init(r.path(), &[], Some("sleep 0.2"));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let got = std::fs::read_to_string(&events).unwrap_or_default();
    assert_eq!(got, "quick up\nslow up\n", "quick waited for slow, which it does not depend on:\n{t}");
}

#[test]
fn a_boot_reads_every_configuration_in_one_shell_not_one_per_service() {
    let r = Root::new();
    let log = r.path().join("sourced");
    // Each time a script is read, it notes who read it: the shell's pid and the runtime's
    // command (`--kimigayo-dump` for a configuration read).
    for s in ["one", "two", "three"] {
        r.service(s, &format!("echo \"$$ ${{RC_CMD:-scan}} $RC_SVCNAME\" >> {}\nstart() {{ (exec sleep 1000) & }}", log.display()));
        r.enable(s, "default");
    }
    let o = run_init(r.path(), &[], Some("true"));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    let dumps: Vec<(&str, &str)> = lines.lines().filter_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        (w.get(1) == Some(&"--kimigayo-dump")).then(|| (w[0], w[2]))
    }).collect();
    let mut services: Vec<&str> = dumps.iter().map(|(_, s)| *s).collect();
    services.sort();
    assert_eq!(services, ["one", "three", "two"], "each configuration read once for the whole boot and shutdown:\n{lines}");
    let shells: std::collections::BTreeSet<&str> = dumps.iter().map(|(p, _)| *p).collect();
    assert_eq!(shells.len(), 1, "one shell read all three configurations:\n{lines}");
}

#[test]
fn runlevels_start_in_order_sysinit_then_boot_then_default_as_openrc_does() {
    let r = Root::new();
    let log = r.path().join("order");
    // `early` (sysinit) is slow; `mid` (boot) must still wait for it, and `late` (default,
    // no dependencies at all) for both. `mid` asks to start after `late`: across runlevels
    // that ordering cannot hold and must not deadlock the boot.
    let svc = |name: &str, delay: &str| format!("start() {{ sleep {delay}; echo {name} >> {}; }}", log.display());
    r.service("early", &svc("early", "0.3"));
    r.service("mid", &format!("depend() {{ after late; }}\n{}", svc("mid", "0.1")));
    r.service("late", &svc("late", "0"));
    r.enable("early", "sysinit");
    r.enable("mid", "boot");
    r.enable("late", "default");
    let o = run_init(r.path(), &[], Some("true"));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let order = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(order.split_whitespace().collect::<Vec<_>>(), ["early", "mid", "late"], "{t}");
}

#[test]
fn sandbox_caps_and_allow_set_in_the_script_reach_the_service() {
    let r = Root::new();
    // What the machine's own services (hostname, sysctl, localmount …) rely on in VM mode.
    let probe = |out: &str| format!("start() {{ grep -E '^(CapBnd|Seccomp):' /proc/self/status > {out}; }}");
    let with = r.path().join("with");
    let without = r.path().join("without");
    r.service("privileged", &format!("sandbox_namespaces=none\nsandbox_caps=\"CAP_SYS_ADMIN CAP_NET_ADMIN\"\nsandbox_allow=\"mount umount2\"\n{}", probe(&with.display().to_string())));
    r.service("plain", &format!("sandbox_namespaces=none\n{}", probe(&without.display().to_string())));
    r.enable("privileged", "default");
    r.enable("plain", "default");
    let o = run_init(r.path(), &[], Some("true"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let bnd = |p: &std::path::Path| {
        let t = std::fs::read_to_string(p).unwrap_or_default();
        let hex = t.lines().find_map(|l| l.strip_prefix("CapBnd:")).map(str::trim).unwrap_or("0").to_string();
        (u64::from_str_radix(&hex, 16).unwrap(), t)
    };
    let (w, wt) = bnd(&with);
    let (p, pt) = bnd(&without);
    const SYS_ADMIN: u64 = 1 << 21;
    const NET_ADMIN: u64 = 1 << 12;
    assert!(w & SYS_ADMIN != 0 && w & NET_ADMIN != 0, "sandbox_caps not applied: {wt}");
    assert!(p & SYS_ADMIN == 0 && p & NET_ADMIN == 0, "default drop list not applied: {pt}");
    assert!(wt.contains("Seccomp:\t2") && pt.contains("Seccomp:\t2"), "both still filtered: {wt} {pt}");
}
