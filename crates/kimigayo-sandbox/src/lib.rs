//! Per-service sandbox of Kimigayo's service manager: what `sandbox_*` settings in conf.d mean
//! ([`SandboxSpec`]), and applying them to a process — its own namespaces (mount with private
//! propagation and a fresh /proc, PID, IPC, UTS, optionally network), `no_new_privs`, dropped
//! capabilities and a seccomp-BPF filter — plus [`probe`] to see what a running process got.
//!
//! The service holder runs, in order: [`unshare_namespaces`], fork (the child is PID 1 of the
//! new PID namespace), [`setup_inside`], [`confine`], exec. Actions on a running service enter
//! the holder's namespaces with [`join_namespaces`], fork, [`confine`], exec. [`Prepared`] does
//! the same steps without allocating, for use between fork and exec of a threaded program;
//! [`spawn_confined`] runs a whole program that way.
//!
//! # The default seccomp filter
//!
//! Everything is allowed except what services never need. These syscalls return `EPERM`
//! whatever their arguments ([`default_denied_syscalls`]; names an architecture lacks are
//! skipped there, e.g. `iopl`, `ioperm`, `uselib`, `_sysctl`, `create_module` on aarch64):
//!
//! - kernel replacement and code loading: `kexec_load`, `kexec_file_load`, `init_module`,
//!   `finit_module`, `delete_module`, `create_module`, `query_module`, `get_kernel_syms`,
//!   `uselib`, `bpf`
//! - power and swap: `reboot`, `swapon`, `swapoff`
//! - mounting: `mount`, `umount2`, `pivot_root`, `move_mount`, `fsopen`, `fsmount`, `fsconfig`,
//!   `fspick`, `open_tree`, `mount_setattr`
//! - other namespaces: `setns`
//! - other processes: `ptrace`, `process_vm_readv`, `process_vm_writev`, `kcmp`, `pidfd_getfd`,
//!   `process_madvise`
//! - keyrings: `add_key`, `request_key`, `keyctl`
//! - `perf_event_open`, `userfaultfd`
//! - accounting and quota: `acct`, `quotactl`, `quotactl_fd`
//! - the clock: `settimeofday`, `clock_settime`, `adjtimex`, `clock_adjtime`
//! - I/O ports: `iopl`, `ioperm`
//! - `syslog`, `lookup_dcookie`, `vhangup`, `nfsservctl`, `_sysctl`
//! - file handles: `open_by_handle_at`, `name_to_handle_at`
//! - `io_uring_setup`, `io_uring_enter`, `io_uring_register`, `modify_ldt`, `fanotify_init`
//! - `chroot` (a service that chroots on purpose sets `sandbox_allow="chroot"`)
//!
//! And by argument ([`default_conditional_rules`]):
//!
//! - `unshare` and `clone` with any `CLONE_NEW*` flag: `EPERM` (a service cannot make new
//!   namespaces, user namespaces included; plain fork/threads are unaffected)
//! - `clone3`: `ENOSYS`, so libc falls back to `clone`, whose flags the filter can read
//! - `personality` other than `0` and the query `0xffffffff`: `EPERM` (no turning off ASLR)
//!
//! Services that need one of these (an NTP daemon setting the clock, `klogd` reading the kernel
//! log) name it in `sandbox_allow`, or set `sandbox_seccomp` to a profile or to `unconfined`.
//!
//! `sandbox_seccomp=strict` adds an allow-list on top ([`strict_allowed_syscalls`]): what
//! daemons, shell scripts, BusyBox and the service manager's applets use; anything else
//! (e.g. `sethostname`, `mbind`, `vmsplice`, `process_mrelease`, `memfd_secret`) is EPERM. On x86_64 the x32 ABI is refused
//! and a foreign-architecture syscall (i386 `int 0x80`) kills the process.
//!
//! # OCI/Docker profiles
//!
//! `sandbox_seccomp=/path/profile.json` loads a seccomp profile in the OCI runtime-spec /
//! Docker format ([`compile_profile`]); names this architecture lacks are skipped with a
//! warning, Docker's `includes.caps` rules are skipped (the safe reading).

mod apply;
mod error;
mod filter;
mod oci;
mod probe;
pub mod selftest;
mod spawn;
mod spec;
mod syscalls;
mod userns;

pub use apply::{confine, join_namespaces, setup_inside, unshare_namespaces, Prepared};
pub use error::SandboxError;
pub use filter::{default_filter, default_filter_for, filter_for, load_filter, Action, CompiledFilter};
pub use oci::{compile_profile, compile_profile_str};
pub use probe::{probe, SandboxReport, NS_ENTRIES};
pub use seccompiler::TargetArch;
pub use spawn::spawn_confined;
pub use spec::{default_cap_drop, CapDrop, Namespaces, SandboxSpec, SeccompChoice, DEFAULT_KEEP_CAPS, KEYS};
pub use syscalls::{native_arch, syscall_nr};
pub use userns::{within_bounding_set, enter_user_namespace, probe_user_namespace, root_is_mount_point, unprivileged_port_start, UsernsSupport};

/// Syscalls the default filter denies with EPERM whatever their arguments (the list in the
/// crate documentation).
pub fn default_denied_syscalls() -> &'static [&'static str] {
    filter::DEFAULT_DENIED
}

/// The allow-list of `sandbox_seccomp=strict` (the crate documentation explains it).
pub fn strict_allowed_syscalls() -> &'static [&'static str] {
    filter::STRICT_ALLOWED
}

/// Argument-dependent rules of the default filter: (syscall, what is denied).
pub fn default_conditional_rules() -> &'static [(&'static str, &'static str)] {
    filter::DEFAULT_CONDITIONAL
}
