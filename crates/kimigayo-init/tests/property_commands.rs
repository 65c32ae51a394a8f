//! Property 27: random services (script styles) and random rc-service command sequences, run
//! by the real binary under a real PID 1 (init in fresh namespaces), checked against a model.

mod common;

use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// command + command_background + pidfile (start-stop-daemon).
    Daemon,
    /// Custom start()/stop() functions.
    Custom,
    /// supervisor=supervise-daemon.
    Supervised,
    /// start() does its work and leaves nothing running.
    Oneshot,
    /// start() fails.
    Failing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum M {
    Stopped,
    Started,
    Failed,
}

impl M {
    fn name(self) -> &'static str {
        match self {
            M::Stopped => "stopped",
            M::Started => "started",
            M::Failed => "failed",
        }
    }
    fn status_code(self) -> i32 {
        match self {
            M::Started => 0,
            M::Stopped => 3,
            // A start that failed is reported as stopped, as OpenRC 0.45 does (checked by
            // kimigayo-image's openrc_conformance test); 32 is for a crash after starting.
            M::Failed => 3,
        }
    }
}

const ACTIONS: &[&str] = &["start", "stop", "restart", "status", "zap"];

/// The model: OpenRC's answers (already started/stopped is a warning, exit 0).
fn step(style: Style, state: M, action: &str) -> (i32, M) {
    let start = |s: M| match (s, style) {
        (M::Started, _) => (0, M::Started),
        (_, Style::Failing) => (1, M::Failed),
        _ => (0, M::Started),
    };
    match action {
        "start" => start(state),
        "stop" | "zap" => (0, M::Stopped),
        "restart" => start(if state == M::Started { M::Stopped } else { state }),
        "status" => (state.status_code(), state),
        _ => unreachable!(),
    }
}

/// Each service's daemon runs `sleep 100<i>`, so the process can be found by its command
/// line from init's PID namespace (the service's own PID namespace is nested in it).
fn script(style: Style, root: &Root, i: usize) -> String {
    let name = format!("s{i}");
    let pidf = root.path().join(format!("{name}.pid")).display().to_string();
    match style {
        Style::Daemon => format!("command=/bin/sleep\ncommand_args=100{i}\ncommand_background=yes\npidfile={pidf}"),
        Style::Custom => format!(
            "start() {{ ebegin \"Starting {name}\"; (exec sleep 100{i}) & echo $! > {pidf}; eend 0; }}\n\
             stop() {{ ebegin \"Stopping {name}\"; kill $(cat {pidf}); eend $?; }}"
        ),
        Style::Supervised => format!("supervisor=supervise-daemon\ncommand=/bin/sleep\ncommand_args=100{i}"),
        Style::Oneshot => format!("start() {{ echo done > {}.ran; }}", pidf),
        Style::Failing => "start() { eerror \"cannot start\"; return 1; }".into(),
    }
}

/// Leaves a daemon process running while started.
fn has_daemon(style: Style) -> bool {
    matches!(style, Style::Daemon | Style::Custom | Style::Supervised)
}

/// Shell functions for the main command: `daemons I` prints the pids (in init's PID
/// namespace) of live processes whose command line is exactly `[/bin/]sleep 100I`; `settle I N`
/// waits up to 3 s for their number to become N (a stop's SIGTERM or a start's exec may
/// land a moment after rc-service returns); `zapped I` sets aside the daemons a `zap` left
/// running (OpenRC's zap only forgets the state) so later checks ignore them; `facts I` prints one line per daemon: pid, its
/// pid/mnt/ipc/uts/user namespaces, NoNewPrivs and Seccomp, and a line for init (pid 1).
const PROBE_FNS: &str = r#"
daemons() { for d in /proc/[0-9]*; do c=$(tr '\0' ' ' < $d/cmdline 2>/dev/null); case "$c" in "sleep 100$1 "|"/bin/sleep 100$1 ") grep -qx ${d#/proc/} $O/left$1 2>/dev/null || echo ${d#/proc/};; esac; done; }
settle() { n=0; while [ $(daemons $1 | wc -l) -ne $2 ] && [ $n -lt 30 ]; do n=$((n+1)); sleep 0.1; done; }
nsline() { echo "$1 $(readlink /proc/$1/ns/pid) $(readlink /proc/$1/ns/mnt) $(readlink /proc/$1/ns/ipc) $(readlink /proc/$1/ns/uts) $(readlink /proc/$1/ns/user) $(grep -E '^(NoNewPrivs|Seccomp):' /proc/$1/status | tr -d '\t' | tr '\n' ' ')"; }
facts() { nsline 1; for p in $(daemons $1); do nsline $p; done; }
zapped() { daemons $1 >> $O/left$1; }
"#;

/// One line of `facts`: pid, namespaces (pid, mnt, ipc, uts, user), NoNewPrivs and Seccomp.
#[derive(Debug)]
struct Facts {
    pid: String,
    ns: Vec<String>,
    status: String,
}

fn parse_facts(text: &str) -> Vec<Facts> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            Facts { pid: w[0].to_string(), ns: w.get(1..6).unwrap_or(&[]).iter().map(|s| s.to_string()).collect(), status: w.get(6..).unwrap_or(&[]).join(" ") }
        })
        .collect()
}

