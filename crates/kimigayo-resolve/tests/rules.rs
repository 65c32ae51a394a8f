//! One small hand-written universe per rule of the resolver's contract.

mod common;

use common::*;
use kimigayo_resolve::{install_order, install_plan, Request, Upgrade};

fn base() -> Vec<kimigayo_resolve::Candidate> {
    vec![
        pkg("musl", "1.2.5-r1"),
        pkg("busybox", "1.37.0-r1").dep("musl>=1.2.5").provide("sh").provide("/bin/sh"),
        pkg("dash", "0.5.12-r0").dep("musl").provide("sh"),
        pkg("openrc", "0.54-r0").dep("sh").dep("musl"),
        pkg("curl", "8.5.0-r0").dep("musl").dep("libcurl=8.5.0-r0"),
        pkg("libcurl", "8.5.0-r0").dep("musl"),
        pkg("zlib", "1.3-r0").dep("musl"),
    ]
}

#[test]
fn installs_the_dependency_closure_and_nothing_else() {
    let s = solve(&base(), &[], &[], install(&["curl"])).unwrap();
    assert_eq!(names(&s), ["curl 8.5.0-r0", "libcurl 8.5.0-r0", "musl 1.2.5-r1"]);
    assert_eq!(s.added.len(), 3);
    assert_eq!(s.new_world, [c("curl")]);
}

#[test]
fn prefers_the_newest_version_within_the_constraint() {
    let u = vec![pkg("b", "1.0"), pkg("b", "2.0"), pkg("b", "1.5"), pkg("a", "1.0").dep("b<2")];
    assert_eq!(names(&solve(&u, &[], &[], install(&["b"])).unwrap()), ["b 2.0"]);
    assert_eq!(names(&solve(&u, &[], &[], install(&["a"])).unwrap()), ["a 1.0", "b 1.5"]);
    assert_eq!(names(&solve(&u, &[], &[], install(&["b~1"])).unwrap()), ["b 1.5"]);
}

#[test]
fn a_virtual_name_is_satisfied_by_a_provider() {
    let s = solve(&base(), &[], &[], install(&["openrc"])).unwrap();
    let n = names(&s);
    assert!(n.contains(&"openrc 0.54-r0".to_string()));
    // Exactly one provider of sh, not both.
    let shells = n.iter().filter(|x| x.starts_with("busybox") || x.starts_with("dash")).count();
    assert_eq!(shells, 1, "{n:?}");
}

#[test]
fn an_installed_or_requested_provider_is_used_instead_of_adding_another() {
    // busybox is in the world: openrc's `sh` must not pull dash in as well.
    let s = solve(&base(), &[], &[c("busybox")], install(&["openrc"])).unwrap();
    assert_eq!(names(&s), ["busybox 1.37.0-r1", "musl 1.2.5-r1", "openrc 0.54-r0"]);
    let s = solve(&base(), &[], &[c("dash")], install(&["openrc"])).unwrap();
    assert_eq!(names(&s), ["dash 0.5.12-r0", "musl 1.2.5-r1", "openrc 0.54-r0"]);
}

#[test]
fn a_provider_made_redundant_by_another_is_dropped() {
    // dash is installed and favoured for openrc's `sh`, but curl-sh needs busybox anyway,
    // which provides `sh` as well: dash is no longer needed.
    let mut u = base();
    u.push(pkg("curl-sh", "1.0").dep("busybox"));
    let installed = [inst("dash", "0.5.12-r0"), inst("musl", "1.2.5-r1")];
    let s = solve(&u, &installed, &[], install(&["openrc", "curl-sh"])).unwrap();
    assert_eq!(names(&s), ["busybox 1.37.0-r1", "curl-sh 1.0", "musl 1.2.5-r1", "openrc 0.54-r0"]);
    assert_eq!(s.removed, [("dash".to_string(), v("0.5.12-r0"))]);
}

