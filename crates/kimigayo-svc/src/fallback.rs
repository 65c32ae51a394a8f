//! What happens when a service's namespaces cannot be created.
//!
//! In an unprivileged container (a default `podman run`/`docker run`: no CAP_SYS_ADMIN) the
//! holder's unshare(2) fails with EPERM. `sandbox_unavailable` in /etc/rc.conf or
//! /etc/conf.d/<svc> decides:
//!
//! - `degrade` (default): the service starts without new namespaces but still confined —
//!   no_new_privs, the capability drop and the seccomp filter need no privilege. One warning
//!   per start names the service, the reason and the fix; it goes to the caller's stderr (the
//!   console), to the services log (`event=sandbox-degraded`), and into the service's state, so
//!   `rc-service X status` shows `namespaces=none (unavailable: EPERM) …`.
//! - `fail`: the start fails with that message.
//!
//! Only EPERM degrades: any other unshare error (ENOSPC: namespace limit, EINVAL, ENOMEM) is a
//! real failure of the host and fails the start whatever the setting.

use kimigayo_sandbox::{Namespaces, SandboxError, SandboxSpec};

/// The conf.d / rc.conf key.
pub const KEY: &str = "sandbox_unavailable";

/// State-dir file recording the degradation (`EPERM`); absent when the namespaces are in force.
pub const STATE_FILE: &str = "sandbox-degraded";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    Degrade,
    Fail,
}

impl Unavailable {
    /// Reads `sandbox_unavailable` (unset or empty = degrade); the error names the service,
    /// the key, the value and what is accepted.
    pub fn from_value(service: &str, value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim).unwrap_or("") {
            "" | "degrade" => Ok(Unavailable::Degrade),
            "fail" => Ok(Unavailable::Fail),
            other => Err(format!(
                "service {service}: {KEY}=\"{other}\" is not valid; accepted values: \"degrade\" (start without \
                 namespaces, still with no_new_privs, capability drop and seccomp) or \"fail\" (refuse to start); \
                 fix it in /etc/conf.d/{service} or /etc/rc.conf"
            )),
        }
    }
}

/// `sandbox_userns`: whether a service whose namespaces cannot be created directly (no
/// CAP_SYS_ADMIN) gets them inside a user namespace of its own.
pub const USERNS_KEY: &str = "sandbox_userns";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernsPolicy {
    /// Where the kernel and runtime allow it, unless the service keeps CAP_NET_BIND_SERVICE
    /// while ports below 1024 are privileged here (it could not bind them any more).
    Auto,
    /// Whenever the kernel and runtime allow it.
    Yes,
    /// Never.
    No,
}

impl UsernsPolicy {
    pub fn from_value(service: &str, value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim).unwrap_or("") {
            "" | "auto" => Ok(UsernsPolicy::Auto),
            "yes" | "true" | "on" | "1" => Ok(UsernsPolicy::Yes),
            "no" | "false" | "off" | "0" => Ok(UsernsPolicy::No),
            other => Err(format!(
                "service {service}: {USERNS_KEY}=\"{other}\" is not valid; accepted values: \"auto\" (a user namespace \
                 where the runtime allows it and the service can still bind its ports), \"yes\" (whenever allowed; ports \
                 below net.ipv4.ip_unprivileged_port_start then cannot be bound) or \"no\"; fix it in /etc/conf.d/{service} \
                 or /etc/rc.conf"
            )),
        }
    }
}

/// The namespaces could not be created; the service runs (or refuses to run) without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Degraded {
    pub errno: i32,
    /// What the service asked for.
    pub requested: Namespaces,
    /// Why a user namespace did not stand in (None: not tried, `sandbox_userns=no`).
    pub userns: Option<String>,
}

/// `Some` when `err` is unshare's EPERM — the one failure that degrades.
pub fn degradable(err: &SandboxError, requested: Namespaces) -> Option<Degraded> {
    match err {
        SandboxError::Syscall { step: "unshare", errno, .. } if *errno == libc::EPERM => {
            Some(Degraded { errno: *errno, requested, userns: None })
        }
        _ => None,
    }
}

pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ENOMEM => "ENOMEM",
        _ => "error",
    }
}

