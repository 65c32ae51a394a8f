//! User namespaces: isolating a service where the caller has no CAP_SYS_ADMIN (an unprivileged
//! container). A process that creates a user namespace holds every capability inside it, so it
//! may then create mount, IPC, UTS (and, where a fresh /proc can be mounted, PID) namespaces
//! owned by it. The new namespace maps every id the caller has to itself (identity map), so
//! files, owners and `command_user` mean what they meant outside; the maps are written by a
//! helper process that stays outside and still holds CAP_SETUID/CAP_SETGID there.
//!
//! What the service gives up: capabilities over what the container's user namespace owns —
//! above all its network namespace, so binding a port below
//! `net.ipv4.ip_unprivileged_port_start` fails (Docker sets it to 0, podman leaves 1024).

use std::io::Read;

use crate::error::errno;
use crate::SandboxError;

/// What this kernel and container runtime allow, measured by [`probe_user_namespace`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernsSupport {
    /// None when a user namespace with identity maps can be created; else the failing step
    /// and its errno.
    pub failure: Option<(String, i32)>,
    /// A fresh /proc can be mounted in a new PID namespace inside it (a runtime that masks
    /// parts of /proc, as Docker and podman do by default, makes the kernel refuse it).
    pub proc_mount: bool,
    /// sethostname(2) works in a new UTS namespace inside it (podman's default seccomp
    /// profile refuses it without CAP_SYS_ADMIN).
    pub sethostname: bool,
}

impl UsernsSupport {
    pub fn available(&self) -> bool {
        self.failure.is_none()
    }
}

/// Maps every id of `map` (a /proc/PID/{uid,gid}_map of ours) to itself in a child namespace.
fn identity_map(map: &str) -> String {
    let mut out = String::new();
    for line in map.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [inside, _outside, count] = f[..] {
            out.push_str(&format!("{inside} {inside} {count}\n"));
        }
    }
    out
}

/// Creates a user namespace for the calling process and maps every id it has to itself.
/// The caller must be single-threaded; afterwards it holds every capability in the new
/// namespace, so [`crate::unshare_namespaces`] of the others succeeds without CAP_SYS_ADMIN.
/// Not async-signal-safe (reads /proc and forks a helper that writes the maps).
pub fn enter_user_namespace() -> Result<(), SandboxError> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_else(|_| "0 0 4294967295\n".into());
    let uid_map = identity_map(&read("/proc/self/uid_map"));
    let gid_map = identity_map(&read("/proc/self/gid_map"));
    let me = std::process::id();
    let uid_path = std::ffi::CString::new(format!("/proc/{me}/uid_map")).expect("no NUL");
    let gid_path = std::ffi::CString::new(format!("/proc/{me}/gid_map")).expect("no NUL");
    let mut fds = [0; 2];
    // SAFETY: room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SandboxError::last_os("pipe2", "out of file descriptors?"));
    }
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: the helper only reads, writes two files and exits.
    let helper = unsafe { libc::fork() };
    if helper < 0 {
        unsafe {
            libc::close(rd);
            libc::close(wr);
        }
        return Err(SandboxError::last_os("fork", "out of processes?"));
    }
    if helper == 0 {
        unsafe { libc::close(wr) };
        let mut b = [0u8; 1];
        // EOF: the parent could not create the namespace; nothing to do.
        if unsafe { libc::read(rd, b.as_mut_ptr().cast(), 1) } != 1 {
            unsafe { libc::_exit(0) };
        }
        for (path, text) in [(&uid_path, &uid_map), (&gid_path, &gid_map)] {
            // SAFETY: valid C string; the written buffer outlives the call.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
            if fd < 0 || unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) } != text.len() as isize {
                unsafe { libc::_exit(errno().clamp(1, 255)) };
            }
            unsafe { libc::close(fd) };
        }
        unsafe { libc::_exit(0) };
    }
    unsafe { libc::close(rd) };
    // SAFETY: plain syscall.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
    let err = errno();
    if rc == 0 {
        unsafe { libc::write(wr, b"m".as_ptr().cast(), 1) };
    }
    unsafe { libc::close(wr) };
    let mut status = 0;
    // SAFETY: our child.
    while unsafe { libc::waitpid(helper, &mut status, 0) } < 0 && errno() == libc::EINTR {}
    if rc != 0 {
        return Err(SandboxError::Syscall {
            step: "unshare(CLONE_NEWUSER)",
            errno: err,
            hint: "user namespaces are disabled (user.max_user_namespaces=0) or refused by the container's seccomp profile",
        });
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let e = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { libc::EINTR };
        return Err(SandboxError::Syscall {
            step: "writing the user namespace's uid_map/gid_map",
            errno: e,
            hint: "the id maps need CAP_SETUID and CAP_SETGID outside the namespace",
        });
    }
    Ok(())
}

