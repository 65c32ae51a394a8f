//! Init-system properties 12 (only enabled services start) and 24 (dependency order) over
//! random dependency graphs, on the pure ordering core (catalogs built in memory; loading
//! through the shell is covered by the other tests).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use kimigayo_rc::{apply_system_conf, disabled_set, runlevel, start_plan, stop_plan, Catalog, OrderError, Plan, RcRoot, ServiceMeta};
use proptest::prelude::*;

const VNET: &str = "vnet";
const GHOST: &str = "ghost";

#[derive(Debug, Clone)]
struct Deps {
    need: Vec<usize>,
    use_: Vec<usize>,
    want: Vec<usize>,
    after: Vec<usize>,
    before: Vec<usize>,
    provides_vnet: bool,
    needs_vnet: bool,
    uses_vnet: bool,
    needs_ghost: bool,
}

fn deps(n: usize) -> impl Strategy<Value = Deps> {
    let idx = move || prop::collection::vec(0..n, 0..3);
    let need = prop::collection::vec(0..n, 0..3).prop_map(|mut v| {
        v.truncate(v.len() / 2 + v.len() % 2); // fewer needs than other edges
        v
    });
    (need, idx(), idx(), idx(), idx(), prop::bool::weighted(0.3), prop::bool::weighted(0.2), prop::bool::weighted(0.2), prop::bool::weighted(0.02))
        .prop_map(|(need, use_, want, after, before, provides_vnet, needs_vnet, uses_vnet, needs_ghost)| Deps {
            need,
            use_,
            want,
            after,
            before,
            provides_vnet,
            needs_vnet,
            uses_vnet,
            needs_ghost,
        })
}

fn graph() -> impl Strategy<Value = Vec<Deps>> {
    (2usize..=10).prop_flat_map(|n| prop::collection::vec(deps(n), n))
}

fn name(i: usize) -> String {
    format!("s{i}")
}

/// How acyclic a random catalog is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// `need` only towards higher indices (virtual needs only when every provider is higher).
    NeedDag,
    /// Every ordering edge says "higher index first": no cycles at all.
    FullDag,
    /// Anything, cycles included.
    Any,
}

fn catalog(spec: &[Deps], shape: Shape) -> Catalog {
    let providers: Vec<usize> = (0..spec.len()).filter(|i| spec[*i].provides_vnet).collect();
    let names = |v: &[usize], keep: &dyn Fn(usize) -> bool| -> Vec<String> {
        v.iter().filter(|j| keep(**j)).map(|j| name(*j)).collect::<BTreeSet<_>>().into_iter().collect()
    };
    Catalog::from_metas(spec.iter().enumerate().map(|(i, d)| {
        let higher = |j: usize| j > i;
        let lower = |j: usize| j < i;
        let all = |_: usize| true;
        let dag = shape == Shape::FullDag;
        let vnet_ok = shape == Shape::Any || providers.iter().all(|p| *p > i);
        let mut m = ServiceMeta::new(name(i));
        m.need = names(&d.need, if shape == Shape::Any { &all } else { &higher });
        if d.needs_vnet && vnet_ok {
            m.need.push(VNET.into());
        }
        if d.needs_ghost {
            m.need.push(GHOST.into());
        }
        let after_kind: &dyn Fn(usize) -> bool = if dag { &higher } else { &all };
        m.use_ = names(&d.use_, after_kind);
        if d.uses_vnet && (!dag || vnet_ok) {
            m.use_.push(VNET.into());
        }
        m.want = names(&d.want, after_kind);
        m.after = names(&d.after, after_kind);
        m.before = names(&d.before, if dag { &lower } else { &all });
        if d.provides_vnet {
            m.provide.push(VNET.into());
        }
        m
    }))
}

/// What a dependency name can stand for: the service itself, or the providers of the virtual.
fn candidates(cat: &Catalog, dep: &str) -> Vec<String> {
    if cat.services.contains_key(dep) {
        vec![dep.to_owned()]
    } else {
        cat.services.values().filter(|m| m.provide.iter().any(|p| p == dep)).map(|m| m.name.clone()).collect()
    }
}

