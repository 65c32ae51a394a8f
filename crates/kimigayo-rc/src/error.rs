//! Typed errors. Every message names the thing (service, file, runlevel) and the fix.

use std::path::PathBuf;

/// Errors from the on-disk side: files, runlevels, script loading, configuration.
#[derive(Debug, thiserror::Error)]
pub enum RcError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid service name {name:?}: {why}; service names are file names in /etc/init.d (letters, digits, '.', '_', '-', '+', '@', ':')")]
    InvalidServiceName { name: String, why: &'static str },
    #[error("invalid runlevel name {name:?}: use a plain directory name under /etc/runlevels")]
    InvalidRunlevel { name: String },
    #[error("service '{service}' does not exist: there is no executable {path}; install the package that provides it or fix the name")]
    ServiceNotFound { service: String, path: PathBuf },
    #[error("runlevel '{level}' does not exist: create the directory {path} first")]
    RunlevelNotFound { level: String, path: PathBuf },
    #[error("cannot start shell {shell} to read init scripts: {source}; pass an existing POSIX shell (e.g. /bin/sh)")]
    Shell { shell: PathBuf, source: std::io::Error },
    #[error("system.conf lists '{service}' in both services.auto_start and services.disabled; remove it from one of them")]
    Conflict { service: String },
    #[error("{path}:{line}: {why}")]
    Syntax { path: PathBuf, line: usize, why: String },
}

impl RcError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RcError::Io { path: path.into(), source }
    }
}

/// Errors from planning an ordered start (the pure core).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("service '{service}' is not in the catalog: no /etc/init.d/{service} script was loaded; install it or remove it from the runlevel (rc-update del {service})")]
    UnknownService { service: String },
    #[error("service '{service}' needs '{need}', but no service is named or provides '{need}'; install a service providing '{need}' or remove 'need {need}' from {service}'s depend()")]
    MissingNeed { service: String, need: String },
    #[error("service '{service}' needs '{need}', which is disabled (/etc/kimigayo/disabled-services, system.conf services.disabled); remove '{need}' from services.disabled or disable '{service}' too")]
    DisabledNeed { service: String, need: String },
    #[error("service '{service}' needs '{need}', which only disabled services provide ({}); remove one of them from services.disabled (system.conf) or disable '{service}' too", providers.join(", "))]
    DisabledProviders { service: String, need: String, providers: Vec<String> },
    #[error("service '{service}' needs '{need}', provided by several services ({}); add exactly one of them to a runlevel (rc-update add <service> default) to choose", candidates.join(", "))]
    AmbiguousProvider { service: String, need: String, candidates: Vec<String> },
    #[error("services need each other in a cycle: {}; remove one of these 'need' dependencies", cycle.join(" → "))]
    NeedCycle { cycle: Vec<String> },
    #[error("service '{service}' cannot be planned because its script failed to load{}: {reason}", needed_by.as_ref().map(|n| format!(" (needed by '{n}')")).unwrap_or_default())]
    Broken { service: String, needed_by: Option<String>, reason: String },
}

impl OrderError {
    /// The services this error is about (for callers that drop the offenders and re-plan).
    pub fn services(&self) -> Vec<&str> {
        match self {
            OrderError::UnknownService { service } => vec![service],
            OrderError::MissingNeed { service, need }
            | OrderError::DisabledNeed { service, need }
            | OrderError::AmbiguousProvider { service, need, .. }
            | OrderError::DisabledProviders { service, need, .. } => vec![service, need],
            OrderError::NeedCycle { cycle } => cycle.iter().map(String::as_str).collect(),
            OrderError::Broken { service, needed_by, .. } => {
                let mut v = vec![service.as_str()];
                v.extend(needed_by.as_deref());
                v
            }
        }
    }
}
