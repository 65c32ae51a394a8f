//! `make bench`, VM part: time from QEMU's start to the ready marker (and to the power-off)
//! of the Kimigayo VM under software emulation, median of 5 boots per machine type, beside a
//! baseline measured in the same run — a `make tinyconfig` kernel of the same Linux tree with
//! a BusyBox `/init` that prints the marker and powers off at once (no init system, no
//! hardening). The kernel and the baseline are built with the real build cache (minutes the
//! first time, reused afterwards).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use kimigayo_build::{BuildConfig, Builder};

const RUNS: usize = 5;
const MACHINES: [&str; 2] = ["microvm", "q35"];

/// What the baseline kernel gets on top of `make tinyconfig`: a serial console, an initramfs,
/// ELF and scripts, and ACPI for the power-off — the least that boots BusyBox and stops.
const BASELINE_FRAGMENT: &str = "CONFIG_64BIT=y\nCONFIG_PRINTK=y\nCONFIG_TTY=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\n\
CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\nCONFIG_BINFMT_ELF=y\nCONFIG_BINFMT_SCRIPT=y\nCONFIG_PROC_FS=y\nCONFIG_SYSFS=y\n\
CONFIG_PCI=y\nCONFIG_ACPI=y\nCONFIG_VIRTIO_MENU=y\nCONFIG_VIRTIO_MMIO=y\n";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn sh(cmd: &str, dir: &Path) -> Result<()> {
    let out = Command::new("sh").args(["-eu", "-c", cmd]).current_dir(dir).output().with_context(|| format!("running `{cmd}`"))?;
    if !out.status.success() {
        bail!("`{cmd}` failed in {}:\n{}", dir.display(), String::from_utf8_lossy(&out.stderr).lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    Ok(())
}

/// The baseline bzImage, built once per Linux source under `<cache>/bench-baseline/`.
fn baseline_kernel(cfg: &BuildConfig) -> Result<PathBuf> {
    let recipe = kimigayo_recipe::Recipe::load(&cfg.project_root.join("recipes/linux")).map_err(|e| anyhow!("{e}"))?;
    let src = recipe.sources.first().ok_or_else(|| anyhow!("recipes/linux has no source"))?;
    let sha = src.sha256.as_deref().unwrap_or("unpinned");
    let dir = cfg.cache_dir.join("bench-baseline").join(&sha[..16.min(sha.len())]);
    let image = dir.join("arch/x86/boot/bzImage");
    if dir.join(".built").is_file() && image.is_file() {
        return Ok(image);
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let (deb, _) = kimigayo_fetch::Fetcher::new(&cfg.source_cache_dir).fetch(src).map_err(|e| anyhow!("{e}"))?;
    let inner = src.file.as_deref().and_then(|f| f.split('_').next()).unwrap_or("linux-source");
    eprintln!("baseline kernel: unpacking and building tinyconfig in {} (once; a few minutes)", dir.display());
    sh(&format!("dpkg-deb --fsys-tarfile '{}' | tar -xO ./usr/src/{inner}.tar.xz | tar -xJ --strip-components=1", deb.display()), &dir)?;
    std::fs::write(dir.join("baseline.config"), BASELINE_FRAGMENT)?;
    sh(&format!("make -s tinyconfig >/dev/null && ./scripts/kconfig/merge_config.sh -m .config baseline.config >/dev/null && make -s olddefconfig && make -s -j{} bzImage >/dev/null 2>&1", cfg.jobs), &dir)?;
    std::fs::write(dir.join(".built"), "")?;
    Ok(image)
}

/// A gzip newc initramfs: BusyBox (from the repository's package) and an `/init` that prints
/// the marker and powers off.
fn baseline_initramfs(busybox: &[u8], out: &Path, marker: &str) -> Result<()> {
    use kimigayo_oci::{Kind, LayerEntry};
    let f = |path: &str, data: Vec<u8>, mode: u32| LayerEntry { path: path.into(), kind: Kind::File(data), mode, uid: 0, gid: 0 };
    let d = |path: &str| LayerEntry { path: path.into(), kind: Kind::Dir, mode: 0o755, uid: 0, gid: 0 };
    let entries = vec![
        d("bin"),
        d("dev"),
        d("proc"),
        f("bin/busybox", busybox.to_vec(), 0o755),
        LayerEntry { path: "bin/sh".into(), kind: Kind::Symlink("busybox".into()), mode: 0o777, uid: 0, gid: 0 },
        f("init", format!("#!/bin/sh\n/bin/busybox echo {marker}\n/bin/busybox poweroff -f\n").into_bytes(), 0o755),
    ];
    std::fs::write(out, kimigayo_vm::image::initramfs(&entries, 0))?;
    Ok(())
}

fn busybox_binary(repo: &Path) -> Result<Vec<u8>> {
    let archive = std::fs::read_dir(repo.join("x86_64"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("busybox-") && n.ends_with(".tar.gz")))
        .ok_or_else(|| anyhow!("no busybox package in {}", repo.display()))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(&archive)?));
    for e in ar.entries()? {
        let mut e = e?;
        if e.path()?.to_string_lossy().trim_start_matches("./") == "bin/busybox" {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut v)?;
            return Ok(v);
        }
    }
    bail!("{} has no bin/busybox", archive.display())
}