#[test]
fn versioned_provides_meet_versioned_constraints_only() {
    let u = vec![
        pkg("musl", "1.2.5-r1").provide("so:libc.so=1"),
        pkg("app", "1.0").dep("so:libc.so>=1"),
        pkg("old", "1.0").dep("so:libc.so>=2"),
        pkg("loose", "1.0").provide("so:libz.so"),
        pkg("needz", "1.0").dep("so:libz.so>=1"),
        pkg("anyz", "1.0").dep("so:libz.so"),
    ];
    assert_eq!(names(&solve(&u, &[], &[], install(&["app"])).unwrap()), ["app 1.0", "musl 1.2.5-r1"]);
    let e = solve(&u, &[], &[], install(&["old"])).unwrap_err().explanation;
    assert!(e.contains("old 1.0 requires so:libc.so>=2"), "{e}");
    assert!(e.contains("only provided by musl 1.2.5-r1 (so:libc.so=1)"), "{e}");
    assert!(solve(&u, &[], &[], install(&["needz"])).is_err(), "an unversioned provide has no version to match");
    assert_eq!(names(&solve(&u, &[], &[], install(&["anyz"])).unwrap()), ["anyz 1.0", "loose 1.0"]);
}

#[test]
fn conflicts_steer_the_choice_of_versions() {
    let u = vec![
        pkg("b", "1.0"),
        pkg("b", "2.0"),
        pkg("c", "1.0").conflict("b>=2"),
        pkg("d", "1.0").dep("b"),
    ];
    let s = solve(&u, &[], &[], install(&["c", "d"])).unwrap();
    assert_eq!(names(&s), ["b 1.0", "c 1.0", "d 1.0"]);
}

#[test]
fn conflicts_on_a_virtual_name_apply_to_its_providers() {
    let u = vec![pkg("busybox", "1.0").provide("sh"), pkg("bash", "5.0").conflict("sh"), pkg("x", "1").dep("sh")];
    assert!(names(&solve(&u, &[], &[], install(&["bash"])).unwrap()) == ["bash 5.0"]);
    let e = solve(&u, &[], &[], install(&["bash", "x"])).unwrap_err().explanation;
    assert!(e.contains("bash 5.0 conflicts with sh (busybox 1.0)"), "{e}");
}

#[test]
fn a_conflict_explanation_names_the_chain() {
    let u = vec![pkg("a", "1.0").dep("b>=2"), pkg("b", "1.0"), pkg("b", "2.0"), pkg("c", "1.0").conflict("b>=2")];
    let e = solve(&u, &[], &[], install(&["a", "c"])).unwrap_err().explanation;
    assert!(e.contains("both a and c were requested"), "{e}");
    assert!(e.contains("a 1.0 requires b>=2 (b 2.0)"), "{e}");
    assert!(e.contains("c 1.0 conflicts with b>=2 (b 2.0)"), "{e}");
}

#[test]
fn one_version_per_name() {
    let u = vec![pkg("b", "1.0"), pkg("b", "2.0"), pkg("x", "1").dep("b<2"), pkg("y", "1").dep("b>=2")];
    let e = solve(&u, &[], &[], install(&["x", "y"])).unwrap_err().explanation;
    assert!(e.contains("x 1 requires b<2 (b 1.0)") && e.contains("y 1 requires b>=2 (b 2.0)"), "{e}");
}

#[test]
fn other_architectures_are_ignored_and_explained() {
    let u = vec![
        pkg("musl", "1.2.5-r1"),
        pkg("musl", "9.9").arch("aarch64"),
        pkg("tzdata", "2024a-r0").arch("noarch"),
        pkg("busybox", "1.37.0-r1").arch("aarch64"),
        pkg("app", "1.0").dep("busybox"),
    ];
    let s = solve(&u, &[], &[], install(&["musl", "tzdata"])).unwrap();
    assert_eq!(names(&s), ["musl 1.2.5-r1", "tzdata 2024a-r0"]);
    let e = solve(&u, &[], &[], install(&["busybox"])).unwrap_err().explanation;
    assert_eq!(e, "busybox is required, but busybox exists only for aarch64; this root is x86_64");
    let e = solve(&u, &[], &[], install(&["app"])).unwrap_err().explanation;
    assert!(e.contains("app 1.0 requires busybox, but busybox exists only for aarch64; this root is x86_64"), "{e}");
}

