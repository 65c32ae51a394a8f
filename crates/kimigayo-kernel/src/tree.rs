//! A kernel source tree on disk: write the request over the `allnoconfig` base, run
//! `make olddefconfig`, read the result and check it. The build runs `make` inside its
//! sandbox and calls [`write_request`] / [`check_tree`] around it; tests call [`configure`]
//! with an out-of-tree object folder so many configurations share one read-only source tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use kimigayo_kconfig::Config;

use crate::check::{check, Report};
use crate::deps::DepIndex;
use crate::profile::Request;
use crate::{io_ctx, KernelError};

/// Sources in `src`; `.config` and the kconfig tools in `obj` (the same folder in-tree).
#[derive(Debug, Clone)]
pub struct Tree {
    pub src: PathBuf,
    pub obj: PathBuf,
}

impl Tree {
    pub fn in_tree(src: impl Into<PathBuf>) -> Tree {
        let src = src.into();
        Tree { obj: src.clone(), src }
    }

    pub fn config_path(&self) -> PathBuf {
        self.obj.join(".config")
    }

    pub fn make(&self, target: &str) -> Result<(), KernelError> {
        let mut cmd = Command::new("make");
        cmd.args(["-s", target]).current_dir(&self.src).env("LC_ALL", "C");
        if self.obj != self.src {
            cmd.arg(format!("O={}", self.obj.display()));
        }
        let out = cmd.output().map_err(io_ctx("running make (install build-essential, flex and bison)"))?;
        if !out.status.success() {
            return Err(KernelError::Make {
                command: format!("make {target}"),
                dir: self.src.clone(),
                output: String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).trim().to_string(),
            });
        }
        Ok(())
    }
}

pub fn read_config(path: &Path) -> Result<Config, KernelError> {
    let text = std::fs::read_to_string(path).map_err(io_ctx(format!("reading {}", path.display())))?;
    Config::parse(&text).map_err(|e| KernelError::Profile { file: path.display().to_string(), message: e.to_string() })
}

/// Apply the request to `<tree>/.config` (which must hold the base, e.g. `make allnoconfig`).
pub fn write_request(tree: &Path, req: &Request) -> Result<(), KernelError> {
    let path = tree.join(".config");
    let base = read_config(&path)?;
    std::fs::write(&path, req.merged.apply(&base).render()).map_err(io_ctx(format!("writing {}", path.display())))?;
    let cl = tree.join(CMDLINE_FILE);
    std::fs::write(&cl, format!("{}\n", req.cmdline.join(" "))).map_err(io_ctx(format!("writing {}", cl.display())))
}

/// Where [`write_request`] leaves the profile's kernel command line in the tree (the recipe
/// installs it as /boot/cmdline-<release>).
pub const CMDLINE_FILE: &str = "kimigayo.cmdline";

/// Check `<tree>/.config` after olddefconfig; dependency hints are read from the tree only
/// when something was dropped.
pub fn check_tree(tree: &Path, req: &Request) -> Result<Report, KernelError> {
    check_config(tree, &read_config(&tree.join(".config"))?, req)
}

fn check_config(src: &Path, result: &Config, req: &Request) -> Result<Report, KernelError> {
    let quick = check(&req.merged, req.hardening(), result, None);
    if quick.ok() {
        return Ok(quick);
    }
    Ok(check(&req.merged, req.hardening(), result, Some(&DepIndex::scan(src))))
}

/// Write the request over `base`, run `make olddefconfig`, check. Returns the result and the
/// report (the caller decides; [`crate::KernelError::Rejected`] wraps a failing report).
pub fn configure(tree: &Tree, base: &Config, req: &Request) -> Result<(Config, Report), KernelError> {
    let path = tree.config_path();
    std::fs::write(&path, req.merged.apply(base).render()).map_err(io_ctx(format!("writing {}", path.display())))?;
    tree.make("olddefconfig")?;
    let result = read_config(&path)?;
    let report = check_config(&tree.src, &result, req)?;
    Ok((result, report))
}
