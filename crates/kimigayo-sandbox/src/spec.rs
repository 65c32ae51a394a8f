//! What sandbox a service asked for: the `sandbox_*` conf.d keys parsed into a [`SandboxSpec`].

use std::path::PathBuf;
use std::str::FromStr;

use serde_json::json;

use crate::SandboxError;

/// The sandbox one service runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    pub namespaces: Namespaces,
    pub no_new_privs: bool,
    pub seccomp: SeccompChoice,
    pub cap_drop: CapDrop,
    /// Host name inside the UTS namespace (ignored without `uts`).
    pub hostname: Option<String>,
    /// Syscalls the default (or strict) filter would deny that this service needs, each
    /// stated on purpose (`sandbox_allow="chroot"`): sorted, unique.
    pub allow: Vec<String>,
}

/// Which namespaces the service gets of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Namespaces {
    pub mount: bool,
    pub pid: bool,
    pub ipc: bool,
    pub uts: bool,
    pub net: bool,
    /// The others are created inside a user namespace of their own (identity-mapped), which
    /// needs no CAP_SYS_ADMIN: how services are isolated in an unprivileged container.
    pub user: bool,
}

/// Which seccomp filter is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeccompChoice {
    /// The built-in deny list, see [`crate::default_denied_syscalls`].
    Default,
    /// An allow-list ([`crate::strict_allowed_syscalls`]) on top of the default deny list.
    Strict,
    /// No seccomp filter at all.
    Unconfined,
    /// An OCI/Docker seccomp JSON profile.
    Profile(PathBuf),
}

/// Which capabilities are dropped (from the bounding, effective, permitted, inheritable and
/// ambient sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapDrop {
    None,
    All,
    /// Canonical names (`CAP_NET_RAW`), validated by [`SandboxSpec::from_vars`].
    List(Vec<String>),
}

pub const KEY_NAMESPACES: &str = "sandbox_namespaces";
pub const KEY_SECCOMP: &str = "sandbox_seccomp";
pub const KEY_CAP_DROP: &str = "sandbox_cap_drop";
pub const KEY_NO_NEW_PRIVS: &str = "sandbox_no_new_privs";
pub const KEY_HOSTNAME: &str = "sandbox_hostname";
/// Capabilities added back to the default set (`sandbox_caps="CAP_NET_RAW CAP_SYS_TIME"`).
pub const KEY_CAPS: &str = "sandbox_caps";
/// Syscalls let through the filter on purpose (`sandbox_allow="chroot"`).
pub const KEY_ALLOW: &str = "sandbox_allow";
/// Every key [`SandboxSpec::from_vars`] reads.
pub const KEYS: [&str; 7] = [
    KEY_ALLOW,
    KEY_NAMESPACES,
    KEY_SECCOMP,
    KEY_CAP_DROP,
    KEY_CAPS,
    KEY_NO_NEW_PRIVS,
    KEY_HOSTNAME,
];

/// The capabilities a service keeps by default (its bounding set; root daemons keep these
/// in their effective set): what a typical daemon needs to start as root, bind a low port,
/// fix ownership of its files, switch to its user and signal its children. Everything else
/// (SYS_ADMIN, NET_ADMIN, NET_RAW, SYS_PTRACE, SYS_MODULE, SYS_TIME, SYS_CHROOT, MKNOD, …) is
/// dropped; `sandbox_caps` adds a capability back, `sandbox_cap_drop` replaces the default.
pub const DEFAULT_KEEP_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_AUDIT_WRITE",
];

/// Every capability this library knows, canonical names, sorted.
fn all_caps() -> Vec<String> {
    let mut v: Vec<String> = caps::all().into_iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}

/// The default drop list: every capability not in [`DEFAULT_KEEP_CAPS`].
pub fn default_cap_drop() -> CapDrop {
    CapDrop::List(all_caps().into_iter().filter(|c| !DEFAULT_KEEP_CAPS.contains(&c.as_str())).collect())
}

const ACCEPT_NS: &str =
    "a space-separated subset of \"mount pid ipc uts net user\" (pid needs mount; user: inside a user namespace), or \"none\"";
