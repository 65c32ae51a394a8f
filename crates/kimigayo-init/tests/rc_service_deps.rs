//! `rc-service X start` as OpenRC does it: what X needs is started first (virtual names through
//! their provider), a need that fails stops X with both named, `-D` starts X alone, and a
//! need on a service keyworded out on this system (`rc_sys`) counts as met.

mod common;

use common::*;

fn oneshot(r: &Root, name: &str, depend: &str, ok: bool) {
    let depend = if depend.is_empty() { ":" } else { depend };
    r.service(
        name,
        &format!(
            "depend() {{ {depend}; }}\nstart() {{ ebegin \"Starting {name}\"; echo {name} >> \"$KIMIGAYO_ROOT/order\"; echo \"$RC_SYS\" > \"$KIMIGAYO_ROOT/rc_sys\"; eend {}; }}\nstop() {{ return 0; }}",
            if ok { 0 } else { 1 }
        ),
    );
}

#[test]
fn rc_service_start_starts_what_the_service_needs_first() {
    let r = Root::new();
    oneshot(&r, "db", "need clock", true);
    oneshot(&r, "osclock", "provide clock", true);
    oneshot(&r, "cache", "after db", true);
    oneshot(&r, "web", "need db; want cache; use logger", true);
    let o = r.cmd("rc-service", &["web", "start"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(r.read("order").split_whitespace().collect::<Vec<_>>(), ["osclock", "db", "cache", "web"], "{}", text(&o));
    // Started ones are not started again.
    oneshot(&r, "api", "need db", true);
    assert_eq!(r.cmd("rc-service", &["api", "start"]).status.code(), Some(0));
    assert_eq!(r.read("order").split_whitespace().collect::<Vec<_>>(), ["osclock", "db", "cache", "web", "api"]);
    // -D: the service alone.
    oneshot(&r, "solo", "need lonely", true);
    oneshot(&r, "lonely", "", true);
    assert_eq!(r.cmd("rc-service", &["-D", "solo", "start"]).status.code(), Some(0));
    assert!(r.read("order").ends_with("api\nsolo\n"), "{}", r.read("order"));
}

#[test]
fn a_failing_need_stops_the_start_with_both_named() {
    let r = Root::new();
    oneshot(&r, "broken", "", false);
    oneshot(&r, "web", "need broken", true);
    let o = r.cmd("rc-service", &["web", "start"]);
    let t = text(&o);
    assert_ne!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("cannot start web as broken would not start"), "{t}");
    assert!(!r.read("order").contains("web"), "web must not start: {}", r.read("order"));
}

#[test]
fn a_need_on_a_service_keyworded_out_here_is_met() {
    let r = Root::new();
    r.file("etc/rc.conf", "rc_sys=\"docker\"\n");
    oneshot(&r, "networking", "provide net; keyword -docker", true);
    oneshot(&r, "hostname", "keyword -containers", true);
    oneshot(&r, "web", "need net hostname; use dns", true);
    let o = r.cmd("rc-service", &["web", "start"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(r.read("order").trim(), "web", "keyworded services do not run here: {}", text(&o));
    assert_eq!(r.read("rc_sys").trim(), "DOCKER", "RC_SYS as OpenRC exports it");
    // On a machine the same need starts the provider first.
    r.file("etc/rc.conf", "rc_sys=\"\"\n");
    std::fs::remove_file(r.path().join("order")).unwrap();
    oneshot(&r, "app", "need net hostname", true);
    let o = r.cmd("rc-service", &["app", "start"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(r.read("order").split_whitespace().collect::<Vec<_>>(), ["hostname", "networking", "app"], "{}", text(&o));
}
