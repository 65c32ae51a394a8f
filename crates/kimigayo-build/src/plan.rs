//! Build order: recipes sorted so every recipe comes after its build dependencies
//! (and after `musl` when it uses the musl toolchain). Pure; cycles are reported by name.

use std::collections::{BTreeMap, BTreeSet};

use kimigayo_recipe::{Recipe, Toolchain};

/// The recipes a recipe needs built first.
pub fn needs(r: &Recipe) -> BTreeSet<String> {
    let mut s: BTreeSet<String> = r.build_deps.iter().cloned().collect();
    if r.build.toolchain == Toolchain::Musl {
        s.insert("musl".to_string());
    }
    s.remove(r.name());
    s
}

/// Topological order restricted to `wanted` and everything they need. Ties broken by name.
pub fn order(all: &[Recipe], wanted: &[String]) -> Result<Vec<String>, String> {
    let by_name: BTreeMap<&str, &Recipe> = all.iter().map(|r| (r.name(), r)).collect();
    let mut closure = BTreeSet::new();
    let mut stack: Vec<String> = wanted.to_vec();
    while let Some(n) = stack.pop() {
        let r = by_name.get(n.as_str()).ok_or_else(|| format!("no recipe named `{n}` (see recipes/)"))?;
        if closure.insert(n.clone()) {
            stack.extend(needs(r));
        }
    }
    let mut done: Vec<String> = Vec::new();
    let mut left = closure;
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|n| needs(by_name[n.as_str()]).iter().all(|d| done.contains(d)))
            .cloned()
            .collect();
        if ready.is_empty() {
            return Err(format!(
                "build dependency cycle among: {} (remove one of their dependencies.build entries)",
                left.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        for n in ready {
            left.remove(&n);
            done.push(n);
        }
    }
    Ok(done)
}
