//! `/etc/rc.conf`: global settings (`rc_parallel`, `rc_logger`, `rc_timeout_stopsec`, ...).

use std::collections::BTreeMap;

use crate::{read_shell_vars, RcError, RcRoot};

/// The variables of `/etc/rc.conf` (missing file = all defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcConf {
    pub vars: BTreeMap<String, String>,
}

impl RcConf {
    pub fn load(root: &RcRoot) -> Result<Self, RcError> {
        Ok(RcConf { vars: read_shell_vars(&root.rc_conf())? })
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }
    /// A yes/no setting read the way OpenRC's `yesno` does; `None` when unset or not yes/no.
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(yesno)
    }
    /// `rc_parallel`: start services of one wave at the same time (OpenRC default: NO).
    pub fn parallel(&self) -> bool {
        self.flag("rc_parallel").unwrap_or(false)
    }
    /// `rc_logger`: capture boot output to a log (default NO).
    pub fn logger(&self) -> bool {
        self.flag("rc_logger").unwrap_or(false)
    }
    /// `rc_timeout_stopsec`: seconds to wait for a service to stop (OpenRC default 90).
    pub fn timeout_stopsec(&self) -> u64 {
        self.get("rc_timeout_stopsec").and_then(|v| v.trim().parse().ok()).unwrap_or(90)
    }
    /// `rc_env_allow` etc.: a whitespace-separated list setting.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key).map(|v| v.split_whitespace().map(str::to_owned).collect()).unwrap_or_default()
    }
}

/// OpenRC's `yesno`: YES/TRUE/ON/1 and NO/FALSE/OFF/0, any case.
pub fn yesno(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings() {
        let t = tempfile::tempdir().unwrap();
        let root = RcRoot::new(t.path());
        let c = RcConf::load(&root).unwrap();
        assert!(!c.parallel());
        assert_eq!(c.timeout_stopsec(), 90);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.rc_conf(), "rc_parallel=\"YES\"\nrc_logger=no\nrc_timeout_stopsec=\"5\"\nrc_env_allow=\"A B\"\n").unwrap();
        let c = RcConf::load(&root).unwrap();
        assert!(c.parallel());
        assert!(!c.logger());
        assert_eq!(c.timeout_stopsec(), 5);
        assert_eq!(c.list("rc_env_allow"), ["A", "B"]);
        assert_eq!(c.get("nope"), None);
    }
}
