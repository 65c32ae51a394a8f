//! `kimigayo bench` (what `make bench` runs): cold builds in the phases a new machine goes
//! through (fresh build cache; the hash-verified source cache is shared, so the network is
//! not measured), a warm rebuild (everything reused), and the package sizes. Prints tables; asserts nothing.
//! The init section (kimigayo-init as PID 1 vs a shell loop) is in `bench_init.rs`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, Result};
use kimigayo_build::{BuildConfig, Builder, Outcome, Progress};

#[path = "bench_init.rs"]
mod bench_init;

struct Indented;
impl Progress for Indented {
    fn event(&self, msg: &str) {
        eprintln!("  {msg}");
    }
}

fn run(cfg: &BuildConfig, wanted: &[String]) -> Result<(f64, Vec<Outcome>)> {
    let t = Instant::now();
    let mut b = Builder::new(cfg.clone(), &Indented)?;
    let out = b.build(wanted).map_err(|e| anyhow!("{e}"))?;
    Ok((t.elapsed().as_secs_f64(), out))
}

pub fn bench(mut cfg: BuildConfig) -> Result<ExitCode> {
    let fixtures = cfg.cache_dir.join("test-fixtures");
    let real = cfg.clone();
    let scratch = tempfile::Builder::new().prefix("bench-").tempdir_in(std::env::temp_dir())?;
    cfg.cache_dir = scratch.path().join("cache");
    cfg.repo_dir = scratch.path().join("repo");
    // The phases a new machine goes through, each from an empty build cache: what `make`
    // needs for the default image, then the Rust components (one cargo build), then the rest
    // of the container packages. The kernel is `make vm`'s (minutes; measured there).
    let all = Builder::new(cfg.clone(), &Indented)?.recipes;
    let spec = kimigayo_image::ImageSpec::load(&cfg.project_root.join("images/base.yaml"))?;
    let image = kimigayo_build::plan::recipes_for_packages(&all, &spec.image.packages, "images/base.yaml").map_err(|e| anyhow!(e))?;
    let rust: Vec<String> = all.iter().filter(|r| r.build.toolchain == kimigayo_recipe::Toolchain::Cargo).map(|r| r.name().to_string()).collect();
    let rest = kimigayo_build::plan::without_kernels(&all);
    let mut phases = Vec::new();
    let mut cold_out: Vec<Outcome> = Vec::new();
    for (label, wanted) in [("default image packages (cold `make`)", &image), ("Rust components (one cargo build)", &rust), ("other container packages", &rest)] {
        eprintln!("cold build: {label} ({} jobs):", cfg.jobs);
        let (secs, out) = run(&cfg, wanted)?;
        phases.push((label, secs));
        for o in out {
            if !cold_out.iter().any(|c| c.recipe == o.recipe) {
                cold_out.push(o);
            }
        }
    }
    eprintln!("warm build (unchanged inputs):");
    let (warm, warm_out) = run(&cfg, &rest)?;

    println!("\n{:<40} {:>10}", "COLD BUILD PHASE", "TIME (s)");
    for (label, secs) in &phases {
        println!("{label:<40} {secs:>10.1}");
    }
    println!("\n{:<16} {:>10} {:>10}", "COMPONENT", "COLD (s)", "WARM (s)");
    for o in &cold_out {
        let w = warm_out.iter().find(|x| x.recipe == o.recipe).map_or(0.0, |x| x.seconds);
        println!("{:<16} {:>10.1} {:>10.2}", o.recipe, o.seconds, w);
    }
    println!("{:<16} {:>10.1} {:>10.2}", "total", phases.iter().map(|p| p.1).sum::<f64>(), warm);
    println!("\n{:<18} {:<12} {:>12} {:>14}", "PACKAGE", "VERSION", "ARCHIVE (B)", "INSTALLED (B)");
    let (mut a, mut i) = (0, 0);
    for p in cold_out.iter().flat_map(|o| &o.packages) {
        println!("{:<18} {:<12} {:>12} {:>14}", p.name, p.version, p.size, p.installed_size);
        a += p.size;
        i += p.installed_size;
    }
    println!("{:<18} {:<12} {:>12} {:>14}", "total", "", a, i);
    kpkg(&cfg.repo_dir, scratch.path())?;
    crate::bench_image::bench(&cfg.project_root, &cfg.repo_dir, cfg.source_date_epoch, scratch.path())?;
    // Needs unshare(1) and root; without them the other tables still stand.
    if let Err(e) = bench_init::bench(&cfg.repo_dir, scratch.path(), &fixtures) {
        println!("\nINIT: not measured: {e:#}");
    }
    // The kernel comes from the real build cache (built once: minutes).
    if let Err(e) = crate::bench_vm::bench(&real, scratch.path()) {
        println!("\nVM BOOT: not measured: {e:#}");
    }
    Ok(ExitCode::SUCCESS)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// kpkg: resolution on a 10,000-package synthetic repository, signed index load, and an
/// install of the base set (the packages just built) into an empty root.
fn kpkg(repo: &std::path::Path, scratch: &std::path::Path) -> Result<()> {
    use kimigayo_resolve::{resolve, synthetic_universe, Problem, Request};
    let universe = synthetic_universe(10_000, 50, 7);
    let install: Vec<kimigayo_version::Constraint> = (0..20).map(|i| format!("s0-{i}").parse().unwrap()).collect();
    let problem = Problem { universe: &universe, installed: &[], world: &[], arch: "x86_64", request: Request { install, ..Request::default() } };
    let mut resolve_ms = Vec::new();
    let mut picked = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let s = resolve(&problem).map_err(|u| anyhow!(u.explanation))?;
        resolve_ms.push(t.elapsed().as_secs_f64() * 1e3);
        picked = s.install.len();
    }

    let key = kimigayo_sign::SecretKey::generate("Kimigayo bench <bench@kimigayo.invalid>", None)?;
    let now = std::time::SystemTime::now();
    let idx = kimigayo_pkg::build_index(repo, &key, 1, std::time::Duration::from_secs(3600), vec![], now)?;
    let text = std::fs::read(repo.join(kimigayo_pkg::index::INDEX))?;
    let sig = std::fs::read(repo.join(kimigayo_pkg::index::INDEX_SIG))?;
    let mut keys = kimigayo_sign::Keyring::new();
    keys.add(key.public(), "bench");
    let mut load_ms = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        kimigayo_pkg::load_index("bench", &text, &sig, &keys, now, 0)?;
        load_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }

    let base: Vec<String> = ["baselayout", "musl", "busybox"].iter().map(|s| s.to_string()).collect();
    let mut install_ms = Vec::new();
    for i in 0..5 {
        let root = scratch.join(format!("root{i}"));
        std::fs::create_dir_all(root.join(kimigayo_pkg::KEYS_DIR))?;
        std::fs::write(root.join(kimigayo_pkg::KEYS_DIR).join("bench.asc"), key.public().to_armored())?;
        std::fs::write(root.join(kimigayo_pkg::ARCH_FILE), "x86_64\n")?;
        let r = kimigayo_pkg::Root::open(&root, &[repo.display().to_string()], None)?;
        let t = Instant::now();
        r.add(&base, &kimigayo_txn::NoFaults)?;
        install_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("\n{:<52} {:>10}", "KPKG", "MEDIAN (ms)");
    println!("{:<52} {:>10.1}", format!("resolve {} packages, depth 50 ({picked} chosen)", universe.len()), median(resolve_ms));
    println!("{:<52} {:>10.2}", format!("load + verify signed index ({} packages)", idx.packages.len()), median(load_ms));
    println!("{:<52} {:>10.1}", "install baselayout+musl+busybox into an empty root", median(install_ms));

    // Image assembly from the cached packages.
    let root_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let spec = kimigayo_image::ImageSpec::load(&root_dir.join("images/base.yaml"))?;
    let mut image_ms = Vec::new();
    let mut last = None;
    for i in 0..5 {
        let t = Instant::now();
        let r = kimigayo_image::build(&spec, repo, &keys, 1_700_000_000, &scratch.join(format!("image{i}")))?;
        image_ms.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some(r);
    }
    let r = last.expect("five builds");
    println!("{:<52} {:>10.1}", "image build from cached packages (base.yaml)", median(image_ms));
    println!("\n{:<30} {:>14} {:>16}", "IMAGE", "COMPRESSED (B)", "UNCOMPRESSED (B)");
    println!("{:<30} {:>14} {:>16}", r.image, r.compressed_size, r.uncompressed_size);
    Ok(())
}