fn style() -> impl Strategy<Value = Style> {
    prop::sample::select(vec![Style::Daemon, Style::Custom, Style::Supervised, Style::Oneshot, Style::Failing])
}

fn case() -> impl Strategy<Value = (Vec<Style>, Vec<(usize, &'static str)>)> {
    prop::collection::vec(style(), 1..=3).prop_flat_map(|styles| {
        let n = styles.len();
        (Just(styles), prop::collection::vec((0..n, prop::sample::select(ACTIONS.to_vec())), 1..=8))
    })
}

fn run_case(styles: &[Style], steps: &[(usize, &'static str)]) -> Result<(), TestCaseError> {
    let r = Root::new();
    for (i, st) in styles.iter().enumerate() {
        r.service(&format!("s{i}"), &script(*st, &r, i));
    }
    let b = bin().display().to_string();
    let out = r.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = out.display();
    // The model runs ahead so that the script knows how many daemons to wait for.
    let mut model = vec![M::Stopped; styles.len()];
    let mut expected = Vec::new();
    let mut sh = format!("O={o}\n{PROBE_FNS}");
    for (k, (i, action)) in steps.iter().enumerate() {
        let was = model[*i];
        let (code, next) = step(styles[*i], model[*i], action);
        model[*i] = next;
        expected.push((code, next));
        let live = usize::from(next == M::Started && has_daemon(styles[*i]));
        let zap = if *action == "zap" && was == M::Started && has_daemon(styles[*i]) { format!("zapped {i}; ") } else { String::new() };
        sh.push_str(&format!(
            "{b} rc-service s{i} {action} > {o}/{k}.txt 2>&1; echo $? > {o}/{k}.code; {b} rc-service s{i} status --json > {o}/{k}.json; \
             {zap}settle {i} {live}; facts {i} > {o}/{k}.facts\n"
        ));
    }
    sh.push_str(&format!("{b} rc-status --servicelist --json > {o}/final.json"));
    let run = run_init(r.path(), &["--no-services"], Some(&sh));
    let t = text(&run);
    prop_assert_eq!(run.status.code(), Some(0), "{}", t);

    for (k, (i, action)) in steps.iter().enumerate() {
        let (code, next) = expected[k];
        let what = format!("step {k} `rc-service s{i} {action}' ({:?})", styles[*i]);
        let got: i32 = std::fs::read_to_string(out.join(format!("{k}.code"))).unwrap_or_default().trim().parse().unwrap_or(-1);
        let said = std::fs::read_to_string(out.join(format!("{k}.txt"))).unwrap_or_default();
        prop_assert_eq!(got, code, "{}: exit code\n{}\n--- init:\n{}\n--- services.log:\n{}", what, said, t, r.read("var/log/kimigayo/services.log"));
        let json = std::fs::read_to_string(out.join(format!("{k}.json"))).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("step {k}: status --json: {e}: {json}")))?;
        prop_assert_eq!(v["state"].as_str(), Some(next.name()), "{} → {}\n{}", what, json, said);
        prop_assert_eq!(v["code"].as_i64(), Some(i64::from(next.status_code())), "{}", json);

        // What really runs: the daemon exists while started and is gone after a stop.
        let facts = parse_facts(&std::fs::read_to_string(out.join(format!("{k}.facts"))).unwrap_or_default());
        prop_assert!(!facts.is_empty() && facts[0].pid == "1" && facts[0].ns.len() == 5, "{}: no facts about init: {:?}", what, facts);
        let init = &facts[0];
        let daemons = &facts[1..];
        if next == M::Started && has_daemon(styles[*i]) {
            prop_assert_eq!(
                daemons.len(),
                1,
                "{}: status says started, but {} `sleep 100{}` processes exist in /proc (want exactly 1): {:?}\n{}",
                what,
                daemons.len(),
                i,
                daemons,
                said
            );
            let d = &daemons[0];
            prop_assert!(d.ns.len() == 5, "{}: daemon {} vanished while being inspected: {:?}", what, d.pid, d);
            // The namespaces status claims, checked against the daemon's /proc/PID/ns. Run
            // by root with every privilege, a service gets all of mount, pid, ipc and uts.
            let sandbox = v["sandbox"].as_str().unwrap_or("");
            let claimed: Vec<&str> = sandbox.split_whitespace().find_map(|w| w.strip_prefix("namespaces=")).map(|l| l.split(',').collect()).unwrap_or_default();
            for (n, want) in ["pid", "mount", "ipc", "uts"].iter().enumerate() {
                prop_assert!(claimed.contains(want), "{}: the sandbox does not claim a {} namespace (root, all privileges): {}", what, want, sandbox);
                prop_assert_ne!(&d.ns[n], &init.ns[n], "{}: status claims a {} namespace ({}) but daemon {} shares init's {}", what, want, sandbox, d.pid, init.ns[n]);
            }
            let user_claimed = claimed.contains(&"user");
            prop_assert_eq!(d.ns[4] != init.ns[4], user_claimed, "{}: user namespace claimed={} but daemon {} has {} (init {})", what, user_claimed, d.pid, d.ns[4], init.ns[4]);
            prop_assert!(d.status.contains("NoNewPrivs:1") && d.status.contains("Seccomp:2"), "{}: daemon {} is not confined: {}", what, d.pid, d.status);
        } else {
            prop_assert!(daemons.is_empty(), "{}: status says {}, but `sleep 100{}` still runs: {:?}\n{}", what, next.name(), i, daemons, said);
        }
    }
    let fin: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("final.json")).unwrap_or_default()).map_err(|e| TestCaseError::fail(format!("rc-status --json: {e}")))?;
    for (i, m) in model.iter().enumerate() {
        let entry = fin["services"].as_array().and_then(|a| a.iter().find(|s| s["name"] == format!("s{i}")).cloned());
        prop_assert_eq!(entry.as_ref().and_then(|e| e["state"].as_str()), Some(m.name()), "rc-status for s{}: {}", i, fin);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, max_shrink_iters: 30, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 27: 任意のサービスに対して、Init_Systemは開始、停止、再起動、ステータス操作のためのコマンドを提供しなければならない**
    #[test]
    fn rc_service_commands_agree_with_the_model((styles, steps) in case()) {
        run_case(&styles, &steps)?;
    }
}

