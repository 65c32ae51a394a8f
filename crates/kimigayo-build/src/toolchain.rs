//! The musl toolchain: a sysroot assembled from the built `musl` and `musl-dev` packages,
//! the Kimigayo fortify headers, the Linux UAPI headers and a gcc specs file, plus a
//! compiler driver `bin/<arch>-linux-musl-gcc` whose `-static-pie` really makes static-pie.
//! Assembled once per input hash under `<cache>/toolchains/<key>`.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::inputs::tree_hash;

/// Binutils the driver folder exposes under the target prefix.
const BINUTILS: &[&str] = &["ar", "as", "ld", "nm", "objcopy", "objdump", "ranlib", "readelf", "strip", "strings"];

/// The Linux UAPI header folders BusyBox and friends include (from the host's linux-libc-dev).
fn uapi_dirs(arch: &str) -> Vec<(PathBuf, &'static str)> {
    let multiarch = match arch {
        "aarch64" => "aarch64-linux-gnu",
        _ => "x86_64-linux-gnu",
    };
    vec![
        (PathBuf::from("/usr/include/linux"), "linux"),
        (PathBuf::from("/usr/include/asm-generic"), "asm-generic"),
        (PathBuf::from("/usr/include/mtd"), "mtd"),
        (PathBuf::from(format!("/usr/include/{multiarch}/asm")), "asm"),
    ]
}

pub struct ToolchainSpec<'a> {
    pub arch: &'a str,
    /// musl and musl-dev package archives.
    pub archives: Vec<PathBuf>,
    /// `toolchain/` folder of the repository (fortify headers, specs and driver templates).
    pub templates: &'a Path,
    /// Debian version of linux-libc-dev (the UAPI headers' identity).
    pub uapi_version: String,
    pub gcc: String,
}

impl ToolchainSpec<'_> {
    pub fn key(&self) -> io::Result<String> {
        let mut h = Sha256::new();
        h.update(b"kimigayo-toolchain-v1\0");
        h.update(self.arch);
        for a in &self.archives {
            h.update(Sha256::digest(fs::read(a)?));
        }
        h.update(tree_hash(self.templates, &[])?);
        h.update(&self.uapi_version);
        h.update(&self.gcc);
        Ok(hex::encode(h.finalize()))
    }

    /// Assemble (or reuse) the sysroot under `root/<key>`; returns its path.
    pub fn assemble(&self, root: &Path) -> io::Result<PathBuf> {
        let key = self.key()?;
        let dir = root.join(&key);
        let lock = fs::OpenOptions::new().create(true).truncate(false).write(true).open(root.join(format!("{key}.lock")))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)?;
        if dir.join(".complete").is_file() {
            return Ok(dir);
        }
        let tmp = root.join(format!("{key}.partial"));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp)?;
        for a in &self.archives {
            let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(fs::File::open(a)?));
            ar.set_preserve_permissions(true);
            ar.unpack(&tmp)?;
        }
        let inc = tmp.join("usr/include");
        copy_tree(&self.templates.join("fortify/include"), &inc.join("fortify"))?;
        for (src, name) in uapi_dirs(self.arch) {
            if src.is_dir() {
                copy_tree(&src, &inc.join(name))?;
            }
        }
        let ldso = format!("/lib/ld-musl-{}.so.1", self.arch);
        let specs = fs::read_to_string(self.templates.join("musl-gcc.specs.in"))?.replace("@LDSO@", &ldso);
        fs::write(tmp.join("usr/lib/kimigayo-gcc.specs"), specs)?;
        let bin = tmp.join("bin");
        fs::create_dir_all(&bin)?;
        let triple = format!("{}-linux-musl", self.arch);
        let driver = fs::read_to_string(self.templates.join("x86_64-linux-musl-gcc.in"))?.replace("@GCC@", "gcc");
        let gcc = bin.join(format!("{triple}-gcc"));
        fs::write(&gcc, driver)?;
        fs::set_permissions(&gcc, fs::Permissions::from_mode(0o755))?;
        symlink(format!("{triple}-gcc"), bin.join(format!("{triple}-cc")))?;
        for tool in BINUTILS {
            if let Some(p) = crate::host::which(tool) {
                symlink(p, bin.join(format!("{triple}-{tool}")))?;
            }
        }
        fs::write(tmp.join(".complete"), key.as_bytes())?;
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&tmp, &dir)?;
        Ok(dir)
    }
}

/// Copy a folder (files, dirs, symlinks), dereferencing nothing.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    for e in walkdir::WalkDir::new(src).follow_links(false) {
        let e = e?;
        let rel = e.path().strip_prefix(src).expect("under src");
        let to = dst.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            fs::create_dir_all(&to)?;
        } else if ft.is_symlink() {
            let _ = fs::remove_file(&to);
            symlink(fs::read_link(e.path())?, &to)?;
        } else {
            fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}

/// The driver's path inside a sysroot.
pub fn driver(sysroot: &Path, arch: &str) -> PathBuf {
    sysroot.join("bin").join(format!("{arch}-linux-musl-gcc"))
}
