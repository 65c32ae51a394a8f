//! Human-readable reasons for failures: checks of the request itself (unknown names, versions
//! that do not exist, other architectures) and the chain of requirements and conflicts behind
//! a solver failure, read off resolvo's conflict graph.

use std::collections::{BTreeSet, HashMap, VecDeque};

use kimigayo_version::Constraint;
use resolvo::conflict::{ConflictCause, ConflictEdge, ConflictGraph, ConflictNode};
use resolvo::Requirement;

use crate::model::{show, Candidate, Problem, Unsatisfiable, Upgrade};
use crate::solver::Pool;

/// At most this many lines in a conflict explanation.
const MAX_LINES: usize = 24;

/// Errors in the request that need no solver: each world constraint must be met by some
/// package of this architecture, removed and upgraded names must be installed.
pub(crate) fn check_request(p: &Problem, world: &[Constraint]) -> Result<(), Unsatisfiable> {
    let mut lines = Vec::new();
    for c in world {
        if let Some(why) = why_none(p.universe, p.arch, c) {
            lines.push(format!("{c} is required, but {why}"));
        }
    }
    let present: BTreeSet<&str> = p.installed.iter().map(|i| i.name.as_str()).chain(p.world.iter().map(|c| c.name.as_str())).collect();
    let requested: BTreeSet<&str> = p.request.install.iter().map(|c| c.name.as_str()).collect();
    let mut not_installed = |name: &str, what: &str| {
        if !present.contains(name) && !requested.contains(name) {
            let hint = did_you_mean(name, present.iter().copied()).map(|m| format!(" (did you mean `{m}`?)")).unwrap_or_default();
            lines.push(format!("`{name}` is not installed, so it cannot be {what}{hint}"));
        }
    };
    for name in &p.request.remove {
        not_installed(name, "removed");
    }
    if let Upgrade::Only(names) = &p.request.upgrade {
        for name in names {
            not_installed(name, "upgraded");
        }
    }
    if lines.is_empty() {
        Ok(())
    } else {
        Err(Unsatisfiable { explanation: lines.join("\n") })
    }
}

/// Why no package of architecture `arch` satisfies `c` (None when one does): a clause to put
/// after "… is required, but".
pub(crate) fn why_none(universe: &[Candidate], arch: &str, c: &Constraint) -> Option<String> {
    if universe.iter().any(|k| k.fits_arch(arch) && k.satisfies(c)) {
        return None;
    }
    let name = &c.name;
    // Packages of other architectures that would have done, named when the rest is said.
    let foreign: BTreeSet<String> =
        universe.iter().filter(|k| !k.fits_arch(arch) && k.satisfies(c)).map(|k| format!("{} ({})", show(k), k.arch)).collect();
    let elsewhere = match foreign.len() {
        0 => String::new(),
        _ => format!("; {} would fit but this root is {arch}", foreign.into_iter().take(4).collect::<Vec<_>>().join(", ")),
    };
    let own: BTreeSet<_> = universe.iter().filter(|k| k.fits_arch(arch) && &k.name == name).map(|k| &k.version).collect();
    if !own.is_empty() {
        let list: Vec<String> = own.iter().rev().take(8).map(|v| v.to_string()).collect();
        return Some(match list.as_slice() {
            [one] => format!("the only {name} is {one}{elsewhere}"),
            _ => format!("the available {name} versions are {}{elsewhere}", list.join(", ")),
        });
    }
    let providers: BTreeSet<String> = universe
        .iter()
        .filter(|k| k.fits_arch(arch))
        .flat_map(|k| k.provides.iter().filter(|p| &p.name == name).map(move |p| format!("{} ({p})", show(k))))
        .collect();
    if !providers.is_empty() {
        let list: Vec<String> = providers.into_iter().take(8).collect();
        return Some(format!("{name} is only provided by {}{elsewhere}", list.join(", ")));
    }
    let arches: BTreeSet<&str> = universe.iter().filter(|k| k.answers_to(name)).map(|k| k.arch.as_str()).collect();
    if !arches.is_empty() {
        let arches: Vec<&str> = arches.into_iter().collect();
        return Some(format!("{name} exists only for {}; this root is {arch}", arches.join(" and ")));
    }
    let names = universe.iter().flat_map(|k| std::iter::once(k.name.as_str()).chain(k.provides.iter().map(|p| p.name.as_str())));
    let hint = did_you_mean(name, names).map(|m| format!(" (did you mean `{m}`?)")).unwrap_or_default();
    Some(format!("there is no package named `{name}`{hint}"))
}

