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
    /// Check the VM's kernel, command line and sysctls against the hardening rule table
    #[command(long_about = "Evaluate kernel/rules/ARCH.toml (every rule of the kernel-hardening-checker set: KSPP,\n\
        CLIP OS, grsecurity, …, with its source) against the VM the spec describes: the `linux`\n\
        package's /boot/config-<release> and /boot/cmdline-<release>, and the sysctl files of the\n\
        root (/etc/sysctl.d/*.conf, /etc/sysctl.conf). Prints one row per rule: OK (met, or by\n\
        which alternative), WAIVED (with the reason from the rule file) or FAIL. Exit 1 when a\n\
        rule fails. --json for machines, --markdown for kernel/README.md.")]
    Check(VmCheckArgs),
}

#[derive(Args)]
pub struct VmCheckArgs {
    #[command(flatten)]
    vm: VmArgs,
    /// One JSON object per rule, in an array
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// A Markdown table (rule, source, wants, result, why)
    #[arg(long)]
    markdown: bool,
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
            println!("  cmdline    {}", if v.cmdline.is_empty() { "(none)" } else { &v.cmdline });
            let table = hardening_table(&cfg, &spec, &v)?;
            println!("  hardening  {} (details: kimigayo vm check)", table.summary());
            let failed = table.failed().count();
            if failed > 0 {
                let msg = format!("{failed} kernel hardening rule(s) neither met nor waived:\n{}", table.failures());
                if spec.build.hardening == "full" {
                    bail!("{msg}The spec asks for `build.hardening: full`: every rule must be met or waived with a reason.");
                }
                eprintln!("warning: {msg}");
            }
            println!("boot it: kimigayo vm run");
            Ok(ExitCode::SUCCESS)
        }
        VmCmd::Check(a) => {
            let (cfg, spec, out) = paths(project, &a.vm)?;
            let (_, keys) = crate::commands::repo_keys(&cfg)?;
            let scratch = tempfile::tempdir_in(out.parent().unwrap_or(&out)).or_else(|_| tempfile::tempdir())?;
            let v = kimigayo_vm::build(&spec, &cfg.repo_dir, &keys, cfg.source_date_epoch, scratch.path())?;
            let table = hardening_table(&cfg, &spec, &v)?;
            if a.json {
                let rows: Vec<serde_json::Value> = table
                    .rows
                    .iter()
                    .map(|r| {
                        let (result, detail) = match &r.status {
                            kimigayo_kernel::rules::Status::Ok(by) => ("ok", by.clone()),
                            kimigayo_kernel::rules::Status::Waived(why) => ("waived", why.clone()),
                            kimigayo_kernel::rules::Status::NotChecked => ("not_checked", String::new()),
                            kimigayo_kernel::rules::Status::Fail => ("fail", String::new()),
                        };
                        serde_json::json!({"kind": r.rule.kind.as_str(), "name": r.rule.name, "want": r.rule.want, "any": r.rule.any, "all": r.rule.all,
                            "got": r.got, "source": r.rule.source, "class": r.rule.class, "result": result, "detail": detail})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if a.markdown {
                print!("{}", table.markdown());
            } else {
                print!("{}", table.render());
            }
            Ok(if table.failed().count() > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        VmCmd::Run(a) => {
            let (_, spec, out) = paths(project, &a.vm)?;
            let stem = format!("{}-{}", spec.image.name.replace('/', "_"), spec.system.architecture);
            let mut o = kimigayo_vm::BootOptions::new(out.join(format!("{stem}.vmlinuz")), out.join(format!("{stem}.initramfs.gz")));
            o.machine = a.machine.clone();
            o.timeout = Duration::from_secs(a.timeout);
            o.marker = a.marker.clone();
            // The kernel's own command line (hardening parameters), written by `vm build`.
            if let Ok(cl) = std::fs::read_to_string(out.join(format!("{stem}.cmdline"))) {
                o.append.extend(cl.split_whitespace().map(str::to_string));
            }
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

/// The rule table of the project's kernel/rules/ARCH.toml over a built VM.
fn hardening_table(cfg: &kimigayo_build::BuildConfig, spec: &kimigayo_image::ImageSpec, v: &kimigayo_vm::VmArtifacts) -> Result<kimigayo_kernel::rules::Table> {
    let kd = kimigayo_kernel::profile::KernelDir::new(cfg.project_root.join("kernel"));
    let (label, rules) = kd.rules(&spec.system.architecture)?;
    Ok(kimigayo_vm::image::hardening(v, &label, &rules)?)
}
