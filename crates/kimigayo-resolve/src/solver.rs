//! Adapter to `resolvo` (a CDCL SAT solver for packages): turns candidates, provides and
//! conflicts into its names, solvables, version sets and `constrains`.
//!
//! - every real package name is a resolvo name; its solvables are the candidates that fit
//!   the target architecture, newest first (candidates of other architectures are passed as
//!   `excluded`, so explanations can say why they were not used);
//! - a constraint `c` is a requirement on every real name that could satisfy it: the name
//!   `c.name` itself and every name with a candidate providing `c.name` (a union when more
//!   than one); the version set on name `n` keeps the `n` candidates that satisfy `c`. A
//!   constraint nothing could satisfy points at a name without candidates;
//! - `conflicts: [c]` becomes `constrains` "not c" on each of those names except the
//!   package's own (one version per name already rules that out);
//! - removing `x` is a root `constrains` that no `x` candidate matches.
//!
//! Dependencies are translated lazily, when the solver asks: it only looks at the part of
//! the universe the request can reach.

use std::cell::RefCell;

use kimigayo_version::Constraint;
use resolvo::{
    Candidates, Condition, ConditionId, ConditionalRequirement, DenseIndex, Dependencies,
    DependencyProvider, HintDependenciesAvailable, Interner, KnownDependencies, NameId,
    Requirement, SolvableId, SolverCache, StringId, VersionSetId, VersionSetUnionId,
};

use crate::hash::FastMap;
use crate::model::{show, Candidate};

/// Where the constraint of a version set is written.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// `depends[i]` of solvable `s`.
    Depends(usize, usize),
    /// `conflicts[i]` of solvable `s`.
    Conflicts(usize, usize),
    /// World constraint `i`.
    World(usize),
}

/// What a version set keeps of the candidates of its name.
#[derive(Debug, Clone, Copy)]
enum Set {
    /// Candidates that satisfy the constraint (or, negated, those that do not).
    Match { src: Source, negate: bool },
    /// No candidate: forbids the name (removal).
    Nothing,
}

/// The part that grows while the solver runs.
#[derive(Default)]
struct Grown<'a> {
    sets: Vec<(NameId, Set)>,
    unions: Vec<Vec<VersionSetId>>,
    /// Constraint name -> real names that could satisfy it, favoured first.
    targets: FastMap<&'a str, Vec<NameId>>,
}

pub(crate) struct Pool<'a> {
    pub arch: &'a str,
    world: &'a [Constraint],
    removed: &'a [String],
    /// Solvable id -> candidate. Arch-fitting candidates first, in preference order per name
    /// (name ascending, version descending, native before noarch); then the other-arch ones.
    solvables: Vec<&'a Candidate>,
    solvable_names: Vec<NameId>,
    names: Vec<&'a str>,
    name_ids: FastMap<&'a str, NameId>,
    /// Name -> arch-fitting solvables, preferred first.
    by_name: Vec<Vec<SolvableId>>,
    /// Name -> solvables of other architectures, with the reason string.
    excluded: Vec<Vec<(SolvableId, StringId)>>,
    favored: Vec<Option<SolvableId>>,
    /// Provided name -> real names with an arch-fitting candidate providing it.
    providers: FastMap<&'a str, Vec<NameId>>,
    strings: Vec<String>,
    /// A name without candidates, for constraints nothing could satisfy.
    nowhere: NameId,
    grown: RefCell<Grown<'a>>,
}

