//! Harmless calls of the syscalls the default filter denies, for tests that prove the filter
//! from inside a sandbox (`kimigayo-sandbox-selftest --try NAME`). Each call uses arguments
//! that make it fail (or do nothing) even where it is allowed, so running it unconfined is safe;
//! under the filter it fails with the filter's errno instead.

/// (syscall, capability whose absence alone also yields EPERM for this call). A test that wants
/// to see the *filter's* EPERM must pick a call whose capability was not dropped.
pub const PROBES: &[(&str, Option<&str>)] = &[
    ("ptrace", None),
    ("process_vm_readv", None),
    ("process_vm_writev", None),
    ("kcmp", None),
    ("personality", None),
    ("keyctl", None),
    ("add_key", None),
    ("request_key", None),
    ("clock_settime", None),
    ("setns", None),
    ("fsconfig", None),
    ("open_tree", None),
    ("perf_event_open", None),
    ("name_to_handle_at", None),
    ("reboot", Some("CAP_SYS_BOOT")),
    ("kexec_load", Some("CAP_SYS_BOOT")),
    ("mount", Some("CAP_SYS_ADMIN")),
    ("umount2", Some("CAP_SYS_ADMIN")),
    ("pivot_root", Some("CAP_SYS_ADMIN")),
    ("swapon", Some("CAP_SYS_ADMIN")),
    ("swapoff", Some("CAP_SYS_ADMIN")),
    ("unshare", Some("CAP_SYS_ADMIN")),
    ("init_module", Some("CAP_SYS_MODULE")),
    ("finit_module", Some("CAP_SYS_MODULE")),
    ("delete_module", Some("CAP_SYS_MODULE")),
    ("acct", Some("CAP_SYS_PACCT")),
    ("bpf", Some("CAP_SYS_ADMIN")),
    ("io_uring_setup", None),
    ("modify_ldt", None),
    ("fanotify_init", Some("CAP_SYS_ADMIN")),
    ("mknodat", Some("CAP_MKNOD")),
    ("chroot", Some("CAP_SYS_CHROOT")),
    ("open_by_handle_at", Some("CAP_DAC_READ_SEARCH")),
    ("userfaultfd", Some("CAP_SYS_PTRACE")),
];

/// Probes outside the default deny list: how the filter treats other ABIs and the strict
/// allow-list. `int80` reports `-SIGNAL` when a signal killed the probing child.
pub const EXTRA_PROBES: &[&str] = &["x32", "int80", "sethostname"];

