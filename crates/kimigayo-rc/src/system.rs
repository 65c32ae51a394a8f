//! Which system the services run on (OpenRC's `rc_sys`) and what that means for them:
//! a script whose `keyword` lists `-<sys>` (or `-containers` in any container) does not run
//! there, and a `need` on it — or on a name only it provides — counts as met. `rc_provide`
//! in rc.conf names what the system provides itself, and `dns` and `logger` are virtual names
//! met even when no service provides them (a `need logger` without a syslog daemon installed
//! still starts). Divergence from OpenRC, on purpose: OpenRC leaves a `need` on a keyworded
//! service unmet (Alpine containers add `rc_provide="loopback net"` by hand); here the
//! scripts the distributions ship start as they are (docs/init.md).

use crate::{Catalog, RcConf, RcRoot};

/// Virtual names met without a provider.
pub const BUILTIN_VIRTUALS: &[&str] = &["dns", "logger"];

/// Container kinds OpenRC knows, as `rc_sys` values (lowercase: the keyword is `-<name>`).
pub const CONTAINER_SYSTEMS: &[&str] = &["docker", "podman", "lxc", "systemd-nspawn", "openvz", "vserver", "jail", "rkt", "wsl"];

/// The system the services run on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcSys {
    /// `docker`, `podman`, `lxc`, …; `None` on a machine (VM or bare metal).
    pub name: Option<String>,
    /// Where it came from ("rc.conf", "/.dockerenv", …), for `rc-status` and messages.
    pub source: String,
    /// `rc_provide` from rc.conf.
    pub provide: Vec<String>,
}

impl RcSys {
    /// `RC_SYS` as OpenRC exports it to scripts (`DOCKER`, `PODMAN`, …; empty on a machine).
    pub fn env_value(&self) -> String {
        self.name.as_deref().unwrap_or("").to_ascii_uppercase()
    }
    pub fn is_container(&self) -> bool {
        self.name.as_deref().is_some_and(|n| CONTAINER_SYSTEMS.contains(&n))
    }
    /// Why `meta`'s keywords keep it from running here, if they do.
    pub fn excludes(&self, keywords: &[String]) -> Option<String> {
        let name = self.name.as_deref()?;
        keywords
            .iter()
            .find(|k| k.strip_prefix('-').is_some_and(|k| k.eq_ignore_ascii_case(name) || (k == "containers" && self.is_container())))
            .map(|k| format!("keyword {k} (rc_sys {name})"))
    }
}

/// `rc_sys` from rc.conf when set (`""` forces "a machine"), else detected from the container
/// markers under `root`: `/.dockerenv` (Docker), `/run/.containerenv` (podman), or the
/// `container` environment variable (`container_env`: lxc, systemd-nspawn, podman, docker).
pub fn detect(root: &RcRoot, conf: &RcConf, container_env: Option<&str>) -> RcSys {
    let provide = conf.list("rc_provide");
    if let Some(v) = conf.get("rc_sys") {
        let v = v.trim().to_ascii_lowercase();
        return RcSys { name: (!v.is_empty()).then_some(v), source: "rc_sys in /etc/rc.conf".into(), provide };
    }
    let found = if root.join(".dockerenv").exists() {
        Some(("docker".to_string(), "/.dockerenv".to_string()))
    } else if root.join("run/.containerenv").exists() {
        Some(("podman".to_string(), "/run/.containerenv".to_string()))
    } else {
        container_env.map(str::trim).filter(|v| !v.is_empty()).map(|v| {
            let v = v.to_ascii_lowercase();
            let name = if v.starts_with("lxc") { "lxc".to_string() } else { v };
            (name, "the container environment variable".to_string())
        })
    };
    match found {
        Some((name, source)) => RcSys { name: Some(name), source, provide },
        None => RcSys { name: None, source: "no container marker".into(), provide },
    }
}

