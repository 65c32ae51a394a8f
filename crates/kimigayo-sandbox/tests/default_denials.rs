//! The default filter's newer denials, probed one by one in a real sandbox (as root, with every
//! capability kept, so the EPERM can only come from the filter) and, as a control, unconfined
//! (where the same harmless call fails with another errno or succeeds).

mod common;

use common::run_selftest;
use kimigayo_sandbox::SandboxSpec;

#[test]
fn io_uring_modify_ldt_fanotify_and_device_mknod_are_denied_by_default() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let probes = ["io_uring_setup", "modify_ldt", "fanotify_init", "mknodat"];
    let spec = SandboxSpec::default_for("probe");
    let (code, report) = run_selftest(&spec, dir.path(), "confined", &probes).unwrap();
    assert_eq!(code, 0);
    let r = report.expect("selftest report");
    let open = SandboxSpec::unconfined();
    let (_, free) = run_selftest(&open, dir.path(), "free", &probes).unwrap();
    let free = free.expect("selftest report");
    for p in probes {
        assert_eq!(r.tries.get(p).copied(), Some(libc::EPERM), "{p} under the default filter: {:?}", r.tries);
        assert_ne!(free.tries.get(p).copied(), Some(libc::EPERM), "{p} unconfined (control): {:?}", free.tries);
    }
}

fn nix_is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn a_root_service_keeps_only_the_documented_capabilities_by_default() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keep: Vec<String> = kimigayo_sandbox::DEFAULT_KEEP_CAPS.iter().map(|s| s.to_string()).collect();
    let (code, report) = run_selftest(&SandboxSpec::default_for("probe"), dir.path(), "caps", &[]).unwrap();
    assert_eq!(code, 0);
    let r = report.expect("selftest report").report;
    let want = common::cap_mask(&keep);
    assert_eq!(r.cap_bnd, want, "bounding set {:#x}, documented keep set {want:#x}", r.cap_bnd);
    assert_eq!(r.cap_eff & !want, 0, "effective capabilities beyond the keep set: {:#x}", r.cap_eff);
    // sandbox_caps adds one back.
    let spec = SandboxSpec::from_vars("probe", &|k| (k == "sandbox_caps").then(|| "CAP_NET_RAW".to_string())).unwrap();
    let (_, report) = run_selftest(&spec, dir.path(), "caps2", &[]).unwrap();
    let raw = common::cap_mask(&["CAP_NET_RAW".to_string()]);
    assert_eq!(report.unwrap().report.cap_bnd, want | raw);
}

#[test]
fn kernel_tunables_sysrq_and_sysfs_are_read_only_for_services() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let probes = ["write_proc_sys", "write_sysrq", "write_sys"];
    let (code, report) = run_selftest(&SandboxSpec::default_for("probe"), dir.path(), "ro", &probes).unwrap();
    assert_eq!(code, 0);
    let confined = report.unwrap().tries;
    let (_, free) = run_selftest(&SandboxSpec::unconfined(), dir.path(), "rw", &probes).unwrap();
    let free = free.unwrap().tries;
    let mut checked = 0;
    for p in probes {
        // A path this kernel does not have (no /proc/sysrq-trigger here, say) proves nothing.
        if free.get(p) == Some(&libc::ENOENT) {
            continue;
        }
        assert_eq!(free.get(p), Some(&0), "{p} unconfined (control): {free:?}");
        assert_eq!(confined.get(p), Some(&libc::EROFS), "{p} in the default sandbox: {confined:?}");
        checked += 1;
    }
    assert!(checked >= 2, "too few of {probes:?} exist here to judge: {free:?}");
}

