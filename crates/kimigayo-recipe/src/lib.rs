//! Component recipes: the declarative `recipes/<name>/recipe.toml` files that say what a
//! component is (name, version, license), where its bytes come from (sources pinned by
//! SHA-256, patches), how it is built (steps, toolchain, linkage) and what packages it yields
//! (runtime dependencies, provides, conflicts, subpackages).
//!
//! This crate only reads and validates; it never fetches or builds. Every error names the
//! recipe file and the field, and says how to fix it.

pub use kimigayo_version as version;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use kimigayo_hardening::Linkage;
pub use kimigayo_package::{GroupDecl, PathDecl, UserDecl};
use serde::Deserialize;

pub use version::{Constraint, Op, Version};

/// A recipe error: which file, which field, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeError {
    pub file: PathBuf,
    pub field: String,
    pub message: String,
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: field `{}`: {}", self.file.display(), self.field, self.message)
        }
    }
}

impl std::error::Error for RecipeError {}

/// Which compiler a recipe is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toolchain {
    /// The host C compiler, only to bootstrap musl itself (it links nothing from the host libc).
    Host,
    /// gcc driven through the Kimigayo musl sysroot (specs + fortify headers).
    Musl,
    /// cargo/rustc for `x86_64-unknown-linux-musl` (Rust's bundled musl 1.2.5).
    Cargo,
    /// No compiler: the component only installs data files.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSection {
    pub name: String,
    pub version: String,
    #[serde(default = "one")]
    pub release: u32,
    pub license: String,
    pub description: String,
    #[serde(default)]
    pub homepage: Option<String>,
    /// Architectures this recipe builds for; `["noarch"]` for data-only packages.
    #[serde(default = "default_arch")]
    pub arch: Vec<String>,
}

fn one() -> u32 {
    1
}

fn default_arch() -> Vec<String> {
    vec!["x86_64".into(), "aarch64".into()]
}

/// Where a Debian source package file comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebianOrigin {
    /// Source package name (`busybox`).
    pub package: String,
    /// Exact Debian version including epoch (`1:1.37.0-10.1`).
    pub version: String,
    /// Suites searched in order (`trixie`, `forky`, `sid`).
    pub suites: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Identifier used by patches and build steps (`busybox`, `debian-patches`).
    pub name: String,
    /// File name of the artifact (the cache and mirror key besides its hash).
    #[serde(default)]
    pub file: Option<String>,
    /// SHA-256 pin of the file. Required for every fetched source.
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub debian: Option<DebianOrigin>,
    #[serde(default)]
    pub urls: Vec<String>,
    /// A folder of this repository (relative to the recipe), hashed by content instead of pinned.
    #[serde(default)]
    pub path: Option<String>,
    /// With `path`: only these entries of the folder (files or sub-folders) are part of the source.
    #[serde(default)]
    pub include: Vec<String>,
    /// Leading path components dropped when unpacking an archive.
    #[serde(default)]
    pub strip_components: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    /// A patch file in the recipe folder.
    #[serde(default)]
    pub file: Option<String>,
    /// Or a patch inside an unpacked source (`source` name + `path` within it).
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default = "one_usize")]
    pub strip: usize,
    /// Why the patch is applied (CVE id, upstream commit) — recorded in build metadata.
    #[serde(default)]
    pub reason: Option<String>,
}

