//! Property 25 (service failure handling) over random failure scenarios, with real holders,
//! namespaces and seccomp: a service fails its first F start attempts in random ways (start
//! action exits k; daemon exits k or dies by signal s after t ms), with or without a retry
//! policy (n attempts, ms backoff); an unrelated service runs beside it the whole time.

mod common;

use std::time::Duration;

use common::*;
use kimigayo_svc::failure::signal_name;
use kimigayo_svc::{run_action, Action, State};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

#[derive(Debug, Clone)]
enum Failure {
    StartExit(u8),
    DaemonExit(u8, u16),
    DaemonSignal(i32, u16),
}

#[derive(Debug, Clone)]
struct Scenario {
    failures: Vec<Failure>,
    /// Retry policy: attempts, and whether it is spelled with OpenRC's respawn_* names.
    retry: Option<(u32, bool)>,
}

const SIGNALS: &[i32] = &[libc::SIGHUP, libc::SIGTERM, libc::SIGKILL, libc::SIGUSR1, libc::SIGUSR2, libc::SIGALRM];

fn failure() -> impl Strategy<Value = Failure> {
    prop_oneof![
        (1u8..=120).prop_map(Failure::StartExit),
        (1u8..=120, 0u16..=30).prop_map(|(k, t)| Failure::DaemonExit(k, t)),
        (0..SIGNALS.len(), 0u16..=30).prop_map(|(i, t)| Failure::DaemonSignal(SIGNALS[i], t)),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (prop::collection::vec(failure(), 0..=4), prop::option::of((1u32..=4, any::<bool>())))
        .prop_map(|(failures, retry)| Scenario { failures, retry })
}

fn script(root: &Root, name: &str, s: &Scenario) -> String {
    let run = root.path().join("run");
    let mut cases = String::new();
    for (i, f) in s.failures.iter().enumerate() {
        let body = match f {
            Failure::StartExit(k) => format!("eerror \"{name} attempt {i} fails with {k}\"; return {k}"),
            Failure::DaemonExit(k, t) => {
                format!("command_args=\"-c 'sleep 0.{t:03}; echo {name} daemon {i} exits {k}; exit {k}'\"")
            }
            Failure::DaemonSignal(sig, t) => format!(
                "command_args=\"-c 'sleep 0.{t:03}; echo {name} daemon {i} dies by {}; kill -s {} \\$\\$; sleep 5'\"",
                signal_name(*sig),
                &signal_name(*sig)[3..]
            ),
        };
        cases.push_str(&format!("        {i}) {body} ;;\n"));
    }
    format!(
        r#"
command=/bin/sh
command_args="-c 'while :; do sleep 1; done'"
command_background=yes
pidfile={run}/{name}.pid
start_pre() {{
    _n=$(cat {run}/{name}.count 2>/dev/null || echo 0)
    echo $((_n + 1)) > {run}/{name}.count
    case $_n in
{cases}    esac
    return 0
}}
"#,
        run = run.display()
    )
}

fn conf(s: &Scenario) -> String {
    match s.retry {
        None => String::new(),
        Some((n, false)) => format!("respawn=yes\nretry_attempts={n}\nretry_backoff=2ms\n"),
        Some((n, true)) => format!("respawn=yes\nrespawn_max={n}\nrespawn_delay=2ms\nrespawn_period=60\n"),
    }
}

/// The log entry a failure must produce.
fn expected_entry(f: &Failure) -> String {
    match f {
        Failure::StartExit(k) => format!("event=start-failed status={k} "),
        Failure::DaemonExit(k, _) => format!("event=crashed status={k} "),
        Failure::DaemonSignal(s, _) => format!("event=crashed signal={} ", signal_name(*s)),
    }
}

fn entries_for(log: &str, name: &str) -> Vec<(String, Vec<String>)> {
    let head = format!(" service={name} event=");
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in log.lines() {
        if line.contains(&head) && (line.contains("event=crashed") || line.contains("event=start-failed")) {
            out.push((line.to_string(), Vec::new()));
            current = Some(out.len() - 1);
        } else if let (Some(i), Some(rest)) = (current, line.strip_prefix("  | ")) {
            out[i].1.push(rest.to_string());
        } else {
            current = None;
        }
    }
    out
}

#[test]
fn property_25_failures_are_logged_and_retried_as_configured() {
    let root = Root::new();
    // The bystander: an unrelated service that must not notice anything.
    root.script(
        "bystander",
        &format!(
            "command=/bin/sh\ncommand_args=\"-c 'while :; do sleep 1; done' ksvc-bystander\"\ncommand_background=yes\npidfile={}/bystander.pid\n",
            root.path().join("run").display()
        ),
    );
    assert_eq!(run_action(&root.env, "bystander", &Action::Start).unwrap().code, 0);
    let by = root.status("bystander");
    let by_holder = by.holder_pid.expect("bystander holder");
    wait_for("bystander daemon", Duration::from_secs(5), || pids_with("ksvc-bystander").len() == 1);
    let by_daemon = pids_with("ksvc-bystander")[0];

    let case = std::cell::Cell::new(0u32);
    let mut runner = TestRunner::new(Config { cases: 100, failure_persistence: None, ..Config::default() });
    // **Feature: kimigayo-os-core, Property 25: 任意のサービス障害に対して、Init_Systemは失敗をログに記録し、設定されている場合は回復を試行しなければならない**
    let result = runner.run(&scenario(), |s| {
        case.set(case.get() + 1);
        let name = format!("f{}", case.get());
        root.script(&name, &script(&root, &name, &s));
        root.conf(&name, &conf(&s));
        let f = s.failures.len();
        let (allowed_restarts, policy) = match s.retry {
            Some((n, _)) => (n as usize, true),
            None => (0, false),
        };
        // What must happen.
        let failures_seen = f.min(allowed_restarts + 1);
        let restarts = f.min(allowed_restarts);
        let recovers = f <= allowed_restarts;
        let final_state = if recovers {
            State::Started
        } else if policy || matches!(s.failures[0], Failure::StartExit(_)) {
            State::Failed
        } else {
            State::Crashed
        };
        // The start action reports success once some attempt's start action succeeded.
        let first_good_start = s.failures.iter().position(|x| !matches!(x, Failure::StartExit(_))).unwrap_or(f);
        let start_code = if first_good_start <= allowed_restarts { 0 } else { 1 };

        let out = run_action(&root.env, &name, &Action::Start).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(out.code, start_code, "start exit code, scenario {:?}", s);

        // Settled: the holder is gone (a final state), or the successful attempt is running.
        let count = || std::fs::read_to_string(root.path().join(format!("run/{name}.count"))).ok().and_then(|c| c.trim().parse::<usize>().ok()).unwrap_or(0);
        wait_for(&format!("{name} to settle"), Duration::from_secs(20), || {
            let st = root.status(&name);
            st.holder_pid.is_none() || (st.state == State::Started && count() > f)
        });
        let st = root.status(&name);
        prop_assert_eq!(st.state, final_state, "final state, scenario {:?}", s);
        prop_assert_eq!(st.restarts as usize, restarts, "restarts, scenario {:?}", s);

        let log = root.log();
        let entries = entries_for(&log, &name);
        prop_assert_eq!(entries.len(), failures_seen, "one log entry per failure, scenario {:?}\n{}", s, log);
        for (i, (head, tail)) in entries.iter().enumerate() {
            let want = expected_entry(&s.failures[i]);
            prop_assert!(head.contains(&want), "entry {} {:?} should contain {:?}", i, head, want);
            // The last output lines explain the failure.
            let said = match &s.failures[i] {
                Failure::StartExit(k) => format!("attempt {i} fails with {k}"),
                Failure::DaemonExit(k, _) => format!("daemon {i} exits {k}"),
                Failure::DaemonSignal(sig, _) => format!("daemon {i} dies by {}", signal_name(*sig)),
            };
            prop_assert!(tail.iter().any(|l| l.contains(&said)), "entry {} lacks output {:?}: {:?}", i, said, tail);
        }
        if !entries.is_empty() && !recovers {
            let last_exit = st.last_exit.clone().unwrap_or_default();
            let want = match &s.failures[failures_seen - 1] {
                Failure::StartExit(k) | Failure::DaemonExit(k, _) => format!("exit {k}"),
                Failure::DaemonSignal(sig, _) => format!("signal {}", signal_name(*sig)),
            };
            prop_assert_eq!(last_exit, want);
        }

        // Other services are unaffected.
        let by_now = root.status("bystander");
        prop_assert_eq!(by_now.state, State::Started);
        prop_assert_eq!(by_now.holder_pid, Some(by_holder));
        prop_assert!(state_alive(by_daemon), "bystander daemon died");

        if st.state == State::Started {
            let out = run_action(&root.env, &name, &Action::Stop).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(out.code, 0);
            prop_assert_eq!(out.status.state, State::Stopped);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_eq!(run_action(&root.env, "bystander", &Action::Stop).unwrap().code, 0);
}

fn state_alive(pid: i32) -> bool {
    kimigayo_svc::state::pid_alive(pid)
}
