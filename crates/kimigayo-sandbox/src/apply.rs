//! Applying a spec to the calling process: namespaces, the view inside them, and confinement
//! (no_new_privs, capabilities, seccomp). [`Prepared`] does all allocation, file reading and
//! BPF compiling up front, so its methods are async-signal-safe and may run between `fork()`
//! and `exec()` of a multi-threaded parent.

use std::ffi::CString;
use std::str::FromStr;

use crate::error::errno;
use crate::filter::{load_filter, CompiledFilter};
use crate::oci::compile_profile;
use crate::spec::{CapDrop, SandboxSpec, SeccompChoice};
use crate::SandboxError;

/// A spec made ready to apply: flags computed, host name and filter compiled.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub spec: SandboxSpec,
    ns_flags: libc::c_int,
    hostname: Option<CString>,
    /// Bit n set = capability n is dropped.
    pub drop_mask: u64,
    filter: Option<CompiledFilter>,
}

impl Prepared {
    /// Compiles the filter (reading the profile file if one is named) and resolves capabilities.
    pub fn new(spec: &SandboxSpec) -> Result<Self, SandboxError> {
        let filter = match &spec.seccomp {
            SeccompChoice::Default => Some(crate::filter::filter_for(crate::native_arch(), false, &spec.allow)?),
            SeccompChoice::Strict => Some(crate::filter::filter_for(crate::native_arch(), true, &spec.allow)?),
            SeccompChoice::Unconfined => None,
            SeccompChoice::Profile(p) => Some(compile_profile(p)?),
        };
        let hostname = match (&spec.hostname, spec.namespaces.uts) {
            (Some(h), true) => {
                Some(
                    CString::new(h.as_bytes()).map_err(|_| SandboxError::Syscall {
                        step: "sethostname",
                        errno: libc::EINVAL,
                        hint: "the host name contains a NUL byte",
                    })?,
                )
            }
            _ => None,
        };
        Ok(Prepared {
            spec: spec.clone(),
            ns_flags: spec.namespaces.clone_flags(),
            hostname,
            drop_mask: drop_mask(&spec.cap_drop),
            filter,
        })
    }

    /// Warnings from compiling the seccomp profile (skipped syscalls and rules).
    pub fn filter_warnings(&self) -> &[String] {
        self.filter
            .as_ref()
            .map(|f| f.warnings.as_slice())
            .unwrap_or(&[])
    }

    /// unshare(2) of the requested namespaces. With `pid`, only children of the caller are in the
    /// new PID namespace: fork next. The caller must be single-threaded for `mount`.
    pub fn unshare(&self) -> Result<(), SandboxError> {
        if self.ns_flags == 0 {
            return Ok(());
        }
        // SAFETY: plain syscall.
        if unsafe { libc::unshare(self.ns_flags) } != 0 {
            return Err(SandboxError::last_os(
                "unshare",
                "needs CAP_SYS_ADMIN and a single-threaded caller; or set sandbox_namespaces=none",
            ));
        }
        Ok(())
    }