/// Reference model of the start set (the documented semantics, written plainly): the closure
/// of the enabled, non-disabled targets under `need`, then under `want` of services whose own
/// need-closure can be met. `None` when some need cannot be met.
fn model_set(cat: &Catalog, targets: &BTreeSet<String>, disabled: &BTreeSet<String>) -> Option<BTreeSet<String>> {
    // Ok(closure) or Err(()) for "a need cannot be met"; ambiguous virtual needs are checked at the end.
    fn close(cat: &Catalog, disabled: &BTreeSet<String>, mut set: BTreeSet<String>, amb: &mut Vec<Vec<String>>) -> Result<BTreeSet<String>, ()> {
        loop {
            let mut add = Vec::new();
            for s in &set {
                for n in &cat.services[s].need {
                    let c = candidates(cat, n);
                    if c.contains(s) {
                        continue;
                    }
                    let ok: Vec<String> = c.iter().filter(|x| !disabled.contains(*x)).cloned().collect();
                    match ok.len() {
                        0 => return Err(()),
                        1 => add.push(ok[0].clone()),
                        _ if cat.services.contains_key(n) => unreachable!(),
                        _ => amb.push(ok),
                    }
                }
            }
            let before = set.len();
            set.extend(add);
            if set.len() == before {
                return Ok(set);
            }
        }
    }
    let mut amb = Vec::new();
    let seeds: BTreeSet<String> = targets.iter().filter(|t| !disabled.contains(*t)).cloned().collect();
    let mut set = close(cat, disabled, seeds, &mut amb).ok()?;
    loop {
        let mut grown = false;
        for s in set.clone() {
            for w in &cat.services[&s].want {
                if disabled.contains(w) || set.contains(w) {
                    continue;
                }
                let mut a = Vec::new();
                let mut trial = set.clone();
                trial.insert(w.clone());
                if let Ok(bigger) = close(cat, disabled, trial, &mut a) {
                    set = bigger;
                    amb.extend(a);
                    grown = true;
                }
            }
        }
        if !grown {
            break;
        }
    }
    amb.iter().all(|c| c.iter().any(|x| set.contains(x))).then_some(set)
}

fn plan_set(p: &Plan) -> BTreeSet<String> {
    p.order().into_iter().map(str::to_owned).collect()
}

#[derive(Debug, Clone)]
struct Enablement {
    levels: Vec<Option<&'static str>>,
    disabled: Vec<bool>,
    via_system_conf: bool,
}