/// The closest known name, if it is close: within edit distance 2 (1 for short names), or
/// one name starting with the other.
fn did_you_mean<'a>(wanted: &str, known: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = if wanted.len() <= 3 { 1 } else { 2 };
    let mut best: Option<(usize, &str)> = None;
    for k in known.collect::<BTreeSet<_>>() {
        if k == wanted {
            continue;
        }
        let d = distance(wanted, k);
        let prefix = wanted.len() >= 3 && (k.starts_with(wanted) || wanted.starts_with(k));
        if (d <= limit || prefix) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k.to_string())
}

/// Levenshtein distance over bytes.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut prev = row[0];
        row[0] = i;
        for j in 1..=b.len() {
            let cur = row[j];
            row[j] = (prev + usize::from(a[i - 1] != b[j - 1])).min(row[j] + 1).min(row[j - 1] + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// One statement about a package: `subject` (name, version) then `text`. Statements that
/// differ only by the subject's version are merged ("a 1.0 | 1.1 requires b>=2").
struct Fact {
    subject: Option<(String, String)>,
    text: String,
}

/// The chain behind a solver failure, as a list of statements, the request first.
pub(crate) fn conflict(graph: &ConflictGraph, pool: &Pool, universe: &[Candidate]) -> String {
    let g = &graph.graph;
    // Node handles by plain index (petgraph's index type stays unnamed here).
    let ids: Vec<_> = g.node_indices().collect();
    let node_text = |n| match g[n] {
        ConflictNode::Solvable(s) => Some(show(pool.candidate(s))),
        _ => None,
    };
    let mut out_edges: HashMap<usize, Vec<(usize, ConflictEdge)>> = HashMap::new();
    for e in g.raw_edges() {
        out_edges.entry(e.source().index()).or_default().push((e.target().index(), e.weight));
    }
    let solvable = |n: usize| match g[ids[n]] {
        ConflictNode::Solvable(s) => Some(s),
        _ => None,
    };
    let req_text = |r: Requirement| -> (String, Option<Constraint>) {
        let vs = match r {
            Requirement::Single(vs) => vs,
            Requirement::Union(u) => pool.union_first(u),
        };
        match pool.set_constraint(vs) {
            Some(c) => (c.to_string(), Some(c.clone())),
            None => (pool.set_text(vs), None),
        }
    };

    let mut requested: Vec<String> = Vec::new();
    let mut facts: Vec<Fact> = Vec::new();
    let mut seen = vec![false; g.node_count()];
    let root = graph.root_node.index();
    let mut queue = VecDeque::from([root]);
    seen[root] = true;
    while let Some(n) = queue.pop_front() {
        let subject = solvable(n).map(|s| {
            let c = pool.candidate(s);
            (c.name.clone(), c.version.to_string())
        });
        let mut edges = out_edges.remove(&n).unwrap_or_default();
        edges.sort_by_key(|(t, e)| (*e, node_text(ids[*t])));
        // Requirements: group targets per requirement.
        let mut reqs: Vec<(Requirement, Vec<usize>)> = Vec::new();
        for (t, e) in &edges {
            match *e {
                ConflictEdge::Requires(r) => match reqs.iter_mut().find(|(q, _)| *q == r) {
                    Some((_, ts)) => ts.push(*t),
                    None => reqs.push((r, vec![*t])),
                },
                ConflictEdge::Conflict(cause) => {
                    let target = solvable(*t).map(|s| pool.candidate(s));
                    let text = match (cause, target) {
                        // From the root, a `constrains` is a removal.
                        (ConflictCause::Constrains(_), Some(t)) if subject.is_none() => {
                            format!("`{}` is to be removed, but {} is needed", t.name, show(t))
                        }
                        (ConflictCause::Constrains(vs), Some(t)) => match pool.set_constraint(vs) {
                            Some(c) => format!("conflicts with {c} ({})", show(t)),
                            None => format!("conflicts with {}", show(t)),
                        },
                        (ConflictCause::ForbidMultipleInstances, Some(t)) => {
                            format!("cannot be installed together with {} (one version per name)", show(t))
                        }
                        (ConflictCause::Locked(_), _) => "is locked".to_string(),
                        (ConflictCause::Excluded, _) => match g[ids[*t]] {
                            ConflictNode::Excluded(why) => format!("cannot be used: {}", pool.string_text(why)),
                            _ => "cannot be used".to_string(),
                        },
                        (_, None) => continue,
                    };
                    facts.push(Fact { subject: subject.clone(), text });
                }
            }
            if !seen[*t] {
                seen[*t] = true;
                queue.push_back(*t);
            }
        }
        for (r, targets) in reqs {
            let (text, constraint) = req_text(r);
            let unresolved = targets.iter().any(|&t| matches!(g[ids[t]], ConflictNode::UnresolvedDependency));
            if subject.is_none() {
                requested.push(text);
                continue;
            }
            let text = if unresolved {
                let why = constraint
                    .and_then(|c| why_none(universe, pool.arch, &c))
                    .unwrap_or_else(|| "every package that would satisfy it is ruled out".into());
                format!("requires {text}, but {why}")
            } else {
                let mut names: Vec<String> = targets.iter().filter_map(|&t| solvable(t)).map(|s| show(pool.candidate(s))).collect();
                names.dedup();
                let more = names.len().saturating_sub(3);
                names.truncate(3);
                let tail = if more > 0 { format!(", {more} more") } else { String::new() };
                format!("requires {text} ({}{tail})", names.join(", "))
            };
            facts.push(Fact { subject: subject.clone(), text });
        }
    }

    let mut lines = Vec::new();
    if !requested.is_empty() {
        requested.sort();
        requested.dedup();
        lines.push(match requested.as_slice() {
            [one] => format!("{one} was requested"),
            [a, b] => format!("both {a} and {b} were requested"),
            [rest @ .., last] => format!("{} and {last} were requested", rest.join(", ")),
            [] => unreachable!(),
        });
    }
    lines.extend(merge(facts));
    let total = lines.len();
    lines.truncate(MAX_LINES);
    let mut text = String::from("cannot satisfy the request:");
    for l in &lines {
        text.push_str("\n  - ");
        text.push_str(l);
    }
    if total > MAX_LINES {
        text.push_str(&format!("\n  - … and {} more", total - MAX_LINES));
    }
    text
}

/// Merge facts that differ only in the subject's version, keeping first-seen order.
fn merge(facts: Vec<Fact>) -> Vec<String> {
    let mut order: Vec<(Option<String>, String)> = Vec::new();
    let mut versions: HashMap<(Option<String>, String), Vec<String>> = HashMap::new();
    for f in facts {
        let (name, version) = match f.subject {
            Some((n, v)) => (Some(n), Some(v)),
            None => (None, None),
        };
        let key = (name, f.text);
        let vs = versions.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Vec::new()
        });
        if let Some(v) = version {
            if !vs.contains(&v) {
                vs.push(v);
            }
        }
    }
    order
        .into_iter()
        .map(|key| match &key.0 {
            Some(name) => format!("{name} {} {}", versions[&key].join(" | "), key.1),
            None => key.1,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_and_suggestions() {
        assert_eq!(distance("busybox", "busybx"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        let known = ["busybox", "musl", "curl", "libcurl"];
        assert_eq!(did_you_mean("busybx", known.into_iter()).as_deref(), Some("busybox"));
        assert_eq!(did_you_mean("curll", known.into_iter()).as_deref(), Some("curl"));
        assert_eq!(did_you_mean("mus", known.into_iter()).as_deref(), Some("musl"));
        assert_eq!(did_you_mean("zzz", known.into_iter()), None);
    }
}
