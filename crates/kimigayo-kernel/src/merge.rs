//! Merging fragments in order: later settings win, every change of an earlier setting is
//! reported as a conflict, and every symbol remembers the fragment line that decided it.

use std::collections::BTreeMap;

use kimigayo_kconfig::{Config, Value};

use crate::fragment::{Fragment, Origin};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub symbol: String,
    pub earlier: (Value, Origin),
    pub later: (Value, Origin),
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {} at {} overrides {} at {}", self.symbol, show(&self.later.0), self.later.1, show(&self.earlier.0), self.earlier.1)
    }
}

pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::Yes => "y".into(),
        Value::Module => "m".into(),
        Value::NotSet => "not set".into(),
        Value::Literal(l) => l.clone(),
    }
}

/// The requested configuration: symbol → (value, where it was decided).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merged {
    pub wanted: BTreeMap<String, (Value, Origin)>,
    /// Symbols in the order they were first requested (for rendering).
    pub order: Vec<String>,
    pub conflicts: Vec<Conflict>,
}

pub fn merge(fragments: &[Fragment]) -> Merged {
    let mut m = Merged::default();
    for f in fragments {
        for (sym, v, line) in &f.settings {
            let origin = f.origin(*line);
            match m.wanted.get(sym) {
                Some((old, old_origin)) => {
                    if old != v && old_origin.fragment != f.name {
                        m.conflicts.push(Conflict { symbol: sym.clone(), earlier: (old.clone(), old_origin.clone()), later: (v.clone(), origin.clone()) });
                    }
                }
                None => m.order.push(sym.clone()),
            }
            m.wanted.insert(sym.clone(), (v.clone(), origin));
        }
    }
    m
}

impl Merged {
    /// Apply the request to a base `.config` (the `allnoconfig` output), like merge_config.sh.
    pub fn apply(&self, base: &Config) -> Config {
        let mut c = base.clone();
        for sym in &self.order {
            c.set(sym, self.wanted[sym].0.clone());
        }
        c
    }

    /// The request as one fragment (hashed into the build key, kept beside the kernel).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for sym in &self.order {
            let (v, o) = &self.wanted[sym];
            out.push_str(&format!("# {o}\n"));
            out.push_str(&match v {
                Value::NotSet => format!("# {sym} is not set\n"),
                other => format!("{sym}={}\n", show(other)),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_wins_and_conflicts_are_reported() {
        let a = Fragment::parse("a", "a.config", "CONFIG_X=y\nCONFIG_Y=y\n").unwrap();
        let b = Fragment::parse("b", "b.config", "# CONFIG_X is not set\nCONFIG_Y=y\nCONFIG_Z=m\n").unwrap();
        let m = merge(&[a, b]);
        assert_eq!(m.wanted["CONFIG_X"].0, Value::NotSet);
        assert_eq!(m.wanted["CONFIG_X"].1.file, "b.config");
        assert_eq!(m.conflicts.len(), 1);
        assert!(m.conflicts[0].to_string().contains("CONFIG_X = not set at b.config:1 overrides y at a.config:1"), "{}", m.conflicts[0]);
        let base = Config::parse("# CONFIG_X is not set\nCONFIG_W=y\n").unwrap();
        let c = m.apply(&base);
        assert_eq!(c.get("CONFIG_Z"), Some(&Value::Module));
        assert_eq!(c.get("CONFIG_W"), Some(&Value::Yes));
    }
}
