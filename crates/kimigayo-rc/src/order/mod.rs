//! Dependency ordering (pure: catalog in, plan out, no I/O).
//!
//! Semantics (OpenRC's, made deterministic):
//! - The start set is the targets (services of the active runlevels) minus disabled ones,
//!   closed under `need` (hard) and `want` (soft). A disabled service never starts: a target
//!   that is disabled is skipped with a warning, a `need` on it is an error naming both, a
//!   `want` or `use` of it is ignored. A missing `need` is an error naming both services.
//! - `want X` starts X when X exists, is not disabled, and its own needs can be met;
//!   otherwise the want is dropped with a warning. `use X` only orders: X must be in the set
//!   for another reason (a target, needed, wanted).
//! - Virtual names (`provide`): a real service of that name wins. For `need v`, providers
//!   that are disabled are ignored; the rest are: the single provider if there is one; else
//!   satisfied by whichever providers are in the start set anyway (all of those are ordered
//!   first — OpenRC uses the ones in the runlevel); else an error listing the candidates.
//! - `after`/`before`/`use`/`want`/`need` order only services that are in the plan; `*` (as
//!   in `after *`, `before *`) applies to all others unless an explicit ordering contradicts.
//! - A cycle of `need` is an error naming it ("a → b → c → a": a needs b needs c needs a).
//!   A cycle involving any softer edge is broken by dropping its weakest edge (after/before <
//!   use < want), with a warning and the edge recorded in [`Plan::dropped`].
//! - Waves are topological levels: every service's predecessors are in earlier waves; names
//!   inside a wave are sorted. Stopping uses the same edges, reversed.

mod closure;
mod graph;

use std::collections::{BTreeMap, BTreeSet};

pub use graph::{DepKind, Edge};

use crate::{Catalog, OrderError};
use closure::{need_closure, resolve, want_target, Resolved};
use graph::Graph;

/// An ordered plan: each wave may run in parallel; waves run in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub waves: Vec<Vec<String>>,
    /// Human-readable notes: broken soft cycles, skipped disabled targets, failed wants.
    pub warnings: Vec<String>,
    /// Soft edges dropped to break cycles.
    pub dropped: Vec<Edge>,
    /// Only from [`start_plan_lenient`]: targets left out, and why.
    pub skipped: BTreeMap<String, OrderError>,
    /// Each planned service's direct predecessors: the planned services it must wait for
    /// (for a stop plan, the ones that must stop first). A service may run as soon as these
    /// are done, without waiting for the rest of the wave before it.
    pub after: BTreeMap<String, BTreeSet<String>>,
}

impl Plan {
    /// All services, wave by wave.
    pub fn order(&self) -> Vec<&str> {
        self.waves.iter().flatten().map(String::as_str).collect()
    }
    /// The index of the wave holding `svc`.
    pub fn wave_of(&self, svc: &str) -> Option<usize> {
        self.waves.iter().position(|w| w.iter().any(|s| s == svc))
    }
    pub fn contains(&self, svc: &str) -> bool {
        self.wave_of(svc).is_some()
    }
    fn warn(&mut self, w: String) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }
}

/// The services to start for `targets` (runlevel members), in waves. See the module docs.
pub fn start_plan(cat: &Catalog, targets: &[String], disabled: &BTreeSet<String>) -> Result<Plan, OrderError> {
    let mut plan = Plan::default();
    let mut seeds = Vec::new();
    for t in targets.iter().collect::<BTreeSet<_>>() {
        if disabled.contains(t) {
            plan.warn(format!("'{t}' is disabled (services.disabled in system.conf); not starting it"));
        } else if cat.services.contains_key(t) {
            seeds.push(t.clone());
        } else if cat.satisfied.contains_key(t) {
            // Keyworded out on this system (e.g. `hostname` in a container): nothing to start.
        } else if let Some(f) = cat.failures.get(t) {
            return Err(OrderError::Broken { service: t.clone(), needed_by: None, reason: f.reason.clone() });
        } else {
            return Err(OrderError::UnknownService { service: t.clone() });
        }
    }
    let mut pending = Vec::new();
    let mut set = need_closure(cat, disabled, &seeds, &BTreeSet::new(), &mut pending)?;
    loop {
        let mut changed = false;
        for s in set.clone() {
            for w in &cat.services[&s].want {
                let Some(t) = want_target(cat, disabled, w) else { continue };
                if set.contains(&t) {
                    continue;
                }
                let mut p = Vec::new();
                match need_closure(cat, disabled, std::slice::from_ref(&t), &set, &mut p) {
                    Ok(bigger) => {
                        set = bigger;
                        pending.extend(p);
                        changed = true;
                    }
                    Err(e) => plan.warn(format!("'{s}' wants '{w}', which cannot start: {e}")),
                }
            }
        }
        if !changed {
            break;
        }
    }
    for p in pending {
        if !p.candidates.iter().any(|c| set.contains(c)) {
            return Err(OrderError::AmbiguousProvider { service: p.service, need: p.need, candidates: p.candidates });
        }
    }
    let mut g = Graph::build(cat, &set);
    if let Some(mut cycle) = g.find_cycle(|k| k == DepKind::Need) {
        cycle.push(cycle[0].clone());
        return Err(OrderError::NeedCycle { cycle });
    }
    break_cycles(&mut g, &mut plan);
    g.add_wildcards();
    plan.waves = g.waves(false);
    plan.after = g.predecessors(false);
    Ok(plan)
}

