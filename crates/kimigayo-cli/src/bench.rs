//! `kimigayo bench` (what `make bench` runs): a cold build of every component (fresh build
//! cache; the hash-verified source cache is shared, so the network is not measured), a warm
//! rebuild (everything reused), and the package sizes. Prints tables; asserts nothing.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, Result};
use kimigayo_build::{BuildConfig, Builder, Outcome, Progress};

struct Indented;
impl Progress for Indented {
    fn event(&self, msg: &str) {
        eprintln!("  {msg}");
    }
}

fn run(cfg: &BuildConfig) -> Result<(f64, Vec<Outcome>)> {
    let t = Instant::now();
    let mut b = Builder::new(cfg.clone(), &Indented)?;
    let out = b.build(&[]).map_err(|e| anyhow!("{e}"))?;
    Ok((t.elapsed().as_secs_f64(), out))
}

pub fn bench(mut cfg: BuildConfig) -> Result<ExitCode> {
    let scratch = tempfile::Builder::new().prefix("bench-").tempdir_in(std::env::temp_dir())?;
    cfg.cache_dir = scratch.path().join("cache");
    cfg.repo_dir = scratch.path().join("repo");
    eprintln!("cold build (empty build cache, {} jobs):", cfg.jobs);
    let (cold, cold_out) = run(&cfg)?;
    eprintln!("warm build (unchanged inputs):");
    let (warm, warm_out) = run(&cfg)?;

    println!("\n{:<16} {:>10} {:>10}", "COMPONENT", "COLD (s)", "WARM (s)");
    for o in &cold_out {
        let w = warm_out.iter().find(|x| x.recipe == o.recipe).map_or(0.0, |x| x.seconds);
        println!("{:<16} {:>10.1} {:>10.2}", o.recipe, o.seconds, w);
    }
    println!("{:<16} {:>10.1} {:>10.2}", "total", cold, warm);

    println!("\n{:<18} {:<12} {:>12} {:>14}", "PACKAGE", "VERSION", "ARCHIVE (B)", "INSTALLED (B)");
    let (mut a, mut i) = (0, 0);
    for p in cold_out.iter().flat_map(|o| &o.packages) {
        println!("{:<18} {:<12} {:>12} {:>14}", p.name, p.version, p.size, p.installed_size);
        a += p.size;
        i += p.installed_size;
    }
    println!("{:<18} {:<12} {:>12} {:>14}", "total", "", a, i);
    Ok(ExitCode::SUCCESS)
}
