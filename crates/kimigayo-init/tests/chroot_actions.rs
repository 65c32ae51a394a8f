//! Init started in a chroot inside new namespaces (how a VM's initramfs or a test harness starts
//! it): every action of an isolated service — start, status, an extra command, stop — runs in
//! the chroot, not in the root of the mount namespace. setns(2) into a service's mount
//! namespace moves the caller to that namespace's root; before the fix, stop and extra commands
//! ran the host's /bin/sh on the host's /run ("cannot open …/runtime.sh") and the service was
//! killed at shutdown instead of stopped.

mod common;

use std::process::Command;

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn stop_and_extra_commands_run_in_the_chroot_of_an_isolated_service() {
    run_in_chroot(true);
}

/// The chroot is a plain directory, not a mount point: a private mount namespace cannot be
/// made there (`mount / MS_PRIVATE` fails with EINVAL, and every service failed to start);
/// services share the mounts, as under OpenRC, and keep their other namespaces.
#[test]
fn services_start_when_the_chroot_is_not_a_mount_point() {
    run_in_chroot(false);
}

fn run_in_chroot(root_is_a_mount: bool) {
    if !is_root() {
        eprintln!("skipped: needs root for namespaces and chroot");
        return;
    }
    let dir = tempfile::Builder::new().prefix("kimigayo-chroot").tempdir().unwrap();
    let r = dir.path();
    for d in ["usr", "etc/init.d", "etc/conf.d", "etc/runlevels/default", "dev", "proc", "sys", "run", "tmp", "var/log", "kimigayo"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    for (l, t) in [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")] {
        std::os::unix::fs::symlink(t, r.join(l)).unwrap();
    }
    std::fs::write(r.join("kimigayo/kimigayo-init"), b"").unwrap();
    let marker = "chroot-marker-7f3a";
    std::fs::write(r.join("etc/chroot-marker"), marker).unwrap();
    std::fs::write(
        r.join("etc/init.d/web"),
        "#!/sbin/openrc-run\ncommand=/bin/sleep\ncommand_args=1000\ncommand_background=yes\npidfile=/run/web.pid\n\
         extra_commands=\"where\"\nwhere() { einfo \"root holds $(cat /etc/chroot-marker)\"; }\n\
         stop() { ebegin \"Stopping web in $(cat /etc/chroot-marker)\"; start-stop-daemon --stop --pidfile /run/web.pid; eend $?; }\n",
    )
    .unwrap();
    std::fs::set_permissions(r.join("etc/init.d/web"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bin = common::bin();
    // The main command: every action, then report.
    let main = "K=/kimigayo/kimigayo-init; $K rc-service web start; echo start=$?; $K rc-service web status; echo status=$?; \
                $K rc-service web where; echo where=$?; $K rc-service web stop; echo stop=$?";
    let setup = format!(
        "set -e; mount --make-rprivate /; R={r}; {bind_root} mount --rbind /usr $R/usr; mount --rbind /dev $R/dev; \
         mount -t proc proc $R/proc; mount -t tmpfs tmpfs $R/run; mount --bind {bin} $R/kimigayo/kimigayo-init; \
         exec chroot $R /kimigayo/kimigayo-init --container -- /bin/sh -c '{main}'",
        r = r.display(),
        bin = bin.display(),
        bind_root = if root_is_a_mount { "mount --bind $R $R;" } else { "" },
    );
    let out = Command::new("unshare")
        .args(["--fork", "--pid", "--mount", "--uts", "--ipc", "--kill-child", "sh", "-c", &setup])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let text = common::text(&out);
    assert!(text.contains("start=0"), "{text}");
    assert!(text.contains(&format!("root holds {marker}")) && text.contains("where=0"), "the extra command ran outside the chroot:\n{text}");
    assert!(text.contains(&format!("Stopping web in {marker}")) && text.contains("stop=0"), "stop ran outside the chroot:\n{text}");
    assert!(!text.contains("cannot open"), "{text}");
    if root_is_a_mount {
        assert!(text.contains("namespaces=mount,pid,ipc,uts"), "the service was not isolated:\n{text}");
    } else {
        assert!(text.contains("namespaces=ipc,uts") && text.contains("/ is not a mount point"), "{text}");
    }
    assert!(text.contains("0 process(es) killed"), "the service was killed instead of stopped:\n{text}");
}
