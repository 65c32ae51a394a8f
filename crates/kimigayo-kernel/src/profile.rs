//! Profiles (`kernel/profiles/<name>.toml`) and the request they resolve to: named
//! fragments in order, then the chosen module sets, then any extra user fragments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::fragment::Fragment;
use crate::merge::{merge, Merged};
use crate::{io_ctx, KernelError, HARDENING};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    kernel: Profile,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Fragment names under `fragments/`, applied in order.
    pub fragments: Vec<String>,
    /// Module set names under `fragments/modules/`.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Kernel command-line parameters the kernel boots with (hardening parameters the
    /// configuration cannot express); installed as /boot/cmdline-<release>.
    #[serde(default)]
    pub cmdline: Vec<String>,
}

impl Profile {
    pub fn parse(file: &str, text: &str) -> Result<Profile, KernelError> {
        let raw: RawProfile = toml::from_str(text).map_err(|e| KernelError::Profile { file: file.into(), message: e.message().trim().to_string() })?;
        if !raw.kernel.fragments.iter().any(|f| f == HARDENING) {
            return Err(KernelError::Profile {
                file: file.into(),
                message: format!("`kernel.fragments` must include \"{HARDENING}\": every Kimigayo kernel carries the hardening set (property 31)"),
            });
        }
        if let Some(w) = raw.kernel.cmdline.iter().find(|w| w.is_empty() || w.contains(char::is_whitespace)) {
            return Err(KernelError::Profile { file: file.into(), message: format!("`kernel.cmdline` entry `{w}` must be one parameter (`name` or `name=value`, no spaces)") });
        }
        Ok(raw.kernel)
    }
}

/// A resolved request: the fragments in merge order and their merge.
#[derive(Debug, Clone)]
pub struct Request {
    pub fragments: Vec<Fragment>,
    pub modules: Vec<String>,
    pub merged: Merged,
    /// The profile's kernel command line.
    pub cmdline: Vec<String>,
}

impl Request {
    /// Merge `fragments` (which must include the hardening fragment) in order.
    pub fn new(fragments: Vec<Fragment>, modules: Vec<String>) -> Result<Request, KernelError> {
        if !fragments.iter().any(|f| f.name == HARDENING) {
            return Err(KernelError::Profile { file: "(request)".into(), message: format!("the `{HARDENING}` fragment is missing (property 31)") });
        }
        let merged = merge(&fragments);
        Ok(Request { fragments, modules, merged, cmdline: Vec::new() })
    }

    pub fn hardening(&self) -> &Fragment {
        self.fragments.iter().find(|f| f.name == HARDENING).expect("checked in new")
    }
}