#[test]
fn unknown_names_get_a_suggestion() {
    let e = solve(&base(), &[], &[], install(&["busybx"])).unwrap_err().explanation;
    assert_eq!(e, "busybx is required, but there is no package named `busybx` (did you mean `busybox`?)");
    let e = solve(&base(), &[], &[], install(&["qqqqqq"])).unwrap_err().explanation;
    assert_eq!(e, "qqqqqq is required, but there is no package named `qqqqqq`");
}

#[test]
fn a_missing_version_says_which_versions_exist() {
    let e = solve(&base(), &[], &[], install(&["busybox>=2"])).unwrap_err().explanation;
    assert_eq!(e, "busybox>=2 is required, but the only busybox is 1.37.0-r1");
    let u = vec![pkg("b", "1.0"), pkg("b", "1.1"), pkg("a", "1").dep("b>=3")];
    let e = solve(&u, &[], &[], install(&["b>=3"])).unwrap_err().explanation;
    assert_eq!(e, "b>=3 is required, but the available b versions are 1.1, 1.0");
    let e = solve(&u, &[], &[], install(&["a"])).unwrap_err().explanation;
    assert!(e.contains("a was requested") && e.contains("a 1 requires b>=3, but the available b versions are 1.1, 1.0"), "{e}");
}

fn versions() -> Vec<kimigayo_resolve::Candidate> {
    vec![
        pkg("a", "1.0").dep("b"),
        pkg("a", "2.0").dep("b>=2"),
        pkg("b", "1.0"),
        pkg("b", "2.0"),
        pkg("c", "1.0"),
        pkg("c", "2.0"),
        pkg("x", "1.0").dep("b>=2"),
    ]
}

#[test]
fn installed_versions_are_kept_by_default() {
    let installed = [inst("a", "1.0"), inst("b", "1.0"), inst("c", "1.0")];
    let world = [c("a"), c("c")];
    let s = solve(&versions(), &installed, &world, Request::default()).unwrap();
    assert_eq!(names(&s), ["a 1.0", "b 1.0", "c 1.0"]);
    assert!(s.added.is_empty() && s.removed.is_empty() && s.upgraded.is_empty());
    // A new requirement moves only what it must.
    let s = solve(&versions(), &installed, &world, install(&["x"])).unwrap();
    assert_eq!(names(&s), ["a 1.0", "b 2.0", "c 1.0", "x 1.0"]);
    assert_eq!(s.upgraded, [("b".to_string(), v("1.0"), v("2.0"))]);
}

#[test]
fn upgrade_all_and_upgrade_only() {
    let installed = [inst("a", "1.0"), inst("b", "1.0"), inst("c", "1.0")];
    let world = [c("a"), c("c")];
    let s = solve(&versions(), &installed, &world, upgrade(Upgrade::All)).unwrap();
    assert_eq!(names(&s), ["a 2.0", "b 2.0", "c 2.0"]);
    assert_eq!(s.upgraded.len(), 3);
    // Upgrading a pulls the b it needs, but c stays.
    let s = solve(&versions(), &installed, &world, upgrade(Upgrade::Only(vec!["a".into()]))).unwrap();
    assert_eq!(names(&s), ["a 2.0", "b 2.0", "c 1.0"]);
    let e = solve(&versions(), &installed, &world, upgrade(Upgrade::Only(vec!["zz".into()]))).unwrap_err();
    assert!(e.explanation.contains("`zz` is not installed"), "{e}");
}

#[test]
fn downgrades_are_reported() {
    let s = solve(&versions(), &[inst("c", "2.0")], &[c("c")], install(&["c<2"])).unwrap();
    assert_eq!(s.downgraded, [("c".to_string(), v("2.0"), v("1.0"))]);
    assert_eq!(s.new_world, [c("c<2")]);
}

