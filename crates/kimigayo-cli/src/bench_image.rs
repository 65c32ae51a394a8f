//! The image part of `kimigayo bench`: image build time from cached packages, image sizes,
//! and — where podman runs — `podman run --rm IMAGE true` latency and the idle memory of a
//! running container, for every image profile (base, init, kpkg) and a `busybox:musl`-like
//! image (the BusyBox package alone) built the same way, with gzip (the default) and zstd
//! layer sizes side by side. Prints tables; asserts nothing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

struct Variant {
    label: &'static str,
    name: &'static str,
    profile: &'static str,
    packages: Option<&'static [&'static str]>,
}

const VARIANTS: &[Variant] = &[
    Variant { label: "kimigayo-os (default)", name: "kimigayo-bench-base", profile: "images/base.yaml", packages: None },
    Variant { label: "kimigayo-os-init", name: "kimigayo-bench-init", profile: "images/init.yaml", packages: None },
    Variant { label: "kimigayo-os-kpkg", name: "kimigayo-bench-kpkg", profile: "images/kpkg.yaml", packages: None },
    Variant { label: "busybox only (busybox:musl-like)", name: "kimigayo-bench-busybox", profile: "images/base.yaml", packages: Some(&["busybox"]) },
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn bench(project: &Path, repo: &Path, epoch: u64, scratch: &Path) -> Result<()> {
    let key = kimigayo_sign::SecretKey::generate("Kimigayo bench <bench@kimigayo.invalid>", None)?;
    kimigayo_pkg::build_index(repo, &key, 1, Duration::from_secs(86_400), vec![], std::time::SystemTime::now())?;
    let mut keys = kimigayo_sign::Keyring::new();
    keys.add(key.public(), "bench");

    println!("\n{:<34} {:>10} {:>14} {:>14} {:>18}", "IMAGE", "BUILD (ms)", "GZIP (B)", "ZSTD (B)", "UNCOMPRESSED (B)");
    let mut built = Vec::new();
    for v in VARIANTS {
        let mut spec = kimigayo_image::ImageSpec::load(&project.join(v.profile))?;
        spec.image.name = v.name.to_string();
        if let Some(p) = v.packages {
            spec.image.packages = p.iter().map(|s| s.to_string()).collect();
        }
        let mut times = Vec::new();
        let mut report = None;
        for i in 0..5 {
            let t = Instant::now();
            let r = match kimigayo_image::build(&spec, repo, &keys, epoch, &scratch.join(format!("img-{}-{i}", v.name))) {
                Ok(r) => r,
                // `--image-only` reads out/repo, which `make` fills with the default image's
                // packages only: say what is missing and how to get it, measure the rest.
                Err(e @ kimigayo_image::ImageError::Resolve(_)) if i == 0 => {
                    println!("{:<34} skipped: {e} (run `make reproducible-build` first)", v.label);
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            report = Some(r);
        }
        let Some(r) = report else { continue };
        let mut zspec = spec.clone();
        zspec.image.compression = kimigayo_image::spec::LayerCompression::Zstd;
        let z = kimigayo_image::build(&zspec, repo, &keys, epoch, &scratch.join(format!("img-{}-zstd", v.name)))?;
        println!("{:<34} {:>10.0} {:>14} {:>14} {:>18}", v.label, median(times), r.compressed_size, z.compressed_size, r.uncompressed_size);
        built.push((v, r));
    }

    if Command::new("podman").arg("--version").stdout(Stdio::null()).status().map(|s| !s.success()).unwrap_or(true) {
        println!("(podman not found: container run timings skipped)");
        return Ok(());
    }
    let conf = scratch.join("containers.conf");
    std::fs::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=20000:20000\"]\nnetns = \"none\"\n\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
    )?;
    let podman = |args: &[&str]| Command::new("podman").env("CONTAINERS_CONF", &conf).args(args).output();
    println!("\n{:<34} {:>22} {:>22}", "IMAGE", "RUN --rm true (ms, p50)", "IDLE RSS (KiB, total)");
    for (v, r) in &built {
        let o = podman(&["load", "-q", "-i", r.oci_archive.to_str().unwrap()])?;
        if !o.status.success() {
            return Err(anyhow!("podman load {}: {}", r.oci_archive.display(), String::from_utf8_lossy(&o.stderr)));
        }
        let image = format!("localhost/{}:latest", v.name);
        let _ = podman(&["run", "--rm", &image, "true"])?; // warm the storage
        let mut times = Vec::new();
        for _ in 0..11 {
            let t = Instant::now();
            let o = podman(&["run", "--rm", &image, "true"])?;
            if !o.status.success() {
                return Err(anyhow!("podman run {image} true: {}", String::from_utf8_lossy(&o.stderr)));
            }
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        // Idle: the image's default command waiting on an open stdin (a shell at its prompt;
        // for the init profile: init + the shell). The busybox-only image has no CMD.
        let cname = format!("{}-idle", v.name);
        let _ = podman(&["rm", "-f", &cname]);
        let mut args = vec!["run", "-d", "-i", "--name", &cname, &image];
        if v.packages.is_some() {
            args.extend(["/bin/sh"]);
        }
        let o = podman(&args)?;
        let rss = if o.status.success() {
            std::thread::sleep(Duration::from_millis(1500));
            let pid = String::from_utf8_lossy(&podman(&["inspect", "--format", "{{.State.Pid}}", &cname])?.stdout).trim().parse::<i32>().unwrap_or(0);
            tree_rss_kib(pid)
        } else {
            0
        };
        let _ = podman(&["rm", "-f", "-t", "0", &cname]);
        let _ = podman(&["rmi", "-f", &image]);
        println!("{:<34} {:>22.0} {:>22}", v.label, median(times), rss);
    }
    Ok(())
}

/// Sum of VmRSS over `pid` and all its descendants (host view).
fn tree_rss_kib(pid: i32) -> u64 {
    if pid <= 0 {
        return 0;
    }
    let mut parent = std::collections::BTreeMap::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
            if let Some(rest) = stat.rsplit(')').next() {
                if let Some(pp) = rest.split_whitespace().nth(1).and_then(|s| s.parse::<i32>().ok()) {
                    parent.insert(p, pp);
                }
            }
        }
    }
    let in_tree = |mut p: i32| loop {
        if p == pid {
            return true;
        }
        match parent.get(&p) {
            Some(&pp) if pp > 0 && pp != p => p = pp,
            _ => return false,
        }
    };
    parent
        .keys()
        .filter(|&&p| in_tree(p))
        .map(|p| {
            std::fs::read_to_string(format!("/proc/{p}/status"))
                .ok()
                .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse::<u64>().ok()))
                .unwrap_or(0)
        })
        .sum()
}