/// Pick module sets by name from the available ones (property 9). Unknown names are errors.
pub fn select_modules(names: &[String], available: &BTreeMap<String, Fragment>, from: &str) -> Result<Vec<Fragment>, KernelError> {
    let mut out: Vec<Fragment> = Vec::new();
    for n in names {
        let f = available.get(n).ok_or_else(|| KernelError::UnknownModule {
            name: n.clone(),
            from: from.to_string(),
            known: available.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        if !out.iter().any(|o| o.name == f.name) {
            out.push(f.clone());
        }
    }
    Ok(out)
}

/// The `kernel/` folder: fragments and module sets on disk.
#[derive(Debug, Clone)]
pub struct KernelDir {
    pub root: PathBuf,
}

impl KernelDir {
    pub fn new(root: impl Into<PathBuf>) -> KernelDir {
        KernelDir { root: root.into() }
    }

    /// How a file is named in messages: relative to the project (the parent of `kernel/`).
    fn label(&self, p: &Path) -> String {
        let base = self.root.parent().unwrap_or(&self.root);
        p.strip_prefix(base).unwrap_or(p).display().to_string()
    }

    fn read(&self, name: &str, path: &Path) -> Result<Fragment, KernelError> {
        let text = std::fs::read_to_string(path).map_err(io_ctx(format!("reading {}", path.display())))?;
        Fragment::parse(name, &self.label(path), &text)
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".config")).map(str::to_string))
            .collect();
        v.sort();
        v
    }

    pub fn fragment(&self, name: &str, from: &str) -> Result<Fragment, KernelError> {
        let path = self.root.join("fragments").join(format!("{name}.config"));
        if !path.is_file() {
            return Err(KernelError::UnknownFragment {
                name: name.into(),
                from: from.into(),
                path: self.label(&path),
                known: Self::names_in(&self.root.join("fragments")).join(", "),
            });
        }
        self.read(name, &path)
    }

    /// Every module set, by name.
    pub fn modules(&self) -> Result<BTreeMap<String, Fragment>, KernelError> {
        let dir = self.root.join("fragments/modules");
        Self::names_in(&dir).into_iter().map(|n| Ok((n.clone(), self.read(&format!("modules/{n}"), &dir.join(format!("{n}.config")))?))).collect()
    }

    /// Resolve a profile: its fragments, its modules (or `modules` instead when given), then
    /// `extra` user fragment files, in that order.
    pub fn request(&self, profile: &Path, modules: Option<&[String]>, extra: &[PathBuf]) -> Result<Request, KernelError> {
        let label = self.label(profile);
        let text = std::fs::read_to_string(profile).map_err(io_ctx(format!("reading {}", profile.display())))?;
        let p = Profile::parse(&label, &text)?;
        let mut fragments = p.fragments.iter().map(|n| self.fragment(n, &label)).collect::<Result<Vec<_>, _>>()?;
        let names = modules.map(|m| m.to_vec()).unwrap_or(p.modules.clone());
        fragments.extend(select_modules(&names, &self.modules()?, &label)?);
        for x in extra {
            let stem = x.file_stem().map_or("user".into(), |s| s.to_string_lossy().into_owned());
            let text = std::fs::read_to_string(x).map_err(io_ctx(format!("reading {}", x.display())))?;
            fragments.push(Fragment::parse(&format!("user:{stem}"), &x.display().to_string(), &text)?);
        }
        let mut req = Request::new(fragments, names)?;
        req.cmdline = p.cmdline;
        Ok(req)
    }

    /// The hardening rule table for `arch` (`rules/<arch>.toml`).
    pub fn rules_path(&self, arch: &str) -> PathBuf {
        self.root.join("rules").join(format!("{arch}.toml"))
    }

    /// Load the rule table for `arch`, named relative to the project in messages.
    pub fn rules(&self, arch: &str) -> Result<(String, Vec<crate::rules::Rule>), KernelError> {
        let p = self.rules_path(arch);
        let label = self.label(&p);
        let text = std::fs::read_to_string(&p).map_err(io_ctx(format!("reading {label} (the kernel hardening rules for {arch})")))?;
        Ok((label.clone(), crate::rules::parse(&label, &text)?))
    }
}

/// Load `kernel/profiles/<name>.toml` from a project root.
pub fn load(project: &Path, profile: &str) -> Result<Request, KernelError> {
    let kd = KernelDir::new(project.join("kernel"));
    kd.request(&kd.root.join("profiles").join(format!("{profile}.toml")), None, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_without_hardening_is_refused() {
        let e = Profile::parse("p.toml", "[kernel]\nfragments = [\"base\"]\n").unwrap_err();
        assert!(e.to_string().contains("must include \"hardening\""), "{e}");
    }

    #[test]
    fn unknown_module_lists_known_sets() {
        let mut av = BTreeMap::new();
        av.insert("ext4".to_string(), Fragment::parse("modules/ext4", "e.config", "CONFIG_EXT4_FS=m\n").unwrap());
        let e = select_modules(&["ext5".into()], &av, "kernel/profiles/vm.toml").unwrap_err();
        let t = e.to_string();
        assert!(t.contains("`ext5`") && t.contains("known sets are ext4") && t.contains("kernel/fragments/modules/ext5.config"), "{t}");
    }
}
