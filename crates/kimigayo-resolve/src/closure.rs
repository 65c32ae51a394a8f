//! Trimming a solver answer to what is needed.
//!
//! A SAT solver only promises a consistent assignment. The installed set must moreover be the
//! dependency closure of the world (property 11), so the answer is cut down to:
//! 1. what is reachable from the world constraints through dependencies satisfied inside the
//!    set, and
//! 2. while some package is not the only satisfier of any constraint that needs it (two
//!    providers of `sh` both chosen, say), drop one such package — one not installed now
//!    first, then by name — and take the closure again.
//!
//! Dropping packages never breaks a conflict or the one-version rule, and each drop keeps
//! every remaining dependency satisfied, so the result is still a solution.

use crate::hash::FastMap;

use kimigayo_version::Constraint;

use crate::model::Candidate;

/// Index of a set by the names its members answer to (own name and provides).
struct Index<'s> {
    by_name: FastMap<&'s str, Vec<usize>>,
}

impl<'s> Index<'s> {
    fn new(set: &[&'s Candidate]) -> Self {
        let mut by_name: FastMap<&str, Vec<usize>> = FastMap::default();
        for (i, c) in set.iter().enumerate() {
            by_name.entry(c.name.as_str()).or_default().push(i);
            for p in &c.provides {
                let list = by_name.entry(p.name.as_str()).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        Index { by_name }
    }

    /// Members (alive in `alive`) that satisfy `c`.
    fn satisfiers<'a>(&'a self, set: &'a [&Candidate], alive: &'a [bool], c: &'a Constraint) -> impl Iterator<Item = usize> + 'a {
        let answering = self.by_name.get(c.name.as_str()).map_or(&[][..], |v| &v[..]);
        // The set is a solution, so its demands are met: when a single member answers to the
        // name, it is the satisfier (no version comparison needed).
        let single = answering.len() == 1;
        answering.iter().copied().filter(move |&i| alive[i] && (single || set[i].satisfies(c)))
    }
}

/// Every constraint that asks for something: the world's, then each alive member's deps.
fn demands<'a>(set: &'a [&Candidate], alive: &'a [bool], roots: &'a [Constraint]) -> impl Iterator<Item = (Option<usize>, &'a Constraint)> + 'a {
    roots.iter().map(|c| (None, c)).chain(
        set.iter().enumerate().filter(move |(i, _)| alive[*i]).flat_map(|(i, c)| c.depends.iter().map(move |d| (Some(i), d))),
    )
}

/// Mark of the members reachable from `roots` among those alive.
fn reachable(set: &[&Candidate], index: &Index, alive: &[bool], roots: &[Constraint]) -> Vec<bool> {
    let mut seen = vec![false; set.len()];
    let mut stack: Vec<usize> = Vec::new();
    for c in roots {
        for i in index.satisfiers(set, alive, c) {
            if !seen[i] {
                seen[i] = true;
                stack.push(i);
            }
        }
    }
    while let Some(p) = stack.pop() {
        for d in &set[p].depends {
            for i in index.satisfiers(set, alive, d) {
                if !seen[i] {
                    seen[i] = true;
                    stack.push(i);
                }
            }
        }
    }
    seen
}

/// The part of `chosen` that `roots` need (see the module docs). `kept(c)` tells whether `c`
/// is the installed version, which is dropped last when providers are redundant.
pub(crate) fn prune<'a>(chosen: Vec<&'a Candidate>, roots: &[Constraint], kept: impl Fn(&Candidate) -> bool) -> Vec<&'a Candidate> {
    let index = Index::new(&chosen);
    let mut alive = vec![true; chosen.len()];
    loop {
        alive = reachable(&chosen, &index, &alive, roots);
        // A member is needed when some demand of an alive member (or the world) has it as
        // its only satisfier; a demand a member meets itself (through its own provides)
        // needs no one else.
        let mut needed = vec![false; chosen.len()];
        let mut redundant_demand = false;
        for (by, c) in demands(&chosen, &alive, roots) {
            let sat: Vec<usize> = index.satisfiers(&chosen, &alive, c).collect();
            let self_met = by.is_some_and(|b| sat.contains(&b));
            match sat.len() - usize::from(self_met) {
                0 => {}
                1 if !self_met => needed[sat[0]] = true,
                _ => redundant_demand = true,
            }
        }
        if !redundant_demand {
            break;
        }
        let drop = (0..chosen.len())
            .filter(|&i| alive[i] && !needed[i])
            .min_by(|&a, &b| kept(chosen[a]).cmp(&kept(chosen[b])).then_with(|| chosen[a].name.cmp(&chosen[b].name)));
        match drop {
            Some(i) => alive[i] = false,
            None => break,
        }
    }
    chosen.into_iter().zip(alive).filter(|(_, a)| *a).map(|(c, _)| c).collect()
}
