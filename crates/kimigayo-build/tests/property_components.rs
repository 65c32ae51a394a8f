//! Property 10: adding and removing Core_Utilities components (BusyBox applets) at
//! configuration time works for any component: BusyBox is really rebuilt with the selection
//! (`kimigayo build --applets=+a,-b`, i.e. `applets_add`/`applets_remove`), and the binary's
//! `busybox --list` and the installed links are the default's plus the additions minus the
//! removals.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use common::*;
use kimigayo_build::{Builder, Quiet};
use proptest::prelude::*;

/// A BusyBox package built with one applet selection, unpacked.
struct Built {
    _dir: tempfile::TempDir,
    root: PathBuf,
    list: BTreeSet<String>,
}

fn build_busybox(add: &[String], remove: &[String]) -> Result<Built, String> {
    let repo = tempfile::tempdir().unwrap();
    let mut cfg = config(repo.path());
    cfg.applets_add = add.to_vec();
    cfg.applets_remove = remove.to_vec();
    let t = Instant::now();
    let out = Builder::new(cfg, &Quiet).unwrap().build(&["busybox".into()]).map_err(|e| e.to_string())?;
    let o = out.iter().find(|o| o.recipe == "busybox").unwrap();
    eprintln!("busybox +{add:?} -{remove:?}: {:.1} s ({})", t.elapsed().as_secs_f64(), if o.reused { "cached" } else { "built" });
    let p = &o.packages[0];
    let dir = tempfile::tempdir().unwrap();
    let f = std::fs::File::open(repo.path().join(&p.architecture).join(&p.filename)).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(f)).unpack(dir.path()).unwrap();
    let root = dir.path().to_path_buf();
    let l = Command::new(root.join("bin/busybox")).arg("--list").output().unwrap();
    assert!(l.status.success(), "busybox --list failed");
    let list = String::from_utf8_lossy(&l.stdout).lines().map(String::from).collect();
    Ok(Built { _dir: dir, root, list })
}

/// The default BusyBox (what `make` built, reused from the cache).
fn default_build() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        let b = build_busybox(&[], &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(b.list.len() > 200, "the container BusyBox config has ~230 applets, got {}", b.list.len());
        b
    })
}

/// Userland applets the container config leaves off (no libraries, hardware or kernel
/// interfaces beyond what musl has). Additions are drawn from these.
const OFF: &[&str] = &[
    "bc",
    "dc",
    "ed",
    "ar",
    "uncompress",
    "bzip2",
    "xz",
    "lzma",
    "lzop",
    "cryptpw",
    "mkpasswd",
    "ipcalc",
    "hexedit",
    "ts",
    "whois",
    "crontab",
    "chpst",
    "setuidgid",
    "envdir",
    "softlimit",
    "sv",
    "svlogd",
    "runsv",
    "script",
    "setarch",
    "iostat",
    "mpstat",
    "makemime",
    "reformime",
    "rpm2cpio",
    "tcpsvd",
    "telnet",
    "tftp",
    "pscan",
    "ftpget",
];

/// Applets never drawn for removal: the shell every script runs under.
const REQUIRED: &[&str] = &["sh", "ash"];

/// The recipe's BusyBox config.
fn kconfig() -> &'static kimigayo_kconfig::Config {
    static C: OnceLock<kimigayo_kconfig::Config> = OnceLock::new();
    C.get_or_init(|| kimigayo_kconfig::Config::parse(&std::fs::read_to_string(root().join("recipes/busybox/files/busybox.config")).unwrap()).unwrap())
}

/// Applets with a Kconfig symbol of their own (aliases such as `[` follow their applet).
fn own_symbol(a: &str) -> bool {
    kconfig().get(&kimigayo_kconfig::applet_symbol(a)).is_some()
}

/// A selection: applets to add (off by default) and to remove (on by default).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Selection {
    add: Vec<String>,
    remove: Vec<String>,
}

/// A small pool of selections, drawn at random once per run (seed: `KIMIGAYO_P10_SEED`,
/// default 1..=3 for the three slots) so that 100 cases need only three BusyBox builds.
fn pool() -> &'static Vec<Selection> {
    static P: OnceLock<Vec<Selection>> = OnceLock::new();
    P.get_or_init(|| {
        let base = &default_build().list;
        let on: Vec<&String> = base.iter().filter(|a| !REQUIRED.contains(&a.as_str()) && own_symbol(a)).collect();
        let off: Vec<&str> = OFF.iter().copied().filter(|a| !base.contains(*a)).collect();
        assert!(off.len() > 20, "most of OFF must be off in the container config: {off:?}");
        let seed: u64 = std::env::var("KIMIGAYO_P10_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
        let mut rng = proptest::test_runner::TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &{
            let mut s = [0u8; 32];
            s[..8].copy_from_slice(&seed.to_le_bytes());
            s
        });
        let pool: Vec<Selection> = (0..3)
            .map(|_| {
                let pick = |n: usize, from: &[String], rng: &mut proptest::test_runner::TestRng| {
                    let mut v: Vec<String> = Vec::new();
                    while v.len() < n {
                        let a = from[(rng.next_u64() % from.len() as u64) as usize].clone();
                        if !v.contains(&a) {
                            v.push(a);
                        }
                    }
                    v.sort();
                    v
                };
                let off_s: Vec<String> = off.iter().map(|s| s.to_string()).collect();
                let on_s: Vec<String> = on.iter().map(|s| s.to_string()).collect();
                let na = 1 + (rng.next_u64() % 4) as usize;
                let nr = 1 + (rng.next_u64() % 6) as usize;
                Selection { add: pick(na, &off_s, &mut rng), remove: pick(nr, &on_s, &mut rng) }
            })
            .collect();
        eprintln!("property 10 pool (KIMIGAYO_P10_SEED={seed}): {pool:#?}");
        pool
    })
}

