//! Property 26 over random system states, init as PID 1 in fresh namespaces.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Svc {
    /// (kind, index of an earlier service): acyclic by construction.
    deps: Vec<(&'static str, usize)>,
    ignores_term: bool,
    hung_stop: bool,
}

#[derive(Debug, Clone)]
struct SystemState {
    services: Vec<Svc>,
    mounts: usize,
    orphans: Vec<bool>,
    /// Shutdown trigger: the main command exits, or SIGPWR to init.
    by_signal: bool,
}

fn system_state() -> impl Strategy<Value = SystemState> {
    let svc = |i: usize| {
        (
            prop::collection::vec((prop::sample::select(vec!["need", "use", "after"]), 0..i.max(1)), 0..=i.min(3)),
            any::<bool>(),
            prop::bool::weighted(0.15),
        )
            .prop_map(move |(deps, ignores_term, hung_stop)| Svc {
                deps: if i == 0 { Vec::new() } else { deps },
                ignores_term,
                hung_stop,
            })
    };
    (1usize..=5)
        .prop_flat_map(move |n| {
            (
                (0..n).map(svc).collect::<Vec<_>>(),
                0usize..=3,
                prop::collection::vec(any::<bool>(), 0..=4),
                any::<bool>(),
            )
        })
        .prop_map(|(services, mounts, orphans, by_signal)| SystemState { services, mounts, orphans, by_signal })
}

const STOPSEC: f64 = 0.3;
const KILLSEC: f64 = 0.3;

fn run_case(s: &SystemState) -> Result<(), TestCaseError> {
    let r = Root::new();
    let ev = r.path().join("events").display().to_string();
    r.file("etc/rc.conf", &format!("rc_timeout_stopsec={STOPSEC}\nrc_timeout_killsec={KILLSEC}\n"));
    for (i, svc) in s.services.iter().enumerate() {
        let name = format!("s{i}");
        let pidf = r.path().join(format!("{name}.pid")).display().to_string();
        let mut deps: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (k, j) in &svc.deps {
            deps.entry(k).or_default().push(format!("s{j}"));
        }
        let depend: String = deps.iter().map(|(k, v)| format!("{k} {}; ", v.join(" "))).collect();
        let trap = if svc.ignores_term { "trap '' TERM; " } else { "" };
        let stop = if svc.hung_stop { "sleep 1000".to_string() } else { format!("kill $(cat {pidf}) 2>/dev/null; return 0") };
        r.service(
            &name,
            &format!(
                "depend() {{ {depend}:; }}\n\
                 start() {{ ({trap}exec sleep 1000) & echo $! > {pidf}; }}\n\
                 stop_pre() {{ echo \"stop {name}\" >> {ev}; }}\n\
                 stop() {{ {stop}; }}"
            ),
        );
        r.enable(&name, "default");
    }
    let mut main = String::new();
    let mut mounts = Vec::new();
    for m in 0..s.mounts {
        let p = r.path().join(format!("mnt/m{m}"));
        std::fs::create_dir_all(&p).unwrap();
        main.push_str(&format!("mount -t tmpfs kimigayo-p26 {} || echo mount-failed; ", p.display()));
        mounts.push(p.display().to_string());
    }
    for ignores in &s.orphans {
        let trap = if *ignores { "trap '' TERM; " } else { "" };
        main.push_str(&format!("({trap}exec sleep 1000) & "));
    }
    let ready = r.path().join("ready");
    if s.by_signal {
        main.push_str(&format!("touch {}; while :; do sleep 0.05; done", ready.display()));
    } else {
        main.push_str("exit 0");
    }
    let start = Instant::now();
    let o = if s.by_signal {
        let child = init_cmd(r.path(), &[], Some(&main)).spawn().unwrap();
        let pid = init_pid(&child).expect("init pid");
        let became_ready = wait_for(&ready, Duration::from_secs(20));
        kill(pid, libc::SIGPWR);
        let o = child.wait_with_output().unwrap();
        prop_assert!(became_ready, "main never became ready\n{}", text(&o));
        o
    } else {
        run_init(r.path(), &[], Some(&main))
    };
    let elapsed = start.elapsed();
    let t = text(&o);
    prop_assert_eq!(o.status.code(), Some(0), "{}", t);
    prop_assert!(!t.contains("mount-failed"), "{}", t);

    // Every service was started at boot, and every one was stopped, each before what it depends on.
    let events: Vec<String> = r.read("events").lines().map(str::to_string).collect();
    let pos = |n: usize| events.iter().position(|l| *l == format!("stop s{n}"));
    for (i, svc) in s.services.iter().enumerate() {
        prop_assert!(pos(i).is_some(), "s{} never stopped: {:?}\n{}", i, events, t);
        for (_, j) in &svc.deps {
            prop_assert!(pos(i) < pos(*j), "s{} (depends on s{}) stopped after it: {:?}\n{}", i, j, events, t);
        }
    }
    // Nothing of the namespace is left, every extra mount was unmounted.
    prop_assert!(t.contains(" 0 remaining"), "{}", t);
    for m in &mounts {
        prop_assert!(t.contains(&format!("Unmounted {m}\n")), "{} still mounted:\n{}", m, t);
    }
    // Bounded: every wave may wait stop timeout + 1 s, plus two graces and slack.
    let waves = s.services.len() as f64;
    let bound = Duration::from_secs_f64(waves * (STOPSEC + 1.0) + 2.0 * KILLSEC + 4.0 + 3.0);
    prop_assert!(elapsed < bound, "took {:?} (bound {:?})\n{}", elapsed, bound, t);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, max_shrink_iters: 20, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 26: 任意のシステム状態に対して、Init_Systemはシャットダウン時にすべてのサービスを正常に停止し、ファイルシステムをアンマウントしなければならない**
    #[test]
    fn shutdown_stops_every_service_in_reverse_order_and_unmounts(s in system_state()) {
        run_case(&s)?;
    }
}
