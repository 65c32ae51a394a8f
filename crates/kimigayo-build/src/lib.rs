//! The Kimigayo build system: recipe → fetched, verified sources → sandboxed, hardened musl
//! build → ELF audit → deterministic packages in a local repository.
//!
//! Every build is keyed by the hash of all its inputs (recipe, sources, patches, config,
//! toolchain, flags, host tool versions, architecture, SOURCE_DATE_EPOCH) and cached under
//! `<cache>/builds/<key>`; an unchanged build is reused, not redone. Nothing half-written
//! ever reaches the cache or the repository: outputs are staged and renamed into place.

pub mod cargo;
pub mod host;
pub mod inputs;
pub mod packaging;
pub mod plan;
pub mod sandbox;
pub mod toolchain;
pub mod unpack;
mod verify;
pub mod watch;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kimigayo_fetch::Fetcher;
use kimigayo_hardening::{Level, Protection};
use kimigayo_package::{BuildInfo, PackageMeta, PatchRecord, Repository, SourceRecord};
use kimigayo_recipe::{Recipe, Toolchain};

pub use verify::{verify, VerifyReport, VerifyRow};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    MissingTools(String),
    #[error("{0}")]
    Recipe(String),
    #[error(transparent)]
    Fetch(#[from] kimigayo_fetch::FetchError),
    #[error("{component}: {message}\nfull log: {}", log.display())]
    Prepare { component: String, message: String, log: PathBuf },
    #[error("{component}: build step {step} failed: {text}\n--- last lines of the log ---\n{tail}\n---\nfull log: {}", log.display())]
    Step { component: String, step: usize, text: String, tail: String, log: PathBuf },
    #[error("{component}: hardening audit failed at level {level}:\n{failures}\nThe package was not published. Fix the flags named above, or waive a protection for a file with `build.audit_exempt` and a reason.")]
    Audit { component: String, level: Level, failures: String },
    #[error("{component}: packaging: {message}")]
    Package { component: String, message: String },
    #[error("{component}: {message}")]
    Kernel { component: String, message: String },
    #[error("architecture `{0}` is not supported yet: the arm64 cross build is planned (issue: multi-arch); build with --arch x86_64")]
    UnsupportedArch(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

fn io_ctx(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let context = context.into();
    move |source| BuildError::Io { context, source }
}

/// Everything a build run is configured with.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    pub arch: String,
    pub hardening: Level,
    pub jobs: usize,
    pub source_date_epoch: u64,
    /// Take each recipe's timestamp from the last git commit touching its folder and sources
    /// (so a commit elsewhere does not rebuild it); `source_date_epoch` is the fallback.
    pub epoch_from_git: bool,
    /// The repository checkout (for `toolchain/` templates and repository-folder sources).
    pub project_root: PathBuf,
    pub recipes_dir: PathBuf,
    /// Build cache, toolchains, logs, work folders (outside the checkout).
    pub cache_dir: PathBuf,
    /// Where work folders are created (default `<cache>/work`); any location gives the same output.
    pub work_dir: Option<PathBuf>,
    /// Where sources are cached (shared between runs; sources are verified on every use).
    pub source_cache_dir: PathBuf,
    /// The output package repository.
    pub repo_dir: PathBuf,
    /// BusyBox applets added / removed relative to the recipe's config (property 10).
    pub applets_add: Vec<String>,
    pub applets_remove: Vec<String>,
    /// Run build steps as this uid/gid inside a user namespace (None: the caller's identity).
    /// `verify` rebuilds as a different user to prove the output does not depend on it.
    pub sandbox_uid: Option<u32>,
    /// Reuse cached builds (false = rebuild everything).
    pub reuse: bool,
    /// Recipes rebuilt even when a cached build with the same inputs exists.
    pub force_rebuild: Vec<String>,
    pub offline: bool,
    /// Interval of the "still running" lines of long steps (cargo, kernel); zero: none.
    pub heartbeat: std::time::Duration,
}

/// What happened to one recipe.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub recipe: String,
    pub key: String,
    pub reused: bool,
    pub seconds: f64,
    pub packages: Vec<PackageMeta>,
    pub audit: Vec<kimigayo_audit::FileReport>,
}

/// Progress sink: the CLI prints, tests stay quiet.
pub trait Progress {
    fn event(&self, msg: &str);
}

pub struct Quiet;
impl Progress for Quiet {
    fn event(&self, _msg: &str) {}
}

pub struct Builder<'p> {
    pub cfg: BuildConfig,
    pub recipes: Vec<Recipe>,
    fetcher: Fetcher,
    host_versions: BTreeMap<String, String>,
    progress: &'p dyn Progress,
    /// Packages produced in this run: package name → (meta, archive in cache).
    built: BTreeMap<String, (PackageMeta, PathBuf)>,
    toolchain: Option<PathBuf>,
    /// SOURCE_DATE_EPOCH of the recipe being built.
    epoch: u64,
    /// Cargo sets built (or found in the cache) in this run: key → folder of binaries.
    cargo_sets: BTreeMap<String, PathBuf>,
}

