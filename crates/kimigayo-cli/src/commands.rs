//! One function per subcommand: turn arguments into library calls and render the result.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use kimigayo_build::{BuildConfig, Builder, Progress};
use kimigayo_hardening::Level;

/// Prints progress lines with the elapsed time to stderr.
struct Stderr(Instant);
impl Progress for Stderr {
    fn event(&self, msg: &str) {
        eprintln!("[{:>6.1}s] {msg}", self.0.elapsed().as_secs_f64());
    }
}

fn project_root(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p);
    }
    let mut dir = std::env::current_dir()?;
    loop {
        if dir.join("recipes").is_dir() && dir.join("toolchain").is_dir() {
            return Ok(dir);
        }
        if !dir.pop() {
            bail!("not inside a Kimigayo checkout (no recipes/ and toolchain/ found upwards); pass --project DIR");
        }
    }
}

/// `arm64` is the kernel's and the design's name for aarch64.
fn normalise_arch(a: &str) -> Result<String> {
    match a {
        "x86_64" | "amd64" => Ok("x86_64".into()),
        "arm64" | "aarch64" => Ok("aarch64".into()),
        other => bail!("unknown architecture `{other}`: use x86_64 or arm64"),
    }
}

fn source_date_epoch(root: &Path) -> Result<u64> {
    kimigayo_build::source_date_epoch(root).map_err(|e| anyhow!(e))
}

#[derive(Args, Clone)]
pub struct CommonBuild {
    /// Target architecture: x86_64 or arm64
    #[arg(long, env = "ARCH", default_value = "x86_64")]
    arch: String,
    /// Hardening level: full, basic or none
    #[arg(long = "security-hardening", alias = "hardening", env = "SECURITY_HARDENING", default_value = "full")]
    hardening: Level,
    /// Cross compiler prefix (accepted for compatibility; must match --arch)
    #[arg(long, env = "CROSS_COMPILE", default_value = "")]
    cross_compile: String,
    /// Output package repository
    #[arg(long, default_value = "out/repo")]
    repo: PathBuf,
    /// Parallel jobs inside each build
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// BusyBox applets to add (+name) or remove (-name), comma separated, e.g. -vi,+nc
    #[arg(long, env = "APPLETS", default_value = "", allow_hyphen_values = true)]
    applets: String,
    /// Use only the source cache and KIMIGAYO_SOURCE_MIRROR (no network)
    #[arg(long)]
    offline: bool,
    /// Build cache folder (default: $KIMIGAYO_CACHE_DIR, $XDG_CACHE_HOME/kimigayo, ~/.cache/kimigayo)
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

fn parse_applets(s: &str) -> Result<(Vec<String>, Vec<String>)> {
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        match item.split_at(1) {
            ("+", n) => add.push(n.to_string()),
            ("-", n) => remove.push(n.to_string()),
            _ => bail!("applet selection `{item}` needs a + (add) or - (remove) prefix, e.g. --applets=-vi,+nc"),
        }
    }
    Ok((add, remove))
}

fn check_cross(arch: &str, cross: &str) -> Result<()> {
    if cross.is_empty() {
        return Ok(());
    }
    let want = format!("{arch}-linux-musl-");
    if cross != want {
        bail!("CROSS_COMPILE=`{cross}` does not match ARCH ({arch}): use CROSS_COMPILE={want}");
    }
    Ok(())
}

pub(crate) fn build_config(project: Option<PathBuf>, c: &CommonBuild) -> Result<BuildConfig> {
    let root = project_root(project)?;
    let arch = normalise_arch(&c.arch)?;
    check_cross(&arch, &c.cross_compile)?;
    let (applets_add, applets_remove) = parse_applets(&c.applets)?;
    let cache_dir = c.cache_dir.clone().unwrap_or_else(kimigayo_build::default_cache_dir);
    let repo = if c.repo.is_absolute() { c.repo.clone() } else { root.join(&c.repo) };
    Ok(BuildConfig {
        arch,
        hardening: c.hardening,
        jobs: c.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        source_date_epoch: source_date_epoch(&root)?,
        epoch_from_git: std::env::var_os("SOURCE_DATE_EPOCH").is_none(),
        recipes_dir: root.join("recipes"),
        source_cache_dir: cache_dir.clone(),
        cache_dir,
        work_dir: None,
        sandbox_uid: None,
        repo_dir: repo,
        project_root: root,
        applets_add,
        applets_remove,
        reuse: true,
        force_rebuild: vec![],
        offline: c.offline,
        heartbeat: std::time::Duration::from_secs(15),
    })
}

