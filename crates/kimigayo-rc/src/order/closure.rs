//! Which services a start includes: the targets, what they `need` (hard, transitively), and
//! what they `want` if it can start. `use` never pulls anything in; disabled never starts.

use std::collections::BTreeSet;

use crate::{Catalog, OrderError};

/// What a dependency name stands for in a catalog.
pub(crate) enum Resolved<'a> {
    /// A real service of that name (a real name wins over a virtual one, like OpenRC).
    Real(&'a str),
    /// A virtual name and its providers (non-empty, sorted).
    Virtual(Vec<&'a str>),
    /// A script of that name exists but failed to load.
    Broken(&'a str),
    /// Met without running anything (keyworded out here, `rc_provide`, a built-in virtual).
    Satisfied,
    Missing,
}

pub(crate) fn resolve<'a>(cat: &'a Catalog, name: &str) -> Resolved<'a> {
    if let Some((k, _)) = cat.services.get_key_value(name) {
        return Resolved::Real(k);
    }
    if let Some((k, _)) = cat.failures.get_key_value(name) {
        return Resolved::Broken(k);
    }
    let p = cat.providers(name);
    if !p.is_empty() {
        Resolved::Virtual(p)
    } else if cat.satisfied.contains_key(name) {
        Resolved::Satisfied
    } else {
        Resolved::Missing
    }
}

/// A `need` on a virtual name with several possible providers, none forced: satisfied only if
/// one of them is in the final set for another reason (a target, or needed by name).
pub(crate) struct PendingVirtual {
    pub service: String,
    pub need: String,
    pub candidates: Vec<String>,
}

/// Adds `seeds` and their need-closure to a copy of `base`; returns the new set.
pub(crate) fn need_closure(
    cat: &Catalog,
    disabled: &BTreeSet<String>,
    seeds: &[String],
    base: &BTreeSet<String>,
    pending: &mut Vec<PendingVirtual>,
) -> Result<BTreeSet<String>, OrderError> {
    let mut set = base.clone();
    let mut work: BTreeSet<String> = seeds.iter().filter(|s| !base.contains(*s)).cloned().collect();
    set.extend(work.iter().cloned());
    while let Some(s) = work.pop_first() {
        let Some(meta) = cat.services.get(&s) else { continue };
        for n in &meta.need {
            if *n == s || n == "*" {
                continue;
            }
            let add = match resolve(cat, n) {
                Resolved::Real(r) if disabled.contains(r) => {
                    return Err(OrderError::DisabledNeed { service: s.clone(), need: r.to_owned() })
                }
                Resolved::Real(r) => r.to_owned(),
                Resolved::Broken(b) => {
                    let f = &cat.failures[b];
                    return Err(OrderError::Broken { service: b.to_owned(), needed_by: Some(s.clone()), reason: f.reason.clone() });
                }
                Resolved::Satisfied => continue,
                Resolved::Missing => return Err(OrderError::MissingNeed { service: s.clone(), need: n.clone() }),
                Resolved::Virtual(p) => {
                    if p.contains(&s.as_str()) {
                        continue; // it provides what it needs itself
                    }
                    let ok: Vec<&str> = p.iter().copied().filter(|x| !disabled.contains(*x)).collect();
                    match ok.as_slice() {
                        [] => {
                            return Err(OrderError::DisabledProviders {
                                service: s.clone(),
                                need: n.clone(),
                                providers: p.iter().map(|x| x.to_string()).collect(),
                            })
                        }
                        [one] => one.to_string(),
                        many => {
                            pending.push(PendingVirtual {
                                service: s.clone(),
                                need: n.clone(),
                                candidates: many.iter().map(|x| x.to_string()).collect(),
                            });
                            continue;
                        }
                    }
                }
            };
            if set.insert(add.clone()) {
                work.insert(add);
            }
        }
    }
    Ok(set)
}

/// The single service a `want` would start, if any: a real, enabled, loaded service, or the
/// only enabled provider of a virtual name.
pub(crate) fn want_target(cat: &Catalog, disabled: &BTreeSet<String>, name: &str) -> Option<String> {
    match resolve(cat, name) {
        Resolved::Real(r) if !disabled.contains(r) => Some(r.to_owned()),
        Resolved::Virtual(p) => {
            let ok: Vec<&str> = p.into_iter().filter(|x| !disabled.contains(*x)).collect();
            (ok.len() == 1).then(|| ok[0].to_owned())
        }
        _ => None,
    }
}