impl<'a> Pool<'a> {
    /// `keep(candidate)` says whether that candidate is the installed one to favour.
    pub fn new(
        universe: &'a [Candidate],
        arch: &'a str,
        world: &'a [Constraint],
        removed: &'a [String],
        keep: impl Fn(&Candidate) -> bool,
    ) -> Self {
        let mut fit: Vec<&Candidate> = universe.iter().filter(|c| c.fits_arch(arch)).collect();
        let mut other: Vec<&Candidate> = universe.iter().filter(|c| !c.fits_arch(arch)).collect();
        // Canonical order makes the answer independent of the universe's order.
        fit.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| b.version.cmp(&a.version))
                .then_with(|| (a.arch == "noarch").cmp(&(b.arch == "noarch")))
                .then_with(|| canonical(a).cmp(&canonical(b)))
        });
        fit.dedup_by(|a, b| a == b);
        other.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| b.version.cmp(&a.version)).then(a.arch.cmp(&b.arch)));
        other.dedup_by(|a, b| a.name == b.name && a.version == b.version && a.arch == b.arch);

        let mut pool = Pool {
            arch,
            world,
            removed,
            solvables: Vec::with_capacity(universe.len()),
            solvable_names: Vec::with_capacity(universe.len()),
            names: Vec::new(),
            name_ids: FastMap::default(),
            by_name: Vec::new(),
            excluded: Vec::new(),
            favored: Vec::new(),
            providers: FastMap::default(),
            strings: Vec::new(),
            nowhere: NameId::from_index(0),
            grown: RefCell::default(),
        };
        pool.nowhere = pool.name("");
        for c in fit {
            let n = pool.name(&c.name);
            let s = SolvableId::from_index(pool.solvables.len());
            pool.solvables.push(c);
            pool.solvable_names.push(n);
            pool.by_name[n.to_index()].push(s);
            if pool.favored[n.to_index()].is_none() && keep(c) {
                pool.favored[n.to_index()] = Some(s);
            }
            for p in &c.provides {
                if p.name != c.name {
                    let list = pool.providers.entry(p.name.as_str()).or_default();
                    if list.last() != Some(&n) {
                        list.push(n);
                    }
                }
            }
        }
        for c in other {
            let n = pool.name(&c.name);
            let s = SolvableId::from_index(pool.solvables.len());
            pool.solvables.push(c);
            pool.solvable_names.push(n);
            pool.strings.push(format!("{} is built for {}; this root is {}", show(c), c.arch, arch));
            let why = StringId::from_index(pool.strings.len() - 1);
            pool.excluded[n.to_index()].push((s, why));
        }
        let names = &pool.names;
        for list in pool.providers.values_mut() {
            list.sort_by_key(|n| names[n.to_index()]);
            list.dedup();
        }
        pool
    }

    fn name(&mut self, name: &'a str) -> NameId {
        if let Some(&n) = self.name_ids.get(name) {
            return n;
        }
        let n = NameId::from_index(self.names.len());
        self.names.push(name);
        self.name_ids.insert(name, n);
        self.by_name.push(Vec::new());
        self.excluded.push(Vec::new());
        self.favored.push(None);
        n
    }

    /// Root requirements (one per world constraint) and root constraints (removals).
    pub fn root(&self) -> (Vec<ConditionalRequirement>, Vec<VersionSetId>) {
        let reqs = (0..self.world.len()).map(|i| self.requirement(&self.world[i].name, Source::World(i), false)).collect();
        let mut grown = self.grown.borrow_mut();
        let forbid = self
            .removed
            .iter()
            .filter_map(|r| self.name_ids.get(r.as_str()))
            .map(|&n| push_set(&mut grown, n, Set::Nothing))
            .collect();
        (reqs, forbid)
    }

    /// Real names that could satisfy a constraint on `name`: the name itself (when it has
    /// candidates) and every provider, favoured (installed) ones first.
    fn targets(&self, grown: &mut Grown<'a>, name: &'a str) -> Vec<NameId> {
        if let Some(t) = grown.targets.get(name) {
            return t.clone();
        }
        let own = self.name_ids.get(name).copied();
        let mut out: Vec<NameId> = own.into_iter().collect();
        out.extend(self.providers.get(name).into_iter().flatten().filter(|&&p| Some(p) != own));
        out.sort_by_key(|n| self.favored[n.to_index()].is_none());
        grown.targets.insert(name, out.clone());
        out
    }

    /// The requirement "some package satisfying the constraint at `src`" (or, for a
    /// conflict, the version sets to `constrain`).
    fn requirement(&self, name: &'a str, src: Source, negate: bool) -> ConditionalRequirement {
        let mut grown = self.grown.borrow_mut();
        let mut targets = self.targets(&mut grown, name);
        if targets.is_empty() {
            targets.push(self.nowhere);
        }
        let sets: Vec<VersionSetId> = targets.into_iter().map(|n| push_set(&mut grown, n, Set::Match { src, negate })).collect();
        if let [one] = sets[..] {
            Requirement::Single(one).into()
        } else {
            grown.unions.push(sets);
            Requirement::Union(VersionSetUnionId::from_index(grown.unions.len() - 1)).into()
        }
    }

    pub fn candidate(&self, s: SolvableId) -> &'a Candidate {
        self.solvables[s.to_index()]
    }

    fn constraint(&self, src: Source) -> &'a Constraint {
        match src {
            Source::Depends(s, i) => &self.solvables[s].depends[i],
            Source::Conflicts(s, i) => &self.solvables[s].conflicts[i],
            Source::World(i) => &self.world[i],
        }
    }

    /// The constraint a version set stands for (None for a removal).
    pub fn set_constraint(&self, vs: VersionSetId) -> Option<&'a Constraint> {
        match self.grown.borrow().sets[vs.to_index()].1 {
            Set::Match { src, .. } => Some(self.constraint(src)),
            Set::Nothing => None,
        }
    }

    /// Human text for a version set.
    pub fn set_text(&self, vs: VersionSetId) -> String {
        let (n, s) = self.grown.borrow().sets[vs.to_index()];
        match s {
            Set::Match { src, negate: false } => self.constraint(src).to_string(),
            Set::Match { src, negate: true } => format!("not {}", self.constraint(src)),
            Set::Nothing => format!("no {}", self.names[n.to_index()]),
        }
    }

    pub fn union_first(&self, u: VersionSetUnionId) -> VersionSetId {
        self.grown.borrow().unions[u.to_index()][0]
    }

    pub fn string_text(&self, s: StringId) -> &str {
        &self.strings[s.to_index()]
    }
}

