//! The one error type of the crate. Every variant names the thing (service, key, file, JSON path,
//! syscall, pid) and says what to do about it.

use std::path::PathBuf;

/// Errors from parsing sandbox settings, compiling seccomp filters and applying the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A `sandbox_*` variable in conf.d / rc.conf holds a value we do not accept.
    #[error(
        "service {service}: {key}=\"{value}\" is not valid: {reason}; accepted values: {accepted}"
    )]
    BadSetting {
        service: String,
        key: &'static str,
        value: String,
        reason: String,
        accepted: &'static str,
    },

    /// The seccomp profile file could not be read.
    #[error(
        "seccomp profile {path}: cannot read it: {source}; fix: check the path in sandbox_seccomp"
    )]
    ProfileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The seccomp profile is not a valid OCI/Docker seccomp profile.
    #[error("seccomp profile {path}: at {json_path}: {message}; fix: {fix}")]
    Profile {
        path: PathBuf,
        json_path: String,
        message: String,
        fix: String,
    },

    /// The BPF compiler refused the rules (too many instructions, bad argument index...).
    #[error("seccomp filter {source_name}: cannot be compiled to BPF: {message}")]
    Compile {
        source_name: String,
        message: String,
    },

    /// A system call of the sandbox setup failed. `step` names the operation.
    #[error("sandbox step `{step}` failed: {} ({hint})", std::io::Error::from_raw_os_error(*errno))]
    Syscall {
        step: &'static str,
        errno: i32,
        hint: &'static str,
    },

    /// The holder process whose namespaces we were asked to join is gone.
    #[error("holder pid {pid}: cannot open /proc/{pid}/ns/{ns}: {}; the service's holder is not running — start the service again (or zap its stale state)", std::io::Error::from_raw_os_error(*errno))]
    HolderGone {
        pid: i32,
        ns: &'static str,
        errno: i32,
    },

    /// /proc/PID/status or /proc/PID/ns/* could not be read for a probe.
    #[error("probe of pid {pid}: cannot read {path}: {source}; is the process still running?")]
    Probe {
        pid: i32,
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// Building the confined child failed before it could run the program.
    #[error("spawn_confined {program}: {message}")]
    Spawn { program: String, message: String },
}

impl SandboxError {
    pub(crate) fn last_os(step: &'static str, hint: &'static str) -> Self {
        SandboxError::Syscall {
            step,
            errno: errno(),
            hint,
        }
    }
}

/// errno of the last failed libc call (async-signal-safe: reads a thread-local int).
pub(crate) fn errno() -> i32 {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}