const ACCEPT_SECCOMP: &str =
    "\"default\", \"strict\" (an allow-list), \"unconfined\", or an absolute path to an OCI/Docker seccomp JSON profile";
const ACCEPT_ALLOW: &str = "names of syscalls the default filter denies (e.g. \"chroot\"), or under sandbox_seccomp=strict any syscall name; not the argument rules (unshare, clone, clone3, personality, mknod)";
const ACCEPT_CAPS: &str = "\"ALL\", \"none\", or capability names such as \"CAP_SYS_ADMIN CAP_NET_RAW\" (see capabilities(7))";
const ACCEPT_BOOL: &str = "yes, no (also true/false, on/off, 1/0)";
const ACCEPT_HOST: &str =
    "1 to 64 characters of letters, digits, '.', '-' and '_', not starting with '-'";

impl Namespaces {
    /// The default: mount, pid, ipc and uts; no private network.
    pub const DEFAULT: Namespaces = Namespaces {
        mount: true,
        pid: true,
        ipc: true,
        uts: true,
        net: false,
        user: false,
    };
    pub const NONE: Namespaces = Namespaces {
        mount: false,
        pid: false,
        ipc: false,
        uts: false,
        net: false,
        user: false,
    };

    /// `CLONE_NEW*` flags for unshare(2), without `CLONE_NEWUSER` (a user namespace needs its id
    /// maps written from outside: see [`crate::enter_user_namespace`]).
    pub fn clone_flags(&self) -> libc::c_int {
        let mut f = 0;
        if self.mount {
            f |= libc::CLONE_NEWNS;
        }
        if self.pid {
            f |= libc::CLONE_NEWPID;
        }
        if self.ipc {
            f |= libc::CLONE_NEWIPC;
        }
        if self.uts {
            f |= libc::CLONE_NEWUTS;
        }
        if self.net {
            f |= libc::CLONE_NEWNET;
        }
        f
    }

    /// Names as written in `sandbox_namespaces`, in a fixed order.
    pub fn names(&self) -> Vec<&'static str> {
        let all = [
            ("user", self.user),
            ("mount", self.mount),
            ("pid", self.pid),
            ("ipc", self.ipc),
            ("uts", self.uts),
            ("net", self.net),
        ];
        all.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect()
    }

    /// (setting name, /proc/PID/ns entry) pairs for the namespaces requested.
    pub fn proc_entries(&self) -> Vec<(&'static str, &'static str)> {
        let all = [
            ("user", "user", self.user),
            ("ipc", "ipc", self.ipc),
            ("uts", "uts", self.uts),
            ("net", "net", self.net),
            ("pid", "pid", self.pid),
            ("mount", "mnt", self.mount),
        ];
        all.iter()
            .filter(|(_, _, on)| *on)
            .map(|(n, p, _)| (*n, *p))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.clone_flags() == 0 && !self.user
    }
}

impl SandboxSpec {
    /// The sandbox a service gets when its conf.d says nothing: mount, pid, ipc and uts namespaces,
    /// no_new_privs, the default seccomp filter, every capability but [`DEFAULT_KEEP_CAPS`]
    /// dropped, host name = service name.
    pub fn default_for(service: &str) -> Self {
        SandboxSpec {
            namespaces: Namespaces::DEFAULT,
            no_new_privs: true,
            seccomp: SeccompChoice::Default,
            cap_drop: default_cap_drop(),
            hostname: Some(default_hostname(service)),
            allow: Vec::new(),
        }
    }

    /// A spec with nothing applied (the `unconfined` escape hatch for every key).
    pub fn unconfined() -> Self {
        SandboxSpec {
            namespaces: Namespaces::NONE,
            no_new_privs: false,
            seccomp: SeccompChoice::Unconfined,
            cap_drop: CapDrop::None,
            hostname: None,
            allow: Vec::new(),
        }
    }

