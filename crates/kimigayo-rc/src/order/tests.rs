use super::*;
use crate::ServiceMeta;

fn svc(name: &str, deps: &[(&str, &[&str])]) -> ServiceMeta {
    let mut m = ServiceMeta::new(name);
    for (k, v) in deps {
        let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        match *k {
            "need" => m.need = v,
            "use" => m.use_ = v,
            "want" => m.want = v,
            "after" => m.after = v,
            "before" => m.before = v,
            "provide" => m.provide = v,
            _ => unreachable!(),
        }
    }
    m
}
fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}
fn set(v: &[&str]) -> BTreeSet<String> {
    s(v).into_iter().collect()
}

fn distro() -> Catalog {
    Catalog::from_metas([
        svc("networking", &[("provide", &["net"]), ("after", &["bootmisc"])]),
        svc("dhcpcd", &[("provide", &["net"])]),
        svc("syslog", &[("provide", &["logger"])]),
        svc("dnsmasq", &[("provide", &["dns"]), ("need", &["net"])]),
        svc("firewall", &[("before", &["net"])]),
        svc("sshd", &[("need", &["net"]), ("use", &["logger", "dns"]), ("after", &["firewall"])]),
        svc("nginx", &[("need", &["net"]), ("use", &["dns", "logger"]), ("after", &["sshd"])]),
        svc("chronyd", &[("need", &["net"]), ("use", &["dns"]), ("want", &["syslog"])]),
        svc("local", &[("after", &["*"])]),
        svc("bootmisc", &[]),
    ])
}

#[test]
fn waves_follow_dependencies_and_virtuals_pick_the_runlevel_provider() {
    let p = start_plan(&distro(), &s(&["networking", "sshd", "nginx", "firewall", "local"]), &BTreeSet::new()).unwrap();
    assert_eq!(p.waves, vec![s(&["firewall"]), s(&["networking"]), s(&["sshd"]), s(&["nginx"]), s(&["local"])]);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let stop = stop_plan(&distro(), &s(&["networking", "sshd", "nginx", "firewall", "local"]));
    assert_eq!(stop.waves, vec![s(&["local"]), s(&["nginx"]), s(&["sshd"]), s(&["networking"]), s(&["firewall"])]);
}

#[test]
fn predecessors_are_the_direct_ordering_edges_and_lie_in_earlier_waves() {
    let targets = s(&["networking", "sshd", "nginx", "firewall", "local", "chronyd", "syslog"]);
    let p = start_plan(&distro(), &targets, &BTreeSet::new()).unwrap();
    assert_eq!(p.after["sshd"], set(&["firewall", "networking", "syslog"]));
    assert_eq!(p.after["chronyd"], set(&["networking", "syslog"]));
    assert!(p.after["firewall"].is_empty());
    let stop = stop_plan(&distro(), &targets);
    assert_eq!(stop.after["networking"], set(&["chronyd", "local", "nginx", "sshd"]));
    for plan in [&p, &stop] {
        assert_eq!(plan.after.len(), plan.order().len());
        for (svc, preds) in &plan.after {
            for pred in preds {
                assert!(plan.wave_of(pred) < plan.wave_of(svc), "{pred} must be done before {svc}: {:?}", plan.waves);
            }
        }
    }
}

#[test]
fn ambiguous_virtual_is_an_error_naming_candidates() {
    let e = start_plan(&distro(), &s(&["sshd"]), &BTreeSet::new()).unwrap_err();
    assert_eq!(e, OrderError::AmbiguousProvider { service: "sshd".into(), need: "net".into(), candidates: s(&["dhcpcd", "networking"]) });
    assert!(e.to_string().contains("dhcpcd, networking"));
    // One provider disabled: the sole remaining one is pulled in.
    let p = start_plan(&distro(), &s(&["sshd"]), &set(&["dhcpcd"])).unwrap();
    assert_eq!(p.order(), ["networking", "sshd"]);
    let e = start_plan(&distro(), &s(&["sshd"]), &set(&["dhcpcd", "networking"])).unwrap_err();
    assert!(matches!(e, OrderError::DisabledProviders { .. }), "{e}");
    assert!(e.to_string().contains("sshd") && e.to_string().contains("dhcpcd, networking"));
}

