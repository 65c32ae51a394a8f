//! Typed errors: each names the service, file or syscall involved and what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SvcError {
    #[error("service `{0}`: no init script at {1} (install one under /etc/init.d or check the name)")]
    NoScript(String, PathBuf),
    #[error("`{0}` is not a valid service name (use letters, digits, '.', '_', '-'; no '/')")]
    BadName(String),
    #[error("service `{service}`: {what} {path}: {source} (check permissions and free space)")]
    Io { service: String, what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("service `{service}`: reading its configuration with {shell} failed: {detail} (fix /etc/rc.conf, /etc/conf.d/{service} or the script)")]
    Conf { service: String, shell: PathBuf, detail: String },
    #[error("service `{service}`: {key}={value:?} is invalid: {fix}")]
    BadVar { service: String, key: String, value: String, fix: String },
    #[error("service `{service}`: sandbox: {detail}")]
    Sandbox { service: String, detail: String },
    #[error("service `{service}`: the holder process died before reporting `{action}` (see {log})")]
    HolderLost { service: String, action: String, log: PathBuf },
    #[error("service `{service}`: cannot run `{command}`: {detail}")]
    Spawn { service: String, command: String, detail: String },
}

impl SvcError {
    pub(crate) fn io(service: &str, what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SvcError::Io { service: service.to_string(), what, path: path.into(), source }
    }
}
