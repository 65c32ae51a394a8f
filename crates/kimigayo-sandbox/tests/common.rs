//! Shared by the sandbox integration tests: run the selftest helper in a sandbox and read its
//! JSON report.

#![allow(dead_code)]

use std::path::Path;

use kimigayo_sandbox::{spawn_confined, SandboxError, SandboxReport, SandboxSpec};

pub const SELFTEST: &str = env!("CARGO_BIN_EXE_kimigayo-sandbox-selftest");

#[derive(Debug, serde::Deserialize)]
pub struct Selftest {
    pub pid: i32,
    pub hostname: String,
    pub report: SandboxReport,
    pub tries: std::collections::BTreeMap<String, i32>,
    pub allowed: std::collections::BTreeMap<String, i32>,
}

/// Runs the helper confined by `spec`, trying `tries`; Err if the sandbox failed, Ok((exit, report)).
pub fn run_selftest(
    spec: &SandboxSpec,
    dir: &Path,
    tag: &str,
    tries: &[&str],
) -> Result<(i32, Option<Selftest>), SandboxError> {
    let out = dir.join(format!("{tag}.json"));
    let _ = std::fs::remove_file(&out);
    let mut argv = vec![
        SELFTEST.to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    for t in tries {
        argv.push("--try".into());
        argv.push(t.to_string());
    }
    let code = spawn_confined(spec, &argv)?;
    let parsed = std::fs::read_to_string(&out)
        .ok()
        .map(|s| serde_json::from_str(&s).expect("selftest JSON"));
    Ok((code, parsed))
}

/// Capability bit mask of names (CAP_*), limited to what this kernel knows.
pub fn cap_mask(names: &[String]) -> u64 {
    names
        .iter()
        .map(|n| 1u64 << n.parse::<caps::Capability>().unwrap().index())
        .fold(0, |a, b| a | b)
}