    /// Reads the `sandbox_*` variables through `get` (conf.d then rc.conf, as the caller merges
    /// them). Unset or empty variables keep the defaults of [`SandboxSpec::default_for`].
    pub fn from_vars(
        service: &str,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, SandboxError> {
        let mut spec = SandboxSpec::default_for(service);
        let val = |key: &str| {
            get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bad = |key: &'static str, value: &str, reason: String, accepted: &'static str| {
            SandboxError::BadSetting {
                service: service.to_string(),
                key,
                value: value.to_string(),
                reason,
                accepted,
            }
        };

        if let Some(v) = val(KEY_NAMESPACES) {
            spec.namespaces =
                parse_namespaces(&v).map_err(|r| bad(KEY_NAMESPACES, &v, r, ACCEPT_NS))?;
        }
        if let Some(v) = val(KEY_SECCOMP) {
            spec.seccomp = match v.as_str() {
                "default" => SeccompChoice::Default,
                "strict" => SeccompChoice::Strict,
                "unconfined" => SeccompChoice::Unconfined,
                p if p.starts_with('/') => SeccompChoice::Profile(PathBuf::from(p)),
                _ => {
                    return Err(bad(
                        KEY_SECCOMP,
                        &v,
                        "not a known filter name nor an absolute path".into(),
                        ACCEPT_SECCOMP,
                    ))
                }
            };
        }
        if let Some(v) = val(KEY_CAP_DROP) {
            spec.cap_drop = parse_caps(&v).map_err(|r| bad(KEY_CAP_DROP, &v, r, ACCEPT_CAPS))?;
        }
        if let Some(v) = val(KEY_CAPS) {
            let add = match parse_caps(&v).map_err(|r| bad(KEY_CAPS, &v, r, ACCEPT_CAPS))? {
                CapDrop::List(l) => l,
                CapDrop::All => all_caps(),
                CapDrop::None => Vec::new(),
            };
            spec.cap_drop = match std::mem::replace(&mut spec.cap_drop, CapDrop::None) {
                CapDrop::None => CapDrop::None,
                CapDrop::All => CapDrop::List(all_caps().into_iter().filter(|c| !add.contains(c)).collect()),
                CapDrop::List(l) => CapDrop::List(l.into_iter().filter(|c| !add.contains(c)).collect()),
            };
        }
        if let Some(v) = val(KEY_NO_NEW_PRIVS) {
            spec.no_new_privs = parse_bool(&v).ok_or_else(|| {
                bad(
                    KEY_NO_NEW_PRIVS,
                    &v,
                    "not a yes/no value".into(),
                    ACCEPT_BOOL,
                )
            })?;
        }
        if let Some(v) = val(KEY_HOSTNAME) {
            check_hostname(&v).map_err(|r| bad(KEY_HOSTNAME, &v, r, ACCEPT_HOST))?;
            spec.hostname = Some(v);
        }
        if let Some(v) = val(KEY_ALLOW) {
            spec.allow = parse_allow(&v, &spec.seccomp).map_err(|r| bad(KEY_ALLOW, &v, r, ACCEPT_ALLOW))?;
        }
        Ok(spec)
    }

    /// The `sandbox_*` variables that [`SandboxSpec::from_vars`] turns back into this spec
    /// (used to hand the spec to a holder process through its environment).
    pub fn to_vars(&self) -> Vec<(&'static str, String)> {
        let ns = if self.namespaces.is_empty() {
            "none".to_string()
        } else {
            self.namespaces.names().join(" ")
        };
        let mut v = vec![
            (KEY_NAMESPACES, ns),
            (KEY_SECCOMP, self.seccomp_word()),
            (KEY_CAP_DROP, self.cap_drop_word()),
            (
                KEY_NO_NEW_PRIVS,
                if self.no_new_privs { "yes" } else { "no" }.to_string(),
            ),
        ];
        if let Some(h) = &self.hostname {
            v.push((KEY_HOSTNAME, h.clone()));
        }
        if !self.allow.is_empty() {
            v.push((KEY_ALLOW, self.allow.join(" ")));
        }
        v
    }

    /// One line for `rc-service X status`, e.g.
    /// `namespaces=mount,pid,ipc,uts no_new_privs=yes seccomp=default cap_drop=none hostname=nginx`.
    pub fn describe(&self) -> String {
        let ns = if self.namespaces.is_empty() {
            "none".to_string()
        } else {
            self.namespaces.names().join(",")
        };
        let all = all_caps();
        let cap_word = match &self.cap_drop {
            // A long drop list reads better as what is kept.
            CapDrop::List(l) if l.len() * 2 > all.len() => {
                format!("all-but:{}", all.iter().filter(|c| !l.contains(c)).cloned().collect::<Vec<_>>().join(","))
            }
            _ => self.cap_drop_word().replace(' ', ","),
        };
        let mut s = format!(
            "namespaces={ns} no_new_privs={} seccomp={} cap_drop={}",
            if self.no_new_privs { "yes" } else { "no" },
            self.seccomp_word(),
            cap_word,
        );
        if !self.allow.is_empty() && !matches!(self.seccomp, SeccompChoice::Unconfined | SeccompChoice::Profile(_)) {
            s.push_str(&format!(" allow={}", self.allow.join(",")));
        }
        if let (Some(h), true) = (&self.hostname, self.namespaces.uts) {
            s.push_str(&format!(" hostname={h}"));
        }
        s
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "namespaces": self.namespaces.names(),
            "no_new_privs": self.no_new_privs,
            "seccomp": match &self.seccomp {
                SeccompChoice::Default => json!("default"),
                SeccompChoice::Strict => json!("strict"),
                SeccompChoice::Unconfined => json!("unconfined"),
                SeccompChoice::Profile(p) => json!({ "profile": p }),
            },
            "cap_drop": match &self.cap_drop {
                CapDrop::None => json!([]),
                CapDrop::All => json!("ALL"),
                CapDrop::List(l) => json!(l),
            },
            "hostname": if self.namespaces.uts { json!(self.hostname) } else { json!(null) },
            "allow": self.allow,
        })
    }

