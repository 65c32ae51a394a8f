//! Preparing a source tree: unpack each verified source (the first into `src/`, the others
//! into `extra/<name>/`), copy repository folders, apply patches in order.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use kimigayo_recipe::{Recipe, Source};

use crate::toolchain::copy_tree;
use crate::BuildError;

/// A source ready to unpack: a verified archive file or a repository folder.
pub struct Prepared {
    pub source: Source,
    pub local: PathBuf,
}

fn is_archive(name: &str) -> bool {
    [".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar"].iter().any(|s| name.ends_with(s))
}

pub fn dest_of(work: &Path, index: usize, s: &Source) -> PathBuf {
    if index == 0 {
        work.join("src")
    } else {
        work.join("extra").join(&s.name)
    }
}

pub fn unpack_all(recipe: &Recipe, prepared: &[Prepared], work: &Path, log: &Path) -> Result<(), BuildError> {
    let fail = |what: String| BuildError::Prepare { component: recipe.name().to_string(), message: what, log: log.to_path_buf() };
    for (i, p) in prepared.iter().enumerate() {
        let dest = dest_of(work, i, &p.source);
        fs::create_dir_all(&dest).map_err(|e| fail(format!("creating {}: {e}", dest.display())))?;
        if p.source.path.is_some() {
            let include = if p.source.include.is_empty() { vec![String::new()] } else { p.source.include.clone() };
            for inc in include {
                let from = p.local.join(&inc);
                let to = dest.join(&inc);
                if from.is_dir() {
                    copy_tree(&from, &to)
                } else {
                    fs::copy(&from, &to).map(|_| ())
                }
                .map_err(|e| fail(format!("copying {}: {e}", from.display())))?;
            }
        } else if is_archive(p.source.file.as_deref().unwrap_or("")) {
            let strip = p.source.strip_components.unwrap_or(0);
            let out = Command::new("tar")
                .arg("-xf")
                .arg(&p.local)
                .arg("-C")
                .arg(&dest)
                .arg(format!("--strip-components={strip}"))
                .args(["--no-same-owner", "--same-permissions", "--delay-directory-restore"])
                .env("LC_ALL", "C")
                .output()
                .map_err(|e| fail(format!("running tar: {e}")))?;
            if !out.status.success() {
                return Err(fail(format!("unpacking {}: {}", p.local.display(), String::from_utf8_lossy(&out.stderr).trim())));
            }
        } else {
            let name = p.source.file.as_deref().unwrap_or("source");
            fs::copy(&p.local, dest.join(name)).map_err(|e| fail(format!("copying {name}: {e}")))?;
        }
    }
    for (i, pt) in recipe.patches.iter().enumerate() {
        let file = match (&pt.file, &pt.source, &pt.path) {
            (Some(f), _, _) => recipe.dir.join(f),
            (None, Some(src), Some(path)) => {
                let idx = recipe.sources.iter().position(|s| &s.name == src).expect("validated");
                dest_of(work, idx, &recipe.sources[idx]).join(path)
            }
            _ => unreachable!("validated"),
        };
        let out = Command::new("patch")
            .arg(format!("-p{}", pt.strip))
            .args(["--batch", "--forward", "--no-backup-if-mismatch", "-i"])
            .arg(&file)
            .current_dir(work.join("src"))
            .output()
            .map_err(|e| fail(format!("running patch: {e}")))?;
        let _ = fs::write(log, [fs::read(log).unwrap_or_default(), out.stdout.clone(), out.stderr.clone()].concat());
        if !out.status.success() {
            return Err(BuildError::Prepare {
                component: recipe.name().to_string(),
                message: format!(
                    "patch[{i}] {} does not apply: {}\nFix: refresh the patch against this version or drop it from {}",
                    file.display(),
                    String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or(""),
                    recipe.file.display()
                ),
                log: log.to_path_buf(),
            });
        }
    }
    Ok(())
}
