//! File conflicts between packages, judged on the path a file really lands on: with package
//! A shipping `x -> /etc` and package B shipping `x/shadow`, B's file is `etc/shadow`, and if
//! another package owns that, the two conflict. Symlinks are followed through the packages'
//! own symlinks (what the install will create); pure, no filesystem access.

use std::collections::BTreeMap;

/// One packaged entry as the checker sees it.
pub struct Owned<'a> {
    pub package: &'a str,
    pub path: &'a str,
    /// `Some(target)` for a symlink, `None` for a file; directories are not passed in.
    pub symlink: Option<&'a str>,
}

/// Two packages that would write the same resolved path.
#[derive(Debug, PartialEq, Eq)]
pub struct Clash {
    pub resolved: String,
    pub first: (String, String),
    pub second: (String, String),
}

const MAX_LINKS: usize = 40;

/// Resolve the parents of `path` through `links` (root-relative path → target); the last
/// component is kept as it is. `None` when the links loop.
pub fn resolve_parents(path: &str, links: &BTreeMap<&str, &str>) -> Option<String> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    let Some((last, parents)) = comps.split_last() else { return Some(String::new()) };
    let mut todo: Vec<String> = parents.iter().rev().map(|s| s.to_string()).collect();
    let mut cur: Vec<String> = Vec::new();
    let mut expansions = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            cur.pop();
            continue;
        }
        if c == "." || c.is_empty() {
            continue;
        }
        cur.push(c);
        let here = cur.join("/");
        if let Some(target) = links.get(here.as_str()) {
            expansions += 1;
            if expansions > MAX_LINKS {
                return None;
            }
            cur.pop();
            if target.starts_with('/') {
                cur.clear();
            }
            for t in target.split('/').rev() {
                todo.push(t.to_string());
            }
        }
    }
    cur.push(last.to_string());
    Some(cur.join("/"))
}

/// The first clash between two different packages on a resolved path, if any.
pub fn find_clash(entries: &[Owned<'_>]) -> Option<Clash> {
    let links: BTreeMap<&str, &str> = entries.iter().filter_map(|e| e.symlink.map(|t| (e.path.trim_end_matches('/'), t))).collect();
    let mut seen: BTreeMap<String, (&str, &str)> = BTreeMap::new();
    for e in entries {
        let resolved = resolve_parents(e.path, &links).unwrap_or_else(|| e.path.to_string());
        match seen.get(&resolved) {
            Some((pkg, path)) if *pkg != e.package => {
                return Some(Clash { resolved, first: (pkg.to_string(), path.to_string()), second: (e.package.to_string(), e.path.to_string()) })
            }
            Some(_) => {}
            None => {
                seen.insert(resolved, (e.package, e.path));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o<'a>(package: &'a str, path: &'a str, symlink: Option<&'a str>) -> Owned<'a> {
        Owned { package, path, symlink }
    }

    #[test]
    fn a_symlinked_parent_leads_to_the_real_path() {
        let links = BTreeMap::from([("x", "/etc"), ("usr/lib64", "lib"), ("a", "b/../c")]);
        assert_eq!(resolve_parents("x/shadow", &links).unwrap(), "etc/shadow");
        assert_eq!(resolve_parents("usr/lib64/libc.so", &links).unwrap(), "usr/lib/libc.so");
        assert_eq!(resolve_parents("a/f", &links).unwrap(), "c/f");
        assert_eq!(resolve_parents("x", &links).unwrap(), "x", "the entry itself is not followed");
        let looping = BTreeMap::from([("l1", "l2"), ("l2", "l1")]);
        assert_eq!(resolve_parents("l1/f", &looping), None);
    }

    #[test]
    fn clash_through_another_packages_symlink() {
        let entries = [o("baselayout", "etc/shadow", None), o("evil-a", "x", Some("/etc")), o("evil-b", "x/shadow", None)];
        let c = find_clash(&entries).unwrap();
        assert_eq!(c.resolved, "etc/shadow");
        assert_eq!(c.first.0, "baselayout");
        assert_eq!(c.second, ("evil-b".to_string(), "x/shadow".to_string()));
        assert_eq!(find_clash(&[o("a", "etc/a", None), o("b", "etc/b", None), o("c", "x", Some("/etc"))]), None);
    }
}
