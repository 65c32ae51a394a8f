//! Running one program in a fresh sandbox: fork, unshare, fork again (PID 1 of the new PID
//! namespace), set up the inside, confine, exec; then reap. Used by tests and as a reference for
//! the service holder.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::apply::Prepared;
use crate::spec::SandboxSpec;
use crate::SandboxError;

/// What the child reports through the pipe when a step fails: the failing step's static strings
/// (valid in the parent too: a forked child shares the parent's read-only data at the same
/// addresses) and errno.
#[repr(C)]
#[derive(Clone, Copy)]
struct Report {
    step_ptr: usize,
    step_len: usize,
    hint_ptr: usize,
    hint_len: usize,
    errno: i32,
}

const EXEC_STEP: &str = "execv";
const EXEC_HINT: &str = "is the program present and executable inside the sandbox?";

/// Runs `argv` in a sandbox built from `spec` and waits for it. Returns its exit code, or
/// 128 + signal number when a signal killed it. A sandbox step that fails in the child comes
/// back as [`SandboxError::Syscall`] naming the step. Safe to call from a multi-threaded
/// program: everything after fork is async-signal-safe.
pub fn spawn_confined<S: AsRef<OsStr>>(
    spec: &SandboxSpec,
    argv: &[S],
) -> Result<i32, SandboxError> {
    let program = argv
        .first()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .unwrap_or_default();
    let spawn_err = |message: String| SandboxError::Spawn {
        program: program.clone(),
        message,
    };
    if argv.is_empty() {
        return Err(spawn_err("empty argv".into()));
    }
    let prepared = Prepared::new(spec)?;
    let path = resolve(Path::new(argv[0].as_ref()))
        .ok_or_else(|| spawn_err("not found in PATH; give an absolute path".into()))?;
    let path =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| spawn_err("NUL in path".into()))?;
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_ref().as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| spawn_err("NUL in an argument".into()))?;
    let mut ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());

    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SandboxError::last_os("pipe2", "out of file descriptors?"));
    }
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: the child runs only async-signal-safe code (see child()).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        // SAFETY: our descriptors.
        unsafe {
            libc::close(rd);
            libc::close(wr)
        };
        return Err(SandboxError::last_os("fork", "out of processes?"));
    }
    if pid == 0 {
        // SAFETY: in the child; never returns.
        unsafe { libc::close(rd) };
        child(&prepared, wr, &path, &ptrs);
    }
    // SAFETY: our descriptor.
    unsafe { libc::close(wr) };
    let mut rep = std::mem::MaybeUninit::<Report>::zeroed();
    let size = std::mem::size_of::<Report>();
    let mut got = 0;
    while got < size {
        // SAFETY: writes within rep.
        let n = unsafe {
            libc::read(
                rd,
                (rep.as_mut_ptr() as *mut u8).add(got) as *mut libc::c_void,
                size - got,
            )
        };
        if n < 0 && crate::error::errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    // SAFETY: our descriptor.
    unsafe { libc::close(rd) };
    let code = wait(pid);
    if got == size {
        // SAFETY: fully written by the child.
        let rep = unsafe { rep.assume_init() };
        // SAFETY: pointers to 'static str data of this very binary (see Report).
        let (step, hint) = unsafe {
            (
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                    rep.step_ptr as *const u8,
                    rep.step_len,
                )),
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                    rep.hint_ptr as *const u8,
                    rep.hint_len,
                )),
            )
        };
        return Err(SandboxError::Syscall {
            step,
            errno: rep.errno,
            hint,
        });
    }
    Ok(code)
}

/// After fork: unshare, fork the PID-1 child, wait for it and pass its status on.
fn child(p: &Prepared, wr: i32, path: &CString, argv: &[*const libc::c_char]) -> ! {
    if let Err(e) = p.unshare() {
        fail(wr, &e);
    }
    // SAFETY: async-signal-safe context continues.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        fail(wr, &SandboxError::last_os("fork", "out of processes?"));
    }
    if pid == 0 {
        for step in [Prepared::setup_inside, Prepared::confine] {
            if let Err(e) = step(p) {
                fail(wr, &e);
            }
        }
        // SAFETY: NUL-terminated path and argv.
        unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
        fail(
            wr,
            &SandboxError::Syscall {
                step: EXEC_STEP,
                errno: crate::error::errno(),
                hint: EXEC_HINT,
            },
        );
    }
    // SAFETY: our descriptor; the grandchild keeps its copy until exec closes it.
    unsafe { libc::close(wr) };
    let code = wait(pid);
    // SAFETY: leave without running destructors or atexit handlers of the parent's image.
    unsafe { libc::_exit(code) }
}

fn fail(wr: i32, e: &SandboxError) -> ! {
    let (step, hint, errno): (&'static str, &'static str, i32) = match e {
        SandboxError::Syscall { step, errno, hint } => (step, hint, *errno),
        SandboxError::HolderGone { errno, .. } => ("open /proc/PID/ns", "holder gone", *errno),
        _ => ("sandbox", "unexpected error", libc::EINVAL),
    };
    let rep = Report {
        step_ptr: step.as_ptr() as usize,
        step_len: step.len(),
        hint_ptr: hint.as_ptr() as usize,
        hint_len: hint.len(),
        errno,
    };
    // SAFETY: write(2) of a plain struct, then _exit.
    unsafe {
        libc::write(
            wr,
            &rep as *const Report as *const libc::c_void,
            std::mem::size_of::<Report>(),
        );
        libc::_exit(127)
    }
}

/// waitpid until `pid` ends; exit code or 128 + signal.
fn wait(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid int.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && crate::error::errno() != libc::EINTR {
            return 127;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        127
    }
}

fn resolve(prog: &Path) -> Option<PathBuf> {
    if prog.as_os_str().as_bytes().contains(&b'/') {
        return Some(prog.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|c| c.is_file())
}
