//! `kimigayo vm build`: the spec's root filesystem as an initramfs plus the repository's kernel.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kimigayo_image::ImageSpec;
use kimigayo_oci::{Kind, LayerEntry};
use kimigayo_package::Repository;
use kimigayo_sign::Keyring;

use crate::cpio::{self, Device};
use crate::{io_ctx, VmError};

#[derive(Debug, Clone)]
pub struct VmArtifacts {
    pub kernel: PathBuf,
    pub kernel_release: String,
    pub initramfs: PathBuf,
    pub initramfs_size: u64,
    pub entries: usize,
    pub kernel_config: Option<String>,
    pub cmdline: String,
    pub sysctl: std::collections::BTreeMap<String, String>,
}

/// The root filesystem entries of the spec (packages verified by kimigayo-image), with
/// `/init` → `/sbin/init` for the kernel.
pub fn rootfs(spec: &ImageSpec, repo: &Path, keys: &Keyring, epoch: u64) -> Result<Vec<LayerEntry>, VmError> {
    let composed = kimigayo_image::compose(spec, repo, keys, epoch, SystemTime::now())?;
    let mut ar = tar::Archive::new(composed.layer.as_slice());
    let mut entries = Vec::new();
    let bad = |e: std::io::Error| VmError::Io { context: "reading the composed layer".into(), source: e };
    for e in ar.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let path = String::from_utf8_lossy(&e.path_bytes()).trim_end_matches('/').to_string();
        let h = e.header().clone();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(e.link_name().map_err(bad)?.map(|l| l.to_string_lossy().into_owned()).unwrap_or_default()),
            tar::EntryType::Regular => {
                let mut data = Vec::new();
                e.read_to_end(&mut data).map_err(bad)?;
                Kind::File(data)
            }
            other => return Err(VmError::Kernel(format!("{path}: tar entry type {other:?} has no initramfs form"))),
        };
        entries.push(LayerEntry { path, kind, mode: h.mode().unwrap_or(0o644) & 0o7777, uid: h.uid().unwrap_or(0) as u32, gid: h.gid().unwrap_or(0) as u32 });
    }
    if !entries.iter().any(|e| e.path == "sbin/init") {
        return Err(VmError::Kernel("the VM image has no /sbin/init: add `kimigayo-init` to image.packages".into()));
    }
    entries.retain(|e| e.path != "init");
    entries.push(LayerEntry { path: "init".into(), kind: Kind::Symlink("/sbin/init".into()), mode: 0o777, uid: 0, gid: 0 });
    Ok(entries)
}

/// The gzip-compressed newc archive of `entries` (fixed gzip header: no name, mtime 0).
pub fn initramfs(entries: &[LayerEntry], epoch: u64) -> Vec<u8> {
    let console = Device { path: "dev/console".into(), mode: 0o600, major: 5, minor: 1 };
    let raw = cpio::write(entries, &[console], epoch.min(u32::MAX as u64) as u32);
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    gz.write_all(&raw).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// What the `linux` package holds for booting and checking a kernel.
#[derive(Debug, Clone)]
pub struct KernelFiles {
    pub release: String,
    pub image: Vec<u8>,
    /// `/boot/config-<release>`.
    pub config: Option<String>,
    /// `/boot/cmdline-<release>`: the profile's command-line parameters (empty when absent).
    pub cmdline: String,
}

/// The kernel of the `linux` package in `repo` (verified like any package): its bzImage,
/// configuration and command line.
pub fn kernel(repo: &Path, keys: &Keyring, arch: &str) -> Result<KernelFiles, VmError> {
    let all = Repository::new(repo).packages().map_err(io_ctx(format!("reading {}", repo.display())))?;
    let (archive, meta) = all
        .iter()
        .filter(|(_, m)| m.name == "linux" && m.architecture == arch)
        .max_by(|a, b| a.1.version.cmp(&b.1.version))
        .ok_or_else(|| VmError::Kernel(format!("{} has no `linux` package for {arch}: run `kimigayo build linux` first", repo.display())))?;
    let bytes = std::fs::read(archive).map_err(io_ctx(format!("reading {}", archive.display())))?;
    kimigayo_pkg::stage::verify(meta, &bytes, keys, arch, SystemTime::now()).map_err(|e| VmError::Kernel(format!("{}: {e}", archive.display())))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let bad = |e: std::io::Error| VmError::Io { context: format!("reading {}", archive.display()), source: e };
    let mut files: std::collections::BTreeMap<String, Vec<u8>> = std::collections::BTreeMap::new();
    for e in ar.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if path.starts_with("boot/") && e.header().entry_type() == tar::EntryType::Regular {
            let mut data = Vec::new();
            e.read_to_end(&mut data).map_err(bad)?;
            files.insert(path, data);
        }
    }
    let (release, image) = files
        .iter()
        .find_map(|(p, d)| p.strip_prefix("boot/vmlinuz-").map(|r| (r.to_string(), d.clone())))
        .ok_or_else(|| VmError::Kernel(format!("{} holds no boot/vmlinuz-<release>", archive.display())))?;
    let text = |name: &str| files.get(&format!("boot/{name}-{release}")).map(|d| String::from_utf8_lossy(d).into_owned());
    Ok(KernelFiles { config: text("config"), cmdline: text("cmdline").unwrap_or_default().trim().to_string(), release, image })
}

