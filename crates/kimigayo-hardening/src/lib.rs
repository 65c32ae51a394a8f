//! Security-hardening levels (`--security-hardening=full|basic|none`).
//!
//! This crate owns the single mapping from a level to (a) the compiler and linker flags every
//! C component is built with and (b) the protections the ELF audit demands of the result.
//! It is pure data: no I/O, so the build, the audit and the tests all read the same table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How hard a build is hardened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// PIE/static-pie, SSP strong, FORTIFY_SOURCE=2, full RELRO, non-exec stack. Failing audit fails the build.
    Full,
    /// PIE/static-pie, SSP strong, partial RELRO, non-exec stack. Audit failures are warnings.
    Basic,
    /// No hardening flags at all (for comparison and debugging). Audit only reports.
    None,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Full, Level::Basic, Level::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Full => "full",
            Level::Basic => "basic",
            Level::None => "none",
        }
    }

    /// Whether an audit failure at this level must fail the build.
    pub fn audit_is_fatal(self) -> bool {
        self == Level::Full
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Level::Full),
            "basic" => Ok(Level::Basic),
            "none" => Ok(Level::None),
            other => Err(format!(
                "unknown security hardening level `{other}`: use one of full, basic, none"
            )),
        }
    }
}

/// How a binary is linked against musl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Linkage {
    /// Everything in one file, no interpreter (static-pie when the level asks for PIE).
    Static,
    /// Uses the musl dynamic loader `/lib/ld-musl-<arch>.so.1`.
    Dynamic,
}

impl Linkage {
    pub fn as_str(self) -> &'static str {
        match self {
            Linkage::Static => "static",
            Linkage::Dynamic => "dynamic",
        }
    }
}

impl fmt::Display for Linkage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Linkage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "static" => Ok(Linkage::Static),
            "dynamic" => Ok(Linkage::Dynamic),
            other => Err(format!("unknown linkage `{other}`: use static or dynamic")),
        }
    }
}

/// One protection the audit can check on an ELF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protection {
    /// Position independent: PIE or static-pie executable (shared objects are PIC by nature).
    Pie,
    /// PT_GNU_RELRO present.
    Relro,
    /// DF_BIND_NOW / DF_1_NOW (full RELRO together with `Relro`), or no relocations to bind at all.
    BindNow,
    /// PT_GNU_STACK without the execute bit.
    NxStack,
    /// No DT_TEXTREL / DF_TEXTREL.
    NoTextrel,
    /// Compiled with a stack protector (`__stack_chk_fail` referenced, or recorded flags).
    StackProtector,
    /// Compiled with `_FORTIFY_SOURCE` (recorded flags; musl has no `__*_chk` symbols).
    Fortify,
}

impl Protection {
    pub const ALL: [Protection; 7] = [
        Protection::Pie,
        Protection::Relro,
        Protection::BindNow,
        Protection::NxStack,
        Protection::NoTextrel,
        Protection::StackProtector,
        Protection::Fortify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protection::Pie => "pie",
            Protection::Relro => "relro",
            Protection::BindNow => "bind-now",
            Protection::NxStack => "nx-stack",
            Protection::NoTextrel => "no-textrel",
            Protection::StackProtector => "stack-protector",
            Protection::Fortify => "fortify",
        }
    }

    /// The flag a packager must add to get this protection back.
    pub fn remedy(self) -> &'static str {
        match self {
            Protection::Pie => "compile with -fPIE and link with -pie or -static-pie",
            Protection::Relro => "link with -Wl,-z,relro",
            Protection::BindNow => "link with -Wl,-z,now",
            Protection::NxStack => "link with -Wl,-z,noexecstack (and fix assembly lacking .note.GNU-stack)",
            Protection::NoTextrel => "compile every object (including assembly) as PIC",
            Protection::StackProtector => "compile with -fstack-protector-strong",
            Protection::Fortify => "compile with -O2 -D_FORTIFY_SOURCE=2 and the Kimigayo fortify headers",
        }
    }
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The flags a level adds to every C compile and link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flags {
    pub cflags: Vec<String>,
    pub ldflags: Vec<String>,
    /// Extra flag to link an executable with the given linkage.
    pub link_static: Vec<String>,
    pub link_dynamic: Vec<String>,
}

impl Flags {
    pub fn link(&self, linkage: Linkage) -> &[String] {
        match linkage {
            Linkage::Static => &self.link_static,
            Linkage::Dynamic => &self.link_dynamic,
        }
    }

    /// Every flag a binary of this linkage is built with, in order (for build_info.flags).
    pub fn all(&self, linkage: Linkage) -> Vec<String> {
        let mut v = self.cflags.clone();
        v.extend(self.ldflags.iter().cloned());
        v.extend(self.link(linkage).iter().cloned());
        v
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Flags for a level. `_FORTIFY_SOURCE` takes effect through the Kimigayo fortify headers,
/// which the toolchain's specs search before musl's own (musl alone ignores the macro).
pub fn flags(level: Level) -> Flags {
    match level {
        Level::Full => Flags {
            cflags: vec![
                "-fPIE".into(),
                "-fstack-protector-strong".into(),
                "-fstack-clash-protection".into(),
                "-D_FORTIFY_SOURCE=2".into(),
                "-Wformat".into(),
                "-Werror=format-security".into(),
                "-frecord-gcc-switches".into(),
            ],
            ldflags: strings(&["-Wl,-z,relro,-z,now,-z,noexecstack"]),
            link_static: strings(&["-static-pie"]),
            link_dynamic: strings(&["-pie"]),
        },
        Level::Basic => Flags {
            cflags: strings(&["-fPIE", "-fstack-protector-strong", "-frecord-gcc-switches"]),
            ldflags: strings(&["-Wl,-z,relro,-z,noexecstack"]),
            link_static: strings(&["-static-pie"]),
            link_dynamic: strings(&["-pie"]),
        },
        Level::None => Flags {
            cflags: strings(&["-fno-PIE", "-fno-stack-protector", "-U_FORTIFY_SOURCE", "-frecord-gcc-switches"]),
            ldflags: Vec::new(),
            link_static: strings(&["-static", "-no-pie"]),
            link_dynamic: strings(&["-no-pie"]),
        },
    }
}

/// The protections the audit requires of every ELF file built at a level.
pub fn required(level: Level) -> &'static [Protection] {
    match level {
        Level::Full => &Protection::ALL,
        Level::Basic => &[
            Protection::Pie,
            Protection::Relro,
            Protection::NxStack,
            Protection::NoTextrel,
            Protection::StackProtector,
        ],
        Level::None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_through_strings() {
        for l in Level::ALL {
            assert_eq!(l.as_str().parse::<Level>().unwrap(), l);
        }
        let err = "high".parse::<Level>().unwrap_err();
        assert!(err.contains("full, basic, none"), "{err}");
    }

    #[test]
    fn full_has_every_documented_flag() {
        let f = flags(Level::Full);
        let all = f.all(Linkage::Static).join(" ");
        for needle in [
            "-fPIE",
            "-fstack-protector-strong",
            "-D_FORTIFY_SOURCE=2",
            "-z,relro",
            "-z,now",
            "-z,noexecstack",
            "-frecord-gcc-switches",
            "-static-pie",
        ] {
            assert!(all.contains(needle), "{needle} missing from {all}");
        }
    }

    #[test]
    fn stricter_levels_require_more() {
        assert!(required(Level::Full).len() > required(Level::Basic).len());
        assert!(required(Level::None).is_empty());
    }
}