/// The `container` variable of PID 1's environment (systemd's convention; LXC and
/// systemd-nspawn set it), else our own.
pub fn container_env() -> Option<String> {
    if let Ok(env) = std::fs::read("/proc/1/environ") {
        for kv in env.split(|b| *b == 0) {
            if let Some(v) = kv.strip_prefix(b"container=") {
                return Some(String::from_utf8_lossy(v).into_owned());
            }
        }
    }
    std::env::var("container").ok()
}

impl Catalog {
    /// Apply the system: keyworded-out services leave the catalog and, with what only they
    /// provide, count as met (see the module docs); `rc_provide` and the built-in virtual
    /// names are met too unless a service provides them.
    pub fn apply_system(&mut self, sys: &RcSys) {
        let out: Vec<String> = self.services.values().filter(|m| sys.excludes(&m.keyword).is_some()).map(|m| m.name.clone()).collect();
        for name in out {
            let meta = self.services.remove(&name).expect("listed");
            let why = sys.excludes(&meta.keyword).unwrap_or_default();
            for p in &meta.provide {
                self.satisfied.entry(p.clone()).or_insert_with(|| format!("provided by {name}, which does not run here ({why})"));
            }
            self.satisfied.insert(name, format!("does not run here ({why})"));
        }
        for p in &sys.provide {
            self.satisfied.entry(p.clone()).or_insert_with(|| "provided by the system (rc_provide in /etc/rc.conf)".into());
        }
        for v in BUILTIN_VIRTUALS {
            self.satisfied.entry(v.to_string()).or_insert_with(|| "a virtual name met without a provider".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServiceMeta;

    fn meta(name: &str, keyword: &[&str], provide: &[&str]) -> ServiceMeta {
        let mut m = ServiceMeta::new(name);
        m.keyword = keyword.iter().map(|s| s.to_string()).collect();
        m.provide = provide.iter().map(|s| s.to_string()).collect();
        m
    }

    #[test]
    fn detection_prefers_rc_conf_then_markers_then_the_environment() {
        let t = tempfile::tempdir().unwrap();
        let root = RcRoot::new(t.path());
        let conf = RcConf::default();
        assert_eq!(detect(&root, &conf, None).name, None);
        assert_eq!(detect(&root, &conf, Some("lxc-libvirt")).name.as_deref(), Some("lxc"));
        std::fs::create_dir_all(t.path().join("run")).unwrap();
        std::fs::write(t.path().join("run/.containerenv"), "").unwrap();
        assert_eq!(detect(&root, &conf, None).name.as_deref(), Some("podman"));
        std::fs::write(t.path().join(".dockerenv"), "").unwrap();
        let d = detect(&root, &conf, None);
        assert_eq!((d.name.as_deref(), d.env_value().as_str()), (Some("docker"), "DOCKER"));
        let mut conf = RcConf::default();
        conf.vars.insert("rc_sys".into(), "".into());
        assert_eq!(detect(&root, &conf, None).name, None, "rc_sys=\"\" means a machine");
        conf.vars.insert("rc_sys".into(), "LXC".into());
        assert_eq!(detect(&root, &conf, None).name.as_deref(), Some("lxc"));
    }

    #[test]
    fn keyworded_services_and_their_virtuals_count_as_met() {
        let mut cat = Catalog::from_metas([meta("networking", &["-docker"], &["net"]), meta("hostname", &["-containers"], &[]), meta("web", &[], &[])]);
        let sys = RcSys { name: Some("docker".into()), source: String::new(), provide: vec!["firewall".into()] };
        cat.apply_system(&sys);
        assert!(cat.get("networking").is_none() && cat.get("hostname").is_none() && cat.get("web").is_some());
        for n in ["net", "networking", "hostname", "firewall", "dns", "logger"] {
            assert!(cat.satisfied.contains_key(n), "{n}");
        }
        // On a machine nothing is keyworded out.
        let mut cat = Catalog::from_metas([meta("networking", &["-docker"], &["net"])]);
        cat.apply_system(&RcSys::default());
        assert!(cat.get("networking").is_some() && !cat.satisfied.contains_key("net"));
    }
}
