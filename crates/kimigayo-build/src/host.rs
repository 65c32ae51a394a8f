//! The host side of a build: required tools (each named with the apt package that provides
//! it) and the exact Debian versions of the packages a build used (property 21).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::BuildError;

/// (command, Debian package providing it)
pub const REQUIRED_TOOLS: &[(&str, &str)] = &[
    ("bwrap", "bubblewrap"),
    ("gcc", "gcc"),
    ("make", "make"),
    ("patch", "patch"),
    ("tar", "tar"),
    ("bzip2", "bzip2"),
    ("xz", "xz-utils"),
    ("strip", "binutils"),
    ("apt-get", "apt"),
    ("dpkg-query", "dpkg"),
];

/// What a kernel build (`build.kernel_profile`) needs besides the C toolchain.
pub const KERNEL_TOOLS: &[(&str, &str)] = &[("flex", "flex"), ("bison", "bison"), ("bc", "bc"), ("dpkg-deb", "dpkg"), ("lz4", "lz4")];

/// Recorded in kernel builds' metadata in addition to [`RECORDED_PACKAGES`] (objtool links libelf;
/// the GCC plugins — stackleak, latent entropy — are built against gcc-12-plugin-dev).
pub const KERNEL_PACKAGES: &[&str] = &["flex", "bison", "bc", "libelf-dev", "dpkg", "gcc-12-plugin-dev", "lz4"];

/// Debian packages whose versions are recorded in every C build's metadata.
pub const RECORDED_PACKAGES: &[&str] = &[
    "gcc-12", "cpp-12", "binutils", "make", "linux-libc-dev", "bubblewrap", "patch", "tar", "bzip2",
    "xz-utils", "gzip", "coreutils", "dash", "sed", "grep", "mawk", "findutils", "diffutils",
];

pub fn which(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| p.is_file())
}

/// Fail with one line per missing tool, naming the apt package to install.
pub fn check_tools(extra: &[(&str, &str)]) -> Result<(), BuildError> {
    let missing: Vec<String> = REQUIRED_TOOLS
        .iter()
        .chain(extra)
        .filter(|(t, _)| which(t).is_none())
        .map(|(t, p)| format!("missing host tool `{t}`: install it with `apt-get install {p}` (or run scripts/setup.sh)"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(BuildError::MissingTools(missing.join("\n")))
    }
}

/// Kernel builds use GCC plugins (stackleak, latent entropy): gcc's plugin headers must be
/// installed, or Kconfig silently drops the plugins (the hardening check would then fail late).
pub fn check_gcc_plugins() -> Result<(), BuildError> {
    let dir = command_output("gcc", &["-print-file-name=plugin"]).unwrap_or_default();
    if Path::new(dir.trim()).join("include/plugin-version.h").is_file() {
        return Ok(());
    }
    Err(BuildError::MissingTools(format!(
        "gcc's plugin headers are missing ({}/include/plugin-version.h): the kernel's GCC plugins need them; install them with `apt-get install gcc-12-plugin-dev` (or run scripts/setup.sh)",
        dir.trim()
    )))
}

/// `package` → installed Debian version, for the packages that are installed.
pub fn debian_versions(packages: &[&str]) -> BTreeMap<String, String> {
    let out = Command::new("dpkg-query").arg("-W").arg("-f=${Package}\t${Version}\t${db:Status-Abbrev}\n").args(packages).output();
    let mut m = BTreeMap::new();
    if let Ok(out) = out {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() == 3 && f[2].starts_with("ii") {
                m.insert(f[0].to_string(), f[1].to_string());
            }
        }
    }
    m
}

pub fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `gcc-12.2.0 (Debian 12.2.0-14+deb12u1)`.
pub fn gcc_identity(versions: &BTreeMap<String, String>) -> String {
    let v = command_output("gcc", &["-dumpfullversion"]).unwrap_or_else(|| "unknown".into());
    match versions.get("gcc-12") {
        Some(deb) => format!("gcc-{v} (Debian {deb})"),
        None => format!("gcc-{v}"),
    }
}

/// `rustc 1.95.0 (59807616e 2026-04-14)`.
pub fn rustc_identity() -> String {
    command_output("rustc", &["--version"]).unwrap_or_else(|| "rustc unknown".into())
}

pub fn rust_target_installed(target: &str) -> bool {
    command_output("rustc", &["--print", "target-libdir", "--target", target])
        .is_some_and(|d| Path::new(&d).join("self-contained").is_dir() || Path::new(&d).is_dir() && Path::new(&d).read_dir().map(|mut r| r.next().is_some()).unwrap_or(false))
}
