//! Seccomp filters: the built-in default deny list, the BPF programs compiled from rules
//! (through seccompiler) and loading them into the kernel.

use std::collections::BTreeMap;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use crate::syscalls::{native_arch, syscall_nr};
use crate::SandboxError;

/// Syscalls the default filter answers with EPERM whatever their arguments. Names missing on an
/// architecture (`iopl`, `ioperm`, `uselib`, ... on aarch64) are skipped there.
pub const DEFAULT_DENIED: &[&str] = &[
    // replacing the kernel, loading code into it
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "query_module",
    "get_kernel_syms",
    "uselib",
    "bpf",
    // power and swap
    "reboot",
    "swapon",
    "swapoff",
    // mounting new filesystems (the sandbox sets up its mounts before the filter is loaded)
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "open_tree",
    "mount_setattr",
    // entering other namespaces
    "setns",
    // looking into or controlling other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    // kernel keyrings
    "add_key",
    "request_key",
    "keyctl",
    // performance monitoring, page-fault handling
    "perf_event_open",
    "userfaultfd",
    // system-wide accounting and quota
    "acct",
    "quotactl",
    "quotactl_fd",
    // the system clock
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "clock_adjtime",
    // raw I/O ports
    "iopl",
    "ioperm",
    // kernel log, obsolete or dangerous interfaces
    "syslog",
    "lookup_dcookie",
    "vhangup",
    "nfsservctl",
    "_sysctl",
    // file handles bypass path permissions
    "open_by_handle_at",
    "name_to_handle_at",
    // io_uring: a second syscall interface the filter cannot see into
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // x86 segment descriptors (old exploit primitive), filesystem-wide event monitoring
    "modify_ldt",
    "fanotify_init",
    // changing the root directory: with a root-owned writable directory it is the classic
    // escape (chroot, then chdir .. out of it); a daemon that chroots for privilege
    // separation states it with sandbox_allow="chroot" (plus sandbox_caps=CAP_SYS_CHROOT)
    "chroot",
];

/// The allow-list of `sandbox_seccomp=strict`: what long-running daemons, their shell
/// scripts, BusyBox and the service manager's own applets use; everything else returns EPERM
/// (clone3 ENOSYS). The default filter's denials and argument rules apply on top, and
/// `sandbox_allow` adds names. Grouped by purpose; names an architecture lacks are skipped.
pub const STRICT_ALLOWED: &[&str] = &[
    // processes and threads
    "fork", "vfork", "clone", "clone3", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
    "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
    "set_tid_address", "set_robust_list", "get_robust_list", "futex", "futex_waitv", "rseq",
    "restart_syscall", "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam",
    "sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "sched_rr_get_interval", "sched_getattr", "sched_setattr",
    "getpriority", "setpriority", "ioprio_get", "ioprio_set", "prctl", "arch_prctl", "personality",
    "unshare", "getrusage", "times", "prlimit64", "getrlimit", "setrlimit", "umask", "uname",
    "sysinfo", "getcpu", "pidfd_open", "pidfd_send_signal", "kill", "tkill", "tgkill",
    // credentials and capabilities
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid",
    "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid",
    "setfsgid", "capget", "capset",
    // memory
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mlock", "mlock2", "munlock",
    "mlockall", "munlockall", "msync", "mincore", "membarrier", "memfd_create", "pkey_alloc",
    "pkey_free", "pkey_mprotect",
    // signals and timers
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "signalfd",
    "signalfd4", "pause", "alarm", "getitimer", "setitimer", "timer_create", "timer_settime",
    "timer_gettime", "timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime",
    "timerfd_gettime", "eventfd", "eventfd2", "nanosleep", "clock_nanosleep", "clock_gettime",
    "clock_getres", "gettimeofday", "time",
    // files and descriptors
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "open", "openat", "openat2", "creat", "close", "close_range", "lseek", "stat",
    "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
    "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link",
    "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown",
    "fchown", "lchown", "fchownat", "utime", "utimes", "utimensat", "futimesat", "truncate",
    "ftruncate", "fallocate", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "dup",
    "dup2", "dup3", "fcntl", "flock", "ioctl", "pipe", "pipe2", "sendfile", "splice", "tee",
    "copy_file_range", "fadvise64", "readahead", "mknod", "mknodat", "getxattr", "lgetxattr",
    "fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr", "lsetxattr", "fsetxattr",
    "removexattr", "lremovexattr", "fremovexattr", "inotify_init", "inotify_init1",
    "inotify_add_watch", "inotify_rm_watch", "select", "pselect6", "poll", "ppoll",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    // sockets
    "socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
    "getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg",
    "sendmmsg", "recvmmsg", "shutdown",
    // System V and POSIX IPC (databases, caches)
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semctl", "semtimedop", "msgget",
    "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr",
    // randomness; confining oneself further
    "getrandom", "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
];