/// Measures, in a throw-away child, whether a user namespace can be created here and what
/// works inside it. Takes a few milliseconds; the caller must be single-threaded.
pub fn probe_user_namespace() -> UsernsSupport {
    let mut fds = [0; 2];
    // SAFETY: room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return UsernsSupport { failure: Some(("pipe2".into(), errno())), proc_mount: false, sethostname: false };
    }
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: the child reports through the pipe and exits; it never returns.
    let child = unsafe { libc::fork() };
    if child == 0 {
        unsafe { libc::close(rd) };
        let say = |s: &str| unsafe {
            libc::write(wr, s.as_ptr().cast(), s.len());
        };
        if let Err(e) = enter_user_namespace() {
            let (step, no) = match &e {
                SandboxError::Syscall { step, errno, .. } => (step.to_string(), *errno),
                other => (other.to_string(), libc::EINVAL),
            };
            say(&format!("fail {no} {step}\n"));
            unsafe { libc::_exit(0) };
        }
        if unsafe { libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWPID) } != 0 {
            say(&format!("fail {} unshare of mount, UTS and PID namespaces inside it\n", errno()));
            unsafe { libc::_exit(0) };
        }
        // SAFETY: as above.
        let g = unsafe { libc::fork() };
        if g == 0 {
            let private = unsafe { libc::mount(c"none".as_ptr(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) } == 0;
            let proc_ok = private
                && unsafe { libc::mount(c"proc".as_ptr(), c"/proc".as_ptr(), c"proc".as_ptr(), libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, std::ptr::null()) } == 0;
            let host_ok = unsafe { libc::sethostname(c"probe".as_ptr(), 5) } == 0;
            say(&format!("ok {} {}\n", proc_ok as u8, host_ok as u8));
            unsafe { libc::_exit(0) };
        }
        let mut st = 0;
        if g > 0 {
            unsafe { libc::waitpid(g, &mut st, 0) };
        }
        unsafe { libc::_exit(0) };
    }
    unsafe { libc::close(wr) };
    let mut text = String::new();
    if child > 0 {
        // SAFETY: we own rd; File closes it.
        let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(rd) };
        let _ = f.read_to_string(&mut text);
        let mut st = 0;
        while unsafe { libc::waitpid(child, &mut st, 0) } < 0 && errno() == libc::EINTR {}
    } else {
        unsafe { libc::close(rd) };
        return UsernsSupport { failure: Some(("fork".into(), errno())), proc_mount: false, sethostname: false };
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["ok", p, h] => UsernsSupport { failure: None, proc_mount: *p == "1", sethostname: *h == "1" },
        ["fail", no, step @ ..] => UsernsSupport {
            failure: Some((step.join(" "), no.parse().unwrap_or(libc::EINVAL))),
            proc_mount: false,
            sethostname: false,
        },
        _ => UsernsSupport { failure: Some(("probe child".into(), libc::EINVAL)), proc_mount: false, sethostname: false },
    }
}

/// `spec` with every capability our bounding set lacks added to its drop list. A new user
/// namespace starts with a full bounding set; a service inside one must still hold no more
/// than the container gave (call this before entering it, or before joining one).
pub fn within_bounding_set(spec: &crate::SandboxSpec) -> crate::SandboxSpec {
    let bnd = crate::probe(std::process::id() as i32).map(|r| r.cap_bnd).unwrap_or(u64::MAX);
    let missing: Vec<String> = caps::all()
        .into_iter()
        .filter(|c| c.index() < 64 && bnd & (1u64 << c.index()) == 0)
        .map(|c| c.to_string())
        .collect();
    let mut s = spec.clone();
    if missing.is_empty() {
        return s;
    }
    s.cap_drop = match &spec.cap_drop {
        crate::CapDrop::All => crate::CapDrop::All,
        crate::CapDrop::None => crate::CapDrop::List(missing),
        crate::CapDrop::List(l) => {
            let mut v = l.clone();
            for m in missing {
                if !v.contains(&m) {
                    v.push(m);
                }
            }
            v.sort();
            crate::CapDrop::List(v)
        }
    };
    s
}

/// `net.ipv4.ip_unprivileged_port_start` of our network namespace: ports below it need
/// CAP_NET_BIND_SERVICE in the namespace's owner, which a service in a user namespace of its
/// own does not have. None when unreadable (no IPv4, /proc missing).
pub fn unprivileged_port_start() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").ok().and_then(|s| s.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_maps_keep_every_range_we_have() {
        assert_eq!(identity_map("         0          0 4294967295\n"), "0 0 4294967295\n");
        assert_eq!(identity_map("0 100000 65536\n"), "0 0 65536\n");
        assert_eq!(identity_map("0 1000 1\n1 100000 65536\n"), "0 0 1\n1 1 65536\n");
        assert_eq!(identity_map(""), "");
    }

    #[test]
    fn the_probe_answers_without_touching_the_caller() {
        let before = std::fs::read_link("/proc/self/ns/user").unwrap();
        let s = probe_user_namespace();
        assert_eq!(std::fs::read_link("/proc/self/ns/user").unwrap(), before);
        if let Some((step, no)) = &s.failure {
            assert!(!step.is_empty() && *no > 0, "{s:?}");
            assert!(!s.proc_mount && !s.sethostname);
        }
    }
}

/// Whether `/` is the root of a mount (statx STATX_ATTR_MOUNT_ROOT). Not when init runs in a
/// chroot of a plain directory: a private mount namespace cannot be set up there (making `/`
/// private fails with EINVAL), so services then share the mounts, as under OpenRC. True when
/// the kernel cannot tell (before Linux 5.8).
pub fn root_is_mount_point() -> bool {
    const STATX_ATTR_MOUNT_ROOT: u64 = 0x2000;
    // SAFETY: statx writes at most size_of::<statx>() bytes into buf.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::syscall(libc::SYS_statx, libc::AT_FDCWD, c"/".as_ptr(), 0, libc::STATX_BASIC_STATS, &mut buf as *mut libc::statx) };
    if rc != 0 || buf.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT == 0 {
        return true;
    }
    buf.stx_attributes & STATX_ATTR_MOUNT_ROOT != 0
}
