//! The Debian source archive as an origin: `apt-get source --download-only` driven by a
//! private apt configuration under `<cache>/apt` (sources list, lists, caches), so the host's
//! apt setup is neither read for sources nor modified.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use kimigayo_recipe::{DebianOrigin, Source};

use crate::{io_ctx, sha256_file, FetchError, Fetcher};

const ARCHIVE: &str = "http://deb.debian.org/debian";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

fn apt_opts(root: &Path) -> Vec<String> {
    vec![
        format!("-oDir::Etc::SourceList={}", root.join("sources.list").display()),
        "-oDir::Etc::SourceParts=/dev/null".into(),
        format!("-oDir::State::Lists={}", root.join("lists").display()),
        format!("-oDir::Cache={}", root.join("cache").display()),
        "-oAPT::Sandbox::User=root".into(),
        "-oAcquire::Retries=3".into(),
        // Every file is pinned by SHA-256 in its recipe: the Release file's signature still
        // authenticates the lists, but an archive snapshot whose Release has passed its
        // Valid-Until date (mirrors that lag, frozen snapshots) must not stop a build.
        "-oAcquire::Check-Valid-Until=false".into(),
        "-qq".into(),
    ]
}

fn origin_err(src: &Source, message: String) -> FetchError {
    FetchError::Origin { name: src.name.clone(), message }
}

/// Make sure `<cache>/apt/<suite>` has fresh (< 1 day) source lists for the suite.
fn prepare(f: &Fetcher, src: &Source, suite: &str) -> Result<PathBuf, FetchError> {
    let root = f.cache_dir.join("apt").join(suite);
    let stamp = root.join("updated");
    let fresh = fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < Duration::from_secs(86_400));
    if fresh {
        return Ok(root);
    }
    for d in ["lists/partial", "cache/archives/partial"] {
        fs::create_dir_all(root.join(d)).map_err(io_ctx(format!("creating {}", root.join(d).display())))?;
    }
    if !Path::new(KEYRING).is_file() {
        return Err(origin_err(src, format!("{KEYRING} is missing: install the debian-archive-keyring package")));
    }
    let line = format!("deb-src [signed-by={KEYRING}] {ARCHIVE} {suite} main\n");
    fs::write(root.join("sources.list"), line).map_err(io_ctx("writing the private apt sources list"))?;
    let out = Command::new("apt-get")
        .args(apt_opts(&root))
        .arg("update")
        .output()
        .map_err(|e| origin_err(src, format!("cannot run apt-get ({e}): install the apt package")))?;
    if !out.status.success() {
        return Err(origin_err(src, format!("apt-get update for {suite} failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    fs::write(&stamp, b"").map_err(io_ctx("writing apt stamp"))?;
    Ok(root)
}

/// The `Checksums-Sha256` entry for `file` in a `.dsc`.
pub(crate) fn dsc_sha256(dsc: &str, file: &str) -> Option<String> {
    let mut in_block = false;
    for line in dsc.lines() {
        if line.starts_with("Checksums-Sha256:") {
            in_block = true;
            continue;
        }
        if in_block {
            if !line.starts_with(' ') {
                break;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.len() == 3 && parts[2] == file {
                return Some(parts[0].to_string());
            }
        }
    }
    None
}

/// Download `file` of the Debian source package into a temporary folder; returns the folder and suite.
pub(crate) fn download(f: &Fetcher, src: &Source, d: &DebianOrigin, file: &str) -> Result<(tempfile::TempDir, PathBuf, String), FetchError> {
    let mut errors = Vec::new();
    for suite in &d.suites {
        let root = match prepare(f, src, suite) {
            Ok(r) => r,
            Err(FetchError::Origin { message, .. }) => {
                errors.push(message);
                continue;
            }
            Err(e) => return Err(e),
        };
        let tmp = tempfile::tempdir_in(&f.cache_dir).map_err(io_ctx("creating a download folder"))?;
        let out = Command::new("apt-get")
            .args(apt_opts(&root))
            .args(["source", "--download-only"])
            .arg(format!("{}={}", d.package, d.version))
            .current_dir(tmp.path())
            .output()
            .map_err(|e| origin_err(src, format!("cannot run apt-get: {e}")))?;
        if !out.status.success() {
            errors.push(format!("{suite}: {}", String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("apt-get source failed")));
            continue;
        }
        let version_no_epoch = d.version.split_once(':').map_or(d.version.as_str(), |(_, v)| v);
        let dsc_path = tmp.path().join(format!("{}_{}.dsc", d.package, version_no_epoch));
        let dsc = fs::read_to_string(&dsc_path)
            .map_err(|e| origin_err(src, format!("{suite}: apt-get fetched no {} ({e})", dsc_path.display())))?;
        let listed = dsc_sha256(&dsc, file)
            .ok_or_else(|| origin_err(src, format!("{suite}: `{file}` is not listed in {}", dsc_path.display())))?;
        let path = tmp.path().join(file);
        let actual = sha256_file(&path).map_err(io_ctx(format!("reading {}", path.display())))?;
        if actual != listed {
            return Err(FetchError::Mismatch {
                name: src.name.clone(),
                file: file.to_string(),
                origin: format!("debian:{suite} (against its .dsc)"),
                expected: listed,
                actual,
            });
        }
        // The recipe's pin is checked by the caller while storing into the cache.
        return Ok((tmp, path, suite.clone()));
    }
    Err(origin_err(src, errors.join("; ")))
}