#[test]
fn chroot_file_handles_and_userfaultfd_are_denied_unless_allowed_on_purpose() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let probes = ["chroot", "open_by_handle_at", "userfaultfd"];
    // Every capability kept: an EPERM can only come from the filter.
    let keep_all = |extra: &[(&str, &str)]| {
        let extra: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        SandboxSpec::from_vars("probe", &move |k| {
            if k == "sandbox_cap_drop" {
                return Some("none".into());
            }
            extra.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
        })
        .unwrap()
    };
    let (_, r) = run_selftest(&keep_all(&[]), dir.path(), "confined", &probes).unwrap();
    let r = r.expect("selftest report");
    let (_, free) = run_selftest(&SandboxSpec::unconfined(), dir.path(), "free", &probes).unwrap();
    let free = free.expect("selftest report");
    for p in probes {
        assert_eq!(r.tries.get(p).copied(), Some(libc::EPERM), "{p} under the default filter: {:?}", r.tries);
        assert_ne!(free.tries.get(p).copied(), Some(libc::EPERM), "{p} unconfined (control): {:?}", free.tries);
    }
    // sandbox_allow="chroot" lets exactly that one through.
    let (_, a) = run_selftest(&keep_all(&[("sandbox_allow", "chroot")]), dir.path(), "allow", &probes).unwrap();
    let a = a.expect("selftest report");
    assert_eq!(a.tries.get("chroot").copied(), Some(libc::ENOENT), "{:?}", a.tries);
    assert_eq!(a.tries.get("userfaultfd").copied(), Some(libc::EPERM), "{:?}", a.tries);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn i386_int80_kills_and_x32_syscalls_are_refused() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let probes = ["int80", "x32"];
    let (_, r) = run_selftest(&SandboxSpec::default_for("probe"), dir.path(), "confined", &probes).unwrap();
    let r = r.expect("selftest report");
    let (_, free) = run_selftest(&SandboxSpec::unconfined(), dir.path(), "free", &probes).unwrap();
    let free = free.expect("selftest report");
    assert_eq!(r.tries.get("int80").copied(), Some(-libc::SIGSYS), "int 0x80 under the filter: {:?}", r.tries);
    assert_ne!(free.tries.get("int80").copied(), Some(-libc::SIGSYS), "int 0x80 unconfined (control): {:?}", free.tries);
    assert_eq!(r.tries.get("x32").copied(), Some(libc::EPERM), "x32 getpid under the filter: {:?}", r.tries);
    assert_ne!(free.tries.get("x32").copied(), Some(libc::EPERM), "x32 getpid unconfined (control): {:?}", free.tries);
}

#[test]
fn strict_mode_refuses_what_is_off_its_list_and_keeps_the_default_denials() {
    if !nix_is_root() {
        eprintln!("skipped: needs root for namespaces");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let probes = ["sethostname", "chroot", "swapon"];
    let spec = |seccomp: &str, allow: Option<&str>| {
        let (seccomp, allow) = (seccomp.to_string(), allow.map(str::to_string));
        SandboxSpec::from_vars("probe", &move |k| match k {
            "sandbox_cap_drop" => Some("none".into()),
            "sandbox_seccomp" => Some(seccomp.clone()),
            "sandbox_allow" => allow.clone(),
            _ => None,
        })
        .unwrap()
    };
    let (code, r) = run_selftest(&spec("strict", None), dir.path(), "strict", &probes).unwrap();
    assert_eq!(code, 0, "the selftest itself runs under strict");
    let r = r.expect("selftest report");
    for p in probes {
        assert_eq!(r.tries.get(p).copied(), Some(libc::EPERM), "{p} under strict: {:?}", r.tries);
    }
    // The default filter lets sethostname through (EINVAL: the name is too long).
    let (_, d) = run_selftest(&spec("default", None), dir.path(), "default", &probes).unwrap();
    assert_eq!(d.expect("report").tries.get("sethostname").copied(), Some(libc::EINVAL));
    // sandbox_allow adds to the strict list.
    let (_, a) = run_selftest(&spec("strict", Some("sethostname")), dir.path(), "strict-allow", &probes).unwrap();
    let a = a.expect("report");
    assert_eq!(a.tries.get("sethostname").copied(), Some(libc::EINVAL), "{:?}", a.tries);
    assert_eq!(a.tries.get("swapon").copied(), Some(libc::EPERM), "{:?}", a.tries);
}
