//! Installation order: dependencies before the packages that need them.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use kimigayo_version::Version;

use crate::model::{Candidate, Solution};

/// An installation order and the dependency cycles that had to be broken to make it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstallPlan {
    /// Every name of `solution.install`, each after the packages it depends on.
    pub order: Vec<String>,
    /// Each cycle (names sorted) whose members could not all come after one another; inside a
    /// cycle, members with fewer dependencies inside it come first, then by name.
    pub cycles: Vec<Vec<String>>,
}

/// Names of `solution.install` ordered so that every package comes after the packages that
/// satisfy its dependencies. Dependency cycles are broken deterministically; see
/// [`install_plan`] for which.
pub fn install_order(solution: &Solution, universe: &[Candidate]) -> Vec<String> {
    install_plan(solution, universe).order
}

/// [`install_order`], with the cycles it had to break.
///
/// The package file for each `(name, version)` is looked up in `universe` for
/// `solution.arch` (native before `noarch`); a package not found there is taken to have no
/// dependencies. The order is deterministic: among packages that are ready, names sort first.
pub fn install_plan(solution: &Solution, universe: &[Candidate]) -> InstallPlan {
    let files = index(universe, &solution.arch);
    let pkgs: Vec<Option<&Candidate>> = solution.install.iter().map(|(n, v)| files.get(&(n.as_str(), v)).copied()).collect();
    let names: Vec<&str> = solution.install.iter().map(|(n, _)| n.as_str()).collect();
    let mut answers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in pkgs.iter().enumerate() {
        answers.entry(names[i]).or_default().push(i);
        for pr in p.iter().flat_map(|p| &p.provides) {
            answers.entry(pr.name.as_str()).or_default().push(i);
        }
    }
    // deps[i]: members that satisfy some dependency of i.
    let deps: Vec<Vec<usize>> = pkgs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut out = BTreeSet::new();
            for d in p.iter().flat_map(|p| &p.depends) {
                for &j in answers.get(d.name.as_str()).into_iter().flatten() {
                    let ok = match pkgs[j] {
                        Some(c) => c.satisfies(d),
                        None => names[j] == d.name,
                    };
                    if ok && j != i {
                        out.insert(j);
                    }
                }
            }
            out.into_iter().collect()
        })
        .collect();

    let comp = components(&deps);
    let count = comp.iter().copied().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, &c) in comp.iter().enumerate() {
        members[c].push(i);
    }
    // Component graph: waiting[c] = number of distinct components c depends on.
    let mut waiting = vec![0usize; count];
    let mut dependents: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); count];
    for (i, ds) in deps.iter().enumerate() {
        for &j in ds {
            if comp[i] != comp[j] && dependents[comp[j]].insert(comp[i]) {
                waiting[comp[i]] += 1;
            }
        }
    }
    let key = |c: usize| members[c].iter().map(|&i| names[i]).min().unwrap_or("");
    let mut ready: BinaryHeap<Reverse<(&str, usize)>> =
        (0..count).filter(|&c| waiting[c] == 0).map(|c| Reverse((key(c), c))).collect();
    let mut plan = InstallPlan::default();
    while let Some(Reverse((_, c))) = ready.pop() {
        let mut m = members[c].clone();
        if m.len() > 1 {
            let inside = |i: usize| deps[i].iter().filter(|&&j| comp[j] == c).count();
            m.sort_by_key(|&i| (inside(i), names[i]));
            let mut cycle: Vec<String> = m.iter().map(|&i| names[i].to_string()).collect();
            cycle.sort();
            plan.cycles.push(cycle);
        }
        plan.order.extend(m.iter().map(|&i| names[i].to_string()));
        for &d in &dependents[c] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(Reverse((key(d), d)));
            }
        }
    }
    plan
}

/// (name, version) -> the package file used for it on `arch` (native before `noarch`, then
/// the first in a fixed order, like the resolver).
fn index<'a>(universe: &'a [Candidate], arch: &str) -> HashMap<(&'a str, &'a Version), &'a Candidate> {
    let mut files: HashMap<(&str, &Version), &Candidate> = HashMap::new();
    let rank = |c: &Candidate| (c.arch == "noarch", format!("{:?}", (&c.depends, &c.conflicts, &c.provides)));
    for c in universe.iter().filter(|c| c.fits_arch(arch)) {
        files
            .entry((c.name.as_str(), &c.version))
            .and_modify(|old| {
                if rank(c) < rank(old) {
                    *old = c;
                }
            })
            .or_insert(c);
    }
    files
}

/// Strongly connected components (Tarjan, iterative): component id per node.
fn components(deps: &[Vec<usize>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let n = deps.len();
    let (mut index, mut low, mut comp) = (vec![UNSEEN; n], vec![0; n], vec![UNSEEN; n]);
    let (mut on_stack, mut stack) = (vec![false; n], Vec::new());
    let (mut next, mut count) = (0, 0);
    for start in 0..n {
        if index[start] != UNSEEN {
            continue;
        }
        // (node, position in its edge list)
        let mut work = vec![(start, 0usize)];
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos == 0 && index[v] == UNSEEN {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = deps[v].get(*pos) {
                *pos += 1;
                if index[w] == UNSEEN {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = count;
                    if w == v {
                        break;
                    }
                }
                count += 1;
            }
        }
    }
    comp
}

#[cfg(test)]
mod tests {
    use super::components;

    #[test]
    fn components_group_cycles_only() {
        // 0 -> 1 -> 2 -> 0 is a cycle; 3 -> 0 and 4 alone are not.
        let deps = vec![vec![1], vec![2], vec![0], vec![0], vec![]];
        let c = components(&deps);
        assert!(c[0] == c[1] && c[1] == c[2]);
        assert!(c[3] != c[0] && c[4] != c[0] && c[3] != c[4]);
        // A long chain does not recurse (no stack overflow).
        let chain: Vec<Vec<usize>> = (0..200_000).map(|i| if i == 0 { vec![] } else { vec![i - 1] }).collect();
        let c = components(&chain);
        assert_eq!(c.iter().collect::<std::collections::BTreeSet<_>>().len(), 200_000);
    }
}