// ---------------------------------------------------------------- configure

#[derive(Args)]
pub struct ConfigureArgs {
    #[command(flatten)]
    common: CommonBuild,
    /// Where to write the make configuration
    #[arg(long, default_value = "config.mk")]
    output: PathBuf,
}

pub fn configure(project: Option<PathBuf>, a: ConfigureArgs) -> Result<ExitCode> {
    let root = project_root(project)?;
    let arch = normalise_arch(&a.common.arch)?;
    check_cross(&arch, &a.common.cross_compile)?;
    parse_applets(&a.common.applets)?;
    kimigayo_recipe::load_all(&root.join("recipes")).map_err(|e| anyhow!("{e}"))?;
    let mut missing = Vec::new();
    for (t, p) in kimigayo_build::host::REQUIRED_TOOLS {
        if kimigayo_build::host::which(t).is_none() {
            missing.push(format!("  {t} (apt-get install {p})"));
        }
    }
    let make_arch = if arch == "aarch64" { "arm64" } else { "x86_64" };
    let text = format!(
        "# Written by ./configure (kimigayo configure); edit by re-running it.\n\
         ARCH ?= {make_arch}\nSECURITY_HARDENING ?= {}\nREPRODUCIBLE_BUILD ?= yes\nCROSS_COMPILE ?= {}\nAPPLETS ?= {}\n",
        a.common.hardening, a.common.cross_compile, a.common.applets
    );
    let out = if a.output.is_absolute() { a.output } else { root.join(a.output) };
    std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
    println!("configured: ARCH={make_arch} SECURITY_HARDENING={} -> {}", a.common.hardening, out.display());
    if arch != "x86_64" {
        println!("note: {arch} builds are not supported yet; `make` will stop with an explanation");
    }
    if !missing.is_empty() {
        println!("missing host tools (run scripts/setup.sh):\n{}", missing.join("\n"));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- build

#[derive(Args)]
pub struct BuildArgs {
    /// Recipes to build (default: all, unless --image is given)
    recipes: Vec<String>,
    /// Also build what this image spec's packages need (their recipes and runtime
    /// dependencies, nothing else); repeatable. `make image` builds images/base.yaml this way.
    #[arg(long = "image", value_name = "SPEC")]
    images: Vec<PathBuf>,
    #[command(flatten)]
    common: CommonBuild,
    /// Rebuild even when a cached build with identical inputs exists
    #[arg(long)]
    no_cache: bool,
    /// Print the result as JSON on stdout
    #[arg(long)]
    json: bool,
}

pub fn build(project: Option<PathBuf>, a: BuildArgs) -> Result<ExitCode> {
    let mut cfg = build_config(project, &a.common)?;
    cfg.reuse = !a.no_cache;
    let progress = Stderr(Instant::now());
    let start = Instant::now();
    let mut b = Builder::new(cfg.clone(), &progress)?;
    let mut wanted = a.recipes.clone();
    for spec in &a.images {
        let path = if spec.is_absolute() { spec.clone() } else { cfg.project_root.join(spec) };
        let s = kimigayo_image::ImageSpec::load(&path)?;
        let names = kimigayo_build::plan::recipes_for_packages(&b.recipes, &s.image.packages, &format!("{} (image.packages)", spec.display())).map_err(|e| anyhow!(e))?;
        wanted.extend(names);
    }
    wanted.sort();
    wanted.dedup();
    let outcomes = b.build(&wanted)?;
    let built: Vec<kimigayo_package::PackageMeta> = outcomes.iter().flat_map(|o| o.packages.iter().cloned()).collect();
    let index = sign_repository(&cfg, &built)?;
    progress.event(&format!("signed {} (serial {}, {} packages) with the local build key", cfg.repo_dir.join(kimigayo_pkg::index::INDEX).display(), index.serial, index.packages.len()));
    let secs = start.elapsed().as_secs_f64();
    if a.json {
        let v: Vec<_> =
            outcomes.iter().map(|o| serde_json::json!({"recipe": o.recipe, "build_hash": o.key, "reused": o.reused, "seconds": o.seconds, "packages": o.packages})).collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"seconds": secs, "repository": cfg.repo_dir, "components": v}))?);
    } else {
        let reused = outcomes.iter().filter(|o| o.reused).count();
        println!("{:<16} {:<14} {:>10} {:>12}  {}", "PACKAGE", "VERSION", "SIZE", "INSTALLED", "SHA-256");
        for o in &outcomes {
            for p in &o.packages {
                println!("{:<16} {:<14} {:>10} {:>12}  {}", p.name, p.version, p.size, p.installed_size, &p.checksum.sha256[..16]);
            }
        }
        println!("{} components in {secs:.1}s ({reused} reused from cache, {} built) -> {}", outcomes.len(), outcomes.len() - reused, cfg.repo_dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- verify

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    common: CommonBuild,
    /// Keep the rebuild folder (printed) for inspection
    #[arg(long)]
    keep: bool,
    /// Print the report as JSON on stdout
    #[arg(long)]
    json: bool,
}

pub fn verify(project: Option<PathBuf>, a: VerifyArgs) -> Result<ExitCode> {
    let cfg = build_config(project, &a.common)?;
    let progress = Stderr(Instant::now());
    std::fs::create_dir_all(&cfg.cache_dir)?;
    let scratch = tempfile::Builder::new().prefix("verify-").tempdir_in(&cfg.cache_dir)?;
    let report = kimigayo_build::verify(&cfg, scratch.path().to_path_buf(), &progress)?;
    if a.keep {
        let kept = scratch.keep();
        eprintln!("rebuild kept in {}", kept.display());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"ok": report.ok(), "packages": report.rows}))?);
    } else {
        println!("{:<28} {:<18} {:<18} RESULT", "PACKAGE", "RECORDED", "REBUILT");
        for r in &report.rows {
            let short = |s: &Option<String>| s.as_deref().map_or("-".to_string(), |x| x[..16].to_string());
            println!(
                "{:<28} {:<18} {:<18} {}",
                r.package,
                short(&r.recorded_sha256),
                short(&r.rebuilt_sha256),
                if r.identical { "identical".to_string() } else { format!("DIFFERS: {}", r.difference.as_deref().unwrap_or("")) }
            );
        }
        println!("{}", if report.ok() { "verify: every package is bit-identical" } else { "verify: MISMATCH (see above)" });
    }
    Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