#[test]
fn unknown_service_is_reported_like_openrc() {
    let r = Root::new();
    let o = r.cmd("rc-service", &["foo", "start"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stderr), " * rc-service: service `foo' does not exist\n");
    assert_eq!(r.cmd("rc-service", &["-e", "foo"]).status.code(), Some(1));
    assert_eq!(r.cmd("rc-service", &["-i", "foo", "start"]).status.code(), Some(0));
}

#[test]
fn rc_update_add_del_show() {
    let r = Root::new();
    r.service("sshd", "command=/bin/true");
    let o = r.cmd("rc-update", &["add", "sshd"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), " * service sshd added to runlevel default\n");
    let o = r.cmd("rc-update", &["add", "sshd", "default"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already installed in runlevel `default'; skipping"));
    let o = r.cmd("rc-update", &["show", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sshd"], serde_json::json!(["default"]));
    let o = r.cmd("rc-update", &["show"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "                sshd | default\n");
    assert!(r.cmd("rc-update", &["del", "sshd"]).status.success());
    let o = r.cmd("rc-update", &["del", "sshd"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("service `sshd' is not in the runlevel `default'"));
    let o = r.cmd("rc-update", &["add", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("service `nosuch' does not exist"));
}

#[test]
fn rc_status_lists_the_runlevel() {
    let r = Root::new();
    r.service("a", "command=/bin/true");
    r.enable("a", "default");
    let o = r.cmd("rc-status", &[]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.starts_with("Runlevel: default\n a "), "{t}");
    assert!(t.contains("[  stopped  ]"), "{t}");
    assert_eq!(r.cmd("rc-status", &["nosuch"]).status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&r.cmd("rc-status", &["--json"]).stdout).unwrap();
    assert_eq!(v["runlevels"]["default"][0]["state"], "stopped");
}