#[test]
fn use_orders_only_want_pulls_in_disabled_never_starts() {
    let cat = distro();
    let p = start_plan(&cat, &s(&["networking", "chronyd"]), &BTreeSet::new()).unwrap();
    // chronyd wants syslog: pulled in; uses dns: not pulled in.
    assert_eq!(p.waves, vec![s(&["networking", "syslog"]), s(&["chronyd"])]);
    let p = start_plan(&cat, &s(&["networking", "chronyd"]), &set(&["syslog"])).unwrap();
    assert_eq!(p.order(), ["networking", "chronyd"]);
    // A used service in the set orders first.
    let p = start_plan(&cat, &s(&["networking", "chronyd", "dnsmasq"]), &BTreeSet::new()).unwrap();
    assert!(p.wave_of("dnsmasq") < p.wave_of("chronyd"));
    // Disabled target: skipped with a warning.
    let p = start_plan(&cat, &s(&["networking", "bootmisc"]), &set(&["bootmisc"])).unwrap();
    assert_eq!(p.order(), ["networking"]);
    assert!(p.warnings[0].contains("bootmisc"));
    // Need of a disabled service: error naming both.
    let cat2 = Catalog::from_metas([svc("a", &[("need", &["b"])]), svc("b", &[])]);
    let e = start_plan(&cat2, &s(&["a"]), &set(&["b"])).unwrap_err();
    assert_eq!(e, OrderError::DisabledNeed { service: "a".into(), need: "b".into() });
    assert!(e.to_string().contains("'a'") && e.to_string().contains("'b'"));
}

#[test]
fn missing_need_and_unknown_target() {
    let cat = Catalog::from_metas([svc("a", &[("need", &["ghost"])]), svc("b", &[("want", &["ghost", "a"])])]);
    let e = start_plan(&cat, &s(&["a"]), &BTreeSet::new()).unwrap_err();
    assert_eq!(e, OrderError::MissingNeed { service: "a".into(), need: "ghost".into() });
    // want of something that cannot start is only a warning.
    let p = start_plan(&cat, &s(&["b"]), &BTreeSet::new()).unwrap();
    assert_eq!(p.order(), ["b"]);
    assert!(p.warnings.iter().any(|w| w.contains("ghost")), "{:?}", p.warnings);
    let e = start_plan(&cat, &s(&["zzz"]), &BTreeSet::new()).unwrap_err();
    assert_eq!(e, OrderError::UnknownService { service: "zzz".into() });
}

#[test]
fn need_cycle_is_named_soft_cycle_is_broken() {
    let cat = Catalog::from_metas([
        svc("a", &[("need", &["b"])]),
        svc("b", &[("need", &["c"])]),
        svc("c", &[("need", &["a"])]),
        svc("d", &[("need", &["a"])]),
    ]);
    let e = start_plan(&cat, &s(&["d"]), &BTreeSet::new()).unwrap_err();
    assert_eq!(e, OrderError::NeedCycle { cycle: s(&["a", "b", "c", "a"]) });
    assert!(e.to_string().contains("a → b → c → a"), "{e}");

    let cat = Catalog::from_metas([svc("x", &[("need", &["y"])]), svc("y", &[("after", &["x"])])]);
    let p = start_plan(&cat, &s(&["x", "y"]), &BTreeSet::new()).unwrap();
    assert_eq!(p.order(), ["y", "x"]);
    assert_eq!(p.dropped, vec![Edge { first: "x".into(), then: "y".into(), kind: DepKind::After }]);
    assert!(p.warnings[0].contains("ignoring 'y after x'"), "{:?}", p.warnings);
    // stop never fails, even on need cycles
    let cat = Catalog::from_metas([svc("a", &[("need", &["b"])]), svc("b", &[("need", &["a"])])]);
    let p = stop_plan(&cat, &s(&["a", "b", "gone"]));
    assert_eq!(p.order().len(), 3);
    assert_eq!(p.dropped.len(), 1);
}

#[test]
fn wildcards_yield_to_explicit_order() {
    let cat = Catalog::from_metas([
        svc("early", &[("before", &["*"])]),
        svc("late", &[("after", &["*"])]),
        svc("m", &[]),
        svc("needs_late", &[("need", &["late"])]),
    ]);
    let p = start_plan(&cat, &s(&["early", "late", "m", "needs_late"]), &BTreeSet::new()).unwrap();
    assert_eq!(p.waves, vec![s(&["early"]), s(&["m"]), s(&["late"]), s(&["needs_late"])]);
}

#[test]
fn lenient_skips_only_what_cannot_start() {
    let mut cat = Catalog::from_metas([svc("a", &[("need", &["ghost"])]), svc("b", &[]), svc("c", &[("need", &["a"])]), svc("d", &[("need", &["broken"])])]);
    cat.failures.insert(
        "broken".into(),
        crate::LoadFailure { service: "broken".into(), reason: "exited".into(), stderr: String::new(), timed_out: false },
    );
    let p = start_plan_lenient(&cat, &s(&["a", "b", "c", "d", "unknown"]), &BTreeSet::new());
    assert_eq!(p.order(), ["b"]);
    assert_eq!(p.skipped.keys().cloned().collect::<Vec<_>>(), s(&["a", "c", "d", "unknown"]));
    assert!(matches!(p.skipped["d"], OrderError::Broken { .. }));
}
