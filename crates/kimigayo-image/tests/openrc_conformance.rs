//! Differential conformance against real OpenRC: one corpus of init scripts (tests/conformance,
//! written in the distributions' style) runs under Debian's OpenRC 0.45 — a Debian 12 root with
//! the `openrc` package (mmdebstrap, cached), booted with `openrc sysinit/boot/default` in a
//! podman container — and under kimigayo-init as PID 1 of the init image. The driver prints
//! `key=value` lines (states after boot, exit codes of actions, files written, processes alive);
//! every key must agree, except the divergences listed in DIVERGENT with their reason (the
//! same table is in docs/init.md). Debian's OpenRC runs dpkg's start-stop-daemon, not
//! OpenRC's own: where the two differ, ours follows OpenRC's (what Alpine and Gentoo ship). Start order is compared as constraints (OpenRC starts one by
//! one, kimigayo-init in parallel waves): every ordering the scripts declare holds in both.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

const SCRIPTS: &[&str] = &["c-base", "c-dep", "c-wanted", "c-before", "c-daemon", "c-confd", "c-required", "c-user", "c-fail", "c-super", "c-log", "c-retry", "c-chroot"];
const DEFAULT_LEVEL: &[&str] = &["c-base", "c-dep", "c-before", "c-daemon", "c-confd", "c-user", "c-fail", "c-super", "c-log"];

/// Keys whose values differ on purpose, and why.
const DIVERGENT: &[(&str, &str)] = &[
    (
        "user_stop_exit",
        "Debian's OpenRC runs dpkg's start-stop-daemon, which does not find a daemon started with \
         command_user here (\"No /bin/sleep found running; none killed\") and fails the stop, leaving \
         it running; kimigayo-init stops it",
    ),
    (
        "ssd_signal_alone_exit",
        "start-stop-daemon --signal SIG without --start/--stop: dpkg's start-stop-daemon (what Debian's \
         OpenRC uses) refuses it (\"need one of --start or --stop or --status\"); OpenRC's own (Alpine, \
         Gentoo) sends the signal, and the distributions' reload functions rely on that; so does ours",
    ),
    (
        "log_out",
        "output_log: dpkg's start-stop-daemon has no --stdout, so the start fails under Debian's OpenRC; \
         OpenRC's own start-stop-daemon and kimigayo-init write the daemon's stdout there",
    ),
    (
        "describe_cgroup_cleanup",
        "OpenRC adds its cgroup_cleanup command (kill every process left in the service's cgroup) to \
         every script; kimigayo-init does not put services in cgroups — each runs in its own PID \
         namespace, and stop ends every process in it — so it has no such command",
    ),
    (
        "log_err",
        "error_log: as output_log (no --stderr in dpkg's start-stop-daemon)",
    ),
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// Debian 12 with OpenRC 0.45 as a podman image (`kimigayo-openrc-reference`), its root
/// filesystem cached as a tar in the build cache.
fn openrc_image() -> &'static str {
    let tar = debian_fixture("debian-bookworm-openrc-0.45.tar", "minbase", "openrc,procps");
    ok(podman(&["import", tar.to_str().unwrap(), "kimigayo-openrc-reference:latest"]));
    "localhost/kimigayo-openrc-reference:latest"
}

/// A build context: the corpus, its conf.d files, the driver, and a Containerfile adding them
/// to `base` with the runlevel links `rc-update add` would make.
fn context(dir: &Path, base: &str, cmd: &str) -> PathBuf {
    let ctx = dir.join(base.replace(['/', ':'], "_"));
    std::fs::create_dir_all(ctx.join("init.d")).unwrap();
    for s in SCRIPTS {
        std::fs::copy(corpus().join(s), ctx.join("init.d").join(s)).unwrap();
    }
    std::fs::copy(corpus().join("driver.sh"), ctx.join("driver.sh")).unwrap();
    let mut file = format!("FROM {base}\nCOPY --chmod=0755 init.d/ /etc/init.d/\nCOPY driver.sh /driver.sh\n");
    for c in ["c-confd", "c-daemon"] {
        std::fs::copy(corpus().join(format!("{c}.conf")), ctx.join(format!("{c}.conf"))).unwrap();
        file.push_str(&format!("COPY {c}.conf /etc/conf.d/{c}\n"));
    }
    file.push_str(&format!("RUN {}\n", DEFAULT_LEVEL.iter().map(|s| format!("ln -s /etc/init.d/{s} /etc/runlevels/default/{s}")).collect::<Vec<_>>().join(" && ")));
    file.push_str(&format!("CMD {cmd}\n"));
    std::fs::write(ctx.join("Containerfile"), file).unwrap();
    ctx
}

