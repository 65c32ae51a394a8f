//! Rust components: cargo builds for `<arch>-unknown-linux-musl` with the size-optimised
//! `dist` profile (static-pie on x86_64, stripped, LTO, panic=abort). Paths that differ
//! between build folders are remapped so the binaries are bit-identical wherever they are built.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn target(arch: &str) -> String {
    format!("{arch}-unknown-linux-musl")
}

/// Build `packages` in `src` (a copy of the workspace) and return the target folder.
pub fn build(src: &Path, packages: &[String], arch: &str, epoch: u64, log: &Path) -> std::io::Result<Result<PathBuf, String>> {
    let target_dir = src.join("target");
    let cargo_home = std::env::var("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cargo")
    });
    let rustflags = [
        format!("--remap-path-prefix={}=/build/src", src.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
        "-Ctarget-feature=+crt-static".to_string(),
        "-Crelocation-model=pie".to_string(),
        "-Clink-arg=-Wl,-z,relro,-z,now,-z,noexecstack".to_string(),
        "-Clink-arg=-Wl,--build-id=none".to_string(),
    ];
    let mut cmd = Command::new("cargo");
    cmd.env_clear();
    for k in ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "RUSTUP_AUTO_INSTALL"] {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.env("CARGO_TARGET_DIR", &target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"))
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("CARGO_TERM_COLOR", "never")
        .args(["build", "--locked", "--profile", "dist", "--target", &target(arch)])
        .current_dir(src);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let logf = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    cmd.stdin(Stdio::null()).stdout(logf.try_clone()?).stderr(logf);
    let status = cmd.status()?;
    if !status.success() {
        return Ok(Err(format!("cargo build exited with {status}")));
    }
    Ok(Ok(target_dir.join(target(arch)).join("dist")))
}