impl<'p> Builder<'p> {
    pub fn new(cfg: BuildConfig, progress: &'p dyn Progress) -> Result<Self, BuildError> {
        if cfg.arch != "x86_64" {
            return Err(BuildError::UnsupportedArch(cfg.arch.clone()));
        }
        let recipes = kimigayo_recipe::load_all(&cfg.recipes_dir).map_err(|e| BuildError::Recipe(e.to_string()))?;
        let mut fetcher = Fetcher::new(&cfg.source_cache_dir);
        fetcher.offline = cfg.offline;
        Ok(Builder {
            host_versions: host::debian_versions(host::RECORDED_PACKAGES),
            fetcher,
            recipes,
            progress,
            built: BTreeMap::new(),
            toolchain: None,
            cargo_sets: BTreeMap::new(),
            epoch: cfg.source_date_epoch,
            cfg,
        })
    }

    pub fn recipe(&self, name: &str) -> Option<&Recipe> {
        self.recipes.iter().find(|r| r.name() == name)
    }

    /// Build `wanted` (all recipes when empty) and their build dependencies, in order.
    pub fn build(&mut self, wanted: &[String]) -> Result<Vec<Outcome>, BuildError> {
        let mut extra = Vec::new();
        if self.recipes.iter().any(|r| r.build.toolchain == Toolchain::Cargo) {
            extra.push(("cargo", "rustup (https://rustup.rs) or the cargo package"));
        }
        if self.recipes.iter().any(|r| r.build.kernel_profile.is_some()) {
            extra.extend(host::KERNEL_TOOLS);
        }
        host::check_tools(&extra)?;
        if self.recipes.iter().any(|r| r.build.kernel_profile.is_some()) {
            host::check_gcc_plugins()?;
        }
        let wanted: Vec<String> = if wanted.is_empty() { self.recipes.iter().map(|r| r.name().to_string()).collect() } else { wanted.to_vec() };
        let order = plan::order(&self.recipes, &wanted).map_err(BuildError::Recipe)?;
        let mut outcomes = Vec::new();
        let total = order.len();
        for (i, name) in order.iter().enumerate() {
            let recipe = self.recipe(name).expect("planned recipes exist").clone();
            if !recipe.supports_arch(&self.cfg.arch) {
                self.progress.event(&format!("[{}/{total}] {name}: skipped (not built for {})", i + 1, self.cfg.arch));
                continue;
            }
            self.progress.event(&format!("[{}/{total}] {name} {}", i + 1, recipe.full_version()));
            let o = self.build_one(&recipe)?;
            self.progress.event(&format!(
                "[{}/{total}] {name}: {} in {:.1}s ({})",
                i + 1,
                if o.reused { "reused from cache" } else { "built" },
                o.seconds,
                o.packages.iter().map(|p| format!("{} {} B", p.filename, p.size)).collect::<Vec<_>>().join(", ")
            ));
            outcomes.push(o);
        }
        Ok(outcomes)
    }

    fn dirs(&self) -> (PathBuf, PathBuf, PathBuf) {
        let c = &self.cfg.cache_dir;
        (c.join("builds"), self.cfg.work_dir.clone().unwrap_or_else(|| c.join("work")), c.join("logs"))
    }

    /// The flags, linkage and compiler of a recipe at the configured level.
    fn flags(&self, recipe: &Recipe) -> (Vec<String>, Vec<String>, Vec<String>) {
        // A kernel is freestanding: userland hardening flags do not apply (its own are in the
        // hardening fragment, checked after `make olddefconfig`).
        if matches!(recipe.build.toolchain, Toolchain::None | Toolchain::Cargo) || recipe.build.kernel_profile.is_some() {
            return (vec![], vec![], vec![]);
        }
        let f = kimigayo_hardening::flags(self.cfg.hardening);
        let mut cflags = vec![format!("-O{}", recipe.build.optimize)];
        cflags.extend(f.cflags.iter().cloned());
        cflags.push(format!("-ffile-prefix-map={}=/usr/src/{}-{}", sandbox::SRC, recipe.name(), recipe.package.version));
        (cflags, f.ldflags.clone(), f.link(recipe.build.linkage).to_vec())
    }

    fn toolchain_identity(&mut self, recipe: &Recipe) -> Result<String, BuildError> {
        Ok(match recipe.build.toolchain {
            Toolchain::None => "none".into(),
            Toolchain::Host => host::gcc_identity(&self.host_versions),
            Toolchain::Cargo => {
                let sysroot = self.ensure_toolchain()?;
                format!(
                    "{} + C dependencies: {} + musl sysroot {}",
                    host::rustc_identity(),
                    host::gcc_identity(&self.host_versions),
                    sysroot.file_name().unwrap().to_string_lossy()
                )
            }
            Toolchain::Musl => {
                let sysroot = self.ensure_toolchain()?;
                format!("{} + musl sysroot {}", host::gcc_identity(&self.host_versions), sysroot.file_name().unwrap().to_string_lossy())
            }
        })
    }