/// Builds per selection, made once each.
fn built(sel: &Selection) -> &'static Built {
    static B: OnceLock<Mutex<Vec<(Selection, &'static Built)>>> = OnceLock::new();
    let m = B.get_or_init(|| Mutex::new(Vec::new()));
    let mut v = m.lock().unwrap();
    if let Some((_, b)) = v.iter().find(|(s, _)| s == sel) {
        return b;
    }
    let b: &'static Built =
        Box::leak(Box::new(build_busybox(&sel.add, &sel.remove).unwrap_or_else(|e| panic!("building BusyBox with +{:?} -{:?} failed:\n{e}", sel.add, sel.remove))));
    v.push((sel.clone(), b));
    b
}

/// Where BusyBox installs an applet's link, if anywhere.
fn link_of(root: &Path, applet: &str) -> Option<PathBuf> {
    ["bin", "sbin", "usr/bin", "usr/sbin"].iter().map(|d| root.join(d).join(applet)).find(|p| p.symlink_metadata().is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 10: 任意のCore_Utilitiesコンポーネントに対して、システム設定時の追加・削除操作が正常に動作しなければならない**
    #[test]
    fn adding_and_removing_any_applet_works(slot in 0usize..3, probe in prop::sample::subsequence((0..64usize).collect::<Vec<_>>(), 1..6)) {
        let base = default_build();
        let sel = &pool()[slot];
        let b = built(sel);
        // `busybox --list` is exactly the default's, plus the additions, minus the removals.
        let mut want = base.list.clone();
        for a in &sel.add { want.insert(a.clone()); }
        for a in &sel.remove { want.remove(a); }
        let missing: Vec<&String> = want.difference(&b.list).filter(|a| own_symbol(a)).collect();
        let extra: Vec<&String> = b.list.difference(&want).filter(|a| own_symbol(a)).collect();
        prop_assert!(missing.is_empty() && extra.is_empty(), "+{:?} -{:?}: busybox --list lacks {:?} and has unexpected {:?}", sel.add, sel.remove, missing, extra);
        // Links follow: every added applet has one to busybox, no removed applet keeps one,
        // and a random handful of untouched applets keep theirs.
        for a in &sel.add {
            let l = link_of(&b.root, a);
            prop_assert!(l.is_some(), "added applet {} has no link in bin/, sbin/, usr/bin/ or usr/sbin/", a);
            let target = std::fs::read_link(l.unwrap()).unwrap();
            prop_assert!(target.ends_with("busybox"), "{} links to {:?}, not busybox", a, target);
        }
        for a in &sel.remove {
            prop_assert!(link_of(&b.root, a).is_none(), "removed applet {} still has a link {:?}", a, link_of(&b.root, a));
        }
        let kept: Vec<&String> = want.iter().filter(|a| !sel.add.contains(a) && *a != "busybox").collect();
        for i in &probe {
            let a = kept[i % kept.len()];
            prop_assert!(link_of(&b.root, a).is_some(), "untouched applet {} lost its link", a);
        }
        // The added applets run.
        for a in &sel.add {
            let o = Command::new(b.root.join("bin/busybox")).arg(a).arg("--help").output().unwrap();
            let said = String::from_utf8_lossy(&o.stderr);
            prop_assert!(!said.contains("applet not found"), "{} is listed but does not run: {}", a, said);
        }
        // Removing the shell (`--applets=-ash`, or `-sh`), alone or among other removals, is
        // refused before anything builds, naming the applet and why it is required.
        let shell = REQUIRED[probe[0] % REQUIRED.len()];
        let repo = tempfile::tempdir().unwrap();
        let mut cfg = config(repo.path());
        cfg.applets_remove = sel.remove.iter().map(|a| a.to_string()).chain([shell.to_string()]).collect();
        let err = Builder::new(cfg, &Quiet).unwrap().build(&["busybox".into()]).map(|_| ()).map_err(|e| e.to_string());
        prop_assert!(err.is_err(), "removing `{}` was accepted", shell);
        let err = err.unwrap_err();
        prop_assert!(
            err.contains(&format!("applet `{shell}` cannot be removed")) && err.contains("/bin/sh") && err.contains("busybox.config"),
            "the error does not name `{}`, the reason and the config: {}",
            shell,
            err
        );
    }
}
