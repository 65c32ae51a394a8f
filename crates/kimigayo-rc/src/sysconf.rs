//! The design's `/etc/kimigayo/system.conf` `services: {auto_start, disabled}` mapped onto
//! OpenRC's runlevels: auto_start → the `default` runlevel; disabled → out of every runlevel
//! and listed in `/etc/kimigayo/disabled-services`, which planning honours (a disabled service
//! never starts, even when another service uses or wants it).

use std::collections::BTreeSet;

use crate::runlevel;
use crate::{RcError, RcRoot};

/// Applies system.conf's service lists. Checks everything before changing anything: a name
/// in both lists, or an auto_start service without a script, is an error naming it.
/// Disabled names need not be installed (a profile may disable what it does not ship).
pub fn apply_system_conf(root: &RcRoot, auto_start: &[String], disabled: &[String]) -> Result<(), RcError> {
    let dis: BTreeSet<&String> = disabled.iter().collect();
    for s in auto_start {
        if dis.contains(s) {
            return Err(RcError::Conflict { service: s.clone() });
        }
        crate::validate_service_name(s)?;
        if !root.has_service(s) {
            return Err(RcError::ServiceNotFound { service: s.clone(), path: std::path::PathBuf::from("/etc/init.d").join(s) });
        }
    }
    for s in &dis {
        crate::validate_service_name(s)?;
    }
    for s in auto_start {
        runlevel::add(root, s, "default")?;
    }
    let levels = runlevel::levels(root)?;
    for s in &dis {
        for l in &levels {
            runlevel::del(root, s, l)?;
        }
    }
    let mut text = String::from("# Written from /etc/kimigayo/system.conf services.disabled; these never start.\n");
    for s in &dis {
        text.push_str(s);
        text.push('\n');
    }
    let path = root.disabled_file();
    crate::cache::write_atomic(&path, text.as_bytes()).map_err(|e| RcError::io(path, e))
}

/// The disabled services (`/etc/kimigayo/disabled-services`; missing file = none), to pass
/// to [`crate::start_plan`].
pub fn disabled_set(root: &RcRoot) -> Result<BTreeSet<String>, RcError> {
    let path = root.disabled_file();
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(t.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(RcError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn maps_onto_runlevels() {
        let t = tempfile::tempdir().unwrap();
        let r = RcRoot::new(t.path());
        std::fs::create_dir_all(r.init_d()).unwrap();
        for s in ["networking", "logging", "bluetooth"] {
            std::fs::write(r.script(s), "#!/sbin/openrc-run\n").unwrap();
            std::fs::set_permissions(r.script(s), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        runlevel::add(&r, "bluetooth", "boot").unwrap();
        runlevel::add(&r, "bluetooth", "default").unwrap();
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(disabled_set(&r).unwrap().is_empty());
        apply_system_conf(&r, &v(&["networking", "logging"]), &v(&["bluetooth", "wifi"])).unwrap();
        assert_eq!(runlevel::members(&r, "default").unwrap(), ["logging", "networking"]);
        assert!(runlevel::members(&r, "boot").unwrap().is_empty());
        assert_eq!(disabled_set(&r).unwrap(), v(&["bluetooth", "wifi"]).into_iter().collect());
        // idempotent
        apply_system_conf(&r, &v(&["networking", "logging"]), &v(&["bluetooth", "wifi"])).unwrap();
        let e = apply_system_conf(&r, &v(&["networking"]), &v(&["networking"])).unwrap_err().to_string();
        assert!(e.contains("'networking'") && e.contains("both"), "{e}");
        let e = apply_system_conf(&r, &v(&["ghost"]), &[]).unwrap_err().to_string();
        assert!(e.contains("'ghost'"), "{e}");
    }
}
