//! Rust components: one cargo build for all of them. Every cargo recipe of an architecture
//! that compiles from the same workspace joins one *cargo set*: a single `cargo build` of the
//! union of their packages for `<arch>-unknown-linux-musl` with the size-optimised `dist`
//! profile (static-pie, stripped, LTO, panic=abort), so the shared dependency graph compiles
//! once. The set is keyed by everything that can change its binaries; its binaries are kept
//! under `<cache>/cargo/<key>/bin` and each recipe packages its own from there.
//!
//! C code in Rust dependencies (`ring`, …) compiles with the project's musl toolchain
//! (`CC_<target>` = the sysroot's driver), never a host compiler, and with the configured
//! hardening flags. Paths that differ between build folders are remapped, so the binaries
//! are bit-identical wherever they are built.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::watch;

pub fn target(arch: &str) -> String {
    format!("{arch}-unknown-linux-musl")
}

/// The musl toolchain the set's C dependencies compile with.
#[derive(Debug, Clone, Serialize)]
pub struct CToolchain {
    /// The sysroot's compiler driver (`<sysroot>/bin/<arch>-linux-musl-gcc`).
    #[serde(skip)]
    pub cc: PathBuf,
    #[serde(skip)]
    pub ar: PathBuf,
    /// The sysroot's identity (its key), hashed instead of its location.
    pub sysroot: String,
    /// Hardening flags for C code.
    pub cflags: Vec<String>,
}

/// The C flags of a hardening level that apply to C objects inside a Rust build: cc-rs adds
/// `-fPIC` itself, and switches that record the command line would record cache paths.
pub fn c_flags(level_cflags: &[String]) -> Vec<String> {
    level_cflags.iter().filter(|f| !matches!(f.as_str(), "-fPIE" | "-fno-PIE" | "-frecord-gcc-switches" | "-Wformat" | "-Werror=format-security")).cloned().collect()
}

/// One cargo invocation's worth of Rust components.
#[derive(Debug, Clone, Serialize)]
pub struct CargoSet {
    /// The recipes that share it.
    pub members: Vec<String>,
    #[serde(skip)]
    pub workspace: PathBuf,
    /// Entries of the workspace copied into the build (all of them: `--locked` needs every member).
    pub include: Vec<String>,
    pub packages: Vec<String>,
    pub bins: Vec<String>,
    /// Content hash of what the packages compile (their crates' path-dependency closure).
    pub tree: String,
    /// SOURCE_DATE_EPOCH of the build: the newest of the members'.
    pub epoch: u64,
}

#[derive(Serialize)]
struct KeyInputs<'a> {
    format: u32,
    arch: &'a str,
    set: &'a CargoSet,
    c: &'a CToolchain,
    rustc: String,
    cargo: String,
    rustflags: Vec<String>,
}

/// Flags for rustc; `src`, the cargo home and the toolchain's sysroot (whose rust-src the
/// standard library is rebuilt from) are remapped so none leaks into the output.
///
/// Size: the standard library is compiled with the set (`-Z build-std`, see [`BUILD_STD`])
/// under the same `dist` profile, with `panic=immediate-abort` — a panic (a bug) stops the
/// program at once instead of formatting a message and a backtrace, which takes the panic
/// and backtrace machinery (gimli, addr2line, miniz, the unwinder) and the unwind tables out
/// of every binary: kimigayo-init 1.36 MB → 0.83 MB (0.81 MB with packed relocations).
fn rustflags(src: &str, cargo_home: &str, sysroot: &str) -> Vec<String> {
    vec![
        format!("--remap-path-prefix={src}=/build/src"),
        format!("--remap-path-prefix={cargo_home}=/cargo"),
        format!("--remap-path-prefix={sysroot}=/rustc"),
        "-Zunstable-options".to_string(),
        "-Cpanic=immediate-abort".to_string(),
        "-Cforce-unwind-tables=no".to_string(),
        "-Ctarget-feature=+crt-static".to_string(),
        "-Crelocation-model=pie".to_string(),
        "-Clink-arg=-Wl,-z,relro,-z,now,-z,noexecstack".to_string(),
        "-Clink-arg=-Wl,--build-id=none".to_string(),
        // Relative relocations packed (DT_RELR, applied by musl's static-pie start code since
        // 1.2.4): 8 bytes per run of pointers instead of 24 per pointer.
        "-Clink-arg=-Wl,-z,pack-relative-relocs".to_string(),
    ]
}