    /// Assemble the musl sysroot from the musl packages built (or reused) in this run.
    pub fn ensure_toolchain(&mut self) -> Result<PathBuf, BuildError> {
        if let Some(t) = &self.toolchain {
            return Ok(t.clone());
        }
        let archives: Vec<PathBuf> = ["musl", "musl-dev"]
            .iter()
            .map(|n| self.built.get(*n).map(|(_, a)| a.clone()).ok_or_else(|| BuildError::Recipe(format!("the musl toolchain needs package `{n}` built first (recipe musl)"))))
            .collect::<Result<_, _>>()?;
        let spec = toolchain::ToolchainSpec {
            arch: &self.cfg.arch,
            archives,
            templates: &self.cfg.project_root.join("toolchain"),
            uapi_version: self.host_versions.get("linux-libc-dev").cloned().unwrap_or_default(),
            gcc: host::gcc_identity(&self.host_versions),
        };
        let root = self.cfg.cache_dir.join("toolchains");
        fs::create_dir_all(&root).map_err(io_ctx(format!("creating {}", root.display())))?;
        let dir = spec.assemble(&root).map_err(io_ctx("assembling the musl toolchain"))?;
        self.toolchain = Some(dir.clone());
        Ok(dir)
    }

    /// The `.config` text for a recipe with a kconfig (applet selection applied).
    fn kconfig_text(&self, recipe: &Recipe) -> Result<Option<String>, BuildError> {
        let Some(k) = &recipe.build.kconfig else {
            return Ok(None);
        };
        let path = recipe.dir.join(k);
        let text = fs::read_to_string(&path).map_err(io_ctx(format!("reading {}", path.display())))?;
        let base = kimigayo_kconfig::Config::parse(&text).map_err(|e| BuildError::Recipe(format!("{}: {e}", path.display())))?;
        let (add, remove) = if recipe.name() == "busybox" { (self.cfg.applets_add.as_slice(), self.cfg.applets_remove.as_slice()) } else { (&[][..], &[][..]) };
        let c = kimigayo_kconfig::select_applets(&base, add, remove, &recipe.build.required_applets).map_err(|e| BuildError::Recipe(format!("{}: {e}", path.display())))?;
        Ok(Some(c.render()))
    }

    /// The `kernel/` folder a kernel recipe's profile lives in (`<kernel>/profiles/<name>.toml`).
    fn kernel_dir(&self, recipe: &Recipe) -> PathBuf {
        let profile = recipe.dir.join(recipe.build.kernel_profile.as_deref().unwrap_or("."));
        profile.parent().and_then(|d| d.parent()).map(Path::to_path_buf).unwrap_or_else(|| recipe.dir.clone())
    }

    /// The kernel configuration request of a recipe with `kernel_profile`.
    fn kernel_request(&self, recipe: &Recipe) -> Result<Option<kimigayo_kernel::Request>, BuildError> {
        let Some(p) = &recipe.build.kernel_profile else {
            return Ok(None);
        };
        let profile = recipe.dir.join(p);
        kimigayo_kernel::profile::KernelDir::new(self.kernel_dir(recipe))
            .request(&profile, None, &[])
            .map(Some)
            .map_err(|e| BuildError::Kernel { component: recipe.name().into(), message: e.to_string() })
    }

    /// Kernel recipes: `prepare`, the request over the `.config`, `make olddefconfig` and the
    /// checker, all before `steps` compile anything.
    fn configure_kernel(&self, recipe: &Recipe, req: &kimigayo_kernel::Request, sb: &sandbox::Sandbox, log: &Path) -> Result<(), BuildError> {
        let name = recipe.name().to_string();
        let step_err = |r: sandbox::StepResult, what: &str| {
            r.map_err(|(idx, text)| BuildError::Step {
                component: name.clone(),
                step: idx + 1,
                text: format!("{what}: {text}"),
                tail: sandbox::tail(log, 25),
                log: log.to_path_buf(),
            })
        };
        let r = sb.run(&recipe.build.prepare, log, &|e| self.step_event(&name, "prepare", e, log)).map_err(io_ctx("running bubblewrap"))?;
        step_err(r, "prepare")?;
        let src = sb.work.join("src");
        let kerr = |e: kimigayo_kernel::KernelError| BuildError::Kernel { component: name.clone(), message: e.to_string() };
        kimigayo_kernel::tree::write_request(&src, req).map_err(kerr)?;
        let r = sb.run(&["make -s olddefconfig".to_string()], log, &|e| self.step_event(&name, "configure", e, log)).map_err(io_ctx("running bubblewrap"))?;
        step_err(r, "configure")?;
        let report = kimigayo_kernel::tree::check_tree(&src, req).map_err(kerr)?;
        if !report.ok() {
            return Err(kerr(kimigayo_kernel::KernelError::Rejected(report)));
        }
        for c in &report.conflicts {
            self.progress.event(&format!("    {name}: note: {c}"));
        }
        self.progress.event(&format!("    {name}: configuration checked: {} requested options, hardening intact", req.merged.order.len()));
        // The rule table (KSPP, CLIP OS, kernel-hardening-checker …) over the configuration and
        // the profile's command line; sysctls are the VM root's and are checked by `vm build`.
        let kernel_dir = self.kernel_dir(recipe);
        let (label, rules) = kimigayo_kernel::profile::KernelDir::new(&kernel_dir).rules(&self.cfg.arch).map_err(kerr)?;
        let text = std::fs::read_to_string(src.join(".config")).map_err(io_ctx("reading the kernel's .config"))?;
        let inputs = kimigayo_kernel::rules::Inputs {
            config: kimigayo_kernel::Config::parse(&text).map_err(|e| kerr(kimigayo_kernel::KernelError::Profile { file: ".config".into(), message: e.to_string() }))?,
            version: kimigayo_kernel::rules::config_version(&text),
            cmdline: Some(req.cmdline.iter().map(|w| match w.split_once('=') { Some((k, v)) => (k.to_string(), Some(v.to_string())), None => (w.clone(), None) }).collect()),
            sysctl: None,
        };
        let table = kimigayo_kernel::rules::evaluate(&label, &rules, &inputs);
        let failed = table.failed().count();
        self.progress.event(&format!("    {name}: hardening rules ({label}, configuration and command line): {}", table.summary()));
        if failed > 0 {
            let msg = format!("{failed} kernel hardening rule(s) neither met nor waived:\n{}", table.failures());
            if self.cfg.hardening == Level::Full {
                return Err(kerr(kimigayo_kernel::KernelError::Profile { file: label, message: format!("{msg}At --security-hardening=full every rule must be met or waived with a reason.") }));
            }
            self.progress.event(&format!("    {name}: warning: {msg}"));
        }
        Ok(())
    }

