//! Signals, handled synchronously: PID 1 blocks every signal it cares about in all threads and
//! takes them one at a time with `sigtimedwait`, so nothing runs in a signal handler.
//!
//! Mapping (documented in `init --help`):
//! - SIGCHLD: reap.
//! - SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH: forwarded to the main
//!   command while one runs (container mode, like tini).
//! - Without a main command: SIGTERM, SIGPWR, SIGUSR2 → poweroff; SIGINT → reboot;
//!   SIGUSR1 → halt (busybox init's `halt`/`poweroff` signals); others ignored.
//! - Always, never forwarded: SIGPWR → poweroff, and the signals the `halt`, `poweroff`
//!   and `reboot` commands send: SIGRTMIN+3 → halt, SIGRTMIN+4 → poweroff, SIGRTMIN+5 →
//!   reboot (kernel numbering 37, 38, 39: the same numbers systemd uses).

use std::time::Duration;

/// Kernel real-time signal numbers (SIGRTMIN is 34 in the kernel; libcs reserve a few).
pub const SIG_HALT: i32 = 37;
pub const SIG_POWEROFF: i32 = 38;
pub const SIG_REBOOT: i32 = 39;

/// What the machine does once everything is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Poweroff,
    Reboot,
    Halt,
}

impl Power {
    pub fn name(self) -> &'static str {
        match self {
            Power::Poweroff => "poweroff",
            Power::Reboot => "reboot",
            Power::Halt => "halt",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAction {
    Reap,
    Forward(i32),
    Shutdown(Power),
    Ignore,
}

pub const FORWARDED: &[i32] =
    &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH];

/// Pure mapping from a received signal to what PID 1 does.
pub fn classify(sig: i32, has_main: bool) -> SigAction {
    match sig {
        libc::SIGCHLD => SigAction::Reap,
        libc::SIGPWR | SIG_POWEROFF => SigAction::Shutdown(Power::Poweroff),
        SIG_REBOOT => SigAction::Shutdown(Power::Reboot),
        SIG_HALT => SigAction::Shutdown(Power::Halt),
        s if has_main && FORWARDED.contains(&s) => SigAction::Forward(s),
        libc::SIGTERM | libc::SIGUSR2 => SigAction::Shutdown(Power::Poweroff),
        libc::SIGINT => SigAction::Shutdown(Power::Reboot),
        libc::SIGUSR1 => SigAction::Shutdown(Power::Halt),
        _ => SigAction::Ignore,
    }
}

fn handled() -> Vec<i32> {
    let mut v = vec![libc::SIGCHLD, libc::SIGPWR, libc::SIGTTIN, libc::SIGTTOU, SIG_HALT, SIG_POWEROFF, SIG_REBOOT];
    v.extend_from_slice(FORWARDED);
    v
}

fn set_of(sigs: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset only writes into it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks the handled signals in the calling thread (call before any thread is spawned, so
/// all threads inherit the mask). Children inherit a blocked mask across exec (std's Command
/// does not reset it on every target: the musl build's main command had SIGTERM blocked, so
/// `podman stop` waited for the kill grace): spawn them through [`unblocked`].
pub fn block() -> std::io::Result<()> {
    let set = set_of(&handled());
    // SAFETY: plain syscall wrapper over a valid set.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Waits up to `timeout` for one handled signal.
pub fn wait(timeout: Duration) -> Option<i32> {
    let set = set_of(&handled());
    // SAFETY: valid set and timespec; info is written by the kernel.
    let sig = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        ts.tv_sec = timeout.as_secs() as _;
        ts.tv_nsec = timeout.subsec_nanos() as _;
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::sigtimedwait(&set, &mut info, &ts)
    };
    (sig > 0).then_some(sig)
}

pub fn name(sig: i32) -> String {
    match sig {
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGUSR1 => "SIGUSR1".into(),
        libc::SIGUSR2 => "SIGUSR2".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGCHLD => "SIGCHLD".into(),
        libc::SIGWINCH => "SIGWINCH".into(),
        libc::SIGPWR => "SIGPWR".into(),
        SIG_HALT => "SIGRTMIN+3".into(),
        SIG_POWEROFF => "SIGRTMIN+4".into(),
        SIG_REBOOT => "SIGRTMIN+5".into(),
        n => format!("signal {n}"),
    }
}

/// Empties this process's signal mask (a child of PID 1 leaving PID 1's blocked set behind).
/// Async-signal-safe: nothing is allocated.
pub fn unblock_all() -> std::io::Result<()> {
    // SAFETY: sigemptyset and sigprocmask on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Gives a child started with `cmd` an empty signal mask (set between fork and exec).
pub fn unblocked(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: unblock_all is async-signal-safe.
    unsafe { cmd.pre_exec(unblock_all) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_only_with_a_main_command() {
        assert_eq!(classify(libc::SIGTERM, true), SigAction::Forward(libc::SIGTERM));
        assert_eq!(classify(libc::SIGTERM, false), SigAction::Shutdown(Power::Poweroff));
        assert_eq!(classify(libc::SIGINT, false), SigAction::Shutdown(Power::Reboot));
        assert_eq!(classify(libc::SIGWINCH, false), SigAction::Ignore);
        assert_eq!(classify(libc::SIGPWR, true), SigAction::Shutdown(Power::Poweroff));
        assert_eq!(classify(SIG_REBOOT, true), SigAction::Shutdown(Power::Reboot));
        assert_eq!(classify(libc::SIGCHLD, true), SigAction::Reap);
    }
}

