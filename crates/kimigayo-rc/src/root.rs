//! Where OpenRC's files live under a root, and which files in /etc/init.d are services.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::RcError;

/// A root filesystem holding the OpenRC layout: "/" in production, a temp dir in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcRoot {
    pub root: PathBuf,
}

impl RcRoot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RcRoot { root: root.into() }
    }
    /// `<root>/<rel>` for a path written as on the target system (leading '/' ignored).
    pub fn join(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }
    pub fn init_d(&self) -> PathBuf {
        self.join("etc/init.d")
    }
    pub fn conf_d(&self) -> PathBuf {
        self.join("etc/conf.d")
    }
    pub fn runlevels(&self) -> PathBuf {
        self.join("etc/runlevels")
    }
    pub fn rc_conf(&self) -> PathBuf {
        self.join("etc/rc.conf")
    }
    pub fn script(&self, svc: &str) -> PathBuf {
        self.init_d().join(svc)
    }
    /// `/etc/conf.d/<svc>` under the root.
    pub fn conf(&self, svc: &str) -> PathBuf {
        self.conf_d().join(svc)
    }
    /// The conf.d files sourced for a service, in order: for `net.eth0` that is
    /// `conf.d/net` then `conf.d/net.eth0` (OpenRC's multiplexed services).
    pub fn conf_files(&self, svc: &str) -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Some((base, _)) = svc.split_once('.') {
            if !base.is_empty() {
                v.push(self.conf(base));
            }
        }
        v.push(self.conf(svc));
        v
    }
    /// The list of services disabled by system.conf (see [`crate::disabled_set`]).
    pub fn disabled_file(&self) -> PathBuf {
        self.join("etc/kimigayo/disabled-services")
    }
    /// Runtime directory for the dependency cache.
    pub fn run_dir(&self) -> PathBuf {
        self.join("run/kimigayo")
    }
    /// Persistent fallback for the dependency cache when /run is not writable.
    pub fn cache_dir(&self) -> PathBuf {
        self.join("var/cache/kimigayo")
    }

    /// Executable files in /etc/init.d, sorted, without dotfiles, editor/package-manager
    /// leftovers (`*~`, `*.dpkg-*`, `*.apk-new`, `*.rpmnew`, `*.orig`, ...) and READMEs.
    /// A missing /etc/init.d is an empty list.
    pub fn services(&self) -> Result<Vec<String>, RcError> {
        let dir = self.init_d();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RcError::io(dir, e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| RcError::io(&dir, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if is_ignored_name(&name) || validate_service_name(&name).is_err() {
                continue;
            }
            if is_executable_file(&entry.path()) {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Whether `svc` is an installed service (an executable script in /etc/init.d).
    pub fn has_service(&self, svc: &str) -> bool {
        validate_service_name(svc).is_ok() && !is_ignored_name(svc) && is_executable_file(&self.script(svc))
    }
}

/// A regular file (symlinks followed, as `net.eth0 -> net.lo`) with any execute bit.
pub(crate) fn is_executable_file(p: &Path) -> bool {
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Names in /etc/init.d that are never services even when executable.
pub fn is_ignored_name(name: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "~", ".apk-new", ".rpmnew", ".rpmsave", ".rpmorig", ".orig", ".bak", ".swp", ".tmp", ".old", ".new", ".sh",
    ];
    name.starts_with('.')
        || name.starts_with('#')
        || SUFFIXES.iter().any(|s| name.ends_with(s))
        || name.contains(".dpkg-")
        || name.contains(".ucf-")
        || name.to_ascii_lowercase().starts_with("readme")
}

/// Checks that `name` can be a service: a single, plain file name.
pub fn validate_service_name(name: &str) -> Result<(), RcError> {
    let bad = |why| Err(RcError::InvalidServiceName { name: name.to_owned(), why });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 255 {
        return bad("it is longer than 255 bytes");
    }
    if name == "." || name == ".." || name.starts_with('.') {
        return bad("it starts with '.'");
    }
    if name.starts_with('-') {
        return bad("it starts with '-'");
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-+@:".contains(*c))) {
        return if c == '/' { bad("it contains '/'") } else { bad("it contains a character other than letters, digits, '.', '_', '-', '+', '@', ':'") };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["sshd", "net.eth0", "getty@tty1", "agetty.ttyS0", "php-fpm8", "a_b+c:d"] {
            validate_service_name(ok).unwrap();
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a b", "-x", "x$y", "é"] {
            assert!(validate_service_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ignored() {
        for n in ["sshd~", "sshd.dpkg-old", "sshd.dpkg-dist", ".sshd.swp", "README", "readme.md", "nginx.apk-new", "functions.sh"] {
            assert!(is_ignored_name(n), "{n}");
        }
        for n in ["sshd", "net.lo", "nginx"] {
            assert!(!is_ignored_name(n), "{n}");
        }
    }

    #[test]
    fn listing() {
        let t = tempfile::tempdir().unwrap();
        let r = RcRoot::new(t.path());
        assert!(r.services().unwrap().is_empty());
        std::fs::create_dir_all(r.init_d()).unwrap();
        let mk = |n: &str, mode: u32| {
            let p = r.script(n);
            std::fs::write(&p, "#!/sbin/openrc-run\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        mk("sshd", 0o755);
        mk("net.lo", 0o755);
        mk("sshd~", 0o755);
        mk("sshd.dpkg-old", 0o755);
        mk(".hidden", 0o755);
        mk("README", 0o755);
        mk("notexec", 0o644);
        std::os::unix::fs::symlink("net.lo", r.script("net.eth0")).unwrap();
        std::fs::create_dir(r.script("adir")).unwrap();
        assert_eq!(r.services().unwrap(), ["net.eth0", "net.lo", "sshd"]);
        assert_eq!(r.conf_files("net.eth0"), [r.conf("net"), r.conf("net.eth0")]);
    }
}