    /// The recipe's SOURCE_DATE_EPOCH (see [`BuildConfig::epoch_from_git`]).
    pub fn recipe_epoch(&self, recipe: &Recipe) -> u64 {
        if !self.cfg.epoch_from_git {
            return self.cfg.source_date_epoch;
        }
        let mut cmd = std::process::Command::new("git");
        cmd.args(["log", "-1", "--format=%ct", "--"]).arg(&recipe.dir).current_dir(&self.cfg.project_root);
        for s in &recipe.sources {
            if let Some(p) = &s.path {
                let base = recipe.dir.join(p);
                let include = inputs::cargo_relevant_include(&base, &s.include, &recipe.build.cargo_packages);
                if include.is_empty() {
                    cmd.arg(&base);
                } else {
                    cmd.args(include.iter().map(|i| base.join(i)));
                }
            }
        }
        cmd.output().ok().filter(|o| o.status.success()).and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(self.cfg.source_date_epoch)
    }

    fn build_one(&mut self, recipe: &Recipe) -> Result<Outcome, BuildError> {
        // Files the build creates outside the sandbox (unpacked sources, patched files) get
        // the same modes whatever the caller's umask; restored afterwards.
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
        let r = self.build_one_inner(recipe);
        rustix::process::umask(old);
        r
    }

