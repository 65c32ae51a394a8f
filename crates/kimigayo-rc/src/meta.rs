//! What an init script declares about itself, and the set of all of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The metadata of one `/etc/init.d` script: its `depend()` declarations (plus conf.d's
/// `rc_need=` style additions) and the variables the runtime and `rc-status` show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceMeta {
    pub name: String,
    pub need: Vec<String>,
    #[serde(rename = "use")]
    pub use_: Vec<String>,
    pub want: Vec<String>,
    pub after: Vec<String>,
    pub before: Vec<String>,
    pub provide: Vec<String>,
    pub keyword: Vec<String>,
    /// Files named by `config` in depend() (OpenRC: changes mark the service as needing a restart).
    pub config: Vec<String>,
    pub description: Option<String>,
    pub extra_commands: Vec<String>,
    pub extra_started_commands: Vec<String>,
    pub extra_stopped_commands: Vec<String>,
}

impl ServiceMeta {
    pub fn new(name: impl Into<String>) -> Self {
        ServiceMeta { name: name.into(), ..Default::default() }
    }
    /// True when `keyword` lists `kw` (e.g. `-shutdown`, `-stop`, `-docker`).
    pub fn has_keyword(&self, kw: &str) -> bool {
        self.keyword.iter().any(|k| k == kw)
    }
}

/// Why a script's metadata could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadFailure {
    pub service: String,
    /// One line: "exited while being sourced (status 2)", "timed out after 5 s in depend()".
    pub reason: String,
    /// The tail of what the shell printed on stderr for this script.
    pub stderr: String,
    /// Timeouts are not cached: the next load tries again.
    pub timed_out: bool,
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/etc/init.d/{}: {}", self.service, self.reason)?;
        let tail = self.stderr.trim();
        if !tail.is_empty() {
            write!(f, ": {tail}")?;
        }
        Ok(())
    }
}

/// Every loaded service, plus the scripts that failed to load (reported by name; the others
/// still load).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub services: BTreeMap<String, ServiceMeta>,
    pub failures: BTreeMap<String, LoadFailure>,
    /// Names met without running anything, and why: services keyworded out on this system
    /// and what they provide, `rc_provide`, the built-in virtual names (see
    /// [`Catalog::apply_system`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub satisfied: BTreeMap<String, String>,
}

impl Catalog {
    /// A catalog from in-memory metadata (tests, the pure ordering core).
    pub fn from_metas(metas: impl IntoIterator<Item = ServiceMeta>) -> Self {
        Catalog { services: metas.into_iter().map(|m| (m.name.clone(), m)).collect(), failures: BTreeMap::new(), satisfied: BTreeMap::new() }
    }
    pub fn get(&self, name: &str) -> Option<&ServiceMeta> {
        self.services.get(name)
    }
    /// Services whose `provide` lists `virt`, sorted.
    pub fn providers(&self, virt: &str) -> Vec<&str> {
        self.services.values().filter(|m| m.provide.iter().any(|p| p == virt)).map(|m| m.name.as_str()).collect()
    }
}
