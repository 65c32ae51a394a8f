//! The data the resolver works on (repository candidates, the installed database, the
//! request) and what it answers with, plus the one matching rule everything shares.

use std::fmt;

use kimigayo_version::{Constraint, Version};

/// A name a package answers to besides its own: a virtual name (`sh`), a path (`/bin/sh`) or a
/// shared-object name (`so:libc.so`), optionally with a version (`so:libc.so=1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Provide {
    pub name: String,
    pub version: Option<Version>,
}

impl Provide {
    /// An unversioned provide (`sh`).
    pub fn new(name: impl Into<String>) -> Self {
        Provide { name: name.into(), version: None }
    }

    /// A versioned provide (`so:libc.so=1`).
    pub fn versioned(name: impl Into<String>, version: Version) -> Self {
        Provide { name: name.into(), version: Some(version) }
    }
}

impl fmt::Display for Provide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}={}", self.name, v),
            None => f.write_str(&self.name),
        }
    }
}

/// One package file in the repository (the metadata of `<name>-<version>.<arch>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    pub name: String,
    pub version: Version,
    /// `x86_64`, `aarch64` or `noarch`.
    pub arch: String,
    pub depends: Vec<Constraint>,
    pub conflicts: Vec<Constraint>,
    pub provides: Vec<Provide>,
}

impl Candidate {
    /// Whether this package satisfies `c`: by its own name and version, or through a
    /// `provides` entry. An unversioned constraint is met by any provide of that name; a
    /// versioned constraint only by a versioned provide whose version matches.
    pub fn satisfies(&self, c: &Constraint) -> bool {
        if self.name == c.name && c.matches(&self.version) {
            return true;
        }
        self.provides.iter().any(|p| {
            p.name == c.name
                && match (&c.req, &p.version) {
                    (None, _) => true,
                    (Some(_), Some(v)) => c.matches(v),
                    (Some(_), None) => false,
                }
        })
    }

    /// Whether this package could ever answer to the name `name` (own name or a provide).
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.provides.iter().any(|p| p.name == name)
    }

    /// Whether this package can be installed on a root of architecture `arch`.
    pub fn fits_arch(&self, arch: &str) -> bool {
        self.arch == arch || self.arch == "noarch"
    }
}

/// A package in the installed database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Installed {
    pub name: String,
    pub version: Version,
}

/// How far installed versions may move.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Upgrade {
    /// Keep every installed version that still fits; only what must change changes.
    #[default]
    None,
    /// Prefer the newest version of everything.
    All,
    /// Prefer the newest version of these packages (and of whatever they then need); keep
    /// the rest.
    Only(Vec<String>),
}

/// What the user asks for now, on top of the existing world.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Constraints to add to the world (replacing world entries of the same name).
    pub install: Vec<Constraint>,
    /// Package names to drop from the world and to have uninstalled.
    pub remove: Vec<String>,
    pub upgrade: Upgrade,
}

/// Everything the resolver needs; it does no I/O.
#[derive(Debug, Clone)]
pub struct Problem<'a> {
    /// Every package file in the repositories, of every architecture.
    pub universe: &'a [Candidate],
    /// What is installed now.
    pub installed: &'a [Installed],
    /// What the user explicitly asked for earlier (`/etc/kpkg/world`).
    pub world: &'a [Constraint],
    /// The architecture of the root being managed.
    pub arch: &'a str,
    pub request: Request,
}

/// The resolver's answer: the complete set to have installed and how it differs from now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Solution {
    /// The full final set, sorted by name (one version per name).
    pub install: Vec<(String, Version)>,
    /// Packages in `install` whose name is not installed now.
    pub added: Vec<(String, Version)>,
    /// Installed packages (name, installed version) whose name is not in `install`.
    pub removed: Vec<(String, Version)>,
    /// (name, from, to) with to > from.
    pub upgraded: Vec<(String, Version, Version)>,
    /// (name, from, to) with to < from.
    pub downgraded: Vec<(String, Version, Version)>,
    /// The world to record after this transaction, sorted.
    pub new_world: Vec<Constraint>,
    /// The architecture the solution was made for (so [`crate::install_order`] picks the
    /// same package files).
    pub arch: String,
}

/// Why a request cannot be met, as text meant for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsatisfiable {
    pub explanation: String,
}

impl fmt::Display for Unsatisfiable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explanation)
    }
}

impl std::error::Error for Unsatisfiable {}

/// `busybox 1.37.0-r1`
pub(crate) fn show(c: &Candidate) -> String {
    format!("{} {}", c.name, c.version)
}