fn one_usize() -> usize {
    1
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSection {
    pub toolchain: Toolchain,
    #[serde(default = "default_linkage")]
    pub linkage: Linkage,
    /// Optimisation level for C code: `2` (default), `s` or `z` (size), `3`. Never `0`:
    /// FORTIFY_SOURCE needs optimisation.
    #[serde(default = "default_optimize")]
    pub optimize: String,
    /// Shell steps run in order (`sh -eu`) inside the build sandbox.
    #[serde(default)]
    pub steps: Vec<String>,
    /// Cargo packages to build (toolchain = "cargo").
    #[serde(default)]
    pub cargo_packages: Vec<String>,
    /// Binaries installed from the cargo build into `/usr/bin`.
    #[serde(default)]
    pub bins: Vec<String>,
    /// A Kconfig file (recipe-relative) merged with the configured selection and written to
    /// `.config` in the source tree before the steps run.
    #[serde(default)]
    pub kconfig: Option<String>,
    /// Applets a configured selection (`./configure --applets=-NAME`) may not remove, each
    /// with the reason given in the refusal (e.g. `ash`: it is `/bin/sh`).
    #[serde(default)]
    pub required_applets: std::collections::BTreeMap<String, String>,
    /// A kernel profile (recipe-relative, e.g. `../../kernel/profiles/vm.toml`): the build runs
    /// `prepare`, writes the profile's merged fragments over the tree's `.config`, runs
    /// `make olddefconfig`, refuses a result that dropped a requested or hardening option,
    /// and only then runs `steps`.
    #[serde(default)]
    pub kernel_profile: Option<String>,
    /// Steps run before the kernel configuration is written (unpack, `make allnoconfig`).
    #[serde(default)]
    pub prepare: Vec<String>,
    /// Waive one protection for matching files: `"PROTECTION:GLOB"` (e.g. `"fortify:lib/ld-musl-*"`),
    /// with the reason in `audit_exempt_reason`.
    #[serde(default)]
    pub audit_exempt: Vec<String>,
    #[serde(default)]
    pub audit_exempt_reason: Option<String>,
}

fn default_optimize() -> String {
    "2".into()
}

fn default_linkage() -> Linkage {
    Linkage::Static
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependencySection {
    #[serde(default)]
    pub runtime: Vec<String>,
    /// Recipes whose packages must be built first and are visible to the build.
    #[serde(default)]
    pub build: Vec<String>,
    #[serde(default)]
    pub provides: Vec<String>,
    #[serde(default)]
    pub conflicts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subpackage {
    pub name: String,
    pub description: String,
    /// Globs (relative to the install root) moved from the main package into this one.
    pub paths: Vec<String>,
    #[serde(default)]
    pub runtime: Vec<String>,
    #[serde(default)]
    pub provides: Vec<String>,
    #[serde(default)]
    pub conflicts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    package: PackageSection,
    #[serde(default, rename = "source")]
    sources: Vec<Source>,
    #[serde(default, rename = "patch")]
    patches: Vec<Patch>,
    build: BuildSection,
    #[serde(default)]
    dependencies: DependencySection,
    #[serde(default, rename = "subpackage")]
    subpackages: Vec<Subpackage>,
    #[serde(default, rename = "user")]
    users: Vec<UserDecl>,
    #[serde(default, rename = "group")]
    groups: Vec<GroupDecl>,
    #[serde(default, rename = "path")]
    paths: Vec<PathDecl>,
}

/// A validated recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// The recipe folder (holds `recipe.toml`, `files/`, `patches/`).
    pub dir: PathBuf,
    /// The recipe file itself, for error messages.
    pub file: PathBuf,
    /// The exact bytes of recipe.toml (hashed into the build key).
    pub text: String,
    pub package: PackageSection,
    pub sources: Vec<Source>,
    pub patches: Vec<Patch>,
    pub build: BuildSection,
    pub runtime: Vec<Constraint>,
    pub build_deps: Vec<String>,
    pub provides: Vec<String>,
    pub conflicts: Vec<Constraint>,
    pub subpackages: Vec<Subpackage>,
    /// Accounts, ownership and modes declared for the main package (applied by kpkg).
    pub users: Vec<UserDecl>,
    pub groups: Vec<GroupDecl>,
    pub paths: Vec<PathDecl>,
}

impl Recipe {
    pub fn name(&self) -> &str {
        &self.package.name
    }

    /// `name-version-rN`.
    pub fn full_version(&self) -> Version {
        Version::new(self.package.version.clone(), Some(self.package.release))
    }

    pub fn is_noarch(&self) -> bool {
        self.package.arch.iter().any(|a| a == "noarch")
    }

    pub fn supports_arch(&self, arch: &str) -> bool {
        self.is_noarch() || self.package.arch.iter().any(|a| a == arch)
    }

    /// Load `dir/recipe.toml`.
    pub fn load(dir: &Path) -> Result<Recipe, RecipeError> {
        let file = dir.join("recipe.toml");
        let text = std::fs::read_to_string(&file).map_err(|e| RecipeError {
            file: file.clone(),
            field: String::new(),
            message: format!("cannot read the recipe: {e} (every folder under recipes/ needs a recipe.toml)"),
        })?;
        Recipe::parse(dir, &file, &text)
    }

    /// Parse and validate recipe text (the pure core of [`Recipe::load`]).
    pub fn parse(dir: &Path, file: &Path, text: &str) -> Result<Recipe, RecipeError> {
        let err = |field: &str, message: String| RecipeError { file: file.to_path_buf(), field: field.to_string(), message };
        let raw: RawRecipe = toml::from_str(text).map_err(|e| {
            let span = e.span().map(|s| line_col(text, s.start));
            let message = e.message().trim().to_string();
            let message = match span {
                Some((l, c)) => format!("line {l}, column {c}: {message}"),
                None => message,
            };
            err("", message)
        })?;
        let p = &raw.package;
        if !version::valid_name(&p.name) {
            return Err(err("package.name", format!("`{}` is not a valid name: use lowercase letters, digits and + - . _", p.name)));
        }
        if let Some(folder) = dir.file_name().and_then(|s| s.to_str()) {
            if folder != p.name {
                return Err(err(
                    "package.name",
                    format!("`{}` differs from the recipe folder `{folder}`: rename one so they match", p.name),
                ));
            }
        }
        if !version::valid_upstream(&p.version) {
            return Err(err("package.version", format!("`{}` is not a valid version: start with a digit, use 0-9 A-Z a-z . _ + ~", p.version)));
        }
        if p.release == 0 {
            return Err(err("package.release", "must be 1 or more (bump it when the recipe changes but the version does not)".into()));
        }
        for (f, v) in [("package.license", &p.license), ("package.description", &p.description)] {
            if v.trim().is_empty() {
                return Err(err(f, "must not be empty".into()));
            }
        }
        if p.arch.is_empty() {
            return Err(err("package.arch", "list at least one of x86_64, aarch64, noarch".into()));
        }
        for a in &p.arch {
            if !["x86_64", "aarch64", "noarch"].contains(&a.as_str()) {
                return Err(err("package.arch", format!("unknown architecture `{a}`: use x86_64, aarch64 or noarch")));
            }
        }

        let mut names = BTreeSet::new();
        for (i, s) in raw.sources.iter().enumerate() {
            let f = |k: &str| format!("source[{i}].{k}");
            if !version::valid_name(&s.name) || !names.insert(s.name.clone()) {
                return Err(err(&f("name"), format!("`{}` must be a unique lowercase identifier", s.name)));
            }
            match (&s.path, &s.file) {
                (Some(_), Some(_)) => return Err(err(&f("path"), "a source is either a repository `path` or a fetched `file`, not both".into())),
                (None, None) => return Err(err(&f("file"), "missing: give the artifact's file name (or `path` for a folder of this repository)".into())),
                (Some(path), None) => {
                    if s.sha256.is_some() || s.debian.is_some() || !s.urls.is_empty() {
                        return Err(err(&f("path"), "a repository folder is hashed by content: remove sha256/debian/urls".into()));
                    }
                    if !dir.join(path).is_dir() {
                        return Err(err(&f("path"), format!("`{path}` is not a folder (relative to {})", dir.display())));
                    }
                }
                (None, Some(file_name)) => {
                    if file_name.contains('/') || file_name.starts_with('.') {
                        return Err(err(&f("file"), format!("`{file_name}` must be a plain file name")));
                    }
                    match &s.sha256 {
                        None => return Err(err(&f("sha256"), "missing: every fetched source is pinned; run `sha256sum FILE` on a trusted copy".into())),
                        Some(h) if !is_sha256(h) => {
                            return Err(err(&f("sha256"), format!("expected 64 lowercase hex digits, found `{h}` ({} characters)", h.len())))
                        }
                        _ => {}
                    }
                    if s.debian.is_none() && s.urls.is_empty() {
                        return Err(err(&f("urls"), "no origin: add `debian = {...}` or at least one URL (the source cache is tried first either way)".into()));
                    }
                    if let Some(d) = &s.debian {
                        if d.suites.is_empty() {
                            return Err(err(&f("debian.suites"), "list at least one suite, e.g. [\"trixie\"]".into()));
                        }
                    }
                    for u in &s.urls {
                        if !(u.starts_with("http://") || u.starts_with("https://")) {
                            return Err(err(&f("urls"), format!("`{u}` is not an http(s) URL")));
                        }
                    }
                }
            }
        }

        for (i, pt) in raw.patches.iter().enumerate() {
            let f = |k: &str| format!("patch[{i}].{k}");
            match (&pt.file, &pt.source, &pt.path) {
                (Some(file_name), None, None) => {
                    if !dir.join(file_name).is_file() {
                        return Err(err(&f("file"), format!("`{file_name}` does not exist in {}", dir.display())));
                    }
                }
                (None, Some(src), Some(_)) => {
                    if !names.contains(src) {
                        return Err(err(&f("source"), format!("no source is named `{src}`; known: {}", names.iter().cloned().collect::<Vec<_>>().join(", "))));
                    }
                }
                _ => return Err(err(&f("file"), "give either `file` (in the recipe folder) or `source` + `path`".into())),
            }
        }

        let b = &raw.build;
        match b.toolchain {
            Toolchain::Cargo => {
                if b.cargo_packages.is_empty() || b.bins.is_empty() {
                    return Err(err("build.bins", "a cargo build lists `cargo_packages` and the `bins` to install".into()));
                }
            }
            _ => {
                if b.steps.is_empty() {
                    return Err(err("build.steps", "list the shell steps that build and install into $DESTDIR".into()));
                }
            }
        }
        for (i, ex) in b.audit_exempt.iter().enumerate() {
            let ok = ex.split_once(':').is_some_and(|(prot, glob)| {
                !glob.is_empty() && kimigayo_hardening::Protection::ALL.iter().any(|p| p.as_str() == prot)
            });
            if !ok {
                return Err(err(&format!("build.audit_exempt[{i}]"), format!("`{ex}` must be PROTECTION:GLOB, e.g. fortify:lib/ld-musl-*.so.1")));
            }
        }
        match (&b.kernel_profile, b.prepare.is_empty()) {
            (Some(k), _) if !dir.join(k).is_file() => {
                return Err(err("build.kernel_profile", format!("`{k}` does not exist (relative to {})", dir.display())));
            }
            (Some(_), true) => return Err(err("build.prepare", "a kernel build lists the steps that unpack the tree and run `make allnoconfig`".into())),
            (None, false) => return Err(err("build.prepare", "`prepare` only applies with `kernel_profile`: move these steps into `steps`".into())),
            _ => {}
        }
        if let Some(k) = &b.kconfig {
            if !dir.join(k).is_file() {
                return Err(err("build.kconfig", format!("`{k}` does not exist in {}", dir.display())));
            }
        }
        if !b.required_applets.is_empty() && b.kconfig.is_none() {
            return Err(err("build.required_applets", "required applets only apply to a recipe with `kconfig`: add it or drop the table".into()));
        }
        if let Some((a, _)) = b.required_applets.iter().find(|(_, why)| why.trim().is_empty()) {
            return Err(err("build.required_applets", format!("`{a}` needs a reason (it is printed when a selection tries to remove it)")));
        }
        if !["1", "2", "3", "s", "z"].contains(&b.optimize.as_str()) {
            return Err(err("build.optimize", format!("`{}` is not allowed: use 2, s, z, 3 or 1 (FORTIFY needs optimisation)", b.optimize)));
        }
        if b.audit_exempt.is_empty() != b.audit_exempt_reason.is_none() {
            return Err(err("build.audit_exempt_reason", "audit exemptions need a reason, and a reason needs exemptions".into()));
        }

        let parse_list = |field: &str, list: &[String]| -> Result<Vec<Constraint>, RecipeError> {
            list.iter()
                .enumerate()
                .map(|(i, s)| s.parse::<Constraint>().map_err(|e| err(&format!("{field}[{i}]"), e)))
                .collect()
        };
        let runtime = parse_list("dependencies.runtime", &raw.dependencies.runtime)?;
        let conflicts = parse_list("dependencies.conflicts", &raw.dependencies.conflicts)?;
        for (i, d) in raw.dependencies.build.iter().enumerate() {
            if !version::valid_name(d) {
                return Err(err(&format!("dependencies.build[{i}]"), format!("`{d}` is not a recipe name")));
            }
        }
        let mut pkg_names = BTreeSet::from([p.name.clone()]);
        for (i, sp) in raw.subpackages.iter().enumerate() {
            if !version::valid_name(&sp.name) || !pkg_names.insert(sp.name.clone()) {
                return Err(err(&format!("subpackage[{i}].name"), format!("`{}` must be a unique valid package name", sp.name)));
            }
            if sp.paths.is_empty() {
                return Err(err(&format!("subpackage[{i}].paths"), "list the globs this subpackage takes".into()));
            }
            parse_list(&format!("subpackage[{i}].runtime"), &sp.runtime)?;
            parse_list(&format!("subpackage[{i}].conflicts"), &sp.conflicts)?;
        }

        for (i, pd) in raw.paths.iter().enumerate() {
            if pd.mode_bits().is_none() {
                return Err(err(&format!("path[{i}].mode"), format!("`{}` is not an octal mode like \"0750\"", pd.mode)));
            }
            if pd.path.starts_with('/') || pd.path.split('/').any(|c| c == "..") {
                return Err(err(&format!("path[{i}].path"), format!("`{}` must be relative to the package root, without `..`", pd.path)));
            }
        }
        for (i, u) in raw.users.iter().enumerate() {
            u.validate(&format!("user[{i}]")).map_err(|e| err(&e.field, format!("`{}` {}", e.value.escape_debug(), e.reason)))?;
        }
        for (i, g) in raw.groups.iter().enumerate() {
            g.validate(&format!("group[{i}]")).map_err(|e| err(&e.field, format!("`{}` {}", e.value.escape_debug(), e.reason)))?;
        }
        Ok(Recipe {
            dir: dir.to_path_buf(),
            file: file.to_path_buf(),
            text: text.to_string(),
            package: raw.package,
            sources: raw.sources,
            patches: raw.patches,
            build: raw.build,
            runtime,
            build_deps: raw.dependencies.build,
            provides: raw.dependencies.provides,
            conflicts,
            subpackages: raw.subpackages,
            users: raw.users,
            groups: raw.groups,
            paths: raw.paths,
        })
    }
}

pub fn is_sha256(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Load every recipe under `root` (one folder each), sorted by name. Stops at the first error.
pub fn load_all(root: &Path) -> Result<Vec<Recipe>, RecipeError> {
    let rd = std::fs::read_dir(root).map_err(|e| RecipeError {
        file: root.to_path_buf(),
        field: String::new(),
        message: format!("cannot read the recipes folder: {e}"),
    })?;
    let mut dirs: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    let recipes = dirs.iter().map(|d| Recipe::load(d)).collect::<Result<Vec<_>, _>>()?;
    let known: BTreeSet<&str> = recipes.iter().map(|r| r.name()).collect();
    for r in &recipes {
        for (i, d) in r.build_deps.iter().enumerate() {
            if !known.contains(d.as_str()) {
                return Err(RecipeError {
                    file: r.file.clone(),
                    field: format!("dependencies.build[{i}]"),
                    message: format!("no recipe named `{d}` under {}", root.display()),
                });
            }
        }
    }
    Ok(recipes)
}

#[cfg(test)]
mod tests;