// ---------------------------------------------------------------- audit

#[derive(Args)]
pub struct AuditArgs {
    /// Files or folders (a root filesystem) to audit
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Which protections are required: full, basic or none
    #[arg(long, default_value = "full")]
    level: Level,
    /// JSON output
    #[arg(long)]
    json: bool,
}

pub fn audit(a: AuditArgs) -> Result<ExitCode> {
    let required = kimigayo_hardening::required(a.level);
    let mut reports = Vec::new();
    for p in &a.paths {
        let mut r = kimigayo_audit::audit_tree(p).map_err(|e| anyhow!("{e}"))?;
        if p.is_dir() {
            for x in &mut r {
                x.path = p.join(&x.path).display().to_string();
            }
        }
        reports.extend(r);
    }
    if a.json {
        println!("{}", kimigayo_audit::render_json(&reports, required));
    } else {
        print!("{}", kimigayo_audit::render_table(&reports, required));
    }
    let failed = reports.iter().any(|r| !r.failures(required).is_empty());
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

// ---------------------------------------------------------------- fetch, recipes, toolchain, clean

#[derive(Args)]
pub struct FetchArgs {
    /// Recipes whose sources to fetch (default: all)
    recipes: Vec<String>,
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

pub fn fetch(project: Option<PathBuf>, a: FetchArgs) -> Result<ExitCode> {
    let root = project_root(project)?;
    let recipes = kimigayo_recipe::load_all(&root.join("recipes")).map_err(|e| anyhow!("{e}"))?;
    let f = kimigayo_fetch::Fetcher::new(a.cache_dir.unwrap_or_else(kimigayo_build::default_cache_dir));
    for r in recipes.iter().filter(|r| a.recipes.is_empty() || a.recipes.iter().any(|n| n == r.name())) {
        for s in r.sources.iter().filter(|s| s.file.is_some()) {
            let (path, origin) = f.fetch(s)?;
            println!("{:<16} {:<44} {} ({origin})", r.name(), s.file.as_deref().unwrap_or(""), path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct RecipesArgs {
    #[arg(long)]
    json: bool,
}

pub fn recipes(project: Option<PathBuf>, a: RecipesArgs) -> Result<ExitCode> {
    let root = project_root(project)?;
    let recipes = kimigayo_recipe::load_all(&root.join("recipes")).map_err(|e| anyhow!("{e}"))?;
    if a.json {
        let v: Vec<_> = recipes
            .iter()
            .map(|r| serde_json::json!({"name": r.name(), "version": r.full_version().to_string(), "license": r.package.license, "description": r.package.description}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for r in &recipes {
            println!("{:<16} {:<12} {:<20} {}", r.name(), r.full_version().to_string(), r.package.license, r.package.description);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ToolchainArgs {
    #[command(flatten)]
    common: CommonBuild,
}

pub fn toolchain(project: Option<PathBuf>, a: ToolchainArgs) -> Result<ExitCode> {
    let cfg = build_config(project, &a.common)?;
    let progress = Stderr(Instant::now());
    let mut b = Builder::new(cfg, &progress)?;
    b.build(&["musl".to_string()])?;
    println!("{}", b.ensure_toolchain()?.display());
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct CleanArgs {
    /// Also remove the build cache (sources stay unless --sources)
    #[arg(long)]
    cache: bool,
    /// Also remove cached sources
    #[arg(long)]
    sources: bool,
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

pub fn clean(project: Option<PathBuf>, a: CleanArgs) -> Result<ExitCode> {
    let root = project_root(project)?;
    let out = root.join("out");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
        println!("removed {}", out.display());
    }
    let cache = a.cache_dir.unwrap_or_else(kimigayo_build::default_cache_dir);
    let mut kinds = vec![];
    if a.cache {
        kinds.extend(["builds", "work", "logs", "toolchains"]);
    }
    if a.sources {
        kinds.extend(["sources", "apt"]);
    }
    for k in kinds {
        let d = cache.join(k);
        if d.exists() {
            std::fs::remove_dir_all(&d).with_context(|| format!("removing {}", d.display()))?;
            println!("removed {}", d.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    common: CommonBuild,
    /// Only the image part (build time, sizes, podman run latency, idle memory), from the
    /// packages already in --repo (no cold build)
    #[arg(long, conflicts_with = "vm_only")]
    image_only: bool,
    /// Only the VM boot table (the kernel and VM packages from the build cache, the
    /// tinyconfig + BusyBox baseline beside them)
    #[arg(long)]
    vm_only: bool,
}

pub fn bench(project: Option<PathBuf>, a: BenchArgs) -> Result<ExitCode> {
    let cfg = build_config(project, &a.common)?;
    if a.vm_only {
        let scratch = tempfile::Builder::new().prefix("bench-").tempdir()?;
        crate::bench_vm::bench(&cfg, scratch.path())?;
        return Ok(ExitCode::SUCCESS);
    }
    if a.image_only {
        let scratch = tempfile::Builder::new().prefix("bench-").tempdir()?;
        let repo = scratch.path().join("repo");
        // A copy, so the bench's signing key never touches the user's repository.
        for e in walkdir::WalkDir::new(&cfg.repo_dir) {
            let e = e?;
            let rel = e.path().strip_prefix(&cfg.repo_dir)?;
            if e.file_type().is_dir() {
                std::fs::create_dir_all(repo.join(rel))?;
            } else {
                std::fs::copy(e.path(), repo.join(rel))?;
            }
        }
        crate::bench_image::bench(&cfg.project_root, &repo, cfg.source_date_epoch, scratch.path())?;
        return Ok(ExitCode::SUCCESS);
    }
    crate::bench::bench(cfg)
}

// ---------------------------------------------------------------- image

#[derive(clap::Subcommand)]
pub enum ImageCmd {
    /// Assemble the image described by an image spec from the package repository
    #[command(long_about = "Resolve the spec's packages against the repository (out/repo), verify each archive's\n\
        SHA-256 and OpenPGP signature (the repository is signed with a local build key kept in\n\
        <cache>/keys/ when it is not signed yet), compose the root filesystem layer in memory\n\
        (no root, no container engine), and write an OCI layout, an oci-archive and a\n\
        docker-archive plus the SPDX SBOM into out/. Load with `podman load -i out/NAME-ARCH.oci.tar`.")]
    Build(ImageArgs),
    /// Per-package size breakdown of the image, compressed and uncompressed
    Size(ImageArgs),
    /// Check an image against its signed digest (and, with --rebuild, rebuild it and compare)
    #[command(long_about = "Verify the OpenPGP signature of <stem>.digest.asc over <stem>.digest, recompute the\n\
        manifest digest from the image archive itself and require it to be the signed one.\n\
        --key names the public key(s) to trust (default: the local build key, exported as\n\
        out/kimigayo-build-key.asc by `image build`). With --rebuild, the image is assembled again\n\
        from the package repository into a scratch folder and must give the same manifest digest\n\
        (`make verify-build-hash` does this after rebuilding every package).\n\
        GnuPG users: gpg --import out/kimigayo-build-key.asc && gpg --verify out/NAME.digest.asc out/NAME.digest")]
    Verify(ImageVerifyArgs),
    /// Push the image to a registry (skopeo), after checking its signed digest
    #[command(long_about = "Verify the image's signed digest (as `image verify`), then copy the oci-archive to\n\
        docker://REF with skopeo, digests preserved, and read the manifest back from the registry:\n\
        its digest must be the signed one. Pull it with `podman pull REF` / `docker pull REF`.\n\
        Registry credentials come from skopeo's usual places (`skopeo login`, REGISTRY_AUTH_FILE).")]
    Push(ImagePushArgs),
}

#[derive(Args)]
pub struct ImagePushArgs {
    /// The spec names the image (its archive in --out) to push
    #[command(flatten)]
    base: ImageArgs,
    /// An oci-archive to push instead of the spec's archive in --out
    #[arg(long)]
    image: Option<PathBuf>,
    /// Public key file(s) the signed digest is checked with (default: the local build key)
    #[arg(long)]
    key: Vec<PathBuf>,
    /// Talk to the registry over plain HTTP / without verifying its certificate (a registry on loopback)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,
    /// Where to: HOST[:PORT]/NAME[:TAG]
    reference: String,
}

#[derive(Args)]
pub struct ImageVerifyArgs {
    /// The spec names the image (its archive in --out) to verify
    #[command(flatten)]
    base: ImageArgs,
    /// An oci-archive or OCI layout to verify instead of the spec's archive in --out
    #[arg(long)]
    image: Option<PathBuf>,
    /// Public key file(s) to trust (armored or binary); repeatable
    #[arg(long)]
    key: Vec<PathBuf>,
    /// Assemble the image again from the repository and require the same manifest digest
    #[arg(long)]
    rebuild: bool,
}

#[derive(Args)]
pub struct ImageArgs {
    /// Image spec (YAML)
    #[arg(long, default_value = "images/base.yaml")]
    config: PathBuf,
    #[command(flatten)]
    common: CommonBuild,
    /// Output folder
    #[arg(long, default_value = "out")]
    out: PathBuf,
    #[arg(long)]
    json: bool,
}

/// The local build key and a keyring trusting it (what image and VM builds verify with).
pub(crate) fn repo_keys(cfg: &BuildConfig) -> Result<(kimigayo_sign::SecretKey, kimigayo_sign::Keyring)> {
    let key = build_key(&cfg.cache_dir)?;
    let mut keys = kimigayo_sign::Keyring::new();
    keys.add(key.public(), "local build key");
    Ok((key, keys))
}

/// The origin (repository name) of the repository `make` builds; images with kpkg pin it.
pub(crate) const REPO_ORIGIN: &str = "kimigayo";

/// Sign the repository with the local build key after a build. Only metadata this build
/// produced, or that an index signed by the same key already held, gets signed: a metadata
/// file edited in the folder (a setuid path, an account) is refused, never laundered into a
/// signed index. Image and VM builds then compose from the signed index alone.
pub(crate) fn sign_repository(cfg: &BuildConfig, built: &[kimigayo_package::PackageMeta]) -> Result<kimigayo_pkg::RepoIndex> {
    use kimigayo_pkg::index::unsigned;
    let (key, keys) = repo_keys(cfg)?;
    let now = std::time::SystemTime::now();
    let previous = kimigayo_pkg::read_signed_index(&cfg.repo_dir, &keys, now).ok();
    let same = |a: &kimigayo_package::PackageMeta, b: &kimigayo_package::PackageMeta| a.name == b.name && a.version == b.version && a.architecture == b.architecture;
    let on_disk = kimigayo_package::Repository::new(&cfg.repo_dir).packages().map_err(|e| anyhow!("reading {}: {e}", cfg.repo_dir.display()))?;
    for (archive, meta) in &on_disk {
        let trusted = built.iter().find(|b| same(b, meta)).or_else(|| previous.as_ref().and_then(|p| p.packages.iter().find(|b| same(b, meta))));
        if !trusted.is_some_and(|t| unsigned(t) == unsigned(meta)) {
            bail!(
                "{}: not what `kimigayo build` produced and not in the index signed by the local build key: the metadata was edited or comes from elsewhere; \
                 rebuild it (`kimigayo build {}`) or remove it (nothing was signed)",
                archive.with_extension("").with_extension("json").display(),
                meta.origin
            );
        }
    }
    // Nothing changed since the last signing (and it stays valid for a while): keep that
    // index, so its serial — which images record as their floor — and the images built from
    // it stay the same (a repository raises the serial only with a change).
    if let Some(p) = previous.as_ref() {
        let mut signed: Vec<_> = p.packages.iter().map(unsigned).collect();
        let mut now_there: Vec<_> = on_disk.iter().map(|(_, m)| unsigned(m)).collect();
        let order = |a: &kimigayo_package::PackageMeta, b: &kimigayo_package::PackageMeta| (&a.name, &a.version, &a.architecture).cmp(&(&b.name, &b.version, &b.architecture));
        signed.sort_by(order);
        now_there.sort_by(order);
        let fresh = p.expires > now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 365 * 86_400;
        if signed == now_there && p.origin == REPO_ORIGIN && fresh {
            return Ok(previous.expect("checked"));
        }
    }
    let serial = previous.map_or(1, |p| p.serial + 1);
    Ok(kimigayo_pkg::build_named_index(&cfg.repo_dir, REPO_ORIGIN, &key, serial, std::time::Duration::from_secs(3650 * 86_400), vec![], now)?)
}

/// The local build key (generated once) that signs the repository `make` builds.
pub fn build_key(cache: &Path) -> Result<kimigayo_sign::SecretKey> {
    let dir = cache.join("keys");
    let path = dir.join("build.sec");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return kimigayo_sign::SecretKey::from_armored(&text).map_err(|e| anyhow!("{}: {e}", path.display()));
    }
    std::fs::create_dir_all(&dir)?;
    let k = kimigayo_sign::SecretKey::generate("Kimigayo OS local build <build@kimigayo.invalid>", None)?;
    std::fs::write(&path, k.to_armored())?;
    std::fs::write(dir.join("build.asc"), k.public().to_armored())?;
    Ok(k)
}

pub fn image(project: Option<PathBuf>, c: ImageCmd) -> Result<ExitCode> {
    let (a, size_only) = match c {
        ImageCmd::Build(a) => (a, false),
        ImageCmd::Size(a) => (a, true),
        ImageCmd::Verify(v) => return image_verify(project, v),
        ImageCmd::Push(p) => return image_push(project, p),
    };
    let cfg = build_config(project, &a.common)?;
    let spec_path = if a.config.is_absolute() { a.config.clone() } else { cfg.project_root.join(&a.config) };
    let spec = kimigayo_image::ImageSpec::load(&spec_path)?;
    let (key, keys) = repo_keys(&cfg)?;
    let out = if a.out.is_absolute() { a.out.clone() } else { cfg.project_root.join(&a.out) };
    let t = Instant::now();
    let r = kimigayo_image::build(&spec, &cfg.repo_dir, &keys, cfg.source_date_epoch, &out)?;
    let secs = t.elapsed().as_secs_f64();
    let (digest_file, sig_file) = kimigayo_image::signature::sign(&r.oci_archive, &r.manifest_digest, &r.image, &key)?;
    std::fs::write(out.join("kimigayo-build-key.asc"), key.public().to_armored())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    if !size_only {
        println!("image {} {} ({:.2}s)", r.image, r.manifest_digest, secs);
        println!("  oci layout     {}", r.oci_layout.display());
        println!("  oci-archive    {}", r.oci_archive.display());
        println!("  docker-archive {}", r.docker_archive.display());
        println!("  sbom           {}", r.sbom.display());
        println!("  signed digest  {} ({})", digest_file.display(), sig_file.display());
    }
    println!("{:<16} {:<12} {:>12} {:>14}", "PACKAGE", "VERSION", "ARCHIVE (B)", "INSTALLED (B)");
    for p in &r.packages {
        println!("{:<16} {:<12} {:>12} {:>14}", p.name, p.version, p.archive, p.installed);
    }
    println!("image layer: {} B compressed ({}), {} B uncompressed", r.compressed_size, r.compression, r.uncompressed_size);
    Ok(ExitCode::SUCCESS)
}

fn image_push(project: Option<PathBuf>, a: ImagePushArgs) -> Result<ExitCode> {
    let b = &a.base;
    let cfg = build_config(project, &b.common)?;
    let (_, _, archive) = image_archive(&cfg, b, a.image.as_ref())?;
    let keys = trusted_keys(&cfg, &a.key)?;
    let v = kimigayo_image::signature::verify(&archive, &keys, std::time::SystemTime::now())
        .map_err(|e| anyhow!("{e}; only a signed image is pushed (build it with `kimigayo image build --config {}`)", b.config.display()))?;
    let reference = a.reference.strip_prefix("docker://").unwrap_or(&a.reference);
    if reference.is_empty() || reference.contains(char::is_whitespace) {
        bail!("`{}` is not a registry reference: give HOST[:PORT]/NAME[:TAG]", a.reference);
    }
    let dest = format!("docker://{reference}");
    let tls = format!("--dest-tls-verify={}", a.tls_verify);
    eprintln!("pushing {} ({}) to {dest}", archive.display(), v.manifest_digest);
    let o = std::process::Command::new("skopeo")
        .args(["copy", "--quiet", "--preserve-digests", &tls])
        .arg(format!("oci-archive:{}", archive.display()))
        .arg(&dest)
        .output()
        .map_err(|e| anyhow!("running skopeo: {e} (scripts/setup.sh installs it)"))?;
    if !o.status.success() {
        bail!("skopeo copy to {dest} failed: {}", String::from_utf8_lossy(&o.stderr).trim());
    }
    let tls = format!("--tls-verify={}", a.tls_verify);
    let o = std::process::Command::new("skopeo").args(["inspect", "--raw", &tls]).arg(&dest).output()?;
    if !o.status.success() {
        bail!("reading the manifest back from {dest} failed: {}", String::from_utf8_lossy(&o.stderr).trim());
    }
    let pushed = format!("sha256:{}", kimigayo_package::sha256_hex(&o.stdout));
    if pushed != v.manifest_digest {
        bail!("the registry holds manifest {pushed} for {reference}, but the signed image is {}: the registry rewrote it; do not use this copy", v.manifest_digest);
    }
    if b.json {
        println!("{}", serde_json::json!({"image": v.image, "reference": reference, "manifest_digest": pushed, "signer": v.signer}));
    } else {
        println!("pushed {reference}@{pushed} (the signed digest, signer {})", v.signer);
    }
    Ok(ExitCode::SUCCESS)
}

/// The spec (its path and contents) and the oci-archive it names in --out, or `image` instead.
fn image_archive(cfg: &BuildConfig, b: &ImageArgs, image: Option<&PathBuf>) -> Result<(PathBuf, kimigayo_image::ImageSpec, PathBuf)> {
    let spec_path = if b.config.is_absolute() { b.config.clone() } else { cfg.project_root.join(&b.config) };
    let spec = kimigayo_image::ImageSpec::load(&spec_path)?;
    let out = if b.out.is_absolute() { b.out.clone() } else { cfg.project_root.join(&b.out) };
    let archive = match image {
        Some(p) => p.clone(),
        None => out.join(format!("{}-{}.oci.tar", spec.image.name.replace('/', "_"), spec.system.architecture)),
    };
    Ok((spec_path, spec, archive))
}

/// The keys a signed image digest is checked with: the given files, else the local build key.
fn trusted_keys(cfg: &BuildConfig, files: &[PathBuf]) -> Result<kimigayo_sign::Keyring> {
    let mut keys = kimigayo_sign::Keyring::new();
    if files.is_empty() {
        keys.add(build_key(&cfg.cache_dir)?.public(), "local build key");
    }
    for k in files {
        let bytes = std::fs::read(k).map_err(|e| anyhow!("reading key {}: {e}", k.display()))?;
        for pk in kimigayo_sign::PublicKey::all_from_armored_or_binary(&bytes).map_err(|e| anyhow!("{}: {e}", k.display()))? {
            keys.add(pk, k.display().to_string());
        }
    }
    Ok(keys)
}

fn image_verify(project: Option<PathBuf>, a: ImageVerifyArgs) -> Result<ExitCode> {
    let b = &a.base;
    let cfg = build_config(project, &b.common)?;
    let (spec_path, spec, archive) = image_archive(&cfg, b, a.image.as_ref())?;
    let keys = trusted_keys(&cfg, &a.key)?;
    let v = kimigayo_image::signature::verify(&archive, &keys, std::time::SystemTime::now())?;
    let mut rebuilt = None;
    if a.rebuild {
        let scratch = tempfile::tempdir()?;
        let (_, repo_keys) = repo_keys(&cfg)?;
        let r = kimigayo_image::build(&spec, &cfg.repo_dir, &repo_keys, cfg.source_date_epoch, scratch.path())?;
        if r.manifest_digest != v.manifest_digest {
            bail!(
                "rebuilding {} from {} gives manifest {}, but the signed image is {}: the image is not reproducible from these packages \
                 (run `make verify-build-hash` to check the packages themselves, then `make image`)",
                spec_path.display(),
                cfg.repo_dir.display(),
                r.manifest_digest,
                v.manifest_digest
            );
        }
        rebuilt = Some(r.manifest_digest);
    }
    if b.json {
        println!(
            "{}",
            serde_json::json!({"image": v.image, "archive": archive, "manifest_digest": v.manifest_digest, "signer": v.signer, "key": v.key_source, "rebuilt_identical": rebuilt.is_some()})
        );
    } else {
        println!("{}: signature good (key {} from {}); manifest {}", archive.display(), v.signer, v.key_source, v.manifest_digest);
        if rebuilt.is_some() {
            println!("rebuilt from {}: identical manifest digest", cfg.repo_dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
