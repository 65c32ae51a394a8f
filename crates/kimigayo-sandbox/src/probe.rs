//! What sandbox a process is really in, read from /proc/PID/status and /proc/PID/ns/*.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::SandboxError;

/// Namespace entries of /proc/PID/ns read by [`probe`].
pub const NS_ENTRIES: [&str; 8] = ["mnt", "pid", "ipc", "uts", "net", "user", "cgroup", "time"];

/// The sandbox state of one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxReport {
    pub pid: i32,
    /// 0 = no seccomp, 1 = strict, 2 = filter.
    pub seccomp: u8,
    /// Number of filters installed (kernel 5.9+).
    pub seccomp_filters: Option<u32>,
    pub no_new_privs: bool,
    pub cap_eff: u64,
    pub cap_prm: u64,
    pub cap_inh: u64,
    pub cap_bnd: u64,
    pub cap_amb: u64,
    /// The pid in each PID namespace it belongs to, outermost first (the NSpid line).
    pub ns_pids: Vec<i32>,
    /// Namespace inode ids by /proc/PID/ns entry name (mnt, pid, ipc, uts, net, ...).
    pub namespaces: BTreeMap<String, u64>,
}

impl SandboxReport {
    /// One line for status output.
    pub fn describe(&self) -> String {
        format!(
            "seccomp={} filters={} no_new_privs={} cap_eff={:#x} cap_bnd={:#x}",
            match self.seccomp {
                0 => "disabled",
                1 => "strict",
                _ => "filter",
            },
            self.seccomp_filters
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            if self.no_new_privs { 1 } else { 0 },
            self.cap_eff,
            self.cap_bnd
        )
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("plain data serializes")
    }
}

/// Reads the sandbox state of `pid` (use `std::process::id()` for ourselves).
pub fn probe(pid: i32) -> Result<SandboxReport, SandboxError> {
    let status_path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&status_path).map_err(|source| SandboxError::Probe {
        pid,
        path: status_path.clone(),
        source,
    })?;
    let field = |name: &str| {
        status.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|r| r.strip_prefix(':'))
                .map(str::trim)
        })
    };
    let hex = |name: &str| {
        field(name)
            .and_then(|v| u64::from_str_radix(v, 16).ok())
            .unwrap_or(0)
    };
    let mut namespaces = BTreeMap::new();
    for ns in NS_ENTRIES {
        let path = format!("/proc/{pid}/ns/{ns}");
        match std::fs::read_link(&path) {
            Ok(target) => {
                // "mnt:[4026531841]"
                let t = target.to_string_lossy();
                if let Some(id) = t
                    .split('[')
                    .nth(1)
                    .and_then(|r| r.trim_end_matches(']').parse().ok())
                {
                    namespaces.insert(ns.to_string(), id);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && ns != "mnt" => {} // kernel lacks it
            Err(source) => return Err(SandboxError::Probe { pid, path, source }),
        }
    }
    Ok(SandboxReport {
        pid,
        seccomp: field("Seccomp").and_then(|v| v.parse().ok()).unwrap_or(0),
        seccomp_filters: field("Seccomp_filters").and_then(|v| v.parse().ok()),
        no_new_privs: field("NoNewPrivs") == Some("1"),
        cap_eff: hex("CapEff"),
        cap_prm: hex("CapPrm"),
        cap_inh: hex("CapInh"),
        cap_bnd: hex("CapBnd"),
        cap_amb: hex("CapAmb"),
        ns_pids: field("NSpid")
            .map(|v| {
                v.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default(),
        namespaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_self_reads_status_and_namespaces() {
        let r = probe(std::process::id() as i32).unwrap();
        assert!(r.namespaces.contains_key("mnt") && r.namespaces.contains_key("pid"));
        assert!(r.cap_bnd != 0);
        assert_eq!(r.ns_pids.first().copied(), Some(std::process::id() as i32));
    }

    #[test]
    fn probe_of_a_dead_pid_names_the_file() {
        let e = probe(i32::MAX).unwrap_err().to_string();
        assert!(e.contains(&format!("/proc/{}/status", i32::MAX)), "{e}");
    }
}
