//! Scale: a generated repository of 10,000 package files, 50 layers deep.

use std::time::Instant;

use kimigayo_resolve::{install_order, resolve, synthetic_universe, Problem, Request};
use kimigayo_version::Constraint;

#[test]
fn large_universe_resolves() {
    let universe = synthetic_universe(10_000, 50, 7);
    assert!(universe.len() >= 10_000, "{} package files", universe.len());
    assert_eq!(synthetic_universe(10_000, 50, 7), universe, "the generator is deterministic");
    let install: Vec<Constraint> = (0..20).map(|i| format!("s0-{i}").parse().unwrap()).collect();
    let problem = Problem {
        universe: &universe,
        installed: &[],
        world: &[],
        arch: "x86_64",
        request: Request { install, ..Request::default() },
    };
    let start = Instant::now();
    let solution = resolve(&problem).expect("the synthetic universe is satisfiable");
    let elapsed = start.elapsed();
    let order = install_order(&solution, &universe);
    eprintln!(
        "resolved {} of {} package files in {:.1} ms ({} to install, deepest layer {}); install order in {:.1} ms total",
        solution.install.len(),
        universe.len(),
        elapsed.as_secs_f64() * 1e3,
        solution.added.len(),
        solution.install.iter().filter_map(|(n, _)| n[1..].split('-').next()?.parse::<usize>().ok()).max().unwrap_or(0),
        start.elapsed().as_secs_f64() * 1e3,
    );
    assert_eq!(order.len(), solution.install.len());
    let mut reversed = universe.clone();
    reversed.reverse();
    let again = resolve(&Problem { universe: &reversed, ..problem.clone() }).unwrap();
    assert_eq!(again, solution, "same answer whatever the universe's order");
    // Chains really are deep: something from the last layer is needed.
    assert!(solution.install.iter().any(|(n, _)| n.starts_with("s49-")));
}
