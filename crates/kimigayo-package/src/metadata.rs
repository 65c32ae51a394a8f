//! Package metadata: the design's JSON data model (name, version, architecture,
//! dependencies, conflicts, size, checksum, build_info) plus the fields a package manager
//! and an auditor need (release, license, provides, the recorded build inputs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// SHA-256 of the archive file.
    pub sha256: String,
    /// Armored OpenPGP detached signature over the archive, once the repository is signed.
    #[serde(default)]
    pub gpg_signature: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub name: String,
    /// File name (fetched sources) or repository path (`path` sources).
    pub file: String,
    pub sha256: String,
    /// Where the verified bytes came from on this build (`cache`, `mirror`, `debian:trixie`, a URL, `repository`).
    #[serde(skip)]
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchRecord {
    pub path: String,
    pub sha256: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Everything that went into the build (property 21) and the flags it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// SOURCE_DATE_EPOCH as RFC 3339 UTC.
    pub timestamp: String,
    /// Hash of every build input (the build cache key).
    pub build_hash: String,
    /// Compiler identity (`gcc-12.2.0 (Debian 12.2.0-14+deb12u1)`, `rustc 1.95.0`, `none`).
    pub compiler: String,
    pub flags: Vec<String>,
    pub hardening: String,
    pub linkage: String,
    /// Target triple, e.g. `x86_64-linux-musl`.
    pub target: String,
    /// The C library and version linked against (`musl-1.2.5-r1`).
    pub libc: String,
    pub recipe_sha256: String,
    pub sources: Vec<SourceRecord>,
    pub patches: Vec<PatchRecord>,
    /// Packages of other recipes the build used (`musl-dev-1.2.5-r1` → archive sha256).
    pub build_dependencies: BTreeMap<String, String>,
    /// Host tools and their Debian package versions (`gcc-12` → `12.2.0-14+deb12u1`).
    pub host_tools: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageMeta {
    pub name: String,
    /// `upstream-rN`.
    pub version: String,
    /// `x86_64`, `aarch64` or `noarch`.
    pub architecture: String,
    pub dependencies: Vec<String>,
    pub conflicts: Vec<String>,
    #[serde(default)]
    pub provides: Vec<String>,
    /// Archive size in bytes.
    pub size: u64,
    pub installed_size: u64,
    pub license: String,
    pub description: String,
    /// The recipe this package was built from.
    pub origin: String,
    /// Archive file name in the repository folder.
    pub filename: String,
    pub checksum: Checksum,
    pub build_info: BuildInfo,
    /// Accounts the package needs; the package manager adds the missing ones to
    /// etc/passwd, etc/group and etc/shadow (no scripts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserDecl>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupDecl>,
    /// Ownership and modes of packaged paths (the archive itself is all root:root); the only
    /// way to ship a setuid/setgid file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathDecl>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDecl {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    #[serde(default = "default_home")]
    pub home: String,
    #[serde(default = "default_shell")]
    pub shell: String,
    #[serde(default)]
    pub gecos: String,
}

fn default_home() -> String {
    "/".into()
}

fn default_shell() -> String {
    "/sbin/nologin".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDecl {
    pub name: String,
    pub gid: u32,
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathDecl {
    /// Path inside the package, relative (`home/nonroot`).
    pub path: String,
    /// Octal mode string, e.g. "0750" or "4755".
    pub mode: String,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
}

impl PathDecl {
    pub fn mode_bits(&self) -> Option<u32> {
        u32::from_str_radix(self.mode.trim_start_matches("0o"), 8).ok().filter(|m| *m <= 0o7777)
    }
}

impl PackageMeta {
    /// `name-version.arch` (the stem of both repository files).
    pub fn stem(name: &str, version: &str, arch: &str) -> String {
        format!("{name}-{version}.{arch}")
    }

    /// Canonical JSON: pretty, keys in declaration order, trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("metadata serialises");
        s.push('\n');
        s
    }
}

/// RFC 3339 for a UNIX time, UTC (no date crate needed for this one conversion).
pub fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_known_points() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