    fn seccomp_word(&self) -> String {
        match &self.seccomp {
            SeccompChoice::Default => "default".into(),
            SeccompChoice::Strict => "strict".into(),
            SeccompChoice::Unconfined => "unconfined".into(),
            SeccompChoice::Profile(p) => p.display().to_string(),
        }
    }

    fn cap_drop_word(&self) -> String {
        match &self.cap_drop {
            CapDrop::None => "none".into(),
            CapDrop::All => "ALL".into(),
            CapDrop::List(l) => l.join(" "),
        }
    }
}

/// Service names may be longer than a host name may be: keep the first 64 bytes.
fn default_hostname(service: &str) -> String {
    let mut end = service.len().min(64);
    while !service.is_char_boundary(end) {
        end -= 1;
    }
    service[..end].to_string()
}

fn words(v: &str) -> impl Iterator<Item = &str> {
    v.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
}

fn parse_namespaces(v: &str) -> Result<Namespaces, String> {
    let mut ns = Namespaces::NONE;
    let ws: Vec<&str> = words(v).collect();
    if ws == ["none"] {
        return Ok(ns);
    }
    for w in ws {
        match w {
            "mount" | "mnt" => ns.mount = true,
            "pid" => ns.pid = true,
            "ipc" => ns.ipc = true,
            "uts" => ns.uts = true,
            "net" | "network" => ns.net = true,
            "user" => ns.user = true,
            "none" => return Err("\"none\" cannot be combined with other namespaces".into()),
            other => return Err(format!("unknown namespace \"{other}\"")),
        }
    }
    if ns.pid && !ns.mount {
        return Err(
            "pid without mount: a PID namespace needs its own mount namespace for a fresh /proc \
                    (otherwise pidfiles and /proc would show host pids); add \"mount\""
                .into(),
        );
    }
    Ok(ns)
}