/// cargo's arguments that rebuild the standard library with the set (nightly-only flags,
/// enabled on the stable toolchain by `RUSTC_BOOTSTRAP=1`; the sources come from the
/// toolchain's `rust-src` component, which scripts/setup.sh installs).
pub const BUILD_STD: &[&str] = &["-Zbuild-std=std,panic_abort", "-Zbuild-std-features="];

fn sysroot() -> String {
    crate::host::command_output("rustc", &["--print", "sysroot"]).unwrap_or_default()
}

fn cargo_home() -> PathBuf {
    std::env::var("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cargo"))
}

impl CargoSet {
    /// The key of the set's build: everything that can change its binaries.
    pub fn key(&self, arch: &str, c: &CToolchain) -> String {
        let k = KeyInputs {
            format: 3,
            arch,
            set: self,
            c,
            rustc: crate::host::rustc_identity(),
            cargo: crate::host::command_output("cargo", &["--version"]).unwrap_or_default(),
            rustflags: rustflags("SRC", "CARGO_HOME", "SYSROOT").into_iter().chain(BUILD_STD.iter().map(|s| s.to_string())).collect(),
        };
        hex::encode(Sha256::digest(serde_json::to_vec(&k).expect("serialisable")))
    }

    pub fn label(&self) -> String {
        format!("rust components ({})", self.members.join(", "))
    }
}

/// The log of a cargo set's build (recipe logs point at it).
pub fn log_path(logs: &Path, arch: &str, key: &str) -> PathBuf {
    logs.join(format!("cargo-{arch}-{}.log", &key[..12]))
}

/// How a set build went wrong: the log and what failed.
#[derive(Debug)]
pub struct Failed {
    pub text: String,
    pub log: PathBuf,
}