impl Degraded {
    pub fn errno_name(&self) -> &'static str {
        errno_name(self.errno)
    }

    /// The spec actually in force: the same confinement, no namespaces.
    pub fn effective(&self, spec: &SandboxSpec) -> SandboxSpec {
        SandboxSpec { namespaces: Namespaces::NONE, ..spec.clone() }
    }

    /// The `sandbox` line of `rc-service X status`:
    /// `namespaces=none (unavailable: EPERM) no_new_privs=yes seccomp=default cap_drop=none`.
    pub fn describe(&self, spec: &SandboxSpec) -> String {
        let d = self.effective(spec).describe();
        d.replacen("namespaces=none", &format!("namespaces=none (unavailable: {})", self.errno_name()), 1)
    }

    fn wanted(&self) -> String {
        self.requested.names().join(" ")
    }

    /// Why, in a few words (the services log and `status --json`).
    pub fn reason(&self) -> String {
        let mut r = format!(
            "cannot create namespaces ({}): unshare: {} — no CAP_SYS_ADMIN (an unprivileged container?)",
            self.wanted(),
            self.errno_name()
        );
        if let Some(u) = &self.userns {
            r.push_str(&format!("; user namespace not used: {u}"));
        }
        r
    }

    /// The fix, naming the service.
    pub fn fix(&self, service: &str) -> String {
        format!(
            "run the container with --cap-add=SYS_ADMIN for namespace isolation, or set {KEY}=fail \
             (in /etc/conf.d/{service} or /etc/rc.conf) to refuse to start without it"
        )
    }

    /// The one warning printed per service start in degraded mode.
    pub fn warning(&self, service: &str, spec: &SandboxSpec) -> String {
        let eff = self.effective(spec).describe();
        let confined = eff.strip_prefix("namespaces=none ").unwrap_or(&eff);
        format!(
            "{service}: sandbox degraded: {}; starting without namespace isolation, still confined ({confined}); fix: {}",
            self.reason(),
            self.fix(service)
        )
    }

    /// The start failure with `sandbox_unavailable=fail`.
    pub fn refusal(&self, service: &str) -> String {
        format!(
            "sandbox: {}; not starting {service} because {KEY}=fail; fix: run the container with \
             --cap-add=SYS_ADMIN, or set {KEY}=degrade (or sandbox_namespaces=none) in /etc/conf.d/{service} \
             to run it without namespaces",
            self.reason()
        )
    }

    /// What `sandbox-degraded` in the state dir holds: `EPERM: <reason>; fix: <fix>`.
    pub fn record(&self, service: &str) -> String {
        format!("{}: {}; fix: {}", self.errno_name(), self.reason(), self.fix(service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(Unavailable::from_value("web", None), Ok(Unavailable::Degrade));
        assert_eq!(Unavailable::from_value("web", Some("")), Ok(Unavailable::Degrade));
        assert_eq!(Unavailable::from_value("web", Some("fail")), Ok(Unavailable::Fail));
        let e = Unavailable::from_value("web", Some("maybe")).unwrap_err();
        assert!(e.contains("web") && e.contains("sandbox_unavailable") && e.contains("maybe") && e.contains("degrade"), "{e}");
    }

    #[test]
    fn only_unshare_eperm_degrades() {
        let eperm = SandboxError::Syscall { step: "unshare", errno: libc::EPERM, hint: "" };
        let enospc = SandboxError::Syscall { step: "unshare", errno: libc::ENOSPC, hint: "" };
        let mount = SandboxError::Syscall { step: "mount proc on /proc", errno: libc::EPERM, hint: "" };
        assert!(degradable(&eperm, Namespaces::DEFAULT).is_some());
        assert!(degradable(&enospc, Namespaces::DEFAULT).is_none());
        assert!(degradable(&mount, Namespaces::DEFAULT).is_none());
    }

    #[test]
    fn texts_name_service_reason_and_fix() {
        let spec = SandboxSpec::default_for("web");
        let d = Degraded { errno: libc::EPERM, requested: spec.namespaces, userns: Some("refused (unshare(CLONE_NEWUSER): EPERM)".into()) };
        let line = d.describe(&spec);
        assert!(line.starts_with("namespaces=none (unavailable: EPERM) no_new_privs=yes seccomp=default"), "{line}");
        assert!(!line.contains("hostname="), "{line}");
        let w = d.warning("web", &spec);
        assert!(w.starts_with("web: sandbox degraded") && w.contains("EPERM") && w.contains("--cap-add=SYS_ADMIN") && w.contains("sandbox_unavailable=fail"), "{w}");
        assert!(w.contains("mount pid ipc uts") && w.contains("user namespace not used: refused"), "{w}");
        assert_eq!(UsernsPolicy::from_value("web", None), Ok(UsernsPolicy::Auto));
        assert_eq!(UsernsPolicy::from_value("web", Some("no")), Ok(UsernsPolicy::No));
        assert!(UsernsPolicy::from_value("web", Some("maybe")).unwrap_err().contains("sandbox_userns"));
        let r = d.refusal("web");
        assert!(r.contains("web") && r.contains("EPERM") && r.contains("--cap-add=SYS_ADMIN"), "{r}");
    }
}