    fn build_one_inner(&mut self, recipe: &Recipe) -> Result<Outcome, BuildError> {
        let start = Instant::now();
        self.epoch = self.recipe_epoch(recipe);
        let name = recipe.name().to_string();
        // 1. Sources, verified against their pins (or hashed, for repository folders).
        let mut prepared = Vec::new();
        let mut source_records = Vec::new();
        for s in &recipe.sources {
            let (local, sha, origin, file) = if let Some(p) = &s.path {
                let local = recipe.dir.join(p);
                let include = inputs::cargo_relevant_include(&local, &s.include, &recipe.build.cargo_packages);
                let sha = inputs::tree_hash(&local, &include).map_err(io_ctx(format!("hashing {}", local.display())))?;
                (local, sha, "repository".to_string(), format!("{p} (repository folder)"))
            } else {
                let (local, origin) = self.fetcher.fetch(s)?;
                (local, s.sha256.clone().unwrap(), origin.to_string(), s.file.clone().unwrap())
            };
            source_records.push(SourceRecord { name: s.name.clone(), file, sha256: sha, origin });
            prepared.push(unpack::Prepared { source: s.clone(), local });
        }
        let mut patch_records = Vec::new();
        for pt in &recipe.patches {
            let (path, sha) = match (&pt.file, &pt.source, &pt.path) {
                (Some(f), _, _) => {
                    let data = fs::read(recipe.dir.join(f)).map_err(io_ctx(format!("reading patch {f}")))?;
                    (f.clone(), kimigayo_package::sha256_hex(&data))
                }
                (None, Some(src), Some(p)) => {
                    let s = source_records.iter().find(|r| &r.name == src).expect("validated");
                    (format!("{src}:{p}"), format!("in {}", s.sha256))
                }
                _ => unreachable!("validated"),
            };
            patch_records.push(PatchRecord { path, sha256: sha, reason: pt.reason.clone() });
        }
        let kernel = self.kernel_request(recipe)?;
        let kconfig = match &kernel {
            // The command line is installed with the kernel: part of its inputs.
            Some(k) => Some(format!("{}# kernel command line: {}\n", k.merged.render(), k.cmdline.join(" "))),
            None => self.kconfig_text(recipe)?,
        };
        let toolchain = self.toolchain_identity(recipe)?;
        let cargo_set = if recipe.build.toolchain == Toolchain::Cargo { Some(self.cargo_set(recipe)?) } else { None };
        let (cflags, ldflags, linkflags) = self.flags(recipe);
        let mut all_flags = cflags.clone();
        all_flags.extend(ldflags.iter().cloned());
        all_flags.extend(linkflags.iter().cloned());
        let mut build_deps = BTreeMap::new();
        for dep in plan::needs(recipe) {
            for (pkg, (meta, _)) in &self.built {
                if meta.origin == dep {
                    build_deps.insert(format!("{pkg}-{}", meta.version), meta.checksum.sha256.clone());
                }
            }
        }
        let host_tools = match recipe.build.toolchain {
            Toolchain::None => BTreeMap::from([("coreutils".to_string(), self.host_versions.get("coreutils").cloned().unwrap_or_default())]),
            Toolchain::Cargo => {
                BTreeMap::from([("rustc".to_string(), host::rustc_identity()), ("cargo".to_string(), host::command_output("cargo", &["--version"]).unwrap_or_default())])
            }
            _ if recipe.build.kernel_profile.is_some() => {
                let mut v = self.host_versions.clone();
                v.extend(host::debian_versions(host::KERNEL_PACKAGES));
                v
            }
            _ => self.host_versions.clone(),
        };
        let recipe_files = inputs::tree_hash(&recipe.dir, &[]).map_err(io_ctx(format!("hashing {}", recipe.dir.display())))?;
        let inputs = inputs::Inputs {
            format: 1,
            recipe: name.clone(),
            recipe_sha256: kimigayo_package::sha256_hex(recipe.text.as_bytes()),
            arch: self.cfg.arch.clone(),
            hardening: self.cfg.hardening.to_string(),
            linkage: recipe.build.linkage.to_string(),
            source_date_epoch: self.epoch,
            flags: all_flags.clone(),
            sources: source_records.iter().map(|s| (s.name.clone(), s.sha256.clone())).collect(),
            patches: patch_records.iter().map(|p| (p.path.clone(), p.sha256.clone())).collect(),
            kconfig: kconfig.as_ref().map(|k| kimigayo_package::sha256_hex(k.as_bytes())),
            toolchain: toolchain.clone(),
            build_dependencies: build_deps.clone(),
            host_tools: host_tools.clone(),
            recipe_files,
            packer: kimigayo_package::archive::compressor_fingerprint(),
            cargo_set: cargo_set.as_ref().map(|(_, _, k)| k.clone()),
        };
        let key = inputs.key();
        let (builds, works, logs) = self.dirs();
        for d in [&builds, &works, &logs] {
            fs::create_dir_all(d).map_err(io_ctx(format!("creating {}", d.display())))?;
        }
        let done = builds.join(&key);
        let repo = Repository::new(&self.cfg.repo_dir);
        // Another build of the same inputs (a parallel `kimigayo` or test) finishes first.
        let _lock = lock_file(&builds.join(format!("{key}.lock")))?;

        if self.cfg.reuse && !self.cfg.force_rebuild.contains(&name) && done.join(".complete").is_file() {
            let outcome = self.publish_cached(&name, &key, &done, &repo, start, true)?;
            return Ok(outcome);
        }

        // 2. Fresh work folder, sources unpacked and patched.
        let work = tempfile::Builder::new().prefix(&format!("{name}-")).tempdir_in(&works).map_err(io_ctx("creating a work folder"))?;
        let log = logs.join(format!("{name}-{}.log", &key[..12]));
        fs::write(&log, format!("kimigayo build of {name} {} key {key}\n", recipe.full_version())).map_err(io_ctx("writing the log"))?;
        unpack::unpack_all(recipe, &prepared, work.path(), &log)?;
        if let (Some(k), None) = (&kconfig, &kernel) {
            fs::write(work.path().join("src/.config"), k).map_err(io_ctx("writing .config"))?;
        }
        let dest = work.path().join("dest");
        fs::create_dir_all(&dest).map_err(io_ctx("creating dest"))?;

        // 3. Build.
        let compiler = match recipe.build.toolchain {
            Toolchain::Cargo => {
                let (set, c, set_key) = cargo_set.as_ref().expect("computed for cargo recipes");
                let dir = self.build_cargo_set(set, c, set_key)?;
                let bin = dest.join("usr/bin");
                fs::create_dir_all(&bin).map_err(io_ctx("creating usr/bin"))?;
                for b in &recipe.build.bins {
                    fs::copy(dir.join(b), bin.join(b)).map_err(io_ctx(format!("installing {b}")))?;
                    use std::os::unix::fs::PermissionsExt;
                    fs::set_permissions(bin.join(b), fs::Permissions::from_mode(0o755)).map_err(io_ctx("chmod"))?;
                }
                if let Ok(mut f) = fs::OpenOptions::new().append(true).open(&log) {
                    use std::io::Write;
                    let _ = writeln!(f, "binaries from the cargo build {set_key} (log: {})", cargo::log_path(&self.dirs().2, &self.cfg.arch, set_key).display());
                }
                // Optional steps after the install (moving binaries, applet links), in the
                // same sandbox as any other recipe, without a compiler.
                if !recipe.build.steps.is_empty() {
                    let env = self.step_env(recipe, &[], &[], &[], false);
                    let sb = sandbox::Sandbox { work: work.path(), files: &recipe.dir, toolchain: None, env, uid: self.cfg.sandbox_uid, heartbeat: self.cfg.heartbeat };
                    let r = sb.run(&recipe.build.steps, &log, &|e| self.step_event(&name, "install", e, &log)).map_err(io_ctx("running bubblewrap"))?;
                    if let Err((idx, text)) = r {
                        return Err(BuildError::Step { component: name, step: idx + 1, text, tail: sandbox::tail(&log, 25), log });
                    }
                }
                toolchain.clone()
            }
            tc => {
                let sysroot = if tc == Toolchain::Musl { Some(self.ensure_toolchain()?) } else { None };
                let env = self.step_env(recipe, &cflags, &ldflags, &linkflags, sysroot.is_some());
                let sb = sandbox::Sandbox { work: work.path(), files: &recipe.dir, toolchain: sysroot.as_deref(), env, uid: self.cfg.sandbox_uid, heartbeat: self.cfg.heartbeat };
                if let Some(req) = &kernel {
                    self.configure_kernel(recipe, req, &sb, &log)?;
                }
                let r = sb.run(&recipe.build.steps, &log, &|e| self.step_event(&name, "step", e, &log)).map_err(io_ctx("running bubblewrap"))?;
                if let Err((idx, text)) = r {
                    return Err(BuildError::Step { component: name, step: idx + 1, text, tail: sandbox::tail(&log, 25), log });
                }
                match tc {
                    Toolchain::None => "none".to_string(),
                    _ => host::gcc_identity(&self.host_versions),
                }
            }
        };

        // 4. Audit every ELF file.
        let audit = kimigayo_audit::audit_tree(&dest).map_err(|e| BuildError::Package { component: name.clone(), message: e.to_string() })?;
        self.check_audit(recipe, &audit)?;

        // 5. Package into a staging folder, then move into the cache atomically.
        let staging = builds.join(format!("{key}.partial"));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(io_ctx("creating the staging folder"))?;
        let ours = self.built.get("musl").map(|(m, _)| format!("musl-{}", m.version));
        let libc = match (recipe.build.toolchain, ours) {
            (Toolchain::Cargo, Some(m)) => format!("musl-1.2.5 (Rust std: the libc.a bundled with Rust's musl target; C dependencies: {m} headers)"),
            (Toolchain::Cargo, None) => "musl-1.2.5 (bundled with Rust's musl target)".into(),
            (Toolchain::None, _) => "none".into(),
            (_, Some(m)) => m,
            _ => format!("musl-{}", recipe.full_version()),
        };
        let build_info = BuildInfo {
            timestamp: kimigayo_package::metadata::rfc3339(self.epoch),
            build_hash: key.clone(),
            compiler,
            flags: all_flags,
            hardening: self.cfg.hardening.to_string(),
            linkage: recipe.build.linkage.to_string(),
            target: match recipe.build.toolchain {
                Toolchain::Cargo => cargo::target(&self.cfg.arch),
                _ => format!("{}-linux-musl", self.cfg.arch),
            },
            libc,
            recipe_sha256: inputs.recipe_sha256.clone(),
            sources: source_records,
            patches: patch_records,
            build_dependencies: build_deps,
            host_tools,
        };
        let common = packaging::MetaCommon { recipe, arch: &self.cfg.arch, epoch: self.epoch, build_info };
        let produced = packaging::produce(&common, &dest, &staging);
        if let Err(e) = produced {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        fs::write(staging.join("audit.json"), serde_json::to_string_pretty(&audit).unwrap_or_default()).map_err(io_ctx("writing audit.json"))?;
        let _ = fs::copy(&log, staging.join("build.log"));
        fs::write(staging.join(".complete"), &key).map_err(io_ctx("marking the build complete"))?;
        let _ = fs::remove_dir_all(&done);
        fs::rename(&staging, &done).map_err(io_ctx(format!("moving the build into {}", done.display())))?;
        drop(work);
        self.publish_cached(&name, &key, &done, &repo, start, false)
    }

    /// A sandbox event as a progress line (steps as they start, heartbeats while they run).
    fn step_event(&self, component: &str, what: &str, e: sandbox::StepEvent<'_>, log: &Path) {
        match e {
            sandbox::StepEvent::Started { step, text } => {
                let short: String = text.lines().next().unwrap_or(text).chars().take(70).collect();
                self.progress.event(&format!("    {component} {what} {step}: {short}"));
            }
            sandbox::StepEvent::Running { step, elapsed, total_lines, .. } => {
                self.progress.event(&watch::heartbeat_line(component, &format!("{what} {step}"), elapsed, total_lines, log));
            }
        }
    }

    /// The cargo set `recipe` belongs to (see [`cargo`]), its C toolchain and its key.
    fn cargo_set(&mut self, recipe: &Recipe) -> Result<(cargo::CargoSet, cargo::CToolchain, String), BuildError> {
        let arch = self.cfg.arch.clone();
        let (members, workspace, include, packages, bins) = cargo::set_of(&self.recipes, recipe, &arch).map_err(BuildError::Recipe)?;
        let relevant = inputs::cargo_relevant_include(&workspace, &include, &packages);
        let tree = inputs::tree_hash(&workspace, &relevant).map_err(io_ctx(format!("hashing {}", workspace.display())))?;
        let epoch = members.iter().filter_map(|m| self.recipe(m)).map(|r| self.recipe_epoch(r)).max().unwrap_or(self.cfg.source_date_epoch);
        let sysroot = self.ensure_toolchain()?;
        let c = cargo::CToolchain {
            cc: toolchain::driver(&sysroot, &arch),
            ar: host::which("ar").ok_or_else(|| BuildError::MissingTools("ar (binutils) is missing: run scripts/setup.sh".into()))?,
            sysroot: sysroot.file_name().unwrap().to_string_lossy().into_owned(),
            cflags: cargo::c_flags(&kimigayo_hardening::flags(self.cfg.hardening).cflags),
        };
        let set = cargo::CargoSet { members, workspace, include, packages, bins, tree, epoch };
        let key = set.key(&arch, &c);
        Ok((set, c, key))
    }

    /// Build a cargo set once per run (or reuse it from the cache); the folder of its binaries.
    fn build_cargo_set(&mut self, set: &cargo::CargoSet, c: &cargo::CToolchain, key: &str) -> Result<PathBuf, BuildError> {
        if let Some(d) = self.cargo_sets.get(key) {
            return Ok(d.clone());
        }
        let (_, works, logs) = self.dirs();
        let reuse = self.cfg.reuse && !set.members.iter().any(|m| self.cfg.force_rebuild.contains(m));
        let label = set.label();
        let started = Instant::now();
        self.progress.event(&format!("    {label}: one cargo build of {} for {}", set.packages.join(", "), cargo::target(&self.cfg.arch)));
        let progress = self.progress;
        let r = cargo::build_set(
            set,
            &self.cfg.arch,
            c,
            &self.cfg.cache_dir.join("cargo"),
            &works.join(format!("cargo-{}", self.cfg.arch)),
            &logs,
            reuse,
            self.cfg.heartbeat,
            &|line| progress.event(&line),
        )
        .map_err(io_ctx(format!("building {label}")))?;
        let dir = r.map_err(|f| BuildError::Step { component: label.clone(), step: 1, text: f.text, tail: sandbox::tail(&f.log, 25), log: f.log })?;
        self.progress.event(&format!("    {label}: ready in {:.1}s", started.elapsed().as_secs_f64()));
        self.cargo_sets.insert(key.to_string(), dir.clone());
        Ok(dir)
    }

    fn step_env(&self, recipe: &Recipe, cflags: &[String], ldflags: &[String], linkflags: &[String], musl: bool) -> Vec<(String, String)> {
        let arch = &self.cfg.arch;
        let mut env = vec![
            ("PATH", if musl { "/toolchain/bin:/usr/bin:/bin".to_string() } else { "/usr/bin:/bin".to_string() }),
            ("HOME", "/build/home".into()),
            ("TMPDIR", "/tmp".into()),
            ("LC_ALL", "C".into()),
            ("LANG", "C".into()),
            ("TZ", "UTC".into()),
            ("SOURCE_DATE_EPOCH", self.epoch.to_string()),
            ("KCONFIG_NOTIMESTAMP", "1".into()),
            ("KBUILD_BUILD_USER", "kimigayo".into()),
            ("KBUILD_BUILD_HOST", "kimigayo".into()),
            ("ARCH", arch.clone()),
            ("TARGET", format!("{arch}-linux-musl")),
            ("JOBS", self.cfg.jobs.to_string()),
            ("DESTDIR", sandbox::DEST.into()),
            ("SRCDIR", sandbox::SRC.into()),
            ("FILESDIR", sandbox::FILES.into()),
            ("EXTRADIR", sandbox::EXTRA.into()),
            ("PKG_NAME", recipe.name().into()),
            ("PKG_VERSION", recipe.package.version.clone()),
            ("CFLAGS", cflags.join(" ")),
            ("LDFLAGS", ldflags.join(" ")),
            ("LINK_FLAGS", linkflags.join(" ")),
            ("LINKAGE", recipe.build.linkage.to_string()),
            ("HARDENING", self.cfg.hardening.to_string()),
        ];
        if recipe.build.toolchain != Toolchain::None {
            let cc = if musl { format!("{arch}-linux-musl-gcc") } else { "gcc".to_string() };
            env.push(("CC", cc));
        }
        env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn check_audit(&self, recipe: &Recipe, audit: &[kimigayo_audit::FileReport]) -> Result<(), BuildError> {
        let required = kimigayo_hardening::required(self.cfg.hardening);
        let exempt: Vec<(Protection, globset::GlobMatcher)> = recipe
            .build
            .audit_exempt
            .iter()
            .filter_map(|e| {
                let (p, g) = e.split_once(':')?;
                let prot = Protection::ALL.into_iter().find(|x| x.as_str() == p)?;
                Some((prot, globset::Glob::new(g).ok()?.compile_matcher()))
            })
            .collect();
        let mut lines = Vec::new();
        for r in audit {
            // Property 28: everything links against musl, whatever the hardening level.
            if r.libc == kimigayo_audit::Libc::Glibc {
                return Err(BuildError::Audit {
                    component: recipe.name().into(),
                    level: self.cfg.hardening,
                    failures: format!("  {}: linked against glibc ({}); Kimigayo binaries must link musl: build with $CC from the musl toolchain", r.path, r.libc_evidence),
                });
            }
            let missing: Vec<Protection> = r.failures(required).into_iter().filter(|p| !exempt.iter().any(|(ep, g)| ep == p && g.is_match(&r.path))).collect();
            for p in missing {
                let detail = r.check(p).map(|o| o.detail.clone()).unwrap_or_default();
                lines.push(format!("  {}: missing {} ({detail}) — {}", r.path, p, p.remedy()));
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        if self.cfg.hardening.audit_is_fatal() {
            Err(BuildError::Audit { component: recipe.name().into(), level: self.cfg.hardening, failures: lines.join("\n") })
        } else {
            self.progress.event(&format!("warning: {} audit findings at level {}:\n{}", recipe.name(), self.cfg.hardening, lines.join("\n")));
            Ok(())
        }
    }

    fn publish_cached(&mut self, name: &str, key: &str, done: &Path, repo: &Repository, start: Instant, reused: bool) -> Result<Outcome, BuildError> {
        let mut metas = Vec::new();
        let mut entries: Vec<PathBuf> = fs::read_dir(done).map_err(io_ctx(format!("reading {}", done.display())))?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.extension().is_some_and(|e| e == "json") && p.file_name().is_some_and(|f| f != "audit.json") {
                let text = fs::read_to_string(&p).map_err(io_ctx(format!("reading {}", p.display())))?;
                let meta: PackageMeta = serde_json::from_str(&text).map_err(|e| BuildError::Package { component: name.into(), message: format!("{}: {e}", p.display()) })?;
                let archive = done.join(&meta.filename);
                kimigayo_package::publish(repo, &archive, &meta).map_err(io_ctx(format!("publishing {} into {}", meta.filename, repo.root.display())))?;
                self.built.insert(meta.name.clone(), (meta.clone(), archive));
                metas.push(meta);
            }
        }
        let audit = fs::read_to_string(done.join("audit.json")).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        Ok(Outcome { recipe: name.to_string(), key: key.to_string(), reused, seconds: start.elapsed().as_secs_f64(), packages: metas, audit })
    }
}

/// An exclusive advisory lock held until the returned file is dropped.
pub(crate) fn lock_file(path: &Path) -> Result<fs::File, BuildError> {
    let f = fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io_ctx(format!("opening lock {}", path.display())))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).map_err(|e| BuildError::Io { context: format!("locking {}", path.display()), source: e.into() })?;
    Ok(f)
}

/// SOURCE_DATE_EPOCH: the environment's, else the time of the last git commit of `root`.
pub fn source_date_epoch(root: &Path) -> Result<u64, String> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        return v.trim().parse().map_err(|_| format!("SOURCE_DATE_EPOCH=`{v}` is not a number of seconds"));
    }
    let out = std::process::Command::new("git").args(["log", "-1", "--format=%ct"]).current_dir(root).output();
    match out {
        Ok(o) if o.status.success() && !o.stdout.is_empty() => String::from_utf8_lossy(&o.stdout).trim().parse().map_err(|e| format!("git log gave no timestamp: {e}")),
        _ => Err("cannot take SOURCE_DATE_EPOCH from git (no commit?): set SOURCE_DATE_EPOCH explicitly".into()),
    }
}

/// The configuration `make` uses for `root`, for tests and tools that must hit the same cache.
pub fn default_config(root: &Path) -> Result<BuildConfig, String> {
    let cache_dir = default_cache_dir();
    Ok(BuildConfig {
        arch: "x86_64".into(),
        hardening: Level::Full,
        jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
        source_date_epoch: source_date_epoch(root)?,
        epoch_from_git: std::env::var_os("SOURCE_DATE_EPOCH").is_none(),
        project_root: root.to_path_buf(),
        recipes_dir: root.join("recipes"),
        source_cache_dir: cache_dir.clone(),
        cache_dir,
        work_dir: None,
        sandbox_uid: None,
        repo_dir: root.join("out/repo"),
        applets_add: vec![],
        applets_remove: vec![],
        reuse: true,
        force_rebuild: vec![],
        offline: false,
        heartbeat: std::time::Duration::from_secs(15),
    })
}

/// Default cache folder: `$KIMIGAYO_CACHE_DIR`, else `$XDG_CACHE_HOME/kimigayo`, else `~/.cache/kimigayo`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("KIMIGAYO_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("kimigayo");
    }
    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache/kimigayo")
}
