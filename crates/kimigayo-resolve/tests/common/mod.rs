//! Small builders shared by the tests.
#![allow(dead_code)]

use kimigayo_resolve::{Candidate, Installed, Problem, Provide, Request, Solution, Unsatisfiable, Upgrade};
use kimigayo_version::{Constraint, Version};

pub fn v(s: &str) -> Version {
    s.parse().unwrap()
}

/// `musl>=1.2.5`; also names the version crate's parser does not take (`so:libc.so>=1`).
pub fn c(s: &str) -> Constraint {
    let at = s.find(['=', '<', '>', '~']).unwrap_or(s.len());
    let mut k: Constraint = format!("x{}", &s[at..]).parse().unwrap();
    k.name = s[..at].to_string();
    k
}

/// `pkg("busybox", "1.37.0-r1")` for x86_64, with builder methods for the rest.
pub fn pkg(name: &str, version: &str) -> Candidate {
    Candidate {
        name: name.into(),
        version: v(version),
        arch: "x86_64".into(),
        depends: vec![],
        conflicts: vec![],
        provides: vec![],
    }
}

pub trait Build {
    fn dep(self, s: &str) -> Self;
    fn conflict(self, s: &str) -> Self;
    fn provide(self, s: &str) -> Self;
    fn arch(self, a: &str) -> Self;
}

impl Build for Candidate {
    fn dep(mut self, s: &str) -> Self {
        self.depends.push(c(s));
        self
    }
    fn conflict(mut self, s: &str) -> Self {
        self.conflicts.push(c(s));
        self
    }
    /// `sh` or `so:libc.so=1`
    fn provide(mut self, s: &str) -> Self {
        self.provides.push(match s.split_once('=') {
            Some((n, ver)) => Provide::versioned(n, v(ver)),
            None => Provide::new(s),
        });
        self
    }
    fn arch(mut self, a: &str) -> Self {
        self.arch = a.into();
        self
    }
}

pub fn inst(name: &str, version: &str) -> Installed {
    Installed { name: name.into(), version: v(version) }
}

pub fn install(list: &[&str]) -> Request {
    Request { install: list.iter().map(|s| c(s)).collect(), ..Request::default() }
}

pub fn upgrade(u: Upgrade) -> Request {
    Request { upgrade: u, ..Request::default() }
}

/// Resolve for x86_64.
pub fn solve(universe: &[Candidate], installed: &[Installed], world: &[Constraint], request: Request) -> Result<Solution, Unsatisfiable> {
    kimigayo_resolve::resolve(&Problem { universe, installed, world, arch: "x86_64", request })
}

/// `["a 1.0", "b 2.0"]`
pub fn names(s: &Solution) -> Vec<String> {
    s.install.iter().map(|(n, v)| format!("{n} {v}")).collect()
}