/// Like [`start_plan`], but targets whose dependencies cannot be met are left out (recorded in
/// [`Plan::skipped`]) and the rest still start: what boot uses, so one broken script does not
/// stop the machine.
pub fn start_plan_lenient(cat: &Catalog, targets: &[String], disabled: &BTreeSet<String>) -> Plan {
    let mut cur: Vec<String> = targets.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    let mut skipped = BTreeMap::new();
    loop {
        match start_plan(cat, &cur, disabled) {
            Ok(mut p) => {
                p.skipped = skipped;
                return p;
            }
            Err(e) => {
                let culprits = culprits(&e);
                let mut drop: Vec<String> = cur.iter().filter(|t| reaches_any(cat, t, &culprits)).cloned().collect();
                if drop.is_empty() {
                    drop = cur.clone(); // cannot attribute it: nothing can be planned safely
                }
                for t in drop {
                    cur.retain(|x| *x != t);
                    skipped.insert(t, e.clone());
                }
            }
        }
    }
}

/// The services whose own declarations caused `e`.
fn culprits(e: &OrderError) -> BTreeSet<String> {
    match e {
        OrderError::UnknownService { service }
        | OrderError::MissingNeed { service, .. }
        | OrderError::DisabledNeed { service, .. }
        | OrderError::DisabledProviders { service, .. }
        | OrderError::AmbiguousProvider { service, .. }
        | OrderError::Broken { needed_by: None, service, .. } => [service.clone()].into(),
        OrderError::Broken { needed_by: Some(n), .. } => [n.clone()].into(),
        OrderError::NeedCycle { cycle } => cycle.iter().cloned().collect(),
    }
}

/// Whether `start` or anything it needs or wants (transitively) is in `targets`.
fn reaches_any(cat: &Catalog, start: &str, targets: &BTreeSet<String>) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start.to_owned()];
    while let Some(s) = stack.pop() {
        if targets.contains(&s) {
            return true;
        }
        if !seen.insert(s.clone()) {
            continue;
        }
        let Some(m) = cat.services.get(&s) else { continue };
        for n in m.need.iter().chain(&m.want) {
            match resolve(cat, n) {
                Resolved::Real(r) | Resolved::Broken(r) => stack.push(r.to_owned()),
                Resolved::Virtual(p) => stack.extend(p.into_iter().map(str::to_owned)),
                Resolved::Missing | Resolved::Satisfied => {}
            }
        }
    }
    false
}

/// The order to stop `running` services: every service stops before what it depends on
/// (the start constraints reversed). Never fails: cycles (even of `need`) are broken with a
/// warning, because stopping must go on; names without a script get no constraints.
pub fn stop_plan(cat: &Catalog, running: &[String]) -> Plan {
    let set: BTreeSet<String> = running.iter().cloned().collect();
    let mut g = Graph::build(cat, &set);
    let mut plan = Plan::default();
    break_cycles(&mut g, &mut plan);
    g.add_wildcards();
    plan.waves = g.waves(true);
    plan.after = g.predecessors(true);
    plan
}

/// Drops the weakest edge of each cycle until none is left (the last one of equal strength
/// along the reported cycle, so the choice is deterministic).
fn break_cycles(g: &mut Graph, plan: &mut Plan) {
    while let Some(cycle) = g.find_cycle(|_| true) {
        let n = cycle.len();
        let mut pick = 0;
        for i in 0..n {
            let k = g.kind(&cycle[i], &cycle[(i + 1) % n]);
            if k <= g.kind(&cycle[pick], &cycle[(pick + 1) % n]) {
                pick = i;
            }
        }
        let edge = g.remove(&cycle[pick].clone(), &cycle[(pick + 1) % n].clone());
        let mut shown = cycle.clone();
        shown.push(cycle[0].clone());
        plan.warn(format!(
            "dependency cycle {} (each starts after the next): ignoring '{edge}'",
            shown.join(" → ")
        ));
        plan.dropped.push(edge);
    }
}

#[cfg(test)]
mod tests;
