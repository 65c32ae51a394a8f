//! Dependency resolution for kpkg, with no I/O: from the repository's package files, the
//! installed database, the world (what the user asked for earlier) and a request, compute the
//! exact set of packages that should be installed, or explain why there is none.
//!
//! The search is done by [`resolvo`] (a CDCL SAT solver built for package managers); this crate
//! maps Kimigayo's model onto it (`solver`), trims the answer to what is needed (`closure`),
//! turns failures into sentences (`explain`) and orders installation (`order`).
//!
//! # Contract of [`resolve`]
//!
//! - **World.** The new world is the old world with each `request.install` constraint added
//!   (replacing world entries of the same name) and every `request.remove` name taken out.
//! - **Nothing unnecessary (property 11).** The final set is exactly the dependency closure of
//!   the new world: every package in it satisfies some world constraint or some dependency of
//!   another package in it, transitively. Installed packages no longer needed are removed
//!   (autoremove), also after a removal.
//! - **Everything necessary (property 13).** Every dependency of every package in the set is
//!   satisfied by a package in the set: by name and version, or through `provides` (a
//!   virtual name satisfies an unversioned constraint; a versioned provide satisfies a
//!   versioned constraint when its version matches).
//! - **Consistency.** No package in the set conflicts with another (a package's conflicts
//!   never apply to itself); at most one version per name.
//! - **Removal.** A removed name is not in the set; if something in the world still needs it,
//!   the request is unsatisfiable and the explanation says who needs it.
//! - **Architecture.** Only candidates whose arch is the root's or `noarch` are used; when a
//!   request could only be met by another architecture, the explanation says so.
//! - **Versions.** [`Upgrade::None`] keeps every installed version that still fits;
//!   [`Upgrade::All`] prefers the newest of everything; [`Upgrade::Only`] prefers the newest of
//!   the named packages and keeps the rest where possible. Packages not installed get their
//!   newest fitting version. An installed version that is no longer in the universe cannot be
//!   kept (its metadata is gone) and is replaced.
//! - **Determinism.** The same input gives the same output whatever the order of the
//!   universe, installed list or world.
//! - **Failures.** [`Unsatisfiable::explanation`] names the packages, versions and the chain
//!   of requirements and conflicts involved; an unknown name gets a "did you mean".

mod closure;
mod explain;
mod hash;
mod model;
mod order;
mod solver;
mod synth;

use std::collections::{BTreeMap, BTreeSet};

use kimigayo_version::{Constraint, Version};
use resolvo::{Solver, UnsolvableOrCancelled};

pub use model::{Candidate, Installed, Problem, Provide, Request, Solution, Unsatisfiable, Upgrade};
pub use order::{install_order, install_plan, InstallPlan};
pub use synth::synthetic_universe;

/// Compute the set of packages to have installed for `p` (see the crate docs for the
/// contract), with the differences from what is installed now.
pub fn resolve(p: &Problem) -> Result<Solution, Unsatisfiable> {
    let new_world = new_world(p)?;
    explain::check_request(p, &new_world)?;

    let installed: BTreeMap<&str, &Version> = p.installed.iter().map(|i| (i.name.as_str(), &i.version)).collect();
    let keep = |c: &Candidate| {
        let may_keep = match &p.request.upgrade {
            Upgrade::None => true,
            Upgrade::All => false,
            Upgrade::Only(names) => !names.contains(&c.name),
        };
        may_keep && installed.get(c.name.as_str()) == Some(&&c.version)
    };
    let pool = solver::Pool::new(p.universe, p.arch, &new_world, &p.request.remove, keep);
    let (requirements, forbidden) = pool.root();
    let problem = resolvo::Problem::new().requirements(requirements).constraints(forbidden);

    let mut solver = Solver::new(pool);
    let chosen = match solver.solve(problem) {
        Ok(ids) => ids,
        Err(UnsolvableOrCancelled::Unsolvable(conflict)) => {
            let graph = conflict.graph(&solver);
            return Err(Unsatisfiable { explanation: explain::conflict(&graph, solver.provider(), p.universe) });
        }
        Err(UnsolvableOrCancelled::Cancelled(_)) => {
            return Err(Unsatisfiable { explanation: "dependency resolution was cancelled".into() });
        }
    };
    let pool = solver.provider();
    let chosen: Vec<&Candidate> = chosen.into_iter().map(|s| pool.candidate(s)).collect();
    let kept = |c: &Candidate| installed.get(c.name.as_str()) == Some(&&c.version);
    let mut set = closure::prune(chosen, &new_world, kept);
    set.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(diff(set, p, new_world.clone()))
}

/// The old world, with `install` entries replacing same-name entries and `remove` names
/// dropped; sorted and without duplicates.
fn new_world(p: &Problem) -> Result<Vec<Constraint>, Unsatisfiable> {
    let req = &p.request;
    let both: BTreeSet<&str> =
        req.install.iter().map(|c| c.name.as_str()).filter(|n| req.remove.iter().any(|r| r == n)).collect();
    if !both.is_empty() {
        let names: Vec<String> = both.iter().map(|n| format!("`{n}`")).collect();
        return Err(Unsatisfiable {
            explanation: format!("{} cannot be both installed and removed in one request", names.join(", ")),
        });
    }
    let replaced: BTreeSet<&str> = req.install.iter().map(|c| c.name.as_str()).collect();
    let mut world: Vec<Constraint> = p
        .world
        .iter()
        .filter(|c| !replaced.contains(c.name.as_str()) && !req.remove.contains(&c.name))
        .chain(req.install.iter())
        .cloned()
        .collect();
    world.sort_by_cached_key(|c| (c.name.clone(), c.to_string()));
    world.dedup();
    Ok(world)
}

fn diff(set: Vec<&Candidate>, p: &Problem, new_world: Vec<Constraint>) -> Solution {
    let before: BTreeMap<&str, &Version> = p.installed.iter().map(|i| (i.name.as_str(), &i.version)).collect();
    let after: BTreeMap<&str, &Version> = set.iter().map(|c| (c.name.as_str(), &c.version)).collect();
    let mut s = Solution { new_world, arch: p.arch.to_string(), ..Solution::default() };
    for (name, to) in &after {
        s.install.push((name.to_string(), (*to).clone()));
        match before.get(name) {
            None => s.added.push((name.to_string(), (*to).clone())),
            Some(from) if to > from => s.upgraded.push((name.to_string(), (*from).clone(), (*to).clone())),
            Some(from) if to < from => s.downgraded.push((name.to_string(), (*from).clone(), (*to).clone())),
            Some(_) => {}
        }
    }
    for (name, from) in &before {
        if !after.contains_key(name) {
            s.removed.push((name.to_string(), (*from).clone()));
        }
    }
    s
}
