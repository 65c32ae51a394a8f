//! `kimigayo vm build|run`: a bootable VM (kernel + initramfs) from the repository, and a
//! QEMU boot that waits for the ready marker and the power-off.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;

use crate::commands::{build_config, CommonBuild};

#[derive(clap::Subcommand)]
pub enum VmCmd {
    /// Compose the VM's initramfs from an image spec and take the kernel from the repository
    #[command(long_about = "Resolve the spec's packages (default images/vm.yaml: baselayout, musl, busybox,\n\
        kimigayo-init, vm-ready) against the repository, verify every archive, and write the root\n\
        filesystem as a deterministic gzip-compressed newc cpio with /init -> /sbin/init\n\
        (kimigayo-init in VM mode), plus the bzImage of the `linux` package:\n\
        out/NAME-ARCH.initramfs.gz and out/NAME-ARCH.vmlinuz. Build the packages first\n\
        (`kimigayo build`, which includes the kernel).")]
    Build(VmArgs),
    /// Boot the VM under QEMU and wait for its ready marker and power-off
    #[command(long_about = "Boot out/NAME-ARCH.vmlinuz + .initramfs.gz with qemu-system-x86_64 in software emulation\n\
        (-M q35 by default, serial console on stdout, -no-reboot, panic=-1), wait for the\n\
        marker (default KIMIGAYO-VM-READY, printed by the vm-ready service) and for the guest to\n\
        power the machine off. Exit 0 when both happen within --timeout; otherwise 1, with the\n\
        console output. --console prints the console as it was captured.")]
    Run(VmRunArgs),
}

#[derive(Args)]
pub struct VmArgs {
    /// Image spec (YAML) of the VM's root filesystem
    #[arg(long, default_value = "images/vm.yaml")]
    config: PathBuf,
    #[command(flatten)]
    common: CommonBuild,
    /// Output folder
    #[arg(long, default_value = "out")]
    out: PathBuf,
}

#[derive(Args)]
pub struct VmRunArgs {
    #[command(flatten)]
    vm: VmArgs,
    /// QEMU machine: q35 (reliable) or microvm (faster; can hang in TSC calibration on a busy host)
    #[arg(long, default_value = "q35")]
    machine: String,
    /// Seconds to wait for the marker and the power-off
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    #[arg(long, default_value = "KIMIGAYO-VM-READY")]
    marker: String,
    /// Print the whole console output
    #[arg(long)]
    console: bool,
}

fn paths(project: Option<PathBuf>, a: &VmArgs) -> Result<(kimigayo_build::BuildConfig, kimigayo_image::ImageSpec, PathBuf)> {
    let cfg = build_config(project, &a.common)?;
    let spec_path = if a.config.is_absolute() { a.config.clone() } else { cfg.project_root.join(&a.config) };
    let spec = kimigayo_image::ImageSpec::load(&spec_path)?;
    let out = if a.out.is_absolute() { a.out.clone() } else { cfg.project_root.join(&a.out) };
    Ok((cfg, spec, out))
}

pub fn vm(project: Option<PathBuf>, c: VmCmd) -> Result<ExitCode> {
    match c {
        VmCmd::Build(a) => {
            let (cfg, spec, out) = paths(project, &a)?;
            let (_, keys) = crate::commands::repo_keys(&cfg)?;
            let t = Instant::now();
            let v = kimigayo_vm::build(&spec, &cfg.repo_dir, &keys, cfg.source_date_epoch, &out)?;
            println!("vm {} ({:.2}s)", spec.image.name, t.elapsed().as_secs_f64());
            println!("  kernel     {} (linux {})", v.kernel.display(), v.kernel_release);
            println!("  initramfs  {} ({} entries, {} B gzip)", v.initramfs.display(), v.entries, v.initramfs_size);
            println!("boot it: kimigayo vm run");
            Ok(ExitCode::SUCCESS)
        }
        VmCmd::Run(a) => {
            let (_, spec, out) = paths(project, &a.vm)?;
            let stem = format!("{}-{}", spec.image.name.replace('/', "_"), spec.system.architecture);
            let mut o = kimigayo_vm::BootOptions::new(out.join(format!("{stem}.vmlinuz")), out.join(format!("{stem}.initramfs.gz")));
            o.machine = a.machine.clone();
            o.timeout = Duration::from_secs(a.timeout);
            o.marker = a.marker.clone();
            let r = kimigayo_vm::boot(&o)?;
            if a.console {
                print!("{}", r.console);
            }
            match (r.marker_after, r.exited_after) {
                (Some(m), Some(e)) if r.clean() => {
                    println!("{}: marker `{}` after {m:.2}s, powered off after {e:.2}s (qemu exit 0)", a.machine, a.marker);
                    Ok(ExitCode::SUCCESS)
                }
                _ => {
                    if !a.console {
                        eprintln!("{}", r.console);
                    }
                    bail!(
                        "{}: the VM did not reach `{}` and power off within {}s (marker: {:?}, qemu exit: {:?}); the console is above",
                        a.machine, a.marker, a.timeout, r.marker_after, r.exit_status
                    )
                }
            }
        }
    }
}