    /// In the first process inside the new namespaces: make every mount private (so nothing
    /// propagates back to the host), mount a fresh /proc for the new PID namespace and set the
    /// host name in the new UTS namespace.
    pub fn setup_inside(&self) -> Result<(), SandboxError> {
        if self.ns_flags & libc::CLONE_NEWNS != 0 {
            // SAFETY: constant C strings, null data.
            let rc = unsafe {
                libc::mount(
                    c"none".as_ptr(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                )
            };
            if rc != 0 {
                return Err(SandboxError::last_os(
                    "mount / MS_REC|MS_PRIVATE",
                    "needs CAP_SYS_ADMIN in the new mount namespace",
                ));
            }
            // A fresh /proc shows the new PID namespace. Inside a user namespace without one
            // the kernel refuses a proc mount (the PID namespace is not ours): keep the old.
            let fresh_proc = self.ns_flags & libc::CLONE_NEWPID != 0 || !self.spec.namespaces.user;
            // SAFETY: as above.
            let rc = if !fresh_proc { 0 } else { unsafe {
                libc::mount(
                    c"proc".as_ptr(),
                    c"/proc".as_ptr(),
                    c"proc".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    std::ptr::null(),
                )
            } };
            if rc != 0 {
                return Err(SandboxError::last_os(
                    "mount proc on /proc",
                    "the root filesystem needs a /proc directory",
                ));
            }
            // Kernel tunables, the magic SysRq trigger and sysfs: read-only for services.
            for (path, what) in [
                (c"/proc/sys", "bind /proc/sys read-only"),
                (c"/proc/sysrq-trigger", "bind /proc/sysrq-trigger read-only"),
                (c"/sys", "bind /sys read-only"),
            ] {
                read_only(path, what)?;
            }
        }
        if let Some(h) = &self.hostname {
            // SAFETY: h is a valid C string of h.as_bytes().len() bytes.
            if unsafe { libc::sethostname(h.as_ptr(), h.as_bytes().len()) } != 0 {
                // Inside a user namespace some runtimes' seccomp profiles (podman's) still
                // refuse sethostname: the UTS namespace stays private, with the old name.
                if self.spec.namespaces.user && errno() == libc::EPERM {
                    return Ok(());
                }
                return Err(SandboxError::last_os(
                    "sethostname",
                    "sandbox_hostname must be at most 64 characters",
                ));
            }
        }
        Ok(())
    }

    /// The last step before exec: no_new_privs, capabilities, then the seccomp filter.
    ///
    /// Order: no_new_privs first; capabilities leave the bounding and ambient sets while
    /// CAP_SETPCAP is still there; then, with no_new_privs, capset before the filter (a profile
    /// may deny capset); without no_new_privs the filter is loaded before capset, because
    /// loading it then needs CAP_SYS_ADMIN, which capset may drop.
    pub fn confine(&self) -> Result<(), SandboxError> {
        if self.spec.no_new_privs {
            // SAFETY: plain prctl.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err(SandboxError::last_os(
                    "prctl(PR_SET_NO_NEW_PRIVS)",
                    "kernel older than 3.5?",
                ));
            }
        }
        self.drop_bounding_and_ambient()?;
        if self.spec.no_new_privs {
            self.capset()?;
            self.load_seccomp()
        } else {
            self.load_seccomp()?;
            self.capset()
        }
    }

    fn load_seccomp(&self) -> Result<(), SandboxError> {
        match &self.filter {
            Some(f) => load_filter(f),
            None => Ok(()),
        }
    }

    fn drop_bounding_and_ambient(&self) -> Result<(), SandboxError> {
        for cap in 0..64u64 {
            if self.drop_mask & (1 << cap) == 0 {
                continue;
            }
            // SAFETY: plain prctl.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0
                && errno() != libc::EINVAL
            {
                return Err(SandboxError::last_os(
                    "prctl(PR_CAPBSET_DROP)",
                    "dropping capabilities needs CAP_SETPCAP",
                ));
            }
            // SAFETY: plain prctl; EINVAL (cap unknown to the kernel, no ambient support) is fine.
            unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_LOWER as libc::c_ulong,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            };
        }
        Ok(())
    }

    fn capset(&self) -> Result<(), SandboxError> {
        if self.drop_mask == 0 {
            return Ok(());
        }
        let mut hdr = CapHeader {
            version: CAP_V3,
            pid: 0,
        };
        let mut data = [CapData::default(); 2];
        // SAFETY: header and two data words as capget(2) wants for version 3.
        if unsafe {
            libc::syscall(
                libc::SYS_capget,
                &mut hdr as *mut CapHeader,
                data.as_mut_ptr(),
            )
        } != 0
        {
            return Err(SandboxError::last_os(
                "capget",
                "reading our own capabilities cannot fail; is /proc sane?",
            ));
        }
        for (i, d) in data.iter_mut().enumerate() {
            let keep = !((self.drop_mask >> (32 * i)) as u32);
            d.effective &= keep;
            d.permitted &= keep;
            d.inheritable &= keep;
        }
        // SAFETY: as above.
        if unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) }
            != 0
        {
            return Err(SandboxError::last_os(
                "capset",
                "a seccomp profile that denies capset must come after it",
            ));
        }
        Ok(())
    }

    /// Enters the namespaces of `holder_pid` listed in the spec (async-signal-safe). All
    /// namespace files are opened before the first setns (after entering the mount namespace,
    /// /proc may be another one); the mount namespace is entered last. The PID namespace applies
    /// to children only: fork next.
    pub fn join(&self, holder_pid: i32) -> Result<(), SandboxError> {
        // The user namespace first: once in it, we hold the capabilities the others need.
        let entries = [
            ("user", c"user", libc::CLONE_NEWUSER),
            ("ipc", c"ipc", libc::CLONE_NEWIPC),
            ("uts", c"uts", libc::CLONE_NEWUTS),
            ("net", c"net", libc::CLONE_NEWNET),
            ("pid", c"pid", libc::CLONE_NEWPID),
            ("mnt", c"mnt", libc::CLONE_NEWNS),
        ];
        let mut fds = [-1; 6];
        let flags = self.ns_flags | if self.spec.namespaces.user { libc::CLONE_NEWUSER } else { 0 };
        let close_all = |fds: &[i32; 6]| {
            for fd in fds.iter().filter(|fd| **fd >= 0) {
                // SAFETY: we opened it.
                unsafe { libc::close(*fd) };
            }
        };
        for (i, (name, file, flag)) in entries.iter().enumerate() {
            if flags & flag == 0 {
                continue;
            }
            let mut buf = [0u8; 64];
            let path = ns_path(&mut buf, holder_pid, file.to_bytes());
            // SAFETY: path is NUL-terminated in buf.
            let fd = unsafe { libc::open(path, libc::O_RDONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                let e = errno();
                close_all(&fds);
                return Err(SandboxError::HolderGone {
                    pid: holder_pid,
                    ns: name,
                    errno: e,
                });
            }
            fds[i] = fd;
        }
        // The holder's root directory: setns(CLONE_NEWNS) moves us to the root of the mount
        // namespace, which is not the holder's when init runs in a chroot.
        let mut root_fd = -1;
        if self.ns_flags & libc::CLONE_NEWNS != 0 {
            let mut buf = [0u8; 64];
            let path = proc_path(&mut buf, holder_pid, b"", b"root");
            // SAFETY: path is NUL-terminated in buf.
            root_fd = unsafe { libc::open(path, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
            if root_fd < 0 {
                let e = errno();
                close_all(&fds);
                return Err(SandboxError::HolderGone { pid: holder_pid, ns: "root", errno: e });
            }
        }
        let close_root = |fd: i32| {
            if fd >= 0 {
                // SAFETY: we opened it.
                unsafe { libc::close(fd) };
            }
        };
        for (i, (_, _, flag)) in entries.iter().enumerate() {
            if fds[i] < 0 {
                continue;
            }
            // SAFETY: fd is an open namespace file.
            if unsafe { libc::setns(fds[i], *flag) } != 0 {
                let e = errno();
                close_all(&fds);
                close_root(root_fd);
                return Err(SandboxError::Syscall {
                    step: "setns",
                    errno: e,
                    hint:
                        "needs CAP_SYS_ADMIN and, for the mount namespace, a single-threaded caller",
                });
            }
        }
        close_all(&fds);
        if root_fd >= 0 {
            let r = enter_root(root_fd);
            close_root(root_fd);
            r?;
        }
        Ok(())
    }
}

/// Makes the directory `fd` (a holder's root, opened before setns) our root and working
/// directory, unless it already is `/`. Async-signal-safe.
fn enter_root(fd: i32) -> Result<(), SandboxError> {
    // SAFETY: stat buffers of the right type; fd is open.
    let (mut a, mut b) = unsafe { (std::mem::zeroed::<libc::stat>(), std::mem::zeroed::<libc::stat>()) };
    let same = unsafe { libc::fstat(fd, &mut a) == 0 && libc::stat(c"/".as_ptr(), &mut b) == 0 } && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    if !same {
        // SAFETY: plain syscalls on an open directory descriptor and constant strings.
        if unsafe { libc::fchdir(fd) } != 0 || unsafe { libc::chroot(c".".as_ptr()) } != 0 {
            return Err(SandboxError::last_os("chroot to the service's root", "the service runs under a chroot: needs CAP_SYS_CHROOT"));
        }
    }
    // SAFETY: constant string.
    unsafe { libc::chdir(c"/".as_ptr()) };
    Ok(())
}

/// Writes "/proc/<pid>/ns/<name>\0" into buf without allocating.
fn ns_path(buf: &mut [u8; 64], pid: i32, name: &[u8]) -> *const libc::c_char {
    proc_path(buf, pid, b"ns/", name)
}

/// Writes "/proc/<pid>/<dir><name>\0" into buf without allocating.
fn proc_path(buf: &mut [u8; 64], pid: i32, dir: &[u8], name: &[u8]) -> *const libc::c_char {
    let mut n = 0;
    let mut push = |b: &[u8]| {
        for c in b {
            if n < 63 {
                buf[n] = *c;
                n += 1;
            }
        }
    };
    push(b"/proc/");
    let mut digits = [0u8; 12];
    let mut d = 0;
    let mut v = pid.unsigned_abs();
    loop {
        digits[d] = b'0' + (v % 10) as u8;
        d += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if pid < 0 {
        push(b"-");
    }
    for i in (0..d).rev() {
        push(&[digits[i]]);
    }
    push(b"/");
    push(dir);
    push(name);
    buf[n] = 0;
    buf.as_ptr() as *const libc::c_char
}

const CAP_V3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
        .min(63)
}

fn drop_mask(c: &CapDrop) -> u64 {
    let last = last_cap();
    let upto = if last >= 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    };
    match c {
        CapDrop::None => 0,
        CapDrop::All => upto,
        CapDrop::List(names) => {
            names
                .iter()
                .filter_map(|n| caps::Capability::from_str(&caps::to_canonical(n)).ok())
                .fold(0u64, |m, cap| m | (1u64 << cap.index()))
                & upto
        }
    }
}

/// unshare(2) of the spec's namespaces; with `pid` the caller forks next (the child is PID 1).
/// Allocation-free.
pub fn unshare_namespaces(spec: &SandboxSpec) -> Result<(), SandboxError> {
    let flags = spec.namespaces.clone_flags();
    // SAFETY: plain syscall.
    if flags != 0 && unsafe { libc::unshare(flags) } != 0 {
        return Err(SandboxError::last_os(
            "unshare",
            "needs CAP_SYS_ADMIN and a single-threaded caller; or set sandbox_namespaces=none",
        ));
    }
    Ok(())
}

/// In the new namespaces' first process: `/` made rprivate, a fresh /proc, the host name.
/// Allocates (the host name); use [`Prepared::setup_inside`] after fork in a threaded program.
pub fn setup_inside(spec: &SandboxSpec) -> Result<(), SandboxError> {
    Prepared::new(&SandboxSpec {
        seccomp: SeccompChoice::Unconfined,
        cap_drop: CapDrop::None,
        ..spec.clone()
    })?
    .setup_inside()
}

/// Enters the namespaces of a running holder (setns through /proc/PID/ns/*); fork next so the
/// child is inside the PID namespace too.
pub fn join_namespaces(holder_pid: i32, spec: &SandboxSpec) -> Result<(), SandboxError> {
    let p = Prepared {
        spec: spec.clone(),
        ns_flags: spec.namespaces.clone_flags(),
        hostname: None,
        drop_mask: 0,
        filter: None,
    };
    p.join(holder_pid)
}

/// no_new_privs, capability drop and seccomp filter; the last step before exec. Compiles the
/// filter first, so use [`Prepared::confine`] after fork in a threaded program.
pub fn confine(spec: &SandboxSpec) -> Result<(), SandboxError> {
    Prepared::new(spec)?.confine()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_paths_are_formatted_without_allocation() {
        let mut b = [0u8; 64];
        let p = ns_path(&mut b, 12345, b"mnt");
        // SAFETY: NUL-terminated above.
        assert_eq!(
            unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap(),
            "/proc/12345/ns/mnt"
        );
        let p = ns_path(&mut b, 0, b"pid");
        assert_eq!(
            unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap(),
            "/proc/0/ns/pid"
        );
    }

    #[test]
    fn drop_masks() {
        assert_eq!(drop_mask(&CapDrop::None), 0);
        assert_eq!(
            drop_mask(&CapDrop::List(vec![
                "CAP_CHOWN".into(),
                "CAP_SYS_ADMIN".into()
            ])),
            1 | (1 << 21)
        );
        assert!(drop_mask(&CapDrop::All).count_ones() >= 38);
    }
}

/// Bind `path` onto itself and remount it read-only (keeping nosuid/nodev/noexec, which a
/// remount may not clear). A missing path is skipped. Async-signal-safe: no allocation.
fn read_only(path: &std::ffi::CStr, what: &'static str) -> Result<(), SandboxError> {
    // SAFETY: constant C strings, null data.
    let rc = unsafe { libc::mount(path.as_ptr(), path.as_ptr(), std::ptr::null(), libc::MS_BIND | libc::MS_REC, std::ptr::null()) };
    if rc != 0 {
        if crate::error::errno() == libc::ENOENT {
            return Ok(());
        }
        return Err(SandboxError::last_os(what, "needs CAP_SYS_ADMIN in the new mount namespace"));
    }
    let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY: as above.
    let rc = unsafe { libc::mount(std::ptr::null(), path.as_ptr(), std::ptr::null(), flags, std::ptr::null()) };
    if rc != 0 {
        return Err(SandboxError::last_os(what, "the remount read-only was refused"));
    }
    Ok(())
}