/// Calls `name` harmlessly; returns 0 on success, else errno. None if `name` is not a probe.
pub fn try_syscall(name: &str) -> Option<i32> {
    use libc::*;
    let nowhere = c"/nonexistent/kimigayo-selftest".as_ptr();
    let nopid: pid_t = 0x3fff_fff0; // above pid_max: ESRCH
                                    // SAFETY: every call gets arguments the kernel rejects or that change nothing.
    let rc: c_long = unsafe {
        match name {
            "ptrace" => syscall(SYS_ptrace, PTRACE_ATTACH, nopid, 0, 0),
            "process_vm_readv" => syscall(SYS_process_vm_readv, nopid, 0, 0, 0, 0, 0),
            "process_vm_writev" => syscall(SYS_process_vm_writev, nopid, 0, 0, 0, 0, 0),
            "kcmp" => syscall(SYS_kcmp, nopid, nopid, 0, 0, 0),
            // ADDR_NO_RANDOMIZE: allowed, it only affects our next exec, which never comes.
            "personality" => syscall(SYS_personality, 0x0040000 as c_ulong),
            "keyctl" => syscall(SYS_keyctl, -1i64, 0, 0, 0, 0),
            "add_key" => syscall(SYS_add_key, 0, 0, 0, 0, 0),
            "request_key" => syscall(SYS_request_key, 0, 0, 0, 0),
            "clock_settime" => syscall(SYS_clock_settime, -1i64, 0),
            "setns" => syscall(SYS_setns, -1i64, 0),
            "fsconfig" => syscall(SYS_fsconfig, -1i64, 0, 0, 0, 0),
            "open_tree" => syscall(SYS_open_tree, -1i64, 0, 0),
            "perf_event_open" => syscall(SYS_perf_event_open, 0, 0, -1i64, -1i64, 0),
            "name_to_handle_at" => syscall(SYS_name_to_handle_at, -1i64, 0, 0, 0, 0),
            "reboot" => syscall(SYS_reboot, 0, 0, 0, 0),
            "kexec_load" => syscall(SYS_kexec_load, 0, 0, 0, 0xffff_ffffu64),
            "mount" => syscall(SYS_mount, nowhere, nowhere, c"tmpfs".as_ptr(), 0, 0),
            "umount2" => syscall(SYS_umount2, nowhere, 0),
            "pivot_root" => syscall(SYS_pivot_root, nowhere, nowhere),
            "swapon" => syscall(SYS_swapon, nowhere, 0),
            "swapoff" => syscall(SYS_swapoff, nowhere),
            // A new UTS namespace for ourselves only: harmless in a throw-away child.
            "unshare" => syscall(SYS_unshare, CLONE_NEWUTS),
            "init_module" => syscall(SYS_init_module, 0, 0, c"".as_ptr()),
            "finit_module" => syscall(SYS_finit_module, -1i64, c"".as_ptr(), 0),
            "delete_module" => syscall(
                SYS_delete_module,
                c"kimigayo_no_such_module".as_ptr(),
                O_NONBLOCK,
            ),
            "acct" => syscall(SYS_acct, nowhere),
            "bpf" => syscall(SYS_bpf, -1i64, 0, 0),
            // Opening for writing changes nothing until something is written (never here).
            "write_proc_sys" => open_wronly(c"/proc/sys/vm/drop_caches"),
            "write_sysrq" => open_wronly(c"/proc/sysrq-trigger"),
            "write_sys" => open_wronly(c"/sys/kernel/profiling"),
            // 0 entries: EINVAL where allowed.
            "io_uring_setup" => syscall(SYS_io_uring_setup, 0, 0),
            // Read 0 bytes of the LDT: returns 0 where allowed.
            #[cfg(target_arch = "x86_64")]
            "modify_ldt" => syscall(SYS_modify_ldt, 0, 0, 0),
            // Invalid flags: EINVAL where allowed.
            "fanotify_init" => syscall(SYS_fanotify_init, 0xffff_ffffu64, 0),
            // A character device in a folder that does not exist: ENOENT where allowed.
            "mknodat" => syscall(SYS_mknodat, AT_FDCWD, nowhere, S_IFCHR | 0o600, makedev(1, 3)),
            // A folder that does not exist: ENOENT where allowed.
            "chroot" => syscall(SYS_chroot, nowhere),
            // No mount descriptor: EBADF where allowed (and CAP_DAC_READ_SEARCH held).
            "open_by_handle_at" => syscall(SYS_open_by_handle_at, -1i64, 0, 0),
            // Unknown flags: EINVAL where allowed.
            "userfaultfd" => syscall(SYS_userfaultfd, 0xffff_ffffu64),
            // getpid through the x32 ABI: ENOSYS on kernels without x32, EPERM from the filter.
            #[cfg(target_arch = "x86_64")]
            "x32" => syscall(SYS_getpid | 0x4000_0000),
            // A host name longer than 64 bytes: EINVAL where allowed.
            "sethostname" => syscall(SYS_sethostname, nowhere, 100),
            #[cfg(target_arch = "x86_64")]
            "int80" => return Some(int80_in_child()),
            _ => return None,
        }
    };
    Some(if rc < 0 { crate::error::errno() } else { 0 })
}

/// getpid through the i386 entry point (`int 0x80`) in a child: 0 when it returned, `-SIG` when
/// a signal killed it (SIGSYS: the filter's foreign-architecture rule).
#[cfg(target_arch = "x86_64")]
fn int80_in_child() -> i32 {
    // SAFETY: the child runs one instruction sequence and exits; the parent waits for it.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let _ret: i64;
        // SAFETY: i386 getpid (20); the 64-bit kernel clobbers r8-r11 on int 0x80.
        unsafe {
            std::arch::asm!("int 0x80", inlateout("rax") 20i64 => _ret, out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack));
            libc::_exit(0);
        }
    }
    if pid < 0 {
        return crate::error::errno();
    }
    let mut status = 0;
    // SAFETY: our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

/// open(2) for writing, closed at once; the result as a syscall result.
fn open_wronly(path: &std::ffi::CStr) -> libc::c_long {
    // SAFETY: a valid C string; the descriptor is closed right away.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd >= 0 {
        unsafe { libc::close(fd) };
    }
    fd as libc::c_long
}
