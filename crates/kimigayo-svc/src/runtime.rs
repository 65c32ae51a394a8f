//! The openrc-run runtime: an embedded POSIX shell library (`sh/runtime.sh`) that defines the
//! helpers init scripts call, sources rc.conf, conf.d and the script, and runs one action.
//! This module builds the shell's argv and environment.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use crate::env::SvcEnv;
use crate::error::SvcError;

pub const RUNTIME: &str = include_str!("../sh/runtime.sh");

/// The applets scripts call by name; linked to `self_exe` in `SvcEnv::applet_dir`.
pub const APPLETS: &[&str] = &["start-stop-daemon", "supervise-daemon", "checkpath"];

/// The environment the runtime gets: a clean one, like OpenRC gives its scripts.
pub fn environment(env: &SvcEnv, service: &str, extra: &[(String, String)]) -> Vec<(String, String)> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut v = vec![
        ("PATH".to_string(), "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin".to_string()),
        ("RC_SVCNAME".to_string(), service.to_string()),
        ("KIMIGAYO_ROOT".to_string(), s(&env.root)),
        ("KIMIGAYO_SELF".to_string(), s(&env.self_exe)),
        ("KIMIGAYO_APPLETS".to_string(), s(&env.applet_dir())),
        ("KIMIGAYO_SVC_STATE".to_string(), s(&env.service_dir(service))),
        ("KIMIGAYO_STATE_DIR".to_string(), s(&env.state_dir)),
        ("KIMIGAYO_SVC_LOG".to_string(), s(&env.log_file)),
    ];
    // RC_SYS reaches the holder through its environment (set by whoever spawned it).
    for k in ["TERM", "LANG", "LC_ALL", "EINFO_QUIET", "EINFO_VERBOSE", "RC_SYS", "RC_RUNLEVEL"] {
        if let Ok(val) = std::env::var(k) {
            v.push((k.to_string(), val));
        }
    }
    for (k, val) in &env.vars {
        v.retain(|(x, _)| x != k);
        v.push((k.clone(), val.clone()));
    }
    v.extend(extra.iter().cloned());
    v
}

/// Where the embedded runtime is written for the shell to run (`ps` then shows
/// `/bin/sh …/runtime.sh /etc/init.d/web start`, like OpenRC's openrc-run.sh).
pub fn runtime_path(env: &SvcEnv) -> std::path::PathBuf {
    env.applet_dir().join("runtime.sh")
}

/// `sh RUNTIME SCRIPT ACTION ARGS...` as C strings, ready for execve after fork.
pub struct ShellInvocation {
    pub path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
}

fn cstr(b: &[u8]) -> CString {
    CString::new(b.iter().copied().filter(|c| *c != 0).collect::<Vec<u8>>()).expect("NULs removed")
}

impl ShellInvocation {
    pub fn new(env: &SvcEnv, service: &str, action: &str, args: &[String], extra_env: &[(String, String)]) -> Self {
        let script = env.script(service);
        let mut argv = vec![
            cstr(env.shell.as_os_str().as_bytes()),
            cstr(runtime_path(env).as_os_str().as_bytes()),
            cstr(script.as_os_str().as_bytes()),
            cstr(action.as_bytes()),
        ];
        argv.extend(args.iter().map(|a| cstr(a.as_bytes())));
        let envp = environment(env, service, extra_env)
            .into_iter()
            .map(|(k, v)| cstr(format!("{k}={v}").as_bytes()))
            .collect();
        ShellInvocation { path: cstr(env.shell.as_os_str().as_bytes()), argv, envp }
    }

    /// execve; returns only on failure.
    pub fn exec(&self) -> std::io::Error {
        let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const libc::c_char> = self.envp.iter().map(|a| a.as_ptr()).collect();
        envp.push(std::ptr::null());
        unsafe { libc::execve(self.path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        std::io::Error::last_os_error()
    }
}

/// The same invocation as a `Command` (for the unsandboxed configuration read).
pub fn command(env: &SvcEnv, service: &str, action: &str, args: &[&OsStr]) -> Command {
    let mut c = Command::new(&env.shell);
    c.arg(runtime_path(env)).arg(env.script(service)).arg(action).args(args);
    c.env_clear().envs(environment(env, service, &[]));
    c
}

/// Links the applets to `self_exe` and writes the runtime (idempotent; repairs what differs).
pub fn ensure_applets(env: &SvcEnv) -> Result<(), SvcError> {
    let dir = env.applet_dir();
    std::fs::create_dir_all(&dir).map_err(|e| SvcError::io("*", "creating applet dir", &dir, e))?;
    let rt = runtime_path(env);
    if std::fs::read(&rt).ok().as_deref() != Some(RUNTIME.as_bytes()) {
        crate::state::write_atomic(&rt, RUNTIME.as_bytes()).map_err(|e| SvcError::io("*", "writing the runtime", &rt, e))?;
    }
    for name in APPLETS {
        let link = dir.join(name);
        if std::fs::read_link(&link).ok().as_deref() == Some(env.self_exe.as_path()) {
            continue;
        }
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&env.self_exe, &tmp)
            .and_then(|_| std::fs::rename(&tmp, &link))
            .map_err(|e| SvcError::io("*", "linking applet", &link, e))?;
    }
    Ok(())
}
