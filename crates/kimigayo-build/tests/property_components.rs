//! Property 10: adding and removing Core_Utilities components (BusyBox applets) at
//! configuration time works for any component.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use kimigayo_build::{Builder, Quiet};
use kimigayo_kconfig::{applet_symbol, select_applets, Config};
use proptest::prelude::*;

/// The applets of the real BusyBox package (`busybox --list` of what `make` built).
fn real_applets() -> &'static Vec<String> {
    static A: OnceLock<Vec<String>> = OnceLock::new();
    A.get_or_init(|| {
        let repo = tempfile::tempdir().unwrap();
        let mut b = Builder::new(config(repo.path()), &Quiet).unwrap();
        let out = b.build(&["busybox".into()]).unwrap_or_else(|e| panic!("{e}"));
        let p = &out.iter().find(|o| o.recipe == "busybox").unwrap().packages[0];
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::open(repo.path().join(&p.architecture).join(&p.filename)).unwrap();
        tar::Archive::new(flate2::read::GzDecoder::new(f)).unpack(dir.path()).unwrap();
        let list = Command::new(dir.path().join("bin/busybox")).arg("--list").output().unwrap();
        let names: Vec<String> = String::from_utf8_lossy(&list.stdout).lines().map(String::from).collect();
        assert!(names.len() > 200, "the container BusyBox config has ~230 applets, got {}", names.len());
        names
    })
}

fn base() -> Config {
    Config::parse(&std::fs::read_to_string(root().join("recipes/busybox/files/busybox.config")).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 10: 任意のCore_Utilitiesコンポーネントに対して、システム設定時の追加・削除操作が正常に動作しなければならない**
    #[test]
    fn adding_and_removing_any_applet_works(picks in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..40)) {
        let applets = real_applets();
        let base = base();
        // Only applets with their own Kconfig symbol can be toggled (a few, like `[`, are aliases).
        let toggleable: Vec<&String> = applets.iter().filter(|a| base.get(&applet_symbol(a)).is_some()).collect();
        prop_assert!(toggleable.len() > 200);
        let mut add = Vec::new();
        let mut remove = Vec::new();
        for (i, is_add) in &picks {
            let a = toggleable[i.index(toggleable.len())].clone();
            if *is_add { add.push(a) } else { remove.push(a) }
        }
        let c = select_applets(&base, &add, &remove).unwrap();
        let removed: BTreeSet<String> = remove.iter().map(|a| applet_symbol(a)).collect();
        for a in &add {
            let s = applet_symbol(a);
            prop_assert_eq!(c.is_enabled(&s), !removed.contains(&s), "{}", a);
        }
        for s in &removed {
            prop_assert!(!c.is_enabled(s), "{} still enabled", s);
        }
        // Nothing else moved, and the result is a valid config that round-trips.
        let touched: BTreeSet<String> = add.iter().chain(&remove).map(|a| applet_symbol(a)).collect();
        for (sym, v) in base.symbols() {
            if !touched.contains(sym) {
                prop_assert_eq!(c.get(sym), Some(v), "{} changed", sym);
            }
        }
        prop_assert_eq!(Config::parse(&c.render()).unwrap(), c.clone());
        // Undoing the selection restores the original configuration.
        let orig_on: Vec<String> = touched.iter().filter(|s| base.is_enabled(s)).map(|s| s.trim_start_matches("CONFIG_").to_lowercase()).collect();
        let orig_off: Vec<String> = touched.iter().filter(|s| !base.is_enabled(s)).map(|s| s.trim_start_matches("CONFIG_").to_lowercase()).collect();
        let back = select_applets(&c, &orig_on, &orig_off).unwrap();
        for s in &touched {
            prop_assert_eq!(back.is_enabled(s), base.is_enabled(s), "{} not restored", s);
        }
    }
}

/// End to end: a real BusyBox build with applets removed lacks them, one added has it, and the
/// default is unchanged.
#[test]
fn removing_applets_rebuilds_busybox_without_them() {
    let repo = tempfile::tempdir().unwrap();
    let mut cfg = config(repo.path());
    cfg.applets_remove = vec!["vi".into(), "ed".into()];
    cfg.applets_add = vec!["bc".into()]; // off in the container config: adding works too
    let mut b = Builder::new(cfg, &Quiet).unwrap();
    let out = b.build(&["busybox".into()]).unwrap_or_else(|e| panic!("{e}"));
    let p = &out.iter().find(|o| o.recipe == "busybox").unwrap().packages[0];
    let dir = tempfile::tempdir().unwrap();
    let f = std::fs::File::open(repo.path().join(&p.architecture).join(&p.filename)).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(f)).unpack(dir.path()).unwrap();
    let list = Command::new(dir.path().join("bin/busybox")).arg("--list").output().unwrap();
    let names: BTreeSet<String> = String::from_utf8_lossy(&list.stdout).lines().map(String::from).collect();
    assert!(!names.contains("vi") && !names.contains("ed"), "removed applets still present");
    assert!(names.contains("ls") && names.contains("sh"));
    assert!(names.contains("bc"), "an added applet is built in");
    assert!(!real_applets().iter().any(|a| a == "bc"), "the default build has no bc");
    assert!(!dir.path().join("bin/vi").exists() && !dir.path().join("usr/bin/vi").exists());
    assert!(real_applets().iter().any(|a| a == "vi"), "the default build has vi");
    let err = Builder::new({ let mut c = config(repo.path()); c.applets_add = vec!["vim".into()]; c }, &Quiet)
        .unwrap()
        .build(&["busybox".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`vim`") && err.contains("busybox.config"), "{err}");
}
