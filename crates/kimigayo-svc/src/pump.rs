//! Plumbing shared by the holder and the action runners: a SIGCHLD signalfd, a pipe carrying a
//! service's stdout/stderr that is copied to the caller (while one waits) and to the bounded
//! `output.log`, and small fork/fd helpers.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `output.log` is cut back to its last KEEP bytes whenever it passes LIMIT.
const LIMIT: u64 = 256 * 1024;
const KEEP: u64 = 64 * 1024;

pub struct OutputLog {
    path: PathBuf,
    file: Option<File>,
    size: u64,
}

impl OutputLog {
    pub fn open(path: PathBuf) -> Self {
        let file = OpenOptions::new().create(true).append(true).open(&path).ok();
        let size = file.as_ref().and_then(|f| f.metadata().ok()).map(|m| m.len()).unwrap_or(0);
        OutputLog { path, file, size }
    }

    pub fn write(&mut self, data: &[u8]) {
        if let Some(f) = self.file.as_mut() {
            if f.write_all(data).is_ok() {
                self.size += data.len() as u64;
            }
        }
        if self.size > LIMIT {
            self.cut();
        }
    }

    fn cut(&mut self) {
        let mut tail = Vec::new();
        if let Ok(mut f) = File::open(&self.path) {
            let _ = f.seek(SeekFrom::End(-(KEEP as i64)));
            let _ = f.read_to_end(&mut tail);
        }
        // Start at a line boundary.
        if let Some(nl) = tail.iter().position(|b| *b == b'\n') {
            tail.drain(..=nl);
        }
        if crate::state::write_atomic(&self.path, &tail).is_ok() {
            self.file = OpenOptions::new().append(true).open(&self.path).ok();
            self.size = tail.len() as u64;
        }
    }
}

/// Reads a service's output pipe and copies it to the caller and the output log.
pub struct Pump {
    pub read_fd: RawFd,
    pub write_fd: RawFd,
    pub caller: Option<RawFd>,
    pub log: Option<OutputLog>,
    sigchld: RawFd,
}

pub fn pipe_cloexec() -> std::io::Result<(RawFd, RawFd)> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

impl Pump {
    /// Blocks SIGCHLD (delivered through a signalfd) and makes the output pipe. `caller`: an fd
    /// on which the caller reads our output (dup'ed; closed by `detach_caller`).
    pub fn new(caller: Option<RawFd>, log: Option<OutputLog>) -> std::io::Result<Self> {
        let (read_fd, write_fd) = pipe_cloexec()?;
        unsafe {
            libc::fcntl(read_fd, libc::F_SETFL, libc::O_NONBLOCK);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            let sigchld = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if sigchld < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let caller = caller.map(|fd| libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10)).filter(|fd| *fd >= 0);
            Ok(Pump { read_fd, write_fd, caller, log, sigchld })
        }
    }

    /// Our own messages (e.g. "restarting in 2s") go the same way as the service's output.
    pub fn say(&mut self, text: &str) {
        self.copy(text.as_bytes());
    }

    fn copy(&mut self, data: &[u8]) {
        if let Some(fd) = self.caller {
            write_all_fd(fd, data);
        }
        if let Some(log) = self.log.as_mut() {
            log.write(data);
        }
    }

    /// Copies whatever is in the pipe now.
    pub fn drain(&mut self) {
        let mut buf = [0u8; 16384];
        loop {
            let n = unsafe { libc::read(self.read_fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return;
            }
            self.copy(&buf[..n as usize]);
        }
    }

    /// Waits up to `timeout` for output or a SIGCHLD; copies output.
    pub fn wait(&mut self, timeout: Duration) {
        self.wait_also(timeout, &[]);
    }

    /// As [`Pump::wait`], also returning when one of `extra` (pidfds) becomes readable.
    pub fn wait_also(&mut self, timeout: Duration, extra: &[RawFd]) {
        let mut fds = vec![
            libc::pollfd { fd: self.sigchld, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: self.read_fd, events: libc::POLLIN, revents: 0 },
        ];
        fds.extend(extra.iter().map(|fd| libc::pollfd { fd: *fd, events: libc::POLLIN, revents: 0 }));
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n > 0 {
            if fds[0].revents != 0 {
                let mut info = [0u8; 128];
                while unsafe { libc::read(self.sigchld, info.as_mut_ptr().cast(), info.len()) } > 0 {}
            }
            if fds[1].revents != 0 {
                self.drain();
            }
        }
    }

    /// Sleeps `d` while still copying output (children are reaped by the caller's loop).
    pub fn sleep(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while let Some(left) = end.checked_duration_since(Instant::now()).filter(|l| !l.is_zero()) {
            self.wait(left);
        }
    }

    pub fn detach_caller(&mut self) {
        if let Some(fd) = self.caller.take() {
            unsafe { libc::close(fd) };
        }
    }

    /// The unblocked signal mask and default dispositions a child about to exec should have.
    pub fn child_reset_signals() {
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            for sig in [libc::SIGPIPE, libc::SIGCHLD, libc::SIGHUP, libc::SIGINT, libc::SIGTERM, libc::SIGQUIT] {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}

/// A pidfd for `pid` (readable once it exits); None if it is gone or pidfds are unavailable.
pub fn pidfd(pid: i32) -> Option<std::os::fd::OwnedFd> {
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    (fd >= 0).then(|| unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as RawFd) })
}

/// Waits until one of `fds` (pidfds) is readable — its process exited — or `max` passed.
pub fn wait_pidfds(fds: &[std::os::fd::OwnedFd], max: Duration) {
    let mut polls: Vec<libc::pollfd> = fds.iter().map(|fd| libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    let ms = max.as_millis().clamp(1, i32::MAX as u128) as i32;
    unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, ms) };
}

pub fn write_all_fd(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n <= 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        data = &data[n as usize..];
    }
}

/// Reaps every exited child without blocking.
pub fn reap_all() -> (Vec<(i32, i32)>, bool) {
    let mut out = Vec::new();
    loop {
        let mut status = 0;
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            out.push((pid, status));
            continue;
        }
        let no_children = pid < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD);
        return (out, no_children);
    }
}

pub fn dev_null() -> RawFd {
    let f = OpenOptions::new().read(true).write(true).open("/dev/null").expect("/dev/null exists");
    let fd = f.as_raw_fd();
    std::mem::forget(f);
    fd
}

pub fn fork() -> std::io::Result<i32> {
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(pid)
}

/// Child side: stdin from /dev/null, stdout+stderr to `out`.
pub fn child_stdio(out: RawFd) {
    let null = dev_null();
    unsafe {
        libc::dup2(null, 0);
        libc::dup2(out, 1);
        libc::dup2(out, 2);
    }
}

/// Wrap a raw fd we own into a File (closes on drop).
pub fn file_from(fd: RawFd) -> File {
    unsafe { File::from_raw_fd(fd) }
}