/// Rules of the default filter that depend on arguments (syscall, what is denied, errno).
pub const DEFAULT_CONDITIONAL: &[(&str, &str)] = &[
    ("unshare", "EPERM when any CLONE_NEW* namespace flag is set (CLONE_FILES/CLONE_FS/CLONE_SYSVSEM stay allowed)"),
    ("clone", "EPERM when any CLONE_NEW* namespace flag is set (fork and threads stay allowed)"),
    ("clone3", "ENOSYS always: its flags live in memory a filter cannot read, and libc then falls back to clone(2)"),
    ("personality", "EPERM for anything but 0 (PER_LINUX) and 0xffffffff (query): no ADDR_NO_RANDOMIZE, no READ_IMPLIES_EXEC"),
    ("mknod, mknodat", "EPERM for character and block devices (FIFOs, sockets and files stay allowed)"),
];

const NS_FLAGS_CLONE: [u64; 7] = [
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
];
/// CLONE_NEWTIME shares its bit with the exit-signal byte of clone(2): only unshare(2) checks it.
const CLONE_NEWTIME: u64 = 0x80;

/// What a filter returns for a syscall (the OCI/libseccomp actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Allow,
    Log,
    Errno(u32),
    Trace(u32),
    Trap,
    KillThread,
    KillProcess,
}

impl Action {
    fn to_seccompiler(self) -> SeccompAction {
        match self {
            Action::Allow => SeccompAction::Allow,
            Action::Log => SeccompAction::Log,
            Action::Errno(e) => SeccompAction::Errno(e),
            Action::Trace(e) => SeccompAction::Trace(e),
            Action::Trap => SeccompAction::Trap,
            Action::KillThread => SeccompAction::KillThread,
            Action::KillProcess => SeccompAction::KillProcess,
        }
    }
}

/// When a rule for one syscall fires.
#[derive(Debug, Clone)]
pub(crate) enum Chain {
    Always,
    /// Any of the rules (each an AND of conditions) matches.
    When(Vec<SeccompRule>),
}

/// Rules grouped by the action they return; compiled into one BPF program per action.
#[derive(Debug, Default, Clone)]
pub(crate) struct RuleSet {
    pub(crate) by_action: BTreeMap<Action, BTreeMap<i64, Chain>>,
}

impl RuleSet {
    pub(crate) fn add(&mut self, action: Action, nr: i64, rule: Option<SeccompRule>) {
        let chains = self.by_action.entry(action).or_default();
        match (chains.get_mut(&nr), rule) {
            (Some(Chain::Always), _) => {}
            (Some(Chain::When(rules)), Some(r)) => rules.push(r),
            (_, None) => {
                chains.insert(nr, Chain::Always);
            }
            (None, Some(r)) => {
                chains.insert(nr, Chain::When(vec![r]));
            }
        }
    }
}