/// Build `set` (or reuse `<root>/<key>`), returning the folder holding its binaries.
/// `work` is a folder kept between builds (a stable source path and target folder, so an
/// edited crate recompiles only itself); builds of one architecture are serialised on it.
#[allow(clippy::too_many_arguments)]
pub fn build_set(
    set: &CargoSet,
    arch: &str,
    c: &CToolchain,
    root: &Path,
    work: &Path,
    logs: &Path,
    reuse: bool,
    heartbeat: Duration,
    on_beat: &dyn Fn(String),
) -> std::io::Result<Result<PathBuf, Failed>> {
    let key = set.key(arch, c);
    fs::create_dir_all(root)?;
    let done = root.join(&key);
    let _lock = crate::lock_file(&root.join(format!("{key}.lock"))).map_err(std::io::Error::other)?;
    if reuse && done.join(".complete").is_file() {
        return Ok(Ok(done.join("bin")));
    }
    let log = log_path(logs, arch, &key);
    fs::create_dir_all(logs)?;
    fs::write(&log, format!("kimigayo cargo build of {} for {arch}, key {key}\npackages: {}\n", set.members.join(", "), set.packages.join(" ")))?;

    // A stable source path (remapped in the output) with its target folder inside it.
    fs::create_dir_all(work)?;
    let _work_lock = crate::lock_file(&work.with_extension("lock")).map_err(std::io::Error::other)?;
    let src = work.join("src");
    fs::create_dir_all(&src)?;
    for e in fs::read_dir(&src)? {
        let e = e?;
        if e.file_name() != "target" {
            let p = e.path();
            if e.file_type()?.is_dir() {
                fs::remove_dir_all(&p)?;
            } else {
                fs::remove_file(&p)?;
            }
        }
    }
    let include: Vec<String> = if set.include.is_empty() {
        let mut top: Vec<String> = fs::read_dir(&set.workspace)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !matches!(n.as_str(), "target" | ".git"))
            .collect();
        top.sort();
        top
    } else {
        set.include.clone()
    };
    for inc in &include {
        let (from, to) = (set.workspace.join(inc), src.join(inc));
        if from.is_dir() {
            crate::toolchain::copy_tree(&from, &to)?;
        } else {
            fs::copy(&from, &to)?;
        }
    }
    // Build products copied along with a crate would only confuse cargo.
    for e in walkdir::WalkDir::new(&src).min_depth(1).max_depth(3).into_iter().filter_map(|e| e.ok()) {
        if e.file_type().is_dir() && e.file_name() == "target" && e.path() != src.join("target") {
            let _ = fs::remove_dir_all(e.path());
        }
    }
    let target_dir = src.join("target");
    if !reuse {
        let _ = fs::remove_dir_all(&target_dir);
    }
    let home = cargo_home();
    let sysroot = sysroot();
    let std_src = Path::new(&sysroot).join("lib/rustlib/src/rust/library/Cargo.lock");
    if !std_src.is_file() {
        let text = format!(
            "the Rust toolchain has no standard library sources ({} is missing), which the size-optimised build of the Rust components compiles: run `rustup component add rust-src` (scripts/setup.sh does)",
            std_src.display()
        );
        fs::write(&log, format!("{text}\n"))?;
        return Ok(Err(Failed { text, log }));
    }
    let t = target(arch);
    let tu = t.replace('-', "_");
    let mut cmd = Command::new("cargo");
    cmd.env_clear();
    for k in ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "RUSTUP_AUTO_INSTALL"] {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.env("CARGO_TARGET_DIR", &target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags(&src.display().to_string(), &home.display().to_string(), &sysroot).join("\x1f"))
        .env("RUSTC_BOOTSTRAP", "1")
        .env(format!("CC_{tu}"), &c.cc)
        .env(format!("AR_{tu}"), &c.ar)
        .env(format!("CFLAGS_{tu}"), c.cflags.join(" "))
        .env("SOURCE_DATE_EPOCH", set.epoch.to_string())
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("CARGO_TERM_COLOR", "never")
        .env("CARGO_TERM_PROGRESS_WHEN", "never")
        .args(["build", "--locked", "--profile", "dist", "--target", &t])
        .args(BUILD_STD)
        .current_dir(&src);
    for p in &set.packages {
        cmd.args(["-p", p]);
    }
    let logf = fs::OpenOptions::new().append(true).open(&log)?;
    let from = logf.metadata()?.len();
    cmd.stdin(Stdio::null()).stdout(logf.try_clone()?).stderr(logf);
    let mut child = cmd.spawn()?;
    let mut last = String::new();
    let status = watch::wait(&mut child, &log, from, heartbeat, &mut |tick| match tick {
        watch::Tick::Line(l) => {
            if let Some(rest) = l.trim_start().strip_prefix("Compiling ") {
                last = rest.to_string();
            }
        }
        watch::Tick::Heartbeat { elapsed, lines } => {
            let step = if last.is_empty() { "cargo build".to_string() } else { format!("cargo build (compiling {last})") };
            on_beat(watch::heartbeat_line(&set.label(), &step, elapsed, lines, &log));
        }
    })?;
    if !status.success() {
        return Ok(Err(Failed { text: format!("cargo build exited with {status}"), log }));
    }
    let out = target_dir.join(&t).join("dist");
    let staging = root.join(format!("{key}.partial"));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(staging.join("bin"))?;
    for b in &set.bins {
        fs::copy(out.join(b), staging.join("bin").join(b))?;
    }
    let _ = fs::copy(&log, staging.join("build.log"));
    fs::write(staging.join(BUILD_SCRIPTS), build_script_outputs(&target_dir))?;
    fs::write(staging.join(".complete"), &key)?;
    let _ = fs::remove_dir_all(&done);
    fs::rename(&staging, &done)?;
    Ok(Ok(done.join("bin")))
}

/// What every build script of a set build told cargo (`cargo:` lines of
/// `target/**/build/<crate>-<hash>/output`), one `<crate>-<hash>: <line>` per line, sorted: a
/// probe that answered differently (a cfg, a feature, a link flag) changes the binaries
/// without changing any source, and `kimigayo verify` names it from these files.
pub const BUILD_SCRIPTS: &str = "build-scripts.txt";

fn build_script_outputs(target_dir: &Path) -> String {
    let mut lines = Vec::new();
    for e in walkdir::WalkDir::new(target_dir).min_depth(2).max_depth(5).into_iter().filter_map(|e| e.ok()) {
        let p = e.path();
        if e.file_name() != "output" || p.parent().and_then(|d| d.parent()).and_then(|d| d.file_name()) != Some(std::ffi::OsStr::new("build")) {
            continue;
        }
        let unit = p.parent().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Ok(text) = fs::read_to_string(p) else { continue };
        for l in text.lines().filter(|l| l.starts_with("cargo:") && !l.starts_with("cargo:rerun-if") && !l.starts_with("cargo::rerun-if")) {
            // Folders of this build appear in some lines (OUT_DIR, link search paths).
            let l = l.replace(&target_dir.display().to_string(), "$TARGET");
            lines.push(format!("{unit}: {l}"));
        }
    }
    lines.sort();
    lines.dedup();
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The lines of two [`BUILD_SCRIPTS`] files that differ for a build-script unit both hold
/// (units only one side has are left out: a reused target folder keeps older units).
pub fn build_script_differences(recorded: &str, rebuilt: &str) -> Vec<String> {
    fn units(t: &str) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut m: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for l in t.lines() {
            if let Some((u, rest)) = l.split_once(": ") {
                m.entry(u).or_default().insert(rest);
            }
        }
        m
    }
    let (a, b) = (units(recorded), units(rebuilt));
    let mut out = Vec::new();
    for (u, la) in &a {
        let Some(lb) = b.get(u) else { continue };
        for l in la.difference(lb) {
            out.push(format!("{u}: recorded only: {l}"));
        }
        for l in lb.difference(la) {
            out.push(format!("{u}: rebuilt only: {l}"));
        }
    }
    out
}

