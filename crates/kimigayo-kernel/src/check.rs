//! The checker run after `make olddefconfig`: every requested option that did not survive is
//! named with the fragment line that asked for it and, when the tree's Kconfig says, the
//! dependency it lacked; every hardening option the result does not satisfy is refused
//! (property 31), naming the fragment that overrode it when one did.

use kimigayo_kconfig::{Config, Value};

use crate::deps::DepIndex;
use crate::fragment::{Fragment, Origin};
use crate::merge::{show, Conflict, Merged};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A requested option `make olddefconfig` changed (usually an unmet dependency).
    Dropped { symbol: String, wanted: Value, got: Option<Value>, origin: Origin, missing: Vec<String> },
    /// A hardening option the result does not satisfy. `by` is the later fragment line that
    /// overrode it; `None` means the kernel's own dependency rules dropped it.
    Weakened { symbol: String, required: Value, got: Option<Value>, origin: Origin, by: Option<Origin>, missing: Vec<String> },
}

impl Finding {
    pub fn symbol(&self) -> &str {
        match self {
            Finding::Dropped { symbol, .. } | Finding::Weakened { symbol, .. } => symbol,
        }
    }
}

fn got_text(got: &Option<Value>) -> String {
    got.as_ref().map_or("absent".to_string(), show)
}

fn missing_text(missing: &[String]) -> String {
    if missing.is_empty() {
        String::new()
    } else {
        format!("; missing dependency: {}", missing.join(", "))
    }
}

fn setting(sym: &str, v: &Value) -> String {
    match v {
        Value::NotSet => format!("# {sym} is not set"),
        v => format!("{sym}={}", show(v)),
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Dropped { symbol, wanted, got, origin, missing } => {
                write!(f, "{symbol}: {origin} asks for {} but `make olddefconfig` left it {}{}", show(wanted), got_text(got), missing_text(missing))?;
                let fix = match missing.first() {
                    Some(dep) if !dep.starts_with('!') => format!("add the missing dependency (e.g. `{}=y`) to {} above line {}", dep.split(' ').next().unwrap_or(dep), origin.file, origin.line),
                    _ => format!("satisfy its dependencies in {} or remove line {}", origin.file, origin.line),
                };
                write!(f, "\n    fix: {fix}")
            }
            Finding::Weakened { symbol, required, got, origin, by, missing } => {
                write!(f, "{symbol}: required hardening option ({origin}: {}) is {} in the result", setting(symbol, required), got_text(got))?;
                match by {
                    Some(b) => write!(f, "; overridden by {b}\n    fix: remove that line from {} — hardening options cannot be turned off (property 31)", b.file),
                    None => write!(
                        f,
                        "; dropped by `make olddefconfig`{}\n    fix: add the missing dependency to {} (or keep whatever disabled it out of the other fragments)",
                        missing_text(missing),
                        origin.file
                    ),
                }
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Later fragments changing an earlier fragment's value (allowed unless it is a hardening option).
    pub conflicts: Vec<Conflict>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
    pub fn weakened(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| matches!(f, Finding::Weakened { .. }))
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let weak = self.weakened().count();
        writeln!(f, "kernel configuration rejected: {} requested option(s) not in the result, {weak} of them hardening (property 31):", self.findings.len())?;
        for x in &self.findings {
            writeln!(f, "  {x}")?;
        }
        for c in &self.conflicts {
            writeln!(f, "  note: {c}")?;
        }
        Ok(())
    }
}

/// Does `got` give what `wanted` asked for? A module asked for and built in is fine (`y` ⊇ `m`).
fn satisfies(wanted: &Value, got: Option<&Value>) -> bool {
    match (wanted, got) {
        (Value::NotSet, None | Some(Value::NotSet)) => true,
        (Value::Module, Some(Value::Module | Value::Yes)) => true,
        (w, Some(g)) => w == g,
        (_, None) => false,
    }
}

/// Compare the request (and the hardening fragment) with the resulting `.config`.
pub fn check(merged: &Merged, hardening: &Fragment, result: &Config, deps: Option<&DepIndex>) -> Report {
    let missing = |sym: &str| deps.map(|d| d.missing(sym, result)).unwrap_or_default();
    let mut findings = Vec::new();
    let required = hardening.values();
    for (sym, (req, line)) in &required {
        if satisfies(req, result.get(sym)) {
            continue;
        }
        let origin = hardening.origin(*line);
        let by = merged.wanted.get(*sym).filter(|(_, o)| o.fragment != hardening.name).map(|(_, o)| o.clone());
        let missing = if by.is_none() { missing(sym) } else { vec![] };
        findings.push(Finding::Weakened { symbol: sym.to_string(), required: (*req).clone(), got: result.get(sym).cloned(), origin, by, missing });
    }
    for sym in &merged.order {
        let (wanted, origin) = &merged.wanted[sym];
        if required.contains_key(sym.as_str()) || satisfies(wanted, result.get(sym)) {
            continue;
        }
        findings.push(Finding::Dropped { symbol: sym.clone(), wanted: wanted.clone(), got: result.get(sym).cloned(), origin: origin.clone(), missing: missing(sym) });
    }
    Report { findings, conflicts: merged.conflicts.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::merge;

    fn frag(name: &str, text: &str) -> Fragment {
        Fragment::parse(name, &format!("kernel/fragments/{name}.config"), text).unwrap()
    }

    #[test]
    fn a_drop_names_option_file_line_and_dependency() {
        let h = frag("hardening", "CONFIG_A=y\n");
        let b = frag("base", "CONFIG_TMPFS=y\n");
        let m = merge(&[b, h.clone()]);
        let result = Config::parse("CONFIG_A=y\n# CONFIG_TMPFS is not set\n# CONFIG_SHMEM is not set\n").unwrap();
        let deps = DepIndex::from_kconfig_texts(&["config TMPFS\n\tbool \"tmpfs\"\n\tdepends on SHMEM\n"]);
        let r = check(&m, &h, &result, Some(&deps));
        assert_eq!(r.findings.len(), 1);
        let t = r.to_string();
        assert!(t.contains("CONFIG_TMPFS: kernel/fragments/base.config:1 asks for y") && t.contains("missing dependency: CONFIG_SHMEM (not set)") && t.contains("CONFIG_SHMEM=y"), "{t}");
    }

    #[test]
    fn an_override_of_hardening_is_refused_by_name() {
        let h = frag("hardening", "CONFIG_STRICT_KERNEL_RWX=y\n# CONFIG_DEVMEM is not set\n");
        let u = frag("user", "# CONFIG_STRICT_KERNEL_RWX is not set\nCONFIG_DEVMEM=y\n");
        let m = merge(&[h.clone(), u]);
        let result = m.apply(&Config::parse("").unwrap());
        let r = check(&m, &h, &result, None);
        let names: Vec<&str> = r.weakened().map(|f| f.symbol()).collect();
        assert_eq!(names, ["CONFIG_DEVMEM", "CONFIG_STRICT_KERNEL_RWX"]);
        assert!(r.to_string().contains("overridden by kernel/fragments/user.config:1"), "{r}");
        assert_eq!(r.conflicts.len(), 2);
    }

    #[test]
    fn module_built_in_satisfies_a_module_request() {
        let h = frag("hardening", "");
        let m = merge(&[frag("modules/ext4", "CONFIG_EXT4_FS=m\n")]);
        assert!(check(&m, &h, &Config::parse("CONFIG_EXT4_FS=y\n").unwrap(), None).ok());
        assert!(!check(&m, &h, &Config::parse("").unwrap(), None).ok());
    }
}