/// A compiled seccomp filter: BPF programs installed in order (the kernel runs all of them and
/// keeps the most severe answer), plus what was skipped while compiling.
#[derive(Clone)]
pub struct CompiledFilter {
    /// "default" or the profile path.
    pub source: String,
    pub programs: Vec<BpfProgram>,
    /// Things skipped while compiling (syscalls unknown on this architecture, rules for other
    /// architectures or capabilities), one line each, naming the JSON path.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for CompiledFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledFilter")
            .field("source", &self.source)
            .field(
                "program_lengths",
                &self.programs.iter().map(Vec::len).collect::<Vec<_>>(),
            )
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Compiles the built-in default filter for the architecture we run on.
pub fn default_filter() -> Result<CompiledFilter, SandboxError> {
    default_filter_for(native_arch())
}

/// Compiles the default filter for `arch` (both x86_64 and aarch64 are supported everywhere).
pub fn default_filter_for(arch: TargetArch) -> Result<CompiledFilter, SandboxError> {
    filter_for(arch, false, &[])
}

/// The default filter (`strict` false) or the strict allow-list on top of it, with the
/// syscalls in `allow` (checked by [`crate::SandboxSpec::from_vars`]) let through.
pub fn filter_for(arch: TargetArch, strict: bool, allow: &[String]) -> Result<CompiledFilter, SandboxError> {
    let eperm = Action::Errno(libc::EPERM as u32);
    let mut rules = RuleSet::default();
    for name in DEFAULT_DENIED {
        if allow.iter().any(|a| a == name) {
            continue;
        }
        if let Some(nr) = syscall_nr(arch, name) {
            rules.add(eperm, nr, None);
        }
    }
    let masked = |flag: u64| {
        cond(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(flag),
            flag,
        )
    };
    for flag in NS_FLAGS_CLONE.iter().copied().chain([CLONE_NEWTIME]) {
        let nr = syscall_nr(arch, "unshare").expect("unshare exists everywhere");
        rules.add(
            eperm,
            nr,
            Some(SeccompRule::new(vec![masked(flag)]).expect("non-empty rule")),
        );
    }
    for flag in NS_FLAGS_CLONE {
        let nr = syscall_nr(arch, "clone").expect("clone exists everywhere");
        rules.add(
            eperm,
            nr,
            Some(SeccompRule::new(vec![masked(flag)]).expect("non-empty rule")),
        );
    }
    let personality = SeccompRule::new(vec![
        cond(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, 0),
        cond(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, 0xffff_ffff),
    ])
    .expect("non-empty rule");
    rules.add(
        eperm,
        syscall_nr(arch, "personality").expect("personality exists"),
        Some(personality),
    );
    // Device nodes: the S_IFCHR bit is set in the file type of character (0o020000) and block
    // (0o060000) devices and of nothing mknod may create besides (FIFO 0o010000, regular
    // 0o100000, socket 0o140000 lack it).
    for (name, mode_arg) in [("mknod", 1u8), ("mknodat", 2u8)] {
        if let Some(nr) = syscall_nr(arch, name) {
            let dev = SeccompRule::new(vec![cond(mode_arg, SeccompCmpArgLen::Dword, SeccompCmpOp::MaskedEq(libc::S_IFCHR as u64), libc::S_IFCHR as u64)])
                .expect("non-empty rule");
            rules.add(eperm, nr, Some(dev));
        }
    }
    if let Some(nr) = syscall_nr(arch, "clone3") {
        rules.add(Action::Errno(libc::ENOSYS as u32), nr, None);
    }
    let source = if strict { "strict" } else { "default" };
    let mut programs = build_programs(Action::Allow, &rules, arch, source)?;
    if strict {
        // One more program: EPERM for everything outside the allow-list. The kernel keeps the
        // most severe answer of all programs, so the default's denials still hold.
        let mut allowed = RuleSet::default();
        for name in STRICT_ALLOWED.iter().copied().chain(allow.iter().map(String::as_str)) {
            if let Some(nr) = syscall_nr(arch, name) {
                allowed.add(Action::Allow, nr, None);
            }
        }
        let list = build_programs(eperm, &allowed, arch, source)?;
        programs.extend(list.into_iter().skip(1)); // its own copy of the arch guard is not needed
    }
    Ok(CompiledFilter {
        source: source.into(),
        programs,
        warnings: Vec::new(),
    })
}

fn cond(index: u8, len: SeccompCmpArgLen, op: SeccompCmpOp, value: u64) -> SeccompCondition {
    SeccompCondition::new(index, len, op, value).expect("argument index below 6")
}

/// One program per action. With a non-ALLOW default, a first program answers the default for
/// every syscall no rule matches and ALLOW otherwise; then one program per action answers that
/// action when its rules match and ALLOW otherwise. The kernel keeps the most severe answer of
/// all programs, which gives "the matching rule's action, else the default".
pub(crate) fn build_programs(
    default: Action,
    rules: &RuleSet,
    arch: TargetArch,
    source: &str,
) -> Result<Vec<BpfProgram>, SandboxError> {
    let compile = |chains: BTreeMap<i64, Vec<SeccompRule>>, mismatch: Action, matched: Action| {
        let f = SeccompFilter::new(
            chains,
            mismatch.to_seccompiler(),
            matched.to_seccompiler(),
            arch,
        )
        .map_err(|e| SandboxError::Compile {
            source_name: source.into(),
            message: e.to_string(),
        })?;
        BpfProgram::try_from(f).map_err(|e| SandboxError::Compile {
            source_name: source.into(),
            message: e.to_string(),
        })
    };
    let to_chains = |m: &BTreeMap<i64, Chain>| -> BTreeMap<i64, Vec<SeccompRule>> {
        m.iter()
            .map(|(nr, c)| match c {
                Chain::Always => (*nr, Vec::new()),
                Chain::When(r) => (*nr, r.clone()),
            })
            .collect()
    };

    let mut programs = vec![arch_guard(arch)];
    let groups: Vec<(&Action, &BTreeMap<i64, Chain>)> = rules
        .by_action
        .iter()
        .filter(|(a, m)| **a != default && !m.is_empty())
        .collect();
    // The default program goes last: once it is loaded, seccomp(2) itself may be denied (an
    // allow-list profile need not list it), so no further program could be installed.
    for (action, m) in &groups {
        if **action != Action::Allow {
            programs.push(compile(to_chains(m), Action::Allow, **action)?);
        }
    }
    if default != Action::Allow {
        let mut union = RuleSet::default();
        for (_, m) in &groups {
            for (nr, c) in m.iter() {
                match c {
                    Chain::Always => union.add(Action::Allow, *nr, None),
                    Chain::When(rs) => rs
                        .iter()
                        .for_each(|r| union.add(Action::Allow, *nr, Some(r.clone()))),
                }
            }
        }
        let empty = BTreeMap::new();
        let chains = to_chains(union.by_action.get(&Action::Allow).unwrap_or(&empty));
        programs.push(compile(chains, default, Action::Allow)?);
    }
    Ok(programs)
}

/// A short program of our own (seccompiler matches exact syscall numbers only): kill foreign
/// architectures (the i386 entry points of an x86_64 process), and on x86_64 refuse the x32 ABI,
/// whose calls share the x86_64 audit arch and would otherwise slip past number-based rules.
/// It also makes every confined process show `Seccomp: 2`, even under an allow-all profile.
fn arch_guard(arch: TargetArch) -> BpfProgram {
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x05 | 0x10;
    const JGE_K: u16 = 0x05 | 0x30;
    const RET_K: u16 = 0x06;
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
    const AUDIT_ARCH_RISCV64: u32 = 0xC000_00F3;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let ins = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let audit = match arch {
        TargetArch::x86_64 => AUDIT_ARCH_X86_64,
        TargetArch::aarch64 => AUDIT_ARCH_AARCH64,
        TargetArch::riscv64 => AUDIT_ARCH_RISCV64,
    };
    let mut p = vec![
        ins(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        ins(JEQ_K, 1, 0, audit),
        ins(RET_K, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
    ];
    if arch == TargetArch::x86_64 {
        p.extend([
            ins(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
            ins(JGE_K, 0, 1, X32_SYSCALL_BIT),
            ins(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        ]);
    }
    p.push(ins(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW));
    p
}

#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const sock_filter,
}

/// Installs the programs into the calling thread. Async-signal-safe (no allocation), so it may run
/// between fork and exec. Needs no_new_privs or CAP_SYS_ADMIN: unlike seccompiler's
/// `apply_filter` it does not force no_new_privs, so `sandbox_no_new_privs=no` is honoured.
pub fn load_filter(filter: &CompiledFilter) -> Result<(), SandboxError> {
    for p in &filter.programs {
        let prog = SockFprog {
            len: p.len() as libc::c_ushort,
            filter: p.as_ptr(),
        };
        // SAFETY: prog points at a live, correctly laid out BPF program; the kernel copies it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0 as libc::c_ulong,
                &prog as *const SockFprog,
            )
        };
        if rc != 0 {
            return Err(SandboxError::last_os(
                "seccomp(SECCOMP_SET_MODE_FILTER)",
                "loading a filter needs no_new_privs or CAP_SYS_ADMIN; keep sandbox_no_new_privs=yes",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filter_compiles_for_both_arches() {
        for arch in [TargetArch::x86_64, TargetArch::aarch64] {
            let f = default_filter_for(arch).unwrap();
            // guard + EPERM program + ENOSYS program
            assert_eq!(f.programs.len(), 3, "{arch:?}");
            assert!(f.programs.iter().all(|p| p.len() < 4096));
            let strict = filter_for(arch, true, &["chroot".to_string()]).unwrap();
            assert_eq!(strict.programs.len(), 4, "{arch:?}");
            assert!(strict.programs.iter().all(|p| p.len() < 4096));
        }
    }

    #[test]
    fn strict_list_names_real_syscalls_and_nothing_the_default_denies() {
        let mut seen = std::collections::BTreeSet::new();
        for n in STRICT_ALLOWED {
            assert!(seen.insert(n), "{n} listed twice");
            assert!(syscall_nr(TargetArch::x86_64, n).is_some() || syscall_nr(TargetArch::aarch64, n).is_some(), "{n} is on no architecture");
            assert!(!DEFAULT_DENIED.contains(n), "{n} is both allowed by strict and denied by default");
        }
    }

    #[test]
    fn default_list_has_no_duplicates_and_names_real_syscalls() {
        let mut seen = std::collections::BTreeSet::new();
        for n in DEFAULT_DENIED {
            assert!(seen.insert(n), "{n} listed twice");
            assert!(
                syscall_nr(TargetArch::x86_64, n).is_some()
                    || syscall_nr(TargetArch::aarch64, n).is_some(),
                "{n} is on no architecture"
            );
        }
    }
}
