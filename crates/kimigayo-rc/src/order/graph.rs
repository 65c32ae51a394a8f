//! The ordering graph among the services of a plan: edges from need/use/want/after/before
//! (virtual names expanded to their providers in the plan), cycle detection and breaking,
//! `*` wildcards, and topological levels (waves).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::closure::{resolve, Resolved};
use crate::Catalog;

/// Why one service is ordered before another; `Ord` is strength (weakest first), which
/// decides which edge of a soft cycle is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DepKind {
    After,
    Before,
    Use,
    Want,
    Need,
}

impl DepKind {
    pub fn word(self) -> &'static str {
        match self {
            DepKind::After => "after",
            DepKind::Before => "before",
            DepKind::Use => "use",
            DepKind::Want => "want",
            DepKind::Need => "need",
        }
    }
}

/// `first` starts before `then` because of `kind` (declared by `then`, except `Before`,
/// which `first` declares).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Edge {
    pub first: String,
    pub then: String,
    pub kind: DepKind,
}

impl std::fmt::Display for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            DepKind::Before => write!(f, "{} before {}", self.first, self.then),
            k => write!(f, "{} {} {}", self.then, k.word(), self.first),
        }
    }
}

/// deps[a][b] = strongest reason a starts after b.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    pub nodes: BTreeSet<String>,
    pub deps: BTreeMap<String, BTreeMap<String, DepKind>>,
    pub wild_after: Vec<String>,
    pub wild_before: Vec<String>,
}

impl Graph {
    pub fn build(cat: &Catalog, set: &BTreeSet<String>) -> Graph {
        let mut g = Graph { nodes: set.clone(), ..Default::default() };
        for n in set {
            g.deps.insert(n.clone(), BTreeMap::new());
        }
        let in_set = |name: &str| -> Vec<String> {
            match resolve(cat, name) {
                Resolved::Real(r) | Resolved::Broken(r) => if set.contains(r) { vec![r.to_owned()] } else { Vec::new() },
                Resolved::Virtual(p) => p.into_iter().filter(|x| set.contains(*x)).map(str::to_owned).collect(),
                Resolved::Missing | Resolved::Satisfied => Vec::new(),
            }
        };
        for a in set {
            let Some(m) = cat.services.get(a) else { continue };
            for (kind, list) in [(DepKind::Need, &m.need), (DepKind::Use, &m.use_), (DepKind::Want, &m.want), (DepKind::After, &m.after)] {
                for name in list {
                    if name == "*" {
                        if kind == DepKind::After && !g.wild_after.contains(a) {
                            g.wild_after.push(a.clone());
                        }
                        continue;
                    }
                    for b in in_set(name) {
                        g.add(a, &b, kind);
                    }
                }
            }
            for name in &m.before {
                if name == "*" {
                    if !g.wild_before.contains(a) {
                        g.wild_before.push(a.clone());
                    }
                    continue;
                }
                for b in in_set(name) {
                    g.add(&b, a, DepKind::Before);
                }
            }
        }
        g
    }

    /// `a` starts after `b`.
    fn add(&mut self, a: &str, b: &str, kind: DepKind) {
        if a == b {
            return;
        }
        let e = self.deps.get_mut(a).expect("node").entry(b.to_owned()).or_insert(kind);
        *e = (*e).max(kind);
    }