#[test]
fn removal_takes_unneeded_dependencies_along() {
    let installed = [inst("curl", "8.5.0-r0"), inst("libcurl", "8.5.0-r0"), inst("musl", "1.2.5-r1"), inst("zlib", "1.3-r0")];
    let world = [c("curl"), c("zlib")];
    let req = Request { remove: vec!["curl".into()], ..Request::default() };
    let s = solve(&base(), &installed, &world, req).unwrap();
    assert_eq!(names(&s), ["musl 1.2.5-r1", "zlib 1.3-r0"]);
    assert_eq!(s.removed, [("curl".to_string(), v("8.5.0-r0")), ("libcurl".to_string(), v("8.5.0-r0"))]);
    assert_eq!(s.new_world, [c("zlib")]);
    // Installed but not needed by the world: removed on the next resolve too (autoremove).
    let s = solve(&base(), &installed, &[c("zlib")], Request::default()).unwrap();
    assert_eq!(names(&s), ["musl 1.2.5-r1", "zlib 1.3-r0"]);
}

#[test]
fn removing_something_still_needed_is_explained() {
    let installed = [inst("curl", "8.5.0-r0"), inst("libcurl", "8.5.0-r0"), inst("musl", "1.2.5-r1")];
    let req = Request { remove: vec!["libcurl".into()], ..Request::default() };
    let e = solve(&base(), &installed, &[c("curl")], req).unwrap_err().explanation;
    assert!(e.contains("`libcurl` is to be removed, but libcurl 8.5.0-r0 is needed"), "{e}");
    assert!(e.contains("curl 8.5.0-r0 requires libcurl=8.5.0-r0"), "{e}");
    let req = Request { remove: vec!["curll".into()], ..Request::default() };
    let e = solve(&base(), &installed, &[c("curl")], req).unwrap_err().explanation;
    assert_eq!(e, "`curll` is not installed, so it cannot be removed (did you mean `curl`?)");
}

#[test]
fn install_replaces_a_world_entry_of_the_same_name() {
    let s = solve(&versions(), &[], &[c("b<2"), c("c")], install(&["b>=2"])).unwrap();
    assert_eq!(s.new_world, [c("b>=2"), c("c")]);
    assert_eq!(names(&s), ["b 2.0", "c 2.0"]);
    let both = Request { install: vec![c("b")], remove: vec!["b".into()], ..Request::default() };
    assert!(solve(&versions(), &[], &[], both).unwrap_err().explanation.contains("both installed and removed"));
}

#[test]
fn the_answer_does_not_depend_on_input_order() {
    let mut u = base();
    let world = [c("openrc"), c("curl")];
    let first = solve(&u, &[], &world, Request::default()).unwrap();
    for _ in 0..u.len() {
        u.rotate_left(1);
        let w: Vec<_> = world.iter().rev().cloned().collect();
        assert_eq!(solve(&u, &[], &w, Request::default()).unwrap(), first);
    }
    u.reverse();
    assert_eq!(solve(&u, &[], &world, Request::default()).unwrap(), first);
}

#[test]
fn install_order_puts_dependencies_first() {
    let u = base();
    let s = solve(&u, &[], &[], install(&["curl", "openrc"])).unwrap();
    let order = install_order(&s, &u);
    let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
    assert_eq!(order.len(), s.install.len());
    assert!(pos("musl") < pos("libcurl") && pos("libcurl") < pos("curl"));
    assert!(pos("musl") < pos("busybox") && pos("busybox") < pos("openrc"), "{order:?}");
}

#[test]
fn install_order_breaks_cycles_deterministically() {
    let u = vec![pkg("a", "1").dep("b"), pkg("b", "1").dep("c"), pkg("c", "1").dep("a").dep("d"), pkg("d", "1"), pkg("e", "1").dep("a")];
    let s = solve(&u, &[], &[], install(&["e"])).unwrap();
    let plan = install_plan(&s, &u);
    assert_eq!(plan.order, ["d", "a", "b", "c", "e"]);
    assert_eq!(plan.cycles, [vec!["a".to_string(), "b".into(), "c".into()]]);
    let mut r = u.clone();
    r.reverse();
    assert_eq!(install_plan(&solve(&r, &[], &[], install(&["e"])).unwrap(), &r), plan);
}
