//! Build order: recipes sorted so every recipe comes after its build dependencies
//! (and after `musl` when it uses the musl toolchain). Pure; cycles are reported by name.

use std::collections::{BTreeMap, BTreeSet};

use kimigayo_recipe::{Recipe, Toolchain};

/// The recipes a recipe needs built first.
pub fn needs(r: &Recipe) -> BTreeSet<String> {
    let mut s: BTreeSet<String> = r.build_deps.iter().cloned().collect();
    // Cargo recipes too: C code in Rust dependencies compiles with the musl toolchain.
    if matches!(r.build.toolchain, Toolchain::Musl | Toolchain::Cargo) {
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
        let ready: Vec<String> = left.iter().filter(|n| needs(by_name[n.as_str()]).iter().all(|d| done.contains(d))).cloned().collect();
        if ready.is_empty() {
            return Err(format!("build dependency cycle among: {} (remove one of their dependencies.build entries)", left.into_iter().collect::<Vec<_>>().join(", ")));
        }
        for n in ready {
            left.remove(&n);
            done.push(n);
        }
    }
    Ok(done)
}

/// The recipes that produce `packages` (package, subpackage or provided names; a version
/// constraint after the name is ignored) and, transitively, their runtime dependencies: what
/// must be built for an image of those packages. Sorted by name; an unknown package is an
/// error naming it and `what` asked for it.
pub fn recipes_for_packages(all: &[Recipe], packages: &[String], what: &str) -> Result<Vec<String>, String> {
    let producer = |name: &str| -> Option<&Recipe> {
        all.iter()
            .find(|r| r.name() == name || r.subpackages.iter().any(|s| s.name == name))
            .or_else(|| all.iter().find(|r| r.provides.iter().any(|p| p == name) || r.subpackages.iter().any(|s| s.provides.iter().any(|p| p == name))))
    };
    let bare = |c: &str| -> String { c.split(['<', '>', '=', '~', ' ']).next().unwrap_or(c).to_string() };
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<(String, String)> = packages.iter().map(|p| (bare(p), what.to_string())).collect();
    while let Some((name, asked_by)) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let r = producer(&name).ok_or_else(|| format!("{asked_by} needs package `{name}`, but no recipe in recipes/ builds or provides it"))?;
        out.insert(r.name().to_string());
        let by = format!("package `{name}` (recipe {})", r.name());
        let deps: Vec<String> = match r.subpackages.iter().find(|s| s.name == name || s.provides.contains(&name)) {
            Some(s) => s.runtime.iter().map(|c| bare(c)).collect(),
            None => r.runtime.iter().map(|c| c.name.clone()).collect(),
        };
        todo.extend(deps.into_iter().map(|d| (d, by.clone())));
    }
    Ok(out.into_iter().collect())
}

/// Every recipe but the kernels (what the container images and their tests need; a kernel
/// build takes many minutes and is asked for by name or by the VM's image spec).
pub fn without_kernels(all: &[Recipe]) -> Vec<String> {
    all.iter().filter(|r| r.build.kernel_profile.is_none()).map(|r| r.name().to_string()).collect()
}

#[cfg(test)]
mod packages_tests {
    use super::*;

    fn recipe(dir: &std::path::Path, name: &str, extra: &str) -> Recipe {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("recipe.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"1.0\"\nlicense = \"MIT\"\ndescription = \"t\"\n\n[build]\ntoolchain = \"none\"\nsteps = [\"true\"]\n{extra}"),
        )
        .unwrap();
        Recipe::load(&d).unwrap()
    }

    #[test]
    fn image_packages_map_to_their_recipes_and_runtime_closure() {
        let d = tempfile::tempdir().unwrap();
        let all = vec![
            recipe(d.path(), "libc", "[[subpackage]]\nname = \"libc-dev\"\ndescription = \"h\"\npaths = [\"usr/include/**\"]\nruntime = [\"libc=1.0-r0\"]\n"),
            recipe(d.path(), "shell", "[dependencies]\nruntime = [\"libc>=1.0\"]\nprovides = [\"sh\"]\n"),
            recipe(d.path(), "kernel", ""),
            recipe(d.path(), "app", "[dependencies]\nruntime = [\"sh\"]\n"),
        ];
        let f = |p: &[&str]| recipes_for_packages(&all, &p.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "images/x.yaml");
        assert_eq!(f(&["shell"]).unwrap(), ["libc", "shell"]);
        assert_eq!(f(&["app"]).unwrap(), ["app", "libc", "shell"], "a provided name maps to its provider");
        assert_eq!(f(&["libc-dev"]).unwrap(), ["libc"], "a subpackage maps to its recipe");
        assert!(!f(&["app", "shell"]).unwrap().contains(&"kernel".to_string()));
        let e = f(&["app", "nginx"]).unwrap_err();
        assert!(e.contains("images/x.yaml needs package `nginx`"), "{e}");
    }
}
