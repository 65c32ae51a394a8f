//! Stand-in for kimigayo-sandbox while that crate is being written: the same names and
//! signatures as the contract, namespaces + no_new_privs only (no seccomp, no capabilities).
//! Replaced by `pub use kimigayo_sandbox::*` as soon as the crate compiles.

use std::fs::File;
use std::os::fd::AsRawFd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces { pub mount: bool, pub pid: bool, pub ipc: bool, pub uts: bool, pub net: bool }

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec { pub namespaces: Namespaces, pub no_new_privs: bool, pub hostname: Option<String> }

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SandboxError(String);

fn last(what: &str) -> SandboxError {
    SandboxError(format!("{what}: {}", std::io::Error::last_os_error()))
}

impl SandboxSpec {
    pub fn default_for(service: &str) -> Self {
        SandboxSpec {
            namespaces: Namespaces { mount: true, pid: true, ipc: true, uts: true, net: false },
            no_new_privs: true,
            hostname: Some(service.to_string()),
        }
    }

    pub fn from_vars(service: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<Self, SandboxError> {
        let mut s = Self::default_for(service);
        if let Some(v) = get("sandbox_namespaces").filter(|v| !v.trim().is_empty()) {
            let words: Vec<&str> = v.split_whitespace().collect();
            let has = |w: &str| words.contains(&w);
            s.namespaces = Namespaces { mount: has("mount"), pid: has("pid"), ipc: has("ipc"), uts: has("uts"), net: has("net") };
        }
        if let Some(v) = get("sandbox_no_new_privs") {
            s.no_new_privs = v.trim() != "no";
        }
        if let Some(v) = get("sandbox_hostname").filter(|v| !v.is_empty()) {
            s.hostname = Some(v);
        }
        Ok(s)
    }

    pub fn describe(&self) -> String {
        let n = &self.namespaces;
        let names: Vec<&str> = [(n.mount, "mount"), (n.pid, "pid"), (n.ipc, "ipc"), (n.uts, "uts"), (n.net, "net")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, w)| *w)
            .collect();
        format!("namespaces={} no_new_privs={}", names.join(","), if self.no_new_privs { "yes" } else { "no" })
    }

    fn flags(&self) -> libc::c_int {
        let n = &self.namespaces;
        let mut f = 0;
        if n.mount { f |= libc::CLONE_NEWNS }
        if n.pid { f |= libc::CLONE_NEWPID }
        if n.ipc { f |= libc::CLONE_NEWIPC }
        if n.uts { f |= libc::CLONE_NEWUTS }
        if n.net { f |= libc::CLONE_NEWNET }
        f
    }
}

pub fn unshare_namespaces(spec: &SandboxSpec) -> Result<(), SandboxError> {
    if spec.flags() != 0 && unsafe { libc::unshare(spec.flags()) } != 0 {
        return Err(last("unshare"));
    }
    Ok(())
}

pub fn setup_inside(spec: &SandboxSpec) -> Result<(), SandboxError> {
    let c = |s: &str| std::ffi::CString::new(s).unwrap();
    if spec.namespaces.mount {
        if unsafe { libc::mount(std::ptr::null(), c("/").as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) } != 0 {
            return Err(last("mount / rprivate"));
        }
        if spec.namespaces.pid
            && unsafe { libc::mount(c("proc").as_ptr(), c("/proc").as_ptr(), c("proc").as_ptr(), libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, std::ptr::null()) } != 0
        {
            return Err(last("mount /proc"));
        }
    }
    if let (true, Some(h)) = (spec.namespaces.uts, &spec.hostname) {
        if unsafe { libc::sethostname(h.as_ptr() as *const libc::c_char, h.len()) } != 0 {
            return Err(last("sethostname"));
        }
    }
    Ok(())
}

pub fn join_namespaces(holder_pid: i32, spec: &SandboxSpec) -> Result<(), SandboxError> {
    let n = &spec.namespaces;
    // The pid namespace first: the mount namespace's /proc belongs to it.
    for (on, name, flag) in [(n.pid, "pid", libc::CLONE_NEWPID), (n.ipc, "ipc", libc::CLONE_NEWIPC), (n.uts, "uts", libc::CLONE_NEWUTS), (n.net, "net", libc::CLONE_NEWNET), (n.mount, "mnt", libc::CLONE_NEWNS)] {
        if !on {
            continue;
        }
        let f = File::open(format!("/proc/{holder_pid}/ns/{name}")).map_err(|e| SandboxError(format!("open ns {name}: {e}")))?;
        if unsafe { libc::setns(f.as_raw_fd(), flag) } != 0 {
            return Err(last("setns"));
        }
    }
    Ok(())
}

pub fn confine(spec: &SandboxSpec) -> Result<(), SandboxError> {
    if spec.no_new_privs && unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(last("prctl(NO_NEW_PRIVS)"));
    }
    Ok(())
}