fn run(ctx: &Path, tag: &str) -> (BTreeMap<String, String>, String) {
    let _img = Loaded(format!("localhost/{tag}:latest"));
    ok(podman(&["build", "--pull=never", "-q", "-t", tag, ctx.to_str().unwrap()]));
    let o = podman(&["run", "--rm", &format!("localhost/{tag}:latest")]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let all = format!("{out}\n--- stderr\n{}", String::from_utf8_lossy(&o.stderr));
    let map = out.lines().filter_map(|l| l.split_once('=')).filter(|(k, _)| !k.contains(' ')).map(|(k, v)| (k.to_string(), v.trim().to_string())).collect();
    (map, all)
}

/// The start order's constraints the corpus declares: (first, then).
const ORDER: &[(&str, &str)] = &[
    ("c-base", "c-dep"),     // need c-virt (provided by c-base), after c-base
    ("c-before", "c-dep"),   // before c-dep
    ("c-wanted", "c-dep"),   // want
    ("c-base", "c-daemon"),  // need
    ("c-wanted", "c-confd"), // rc_need in conf.d
    ("c-daemon", "c-confd"), // rc_after in conf.d
];

fn check_order(who: &str, order: &str, all: &str) {
    let list: Vec<&str> = order.split(',').filter(|s| !s.is_empty()).map(|s| s.split_whitespace().next().unwrap_or("")).collect();
    let pos = |s: &str| list.iter().position(|x| *x == s).unwrap_or_else(|| panic!("{who}: {s} did not start: {list:?}\n{all}"));
    for (a, b) in ORDER {
        assert!(pos(a) < pos(b), "{who}: {a} must start before {b}: {list:?}");
    }
}

#[test]
fn the_same_scripts_behave_the_same_under_openrc_and_kimigayo_init() {
    let r = repo();
    let dir = tempfile::tempdir().unwrap();
    let reference = openrc_image();
    let mut spec = kimigayo_image::ImageSpec::load(&root().join("images/init.yaml")).unwrap();
    spec.image.name = "kimigayo-conformance".into();
    let rep = kimigayo_image::build(&spec, &r.path, &r.keys, r.epoch, &dir.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    let _base = load(&rep.oci_archive, "kimigayo-conformance");

    let openrc_ctx = context(dir.path(), reference, "[\"sh\", \"-c\", \"openrc sysinit >/dev/null 2>&1; openrc boot >/dev/null 2>&1; openrc default >/dev/null 2>&1; sh /driver.sh\"]");
    let ours_ctx = context(dir.path(), "localhost/kimigayo-conformance:latest", "[\"sh\", \"/driver.sh\"]");
    let (theirs, theirs_all) = run(&openrc_ctx, "kimigayo-conformance-openrc");
    let (ours, ours_all) = run(&ours_ctx, "kimigayo-conformance-ours");

    check_order("OpenRC", theirs.get("order").map_or("", String::as_str), &theirs_all);
    check_order("kimigayo-init", ours.get("order").map_or("", String::as_str), &ours_all);
    let set = |m: &BTreeMap<String, String>, k: &str| {
        let mut v: Vec<String> = m.get(k).map_or("", String::as_str).split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(set(&theirs, "order"), set(&ours, "order"), "the services started at boot differ\n=== OpenRC\n{theirs_all}\n=== ours\n{ours_all}");

    let mut table = String::from("| key | OpenRC 0.45 | kimigayo-init | |\n|---|---|---|---|\n");
    let mut differ = Vec::new();
    for (k, v) in &theirs {
        if k == "order" || k == "order_after" {
            continue;
        }
        let mine = ours.get(k).cloned().unwrap_or_else(|| "(missing)".into());
        let why = DIVERGENT.iter().find(|(d, _)| d == k).map(|(_, w)| *w);
        let verdict = match (mine == *v, why) {
            (true, _) => "same".to_string(),
            (false, Some(w)) => format!("diverges: {w}"),
            (false, None) => {
                differ.push(k.clone());
                "DIFFERENT".to_string()
            }
        };
        table.push_str(&format!("| {k} | {v} | {mine} | {verdict} |\n"));
    }
    eprintln!("{table}");
    assert!(differ.is_empty(), "behaviour differs from OpenRC in {differ:?}:\n{table}\n=== OpenRC\n{theirs_all}\n=== ours\n{ours_all}");
    assert!(theirs.len() >= 30, "the driver ran to the end under OpenRC:\n{theirs_all}");
}
