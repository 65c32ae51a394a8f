//! From an install tree to packages: split files into the main package and subpackages
//! (first matching subpackage glob wins), write each as a deterministic archive, and
//! describe it with metadata in the design's model.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use kimigayo_package::archive::{list_tree, write_archive};
use kimigayo_package::{BuildInfo, Checksum, PackageMeta};
use kimigayo_recipe::Recipe;

use crate::BuildError;

pub struct Produced {
    pub meta: PackageMeta,
    pub archive: PathBuf,
}

fn globs(recipe: &Recipe, field: &str, pats: &[String]) -> Result<GlobSet, BuildError> {
    let mut b = GlobSetBuilder::new();
    for p in pats {
        let g = Glob::new(p).map_err(|e| BuildError::Recipe(format!("{}: field `{field}`: bad glob `{p}`: {e}", recipe.file.display())))?;
        b.add(g);
    }
    b.build().map_err(|e| BuildError::Recipe(format!("{}: field `{field}`: {e}", recipe.file.display())))
}

/// Paths of `dest` per package: (package name, paths). Directories go with the package
/// that has files below them, so every package carries its own parents.
pub fn split(recipe: &Recipe, dest: &Path) -> Result<Vec<(String, Vec<String>)>, BuildError> {
    let all = list_tree(dest).map_err(|e| BuildError::Package { component: recipe.name().into(), message: e.to_string() })?;
    let sets: Vec<(String, GlobSet)> = recipe
        .subpackages
        .iter()
        .enumerate()
        .map(|(i, sp)| Ok((sp.name.clone(), globs(recipe, &format!("subpackage[{i}].paths"), &sp.paths)?)))
        .collect::<Result<_, BuildError>>()?;
    let mut out: Vec<(String, BTreeSet<String>)> = std::iter::once(recipe.name().to_string())
        .chain(sets.iter().map(|(n, _)| n.clone()))
        .map(|n| (n, BTreeSet::new()))
        .collect();
    for p in &all {
        let full = dest.join(p);
        let is_dir = fs::symlink_metadata(&full).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir {
            continue;
        }
        let idx = sets.iter().position(|(_, g)| g.is_match(p)).map_or(0, |i| i + 1);
        let set = &mut out[idx].1;
        let mut parent = Path::new(p).parent();
        while let Some(d) = parent.filter(|d| !d.as_os_str().is_empty()) {
            set.insert(d.to_string_lossy().into_owned());
            parent = d.parent();
        }
        set.insert(p.clone());
    }
    // Empty directories belong to the main package.
    for p in &all {
        let full = dest.join(p);
        if fs::symlink_metadata(&full).map(|m| m.is_dir()).unwrap_or(false) && !out.iter().any(|(_, s)| s.contains(p)) {
            out[0].1.insert(p.clone());
        }
    }
    Ok(out.into_iter().map(|(n, s)| (n, s.into_iter().collect())).collect())
}

pub struct MetaCommon<'a> {
    pub recipe: &'a Recipe,
    pub arch: &'a str,
    pub epoch: u64,
    pub build_info: BuildInfo,
}

/// Write every package of the recipe into `staging`.
pub fn produce(common: &MetaCommon, dest: &Path, staging: &Path) -> Result<Vec<Produced>, BuildError> {
    let r = common.recipe;
    let perr = |m: String| BuildError::Package { component: r.name().into(), message: m };
    let arch = if r.is_noarch() { "noarch" } else { common.arch };
    let version = r.full_version().to_string();
    let mut produced = Vec::new();
    for (name, paths) in split(r, dest)? {
        let sub = r.subpackages.iter().find(|s| s.name == name);
        if sub.is_some() && paths.is_empty() {
            return Err(perr(format!("subpackage `{name}` matched no files: fix its `paths` globs in {}", r.file.display())));
        }
        let filename = format!("{}.tar.gz", PackageMeta::stem(&name, &version, arch));
        let archive = staging.join(&filename);
        let f = fs::File::create(&archive).map_err(|e| perr(format!("{}: {e}", archive.display())))?;
        let stats = write_archive(dest, &paths, common.epoch, std::io::BufWriter::new(f)).map_err(|e| perr(e.to_string()))?;
        let sha256 = kimigayo_package::sha256_file(&archive).map_err(|e| perr(e.to_string()))?;
        let size = fs::metadata(&archive).map_err(|e| perr(e.to_string()))?.len();
        let (description, deps, provides, conflicts) = match sub {
            Some(s) => (s.description.clone(), s.runtime.clone(), s.provides.clone(), s.conflicts.clone()),
            None => (
                r.package.description.clone(),
                r.runtime.iter().map(|c| c.to_string()).collect(),
                r.provides.clone(),
                r.conflicts.iter().map(|c| c.to_string()).collect(),
            ),
        };
        let meta = PackageMeta {
            name: name.clone(),
            version: version.clone(),
            architecture: arch.to_string(),
            dependencies: deps,
            conflicts,
            provides,
            size,
            installed_size: stats.installed_size,
            license: r.package.license.clone(),
            description,
            origin: r.name().to_string(),
            filename,
            checksum: Checksum { sha256, gpg_signature: None },
            build_info: common.build_info.clone(),
            users: if sub.is_none() { r.users.clone() } else { vec![] },
            groups: if sub.is_none() { r.groups.clone() } else { vec![] },
            paths: if sub.is_none() { r.paths.clone() } else { vec![] },
        };
        fs::write(staging.join(format!("{}.json", PackageMeta::stem(&name, &version, arch))), meta.to_json())
            .map_err(|e| perr(e.to_string()))?;
        produced.push(Produced { meta, archive });
    }
    Ok(produced)
}