    /// A cycle `[a, b, c]` meaning a after b after c after a, among edges passing `keep`.
    pub fn find_cycle(&self, keep: impl Fn(DepKind) -> bool) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum C {
            White,
            Grey,
            Black,
        }
        let mut color: BTreeMap<&str, C> = self.nodes.iter().map(|n| (n.as_str(), C::White)).collect();
        for start in &self.nodes {
            if color[start.as_str()] != C::White {
                continue;
            }
            // Iterative DFS: stack of (node, its remaining successors).
            let mut path: Vec<&str> = vec![start];
            let mut iters: Vec<std::vec::IntoIter<&str>> = vec![self.succ(start, &keep).into_iter()];
            color.insert(start, C::Grey);
            while let Some(it) = iters.last_mut() {
                match it.next() {
                    Some(n) => match color[n] {
                        C::White => {
                            color.insert(n, C::Grey);
                            path.push(n);
                            iters.push(self.succ(n, &keep).into_iter());
                        }
                        C::Grey => {
                            let at = path.iter().position(|p| *p == n).expect("grey is on the path");
                            return Some(path[at..].iter().map(|s| s.to_string()).collect());
                        }
                        C::Black => {}
                    },
                    None => {
                        color.insert(path.pop().expect("path"), C::Black);
                        iters.pop();
                    }
                }
            }
        }
        None
    }

    fn succ<'a>(&'a self, n: &str, keep: &impl Fn(DepKind) -> bool) -> Vec<&'a str> {
        self.deps.get(n).map(|d| d.iter().filter(|(_, k)| keep(**k)).map(|(b, _)| b.as_str()).collect()).unwrap_or_default()
    }

    pub fn kind(&self, a: &str, b: &str) -> DepKind {
        self.deps[a][b]
    }

    /// Removes edge a-after-b and returns it as an [`Edge`].
    pub fn remove(&mut self, a: &str, b: &str) -> Edge {
        let kind = self.deps.get_mut(a).and_then(|d| d.remove(b)).expect("edge exists");
        Edge { first: b.to_owned(), then: a.to_owned(), kind }
    }

    /// Does `from` (transitively) start after `to`?
    fn reaches(&self, from: &str, to: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n) {
                stack.extend(self.succ(n, &|_| true));
            }
        }
        false
    }

    /// Adds `before *` then `after *` edges wherever they do not contradict an ordering
    /// already there (explicit dependencies win over wildcards, as in OpenRC).
    pub fn add_wildcards(&mut self) {
        let nodes: Vec<String> = self.nodes.iter().cloned().collect();
        for a in std::mem::take(&mut self.wild_before) {
            for b in &nodes {
                if *b != a && !self.deps[b].contains_key(&a) && !self.reaches(&a, b) {
                    self.add(b, &a, DepKind::Before);
                }
            }
        }
        for a in std::mem::take(&mut self.wild_after) {
            for b in &nodes {
                if *b != a && !self.deps[&a].contains_key(b) && !self.reaches(b, &a) {
                    self.add(&a, b, DepKind::After);
                }
            }
        }
    }

    /// Each node's direct predecessors: what it must wait for (what it depends on; with
    /// `reverse`, what depends on it, for stopping).
    pub fn predecessors(&self, reverse: bool) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = self.nodes.iter().map(|n| (n.clone(), BTreeSet::new())).collect();
        for (a, d) in &self.deps {
            for b in d.keys().filter(|b| self.nodes.contains(*b) && *b != a) {
                if reverse {
                    out.entry(b.clone()).or_default().insert(a.clone());
                } else {
                    out.entry(a.clone()).or_default().insert(b.clone());
                }
            }
        }
        out
    }

    /// Level of each node: 0 without dependencies, else 1 + the highest level it depends on.
    /// `reverse` levels by dependents instead (for stopping). The graph must be acyclic.
    pub fn waves(&self, reverse: bool) -> Vec<Vec<String>> {
        let mut edges: BTreeMap<&str, Vec<&str>> = self.nodes.iter().map(|n| (n.as_str(), Vec::new())).collect();
        for (a, d) in &self.deps {
            for b in d.keys() {
                if reverse {
                    edges.get_mut(b.as_str()).expect("node").push(a);
                } else {
                    edges.get_mut(a.as_str()).expect("node").push(b);
                }
            }
        }
        let mut level: BTreeMap<&str, usize> = BTreeMap::new();
        for n in &self.nodes {
            // Iterative post-order so deep chains cannot overflow the stack.
            let mut stack = vec![(n.as_str(), false)];
            while let Some((x, done)) = stack.pop() {
                if level.contains_key(x) {
                    continue;
                }
                if done {
                    let l = edges[x].iter().map(|y| level[y] + 1).max().unwrap_or(0);
                    level.insert(x, l);
                } else {
                    stack.push((x, true));
                    for y in &edges[x] {
                        if !level.contains_key(y) {
                            stack.push((y, false));
                        }
                    }
                }
            }
        }
        let mut waves: Vec<Vec<String>> = Vec::new();
        for (n, l) in level {
            if waves.len() <= l {
                waves.resize(l + 1, Vec::new());
            }
            waves[l].push(n.to_owned());
        }
        waves
    }
}