fn enablement(n: usize) -> impl Strategy<Value = Enablement> {
    (
        prop::collection::vec(prop::option::weighted(0.5, prop::sample::select(vec!["sysinit", "boot", "default"])), n),
        prop::collection::vec(prop::bool::weighted(0.25), n),
        any::<bool>(),
    )
        .prop_map(|(levels, disabled, via_system_conf)| Enablement { levels, disabled, via_system_conf })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 12: 任意のサービス設定に対して、明示的に有効化されたサービスのみが起動されなければならない**
    #[test]
    fn only_explicitly_enabled_services_start(
        (spec, en) in graph().prop_flat_map(|s| { let n = s.len(); (Just(s), enablement(n)) })
    ) {
        let cat = catalog(&spec, Shape::NeedDag);
        // Enablement through the real on-disk interface.
        let t = tempfile::tempdir().unwrap();
        let root = RcRoot::new(t.path());
        for i in 0..spec.len() {
            common::write_script(&root, &name(i), "depend() { :; }\n");
        }
        let mut expect_enabled = BTreeSet::new();
        for (i, l) in en.levels.iter().enumerate() {
            if let Some(l) = l {
                prop_assert_eq!(runlevel::add(&root, &name(i), l).unwrap(), runlevel::Added::Added);
                prop_assert_eq!(runlevel::add(&root, &name(i), l).unwrap(), runlevel::Added::Already);
                expect_enabled.insert(name(i));
            }
        }
        let disabled_list: Vec<String> = (0..spec.len()).filter(|i| en.disabled[*i]).map(name).collect();
        let disabled: BTreeSet<String> = if en.via_system_conf {
            apply_system_conf(&root, &[], &disabled_list).unwrap();
            let d = disabled_set(&root).unwrap();
            expect_enabled.retain(|s| !d.contains(s));
            d
        } else {
            disabled_list.iter().cloned().collect()
        };
        prop_assert_eq!(disabled.iter().cloned().collect::<Vec<_>>(), disabled_list.clone());
        let enabled = runlevel::enabled(&root, &["sysinit", "boot", "default"]).unwrap();
        prop_assert_eq!(&enabled, &expect_enabled);
        let targets: Vec<String> = enabled.iter().cloned().collect();

        let model = model_set(&cat, &enabled, &disabled);
        match start_plan(&cat, &targets, &disabled) {
            Ok(plan) => {
                let set = plan_set(&plan);
                prop_assert_eq!(Some(&set), model.as_ref(), "plan {:?}", plan);
                // Nothing disabled ever starts.
                prop_assert!(set.is_disjoint(&disabled));
                // Every enabled, non-disabled service starts.
                for t in &enabled {
                    prop_assert!(disabled.contains(t) || set.contains(t), "{} enabled but not started", t);
                }
                // Everything started is enabled or reached from an enabled service by need/want
                // (use never pulls anything in).
                let mut reached: BTreeSet<String> = enabled.difference(&disabled).cloned().collect();
                loop {
                    let more: Vec<String> = reached.iter()
                        .flat_map(|s| cat.services[s].need.iter().chain(&cat.services[s].want))
                        .flat_map(|d| candidates(&cat, d))
                        .filter(|c| set.contains(c) && !reached.contains(c))
                        .collect();
                    if more.is_empty() { break; }
                    reached.extend(more);
                }
                prop_assert_eq!(&reached, &set);
                // Every need of a started service is started.
                for s in &set {
                    for n in &cat.services[s].need {
                        let c = candidates(&cat, n);
                        prop_assert!(c.contains(s) || c.iter().any(|x| set.contains(x)), "{} needs {} unmet", s, n);
                    }
                }
                // A wanted service that is not started is disabled or cannot meet its needs.
                for s in &set {
                    for w in &cat.services[s].want {
                        if !set.contains(w) && !disabled.contains(w) {
                            let mut trial = set.clone();
                            trial.insert(w.clone());
                            prop_assert!(model_set(&cat, &trial, &disabled).is_none(), "{} wants {}, which could start", s, w);
                        }
                    }
                }
            }
            Err(e) => {
                prop_assert!(model.is_none(), "unexpected error {} (model {:?})", e, model);
                match &e {
                    OrderError::DisabledNeed { service, need } => {
                        prop_assert!(disabled.contains(need) && !disabled.contains(service));
                        prop_assert!(cat.services[service].need.contains(need));
                        prop_assert!(e.to_string().contains(service.as_str()) && e.to_string().contains(need.as_str()));
                    }
                    OrderError::DisabledProviders { service, need, providers } => {
                        prop_assert!(providers.iter().all(|p| disabled.contains(p)));
                        prop_assert!(cat.services[service].need.contains(need));
                    }
                    OrderError::MissingNeed { service, need } => {
                        prop_assert!(candidates(&cat, need).is_empty() && cat.services[service].need.contains(need));
                    }
                    OrderError::AmbiguousProvider { service, need, candidates: c } => {
                        prop_assert!(c.len() >= 2 && cat.services[service].need.contains(need));
                    }
                    other => prop_assert!(false, "need graph is acyclic and complete: {}", other),
                }
            }
        }
    }

    // **Feature: kimigayo-os-core, Property 24: 任意のサービス依存関係グラフに対して、Init_Systemは正しい依存関係の順序でサービスを開始しなければならない**
    #[test]
    fn services_start_in_dependency_order(
        (spec, pick, shape) in graph().prop_flat_map(|s| { let n = s.len(); (Just(s), prop::collection::vec(prop::bool::weighted(0.8), n),
            prop::sample::select(vec![Shape::FullDag, Shape::NeedDag, Shape::Any])) })
    ) {
        let cat = catalog(&spec, shape);
        let targets: Vec<String> = (0..spec.len()).filter(|i| pick[*i]).map(name).collect();
        let none = BTreeSet::new();
        match start_plan(&cat, &targets, &none) {
            Ok(plan) => {
                let set = plan_set(&plan);
                if shape == Shape::FullDag {
                    // No cycles to break (failed wants may still warn).
                    prop_assert!(plan.dropped.is_empty() && !plan.warnings.iter().any(|w| w.contains("cycle")), "{:?}", plan.warnings);
                }
                let wave: BTreeMap<&str, usize> = plan.waves.iter().enumerate().flat_map(|(w, v)| v.iter().map(move |s| (s.as_str(), w))).collect();
                // No service twice, waves sorted and non-empty.
                prop_assert_eq!(wave.len(), plan.order().len());
                for w in &plan.waves {
                    prop_assert!(!w.is_empty() && w.windows(2).all(|p| p[0] < p[1]));
                }
                let edges = ordering_edges(&cat, &set);
                // No need-cycle among what is planned.
                prop_assert!(find_need_cycle(&cat, &set).is_none());
                for (first, then, kind) in &edges {
                    let dropped = plan.dropped.iter().any(|e| &e.first == first && &e.then == then);
                    if dropped {
                        prop_assert!(*kind != "need", "a need edge was dropped: {:?}", plan.dropped);
                        // It really lay on a cycle: `first` is (transitively) after `then`.
                        prop_assert!(reaches(&edges, then, first), "dropped {}→{} without a cycle", first, then);
                    } else {
                        prop_assert!(wave[first.as_str()] < wave[then.as_str()], "{} {} {}: waves {:?}", then, kind, first, plan.waves);
                    }
                }
                // A wave holds nothing that waits for another service of the same or a later wave:
                // each service past wave 0 has a predecessor in the wave just before (waves are levels).
                for (w, v) in plan.waves.iter().enumerate().skip(1) {
                    for s in v {
                        prop_assert!(edges.iter().any(|(f, t, _)| t == s && wave[f.as_str()] == w - 1
                            && !plan.dropped.iter().any(|e| &e.first == f && &e.then == t)));
                    }
                }
                // Stopping is the exact reverse.
                let stop = stop_plan(&cat, &plan.order().iter().map(|s| s.to_string()).collect::<Vec<_>>());
                prop_assert_eq!(&stop.dropped, &plan.dropped);
                prop_assert_eq!(plan_set(&stop), set.clone());
                let swave: BTreeMap<&str, usize> = stop.waves.iter().enumerate().flat_map(|(w, v)| v.iter().map(move |s| (s.as_str(), w))).collect();
                for (first, then, _) in &edges {
                    if !plan.dropped.iter().any(|e| &e.first == first && &e.then == then) {
                        prop_assert!(swave[then.as_str()] < swave[first.as_str()], "stop {} before {}: {:?}", then, first, stop.waves);
                    }
                }
            }
            Err(OrderError::NeedCycle { cycle }) => {
                prop_assert_eq!(shape, Shape::Any);
                // The named cycle is real: closed, and each service needs the next.
                prop_assert!(cycle.len() >= 3 && cycle.first() == cycle.last(), "{:?}", cycle);
                for p in cycle.windows(2) {
                    let needs = cat.services[&p[0]].need.iter().any(|n| candidates(&cat, n).contains(&p[1]));
                    prop_assert!(needs, "{} does not need {} in {:?}", p[0], p[1], cycle);
                }
                let distinct: BTreeSet<&String> = cycle.iter().collect();
                prop_assert_eq!(distinct.len(), cycle.len() - 1, "a simple cycle: {:?}", cycle);
                let msg = OrderError::NeedCycle { cycle: cycle.clone() }.to_string();
                prop_assert!(msg.contains(&cycle.join(" → ")));
            }
            Err(OrderError::MissingNeed { service, need }) => {
                prop_assert!(candidates(&cat, &need).is_empty() && cat.services[&service].need.contains(&need));
            }
            Err(OrderError::AmbiguousProvider { service, need, candidates: c }) => {
                prop_assert!(c.len() >= 2 && cat.services[&service].need.contains(&need));
                prop_assert!(c.iter().all(|x| candidates(&cat, &need).contains(x)));
            }
            Err(other) => prop_assert!(false, "unexpected {}", other),
        }
    }
}

