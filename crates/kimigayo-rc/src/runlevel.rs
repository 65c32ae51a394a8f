//! Runlevels: `/etc/runlevels/<level>/<svc>` symlinks to `/etc/init.d/<svc>` (absolute, like
//! OpenRC) — what `rc-update add|del|show` edits and what boot starts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::{validate_service_name, RcError, RcRoot};

/// The runlevels OpenRC always has, in the order they run.
pub const STANDARD: [&str; 4] = ["sysinit", "boot", "default", "shutdown"];

/// What `add` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Added,
    /// The service was already in the runlevel (not an error; rc-update says so).
    Already,
}

/// What `del` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Removed,
    /// The service was not in the runlevel (rc-update reports this as an error).
    NotPresent,
}

pub fn validate_runlevel_name(level: &str) -> Result<(), RcError> {
    let ok = !level.is_empty()
        && !level.starts_with('.')
        && level.len() <= 255
        && level.chars().all(|c| c.is_ascii_alphanumeric() || "._-+@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(RcError::InvalidRunlevel { name: level.to_owned() })
    }
}

fn dir(root: &RcRoot, level: &str) -> Result<PathBuf, RcError> {
    validate_runlevel_name(level)?;
    Ok(root.runlevels().join(level))
}

/// Creates a (custom) runlevel directory.
pub fn create(root: &RcRoot, level: &str) -> Result<(), RcError> {
    let d = dir(root, level)?;
    std::fs::create_dir_all(&d).map_err(|e| RcError::io(d, e))
}

/// `rc-update add svc level`. The service must exist; the four standard runlevels are
/// created on demand, a custom one must exist already.
pub fn add(root: &RcRoot, svc: &str, level: &str) -> Result<Added, RcError> {
    validate_service_name(svc)?;
    let d = dir(root, level)?;
    if !root.has_service(svc) {
        return Err(RcError::ServiceNotFound { service: svc.to_owned(), path: PathBuf::from("/etc/init.d").join(svc) });
    }
    if !d.is_dir() {
        if STANDARD.contains(&level) {
            create(root, level)?;
        } else {
            return Err(RcError::RunlevelNotFound { level: level.to_owned(), path: PathBuf::from("/etc/runlevels").join(level) });
        }
    }
    let link = d.join(svc);
    if link.symlink_metadata().is_ok() {
        return Ok(Added::Already);
    }
    std::os::unix::fs::symlink(PathBuf::from("/etc/init.d").join(svc), &link).map_err(|e| RcError::io(link, e))?;
    Ok(Added::Added)
}

/// `rc-update del svc level`.
pub fn del(root: &RcRoot, svc: &str, level: &str) -> Result<Removed, RcError> {
    validate_service_name(svc)?;
    let link = dir(root, level)?.join(svc);
    match std::fs::remove_file(&link) {
        Ok(()) => Ok(Removed::Removed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Removed::NotPresent),
        Err(e) => Err(RcError::io(link, e)),
    }
}

/// Existing runlevels: the standard ones present first (in boot order), then custom ones sorted.
pub fn levels(root: &RcRoot) -> Result<Vec<String>, RcError> {
    let base = root.runlevels();
    let rd = match std::fs::read_dir(&base) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RcError::io(base, e)),
    };
    let mut custom = BTreeSet::new();
    let mut std_present = BTreeSet::new();
    for e in rd {
        let e = e.map_err(|e| RcError::io(&base, e))?;
        let Some(name) = e.file_name().to_str().map(str::to_owned) else { continue };
        if validate_runlevel_name(&name).is_err() || !e.path().is_dir() {
            continue;
        }
        if STANDARD.contains(&name.as_str()) {
            std_present.insert(name);
        } else {
            custom.insert(name);
        }
    }
    Ok(STANDARD.iter().filter(|l| std_present.contains(**l)).map(|l| l.to_string()).chain(custom).collect())
}

/// Services in a runlevel, sorted (a missing runlevel has none). Entries whose script is gone
/// are still listed: planning reports them by name.
pub fn members(root: &RcRoot, level: &str) -> Result<Vec<String>, RcError> {
    let d = dir(root, level)?;
    let rd = match std::fs::read_dir(&d) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RcError::io(d, e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| RcError::io(&d, e))?;
        if let Some(name) = e.file_name().to_str() {
            if validate_service_name(name).is_ok() && !crate::root::is_ignored_name(name) {
                out.push(name.to_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `rc-update show`: service → the runlevels it is in (in [`levels`] order).
pub fn show(root: &RcRoot) -> Result<BTreeMap<String, Vec<String>>, RcError> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in levels(root)? {
        for s in members(root, &l)? {
            out.entry(s).or_default().push(l.clone());
        }
    }
    Ok(out)
}

/// The union of the members of `levels` (e.g. `["sysinit", "boot", "default"]` at boot).
pub fn enabled(root: &RcRoot, levels: &[&str]) -> Result<BTreeSet<String>, RcError> {
    let mut out = BTreeSet::new();
    for l in levels {
        out.extend(members(root, l)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn root_with(services: &[&str]) -> (tempfile::TempDir, RcRoot) {
        let t = tempfile::tempdir().unwrap();
        let r = RcRoot::new(t.path());
        std::fs::create_dir_all(r.init_d()).unwrap();
        for s in services {
            std::fs::write(r.script(s), "#!/sbin/openrc-run\n").unwrap();
            std::fs::set_permissions(r.script(s), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        (t, r)
    }

    #[test]
    fn add_del_show() {
        let (_t, r) = root_with(&["sshd", "nginx", "udev"]);
        assert_eq!(add(&r, "sshd", "default").unwrap(), Added::Added);
        assert_eq!(add(&r, "sshd", "default").unwrap(), Added::Already);
        assert_eq!(add(&r, "udev", "sysinit").unwrap(), Added::Added);
        assert_eq!(add(&r, "sshd", "boot").unwrap(), Added::Added);
        assert_eq!(std::fs::read_link(r.runlevels().join("default/sshd")).unwrap(), PathBuf::from("/etc/init.d/sshd"));
        let e = add(&r, "ghost", "default").unwrap_err().to_string();
        assert!(e.contains("'ghost'") && e.contains("/etc/init.d/ghost"), "{e}");
        let e = add(&r, "nginx", "mylevel").unwrap_err().to_string();
        assert!(e.contains("mylevel"), "{e}");
        create(&r, "mylevel").unwrap();
        assert_eq!(add(&r, "nginx", "mylevel").unwrap(), Added::Added);
        assert!(add(&r, "../x", "default").is_err());
        assert!(add(&r, "sshd", "../etc").is_err());
        assert_eq!(levels(&r).unwrap(), ["sysinit", "boot", "default", "mylevel"]);
        let s = show(&r).unwrap();
        assert_eq!(s["sshd"], ["boot", "default"]);
        assert_eq!(s["udev"], ["sysinit"]);
        assert_eq!(s["nginx"], ["mylevel"]);
        assert_eq!(members(&r, "default").unwrap(), ["sshd"]);
        assert_eq!(members(&r, "shutdown").unwrap(), Vec::<String>::new());
        assert_eq!(enabled(&r, &["sysinit", "boot", "default"]).unwrap(), ["sshd".to_string(), "udev".into()].into());
        assert_eq!(del(&r, "sshd", "default").unwrap(), Removed::Removed);
        assert_eq!(del(&r, "sshd", "default").unwrap(), Removed::NotPresent);
        assert_eq!(del(&r, "sshd", "nolevel").unwrap(), Removed::NotPresent);
    }
}
