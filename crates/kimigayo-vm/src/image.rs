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

/// The bzImage of the `linux` package in `repo` (verified like any package) and its release.
pub fn kernel(repo: &Path, keys: &Keyring, arch: &str) -> Result<(String, Vec<u8>), VmError> {
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
    for e in ar.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if let Some(release) = path.strip_prefix("boot/vmlinuz-") {
            if e.header().entry_type() == tar::EntryType::Regular {
                let mut data = Vec::new();
                e.read_to_end(&mut data).map_err(bad)?;
                return Ok((release.to_string(), data));
            }
        }
    }
    Err(VmError::Kernel(format!("{} holds no boot/vmlinuz-<release>", archive.display())))
}

/// Write `out/NAME-ARCH.vmlinuz` and `out/NAME-ARCH.initramfs.gz`.
pub fn build(spec: &ImageSpec, repo: &Path, keys: &Keyring, epoch: u64, out: &Path) -> Result<VmArtifacts, VmError> {
    let arch = spec.system.architecture.as_str();
    let (release, bz) = kernel(repo, keys, arch)?;
    let entries = rootfs(spec, repo, keys, epoch)?;
    let gz = initramfs(&entries, epoch);
    std::fs::create_dir_all(out).map_err(io_ctx(format!("creating {}", out.display())))?;
    let stem = format!("{}-{arch}", spec.image.name.replace('/', "_"));
    let kernel = out.join(format!("{stem}.vmlinuz"));
    let initramfs = out.join(format!("{stem}.initramfs.gz"));
    for (p, b) in [(&kernel, &bz), (&initramfs, &gz)] {
        let tmp = p.with_extension("partial");
        std::fs::write(&tmp, b).map_err(io_ctx(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, p).map_err(io_ctx(format!("writing {}", p.display())))?;
    }
    Ok(VmArtifacts { kernel, kernel_release: release, initramfs, initramfs_size: gz.len() as u64, entries: entries.len() })
}