/// (first, then, kind): `then` must start after `first`, among `set`, from need/use/want/after
/// of `then` and before of `first` (virtual names stand for their providers in the set).
fn ordering_edges(cat: &Catalog, set: &BTreeSet<String>) -> Vec<(String, String, &'static str)> {
    let mut out = Vec::new();
    for a in set {
        let m = &cat.services[a];
        for (kind, list) in [("need", &m.need), ("use", &m.use_), ("want", &m.want), ("after", &m.after)] {
            for d in list {
                for b in candidates(cat, d) {
                    if &b != a && set.contains(&b) {
                        out.push((b, a.clone(), kind));
                    }
                }
            }
        }
        for d in &m.before {
            for b in candidates(cat, d) {
                if &b != a && set.contains(&b) {
                    out.push((a.clone(), b, "before"));
                }
            }
        }
    }
    out
}

/// Is `to` reachable from `from` following first→then edges?
fn reaches(edges: &[(String, String, &str)], from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(x) = stack.pop() {
        if x == to {
            return true;
        }
        if seen.insert(x.clone()) {
            stack.extend(edges.iter().filter(|(f, _, _)| *f == x).map(|(_, t, _)| t.clone()));
        }
    }
    false
}

fn find_need_cycle(cat: &Catalog, set: &BTreeSet<String>) -> Option<String> {
    let edges: Vec<(String, String, &str)> = ordering_edges(cat, set).into_iter().filter(|(_, _, k)| *k == "need").collect();
    set.iter().find(|s| edges.iter().any(|(f, t, _)| t == *s && reaches(&edges, s, f))).cloned()
}