/// The sysctl settings a root file system applies at boot: /etc/sysctl.d/*.conf in name
/// order, then /etc/sysctl.conf (the `sysctl` service's order; later wins).
pub fn sysctl_settings(entries: &[LayerEntry]) -> std::collections::BTreeMap<String, String> {
    let mut files: Vec<(&str, &[u8])> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::File(d) if e.path.starts_with("etc/sysctl.d/") && e.path.ends_with(".conf") && !e.path["etc/sysctl.d/".len()..].contains('/') => Some((e.path.as_str(), d.as_slice())),
            _ => None,
        })
        .collect();
    files.sort();
    files.extend(entries.iter().filter_map(|e| match &e.kind {
        Kind::File(d) if e.path == "etc/sysctl.conf" => Some((e.path.as_str(), d.as_slice())),
        _ => None,
    }));
    let mut out = std::collections::BTreeMap::new();
    for (_, d) in files {
        kimigayo_kernel::rules::parse_sysctl(&String::from_utf8_lossy(d), &mut out);
    }
    out
}

/// Write `out/NAME-ARCH.vmlinuz`, `.initramfs.gz` and `.cmdline` (the kernel's own
/// command-line parameters, which `kimigayo vm run` passes).
pub fn build(spec: &ImageSpec, repo: &Path, keys: &Keyring, epoch: u64, out: &Path) -> Result<VmArtifacts, VmError> {
    let arch = spec.system.architecture.as_str();
    let k = kernel(repo, keys, arch)?;
    let entries = rootfs(spec, repo, keys, epoch)?;
    let gz = initramfs(&entries, epoch);
    std::fs::create_dir_all(out).map_err(io_ctx(format!("creating {}", out.display())))?;
    let stem = format!("{}-{arch}", spec.image.name.replace('/', "_"));
    let kernel = out.join(format!("{stem}.vmlinuz"));
    let initramfs = out.join(format!("{stem}.initramfs.gz"));
    let cmdline_file = out.join(format!("{stem}.cmdline"));
    let cl = format!("{}\n", k.cmdline);
    for (p, b) in [(&kernel, k.image.as_slice()), (&initramfs, gz.as_slice()), (&cmdline_file, cl.as_bytes())] {
        let tmp = p.with_extension("partial");
        std::fs::write(&tmp, b).map_err(io_ctx(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, p).map_err(io_ctx(format!("writing {}", p.display())))?;
    }
    Ok(VmArtifacts {
        kernel,
        kernel_release: k.release,
        initramfs,
        initramfs_size: gz.len() as u64,
        entries: entries.len(),
        kernel_config: k.config,
        cmdline: k.cmdline,
        sysctl: sysctl_settings(&entries),
    })
}

/// The hardening rule table over a built VM: its kernel's configuration, its command line and
/// the sysctl settings of its root.
pub fn hardening(v: &VmArtifacts, label: &str, rules: &[kimigayo_kernel::rules::Rule]) -> Result<kimigayo_kernel::rules::Table, VmError> {
    let text = v.kernel_config.as_deref().ok_or_else(|| VmError::Kernel(format!("the linux package ({}) has no boot/config-{}: rebuild it with `kimigayo build linux`", v.kernel_release, v.kernel_release)))?;
    let config = kimigayo_kernel::Config::parse(text).map_err(|e| VmError::Kernel(format!("boot/config-{}: {e}", v.kernel_release)))?;
    let inputs = kimigayo_kernel::rules::Inputs {
        config,
        version: kimigayo_kernel::rules::config_version(text),
        cmdline: Some(kimigayo_kernel::rules::parse_cmdline(&v.cmdline)),
        sysctl: Some(v.sysctl.clone()),
    };
    Ok(kimigayo_kernel::rules::evaluate(label, rules, &inputs))
}
