//! Which services must not start because something they `need` failed (pure).
//!
//! Only `need` is a hard dependency (as in OpenRC): a failed `use`/`want`/`after` target does
//! not stop anyone. A need names a service or a virtual one; it is met when the service itself
//! or any provider of it started.

use std::collections::{BTreeMap, BTreeSet};

/// `needs[s]` = one group of alternatives per `need` entry of `s` (the service itself and
/// the providers of the virtual name).
pub type Needs = BTreeMap<String, Vec<Vec<String>>>;

/// Returns the failed (or itself blocked) service that blocks `svc`, if any. A need whose
/// alternatives were not part of this boot at all is ignored (the plan reported it already).
pub fn blocked_by(svc: &str, needs: &Needs, started: &BTreeSet<String>, failed: &BTreeSet<String>) -> Option<String> {
    for group in needs.get(svc).map(|g| g.as_slice()).unwrap_or(&[]) {
        if group.iter().any(|a| started.contains(a)) {
            continue;
        }
        if let Some(f) = group.iter().find(|a| failed.contains(*a)) {
            return Some(f.clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_failed_need_blocks_but_a_provider_rescues() {
        let mut needs = Needs::new();
        needs.insert("web".into(), vec![vec!["db".into()], vec!["net".into(), "eth".into(), "wifi".into()]]);
        assert_eq!(blocked_by("web", &needs, &set(&["eth"]), &set(&["db"])), Some("db".into()));
        assert_eq!(blocked_by("web", &needs, &set(&["db", "wifi"]), &set(&["eth"])), None);
        assert_eq!(blocked_by("web", &needs, &set(&["db"]), &set(&["eth", "wifi"])), Some("eth".into()));
        assert_eq!(blocked_by("other", &needs, &set(&[]), &set(&["db"])), None);
    }
}
