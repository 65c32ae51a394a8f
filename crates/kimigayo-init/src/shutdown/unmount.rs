//! Unmounting at shutdown: children first, busy filesystems remounted read-only.

use std::ffi::CString;

use super::mountinfo::{self, Mount};
use crate::log::Log;
use crate::pid1::detect::Mode;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UnmountReport {
    pub unmounted: Vec<String>,
    pub read_only: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Set when unmounting was skipped entirely, with the reason.
    pub skipped: Option<String>,
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// True when unmounting cannot touch mounts someone else uses: we are PID 1 and our mount
/// namespace is not the one of the host's init (as seen through a host /proc).
pub fn own_mount_namespace() -> Result<(), String> {
    if std::process::id() != 1 {
        return Err("not PID 1 (running as a subreaper): the mounts belong to the host".into());
    }
    let proc_self = std::fs::read_link("/proc/self").map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    if proc_self != "1" {
        let a = std::fs::read_link("/proc/self/ns/mnt").ok();
        let b = std::fs::read_link("/proc/1/ns/mnt").ok();
        if a.is_none() || a == b {
            return Err("our mount namespace is the host's (start with `unshare --mount`)".into());
        }
    }
    Ok(())
}

fn cstr(s: &str) -> Option<CString> {
    CString::new(s).ok()
}

fn make_private() -> std::io::Result<()> {
    let root = cstr("/").unwrap_or_default();
    // SAFETY: mount(2) with valid C strings; MS_REC|MS_PRIVATE stops unmounts from propagating
    // to peer groups outside our namespace.
    let rc = unsafe {
        libc::mount(std::ptr::null(), root.as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null())
    };
    if rc != 0 {
        return Err(errno());
    }
    Ok(())
}

fn remount_ro(m: &Mount, mode: Mode) -> std::io::Result<()> {
    let Some(path) = cstr(&m.mount_point) else { return Err(std::io::ErrorKind::InvalidInput.into()) };
    let mut flags = libc::MS_REMOUNT | libc::MS_RDONLY;
    // In a container only this mount point becomes read-only (MS_BIND): remounting the
    // superblock would also make the host's view of that filesystem read-only.
    if mode == Mode::Container {
        flags |= libc::MS_BIND;
        for (opt, f) in [("nosuid", libc::MS_NOSUID), ("nodev", libc::MS_NODEV), ("noexec", libc::MS_NOEXEC)] {
            if m.options.iter().any(|o| o == opt) {
                flags |= f;
            }
        }
    }
    // SAFETY: mount(2) remount with valid C strings.
    let rc = unsafe { libc::mount(std::ptr::null(), path.as_ptr(), std::ptr::null(), flags, std::ptr::null()) };
    if rc != 0 {
        return Err(errno());
    }
    Ok(())
}

/// Unmounts everything but /, /proc, /sys, /dev (in reverse mountinfo order); what is busy is
/// remounted read-only and reported; `/` is remounted read-only in VM mode.
pub fn unmount_all(mode: Mode, log: &Log) -> UnmountReport {
    let mut report = UnmountReport::default();
    if let Err(why) = own_mount_namespace() {
        log.warn(&format!("not unmounting filesystems: {why}"));
        report.skipped = Some(why);
        return report;
    }
    if let Err(e) = make_private() {
        if e.raw_os_error() == Some(libc::EPERM) && mode == Mode::Container {
            // No CAP_SYS_ADMIN (an unprivileged container): nothing inside could mount anything,
            // so every mount is the runtime's, and it removes them with the container.
            log.info("Filesystems left to the container runtime (no CAP_SYS_ADMIN: nothing here was mounted by the container)");
            report.skipped = Some(format!("mount --make-rprivate /: {e} (unprivileged container)"));
            return report;
        }
        log.warn(&format!("cannot make / private ({e}); not unmounting so nothing propagates to the host"));
        report.skipped = Some(format!("mount --make-rprivate /: {e}"));
        return report;
    }
    let text = match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(t) => t,
        Err(e) => {
            log.error(&format!("cannot read /proc/self/mountinfo: {e}; filesystems stay mounted"));
            report.skipped = Some(e.to_string());
            return report;
        }
    };
    let mounts = match mountinfo::parse(&text) {
        Ok(m) => m,
        Err(e) => {
            log.error(&e.to_string());
            report.skipped = Some(e.to_string());
            return report;
        }
    };
    for m in mountinfo::unmount_order(&mounts) {
        let Some(path) = cstr(&m.mount_point) else { continue };
        // SAFETY: umount2 with a valid C string.
        if unsafe { libc::umount2(path.as_ptr(), 0) } == 0 {
            log.info(&format!("Unmounted {}", m.mount_point));
            report.unmounted.push(m.mount_point.clone());
            continue;
        }
        let e = errno();
        if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ENOENT) {
            // Already gone with its parent, or the point vanished.
            continue;
        }
        match remount_ro(&m, mode) {
            Ok(()) => {
                log.warn(&format!("{} is busy ({e}); remounted read-only", m.mount_point));
                report.read_only.push(m.mount_point.clone());
            }
            Err(e2) => {
                log.error(&format!("cannot unmount {} ({e}) nor remount it read-only ({e2})", m.mount_point));
                report.failed.push((m.mount_point.clone(), format!("{e}; remount: {e2}")));
            }
        }
    }
    if mode == Mode::Vm {
        if let Some(root) = mounts.iter().find(|m| m.mount_point == "/") {
            match remount_ro(root, mode) {
                Ok(()) => log.info("Remounted / read-only"),
                Err(e) => log.error(&format!("cannot remount / read-only: {e}")),
            }
        }
    }
    report
}