/// Median marker and power-off times over [`RUNS`] boots.
fn boots(kernel: &Path, initramfs: &Path, machine: &str, append: &[String]) -> Result<(f64, f64)> {
    let (mut m, mut p) = (Vec::new(), Vec::new());
    for i in 0..RUNS {
        let mut o = kimigayo_vm::BootOptions::new(kernel.to_path_buf(), initramfs.to_path_buf());
        o.machine = machine.to_string();
        o.timeout = Duration::from_secs(60);
        o.append = append.to_vec();
        let r = kimigayo_vm::boot(&o)?;
        match (r.marker_after, r.exited_after) {
            (Some(a), Some(b)) if r.clean() => {
                m.push(a);
                p.push(b);
            }
            _ => bail!("{machine} boot {} of {RUNS} of {} did not reach the marker and power off:\n{}", i + 1, kernel.display(), r.console),
        }
    }
    Ok((median(m), median(p)))
}

pub fn bench(cfg: &BuildConfig, scratch: &Path) -> Result<()> {
    let mut cfg = cfg.clone();
    cfg.repo_dir = scratch.join("vm-repo");
    let wanted: Vec<String> = ["baselayout", "musl", "busybox", "kimigayo-init", "vm-ready", "linux"].iter().map(|s| s.to_string()).collect();
    eprintln!("VM: building (or reusing) the kernel and the VM packages");
    Builder::new(cfg.clone(), &kimigayo_build::Quiet)?.build(&wanted).map_err(|e| anyhow!("{e}"))?;
    let key = kimigayo_sign::SecretKey::generate("Kimigayo bench <bench@kimigayo.invalid>", None)?;
    kimigayo_pkg::build_index(&cfg.repo_dir, &key, 1, Duration::from_secs(86_400), vec![], std::time::SystemTime::now())?;
    let mut keys = kimigayo_sign::Keyring::new();
    keys.add(key.public(), "bench");
    let spec = kimigayo_image::ImageSpec::load(&cfg.project_root.join("images/vm.yaml"))?;
    let v = kimigayo_vm::build(&spec, &cfg.repo_dir, &keys, cfg.source_date_epoch, &scratch.join("vm-out"))?;
    let cmdline: Vec<String> = v.cmdline.split_whitespace().map(str::to_string).collect();
    let base_kernel = baseline_kernel(&cfg)?;
    let base_initramfs = scratch.join("baseline.initramfs.gz");
    baseline_initramfs(&busybox_binary(&cfg.repo_dir)?, &base_initramfs, "KIMIGAYO-VM-READY")?;

    println!("\n{:<52} {:>11} {:>14}", "VM BOOT (QEMU TCG, median of 5)", "MARKER (s)", "POWER-OFF (s)");
    for machine in MACHINES {
        let (m, p) = boots(&v.kernel, &v.initramfs, machine, &cmdline)?;
        println!("{:<52} {m:>11.2} {p:>14.2}", format!("Kimigayo VM (linux {}), {machine}", v.kernel_release));
        let (m, p) = boots(&base_kernel, &base_initramfs, machine, &[])?;
        println!("{:<52} {m:>11.2} {p:>14.2}", format!("baseline: tinyconfig + BusyBox /init, {machine}"));
    }
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!("{:<52} {:>11} {:>14}", "", "KERNEL (B)", "INITRAMFS (B)");
    println!("{:<52} {:>11} {:>14}", "Kimigayo VM", size(&v.kernel), size(&v.initramfs));
    println!("{:<52} {:>11} {:>14}", "baseline", size(&base_kernel), size(&base_initramfs));
    Ok(())
}
