//! Container or machine? PID 1 of a container must not mount /proc or call reboot(2).

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Container,
    Vm,
}

/// Container unless we are PID 1 with no container marker: `/run/.containerenv` (podman),
/// `/.dockerenv` (docker) or a `container` environment variable (systemd's convention).
pub fn detect(is_pid1: bool, forced: Option<Mode>, real_root: &Path, container_env: Option<&str>) -> Mode {
    if let Some(m) = forced {
        return m;
    }
    if !is_pid1 {
        return Mode::Container;
    }
    let marker = real_root.join("run/.containerenv").exists() || real_root.join(".dockerenv").exists();
    if marker || container_env.is_some_and(|v| !v.is_empty()) {
        Mode::Container
    } else {
        Mode::Vm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_mean_container() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(detect(false, None, d.path(), None), Mode::Container);
        assert_eq!(detect(true, None, d.path(), None), Mode::Vm);
        assert_eq!(detect(true, None, d.path(), Some("podman")), Mode::Container);
        std::fs::write(d.path().join(".dockerenv"), "").unwrap();
        assert_eq!(detect(true, None, d.path(), None), Mode::Container);
        assert_eq!(detect(true, Some(Mode::Vm), d.path(), None), Mode::Vm);
    }
}
