//! End to end: the `linux` package's kernel and the images/vm.yaml root filesystem as an
//! initramfs boot under QEMU (software emulation), kimigayo-init starts the vm-ready service,
//! its marker reaches the serial console and the guest powers the machine off (QEMU exits 0).

use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

#[test]
fn vm_boots_to_the_ready_marker_and_powers_off() {
    if std::process::Command::new("qemu-system-x86_64").arg("--version").output().is_err() {
        panic!("qemu-system-x86_64 is missing: run ./scripts/setup.sh");
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let mut cfg = kimigayo_build::default_config(&root()).unwrap();
    cfg.repo_dir = repo.clone();
    let wanted: Vec<String> = ["baselayout", "musl", "busybox", "kimigayo-init", "vm-ready", "linux"].iter().map(|s| s.to_string()).collect();
    kimigayo_build::Builder::new(cfg.clone(), &kimigayo_build::Quiet).unwrap().build(&wanted).unwrap_or_else(|e| panic!("{e}"));
    let key = kimigayo_sign::SecretKey::generate("VM tests <vm@kimigayo.test>", None).unwrap();
    kimigayo_pkg::build_index(&repo, &key, 1, Duration::from_secs(86_400), vec![], std::time::SystemTime::now()).unwrap();
    let mut keys = kimigayo_sign::Keyring::new();
    keys.add(key.public(), "test");
    let spec = kimigayo_image::ImageSpec::load(&root().join("images/vm.yaml")).unwrap();

    let out = dir.path().join("out");
    let v = kimigayo_vm::build(&spec, &repo, &keys, cfg.source_date_epoch, &out).unwrap();
    // Deterministic: a second composition gives the same initramfs bytes.
    let first = std::fs::read(&v.initramfs).unwrap();
    let again = kimigayo_vm::build(&spec, &repo, &keys, cfg.source_date_epoch, &dir.path().join("out2")).unwrap();
    assert_eq!(first, std::fs::read(&again.initramfs).unwrap(), "initramfs is not reproducible");

    // The kernel's hardening command line travels with the package and the VM files.
    assert!(v.cmdline.contains("init_on_free=1") && v.cmdline.contains("mitigations=auto,nosmt"), "{}", v.cmdline);
    assert_eq!(std::fs::read_to_string(out.join("kimigayo-vm-x86_64.cmdline")).unwrap().trim(), v.cmdline);
    // The hardening rule table holds for the VM as built (every rule met or waived).
    let kd = kimigayo_kernel::profile::KernelDir::new(root().join("kernel"));
    let (label, rules) = kd.rules("x86_64").unwrap();
    let table = kimigayo_vm::image::hardening(&v, &label, &rules).unwrap();
    assert_eq!(table.failed().count(), 0, "{}", table.failures());
    assert_eq!(v.sysctl.get("kernel.kptr_restrict").map(String::as_str), Some("2"));

    let mut o = kimigayo_vm::BootOptions::new(v.kernel.clone(), v.initramfs.clone());
    o.append.extend(v.cmdline.split_whitespace().map(str::to_string));
    o.timeout = Duration::from_secs(180);
    let r = kimigayo_vm::boot(&o).unwrap();
    eprintln!("marker after {:?} s, qemu exited after {:?} s with {:?}", r.marker_after, r.exited_after, r.exit_status);
    assert!(r.clean(), "no clean boot to the marker and power-off:\n{}", r.console);
    let c = &r.console;
    assert!(!c.contains("Kernel panic"), "{c}");
    // Every service of the boot did its job as root on the machine (no sandbox refusal).
    assert!(!c.contains("ERROR") && !c.contains("not started") && !c.contains("permission denied") && !c.contains("not permitted"), "{c}");
    for svc in ["Mounting /sys", "Mounting /dev", "Setting hostname to kimigayo", "Bringing up network interface lo", "Configuring kernel parameters"] {
        assert!(c.contains(svc), "`{svc}` missing from the console:\n{c}");
    }
    // Property 26 in the VM: services stopped, file systems unmounted and / read-only, nothing
    // failed, then the kernel powered the machine off (QEMU exit 0 above).
    let summary = c.lines().find(|l| l.contains("Shutdown complete:")).unwrap_or_else(|| panic!("no shutdown summary:\n{c}"));
    assert!(summary.contains(" 0 failed") && summary.contains(" 0 remaining"), "{summary}");
    let stopped: usize = summary.split("complete: ").nth(1).and_then(|t| t.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(stopped >= 5, "the boot's services were not all stopped: {summary}");
    assert!(c.contains("Unmounted /run") && c.contains("Remounted / read-only") || summary.contains("1 read-only"), "{c}");
    assert!(c.contains("reboot: Power down"), "{c}");
    assert!(c.find("KIMIGAYO-VM-READY") < c.find("Shutting down"), "marker after the shutdown began:\n{c}");
}