/// A cargo set's shape: members, workspace folder, include list, packages, bins.
pub type SetShape = (Vec<String>, PathBuf, Vec<String>, Vec<String>, Vec<String>);

/// The members of the set `recipe` belongs to: cargo recipes for `arch` whose first source
/// is the same workspace folder. Sorted by name; packages and bins are their unions.
pub fn set_of(all: &[kimigayo_recipe::Recipe], recipe: &kimigayo_recipe::Recipe, arch: &str) -> Result<SetShape, String> {
    let ws = |r: &kimigayo_recipe::Recipe| -> Option<(PathBuf, Vec<String>)> {
        let s = r.sources.first()?;
        let p = r.dir.join(s.path.as_ref()?);
        Some((p.canonicalize().unwrap_or(p), s.include.clone()))
    };
    let (workspace, _) = ws(recipe).ok_or_else(|| format!("{}: a cargo recipe's first [[source]] must be the workspace folder (`path = ...`)", recipe.file.display()))?;
    let mut members = Vec::new();
    let mut packages = BTreeSet::new();
    let mut bins = BTreeSet::new();
    let mut include = BTreeSet::new();
    for r in all.iter().filter(|r| r.build.toolchain == kimigayo_recipe::Toolchain::Cargo && r.supports_arch(arch)) {
        if let Some((_, inc)) = ws(r).filter(|(w, _)| *w == workspace) {
            include.extend(inc);
            members.push(r.name().to_string());
            packages.extend(r.build.cargo_packages.iter().cloned());
            bins.extend(r.build.bins.iter().cloned());
        }
    }
    members.sort();
    Ok((members, workspace, include.into_iter().collect(), packages.into_iter().collect(), bins.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_script_outputs_are_collected_and_a_flipped_probe_is_named() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("target");
        let unit = target.join("x86_64-unknown-linux-musl/dist/build/rustix-0123abcd");
        fs::create_dir_all(&unit).unwrap();
        let out_dir = unit.join("out");
        fs::write(unit.join("output"), format!("cargo:rerun-if-changed=build.rs\ncargo:rustc-cfg=linux_raw\ncargo:rustc-env=OUT={}\nnoise\n", out_dir.display())).unwrap();
        let host = target.join("dist/build/serde-99");
        fs::create_dir_all(&host).unwrap();
        fs::write(host.join("output"), "cargo:rustc-cfg=no_core_error\n").unwrap();
        // Not a build script's output file.
        fs::write(target.join("output"), "cargo:rustc-cfg=bogus\n").unwrap();
        let a = build_script_outputs(&target);
        assert_eq!(
            a,
            "rustix-0123abcd: cargo:rustc-cfg=linux_raw\n\
             rustix-0123abcd: cargo:rustc-env=OUT=$TARGET/x86_64-unknown-linux-musl/dist/build/rustix-0123abcd/out\n\
             serde-99: cargo:rustc-cfg=no_core_error\n"
        );
        assert!(build_script_differences(&a, &a).is_empty());
        let flipped = a.replace("linux_raw", "libc");
        let d = build_script_differences(&a, &flipped);
        assert_eq!(d, vec!["rustix-0123abcd: recorded only: cargo:rustc-cfg=linux_raw".to_string(), "rustix-0123abcd: rebuilt only: cargo:rustc-cfg=libc".to_string()]);
        // A unit only one side holds (a reused target folder's older unit) is not a difference.
        let older = format!("{a}old-1: cargo:rustc-cfg=x\n");
        assert!(build_script_differences(&older, &a).is_empty());
    }
}