fn push_set(grown: &mut Grown, n: NameId, s: Set) -> VersionSetId {
    grown.sets.push((n, s));
    VersionSetId::from_index(grown.sets.len() - 1)
}

/// Field-wise key used only to order otherwise equal candidates deterministically.
fn canonical(c: &Candidate) -> String {
    format!("{:?}", (&c.arch, &c.depends, &c.conflicts, &c.provides))
}

impl Interner for Pool<'_> {
    type NameId = NameId;
    type SolvableId = SolvableId;

    fn display_solvable(&self, s: SolvableId) -> impl std::fmt::Display + '_ {
        show(self.candidate(s))
    }

    fn display_name(&self, n: NameId) -> impl std::fmt::Display + '_ {
        match self.names[n.to_index()] {
            "" => "(nothing)",
            name => name,
        }
    }

    fn display_version_set(&self, vs: VersionSetId) -> impl std::fmt::Display + '_ {
        format!("({})", self.set_text(vs))
    }

    fn display_string(&self, s: StringId) -> impl std::fmt::Display + '_ {
        self.string_text(s)
    }

    fn version_set_name(&self, vs: VersionSetId) -> NameId {
        self.grown.borrow().sets[vs.to_index()].0
    }

    fn solvable_name(&self, s: SolvableId) -> NameId {
        self.solvable_names[s.to_index()]
    }

    fn version_sets_in_union(&self, u: VersionSetUnionId) -> impl Iterator<Item = VersionSetId> {
        self.grown.borrow().unions[u.to_index()].clone().into_iter()
    }

    fn resolve_condition(&self, _: ConditionId) -> Condition {
        unreachable!("kimigayo-resolve creates no conditional requirements")
    }
}

impl DependencyProvider for Pool<'_> {
    async fn filter_candidates(&self, candidates: &[SolvableId], vs: VersionSetId, inverse: bool) -> Vec<SolvableId> {
        let set = self.grown.borrow().sets[vs.to_index()].1;
        let keeps = |s: SolvableId| match set {
            Set::Match { src, negate } => self.candidate(s).satisfies(self.constraint(src)) != negate,
            Set::Nothing => false,
        };
        candidates.iter().copied().filter(|&s| keeps(s) != inverse).collect()
    }

    async fn get_candidates(&self, n: NameId) -> Option<Candidates<SolvableId>> {
        let i = n.to_index();
        Some(Candidates {
            candidates: self.by_name[i].clone(),
            favored: self.favored[i],
            excluded: self.excluded[i].clone(),
            hint_dependencies_available: HintDependenciesAvailable::None,
            ..Candidates::default()
        })
    }

    async fn sort_candidates(&self, _: &SolverCache<Self>, solvables: &mut [SolvableId]) {
        // Ids are handed out in preference order (newest first); the favoured (installed)
        // one goes in front.
        solvables.sort_by_key(|&s| (self.favored[self.solvable_names[s.to_index()].to_index()] != Some(s), s.to_index()));
    }

    async fn get_dependencies(&self, s: SolvableId) -> Dependencies {
        let i = s.to_index();
        let c = self.solvables[i];
        let mut deps = KnownDependencies::default();
        if !c.fits_arch(self.arch) {
            // Other-arch solvables are only ever `excluded`; never asked for in practice.
            return Dependencies::Known(deps);
        }
        for (k, d) in c.depends.iter().enumerate() {
            deps.requirements.push(self.requirement(&d.name, Source::Depends(i, k), false));
        }
        let own = self.solvable_names[i];
        let mut grown = self.grown.borrow_mut();
        for (k, x) in c.conflicts.iter().enumerate() {
            for n in self.targets(&mut grown, &x.name) {
                if n != own {
                    deps.constrains.push(push_set(&mut grown, n, Set::Match { src: Source::Conflicts(i, k), negate: true }));
                }
            }
        }
        Dependencies::Known(deps)
    }
}