fn parse_caps(v: &str) -> Result<CapDrop, String> {
    let ws: Vec<&str> = words(v).collect();
    match ws.as_slice() {
        [one] if one.eq_ignore_ascii_case("all") => return Ok(CapDrop::All),
        [one] if one.eq_ignore_ascii_case("none") => return Ok(CapDrop::None),
        _ => {}
    }
    let mut out = Vec::new();
    for w in ws {
        if w.eq_ignore_ascii_case("all") || w.eq_ignore_ascii_case("none") {
            return Err(format!("\"{w}\" must stand alone"));
        }
        let canon = caps::to_canonical(w);
        if caps::Capability::from_str(&canon).is_err() {
            return Err(format!("unknown capability \"{w}\""));
        }
        if !out.contains(&canon) {
            out.push(canon);
        }
    }
    Ok(CapDrop::List(out))
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `sandbox_allow`: each name must be something the chosen filter denies outright.
fn parse_allow(v: &str, seccomp: &SeccompChoice) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for w in words(v) {
        let known = crate::syscall_nr(seccompiler::TargetArch::x86_64, w).is_some() || crate::syscall_nr(seccompiler::TargetArch::aarch64, w).is_some();
        if !known {
            return Err(format!("\"{w}\" is not a syscall name"));
        }
        if crate::filter::DEFAULT_CONDITIONAL.iter().any(|(names, _)| names.split(", ").any(|n| n == w)) {
            return Err(format!("\"{w}\" is restricted by argument, not denied; use an OCI profile (sandbox_seccomp=/path.json) to change that rule"));
        }
        let denied = crate::filter::DEFAULT_DENIED.contains(&w)
            || (*seccomp == SeccompChoice::Strict && !crate::filter::STRICT_ALLOWED.contains(&w));
        if !denied {
            return Err(format!("\"{w}\" is not denied by sandbox_seccomp={}; nothing to allow", match seccomp {
                SeccompChoice::Strict => "strict",
                SeccompChoice::Default => "default",
                _ => "(a profile or unconfined: sandbox_allow applies to default and strict only)",
            }));
        }
        if !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    out.sort();
    Ok(out)
}

fn check_hostname(v: &str) -> Result<(), String> {
    if v.len() > 64 {
        return Err(format!("{} characters, more than 64", v.len()));
    }
    if v.starts_with('-') {
        return Err("starts with '-'".into());
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!("contains {c:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<SandboxSpec, SandboxError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SandboxSpec::from_vars("nginx", &move |k| m.get(k).cloned())
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = parse(&[]).unwrap();
        assert_eq!(s, SandboxSpec::default_for("nginx"));
        assert_eq!(s.namespaces, Namespaces::DEFAULT);
        assert!(s.no_new_privs);
        assert_eq!(s.seccomp, SeccompChoice::Default);
        assert_eq!(s.cap_drop, default_cap_drop());
        assert_eq!(s.hostname.as_deref(), Some("nginx"));
        assert_eq!(
            s.describe(),
            "namespaces=mount,pid,ipc,uts no_new_privs=yes seccomp=default \
             cap_drop=all-but:CAP_AUDIT_WRITE,CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_NET_BIND_SERVICE,CAP_SETGID,CAP_SETPCAP,CAP_SETUID hostname=nginx"
        );
        // The spec survives the trip through the holder's environment.
        let vars = s.to_vars();
        let back = SandboxSpec::from_vars("nginx", &|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn sandbox_caps_adds_back_to_the_default_and_cap_drop_replaces_it() {
        let s = parse(&[("sandbox_caps", "net_raw CAP_SYS_TIME")]).unwrap();
        let CapDrop::List(l) = &s.cap_drop else { panic!("{:?}", s.cap_drop) };
        assert!(!l.contains(&"CAP_NET_RAW".to_string()) && !l.contains(&"CAP_SYS_TIME".to_string()));
        assert!(l.contains(&"CAP_SYS_ADMIN".to_string()) && l.contains(&"CAP_NET_ADMIN".to_string()));
        assert_eq!(parse(&[("sandbox_cap_drop", "none")]).unwrap().cap_drop, CapDrop::None);
        let only = parse(&[("sandbox_cap_drop", "ALL"), ("sandbox_caps", "CAP_NET_BIND_SERVICE")]).unwrap();
        let CapDrop::List(l) = &only.cap_drop else { panic!() };
        assert!(!l.contains(&"CAP_NET_BIND_SERVICE".to_string()) && l.contains(&"CAP_CHOWN".to_string()));
        assert!(parse(&[("sandbox_caps", "CAP_BOGUS")]).is_err());
    }

    #[test]
    fn every_key_parses() {
        let s = parse(&[
            ("sandbox_namespaces", "mount pid net"),
            ("sandbox_seccomp", "/etc/kimigayo/seccomp/web.json"),
            ("sandbox_cap_drop", "net_raw, CAP_SYS_ADMIN cap_net_raw"),
            ("sandbox_no_new_privs", "NO"),
            ("sandbox_hostname", "web-1"),
        ])
        .unwrap();
        assert_eq!(
            s.namespaces,
            Namespaces {
                mount: true,
                pid: true,
                ipc: false,
                uts: false,
                net: true,
                user: false
            }
        );
        assert_eq!(
            s.seccomp,
            SeccompChoice::Profile("/etc/kimigayo/seccomp/web.json".into())
        );
        assert_eq!(
            s.cap_drop,
            CapDrop::List(vec!["CAP_NET_RAW".into(), "CAP_SYS_ADMIN".into()])
        );
        assert!(!s.no_new_privs);
        assert_eq!(s.hostname.as_deref(), Some("web-1"));
        assert_eq!(
            parse(&[("sandbox_namespaces", "none")]).unwrap().namespaces,
            Namespaces::NONE
        );
        assert_eq!(
            parse(&[("sandbox_cap_drop", "all")]).unwrap().cap_drop,
            CapDrop::All
        );
        assert_eq!(
            parse(&[("sandbox_seccomp", "unconfined")]).unwrap().seccomp,
            SeccompChoice::Unconfined
        );
    }

    #[test]
    fn to_vars_round_trips() {
        for s in [
            SandboxSpec::default_for("sshd"),
            parse(&[
                ("sandbox_namespaces", "none"),
                ("sandbox_cap_drop", "ALL"),
                ("sandbox_no_new_privs", "no"),
            ])
            .unwrap(),
            parse(&[
                ("sandbox_namespaces", "ipc uts net"),
                ("sandbox_cap_drop", "CAP_KILL"),
                ("sandbox_seccomp", "/p.json"),
            ])
            .unwrap(),
        ] {
            let vars: HashMap<String, String> = s
                .to_vars()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            assert_eq!(
                SandboxSpec::from_vars("nginx", &|k| vars.get(k).cloned()).unwrap(),
                s
            );
        }
    }

    #[test]
    fn bad_values_name_service_key_value_and_accepted() {
        let cases = [
            (
                "sandbox_namespaces",
                "mount pid cgroup",
                "unknown namespace \"cgroup\"",
            ),
            ("sandbox_namespaces", "pid ipc", "pid without mount"),
            ("sandbox_namespaces", "none pid", "cannot be combined"),
            ("sandbox_seccomp", "strictest", "absolute path"),
            ("sandbox_allow", "chrooot", "not a syscall name"),
            ("sandbox_allow", "read", "not denied"),
            ("sandbox_allow", "unshare", "restricted by argument"),
            ("sandbox_seccomp", "profiles/web.json", "absolute path"),
            (
                "sandbox_cap_drop",
                "CAP_FLY",
                "unknown capability \"CAP_FLY\"",
            ),
            ("sandbox_cap_drop", "ALL CAP_KILL", "must stand alone"),
            ("sandbox_no_new_privs", "maybe", "yes/no"),
            ("sandbox_hostname", "bad host", "contains ' '"),
            ("sandbox_hostname", "-x", "starts with '-'"),
        ];
        for (key, value, reason) in cases {
            let err = parse(&[(key, value)]).unwrap_err().to_string();
            assert!(err.contains("service nginx"), "{err}");
            assert!(err.contains(&format!("{key}=\"{value}\"")), "{err}");
            assert!(err.contains(reason), "{err}");
            assert!(err.contains("accepted values:"), "{err}");
        }
    }

    #[test]
    fn long_service_names_give_a_legal_hostname() {
        let name = "x".repeat(100);
        assert_eq!(SandboxSpec::default_for(&name).hostname.unwrap().len(), 64);
    }
}
